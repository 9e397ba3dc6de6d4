"""``config/forecast_drivers.yaml``: each forecasting predictor in words, with the Framework of
Analysis risk factor it belongs to (so a forecast's drivers read as a diplomat would say them).
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field

_CHANGE = re.compile(r"^(?P<column>.+):change_(?P<years>[1-9][0-9]*)y$")


class DriverConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: str = Field(min_length=3, description="the predictor in words")
    risk_factor: int | None = Field(
        ge=1, le=14, description="Framework of Analysis risk factor; null for a control"
    )


class ForecastDriversConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    predictors: dict[str, DriverConfig] = Field(min_length=1)

    def entry(self, variable: str) -> tuple[str, DriverConfig] | None:
        """The label (a derived change named as such) and entry of a predictor, if mapped."""
        if variable in self.predictors:
            return self.predictors[variable].label, self.predictors[variable]
        match = _CHANGE.match(variable)
        if match and match["column"] in self.predictors:
            base = self.predictors[match["column"]]
            years = int(match["years"])
            span = "a year" if years == 1 else f"{years} years"
            return f"Change over {span}: {base.label}", base
        return None

    def unmapped(self, variables: list[str] | tuple[str, ...]) -> list[str]:
        return [v for v in variables if self.entry(v) is None]
