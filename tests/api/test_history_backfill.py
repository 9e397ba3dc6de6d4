"""Backfilling history (`earlywarn score-history`) on SQLite and PostgreSQL: the runs and
scores it writes, that it never touches alerts or notifications, that "latest" and "previous"
mean by date afterwards, and that refused backfills write nothing."""

from __future__ import annotations

import csv
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from earlywarn.alerting import repository as alerting_repository
from earlywarn.alerting.models import Alert, AlertEvent, AlertRuleState
from earlywarn.app import pipeline
from earlywarn.app.cli import app as cli_app
from earlywarn.auth.models import FocalPoint
from earlywarn.countries.service import seed_countries
from earlywarn.db import session_scope
from earlywarn.framework.config import Configuration
from earlywarn.framework.models import WeightSet
from earlywarn.framework.service import sync_configuration
from earlywarn.notify.models import Channel, OutboxMessage, Subscription
from earlywarn.scoring import repository as scoring_repository
from earlywarn.scoring.models import CountryScore, ScoreRun, ScoreRunPanel, ScoreRunStatus
from earlywarn.settings import get_settings
from earlywarn.types import RiskLevel, Role

REPO = Path(__file__).resolve().parents[2]
# One variable per factor (1, 2, 4, 6, 7, 9, 10, 11), at the top of its scale when "high".
HIGH = {
    "ewp.battledeaths.log2": 13,
    "ewp.pol_killing_approved": 1,
    "ewp.discrimpop": 0.3,
    "ewp.repress_civilsoc": 1,
    "ewp.partyban.new.1": 1,
    "ewp.coup.try.5yr": 1,
    "ewp.social_inequality": 1,
    "ewp.widetargeting": 1,
}
LOW = {
    "ewp.battledeaths.log2": 2,
    "ewp.pol_killing_approved": 0,
    "ewp.discrimpop": 0.03,
    "ewp.repress_civilsoc": 0.2,
    "ewp.partyban.new.1": 0,
    "ewp.coup.try.5yr": 0,
    "ewp.social_inequality": 0.2,
    "ewp.widetargeting": 0,
}
COUNTRIES = ("SDN", "MMR")


@pytest.fixture
def cli_env(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, str]]:
    config_dir = tmp_path / "config"
    shutil.copytree(REPO / "config", config_dir)
    (config_dir / "sources.yaml").write_text(
        "worldbank:\n  enabled: false\n  years_back: 8\nfiles: {}\n"
    )
    env = {
        "EARLYWARN_DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "EARLYWARN_CONFIG_DIR": str(config_dir),
        "EARLYWARN_DATA_DIR": str(tmp_path / "data"),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    yield env
    get_settings.cache_clear()


def _invoke(*args: str) -> Any:
    return CliRunner().invoke(cli_app, list(args))


def _ok(*args: str) -> str:
    result = _invoke(*args)
    assert result.exit_code == 0, result.output
    return str(result.output)


def _import_history(tmp_path: Path) -> None:
    """Quiet years 2019-2022, then high risk from 2024: a backfilled past sits far below the
    live runs, so any rule that read it as "the run before" would see a steep rise."""
    path = tmp_path / "history.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["iso3", "variable", "year", "value"])
        for iso3 in COUNTRIES:
            for year in (2019, 2020, 2021, 2022):
                writer.writerows((iso3, v, year, value) for v, value in LOW.items())
            writer.writerows((iso3, v, 2024, value) for v, value in HIGH.items())
    _ok("import", str(path))


def _subscribe(factory: sessionmaker[Session]) -> None:
    with session_scope(factory) as session:
        desk = FocalPoint(name="Desk", email="desk@example.org", active=True)
        session.add(desk)
        session.flush()
        session.add(
            Subscription(focal_point_id=desk.id, min_level=RiskLevel.LOW, channel=Channel.EMAIL)
        )


def _alerting_state(factory: sessionmaker[Session]) -> dict[str, Any]:
    """Everything alerting and notification own, to compare before and after a backfill."""
    with factory() as session:
        return {
            "alerts": sorted(
                (a.dedup_key, a.state.value, a.level.value, a.latest_score_id)
                for a in session.scalars(select(Alert))
            ),
            "events": session.scalar(select(func.count()).select_from(AlertEvent)),
            "outbox": session.scalar(select(func.count()).select_from(OutboxMessage)),
            "states": sorted(
                (s.dedup_key, s.enter_streak, s.exit_streak, s.last_value, s.updated_at)
                for s in session.scalars(select(AlertRuleState))
            ),
        }


def _runs(factory: sessionmaker[Session]) -> list[ScoreRun]:
    with factory() as session:
        return list(session.scalars(select(ScoreRun).order_by(ScoreRun.id)))


def _headers(keys: dict[Role, str]) -> dict[str, str]:
    return {"X-API-Key": keys[Role.ANALYST]}


def test_backfill_writes_traceable_runs_and_no_alert_and_latest_stays_the_newest_date(
    cli_env: dict[str, str],
    session_factory: sessionmaker[Session],
    configuration: Configuration,
    tmp_path: Path,
    client: Any,
    keys: dict[Role, str],
) -> None:
    _ok("init-db")
    _import_history(tmp_path)
    _subscribe(session_factory)
    # Two live runs first, as a deployment has them; the history is backfilled afterwards.
    _ok("score", "--as-of", "2024-12-31")
    _ok("score", "--as-of", "2025-06-30")
    live = _runs(session_factory)
    assert [r.as_of for r in live] == [date(2024, 12, 31), date(2025, 6, 30)]
    before = _alerting_state(session_factory)
    assert before["alerts"]
    assert before["outbox"]

    out = _ok("score-history", "--from-year", "2019", "--to-year", "2023")
    assert "5 history runs written under weight set" in out
    assert "no alerts evaluated" in out
    assert "time in scoring: read" in out

    backfilled = _runs(session_factory)[len(live) :]
    assert [r.as_of for r in backfilled] == [date(y, 12, 31) for y in range(2019, 2024)]
    with session_scope(session_factory) as session:
        # The active set, the one the live runs used.
        weight_set_id = live[0].weight_set_id
        for run in backfilled:
            assert run.weight_set_id == weight_set_id
            assert run.methodology_version == configuration.scoring.methodology_version
            assert run.alerts_evaluated is False
            assert run.countries_scored == 2
            scores = session.scalars(
                select(CountryScore).where(CountryScore.score_run_id == run.id)
            ).all()
            assert sorted(s.country_iso3 for s in scores) == sorted(COUNTRIES)
            for s in scores:
                assert s.weight_set_id == weight_set_id
                assert s.methodology_version == configuration.scoring.methodology_version
            assert session.get(ScoreRunPanel, run.id) is not None
        assert all(r.alerts_evaluated for r in live)
    # Nothing alerting or notification own moved: no alert, event, outbox row or streak.
    assert _alerting_state(session_factory) == before

    # /scores/latest is still the newest date, not the last run written.
    latest = client.get("/scores/latest", headers=_headers(keys))
    assert latest.status_code == 200, latest.text
    assert latest.json()["run"]["id"] == live[-1].id
    assert latest.json()["run"]["as_of"] == "2025-06-30"
    assert latest.json()["run"]["alerts_evaluated"] is True
    shown = client.get(f"/score-runs/{backfilled[0].id}", headers=_headers(keys)).json()
    assert shown["alerts_evaluated"] is False
    country_latest = client.get("/countries/SDN/scores/latest", headers=_headers(keys))
    assert country_latest.json()["score_run_id"] == live[-1].id

    # A country's history is in date order, newest first.
    history = client.get("/countries/SDN/scores", headers=_headers(keys)).json()
    assert [h["as_of"] for h in history] == [
        "2025-06-30",
        "2024-12-31",
        *(f"{y}-12-31" for y in range(2023, 2018, -1)),
    ]

    def explained(run: ScoreRun) -> dict[str, Any]:
        response = client.get(
            f"/score-runs/{run.id}/countries/SDN/explanation", headers=_headers(keys)
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    # "What changed since the last run" compares with the run before in time.
    assert explained(live[0])["previous_score_run_id"] == backfilled[-1].id  # 2023 -> 2024
    assert explained(live[1])["previous_score_run_id"] == live[0].id
    assert explained(backfilled[2])["previous_score_run_id"] == backfilled[1].id
    first = explained(backfilled[0])
    assert first["previous_score_run_id"] is None  # nothing before 2019, not the 2025 run
    assert first["change_since_previous"] is None
    change = explained(live[0])["change_since_previous"]
    assert change["change"] > 0.3  # from the quiet 2023 to the high 2024

    # The next live run compares with the live runs, not with the quiet backfilled past:
    # by creation order the 2023 backfill would be "the run before" and rising_risk (and
    # sharp_rise) would open for both countries.
    out = _ok("score", "--as-of", "2025-12-31")
    assert "alerts opened 0" in out, out
    with session_factory() as session:
        rules = {a.rule_id for a in session.scalars(select(Alert))}
    assert "rising_risk" not in rules
    assert "sharp_rise" not in rules


def test_scoring_a_past_date_after_a_newer_run_neither_alerts_nor_forecasts(
    cli_env: dict[str, str], session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    _ok("init-db")
    _import_history(tmp_path)
    _subscribe(session_factory)
    _ok("score", "--as-of", "2025-06-30")
    before = _alerting_state(session_factory)
    assert before["alerts"]
    # 2022 was quiet: evaluated, it would resolve the live alerts.
    out = _ok("score", "--as-of", "2022-12-31")
    assert "alerts not evaluated" in out
    assert "older than run" in out
    assert _alerting_state(session_factory) == before
    past = _runs(session_factory)[-1]
    assert past.as_of == date(2022, 12, 31)
    assert past.alerts_evaluated is False
    assert past.countries_scored == 2
    # Scoring the newest date again is live: it is evaluated.
    out = _ok("score", "--as-of", "2025-06-30")
    assert "alerts not evaluated" not in out
    assert _runs(session_factory)[-1].alerts_evaluated is True


def test_refused_backfills_say_why_and_write_nothing(
    cli_env: dict[str, str], session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    _ok("init-db")
    _import_history(tmp_path)

    def refused(*args: str, code: int = 1) -> str:
        result = _invoke("score-history", *args)
        assert result.exit_code == code, result.output
        assert _runs(session_factory) == []
        return " ".join(str(result.output).split())

    assert "--from-year 2023 is after --to-year 2019" in refused(
        "--from-year", "2023", "--to-year", "2019"
    )
    out = refused("--from-year", "2019", "--to-year", "2020", "--weight-set-id", "99")
    assert "no weight set 99 (known: " in out
    assert "nothing was written" in out
    this_year = date.today().year
    assert "has not ended" in refused("--from-year", "2019", "--to-year", str(this_year + 1))
    assert "--from-year must be a year from 1 on" in refused(
        "--from-year", "0", "--to-year", "2019"
    )
    assert "--vintage-as-of must be a time" in refused(
        "--from-year", "2019", "--to-year", "2020", "--vintage-as-of", "soon"
    )
    # Not a year at all: the command line's own usage error.
    assert "parse string as an integer" in refused(
        "--from-year", "MMXIX", "--to-year", "2020", code=2
    )

    # Dates that already have a run under the set are refused unless --again.
    _ok("score-history", "--from-year", "2020", "--to-year", "2021")
    first = _runs(session_factory)
    result = _invoke("score-history", "--from-year", "2019", "--to-year", "2022")
    assert result.exit_code == 1
    out = " ".join(str(result.output).split())
    assert "2 of these dates already have a run under weight set" in out
    assert f"2020-12-31 (run {first[0].id})" in out
    assert "--again" in out
    assert [r.id for r in _runs(session_factory)] == [r.id for r in first]
    _ok("score-history", "--from-year", "2019", "--to-year", "2022", "--again")
    assert [r.as_of.year for r in _runs(session_factory)] == [2020, 2021, 2019, 2020, 2021, 2022]


def test_a_history_under_another_weight_set_stands_beside_the_first(
    cli_env: dict[str, str], session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    _ok("init-db")
    _import_history(tmp_path)
    _ok("score-history", "--from-year", "2020", "--to-year", "2021")
    with session_scope(session_factory) as session:
        active = session.get_one(WeightSet, _runs(session_factory)[0].weight_set_id)
        other = WeightSet(
            version=active.version + 100,
            content_digest="f" * 64,
            indicator_weights=dict(active.indicator_weights),
            factor_weights={k: (0.0 if k == "1" else v) for k, v in active.factor_weights.items()},
            note="without factor 1",
        )
        session.add(other)
        session.flush()
        other_id = other.id
    out = _ok(
        "score-history",
        "--from-year",
        "2020",
        "--to-year",
        "2021",
        "--weight-set-id",
        str(other_id),
    )
    assert f"under weight set {other_id}" in out
    runs = _runs(session_factory)
    assert [(r.as_of.year, r.weight_set_id) for r in runs] == [
        (2020, active.id),
        (2021, active.id),
        (2020, other_id),
        (2021, other_id),
    ]
    with session_factory() as session:
        composites = {
            (s.score_run_id, s.country_iso3): s.composite
            for s in session.scalars(select(CountryScore))
        }
        for s in session.scalars(
            select(CountryScore).where(CountryScore.weight_set_id == other_id)
        ):
            assert s.score_run_id in {runs[2].id, runs[3].id}
    # Other weights, other composites for the same data.
    assert composites[(runs[0].id, "SDN")] != composites[(runs[2].id, "SDN")]


def test_a_backfill_that_fails_midway_writes_nothing(
    session_factory: sessionmaker[Session],
    configuration: Configuration,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    cli_env: dict[str, str],
) -> None:
    _ok("init-db")
    _import_history(tmp_path)

    def broken(*_: Any, **__: Any) -> None:
        raise RuntimeError("disk full")

    # The runs and their scores are flushed by then: only the transaction can undo them.
    monkeypatch.setattr(scoring_repository, "insert_panels", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        pipeline.backfill_history(session_factory, configuration, from_year=2019, to_year=2022)
    assert _runs(session_factory) == []
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(CountryScore)) == 0


def test_runs_order_by_date_then_creation(session: Session, configuration: Configuration) -> None:
    """Runs written out of date order: latest, previous and history go by (as_of, id), and
    alert rules read only the runs alerts were evaluated on."""

    seed_countries(session)
    weight_set = sync_configuration(session, configuration)

    def run(as_of: date) -> ScoreRun:
        made = scoring_repository.add_run(
            session,
            ScoreRun(
                as_of=as_of,
                weight_set_id=weight_set.id,
                methodology_version="m",
                status=ScoreRunStatus.SUCCEEDED,
            ),
        )
        session.add(
            CountryScore(
                score_run_id=made.id,
                country_iso3="SDN",
                composite=0.5,
                level=RiskLevel.CONCERN,
                coverage=1.0,
                factors={},
                factor_summary={},
                weight_set_id=weight_set.id,
                methodology_version="m",
            )
        )
        session.flush()
        return made

    newest = run(date(2025, 6, 30))
    old = run(date(2020, 12, 31))
    middle = run(date(2023, 12, 31))
    middle_again = run(date(2023, 12, 31))  # same date, created later
    assert scoring_repository.latest_successful_run(session) == newest
    assert scoring_repository.latest_successful_run(session, before_run_id=newest.id) == (
        middle_again
    )
    assert scoring_repository.latest_successful_run(session, before_run_id=middle_again.id) == (
        middle
    )
    assert scoring_repository.latest_successful_run(session, before_run_id=old.id) is None
    assert scoring_repository.latest_successful_run(session, before_run_id=10**9) is None
    previous = scoring_repository.previous_score(session, "SDN", middle.id)
    assert previous is not None
    assert previous[1] == old
    assert scoring_repository.previous_score(session, "SDN", old.id) is None
    order = [newest, middle_again, middle, old]
    assert [r for _, r in scoring_repository.country_history(session, "SDN", limit=10)] == order
    assert [
        r for _, r in scoring_repository.country_scores_with_runs(session, "SDN", limit=10)
    ] == order
    assert scoring_repository.latest_run_as_of(session, date(2024, 1, 1)) == middle_again

    # Alert rules: the runs before in time, oldest first, evaluated ones only.
    for made, composite in ((old, 0.1), (middle, 0.3), (middle_again, 0.4)):
        score = scoring_repository.score_for_country(session, made.id, "SDN")
        assert score is not None
        score.composite = composite
    session.flush()
    history = alerting_repository.score_history(session, before_run_id=newest.id, runs=8)
    assert [c for c, _ in history["SDN"]] == [0.1, 0.3, 0.4]
    assert [
        c
        for c, _ in alerting_repository.score_history(session, before_run_id=newest.id, runs=2)[
            "SDN"
        ]
    ] == [0.3, 0.4]
    middle.alerts_evaluated = False  # a backfilled run
    session.flush()
    history = alerting_repository.score_history(session, before_run_id=newest.id, runs=8)
    assert [c for c, _ in history["SDN"]] == [0.1, 0.4]
