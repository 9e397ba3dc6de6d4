"""The walk-forward protocol, checked against a direct re-implementation of its text."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin

from earlywarn.forecasting.backtest import (
    ScoredCountryYear,
    YearForecast,
    evaluate,
    run_backtest,
    score_forecasts,
)
from earlywarn.forecasting.panel import Panel, build_panel


class FirstColumnRisk(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """Probability = logistic(first column + offset learnt as the log-odds of the base rate)."""

    def fit(self, X: Any, y: Any) -> FirstColumnRisk:
        self.classes_ = np.array([0, 1])
        rate = float(np.clip(np.mean(y), 1e-3, 1 - 1e-3))
        self.offset_ = np.log(rate / (1 - rate))
        return self

    def predict_proba(self, X: Any) -> Any:
        p = 1 / (1 + np.exp(-(np.asarray(X)[:, 0] + self.offset_)))
        return np.column_stack([1 - p, p])


def test_backtest_matches_the_protocol_written_out(panel: Panel) -> None:
    result = run_backtest(
        panel,
        FirstColumnRisk,
        model_name="rule",
        first_train_year=1985,
        last_train_year=2015,
        n_jobs=1,
    )

    # The protocol, written out by hand: forecasts from T+2 with a model fit on rows <= T.
    forecasts: dict[tuple[str, int], tuple[float, int]] = {}
    for t in range(1985, 2016):
        train = panel.years <= t
        y = panel.outcome("mk_onset_1or2")[train]
        rate = np.clip(np.nanmean(y), 1e-3, 1 - 1e-3)
        rows = np.flatnonzero(panel.years == t + 2)
        p = 1 / (1 + np.exp(-(panel.features[rows, 0] + np.log(rate / (1 - rate)))))
        order = np.argsort(-p, kind="stable")
        for rank, i in enumerate(order, start=1):
            forecasts[(str(panel.countries[rows[i]]), t + 2)] = (float(p[i]), rank)
    risk, onset, ranks = [], [], []
    for i in range(len(panel)):
        year, country = int(panel.years[i]), str(panel.countries[i])
        before = [
            forecasts[k] for k in ((country, year - 1), (country, year - 2)) if k in forecasts
        ]
        # Scored: T_first+3 to T_last+3, as EWP's code scores 1994-2024 for 1991-2021.
        if 1988 <= year <= 2018 and before:
            risk.append(max(p for p, _ in before))
            ranks.append(min(r for _, r in before))
            onset.append(panel.outcome("mk_onset")[i] == 1)
    onset_a, ranks_a = np.array(onset), np.array(ranks)

    assert result.n_onsets == int(onset_a.sum()) > 10
    assert result.n_scored == len(onset)
    assert result.recall_at_30 == pytest.approx((ranks_a[onset_a] <= 30).mean(), abs=1e-4)
    assert result.recall_at_10 == pytest.approx((ranks_a[onset_a] <= 10).mean(), abs=1e-4)
    assert {(m["country"], m["year"]) for m in result.missed} == {
        (s.country, s.year) for s in result.scored if s.onset and s.best_rank > 30
    }
    assert [s.max_risk for s in result.scored] == pytest.approx(risk)
    assert result.auc is not None
    assert result.auc > 0.6


def test_scoring_takes_the_larger_risk_and_the_better_rank() -> None:
    cells = {
        ("A", 2000): {"x": 0.0, "mk_onset": 0.0},
        ("A", 2001): {"x": 0.0, "mk_onset": 0.0},
        ("A", 2002): {"x": 0.0, "mk_onset": 1.0},
        ("B", 2002): {"x": 0.0, "mk_onset": 0.0},
        ("C", 2002): {"x": 0.0},  # no outcome: not scored
    }
    panel = build_panel(cells, predictors=("x",), outcome_columns=("mk_onset",))
    forecasts = {
        2000: YearForecast(2000, ["A", "B", "C"], [0.30, 0.10, 0.5], [2, 3, 1]),
        2001: YearForecast(2001, ["A", "B", "C"], [0.05, 0.20, 0.5], [3, 2, 1]),
    }
    scored = score_forecasts(panel, forecasts, first_year=2002, last_year=2002)
    assert scored == [
        ScoredCountryYear("A", 2002, True, 0.30, 2),
        ScoredCountryYear("B", 2002, False, 0.20, 2),
    ]


def test_false_alarms_per_hit_at_four_percent() -> None:
    scored = [
        ScoredCountryYear("A", 2000, True, 0.10, 1),
        ScoredCountryYear("B", 2000, False, 0.05, 2),
        ScoredCountryYear("C", 2000, False, 0.04, 3),  # at the threshold: not flagged (EWP: >)
        ScoredCountryYear("D", 2000, False, 0.01, 40),
        ScoredCountryYear("E", 2000, True, 0.02, 35),
    ]
    figures = evaluate(scored)
    assert figures["hits_at_4pct"] == 1
    assert figures["false_alarms_at_4pct"] == 1
    assert figures["false_alarms_per_hit_at_4pct"] == 1.0
    assert figures["recall_at_30"] == 0.5
    assert figures["missed"] == [
        {"country": "E", "name": "E", "year": 2000, "best_rank": 35, "max_risk": 0.02}
    ]
    assert figures["auc"] == pytest.approx(4 / 6, abs=1e-4)


def test_backtest_refuses_an_empty_range(panel: Panel) -> None:
    with pytest.raises(ValueError, match="after the last"):
        run_backtest(
            panel, FirstColumnRisk, model_name="rule", first_train_year=2000, last_train_year=1999
        )


def test_report_has_its_four_views(panel: Panel, tmp_path: Any) -> None:
    from earlywarn.forecasting.report import write_report

    result = run_backtest(
        panel,
        FirstColumnRisk,
        model_name="rule",
        first_train_year=1985,
        last_train_year=2015,
        n_jobs=1,
    )
    path = tmp_path / "report.html"
    write_report(result, path)
    page = path.read_text()
    assert page.count("<svg") == 3  # ROC, precision/recall at k, calibration
    assert "ROC curve" in page
    assert "Calibration" in page
    assert "Rank of each onset" in page
    # Nine figures, then one four-cell row per onset; the missed ones are marked.
    assert page.count("<td>") == 9 + 4 * result.n_onsets
    assert page.count("class=missed") == len(result.missed)
