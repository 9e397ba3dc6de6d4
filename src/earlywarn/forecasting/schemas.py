from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Driver(BaseModel):
    """A predictor and how much it moves the two-year probability (percentage points)."""

    variable: str
    value: float
    typical_value: float
    effect: float = Field(
        description="probability minus the probability with this predictor at its typical value"
    )
    direction: str = Field(description="'raises' or 'lowers' the forecast")
    label: str | None = Field(default=None, description="the predictor in words")
    risk_factor: int | None = Field(
        default=None, description="Framework of Analysis risk factor (1-14); null for a control"
    )
    risk_factor_name: str | None = None


class ForecastOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    iso3: str
    name: str
    score_run_id: int
    model_version: str
    data_year: int
    probability_1y: float = Field(description="P(mass-killing onset in the year after data_year)")
    probability_1y_low: float | None = Field(
        default=None, description="interval of probability_1y (null: the model has none)"
    )
    probability_1y_high: float | None = None
    probability_2y: float = Field(description="P(onset within the two years after data_year)")
    rank_2y: int
    probability_2y_low: float | None = Field(
        default=None, description="interval of probability_2y (null: the model has none)"
    )
    probability_2y_high: float | None = None
    rank_2y_best: int | None = Field(default=None, description="interval of rank_2y")
    rank_2y_worst: int | None = None
    drivers: list[Driver]


class RankedForecasts(BaseModel):
    score_run_id: int
    model_version: str | None
    forecasts: list[ForecastOut]


class ModelCardOut(BaseModel):
    version: str
    promoted: bool
    card: dict[str, object]
