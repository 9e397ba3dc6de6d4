"""The country brief lists the approved analyst assessments that count today: through the test
client on both backends (pending and rejected ones are not shown, evidence is escaped) and in a
real browser (visible, links work, no serious accessibility problem)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import uvicorn
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from earlywarn.app.factory import create_app
from earlywarn.assessments import service
from earlywarn.assessments.models import Confidence
from earlywarn.assessments.schemas import AssessmentIn
from earlywarn.auth.service import Principal
from earlywarn.countries.service import seed_countries
from earlywarn.db import session_scope, utc_now
from earlywarn.framework.config import Configuration
from earlywarn.types import Role

from .conftest import EMAILS, PASSWORD, TestClient, sign_in, web_settings

HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
CHROMIUM = Path("/usr/bin/chromium")
AUTHOR = Principal(key_id=901, name="Amina Author", role=Role.ANALYST, focal_point_id=None)
REVIEWER = Principal(key_id=902, name="Rui Reviewer", role=Role.ANALYST, focal_point_id=None)


def _record(
    session: Session, configuration: Configuration, evidence: str, *, approve: bool | None
) -> int:
    body = AssessmentIn(
        country_iso3="KEN",
        risk_factor=12,
        level="high",
        confidence=Confidence.MEDIUM,
        evidence=evidence,
        links=["https://example.org/report-12"],  # type: ignore[list-item]
        valid_until=utc_now().date() + timedelta(days=60),
    )
    created = service.create(session, configuration.assessments, body, AUTHOR)
    if approve is True:
        service.approve(session, created.id, REVIEWER)
    elif approve is False:
        service.reject(session, created.id, REVIEWER, reason="not supported by the sources")
    return created.id


@pytest.fixture
def recorded(session_factory: sessionmaker[Session], configuration: Configuration) -> None:
    with session_scope(session_factory) as session:
        seed_countries(session)
        _record(
            session,
            configuration,
            "Approved: commanders announce the <script>removal</script> of a group.",
            approve=True,
        )
        _record(session, configuration, "Pending: a rumour nobody checked yet.", approve=None)
        _record(session, configuration, "Rejected: a misread press release.", approve=False)


def test_the_brief_lists_approved_assessments_only(
    new_client: Callable[[], TestClient], users: dict[Role, str], recorded: None
) -> None:
    client = new_client()
    sign_in(client, users[Role.FOCAL_POINT])
    page = client.get("/countries/KEN", headers=HTML)
    assert page.status_code == 200, page.text
    assert "Analyst assessments" in page.text
    assert "commanders announce the &lt;script&gt;removal&lt;/script&gt;" in page.text
    assert "<script>removal" not in page.text
    assert "Amina Author, approved by Rui Reviewer" in page.text
    assert "0.75 (high)" in page.text
    assert 'href="https://example.org/report-12"' in page.text
    assert "Pending:" not in page.text
    assert "Rejected:" not in page.text

    other = client.get("/countries/FRA", headers=HTML)
    assert "No approved analyst assessment of France counts today." in other.text


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def base_url(
    engine: Engine, configuration: Configuration, tmp_path: Path, users: dict[Role, str]
) -> Iterator[str]:
    port = _free_port()
    app = create_app(
        settings=web_settings(tmp_path, public_base_url=f"http://127.0.0.1:{port}"),
        engine=engine,
        configuration=configuration,
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
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def test_the_assessments_section_in_a_browser(base_url: str, recorded: None) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    axe_module = pytest.importorskip("axe_playwright_python.sync_playwright")
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: .ci/run installs it (apt-get install chromium)")
    blocked: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 1000})

            def guard(route: Any) -> None:
                if urlsplit(route.request.url).hostname == "127.0.0.1":
                    route.continue_()
                else:
                    blocked.append(route.request.url)
                    route.abort()

            context.route("**/*", guard)
            page = context.new_page()
            page.goto(base_url + "/login?next=/countries/KEN")
            page.fill("input[name=email]", EMAILS[Role.ANALYST])
            page.fill("input[name=password]", PASSWORD)
            page.click("form[action='/login'] button[type=submit]")
            page.wait_for_load_state()
            assert urlsplit(page.url).path == "/countries/KEN", page.content()[:500]
            section = page.locator("section[aria-labelledby=assessments-h]")
            assert section.is_visible()
            rows = section.locator("#assessments-current tbody tr")
            assert rows.count() == 1
            text = rows.first.inner_text()
            assert "12." in text
            assert "Amina Author, approved by Rui Reviewer" in text
            assert "<script>removal</script>" in text  # shown as text, not run
            # An analyst also sees the pending one, marked as not counting yet.
            pending = section.locator("#assessments-pending tbody tr")
            assert pending.count() == 1
            assert "pending" in pending.first.inner_text()
            assert "Pending: a rumour" in pending.first.inner_text()
            link = section.locator("#assessments-current a[href='https://example.org/report-12']")
            assert link.is_visible()
            results = axe_module.Axe().run(page)
            bad = [
                (v["id"], v["impact"])
                for v in results.response["violations"]
                if v["impact"] in ("serious", "critical")
            ]
            assert bad == [], bad
        finally:
            browser.close()
    assert blocked == []
