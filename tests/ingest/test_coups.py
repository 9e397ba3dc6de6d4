"""Powell & Thyne's coup list as country-years (the ``coups`` file source) and EWP's rule for
its ``coup.try.5yr``. No recorded payload exists in ../shared: the files here are written in the
list's published layout (tab-separated, with the 2022 releases' extra code columns), holding
well-known attempts of that list typed by hand."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from earlywarn.countries.service import CountryResolver, seed_countries
from earlywarn.db import session_scope
from earlywarn.ingest.coups import parse_coups
from earlywarn.ingest.errors import FileFormatError
from earlywarn.ingest.service import import_file
from earlywarn.observations.models import Observation, RunStatus

HEADER = "country\tccode\tyear\tmonth\tday\tcoup\tccode_gw\tccode_polity\tversion"
# (country, COW code, year, month, day, 1 failed / 2 successful)
ATTEMPTS = [
    ("Mali", 432, 2012, 3, 22, 2),
    ("Sudan", 625, 2012, 11, 22, 1),
    ("Thailand", 800, 2014, 5, 22, 2),
    ("Burkina Faso", 439, 2015, 9, 16, 2),
    ("Turkey", 640, 2016, 7, 15, 1),
    ("Zimbabwe", 552, 2017, 11, 15, 2),
    ("Sudan", 625, 2019, 4, 11, 2),
    ("Gabon", 481, 2019, 1, 7, 1),
    ("Mali", 432, 2020, 8, 18, 2),
    ("Myanmar", 775, 2021, 2, 1, 2),
    ("Niger", 436, 2021, 3, 31, 1),
    ("Mali", 432, 2021, 5, 24, 2),
    ("Sudan", 625, 2021, 9, 21, 1),
    ("Sudan", 625, 2021, 10, 25, 2),
    ("Burkina Faso", 439, 2022, 1, 24, 2),
    ("Burkina Faso", 439, 2022, 9, 30, 2),
    ("Niger", 436, 2023, 7, 26, 2),
    ("Gabon", 481, 2023, 8, 30, 2),
]


def _file(
    attempts: list[tuple[str, int, int, int, int, int]], version: str = "V2024.05.03"
) -> bytes:
    lines = [HEADER] + ["\t".join(map(str, (*row, row[1], row[1], version))) for row in attempts]
    return ("\n".join(lines) + "\n").encode()


def _values(content: bytes) -> dict[tuple[str, str, str], float]:
    payload = parse_coups(content, name="coups.txt", resolver=CountryResolver.default())
    return {(r.iso3, r.variable, r.period): r.value for r in payload.records}


def test_attempts_and_the_five_year_window() -> None:
    got = _values(_file(ATTEMPTS))
    assert got[("SDN", "coups.attempts", "2021")] == 2
    assert got[("SDN", "coups.attempts", "2020")] == 0
    window = [got[("TUR", "coups.attempt_5yr", str(y))] for y in range(2015, 2022)]
    assert window == [0, 1, 1, 1, 1, 1, 0]  # 2016 and the four years after
    # A state without any attempt has zeros to the release year (2024), not missing values.
    assert got[("NOR", "coups.attempt_5yr", "2024")] == 0
    assert got[("NOR", "coups.attempts", "1950")] == 0
    assert ("NOR", "coups.attempts", "2025") not in got


def test_the_rule_reproduces_ewps_coup_try_5yr(shared_dir: Path) -> None:
    """EWP's coup.try.5yr on every country-year 2015-2024 of the nine countries listed, from
    their attempts since 2012: the same value in all 90 (a missed attempt would show)."""
    path = shared_dir / "data/ewp/prepared2024predictors-2025-09-03.csv"
    if not path.is_file():
        pytest.skip(f"EWP file not found at {path}")
    resolver = CountryResolver.default()
    ewp: dict[tuple[str, str], float] = {}
    with path.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            iso3 = resolver.from_cow(row["ccode"])
            if iso3 is not None and 2015 <= int(row["year"]) <= 2024:
                ewp[(iso3, row["year"])] = float(row["coup.try.5yr"])
    got = _values(_file(ATTEMPTS))
    listed = {resolver.from_cow(row[1]) for row in ATTEMPTS}
    compared = {key: value for key, value in ewp.items() if key[0] in listed}
    assert len(compared) == 90
    assert {k: got[(k[0], "coups.attempt_5yr", k[1])] for k in compared} == compared


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (_file([("Atlantis", 9999, 2020, 1, 1, 2)]), "9999 \\(Atlantis\\)"),
        (_file([("Sudan", 625, 2020, 1, 1, 3)]), "'coup': 3 is not 1 or 2"),
        (_file([("Sudan", 625, "20x0", 1, 1, 2)]), "'year': '20x0'"),
        (b"country,ccode,year,coup\nSudan,625,2020,2\n", "missing column"),
        (HEADER.encode() + b"\n", "no coup rows"),
    ],
)
def test_a_broken_file_fails_naming_what(content: bytes, message: str) -> None:
    with pytest.raises(FileFormatError, match=message):
        parse_coups(content, name="coups.txt", resolver=CountryResolver.default())


def test_imported_as_a_file_source(session_factory: sessionmaker[Session], tmp_path: Path) -> None:
    with session_scope(session_factory) as session:
        seed_countries(session)
    path = tmp_path / "powell_thyne_coups_final.txt"
    path.write_bytes(_file(ATTEMPTS[:3]))
    run = import_file(session_factory, path, "coups")
    assert run.status is RunStatus.SUCCEEDED, run.error
    with session_factory() as session:
        value = session.scalar(
            select(Observation.value).where(
                Observation.country_iso3 == "THA",
                Observation.variable == "coups.attempt_5yr",
                Observation.period == "2018",
            )
        )
        rows = session.scalar(select(func.count()).select_from(Observation))
    assert value == 1.0
    assert rows == run.rows_loaded > 0
    again = import_file(session_factory, path, "coups")
    assert again.rows_loaded == 0  # unchanged payload
