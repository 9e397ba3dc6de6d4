"""Onset models as scikit-learn estimators.

- ``ewp_reference_model``: the Early Warning Project's model (glmnet elastic-net logistic
  regression, alpha 0.5, lambda by 10-fold cross-validation), to check the protocol against
  EWP's published figures.
- ``OnsetEnsemble``: earlywarn's model. An elastic-net logit and a gradient-boosted tree model
  (HistGradientBoostingClassifier) and their average are the candidates; the logit's penalty
  and the candidate are chosen by *time-ordered* validation inside the training data only
  (train on years up to s, validate on s+2 .. s+1+fold_years, like the outer protocol), and the
  chosen candidate's probabilities are Platt-calibrated on those out-of-time predictions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
from sklearn.metrics import log_loss
from sklearn.model_selection import KFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

FloatArray = npt.NDArray[np.float64]

CANDIDATES = ("logit", "boosting", "average")
_EPS = 1e-6


def ewp_reference_model(random_state: int | None = 0) -> Pipeline:
    """EWP's elastic-net logit: standardised inputs (as glmnet does), l1 share 0.5, penalty by
    10-fold CV on deviance (glmnet's default ``type.measure`` for a binomial model)."""
    return make_pipeline(
        StandardScaler(),
        LogisticRegressionCV(
            Cs=20,
            l1_ratios=(0.5,),
            solver="saga",
            # cv.glmnet assigns rows to folds at random (not stratified, not in file order).
            cv=KFold(10, shuffle=True, random_state=random_state),
            scoring="neg_log_loss",
            max_iter=2000,
            tol=1e-3,
            random_state=random_state,
            use_legacy_attributes=False,
        ),
    )


def _logit(c: float, l1_ratio: float, random_state: int | None) -> Pipeline:
    return make_pipeline(
        StandardScaler(),
        LogisticRegression(
            C=c,
            l1_ratio=l1_ratio,
            solver="saga",
            max_iter=2000,
            tol=1e-3,
            random_state=random_state,
        ),
    )


def _clip(p: FloatArray) -> FloatArray:
    return np.clip(p, _EPS, 1 - _EPS)


def _logit_of(p: FloatArray) -> FloatArray:
    q = _clip(p)
    return np.log(q / (1 - q))


class OnsetEnsemble(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """Elastic-net logit + gradient boosting, chosen and calibrated out of time.

    ``year_column`` is the index of the column holding the row's year; without it the rows are
    taken to be in time order and split into ten equal periods.
    """

    def __init__(
        self,
        *,
        Cs: Sequence[float] = (0.01, 0.03, 0.1, 0.3, 1.0),
        l1_ratio: float = 0.5,
        learning_rate: float = 0.05,
        max_iter: int = 200,
        max_leaf_nodes: int = 8,
        min_samples_leaf: int = 40,
        l2_regularization: float = 1.0,
        candidates: Sequence[str] = CANDIDATES,
        inner_folds: int = 3,
        fold_years: int = 3,
        gap_years: int = 1,
        calibrate: bool = True,
        year_column: int | None = None,
        random_state: int | None = None,
    ) -> None:
        self.Cs = Cs
        self.l1_ratio = l1_ratio
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.candidates = candidates
        self.inner_folds = inner_folds
        self.fold_years = fold_years
        self.gap_years = gap_years
        self.calibrate = calibrate
        self.year_column = year_column
        self.random_state = random_state

    def _boosting(self) -> HistGradientBoostingClassifier:
        return HistGradientBoostingClassifier(
            learning_rate=self.learning_rate,
            max_iter=self.max_iter,
            max_leaf_nodes=self.max_leaf_nodes,
            min_samples_leaf=self.min_samples_leaf,
            l2_regularization=self.l2_regularization,
            early_stopping=False,
            random_state=self.random_state,
        )

    def _periods(self, X: FloatArray) -> FloatArray:
        if self.year_column is not None:
            return np.asarray(X[:, self.year_column], dtype=np.float64)
        return np.floor(np.arange(len(X)) * 10 / max(len(X), 1)).astype(np.float64)

    def _inner_folds(
        self, periods: FloatArray, y: npt.NDArray[np.int64]
    ) -> list[tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]]:
        """Forward-chaining splits: validate on the last ``fold_years`` periods, then the ones
        before, ...; train on periods ending ``gap_years`` before each validation window."""
        last = float(np.max(periods))
        folds = []
        for k in range(self.inner_folds):
            val_end = last - k * self.fold_years
            val_start = val_end - self.fold_years + 1
            train = periods <= val_start - self.gap_years - 1
            val = (periods >= val_start) & (periods <= val_end)
            if len(np.unique(y[train])) == 2 and len(np.unique(y[val])) == 2:
                folds.append((train, val))
        return folds

    def fit(self, X: Any, y: Any) -> OnsetEnsemble:
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        self.classes_, encoded = np.unique(y, return_inverse=True)
        if len(self.classes_) != 2:
            raise ValueError(
                f"Only binary classification is supported. OnsetEnsemble got "
                f"{len(self.classes_)} class(es)."
            )
        unknown = set(self.candidates) - set(CANDIDATES)
        if unknown or not self.candidates:
            raise ValueError(f"candidates must be a non-empty subset of {CANDIDATES}")
        target = encoded.astype(np.int64)
        folds = self._inner_folds(self._periods(X), target)
        self.inner_scores_: dict[str, float] = {}
        cs = list(self.Cs)
        use_logit = any(c in ("logit", "average") for c in self.candidates)
        use_boost = any(c in ("boosting", "average") for c in self.candidates)
        if folds:
            truth = np.concatenate([target[val] for _, val in folds])
            logit_preds: dict[float, list[FloatArray]] = {c: [] for c in cs} if use_logit else {}
            boost_preds: list[FloatArray] = []
            for train, val in folds:
                for c in logit_preds:
                    model = _logit(c, self.l1_ratio, self.random_state)
                    model.fit(X[train], target[train])
                    logit_preds[c].append(model.predict_proba(X[val])[:, 1])
                if use_boost:
                    booster = self._boosting().fit(X[train], target[train])
                    boost_preds.append(booster.predict_proba(X[val])[:, 1])
            pooled: dict[str, FloatArray] = {}
            if use_logit:
                losses = {
                    c: log_loss(truth, np.concatenate(p), labels=[0, 1])
                    for c, p in logit_preds.items()
                }
                self.C_ = float(min(losses, key=lambda c: losses[c]))
                pooled["logit"] = np.concatenate(logit_preds[self.C_])
            if use_boost:
                pooled["boosting"] = np.concatenate(boost_preds)
            if "average" in self.candidates:
                pooled["average"] = (pooled["logit"] + pooled["boosting"]) / 2
            for name in self.candidates:
                self.inner_scores_[name] = float(log_loss(truth, pooled[name], labels=[0, 1]))
            self.selected_ = min(self.inner_scores_, key=lambda n: self.inner_scores_[n])
            chosen = pooled[self.selected_]
        else:
            # Too little history for an out-of-time split: no selection, no calibration.
            self.C_ = float(np.median(cs))
            self.selected_ = "average" if "average" in self.candidates else self.candidates[0]
            chosen = truth = np.empty(0)
        self.calibrator_: LogisticRegression | None = None
        if self.calibrate and len(truth) and len(np.unique(truth)) == 2:
            self.calibrator_ = LogisticRegression(C=1e4).fit(
                _logit_of(chosen).reshape(-1, 1), truth
            )
        self.logit_: Pipeline | None = None
        self.boosting_: HistGradientBoostingClassifier | None = None
        if self.selected_ in ("logit", "average"):
            self.logit_ = _logit(self.C_, self.l1_ratio, self.random_state).fit(X, target)
        if self.selected_ in ("boosting", "average"):
            self.boosting_ = self._boosting().fit(X, target)
        # scikit-learn's convention for estimators with max_iter: iterations actually run.
        iterations = [int(np.max(self.logit_[-1].n_iter_))] if self.logit_ is not None else []
        if self.boosting_ is not None:
            iterations.append(int(self.boosting_.n_iter_))
        self.n_iter_ = max(iterations)
        return self

    def _raw(self, X: FloatArray) -> FloatArray:
        parts = [m.predict_proba(X)[:, 1] for m in (self.logit_, self.boosting_) if m is not None]
        return np.asarray(np.mean(parts, axis=0), dtype=np.float64)

    def predict_proba(self, X: Any) -> FloatArray:
        check_is_fitted(self, "selected_")
        X = validate_data(self, X, dtype=np.float64, reset=False)
        p = self._raw(X)
        if self.calibrator_ is not None:
            p = self.calibrator_.predict_proba(_logit_of(p).reshape(-1, 1))[:, 1]
        return np.column_stack([1 - p, p])

    def predict(self, X: Any) -> npt.NDArray[Any]:
        p = self.predict_proba(X)[:, 1]
        return np.asarray(self.classes_[(p >= 0.5).astype(int)])

    def decision_function(self, X: Any) -> FloatArray:
        return _logit_of(self.predict_proba(X)[:, 1])

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        tags.input_tags.allow_nan = False
        return tags


MODEL_NAMES = ("ensemble", "logit", "boosting", "ewp-reference")


def make_model(name: str, feature_names: Sequence[str], *, random_state: int = 0) -> BaseEstimator:
    """A fresh, unfitted model by name; the ensemble finds the year column by name."""
    year_column = list(feature_names).index("year") if "year" in feature_names else None
    if name == "ensemble":
        return OnsetEnsemble(year_column=year_column, random_state=random_state)
    if name in ("logit", "boosting"):
        return OnsetEnsemble(candidates=(name,), year_column=year_column, random_state=random_state)
    if name == "ewp-reference":
        return ewp_reference_model(random_state)
    raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODEL_NAMES)}")
