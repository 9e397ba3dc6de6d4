"""Request and response shapes for focal points, subscriptions and the delivery outbox.

Contact targets are checked here, before anything reaches the database:

* e-mail: exactly one address (checked by ``email-validator``, no network look-up), with
  messages naming the usual typos first: exactly one ``@``; a non-empty local part of at most
  64 characters without spaces; a domain of at least two dot-separated labels made of letters,
  digits and inner hyphens; 320 characters in all.
* webhook: an absolute ``http://`` or ``https://`` URL with a host, no spaces and no embedded
  credentials (a secret in the URL would be shown to every admin who lists focal points).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from earlywarn.framework.config_schemas import RULE_KINDS
from earlywarn.notify.models import Channel, OutboxStatus, Purpose
from earlywarn.types import RiskLevel

EMAIL_MAX_CHARS = 320
EMAIL_LOCAL_MAX_CHARS = 64
WEBHOOK_URL_MAX_CHARS = 2048

_DOMAIN_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")


def check_email(value: str) -> str:
    """Return ``value`` trimmed if it looks like a deliverable address, else raise ValueError."""
    address = value.strip()
    if len(address) > EMAIL_MAX_CHARS:
        raise ValueError(f"e-mail address longer than {EMAIL_MAX_CHARS} characters")
    if address.count("@") != 1:
        raise ValueError("e-mail address must contain exactly one '@'")
    local, domain = address.split("@")
    if not local or len(local) > EMAIL_LOCAL_MAX_CHARS or any(c.isspace() for c in local):
        raise ValueError(
            f"e-mail local part (before '@') must be 1-{EMAIL_LOCAL_MAX_CHARS} characters "
            "without spaces"
        )
    labels = domain.split(".")
    if len(labels) < 2 or not all(_DOMAIN_LABEL.match(label) for label in labels):
        raise ValueError(
            "e-mail domain (after '@') must be a host name such as 'example.org': dot-separated "
            "letters, digits and hyphens"
        )
    try:
        # The full syntax, by email-validator: one address, no list (``root,ops2@...`` would
        # become two SMTP recipients), no display name, no characters SMTP refuses.
        validate_email(address, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(f"not one valid e-mail address: {exc}") from exc
    return address


def check_webhook_url(value: str) -> str:
    """Return ``value`` trimmed if it is an absolute http(s) URL with a host, else ValueError."""
    url = value.strip()
    if len(url) > WEBHOOK_URL_MAX_CHARS:
        raise ValueError(f"webhook URL longer than {WEBHOOK_URL_MAX_CHARS} characters")
    if any(c.isspace() for c in url):
        raise ValueError("webhook URL must not contain spaces")
    try:
        parts = urlsplit(url)
        # Reading .port validates it (a non-numeric or out-of-range port raises ValueError).
        _ = parts.port
    except ValueError as exc:
        raise ValueError(f"webhook URL is malformed: {exc}") from exc
    if parts.scheme.lower() not in {"http", "https"}:
        raise ValueError("webhook URL must start with http:// or https://")
    if not parts.hostname:
        raise ValueError("webhook URL must name a host, e.g. https://hooks.example.org/earlywarn")
    if parts.username is not None or parts.password is not None:
        raise ValueError("webhook URL must not embed credentials (user:password@host)")
    return url


Email = Annotated[str, AfterValidator(check_email)]
WebhookUrl = Annotated[str, AfterValidator(check_webhook_url)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Iso3 = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z]{3}$"),
    AfterValidator(str.upper),
]
Region = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Tier = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=32)]


def _check_rule_kinds(kinds: list[str] | None) -> list[str] | None:
    if kinds is None:
        return None
    unknown = sorted(set(kinds) - set(RULE_KINDS))
    if unknown:
        raise ValueError(f"unknown rule kinds {unknown}; known: {list(RULE_KINDS)}")
    if not kinds:
        raise ValueError("rule_kinds must list at least one kind, or be null for every kind")
    return sorted(set(kinds))


RuleKinds = Annotated[list[str] | None, AfterValidator(_check_rule_kinds)]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FocalPointCreate(_Request):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Sudan desk",
                    "organisation": "Ministry of Foreign Affairs",
                    "email": "sudan.desk@example.org",
                },
                {
                    "name": "Situation room",
                    "webhook_url": "https://hooks.example.org/earlywarn",
                    "escalation_tier": "regional",
                    "region": "Africa",
                },
            ]
        }
    )

    name: Name
    organisation: Name | None = None
    email: Email | None = None
    webhook_url: WebhookUrl | None = None
    escalation_tier: Tier | None = Field(
        default=None, description="Escalation tier this focal point answers for (alerting.yaml)."
    )
    region: Region | None = Field(
        default=None, description="Region it covers as an escalation tier; null: every region."
    )
    is_administrator: bool = Field(
        default=False, description="Receives operational alerts and disabled-endpoint notices."
    )


class FocalPointUpdate(_Request):
    """Fields left out stay as they are; ``email``/``webhook_url`` set to null are removed."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"email": "horn.desk@example.org"}, {"active": False}]}
    )

    name: Name | None = None
    organisation: Name | None = None
    email: Email | None = None
    webhook_url: WebhookUrl | None = None
    active: bool | None = Field(
        default=None, description="Reactivate (true) or deactivate (false) the focal point."
    )
    escalation_tier: Tier | None = None
    region: Region | None = None
    is_administrator: bool | None = None


class FocalPointRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    organisation: str | None
    email: str | None
    webhook_url: str | None
    active: bool
    created_at: datetime
    escalation_tier: str | None
    region: str | None
    is_administrator: bool
    webhook_disabled_at: datetime | None
    webhook_disabled_reason: str | None
    webhook_consecutive_failures: int
    email_disabled_at: datetime | None
    email_disabled_reason: str | None
    email_consecutive_failures: int


class FocalPointWithSecret(FocalPointRead):
    """A focal point as created (or given its first webhook): ``webhook_secret`` is the
    Standard Webhooks signing secret, shown in this response only (null when no webhook
    endpoint was created); afterwards only ``rotate-secret`` shows a (new) one."""

    webhook_secret: str | None = None


class WebhookSecretOut(BaseModel):
    """Shown once: receivers verify signatures with it (Standard Webhooks, ``whsec_`` form)."""

    focal_point_id: int
    webhook_secret: str
    previous_secret_valid_until: datetime | None


class SubscriptionCreate(_Request):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"country_iso3": "SDN", "min_level": "warning", "channel": "email"},
                {
                    "region": "Africa",
                    "min_level": "emergency",
                    "rule_kinds": ["risk_factor", "level_at_least"],
                    "channel": "webhook",
                },
            ]
        }
    )

    country_iso3: Iso3 | None = Field(
        default=None, description="ISO 3166-1 alpha-3 code; null subscribes to every country."
    )
    region: Region | None = Field(
        default=None, description="Region (as in /countries); null: every region."
    )
    min_level: RiskLevel = Field(
        default=RiskLevel.WARNING, description="Lowest alert level that is delivered."
    )
    rule_kinds: RuleKinds = Field(
        default=None, description=f"Rule kinds delivered, of {list(RULE_KINDS)}; null: all."
    )
    channel: Channel


class SubscriptionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    focal_point_id: int
    country_iso3: str | None
    region: str | None
    min_level: RiskLevel
    rule_kinds: list[str] | None
    channel: Channel
    created_at: datetime
    # Only in the creation response: the open alerts queued to the new subscriber.
    open_alerts_queued: list[int] = []


class OutboxMessageRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    dedup_key: str
    alert_id: int | None
    alert_event_id: int | None
    subscription_id: int | None
    purpose: Purpose
    focal_point_id: int
    channel: Channel
    target: str
    payload: dict[str, Any]
    status: OutboxStatus
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


class RetryIn(BaseModel):
    """Re-queue one failed delivery; the reason is kept in the audit trail."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"reason": "The receiver was redeployed; it answers again."}]
        },
        extra="forbid",
    )

    reason: str = Field(min_length=1, max_length=2000, description="Kept in the audit trail.")


class BulkRetryIn(RetryIn):
    """Re-queue every failed delivery of an alert and/or a focal point (both: AND)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"reason": "The ministry mail relay was down until 14:00 UTC.", "focal_point_id": 3}
            ]
        }
    )

    alert_id: int | None = Field(default=None, ge=1, le=2_147_483_647)
    focal_point_id: int | None = Field(default=None, ge=1, le=2_147_483_647)


class DeliveryAttemptRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    outbox_message_id: int
    attempt: int
    started_at: datetime
    duration_ms: float
    outcome: str
    status_code: int | None
    error: str | None


class DeliveryRead(OutboxMessageRead):
    """An outbox message with every attempt made to deliver it."""

    webhook_id: str
    attempts_log: list[DeliveryAttemptRead]
