"""The shared retrying client: retries, Retry-After, rate limiting, digest, JSON checks."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
import pytest

from earlywarn.ingest.errors import RemoteSourceError
from earlywarn.ingest.http import SourceHttp, redact_url


class Clock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def time(self) -> float:
        return self.now


def http_for(transport: httpx.MockTransport, **kwargs: Any) -> SourceHttp:
    client = httpx.Client(base_url="https://api.test", transport=transport)
    return SourceHttp(client, "Test API", **kwargs)


def test_minimum_interval_spaces_requests() -> None:
    clock = Clock()

    def handler(request: httpx.Request) -> httpx.Response:
        clock.now += 1.0  # each request takes a second
        return httpx.Response(200, json={"ok": True})

    http = http_for(
        httpx.MockTransport(handler), min_interval_seconds=5.0, sleep=clock.sleep, clock=clock.time
    )
    for _ in range(3):
        http.get_json("/x", "probe")
    assert clock.slept == [4.0, 4.0]


def test_retry_after_http_date_and_5xx_backoff_then_failure() -> None:
    clock = Clock()
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(502, text="bad gateway")

    http = http_for(httpx.MockTransport(handler), max_attempts=3, sleep=clock.sleep)
    with pytest.raises(RemoteSourceError) as caught:
        http.get("/x", "page 1")
    assert calls == 3
    assert len(clock.slept) == 2
    assert str(caught.value).startswith("Test API, page 1: HTTP 502 after 3 attempt(s)")


def test_other_4xx_is_not_retried() -> None:
    clock = Clock()
    http = http_for(
        httpx.MockTransport(lambda r: httpx.Response(401, text="API token required")),
        sleep=clock.sleep,
    )
    with pytest.raises(RemoteSourceError, match="HTTP 401 .*API token required.*not retried"):
        http.get("/x", "page 1")
    assert clock.slept == []


def test_digest_covers_every_recorded_body_and_bodies_are_kept() -> None:
    bodies = [b'{"a": 1}', b'{"b": 2}']
    served = iter(bodies)
    http = http_for(
        httpx.MockTransport(
            lambda r: httpx.Response(
                200, content=next(served), headers={"Content-Type": "application/json"}
            )
        )
    )
    http.get_json("/x", "one", params={"token": "s3cret", "page": 1})
    http.get_json("/x", "two")
    assert http.hexdigest() == hashlib.sha256(b"".join(bodies)).hexdigest()
    assert [b.content for b in http.bodies] == bodies
    assert "s3cret" not in http.bodies[0].url
    assert http.bodies[0].content_type == "application/json"


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (b"<!DOCTYPE html><html>Error</html>", "text/html", "HTML/XML page"),
        (b'{"a": [1, 2', "application/json", "not valid JSON"),
        (b"", "application/json", "empty body"),
        (b'{"a": 1}', "application/zip", "content type 'application/zip'"),
        (b"Please limit requests to one every 5 seconds", "text/plain", "not valid JSON"),
    ],
)
def test_json_bodies_are_checked(body: bytes, content_type: str, expected: str) -> None:
    http = http_for(
        httpx.MockTransport(
            lambda r: httpx.Response(200, content=body, headers={"Content-Type": content_type})
        )
    )
    with pytest.raises(RemoteSourceError, match=expected):
        http.get_json("/x", "page 1")


def test_redact_url_drops_user_info_and_secret_query_values() -> None:
    url = "https://user:pw@api.test:8443/read?key=abc&email=a@b.c&page=2"
    assert redact_url(url) == "https://api.test:8443/read?key=REDACTED&email=REDACTED&page=2"
