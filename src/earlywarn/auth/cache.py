"""A short-lived, per-process memory of verified API keys.

Looking the key up in the database was most of the cost of a cached read such as
``GET /scores/latest``. A verified key is remembered for ``ttl_seconds`` (5 by default), keyed
by its SHA-256 digest (never the key itself); unknown or revoked keys are never remembered.
Revoking a key forgets every remembered key of that database in this process at once, and again
after the revoking transaction commits; other processes forget it within ``ttl_seconds``.

One cache per database engine (looked up with ``for_engine``), so two applications on two
databases in one process (tests) never see each other's keys.
"""

from __future__ import annotations

import threading
import time
import weakref
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

if TYPE_CHECKING:  # service records revocations here: a runtime import would be circular
    from earlywarn.auth.service import Principal

DEFAULT_TTL_SECONDS = 5.0
MAX_ENTRIES = 10_000


@dataclass(frozen=True)
class _Entry:
    principal: Principal
    expires_at: float


class PrincipalCache:
    def __init__(self, ttl_seconds: float = DEFAULT_TTL_SECONDS) -> None:
        self.ttl_seconds = ttl_seconds
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()
        # Bumped by every revocation: a lookup that started before it may have read the key
        # as still valid, so what it found is not remembered.
        self._generation = 0

    @property
    def generation(self) -> int:
        return self._generation

    def get(self, key_hash: str) -> Principal | None:
        entry = self._entries.get(key_hash)
        if entry is None:
            return None
        if entry.expires_at <= time.monotonic():
            with self._lock:
                self._entries.pop(key_hash, None)
            return None
        return entry.principal

    def put(self, key_hash: str, principal: Principal, generation: int) -> None:
        """Remember ``principal`` unless a revocation happened since ``generation`` was read."""
        if self.ttl_seconds <= 0:
            return
        with self._lock:
            if generation != self._generation:
                return
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()  # many keys in 5 s: simpler to start over than to rank
            self._entries[key_hash] = _Entry(principal, time.monotonic() + self.ttl_seconds)

    def note_used(self, key_hash: str, when: datetime) -> None:
        """The remembered copy shows the key's new last use, so the write is not repeated."""
        with self._lock:
            entry = self._entries.get(key_hash)
            if entry is not None:
                principal = replace(entry.principal, last_used_at=when)
                self._entries[key_hash] = replace(entry, principal=principal)

    def forget_all(self) -> None:
        with self._lock:
            self._generation += 1
            self._entries.clear()


_caches: weakref.WeakKeyDictionary[Engine, PrincipalCache] = weakref.WeakKeyDictionary()
_caches_lock = threading.Lock()


def for_engine(engine: Engine, ttl_seconds: float | None = None) -> PrincipalCache:
    """The engine's cache; ``ttl_seconds`` (the application's setting) replaces its TTL."""
    cache = _caches.get(engine)
    if cache is None:
        with _caches_lock:
            cache = _caches.setdefault(engine, PrincipalCache())
    if ttl_seconds is not None:
        cache.ttl_seconds = ttl_seconds
    return cache


def _engine_of(session: Session) -> Engine:
    bind = session.get_bind()
    return bind if isinstance(bind, Engine) else bind.engine


def forget_on_revoke(session: Session) -> None:
    """Called by whatever revokes keys in ``session``: forget now and once it commits."""
    cache = _caches.get(_engine_of(session))
    if cache is None:
        return
    cache.forget_all()
    event.listen(session, "after_commit", lambda _session: cache.forget_all(), once=True)
