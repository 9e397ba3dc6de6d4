"""The packaged crosswalk: generated faithfully, consistent with ISO 3166, and parsed strictly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pycountry
import pytest

from earlywarn.countries.reference import load_reference, read_reference
from earlywarn.countries.schemas import CountryRecord, Region

REPO_DIR = Path(__file__).resolve().parents[2]
DATA_DIR = Path(__file__).resolve().parent / "data"

# States whose COW and GW codes differ on purpose (see countries/data/README.md); any other
# difference is a typo that would put one state's data on another.
COW_GW_DIFFER = {
    "DEU": (255, 260),
    "SRB": (345, 340),
    "YEM": (679, 678),
    "KIR": (946, 970),
    "TUV": (947, 973),
    "TON": (955, 972),
    "NRU": (970, 971),
}


@pytest.fixture(scope="module")
def by_iso3() -> dict[str, CountryRecord]:
    return {record.iso3: record for record in load_reference()}


def test_csv_is_what_the_build_script_writes() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO_DIR / "scripts" / "build_states_csv.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_every_iso_country_is_present_with_its_iso_codes(
    by_iso3: dict[str, CountryRecord],
) -> None:
    for country in pycountry.countries:
        record = by_iso3[country.alpha_3]
        assert record.iso2 == country.alpha_2
        assert record.m49 == int(country.numeric)
        assert not record.is_historical


def test_codes_are_unique_per_scheme(by_iso3: dict[str, CountryRecord]) -> None:
    for attribute in ("iso2", "m49", "cow_code", "gw_code"):
        values = [getattr(r, attribute) for r in by_iso3.values() if getattr(r, attribute)]
        assert len(values) == len(set(values)), attribute


def test_cow_and_gw_agree_except_the_documented_states(
    by_iso3: dict[str, CountryRecord],
) -> None:
    differing = {
        iso3: (record.cow_code, record.gw_code)
        for iso3, record in by_iso3.items()
        if record.cow_code is not None
        and record.gw_code is not None
        and record.cow_code != record.gw_code
    }
    assert differing == COW_GW_DIFFER


@pytest.mark.parametrize(
    ("iso3", "cow_code", "gw_code"),
    [
        ("USA", 2, 2),
        ("SDN", 625, 625),
        ("SSD", 626, 626),
        ("DEU", 255, 260),
        ("DDR", 265, 265),
        ("CSK", 315, 315),
        ("CZE", 316, 316),
        ("SVK", 317, 317),
        ("SRB", 345, 340),
        ("MNE", 341, 341),
        ("XKX", 347, 347),
        ("RUS", 365, 365),
        ("YEM", 679, 678),
        ("YMD", 680, 680),
        ("VNM", 816, 816),
        ("TLS", 860, 860),
    ],
)
def test_hard_case_codes(
    by_iso3: dict[str, CountryRecord], iso3: str, cow_code: int, gw_code: int
) -> None:
    assert (by_iso3[iso3].cow_code, by_iso3[iso3].gw_code) == (cow_code, gw_code)


def test_historical_states(by_iso3: dict[str, CountryRecord]) -> None:
    historical = {iso3 for iso3, record in by_iso3.items() if record.is_historical}
    assert {"DDR", "CSK", "YUG", "SUN", "YMD"} <= historical
    assert not {"DEU", "RUS", "SRB", "YEM", "VNM", "XKX"} & historical
    # Russia and Serbia hold the codes the code systems continue from the USSR and Yugoslavia.
    for predecessor in ("SUN", "YUG"):
        assert by_iso3[predecessor].cow_code is None
        assert by_iso3[predecessor].gw_code is None


def test_kosovo_row(by_iso3: dict[str, CountryRecord]) -> None:
    kosovo = by_iso3["XKX"]
    assert (kosovo.iso2, kosovo.m49, kosovo.region) == ("XK", None, Region.EUROPE)


def test_every_row_but_antarctica_has_a_region(by_iso3: dict[str, CountryRecord]) -> None:
    assert {iso3 for iso3, record in by_iso3.items() if record.region is None} == {"ATA"}
    assert by_iso3["TUR"].region is Region.ASIA
    assert by_iso3["RUS"].region is Region.EUROPE
    assert by_iso3["GRL"].region is Region.AMERICAS
    assert by_iso3["PNG"].region is Region.OCEANIA
    assert by_iso3["EGY"].region is Region.AFRICA


def test_load_reference_hands_out_copies() -> None:
    first = load_reference()
    first.clear()
    assert load_reference()


def test_read_reference_parses_a_small_file() -> None:
    records = read_reference(DATA_DIR / "small_states.csv")
    assert records == [
        CountryRecord("AAA", "AA", 1, 10, 10, "Alpha", Region.EUROPE, False),
        CountryRecord("BBB", None, None, 20, 21, "Beta", None, True),
    ]


@pytest.mark.parametrize(
    ("file_name", "message"),
    [
        ("duplicate_iso3.csv", r"line 3: duplicate iso3 'AAA'"),
        ("bad_code.csv", r"line 2: cow_code must be a whole number, got 'ten'"),
        ("bad_header.csv", r"expected columns iso3, iso2, m49, cow_code"),
        ("bad_region.csv", r"line 2: region must be one of"),
    ],
)
def test_read_reference_names_the_bad_line(file_name: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        read_reference(DATA_DIR / file_name)
