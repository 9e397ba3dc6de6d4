"""What notify does with the events alerting records: queue their messages and keep the
escalation chain in step. Alerting never calls notify; the transaction's owner hands the
updates over (``hand_over``): the pipeline after evaluating a run, the alert routes through
the ``AlertNotifier`` the app factory puts on ``app.state`` (``alerting.events.AlertEventSink``).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from earlywarn.alerting.events import AlertUpdate
from earlywarn.alerting.models import Alert, AlertEventKind
from earlywarn.framework.config_schemas import EscalationConfig
from earlywarn.notify import escalation, repository
from earlywarn.notify.grouped import DEFAULT_MAX_PRIORITY_ACTIONS
from earlywarn.notify.outbox import enqueue_alert_events
from earlywarn.notify.payload import subscription_matches


def hand_over(
    session: Session,
    policy: EscalationConfig,
    updates: Sequence[AlertUpdate],
    *,
    max_priority_actions: int = DEFAULT_MAX_PRIORITY_ACTIONS,
) -> int:
    """Queue the messages the updates owe and move their escalation chains: frozen when an
    alert opens (``policy``), restarted when it fires again, stopped when someone
    acknowledges or resolves it; an acknowledgement also reaches the tiers already paged.

    The updates of one call are one run (or one person's act): every event of a country
    reaches a recipient as one message (``notify.grouped``), with at most
    ``max_priority_actions`` combined priority actions. Returns the number of messages
    queued. Flushes, never commits."""
    for update in updates:
        alert, event = update.alert, update.event
        if event.kind in (AlertEventKind.ACKNOWLEDGED, AlertEventKind.RESOLVED):
            escalation.stop(alert)
        if update.refired:
            escalation.restart(alert=alert, now=event.at)
    messages = len(
        enqueue_alert_events(
            session,
            [(u.alert, u.event) for u in updates],
            max_priority_actions=max_priority_actions,
        )
    )
    for update in updates:
        alert, event = update.alert, update.event
        if event.kind is AlertEventKind.OPENED:
            # After the messages are queued: whoever they reach is already told.
            escalation.freeze(session, policy, alert, event, event.at)
        elif event.kind is AlertEventKind.ACKNOWLEDGED:
            # The regional focal point or headquarters that was paged must learn that someone
            # acted (not the one who acted).
            messages += len(escalation.announce_acknowledgement(session, alert, event))
    session.flush()  # the chain's new state is visible to queries, autoflush or not
    return messages


class AlertNotifier:
    """notify's side of ``alerting.events.AlertEventSink``, with the escalation policy that
    alerts opening get frozen onto them."""

    def __init__(
        self, policy: EscalationConfig, max_priority_actions: int = DEFAULT_MAX_PRIORITY_ACTIONS
    ) -> None:
        self.policy = policy
        self.max_priority_actions = max_priority_actions

    def hand_over(self, session: Session, updates: Sequence[AlertUpdate]) -> int:
        return hand_over(
            session, self.policy, updates, max_priority_actions=self.max_priority_actions
        )

    def refusal_to_act(self, session: Session, alert: Alert, focal_point_id: int) -> str | None:
        return refusal_to_act(session, alert, focal_point_id)


def refusal_to_act(session: Session, alert: Alert, focal_point_id: int) -> str | None:
    """Why the focal point may not acknowledge (or annotate) ``alert``; None when it may.

    A focal point acts on the alerts it was told about (an outbox message of the alert), the
    ones its subscriptions match now, and the ones whose frozen escalation chain names it.
    """
    focal_point = repository.get_focal_point(session, focal_point_id)
    if focal_point is None or not focal_point.active:
        return f"focal point {focal_point_id} is not an active focal point"
    if focal_point_id in repository.focal_points_told_about_alert(session, alert.id):
        return None
    if focal_point_id in escalation.escalation_chain_members(alert):
        return None
    country = repository.get_country(session, alert.country_iso3) if alert.country_iso3 else None
    region = country.region if country is not None else None
    for subscription in repository.list_subscriptions(session, focal_point_id):
        if subscription_matches(
            subscription,
            country_iso3=alert.country_iso3,
            region=region,
            level=alert.level,
            rule_kind=alert.rule_kind,
        ):
            return None
    return (
        f"focal point {focal_point_id} ({focal_point.name}) was not told about alert "
        f"{alert.id} ({alert.dedup_key}, level {alert.level.value}), is not on its escalation "
        "chain, and none of its subscriptions match it; ask an administrator"
    )
