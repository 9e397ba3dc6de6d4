"""The Early Warning Project's walk-forward ("fake out-of-sample") protocol.

For every last training year T: fit on the panel as known at the end of T+2 (so rows up to T
carry their two-year label), forecast every complete row of year T+2, rank within that year.
Each country-year Y is then scored by the larger of the forecasts made from Y-1 and Y-2
(``maxrisk2``) and the better of their ranks (``minrank2``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, clone
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from earlywarn.forecasting.estimators import (
    FitCache,
    FitSpec,
    OnsetEnsemble,
    build_submodel,
    data_digest,
    encoded_target,
    fit_threads,
    sharing_fits,
)
from earlywarn.forecasting.ewp_reference import training_rows_for
from earlywarn.forecasting.panel import DEFAULT_EVENT, DEFAULT_TARGET, FloatArray, Panel

FALSE_ALARM_THRESHOLD = 0.04  # a false alarm is a risk strictly above it, as in EWP's code
RECALL_RANKS = (10, 20, 30)
TARGET_LEAD_YEARS = 2  # mk_onset_1or2: the label of year T is complete at the end of T+2
# Horizon (years) -> the outcome column it forecasts; the one-year forecast from year F comes
# from rows up to F-1 and scores year F+1 alone.
HORIZON_TARGETS = {1: "mk_onset_1", 2: DEFAULT_TARGET}

ModelFactory = Callable[[], BaseEstimator]


@dataclass(frozen=True)
class YearForecast:
    year: int
    countries: list[str]
    probabilities: list[float]
    ranks: list[int]
    # The interval (lowest, highest) over the model's spread members, when it has them.
    probability_intervals: list[tuple[float, float]] | None = None
    rank_intervals: list[tuple[int, int]] | None = None

    def rows(self) -> list[dict[str, Any]]:
        """One dict per country, with the interval fields when there are intervals."""
        out = []
        for i, country in enumerate(self.countries):
            row: dict[str, Any] = {
                "country": country,
                "forecast_year": self.year,
                "probability": round(self.probabilities[i], 6),
                "rank": self.ranks[i],
            }
            if self.probability_intervals is not None and self.rank_intervals is not None:
                low, high = self.probability_intervals[i]
                row["probability_low"], row["probability_high"] = round(low, 6), round(high, 6)
                row["rank_best"], row["rank_worst"] = self.rank_intervals[i]
            out.append(row)
        return out


def _ranks(p: FloatArray) -> npt.NDArray[np.int64]:
    order = np.argsort(-p, kind="stable")
    ranks = np.empty(len(p), dtype=np.int64)
    ranks[order] = np.arange(1, len(p) + 1)
    return ranks


@dataclass(frozen=True)
class ScoredCountryYear:
    country: str
    year: int
    onset: bool
    max_risk: float
    best_rank: int


@dataclass
class BacktestResult:
    model: str
    first_train_year: int
    last_train_year: int
    auc: float | None
    average_precision: float | None
    brier: float
    recall_at_10: float
    recall_at_20: float
    recall_at_30: float
    n_onsets: int
    n_scored: int
    hits_at_4pct: int
    false_alarms_at_4pct: int
    false_alarms_per_hit_at_4pct: float | None
    seconds: float
    cpu_seconds: float
    missed: list[dict[str, Any]]
    onsets: list[dict[str, Any]]
    selection: dict[str, int] = field(default_factory=dict)
    horizon_years: int = 2
    worker_cpu_seconds: float = 0.0  # the part of cpu_seconds spent in worker processes
    # Every forecast the steps made (country, forecast year, probability, rank, intervals).
    forecasts: list[dict[str, Any]] = field(default_factory=list)
    selection_steps: list[dict[str, Any]] = field(default_factory=list)
    scored: list[ScoredCountryYear] = field(default_factory=list, repr=False)

    def summary(self) -> dict[str, Any]:
        """The JSON the CLI writes (without the per-country-year detail)."""
        data = asdict(self)
        data.pop("scored")
        return data


def forecast_from(
    panel: Panel,
    factory: ModelFactory,
    forecast_year: int,
    *,
    target: str = DEFAULT_TARGET,
) -> tuple[YearForecast, BaseEstimator]:
    """Train on what was known at the end of ``forecast_year`` and forecast its rows.

    Only ``panel.as_of(forecast_year)`` is used, so nothing after that year can leak in.
    """
    known = panel.as_of(forecast_year)
    model = clone(factory())
    # cv.glmnet's folds (ewp-reference) depend on the rows' order: the EWP file's.
    X, y = training_rows_for(model, known, target)
    model.fit(X, y.astype(np.int64))
    rows = known.complete() & (known.years == forecast_year)
    p = np.asarray(model.predict_proba(known.features[rows])[:, 1], dtype=np.float64)
    ranks = _ranks(p)
    intervals: tuple[list[tuple[float, float]], list[tuple[int, int]]] | None = None
    spread = getattr(model, "spread_members", None)
    members = np.asarray(spread(known.features[rows])) if spread and rows.any() else None
    if members is not None and members.shape[1] > 1:
        member_ranks = np.column_stack([_ranks(members[:, k]) for k in range(members.shape[1])])
        intervals = (
            [(float(a), float(b)) for a, b in zip(members.min(1), members.max(1), strict=True)],
            [
                (int(a), int(b))
                for a, b in zip(member_ranks.min(1), member_ranks.max(1), strict=True)
            ],
        )
    forecast = YearForecast(
        year=forecast_year,
        countries=known.countries[rows].tolist(),
        probabilities=p.tolist(),
        ranks=ranks.tolist(),
        probability_intervals=intervals[0] if intervals else None,
        rank_intervals=intervals[1] if intervals else None,
    )
    return forecast, model


def _step(
    panel: Panel,
    factory: ModelFactory,
    forecast_year: int,
    target: str,
    threads: int | None = 1,
) -> tuple[YearForecast, str | None, float, dict[str, Any]]:
    start = time.process_time()
    # Small fits: one thread per step (steps run in parallel instead).
    with fit_threads(threads):
        forecast, model = forecast_from(panel, factory, forecast_year, target=target)
    report = getattr(model, "selection_report", None)
    detail = {"forecast_year": forecast_year, **report()} if report is not None else {}
    return forecast, getattr(model, "selected_", None), time.process_time() - start, detail


def _fit_training_set(
    specs: list[FitSpec], X: FloatArray, y: npt.NDArray[np.int64], threads: int | None = 1
) -> tuple[list[BaseEstimator], float]:
    start = time.process_time()
    with fit_threads(threads):
        models = [build_submodel(spec).fit(X, y) for spec in specs]
    return models, time.process_time() - start


def _shared_fits(
    panel: Panel,
    factory: ModelFactory,
    years: Sequence[int],
    target: str,
    jobs: int,
    threads: int | None = 1,
) -> tuple[FitCache, float]:
    """Fit, in parallel and once each, the distinct sub-models the ensemble's steps need.

    The inner validation folds of step F train on the same rows as folds of step F-3 and as the
    final fit of step F-4 (every label of those rows is known in both), so of ~4 training sets
    per step about one is new. Keys are the exact training bytes: only identical fits are
    shared, and the forecasts are those of fitting every step on its own."""
    cache = FitCache()
    sets: dict[str, tuple[FloatArray, npt.NDArray[np.int64], list[FitSpec]]] = {}
    for year in years:
        model = factory()
        if not isinstance(model, OnsetEnsemble):
            return cache, 0.0
        X, y = panel.as_of(year).training_rows(target)
        labels = encoded_target(y.astype(np.int64))
        for rows, specs in model.planned_fits(X, labels):
            X_fit, y_fit = X[rows], labels[rows]
            _, _, wanted = sets.setdefault(data_digest(X_fit, y_fit), (X_fit, y_fit, []))
            wanted += [spec for spec in specs if spec not in wanted]
    # Largest training sets first, so the workers finish together.
    order = sorted(sets, key=lambda digest: -len(sets[digest][1]))
    fitted = Parallel(n_jobs=jobs)(
        delayed(_fit_training_set)(sets[d][2], sets[d][0], sets[d][1], threads) for d in order
    )
    for digest, (models, _) in zip(order, fitted, strict=True):
        for spec, model in zip(sets[digest][2], models, strict=True):
            cache.fits[(spec, digest)] = model
    return cache, sum(c for _, c in fitted) if jobs != 1 else 0.0


def run_backtest(
    panel: Panel,
    factory: ModelFactory,
    *,
    model_name: str,
    first_train_year: int = 1991,
    last_train_year: int = 2021,
    target: str = DEFAULT_TARGET,
    event: str = DEFAULT_EVENT,
    n_jobs: int | None = None,
    share_fits: bool = True,
    horizon_years: int = 2,
    progress: Callable[[int, int], None] | None = None,
    threads_per_fit: int | None = 1,
) -> BacktestResult:
    """``share_fits=False`` fits every step on its own (same forecasts, ~2.5x the work).
    ``threads_per_fit=None`` leaves the native thread pools at their defaults (same forecasts,
    more CPU: see ``estimators.fit_threads``).

    The forecast years are ``first_train_year + 2`` to ``last_train_year + 2`` for both
    horizons; the two-year forecasts score the years after them up to ``last_train_year + 3``
    (EWP scores 1994-2024 for 1991-2021), the one-year forecast from F scores F+1.
    ``progress(done, total)`` is called after each walk-forward step."""
    if first_train_year > last_train_year:
        raise ValueError("first train year is after the last train year")
    if horizon_years not in HORIZON_TARGETS:
        raise ValueError(f"horizon must be one of {sorted(HORIZON_TARGETS)} years")
    if horizon_years != 2:
        target = HORIZON_TARGETS[horizon_years]
    wall = time.perf_counter()
    cpu = time.process_time()
    # Nothing after the last scored year exists for this backtest: a development backtest on
    # early years is then blind to the years an official one scores.
    panel = panel.as_of(last_train_year + TARGET_LEAD_YEARS + 1)
    years = range(first_train_year + TARGET_LEAD_YEARS, last_train_year + TARGET_LEAD_YEARS + 1)
    jobs = n_jobs if n_jobs is not None else min(2, os.cpu_count() or 1)
    cache, worker_cpu = (
        _shared_fits(panel, factory, years, target, jobs, threads_per_fit)
        if share_fits
        else (FitCache(), 0.0)
    )
    if share_fits and getattr(factory(), "shares_fits_serially", False):
        # The nested procedure decides what to fit as it goes (stage 2 depends on stage 1), so
        # its fits cannot be planned ahead: steps run in turn, oldest first, sharing one cache.
        # Serial costs the least CPU; the wall time is then about the CPU time.
        steps = []
        with sharing_fits(cache):
            for done, year in enumerate(years, start=1):
                steps.append(_step(panel, factory, year, target, threads_per_fit))
                if progress is not None:
                    progress(done, len(years))
    elif cache.fits:
        # Every costly fit is done; what is left per step (selection, calibration, the final
        # logit) is light and runs here, drawing on the shared fits.
        with sharing_fits(cache):
            steps = [
                _step(panel, factory, year, target, threads_per_fit) for year in reversed(years)
            ]
    else:
        # Newest (largest) training sets first, so the two workers finish together.
        steps = Parallel(n_jobs=jobs)(
            delayed(_step)(panel, factory, year, target, threads_per_fit)
            for year in reversed(years)
        )
        worker_cpu = sum(c for _, _, c, _ in steps) if jobs != 1 else 0.0
    forecasts = {f.year: f for f, _, _, _ in steps}
    selection: dict[str, int] = {}
    for _, chosen, _, _ in steps:
        if chosen is not None:
            selection[chosen] = selection.get(chosen, 0) + 1
    scored = score_forecasts(
        panel,
        forecasts,
        first_year=first_train_year + TARGET_LEAD_YEARS + 1,
        last_year=last_train_year + TARGET_LEAD_YEARS + 1,
        event=event,
        lookback_years=(1, 2) if horizon_years == 2 else (1,),
    )
    result = evaluate(scored, names=panel.country_names)
    return BacktestResult(
        model=model_name,
        first_train_year=first_train_year,
        last_train_year=last_train_year,
        seconds=round(time.perf_counter() - wall, 3),
        cpu_seconds=round(time.process_time() - cpu + worker_cpu, 3),
        selection=selection,
        horizon_years=horizon_years,
        worker_cpu_seconds=round(worker_cpu, 3),
        forecasts=[row for year in sorted(forecasts) for row in forecasts[year].rows()],
        selection_steps=sorted(
            (detail for _, _, _, detail in steps if detail), key=lambda d: d["forecast_year"]
        ),
        scored=scored,
        **result,
    )


def score_forecasts(
    panel: Panel,
    forecasts: dict[int, YearForecast],
    *,
    first_year: int,
    last_year: int,
    event: str = DEFAULT_EVENT,
    lookback_years: Sequence[int] = (1, 2),
) -> list[ScoredCountryYear]:
    """``maxrisk2`` and ``minrank2`` for every country-year in range with a known event and at
    least one forecast from the years before it given by ``lookback_years``."""
    by_key: dict[tuple[str, int], tuple[float, int]] = {}
    for forecast in forecasts.values():
        for country, p, rank in zip(
            forecast.countries, forecast.probabilities, forecast.ranks, strict=True
        ):
            by_key[(country, forecast.year)] = (p, rank)
    events = panel.outcome(event)
    scored = []
    for country, year, happened in zip(panel.countries, panel.years, events, strict=True):
        if not first_year <= year <= last_year or np.isnan(happened):
            continue
        keys = [(str(country), int(year) - lag) for lag in lookback_years]
        earlier = [by_key[k] for k in keys if k in by_key]
        if not earlier:
            continue
        scored.append(
            ScoredCountryYear(
                country=str(country),
                year=int(year),
                onset=bool(happened),
                max_risk=max(p for p, _ in earlier),
                best_rank=min(r for _, r in earlier),
            )
        )
    return scored


def evaluate(
    scored: list[ScoredCountryYear], *, names: Mapping[str, str] | None = None
) -> dict[str, Any]:
    if not scored:
        raise ValueError("no country-year has both an outcome and a forecast in that range")
    onset = np.array([s.onset for s in scored], dtype=bool)
    risk: FloatArray = np.array([s.max_risk for s in scored], dtype=np.float64)
    rank = np.array([s.best_rank for s in scored])
    n_onsets = int(onset.sum())
    both = 0 < n_onsets < len(scored)
    flagged = risk > FALSE_ALARM_THRESHOLD
    hits = int((flagged & onset).sum())
    false_alarms = int((flagged & ~onset).sum())
    recalls = {
        f"recall_at_{k}": round(float((rank[onset] <= k).mean()) if n_onsets else 0.0, 4)
        for k in RECALL_RANKS
    }
    names = names or {}
    onsets: list[dict[str, Any]] = sorted(
        (
            {
                "country": s.country,
                "name": names.get(s.country, s.country),
                "year": s.year,
                "best_rank": s.best_rank,
                "max_risk": round(s.max_risk, 4),
            }
            for s in scored
            if s.onset
        ),
        key=lambda o: (o["year"], o["country"]),
    )
    return {
        "auc": round(float(roc_auc_score(onset, risk)), 4) if both else None,
        "average_precision": round(float(average_precision_score(onset, risk)), 4)
        if both
        else None,
        "brier": round(float(brier_score_loss(onset, risk)), 5),
        **recalls,
        "n_onsets": n_onsets,
        "n_scored": len(scored),
        "hits_at_4pct": hits,
        "false_alarms_at_4pct": false_alarms,
        "false_alarms_per_hit_at_4pct": round(false_alarms / hits, 2) if hits else None,
        "missed": [o for o in onsets if o["best_rank"] > max(RECALL_RANKS)],
        "onsets": onsets,
    }
