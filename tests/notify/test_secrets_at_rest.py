"""Webhook secrets are stored encrypted (Fernet), signatures still verify at a real receiver on
loopback, the keys rotate, the migration encrypts secrets stored before it, and the key is
found or refused at start-up as docs/operations.md says. On SQLite and PostgreSQL."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from cryptography.fernet import Fernet
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker
from tests.notify.test_delivery import FAST

from earlywarn import encryption
from earlywarn.app.factory import create_app
from earlywarn.app.keys import configure_secrets
from earlywarn.app.migrations import alembic_config, upgrade_to_head
from earlywarn.db import create_db_engine, make_session_factory, session_scope
from earlywarn.framework.config import Configuration
from earlywarn.notify import outbox, service
from earlywarn.notify.delivery import DeliveryWorker, SmtpSettings
from earlywarn.notify.models import Channel, OutboxMessage, OutboxStatus, Subscription
from earlywarn.notify.schemas import FocalPointCreate
from earlywarn.settings import Settings
from earlywarn.types import RiskLevel

# The session's keys (tests/conftest.py), put back after each test that changes them.
SESSION_KEYS = os.environ[encryption.SECRET_KEYS_ENV]
KEY_A = Fernet.generate_key().decode()
KEY_B = Fernet.generate_key().decode()


@pytest.fixture
def ring() -> Iterator[Callable[[str], None]]:
    """``ring("B,A")`` sets the process's keys as EARLYWARN_SECRET_KEYS would; the session's
    test key is put back afterwards."""

    def use(keys: str) -> None:
        encryption.configure(encryption.KeyRing(encryption.parse_keys(keys)))

    yield use
    use(SESSION_KEYS)


def _stored(engine: Engine, focal_point_id: int) -> tuple[str | None, str | None]:
    """The columns as the database holds them, past the ORM."""
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT webhook_secret, webhook_secret_previous FROM focal_points WHERE id = :id"),
            {"id": focal_point_id},
        ).one()
    return row[0], row[1]


def _desk(session: Session, url: str) -> tuple[int, str]:
    desk = service.create_focal_point(session, FocalPointCreate(name="Sudan desk", webhook_url=url))
    session.commit()
    assert desk.webhook_secret is not None
    return desk.id, desk.webhook_secret


def _deliver_one(
    session: Session, factory: sessionmaker[Session], desk_id: int, make_alert: Any
) -> None:
    session.add(
        Subscription(
            focal_point_id=desk_id,
            country_iso3="SDN",
            min_level=RiskLevel.CONCERN,
            channel=Channel.WEBHOOK,
        )
    )
    session.flush()
    alert, opened = make_alert("SDN", RiskLevel.WARNING)
    (message,) = outbox.enqueue_alert_event(session, alert, opened)
    message_id = message.id
    session.commit()
    worker = DeliveryWorker(
        factory,
        FAST,
        SmtpSettings(host="127.0.0.1", port=9, sender="e@example.org", timeout_seconds=3),
        base_url="https://earlywarn.example.org",
        allow_hosts=["127.0.0.1"],
    )
    try:
        for _ in range(200):
            worker.deliver_due()
            with factory() as session:
                if session.get_one(OutboxMessage, message_id).status is OutboxStatus.SENT:
                    return
        raise AssertionError("the webhook was not delivered")
    finally:
        worker.close()


def test_the_stored_secret_is_encrypted_and_still_signs(
    engine: Engine,
    session: Session,
    session_factory: sessionmaker[Session],
    make_alert: Any,
    receiver: Any,
    verify_signature: Callable[[str, dict[str, str], str], bool],
) -> None:
    desk_id, secret = _desk(session, receiver.url)
    stored, _ = _stored(engine, desk_id)
    assert stored is not None
    assert secret.startswith("whsec_")
    assert stored != secret
    assert secret not in stored
    assert secret[6:] not in stored
    assert encryption.current().decrypt(stored) == secret

    _deliver_one(session, session_factory, desk_id, make_alert)
    (request,) = receiver.requests
    assert verify_signature(secret, request.headers, request.body)


def test_rotating_keys_re_encrypts_every_secret_under_the_newest(
    engine: Engine,
    session: Session,
    session_factory: sessionmaker[Session],
    make_alert: Any,
    receiver: Any,
    verify_signature: Callable[[str, dict[str, str], str], bool],
    ring: Callable[[str], None],
) -> None:
    ring(KEY_A)
    desk_id, secret = _desk(session, receiver.url)
    # A secret rotation in progress: two secrets stored.
    focal_point = service.rotate_webhook_secret(session, desk_id, overlap=timedelta(hours=1))
    new_secret = focal_point.webhook_secret
    assert focal_point.webhook_secret_previous == secret
    assert new_secret is not None
    session.commit()
    before = _stored(engine, desk_id)

    ring(f"{KEY_B},{KEY_A}")  # the new key first, the old one still there to read with
    assert service.reencrypt_webhook_secrets(session) == 1
    session.commit()
    after = _stored(engine, desk_id)
    assert after[0] != before[0]
    assert after[1] != before[1]
    for token, plain in zip(after, (new_secret, secret), strict=True):
        assert token is not None
        assert Fernet(KEY_B.encode()).decrypt(token.encode()).decode() == plain

    ring(KEY_B)  # the old key removed: everything still reads and signs
    _deliver_one(session, session_factory, desk_id, make_alert)
    (request,) = receiver.requests
    assert verify_signature(new_secret, request.headers, request.body)
    assert verify_signature(secret, request.headers, request.body)

    ring(KEY_A)  # a key ring without the key that encrypted them: a clear error, not garbage
    with (
        session_scope(session_factory) as scope,
        pytest.raises(encryption.SecretKeyError, match="was the key that encrypted it"),
    ):
        service.get_focal_point(scope, desk_id)


def test_the_migration_encrypts_secrets_stored_in_plain_text(engine: Engine) -> None:
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0017")
    plain = "whsec_" + "A" * 43 + "="
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO focal_points (name, active, created_at, is_administrator, "
                    "webhook_secret, webhook_consecutive_failures, email_consecutive_failures) "
                    "VALUES ('Old desk', true, CURRENT_TIMESTAMP, false, :s, 0, 0)"
                ),
                {"s": plain},
            )
            desk_id = connection.execute(text("SELECT max(id) FROM focal_points")).scalar_one()
    finally:
        upgrade_to_head(engine)
    stored, previous = _stored(engine, desk_id)
    assert previous is None
    assert stored is not None
    assert stored != plain
    assert encryption.current().decrypt(stored) == plain


def _settings(tmp_path: Path, **values: Any) -> Settings:
    return Settings(
        _env_file=None,
        data_dir=tmp_path,
        scheduler_enabled=False,
        bootstrap_admin_key=None,
        **values,
    )


def test_the_embedded_database_keeps_a_generated_key_owner_only(
    tmp_path: Path, configuration: Configuration
) -> None:
    database = tmp_path / "earlywarn.db"
    engine = create_db_engine(f"sqlite:///{database}")
    try:
        settings = _settings(tmp_path, secret_keys=None)
        configure_secrets(settings, engine)
        upgrade_to_head(engine)
        key_file = tmp_path / "earlywarn.db.secret-key"
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        key = key_file.read_text().strip()
        Fernet(key.encode())  # a real Fernet key
        with make_session_factory(engine)() as session:
            desk_id, secret = _desk(session, "https://hooks.example.org/x")
        # A second start (another process, a restart) reads the same key: the secret opens.
        encryption.configure(encryption.KeyRing([Fernet.generate_key().decode()]))
        create_app(settings=settings, engine=engine, configuration=configuration)
        assert key_file.read_text().strip() == key
        with session_scope(make_session_factory(engine)) as session:
            assert service.get_focal_point(session, desk_id).webhook_secret == secret
    finally:
        engine.dispose()
        encryption.configure(encryption.KeyRing(encryption.parse_keys(SESSION_KEYS)))


def test_a_server_database_without_a_key_refuses_to_start(
    engine: Engine, tmp_path: Path, configuration: Configuration
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("the embedded SQLite database makes its own key")
    with pytest.raises(encryption.SecretKeyError, match="EARLYWARN_SECRET_KEYS is not set"):
        create_app(
            settings=_settings(tmp_path, secret_keys=None),
            engine=engine,
            configuration=configuration,
        )
    with pytest.raises(encryption.SecretKeyError, match="key 2 of 2 is not a Fernet key"):
        create_app(
            settings=_settings(tmp_path, secret_keys=f"{KEY_A},not-a-key"),
            engine=engine,
            configuration=configuration,
        )


def test_the_key_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``secret-key`` prints a usable key; ``rotate-secrets`` re-encrypts under the first key
    of EARLYWARN_SECRET_KEYS, through the command line as an administrator runs it."""
    from typer.testing import CliRunner

    from earlywarn.app.cli import app as cli
    from earlywarn.settings import get_settings

    runner = CliRunner()
    made = runner.invoke(cli, ["secret-key"])
    assert made.exit_code == 0, made.output
    new = made.output.strip()
    Fernet(new.encode())

    database = tmp_path / "earlywarn.db"
    monkeypatch.setenv("EARLYWARN_DATABASE_URL", f"sqlite:///{database}")
    monkeypatch.setenv("EARLYWARN_DATA_DIR", str(tmp_path))
    monkeypatch.setenv(encryption.SECRET_KEYS_ENV, KEY_A)
    get_settings.cache_clear()
    engine = create_db_engine(f"sqlite:///{database}")
    try:
        encryption.configure(encryption.KeyRing([KEY_A]))
        upgrade_to_head(engine)
        with make_session_factory(engine)() as session:
            desk_id, secret = _desk(session, "https://hooks.example.org/x")
        monkeypatch.setenv(encryption.SECRET_KEYS_ENV, f"{new},{KEY_A}")
        get_settings.cache_clear()
        rotated = runner.invoke(cli, ["rotate-secrets"])
        assert rotated.exit_code == 0, rotated.output
        assert "of 1 focal point(s)" in rotated.output
        stored, _ = _stored(engine, desk_id)
        assert stored is not None
        assert Fernet(new.encode()).decrypt(stored.encode()).decode() == secret
    finally:
        engine.dispose()
        get_settings.cache_clear()
        encryption.configure(encryption.KeyRing(encryption.parse_keys(SESSION_KEYS)))
