"""Log lines as one JSON object each, with the request id of the request being served.

``earlywarn serve`` (and the worker) write their logs this way so that a log collector can
parse them without patterns: ``{"time", "level", "logger", "message", "request_id"?, "error"?}``.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from earlywarn.api.request_id import current_request_id

# APScheduler logs two INFO lines ("Running job", "executed successfully") for every run of
# every job: with the delivery job every 15 s, an idle scheduler was never quiet.
QUIET_LOGGERS = ("apscheduler.executors.default", "apscheduler.scheduler")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = current_request_id()
        if request_id is not None:
            entry["request_id"] = request_id
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure(level: int = logging.INFO) -> None:
    """JSON lines on stderr for the root logger (uvicorn's loggers propagate to it)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
