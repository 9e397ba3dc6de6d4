"""The Dockerfile's HEALTHCHECK asks the port the service is configured to listen on."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import uvicorn
from fastapi import FastAPI

REPO = Path(__file__).resolve().parent.parent


def _healthcheck_code() -> str:
    text = (REPO / "Dockerfile").read_text(encoding="utf-8")
    found = re.search(r'HEALTHCHECK[^\n]*\\\n\s*CMD python -c "([^"]+)"', text)
    assert found, "the Dockerfile has no python HEALTHCHECK"
    return found.group(1)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_the_healthcheck_follows_earlywarn_port() -> None:
    app = FastAPI()

    @app.get("/livez")
    def livez() -> dict[str, str]:
        return {"status": "alive"}

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        code = _healthcheck_code()
        env = {**os.environ, "EARLYWARN_PORT": str(port)}
        assert subprocess.run([sys.executable, "-c", code], env=env).returncode == 0
        env["EARLYWARN_PORT"] = str(_free_port())  # nothing listens there
        assert subprocess.run([sys.executable, "-c", code], env=env, capture_output=True).returncode
    finally:
        server.should_exit = True
        thread.join(timeout=10)
