"""The ``earlywarn coverage`` table: per risk factor, countries with fresh evidence in the
latest score run, by source, and the sources to enable to raise it."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from earlywarn.scoring.coverage import CoverageReport


def render(report: CoverageReport, console: Console) -> None:
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
    console.print(table)
