""" "Ingest now" in real Chromium: an administrator starts the PTS source (its URL a loopback
server serving the recorded file), sees it running, is refused a second run, reloads and sees
the rows written; a disabled source says why it cannot run. axe checks each state of the page.

The application is served by uvicorn on 127.0.0.1 from a thread; the browser may only reach
127.0.0.1 (anything else is blocked and fails the test)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import uvicorn
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from earlywarn.app.factory import create_app
from earlywarn.auth import accounts
from earlywarn.countries.service import seed_countries
from earlywarn.db import session_scope
from earlywarn.framework.config import Configuration
from earlywarn.types import Role

from .conftest import EMAILS, PASSWORD, web_settings
from .payload_server import PTS_FIXTURE, PayloadServer, serving
from .test_browser import CHROMIUM, CHROMIUM_ARGS, _accessible, _free_port
from .test_ingest_now import ingest_now_configuration, wait_until_finished

sync_api = pytest.importorskip("playwright.sync_api")


@dataclass
class Served:
    base_url: str
    payload: PayloadServer
    blocked: list[str] = field(default_factory=list)


@pytest.fixture
def served(
    engine: Engine,
    configuration: Configuration,
    session_factory: sessionmaker[Session],
    shared_dir: Path,
    tmp_path: Path,
) -> Iterator[Served]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: .ci/run installs it (apt-get install chromium)")
    fixture = shared_dir / PTS_FIXTURE
    if not fixture.exists():
        pytest.skip(f"PTS fixture not found at {fixture}")
    with session_scope(session_factory) as session:
        seed_countries(session)
        accounts.create_user(session, email=EMAILS[Role.ADMIN], password=PASSWORD, role=Role.ADMIN)
    with serving(fixture.read_bytes()) as payload:
        port = _free_port()
        app = create_app(
            settings=web_settings(
                tmp_path, public_base_url=f"http://127.0.0.1:{port}", http_timeout_seconds=30.0
            ),
            engine=engine,
            configuration=ingest_now_configuration(configuration, payload.url),
        )
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 60
        while not server.started:
            assert time.monotonic() < deadline, "the server did not start"
            assert thread.is_alive(), "the server stopped at start-up"
            time.sleep(0.05)
        try:
            yield Served(f"http://127.0.0.1:{port}", payload)
        finally:
            server.should_exit = True
            thread.join(timeout=30)


@pytest.fixture
def page(served: Served) -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = chromium.new_context(viewport={"width": 1400, "height": 1000})

        def guard(route: Any) -> None:
            if urlsplit(route.request.url).hostname == "127.0.0.1":
                route.continue_()
            else:
                served.blocked.append(route.request.url)
                route.abort()

        context.route("**/*", guard)
        try:
            yield context.new_page()
        finally:
            chromium.close()


def test_an_admin_ingests_a_source_now_in_chromium(
    page: Any, served: Served, session_factory: sessionmaker[Session]
) -> None:
    page.goto(served.base_url + "/admin/sources")
    page.fill("input[name=email]", EMAILS[Role.ADMIN])
    page.fill("input[name=password]", PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_load_state()
    assert urlsplit(page.url).path == "/admin/sources"
    disabled = page.locator("#source-worldbank td.ingest-now")
    assert "Cannot run: disabled in config/sources.yaml." in (disabled.text_content() or "")
    assert disabled.locator("button").count() == 0
    _accessible(page)

    served.payload.gate.clear()  # the download waits: the run stays running meanwhile
    button = page.locator("#source-pts td.ingest-now button")
    # Screen readers hear which source each button is for.
    assert " ".join((button.text_content() or "").split()).startswith("Ingest now Political Terror")
    button.click()
    page.wait_for_load_state()
    assert page.locator("p.notice[role=status]").text_content() == "Ingest of pts started."
    cell = page.locator("#source-pts td.ingest-now")
    assert "Running since" in (cell.text_content() or "")
    assert cell.locator("button").count() == 0  # no second run from this page
    _accessible(page)

    served.payload.gate.set()
    job = wait_until_finished(session_factory, "pts")
    assert job.status.value == "succeeded", job.error
    page.click("#source-pts td.ingest-now a")  # "Reload"
    page.wait_for_load_state()
    last = page.locator("#source-pts p.last-ingest-now").text_content() or ""
    assert "succeeded:" in last
    assert " rows written" in last
    assert int(last.split(" rows written")[0].rsplit(" ", 1)[1]) > 0
    assert page.locator("#source-pts td.ingest-now button").count() == 1
    _accessible(page)

    # A second tab still showing the button: its click is refused while the next run goes on.
    other = page.context.new_page()
    other.goto(served.base_url + "/admin/sources")
    served.payload.gate.clear()
    page.locator("#source-pts td.ingest-now button").click()
    page.wait_for_load_state()
    other.locator("#source-pts td.ingest-now button").click()
    other.wait_for_load_state()
    assert "already running" in (other.locator("p.error[role=alert]").text_content() or "")
    _accessible(other)
    served.payload.gate.set()
    assert wait_until_finished(session_factory, "pts").status.value == "succeeded"
    assert served.payload.requests == ["/PTS-2024.csv", "/PTS-2024.csv"]
    assert served.blocked == []
