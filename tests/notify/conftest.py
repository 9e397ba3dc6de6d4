"""Alerts with everything their foreign keys need, focal points and subscriptions."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select
from sqlalchemy.orm import Session

from earlywarn.alerting.models import Alert, AlertEvent, AlertEventKind, AlertState
from earlywarn.auth.models import FocalPoint
from earlywarn.countries.models import Country
from earlywarn.framework.models import WeightSet
from earlywarn.notify.models import Channel, Subscription
from earlywarn.scoring.models import CountryScore, ScoreRun, ScoreRunStatus
from earlywarn.types import RiskLevel

OPENED_AT = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
COUNTRIES = {"SDN": "Sudan", "TCD": "Chad", "MMR": "Myanmar"}


@pytest.fixture
def score_run(session: Session) -> ScoreRun:
    """Countries, a weight set, a finished score run and one score per country."""
    for iso3, name in COUNTRIES.items():
        session.add(Country(iso3=iso3, name=name))
    weights = WeightSet(version=1, content_digest="0" * 64, indicator_weights={}, factor_weights={})
    session.add(weights)
    session.flush()
    run = ScoreRun(
        status=ScoreRunStatus.SUCCEEDED,
        as_of=date(2026, 11, 20),
        weight_set_id=weights.id,
        methodology_version="test",
        finished_at=OPENED_AT,
        countries_scored=len(COUNTRIES),
    )
    session.add(run)
    session.flush()
    for iso3 in COUNTRIES:
        session.add(
            CountryScore(
                score_run_id=run.id,
                country_iso3=iso3,
                composite=0.7,
                level=RiskLevel.WARNING,
                coverage=0.9,
                factors={},
                factor_summary={},
                weight_set_id=weights.id,
                methodology_version="test",
            )
        )
    session.flush()
    return run


AlertFactory = Callable[..., tuple[Alert, AlertEvent]]


@pytest.fixture
def make_alert(session: Session, score_run: ScoreRun) -> AlertFactory:
    """``make_alert(iso3, level)``: a firing alert and its ``opened`` event, flushed."""

    def build(iso3: str, level: RiskLevel) -> tuple[Alert, AlertEvent]:
        score = session.scalars(
            select(CountryScore).where(
                CountryScore.score_run_id == score_run.id, CountryScore.country_iso3 == iso3
            )
        ).one()
        alert = Alert(
            rule_id="level-rise",
            country_iso3=iso3,
            dedup_key=f"level-rise:{iso3}",
            state=AlertState.FIRING,
            level=level,
            summary=f"{COUNTRIES[iso3]} rose to {level.value}",
            evidence={"composite": 0.7, "factors": [{"number": 1, "score": 0.8}]},
            actions={"headings": [{"code": "1.13", "title": "Combat hate speech"}]},
            opened_at=OPENED_AT,
            updated_at=OPENED_AT,
            opened_score_run_id=score_run.id,
            latest_score_id=score.id,
        )
        session.add(alert)
        session.flush()
        event = AlertEvent(
            alert_id=alert.id,
            kind=AlertEventKind.OPENED,
            at=OPENED_AT,
            to_level=level,
            score_run_id=score_run.id,
        )
        session.add(event)
        session.flush()
        return alert, event

    return build


@pytest.fixture
def add_event(session: Session) -> Callable[..., AlertEvent]:
    """``add_event(alert, kind, to_level=None)``: records a change and applies it to the alert."""

    def build(alert: Alert, kind: AlertEventKind, to_level: RiskLevel | None = None) -> AlertEvent:
        from_level = alert.level
        if to_level is not None:
            alert.level = to_level
        if kind is AlertEventKind.RESOLVED:
            alert.state = AlertState.RESOLVED
            alert.resolved_at = OPENED_AT
        elif kind is AlertEventKind.ACKNOWLEDGED:
            alert.state = AlertState.ACKNOWLEDGED
        event = AlertEvent(
            alert_id=alert.id,
            kind=kind,
            at=datetime(2026, 11, 21, 3, 0, tzinfo=UTC),
            from_level=from_level,
            to_level=to_level if to_level is not None else from_level,
        )
        session.add(event)
        session.flush()
        return event

    return build


SubscribeFactory = Callable[..., Subscription]


@pytest.fixture
def subscribe(session: Session) -> SubscribeFactory:
    """``subscribe(country, min_level, channel=email, active=True, name=...)``: a new focal point
    with both targets and one subscription."""

    def build(
        country_iso3: str | None,
        min_level: RiskLevel,
        channel: Channel = Channel.EMAIL,
        *,
        active: bool = True,
        name: str = "Focal point",
    ) -> Subscription:
        focal_point = FocalPoint(
            name=name,
            email=f"{name.lower().replace(' ', '.')}@example.org",
            webhook_url="https://hooks.example.org/earlywarn",
            active=active,
        )
        session.add(focal_point)
        session.flush()
        subscription = Subscription(
            focal_point_id=focal_point.id,
            country_iso3=country_iso3,
            min_level=min_level,
            channel=channel,
        )
        session.add(subscription)
        session.flush()
        return subscription

    return build


# --- real receivers on loopback -------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Received:
    headers: dict[str, str]
    body: str


class WebhookReceiver:
    """A real HTTP server on loopback. ``script`` lists the status codes of the first answers
    (then 200). ``application`` is what a receiving application would process: one entry per
    webhook-id, however many times it arrives (receivers dedup on it, as the spec asks)."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.script: list[int] = []
        self.requests: list[Received] = []
        self.application: dict[str, dict[str, Any]] = {}
        self.hold = threading.Event()  # set: the next request hangs until released
        self.release = threading.Event()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/earlywarn"

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0"))).decode()
                headers = {k.lower(): v for k, v in self.headers.items()}
                with receiver._lock:
                    receiver.requests.append(Received(headers, body))
                    hang = receiver.hold.is_set()
                    receiver.hold.clear()
                    code = receiver.script.pop(0) if receiver.script else 200
                if hang:
                    receiver.release.wait(30)
                if 200 <= code < 300:
                    with receiver._lock:
                        receiver.application.setdefault(headers["webhook-id"], json.loads(body))
                try:
                    self.send_response(code)
                    self.send_header("content-length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the sender is gone (a killed worker): nothing to answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    server = WebhookReceiver().start()
    yield server
    server.stop()


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = BytesParser(policy=policy.default).parsebytes(envelope.content)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 OK"


@dataclass
class SmtpServer:
    host: str
    port: int
    inbox: _Inbox


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    inbox = _Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield SmtpServer("127.0.0.1", port, inbox)
    controller.stop()


def independent_verify(secret: str, headers: dict[str, str], body: str) -> bool:
    """Standard Webhooks verification written from the spec, without the library:
    base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}")) among the space-separated v1 values."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.{body}".encode()
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    offered = headers["webhook-signature"].split(" ")
    return any(hmac.compare_digest(f"v1,{expected}", candidate) for candidate in offered)


@pytest.fixture
def make_receiver() -> Iterator[Callable[..., WebhookReceiver]]:
    """``make_receiver(port=None, start=True)``: more receivers, on a chosen port if need be."""
    made: list[WebhookReceiver] = []

    def build(port: int | None = None, *, start: bool = True) -> WebhookReceiver:
        server = WebhookReceiver(port)
        made.append(server)
        return server.start() if start else server

    yield build
    for server in made:
        server.stop()


@pytest.fixture
def verify_signature() -> Callable[[str, dict[str, str], str], bool]:
    return independent_verify
