"""Which sources a run takes: one rule for ``earlywarn ingest`` and the scheduler."""

from __future__ import annotations

from pathlib import Path

import pytest

from earlywarn.framework.config import load_sources_config
from earlywarn.framework.sources_schemas import SourcesConfig
from earlywarn.ingest.selection import select_sources
from earlywarn.settings import Settings

SOURCES = (
    'worldbank:\n  years_back: 2\n  schedule: "0 4 * * 1"\n'
    "ucdp:\n  years_back: 2\n"
    'acled:\n  years_back: 2\n  schedule: "0 5 * * 2"\n'
    'gdelt:\n  enabled: false\n  schedule: "0 6 * * *"\n'
    "unhcr:\n  years_back: 2\n"
    "files:\n"
    '  ewp:\n    format: ewp\n    path: ewp.csv\n    schedule: "0 3 1 * *"\n'
    "  long:\n    format: csv\n    path: long.csv\n"
    "  old:\n    format: vdem\n    path: vdem.csv\n    enabled: false\n"
)


@pytest.fixture
def sources(tmp_path: Path) -> SourcesConfig:
    path = tmp_path / "sources.yaml"
    path.write_text(SOURCES, encoding="utf-8")
    return load_sources_config(path)


@pytest.fixture
def settings() -> Settings:
    # UCDP has its token; ACLED has no account: it is not configured.
    return Settings(
        _env_file=None,
        ucdp_token="t",
        acled_username=None,
        acled_password=None,
        reliefweb_appname="earlywarn-test",
    )


def test_all_takes_every_enabled_source_and_reports_missing_credentials(
    sources: SourcesConfig, settings: Settings
) -> None:
    selected = select_sources(sources, settings)
    assert list(selected.api) == ["worldbank", "ucdp", "unhcr"]
    assert selected.file_formats == ["csv", "ewp"]
    assert selected.source_ids == ["worldbank", "ucdp", "unhcr", "csv", "ewp"]
    assert set(selected.not_configured) == {"acled"}
    assert selected.not_configured["acled"]
    assert selected.schedules == {}


def test_a_named_source_runs_even_when_disabled(sources: SourcesConfig, settings: Settings) -> None:
    assert list(select_sources(sources, settings, only="gdelt").api) == ["gdelt"]
    # Named, but absent from sources.yaml: taken with its defaults.
    assert select_sources(sources, settings, only="reliefweb").api == {"reliefweb": None}
    only_vdem = select_sources(sources, settings, only="vdem")
    assert (only_vdem.api, only_vdem.file_formats) == ({}, ["vdem"])
    assert select_sources(sources, settings, only="acled").source_ids == []
    assert set(select_sources(sources, settings, only="acled").not_configured) == {"acled"}


def test_scheduler_jobs_take_the_own_schedules_and_the_pipeline_the_rest(
    sources: SourcesConfig, settings: Settings
) -> None:
    jobs = select_sources(sources, settings, own_schedule=True)
    # gdelt is disabled; acled is not configured (and reported).
    assert jobs.schedules == {"worldbank": "0 4 * * 1", "ewp": "0 3 1 * *"}
    assert jobs.source_ids == ["worldbank", "ewp"]
    assert set(jobs.not_configured) == {"acled"}

    rest = select_sources(sources, settings, own_schedule=False)
    assert rest.source_ids == ["ucdp", "unhcr", "csv"]
    assert rest.not_configured == {}
