"""The process's key ring for secrets at rest (earlywarn.encryption), from the settings and the
database in use; every entry point (the application, each command) sets it before any work."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from earlywarn import encryption
from earlywarn.settings import Settings


def configure_secrets(settings: Settings, engine: Engine) -> None:
    """Raises ``encryption.SecretKeyError`` (a start-up error) when no usable key is set."""
    keys = settings.secret_keys.get_secret_value() if settings.secret_keys else None
    database_file: Path | None = None
    if engine.dialect.name == "sqlite":
        name = engine.url.database
        if not name or name == ":memory:":
            # Nothing outlives the process, so neither need the key.
            encryption.configure(
                encryption.KeyRing(encryption.parse_keys(keys or encryption.new_key()))
            )
            return
        database_file = Path(name).resolve()
    encryption.configure(encryption.key_ring_for(keys, database_file))
