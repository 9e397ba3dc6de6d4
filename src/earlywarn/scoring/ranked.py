"""The ranked score list (``GET /scores/latest``, ``GET /scores``) and its per-run cache.

A finished run's scores never change, so the latest run's ranked list is serialised once per run
(and per query) and then served as stored bytes with an ``ETag``: a request costs the key check
(remembered briefly, auth.cache) and at most one small query for the latest run id (at most ten
a second, ``LatestRun``), not 168 rows decoded and re-encoded. A new run has a new id, so
nothing needs invalidating; entries of older runs fall out of the small LRU.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

from earlywarn.scoring.schemas import (
    CountryScoreOut,
    FactorName,
    FactorScore,
    RankedCountryScore,
    RankedScores,
    ScoreRunOut,
)

# Clients may reuse a copy for a minute; after that they ask again (If-None-Match: 304).
CACHE_CONTROL = "private, max-age=60"
CACHE_ENTRIES = 32
# How long the latest run's id, once read, answers without asking the database again. Under
# load this turns one query per request into at most ten a second; a run that has just
# succeeded is served at most this long after its commit (clients already keep a copy 60 s).
LATEST_RUN_RECHECK_SECONDS = 0.1
# A read of the latest run taking longer than this no longer holds other requests back.
STUCK_READ_SECONDS = 2.0


def ranked_scores(run: ScoreRunOut, rows: Sequence[CountryScoreOut]) -> RankedScores:
    """The response: factor names once, rows with each factor's number, score and coverage."""
    factors: list[FactorName] = []
    for row in rows:
        if row.factors:
            factors = [FactorName(number=f.number, name=f.name) for f in row.factors]
            break
    ranked = [
        RankedCountryScore(
            **row.model_dump(exclude={"factors"}),
            factors=[
                FactorScore(number=f.number, score=f.score, coverage=f.coverage)
                for f in row.factors
            ],
        )
        for row in rows
    ]
    return RankedScores(run=run, factors=factors, count=len(ranked), scores=ranked)


class LatestRun:
    """The latest run's cache key as last read from the database, and when.

    One request at a time reads it again once it is older than ``recheck_seconds``; requests
    arriving meanwhile use the key they have (at most that read's duration older), instead of
    all querying at once.
    """

    def __init__(self, recheck_seconds: float = LATEST_RUN_RECHECK_SECONDS) -> None:
        self._recheck_seconds = recheck_seconds
        self._key: Hashable | None = None
        self._read_at = 0.0
        self._reading_since: float | None = None

    def recent(self) -> Hashable | None:
        """The key to serve without asking the database, or None: this caller reads it."""
        now = time.monotonic()
        if now - self._read_at < self._recheck_seconds:
            return self._key
        reading = self._reading_since
        if reading is not None and now - reading < STUCK_READ_SECONDS:
            return self._key  # another request is reading it right now
        self._reading_since = now
        return None

    def remember(self, key: Hashable | None, read_at: float) -> None:
        """What a read found (None: no run, or the read failed), and when it started."""
        if read_at >= self._read_at:  # a slower, older read never replaces a newer one
            self._key, self._read_at = key, read_at
        self._reading_since = None


@dataclass(frozen=True)
class Rendered:
    body: bytes
    etag: str

    def matches(self, if_none_match: str | None) -> bool:
        """RFC 9110: a list of tags or ``*``; weak comparison (a ``W/`` prefix is ignored)."""
        if not if_none_match:
            return False
        tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
        return "*" in tags or self.etag in tags


class RenderedCache:
    """A small LRU of rendered responses, per application (its own database's runs)."""

    def __init__(self, entries: int = CACHE_ENTRIES) -> None:
        self._entries = entries
        self._items: OrderedDict[Hashable, Rendered] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Rendered | None:
        with self._lock:
            return self._items.get(key)

    def get_or_render(self, key: Hashable, render: Callable[[], bytes]) -> Rendered:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                return found
        # Rendered outside the lock: two first requests may both render; both get equal bytes.
        body = render()
        rendered = Rendered(body, f'"{hashlib.sha256(body).hexdigest()[:32]}"')
        with self._lock:
            self._items[key] = rendered
            while len(self._items) > self._entries:
                self._items.popitem(last=False)
        return rendered
