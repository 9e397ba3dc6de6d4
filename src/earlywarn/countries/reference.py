"""The packaged crosswalk (``data/states.csv``): parsed strictly, once, with the line at fault
named in every error."""

from __future__ import annotations

import csv
import functools
import io
import re
from importlib import resources
from pathlib import Path

from earlywarn.countries.schemas import CountryRecord, Region

CSV_COLUMNS = ("iso3", "iso2", "m49", "cow_code", "gw_code", "name", "region", "is_historical")

# A numeric country code as the crosswalk and the sources write it (M49, COW, GW).
CODE_DIGITS = re.compile(r"\d{1,4}")
_ISO3 = re.compile(r"[A-Z]{3}")
_ISO2 = re.compile(r"[A-Z]{2}")


def _optional_int(row: dict[str, str], column: str, where: str) -> int | None:
    text = row[column]
    if text == "":
        return None
    if not CODE_DIGITS.fullmatch(text):
        raise ValueError(f"{where}: {column} must be a whole number, got {text!r}")
    return int(text)


def parse_reference(text: str, *, source: str = "states.csv") -> list[CountryRecord]:
    """Parse crosswalk CSV text, rejecting anything malformed with the line that is wrong."""
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    if tuple(reader.fieldnames or ()) != CSV_COLUMNS:
        raise ValueError(f"{source}: expected columns {', '.join(CSV_COLUMNS)}")
    regions = ", ".join(region.value for region in Region)
    records: list[CountryRecord] = []
    seen: set[str] = set()
    for line, row in enumerate(reader, start=2):
        where = f"{source} line {line}"
        iso3 = row["iso3"]
        if not _ISO3.fullmatch(iso3):
            raise ValueError(f"{where}: iso3 must be three capital letters, got {iso3!r}")
        if iso3 in seen:
            raise ValueError(f"{where}: duplicate iso3 {iso3!r}")
        seen.add(iso3)
        iso2 = row["iso2"] or None
        if iso2 is not None and not _ISO2.fullmatch(iso2):
            raise ValueError(f"{where}: iso2 must be two capital letters, got {iso2!r}")
        if row["region"] and row["region"] not in Region._value2member_map_:
            raise ValueError(f"{where}: region must be one of {regions} or empty")
        if row["is_historical"] not in ("true", "false"):
            raise ValueError(f"{where}: is_historical must be true or false")
        if not row["name"].strip():
            raise ValueError(f"{where}: name is empty")
        records.append(
            CountryRecord(
                iso3=iso3,
                iso2=iso2,
                m49=_optional_int(row, "m49", where),
                cow_code=_optional_int(row, "cow_code", where),
                gw_code=_optional_int(row, "gw_code", where),
                name=row["name"],
                region=Region(row["region"]) if row["region"] else None,
                is_historical=row["is_historical"] == "true",
            )
        )
    return records


def read_reference(path: Path) -> list[CountryRecord]:
    """Parse a crosswalk CSV file (the packaged one, or another in the same format)."""
    return parse_reference(path.read_text(encoding="utf-8"), source=str(path))


@functools.cache
def packaged_reference() -> tuple[CountryRecord, ...]:
    packaged = resources.files("earlywarn.countries").joinpath("data", "states.csv")
    return tuple(parse_reference(packaged.read_text("utf-8")))


def load_reference() -> list[CountryRecord]:
    """Every state in the packaged crosswalk, ordered by ISO3 (parsed once, copied per call)."""
    return list(packaged_reference())
