"""The catalogue build script on a small hand-written excerpt with the seed's irregularities."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from earlywarn.framework.config import load_file
from earlywarn.framework.config_schemas import ActionsConfig
from earlywarn.types import Sphere

REPO_DIR = Path(__file__).resolve().parents[2]
DATA_DIR = Path(__file__).resolve().parent / "data"


def _load_script() -> ModuleType:
    path = REPO_DIR / "scripts" / "build_actions_catalogue.py"
    spec = importlib.util.spec_from_file_location("build_actions_catalogue", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


script = _load_script()


@pytest.fixture
def built(tmp_path: Path) -> ActionsConfig:
    output = tmp_path / "actions.yaml"
    assert script.main([str(DATA_DIR / "mini_seed.txt"), "--output", str(output)]) == 0
    return load_file(output, ActionsConfig)


def test_headings_spheres_and_titles(built: ActionsConfig) -> None:
    assert [(h.code, h.sphere, h.title) for h in built.headings] == [
        ("1.1", Sphere.NATIONAL, "Promote equality"),
        ("2.3", Sphere.BILATERAL, "Utilize relations to avert or halt atrocity crimes"),
        ("4.1", Sphere.MULTILATERAL, "Support UN bodies"),
    ]
    assert built.source.endswith("seed mini_seed.txt")


def test_footnote_numbers_removed_and_other_numbers_kept(built: ActionsConfig) -> None:
    rows = [a for h in built.headings for g in h.groups for a in g.actions]
    assert rows[0] == "Reform laws that discriminate on the grounds of identity."
    assert rows[1] == "Ratify the relevant instruments and comply with reporting obligations."
    assert "Resolution 76/262 (2022) and Article 99." in rows[5]
    assert rows[-1] == "Encourage monthly horizon scanning meetings."


def test_row_without_trailing_full_stop_is_kept_verbatim(built: ActionsConfig) -> None:
    assert built.headings[0].groups[0].actions[2] == (
        "Allow all populations to freely engage in cultural practices"
    )


def test_caption_line_is_not_a_row_and_imminent_table_is_flagged(built: ActionsConfig) -> None:
    groups = built.headings[1].groups
    assert [(g.for_imminent_risk, len(g.actions)) for g in groups] == [(False, 1), (True, 1)]
    assert groups[1].title.startswith("Additional actions to consider in the event of")
    assert "•" in groups[1].actions[0]


def test_header_without_separator_line_starts_a_table(built: ActionsConfig) -> None:
    groups = built.headings[2].groups
    assert [g.title for g in groups] == [
        "Recommended actions",
        "Recommended actions for members of the UNSC",
    ]
    assert [len(g.actions) for g in groups] == [1, 1]


def test_output_names_its_source_in_a_header_comment(tmp_path: Path) -> None:
    output = tmp_path / "actions.yaml"
    script.main([str(DATA_DIR / "mini_seed.txt"), "--output", str(output)])
    text = output.read_text(encoding="utf-8")
    assert text.startswith("# The complete catalogue of recommended actions of")
    assert "mini_seed.txt by scripts/build_actions_catalogue.py" in text
    assert yaml.safe_load(text)["headings"][0]["code"] == "1.1"


def test_unrecognised_line_stops_the_build_with_its_line_number(tmp_path: Path) -> None:
    seed = tmp_path / "seed.txt"
    seed.write_text(
        "Action 1.1 Title\nRecommended actions |\n---|\nA row. |\nA stray line\n", encoding="utf-8"
    )
    with pytest.raises(ValueError, match=r"line 5: unrecognised line inside 1\.1"):
        script.parse_seed(seed.read_text(encoding="utf-8"))


def test_heading_without_a_table_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"action 1\.2 has no table"):
        script.parse_seed("Action 1.1 A\nRecommended actions |\n---|\nRow. |\nAction 1.2 B\n")


def test_missing_seed_file_fails_without_writing(tmp_path: Path) -> None:
    output = tmp_path / "actions.yaml"
    assert script.main([str(tmp_path / "absent.txt"), "--output", str(output)]) == 2
    assert not output.exists()
