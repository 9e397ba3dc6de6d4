"""World Bank Indicators API v2 connector (``/work/shared/reference/data-sources.md`` section 1).

The API answers errors with HTTP 200 and a one-element array, returns ``null`` for missing years,
and mixes about 49 aggregates (regions, income groups) into ``country/all``; aggregates are
recognised through the ``/country`` list (``region.id == "NA"``), never by guessing from codes.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Collection, Sequence
from datetime import date
from typing import Any

import httpx

from earlywarn.framework.config import Configuration
from earlywarn.framework.config_schemas import IndicatorsConfig
from earlywarn.framework.sources_schemas import WorldBankSourceConfig
from earlywarn.ingest.connectors import ConnectorContext, SourceDefinition
from earlywarn.ingest.errors import IngestError, RemoteSourceError
from earlywarn.ingest.http import SourceHttp, make_client, redact_url
from earlywarn.ingest.schemas import LoadedPayload, ObservationRecord, RawPayload
from earlywarn.ingest.values import require_fields
from earlywarn.settings import Settings

LABEL = "World Bank API"
VARIABLE_PREFIX = "wb."
COUNTRY_LIST_PER_PAGE = 400
DEFAULT_YEARS_BACK = 8
_YEAR = re.compile(r"^\d{4}$")
ROW_FIELDS = ("countryiso3code", "date", "value")
# No World Bank series comes near this (world GDP is ~1e14 US$); a larger value is corruption.
MAX_ABS_VALUE = 1e15


def worldbank_indicators(config: Configuration | IndicatorsConfig) -> list[str]:
    """The World Bank indicator ids behind the configured ``wb.*`` variables, in config order."""
    indicators = config.indicators if isinstance(config, Configuration) else config
    ids: list[str] = []
    for indicator in indicators.indicators:
        if indicator.variable.startswith(VARIABLE_PREFIX):
            wb_id = indicator.variable[len(VARIABLE_PREFIX) :]
            if wb_id not in ids:
                ids.append(wb_id)
    return ids


class _Pages:
    """World Bank pages through the shared retrying client: ``[meta, rows]`` or an error."""

    def __init__(self, http: SourceHttp) -> None:
        self.http = http

    @property
    def pages_fetched(self) -> int:
        return self.http.pages_fetched

    def get_page(self, path: str, params: dict[str, str | int], what: str) -> list[Any]:
        """One page as ``[meta, rows]``; ``what`` names the request in error messages."""
        return self.check(self.http.get(path, what, params=params), what)

    def check(self, response: httpx.Response, what: str) -> list[Any]:
        """A fetched page decoded and checked to be ``[meta, rows]``."""
        body = self.http.parse_json(response, what)
        if not isinstance(body, list):
            raise RemoteSourceError(
                f"{LABEL}, {what}: expected a JSON array [meta, rows], got {type(body).__name__}"
            )
        if body and isinstance(body[0], dict) and "message" in body[0]:
            raise RemoteSourceError(f"{LABEL}, {what}: error {_format_messages(body[0])}")
        if len(body) != 2 or not isinstance(body[0], dict):
            raise RemoteSourceError(
                f"{LABEL}, {what}: expected a JSON array [meta, rows], "
                f"got an array of {len(body)} element(s)"
            )
        return body


def _format_messages(error: dict[str, Any]) -> str:
    messages = error.get("message")
    if not isinstance(messages, list) or not messages:
        return repr(error)
    parts = []
    for message in messages:
        if isinstance(message, dict):
            parts.append(
                f"id {message.get('id')!s} {message.get('key')!s}: {message.get('value')!s}"
            )
        else:
            parts.append(repr(message))
    return "; ".join(parts)


def _page_count(meta: dict[str, Any], what: str) -> int:
    # per_page and friends are strings on /country and integers on indicator calls.
    try:
        pages = int(meta["pages"])
    except (KeyError, TypeError, ValueError):
        raise RemoteSourceError(
            f"World Bank API, {what}: page metadata has no usable 'pages' ({meta!r})"
        ) from None
    return max(pages, 1)


def _rows(body: list[Any], what: str) -> list[Any]:
    rows = body[1]
    if rows is None:  # an empty result set comes back as [meta, null]
        return []
    if not isinstance(rows, list):
        raise RemoteSourceError(
            f"World Bank API, {what}: expected a list of rows, got {type(rows).__name__}"
        )
    return rows


def fetch_worldbank(
    client: httpx.Client,
    indicators: Sequence[str],
    *,
    start_year: int,
    end_year: int,
    per_page: int = 1000,
    known_iso3s: Collection[str] | None = None,
    max_attempts: int = 4,
    sleep: Callable[[float], None] = time.sleep,
    previous_digest: str | None = None,
    bodies: list[RawPayload] | None = None,
    progress: Callable[[str], None] | None = None,
) -> LoadedPayload:
    """Fetch yearly values of ``indicators`` for every economy (aggregates dropped).

    Only the first page of each indicator is decoded while fetching (its metadata says how many
    pages follow). When the bytes of every page equal ``previous_digest`` (the last successful
    load), nothing else is decoded: the payload comes back without records and with
    ``details["parsing_skipped"]``, and the run is recorded as unchanged. This makes a re-run
    over unchanged data cost little more than the transfer.

    ``client`` carries the base URL (``Settings.worldbank_base_url``) and the timeout. Codes not
    in ``known_iso3s`` (the countries table) are skipped and listed in ``details``; ``None``
    accepts every non-aggregate code.
    """
    if not indicators:
        raise RemoteSourceError("World Bank API: no indicators to fetch (no wb.* variables)")
    if end_year < start_year:
        raise RemoteSourceError(
            f"World Bank API: end year {end_year} is before start year {start_year}"
        )
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    http = SourceHttp(client, LABEL, max_attempts=max_attempts, sleep=sleep, bodies=bodies)
    fetcher = _Pages(http)
    aggregates = _aggregate_codes(fetcher)
    known = frozenset(known_iso3s) if known_iso3s is not None else None

    records: list[ObservationRecord] = []
    seen: dict[tuple[str, str, int], float] = {}
    rows_read = 0
    skipped = {
        "null_value": 0,
        "aggregate": 0,
        "no_iso3_code": 0,
        "unknown_iso3": 0,
        "identical_duplicate": 0,
    }
    unknown_codes: set[str] = set()
    last_updated: dict[str, str] = {}
    fetched: list[tuple[str, int, str, list[Any] | httpx.Response]] = []
    page_counts: dict[str, int] = {}
    for indicator in indicators:
        path = f"/country/all/indicator/{indicator}"
        pages = 1
        page = 1
        while page <= pages:
            what = f"indicator {indicator} page {page}"
            if progress is not None:
                progress(f"{what} of {pages}")
            params: dict[str, str | int] = {
                "format": "json",
                "date": f"{start_year}:{end_year}",
                "per_page": per_page,
                "page": page,
            }
            if page == 1:
                first = fetcher.get_page(path, params, what)
                pages = page_counts[indicator] = _page_count(first[0], what)
                fetched.append((indicator, page, what, first))
            else:
                fetched.append((indicator, page, what, http.get(path, what, params=params)))
            page += 1

    if previous_digest is not None and http.hexdigest() == previous_digest:
        return LoadedPayload(
            records=[],
            content_digest=http.hexdigest(),
            source_uri=_source_uri(client, indicators, start_year, end_year),
            rows_read=0,
            details={
                "indicators": list(indicators),
                "years": [start_year, end_year],
                "pages_fetched": fetcher.pages_fetched,
                "parsing_skipped": True,
            },
            raw=list(http.bodies),
        )

    for position, (indicator, page, what, answer) in enumerate(fetched):
        fetched[position] = (indicator, page, what, [])  # let decoded pages go once used
        body = answer if isinstance(answer, list) else fetcher.check(answer, what)
        meta = body[0]
        if page > 1 and _page_count(meta, what) != page_counts[indicator]:
            raise RemoteSourceError(
                f"{LABEL}, {what}: the page count changed while paging (page 1 said "
                f"{page_counts[indicator]}, this page {meta.get('pages')!r}); fetch again"
            )
        if isinstance(meta.get("lastupdated"), str):
            last_updated[indicator] = meta["lastupdated"]
        rows_read += _page_records(
            _rows(body, what),
            indicator,
            what,
            aggregates,
            known,
            records,
            seen,
            skipped,
            unknown_codes,
        )

    details: dict[str, Any] = {
        "indicators": list(indicators),
        "years": [start_year, end_year],
        "pages_fetched": fetcher.pages_fetched,
        "skipped": {reason: count for reason, count in skipped.items() if count},
        "aggregates_known": len(aggregates),
    }
    if unknown_codes:
        details["unknown_iso3_codes"] = sorted(unknown_codes)
    if last_updated:
        details["lastupdated"] = last_updated
    return LoadedPayload(
        records=records,
        content_digest=http.hexdigest(),
        source_uri=_source_uri(client, indicators, start_year, end_year),
        rows_read=rows_read,
        rows_skipped=sum(skipped.values()),
        details=details,
        raw=list(http.bodies),
    )


def _source_uri(
    client: httpx.Client, indicators: Sequence[str], start_year: int, end_year: int
) -> str:
    return redact_url(
        f"{str(client.base_url).rstrip('/')}/country/all/indicator/"
        f"{';'.join(indicators)}?date={start_year}:{end_year}"
    )


def _aggregate_codes(fetcher: _Pages) -> set[str]:
    aggregates: set[str] = set()
    page = 1
    pages = 1
    while page <= pages:
        what = f"country list page {page}"
        body = fetcher.get_page(
            "/country",
            {"format": "json", "per_page": COUNTRY_LIST_PER_PAGE, "page": page},
            what,
        )
        pages = _page_count(body[0], what)
        for entry in _rows(body, what):
            if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
                raise RemoteSourceError(f"{LABEL}, {what}: an entry has no 'id' ({entry!r})")
            region = entry.get("region")
            if isinstance(region, dict) and region.get("id") == "NA":
                aggregates.add(entry["id"].strip().upper())
        page += 1
    return aggregates


_YEARS: dict[str, tuple[int, str, date, date]] = {}


def _year(date_text: Any) -> tuple[int, str, date, date] | None:
    """(year, period, start, end) for a "YYYY" date; cached, a payload repeats a few dozen."""
    if not isinstance(date_text, str):
        return None
    found = _YEARS.get(date_text)
    if found is None:
        if not _YEAR.match(date_text):
            return None
        year = int(date_text)
        found = (year, date_text, date(year, 1, 1), date(year, 12, 31))
        _YEARS[date_text] = found
    return found


def _page_records(
    rows: list[Any],
    indicator: str,
    what: str,
    aggregates: set[str],
    known: frozenset[str] | None,
    records: list[ObservationRecord],
    seen: dict[tuple[str, str, int], float],
    skipped: dict[str, int],
    unknown_codes: set[str],
) -> int:
    """Validate one page's rows into ``records``; returns the rows read. The loop is the hot
    path of a large load, so error texts are only built when an error is raised."""
    variable = f"{VARIABLE_PREFIX}{indicator}"
    append = records.append
    for position, row in enumerate(rows, start=1):
        try:
            # A renamed or dropped field must fail, not read as "no code"/"no value".
            iso3 = row["countryiso3code"]
            value = row["value"]
            date_text = row["date"]
        except (KeyError, TypeError):
            where = f"{LABEL}, {what} row {position}"
            if not isinstance(row, dict):
                raise RemoteSourceError(f"{where}: not an object") from None
            require_fields(row, ROW_FIELDS, where)
            raise
        if not isinstance(iso3, str) or not iso3.strip():
            skipped["no_iso3_code"] += 1
            continue
        if iso3 in aggregates:
            skipped["aggregate"] += 1
            continue
        iso3 = iso3.strip().upper()
        if iso3 in aggregates:
            skipped["aggregate"] += 1
            continue
        if value is None:
            skipped["null_value"] += 1
            continue
        if known is not None and iso3 not in known:
            skipped["unknown_iso3"] += 1
            unknown_codes.add(iso3)
            continue
        row_indicator = row.get("indicator")
        if isinstance(row_indicator, dict) and row_indicator.get("id") not in (None, indicator):
            raise RemoteSourceError(
                f"{LABEL}, {what} row {position}: asked for {indicator}, "
                f"got {row_indicator.get('id')!r}"
            )
        year = _YEARS.get(date_text) if type(date_text) is str else None
        if year is None:
            year = _year(date_text)
        if year is None:
            raise RemoteSourceError(
                f"{LABEL}, {what} row {position}: date {date_text!r} is not a year; only "
                "yearly series are supported"
            )
        # Fast path for the common case; NaN fails the comparison and takes the slow one.
        if type(value) is float and -MAX_ABS_VALUE <= value <= MAX_ABS_VALUE:
            number = value
        else:
            number = _number(value, what, position)
        key = (iso3, indicator, year[0])
        previous = seen.get(key)
        if previous is not None:
            # Paging over data that changes mid-fetch can repeat a row.
            if previous != number:
                raise RemoteSourceError(
                    f"{LABEL}, {what} row {position}: {iso3} {indicator} {year[1]} was "
                    f"delivered twice with different values ({previous!r} and {number!r}); "
                    "fetch again"
                )
            skipped["identical_duplicate"] += 1
            continue
        seen[key] = number
        append(ObservationRecord(iso3, variable, year[1], year[2], year[3], number))
    return len(rows)


def _number(value: Any, what: str, position: int) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RemoteSourceError(f"{LABEL}, {what} row {position}: value {value!r} is not a number")
    number = float(value)
    if number != number or number in (float("inf"), float("-inf")):
        raise RemoteSourceError(f"{LABEL}, {what} row {position}: value {value!r} is not finite")
    if abs(number) > MAX_ABS_VALUE:
        raise RemoteSourceError(
            f"{LABEL}, {what} row {position}: value {value!r} is beyond the plausible "
            f"{MAX_ABS_VALUE:g}"
        )
    return number


class WorldBankConnector:
    """Every ``wb.*`` variable of ``indicators.yaml``, over the window of ``sources.yaml``."""

    source_id = "worldbank"
    definition = SourceDefinition(
        name="World Bank Indicators API v2 (WDI, WGI)",
        kind="api",
        url="https://api.worldbank.org/v2",
        licence="CC BY 4.0 for most series (see each indicator's sourceOrganization)",
    )

    def missing_settings(self, settings: Settings) -> list[str]:
        return []  # no key needed

    def open_client(self, settings: Settings) -> httpx.Client:
        return make_client(settings.worldbank_base_url, settings.http_timeout_seconds)

    def fetch(self, context: ConnectorContext, client: httpx.Client) -> LoadedPayload:
        config = context.source_config
        if isinstance(config, WorldBankSourceConfig):
            first, last = config.year_range(context.now.year)
        else:
            last = context.now.year
            first = last - DEFAULT_YEARS_BACK
        if not context.known_iso3s:
            raise IngestError("the countries table is empty; seed it before loading World Bank")
        return fetch_worldbank(
            client,
            worldbank_indicators(context.indicators),
            start_year=first,
            end_year=last,
            known_iso3s=context.known_iso3s,
            max_attempts=context.settings.http_max_attempts,
            sleep=context.sleep,
            previous_digest=context.previous_digest,
            bodies=context.received,
            progress=context.progress,
        )
