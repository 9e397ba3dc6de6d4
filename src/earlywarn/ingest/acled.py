"""ACLED connector: events aggregated to country-months and country-years (data-sources.md
section 3).

Authentication is the OAuth password grant at ``/oauth/token``; the access token (about 24 h) is
kept in the process and reused until shortly before it expires, then refreshed with the refresh
token, and only when that fails requested again with the password. A 401 on a data request
drops the token and retries once with a fresh one. Events are read from ``/api/acled/read``
page by page until an empty ``data`` array. Every field is a string.

ACLED restricts what an account may read (``data_query_restrictions``: a recency embargo of
12 months for free accounts, countries, event types). A restricted account gets HTTP 200 and
fewer or no rows, so the notice is kept in the run's details and repeated in ``warnings``;
and a year (or month) not fully inside the readable window gets no value, because a partial
count would read as a fall in violence.

Variables (``<type>`` is battles, violence_against_civilians, explosions_remote_violence, riots,
protests or strategic_developments): ``acled.events``, ``acled.fatalities``,
``acled.<type>_events``, ``acled.<type>_fatalities``, ``acled.civilian_targeting_events`` and
``acled.civilian_targeting_fatalities`` (events flagged "Civilian targeting" in any type) for
complete country-years; the same names prefixed ``monthly_`` for complete country-months.
``acled.protests_repressed_events`` (protests met with intervention or excessive force) and
``acled.attacks_on_defenders_events`` / ``_fatalities`` (violence against civilians named as
journalists, human rights defenders, activists or labour groups) are counted as
``acled_tally`` describes, from ``sub_event_type``, ``actor2`` and ``assoc_actor_2``.
Violence against civilians stays its own type, never merged into a total of "violence".
"""

from __future__ import annotations

import calendar
import re
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import httpx

from earlywarn.countries.service import CountryResolver
from earlywarn.framework.sources_schemas import AcledSourceConfig
from earlywarn.ingest.acled_tally import (
    CIVILIAN_TARGETING,
    DETAIL_FIELDS,
    EVENT_TYPES,
    EventDetail,
    Tally,
    detail_variables,
    variable_names,
)
from earlywarn.ingest.connectors import ConnectorContext, SourceDefinition
from earlywarn.ingest.errors import RemoteSourceError
from earlywarn.ingest.http import SourceHttp, make_client, redact_url
from earlywarn.ingest.schemas import LoadedPayload, ObservationRecord
from earlywarn.ingest.values import parse_count, require_fields
from earlywarn.settings import Settings

LABEL = "ACLED API"
CLIENT_ID = "acled"
TOKEN_PATH = "/oauth/token"
READ_PATH = "/api/acled/read"
DEFAULT_YEARS_BACK = 2
# Refresh this long before the stated expiry, so a token never lapses mid-fetch.
TOKEN_MARGIN_SECONDS = 300.0
MAX_PAGES = 10_000
FIELDS = ("event_id_cnty", "event_date", "event_type", "civilian_targeting", "iso", "fatalities")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


# --- tokens ------------------------------------------------------------------------------------


@dataclass
class _Token:
    access: str
    refresh: str | None
    expires_at: float  # time.time()


class TokenStore:
    """Access tokens per (token URL, username), shared by every run of the process."""

    def __init__(self, clock: Any = time.time) -> None:
        self._tokens: dict[tuple[str, str], _Token] = {}
        self._lock = threading.Lock()
        self.clock = clock

    def get(self, key: tuple[str, str]) -> _Token | None:
        with self._lock:
            return self._tokens.get(key)

    def put(self, key: tuple[str, str], token: _Token) -> None:
        with self._lock:
            self._tokens[key] = token

    def drop(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._tokens.pop(key, None)


TOKENS = TokenStore()


class _Auth:
    def __init__(self, http: SourceHttp, username: str, password: str, store: TokenStore) -> None:
        self.http = http
        self.username = username
        self.password = password
        self.store = store
        self.key = (str(http.client.base_url), username)
        self.grants: list[str] = []  # which grants this run used, for the run's details

    def bearer(self) -> str:
        token = self.store.get(self.key)
        now = self.store.clock()
        if token is not None and token.expires_at - TOKEN_MARGIN_SECONDS > now:
            self.grants.append("reused")
            return token.access
        if token is not None and token.refresh:
            try:
                return self._grant(
                    {"grant_type": "refresh_token", "refresh_token": token.refresh}, "refresh"
                )
            except RemoteSourceError:
                pass  # an expired refresh token: fall back to the password
        return self._grant(
            {"grant_type": "password", "username": self.username, "password": self.password},
            "password",
        )

    def invalidate(self) -> None:
        self.store.drop(self.key)

    def _grant(self, form: dict[str, str], kind: str) -> str:
        response = self.http.request(
            "POST",
            TOKEN_PATH,
            f"token request ({kind} grant)",
            data={**form, "client_id": CLIENT_ID},
            record=False,  # the body holds the token: never archived nor digested
        )
        body = self.http.parse_json(response, f"token request ({kind} grant)")
        access = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(access, str) or not access:
            keys = sorted(body) if isinstance(body, dict) else type(body).__name__
            raise RemoteSourceError(f"{LABEL}, token request: no access_token (got {keys})")
        expires = body.get("expires_in", 3600)
        try:
            lifetime = float(expires)
        except (TypeError, ValueError):
            lifetime = 3600.0
        refresh = body.get("refresh_token")
        self.store.put(
            self.key,
            _Token(
                access, refresh if isinstance(refresh, str) else None, self.store.clock() + lifetime
            ),
        )
        self.grants.append(kind)
        return access


# --- aggregation -------------------------------------------------------------------------------


@dataclass
class _Collected:
    years: dict[tuple[str, int], Tally] = field(default_factory=lambda: defaultdict(Tally))
    months: dict[tuple[str, int, int], Tally] = field(default_factory=lambda: defaultdict(Tally))
    seen: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    rows_read: int = 0
    skipped: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    unknown_values: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    unknown_iso: set[str] = field(default_factory=set)
    unplaced_iso3: set[str] = field(default_factory=set)
    restrictions: list[Any] = field(default_factory=list)
    rows_without_detail: int = 0


class AcledConnector:
    source_id = "acled"
    definition = SourceDefinition(
        name="ACLED events (OAuth API), aggregated to country-months and country-years",
        kind="api",
        url="https://acleddata.com/api/acled/read",
        licence="ACLED EULA: attribution required, raw events must not be redistributed",
    )

    def __init__(self, tokens: TokenStore = TOKENS) -> None:
        self.tokens = tokens

    def missing_settings(self, settings: Settings) -> list[str]:
        missing = []
        if not settings.acled_username:
            missing.append("EARLYWARN_ACLED_USERNAME")
        if settings.acled_password is None or not settings.acled_password.get_secret_value():
            missing.append("EARLYWARN_ACLED_PASSWORD")
        return missing

    def open_client(self, settings: Settings) -> httpx.Client:
        return make_client(settings.acled_base_url, settings.http_timeout_seconds)

    def fetch(self, context: ConnectorContext, client: httpx.Client) -> LoadedPayload:
        missing = self.missing_settings(context.settings)
        if missing:
            raise RemoteSourceError(f"{LABEL}: not configured: set {', '.join(missing)}")
        config = context.source_config
        if not isinstance(config, AcledSourceConfig):
            config = AcledSourceConfig(years_back=DEFAULT_YEARS_BACK)
        first, last = config.year_range(context.now.year)
        today = context.now.date()
        start, end = date(first, 1, 1), min(date(last, 12, 31), today)
        http = SourceHttp(
            client,
            LABEL,
            max_attempts=context.settings.http_max_attempts,
            sleep=context.sleep,
            bodies=context.received,
        )
        username = context.settings.acled_username or ""
        password = context.settings.acled_password
        auth = _Auth(http, username, password.get_secret_value() if password else "", self.tokens)
        resolver = CountryResolver.default()
        m49_codes = _m49_filter(config.countries, resolver)
        collected = _Collected()
        # One pass per requested country (ACLED's OR syntax does not survive URL encoding), or
        # one pass over every country the account may read.
        filters: list[str | None] = list(m49_codes) if m49_codes else [None]
        for iso_filter in filters:
            page = 0
            while True:
                page += 1
                if page > MAX_PAGES:
                    raise RemoteSourceError(f"{LABEL}: more than {MAX_PAGES} pages; stopping")
                params: dict[str, str | int] = {
                    "_format": "json",
                    "event_date": f"{start.isoformat()}|{end.isoformat()}",
                    "event_date_where": "BETWEEN",
                    "fields": "|".join((*FIELDS, *DETAIL_FIELDS)),
                    "limit": config.page_size,
                    "page": page,
                }
                what = f"page {page}"
                if iso_filter is not None:
                    params["iso"] = iso_filter
                    what = f"iso {iso_filter} page {page}"
                rows = self._page(http, auth, params, what, collected)
                context.report(f"ACLED: {what}, {collected.rows_read + len(rows)} events")
                if not rows:
                    break
                for position, row in enumerate(rows, start=1):
                    _tally(collected, row, f"{LABEL}, {what} event {position}", resolver, context)

        readable_from = _embargo_end(collected.restrictions)
        records, withheld = _records(collected, start, end, readable_from, today)
        details: dict[str, Any] = {
            "window": [start.isoformat(), end.isoformat()],
            # Every period ending by then was read whole (ingest.zero_fill relies on it).
            "complete_through": _readable_end(end, readable_from, today).isoformat(),
            "pages_fetched": http.pages_fetched,
            "token": auth.grants,
            "skipped": {reason: n for reason, n in collected.skipped.items() if n},
        }
        if withheld:
            # Periods with events but not wholly readable (in progress, or embargoed).
            details["periods_withheld"] = withheld
        if collected.restrictions:
            details["access_restrictions"] = collected.restrictions[0]
            details["warnings"] = [_restriction_notice(collected.restrictions[0], readable_from)]
        if collected.rows_without_detail:
            details["rows_without_detail_fields"] = collected.rows_without_detail
            details.setdefault("warnings", []).append(
                f"{collected.rows_without_detail} events lack {', '.join(DETAIL_FIELDS)}: "
                "repressed protests and attacks on defenders are not counted"
            )
        if collected.unknown_values:
            details["unknown_values"] = dict(collected.unknown_values)
        if collected.unknown_iso:
            details["unknown_iso_codes"] = sorted(collected.unknown_iso)
        if collected.unplaced_iso3:
            details["iso3_not_in_countries_table"] = sorted(collected.unplaced_iso3)
        base = str(client.base_url).rstrip("/")
        return LoadedPayload(
            records=records,
            content_digest=http.hexdigest(),
            source_uri=redact_url(
                f"{base}{READ_PATH}?event_date={start.isoformat()}|{end.isoformat()}"
            ),
            rows_read=collected.rows_read,
            rows_skipped=sum(collected.skipped.values()),
            details=details,
            raw=list(http.bodies),
        )

    def _page(
        self,
        http: SourceHttp,
        auth: _Auth,
        params: dict[str, str | int],
        what: str,
        collected: _Collected,
    ) -> list[Any]:
        for attempt in (1, 2):
            response = http.request(
                "GET",
                READ_PATH,
                what,
                params=params,
                headers={"Authorization": f"Bearer {auth.bearer()}"},
                ok_statuses=(200, 401),
                record=False,
            )
            if response.status_code == 401:
                auth.invalidate()
                if attempt == 2:
                    raise RemoteSourceError(
                        f"{LABEL}, {what}: HTTP 401 with a fresh token; check the account "
                        "(API access enabled, terms accepted)"
                    )
                continue
            http.record(response)
            break
        body = http.parse_json(response, what)
        if not isinstance(body, dict):
            raise RemoteSourceError(
                f"{LABEL}, {what}: expected an object with data, got {type(body).__name__}"
            )
        if body.get("success") is False or body.get("status") not in (None, 200, "200"):
            raise RemoteSourceError(
                f"{LABEL}, {what}: error status {body.get('status')!r}: "
                f"{body.get('messages') or body.get('error') or 'no message'}"
            )
        restrictions = body.get("data_query_restrictions")
        if restrictions and not collected.restrictions:
            collected.restrictions.append(restrictions)
        if "data" not in body:
            raise RemoteSourceError(
                f"{LABEL}, {what}: no 'data' in the answer (keys: {', '.join(sorted(body))})"
            )
        rows = body["data"]
        if not isinstance(rows, list):
            raise RemoteSourceError(f"{LABEL}, {what}: data is {type(rows).__name__}")
        return rows


def _m49_filter(countries: list[str], resolver: CountryResolver) -> list[str]:
    codes = []
    for iso3 in countries:
        record = resolver.records.get(iso3)
        m49 = record.m49 if record is not None else None
        if m49 is None:
            raise RemoteSourceError(f"{LABEL}: country {iso3} has no ISO numeric code to ask for")
        codes.append(str(m49))
    return codes


def _tally(
    collected: _Collected,
    row: Any,
    where: str,
    resolver: CountryResolver,
    context: ConnectorContext,
) -> None:
    collected.rows_read += 1
    if not isinstance(row, dict):
        raise RemoteSourceError(f"{where}: not an object")
    require_fields(row, FIELDS, where)
    event_date = row["event_date"]
    if not isinstance(event_date, str) or not _DATE.match(event_date):
        raise RemoteSourceError(f"{where}: event_date {event_date!r} is not YYYY-MM-DD")
    try:
        day = date.fromisoformat(event_date)
    except ValueError:
        raise RemoteSourceError(f"{where}: event_date {event_date!r} is not a date") from None
    event_type = row["event_type"]
    slug = EVENT_TYPES.get(event_type) if isinstance(event_type, str) else None
    if slug is None:
        raise RemoteSourceError(
            f"{where}: unknown event_type {event_type!r} (known: {', '.join(EVENT_TYPES)})"
        )
    fatalities = parse_count(row["fatalities"], f"{where}: fatalities")
    iso = row["iso"]
    iso3 = resolver.from_m49(iso) if isinstance(iso, int | str) and str(iso).strip() else None
    if iso3 is None:
        collected.skipped["unknown_iso_code"] += 1
        collected.unknown_iso.add(str(iso))
        return
    if context.known_iso3s and iso3 not in context.known_iso3s:
        collected.skipped["country_not_in_table"] += 1
        collected.unplaced_iso3.add(iso3)
        return
    targeting = row["civilian_targeting"] == CIVILIAN_TARGETING
    event_id = str(row["event_id_cnty"])
    fingerprint = (event_date, slug, fatalities, iso3, targeting)
    if event_id in collected.seen:
        if collected.seen[event_id] != fingerprint:
            raise RemoteSourceError(
                f"{where}: event {event_id} was delivered twice with different values; fetch again"
            )
        collected.skipped["identical_duplicate"] += 1
        return
    collected.seen[event_id] = fingerprint
    if fatalities is None:
        # The event happened; its toll is unknown. It counts as an event, not as zero deaths.
        collected.unknown_values["fatalities"] += 1
        fatalities = 0
    detail = EventDetail.of(row, targeting)
    if detail is None:
        collected.rows_without_detail += 1
    collected.years[(iso3, day.year)].add(slug, fatalities, targeting, detail)
    collected.months[(iso3, day.year, day.month)].add(slug, fatalities, targeting, detail)


def _embargo_end(restrictions: list[Any]) -> date | None:
    """The first day the account may NOT read (free accounts: events of the last 12 months)."""
    if not restrictions or not isinstance(restrictions[0], dict):
        return None
    recency = restrictions[0].get("date_recency")
    if isinstance(recency, dict) and isinstance(recency.get("date"), str):
        try:
            return date.fromisoformat(recency["date"][:10]) + timedelta(days=1)
        except ValueError:
            return None
    return None


def _restriction_notice(restrictions: Any, readable_until: date | None) -> str:
    text = "ACLED reports access restrictions on this account"
    if readable_until is not None:
        text += (
            f": events after {(readable_until - timedelta(days=1)).isoformat()} are not "
            "readable (recency embargo), so months and years reaching past that date have no "
            "value"
        )
    return text + f" ({restrictions!r})"[:1000]


def _readable_end(end: date, embargo: date | None, today: date) -> date:
    """The last day of the window whose events the run could read: not today (still going
    on), nor embargoed days."""
    readable_end = min(end, today - timedelta(days=1))
    if embargo is not None:
        readable_end = min(readable_end, embargo - timedelta(days=1))
    return readable_end


def _records(
    collected: _Collected, start: date, end: date, embargo: date | None, today: date
) -> tuple[list[ObservationRecord], dict[str, list[str]]]:
    """Only periods wholly inside the readable window: a partial count reads as a fall.
    Also returns the periods that had events but were withheld, for the run's details."""
    readable_end = _readable_end(end, embargo, today)
    yearly = variable_names()
    monthly = variable_names("monthly_")
    # Without every event's detail fields a count of repressed protests would read as calm.
    left_out = (
        detail_variables() | detail_variables("monthly_")
        if collected.rows_without_detail
        else set()
    )
    records: list[ObservationRecord] = []
    withheld_years: set[str] = set()
    withheld_months: set[str] = set()
    for (iso3, year), tally in sorted(collected.years.items()):
        if date(year, 1, 1) < start or date(year, 12, 31) > readable_end:
            withheld_years.add(f"{year:04d}")
            continue
        for variable, value in zip(yearly, tally.values(), strict=True):
            if variable in left_out:
                continue
            records.append(ObservationRecord.for_year(iso3, variable, year, float(value)))
    for (iso3, year, month), tally in sorted(collected.months.items()):
        last_day = date(year, month, calendar.monthrange(year, month)[1])
        if date(year, month, 1) < start or last_day > readable_end:
            withheld_months.add(f"{year:04d}-{month:02d}")
            continue
        for variable, value in zip(monthly, tally.values(), strict=True):
            if variable in left_out:
                continue
            records.append(
                ObservationRecord(
                    iso3,
                    variable,
                    f"{year:04d}-{month:02d}",
                    date(year, month, 1),
                    last_day,
                    float(value),
                )
            )
    withheld = {"years": sorted(withheld_years), "months": sorted(withheld_months)}
    return records, {kind: periods for kind, periods in withheld.items() if periods}
