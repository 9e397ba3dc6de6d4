"""``import_file`` reports its phases, which ``earlywarn import`` shows in a progress display
(issue 16: an EWP import was 22 s of silence). On SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from earlywarn.ingest.service import import_file


def test_import_reports_reading_then_storing(
    session_factory: sessionmaker[Session], countries: set[str], data_dir: Path
) -> None:
    messages: list[str] = []
    run = import_file(session_factory, data_dir / "good.csv", "csv", progress=messages.append)
    assert run.error is None
    assert messages == [
        "reading good.csv",
        f"storing {run.rows_loaded:,} values from good.csv",
    ]
    assert run.rows_loaded > 0
