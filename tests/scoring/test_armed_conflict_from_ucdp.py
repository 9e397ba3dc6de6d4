"""Armed conflict established from UCDP alone (issue 16, item 2), on SQLite and PostgreSQL.

Only UCDP data is loaded, through the connector and the GED API's own paging envelope; no EWP
file. Sudan gets 30 state-based battle deaths in 2024 (>= 25: UCDP's threshold of armed
conflict), Kenya 10. The events are made here in the GED API record layout (data-sources.md
section 2; the recorded records in /work/shared/fixtures/ucdp carry the same fields) because
the recorded ones are Israeli events of 2002, too old for any fresh scoring window.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from earlywarn.app.pipeline import prepare_database
from earlywarn.db import session_scope
from earlywarn.framework.config import Configuration
from earlywarn.framework.models import WeightSet
from earlywarn.framework.sources_schemas import UcdpSourceConfig
from earlywarn.ingest.service import ingest_source
from earlywarn.observations.models import RunStatus
from earlywarn.scoring.models import CountryScore
from earlywarn.scoring.service import run_scoring
from earlywarn.settings import Settings

BASE = "https://ucdp.test/api"
TOKEN = "tok"
AS_OF = date(2025, 6, 30)


def _event(event_id: int, gw: int, violence: int, best: int, civilians: int) -> dict[str, Any]:
    return {
        "id": event_id,
        "relid": f"X-2024-{violence}-{event_id}",
        "year": 2024,
        "active_year": True,
        "code_status": "Clear",
        "type_of_violence": violence,
        "country_id": gw,
        "adm_1": "",
        "date_start": "2024-05-01T00:00:00",
        "date_end": "2024-05-02T00:00:00",
        "deaths_a": best - civilians,
        "deaths_b": 0,
        "deaths_civilians": civilians,
        "deaths_unknown": 0,
        "best": best,
        "high": best,
        "low": best,
    }


EVENTS = [
    _event(1, 625, 1, 20, 2),  # Sudan, state-based
    _event(2, 625, 1, 10, 0),  # Sudan: 30 battle deaths in 2024
    _event(3, 501, 1, 10, 1),  # Kenya: 10, below UCDP's 25
]


def _serve(request: httpx.Request) -> httpx.Response:
    assert request.headers.get("x-ucdp-access-token") == TOKEN
    return httpx.Response(
        200,
        json={
            "TotalCount": len(EVENTS),
            "TotalPages": 1,
            "PreviousPageUrl": "",
            "NextPageUrl": "",
            "Result": EVENTS,
        },
    )


def _factors(score: CountryScore) -> dict[int, dict[str, Any]]:
    return {f["number"]: f for f in score.factors["factors"]}


def test_ucdp_battle_deaths_alone_establish_armed_conflict(
    session_factory: sessionmaker[Session], configuration: Configuration
) -> None:
    weight_set_id = prepare_database(session_factory, configuration)
    settings = Settings(ucdp_base_url=BASE, ucdp_token=SecretStr(TOKEN))
    with httpx.Client(base_url=BASE, transport=httpx.MockTransport(_serve)) as client:
        run = ingest_source(
            session_factory,
            settings,
            configuration,
            "ucdp",
            source_config=UcdpSourceConfig(start_year=2024, end_year=2024),
            client=client,
            sleep=lambda s: None,
        )
    assert run.status is RunStatus.SUCCEEDED, run.error

    with session_scope(session_factory) as session:
        run_id = run_scoring(
            session, configuration, session.get_one(WeightSet, weight_set_id), as_of=AS_OF
        ).run.id
    with session_factory() as session:
        scores = {
            s.country_iso3: s
            for s in session.scalars(
                select(CountryScore).where(CountryScore.score_run_id == run_id)
            )
        }
    sudan, kenya = scores["SDN"], scores["KEN"]
    assert sudan.factor_summary["armed_conflict"] is True
    assert _factors(sudan)[13]["applicable"] is True
    assert _factors(sudan)[14]["applicable"] is True
    # Factor 13 has UCDP evidence of its own (civilian deaths in conflict: 2).
    assert _factors(sudan)[13]["score"] is not None
    # Kenya has a fresh UCDP value below the threshold: not in armed conflict (not unknown).
    assert kenya.factor_summary["armed_conflict"] is False
    assert _factors(kenya)[13]["applicable"] is False
