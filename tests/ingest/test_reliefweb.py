"""ReliefWeb: disaster and report counts per country-year, v1 and v2 shapes, the appname."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from earlywarn.countries.service import seed_countries
from earlywarn.db import session_scope
from earlywarn.framework.config import Configuration
from earlywarn.framework.sources_schemas import ReliefWebSourceConfig
from earlywarn.ingest.errors import IngestError, RemoteSourceError, SourceNotConfiguredError
from earlywarn.ingest.http import SourceHttp
from earlywarn.ingest.reliefweb import fetch_reliefweb, parse_reliefweb
from earlywarn.ingest.schemas import LoadedPayload
from earlywarn.ingest.service import ingest_source
from earlywarn.observations.models import RunStatus
from earlywarn.settings import Settings

KNOWN = {"TCD", "BFA", "SDN", "SSD", "KEN"}
FIXTURES = Path("fixtures") / "reliefweb"


EVENT = "2024-03-01T00:00:00+00:00"


def _item(identifier: int, iso3s: list[str], event: str | None = EVENT) -> dict[str, Any]:
    dates: dict[str, str] = {"created": "2024-05-01T00:00:00+00:00"}
    if event is not None:
        dates["event"] = event
    return {
        "id": str(identifier),
        "score": 1,
        "fields": {
            "id": identifier,
            "country": [{"iso3": code, "name": code} for code in iso3s],
            "date": dates,
        },
    }


def _envelope(items: list[Any], total: int | None = None) -> dict[str, Any]:
    return {
        "time": 5,
        "href": "https://api.reliefweb.test/v2/disasters",
        "links": {},
        "took": 1,
        "totalCount": len(items) if total is None else total,
        "count": len(items),
        "data": items,
    }


def _parse(body: Any, **kwargs: Any) -> LoadedPayload:
    options: dict[str, Any] = {
        "name": "rw.json",
        "content": "disasters",
        "start_year": 2023,
        "end_year": 2024,
        "known_iso3s": KNOWN,
    }
    options.update(kwargs)
    return parse_reliefweb(json.dumps(body).encode(), **options)


def _values(payload: LoadedPayload) -> dict[tuple[str, str, str], float]:
    return {(r.iso3, r.variable, r.period): r.value for r in payload.records}


def test_counts_per_country_and_year_with_zeros_for_the_rest() -> None:
    payload = _parse(
        _envelope(
            [
                _item(1, ["sdn", "ssd"]),
                _item(2, ["sdn"]),
                _item(3, ["sdn"], event="2023-07-01T00:00:00+00:00"),
                _item(4, ["wld"]),  # ReliefWeb's "World"
                _item(5, ["sdn"], event=None),  # no event date: date.created (2024)
                _item(6, ["ken"], event="2019-01-01T00:00:00+00:00"),  # before the window
            ]
        ),
        zero_fill_iso3s={"KEN", "TCD"},
    )
    values = _values(payload)
    assert values[("SDN", "reliefweb.disasters", "2024")] == 3.0
    assert values[("SDN", "reliefweb.disasters", "2023")] == 1.0
    assert values[("SSD", "reliefweb.disasters", "2024")] == 1.0
    assert values[("SSD", "reliefweb.disasters", "2023")] == 0.0
    assert values[("KEN", "reliefweb.disasters", "2024")] == 0.0  # none recorded: a real 0
    assert values[("TCD", "reliefweb.disasters", "2023")] == 0.0
    assert len(values) == 4 * 2
    assert payload.details["skipped"] == {"country_world": 1, "outside_window": 1}


@pytest.mark.parametrize(
    ("file_name", "iso3", "year"),
    [
        ("v2_disasters_52429_item.json", "TCD", "2025"),
        ("v1_disasters_25466_item.json", "BFA", "2015"),
    ],
)
def test_real_v1_and_v2_items(shared_dir: Path, file_name: str, iso3: str, year: str) -> None:
    content = (shared_dir / FIXTURES / file_name).read_bytes()
    payload = parse_reliefweb(
        content,
        name=file_name,
        content="disasters",
        start_year=2010,
        end_year=2025,
        known_iso3s=KNOWN,
    )
    values = _values(payload)
    assert values == {(iso3, "reliefweb.disasters", year): 1.0} | {
        (iso3, "reliefweb.disasters", str(y)): 0.0 for y in range(2010, 2026) if str(y) != year
    }


@pytest.mark.parametrize(
    "file_name",
    [
        "v2_disasters_list_limit1000_TRIMMED_first8.json",
        "v1_disasters_list_limit1000_TRIMMED_first25.json",
    ],
)
def test_real_trimmed_list_pages_are_recognised_as_truncated(
    shared_dir: Path, file_name: str
) -> None:
    content = (shared_dir / FIXTURES / file_name).read_bytes()
    with pytest.raises(RemoteSourceError, match=r"the page says count 1000 but holds \d+ item"):
        parse_reliefweb(
            content,
            name=file_name,
            content="disasters",
            start_year=2024,
            end_year=2025,
            known_iso3s=KNOWN,
        )


def test_real_list_items_without_country_fields_are_rejected(shared_dir: Path) -> None:
    body = json.loads(
        (shared_dir / FIXTURES / "v2_disasters_list_limit1000_TRIMMED_first8.json").read_text()
    )
    # Made consistent, the recorded page still lacks the fields that are counted.
    body["count"] = body["totalCount"] = len(body["data"])
    with pytest.raises(RemoteSourceError, match="item 52433: no 'country' field"):
        _parse(body)


@pytest.mark.parametrize(
    ("body", "error", "message"),
    [
        ([], RemoteSourceError, "expected an object, got list"),
        (
            {"status": 400, "error": {"type": "x", "message": 'Invalid "limit" specified.'}},
            RemoteSourceError,
            'the API answered with an error: Invalid "limit" specified.',
        ),
        ({"count": 0, "data": []}, RemoteSourceError, "no 'totalCount'"),
        (_envelope([]) | {"count": "1"}, RemoteSourceError, "are not counts"),
        (_envelope([]) | {"data": {}}, RemoteSourceError, "'data' is dict"),
        (_envelope([_item(1, ["sdn"])], total=5), RemoteSourceError, "holds 1 of 5 items"),
        (_envelope([{"id": "1"}]), RemoteSourceError, "item 1 has no 'fields'"),
        (_envelope([_item(1, [])]), RemoteSourceError, "no 'country' field"),
        (
            _envelope([{"id": "1", "fields": {"country": [{"name": "Sudan"}], "date": {}}}]),
            RemoteSourceError,
            "a country without 'iso3'",
        ),
        (
            _envelope([{"id": "1", "fields": {"country": [{"iso3": "sdn"}]}}]),
            RemoteSourceError,
            "no 'date' field",
        ),
        (
            _envelope([{"id": "1", "fields": {"country": [{"iso3": "sdn"}], "date": {}}}]),
            RemoteSourceError,
            "neither date.event nor date.created",
        ),
        (_envelope([_item(1, ["sdn"], event="last week")]), RemoteSourceError, "not an ISO date"),
        (
            _envelope([_item(1, ["xyz"]), _item(2, ["zzz", "sdn"])]),
            IngestError,
            "2 country code(s) that are no country of the countries table: XYZ, ZZZ",
        ),
    ],
)
def test_hostile_answers(body: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error) as info:
        _parse(body)
    assert message in str(info.value)
    assert str(info.value).startswith("ReliefWeb API")


# --- over HTTP -------------------------------------------------------------------------------


def _transport(
    pages: dict[str, list[Any]], seen: list[dict[str, list[str]]]
) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        query = parse_qs(request.url.query.decode())
        seen.append({"path": [request.url.path], **query})
        content = request.url.path.rsplit("/", 1)[-1]
        offset = int(query["offset"][0])
        return httpx.Response(200, json=pages[content][offset // 2])

    return httpx.MockTransport(handler)


def _client(transport: httpx.MockTransport) -> httpx.Client:
    return httpx.Client(base_url="https://api.reliefweb.test/v2", transport=transport)


def test_fetch_pages_by_offset_and_sends_the_appname() -> None:
    pages = {
        "disasters": [
            _envelope([_item(1, ["sdn"]), _item(2, ["ssd"])], total=3),
            _envelope([_item(3, ["tcd"])], total=3),
        ],
        "reports": [_envelope([_item(9, ["sdn"], event=None)])],
    }
    seen: list[dict[str, list[str]]] = []
    http = SourceHttp(_client(_transport(pages, seen)), "ReliefWeb API", sleep=lambda s: None)
    payload = fetch_reliefweb(
        http,
        ("disasters", "reports"),
        appname="earlywarn-test--123",
        start_year=2024,
        end_year=2024,
        known_iso3s=KNOWN,
        zero_fill_iso3s=(),
    )
    assert [(q["path"][0], q["offset"][0]) for q in seen] == [
        ("/v2/disasters", "0"),
        ("/v2/disasters", "2"),
        ("/v2/reports", "0"),
    ]
    assert {q["appname"][0] for q in seen} == {"earlywarn-test--123"}
    assert seen[0]["filter[field]"] == ["date.event"]
    assert seen[2]["filter[field]"] == ["date.original"]
    assert seen[0]["fields[include][0]"] == ["country.iso3"]
    values = _values(payload)
    assert values[("TCD", "reliefweb.disasters", "2024")] == 1.0
    assert values[("SDN", "reliefweb.reports", "2024")] == 1.0
    assert payload.source_uri is not None
    assert "appname" not in payload.source_uri
    assert len(payload.raw) == 3


def test_an_empty_page_before_the_total_fails() -> None:
    pages = {
        "disasters": [
            _envelope([_item(1, ["sdn"]), _item(2, ["sdn"])], total=5),
            _envelope([], total=5),
        ]
    }
    http = SourceHttp(_client(_transport(pages, [])), "ReliefWeb API", sleep=lambda s: None)
    with pytest.raises(RemoteSourceError, match="empty page after 2 of 5 items"):
        fetch_reliefweb(
            http,
            ("disasters",),
            appname="a",
            start_year=2024,
            end_year=2024,
            known_iso3s=KNOWN,
            zero_fill_iso3s=(),
        )


def test_without_an_appname_the_source_is_not_configured(
    session_factory: sessionmaker[Session], configuration: Configuration
) -> None:
    with pytest.raises(SourceNotConfiguredError, match="EARLYWARN_RELIEFWEB_APPNAME"):
        ingest_source(session_factory, Settings(reliefweb_appname=None), configuration, "reliefweb")


def test_ingest_source_runs_reliefweb(
    session_factory: sessionmaker[Session], configuration: Configuration
) -> None:
    with session_scope(session_factory) as session:
        seed_countries(session)
    pages = {"disasters": [_envelope([_item(1, ["sdn"]), _item(2, ["pse"])])]}
    client = _client(_transport(pages, []))
    settings = Settings(reliefweb_appname="earlywarn-test--123")
    window = ReliefWebSourceConfig(start_year=2024, end_year=2024)
    run = ingest_source(
        session_factory, settings, configuration, "reliefweb", source_config=window, client=client
    )
    assert run.status is RunStatus.SUCCEEDED, run.error
    assert run.rows_loaded > 190  # every current state gets a count, most of them 0
    again = ingest_source(
        session_factory, settings, configuration, "reliefweb", source_config=window, client=client
    )
    assert again.status is RunStatus.UNCHANGED
