"""Write ``src/earlywarn/countries/data/states.csv``, the country crosswalk, from pycountry.

The ISO 3166-1 part (alpha-3, alpha-2, numeric) comes from the installed pycountry so it never
drifts from the standard; the Correlates-of-War and Gleditsch-Ward codes, the UN M49 regions,
the short names and the historical states are the tables below, checked entry by entry. See
``src/earlywarn/countries/data/README.md`` for the decisions behind the non-obvious rows.

Usage:
    python scripts/build_states_csv.py           # rewrite the CSV
    python scripts/build_states_csv.py --check   # exit 1 if the CSV differs from the tables
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from pathlib import Path

import pycountry

REPO_DIR = Path(__file__).resolve().parent.parent
CSV_PATH = REPO_DIR / "src" / "earlywarn" / "countries" / "data" / "states.csv"
COLUMNS = ("iso3", "iso2", "m49", "cow_code", "gw_code", "name", "region", "is_historical")

# (COW code, GW code) per ISO3. Equal for most states; the differences are deliberate:
# Germany: COW 255 is Germany (1816-1945, 1990-), GW 260 is the Federal Republic (1949-).
# Serbia: COW 345 is Yugoslavia/Serbia throughout; GW 340 is Serbia (1878-1915, 2006-).
# Yemen: COW 679 is unified Yemen (1990-) and COW 678 the Yemen Arab Republic (1926-1990, its
# own row YAR); GW 678 is Yemen continuing the Arab Republic, so YAR has no GW code.
# Pacific micro-states: the GW micro-state list numbers them 970-973, not as COW does.
STATE_CODES: dict[str, tuple[int | None, int | None]] = {
    # Americas
    "USA": (2, 2), "CAN": (20, 20), "BHS": (31, 31), "CUB": (40, 40), "HTI": (41, 41),
    "DOM": (42, 42), "JAM": (51, 51), "TTO": (52, 52), "BRB": (53, 53), "DMA": (54, 54),
    "GRD": (55, 55), "LCA": (56, 56), "VCT": (57, 57), "ATG": (58, 58), "KNA": (60, 60),
    "MEX": (70, 70), "BLZ": (80, 80), "GTM": (90, 90), "HND": (91, 91), "SLV": (92, 92),
    "NIC": (93, 93), "CRI": (94, 94), "PAN": (95, 95), "COL": (100, 100), "VEN": (101, 101),
    "GUY": (110, 110), "SUR": (115, 115), "ECU": (130, 130), "PER": (135, 135),
    "BRA": (140, 140), "BOL": (145, 145), "PRY": (150, 150), "CHL": (155, 155),
    "ARG": (160, 160), "URY": (165, 165),
    # Europe
    "GBR": (200, 200), "IRL": (205, 205), "NLD": (210, 210), "BEL": (211, 211),
    "LUX": (212, 212), "FRA": (220, 220), "MCO": (221, 221), "LIE": (223, 223),
    "CHE": (225, 225), "ESP": (230, 230), "AND": (232, 232), "PRT": (235, 235),
    "DEU": (255, 260), "DDR": (265, 265), "POL": (290, 290), "AUT": (305, 305),
    "HUN": (310, 310), "CSK": (315, 315), "CZE": (316, 316), "SVK": (317, 317),
    "ITA": (325, 325), "SMR": (331, 331), "MLT": (338, 338), "ALB": (339, 339),
    "MNE": (341, 341), "MKD": (343, 343), "HRV": (344, 344), "SRB": (345, 340),
    "BIH": (346, 346), "XKX": (347, 347), "SVN": (349, 349), "GRC": (350, 350),
    "CYP": (352, 352), "BGR": (355, 355), "MDA": (359, 359), "ROU": (360, 360),
    "RUS": (365, 365), "EST": (366, 366), "LVA": (367, 367), "LTU": (368, 368),
    "UKR": (369, 369), "BLR": (370, 370), "ARM": (371, 371), "GEO": (372, 372),
    "AZE": (373, 373), "FIN": (375, 375), "SWE": (380, 380), "NOR": (385, 385),
    "DNK": (390, 390), "ISL": (395, 395),
    # Africa
    "CPV": (402, 402), "STP": (403, 403), "GNB": (404, 404), "GNQ": (411, 411),
    "GMB": (420, 420), "MLI": (432, 432), "SEN": (433, 433), "BEN": (434, 434),
    "MRT": (435, 435), "NER": (436, 436), "CIV": (437, 437), "GIN": (438, 438),
    "BFA": (439, 439), "LBR": (450, 450), "SLE": (451, 451), "GHA": (452, 452),
    "TGO": (461, 461), "CMR": (471, 471), "NGA": (475, 475), "GAB": (481, 481),
    "CAF": (482, 482), "TCD": (483, 483), "COG": (484, 484), "COD": (490, 490),
    "UGA": (500, 500), "KEN": (501, 501), "TZA": (510, 510), "BDI": (516, 516),
    "RWA": (517, 517), "SOM": (520, 520), "DJI": (522, 522), "ETH": (530, 530),
    "ERI": (531, 531), "AGO": (540, 540), "MOZ": (541, 541), "ZMB": (551, 551),
    "ZWE": (552, 552), "MWI": (553, 553), "ZAF": (560, 560), "NAM": (565, 565),
    "LSO": (570, 570), "BWA": (571, 571), "SWZ": (572, 572), "MDG": (580, 580),
    "COM": (581, 581), "MUS": (590, 590), "SYC": (591, 591),
    # Middle East and North Africa
    "MAR": (600, 600), "DZA": (615, 615), "TUN": (616, 616), "LBY": (620, 620),
    "SDN": (625, 625), "SSD": (626, 626), "IRN": (630, 630), "TUR": (640, 640),
    "IRQ": (645, 645), "EGY": (651, 651), "SYR": (652, 652), "LBN": (660, 660),
    "JOR": (663, 663), "ISR": (666, 666), "SAU": (670, 670), "YAR": (678, None),
    "YEM": (679, 678), "YMD": (680, 680), "KWT": (690, 690), "BHR": (692, 692), "QAT": (694, 694),
    "ARE": (696, 696), "OMN": (698, 698),
    # Asia
    "AFG": (700, 700), "TKM": (701, 701), "TJK": (702, 702), "KGZ": (703, 703),
    "UZB": (704, 704), "KAZ": (705, 705), "CHN": (710, 710), "MNG": (712, 712),
    "TWN": (713, 713), "PRK": (731, 731), "KOR": (732, 732), "JPN": (740, 740),
    "IND": (750, 750), "BTN": (760, 760), "PAK": (770, 770), "BGD": (771, 771),
    "MMR": (775, 775), "LKA": (780, 780), "MDV": (781, 781), "NPL": (790, 790),
    "THA": (800, 800), "KHM": (811, 811), "LAO": (812, 812), "VNM": (816, 816),
    "RVN": (817, 817), "MYS": (820, 820), "SGP": (830, 830), "BRN": (835, 835),
    "PHL": (840, 840), "IDN": (850, 850), "TLS": (860, 860),
    # Oceania
    "AUS": (900, 900), "PNG": (910, 910), "NZL": (920, 920), "VUT": (935, 935),
    "SLB": (940, 940), "KIR": (946, 970), "TUV": (947, 973), "FJI": (950, 950),
    "TON": (955, 972), "NRU": (970, 971), "MHL": (983, 983), "PLW": (986, 986),
    "FSM": (987, 987), "WSM": (990, 990),
}  # fmt: skip

# UN M49 regions by ISO alpha-2. Antarctica (AQ) belongs to no M49 region and stays empty.
# Taiwan is not listed in M49; it is placed in Asia, where M49 places the rest of Eastern Asia.
REGION_MEMBERS: dict[str, str] = {
    "Africa": (
        "DZ EG LY MA SD TN EH "  # Northern Africa
        "IO BI KM DJ ER ET TF KE MG MW MU YT MZ RE RW SC SO SS UG TZ ZM ZW "  # Eastern
        "AO CM CF TD CG CD GQ GA ST "  # Middle
        "BW SZ LS NA ZA "  # Southern
        "BJ BF CV CI GM GH GN GW LR ML MR NE NG SH SN SL TG"  # Western
    ),
    "Americas": (
        "AI AG AW BS BB BQ VG KY CU CW DM DO GD GP HT JM MQ MS PR BL KN LC MF VC SX TT TC VI "
        "BZ CR SV GT HN MX NI PA "  # Central America
        "AR BO BV BR CL CO EC FK GF GY PY PE GS SR UY VE "  # South America
        "BM CA GL PM US"  # Northern America
    ),
    "Asia": (
        "KZ KG TJ TM UZ "  # Central
        "CN HK MO KP JP MN KR TW "  # Eastern
        "BN KH ID LA MY MM PH SG TH TL VN "  # South-eastern
        "AF BD BT IN IR MV NP PK LK "  # Southern
        "AM AZ BH CY GE IQ IL JO KW LB OM QA SA PS SY TR AE YE"  # Western
    ),
    "Europe": (
        "BY BG CZ HU PL MD RO RU SK UA "  # Eastern
        "AX DK EE FO FI GG IS IE IM JE LV LT NO SJ SE GB "  # Northern
        "AL AD BA HR GI GR VA IT MT ME MK PT SM RS SI ES "  # Southern
        "AT BE FR DE LI LU MC NL CH"  # Western
    ),
    "Oceania": (
        "AU CX CC HM NZ NF "  # Australia and New Zealand
        "FJ NC PG SB VU "  # Melanesia
        "GU KI MH FM NR MP PW UM "  # Micronesia
        "AS CK PF NU PN WS TK TO TV WF"  # Polynesia
    ),
}
NO_REGION = {"AQ"}

# Short common English names where ISO's short name is inverted ("Korea, Republic of") or
# formal; pycountry's own ``common_name`` is used when it has one.
SHORT_NAMES: dict[str, str] = {
    "BRN": "Brunei",
    "COD": "Democratic Republic of the Congo",
    "COG": "Republic of the Congo",
    "FLK": "Falkland Islands",
    "FSM": "Micronesia",
    "PSE": "Palestine",
    "RUS": "Russia",
    "SHN": "Saint Helena, Ascension and Tristan da Cunha",
    "VAT": "Vatican City",
    "VGB": "British Virgin Islands",
    "VIR": "United States Virgin Islands",
}

# States that are not (or no longer) in ISO 3166-1: (iso3, iso2, m49, name, region, historical).
# Codes of former states come from ISO 3166-3 (numeric 886 and 714 from ISO 3166-1's deleted
# codes); XKX is the World Bank's code, YAR and RVN are the COW state abbreviations (see README).
EXTRA_STATES: tuple[tuple[str, str, int | None, str, str, bool], ...] = (
    ("XKX", "XK", None, "Kosovo", "Europe", False),
    ("DDR", "DD", 278, "East Germany", "Europe", True),
    ("CSK", "", 200, "Czechoslovakia", "Europe", True),
    ("YUG", "YU", 891, "Yugoslavia", "Europe", True),
    ("SUN", "SU", 810, "Soviet Union", "Europe", True),
    ("YAR", "", 886, "North Yemen", "Asia", True),
    ("YMD", "YD", 720, "South Yemen", "Asia", True),
    ("RVN", "", 714, "South Vietnam", "Asia", True),
)


def _region_by_iso2() -> dict[str, str]:
    regions: dict[str, str] = {}
    for region, members in REGION_MEMBERS.items():
        for iso2 in members.split():
            if iso2 in regions:
                raise SystemExit(f"{iso2} is listed in both {regions[iso2]} and {region}")
            regions[iso2] = region
    return regions


def build_rows() -> list[dict[str, str]]:
    regions = _region_by_iso2()
    rows: list[dict[str, str]] = []
    iso_alpha3: set[str] = set()
    for country in pycountry.countries:
        alpha2: str = country.alpha_2
        alpha3: str = country.alpha_3
        iso_alpha3.add(alpha3)
        if alpha2 not in regions and alpha2 not in NO_REGION:
            raise SystemExit(f"no M49 region for {alpha2} ({country.name}); add it to the table")
        name = SHORT_NAMES.get(alpha3) or getattr(country, "common_name", None) or country.name
        region = regions.get(alpha2, "")
        rows.append(_row(alpha3, alpha2, int(country.numeric), name, region, False))
    former = {country.alpha_3: country for country in pycountry.historic_countries}
    for iso3, iso2, m49, name, region, historical in EXTRA_STATES:
        if iso3 in iso_alpha3:
            raise SystemExit(f"{iso3} is now an ISO 3166-1 code; remove it from EXTRA_STATES")
        # A former state keeps its own ISO 3166-3 code; any other code must not borrow one.
        if iso3 in former and iso2 and former[iso3].alpha_2 != iso2:
            raise SystemExit(f"{iso3}: ISO 3166-3 gives alpha-2 {former[iso3].alpha_2}, not {iso2}")
        if iso3 in former and not historical:
            raise SystemExit(f"{iso3} is a former ISO code; a current state must not reuse it")
        rows.append(_row(iso3, iso2, m49, name, region, historical))
    for column in ("iso2", "cow_code", "gw_code"):
        values = [row[column] for row in rows if row[column]]
        repeated = sorted({v for v in values if values.count(v) > 1})
        if repeated:
            raise SystemExit(f"{column} values used by more than one row: {repeated}")
    unknown = set(STATE_CODES) - {row["iso3"] for row in rows}
    if unknown:
        raise SystemExit(f"COW/GW codes given for unknown ISO3 codes: {sorted(unknown)}")
    stale_regions = set(regions) - {row["iso2"] for row in rows}
    if stale_regions:
        raise SystemExit(f"regions given for unknown ISO2 codes: {sorted(stale_regions)}")
    return sorted(rows, key=lambda row: row["iso3"])


def _row(
    iso3: str, iso2: str, m49: int | None, name: str, region: str, historical: bool
) -> dict[str, str]:
    cow, gw = STATE_CODES.get(iso3, (None, None))
    return {
        "iso3": iso3,
        "iso2": iso2,
        "m49": "" if m49 is None else str(m49),
        "cow_code": "" if cow is None else str(cow),
        "gw_code": "" if gw is None else str(gw),
        "name": name,
        "region": region,
        "is_historical": "true" if historical else "false",
    }


def render(rows: list[dict[str, str]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)
    text = render(build_rows())
    if args.check:
        current = CSV_PATH.read_text(encoding="utf-8") if CSV_PATH.exists() else ""
        if current != text:
            sys.stderr.write(f"{CSV_PATH} is out of date: run scripts/build_states_csv.py\n")
            return 1
        return 0
    CSV_PATH.parent.mkdir(parents=True, exist_ok=True)
    CSV_PATH.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
