"""The history read: every vintage of every period of the scored variables in one query, as
numpy columns (``observation_groups``), on SQLite and PostgreSQL each in its fastest form."""

from __future__ import annotations

import functools
import sqlite3
import struct
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray
from psycopg.adapt import Loader
from psycopg.pq import Format
from sqlalchemy import BigInteger, Integer, cast, func, literal, select
from sqlalchemy.orm import Session

from earlywarn.observations import repository as observations_repository
from earlywarn.observations.models import Observation
from earlywarn.scoring.engine import FloatArray
from earlywarn.scoring.panel import LABEL_SEPARATOR, ObservationGroups

EPOCH = date(1970, 1, 1)

# The separator of the number columns joined below (period labels: LABEL_SEPARATOR).
COLUMN_SEPARATOR = "|"


def observation_groups(
    session: Session,
    variables: Collection[str],
    *,
    end: date,
    vintage_as_of: datetime | None = None,
) -> ObservationGroups:
    """Every vintage of every period of ``variables`` starting on or before ``end`` (of ingest
    runs finished by ``vintage_as_of`` when given), for scoring a whole history from one read;
    the engine picks the newest vintage itself.

    One row per (country, variable) with its observations' columns aggregated: ~16,000 rows
    for a million observations, decoded by numpy in C rather than row by row in Python (that
    per-row cost, not the database, dominated a history read). Every aggregate of a group is
    fed the group's rows in the same order (one pass over the input, no per-aggregate ORDER
    BY, which would sort every group once per column), so the columns line up.

    PostgreSQL sends numbers as binary arrays (``array_agg``; joining them as text cost
    three times as much server time as aggregating them). SQLite sends text: dates as its
    stored ISO form, fixed width, parsed by numpy; values with 18 significant digits, which
    read back exactly where ``sqlite_prints_reals_exactly`` (else natively, row by row)."""
    query_filter = [
        Observation.variable.in_(sorted(set(variables))),
        Observation.period_start <= end,
        *observations_repository.vintage_conditions(session, vintage_as_of=vintage_as_of),
    ]
    if session.get_bind().dialect.name == "postgresql":
        return _postgresql_groups(session, query_filter)
    return _sqlite_groups(session, query_filter)


def _group_by(*columns: Any) -> Any:
    # In the order of the (variable, country, period_start) index: no sort on SQLite
    # (PostgreSQL hashes, see _hash_aggregate).
    return select(Observation.country_iso3, Observation.variable, func.count(), *columns)


# 18 significant digits of a double, computed in SQLite's extended precision ('!' lifts its
# default limit of 16 digits): within a small fraction of a unit in the last place, so a
# correctly rounded parse (numpy's) gives back the stored double. 17 digits were not enough
# for SQLite 3.40 (about 1 value in 500 of random bit patterns came back one unit off).
_EXACT_REAL_FORMAT = "%!.18g"


@functools.cache
def sqlite_prints_reals_exactly() -> bool:
    """Whether this SQLite library's ``printf(_EXACT_REAL_FORMAT)`` reads back exactly, tried
    once per process on awkward doubles (random bit patterns over every exponent, extremes,
    subnormals). It relies on ``long double`` arithmetic, which not every platform has; where
    it fails, the history read takes the values row by row instead."""
    rng = np.random.default_rng(20261130)
    sample = rng.integers(0, 2**63 - 1, 6000, dtype=np.int64).view(np.float64)
    sample = np.concatenate(
        [
            sample[np.isfinite(sample)],
            -sample[:1000],
            rng.random(2000),
            [np.finfo(np.float64).max, np.finfo(np.float64).tiny, 5e-324, 0.1, 1 / 3, 1e23],
        ]
    )
    connection = sqlite3.connect(":memory:")
    try:
        connection.execute("CREATE TABLE sample (value REAL)")
        connection.executemany("INSERT INTO sample VALUES (?)", ((float(v),) for v in sample))
        (text,) = connection.execute(
            "SELECT group_concat(printf(?, value), ?) FROM sample",
            (_EXACT_REAL_FORMAT, COLUMN_SEPARATOR),
        ).fetchone()
    finally:
        connection.close()
    back = np.fromstring(text, dtype=np.float64, sep=COLUMN_SEPARATOR)
    return len(back) == len(sample) and bool(np.array_equal(back, sample))


def _sqlite_groups(session: Session, query_filter: list[Any]) -> ObservationGroups:
    def joined(column: Any, separator: str = COLUMN_SEPARATOR) -> Any:
        return func.group_concat(column, separator)

    values_as_text = sqlite_prints_reals_exactly()
    query = (
        _group_by(
            # ISO dates as stored, 10 characters each: no separator needed, and no per-row
            # date function (julianday cost more than numpy's parse of the text).
            joined(Observation.period_start, ""),
            joined(Observation.period_end, ""),
            joined(Observation.ingest_run_id),
            joined(Observation.period, LABEL_SEPARATOR),
            joined(func.printf(_EXACT_REAL_FORMAT, Observation.value))
            if values_as_text
            else joined(Observation.id),
        )
        .where(*query_filter)
        .group_by(Observation.variable, Observation.country_iso3)
    )
    rows = session.execute(query).all()
    counts = np.array([row[2] for row in rows], dtype=np.intp)
    n = int(counts.sum())

    def numbers(column: int, dtype: type[np.generic]) -> NDArray[Any]:
        # Parsed by numpy straight from the joined text, without a Python object each
        # (correctly rounded, see _EXACT_REAL_FORMAT).
        text = COLUMN_SEPARATOR.join(row[column] for row in rows)
        out = np.fromstring(text, dtype=dtype, sep=COLUMN_SEPARATOR) if n else np.empty(0)
        if len(out) != n:
            raise ValueError("unreadable number column in the observation groups")
        return out.astype(dtype, copy=False)

    if values_as_text:
        value = numbers(7, np.float64)
    else:
        value = _sqlite_values_by_row(session, query_filter, numbers(7, np.int64))
    return ObservationGroups(
        units=[row[0] for row in rows],
        variables=[row[1] for row in rows],
        counts=counts,
        period_start=iso_days("".join(row[3] for row in rows), n),
        period_end=iso_days("".join(row[4] for row in rows), n),
        value=value,
        ingest_run_id=numbers(5, np.int64),
        periods=LABEL_SEPARATOR.join(row[6] for row in rows),
    )


def _sqlite_values_by_row(
    session: Session, query_filter: list[Any], ids: NDArray[np.int64]
) -> FloatArray:
    """The values of the observations ``ids`` as the doubles SQLite holds, one row each
    (slower than text: a Python tuple per row), straight off the DBAPI cursor in the index
    order the grouped read walked."""
    n = len(ids)
    result = session.connection().execute(
        select(Observation.id, Observation.value)
        .where(*query_filter)
        .order_by(
            Observation.variable,
            Observation.country_iso3,
            Observation.period_start,
            Observation.id,
        )
    )
    id_value = np.array(result.cursor.fetchall(), dtype=np.float64).reshape(-1, 2)
    result.close()
    if len(id_value) != n:
        raise ValueError("observations changed between the two reads of one transaction")
    read_ids = id_value[:, 0].astype(np.int64)
    value = id_value[:, 1].copy()
    if not np.array_equal(read_ids, ids):
        # Both reads walk the same index, so this does not happen; if SQLite ever fed a
        # group's rows in another order, match the values up by id instead.
        order = np.argsort(read_ids)
        matched = order[np.minimum(np.searchsorted(read_ids, ids, sorter=order), n - 1)]
        if not np.array_equal(read_ids[matched], ids):
            raise ValueError("observations changed between the two reads of one transaction")
        value = value[matched]
    return value


def iso_days(text: str, n: int) -> NDArray[np.int64]:
    """Days since 1970-01-01 of ``n`` ISO dates ('YYYY-MM-DD', as SQLite stores a Date)
    written back to back, computed on the digits in numpy."""
    raw = np.frombuffer(text.encode("ascii"), dtype=np.uint8)
    if len(raw) != 10 * n:
        raise ValueError("observation dates not stored as YYYY-MM-DD")
    if n == 0:
        return np.empty(0, dtype=np.int64)
    chars = raw.reshape(n, 10)
    if not ((chars[:, 4] == ord("-")) & (chars[:, 7] == ord("-"))).all():
        raise ValueError("observation dates not stored as YYYY-MM-DD")

    digits = chars - np.uint8(ord("0"))  # wraps past 9 for anything but a digit

    def number(first: int, last: int) -> NDArray[np.int64]:
        out = np.zeros(n, dtype=np.int64)
        for k in range(first, last):
            column = digits[:, k]
            if column.max() > 9:
                raise ValueError("observation dates not stored as YYYY-MM-DD")
            out *= 10
            out += column
        return out

    year, month, day = number(0, 4), number(5, 7), number(8, 10)
    if month.min() < 1 or month.max() > 12 or day.min() < 1 or day.max() > 31:
        raise ValueError("observation dates not stored as YYYY-MM-DD")
    # Months since 1970-01 to their first day by numpy's calendar, then the day of month.
    months = ((year - 1970) * 12 + month - 1).astype("datetime64[M]")
    days: NDArray[np.int64] = months.astype("datetime64[D]").astype(np.int64) + day - 1
    return days


# PostgreSQL's binary form of a one-dimensional array: ndim, has-null flag, element type,
# size and lower bound (int32 each), then (int32 length, bytes) per element.
_ARRAY_HEADER = struct.Struct(">iiiii")


class _RawBinary(Loader):
    """An array column's bytes as PostgreSQL sent them (decoded by numpy, not psycopg)."""

    format = Format.BINARY

    def load(self, data: Any) -> bytes:
        return bytes(data)


def _binary_arrays(cells: Sequence[bytes], counts: NDArray[np.intp], item: str) -> NDArray[Any]:
    """The elements of one-dimensional arrays without NULLs (binary, ``item`` a big-endian
    numpy type code) concatenated, checked against the expected element counts."""
    size = np.dtype(item).itemsize
    data = np.frombuffer(b"".join(cells), dtype=np.uint8)
    lengths = _ARRAY_HEADER.size + counts * (4 + size)
    starts = np.cumsum(lengths) - lengths
    if len(data) != int(lengths.sum()):
        raise ValueError("unexpected array in the observation groups")
    # Every header at once: (ndim, has-null flag, element type, size, lower bound).
    header_bytes = np.arange(_ARRAY_HEADER.size)
    headers = data[starts[:, None] + header_bytes].view(">i4")
    if ((headers[:, 0] != 1) | (headers[:, 1] != 0) | (headers[:, 3] != counts)).any():
        raise ValueError("unexpected array in the observation groups")
    keep = np.ones(len(data), dtype=bool)
    keep[(starts[:, None] + header_bytes).ravel()] = False
    elements = data[keep].view(np.dtype([("length", ">i4"), ("item", item)]))
    if (elements["length"] != size).any():
        raise ValueError("unexpected array element in the observation groups")
    out: NDArray[Any] = elements["item"].astype(np.dtype(item).newbyteorder("="))
    return out


def _postgresql_groups(session: Session, query_filter: list[Any]) -> ObservationGroups:
    def days(column: Any) -> Any:
        return func.array_agg(cast(column - literal(EPOCH), Integer))  # date - date: days

    query = (
        _group_by(
            days(Observation.period_start),
            days(Observation.period_end),
            func.array_agg(Observation.value),
            func.array_agg(cast(Observation.ingest_run_id, BigInteger)),
            func.string_agg(Observation.period, literal(LABEL_SEPARATOR)),
        )
        .where(*query_filter)
        .group_by(Observation.variable, Observation.country_iso3)
    )
    compiled = query.compile(
        dialect=session.get_bind().dialect, compile_kwargs={"render_postcompile": True}
    )
    driver = session.connection().connection.driver_connection
    with _hash_aggregate(session), driver.cursor(binary=True) as cursor:  # type: ignore[union-attr]
        types = cursor.adapters.types
        for name in ("int4", "int8", "float8"):
            cursor.adapters.register_loader(types[name].array_oid, _RawBinary)
        cursor.execute(str(compiled), compiled.params)
        rows = cursor.fetchall()
    counts = np.array([row[2] for row in rows], dtype=np.intp)
    return ObservationGroups(
        units=[row[0] for row in rows],
        variables=[row[1] for row in rows],
        counts=counts,
        period_start=_binary_arrays([r[3] for r in rows], counts, ">i4").astype(np.int64),
        period_end=_binary_arrays([r[4] for r in rows], counts, ">i4").astype(np.int64),
        value=_binary_arrays([r[5] for r in rows], counts, ">f8"),
        ingest_run_id=_binary_arrays([r[6] for r in rows], counts, ">i8"),
        periods=LABEL_SEPARATOR.join(row[7] for row in rows),
    )


# Memory PostgreSQL may use for the hash table of ``observation_groups``: a cap, not an
# allocation (66 MB used for a million observations, EXPLAIN ANALYZE). The planner counts
# 8 kB per group for each array_agg state, ~500 MB for 16,000 groups, and under a 256 MB cap
# planned to spill to disk in 5 batches, measured ~10% slower; beyond the cap the hash
# spills, still correct.
_HASH_AGGREGATE_WORK_MEM = "1GB"


@contextmanager
def _hash_aggregate(session: Session) -> Iterator[None]:
    """Let PostgreSQL group ``observation_groups`` by hashing, for this query only.

    Left to itself the planner sorts the million rows by (variable, country) under the
    database's linguistic collation (or walks the index in that order): ~0.9 s of a history
    read, against ~0.5 s hashing the 16,000 groups in memory, measured. The groups' order
    does not matter (``ObservationTable.from_groups`` codes them itself) and each group still
    feeds all its aggregates the same rows in the same order. The settings are transaction
    local and put back right after, so later queries of the caller's transaction plan as
    usual."""
    names = ("enable_sort", "work_mem")
    before = session.execute(select(*(func.current_setting(n) for n in names))).one()
    session.execute(
        select(
            func.set_config("enable_sort", "off", True),
            func.set_config("work_mem", _HASH_AGGREGATE_WORK_MEM, True),
        )
    )
    yield
    # Not in a ``finally``: a failed query aborts the transaction, whose rollback undoes the
    # settings anyway, and a statement sent now would only mask the original error.
    session.execute(
        select(*(func.set_config(n, v, True) for n, v in zip(names, before, strict=True)))
    )
