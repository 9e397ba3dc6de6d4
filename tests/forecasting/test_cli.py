"""The backtest, train, promote and models commands."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from earlywarn.app.cli import app as cli_app
from earlywarn.forecasting.registry import ModelRegistry
from earlywarn.settings import get_settings

from .conftest import ewp_csv, synthetic_cells

EWP_FILE = "data/ewp/prepared2024predictors-2025-09-03.csv"
REQUIRED = {
    "auc",
    "recall_at_10",
    "recall_at_20",
    "recall_at_30",
    "n_onsets",
    "false_alarms_per_hit_at_4pct",
    "average_precision",
    "brier",
    "seconds",
    "model",
    "missed",
}


@pytest.fixture
def models_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    models = tmp_path / "models"
    monkeypatch.setenv("EARLYWARN_MODELS_DIR", str(models))
    monkeypatch.setenv("EARLYWARN_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    yield models
    get_settings.cache_clear()


@pytest.mark.shared
def test_backtest_command_on_the_ewp_file(shared_dir: Path, tmp_path: Path) -> None:
    """A few walk-forward steps of the real protocol (the full run is the benchmark)."""
    data = shared_dir / EWP_FILE
    if not data.is_file():
        pytest.skip(f"{data} is absent")
    out, report = tmp_path / "bt.json", tmp_path / "bt.html"
    args = ["backtest", "--format", "ewp", "--data", str(data), "--first-train-year", "2018"]
    args += ["--last-train-year", "2021", "--json", str(out), "--report", str(report)]
    result = CliRunner().invoke(cli_app, args)
    assert result.exit_code == 0, result.output
    figures = json.loads(out.read_text())
    assert set(figures) >= REQUIRED
    # The default is pre-registered procedure 2, adopted by its rule
    # (docs/forecasting-procedure-2.md).
    assert figures["model"] == "nested-fast"
    assert (figures["first_train_year"], figures["last_train_year"]) == (2018, 2021)
    # Forecasts from 2020-2023 score the onsets of 2021-2024 in this file (EWP scores the year
    # after the last forecast year too).
    assert figures["n_onsets"] == len(figures["onsets"]) > 0
    assert {o["year"] for o in figures["onsets"]} <= {2021, 2022, 2023, 2024}
    assert all(m["best_rank"] > 30 for m in figures["missed"])
    assert 0.5 < figures["auc"] <= 1
    assert sum(figures["selection"].values()) == 4
    assert figures["cpu_seconds"] > 0
    one_year = figures["one_year"]
    assert one_year["horizon_years"] == 1
    assert figures["horizon_years"] == 2
    assert set(one_year) >= REQUIRED
    # The one-year steps took the two-year choices of the same forecast year (amendment 1).
    assert [(d["feature_set"], d["family"]) for d in one_year["selection_steps"]] == [
        (d["feature_set"], d["family"]) for d in figures["selection_steps"]
    ]
    page = report.read_text()
    assert page.count("<svg") == 3
    assert "Rank of each onset" in page


def test_backtest_train_promote_and_models_on_an_ewp_format_file(
    models_env: Path, tmp_path: Path
) -> None:
    data = tmp_path / "world.csv"
    data.write_bytes(ewp_csv(synthetic_cells()))
    own = ["--predictors", "risk,noise,year,risk:change_3y"]
    runner = CliRunner()
    out = tmp_path / "bt.json"
    result = runner.invoke(
        cli_app,
        ["backtest", "--data", str(data), "--first-train-year", "1995", "--last-train-year",
         "1998", "--json", str(out), "--model", "logit", "--n-jobs", "1", *own],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["model"] == "logit"

    result = runner.invoke(
        cli_app,
        ["train", "--format", "ewp", "--data", str(data), "--model", "logit",
         "--first-train-year", "1995", "--last-train-year", "1996", *own],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    # The registry is the configured database's own folder under the models directory.
    (registry,) = [ModelRegistry(folder) for folder in models_env.iterdir()]
    (version,) = registry.versions()
    card = registry.card(version)
    assert card["backtest"]["first_train_year"] == 1995
    assert card["data_source"] == "EWP file world.csv"
    assert card["features"] == ["risk", "noise", "year", "risk:change_3y"]
    assert registry.promoted_version() is None

    result = runner.invoke(cli_app, ["promote", "no-such-model"])
    assert result.exit_code == 1
    assert "no model version no-such-model" in result.output
    result = runner.invoke(cli_app, ["promote", version])
    assert result.exit_code == 0, result.output
    assert registry.promoted_version() == version
    result = runner.invoke(cli_app, ["models"])
    assert result.exit_code == 0
    assert "yes" in result.output


def test_backtest_errors_are_clear(models_env: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli_app, ["backtest", "--format", "ewp"])
    assert result.exit_code == 1
    assert "--format ewp needs --data" in result.output
    bad = tmp_path / "bad.csv"
    bad.write_text("ewp_name,ccode,year\nKenya,501,2000\n")
    result = runner.invoke(cli_app, ["backtest", "--data", str(bad)])
    assert result.exit_code == 1
    assert "missing column" in result.output
    result = runner.invoke(cli_app, ["backtest", "--data", str(bad), "--model", "forest"])
    assert result.exit_code == 1
    assert "unknown --model 'forest'" in result.output
