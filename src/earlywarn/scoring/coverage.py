"""Coverage report: per risk factor and source, how many countries have fresh evidence in the
latest scoring run, and which sources to enable or load to raise it.

Read from the stored breakdowns of the latest successful score run (what the published scores
actually rest on, not what the database might hold), and from the sources' health (which
sources have no data, and why: disabled, not configured, never run, failing). Pure reading; no
writes.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from earlywarn.framework.config import Configuration
from earlywarn.framework.sources_schemas import SourcesConfig
from earlywarn.ingest.health import SourceHealth, source_health
from earlywarn.scoring import repository, stored_scores
from earlywarn.settings import Settings

# Variable prefix -> source id where they differ (every other prefix is its own source id).
PREFIX_SOURCES = {"wb": "worldbank"}
# States in which a source contributes nothing new: enabling, configuring or fixing it helps.
NOT_DELIVERING = frozenset({"disabled", "not_configured", "never_run", "failing"})
FILE_FORMATS = frozenset({"vdem", "pts", "epr", "ewp", "coups"})
# Approved analyst assessments that counted in a factor (weight above 0) are evidence too;
# they are listed under this name beside the sources.
ASSESSMENTS = "analyst_assessments"


def source_of(variable: str) -> str:
    prefix = variable.split(".", 1)[0]
    return PREFIX_SOURCES.get(prefix, prefix)


@dataclass
class SourceAdvice:
    source: str
    state: str
    reason: str
    action: str
    indicators: list[str] = field(default_factory=list)


@dataclass
class FactorCoverage:
    number: int
    name: str
    countries_with_evidence: int
    countries_applicable: int
    by_source: dict[str, int]
    to_raise: list[SourceAdvice]


@dataclass
class CoverageReport:
    score_run_id: int
    as_of: date
    countries_scored: int
    factors: list[FactorCoverage]


class NoScoreRunError(LookupError):
    """No successful score run to report on."""


def _action(source: str, state: str) -> str:
    if state == "not_configured":
        return f"set the credentials of {source} (see /sources)"
    if state == "failing":
        return f"fix {source}: its last run failed (see /sources)"
    if source in FILE_FORMATS:
        return f"load a {source} file: earlywarn import FILE, or a files: entry in sources.yaml"
    if state == "disabled":
        return f"enable {source} in sources.yaml"
    return f"run earlywarn ingest {source}"


def _advice(
    config: Configuration, health: dict[str, SourceHealth], used: set[str]
) -> dict[int, list[SourceAdvice]]:
    """Per factor, the sources its indicators read (preferred or fallback variables) that
    deliver nothing: no evidence in the run (``used``) and no data, or a last run that failed,
    or disabled, or unconfigured.
    Each comes with the action to take and the indicators it would feed; the EWP file last,
    since it is a yearly fallback, not a scheduled source."""
    by_factor: dict[int, dict[str, SourceAdvice]] = defaultdict(dict)
    for ind in config.indicators.indicators:
        for variable in ind.variables:
            source = source_of(variable)
            entry = health.get(source)
            if entry is None:
                state, reason = "disabled", "no entry in sources.yaml and no data"
            else:
                state, reason = entry.state.value, entry.reason
            delivering = entry is not None and entry.observations > 0
            if (delivering or source in used) and state not in NOT_DELIVERING - {"never_run"}:
                continue
            advice = by_factor[ind.risk_factor].setdefault(
                source, SourceAdvice(source, state, reason, _action(source, state))
            )
            if ind.id not in advice.indicators:
                advice.indicators.append(ind.id)
    return {
        number: sorted(
            items.values(), key=lambda a: (a.source == "ewp", -len(a.indicators), a.source)
        )
        for number, items in by_factor.items()
    }


def coverage_report(
    session: Session,
    config: Configuration,
    sources: SourcesConfig,
    now: datetime,
    *,
    settings: Settings | None = None,
) -> CoverageReport:
    run = repository.latest_successful_run(session)
    if run is None:
        raise NoScoreRunError("no successful score run yet: run earlywarn run-once")
    scores = repository.scores_with_breakdown(session, run.id)
    breakdowns = stored_scores.stored_breakdowns(session, config, scores)
    evidence: Counter[int] = Counter()
    applicable: Counter[int] = Counter()
    by_source: dict[int, Counter[str]] = defaultdict(Counter)
    all_used: set[str] = set()
    for breakdown in breakdowns:
        for factor in breakdown["factors"]:
            number = int(factor["number"])
            if factor.get("applicable", True):
                applicable[number] += 1
            used = {
                source_of(str(entry["variable"]))
                for entry in factor["indicators"]
                if entry.get("contribution") is not None and entry.get("variable")
            }
            all_used |= used
            if factor.get("assessment_weight", 0) > 0:
                used = used | {ASSESSMENTS}
            if used:
                evidence[number] += 1
            by_source[number].update(used)
    health = {h.source_id: h for h in source_health(session, sources, now, settings=settings)}
    advice = _advice(config, health, all_used)
    factors = [
        FactorCoverage(
            number=f.number,
            name=f.name,
            countries_with_evidence=evidence[f.number],
            countries_applicable=applicable[f.number],
            by_source=dict(by_source[f.number].most_common()),
            to_raise=advice.get(f.number, []),
        )
        for f in sorted(config.framework.risk_factors, key=lambda f: f.number)
    ]
    return CoverageReport(
        score_run_id=run.id, as_of=run.as_of, countries_scored=len(scores), factors=factors
    )


def as_dict(report: CoverageReport) -> dict[str, Any]:
    return {
        "score_run_id": report.score_run_id,
        "as_of": report.as_of.isoformat(),
        "countries_scored": report.countries_scored,
        "factors": [
            {
                "number": f.number,
                "name": f.name,
                "countries_with_evidence": f.countries_with_evidence,
                "countries_applicable": f.countries_applicable,
                "by_source": f.by_source,
                "to_raise": [a.__dict__ for a in f.to_raise],
            }
            for f in report.factors
        ],
    }
