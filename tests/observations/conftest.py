from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest
from sqlalchemy.orm import Session, sessionmaker

from earlywarn.countries.models import Country
from earlywarn.db import session_scope
from earlywarn.ingest.runs import run_ingest
from earlywarn.ingest.schemas import LoadedPayload, ObservationRecord
from earlywarn.observations.models import IngestRun, RunStatus

Loader = Callable[[Sequence[ObservationRecord]], IngestRun]


@pytest.fixture
def countries(session_factory: sessionmaker[Session]) -> None:
    with session_scope(session_factory) as session:
        for iso3, name in [("AFG", "Afghanistan"), ("SDN", "Sudan"), ("MMR", "Myanmar")]:
            session.add(Country(iso3=iso3, name=name))


@pytest.fixture
def load(session_factory: sessionmaker[Session], countries: None) -> Loader:
    """Loads records as one ingest run of the csv source and returns the finished run."""
    counter = 0

    def loader(records: Sequence[ObservationRecord]) -> IngestRun:
        nonlocal counter
        counter += 1
        payload = LoadedPayload(
            records=list(records),
            content_digest=f"digest-{counter}",
            source_uri="test",
            rows_read=len(records),
        )
        run = run_ingest(session_factory, "csv", lambda: payload, trigger="test")
        assert run.status is RunStatus.SUCCEEDED, run.error
        return run

    return loader
