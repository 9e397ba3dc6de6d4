"""A broken configuration fails to load with a message naming the file and the key at fault."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from earlywarn.framework.config import ConfigError, load_configuration

REPO_CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"

Edit = Callable[[Any], None]


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    target = tmp_path / "config"
    shutil.copytree(REPO_CONFIG_DIR, target)
    return target


def _edit(config_dir: Path, file_name: str, change: Edit) -> None:
    path = config_dir / file_name
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")


def _set_number_to_text(d: Any) -> None:
    d["risk_factors"][0]["number"] = "one"


def _drop_factor_14(d: Any) -> None:
    d["risk_factors"] = [f for f in d["risk_factors"] if f["number"] != 14]


def _specific_factor_without_crime(d: Any) -> None:
    del d["risk_factors"][9]["crime"]


def _unknown_code_in_by_factor(d: Any) -> None:
    d["by_factor"][9].append("1.15")


def _unknown_code_in_by_level(d: Any) -> None:
    d["by_level"]["warning"].append("3.9")


def _malformed_code(d: Any) -> None:
    d["by_factor"][2][0] = "one.eleven"


def _unknown_level(d: Any) -> None:
    d["imminent_rows_from_level"] = "catastrophe"


def _duplicate_indicator(d: Any) -> None:
    d["indicators"].append(dict(d["indicators"][0]))


def _wrong_sphere(d: Any) -> None:
    d["headings"][3]["sphere"] = "global"


def _empty_table(d: Any) -> None:
    d["headings"][0]["groups"][0]["actions"] = []


def _duplicate_heading(d: Any) -> None:
    d["headings"].append(dict(d["headings"][0]))


@pytest.mark.parametrize(
    ("file_name", "change", "expected"),
    [
        ("framework.yaml", _set_number_to_text, ["risk_factors[0].number", "integer"]),
        ("framework.yaml", _drop_factor_14, ["risk_factors", "1..14"]),
        ("framework.yaml", _specific_factor_without_crime, ["risk_factors[9]", "crime"]),
        ("action_map.yaml", _unknown_code_in_by_factor, ["by_factor[9]", "unknown action 1.15"]),
        ("action_map.yaml", _unknown_code_in_by_level, ["by_level.warning", "unknown action 3.9"]),
        ("action_map.yaml", _malformed_code, ["by_factor[2][0]", "pattern"]),
        ("action_map.yaml", _unknown_level, ["imminent_rows_from_level", "emergency"]),
        ("indicators.yaml", _duplicate_indicator, ["indicators", "used twice"]),
        ("actions.yaml", _wrong_sphere, ["headings[3].sphere", "national"]),
        ("actions.yaml", _empty_table, ["headings[0].groups[0].actions", "at least 1"]),
        ("actions.yaml", _duplicate_heading, ["headings", "used twice", "1.1"]),
    ],
)
def test_error_names_file_and_key(
    config_dir: Path, file_name: str, change: Edit, expected: list[str]
) -> None:
    _edit(config_dir, file_name, change)
    with pytest.raises(ConfigError) as caught:
        load_configuration(config_dir)
    message = str(caught.value)
    assert caught.value.path == config_dir / file_name
    assert file_name in message
    for fragment in expected:
        assert fragment in message


def test_invalid_yaml_names_file_and_position(config_dir: Path) -> None:
    path = config_dir / "actions.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "  - [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_configuration(config_dir)
    message = str(caught.value)
    assert "actions.yaml" in message
    assert "not valid YAML" in message
    assert "line" in message


@pytest.mark.parametrize("file_name", ["framework.yaml", "actions.yaml", "action_map.yaml"])
def test_missing_file_is_named(config_dir: Path, file_name: str) -> None:
    (config_dir / file_name).unlink()
    with pytest.raises(ConfigError, match=rf"{file_name}: file not found"):
        load_configuration(config_dir)


def test_a_failed_load_leaves_the_files_untouched(config_dir: Path) -> None:
    before = {p.name: p.read_bytes() for p in config_dir.iterdir()}
    _edit(config_dir, "action_map.yaml", _unknown_code_in_by_factor)
    broken = (config_dir / "action_map.yaml").read_bytes()
    with pytest.raises(ConfigError):
        load_configuration(config_dir)
    after = {p.name: p.read_bytes() for p in config_dir.iterdir()}
    assert after == {**before, "action_map.yaml": broken}


def test_the_repository_configuration_loads() -> None:
    config = load_configuration(REPO_CONFIG_DIR)
    assert [f.number for f in config.framework.risk_factors] == list(range(1, 15))
    assert {f.crime for f in config.framework.risk_factors if f.kind == "specific"} == {
        "genocide",
        "crimes_against_humanity",
        "war_crimes",
    }
    assert [f.crime for f in config.framework.risk_factors[8:]] == [
        "genocide",
        "genocide",
        "crimes_against_humanity",
        "crimes_against_humanity",
        "war_crimes",
        "war_crimes",
    ]
