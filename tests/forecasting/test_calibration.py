"""Reliability curve, expected calibration error and the Brier decomposition."""

from __future__ import annotations

import numpy as np
import pytest

from earlywarn.forecasting.calibration import calibration


def test_the_decomposition_of_a_known_example() -> None:
    # Two forecast values, 0.1 (x6) and 0.5 (x4); 1 onset among the first, 2 among the others.
    p = [0.1] * 6 + [0.5] * 4
    o = [1, 0, 0, 0, 0, 0, 1, 1, 0, 0]
    figures = calibration(p, o, bins=2)
    # By hand: base rate 0.3; bin rates 1/6 and 1/2.
    reliability = 0.6 * (0.1 - 1 / 6) ** 2 + 0.4 * (0.5 - 0.5) ** 2
    resolution = 0.6 * (1 / 6 - 0.3) ** 2 + 0.4 * (0.5 - 0.3) ** 2
    uncertainty = 0.3 * 0.7
    brier = (0.81 + 5 * 0.01 + 2 * 0.25 + 2 * 0.25) / 10
    assert figures["brier"] == pytest.approx(brier, abs=1e-6)
    assert figures["brier_reliability"] == pytest.approx(reliability, abs=1e-6)
    assert figures["brier_resolution"] == pytest.approx(resolution, abs=1e-6)
    assert figures["brier_uncertainty"] == pytest.approx(uncertainty, abs=1e-6)
    assert figures["brier_within_bin"] == pytest.approx(0.0, abs=1e-9)
    assert reliability - resolution + uncertainty == pytest.approx(brier)
    assert figures["expected_calibration_error"] == pytest.approx(0.6 * (1 / 6 - 0.1), abs=1e-5)
    assert [c["n"] for c in figures["reliability_curve"]] == [6, 4]
    assert [c["onsets"] for c in figures["reliability_curve"]] == [1, 2]


def test_the_parts_add_up_to_the_brier_score_with_spread_in_the_bins() -> None:
    rng = np.random.default_rng(4)
    p = rng.beta(0.5, 8, size=3000)
    o = (rng.random(3000) < p * 1.4).astype(float)
    f = calibration(p, o)
    total = (
        f["brier_reliability"]
        - f["brier_resolution"]
        + f["brier_uncertainty"]
        + f["brier_within_bin"]
    )
    assert total == pytest.approx(f["brier"], abs=5e-6)
    assert f["bins"] == 10
    assert sum(c["n"] for c in f["reliability_curve"]) == 3000
    # Under-forecast by 1.4x: the observed rate is above the forecast in the top bin.
    top = f["reliability_curve"][-1]
    assert top["observed_rate"] > top["mean_forecast"]
    assert f["expected_calibration_error"] > 0


def test_equal_forecasts_are_never_split_between_bins() -> None:
    f = calibration([0.02] * 50 + [0.3] * 5, [0] * 49 + [1] + [1] * 2 + [0] * 3, bins=10)
    assert [c["n"] for c in f["reliability_curve"]] == [50, 5]


def test_it_refuses_mismatched_input() -> None:
    with pytest.raises(ValueError, match="as many"):
        calibration([0.1, 0.2], [1])
