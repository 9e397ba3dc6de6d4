"""Run orchestration: every load is recorded as an ``ingest_runs`` row, and values are stored as
new vintages only when they differ from what readers currently see.

Unlike request-scoped services, ``run_ingest`` owns its transactions: the ``running`` row is
committed before the fetch (so a crash leaves a visible trace), the load is one transaction, and a
failure is recorded in a transaction of its own after the load's has been rolled back.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from earlywarn.db import session_scope, utc_now
from earlywarn.framework.config import Configuration
from earlywarn.framework.config_schemas import IndicatorsConfig
from earlywarn.framework.sources_schemas import FileFormat, SourcesConfig, WorldBankSourceConfig
from earlywarn.ingest import repository
from earlywarn.ingest.connectors import ConnectorContext, SourceDefinition
from earlywarn.ingest.csv_long import load_long_csv
from earlywarn.ingest.epr import load_epr
from earlywarn.ingest.errors import IngestError, UnknownSourceError
from earlywarn.ingest.ewp import load_ewp
from earlywarn.ingest.files import TableFormat, fetch_table, is_zip, parse_table_bytes
from earlywarn.ingest.http import SourceHttp, make_client
from earlywarn.ingest.models import ArchivedPayload, IngestRun, RunStatus, Source
from earlywarn.ingest.pts import load_pts
from earlywarn.ingest.registry import CONNECTORS
from earlywarn.ingest.schemas import VARIABLE_PATTERN, LoadedPayload, ObservationRecord, RawPayload
from earlywarn.ingest.selection import select_sources
from earlywarn.ingest.vdem import DEFAULT_START_YEAR as DEFAULT_VDEM_START_YEAR
from earlywarn.ingest.vdem import DEFAULT_VARIABLES as DEFAULT_VDEM_VARIABLES
from earlywarn.ingest.vdem import load_vdem
from earlywarn.observations import repository as observations_repository
from earlywarn.settings import Settings

logger = logging.getLogger(__name__)

DEFAULT_WORLDBANK_YEARS_BACK = 8
MAX_ERROR_CHARS = 4_000
MAX_TRIGGER_CHARS = 16  # ingest_runs.trigger is VARCHAR(16)


FILE_SOURCES: dict[str, SourceDefinition] = {
    "csv": SourceDefinition(
        name="Long-format CSV (docs/long-format-csv.md)",
        kind="file",
        url=None,
        licence="as stated by whoever supplies the file",
    ),
    "ewp": SourceDefinition(
        name="Early Warning Project Statistical Risk Assessment, country-year predictors",
        kind="file",
        url="https://github.com/EarlyWarningProject/2025-Statistical-Risk-Assessment",
        licence="no licence published; use for evaluation only, do not redistribute",
    ),
    "vdem": SourceDefinition(
        name="V-Dem country-year data (Varieties of Democracy), selected variables",
        kind="file",
        url="https://v-dem.net/data/the-v-dem-dataset/",
        licence="CC BY-SA 4.0 (cite Coppedge et al. and Pemstein et al.)",
    ),
    "pts": SourceDefinition(
        name="Political Terror Scale (Amnesty, Human Rights Watch, State Department scores)",
        kind="file",
        url="https://www.politicalterrorscale.org/Data/Download.html",
        licence="free to use with citation (Gibney et al.); no formal open licence",
    ),
    "epr": SourceDefinition(
        name="Ethnic Power Relations Core (ETH Zurich), country-year population shares",
        kind="file",
        url="https://icr.ethz.ch/data/epr/core/",
        licence="academic use with citation (Vogt et al. 2015); not an open licence",
    ),
}
KNOWN_SOURCES: dict[str, SourceDefinition] = {
    **FILE_SOURCES,
    **{source_id: c.definition for source_id, c in CONNECTORS.items()},
}


# --- orchestration ---------------------------------------------------------------------------


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

    rows, unchanged, duplicates = _new_vintage_rows(session, run_id, source_id, payload)
    repository.insert_observations(session, rows)
    run.status = RunStatus.SUCCEEDED
    run.rows_loaded = len(rows)
    run.rows_unchanged = unchanged
    if duplicates:
        run.rows_skipped += duplicates
        skipped = dict(run.details.get("skipped", {}))
        skipped["identical_duplicate"] = skipped.get("identical_duplicate", 0) + duplicates
        run.details = {**run.details, "skipped": skipped}
    run.finished_at = utc_now()


def _new_vintage_rows(
    session: Session, run_id: int, source_id: str, payload: LoadedPayload
) -> tuple[list[tuple[Any, ...]], int, int]:
    """Rows (in ``repository.OBSERVATION_COLUMNS`` order) for values that are new or differ
    from the current vintage; (rows, unchanged, identical duplicates). Raises ``IngestError``
    on anything the database would reject. Runs once per value of a large load: kept lean."""
    known_countries = repository.country_codes(session)
    by_key: dict[tuple[str, str, str], ObservationRecord] = {}
    duplicates = 0
    variables: set[str] = set()
    for record in payload.records:
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
    unknown = sorted({key[0] for key in by_key} - known_countries)
    if unknown:
        shown = ", ".join(unknown[:20]) + (" ..." if len(unknown) > 20 else "")
        raise IngestError(
            f"{len(unknown)} country code(s) not in the countries table: {shown} "
            "(seed the countries table first)"
        )
    for variable in variables:
        if not VARIABLE_PATTERN.match(variable) or len(variable) > 128:
            raise IngestError(f"invalid variable name {variable!r}")

    current = observations_repository.current_values(session, variables)
    loaded_at = utc_now()
    rows: list[tuple[Any, ...]] = []
    unchanged = 0
    for key, record in by_key.items():
        if current.get(key) == record.value:
            unchanged += 1
            continue
        rows.append(
            (
                record.iso3,
                record.variable,
                record.period,
                record.period_start,
                record.period_end,
                record.value,
                source_id,
                run_id,
                loaded_at,
            )
        )
    return rows, unchanged, duplicates


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


def _evidence(received: list[RawPayload]) -> LoadedPayload:
    digest = hashlib.sha256()
    for body in received:
        digest.update(body.content)
    return LoadedPayload(
        records=[],
        content_digest=digest.hexdigest(),
        source_uri=received[-1].url,
        rows_read=0,
        raw=list(received),
    )


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


# --- entry points used by the CLI and the pipeline --------------------------------------------


def import_file(
    session_factory: sessionmaker[Session],
    path: Path,
    fmt: FileFormat,
    *,
    trigger: str = "cli",
    variables: list[str] | None = None,
    start_year: int | None = None,
) -> IngestRun:
    """Load a file as one run of the source named like its format: a long-format CSV (``csv``),
    an EWP country-year file (``ewp``), a V-Dem country-year CSV (``vdem``; ``variables`` and
    ``start_year`` override the defaults), a Political Terror Scale file (``pts``) or an Ethnic
    Power Relations Core file (``epr``; ``start_year`` leaves out earlier years)."""
    from earlywarn.countries.service import CountryResolver

    if fmt == "csv":

        def fetch() -> LoadedPayload:
            with session_factory() as session:
                known = repository.country_codes(session)
            return load_long_csv(path, known_iso3s=known)

    elif fmt == "ewp":

        def fetch() -> LoadedPayload:
            return load_ewp(path, resolver=CountryResolver.default())

    elif fmt in ("vdem", "pts", "epr") and _starts_like_a_zip(path):

        def fetch() -> LoadedPayload:
            return parse_table_bytes(
                fmt,
                _read_file(path, fmt),
                name=str(path),
                variables=variables,
                start_year=start_year,
            )

    elif fmt == "vdem":

        def fetch() -> LoadedPayload:
            return load_vdem(
                path,
                resolver=CountryResolver.default(),
                variables=variables or DEFAULT_VDEM_VARIABLES,
                start_year=start_year if start_year is not None else DEFAULT_VDEM_START_YEAR,
            )

    elif fmt == "pts":

        def fetch() -> LoadedPayload:
            return load_pts(path, resolver=CountryResolver.default())

    elif fmt == "epr":

        def fetch() -> LoadedPayload:
            return load_epr(path, resolver=CountryResolver.default(), start_year=start_year)

    else:
        raise UnknownSourceError(
            f"unknown file format {fmt!r}; expected one of {', '.join(FILE_SOURCES)}"
        )

    def fetch_and_keep() -> LoadedPayload:
        payload = fetch()
        content = path.read_bytes()
        if hashlib.sha256(content).hexdigest() != payload.content_digest:
            raise IngestError(f"{path} changed while it was being read; load it again")
        raw = RawPayload(
            url=str(path.resolve()),
            content=content,
            content_type="text/csv",
            retrieved_at=utc_now(),
        )
        return replace(payload, raw=[raw])

    return run_ingest(session_factory, fmt, fetch_and_keep, trigger=trigger)


def import_url(
    session_factory: sessionmaker[Session],
    settings: Settings,
    url: str,
    fmt: TableFormat,
    *,
    trigger: str = "cli",
    variables: list[str] | None = None,
    start_year: int | None = None,
    client: httpx.Client | None = None,
) -> IngestRun:
    """Download a V-Dem, PTS or EPR file (plain CSV or a zip holding one) and load it as a run
    of the source named like its format; the download is retried like any API call and its
    body archived. ``client`` replaces the default client (tests)."""

    def fetch_with(own: httpx.Client) -> LoadedPayload:
        http = SourceHttp(own, f"{fmt} download", max_attempts=settings.http_max_attempts)
        return fetch_table(http, url, fmt, variables=variables, start_year=start_year)

    def fetch() -> LoadedPayload:
        if client is not None:
            return fetch_with(client)
        with make_client("", settings.http_timeout_seconds) as own:
            return fetch_with(own)

    return run_ingest(session_factory, fmt, fetch, trigger=trigger)


def _starts_like_a_zip(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return is_zip(handle.read(4))
    except OSError:
        return False  # the format's own loader reports the unreadable file


def _read_file(path: Path, fmt: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise IngestError(f"{fmt} file {path}: cannot read ({exc.strerror})") from exc


class EmptyPayloadError(IngestError):
    """An API source answered without a single usable value."""

    def __init__(self, message: str, payload: LoadedPayload) -> None:
        super().__init__(message)
        self.payload: object | None = payload


class SourceNotConfiguredError(IngestError):
    """A source needs credentials that are not set; it is reported, never skipped silently."""


def ingest_source(
    session_factory: sessionmaker[Session],
    settings: Settings,
    config: Configuration | IndicatorsConfig,
    source_id: str,
    *,
    source_config: BaseModel | None = None,
    client: httpx.Client | None = None,
    trigger: str = "cli",
    sleep: Callable[[float], None] = time.sleep,
    progress: Callable[[str], None] | None = None,
) -> IngestRun:
    """Load one registered API source through its connector, as one ingest run.

    Raises ``SourceNotConfiguredError`` (before any run is written) when the source's
    credentials are missing, and ``UnknownSourceError`` for an id no connector has.
    ``client`` replaces the connector's own client (tests pass one on a mock transport).
    """
    connector = CONNECTORS.get(source_id)
    if connector is None:
        raise UnknownSourceError(
            f"unknown API source {source_id!r}; known: {', '.join(sorted(CONNECTORS))}"
        )
    missing = connector.missing_settings(settings)
    if missing:
        raise SourceNotConfiguredError(
            f"source {source_id!r} is not configured: set {', '.join(missing)}"
        )
    indicators = config.indicators if isinstance(config, Configuration) else config

    def fetch() -> LoadedPayload:
        with session_factory() as session:
            known = frozenset(repository.country_codes(session))
            previous = repository.last_run_with_status(
                session, source_id, (RunStatus.SUCCEEDED,), before_run_id=2**31 - 1
            )
        context = ConnectorContext(
            previous_digest=previous.content_digest if previous is not None else None,
            settings=settings,
            indicators=indicators,
            now=utc_now(),
            known_iso3s=known,
            source_config=source_config,
            sleep=sleep,
            progress=progress,
        )
        try:
            if client is not None:
                payload = connector.fetch(context, client)
            else:
                with connector.open_client(settings) as own_client:
                    payload = connector.fetch(context, own_client)
        except IngestError as exc:
            if context.received:
                # Keep what the source sent before it failed: the evidence of the failure.
                exc.payload = _evidence(context.received)
            raise
        if not payload.records and not payload.details.get("parsing_skipped"):
            # The failure mode users of other monitors describe: a source answering 200 with
            # nothing for weeks. An API run that yields no value at all is a failure.
            raise EmptyPayloadError(
                f"{source_id}: the source answered but yielded no usable value "
                f"({payload.rows_read} row(s) read, {payload.rows_skipped} skipped; "
                f"details: {json.dumps(payload.details, default=str)[:1500]})",
                payload,
            )
        return payload

    return run_ingest(session_factory, source_id, fetch, trigger=trigger)


def ingest_worldbank(
    session_factory: sessionmaker[Session],
    settings: Settings,
    config: Configuration | IndicatorsConfig,
    *,
    client: httpx.Client | None = None,
    trigger: str = "cli",
    start_year: int | None = None,
    end_year: int | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> IngestRun:
    """Load the configured ``wb.*`` indicators. Years default to the last
    ``DEFAULT_WORLDBANK_YEARS_BACK`` years up to the current one."""
    last = end_year if end_year is not None else utc_now().year
    first = start_year if start_year is not None else last - DEFAULT_WORLDBANK_YEARS_BACK
    return ingest_source(
        session_factory,
        settings,
        config,
        "worldbank",
        source_config=WorldBankSourceConfig(start_year=first, end_year=last),
        client=client,
        trigger=trigger,
        sleep=sleep,
    )


def ingest_configured_sources(
    session_factory: sessionmaker[Session],
    settings: Settings,
    config: Configuration | IndicatorsConfig,
    *,
    sources: SourcesConfig,
    trigger: str,
    client: httpx.Client | None = None,
    only: str | None = None,
    include_api: bool = True,
    skip_own_schedule: bool = False,
    sleep: Callable[[float], None] = time.sleep,
) -> list[IngestRun]:
    """Run the sources ``select_sources`` takes from ``sources`` (the loaded ``sources.yaml``); a
    failed source does not stop the others (its failure is on its run). An enabled API source
    whose credentials are missing is logged as not configured and shows as such in
    ``/sources``; it gets no run. ``client`` (tests) replaces every connector's own client."""
    runs: list[IngestRun] = []
    selected = select_sources(
        sources, settings, only=only, own_schedule=False if skip_own_schedule else None
    )
    for source_id, entry in selected.api.items() if include_api else ():
        if source_id not in CONNECTORS:  # a config section without a connector: a bug
            raise UnknownSourceError(f"sources.yaml names {source_id!r}, which has no connector")
        runs.append(
            ingest_source(
                session_factory,
                settings,
                config,
                source_id,
                source_config=entry,
                client=client,
                trigger=trigger,
                sleep=sleep,
            )
        )
    if include_api:
        for source_id, missing in selected.not_configured.items():
            logger.warning("source %s is not configured: set %s", source_id, ", ".join(missing))
    for entry in sources.files.values():
        if skip_own_schedule and entry.schedule is not None:
            continue
        if entry.enabled and (only is None or only == entry.format):
            if entry.url is not None and entry.format in ("vdem", "pts", "epr"):
                runs.append(
                    import_url(
                        session_factory,
                        settings,
                        entry.url,
                        entry.format,
                        trigger=trigger,
                        variables=entry.variables,
                        start_year=entry.start_year,
                        client=client,
                    )
                )
            elif entry.path is not None:
                runs.append(
                    import_file(
                        session_factory,
                        entry.path,
                        entry.format,
                        trigger=trigger,
                        variables=entry.variables,
                        start_year=entry.start_year,
                    )
                )
    return runs


def unconfigured_sources(settings: Settings, sources: SourcesConfig) -> dict[str, list[str]]:
    """Enabled API sources whose credentials are missing: source id -> unset variables."""
    found: dict[str, list[str]] = {}
    for source_id, entry in sources.api_sources().items():
        connector = CONNECTORS.get(source_id)
        if entry.enabled and connector is not None:
            missing = connector.missing_settings(settings)
            if missing:
                found[source_id] = missing
    return found


# --- read side for the API ---------------------------------------------------------------------


@dataclass(frozen=True)
class SourceStatus:
    source: Source
    last_run: IngestRun | None
    last_success: IngestRun | None
    last_failure: IngestRun | None


def source_statuses(session: Session) -> list[SourceStatus]:
    latest = repository.latest_run_ids(session)
    runs = repository.runs_by_id(session, latest.values())
    result = []
    for source in repository.list_sources(session):

        def pick(*statuses: RunStatus | None, source_id: str = source.id) -> IngestRun | None:
            ids = [latest[(source_id, s)] for s in statuses if (source_id, s) in latest]
            return runs[max(ids)] if ids else None

        result.append(
            SourceStatus(
                source=source,
                last_run=pick(None),
                # An unchanged run checked the source successfully and found nothing new.
                last_success=pick(RunStatus.SUCCEEDED, RunStatus.UNCHANGED),
                last_failure=pick(RunStatus.FAILED),
            )
        )
    return result


def list_runs(
    session: Session,
    *,
    source_id: str | None = None,
    status: RunStatus | None = None,
    limit: int = 50,
) -> list[IngestRun]:
    if source_id is not None and repository.get_source(session, source_id) is None:
        raise UnknownSourceError(f"unknown source {source_id!r}")
    return repository.list_runs(session, source_id=source_id, status=status, limit=limit)


def get_run(session: Session, run_id: int) -> IngestRun | None:
    return repository.get_run(session, run_id)


def list_sources(session: Session) -> list[Source]:
    return repository.list_sources(session)


def archived_payloads(session: Session, run_id: int) -> list[ArchivedPayload]:
    return repository.archived_payloads(session, run_id)


# --- freshness and health ----------------------------------------------------------------------


class HealthState(StrEnum):
    HEALTHY = "healthy"
    STALE = "stale"  # the last success is older than max_age_days
    FAILING = "failing"  # the most recent finished run failed
    NEVER_RUN = "never_run"
    NOT_CONFIGURED = "not_configured"  # enabled, but credentials are missing
    DISABLED = "disabled"


@dataclass(frozen=True)
class SourceHealth:
    """One source's freshness, as ``/sources`` shows it and the operational alert reads it.

    ``vintage_run_id`` is the run whose load is the newest data (the last ``succeeded`` run);
    ``rows`` counts the values that run's payload held (loaded + unchanged); ``observations``
    counts every stored vintage row of the source.
    """

    source_id: str
    name: str
    state: HealthState
    reason: str
    enabled: bool
    schedule: str | None
    max_age_days: int | None
    last_run: IngestRun | None
    last_success: IngestRun | None
    last_failure: IngestRun | None
    last_success_at: datetime | None
    last_failure_at: datetime | None
    last_error: str | None
    age_days: float | None
    rows: int
    observations: int
    vintage_run_id: int | None
    vintage_at: datetime | None
    missing_settings: tuple[str, ...] = ()


def source_health(
    session: Session,
    sources_config: SourcesConfig,
    now: datetime,
    *,
    settings: Settings | None = None,
) -> list[SourceHealth]:
    """Health of every source named in ``sources.yaml`` or present in the database, by id.

    Pure: reads the database, never writes. ``settings``, when given, lets a source whose
    credentials are missing show as ``not_configured``; without it that state is not judged.
    The order of precedence is not_configured, disabled, never_run, failing, stale, healthy:
    a failing source is reported as failing even when it is also stale, because the failure
    is the cause to fix.
    """
    configured = sources_config.scheduled_sources()
    statuses = {status.source.id: status for status in source_statuses(session)}
    vintage_ids = {
        source_id: run_id
        for (source_id, status), run_id in repository.latest_run_ids(session).items()
        if status == RunStatus.SUCCEEDED
    }
    vintages = repository.runs_by_id(session, vintage_ids.values())
    counts = repository.observation_counts_by_source(session)
    result: list[SourceHealth] = []
    for source_id in sorted(set(configured) | set(statuses)):
        entry = configured.get(source_id)
        status = statuses.get(source_id)
        definition = KNOWN_SOURCES.get(source_id)
        name = (
            status.source.name
            if status is not None
            else (definition.name if definition is not None else source_id)
        )
        last_success = status.last_success if status is not None else None
        last_failure = status.last_failure if status is not None else None
        last_run = status.last_run if status is not None else None
        success_at = _finished(last_success)
        failure_at = _finished(last_failure)
        age_days = (now - success_at).total_seconds() / 86_400 if success_at else None
        connector = CONNECTORS.get(source_id)
        missing = (
            tuple(connector.missing_settings(settings))
            if settings is not None and connector is not None
            else ()
        )
        enabled = entry.enabled if entry is not None else False
        max_age = entry.max_age_days if entry is not None else None
        if missing and enabled:
            state, reason = HealthState.NOT_CONFIGURED, f"set {', '.join(missing)}"
        elif entry is None or not enabled:
            state = HealthState.DISABLED
            reason = "not in sources.yaml" if entry is None else "enabled: false in sources.yaml"
        elif last_success is None and last_failure is None:
            state, reason = HealthState.NEVER_RUN, "no finished run yet"
        elif failure_at is not None and (success_at is None or failure_at >= success_at):
            state = HealthState.FAILING
            reason = f"last run failed: {last_failure.error if last_failure else ''}"
        elif age_days is not None and max_age is not None and age_days > max_age:
            state = HealthState.STALE
            reason = f"last success {age_days:.1f} days ago, more than max_age_days {max_age}"
        else:
            state, reason = HealthState.HEALTHY, "last run succeeded within max_age_days"
        vintage = vintages.get(vintage_ids[source_id]) if source_id in vintage_ids else None
        result.append(
            SourceHealth(
                source_id=source_id,
                name=name,
                state=state,
                reason=reason[:MAX_ERROR_CHARS],
                enabled=enabled,
                schedule=entry.schedule if entry is not None else None,
                max_age_days=max_age,
                last_run=last_run,
                last_success=last_success,
                last_failure=last_failure,
                last_success_at=success_at,
                last_failure_at=failure_at,
                last_error=last_failure.error if last_failure is not None else None,
                age_days=age_days,
                rows=(last_success.rows_loaded + last_success.rows_unchanged)
                if last_success is not None
                else 0,
                observations=counts.get(source_id, 0),
                vintage_run_id=vintage.id if vintage is not None else None,
                vintage_at=_finished(vintage),
                missing_settings=missing,
            )
        )
    return result


def _finished(run: IngestRun | None) -> datetime | None:
    if run is None:
        return None
    return run.finished_at or run.started_at
