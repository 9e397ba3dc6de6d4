"""``/livez``, ``/readyz`` and ``/metrics`` (no API key), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from earlywarn.auth.models import FocalPoint
from earlywarn.db import session_scope, utc_now
from earlywarn.notify.models import Channel, OutboxMessage
from earlywarn.types import Role


def test_livez_and_readyz_answer_without_a_key(client: Any) -> None:
    assert client.get("/livez").json() == {"status": "alive"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ready",
        "database": "ok",
        "schema": "ok",
        "configuration": "ok",
    }


def test_readyz_is_503_when_the_schema_is_not_the_one_the_code_expects(
    client: Any, engine: Engine
) -> None:
    with engine.begin() as conn:
        (head,) = conn.execute(text("SELECT version_num FROM alembic_version")).one()
        conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    try:
        response = client.get("/readyz")
        assert response.status_code == 503
        assert "retry-after" in response.headers
        body = response.json()
        assert body["status"] == "not ready"
        assert body["schema"].startswith("at ['0001'], code expects")
        assert client.get("/livez").status_code == 200  # alive all the same
    finally:
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": head})


def test_metrics_count_requests_by_route_and_report_the_outbox(
    client: Any, keys: dict[Role, str], session_factory: sessionmaker[Session]
) -> None:
    with session_scope(session_factory) as session:
        desk = FocalPoint(name="Desk", email="desk@example.org", active=True)
        session.add(desk)
        session.flush()
        session.add(
            OutboxMessage(
                dedup_key="m1",
                purpose="notice",
                focal_point_id=desk.id,
                channel=Channel.EMAIL,
                target="desk@example.org",
                payload={},
                created_at=utc_now() - timedelta(minutes=10),
            )
        )
    reader = {"X-API-Key": keys[Role.ANALYST]}
    assert client.get("/alerts/999999", headers=reader).status_code == 404
    assert client.get("/alerts", headers=reader).status_code == 200

    body = client.get("/metrics").text
    assert (
        'earlywarn_http_requests_total{method="GET",route="/alerts/{alert_id}",status="404"}'
        in (body)
    )
    assert 'earlywarn_http_requests_total{method="GET",route="/alerts",status="200"} 1.0' in body
    assert "earlywarn_http_request_duration_seconds_bucket" in body
    assert "earlywarn_metrics_database_up 1.0" in body
    assert "earlywarn_outbox_pending_messages 1.0" in body
    age = next(
        line for line in body.splitlines() if line.startswith("earlywarn_outbox_oldest_pending")
    )
    assert 590 < float(age.split()[-1]) < 3600


def test_every_response_has_a_request_id_and_log_lines_carry_it(
    client: Any, testclient_class: Any
) -> None:
    import json
    import logging

    from starlette.responses import PlainTextResponse

    from earlywarn.api.request_id import RequestIdMiddleware, current_request_id
    from earlywarn.app.logs import JsonFormatter

    given = client.get("/livez", headers={"X-Request-ID": "lb-1234"})
    assert given.headers["x-request-id"] == "lb-1234"
    made = client.get("/livez", headers={"X-Request-ID": "bad id!"})
    assert len(made.headers["x-request-id"]) == 32
    assert current_request_id() is None  # nothing leaks out of a request

    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = Collect()
    handler.setFormatter(JsonFormatter())
    log = logging.getLogger("earlywarn.test.request_id")
    log.addHandler(handler)
    log.setLevel(logging.INFO)

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        log.info("serving %s", scope["path"])
        await PlainTextResponse("ok")(scope, receive, send)

    try:
        # Not as a context manager: no lifespan, which this bare app does not speak.
        testclient_class(RequestIdMiddleware(inner)).get("/x", headers={"X-Request-ID": "req-42"})
    finally:
        log.removeHandler(handler)
    entry = json.loads(lines[-1])
    assert entry["message"] == "serving /x"
    assert entry["request_id"] == "req-42"
    assert entry["level"] == "INFO"
