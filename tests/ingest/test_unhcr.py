"""UNHCR population API: origin totals, "0"/"-"/null values, paging, hostile answers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from earlywarn.countries.service import ISO3_ALIASES, seed_countries
from earlywarn.db import session_scope
from earlywarn.framework.config import Configuration
from earlywarn.framework.sources_schemas import UnhcrSourceConfig
from earlywarn.ingest.errors import IngestError, RemoteSourceError
from earlywarn.ingest.http import SourceHttp
from earlywarn.ingest.schemas import LoadedPayload
from earlywarn.ingest.service import ingest_source
from earlywarn.ingest.unhcr import fetch_unhcr, parse_unhcr
from earlywarn.observations.models import RunStatus
from earlywarn.settings import Settings

KNOWN = {"KEN", "SDN", "SOM", "SYR", "AFG", "XKX"}
UNHCR_FIXTURE = Path("fixtures") / "unhcr" / "population_v1_coo_SOM_SYR_2024_TRIMMED.json"


def _row(**overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "year": 2023,
        "coo_name": "Kenya",
        "coo": "KEN",
        "coo_iso": "KEN",
        "coa_iso": "-",
        "refugees": 100,
        "asylum_seekers": "0",
        "idps": "-",
    }
    row.update(overrides)
    return row


def _parse(body: Any) -> LoadedPayload:
    return parse_unhcr(json.dumps(body).encode(), name="unhcr.json", known_iso3s=KNOWN)


def _values(payload: LoadedPayload) -> dict[tuple[str, str, str], float]:
    return {(r.iso3, r.variable, r.period): r.value for r in payload.records}


def test_own_page(data_dir: Path) -> None:
    payload = parse_unhcr(
        (data_dir / "unhcr_page.json").read_bytes(), name="page", known_iso3s=KNOWN
    )
    assert _values(payload) == {
        ("KEN", "unhcr.refugees", "2023"): 10500.0,
        ("KEN", "unhcr.asylum_seekers", "2023"): 0.0,  # the string "0" is a real zero
        ("SDN", "unhcr.refugees", "2023"): 1500000.0,
        ("SDN", "unhcr.asylum_seekers", "2023"): 62000.0,
        ("SDN", "unhcr.idps", "2023"): 9050000.0,
        ("SDN", "unhcr.refugees", "2022"): 830000.0,
        ("SDN", "unhcr.idps", "2022"): 3550000.0,
    }
    assert payload.details["skipped"] == {
        "not_applicable": 1,  # KEN idps "-": not zero, not loaded
        "origin_unknown_origin": 3,
        "null": 1,
    }
    assert payload.rows_read == 4 * 3
    assert len(payload.records) + payload.rows_skipped == payload.rows_read


def test_real_recorded_rows(shared_dir: Path) -> None:
    payload = parse_unhcr(
        (shared_dir / UNHCR_FIXTURE).read_bytes(), name="unhcr", known_iso3s=KNOWN
    )
    values = _values(payload)
    assert values[("SOM", "unhcr.refugees", "2024")] == 894120.0
    assert values[("SOM", "unhcr.asylum_seekers", "2024")] == 237183.0
    assert values[("SOM", "unhcr.idps", "2024")] == 3861643.0
    assert values[("SYR", "unhcr.refugees", "2024")] == 5952174.0
    assert values[("SYR", "unhcr.idps", "2024")] == 7408909.0
    assert len(values) == 6


@pytest.mark.parametrize(
    ("body", "error", "message"),
    [
        ([], RemoteSourceError, "expected an object with 'items', got list"),
        ({"error": "Invalid year"}, RemoteSourceError, "no 'items' in the answer (keys: error)"),
        ({"items": "none"}, RemoteSourceError, "'items' is str, not a list"),
        ({"items": []}, RemoteSourceError, "no rows at all"),
        ({"items": [_row(refugees="many")]}, RemoteSourceError, "'many' is not a number"),
        ({"items": [_row(refugees=-5)]}, RemoteSourceError, "-5 is not a plausible number"),
        ({"items": [_row(refugees=1e300)]}, RemoteSourceError, "not a plausible number"),
        ({"items": [_row(refugees=True)]}, RemoteSourceError, "True is not a number"),
        ({"items": [_row(refugees="NA")]}, RemoteSourceError, "'NA' is not a number"),
        ({"items": [_row(year="last")]}, RemoteSourceError, "'year' is 'last', not a year"),
        ({"items": [_row(coo_iso=None)]}, RemoteSourceError, "no origin code in 'coo_iso'"),
        ({"items": [_row(coa_iso="DEU")]}, RemoteSourceError, "has an asylum country ('DEU')"),
        ({"items": ["KEN"]}, RemoteSourceError, "row 1: not an object"),
        (
            {"items": [_row(refugees=5), _row(refugees=6)]},
            RemoteSourceError,
            "KEN unhcr.refugees 2023 delivered twice with different values (5.0 and 6.0)",
        ),
        (
            {"items": [_row(coo_iso="XYZ", coo_name="Atlantis"), _row(coo_iso="ABC")]},
            IngestError,
            "2 origin code(s) that are no country of the countries table: ABC (Kenya), "
            "XYZ (Atlantis)",
        ),
        ({"items": [_row()], "maxPages": "two"}, RemoteSourceError, "'maxPages' is 'two'"),
    ],
)
def test_hostile_answers_fail_with_a_clear_message(
    body: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as info:
        _parse(body)
    assert message in str(info.value)
    assert str(info.value).startswith("UNHCR API")


def test_identical_duplicates_are_counted_and_aliases_apply() -> None:
    payload = parse_unhcr(
        json.dumps({"items": [_row(), _row(), _row(coo_iso="KSV")]}).encode(),
        name="x",
        known_iso3s=KNOWN,
        iso3_aliases=ISO3_ALIASES,
    )
    assert payload.details["skipped"]["identical_duplicate"] == 2
    assert ("XKX", "unhcr.refugees", "2023") in _values(payload)


# --- over HTTP -------------------------------------------------------------------------------


def _paged_handler(pages: list[Any], seen: list[dict[str, list[str]]]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        query = parse_qs(request.url.query.decode())
        seen.append(query)
        assert request.url.path == "/population/v1/population/"
        return httpx.Response(200, json=pages[int(query["page"][0]) - 1])

    return httpx.MockTransport(handler)


def _client(transport: httpx.MockTransport) -> httpx.Client:
    return httpx.Client(base_url="https://api.unhcr.test/population/v1", transport=transport)


def test_fetch_follows_every_page() -> None:
    pages = [
        {"page": 1, "maxPages": 2, "items": [_row()]},
        {"page": 2, "maxPages": 2, "items": [_row(coo_iso="SDN", refugees=7)]},
    ]
    seen: list[dict[str, list[str]]] = []
    http = SourceHttp(_client(_paged_handler(pages, seen)), "UNHCR API", sleep=lambda s: None)
    payload = fetch_unhcr(http, start_year=2020, end_year=2023, known_iso3s=KNOWN)
    assert [q["page"] for q in seen] == [["1"], ["2"]]
    assert seen[0]["yearFrom"] == ["2020"]
    assert seen[0]["yearTo"] == ["2023"]
    assert seen[0]["coo_all"] == ["true"]
    assert _values(payload)[("SDN", "unhcr.refugees", "2023")] == 7.0
    assert len(payload.raw) == 2
    assert payload.source_uri is not None
    assert payload.source_uri.endswith("/population/?yearFrom=2020&yearTo=2023&coo_all=true")


def test_an_empty_page_before_the_last_fails() -> None:
    pages = [{"page": 1, "maxPages": 3, "items": [_row()]}, {"page": 2, "maxPages": 3, "items": []}]
    http = SourceHttp(_client(_paged_handler(pages, [])), "UNHCR API", sleep=lambda s: None)
    with pytest.raises(RemoteSourceError, match="page 2: empty page before the last"):
        fetch_unhcr(http, start_year=2020, end_year=2023, known_iso3s=KNOWN)


def test_an_html_error_page_fails() -> None:
    transport = httpx.MockTransport(
        lambda r: httpx.Response(
            200, text="<html><body>Maintenance</body></html>", headers={"Content-Type": "text/html"}
        )
    )
    http = SourceHttp(_client(transport), "UNHCR API", sleep=lambda s: None)
    with pytest.raises(RemoteSourceError, match="not valid JSON but an HTML"):
        fetch_unhcr(http, start_year=2020, end_year=2023, known_iso3s=KNOWN)


def test_ingest_source_runs_unhcr_and_an_unchanged_rerun_adds_nothing(
    session_factory: sessionmaker[Session], configuration: Configuration
) -> None:
    with session_scope(session_factory) as session:
        seed_countries(session)
    pages = [{"page": 1, "maxPages": 1, "items": [_row(), _row(coo_iso="SDN", idps=9)]}]
    client = _client(_paged_handler(pages, []))
    settings = Settings()
    window = UnhcrSourceConfig(start_year=2020, end_year=2023)
    run = ingest_source(
        session_factory, settings, configuration, "unhcr", source_config=window, client=client
    )
    assert run.status is RunStatus.SUCCEEDED, run.error
    assert run.rows_loaded == 5  # KEN refugees + asylum_seekers; SDN all three
    again = ingest_source(
        session_factory, settings, configuration, "unhcr", source_config=window, client=client
    )
    assert again.status is RunStatus.UNCHANGED
    assert again.rows_loaded == 0


def test_configured_api_sources_run_and_a_missing_appname_is_reported(
    session_factory: sessionmaker[Session], configuration: Configuration, tmp_path: Path
) -> None:
    from earlywarn.framework.config import load_sources_config
    from earlywarn.ingest.service import ingest_configured_sources, unconfigured_sources

    with session_scope(session_factory) as session:
        seed_countries(session)
    (tmp_path / "sources.yaml").write_text(
        "worldbank:\n  enabled: false\n  years_back: 1\n"
        "unhcr:\n  start_year: 2022\n  end_year: 2023\n"
        "reliefweb:\n  years_back: 1\n"
    )
    pages = [{"page": 1, "maxPages": 1, "items": [_row()]}]
    settings = Settings(config_dir=tmp_path, reliefweb_appname=None)
    runs = ingest_configured_sources(
        session_factory,
        settings,
        configuration,
        sources=load_sources_config(tmp_path / "sources.yaml"),
        trigger="schedule",
        client=_client(_paged_handler(pages, [])),
    )
    assert [(run.source_id, run.status) for run in runs] == [("unhcr", RunStatus.SUCCEEDED)]
    sources = load_sources_config(tmp_path / "sources.yaml")
    assert unconfigured_sources(settings, sources) == {"reliefweb": ["EARLYWARN_RELIEFWEB_APPNAME"]}
