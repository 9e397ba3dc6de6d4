"""Levels that respect evidence: below ``min_coverage_for_level`` (config/scoring.yaml) a
country's level stops at ``concern`` and its score is flagged ``insufficient_data`` with the
reason. A composite made of one or two factors' worth of data can be high by chance; it is
still shown, but it cannot read ``warning`` or ``emergency``, so it cannot raise an alert.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from earlywarn.framework.config_schemas import LevelThresholds
from earlywarn.types import RiskLevel

# Index of 'concern' in engine.LEVELS (low, concern, warning, emergency).
CONCERN_CODE = 1
MAX_LEVEL_WITHOUT_EVIDENCE = RiskLevel.CONCERN


def cap_level_codes(
    codes: NDArray[np.int8], coverage: NDArray[np.float64], min_coverage: float
) -> NDArray[np.int8]:
    """Level codes (``engine.level_codes``) with every rated cell below ``min_coverage``
    held at 'concern' at most."""
    thin = (coverage < min_coverage) & (codes > CONCERN_CODE)
    return np.where(thin, np.int8(CONCERN_CODE), codes).astype(np.int8)


def _ladder(composite: float, thresholds: LevelThresholds) -> RiskLevel:
    if composite >= thresholds.emergency:
        return RiskLevel.EMERGENCY
    if composite >= thresholds.warning:
        return RiskLevel.WARNING
    if composite >= thresholds.concern:
        return RiskLevel.CONCERN
    return RiskLevel.LOW


def insufficient_data_reason(
    composite: float | None,
    coverage: float,
    min_coverage: float,
    thresholds: LevelThresholds,
) -> str | None:
    """Why a rated country's evidence is too thin for a level above 'concern'; None when it
    is not (or when the country is not rated at all)."""
    if composite is None or coverage >= min_coverage:
        return None
    reason = (
        f"data coverage {coverage:.0%} is below the {min_coverage:.0%} needed for a level "
        f"above '{MAX_LEVEL_WITHOUT_EVIDENCE.value}'"
    )
    ladder = _ladder(composite, thresholds)
    if ladder > MAX_LEVEL_WITHOUT_EVIDENCE:
        reason += (
            f"; the composite {composite:.2f} would read '{ladder.value}' on the ladder, "
            f"so the level is held at '{MAX_LEVEL_WITHOUT_EVIDENCE.value}'"
        )
    return reason
