"""Mass killings from UCDP one-sided violence (``ucdp.mass_killing_*``), through the connector,
on the real recorded GED records in ../shared/fixtures/ucdp (read at test time): the Myanmar
and Bangladesh rows of GED 19.1 (CSV layout, typed here as the API types them) and the Israeli
API records. The recorded subsets hold a few small events; where a test needs an episode it
repeats a real event with new ids, so the layout stays the recorded one."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from tests.ingest.test_ucdp import FakeUcdp, fetch, values

from earlywarn.framework.sources_schemas import UcdpSourceConfig
from earlywarn.ingest.ucdp_mass_killing import THRESHOLD_DEATHS

GED_CSV = "fixtures/ucdp/ged191_csv_SUBSET_from_hdx_fixture.csv"
API_JSON = "fixtures/ucdp/gedevents_api_Result_records_ISR_SUBSET_first6.json"
# The API's JSON types (data-sources.md section 2); the CSV carries every value as text.
INTEGER_FIELDS = ("id", "year", "type_of_violence", "country_id", "side_a_new_id", "best")
KNOWN = {"MMR", "BGD", "ISR", "PSE"}
EPISODES = "ucdp.mass_killing_episodes"


def csv_events(shared_dir: Path) -> list[dict[str, Any]]:
    with (shared_dir / GED_CSV).open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        for name in (*INTEGER_FIELDS, "deaths_civilians"):
            row[name] = int(row[name])
    return rows


def api_events(shared_dir: Path) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = json.loads((shared_dir / API_JSON).read_text("utf-8"))
    return events


def load(events: list[dict[str, Any]], first: int, last: int) -> Any:
    config = UcdpSourceConfig(start_year=first, end_year=last)
    return fetch(FakeUcdp(events, size=1000), config, known=KNOWN)


def repeated(event: dict[str, Any], total: int, first_id: int = 10_000_000) -> list[dict[str, Any]]:
    """The real event plus copies with new ids whose ``best`` add up to ``total``."""
    copies, left, n = [], total - event["best"], 0
    while left > 0:
        n += 1
        best = min(event["best"], left)
        copies.append({**event, "id": first_id + n, "best": best, "deaths_civilians": best})
        left -= best
    return [event, *copies]


def test_real_myanmar_rows_sum_per_perpetrator_and_only_one_sided_counts(
    shared_dir: Path,
) -> None:
    events = csv_events(shared_dir)
    got = values(load(events, 1989, 2015))
    one_sided: dict[tuple[int, int], int] = defaultdict(int)
    for e in events:
        if e["type_of_violence"] == 3:
            one_sided[(e["year"], e["side_a_new_id"])] += e["best"]
    # The largest one-sided sum in the subset is 40 (the 1992 Rakhine event): no episode.
    assert max(one_sided.values()) == 40
    coded = {(e["year"]) for e in events if e["country_id"] == 775}
    for year in coded:
        assert got[("MMR", EPISODES, str(year))] == 0
        assert got[("MMR", "ucdp.mass_killing_since_1989", str(year))] == 0
    # MTA's 1,000 deaths in 1995 are non-state fighting (type 2), not a mass killing.
    assert any(e["best"] == 1000 and e["type_of_violence"] == 2 for e in events)
    assert got[("MMR", EPISODES, "1995")] == 0
    # Silence is missing: Myanmar has no event in 1993, so no zero is written for it.
    assert ("MMR", EPISODES, "1993") not in got
    assert ("MMR", "ucdp.mass_killing_since_1989", "1993") not in got


@pytest.mark.parametrize(("total", "episode"), [(THRESHOLD_DEATHS, 1), (THRESHOLD_DEATHS - 1, 0)])
def test_a_perpetrator_at_the_threshold_is_an_onset_and_leaves_a_history(
    shared_dir: Path, total: int, episode: int
) -> None:
    events = csv_events(shared_dir)
    rakhine = next(e for e in events if e["id"] == 51276)  # 1992, Government of Myanmar, 40
    events = [e for e in events if e is not rakhine] + repeated(rakhine, total)
    got = values(load(events, 1989, 2015))
    assert got[("MMR", "ucdp.one_sided_deaths", "1992")] == total
    assert got[("MMR", EPISODES, "1992")] == episode
    assert got[("MMR", "ucdp.mass_killing_onset", "1992")] == episode
    assert got[("MMR", "ucdp.mass_killing_onset", "1995")] == 0
    if episode:
        # A 1 about earlier years is known even where the country is silent (1993, 1994).
        assert got[("MMR", "ucdp.mass_killing_onset_prev_year", "1993")] == 1
        assert got[("MMR", "ucdp.mass_killing_within_3_years", "1994")] == 1
        assert ("MMR", "ucdp.mass_killing_within_3_years", "1995") in got
        assert got[("MMR", "ucdp.mass_killing_within_3_years", "1995")] == 0
        assert {y for (c, v, y), x in got.items() if v.endswith("since_1989") and x == 1} == {
            str(y) for y in range(1992, 2016)
        }
    else:
        assert ("MMR", "ucdp.mass_killing_onset_prev_year", "1993") not in got
        assert got[("MMR", "ucdp.mass_killing_since_1989", "2015")] == 0
    # Bangladesh's rows are non-state only: zero episodes in its coded years.
    assert got[("BGD", EPISODES, "2013")] == 0


def test_two_perpetrators_below_the_threshold_are_not_one_episode(shared_dir: Path) -> None:
    """EWP counts killings by one group of perpetrators: 600 by the Israeli government and 600
    by the al-Aqsa Martyrs' Brigades in the Palestinian territories in 2002 are no episode."""
    events = api_events(shared_dir)
    government = next(e for e in events if e["id"] == 175957)  # Gaza, side_a 121
    amb = next(e for e in events if e["id"] == 175876)  # West Bank, side_a 211
    rest = [e for e in events if e not in (government, amb)]
    amb_600 = repeated(amb, 600, first_id=20_000_000)
    got = values(load(rest + repeated(government, 600) + amb_600, 2001, 2004))
    assert got[("PSE", "ucdp.one_sided_deaths", "2002")] == 1200
    assert got[("PSE", EPISODES, "2002")] == 0
    got = values(load(rest + repeated(government, THRESHOLD_DEATHS) + amb_600, 2001, 2004))
    assert got[("PSE", EPISODES, "2002")] == 1
    assert got[("PSE", "ucdp.mass_killing_onset", "2002")] == 1
    assert got[("PSE", "ucdp.mass_killing_onset_prev_year", "2003")] == 1
    assert got[("PSE", "ucdp.mass_killing_onset_prev_year", "2004")] == 0


def test_flags_are_written_only_for_years_the_window_can_look_back_over(
    shared_dir: Path,
) -> None:
    events = csv_events(shared_dir)
    got = values(load(events, 2012, 2015))
    written = {(v, y) for (c, v, y) in got if c == "MMR" and v.startswith("ucdp.mass_killing")}
    assert (EPISODES, "2012") in written
    assert ("ucdp.mass_killing_onset", "2012") not in written  # 2011 not fetched
    assert ("ucdp.mass_killing_onset", "2013") in written
    assert ("ucdp.mass_killing_onset_prev_year", "2013") not in written
    assert ("ucdp.mass_killing_within_3_years", "2013") not in written
    assert ("ucdp.mass_killing_within_3_years", "2015") in written
    # A window that does not start in 1989 cannot say "since 1989".
    assert not any(v == "ucdp.mass_killing_since_1989" for v, _ in written)


def test_a_one_sided_event_without_perpetrator_leaves_its_country_year_unknown(
    shared_dir: Path,
) -> None:
    events = api_events(shared_dir)
    nameless = []
    for e in events:
        if e["id"] == 175876:
            e = {k: v for k, v in e.items() if not k.startswith("side_a")}
        nameless.append(e)
    payload = load(nameless, 2001, 2004)
    got = values(payload)
    assert payload.details["one_sided_unattributed_country_years"] == 1
    assert got[("PSE", "ucdp.one_sided_deaths", "2002")] == 2  # the tally keeps the event
    assert ("PSE", EPISODES, "2002") not in got
    assert ("PSE", "ucdp.mass_killing_onset", "2003") not in got
    assert got[("ISR", EPISODES, "2002")] == 0
