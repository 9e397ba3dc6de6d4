"""Resolving every scheme's country codes and names to ISO3, exactly and never by guessing."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from earlywarn.countries.names import normalise_name
from earlywarn.countries.schemas import CountryRecord, Region
from earlywarn.countries.service import CountryResolver, UnmappedCountryError, resolve_or_raise

EWP_FILE = Path("data") / "ewp" / "prepared2024predictors-2025-09-03.csv"


@pytest.fixture(scope="module")
def resolver() -> CountryResolver:
    return CountryResolver.default()


def test_default_is_built_once() -> None:
    assert CountryResolver.default() is CountryResolver.default()


# --- the hard cases ------------------------------------------------------------------------


def test_kosovo(resolver: CountryResolver) -> None:
    assert resolver.from_iso3("XKX") == "XKX"
    assert resolver.from_iso3("ksv") == "XKX"  # IMF / PTS
    assert resolver.from_iso2("XK") == "XKX"
    assert resolver.from_cow(347) == "XKX"
    assert resolver.from_gw("347") == "XKX"
    assert resolver.from_name("Kosovo") == "XKX"


def test_serbia_and_yugoslavia(resolver: CountryResolver) -> None:
    # COW and GW continue Yugoslavia as Serbia; EWP's "Serbia" is 345 over 1960-2024.
    assert resolver.from_cow(345) == "SRB"
    assert resolver.from_gw(345) == "SRB"
    assert resolver.from_gw(340) == "SRB"
    assert resolver.from_cow(340) is None
    assert resolver.from_name("Serbia (Yugoslavia)") == "SRB"
    assert resolver.from_m49(688) == "SRB"
    # The ISO identity and the names of Yugoslavia resolve to its own historical row.
    assert resolver.from_iso3("YUG") == "YUG"
    assert resolver.from_iso3("SCG") == "YUG"
    assert resolver.from_iso2("YU") == "YUG"
    assert resolver.from_m49(891) == "YUG"
    assert resolver.from_name("Yugoslavia") == "YUG"
    assert resolver.from_name("Serbia and Montenegro") == "YUG"
    assert resolver.from_cow(341) == resolver.from_gw(341) == "MNE"


def test_sudan_and_south_sudan(resolver: CountryResolver) -> None:
    for resolve in (resolver.from_cow, resolver.from_gw):
        assert resolve(625) == "SDN"
        assert resolve(626) == "SSD"
    assert resolver.from_m49(729) == "SDN"
    assert resolver.from_m49(728) == "SSD"
    assert resolver.from_name("Sudan") == "SDN"
    assert resolver.from_name("South Sudan") == "SSD"


def test_yemen(resolver: CountryResolver) -> None:
    # COW 678 and GW 678 name different rows: COW separates North Yemen, GW continues it.
    assert resolver.from_cow(678) == "YAR"
    assert resolver.from_gw(678) == "YEM"
    assert resolver.from_cow(679) == "YEM"
    assert resolver.from_gw(679) is None
    assert resolver.from_cow(680) == resolver.from_gw(680) == "YMD"
    assert resolver.from_name("Arab Republic of Yemen") == "YAR"
    assert resolver.from_name("Yemen (North Yemen)") == "YEM"  # UCDP, GW 678
    assert resolver.from_name("Yemen, Rep.") == "YEM"
    assert resolver.from_name("People's Republic of Yemen") == "YMD"
    assert resolver.from_iso2("YD") == "YMD"


def test_germany(resolver: CountryResolver) -> None:
    assert resolver.from_cow(255) == "DEU"
    assert resolver.from_cow(260) == "DEU"  # German Federal Republic 1955-1990
    assert resolver.from_cow(265) == "DDR"
    assert resolver.from_gw(260) == "DEU"
    assert resolver.from_gw(255) == "DEU"  # Germany 1816-1945
    assert resolver.from_gw(265) == "DDR"
    assert resolver.from_name("East Germany") == "DDR"
    assert resolver.from_name("German Democratic Republic") == "DDR"
    assert resolver.from_name("West Germany") == "DEU"
    assert resolver.from_name("Federal Republic of Germany") == "DEU"


def test_vietnam(resolver: CountryResolver) -> None:
    for resolve in (resolver.from_cow, resolver.from_gw):
        assert resolve(816) == "VNM"
        assert resolve(817) == "RVN"
    assert resolver.from_name("Democratic Republic of Vietnam") == "VNM"
    assert resolver.from_name("Viet Nam") == "VNM"
    assert resolver.from_name("Republic of Vietnam") == "RVN"
    assert resolver.from_name("South Vietnam") == "RVN"


def test_soviet_union_and_russia(resolver: CountryResolver) -> None:
    assert resolver.from_cow(365) == "RUS"
    assert resolver.from_gw(365) == "RUS"
    assert resolver.from_name("Russia (Soviet Union)") == "RUS"
    assert resolver.from_name("Russian Federation") == "RUS"
    assert resolver.from_iso3("SUN") == "SUN"
    assert resolver.from_m49(810) == "SUN"
    assert resolver.from_name("Soviet Union") == "SUN"
    assert resolver.from_name("USSR") == "SUN"


def test_micro_state_codes_differ_between_schemes(resolver: CountryResolver) -> None:
    assert resolver.from_cow(970) == "NRU"
    assert resolver.from_gw(970) == "KIR"
    assert resolver.from_gw(971) == "NRU"
    assert resolver.from_cow(946) == "KIR"


@pytest.mark.parametrize(
    ("name", "iso3"),
    [
        ("Côte d'Ivoire", "CIV"),
        ("COTE D’IVOIRE", "CIV"),
        ("Cote d'Ivoire", "CIV"),
        ("Ivory Coast", "CIV"),
        ("The Gambia", "GMB"),
        ("Gambia, The", "GMB"),
        ("Bahamas, The", "BHS"),
        ("São Tomé and Príncipe", "STP"),
        ("Curaçao", "CUW"),
        ("Curacao", "CUW"),
        ("Türkiye", "TUR"),
        ("Turkiye", "TUR"),
        ("Turkey", "TUR"),
        ("Trinidad & Tobago", "TTO"),
        ("  bosnia-herzegovina ", "BIH"),
        ("Guinea Bissau", "GNB"),
        ("Réunion", "REU"),
        ("Åland Islands", "ALA"),
    ],
)
def test_names_with_accents_articles_and_punctuation(
    resolver: CountryResolver, name: str, iso3: str
) -> None:
    assert resolver.from_name(name) == iso3


WORLD_BANK_NAMES = {
    "Somalia, Fed. Rep.": "SOM",
    "Turkiye": "TUR",
    "Egypt, Arab Rep.": "EGY",
    "Iran, Islamic Rep.": "IRN",
    "Congo, Dem. Rep.": "COD",
    "Congo, Rep.": "COG",
    "Yemen, Rep.": "YEM",
    "Venezuela, RB": "VEN",
    "Korea, Rep.": "KOR",
    "Korea, Dem. People's Rep.": "PRK",
    "Lao PDR": "LAO",
    "Gambia, The": "GMB",
    "Kyrgyz Republic": "KGZ",
    "Slovak Republic": "SVK",
    "Viet Nam": "VNM",
    "Russian Federation": "RUS",
    "Syrian Arab Republic": "SYR",
    "West Bank and Gaza": "PSE",
    "Cote d'Ivoire": "CIV",
    "Micronesia, Fed. Sts.": "FSM",
    "Hong Kong SAR, China": "HKG",
    "St. Vincent and the Grenadines": "VCT",
    "Virgin Islands (U.S.)": "VIR",
    "Brunei Darussalam": "BRN",
    "Cabo Verde": "CPV",
    "Czechia": "CZE",
    "North Macedonia": "MKD",
    "Eswatini": "SWZ",
}

UCDP_NAMES = {
    "Myanmar (Burma)": "MMR",
    "DR Congo (Zaire)": "COD",
    "Yemen (North Yemen)": "YEM",
    "Cambodia (Kampuchea)": "KHM",
    "Russia (Soviet Union)": "RUS",
    "Serbia (Yugoslavia)": "SRB",
    "Zimbabwe (Rhodesia)": "ZWE",
    "Madagascar (Malagasy)": "MDG",
    "Bosnia-Herzegovina": "BIH",
    "Macedonia, FYR": "MKD",
    "Congo": "COG",
    "Bangladesh": "BGD",
}


@pytest.mark.parametrize(("name", "iso3"), [*WORLD_BANK_NAMES.items(), *UCDP_NAMES.items()])
def test_source_names(resolver: CountryResolver, name: str, iso3: str) -> None:
    assert resolver.from_name(name) == iso3


@pytest.mark.parametrize(
    "name",
    [
        "Narnia",
        "Korea",  # two states
        "Palestine/West Bank",  # V-Dem unit: part of a state (see test_palestine.py)
        "Somaliland",
        "Nigeri",
        "Guinea Bisau",
        "Sudan South",
        "",
        "   ",
    ],
)
def test_never_guesses(resolver: CountryResolver, name: str) -> None:
    assert resolver.from_name(name) is None


def test_normalise_name() -> None:
    assert normalise_name("  The Gambia ") == "gambia"
    assert normalise_name("Gambia, The") == "gambia"
    assert normalise_name("Côte d’Ivoire") == "cote d ivoire"
    assert normalise_name("Trinidad & Tobago") == normalise_name("trinidad and tobago")
    assert normalise_name("Niger") != normalise_name("Nigeria")


# --- codes ----------------------------------------------------------------------------------


def test_iso_codes_are_normalised(resolver: CountryResolver) -> None:
    assert resolver.from_iso3(" usa ") == "USA"
    assert resolver.from_iso3("WLD") is None  # World Bank aggregate
    assert resolver.from_iso3("US") is None
    assert resolver.from_iso3(840) is None  # type: ignore[arg-type]
    assert resolver.from_iso2("us") == "USA"
    assert resolver.from_iso2("1W") is None
    assert resolver.from_iso2("CS") is None  # Czechoslovakia and Serbia and Montenegro


@pytest.mark.parametrize(
    ("code", "iso3"),
    [(4, "AFG"), ("4", "AFG"), ("004", "AFG"), (" 804 ", "UKR"), (840, "USA"), (158, "TWN")],
)
def test_m49_accepts_ints_and_numeric_strings(
    resolver: CountryResolver, code: int | str, iso3: str
) -> None:
    assert resolver.from_m49(code) == iso3


@pytest.mark.parametrize("code", ["4.0", "-4", -4, "four", "", "2, 101", True, 999])
def test_malformed_or_unknown_numeric_codes_give_none(
    resolver: CountryResolver, code: int | str
) -> None:
    assert resolver.from_m49(code) is None
    assert resolver.from_cow(code) is None
    assert resolver.from_gw(code) is None


# --- errors ---------------------------------------------------------------------------------


def test_unknown_name_raises_with_a_clear_message() -> None:
    with pytest.raises(UnmappedCountryError) as info:
        resolve_or_raise("Narnia", "name")
    assert str(info.value) == (
        "unknown country name 'Narnia' (no ISO3 mapping; add an alias in "
        "earlywarn/countries/service.py if it is a real state)"
    )
    assert (info.value.value, info.value.scheme) == ("Narnia", "name")
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("value", "scheme", "label"),
    [("ABC", "iso3", "ISO3 code"), ("QQ", "iso2", "ISO2 code"), (999, "m49", "M49 code")],
)
def test_unknown_codes_raise_naming_the_scheme(value: int | str, scheme: str, label: str) -> None:
    with pytest.raises(UnmappedCountryError, match=f"unknown country {label} {value!r}"):
        resolve_or_raise(value, scheme)  # type: ignore[arg-type]


def test_resolve_or_raise_returns_the_iso3() -> None:
    assert resolve_or_raise("Burma/Myanmar", "name") == "MMR"
    assert resolve_or_raise(678, "gw") == "YEM"
    assert resolve_or_raise("678", "cow") == "YAR"
    assert resolve_or_raise("YE", "iso2") == "YEM"


def test_unknown_scheme_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown country code scheme 'fips'"):
        resolve_or_raise("US", "fips")  # type: ignore[arg-type]


# --- the Early Warning Project's names and codes ---------------------------------------------


@pytest.mark.shared
def test_every_ewp_name_and_code_resolve_to_the_same_state(
    resolver: CountryResolver, shared_dir: Path
) -> None:
    with (shared_dir / EWP_FILE).open(encoding="utf-8", newline="") as handle:
        pairs = {(row["ewp_name"], row["ccode"]) for row in csv.DictReader(handle)}
    assert len(pairs) > 150
    mismatches = {
        (name, ccode, resolver.from_name(name), resolver.from_cow(ccode))
        for name, ccode in pairs
        if resolver.from_name(name) is None or resolver.from_name(name) != resolver.from_cow(ccode)
    }
    assert mismatches == set()
    # Each EWP state is its own series: no two EWP codes land on one ISO3.
    assert len({resolver.from_cow(ccode) for _, ccode in pairs}) == len({c for _, c in pairs})


# --- construction refuses ambiguous tables ---------------------------------------------------


def _record(iso3: str, name: str, cow: int | None = None) -> CountryRecord:
    return CountryRecord(iso3, None, None, cow, None, name, Region.EUROPE, True)


def test_two_rows_with_one_code_are_rejected() -> None:
    with pytest.raises(ValueError, match="COW code 10 would map to both AAA and BBB"):
        CountryResolver([_record("AAA", "Alpha", 10), _record("BBB", "Beta", 10)])


def test_an_alias_to_an_unknown_state_is_rejected() -> None:
    with pytest.raises(ValueError, match="name alias 'gamma' points to unknown iso3 'CCC'"):
        CountryResolver([_record("AAA", "Alpha")], name_aliases={"Gamma": "CCC"})


def test_an_alias_contradicting_a_row_name_is_rejected() -> None:
    with pytest.raises(ValueError, match="name alias 'alpha' would map to both AAA and BBB"):
        CountryResolver(
            [_record("AAA", "Alpha"), _record("BBB", "Beta")], name_aliases={"ALPHA": "BBB"}
        )


def test_a_succession_colliding_with_a_row_code_is_rejected() -> None:
    with pytest.raises(ValueError, match="COW succession 10 would map to both AAA and BBB"):
        CountryResolver(
            [_record("AAA", "Alpha", 10), _record("BBB", "Beta")], cow_successions={10: "BBB"}
        )
