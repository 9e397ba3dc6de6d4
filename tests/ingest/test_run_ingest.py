"""Run bookkeeping and vintages, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, inspect, select
from sqlalchemy.orm import Session, sessionmaker

from earlywarn.ingest.errors import IngestError, UnknownSourceError
from earlywarn.ingest.runs import run_ingest
from earlywarn.ingest.schemas import LoadedPayload, ObservationRecord
from earlywarn.ingest.service import import_file
from earlywarn.observations.models import IngestRun, Observation, RunStatus, Source
from earlywarn.observations.repository import latest_values

Snapshot = list[tuple[str, str, str, float, int]]


def snapshot(session_factory: sessionmaker[Session]) -> Snapshot:
    with session_factory() as session:
        rows = session.execute(
            select(
                Observation.country_iso3,
                Observation.variable,
                Observation.period,
                Observation.value,
                Observation.ingest_run_id,
            ).order_by(Observation.id)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


def payload(*records: ObservationRecord, digest: str = "d1") -> LoadedPayload:
    return LoadedPayload(
        records=list(records), content_digest=digest, source_uri="memory", rows_read=len(records)
    )


def test_good_file_loads_and_records_the_run(
    session_factory: sessionmaker[Session], countries: set[str], data_dir: Path
) -> None:
    run = import_file(session_factory, data_dir / "good.csv", "csv", trigger="test")

    assert run.status is RunStatus.SUCCEEDED, run.error
    assert (run.rows_read, run.rows_loaded, run.rows_unchanged, run.rows_skipped) == (6, 5, 0, 1)
    assert run.trigger == "test"
    assert run.finished_at is not None
    assert run.finished_at >= run.started_at
    assert run.source_uri == str(data_dir / "good.csv")
    assert run.details["skipped"] == {"empty_value": 1}
    assert len(run.content_digest or "") == 64
    rows = snapshot(session_factory)
    assert len(rows) == 5
    assert {r[4] for r in rows} == {run.id}
    with session_factory() as session:
        source = session.get(Source, "csv")
        assert source is not None
        assert source.kind == "file"


def test_reimporting_the_same_file_is_unchanged_and_writes_nothing(
    session_factory: sessionmaker[Session], countries: set[str], data_dir: Path
) -> None:
    first = import_file(session_factory, data_dir / "good.csv", "csv")
    before = snapshot(session_factory)

    second = import_file(session_factory, data_dir / "good.csv", "csv")

    assert second.status is RunStatus.UNCHANGED
    assert second.rows_loaded == 0
    assert second.rows_unchanged == 5
    assert second.details["same_content_as_run"] == first.id
    assert snapshot(session_factory) == before


def test_revised_value_becomes_one_new_vintage(
    session_factory: sessionmaker[Session], countries: set[str], data_dir: Path
) -> None:
    first = import_file(session_factory, data_dir / "good.csv", "csv")
    second = import_file(session_factory, data_dir / "revised.csv", "csv")

    assert second.status is RunStatus.SUCCEEDED, second.error
    assert (second.rows_loaded, second.rows_unchanged) == (1, 4)
    new_rows = [r for r in snapshot(session_factory) if r[4] == second.id]
    assert new_rows == [("AFG", "test.deaths", "2023", 355.0, second.id)]

    def afg_2023(max_run: int | None) -> float:
        with session_factory() as session:
            values = latest_values(
                session,
                ["test.deaths"],
                as_of=date(2023, 12, 31),
                earliest_period_start=date(2020, 1, 1),
                max_ingest_run_id=max_run,
            )
        return next(v.value for v in values if v.iso3 == "AFG")

    assert afg_2023(None) == 355.0
    assert afg_2023(second.id) == 355.0
    assert afg_2023(first.id) == 340.5


def test_value_reverting_to_an_older_vintage_is_stored_again(
    session_factory: sessionmaker[Session], countries: set[str], data_dir: Path
) -> None:
    import_file(session_factory, data_dir / "good.csv", "csv")
    import_file(session_factory, data_dir / "revised.csv", "csv")
    third = import_file(session_factory, data_dir / "good.csv", "csv")

    # Same bytes as run 1, but the current vintage is run 2's, so 340.5 is news again.
    assert third.status is RunStatus.SUCCEEDED
    assert (third.rows_loaded, third.rows_unchanged) == (1, 4)


@pytest.mark.parametrize(
    ("bad_file", "expected_error"),
    [
        ("missing_column.csv", "missing column(s) 'value'"),
        ("non_numeric.csv", "line 3: column 'value': 'about 15' is not a number"),
        ("unknown_country.csv", "line 3: unknown country code 'XKX'"),
        (
            "conflicting_duplicate.csv",
            "lines 2 and 4 give different values for AFG test.deaths 2022",
        ),
    ],
)
def test_bad_file_fails_the_run_and_leaves_earlier_observations_untouched(
    session_factory: sessionmaker[Session],
    countries: set[str],
    data_dir: Path,
    bad_file: str,
    expected_error: str,
) -> None:
    good = import_file(session_factory, data_dir / "good.csv", "csv")
    before = snapshot(session_factory)

    bad = import_file(session_factory, data_dir / bad_file, "csv")

    assert bad.status is RunStatus.FAILED
    assert bad.error is not None
    assert expected_error in bad.error
    assert str(data_dir / bad_file) in bad.error
    assert bad.finished_at is not None
    assert bad.rows_loaded == 0
    assert snapshot(session_factory) == before
    with session_factory() as session:
        assert session.get(IngestRun, good.id).status is RunStatus.SUCCEEDED  # type: ignore[union-attr]


def test_fetch_network_error_is_recorded(
    session_factory: sessionmaker[Session], countries: set[str]
) -> None:
    def fetch() -> LoadedPayload:
        request = httpx.Request("GET", "https://example.org/data")
        raise httpx.ConnectError("connection refused", request=request)

    run = run_ingest(session_factory, "worldbank", fetch)

    assert run.status is RunStatus.FAILED
    assert run.error == (
        "fetching: ConnectError (GET https://example.org/data): connection refused"
    )


def test_payload_the_database_would_reject_rolls_back_completely(
    session_factory: sessionmaker[Session], countries: set[str]
) -> None:
    good = ObservationRecord.for_year("AFG", "test.x", 2020, 1.0)
    unknown = ObservationRecord.for_year("ZZZ", "test.x", 2020, 2.0)

    run = run_ingest(session_factory, "csv", lambda: payload(good, unknown))

    assert run.status is RunStatus.FAILED
    assert run.error == (
        "1 country code(s) not in the countries table: ZZZ (seed the countries table first)"
    )
    assert snapshot(session_factory) == []


def test_unknown_iso3_is_refused_by_the_loader_not_the_schema(
    session_factory: sessionmaker[Session], countries: set[str]
) -> None:
    """Migration 0006 dropped the country foreign key for bulk-load speed: the loader's own
    check against the countries table is now the only guard, so it must refuse the whole
    load, name the code, store nothing and leave the earlier vintage as it was."""
    with session_factory() as session:
        keys = inspect(session.connection()).get_foreign_keys("observations")
    assert {key["referred_table"] for key in keys} == {"ingest_runs"}
    earlier = run_ingest(
        session_factory,
        "csv",
        lambda: payload(ObservationRecord.for_year("AFG", "test.x", 2020, 1.0)),
    )
    assert earlier.status is RunStatus.SUCCEEDED, earlier.error
    before = snapshot(session_factory)

    revised = ObservationRecord.for_year("AFG", "test.x", 2020, 5.0)
    unknown = ObservationRecord.for_year("QQQ", "test.x", 2020, 2.0)
    run = run_ingest(session_factory, "csv", lambda: payload(revised, unknown, digest="d2"))

    assert run.status is RunStatus.FAILED
    assert run.error == (
        "1 country code(s) not in the countries table: QQQ (seed the countries table first)"
    )
    assert run.rows_loaded == 0
    assert snapshot(session_factory) == before
    with session_factory() as session:
        stored = session.scalar(
            select(func.count()).select_from(Observation).where(Observation.ingest_run_id == run.id)
        )
    assert stored == 0


def test_conflicting_values_inside_one_payload_fail(
    session_factory: sessionmaker[Session], countries: set[str]
) -> None:
    a = ObservationRecord.for_year("AFG", "test.x", 2020, 1.0)
    b = ObservationRecord.for_year("AFG", "test.x", 2020, 2.0)

    run = run_ingest(session_factory, "csv", lambda: payload(a, b, a))

    assert run.status is RunStatus.FAILED
    assert run.error == "the payload gives two values for AFG test.x 2020: 1.0 and 2.0"


def test_insert_failure_marks_the_run_failed_in_a_separate_transaction(
    session_factory: sessionmaker[Session], countries: set[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from earlywarn.ingest import repository

    original = repository.insert_observations

    def insert_then_fail(session: Session, rows: list[tuple[object, ...]]) -> None:
        original(session, rows)
        raise RuntimeError("disk full")

    monkeypatch.setattr(repository, "insert_observations", insert_then_fail)
    record = ObservationRecord.for_year("AFG", "test.x", 2020, 1.0)

    run = run_ingest(session_factory, "csv", lambda: payload(record))

    assert run.status is RunStatus.FAILED
    assert run.error == "loading: RuntimeError: disk full"
    assert run.content_digest == "d1"
    assert snapshot(session_factory) == []


def test_running_row_is_committed_before_the_fetch(
    session_factory: sessionmaker[Session], countries: set[str]
) -> None:
    seen: list[tuple[RunStatus, str]] = []

    def fetch() -> LoadedPayload:
        with session_factory() as session:
            run = session.scalars(select(IngestRun)).one()
            seen.append((run.status, run.source_id))
        return payload(ObservationRecord.for_year("AFG", "test.x", 2020, 1.0))

    run = run_ingest(session_factory, "csv", fetch)

    assert seen == [(RunStatus.RUNNING, "csv")]
    assert run.status is RunStatus.SUCCEEDED


def test_failed_run_does_not_count_as_the_last_success(
    session_factory: sessionmaker[Session], countries: set[str]
) -> None:
    record = ObservationRecord.for_year("AFG", "test.x", 2020, 1.0)
    bad = ObservationRecord.for_year("ZZZ", "test.x", 2020, 1.0)
    run_ingest(session_factory, "csv", lambda: payload(bad, digest="same"))

    run = run_ingest(session_factory, "csv", lambda: payload(record, digest="same"))

    assert run.status is RunStatus.SUCCEEDED
    assert run.rows_loaded == 1


def test_unknown_source_is_refused_before_anything_is_written(
    session_factory: sessionmaker[Session],
) -> None:
    with pytest.raises(UnknownSourceError, match="unknown source 'nosuch'; known sources: acled"):
        run_ingest(session_factory, "nosuch", lambda: payload())
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(IngestRun)) == 0


def test_ingest_error_message_is_kept_verbatim(
    session_factory: sessionmaker[Session], countries: set[str]
) -> None:
    def fetch() -> LoadedPayload:
        raise IngestError("upstream said no")

    run = run_ingest(session_factory, "csv", fetch)
    assert (run.status, run.error) == (RunStatus.FAILED, "upstream said no")


def test_overlong_trigger_is_refused_before_anything_is_written(
    session_factory: sessionmaker[Session],
) -> None:
    with pytest.raises(ValueError, match="trigger must be 1 to 16 characters"):
        run_ingest(session_factory, "csv", lambda: payload(), trigger="x" * 17)
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(IngestRun)) == 0
