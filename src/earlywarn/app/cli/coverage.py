"""``earlywarn coverage`` (per risk factor, the countries with fresh evidence in the latest
score run, by source, and the sources to enable to raise it) and ``earlywarn score-backtest``
(the composite's track record from the stored yearly runs)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from earlywarn.app.cli._shared import console, database, err, fail, load_config
from earlywarn.app.pipeline import prepare_database
from earlywarn.countries.service import CountryResolver
from earlywarn.forecasting.report import render_track_record
from earlywarn.scoring.coverage import CoverageReport, NoScoreRunError, as_dict, coverage_report
from earlywarn.scoring.track_record import TrackRecordError
from earlywarn.scoring.track_record import score_backtest as judge
from earlywarn.settings import get_settings


def render(report: CoverageReport, out: Console) -> None:
    table = Table(
        title=f"Evidence per risk factor (score run {report.score_run_id}, as of "
        f"{report.as_of.isoformat()}, {report.countries_scored} countries)"
    )
    for column in ("factor", "countries with evidence", "by source", "to raise it"):
        table.add_column(column)
    for factor in report.factors:
        evidence = f"{factor.countries_with_evidence} of {factor.countries_applicable}"
        by_source = ", ".join(f"{s} {n}" for s, n in factor.by_source.items()) or "-"
        advice = "\n".join(
            f"{a.source} ({a.state}): {a.action} -> {', '.join(a.indicators)}"
            for a in factor.to_raise
        )
        table.add_row(f"{factor.number} {factor.name}", evidence, by_source, advice or "-")
    out.print(table)


def coverage(
    json_out: Annotated[bool, typer.Option("--json", help="Print the report as JSON")] = False,
) -> None:
    """Per risk factor and source: countries with fresh evidence in the latest score run, and
    which sources to enable to raise it (the same report as GET /coverage)."""
    settings = get_settings()
    config = load_config(settings)
    with database(settings) as (_, factory), factory() as session:
        try:
            report = coverage_report(
                session, config, config.sources, datetime.now(UTC), settings=settings
            )
        except NoScoreRunError as exc:
            raise fail(str(exc)) from exc
    if json_out:
        console.print_json(json.dumps(as_dict(report)))
    else:
        render(report, console)


def score_backtest(
    from_year: Annotated[int, typer.Option(help="First onset year judged")] = 1994,
    to_year: Annotated[int, typer.Option(help="Last onset year judged")] = 2023,
    weight_set_id: Annotated[
        int | None, typer.Option(help="Runs of this weight set (default: the active one)")
    ] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the figures here")] = None,
    html_out: Annotated[
        Path | None, typer.Option("--html", help="Write a report page (charts) here")
    ] = None,
) -> None:
    """The composite's track record, no fitting: for each onset year Y the larger of the stored
    composites of 31 December Y-1 and Y-2 (score-history), AUC against the EWP onsets, and
    recall@10/20/30 by the better of the two ranks."""
    settings = get_settings()
    config = load_config(settings)
    with database(settings) as (_, factory):
        active_id = prepare_database(factory, config)
        with factory() as session:
            try:
                record = judge(
                    session,
                    config,
                    weight_set_id=active_id if weight_set_id is None else weight_set_id,
                    first_year=from_year,
                    last_year=to_year,
                )
            except TrackRecordError as exc:
                raise fail(str(exc)) from exc
    console.print(
        f"onset years {from_year}-{to_year}, weight set {record.weight_set_id}: "
        f"AUC {record.auc:.4f} over {record.country_years} country-years; "
        + ", ".join(f"top {k}: {n} of {record.onsets}" for k, n in record.recall.items())
    )
    if record.years_without_runs:
        err.print(f"[yellow]no stored run as of 31 December of[/] {record.years_without_runs}")
    if json_out is not None:
        json_out.write_text(json.dumps(record.as_dict(), indent=2) + "\n")
    if html_out is not None:
        names = {r.iso3: r.name for r in CountryResolver.default().records.values()}
        html_out.write_text(render_track_record(record, names), encoding="utf-8")
