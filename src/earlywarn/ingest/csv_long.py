"""The generic long-format CSV importer (``docs/long-format-csv.md``).

One row per value: ``iso3,variable,year,value[,source]``. Validation is all-or-nothing: the first
problem raises ``FileFormatError`` naming the line, the column and the value, and nothing of the
file is loaded. Empty value cells are the one tolerated gap: they are skipped and counted.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from earlywarn.ingest.errors import FileFormatError
from earlywarn.ingest.schemas import VARIABLE_PATTERN, LoadedPayload, ObservationRecord

if TYPE_CHECKING:
    from _csv import Reader  # the type csv.reader returns (line_num included)

REQUIRED_COLUMNS = ("iso3", "variable", "year", "value")
OPTIONAL_COLUMNS = ("source",)
MIN_YEAR = 1800
MAX_YEAR = 2200


def decode_utf8(content: bytes, name: str) -> str:
    try:
        # utf-8-sig drops the byte-order mark spreadsheet programs put in front of the header.
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FileFormatError(
            f"{name}: not UTF-8 text (invalid byte 0x{content[exc.start]:02x} at byte offset "
            f"{exc.start}); save the file as UTF-8"
        ) from exc


def read_csv_header(content: bytes, label: str) -> tuple[Reader, list[str]]:
    """A strict CSV reader over UTF-8 ``content`` and its stripped header cells; a missing,
    blank or unreadable header is a ``FileFormatError`` prefixed with ``label``."""
    reader = csv.reader(io.StringIO(decode_utf8(content, label), newline=""), strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise FileFormatError(f"{label}: line 1: unreadable CSV header ({exc})") from exc
    if header is None or not any(cell.strip() for cell in header):
        raise FileFormatError(f"{label}: empty file; the first line must be the header")
    return reader, [cell.strip() for cell in header]


def data_rows(reader: Reader, width: int, label: str) -> Iterator[tuple[int, list[str]]]:
    """The non-blank rows after the header, each with its line number. Blank lines (often a
    trailing one) carry nothing; a row whose field count differs from the header's is a
    ``FileFormatError`` naming the line, because its cells cannot be placed in columns."""
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != width:
            raise FileFormatError(
                f"{label}: line {reader.line_num}: {len(row)} fields, the header has {width}"
            )
        yield reader.line_num, row


def parse_float(text: str, *, where: str) -> float:
    """A finite number, or ``FileFormatError`` naming ``where`` (file, line and column)."""
    try:
        number = float(text)
    except ValueError:
        raise FileFormatError(f"{where}: {text!r} is not a number") from None
    if not math.isfinite(number):
        raise FileFormatError(f"{where}: {text!r} is not a finite number")
    return number


def parse_long_csv(content: bytes, *, name: str, known_iso3s: Collection[str]) -> LoadedPayload:
    """Parse a long-format CSV held in memory; ``name`` is used in messages and as source URI."""
    label = f"long-format CSV {name}"
    reader, header = read_csv_header(content, label)
    columns = [cell.lower() for cell in header]
    _check_header(columns, label)
    index = {column: position for position, column in enumerate(columns)}
    known = frozenset(known_iso3s)

    records: list[ObservationRecord] = []
    first_line: dict[tuple[str, str, int], tuple[int, float]] = {}
    rows_read = 0
    empty_values = 0
    identical_duplicates = 0
    try:
        for line, row in data_rows(reader, len(columns), label):
            rows_read += 1
            iso3 = row[index["iso3"]].strip().upper()
            variable = row[index["variable"]].strip()
            year_text = row[index["year"]].strip()
            value_text = row[index["value"]].strip()

            if not iso3:
                raise FileFormatError(f"{label}: line {line}: column 'iso3' is empty")
            if iso3 not in known:
                raise FileFormatError(
                    f"{label}: line {line}: unknown country code {iso3!r} in column 'iso3' "
                    "(not in the countries table; use ISO 3166-1 alpha-3)"
                )
            if not VARIABLE_PATTERN.match(variable):
                raise FileFormatError(
                    f"{label}: line {line}: column 'variable': {variable!r} is not a variable "
                    "name of the form namespace.name (e.g. acled.fatalities)"
                )
            year = _parse_year(year_text, where=f"{label}: line {line}: column 'year'")
            if not value_text:
                empty_values += 1
                continue
            value = parse_float(value_text, where=f"{label}: line {line}: column 'value'")

            key = (iso3, variable, year)
            earlier = first_line.get(key)
            if earlier is not None:
                earlier_line, earlier_value = earlier
                if earlier_value != value:
                    raise FileFormatError(
                        f"{label}: lines {earlier_line} and {line} give different values for "
                        f"{iso3} {variable} {year} ({earlier_value!r} and {value!r})"
                    )
                identical_duplicates += 1
                continue
            first_line[key] = (line, value)
            records.append(ObservationRecord.for_year(iso3, variable, year, value))
    except csv.Error as exc:
        raise FileFormatError(f"{label}: line {reader.line_num}: unreadable CSV ({exc})") from exc

    skipped: dict[str, int] = {}
    if empty_values:
        skipped["empty_value"] = empty_values
    if identical_duplicates:
        skipped["identical_duplicate"] = identical_duplicates
    return LoadedPayload(
        records=records,
        content_digest=hashlib.sha256(content).hexdigest(),
        source_uri=name,
        rows_read=rows_read,
        rows_skipped=empty_values + identical_duplicates,
        details={"format": "csv", "skipped": skipped},
    )


def load_long_csv(path: Path, *, known_iso3s: Collection[str]) -> LoadedPayload:
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise FileFormatError(f"long-format CSV {path}: cannot read ({exc.strerror})") from exc
    return parse_long_csv(content, name=str(path), known_iso3s=known_iso3s)


def _check_header(columns: list[str], label: str) -> None:
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    expected = "expected iso3, variable, year, value[, source]"
    if missing:
        names = ", ".join(f"'{c}'" for c in missing)
        raise FileFormatError(f"{label}: missing column(s) {names} ({expected})")
    unexpected = [c for c in columns if c not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]
    if unexpected:
        names = ", ".join(f"'{c}'" for c in unexpected)
        raise FileFormatError(f"{label}: unexpected column(s) {names} ({expected})")
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    if repeated:
        names = ", ".join(f"'{c}'" for c in repeated)
        raise FileFormatError(f"{label}: column(s) {names} appear more than once")


def _parse_year(text: str, *, where: str) -> int:
    if not text:
        raise FileFormatError(f"{where}: empty; give a four-digit year")
    try:
        year = int(text)
    except ValueError:
        raise FileFormatError(f"{where}: {text!r} is not an integer year") from None
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise FileFormatError(f"{where}: year {year} is outside {MIN_YEAR}-{MAX_YEAR}")
    return year
