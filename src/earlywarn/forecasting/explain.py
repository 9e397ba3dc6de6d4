"""Drivers in words: each stored driver (a predictor's column name) gets its label and its
Framework of Analysis risk factor from ``config/forecast_drivers.yaml``, when it is read. Read
time, not store time, so forecasts stored before a label was improved read as well as new ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from earlywarn.framework.config import Configuration


def described(drivers: Iterable[Mapping[str, Any]], config: Configuration) -> list[dict[str, Any]]:
    """The drivers with ``label``, ``risk_factor`` and ``risk_factor_name`` added; an unmapped
    predictor keeps its column name as its label (``earlywarn train`` refuses those)."""
    names = {f.number: f.name for f in config.framework.risk_factors}
    out = []
    for driver in drivers:
        variable = str(driver["variable"])
        entry = config.forecast_drivers.entry(variable)
        factor = entry[1].risk_factor if entry else None
        out.append(
            {
                **driver,
                "label": entry[0] if entry else variable,
                "risk_factor": factor,
                "risk_factor_name": names.get(factor) if factor is not None else None,
            }
        )
    return out
