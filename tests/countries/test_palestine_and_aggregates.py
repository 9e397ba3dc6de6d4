"""Palestine, events coded to Israel 666, and names that are not countries.

Checked against the recorded payloads in ../shared where these cases appear (UCDP GED events
in Gaza and the West Bank, PTS "Israel in Occupied Territories", ReliefWeb's lower-case iso3).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from earlywarn.countries.names import NOT_COUNTRY_NAMES, is_not_country_name
from earlywarn.countries.schemas import CountryRecord, Region
from earlywarn.countries.service import (
    NAME_ALIASES,
    CountryResolver,
    UnmappedCountryError,
    event_country,
    resolve_or_raise,
)


@pytest.fixture(scope="module")
def resolver() -> CountryResolver:
    return CountryResolver.default()


def test_palestine_codes_and_names(resolver: CountryResolver) -> None:
    assert resolver.from_iso3("PSE") == "PSE"
    assert resolver.from_iso3("pse") == "PSE"  # ReliefWeb writes iso3 in lower case
    assert resolver.from_iso2("PS") == "PSE"
    assert resolver.from_m49(275) == "PSE"  # ACLED's iso
    for name in (
        "Palestine",  # ACLED
        "State of Palestine",
        "Palestine, State of",  # ISO 3166-1
        "West Bank and Gaza",  # World Bank
        "occupied Palestinian territory",  # ReliefWeb, OCHA
        "Israel in Occupied Territories",  # PTS
    ):
        assert resolver.from_name(name) == "PSE", name


def test_palestine_has_no_cow_or_gw_code(resolver: CountryResolver) -> None:
    record = resolver.records["PSE"]
    assert (record.cow_code, record.gw_code) == (None, None)
    # 666 is Israel in both systems; the unofficial 667/668 some users give V-Dem's West Bank
    # and Gaza units are not codes of either system and stay unmapped.
    assert resolver.from_gw(666) == "ISR"
    assert resolver.from_cow(666) == "ISR"
    for code in (667, 668, 6661):
        assert resolver.from_cow(code) is None
        assert resolver.from_gw(code) is None


def test_israel_names(resolver: CountryResolver) -> None:
    assert resolver.from_name("Israel") == "ISR"
    assert resolver.from_name("Israel in pre-1967 borders") == "ISR"  # PTS before 2008


@pytest.mark.parametrize(
    ("iso3", "admin1", "expected"),
    [
        ("ISR", "Gaza Strip", "PSE"),
        ("ISR", "West Bank", "PSE"),
        ("ISR", " gaza ", "PSE"),
        ("ISR", "Southern district", "ISR"),
        ("ISR", "Jerusalem district", "ISR"),  # East Jerusalem cannot be told apart
        ("ISR", "", "ISR"),
        ("ISR", None, "ISR"),
        ("PSE", "Gaza Strip", "PSE"),  # ACLED already says Palestine
        ("EGY", "North Sinai", "EGY"),
        ("SYR", "West Bank", "SYR"),  # only events coded to Israel move
    ],
)
def test_event_country(iso3: str, admin1: str | None, expected: str) -> None:
    assert event_country(iso3, admin1) == expected


def test_ucdp_events_in_gaza_and_the_west_bank_count_for_palestine(
    shared_dir: Path, resolver: CountryResolver
) -> None:
    path = shared_dir / "fixtures" / "ucdp" / "gedevents_api_Result_records_ISR_SUBSET_first6.json"
    body = json.loads(path.read_text(encoding="utf-8"))
    events = body["Result"] if isinstance(body, dict) else body
    located = []
    for event in events:
        coded = resolver.from_gw(event["country_id"])
        assert coded == "ISR"
        located.append((event["adm_1"], event_country(coded, event["adm_1"])))
    assert located == [
        ("Gaza Strip", "PSE"),
        ("Gaza Strip", "PSE"),
        ("Southern district", "ISR"),
        ("Jerusalem district", "ISR"),
        ("Gaza Strip", "PSE"),
        ("West Bank", "PSE"),
    ]


def test_pts_territory_rows_resolve_by_name(shared_dir: Path, resolver: CountryResolver) -> None:
    path = shared_dir / "fixtures" / "pts" / "PTS-2024_SUBSET_selected_countries_2021-2023.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row["WordBank_Code_A"] == "NA"]
    assert {row["Country"] for row in rows} == {"Israel in Occupied Territories"}
    assert {resolver.from_name(row["Country"]) for row in rows} == {"PSE"}


# --- regions, aggregates, seas ---------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "World",
        "Africa",
        "Middle East",  # UCDP region
        "Sub-Saharan Africa",
        "Latin America & Caribbean",
        "European Union",
        "Arab World",
        "Red Sea",  # ACLED maritime events
        "  the caribbean ",
        "unknown",
    ],
)
def test_regions_and_aggregates_are_rejected_with_the_reason(
    resolver: CountryResolver, name: str
) -> None:
    assert resolver.from_name(name) is None
    assert is_not_country_name(name)
    with pytest.raises(UnmappedCountryError, match="region, aggregate, sea or placeholder"):
        resolve_or_raise(name, "name")


def test_states_named_like_regions_still_resolve(resolver: CountryResolver) -> None:
    assert resolver.from_name("South Africa") == "ZAF"
    assert resolver.from_name("Central African Republic") == "CAF"
    assert resolver.from_name("Caribbean Netherlands") == "BES"
    assert not is_not_country_name("South Africa")


def test_an_unknown_name_is_not_called_a_region() -> None:
    with pytest.raises(UnmappedCountryError, match="add an alias"):
        resolve_or_raise("Somaliland", "name")


def test_no_alias_is_a_region() -> None:
    assert not [alias for alias in NAME_ALIASES if is_not_country_name(alias)]
    assert "Africa" in NOT_COUNTRY_NAMES


def test_an_alias_making_a_region_resolve_is_rejected() -> None:
    record = CountryRecord(
        iso3="ZAF",
        iso2="ZA",
        m49=710,
        cow_code=560,
        gw_code=560,
        name="South Africa",
        region=Region.AFRICA,
        is_historical=False,
    )
    with pytest.raises(ValueError, match=r"region or aggregate name\(s\) \['africa'\]"):
        CountryResolver([record], name_aliases={"Africa": "ZAF"})
