"""Forecasts by default: each database has its own model registry, and a database that holds
training data gets a model on its first run and a new one when new labelled years arrive.

- ``database_registry``: the registry under ``<models dir>/<this database's key>/``; the key
  lives in the database (table ``forecast_registry``), so two databases never share a model,
  even when they share a models directory, and a database restored elsewhere keeps its key.
- ``ensure_model``: the promoted model, after training and promoting the default (nested-fast)
  model when none is promoted yet, or when the promoted one was trained here automatically and
  newer labels have arrived since. A model an administrator promoted is never replaced.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from sqlalchemy.orm import Session

from earlywarn.forecasting import repository
from earlywarn.forecasting.catalog import DEFAULT_MODEL, default_predictors, make_model
from earlywarn.forecasting.panel import DEFAULT_TARGET, Panel
from earlywarn.forecasting.registry import ModelBundle, ModelRegistry, model_card, train_bundle
from earlywarn.forecasting.service import panel_from_observations

log = logging.getLogger(__name__)

AUTO_TRAINED = "trained_automatically"
DATA_SOURCE = "stored observations (ewp.* variables)"


def database_registry(session: Session, models_dir: Path) -> ModelRegistry:
    return ModelRegistry(models_dir / repository.registry_key(session))


def labelled_through(panel: Panel) -> int | None:
    """The newest year with a complete row and a known two-year label, if both classes are
    there to learn from."""
    if not len(panel):
        return None
    known = panel.as_of(int(panel.years.max()))
    labels = known.outcome(DEFAULT_TARGET)
    rows = known.complete() & ~np.isnan(labels)
    if len(np.unique(labels[rows])) != 2:
        return None
    return int(known.years[rows].max())


def ensure_model(
    session: Session,
    registry: ModelRegistry,
    *,
    predictors: Sequence[str] | None = None,
    report: Callable[[str], None] = log.info,
) -> ModelBundle | None:
    promoted = registry.promoted_version()
    card = registry.card(promoted) if promoted is not None else None
    if card is not None and not card.get(AUTO_TRAINED):
        return registry.load_promoted()  # an administrator's choice stands
    panel = panel_from_observations(
        session, predictors=tuple(predictors or default_predictors(DEFAULT_MODEL))
    )
    newest = labelled_through(panel)
    if newest is None:
        return registry.load_promoted()
    if card is not None:
        bundle = registry.load_promoted()
        if bundle is not None and bundle.trained_through.get(2, -1) >= newest:
            return bundle
        report(f"forecasting: labels now reach {newest}; retraining the model")
    else:
        report(
            f"forecasting: no model yet for this database; training the {DEFAULT_MODEL} model "
            f"on {len(panel)} country-years (labels through {newest}), once"
        )
    start = time.process_time()
    bundle = train_bundle(panel, make_model(DEFAULT_MODEL, panel.feature_names), name=DEFAULT_MODEL)
    new_card = model_card(bundle, data_source=DATA_SOURCE, backtest=None)
    new_card[AUTO_TRAINED] = True
    registry.save(bundle, new_card)
    registry.promote(bundle.version)
    report(
        f"forecasting: model {bundle.version} trained and promoted "
        f"({time.process_time() - start:.1f} s CPU; `earlywarn train` adds the backtest)"
    )
    return bundle
