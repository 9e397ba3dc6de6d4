"""The delivery worker: drains the outbox to webhooks and e-mail, at least once.

One pass (``deliver_due``):

1. **claim** due rows in a short transaction: pending, ``next_attempt_at`` reached, no live
   lease, and not for a disabled endpoint (webhook or e-mail address); each gets
   ``lease_until``. On PostgreSQL
   ``FOR UPDATE SKIP LOCKED`` keeps concurrent workers off each other's rows;
2. **send** each outside any transaction (a slow receiver holds no locks);
3. **record** the batch's attempts in one transaction: a ``delivery_attempts`` row always, then
   each message becomes sent, failed (permanent, or out of attempts) or pending again after an
   exponential backoff with full jitter.

Sends of one batch run concurrently (``concurrency`` threads; httpx's client is thread-safe),
and one commit covers the batch: a receiver that is slow, or a commit that is slow (SQLite
syncs on every commit), costs once per batch rather than once per message.

A worker killed between 1 and 3 leaves a lease that expires: the row is claimed again and
sent again, with the same ``webhook-id`` so the receiver can drop the duplicate. An endpoint
(a webhook or an e-mail address) failing ``disable_endpoint_after_failures`` consecutive
attempts is disabled and administrators are told (``notify.notices``); its messages wait
(pending) until an administrator re-enables it. Each pass of ``run`` first escalates what is
due (``notify.escalation``).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
from sqlalchemy import or_, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, defer, sessionmaker

from earlywarn.auth.models import FocalPoint
from earlywarn.db import session_scope, utc_now
from earlywarn.framework.config_schemas import DeliveryConfig
from earlywarn.notify import notices, outbound, repository, service
from earlywarn.notify.ack_links import AckLinks
from earlywarn.notify.ack_links import from_settings as ack_links_from_settings
from earlywarn.notify.channels import (
    Outcome,
    SendResult,
    SmtpSettings,
    build_email,
    send_email,
    send_webhook,
)
from earlywarn.notify.escalation import escalate_due
from earlywarn.notify.models import Channel, DeliveryAttempt, OutboxMessage, OutboxStatus
from earlywarn.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class DeliveryStats:
    claimed: int = 0
    delivered: int = 0
    retried: int = 0
    failed: int = 0
    endpoints_disabled: list[int] = field(default_factory=list)

    def add(self, other: DeliveryStats) -> None:
        self.claimed += other.claimed
        self.delivered += other.delivered
        self.retried += other.retried
        self.failed += other.failed
        self.endpoints_disabled += other.endpoints_disabled


@dataclass(frozen=True)
class _Claimed:
    """What a send needs, copied out of the claiming transaction."""

    id: int
    channel: Channel
    target: str
    payload: dict[str, object]
    webhook_id: str
    attempts: int
    focal_point_id: int
    secrets: list[str]


@dataclass(frozen=True)
class _Result:
    item: _Claimed
    result: SendResult
    started: datetime
    duration_ms: float


def backoff_seconds(policy: DeliveryConfig, attempts: int, rng: random.Random) -> float:
    """Full jitter (AWS architecture blog): uniform in [0, min(max, initial * 2^(n-1))]."""
    ceiling = min(policy.backoff_max_seconds, policy.backoff_initial_seconds * 2 ** (attempts - 1))
    return rng.uniform(0, ceiling)


def smtp_settings(settings: Settings, policy: DeliveryConfig) -> SmtpSettings:
    return SmtpSettings(
        host=settings.smtp_host,
        port=settings.smtp_port,
        sender=settings.smtp_from,
        starttls=settings.smtp_starttls,
        username=settings.smtp_username,
        password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
        timeout_seconds=policy.request_timeout_seconds,
    )


class DeliveryWorker:
    """Everything one worker needs; ``deliver_due`` is one pass, ``run`` loops."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        policy: DeliveryConfig,
        smtp: SmtpSettings,
        *,
        base_url: str,
        client: httpx.Client | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], datetime] = utc_now,
        allow_hosts: Collection[str] = (),
        resolve: outbound.Resolver = outbound.system_resolver,
        ack_links: AckLinks | None = None,
    ) -> None:
        self.factory = factory
        self.policy = policy
        self.smtp = smtp
        self.base_url = base_url
        self.client = client or httpx.Client(follow_redirects=False)
        self.rng = rng or random.Random()
        self.clock = clock
        self.allow_hosts = frozenset(allow_hosts)
        self.resolve = resolve
        self.ack_links = ack_links

    def close(self) -> None:
        self.client.close()

    # --- 1. claim ---------------------------------------------------------------------------

    def claim(self, limit: int | None = None) -> list[_Claimed]:
        now = self.clock()
        with session_scope(self.factory) as session:
            query = (
                select(OutboxMessage, FocalPoint)
                .join(FocalPoint, FocalPoint.id == OutboxMessage.focal_point_id)
                .where(
                    OutboxMessage.status == OutboxStatus.PENDING,
                    OutboxMessage.next_attempt_at <= now,
                    or_(OutboxMessage.lease_until.is_(None), OutboxMessage.lease_until < now),
                    # A disabled endpoint (webhook or e-mail address) holds its messages.
                    or_(
                        OutboxMessage.channel != Channel.WEBHOOK,
                        FocalPoint.webhook_disabled_at.is_(None),
                    ),
                    or_(
                        OutboxMessage.channel != Channel.EMAIL,
                        FocalPoint.email_disabled_at.is_(None),
                    ),
                )
                .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
                .limit(limit or self.policy.batch_size)
            )
            if session.get_bind().dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True, of=OutboxMessage)
            claimed: list[_Claimed] = []
            lease = now + timedelta(seconds=self.policy.lease_seconds)
            for message, focal_point in session.execute(query):
                if not self._take_lease(session, message.id, now, lease):
                    continue  # another worker leased it between our read and our write
                claimed.append(
                    _Claimed(
                        id=message.id,
                        channel=message.channel,
                        target=message.target,
                        payload=message.payload,
                        webhook_id=message.webhook_id,
                        attempts=message.attempts,
                        focal_point_id=focal_point.id,
                        secrets=self._secrets(focal_point, now)
                        if message.channel is Channel.WEBHOOK
                        else [],
                    )
                )
            return claimed

    @staticmethod
    def _take_lease(session: Session, message_id: int, now: datetime, lease: datetime) -> bool:
        """Compare-and-set of the lease. PostgreSQL's SKIP LOCKED already keeps workers apart;
        on SQLite, which has no row locks, the write lock makes the second worker's UPDATE wait
        for the first's commit and then match nothing."""
        result = session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id == message_id,
                OutboxMessage.status == OutboxStatus.PENDING,
                or_(OutboxMessage.lease_until.is_(None), OutboxMessage.lease_until < now),
            )
            .values(lease_until=lease)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0) == 1)

    @staticmethod
    def _secrets(focal_point: FocalPoint, now: datetime) -> list[str]:
        if focal_point.webhook_secret is None:
            # Focal points registered before signing existed get a secret on first use.
            focal_point.webhook_secret = service.new_webhook_secret()
        secrets = [focal_point.webhook_secret]
        if (
            focal_point.webhook_secret_previous
            and focal_point.webhook_previous_expires_at is not None
            and focal_point.webhook_previous_expires_at > now
        ):
            secrets.append(focal_point.webhook_secret_previous)
        return secrets

    # --- 2. send ----------------------------------------------------------------------------

    def send(self, item: _Claimed) -> SendResult:
        if item.channel is Channel.WEBHOOK:
            try:
                destination = outbound.check_destination(
                    item.target, self.allow_hosts, self.resolve
                )
            except outbound.UnsafeDestination as exc:
                return SendResult(Outcome.PERMANENT, error=f"destination refused: {exc}")
            except outbound.UnresolvableDestination as exc:
                return SendResult(Outcome.RETRY, error=str(exc))
            return send_webhook(
                self.client,
                item.target,
                destination=destination,
                msg_id=item.webhook_id,
                payload=dict(item.payload),
                secrets=item.secrets,
                timestamp=self.clock(),
                timeout_seconds=self.policy.request_timeout_seconds,
            )
        try:
            message = build_email(
                dict(item.payload),
                sender=self.smtp.sender,
                recipient=item.target,
                base_url=self.base_url,
                ack_links=self._ack_links(item.payload),
            )
        except (ValueError, TypeError, KeyError) as exc:
            # Retrying would build the same broken message again, and the address is not at
            # fault: fail this message alone.
            log.error("outbox message %s cannot be built: %s", item.id, exc)
            return SendResult(
                Outcome.PERMANENT,
                error=f"message could not be built: {type(exc).__name__}",
                endpoint_fault=False,
            )
        return send_email(self.smtp, message, recipient=item.target)

    # --- 3. record --------------------------------------------------------------------------

    def record(self, results: Sequence[_Result]) -> DeliveryStats:
        stats = DeliveryStats()
        with session_scope(self.factory) as session:
            ids = [r.item.id for r in results]
            # The payload was sent already; not loading it again saves decoding large JSON.
            query = (
                select(OutboxMessage)
                .where(OutboxMessage.id.in_(ids))
                .options(defer(OutboxMessage.payload))
            )
            if session.get_bind().dialect.name == "postgresql":
                query = query.with_for_update()
            messages = {m.id: m for m in session.scalars(query)}
            points = {
                fp.id: fp
                for fp in session.scalars(
                    select(FocalPoint).where(
                        FocalPoint.id.in_({r.item.focal_point_id for r in results})
                    )
                )
            }
            # Messages re-queued by hand get a fresh max_attempts budget from that point.
            requeued = repository.requeued_at_attempt(session, ids)
            for result in results:
                self._record_one(
                    session,
                    messages[result.item.id],
                    points[result.item.focal_point_id],
                    result,
                    stats,
                    requeued.get(result.item.id, 0),
                )
        return stats

    def _record_one(
        self,
        session: Session,
        message: OutboxMessage,
        focal_point: FocalPoint,
        done: _Result,
        stats: DeliveryStats,
        budget_from: int = 0,
    ) -> None:
        result = done.result
        now = self.clock()
        outcome = result.outcome.value
        message.attempts += 1
        tries = message.attempts - budget_from
        if message.status is not OutboxStatus.PENDING:
            # Another worker took the row over after this one's lease expired and finished
            # it first: keep its outcome, log this attempt.
            pass
        elif result.outcome is Outcome.DELIVERED:
            message.status = OutboxStatus.SENT
            message.sent_at = now
            message.last_error = None
            message.lease_until = None
            stats.delivered += 1
        elif result.outcome is Outcome.RETRY and tries < self.policy.max_attempts:
            message.next_attempt_at = now + timedelta(
                seconds=backoff_seconds(self.policy, tries, self.rng)
            )
            message.last_error = result.error
            message.lease_until = None
            stats.retried += 1
        else:
            if result.outcome is Outcome.RETRY:
                outcome = "exhausted"
            message.status = OutboxStatus.FAILED
            message.last_error = result.error
            message.lease_until = None
            stats.failed += 1
        session.add(
            DeliveryAttempt(
                outbox_message_id=message.id,
                attempt=message.attempts,
                started_at=done.started,
                duration_ms=done.duration_ms,
                outcome=outcome,
                status_code=result.status_code,
                error=result.error,
            )
        )
        self._track_endpoint(session, focal_point, message.channel, result, now, stats)

    def _track_endpoint(
        self,
        session: Session,
        focal_point: FocalPoint,
        channel: Channel,
        result: SendResult,
        now: datetime,
        stats: DeliveryStats,
    ) -> None:
        """Count consecutive failures of the focal point's webhook or e-mail address (any
        outcome but delivered: a 5xx, a refusal, a timeout), and disable it at the limit."""
        if not result.endpoint_fault:
            return
        endpoint = service.endpoint_state(focal_point, channel)
        if result.outcome is Outcome.DELIVERED:
            endpoint.failures = 0
            return
        endpoint.failures += 1
        if (
            endpoint.disabled_at is None
            and endpoint.failures >= self.policy.disable_endpoint_after_failures
        ):
            endpoint.disable(
                now,
                f"{endpoint.failures} consecutive failed deliveries; last: {result.error}",
            )
            session.flush()
            what = "webhook" if channel is Channel.WEBHOOK else "e-mail address"
            notices.notify_administrators(
                session,
                key=f"{channel.value}-disabled:{focal_point.id}:{now.isoformat()}",
                subject=f"{what} of focal point {focal_point.name} disabled",
                text=(
                    f"The {what} {endpoint.target} of focal point {focal_point.name} "
                    f"(id {focal_point.id}) was disabled after {endpoint.failures} "
                    "consecutive failed deliveries. Its pending messages are kept and will be "
                    "delivered when it is re-enabled: "
                    f"POST /focal-points/{focal_point.id}/{channel.value}/enable; failed "
                    f"ones can be re-queued: POST /outbox/retry?focal_point_id={focal_point.id}."
                ),
                details={
                    "focal_point_id": focal_point.id,
                    "channel": channel.value,
                    "target": endpoint.target,
                    "last_error": result.error,
                },
            )
            stats.endpoints_disabled.append(focal_point.id)
            log.warning("%s of focal point %s disabled: %s", what, focal_point.id, result.error)

    def _ack_links(self, payload: dict[str, object]) -> dict[int, str]:
        """The recipient's signed one-click links, one per alert of the message that can
        still be acknowledged (a grouped message carries several).

        Signed now, at sending, so a retried message carries links that last their full time."""
        focal_point = payload.get("focal_point")
        if self.ack_links is None or not isinstance(focal_point, dict):
            return {}
        entries = payload.get("alerts")
        alerts = entries if isinstance(entries, list) and entries else [payload.get("alert")]
        return {
            int(alert["id"]): self.ack_links.url(
                self.base_url, int(alert["id"]), int(focal_point["id"])
            )
            for alert in alerts
            if isinstance(alert, dict) and alert.get("state") == "firing"
        }

    # --- passes -----------------------------------------------------------------------------

    def _attempt(self, item: _Claimed) -> _Result:
        started = self.clock()
        t0 = time.perf_counter()
        try:
            result = self.send(item)
        except Exception as exc:  # a bug in one message must not stop the others
            log.exception("delivery of outbox message %s raised", item.id)
            result = SendResult(Outcome.RETRY, error=f"{type(exc).__name__}: {exc}")
        return _Result(item, result, started, (time.perf_counter() - t0) * 1000)

    def deliver_due(self, limit: int | None = None) -> DeliveryStats:
        """One pass: claim a batch, send it, record it. Returns what happened."""
        try:
            claimed = self.claim(limit)
        except OperationalError as exc:
            # SQLite: another worker wrote between our read and our lease (a stale snapshot
            # cannot be upgraded to a write). Nothing was leased; the next pass tries again.
            log.info("claim skipped, database busy: %s", exc.orig)
            return DeliveryStats()
        if not claimed:
            return DeliveryStats()
        if self.policy.concurrency > 1 and len(claimed) > 1:
            with ThreadPoolExecutor(max_workers=self.policy.concurrency) as pool:
                results = list(pool.map(self._attempt, claimed))
        else:
            results = [self._attempt(item) for item in claimed]
        stats = self.record(results)
        stats.claimed = len(claimed)
        return stats

    def drain(self, *, max_passes: int = 1000) -> DeliveryStats:
        """Passes until nothing is due now (retries scheduled later are left for later)."""
        total = DeliveryStats()
        for _ in range(max_passes):
            stats = self.deliver_due()
            total.add(stats)
            if stats.claimed == 0:
                break
        return total

    def run(self, *, stop: Callable[[], bool], on_pass: Callable[[DeliveryStats], None]) -> None:
        """Loop until ``stop()``: drain, escalate, sleep ``poll_interval_seconds``."""
        while not stop():
            try:
                with session_scope(self.factory) as session:
                    escalate_due(session, self.clock())
                on_pass(self.drain())
            except Exception:  # the database may be briefly unavailable; keep the worker up
                log.exception("delivery pass failed; retrying after the poll interval")
            deadline = time.monotonic() + self.policy.poll_interval_seconds
            while time.monotonic() < deadline and not stop():
                time.sleep(min(0.2, self.policy.poll_interval_seconds))


def worker_from_settings(
    factory: sessionmaker[Session], settings: Settings, policy: DeliveryConfig
) -> DeliveryWorker:
    return DeliveryWorker(
        factory,
        policy,
        smtp_settings(settings, policy),
        base_url=settings.public_base_url,
        allow_hosts=settings.webhook_allow_hosts,
        ack_links=ack_links_from_settings(settings),
    )
