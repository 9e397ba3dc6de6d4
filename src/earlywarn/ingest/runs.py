"""An ingest run: every load is recorded as an ``ingest_runs`` row, and values are stored as
new vintages only when they differ from what readers currently see.

Unlike request-scoped services, ``run_ingest`` owns its transactions: the ``running`` row is
committed before the fetch (so a crash leaves a visible trace), the load is one transaction, and a
failure is recorded in a transaction of its own after the load's has been rolled back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any, NamedTuple

import httpx
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from earlywarn.db import session_scope, utc_now
from earlywarn.ingest import repository
from earlywarn.ingest.connectors import SourceDefinition
from earlywarn.ingest.errors import IngestError, UnknownSourceError
from earlywarn.ingest.registry import KNOWN_SOURCES
from earlywarn.ingest.schemas import VARIABLE_PATTERN, LoadedPayload, ObservationRecord
from earlywarn.observations import repository as observations_repository
from earlywarn.observations.models import IngestRun, RunStatus, Source, zero_fill_source_id

logger = logging.getLogger(__name__)

MAX_ERROR_CHARS = 4_000
MAX_TRIGGER_CHARS = 16  # ingest_runs.trigger is VARCHAR(16)


def run_ingest(
    session_factory: sessionmaker[Session],
    source_id: str,
    fetch: Callable[[], LoadedPayload],
    *,
    trigger: str = "cli",
) -> IngestRun:
    """Fetch one payload and load it as a new vintage; return the finished run (detached).

    A failure anywhere (fetch, parse, validation, insert) marks the run ``failed`` with the cause
    and writes nothing else; earlier vintages stay as they were. Only ``BaseException``s that are
    not ``Exception``s (an interrupt) propagate, after the run has been marked failed.
    """
    definition = KNOWN_SOURCES.get(source_id)
    if definition is None:
        raise UnknownSourceError(
            f"unknown source {source_id!r}; known sources: {', '.join(sorted(KNOWN_SOURCES))}"
        )
    if not 1 <= len(trigger) <= MAX_TRIGGER_CHARS:
        raise ValueError(f"trigger must be 1 to {MAX_TRIGGER_CHARS} characters, got {trigger!r}")
    run_id = _start_run(session_factory, source_id, definition, trigger)
    try:
        payload = fetch()
    except Exception as exc:
        _finish_failed(
            session_factory, run_id, _describe(exc, "fetching"), payload=_payload_of(exc)
        )
        return _detached_run(session_factory, run_id)
    except BaseException as exc:
        _finish_failed(session_factory, run_id, _describe(exc, "fetching"))
        raise

    try:
        with session_scope(session_factory) as session:
            _load(session, run_id, source_id, payload)
    except Exception as exc:
        _finish_failed(session_factory, run_id, _describe(exc, "loading"), payload=payload)
        return _detached_run(session_factory, run_id)
    except BaseException as exc:
        _finish_failed(session_factory, run_id, _describe(exc, "loading"), payload=payload)
        raise
    run = _detached_run(session_factory, run_id)
    logger.info(
        "ingest run %s (%s): %s, %s loaded, %s unchanged, %s skipped",
        run.id,
        source_id,
        run.status,
        run.rows_loaded,
        run.rows_unchanged,
        run.rows_skipped,
    )
    return run


def _start_run(
    session_factory: sessionmaker[Session],
    source_id: str,
    definition: SourceDefinition,
    trigger: str,
) -> int:
    for attempt in (1, 2):
        try:
            with session_scope(session_factory) as session:
                _upsert_source(session, source_id, definition)
                run = IngestRun(
                    source_id=source_id,
                    status=RunStatus.RUNNING,
                    trigger=trigger,
                    started_at=utc_now(),
                    details={},
                )
                repository.add(session, run)
                return run.id
        except IntegrityError:
            # Two first-ever runs of a source can race to insert its row; the second
            # attempt finds the row the other one committed.
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _upsert_source(session: Session, source_id: str, definition: SourceDefinition) -> None:
    source = repository.get_source(session, source_id)
    if source is None:
        repository.add(
            session,
            Source(
                id=source_id,
                name=definition.name,
                kind=definition.kind,
                url=definition.url,
                licence=definition.licence,
            ),
        )
        return
    source.name = definition.name
    source.kind = definition.kind
    source.url = definition.url
    source.licence = definition.licence


def _load(session: Session, run_id: int, source_id: str, payload: LoadedPayload) -> None:
    run = repository.get_run(session, run_id)
    if run is None:
        raise IngestError(f"ingest run {run_id} disappeared while loading")
    run.content_digest = payload.content_digest
    run.source_uri = payload.source_uri
    run.rows_read = payload.rows_read
    run.rows_skipped = payload.rows_skipped
    run.details = dict(payload.details)

    archived_bytes = repository.archive_payloads(session, run_id, payload.raw)
    if payload.raw:
        run.details = {
            **run.details,
            "raw_payloads": len(payload.raw),
            "raw_bytes_archived": archived_bytes,
        }

    previous = repository.last_run_with_status(
        session, source_id, (RunStatus.SUCCEEDED,), before_run_id=run_id
    )
    if payload.details.get("parsing_skipped") and (
        previous is None or previous.content_digest != payload.content_digest
    ):
        raise IngestError(
            "the payload was not decoded because it matched the last successful load, but "
            "that load is no longer the latest; fetch again"
        )
    if previous is not None and previous.content_digest == payload.content_digest:
        run.status = RunStatus.UNCHANGED
        run.rows_unchanged = len(payload.records)
        if payload.details.get("parsing_skipped"):
            # The bytes are those of ``previous``: so are its counts.
            run.rows_read = previous.rows_read
            run.rows_skipped = previous.rows_skipped
            run.rows_unchanged = previous.rows_loaded + previous.rows_unchanged
        run.details = {**run.details, "same_content_as_run": previous.id}
        run.finished_at = utc_now()
        return

    by_key, variables, duplicates = _distinct_records(payload.records)
    zeros = {(r.iso3, r.variable, r.period): r for r in payload.zero_filled}
    variables |= {key[1] for key in zeros}
    _check_keys(session, {**zeros, **by_key}, variables)
    # One read of the stored values serves the source's values and its zero-fills.
    current = observations_repository.current_values(session, variables)
    stamp = _RowStamp(source_id, run_id, utc_now())
    rows, unchanged = _new_vintage_rows(by_key, current, stamp)
    repository.insert_observations(session, rows)
    if zeros:
        # Inserted apart: one source id per insert keeps PostgreSQL's COPY on its fast path.
        marked = stamp._replace(source_id=zero_fill_source_id(source_id))
        zero_rows, zero_tally = _zero_fill_rows(zeros, by_key, current, marked)
        repository.insert_observations(session, zero_rows)
        # Counted in details["zero_fill"], not in rows_loaded/rows_unchanged: those stay the
        # values the source delivered.
        zero_fill = dict(run.details.get("zero_fill", {}))
        run.details = {**run.details, "zero_fill": {**zero_fill, **zero_tally}}
    run.status = RunStatus.SUCCEEDED
    run.rows_loaded = len(rows)
    run.rows_unchanged = unchanged
    if duplicates:
        run.rows_skipped += duplicates
        skipped = dict(run.details.get("skipped", {}))
        skipped["identical_duplicate"] = skipped.get("identical_duplicate", 0) + duplicates
        run.details = {**run.details, "skipped": skipped}
    run.finished_at = utc_now()


_Key = tuple[str, str, str]  # (iso3, variable, period)


class _RowStamp(NamedTuple):
    """What every row of one insert shares: who wrote it, in which run, when."""

    source_id: str
    run_id: int
    loaded_at: datetime


def _row(record: ObservationRecord, value: float, stamp: _RowStamp) -> tuple[Any, ...]:
    """One row in ``repository.OBSERVATION_COLUMNS`` order."""
    return (
        record.iso3,
        record.variable,
        record.period,
        record.period_start,
        record.period_end,
        value,
        *stamp,
    )


def _new_vintage_rows(
    by_key: dict[_Key, ObservationRecord], current: dict[_Key, float], stamp: _RowStamp
) -> tuple[list[tuple[Any, ...]], int]:
    """Rows for values that are new or differ from the current vintage, and how many are
    unchanged. Runs once per value of a large load: kept lean."""
    rows: list[tuple[Any, ...]] = []
    unchanged = 0
    for key, record in by_key.items():
        if current.get(key) == record.value:
            unchanged += 1
            continue
        rows.append(_row(record, record.value, stamp))
    return rows, unchanged


def _zero_fill_rows(
    zeros: dict[_Key, ObservationRecord],
    real: dict[_Key, ObservationRecord],
    current: dict[_Key, float],
    stamp: _RowStamp,
) -> tuple[list[tuple[Any, ...]], dict[str, int]]:
    """Rows for the payload's zero-fills that may be stored: none where the payload itself has
    a value, and none where any value is stored already. A stored zero is unchanged; a stored
    count is real evidence that a zero-fill never replaces (a count withdrawn by the source
    stays until a real value replaces it); a later counted event replaces a stored zero, being
    a newer vintage."""
    rows: list[tuple[Any, ...]] = []
    tally = {"loaded": 0, "unchanged": 0, "kept_stored_value": 0}
    for key, record in zeros.items():
        if key in real:
            continue
        stored = current.get(key)
        if stored is not None:
            tally["unchanged" if stored == 0 else "kept_stored_value"] += 1
            continue
        tally["loaded"] += 1
        rows.append(_row(record, 0.0, stamp))
    return rows, tally


def _distinct_records(
    records: list[ObservationRecord],
) -> tuple[dict[_Key, ObservationRecord], set[str], int]:
    """Each (country, variable, period) once, the variables named, and how many records
    repeated one identically; a repeat with another value is an ``IngestError``."""
    by_key: dict[_Key, ObservationRecord] = {}
    duplicates = 0
    variables: set[str] = set()
    for record in records:
        key = (record.iso3, record.variable, record.period)
        earlier = by_key.get(key)
        if earlier is not None:
            if earlier.value != record.value:
                raise IngestError(
                    f"the payload gives two values for {' '.join(key)}: "
                    f"{earlier.value!r} and {record.value!r}"
                )
            duplicates += 1
            continue
        by_key[key] = record
        variables.add(record.variable)
    return by_key, variables, duplicates


def _check_keys(
    session: Session, by_key: dict[_Key, ObservationRecord], variables: set[str]
) -> None:
    """Refuse what must not be stored: a country missing from the countries table (checked
    here because observations carry no foreign key, see ``Observation``), a malformed or too
    long variable name."""
    unknown = sorted({key[0] for key in by_key} - repository.country_codes(session))
    if unknown:
        shown = ", ".join(unknown[:20]) + (" ..." if len(unknown) > 20 else "")
        raise IngestError(
            f"{len(unknown)} country code(s) not in the countries table: {shown} "
            "(seed the countries table first)"
        )
    for variable in variables:
        if not VARIABLE_PATTERN.match(variable) or len(variable) > 128:
            raise IngestError(f"invalid variable name {variable!r}")


def _finish_failed(
    session_factory: sessionmaker[Session],
    run_id: int,
    error: str,
    *,
    payload: LoadedPayload | None = None,
) -> None:
    logger.warning("ingest run %s failed: %s", run_id, error)
    with session_scope(session_factory) as session:
        run = repository.get_run(session, run_id)
        if run is None:
            raise IngestError(f"ingest run {run_id} disappeared; cannot record its failure")
        run.status = RunStatus.FAILED
        run.error = error[:MAX_ERROR_CHARS]
        run.finished_at = utc_now()
        run.rows_loaded = 0
        run.rows_unchanged = 0
        if payload is not None:
            run.content_digest = payload.content_digest
            run.source_uri = payload.source_uri
            run.rows_read = payload.rows_read
            run.rows_skipped = payload.rows_skipped
            run.details = {**dict(payload.details), "raw_payloads": len(payload.raw)}
            # The rejected bodies are kept: they are the evidence of what the source sent.
            repository.archive_payloads(session, run_id, payload.raw)


def _payload_of(exc: BaseException) -> LoadedPayload | None:
    payload = getattr(exc, "payload", None)
    return payload if isinstance(payload, LoadedPayload) else None


def _describe(exc: BaseException, stage: str) -> str:
    if isinstance(exc, IngestError):
        return str(exc)
    if isinstance(exc, httpx.HTTPError):
        try:
            where = f" ({exc.request.method} {exc.request.url})"
        except RuntimeError:  # no request attached
            where = ""
        return f"{stage}: {type(exc).__name__}{where}: {exc}"
    if isinstance(exc, DBAPIError):
        return f"{stage}: database error: {exc.orig}"
    if isinstance(exc, KeyboardInterrupt):
        return f"{stage}: interrupted"
    return f"{stage}: {type(exc).__name__}: {exc}"


def _detached_run(session_factory: sessionmaker[Session], run_id: int) -> IngestRun:
    with session_factory() as session:
        run = repository.get_run(session, run_id)
        if run is None:
            raise IngestError(f"ingest run {run_id} not found after it finished")
        session.expunge(run)
        return run
