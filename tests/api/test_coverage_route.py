"""GET /coverage and ``earlywarn coverage`` (issue 16): 404 with the reason before any score
run, then the report of the latest run. SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from tests.scoring.test_coverage import load_and_score
from typer.testing import CliRunner

from earlywarn.app.cli import app as cli_app
from earlywarn.framework.config import Configuration
from earlywarn.settings import get_settings
from earlywarn.types import Role


def test_coverage_route(
    client: TestClient,
    keys: dict[Role, str],
    session_factory: sessionmaker[Session],
    configuration: Configuration,
    tmp_path: Path,
) -> None:
    headers = {"X-API-Key": keys[Role.ANALYST]}
    missing = client.get("/coverage", headers=headers)
    assert missing.status_code == 404
    assert "run-once" in missing.json()["detail"]
    load_and_score(session_factory, configuration, tmp_path)
    body = client.get("/coverage", headers=headers).json()
    assert body["countries_scored"] == 2
    first = body["factors"][0]
    assert (first["number"], first["countries_with_evidence"]) == (1, 2)
    assert first["by_source"] == {"worldbank": 2}
    assert {a["source"] for a in first["to_raise"]} >= {"ucdp", "reliefweb", "ewp"}


def test_coverage_command(
    session_factory: sessionmaker[Session],
    configuration: Configuration,
    engine: Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EARLYWARN_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("EARLYWARN_CONFIG_DIR", str(Path(__file__).resolve().parents[2] / "config"))
    monkeypatch.setenv("EARLYWARN_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    try:
        before = CliRunner().invoke(cli_app, ["coverage"])
        assert before.exit_code == 1
        load_and_score(session_factory, configuration, tmp_path)
        table = CliRunner().invoke(cli_app, ["coverage"])
        assert table.exit_code == 0, table.output
        assert "Evidence per risk factor" in table.output
        as_json = CliRunner().invoke(cli_app, ["coverage", "--json"])
        assert as_json.exit_code == 0, as_json.output
        assert json.loads(as_json.output)["factors"][0]["by_source"] == {"worldbank": 2}
    finally:
        get_settings.cache_clear()
