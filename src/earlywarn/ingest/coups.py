"""Powell & Thyne's Global Instances of Coups (``powell_thyne_coups_final.txt``), as country-years.

The file is tab-separated, one row per coup attempt since 1950: ``country``, ``ccode``
(Correlates-of-War), ``year``, ``month``, ``day``, ``coup`` (1 failed, 2 successful) and
``version`` (the release, e.g. ``V2024.05.03``); releases since 2022 add ``ccode_gw`` and
``ccode_polity``, which are not needed. It lists attempts only, so a country-year without a row
had none: every current state of the crosswalk gets a value for every year from 1950 to the
file's last year (the release year when ``version`` names one, else the last attempt's year).

- ``coups.attempts``: attempts (failed or successful) in the country-year;
- ``coups.attempt_5yr``: 1 when there was an attempt in the year or any of the four before,
  else 0 - EWP's rule for its ``coup.try.5yr`` (an attempt in the year or one of its four lags).

A country is its COW code (``ccode``); a code the crosswalk does not know fails the file, listed
with the file's country name. Any row whose year, month or coup is not a number, or whose coup is
not 1 or 2, is an error naming the line.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from earlywarn.ingest.errors import FileFormatError
from earlywarn.ingest.schemas import LoadedPayload, ObservationRecord

FIRST_YEAR = 1950
WINDOW_YEARS = 5
ATTEMPTS_VARIABLE = "coups.attempts"
FIVE_YEAR_VARIABLE = "coups.attempt_5yr"
VARIABLES = (ATTEMPTS_VARIABLE, FIVE_YEAR_VARIABLE)
REQUIRED_COLUMNS = ("country", "ccode", "year", "coup")
_VERSION_YEAR = re.compile(r"(\d{4})")


class CowResolver(Protocol):
    @property
    def records(self) -> Mapping[str, Any]: ...

    def from_cow(self, code: int | str) -> str | None: ...


def _number(text: str, where: str, column: str) -> int:
    try:
        return int(float(text.strip()))
    except ValueError:
        raise FileFormatError(f"{where}: column {column!r}: {text!r} is not a number") from None


def _attempts(
    rows: list[dict[str, str]], label: str, resolver: CowResolver
) -> tuple[Counter[tuple[str, int]], int]:
    """(iso3, year) -> attempts, and the last year the rows name."""
    attempts: Counter[tuple[str, int]] = Counter()
    unknown: dict[str, str] = {}
    last_year = FIRST_YEAR
    for line, row in enumerate(rows, start=2):
        where = f"{label}: line {line}"
        year = _number(row["year"], where, "year")
        outcome = _number(row["coup"], where, "coup")
        if outcome not in (1, 2):
            raise FileFormatError(f"{where}: column 'coup': {outcome} is not 1 or 2")
        version = _VERSION_YEAR.search(row.get("version") or "")
        last_year = max(last_year, year, int(version.group(1)) if version else year)
        iso3 = resolver.from_cow(row["ccode"].strip())
        if iso3 is None:
            unknown[row["ccode"].strip()] = row["country"].strip()
            continue
        attempts[(iso3, year)] += 1
    if unknown:
        listed = ", ".join(f"{code} ({name})" for code, name in sorted(unknown.items()))
        raise FileFormatError(f"{label}: COW codes the crosswalk does not know: {listed}")
    return attempts, last_year


def parse_coups(content: bytes, *, name: str, resolver: CowResolver) -> LoadedPayload:
    """Parse the coup list held in memory; ``name`` is used in messages and as URI."""
    label = f"coups file {name}"
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FileFormatError(f"{label}: not UTF-8 text ({exc})") from None
    reader = csv.DictReader(io.StringIO(text), delimiter="\t")
    columns = [c.strip() for c in reader.fieldnames or []]
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise FileFormatError(
            f"{label}: missing column(s) {', '.join(missing)} (a tab-separated Powell & Thyne "
            f"file has {', '.join(REQUIRED_COLUMNS)}, month, day, version)"
        )
    rows = [{k.strip(): (v or "") for k, v in row.items() if k is not None} for row in reader]
    if not rows:
        raise FileFormatError(f"{label}: no coup rows after the header")
    attempts, last_year = _attempts(rows, label, resolver)
    states = {
        iso3
        for iso3, record in resolver.records.items()
        if getattr(record, "cow_code", None) is not None
        and not getattr(record, "is_historical", False)
    } | {iso3 for iso3, _ in attempts}
    records: list[ObservationRecord] = []
    for iso3 in sorted(states):
        for year in range(FIRST_YEAR, last_year + 1):
            count = attempts.get((iso3, year), 0)
            recent = any(attempts.get((iso3, year - lag), 0) for lag in range(WINDOW_YEARS))
            records.append(ObservationRecord.for_year(iso3, ATTEMPTS_VARIABLE, year, float(count)))
            records.append(
                ObservationRecord.for_year(iso3, FIVE_YEAR_VARIABLE, year, float(recent))
            )
    return LoadedPayload(
        records=records,
        content_digest=hashlib.sha256(content).hexdigest(),
        source_uri=name,
        rows_read=len(rows),
        rows_skipped=0,
        details={
            "format": "coups",
            "attempts": sum(attempts.values()),
            "years": [FIRST_YEAR, last_year],
            "countries": len(states),
        },
    )


def load_coups(path: Path, *, resolver: CowResolver) -> LoadedPayload:
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise FileFormatError(f"coups file {path}: cannot be read ({exc})") from exc
    return parse_coups(content, name=str(path), resolver=resolver)
