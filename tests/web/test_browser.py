"""The web interface in a real browser: Debian's Chromium driven by Playwright.

The application is served by uvicorn on 127.0.0.1 from a thread, on the EWP data scored
as the service would; every request that would leave 127.0.0.1 is blocked and recorded, and
the test fails if there was one. Screenshots go to a temporary folder (and to
``EARLYWARN_SCREENSHOTS_DIR`` when set, which is how docs/screenshots/ is refreshed).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import uvicorn
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from earlywarn.alerting.models import Alert, AlertState
from earlywarn.app.factory import create_app
from earlywarn.app.pipeline import backfill_history, prepare_database, score_and_alert
from earlywarn.auth import accounts
from earlywarn.auth.models import FocalPoint
from earlywarn.db import session_scope
from earlywarn.framework.config import Configuration
from earlywarn.ingest import service as ingest_service
from earlywarn.notify.ack_links import AckLinks
from earlywarn.notify.models import Channel, Subscription
from earlywarn.observations.models import RunStatus
from earlywarn.types import RiskLevel, Role
from earlywarn.web.worldmap import NO_DATA_COLOUR

from .conftest import EMAILS, PASSWORD, web_settings

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
EWP_FILE = Path("data/ewp/prepared2024predictors-2025-09-03.csv")
AS_OF = date(2025, 6, 30)

sync_api = pytest.importorskip("playwright.sync_api")
axe_module = pytest.importorskip("axe_playwright_python.sync_playwright")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Served:
    base_url: str
    shots: Path
    ack_links: AckLinks
    blocked: list[str] = field(default_factory=list)


@pytest.fixture
def served(
    engine: Engine,
    configuration: Configuration,
    session_factory: sessionmaker[Session],
    shared_dir: Path,
    tmp_path: Path,
) -> Iterator[Served]:
    """The EWP data scored (a history and a live run), one user per role, and the app served."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: .ci/run installs it (apt-get install chromium)")
    ewp = shared_dir / EWP_FILE
    if not ewp.exists():
        pytest.skip(f"EWP data not found at {ewp}")
    prepare_database(session_factory, configuration)
    run = ingest_service.import_file(session_factory, ewp, "ewp")
    assert run.status is RunStatus.SUCCEEDED, run.error
    backfill_history(
        session_factory, configuration, from_year=2019, to_year=2024, today=date(2025, 7, 1)
    )
    with session_scope(session_factory) as session:
        # The Sudan desk: told about Sudan's alerts, which makes them its own.
        focal_point = FocalPoint(name="Sudan desk", email="desk@example.org", active=True)
        session.add(focal_point)
        session.flush()
        session.add(
            Subscription(
                focal_point_id=focal_point.id,
                country_iso3="SDN",
                min_level=RiskLevel.CONCERN,
                channel=Channel.EMAIL,
            )
        )
    score_and_alert(session_factory, configuration, as_of=AS_OF)
    with session_scope(session_factory) as session:
        for role, email in EMAILS.items():
            accounts.create_user(
                session,
                email=email,
                password=PASSWORD,
                role=role,
                focal_point_id=focal_point.id if role is Role.FOCAL_POINT else None,
            )
    port = _free_port()
    app = create_app(
        settings=web_settings(
            tmp_path, public_base_url=f"http://127.0.0.1:{port}", webhook_allow_hosts="127.0.0.1"
        ),
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
    shots = tmp_path / "screenshots"
    shots.mkdir()
    try:
        yield Served(f"http://127.0.0.1:{port}", shots, app.state.ack_links)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        wanted = os.environ.get("EARLYWARN_SCREENSHOTS_DIR")
        if wanted and engine.dialect.name == "sqlite":
            Path(wanted).mkdir(parents=True, exist_ok=True)
            for shot in shots.glob("*.png"):
                shutil.copy(shot, Path(wanted) / shot.name)


@pytest.fixture
def browser(served: Served) -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def _page(browser: Any, served: Served) -> Any:
    """A fresh browser context (no cookies) whose requests may only go to 127.0.0.1."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})

    def guard(route: Any) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            served.blocked.append(route.request.url)
            route.abort()

    context.route("**/*", guard)
    return context.new_page()


def _sign_in(page: Any, served: Served, role: Role) -> None:
    page.goto(served.base_url + "/")
    assert urlsplit(page.url).path == "/login"  # anonymous visitors are sent to sign in
    page.fill("input[name=email]", EMAILS[role])
    page.fill("input[name=password]", PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_load_state()
    assert urlsplit(page.url).path == "/", page.content()[:500]


def _accessible(page: Any) -> None:
    """axe-core (shipped by axe-playwright-python) finds nothing serious or critical."""
    results = axe_module.Axe().run(page)
    bad = [
        (v["id"], v["impact"], len(v["nodes"]))
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert bad == [], f"{page.url}: {bad}"


def _map_is_coloured(page: Any) -> None:
    rated = page.locator("svg.worldmap a path[data-iso3]:not([data-level='none'])")
    assert rated.count() >= 160
    fills = rated.evaluate_all("(paths) => paths.map((p) => p.getAttribute('fill'))")
    assert NO_DATA_COLOUR not in fills
    assert len(set(fills)) >= 3  # several levels, each its own colour
    first = rated.first
    assert first.locator("title").text_content().split(": ")[1].split(" ")[0] in {
        "low",
        "concern",
        "warning",
        "emergency",
    }


def test_the_web_interface_in_chromium(
    browser: Any, served: Served, session_factory: sessionmaker[Session]
) -> None:
    """One flow per user task on the same served data (loading it takes most of the time)."""
    _every_role_signs_in_and_sees_the_map_and_the_admin_pages_are_for_admins(browser, served)
    _a_country_brief_opens_from_the_map_with_its_history_and_downloads_as_csv(browser, served)
    _a_focal_point_acknowledges_an_alert_and_records_an_action(browser, served)
    _an_admin_previews_applies_and_rolls_back_a_weight_change(browser, served)
    _an_admin_adds_a_focal_point_its_endpoints_and_a_key(browser, served)
    _a_focal_point_acknowledges_through_the_signed_email_link(browser, served, session_factory)
    assert served.blocked == []


def _every_role_signs_in_and_sees_the_map_and_the_admin_pages_are_for_admins(
    browser: Any, served: Served
) -> None:
    for role in Role:
        page = _page(browser, served)
        _sign_in(page, served, role)
        _map_is_coloured(page)
        rows = page.locator("#watchlist tbody tr")
        assert rows.count() >= 160
        assert rows.first.locator("td").first.text_content() == "1"
        if role is Role.ANALYST:
            page.screenshot(path=str(served.shots / "overview.png"))
            _accessible(page)
            # Keyboard: the first Tab reaches the skip link, which leads to the content.
            page.keyboard.press("Tab")
            assert page.evaluate("document.activeElement.className") == "skip"
            # Filters work without JavaScript: a plain GET form.
            page.select_option("#level", "emergency")
            page.click("form.filters button")
            page.wait_for_load_state()
            levels = page.locator("#watchlist tbody tr td:nth-child(4)").all_text_contents()
            assert levels
            assert {text.strip() for text in levels} == {"emergency"}
            page.click("header nav a[href='/methodology']")
            page.wait_for_load_state()
            assert page.locator("section.factor").count() == 14
            _accessible(page)
            refused = page.goto(served.base_url + "/admin/users")
            assert refused is not None
            assert refused.status == 403
            assert "may not admin" in page.content()
        if role is Role.ADMIN:
            page.goto(served.base_url + "/admin/users")
            assert page.locator("table.data tbody tr").count() == len(EMAILS)
            page.screenshot(path=str(served.shots / "admin-users.png"))
            _accessible(page)
        page.goto(served.base_url + "/account")
        _accessible(page)
        page.click("header form[action='/logout'] button")
        page.wait_for_load_state()
        assert urlsplit(page.url).path == "/login"
        _accessible(page)
        page.context.close()
    assert served.blocked == []


def _a_country_brief_opens_from_the_map_with_its_history_and_downloads_as_csv(
    browser: Any, served: Served
) -> None:
    page = _page(browser, served)
    _sign_in(page, served, Role.ANALYST)
    page.click("svg.worldmap a[href='/countries/SDN']")
    page.wait_for_load_state()
    assert urlsplit(page.url).path == "/countries/SDN"
    assert page.locator("h1").text_content().startswith("Sudan")
    # The history chart: a point per scored date (backfill 2019-2024 and the live run).
    points = page.locator("svg.chart circle.point")
    assert points.count() >= 7
    assert page.locator("svg.chart text.band").all_text_contents() == [
        "low",
        "concern",
        "warning",
        "emergency",
    ]
    assert page.locator("table.factors tbody tr").count() == 14
    assert re.search(r"rank \d+ of \d{3}", page.locator(".headline").text_content())
    page.screenshot(path=str(served.shots / "country-brief.png"))
    _accessible(page)
    with page.expect_download() as download_info:
        page.click("a[href='/countries/SDN/brief.csv']")
    download = download_info.value
    assert download.suggested_filename == "earlywarn-SDN-2025-06-30.csv"
    text = Path(download.path()).read_text(encoding="utf-8")
    header, *lines = text.splitlines()
    assert header.startswith("section,iso3,date,item,value")
    sections = {line.split(",")[0] for line in lines}
    assert sections == {"history", "factor", "indicator"}
    # Printing: the print stylesheet hides the navigation.
    page.emulate_media(media="print")
    assert not page.locator("header.site nav").is_visible()
    page.pdf(path=str(served.shots / "country-brief.pdf"))
    page.context.close()
    assert served.blocked == []


def _a_focal_point_acknowledges_an_alert_and_records_an_action(
    browser: Any, served: Served
) -> None:
    page = _page(browser, served)
    _sign_in(page, served, Role.FOCAL_POINT)
    page.click("header nav a[href='/inbox']")
    page.wait_for_load_state()
    mine = page.locator("#inbox tbody tr")
    assert mine.count() >= 1
    assert set(page.locator("#inbox tbody td:nth-child(2)").all_text_contents()) == {"Sudan"}
    page.screenshot(path=str(served.shots / "inbox.png"))
    _accessible(page)
    mine.first.locator("a").click()
    page.wait_for_load_state()
    alert_path = urlsplit(page.url).path
    assert alert_path.startswith("/alerts/")
    # Actions come first, then evidence, the audit trail and (for admins) deliveries.
    headings = page.locator("main h2").all_text_contents()
    assert headings.index("Evidence") > 1
    assert headings[1].startswith("What to do first")
    _accessible(page)
    page.fill("#note", "Seen; convening the Sudan task force.")
    page.click("form[action$='/acknowledge'] button")
    page.wait_for_load_state()
    assert urlsplit(page.url).path == alert_path
    trail = page.locator("#audit-trail tbody tr").last
    assert trail.locator("td").nth(1).text_content() == "acknowledged"
    assert trail.locator("td").nth(2).text_content().endswith(":desk@example.org")
    assert trail.locator("td").nth(4).text_content() == "Seen; convening the Sudan task force."
    assert "State acknowledged" in page.locator(".lede").text_content()
    _the_focal_point_records_an_action_from_planned_to_done(page, served, alert_path)
    page.context.close()


def _the_focal_point_records_an_action_from_planned_to_done(
    page: Any, served: Served, alert_path: str
) -> None:
    priority = page.locator("#priority-actions > li")
    assert 1 <= priority.count() <= 7
    first = priority.first
    code = first.locator(".tag").text_content().split(" · ")[1]
    first.locator("a", has_text="Record this action").click()
    page.wait_for_load_state()
    assert page.locator("#catalogue_code").input_value() == code  # the row, preselected
    page.fill("#who_acts", "Head of mission, Port Sudan")
    page.fill("#due_date", "2025-07-15")
    page.click("#record-form button[type=submit]")
    page.wait_for_load_state()
    assert urlsplit(page.url).path == alert_path
    row = page.locator("#recorded-actions tbody tr")
    assert row.count() == 1
    assert row.locator("td.status").text_content() == "planned"
    assert code in row.locator("td").nth(1).text_content()
    row.locator("summary").click()
    row.locator("select[name=status]").select_option("done")
    row.locator("textarea[name=outcome_note]").fill("Met the governor; access agreed.")
    _accessible(page)  # with the change form open
    row.locator("button[type=submit]").click()
    page.wait_for_load_state()
    row = page.locator("#recorded-actions tbody tr")
    assert row.locator("td.status").text_content() == "done"
    assert "Met the governor" in row.text_content()
    trail = page.locator("#audit-trail tbody tr")
    recorded, updated = trail.nth(trail.count() - 2), trail.last
    assert recorded.locator("td").nth(1).text_content() == "action recorded"
    assert code in recorded.locator("td").nth(4).text_content()
    assert updated.locator("td").nth(1).text_content() == "action updated"
    assert "status planned → done" in updated.locator("td").nth(4).text_content()
    assert updated.locator("td").nth(2).text_content().endswith(":desk@example.org")
    _accessible(page)
    # A viewport from the section's top (an element shot would slide the sticky table head
    # over the first row).
    page.evaluate("document.getElementById('done').scrollIntoView()")
    page.screenshot(path=str(served.shots / "alert-actions.png"))
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(served.shots / "alert.png"))
    # The country brief shows the open alert with what is being done about it.
    page.goto(served.base_url + "/countries/SDN")
    assert "Met the governor" in page.locator("ul.recorded").first.text_content()


def _an_admin_previews_applies_and_rolls_back_a_weight_change(browser: Any, served: Served) -> None:
    page = _page(browser, served)
    _sign_in(page, served, Role.ADMIN)
    page.click("header nav a[href='/admin/weights']")
    page.wait_for_load_state()
    # Ids come from the database's sequence: on PostgreSQL they go on across tests.
    active = re.search(r"Active: weight set (\d+)", page.locator(".lede").text_content() or "")
    assert active is not None
    active_id = active.group(1)
    _accessible(page)
    page.fill("#f8", "3")  # triggering factors count three times as much
    page.click("#tuning button[type=submit]")
    page.wait_for_load_state()
    assert urlsplit(page.url).path == "/admin/weights/preview"
    assert page.locator("#changed li").all_text_contents() == ["factor weights 8: 1.0 → 3.0"]
    assert page.locator("#level-changes tbody tr").count() >= 1
    page.screenshot(path=str(served.shots / "weights-preview.png"))
    _accessible(page)
    page.fill("#reason", "Triggers weigh more in the run-up to elections")
    page.click("#apply button")
    page.wait_for_load_state()
    applied = re.search(r"Weight set (\d+) is active", page.locator(".notice").text_content() or "")
    assert applied is not None
    assert applied.group(1) != active_id
    history = page.locator("#weight-history tbody tr")
    assert history.first.locator("td").nth(1).text_content() == "applied"
    assert "run-up to elections" in history.first.text_content()
    page.select_option("#to", active_id)
    page.fill("#rb-reason", "Back to the reviewed weights")
    page.click("#rollback button")
    page.wait_for_load_state()
    assert f"Rolled back: weight set {active_id} is active" in (
        page.locator(".notice").text_content() or ""
    )
    assert page.locator("#weight-history tbody tr").first.locator("td").nth(1).text_content() == (
        "rolled back"
    )
    page.screenshot(path=str(served.shots / "weights-history.png"))
    page.context.close()


NEW_DESK = "Great Lakes desk"
NOTE = "Seen from the e-mail; the Great Lakes desk is on it."


def _an_admin_adds_a_focal_point_its_endpoints_and_a_key(browser: Any, served: Served) -> None:
    page = _page(browser, served)
    _sign_in(page, served, Role.ADMIN)
    page.click("header nav a[href='/admin/focal-points']")
    page.wait_for_load_state()
    before = page.locator("#focal-points tbody tr").count()
    _accessible(page)
    page.fill("#fp-name", NEW_DESK)
    page.fill("#fp-org", "OSAPG")
    page.fill("#fp-email", "lakes@example.org")
    page.fill("#fp-webhook", "http://127.0.0.1:9/earlywarn")
    page.click("#add-focal-point button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("h1").text_content().endswith(NEW_DESK)
    secret = page.locator("#webhook-secret code.reveal").text_content() or ""
    assert secret.startswith("whsec_")
    assert page.locator("#endpoints tbody tr").count() == 2
    # Told about every country's alerts from concern up, by e-mail.
    page.select_option("#sub-channel", "email")
    page.select_option("#sub-level", "concern")
    page.click("#add-subscription button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("#subscriptions tbody tr td:nth-child(3)").all_text_contents() == [
        "every country"
    ]
    assert page.locator("#webhook-secret").count() == 0  # the secret was shown once
    page.screenshot(path=str(served.shots / "admin-focal-point.png"))
    _accessible(page)
    page.click("header nav a[href='/admin/focal-points']")
    page.wait_for_load_state()
    assert page.locator("#focal-points tbody tr").count() == before + 1

    page.click("header nav a[href='/admin/api-keys']")
    page.wait_for_load_state()
    page.fill("#key-name", "Great Lakes dashboard")
    page.select_option("#key-role", "focal_point")
    desk_option = page.locator("#key-fp option", has_text=NEW_DESK).get_attribute("value")
    page.select_option("#key-fp", desk_option)
    page.click("#issue-key button[type=submit]")
    page.wait_for_load_state()
    key = page.locator("#new-key code.reveal").text_content() or ""
    assert key.startswith("ew_")
    row = page.locator("#api-keys tbody tr", has_text="Great Lakes dashboard")
    assert "focal point" in (row.text_content() or "")
    assert NEW_DESK in (row.text_content() or "")
    _accessible(page)

    page.click("header nav a[href='/admin/sources']")
    page.wait_for_load_state()
    ewp = page.locator("#source-ewp")
    assert "imported" in (ewp.text_content() or "")
    page.screenshot(path=str(served.shots / "admin-sources.png"), full_page=True)
    _accessible(page)
    page.context.close()


def _a_focal_point_acknowledges_through_the_signed_email_link(
    browser: Any, served: Served, session_factory: sessionmaker[Session]
) -> None:
    with session_factory() as session:
        desk_id = session.scalars(select(FocalPoint.id).where(FocalPoint.name == NEW_DESK)).one()
        alert_id = session.scalars(
            select(Alert.id)
            .where(Alert.state == AlertState.FIRING, Alert.operational.is_(False))
            .order_by(Alert.id)
            .limit(1)
        ).one()
    # The link an e-mail to the new desk carries (the delivery test reads it from a real mail).
    link = served.base_url + served.ack_links.path(alert_id, desk_id)
    page = _page(browser, served)  # not signed in
    page.goto(link)
    assert page.locator("#ack-h").text_content() == (
        f"Confirm: acknowledge this alert as {NEW_DESK}"
    )
    _accessible(page)
    page.fill("#note", NOTE)
    page.click("#ack-form button[type=submit]")
    page.wait_for_load_state()
    assert "(e-mail link)" in (page.locator("#ack-done").text_content() or "")
    assert page.locator("#ack-state").text_content() == "acknowledged"
    page.screenshot(path=str(served.shots / "ack-link.png"))
    tampered = page.goto(link[:-3] + ("xyz" if not link.endswith("xyz") else "abc"))
    assert tampered is not None
    assert tampered.status == 400
    assert "not valid" in (page.locator(".error").text_content() or "")
    _accessible(page)
    page.context.close()
    # The audit trail, as an administrator sees it on the alert page.
    admin = _page(browser, served)
    _sign_in(admin, served, Role.ADMIN)
    admin.goto(f"{served.base_url}/alerts/{alert_id}")
    trail = admin.locator("#audit-trail tbody tr").last
    assert trail.locator("td").nth(1).text_content() == "acknowledged"
    assert (
        trail.locator("td").nth(2).text_content()
        == f"focal_point:{desk_id}:{NEW_DESK} (e-mail link)"
    )
    assert trail.locator("td").nth(4).text_content() == NOTE
    admin.context.close()
