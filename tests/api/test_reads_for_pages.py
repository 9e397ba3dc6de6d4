"""What the web pages need from the score routes, on SQLite and PostgreSQL: a history under
the active weight set without naming it, what changed named and largest first, comparisons
largest change first, the rank in a country's latest score, backfilled runs that finish after
they start, and several runs of one day read as one point."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from earlywarn.app.pipeline import prepare_database, score_and_alert
from earlywarn.db import session_scope
from earlywarn.framework.config import Configuration
from earlywarn.framework.models import WeightSet
from earlywarn.ingest import service as ingest_service
from earlywarn.scoring.history_run import score_history
from earlywarn.scoring.models import ScoreRun
from earlywarn.types import Role

VARIABLES = [
    "ewp.battledeaths.log2",  # factor 1, bounds 0-14
    "ewp.pol_killing_approved",  # factor 2, 0-1
    "ewp.discrimpop",  # factor 4, 0-0.3
    "ewp.repress_civilsoc",  # factor 6, 0-1
    "ewp.partyban.new.1",  # factor 7, 0-1
]
COUNTRIES = ("KEN", "FRA", "SDN", "BRA")


def _import(
    factory: sessionmaker[Session], path: Path, rows: list[tuple[str, str, int, float]]
) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["iso3", "variable", "year", "value"])
        writer.writerows(rows)
    assert ingest_service.import_file(factory, path, "csv").error is None


def _get(client: Any, keys: dict[Role, str], url: str) -> Any:
    response = client.get(url, headers={"X-API-Key": keys[Role.ANALYST]})
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def runs(
    session_factory: sessionmaker[Session], configuration: Configuration, tmp_path: Path
) -> list[int]:
    """Four countries at different levels; a run; KEN's and SDN's data revised by different
    amounts; a second run; the same day scored once more."""
    prepare_database(session_factory, configuration)
    base = {"KEN": 0.2, "FRA": 0.1, "SDN": 0.6, "BRA": 0.4}
    _import(
        session_factory,
        tmp_path / "a.csv",
        [(c, v, 2024, base[c]) for c in COUNTRIES for v in VARIABLES[1:]]
        + [(c, VARIABLES[0], 2024, 14 * base[c]) for c in COUNTRIES],
    )
    first = score_and_alert(session_factory, configuration, as_of=date(2025, 6, 30))
    # KEN's battle deaths jump (a large change); SDN's repression eases a little.
    _import(
        session_factory,
        tmp_path / "b.csv",
        [("KEN", VARIABLES[0], 2024, 12.0), ("SDN", VARIABLES[3], 2024, 0.5)],
    )
    second = score_and_alert(session_factory, configuration, as_of=date(2025, 12, 31))
    again = score_and_alert(session_factory, configuration, as_of=date(2025, 12, 31))
    return [first.score_run_id, second.score_run_id, again.score_run_id]


def test_history_without_a_weight_set_uses_the_active_one(
    client: Any, keys: dict[Role, str], runs: list[int]
) -> None:
    active = _get(client, keys, "/weight-sets/active")
    history = _get(client, keys, "/countries/KEN/score-history")
    assert [h["score_run_id"] for h in history] == runs[::-1]
    assert {h["weight_set_id"] for h in history} == {active["id"]}
    named = _get(client, keys, f"/countries/KEN/score-history?weight_set_id={active['id']}")
    assert [h["composite"] for h in named] == [h["composite"] for h in history]
    missing = client.get(
        "/countries/KEN/score-history?weight_set_id=999999",
        headers={"X-API-Key": keys[Role.ANALYST]},
    )
    assert missing.status_code == 404
    assert "no weight set 999999" in missing.json()["detail"]


def test_what_changed_names_the_factors_largest_change_first(
    client: Any, keys: dict[Role, str], runs: list[int]
) -> None:
    body = _get(client, keys, f"/score-runs/{runs[1]}/countries/KEN/explanation")
    by_factor = body["change_since_previous"]["data_change_by_factor"]
    assert by_factor[0]["number"] == 1
    assert by_factor[0]["name"] == "Situations of armed conflict or other forms of instability"
    sizes = [abs(f["change"]) for f in by_factor]
    assert sizes == sorted(sizes, reverse=True)
    assert all(f["name"] for f in by_factor)


def test_a_comparison_lists_the_largest_change_first_with_names(
    client: Any, keys: dict[Role, str], runs: list[int]
) -> None:
    body = _get(client, keys, f"/score-run-comparison?base_run_id={runs[0]}&other_run_id={runs[1]}")
    rows = body["countries"]
    assert [r["iso3"] for r in rows[:2]] == ["KEN", "SDN"]
    changes = [abs(r["change"]) for r in rows if r["change"] is not None]
    assert changes == sorted(changes, reverse=True)
    assert {r["iso3"]: r["name"] for r in rows}["KEN"] == "Kenya"


def test_a_countrys_latest_score_carries_its_rank_in_the_watch_list(
    client: Any, keys: dict[Role, str], runs: list[int]
) -> None:
    watch = _get(client, keys, "/scores/latest")
    ranks = {row["iso3"]: row["rank"] for row in watch["scores"]}
    assert sorted(ranks.values()) == [1, 2, 3, 4]
    for iso3 in COUNTRIES:
        assert _get(client, keys, f"/countries/{iso3}/scores/latest")["rank"] == ranks[iso3]
        breakdown = _get(client, keys, f"/score-runs/{runs[2]}/countries/{iso3}")
        assert breakdown["rank"] == ranks[iso3]


def test_several_runs_of_one_day_read_as_the_last_of_them(
    client: Any, keys: dict[Role, str], runs: list[int]
) -> None:
    every = _get(client, keys, "/countries/KEN/scores")
    assert [h["score_run_id"] for h in every] == runs[::-1]
    daily = _get(client, keys, "/countries/KEN/scores?one_per_day=true")
    assert [(h["as_of"], h["score_run_id"]) for h in daily] == [
        ("2025-12-31", runs[2]),
        ("2025-06-30", runs[0]),
    ]


def test_a_backfilled_run_never_finishes_before_it_starts(
    session_factory: sessionmaker[Session], configuration: Configuration, runs: list[int]
) -> None:
    with session_scope(session_factory) as session:
        weight_set = session.scalars(select(WeightSet).order_by(WeightSet.id.desc())).first()
        assert weight_set is not None
        dates = [date(y, 12, 31) for y in (2021, 2022, 2023)]
        backfilled = [r.id for r in score_history(session, configuration, weight_set, dates=dates)]
    with session_factory() as session:
        for run_id in backfilled:
            run = session.get_one(ScoreRun, run_id)
            assert run.finished_at is not None
            assert run.started_at <= run.finished_at
