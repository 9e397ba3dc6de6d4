"""The alert page leads with the priority actions; focal points and administrators record
early actions on it through the API's service, every change in the page's audit trail; the
country brief shows open alerts with both. Through the test client, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from earlywarn.alerting.models import Alert, AlertEvent, AlertEventKind
from earlywarn.alerting.response_models import ActionStatus, AlertAction
from earlywarn.auth.service import create_key
from earlywarn.countries.service import seed_countries
from earlywarn.db import session_scope
from earlywarn.framework.config import Configuration
from earlywarn.framework.priority import rank_priority_actions
from earlywarn.framework.service import recommend_actions
from earlywarn.notify.models import Channel, Subscription
from earlywarn.types import RiskLevel, Role

from .conftest import TestClient, form_token, sign_in

HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


@pytest.fixture
def alerts(
    session_factory: sessionmaker[Session], configuration: Configuration, focal_point_id: int
) -> dict[str, int]:
    """Sudan and Myanmar at emergency on the systematic-attack rule, with their priority
    actions ranked as alerting ranks them; the desk follows Sudan only."""
    ids: dict[str, int] = {}
    with session_scope(session_factory) as session:
        seed_countries(session)
        session.add(
            Subscription(
                focal_point_id=focal_point_id,
                country_iso3="SDN",
                min_level=RiskLevel.CONCERN,
                channel=Channel.EMAIL,
            )
        )
        for iso3 in ("SDN", "MMR"):
            actions = recommend_actions(
                configuration, [11, 1], RiskLevel.EMERGENCY, imminent_reason="rule"
            )
            alert = Alert(
                rule_id="systematic_attack",
                rule_kind="risk_factor",
                country_iso3=iso3,
                subject=iso3,
                dedup_key=f"systematic_attack:{iso3}",
                level=RiskLevel.EMERGENCY,
                summary=f"{iso3}: signs of a systematic attack on civilians.",
                evidence={"as_of": "2025-06-30", "composite": 0.61, "level": "emergency"},
                actions=actions,
                priority_actions=rank_priority_actions(
                    configuration,
                    actions,
                    factors=[11, 1],
                    factor_scores={11: 0.9, 1: 0.6, 3: 0.4},
                    level=RiskLevel.EMERGENCY,
                    imminent_situation=True,
                ),
            )
            session.add(alert)
            session.flush()
            session.add(AlertEvent(alert_id=alert.id, kind=AlertEventKind.OPENED))
            ids[iso3] = alert.id
    return ids


def _priority(session_factory: sessionmaker[Session], alert_id: int) -> list[dict[str, Any]]:
    with session_factory() as session:
        return list(session.get_one(Alert, alert_id).priority_actions)


def _signed_in(new_client: Callable[[], TestClient], email: str) -> TestClient:
    client = new_client()
    sign_in(client, email)
    return client


def _audit_rows(page: str) -> list[str]:
    table = page.split('id="audit-trail"')[1].split("</table>")[0]
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip()
            for row in table.split("<tr>")[2:]]  # fmt: skip


def _section_order(page: str) -> list[str]:
    return re.findall(r'<h2 id="([a-z-]+)"', page)


def test_the_page_leads_with_the_priority_actions_and_an_analyst_only_reads(
    new_client: Callable[[], TestClient],
    users: dict[Role, str],
    alerts: dict[str, int],
    session_factory: sessionmaker[Session],
) -> None:
    sudan = alerts["SDN"]
    priority = _priority(session_factory, sudan)
    assert 1 <= len(priority) <= 7
    analyst = _signed_in(new_client, users[Role.ANALYST])
    page = analyst.get(f"/alerts/{sudan}", headers=HTML).text
    assert _section_order(page) == ["actions-h", "done-h", "evidence-h", "trail-h"]
    listed = page.split('id="priority-actions"')[1].split("</ol>")[0]
    for item in priority:  # the e-mail's list, in its order, with sphere, code and why
        assert f"{item['sphere'].capitalize()} · {item['code']}" in listed
    positions = [listed.index(f"· {item['code']}<") for item in priority]
    assert positions == sorted(positions)
    assert listed.count("Imminent risk") == sum(1 for item in priority if item["imminent"])
    assert "Why: risk factor 11" in listed
    # The whole recommendation is one click away, collapsed.
    assert re.search(r'<details id="catalogue">\s*<summary>All \d+ recommended actions', page)
    # An analyst reads: no form, and a post is refused.
    assert 'action="/alerts/' + str(sudan) + '/actions"' not in page
    assert "Record this action" not in page
    refused = analyst.post(
        f"/alerts/{sudan}/actions",
        headers=HTML,
        data={"csrf_token": form_token(page), "catalogue_code": priority[0]["code"],
              "who_acts": "me"},
    )  # fmt: skip
    assert refused.status_code == 403
    assert "may not record actions" in refused.text
    with session_factory() as session:
        assert session.scalars(select(AlertAction)).all() == []


def test_a_focal_point_records_an_action_and_takes_it_from_planned_to_done(
    new_client: Callable[[], TestClient],
    users: dict[Role, str],
    alerts: dict[str, int],
    session_factory: sessionmaker[Session],
) -> None:
    sudan = alerts["SDN"]
    first = _priority(session_factory, sudan)[0]
    desk = _signed_in(new_client, users[Role.FOCAL_POINT])
    # The priority action's link preselects its row (a GET, nothing recorded).
    page = desk.get(f"/alerts/{sudan}", params={"record": first["code"]}, headers=HTML).text
    assert re.search(rf'<option value="{re.escape(first["code"])}" selected>', page)
    token = form_token(page)
    without_token = desk.post(
        f"/alerts/{sudan}/actions",
        headers=HTML,
        data={"catalogue_code": first["code"], "who_acts": "Head of mission"},
    )
    assert without_token.status_code == 403
    created = desk.post(
        f"/alerts/{sudan}/actions",
        headers=HTML,
        data={"csrf_token": token, "catalogue_code": first["code"], "text": "",
              "sphere": "national", "who_acts": "Head of mission, Port Sudan",
              "status": "planned", "due_date": "2026-12-20", "outcome_note": ""},
    )  # fmt: skip
    assert created.status_code == 303, created.text
    with session_factory() as session:
        action = session.scalars(select(AlertAction)).one()
        # The row's own sphere and text, whatever the free-text sphere field said.
        assert (action.catalogue_code, action.text) == (first["code"], first["text"])
        assert action.sphere.value == first["sphere"]
        assert action.status is ActionStatus.PLANNED
        assert action.due_date == date(2026, 12, 20)
    assert created.headers["location"] == f"/alerts/{sudan}#action-{action.id}"

    url = f"/alerts/{sudan}/actions/{action.id}"
    change = {"csrf_token": token, "who_acts": "Head of mission, Port Sudan",
              "due_date": "2026-12-20", "dropped_reason": "", "outcome_note": ""}  # fmt: skip
    assert desk.post(url, headers=HTML, data={**change, "status": "under_way"}).status_code == 303
    done = desk.post(
        url,
        headers=HTML,
        data={**change, "status": "done", "outcome_note": "Met the governor; access agreed."},
    )
    assert done.status_code == 303
    page = desk.get(f"/alerts/{sudan}", headers=HTML).text
    row = page.split(f'id="action-{action.id}"')[1].split("</tr>")[0]
    assert "done" in row
    assert "Met the governor; access agreed." in row
    trail = _audit_rows(page)
    assert [r.split(" UTC ")[1].split(" user:")[0] for r in trail[-3:]] == [
        "action recorded",
        "action updated",
        "action updated",
    ]
    assert f"Action #{action.id}: {first['code']}" in trail[-3]
    assert "planned; who acts: Head of mission, Port Sudan; due 2026-12-20" in trail[-3]
    assert f"Action #{action.id}: status under way → done, outcome note – → Met" in trail[-1]
    assert all(":desk@example.org" in r for r in trail[-3:])
    with session_factory() as session:
        kinds = session.scalars(
            select(AlertEvent.kind).where(AlertEvent.alert_id == sudan).order_by(AlertEvent.id)
        ).all()
    assert kinds[-3:] == [AlertEventKind.ACTION_RECORDED, AlertEventKind.ACTION_UPDATED,
                          AlertEventKind.ACTION_UPDATED]  # fmt: skip


def test_refused_forms_say_why_keep_what_was_typed_and_save_nothing(
    new_client: Callable[[], TestClient],
    users: dict[Role, str],
    alerts: dict[str, int],
    session_factory: sessionmaker[Session],
) -> None:
    sudan = alerts["SDN"]
    code = _priority(session_factory, sudan)[0]["code"]
    desk = _signed_in(new_client, users[Role.FOCAL_POINT])
    token = form_token(desk.get(f"/alerts/{sudan}", headers=HTML).text)
    url = f"/alerts/{sudan}/actions"
    cases = [
        ({"catalogue_code": code, "text": "Call the governor", "who_acts": "Desk"},
         "not both"),
        ({"text": "Call the governor", "who_acts": "Desk"},
         "give a catalogue_code, or a free-text action with text and sphere"),
        ({"text": "Call the governor", "sphere": "national", "who_acts": ""},
         "who acts: String should have at least 1 character"),
        ({"text": "Call the governor", "sphere": "national", "who_acts": "Desk",
          "status": "dropped"}, "a dropped action needs a dropped_reason"),
        ({"catalogue_code": "1.1.999", "who_acts": "Desk"}, "has rows 1 to"),
        ({"text": "Call", "sphere": "national", "who_acts": "Desk", "due_date": "20 Dec"},
         "due date: Input should be a valid date"),
    ]  # fmt: skip
    for data, reason in cases:
        refused = desk.post(url, headers=HTML, data={"csrf_token": token, **data})
        assert refused.status_code == 422, (data, refused.status_code)
        form = refused.text.split('<h3 id="record-h">')[1]
        assert reason in form.split("</p>")[0], (reason, form[:400])
        if data.get("text"):
            assert f">{data['text']}</textarea>" in form  # what was typed is still there
    with session_factory() as session:
        assert session.scalars(select(AlertAction)).all() == []

    kept = desk.post(
        url,
        headers=HTML,
        data={"csrf_token": token, "text": "Call the governor", "sphere": "national",
              "who_acts": "Desk", "status": "under_way"},
    )  # fmt: skip
    assert kept.status_code == 303
    with session_factory() as session:
        action_id = session.scalars(select(AlertAction.id)).one()
    change = desk.post(
        f"{url}/{action_id}",
        headers=HTML,
        data={"csrf_token": token, "status": "dropped", "who_acts": "Desk"},
    )
    assert change.status_code == 422
    assert "a dropped action needs a dropped_reason" in change.text
    assert re.search(rf'<details open>\s*<summary>Change<span class="visually-hidden"> action '
                     rf"#{action_id}<", change.text)  # fmt: skip
    with session_factory() as session:
        action = session.get_one(AlertAction, action_id)
        assert action.status is ActionStatus.UNDER_WAY
        assert action.dropped_reason is None
    dropped = desk.post(
        f"{url}/{action_id}",
        headers=HTML,
        data={"csrf_token": token, "status": "dropped", "who_acts": "Desk",
              "dropped_reason": "The governor left office"},
    )  # fmt: skip
    assert dropped.status_code == 303
    assert "dropped: The governor left office" in desk.get(f"/alerts/{sudan}", headers=HTML).text
    missing = desk.post(f"{url}/999999", headers=HTML, data={"csrf_token": token, "who_acts": "x"})
    assert missing.status_code == 404


def test_a_focal_point_acts_only_on_its_alerts_and_an_administrator_on_any(
    new_client: Callable[[], TestClient],
    users: dict[Role, str],
    alerts: dict[str, int],
    session_factory: sessionmaker[Session],
) -> None:
    myanmar = alerts["MMR"]
    desk = _signed_in(new_client, users[Role.FOCAL_POINT])
    page = desk.get(f"/alerts/{myanmar}", headers=HTML).text
    assert 'id="record-form"' not in page  # not its alert: read only
    refused = desk.post(
        f"/alerts/{myanmar}/actions",
        headers=HTML,
        data={"csrf_token": form_token(page), "text": "Call", "sphere": "national",
              "who_acts": "Desk"},
    )  # fmt: skip
    assert refused.status_code == 403
    admin = _signed_in(new_client, users[Role.ADMIN])
    page = admin.get(f"/alerts/{myanmar}", headers=HTML).text
    assert 'id="record-form"' in page
    done = admin.post(
        f"/alerts/{myanmar}/actions",
        headers=HTML,
        data={"csrf_token": form_token(page), "text": "Brief the Special Adviser",
              "sphere": "multilateral", "who_acts": "Desk officer", "status": "done"},
    )  # fmt: skip
    assert done.status_code == 303
    # Machines keep the API's JSON route at the same path.
    with session_scope(session_factory) as session:
        _, key = create_key(session, name="machine", role=Role.ADMIN)
    api = admin.post(
        f"/alerts/{myanmar}/actions",
        headers={"X-API-Key": key},
        json={"text": "Call", "sphere": "national", "who_acts": "Desk"},
    )
    assert api.status_code == 201
    listed = admin.get(f"/alerts/{myanmar}/actions", headers={"X-API-Key": key}).json()
    assert [(a["text"], a["status"]) for a in listed] == [
        ("Brief the Special Adviser", "done"),
        ("Call", "planned"),
    ]


def test_the_brief_shows_open_alerts_with_priority_and_recorded_actions(
    new_client: Callable[[], TestClient],
    users: dict[Role, str],
    alerts: dict[str, int],
    session_factory: sessionmaker[Session],
) -> None:
    sudan = alerts["SDN"]
    priority = _priority(session_factory, sudan)
    desk = _signed_in(new_client, users[Role.FOCAL_POINT])
    before = desk.get("/countries/SDN", headers=HTML).text
    assert f'<a href="#alert-{sudan}">#{sudan} emergency, systematic attack</a>' in before
    card = before.split(f'<a href="/alerts/{sudan}">Alert #{sudan}</a>')[1].split("</article>")[0]
    assert "None yet." in card
    for item in priority:
        assert item["text"] in card
    token = form_token(desk.get(f"/alerts/{sudan}", headers=HTML).text)
    desk.post(
        f"/alerts/{sudan}/actions",
        headers=HTML,
        data={"csrf_token": token, "catalogue_code": priority[-1]["code"],
              "who_acts": "Permanent Mission", "status": "under_way"},
    )  # fmt: skip
    after = desk.get("/countries/SDN", headers=HTML).text
    card = after.split(f'<a href="/alerts/{sudan}">Alert #{sudan}</a>')[1].split("</article>")[0]
    recorded = card.split('<ul class="recorded">')[1].split("</ul>")[0]
    assert "<strong>under way</strong>" in recorded
    assert priority[-1]["text"] in recorded
    assert "who acts: Permanent Mission" in recorded
