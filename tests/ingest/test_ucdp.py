"""The UCDP connector against the real GED API records in /work/shared/fixtures/ucdp/ (wrapped
in the documented paging envelope, read at test time) and small payloads of its own."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from earlywarn.countries.models import Country
from earlywarn.db import session_scope
from earlywarn.framework.config_schemas import IndicatorsConfig
from earlywarn.framework.sources_schemas import UcdpSourceConfig
from earlywarn.ingest.connectors import ConnectorContext
from earlywarn.ingest.errors import RemoteSourceError, SourceNotConfiguredError
from earlywarn.ingest.models import ArchivedPayload
from earlywarn.ingest.service import ingest_source
from earlywarn.ingest.ucdp import TOKEN_HEADER, UcdpConnector
from earlywarn.observations.models import Observation, RunStatus
from earlywarn.settings import Settings

BASE = "https://ucdp.test/api"
TOKEN = "tok-123"
SETTINGS = Settings(ucdp_base_url=BASE, ucdp_token=SecretStr(TOKEN))
NOW = datetime(2025, 7, 1, tzinfo=UTC)
Handler = Callable[[httpx.Request], httpx.Response]


def envelope(events: list[Any], total: int, next_url: str) -> dict[str, Any]:
    return {
        "TotalCount": total,
        "TotalPages": 2,
        "PreviousPageUrl": "",
        "NextPageUrl": next_url,
        "Result": events,
    }


class FakeUcdp:
    """Serves events in pages of ``size``, following NextPageUrl, and records the requests."""

    def __init__(self, events: list[Any], size: int = 4, total: int | None = None) -> None:
        self.events = events
        self.size = size
        self.total = len(events) if total is None else total
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.headers.get(TOKEN_HEADER) != TOKEN:
            return httpx.Response(401, text="API token required. Add header: x-ucdp-access-token")
        page = int(request.url.params.get("page", "0"))
        chunk = self.events[page * self.size : (page + 1) * self.size]
        more = (page + 1) * self.size < len(self.events)
        next_url = str(request.url.copy_set_param("page", str(page + 1))) if more else ""
        return httpx.Response(200, json=envelope(chunk, self.total, next_url))


def real_events(shared_dir: Path) -> list[Any]:
    path = shared_dir / "fixtures/ucdp/gedevents_api_Result_records_ISR_SUBSET_first6.json"
    events: list[Any] = json.loads(path.read_text(encoding="utf-8"))
    return events


def context(config: UcdpSourceConfig, known: set[str] | None = None) -> ConnectorContext:
    return ConnectorContext(
        settings=SETTINGS,
        indicators=IndicatorsConfig(indicators=[]),
        now=NOW,
        known_iso3s=frozenset(known or {"ISR", "PSE"}),
        source_config=config,
        sleep=lambda seconds: None,
    )


def fetch(handler: Handler, config: UcdpSourceConfig, known: set[str] | None = None) -> Any:
    with httpx.Client(base_url=BASE, transport=httpx.MockTransport(handler)) as client:
        return UcdpConnector().fetch(context(config, known), client)


def values(payload: Any) -> dict[tuple[str, str, str], float]:
    return {(r.iso3, r.variable, r.period): r.value for r in payload.records}


def test_real_events_are_paged_mapped_from_gw_666_and_aggregated(shared_dir: Path) -> None:
    fake = FakeUcdp(real_events(shared_dir))
    payload = fetch(fake, UcdpSourceConfig(start_year=2002, end_year=2004))
    got = values(payload)
    # GW 666 events in the Gaza Strip and the West Bank count for Palestine (event_country).
    # ISR 2002: two state-based events (Southern district 4, Jerusalem district 1).
    assert got[("ISR", "ucdp.ged_events", "2002")] == 2
    assert got[("ISR", "ucdp.ged_deaths", "2002")] == 5
    assert got[("ISR", "ucdp.battle_related_deaths", "2002")] == 5
    assert got[("ISR", "ucdp.one_sided_deaths", "2002")] == 0
    assert got[("ISR", "ucdp.ged_civilian_deaths", "2002")] == 0
    # PSE 2002: Gaza state-based 1; Gaza and West Bank one-sided 1 + 1, both civilians.
    assert got[("PSE", "ucdp.ged_events", "2002")] == 3
    assert got[("PSE", "ucdp.ged_deaths", "2002")] == 3
    assert got[("PSE", "ucdp.battle_related_deaths", "2002")] == 1
    assert got[("PSE", "ucdp.one_sided_deaths", "2002")] == 2
    assert got[("PSE", "ucdp.non_state_deaths", "2002")] == 0
    assert got[("PSE", "ucdp.ged_civilian_deaths", "2002")] == 2
    assert got[("PSE", "ucdp.battle_related_deaths", "2004")] == 6
    assert ("ISR", "ucdp.ged_events", "2004") not in got
    assert ("ISR", "ucdp.ged_events", "2003") not in got  # silence is missing, not zero
    assert len(fake.requests) == 2
    first = fake.requests[0].url.params
    assert (first["StartDate"], first["EndDate"], first["pagesize"]) == (
        "2002-01-01",
        "2004-12-31",
        "1000",
    )
    assert payload.details["events_by_version"] == {"25.1": 6}
    assert TOKEN not in (payload.source_uri or "")
    assert [b.url for b in payload.raw] == [str(r.url) for r in fake.requests]


def test_candidate_release_covers_the_years_after_the_yearly_one(shared_dir: Path) -> None:
    fake = FakeUcdp([])
    fetch(fake, UcdpSourceConfig(start_year=2023, end_year=2025, candidate_version="25.0.10"))
    asked = [
        (r.url.path, r.url.params["StartDate"], r.url.params["EndDate"]) for r in fake.requests
    ]
    assert asked == [
        ("/api/gedevents/25.1", "2023-01-01", "2024-12-31"),
        ("/api/gedevents/25.0.10", "2025-01-01", "2025-12-31"),
    ]


def test_years_past_the_release_without_a_candidate_are_an_error() -> None:
    with pytest.raises(RemoteSourceError, match="need candidate_version"):
        fetch(FakeUcdp([]), UcdpSourceConfig(start_year=2025, end_year=2025))


def test_missing_events_against_total_count_fail(shared_dir: Path) -> None:
    fake = FakeUcdp(real_events(shared_dir), total=7)
    with pytest.raises(RemoteSourceError, match="received 6 events but TotalCount said 7"):
        fetch(fake, UcdpSourceConfig(start_year=2002, end_year=2004))


def test_unknown_gw_codes_and_countries_outside_the_table_are_skipped_and_listed(
    shared_dir: Path,
) -> None:
    events = real_events(shared_dir)
    events[0] = {**events[0], "country_id": 9999}
    events[1] = {**events[1], "country_id": 625}  # Sudan: known code, not in our table
    payload = fetch(FakeUcdp(events), UcdpSourceConfig(start_year=2002, end_year=2004))
    assert payload.details["unknown_gw_codes"] == ["9999"]
    assert payload.details["iso3_not_in_countries_table"] == ["SDN"]
    assert payload.details["skipped"] == {"unknown_gw_code": 1, "country_not_in_table": 1}
    assert payload.rows_skipped == 2


def test_without_token_the_api_refusal_is_reported_and_not_retried() -> None:
    fake = FakeUcdp([])
    settings = Settings(ucdp_base_url=BASE, ucdp_token=SecretStr("wrong"))
    ctx = context(UcdpSourceConfig(years_back=1))
    ctx = ConnectorContext(**{**ctx.__dict__, "settings": settings})
    with (
        httpx.Client(base_url=BASE, transport=httpx.MockTransport(fake)) as client,
        pytest.raises(RemoteSourceError, match="HTTP 401 .*API token required.*not retried"),
    ):
        UcdpConnector().fetch(ctx, client)
    assert len(fake.requests) == 1


@pytest.fixture
def israel(session_factory: sessionmaker[Session]) -> None:
    with session_scope(session_factory) as session:
        session.add(Country(iso3="ISR", iso2="IL", gw_code=666, cow_code=666, name="Israel"))
        session.add(Country(iso3="PSE", iso2="PS", name="Palestine, State of"))


def test_ingest_stores_vintages_archives_pages_and_reruns_add_nothing(
    session_factory: sessionmaker[Session], israel: None, shared_dir: Path
) -> None:
    fake = FakeUcdp(real_events(shared_dir))
    config = UcdpSourceConfig(start_year=2002, end_year=2004)
    runs = []
    for _ in range(2):
        with httpx.Client(base_url=BASE, transport=httpx.MockTransport(fake)) as client:
            runs.append(
                ingest_source(
                    session_factory,
                    SETTINGS,
                    IndicatorsConfig(indicators=[]),
                    "ucdp",
                    source_config=config,
                    client=client,
                    sleep=lambda s: None,
                )
            )
    assert [r.status for r in runs] == [RunStatus.SUCCEEDED, RunStatus.UNCHANGED]
    # 6 variables x 3 country-years (ISR 2002, PSE 2002, 2004), plus the mass-killing counts:
    # episodes for the three, onset, previous-year onset and 3-year flag for PSE 2004 (the
    # window 2002-2004 lets only 2004 look back two years).
    assert runs[0].rows_loaded == 18 + 6
    with session_factory() as session:
        # The connector's own values; the zero-fills of ISR 2003-2004 and PSE 2003 are
        # tested in test_zero_fill.py.
        counted = select(func.count()).where(Observation.source_id == "ucdp")
        assert session.scalar(counted) == 18 + 6
        archived = session.scalars(select(ArchivedPayload).order_by(ArchivedPayload.id)).all()
    assert [a.ingest_run_id for a in archived] == [runs[0].id] * 2 + [runs[1].id] * 2
    assert all(a.content is None for a in archived[2:])  # the same bytes, referenced
    assert all(TOKEN not in (a.url or "") for a in archived)


def test_source_without_token_is_not_configured_and_writes_no_run(
    session_factory: sessionmaker[Session],
) -> None:
    with pytest.raises(SourceNotConfiguredError, match="set EARLYWARN_UCDP_TOKEN"):
        ingest_source(
            session_factory,
            Settings(ucdp_token=None),
            IndicatorsConfig(indicators=[]),
            "ucdp",
        )
