"""The one interface every remote source is loaded through.

A connector is a small object: ``source_id`` and ``definition`` (what the ``sources`` table says
about it), ``missing_settings`` (which credentials are absent, so an unconfigured source is
reported as such instead of being skipped in silence), ``open_client`` (the ``httpx.Client``
with the source's base URL and timeout) and ``fetch`` (given a context and a client, one
``LoadedPayload``: records, content digest, redacted source URI, raw bodies for the archive).
``run_ingest`` does the rest: the run row, the vintage comparison, the archive, the commit.
The registry of connectors is ``earlywarn.ingest.registry``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

import httpx
from pydantic import BaseModel

from earlywarn.framework.config_schemas import IndicatorsConfig
from earlywarn.ingest.schemas import LoadedPayload, RawPayload
from earlywarn.settings import Settings


@dataclass(frozen=True)
class SourceDefinition:
    name: str
    kind: Literal["file", "api"]
    url: str | None
    licence: str | None


@dataclass(frozen=True)
class ConnectorContext:
    """Everything a fetch may depend on besides the HTTP client.

    ``source_config`` is the source's entry of ``config/sources.yaml`` (``None`` when absent:
    the connector uses its defaults). ``known_iso3s`` is the countries table, so connectors can
    report codes they cannot place instead of failing the load on them. ``sleep`` is injected so
    tests never wait for backoff or rate limits; ``progress`` receives one line per page.
    """

    settings: Settings
    indicators: IndicatorsConfig
    now: datetime
    known_iso3s: frozenset[str]
    source_config: BaseModel | None = None
    sleep: Callable[[float], None] = time.sleep
    progress: Callable[[str], None] | None = field(default=None)
    # Digest of the source's last successful load: a connector that can tell its bytes are
    # identical may skip decoding them (``details["parsing_skipped"]``; see worldbank).
    previous_digest: str | None = None
    # Connectors hand this list to SourceHttp(bodies=...): every body received lands here, so a
    # fetch that fails half-way can still archive what the source sent.
    received: list[RawPayload] = field(default_factory=list)

    def report(self, message: str) -> None:
        if self.progress is not None:
            self.progress(message)


class Connector(Protocol):
    source_id: str
    definition: SourceDefinition

    def missing_settings(self, settings: Settings) -> list[str]:
        """The environment variables this source needs but that are unset (empty when ready)."""
        ...

    def open_client(self, settings: Settings) -> httpx.Client:
        """A new client with this source's base URL and timeout; the caller closes it."""
        ...

    def fetch(self, context: ConnectorContext, client: httpx.Client) -> LoadedPayload:
        """One payload: every accepted record, the digest, the redacted URI, the raw bodies.
        Raises ``IngestError`` (or a subclass) naming the cause when the payload is unusable."""
        ...
