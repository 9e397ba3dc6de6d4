from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from earlywarn.countries.service import CountryResolver, seed_countries
from earlywarn.db import session_scope
from earlywarn.ingest.errors import FileFormatError
from earlywarn.ingest.ewp import load_ewp, parse_ewp
from earlywarn.ingest.service import import_file
from earlywarn.observations.models import Observation, RunStatus
from earlywarn.observations.repository import latest_values

EWP_FILE = "data/ewp/prepared2024predictors-2025-09-03.csv"


class TableResolver:
    def __init__(self, by_cow: dict[int, str], by_name: dict[str, str]) -> None:
        self.by_cow = by_cow
        self.by_name = by_name

    def from_cow(self, code: int) -> str | None:
        return self.by_cow.get(code)

    def from_name(self, name: str) -> str | None:
        return self.by_name.get(name)


RESOLVER = TableResolver({501: "KEN", 100: "COL"}, {"Kenya": "KEN", "Colombia": "COL"})


def test_small_file_every_column_becomes_an_ewp_variable(data_dir: Path) -> None:
    payload = load_ewp(data_dir / "ewp_small.csv", resolver=CountryResolver.default())

    variables = {r.variable for r in payload.records}
    assert len(variables) == 42
    assert {
        "ewp.battledeaths.log2",
        "ewp.popsize.log2",
        "ewp.partyban.new.1",
        "ewp.mk_onset_1or2",
        "ewp.year_sq",
    } <= variables
    assert not {"ewp.year", "ewp.ccode", "ewp.ewp_name"} & variables
    # 4 rows x 42 value columns, one NA and one empty cell.
    assert (payload.rows_read, payload.rows_skipped, len(payload.records)) == (168, 2, 166)
    assert payload.details["skipped"] == {"missing_value": 2}
    assert payload.details["countries"] == 3
    by_key = {(r.iso3, r.variable, r.period): r for r in payload.records}
    assert ("COL", "ewp.gdppcgrowth", "2024") not in by_key
    assert ("SDN", "ewp.discrimpop", "2024") not in by_key
    kenya = by_key[("KEN", "ewp.year_sq", "2023")]
    assert (kenya.value, kenya.period_start, kenya.period_end) == (
        2023.0**2,
        date(2023, 1, 1),
        date(2023, 12, 31),
    )


HEADER = "ewp_name,year,ccode,battledeaths.log2,mk_onset\n"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "Kenya,2024,501,3.5,0\nNarnia,2024,999,1,0\n",
            "line 3: country 'Narnia' with ccode 999: no country has that Correlates-of-War code",
        ),
        (
            "Kenya,2024,100,3.5,0\n",
            "line 2: country 'Kenya' with ccode 100: the code means COL but the name means KEN",
        ),
        ("Kenia,2024,501,3.5,0\n", "line 2: country 'Kenia' with ccode 501: the name is not known"),
        ("Kenya,2024,501,3.5,0\nKenya,2024,501,3.6,0\n", "lines 2 and 3 are both KEN 2024"),
        ("Kenya,2024,501,three,0\n", "line 2: column 'battledeaths.log2': 'three' is not a number"),
        ("Kenya,2024.5,501,3.5,0\n", "line 2: column 'year': '2024.5' is not an integer"),
        ("Kenya,2024,501,3.5\n", "line 2: 4 fields, the header has 5"),
    ],
)
def test_bad_rows_are_rejected_naming_row_name_and_code(body: str, expected: str) -> None:
    with pytest.raises(FileFormatError) as caught:
        parse_ewp((HEADER + body).encode(), name="ewp.csv", resolver=RESOLVER)
    assert str(caught.value) == f"EWP file ewp.csv: {expected}" or expected in str(caught.value)
    assert expected in str(caught.value)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("ewp_name,year,battledeaths.log2\n", "missing required column(s) 'ccode'"),
        ("country,yr,ccode,x\n", "missing required column(s) 'ewp_name', 'year'"),
        ("ewp_name,year,ccode\n", "no value columns"),
        ("ewp_name,year,ccode,bad col\n", "column 'bad col' cannot be a variable name"),
        ("ewp_name,year,ccode,x,x\n", "column(s) ['x'] appear more than once"),
    ],
)
def test_bad_header_is_rejected(header: str, expected: str) -> None:
    with pytest.raises(FileFormatError) as caught:
        parse_ewp(header.encode(), name="ewp.csv", resolver=RESOLVER)
    assert expected in str(caught.value)


def test_na_and_r_style_integers_are_read() -> None:
    payload = parse_ewp(
        (HEADER + "Kenya,2024.0,501.0,NA,1\n").encode(), name="ewp.csv", resolver=RESOLVER
    )
    assert [(r.iso3, r.variable, r.period, r.value) for r in payload.records] == [
        ("KEN", "ewp.mk_onset", "2024", 1.0)
    ]


def test_import_file_loads_the_small_fixture(
    session_factory: sessionmaker[Session], data_dir: Path
) -> None:
    with session_scope(session_factory) as session:
        seed_countries(session)

    run = import_file(session_factory, data_dir / "ewp_small.csv", "ewp")
    again = import_file(session_factory, data_dir / "ewp_small.csv", "ewp")

    assert run.status is RunStatus.SUCCEEDED, run.error
    assert (run.rows_read, run.rows_loaded, run.rows_skipped) == (168, 166, 2)
    assert again.status is RunStatus.UNCHANGED
    with session_factory() as session:
        values = latest_values(
            session,
            ["ewp.battledeaths.log2"],
            as_of=date(2024, 12, 31),
            earliest_period_start=date(2023, 1, 1),
        )
    assert [(v.iso3, v.period, v.source_id) for v in values] == [
        ("COL", "2024", "ewp"),
        ("KEN", "2024", "ewp"),
        ("SDN", "2024", "ewp"),
    ]


@pytest.mark.shared
def test_real_file_parses_with_every_ccode_mapped(shared_dir: Path) -> None:
    payload = load_ewp(shared_dir / EWP_FILE, resolver=CountryResolver.default())

    assert payload.details["file_rows"] == 9463
    assert payload.details["variables"] == 42
    countries_2024 = {r.iso3 for r in payload.records if r.period == "2024"}
    assert len(countries_2024) >= 160
    assert {"SDN", "MMR", "COD", "AFG", "USA"} <= countries_2024
    assert payload.rows_read == len(payload.records) + payload.rows_skipped


@pytest.mark.shared
def test_real_file_loads_into_the_database(
    session_factory: sessionmaker[Session], shared_dir: Path
) -> None:
    with session_scope(session_factory) as session:
        seed_countries(session)

    run = import_file(session_factory, shared_dir / EWP_FILE, "ewp")

    assert run.status is RunStatus.SUCCEEDED, run.error
    assert run.rows_loaded > 350_000
    with session_factory() as session:
        stored = session.scalar(select(func.count()).select_from(Observation))
        values = latest_values(
            session,
            ["ewp.popsize.log2"],
            as_of=date(2024, 12, 31),
            earliest_period_start=date(2024, 1, 1),
        )
    assert stored == run.rows_loaded
    assert len(values) >= 160
