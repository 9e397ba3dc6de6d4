"""Service settings, read from the environment (prefix ``EARLYWARN_``) or a ``.env`` file."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

_PACKAGE_DIR = Path(__file__).resolve().parent
_REPO_DIR = _PACKAGE_DIR.parent.parent


def _bundled(repo_relative: str, packaged: str) -> Path:
    """A path inside the source checkout when running from one, else the copy in the wheel."""
    in_repo = _REPO_DIR / repo_relative
    return in_repo if in_repo.exists() else _PACKAGE_DIR / packaged


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EARLYWARN_", env_file=".env", extra="ignore")

    data_dir: Path = Field(
        default=Path("data"),
        description="Where the embedded SQLite database and archived payloads live.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL. Unset means a SQLite file in data_dir.",
    )
    config_dir: Path = Field(default_factory=lambda: _bundled("config", "_config"))
    # How long anything waits for the database before the caller is told it is unavailable
    # (503 with Retry-After in the API) instead of hanging with it.
    database_connect_timeout_seconds: int = Field(default=5, ge=2)
    database_statement_timeout_seconds: float = Field(
        default=30.0, gt=0, description="Longest statement (and, on SQLite, lock wait)."
    )
    database_pool_size: int = Field(default=10, ge=1)
    database_pool_max_overflow: int = Field(default=10, ge=0)
    database_pool_timeout_seconds: float = Field(
        default=10.0, gt=0, description="Longest wait for a free pooled connection."
    )
    max_request_body_bytes: int = Field(
        default=1024 * 1024, ge=1024, description="Larger request bodies get 413, unread."
    )
    api_key_last_used_interval_minutes: float = Field(
        default=15.0,
        ge=0,
        description="An API key's last use is written at most this often (reads stay reads).",
    )
    api_key_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        le=300,
        description="How long a process remembers a verified API key (0: never). A key revoked "
        "on another replica stops working there within this time.",
    )
    unavailable_retry_after_seconds: int = Field(
        default=5, ge=1, description="Retry-After sent with a 503 when the database is down."
    )
    secret_keys: SecretStr | None = Field(
        default=None,
        description="Fernet keys encrypting webhook secrets at rest, comma-separated, newest "
        "first. Unset: the embedded SQLite database keeps a generated key in a 0600 file "
        "beside it; any other database refuses to start.",
    )
    bootstrap_admin_key: SecretStr | None = Field(
        default=None,
        description="Registers this admin API key at start-up if no admin key exists yet.",
    )
    schedule_cron: str = Field(
        default="0 3 * * *",
        description="Crontab (UTC) for the scheduled pipeline run in `earlywarn serve`.",
    )
    scheduler_enabled: bool = True
    schedule_interval_seconds: float | None = Field(
        default=None,
        gt=0,
        description="Run the pipeline every this many seconds instead of `schedule_cron` "
        "(slots counted from 2000-01-01 UTC, the same on every scheduler).",
    )
    scheduler_tick_seconds: float = Field(
        default=2.0,
        gt=0,
        le=5,
        description="How often a scheduler heart-beats, and a follower tries to take the lead.",
    )
    models_dir: Path = Field(
        default=Path("models"),
        description="Forecasting model registry: one folder per version, promoted.json.",
    )
    host: str = "127.0.0.1"
    port: int = 8000
    worldbank_base_url: str = "https://api.worldbank.org/v2"
    unhcr_base_url: str = "https://api.unhcr.org/population/v1"
    sdg_base_url: str = "https://unstats.un.org/SDGAPI/v1"
    untc_base_url: str = "https://treaties.un.org"
    reliefweb_base_url: str = "https://api.reliefweb.int/v2"
    reliefweb_appname: str | None = Field(
        default=None,
        description="The appname ReliefWeb pre-approved for this installation (required since "
        "1 Nov 2025); without it the reliefweb source is reported as not configured.",
    )
    http_timeout_seconds: float = 30.0
    http_max_attempts: int = 4
    # Source credentials: a source whose credentials are unset is reported "not configured".
    ucdp_base_url: str = "https://ucdpapi.pcr.uu.se/api"
    ucdp_token: SecretStr | None = Field(
        default=None, description="UCDP API access token (header x-ucdp-access-token)."
    )
    acled_base_url: str = "https://acleddata.com"
    acled_username: str | None = Field(default=None, description="myACLED account e-mail.")
    acled_password: SecretStr | None = None
    gdelt_base_url: str = "https://api.gdeltproject.org/api/v2"
    # Alert delivery (the notify stage: e-mail and webhooks): where links in notifications
    # point, and the SMTP relay.
    public_base_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Base URL of this service, for links to alerts in e-mails and the CAP feed.",
    )
    ack_link_secret: SecretStr | None = Field(
        default=None,
        description="Signs the one-click acknowledge links in alert e-mails (32+ characters). "
        "Unset: one is generated once into data_dir/ack-link-secret (mode 0600).",
    )
    ack_link_max_age_hours: float = Field(
        default=168.0, gt=0, description="How long an e-mail's acknowledge link stays valid."
    )
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_from: str = "earlywarn@localhost"
    smtp_starttls: bool = False
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    webhook_allow_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Hosts webhooks may reach although they are (or resolve to) loopback, "
        "private or link-local addresses; comma-separated, e.g. 127.0.0.1,hooks.internal.",
    )
    delivery_enabled: bool = Field(
        default=True, description="Run the delivery worker and escalation job inside `serve`."
    )

    @field_validator("webhook_allow_hosts", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [host.strip() for host in value.split(",") if host.strip()]
        return value

    @field_validator("schedule_cron")
    @classmethod
    def _cron_has_five_fields(cls, value: str) -> str:
        if len(value.split()) != 5:
            raise ValueError(
                f"schedule_cron must have 5 fields (min hour day month weekday), got {value!r}"
            )
        return value

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'earlywarn.db').resolve()}"

    @property
    def alembic_dir(self) -> Path:
        return _bundled("alembic", "_alembic")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
