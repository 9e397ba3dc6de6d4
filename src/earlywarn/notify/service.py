"""Focal points, their subscriptions and their delivery endpoints (webhook, e-mail).

The outbox is ``notify.outbox``, escalation ``notify.escalation``, notices to administrators
``notify.notices``, and what notify does with alerting's events ``notify.alert_events``.
Nothing here commits; the request or job that owns the session does.
"""

from __future__ import annotations

import base64
import logging
import secrets
from datetime import datetime, timedelta

from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from earlywarn.auth import service as auth_service
from earlywarn.auth.models import FocalPoint
from earlywarn.db import utc_now
from earlywarn.notify import repository
from earlywarn.notify.models import (
    Channel,
    Subscription,
)
from earlywarn.notify.schemas import (
    FocalPointCreate,
    FocalPointUpdate,
    SubscriptionCreate,
)

logger = logging.getLogger(__name__)

PAYLOAD_VERSION = 1


class NotifyError(ValueError):
    """A notify request that cannot be honoured as asked; the message says why."""


class NotFound(NotifyError):
    """The focal point or subscription named in the request does not exist."""


class InvalidRequest(NotifyError):
    """The request references something unusable (unknown country, missing target)."""


class Conflict(NotifyError):
    """The request conflicts with the current state (duplicate, in use, inactive)."""


# --- focal points ---------------------------------------------------------------------------


def new_webhook_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def create_focal_point(session: Session, data: FocalPointCreate) -> FocalPoint:
    focal_point = FocalPoint(
        name=data.name,
        organisation=data.organisation,
        email=data.email,
        webhook_url=data.webhook_url,
        active=True,
        escalation_tier=data.escalation_tier,
        region=data.region,
        is_administrator=data.is_administrator,
        webhook_secret=new_webhook_secret(),
        webhook_consecutive_failures=0,
        email_consecutive_failures=0,
    )
    return repository.add_focal_point(session, focal_point)


def list_focal_points(session: Session, *, active: bool | None = None) -> list[FocalPoint]:
    return repository.list_focal_points(session, active=active)


def get_focal_point(session: Session, focal_point_id: int) -> FocalPoint:
    focal_point = repository.get_focal_point(session, focal_point_id)
    if focal_point is None:
        raise NotFound(f"focal point {focal_point_id} does not exist")
    return focal_point


def target_for(focal_point: FocalPoint, channel: Channel) -> str | None:
    return focal_point.email if channel is Channel.EMAIL else focal_point.webhook_url


def update_focal_point(
    session: Session, focal_point_id: int, data: FocalPointUpdate
) -> tuple[FocalPoint, bool]:
    """Apply the fields present in ``data``; an explicit null removes an e-mail or webhook.
    Returns the focal point and whether a webhook endpoint was created (it had none): it
    gets a new signing secret, which the caller shows once.

    A target that a subscription delivers to cannot be removed: the subscription would silently
    stop delivering. Delete the subscription first.
    """
    focal_point = get_focal_point(session, focal_point_id)
    had_webhook = focal_point.webhook_url is not None
    given = data.model_fields_set
    if "name" in given:
        if data.name is None:
            raise InvalidRequest("name cannot be removed; give a new name instead")
        focal_point.name = data.name
    if "organisation" in given:
        focal_point.organisation = data.organisation
    for field in ("escalation_tier", "region"):
        if field in given:
            setattr(focal_point, field, getattr(data, field))
    if "is_administrator" in given and data.is_administrator is not None:
        focal_point.is_administrator = data.is_administrator
    in_use = repository.channels_in_use(session, focal_point_id)
    for field, channel, value in (
        ("email", Channel.EMAIL, data.email),
        ("webhook_url", Channel.WEBHOOK, data.webhook_url),
    ):
        if field not in given:
            continue
        if value is None and channel in in_use:
            raise Conflict(
                f"cannot remove {field}: {channel.value} subscriptions of focal point "
                f"{focal_point_id} deliver to it; delete them first"
            )
        setattr(focal_point, field, value)
    if "active" in given and data.active is not None and data.active != focal_point.active:
        if data.active:
            focal_point.active = True
        else:
            _deactivate(session, focal_point)
    endpoint_created = not had_webhook and focal_point.webhook_url is not None
    if endpoint_created:
        focal_point.webhook_secret = new_webhook_secret()
        focal_point.webhook_secret_previous = None
    session.flush()
    return focal_point, endpoint_created


def deactivate_focal_point(session: Session, focal_point_id: int) -> FocalPoint:
    """Stop all deliveries to a focal point and revoke its API keys; history is kept."""
    focal_point = get_focal_point(session, focal_point_id)
    if focal_point.active:
        _deactivate(session, focal_point)
        session.flush()
    return focal_point


def _deactivate(session: Session, focal_point: FocalPoint) -> None:
    focal_point.active = False
    # A deactivated focal point no longer acts on alerts, so its keys must stop working too.
    revoked = auth_service.revoke_keys_for_focal_point(session, focal_point.id)
    if revoked:
        logger.info(
            "focal point %s deactivated; revoked API keys %s",
            focal_point.id,
            [key.id for key in revoked],
        )


# --- subscriptions --------------------------------------------------------------------------


def create_subscription(
    session: Session, focal_point_id: int, data: SubscriptionCreate
) -> Subscription:
    focal_point = get_focal_point(session, focal_point_id)
    if not focal_point.active:
        raise Conflict(f"focal point {focal_point_id} is inactive; reactivate it first")
    if target_for(focal_point, data.channel) is None:
        field = "email" if data.channel is Channel.EMAIL else "webhook_url"
        raise InvalidRequest(
            f"focal point {focal_point_id} has no {field}, so it cannot receive "
            f"{data.channel.value} notifications; set {field} first"
        )
    if data.country_iso3 is not None and repository.get_country(session, data.country_iso3) is None:
        raise InvalidRequest(f"unknown country '{data.country_iso3}'")
    if data.region is not None and data.region not in repository.known_regions(session):
        raise InvalidRequest(
            f"unknown region '{data.region}'; known: {sorted(repository.known_regions(session))}"
        )
    existing = repository.find_subscription(
        session,
        focal_point_id=focal_point_id,
        country_iso3=data.country_iso3,
        channel=data.channel,
        region=data.region,
        rule_kinds=data.rule_kinds,
    )
    if existing is not None:
        # Same criteria twice is a mistake; overlapping subscriptions are fine, since a
        # recipient matched by several is notified once.
        where = data.country_iso3 or data.region or "all countries"
        raise Conflict(
            f"focal point {focal_point_id} already has {data.channel.value} subscription "
            f"{existing.id} for {where}; delete it to change its min_level"
        )
    subscription = Subscription(
        focal_point_id=focal_point_id,
        country_iso3=data.country_iso3,
        region=data.region,
        rule_kinds=data.rule_kinds,
        min_level=data.min_level,
        channel=data.channel,
    )
    return repository.add_subscription(session, subscription)


def list_subscriptions(session: Session, focal_point_id: int) -> list[Subscription]:
    get_focal_point(session, focal_point_id)
    return repository.list_subscriptions(session, focal_point_id)


def get_subscription(session: Session, subscription_id: int) -> Subscription:
    subscription = repository.get_subscription(session, subscription_id)
    if subscription is None:
        raise NotFound(f"subscription {subscription_id} does not exist")
    return subscription


def delete_subscription(session: Session, subscription_id: int) -> None:
    """Delete a subscription that has never produced a notification.

    Outbox rows point at their subscription, and that delivery record is history we keep; a
    subscription with messages cannot be deleted (deactivate the focal point instead).
    """
    subscription = repository.get_subscription(session, subscription_id)
    if subscription is None:
        raise NotFound(f"subscription {subscription_id} does not exist")
    messages = repository.count_outbox_for_subscription(session, subscription_id)
    if messages:
        raise Conflict(
            f"subscription {subscription_id} has {messages} outbox message(s) and is kept as "
            "delivery history; deactivate the focal point to stop deliveries"
        )
    repository.delete_subscription(session, subscription)


# --- webhook endpoints ----------------------------------------------------------------------


def rotate_webhook_secret(
    session: Session, focal_point_id: int, *, overlap: timedelta
) -> FocalPoint:
    """A new signing secret; the old one keeps signing alongside it for ``overlap``."""
    focal_point = get_focal_point(session, focal_point_id)
    if focal_point.webhook_secret is not None and overlap > timedelta(0):
        focal_point.webhook_secret_previous = focal_point.webhook_secret
        focal_point.webhook_previous_expires_at = utc_now() + overlap
    else:
        focal_point.webhook_secret_previous = None
        focal_point.webhook_previous_expires_at = None
    focal_point.webhook_secret = new_webhook_secret()
    session.flush()
    return focal_point


def reencrypt_webhook_secrets(session: Session) -> int:
    """Write every stored webhook secret again, so each is encrypted under the newest key of
    ``EARLYWARN_SECRET_KEYS`` (the secrets themselves do not change); returns how many focal
    points had one. After this the older keys can be dropped."""
    count = 0
    for focal_point in repository.list_focal_points(session):
        stored = [
            name
            for name in ("webhook_secret", "webhook_secret_previous")
            if getattr(focal_point, name) is not None
        ]
        for name in stored:
            flag_modified(focal_point, name)  # written again even though the value is equal
        count += bool(stored)
    session.flush()
    return count


class EndpointState:
    """One delivery endpoint of a focal point (its webhook or its e-mail address): the
    consecutive-failure count and the disabled mark, read and written on the focal point."""

    def __init__(self, focal_point: FocalPoint, channel: Channel) -> None:
        self.focal_point = focal_point
        self.channel = channel
        self._prefix = "webhook" if channel is Channel.WEBHOOK else "email"

    @property
    def target(self) -> str | None:
        return target_for(self.focal_point, self.channel)

    @property
    def failures(self) -> int:
        return int(getattr(self.focal_point, f"{self._prefix}_consecutive_failures") or 0)

    @failures.setter
    def failures(self, value: int) -> None:
        setattr(self.focal_point, f"{self._prefix}_consecutive_failures", value)

    @property
    def disabled_at(self) -> datetime | None:
        value: datetime | None = getattr(self.focal_point, f"{self._prefix}_disabled_at")
        return value

    def disable(self, now: datetime, reason: str) -> None:
        setattr(self.focal_point, f"{self._prefix}_disabled_at", now)
        setattr(self.focal_point, f"{self._prefix}_disabled_reason", reason)

    def enable(self) -> None:
        setattr(self.focal_point, f"{self._prefix}_disabled_at", None)
        setattr(self.focal_point, f"{self._prefix}_disabled_reason", None)
        self.failures = 0


def endpoint_state(focal_point: FocalPoint, channel: Channel) -> EndpointState:
    return EndpointState(focal_point, channel)


def enable_endpoint(session: Session, focal_point_id: int, channel: Channel) -> FocalPoint:
    """Re-enable a disabled webhook or e-mail address; the messages it held are due at once
    (nothing lost). Messages that failed outright are re-queued separately (``requeue``)."""
    focal_point = get_focal_point(session, focal_point_id)
    endpoint_state(focal_point, channel).enable()
    repository.release_held(session, focal_point_id, channel, utc_now())
    session.flush()
    return focal_point


def enable_webhook(session: Session, focal_point_id: int) -> FocalPoint:
    return enable_endpoint(session, focal_point_id, Channel.WEBHOOK)


def enable_email(session: Session, focal_point_id: int) -> FocalPoint:
    return enable_endpoint(session, focal_point_id, Channel.EMAIL)


def check_owner(principal_focal_point_id: int | None, is_admin: bool, focal_point_id: int) -> None:
    """Administrators manage every focal point; a focal point key only its own. Another's is
    reported as not found, so keys cannot probe which focal points exist."""
    if not is_admin and principal_focal_point_id != focal_point_id:
        raise NotFound(f"focal point {focal_point_id} is not this key's focal point")
