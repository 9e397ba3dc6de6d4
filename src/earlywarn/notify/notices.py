"""Operational notices to administrators, not tied to an alert (a disabled endpoint...)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from earlywarn.db import utc_now
from earlywarn.notify import repository
from earlywarn.notify.models import OutboxMessage, OutboxStatus, Purpose
from earlywarn.notify.payload import PAYLOAD_VERSION, targets
from earlywarn.notify.service import endpoint_state


def notify_administrators(
    session: Session, *, key: str, subject: str, text: str, details: dict[str, Any]
) -> list[OutboxMessage]:
    """An operational notice (not tied to an alert) to every administrator, once per ``key``.

    A disabled webhook or e-mail address is skipped (it may be the one the notice is about).
    """
    now = utc_now()
    messages: list[OutboxMessage] = []
    existing = repository.outbox_keys_with_prefix(session, f"notice:{key}:")
    for focal_point in repository.administrators(session):
        for channel, target in targets(focal_point):
            if endpoint_state(focal_point, channel).disabled_at is not None:
                continue
            dedup = f"notice:{key}:fp:{focal_point.id}:{channel.value}"
            if dedup in existing:
                continue
            messages.append(
                OutboxMessage(
                    dedup_key=dedup,
                    focal_point_id=focal_point.id,
                    channel=channel,
                    target=target,
                    purpose=Purpose.OPERATIONAL.value,
                    payload={
                        "version": PAYLOAD_VERSION,
                        "type": "notice",
                        "purpose": Purpose.OPERATIONAL.value,
                        "notice": {
                            "subject": subject,
                            "text": text,
                            "at": now.isoformat(),
                            "details": details,
                        },
                        "focal_point": {"id": focal_point.id, "name": focal_point.name},
                    },
                    status=OutboxStatus.PENDING,
                    attempts=0,
                )
            )
    if messages:
        repository.add_outbox_messages(session, messages)
    return messages
