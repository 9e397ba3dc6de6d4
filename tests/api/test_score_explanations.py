"""Scores traced to their inputs through the API, on SQLite and PostgreSQL: scores as of a date,
a past data vintage, the per-run breakdown, explanations that add up, what changed since the
last run, run comparison, and a whole history scored in one pass."""

from __future__ import annotations

import csv
import math
from datetime import UTC, date, datetime
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
from earlywarn.observations.models import IngestRun
from earlywarn.scoring import service as scoring_service
from earlywarn.scoring.history_run import score_history
from earlywarn.scoring.models import CountryScore, ScoreRun
from earlywarn.types import Role

VARIABLES = [
    "ewp.battledeaths.log2",  # factor 1, bounds 0-14
    "ewp.pol_killing_approved",  # factor 2, 0-1
    "ewp.discrimpop",  # factor 4, 0-0.3
    "ewp.repress_civilsoc",  # factor 6, 0-1
    "ewp.partyban.new.1",  # factor 7, 0-1
]


def _import(
    factory: sessionmaker[Session], path: Path, rows: list[tuple[str, str, int, float]]
) -> IngestRun:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["iso3", "variable", "year", "value"])
        writer.writerows(rows)
    run = ingest_service.import_file(factory, path, "csv")
    assert run.error is None
    return run


def _headers(keys: dict[Role, str]) -> dict[str, str]:
    return {"X-API-Key": keys[Role.ANALYST]}


@pytest.fixture
def two_runs(
    session_factory: sessionmaker[Session], configuration: Configuration, tmp_path: Path
) -> tuple[int, int, datetime]:
    """Run 1 on the first load; a second load revises KEN's battle deaths; run 2."""
    prepare_database(session_factory, configuration)
    first = [(c, v, 2024, 0.2) for c in ("KEN", "FRA") for v in VARIABLES]
    first[0] = ("KEN", VARIABLES[0], 2024, 2.0)
    _import(session_factory, tmp_path / "a.csv", first)
    run_1 = score_and_alert(session_factory, configuration, as_of=date(2025, 6, 30))
    with session_factory() as session:
        loaded = session.scalars(select(IngestRun).order_by(IngestRun.id)).all()
        between = loaded[-1].finished_at
    assert between is not None
    _import(session_factory, tmp_path / "b.csv", [("KEN", VARIABLES[0], 2024, 12.0)])
    run_2 = score_and_alert(session_factory, configuration, as_of=date(2025, 12, 31))
    return run_1.score_run_id, run_2.score_run_id, between


def test_explanation_adds_up_and_splits_the_change_into_data_and_weights(
    client: Any, keys: dict[Role, str], two_runs: tuple[int, int, datetime]
) -> None:
    run_1, run_2 = two_runs[:2]
    out = client.get(f"/score-runs/{run_2}/countries/KEN/explanation", headers=_headers(keys))
    assert out.status_code == 200, out.text
    body = out.json()
    assert body["composite"] is not None
    assert body["sum_of_factor_terms"] == pytest.approx(body["composite"], abs=1e-12)
    assert body["sum_of_indicator_terms"] == pytest.approx(body["composite"], abs=1e-12)
    for factor in body["factors"]:
        inner = math.fsum(i["term"] for i in factor["indicators"])
        assert inner == pytest.approx(factor["term"], abs=1e-12)
    stored = client.get("/countries/KEN/scores/latest", headers=_headers(keys)).json()
    assert body["composite"] == pytest.approx(stored["composite"], abs=1e-12)
    assert body["weight_set_version"] >= 1

    change = body["change_since_previous"]
    assert body["previous_score_run_id"] == run_1
    assert change["weights_change"] == 0.0  # same weight set
    assert change["data_change"] == pytest.approx(change["change"], abs=1e-12)
    by_factor = {f["number"]: f["change"] for f in change["data_change_by_factor"]}
    assert by_factor[1] > 0  # battle deaths went up: all of the change is in factor 1
    assert sum(abs(v) for n, v in by_factor.items() if n != 1) == pytest.approx(0, abs=1e-12)

    compared = client.get(
        f"/score-run-comparison?base_run_id={run_1}&other_run_id={run_2}", headers=_headers(keys)
    ).json()
    rows = {r["iso3"]: r for r in compared["countries"]}
    assert rows["KEN"]["change"] == pytest.approx(change["change"], abs=1e-12)
    assert rows["FRA"]["change"] == pytest.approx(0, abs=1e-12)
    assert rows["KEN"]["rank_after"] == 1


def test_scores_as_of_a_date_and_the_breakdown_of_a_run(
    client: Any, keys: dict[Role, str], two_runs: tuple[int, int, datetime]
) -> None:
    run_1, run_2 = two_runs[:2]
    early = client.get("/scores?as_of=2025-07-01", headers=_headers(keys)).json()
    late = client.get("/scores?as_of=2026-01-01", headers=_headers(keys)).json()
    assert (early["run"]["id"], late["run"]["id"]) == (run_1, run_2)
    missing = client.get("/scores?as_of=2020-01-01", headers=_headers(keys))
    assert missing.status_code == 404
    breakdown = client.get(f"/score-runs/{run_1}/countries/KEN", headers=_headers(keys)).json()
    factor_1 = breakdown["breakdown"]["factors"][0]
    battle = next(i for i in factor_1["indicators"] if i["indicator_id"] == "battle_deaths")
    assert (battle["value"], battle["period"], battle["variable"]) == (
        2.0,
        "2024",
        "ewp.battledeaths.log2",
    )
    assert battle["ingest_run_id"] is not None
    assert breakdown["weight_set_id"] == early["run"]["weight_set_id"]
    assert breakdown["methodology_version"]


def test_a_past_vintage_uses_only_what_was_loaded_then(
    session_factory: sessionmaker[Session],
    configuration: Configuration,
    two_runs: tuple[int, int, datetime],
) -> None:
    _, _, between = two_runs
    replay = score_and_alert(
        session_factory, configuration, as_of=date(2025, 12, 31), vintage_as_of=between
    )
    now = score_and_alert(
        session_factory, configuration, as_of=date(2025, 12, 31), vintage_as_of=datetime.now(UTC)
    )
    with session_factory() as session:

        def ken(run_id: int) -> CountryScore:
            return session.scalars(
                select(CountryScore).where(
                    CountryScore.score_run_id == run_id, CountryScore.country_iso3 == "KEN"
                )
            ).one()

        first = ken(two_runs[0])
        assert ken(replay.score_run_id).composite == pytest.approx(first.composite)
        assert ken(now.score_run_id).composite > first.composite  # type: ignore[operator]
        assert session.get_one(ScoreRun, replay.score_run_id).vintage_as_of == between


def test_history_scores_every_date_in_one_pass(
    session_factory: sessionmaker[Session],
    configuration: Configuration,
    tmp_path: Path,
    client: Any,
    keys: dict[Role, str],
) -> None:
    weight_set_id = prepare_database(session_factory, configuration)
    rows = [
        (c, v, y, 0.5 if y == 2021 else 0.1)
        for c in ("KEN", "FRA")
        for v in VARIABLES
        for y in (2019, 2021)
    ]
    _import(session_factory, tmp_path / "h.csv", rows)
    dates = [date(y, 12, 31) for y in (2018, 2019, 2020, 2021, 2022)]
    with session_scope(session_factory) as session:
        runs = score_history(
            session, configuration, session.get_one(WeightSet, weight_set_id), dates=dates
        )
        run_ids = [r.id for r in runs]
    with session_factory() as session:
        counts = [session.get_one(ScoreRun, r).countries_scored for r in run_ids]
        # 2018: nothing yet; 2019, 2020 (carried forward), 2021, 2022 (carried forward).
        assert counts == [0, 2, 2, 2, 2]
        composites = [
            session.scalars(
                select(CountryScore.composite).where(
                    CountryScore.score_run_id == r, CountryScore.country_iso3 == "KEN"
                )
            ).one_or_none()
            for r in run_ids
        ]
    assert composites[0] is None
    assert composites[1] == pytest.approx(composites[2])
    assert composites[3] == pytest.approx(composites[4])
    assert composites[3] > composites[1]  # type: ignore[operator]
    # History rows are shown in the full form and explained like any other score.
    detail = client.get(f"/score-runs/{run_ids[2]}/countries/KEN", headers=_headers(keys))
    assert detail.status_code == 200, detail.text
    factor_1 = detail.json()["breakdown"]["factors"][0]
    battle = next(i for i in factor_1["indicators"] if i["indicator_id"] == "battle_deaths")
    assert battle["value"] == 0.1  # the 2019 value carried forward to 2020
    assert battle["period"] == "2019"
    assert battle["age_days"] == 366
    assert battle["ingest_run_id"] is not None
    assert math.fsum(
        i["composite_term"] for f in detail.json()["breakdown"]["factors"] for i in f["indicators"]
    ) == pytest.approx(composites[2], abs=1e-12)
    out = client.get(f"/score-runs/{run_ids[3]}/countries/KEN/explanation", headers=_headers(keys))
    assert out.status_code == 200, out.text
    assert out.json()["composite"] == pytest.approx(composites[3], abs=1e-12)
    assert out.json()["change_since_previous"]["change"] == pytest.approx(
        composites[3] - composites[2],
        abs=1e-12,  # type: ignore[operator]
    )


def _assert_same(left: Any, right: Any, path: str = "") -> None:
    """Equal structures, floats to the last few bits: the engine's matrix products over a
    65-date panel and over one date may round differently, the content is the same."""
    if isinstance(left, dict) and isinstance(right, dict):
        assert left.keys() == right.keys(), path
        for key in left:
            _assert_same(left[key], right[key], f"{path}.{key}")
    elif isinstance(left, list) and isinstance(right, list):
        assert len(left) == len(right), path
        for n, (a, b) in enumerate(zip(left, right, strict=True)):
            _assert_same(a, b, f"{path}[{n}]")
    elif isinstance(left, float) and isinstance(right, float):
        assert left == pytest.approx(right, rel=1e-12, abs=1e-15), path
    else:
        assert left == right, path


def test_history_breakdown_through_the_api_equals_a_normal_runs(
    session_factory: sessionmaker[Session],
    configuration: Configuration,
    tmp_path: Path,
    client: Any,
    keys: dict[Role, str],
) -> None:
    """A history run stores one binary panel per run; expanded through the API, a score's
    breakdown, summary and explanation are those a normal run stores for the same data."""
    weight_set_id = prepare_database(session_factory, configuration)
    rows = [
        (c, v, y, 0.05 * (n + 1) + (0.3 if c == "KEN" and y == 2021 else 0.0))
        for c in ("KEN", "FRA", "NGA")
        for n, v in enumerate(VARIABLES)
        for y in (2019, 2021)
        if not (c == "NGA" and n == 2)  # one indicator missing for one country
    ]
    _import(session_factory, tmp_path / "h.csv", rows)
    as_of = date(2022, 12, 31)
    with session_scope(session_factory) as session:
        weight_set = session.get_one(WeightSet, weight_set_id)
        history_runs = score_history(
            session, configuration, weight_set, dates=[date(2020, 12, 31), as_of]
        )
        history_run = history_runs[-1].id
        normal_run = scoring_service.run_scoring(
            session, configuration, weight_set, as_of=as_of
        ).run.id
    with session_factory() as session:
        stored = {
            (s.score_run_id, s.country_iso3): s
            for s in session.scalars(
                select(CountryScore).where(CountryScore.score_run_id.in_([history_run, normal_run]))
            )
        }
        # The history rows hold a reference into the run's panel, not a breakdown.
        assert stored[(history_run, "KEN")].factors == {"format": "panel", "row": 1}
        for iso3 in ("FRA", "KEN", "NGA"):
            history_score, normal_score = stored[(history_run, iso3)], stored[(normal_run, iso3)]
            _assert_same(history_score.factor_summary, normal_score.factor_summary)
            assert history_score.composite == pytest.approx(normal_score.composite, abs=1e-12)
    for iso3 in ("FRA", "KEN", "NGA"):
        from_history = client.get(
            f"/score-runs/{history_run}/countries/{iso3}", headers=_headers(keys)
        )
        from_normal = client.get(
            f"/score-runs/{normal_run}/countries/{iso3}", headers=_headers(keys)
        )
        assert from_history.status_code == 200, from_history.text
        _assert_same(from_history.json()["breakdown"], from_normal.json()["breakdown"])
        _assert_same(from_history.json()["breakdown"], stored[(normal_run, iso3)].factors)
        explained = [
            client.get(
                f"/score-runs/{run}/countries/{iso3}/explanation", headers=_headers(keys)
            ).json()
            for run in (history_run, normal_run)
        ]
        for key in ("composite", "level", "factors", "sum_of_factor_terms", "weight_set_id"):
            _assert_same(explained[0][key], explained[1][key])
    nga = client.get(f"/score-runs/{history_run}/countries/NGA", headers=_headers(keys)).json()
    reasons = [i["missing_reason"] for f in nga["breakdown"]["factors"] for i in f["indicators"]]
    assert "no observation" in reasons


def test_a_weight_change_between_runs_is_the_weights_part_of_the_change(
    client: Any,
    keys: dict[Role, str],
    session_factory: sessionmaker[Session],
    configuration: Configuration,
    tmp_path: Path,
) -> None:
    """Same data, new weights applied between two runs: the whole change is the weights'."""
    prepare_database(session_factory, configuration)
    rows = [(c, v, 2024, 0.2) for c in ("KEN", "FRA") for v in VARIABLES]
    rows[0] = ("KEN", VARIABLES[0], 2024, 12.0)  # KEN's factor 1 high
    _import(session_factory, tmp_path / "a.csv", rows)
    run_1 = score_and_alert(session_factory, configuration, as_of=date(2025, 6, 30)).score_run_id
    admin = {"X-API-Key": keys[Role.ADMIN]}
    proposed = client.post("/weight-sets", json={"factor_weights": {"1": 3.0}}, headers=admin)
    new_id = proposed.json()["weight_set"]["id"]
    applied = client.post(
        f"/weight-sets/{new_id}/apply", json={"reason": "conflict counts more"}, headers=admin
    )
    assert applied.status_code == 200, applied.text
    run_2 = score_and_alert(session_factory, configuration, as_of=date(2025, 6, 30)).score_run_id

    body = client.get(
        f"/score-runs/{run_2}/countries/KEN/explanation", headers=_headers(keys)
    ).json()
    assert body["weight_set_id"] == new_id
    assert body["sum_of_indicator_terms"] == pytest.approx(body["composite"], abs=1e-12)
    change = body["change_since_previous"]
    assert body["previous_score_run_id"] == run_1
    assert change["change"] > 0  # factor 1, KEN's highest, weighs more
    assert change["data_change"] == pytest.approx(0, abs=1e-12)
    assert change["weights_change"] == pytest.approx(change["change"], abs=1e-12)
    assert all(abs(f["change"]) < 1e-12 for f in change["data_change_by_factor"])

    compared = client.get(
        f"/score-run-comparison?base_run_id={run_1}&other_run_id={run_2}", headers=_headers(keys)
    ).json()
    ken = next(r for r in compared["countries"] if r["iso3"] == "KEN")
    assert ken["weights_change"] == pytest.approx(change["change"], abs=1e-12)
    assert ken["data_change"] == pytest.approx(0, abs=1e-12)
    assert compared["other"]["weight_set_id"] == new_id != compared["base"]["weight_set_id"]
