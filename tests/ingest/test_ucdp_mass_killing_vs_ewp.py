"""The UCDP mass-killing variables against EWP's mk_* columns (issue 16, item 1).

Read at test time from the shared EWP file and the recorded GED records (never copied). First
EWP's own rules that the indicators rely on to share a scale with their EWP fallbacks, checked
on every EWP row; then the agreement of the flags derived from the recorded records with EWP's
columns on the country-years both cover. The recorded records are small subsets (24 GED 19.1
rows of Myanmar and Bangladesh, 6 Israeli API records), so the agreement measures what those
subsets can say, not UCDP's full release; ``-s`` prints the table (docs/indicators.md).
"""

from __future__ import annotations

import csv
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from tests.ingest.test_ucdp_mass_killing import api_events, csv_events, load

from earlywarn.countries.service import CountryResolver

EWP = Path("data/ewp/prepared2024predictors-2025-09-03.csv")
# Live variable -> (EWP column, how the live value is made comparable: a flag).
PAIRS = {
    "ucdp.mass_killing_episodes": "mk_ongoing_count_log2",
    "ucdp.mass_killing_onset": "mk_onset",
    "ucdp.mass_killing_onset_prev_year": "mk_onset_prev_year",
    "ucdp.mass_killing_since_1989": "mk_ever",
}


def _ewp_rows(shared_dir: Path) -> dict[tuple[str, int], dict[str, str]]:
    path = shared_dir / EWP
    if not path.is_file():
        pytest.skip(f"EWP file not found at {path}")
    resolver = CountryResolver.default()
    rows: dict[tuple[str, int], dict[str, str]] = {}
    with path.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            iso3 = resolver.from_cow(row["ccode"])
            if iso3 is not None:
                rows[(iso3, int(row["year"]))] = row
    return rows


def test_ewp_mass_killing_columns_follow_the_rules_the_indicators_use(shared_dir: Path) -> None:
    rows = _ewp_rows(shared_dir)
    ongoing = np.array(
        [
            float(r["mk_ongoing_count_log2"])
            for r in rows.values()
            if r["mk_ongoing_count_log2"] != "NA"
        ]
    )
    # log2(1 + a whole number of episodes): the ``log2p`` of ucdp.mass_killing_episodes.
    counts = np.round(np.exp2(ongoing) - 1)
    assert np.allclose(np.log2(1 + counts), ongoing, atol=1e-9)
    assert set(counts) <= {0, 1, 2, 3}
    shifted = [
        (float(r["mk_onset_prev_year"]), float(rows[(c, y - 1)]["mk_onset"]))
        for (c, y), r in rows.items()
        if (c, y - 1) in rows
        and "NA" not in (r["mk_onset_prev_year"], rows[(c, y - 1)]["mk_onset"])
    ]
    # mk_onset_prev_year is the onset of the year before, on every row that has both.
    assert len(shifted) > 9_000
    assert all(now == before for now, before in shifted)
    # The targeting codes describe an ongoing episode: never set without one.
    targeted = [
        r for r in rows.values() if r["widetargeting"] == "1" or r["narrowtargeting"] == "1"
    ]
    assert targeted
    assert all(float(r["mk_ongoing_count_log2"]) > 0 for r in targeted)
    since_1989 = Counter(
        (r["widetargeting"], r["narrowtargeting"])
        for r in rows.values()
        if int(r["year"]) >= 1989 and r["mk_ongoing_count_log2"] not in ("NA", "0")
    )
    sys.stdout.write(f"\nEWP ongoing country-years since 1989 (wide, narrow): {dict(since_1989)}\n")
    # Most ongoing episodes are coded wide, the reading wide_targeting takes for UCDP's.
    assert since_1989[("1", "0")] > 2 * since_1989[("0", "1")]


def test_flags_from_the_recorded_records_against_ewp(shared_dir: Path) -> None:
    rows = _ewp_rows(shared_dir)
    derived: dict[tuple[str, str, int], float] = {}
    for payload in (
        load(csv_events(shared_dir), 1989, 2015),
        load(api_events(shared_dir), 2001, 2004),
    ):
        for r in payload.records:
            if r.variable in PAIRS:
                derived[(r.iso3, r.variable, int(r.period))] = r.value
    table: dict[str, Counter[tuple[int, int]]] = {v: Counter() for v in PAIRS}
    for (iso3, variable, year), value in derived.items():
        row = rows.get((iso3, year))
        if row is None or row[PAIRS[variable]] == "NA":
            continue
        table[variable][(int(value > 0), int(float(row[PAIRS[variable]]) > 0))] += 1
    sys.stdout.write("\n(live flag, EWP flag) -> country-years:\n")
    for variable, counts in table.items():
        sys.stdout.write(f"  {variable} vs {PAIRS[variable]}: {dict(sorted(counts.items()))}\n")
    # The subsets hold no perpetrator near 1,000 deaths in a year: no live flag is set, so
    # the live flags never claim a mass killing EWP does not have.
    assert all(live == 0 for counts in table.values() for live, _ in counts)
    # Where they meet (16 country-years: Israel 2002, Myanmar's and Bangladesh's coded years
    # of the subset): no onset in either; EWP's long-running episodes (Myanmar 1948-,
    # Bangladesh to 1997) are ongoing where the subset's few events show none, and EWP's
    # mk_ever also counts episodes before 1989 (Bangladesh 1971).
    assert table["ucdp.mass_killing_episodes"] == {(0, 1): 14, (0, 0): 2}
    assert table["ucdp.mass_killing_onset"] == {(0, 0): 15}
    assert table["ucdp.mass_killing_onset_prev_year"] == {(0, 0): 13}
    assert table["ucdp.mass_killing_since_1989"] == {(0, 1): 15}
