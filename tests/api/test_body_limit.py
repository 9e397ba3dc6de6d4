"""Request bodies over the limit get 413 before they are read; a 422 echoes only an excerpt."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import Engine

from earlywarn.api.limits import EXCERPT_CHARS
from earlywarn.app.factory import create_app
from earlywarn.framework.config import Configuration
from earlywarn.settings import Settings
from earlywarn.types import Role

LIMIT = 64 * 1024
REASON = f"request body too large: at most {LIMIT} bytes are accepted"


@pytest.fixture
def limited_client(
    engine: Engine,
    configuration: Configuration,
    make_settings: Callable[..., Settings],
    testclient_class: Any,
) -> Iterator[Any]:
    app = create_app(
        settings=make_settings(max_request_body_bytes=LIMIT),
        engine=engine,
        configuration=configuration,
    )
    with testclient_class(app) as client:
        yield client


def test_a_declared_length_over_the_limit_is_413_without_a_key(limited_client: Any) -> None:
    response = limited_client.post(
        "/api-keys", content=b"{" + b" " * (LIMIT + 10) + b"}", headers={"content-type": "x"}
    )
    assert response.status_code == 413
    assert response.json() == {"detail": REASON}


def test_a_streamed_body_is_counted_and_cut_at_the_limit(
    limited_client: Any, keys: dict[Role, str]
) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(8):
            yield b" " * (LIMIT // 4)

    response = limited_client.post(
        "/api-keys",
        content=chunks(),  # no Content-Length: sent chunked
        headers={"X-API-Key": keys[Role.ADMIN], "content-type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json() == {"detail": REASON}


def test_a_body_under_the_limit_is_served(limited_client: Any, keys: dict[Role, str]) -> None:
    response = limited_client.post(
        "/api-keys",
        json={"name": "dashboard", "role": "analyst"},
        headers={"X-API-Key": keys[Role.ADMIN]},
    )
    assert response.status_code == 201, response.text


def test_a_422_echoes_only_an_excerpt_of_the_input(
    limited_client: Any, keys: dict[Role, str]
) -> None:
    huge = "x" * (LIMIT - 1000)
    response = limited_client.post(
        "/api-keys",
        json={"name": "n", "role": huge},
        headers={"X-API-Key": keys[Role.ADMIN]},
    )
    assert response.status_code == 422
    assert len(response.content) < 2000
    [error] = [e for e in response.json()["detail"] if e["loc"] == ["body", "role"]]
    assert error["input"].startswith("x" * EXCERPT_CHARS)
    assert error["input"].endswith("characters, truncated)")
    # A short input is still shown as it was.
    short = limited_client.post(
        "/api-keys", json={"name": "n", "role": "chief"}, headers={"X-API-Key": keys[Role.ADMIN]}
    )
    assert short.status_code == 422
    assert any(e["input"] == "chief" for e in short.json()["detail"])


@pytest.fixture
def live_server(limited_app: FastAPI) -> Iterator[int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(limited_app, host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    yield port
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def limited_app(
    engine: Engine, configuration: Configuration, make_settings: Callable[..., Settings]
) -> FastAPI:
    return create_app(
        settings=make_settings(max_request_body_bytes=LIMIT),
        engine=engine,
        configuration=configuration,
    )


def test_the_refusal_comes_before_any_of_the_body_is_sent(live_server: int) -> None:
    """A real server: 300 MB announced, not one byte sent, and the 413 arrives anyway."""
    with socket.create_connection(("127.0.0.1", live_server), timeout=10) as conn:
        conn.sendall(
            b"POST /api-keys HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: 314572800\r\n\r\n"
        )
        received = b""
        while chunk := conn.recv(65536):  # the server closes the connection after its answer
            received += chunk
        answer = received.decode()
    assert answer.startswith("HTTP/1.1 413")
    assert REASON in answer
