"""V-Dem country-year data: selected variables only, country identity, missing values."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest

from earlywarn.countries.service import CountryResolver
from earlywarn.ingest.errors import FileFormatError
from earlywarn.ingest.schemas import LoadedPayload
from earlywarn.ingest.vdem import DEFAULT_VARIABLES, parse_vdem, parse_vdem_stream

VDEM_FIXTURE = (
    Path("fixtures") / "vdem" / "demspaces_vdem_data_1968_on_SUBSET_MEX1968_HUN2018-2020.csv"
)
HEADER = "country_name,country_text_id,year,COWcode,v2x_clphy,v2clkill\n"
VARIABLES = ("v2x_clphy", "v2clkill")


def _parse(text: str, **kwargs: object) -> LoadedPayload:
    return parse_vdem(
        text.encode(),
        name="vdem.csv",
        resolver=CountryResolver.default(),
        variables=VARIABLES,
        **kwargs,  # type: ignore[arg-type]
    )


def _values(payload: LoadedPayload) -> dict[tuple[str, str, str], float]:
    return {(r.iso3, r.variable, r.period): r.value for r in payload.records}


def test_small_release_style_file(data_dir: Path) -> None:
    payload = parse_vdem(
        (data_dir / "vdem_small.csv").read_bytes(),
        name="vdem_small.csv",
        resolver=CountryResolver.default(),
        variables=VARIABLES,
    )
    assert _values(payload) == {
        ("KEN", "vdem.v2x_clphy", "2022"): 0.61,
        ("KEN", "vdem.v2clkill", "2022"): 0.8,
        # KEN 2023: empty and NA are missing, skipped and counted
        ("RVN", "vdem.v2x_clphy", "1970"): 0.2,  # VDR is no ISO3: COW 817 decides
        ("RVN", "vdem.v2clkill", "1970"): -1.5,
        ("YEM", "vdem.v2x_clphy", "1970"): 0.4,  # Yemen continues North Yemen (COW 678)
        ("YEM", "vdem.v2clkill", "1970"): 0.1,
        ("CZE", "vdem.v2x_clphy", "1985"): 0.6,  # Czechia continues Czechoslovakia (315)
        ("CZE", "vdem.v2clkill", "1985"): 1.1,
        ("SOM", "vdem.v2x_clphy", "2023"): 0.1,
        ("SOM", "vdem.v2clkill", "2023"): -2.0,
    }
    assert payload.details["missing_by_variable"] == {"vdem.v2clkill": 1, "vdem.v2x_clphy": 1}
    assert payload.details["rows_before_start_year"] == 1
    assert set(payload.details["skipped_units"]) == {"PSE", "PSG"}
    assert "Palestine/West Bank" in payload.details["skipped_units"]["PSE"]["reason"]
    assert payload.rows_read == 6 * 2
    assert len(payload.records) + payload.rows_skipped == payload.rows_read


def test_only_the_asked_variables_are_read(data_dir: Path) -> None:
    payload = parse_vdem(
        (data_dir / "vdem_small.csv").read_bytes(),
        name="vdem_small.csv",
        resolver=CountryResolver.default(),
        variables=("v2clkill",),
    )
    assert {r.variable for r in payload.records} == {"vdem.v2clkill"}


def test_real_extract(shared_dir: Path) -> None:
    content = (shared_dir / VDEM_FIXTURE).read_bytes()
    payload = parse_vdem(content, name="demspaces", resolver=CountryResolver.default())
    values = _values(payload)
    assert {iso3 for iso3, _, _ in values} == {"MEX", "HUN"}
    assert values[("MEX", "vdem.v2x_clphy", "1968")] == 0.334
    assert values[("MEX", "vdem.v2svstterr", "1968")] == 96.0
    assert values[("HUN", "vdem.v2csreprss", "2020")] == 0.111
    assert values[("HUN", "vdem.v2mecenefm", "2020")] == 0.145
    assert values[("HUN", "vdem.v2mecenefm", "2018")] == 0.232
    assert len(payload.records) == 4 * len(DEFAULT_VARIABLES)
    assert payload.details["countries"] == 2


def test_stream_and_bytes_give_the_same_digest(data_dir: Path) -> None:
    content = (data_dir / "vdem_small.csv").read_bytes()
    resolver = CountryResolver.default()
    from_bytes = parse_vdem(content, name="x", resolver=resolver, variables=VARIABLES)
    from_stream = parse_vdem_stream(
        io.BytesIO(content), name="x", resolver=resolver, variables=VARIABLES
    )
    assert from_bytes.content_digest == from_stream.content_digest
    assert from_bytes.content_digest == hashlib.sha256(content).hexdigest()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("", "empty file"),
        (HEADER.replace("v2clkill", "v2clkill_osp"), "missing column(s) 'v2clkill'"),
        (HEADER.replace("country_text_id", "iso"), "missing column(s) 'country_text_id'"),
        (HEADER, "no country-year rows from 1960 on"),
        (HEADER + "Kenya,KEN,2020,501,high,1\n", "line 2: column 'v2x_clphy': 'high' is not"),
        (HEADER + "Kenya,KEN,2020,501,inf,1\n", "'inf' is not a finite number"),
        (HEADER + "Kenya,KEN,x,501,0.5,1\n", "column 'year': 'x' is not a year"),
        (HEADER + "Kenya,KEN,2020,501,0.5\n", "line 2: 5 fields, the header has 6"),
        (HEADER + "Kenya,KEN,2020,520,0.5,1\n", "'KEN' means KEN but COWcode 520 means SOM"),
        (HEADER + "Kenya,KEN,2020,9999,0.5,1\n", "COWcode '9999' is not a code earlywarn"),
        (
            HEADER + "Kenya,KEN,2020,501,0.5,1\nKenya,KEN,2020,501,0.5,1\n",
            "lines 2 and 3 are both KEN 2020",
        ),
        (
            HEADER
            + "Baden,BAD,1960,267,0.5,1\nSomething,QQQ,1990,,0.5,1\nSomething,QQQ,1991,,0.5,1\n",
            "2 V-Dem unit(s) with no ISO3 mapping: 'BAD' ('Baden'), 'QQQ' ('Something')",
        ),
    ],
)
def test_broken_files_fail_with_a_clear_message(body: str, message: str) -> None:
    with pytest.raises(FileFormatError) as info:
        _parse(body)
    assert message in str(info.value)
    assert str(info.value).startswith("V-Dem file vdem.csv")


def test_not_utf8_is_rejected() -> None:
    with pytest.raises(FileFormatError, match="not UTF-8"):
        parse_vdem(
            HEADER.encode() + b"C\xf4te,CIV,2020,437,0.5,1\n",
            name="vdem.csv",
            resolver=CountryResolver.default(),
            variables=VARIABLES,
        )


def test_gw_codes_of_extracts_are_cross_checked() -> None:
    header = "gwcode,year,country_name,country_text_id,v2x_clphy,v2clkill\n"
    payload = _parse(header + "345,2020,Serbia,SRB,0.5,1\n260,2020,Germany,DEU,0.9,2\n")
    assert set(_values(payload)) >= {("SRB", "vdem.v2clkill", "2020")}
    with pytest.raises(FileFormatError, match="'HUN' means HUN but gwcode 70 means MEX"):
        _parse(header + "70,2020,Hungary,HUN,0.5,1\n")
