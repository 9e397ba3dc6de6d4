"""config/assessments.yaml: validated at load with the file and key named, and its blend
weights seeding the configuration's weight set (only where above 0, so a configuration without
any keeps its weight set and digest)."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest
import yaml

from earlywarn.framework.assessment_schema import AssessmentsConfig
from earlywarn.framework.config import ConfigError, Configuration, load_configuration
from earlywarn.framework.service import config_weights

REPO_CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"evidence_factors": [10, 15]}, "unknown risk factor numbers [15]"),
        ({"blend_weights": {0: 1.0}}, "unknown risk factor numbers [0]"),
        ({"blend_weights": {3: -1.0}}, "blend_weights[3]"),
        ({"confidence_weights": {"low": 1.0, "high": 2.0}}, "exactly low, medium and high"),
        ({"ordinal_scale": {"severe": 1.5}}, "ordinal_scale.severe"),
        ({"nonsense": 1}, "nonsense"),
    ],
)
def test_a_broken_assessments_file_names_the_file_and_key(
    tmp_path: Path, change: dict[object, object], message: str
) -> None:
    target = tmp_path / "config"
    shutil.copytree(REPO_CONFIG_DIR, target)
    path = target / "assessments.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data.update(change)
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_configuration(target)
    assert caught.value.path == path
    assert message in str(caught.value)


def test_blend_weights_seed_the_configurations_weight_set(configuration: Configuration) -> None:
    plain, factors = config_weights(configuration)
    assert not [k for k in plain if k.startswith("assessment.")]
    blended = dataclasses.replace(
        configuration, assessments=AssessmentsConfig(blend_weights={12: 1.5, 3: 0.0})
    )
    weights, same_factors = config_weights(blended)
    assert weights == {**plain, "assessment.12": 1.5}
    assert same_factors == factors
