"""Drivers in words: every predictor the model may use is described in config/, with its
Framework of Analysis risk factor."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from earlywarn.forecasting.explain import described
from earlywarn.forecasting.nested import ALL_FEATURES
from earlywarn.forecasting.panel import EWP_PREDICTORS
from earlywarn.framework.config import ConfigError, load_configuration

CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"


def test_every_predictor_of_the_model_is_described() -> None:
    config = load_configuration(CONFIG_DIR)
    assert config.forecast_drivers.unmapped(ALL_FEATURES) == []
    assert set(EWP_PREDICTORS) <= set(ALL_FEATURES)
    # Controls aside, each names a risk factor; and the labels are words, not column names.
    factors = {config.forecast_drivers.entry(p)[1].risk_factor for p in EWP_PREDICTORS}  # type: ignore[index]
    assert factors - {None} <= set(range(1, 15))
    assert len(factors - {None}) >= 6
    for predictor in ALL_FEATURES:
        label, _ = config.forecast_drivers.entry(predictor)  # type: ignore[misc]
        assert label != predictor
        assert "_" not in label


def test_a_stored_driver_reads_in_words() -> None:
    config = load_configuration(CONFIG_DIR)
    stored = [
        {"variable": "battledeaths.log2:change_3y", "value": 4.0, "effect": 0.02},
        {"variable": "reg.eur", "value": 0.0, "effect": -0.01},
        {"variable": "not_a_predictor", "value": 1.0, "effect": 0.0},
    ]
    change, control, unknown = described(stored, config)
    assert change["label"] == "Change over 3 years: Battle deaths in armed conflict (log)"
    assert change["risk_factor"] == 1
    assert change["risk_factor_name"] == config.risk_factor(1).name
    assert change["effect"] == 0.02
    assert (control["risk_factor"], control["risk_factor_name"]) == (None, None)
    assert unknown["label"] == "not_a_predictor"
    assert unknown["risk_factor"] is None


def test_a_driver_mapped_to_no_such_risk_factor_stops_the_start(tmp_path: Path) -> None:
    target = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, target)
    path = target / "forecast_drivers.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["predictors"]["minorityrule"]["risk_factor"] = 15
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"forecast_drivers.yaml.*predictors.minorityrule"):
        load_configuration(target)
