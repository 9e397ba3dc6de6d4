"""Onset models as scikit-learn estimators.

- ``EwpReference`` (in ``ewp_reference``): the Early Warning Project's model as its R code
  fits it, to check the protocol against EWP's published figures.
- ``OnsetEnsemble``: earlywarn's model. An elastic-net logit and a gradient-boosted tree model
  (HistGradientBoostingClassifier) and their average are the candidates (a random forest and
  its average with the logit on request); the logit's penalty and the candidate are chosen by
  *time-ordered* validation inside the training data only (train on years up to s, validate
  on s+2 .. s+1+fold_years, like the outer protocol), and the chosen candidate's probabilities
  are optionally Platt-calibrated on those out-of-time predictions.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data
from threadpoolctl import threadpool_limits

from earlywarn.forecasting.ewp_reference import EwpReference, glmnet_column_order
from earlywarn.forecasting.glmnet_path import GlmnetPath

FloatArray = npt.NDArray[np.float64]

CANDIDATES = ("logit", "boosting", "average")
# Candidate -> the sub-models it combines. ``forest`` and ``logit+forest`` (EWP's earlier
# published ensemble averaged a logit and a random forest) are opt-in.
CANDIDATE_PARTS: dict[str, tuple[str, ...]] = {
    "logit": ("logit",),
    "boosting": ("boosting",),
    "average": ("logit", "boosting"),
    "forest": ("forest",),
    "logit+forest": ("logit", "forest"),
}
COMBINATIONS = ("probability", "log-odds")
_EPS = 1e-6

# A sub-model specification: ("logit", C, l1_ratio, random_state),
# ("logit-path", (C, ...), l1_ratio, random_state) (one logit per C, each warm-started from the
# previous, stronger penalty), ("glmnet-path", (C, ...), l1_ratio, tol) (the same by glmnet),
# ("boosting", learning_rate, max_iter, max_leaf_nodes, min_samples_leaf, l2, random_state) or
# ("forest", n_estimators, min_samples_leaf, max_samples, random_state).
FitSpec = tuple[Any, ...]
FitKey = tuple[FitSpec, str]


@contextmanager
def fit_threads(threads: int | None = 1) -> Iterator[None]:
    """Run the fits inside with at most ``threads`` threads in every native thread pool
    (OpenMP: gradient boosting; BLAS: numpy's and scipy's OpenBLAS); ``None`` leaves the
    libraries' defaults. The fits here are small (a few thousand rows): extra threads mostly
    spin waiting for work, and OpenBLAS's spin after every matrix product on the default two
    threads alone cost ewp-reference about a fifth more CPU (benchmarks/forecast_threads.py).
    Every sub-model's result is independent of the thread count (tested)."""
    if threads is None:
        yield
        return
    with threadpool_limits(limits=threads):
        yield


def data_digest(X: FloatArray, y: npt.NDArray[Any]) -> str:
    """SHA-256 of a training set's exact bytes (shape included)."""
    sha = hashlib.sha256(repr((X.shape, X.dtype.str, y.shape, y.dtype.str)).encode())
    sha.update(np.ascontiguousarray(X).tobytes())
    sha.update(np.ascontiguousarray(y).tobytes())
    return sha.hexdigest()


class LogitPath:
    """Elastic-net logits along increasing ``Cs``, each fit starting from the previous one's
    coefficients (saga then needs far fewer passes for weak penalties); one scaler for all.
    ``fit`` returns the path; ``models[C]`` are ordinary fitted pipelines."""

    def __init__(self, cs: Sequence[float], l1_ratio: float, random_state: int | None) -> None:
        self.cs = tuple(sorted(cs))
        self.l1_ratio = l1_ratio
        self.random_state = random_state
        self.models: dict[float, Pipeline] = {}

    def fit(self, X: FloatArray, y: npt.NDArray[Any]) -> LogitPath:
        scaler = StandardScaler().fit(X)
        scaled = scaler.transform(X)
        logit = _logit(self.cs[0], self.l1_ratio, self.random_state)[-1]
        logit.set_params(warm_start=True)
        for c in self.cs:
            logit.set_params(C=c).fit(scaled, y)
            self.models[c] = Pipeline(
                [("standardscaler", scaler), ("logisticregression", copy.deepcopy(logit))]
            )
        return self


def build_submodel(spec: FitSpec) -> Any:
    """A fresh, unfitted sub-model from its specification."""
    if spec[0] == "logit":
        _, c, l1_ratio, random_state = spec
        return _logit(c, l1_ratio, random_state)
    if spec[0] == "logit-path":
        _, cs, l1_ratio, random_state = spec
        return LogitPath(cs, l1_ratio, random_state)
    if spec[0] == "glmnet-path":
        return GlmnetPath(spec[1], spec[2], spec[3])
    if spec[0] == "boosting":
        _, rate, iterations, leaves, min_leaf, l2, random_state = spec
        return HistGradientBoostingClassifier(
            learning_rate=rate,
            max_iter=iterations,
            max_leaf_nodes=leaves,
            min_samples_leaf=min_leaf,
            l2_regularization=l2,
            early_stopping=False,
            random_state=random_state,
        )
    if spec[0] == "forest":
        _, trees, min_leaf, max_samples, random_state = spec
        return RandomForestClassifier(
            n_estimators=trees,
            min_samples_leaf=min_leaf,
            max_samples=max_samples,
            n_jobs=1,
            random_state=random_state,
        )
    raise ValueError(f"unknown sub-model {spec[0]!r}")


class FitCache:
    """Fitted sub-models keyed by their specification and the exact bytes of their training
    data, so walk-forward steps whose inner folds (or final fits) train on *identical* data
    share one fit. Sub-models are deterministic given ``random_state``, so a cached fit is the
    fit that would have been made; only exact repeats hit."""

    def __init__(self) -> None:
        self.fits: dict[FitKey, Any] = {}
        self.hits = 0
        self.misses = 0

    def fitted(self, spec: FitSpec, digest: str, X: FloatArray, y: npt.NDArray[Any]) -> Any:
        key = (spec, digest)
        model = self.fits.get(key)
        if model is None:
            self.misses += 1
            model = self.fits[key] = build_submodel(spec).fit(X, y)
        else:
            self.hits += 1
        return model


_ACTIVE_CACHE: ContextVar[FitCache | None] = ContextVar("earlywarn_fit_cache", default=None)


@contextmanager
def sharing_fits(cache: FitCache) -> Iterator[FitCache]:
    """Within this block, ``OnsetEnsemble.fit`` takes sub-model fits from ``cache``. Fitted
    sub-models are shared between ensembles, so use it only where they are not refitted (the
    backtest)."""
    token = _ACTIVE_CACHE.set(cache)
    try:
        yield cache
    finally:
        _ACTIVE_CACHE.reset(token)


class TrainingSet:
    """One training set's sub-model fits, through the active ``FitCache`` if there is one
    (the data are hashed once, however many sub-models train on them)."""

    def __init__(self, X: FloatArray, y: npt.NDArray[np.int64]) -> None:
        self.X = X
        self.y = y
        self._digest: str | None = None

    def fit(self, spec: FitSpec) -> Any:
        cache = _ACTIVE_CACHE.get()
        if cache is None:
            return build_submodel(spec).fit(self.X, self.y)
        if self._digest is None:
            self._digest = data_digest(self.X, self.y)
        return cache.fitted(spec, self._digest, self.X, self.y)


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


def encoded_target(y: Any) -> npt.NDArray[np.int64]:
    """The 0/1 labels ``fit`` trains its sub-models on."""
    return np.unique(np.asarray(y), return_inverse=True)[1].astype(np.int64)


def _clip(p: FloatArray) -> FloatArray:
    return np.clip(p, _EPS, 1 - _EPS)


def _logit_of(p: FloatArray) -> FloatArray:
    q = _clip(p)
    return np.log(q / (1 - q))


class OnsetEnsemble(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """Elastic-net logit + gradient boosting (+ optionally a random forest), chosen and
    calibrated out of time.

    ``year_column`` is the index of the column holding the row's year; without it the rows are
    taken to be in time order and split into ten equal periods. ``combine`` says how a
    candidate with several parts averages them: their probabilities or their log-odds.
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
        forest_trees: int = 100,
        forest_min_samples_leaf: int = 10,
        forest_max_samples: float = 0.5,
        warm_start_path: bool = False,
        candidates: Sequence[str] = CANDIDATES,
        combine: str = "probability",
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
        self.forest_trees = forest_trees
        self.forest_min_samples_leaf = forest_min_samples_leaf
        self.forest_max_samples = forest_max_samples
        self.warm_start_path = warm_start_path
        self.candidates = candidates
        self.combine = combine
        self.inner_folds = inner_folds
        self.fold_years = fold_years
        self.gap_years = gap_years
        self.calibrate = calibrate
        self.year_column = year_column
        self.random_state = random_state

    def _boosting_spec(self) -> FitSpec:
        return (
            "boosting",
            self.learning_rate,
            self.max_iter,
            self.max_leaf_nodes,
            self.min_samples_leaf,
            self.l2_regularization,
            self.random_state,
        )

    def _forest_spec(self) -> FitSpec:
        return (
            "forest",
            self.forest_trees,
            self.forest_min_samples_leaf,
            self.forest_max_samples,
            self.random_state,
        )

    def _logit_spec(self, c: float) -> FitSpec:
        return ("logit", c, self.l1_ratio, self.random_state)

    def _path_spec(self, also: float | None = None) -> FitSpec:
        cs = {*self.Cs} if also is None else {*self.Cs, also}
        return ("logit-path", tuple(sorted(cs)), self.l1_ratio, self.random_state)

    def _logit_specs(self) -> list[FitSpec]:
        """What the inner folds fit for the logit: one model per penalty, or one path."""
        if "logit" not in self._parts():
            return []
        if self.warm_start_path:
            return [self._path_spec()]
        return [self._logit_spec(c) for c in self.Cs]

    def _parts(self) -> set[str]:
        """The sub-models some candidate needs."""
        return {part for name in self.candidates for part in CANDIDATE_PARTS[name]}

    def _tree_specs(self) -> list[FitSpec]:
        parts = self._parts()
        specs = [self._boosting_spec()] if "boosting" in parts else []
        return specs + ([self._forest_spec()] if "forest" in parts else [])

    def _check_params(self) -> None:
        unknown = set(self.candidates) - set(CANDIDATE_PARTS)
        if unknown or not self.candidates:
            raise ValueError(f"candidates must be a non-empty subset of {tuple(CANDIDATE_PARTS)}")
        if self.combine not in COMBINATIONS:
            raise ValueError(f"combine must be one of {COMBINATIONS}")

    def planned_fits(self, X: Any, y: Any) -> list[tuple[npt.NDArray[np.bool_], list[FitSpec]]]:
        """The sub-model fits ``fit`` will need whatever it selects (training rows, the
        specifications fitted on them), so a backtest can run the distinct ones in parallel
        beforehand. The final logit is left out: its penalty is known only after selection
        (a cheap fit, made on demand)."""
        self._check_params()
        X = np.asarray(X, dtype=np.float64)
        if len(np.unique(np.asarray(y))) != 2:
            return []
        folds = self._inner_folds(self._periods(X), encoded_target(y))
        trees = self._tree_specs()
        inner = self._logit_specs()
        plan = [(train, inner + trees) for train, _ in folds]
        # A warm-started path is one fit whatever penalty is chosen: plan it for the final
        # fit too.
        final = trees + (inner if self.warm_start_path else [])
        if final:
            plan.append((np.ones(len(X), dtype=np.bool_), final))
        return plan

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

    def _combined(self, parts: Sequence[FloatArray]) -> FloatArray:
        if len(parts) == 1:
            return parts[0]
        if self.combine == "log-odds":
            mean = np.mean([_logit_of(p) for p in parts], axis=0)
            return np.asarray(1 / (1 + np.exp(-mean)), dtype=np.float64)
        return np.asarray(np.mean(parts, axis=0), dtype=np.float64)

    def fit(self, X: Any, y: Any) -> OnsetEnsemble:
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        self.classes_, encoded = np.unique(y, return_inverse=True)
        if len(self.classes_) != 2:
            raise ValueError(
                f"Only binary classification is supported. OnsetEnsemble got "
                f"{len(self.classes_)} class(es)."
            )
        self._check_params()
        target = encoded.astype(np.int64)
        folds = self._inner_folds(self._periods(X), target)
        self.inner_scores_: dict[str, float] = {}
        cs = list(self.Cs)
        parts = self._parts()
        trees = self._tree_specs()
        if folds:
            truth = np.concatenate([target[val] for _, val in folds])
            logit_preds: dict[float, list[FloatArray]] = (
                {c: [] for c in cs} if "logit" in parts else {}
            )
            tree_preds: dict[str, list[FloatArray]] = {spec[0]: [] for spec in trees}
            for train, val in folds:
                fold = TrainingSet(X[train], target[train])
                path = fold.fit(self._path_spec()) if logit_preds and self.warm_start_path else None
                for c in logit_preds:
                    model = path.models[c] if path is not None else fold.fit(self._logit_spec(c))
                    logit_preds[c].append(model.predict_proba(X[val])[:, 1])
                for spec in trees:
                    tree_preds[spec[0]].append(fold.fit(spec).predict_proba(X[val])[:, 1])
            pooled: dict[str, FloatArray] = {k: np.concatenate(v) for k, v in tree_preds.items()}
            if logit_preds:
                losses = {
                    c: log_loss(truth, np.concatenate(p), labels=[0, 1])
                    for c, p in logit_preds.items()
                }
                self.C_ = float(min(losses, key=lambda c: losses[c]))
                pooled["logit"] = np.concatenate(logit_preds[self.C_])
            for name in self.candidates:
                p = self._combined([pooled[part] for part in CANDIDATE_PARTS[name]])
                self.inner_scores_[name] = float(log_loss(truth, p, labels=[0, 1]))
            self.selected_ = min(self.inner_scores_, key=lambda n: self.inner_scores_[n])
            chosen = self._combined([pooled[part] for part in CANDIDATE_PARTS[self.selected_]])
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
        self.forest_: RandomForestClassifier | None = None
        everything = TrainingSet(X, target)
        selected_parts = CANDIDATE_PARTS[self.selected_]
        if "logit" in selected_parts:
            self.logit_ = (
                # ``also``: without inner folds C_ is the median penalty, maybe not on the path.
                everything.fit(self._path_spec(also=self.C_)).models[self.C_]
                if self.warm_start_path
                else everything.fit(self._logit_spec(self.C_))
            )
        if "boosting" in selected_parts:
            self.boosting_ = everything.fit(self._boosting_spec())
        if "forest" in selected_parts:
            self.forest_ = everything.fit(self._forest_spec())
        # scikit-learn's convention for estimators with max_iter: iterations actually run.
        iterations = [int(np.max(self.logit_[-1].n_iter_))] if self.logit_ is not None else []
        if self.boosting_ is not None:
            iterations.append(int(self.boosting_.n_iter_))
        self.n_iter_ = max(iterations, default=0)
        return self

    def _raw(self, X: FloatArray) -> FloatArray:
        models = (self.logit_, self.boosting_, self.forest_)
        return self._combined([m.predict_proba(X)[:, 1] for m in models if m is not None])

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
        # No Platt step, and the logit's penalties as one warm-started path: both chosen on the
        # development backtest (1970-1989, nothing after 1991) by the rules pre-registered in
        # benchmarks/forecast_dev.py, never on the scored years.
        return OnsetEnsemble(
            calibrate=False,
            warm_start_path=True,
            year_column=year_column,
            random_state=random_state,
        )
    if name in ("logit", "boosting"):
        return OnsetEnsemble(candidates=(name,), year_column=year_column, random_state=random_state)
    if name == "ewp-reference":
        return EwpReference(column_order=glmnet_column_order(feature_names))
    raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODEL_NAMES)}")
