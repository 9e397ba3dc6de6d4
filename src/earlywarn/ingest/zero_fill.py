"""Zeros for event-count sources: a country a source covers, in a period the run fetched
completely, with no event reads 0, not missing (docs/data-sources.md, "Zero-fill").

UCDP GED and ACLED report events, not their absence; without this a quiet country has no
observation and its violence indicators lower its coverage instead of saying "none found".
The zeros are computed here, after the connector's fetch succeeded, from the window the
connector says it fetched (its run details) and the coverage rule in ``sources.yaml``; they
travel in ``LoadedPayload.zero_filled`` and are stored by ``run_ingest`` in the same
transaction as the run's other values (so a run that fails writes none), only where nothing is
stored yet, under a source id marked as a zero-fill. A fetch that fails raises before this
point, so it fills nothing.

The UN SDG series (16.10.1) are not filled: countries report them, and a country that did
not report has not said "none" (data-sources.md: "missing is not zero").
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import replace
from datetime import date
from typing import Any

from pydantic import BaseModel

from earlywarn.countries.service import CountryResolver
from earlywarn.framework.sources_schemas import AcledSourceConfig, UcdpSourceConfig
from earlywarn.framework.zero_fill_schemas import AcledZeroFill, UcdpZeroFill
from earlywarn.ingest import acled_tally, ucdp, ucdp_mass_killing
from earlywarn.ingest.schemas import LoadedPayload, ObservationRecord

# What an account restriction may withhold besides recent months: any of these makes ACLED's
# silence about a country uninformative.
_SCOPE_RESTRICTIONS = ("countries", "regions", "event_types")

_Period = tuple[str, date, date]  # ("2024" or "2024-03", first day, last day)


def complete(
    source_id: str,
    payload: LoadedPayload,
    source_config: BaseModel | None,
    known_iso3s: frozenset[str],
    *,
    resolver: CountryResolver | None = None,
) -> LoadedPayload:
    """The payload with the zeros its source's coverage rule gives (unchanged for sources
    without a rule, or a rule switched off), and ``details["zero_fill"]`` saying what was
    filled or why nothing was."""
    resolver = resolver or CountryResolver.default()
    if source_id == "ucdp":
        config = source_config if isinstance(source_config, UcdpSourceConfig) else None
        rule_u = config.zero_fill if config is not None else UcdpZeroFill()
        return _ucdp(payload, rule_u, known_iso3s, resolver)
    if source_id == "acled":
        acled = source_config if isinstance(source_config, AcledSourceConfig) else None
        rule_a = acled.zero_fill if acled is not None else AcledZeroFill()
        asked = acled.countries if acled is not None else []
        return _acled(payload, rule_a, asked, known_iso3s, resolver)
    return payload


def _ucdp(
    payload: LoadedPayload, rule: UcdpZeroFill, known: frozenset[str], resolver: CountryResolver
) -> LoadedPayload:
    if not rule.enabled:
        return _noted(payload, [], {"skipped": "switched off in sources.yaml"})
    years: set[int] = set()
    for window in payload.details.get("versions", []):
        first, last = int(window["from"][:4]), int(window["to"][:4])
        reaches = _candidate_year(str(window["version"]))
        if reaches is not None:
            # A Candidate release holds nothing past its own year: later years are unfetched.
            last = min(last, reaches)
        years.update(range(first, last + 1))
    states = {
        r.iso3 for r in resolver.records.values() if r.gw_code is not None and not r.is_historical
    } | set(rule.also)
    # Only countries the countries table holds: a zero the loader cannot place would fail the run.
    states &= known
    periods = {
        iso3: [_year(y) for y in sorted(years) if y >= rule.covers_from(iso3)] for iso3 in states
    }
    zeros = _zeros(payload.records, periods, ucdp.TALLY_VARIABLES, frozenset())
    zeros += _mass_killing_zeros(payload.records, periods, min(years, default=0))
    summary = {
        "rule": f"Gleditsch-Ward states from {rule.from_year}",
        "years": sorted(years),
        "countries": len(states),
    }
    return _noted(payload, zeros, summary)


def _mass_killing_zeros(
    records: list[ObservationRecord], periods: dict[str, list[_Period]], first: int
) -> list[ObservationRecord]:
    """Zeros of the mass-killing flags, only for countries without a single record in the
    window (so no episode, and no unattributed death, in any year a flag looks back to) and
    only where the flag's look-back lies inside the fetched years. A country with events
    somewhere in the window gets from the connector every flag it can know; its quiet years
    are not guessed here."""
    active = {r.iso3 for r in records}
    zeros: list[ObservationRecord] = []
    for iso3, spans in sorted(periods.items()):
        if iso3 in active:
            continue
        for period, start, end in spans:
            for variable in ucdp_mass_killing.VARIABLES:
                if ucdp_mass_killing.knowable(variable, int(period), first):
                    zeros.append(ObservationRecord(iso3, variable, period, start, end, 0.0))
    return zeros


def _candidate_year(version: str) -> int | None:
    """The year a Candidate release reaches: "25.0.10" (monthly) and "25.01.25.09" (quarterly,
    January to September 2025) reach 2025; ``None`` for a yearly release ("25.1")."""
    parts = version.split(".")
    if len(parts) == 3:
        return 2000 + int(parts[0])
    if len(parts) == 4:
        return 2000 + int(parts[2])
    return None


def _acled(
    payload: LoadedPayload,
    rule: AcledZeroFill,
    asked: list[str],
    known: frozenset[str],
    resolver: CountryResolver,
) -> LoadedPayload:
    if not rule.enabled or not rule.coverage:
        why = "switched off" if not rule.enabled else "no coverage list"
        return _noted(payload, [], {"skipped": f"{why} in sources.yaml"})
    restricted = payload.details.get("access_restrictions")
    if isinstance(restricted, dict) and any(restricted.get(k) for k in _SCOPE_RESTRICTIONS):
        return _noted(
            payload, [], {"skipped": "the account may not read every country and event type"}
        )
    window = payload.details.get("window")
    through = payload.details.get("complete_through")
    if not window or not through:
        return _noted(payload, [], {"skipped": "the run did not say which periods it completed"})
    start, end = date.fromisoformat(window[0]), date.fromisoformat(through)
    countries = (set(asked) if asked else set(known)) & known
    periods: dict[str, list[_Period]] = {}
    for iso3 in sorted(countries):
        record = resolver.records.get(iso3)
        if record is None or record.is_historical:
            continue
        region = record.region.value if record.region else None
        since = rule.covered_since(iso3, region)
        if since is not None:
            periods[iso3] = list(_acled_periods(max(start, since), end))
    # Without every event's detail fields those variables were left out for every country.
    left_out = (
        acled_tally.detail_variables() | acled_tally.detail_variables("monthly_")
        if payload.details.get("rows_without_detail_fields")
        else frozenset()
    )
    variables = acled_tally.variable_names() + acled_tally.variable_names("monthly_")
    zeros = _zeros(payload.records, periods, variables, left_out)
    summary = {
        "rule": "ACLED coverage list in sources.yaml",
        "through": through,
        "countries": len(periods),
        "asked_for": sorted(asked) if asked else "every country",
    }
    return _noted(payload, zeros, summary)


def _acled_periods(start: date, end: date) -> Iterable[_Period]:
    """Whole years and whole months between ``start`` and ``end`` (both inclusive)."""
    for year in range(start.year, end.year + 1):
        if date(year, 1, 1) >= start and date(year, 12, 31) <= end:
            yield _year(year)
        for month in range(1, 13):
            first = date(year, month, 1)
            last = date(year, month, calendar.monthrange(year, month)[1])
            if first >= start and last <= end:
                yield (f"{year:04d}-{month:02d}", first, last)


def _year(year: int) -> _Period:
    return (f"{year:04d}", date(year, 1, 1), date(year, 12, 31))


def _zeros(
    records: list[ObservationRecord],
    periods: dict[str, list[_Period]],
    variables: Iterable[str],
    left_out: frozenset[str],
) -> list[ObservationRecord]:
    """A zero for every variable of the period's kind (yearly names for a year, ``monthly_``
    names for a month) in each covered country-period without any record."""
    variables = list(variables)
    # A cell has events when the source counted something there; a look-back flag written
    # for a quiet year (a mass-killing onset of the year before) does not make it one.
    counted = set(variables)
    with_events = {(r.iso3, r.period) for r in records if r.variable in counted}
    yearly = [v for v in variables if ".monthly_" not in v and v not in left_out]
    monthly = [v for v in variables if ".monthly_" in v and v not in left_out]
    zeros: list[ObservationRecord] = []
    for iso3, spans in sorted(periods.items()):
        for period, first, last in spans:
            if (iso3, period) in with_events:
                continue
            for variable in yearly if len(period) == 4 else monthly:
                zeros.append(ObservationRecord(iso3, variable, period, first, last, 0.0))
    return zeros


def _noted(
    payload: LoadedPayload, zeros: list[ObservationRecord], summary: dict[str, Any]
) -> LoadedPayload:
    cells = {(z.iso3, z.period) for z in zeros}
    details = {**payload.details, "zero_fill": {**summary, "cells": len(cells)}}
    return replace(payload, zero_filled=zeros, details=details)
