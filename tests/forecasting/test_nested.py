"""The pre-registered nested selection (docs/forecasting-procedure.md)."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pytest

from earlywarn.forecasting.backtest import forecast_from, run_backtest
from earlywarn.forecasting.catalog import make_model
from earlywarn.forecasting.nested import FEATURE_SETS, NestedSelection, pick
from earlywarn.forecasting.panel import EWP_PREDICTORS, Panel, outcome_horizon_years

SETS = (("risk", ("risk", "year")), ("risk+noise", ("risk", "noise", "year")))


def _light(feature_names: tuple[str, ...], lead_years: int = 2) -> NestedSelection:
    """The procedure with small trees, so a test backtest stays quick."""
    return NestedSelection(
        feature_names=feature_names,
        feature_sets=SETS,
        lead_years=lead_years,
        Cs=(0.1, 1.0),
        boosting=(0.1, 20, 4, 5, 1.0),
        forest=(10, 5, 0.5),
    )


def test_the_first_candidate_stays_unless_clearly_beaten() -> None:
    assert pick({"a": 1.0, "b": 0.995, "c": 0.999}, 0.01) == "a"
    assert pick({"a": 1.0, "b": 0.98, "c": 0.95}, 0.01) == "c"
    assert pick({"a": 1.0, "b": 0.98, "c": 1.2}, 0.01) == "b"
    assert pick({"a": 1.0}, 0.01) == "a"


def test_inner_windows_keep_the_lead_and_stay_inside_the_rows(panel: Panel) -> None:
    X, y = panel.as_of(2000).training_rows("mk_onset_1or2")
    years = X[:, list(panel.feature_names).index("year")]
    for lead in (1, 2):
        model = _light(panel.feature_names, lead_years=lead)
        windows = model.inner_windows(years, y.astype(np.int64))
        assert len(windows) == 3
        ends = []
        for train, val in windows:
            assert years[train].max() == years[val].min() - lead
            assert years[val].max() - years[val].min() == 2
            ends.append(years[val].max())
        assert ends == [1998, 1995, 1992]  # the last labelled year of as_of(2000) is 1998


def test_fit_reports_every_candidate_and_predicts_with_the_chosen_columns(panel: Panel) -> None:
    X, y = panel.as_of(2010).training_rows("mk_onset_1or2")
    model = _light(panel.feature_names).fit(X, y)
    report = model.selection_report()
    assert set(report["feature_set_log_loss"]) == {"risk", "risk+noise"}
    assert set(report["family_log_loss"]) == {
        "logit",
        "boosting",
        "forest",
        "logit+boosting",
        "logit+forest",
    }
    assert report["inner_windows"] == 3
    assert model.selected_ == f"{model.feature_set_} / {model.family_}"
    losses = report["family_log_loss"]
    assert losses[model.family_] == min(losses.values()) or model.family_ == "logit"
    p = model.predict_proba(X)[:, 1]
    members = model.member_probabilities(X)
    assert members.shape[1] == len(model.models_)
    assert np.allclose(p, members.mean(axis=1))
    # Only the chosen set's columns matter: scrambling another column changes nothing.
    unused = [i for i in range(X.shape[1]) if i not in model.columns_]
    if unused:
        moved = X.copy()
        moved[:, unused] = np.random.default_rng(0).normal(size=(len(X), len(unused)))
        assert np.array_equal(model.predict_proba(moved), model.predict_proba(X))


def test_shared_fits_change_no_forecast_of_the_nested_procedure(panel: Panel) -> None:
    factory = functools.partial(_light, tuple(panel.feature_names))
    runs = [
        run_backtest(
            panel,
            factory,
            model_name="nested",
            first_train_year=1995,
            last_train_year=2001,
            n_jobs=1,
            share_fits=share,
        )
        for share in (False, True)
    ]
    separate, shared = runs
    assert [(s.country, s.year, s.max_risk, s.best_rank) for s in shared.scored] == [
        (s.country, s.year, s.max_risk, s.best_rank) for s in separate.scored
    ]
    assert shared.selection == separate.selection
    assert [d["forecast_year"] for d in shared.selection_steps] == list(range(1997, 2004))


def test_the_default_model_considers_the_three_pre_registered_feature_sets() -> None:
    names = tuple(dict.fromkeys(c for cols in FEATURE_SETS.values() for c in cols))
    model = make_model("nested", names)
    assert isinstance(model, NestedSelection)
    assert [n for n, _ in model.feature_sets] == ["ewp39", "ewp39+shocks", "ewp39+civil-liberties"]
    assert len(dict(model.feature_sets)["ewp39"]) == len(EWP_PREDICTORS) == 39
    # Hand-picked predictors holding none of them are the one set.
    mine = make_model("nested", ("risk", "year"))
    assert isinstance(mine, NestedSelection)
    assert mine.feature_sets == (("given", ("risk", "year")),)
    with pytest.raises(ValueError, match="year"):
        make_model("nested", ("risk",))


class _Recorder:
    """A model that remembers the labels it was trained on and forecasts its first column."""

    seen: list[tuple[float, Any]] = []

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {}

    def set_params(self, **params: Any) -> _Recorder:
        return self

    def fit(self, X: Any, y: Any) -> _Recorder:
        _Recorder.seen.append((float(np.max(X[:, -1])), np.asarray(y).copy()))
        return self

    def predict_proba(self, X: Any) -> Any:
        p = 1 / (1 + np.exp(-np.asarray(X)[:, 0]))
        return np.column_stack([1 - p, p])


def test_the_one_year_backtest_learns_and_scores_one_year_outcomes(panel: Panel) -> None:
    _Recorder.seen = []
    result = run_backtest(
        panel,
        _Recorder,
        model_name="rule",
        first_train_year=1990,
        last_train_year=2000,
        n_jobs=1,
        horizon_years=1,
    )
    assert result.horizon_years == 1
    # Forecast from F (1992-2002) trains on rows up to F-1 with their mk_onset_1 labels.
    assert sorted(year for year, _ in _Recorder.seen) == list(range(1991, 2002))
    for last_row, labels in _Recorder.seen:
        known = panel.as_of(int(last_row) + 1)
        _, expected = known.training_rows("mk_onset_1")
        assert np.array_equal(labels, expected)
    # Each year Y (1993-2003) is scored by the forecast from Y-1 alone.
    risk_col = list(panel.feature_names).index("risk")
    for s in result.scored:
        row = (panel.countries == s.country) & (panel.years == s.year - 1)
        assert s.max_risk == pytest.approx(1 / (1 + np.exp(-panel.features[row, risk_col][0])))
        onset = panel.outcome("mk_onset")[(panel.countries == s.country) & (panel.years == s.year)]
        assert s.onset == bool(onset[0])
    assert {s.year for s in result.scored} == set(range(1993, 2004))


def test_a_training_row_needs_every_outcome_up_to_the_targets_horizon(panel: Panel) -> None:
    known = panel.as_of(2000)
    outcomes = {k: v.copy() for k, v in known.outcomes.items()}
    hole = np.flatnonzero(known.years == 1990)[0]
    outcomes["mk_onset"][hole] = np.nan  # e.g. a source gap in the onset year itself
    outcomes["mk_onset_2"][hole + 1] = np.nan
    holed = Panel(known.countries, known.years, known.features, known.feature_names, outcomes)
    X2, _ = holed.training_rows("mk_onset_1or2")
    X1, _ = holed.training_rows("mk_onset_1")
    full2, _ = known.training_rows("mk_onset_1or2")
    full1, _ = known.training_rows("mk_onset_1")
    assert len(X2) == len(full2) - 2  # both rows dropped for the two-year target
    assert len(X1) == len(full1) - 1  # mk_onset_2 looks too far ahead to be required


def test_a_nested_forecast_uses_nothing_observable_only_later(panel: Panel) -> None:
    """Selection included: scrambling every value not observable at the end of the forecast
    year leaves the forecast (and the choice) unchanged."""
    rng = np.random.default_rng(3)
    year = 2005
    later = panel.years > year
    features = panel.features.copy()
    features[later, :2] = rng.normal(size=(int(later.sum()), 2)) * 10
    outcomes = {
        name: np.where(
            panel.years + outcome_horizon_years(name) > year,
            rng.integers(0, 2, len(values)),
            values,
        ).astype(float)
        for name, values in panel.outcomes.items()
    }
    scrambled = Panel(panel.countries, panel.years, features, panel.feature_names, outcomes)
    factory = functools.partial(_light, tuple(panel.feature_names))
    original, model = forecast_from(panel, factory, year)
    again, model_again = forecast_from(scrambled, factory, year)
    assert again.probabilities == original.probabilities
    assert model_again.selection_report() == model.selection_report()


def test_every_forecast_has_an_interval_around_it(panel: Panel) -> None:
    result = run_backtest(
        panel,
        functools.partial(_light, tuple(panel.feature_names)),
        model_name="nested",
        first_train_year=1996,
        last_train_year=1999,
        n_jobs=1,
    )
    rows = result.forecasts
    assert len(rows) == 4 * 30
    assert {r["forecast_year"] for r in rows} == {1998, 1999, 2000, 2001}
    for r in rows:
        assert r["probability_low"] <= r["probability"] <= r["probability_high"]
        assert r["rank_best"] <= r["rank"] <= r["rank_worst"]
    # The members do disagree (an interval is not the point written twice).
    assert any(r["probability_high"] > r["probability_low"] for r in rows)
    assert any(r["rank_worst"] > r["rank_best"] for r in rows)


def test_the_one_year_model_has_an_interval_from_the_fixed_choice(panel: Panel) -> None:
    """Amendment 1: no selection for one year, but the fixed choice is fitted in the inner
    windows too, so its forecasts carry an interval; the point forecast is the full fit's."""
    names = tuple(panel.feature_names)
    fixed = dict.fromkeys(range(1998, 2002), ("risk+noise", "logit+forest", 0.1))
    result = run_backtest(
        panel,
        functools.partial(lambda: _light(names, lead_years=1).set_params(fixed_choices=fixed)),
        model_name="nested",
        first_train_year=1996,
        last_train_year=1999,
        n_jobs=1,
        horizon_years=1,
    )
    rows = result.forecasts
    assert len(rows) == 4 * 30
    for r in rows:
        assert r["probability_low"] <= r["probability"] <= r["probability_high"]
        assert r["rank_best"] <= r["rank"] <= r["rank_worst"]
    assert any(r["probability_high"] > r["probability_low"] for r in rows)
    # The windows add members only: the point forecast is the fixed choice fitted on all rows.
    known = panel.as_of(2001)
    X, y = known.training_rows("mk_onset_1")
    model = _light(names, lead_years=1).set_params(fixed_choices=fixed).fit(X, y)
    assert len(model.window_models_) == model.inner_windows(X[:, 2], y.astype(int)).__len__()
    rows_2001 = known.complete() & (known.years == 2001)
    point = model.predict_proba(known.features[rows_2001])[:, 1]
    members = model.spread_members(known.features[rows_2001])
    np.testing.assert_array_equal(members[:, 0], point)
    expected = [r["probability"] for r in rows if r["forecast_year"] == 2001]
    np.testing.assert_allclose(expected, np.round(point, 6))
    assert model.selection_report()["fixed"] is True
