from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from sqlalchemy.orm import Session

from earlywarn.api.deps import IdPath, Reader, SessionDep
from earlywarn.countries.models import Country
from earlywarn.scoring import repository
from earlywarn.scoring.models import CountryScore, ScoreRun
from earlywarn.scoring.schemas import (
    CountryScoreDetail,
    CountryScoreOut,
    FactorSummary,
    RankedScores,
    ScoreRunOut,
)
from earlywarn.types import RiskLevel

router = APIRouter(tags=["scores"])

_NO_RUN = "no scoring run has succeeded yet: load data and run `earlywarn run-once`"


def _summary(score: CountryScore) -> list[FactorSummary]:
    return [
        FactorSummary(number=f["number"], name=f["name"], score=f["score"], coverage=f["coverage"])
        for f in score.factor_summary["factors"]
    ]


def _out(score: CountryScore, run: ScoreRun, rank: int | None, name: str) -> CountryScoreOut:
    return CountryScoreOut(
        rank=rank,
        iso3=score.country_iso3,
        name=name,
        composite=score.composite,
        level=score.level,
        coverage=score.coverage,
        factors_with_data=score.factor_summary["factors_with_data"],
        factors=_summary(score),
        score_run_id=run.id,
        as_of=run.as_of,
        weight_set_id=score.weight_set_id,
        methodology_version=score.methodology_version,
    )


def _detail(session: Session, score: CountryScore, run: ScoreRun) -> CountryScoreDetail:
    names = repository.country_names(session, [score.country_iso3])
    base = _out(score, run, None, names.get(score.country_iso3, score.country_iso3))
    return CountryScoreDetail(**base.model_dump(), breakdown=score.factors)


@router.get("/scores/latest", response_model=RankedScores)
def latest_scores(
    session: SessionDep,
    _: Reader,
    limit: Annotated[int | None, Query(ge=1, le=1000)] = None,
    level: RiskLevel | None = None,
    min_coverage: Annotated[float, Query(ge=0, le=1)] = 0.0,
) -> RankedScores:
    """Countries ranked by composite risk in the latest successful scoring run."""
    run = repository.latest_successful_run(session)
    if run is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=_NO_RUN)
    scores = repository.scores_for_run(
        session, run.id, level=level, min_coverage=min_coverage, limit=limit
    )
    names = repository.country_names(session, [s.country_iso3 for s in scores])
    ranked = [
        _out(s, run, i + 1 if s.composite is not None else None, names.get(s.country_iso3, ""))
        for i, s in enumerate(scores)
    ]
    return RankedScores(run=ScoreRunOut.model_validate(run), count=len(ranked), scores=ranked)


@router.get("/score-runs", response_model=list[ScoreRunOut])
def score_runs(
    session: SessionDep, _: Reader, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> list[ScoreRun]:
    return repository.list_runs(session, limit=limit)


@router.get("/score-runs/{run_id}", response_model=ScoreRunOut)
def score_run(session: SessionDep, _: Reader, run_id: IdPath) -> ScoreRun:
    run = repository.get_run(session, run_id)
    if run is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no scoring run {run_id}")
    return run


@router.get("/countries/{iso3}/scores", response_model=list[CountryScoreOut])
def country_score_history(
    session: SessionDep,
    _: Reader,
    iso3: str,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[CountryScoreOut]:
    """A country's scores over past runs, newest first, with per-factor scores."""
    code = iso3.upper()
    if session.get(Country, code) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"unknown country '{iso3}'")
    name = repository.country_names(session, [code]).get(code, code)
    return [
        _out(score, run, None, name)
        for score, run in repository.country_history(session, code, limit=limit)
    ]


@router.get("/countries/{iso3}/scores/latest", response_model=CountryScoreDetail)
def country_latest_score(session: SessionDep, _: Reader, iso3: str) -> CountryScoreDetail:
    """The country's latest score with the full breakdown down to each indicator value."""
    code = iso3.upper()
    if session.get(Country, code) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"unknown country '{iso3}'")
    run = repository.latest_successful_run(session)
    if run is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=_NO_RUN)
    score = repository.score_for_country(session, run.id, code)
    if score is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            detail=f"country '{code}' has no data in scoring run {run.id}",
        )
    return _detail(session, score, run)
