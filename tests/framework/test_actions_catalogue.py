"""config/actions.yaml is the seed's complete catalogue: checked against the seed itself (with a
parser written independently of the build script) and against the literal totals."""

from __future__ import annotations

import importlib.util
import re
import sys
from collections import Counter
from pathlib import Path

import pytest

from earlywarn.framework.config import Configuration, load_file
from earlywarn.framework.config_schemas import ActionsConfig
from earlywarn.types import Sphere

REPO_DIR = Path(__file__).resolve().parents[2]
ACTIONS_YAML = REPO_DIR / "config" / "actions.yaml"
SEED_NAME = "002_3b7373e5e7bfadd5.txt"

# Table headers of the Framework for Action all begin with one of these phrases; no row does.
HEADER_RE = re.compile(
    r"^(Recommended actions|Additional actions to consider"
    r"|Actions to consider|Actions for members)",
    re.IGNORECASE,
)
# Digits glued to the end of a word or its punctuation: footnote references in the seed.
GLUED_NUMBER_RE = re.compile(r"(?<=[^\s\d/(])\d+(?=\s|$)")


def _normalise(text: str) -> str:
    return GLUED_NUMBER_RE.sub("", text).strip()


def _parse_seed(text: str) -> dict[str, tuple[str, list[tuple[str, list[str]]]]]:
    """{code: (title, [(table header, [rows])])}, split on the headings, headers by wording."""
    parts = re.split(r"^Action ([1-4]\.\d+) ", text, flags=re.MULTILINE)
    parsed: dict[str, tuple[str, list[tuple[str, list[str]]]]] = {}
    for code, body in zip(parts[1::2], parts[2::2], strict=True):
        title, *lines = body.splitlines()
        tables: list[tuple[str, list[str]]] = []
        for line in lines:
            stripped = line.strip()
            if not stripped.endswith("|") or set(stripped) <= {"-", "|"}:
                continue
            cell = stripped.removesuffix("|").strip()
            if HEADER_RE.match(cell):
                tables.append((cell, []))
            else:
                tables[-1][1].append(cell)
        parsed[code] = (title.strip(), tables)
    return parsed


@pytest.fixture(scope="module")
def catalogue() -> ActionsConfig:
    return load_file(ACTIONS_YAML, ActionsConfig)


@pytest.mark.shared
def test_catalogue_matches_the_seed(shared_dir: Path, catalogue: ActionsConfig) -> None:
    seed = _parse_seed((shared_dir / "seeds" / SEED_NAME).read_text(encoding="utf-8"))
    assert [h.code for h in catalogue.headings] == list(seed)
    for heading in catalogue.headings:
        seed_title, seed_tables = seed[heading.code]
        assert heading.title == seed_title
        assert [g.title for g in heading.groups] == [t for t, _ in seed_tables], heading.code
        assert [len(g.actions) for g in heading.groups] == [len(r) for _, r in seed_tables]
        for group, (_, seed_rows) in zip(heading.groups, seed_tables, strict=True):
            assert [_normalise(a) for a in group.actions] == [_normalise(r) for r in seed_rows]


@pytest.mark.shared
def test_rebuilding_from_the_seed_reproduces_the_committed_file(
    shared_dir: Path, tmp_path: Path
) -> None:
    path = REPO_DIR / "scripts" / "build_actions_catalogue.py"
    spec = importlib.util.spec_from_file_location("build_actions_catalogue_rebuild", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    output = tmp_path / "actions.yaml"
    assert module.main([str(shared_dir / "seeds" / SEED_NAME), "--output", str(output)]) == 0
    assert output.read_text(encoding="utf-8") == ACTIONS_YAML.read_text(encoding="utf-8")


def test_catalogue_totals(catalogue: ActionsConfig) -> None:
    assert len(catalogue.headings) == 25
    assert [h.code for h in catalogue.headings] == (
        [f"1.{n}" for n in range(1, 15)]
        + [f"2.{n}" for n in range(1, 4)]
        + [f"3.{n}" for n in range(1, 4)]
        + [f"4.{n}" for n in range(1, 6)]
    )
    rows_per_sphere: Counter[Sphere] = Counter()
    for heading in catalogue.headings:
        rows_per_sphere[heading.sphere] += sum(len(g.actions) for g in heading.groups)
    assert rows_per_sphere == {
        Sphere.NATIONAL: 95,
        Sphere.BILATERAL: 19,
        Sphere.REGIONAL: 24,
        Sphere.MULTILATERAL: 50,
    }
    assert sum(len(h.groups) for h in catalogue.headings) == 31


def test_imminent_tables_are_exactly_those_of_2_3_3_2_and_4_3(catalogue: ActionsConfig) -> None:
    imminent = {
        (h.code, g.title[:40]): len(g.actions)
        for h in catalogue.headings
        for g in h.groups
        if g.for_imminent_risk
    }
    assert imminent == {
        ("2.3", "Additional actions to consider in the ev"): 5,
        ("3.2", "Actions to consider in relation to an im"): 10,
        ("4.3", "Actions for members of the UNSC to consi"): 10,
        ("4.3", "Actions for members of the UNGA to consi"): 6,
        ("4.3", "Actions for members of the HRC to consid"): 5,
    }


def test_4_1_has_its_four_tables(catalogue: ActionsConfig, configuration: Configuration) -> None:
    groups = configuration.heading("4.1").groups
    assert [(g.title, len(g.actions)) for g in groups] == [
        ("Recommended actions", 8),
        ("Recommended actions for members of the Peacebuilding Commission", 4),
        ("Recommended actions for members of the UNSC", 3),
        ("Recommended actions for members of the HRC", 2),
    ]


def test_rows_carry_no_footnote_numbers_or_table_syntax(catalogue: ActionsConfig) -> None:
    for heading in catalogue.headings:
        for group in heading.groups:
            for text in group.actions:
                assert not GLUED_NUMBER_RE.search(text), (heading.code, text)
                assert not text.endswith("|")
                assert text == text.strip()
    first = catalogue.headings[0].groups[0].actions[0]
    assert first.endswith("on the grounds of identity.")


def test_wording_is_the_seeds_including_its_typos(configuration: Configuration) -> None:
    rows_1_11 = configuration.heading("1.11").groups[0].actions
    assert any("pay particular atatention" in row for row in rows_1_11)
    rows_1_1 = configuration.heading("1.1").groups[0].actions
    assert any("programs t o promote employment" in row for row in rows_1_1)


def test_header_comment_names_the_source(catalogue: ActionsConfig) -> None:
    text = ACTIONS_YAML.read_text(encoding="utf-8")
    assert text.startswith("# The complete catalogue of recommended actions of")
    assert SEED_NAME in text.split("source:")[0]
    assert "Framework for Action for the Responsibility to Protect" in catalogue.source
