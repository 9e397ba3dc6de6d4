"""The retrying HTTP client every API connector fetches through.

One place decides what is worth another attempt (5xx, 429, network errors; never other 4xx), how
long to wait (the server's Retry-After, else exponential backoff with jitter, via tenacity), how
fast a source may be asked (a minimum interval between requests, e.g. GDELT's one per five
seconds), and what a body must look like before a connector parses it (JSON, not an HTML error
page, not truncated). Every byte received feeds one SHA-256 digest, and every successful body is
kept so the run can archive exactly what it parsed.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import orjson
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from earlywarn.ingest.errors import RemoteSourceError
from earlywarn.ingest.schemas import RawPayload

# A server asking us to wait longer than this is treated as down rather than slept on.
MAX_RETRY_AFTER_SECONDS = 300.0
BACKOFF_MAX_SECONDS = 60.0
BODY_EXCERPT_CHARS = 120
USER_AGENT = "earlywarn (atrocity-risk early warning)"
# Query parameters that carry secrets in some APIs; their values never reach a stored URL.
SECRET_QUERY_KEYS = frozenset(
    {"key", "api_key", "apikey", "token", "access_token", "password", "secret", "email"}
)

Params = Mapping[str, str | int | float]


class RetryableStatus(Exception):
    """A 5xx or 429 answer: worth another attempt, possibly after the server's Retry-After."""

    def __init__(self, response: httpx.Response, retry_after_seconds: float | None) -> None:
        self.response = response
        self.retry_after_seconds = retry_after_seconds
        super().__init__(f"HTTP {response.status_code}")


def retry_after_seconds(response: httpx.Response) -> float | None:
    """The Retry-After header as seconds (delta or HTTP date), or None when absent/unreadable."""
    header = response.headers.get("Retry-After")
    if header is None:
        return None
    header = header.strip()
    try:
        seconds = float(header)
    except ValueError:
        try:
            when = parsedate_to_datetime(header)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    return max(0.0, seconds)


def _is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, RetryableStatus | httpx.TransportError)


def _wait(retry_state: RetryCallState) -> float:
    outcome = retry_state.outcome
    exc = outcome.exception() if outcome is not None else None
    if isinstance(exc, RetryableStatus) and exc.retry_after_seconds is not None:
        return min(exc.retry_after_seconds, MAX_RETRY_AFTER_SECONDS)
    backoff: float = wait_random_exponential(multiplier=1, max=BACKOFF_MAX_SECONDS)(retry_state)
    return backoff


def describe_body(response: httpx.Response) -> str:
    """Content type and the first characters of a body, for error messages."""
    content_type = response.headers.get("Content-Type", "no content type").split(";")[0]
    excerpt = " ".join(response.text[:BODY_EXCERPT_CHARS].split())
    return f"{content_type} body starting {excerpt!r}" if excerpt else f"empty {content_type} body"


def redact_url(url: str) -> str:
    """The URL without user info or secret-bearing query values, so credentials never reach
    ``ingest_runs.source_uri`` or the payload archive."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode(
            [(k, "REDACTED" if k.lower() in SECRET_QUERY_KEYS else v) for k, v in pairs],
            safe=":;,*|",
        )
    return urlunsplit((parts.scheme, host, parts.path, query, parts.fragment))


class SourceHttp:
    """A retrying, rate-limited, digest-keeping view of an ``httpx.Client`` for one source.

    ``label`` starts every error message ("UCDP API, page 3: ..."). ``min_interval_seconds``
    spaces requests (measured start to start with ``clock``); ``sleep`` is injectable so tests
    run instantly and can assert the waits.
    """

    def __init__(
        self,
        client: httpx.Client,
        label: str,
        *,
        max_attempts: int = 4,
        min_interval_seconds: float = 0.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        keep_bodies: bool = True,
        bodies: list[RawPayload] | None = None,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.client = client
        self.label = label
        self.max_attempts = max_attempts
        self.min_interval_seconds = min_interval_seconds
        self.sleep = sleep
        self.clock = clock
        self.keep_bodies = keep_bodies
        self.digest = hashlib.sha256()
        self.requests_made = 0
        self.pages_fetched = 0
        # ``bodies`` may be the caller's list, so what arrived before a failure is still
        # available to archive as evidence (see ConnectorContext.received).
        self.bodies: list[RawPayload] = bodies if bodies is not None else []
        self._last_request_at: float | None = None

    # --- raw requests ------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        what: str,
        *,
        params: Params | None = None,
        headers: Mapping[str, str] | None = None,
        data: Mapping[str, str] | None = None,
        record: bool = True,
        ok_statuses: tuple[int, ...] = (200,),
    ) -> httpx.Response:
        """One answer with a status in ``ok_statuses``, after retries; anything else raises
        ``RemoteSourceError`` naming the source, ``what`` and the body. ``record=False`` keeps
        the body out of the digest and the archive (token exchanges, which carry secrets)."""
        retrying = Retrying(
            retry=retry_if_exception(_is_retryable),
            stop=stop_after_attempt(self.max_attempts),
            wait=_wait,
            sleep=self.sleep,
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    self._respect_interval()
                    self.requests_made += 1
                    # params=None keeps a query already in ``path`` (a NextPageUrl) intact.
                    response = self.client.request(
                        method,
                        path,
                        params=dict(params) if params else None,
                        headers=headers,
                        data=data,
                    )
                    if response.status_code == 429 or response.status_code >= 500:
                        raise RetryableStatus(response, retry_after_seconds(response))
        except RetryableStatus as exc:
            raise RemoteSourceError(
                f"{self.label}, {what}: HTTP {exc.response.status_code} after "
                f"{self.max_attempts} attempt(s) ({describe_body(exc.response)})"
            ) from None
        except httpx.TransportError as exc:
            raise RemoteSourceError(
                f"{self.label}, {what}: {type(exc).__name__} after {self.max_attempts} "
                f"attempt(s): {exc or 'no detail'}"
            ) from exc
        if response.status_code not in ok_statuses:
            raise RemoteSourceError(
                f"{self.label}, {what}: HTTP {response.status_code} "
                f"({describe_body(response)}); not retried"
            )
        if record:
            self.record(response)
        return response

    def get(
        self,
        path: str,
        what: str,
        *,
        params: Params | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        return self.request("GET", path, what, params=params, headers=headers)

    def record(self, response: httpx.Response) -> None:
        """Feed a body into the digest and the archive list."""
        self.digest.update(response.content)
        self.pages_fetched += 1
        if self.keep_bodies:
            self.bodies.append(
                RawPayload(
                    url=redact_url(str(response.request.url)),
                    content=response.content,
                    content_type=response.headers.get("Content-Type", "").split(";")[0].strip(),
                    retrieved_at=datetime.now(UTC),
                )
            )

    def _respect_interval(self) -> None:
        if self.min_interval_seconds <= 0:
            return
        now = self.clock()
        if self._last_request_at is not None:
            wait = self._last_request_at + self.min_interval_seconds - now
            if wait > 0:
                self.sleep(wait)
                now += wait
        self._last_request_at = now

    # --- JSON --------------------------------------------------------------------------------

    def get_json(
        self,
        path: str,
        what: str,
        *,
        params: Params | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        return self.parse_json(self.get(path, what, params=params, headers=headers), what)

    def parse_json(self, response: httpx.Response, what: str) -> Any:
        """The decoded body, or ``RemoteSourceError`` for an HTML page, another declared content
        type, an empty body, or JSON that does not decode (truncated transfers included)."""
        content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        head = response.content[:512].lstrip().lower()
        if head.startswith((b"<!doctype", b"<html", b"<?xml", b"<")):
            raise RemoteSourceError(
                f"{self.label}, {what}: the answer is not valid JSON but an HTML/XML page "
                f"({describe_body(response)})"
            )
        if content_type and not (content_type.endswith("json") or content_type == "text/plain"):
            # text/plain is tolerated because some APIs (GDELT, World Bank mirrors) label JSON
            # that way; the decoder below still has the last word.
            raise RemoteSourceError(
                f"{self.label}, {what}: the answer is not JSON but content type {content_type!r} "
                f"({describe_body(response)})"
            )
        if not response.content.strip():
            raise RemoteSourceError(
                f"{self.label}, {what}: the answer is not valid JSON but an empty body"
            )
        try:
            # orjson: JSON decoding is the largest share of a large load and of a re-run.
            return orjson.loads(response.content)
        except (orjson.JSONDecodeError, UnicodeDecodeError) as exc:
            raise RemoteSourceError(
                f"{self.label}, {what}: the answer is not valid JSON ({exc}; "
                f"{describe_body(response)}); a truncated transfer looks like this"
            ) from None

    def hexdigest(self) -> str:
        return self.digest.hexdigest()


def make_client(
    base_url: str,
    timeout_seconds: float,
    *,
    headers: Mapping[str, str] | None = None,
) -> httpx.Client:
    """An ``httpx.Client`` with the project's user agent, a timeout and redirects followed."""
    return httpx.Client(
        base_url=base_url,
        timeout=timeout_seconds,
        headers={"User-Agent": USER_AGENT, **dict(headers or {})},
        follow_redirects=True,
    )
