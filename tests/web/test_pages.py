"""Pages through the test client: the brief shares its path with the API's JSON route."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from earlywarn.alerting.models import Alert, AlertState
from earlywarn.auth.account_models import User
from earlywarn.auth.service import create_key
from earlywarn.countries.service import seed_countries
from earlywarn.db import session_scope
from earlywarn.framework.config import Configuration
from earlywarn.framework.service import sync_configuration
from earlywarn.notify.models import Channel, Subscription
from earlywarn.types import RiskLevel, Role
from earlywarn.weights import service as weights_service
from earlywarn.weights.schemas import WeightProposal

from .conftest import TestClient, form_token, sign_in

HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


def test_a_browser_gets_the_brief_and_an_api_client_the_json(
    new_client: Callable[[], TestClient],
    users: dict[Role, str],
    session_factory: sessionmaker[Session],
) -> None:
    with session_scope(session_factory) as session:
        seed_countries(session)
        _, key = create_key(session, name="machine", role=Role.ANALYST)
    client = new_client()
    anonymous = client.get("/countries/KEN", headers=HTML)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == "/login?next=/countries/KEN"
    api = client.get("/countries/KEN", headers={"X-API-Key": key})
    assert api.status_code == 200
    assert api.json()["iso3"] == "KEN"
    # A browser with an API key, or a client that does not ask for HTML, reaches the API.
    assert client.get("/countries/KEN", headers={**HTML, "X-API-Key": key}).json()["iso3"] == "KEN"
    assert client.get("/countries/KEN").status_code == 401

    sign_in(client, users[Role.ANALYST])
    page = client.get("/countries/ken", headers=HTML)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "Kenya" in page.text
    assert "no score in the latest run" in page.text  # nothing scored yet
    missing = client.get("/countries/QQQ", headers=HTML)
    assert missing.status_code == 404
    assert "No country has the code" in missing.text
    csv_file = client.get("/countries/KEN/brief.csv")
    assert csv_file.status_code == 200
    assert csv_file.headers["content-type"].startswith("text/csv")


def _alert(session_factory: sessionmaker[Session], focal_point_id: int) -> int:
    with session_scope(session_factory) as session:
        seed_countries(session)
        session.add(
            Subscription(
                focal_point_id=focal_point_id,
                country_iso3="KEN",
                min_level=RiskLevel.CONCERN,
                channel=Channel.EMAIL,
            )
        )
        alert = Alert(
            rule_id="elevated_risk",
            country_iso3="KEN",
            subject="KEN",
            rule_kind="level_at_least",
            dedup_key="elevated_risk:KEN",
            level=RiskLevel.WARNING,
            summary="Kenya: atrocity risk at or above 'warning'.",
            evidence={"as_of": "2025-06-30", "composite": 0.42, "level": "warning"},
            actions={"national": [{"code": "1.1", "title": "Promote equality",
                                   "recommended_because": "risk factor 4", "actions": []}]},
        )  # fmt: skip
        session.add(alert)
        session.flush()
        return alert.id


def test_the_acknowledge_link_opens_a_confirmation_and_only_a_post_acknowledges(
    new_client: Callable[[], TestClient],
    users: dict[Role, str],
    session_factory: sessionmaker[Session],
    focal_point_id: int,
) -> None:
    alert_id = _alert(session_factory, focal_point_id)
    analyst = new_client()
    sign_in(analyst, users[Role.ANALYST])
    page = analyst.get(f"/alerts/{alert_id}", headers=HTML)
    assert page.status_code == 200
    assert "Promote equality" in page.text
    assert "Acknowledge alert" not in page.text  # an analyst reads, never acknowledges
    refused = analyst.post(
        f"/alerts/{alert_id}/acknowledge",
        headers=HTML,
        data={"csrf_token": form_token(page.text), "note": "x"},
    )
    assert refused.status_code == 403

    desk = new_client()
    sign_in(desk, users[Role.FOCAL_POINT])
    inbox = desk.get("/inbox")
    assert f'href="/alerts/{alert_id}"' in inbox.text
    confirm = desk.get(f"/alerts/{alert_id}/acknowledge")  # the e-mail's link
    assert confirm.status_code == 200
    assert "Confirm: acknowledge this alert" in confirm.text
    with session_factory() as session:
        assert session.get_one(Alert, alert_id).state is AlertState.FIRING  # a GET changed nothing
    token = form_token(confirm.text)
    assert (
        desk.post(f"/alerts/{alert_id}/acknowledge", headers=HTML, data={"note": "x"}).status_code
        == 403
    )
    done = desk.post(
        f"/alerts/{alert_id}/acknowledge", headers=HTML, data={"csrf_token": token, "note": "on it"}
    )
    assert done.status_code == 303
    with session_factory() as session:
        alert = session.get_one(Alert, alert_id)
        assert alert.state is AlertState.ACKNOWLEDGED
        assert (
            alert.acknowledged_by
            == f"user:{_user_id(session, users[Role.FOCAL_POINT])}:desk@example.org"
        )
    again = desk.post(
        f"/alerts/{alert_id}/acknowledge", headers=HTML, data={"csrf_token": token, "note": "twice"}
    )
    assert again.status_code == 409
    assert "already acknowledged" in again.text
    # The API keeps its JSON route for machines.
    with session_scope(session_factory) as session:
        _, key = create_key(session, name="machine", role=Role.ANALYST)
    api = desk.get(f"/alerts/{alert_id}", headers={"X-API-Key": key})
    assert api.json()["state"] == "acknowledged"


def _user_id(session: Session, email: str) -> int:
    return session.scalars(select(User.id).where(User.email == email)).one()


def test_weight_pages_are_for_admins_and_refuse_an_empty_change_or_a_missing_reason(
    new_client: Callable[[], TestClient],
    users: dict[Role, str],
    session_factory: sessionmaker[Session],
    configuration: Configuration,
) -> None:
    with session_scope(session_factory) as session:
        seed_countries(session)
        weights_service.active_for_scoring(session, sync_configuration(session, configuration))
    analyst = new_client()
    sign_in(analyst, users[Role.ANALYST])
    assert analyst.get("/admin/weights").status_code == 403
    token = form_token(analyst.get("/account").text)
    assert (
        analyst.post("/admin/weights/preview", data={"csrf_token": token, "factor:8": "3"})
    ).status_code == 403

    admin = new_client()
    sign_in(admin, users[Role.ADMIN])
    page = admin.get("/admin/weights")
    assert page.status_code == 200
    token = form_token(page.text)
    same = admin.post("/admin/weights/preview", data={"csrf_token": token, "factor:8": "1.0"})
    assert same.status_code == 400
    assert "no weight differs" in same.text
    bad = admin.post("/admin/weights/preview", data={"csrf_token": token, "factor:8": "-1"})
    assert bad.status_code == 400
    assert "outside 0 to" in bad.text
    preview = admin.post("/admin/weights/preview", data={"csrf_token": token, "factor:8": "2"})
    assert preview.status_code == 200
    assert "nothing to compare on" in preview.text  # no run yet
    set_id = int(preview.text.split('action="/admin/weights/')[1].split("/apply")[0])
    no_reason = admin.post(f"/admin/weights/{set_id}/apply", data={"csrf_token": token})
    assert no_reason.status_code == 400
    applied = admin.post(
        f"/admin/weights/{set_id}/apply", data={"csrf_token": token, "reason": "elections"}
    )
    assert applied.status_code == 303
    with session_factory() as session:
        active = weights_service.active_weight_set(session)
        assert active is not None
        assert active.id == set_id
        assert active.factor_weights["8"] == 2.0


def test_the_methodology_page_says_what_runs(
    new_client: Callable[[], TestClient],
    users: dict[Role, str],
    session_factory: sessionmaker[Session],
    configuration: Configuration,
) -> None:
    with session_scope(session_factory) as session:
        seed_countries(session)
        weights_service.active_for_scoring(session, sync_configuration(session, configuration))
    client = new_client()
    sign_in(client, users[Role.ANALYST])
    page = client.get("/methodology")
    assert page.status_code == 200
    for factor in configuration.framework.risk_factors:
        assert f'id="factor-{factor.number}"' in page.text
    for indicator in configuration.indicators.indicators:
        assert f"<code>{indicator.variable}</code>" in page.text
    for rule in configuration.alerting.rules:
        assert f"<td>{rule.id}</td>" in page.text
    assert f"{configuration.scoring.levels.warning:.2f}" in page.text
    # A weight applied by an administrator shows at once: the page reads the active set.
    with session_scope(session_factory) as session:
        proposal = WeightProposal(factor_weights={"8": 4.5})
        weight_set, _ = weights_service.propose(session, configuration, proposal, actor="test")
        weights_service.apply(session, weight_set, actor="test", reason="test")
    assert "weight 4.5)" in client.get("/methodology").text
