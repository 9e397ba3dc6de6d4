"""Validated shapes of the framework's files in ``config/`` (framework, indicators, actions,
action_map, scoring, alerting). Loading and error reporting: ``config.py``; the API's views of
them: ``schemas.py``."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from earlywarn.framework.cap_schema import CapConfig
from earlywarn.framework.early_action_schema import EarlyActionConfig
from earlywarn.framework.priority_schema import PriorityConfig
from earlywarn.types import RiskLevel, Sphere

ActionCode = Annotated[str, Field(pattern=r"^[1-4]\.\d{1,2}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- framework.yaml -------------------------------------------------------------------------


class RiskFactorConfig(_Strict):
    number: int = Field(ge=1, le=14)
    name: str
    kind: Literal["common", "specific"]
    crime: Literal["genocide", "crimes_against_humanity", "war_crimes"] | None = None
    description: str

    @model_validator(mode="after")
    def _crime_only_for_specific(self) -> RiskFactorConfig:
        if self.kind == "specific" and self.crime is None:
            raise ValueError("a specific risk factor must name its crime")
        if self.kind == "common" and self.crime is not None:
            raise ValueError("a common risk factor applies to all crimes; remove 'crime'")
        return self


class FrameworkConfig(_Strict):
    risk_factors: list[RiskFactorConfig]

    @field_validator("risk_factors")
    @classmethod
    def _all_fourteen(cls, factors: list[RiskFactorConfig]) -> list[RiskFactorConfig]:
        numbers = sorted(f.number for f in factors)
        if numbers != list(range(1, 15)):
            raise ValueError(f"expected risk factors 1..14 exactly once each, got {numbers}")
        return factors


# --- indicators.yaml ------------------------------------------------------------------------


class Direction(StrEnum):
    INCREASES_RISK = "increases_risk"
    DECREASES_RISK = "decreases_risk"


class Transform(StrEnum):
    IDENTITY = "identity"
    LOG = "log"  # natural log, for strictly positive quantities (rates, money)
    LOG1P = "log1p"  # natural log of (1 + x), for counts
    SQRT = "sqrt"
    LOG2 = "log2"  # base-2 log (x > 0): EWP's popsize.log2 from a population
    LOG2P = "log2p"  # log2(1 + x): EWP's battledeaths.log2 from a count of deaths


class BoundsNormalisation(_Strict):
    """Linear map of the transformed value from [lower, upper] onto [0, 1], clipped."""

    method: Literal["bounds"]
    lower: float
    upper: float

    @model_validator(mode="after")
    def _ordered(self) -> BoundsNormalisation:
        if not self.upper > self.lower:
            raise ValueError(f"upper ({self.upper}) must be greater than lower ({self.lower})")
        return self


class PercentileNormalisation(_Strict):
    """Share of a reference distribution below the value (ties count half).

    Without a reference period the reference is the countries of the same scoring run (so a
    country's rank among its peers that year); with ``reference_start_year`` and
    ``reference_end_year`` it is every country's values in those years, so a score does not move
    just because other countries' data moved.
    """

    method: Literal["percentile"]
    reference_start_year: int | None = Field(default=None, ge=1800, le=2200)
    reference_end_year: int | None = Field(default=None, ge=1800, le=2200)

    @model_validator(mode="after")
    def _both_or_neither(self) -> PercentileNormalisation:
        start, end = self.reference_start_year, self.reference_end_year
        if (start is None) != (end is None):
            raise ValueError("give both reference_start_year and reference_end_year, or neither")
        if start is not None and end is not None and end < start:
            raise ValueError(f"reference_end_year ({end}) is before reference_start_year ({start})")
        return self

    @property
    def has_reference_period(self) -> bool:
        return self.reference_start_year is not None


Normalisation = Annotated[
    BoundsNormalisation | PercentileNormalisation, Field(discriminator="method")
]


class PerCapita(_Strict):
    """Turn a count into a rate: ``value / population * per`` (population carried forward
    like any value, up to the indicator's ``max_age_days``)."""

    population_variable: str = Field(min_length=1)
    per: float = Field(gt=0, default=100_000)


class Winsorise(_Strict):
    """Clip the transformed values at these quantiles of the same cross-section, so that one
    extreme country does not flatten everyone else's percentile or bounds position."""

    lower_quantile: float = Field(ge=0, lt=0.5)
    upper_quantile: float = Field(gt=0.5, le=1)


class FallbackVariable(_Strict):
    """Another source of the same concept, used when the preferred variable has no fresh value.

    Its own ``transform`` (and ``per_capita``) must bring it onto the same scale as the
    preferred variable after the indicator's transform, e.g. the EWP's square root of infant
    mortality (identity) for the World Bank rate under ``sqrt``.
    """

    variable: str = Field(min_length=1)
    one_of: list[float] | None = Field(default=None, min_length=1)
    at_least: float | None = None
    transform: Transform = Transform.IDENTITY
    per_capita: PerCapita | None = None


class IndicatorConfig(_Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str
    risk_factor: int = Field(ge=1, le=14)
    variable: str = Field(min_length=1, description="Observation variable, e.g. ewp.discrimpop")
    source: str
    framework_indicators: list[str] = Field(default_factory=list)
    per_capita: PerCapita | None = None
    # EWP's binary codings of V-Dem's ordinal items ("v2clkill_ord == 0"): 1 when the value
    # is one of these, else 0, before per_capita and transform.
    one_of: list[float] | None = Field(default=None, min_length=1)
    # A threshold coding ("1,000 or more deaths": EWP's mass-killing line): 1 when the value is
    # at least this, else 0, applied like one_of (after it when both are given).
    at_least: float | None = None
    transform: Transform = Transform.IDENTITY
    fallbacks: list[FallbackVariable] = Field(default_factory=list)
    winsorise: Winsorise | None = None
    direction: Direction
    normalisation: Normalisation
    weight: float = Field(gt=0, le=10)
    max_age_days: int = Field(gt=0)
    description: str = ""

    @property
    def variables(self) -> list[str]:
        """The preferred variable, then the fallbacks in order."""
        return [self.variable, *(f.variable for f in self.fallbacks)]


class IndicatorsConfig(_Strict):
    indicators: list[IndicatorConfig]

    @field_validator("indicators")
    @classmethod
    def _unique_ids(cls, indicators: list[IndicatorConfig]) -> list[IndicatorConfig]:
        seen: set[str] = set()
        for ind in indicators:
            if ind.id in seen:
                raise ValueError(f"indicator id {ind.id!r} is used twice")
            seen.add(ind.id)
        return indicators


# --- actions.yaml ---------------------------------------------------------------------------


class ActionGroupConfig(_Strict):
    title: str
    for_imminent_risk: bool
    actions: list[str] = Field(min_length=1)


class ActionHeadingConfig(_Strict):
    code: ActionCode
    sphere: Sphere
    title: str
    groups: list[ActionGroupConfig] = Field(min_length=1)


class ActionsConfig(_Strict):
    source: str
    headings: list[ActionHeadingConfig]

    @field_validator("headings")
    @classmethod
    def _unique_codes(cls, headings: list[ActionHeadingConfig]) -> list[ActionHeadingConfig]:
        codes = [h.code for h in headings]
        duplicates = sorted({c for c in codes if codes.count(c) > 1})
        if duplicates:
            raise ValueError(f"action codes used twice: {duplicates}")
        return headings


# --- action_map.yaml ------------------------------------------------------------------------


class ActionMapConfig(_Strict):
    by_factor: dict[int, list[ActionCode]]
    by_level: dict[RiskLevel, list[ActionCode]] = Field(default_factory=dict)
    imminent_rows_from_level: RiskLevel = RiskLevel.EMERGENCY
    priority: PriorityConfig = Field(default_factory=PriorityConfig)

    @model_validator(mode="after")
    def _strong_is_mapped(self) -> ActionMapConfig:
        # A strong mapping refines by_factor; it cannot add a heading by_factor does not map.
        problems = [
            f"priority.strong[{factor}]: {code} is not in by_factor[{factor}]"
            for factor, codes in self.priority.strong.items()
            for code in codes
            if code not in self.by_factor.get(factor, [])
        ]
        if problems:
            raise ValueError("; ".join(problems))
        return self


# --- scoring.yaml ---------------------------------------------------------------------------


class LevelThresholds(_Strict):
    """Lower bound of the composite (0..1) for each rung of the ladder above 'low'."""

    concern: float = Field(gt=0, lt=1)
    warning: float = Field(gt=0, lt=1)
    emergency: float = Field(gt=0, lt=1)

    @model_validator(mode="after")
    def _increasing(self) -> LevelThresholds:
        if not self.concern < self.warning < self.emergency:
            raise ValueError("thresholds must increase: concern < warning < emergency")
        return self


class ConflictCriterion(_Strict):
    variable: str = Field(min_length=1)
    min_value: float


class ArmedConflictConfig(_Strict):
    """When a country counts as being in armed conflict, for the factors that apply only then.

    A country is in armed conflict when any criterion's variable has a value at least
    ``min_value`` no older than ``max_age_days``; it is not when at least one criterion has a
    fresh value and none reaches its minimum; otherwise its status is unknown. The factors in
    ``factors`` count only in armed conflict: outside it (or when the status is unknown) they
    are 'not applicable', which is neither zero risk nor missing data.
    """

    factors: list[int] = Field(default_factory=lambda: [13, 14])
    criteria: list[ConflictCriterion] = Field(min_length=1)
    max_age_days: int = Field(gt=0)

    @field_validator("factors")
    @classmethod
    def _known(cls, factors: list[int]) -> list[int]:
        unknown = sorted(n for n in factors if not 1 <= n <= 14)
        if unknown:
            raise ValueError(f"unknown risk factor numbers {unknown}")
        return factors


class ScoringConfig(_Strict):
    methodology_version: str
    factor_weights: dict[int, float]
    min_factors_with_data: int = Field(ge=1, le=14)
    # Below this data coverage a country's level stops at 'concern' (scoring.evidence).
    min_coverage_for_level: float = Field(default=0.30, ge=0, le=1)
    levels: LevelThresholds
    armed_conflict: ArmedConflictConfig | None = None

    @field_validator("factor_weights")
    @classmethod
    def _known_factors(cls, weights: dict[int, float]) -> dict[int, float]:
        unknown = sorted(n for n in weights if not 1 <= n <= 14)
        if unknown:
            raise ValueError(f"unknown risk factor numbers {unknown}")
        negative = sorted(n for n, w in weights.items() if w < 0)
        if negative:
            raise ValueError(f"factor weights must be >= 0 (factors {negative})")
        return weights


# --- alerting.yaml --------------------------------------------------------------------------


class _RuleBase(_Strict):
    """What every rule shares: its id, and the three guards against flapping.

    * ``for_runs``: the enter condition must hold in this many consecutive runs before the
      alert opens (Prometheus ``for:``);
    * ``exit_for_runs``: the exit condition must hold this many consecutive runs before the
      alert resolves by itself (Prometheus ``keep_firing_for:``);
    * ``cooldown_days``: when the condition enters again within this many days of the alert
      resolving, the same alert is reopened rather than a new one raised.

    Each rule also has separate enter and exit thresholds (hysteresis), named per kind.
    """

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    description: str | None = None
    for_runs: int = Field(default=1, ge=1, le=52)
    exit_for_runs: int = Field(default=1, ge=1, le=52)
    cooldown_days: int = Field(default=0, ge=0, le=3650)


class LevelAtLeastRule(_RuleBase):
    """Opens when the country's level reaches ``enter_level``; resolves when it falls below
    ``exit_level`` (at most ``enter_level``; one rung lower gives hysteresis)."""

    kind: Literal["level_at_least"]
    enter_level: RiskLevel
    exit_level: RiskLevel

    @model_validator(mode="after")
    def _exit_not_above_enter(self) -> LevelAtLeastRule:
        if self.exit_level > self.enter_level:
            raise ValueError("exit_level must not be above enter_level")
        return self


class LevelRiseRule(_RuleBase):
    """Opens when the country rose, against the lowest of its previous ``window_runs`` runs,
    by at least ``enter_levels`` rungs or ``enter_points`` composite points (and is at least
    ``min_level``); resolves once the rise over that baseline is below ``exit_levels`` rungs
    and below ``exit_points`` points."""

    kind: Literal["level_rise"]
    window_runs: int = Field(default=1, ge=1, le=104)
    min_level: RiskLevel = RiskLevel.LOW
    enter_levels: int | None = Field(default=1, ge=1, le=3)
    enter_points: float | None = Field(default=None, gt=0, le=1)
    exit_levels: int = Field(default=1, ge=1, le=3)
    exit_points: float = Field(default=1.0, gt=0, le=1)

    @model_validator(mode="after")
    def _consistent(self) -> LevelRiseRule:
        if self.enter_levels is None and self.enter_points is None:
            raise ValueError("give enter_levels, enter_points or both")
        if self.enter_levels is not None and self.exit_levels > self.enter_levels:
            raise ValueError("exit_levels must not exceed enter_levels")
        if self.enter_points is not None and self.exit_points > self.enter_points:
            raise ValueError("exit_points must not exceed enter_points")
        return self


class _ThresholdRule(_RuleBase):
    enter: float = Field(ge=0, le=1)
    exit: float = Field(ge=0, le=1)
    # The alert's level when the country has no rating; otherwise its current level is used.
    level: RiskLevel = RiskLevel.WARNING

    @model_validator(mode="after")
    def _exit_below_enter(self) -> _ThresholdRule:
        if self.exit > self.enter:
            raise ValueError("exit must not be above enter")
        return self


class OnsetProbabilityRule(_ThresholdRule):
    """Opens when the forecast probability of an onset within ``horizon_years`` reaches
    ``enter``; resolves when it falls below ``exit``. Countries without a forecast are left
    as they are."""

    kind: Literal["onset_probability"]
    horizon_years: Literal[1, 2]


class RiskFactorRule(_ThresholdRule):
    """Opens when one risk factor's score reaches ``enter``; resolves below ``exit``. Its
    alerts recommend the imminent-risk actions (``imminent_actions``) whatever the level."""

    kind: Literal["risk_factor"]
    factor: int = Field(ge=1, le=14)
    imminent_actions: bool = True


SourceState = Literal[
    "healthy", "stale", "failing", "never_run", "not_configured", "disabled", "imported"
]


class SourceHealthRule(_RuleBase):
    """Operational: opens while a data source is in one of ``states``; resolves when it is
    healthy again. Its alerts go to administrators, not to subscribers."""

    kind: Literal["source_health"]
    states: list[SourceState] = Field(default=["stale", "failing"], min_length=1)
    level: RiskLevel = RiskLevel.WARNING


AlertRule = Annotated[
    LevelAtLeastRule | LevelRiseRule | OnsetProbabilityRule | RiskFactorRule | SourceHealthRule,
    Field(discriminator="kind"),
]
RULE_KINDS = ("level_at_least", "level_rise", "onset_probability", "risk_factor", "source_health")


class EscalationTier(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    after_minutes: int = Field(ge=1)


class EscalationConfig(_Strict):
    """Unacknowledged alerts notify the next tier after its ``after_minutes`` (counted from
    opening), then remind everyone notified every ``reminder_interval_minutes``."""

    tiers: list[EscalationTier] = Field(default_factory=list)
    reminder_interval_minutes: int = Field(default=1440, ge=1)
    max_reminders: int = Field(default=3, ge=0, le=100)
    # Acknowledged with no recorded action this many days later: escalates again
    # (alerting.no_action); None switches it off.
    escalate_without_action_days: float | None = Field(default=7, gt=0, le=365)

    @model_validator(mode="after")
    def _increasing(self) -> EscalationConfig:
        delays = [t.after_minutes for t in self.tiers]
        if delays != sorted(delays) or len(set(delays)) != len(delays):
            raise ValueError("tiers: after_minutes must increase from one tier to the next")
        return self


class DeliveryConfig(_Strict):
    """How the delivery worker retries (exponential backoff with full jitter)."""

    max_attempts: int = Field(default=8, ge=1, le=100)
    backoff_initial_seconds: float = Field(default=30.0, gt=0)
    backoff_max_seconds: float = Field(default=3600.0, gt=0)
    request_timeout_seconds: float = Field(default=10.0, gt=0)
    disable_endpoint_after_failures: int = Field(default=5, ge=1)
    lease_seconds: float = Field(default=120.0, gt=0)
    batch_size: int = Field(default=50, ge=1, le=1000)
    # Sends of one batch run in this many threads; 1 sends one after the other.
    concurrency: int = Field(default=8, ge=1, le=64)
    poll_interval_seconds: float = Field(default=15.0, gt=0)
    # A rotated-out webhook secret keeps signing alongside the new one for this long.
    secret_rotation_overlap_hours: float = Field(default=24.0, ge=0)

    @model_validator(mode="after")
    def _disable_before_giving_up(self) -> DeliveryConfig:
        # An endpoint that is down must be disabled (its messages held) before any message
        # runs out of attempts, or an outage would lose messages.
        if self.disable_endpoint_after_failures > self.max_attempts:
            raise ValueError("disable_endpoint_after_failures must not exceed max_attempts")
        return self


class AlertingConfig(_Strict):
    rules: list[AlertRule] = Field(min_length=1)
    triggering_factor_min_score: float = Field(ge=0, le=1)
    max_triggering_factors: int = Field(ge=1, le=14)
    escalation: EscalationConfig = Field(default_factory=EscalationConfig)
    delivery: DeliveryConfig = Field(default_factory=DeliveryConfig)
    early_action: EarlyActionConfig = Field(default_factory=EarlyActionConfig)
    cap: CapConfig = Field(default_factory=CapConfig)
