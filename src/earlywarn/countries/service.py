"""Country identity: the packaged crosswalk, the resolver every connector uses, and seeding.

Every source names countries its own way (ISO codes, UN M49 numerics, Correlates-of-War and
Gleditsch-Ward codes, free-text names). ``CountryResolver`` turns each of them into the ISO3 key
of the ``countries`` table, and it never guesses: a value it does not know exactly (after a
fixed normalisation) gives ``None``. Mapping a country's data onto another is the one mistake an
early-warning service cannot afford, so an unknown name must fail loudly and be added here by a
person, not be matched approximately.

The data file and the decisions behind the non-obvious rows are described in
``earlywarn/countries/data/README.md``; it is parsed in ``reference.py``, and names are compared
in the normal form of ``names.py``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from typing import Literal, TypeVar, get_args

import pycountry
from sqlalchemy.orm import Session

from earlywarn.countries import repository
from earlywarn.countries.models import Country
from earlywarn.countries.names import NOT_COUNTRY_KEYS, is_not_country_name, normalise_name
from earlywarn.countries.reference import CODE_DIGITS, load_reference, packaged_reference
from earlywarn.countries.schemas import CountryRecord

Scheme = Literal["iso3", "iso2", "m49", "cow", "gw", "name"]
SCHEMES: tuple[Scheme, ...] = get_args(Scheme)

K = TypeVar("K", str, int)


# Codes that name a state under an older or non-ISO spelling. Renames only: a code whose
# territory split or merged (CS, SCG's "CS", Sudan's old numeric) is deliberately absent.
ISO3_ALIASES: dict[str, str] = {
    "KSV": "XKX",  # Kosovo as PTS and the IMF write it
    "SCG": "YUG",  # Serbia and Montenegro (2003-2006), the renamed Federal Republic of Yugoslavia
    "ZAR": "COD",  # Zaire, ISO 3166-3; the World Bank used it until 1997
    "ROM": "ROU",  # Romania's World Bank code before 2002
    "TMP": "TLS",  # East Timor, ISO 3166-3
    "BUR": "MMR",  # Burma, ISO 3166-3
}
ISO2_ALIASES: dict[str, str] = {"ZR": "COD", "TP": "TLS", "BU": "MMR"}

# A table row holds one COW and one GW code, but both systems code a state's predecessor
# separately where its series continues in today's state. These successions resolve such
# codes; a test checks none of them collides with a code in the CSV.
COW_SUCCESSIONS: dict[int, str] = {
    260: "DEU",  # German Federal Republic 1955-1990: ISO gave DEU to it, unified Germany kept it
}
GW_SUCCESSIONS: dict[int, str] = {
    255: "DEU",  # Germany 1816-1945
    345: "SRB",  # Yugoslavia / Serbia and Montenegro to 2006; UCDP's "Serbia (Yugoslavia)"
}

# Names as the sources write them, by source. Keys are normalised with ``normalise_name``,
# so accents, case, punctuation and a leading "The" need no extra entries.
NAME_ALIASES: dict[str, str] = {
    # Early Warning Project (ewp_name)
    "United States of America": "USA",
    "Czech Republic": "CZE",
    "Macedonia": "MKD",
    "Cape Verde": "CPV",
    "Ivory Coast": "CIV",
    "Republic of Congo": "COG",
    "Democratic Republic of Congo": "COD",
    "Turkey": "TUR",
    "Arab Republic of Yemen": "YAR",
    "People's Republic of Yemen": "YMD",
    "Kyrgystan": "KGZ",  # sic, as the EWP file spells it
    "Burma/Myanmar": "MMR",
    "Democratic Republic of Vietnam": "VNM",
    "Republic of Vietnam": "RVN",
    # World Bank
    "Bahamas, The": "BHS",
    "Gambia, The": "GMB",
    "Brunei Darussalam": "BRN",
    "Congo, Dem. Rep.": "COD",
    "Congo, Rep.": "COG",
    "Egypt, Arab Rep.": "EGY",
    "Hong Kong SAR, China": "HKG",
    "Macao SAR, China": "MAC",
    "Iran, Islamic Rep.": "IRN",
    "Korea, Dem. People's Rep.": "PRK",
    "Korea, Rep.": "KOR",
    "Kyrgyz Republic": "KGZ",
    "Lao PDR": "LAO",
    "Micronesia, Fed. Sts.": "FSM",
    "Russian Federation": "RUS",
    "Slovak Republic": "SVK",
    "Somalia, Fed. Rep.": "SOM",
    "St. Kitts and Nevis": "KNA",
    "St. Lucia": "LCA",
    "St. Martin (French part)": "MAF",
    "St. Vincent and the Grenadines": "VCT",
    "Syrian Arab Republic": "SYR",
    "Taiwan, China": "TWN",
    "Turkiye": "TUR",
    "Venezuela, RB": "VEN",
    "Viet Nam": "VNM",
    "Virgin Islands (U.S.)": "VIR",
    "West Bank and Gaza": "PSE",
    "Yemen, Rep.": "YEM",
    "Cote d'Ivoire": "CIV",
    # UCDP (names carry the state's earlier name in brackets)
    "Myanmar (Burma)": "MMR",
    "DR Congo (Zaire)": "COD",
    "Yemen (North Yemen)": "YEM",  # UCDP follows GW: 678 continues as unified Yemen
    "Cambodia (Kampuchea)": "KHM",
    "Russia (Soviet Union)": "RUS",
    "Serbia (Yugoslavia)": "SRB",
    "Zimbabwe (Rhodesia)": "ZWE",
    "Madagascar (Malagasy)": "MDG",
    "Bosnia-Herzegovina": "BIH",
    "Macedonia, FYR": "MKD",
    "Vietnam (North Vietnam)": "VNM",
    "Kingdom of eSwatini (Swaziland)": "SWZ",
    "Surinam": "SUR",
    "Rumania": "ROU",
    # ACLED and common English usage
    "eSwatini": "SWZ",
    "Swaziland": "SWZ",
    "Burma": "MMR",
    "Zaire": "COD",
    "Kampuchea": "KHM",
    "Rhodesia": "ZWE",
    "Upper Volta": "BFA",
    "Dahomey": "BEN",
    "Ceylon": "LKA",
    "East Timor": "TLS",
    "United States": "USA",
    "USA": "USA",
    "UK": "GBR",
    "Great Britain": "GBR",
    "Vatican": "VAT",
    "Holy See": "VAT",
    "Congo-Kinshasa": "COD",
    "Congo-Brazzaville": "COG",
    "Democratic Republic of the Congo": "COD",
    "Republic of the Congo": "COG",
    "Caribbean Netherlands": "BES",
    "Micronesia (Federated States of)": "FSM",
    "Bolivia (Plurinational State of)": "BOL",
    "Venezuela (Bolivarian Republic of)": "VEN",
    "Iran (Islamic Republic of)": "IRN",
    "Republic of Korea": "KOR",
    "State of Palestine": "PSE",
    "Palestinian Territories": "PSE",
    # Palestine (PSE) has no COW or GW code and none of the sources gives it one (UCDP codes
    # events there to Israel 666, see ``event_country``). PTS rates "Israel in Occupied
    # Territories" separately from "Israel": the violations it scores happen in the occupied
    # Palestinian territory, and ISR already has its own PTS row, so it is PSE.
    "Occupied Palestinian Territory": "PSE",  # UN OCHA and ReliefWeb
    "Occupied Palestinian Territories": "PSE",
    "Israel in Occupied Territories": "PSE",  # Political Terror Scale
    "Israel in pre-1967 borders": "ISR",  # Political Terror Scale, earlier releases
    "Kosova": "XKX",
    # Former states and their successors
    "West Germany": "DEU",
    "Federal Republic of Germany": "DEU",
    "German Democratic Republic": "DDR",
    "USSR": "SUN",
    "Union of Soviet Socialist Republics": "SUN",
    "Federal Republic of Yugoslavia": "YUG",
    "Socialist Federal Republic of Yugoslavia": "YUG",
    "Serbia and Montenegro": "YUG",
    "Yemen Arab Republic": "YAR",
    "People's Democratic Republic of Yemen": "YMD",
    "Yemen, Democratic": "YMD",
    "North Vietnam": "VNM",
    # UN Treaty Collection (status tables name the state as the UN does since 2024)
    "Netherlands (Kingdom of the)": "NLD",
}


class UnmappedCountryError(ValueError):
    """A country value with no ISO3 mapping; carries the value and the scheme it was read as."""

    def __init__(self, value: object, scheme: Scheme) -> None:
        self.value = value
        self.scheme = scheme
        if scheme == "name" and is_not_country_name(value):
            hint = "it is a region, aggregate, sea or placeholder, not a country"
        elif scheme == "name":
            hint = "add an alias in earlywarn/countries/service.py if it is a real state"
        else:
            hint = "add it in scripts/build_states_csv.py if it is a real state"
        super().__init__(
            f"unknown country {_SCHEME_LABELS[scheme]} {value!r} (no ISO3 mapping; {hint})"
        )


_SCHEME_LABELS: dict[Scheme, str] = {
    "iso3": "ISO3 code",
    "iso2": "ISO2 code",
    "m49": "M49 code",
    "cow": "COW code",
    "gw": "GW code",
    "name": "name",
}

_TRAILING_THE = re.compile(r",\s*the\s*$")


# First-level units that UCDP (and older ACLED releases) place under Israel but that lie in the
# occupied Palestinian territory. Keys are normalised names.
_PALESTINIAN_ADMIN1 = frozenset({"gaza strip", "gaza", "west bank"})


def event_country(iso3: str, admin1: str | None) -> str:
    """The country an event belongs to, given the state a source coded it to and its admin-1.

    UCDP codes events in the Gaza Strip and the West Bank to Israel (GW 666), because the
    Gleditsch-Ward list has no Palestine; earlywarn counts them for PSE, where they happen, as
    ACLED ("Palestine") and the World Bank ("West Bank and Gaza") do. East Jerusalem cannot be
    told apart from UCDP's "Jerusalem district" and stays with Israel. Every other event keeps
    the state it was coded to.
    """
    if iso3 == "ISR" and admin1 is not None and normalise_name(admin1) in _PALESTINIAN_ADMIN1:
        return "PSE"
    return iso3


def _parse_code(code: object) -> int | None:
    """A code given as an int or a string of digits ("4", "004", " 345 "); anything else None.

    "4.0" is refused on purpose: a float-formatted code means a file was mangled on the way.
    """
    if isinstance(code, bool):  # bool is an int subclass; True is not country 1
        return None
    if isinstance(code, int):
        return code
    if isinstance(code, str):
        text = code.strip()
        if CODE_DIGITS.fullmatch(text):
            return int(text)
    return None


class CountryResolver:
    """Maps any source's country value to an ISO3 code of the crosswalk, or to ``None``.

    Built from reference records alone (no database), so connectors can resolve while parsing.
    The alias and succession tables are empty unless given; ``default()`` passes this module's.
    Construction fails when two entries would map one value to different states: a conflict in
    the tables must be settled by a person, not by whichever entry came last.
    """

    def __init__(
        self,
        records: Iterable[CountryRecord],
        *,
        name_aliases: Mapping[str, str] | None = None,
        iso3_aliases: Mapping[str, str] | None = None,
        iso2_aliases: Mapping[str, str] | None = None,
        cow_successions: Mapping[int, str] | None = None,
        gw_successions: Mapping[int, str] | None = None,
    ) -> None:
        self.records: dict[str, CountryRecord] = {}
        for record in records:
            if record.iso3 in self.records:
                raise ValueError(f"iso3 {record.iso3!r} appears twice in the reference")
            self.records[record.iso3] = record
        self._iso3: dict[str, str] = {iso3: iso3 for iso3 in self.records}
        self._iso2: dict[str, str] = {}
        self._m49: dict[int, str] = {}
        self._cow: dict[int, str] = {}
        self._gw: dict[int, str] = {}
        self._names: dict[str, str] = {}
        for record in self.records.values():
            if record.iso2 is not None:
                self._claim(self._iso2, record.iso2, record.iso3, "ISO2 code")
            if record.m49 is not None:
                self._claim(self._m49, record.m49, record.iso3, "M49 code")
            if record.cow_code is not None:
                self._claim(self._cow, record.cow_code, record.iso3, "COW code")
            if record.gw_code is not None:
                self._claim(self._gw, record.gw_code, record.iso3, "GW code")
            self._claim(self._names, normalise_name(record.name), record.iso3, "name")
        for name, iso3 in self._iso_names().items():
            self._claim(self._names, name, iso3, "ISO name")
        for code3, iso3 in (iso3_aliases or {}).items():
            self._alias(self._iso3, code3.upper(), iso3, "ISO3 alias")
        for code2, iso3 in (iso2_aliases or {}).items():
            self._alias(self._iso2, code2.upper(), iso3, "ISO2 alias")
        for number, iso3 in (cow_successions or {}).items():
            self._alias(self._cow, number, iso3, "COW succession")
        for number, iso3 in (gw_successions or {}).items():
            self._alias(self._gw, number, iso3, "GW succession")
        for alias, iso3 in (name_aliases or {}).items():
            self._alias(self._names, normalise_name(alias), iso3, "name alias")
        resolving = sorted(key for key in NOT_COUNTRY_KEYS if key in self._names)
        if resolving:
            raise ValueError(
                f"region or aggregate name(s) {resolving} would resolve to a state; "
                "they must stay unmapped"
            )

    @staticmethod
    def _claim(index: dict[K, str], key: K, iso3: str, label: str) -> None:
        current = index.setdefault(key, iso3)
        if current != iso3:
            raise ValueError(f"{label} {key!r} would map to both {current} and {iso3}")

    def _alias(self, index: dict[K, str], key: K, iso3: str, label: str) -> None:
        if iso3 not in self.records:
            raise ValueError(f"{label} {key!r} points to unknown iso3 {iso3!r}")
        self._claim(index, key, iso3, label)

    def _iso_names(self) -> dict[str, str]:
        """ISO 3166-1's own names (short, official, common) for the states in the reference.

        These are the standard's exact spellings ("Korea, Republic of", "Bolivia, Plurinational
        State of"), which many sources copy, so accepting them is not guessing.
        """
        names: dict[str, str] = {}
        for country in pycountry.countries:
            if country.alpha_3 not in self.records:
                continue
            for attribute in ("name", "official_name", "common_name"):
                value = getattr(country, attribute, None)
                if isinstance(value, str):
                    names.setdefault(normalise_name(value), country.alpha_3)
        return names

    @classmethod
    @functools.cache
    def default(cls) -> CountryResolver:
        """The resolver over the packaged crosswalk and this module's tables, built once."""
        return cls(
            packaged_reference(),
            name_aliases=NAME_ALIASES,
            iso3_aliases=ISO3_ALIASES,
            iso2_aliases=ISO2_ALIASES,
            cow_successions=COW_SUCCESSIONS,
            gw_successions=GW_SUCCESSIONS,
        )

    def from_iso3(self, code: str) -> str | None:
        return self._iso3.get(code.strip().upper()) if isinstance(code, str) else None

    def from_iso2(self, code: str) -> str | None:
        return self._iso2.get(code.strip().upper()) if isinstance(code, str) else None

    def from_m49(self, code: int | str) -> str | None:
        number = _parse_code(code)
        return None if number is None else self._m49.get(number)

    def from_cow(self, code: int | str) -> str | None:
        number = _parse_code(code)
        return None if number is None else self._cow.get(number)

    def from_gw(self, code: int | str) -> str | None:
        number = _parse_code(code)
        return None if number is None else self._gw.get(number)

    def from_name(self, name: str) -> str | None:
        if not isinstance(name, str):
            return None
        key = normalise_name(name)
        return self._names.get(key) if key else None

    def resolve(self, value: int | str, scheme: Scheme) -> str | None:
        """Dispatch on ``scheme``; a value of the wrong type for its scheme resolves to None."""
        if scheme not in SCHEMES:
            raise ValueError(
                f"unknown country code scheme {scheme!r}; use one of {', '.join(SCHEMES)}"
            )
        if scheme == "m49":
            return self.from_m49(value)
        if scheme == "cow":
            return self.from_cow(value)
        if scheme == "gw":
            return self.from_gw(value)
        if not isinstance(value, str):
            return None
        if scheme == "iso3":
            return self.from_iso3(value)
        if scheme == "iso2":
            return self.from_iso2(value)
        return self.from_name(value)


def resolve_or_raise(value: int | str, scheme: Scheme) -> str:
    """The ISO3 for ``value`` read as ``scheme``, or ``UnmappedCountryError``."""
    iso3 = CountryResolver.default().resolve(value, scheme)
    if iso3 is None:
        raise UnmappedCountryError(value, scheme)
    return iso3


def _fields(record: CountryRecord) -> dict[str, object]:
    return {
        "iso2": record.iso2,
        "m49": record.m49,
        "gw_code": record.gw_code,
        "cow_code": record.cow_code,
        "name": record.name,
        "region": None if record.region is None else record.region.value,
        "is_historical": record.is_historical,
    }


def seed_countries(session: Session) -> int:
    """Insert missing reference states and bring changed ones up to date; returns how many.

    Rows no longer in the reference are kept: observations and alerts may point at them. The
    caller commits.
    """
    existing = repository.all_by_iso3(session)
    records = load_reference()
    wanted = {record.iso3: _fields(record) for record in records}
    # An ISO2 moving from one row to another must be released before it is given again, or
    # the unique index sees two holders in the middle of the flush.
    wanted_iso2 = {record.iso2: record.iso3 for record in records if record.iso2 is not None}
    releasing = {
        iso3
        for iso3, row in existing.items()
        if row.iso2 is not None and wanted_iso2.get(row.iso2, iso3) != iso3
    }
    if releasing:
        for iso3 in releasing:
            existing[iso3].iso2 = None
        session.flush()
    changed = 0
    for iso3, fields in wanted.items():
        country = existing.get(iso3)
        if country is None:
            repository.add(session, Country(iso3=iso3, **fields))
            changed += 1
            continue
        differences = {k: v for k, v in fields.items() if getattr(country, k) != v}
        for key, value in differences.items():
            setattr(country, key, value)
        if differences or iso3 in releasing:
            changed += 1
    session.flush()
    return changed
