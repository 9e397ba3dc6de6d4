"""Analyst assessments in a real browser (Debian's Chromium through Playwright), on both
backends: one analyst records an assessment from the country page (a refused first try keeps
what was typed), cannot approve it (the refusal is shown), a second analyst finds it in the
list and approves it; after the next scoring run the country page lists it and its term in the
factor table. axe finds nothing serious or critical on the new pages. Screenshots go to
``EARLYWARN_SCREENSHOTS_DIR`` when set (SQLite run), as in ``test_browser.py``."""

from __future__ import annotations

import csv
import dataclasses
import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import uvicorn
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from earlywarn.app.factory import create_app
from earlywarn.app.pipeline import prepare_database, score_and_alert
from earlywarn.assessments.models import Assessment, AssessmentStatus
from earlywarn.auth import accounts
from earlywarn.db import session_scope, utc_now
from earlywarn.framework.config import Configuration
from earlywarn.ingest import service as ingest_service
from earlywarn.types import Role

from .conftest import PASSWORD, web_settings

sync_api = pytest.importorskip("playwright.sync_api")
axe_module = pytest.importorskip("axe_playwright_python.sync_playwright")

CHROMIUM = Path("/usr/bin/chromium")
AUTHOR = "amina.author@example.org"
SECOND = "rui.reviewer@example.org"
# Five factors with data for Kenya and France (the same small load as the API's test).
VARIABLES = {
    "ewp.battledeaths.log2": (0, 14),
    "ewp.pol_killing_approved": (0, 1),
    "ewp.discrimpop": (0, 0.3),
    "ewp.repress_civilsoc": (0, 1),
    "ewp.partyban.new.1": (0, 1),
}
EVIDENCE = "Commanders announce the removal of a group from the valley; checkpoints ring it."


@pytest.fixture
def configuration(configuration: Configuration) -> Configuration:
    """Five factors is thin evidence; the coverage minimum is not under test here."""
    scoring = configuration.scoring.model_copy(update={"min_coverage_for_level": 0.0})
    return dataclasses.replace(configuration, scoring=scoring)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def base_url(
    engine: Engine,
    configuration: Configuration,
    session_factory: sessionmaker[Session],
    tmp_path: Path,
) -> Iterator[str]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: .ci/run installs it (apt-get install chromium)")
    prepare_database(session_factory, configuration)
    path = tmp_path / "data.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["iso3", "variable", "year", "value"])
        for iso3, share in (("KEN", 0.4), ("FRA", 0.05)):
            for variable, (low, high) in VARIABLES.items():
                writer.writerow([iso3, variable, 2024, low + share * (high - low)])
    assert ingest_service.import_file(session_factory, path, "csv").error is None
    score_and_alert(session_factory, configuration)
    with session_scope(session_factory) as session:
        for email in (AUTHOR, SECOND):
            accounts.create_user(session, email=email, password=PASSWORD, role=Role.ANALYST)
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


def _accessible(page: Any) -> None:
    results = axe_module.Axe().run(page)
    bad = [
        (v["id"], v["impact"], len(v["nodes"]))
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert bad == [], f"{page.url}: {bad}"


def _page(browser: Any, blocked: list[str]) -> Any:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})

    def guard(route: Any) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    context.route("**/*", guard)
    return context.new_page()


def _sign_in(page: Any, base_url: str, email: str, next_path: str) -> None:
    page.goto(f"{base_url}/login?next={next_path}")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_load_state()
    assert urlsplit(page.url).path == next_path, page.content()[:500]


def _record(page: Any, base_url: str, shots: Path) -> int:
    """From the country page to the form; a refused first try, then the assessment."""
    _sign_in(page, base_url, AUTHOR, "/countries/KEN")
    page.click("text=Record an assessment of Kenya")
    assert page.locator("#country_iso3").input_value() == "KEN"  # prefilled from the link
    page.select_option("#risk_factor", "12")
    page.select_option("#level", "high")
    page.select_option("#confidence", "medium")
    page.fill("#evidence", "Too short.")
    page.fill("#links", "https://example.org/report-12\nnot a link")
    page.fill("#valid_until", (utc_now().date() + timedelta(days=90)).isoformat())
    page.click("#assessment-form button[type=submit]")
    page.wait_for_load_state()
    summary = page.locator("#problems")
    assert summary.is_visible()
    assert "Evidence: write at least 20 characters" in summary.inner_text()
    assert "line 2 ('not a link')" in page.locator("#links-error").inner_text()
    assert page.locator("#level").input_value() == "high"  # nothing typed is lost
    assert page.locator("#evidence").input_value() == "Too short."
    _accessible(page)
    page.screenshot(path=str(shots / "assessment-form.png"), full_page=True)

    page.fill("#evidence", EVIDENCE)
    page.fill("#links", "https://example.org/report-12")
    page.click("#assessment-form button[type=submit]")
    page.wait_for_load_state()
    match = re.search(r"/assessments/(\d+)$", urlsplit(page.url).path)
    assert match, page.url
    assert "Recorded. It counts once a second analyst" in page.inner_text("main")
    return int(match.group(1))


def _self_approval_is_refused(page: Any, assessment_id: int) -> None:
    """No approve button for the author; a post anyway (an old tab) is refused, plainly."""
    assert page.locator("#own-notice").is_visible()
    assert page.locator("#approve-form").count() == 0
    _accessible(page)
    token = page.locator("#withdraw-form input[name=csrf_token]").input_value()
    with page.expect_navigation():
        page.evaluate(
            """([path, token]) => {
            const form = document.createElement("form");
            form.method = "post"; form.action = path;
            const field = document.createElement("input");
            field.type = "hidden"; field.name = "csrf_token"; field.value = token;
            form.appendChild(field); document.body.appendChild(form); form.submit();
        }""",
            [f"/assessments/{assessment_id}/approve", token],
        )
    refusal = page.locator("#review-error")
    assert refusal.is_visible()
    assert "a second analyst or an administrator must approve it (four-eyes)" in (
        refusal.inner_text()
    )


def _approve(page: Any, base_url: str, assessment_id: int, shots: Path) -> None:
    _sign_in(page, base_url, SECOND, "/")
    page.click("header nav >> text=Assessments")
    page.select_option("#f-state", "pending")
    page.click("form.filters button[type=submit]")
    page.wait_for_load_state()
    row = page.locator(f"#assessment-{assessment_id}")
    assert "pending" in row.inner_text()
    _accessible(page)
    page.screenshot(path=str(shots / "assessments.png"))
    row.locator(f"a[href='/assessments/{assessment_id}']").click()
    page.wait_for_load_state()
    assert EVIDENCE in page.inner_text("main")
    _accessible(page)
    page.screenshot(path=str(shots / "assessment-review.png"), full_page=True)
    page.fill("#note", "Sources checked against the rapporteur's report.")
    page.click("#approve-form button[type=submit]")
    page.wait_for_load_state()
    assert "Approved. It counts from the next scoring run" in page.inner_text("main")
    trail = page.locator("#audit-trail tbody tr")
    assert trail.count() == 2
    assert SECOND in trail.nth(1).inner_text()


def test_record_review_and_see_the_term_in_chromium(
    base_url: str,
    engine: Engine,
    configuration: Configuration,
    session_factory: sessionmaker[Session],
    tmp_path: Path,
) -> None:
    shots = tmp_path / "screenshots"
    shots.mkdir()
    blocked: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            author = _page(browser, blocked)
            assessment_id = _record(author, base_url, shots)
            _self_approval_is_refused(author, assessment_id)
            with session_scope(session_factory) as session:
                stored = session.get_one(Assessment, assessment_id)
                assert stored.status is AssessmentStatus.PENDING

            _approve(_page(browser, blocked), base_url, assessment_id, shots)
            score_and_alert(session_factory, configuration)

            author.goto(f"{base_url}/countries/KEN")
            row = author.locator(f"#assessments-current #assessment-{assessment_id}")
            assert f"{AUTHOR}, approved by {SECOND}" in row.inner_text()
            assert author.locator("#assessments-pending").count() == 0
            term = author.locator("table.factors .assessment-term")
            assert term.count() == 1
            said = term.inner_text()
            assert f"analyst assessment #{assessment_id}: score 0.75 by {AUTHOR}" in said
            assert re.search(r"\+0\.\d{3} on the composite", said), said
            row.scroll_into_view_if_needed()
            _accessible(author)
            author.locator("table.factors").screenshot(path=str(shots / "country-factor-terms.png"))
            author.locator("section[aria-labelledby=assessments-h]").screenshot(
                path=str(shots / "country-assessments.png")
            )
        finally:
            browser.close()
    assert blocked == []
    wanted = os.environ.get("EARLYWARN_SCREENSHOTS_DIR")
    if wanted and engine.dialect.name == "sqlite":
        Path(wanted).mkdir(parents=True, exist_ok=True)
        for shot in shots.glob("*.png"):
            shutil.copy(shot, Path(wanted) / shot.name)
