from __future__ import annotations

import numpy as np
import pytest

from earlywarn.forecasting.panel import Panel, outcome_horizon_years, read_ewp_csv
from earlywarn.ingest.errors import FileFormatError

from .conftest import COUNTRIES, FEATURES, ewp_csv, synthetic_cells


def test_as_of_keeps_rows_up_to_the_year_and_blanks_labels_not_yet_observed(panel: Panel) -> None:
    view = panel.as_of(2000)
    assert view.years.max() == 2000
    assert len(view) == len(COUNTRIES) * (2000 - 1970 + 1)

    def label(name: str, year: int) -> float:
        (row,) = np.flatnonzero((view.countries == "501") & (view.years == year))
        return float(view.outcome(name)[row])

    # mk_onset_1or2 of 1998 is about 1999-2000: known at the end of 2000; of 1999 it is not.
    assert not np.isnan(label("mk_onset_1or2", 1998))
    assert np.isnan(label("mk_onset_1or2", 1999))
    assert np.isnan(label("mk_onset_2", 1999))
    assert not np.isnan(label("mk_onset_1", 1999))
    assert np.isnan(label("mk_onset_1", 2000))
    assert not np.isnan(label("mk_onset", 2000))
    # The full panel still has them: as_of is a view, not an edit.
    full = panel.outcome("mk_onset_1or2")[(panel.countries == "501") & (panel.years == 1999)]
    assert not np.isnan(full).any()


def test_training_rows_are_complete_and_labelled(panel: Panel) -> None:
    X, y = panel.as_of(1990).training_rows("mk_onset_1or2")
    assert X.shape == (len(COUNTRIES) * (1988 - 1970 + 1), len(FEATURES))
    assert set(np.unique(y)) <= {0.0, 1.0}
    assert not np.isnan(X).any()


def test_horizons_of_other_outcome_tables_come_from_the_column_name() -> None:
    assert outcome_horizon_years("mk_onset") == 0
    assert outcome_horizon_years("mk_onset_1or2") == 2
    assert outcome_horizon_years("genocide_onset_1or2or3") == 3
    assert outcome_horizon_years("mk_onset_1") == 1


def test_ewp_csv_round_trip_and_an_extra_outcome_table() -> None:
    cells = synthetic_cells()
    panel = read_ewp_csv(ewp_csv(cells), predictors=FEATURES)
    assert len(panel) == len(cells)
    row = np.flatnonzero((panel.countries == "625") & (panel.years == 1985))[0]
    assert panel.features[row].tolist() == [
        cells[("625", 1985)]["risk"],
        cells[("625", 1985)]["noise"],
        1985.0,
    ]
    assert panel.country_names["625"] == "Sudan"
    assert np.isnan(panel.outcome("mk_onset_1or2")[panel.years == 2024]).all()

    extra = b"ewp_name,ccode,year,mk_onset_1or2,genocide_onset\nSudan,625,1985,1,1\n"
    merged = read_ewp_csv(ewp_csv(cells), predictors=FEATURES, outcomes_source=extra)
    assert merged.outcome("mk_onset_1or2")[row] == 1.0
    assert merged.outcome("genocide_onset")[row] == 1.0
    assert np.isnan(merged.outcome("genocide_onset")).sum() == len(cells) - 1


def test_ewp_csv_errors_name_the_problem() -> None:
    with pytest.raises(FileFormatError, match="missing column.*noise"):
        read_ewp_csv(b"ewp_name,ccode,year,risk\nKenya,501,2000,1\n", predictors=FEATURES)
    with pytest.raises(FileFormatError, match="line 2: not a number"):
        read_ewp_csv(b"ewp_name,ccode,year,risk\nKenya,501,2000,high\n", predictors=("risk",))
    with pytest.raises(FileFormatError, match="appears twice"):
        read_ewp_csv(
            b"ewp_name,ccode,year,risk\nKenya,501,2000,1\nKenya,501,2000,2\n", predictors=("risk",)
        )


def test_digest_changes_with_any_value(panel: Panel) -> None:
    features = panel.features.copy()
    features[5, 1] += 1e-9
    changed = Panel(panel.countries, panel.years, features, panel.feature_names, panel.outcomes)
    assert changed.digest() != panel.digest()
    assert panel.select(np.ones(len(panel), dtype=bool)).digest() == panel.digest()
