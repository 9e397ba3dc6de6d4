from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from earlywarn.api.csv_format import FormatQuery, csv_response, wants_csv
from earlywarn.api.deps import MAX_ID, IdPath, Iso3Path, OptionalIdQuery, SessionDep
from earlywarn.auth.deps import Reader
from earlywarn.countries.models import Country
from earlywarn.db import session_scope
from earlywarn.framework.config import Configuration
from earlywarn.framework.deps import ConfigDep
from earlywarn.framework.models import WeightSet
from earlywarn.scoring import repository, service, stored_scores
from earlywarn.scoring.models import CountryScore, ScoreRun
from earlywarn.scoring.ranked import (
    CACHE_CONTROL,
    LatestRun,
    Rendered,
    RenderedCache,
    ranked_scores,
)
from earlywarn.scoring.schemas import (
    CountryScoreDetail,
    CountryScoreOut,
    FactorSummary,
    RankedScores,
    RunComparison,
    RunComparisonRow,
    ScoreExplanation,
    ScoreRunOut,
)
from earlywarn.scoring.summary import factor_summary
from earlywarn.types import RiskLevel

router = APIRouter(tags=["scores"])

IdQuery = Annotated[int, Query(ge=1, le=MAX_ID)]

_NO_RUN = "no scoring run has succeeded yet: load data and run `earlywarn run-once`"


def _out(score: CountryScore, run: ScoreRun, rank: int | None, name: str) -> CountryScoreOut:
    summary = factor_summary(score, run)
    return CountryScoreOut(
        rank=rank,
        iso3=score.country_iso3,
        name=name,
        composite=score.composite,
        level=score.level,
        coverage=score.coverage,
        insufficient_data=score.insufficient_data is not None,
        insufficient_data_reason=score.insufficient_data,
        factors_with_data=summary["factors_with_data"],
        factors=[
            FactorSummary(
                number=f["number"], name=f["name"], score=f["score"], coverage=f["coverage"]
            )
            for f in summary["factors"]
        ],
        armed_conflict=summary.get("armed_conflict"),
        points_to=summary.get("points_to", []),
        score_run_id=run.id,
        as_of=run.as_of,
        weight_set_id=score.weight_set_id,
        methodology_version=score.methodology_version,
    )


def _detail(
    session: Session,
    score: CountryScore,
    run: ScoreRun,
    config: Configuration,
    *,
    rank: int | None = None,
) -> CountryScoreDetail:
    names = repository.country_names(session, [score.country_iso3])
    base = _out(score, run, rank, names.get(score.country_iso3, score.country_iso3))
    breakdown = score.factors
    if breakdown.get("format") is not None:
        breakdown = stored_scores.expand_stored_breakdown(session, config, run, score)
    return CountryScoreDetail(**base.model_dump(), breakdown=breakdown)


@router.get(
    "/scores/latest",
    response_model=RankedScores,
    responses={304: {"description": "Not modified: the If-None-Match tag is still current."}},
)
async def latest_scores(
    request: Request,
    _: Reader,
    limit: Annotated[int | None, Query(ge=1, le=1000)] = None,
    level: RiskLevel | None = None,
    min_coverage: Annotated[float, Query(ge=0, le=1)] = 0.0,
    format: FormatQuery = None,
) -> Response:
    """Countries ranked by composite risk in the latest successful scoring run (the watch
    list; `?format=csv` for a table).

    The factor names are given once, in `factors`; each row lists its factors' number, score
    and coverage. A run never changes once written: the answer carries an `ETag` (send it back
    in `If-None-Match` for a 304) and `Cache-Control`."""
    # Async: while the latest run's id is recent (scoring.ranked.LatestRun) the stored bytes
    # are sent with no worker thread and no query; else one trip to a thread reads the id
    # (and, once per run and query, renders the body).
    factory: sessionmaker[Session] = request.app.state.session_factory
    query = _LatestQuery(limit, level, min_coverage)
    if wants_csv(request, format):
        return await run_in_threadpool(_latest_csv, factory, query)
    state = request.app.state
    if getattr(state, "ranked_scores_cache", None) is None:
        state.ranked_scores_cache = RenderedCache()
        state.latest_run = LatestRun()
    cache: RenderedCache = state.ranked_scores_cache
    latest: LatestRun = state.latest_run
    run_key = latest.recent()
    rendered = cache.get((run_key, query)) if run_key is not None else None
    if rendered is None:
        rendered = await run_in_threadpool(_latest_rendered, factory, cache, latest, query)
    headers = {"ETag": rendered.etag, "Cache-Control": CACHE_CONTROL}
    if rendered.matches(request.headers.get("if-none-match")):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    return Response(rendered.body, media_type="application/json", headers=headers)


@dataclass(frozen=True)
class _LatestQuery:
    limit: int | None
    level: RiskLevel | None
    min_coverage: float


def _latest_rows(session: Session, run: ScoreRun, query: _LatestQuery) -> list[CountryScoreOut]:
    scores = repository.scores_for_run(
        session, run.id, level=query.level, min_coverage=query.min_coverage, limit=query.limit
    )
    names = repository.country_names(session, [s.country_iso3 for s in scores])
    return [
        _out(s, run, i + 1 if s.composite is not None else None, names.get(s.country_iso3, ""))
        for i, s in enumerate(scores)
    ]


def _latest_csv(factory: sessionmaker[Session], query: _LatestQuery) -> Response:
    with session_scope(factory) as session:
        run = repository.latest_successful_run(session)
        if run is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=_NO_RUN)
        return csv_response(
            _latest_rows(session, run, query), f"earlywarn-watch-list-{run.as_of}.csv"
        )


def _latest_rendered(
    factory: sessionmaker[Session], cache: RenderedCache, latest: LatestRun, query: _LatestQuery
) -> Rendered:
    read_at = time.monotonic()
    run_key = None
    try:
        with session_scope(factory) as session:
            run_key = repository.latest_successful_run_key(session)
            if run_key is None:
                raise HTTPException(status.HTTP_404_NOT_FOUND, detail=_NO_RUN)

            def render() -> bytes:
                run = repository.get_run(session, run_key.id)
                assert run is not None  # a finished run is never deleted
                rows = _latest_rows(session, run, query)
                body = ranked_scores(ScoreRunOut.model_validate(run), rows)
                return body.model_dump_json().encode()

            return cache.get_or_render((run_key, query), render)
    finally:
        latest.remember(run_key, read_at)


@router.get("/score-runs", response_model=list[ScoreRunOut])
def score_runs(
    session: SessionDep, _: Reader, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> list[ScoreRun]:
    """Scoring runs, newest first: date scored, weight set, status, countries scored, and
    whether alert rules were evaluated on it (backfilled history runs are not)."""
    return repository.list_runs(session, limit=limit)


@router.get("/score-runs/{run_id}", response_model=ScoreRunOut)
def score_run(session: SessionDep, _: Reader, run_id: IdPath) -> ScoreRun:
    """One scoring run: when it ran, what it scored and whether it succeeded."""
    run = repository.get_run(session, run_id)
    if run is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no scoring run {run_id}")
    return run


@router.get("/countries/{iso3}/scores", response_model=list[CountryScoreOut])
def country_score_history(
    session: SessionDep,
    _: Reader,
    iso3: Iso3Path,
    request: Request,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    one_per_day: Annotated[
        bool,
        Query(description="Keep only the last run of each scored date (what a chart draws)"),
    ] = False,
    format: FormatQuery = None,
) -> list[CountryScoreOut] | Response:
    """A country's scores over past runs, newest first, with per-factor scores
    (`?format=csv` for a table). With `one_per_day=true` several runs of one date read as one
    point, the last of them, as in the country page's chart."""
    code = iso3.upper()
    if session.get(Country, code) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"unknown country '{iso3}'")
    name = repository.country_names(session, [code]).get(code, code)
    rows = repository.country_history(session, code, limit=limit)
    if one_per_day:
        rows = service.last_run_per_day(rows)
    history = [_out(score, run, None, name) for score, run in rows]
    if wants_csv(request, format):
        return csv_response(history, f"earlywarn-{code}-history.csv")
    return history


@router.get("/countries/{iso3}/scores/latest", response_model=CountryScoreDetail)
def country_latest_score(
    session: SessionDep, config: ConfigDep, _: Reader, iso3: Iso3Path
) -> CountryScoreDetail:
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
    return _detail(session, score, run, config, rank=repository.rank_in_run(session, score))


# --- as of a date, under another weight set, breakdown per run, explanation, comparison ------


def _run(session: Session, run_id: int) -> ScoreRun:
    run = repository.get_run(session, run_id)
    if run is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no scoring run {run_id}")
    return run


def _weight_set(session: Session, weight_set_id: int) -> WeightSet:
    found = session.get(WeightSet, weight_set_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no weight set {weight_set_id}")
    return found


@router.get("/scores", response_model=RankedScores)
def scores_as_of(
    session: SessionDep,
    config: ConfigDep,
    _: Reader,
    as_of: date,
    weight_set_id: OptionalIdQuery = None,
    limit: Annotated[int | None, Query(ge=1, le=1000)] = None,
) -> RankedScores:
    """Countries ranked in the latest successful run that scored ``as_of`` or an earlier date;
    with ``weight_set_id``, that run's stored contributions re-scored under that set."""
    run = repository.latest_run_as_of(session, as_of)
    if run is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, detail=f"no successful scoring run as of {as_of}"
        )
    if weight_set_id is None:
        scores = repository.scores_for_run(session, run.id, limit=limit)
        names = repository.country_names(session, [s.country_iso3 for s in scores])
        ranked = [
            _out(s, run, i + 1 if s.composite is not None else None, names.get(s.country_iso3, ""))
            for i, s in enumerate(scores)
        ]
        return ranked_scores(ScoreRunOut.model_validate(run), ranked)
    weight_set = _weight_set(session, weight_set_id)
    stored, rescored = stored_scores.rescore_run(session, config, run, weight_set)
    ranks = rescored.ranks()
    names = repository.country_names(session, rescored.units)
    factor_names = {f.number: f.name for f in config.framework.risk_factors}
    rows = [
        stored_scores.rescored_out(
            s,
            run,
            rescored,
            u,
            ranks.get(s.country_iso3),
            names.get(s.country_iso3, ""),
            weight_set,
            factor_names,
            config.scoring.levels,
        )
        for u, s in enumerate(stored)
    ]
    rows.sort(key=lambda r: (r.rank is None, r.rank or 0, r.iso3))
    rows = rows[:limit] if limit is not None else rows
    return ranked_scores(ScoreRunOut.model_validate(run), rows)


def _score_in_run(session: Session, run: ScoreRun, iso3: str) -> CountryScore:
    code = iso3.upper()
    if session.get(Country, code) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"unknown country '{iso3}'")
    score = repository.score_for_country(session, run.id, code)
    if score is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            detail=f"country '{code}' has no data in scoring run {run.id}",
        )
    return score


@router.get("/score-runs/{run_id}/countries/{iso3}", response_model=CountryScoreDetail)
def run_country_breakdown(
    session: SessionDep, config: ConfigDep, _: Reader, run_id: IdPath, iso3: Iso3Path
) -> CountryScoreDetail:
    """One country's score in one run with the full breakdown down to each indicator value."""
    run = _run(session, run_id)
    score = _score_in_run(session, run, iso3)
    return _detail(session, score, run, config, rank=repository.rank_in_run(session, score))


@router.get("/score-runs/{run_id}/countries/{iso3}/explanation", response_model=ScoreExplanation)
def run_country_explanation(
    session: SessionDep, config: ConfigDep, _: Reader, run_id: IdPath, iso3: Iso3Path
) -> ScoreExplanation:
    """Factor and indicator terms that add up to the composite, and the change since the
    country's previous run split into data changes per factor and the effect of weights."""
    run = _run(session, run_id)
    return stored_scores.explain_score(session, config, run, _score_in_run(session, run, iso3))


@router.get("/score-run-comparison", response_model=RunComparison)
def compare_runs(
    session: SessionDep,
    config: ConfigDep,
    _: Reader,
    base_run_id: IdQuery,
    other_run_id: IdQuery,
) -> RunComparison:
    """Two runs side by side: composites, levels, ranks and the change split into data and
    weights, for every country in either."""
    base, other = _run(session, base_run_id), _run(session, other_run_id)
    rows: list[RunComparisonRow] = stored_scores.compare_runs(session, config, base, other)
    return RunComparison(
        base=ScoreRunOut.model_validate(base),
        other=ScoreRunOut.model_validate(other),
        countries=rows,
    )
