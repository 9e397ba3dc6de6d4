"""Zero-fill of event-count sources (issue 16): after an ingest of the real recorded UCDP and
ACLED payloads in /work/shared/fixtures (read at test time), a covered country without events
reads 0 under a zero-fill source id, an uncovered one stays missing, a counted event wins, a
zero never replaces a stored count, and a failed run fills nothing; on both backends."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr, ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from tests.ingest.test_acled import FakeAcled, real_pages
from tests.ingest.test_ucdp import SETTINGS as UCDP_SETTINGS
from tests.ingest.test_ucdp import FakeUcdp, real_events

from earlywarn.countries.models import Country
from earlywarn.countries.schemas import Region
from earlywarn.db import session_scope
from earlywarn.framework.config_schemas import IndicatorsConfig
from earlywarn.framework.sources_schemas import AcledSourceConfig, UcdpSourceConfig
from earlywarn.framework.zero_fill_schemas import AcledZeroFill, RegionName, UcdpZeroFill
from earlywarn.ingest import zero_fill
from earlywarn.ingest.schemas import LoadedPayload, ObservationRecord
from earlywarn.ingest.service import ingest_source
from earlywarn.observations.models import IngestRun, Observation, RunStatus
from earlywarn.observations.repository import observation_history
from earlywarn.observations.schemas import ObservationRead
from earlywarn.settings import Settings

UCDP_BASE = "https://ucdp.test/api"
ACLED_BASE = "https://acled-zero-fill.test"
BATTLES = "ucdp.battle_related_deaths"
UCDP_YEARS = UcdpSourceConfig(start_year=2002, end_year=2004)


def _countries(session_factory: sessionmaker[Session], *rows: tuple[str, int | None]) -> None:
    with session_scope(session_factory) as session:
        for iso3, m49 in rows:
            session.add(Country(iso3=iso3, m49=m49, name=iso3))


def _values(
    session_factory: sessionmaker[Session], iso3: str, variable: str
) -> dict[str, tuple[float, str]]:
    with session_factory() as session:
        return {
            v.period: (v.value, v.source_id) for v in observation_history(session, iso3, variable)
        }


def _ucdp(
    session_factory: sessionmaker[Session],
    events: list[Any],
    config: UcdpSourceConfig = UCDP_YEARS,
    **fake: Any,
) -> IngestRun:
    with httpx.Client(
        base_url=UCDP_BASE, transport=httpx.MockTransport(FakeUcdp(events, **fake))
    ) as client:
        return ingest_source(
            session_factory,
            UCDP_SETTINGS,
            IndicatorsConfig(indicators=[]),
            "ucdp",
            source_config=config,
            client=client,
            sleep=lambda s: None,
        )


@pytest.fixture
def ucdp_world(session_factory: sessionmaker[Session]) -> None:
    # JOR: a Gleditsch-Ward state without events in the recorded payload. SSD joined the list
    # in 2011 (first full year 2012 in sources.yaml's rule); ABW is not on it.
    _countries(session_factory, ("ISR", 376), ("PSE", 275), ("JOR", 400), ("SSD", 728))
    _countries(session_factory, ("ABW", 533))


def test_ucdp_quiet_covered_country_reads_zero_and_uncovered_stays_missing(
    session_factory: sessionmaker[Session], ucdp_world: None, shared_dir: Path
) -> None:
    rule = UcdpZeroFill(first_year={"SSD": 2012})
    run = _ucdp(
        session_factory, real_events(shared_dir), UCDP_YEARS.model_copy(update={"zero_fill": rule})
    )
    assert run.status == RunStatus.SUCCEEDED
    assert _values(session_factory, "JOR", BATTLES) == dict.fromkeys(
        ("2002", "2003", "2004"), (0.0, "ucdp+zero_fill")
    )
    # Israel: counted in 2002 (Southern and Jerusalem districts), quiet in 2003 and 2004.
    assert _values(session_factory, "ISR", BATTLES) == {
        "2002": (5.0, "ucdp"),
        "2003": (0.0, "ucdp+zero_fill"),
        "2004": (0.0, "ucdp+zero_fill"),
    }
    assert _values(session_factory, "PSE", BATTLES)["2004"] == (6.0, "ucdp")
    assert _values(session_factory, "SSD", BATTLES) == {}
    assert _values(session_factory, "ABW", BATTLES) == {}
    details = run.details["zero_fill"]
    assert details["years"] == [2002, 2003, 2004]
    # The six counts: JOR 3 years, ISR 2, PSE 2003; the mass-killing flags only for JOR (no
    # event anywhere in the window) and only where their look-back lies inside 2002-2004:
    # episodes 3 years, onset 2003-2004, previous-year onset and the 3-year flag 2004.
    assert details["loaded"] == 6 * (3 + 2 + 1) + (3 + 2 + 1 + 1)
    # The connector's own counts are unchanged by the zeros.
    assert run.rows_loaded == 18 + 6  # the source's own values (with its mass-killing flags)


def test_a_later_event_replaces_the_zero_and_a_zero_never_replaces_a_count(
    session_factory: sessionmaker[Session], ucdp_world: None, shared_dir: Path
) -> None:
    events = real_events(shared_dir)
    first = _ucdp(session_factory, events)
    assert _values(session_factory, "JOR", BATTLES)["2003"] == (0.0, "ucdp+zero_fill")
    jordan = {**events[2], "id": 990_001, "year": 2003, "country_id": 663, "adm_1": "Amman"}
    second = _ucdp(session_factory, [*events, jordan])
    assert second.id > first.id
    assert _values(session_factory, "JOR", BATTLES)["2003"] == (4.0, "ucdp")
    assert _values(session_factory, "JOR", BATTLES)["2002"] == (0.0, "ucdp+zero_fill")
    # The release drops the Jordan event again: the stored count stays, no zero over it.
    third = _ucdp(session_factory, events)
    assert third.status == RunStatus.SUCCEEDED
    assert _values(session_factory, "JOR", BATTLES)["2003"] == (4.0, "ucdp")
    # Events, deaths and battle deaths keep their counts; the event's zero one-sided, non-state
    # and civilian deaths were counted zeros already.
    assert third.details["zero_fill"]["kept_stored_value"] == 3
    assert third.details["zero_fill"]["loaded"] == 0


def test_a_failed_run_fills_nothing(
    session_factory: sessionmaker[Session], ucdp_world: None, shared_dir: Path
) -> None:
    events = real_events(shared_dir)
    # Paging ends one event short of TotalCount: the fetch is incomplete.
    run = _ucdp(session_factory, events, total=len(events) + 1)
    assert run.status == RunStatus.FAILED
    assert "TotalCount" in (run.error or "")
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Observation)) == 0


class _AcledByCountry(FakeAcled):
    """The real page for Ukraine (ISO numeric 804), an empty page for any other country."""

    def __call__(self, request: httpx.Request) -> httpx.Response:
        iso = request.url.params.get("iso")
        if iso is not None and iso != "804" and request.url.path != "/oauth/token":
            token = request.headers.get("Authorization", "").removeprefix("Bearer ")
            if token in self.valid:
                return httpx.Response(200, json=self.empty)
        return super().__call__(request)


def _acled(session_factory: sessionmaker[Session], fake: Any) -> IngestRun:
    config = AcledSourceConfig(
        start_year=2024,
        end_year=2024,
        countries=["UKR", "POL", "USA"],
        zero_fill=AcledZeroFill.model_validate(
            {"coverage": [{"region": "Europe", "since": "2018-01"}]}
        ),
    )
    settings = Settings(
        acled_base_url=ACLED_BASE,
        acled_username="analyst@example.org",
        acled_password=SecretStr("pw"),
    )
    with httpx.Client(base_url=ACLED_BASE, transport=httpx.MockTransport(fake)) as client:
        return ingest_source(
            session_factory,
            settings,
            IndicatorsConfig(indicators=[]),
            "acled",
            source_config=config,
            client=client,
            sleep=lambda s: None,
        )


def test_acled_country_filtered_run_fills_the_covered_countries_it_asked_for(
    session_factory: sessionmaker[Session], shared_dir: Path
) -> None:
    _countries(session_factory, ("UKR", 804), ("POL", 616), ("USA", 840), ("DEU", 276))
    page, empty = real_pages(shared_dir)
    run = _acled(session_factory, _AcledByCountry([page], empty))
    assert run.status == RunStatus.SUCCEEDED, run.error
    battles = "acled.monthly_battles_events"
    ukraine = _values(session_factory, "UKR", battles)
    assert ukraine["2024-01"] == (3.0, "acled")  # three battles on 1 January 2024
    assert ukraine["2024-02"] == (0.0, "acled+zero_fill")
    assert _values(session_factory, "UKR", "acled.battles_events") == {"2024": (3.0, "acled")}
    poland = _values(session_factory, "POL", battles)
    assert len(poland) == 12
    assert set(poland.values()) == {(0.0, "acled+zero_fill")}
    assert _values(session_factory, "POL", "acled.fatalities") == {"2024": (0.0, "acled+zero_fill")}
    # USA was asked for but is outside the coverage list; DEU was not asked for.
    assert _values(session_factory, "USA", battles) == {}
    assert _values(session_factory, "DEU", battles) == {}
    assert run.details["zero_fill"]["asked_for"] == ["POL", "UKR", "USA"]
    assert run.details["zero_fill"]["countries"] == 2


class _AcledFailingFor(_AcledByCountry):
    """As ``_AcledByCountry``, but the request for one country always fails."""

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.params.get("iso") == "616":
            return httpx.Response(500, text="Internal Server Error")
        return super().__call__(request)


def test_acled_run_failing_half_way_fills_nothing(
    session_factory: sessionmaker[Session], shared_dir: Path
) -> None:
    _countries(session_factory, ("UKR", 804), ("POL", 616), ("USA", 840))
    page, empty = real_pages(shared_dir)
    # Ukraine is read whole, then Poland's request fails: no zero, and no count either.
    run = _acled(session_factory, _AcledFailingFor([page], empty))
    assert run.status == RunStatus.FAILED
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Observation)) == 0


def _payload(records: list[ObservationRecord], **details: Any) -> LoadedPayload:
    return LoadedPayload(
        records=records, content_digest="0" * 64, source_uri=None, rows_read=1, details=details
    )


def test_acled_coverage_start_and_account_restrictions_bound_the_fill() -> None:
    rule = AcledZeroFill.model_validate({"coverage": [{"region": "Europe", "since": "2024-07"}]})
    config = AcledSourceConfig(start_year=2024, end_year=2024, countries=["POL"], zero_fill=rule)
    window = {"window": ["2024-01-01", "2024-12-31"], "complete_through": "2024-11-30"}
    filled = zero_fill.complete("acled", _payload([], **window), config, frozenset({"POL"}))
    periods = sorted({z.period for z in filled.zero_filled})
    # July to November: covered and complete; no whole year is both.
    assert periods == [f"2024-{m:02d}" for m in range(7, 12)]
    restricted = _payload([], **window, access_restrictions={"countries": ["Poland"]})
    refused = zero_fill.complete("acled", restricted, config, frozenset({"POL"}))
    assert refused.zero_filled == []
    assert "may not read" in refused.details["zero_fill"]["skipped"]
    # Sources without a coverage rule (the SDG series) are left alone.
    sdg = _payload([ObservationRecord.for_year("POL", "sdg.VC_VAW_MTUHRA", 2024, 1.0)])
    assert zero_fill.complete("sdg", sdg, None, frozenset({"POL"})) is sdg


def test_candidate_release_fills_only_the_years_it_reaches() -> None:
    config = UcdpSourceConfig(start_year=2024, end_year=2026, candidate_version="25.0.10")
    versions = [
        {"version": "25.1", "from": "2024-01-01", "to": "2024-12-31"},
        {"version": "25.0.10", "from": "2025-01-01", "to": "2026-12-31"},
    ]
    filled = zero_fill.complete("ucdp", _payload([], versions=versions), config, frozenset({"JOR"}))
    assert sorted({z.period for z in filled.zero_filled}) == ["2024", "2025"]


def test_coverage_rules_are_validated() -> None:
    assert set(RegionName.__args__) == {r.value for r in Region}  # type: ignore[attr-defined]
    with pytest.raises(ValidationError, match="YYYY-MM"):
        AcledZeroFill.model_validate({"coverage": [{"region": "Africa", "since": "1997"}]})
    with pytest.raises(ValidationError, match="either a region or countries"):
        AcledZeroFill.model_validate(
            {"coverage": [{"region": "Africa", "countries": ["NGA"], "since": "1997-01"}]}
        )
    with pytest.raises(ValidationError, match="ISO3"):
        UcdpZeroFill.model_validate({"also": ["pse"]})


def test_observation_read_says_when_a_value_is_a_zero_fill() -> None:
    base = {"variable": BATTLES, "period": "2024", "value": 0.0, "ingest_run_id": 1}
    dates = {"period_start": "2024-01-01", "period_end": "2024-12-31"}
    filled = ObservationRead.model_validate({**base, **dates, "source_id": "ucdp+zero_fill"})
    counted = ObservationRead.model_validate({**base, **dates, "source_id": "ucdp"})
    assert filled.model_dump()["zero_fill"] is True
    assert counted.model_dump()["zero_fill"] is False


def test_ucdp_mass_killing_flags_are_zero_filled_only_where_their_look_back_was_fetched() -> None:
    from earlywarn.ingest import ucdp_mass_killing as mk

    assert mk.knowable("ucdp.mass_killing_episodes", 2002, 2002)
    assert not mk.knowable("ucdp.mass_killing_onset", 2002, 2002)
    assert mk.knowable("ucdp.mass_killing_onset", 2003, 2002)
    assert not mk.knowable("ucdp.mass_killing_onset_prev_year", 2003, 2002)
    assert mk.knowable("ucdp.mass_killing_within_3_years", 2004, 2002)
    assert not mk.knowable("ucdp.mass_killing_since_1989", 2024, 2020)
    assert mk.knowable("ucdp.mass_killing_since_1989", 2024, 1989)
