from __future__ import annotations

import numpy as np
import pytest

from earlywarn.forecasting.panel import (
    Panel,
    build_panel,
    outcome_horizon_years,
    parse_change,
    raw_columns,
    read_ewp_csv,
)
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


def test_change_predictors_read_only_the_countrys_own_earlier_rows() -> None:
    cells = {
        ("1", 2000): {"x": 1.0},
        ("1", 2001): {"x": 4.0},
        ("1", 2002): {"x": 6.0},
        ("1", 2003): {"x": 5.0},
        ("1", 2005): {"x": 9.0},  # 2004 is missing: no row one year before
        ("2", 2001): {"x": 100.0},  # a new state: no earlier row at all
        ("2", 2002): {},  # missing now
        ("2", 2003): {"x": 50.0},  # missing one year before
    }
    names = ("x", "x:change_1y", "x:change_3y")
    panel = build_panel(cells, predictors=names, outcome_columns=())
    got = {
        (str(c), int(y)): row.tolist()
        for c, y, row in zip(panel.countries, panel.years, panel.features, strict=True)
    }
    assert got[("1", 2000)] == [1.0, 0.0, 0.0]
    assert got[("1", 2001)] == [4.0, 3.0, 0.0]
    assert got[("1", 2003)] == [5.0, -1.0, 4.0]
    assert got[("1", 2005)] == [9.0, 0.0, 3.0]
    assert got[("2", 2001)] == [100.0, 0.0, 0.0]
    assert np.isnan(got[("2", 2002)]).all()
    assert got[("2", 2003)] == [50.0, 0.0, 0.0]
    assert raw_columns(names) == ("x",)
    assert parse_change("battledeaths.log2:change_3y") == ("battledeaths.log2", 3)
    assert parse_change("battledeaths.log2") is None


def test_change_predictors_are_the_same_from_a_csv() -> None:
    cells = synthetic_cells()
    names = (*FEATURES, "risk:change_1y", "noise:change_3y")
    from_csv = read_ewp_csv(ewp_csv(cells), predictors=names)
    direct = build_panel(cells, predictors=names, outcome_columns=())
    np.testing.assert_array_equal(from_csv.features, direct.features)
    kenya = from_csv.features[from_csv.countries == "501"]
    np.testing.assert_allclose(kenya[1:, 3], np.diff(kenya[:, 0]))
    assert kenya[0, 3] == 0.0
    with pytest.raises(FileFormatError, match="missing column.*gdp"):
        read_ewp_csv(ewp_csv(cells), predictors=("gdp:change_1y",))
