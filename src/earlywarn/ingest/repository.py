"""Every query of the ingest stage: sources, runs, and the observation writes of a load."""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Collection, Iterable, Sequence
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from earlywarn.countries.models import Country
from earlywarn.ingest.models import ArchivedPayload
from earlywarn.ingest.schemas import RawPayload
from earlywarn.observations.models import (
    IngestRun,
    Observation,
    RunStatus,
    Source,
    base_source_id,
)

INSERT_CHUNK_ROWS = 5_000
# gzip level 1 keeps archiving a million-value World Bank load to about a second; JSON still
# shrinks about eightfold.
ARCHIVE_COMPRESSLEVEL = 1


def get_source(session: Session, source_id: str) -> Source | None:
    return session.get(Source, source_id)


def list_sources(session: Session) -> list[Source]:
    return list(session.scalars(select(Source).order_by(Source.id)))


def add(session: Session, item: Source | IngestRun) -> None:
    session.add(item)
    session.flush()


def get_run(session: Session, run_id: int) -> IngestRun | None:
    return session.get(IngestRun, run_id)


def list_runs(
    session: Session,
    *,
    source_id: str | None = None,
    status: RunStatus | None = None,
    limit: int = 50,
) -> list[IngestRun]:
    query = select(IngestRun)
    if source_id is not None:
        query = query.where(IngestRun.source_id == source_id)
    if status is not None:
        query = query.where(IngestRun.status == status)
    return list(session.scalars(query.order_by(IngestRun.id.desc()).limit(limit)))


def last_run_with_status(
    session: Session, source_id: str, statuses: Collection[RunStatus], *, before_run_id: int
) -> IngestRun | None:
    return session.scalars(
        select(IngestRun)
        .where(
            IngestRun.source_id == source_id,
            IngestRun.status.in_(list(statuses)),
            IngestRun.id < before_run_id,
        )
        .order_by(IngestRun.id.desc())
        .limit(1)
    ).one_or_none()


def latest_run_ids(session: Session) -> dict[tuple[str, RunStatus | None], int]:
    """Newest run id per (source, status) and, under status ``None``, per source overall."""
    found: dict[tuple[str, RunStatus | None], int] = {}
    rows = session.execute(
        select(IngestRun.source_id, IngestRun.status, func.max(IngestRun.id)).group_by(
            IngestRun.source_id, IngestRun.status
        )
    )
    for source_id, status, run_id in rows:
        found[(source_id, status)] = run_id
        overall = found.get((source_id, None))
        found[(source_id, None)] = run_id if overall is None else max(overall, run_id)
    return found


def runs_by_id(session: Session, run_ids: Iterable[int]) -> dict[int, IngestRun]:
    ids = sorted(set(run_ids))
    if not ids:
        return {}
    return {run.id: run for run in session.scalars(select(IngestRun).where(IngestRun.id.in_(ids)))}


def country_codes(session: Session) -> set[str]:
    return set(session.scalars(select(Country.iso3)))


OBSERVATION_COLUMNS = (
    "country_iso3",
    "variable",
    "period",
    "period_start",
    "period_end",
    "value",
    "source_id",
    "ingest_run_id",
    "loaded_at",
)
COPY_BUFFER_CHARS = 1 << 20


def insert_observations(session: Session, rows: Sequence[tuple[Any, ...]]) -> None:
    """Insert new observation rows (tuples in ``OBSERVATION_COLUMNS`` order) inside the
    session's transaction.

    On PostgreSQL the rows go through COPY in text format, written in blocks: psycopg's
    executemany sends one INSERT per row, and ``write_row`` costs a Python call per value.
    Elsewhere (SQLite, where executemany is fast) Core executemany in chunks.
    """
    if not rows:
        return
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        _copy_observations(connection.connection.driver_connection, rows)
        return
    for start in range(0, len(rows), INSERT_CHUNK_ROWS):
        chunk = rows[start : start + INSERT_CHUNK_ROWS]
        session.execute(
            insert(Observation), [dict(zip(OBSERVATION_COLUMNS, row, strict=True)) for row in chunk]
        )


def _copy_text(value: Any) -> str:
    # Variables, codes and periods are validated ([A-Za-z0-9_.]), so only the source id could
    # hold a character COPY's text format treats specially.
    return str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def _copy_observations(driver_connection: Any, rows: Sequence[tuple[Any, ...]]) -> None:
    columns = ", ".join(OBSERVATION_COLUMNS)
    with (
        driver_connection.cursor() as cursor,
        cursor.copy(f"COPY observations ({columns}) FROM STDIN") as copy,
    ):
        first = rows[0]
        source, run_id, loaded_at = _copy_text(first[6]), first[7], first[8].isoformat()
        if any(row[6] != first[6] or row[7] != run_id or row[8] != first[8] for row in rows):
            # One load is one run of one source at one time; anything else goes row by row.
            for row in rows:
                copy.write_row(row)
            return
        tail = f"\t{source}\t{run_id}\t{loaded_at}\n"
        # A load repeats a few dozen periods: format each (start, end) pair once, not per row.
        spans: dict[tuple[Any, Any], str] = {}
        buffer: list[str] = []
        size = 0
        for iso3, variable, period, start, end, value, *_ in rows:
            span = spans.get((start, end))
            if span is None:
                span = spans[(start, end)] = f"{start}\t{end}\t"
            line = f"{iso3}\t{variable}\t{period}\t{span}{value!r}{tail}"
            buffer.append(line)
            size += len(line)
            if size >= COPY_BUFFER_CHARS:
                copy.write("".join(buffer))
                buffer.clear()
                size = 0
        if buffer:
            copy.write("".join(buffer))


def archive_payloads(session: Session, run_id: int, raw: Sequence[RawPayload]) -> int:
    """Store the run's raw bodies (gzip); bodies already archived are referenced, not copied.
    Returns the number of bytes newly stored (compressed)."""
    if not raw:
        return 0
    digests = [hashlib.sha256(body.content).hexdigest() for body in raw]
    stored: dict[str, int] = dict(
        session.execute(
            select(ArchivedPayload.sha256, func.min(ArchivedPayload.id))
            .where(
                ArchivedPayload.sha256.in_(sorted(set(digests))),
                ArchivedPayload.content.is_not(None),
            )
            .group_by(ArchivedPayload.sha256)
        ).all()
    )
    new_bytes = 0
    for sequence, (body, digest) in enumerate(zip(raw, digests, strict=True), start=1):
        row = ArchivedPayload(
            ingest_run_id=run_id,
            sequence=sequence,
            url=body.url,
            content_type=body.content_type[:128],
            retrieved_at=body.retrieved_at,
            sha256=digest,
            size_bytes=len(body.content),
            compression="gzip",
        )
        if digest in stored:
            row.stored_in_id = stored[digest]
        else:
            row.content = gzip.compress(body.content, compresslevel=ARCHIVE_COMPRESSLEVEL, mtime=0)
            row.compressed_bytes = len(row.content)
            new_bytes += row.compressed_bytes
        session.add(row)
        if digest not in stored:
            session.flush()
            stored[digest] = row.id
    session.flush()
    return new_bytes


def archived_payloads(session: Session, run_id: int) -> list[ArchivedPayload]:
    return list(
        session.scalars(
            select(ArchivedPayload)
            .where(ArchivedPayload.ingest_run_id == run_id)
            .order_by(ArchivedPayload.sequence)
        )
    )


def archived_content(session: Session, payload: ArchivedPayload) -> bytes:
    """The decompressed bytes of an archived body, following a deduplication reference."""
    holder = payload
    if holder.content is None and holder.stored_in_id is not None:
        found = session.get(ArchivedPayload, holder.stored_in_id)
        if found is None:
            raise LookupError(f"raw payload {payload.id} points at missing {payload.stored_in_id}")
        holder = found
    if holder.content is None:
        raise LookupError(f"raw payload {payload.id} has no stored content")
    return gzip.decompress(holder.content)


def observation_counts_by_source(session: Session) -> dict[str, int]:
    counts: dict[str, int] = {}
    for source_id, count in session.execute(
        select(Observation.source_id, func.count()).group_by(Observation.source_id)
    ):
        # A source's zero-fills are its observations too.
        source = base_source_id(source_id)
        counts[source] = counts.get(source, 0) + count
    return counts
