"""The forecasting models by name, and the predictors each needs by default."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sklearn.base import BaseEstimator

from earlywarn.forecasting import estimators
from earlywarn.forecasting.nested import ALL_FEATURES, FEATURE_SETS, NestedSelection
from earlywarn.forecasting.panel import EWP_PREDICTORS

# The pre-registered nested procedures: model name -> what differs from procedure 1's
# ``NestedSelection`` defaults. Procedure 2 (docs/forecasting-procedure-2.md): the logit path
# by glmnet, an eighth of the boosting iterations at eight times the learning rate, no forest.
PROCEDURES: dict[str, dict[str, Any]] = {
    "nested": {},
    "nested-fast": {
        "logit_solver": "glmnet",
        "glmnet_tol": 1e-5,
        "families": ("logit", "boosting", "logit+boosting"),
        "boosting": (0.4, 25, 8, 40, 1.0),
    },
}
# Procedure 2 became the default by its pre-registered adoption rule (official run: 17.5 s
# CPU, AUC 0.8373, 30 of 39 in the top 30; docs/forecasting-procedure-2.md).
DEFAULT_MODEL = "nested-fast"
MODEL_NAMES = (*PROCEDURES, *estimators.MODEL_NAMES)


def default_predictors(name: str) -> tuple[str, ...]:
    """A nested procedure needs every column of its candidate feature sets."""
    return ALL_FEATURES if name in PROCEDURES else EWP_PREDICTORS


def make_model(
    name: str,
    feature_names: Sequence[str],
    *,
    horizon_years: int = 2,
    fixed_choices: Mapping[int, tuple[str, str, float]] | None = None,
    random_state: int = 0,
) -> BaseEstimator:
    """A fresh, unfitted model by name. ``horizon_years`` is the lead between the last
    training row and the forecast year (the nested procedure keeps it in its inner windows);
    ``fixed_choices`` (forecast year -> feature set, family, penalty) skips its selection."""
    if name not in PROCEDURES:
        return estimators.make_model(name, feature_names, random_state=random_state)
    available = set(feature_names)
    if "year" not in available:
        raise ValueError("the nested model needs the 'year' column (its inner windows are years)")
    sets = tuple((n, cols) for n, cols in FEATURE_SETS.items() if set(cols) <= available)
    if not sets:
        # Predictors chosen by hand (--predictors) that hold none of the candidate sets: they
        # are the one feature set, and only the model family is chosen.
        sets = (("given", tuple(feature_names)),)
    return NestedSelection(
        feature_names=tuple(feature_names),
        feature_sets=sets,
        lead_years=horizon_years,
        fixed_choices=fixed_choices,
        random_state=random_state,
        **PROCEDURES[name],
    )
