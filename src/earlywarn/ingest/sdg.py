"""UN Global SDG Indicators Database API: attacks on human rights defenders, journalists and
trade unionists (indicator 16.10.1; data-sources.md section 8d).

``GET {base}/sdg/Series/Data?seriesCode=S&timePeriodStart=Y0&timePeriodEnd=Y1&pageSize=N&page=K``
answers ``{size, totalElements, totalPages, pageNumber, data: [...]}``; the connector asks for
pages 1..totalPages of each configured series and checks it received ``totalElements`` rows.

Variables (country-year counts of verified cases in the year): ``sdg.VC_VAW_MTUHRA`` (killings)
and ``sdg.VC_VOC_ENFDIS`` (enforced disappearances), named by their series code as ``wb.*``
variables are named by theirs. Indicator 16.a.1 adds ``sdg.SG_NHR_IMPLN``: 1 when the country's
national human-rights institution held GANHRI "A" status (full compliance with the Paris
Principles) in the year, else 0; a value above 1 fails the run like a broken count.

The API's quirks, each handled on purpose:

- ``geoAreaCode`` is a UN M49 code as a string ("4" is Afghanistan) and the same series lists
  regions and aggregates ("1" World, "419" Latin America). Codes go through the countries
  crosswalk; a code it does not hold (an aggregate, by code, never by name) is skipped and listed
  in ``details``, as is a country missing from the countries table.
- Several rows per country-year, one per combination of ``dimensions`` (sex, victim group):
  only the total row counts (every dimension at its total value, ``TOTAL_VALUES``); breakdowns
  are skipped and counted, never summed (a sum would double count).
- ``value`` is a string; "NaN", "N" and "" mean not available: skipped and counted, never zero
  (most countries do not report, so missing is not zero). A value that is not a whole,
  non-negative count fails the run naming the row: the parser stays strict because no recorded
  payload exists to learn other shapes from.
- ``timePeriodStart`` arrives as 2020 or 2020.0 (or "2020"); anything else is an error.
- ``attributes.Nature`` "N" (non-relevant) rows are skipped; ``footnotes`` (a list of strings or
  one string) are not values: the number of footnoted values is reported in ``details``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from pydantic import BaseModel

from earlywarn.countries.service import CountryResolver
from earlywarn.framework.sources_schemas import SdgSourceConfig
from earlywarn.ingest.connectors import ConnectorContext, SourceDefinition
from earlywarn.ingest.errors import RemoteSourceError
from earlywarn.ingest.http import SourceHttp, make_client, redact_url
from earlywarn.ingest.paging import Listing, Page, walk_pages
from earlywarn.ingest.schemas import LoadedPayload, ObservationRecord
from earlywarn.ingest.values import parse_count, require_fields
from earlywarn.settings import Settings

LABEL = "UN SDG API"
DATA_PATH = "/sdg/Series/Data"
VARIABLE_PREFIX = "sdg."
SERIES = {
    "VC_VAW_MTUHRA": "killings of human rights defenders, journalists and trade unionists",
    "VC_VOC_ENFDIS": "enforced disappearances of human rights defenders, journalists and "
    "trade unionists",
    "SG_NHR_IMPLN": "national human-rights institution with GANHRI A status (1 yes, 0 no)",
}
# Series that are yes/no flags rather than counts: anything above this is a broken payload.
CEILINGS = {"SG_NHR_IMPLN": 1}
VARIABLES = tuple(VARIABLE_PREFIX + code for code in SERIES)
NOT_AVAILABLE = frozenset({"nan", "n", ""})
# The value a dimension takes on the total row (SDG API codes for "all of them").
TOTAL_VALUES = frozenset({"BOTHSEX", "ALLAGE", "ALLAREA", "_T", "ALL", "TOTAL"})
NON_RELEVANT_NATURE = "N"
ROW_FIELDS = ("series", "geoAreaCode", "timePeriodStart", "value")
MAX_PAGES = 1_000
DEFAULT_YEARS_BACK = 6
# More verified killings of defenders in one country-year than this is a broken payload.
MAX_CASES = 100_000


@dataclass
class _Collected:
    values: dict[tuple[str, str, int], float] = field(default_factory=dict)
    rows_read: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    not_countries: dict[str, str] = field(default_factory=dict)
    not_in_table: set[str] = field(default_factory=set)
    footnoted: int = 0
    by_series: Counter[str] = field(default_factory=Counter)


class SdgConnector:
    """Series of indicator 16.10.1 over the year window of ``sources.yaml``; no key needed."""

    source_id = "sdg"
    definition = SourceDefinition(
        name="UN Global SDG Indicators Database (16.10.1 attacks on defenders; 16.a.1 NHRIs)",
        kind="api",
        url="https://unstats.un.org/SDGAPI/v1",
        licence="UN data: free to use with attribution (UN Statistics Division terms of use)",
    )

    def missing_settings(self, settings: Settings) -> list[str]:
        return []

    def open_client(self, settings: Settings) -> httpx.Client:
        return make_client(settings.sdg_base_url, settings.http_timeout_seconds)

    def fetch(self, context: ConnectorContext, client: httpx.Client) -> LoadedPayload:
        config = _config(context.source_config)
        first, last = config.year_range(context.now.year)
        http = SourceHttp(
            client,
            LABEL,
            max_attempts=context.settings.http_max_attempts,
            sleep=context.sleep,
            bodies=context.received,
        )
        resolver = CountryResolver.default()
        collected = _Collected()
        for series in config.series:
            for row, where in _rows(http, series, first, last, config.page_size, context):
                _take(collected, row, where, series, resolver, context.known_iso3s)
        records = [
            ObservationRecord.for_year(iso3, VARIABLE_PREFIX + series, year, value)
            for (iso3, series, year), value in sorted(collected.values.items())
        ]
        details: dict[str, Any] = {
            "series": list(config.series),
            "years": [first, last],
            "pages_fetched": http.pages_fetched,
            "rows_by_series": dict(collected.by_series),
            "skipped": dict(collected.skipped),
            "footnoted_values": collected.footnoted,
        }
        if collected.not_countries:
            details["areas_not_countries"] = dict(sorted(collected.not_countries.items()))
        if collected.not_in_table:
            details["iso3_not_in_countries_table"] = sorted(collected.not_in_table)
        base = str(client.base_url).rstrip("/")
        return LoadedPayload(
            records=records,
            content_digest=http.hexdigest(),
            source_uri=redact_url(
                f"{base}{DATA_PATH}?seriesCode={','.join(config.series)}"
                f"&timePeriodStart={first}&timePeriodEnd={last}"
            ),
            rows_read=collected.rows_read,
            rows_skipped=sum(collected.skipped.values()),
            details=details,
            raw=list(http.bodies),
        )


def _config(source_config: BaseModel | None) -> SdgSourceConfig:
    if isinstance(source_config, SdgSourceConfig):
        return source_config
    return SdgSourceConfig(years_back=DEFAULT_YEARS_BACK)


def _rows(
    http: SourceHttp,
    series: str,
    first: int,
    last: int,
    page_size: int,
    context: ConnectorContext,
) -> Iterator[tuple[dict[str, Any], str]]:
    pages = 1

    def fetch(page: int) -> Page:
        nonlocal pages
        what = f"{series} page {page}"
        body = http.get_json(
            DATA_PATH,
            what,
            params={
                "seriesCode": series,
                "timePeriodStart": first,
                "timePeriodEnd": last,
                "pageSize": page_size,
                "page": page,
            },
        )
        if not isinstance(body, dict) or "data" not in body:
            shown = sorted(str(k) for k in body)[:10] if isinstance(body, dict) else body
            raise RemoteSourceError(
                f"{LABEL}, {what}: expected an object with 'data', got {str(shown)[:300]}"
            )
        require_fields(body, ("totalElements", "totalPages"), f"{LABEL}, {what}")
        data = body["data"]
        if not isinstance(data, list):
            raise RemoteSourceError(f"{LABEL}, {what}: 'data' is {type(data).__name__}")
        total = -1
        if page == 1:
            total = _whole(body["totalElements"], f"{LABEL}, {what}: totalElements")
            pages = _whole(body["totalPages"], f"{LABEL}, {what}: totalPages")
        if not data and page < pages:
            raise RemoteSourceError(f"{LABEL}, {what}: empty page before the last ({pages})")
        return Page(what, data, total, more=page < pages)

    def report(page: int, received: int, total: int) -> None:
        context.report(f"SDG {series}: page {page}/{pages}, {received}/{total} rows")

    def mismatch(received: int, total: int) -> str:
        return (
            f"{LABEL}, {series}: received {received} rows but totalElements said {total}; "
            "the series changed while paging or pages were lost; fetch again"
        )

    yield from walk_pages(Listing(LABEL, series, "row", MAX_PAGES), fetch, report, mismatch)


def _whole(value: Any, where: str) -> int:
    number = parse_count(value, where)
    if number is None:
        raise RemoteSourceError(f"{where}: {value!r} is missing")
    return number


def _take(
    collected: _Collected,
    row: dict[str, Any],
    where: str,
    series: str,
    resolver: CountryResolver,
    known: frozenset[str],
) -> None:
    collected.rows_read += 1
    require_fields(row, ROW_FIELDS, where)
    if row["series"] != series:
        raise RemoteSourceError(f"{where}: series {row['series']!r} in the answer for {series}")
    collected.by_series[series] += 1
    attributes = row.get("attributes") or {}
    if not isinstance(attributes, dict):
        raise RemoteSourceError(f"{where}: attributes {attributes!r} is not an object")
    if attributes.get("Nature") == NON_RELEVANT_NATURE:
        collected.skipped["nature_non_relevant"] += 1
        return
    dimensions = row.get("dimensions") or {}
    if not isinstance(dimensions, dict):
        raise RemoteSourceError(f"{where}: dimensions {dimensions!r} is not an object")
    if any(str(v).upper() not in TOTAL_VALUES for v in dimensions.values()):
        collected.skipped["breakdown_not_total"] += 1
        return
    code = row["geoAreaCode"]
    iso3 = resolver.from_m49(code) if isinstance(code, str | int) else None
    if iso3 is None:
        collected.skipped["area_not_a_country"] += 1
        collected.not_countries[str(code)] = str(row.get("geoAreaName", ""))
        return
    if known and iso3 not in known:
        collected.skipped["country_not_in_table"] += 1
        collected.not_in_table.add(iso3)
        return
    year = _year(row["timePeriodStart"], where)
    value = _value(row["value"], where, CEILINGS.get(series, MAX_CASES))
    if value is None:
        collected.skipped["value_not_available"] += 1
        return
    footnotes = row.get("footnotes")
    if footnotes is not None and not isinstance(footnotes, str | list):
        raise RemoteSourceError(f"{where}: footnotes {footnotes!r} is neither text nor a list")
    if footnotes:
        collected.footnoted += 1
    key = (iso3, series, year)
    earlier = collected.values.get(key)
    if earlier is not None:
        if earlier != value:
            raise RemoteSourceError(
                f"{where}: {iso3} {series} {year} has two total rows ({earlier:g} and "
                f"{value:g}); which one counts cannot be told"
            )
        collected.skipped["identical_duplicate"] += 1
        return
    collected.values[key] = value


def _year(value: Any, where: str) -> int:
    if isinstance(value, bool):
        raise RemoteSourceError(f"{where}: timePeriodStart {value!r} is not a year")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise RemoteSourceError(f"{where}: timePeriodStart {value!r} is not a year") from None
    if number != int(number) or not 1900 <= number <= 2200:
        raise RemoteSourceError(f"{where}: timePeriodStart {value!r} is not a year")
    return int(number)


def _value(value: Any, where: str, ceiling: int) -> float | None:
    if isinstance(value, str) and value.strip().lower() in NOT_AVAILABLE:
        return None
    count = parse_count(value, f"{where}: value", ceiling=ceiling)
    return None if count is None else float(count)
