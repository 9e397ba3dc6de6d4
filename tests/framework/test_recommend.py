"""recommend_actions: which Framework for Action headings and rows an alert carries."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from earlywarn.framework.config import Configuration
from earlywarn.framework.service import code_sort_key, recommend_actions
from earlywarn.types import RiskLevel

SPHERES = ["national", "bilateral", "regional", "multilateral"]
IMMINENT_HEADINGS = {"2.3", "3.2", "4.3"}


def _codes(result: dict[str, list[dict[str, Any]]]) -> list[str]:
    return [h["code"] for sphere in SPHERES for h in result[sphere]]


def _rows(result: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [row for sphere in SPHERES for h in result[sphere] for row in h["actions"]]


@pytest.mark.parametrize("level", list(RiskLevel))
def test_all_four_spheres_in_order(configuration: Configuration, level: RiskLevel) -> None:
    result = recommend_actions(configuration, [], level)
    assert list(result) == SPHERES


@pytest.mark.parametrize("level", [RiskLevel.LOW, RiskLevel.CONCERN, RiskLevel.WARNING])
def test_no_imminent_rows_below_emergency(configuration: Configuration, level: RiskLevel) -> None:
    result = recommend_actions(configuration, list(range(1, 15)), level)
    rows = _rows(result)
    assert rows
    assert not [r for r in rows if r["for_imminent_risk"]]
    # 3.2 and 4.3 consist only of imminent-risk tables, so they disappear entirely.
    assert {"3.2", "4.3"}.isdisjoint(_codes(result))


def test_imminent_rows_at_emergency(configuration: Configuration) -> None:
    result = recommend_actions(configuration, [1, 2, 9, 11], RiskLevel.EMERGENCY)
    imminent_codes = {
        h["code"]
        for sphere in SPHERES
        for h in result[sphere]
        if any(r["for_imminent_risk"] for r in h["actions"])
    }
    assert imminent_codes == IMMINENT_HEADINGS
    heading_2_3 = next(h for h in result["bilateral"] if h["code"] == "2.3")
    assert len(heading_2_3["actions"]) == 9  # 4 standing rows + 5 for imminent risk
    assert [r["for_imminent_risk"] for r in heading_2_3["actions"]] == [False] * 4 + [True] * 5


def test_every_sphere_has_headings_at_emergency(configuration: Configuration) -> None:
    result = recommend_actions(configuration, [1, 2, 9, 11], RiskLevel.EMERGENCY)
    for sphere in SPHERES:
        assert result[sphere], sphere
        assert all(h["sphere"] == sphere for h in result[sphere])


def test_factor_9_gives_equality_local_tension_and_hate_speech(
    configuration: Configuration,
) -> None:
    result = recommend_actions(configuration, [9], RiskLevel.LOW)
    national = [h["code"] for h in result["national"]]
    assert {"1.1", "1.12", "1.13"} <= set(national)
    heading = next(h for h in result["national"] if h["code"] == "1.13")
    assert heading["addresses_factors"] == [9]
    assert heading["recommended_because"] == (
        "risk factor 9: Intergroup tensions or patterns of discrimination against protected groups"
    )
    assert heading["title"] == "Combat hate speech and incitement to violence"
    assert len(heading["actions"]) == 9
    assert heading["actions"][0]["group"] == "Recommended actions"


def test_factor_2_gives_justice_and_accountability(configuration: Configuration) -> None:
    codes = set(_codes(recommend_actions(configuration, [2], RiskLevel.WARNING)))
    assert {"1.11", "1.14", "2.3", "4.2", "4.5"} <= codes


def test_level_headings_accumulate_up_the_ladder(configuration: Configuration) -> None:
    by_level = {level: _codes(recommend_actions(configuration, [], level)) for level in RiskLevel}
    assert by_level[RiskLevel.LOW] == []
    assert by_level[RiskLevel.CONCERN] == ["1.10", "2.1"]
    assert by_level[RiskLevel.WARNING] == ["1.10", "2.1", "2.2", "3.1", "4.1"]
    assert by_level[RiskLevel.EMERGENCY] == [
        "1.10",
        "2.1",
        "2.2",
        "2.3",
        "3.1",
        "3.2",
        "4.1",
        "4.3",
    ]
    heading = recommend_actions(configuration, [], RiskLevel.WARNING)["regional"][0]
    assert heading["recommended_because"] == "level warning"
    assert heading["addresses_factors"] == []


def test_factor_and_level_reasons_are_merged_without_duplicates(
    configuration: Configuration,
) -> None:
    result = recommend_actions(configuration, [2, 5, 2], RiskLevel.EMERGENCY)
    codes = _codes(result)
    assert len(codes) == len(set(codes))
    assert codes == sorted(codes, key=code_sort_key)
    heading_2_3 = next(h for h in result["bilateral"] if h["code"] == "2.3")
    assert heading_2_3["addresses_factors"] == [2, 5]
    reasons = heading_2_3["recommended_because"].split("; ")
    assert reasons[0].startswith("risk factor 2: Record of serious violations")
    assert reasons[1].startswith("risk factor 5: Capacity")
    assert reasons[2] == "level emergency"


def test_headings_in_numeric_code_order(configuration: Configuration) -> None:
    result = recommend_actions(configuration, list(range(1, 15)), RiskLevel.EMERGENCY)
    national = [h["code"] for h in result["national"]]
    assert national == sorted(national, key=code_sort_key)
    assert national.index("1.9") < national.index("1.10")


def test_result_is_json_serialisable(configuration: Configuration) -> None:
    result = recommend_actions(configuration, [9, 11], RiskLevel.EMERGENCY)
    assert json.loads(json.dumps(result)) == result


def test_every_factor_maps_to_at_least_one_heading(configuration: Configuration) -> None:
    for number in range(1, 15):
        assert _codes(recommend_actions(configuration, [number], RiskLevel.EMERGENCY)), number


def test_unknown_factor_is_rejected(configuration: Configuration) -> None:
    with pytest.raises(ValueError, match=r"unknown risk factor numbers \[0, 15\]"):
        recommend_actions(configuration, [15, 9, 0], RiskLevel.WARNING)


def test_imminent_rows_follow_the_configured_level(configuration: Configuration) -> None:
    earlier = dataclasses.replace(
        configuration,
        action_map=configuration.action_map.model_copy(
            update={"imminent_rows_from_level": RiskLevel.WARNING}
        ),
    )
    at_warning = recommend_actions(earlier, [10], RiskLevel.WARNING)
    assert "4.3" in _codes(at_warning)
    assert any(r["for_imminent_risk"] for r in _rows(at_warning))
    assert not any(
        r["for_imminent_risk"] for r in _rows(recommend_actions(earlier, [10], RiskLevel.CONCERN))
    )
