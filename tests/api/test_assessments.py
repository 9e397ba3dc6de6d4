"""Analyst assessments through the API, on SQLite and PostgreSQL: four-eyes approval (the
author cannot approve their own), rejection with a reason, withdrawal, supersession, the audit
trail, who sees what, and bad input refused with the reason."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from earlywarn.assessments import service
from earlywarn.assessments.models import AssessmentEvent, AuditEventIsAppendOnly
from earlywarn.auth.service import create_key
from earlywarn.countries.service import seed_countries
from earlywarn.db import session_scope, utc_now
from earlywarn.types import Role

TODAY = utc_now().date()


@pytest.fixture
def people(
    session_factory: sessionmaker[Session], keys: dict[Role, str]
) -> dict[str, dict[str, str]]:
    """Headers of: the author (an analyst), a second analyst, the author's second key (same
    name), an administrator and a focal point. Countries seeded."""
    with session_scope(session_factory) as session:
        seed_countries(session)
        _, second = create_key(session, name="second-analyst", role=Role.ANALYST)
        _, alias = create_key(session, name="test-analyst", role=Role.ANALYST)
    return {
        "author": {"X-API-Key": keys[Role.ANALYST]},
        "second": {"X-API-Key": second},
        "alias": {"X-API-Key": alias},
        "admin": {"X-API-Key": keys[Role.ADMIN]},
        "focal": {"X-API-Key": keys[Role.FOCAL_POINT]},
    }


def _body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "country_iso3": "ken",
        "risk_factor": 12,
        "level": "high",
        "confidence": "medium",
        "evidence": "Leaders' speeches call for the removal of a named community; see links.",
        "links": ["https://example.org/report-1"],
        "valid_until": (TODAY + timedelta(days=90)).isoformat(),
    }
    body.update(overrides)
    return body


def _create(client: Any, headers: dict[str, str], **overrides: Any) -> dict[str, Any]:
    response = client.post("/assessments", json=_body(**overrides), headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def test_four_eyes_the_author_cannot_approve_their_own(
    client: Any, people: dict[str, dict[str, str]]
) -> None:
    created = _create(client, people["author"])
    assert (created["status"], created["score"], created["scale_label"]) == (
        "pending",
        0.75,
        "high",
    )
    assert created["country_iso3"] == "KEN"
    assert created["counts_today"] is False
    aid = created["id"]

    own = client.post(f"/assessments/{aid}/approve", json={}, headers=people["author"])
    assert own.status_code == 403, own.text
    assert "four-eyes" in own.json()["detail"]
    # Another key of the same person (same name) is still the author.
    alias = client.post(f"/assessments/{aid}/approve", json={}, headers=people["alias"])
    assert alias.status_code == 403, alias.text
    # A focal point may read but not review.
    focal = client.post(f"/assessments/{aid}/approve", json={}, headers=people["focal"])
    assert focal.status_code == 403

    approved = client.post(
        f"/assessments/{aid}/approve",
        json={"note": "checked the sources"},
        headers=people["second"],
    )
    assert approved.status_code == 200, approved.text
    out = approved.json()
    assert out["status"] == "approved"
    assert out["counts_today"] is True
    assert "second-analyst" in out["reviewer"]
    assert [e["kind"] for e in out["events"]] == ["created", "approved"]
    assert "test-analyst" in out["events"][0]["actor"]
    assert out["events"][1]["reason"] == "checked the sources"

    again = client.post(f"/assessments/{aid}/approve", json={}, headers=people["admin"])
    assert again.status_code == 409
    assert "not pending" in again.json()["detail"]


def test_reject_needs_a_reason_and_a_rejected_one_never_counts(
    client: Any, people: dict[str, dict[str, str]], session_factory: sessionmaker[Session]
) -> None:
    aid = _create(client, people["author"], score=0.4, level=None)["id"]
    no_reason = client.post(f"/assessments/{aid}/reject", json={}, headers=people["admin"])
    assert no_reason.status_code == 422
    own = client.post(
        f"/assessments/{aid}/reject", json={"reason": "x" * 5}, headers=people["author"]
    )
    assert own.status_code == 403
    rejected = client.post(
        f"/assessments/{aid}/reject",
        json={"reason": "the links do not support a score this high"},
        headers=people["admin"],
    )
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["status"] == "rejected"
    assert rejected.json()["review_note"] == "the links do not support a score this high"
    with session_scope(session_factory) as session:
        assert service.counted(session, _config(client), TODAY) == []


def _config(client: Any) -> Any:
    return client.app.state.configuration.assessments


def test_withdraw_by_author_or_admin_only(
    client: Any, people: dict[str, dict[str, str]], session_factory: sessionmaker[Session]
) -> None:
    first = _create(client, people["author"])["id"]
    client.post(f"/assessments/{first}/approve", json={}, headers=people["second"])
    with session_scope(session_factory) as session:
        assert [a.id for a in service.counted(session, _config(client), TODAY)] == [first]

    reason = {"reason": "new reporting contradicts it"}
    other = client.post(f"/assessments/{first}/withdraw", json=reason, headers=people["second"])
    assert other.status_code == 403
    assert "only its author or an administrator" in other.json()["detail"]
    done = client.post(f"/assessments/{first}/withdraw", json=reason, headers=people["author"])
    assert done.status_code == 200, done.text
    assert [e["kind"] for e in done.json()["events"]] == ["created", "approved", "withdrawn"]
    assert done.json()["events"][-1]["reason"] == reason["reason"]
    with session_scope(session_factory) as session:
        assert service.counted(session, _config(client), TODAY) == []
    twice = client.post(f"/assessments/{first}/withdraw", json=reason, headers=people["admin"])
    assert twice.status_code == 409

    second = _create(client, people["author"])["id"]
    by_admin = client.post(f"/assessments/{second}/withdraw", json=reason, headers=people["admin"])
    assert by_admin.status_code == 200
    assert by_admin.json()["status"] == "withdrawn"


def test_a_newer_assessment_supersedes_the_old_once_approved(
    client: Any, people: dict[str, dict[str, str]], session_factory: sessionmaker[Session]
) -> None:
    old = _create(client, people["author"], level="moderate")["id"]
    client.post(f"/assessments/{old}/approve", json={}, headers=people["second"])
    new = _create(client, people["second"], level="very high", supersedes_id=old)["id"]
    # Pending: the old one still counts.
    with session_scope(session_factory) as session:
        assert [a.id for a in service.counted(session, _config(client), TODAY)] == [old]
    approved = client.post(f"/assessments/{new}/approve", json={}, headers=people["author"])
    assert approved.status_code == 200, approved.text
    assert approved.json()["score"] == 1.0
    old_now = client.get(f"/assessments/{old}", headers=people["author"]).json()
    assert old_now["status"] == "superseded"
    assert [e["kind"] for e in old_now["events"]] == ["created", "approved", "superseded"]
    assert old_now["events"][-1]["reason"] == f"superseded by assessment {new}"
    with session_scope(session_factory) as session:
        assert [a.id for a in service.counted(session, _config(client), TODAY)] == [new]
    # Another factor or country cannot be superseded by it.
    wrong = client.post(
        "/assessments", json=_body(risk_factor=10, supersedes_id=new), headers=people["author"]
    )
    assert wrong.status_code == 422
    assert "not KEN, factor 10" in wrong.json()["detail"]


def test_readers_without_the_assess_permission_see_approved_ones_only(
    client: Any, people: dict[str, dict[str, str]]
) -> None:
    pending = _create(client, people["author"], risk_factor=10)["id"]
    approved = _create(client, people["author"])["id"]
    client.post(f"/assessments/{approved}/approve", json={}, headers=people["admin"])

    everything = client.get("/assessments?iso3=KEN", headers=people["author"]).json()
    assert {a["id"] for a in everything} == {pending, approved}
    assert [
        a["id"] for a in client.get("/assessments?status=pending", headers=people["author"]).json()
    ] == [pending]
    assert [
        a["id"] for a in client.get("/assessments?risk_factor=12", headers=people["author"]).json()
    ] == [approved]
    assert [
        a["id"] for a in client.get("/assessments?status=current", headers=people["author"]).json()
    ] == [approved]

    seen = client.get("/assessments", headers=people["focal"]).json()
    assert [a["id"] for a in seen] == [approved]
    assert client.get("/assessments?status=pending", headers=people["focal"]).json() == []
    assert client.get(f"/assessments/{pending}", headers=people["focal"]).status_code == 404
    assert client.get(f"/assessments/{approved}", headers=people["focal"]).status_code == 200
    assert client.get("/assessments?status=bogus", headers=people["author"]).status_code == 422


@pytest.mark.parametrize(
    ("overrides", "status", "message"),
    [
        ({"country_iso3": "XYZ"}, 422, "unknown country 'XYZ'"),
        ({"level": "catastrophic"}, 422, "unknown level 'catastrophic'"),
        ({"score": 0.5}, 422, "either 'score'"),
        ({"level": None}, 422, "either 'score'"),
        ({"level": None, "score": 1.5}, 422, "less than or equal to 1"),
        ({"risk_factor": 15}, 422, "less than or equal to 14"),
        ({"evidence": "too short"}, 422, "at least 20 characters"),
        ({"links": ["not a link"]}, 422, "URL"),
        ({"valid_from": "2020-01-01", "valid_until": "2020-06-01"}, 422, "in the past"),
        (
            {"valid_until": (TODAY + timedelta(days=5000)).isoformat()},
            422,
            "max_validity_days",
        ),
        (
            {
                "valid_from": (TODAY + timedelta(days=10)).isoformat(),
                "valid_until": (TODAY + timedelta(days=5)).isoformat(),
            },
            422,
            "is before valid_from",
        ),
        ({"supersedes_id": 999999}, 422, "no assessment 999999"),
    ],
)
def test_bad_input_is_refused_with_the_reason(
    client: Any,
    people: dict[str, dict[str, str]],
    overrides: dict[str, Any],
    status: int,
    message: str,
) -> None:
    response = client.post("/assessments", json=_body(**overrides), headers=people["author"])
    assert response.status_code == status, response.text
    assert message in str(response.json()["detail"])


def test_unknown_assessment_is_404(client: Any, people: dict[str, dict[str, str]]) -> None:
    reason = {"reason": "not found"}
    for verb, body in (("approve", {}), ("reject", reason), ("withdraw", reason)):
        response = client.post(f"/assessments/4242/{verb}", json=body, headers=people["admin"])
        assert response.status_code == 404, response.text
        assert response.json()["detail"] == "no assessment 4242"
    assert client.get("/assessments/4242", headers=people["admin"]).status_code == 404


def test_expired_ones_drop_out_and_are_listed_as_expired(
    client: Any, people: dict[str, dict[str, str]], session_factory: sessionmaker[Session]
) -> None:
    until = TODAY + timedelta(days=10)
    aid = _create(client, people["author"], valid_until=until.isoformat())["id"]
    client.post(f"/assessments/{aid}/approve", json={}, headers=people["second"])
    config = _config(client)
    with session_scope(session_factory) as session:
        assert [a.id for a in service.counted(session, config, until)] == [aid]
        assert service.counted(session, config, until + timedelta(days=1)) == []
        later = until + timedelta(days=1)
        expired = service.search(
            session,
            iso3="KEN",
            risk_factor=None,
            status="expired",
            approved_only=False,
            limit=10,
            today=later,
        )
        assert [(a.id, a.expired, a.counts_today) for a in expired] == [(aid, True, False)]
        assert (
            service.search(
                session,
                iso3=None,
                risk_factor=None,
                status="current",
                approved_only=True,
                limit=10,
                today=later,
            )
            == []
        )


def test_the_audit_log_is_append_only(
    client: Any, people: dict[str, dict[str, str]], session_factory: sessionmaker[Session]
) -> None:
    _create(client, people["author"])
    with session_factory() as session:
        event = session.scalars(select(AssessmentEvent)).one()
        event.reason = "rewritten"
        with pytest.raises(AuditEventIsAppendOnly):
            session.flush()
    # The database refuses too (a script or a console bypasses the application).
    with session_factory() as session, pytest.raises(DBAPIError, match="append-only"):
        session.execute(text("UPDATE assessment_events SET reason = 'rewritten'"))


def test_a_vintage_score_sees_assessments_as_they_stood(
    client: Any, people: dict[str, dict[str, str]], session_factory: sessionmaker[Session]
) -> None:
    aid = _create(client, people["author"])["id"]
    before_approval = utc_now()
    client.post(f"/assessments/{aid}/approve", json={}, headers=people["second"])
    approved_at = utc_now()
    client.post(
        f"/assessments/{aid}/withdraw", json={"reason": "obsolete"}, headers=people["author"]
    )
    config = _config(client)
    with session_scope(session_factory) as session:
        assert service.counted(session, config, TODAY) == []
        assert service.counted(session, config, TODAY, vintage_as_of=before_approval) == []
        then = service.counted(session, config, TODAY, vintage_as_of=approved_at)
        assert [a.id for a in then] == [aid]
