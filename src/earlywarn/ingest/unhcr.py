"""UNHCR Refugee Statistics API: refugees, asylum-seekers and IDPs by country of origin.

``GET {base}/population/?yearFrom=&yearTo=&coo_all=true&limit=&page=`` returns one row per
origin and year (no asylum breakdown), paged: ``page``, ``maxPages`` and ``items``. Each row gives
``unhcr.refugees``, ``unhcr.asylum_seekers`` and ``unhcr.idps`` for its ``coo_iso`` and ``year``
(stocks at the end of the year, so forced displacement *from* the country: indicator 7.10).

Value treatment (documented, tested): numbers arrive as JSON integers when above zero and as the
string ``"0"`` when zero; both are numbers. ``"-"`` means not applicable (no such population
recorded for that origin, e.g. IDPs outside UNHCR's IDP situations) and ``null`` means no data:
both are skipped and counted, never turned into 0. Any other string, a negative number or one
above ``MAX_PLAUSIBLE_PEOPLE`` is an error. Country identity is ``coo_iso`` (ISO3; the UNHCR
code in ``coo`` is its own scheme, e.g. GFR for Germany): UNHCR's pseudo-origins in
``NON_COUNTRY_ORIGINS`` are skipped and counted, any other code that is not a country of the
countries table fails the run, listing every such code.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import BaseModel

from earlywarn.countries.service import ISO3_ALIASES
from earlywarn.framework.sources_schemas import UnhcrSourceConfig
from earlywarn.ingest.connectors import ConnectorContext, SourceDefinition
from earlywarn.ingest.errors import IngestError, RemoteSourceError
from earlywarn.ingest.http import SourceHttp, make_client, redact_url
from earlywarn.ingest.schemas import LoadedPayload, ObservationRecord
from earlywarn.settings import Settings

LABEL = "UNHCR API"
VARIABLES = {
    "refugees": "unhcr.refugees",
    "asylum_seekers": "unhcr.asylum_seekers",
    "idps": "unhcr.idps",
}
NOT_APPLICABLE = "-"
NON_COUNTRY_ORIGINS: dict[str, str] = {
    "UNK": "unknown origin",
    "XXA": "stateless",
    "TIB": "Tibetans",
}
# More people than live on Earth is a broken payload, not a displacement figure.
MAX_PLAUSIBLE_PEOPLE = 1e10
PAGE_LIMIT = 1000
DEFAULT_YEARS_BACK = 5


@dataclass(frozen=True)
class UnhcrPage:
    items: list[Any]
    page: int
    max_pages: int


def parse_page(body: Any, what: str) -> UnhcrPage:
    """The rows and paging fields of one decoded ``population/`` answer, checked."""
    if not isinstance(body, dict):
        raise RemoteSourceError(
            f"{LABEL}, {what}: expected an object with 'items', got {type(body).__name__}"
        )
    if "items" not in body:
        keys = ", ".join(sorted(str(k) for k in body)[:10]) or "none"
        raise RemoteSourceError(f"{LABEL}, {what}: no 'items' in the answer (keys: {keys})")
    items = body["items"]
    if not isinstance(items, list):
        raise RemoteSourceError(f"{LABEL}, {what}: 'items' is {type(items).__name__}, not a list")
    page = _paging_int(body, "page", default=1, what=what)
    max_pages = _paging_int(body, "maxPages", default=page, what=what)
    return UnhcrPage(items=items, page=page, max_pages=max_pages)


def population_records(
    items: list[Any],
    *,
    known_iso3s: Collection[str],
    iso3_aliases: Mapping[str, str] | None = None,
    what: str = "population",
) -> tuple[list[ObservationRecord], dict[str, int], dict[str, list[str]]]:
    """Records of the rows, the skipped counts by reason, and the problems (unknown codes).

    ``iso3_aliases`` maps older or non-ISO alpha-3 spellings to the countries table's code."""
    known = frozenset(known_iso3s)
    aliases = dict(iso3_aliases or {})
    records: list[ObservationRecord] = []
    seen: dict[tuple[str, str, int], float] = {}
    skipped: Counter[str] = Counter()
    unknown: dict[str, list[str]] = {}
    for position, row in enumerate(items, start=1):
        where = f"{LABEL}, {what} row {position}"
        if not isinstance(row, dict):
            raise RemoteSourceError(f"{where}: not an object")
        coa = row.get("coa_iso", NOT_APPLICABLE)
        if coa not in (NOT_APPLICABLE, None, ""):
            raise RemoteSourceError(
                f"{where}: has an asylum country ({coa!r}); earlywarn asks for totals by "
                "origin (coo_all=true, no coa) and would double count a breakdown"
            )
        year = _year(row.get("year"), where)
        code = row.get("coo_iso")
        if not isinstance(code, str) or not code.strip():
            raise RemoteSourceError(f"{where}: no origin code in 'coo_iso' ({code!r})")
        code = code.strip().upper()
        if code in NON_COUNTRY_ORIGINS:
            skipped[f"origin_{NON_COUNTRY_ORIGINS[code].replace(' ', '_')}"] += len(VARIABLES)
            continue
        iso3 = aliases.get(code, code)
        if iso3 not in known:
            unknown.setdefault(code, []).append(str(row.get("coo_name", "")))
            continue
        absent = [name for name in VARIABLES if name not in row]
        if absent:
            raise RemoteSourceError(
                f"{where}: missing field(s) {', '.join(absent)} (renamed by the API?)"
            )
        for field_name, variable in VARIABLES.items():
            value = _people(row[field_name], f"{where}: '{field_name}'")
            if value is None:
                reason = "not_applicable" if row.get(field_name) == NOT_APPLICABLE else "null"
                skipped[reason] += 1
                continue
            key = (iso3, variable, year)
            if key in seen:
                if seen[key] != value:
                    raise RemoteSourceError(
                        f"{where}: {iso3} {variable} {year} delivered twice with different "
                        f"values ({seen[key]!r} and {value!r})"
                    )
                skipped["identical_duplicate"] += 1
                continue
            seen[key] = value
            records.append(ObservationRecord.for_year(iso3, variable, year, value))
    return records, dict(skipped), {code: sorted(set(n)) for code, n in unknown.items()}


def parse_unhcr(
    content: bytes,
    *,
    name: str,
    known_iso3s: Collection[str],
    iso3_aliases: Mapping[str, str] | None = None,
) -> LoadedPayload:
    """One saved ``population/`` answer (bytes) as a payload; used for files and tests."""
    try:
        body = json.loads(content)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RemoteSourceError(f"{LABEL}, {name}: not valid JSON ({exc})") from None
    page = parse_page(body, name)
    return _payload(
        [page],
        digest=hashlib.sha256(content).hexdigest(),
        source_uri=name,
        known_iso3s=known_iso3s,
        iso3_aliases=iso3_aliases,
    )


def fetch_unhcr(
    http: SourceHttp,
    *,
    start_year: int,
    end_year: int,
    known_iso3s: Collection[str],
    iso3_aliases: Mapping[str, str] | None = None,
    page_limit: int = PAGE_LIMIT,
) -> LoadedPayload:
    """Every page of origin totals for ``start_year``-``end_year``."""
    if end_year < start_year:
        raise RemoteSourceError(f"{LABEL}: end year {end_year} is before start year {start_year}")
    pages: list[UnhcrPage] = []
    number = 1
    max_pages = 1
    while number <= max_pages:
        what = f"population page {number}"
        body = http.get_json(
            "/population/",
            what,
            params={
                "yearFrom": start_year,
                "yearTo": end_year,
                "coo_all": "true",
                "limit": page_limit,
                "page": number,
            },
        )
        page = parse_page(body, what)
        if page.page != number:
            raise RemoteSourceError(f"{LABEL}, {what}: the answer says it is page {page.page}")
        max_pages = page.max_pages
        if not page.items and number < max_pages:
            raise RemoteSourceError(
                f"{LABEL}, {what}: empty page before the last ({max_pages}); fetch again"
            )
        pages.append(page)
        number += 1
    base = str(http.client.base_url).rstrip("/")
    return _payload(
        pages,
        digest=http.hexdigest(),
        source_uri=redact_url(
            f"{base}/population/?yearFrom={start_year}&yearTo={end_year}&coo_all=true"
        ),
        known_iso3s=known_iso3s,
        iso3_aliases=iso3_aliases,
        extra={"years": [start_year, end_year], "pages_fetched": http.pages_fetched},
        raw=http,
    )


def _payload(
    pages: list[UnhcrPage],
    *,
    digest: str,
    source_uri: str,
    known_iso3s: Collection[str],
    iso3_aliases: Mapping[str, str] | None,
    extra: dict[str, Any] | None = None,
    raw: SourceHttp | None = None,
) -> LoadedPayload:
    items = [item for page in pages for item in page.items]
    if not items:
        raise RemoteSourceError(
            f"{LABEL}, {source_uri}: no rows at all; an empty answer for whole years means the "
            "API or the query is broken, not that nobody was displaced"
        )
    records, skipped, unknown = population_records(
        items, known_iso3s=known_iso3s, iso3_aliases=iso3_aliases
    )
    if unknown:
        listed = ", ".join(
            f"{code} ({'/'.join(names) or 'no name'})" for code, names in sorted(unknown.items())
        )
        raise IngestError(
            f"{LABEL}: {len(unknown)} origin code(s) that are no country of the countries "
            f"table: {listed}. Add them to earlywarn/countries (or to NON_COUNTRY_ORIGINS in "
            "ingest/unhcr.py if they are not countries); codes are never guessed"
        )
    return LoadedPayload(
        records=records,
        content_digest=digest,
        source_uri=source_uri,
        rows_read=len(items) * len(VARIABLES),
        rows_skipped=sum(skipped.values()),
        details={"rows": len(items), "skipped": skipped, **(extra or {})},
        raw=list(raw.bodies) if raw is not None else [],
    )


class UnhcrConnector:
    """Origin totals of refugees, asylum-seekers and IDPs over the window of ``sources.yaml``."""

    source_id = "unhcr"
    definition = SourceDefinition(
        name="UNHCR Refugee Statistics API, population by country of origin",
        kind="api",
        url="https://api.unhcr.org/population/v1",
        licence="CC BY 4.0 (UNHCR Refugee Data Finder terms of use)",
    )

    def missing_settings(self, settings: Settings) -> list[str]:
        return []  # no key needed

    def open_client(self, settings: Settings) -> httpx.Client:
        return make_client(settings.unhcr_base_url, settings.http_timeout_seconds)

    def fetch(self, context: ConnectorContext, client: httpx.Client) -> LoadedPayload:
        config = _config(context.source_config)
        first, last = config.year_range(context.now.year)
        if not context.known_iso3s:
            raise IngestError("the countries table is empty; seed it before loading UNHCR")
        http = SourceHttp(
            client,
            LABEL,
            max_attempts=context.settings.http_max_attempts,
            sleep=context.sleep,
            bodies=context.received,
        )
        return fetch_unhcr(
            http,
            start_year=first,
            end_year=last,
            known_iso3s=context.known_iso3s,
            iso3_aliases=ISO3_ALIASES,
        )


def _config(source_config: BaseModel | None) -> UnhcrSourceConfig:
    if isinstance(source_config, UnhcrSourceConfig):
        return source_config
    return UnhcrSourceConfig(years_back=DEFAULT_YEARS_BACK)


def _paging_int(body: dict[str, Any], key: str, *, default: int, what: str) -> int:
    value = body.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise RemoteSourceError(f"{LABEL}, {what}: '{key}' is {value!r}, not a page number")
    try:
        number = int(value)
    except ValueError:
        raise RemoteSourceError(
            f"{LABEL}, {what}: '{key}' is {value!r}, not a page number"
        ) from None
    if number < 0:
        raise RemoteSourceError(f"{LABEL}, {what}: '{key}' is {number}")
    return max(number, 1) if key == "maxPages" else number


def _year(value: Any, where: str) -> int:
    if isinstance(value, bool):
        raise RemoteSourceError(f"{where}: 'year' is {value!r}")
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not isinstance(value, int) or not 1900 <= value <= 2200:
        raise RemoteSourceError(f"{where}: 'year' is {value!r}, not a year")
    return value


def _people(value: Any, where: str) -> float | None:
    if value is None or value == NOT_APPLICABLE:
        return None
    if isinstance(value, bool):
        raise RemoteSourceError(f"{where}: {value!r} is not a number of people")
    if isinstance(value, str):
        text = value.strip()
        if not text.isdigit():
            raise RemoteSourceError(f"{where}: {value!r} is not a number of people")
        number = float(text)
    elif isinstance(value, int | float):
        number = float(value)
    else:
        raise RemoteSourceError(f"{where}: {value!r} is not a number of people")
    if not math.isfinite(number) or number < 0 or number > MAX_PLAUSIBLE_PEOPLE:
        raise RemoteSourceError(f"{where}: {value!r} is not a plausible number of people")
    return number
