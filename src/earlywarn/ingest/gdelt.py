"""GDELT DOC 2.0 API connector: monthly media attention per country (data-sources.md section 7).

For each configured query and country, one ``mode=TimelineVolRaw`` request over the last
``months_back`` complete months asks how many monitored articles matched the query and named the
country (its name in quotes); daily counts are summed per month. GDELT allows one request every
five seconds per IP, so the client spaces requests by ``min_interval_seconds`` (at least 5).

GDELT answers problems in plain text, often with HTTP 200: "Please limit requests to one every
5 seconds" (treated like a 429: waited out and retried) and query errors such as "One or more of
your keywords were too short, too long or too common" (an error naming the query). An empty
object ``{}`` means no article matched: every month of the window is zero.

Variables (country-month): ``gdelt.<query>_articles`` and ``gdelt.<query>_per_million``
(matching articles per million monitored articles that day-range, which corrects for GDELT's
varying coverage). These are noisy media-attention signals, not event counts.
"""

from __future__ import annotations

import calendar
import re
from datetime import date
from typing import Any

import httpx

from earlywarn.countries.service import CountryResolver
from earlywarn.framework.sources_schemas import GdeltSourceConfig
from earlywarn.ingest.connectors import ConnectorContext, SourceDefinition
from earlywarn.ingest.errors import RemoteSourceError
from earlywarn.ingest.http import SourceHttp, describe_body, make_client, redact_url
from earlywarn.ingest.schemas import LoadedPayload, ObservationRecord
from earlywarn.ingest.values import parse_count
from earlywarn.settings import Settings

LABEL = "GDELT DOC API"
DOC_PATH = "/doc/doc"
RATE_LIMIT_TEXT = b"please limit requests"
_DAY = re.compile(r"^(\d{4})(\d{2})(\d{2})")
# An article count above this for one country, query and day is a broken payload.
MAX_DAILY_ARTICLES = 10_000_000


def month_window(today: date, months_back: int) -> list[tuple[int, int]]:
    """The ``months_back`` complete months before ``today``'s month, oldest first."""
    months = []
    year, month = today.year, today.month
    for _ in range(months_back):
        month -= 1
        if month == 0:
            year, month = year - 1, 12
        months.append((year, month))
    return sorted(months)


class GdeltConnector:
    source_id = "gdelt"
    definition = SourceDefinition(
        name="GDELT DOC 2.0 API, monthly article counts per query and country",
        kind="api",
        url="https://api.gdeltproject.org/api/v2/doc/doc",
        licence="free use with attribution to the GDELT Project",
    )

    def missing_settings(self, settings: Settings) -> list[str]:
        return []  # no key

    def open_client(self, settings: Settings) -> httpx.Client:
        return make_client(settings.gdelt_base_url, settings.http_timeout_seconds)

    def fetch(self, context: ConnectorContext, client: httpx.Client) -> LoadedPayload:
        config = context.source_config
        if not isinstance(config, GdeltSourceConfig):
            config = GdeltSourceConfig()
        if not config.queries or not config.countries:
            raise RemoteSourceError(
                f"{LABEL}: nothing to ask: give queries and countries under gdelt in sources.yaml"
            )
        resolver = CountryResolver.default()
        months = month_window(context.now.date(), config.months_back)
        first = date(*months[0], 1)
        last_year, last_month = months[-1]
        after_last = date(last_year, last_month, calendar.monthrange(last_year, last_month)[1])
        http = SourceHttp(
            client,
            LABEL,
            max_attempts=context.settings.http_max_attempts,
            sleep=context.sleep,
            bodies=context.received,
            min_interval_seconds=config.min_interval_seconds,
        )
        records: list[ObservationRecord] = []
        skipped: dict[str, int] = {}
        not_in_table: list[str] = []
        rows_read = 0
        for iso3 in config.countries:
            if context.known_iso3s and iso3 not in context.known_iso3s:
                skipped["country_not_in_table"] = skipped.get("country_not_in_table", 0) + 1
                not_in_table.append(iso3)
                continue
            record = resolver.records.get(iso3)
            if record is None:
                raise RemoteSourceError(f"{LABEL}: {iso3} is not in the country crosswalk")
            for name, query in config.queries.items():
                what = f"query {name} for {iso3}"
                params: dict[str, str | int] = {
                    "query": f'({query}) "{record.name}"',
                    "mode": "TimelineVolRaw",
                    "format": "json",
                    "startdatetime": f"{first:%Y%m%d}000000",
                    "enddatetime": f"{after_last:%Y%m%d}235959",
                }
                body = self._get(http, params, what)
                counts, totals, points = _monthly(body, months, what)
                rows_read += points
                context.report(f"GDELT: {what}")
                for year, month in months:
                    last_day = calendar.monthrange(year, month)[1]
                    articles = counts[(year, month)]
                    monitored = totals[(year, month)]
                    period = (f"{year:04d}-{month:02d}", date(year, month, 1))
                    end = date(year, month, last_day)
                    records.append(
                        ObservationRecord(
                            iso3, f"gdelt.{name}_articles", *period, end, float(articles)
                        )
                    )
                    if monitored > 0:
                        records.append(
                            ObservationRecord(
                                iso3,
                                f"gdelt.{name}_per_million",
                                *period,
                                end,
                                articles / monitored * 1_000_000,
                            )
                        )
        details: dict[str, Any] = {
            "months": [f"{y:04d}-{m:02d}" for y, m in months],
            "queries": dict(config.queries),
            "requests": http.requests_made,
        }
        if skipped:
            details["skipped"] = skipped
            details["iso3_not_in_countries_table"] = not_in_table
        base = str(client.base_url).rstrip("/")
        return LoadedPayload(
            records=records,
            content_digest=http.hexdigest(),
            source_uri=redact_url(f"{base}{DOC_PATH}?mode=TimelineVolRaw"),
            rows_read=rows_read,
            rows_skipped=sum(skipped.values()),
            details=details,
            raw=list(http.bodies),
        )

    def _get(self, http: SourceHttp, params: dict[str, str | int], what: str) -> Any:
        for _attempt in range(http.max_attempts):
            response = http.request("GET", DOC_PATH, what, params=params, record=False)
            if RATE_LIMIT_TEXT in response.content[:200].lower():
                # Throttled with HTTP 200: wait a full interval more and ask again.
                http.sleep(http.min_interval_seconds)
                continue
            http.record(response)
            if response.content.strip() and not response.content.lstrip().startswith(b"{"):
                raise RemoteSourceError(
                    f"{LABEL}, {what}: GDELT refused the query: {describe_body(response)}"
                )
            return http.parse_json(response, what)
        raise RemoteSourceError(
            f"{LABEL}, {what}: still rate-limited after {http.max_attempts} attempt(s)"
        )


def _monthly(
    body: Any, months: list[tuple[int, int]], what: str
) -> tuple[dict[tuple[int, int], int], dict[tuple[int, int], int], int]:
    counts = dict.fromkeys(months, 0)
    totals = dict.fromkeys(months, 0)
    if not isinstance(body, dict):
        raise RemoteSourceError(f"{LABEL}, {what}: expected an object, got {type(body).__name__}")
    if not body:
        return counts, totals, 0  # {}: nothing matched
    timeline = body.get("timeline")
    if not isinstance(timeline, list):
        raise RemoteSourceError(
            f"{LABEL}, {what}: no 'timeline' list (keys: {', '.join(sorted(body))}); "
            "was the mode TimelineVolRaw?"
        )
    points = 0
    for series in timeline:
        data = series.get("data") if isinstance(series, dict) else None
        if not isinstance(data, list):
            raise RemoteSourceError(f"{LABEL}, {what}: a timeline series has no data list")
        for item in data:
            points += 1
            where = f"{LABEL}, {what} point {points}"
            if not isinstance(item, dict) or not isinstance(item.get("date"), str):
                raise RemoteSourceError(f"{where}: no date")
            match = _DAY.match(item["date"])
            if match is None:
                raise RemoteSourceError(f"{where}: date {item['date']!r} is not YYYYMMDD...")
            key = (int(match.group(1)), int(match.group(2)))
            value = parse_count(item.get("value"), f"{where}: value", ceiling=MAX_DAILY_ARTICLES)
            norm = parse_count(item.get("norm"), f"{where}: norm", ceiling=10**9)
            if key not in counts:
                continue  # GDELT pads the window by a day at either end
            counts[key] += value or 0
            totals[key] += norm or 0
    return counts, totals, points
