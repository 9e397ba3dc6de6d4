"""Forecasting commands: ``backtest``, ``train``, ``promote`` and ``models``."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress, TaskID
from rich.table import Table

from earlywarn.app.cli._shared import console, database, fail, load_config
from earlywarn.db import session_scope
from earlywarn.forecasting.catalog import (
    DEFAULT_MODEL,
    MODEL_NAMES,
    default_predictors,
    make_model,
)
from earlywarn.forecasting.lifecycle import database_registry
from earlywarn.forecasting.official import card_figures, run_both_horizons
from earlywarn.forecasting.panel import Panel, read_ewp_csv
from earlywarn.forecasting.registry import ModelRegistry, RegistryError, model_card, train_bundle
from earlywarn.forecasting.report import write_report
from earlywarn.forecasting.service import panel_from_observations
from earlywarn.ingest.errors import FileFormatError
from earlywarn.settings import Settings, get_settings


class DataFormat(StrEnum):
    EWP = "ewp"
    DB = "db"


ModelOption = Annotated[
    str,
    typer.Option(
        "--model",
        help="nested-fast (default; procedure 2: docs/forecasting-procedure-2.md), nested "
        "(procedure 1: docs/forecasting-procedure.md), ensemble, logit, boosting or ewp-reference",
    ),
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


def _load_panel(
    data_format: DataFormat,
    data: Path | None,
    settings: Settings,
    predictors: str | None = None,
    outcomes: Path | None = None,
    model: str = DEFAULT_MODEL,
) -> tuple[Panel, str]:
    """The panel and a description of where it came from (for the model card)."""

    names = tuple(p.strip() for p in predictors.split(",") if p.strip()) if predictors else None
    chosen = names or default_predictors(model)
    if data_format is DataFormat.EWP:
        if data is None:
            raise fail("--format ewp needs --data PATH (an Early Warning Project CSV)")
        try:
            panel = read_ewp_csv(data, predictors=chosen, outcomes_source=outcomes)
        except FileFormatError as exc:
            raise fail(str(exc)) from exc
        return panel, f"EWP file {data.name}"
    if outcomes is not None:
        raise fail("--outcomes goes with --format ewp; import outcome tables into the database")
    with database(settings) as (_, factory), session_scope(factory) as session:
        panel = panel_from_observations(session, predictors=chosen)
    if not len(panel):
        raise fail("no ewp.* observations are stored: run `earlywarn import FILE --format ewp`")
    return panel, "stored observations (ewp.* variables)"


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
    model: ModelOption = DEFAULT_MODEL,
    n_jobs: Annotated[int | None, typer.Option(help="Parallel steps (default: 2)")] = None,
    predictors: PredictorsOption = None,
    outcomes: OutcomesOption = None,
) -> None:
    """Walk-forward backtest with the Early Warning Project protocol (train through T,
    forecast from T+2, score each onset by the better of the two forecasts before it), for
    the two-year and the one-year horizon."""

    if model not in MODEL_NAMES:
        raise fail(f"unknown --model {model!r}; choose one of {', '.join(MODEL_NAMES)}")
    panel, source = _load_panel(data_format, data, get_settings(), predictors, outcomes, model)
    try:
        with _steps_progress() as advance:
            result, summary = run_both_horizons(
                panel,
                model,
                first_train_year=first_train_year,
                last_train_year=last_train_year,
                n_jobs=n_jobs,
                progress=advance,
            )
    except (ValueError, KeyError) as exc:
        raise fail(f"backtest on {source}: {exc}") from exc
    summary["data"] = source
    summary["data_digest_sha256"] = panel.digest()
    if json_out is not None:
        json_out.write_text(json.dumps(summary, indent=2) + "\n")
    if report is not None:
        write_report(result, report)
    console.print(
        f"{model}: AUC {result.auc:.3f}, recall@10/20/30 {result.recall_at_10:.2f}/"
        f"{result.recall_at_20:.2f}/{result.recall_at_30:.2f} of {result.n_onsets} onsets, "
        f"false alarms per hit at 4% {result.false_alarms_per_hit_at_4pct}; one-year AUC "
        f"{summary['one_year']['auc']}, recall@30 {summary['one_year']['recall_at_30']}; "
        f"{summary['seconds_both_horizons']:.1f} s, {summary['cpu_seconds']:.1f} s CPU"
    )


@contextmanager
def _steps_progress() -> Iterator[Callable[[int, int, int], None]]:
    """A progress bar per horizon, advanced after each walk-forward step (on stderr)."""
    tasks: dict[int, TaskID] = {}
    with Progress(console=Console(stderr=True), transient=False) as bar:

        def advance(horizon: int, done: int, total: int) -> None:
            if horizon not in tasks:
                tasks[horizon] = bar.add_task(f"{horizon}-year walk-forward steps", total=total)
            bar.update(tasks[horizon], completed=done)

        yield advance


def _registry(settings: Settings) -> ModelRegistry:
    """This database's registry (``<models dir>/<the database's key>``)."""
    with database(settings) as (_, factory), session_scope(factory) as session:
        return database_registry(session, settings.models_dir)


def train(
    data_format: Annotated[
        DataFormat, typer.Option("--format", help="ewp: a CSV file; db: stored observations")
    ] = DataFormat.DB,
    data: Annotated[Path | None, typer.Option(help="The EWP-format CSV (--format ewp)")] = None,
    model: ModelOption = DEFAULT_MODEL,
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

    if model not in MODEL_NAMES:
        raise fail(f"unknown --model {model!r}; choose one of {', '.join(MODEL_NAMES)}")
    settings = get_settings()
    panel, source = _load_panel(data_format, data, settings, predictors, outcomes, model)
    unmapped = load_config(settings).forecast_drivers.unmapped(panel.feature_names)
    if unmapped:
        console.print(
            f"[yellow]warning:[/] config/forecast_drivers.yaml does not describe "
            f"{', '.join(unmapped)}: their drivers will show the column name; add a label and "
            "a risk factor for each"
        )
    figures = None
    try:
        if run_backtest_too:
            with _steps_progress() as advance:
                _, figures = run_both_horizons(
                    panel,
                    model,
                    first_train_year=first_train_year,
                    last_train_year=last_train_year,
                    progress=advance,
                )
            figures = card_figures(figures)
        console.print(f"training {model} on every labelled year ...")
        bundle = train_bundle(panel, make_model(model, panel.feature_names), name=model)
        registry = _registry(settings)
        folder = registry.save(bundle, model_card(bundle, data_source=source, backtest=figures))
        if promote:
            registry.promote(bundle.version)
    except (ValueError, KeyError, RegistryError) as exc:
        raise fail(f"training on {source}: {exc}") from exc
    console.print(f"saved model {bundle.version} in {folder}" + (" (promoted)" if promote else ""))


def promote_model(
    version: Annotated[str, typer.Argument(help="A version listed by `earlywarn models`")],
) -> None:
    """Make this model version the one the service forecasts with."""

    try:
        _registry(get_settings()).promote(version)
    except RegistryError as exc:
        raise fail(str(exc)) from exc
    console.print(f"promoted {version}")


def list_models() -> None:
    """List the trained model versions and which one is promoted."""

    registry = _registry(get_settings())
    try:
        promoted = registry.promoted_version()
    except RegistryError as exc:
        raise fail(str(exc)) from exc
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
