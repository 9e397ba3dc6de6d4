"""Keys for secrets at rest: ``secret-key`` (make one) and ``rotate-secrets`` (re-encrypt every
stored secret under the newest key). The procedure: docs/operations.md, Keys and secrets."""

from __future__ import annotations

from earlywarn import encryption
from earlywarn.app.cli._shared import console, database
from earlywarn.db import session_scope
from earlywarn.notify import service as notify_service
from earlywarn.settings import get_settings


def secret_key() -> None:
    """Print a new key for EARLYWARN_SECRET_KEYS (nothing is stored)."""
    console.print(encryption.new_key())


def rotate_secrets() -> None:
    """Re-encrypt every stored webhook secret with the first key of EARLYWARN_SECRET_KEYS."""
    settings = get_settings()
    with database(settings) as (_, factory), session_scope(factory) as session:
        count = notify_service.reencrypt_webhook_secrets(session)
    console.print(
        f"re-encrypted the webhook secrets of {count} focal point(s) with the newest key; "
        "the older keys can now be removed from EARLYWARN_SECRET_KEYS"
    )
