"""Calibration of scored forecasts: the reliability curve, expected calibration error and the
Brier score's decomposition (Murphy 1973: Brier = reliability - resolution + uncertainty).

Bins are quantiles of the forecast (deciles by default), not equal widths: onset risks are
mostly below 0.1, so ten equal-width bins would put nearly every forecast in the first one.
The decomposition is exact when every forecast in a bin has the same value; otherwise the
part that the bins' means hide is reported as ``within_bin`` (Stephenson et al. 2008), so the
four parts add up to the Brier score.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
DEFAULT_BINS = 10


def quantile_bins(p: FloatArray, bins: int) -> list[npt.NDArray[np.int64]]:
    """Row indices of each bin: sorted by forecast, cut into ``bins`` near-equal groups, ties
    kept in one bin (so a bin never splits forecasts of the same value)."""
    order = np.argsort(p, kind="stable")
    groups: list[npt.NDArray[np.int64]] = []
    for chunk in np.array_split(order, min(bins, len(p))):
        if not len(chunk):
            continue
        if groups:
            # The chunk's leading forecasts equal to the previous bin's last go to that bin.
            tied = p[chunk] == p[groups[-1][-1]]
            groups[-1] = np.concatenate([groups[-1], chunk[tied]])
            chunk = chunk[~tied]
        if len(chunk):
            groups.append(chunk)
    return groups


def calibration(probabilities: Any, outcomes: Any, *, bins: int = DEFAULT_BINS) -> dict[str, Any]:
    p = np.asarray(probabilities, dtype=np.float64)
    o = np.asarray(outcomes, dtype=np.float64)
    if len(p) != len(o) or not len(p):
        raise ValueError("calibration needs as many outcomes as forecasts, at least one")
    n = len(p)
    base = float(o.mean())
    curve = []
    reliability = resolution = within = 0.0
    for rows in quantile_bins(p, bins):
        f, y = p[rows], o[rows]
        mean_f, rate = float(f.mean()), float(y.mean())
        share = len(rows) / n
        reliability += share * (mean_f - rate) ** 2
        resolution += share * (rate - base) ** 2
        # What replacing each forecast by its bin's mean hides: the variance of the forecasts
        # in the bin, minus twice their covariance with the outcomes.
        within += share * (float(np.var(f)) - 2 * float(np.mean((f - mean_f) * (y - rate))))
        curve.append(
            {
                "mean_forecast": round(mean_f, 5),
                "observed_rate": round(rate, 5),
                "n": len(rows),
                "onsets": int(y.sum()),
            }
        )
    brier = float(np.mean((p - o) ** 2))
    ece = sum(c["n"] / n * abs(c["mean_forecast"] - c["observed_rate"]) for c in curve)
    return {
        "bins": len(curve),
        "reliability_curve": curve,
        "expected_calibration_error": round(float(ece), 5),
        "brier": round(brier, 6),
        "brier_reliability": round(reliability, 6),
        "brier_resolution": round(resolution, 6),
        "brier_uncertainty": round(base * (1 - base), 6),
        "brier_within_bin": round(within, 6),
    }


def card_lines(figures: dict[str, Any]) -> list[str]:
    """The calibration part of a model card (markdown)."""
    lines = [
        f"- expected calibration error: {figures['expected_calibration_error']} "
        f"({figures['bins']} quantile bins)",
        f"- Brier {figures['brier']} = reliability {figures['brier_reliability']} - "
        f"resolution {figures['brier_resolution']} + uncertainty "
        f"{figures['brier_uncertainty']} + within-bin {figures['brier_within_bin']}",
        "",
        "| bin | mean forecast | observed onset rate | country-years | onsets |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {i} | {c['mean_forecast']} | {c['observed_rate']} | {c['n']} | {c['onsets']} |"
        for i, c in enumerate(figures["reliability_curve"], start=1)
    ]
    return lines


def backtest_card_lines(backtest: dict[str, Any]) -> list[str]:
    """A model card's calibration of the two-year backtest, and the one-year figures."""
    lines: list[str] = []
    if backtest.get("calibration"):
        lines += ["", "### Calibration (two-year forecasts, backtest)", ""]
        lines += card_lines(backtest["calibration"])
    one = backtest.get("one_year")
    if one:
        lines += ["", "### One-year horizon (same protocol; the forecast from F scores F+1)", ""]
        lines += [
            f"- {key}: {one.get(key)}"
            for key in ("auc", "recall_at_10", "recall_at_20", "recall_at_30", "n_onsets",
                        "false_alarms_per_hit_at_4pct", "brier")
        ]  # fmt: skip
        if one.get("calibration"):
            lines += card_lines(one["calibration"])
    return lines
