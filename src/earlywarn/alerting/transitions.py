"""The alert state machine of one rule and one subject over one run: pure, no database.

A rule's reading (``alerting.rules``) says whether the enter and exit conditions hold; this
turns readings into transitions: the enter condition must hold ``for_runs`` consecutive runs
before an alert opens, the exit condition ``exit_for_runs`` runs before it resolves (the two
thresholds differ: hysteresis), and a re-entry within ``cooldown_days`` of resolving reopens
the alert that resolved instead of raising a new one. While open, a country alert follows the
level.

The live evaluation (``alerting.evaluation``) and the weight preview (``weights.service``) both
decide here, so the preview shows what the next run would do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from earlywarn.alerting.rules import Reading
from earlywarn.framework.config_schemas import AlertRule
from earlywarn.types import RiskLevel


class Transition(StrEnum):
    NONE = "none"  # stays as it is: closed, or open at the same level
    OPEN = "open"
    REOPEN = "reopen"  # the alert that resolved within the cooldown fires again
    RESOLVE = "resolve"
    RELEVEL = "relevel"  # open, at another level (escalated or de-escalated)


@dataclass(frozen=True)
class Streaks:
    """Consecutive runs the enter (exit) condition has held, this run included once decided."""

    enter: int = 0
    exit: int = 0


@dataclass(frozen=True)
class Decision:
    transition: Transition
    streaks: Streaks  # to store for the next run


def decide(
    rule: AlertRule,
    reading: Reading,
    streaks: Streaks,
    *,
    open_level: RiskLevel | None,
    follows_level: bool,
    as_of: date | None,
    resolved_on: date | None,
) -> Decision:
    """What this run does to the rule's alert for one subject.

    ``open_level``: the level of the subject's open alert, None when none is open.
    ``follows_level``: an open alert moves with the reading's level (country alerts do).
    ``as_of``: the run's date; ``resolved_on``: when the subject's last alert resolved (None
    when there is none to reopen). The cooldown counts whole days between the two.
    """
    after = Streaks(
        enter=streaks.enter + 1 if reading.enter else 0,
        exit=streaks.exit + 1 if reading.exit else 0,
    )
    if open_level is not None:
        if after.exit >= rule.exit_for_runs:
            return Decision(Transition.RESOLVE, after)
        if follows_level and reading.level != open_level:
            return Decision(Transition.RELEVEL, after)
        return Decision(Transition.NONE, after)
    if after.enter < rule.for_runs:
        return Decision(Transition.NONE, after)
    if (
        resolved_on is not None
        and as_of is not None
        and rule.cooldown_days > 0
        and (as_of - resolved_on).days < rule.cooldown_days
    ):
        return Decision(Transition.REOPEN, after)
    return Decision(Transition.OPEN, after)
