"""The API documentation page (Swagger UI at /docs) loads everything from the service itself:
no CDN, so it works offline. Checked in the HTML, and in a real browser (Chromium) that blocks
and records every request leaving 127.0.0.1. ReDoc is off: its sidebar always fetches a logo
from cdn.redoc.ly (this browser test caught it)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import uvicorn
from fastapi import FastAPI

from earlywarn.app.factory import create_app
from earlywarn.settings import Settings

CHROMIUM = Path("/usr/bin/chromium")


class _References(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href", "spec-url") and value:
                self.urls.append(value)


def _references(html: str) -> list[str]:
    parser = _References()
    parser.feed(html)
    return parser.urls


def _same_origin(url: str) -> bool:
    parts = urlsplit(url)
    return not parts.scheme and not parts.netloc and url.startswith("/")


@pytest.fixture
def docs_app(tmp_path: Path) -> FastAPI:
    settings = Settings(
        _env_file=None, data_dir=tmp_path, scheduler_enabled=False, bootstrap_admin_key=None
    )
    return create_app(settings=settings)


def test_the_docs_page_references_only_assets_the_service_serves(docs_app: FastAPI) -> None:
    from fastapi.testclient import TestClient

    assets = {"swagger-ui-bundle.js", "swagger-ui.css"}
    with TestClient(docs_app) as client:
        assert client.get("/redoc").status_code == 404
        answer = client.get("/docs")
        assert answer.status_code == 200
        assert "cdn" not in answer.text.lower()
        urls = _references(answer.text)
        assert {url.rsplit("/", 1)[-1] for url in urls} >= assets
        for url in urls:
            assert _same_origin(url), url
            served = client.get(url)
            assert served.status_code == 200, url
            assert len(served.content) > 1000, url
        assert "url: '/openapi.json'" in answer.text
        assert client.get("/openapi.json").json()["info"]["title"] == "earlywarn"


@pytest.fixture
def served_docs(docs_app: FastAPI) -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    server = uvicorn.Server(
        uvicorn.Config(docs_app, host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def test_swagger_ui_renders_in_a_browser_with_no_network(served_docs: str) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: .ci/run installs it (apt-get install chromium)")
    blocked: list[str] = []

    def guard(route: Any) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            context = browser.new_context()
            context.route("**/*", guard)
            page = context.new_page()
            page.goto(served_docs + "/docs")
            # Swagger UI built the page from /openapi.json: the title and an operation.
            page.wait_for_selector(".swagger-ui .info .title", timeout=30_000)
            assert "earlywarn" in page.locator(".swagger-ui .info .title").inner_text()
            page.wait_for_selector("#operations-scores-latest_scores_scores_latest_get")
        finally:
            browser.close()
    assert blocked == []
