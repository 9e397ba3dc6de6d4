"""From observations to the engine's input panel, in numpy.

For every scoring date, unit and indicator: the newest value of the preferred variable that
is no older than the indicator's ``max_age_days`` (carried forward until then), else of the
first fallback that has one; turned into a rate per capita and transformed onto the
indicator's common scale. Every cell remembers which observation it used, or why it has none.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
from numpy.typing import NDArray

from earlywarn.framework.config import Configuration
from earlywarn.framework.config_schemas import (
    FallbackVariable,
    IndicatorConfig,
    PerCapita,
    Transform,
)
from earlywarn.observations.schemas import LatestValue
from earlywarn.scoring.engine import (
    FloatArray,
    recode_at_least,
    recode_one_of,
    transform_array,
)

_EPOCH = date(1970, 1, 1)

# Why a cell has no usable value (0: it has one).
OK, NO_OBSERVATION, STALE, OUT_OF_DOMAIN, NO_POPULATION, NO_REFERENCE = range(6)


def day_number(day: date) -> int:
    return (day - _EPOCH).days


def _days(dates: Sequence[date | str]) -> NDArray[np.int64]:
    """Days since 1970-01-01 of dates (or ISO date strings, as SQLite returns them raw)."""
    # Few distinct dates (one per period), so convert those and index.
    distinct, codes = _codes(dates)  # type: ignore[arg-type]
    days = np.array([str(d)[:10] for d in distinct], dtype="datetime64[D]").astype(np.int64)
    return days[codes] if len(days) else np.empty(0, dtype=np.int64)


def _codes(values: Sequence[str]) -> tuple[list[str], NDArray[np.intp]]:
    """Distinct values in order of appearance, and each value's position among them (a dict
    is several times faster than np.unique on Python strings)."""
    distinct = list(dict.fromkeys(values))
    lookup = {v: n for n, v in enumerate(distinct)}
    return distinct, np.fromiter(map(lookup.__getitem__, values), np.intp, len(values))


def _at(column: NDArray[np.generic], rows: NDArray[np.intp], fill: float) -> FloatArray:
    """``column[rows]`` with ``fill`` where ``rows`` is -1 (also for an empty column)."""
    if len(column) == 0:
        return np.full(rows.shape, fill)
    return np.where(rows >= 0, column[np.maximum(rows, 0)], fill).astype(np.float64)


@dataclass(frozen=True)
class ObservationGroups:
    """Observations read one (unit, variable) group at a time: ``units``, ``variables`` and
    ``counts`` per group; the other columns per observation, group after group. Days count
    from 1970-01-01."""

    units: list[str]
    variables: list[str]
    counts: NDArray[np.intp]
    period_start: NDArray[np.int64]
    period_end: NDArray[np.int64]
    value: FloatArray
    ingest_run_id: NDArray[np.int64]
    periods: str  # every observation's period label, joined by ``LABEL_SEPARATOR``


# Not a character of period labels ("2024", "2024-03", "2024-03-05"); a label holding it
# would fail ``code_labels``' count check loudly, not shift the columns.
LABEL_SEPARATOR = "|"
_KEY_MIX = np.uint64(0x9E3779B97F4A7C15)


def code_labels(joined: str, n: int) -> tuple[list[str], NDArray[np.intp]]:
    """The distinct labels of ``n`` labels joined by ``LABEL_SEPARATOR``, and each label's
    position among them, without a Python string per label: the UTF-8 bytes of each label
    (up to 16) packed into two 64-bit words, coded by ``np.unique`` and checked byte for
    byte (a dict of a million strings took several times longer)."""
    if n == 0:
        return [], np.empty(0, dtype=np.intp)
    raw = np.frombuffer(joined.encode(), dtype=np.uint8)
    cuts = np.flatnonzero(raw == ord(LABEL_SEPARATOR))
    if len(cuts) != n - 1:
        raise ValueError(f"{len(cuts) + 1} period labels where {n} were expected")
    starts = np.concatenate([[0], cuts + 1])
    lengths = np.concatenate([cuts, [len(raw)]]) - starts
    width = int(lengths.max())
    if width > 16:
        return _codes(joined.split(LABEL_SEPARATOR))
    cells = np.zeros((n, 16), dtype=np.uint8)
    for j in range(width):
        longer = lengths > j
        cells[longer, j] = raw[starts[longer] + j]
    words = cells.view(np.uint64)
    key = words[:, 0] ^ (words[:, 1] * _KEY_MIX) ^ (lengths.astype(np.uint64) << np.uint64(59))
    _, first, codes = np.unique(key, return_index=True, return_inverse=True)
    codes = codes.ravel()
    if not (
        np.array_equal(cells[first][codes], cells)
        and np.array_equal(lengths[first][codes], lengths)
    ):
        return _codes(joined.split(LABEL_SEPARATOR))  # two labels shared a key
    labels = [bytes(raw[starts[f] : starts[f] + lengths[f]]).decode() for f in first]
    return labels, codes.astype(np.intp)


@dataclass(frozen=True)
class ObservationTable:
    """Observations as columns. ``unit``, ``variable``, ``source`` and ``period`` index the
    lists of the same name; days count from 1970-01-01."""

    units: list[str]
    variables: list[str]
    sources: list[str]
    periods: list[str]
    unit: NDArray[np.intp]
    variable: NDArray[np.intp]
    source: NDArray[np.intp]
    period: NDArray[np.intp]
    period_start: NDArray[np.int64]
    period_end: NDArray[np.int64]
    value: FloatArray
    ingest_run_id: NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.value)

    @classmethod
    def from_rows(
        cls,
        rows: Sequence[tuple[str, str, str, date, date, float, str, int]],
        *,
        units: Sequence[str] | None = None,
    ) -> ObservationTable:
        """From (iso3, variable, period, period_start, period_end, value, source, ingest run).

        ``units`` fixes the unit list (rows of other units are dropped); by default it is every
        unit in the rows, sorted. Columnar: strings are coded with ``np.unique``, not a loop.
        """
        if not rows:
            return cls(
                units=list(units or []),
                variables=[],
                sources=[],
                periods=[],
                unit=np.empty(0, dtype=np.intp),
                variable=np.empty(0, dtype=np.intp),
                source=np.empty(0, dtype=np.intp),
                period=np.empty(0, dtype=np.intp),
                period_start=np.empty(0, dtype=np.int64),
                period_end=np.empty(0, dtype=np.int64),
                value=np.empty(0),
                ingest_run_id=np.empty(0, dtype=np.int64),
            )
        iso3, var, per, p_start, p_end, val, src, run = zip(*rows, strict=True)
        found_units, unit = _codes(iso3)
        if units is None:
            order = sorted(range(len(found_units)), key=found_units.__getitem__)
            unit_list = [found_units[k] for k in order]
            remap = np.empty(len(found_units), dtype=np.intp)
            remap[order] = np.arange(len(found_units))
        else:
            unit_list = list(units)
            positions = {u: n for n, u in enumerate(unit_list)}
            remap = np.array([positions.get(u, -1) for u in found_units], dtype=np.intp)
        unit = remap[unit] if len(remap) else unit
        keep = unit >= 0
        variables, variable = _codes(var)
        sources, source = _codes(src)
        periods, period = _codes(per)
        return cls(
            units=unit_list,
            variables=variables,
            sources=sources,
            periods=periods,
            unit=unit[keep].astype(np.intp),
            variable=variable[keep].astype(np.intp),
            source=source[keep].astype(np.intp),
            period=period[keep].astype(np.intp),
            period_start=_days(p_start)[keep],
            period_end=_days(p_end)[keep],
            value=np.array(val, dtype=np.float64)[keep],
            ingest_run_id=np.array(run, dtype=np.int64)[keep],
        )

    @classmethod
    def from_groups(cls, groups: ObservationGroups) -> ObservationTable:
        """From observations read grouped by (unit, variable)
        (``scoring.history_read.observation_groups``). Sources are left unnamed: each ingest
        run belongs to one source (``with_sources``)."""
        if not groups.units:
            return cls.from_rows([])
        repeat = np.asarray(groups.counts, dtype=np.intp)
        n = int(repeat.sum())
        columns = (groups.period_start, groups.period_end, groups.value, groups.ingest_run_id)
        if any(len(c) != n for c in columns):
            raise ValueError("observation groups whose columns disagree on their length")
        units, unit_codes = _codes(groups.units)
        order = sorted(range(len(units)), key=units.__getitem__)
        remap = np.empty(len(units), dtype=np.intp)
        remap[order] = np.arange(len(units))
        variables, variable_codes = _codes(groups.variables)
        periods, period_codes = code_labels(groups.periods, n)
        return cls(
            units=[units[k] for k in order],
            variables=variables,
            sources=[""],
            periods=periods,
            unit=np.repeat(remap[unit_codes], repeat),
            variable=np.repeat(variable_codes, repeat),
            source=np.zeros(n, dtype=np.intp),
            period=period_codes,
            period_start=groups.period_start,
            period_end=groups.period_end,
            value=groups.value,
            ingest_run_id=groups.ingest_run_id,
        )

    def with_sources(self, run_sources: dict[int, str]) -> ObservationTable:
        """The table with each observation's source, the source of its ingest run
        (``from_groups`` reads the run, not the source, per observation)."""
        if len(self) == 0:
            return self
        runs, run_code = np.unique(self.ingest_run_id, return_inverse=True)
        sources = sorted({run_sources.get(int(r), "") for r in runs})
        position = {source: n for n, source in enumerate(sources)}
        of_run = np.array([position[run_sources.get(int(r), "")] for r in runs], dtype=np.intp)
        return dataclasses.replace(self, sources=sources, source=of_run[run_code.ravel()])

    @classmethod
    def from_latest(
        cls, latest: Iterable[LatestValue], *, units: Sequence[str] | None = None
    ) -> ObservationTable:
        return cls.from_rows(
            [
                (
                    v.iso3,
                    v.variable,
                    v.period,
                    v.period_start,
                    v.period_end,
                    v.value,
                    v.source_id,
                    v.ingest_run_id,
                )
                for v in latest
            ],
            units=units,
        )

    def newest(self, variable: str, as_of_days: NDArray[np.int64]) -> NDArray[np.intp]:
        """(T, U): the row of the newest period of ``variable`` starting on or before each
        date, in its newest vintage; -1 where there is none. Carries values forward."""
        grid = np.full((len(as_of_days), len(self.units)), -1, dtype=np.intp)
        try:
            code = self.variables.index(variable)
        except ValueError:
            return grid
        rows = np.flatnonzero(self.variable == code)
        first_date = np.searchsorted(as_of_days, self.period_start[rows], side="left")
        keep = first_date < len(as_of_days)
        rows, first_date = rows[keep], first_date[keep]
        if rows.size == 0:
            return grid
        # Within each (date, unit) the last row after this sort is the newest period (a
        # longer one on a tied start) in its newest vintage.
        order = np.lexsort(
            (
                rows,
                self.ingest_run_id[rows],
                self.period_end[rows],
                self.period_start[rows],
                self.unit[rows],
                first_date,
            )
        )
        rows, first_date = rows[order], first_date[order]
        units = self.unit[rows]
        last = np.ones(rows.size, dtype=bool)
        last[:-1] = (first_date[1:] != first_date[:-1]) | (units[1:] != units[:-1])
        grid[first_date[last], units[last]] = rows[last]
        # Forward fill: a period stays the newest until a later one starts.
        filled_at = np.where(grid >= 0, np.arange(len(as_of_days))[:, None], -1)
        np.maximum.accumulate(filled_at, axis=0, out=filled_at)
        cols = np.broadcast_to(np.arange(len(self.units)), grid.shape)
        return np.where(filled_at >= 0, grid[np.maximum(filled_at, 0), cols], -1)


@dataclass(frozen=True)
class PanelInputs:
    """The engine's input: transformed values and where each came from."""

    units: list[str]
    as_of: list[date]
    value: FloatArray  # (T, U, I) on the indicator's common scale, NaN when unusable
    row: NDArray[np.intp]  # (T, U, I) observation row used (or rejected), -1 none
    source_position: NDArray[np.int8]  # (T, U, I) 0 preferred, 1.. fallback, -1 none
    reason: NDArray[np.int8]  # (T, U, I) OK, NO_OBSERVATION, STALE, ...
    age_days: NDArray[np.int64]  # (T, U, I), -1 without a row
    armed_conflict: NDArray[np.int8]  # (T, U): 1 yes, 0 no, -1 unknown


def recode(coding: IndicatorConfig | FallbackVariable, values: FloatArray) -> FloatArray:
    """The variable's binary coding, if it has one (``one_of``, then ``at_least``)."""
    return recode_at_least(coding.at_least, recode_one_of(coding.one_of, values))


def indicator_sources(
    indicator: IndicatorConfig,
) -> list[tuple[str, Transform, PerCapita | None, IndicatorConfig | FallbackVariable]]:
    """Each variable with what turns it into the indicator's scale (the last item's
    ``one_of`` and ``at_least`` recode it)."""
    return [
        (indicator.variable, indicator.transform, indicator.per_capita, indicator),
        *((f.variable, f.transform, f.per_capita, f) for f in indicator.fallbacks),
    ]


def build_inputs(
    config: Configuration, table: ObservationTable, as_of: Sequence[date]
) -> PanelInputs:
    as_of_days = np.array([day_number(d) for d in as_of], dtype=np.int64)
    shape = (len(as_of), len(table.units))
    indicators = config.indicators.indicators
    full = (*shape, len(indicators))
    value = np.full(full, np.nan)
    row_used = np.full(full, -1, dtype=np.intp)
    position = np.full(full, -1, dtype=np.int8)
    reason = np.full(full, NO_OBSERVATION, dtype=np.int8)
    age = np.full(full, -1, dtype=np.int64)
    newest: dict[str, NDArray[np.intp]] = {}

    def rows_of(variable: str) -> NDArray[np.intp]:
        if variable not in newest:
            newest[variable] = table.newest(variable, as_of_days)
        return newest[variable]

    def fresh_age(
        rows: NDArray[np.intp], max_age_days: int
    ) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
        ends = _at(table.period_end, rows, 0).astype(np.int64)
        ages = np.where(rows >= 0, np.maximum(as_of_days[:, None] - ends, 0), -1)
        return ages, (rows >= 0) & (ages <= max_age_days)

    for col, ind in enumerate(indicators):
        chosen = np.zeros(shape, dtype=bool)
        for pos, (variable, transform, per_capita, coding) in enumerate(indicator_sources(ind)):
            rows = rows_of(variable)
            ages, fresh = fresh_age(rows, ind.max_age_days)
            raw = recode(coding, _at(table.value, rows, np.nan))
            usable = fresh
            if per_capita is not None:
                pop_rows = rows_of(per_capita.population_variable)
                _, pop_fresh = fresh_age(pop_rows, ind.max_age_days)
                pop = np.where(pop_fresh, _at(table.value, pop_rows, np.nan), np.nan)
                with np.errstate(invalid="ignore", divide="ignore"):
                    raw = np.where(pop > 0, raw / pop * per_capita.per, np.nan)
                usable = fresh & (pop > 0)
            take = usable & ~chosen
            if pos == 0:
                # The preferred variable's state explains a cell no source fills.
                reason[..., col] = np.where(
                    rows < 0, NO_OBSERVATION, np.where(~fresh, STALE, NO_POPULATION)
                )
                row_used[..., col] = rows
                age[..., col] = ages
            transformed = transform_array(transform, raw)
            value[..., col] = np.where(take, transformed, value[..., col])
            row_used[..., col] = np.where(take, rows, row_used[..., col])
            age[..., col] = np.where(take, ages, age[..., col])
            position[..., col] = np.where(take, pos, position[..., col])
            reason[..., col] = np.where(
                take, np.where(np.isnan(transformed), OUT_OF_DOMAIN, OK), reason[..., col]
            )
            chosen |= take
    return PanelInputs(
        units=table.units,
        as_of=list(as_of),
        value=value,
        row=row_used,
        source_position=position,
        reason=reason,
        age_days=age,
        armed_conflict=armed_conflict(config, table, as_of_days),
    )


def armed_conflict(
    config: Configuration, table: ObservationTable, as_of_days: NDArray[np.int64]
) -> NDArray[np.int8]:
    """1 where any criterion holds with a fresh value, 0 where some criterion has a fresh value
    and none holds, -1 (unknown) where no criterion has a fresh value."""
    shape = (len(as_of_days), len(table.units))
    settings = config.scoring.armed_conflict
    if settings is None:
        return np.full(shape, -1, dtype=np.int8)
    known = np.zeros(shape, dtype=bool)
    conflict = np.zeros(shape, dtype=bool)
    for criterion in settings.criteria:
        rows = table.newest(criterion.variable, as_of_days)
        ages = as_of_days[:, None] - _at(table.period_end, rows, 0)
        fresh = (rows >= 0) & (ages <= settings.max_age_days)
        known |= fresh
        with np.errstate(invalid="ignore"):
            conflict |= fresh & (_at(table.value, rows, np.nan) >= criterion.min_value)
    return np.where(conflict, 1, np.where(known, 0, -1)).astype(np.int8)


def input_variables(config: Configuration) -> list[str]:
    """Every variable scoring reads: indicators with fallbacks, populations, conflict."""
    names: set[str] = set()
    for ind in config.indicators.indicators:
        for variable, _, per_capita, _ in indicator_sources(ind):
            names.add(variable)
            if per_capita is not None:
                names.add(per_capita.population_variable)
    if config.scoring.armed_conflict is not None:
        names.update(c.variable for c in config.scoring.armed_conflict.criteria)
    return sorted(names)


def indicator_variables(config: Configuration) -> set[str]:
    """The variables that make a country part of a run (not populations or conflict data)."""
    return {v for ind in config.indicators.indicators for v in ind.variables}
