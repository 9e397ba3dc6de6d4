"""Scoring commands: ``score``, ``score-history`` (backfill) and ``run-once`` (the whole
pipeline)."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from typing import Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.orm import Session, sessionmaker

from earlywarn.app.cli._shared import console, database, err, fail, load_config, print_run
from earlywarn.app.pipeline import (
    BackfillError,
    PipelineBusyError,
    ScoringSummary,
    backfill_history,
    history_dates,
    run_pipeline,
    score_and_alert,
)
from earlywarn.db import session_scope
from earlywarn.scoring import repository as scoring_repository
from earlywarn.settings import get_settings

VintageOption = Annotated[
    str | None,
    typer.Option(
        help="Use only data loaded by ingest runs finished at or before this UTC time "
        "(YYYY-MM-DDTHH:MM:SS), to reproduce what was known then"
    ),
]


def score(
    as_of: Annotated[
        str | None, typer.Option(help="Score as of this date (YYYY-MM-DD); default today")
    ] = None,
    vintage_as_of: VintageOption = None,
) -> None:
    """Score every country and evaluate alerts on the data already loaded.

    A date older than the newest run's is scored and stored without evaluating alerts or
    forecasting (use `score-history` to backfill many years)."""

    settings = get_settings()
    config = load_config(settings)
    vintage = _parse_vintage(vintage_as_of)
    with database(settings) as (_, factory):
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

    settings = get_settings()
    config = load_config(settings)
    vintage = _parse_vintage(vintage_as_of)
    try:
        dates = history_dates(from_year, to_year, today=datetime.now(UTC).date())
    except BackfillError as exc:
        raise fail(str(exc)) from exc
    with database(settings) as (_, factory):
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
            raise fail(f"{refused} (nothing was written)") from refused
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


def run_once(
    as_of: Annotated[str | None, typer.Option(help="Score as of this date (YYYY-MM-DD)")] = None,
    skip_ingest: Annotated[
        bool, typer.Option("--skip-ingest", help="Score the data already loaded")
    ] = False,
) -> None:
    """Run the whole pipeline once: ingest configured sources, score, evaluate alerts."""

    settings = get_settings()
    config = load_config(settings)
    with database(settings) as (_, factory):
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
            print_run(run)
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


def _parse_vintage(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        vintage = datetime.fromisoformat(value)
    except ValueError as exc:
        raise fail(
            f"--vintage-as-of must be a time like 2025-12-31T12:00:00, got '{value}'"
        ) from exc
    return vintage if vintage.tzinfo else vintage.replace(tzinfo=UTC)


def _parse_date(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise fail(f"--as-of must be a date like 2025-12-31, got '{value}'") from exc


def _print_alerts_skipped(summary: ScoringSummary) -> None:
    if summary.alerts_skipped_reason:
        console.print(f"[yellow]alerts not evaluated:[/] {summary.alerts_skipped_reason}")


def _print_forecast(summary: ScoringSummary) -> None:
    if summary.forecast_skipped_reason:
        console.print(f"[yellow]forecasts skipped:[/] {summary.forecast_skipped_reason}")
    else:
        console.print(
            f"forecasts stored for {summary.forecasts_stored} countries "
            f"(model {summary.forecast_model_version})"
        )


def _print_summary(factory: sessionmaker[Session], score_run_id: int) -> None:
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
