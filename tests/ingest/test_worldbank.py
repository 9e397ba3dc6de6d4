"""The World Bank connector against the real payloads in /work/shared/fixtures/worldbank/, served
through httpx.MockTransport. Payloads are read at test time and never copied into the repo."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from earlywarn.framework.config import load_file
from earlywarn.framework.config_schemas import IndicatorsConfig
from earlywarn.ingest.errors import RemoteSourceError
from earlywarn.ingest.service import ingest_worldbank
from earlywarn.ingest.worldbank import fetch_worldbank, worldbank_indicators
from earlywarn.observations.models import Observation, RunStatus
from earlywarn.settings import Settings

REPO_DIR = Path(__file__).resolve().parents[2]
BASE_URL = "https://api.test/v2"
GNP = "NY.GNP.PCAP.CD"
WATER = "ER.H2O.FWST.ZS"
Handler = Callable[[httpx.Request], httpx.Response]


def read_json(shared_dir: Path, name: str) -> Any:
    return json.loads((shared_dir / "fixtures" / "worldbank" / name).read_text(encoding="utf-8"))


class FakeWorldBank:
    """Serves /country and per-indicator pages built from the real payloads; records requests."""

    def __init__(self, shared_dir: Path) -> None:
        colombia = read_json(shared_dir, "wb_v2_country_CO.json")
        eu = read_json(shared_dir, "wb_v2_country_EUU_aggregate.json")
        # One country list holding a real economy and a real aggregate.
        country_list = [{**colombia[0], "total": 2}, colombia[1] + eu[1]]

        us = read_json(shared_dir, "wb_v2_country_US_indicator_NY.GNP.PCAP.CD_1990-1997.json")
        us_rows = us[1]
        us_rows[2]["value"] = None  # 1995 missing, as the API reports gaps
        gnp_pages = [
            [{**us[0], "page": 1, "pages": 2, "per_page": 4}, us_rows[:4]],
            [{**us[0], "page": 2, "pages": 2, "per_page": 4}, us_rows[4:]],
        ]
        water = read_json(
            shared_dir, "wb_v2_indicator_ER.H2O.FWST.ZS_KEN_SAU_SOM_2022_TRIMMED.json"
        )
        eu_row = {**water[1][0], "countryiso3code": "EUU", "country": {"id": "EU", "value": "EU"}}
        blank_row = {**water[1][1], "countryiso3code": ""}
        water_pages = [[{**water[0], "total": 5}, [*water[1], eu_row, blank_row]]]

        self.bodies: dict[tuple[str, int], bytes] = {("/v2/country", 1): _dump(country_list)}
        for number, page in enumerate(gnp_pages, start=1):
            self.bodies[(f"/v2/country/all/indicator/{GNP}", number)] = _dump(page)
        for number, page in enumerate(water_pages, start=1):
            self.bodies[(f"/v2/country/all/indicator/{WATER}", number)] = _dump(page)
        self.requests: list[httpx.Request] = []
        self.served: list[bytes] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        page = int(request.url.params.get("page", "1"))
        body = self.bodies.get((request.url.path, page))
        if body is None:
            return httpx.Response(404, text="not found")
        self.served.append(body)
        return httpx.Response(200, content=body, headers={"Content-Type": "application/json"})


def _dump(value: Any) -> bytes:
    return json.dumps(value).encode("utf-8")


def client_for(handler: Handler) -> httpx.Client:
    return httpx.Client(base_url=BASE_URL, transport=httpx.MockTransport(handler))


class SleepRecorder:
    def __init__(self) -> None:
        self.seconds: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)


@pytest.fixture
def fake(shared_dir: Path) -> FakeWorldBank:
    return FakeWorldBank(shared_dir)


def test_pages_are_followed_nulls_skipped_and_aggregates_dropped(fake: FakeWorldBank) -> None:
    with client_for(fake) as client:
        payload = fetch_worldbank(
            client,
            [GNP, WATER],
            start_year=1990,
            end_year=2022,
            per_page=4,
            known_iso3s={"USA", "KEN", "SAU"},
        )

    paths = [(r.url.path, r.url.params.get("page")) for r in fake.requests]
    assert paths == [
        ("/v2/country", "1"),
        (f"/v2/country/all/indicator/{GNP}", "1"),
        (f"/v2/country/all/indicator/{GNP}", "2"),
        (f"/v2/country/all/indicator/{WATER}", "1"),
    ]
    assert fake.requests[0].url.params["per_page"] == "400"
    indicator_params = fake.requests[1].url.params
    assert (indicator_params["format"], indicator_params["date"], indicator_params["per_page"]) == (
        "json",
        "1990:2022",
        "4",
    )

    values = {(r.iso3, r.variable, r.period): r.value for r in payload.records}
    assert values == {
        ("USA", "wb.NY.GNP.PCAP.CD", "1997"): 31270.0,
        ("USA", "wb.NY.GNP.PCAP.CD", "1996"): 30270.0,
        ("USA", "wb.NY.GNP.PCAP.CD", "1994"): 27650.0,
        ("USA", "wb.NY.GNP.PCAP.CD", "1993"): 26390.0,
        ("USA", "wb.NY.GNP.PCAP.CD", "1992"): 25680.0,
        ("USA", "wb.NY.GNP.PCAP.CD", "1991"): 24270.0,
        ("USA", "wb.NY.GNP.PCAP.CD", "1990"): 24060.0,
        ("KEN", "wb.ER.H2O.FWST.ZS", "2022"): 33.23990107,
        ("SAU", "wb.ER.H2O.FWST.ZS", "2022"): 974.1666667,
    }
    assert payload.rows_read == 13
    assert payload.rows_skipped == 4
    assert payload.details["skipped"] == {
        "null_value": 1,
        "aggregate": 1,
        "no_iso3_code": 1,
        "unknown_iso3": 1,
    }
    assert payload.details["unknown_iso3_codes"] == ["SOM"]
    assert payload.details["lastupdated"] == {GNP: "2020-07-01", WATER: "2026-07-01"}
    assert payload.content_digest == hashlib.sha256(b"".join(fake.served)).hexdigest()
    assert payload.source_uri == f"{BASE_URL}/country/all/indicator/{GNP};{WATER}?date=1990:2022"


def test_every_code_is_accepted_without_a_known_list(fake: FakeWorldBank) -> None:
    with client_for(fake) as client:
        payload = fetch_worldbank(client, [WATER], start_year=2022, end_year=2022)
    assert sorted(r.iso3 for r in payload.records) == ["KEN", "SAU", "SOM"]


def test_http_200_error_body_is_rejected_with_its_message(shared_dir: Path) -> None:
    error_body = (
        shared_dir / "fixtures/worldbank/wb_v2_error_invalid_value_http200.json"
    ).read_bytes()
    fake_country_list = _dump([{"page": 1, "pages": 1, "per_page": "400", "total": 0}, []])

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v2/country":
            return httpx.Response(200, content=fake_country_list)
        return httpx.Response(200, content=error_body)

    with client_for(handler) as client, pytest.raises(RemoteSourceError) as caught:
        fetch_worldbank(client, ["NOT.AN.INDICATOR"], start_year=2020, end_year=2024)
    assert str(caught.value) == (
        "World Bank API, indicator NOT.AN.INDICATOR page 1: error id 120 Invalid value: "
        "The provided parameter value is not valid"
    )


def test_html_503_is_retried_then_fails(fake: FakeWorldBank) -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        if request.url.path != "/v2/country":
            return fake(request)
        calls += 1
        return httpx.Response(
            503,
            text="<html><body><h1>503 Service Unavailable</h1></body></html>",
            headers={"Content-Type": "text/html; charset=utf-8"},
        )

    sleep = SleepRecorder()
    with client_for(handler) as client, pytest.raises(RemoteSourceError) as caught:
        fetch_worldbank(client, [GNP], start_year=1990, end_year=1997, max_attempts=3, sleep=sleep)
    assert calls == 3
    assert len(sleep.seconds) == 2
    assert all(0 <= s <= 60 for s in sleep.seconds)
    message = str(caught.value)
    assert message.startswith("World Bank API, country list page 1: HTTP 503 after 3 attempt(s)")
    assert "text/html body starting '<html><body><h1>503 Service Unavailable" in message


def test_503_then_success_recovers(fake: FakeWorldBank) -> None:
    failures = 1

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal failures
        if failures:
            failures -= 1
            return httpx.Response(503, text="busy")
        return fake(request)

    with client_for(handler) as client:
        payload = fetch_worldbank(
            client, [WATER], start_year=2022, end_year=2022, sleep=SleepRecorder()
        )
    assert len(payload.records) == 3


def test_429_retry_after_is_honoured(fake: FakeWorldBank) -> None:
    limited = 1

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal limited
        if request.url.path.endswith(WATER) and limited:
            limited -= 1
            return httpx.Response(429, text="slow down", headers={"Retry-After": "7"})
        return fake(request)

    sleep = SleepRecorder()
    with client_for(handler) as client:
        payload = fetch_worldbank(client, [WATER], start_year=2022, end_year=2022, sleep=sleep)
    assert sleep.seconds == [7.0]
    assert len(payload.records) == 3


def test_404_is_not_retried(fake: FakeWorldBank) -> None:
    sleep = SleepRecorder()
    with client_for(fake) as client, pytest.raises(RemoteSourceError) as caught:
        fetch_worldbank(client, ["NO.SUCH"], start_year=2022, end_year=2022, sleep=sleep)
    assert sleep.seconds == []
    assert [r.url.path for r in fake.requests] == [
        "/v2/country",
        "/v2/country/all/indicator/NO.SUCH",
    ]
    assert str(caught.value) == (
        "World Bank API, indicator NO.SUCH page 1: HTTP 404 (text/plain body starting "
        "'not found'); not retried"
    )


def test_timeouts_are_retried_then_reported(fake: FakeWorldBank) -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        raise httpx.ReadTimeout("timed out", request=request)

    with client_for(handler) as client, pytest.raises(RemoteSourceError) as caught:
        fetch_worldbank(
            client, [GNP], start_year=1990, end_year=1997, max_attempts=2, sleep=SleepRecorder()
        )
    assert calls == 2
    assert str(caught.value) == (
        "World Bank API, country list page 1: ReadTimeout after 2 attempt(s): timed out"
    )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"<html>Maintenance</html>", "the answer is not valid JSON"),
        (b'[{"page": 1, "pages": 1}, [{"countryiso3code": "USA", "date": "19', "not valid JSON"),
        (b'{"page": 1}', "expected a JSON array [meta, rows], got dict"),
        (b'[{"page": 1}]', "expected a JSON array [meta, rows], got an array of 1 element(s)"),
        (b'[{"page": 1, "pages": 1}, {"rows": []}]', "expected a list of rows, got dict"),
        (b'[{"page": 1}, []]', "page metadata has no usable 'pages'"),
        (
            b'[{"page": 1, "pages": 1}, [{"countryiso3code": "USA", "date": "2020Q1", '
            b'"value": 1}]]',
            "date '2020Q1' is not a year",
        ),
        (
            b'[{"page": 1, "pages": 1}, [{"countryiso3code": "USA", "date": "2020", '
            b'"value": "12"}]]',
            "value '12' is not a number",
        ),
    ],
)
def test_malformed_indicator_bodies_are_rejected(
    fake: FakeWorldBank, body: bytes, expected: str
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v2/country":
            return fake(request)
        return httpx.Response(200, content=body)

    with client_for(handler) as client, pytest.raises(RemoteSourceError) as caught:
        fetch_worldbank(client, [GNP], start_year=1990, end_year=2024)
    assert expected in str(caught.value)
    assert f"indicator {GNP} page 1" in str(caught.value)


def test_configured_indicators_are_the_wb_variables() -> None:
    config = load_file(REPO_DIR / "config" / "indicators.yaml", IndicatorsConfig)
    ids = worldbank_indicators(config)
    expected = [i.variable[3:] for i in config.indicators if i.variable.startswith("wb.")]
    assert ids == list(dict.fromkeys(expected))
    assert ids, "indicators.yaml is expected to use at least one World Bank series"
    assert all(not i.startswith("wb.") for i in ids)


def _two_indicator_config() -> IndicatorsConfig:
    common = {
        "risk_factor": 1,
        "source": "worldbank",
        "direction": "increases_risk",
        "normalisation": {"method": "percentile"},
        "weight": 1.0,
        "max_age_days": 3650,
    }
    return IndicatorsConfig.model_validate(
        {
            "indicators": [
                {"id": "gnp", "name": "GNP", "variable": f"wb.{GNP}", **common},
                {"id": "water", "name": "Water", "variable": f"wb.{WATER}", **common},
                {"id": "other", "name": "Other", "variable": "ewp.discrimpop", **common},
            ]
        }
    )


def test_ingest_worldbank_records_a_run_and_detects_an_unchanged_payload(
    session_factory: sessionmaker[Session], countries: set[str], fake: FakeWorldBank
) -> None:
    settings = Settings(worldbank_base_url=BASE_URL, http_max_attempts=2)
    config = _two_indicator_config()

    with client_for(fake) as client:
        first = ingest_worldbank(
            session_factory, settings, config, client=client, start_year=1990, end_year=2022
        )
        second = ingest_worldbank(
            session_factory, settings, config, client=client, start_year=1990, end_year=2022
        )

    assert first.status is RunStatus.SUCCEEDED, first.error
    assert first.source_id == "worldbank"
    # SOM is in the test countries table here, so only null, aggregate and blank code skip.
    assert (first.rows_read, first.rows_loaded, first.rows_skipped) == (13, 10, 3)
    assert second.status is RunStatus.UNCHANGED
    # Identical bytes are not decoded again; the run carries the first run's counts.
    assert second.details["parsing_skipped"] is True
    assert second.details["same_content_as_run"] == first.id
    assert (second.rows_read, second.rows_unchanged, second.rows_skipped) == (13, 10, 3)
    with session_factory() as session:
        loaded = session.execute(
            select(Observation.variable, Observation.ingest_run_id).distinct()
        ).all()
    assert sorted(loaded) == [(f"wb.{WATER}", first.id), (f"wb.{GNP}", first.id)]


def test_ingest_worldbank_failure_is_recorded_on_the_run(
    session_factory: sessionmaker[Session], countries: set[str]
) -> None:
    settings = Settings(worldbank_base_url=BASE_URL, http_max_attempts=1)
    with client_for(lambda request: httpx.Response(500, text="boom")) as client:
        run = ingest_worldbank(session_factory, settings, _two_indicator_config(), client=client)
    assert run.status is RunStatus.FAILED
    assert run.error == (
        "World Bank API, country list page 1: HTTP 500 after 1 attempt(s) "
        "(text/plain body starting 'boom')"
    )


def test_ingest_worldbank_refuses_an_empty_countries_table(
    session_factory: sessionmaker[Session], fake: FakeWorldBank
) -> None:
    settings = Settings(worldbank_base_url=BASE_URL)
    with client_for(fake) as client:
        run = ingest_worldbank(session_factory, settings, _two_indicator_config(), client=client)
    assert run.status is RunStatus.FAILED
    assert run.error == "the countries table is empty; seed it before loading World Bank"
    assert fake.requests == []


def test_a_revision_on_a_later_page_is_decoded_and_becomes_a_new_vintage(
    session_factory: sessionmaker[Session], countries: set[str], fake: FakeWorldBank
) -> None:
    settings = Settings(worldbank_base_url=BASE_URL, http_max_attempts=2)
    config = _two_indicator_config()

    def load() -> Any:
        with client_for(fake) as client:
            return ingest_worldbank(
                session_factory, settings, config, client=client, start_year=1990, end_year=2022
            )

    first = load()
    key = (f"/v2/country/all/indicator/{GNP}", 2)
    meta, rows = json.loads(fake.bodies[key])
    rows[0]["value"] = 123456.0
    fake.bodies[key] = _dump([meta, rows])
    second = load()

    assert second.status is RunStatus.SUCCEEDED, second.error
    assert "parsing_skipped" not in second.details
    assert (second.rows_loaded, second.rows_unchanged) == (1, first.rows_loaded - 1)
