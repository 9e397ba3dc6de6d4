"""The ways in: a file, a download, an API source, every source ``sources.yaml`` enables; and
the reads ``/sources`` makes. Each load is one ingest run (``runs``)."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import httpx
from pydantic import BaseModel
from sqlalchemy.orm import Session, sessionmaker

from earlywarn.db import utc_now
from earlywarn.framework.config import Configuration
from earlywarn.framework.config_schemas import IndicatorsConfig
from earlywarn.framework.sources_schemas import FileFormat, SourcesConfig, WorldBankSourceConfig
from earlywarn.ingest import repository, zero_fill
from earlywarn.ingest.connectors import ConnectorContext
from earlywarn.ingest.coups import load_coups
from earlywarn.ingest.csv_long import load_long_csv
from earlywarn.ingest.epr import load_epr
from earlywarn.ingest.errors import (
    EmptyPayloadError,
    IngestError,
    SourceNotConfiguredError,
    UnknownSourceError,
)
from earlywarn.ingest.ewp import load_ewp
from earlywarn.ingest.files import TableFormat, fetch_table, is_zip, parse_table_bytes
from earlywarn.ingest.http import SourceHttp, make_client
from earlywarn.ingest.models import ArchivedPayload
from earlywarn.ingest.pts import load_pts
from earlywarn.ingest.registry import CONNECTORS, FILE_SOURCES
from earlywarn.ingest.runs import run_ingest
from earlywarn.ingest.schemas import LoadedPayload, RawPayload
from earlywarn.ingest.selection import select_sources
from earlywarn.ingest.vdem import DEFAULT_START_YEAR as DEFAULT_VDEM_START_YEAR
from earlywarn.ingest.vdem import DEFAULT_VARIABLES as DEFAULT_VDEM_VARIABLES
from earlywarn.ingest.vdem import load_vdem
from earlywarn.observations.models import IngestRun, RunStatus, Source
from earlywarn.settings import Settings

logger = logging.getLogger(__name__)

DEFAULT_WORLDBANK_YEARS_BACK = 8


# --- entry points used by the CLI and the pipeline --------------------------------------------


def import_file(
    session_factory: sessionmaker[Session],
    path: Path,
    fmt: FileFormat,
    *,
    trigger: str = "cli",
    variables: list[str] | None = None,
    start_year: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> IngestRun:
    """Load a file as one run of the source named like its format: a long-format CSV (``csv``),
    an EWP country-year file (``ewp``), a V-Dem country-year CSV (``vdem``; ``variables`` and
    ``start_year`` override the defaults), a Political Terror Scale file (``pts``) or an Ethnic
    Power Relations Core file (``epr``; ``start_year`` leaves out earlier years)."""
    fetch = _file_reader(session_factory, path, fmt, variables=variables, start_year=start_year)

    def fetch_and_keep() -> LoadedPayload:
        # Phases for the CLI's progress display: an EWP file takes some 20 s to read and store.
        report = progress or (lambda message: None)
        report(f"reading {path.name}")
        payload = fetch()
        report(f"storing {len(payload.records):,} values from {path.name}")
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


def _file_reader(
    session_factory: sessionmaker[Session],
    path: Path,
    fmt: FileFormat,
    *,
    variables: list[str] | None,
    start_year: int | None,
) -> Callable[[], LoadedPayload]:
    """How ``import_file`` reads ``path`` as ``fmt``; the country resolver is built when the
    read starts (inside the run), not before."""
    from earlywarn.countries.service import CountryResolver

    def read_csv() -> LoadedPayload:
        with session_factory() as session:
            known = repository.country_codes(session)
        return load_long_csv(path, known_iso3s=known)

    def read_vdem() -> LoadedPayload:
        return load_vdem(
            path,
            resolver=CountryResolver.default(),
            variables=variables or DEFAULT_VDEM_VARIABLES,
            start_year=start_year if start_year is not None else DEFAULT_VDEM_START_YEAR,
        )

    if fmt in ("vdem", "pts", "epr") and _starts_like_a_zip(path):
        table = fmt
        return lambda: parse_table_bytes(
            table,
            _read_file(path, table),
            name=str(path),
            variables=variables,
            start_year=start_year,
        )
    readers: dict[str, Callable[[], LoadedPayload]] = {
        "csv": read_csv,
        "ewp": lambda: load_ewp(path, resolver=CountryResolver.default()),
        "vdem": read_vdem,
        "pts": lambda: load_pts(path, resolver=CountryResolver.default()),
        "epr": lambda: load_epr(path, resolver=CountryResolver.default(), start_year=start_year),
        "coups": lambda: load_coups(path, resolver=CountryResolver.default()),
    }
    reader = readers.get(fmt)
    if reader is None:
        raise UnknownSourceError(
            f"unknown file format {fmt!r}; expected one of {', '.join(FILE_SOURCES)}"
        )
    return reader


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
        # After the emptiness check: zeros never make a silent source look like it answered.
        return zero_fill.complete(source_id, payload, source_config, known)

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
            if entry.url is not None and entry.format in ("vdem", "pts", "epr", "coups"):
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
