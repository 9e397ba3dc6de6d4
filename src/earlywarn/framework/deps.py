"""FastAPI dependency for the configuration loaded (and validated) once at start-up."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from earlywarn.framework.config import Configuration


def get_configuration(request: Request) -> Configuration:
    config: Configuration = request.app.state.configuration
    return config


ConfigDep = Annotated[Configuration, Depends(get_configuration)]
