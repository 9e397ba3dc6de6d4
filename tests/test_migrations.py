"""The single migration chain builds the whole schema from empty, and tears it down again."""

from __future__ import annotations

from sqlalchemy import Engine, inspect

from earlywarn.migrations import downgrade_to_base, upgrade_to_head
from earlywarn.models_registry import Base


def test_migrations_create_every_table_and_downgrade_cleanly(engine: Engine) -> None:
    tables = set(inspect(engine).get_table_names())
    assert set(Base.metadata.tables) <= tables

    downgrade_to_base(engine)
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}

    upgrade_to_head(engine)
    assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
