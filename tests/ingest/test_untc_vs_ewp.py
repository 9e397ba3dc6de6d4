"""What EWP's ``ios.iccpr1`` measures, so ``iccpr_ratified`` reads the matching UNTC variable.

EWP describes the column only as an ICCPR ratification indicator. On the shared EWP file
(read at test time, never copied) it is 0 in every year for states that ratified the Covenant
but never its First Optional Protocol, and turns 1 in the year each state joined the Protocol:
it is ``untc.iccpr_op1_party``, not ``untc.iccpr_party``. The years below are the Protocol's and
the Covenant's status table as the UN Treaty Collection publishes it.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from earlywarn.countries.service import CountryResolver

EWP = Path("data/ewp/prepared2024predictors-2025-09-03.csv")
# Party to the First Optional Protocol since (accession or ratification year).
OP1_SINCE = {"CAN": 1976, "FRA": 1984, "DEU": 1993, "COL": 1969, "AUS": 1991, "PHL": 1989}
OP1_SINCE |= {"NPL": 1991, "KAZ": 2009, "TUR": 2006, "GHA": 2000, "LKA": 1997, "UZB": 1995}
# Party to the Covenant (since) but never to the Protocol.
ICCPR_ONLY = {"USA": 1992, "GBR": 1976, "IND": 1979, "JPN": 1979, "PAK": 2010, "IDN": 2006}
ICCPR_ONLY |= {"ISR": 1991, "KEN": 1972, "CHE": 1992, "THA": 1996, "BGD": 2000}


def _column(shared_dir: Path) -> dict[tuple[str, int], float]:
    path = shared_dir / EWP
    if not path.is_file():
        pytest.skip(f"EWP file not found at {path}")
    resolver = CountryResolver.default()
    values: dict[tuple[str, int], float] = {}
    with path.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            iso3 = resolver.from_cow(row["ccode"])
            if iso3 is not None and row["ios.iccpr1"] not in ("NA", ""):
                values[(iso3, int(row["year"]))] = float(row["ios.iccpr1"])
    return values


def test_ewp_iccpr1_is_the_first_optional_protocol(shared_dir: Path) -> None:
    values = _column(shared_dir)
    for iso3, since in OP1_SINCE.items():
        assert values[(iso3, since - 1)] == 0.0, iso3
        assert values[(iso3, since)] == 1.0, iso3
    for iso3, since in ICCPR_ONLY.items():
        later = [v for (code, year), v in values.items() if code == iso3 and year >= since]
        assert later, iso3
        assert set(later) == {0.0}, f"{iso3} is 1 after joining the Covenant only"
