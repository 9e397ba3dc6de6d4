"""Run the Alembic migrations from code (``earlywarn init-db``, the service start, tests)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

from earlywarn.settings import get_settings


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(get_settings().alembic_dir))
    cfg.attributes["url"] = url
    return cfg


def upgrade_to_head(engine: Engine) -> None:
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")


def downgrade_to_base(engine: Engine) -> None:
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "base")
