"""The assessment forms: from form fields to the API's own request shape (``AssessmentIn``,
validated by pydantic as the API's body is), refusals in the form's words and beside the field
they concern, and the signed-in user as the service's actor."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from earlywarn.assessments.schemas import AssessmentIn
from earlywarn.auth.accounts import WebUser
from earlywarn.types import Role

# Form field -> its label, for messages that name the field as the page does.
FIELD_LABELS = {
    "country_iso3": "Country",
    "risk_factor": "Risk factor",
    "level": "Level",
    "score": "Score",
    "confidence": "Confidence",
    "evidence": "Evidence",
    "links": "Links",
    "valid_from": "Valid from",
    "valid_until": "Valid until",
    "supersedes_id": "Replaces assessment",
    "reason": "Reason",
    "note": "Note",
}


@dataclass(frozen=True)
class WebActor:
    """A signed-in user as the assessments service sees them: no API key; named by e-mail
    address, so that the author's own keys named with that address are the author too."""

    actor: str
    name: str
    role: Role
    key_id: int | None = None

    @classmethod
    def of(cls, user: WebUser) -> WebActor:
        return cls(actor=user.actor, name=user.email, role=user.role)


@dataclass(frozen=True)
class AssessmentForm:
    """What the "Record an assessment" form holds: empty, prefilled from a country page's
    link, or what was submitted and refused (so nothing typed is lost)."""

    country_iso3: str = ""
    risk_factor: str = ""
    level: str = ""
    score: str = ""
    confidence: str = ""
    evidence: str = ""
    links: str = ""
    valid_from: str = ""
    valid_until: str = ""
    supersedes_id: str = ""


class FormProblems(Exception):
    """Why a form was refused: messages by field ('' for the form as a whole)."""

    def __init__(self) -> None:
        super().__init__()
        self.by_field: dict[str, list[str]] = {}

    def add(self, name: str, message: str) -> None:
        self.by_field.setdefault(name, []).append(message)

    def summary(self) -> list[tuple[str, str]]:
        """(field, message) in the order of the form, the whole-form ones first."""
        order = ["", *FIELD_LABELS]
        return [
            (name, message)
            for name in sorted(self.by_field, key=lambda n: order.index(n) if n in order else 99)
            for message in self.by_field[name]
        ]

    def __str__(self) -> str:
        return "; ".join(message for _, message in self.summary())


def _clean(value: str) -> str | None:
    value = value.strip()
    return value or None


def _links(text: str) -> list[str]:
    """One link a line (blank lines and surrounding spaces ignored)."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def _plain(item: Any) -> str:
    """pydantic's message in the words of the form, for the kinds a person runs into."""
    kind, ctx = str(item.get("type", "")), item.get("ctx") or {}
    if kind == "string_too_short":
        return f"write at least {ctx.get('min_length')} characters"
    if kind == "string_too_long":
        return f"write at most {ctx.get('max_length')} characters"
    if kind.startswith("url_") or kind == "url_parsing":
        return "not a web address: it should start with https:// or http://"
    if kind in ("date_parsing", "date_from_datetime_parsing", "date_type"):
        return "give a date"
    if kind in ("enum", "literal_error", "missing") or item["loc"][:1] == ("confidence",):
        return "choose one"
    if kind in ("less_than_equal", "greater_than_equal") and item["loc"][:1] == ("score",):
        return "give a number from 0 to 1"
    if kind in ("less_than_equal", "greater_than_equal") and item["loc"][:1] == ("risk_factor",):
        return "choose one of the 14 risk factors"
    if kind in ("int_parsing", "float_parsing"):
        return "give a number"
    return str(item["msg"]).removeprefix("Value error, ")


def _message(item: Any, form: AssessmentForm) -> tuple[str, str]:
    loc = [str(p) for p in item["loc"]]
    message = _plain(item)
    name = loc[0] if loc else ""
    if name not in FIELD_LABELS:
        return "", message[0].upper() + message[1:]
    label = FIELD_LABELS[name]
    if name == "links" and len(loc) > 1 and loc[1].isdigit():
        position = int(loc[1])
        given = _links(form.links)[position] if position < len(_links(form.links)) else ""
        return name, f"{label}: line {position + 1} ({given!r}) is {message}"
    return name, f"{label}: {message}"


def assessment_body(form: AssessmentForm) -> AssessmentIn:
    """The API's request body from the form, or ``FormProblems`` saying what to correct."""
    problems = FormProblems()
    level, score = _clean(form.level), _clean(form.score)
    if level is not None and score is not None:
        problems.add("score", "Score: choose a level or give a score from 0 to 1, not both")
    elif level is None and score is None:
        problems.add("level", "Level: choose a level, or give a score from 0 to 1")
    body: dict[str, Any] = {
        "country_iso3": _clean(form.country_iso3),
        "risk_factor": _clean(form.risk_factor),
        "score": score,
        "level": level,
        "confidence": _clean(form.confidence),
        "evidence": form.evidence,
        "links": _links(form.links),
        "valid_from": _clean(form.valid_from),
        "valid_until": _clean(form.valid_until),
        "supersedes_id": _clean(form.supersedes_id),
    }
    try:
        parsed = AssessmentIn.model_validate(body)
    except ValidationError as exc:
        for item in exc.errors():
            name, message = _message(item, form)
            # The model's own either-or rule is said above in the form's words.
            if name == "" and problems.by_field:
                continue
            problems.add(name, message)
        raise problems from exc
    if problems.by_field:
        raise problems
    return parsed


def service_problem(message: str) -> FormProblems:
    """A refusal of the service (unknown country, level, period) beside the field it is about."""
    problems = FormProblems()
    for prefix, name in (
        ("unknown country", "country_iso3"),
        ("unknown level", "level"),
        ("valid_until", "valid_until"),
        ("valid for", "valid_until"),
        ("supersedes_id", "supersedes_id"),
    ):
        if message.startswith(prefix):
            problems.add(name, f"{FIELD_LABELS[name]}: {message}")
            return problems
    problems.add("", message[0].upper() + message[1:])
    return problems
