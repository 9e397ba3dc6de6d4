"""Ethnic Power Relations: group periods become country-year population shares."""

from __future__ import annotations

from pathlib import Path

import pytest

from earlywarn.countries.service import CountryResolver
from earlywarn.ingest.epr import parse_epr
from earlywarn.ingest.errors import FileFormatError
from earlywarn.ingest.schemas import LoadedPayload

HEADER = "gwid,statename,from,to,group,groupid,gwgroupid,umbrella,size,status,reg_aut\n"
EPR_FIXTURE = Path("fixtures") / "epr" / "EPR-2019_SUBSET.csv"


def _parse(text: str, start_year: int | None = None) -> LoadedPayload:
    return parse_epr(
        text.encode(), name="epr.csv", resolver=CountryResolver.default(), start_year=start_year
    )


def _values(payload: LoadedPayload) -> dict[tuple[str, str, str], float]:
    return {(r.iso3, r.variable, r.period): r.value for r in payload.records}


def test_small_file(data_dir: Path) -> None:
    payload = parse_epr(
        (data_dir / "epr_small.csv").read_bytes(),
        name="epr_small.csv",
        resolver=CountryResolver.default(),
    )
    assert _values(payload) == {
        ("KEN", "epr.discrimpop", "2019"): 0.05,
        ("KEN", "epr.exclpop", "2019"): 0.25,  # powerless 0.20 + discriminated 0.05
        ("KEN", "epr.discrimpop", "2020"): 0.0,  # self-exclusion is not discrimination
        ("KEN", "epr.exclpop", "2020"): 0.2,  # ... nor counted as excluded
        ("SOM", "epr.discrimpop", "2020"): 0.0,
        ("SOM", "epr.exclpop", "2020"): 0.0,
        # 1 - (0.40^2 + 0.20^2 + 0.05^2 + 0.10^2): every listed group, whatever its status
        ("KEN", "epr.group_fractionalisation", "2019"): 0.7875,
        ("KEN", "epr.group_fractionalisation", "2020"): 0.7875,
        ("SOM", "epr.group_fractionalisation", "2020"): 0.75,  # one group of half the people
        # SOM 2019: state collapse, no shares at all (not zero)
    }
    assert payload.rows_read == 12
    assert payload.rows_skipped == 3
    assert payload.details["skipped"] == {"state_collapse": 3}


def test_start_year_leaves_out_earlier_years(data_dir: Path) -> None:
    payload = parse_epr(
        (data_dir / "epr_small.csv").read_bytes(),
        name="epr_small.csv",
        resolver=CountryResolver.default(),
        start_year=2020,
    )
    assert {r.period for r in payload.records} == {"2020"}
    assert payload.details["group_years_before_start_year"] == 5


def test_real_release_subset(shared_dir: Path) -> None:
    payload = parse_epr(
        (shared_dir / EPR_FIXTURE).read_bytes(),
        name="EPR-2019",
        resolver=CountryResolver.default(),
    )
    values = _values(payload)
    # Bosnia 1992-1995: Roma (0.01) discriminated; Serbs self-excluded, not counted.
    assert values[("BIH", "epr.discrimpop", "1993")] == 0.01
    assert values[("BIH", "epr.exclpop", "1993")] == 0.01
    assert values[("MMR", "epr.exclpop", "2017")] == pytest.approx(0.307)
    assert values[("SDN", "epr.exclpop", "2010")] == pytest.approx(0.737)
    # "Serbia and Montenegro" (GW 345) and "Serbia" (GW 340) are one series: SRB.
    assert ("SRB", "epr.exclpop", "1992") in values
    assert ("SRB", "epr.exclpop", "2007") in values
    assert ("COD", "epr.exclpop", "1960") in values  # "Congo, DRC", GW 490
    assert payload.details["countries"] == 12
    assert payload.details["file_rows"] == 569
    assert all(0.0 <= r.value <= 1.0 for r in payload.records)
    assert len(payload.records) + payload.rows_skipped == payload.rows_read


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("", "empty file"),
        (HEADER.replace("status", "state_status"), "missing required column(s) 'status'"),
        (HEADER, "no data rows"),
        (
            HEADER + "501,Kenya,2019,2019,A,1,50101,,0.4,RULING,\n",
            "line 2: column 'status': 'RULING' is not an EPR status",
        ),
        (HEADER + "501,Kenya,2019,2019,A,1,50101,,big,POWERLESS,\n", "'big' is not a number"),
        (HEADER + "501,Kenya,2019,2019,A,1,50101,,,POWERLESS,\n", "column 'size' is empty"),
        (HEADER + "501,Kenya,2019,2019,A,1,50101,,1.4,POWERLESS,\n", "not a population share"),
        (HEADER + "501,Kenya,2019,2019,A,1,50101,,-0.1,POWERLESS,\n", "not a population share"),
        (HEADER + "501,Kenya,2019,2019,A,1,50101,,NA,POWERLESS,\n", "'NA' is not a number"),
        (HEADER + "501,Kenya,2020,2019,A,1,50101,,0.1,POWERLESS,\n", "ends before it starts"),
        (HEADER + "Kenya,Kenya,2019,2019,A,1,50101,,0.1,POWERLESS,\n", "'gwid': 'Kenya'"),
        (
            HEADER
            + "501,Kenya,2015,2019,A,1,50101,,0.1,POWERLESS,\n"
            + "501,Kenya,2019,2020,A,1,50101,,0.1,DISCRIMINATED,\n",
            "lines 2 and 3 both give group 50101 of GW 501 for 2019 (overlapping periods)",
        ),
        (
            HEADER
            + "501,Kenya,2019,2019,A,1,50101,,0.7,POWERLESS,\n"
            + "501,Kenya,2019,2019,B,2,50102,,0.6,DOMINANT,\n",
            "add up to 1.300 of the population in 2019",
        ),
        (
            HEADER
            + "999,Atlantis,2019,2019,A,1,99901,,0.1,POWERLESS,\n"
            + "6661,Palestine,2019,2019,A,1,666101,,0.1,POWERLESS,\n",
            "2 Gleditsch-Ward code(s) with no ISO3 mapping: 999 ('Atlantis'), 6661 ('Palestine')",
        ),
    ],
)
def test_broken_files_fail_with_a_clear_message(body: str, message: str) -> None:
    with pytest.raises(FileFormatError) as info:
        _parse(body)
    assert message in str(info.value)
    assert str(info.value).startswith("EPR file epr.csv")


def test_two_codes_of_one_state_in_the_same_year_are_rejected() -> None:
    with pytest.raises(FileFormatError, match=r"GW 340 \('Serbia'\) and GW 345"):
        _parse(
            HEADER
            + "340,Serbia,2006,2006,A,1,34001,,0.1,POWERLESS,\n"
            + "345,Serbia and Montenegro,2006,2006,A,1,34501,,0.1,POWERLESS,\n"
        )
