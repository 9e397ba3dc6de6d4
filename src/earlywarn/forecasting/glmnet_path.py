"""Procedure 2's elastic-net logit path: glmnet's coordinate descent at procedure 1's penalties.

scikit-learn's ``LogisticRegression(C, l1_ratio)`` minimises

    C * sum(log loss) + l1_ratio * |w|_1 + (1 - l1_ratio) / 2 * |w|^2

and glmnet's binomial elastic net minimises

    (1 / n) * sum(log loss) + lambda * (alpha * |w|_1 + (1 - alpha) / 2 * |w|^2).

Dividing the first by ``C * n`` gives the second with ``alpha = l1_ratio`` and
``lambda = 1 / (C * n)``, ``n`` the training rows: the same problem, so procedure 2 keeps
procedure 1's penalties (docs/forecasting-procedure-2.md) and only changes the solver. Both
standardise the columns with their population standard deviation (glmnet inside the fit, with
the coefficients returned on the original scale). glmnet fits the penalties in decreasing order,
each starting from the previous solution, in one call of its Fortran.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from glmnet import LogitNet

FloatArray = npt.NDArray[np.float64]


class LinearLogit:
    """One penalty's fitted logit: ``predict_proba`` like a scikit-learn classifier's."""

    def __init__(self, coef: FloatArray, intercept: float) -> None:
        self.coef_ = coef
        self.intercept_ = intercept

    def predict_proba(self, X: Any) -> FloatArray:
        eta = np.asarray(X, dtype=np.float64) @ self.coef_ + self.intercept_
        p = 1.0 / (1.0 + np.exp(-eta))
        return np.column_stack([1 - p, p])


class GlmnetPath:
    """Elastic-net logits at ``cs`` (scikit-learn's C), fitted as one glmnet path.
    ``fit`` returns the path; ``models[C]`` are ``LinearLogit``s. ``tol`` is glmnet's
    convergence threshold (``thresh``)."""

    def __init__(self, cs: Sequence[float], l1_ratio: float, tol: float) -> None:
        self.cs = tuple(sorted(cs))
        self.l1_ratio = l1_ratio
        self.tol = tol
        self.models: dict[float, LinearLogit] = {}

    def lambdas(self, n_rows: int) -> FloatArray:
        """glmnet's penalties for ``cs`` on ``n_rows`` rows, in ``cs``'s (increasing) order,
        so decreasing: the order glmnet's path runs."""
        return np.array([1.0 / (c * n_rows) for c in self.cs], dtype=np.float64)

    def fit(self, X: FloatArray, y: npt.NDArray[Any]) -> GlmnetPath:
        lambdas = self.lambdas(len(y))
        # n_splits=0: no cross-validation inside the wrapper (the nested procedure validates).
        fit = LogitNet(alpha=self.l1_ratio, n_splits=0, lambda_path=lambdas, tol=self.tol)
        fit.fit(np.asarray(X, dtype=np.float64), np.asarray(y))
        got = np.asarray(fit.lambda_path_, dtype=np.float64)
        # The wrapper overwrites the first reported penalty with an extrapolation, as R's
        # glmnet does for its own paths; the Fortran fitted the one given.
        if got.shape != lambdas.shape or not np.allclose(got[1:], lambdas[1:], rtol=1e-9, atol=0):
            raise RuntimeError("glmnet did not fit every requested penalty")
        coefs = np.asarray(fit.coef_path_, dtype=np.float64)[0]
        intercepts = np.asarray(fit.intercept_path_, dtype=np.float64).ravel()
        for k, c in enumerate(self.cs):
            self.models[c] = LinearLogit(coefs[:, k].copy(), float(intercepts[k]))
        return self
