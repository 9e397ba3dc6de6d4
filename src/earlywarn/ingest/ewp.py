"""The Early Warning Project country-year file (USHMM / Dartmouth Statistical Risk Assessment).

Identity columns are ``ewp_name``, ``ccode`` (Correlates-of-War style) and ``year``; every other
column becomes the variable ``ewp.<column>`` unchanged, outcomes included (forecasting trains on
them). ``NA`` and empty cells are missing values: skipped and counted. The country comes from the
COW code and must agree with the country the name resolves to; the importer never guesses.
"""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path
from typing import Protocol

from earlywarn.ingest.csv_long import data_rows, parse_float, read_csv_header
from earlywarn.ingest.errors import FileFormatError
from earlywarn.ingest.schemas import VARIABLE_PATTERN, LoadedPayload, ObservationRecord

IDENTITY_COLUMNS = ("ewp_name", "ccode", "year")
VARIABLE_PREFIX = "ewp."
MISSING_MARKERS = frozenset({"", "NA"})


class CountryCodeResolver(Protocol):
    """The part of ``earlywarn.countries.service.CountryResolver`` this importer needs."""

    def from_cow(self, code: int) -> str | None: ...

    def from_name(self, name: str) -> str | None: ...


def parse_ewp(content: bytes, *, name: str, resolver: CountryCodeResolver) -> LoadedPayload:
    """Parse an EWP country-year CSV held in memory; ``name`` is used in messages and as URI."""
    label = f"EWP file {name}"
    reader, columns = read_csv_header(content, label)
    missing = [c for c in IDENTITY_COLUMNS if c not in columns]
    if missing:
        names = ", ".join(f"'{c}'" for c in missing)
        raise FileFormatError(
            f"{label}: missing required column(s) {names} (an EWP file needs ewp_name, ccode "
            "and year)"
        )
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    if repeated:
        raise FileFormatError(f"{label}: column(s) {repeated} appear more than once")
    name_at, code_at, year_at = (columns.index(c) for c in IDENTITY_COLUMNS)
    value_columns = [(i, c) for i, c in enumerate(columns) if c not in IDENTITY_COLUMNS]
    if not value_columns:
        raise FileFormatError(f"{label}: no value columns besides ewp_name, ccode and year")
    for _, column in value_columns:
        if not VARIABLE_PATTERN.match(VARIABLE_PREFIX + column):
            raise FileFormatError(
                f"{label}: column {column!r} cannot be a variable name (letters, digits, '_' "
                "and '.' only)"
            )

    resolved: dict[tuple[int, str], str] = {}
    first_line: dict[tuple[str, int], int] = {}
    records: list[ObservationRecord] = []
    file_rows = 0
    missing_values = 0
    try:
        for line, row in data_rows(reader, len(columns), label):
            file_rows += 1
            country_name = row[name_at].strip()
            ccode = _parse_int(row[code_at], where=f"{label}: line {line}: column 'ccode'")
            year = _parse_int(row[year_at], where=f"{label}: line {line}: column 'year'")
            iso3 = resolved.get((ccode, country_name))
            if iso3 is None:
                iso3 = _resolve(resolver, ccode, country_name, where=f"{label}: line {line}")
                resolved[(ccode, country_name)] = iso3
            earlier = first_line.get((iso3, year))
            if earlier is not None:
                raise FileFormatError(
                    f"{label}: lines {earlier} and {line} are both {iso3} {year} "
                    f"({country_name!r}, ccode {ccode})"
                )
            first_line[(iso3, year)] = line
            for position, column in value_columns:
                cell = row[position].strip()
                if cell in MISSING_MARKERS:
                    missing_values += 1
                    continue
                value = parse_float(cell, where=f"{label}: line {line}: column {column!r}")
                records.append(
                    ObservationRecord.for_year(iso3, VARIABLE_PREFIX + column, year, value)
                )
    except csv.Error as exc:
        raise FileFormatError(f"{label}: line {reader.line_num}: unreadable CSV ({exc})") from exc

    # Counted in values, not file rows, so that read = loaded + unchanged + skipped holds.
    return LoadedPayload(
        records=records,
        content_digest=hashlib.sha256(content).hexdigest(),
        source_uri=name,
        rows_read=file_rows * len(value_columns),
        rows_skipped=missing_values,
        details={
            "format": "ewp",
            "skipped": {"missing_value": missing_values} if missing_values else {},
            "file_rows": file_rows,
            "countries": len(set(resolved.values())),
            "variables": len(value_columns),
        },
    )


def load_ewp(path: Path, *, resolver: CountryCodeResolver) -> LoadedPayload:
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise FileFormatError(f"EWP file {path}: cannot read ({exc.strerror})") from exc
    return parse_ewp(content, name=str(path), resolver=resolver)


def _parse_int(text: str, *, where: str) -> int:
    cleaned = text.strip()
    try:
        return int(cleaned)
    except ValueError:
        pass
    # R writes some integer columns as "2.0"; accept those, but never a real fraction.
    try:
        number = float(cleaned)
    except ValueError:
        raise FileFormatError(f"{where}: {text!r} is not an integer") from None
    if not number.is_integer():
        raise FileFormatError(f"{where}: {text!r} is not an integer")
    return int(number)


def _resolve(resolver: CountryCodeResolver, ccode: int, country_name: str, *, where: str) -> str:
    by_code = resolver.from_cow(ccode)
    by_name = resolver.from_name(country_name)
    if by_code is None:
        raise FileFormatError(
            f"{where}: country {country_name!r} with ccode {ccode}: no country has that "
            "Correlates-of-War code"
        )
    if by_name is None:
        raise FileFormatError(
            f"{where}: country {country_name!r} with ccode {ccode}: the name is not known, so "
            f"the code's country ({by_code}) cannot be confirmed"
        )
    if by_name != by_code:
        raise FileFormatError(
            f"{where}: country {country_name!r} with ccode {ccode}: the code means {by_code} "
            f"but the name means {by_name}"
        )
    return by_code
