"""Stored scores read back: a breakdown expanded, a score explained against the previous
one, a run re-scored under other weights, two runs compared. Nothing here writes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from earlywarn.framework.config import Configuration
from earlywarn.framework.config_schemas import LevelThresholds
from earlywarn.framework.models import WeightSet
from earlywarn.scoring import explain, history, repository
from earlywarn.scoring.engine import FACTOR_NUMBERS, EngineSpec, Weights, points_to
from earlywarn.scoring.explain import Rescored
from earlywarn.scoring.models import CountryScore, ScoreRun
from earlywarn.scoring.schemas import (
    CountryScoreOut,
    FactorSummary,
    RunComparisonRow,
    ScoreExplanation,
)
from earlywarn.scoring.service import weights_of


def stored_breakdowns(
    session: Session, config: Configuration, scores: Sequence[CountryScore]
) -> list[dict[str, Any]]:
    """The scores' breakdowns as stored, a history run's panel row expanded into the full form
    (each run's panel read once)."""
    panels: dict[int, history.Panel] = {}
    out: list[dict[str, Any]] = []
    for score in scores:
        stored = score.factors
        if stored.get("format") != history.PANEL_FORMAT:
            out.append(stored)
            continue
        run_id = score.score_run_id
        if run_id not in panels:
            data = repository.run_panel(session, run_id)
            if data is None:
                raise LookupError(f"score run {run_id} has no stored panel")
            panels[run_id] = history.unpack(data)
        run = session.get_one(ScoreRun, run_id)
        out.append(history.breakdown(config, run.as_of, panels[run_id], int(stored["row"])))
    return out


def stored_breakdown(
    session: Session, config: Configuration, score: CountryScore
) -> dict[str, Any]:
    return stored_breakdowns(session, config, [score])[0]


def explain_score(
    session: Session, config: Configuration, run: ScoreRun, score: CountryScore
) -> ScoreExplanation:
    """The score's terms under the weight set it was made with, and what changed since the
    country's previous run (data per factor, and weights)."""
    spec = EngineSpec.from_config(config)
    weight_set = session.get_one(WeightSet, score.weight_set_id)
    weights = weights_of(spec, weight_set)
    breakdown = stored_breakdown(session, config, score)
    rescored = explain.rescore(spec, [score.country_iso3], [breakdown], weights)
    terms = explain.explanation(config, rescored, 0)
    previous = repository.previous_score(session, score.country_iso3, run.id)
    change: dict[str, Any] | None = None
    if previous is not None:
        previous_score, _ = previous
        previous_weights = weights_of(
            spec, session.get_one(WeightSet, previous_score.weight_set_id)
        )
        change = explain.change(
            config,
            spec,
            score.country_iso3,
            (stored_breakdown(session, config, previous_score), previous_weights),
            (breakdown, weights),
        )
    return ScoreExplanation(
        iso3=score.country_iso3,
        score_run_id=run.id,
        as_of=run.as_of,
        weight_set_id=weight_set.id,
        weight_set_version=weight_set.version,
        methodology_version=score.methodology_version,
        composite=terms["composite"],
        level=terms["level"],
        sum_of_factor_terms=terms["sum_of_factor_terms"],
        sum_of_indicator_terms=terms["sum_of_indicator_terms"],
        sum_of_assessment_terms=terms["sum_of_assessment_terms"],
        factors=terms["factors"],
        change_since_previous=change,
        previous_score_run_id=None if previous is None else previous[1].id,
    )


def expand_stored_breakdown(
    session: Session, config: Configuration, run: ScoreRun, score: CountryScore
) -> dict[str, Any]:
    spec = EngineSpec.from_config(config)
    weights = weights_of(spec, session.get_one(WeightSet, score.weight_set_id))
    return explain.expand_breakdown(
        config, run.as_of, weights, stored_breakdown(session, config, score)
    )


def rescore_scores(
    session: Session,
    config: Configuration,
    scores: Sequence[CountryScore],
    weight_set: WeightSet,
) -> explain.Rescored:
    spec = EngineSpec.from_config(config)
    return explain.rescore(
        spec,
        [s.country_iso3 for s in scores],
        stored_breakdowns(session, config, scores),
        weights_of(spec, weight_set),
    )


def rescore_run(
    session: Session, config: Configuration, run: ScoreRun, weight_set: WeightSet
) -> tuple[list[CountryScore], explain.Rescored]:
    """A stored run's scores re-computed under another weight set (nothing is written)."""
    scores = repository.scores_with_breakdown(session, run.id)
    spec = EngineSpec.from_config(config)
    rescored = explain.rescore(
        spec,
        [s.country_iso3 for s in scores],
        stored_breakdowns(session, config, scores),
        weights_of(spec, weight_set),
    )
    return scores, rescored


def compare_runs(
    session: Session, config: Configuration, base: ScoreRun, other: ScoreRun
) -> list[RunComparisonRow]:
    """Every country of either run: composites, levels and ranks in both, and the change split
    into data (both under the base run's weights) and weights."""
    spec = EngineSpec.from_config(config)
    base_scores = {s.country_iso3: s for s in repository.scores_with_breakdown(session, base.id)}
    other_scores = {s.country_iso3: s for s in repository.scores_with_breakdown(session, other.id)}
    base_weights = weights_of(spec, session.get_one(WeightSet, base.weight_set_id))
    other_weights = weights_of(spec, session.get_one(WeightSet, other.weight_set_id))
    units = sorted(set(base_scores) | set(other_scores))
    empty: dict[str, Any] = {"factors": []}

    base_breakdowns = dict(
        zip(base_scores, stored_breakdowns(session, config, [*base_scores.values()]), strict=True)
    )
    other_list = stored_breakdowns(session, config, [*other_scores.values()])
    other_breakdowns = dict(zip(other_scores, other_list, strict=True))

    def scored(breakdowns: dict[str, dict[str, Any]], weights: Weights) -> explain.Rescored:
        return explain.rescore(spec, units, [breakdowns.get(u, empty) for u in units], weights)

    before = scored(base_breakdowns, base_weights)
    mixed = scored(other_breakdowns, base_weights)
    after = scored(other_breakdowns, other_weights)
    ranks_before, ranks_after = before.ranks(), after.ranks()
    names = repository.country_names(session, units)
    rows = []
    for u, iso3 in enumerate(units):
        old, mid, new = before.composite(u), mixed.composite(u), after.composite(u)
        complete = old is not None and mid is not None and new is not None
        rows.append(
            RunComparisonRow(
                iso3=iso3,
                name=names.get(iso3, iso3),
                composite_before=old,
                composite_after=new,
                level_before=before.level(u),
                level_after=after.level(u),
                rank_before=ranks_before.get(iso3),
                rank_after=ranks_after.get(iso3),
                change=new - old if old is not None and new is not None else None,
                data_change=mid - old if complete and mid is not None and old is not None else None,
                weights_change=new - mid
                if complete and new is not None and mid is not None
                else None,
            )
        )
    # Biggest movers first; countries rated in only one of the runs after them.
    rows.sort(key=lambda r: (r.change is None, -abs(r.change or 0.0), r.iso3))
    return rows


def rescored_out(
    score: CountryScore,
    run: ScoreRun,
    rescored: Rescored,
    u: int,
    rank: int | None,
    name: str,
    weight_set: WeightSet,
    factor_names: dict[int, str],
    levels: LevelThresholds,
) -> CountryScoreOut:
    """One unit of a re-scored run as the API's score row."""
    agg = rescored.agg
    factors = []
    for f, n in enumerate(FACTOR_NUMBERS):
        value = float(agg.factor_score[0, u, f])
        factors.append(
            FactorSummary(
                number=n,
                name=factor_names[n],
                score=None if value != value else value,
                coverage=float(agg.factor_coverage[0, u, f]),
            )
        )
    return CountryScoreOut(
        rank=rank,
        iso3=score.country_iso3,
        name=name,
        composite=rescored.composite(u),
        level=rescored.level(u),
        coverage=float(agg.coverage[0, u]),
        factors_with_data=int(agg.factors_with_data[0, u]),
        factors=factors,
        armed_conflict=score.factor_summary.get("armed_conflict"),
        # Under other weights the crimes' scores move with the factor weights.
        points_to=points_to(agg.crime_score[0, u].tolist(), levels),
        score_run_id=run.id,
        as_of=run.as_of,
        weight_set_id=weight_set.id,
        methodology_version=score.methodology_version,
    )


def history_under(
    session: Session, config: Configuration, iso3: str, name: str, weight_set: WeightSet, limit: int
) -> list[CountryScoreOut]:
    """A country's stored scores, newest first, each re-weighted under ``weight_set`` (nothing
    is written)."""
    factor_names = {f.number: f.name for f in config.framework.risk_factors}
    out = []
    for score, run in repository.country_scores_with_runs(session, iso3, limit=limit):
        rescored = rescore_scores(session, config, [score], weight_set)
        out.append(
            rescored_out(
                score, run, rescored, 0, None, name, weight_set, factor_names, config.scoring.levels
            )
        )
    return out
