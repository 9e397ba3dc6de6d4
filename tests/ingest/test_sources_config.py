from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from earlywarn.framework.config import ConfigError, load_configuration, load_sources_config
from earlywarn.framework.config_schemas import IndicatorsConfig
from earlywarn.framework.sources_schemas import WorldBankSourceConfig
from earlywarn.ingest.service import ingest_configured_sources
from earlywarn.observations.models import RunStatus
from earlywarn.settings import Settings

REPO_CONFIG = Path(__file__).resolve().parents[2] / "config"


def test_shipped_sources_config() -> None:
    config = load_sources_config(REPO_CONFIG / "sources.yaml")
    assert config.worldbank is not None
    assert config.worldbank.enabled
    assert config.unhcr is not None
    assert config.unhcr.enabled
    assert config.reliefweb is not None
    assert config.reliefweb.content == ("disasters",)
    assert config.worldbank.year_range(2026) == (2018, 2026)
    assert not [entry for entry in config.files.values() if entry.enabled]
    entries = config.api_sources()
    assert {sid for sid, entry in entries.items() if entry.enabled} == {
        "worldbank",
        "ucdp",
        "acled",
        "unhcr",
        "reliefweb",
        "sdg",
        "untc",
    }
    assert all(entry.schedule is not None for entry in entries.values())
    assert config.gdelt is not None
    assert config.gdelt.queries


def test_fixed_years_default_the_end_to_the_current_year() -> None:
    assert WorldBankSourceConfig(start_year=2010).year_range(2026) == (2010, 2026)
    assert WorldBankSourceConfig(start_year=2010, end_year=2015).year_range(2026) == (2010, 2015)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "worldbank:\n  years_back: 8\n  start_year: 2000\n",
            "worldbank: Value error, years_back cannot be combined",
        ),
        (
            "worldbank:\n  enabled: true\n",
            "worldbank: Value error, give either years_back or start_year",
        ),
        ("worldbank:\n  years_bak: 8\n", "worldbank.years_bak: Extra inputs are not permitted"),
        (
            "worldbank:\n  start_year: 2020\n  end_year: 2010\n",
            "end_year (2010) is before start_year (2020)",
        ),
        (
            "files:\n  x:\n    path: a.csv\n    format: xlsx\n",
            "files.x.format: Input should be 'csv', 'ewp', 'vdem', 'pts', 'epr' or 'coups'",
        ),
        ("files:\n  x:\n    format: csv\n", "files.x: Value error, give either path or url"),
        ("acledd: {}\n", "acledd: Extra inputs are not permitted"),
        (
            "ucdp:\n  years_back: 2\n  schedule: '0 4 * *'\n",
            "ucdp.schedule: Value error, schedule must have 5 fields",
        ),
        (
            "ucdp:\n  years_back: 2\n  schedule: '0 25 * * *'\n",
            "ucdp.schedule: Value error, schedule '0 25 * * *' is not a valid crontab",
        ),
        ("acled:\n  years_back: 2\n  max_age_days: 0\n", "acled.max_age_days: Input should be"),
        ("acled:\n  years_back: 2\n  countries: [sdn]\n", "upper-case ISO3 codes"),
        ("gdelt:\n  min_interval_seconds: 1\n", "gdelt.min_interval_seconds"),
        ("ucdp:\n  years_back: 2\n  version: 'latest'\n", "ucdp.version: String should match"),
    ],
)
def test_invalid_sources_config_names_file_and_key(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_sources_config(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert expected in str(caught.value)


def test_relative_file_paths_resolve_against_the_config_directory(tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(
        "files:\n  a:\n    path: data/a.csv\n    format: csv\n"
        "  b:\n    path: /abs/b.csv\n    format: ewp\n    enabled: false\n",
        encoding="utf-8",
    )
    files = load_sources_config(path).files
    assert files["a"].path == tmp_path / "data" / "a.csv"
    assert files["b"].path == Path("/abs/b.csv")
    assert not files["b"].enabled


def test_every_enabled_source_runs_and_failures_do_not_stop_the_rest(
    session_factory: sessionmaker[Session],
    countries: set[str],
    data_dir: Path,
    tmp_path: Path,
) -> None:
    shutil.copy(data_dir / "good.csv", tmp_path / "good.csv")
    (tmp_path / "sources.yaml").write_text(
        "worldbank:\n  enabled: true\n  start_year: 2020\n  end_year: 2022\n"
        "files:\n"
        "  missing:\n    format: csv\n    path: nowhere.csv\n"
        "  good:\n    format: csv\n    path: good.csv\n"
        "  old_ewp:\n    format: ewp\n    path: old.csv\n    enabled: false\n",
        encoding="utf-8",
    )
    settings = Settings(config_dir=tmp_path, worldbank_base_url="https://api.test/v2")
    indicators = IndicatorsConfig.model_validate(
        {
            "indicators": [
                {
                    "id": "stability",
                    "name": "Political stability",
                    "risk_factor": 1,
                    "variable": "wb.PV.EST",
                    "source": "worldbank",
                    "direction": "decreases_risk",
                    "normalisation": {"method": "percentile"},
                    "weight": 1.0,
                    "max_age_days": 1095,
                }
            ]
        }
    )
    transport = httpx.MockTransport(lambda request: httpx.Response(404, text="gone"))
    with httpx.Client(base_url=settings.worldbank_base_url, transport=transport) as client:
        runs = ingest_configured_sources(
            session_factory,
            settings,
            indicators,
            sources=load_sources_config(tmp_path / "sources.yaml"),
            trigger="schedule",
            client=client,
        )

    assert [(run.source_id, run.status, run.trigger) for run in runs] == [
        ("worldbank", RunStatus.FAILED, "schedule"),
        ("csv", RunStatus.FAILED, "schedule"),
        ("csv", RunStatus.SUCCEEDED, "schedule"),
    ]
    assert runs[0].error is not None
    assert "HTTP 404" in runs[0].error
    assert runs[1].error is not None
    assert str(tmp_path / "nowhere.csv") in runs[1].error
    assert "cannot read" in runs[1].error
    assert runs[2].rows_loaded == 5


def test_missing_sources_file_is_a_config_error(tmp_path: Path) -> None:
    # sources.yaml is read with the other configuration files, at start-up.
    config_dir = tmp_path / "config"
    shutil.copytree(REPO_CONFIG, config_dir)
    (config_dir / "sources.yaml").unlink()
    with pytest.raises(ConfigError, match="sources.yaml: file not found"):
        load_configuration(config_dir)
