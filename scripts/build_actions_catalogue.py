"""Build ``config/actions.yaml`` from the text of the Framework for Action for R2P.

Usage::

    .venv/bin/python scripts/build_actions_catalogue.py SEED [--output config/actions.yaml]

``SEED`` is the plain-text Framework for Action (APCR2P and GCR2P, July 2023), shared as
``seeds/002_3b7373e5e7bfadd5.txt``. The catalogue is committed; this script exists so that anyone
can check that it is the seed's complete table of recommended actions and nothing else.

The seed is a flattened web page. Each action is a line ``Action N.M Title``; each table is a
header line ending in `` |``, normally followed by ``---|``, then one line per row ending in
`` |``. Irregularities handled here, each of which otherwise loses or invents rows:

* the first table under 4.1 has no ``---|`` line, so a pipe line directly after an action
  heading is always a table header;
* 2.3's imminent-risk table is preceded by its own title as a plain line (a caption);
* rows carry footnote reference numbers glued to a word or punctuation (``identity.3``,
  ``crimes12 and``), which are not part of the recommendation and are removed.

Anything else the parser does not recognise stops the build with the line number, rather than
being silently dropped.
"""

from __future__ import annotations

import argparse
import re
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from earlywarn.framework.config_schemas import ActionsConfig
from earlywarn.types import Sphere

SOURCE = (
    "A Framework for Action for the Responsibility to Protect: A Resource for States "
    "(Asia Pacific Centre for the Responsibility to Protect and Global Centre for the "
    "Responsibility to Protect, July 2023)"
)
DEFAULT_OUTPUT = Path(__file__).resolve().parent.parent / "config" / "actions.yaml"

HEADING_RE = re.compile(r"^Action (?P<code>[1-4]\.\d{1,2}) (?P<title>\S.*)$")
PART_RE = re.compile(r"^Part [1-4]\b")
TABLE_SEPARATOR = "---|"
CELL_END = " |"
# A footnote number is glued to the end of a word, or to punctuation that ends a word, and is
# followed by a space or the end of the row. Numbers that belong to the text ("Article 99",
# "Resolution 76/262", "R2P", "377(V)") are preceded by a space, a slash or sit inside a word.
FOOTNOTE_RE = re.compile(r"(?:(?<=[A-Za-z])|(?<=[A-Za-z][.,;:)’”]))\d{1,2}(?=\s|$)")
IMMINENT_RE = re.compile(r"imminent risk|actual (?:occurrence|commission)", re.IGNORECASE)
SPHERE_BY_PART = {
    "1": Sphere.NATIONAL,
    "2": Sphere.BILATERAL,
    "3": Sphere.REGIONAL,
    "4": Sphere.MULTILATERAL,
}


class SeedFormatError(ValueError):
    def __init__(self, line_number: int, problem: str) -> None:
        super().__init__(f"line {line_number}: {problem}")


@dataclass
class _Group:
    title: str
    actions: list[str] = field(default_factory=list)


@dataclass
class _Heading:
    code: str
    title: str
    groups: list[_Group] = field(default_factory=list)


def strip_footnotes(text: str) -> str:
    return FOOTNOTE_RE.sub("", text)


def _cell(line: str) -> str:
    return line[: -len(CELL_END)].strip()


def parse_seed(text: str) -> list[_Heading]:
    lines = text.splitlines()
    headings: list[_Heading] = []
    current: _Heading | None = None
    for index, raw in enumerate(lines):
        line = raw.strip()
        line_number = index + 1
        following = lines[index + 1].strip() if index + 1 < len(lines) else ""
        heading_match = HEADING_RE.match(line)
        if heading_match:
            current = _Heading(heading_match["code"], heading_match["title"].strip())
            headings.append(current)
        elif current is None or not line or PART_RE.match(line) or line == TABLE_SEPARATOR:
            # The preamble, blank lines, part titles and separators carry no recommendation.
            continue
        elif line.endswith(CELL_END):
            is_header = following == TABLE_SEPARATOR or not current.groups
            if is_header:
                current.groups.append(_Group(_cell(line)))
            else:
                current.groups[-1].actions.append(strip_footnotes(_cell(line)))
        elif following.endswith(CELL_END) and _cell(following) == line:
            continue  # a caption repeating the next table's header
        else:
            raise SeedFormatError(line_number, f"unrecognised line inside {current.code}: {line!r}")
    _check_complete(headings)
    return headings


def _check_complete(headings: list[_Heading]) -> None:
    if not headings:
        raise ValueError("no 'Action N.M' headings found: is this the Framework for Action?")
    for heading in headings:
        if not heading.groups:
            raise ValueError(f"action {heading.code} has no table of recommended actions")
        for group in heading.groups:
            if not group.actions:
                raise ValueError(f"action {heading.code}: table {group.title!r} has no rows")


def to_config(headings: list[_Heading], seed_name: str) -> ActionsConfig:
    """The catalogue as the validated config model, so a bad build never reaches the file."""
    return ActionsConfig.model_validate(
        {
            "source": f"{SOURCE}; seed {seed_name}",
            "headings": [
                {
                    "code": h.code,
                    "sphere": SPHERE_BY_PART[h.code.split(".")[0]].value,
                    "title": h.title,
                    "groups": [
                        {
                            "title": g.title,
                            "for_imminent_risk": bool(IMMINENT_RE.search(g.title)),
                            "actions": g.actions,
                        }
                        for g in h.groups
                    ],
                }
                for h in headings
            ],
        }
    )


def render(config: ActionsConfig, seed_name: str) -> str:
    row_count = sum(len(g.actions) for h in config.headings for g in h.groups)
    header = (
        "# The complete catalogue of recommended actions of\n"
        + "".join(f"#   {line}\n" for line in textwrap.wrap(SOURCE, width=90))
        + f"# generated from the seed {seed_name} by scripts/build_actions_catalogue.py;\n"
        "# do not edit by hand: fix the script or the seed and rebuild.\n"
        f"# {len(config.headings)} action headings, {row_count} recommended-action rows.\n"
        "# Row texts keep the document's wording (typos included) without footnote numbers.\n"
        "# for_imminent_risk marks the tables for an imminent risk or actual occurrence of\n"
        "# atrocity crimes; action_map.yaml decides from which level they are recommended.\n"
    )
    body = yaml.safe_dump(
        config.model_dump(mode="json"),
        sort_keys=False,
        allow_unicode=True,
        width=10_000,  # one row per line keeps diffs against a rebuilt seed readable
    )
    return header + body


def build(seed_path: Path, output_path: Path) -> ActionsConfig:
    headings = parse_seed(seed_path.read_text(encoding="utf-8"))
    config = to_config(headings, seed_path.name)
    output_path.write_text(render(config, seed_path.name), encoding="utf-8")
    return config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("seed", type=Path, help="the Framework for Action seed text file")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="actions.yaml path")
    args = parser.parse_args(argv)
    if not args.seed.is_file():
        sys.stderr.write(f"error: seed file not found: {args.seed}\n")
        return 2
    try:
        config = build(args.seed, args.output)
    except ValueError as exc:
        sys.stderr.write(f"error: {args.seed}: {exc}\n")
        return 1
    row_count = sum(len(g.actions) for h in config.headings for g in h.groups)
    sys.stdout.write(f"wrote {args.output}: {len(config.headings)} headings, {row_count} rows\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
