"""Secrets encrypted at rest (webhook signing secrets), with ``cryptography``'s Fernet.

The keys come from ``EARLYWARN_SECRET_KEYS`` (comma-separated, newest first: the first encrypts,
every one decrypts, so a new key can be put in front and the old ones dropped after
``earlywarn rotate-secrets``). The embedded default (SQLite, no key set) generates a key once
and keeps it owner-only beside the database file (``<database>.secret-key``), so the README's
two commands need no setup; any other database without a key refuses to start.

Columns typed ``EncryptedText`` hold a Fernet token; the application only ever sees the plain
value. The key ring is per process, set by the composition root (``configure``) before the
first such column is read or written.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import Dialect, Text
from sqlalchemy.types import TypeDecorator

KEY_FILE_SUFFIX = ".secret-key"
SECRET_KEYS_ENV = "EARLYWARN_SECRET_KEYS"


class SecretKeyError(RuntimeError):
    """The keys are missing, malformed, or do not open a stored secret; the message says why."""


class KeyRing:
    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise SecretKeyError(f"{SECRET_KEYS_ENV} names no key")
        fernets = []
        for position, key in enumerate(keys, start=1):
            try:
                fernets.append(Fernet(key.encode("ascii")))
            except (ValueError, UnicodeEncodeError) as exc:
                raise SecretKeyError(
                    f"{SECRET_KEYS_ENV}: key {position} of {len(keys)} is not a Fernet key "
                    "(32 url-safe base64-encoded bytes; make one with `earlywarn secret-key`)"
                ) from exc
        self._fernet = MultiFernet(fernets)

    def encrypt(self, plain: str) -> str:
        return self._fernet.encrypt(plain.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeEncodeError) as exc:
            raise SecretKeyError(
                "a stored secret cannot be decrypted with the keys in "
                f"{SECRET_KEYS_ENV}: was the key that encrypted it removed? Put it back "
                "(after the new one) and run `earlywarn rotate-secrets`"
            ) from exc


_ring: KeyRing | None = None


def configure(ring: KeyRing) -> None:
    global _ring
    _ring = ring


def current() -> KeyRing:
    if _ring is None:
        raise SecretKeyError("no secret key configured in this process (a bug: see configure)")
    return _ring


def parse_keys(value: str) -> list[str]:
    return [key.strip() for key in value.split(",") if key.strip()]


def new_key() -> str:
    return Fernet.generate_key().decode("ascii")


def key_file_for(database_file: Path) -> Path:
    return database_file.with_name(database_file.name + KEY_FILE_SUFFIX)


def embedded_key(database_file: Path) -> str:
    """The embedded database's key: read from its key file, or made once and stored there
    owner-only (``O_EXCL``: two processes starting together end up with the same key)."""
    path = key_file_for(database_file)
    try:
        return _read_or_create(path)
    except OSError as exc:
        raise SecretKeyError(
            f"cannot read or create the key file {path} ({exc.strerror}): make its folder "
            f"writable for the first start, or set {SECRET_KEYS_ENV}"
        ) from exc


def _read_or_create(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        descriptor = None
    if descriptor is None:
        for _ in range(50):  # another process may have created the file and not written yet
            key = path.read_text(encoding="ascii").strip()
            if key:
                return key
            time.sleep(0.02)
        raise SecretKeyError(f"the key file {path} is empty; delete it if no secret was stored")
    key = new_key()
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(key + "\n")
    return key


def key_ring_for(secret_keys: str | None, database_file: Path | None) -> KeyRing:
    """The key ring from the setting, else (embedded SQLite only) from the key file."""
    if secret_keys and secret_keys.strip():
        return KeyRing(parse_keys(secret_keys))
    if database_file is None:
        raise SecretKeyError(
            f"{SECRET_KEYS_ENV} is not set: a server database needs it to encrypt webhook "
            "secrets. Make a key with `earlywarn secret-key` and set it in every process's "
            "environment (see docs/operations.md, Keys and secrets)"
        )
    return KeyRing([embedded_key(database_file)])


class EncryptedText(TypeDecorator[str]):
    """A string stored as a Fernet token (text); ``None`` stays ``NULL``."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else current().encrypt(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else current().decrypt(value)
