"""The mass-killing indicators without the EWP file (issue 16), on SQLite and PostgreSQL.

Only UCDP data is loaded, through the connector and the GED API's paging envelope: in Sudan
one perpetrator kills 1,200 civilians in 2023 and 1,500 in 2024 (a mass killing by EWP's line,
beginning in 2023), another 300; in Kenya one kills 50. The events are made here in the GED API
record layout (the recorded ones in ../shared/fixtures/ucdp are of 2002 and 1989-2015, too old
for a fresh scoring window; tests/ingest/test_ucdp_mass_killing.py derives from those).
Factor 10's narrow targeting reads ACLED's yearly identity-group fatalities at 1,000, given here
as a long CSV of that variable.
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from earlywarn.app.pipeline import prepare_database
from earlywarn.db import session_scope
from earlywarn.framework.config import Configuration
from earlywarn.framework.config_schemas import FallbackVariable
from earlywarn.framework.models import WeightSet
from earlywarn.framework.sources_schemas import UcdpSourceConfig
from earlywarn.ingest import service as ingest_service
from earlywarn.observations.models import RunStatus
from earlywarn.scoring.models import CountryScore
from earlywarn.scoring.panel import recode
from earlywarn.scoring.service import run_scoring
from earlywarn.settings import Settings

BASE = "https://ucdp.test/api"
TOKEN = "tok"
AS_OF = date(2025, 6, 30)
RSF, SAF, KEN_ACTOR = 6001, 6002, 6003
MASS_KILLING_INDICATORS = (
    "past_mass_killing",
    "recent_mass_killing_onset",
    "ongoing_mass_killings",
    "wide_targeting",
)


def _event(event_id: int, year: int, gw: int, side_a: int, best: int) -> dict[str, Any]:
    return {
        "id": event_id,
        "relid": f"X-{year}-3-{event_id}",
        "year": year,
        "active_year": True,
        "code_status": "Clear",
        "type_of_violence": 3,
        "side_a_new_id": side_a,
        "side_a": f"Actor {side_a}",
        "side_b_new_id": 1,
        "side_b": "Civilians",
        "country_id": gw,
        "adm_1": "",
        "date_start": f"{year}-05-01T00:00:00",
        "date_end": f"{year}-05-02T00:00:00",
        "deaths_a": 0,
        "deaths_b": 0,
        "deaths_civilians": best,
        "deaths_unknown": 0,
        "best": best,
        "high": best,
        "low": best,
    }


EVENTS = [
    _event(1, 2022, 625, SAF, 40),  # Sudan: events in 2022, below the line
    _event(2, 2023, 625, RSF, 700),
    _event(3, 2023, 625, RSF, 500),  # RSF 2023: 1,200: an onset
    _event(4, 2024, 625, RSF, 1500),  # still over it in 2024
    _event(5, 2024, 625, SAF, 300),
    _event(6, 2024, 501, KEN_ACTOR, 50),  # Kenya: 50
]


def _serve(request: httpx.Request) -> httpx.Response:
    assert request.headers.get("x-ucdp-access-token") == TOKEN
    body = {
        "TotalCount": len(EVENTS),
        "TotalPages": 1,
        "PreviousPageUrl": "",
        "NextPageUrl": "",
        "Result": EVENTS,
    }
    return httpx.Response(200, json=body)


def _entries(score: CountryScore) -> dict[str, dict[str, Any]]:
    return {i["indicator_id"]: i for f in score.factors["factors"] for i in f["indicators"]}


def _factors(score: CountryScore) -> dict[int, dict[str, Any]]:
    return {f["number"]: f for f in score.factors["factors"]}


def _score(factory: sessionmaker[Session], configuration: Configuration, weight_set_id: int) -> Any:
    with session_scope(factory) as session:
        run_id = run_scoring(
            session, configuration, session.get_one(WeightSet, weight_set_id), as_of=AS_OF
        ).run.id
    with factory() as session:
        return {
            s.country_iso3: s
            for s in session.scalars(
                select(CountryScore).where(CountryScore.score_run_id == run_id)
            )
        }


def test_ucdp_alone_gives_the_mass_killing_indicators_and_factors_2_and_11(
    session_factory: sessionmaker[Session], configuration: Configuration, tmp_path: Path
) -> None:
    weight_set_id = prepare_database(session_factory, configuration)
    settings = Settings(ucdp_base_url=BASE, ucdp_token=SecretStr(TOKEN))
    with httpx.Client(base_url=BASE, transport=httpx.MockTransport(_serve)) as client:
        run = ingest_service.ingest_source(
            session_factory,
            settings,
            configuration,
            "ucdp",
            source_config=UcdpSourceConfig(start_year=2022, end_year=2024),
            client=client,
            sleep=lambda s: None,
        )
    assert run.status is RunStatus.SUCCEEDED, run.error
    scores = _score(session_factory, configuration, weight_set_id)
    sudan, kenya = _entries(scores["SDN"]), _entries(scores["KEN"])

    for indicator in MASS_KILLING_INDICATORS:
        assert sudan[indicator]["contribution"] == pytest.approx(
            1.0 if indicator != "ongoing_mass_killings" else 1 / 1.6
        ), indicator
        assert kenya[indicator]["contribution"] == pytest.approx(0.0), indicator
        assert sudan[indicator]["variable"].startswith("ucdp.mass_killing"), indicator
    # One episode: log2(1 + 1) = 1 on EWP's mk_ongoing_count_log2 scale.
    assert sudan["ongoing_mass_killings"]["transformed"] == pytest.approx(1.0)
    # A three-year window cannot say "since 1989": the three-year flag stands in.
    past = sudan["past_mass_killing"]
    assert (past["variable"], past["fallback"]) == ("ucdp.mass_killing_within_3_years", True)
    assert sudan["recent_mass_killing_onset"]["variable"] == "ucdp.mass_killing_onset_prev_year"
    for country in (scores["SDN"], scores["KEN"]):
        assert _factors(country)[2]["score"] is not None
        assert _factors(country)[11]["score"] is not None
    assert _factors(scores["SDN"])[11]["score"] > _factors(scores["KEN"])[11]["score"]

    # Factor 10: ACLED's identity-group fatalities of a year, coded at EWP's 1,000 line.
    path = tmp_path / "acled.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["iso3", "variable", "year", "value"])
        writer.writerow(["SDN", "acled.attacks_on_identity_groups_fatalities", 2024, 1000])
        writer.writerow(["KEN", "acled.attacks_on_identity_groups_fatalities", 2024, 999])
    imported = ingest_service.import_file(session_factory, path, "csv")
    assert imported.error is None, imported.error
    scores = _score(session_factory, configuration, weight_set_id)
    sudan, kenya = _entries(scores["SDN"]), _entries(scores["KEN"])
    assert sudan["narrow_targeting"]["contribution"] == pytest.approx(1.0)
    assert kenya["narrow_targeting"]["contribution"] == pytest.approx(0.0)
    assert _factors(scores["SDN"])[10]["score"] is not None


def test_at_least_codes_a_threshold_and_keeps_missing_missing() -> None:
    values = np.array([999.0, 1000.0, np.nan, 2500.0])
    coded = recode(FallbackVariable(variable="x.deaths", at_least=1000), values)
    assert np.array_equal(coded, np.array([0.0, 1.0, np.nan, 1.0]), equal_nan=True)
    # Without a coding the values pass unchanged.
    assert recode(FallbackVariable(variable="x.deaths"), values) is values
