"""A forecast made from year F uses nothing after F: perturbing the future changes nothing."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from earlywarn.forecasting.backtest import forecast_from, run_backtest
from earlywarn.forecasting.estimators import OnsetEnsemble, make_model
from earlywarn.forecasting.panel import Panel, build_panel, outcome_horizon_years

from .conftest import FEATURES, synthetic_cells

FORECAST_YEAR = 2005


def _ensemble() -> OnsetEnsemble:
    return OnsetEnsemble(Cs=(0.1, 1.0), max_iter=40, year_column=2, random_state=0)


def _scramble_after(panel: Panel, year: int, seed: int) -> Panel:
    """Every value that was not observable at the end of ``year``, replaced by noise: the
    predictors of later rows and every outcome whose event falls after ``year``."""
    rng = np.random.default_rng(seed)
    later = panel.years > year
    features = panel.features.copy()
    features[later] = rng.normal(size=features[later].shape) * 10
    features[later, 2] = panel.years[later]  # keep the year column a year
    outcomes = {}
    for name, values in panel.outcomes.items():
        future = panel.years + outcome_horizon_years(name) > year
        outcomes[name] = np.where(future, rng.integers(0, 2, len(values)), values).astype(float)
    return Panel(panel.countries, panel.years, features, panel.feature_names, outcomes)


@pytest.mark.parametrize("model", ["ensemble", "ewp-reference"])
def test_forecast_from_a_year_ignores_everything_after_it(panel: Panel, model: str) -> None:
    factory = (
        _ensemble
        if model == "ensemble"
        else functools.partial(make_model, model, panel.feature_names)
    )
    original, _ = forecast_from(panel, factory, FORECAST_YEAR)
    for seed in (1, 2):
        perturbed, _ = forecast_from(
            _scramble_after(panel, FORECAST_YEAR, seed), factory, FORECAST_YEAR
        )
        assert perturbed.countries == original.countries
        assert perturbed.probabilities == original.probabilities
        assert perturbed.ranks == original.ranks


def test_the_leakage_check_can_fail(panel: Panel) -> None:
    """Control: scrambling from two years earlier (labels the model does learn from) moves
    the forecast, so the test above would notice a model that looked ahead."""
    original, _ = forecast_from(panel, _ensemble, FORECAST_YEAR)
    earlier, _ = forecast_from(
        _scramble_after(panel, FORECAST_YEAR - 3, 1), _ensemble, FORECAST_YEAR
    )
    assert earlier.probabilities != original.probabilities


def test_training_never_sees_an_unobservable_label(panel: Panel) -> None:
    seen: list[int] = []

    class Spy(OnsetEnsemble):
        def fit(self, X, y):  # type: ignore[no-untyped-def]
            seen.append(int(np.max(X[:, 2])))
            return super().fit(X, y)

    forecast_from(panel, lambda: Spy(Cs=(1.0,), max_iter=20, year_column=2), FORECAST_YEAR)
    # mk_onset_1or2 of year F-2 is the last one known at the end of F.
    assert seen == [FORECAST_YEAR - 2]


def test_a_development_backtest_uses_nothing_after_its_last_forecast_year(panel: Panel) -> None:
    """A backtest with last training year T uses nothing observable only after T+3 (the
    outcome of the last scored year, as in EWP's code), and trains on nothing observable only
    after T+2: scrambling it leaves every figure unchanged. This is what lets a
    development backtest on early years choose a model blind to the official years."""

    def run(data: Panel) -> list[tuple[str, int, bool, float, int]]:
        result = run_backtest(
            data,
            _ensemble,
            model_name="dev",
            first_train_year=1985,
            last_train_year=1995,
            n_jobs=1,
        )
        assert result.n_onsets > 5
        return [(s.country, s.year, s.onset, s.max_risk, s.best_rank) for s in result.scored]

    original = run(panel)
    # The last scored year is T+3 (its outcome is known at its end); forecasts end at T+2.
    assert max(year for _, year, *_ in original) == 1998
    assert run(_scramble_after(panel, 1998, 1)) == original
    # Control: scrambling one more year back changes the figures.
    assert run(_scramble_after(panel, 1997, 1)) != original


CHANGES = (*FEATURES, "risk:change_1y", "risk:change_3y", "noise:change_1y")


def _raw_scrambled_after(
    year: int, seed: int, *, only_year: int | None = None
) -> dict[tuple[str, int], dict[str, float]]:
    """The synthetic world's *raw* cells with every value observable only after ``year``
    replaced by noise (or only the predictors of ``only_year``); derived predictors are then
    computed from them as in production."""
    rng = np.random.default_rng(seed)
    cells = {}
    for (country, row_year), row in synthetic_cells().items():
        row = dict(row)
        if row_year > year if only_year is None else row_year == only_year:
            row["risk"], row["noise"] = rng.normal(size=2) * 10
        for name in list(row):
            future = row_year + outcome_horizon_years(name) > year
            if only_year is None and name.startswith("mk_onset") and future:
                row[name] = float(rng.integers(0, 2))
        cells[(country, row_year)] = row
    return cells


def _changes_panel(
    cells: dict[tuple[str, int], dict[str, float]], predictors: tuple[str, ...] = CHANGES
) -> Panel:
    return build_panel(
        cells,
        predictors=predictors,
        outcome_columns=("mk_onset", "mk_onset_1", "mk_onset_2", "mk_onset_1or2"),
    )


def test_change_predictors_leave_the_forecast_blind_to_later_years() -> None:
    """Derived change predictors are computed from the raw data *before* any point-in-time
    cut, so the check scrambles the raw values after F and derives them again."""
    original, _ = forecast_from(_changes_panel(synthetic_cells()), _ensemble, FORECAST_YEAR)
    assert len(original.countries) == 30
    for seed in (1, 2):
        perturbed, _ = forecast_from(
            _changes_panel(_raw_scrambled_after(FORECAST_YEAR, seed)), _ensemble, FORECAST_YEAR
        )
        assert perturbed.probabilities == original.probabilities
        assert perturbed.ranks == original.ranks
    # Control: the predictors of F-1 reach the forecast from F only through the change
    # predictors (rows of F-1 have no known label at the end of F, so they do not train).
    moved, _ = forecast_from(
        _changes_panel(_raw_scrambled_after(FORECAST_YEAR, 1, only_year=FORECAST_YEAR - 1)),
        _ensemble,
        FORECAST_YEAR,
    )
    assert moved.probabilities != original.probabilities
    # ... and without them the same scramble leaves the forecast alone.
    without = functools.partial(_changes_panel, predictors=FEATURES)
    scrambled = _raw_scrambled_after(FORECAST_YEAR, 1, only_year=FORECAST_YEAR - 1)
    assert (
        forecast_from(without(scrambled), _ensemble, FORECAST_YEAR)[0].probabilities
        == forecast_from(without(synthetic_cells()), _ensemble, FORECAST_YEAR)[0].probabilities
    )
