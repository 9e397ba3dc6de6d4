"""A real HTTP server on 127.0.0.1 serving a recorded source payload, for "Ingest now" tests:
the source's configured URL points at it, so the ingest runs exactly as in production.

``gate`` holds every answer until it is set (a run that is still running); ``status`` other
than 200 answers that error instead of the payload."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

PTS_FIXTURE = Path("fixtures") / "pts" / "PTS-2024_SUBSET_selected_countries_2021-2023.csv"
PTS_PATH = "/PTS-2024.csv"


@dataclass
class PayloadServer:
    body: bytes
    base_url: str = ""
    status: int = 200
    gate: threading.Event = field(default_factory=threading.Event)
    requests: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.base_url + PTS_PATH


@contextmanager
def serving(body: bytes) -> Iterator[PayloadServer]:
    payload = PayloadServer(body)
    payload.gate.set()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            payload.requests.append(self.path)
            payload.gate.wait(timeout=60)
            if self.path != PTS_PATH or payload.status != 200:
                code = payload.status if payload.status != 200 else 404
                self.send_error(code, "recorded failure")
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/csv")
            self.send_header("Content-Length", str(len(payload.body)))
            self.end_headers()
            self.wfile.write(payload.body)

        def log_message(self, format: str, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    payload.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield payload
    finally:
        payload.gate.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
