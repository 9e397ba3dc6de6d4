"""Forecasting logic for the live service: panel from observations, forecasts and drivers.

No HTTP here and no commits: the scoring job that owns the session commits.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np

from earlywarn.forecasting import repository
from earlywarn.forecasting.panel import (
    EWP_OUTCOME_HORIZONS_YEARS,
    EWP_PREDICTORS,
    FloatArray,
    Panel,
    build_panel,
    raw_columns,
)
from earlywarn.forecasting.registry import ModelBundle

log = logging.getLogger(__name__)

VARIABLE_PREFIX = "ewp."
DRIVER_COUNT = 5
_YEAR = re.compile(r"^\d{4}$")


def panel_from_observations(
    session: Any,
    *,
    predictors: Sequence[str] = EWP_PREDICTORS,
    outcomes: Sequence[str] = tuple(EWP_OUTCOME_HORIZONS_YEARS),
    prefix: str = VARIABLE_PREFIX,
) -> Panel:
    """The country-year panel from stored observations (newest vintage of each value).

    Only yearly periods count; countries are keyed by ISO3. Derived predictors
    (``<column>:change_<k>y``) are computed from the stored ``<column>`` by ``build_panel``,
    exactly as for a CSV.
    """
    raw = raw_columns(predictors)
    names = [prefix + v for v in (*raw, *outcomes)]
    values = repository.country_year_values(session, names)
    cells: dict[tuple[str, int], dict[str, float]] = {}
    for (iso3, variable, period), value in values.items():
        if _YEAR.match(period):
            cells.setdefault((iso3, int(period)), {})[variable.removeprefix(prefix)] = value
    if "year" in raw:
        # The EWP import keeps ``year`` as the period, not as a variable; EWP uses it as a trend.
        for (_, year), row in cells.items():
            row["year"] = float(year)
    return build_panel(cells, predictors=predictors, outcome_columns=outcomes)


def drivers(
    bundle: ModelBundle, features: FloatArray, *, horizon: int = 2, count: int = DRIVER_COUNT
) -> list[list[dict[str, Any]]]:
    """For each row: the ``count`` predictors whose move to the cross-country typical value
    (the median over the rows given, i.e. one year's countries) changes the forecast most.

    ``effect`` is the forecast minus the forecast with that predictor typical, so a positive
    effect means the country's actual value raises its risk (EWP publishes the same view).
    """
    model = bundle.estimators[horizon]
    n, p = features.shape
    typical = np.median(features, axis=0)
    base = model.predict_proba(features)[:, 1]
    moved = np.repeat(features[:, None, :], p, axis=1)  # (row, predictor moved, feature)
    moved[:, np.arange(p), np.arange(p)] = typical
    shifted = model.predict_proba(moved.reshape(n * p, p))[:, 1].reshape(n, p)
    effects = base[:, None] - shifted
    result = []
    for row in range(n):
        order = np.argsort(-np.abs(effects[row]), kind="stable")[:count]
        result.append(
            [
                {
                    "variable": bundle.feature_names[j],
                    "value": float(features[row, j]),
                    "typical_value": float(typical[j]),
                    "effect": round(float(effects[row, j]), 6),
                    "direction": "raises" if effects[row, j] > 0 else "lowers",
                }
                for j in order
                if effects[row, j] != 0
            ]
        )
    return result


def _spread(model: Any, features: FloatArray) -> FloatArray:
    spread = getattr(model, "spread_members", None)
    return np.asarray(spread(features)) if spread is not None else np.empty((len(features), 0))


def two_year_intervals(model: Any, features: FloatArray) -> list[dict[str, Any]]:
    """Per row, the interval of the two-year probability and rank over the model's spread
    members (the nested procedure's); None fields for a model without members."""
    members = _spread(model, features)
    if members.shape[1] < 2:
        empty = dict.fromkeys(
            ("probability_2y_low", "probability_2y_high", "rank_2y_best", "rank_2y_worst")
        )
        return [dict(empty) for _ in range(len(features))]
    ranks = np.empty_like(members, dtype=np.int64)
    for k in range(members.shape[1]):
        ranks[np.argsort(-members[:, k], kind="stable"), k] = np.arange(1, len(members) + 1)
    return [
        {
            "probability_2y_low": float(members[i].min()),
            "probability_2y_high": float(members[i].max()),
            "rank_2y_best": int(ranks[i].min()),
            "rank_2y_worst": int(ranks[i].max()),
        }
        for i in range(len(members))
    ]


def one_year_intervals(model: Any, features: FloatArray) -> list[dict[str, Any]]:
    """Per row, the interval of the one-year probability over the one-year model's spread
    members, as the backtest reports it; None fields for a model without members."""
    members = _spread(model, features)
    if members.shape[1] < 2:
        return [dict.fromkeys(("probability_1y_low", "probability_1y_high"))] * len(features)
    return [
        {
            "probability_1y_low": float(members[i].min()),
            "probability_1y_high": float(members[i].max()),
        }
        for i in range(len(members))
    ]


@dataclass(frozen=True)
class ForecastOutcome:
    stored: int
    data_year: int | None
    model_version: str
    skipped_reason: str | None = None


def forecast_latest_year(
    bundle: ModelBundle, panel: Panel, *, as_of: date
) -> tuple[int, list[dict[str, Any]]] | None:
    """Forecast every complete country-year of the newest year up to ``as_of``'s year.

    Returns the year and one row per country, or None when no year has a complete row.
    """
    if tuple(panel.feature_names) != tuple(bundle.feature_names):
        raise ValueError(f"model {bundle.version} was trained on different predictors")
    known = panel.as_of(as_of.year)
    complete = known.complete()
    if not complete.any():
        return None
    year = int(known.years[complete].max())
    rows = complete & (known.years == year)
    features = known.features[rows]
    probabilities = bundle.predict(features)
    p1, p2 = probabilities[1], probabilities[2]
    ranks = np.empty(len(p2), dtype=np.int64)
    ranks[np.argsort(-p2, kind="stable")] = np.arange(1, len(p2) + 1)
    intervals = two_year_intervals(bundle.estimators[2], features)
    intervals_1y = one_year_intervals(bundle.estimators[1], features)
    explanation = drivers(bundle, features)
    out = [
        {
            "country_iso3": str(country),
            "probability_1y": float(p1[i]),
            "probability_2y": float(p2[i]),
            "rank_2y": int(ranks[i]),
            "drivers": explanation[i],
            **intervals[i],
            **intervals_1y[i],
        }
        for i, country in enumerate(known.countries[rows])
    ]
    return year, out


def store_forecasts(
    session: Any, score_run_id: int, bundle: ModelBundle | None, *, as_of: date
) -> ForecastOutcome:
    """Forecast with the promoted model and store the rows beside the scoring run."""
    if bundle is None:
        reason = "no forecasting model is promoted (earlywarn train, then earlywarn promote)"
        return ForecastOutcome(stored=0, data_year=None, model_version="", skipped_reason=reason)
    panel = panel_from_observations(session, predictors=bundle.feature_names)
    made = forecast_latest_year(bundle, panel, as_of=as_of) if len(panel) else None
    if made is None:
        reason = f"no country-year up to {as_of.year} has every predictor the model needs"
        return ForecastOutcome(
            stored=0, data_year=None, model_version=bundle.version, skipped_reason=reason
        )
    year, rows = made
    repository.insert_forecasts(
        session,
        [
            {
                **row,
                "score_run_id": score_run_id,
                "model_version": bundle.version,
                "data_year": year,
            }
            for row in rows
        ],
    )
    return ForecastOutcome(stored=len(rows), data_year=year, model_version=bundle.version)
