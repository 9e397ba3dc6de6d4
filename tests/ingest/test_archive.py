"""The payload archive reads back what a run received, byte for byte, also where the body was
stored once and a later run only points at it."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from earlywarn.ingest import repository
from earlywarn.ingest.service import import_file
from earlywarn.observations.models import RunStatus


def test_archived_bodies_read_back_exactly(
    session_factory: sessionmaker[Session], countries: set[str], data_dir: Path
) -> None:
    path = data_dir / "good.csv"
    first = import_file(session_factory, path, "csv")
    again = import_file(session_factory, path, "csv")
    assert (first.status, again.status) == (RunStatus.SUCCEEDED, RunStatus.UNCHANGED)
    with session_factory() as session:
        [stored] = repository.archived_payloads(session, first.id)
        [pointer] = repository.archived_payloads(session, again.id)
        assert stored.content is not None
        assert (pointer.content, pointer.stored_in_id) == (None, stored.id)
        assert repository.archived_content(session, stored) == path.read_bytes()
        assert repository.archived_content(session, pointer) == path.read_bytes()
