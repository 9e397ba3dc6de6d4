"""The delivery worker against real receivers on loopback: an HTTP server and an SMTP server.

Faults are real too: a receiver answering 500, a port where nothing listens, a worker process
killed with SIGKILL in the middle of a delivery. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker
from standardwebhooks import Webhook

from earlywarn.auth.models import FocalPoint
from earlywarn.db import session_scope
from earlywarn.framework.config_schemas import DeliveryConfig
from earlywarn.notify import outbox, service
from earlywarn.notify.channels import SmtpSettings
from earlywarn.notify.delivery import DeliveryWorker, backoff_seconds
from earlywarn.notify.models import (
    Channel,
    DeliveryAttempt,
    OutboxMessage,
    OutboxStatus,
    Subscription,
)
from earlywarn.notify.schemas import FocalPointCreate
from earlywarn.types import RiskLevel

REPO_DIR = Path(__file__).resolve().parents[2]
FAST = DeliveryConfig(
    max_attempts=6,
    backoff_initial_seconds=0.01,
    backoff_max_seconds=0.05,
    request_timeout_seconds=3,
    disable_endpoint_after_failures=4,
    lease_seconds=1,
    batch_size=20,
    poll_interval_seconds=0.05,
)


def _worker(
    factory: sessionmaker[Session], smtp: Any | None = None, policy: DeliveryConfig = FAST
) -> DeliveryWorker:
    return DeliveryWorker(
        factory,
        policy,
        SmtpSettings(
            host=smtp.host if smtp else "127.0.0.1",
            port=smtp.port if smtp else 9,
            sender="earlywarn@example.org",
            timeout_seconds=3,
        ),
        base_url="https://earlywarn.example.org",
        allow_hosts=["127.0.0.1"],  # the test receivers listen on loopback
    )


def _until(worker: DeliveryWorker, done: Callable[[], bool], seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not done():
        assert time.monotonic() < deadline, "delivery did not finish in time"
        worker.deliver_due()
        time.sleep(0.02)


def _focal_point(
    session: Session,
    *,
    name: str,
    webhook_url: str | None = None,
    email: str | None = None,
    administrator: bool = False,
) -> FocalPoint:
    return service.create_focal_point(
        session,
        FocalPointCreate(
            name=name, webhook_url=webhook_url, email=email, is_administrator=administrator
        ),
    )


def _alert_for(
    session: Session, make_alert: Any, focal_point: FocalPoint, channel: Channel, iso3: str = "SDN"
) -> list[OutboxMessage]:
    session.add(
        Subscription(
            focal_point_id=focal_point.id,
            country_iso3=iso3,
            min_level=RiskLevel.CONCERN,
            channel=channel,
        )
    )
    session.flush()
    alert, opened = make_alert(iso3, RiskLevel.WARNING)
    messages = outbox.enqueue_alert_event(session, alert, opened)
    session.commit()
    return messages


def _attempts(factory: sessionmaker[Session], message_id: int) -> list[tuple[str, int | None]]:
    with factory() as session:
        return [
            (a.outcome, a.status_code)
            for a in session.scalars(
                select(DeliveryAttempt)
                .where(DeliveryAttempt.outbox_message_id == message_id)
                .order_by(DeliveryAttempt.attempt)
            )
        ]


def _status(factory: sessionmaker[Session], message_id: int) -> OutboxStatus:
    with factory() as session:
        return session.get_one(OutboxMessage, message_id).status


def test_500_three_times_then_200_delivers_once_with_one_webhook_id(
    session: Session,
    session_factory: sessionmaker[Session],
    make_alert: Any,
    receiver: Any,
    verify_signature: Callable[[str, dict[str, str], str], bool],
) -> None:
    desk = _focal_point(session, name="Sudan desk", webhook_url=receiver.url)
    (message,) = _alert_for(session, make_alert, desk, Channel.WEBHOOK)
    receiver.script = [500, 500, 500]
    worker = _worker(session_factory)

    _until(worker, lambda: _status(session_factory, message.id) is OutboxStatus.SENT)
    worker.close()

    assert len(receiver.requests) == 4
    ids = {r.headers["webhook-id"] for r in receiver.requests}
    assert ids == {f"msg_earlywarn_{message.id}"}, "one webhook-id across every retry"
    assert list(receiver.application) == [f"msg_earlywarn_{message.id}"]
    assert _attempts(session_factory, message.id) == [
        ("retry", 500),
        ("retry", 500),
        ("retry", 500),
        ("delivered", 200),
    ]
    secret = desk.webhook_secret
    assert secret is not None
    for request in receiver.requests:
        assert verify_signature(secret, request.headers, request.body)
        # ... and the library's verifier agrees (it also checks the timestamp tolerance).
        Webhook(secret).verify(request.body, request.headers)
    delivered = receiver.application[f"msg_earlywarn_{message.id}"]
    assert delivered["alert"]["country"]["iso3"] == "SDN"
    with session_factory() as check:
        assert check.get_one(FocalPoint, desk.id).webhook_consecutive_failures == 0


def test_a_tampered_body_or_wrong_secret_fails_the_independent_check(
    session: Session,
    session_factory: sessionmaker[Session],
    make_alert: Any,
    receiver: Any,
    verify_signature: Callable[[str, dict[str, str], str], bool],
) -> None:
    desk = _focal_point(session, name="Sudan desk", webhook_url=receiver.url)
    (message,) = _alert_for(session, make_alert, desk, Channel.WEBHOOK)
    worker = _worker(session_factory)
    _until(worker, lambda: _status(session_factory, message.id) is OutboxStatus.SENT)
    worker.close()
    (request,) = receiver.requests
    assert desk.webhook_secret is not None
    assert verify_signature(desk.webhook_secret, request.headers, request.body)
    assert not verify_signature(desk.webhook_secret, request.headers, request.body + " ")
    assert not verify_signature(service.new_webhook_secret(), request.headers, request.body)


def test_a_4xx_is_permanent_after_one_attempt(
    session: Session, session_factory: sessionmaker[Session], make_alert: Any, receiver: Any
) -> None:
    desk = _focal_point(session, name="Sudan desk", webhook_url=receiver.url)
    (message,) = _alert_for(session, make_alert, desk, Channel.WEBHOOK)
    receiver.script = [410]
    worker = _worker(session_factory)
    _until(worker, lambda: _status(session_factory, message.id) is OutboxStatus.FAILED)
    worker.close()
    assert _attempts(session_factory, message.id) == [("permanent", 410)]
    assert receiver.application == {}


def test_429_is_retried(
    session: Session, session_factory: sessionmaker[Session], make_alert: Any, receiver: Any
) -> None:
    desk = _focal_point(session, name="Sudan desk", webhook_url=receiver.url)
    (message,) = _alert_for(session, make_alert, desk, Channel.WEBHOOK)
    receiver.script = [429]
    worker = _worker(session_factory)
    _until(worker, lambda: _status(session_factory, message.id) is OutboxStatus.SENT)
    worker.close()
    assert _attempts(session_factory, message.id) == [("retry", 429), ("delivered", 200)]


def test_receiver_down_disables_the_endpoint_tells_admins_and_loses_nothing(
    session: Session,
    session_factory: sessionmaker[Session],
    make_alert: Any,
    make_receiver: Callable[..., Any],
    smtp_server: Any,
) -> None:
    down = make_receiver(start=False)  # nothing listens on its port yet
    desk = _focal_point(session, name="Sudan desk", webhook_url=down.url)
    admin = _focal_point(session, name="Ops", email="ops@example.org", administrator=True)
    messages = _alert_for(session, make_alert, desk, Channel.WEBHOOK)
    alert2, opened2 = make_alert("TCD", RiskLevel.WARNING)
    session.add(
        Subscription(
            focal_point_id=desk.id, country_iso3="TCD", min_level=RiskLevel.LOW, channel="webhook"
        )
    )
    session.flush()
    messages += outbox.enqueue_alert_event(session, alert2, opened2)
    session.commit()
    assert len(messages) == 2
    worker = _worker(session_factory, smtp_server)

    def disabled() -> bool:
        with session_factory() as s:
            return s.get_one(FocalPoint, desk.id).webhook_disabled_at is not None

    _until(worker, disabled)
    # The notice to administrators goes out by e-mail.
    _until(worker, lambda: len(smtp_server.inbox.messages) >= 1)
    notice = smtp_server.inbox.messages[0]
    assert notice["To"] == "ops@example.org"
    assert "disabled" in notice["Subject"]
    assert down.url in notice.get_body(preferencelist=("plain",)).get_content()
    # Nothing is lost: both messages wait, and the worker leaves them alone.
    assert {_status(session_factory, m.id) for m in messages} == {OutboxStatus.PENDING}
    time.sleep(0.1)
    assert worker.deliver_due().claimed == 0

    down.start()  # the receiver comes back; an administrator re-enables the endpoint
    with session_scope(session_factory) as s:
        service.enable_webhook(s, desk.id)
    _until(
        worker,
        lambda: {_status(session_factory, m.id) for m in messages} == {OutboxStatus.SENT},
    )
    worker.close()
    assert sorted(down.application) == sorted(f"msg_earlywarn_{m.id}" for m in messages)
    assert admin.id is not None
    with session_factory() as s:
        failures = s.scalars(
            select(DeliveryAttempt.outcome).where(DeliveryAttempt.outcome == "retry")
        ).all()
    assert len(failures) >= FAST.disable_endpoint_after_failures


def test_email_has_text_and_html_with_actions_and_a_link(
    session: Session,
    session_factory: sessionmaker[Session],
    make_alert: Any,
    smtp_server: Any,
    configuration: Any,
) -> None:
    from earlywarn.framework.service import recommend_actions

    desk = _focal_point(session, name="Sudan desk", email="desk@example.org")
    session.add(
        Subscription(
            focal_point_id=desk.id, country_iso3="SDN", min_level=RiskLevel.LOW, channel="email"
        )
    )
    alert, opened = make_alert("SDN", RiskLevel.WARNING)
    alert.actions = recommend_actions(configuration, [11], RiskLevel.WARNING)
    session.flush()
    (message,) = outbox.enqueue_alert_event(session, alert, opened)
    session.commit()
    worker = _worker(session_factory, smtp_server)
    _until(worker, lambda: _status(session_factory, message.id) is OutboxStatus.SENT)
    worker.close()

    (mail,) = smtp_server.inbox.messages
    assert mail["To"] == "desk@example.org"
    assert "Sudan" in mail["Subject"]
    assert mail.get_content_type() == "multipart/alternative"
    text = mail.get_body(preferencelist=("plain",)).get_content()
    html = mail.get_body(preferencelist=("html",)).get_content()
    link = f"https://earlywarn.example.org/alerts/{alert.id}"
    assert link in text
    assert f'href="{link}"' in html
    assert "Recommended actions" in text
    assert "why: risk factor 11" in text
    assert "Bilateral:" in text
    assert "<h3>Bilateral</h3>" in html
    assert _attempts(session_factory, message.id) == [("delivered", 250)]


def test_secret_rotation_signs_with_both_secrets_during_the_overlap(
    session: Session,
    session_factory: sessionmaker[Session],
    make_alert: Any,
    receiver: Any,
    verify_signature: Callable[[str, dict[str, str], str], bool],
) -> None:
    desk = _focal_point(session, name="Sudan desk", webhook_url=receiver.url)
    old = desk.webhook_secret
    assert old is not None
    service.rotate_webhook_secret(session, desk.id, overlap=timedelta(hours=1))
    new = desk.webhook_secret
    assert new is not None
    assert new != old
    (message,) = _alert_for(session, make_alert, desk, Channel.WEBHOOK)
    worker = _worker(session_factory)
    _until(worker, lambda: _status(session_factory, message.id) is OutboxStatus.SENT)
    worker.close()
    (request,) = receiver.requests
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    assert verify_signature(old, request.headers, request.body)
    assert verify_signature(new, request.headers, request.body)


def test_backoff_grows_exponentially_with_full_jitter() -> None:
    import random

    policy = DeliveryConfig(backoff_initial_seconds=10, backoff_max_seconds=100)
    rng = random.Random(7)
    for attempts, ceiling in [(1, 10), (2, 20), (3, 40), (4, 80), (5, 100), (9, 100)]:
        samples = [backoff_seconds(policy, attempts, rng) for _ in range(200)]
        assert min(samples) >= 0
        assert max(samples) <= ceiling
        assert max(samples) > ceiling * 0.8, "the whole range is used (jitter)"


def _config_dir(tmp_path: Path, **delivery: Any) -> Path:
    target = tmp_path / "config"
    target.mkdir()
    for source in (REPO_DIR / "config").glob("*.yaml"):
        (target / source.name).write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    alerting = yaml.safe_load((target / "alerting.yaml").read_text(encoding="utf-8"))
    alerting["delivery"].update(delivery)
    (target / "alerting.yaml").write_text(yaml.safe_dump(alerting), encoding="utf-8")
    return target


# A worker process spends seconds of CPU importing the application before its first pass; on a
# loaded machine (CI, or 2 cores shared by a dozen processes) that is half a minute or more of
# wall time. The start-up gets its own generous deadline, ended by the worker's own "running"
# line, so the deadlines of what the test checks cover the worker's work, not Python's imports.
STARTUP_SECONDS = 240
WORK_SECONDS = 60


@dataclass
class _WorkerProcess:
    popen: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path

    def output(self) -> str:
        return self.stderr.read_text(errors="replace")[-3000:]

    def alive(self) -> bool:
        return self.popen.poll() is None

    def wait_until_running(self) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        while "delivery worker running" not in self.stdout.read_text(errors="replace"):
            assert self.alive(), f"the worker exited at start-up:\n{self.output()}"
            assert time.monotonic() < deadline, f"the worker did not start:\n{self.output()}"
            time.sleep(0.05)

    def stop(self, sig: signal.Signals) -> None:
        self.popen.send_signal(sig)
        try:
            self.popen.wait(WORK_SECONDS)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(WORK_SECONDS)
            raise AssertionError(f"the worker ignored {sig.name}:\n{self.output()}") from None


def _start_worker(engine: Engine, config_dir: Path, name: str) -> _WorkerProcess:
    env = {
        **os.environ,
        "EARLYWARN_DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "EARLYWARN_CONFIG_DIR": str(config_dir),
        "EARLYWARN_WEBHOOK_ALLOW_HOSTS": "127.0.0.1",  # the test receiver listens on loopback
    }
    # Files, not pipes: a pipe nobody reads blocks the worker once its logs fill it.
    stdout, stderr = config_dir.parent / f"{name}.out", config_dir.parent / f"{name}.err"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        popen = subprocess.Popen(
            [sys.executable, "-c", "from earlywarn.app.cli import app; app()", "deliver"],
            env=env,
            stdout=out,
            stderr=err,
        )
    return _WorkerProcess(popen, stdout, stderr)


def test_a_worker_killed_mid_delivery_loses_nothing(
    engine: Engine,
    session: Session,
    session_factory: sessionmaker[Session],
    make_alert: Any,
    receiver: Any,
    tmp_path: Path,
) -> None:
    """The alert and its outbox row are committed; the worker process claims the row and posts
    it, and is killed (SIGKILL) before it can record anything. A new worker delivers it."""
    config_dir = _config_dir(
        tmp_path,
        lease_seconds=1,
        poll_interval_seconds=0.1,
        backoff_initial_seconds=0.05,
        # The held request must still be in flight when the test kills the worker, however
        # late a loaded machine lets the test notice it: a timeout would record an attempt.
        request_timeout_seconds=WORK_SECONDS * 2,
    )
    desk = _focal_point(session, name="Sudan desk", webhook_url=receiver.url)
    (message,) = _alert_for(session, make_alert, desk, Channel.WEBHOOK)
    receiver.hold.set()  # the first request hangs: the worker is mid-delivery

    first = _start_worker(engine, config_dir, "first")
    try:
        first.wait_until_running()
        deadline = time.monotonic() + WORK_SECONDS
        while not receiver.requests:
            assert first.alive(), first.output()
            assert time.monotonic() < deadline, f"the worker never posted:\n{first.output()}"
            time.sleep(0.05)
    finally:
        first.stop(signal.SIGKILL)
    receiver.release.set()
    assert _status(session_factory, message.id) is OutboxStatus.PENDING
    assert _attempts(session_factory, message.id) == [], "the killed worker recorded nothing"

    second = _start_worker(engine, config_dir, "second")
    try:
        second.wait_until_running()
        deadline = time.monotonic() + WORK_SECONDS
        while _status(session_factory, message.id) is not OutboxStatus.SENT:
            assert second.alive(), second.output()
            assert time.monotonic() < deadline, (
                f"the restarted worker did not deliver:\n{second.output()}"
            )
            time.sleep(0.1)
    finally:
        second.stop(signal.SIGTERM)
    webhook_id = f"msg_earlywarn_{message.id}"
    assert [r.headers["webhook-id"] for r in receiver.requests] == [webhook_id, webhook_id]
    assert list(receiver.application) == [webhook_id], "the application processed it once"
    assert _attempts(session_factory, message.id) == [("delivered", 200)]


def test_serve_runs_the_delivery_job_next_to_the_pipeline(
    engine: Engine,
    session: Session,
    session_factory: sessionmaker[Session],
    make_alert: Any,
    receiver: Any,
    configuration: Any,
    tmp_path: Path,
) -> None:
    """The scheduler inside `serve` drains the outbox (and runs escalations) on its own."""
    from earlywarn.app import scheduler
    from earlywarn.app.factory import create_app
    from earlywarn.settings import Settings

    fast = configuration.alerting.model_copy(
        update={"delivery": FAST.model_copy(update={"poll_interval_seconds": 0.2})}
    )
    config = type(configuration)(**{**configuration.__dict__, "alerting": fast})
    app = create_app(
        settings=Settings(
            _env_file=None,
            data_dir=tmp_path,
            bootstrap_admin_key=None,
            webhook_allow_hosts=["127.0.0.1"],  # the test receiver listens on loopback
        ),
        engine=engine,
        configuration=config,
    )
    desk = _focal_point(session, name="Sudan desk", webhook_url=receiver.url)
    (message,) = _alert_for(session, make_alert, desk, Channel.WEBHOOK)
    scheduler.start(app)
    try:
        assert app.state.scheduler.delivery.get_job(scheduler.DELIVERY_JOB_ID) is not None
        deadline = time.monotonic() + 20
        while _status(session_factory, message.id) is not OutboxStatus.SENT:
            assert time.monotonic() < deadline, "the scheduled delivery job did not deliver"
            time.sleep(0.1)
    finally:
        scheduler.stop(app)
    assert list(receiver.application) == [f"msg_earlywarn_{message.id}"]


def test_two_workers_at_once_send_each_message_once(
    session: Session,
    session_factory: sessionmaker[Session],
    make_alert: Any,
    receiver: Any,
) -> None:
    """Leases are a compare-and-set (and SKIP LOCKED on PostgreSQL): two workers draining the
    same outbox never both send one message."""
    import threading

    desks = [_focal_point(session, name=f"Desk {i}", webhook_url=receiver.url) for i in range(30)]
    for desk in desks:
        session.add(
            Subscription(
                focal_point_id=desk.id,
                country_iso3="SDN",
                min_level=RiskLevel.LOW,
                channel="webhook",
            )
        )
    session.flush()
    alert, opened = make_alert("SDN", RiskLevel.WARNING)
    messages = outbox.enqueue_alert_event(session, alert, opened)
    session.commit()
    assert len(messages) == 30
    policy = FAST.model_copy(update={"batch_size": 5, "concurrency": 2})
    workers = [_worker(session_factory, policy=policy) for _ in range(2)]

    def drain(worker: DeliveryWorker) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with session_factory() as s:
                pending = s.scalar(
                    select(func.count())
                    .select_from(OutboxMessage)
                    .where(OutboxMessage.status == OutboxStatus.PENDING)
                )
            if not pending:
                return
            worker.deliver_due()

    threads = [threading.Thread(target=drain, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for worker in workers:
        worker.close()
    assert {_status(session_factory, m.id) for m in messages} == {OutboxStatus.SENT}
    sent_ids = [r.headers["webhook-id"] for r in receiver.requests]
    assert sorted(sent_ids) == sorted(f"msg_earlywarn_{m.id}" for m in messages)
