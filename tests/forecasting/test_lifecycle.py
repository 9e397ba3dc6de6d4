"""Forecasts by default: a database's own registry, trained on its first run, retrained when
new labelled years arrive; never another database's model. Both backends (``engine``)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session, sessionmaker

from earlywarn.app.migrations import upgrade_to_head
from earlywarn.app.pipeline import prepare_database, score_and_alert
from earlywarn.db import make_session_factory
from earlywarn.forecasting.lifecycle import AUTO_TRAINED, database_registry, ensure_model
from earlywarn.forecasting.models import Forecast
from earlywarn.forecasting.registry import model_card, train_bundle
from earlywarn.forecasting.service import panel_from_observations
from earlywarn.framework.config import Configuration
from earlywarn.ingest import service as ingest_service
from earlywarn.observations.models import RunStatus

from .conftest import FEATURES, ewp_csv, synthetic_cells


def _import(factory: sessionmaker[Session], path: Path, last_year: int) -> None:
    cells = {k: v for k, v in synthetic_cells().items() if k[1] <= last_year}
    path.write_bytes(ewp_csv(cells))
    run = ingest_service.import_file(factory, path, "ewp")
    assert run.status is RunStatus.SUCCEEDED, run.error


def test_first_run_trains_and_new_labels_retrain(
    session_factory: sessionmaker[Session], configuration: Configuration, tmp_path: Path
) -> None:
    prepare_database(session_factory, configuration)
    models = tmp_path / "models"
    messages: list[str] = []
    with session_factory() as session:
        registry = database_registry(session, models)
        session.commit()
        # No data yet: nothing to learn from, nothing promoted.
        assert ensure_model(session, registry, predictors=FEATURES, report=messages.append) is None
    assert messages == []

    _import(session_factory, tmp_path / "early.csv", 2010)
    with session_factory() as session:
        first = ensure_model(session, registry, predictors=FEATURES, report=messages.append)
    assert first is not None
    assert registry.promoted_version() == first.version
    assert registry.card(first.version)[AUTO_TRAINED] is True
    assert first.trained_through[2] == 2008  # data through 2010: two-year labels through 2008
    assert "no model yet for this database" in messages[0]
    assert "trained and promoted" in messages[-1]

    # Same data: the model stands.
    with session_factory() as session:
        again = ensure_model(session, registry, predictors=FEATURES, report=messages.append)
    assert again is not None
    assert again.version == first.version
    assert len(messages) == 2

    _import(session_factory, tmp_path / "later.csv", 2016)
    with session_factory() as session:
        newer = ensure_model(session, registry, predictors=FEATURES, report=messages.append)
    assert newer is not None
    assert newer.version != first.version
    assert newer.trained_through[2] == 2014
    assert registry.promoted_version() == newer.version
    assert "labels now reach 2014" in messages[2]

    # The scoring run stores the nested model's forecasts with their intervals.
    summary = score_and_alert(
        session_factory, configuration, as_of=date(2016, 6, 30), models_dir=models
    )
    assert summary.forecast_model_version == newer.version
    with session_factory() as session:
        stored = list(session.scalars(select(Forecast)))
    assert len(stored) == summary.forecasts_stored > 0
    for f in stored:
        assert f.probability_2y_low is not None
        assert f.probability_2y_high is not None
        assert f.rank_2y_best is not None
        assert f.rank_2y_worst is not None
        assert f.probability_2y_low <= f.probability_2y <= f.probability_2y_high
        assert f.rank_2y_best <= f.rank_2y <= f.rank_2y_worst
        assert f.probability_1y_low is not None
        assert f.probability_1y_high is not None
        assert f.probability_1y_low <= f.probability_1y <= f.probability_1y_high
    assert any(f.probability_2y_high > f.probability_2y_low for f in stored)  # type: ignore[operator]
    assert any(f.probability_1y_high > f.probability_1y_low for f in stored)  # type: ignore[operator]


def test_an_administrators_model_is_never_replaced(
    session_factory: sessionmaker[Session], configuration: Configuration, tmp_path: Path
) -> None:
    prepare_database(session_factory, configuration)
    _import(session_factory, tmp_path / "early.csv", 2010)
    with session_factory() as session:
        registry = database_registry(session, tmp_path / "models")
        session.commit()
        from earlywarn.forecasting.catalog import make_model

        panel = panel_from_observations(session, predictors=FEATURES)
        bundle = train_bundle(panel, make_model("logit", FEATURES), name="logit")
        registry.save(bundle, model_card(bundle, data_source="test", backtest=None))
        registry.promote(bundle.version)
    _import(session_factory, tmp_path / "later.csv", 2016)
    with session_factory() as session:
        kept = ensure_model(session, registry, predictors=FEATURES)
    assert kept is not None
    assert kept.version == bundle.version
    assert registry.versions() == [bundle.version]


def test_two_databases_never_share_a_model(tmp_path: Path, configuration: Configuration) -> None:
    models = tmp_path / "models"
    registries = []
    for name in ("a", "b"):
        engine = create_engine(f"sqlite:///{tmp_path / name}.db")
        try:
            upgrade_to_head(engine)
            factory = make_session_factory(engine)
            prepare_database(factory, configuration)
            with factory() as session:
                registries.append(database_registry(session, models))
                session.commit()
            if name == "a":
                _import(factory, tmp_path / "a.csv", 2010)
                with factory() as session:
                    assert ensure_model(session, registries[0], predictors=FEATURES) is not None
            else:
                # b has no training data: it must not pick up a's model.
                with factory() as session:
                    assert ensure_model(session, registries[1], predictors=FEATURES) is None
                    # Asking again gives the same key: the registry belongs to the database.
                    assert database_registry(session, models).root == registries[1].root
        finally:
            engine.dispose()
    a, b = registries
    assert a.root != b.root
    assert a.root.parent == b.root.parent == models
    assert a.promoted_version() is not None
    assert b.promoted_version() is None
    assert b.versions() == []
