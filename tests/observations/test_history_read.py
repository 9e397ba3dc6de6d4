"""The history read (``scoring.history_read.observation_groups``) returns every observation
exactly as stored, on both backends: values bit for bit, dates as day numbers, every vintage
with its run, and only the vintages finished by ``vintage_as_of`` when asked."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, timedelta

import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from earlywarn.ingest.schemas import ObservationRecord
from earlywarn.observations.models import IngestRun, Observation
from earlywarn.scoring import history_read
from earlywarn.scoring.history_read import iso_days, observation_groups
from earlywarn.scoring.panel import ObservationTable

Loader = Callable[[Sequence[ObservationRecord]], IngestRun]
EPOCH = date(1970, 1, 1)

# Values whose shortest decimal form needs all 17 digits, extremes, a subnormal.
AWKWARD_VALUES = [
    0.1,
    1 / 3,
    2 / 3 * 1e-300,
    -1.7976931348623157e308,
    5e-324,
    123456789.12345679,
    float(np.nextafter(1.0, 2.0)),
]
# Across the 1970 epoch, leap days, a non-leap century, months and single days.
PERIODS = [
    ("1899", date(1899, 1, 1), date(1899, 12, 31)),
    ("1969-12", date(1969, 12, 1), date(1969, 12, 31)),
    ("1900-02", date(1900, 2, 1), date(1900, 2, 28)),
    ("2000-02-29", date(2000, 2, 29), date(2000, 2, 29)),
    ("2024-03", date(2024, 3, 1), date(2024, 3, 31)),
    ("2099", date(2099, 1, 1), date(2099, 12, 31)),
]


def _stored(session: Session) -> set[tuple[str, str, str, int, int, bytes, int]]:
    return {
        (
            o.country_iso3,
            o.variable,
            o.period,
            (o.period_start - EPOCH).days,
            (o.period_end - EPOCH).days,
            np.float64(o.value).tobytes(),
            o.ingest_run_id,
        )
        for o in session.scalars(select(Observation))
    }


def _read(session: Session, **kwargs: object) -> set[tuple[str, str, str, int, int, bytes, int]]:
    table = ObservationTable.from_groups(
        observation_groups(session, ["t.x", "t.y"], end=date(2100, 1, 1), **kwargs)  # type: ignore[arg-type]
    )
    return {
        (
            table.units[table.unit[k]],
            table.variables[table.variable[k]],
            table.periods[table.period[k]],
            int(table.period_start[k]),
            int(table.period_end[k]),
            table.value[k].tobytes(),
            int(table.ingest_run_id[k]),
        )
        for k in range(len(table))
    }


@pytest.mark.parametrize("values_as_text", [True, False], ids=["text", "by-row"])
def test_every_observation_comes_back_exactly(
    load: Loader, session: Session, monkeypatch: pytest.MonkeyPatch, values_as_text: bool
) -> None:
    # SQLite reads values as text where its printf is exact on the platform (tested once),
    # else row by row: both paths, whichever this platform takes. PostgreSQL has one path.
    if not values_as_text:
        monkeypatch.setattr(history_read, "sqlite_prints_reals_exactly", lambda: False)
    records = [
        ObservationRecord(iso3, variable, label, start, end, value)
        for n, (label, start, end) in enumerate(PERIODS)
        for iso3, variable, value in [
            ("AFG", "t.x", AWKWARD_VALUES[n % len(AWKWARD_VALUES)]),
            ("SDN", "t.x", AWKWARD_VALUES[(n + 3) % len(AWKWARD_VALUES)]),
            ("SDN", "t.y", AWKWARD_VALUES[(n + 5) % len(AWKWARD_VALUES)] * 7),
        ]
    ]
    first = load(records)
    # A revision of two values: a second vintage of the same periods.
    second = load([records[0]._replace(value=0.7), records[4]._replace(value=-3.25)])
    expected = _stored(session)
    assert len(expected) == len(records) + 2
    assert _read(session) == expected
    # Every awkward value survived bit for bit.
    assert {np.float64(v).tobytes() for v in AWKWARD_VALUES} <= {row[5] for row in expected}

    # Only runs finished by vintage_as_of count: the first run alone.
    assert first.finished_at is not None
    assert second.finished_at is not None
    between = first.finished_at + (second.finished_at - first.finished_at) / 2
    assert _read(session, vintage_as_of=between) == {row for row in expected if row[6] == first.id}
    assert _read(session, vintage_as_of=first.finished_at - timedelta(days=1)) == set()


def test_nothing_to_read(session: Session) -> None:
    table = ObservationTable.from_groups(
        observation_groups(session, ["t.none"], end=date(2100, 1, 1))
    )
    assert len(table) == 0
    assert table.units == []


def test_this_sqlite_prints_reals_exactly() -> None:
    # Not a requirement (the read falls back), but the platform the figures are measured on
    # takes the fast path; a change here explains a slower history read on SQLite.
    assert history_read.sqlite_prints_reals_exactly()


def test_iso_days_matches_the_calendar() -> None:
    days = [date(1, 1, 1), date(1600, 2, 29), date(1969, 12, 31), date(1970, 1, 1)]
    days += [EPOCH + timedelta(days=n) for n in range(-800, 40_000, 37)]
    text = "".join(d.isoformat() for d in days)
    assert iso_days(text, len(days)).tolist() == [(d - EPOCH).days for d in days]


@pytest.mark.parametrize("text", ["2024-1-01", "2024/01/01", "2024-13-01", "2024-01-32"])
def test_iso_days_refuses_other_forms(text: str) -> None:
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        iso_days(text.ljust(10, "0")[:10], 1)
