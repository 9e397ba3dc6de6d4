"""History runs' breakdowns as one binary panel per run, and their expansion.

A history backfill writes thousands of scores; one JSON breakdown per score made the write
(encoding and inserting ~60 MB of JSON) the slowest part of scoring a whole history. A run's
panel holds the same arrays the engine produced for that date (``numpy.savez``, no pickles,
float64 kept bit for bit), and ``breakdown`` rebuilds one country's breakdown with the same
code a normal run stores its breakdown with, so both read the same through the API.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date
from typing import Any

import numpy as np
from numpy.typing import NDArray

from earlywarn.framework.config import Configuration
from earlywarn.scoring.engine import Aggregate, EngineSpec, Weights
from earlywarn.scoring.panel import ObservationTable, PanelInputs
from earlywarn.scoring.results import ScoredPanel

PANEL_FORMAT = "panel"

_AGGREGATE_FIELDS = (
    "factor_score",
    "factor_coverage",
    "applicable",
    "rated",
    "factors_with_data",
    "composite",
    "coverage",
    "level",
    "factor_share",
    "crime_score",
)


def _text(values: Sequence[str]) -> NDArray[np.str_]:
    return np.array(list(values), dtype=np.str_) if values else np.empty(0, dtype="<U1")


def pack(scored: ScoredPanel, t: int, units: Sequence[int]) -> bytes:
    """The breakdowns of date ``t`` for ``units`` (rows in that order) as one blob."""
    idx = np.asarray(units, dtype=np.intp)
    table, inputs, agg = scored.table, scored.inputs, scored.agg
    rows = inputs.row[t][idx]
    has = rows >= 0
    safe = np.maximum(rows, 0)
    empty = len(table) == 0

    def at(column: NDArray[Any], fill: Any) -> NDArray[Any]:
        if empty:
            return np.full(rows.shape, fill, dtype=column.dtype)
        out: NDArray[Any] = np.where(has, column[safe], fill)
        return out

    arrays: dict[str, NDArray[Any]] = {
        "units": _text([table.units[u] for u in idx]),
        "indicator_ids": _text(scored.spec.indicator_ids),
        "periods": _text(table.periods),
        "sources": _text(table.sources),
        "has_row": has,
        "raw_value": at(table.value, np.nan),
        # Narrow integers: codes and ids fit in 32 bits (ids are INTEGER columns).
        "period": at(table.period, 0).astype(np.int32),
        "source": at(table.source, 0).astype(np.int32),
        "ingest_run_id": at(table.ingest_run_id, 0).astype(np.int32),
        "transformed": inputs.value[t][idx],
        "source_position": inputs.source_position[t][idx],
        "reason": inputs.reason[t][idx],
        "age_days": inputs.age_days[t][idx].astype(np.int32),
        "armed_conflict": inputs.armed_conflict[t][idx],
        "contribution": scored.contributions[t][idx],
        "term": scored.terms[t][idx],
        "indicator_weight": scored.weights.indicator,
        "factor_weight": scored.weights.factor,
        **{name: getattr(agg, name)[t][idx] for name in _AGGREGATE_FIELDS},
    }
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # type: ignore[arg-type]
    return buffer.getvalue()


Panel = dict[str, NDArray[Any]]


def unpack(data: bytes) -> Panel:
    with np.load(io.BytesIO(data), allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


def breakdown(config: Configuration, as_of: date, panel: Panel, k: int) -> dict[str, Any]:
    """Row ``k`` of a run's panel as the full breakdown a normal run stores."""
    spec = EngineSpec.from_config(config)
    stored_ids = tuple(str(i) for i in panel["indicator_ids"])
    if stored_ids != spec.indicator_ids:
        raise ValueError(
            "the run's panel was made with other indicators than the configuration's: "
            f"{len(stored_ids)} stored, {len(spec.indicator_ids)} configured"
        )
    n = len(stored_ids)
    has = panel["has_row"][k]
    iso3 = str(panel["units"][k])
    table = ObservationTable(
        units=[iso3],
        variables=[],
        sources=[str(s) for s in panel["sources"]],
        periods=[str(p) for p in panel["periods"]],
        unit=np.zeros(n, dtype=np.intp),
        variable=np.zeros(n, dtype=np.intp),
        source=panel["source"][k].astype(np.intp),
        period=panel["period"][k].astype(np.intp),
        period_start=np.zeros(n, dtype=np.int64),
        period_end=np.zeros(n, dtype=np.int64),
        value=panel["raw_value"][k],
        ingest_run_id=panel["ingest_run_id"][k].astype(np.int64),
    )

    def one(name: str) -> NDArray[Any]:
        out: NDArray[Any] = panel[name][k][np.newaxis, np.newaxis]
        return out

    inputs = PanelInputs(
        units=[iso3],
        as_of=[as_of],
        value=one("transformed"),
        row=np.where(has, np.arange(n), -1)[np.newaxis, np.newaxis],
        source_position=one("source_position"),
        reason=one("reason"),
        age_days=one("age_days").astype(np.int64),
        armed_conflict=one("armed_conflict"),
    )
    agg = Aggregate(**{name: one(name) for name in _AGGREGATE_FIELDS})
    weights = Weights(indicator=panel["indicator_weight"], factor=panel["factor_weight"])
    scored = ScoredPanel(
        config, spec, weights, inputs, table, one("contribution"), agg, one("term")
    )
    return scored.country(0, 0).breakdown()
