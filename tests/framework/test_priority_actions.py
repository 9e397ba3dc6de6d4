"""rank_priority_actions: the few rows an alert leads with (docs/priority-actions.md)."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest
import yaml

from earlywarn.framework.config import ConfigError, Configuration, load_configuration
from earlywarn.framework.priority import factor_shares, rank_priority_actions
from earlywarn.framework.service import recommend_actions
from earlywarn.types import RiskLevel

REPO_CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"


def _rank(
    config: Configuration,
    scores: dict[int, float],
    level: RiskLevel,
    *,
    factors: list[int] | None = None,
    imminent_reason: str | None = None,
) -> list[dict[str, object]]:
    factors = factors if factors is not None else sorted(scores, key=lambda n: -scores[n])
    actions = recommend_actions(config, factors, level, imminent_reason=imminent_reason)
    return rank_priority_actions(
        config,
        actions,
        factors=factors,
        factor_scores=scores,
        level=level,
        imminent_situation=(
            level >= config.action_map.imminent_rows_from_level or imminent_reason is not None
        ),
    )


def test_shares_of_the_composite_add_up_to_it(configuration: Configuration) -> None:
    scores = {1: 0.9, 5: 0.4, 11: 0.8, 9: 0.1}
    shares = factor_shares(configuration, scores)
    weights = configuration.scoring.factor_weights
    composite = sum(weights[n] * s for n, s in scores.items()) / sum(weights[n] for n in scores)
    assert sum(shares.values()) == pytest.approx(composite)
    assert shares[5] < shares[11], "factor 5 weighs half"


def test_at_emergency_imminent_rows_come_first_and_spheres_are_balanced(
    configuration: Configuration,
) -> None:
    items = _rank(configuration, {11: 0.9, 1: 0.8, 3: 0.6, 9: 0.5}, RiskLevel.EMERGENCY)
    assert len(items) == 7
    imminent = [i["imminent"] for i in items]
    assert imminent[0] is True
    # Every imminent row precedes every other.
    assert imminent == sorted(imminent, reverse=True)
    assert {i["sphere"] for i in items} == {"national", "bilateral", "regional", "multilateral"}
    # 4.3's first table is the Security Council's: its lead row asks for a meeting.
    unsc = next(i for i in items if i["heading_code"] == "4.3")
    assert unsc["code"] == "4.3.1"
    assert "convene a meeting of the UNSC" in str(unsc["text"])


def test_below_emergency_no_imminent_row_and_strong_mappings_rank_higher(
    configuration: Configuration,
) -> None:
    # Intergroup tension (9) alone: its strong headings 1.12 and 1.13 lead the national rows.
    items = _rank(configuration, {9: 0.9, 3: 0.2, 6: 0.2, 2: 0.1}, RiskLevel.WARNING)
    assert not any(i["imminent"] for i in items)
    national = [i["heading_code"] for i in items if i["sphere"] == "national"]
    assert national[:2] in (["1.12", "1.13"], ["1.13", "1.12"])
    first = items[0]
    assert first["why"]["factors"][0]["factor"] == 9  # type: ignore[index]
    assert first["why"]["factors"][0]["mapping"] == "strong"  # type: ignore[index]
    assert first["why"]["factors"][0]["score"] == 0.9  # type: ignore[index]


def test_a_specific_factor_rule_brings_imminent_rows_first_below_emergency(
    configuration: Configuration,
) -> None:
    items = _rank(
        configuration,
        {11: 0.8, 9: 0.9, 3: 0.5, 6: 0.5},
        RiskLevel.CONCERN,
        imminent_reason="rule systematic_attack: risk factor 11 at 0.80",
    )
    assert items[0]["imminent"] is True


def test_scores_are_monotone_and_ranks_dense(configuration: Configuration) -> None:
    items = _rank(configuration, {1: 0.7, 2: 0.6, 7: 0.6, 8: 0.5}, RiskLevel.WARNING)
    assert [i["rank"] for i in items] == list(range(1, len(items) + 1))
    scores = [float(i["score"]) for i in items]  # type: ignore[arg-type]
    assert scores == sorted(scores, reverse=True)
    heading_counts: dict[object, int] = {}
    for item in items:
        heading_counts[item["heading_code"]] = heading_counts.get(item["heading_code"], 0) + 1
    assert max(heading_counts.values()) <= configuration.action_map.priority.rows_per_heading


def test_max_actions_is_honoured(configuration: Configuration) -> None:
    priority = configuration.action_map.priority.model_copy(update={"max_actions": 3})
    action_map = configuration.action_map.model_copy(update={"priority": priority})
    config = dataclasses.replace(configuration, action_map=action_map)
    items = _rank(config, {11: 0.9, 1: 0.8, 3: 0.6}, RiskLevel.EMERGENCY)
    assert len(items) == 3
    assert items[0]["imminent"] is True


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"strong": {9: ["4.3"]}}, "priority.strong[9]: 4.3 is not in by_factor[9]"),
        ({"mapped_weight": 2.0}, "mapped_weight must not exceed strong_mapping_weight"),
        ({"max_actions": 0}, "max_actions"),
        ({"rank_by": "magic"}, "rank_by"),
    ],
)
def test_a_broken_priority_section_fails_at_start_up(
    tmp_path: Path, change: dict[str, object], message: str
) -> None:
    target = tmp_path / "config"
    shutil.copytree(REPO_CONFIG_DIR, target)
    path = target / "action_map.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["priority"].update(change)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_configuration(target)
    assert "action_map.yaml" in str(caught.value)
    assert message in str(caught.value)
