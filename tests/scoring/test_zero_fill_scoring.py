"""What a zero-fill changes in a score (issue 16): a quiet Gleditsch-Ward state, for which UCDP
found no event in a year the run fetched, reads 0 battle deaths: its armed-conflict status is
known (not in conflict) instead of unknown, and the breakdown names the value a zero-fill. Only
UCDP data is loaded, as in test_armed_conflict_from_ucdp; on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from tests.scoring.test_armed_conflict_from_ucdp import AS_OF, BASE, TOKEN, _serve

from earlywarn.app.pipeline import prepare_database
from earlywarn.db import session_scope
from earlywarn.framework.config import Configuration
from earlywarn.framework.models import WeightSet
from earlywarn.framework.sources_schemas import UcdpSourceConfig
from earlywarn.framework.zero_fill_schemas import UcdpZeroFill
from earlywarn.ingest import ucdp_mass_killing as mass_killing
from earlywarn.ingest.service import ingest_source
from earlywarn.observations.models import RunStatus
from earlywarn.scoring.models import CountryScore
from earlywarn.scoring.service import run_scoring
from earlywarn.settings import Settings


def _scores(
    session_factory: sessionmaker[Session], configuration: Configuration, *, fill: bool
) -> dict[str, CountryScore]:
    weight_set_id = prepare_database(session_factory, configuration)
    config = UcdpSourceConfig(start_year=2024, end_year=2024, zero_fill=UcdpZeroFill(enabled=fill))
    settings = Settings(ucdp_base_url=BASE, ucdp_token=SecretStr(TOKEN))
    with httpx.Client(base_url=BASE, transport=httpx.MockTransport(_serve)) as client:
        run = ingest_source(
            session_factory,
            settings,
            configuration,
            "ucdp",
            source_config=config,
            client=client,
            sleep=lambda s: None,
        )
    assert run.status is RunStatus.SUCCEEDED, run.error
    with session_scope(session_factory) as session:
        run_id = run_scoring(
            session, configuration, session.get_one(WeightSet, weight_set_id), as_of=AS_OF
        ).run.id
    with session_factory() as session:
        return {
            s.country_iso3: s
            for s in session.scalars(
                select(CountryScore).where(CountryScore.score_run_id == run_id)
            )
        }


def _ucdp_indicators(score: CountryScore) -> list[dict[str, Any]]:
    return [
        indicator
        for factor in score.factors["factors"]
        for indicator in factor["indicators"]
        if str(indicator.get("variable") or "").startswith("ucdp.")
    ]


def test_a_quiet_state_is_not_in_conflict_and_its_zero_is_named(
    session_factory: sessionmaker[Session], configuration: Configuration
) -> None:
    norway = _scores(session_factory, configuration, fill=True)["NOR"]
    assert norway.factor_summary["armed_conflict"] is False
    read = _ucdp_indicators(norway)
    assert read
    known = [i for i in read if i["value"] is not None]
    assert {(i["value"], i["source_id"]) for i in known} == {(0.0, "ucdp+zero_fill")}
    # A flag looking back past the fetched years is not guessed ("any mass killing since
    # 1989" needs a window starting in 1989); the year's own counts always are filled.
    unknown = {i["variable"] for i in read if i["value"] is None}
    assert unknown
    assert unknown <= set(mass_killing.VARIABLES) - {"ucdp.mass_killing_episodes"}


def test_without_the_fill_a_quiet_state_has_no_evidence_at_all(
    session_factory: sessionmaker[Session], configuration: Configuration
) -> None:
    scores = _scores(session_factory, configuration, fill=False)
    # Only UCDP data is loaded: Norway, without events, is not even scored; Kenya (counted) is.
    assert "NOR" not in scores
    assert scores["KEN"].factor_summary["armed_conflict"] is False
