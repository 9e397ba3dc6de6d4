from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from earlywarn.forecasting.estimators import OnsetEnsemble
from earlywarn.forecasting.panel import Panel
from earlywarn.forecasting.registry import (
    HORIZON_TARGETS,
    ModelBundle,
    ModelRegistry,
    RegistryError,
    model_card,
    train_bundle,
)


def _model() -> OnsetEnsemble:
    return OnsetEnsemble(Cs=(0.1, 1.0), max_iter=30, year_column=2, random_state=0)


def test_train_save_load_promote(panel: Panel, tmp_path: Path) -> None:
    bundle = train_bundle(panel, _model(), name="ensemble")
    assert set(bundle.estimators) == set(HORIZON_TARGETS) == {1, 2}
    # At the end of 2024 the one-year label is known through 2023, the two-year one to 2022.
    assert bundle.trained_through == {1: 2023, 2: 2022}
    assert bundle.data_year == 2024
    assert bundle.version.startswith("ensemble-")
    assert bundle.data_digest == panel.digest()

    registry = ModelRegistry(tmp_path / "models")
    assert registry.versions() == []
    assert registry.load_promoted() is None
    card = model_card(bundle, data_source="synthetic", backtest={"auc": 0.9, "recall_at_30": 0.8})
    folder = registry.save(bundle, card)
    assert registry.versions() == [bundle.version]
    stored = json.loads((folder / "model_card.json").read_text())
    assert stored["features"] == ["risk", "noise", "year"]
    assert stored["data_digest_sha256"] == panel.digest()
    assert stored["libraries"]["scikit-learn"]
    assert stored["backtest"]["auc"] == 0.9
    known = panel.as_of(2024)
    labelled = known.complete() & ~np.isnan(known.outcome("mk_onset_1or2"))
    assert stored["training_years"]["2"] == {
        "first_year": int(known.years[labelled].min()),
        "last_labelled_year": 2022,
        "rows": int(labelled.sum()),
        "onsets": int(np.nansum(known.outcome("mk_onset_1or2")[labelled])),
    }
    markdown = (folder / "model_card.md").read_text()
    assert "recall_at_30: 0.8" in markdown
    first = stored["training_years"]["2"]["first_year"]
    assert f"2-year model trained on {first}-2022 ({int(labelled.sum())} complete" in markdown

    with pytest.raises(RegistryError, match="already exists"):
        registry.save(bundle, card)
    with pytest.raises(RegistryError, match="no model version nope"):
        registry.promote("nope")
    registry.promote(bundle.version)
    loaded = registry.load_promoted()
    assert loaded is not None
    assert loaded.version == bundle.version
    rows = panel.complete() & (panel.years == 2024)
    np.testing.assert_array_equal(
        loaded.predict(panel.features[rows])[2], bundle.predict(panel.features[rows])[2]
    )


def test_broken_registry_entries_are_named(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path)
    with pytest.raises(RegistryError, match="not a model version name"):
        registry.load("../etc")
    (tmp_path / "promoted.json").write_text("{}")
    with pytest.raises(RegistryError, match="promoted.json is not valid"):
        registry.promoted_version()
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "model.joblib").write_bytes(b"not a pickle")
    with pytest.raises(Exception):  # noqa: B017, PT011 - joblib's own error for a corrupt file
        registry.load("x")


def test_a_shorter_horizon_never_exceeds_a_longer_one() -> None:
    """Separate fits per horizon can disagree; an onset within one year is an onset within
    two, so the one-year probability is capped at the two-year one (which is left as is)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 1))
    # The one-year model learns a steep slope and the two-year one a flat one, so they cross.
    steep = (x[:, 0] + rng.normal(scale=0.3, size=400) > 1.0).astype(int)
    flat = (rng.random(400) < 0.25).astype(int)
    one_year = LogisticRegression().fit(x, steep)
    two_year = LogisticRegression().fit(x, flat)
    bundle = ModelBundle(
        name="crossing",
        version="crossing-1",
        feature_names=("x",),
        estimators={1: one_year, 2: two_year},
        trained_through={1: 2023, 2: 2022},
        data_year=2024,
        data_digest="0" * 64,
    )
    grid = np.linspace(-3, 3, 61).reshape(-1, 1)
    raw_1y = one_year.predict_proba(grid)[:, 1]
    raw_2y = two_year.predict_proba(grid)[:, 1]
    # The fits really cross, else the cap would be untested.
    assert (raw_1y > raw_2y).any()
    assert (raw_1y < raw_2y).any()

    predicted = bundle.predict(grid)
    np.testing.assert_array_equal(predicted[2], raw_2y)
    np.testing.assert_array_equal(predicted[1], np.minimum(raw_1y, raw_2y))
    assert (predicted[1] <= predicted[2]).all()
