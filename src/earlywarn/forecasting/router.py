from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from sqlalchemy.orm import Session

from earlywarn.api.csv_format import FormatQuery, csv_response, wants_csv
from earlywarn.api.deps import IdPath, Iso3Path, SessionDep
from earlywarn.auth.deps import Reader
from earlywarn.countries.models import Country
from earlywarn.forecasting import repository
from earlywarn.forecasting import track_record as record
from earlywarn.forecasting.explain import described
from earlywarn.forecasting.lifecycle import database_registry
from earlywarn.forecasting.models import Forecast
from earlywarn.forecasting.registry import RegistryError
from earlywarn.forecasting.schemas import Driver, ForecastOut, ModelCardOut, RankedForecasts
from earlywarn.framework.config import Configuration
from earlywarn.framework.deps import ConfigDep
from earlywarn.scoring.models import ScoreRun
from earlywarn.scoring.repository import country_names

router = APIRouter(tags=["forecasts"])

_NO_FORECASTS = (
    "no scoring run has stored forecasts yet: train and promote a model "
    "(`earlywarn train`, `earlywarn promote`), then run `earlywarn run-once`"
)


def _out(forecast: Forecast, name: str, config: Configuration) -> ForecastOut:
    return ForecastOut(
        iso3=forecast.country_iso3,
        name=name,
        score_run_id=forecast.score_run_id,
        model_version=forecast.model_version,
        data_year=forecast.data_year,
        probability_1y=forecast.probability_1y,
        probability_1y_low=forecast.probability_1y_low,
        probability_1y_high=forecast.probability_1y_high,
        probability_2y=forecast.probability_2y,
        rank_2y=forecast.rank_2y,
        probability_2y_low=forecast.probability_2y_low,
        probability_2y_high=forecast.probability_2y_high,
        rank_2y_best=forecast.rank_2y_best,
        rank_2y_worst=forecast.rank_2y_worst,
        drivers=[Driver.model_validate(d) for d in described(forecast.drivers, config)],
    )


def _ranked(
    session: Session, run_id: int, limit: int | None, config: Configuration
) -> RankedForecasts:
    rows = repository.ranked_forecasts(session, run_id)[:limit]
    names = country_names(session, [f.country_iso3 for f in rows])
    return RankedForecasts(
        score_run_id=run_id,
        model_version=rows[0].model_version if rows else None,
        forecasts=[_out(f, names.get(f.country_iso3, f.country_iso3), config) for f in rows],
    )


@router.get("/forecasts/latest", response_model=RankedForecasts)
def latest_forecasts(
    session: SessionDep,
    _: Reader,
    request: Request,
    config: ConfigDep,
    limit: Annotated[int | None, Query(ge=1, le=1000)] = None,
    format: FormatQuery = None,
) -> RankedForecasts | Response:
    """Onset probabilities of the newest scoring run that made forecasts, highest first, each
    with its model version and its five strongest drivers (`?format=csv` for a table)."""
    run_id = repository.latest_forecast_run_id(session)
    if run_id is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=_NO_FORECASTS)
    ranked = _ranked(session, run_id, limit, config)
    if wants_csv(request, format):
        return csv_response(ranked.forecasts, f"earlywarn-forecasts-run-{run_id}.csv")
    return ranked


@router.get("/score-runs/{run_id}/forecasts", response_model=RankedForecasts)
def run_forecasts(
    session: SessionDep,
    _: Reader,
    config: ConfigDep,
    run_id: IdPath,
    limit: Annotated[int | None, Query(ge=1, le=1000)] = None,
) -> RankedForecasts:
    """The forecasts stored with one scoring run (empty when it made none)."""
    if session.get(ScoreRun, run_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no scoring run {run_id}")
    return _ranked(session, run_id, limit, config)


@router.get("/countries/{iso3}/forecasts", response_model=list[ForecastOut])
def country_forecasts(
    session: SessionDep,
    _: Reader,
    config: ConfigDep,
    iso3: Iso3Path,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[ForecastOut]:
    """A country's forecasts over past scoring runs, newest first."""
    code = iso3.upper()
    country = session.get(Country, code)
    if country is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"unknown country '{iso3}'")
    rows = repository.country_forecasts(session, code, limit=limit)
    return [_out(f, country.name, config) for f in rows]


@router.get("/forecast-models", response_model=list[ModelCardOut])
def forecast_models(request: Request, session: SessionDep, _: Reader) -> list[ModelCardOut]:
    """This database's trained model versions with their model cards; ``promoted`` marks the
    one in use."""
    registry = database_registry(session, request.app.state.settings.models_dir)
    session.commit()  # the registry key, on first use
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


@router.get("/forecasts/track-record", response_model=None)
def forecasts_track_record(
    session: SessionDep,
    _: Reader,
    format: Annotated[str, Query(pattern="^(json|csv)$")] = "json",
    top_k: Annotated[int, Query(ge=1, le=500)] = record.TOP_K,
) -> dict[str, object] | Response:
    """How the stored forecasts fared, per model version: resolved forecasts (outcome years
    known), Brier score, AUC and recall among the top ``top_k`` (30), overall and per data
    year, and the onsets missed (ranked below ``top_k``). ``format=csv``: one line per
    forecast with its status (pending, onset, no onset)."""
    if format == "csv":
        lines = [",".join(record.CSV_COLUMNS)]
        lines += [",".join(row) for row in record.csv_rows(session)]
        return Response(
            "\n".join(lines) + "\n",
            media_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="track-record.csv"'},
        )
    return record.track_record(session, top_k=top_k)
