"""The assessment pages through the test client, on SQLite and PostgreSQL: an analyst records
through the form, a second approves; the author's own approval is refused (403, the reason
shown, nothing changed); bad input comes back with a message beside the field and everything
typed; focal points see approved assessments only and cannot record; every change is in the
audit trail under the signed-in person's name; the API is untouched by the pages."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from earlywarn.assessments.models import Assessment, AssessmentEvent, AssessmentStatus
from earlywarn.auth import accounts
from earlywarn.auth.service import create_key
from earlywarn.countries.service import seed_countries
from earlywarn.db import session_scope, utc_now
from earlywarn.types import Role

from .conftest import PASSWORD, TestClient, form_token, sign_in

HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
SECOND = "second.analyst@example.org"


@pytest.fixture
def people(session_factory: sessionmaker[Session], users: dict[Role, str]) -> dict[str, str]:
    with session_scope(session_factory) as session:
        seed_countries(session)
        accounts.create_user(session, email=SECOND, password=PASSWORD, role=Role.ANALYST)
    return {
        "author": users[Role.ANALYST],
        "second": SECOND,
        "desk": users[Role.FOCAL_POINT],
        "admin": users[Role.ADMIN],
    }


def _signed_in(new_client: Callable[[], TestClient], email: str) -> TestClient:
    client = new_client()
    assert sign_in(client, email).status_code == 303
    return client


def _valid(**changes: str) -> dict[str, str]:
    form = {
        "country_iso3": "KEN",
        "risk_factor": "12",
        "level": "high",
        "score": "",
        "confidence": "medium",
        "evidence": "Commanders' statements announce the removal of a group from the valley.",
        "links": "https://example.org/report-1\n\n  https://example.org/report-2  ",
        "valid_from": "",
        "valid_until": (utc_now().date() + timedelta(days=90)).isoformat(),
        "supersedes_id": "",
    }
    return form | changes


def _post(client: TestClient, path: str, data: dict[str, str], page: str) -> Any:
    token = form_token(client.get(page, headers=HTML).text)
    return client.post(path, data={**data, "csrf_token": token}, headers=HTML)


def _record(client: TestClient, **changes: str) -> int:
    answer = _post(client, "/assessments", _valid(**changes), "/assessments/new")
    assert answer.status_code == 303, answer.text
    match = re.fullmatch(r"/assessments/(\d+)\?done=recorded", answer.headers["location"])
    assert match, answer.headers["location"]
    return int(match.group(1))


def _stored(session_factory: sessionmaker[Session], assessment_id: int) -> Assessment:
    with session_scope(session_factory) as session:
        found = session.get_one(Assessment, assessment_id)
        session.expunge(found)
        return found


def _trail(session_factory: sessionmaker[Session], assessment_id: int) -> list[tuple[str, str]]:
    with session_scope(session_factory) as session:
        events = session.scalars(
            select(AssessmentEvent)
            .where(AssessmentEvent.assessment_id == assessment_id)
            .order_by(AssessmentEvent.id)
        )
        return [(e.kind.value, e.actor) for e in events]


def test_record_then_a_second_analyst_approves(
    new_client: Callable[[], TestClient],
    people: dict[str, str],
    session_factory: sessionmaker[Session],
) -> None:
    author = _signed_in(new_client, people["author"])
    assessment_id = _record(author)
    stored = _stored(session_factory, assessment_id)
    assert stored.status is AssessmentStatus.PENDING
    assert (stored.score, stored.scale_label) == (0.75, "high")
    assert stored.links == {
        "urls": ["https://example.org/report-1", "https://example.org/report-2"]
    }
    assert stored.valid_from == utc_now().date()
    assert stored.author.startswith("user:")
    assert stored.author.endswith(people["author"])

    page = author.get(f"/assessments/{assessment_id}?done=recorded", headers=HTML)
    assert "Recorded. It counts once a second analyst" in page.text
    assert 'id="own-notice"' in page.text
    assert 'id="approve-form"' not in page.text

    second = _signed_in(new_client, people["second"])
    listed = second.get("/assessments?state=pending&country=KEN", headers=HTML)
    assert f'href="/assessments/{assessment_id}"' in listed.text
    review = f"/assessments/{assessment_id}"
    assert 'id="approve-form"' in second.get(review, headers=HTML).text
    approved = _post(second, f"{review}/approve", {"note": "Sources checked."}, review)
    assert approved.status_code == 303
    assert approved.headers["location"] == f"{review}?done=approved"
    stored = _stored(session_factory, assessment_id)
    assert stored.status is AssessmentStatus.APPROVED
    assert stored.reviewer is not None
    assert stored.reviewer.endswith(SECOND)
    assert stored.review_note == "Sources checked."
    assert [kind for kind, _ in _trail(session_factory, assessment_id)] == ["created", "approved"]
    shown = second.get(f"{review}?done=approved", headers=HTML).text
    assert "Approved. It counts from the next scoring run" in shown
    assert f"{SECOND} on" in shown

    # The country page: approved, with author, reviewer and evidence.
    brief = second.get("/countries/KEN", headers=HTML).text
    assert f"{people['author']}, approved by {SECOND}" in brief
    assert "Commanders&#39; statements announce the removal" in brief


def test_the_author_cannot_approve_their_own(
    new_client: Callable[[], TestClient],
    people: dict[str, str],
    session_factory: sessionmaker[Session],
) -> None:
    author = _signed_in(new_client, people["author"])
    assessment_id = _record(author)
    review = f"/assessments/{assessment_id}"
    refused = _post(author, f"{review}/approve", {"note": "looks right to me"}, review)
    assert refused.status_code == 403
    assert "a second analyst or an administrator must approve it (four-eyes)" in refused.text
    assert 'role="alert"' in refused.text
    rejected = _post(author, f"{review}/reject", {"reason": "changed my mind"}, review)
    assert rejected.status_code == 403
    assert "withdraw it instead of rejecting it" in rejected.text
    assert _stored(session_factory, assessment_id).status is AssessmentStatus.PENDING
    assert [kind for kind, _ in _trail(session_factory, assessment_id)] == ["created"]

    # The author withdraws it (a reason is needed), and then nothing is left to review.
    no_reason = _post(author, f"{review}/withdraw", {"reason": " "}, review)
    assert no_reason.status_code == 422
    assert "Reason: say why" in no_reason.text
    done = _post(author, f"{review}/withdraw", {"reason": "Superseded by events."}, review)
    assert done.status_code == 303
    assert _stored(session_factory, assessment_id).status is AssessmentStatus.WITHDRAWN
    second = _signed_in(new_client, people["second"])
    late = _post(second, f"{review}/approve", {}, review)
    assert late.status_code == 409
    assert "is withdrawn, not pending" in late.text


def test_a_rejection_needs_a_reason(
    new_client: Callable[[], TestClient],
    people: dict[str, str],
    session_factory: sessionmaker[Session],
) -> None:
    assessment_id = _record(_signed_in(new_client, people["author"]))
    admin = _signed_in(new_client, people["admin"])
    review = f"/assessments/{assessment_id}"
    empty = _post(admin, f"{review}/reject", {"reason": "no"}, review)
    assert empty.status_code == 422
    assert "at least 3 characters" in empty.text
    assert ">no</textarea>" in empty.text  # what was typed is kept
    # The API's bounds (ReasonIn, ReviewIn), said in words on the page; nothing is stored.
    long = _post(admin, f"{review}/reject", {"reason": "x" * 2001}, review)
    assert long.status_code == 422
    assert "Reason: at most 2000 characters" in long.text
    nul = _post(admin, f"{review}/reject", {"reason": "bad\x00byte"}, review)
    assert nul.status_code == 422
    assert "Reason: a NUL character cannot be stored" in nul.text
    long_note = _post(admin, f"{review}/approve", {"note": "x" * 2001}, review)
    assert long_note.status_code == 422
    assert "Note: at most 2000 characters" in long_note.text
    assert _stored(session_factory, assessment_id).status is AssessmentStatus.PENDING
    done = _post(admin, f"{review}/reject", {"reason": "The report is a year old."}, review)
    assert done.status_code == 303
    stored = _stored(session_factory, assessment_id)
    assert stored.status is AssessmentStatus.REJECTED
    assert stored.review_note == "The report is a year old."
    assert _trail(session_factory, assessment_id)[-1][0] == "rejected"


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"level": "", "score": ""}, "level", "Level: choose a level, or give a score"),
        ({"score": "0.4"}, "score", "not both"),
        ({"level": "", "score": "1.5"}, "score", "Score: give a number from 0 to 1"),
        ({"evidence": "too short"}, "evidence", "Evidence: write at least 20 characters"),
        (
            {"links": "https://ok.example.org\nnot a link"},
            "links",
            "line 2 ('not a link') is not a web address",
        ),
        ({"valid_until": ""}, "valid_until", "Valid until: give a date"),
        ({"valid_until": "2001-01-01"}, "valid_until", "is before valid_from"),
        ({"valid_from": "2000-12-01", "valid_until": "2001-01-01"}, "valid_until", "in the past"),
        ({"valid_until": "2999-01-01"}, "valid_until", "at most 730"),
        ({"country_iso3": "XYZ"}, "country_iso3", "unknown country 'XYZ'"),
        ({"confidence": ""}, "confidence", "Confidence: choose one"),
        ({"score": "0.4", "level": "", "risk_factor": "x"}, "risk_factor", "give a number"),
        ({"risk_factor": "15"}, "risk_factor", "Risk factor: choose one of the 14"),
    ],
)
def test_bad_input_is_explained_and_nothing_typed_is_lost(
    new_client: Callable[[], TestClient],
    people: dict[str, str],
    session_factory: sessionmaker[Session],
    changes: dict[str, str],
    field: str,
    message: str,
) -> None:
    author = _signed_in(new_client, people["author"])
    form = _valid(**changes)
    answer = _post(author, "/assessments", form, "/assessments/new")
    assert answer.status_code == 422, answer.text
    page = answer.text.replace("&#39;", "'")
    assert message in page
    assert f'id="{field}-error"' in page  # beside its field
    assert f'<a href="#{field}">' in page  # and in the summary, linked to the field
    assert 'aria-invalid="true"' in page
    assert "Commanders&#39; statements announce the removal" in answer.text or "evidence" in changes
    assert "https://ok.example.org\nnot a link" in page or "links" not in changes
    with session_scope(session_factory) as session:
        assert session.scalars(select(Assessment)).first() is None


def test_a_score_instead_of_a_level(
    new_client: Callable[[], TestClient],
    people: dict[str, str],
    session_factory: sessionmaker[Session],
) -> None:
    author = _signed_in(new_client, people["author"])
    assessment_id = _record(author, level="", score="0.4", links="")
    stored = _stored(session_factory, assessment_id)
    assert (stored.score, stored.scale_label, stored.links) == (0.4, None, {"urls": []})


def test_focal_points_read_approved_assessments_only(
    new_client: Callable[[], TestClient],
    people: dict[str, str],
) -> None:
    author = _signed_in(new_client, people["author"])
    pending_id = _record(author, evidence="Pending: a rumour nobody has checked yet, so far.")
    approved_id = _record(author)
    second = _signed_in(new_client, people["second"])
    review = f"/assessments/{approved_id}"
    assert _post(second, f"{review}/approve", {}, review).status_code == 303

    desk = _signed_in(new_client, people["desk"])
    listed = desk.get("/assessments", headers=HTML)
    assert f'href="/assessments/{approved_id}"' in listed.text
    assert f'href="/assessments/{pending_id}"' not in listed.text
    assert desk.get(f"/assessments/{pending_id}", headers=HTML).status_code == 404
    assert desk.get(review, headers=HTML).status_code == 200
    assert desk.get("/assessments/new", headers=HTML).status_code == 403
    token = form_token(desk.get(review, headers=HTML).text)
    posted = desk.post("/assessments", data={**_valid(), "csrf_token": token}, headers=HTML)
    assert posted.status_code == 403
    assert "may not record or review" in posted.text
    brief = desk.get("/countries/KEN", headers=HTML).text
    assert "Pending: a rumour" not in brief  # pending ones are shown to reviewers only
    assert "Record an assessment of Kenya" not in brief

    # The analyst's country page marks the pending one as such and links to the form.
    page = author.get("/countries/KEN", headers=HTML).text
    assert 'id="assessments-pending"' in page
    assert "Pending: a rumour" in page
    assert 'href="/assessments/new?country=KEN"' in page


def test_forms_without_the_session_token_are_refused(
    new_client: Callable[[], TestClient],
    people: dict[str, str],
    session_factory: sessionmaker[Session],
) -> None:
    author = _signed_in(new_client, people["author"])
    answer = author.post("/assessments", data=_valid(), headers=HTML)
    assert answer.status_code == 403
    with session_scope(session_factory) as session:
        assert session.scalars(select(Assessment)).first() is None


def test_the_api_routes_still_answer_api_clients(
    new_client: Callable[[], TestClient],
    people: dict[str, str],
    session_factory: sessionmaker[Session],
) -> None:
    with session_scope(session_factory) as session:
        _, key = create_key(session, name="machine analyst", role=Role.ANALYST)
    client = new_client()
    body = _valid()
    json_body = {
        "country_iso3": "KEN",
        "risk_factor": 12,
        "level": "high",
        "confidence": "medium",
        "evidence": body["evidence"],
        "links": ["https://example.org/report-1"],
        "valid_until": body["valid_until"],
    }
    created = client.post(
        "/assessments",
        json=json_body,
        headers={"X-API-Key": key, "Accept": "text/html,*/*"},
    )
    assert created.status_code == 201, created.text
    listed = client.get("/assessments", headers={"X-API-Key": key})
    assert listed.status_code == 200
    assert listed.json()[0]["id"] == created.json()["id"]


def test_a_replacement_supersedes_and_an_administrator_withdraws(
    new_client: Callable[[], TestClient],
    people: dict[str, str],
    session_factory: sessionmaker[Session],
) -> None:
    author = _signed_in(new_client, people["author"])
    second = _signed_in(new_client, people["second"])
    old_id = _record(author)
    old_page = f"/assessments/{old_id}"
    assert _post(second, f"{old_page}/approve", {}, old_page).status_code == 303

    # The approved one's page links to a prefilled form for its replacement.
    link = f"/assessments/new?country=KEN&amp;factor=12&amp;supersedes={old_id}"
    assert link in author.get(old_page, headers=HTML).text
    form = author.get(link.replace("&amp;", "&"), headers=HTML).text
    assert f'name="supersedes_id" inputmode="numeric" size="8" value="{old_id}"' in form
    new_id = _record(author, level="very_high", supersedes_id=str(old_id))
    new_page = f"/assessments/{new_id}"
    assert _post(second, f"{new_page}/approve", {}, new_page).status_code == 303
    assert _stored(session_factory, old_id).status is AssessmentStatus.SUPERSEDED
    assert _trail(session_factory, old_id)[-1][0] == "superseded"

    # The replacement of another factor is refused beside its field.
    wrong = _post(author, "/assessments", _valid(risk_factor="10", supersedes_id=str(new_id)), "/")
    assert wrong.status_code == 422
    assert 'id="supersedes_id-error"' in wrong.text

    # Not its author, but an administrator: may withdraw; the second analyst may not.
    refused = _post(second, f"{new_page}/withdraw", {"reason": "Out of date."}, new_page)
    assert refused.status_code == 403
    assert "only its author or an administrator may withdraw it" in refused.text
    admin = _signed_in(new_client, people["admin"])
    done = _post(admin, f"{new_page}/withdraw", {"reason": "Out of date."}, new_page)
    assert done.status_code == 303
    assert _stored(session_factory, new_id).status is AssessmentStatus.WITHDRAWN
    kind, actor = _trail(session_factory, new_id)[-1]
    assert kind == "withdrawn"
    assert actor.startswith("user:")
    assert actor.endswith(people["admin"])
