"""The pre-registered nested selection (docs/forecasting-procedure.md) as one estimator.

``NestedSelection.fit`` makes every choice from the rows it is given: rolling-origin windows
inside them choose the feature set (stage 1, judged with the elastic-net logit), then the model
family and the logit's penalty (stage 2, on that feature set), by pooled out-of-time log loss,
the first candidate of each list kept unless another beats it by more than ``margin``. The
chosen model is then fitted on every row. In a walk-forward backtest each step fits its own
copy, so each step's choices come from its own training years only.

Sub-model fits go through the active ``FitCache`` (``estimators.sharing_fits``): a training set
recurs across steps (as an inner fold of later steps and as the final fit of an earlier one),
and identical fits are made once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.metrics import log_loss
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from earlywarn.forecasting.estimators import FitSpec, TrainingSet
from earlywarn.forecasting.panel import CIVIL_LIBERTY_CHANGES, EWP_PREDICTORS, SHOCK_CHANGES

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

# Stage 1 candidates, simplest (the default) first.
FEATURE_SETS: dict[str, tuple[str, ...]] = {
    "ewp39": EWP_PREDICTORS,
    "ewp39+shocks": (*EWP_PREDICTORS, *SHOCK_CHANGES),
    "ewp39+civil-liberties": (*EWP_PREDICTORS, *CIVIL_LIBERTY_CHANGES),
}
# Every column some feature set uses, in a stable order: what the panel must hold.
ALL_FEATURES: tuple[str, ...] = tuple(
    dict.fromkeys(name for names in FEATURE_SETS.values() for name in names)
)
# Stage 2 candidates, simplest (the default) first: family -> the sub-models it averages.
FAMILIES: dict[str, tuple[str, ...]] = {
    "logit": ("logit",),
    "boosting": ("boosting",),
    "forest": ("forest",),
    "logit+boosting": ("logit", "boosting"),
    "logit+forest": ("logit", "forest"),
}
# "saga": procedure 1's scikit-learn path; "glmnet": procedure 2's coordinate descent.
LOGIT_SOLVERS = ("saga", "glmnet")
_EPS = 1e-6


def _pooled_loss(truth: FloatArray, p: FloatArray) -> float:
    return float(log_loss(truth, np.clip(p, _EPS, 1 - _EPS), labels=[0, 1]))


def pick(losses: dict[str, float], margin: float) -> str:
    """The first candidate unless another's loss is lower by more than ``margin`` of the
    first's; then the lowest of those that are."""
    first = next(iter(losses))
    bar = losses[first] * (1 - margin)
    clear = {name: loss for name, loss in losses.items() if loss < bar}
    return min(clear, key=lambda n: clear[n]) if clear else first


class NestedSelection(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """The pre-registered procedure. ``feature_names`` names the columns of ``X`` (it must hold
    every column of every candidate feature set, and ``year``); ``lead_years`` is the distance
    between the last training row and the year forecast (2 for ``mk_onset_1or2``, 1 for
    ``mk_onset_1``), kept in the inner windows. ``feature_sets`` are (name, columns) pairs,
    the default first. The defaults are procedure 1's; ``catalog.PROCEDURES`` holds the
    settings of each pre-registered procedure."""

    # What to fit depends on what stage 1 chose: a backtest runs its steps in turn, sharing
    # one fit cache, rather than planning the fits ahead (estimators.OnsetEnsemble).
    shares_fits_serially = True

    def __init__(
        self,
        *,
        feature_names: Sequence[str] = ALL_FEATURES,
        feature_sets: Sequence[tuple[str, Sequence[str]]] = tuple(FEATURE_SETS.items()),
        families: Sequence[str] = tuple(FAMILIES),
        lead_years: int = 2,
        windows: int = 3,
        window_years: int = 3,
        margin: float = 0.01,
        Cs: Sequence[float] = (0.01, 0.03, 0.1, 0.3, 1.0),
        l1_ratio: float = 0.5,
        boosting: tuple[float, int, int, int, float] = (0.05, 200, 8, 40, 1.0),
        forest: tuple[int, int, float] = (100, 10, 0.5),
        logit_solver: str = "saga",
        glmnet_tol: float = 1e-5,
        fixed_choices: Mapping[int, tuple[str, str, float]] | None = None,
        random_state: int | None = 0,
    ) -> None:
        self.feature_names = feature_names
        self.feature_sets = feature_sets
        self.families = families
        self.lead_years = lead_years
        self.windows = windows
        self.window_years = window_years
        self.margin = margin
        self.Cs = Cs
        self.l1_ratio = l1_ratio
        self.boosting = boosting
        self.forest = forest
        self.logit_solver = logit_solver
        self.glmnet_tol = glmnet_tol
        self.fixed_choices = fixed_choices
        self.random_state = random_state

    # -- specifications (the keys of shared fits) ------------------------------------------
    def _path_spec(self) -> FitSpec:
        if self.logit_solver == "glmnet":
            # Procedure 2: the same penalties by coordinate descent (glmnet_path); deterministic
            # without a seed.
            return ("glmnet-path", tuple(sorted(self.Cs)), self.l1_ratio, self.glmnet_tol)
        return ("logit-path", tuple(sorted(self.Cs)), self.l1_ratio, self.random_state)

    def _part_spec(self, part: str) -> FitSpec:
        if part == "boosting":
            return ("boosting", *self.boosting, self.random_state)
        if part == "forest":
            return ("forest", *self.forest, self.random_state)
        raise ValueError(part)

    def _columns(self, feature_set: str) -> npt.NDArray[np.int64]:
        names = list(self.feature_names)
        wanted = dict(self.feature_sets)[feature_set]
        missing = [c for c in wanted if c not in names]
        if missing:
            raise ValueError(f"feature set {feature_set!r} needs columns {missing}")
        return np.array([names.index(c) for c in wanted], dtype=np.int64)

    def _check_params(self) -> None:
        if not self.feature_sets:
            raise ValueError("feature_sets must name at least one (name, columns) set")
        if not self.families or set(self.families) - set(FAMILIES):
            raise ValueError(f"families must be a non-empty subset of {tuple(FAMILIES)}")
        if self.logit_solver not in LOGIT_SOLVERS:
            raise ValueError(f"logit_solver must be one of {LOGIT_SOLVERS}")
        if "year" not in self.feature_names:
            raise ValueError("the inner windows need the 'year' column")

    def inner_windows(
        self, years: FloatArray, y: npt.NDArray[np.int64]
    ) -> list[tuple[BoolArray, BoolArray]]:
        """(training rows, validation rows) of each usable rolling-origin window, newest first."""
        last = float(np.max(years))
        out = []
        for k in range(self.windows):
            end = last - k * self.window_years
            start = end - self.window_years + 1
            train = years <= start - self.lead_years
            val = (years >= start) & (years <= end)
            if len(np.unique(y[train])) == 2 and len(np.unique(y[val])) == 2:
                out.append((train, val))
        return out

    # -- fitting ---------------------------------------------------------------------------
    def fit(self, X: Any, y: Any) -> NestedSelection:
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        self.classes_, encoded = np.unique(y, return_inverse=True)
        if len(self.classes_) != 2:
            raise ValueError(
                f"Only binary classification is supported. NestedSelection got "
                f"{len(self.classes_)} class(es)."
            )
        self._check_params()
        target = encoded.astype(np.int64)
        years = X[:, list(self.feature_names).index("year")]
        folds = self.inner_windows(years, target)
        self.n_windows_ = len(folds)
        self.feature_set_losses_: dict[str, float] = {}
        self.family_losses_: dict[str, float] = {}
        # The year these rows forecast: the newest labelled row plus the lead.
        self.forecast_year_ = int(np.max(years)) + self.lead_years
        fixed = (self.fixed_choices or {}).get(self.forecast_year_)
        # Per inner window, the chosen family's fitted parts: the spread's members.
        self.window_models_: list[list[Any]] = []
        if fixed is not None:
            # Amendment 1: the one-year model takes the two-year choices of the same year.
            self.feature_set_, self.family_, self.C_ = fixed[0], fixed[1], float(fixed[2])
            self.n_windows_ = 0
            # No selection, but the interval's members all the same: the fixed choice fitted
            # in each inner window (the point forecast is the full fit's, as without them).
            self.window_models_ = self._window_fits(X, target, folds)
        elif folds:
            truth = np.concatenate([target[val] for _, val in folds]).astype(np.float64)
            self.feature_set_, self.C_, logit_pred = self._stage_one(X, target, folds, truth)
            self.family_ = self._stage_two(X, target, folds, truth, logit_pred)
        else:
            # Too little history for an out-of-time window: the defaults (documented).
            self.feature_set_ = self.feature_sets[0][0]
            self.family_ = self.families[0]
            self.C_ = float(np.median(self.Cs))
        self.selected_ = f"{self.feature_set_} / {self.family_}"
        self.columns_ = self._columns(self.feature_set_)
        everything = TrainingSet(X[:, self.columns_], target)
        self.models_: list[Any] = []
        for part in FAMILIES[self.family_]:
            if part == "logit":
                self.models_.append(everything.fit(self._path_spec()).models[self.C_])
            else:
                self.models_.append(everything.fit(self._part_spec(part)))
        return self

    def _window_fits(
        self, X: FloatArray, target: npt.NDArray[np.int64], folds: list[tuple[BoolArray, BoolArray]]
    ) -> list[list[Any]]:
        """The chosen family's parts fitted on each inner window's training rows."""
        cols = self._columns(self.feature_set_)
        members = []
        for train, _ in folds:
            rows = TrainingSet(X[train][:, cols], target[train])
            members.append(
                [
                    rows.fit(self._path_spec()).models[self.C_]
                    if part == "logit"
                    else rows.fit(self._part_spec(part))
                    for part in FAMILIES[self.family_]
                ]
            )
        return members

    def _stage_one(
        self,
        X: FloatArray,
        target: npt.NDArray[np.int64],
        folds: list[tuple[BoolArray, BoolArray]],
        truth: FloatArray,
    ) -> tuple[str, float, FloatArray]:
        """The feature set and the logit's penalty; also the chosen logit's inner predictions."""
        best: dict[str, tuple[float, FloatArray]] = {}
        self._paths: dict[str, list[Any]] = {}
        for name, _ in self.feature_sets:
            cols = self._columns(name)
            preds: dict[float, list[FloatArray]] = {c: [] for c in self.Cs}
            self._paths[name] = []
            for train, val in folds:
                path = TrainingSet(X[train][:, cols], target[train]).fit(self._path_spec())
                self._paths[name].append(path)
                for c in self.Cs:
                    preds[c].append(path.models[c].predict_proba(X[val][:, cols])[:, 1])
            losses = {c: _pooled_loss(truth, np.concatenate(p)) for c, p in preds.items()}
            c_best = min(losses, key=lambda c: losses[c])
            best[name] = (c_best, np.concatenate(preds[c_best]))
            self.feature_set_losses_[name] = losses[c_best]
        chosen = pick(self.feature_set_losses_, self.margin)
        return chosen, float(best[chosen][0]), best[chosen][1]

    def _stage_two(
        self,
        X: FloatArray,
        target: npt.NDArray[np.int64],
        folds: list[tuple[BoolArray, BoolArray]],
        truth: FloatArray,
        logit_pred: FloatArray,
    ) -> str:
        cols = self._columns(self.feature_set_)
        parts_needed = {part for f in self.families for part in FAMILIES[f]} - {"logit"}
        pooled: dict[str, FloatArray] = {"logit": logit_pred}
        fitted: dict[str, list[Any]] = {
            "logit": [path.models[self.C_] for path in self._paths.pop(self.feature_set_)]
        }
        self._paths.clear()
        for part in sorted(parts_needed):
            spec = self._part_spec(part)
            fitted[part] = [
                TrainingSet(X[train][:, cols], target[train]).fit(spec) for train, _ in folds
            ]
            pooled[part] = np.concatenate(
                [
                    model.predict_proba(X[val][:, cols])[:, 1]
                    for model, (_, val) in zip(fitted[part], folds, strict=True)
                ]
            )
        for family in self.families:
            p = np.mean([pooled[part] for part in FAMILIES[family]], axis=0)
            self.family_losses_[family] = _pooled_loss(truth, p)
        chosen = pick(self.family_losses_, self.margin)
        self.window_models_ = [
            [fitted[part][k] for part in FAMILIES[chosen]] for k in range(len(folds))
        ]
        return chosen

    # -- prediction ------------------------------------------------------------------------
    def member_probabilities(self, X: Any) -> FloatArray:
        """Each fitted sub-model's probability (rows x sub-models)."""
        check_is_fitted(self, "selected_")
        X = validate_data(self, X, dtype=np.float64, reset=False)
        cols = X[:, self.columns_]
        return np.column_stack([m.predict_proba(cols)[:, 1] for m in self.models_])

    def spread_members(self, X: Any) -> FloatArray:
        """Forecasts of the chosen model (column 0) and of the same choice fitted in each inner
        window, on the rows up to that window (rows x members): the ensemble whose spread is
        the interval (docs/forecasting-procedure.md, "Intervals")."""
        point = self.predict_proba(X)[:, 1]
        X = validate_data(self, X, dtype=np.float64, reset=False)
        cols = X[:, self.columns_]
        members = [point]
        for parts in self.window_models_:
            members.append(np.mean([m.predict_proba(cols)[:, 1] for m in parts], axis=0))
        return np.column_stack(members)

    def predict_proba(self, X: Any) -> FloatArray:
        p = np.asarray(self.member_probabilities(X).mean(axis=1), dtype=np.float64)
        return np.column_stack([1 - p, p])

    def predict(self, X: Any) -> npt.NDArray[Any]:
        p = self.predict_proba(X)[:, 1]
        return np.asarray(self.classes_[(p >= 0.5).astype(int)])

    def choice(self) -> tuple[str, str, float]:
        """(feature set, family, penalty): what ``fixed_choices`` takes."""
        check_is_fitted(self, "selected_")
        return (self.feature_set_, self.family_, self.C_)

    def selection_report(self) -> dict[str, Any]:
        check_is_fitted(self, "selected_")
        return {
            "fixed": self.fixed_choices is not None and self.forecast_year_ in self.fixed_choices,
            "feature_set": self.feature_set_,
            "family": self.family_,
            "C": self.C_,
            "inner_windows": self.n_windows_,
            "feature_set_log_loss": {k: round(v, 5) for k, v in self.feature_set_losses_.items()},
            "family_log_loss": {k: round(v, 5) for k, v in self.family_losses_.items()},
        }

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        tags.input_tags.allow_nan = False
        return tags
