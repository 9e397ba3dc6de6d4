"""The ``earlywarn`` command line."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from earlywarn.app import logs
from earlywarn.app.migrations import upgrade_to_head
from earlywarn.db import DatabaseLimits, create_db_engine, make_session_factory, session_scope
from earlywarn.framework.config import ConfigError, Configuration, load_configuration
from earlywarn.ingest.models import IngestRun, RunStatus
from earlywarn.ingest.schemas import FileFormat
from earlywarn.settings import Settings, get_settings
from earlywarn.types import Role

if TYPE_CHECKING:
    from earlywarn.app.pipeline import ScoringSummary
    from earlywarn.forecasting.panel import Panel

app = typer.Typer(
    help="earlywarn: atrocity-risk early warning for focal points, analysts and administrators.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)  # error messages stay whole for grep and logs


class ImportFormat(StrEnum):
    AUTO = "auto"
    CSV = "csv"
    EWP = "ewp"
    VDEM = "vdem"
    PTS = "pts"
    EPR = "epr"


# A header column only that format has, for --format auto; anything else is the long format.
_FORMAT_MARKERS = (
    ("ewp_name", ImportFormat.EWP),
    ("country_text_id", ImportFormat.VDEM),
    ("PTS_A", ImportFormat.PTS),
    ("gwgroupid", ImportFormat.EPR),
)


def _detect_format(path: Path) -> ImportFormat:
    from earlywarn.ingest.errors import FileFormatError
    from earlywarn.ingest.files import is_zip, open_csv_member

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
    header = {cell.strip().strip('"') for cell in text.split(",")}
    for column, fmt in _FORMAT_MARKERS:
        if column in header:
            return fmt
    return ImportFormat.CSV


def _fail(message: str) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code=1)


def _config(settings: Settings) -> Configuration:
    try:
        return load_configuration(settings.config_dir)
    except ConfigError as exc:
        raise _fail(f"invalid configuration: {exc}") from exc


@contextmanager
def _database(settings: Settings) -> Iterator[tuple[Engine, sessionmaker[Session]]]:
    """The engine, migrated to the latest schema (creating the SQLite file on first use),
    closed when the command ends."""
    engine = create_db_engine(
        settings.resolved_database_url(), limits=DatabaseLimits.from_settings(settings)
    )
    try:
        upgrade_to_head(engine)
        yield engine, make_session_factory(engine)
    finally:
        engine.dispose()


def _print_run(run: IngestRun) -> None:
    colour = {RunStatus.SUCCEEDED: "green", RunStatus.UNCHANGED: "yellow"}.get(run.status, "red")
    console.print(
        f"[{colour}]{run.source_id}: {run.status.value}[/] (run {run.id}) "
        f"read {run.rows_read}, new or revised {run.rows_loaded}, "
        f"unchanged {run.rows_unchanged}, skipped {run.rows_skipped}"
    )
    if run.error:
        err.print(f"  [red]{run.error}[/]")
    for warning in run.details.get("warnings", []):
        # e.g. ACLED's access restrictions: the user must see them, not only the database.
        err.print(f"  [yellow]warning:[/] {warning}")
    skipped = run.details.get("skipped")
    if skipped:
        console.print(f"  skipped: {skipped}")


@app.command("init-db")
def init_db() -> None:
    """Create or upgrade the database, seed countries and load the configuration."""
    from earlywarn.app.pipeline import prepare_database

    settings = get_settings()
    config = _config(settings)
    with _database(settings) as (engine, factory):
        weight_set_id = prepare_database(factory, config)
        console.print(
            f"database ready at {engine.url.render_as_string(hide_password=True)} "
            f"(weight set {weight_set_id})"
        )


@app.command("import")
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
    from earlywarn.app.pipeline import prepare_database
    from earlywarn.ingest import service as ingest_service

    settings = get_settings()
    config = _config(settings)
    with _database(settings) as (_, factory):
        prepare_database(factory, config)
        chosen = _detect_format(path) if fmt is ImportFormat.AUTO else fmt
        formats: dict[ImportFormat, FileFormat] = {
            ImportFormat.CSV: "csv",
            ImportFormat.EWP: "ewp",
            ImportFormat.VDEM: "vdem",
            ImportFormat.PTS: "pts",
            ImportFormat.EPR: "epr",
        }
        run = ingest_service.import_file(factory, path, formats[chosen])
        _print_run(run)
        if run.status is RunStatus.FAILED:
            raise typer.Exit(code=1)


@app.command()
def ingest(
    source_arg: Annotated[
        str | None,
        typer.Argument(
            metavar="[SOURCE]",
            help="A source id (worldbank, ucdp, acled, gdelt, unhcr, reliefweb, or a file format:"
            " csv, ewp, vdem, pts, epr) or 'all' (default)",
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
    from earlywarn.app.pipeline import prepare_database
    from earlywarn.ingest import service as ingest_service
    from earlywarn.ingest.registry import CONNECTORS

    if source_arg is not None and source is not None and source_arg != source:
        raise _fail(f"give the source once (got '{source_arg}' and --source '{source}')")
    chosen = source_arg or source or "all"
    settings = get_settings()
    config = _config(settings)
    try:
        sources = ingest_service.load_sources_config(
            settings.config_dir / ingest_service.SOURCES_FILE
        )
    except ConfigError as exc:
        raise _fail(str(exc)) from exc
    api_entries = sources.api_sources()
    file_formats = {entry.format for entry in sources.files.values()}
    known = sorted(set(CONNECTORS) | set(ingest_service.FILE_SOURCES))
    if chosen != "all" and chosen not in known:
        raise _fail(f"unknown source '{chosen}' (known: all, {', '.join(known)})")
    if chosen == "all":
        targets = [sid for sid, entry in api_entries.items() if entry.enabled]
        targets += sorted({entry.format for entry in sources.files.values() if entry.enabled})
    else:
        targets = [chosen]
    if chosen in ingest_service.FILE_SOURCES and chosen not in file_formats:
        raise _fail(f"no '{chosen}' file under files: in sources.yaml")

    runs: list[IngestRun] = []
    not_configured: dict[str, list[str]] = {}
    with _database(settings) as (_, factory), _ingest_progress(len(targets)) as (bar, task):
        prepare_database(factory, config)
        for target in targets:
            bar.update(task, description=f"{target}: starting")

            def report(message: str, target: str = target) -> None:
                bar.update(task, description=f"{target}: {message}")

            connector = CONNECTORS.get(target)
            if connector is not None:
                missing = connector.missing_settings(settings)
                if missing:
                    not_configured[target] = missing
                    bar.advance(task)
                    continue
                runs.append(
                    ingest_service.ingest_source(
                        factory,
                        settings,
                        config,
                        target,
                        source_config=api_entries.get(target),
                        trigger="cli",
                        progress=report,
                    )
                )
            else:
                runs += ingest_service.ingest_configured_sources(
                    factory, settings, config, trigger="cli", only=target, include_api=False
                )
            bar.advance(task)
    for run in runs:
        _print_run(run)
    for target, missing in not_configured.items():
        err.print(f"[red]{target}: not configured[/]: set {', '.join(missing)}")
    if not targets:
        console.print("no source enabled in sources.yaml")
    if not_configured or any(r.status is RunStatus.FAILED for r in runs):
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


def _print_summary(factory: sessionmaker[Session], score_run_id: int) -> None:
    from earlywarn.scoring import repository as scoring_repository

    with session_scope(factory) as session:
        scores = scoring_repository.scores_for_run(session, score_run_id, limit=15)
        table = Table(title=f"Highest risk (score run {score_run_id})")
        for column in ("rank", "country", "composite", "level", "coverage"):
            table.add_column(column)
        for rank, s in enumerate(scores, start=1):
            if s.composite is None:
                break
            table.add_row(
                str(rank),
                s.country_iso3,
                f"{s.composite:.3f}",
                s.level.value if s.level else "-",
                f"{s.coverage:.0%}",
            )
        console.print(table)


VintageOption = Annotated[
    str | None,
    typer.Option(
        help="Use only data loaded by ingest runs finished at or before this UTC time "
        "(YYYY-MM-DDTHH:MM:SS), to reproduce what was known then"
    ),
]


@app.command()
def score(
    as_of: Annotated[
        str | None, typer.Option(help="Score as of this date (YYYY-MM-DD); default today")
    ] = None,
    vintage_as_of: VintageOption = None,
) -> None:
    """Score every country and evaluate alerts on the data already loaded.

    A date older than the newest run's is scored and stored without evaluating alerts or
    forecasting (use `score-history` to backfill many years)."""
    from earlywarn.app.pipeline import score_and_alert

    settings = get_settings()
    config = _config(settings)
    vintage = _parse_vintage(vintage_as_of)
    with _database(settings) as (_, factory):
        summary = score_and_alert(
            factory,
            config,
            as_of=_parse_date(as_of),
            vintage_as_of=vintage,
            models_dir=settings.models_dir,
            settings=settings,
        )
        console.print(
            f"score run {summary.score_run_id}: {summary.countries_rated} countries rated "
            f"({summary.countries_with_data} with data); alerts opened {summary.alerts_opened}, "
            f"escalated {summary.alerts_escalated}, resolved {summary.alerts_resolved}; "
            f"outbox messages {summary.outbox_messages}"
        )
        _print_alerts_skipped(summary)
        _print_forecast(summary)
        _print_summary(factory, summary.score_run_id)


def _parse_vintage(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        vintage = datetime.fromisoformat(value)
    except ValueError as exc:
        raise _fail(
            f"--vintage-as-of must be a time like 2025-12-31T12:00:00, got '{value}'"
        ) from exc
    return vintage if vintage.tzinfo else vintage.replace(tzinfo=UTC)


def _print_alerts_skipped(summary: ScoringSummary) -> None:
    if summary.alerts_skipped_reason:
        console.print(f"[yellow]alerts not evaluated:[/] {summary.alerts_skipped_reason}")


@app.command("score-history")
def score_history(
    from_year: Annotated[int, typer.Option(help="First year scored (as of 31 December)")],
    to_year: Annotated[int, typer.Option(help="Last year scored; must have ended")],
    weight_set_id: Annotated[
        int | None, typer.Option(help="Score under this weight set (default: the active one)")
    ] = None,
    vintage_as_of: VintageOption = None,
    again: Annotated[
        bool,
        typer.Option(
            "--again",
            help="Score dates that already have a run under this weight set again: new runs "
            "beside the old ones (without it such dates are refused)",
        ),
    ] = False,
) -> None:
    """Backfill history: one score run per year (as of 31 December) under one weight set,
    scored in one pass and written in one transaction. No alert is evaluated and nothing is
    forecast or notified: a backfill is not news, and alert rules never read these runs."""
    import time

    from earlywarn.app.pipeline import (
        BackfillError,
        PipelineBusyError,
        backfill_history,
        history_dates,
    )

    settings = get_settings()
    config = _config(settings)
    vintage = _parse_vintage(vintage_as_of)
    try:
        dates = history_dates(from_year, to_year, today=datetime.now(UTC).date())
    except BackfillError as exc:
        raise _fail(str(exc)) from exc
    with _database(settings) as (_, factory):
        started = time.perf_counter()
        refused: Exception | None = None
        # Transient: the spinner is gone before the summary or the error is printed.
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=err,
            transient=True,
        ) as progress:
            progress.add_task(
                f"scoring {len(dates)} year ends ({from_year}-{to_year}) in one pass", total=None
            )
            try:
                summary = backfill_history(
                    factory,
                    config,
                    from_year=from_year,
                    to_year=to_year,
                    weight_set_id=weight_set_id,
                    vintage_as_of=vintage,
                    again=again,
                )
            except (BackfillError, PipelineBusyError) as exc:
                refused = exc
        if refused is not None:
            raise _fail(f"{refused} (nothing was written)") from refused
        seconds = time.perf_counter() - started
    table = Table(title=f"History under weight set {summary.weight_set_id}")
    for column in ("as of", "score run", "countries rated"):
        table.add_column(column)
    for run in summary.runs:
        table.add_row(str(run.as_of), str(run.score_run_id), str(run.countries_rated))
    console.print(table)
    console.print(
        f"{len(summary.runs)} history runs written under weight set {summary.weight_set_id} "
        f"(version {summary.weight_set_version}), methodology {summary.methodology_version}"
        + (f", data vintage {vintage.isoformat()}" if vintage else "")
        + f", in {seconds:.1f} s; no alerts evaluated, nothing notified"
    )
    phases = ", ".join(
        f"{k.removesuffix('_seconds')} {v:.2f} s" for k, v in summary.seconds.items()
    )
    console.print(f"time in scoring: {phases}")


def _parse_date(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise _fail(f"--as-of must be a date like 2025-12-31, got '{value}'") from exc


@app.command("run-once")
def run_once(
    as_of: Annotated[str | None, typer.Option(help="Score as of this date (YYYY-MM-DD)")] = None,
    skip_ingest: Annotated[
        bool, typer.Option("--skip-ingest", help="Score the data already loaded")
    ] = False,
) -> None:
    """Run the whole pipeline once: ingest configured sources, score, evaluate alerts."""
    from earlywarn.app.pipeline import run_pipeline

    settings = get_settings()
    config = _config(settings)
    with _database(settings) as (_, factory):
        as_of_date = _parse_date(as_of)
        with Progress(
            SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=err
        ) as progress:
            task = progress.add_task("starting", total=None)
            result = run_pipeline(
                factory,
                settings,
                config,
                ingest=not skip_ingest,
                as_of=as_of_date,
                progress=lambda step: progress.update(task, description=step),
            )
        for run in result.ingest_runs:
            _print_run(run)
        assert result.scoring is not None
        s = result.scoring
        console.print(
            f"score run {s.score_run_id} as of {s.as_of}: {s.countries_rated} countries rated; "
            f"alerts opened {s.alerts_opened}, escalated {s.alerts_escalated}, "
            f"de-escalated {s.alerts_deescalated}, resolved {s.alerts_resolved}; "
            f"outbox messages {s.outbox_messages}"
        )
        _print_alerts_skipped(s)
        _print_forecast(s)
        _print_summary(factory, s.score_run_id)


@app.command("create-key")
def create_key(
    name: Annotated[str, typer.Option(help="Who or what the key is for")],
    role: Annotated[Role, typer.Option(help="analyst, focal_point or admin")],
    focal_point_id: Annotated[int | None, typer.Option(help="Link a focal_point key")] = None,
) -> None:
    """Create an API key and print it once (only its hash is stored)."""
    from earlywarn.auth import service as auth_service

    settings = get_settings()
    with _database(settings) as (_, factory):
        with session_scope(factory) as session:
            key, raw = auth_service.create_key(
                session, name=name, role=role, focal_point_id=focal_point_id
            )
            console.print(f"created key {key.id} ({role.value}) for '{name}':")
        console.print(raw)


@app.command()
def deliver(
    once: Annotated[
        bool, typer.Option("--once", help="Deliver what is due now, then exit (for cron).")
    ] = False,
) -> None:
    """Run the delivery worker: outbox -> webhooks and e-mail, with retries; and escalations.

    Safe to run next to `serve` or another worker: rows are claimed with a lease (and SKIP
    LOCKED on PostgreSQL). A worker killed mid-delivery loses nothing: its lease expires and
    the message is sent again with the same webhook-id.
    """
    import signal

    from earlywarn.alerting.service import escalate_due
    from earlywarn.notify.delivery import DeliveryStats, worker_from_settings

    logs.configure()
    settings = get_settings()
    config = _config(settings)
    stopping: list[bool] = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))

    def report(stats: DeliveryStats) -> None:
        if stats.claimed:
            console.print(
                f"delivered {stats.delivered}, retrying {stats.retried}, failed {stats.failed}"
                + (
                    f", endpoints disabled {stats.endpoints_disabled}"
                    if stats.endpoints_disabled
                    else ""
                )
            )

    with _database(settings) as (_, factory):
        worker = worker_from_settings(factory, settings, config.alerting.delivery)
        try:
            if once:
                with session_scope(factory) as session:
                    escalate_due(session)
                report(worker.drain())
            else:
                console.print("delivery worker running; Ctrl-C or SIGTERM stops it")
                with suppress(KeyboardInterrupt):
                    worker.run(stop=lambda: bool(stopping), on_pass=report)
        finally:
            worker.close()


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address")] = None,
    port: Annotated[int | None, typer.Option(help="Port")] = None,
    no_scheduler: Annotated[bool, typer.Option("--no-scheduler")] = False,
) -> None:
    """Run the API and the scheduled pipeline (one process)."""
    import uvicorn

    from earlywarn.app.factory import create_app
    from earlywarn.app.pipeline import prepare_database
    from earlywarn.auth import repository as auth_repository
    from earlywarn.auth import service as auth_service

    logs.configure()
    settings = get_settings()
    config = _config(settings)
    with _database(settings) as (engine, factory):
        prepare_database(factory, config)
        with session_scope(factory) as session:
            if settings.bootstrap_admin_key is None and (
                auth_repository.count_active_with_role(session, Role.ADMIN) == 0
            ):
                _, raw = auth_service.create_key(session, name="first-admin", role=Role.ADMIN)
                err.print(
                    "[bold yellow]No admin API key existed, so one was created. "
                    "It is shown only now:[/]\n" + raw
                )
        api = create_app(
            settings=settings,
            engine=engine,
            configuration=config,
            start_scheduler=settings.scheduler_enabled and not no_scheduler,
        )
        uvicorn.run(
            api,
            host=host or settings.host,
            port=port or settings.port,
            workers=1,
            log_config=None,  # uvicorn's lines go through the JSON handler too
        )


def _print_forecast(summary: ScoringSummary) -> None:
    if summary.forecast_skipped_reason:
        console.print(f"[yellow]forecasts skipped:[/] {summary.forecast_skipped_reason}")
    else:
        console.print(
            f"forecasts stored for {summary.forecasts_stored} countries "
            f"(model {summary.forecast_model_version})"
        )


class DataFormat(StrEnum):
    EWP = "ewp"
    DB = "db"


def _load_panel(
    data_format: DataFormat,
    data: Path | None,
    settings: Settings,
    predictors: str | None = None,
    outcomes: Path | None = None,
) -> tuple[Panel, str]:
    """The panel and a description of where it came from (for the model card)."""
    from earlywarn.forecasting.panel import EWP_PREDICTORS, read_ewp_csv
    from earlywarn.forecasting.service import panel_from_observations
    from earlywarn.ingest.errors import FileFormatError

    names = tuple(p.strip() for p in predictors.split(",") if p.strip()) if predictors else None
    chosen = names or EWP_PREDICTORS
    if data_format is DataFormat.EWP:
        if data is None:
            raise _fail("--format ewp needs --data PATH (an Early Warning Project CSV)")
        try:
            panel = read_ewp_csv(data, predictors=chosen, outcomes_source=outcomes)
        except FileFormatError as exc:
            raise _fail(str(exc)) from exc
        return panel, f"EWP file {data.name}"
    if outcomes is not None:
        raise _fail("--outcomes goes with --format ewp; import outcome tables into the database")
    with _database(settings) as (_, factory), session_scope(factory) as session:
        panel = panel_from_observations(session, predictors=chosen)
    if not len(panel):
        raise _fail("no ewp.* observations are stored: run `earlywarn import FILE --format ewp`")
    return panel, "stored observations (ewp.* variables)"


ModelOption = Annotated[
    str, typer.Option("--model", help="ensemble (default), logit, boosting or ewp-reference")
]
PredictorsOption = Annotated[
    str | None,
    typer.Option(
        help="Comma-separated predictor columns (default: the EWP 2025 model's 39); "
        "COLUMN:change_Ky is the within-country change over K years"
    ),
]
OutcomesOption = Annotated[
    Path | None,
    typer.Option(help="An outcome table in the EWP format that adds or replaces outcomes"),
]


@app.command()
def backtest(
    data_format: Annotated[
        DataFormat, typer.Option("--format", help="ewp: a CSV file; db: stored observations")
    ] = DataFormat.EWP,
    data: Annotated[Path | None, typer.Option(help="The EWP-format CSV")] = None,
    first_train_year: Annotated[int, typer.Option(help="First last-training-year T")] = 1991,
    last_train_year: Annotated[int, typer.Option(help="Last last-training-year T")] = 2021,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the figures here")] = None,
    report: Annotated[
        Path | None, typer.Option(help="Write an HTML report for analysts here")
    ] = None,
    model: ModelOption = "ensemble",
    n_jobs: Annotated[int | None, typer.Option(help="Parallel steps (default: 2)")] = None,
    predictors: PredictorsOption = None,
    outcomes: OutcomesOption = None,
) -> None:
    """Walk-forward backtest with the Early Warning Project protocol (train through T,
    forecast from T+2, score each onset by the better of the two forecasts before it)."""
    import json

    from earlywarn.forecasting.backtest import run_backtest
    from earlywarn.forecasting.estimators import MODEL_NAMES, make_model
    from earlywarn.forecasting.report import write_report

    if model not in MODEL_NAMES:
        raise _fail(f"unknown --model {model!r}; choose one of {', '.join(MODEL_NAMES)}")
    panel, source = _load_panel(data_format, data, get_settings(), predictors, outcomes)
    try:
        result = run_backtest(
            panel,
            functools.partial(make_model, model, panel.feature_names),
            model_name=model,
            first_train_year=first_train_year,
            last_train_year=last_train_year,
            n_jobs=n_jobs,
        )
    except (ValueError, KeyError) as exc:
        raise _fail(f"backtest on {source}: {exc}") from exc
    summary = result.summary()
    summary["data"] = source
    summary["data_digest_sha256"] = panel.digest()
    if json_out is not None:
        json_out.write_text(json.dumps(summary, indent=2) + "\n")
    if report is not None:
        write_report(result, report)
    console.print(
        f"{model}: AUC {result.auc:.3f}, recall@10/20/30 {result.recall_at_10:.2f}/"
        f"{result.recall_at_20:.2f}/{result.recall_at_30:.2f} of {result.n_onsets} onsets, "
        f"false alarms per hit at 4% {result.false_alarms_per_hit_at_4pct}, "
        f"{result.seconds:.1f} s"
    )


@app.command()
def train(
    data_format: Annotated[
        DataFormat, typer.Option("--format", help="ewp: a CSV file; db: stored observations")
    ] = DataFormat.DB,
    data: Annotated[Path | None, typer.Option(help="The EWP-format CSV (--format ewp)")] = None,
    model: ModelOption = "ensemble",
    run_backtest_too: Annotated[
        bool,
        typer.Option("--backtest/--no-backtest", help="Backtest first; figures go in the card"),
    ] = True,
    first_train_year: Annotated[int, typer.Option(help="Backtest: first T")] = 1991,
    last_train_year: Annotated[int, typer.Option(help="Backtest: last T")] = 2021,
    promote: Annotated[bool, typer.Option("--promote", help="Promote it at once")] = False,
    predictors: PredictorsOption = None,
    outcomes: OutcomesOption = None,
) -> None:
    """Train a forecasting model on all known data and save it with its model card."""
    from earlywarn.forecasting.backtest import run_backtest
    from earlywarn.forecasting.estimators import MODEL_NAMES, make_model
    from earlywarn.forecasting.registry import (
        ModelRegistry,
        RegistryError,
        model_card,
        train_bundle,
    )

    if model not in MODEL_NAMES:
        raise _fail(f"unknown --model {model!r}; choose one of {', '.join(MODEL_NAMES)}")
    settings = get_settings()
    panel, source = _load_panel(data_format, data, settings, predictors, outcomes)
    figures = None
    try:
        if run_backtest_too:
            figures = run_backtest(
                panel,
                functools.partial(make_model, model, panel.feature_names),
                model_name=model,
                first_train_year=first_train_year,
                last_train_year=last_train_year,
            ).summary()
            figures.pop("onsets")
        bundle = train_bundle(panel, make_model(model, panel.feature_names), name=model)
        registry = ModelRegistry(settings.models_dir)
        folder = registry.save(bundle, model_card(bundle, data_source=source, backtest=figures))
        if promote:
            registry.promote(bundle.version)
    except (ValueError, KeyError, RegistryError) as exc:
        raise _fail(f"training on {source}: {exc}") from exc
    console.print(f"saved model {bundle.version} in {folder}" + (" (promoted)" if promote else ""))


@app.command("promote")
def promote_model(
    version: Annotated[str, typer.Argument(help="A version listed by `earlywarn models`")],
) -> None:
    """Make this model version the one the service forecasts with."""
    from earlywarn.forecasting.registry import ModelRegistry, RegistryError

    try:
        ModelRegistry(get_settings().models_dir).promote(version)
    except RegistryError as exc:
        raise _fail(str(exc)) from exc
    console.print(f"promoted {version}")


@app.command("models")
def list_models() -> None:
    """List the trained model versions and which one is promoted."""
    from earlywarn.forecasting.registry import ModelRegistry, RegistryError

    registry = ModelRegistry(get_settings().models_dir)
    try:
        promoted = registry.promoted_version()
    except RegistryError as exc:
        raise _fail(str(exc)) from exc
    table = Table(title=f"Models in {registry.root}")
    for column in ("version", "promoted", "AUC", "recall@30"):
        table.add_column(column)
    for version in registry.versions():
        backtest_figures = registry.card(version).get("backtest") or {}
        table.add_row(
            version,
            "yes" if version == promoted else "",
            str(backtest_figures.get("auc", "-")),
            str(backtest_figures.get("recall_at_30", "-")),
        )
    console.print(table)


if __name__ == "__main__":
    app()
