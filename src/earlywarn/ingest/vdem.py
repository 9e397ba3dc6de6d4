"""V-Dem country-year data (``V-Dem-CY-Full+Others-v15.csv`` or an extract with the same columns).

Only the variables the indicators need are read (``DEFAULT_VARIABLES``, or the ``variables`` of
the source's entry in ``config/sources.yaml``), never all ~4,600 columns; each becomes
``vdem.<column>`` unchanged (the interval estimates: most are "higher = freer", see
``config/indicators.yaml`` for each direction). The file is read as a stream, so the 400 MB
release never sits in memory, and the digest covers every byte.

Country identity, never guessed:

1. ``SKIPPED_UNITS``: V-Dem units that are not states of the crosswalk (the West Bank and Gaza
   units, Somaliland, Zanzibar) are skipped and counted per unit in ``details``.
2. ``country_text_id`` when it is an ISO3 code of the crosswalk (V-Dem mostly uses ISO3).
   The row's ``COWcode`` (raw release) or ``gwcode`` (V-Dem's own forecasting extracts) must
   name the same state, or a former state the V-Dem unit continues (Czechoslovakia under
   Czechia, North Yemen under Yemen); any other disagreement is an error.
3. Otherwise the ``COWcode``, then the ``gwcode`` (e.g. the Republic of Vietnam, COW 817).
4. Otherwise the unit is unmapped: the file fails, listing every unmapped unit by id and name.

``OPTIONAL_VARIABLES`` (the Digital Society survey's hate speech and disinformation) are read
whenever the file has them, whatever ``variables`` lists; a file without them still loads and
names them under ``details["optional_variables_absent"]``.

Missing values: an empty cell or ``NA`` is skipped and counted per variable. Anything else must
be a finite number. Years before ``start_year`` (default 1960, where the EWP data start and
after V-Dem's nineteenth-century sub-state units end) are not read.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import IO, Any, Protocol

from earlywarn.ingest.csv_long import data_rows, parse_float
from earlywarn.ingest.errors import FileFormatError
from earlywarn.ingest.schemas import VARIABLE_PATTERN, LoadedPayload, ObservationRecord

VARIABLE_PREFIX = "vdem."
DEFAULT_START_YEAR = 1960
MISSING_MARKERS = frozenset({"", "NA"})
ID_COLUMN = "country_text_id"
YEAR_COLUMN = "year"
NAME_COLUMN = "country_name"
COW_COLUMN = "COWcode"
GW_COLUMN = "gwcode"

# The risk-factor proxies of the framework reference (section 5) that V-Dem carries, all present
# in the full release and in V-Dem's own country-year extracts.
DEFAULT_VARIABLES: tuple[str, ...] = (
    "v2x_clphy",  # RF2 physical violence index (0-1, higher = more respect)
    "v2clkill",  # RF2 freedom from political killings
    "v2cltort",  # RF2 freedom from torture
    "v2x_rule",  # RF3 rule of law index
    "v2x_jucon",  # RF3 judicial constraints on the executive
    "v2juhcind",  # RF3 high court independence
    "v2x_corr",  # RF3 political corruption (higher = MORE corrupt)
    "v2svstterr",  # RF3 share of territory under state authority
    "v2pepwrsoc",  # RF4 power distributed by social group
    "v2pepwrses",  # RF4 power distributed by socio-economic position
    "v2csreprss",  # RF6 CSO repression (higher = less repression)
    "v2mecenefm",  # RF6/7 government censorship effort (higher = less censorship)
    "v2xcl_disc",  # RF6 freedom of discussion
    "v2clsocgrp",  # RF9 social-group equality in civil liberties
    "v2clrelig",  # RF9 freedom of religion
    "v2x_civlib",  # civil liberties index
)

# Read when the file has them, left out (and listed in the run's details) when it does not: the
# Digital Society survey (V-Dem v10 on) is in the full release but not in older releases or in
# V-Dem's own forecasting extracts (the recorded demspaces extract lacks it).
OPTIONAL_VARIABLES: tuple[str, ...] = (
    "v2smpolhate",  # RF7 political parties' hate speech (higher = less hate speech)
    "v2smgovdom",  # RF7 government dissemination of false information domestically (higher = less)
    # The ordinal items exist only in the full release (not in V-Dem's extracts).
    "v2clrelig_ord",  # RF9 freedom of religion, 0-4 (EWP's religiousfreedom)
    # EWP's binary codings read these (the rule is in each indicator's one_of).
    "v2clkill_ord",  # RF2 political killings, 0 = systematic and approved by leaders
    "v2jureform_ord",  # RF3 judicial reform, 0 reduced / 1 none / 2 enhanced
    "v2pepwrsoc_ord",  # RF4 power by social group, 0-1 minority rule, 0-2 uneven
    "v2csreprss_ord",  # RF6 CSO repression, 0 = severely repressed
    "v2psparban_ord",  # RF7 party bans, 2-3 = some parties banned
    "v2mecenefm_ord",  # RF7 media censorship effort, 0-2 = direct censorship
    "v2clsocgrp_ord",  # RF9 social-group equality in civil liberties, 0 = much less for some
    "v2clrgunev_ord",  # RF9 regional unevenness of civil liberties, 2 = even
)

# V-Dem units earlywarn deliberately does not map to a state; the reason is reported.
SKIPPED_UNITS: dict[str, str] = {
    "PSE": "Palestine/West Bank: one part of Palestine, not the state",
    "PSG": "Palestine/Gaza: one part of Palestine, not the state",
    "SML": "Somaliland: not a recognised state (part of Somalia)",
    "ZZB": "Zanzibar: part of Tanzania",
}


class VdemCountryResolver(Protocol):
    """The part of ``earlywarn.countries.service.CountryResolver`` this importer needs."""

    @property
    def records(self) -> Mapping[str, Any]: ...

    def from_iso3(self, code: str) -> str | None: ...

    def from_cow(self, code: int | str) -> str | None: ...

    def from_gw(self, code: int | str) -> str | None: ...


class _HashingReader(io.RawIOBase):
    """Passes a binary stream through while feeding every byte into a SHA-256."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self.digest = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        chunk = self._raw.read(len(buffer))
        size = len(chunk)
        buffer[:size] = chunk
        self.digest.update(chunk)
        return size


def parse_vdem(
    content: bytes,
    *,
    name: str,
    resolver: VdemCountryResolver,
    variables: Sequence[str] = DEFAULT_VARIABLES,
    start_year: int = DEFAULT_START_YEAR,
) -> LoadedPayload:
    """Parse a V-Dem country-year CSV held in memory (see ``parse_vdem_stream``)."""
    return parse_vdem_stream(
        io.BytesIO(content),
        name=name,
        resolver=resolver,
        variables=variables,
        start_year=start_year,
    )


def parse_vdem_stream(
    stream: IO[bytes],
    *,
    name: str,
    resolver: VdemCountryResolver,
    variables: Sequence[str] = DEFAULT_VARIABLES,
    start_year: int = DEFAULT_START_YEAR,
) -> LoadedPayload:
    """Parse a V-Dem country-year CSV read from ``stream``; ``name`` is used in messages and as
    the source URI."""
    label = f"V-Dem file {name}"
    if not variables:
        raise FileFormatError(f"{label}: no variables asked for")
    for variable in variables:
        if not VARIABLE_PATTERN.match(VARIABLE_PREFIX + variable):
            raise FileFormatError(f"{label}: {variable!r} cannot be a variable name")
    hashing = _HashingReader(stream)
    text = io.TextIOWrapper(io.BufferedReader(hashing), encoding="utf-8-sig", newline="")
    reader = csv.reader(text, strict=True)
    try:
        return _parse(reader, text, hashing, label, name, resolver, variables, start_year)
    except UnicodeDecodeError as exc:
        raise FileFormatError(
            f"{label}: not UTF-8 text near line {reader.line_num + 1} ({exc.reason})"
        ) from exc
    except csv.Error as exc:
        raise FileFormatError(f"{label}: line {reader.line_num}: unreadable CSV ({exc})") from exc


def _parse(
    reader: Any,
    text: io.TextIOWrapper,
    hashing: _HashingReader,
    label: str,
    name: str,
    resolver: VdemCountryResolver,
    variables: Sequence[str],
    start_year: int,
) -> LoadedPayload:
    columns = _header(reader, label, variables)
    absent = [v for v in OPTIONAL_VARIABLES if v not in columns and v not in variables]
    variables = [
        *variables,
        *(v for v in OPTIONAL_VARIABLES if v in columns and v not in variables),
    ]
    country_years = _CountryYears(columns, label, resolver, variables, start_year)
    for line, row in data_rows(reader, len(columns), label):
        country_years.add(line, row)
    # Whatever the CSV reader left unread still belongs to the digest.
    while text.read(1 << 16):
        pass
    payload = country_years.payload(hashing.digest.hexdigest(), name)
    return replace(payload, details={**payload.details, "optional_variables_absent": absent})


def _header(reader: Any, label: str, variables: Sequence[str]) -> list[str]:
    header = next(reader, None)
    if header is None or not any(cell.strip() for cell in header):
        raise FileFormatError(f"{label}: empty file; the first line must be the header")
    columns = [cell.strip() for cell in header]
    if len(set(columns)) != len(columns):
        repeated = sorted({c for c in columns if columns.count(c) > 1})
        raise FileFormatError(f"{label}: column(s) {repeated} appear more than once")
    missing = [c for c in (ID_COLUMN, YEAR_COLUMN, *variables) if c not in columns]
    if missing:
        raise FileFormatError(
            f"{label}: missing column(s) {', '.join(repr(c) for c in missing)} (renamed in "
            "this V-Dem version? set the variables of the vdem source in sources.yaml)"
        )
    return columns


class _CountryYears:
    """The file's country-years read row by row, with what was skipped and why."""

    def __init__(
        self,
        columns: list[str],
        label: str,
        resolver: VdemCountryResolver,
        variables: Sequence[str],
        start_year: int,
    ) -> None:
        position = {column: index for index, column in enumerate(columns)}
        self.id_at, self.year_at = position[ID_COLUMN], position[YEAR_COLUMN]
        self.name_at = position.get(NAME_COLUMN)
        self.cow_at = position.get(COW_COLUMN)
        self.gw_at = position.get(GW_COLUMN)
        self.value_at = [(position[v], VARIABLE_PREFIX + v) for v in variables]
        self.label = label
        self.resolver = resolver
        self.variables = list(variables)
        self.start_year = start_year
        self.records: list[ObservationRecord] = []
        self.resolved: dict[tuple[str, str, str], str | None] = {}
        self.first_line: dict[tuple[str, int], int] = {}
        self.unmapped: dict[str, str] = {}
        self.skipped_units: Counter[str] = Counter()
        self.missing_values: Counter[str] = Counter()
        self.file_rows = 0
        self.before_start = 0
        self.country_years = 0

    def add(self, line: int, row: list[str]) -> None:
        self.file_rows += 1
        where = f"{self.label}: line {line}"
        year = _int(row[self.year_at], where=f"{where}: column 'year'")
        if year < self.start_year:
            self.before_start += 1
            return
        unit = row[self.id_at].strip()
        if unit in SKIPPED_UNITS:
            self.skipped_units[unit] += 1
            return
        iso3 = self._state(unit, row, where)
        if iso3 is None:
            name = row[self.name_at].strip() if self.name_at is not None else ""
            self.unmapped.setdefault(unit, name)
            return
        earlier = self.first_line.get((iso3, year))
        if earlier is not None:
            raise FileFormatError(
                f"{self.label}: lines {earlier} and {line} are both {iso3} {year} "
                f"(country_text_id {unit!r})"
            )
        self.first_line[(iso3, year)] = line
        self.country_years += 1
        for index, variable in self.value_at:
            cell = row[index].strip()
            if cell in MISSING_MARKERS:
                self.missing_values[variable] += 1
                continue
            value = parse_float(cell, where=f"{where}: column {variable[len(VARIABLE_PREFIX) :]!r}")
            self.records.append(ObservationRecord.for_year(iso3, variable, year, value))

    def _state(self, unit: str, row: list[str], where: str) -> str | None:
        """The row's ISO3, resolved once per (unit, COW code, GW code)."""
        cow = row[self.cow_at].strip() if self.cow_at is not None else ""
        gw = row[self.gw_at].strip() if self.gw_at is not None else ""
        key = (unit, cow, gw)
        if key not in self.resolved:
            self.resolved[key] = _resolve(self.resolver, unit, cow, gw, where=where)
        return self.resolved[key]

    def payload(self, digest: str, name: str) -> LoadedPayload:
        if self.unmapped:
            listed = ", ".join(
                f"{unit!r} ({unit_name!r})" if unit_name else repr(unit)
                for unit, unit_name in sorted(self.unmapped.items())
            )
            raise FileFormatError(
                f"{self.label}: {len(self.unmapped)} V-Dem unit(s) with no ISO3 mapping: "
                f"{listed}. Add them to earlywarn/countries (or to SKIPPED_UNITS in "
                "ingest/vdem.py); units are never guessed"
            )
        if self.country_years == 0:
            raise FileFormatError(f"{self.label}: no country-year rows from {self.start_year} on")
        skipped_total = sum(self.missing_values.values())
        return LoadedPayload(
            records=self.records,
            content_digest=digest,
            source_uri=name,
            rows_read=self.country_years * len(self.value_at),
            rows_skipped=skipped_total,
            details={
                "format": "vdem",
                "variables": self.variables,
                "start_year": self.start_year,
                "file_rows": self.file_rows,
                "country_years": self.country_years,
                "countries": len({iso3 for iso3, _ in self.first_line}),
                "rows_before_start_year": self.before_start,
                "skipped": {"missing_value": skipped_total} if skipped_total else {},
                "missing_by_variable": dict(sorted(self.missing_values.items())),
                "skipped_units": {
                    unit: {"rows": count, "reason": SKIPPED_UNITS[unit]}
                    for unit, count in sorted(self.skipped_units.items())
                },
            },
        )


def load_vdem(
    path: Path,
    *,
    resolver: VdemCountryResolver,
    variables: Sequence[str] = DEFAULT_VARIABLES,
    start_year: int = DEFAULT_START_YEAR,
) -> LoadedPayload:
    try:
        with path.open("rb") as handle:
            return parse_vdem_stream(
                handle,
                name=str(path),
                resolver=resolver,
                variables=variables,
                start_year=start_year,
            )
    except OSError as exc:
        raise FileFormatError(f"V-Dem file {path}: cannot read ({exc.strerror})") from exc


def _resolve(
    resolver: VdemCountryResolver, unit: str, cow: str, gw: str, *, where: str
) -> str | None:
    by_cow = _code(resolver.from_cow, cow)
    by_gw = _code(resolver.from_gw, gw)
    by_id = resolver.from_iso3(unit) if unit else None
    if by_id is None:
        return by_cow if by_cow is not None else by_gw
    for column, code, state in (("COWcode", cow, by_cow), ("gwcode", gw, by_gw)):
        if code in MISSING_MARKERS:
            continue
        if state is None:
            raise FileFormatError(
                f"{where}: country_text_id {unit!r} means {by_id} but {column} {code!r} is not "
                "a code earlywarn knows"
            )
        if state != by_id and not _is_former(resolver, state):
            raise FileFormatError(
                f"{where}: country_text_id {unit!r} means {by_id} but {column} {code} means {state}"
            )
    return by_id


def _code(lookup: Any, text: str) -> str | None:
    if text in MISSING_MARKERS:
        return None
    cleaned = text[:-2] if text.endswith(".0") else text  # R writes some codes as "70.0"
    state: str | None = lookup(cleaned)
    return state


def _is_former(resolver: VdemCountryResolver, iso3: str) -> bool:
    return bool(getattr(resolver.records.get(iso3), "is_historical", False))


def _int(text: str, *, where: str) -> int:
    cleaned = text.strip()
    if cleaned.endswith(".0"):
        cleaned = cleaned[:-2]
    if not cleaned.isdigit():
        raise FileFormatError(f"{where}: {text!r} is not a year")
    return int(cleaned)
