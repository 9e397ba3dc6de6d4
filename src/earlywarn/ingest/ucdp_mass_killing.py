"""Mass killings read from UCDP one-sided violence, the live counterpart of EWP's mk_* columns.

The Early Warning Project counts a mass killing when one group of perpetrators deliberately
kills 1,000 or more non-combatant civilians within twelve months. UCDP's one-sided violence
(GED ``type_of_violence`` 3) is exactly the deliberate killing of civilians by one organised
actor, the perpetrator being ``side_a`` (``side_a_new_id``). Per country, year and perpetrator
the connector sums ``best``; a perpetrator with at least ``THRESHOLD_DEATHS`` in a calendar year
is an **episode** in that country-year. From that, per country-year:

- ``ucdp.mass_killing_episodes``: the number of such perpetrators (EWP's count of ongoing
  mass killings; the indicator takes log2(1 + x) as EWP's ``mk_ongoing_count_log2`` does);
- ``ucdp.mass_killing_onset``: 1 when a perpetrator reaches the threshold in the year but had not
  in the year before (needs that year fetched too);
- ``ucdp.mass_killing_onset_prev_year``: the onset of the year before (EWP's
  ``mk_onset_prev_year``; needs the two years before fetched);
- ``ucdp.mass_killing_within_3_years``: an episode in the year or the two before (all fetched);
- ``ucdp.mass_killing_since_1989``: an episode in any year from 1989, UCDP's first, to this one;
  only when the fetched window starts in 1989 (``start_year: 1989`` in sources.yaml), because a
  five-year window cannot say "ever". EWP's ``mk_ever`` reaches back to 1945, so even this one
  misses episodes that ended before 1989.

Every flag is computed from the years this load fetched and nothing else: a value is written
only when every year it looks back to is inside the window, so a short window yields fewer
variables, never a "no" it cannot know. A 1 about earlier years is written even when the
country is silent in the year itself; a 0 only for country-years with events (UCDP's silence
is missing, as for the other ucdp.* variables). A country-year with a one-sided event that
names no perpetrator gets none of these variables: its episodes cannot be counted.

Differences from EWP, documented in docs/indicators.md: calendar years rather than any twelve
months; an episode that dips below 1,000 in a year ends there (EWP's episodes run until the
killing stops), so a later rise counts as a new onset; UCDP counts only organised actors.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from earlywarn.ingest.schemas import ObservationRecord

THRESHOLD_DEATHS = 1_000
UCDP_FIRST_YEAR = 1989
# Three years: the indicators' max_age_days (1,095) and the span EWP's onset-of-the-previous-
# year flag already looks at; longer would be empty under the default five-year window.
RECENT_YEARS = 3
VARIABLES = (
    "ucdp.mass_killing_episodes",
    "ucdp.mass_killing_onset",
    "ucdp.mass_killing_onset_prev_year",
    "ucdp.mass_killing_within_3_years",
    "ucdp.mass_killing_since_1989",
)


def perpetrator_of(event: dict[str, Any]) -> str | None:
    """UCDP's actor id of the side that killed (``side_a_new_id``), else its name."""
    for key in ("side_a_new_id", "side_a"):
        value = event.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        if isinstance(value, str) and value.strip() and value.strip().upper() != "NA":
            return value.strip()
    return None


@dataclass
class OneSided:
    """One-sided deaths per (country, year) and perpetrator, as the events arrive."""

    deaths: dict[tuple[str, int], dict[str, int]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(int))
    )
    # Country-years with a one-sided event naming no perpetrator: episodes unknown there.
    unattributed: set[tuple[str, int]] = field(default_factory=set)

    def add(self, iso3: str, year: int, perpetrator: str | None, best: int) -> None:
        if perpetrator is None:
            self.unattributed.add((iso3, year))
        else:
            self.deaths[(iso3, year)][perpetrator] += best

    def episodes(self, iso3: str, year: int) -> set[str] | None:
        """The perpetrators at or over the threshold; None when unattributed deaths hide them."""
        if (iso3, year) in self.unattributed:
            return None
        by_perpetrator = self.deaths.get((iso3, year), {})
        return {p for p, n in by_perpetrator.items() if n >= THRESHOLD_DEATHS}


def _onset(one_sided: OneSided, iso3: str, year: int) -> bool | None:
    now, before = one_sided.episodes(iso3, year), one_sided.episodes(iso3, year - 1)
    if now is None or before is None:
        return None
    return bool(now - before)


def _any_episode(one_sided: OneSided, iso3: str, years: Iterable[int]) -> bool | None:
    """True when any year has an episode (known even if another year is unknown)."""
    unknown = False
    for year in years:
        found = one_sided.episodes(iso3, year)
        if found is None:
            unknown = True
        elif found:
            return True
    return None if unknown else False


def mass_killing_records(
    one_sided: OneSided, with_events: Iterable[tuple[str, int]], first: int, last: int
) -> list[ObservationRecord]:
    """The variables of the module docstring for the fetched years ``first``..``last``.

    ``with_events`` are the country-years with any GED event: where a 0 may be written."""
    coded = set(with_events)
    countries = sorted({iso3 for iso3, _ in coded})
    records: list[ObservationRecord] = []
    for iso3 in countries:
        for year in range(first, last + 1):
            values = _values(one_sided, iso3, year, first)
            for variable in VARIABLES:
                value = values.get(variable)
                if value is None or (value == 0 and (iso3, year) not in coded):
                    continue
                records.append(ObservationRecord.for_year(iso3, variable, year, float(value)))
    return records


def knowable(variable: str, year: int, first: int) -> bool:
    """Whether ``variable`` of ``year`` can be told from a load whose first fetched year is
    ``first``: every year it looks back to must be inside the window."""
    looks_back_to = {
        "ucdp.mass_killing_episodes": year,
        "ucdp.mass_killing_onset": year - 1,
        "ucdp.mass_killing_onset_prev_year": year - 2,
        "ucdp.mass_killing_within_3_years": year - (RECENT_YEARS - 1),
        "ucdp.mass_killing_since_1989": UCDP_FIRST_YEAR,
    }[variable]
    return looks_back_to >= first


def _values(one_sided: OneSided, iso3: str, year: int, first: int) -> dict[str, float | None]:
    found = one_sided.episodes(iso3, year)
    candidates: dict[str, Callable[[], float | None]] = {
        "ucdp.mass_killing_episodes": lambda: None if found is None else float(len(found)),
        "ucdp.mass_killing_onset": lambda: _flag(_onset(one_sided, iso3, year)),
        "ucdp.mass_killing_onset_prev_year": lambda: _flag(_onset(one_sided, iso3, year - 1)),
        "ucdp.mass_killing_within_3_years": lambda: _flag(
            _any_episode(one_sided, iso3, range(year - RECENT_YEARS + 1, year + 1))
        ),
        "ucdp.mass_killing_since_1989": lambda: _flag(
            _any_episode(one_sided, iso3, range(UCDP_FIRST_YEAR, year + 1))
        ),
    }
    return {name: compute() for name, compute in candidates.items() if knowable(name, year, first)}


def _flag(value: bool | None) -> float | None:
    return None if value is None else float(value)
