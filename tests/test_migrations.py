"""The single migration chain builds the whole schema from empty, and tears it down again."""

from __future__ import annotations

from datetime import date

from alembic import command
from sqlalchemy import Engine, inspect, text

from earlywarn.app.migrations import alembic_config, downgrade_to_base, upgrade_to_head
from earlywarn.app.models_registry import Base
from earlywarn.countries.service import seed_countries
from earlywarn.db import make_session_factory, utc_now
from earlywarn.framework.config import Configuration
from earlywarn.framework.service import sync_configuration


def test_migrations_create_every_table_and_downgrade_cleanly(engine: Engine) -> None:
    tables = set(inspect(engine).get_table_names())
    assert set(Base.metadata.tables) <= tables

    downgrade_to_base(engine)
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}

    upgrade_to_head(engine)
    assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())


def test_migration_0013_flags_existing_history_runs_as_not_evaluated(
    engine: Engine, configuration: Configuration
) -> None:
    """Before 0013 only a history backfill stored a panel; those runs were never evaluated
    for alerts, and alert rules must not read them after the upgrade either."""
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0012")
    try:
        with make_session_factory(engine)() as session:
            seed_countries(session)
            weight_set_id = sync_configuration(session, configuration).id
            session.commit()
        with engine.begin() as connection:
            for as_of in ("2025-06-30", "2020-12-31"):
                connection.execute(
                    text(
                        "INSERT INTO score_runs (status, as_of, weight_set_id, "
                        "methodology_version, started_at, countries_scored) "
                        "VALUES ('succeeded', :as_of, :ws, 'm', :now, 0)"
                    ),
                    {"as_of": date.fromisoformat(as_of), "ws": weight_set_id, "now": utc_now()},
                )
            history_run = connection.execute(
                text("SELECT id FROM score_runs WHERE as_of = :d"), {"d": date(2020, 12, 31)}
            ).scalar_one()
            connection.execute(
                text("INSERT INTO score_run_panels (score_run_id, data) VALUES (:id, :data)"),
                {"id": history_run, "data": b"panel"},
            )
    finally:
        upgrade_to_head(engine)
    with engine.connect() as connection:
        flags = dict(
            tuple(row)
            for row in connection.execute(text("SELECT as_of, alerts_evaluated FROM score_runs"))
        )
    assert {str(k): bool(v) for k, v in flags.items()} == {
        "2025-06-30": True,
        "2020-12-31": False,
    }
    assert "ix_score_runs_as_of_id" in {
        i["name"] for i in inspect(engine).get_indexes("score_runs")
    }
    # And back down and up with the runs in place (the foreign keys stay satisfied).
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0012")
    assert "alerts_evaluated" not in {c["name"] for c in inspect(engine).get_columns("score_runs")}
    upgrade_to_head(engine)
    assert "alerts_evaluated" in {c["name"] for c in inspect(engine).get_columns("score_runs")}
