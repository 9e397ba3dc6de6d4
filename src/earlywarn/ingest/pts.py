"""The Political Terror Scale country-year file (``PTS-2024.csv``, politicalterrorscale.org).

Columns used: ``Country``, ``Year``, ``COW_Code_N``, ``WordBank_Code_A``, the scores ``PTS_A``
(Amnesty International), ``PTS_H`` (Human Rights Watch) and ``PTS_S`` (US State Department),
and, when present, the reasons ``NA_Status_A/H/S``. Each score becomes ``pts.PTS_A`` etc.; the
highest of the scores a country-year has becomes ``pts.PTS_max``, the usual summary (a report
of terror from any one of the three sources counts).

Country identity, never guessed: the Correlates-of-War number decides when the row has one (it
is the state-system code EWP and COW-keyed data share, so Serbia's series runs through
Yugoslavia under 345); otherwise the World Bank alpha code; otherwise the name, through the
explicit aliases of ``earlywarn.countries`` (PTS's territory rows have no codes: "Israel in
Occupied Territories" is PSE there, "Western Sahara" has ESH). A World Bank code naming a
different *current* state than the COW number is an error; one naming a former state (YUG,
SUN, CSK, ...) under its successor's COW number is the same series. Rows that resolve to
nothing make the whole file fail, with every unmapped name listed.

Missing values: the literal ``NA`` (and an empty cell) is a score PTS did not give; it is
skipped and counted per score and per ``NA_Status`` reason (66 not a territory the source
covered, 88 no report that year, ...; see the PTS codebook). Any other value must be a whole
number from 1 to 5.
"""

from __future__ import annotations

import csv
import hashlib
from collections import Counter, defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from earlywarn.ingest.csv_long import data_rows, read_csv_header
from earlywarn.ingest.errors import FileFormatError
from earlywarn.ingest.schemas import LoadedPayload, ObservationRecord

SCORE_COLUMNS = ("PTS_A", "PTS_H", "PTS_S")
STATUS_COLUMNS = {"PTS_A": "NA_Status_A", "PTS_H": "NA_Status_H", "PTS_S": "NA_Status_S"}
IDENTITY_COLUMNS = ("Country", "Year", "COW_Code_N", "WordBank_Code_A")
VARIABLE_PREFIX = "pts."
MAX_VARIABLE = "pts.PTS_max"
MISSING_MARKERS = frozenset({"", "NA"})
MIN_SCORE, MAX_SCORE = 1, 5
MIN_YEAR, MAX_YEAR = 1900, 2200


class PtsCountryResolver(Protocol):
    """The part of ``earlywarn.countries.service.CountryResolver`` this importer needs."""

    @property
    def records(self) -> Mapping[str, Any]: ...

    def from_cow(self, code: int | str) -> str | None: ...

    def from_iso3(self, code: str) -> str | None: ...

    def from_name(self, name: str) -> str | None: ...


def parse_pts(content: bytes, *, name: str, resolver: PtsCountryResolver) -> LoadedPayload:
    """Parse a PTS country-year CSV held in memory; ``name`` is used in messages and as URI."""
    label = f"PTS file {name}"
    reader, columns = read_csv_header(content, label)
    missing = [c for c in (*IDENTITY_COLUMNS, *SCORE_COLUMNS) if c not in columns]
    if missing:
        raise FileFormatError(
            f"{label}: missing required column(s) {', '.join(repr(c) for c in missing)} "
            f"(a PTS file has {', '.join(IDENTITY_COLUMNS + SCORE_COLUMNS)})"
        )
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    if repeated:
        raise FileFormatError(f"{label}: column(s) {repeated} appear more than once")
    at = {column: columns.index(column) for column in columns}

    records: list[ObservationRecord] = []
    first_line: dict[tuple[str, int], int] = {}
    unmapped: dict[str, list[int]] = defaultdict(list)
    missing_by_reason: dict[str, Counter[str]] = defaultdict(Counter)
    file_rows = 0
    max_missing = 0
    try:
        for line, row in data_rows(reader, len(columns), label):
            file_rows += 1
            where = f"{label}: line {line}"
            country = row[at["Country"]].strip()
            year = _year(row[at["Year"]], where=f"{where}: column 'Year'")
            iso3 = _resolve(
                resolver,
                country,
                row[at["COW_Code_N"]].strip(),
                row[at["WordBank_Code_A"]].strip(),
                where=where,
            )
            if iso3 is None:
                unmapped[country].append(line)
                continue
            earlier = first_line.get((iso3, year))
            if earlier is not None:
                raise FileFormatError(
                    f"{label}: lines {earlier} and {line} are both {iso3} {year} "
                    f"(line {line}: {country!r})"
                )
            first_line[(iso3, year)] = line
            scores: list[float] = []
            for column in SCORE_COLUMNS:
                cell = row[at[column]].strip()
                if cell in MISSING_MARKERS:
                    status_column = STATUS_COLUMNS[column]
                    reason = row[at[status_column]].strip() if status_column in at else ""
                    missing_by_reason[column][reason or "not given"] += 1
                    continue
                score = _score(cell, where=f"{where}: column {column!r}")
                scores.append(score)
                records.append(
                    ObservationRecord.for_year(iso3, VARIABLE_PREFIX + column, year, score)
                )
            if scores:
                records.append(ObservationRecord.for_year(iso3, MAX_VARIABLE, year, max(scores)))
            else:
                max_missing += 1
    except csv.Error as exc:
        raise FileFormatError(f"{label}: line {reader.line_num}: unreadable CSV ({exc})") from exc

    if unmapped:
        listed = "; ".join(
            f"{country!r} (line{'s' if len(lines) > 1 else ''} {_lines(lines)})"
            for country, lines in sorted(unmapped.items())
        )
        raise FileFormatError(
            f"{label}: {len(unmapped)} country name(s) with no ISO3 mapping and no usable code: "
            f"{listed}. Add them to earlywarn/countries if they are states; names are never "
            "guessed"
        )
    if file_rows == 0:
        raise FileFormatError(f"{label}: no data rows after the header")
    skipped = sum(sum(counter.values()) for counter in missing_by_reason.values()) + max_missing
    return LoadedPayload(
        records=records,
        content_digest=hashlib.sha256(content).hexdigest(),
        source_uri=name,
        rows_read=file_rows * (len(SCORE_COLUMNS) + 1),
        rows_skipped=skipped,
        details={
            "format": "pts",
            "file_rows": file_rows,
            "countries": len({iso3 for iso3, _ in first_line}),
            "skipped": {"missing_value": skipped} if skipped else {},
            "missing_by_na_status": {
                column: dict(sorted(counter.items()))
                for column, counter in sorted(missing_by_reason.items())
            },
        },
    )


def load_pts(path: Path, *, resolver: PtsCountryResolver) -> LoadedPayload:
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise FileFormatError(f"PTS file {path}: cannot read ({exc.strerror})") from exc
    return parse_pts(content, name=str(path), resolver=resolver)


def _resolve(
    resolver: PtsCountryResolver, country: str, cow_text: str, wb_text: str, *, where: str
) -> str | None:
    by_cow: str | None = None
    if cow_text not in MISSING_MARKERS:
        by_cow = resolver.from_cow(cow_text)
        if by_cow is None:
            raise FileFormatError(
                f"{where}: country {country!r}: COW_Code_N {cow_text!r} is not a "
                "Correlates-of-War code earlywarn knows"
            )
    by_wb: str | None = None
    if wb_text not in MISSING_MARKERS:
        by_wb = resolver.from_iso3(wb_text)
        if by_wb is None and by_cow is None:
            raise FileFormatError(
                f"{where}: country {country!r}: WordBank_Code_A {wb_text!r} is not a known "
                "ISO3 code and the row has no COW code"
            )
    if by_cow is not None:
        if by_wb is not None and by_wb != by_cow and not _is_former(resolver, by_wb):
            raise FileFormatError(
                f"{where}: country {country!r}: COW_Code_N {cow_text} means {by_cow} but "
                f"WordBank_Code_A {wb_text!r} means {by_wb}"
            )
        return by_cow
    if by_wb is not None:
        return by_wb
    return resolver.from_name(country)


def _is_former(resolver: PtsCountryResolver, iso3: str) -> bool:
    record = resolver.records.get(iso3)
    return bool(getattr(record, "is_historical", False))


def _year(text: str, *, where: str) -> int:
    cleaned = text.strip()
    if not cleaned.isdigit():
        raise FileFormatError(f"{where}: {text!r} is not a year")
    year = int(cleaned)
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise FileFormatError(f"{where}: year {year} is outside {MIN_YEAR}-{MAX_YEAR}")
    return year


def _score(text: str, *, where: str) -> float:
    try:
        number = float(text)
    except ValueError:
        raise FileFormatError(f"{where}: {text!r} is not a score (1-5 or NA)") from None
    if not number.is_integer() or not MIN_SCORE <= number <= MAX_SCORE:
        raise FileFormatError(f"{where}: {text!r} is not a score (1-5 or NA)")
    return number


def _lines(lines: list[int]) -> str:
    shown = ", ".join(str(n) for n in lines[:5])
    return shown + (f" and {len(lines) - 5} more" if len(lines) > 5 else "")
