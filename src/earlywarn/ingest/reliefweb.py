"""ReliefWeb API (UN OCHA): disasters and reports counted per country and year.

``GET {base}/{disasters|reports}?appname=...`` with ``limit``/``offset`` paging, asking only for
the fields counted (``country.iso3``, the date). The ``appname`` is the one ReliefWeb
pre-approved for this installation (mandatory since 1 November 2025): it comes from the setting
``EARLYWARN_RELIEFWEB_APPNAME``, and without it the source is reported as not configured. The
base URL setting chooses the API version (``.../v2``, or ``.../v1`` for older appnames); both
answer with the same envelope (``totalCount``, ``count``, ``data[{id, fields}]``), and v2 writes
ISO3 in lower case.

- ``reliefweb.disasters``: disasters whose event date (``date.event``, else ``date.created``)
  falls in the year, counted once for every country the disaster lists.
- ``reliefweb.reports``: reports by original publication date (``date.original``, else
  ``date.created``), counted once for every country the report is about.

Counts are complete for the window, so every current state of the countries table without an
item gets an explicit 0 (ReliefWeb covers the world; no report is information). ReliefWeb's
"World" pseudo-country (``wld``) is skipped and counted; any other code earlywarn cannot place
fails the run, listing every such code. Hostile answers (an ``error`` body, a page holding
fewer items than its ``count`` says, an item without countries or dates, more pages than
``MAX_PAGES``) fail with the cause named.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from pydantic import BaseModel

from earlywarn.countries.reference import load_reference
from earlywarn.framework.sources_schemas import ReliefWebContent, ReliefWebSourceConfig
from earlywarn.ingest.connectors import ConnectorContext, SourceDefinition
from earlywarn.ingest.errors import IngestError, RemoteSourceError
from earlywarn.ingest.http import SourceHttp, make_client, redact_url
from earlywarn.ingest.schemas import LoadedPayload, ObservationRecord
from earlywarn.settings import Settings

LABEL = "ReliefWeb API"
PAGE_LIMIT = 1000  # the API's maximum
# 1,000 calls a day per appname: a run needing more than this is misconfigured, not slow.
MAX_PAGES = 200
DEFAULT_YEARS_BACK = 2
DATE_FIELDS: dict[ReliefWebContent, str] = {"disasters": "event", "reports": "original"}
VARIABLES: dict[ReliefWebContent, str] = {
    "disasters": "reliefweb.disasters",
    "reports": "reliefweb.reports",
}
NON_COUNTRY_CODES: dict[str, str] = {"WLD": "World"}


@dataclass(frozen=True)
class ReliefWebPage:
    total_count: int
    count: int
    items: list[dict[str, Any]]


def parse_page(body: Any, what: str) -> ReliefWebPage:
    """The paging numbers and items of one decoded list answer, checked for consistency."""
    if not isinstance(body, dict):
        raise RemoteSourceError(f"{LABEL}, {what}: expected an object, got {type(body).__name__}")
    if "error" in body:
        error = body["error"]
        message = error.get("message") if isinstance(error, dict) else error
        raise RemoteSourceError(f"{LABEL}, {what}: the API answered with an error: {message}")
    for key in ("totalCount", "count", "data"):
        if key not in body:
            raise RemoteSourceError(f"{LABEL}, {what}: no {key!r} in the answer")
    total, count, data = body["totalCount"], body["count"], body["data"]
    if not _non_negative_int(total) or not _non_negative_int(count):
        raise RemoteSourceError(
            f"{LABEL}, {what}: totalCount {total!r} / count {count!r} are not counts"
        )
    if not isinstance(data, list):
        raise RemoteSourceError(f"{LABEL}, {what}: 'data' is {type(data).__name__}, not a list")
    if len(data) != count:
        raise RemoteSourceError(
            f"{LABEL}, {what}: the page says count {count} but holds {len(data)} item(s); "
            "a truncated answer"
        )
    for position, item in enumerate(data, start=1):
        if not isinstance(item, dict) or not isinstance(item.get("fields"), dict):
            raise RemoteSourceError(f"{LABEL}, {what}: item {position} has no 'fields' object")
    return ReliefWebPage(total_count=total, count=count, items=data)


def item_countries_and_year(
    item: dict[str, Any], content: ReliefWebContent, where: str
) -> tuple[list[str], int]:
    """The upper-case ISO3 codes an item lists and the year it counts for."""
    fields = item["fields"]
    countries = fields.get("country")
    if not countries and isinstance(fields.get("primary_country"), dict):
        countries = [fields["primary_country"]]
    if not isinstance(countries, list) or not countries:
        raise RemoteSourceError(
            f"{where}: no 'country' field (ask for fields[include][]=country.iso3)"
        )
    codes: list[str] = []
    for country in countries:
        code = country.get("iso3") if isinstance(country, dict) else None
        if not isinstance(code, str) or not code.strip():
            raise RemoteSourceError(f"{where}: a country without 'iso3' ({country!r})")
        codes.append(code.strip().upper())
    dates = fields.get("date")
    if not isinstance(dates, dict):
        raise RemoteSourceError(f"{where}: no 'date' field")
    text = dates.get(DATE_FIELDS[content]) or dates.get("created")
    if not isinstance(text, str):
        raise RemoteSourceError(
            f"{where}: neither date.{DATE_FIELDS[content]} nor date.created is given"
        )
    try:
        year = datetime.fromisoformat(text).year
    except ValueError:
        raise RemoteSourceError(f"{where}: {text!r} is not an ISO date") from None
    return sorted(set(codes)), year


def count_items(
    items: Iterable[dict[str, Any]],
    content: ReliefWebContent,
    *,
    what: str,
    start_year: int,
    end_year: int,
) -> tuple[Counter[tuple[str, int]], Counter[str]]:
    """(country code, year) -> items, and skipped counts by reason."""
    counts: Counter[tuple[str, int]] = Counter()
    skipped: Counter[str] = Counter()
    seen: set[str] = set()
    for position, item in enumerate(items, start=1):
        identifier = str(item.get("id", position))
        where = f"{LABEL}, {what} item {identifier}"
        if identifier in seen:
            skipped["repeated_item"] += 1  # paging over a changing list can repeat one
            continue
        seen.add(identifier)
        codes, year = item_countries_and_year(item, content, where)
        if not start_year <= year <= end_year:
            skipped["outside_window"] += 1
            continue
        for code in codes:
            if code in NON_COUNTRY_CODES:
                skipped[f"country_{NON_COUNTRY_CODES[code].lower()}"] += 1
                continue
            counts[(code, year)] += 1
    return counts, skipped


def build_payload(
    counts: dict[ReliefWebContent, Counter[tuple[str, int]]],
    skipped: Counter[str],
    *,
    start_year: int,
    end_year: int,
    known_iso3s: Collection[str],
    zero_fill_iso3s: Collection[str],
    digest: str,
    source_uri: str,
    details: dict[str, Any],
    raw: SourceHttp | None = None,
) -> LoadedPayload:
    known = frozenset(known_iso3s)
    unknown = sorted({code for counter in counts.values() for code, _ in counter} - known)
    if unknown:
        raise IngestError(
            f"{LABEL}: {len(unknown)} country code(s) that are no country of the countries "
            f"table: {', '.join(unknown)}. Add them to earlywarn/countries (or to "
            "NON_COUNTRY_CODES in ingest/reliefweb.py); codes are never guessed"
        )
    records: list[ObservationRecord] = []
    zero_fill = sorted(frozenset(zero_fill_iso3s) & known)
    for content, counter in counts.items():
        variable = VARIABLES[content]
        for iso3 in sorted({code for code, _ in counter} | set(zero_fill)):
            for year in range(start_year, end_year + 1):
                value = float(counter.get((iso3, year), 0))
                records.append(ObservationRecord.for_year(iso3, variable, year, value))
    return LoadedPayload(
        records=records,
        content_digest=digest,
        source_uri=source_uri,
        rows_read=len(records) + sum(skipped.values()),
        rows_skipped=sum(skipped.values()),
        details={**details, "skipped": dict(skipped), "years": [start_year, end_year]},
        raw=list(raw.bodies) if raw is not None else [],
    )


def parse_reliefweb(
    content_bytes: bytes,
    *,
    name: str,
    content: ReliefWebContent,
    start_year: int,
    end_year: int,
    known_iso3s: Collection[str],
    zero_fill_iso3s: Collection[str] = (),
) -> LoadedPayload:
    """One saved, complete list answer (bytes) as a payload; used for files and tests."""
    try:
        body = json.loads(content_bytes)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RemoteSourceError(f"{LABEL}, {name}: not valid JSON ({exc})") from None
    page = parse_page(body, name)
    if page.count < page.total_count:
        raise RemoteSourceError(
            f"{LABEL}, {name}: holds {page.count} of {page.total_count} items; counts need "
            "every page"
        )
    counter, skipped = count_items(
        page.items, content, what=name, start_year=start_year, end_year=end_year
    )
    return build_payload(
        {content: counter},
        skipped,
        start_year=start_year,
        end_year=end_year,
        known_iso3s=known_iso3s,
        zero_fill_iso3s=zero_fill_iso3s,
        digest=hashlib.sha256(content_bytes).hexdigest(),
        source_uri=name,
        details={"items": {content: page.count}},
    )


def fetch_items(
    http: SourceHttp,
    content: ReliefWebContent,
    *,
    appname: str,
    start_year: int,
    end_year: int,
    page_limit: int = PAGE_LIMIT,
) -> list[dict[str, Any]]:
    """Every item of ``content`` dated in the window, following ``offset`` to ``totalCount``."""
    date_field = f"date.{DATE_FIELDS[content]}"
    params: dict[str, str | int] = {
        "appname": appname,
        "limit": page_limit,
        "fields[include][0]": "country.iso3",
        "fields[include][1]": date_field,
        "fields[include][2]": "date.created",
        "filter[field]": date_field,
        "filter[value][from]": f"{start_year}-01-01T00:00:00+00:00",
        "filter[value][to]": f"{end_year}-12-31T23:59:59+00:00",
        "sort[0]": "id:asc",
    }
    items: list[dict[str, Any]] = []
    offset = 0
    total: int | None = None
    for number in range(1, MAX_PAGES + 1):
        what = f"{content} page {number} (offset {offset})"
        page = parse_page(
            http.get_json(f"/{content}", what, params={**params, "offset": offset}), what
        )
        if total is None:
            total = page.total_count
        items.extend(page.items)
        offset += page.count
        if page.count == 0 or offset >= page.total_count:
            if len(items) < total and page.count == 0:
                raise RemoteSourceError(
                    f"{LABEL}, {what}: empty page after {len(items)} of {total} items"
                )
            return items
    raise RemoteSourceError(
        f"{LABEL}, {content}: more than {MAX_PAGES} pages ({total} items); narrow the window "
        "(years_back) instead of spending the appname's daily quota"
    )


def fetch_reliefweb(
    http: SourceHttp,
    contents: Iterable[ReliefWebContent],
    *,
    appname: str,
    start_year: int,
    end_year: int,
    known_iso3s: Collection[str],
    zero_fill_iso3s: Collection[str],
) -> LoadedPayload:
    if end_year < start_year:
        raise RemoteSourceError(f"{LABEL}: end year {end_year} is before start year {start_year}")
    counts: dict[ReliefWebContent, Counter[tuple[str, int]]] = {}
    skipped: Counter[str] = Counter()
    fetched: dict[str, int] = {}
    for content in contents:
        items = fetch_items(
            http, content, appname=appname, start_year=start_year, end_year=end_year
        )
        fetched[content] = len(items)
        counter, content_skipped = count_items(
            items, content, what=content, start_year=start_year, end_year=end_year
        )
        counts[content] = counter
        skipped.update(content_skipped)
    base = str(http.client.base_url).rstrip("/")
    return build_payload(
        counts,
        skipped,
        start_year=start_year,
        end_year=end_year,
        known_iso3s=known_iso3s,
        zero_fill_iso3s=zero_fill_iso3s,
        digest=http.hexdigest(),
        # The appname is not a secret, but it is this installation's: leave it out.
        source_uri=redact_url(f"{base}/{'+'.join(counts)}?years={start_year}-{end_year}"),
        details={"items": fetched, "pages_fetched": http.pages_fetched},
        raw=http,
    )


class ReliefWebConnector:
    """Disaster (and optionally report) counts per country-year over the configured window."""

    source_id = "reliefweb"
    definition = SourceDefinition(
        name="ReliefWeb API (UN OCHA), disasters and reports per country and year",
        kind="api",
        url="https://api.reliefweb.int/v2",
        licence="ReliefWeb terms of use; content remains the copyright of each source",
    )

    def missing_settings(self, settings: Settings) -> list[str]:
        if settings.reliefweb_appname is None or not settings.reliefweb_appname.strip():
            return ["EARLYWARN_RELIEFWEB_APPNAME"]
        return []

    def open_client(self, settings: Settings) -> httpx.Client:
        return make_client(settings.reliefweb_base_url, settings.http_timeout_seconds)

    def fetch(self, context: ConnectorContext, client: httpx.Client) -> LoadedPayload:
        appname = context.settings.reliefweb_appname
        if appname is None or not appname.strip():
            raise IngestError(
                "ReliefWeb is not configured: set EARLYWARN_RELIEFWEB_APPNAME to the appname "
                "ReliefWeb approved for this installation"
            )
        if not context.known_iso3s:
            raise IngestError("the countries table is empty; seed it before loading ReliefWeb")
        config = _config(context.source_config)
        first, last = config.year_range(context.now.year)
        current = {record.iso3 for record in load_reference() if not record.is_historical}
        http = SourceHttp(
            client,
            LABEL,
            max_attempts=context.settings.http_max_attempts,
            sleep=context.sleep,
            bodies=context.received,
        )
        return fetch_reliefweb(
            http,
            config.content,
            appname=appname.strip(),
            start_year=first,
            end_year=last,
            known_iso3s=context.known_iso3s,
            zero_fill_iso3s=current,
        )


def _config(source_config: BaseModel | None) -> ReliefWebSourceConfig:
    if isinstance(source_config, ReliefWebSourceConfig):
        return source_config
    return ReliefWebSourceConfig(years_back=DEFAULT_YEARS_BACK)


def _non_negative_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
