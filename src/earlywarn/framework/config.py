"""Load and validate ``config/*.yaml``, once, at start-up. Every error names the file and the key at
fault."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from earlywarn.framework.assessment_schema import AssessmentsConfig
from earlywarn.framework.config_schemas import (
    ActionHeadingConfig,
    ActionMapConfig,
    ActionsConfig,
    AlertingConfig,
    FrameworkConfig,
    IndicatorConfig,
    IndicatorsConfig,
    RiskFactorConfig,
    ScoringConfig,
)
from earlywarn.framework.forecast_drivers import ForecastDriversConfig
from earlywarn.framework.sources_schemas import SourcesConfig

ModelT = TypeVar("ModelT", bound=BaseModel)

CONFIG_FILES = {
    "framework": "framework.yaml",
    "indicators": "indicators.yaml",
    "actions": "actions.yaml",
    "action_map": "action_map.yaml",
    "scoring": "scoring.yaml",
    "alerting": "alerting.yaml",
    "sources": "sources.yaml",
    "forecast_drivers": "forecast_drivers.yaml",
    "assessments": "assessments.yaml",
}


class ConfigError(ValueError):
    """A configuration file is missing, unreadable or invalid."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        super().__init__(f"{path}: " + "; ".join(problems))


@dataclass(frozen=True)
class Configuration:
    framework: FrameworkConfig
    indicators: IndicatorsConfig
    actions: ActionsConfig
    action_map: ActionMapConfig
    scoring: ScoringConfig
    alerting: AlertingConfig
    sources: SourcesConfig
    forecast_drivers: ForecastDriversConfig
    assessments: AssessmentsConfig = AssessmentsConfig()

    def risk_factor(self, number: int) -> RiskFactorConfig:
        for factor in self.framework.risk_factors:
            if factor.number == number:
                return factor
        raise KeyError(f"no risk factor {number}")

    def heading(self, code: str) -> ActionHeadingConfig:
        for heading in self.actions.headings:
            if heading.code == code:
                return heading
        raise KeyError(f"no action heading {code}")

    def indicators_for(self, factor_number: int) -> list[IndicatorConfig]:
        return [i for i in self.indicators.indicators if i.risk_factor == factor_number]


def _location(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + item)
    return "".join(parts) or "(top level)"


def load_file(path: Path, model: type[ModelT]) -> ModelT:
    if not path.is_file():
        raise ConfigError(path, ["file not found"])
    try:
        raw: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(path, [f"not valid YAML: {exc}"]) from exc
    if not isinstance(raw, dict):
        raise ConfigError(path, ["expected a mapping at the top level"])
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems = [f"{_location(e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise ConfigError(path, problems) from exc


def load_sources_config(path: Path) -> SourcesConfig:
    """``config/sources.yaml``, validated; relative file paths resolved against its directory."""
    config = load_file(path, SourcesConfig)
    base = path.parent
    files = {
        label: entry.model_copy(
            update={
                "path": entry.path
                if entry.path is None or entry.path.is_absolute()
                else base / entry.path
            }
        )
        for label, entry in config.files.items()
    }
    return config.model_copy(update={"files": files})


def load_configuration(config_dir: Path) -> Configuration:
    paths = {key: config_dir / name for key, name in CONFIG_FILES.items()}
    config = Configuration(
        framework=load_file(paths["framework"], FrameworkConfig),
        indicators=load_file(paths["indicators"], IndicatorsConfig),
        actions=load_file(paths["actions"], ActionsConfig),
        action_map=load_file(paths["action_map"], ActionMapConfig),
        scoring=load_file(paths["scoring"], ScoringConfig),
        alerting=load_file(paths["alerting"], AlertingConfig),
        sources=load_sources_config(paths["sources"]),
        forecast_drivers=load_file(paths["forecast_drivers"], ForecastDriversConfig),
        assessments=load_file(paths["assessments"], AssessmentsConfig),
    )
    _check_cross_references(config, paths)
    return config


def _check_cross_references(config: Configuration, paths: dict[str, Path]) -> None:
    codes = {h.code for h in config.actions.headings}
    problems: list[str] = []
    for factor, mapped in config.action_map.by_factor.items():
        if not 1 <= factor <= 14:
            problems.append(f"by_factor[{factor}]: no such risk factor")
        problems += [f"by_factor[{factor}]: unknown action {c}" for c in mapped if c not in codes]
    for level, mapped in config.action_map.by_level.items():
        problems += [f"by_level.{level}: unknown action {c}" for c in mapped if c not in codes]
    if problems:
        raise ConfigError(paths["action_map"], problems)
    missing_weights = sorted(set(range(1, 15)) - set(config.scoring.factor_weights))
    if missing_weights:
        raise ConfigError(
            paths["scoring"], [f"factor_weights: no weight for risk factors {missing_weights}"]
        )
    rule_ids = [r.id for r in config.alerting.rules]
    if len(rule_ids) != len(set(rule_ids)):
        raise ConfigError(paths["alerting"], [f"rules: duplicate rule ids in {rule_ids}"])
