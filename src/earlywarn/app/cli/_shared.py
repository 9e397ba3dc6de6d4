"""What every command module shares: the consoles, the error exit, the loaded configuration,
the migrated database and the report of an ingest run."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from earlywarn.app.keys import configure_secrets
from earlywarn.app.migrations import upgrade_to_head
from earlywarn.db import DatabaseLimits, create_db_engine, make_session_factory
from earlywarn.encryption import SecretKeyError
from earlywarn.framework.config import ConfigError, Configuration, load_configuration
from earlywarn.observations.models import IngestRun, RunStatus
from earlywarn.settings import Settings

console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)  # error messages stay whole for grep and logs


def fail(message: str) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code=1)


def load_config(settings: Settings) -> Configuration:
    try:
        return load_configuration(settings.config_dir)
    except ConfigError as exc:
        raise fail(f"invalid configuration: {exc}") from exc


@contextmanager
def database(settings: Settings) -> Iterator[tuple[Engine, sessionmaker[Session]]]:
    """The engine, migrated to the latest schema (creating the SQLite file on first use),
    closed when the command ends."""
    engine = create_db_engine(
        settings.resolved_database_url(), limits=DatabaseLimits.from_settings(settings)
    )
    try:
        try:
            configure_secrets(settings, engine)
        except SecretKeyError as exc:
            raise fail(str(exc)) from exc
        upgrade_to_head(engine)
        yield engine, make_session_factory(engine)
    finally:
        engine.dispose()


def print_run(run: IngestRun) -> None:
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
    zero_fill = run.details.get("zero_fill")
    if isinstance(zero_fill, dict) and "loaded" in zero_fill:
        # Zeros of covered periods without events (docs/data-sources.md, "Zero-fill").
        console.print(
            f"  zero-filled {zero_fill['loaded']} new, {zero_fill.get('unchanged', 0)} "
            f"unchanged, {zero_fill.get('kept_stored_value', 0)} kept a stored value"
        )
