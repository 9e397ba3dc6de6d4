"""Forecasts in the live pipeline: stored beside each scoring run, served by the API."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from earlywarn.alerting.models import Alert, AlertState
from earlywarn.app.pipeline import prepare_database, score_and_alert
from earlywarn.forecasting import repository
from earlywarn.forecasting.estimators import OnsetEnsemble
from earlywarn.forecasting.lifecycle import database_registry
from earlywarn.forecasting.models import Forecast
from earlywarn.forecasting.panel import read_ewp_csv
from earlywarn.forecasting.registry import ModelRegistry, model_card, train_bundle
from earlywarn.forecasting.service import drivers, panel_from_observations
from earlywarn.framework.config import Configuration
from earlywarn.framework.config_schemas import OnsetProbabilityRule
from earlywarn.ingest import service as ingest_service
from earlywarn.observations.models import RunStatus
from earlywarn.scoring.models import ScoreRun, ScoreRunStatus

from .conftest import COUNTRIES, FEATURES, ewp_csv, synthetic_cells

AS_OF = date(2025, 6, 30)
# One variable each of four risk factors: enough data for the shipped configuration to rate.
RATING_VARIABLES = (
    "ewp.battledeaths.log2",
    "ewp.discrimpop",
    "ewp.repress_civilsoc",
    "ewp.partyban.new.1",
)


@pytest.fixture
def loaded(
    session_factory: sessionmaker[Session], configuration: Configuration, tmp_path: Path
) -> Path:
    prepare_database(session_factory, configuration)
    path = tmp_path / "world.csv"
    path.write_bytes(ewp_csv(synthetic_cells()))
    run = ingest_service.import_file(session_factory, path, "ewp")
    assert run.status is RunStatus.SUCCEEDED, run.error
    return path


@pytest.fixture
def promoted(loaded: Path, session: Session, tmp_path: Path) -> ModelRegistry:
    panel = panel_from_observations(session, predictors=FEATURES)
    # The logit alone keeps the database tests quick; the ensemble's own tests are elsewhere.
    model = OnsetEnsemble(Cs=(1.0,), candidates=("logit",), year_column=2, random_state=0)
    bundle = train_bundle(panel, model, name="ensemble")
    # The registry is this database's own (models/<its key>/).
    registry = database_registry(session, tmp_path / "models")
    session.commit()
    registry.save(bundle, model_card(bundle, data_source="stored observations", backtest=None))
    registry.promote(bundle.version)
    return registry


def test_panel_from_observations_equals_the_file(loaded: Path, session: Session) -> None:
    from_db = panel_from_observations(session, predictors=FEATURES)
    from_file = read_ewp_csv(loaded, predictors=FEATURES)
    assert len(from_db) == len(from_file)
    iso3 = {"501": "KEN", "625": "SDN"}
    for code, key in iso3.items():
        a = from_db.features[from_db.countries == key]
        b = from_file.features[from_file.countries == code]
        np.testing.assert_array_equal(a, b)
        for name in ("mk_onset", "mk_onset_1or2"):
            np.testing.assert_array_equal(
                from_db.outcome(name)[from_db.countries == key],
                from_file.outcome(name)[from_file.countries == code],
            )


def test_change_predictors_from_observations_equal_the_files_and_serve_live(
    loaded: Path,
    session: Session,
    session_factory: sessionmaker[Session],
    configuration: Configuration,
    tmp_path: Path,
) -> None:
    """Derived predictors are computed the same way from stored observations as from the
    CSV the backtest reads, and a model trained with them forecasts in a scoring run."""
    names = (*FEATURES, "risk:change_1y", "noise:change_3y")
    from_db = panel_from_observations(session, predictors=names)
    from_file = read_ewp_csv(loaded, predictors=names)
    for code, key in {"501": "KEN", "625": "SDN", "840": "PHL"}.items():
        np.testing.assert_array_equal(
            from_db.features[from_db.countries == key],
            from_file.features[from_file.countries == code],
        )
    model = OnsetEnsemble(Cs=(1.0,), candidates=("logit",), year_column=2, random_state=0)
    bundle = train_bundle(from_db, model, name="ensemble")
    registry = database_registry(session, tmp_path / "models")
    session.commit()
    registry.save(bundle, model_card(bundle, data_source="stored observations", backtest=None))
    registry.promote(bundle.version)
    assert registry.card(bundle.version)["features"] == list(names)
    summary = score_and_alert(
        session_factory, configuration, as_of=AS_OF, models_dir=registry.root.parent
    )
    assert summary.forecasts_stored == len(COUNTRIES)
    with session_factory() as fresh:
        stored = repository.forecasts_for_run(fresh, summary.score_run_id)
    last = from_file.years == 2024
    expected = bundle.predict(from_file.features[last])[2]
    by_code = dict(zip(from_file.countries[last].tolist(), expected.tolist(), strict=True))
    assert stored["KEN"].probability_2y == pytest.approx(by_code["501"], rel=1e-12)
    assert stored["SDN"].probability_2y == pytest.approx(by_code["625"], rel=1e-12)


def test_scoring_run_stores_forecasts_with_model_version_and_drivers(
    promoted: ModelRegistry,
    session_factory: sessionmaker[Session],
    configuration: Configuration,
) -> None:
    summary = score_and_alert(
        session_factory, configuration, as_of=AS_OF, models_dir=promoted.root.parent
    )
    version = promoted.promoted_version()
    assert summary.forecasts_stored == len(COUNTRIES)
    assert summary.forecast_model_version == version
    assert summary.forecast_skipped_reason is None
    with session_factory() as session:
        forecasts = repository.forecasts_for_run(session, summary.score_run_id)
        assert set(forecasts) >= {"KEN", "SDN", "COL"}
        assert len(forecasts) == len(COUNTRIES)
        kenya = forecasts["KEN"]
        assert kenya.model_version == version
        assert kenya.data_year == 2024
        assert 0 < kenya.probability_1y < 1
        assert 0 < kenya.probability_2y < 1
        assert sorted(f.rank_2y for f in forecasts.values()) == list(range(1, len(COUNTRIES) + 1))
        assert 1 <= len(kenya.drivers) <= 5
        assert {d["variable"] for d in kenya.drivers} <= set(FEATURES)
        assert all(d["direction"] in ("raises", "lowers") for d in kenya.drivers)
        # The persistent risk predictor is what the synthetic world's onsets depend on.
        top = [f.drivers[0]["variable"] for f in forecasts.values() if f.drivers]
        assert top.count("risk") > len(top) / 2


def test_drivers_sign_and_size_match_moving_one_predictor(promoted: ModelRegistry) -> None:
    bundle = promoted.load_promoted()
    assert bundle is not None
    rng = np.random.default_rng(0)
    features = np.column_stack([rng.normal(size=12), rng.normal(size=12), np.full(12, 2024.0)])
    explained = drivers(bundle, features)
    model = bundle.estimators[2]
    typical = np.median(features, axis=0)
    for row, found in enumerate(explained):
        for d in found:
            j = FEATURES.index(d["variable"])
            moved = features[row].copy()
            moved[j] = typical[j]
            expected = (
                model.predict_proba(features[row : row + 1])[0, 1]
                - model.predict_proba(moved[None, :])[0, 1]
            )
            assert d["effect"] == pytest.approx(expected, abs=1e-6)
            assert d["direction"] == ("raises" if expected > 0 else "lowers")


def test_without_a_promoted_model_forecasting_is_skipped_with_a_reason(
    loaded: Path,
    session_factory: sessionmaker[Session],
    configuration: Configuration,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level("INFO", logger="earlywarn.app.pipeline"):
        summary = score_and_alert(
            session_factory, configuration, as_of=AS_OF, models_dir=tmp_path / "empty"
        )
    assert summary.forecasts_stored == 0
    assert summary.forecast_skipped_reason is not None
    assert "no forecasting model is promoted" in summary.forecast_skipped_reason
    assert "forecasting skipped" in caplog.text
    with session_factory() as session:
        assert repository.forecasts_for_run(session, summary.score_run_id) == {}
        assert session.get_one(ScoreRun, summary.score_run_id).status is ScoreRunStatus.SUCCEEDED


def test_a_broken_model_costs_the_run_nothing_but_its_forecasts(
    promoted: ModelRegistry,
    session_factory: sessionmaker[Session],
    configuration: Configuration,
) -> None:
    version = promoted.promoted_version()
    assert version is not None
    (promoted.root / version / "model.joblib").write_bytes(b"truncated")
    summary = score_and_alert(
        session_factory, configuration, as_of=AS_OF, models_dir=promoted.root.parent
    )
    assert summary.forecasts_stored == 0
    assert summary.forecast_skipped_reason is not None
    assert summary.forecast_skipped_reason.startswith("forecasting failed")
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Forecast)) == 0
        assert session.get_one(ScoreRun, summary.score_run_id).status is ScoreRunStatus.SUCCEEDED


def test_api_serves_forecasts_with_model_version_and_drivers(
    promoted: ModelRegistry,
    session_factory: sessionmaker[Session],
    configuration: Configuration,
    make_client: Callable[..., Any],
) -> None:
    client, key = make_client(models_dir=promoted.root.parent)
    headers = {"X-API-Key": key}
    missing = client.get("/forecasts/latest", headers=headers)
    assert missing.status_code == 404
    assert "earlywarn train" in missing.json()["detail"]

    summary = score_and_alert(
        session_factory, configuration, as_of=AS_OF, models_dir=promoted.root.parent
    )
    body = client.get("/forecasts/latest?limit=5", headers=headers).json()
    assert body["score_run_id"] == summary.score_run_id
    assert body["model_version"] == promoted.promoted_version()
    assert [f["rank_2y"] for f in body["forecasts"]] == [1, 2, 3, 4, 5]
    first = body["forecasts"][0]
    assert first["name"]
    assert first["drivers"]
    assert {"variable", "effect", "direction"} <= set(first["drivers"][0])
    # This test's logit has no spread members: no interval, said as null.
    assert first["probability_2y_low"] is None
    assert first["rank_2y_worst"] is None
    assert first["probability_1y_low"] is None
    # In words from config/forecast_drivers.yaml (the synthetic risk and noise are not in it).
    for driver in first["drivers"]:
        described = {"year": ("Year (time trend)", None)}.get(driver["variable"])
        assert (driver["label"], driver["risk_factor"]) == (described or (driver["variable"], None))

    history = client.get("/countries/ken/forecasts", headers=headers).json()
    assert [h["iso3"] for h in history] == ["KEN"]
    assert client.get("/countries/XXX/forecasts", headers=headers).status_code == 404
    run = client.get(f"/score-runs/{summary.score_run_id}/forecasts", headers=headers).json()
    assert len(run["forecasts"]) == len(COUNTRIES)
    unknown = client.get(f"/score-runs/{summary.score_run_id + 1}/forecasts", headers=headers)
    assert unknown.status_code == 404
    assert "no scoring run" in unknown.json()["detail"]

    models = client.get("/forecast-models", headers=headers).json()
    assert [m["promoted"] for m in models] == [True]
    assert models[0]["card"]["features"] == list(FEATURES)


@pytest.fixture
def make_client(
    engine: Any, configuration: Configuration, tmp_path: Path
) -> Callable[..., tuple[Any, str]]:
    import warnings

    from starlette.exceptions import StarletteDeprecationWarning

    from earlywarn.app.factory import create_app
    from earlywarn.auth.service import create_key
    from earlywarn.db import make_session_factory, session_scope
    from earlywarn.settings import Settings
    from earlywarn.types import Role

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StarletteDeprecationWarning)
        from fastapi.testclient import TestClient

    def build(**overrides: Any) -> tuple[Any, str]:
        settings = Settings(
            _env_file=None,
            data_dir=tmp_path,
            scheduler_enabled=False,
            bootstrap_admin_key=None,
            **overrides,
        )
        app = create_app(settings=settings, engine=engine, configuration=configuration)
        with session_scope(make_session_factory(engine)) as session:
            _, raw = create_key(session, name="analyst", role=Role.ANALYST)
        return TestClient(app), raw

    return build


def test_train_command_reads_stored_observations(
    loaded: Path, engine: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from earlywarn.app.cli import app as cli_app
    from earlywarn.settings import get_settings

    models = tmp_path / "registry"
    monkeypatch.setenv("EARLYWARN_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("EARLYWARN_MODELS_DIR", str(models))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(
            cli_app,
            ["train", "--predictors", "risk,noise,year,risk:change_1y", "--model", "logit",
             "--no-backtest", "--promote"],
        )  # fmt: skip
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    (registry,) = [ModelRegistry(folder) for folder in models.iterdir()]  # this database's
    (version,) = registry.versions()
    assert registry.promoted_version() == version
    card = registry.card(version)
    assert card["data_source"] == "stored observations (ewp.* variables)"
    assert card["features"] == ["risk", "noise", "year", "risk:change_1y"]
    assert "risk:change_1y" in (registry.root / version / "model_card.md").read_text()
    assert card["backtest"] is None
    trained = card["training_years"]["1"]
    assert trained["last_labelled_year"] == 2023
    assert trained["first_year"] < 2023
    assert 0 < trained["onsets"] < trained["rows"]


def test_the_onset_probability_rule_reads_the_forecasts_of_the_same_run(
    promoted: ModelRegistry,
    session_factory: sessionmaker[Session],
    configuration: Configuration,
    tmp_path: Path,
) -> None:
    """The pipeline hands each run's stored forecasts to the alert rules: with the threshold
    set between the two highest 2-year probabilities, exactly the top country alerts."""
    first = score_and_alert(
        session_factory, configuration, as_of=AS_OF, models_dir=promoted.root.parent
    )
    with session_factory() as session:
        ranked = sorted(
            repository.forecasts_for_run(session, first.score_run_id).values(),
            key=lambda f: f.probability_2y,
            reverse=True,
        )
    top, runner_up = ranked[0], ranked[1]
    assert top.probability_2y > runner_up.probability_2y
    # Rules judge rated countries: give every country the four factors a rating needs, at no
    # risk, so that only the forecast can raise an alert.
    rating_data = tmp_path / "rating.csv"
    rating_data.write_text(
        "iso3,variable,year,value\n"
        + "".join(
            f"{f.country_iso3},{variable},2024,0\n" for f in ranked for variable in RATING_VARIABLES
        ),
        encoding="utf-8",
    )
    assert ingest_service.import_file(session_factory, rating_data, "csv").error is None
    rule = OnsetProbabilityRule(
        id="onset_test",
        kind="onset_probability",
        horizon_years=2,
        enter=(top.probability_2y + runner_up.probability_2y) / 2,
        exit=0.0,
    )
    # Four factors at no risk are thin evidence, which opens no alert since
    # min_coverage_for_level (tests/scoring/test_evidence_levels.py); this test is about the
    # forecast reaching the rule, so the minimum is off here.
    config = replace(
        configuration,
        alerting=configuration.alerting.model_copy(update={"rules": [rule]}),
        scoring=configuration.scoring.model_copy(update={"min_coverage_for_level": 0.0}),
    )
    second = score_and_alert(session_factory, config, as_of=AS_OF, models_dir=promoted.root.parent)
    assert second.countries_rated == len(ranked)
    with session_factory() as session:
        alerts = session.scalars(select(Alert).where(Alert.rule_id == "onset_test")).all()
        assert [(a.country_iso3, a.state) for a in alerts] == [
            (top.country_iso3, AlertState.FIRING)
        ]


def test_track_record_resolves_each_forecast_once_its_outcome_years_are_known(
    promoted: ModelRegistry,
    session_factory: sessionmaker[Session],
    configuration: Configuration,
    make_client: Callable[..., Any],
) -> None:
    import csv
    import io

    from sklearn.metrics import roc_auc_score

    models = promoted.root.parent
    for as_of in (date(2015, 6, 30), date(2016, 6, 30), date(2016, 7, 1), AS_OF):
        summary = score_and_alert(session_factory, configuration, as_of=as_of, models_dir=models)
        assert summary.forecasts_stored == len(COUNTRIES)
    client, key = make_client(models_dir=models)
    headers = {"X-API-Key": key}
    body = client.get("/forecasts/track-record?top_k=5", headers=headers).json()
    (version,) = body["model_versions"]
    assert version["model_version"] == promoted.promoted_version()
    # 2015 and 2016 (forecast twice: counted once) are resolved; 2024's outcomes are not known.
    assert (version["forecasts"], version["resolved"], version["pending"]) == (90, 60, 30)
    assert [y["data_year"] for y in version["by_data_year"]] == [2015, 2016, 2024]
    assert version["by_data_year"][2]["resolved"] == 0

    # By hand: the truth is the file's own two-year label of the data year.
    with session_factory() as session:
        panel = panel_from_observations(session, predictors=FEATURES)
        stored = [
            f
            for f in session.scalars(select(Forecast).order_by(Forecast.id))
            if f.data_year in (2015, 2016)
        ]
    label = {
        (str(c), int(y)): v
        for c, y, v in zip(
            panel.countries, panel.years, panel.outcome("mk_onset_1or2"), strict=True
        )
    }
    newest = {(f.data_year, f.country_iso3): f for f in stored}  # later runs overwrite
    p = np.array([f.probability_2y for f in newest.values()])
    truth = np.array([label[(f.country_iso3, f.data_year)] for f in newest.values()]) == 1
    assert version["onsets"] == int(truth.sum()) > 0
    assert version["brier"] == pytest.approx(float(np.mean((p - truth) ** 2)), abs=1e-6)
    assert version["auc"] == pytest.approx(roc_auc_score(truth, p), abs=1e-4)
    ranks = np.array([f.rank_2y for f in newest.values()])
    assert version["recall_at_k"] == pytest.approx(float(np.mean(ranks[truth] <= 5)), abs=1e-4)
    missed = {(m["country_iso3"], m["data_year"]) for m in version["missed_onsets"]}
    assert missed == {
        (f.country_iso3, f.data_year)
        for f, t in zip(newest.values(), truth, strict=True)
        if t and f.rank_2y > 5
    }

    response = client.get("/forecasts/track-record?format=csv", headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 90
    statuses = [r["status"] for r in rows]
    assert statuses.count("pending") == 30
    assert statuses.count("onset") == int(truth.sum())
    assert client.get("/forecasts/track-record?format=xml", headers=headers).status_code == 422
    assert client.get("/forecasts/track-record").status_code == 401
