"""The pipeline's transaction rules, the scheduler wiring, and the command line."""

from __future__ import annotations

import csv
import dataclasses
import json
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from earlywarn.alerting.models import Alert
from earlywarn.app import pipeline, scheduler
from earlywarn.app.cli import app as cli_app
from earlywarn.app.factory import create_app
from earlywarn.framework.config import ConfigError, Configuration, load_sources_config
from earlywarn.ingest import service as ingest_service
from earlywarn.observations.models import IngestRun, Observation, RunStatus
from earlywarn.scoring.models import CountryScore, ScoreRun, ScoreRunStatus
from earlywarn.settings import Settings, get_settings

REPO = Path(__file__).resolve().parent.parent
AS_OF = date(2025, 6, 30)
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


def _csv(path: Path, rows: list[tuple[str, str, Any, Any]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["iso3", "variable", "year", "value"])
        writer.writerows(rows)
    return path


def _high(iso3: str) -> list[tuple[str, str, Any, Any]]:
    return [(iso3, variable, 2024, value) for variable, value in HIGH.items()]


def _count(factory: sessionmaker[Session], model: type[Any]) -> int:
    with factory() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_a_failed_scoring_run_keeps_nothing_but_its_failure(
    session_factory: sessionmaker[Session],
    configuration: Configuration,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pipeline.prepare_database(session_factory, configuration)
    ingest_service.import_file(session_factory, _csv(tmp_path / "a.csv", _high("SDN")), "csv")

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("alert rules exploded")

    monkeypatch.setattr(pipeline, "evaluate_alerts", broken)
    with pytest.raises(RuntimeError, match="alert rules exploded"):
        pipeline.score_and_alert(session_factory, configuration, as_of=AS_OF)

    with session_factory() as session:
        runs = session.scalars(select(ScoreRun)).all()
        assert [(r.status, r.error) for r in runs] == [
            (ScoreRunStatus.FAILED, "RuntimeError: alert rules exploded")
        ]
    assert _count(session_factory, CountryScore) == 0
    assert _count(session_factory, Alert) == 0


def test_a_failing_source_is_recorded_and_scoring_still_runs(
    session_factory: sessionmaker[Session], configuration: Configuration, tmp_path: Path
) -> None:
    pipeline.prepare_database(session_factory, configuration)
    ingest_service.import_file(session_factory, _csv(tmp_path / "a.csv", _high("SDN")), "csv")
    error_body = [{"message": [{"id": "120", "key": "Invalid value", "value": "not valid"}]}]
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=error_body))
    # Only the World Bank: the other sources enabled in the shipped sources.yaml (UNHCR) would
    # otherwise try the network.
    config_dir = tmp_path / "config"
    shutil.copytree(REPO / "config", config_dir)
    (config_dir / "sources.yaml").write_text("worldbank:\n  years_back: 8\n")
    settings = Settings(config_dir=config_dir, scheduler_enabled=False)
    configuration = dataclasses.replace(
        configuration, sources=load_sources_config(config_dir / "sources.yaml")
    )
    with httpx.Client(transport=transport, base_url=settings.worldbank_base_url) as client:
        result = pipeline.run_pipeline(
            session_factory, settings, configuration, as_of=AS_OF, client=client
        )
    assert [r.status for r in result.ingest_runs] == [RunStatus.FAILED]
    assert "Invalid value" in (result.ingest_runs[0].error or "")
    assert result.scoring is not None
    assert result.scoring.countries_rated == 1


def test_concurrent_scoring_runs_are_refused_on_postgresql(
    engine: Engine, session_factory: sessionmaker[Session], configuration: Configuration
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers itself; the advisory lock is PostgreSQL's")
    pipeline.prepare_database(session_factory, configuration)
    with engine.connect() as other:
        other.execute(text("SELECT pg_advisory_lock(:key)"), {"key": pipeline._SCORING_LOCK_KEY})
        with pytest.raises(pipeline.PipelineBusyError):
            pipeline.score_and_alert(session_factory, configuration, as_of=AS_OF)
        other.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": pipeline._SCORING_LOCK_KEY})
    assert pipeline.score_and_alert(session_factory, configuration, as_of=AS_OF).score_run_id


def test_scheduler_runs_the_pipeline_on_its_cron(
    session_factory: sessionmaker[Session],
    configuration: Configuration,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = FastAPI()
    app.state.session_factory = session_factory
    app.state.configuration = configuration
    app.state.settings = Settings(schedule_cron="15 4 * * 1")
    calls: list[str] = []

    def fake_run(
        factory: object, settings: Settings, config: object, *, trigger: str, **kwargs: Any
    ) -> Any:
        calls.append(trigger)
        assert kwargs == {"skip_own_schedule": True}
        return pipeline.PipelineResult()

    monkeypatch.setattr(scheduler, "run_pipeline", fake_run)
    running = scheduler.start(app)
    try:
        job = running.cluster.jobs[scheduler.JOB_ID]
        assert str(job.trigger).startswith("cron[")
        assert "day_of_week='1'" in str(job.trigger)
        assert "hour='4'" in str(job.trigger)
        job.run()
    finally:
        scheduler.stop(app)
    assert calls == ["scheduler"]
    assert running.delivery is not None
    assert not running.delivery.running


@pytest.fixture
def cli_env(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, str]]:
    config_dir = tmp_path / "config"
    shutil.copytree(REPO / "config", config_dir)
    # No live sources: the CLI test must not reach the network.
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


def test_cli_import_run_once_and_keys(
    cli_env: dict[str, str], session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    runner = CliRunner()
    assert runner.invoke(cli_app, ["init-db"]).exit_code == 0

    good = _csv(tmp_path / "good.csv", _high("SDN") + _high("MMR"))
    result = runner.invoke(cli_app, ["import", str(good)])
    assert result.exit_code == 0, result.output
    assert "csv: succeeded" in result.output
    before = _count(session_factory, Observation)

    bad = _csv(tmp_path / "bad.csv", [("SDN", "ewp.discrimpop", 2024, "lots")])
    result = runner.invoke(cli_app, ["import", str(bad)])
    assert result.exit_code == 1
    assert "'lots'" in result.output
    assert _count(session_factory, Observation) == before

    result = runner.invoke(cli_app, ["run-once", "--as-of", "2025-06-30"])
    assert result.exit_code == 0, result.output
    assert "2 countries rated" in result.output
    assert "SDN" in result.output

    result = runner.invoke(cli_app, ["score", "--as-of", "yesterday"])
    assert result.exit_code == 1
    assert "--as-of must be a date" in result.output

    result = runner.invoke(cli_app, ["create-key", "--name", "desk", "--role", "analyst"])
    assert result.exit_code == 0, result.output
    raw_key = result.output.strip().splitlines()[-1]
    assert raw_key.startswith("ew_")


def test_cli_reports_an_invalid_configuration(cli_env: dict[str, str]) -> None:
    scoring = Path(cli_env["EARLYWARN_CONFIG_DIR"]) / "scoring.yaml"
    scoring.write_text(scoring.read_text().replace("warning: 0.40", "warning: high"))
    result = CliRunner().invoke(cli_app, ["init-db"])
    assert result.exit_code == 1
    assert "scoring.yaml" in result.output
    assert "levels.warning" in result.output


def test_benchmark_prints_a_json_line(shared_dir: Path) -> None:
    """The benchmark command stays runnable (it is not timed here)."""
    import subprocess
    import sys

    completed = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "run.py"), "--repeat", "1"],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
        env={"PATH": "/usr/bin:/bin"},
    )
    figures = json.loads(completed.stdout.strip().splitlines()[-1])
    assert figures["sqlite"]["countries_rated"] >= 160


def test_cli_ingest_named_sources_and_not_configured_ones(
    cli_env: dict[str, str],
    session_factory: sessionmaker[Session],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("EARLYWARN_UCDP_TOKEN", raising=False)
    good = _csv(tmp_path / "good.csv", _high("SDN"))
    (Path(cli_env["EARLYWARN_CONFIG_DIR"]) / "sources.yaml").write_text(
        f"ucdp:\n  years_back: 2\nfiles:\n  mine:\n    format: csv\n    path: {good}\n"
    )
    runner = CliRunner()
    result = runner.invoke(cli_app, ["ingest"])
    assert result.exit_code == 1, result.output
    assert "csv: succeeded" in result.output
    assert "ucdp: not configured: set EARLYWARN_UCDP_TOKEN" in result.output

    result = runner.invoke(cli_app, ["ingest", "csv"])
    assert result.exit_code == 0, result.output
    assert "csv: unchanged" in result.output
    result = runner.invoke(cli_app, ["ingest", "--source", "csv"])
    assert result.exit_code == 0, result.output

    result = runner.invoke(cli_app, ["ingest", "nosuch"])
    assert result.exit_code == 1
    assert "unknown source 'nosuch' (known: all, acled, coups, csv" in result.output
    result = runner.invoke(cli_app, ["ingest", "ewp"])
    assert result.exit_code == 1
    assert "no 'ewp' file under files:" in result.output


def test_each_source_gets_its_own_scheduled_job(
    session_factory: sessionmaker[Session],
    configuration: Configuration,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (tmp_path / "sources.yaml").write_text(
        'worldbank:\n  years_back: 2\n  schedule: "0 4 * * 1"\n'
        'ucdp:\n  years_back: 2\n  schedule: "30 4 * * *"\n'
        'gdelt:\n  enabled: false\n  schedule: "0 6 * * *"\n'
        "acled:\n  years_back: 2\n"
    )
    app = FastAPI()
    app.state.session_factory = session_factory
    app.state.configuration = dataclasses.replace(
        configuration, sources=load_sources_config(tmp_path / "sources.yaml")
    )
    app.state.settings = Settings(config_dir=tmp_path, ucdp_token=None)
    ran: list[str] = []

    def fake_ingest(
        factory: object, settings: object, config: object, source_id: str, **kw: Any
    ) -> Any:
        ran.append(f"{source_id}:{kw['trigger']}")
        return IngestRun(id=1, status=RunStatus.SUCCEEDED)

    monkeypatch.setattr(ingest_service, "ingest_source", fake_ingest)
    running = scheduler.start(app)
    try:
        jobs = {name: str(job.trigger) for name, job in running.cluster.jobs.items()}
        # ucdp has no token: not scheduled; gdelt is disabled; acled has no schedule.
        assert set(jobs) == {
            scheduler.JOB_ID,
            f"{scheduler.SOURCE_JOB_PREFIX}worldbank",
            scheduler.MAINTENANCE_JOB_ID,
        }
        assert running.delivery is not None
        assert running.delivery.get_job(scheduler.DELIVERY_JOB_ID) is not None
        assert "day_of_week='1'" in jobs[f"{scheduler.SOURCE_JOB_PREFIX}worldbank"]
        running.cluster.jobs[f"{scheduler.SOURCE_JOB_PREFIX}worldbank"].run()
    finally:
        scheduler.stop(app)
    assert ran == ["worldbank:scheduler"]


# --- sources.yaml is read once, at start-up ---------------------------------------------------

BROKEN_SOURCES = "worldbank:\n  years_back: 8\n  schedule: 'every monday'\n"


def test_a_broken_sources_file_fails_the_cli_at_start_up(cli_env: dict[str, str]) -> None:
    sources = Path(cli_env["EARLYWARN_CONFIG_DIR"]) / "sources.yaml"
    sources.write_text(BROKEN_SOURCES)
    # init-db does not ingest: it fails because the configuration is read whole, at start-up.
    result = CliRunner().invoke(cli_app, ["init-db"])
    assert result.exit_code == 1
    assert str(sources) in result.output
    assert "worldbank.schedule" in result.output


def test_a_broken_sources_file_fails_create_app(tmp_path: Path) -> None:
    config_dir = tmp_path / "config"
    shutil.copytree(REPO / "config", config_dir)
    (config_dir / "sources.yaml").write_text(BROKEN_SOURCES)
    settings = Settings(_env_file=None, config_dir=config_dir, bootstrap_admin_key=None)
    with pytest.raises(ConfigError) as caught:
        create_app(settings=settings, engine=create_engine("sqlite://"))
    assert caught.value.path == config_dir / "sources.yaml"
    assert "worldbank.schedule" in str(caught.value)
