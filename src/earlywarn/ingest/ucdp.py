"""UCDP API connector: GED events aggregated to country-years (data-sources.md section 2).

Events come from ``/gedevents/{version}``: the yearly release (``25.1`` covers 1989-2024) and,
for the years after it, optionally a monthly Candidate release (``25.0.10``). Each page is the
envelope ``{TotalCount, TotalPages, NextPageUrl, Result}``; the connector follows
``NextPageUrl`` until it is empty and checks that it collected ``TotalCount`` events. Countries
are Gleditsch-Ward codes (``country_id``) mapped through the crosswalk; events in Gaza and the
West Bank arrive as Israel (666) and are kept where the crosswalk puts them. A code the crosswalk
does not know, or whose country is not in the countries table, is skipped and listed.

Variables (country-year, UCDP "best" estimates): ``ucdp.ged_events``, ``ucdp.ged_deaths``,
``ucdp.battle_related_deaths`` (type 1, state-based), ``ucdp.non_state_deaths`` (type 2),
``ucdp.one_sided_deaths`` (type 3), ``ucdp.ged_civilian_deaths`` (``deaths_civilians`` over all
types). A country-year without events gets no row here; ``ingest.zero_fill`` fills it with
zero where sources.yaml's coverage rule says UCDP codes the country and the run fetched the year.
From the one-sided events per perpetrator, the mass-killing variables of ``ucdp_mass_killing``
(``ucdp.mass_killing_*``, the live counterparts of EWP's mk_* columns).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import httpx

from earlywarn.countries.service import CountryResolver, event_country
from earlywarn.framework.sources_schemas import UcdpSourceConfig
from earlywarn.ingest import ucdp_mass_killing
from earlywarn.ingest.connectors import ConnectorContext, SourceDefinition
from earlywarn.ingest.errors import RemoteSourceError
from earlywarn.ingest.http import SourceHttp, make_client, redact_url
from earlywarn.ingest.paging import Listing, Page, walk_pages
from earlywarn.ingest.schemas import LoadedPayload, ObservationRecord
from earlywarn.ingest.values import parse_count, require_fields
from earlywarn.settings import Settings

LABEL = "UCDP API"
TOKEN_HEADER = "x-ucdp-access-token"
DEFAULT_YEARS_BACK = 5
# Pages beyond this are a pagination loop, not data (25.1 holds ~400k events: 400 pages).
MAX_PAGES = 5_000
EVENT_FIELDS = (
    "id",
    "year",
    "type_of_violence",
    "country_id",
    "best",
    "deaths_civilians",
)
VIOLENCE_VARIABLES = {
    1: "ucdp.battle_related_deaths",
    2: "ucdp.non_state_deaths",
    3: "ucdp.one_sided_deaths",
}
TALLY_VARIABLES = (
    "ucdp.ged_events",
    "ucdp.ged_deaths",
    *VIOLENCE_VARIABLES.values(),
    "ucdp.ged_civilian_deaths",
)
VARIABLES = (*TALLY_VARIABLES, *ucdp_mass_killing.VARIABLES)
ONE_SIDED = 3
_YEARLY = re.compile(r"^(\d{2})\.\d+$")


def last_year_of_release(version: str) -> int:
    """The last year a yearly release covers: ``25.1`` -> 2024."""
    match = _YEARLY.match(version)
    if match is None:
        raise RemoteSourceError(f"{LABEL}: {version!r} is not a yearly release such as '25.1'")
    return 2000 + int(match.group(1)) - 1


@dataclass
class _Tally:
    events: int = 0
    deaths: int = 0
    civilian_deaths: int = 0
    by_type: dict[int, int] = field(default_factory=lambda: {1: 0, 2: 0, 3: 0})


@dataclass
class _Collected:
    tallies: dict[tuple[str, int], _Tally] = field(default_factory=lambda: defaultdict(_Tally))
    seen: dict[tuple[str, int], tuple[Any, ...]] = field(default_factory=dict)
    rows_read: int = 0
    skipped: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    unknown_gw: set[str] = field(default_factory=set)
    unplaced_iso3: set[str] = field(default_factory=set)
    unknown_values: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    events_by_version: dict[str, int] = field(default_factory=dict)
    one_sided: ucdp_mass_killing.OneSided = field(default_factory=ucdp_mass_killing.OneSided)


class UcdpConnector:
    source_id = "ucdp"
    definition = SourceDefinition(
        name="UCDP Georeferenced Event Dataset (API: yearly and Candidate releases)",
        kind="api",
        url="https://ucdpapi.pcr.uu.se/api",
        licence="CC BY 4.0 (cite Davies et al.; Sundberg and Melander 2013)",
    )

    def missing_settings(self, settings: Settings) -> list[str]:
        token = settings.ucdp_token
        return [] if token is not None and token.get_secret_value() else ["EARLYWARN_UCDP_TOKEN"]

    def open_client(self, settings: Settings) -> httpx.Client:
        return make_client(settings.ucdp_base_url, settings.http_timeout_seconds)

    def fetch(self, context: ConnectorContext, client: httpx.Client) -> LoadedPayload:
        config = context.source_config
        if not isinstance(config, UcdpSourceConfig):
            config = UcdpSourceConfig(years_back=DEFAULT_YEARS_BACK)
        first, last = config.year_range(context.now.year)
        http = SourceHttp(
            client,
            LABEL,
            max_attempts=context.settings.http_max_attempts,
            sleep=context.sleep,
            bodies=context.received,
            # 5,000 requests a day per token, and bursts of ~40 quick requests are refused.
            min_interval_seconds=1.0,
        )
        token = context.settings.ucdp_token
        if token is None or not token.get_secret_value():
            raise RemoteSourceError(f"{LABEL}: not configured: set EARLYWARN_UCDP_TOKEN")
        # Sent per request rather than set on the client, so it never sits in shared state.
        headers = {TOKEN_HEADER: token.get_secret_value()}
        resolver = CountryResolver.default()
        collected = _Collected()
        windows = _windows(config, first, last)
        for version, start, end in windows:
            count = 0
            for event, where in _events(
                http, headers, version, start, end, config.page_size, context
            ):
                count += 1
                _tally(collected, event, where, resolver, context.known_iso3s)
            collected.events_by_version[version] = count

        # The windows are contiguous: the flags may look back over every year from ``first``.
        fetched_last = windows[-1][2].year
        records = _records(collected) + ucdp_mass_killing.mass_killing_records(
            collected.one_sided, collected.tallies.keys(), first, fetched_last
        )
        details: dict[str, Any] = {
            "versions": [
                {"version": v, "from": s.isoformat(), "to": e.isoformat()} for v, s, e in windows
            ],
            "events_by_version": collected.events_by_version,
            "years": [first, last],
            "pages_fetched": http.pages_fetched,
            "country_years": len(collected.tallies),
            "skipped": {reason: n for reason, n in collected.skipped.items() if n},
        }
        if collected.unknown_values:
            # Counted events whose civilian deaths were unknown (null, "NA", "-"): kept, and
            # left out of ucdp.ged_civilian_deaths rather than read as zero.
            details["unknown_values"] = dict(collected.unknown_values)
        if collected.one_sided.unattributed:
            # One-sided events naming no perpetrator: those country-years get no mass-killing
            # variables rather than a count that may be too low.
            details["one_sided_unattributed_country_years"] = len(collected.one_sided.unattributed)
        if collected.unknown_gw:
            details["unknown_gw_codes"] = sorted(collected.unknown_gw)
        if collected.unplaced_iso3:
            details["iso3_not_in_countries_table"] = sorted(collected.unplaced_iso3)
        base = str(client.base_url).rstrip("/")
        return LoadedPayload(
            records=records,
            content_digest=http.hexdigest(),
            source_uri=redact_url(
                f"{base}/gedevents/{','.join(v for v, _, _ in windows)}"
                f"?StartDate={first}-01-01&EndDate={last}-12-31"
            ),
            rows_read=collected.rows_read,
            rows_skipped=sum(collected.skipped.values()),
            details=details,
            raw=list(http.bodies),
        )


def _windows(config: UcdpSourceConfig, first: int, last: int) -> list[tuple[str, date, date]]:
    """(version, start, end) to ask for: the yearly release up to its last year, the Candidate
    release for the later years."""
    covered = last_year_of_release(config.version)
    windows: list[tuple[str, date, date]] = []
    if first <= covered:
        windows.append((config.version, date(first, 1, 1), date(min(last, covered), 12, 31)))
    if last > covered and config.candidate_version is not None:
        windows.append(
            (config.candidate_version, date(max(first, covered + 1), 1, 1), date(last, 12, 31))
        )
    if not windows:
        raise RemoteSourceError(
            f"{LABEL}: release {config.version} ends in {covered}; years {first}-{last} need "
            "candidate_version in sources.yaml"
        )
    return windows


def _events(
    http: SourceHttp,
    headers: dict[str, str],
    version: str,
    start: date,
    end: date,
    page_size: int,
    context: ConnectorContext,
) -> Iterator[tuple[dict[str, Any], str]]:
    url: str = f"/gedevents/{version}"
    params: dict[str, str | int] | None = {
        "pagesize": page_size,
        "page": 0,
        "StartDate": start.isoformat(),
        "EndDate": end.isoformat(),
    }

    def fetch(page: int) -> Page:
        what = f"gedevents {version} page {page}"
        body = http.get_json(url, what, params=params, headers=headers)
        if not isinstance(body, dict):
            raise RemoteSourceError(
                f"{LABEL}, {what}: expected an object with Result, got {type(body).__name__}"
            )
        require_fields(body, ("TotalCount", "Result", "NextPageUrl"), f"{LABEL}, {what}")
        result = body["Result"]
        if not isinstance(result, list):
            raise RemoteSourceError(f"{LABEL}, {what}: Result is {type(result).__name__}")
        page_total = body["TotalCount"]
        if isinstance(page_total, bool) or not isinstance(page_total, int) or page_total < 0:
            raise RemoteSourceError(f"{LABEL}, {what}: TotalCount {page_total!r} is not a count")
        next_url = body["NextPageUrl"]

        def follow() -> None:
            nonlocal url, params
            if not isinstance(next_url, str):
                raise RemoteSourceError(f"{LABEL}, {what}: NextPageUrl {next_url!r} is not a URL")
            if not result:
                raise RemoteSourceError(
                    f"{LABEL}, {what}: an empty page that still points to a next page"
                )
            # NextPageUrl carries every filter; passing params again would duplicate them.
            url, params = next_url, None

        return Page(what, result, page_total, more=bool(next_url), follow=follow)

    def report(page: int, received: int, total: int) -> None:
        context.report(f"UCDP {version}: page {page}, {received}/{total} events")

    def mismatch(received: int, total: int) -> str:
        return (
            f"{LABEL}, gedevents {version}: received {received} events but TotalCount said "
            f"{total}; the release changed while paging or pages were lost; fetch again"
        )

    yield from walk_pages(Listing(LABEL, version, "event", MAX_PAGES), fetch, report, mismatch)


def _tally(
    collected: _Collected,
    event: dict[str, Any],
    where: str,
    resolver: CountryResolver,
    known: frozenset[str],
) -> None:
    collected.rows_read += 1
    require_fields(event, EVENT_FIELDS, where)
    violence = event["type_of_violence"]
    if violence not in VIOLENCE_VARIABLES:
        raise RemoteSourceError(f"{where}: type_of_violence {violence!r} is not 1, 2 or 3")
    year = parse_count(event["year"], f"{where}: year", ceiling=2200)
    if year is None or year < 1946:
        raise RemoteSourceError(f"{where}: year {event['year']!r} is not a year")
    best = parse_count(event["best"], f"{where}: best")
    if best is None:
        raise RemoteSourceError(f"{where}: best {event['best']!r} is missing")
    civilians = parse_count(event["deaths_civilians"], f"{where}: deaths_civilians")
    gw = event["country_id"]
    iso3 = resolver.from_gw(gw) if isinstance(gw, int | str) else None
    if iso3 is None:
        collected.skipped["unknown_gw_code"] += 1
        collected.unknown_gw.add(str(gw))
        return
    admin1 = event.get("adm_1")
    iso3 = event_country(iso3, admin1 if isinstance(admin1, str) else None)
    if known and iso3 not in known:
        collected.skipped["country_not_in_table"] += 1
        collected.unplaced_iso3.add(iso3)
        return
    identity = (str(event["id"]), year)
    fingerprint = (iso3, violence, best, civilians)
    if identity in collected.seen:
        if collected.seen[identity] != fingerprint:
            raise RemoteSourceError(
                f"{where}: event {event['id']} was delivered twice with different values; "
                "fetch again"
            )
        collected.skipped["identical_duplicate"] += 1
        return
    collected.seen[identity] = fingerprint
    tally = collected.tallies[(iso3, year)]
    tally.events += 1
    tally.deaths += best
    tally.by_type[violence] += best
    if violence == ONE_SIDED:
        perpetrator = ucdp_mass_killing.perpetrator_of(event)
        collected.one_sided.add(iso3, year, perpetrator, best)
    if civilians is None:
        collected.unknown_values["deaths_civilians"] += 1
    else:
        tally.civilian_deaths += civilians


def _records(collected: _Collected) -> list[ObservationRecord]:
    records: list[ObservationRecord] = []
    for (iso3, year), tally in sorted(collected.tallies.items()):
        values = {
            "ucdp.ged_events": tally.events,
            "ucdp.ged_deaths": tally.deaths,
            "ucdp.ged_civilian_deaths": tally.civilian_deaths,
            **{VIOLENCE_VARIABLES[t]: deaths for t, deaths in tally.by_type.items()},
        }
        for variable in TALLY_VARIABLES:
            records.append(
                ObservationRecord.for_year(iso3, variable, year, float(values[variable]))
            )
    return records
