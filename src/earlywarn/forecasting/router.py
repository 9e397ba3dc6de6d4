from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, status
from sqlalchemy.orm import Session

from earlywarn.api.deps import IdPath, Iso3Path, SessionDep
from earlywarn.auth.deps import Reader
from earlywarn.countries.models import Country
from earlywarn.forecasting import repository
from earlywarn.forecasting.models import Forecast
from earlywarn.forecasting.registry import ModelRegistry, RegistryError
from earlywarn.forecasting.schemas import Driver, ForecastOut, ModelCardOut, RankedForecasts
from earlywarn.scoring.models import ScoreRun
from earlywarn.scoring.repository import country_names

router = APIRouter(tags=["forecasts"])

_NO_FORECASTS = (
    "no scoring run has stored forecasts yet: train and promote a model "
    "(`earlywarn train`, `earlywarn promote`), then run `earlywarn run-once`"
)


def _out(forecast: Forecast, name: str) -> ForecastOut:
    return ForecastOut(
        iso3=forecast.country_iso3,
        name=name,
        score_run_id=forecast.score_run_id,
        model_version=forecast.model_version,
        data_year=forecast.data_year,
        probability_1y=forecast.probability_1y,
        probability_2y=forecast.probability_2y,
        rank_2y=forecast.rank_2y,
        drivers=[Driver.model_validate(d) for d in forecast.drivers],
    )


def _ranked(session: Session, run_id: int, limit: int | None) -> RankedForecasts:
    rows = repository.ranked_forecasts(session, run_id)[:limit]
    names = country_names(session, [f.country_iso3 for f in rows])
    return RankedForecasts(
        score_run_id=run_id,
        model_version=rows[0].model_version if rows else None,
        forecasts=[_out(f, names.get(f.country_iso3, f.country_iso3)) for f in rows],
    )


@router.get("/forecasts/latest", response_model=RankedForecasts)
def latest_forecasts(
    session: SessionDep, _: Reader, limit: Annotated[int | None, Query(ge=1, le=1000)] = None
) -> RankedForecasts:
    """Onset probabilities of the newest scoring run that made forecasts, highest first, each
    with its model version and its five strongest drivers."""
    run_id = repository.latest_forecast_run_id(session)
    if run_id is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=_NO_FORECASTS)
    return _ranked(session, run_id, limit)


@router.get("/score-runs/{run_id}/forecasts", response_model=RankedForecasts)
def run_forecasts(
    session: SessionDep,
    _: Reader,
    run_id: IdPath,
    limit: Annotated[int | None, Query(ge=1, le=1000)] = None,
) -> RankedForecasts:
    """The forecasts stored with one scoring run (empty when it made none)."""
    if session.get(ScoreRun, run_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no scoring run {run_id}")
    return _ranked(session, run_id, limit)


@router.get("/countries/{iso3}/forecasts", response_model=list[ForecastOut])
def country_forecasts(
    session: SessionDep,
    _: Reader,
    iso3: Iso3Path,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[ForecastOut]:
    """A country's forecasts over past scoring runs, newest first."""
    code = iso3.upper()
    country = session.get(Country, code)
    if country is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"unknown country '{iso3}'")
    return [_out(f, country.name) for f in repository.country_forecasts(session, code, limit=limit)]


@router.get("/forecast-models", response_model=list[ModelCardOut])
def forecast_models(request: Request, _: Reader) -> list[ModelCardOut]:
    """The trained model versions with their model cards; ``promoted`` marks the one in use."""
    registry = ModelRegistry(request.app.state.settings.models_dir)
    try:
        promoted = registry.promoted_version()
        return [
            ModelCardOut(version=v, promoted=v == promoted, card=registry.card(v))
            for v in registry.versions()
        ]
    except (RegistryError, ValueError, OSError) as exc:
        raise HTTPException(
            status.HTTP_409_CONFLICT, detail=f"model registry unreadable: {exc}"
        ) from exc
