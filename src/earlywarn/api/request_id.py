"""A request id for every HTTP request: taken from ``X-Request-ID`` when the caller (or a
load balancer) sent a sane one, else generated; echoed in the response and put on every log
line written while the request is served (``current_request_id``)."""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = b"x-request-id"
_SANE = re.compile(rb"^[A-Za-z0-9._-]{1,64}$")
_current: ContextVar[str | None] = ContextVar("earlywarn_request_id", default=None)


def current_request_id() -> str | None:
    return _current.get()


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v for k, v in scope.get("headers", []) if k == HEADER), b"")
        request_id = given.decode() if _SANE.match(given) else uuid.uuid4().hex
        token = _current.set(request_id)

        async def with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (HEADER, request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, with_header)
        finally:
            _current.reset(token)
