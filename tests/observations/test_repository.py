from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date

from sqlalchemy.orm import Session

from earlywarn.ingest.schemas import ObservationRecord
from earlywarn.observations.models import IngestRun
from earlywarn.observations.repository import latest_values, observation_history

year = ObservationRecord.for_year
Loader = Callable[[Sequence[ObservationRecord]], IngestRun]


def values(
    session: Session,
    variables: list[str],
    *,
    as_of: date = date(2030, 1, 1),
    earliest: date = date(2000, 1, 1),
    max_run: int | None = None,
) -> dict[tuple[str, str], tuple[str, float, int]]:
    found = latest_values(
        session, variables, as_of=as_of, earliest_period_start=earliest, max_ingest_run_id=max_run
    )
    assert len(found) == len({(v.iso3, v.variable) for v in found}), "one row per pair"
    return {(v.iso3, v.variable): (v.period, v.value, v.ingest_run_id) for v in found}


def test_newest_period_inside_the_window_wins(load: Loader, session: Session) -> None:
    run = load(
        [
            year("AFG", "t.x", 2021, 1.0),
            year("AFG", "t.x", 2022, 2.0),
            year("AFG", "t.x", 2023, 3.0),
            year("SDN", "t.x", 2019, 9.0),
        ]
    )
    assert values(session, ["t.x"]) == {
        ("AFG", "t.x"): ("2023", 3.0, run.id),
        ("SDN", "t.x"): ("2019", 9.0, run.id),
    }
    # as_of bounds the period start: 2023 starts after it.
    assert values(session, ["t.x"], as_of=date(2022, 12, 31)) == {
        ("AFG", "t.x"): ("2022", 2.0, run.id),
        ("SDN", "t.x"): ("2019", 9.0, run.id),
    }
    # earliest_period_start drops stale countries instead of returning old values.
    assert values(session, ["t.x"], earliest=date(2022, 1, 1)) == {
        ("AFG", "t.x"): ("2023", 3.0, run.id)
    }
    assert values(session, ["t.x"], as_of=date(2018, 6, 1)) == {}


def test_only_requested_variables_are_returned(load: Loader, session: Session) -> None:
    load(
        [
            year("AFG", "t.x", 2022, 1.0),
            year("AFG", "t.y", 2022, 5.0),
            year("MMR", "t.z", 2022, 7.0),
        ]
    )
    assert set(values(session, ["t.y", "t.z", "t.absent"])) == {("AFG", "t.y"), ("MMR", "t.z")}
    assert values(session, []) == {}


def test_newest_vintage_wins_and_max_ingest_run_id_replays_the_past(
    load: Loader, session: Session
) -> None:
    first = load([year("AFG", "t.x", 2022, 1.0), year("SDN", "t.x", 2022, 4.0)])
    second = load([year("AFG", "t.x", 2022, 1.5), year("AFG", "t.x", 2023, 2.0)])

    assert values(session, ["t.x"]) == {
        ("AFG", "t.x"): ("2023", 2.0, second.id),
        ("SDN", "t.x"): ("2022", 4.0, first.id),
    }
    assert values(session, ["t.x"], as_of=date(2022, 12, 31)) == {
        ("AFG", "t.x"): ("2022", 1.5, second.id),
        ("SDN", "t.x"): ("2022", 4.0, first.id),
    }
    # As known after the first run: neither the revision nor the new 2023 period existed.
    assert values(session, ["t.x"], max_run=first.id) == {
        ("AFG", "t.x"): ("2022", 1.0, first.id),
        ("SDN", "t.x"): ("2022", 4.0, first.id),
    }


def test_a_year_beats_its_first_month_on_the_same_start(load: Loader, session: Session) -> None:
    january = ObservationRecord("AFG", "t.x", "2024-01", date(2024, 1, 1), date(2024, 1, 31), 1.0)
    load([january, year("AFG", "t.x", 2024, 12.0)])
    assert values(session, ["t.x"])[("AFG", "t.x")][:2] == ("2024", 12.0)


def test_latest_value_carries_period_bounds_and_source(load: Loader, session: Session) -> None:
    run = load([year("MMR", "t.x", 2020, 3.25)])
    [value] = latest_values(
        session, ["t.x"], as_of=date(2024, 1, 1), earliest_period_start=date(2020, 1, 1)
    )
    assert (value.iso3, value.variable, value.period, value.value) == ("MMR", "t.x", "2020", 3.25)
    assert (value.period_start, value.period_end) == (date(2020, 1, 1), date(2020, 12, 31))
    assert (value.source_id, value.ingest_run_id) == ("csv", run.id)


def test_history_has_every_period_in_its_current_vintage(load: Loader, session: Session) -> None:
    load(
        [
            year("AFG", "t.x", 2021, 1.0),
            year("AFG", "t.x", 2022, 2.0),
            year("AFG", "t.y", 2022, 9.0),
        ]
    )
    second = load([year("AFG", "t.x", 2022, 2.5), year("SDN", "t.x", 2022, 7.0)])

    history = observation_history(session, "AFG", "t.x")
    assert [(p.period, p.value) for p in history] == [("2021", 1.0), ("2022", 2.5)]
    assert history[1].ingest_run_id == second.id
    everything = observation_history(session, "AFG")
    assert [(p.variable, p.period) for p in everything] == [
        ("t.x", "2021"),
        ("t.x", "2022"),
        ("t.y", "2022"),
    ]
    assert observation_history(session, "MMR") == []
