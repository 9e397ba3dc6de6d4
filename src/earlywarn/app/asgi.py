"""The API application for ``uvicorn --factory`` (``earlywarn api --workers N`` starts each
worker process from here): built from the environment's settings, no scheduler inside."""

from __future__ import annotations

from fastapi import FastAPI

from earlywarn.app import logs
from earlywarn.app.factory import create_app


def api_app() -> FastAPI:
    # Worker processes are spawned afresh: they set up the JSON log lines themselves.
    logs.configure()
    return create_app(start_scheduler=False)
