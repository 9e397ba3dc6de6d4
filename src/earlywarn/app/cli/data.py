"""Data commands: ``init-db``, ``import`` (a file) and ``ingest`` (the live sources)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from earlywarn.app.cli._shared import console, database, err, fail, load_config, print_run
from earlywarn.app.migrations import startup_lock
from earlywarn.app.pipeline import prepare_database
from earlywarn.framework.sources_schemas import FileFormat
from earlywarn.ingest import service as ingest_service
from earlywarn.ingest.errors import FileFormatError
from earlywarn.ingest.files import is_zip, open_csv_member
from earlywarn.ingest.registry import CONNECTORS, FILE_SOURCES
from earlywarn.ingest.selection import select_sources
from earlywarn.observations.models import IngestRun, RunStatus
from earlywarn.settings import get_settings


class ImportFormat(StrEnum):
    AUTO = "auto"
    CSV = "csv"
    EWP = "ewp"
    VDEM = "vdem"
    PTS = "pts"
    EPR = "epr"
    COUPS = "coups"


# A header column only that format has, for --format auto; anything else is the long format.
_FORMAT_MARKERS = (
    ("ewp_name", ImportFormat.EWP),
    ("country_text_id", ImportFormat.VDEM),
    ("PTS_A", ImportFormat.PTS),
    ("gwgroupid", ImportFormat.EPR),
    ("coup", ImportFormat.COUPS),  # Powell & Thyne's list (tab-separated)
)


def _detect_format(path: Path) -> ImportFormat:
    with path.open("rb") as handle:
        first_line = handle.readline()
    if is_zip(first_line):
        # A zipped release (V-Dem ships one): the header of the CSV inside decides.
        try:
            stream, _ = open_csv_member(path.read_bytes(), str(path))
        except FileFormatError:
            return ImportFormat.CSV  # the chosen importer reports what is wrong
        with stream:
            first_line = stream.readline()
    text = first_line.decode("utf-8", errors="replace")
    header = {cell.strip().strip('"') for cell in text.replace("\t", ",").split(",")}
    for column, fmt in _FORMAT_MARKERS:
        if column in header:
            return fmt
    return ImportFormat.CSV


def init_db() -> None:
    """Create or upgrade the database, seed countries and load the configuration."""

    settings = get_settings()
    config = load_config(settings)
    with database(settings) as (engine, factory):
        with startup_lock(engine):  # two init-db at once: the second waits, then finds it done
            weight_set_id = prepare_database(factory, config)
        console.print(
            f"database ready at {engine.url.render_as_string(hide_password=True)} "
            f"(weight set {weight_set_id})"
        )


def import_file(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    fmt: Annotated[
        ImportFormat,
        typer.Option(
            "--format", "-f", help="csv (long format), ewp, vdem, pts, epr, or auto (by header)"
        ),
    ] = ImportFormat.AUTO,
) -> None:
    """Import a file: the long-format CSV (iso3,variable,year,value[,source]), the EWP file, a
    V-Dem country-year CSV, a Political Terror Scale file or an EPR Core file."""

    settings = get_settings()
    config = load_config(settings)
    with database(settings) as (_, factory):
        prepare_database(factory, config)
        chosen = _detect_format(path) if fmt is ImportFormat.AUTO else fmt
        formats: dict[ImportFormat, FileFormat] = {
            ImportFormat.CSV: "csv",
            ImportFormat.EWP: "ewp",
            ImportFormat.VDEM: "vdem",
            ImportFormat.PTS: "pts",
            ImportFormat.EPR: "epr",
            ImportFormat.COUPS: "coups",
        }
        with _ingest_progress(1) as (bar, task):
            run = ingest_service.import_file(
                factory,
                path,
                formats[chosen],
                progress=lambda message: bar.update(task, description=message),
            )
            bar.advance(task)
        print_run(run)
        if run.status is RunStatus.FAILED:
            raise typer.Exit(code=1)


def ingest(
    source_arg: Annotated[
        str | None,
        typer.Argument(
            metavar="[SOURCE]",
            help="A source id (worldbank, ucdp, acled, gdelt, unhcr, reliefweb, sdg, untc, or a"
            " file format: csv, ewp, vdem, pts, epr) or 'all' (default)",
        ),
    ] = None,
    source: Annotated[
        str | None, typer.Option("--source", help="Same as SOURCE (kept for scripts)")
    ] = None,
) -> None:
    """Fetch data from the live sources of config/sources.yaml, with a progress display.

    'all' runs every enabled source; naming one runs it even when it is disabled. A source
    whose credentials are missing is reported as not configured.
    """

    if source_arg is not None and source is not None and source_arg != source:
        raise fail(f"give the source once (got '{source_arg}' and --source '{source}')")
    chosen = source_arg or source or "all"
    settings = get_settings()
    config = load_config(settings)
    sources = config.sources
    file_formats = {entry.format for entry in sources.files.values()}
    known = sorted(set(CONNECTORS) | set(FILE_SOURCES))
    if chosen != "all" and chosen not in known:
        raise fail(f"unknown source '{chosen}' (known: all, {', '.join(known)})")
    if chosen in FILE_SOURCES and chosen not in file_formats:
        raise fail(f"no '{chosen}' file under files: in sources.yaml")
    selected = select_sources(sources, settings, only=None if chosen == "all" else chosen)
    targets = selected.source_ids

    runs: list[IngestRun] = []
    total = len(targets) + len(selected.not_configured)
    with database(settings) as (_, factory), _ingest_progress(total) as (bar, task):
        prepare_database(factory, config)
        bar.advance(task, len(selected.not_configured))
        for target in targets:
            bar.update(task, description=f"{target}: starting")

            def report(message: str, target: str = target) -> None:
                bar.update(task, description=f"{target}: {message}")

            if target in selected.api:
                runs.append(
                    ingest_service.ingest_source(
                        factory,
                        settings,
                        config,
                        target,
                        source_config=selected.api[target],
                        trigger="cli",
                        progress=report,
                    )
                )
            else:
                runs += ingest_service.ingest_configured_sources(
                    factory,
                    settings,
                    config,
                    sources=sources,
                    trigger="cli",
                    only=target,
                    include_api=False,
                )
            bar.advance(task)
    for run in runs:
        print_run(run)
    for target, missing in selected.not_configured.items():
        err.print(f"[red]{target}: not configured[/]: set {', '.join(missing)}")
    if not targets and not selected.not_configured:
        console.print("no source enabled in sources.yaml")
    if selected.not_configured or any(r.status is RunStatus.FAILED for r in runs):
        raise typer.Exit(code=1)


@contextmanager
def _ingest_progress(total: int) -> Iterator[tuple[Progress, TaskID]]:
    with Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        yield bar, bar.add_task("ingest", total=total)
