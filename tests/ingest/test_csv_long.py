from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import pytest

from earlywarn.ingest.csv_long import load_long_csv, parse_long_csv
from earlywarn.ingest.errors import FileFormatError, IngestError
from earlywarn.ingest.schemas import ObservationRecord

KNOWN = {"AFG", "COL", "KEN", "SDN"}


def parse(text: str) -> list[ObservationRecord]:
    return parse_long_csv(text.encode("utf-8"), name="t.csv", known_iso3s=KNOWN).records


def test_good_file_parses_every_value_and_counts_empty_cells(data_dir: Path) -> None:
    payload = load_long_csv(data_dir / "good.csv", known_iso3s=KNOWN)

    assert payload.rows_read == 6
    assert payload.rows_skipped == 1
    assert payload.details["skipped"] == {"empty_value": 1}
    assert (
        payload.content_digest == hashlib.sha256((data_dir / "good.csv").read_bytes()).hexdigest()
    )
    assert payload.source_uri == str(data_dir / "good.csv")
    assert payload.records[0] == ObservationRecord(
        "AFG", "test.deaths", "2022", date(2022, 1, 1), date(2022, 12, 31), 120.0
    )
    assert [(r.iso3, r.period, r.value) for r in payload.records[1:]] == [
        ("AFG", "2023", 340.5),
        ("COL", "2023", 15.0),
        ("SDN", "2023", 2_500_000.0),
        ("SDN", "2024", 3_100_000.0),
    ]


def test_header_is_case_insensitive_and_byte_order_mark_is_ignored() -> None:
    content = "\ufeffISO3,Variable,Year,Value\nafg,test.x,2020,1\n".encode()
    payload = parse_long_csv(content, name="bom.csv", known_iso3s=KNOWN)
    assert [(r.iso3, r.variable, r.value) for r in payload.records] == [("AFG", "test.x", 1.0)]


def test_identical_duplicate_is_skipped_not_an_error() -> None:
    payload = parse_long_csv(
        b"iso3,variable,year,value\nAFG,test.x,2020,1\nAFG,test.x,2020,1.0\n",
        name="dup.csv",
        known_iso3s=KNOWN,
    )
    assert len(payload.records) == 1
    assert payload.details["skipped"] == {"identical_duplicate": 1}


def test_missing_column_is_named(data_dir: Path) -> None:
    with pytest.raises(IngestError) as caught:
        load_long_csv(data_dir / "missing_column.csv", known_iso3s=KNOWN)
    assert str(caught.value) == (
        f"long-format CSV {data_dir / 'missing_column.csv'}: missing column(s) 'value' "
        "(expected iso3, variable, year, value[, source])"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "iso3,variable,year,value\nCOL,test.x,2023,about 15\n",
            "line 2: column 'value': 'about 15' is not a number",
        ),
        (
            "iso3,variable,year,value\nCOL,test.x,2023,nan\n",
            "line 2: column 'value': 'nan' is not a finite number",
        ),
        ("iso3,variable,year,value\nCOL,test.x,2023,-inf\n", "'-inf' is not a finite number"),
        (
            "iso3,variable,year,value\nAFG,test.x,2023,1\nXKX,test.x,2023,4\n",
            "line 3: unknown country code 'XKX'",
        ),
        ("iso3,variable,year,value\n,test.x,2023,4\n", "line 2: column 'iso3' is empty"),
        (
            "iso3,variable,year,value\nAFG,deaths,2023,4\n",
            "line 2: column 'variable': 'deaths' is not a variable",
        ),
        ("iso3,variable,year,value\nAFG,Test.x,2023,4\n", "'Test.x' is not a variable"),
        (
            "iso3,variable,year,value\nAFG,test.x,2023-01,4\n",
            "line 2: column 'year': '2023-01' is not an integer year",
        ),
        ("iso3,variable,year,value\nAFG,test.x,23,4\n", "year 23 is outside 1800-2200"),
        ("iso3,variable,year,value\nAFG,test.x,2023\n", "line 2: 3 fields, the header has 4"),
        (
            "iso3,variable,year,value,colour\nAFG,test.x,2023,1,red\n",
            "unexpected column(s) 'colour'",
        ),
        ("iso3,variable,year,value,value\n", "column(s) 'value' appear more than once"),
        ("", "empty file"),
        (
            "iso3,variable,year,value\nAFG,test.x,2020,1\n\nCOL,test.x,2020,2\nAFG,test.x,2020,3\n",
            "lines 2 and 5 give different values for AFG test.x 2020 (1.0 and 3.0)",
        ),
    ],
)
def test_bad_input_names_line_column_and_value(text: str, expected: str) -> None:
    with pytest.raises(FileFormatError) as caught:
        parse(text)
    assert expected in str(caught.value)
    assert str(caught.value).startswith("long-format CSV t.csv: ")


def test_non_utf8_file_is_rejected_with_the_byte_offset() -> None:
    content = b"iso3,variable,year,value\nCOL,test.x,2023,1\n" + b"\xe9"
    with pytest.raises(
        FileFormatError, match=r"not UTF-8 text \(invalid byte 0xe9 at byte offset 43\)"
    ):
        parse_long_csv(content, name="latin1.csv", known_iso3s=KNOWN)


def test_unreadable_path_is_an_ingest_error(tmp_path: Path) -> None:
    with pytest.raises(FileFormatError, match="cannot read"):
        load_long_csv(tmp_path / "absent.csv", known_iso3s=KNOWN)
