"""Trained models on disk: one folder per version with the model and its model card.

Layout under the models directory (``EARLYWARN_MODELS_DIR``, default ``models/``)::

    <version>/model.joblib    the fitted ModelBundle (joblib, which ships with scikit-learn)
    <version>/model_card.json features, training years, data digest, versions, backtest
    <version>/model_card.md   the same for people
    promoted.json             {"version": ...}: the one the service uses

joblib files are pickles: load only models you trained yourself (the directory is local).
"""

from __future__ import annotations

import json
import os
import platform
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import sklearn
from sklearn.base import BaseEstimator, clone

from earlywarn.forecasting.calibration import backtest_card_lines
from earlywarn.forecasting.estimators import fit_threads
from earlywarn.forecasting.ewp_reference import training_rows_for
from earlywarn.forecasting.panel import FloatArray, Panel

# Horizon in years -> the outcome column whose probability that horizon reports.
HORIZON_TARGETS: dict[int, str] = {1: "mk_onset_1", 2: "mk_onset_1or2"}
PROMOTED_FILE = "promoted.json"
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class RegistryError(RuntimeError):
    """A model version is missing, malformed or cannot be promoted."""


@dataclass
class ModelBundle:
    """Fitted estimators, one per horizon, and what they were trained on."""

    name: str
    version: str
    feature_names: tuple[str, ...]
    estimators: dict[int, BaseEstimator]
    trained_through: dict[int, int]  # horizon -> last year whose label was used
    data_year: int
    data_digest: str
    # horizon -> first and last labelled year, rows and onsets fitted on. A class-level
    # default, so bundles saved before it existed still load (and their cards say less).
    training_data: dict[int, dict[str, int]] | None = None

    def predict(self, features: FloatArray) -> dict[int, FloatArray]:
        """Probability of an onset within each horizon, coherent across horizons.

        The horizons are separate fits, so a shorter one can come out above a longer one
        although an onset within one year is an onset within two. Each shorter horizon is
        capped at the next longer one; the longest (two-year, the backtested EWP target)
        is never changed, so its ranking stays the one the backtest measured.
        """
        raw = {
            h: np.asarray(m.predict_proba(features)[:, 1], dtype=np.float64)
            for h, m in self.estimators.items()
        }
        horizons = sorted(raw, reverse=True)
        for longer, shorter in zip(horizons, horizons[1:], strict=False):
            raw[shorter] = np.minimum(raw[shorter], raw[longer])
        return raw


def new_version(name: str, digest: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    return f"{name}-{stamp}-{digest[:8]}"


def train_bundle(
    panel: Panel, model: BaseEstimator, *, name: str, version: str | None = None
) -> ModelBundle:
    """Fit one copy of ``model`` per horizon on every label known at the panel's last year."""
    data_year = int(panel.years.max())
    known = panel.as_of(data_year)
    estimators: dict[int, BaseEstimator] = {}
    trained_through: dict[int, int] = {}
    training_data: dict[int, dict[str, int]] = {}
    # Longest horizon first: the nested procedure's shorter horizon takes its choices.
    for horizon, target in sorted(HORIZON_TARGETS.items(), reverse=True):
        X, y = training_rows_for(model, known, target)
        if len(np.unique(y)) != 2:
            raise RegistryError(f"outcome {target!r} has no onsets (or only onsets) to learn from")
        # A few thousand rows: extra OpenMP and BLAS threads mostly spin, and on a shared
        # machine they cost far more CPU than they save.
        with fit_threads(1):
            estimator = clone(model)
            if "lead_years" in estimator.get_params(deep=False):
                # The nested procedure keeps the horizon's lead in its inner windows, and the
                # one-year model takes the two-year choices (docs/forecasting-procedure.md).
                estimator.set_params(lead_years=horizon)
                longer = estimators.get(2)
                if horizon == 1 and longer is not None and hasattr(longer, "choice"):
                    estimator.set_params(fixed_choices={data_year: longer.choice()})
            estimators[horizon] = estimator.fit(X, y.astype(np.int64))
        labelled = known.years[known.complete() & ~np.isnan(known.outcome(target))]
        trained_through[horizon] = int(labelled.max())
        training_data[horizon] = {
            "first_year": int(labelled.min()),
            "last_labelled_year": int(labelled.max()),
            "rows": len(y),
            "onsets": int(np.sum(y == 1)),
        }
    digest = panel.digest()
    return ModelBundle(
        name=name,
        version=version or new_version(name, digest),
        feature_names=panel.feature_names,
        estimators=estimators,
        trained_through=trained_through,
        data_year=data_year,
        data_digest=digest,
        training_data=training_data,
    )


def library_versions() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
        "joblib": joblib.__version__,
    }


def model_card(
    bundle: ModelBundle, *, data_source: str, backtest: Mapping[str, Any] | None
) -> dict[str, Any]:
    params = {
        str(h): {k: repr(v) for k, v in m.get_params(deep=False).items()}
        for h, m in bundle.estimators.items()
    }
    return {
        "name": bundle.name,
        "version": bundle.version,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "horizons": {str(h): HORIZON_TARGETS[h] for h in bundle.estimators},
        "features": list(bundle.feature_names),
        "training_years": {
            str(h): (bundle.training_data or {}).get(h, {"last_labelled_year": y})
            for h, y in bundle.trained_through.items()
        },
        "data_year": bundle.data_year,
        "data_source": data_source,
        "data_digest_sha256": bundle.data_digest,
        "libraries": library_versions(),
        "parameters": params,
        "selected": {str(h): getattr(m, "selected_", None) for h, m in bundle.estimators.items()},
        "backtest": dict(backtest) if backtest else None,
    }


def _years(training: Mapping[str, Any]) -> str:
    if "first_year" not in training:
        return f"labels through {training['last_labelled_year']}"
    return (
        f"{training['first_year']}-{training['last_labelled_year']} "
        f"({training['rows']} complete country-years, {training['onsets']} onsets)"
    )


def _card_markdown(card: Mapping[str, Any]) -> str:
    bt = card.get("backtest") or {}
    lines = [
        f"# Model card: {card['version']}",
        "",
        f"- model: `{card['name']}`; created {card['created_at']}",
        f"- horizons: {', '.join(f'{h} year(s) -> `{t}`' for h, t in card['horizons'].items())}",
        f"- data: {card['data_source']} (sha256 {card['data_digest_sha256']}), "
        f"latest year {card['data_year']}",
        *(f"- {h}-year model trained on {_years(t)}" for h, t in card["training_years"].items()),
        f"- libraries: {', '.join(f'{k} {v}' for k, v in card['libraries'].items())}",
        f"- features ({len(card['features'])}): {', '.join(card['features'])}",
        "",
        "## Backtest (Early Warning Project protocol)",
        "",
    ]
    if bt:
        for key in (
            "first_train_year",
            "last_train_year",
            "auc",
            "recall_at_10",
            "recall_at_20",
            "recall_at_30",
            "n_onsets",
            "false_alarms_per_hit_at_4pct",
            "average_precision",
            "brier",
        ):
            lines.append(f"- {key}: {bt.get(key)}")
        lines += backtest_card_lines(bt)
    else:
        lines.append("Not backtested (trained with --no-backtest).")
    lines += [
        "",
        "## Known limits",
        "",
        "Trained on country-years with every predictor present; sudden-shock onsets (a "
        "revolt turning into a civil war within a year) are the hardest to foresee.",
    ]
    return "\n".join(lines) + "\n"


class ModelRegistry:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _dir(self, version: str) -> Path:
        if not _VERSION.match(version):
            raise RegistryError(f"{version!r} is not a model version name")
        return self.root / version

    def save(self, bundle: ModelBundle, card: Mapping[str, Any]) -> Path:
        folder = self._dir(bundle.version)
        if folder.exists():
            raise RegistryError(f"model version {bundle.version} already exists in {self.root}")
        self.root.mkdir(parents=True, exist_ok=True)
        # Written beside, then renamed: a half-written version is never listed.
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=self.root))
        joblib.dump(bundle, staging / "model.joblib", compress=3)
        (staging / "model_card.json").write_text(json.dumps(card, indent=2) + "\n")
        (staging / "model_card.md").write_text(_card_markdown(card))
        os.replace(staging, folder)
        return folder

    def versions(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(
            p.name for p in self.root.iterdir() if p.is_dir() and (p / "model.joblib").is_file()
        )

    def card(self, version: str) -> dict[str, Any]:
        path = self._dir(version) / "model_card.json"
        if not path.is_file():
            raise RegistryError(f"no model version {version} in {self.root}")
        card: dict[str, Any] = json.loads(path.read_text())
        return card

    def load(self, version: str) -> ModelBundle:
        path = self._dir(version) / "model.joblib"
        if not path.is_file():
            raise RegistryError(f"no model version {version} in {self.root}")
        bundle = joblib.load(path)
        if not isinstance(bundle, ModelBundle):
            raise RegistryError(f"{path} does not hold an earlywarn model bundle")
        return bundle

    def promote(self, version: str) -> None:
        if version not in self.versions():
            known = ", ".join(self.versions()) or "none"
            raise RegistryError(f"no model version {version} in {self.root} (known: {known})")
        target = self.root / PROMOTED_FILE
        tmp = target.with_suffix(".tmp")
        tmp.write_text(json.dumps({"version": version}) + "\n")
        os.replace(tmp, target)

    def promoted_version(self) -> str | None:
        path = self.root / PROMOTED_FILE
        if not path.is_file():
            return None
        try:
            version = json.loads(path.read_text())["version"]
        except (ValueError, KeyError, TypeError) as exc:
            raise RegistryError(f"{path} is not valid: {exc}") from exc
        return str(version)

    def load_promoted(self) -> ModelBundle | None:
        version = self.promoted_version()
        return self.load(version) if version is not None else None
