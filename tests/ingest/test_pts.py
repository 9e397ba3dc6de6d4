"""The Political Terror Scale file: scores, NA reasons, country identity and broken files."""

from __future__ import annotations

from pathlib import Path

import pytest

from earlywarn.countries.service import CountryResolver
from earlywarn.ingest.errors import FileFormatError
from earlywarn.ingest.pts import parse_pts
from earlywarn.ingest.schemas import LoadedPayload

HEADER = (
    "Country,Country_OLD,Year,COW_Code_A,COW_Code_N,WordBank_Code_A,UN_Code_N,Region,"
    "PTS_A,PTS_H,PTS_S,NA_Status_A,NA_Status_H,NA_Status_S\n"
)
PTS_FIXTURE = Path("fixtures") / "pts" / "PTS-2024_SUBSET_selected_countries_2021-2023.csv"


def _parse(text: str) -> LoadedPayload:
    return parse_pts(text.encode(), name="pts.csv", resolver=CountryResolver.default())


def _values(payload: LoadedPayload) -> dict[tuple[str, str, str], float]:
    return {(r.iso3, r.variable, r.period): r.value for r in payload.records}


def test_small_file(data_dir: Path) -> None:
    content = (data_dir / "pts_small.csv").read_bytes()
    payload = parse_pts(content, name="pts_small.csv", resolver=CountryResolver.default())
    values = _values(payload)
    assert values[("KEN", "pts.PTS_A", "2022")] == 3.0
    assert ("KEN", "pts.PTS_H", "2022") not in values
    assert values[("KEN", "pts.PTS_max", "2022")] == 3.0
    assert values[("KEN", "pts.PTS_max", "2023")] == 4.0
    assert values[("SOM", "pts.PTS_S", "2023")] == 5.0
    assert not [key for key in values if key[0] == "COL"]  # all three NA: nothing, not zero
    assert payload.rows_read == 4 * 4
    assert len(payload.records) + payload.rows_skipped == payload.rows_read
    assert payload.details["missing_by_na_status"] == {
        "PTS_A": {"99": 1},
        "PTS_H": {"88": 2},
        "PTS_S": {"99": 1},
    }


def test_real_release_subset(shared_dir: Path) -> None:
    content = (shared_dir / PTS_FIXTURE).read_bytes()
    payload = parse_pts(content, name="PTS-2024", resolver=CountryResolver.default())
    values = _values(payload)
    assert values[("AFG", "pts.PTS_S", "2023")] == 5.0
    # Denmark: COW alpha DEN, World Bank DNK, COW 390; HRW does not report on it (88).
    assert values[("DNK", "pts.PTS_A", "2022")] == 1.0
    assert ("DNK", "pts.PTS_H", "2022") not in values
    # Kosovo: KSV and 347 both mean XKX.
    assert values[("XKX", "pts.PTS_H", "2023")] == 2.0
    assert values[("SSD", "pts.PTS_max", "2021")] == 5.0
    assert values[("SDN", "pts.PTS_A", "2021")] == 4.0
    assert values[("SYR", "pts.PTS_max", "2023")] == 5.0
    # Western Sahara has no COW code, only ESH; 2023 is all NA.
    assert values[("ESH", "pts.PTS_max", "2022")] == 3.0
    assert ("ESH", "pts.PTS_max", "2023") not in values
    # "Israel in Occupied Territories" resolves to PSE by name, and has no scores (66).
    assert not [key for key in values if key[0] == "PSE"]
    assert payload.details["missing_by_na_status"] == {
        "PTS_A": {"66": 4},
        "PTS_H": {"66": 4, "88": 3},
        "PTS_S": {"66": 6},
    }
    assert payload.details["countries"] == 10
    assert payload.details["file_rows"] == 30
    assert len(payload.records) + payload.rows_skipped == payload.rows_read


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("", "empty file"),
        (
            HEADER.replace("PTS_H", "PTS_HRW"),
            "missing required column(s) 'PTS_H'",
        ),
        (
            HEADER.replace("WordBank_Code_A", "WB_Code"),
            "missing required column(s) 'WordBank_Code_A'",
        ),
        (HEADER, "no data rows"),
        (
            HEADER + "Kenya,Kenya,2023,KEN,501,KEN,404,ssa,high,3,3,0,0,0\n",
            "line 2: column 'PTS_A': 'high' is not a score (1-5 or NA)",
        ),
        (
            HEADER + "Kenya,Kenya,2023,KEN,501,KEN,404,ssa,6,3,3,0,0,0\n",
            "line 2: column 'PTS_A': '6' is not a score",
        ),
        (
            HEADER + "Kenya,Kenya,2023,KEN,501,KEN,404,ssa,-,3,3,0,0,0\n",
            "'-' is not a score",
        ),
        (
            HEADER + "Kenya,Kenya,2023,KEN,501,KEN,404,ssa,2.5,3,3,0,0,0\n",
            "'2.5' is not a score",
        ),
        (
            HEADER + "Kenya,Kenya,twenty,KEN,501,KEN,404,ssa,2,3,3,0,0,0\n",
            "column 'Year': 'twenty' is not a year",
        ),
        (
            HEADER + "Kenya,Kenya,2023,KEN,9999,KEN,404,ssa,2,3,3,0,0,0\n",
            "COW_Code_N '9999' is not a Correlates-of-War code",
        ),
        (
            HEADER + "Kenya,Kenya,2023,KEN,501,SOM,404,ssa,2,3,3,0,0,0\n",
            "COW_Code_N 501 means KEN but WordBank_Code_A 'SOM' means SOM",
        ),
        (
            HEADER
            + "Kenya,Kenya,2023,KEN,501,KEN,404,ssa,2,3,3,0,0,0\n"
            + "Kenya,Kenya,2023,KEN,501,KEN,404,ssa,2,3,3,0,0,0\n",
            "lines 2 and 3 are both KEN 2023",
        ),
        (
            HEADER + "Kenya,Kenya,2023,KEN,501,KEN,404,ssa,2,3\n",
            "line 2: 10 fields, the header has 14",
        ),
        (
            HEADER
            + "Somaliland,Somaliland,2022,NA,NA,NA,NA,ssa,3,3,3,0,0,0\n"
            + "Somaliland,Somaliland,2023,NA,NA,NA,NA,ssa,3,3,3,0,0,0\n"
            + "Middle East,Middle East,2023,NA,NA,NA,NA,mena,3,3,3,0,0,0\n",
            "2 country name(s) with no ISO3 mapping and no usable code: 'Middle East' (line 4); "
            "'Somaliland' (lines 2, 3)",
        ),
    ],
)
def test_broken_files_fail_with_a_clear_message(body: str, message: str) -> None:
    with pytest.raises(FileFormatError) as info:
        _parse(body)
    assert message in str(info.value)
    assert str(info.value).startswith("PTS file pts.csv")


def test_former_state_code_under_its_successor_cow_number_is_one_series() -> None:
    payload = _parse(
        HEADER
        + "Yugoslavia,Yugoslavia,1991,YUG,345,YUG,891,eca,4,NA,3,0,88,0\n"
        + "Serbia,Serbia,2010,SRB,345,SRB,688,eca,2,2,2,0,0,0\n"
    )
    assert _values(payload)[("SRB", "pts.PTS_A", "1991")] == 4.0
    assert _values(payload)[("SRB", "pts.PTS_A", "2010")] == 2.0


def test_status_columns_are_optional() -> None:
    header = HEADER.replace(",NA_Status_A,NA_Status_H,NA_Status_S", "")
    payload = _parse(header + "Kenya,Kenya,2023,KEN,501,KEN,404,ssa,NA,3,3\n")
    assert payload.details["missing_by_na_status"] == {"PTS_A": {"not given": 1}}
