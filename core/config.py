"""One typed Settings object for the whole service, read from the environment (prefix GLUCODIARY_)."""

from __future__ import annotations

import secrets
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, PrivateAttr, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MIN_SECRET_BYTES = 32


class Environment(StrEnum):
    development = "development"
    test = "test"
    production = "production"


class DatabaseSettings(BaseModel):
    url: str = Field(
        default="",
        description="SQLAlchemy async URL; empty means a SQLite file in the data directory.",
    )
    echo: bool = Field(default=False, description="Log every SQL statement.")
    pool_size: int = Field(default=10, ge=1, description="PostgreSQL connections kept per process.")
    max_overflow: int = Field(default=10, ge=0, description="Extra PostgreSQL connections under load.")
    pool_recycle_s: int = Field(
        default=1800, ge=1, description="Seconds after which a pooled PostgreSQL connection is replaced."
    )
    pool_timeout_s: float = Field(default=5.0, gt=0, description="Seconds to wait for a pooled connection.")
    connect_timeout_s: float = Field(
        default=3.0, gt=0, description="Seconds to wait when opening a connection."
    )
    sqlite_busy_timeout_ms: int = Field(default=5000, ge=0, description="SQLite lock wait before an error.")


class SecuritySettings(BaseModel):
    jwt_secret: SecretStr | None = Field(
        default=None,
        description="HS256 signing key. Required (>= 32 bytes) in production; generated into the data "
        "directory in development.",
    )
    jwt_issuer: str = Field(default="glucodiary", description="`iss` of issued access tokens.")
    jwt_audience: str = Field(default="glucodiary-api", description="`aud` of issued access tokens.")
    access_token_minutes: int = Field(default=15, ge=1, le=60, description="Access token lifetime.")
    refresh_token_days: int = Field(default=30, ge=1, le=365, description="Refresh token lifetime.")
    refresh_race_seconds: int = Field(
        default=30,
        ge=0,
        le=300,
        description="A spent refresh token presented again within this many seconds of its rotation is a "
        "race of the same client (401, family kept), later it is theft (family revoked).",
    )
    clock_skew_seconds: int = Field(default=30, ge=0, le=300, description="Leeway for token `iat`/`exp`.")
    argon2_time_cost: int = Field(default=3, ge=1, description="Argon2 iterations (tests may lower it).")
    argon2_memory_kib: int = Field(default=65536, ge=8, description="Argon2 memory in KiB.")
    argon2_parallelism: int = Field(default=4, ge=1, description="Argon2 lanes.")
    login_free_failures: int = Field(default=5, ge=1, description="Failed logins before throttling starts.")
    login_max_delay_seconds: int = Field(default=900, ge=1, description="Longest throttling delay.")
    login_address_free_failures: int = Field(
        default=20, ge=1, description="Failed logins from one client address before throttling starts."
    )
    invitation_days: int = Field(default=7, ge=1, le=60, description="Lifetime of an invitation code.")
    clinic_idle_minutes: int = Field(
        default=30, ge=1, le=720, description="A clinic dashboard session ends after this long unused."
    )
    clinic_absolute_hours: int = Field(
        default=12, ge=1, le=72, description="A clinic dashboard session ends this long after sign-in."
    )


class HttpSettings(BaseModel):
    cors_origins: list[str] = Field(default_factory=list, description="Origins allowed by CORS (exact).")
    max_body_bytes: int = Field(default=1_048_576, ge=1024, description="Largest accepted request body.")
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Proxy addresses whose X-Forwarded-For is believed (e.g. the load balancer).",
    )
    hsts_seconds: int = Field(default=31_536_000, ge=0, description="max-age of Strict-Transport-Security.")


class DiarySettings(BaseModel):
    late_after_hours: int = Field(default=24, ge=1, description="Entries entered later than this are `late`.")
    future_skew_minutes: int = Field(
        default=5, ge=0, le=60, description="Allowed clock skew into the future."
    )
    batch_max_entries: int = Field(default=1000, ge=1, le=5000, description="Largest batch upload.")


class NotificationSettings(BaseModel):
    """Delivery of queued messages (notifications/): channels, retries and the dispatcher's lease."""

    smtp_host: str = Field(default="", description="SMTP server; empty means no e-mail channel.")
    smtp_port: int = Field(default=587, ge=1, le=65535, description="SMTP port.")
    smtp_from: str = Field(default="glucodiary@localhost", description="From address of e-mails.")
    smtp_tls: Literal["none", "starttls", "tls"] = Field(
        default="starttls", description="none, starttls (upgrade after connecting) or tls (implicit TLS)."
    )
    smtp_username: str = Field(default="", description="SMTP login; empty means none.")
    smtp_password: SecretStr | None = Field(default=None, description="SMTP password.")
    smtp_timeout_s: float = Field(default=10.0, gt=0, description="Seconds to wait for the SMTP server.")
    webhook_url: str = Field(default="", description="SMS/push gateway URL; empty means no webhook channel.")
    webhook_secret: SecretStr | None = Field(
        default=None, description="HMAC-SHA256 key signing each webhook body (required with a URL)."
    )
    webhook_allow_hosts: list[str] = Field(
        default_factory=list,
        description="Private, loopback or link-local addresses (or networks) the webhook may reach anyway.",
    )
    webhook_timeout_s: float = Field(default=5.0, gt=0, description="Seconds to wait for the gateway.")
    max_attempts: int = Field(default=8, ge=1, le=100, description="Attempts before a message is dead.")
    backoff_base_s: float = Field(default=30.0, gt=0, description="First retry delay; doubles each time.")
    backoff_max_s: float = Field(default=3600.0, gt=0, description="Longest retry delay.")
    lease_s: int = Field(default=60, ge=1, description="Seconds a dispatcher holds claimed messages.")
    batch_size: int = Field(default=100, ge=1, le=1000, description="Messages claimed at once.")
    concurrency: int = Field(default=16, ge=1, le=256, description="Sends in flight per dispatcher.")
    poll_s: float = Field(default=1.0, gt=0, description="Seconds between looks at an empty queue.")
    link_base_url: str = Field(
        default="http://127.0.0.1:8000", description="Where e-mails tell people to look (the dashboard)."
    )

    @model_validator(mode="after")
    def _a_webhook_needs_a_secret(self) -> NotificationSettings:
        secret = self.webhook_secret.get_secret_value() if self.webhook_secret else ""
        if self.webhook_url and len(secret.encode()) < MIN_SECRET_BYTES:
            raise ValueError(
                "GLUCODIARY_NOTIFICATIONS__WEBHOOK_SECRET must be set to at least 32 bytes when "
                "GLUCODIARY_NOTIFICATIONS__WEBHOOK_URL is set (the gateway checks each body's signature)"
            )
        return self


class BackgroundSettings(BaseModel):
    in_api: bool = Field(
        default=False,
        description="Run the scheduler and the dispatcher inside the API process (`make run` does).",
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="GLUCODIARY_", env_nested_delimiter="__", extra="ignore", env_file=None
    )

    _generated_secret: str | None = PrivateAttr(default=None)

    env: Environment = Field(default=Environment.development, description="development, test or production.")
    data_dir: Path = Field(
        default=Path("var"), description="Where the SQLite file and the development secret live."
    )
    migrations_dir: Path | None = Field(
        default=None, description="Alembic scripts folder; empty means `alembic/` beside the source tree."
    )
    log_level: str = Field(default="INFO", description="Python logging level.")
    db: DatabaseSettings = Field(default_factory=DatabaseSettings)
    security: SecuritySettings = Field(default_factory=SecuritySettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    diary: DiarySettings = Field(default_factory=DiarySettings)
    notifications: NotificationSettings = Field(default_factory=NotificationSettings)
    background: BackgroundSettings = Field(default_factory=BackgroundSettings)

    @model_validator(mode="after")
    def _production_needs_a_secret(self) -> Settings:
        if self.env is Environment.production:
            secret = self.security.jwt_secret
            if secret is None or len(secret.get_secret_value().encode()) < MIN_SECRET_BYTES:
                raise ValueError(
                    "GLUCODIARY_SECURITY__JWT_SECRET must be set to at least 32 bytes when "
                    "GLUCODIARY_ENV=production"
                )
        return self

    @property
    def database_url(self) -> str:
        if self.db.url:
            return self.db.url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'glucodiary.db').as_posix()}"

    def jwt_secret_value(self) -> str:
        """The signing key: explicit, or (outside production) generated once into the data directory."""
        if self.security.jwt_secret is not None:
            return self.security.jwt_secret.get_secret_value()
        if self._generated_secret is None:
            path = self.data_dir / "jwt-secret"
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                path.touch(mode=0o600)
                path.write_text(secrets.token_urlsafe(48))
            self._generated_secret = path.read_text().strip()
        return self._generated_secret


class SettingsError(RuntimeError):
    """Settings that cannot run; the message is one line a person can act on."""


@lru_cache
def get_settings() -> Settings:
    from pydantic import ValidationError

    try:
        return Settings()
    except ValidationError as exc:
        messages = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg'].removeprefix('Value error, ')}"
            for err in exc.errors()
        )
        raise SettingsError(messages) from None
