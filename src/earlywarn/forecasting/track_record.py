"""The live track record: how the stored forecasts fared once their outcome years are known.

A stored two-year forecast from data year Y is *resolved* as soon as the stored outcomes say
what happened: an onset (``ewp.mk_onset``) in Y+1 or Y+2, or no onset in both years. Until
then it is pending. Resolution is read from the observations on every request, so a forecast
resolves the moment its outcome year's data arrive, and a corrected outcome corrects it.
Each (model version, data year, country) counts once: the newest run's forecast of it.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score
from sqlalchemy.orm import Session

from earlywarn.forecasting import repository

ONSET_VARIABLE = "ewp.mk_onset"
TOP_K = 30


@dataclass(frozen=True)
class Resolved:
    model_version: str
    data_year: int
    country_iso3: str
    probability_2y: float
    rank_2y: int
    onset: bool | None  # None: pending
    onset_year: int | None


def resolve(session: Session) -> list[Resolved]:
    onsets: dict[tuple[str, int], float] = {}
    for (iso3, _, period), value in repository.country_year_values(
        session, [ONSET_VARIABLE]
    ).items():
        if period.isdigit() and not math.isnan(value):
            onsets[(iso3, int(period))] = value
    out = []
    for f in repository.latest_forecast_per_year(session):
        later = [onsets.get((f.country_iso3, f.data_year + k)) for k in (1, 2)]
        hit = next((f.data_year + k for k, v in zip((1, 2), later, strict=True) if v == 1), None)
        onset: bool | None
        if hit is not None:
            onset = True
        elif all(v is not None for v in later):
            onset = False
        else:
            onset = None
        out.append(
            Resolved(
                f.model_version, f.data_year, f.country_iso3, f.probability_2y, f.rank_2y, onset,
                hit,
            )
        )  # fmt: skip
    return out


def _figures(rows: list[Resolved], top_k: int) -> dict[str, Any]:
    done = [r for r in rows if r.onset is not None]
    p = np.array([r.probability_2y for r in done], dtype=np.float64)
    y = np.array([bool(r.onset) for r in done], dtype=bool)
    onsets = int(y.sum())
    return {
        "forecasts": len(rows),
        "resolved": len(done),
        "pending": len(rows) - len(done),
        "onsets": onsets,
        "brier": round(float(np.mean((p - y) ** 2)), 6) if done else None,
        "auc": round(float(roc_auc_score(y, p)), 4) if 0 < onsets < len(done) else None,
        "recall_at_k": round(float(np.mean([r.rank_2y <= top_k for r in done if r.onset])), 4)
        if onsets
        else None,
    }


def track_record(session: Session, *, top_k: int = TOP_K) -> dict[str, Any]:
    """Per model version: figures over all its resolved forecasts, the same per data year
    (over time), and the onsets it missed (ranked below ``top_k``)."""
    by_version: dict[str, list[Resolved]] = defaultdict(list)
    for row in resolve(session):
        by_version[row.model_version].append(row)
    versions = []
    for version, rows in sorted(by_version.items()):
        years: dict[int, list[Resolved]] = defaultdict(list)
        for row in rows:
            years[row.data_year].append(row)
        versions.append(
            {
                "model_version": version,
                **_figures(rows, top_k),
                "by_data_year": [
                    {"data_year": y, **_figures(years[y], top_k)} for y in sorted(years)
                ],
                "missed_onsets": [
                    {
                        "country_iso3": r.country_iso3,
                        "data_year": r.data_year,
                        "onset_year": r.onset_year,
                        "rank_2y": r.rank_2y,
                        "probability_2y": round(r.probability_2y, 6),
                    }
                    for r in rows
                    if r.onset and r.rank_2y > top_k
                ],
            }
        )
    return {"top_k": top_k, "model_versions": versions}


CSV_COLUMNS = (
    "model_version", "data_year", "country_iso3", "probability_2y", "rank_2y", "status",
    "onset_year",
)  # fmt: skip


def csv_rows(session: Session) -> list[list[str]]:
    """One line per stored forecast (newest run's per version, year and country)."""
    rows = []
    for r in resolve(session):
        status = "pending" if r.onset is None else ("onset" if r.onset else "no onset")
        rows.append(
            [r.model_version, str(r.data_year), r.country_iso3, f"{r.probability_2y:.6f}",
             str(r.rank_2y), status, str(r.onset_year or "")]
        )  # fmt: skip
    return rows
