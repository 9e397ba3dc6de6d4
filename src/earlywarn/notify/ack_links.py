"""Signed, expiring one-click acknowledge links for alert e-mails.

A link names one alert and the focal point it was sent to, signed with a secret only the
service knows (``itsdangerous``: HMAC-SHA1 over the payload and a timestamp, checked in
constant time). Whoever holds the link may acknowledge that alert as that focal point until it
expires; it grants nothing else. Opening it never changes anything: the page asks to confirm.

The secret is ``EARLYWARN_ACK_LINK_SECRET`` when set; otherwise one is generated once and kept
in ``data_dir/ack-link-secret`` (mode 0600), so the web server and the delivery worker of one
installation sign and check with the same secret without any set-up.
"""

from __future__ import annotations

import logging
import os
import secrets
import tempfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from earlywarn.settings import Settings

logger = logging.getLogger(__name__)

SECRET_FILE_NAME = "ack-link-secret"
# Kept apart from any other use of the same secret: a token signed for something else never
# reads as an acknowledge link.
_SALT = "earlywarn.alert-acknowledge-link.v1"
_SECRET_MIN_CHARS = 32


class AckLinkError(ValueError):
    """The link cannot be used; the message is for the person who clicked it."""


class AckLinkExpired(AckLinkError):
    pass


class AckLinkInvalid(AckLinkError):
    pass


@dataclass(frozen=True)
class AckGrant:
    """What a valid link allows: acknowledge ``alert_id`` as ``focal_point_id``."""

    alert_id: int
    focal_point_id: int


class AckLinks:
    def __init__(self, secret: str, max_age: timedelta) -> None:
        if len(secret) < _SECRET_MIN_CHARS:
            raise ValueError(f"the acknowledge-link secret needs {_SECRET_MIN_CHARS}+ characters")
        self._serializer = URLSafeTimedSerializer(secret, salt=_SALT)
        self.max_age = max_age

    def token(self, alert_id: int, focal_point_id: int) -> str:
        return self._serializer.dumps({"a": alert_id, "f": focal_point_id})

    def path(self, alert_id: int, focal_point_id: int) -> str:
        return f"/ack/{self.token(alert_id, focal_point_id)}"

    def url(self, base_url: str, alert_id: int, focal_point_id: int) -> str:
        return base_url.rstrip("/") + self.path(alert_id, focal_point_id)

    def read(self, token: str) -> AckGrant:
        try:
            data = self._serializer.loads(token, max_age=int(self.max_age.total_seconds()))
        except SignatureExpired as exc:
            raise AckLinkExpired(
                f"This acknowledge link has expired (links are valid for {self.max_age_text}). "
                "Sign in and acknowledge the alert from its page."
            ) from exc
        except BadSignature as exc:
            raise AckLinkInvalid(
                "This acknowledge link is not valid: it may have been cut short or changed. "
                "Copy the whole link from the e-mail, or sign in and open the alert."
            ) from exc
        try:
            return AckGrant(alert_id=int(data["a"]), focal_point_id=int(data["f"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise AckLinkInvalid("This acknowledge link is not valid.") from exc

    @property
    def max_age_text(self) -> str:
        hours = self.max_age.total_seconds() / 3600
        return f"{hours / 24:g} days" if hours >= 48 else f"{hours:g} hours"


def persisted_secret(data_dir: Path) -> str:
    """The installation's generated secret, created once (0600, never overwritten)."""
    path = data_dir / SECRET_FILE_NAME
    try:
        return _read_secret(path)
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    # Written whole to a private temporary file, then linked into place: the link fails if
    # another process got there first, so every process reads the one complete secret.
    fd, temporary = tempfile.mkstemp(prefix=".ack-link-secret.", dir=data_dir)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(secrets.token_urlsafe(48) + "\n")
        os.chmod(temporary, 0o600)
        try:
            os.link(temporary, path)
            logger.info("generated the acknowledge-link secret in %s", path)
        except FileExistsError:
            pass
    finally:
        os.unlink(temporary)
    return _read_secret(path)


def _read_secret(path: Path) -> str:
    secret = path.read_text(encoding="ascii").strip()
    if len(secret) < _SECRET_MIN_CHARS:
        raise AckLinkError(f"{path} holds no usable secret; delete it to generate a new one")
    return secret


def from_settings(settings: Settings) -> AckLinks:
    configured = settings.ack_link_secret
    if configured is not None:
        secret = configured.get_secret_value()
    else:
        try:
            secret = persisted_secret(settings.data_dir)
        except OSError as exc:
            raise AckLinkError(
                f"cannot keep the acknowledge-link secret in {settings.data_dir} ({exc}); "
                "make that directory writable or set EARLYWARN_ACK_LINK_SECRET"
            ) from exc
    return AckLinks(secret, timedelta(hours=settings.ack_link_max_age_hours))
