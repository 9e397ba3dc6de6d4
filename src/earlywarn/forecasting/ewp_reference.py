"""The Early Warning Project's model, as its R code fits it, to check the protocol against EWP.

EWP's ``elogit.fit`` (2025 Statistical Risk Assessment, ``3.Modeling/model_3Sep2025.R``) runs
``set.seed(90035)`` then ``cv.glmnet(x, y, alpha = 0.5, family = "binomial")`` with glmnet's
defaults (predictors standardised inside glmnet, 100 penalties log-spaced from the smallest
that zeroes every coefficient down to 1e-4 of it, the path cut short when the deviance explained
stops growing, 10 folds, binomial deviance) and predicts at ``lambda.min``. Here:

- the fits are glmnet's own coordinate descent (the ``python-glmnet`` wrapper of its Fortran),
  so the path, the early stop and the coefficients are glmnet's, not a look-alike's;
- the folds are R's: ``sample(rep(1:10, length = n))`` after ``set.seed(90035)``, with R's
  Mersenne-Twister seeding and its rejection sampling (R >= 3.6) reproduced in numpy, applied to
  the training rows in the EWP file's order (country code, then year; ``fit`` takes them in that
  order, see ``ewp_row_order``);
- cross-validation is cv.glmnet's: every fold refits on the full fit's penalties (no early stop),
  held-out deviance with probabilities clipped to [1e-5, 1 - 1e-5], averaged over all rows;
  ``lambda.min`` is the largest penalty reaching the minimum;
- the predictors reach glmnet in EWP's column order (``EWP_GLMNET_COLUMNS``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from glmnet import LogitNet
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from earlywarn.forecasting.panel import Panel

FloatArray = npt.NDArray[np.float64]

EWP_SEED = 90035  # set.seed() in EWP's elogit.fit
# The predictors in the order of EWP's ``predictornames.fullest``: glmnet cycles through the
# columns in this order, and the order moves its solution within its tolerance (enough to
# change lambda.min in a near tie), so the reference hands glmnet the columns in EWP's order.
EWP_GLMNET_COLUMNS = (
    "widetargeting", "narrowtargeting", "v2csgender_binary", "v2mecenefm_binary",
    "partyban.new.0", "partyban.new.1", "partyban.new.2", "minorityrule", "judicialreform",
    "religiousfreedom", "pol_killing_approved", "freediscussion", "social_inequality",
    "even_civilrights", "repress_civilsoc", "social_power_dist", "ses_power_dist",
    "popsize.log2", "gdppcgrowth", "un_imr_sqrt", "efindex", "discrimpop", "reg.na", "reg.eap",
    "reg.sca", "reg.mna", "reg.eur", "ios.iccpr1", "battledeaths.log2", "coup.try.5yr",
    "mk_ongoing_count_log2", "mean_mk_onset_interaction", "mk_onset_prev_year", "newcountry",
    "mk_ever", "year_sq", "year", "countryage.new.log2", "includesnonstate",
)  # fmt: skip
EWP_ALPHA = 0.5
CV_FOLDS = 10  # cv.glmnet's default nfolds
_PROB_CLIP = 1e-5  # cv.glmnet clips held-out probabilities so the deviance stays finite
_LCG_MULTIPLIER = 69069  # R's seed scrambler (RNG.c, RNG_Init)
_MT_WORDS = 624
_TO_UNIT = 2.3283064365386963e-10  # 2^-32, R's MT_genrand scale
_I2_32M1 = 2.328306437080797e-10  # 1 / (2^32 - 1), R's fixup() margin


class RRandom:
    """R's default generator (Mersenne-Twister, ``sample.kind = "Rejection"``) for
    ``set.seed(seed)`` followed by ``sample``: the same draws as R, so the same folds."""

    def __init__(self, seed: int) -> None:
        state = seed & 0xFFFFFFFF
        for _ in range(50):  # R's initial scrambling
            state = (_LCG_MULTIPLIER * state + 1) & 0xFFFFFFFF
        words = []
        for _ in range(_MT_WORDS + 1):  # the first word is R's position slot (mti), reset
            state = (_LCG_MULTIPLIER * state + 1) & 0xFFFFFFFF
            words.append(state)
        self._bits = np.random.MT19937()
        self._bits.state = {
            "bit_generator": "MT19937",
            "state": {"key": np.array(words[1:], dtype=np.uint32), "pos": _MT_WORDS},
        }

    def unif_rand(self) -> float:
        value = int(self._bits.random_raw()) * _TO_UNIT
        if value <= 0.0:
            return 0.5 * _I2_32M1
        if 1.0 - value <= 0.0:
            return 1.0 - 0.5 * _I2_32M1
        return value

    def unif_index(self, n: int) -> int:
        """R_unif_index: rejection sampling from the integers below the next power of two."""
        bits = math.ceil(math.log2(n))
        while True:
            value = 0
            for _ in range(0, bits + 1, 16):
                value = 65536 * value + math.floor(self.unif_rand() * 65536)
            value &= (1 << bits) - 1
            if value < n:
                return value

    def permutation(self, n: int) -> list[int]:
        """``sample.int(n)`` (0-based): R's do_sample without replacement."""
        pool = list(range(n))
        out = []
        remaining = n
        for _ in range(n):
            j = self.unif_index(remaining)
            out.append(pool[j])
            remaining -= 1
            pool[j] = pool[remaining]
        return out


def r_fold_ids(n: int, folds: int = CV_FOLDS, seed: int = EWP_SEED) -> npt.NDArray[np.int64]:
    """cv.glmnet's ``foldid = sample(rep(seq(nfolds), length = n))`` after ``set.seed(seed)``
    (fold numbers 1..folds)."""
    labels = np.arange(n, dtype=np.int64) % folds + 1
    return labels[np.asarray(RRandom(seed).permutation(n), dtype=np.int64)]


def ewp_row_order(countries: npt.NDArray[np.str_], years: npt.NDArray[np.int64]) -> Any:
    """The order of rows in EWP's file (numeric country code, then year), which decides
    cv.glmnet's folds. Keys that are not numbers keep the panel's order after the numbers."""
    codes = np.array([int(c) if c.isdigit() else math.inf for c in countries.tolist()])
    return np.lexsort((years, codes))


def glmnet_column_order(feature_names: Sequence[str]) -> tuple[int, ...]:
    """Column indices putting EWP's predictors first, in EWP's order, then any others."""
    names = list(feature_names)
    first = [names.index(c) for c in EWP_GLMNET_COLUMNS if c in names]
    return (*first, *(i for i in range(len(names)) if i not in first))


def training_rows_for(model: Any, panel: Panel, target: str) -> tuple[FloatArray, FloatArray]:
    """``panel.training_rows(target)``, in the EWP file's order for a model whose result
    depends on the order of its rows (``fits_in_ewp_file_order``: cv.glmnet's folds)."""
    X, y = panel.training_rows(target)
    if not getattr(model, "fits_in_ewp_file_order", False):
        return X, y
    mask = panel.training_mask(target)
    order = ewp_row_order(panel.countries[mask], panel.years[mask])
    return X[order], y[order]


def _glmnet_path(X: FloatArray, y: npt.NDArray[np.int64], lambdas: FloatArray | None) -> LogitNet:
    # n_splits=0: no cross-validation inside the wrapper (its folds are not R's).
    model = LogitNet(alpha=EWP_ALPHA, n_splits=0, lambda_path=lambdas)
    return model.fit(X, y)


def _path_probabilities(fit: LogitNet, X: FloatArray) -> FloatArray:
    eta = X @ np.asarray(fit.coef_path_, dtype=np.float64)[0] + np.asarray(
        fit.intercept_path_, dtype=np.float64
    ).reshape(1, -1)
    return np.asarray(1.0 / (1.0 + np.exp(-eta)), dtype=np.float64)


class EwpReference(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """EWP's cv.glmnet elastic-net logit at ``lambda.min``. Give ``fit`` the rows in the EWP
    file's order for EWP's folds (``fits_in_ewp_file_order`` tells the backtest to)."""

    fits_in_ewp_file_order = True

    def __init__(
        self,
        *,
        seed: int = EWP_SEED,
        folds: int = CV_FOLDS,
        column_order: Sequence[int] | None = None,
    ) -> None:
        self.seed = seed
        self.folds = folds
        self.column_order = column_order

    def _ordered(self, X: FloatArray) -> FloatArray:
        if self.column_order is None:
            return X
        return X[:, list(self.column_order)]

    def fit(self, X: Any, y: Any) -> EwpReference:
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        self.classes_, encoded = np.unique(y, return_inverse=True)
        if len(self.classes_) != 2:
            raise ValueError(f"EwpReference needs two classes, got {len(self.classes_)}")
        target = encoded.astype(np.int64)
        X = self._ordered(X)
        full = _glmnet_path(X, target, None)
        lambdas = np.asarray(full.lambda_path_, dtype=np.float64)
        fold_ids = r_fold_ids(len(target), self.folds, self.seed)
        deviance = np.zeros(len(lambdas))
        for k in range(1, self.folds + 1):
            held = fold_ids == k
            fold = _glmnet_path(X[~held], target[~held], lambdas)
            p = np.clip(_path_probabilities(fold, X[held]), _PROB_CLIP, 1 - _PROB_CLIP)
            truth = target[held][:, None]
            deviance += (-2 * (truth * np.log(p) + (1 - truth) * np.log(1 - p))).sum(axis=0)
        self.cv_deviance_ = deviance / len(target)
        # lambda.min: the largest penalty (the path runs downwards) reaching the minimum.
        best = int(np.flatnonzero(self.cv_deviance_ <= self.cv_deviance_.min())[0])
        self.lambda_ = float(lambdas[best])
        self.lambdas_ = lambdas
        self.coef_ = np.asarray(full.coef_path_, dtype=np.float64)[0][:, best].copy()
        self.intercept_ = float(np.asarray(full.intercept_path_, dtype=np.float64).ravel()[best])
        return self

    def predict_proba(self, X: Any) -> FloatArray:
        check_is_fitted(self, "coef_")
        X = validate_data(self, X, dtype=np.float64, reset=False)
        p = 1.0 / (1.0 + np.exp(-(self._ordered(X) @ self.coef_ + self.intercept_)))
        return np.column_stack([1 - p, p])

    def predict(self, X: Any) -> npt.NDArray[Any]:
        p = self.predict_proba(X)[:, 1]
        return np.asarray(self.classes_[(p >= 0.5).astype(int)])

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        tags.input_tags.allow_nan = False
        return tags
