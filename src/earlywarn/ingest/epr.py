"""Ethnic Power Relations (EPR Core, ETH Zurich ICR) group-period file, as country-years.

Each row is one politically relevant ethnic group of one state over a period ``from``-``to``
(inclusive years) with its share of the population (``size``, 0-1) and its access to executive
power (``status``). Periods are expanded to years and summed per state-year into:

- ``epr.discrimpop``: share of the population in groups with status DISCRIMINATED (the EWP
  ``discrimpop``);
- ``epr.exclpop``: share in excluded groups, POWERLESS plus DISCRIMINATED. SELF-EXCLUSION (groups
  that chose to leave the central state, e.g. in separatist regions) is deliberately not counted:
  their exclusion is not the state's doing, and EWP's measures leave it out too;
- ``epr.group_fractionalisation``: 1 - the sum of the squared shares of the listed groups, the
  chance that two people drawn at random belong to different politically relevant groups (the
  population outside them is not counted as a group). EWP's ``efindex`` (from the Historical
  Index of Ethnic Fractionalization, which counts every group) correlates at 0.79 with it.

A state-year in which any group has status STATE COLLAPSE has no meaningful shares: it is skipped
and counted (``details["skipped"]["state_collapse"]``), not written as 0. IRRELEVANT groups and
groups in power add nothing. A state-year with groups but none excluded gives 0, a real value.

Country identity is the Gleditsch-Ward code ``gwid`` only (names vary between releases); codes
earlywarn does not know make the whole file fail, each listed with the file's ``statename``.
Validation is all-or-nothing: an unknown status, a size outside 0-1 or not a number (an empty
size is an error too: every relevant group has one), a period ending before it starts, one group
in two overlapping periods, or shares adding up to more than 1 give a ``FileFormatError`` naming
the line.
"""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path
from typing import NamedTuple, Protocol

from earlywarn.ingest.csv_long import data_rows, parse_float, read_csv_header
from earlywarn.ingest.errors import FileFormatError
from earlywarn.ingest.schemas import LoadedPayload, ObservationRecord

REQUIRED_COLUMNS = ("gwid", "statename", "from", "to", "gwgroupid", "size", "status")
STATUSES = frozenset(
    {
        "MONOPOLY",
        "DOMINANT",
        "SENIOR PARTNER",
        "JUNIOR PARTNER",
        "POWERLESS",
        "DISCRIMINATED",
        "SELF-EXCLUSION",
        "IRRELEVANT",
        "STATE COLLAPSE",
    }
)
DISCRIMINATED = frozenset({"DISCRIMINATED"})
EXCLUDED = frozenset({"POWERLESS", "DISCRIMINATED"})
COLLAPSE = "STATE COLLAPSE"
DISCRIMINATED_VARIABLE = "epr.discrimpop"
EXCLUDED_VARIABLE = "epr.exclpop"
FRACTIONALISATION_VARIABLE = "epr.group_fractionalisation"
VARIABLES = (DISCRIMINATED_VARIABLE, EXCLUDED_VARIABLE, FRACTIONALISATION_VARIABLE)
MIN_YEAR, MAX_YEAR = 1900, 2200
# Sizes are rounded to three decimals in the file; allow for that when checking the sum.
SHARE_TOLERANCE = 0.01


class GwResolver(Protocol):
    def from_gw(self, code: int | str) -> str | None: ...


class _GroupPeriod(NamedTuple):
    """One data row: a group of a state over the years ``first``-``last``."""

    gwid: int
    state_name: str
    first: int
    last: int
    group: str
    status: str
    size: float


class _StateYear:
    __slots__ = (
        "collapse",
        "discriminated",
        "excluded",
        "first_line",
        "groups",
        "squares",
        "total",
    )

    def __init__(self, line: int) -> None:
        self.discriminated = 0.0
        self.excluded = 0.0
        self.total = 0.0
        self.squares = 0.0
        self.collapse = False
        self.groups: dict[str, int] = {}
        self.first_line = line

    def add(self, row: _GroupPeriod, line: int, year: int, label: str) -> None:
        earlier = self.groups.get(row.group)
        if earlier is not None:
            raise FileFormatError(
                f"{label}: lines {earlier} and {line} both give group {row.group} of GW "
                f"{row.gwid} for {year} (overlapping periods)"
            )
        self.groups[row.group] = line
        if row.status == COLLAPSE:
            self.collapse = True
            return
        self.total += row.size
        self.squares += row.size * row.size
        if row.status in DISCRIMINATED:
            self.discriminated += row.size
        if row.status in EXCLUDED:
            self.excluded += row.size


class _Groups:
    """The file's groups summed per state-year, as read row by row."""

    def __init__(self, start_year: int | None) -> None:
        self.start_year = start_year
        self.state_years: dict[tuple[int, int], _StateYear] = {}
        self.state_names: dict[int, str] = {}
        self.file_rows = 0
        self.before_window = 0

    def add(self, row: _GroupPeriod, line: int, label: str) -> None:
        self.file_rows += 1
        self.state_names.setdefault(row.gwid, row.state_name)
        for year in range(row.first, row.last + 1):
            if self.start_year is not None and year < self.start_year:
                self.before_window += 1
                continue
            entry = self.state_years.get((row.gwid, year))
            if entry is None:
                entry = self.state_years[(row.gwid, year)] = _StateYear(line)
            entry.add(row, line, year, label)


def parse_epr(
    content: bytes, *, name: str, resolver: GwResolver, start_year: int | None = None
) -> LoadedPayload:
    """Parse an EPR Core CSV held in memory; ``name`` is used in messages and as URI. Years
    before ``start_year`` are left out (counted in ``details``)."""
    label = f"EPR file {name}"
    reader, columns = read_csv_header(content, label)
    at = _column_positions(columns, label)
    groups = _Groups(start_year)
    try:
        for line, row in data_rows(reader, len(columns), label):
            groups.add(_group_period(row, at, f"{label}: line {line}"), line, label)
    except csv.Error as exc:
        raise FileFormatError(f"{label}: line {reader.line_num}: unreadable CSV ({exc})") from exc
    if groups.file_rows == 0:
        raise FileFormatError(f"{label}: no data rows after the header")
    iso3_by_gw = _iso3_by_gw(groups.state_names, resolver, label)
    records, collapsed = _records(groups, iso3_by_gw, label)
    skipped: dict[str, int] = {}
    if collapsed:
        skipped["state_collapse"] = collapsed * len(VARIABLES)
    return LoadedPayload(
        records=records,
        content_digest=hashlib.sha256(content).hexdigest(),
        source_uri=name,
        rows_read=len(groups.state_years) * len(VARIABLES),
        rows_skipped=collapsed * len(VARIABLES),
        details={
            "format": "epr",
            "file_rows": groups.file_rows,
            "state_years": len(groups.state_years),
            "countries": len(set(iso3_by_gw.values())),
            "skipped": skipped,
            "group_years_before_start_year": groups.before_window,
        },
    )


def _column_positions(columns: list[str], label: str) -> dict[str, int]:
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise FileFormatError(
            f"{label}: missing required column(s) {', '.join(repr(c) for c in missing)} "
            f"(EPR Core has {', '.join(REQUIRED_COLUMNS)}, ...)"
        )
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    if repeated:
        raise FileFormatError(f"{label}: column(s) {repeated} appear more than once")
    return {column: columns.index(column) for column in columns}


def _group_period(row: list[str], at: dict[str, int], where: str) -> _GroupPeriod:
    gwid = _int(row[at["gwid"]], where=f"{where}: column 'gwid'")
    first = _year(row[at["from"]], where=f"{where}: column 'from'")
    last = _year(row[at["to"]], where=f"{where}: column 'to'")
    if last < first:
        raise FileFormatError(f"{where}: period {first}-{last} ends before it starts")
    group = row[at["gwgroupid"]].strip()
    if not group:
        raise FileFormatError(f"{where}: column 'gwgroupid' is empty")
    status = row[at["status"]].strip().upper()
    if status not in STATUSES:
        raise FileFormatError(
            f"{where}: column 'status': {row[at['status']]!r} is not an EPR status "
            f"({', '.join(sorted(STATUSES))})"
        )
    size_text = row[at["size"]].strip()
    if not size_text:
        raise FileFormatError(f"{where}: column 'size' is empty")
    size = parse_float(size_text, where=f"{where}: column 'size'")
    if not 0.0 <= size <= 1.0:
        raise FileFormatError(
            f"{where}: column 'size': {size_text!r} is not a population share (0-1)"
        )
    return _GroupPeriod(gwid, row[at["statename"]].strip(), first, last, group, status, size)


def _iso3_by_gw(state_names: dict[int, str], resolver: GwResolver, label: str) -> dict[int, str]:
    iso3_by_gw: dict[int, str] = {}
    unknown: list[str] = []
    for gwid, state_name in sorted(state_names.items()):
        iso3 = resolver.from_gw(gwid)
        if iso3 is None:
            unknown.append(f"{gwid} ({state_name!r})")
        else:
            iso3_by_gw[gwid] = iso3
    if unknown:
        raise FileFormatError(
            f"{label}: {len(unknown)} Gleditsch-Ward code(s) with no ISO3 mapping: "
            f"{', '.join(unknown)}. Add them to earlywarn/countries if they are states; codes "
            "are never guessed"
        )
    return iso3_by_gw


def _records(
    groups: _Groups, iso3_by_gw: dict[int, str], label: str
) -> tuple[list[ObservationRecord], int]:
    """The values of every state-year, and how many state-years collapsed (no values)."""
    names = groups.state_names
    records: list[ObservationRecord] = []
    owner: dict[tuple[str, int], int] = {}
    collapsed = 0
    for (gwid, year), entry in sorted(groups.state_years.items()):
        iso3 = iso3_by_gw[gwid]
        other = owner.get((iso3, year))
        if other is not None:
            raise FileFormatError(
                f"{label}: GW {other} ({names[other]!r}) and GW {gwid} "
                f"({names[gwid]!r}) both cover {iso3} in {year}"
            )
        owner[(iso3, year)] = gwid
        if entry.total > 1.0 + SHARE_TOLERANCE:
            raise FileFormatError(
                f"{label}: line {entry.first_line}: the groups of GW {gwid} "
                f"({names[gwid]!r}) add up to {entry.total:.3f} of the population in "
                f"{year}, more than 1"
            )
        if entry.collapse:
            collapsed += 1
            continue
        records.append(
            ObservationRecord.for_year(
                iso3, DISCRIMINATED_VARIABLE, year, round(entry.discriminated, 6)
            )
        )
        records.append(
            ObservationRecord.for_year(iso3, EXCLUDED_VARIABLE, year, round(entry.excluded, 6))
        )
        records.append(
            ObservationRecord.for_year(
                iso3, FRACTIONALISATION_VARIABLE, year, round(1.0 - entry.squares, 6)
            )
        )
    return records, collapsed


def load_epr(path: Path, *, resolver: GwResolver, start_year: int | None = None) -> LoadedPayload:
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise FileFormatError(f"EPR file {path}: cannot read ({exc.strerror})") from exc
    return parse_epr(content, name=str(path), resolver=resolver, start_year=start_year)


def _int(text: str, *, where: str) -> int:
    cleaned = text.strip()
    if not cleaned.isdigit():
        raise FileFormatError(f"{where}: {text!r} is not a whole number")
    return int(cleaned)


def _year(text: str, *, where: str) -> int:
    year = _int(text, where=where)
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise FileFormatError(f"{where}: year {year} is outside {MIN_YEAR}-{MAX_YEAR}")
    return year
