"""docs/indicators.md lists every configured indicator with its cadence (regenerate it with
``python scripts/indicators_doc.py`` after changing config/indicators.yaml)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from earlywarn.framework.config import Configuration
from earlywarn.ingest.variables import cadence

ROOT = Path(__file__).resolve().parents[2]


def test_the_indicator_document_is_current(configuration: Configuration) -> None:
    script = ROOT / "scripts/indicators_doc.py"
    spec = importlib.util.spec_from_file_location("indicators_doc", script)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    current = (ROOT / "docs/indicators.md").read_text(encoding="utf-8")
    assert module.render(current, configuration.indicators) == current, (
        "docs/indicators.md is out of date: run python scripts/indicators_doc.py"
    )


def test_cadence_of_monthly_and_annual_variables() -> None:
    assert cadence("acled.monthly_battles_events").startswith("monthly")
    assert cadence("acled.battles_events").startswith("annual")
    assert cadence("gdelt.hate_speech_per_million").startswith("monthly")
    assert cadence("sdg.VC_VAW_MTUHRA").startswith("annual")
    assert cadence("local.x").startswith("as often as the file")
