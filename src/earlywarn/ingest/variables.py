"""Which observation variables the connectors and file formats can write, and a check that every
variable the scoring configuration reads is one of them.

A variable read by an indicator or by an armed-conflict criterion but written by no source is
silently missing for every country: the configuration looks complete and the evidence never
arrives (``ucdp.battle_deaths`` was read for a year while the UCDP connector writes
``ucdp.battle_related_deaths``). The check runs in the test suite over the shipped
configuration and can be called on any other.

Sources whose variables are open-ended are matched by rule, not by list: the World Bank
connector fetches whatever ``wb.*`` indicator is configured, the EWP format keeps every column,
and a long CSV (``csv``) may carry any name, so a prefix no connector owns is accepted only for
an indicator that declares ``source: csv``.
"""

from __future__ import annotations

from collections.abc import Iterable

from earlywarn.framework.config_schemas import IndicatorConfig, IndicatorsConfig, ScoringConfig
from earlywarn.framework.sources_schemas import SourcesConfig
from earlywarn.ingest import (
    acled_tally,
    coups,
    epr,
    pts,
    reliefweb,
    sdg,
    ucdp,
    unhcr,
    untc,
    vdem,
)

# Prefixes whose connector or format writes any well-formed name under them.
OPEN_PREFIXES = frozenset({"wb", "ewp"})
# What the GDELT connector writes for each configured query (see its module docstring).
GDELT_SUFFIXES = ("articles", "per_million")


def fixed_variables(sources: SourcesConfig | None = None) -> dict[str, frozenset[str]]:
    """Prefix -> every variable that source writes, for the sources with a closed list."""
    vdem_columns = set(vdem.DEFAULT_VARIABLES) | set(vdem.OPTIONAL_VARIABLES)
    for entry in sources.files.values() if sources is not None else ():
        if entry.format == "vdem" and entry.variables:
            vdem_columns.update(entry.variables)
    known: dict[str, frozenset[str]] = {
        "ucdp": frozenset(ucdp.VARIABLES),
        "acled": frozenset(acled_tally.variable_names() + acled_tally.variable_names("monthly_")),
        "unhcr": frozenset(unhcr.VARIABLES.values()),
        "reliefweb": frozenset(reliefweb.VARIABLES.values()),
        "epr": frozenset(epr.VARIABLES),
        "coups": frozenset(coups.VARIABLES),
        "pts": frozenset({pts.MAX_VARIABLE, *(pts.VARIABLE_PREFIX + c for c in pts.SCORE_COLUMNS)}),
        "vdem": frozenset(vdem.VARIABLE_PREFIX + c for c in vdem_columns),
        "sdg": frozenset(sdg.VARIABLES),
        "untc": frozenset(untc.VARIABLES),
    }
    if sources is not None and sources.gdelt is not None:
        known["gdelt"] = frozenset(
            f"gdelt.{name}_{suffix}" for name in sources.gdelt.queries for suffix in GDELT_SUFFIXES
        )
    return known


def _problem(variable: str, known: dict[str, frozenset[str]], source: str | None) -> str | None:
    prefix = variable.split(".", 1)[0]
    if prefix in OPEN_PREFIXES:
        return None
    if prefix in known:
        if variable in known[prefix]:
            return None
        close = sorted(known[prefix])
        return f"{variable}: no {prefix} connector writes it (it writes {', '.join(close)})"
    if prefix == "gdelt":
        return None  # without a gdelt entry any query name may be configured later
    if source == "csv":
        return None
    return f"{variable}: no connector or file format writes {prefix}.* (only a long CSV could)"


def unproducible_variables(
    indicators: IndicatorsConfig,
    scoring: ScoringConfig,
    sources: SourcesConfig | None = None,
) -> list[str]:
    """One line per variable read by scoring that no source can write; empty when all can."""
    known = fixed_variables(sources)
    reads: list[tuple[str, str | None, str]] = []
    for ind in indicators.indicators:
        for variable in _indicator_variables(ind):
            reads.append((variable, ind.source, f"indicator {ind.id}"))
    if scoring.armed_conflict is not None:
        for criterion in scoring.armed_conflict.criteria:
            reads.append((criterion.variable, None, "armed_conflict criterion"))
    problems = []
    for variable, declared, where in reads:
        problem = _problem(variable, known, declared)
        if problem is not None:
            problems.append(f"{where}: {problem}")
    return problems


def _indicator_variables(indicator: IndicatorConfig) -> Iterable[str]:
    yield from indicator.variables
    if indicator.per_capita is not None:
        yield indicator.per_capita.population_variable
    for fallback in indicator.fallbacks:
        if fallback.per_capita is not None:
            yield fallback.per_capita.population_variable


# How often each source's values change (what a user can expect a rerun to move).
CADENCE: dict[str, str] = {
    "wb": "annual (World Bank WDI/WGI country-years, revised a few times a year)",
    "ewp": "annual (EWP file, published once a year; imported, never fetched)",
    "ucdp": "annual (GED yearly release; the months after it with a Candidate release)",
    "acled": "annual (complete years only, from ACLED's weekly updates)",
    "acled.monthly_": "monthly (complete months, from ACLED's weekly updates)",
    "vdem": "annual (V-Dem release each March, covering the previous year)",
    "pts": "annual (Political Terror Scale, about a year behind)",
    "epr": "every two years or so (EPR Core releases, lagging a few years)",
    "coups": "annual in effect (Powell & Thyne's list, updated within weeks of a coup)",
    "unhcr": "annual (end-of-year stocks, published mid-year)",
    "reliefweb": "annual (disasters of complete years; ReliefWeb updates daily)",
    "sdg": "annual (UN SDG database, 16.10.1 and 16.a.1 reported a year or two late)",
    "untc": "annual in effect (UN treaty status, updated daily; values are per year)",
    "gdelt": "monthly (complete months of GDELT's 15-minute article feed)",
}


def cadence(variable: str) -> str:
    """How often ``variable`` gets a new value, from the source (and period) that writes it."""
    for key in sorted(CADENCE, key=len, reverse=True):
        if variable.startswith(key if key.endswith("_") else f"{key}."):
            return CADENCE[key]
    return "as often as the file carrying it is imported (long CSV)"
