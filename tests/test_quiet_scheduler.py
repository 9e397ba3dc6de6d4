"""An idle scheduler is quiet: no INFO lines for job runs that found nothing to do."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from earlywarn.app import scheduler
from earlywarn.app.factory import create_app
from earlywarn.settings import Settings


def test_an_idle_scheduler_logs_nothing_at_info(
    engine: Engine, configuration: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fast = configuration.alerting.model_copy(
        update={
            "delivery": configuration.alerting.delivery.model_copy(
                update={"poll_interval_seconds": 0.1}
            )
        }
    )
    config = type(configuration)(**{**configuration.__dict__, "alerting": fast})
    app = create_app(
        settings=Settings(_env_file=None, data_dir=tmp_path, bootstrap_admin_key=None),
        engine=engine,
        configuration=config,
    )
    scheduler.start(app)
    try:
        caplog.clear()
        with caplog.at_level(logging.INFO):
            time.sleep(1.5)  # some 15 delivery passes over an empty outbox
    finally:
        scheduler.stop(app)
    assert [r.getMessage() for r in caplog.records if r.levelno <= logging.INFO] == []
