"""Settings, one class per concern, each with its environment prefix; a `.env` file is honoured.

Production refuses placeholder secrets and refuses to start without `DATABASE_URL`.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from integrations.auth.known_secrets import PLACEHOLDER_SECRET, is_known_secret
from resolvers.settings import AppConfig, AuthConfig, EmailConfig, ResolverSettings, StorageConfig


def _config(prefix: str) -> SettingsConfigDict:
    return SettingsConfigDict(env_prefix=prefix, env_file=".env", extra="ignore")


class AppSettings(BaseSettings):
    model_config = _config("APP_")

    env: Literal["development", "test", "production"] = "development"
    name: str = "customer-graph"
    host: str = "127.0.0.1"
    port: int = 8000
    cors_origins: list[str] = Field(default_factory=list)  # production allowlist; development allows all
    public_url: str = "http://127.0.0.1:8000"
    log_level: str = "INFO"
    data_dir: str = ".customer-graph"  # embedded PostgreSQL and local files live here
    trusted_proxies: list[str] = Field(default_factory=list)  # addresses/networks whose X-Forwarded-For is honoured


class DatabaseSettings(BaseSettings):
    model_config = _config("DATABASE_")

    url: str | None = None  # unset: an embedded pgserver cluster under APP_DATA_DIR (dev and tests only)
    # Connections stay open: 20 per process and no overflow by default. An overflow connection is opened for a
    # burst and closed when it is returned; under steady load above the pool size that is a new PostgreSQL
    # backend per request, which measured as the largest cost of a small query (docs/PERFORMANCE.md).
    pool_size: int = 20
    max_overflow: int = 0
    # asyncpg's own pool for the compiled read path (one statement per planned query), beside the one above; 0: the
    # compiled path borrows from the pool above. Its checkout costs a fraction of SQLAlchemy's (docs/PERFORMANCE.md).
    read_pool_size: int = Field(default=10, ge=0)
    pool_timeout: float = 10.0
    statement_timeout_ms: int = 15000
    echo: bool = False


class AuthSettings(BaseSettings):
    model_config = _config("AUTH_")

    jwt_algorithm: Literal["HS256", "RS256", "EdDSA"] = "HS256"
    jwt_secret: str = PLACEHOLDER_SECRET  # HS256 key; unset or known outside production: server/signing_key.py
    jwt_private_key: str | None = None  # PEM, for RS256/EdDSA
    jwt_public_key: str | None = None
    jwt_issuer: str = "customer-graph"
    jwt_audience: str = "customer-graph"
    token_ttl_seconds: int = 3600
    verification_ttl_seconds: int = 86400
    login_max_failures: int = 5  # per account within the window; then locked for the window's length
    login_max_failures_per_address: int = 20  # per client address (offices share one address behind NAT)
    login_window_seconds: int = 900
    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    oidc_jwks_url: str | None = None
    oidc_role_claim: str = "role"
    oidc_default_role: str = "OPERATOR"
    oidc_jwks_cache_seconds: int = 3600


class StorageSettings(BaseSettings):
    model_config = _config("STORAGE_")

    backend: Literal["local", "gcs"] = "local"
    local_path: str = ".customer-graph/files"
    gcs_bucket: str | None = None
    gcs_endpoint: str | None = None  # emulator URL in tests
    gcs_project: str | None = None
    gcs_credentials_file: str | None = None  # service-account JSON; unset: application default credentials
    timeout_seconds: float = 30.0  # one storage call, retries included
    retry_after_seconds: int = 30  # told to clients when storage is unavailable
    max_file_bytes: int = 10 * 1024 * 1024
    url_ttl_seconds: int = 900


class RetentionSettings(BaseSettings):
    model_config = _config("RETENTION_")

    archived_days: int | None = None  # erase customers archived longer than this; unset: never automatically
    interval_seconds: int = 86400  # how often each server process runs the purge when archived_days is set


class EmailSettings(BaseSettings):
    model_config = _config("EMAIL_")

    backend: Literal["file", "sendgrid"] = "file"  # file: the development mailbox, <APP_DATA_DIR>/mail/*.eml
    sendgrid_api_key: str | None = None
    sendgrid_host: str | None = None  # a local SendGrid-speaking server in tests
    sender: str = "no-reply@customer-graph.local"
    sales_recipients: list[str] = Field(default_factory=lambda: ["sales@example.com"])
    timeout_seconds: float = 10.0  # one SendGrid call


class OutboxSettings(BaseSettings):
    model_config = _config("OUTBOX_")

    relay_in_server: bool = True  # run the relay inside every server process; off: run `customer-graph worker`
    batch_size: int = Field(default=20, ge=1, le=1000)
    concurrency: int = Field(default=8, ge=1, le=100)  # deliveries in flight per relay process
    poll_seconds: float = Field(default=1.0, gt=0)
    # while rounds find nothing, the wait doubles up to this; a mutation of the same process wakes its relay at once
    idle_poll_max_seconds: float = Field(default=5.0, gt=0)
    lease_seconds: float = Field(default=60.0, gt=0)  # a claimed row is re-claimed after this (its worker died)
    max_attempts: int = Field(default=30, ge=1)
    backoff_base_seconds: float = Field(default=2.0, gt=0)
    backoff_max_seconds: float = Field(default=600.0, gt=0)


class AISettings(BaseSettings):
    model_config = _config("AI_")

    enabled: bool = False
    api_key: str | None = None
    base_url: str | None = None
    model: str = "gpt-4o-mini"
    timeout_seconds: float = 5.0
    max_retries: int = Field(default=1, ge=0, le=5)
    prompt_budget_chars: int = Field(default=6000, ge=200)
    max_output_tokens: int = Field(default=400, ge=16)
    send_personal_data: bool = False


class LimitSettings(BaseSettings):
    model_config = _config("LIMITS_")

    max_depth: int = 10
    max_aliases: int = 15
    max_tokens: int = 2000
    max_cost: int = 10000
    max_body_bytes: int = 1024 * 1024
    max_directives: int = 50
    execution_timeout_seconds: float = 10.0
    trusted_documents: bool = False  # only documents registered with `customer-graph register-documents` run
    introspection: bool = True
    graphiql: bool = True
    default_page_size: int = 20
    max_page_size: int = 50


class CompiledSettings(BaseSettings):
    """The compiled read path (compiled/): planned queries answered by one SQL statement."""

    model_config = _config("COMPILED_")

    enabled: bool = True
    cache_size: int = 500  # compiled plans (and document trees) kept, least recently used dropped


class SubscriptionSettings(BaseSettings):
    model_config = _config("SUBSCRIPTIONS_")

    init_timeout_seconds: float = 10.0  # no connection_init within this closes the websocket with 4408
    max_per_connection: int = 100  # the next subscribe on the same websocket is an error
    keep_alive_seconds: float = 15.0  # server pings this often
    recheck_seconds: float = 30.0  # how often open websockets' users are re-read (deactivated/changed: closed)


class Settings:
    """All settings, read once per process."""

    def __init__(self) -> None:
        self.app = AppSettings()
        self.database = DatabaseSettings()
        self.auth = AuthSettings()
        self.storage = StorageSettings()
        self.retention = RetentionSettings()
        self.email = EmailSettings()
        self.outbox = OutboxSettings()
        self.ai = AISettings()
        self.limits = LimitSettings()
        self.compiled = CompiledSettings()
        self.subscriptions = SubscriptionSettings()

    @property
    def is_production(self) -> bool:
        return self.app.env == "production"

    def for_resolvers(self) -> ResolverSettings:
        """What the resolvers read, as plain frozen values (built from the current settings on each call)."""
        app, auth, storage = self.app, self.auth, self.storage
        return ResolverSettings(
            app=AppConfig(name=app.name, public_url=app.public_url),
            auth=AuthConfig(
                jwt_algorithm=auth.jwt_algorithm,
                jwt_secret=auth.jwt_secret,
                jwt_private_key=auth.jwt_private_key,
                verification_ttl_seconds=auth.verification_ttl_seconds,
                login_max_failures=auth.login_max_failures,
                login_max_failures_per_address=auth.login_max_failures_per_address,
                login_window_seconds=auth.login_window_seconds,
            ),
            storage=StorageConfig(
                retry_after_seconds=storage.retry_after_seconds,
                max_file_bytes=storage.max_file_bytes,
                url_ttl_seconds=storage.url_ttl_seconds,
            ),
            email=EmailConfig(sales_recipients=tuple(self.email.sales_recipients)),
        )

    def problems(self) -> list[str]:
        """What stops this configuration from running; empty when it may start."""
        found: list[str] = []
        if self.outbox.lease_seconds <= self.email.timeout_seconds + 2:
            found.append("OUTBOX_LEASE_SECONDS must be longer than EMAIL_TIMEOUT_SECONDS + 2")
        if not self.is_production:
            return found
        if not self.database.url:
            found.append("DATABASE_URL is required in production")
        if self.auth.jwt_algorithm == "HS256":
            if is_known_secret(self.auth.jwt_secret) or len(self.auth.jwt_secret) < 32:
                found.append("AUTH_JWT_SECRET is a placeholder or shorter than 32 characters")
        elif not (self.auth.jwt_private_key and self.auth.jwt_public_key):
            found.append("AUTH_JWT_PRIVATE_KEY and AUTH_JWT_PUBLIC_KEY are required for " + self.auth.jwt_algorithm)
        if self.email.backend == "sendgrid" and not self.email.sendgrid_api_key:
            found.append("EMAIL_SENDGRID_API_KEY is required with EMAIL_BACKEND=sendgrid")
        if self.storage.backend == "gcs" and not self.storage.gcs_bucket:
            found.append("STORAGE_GCS_BUCKET is required with STORAGE_BACKEND=gcs")
        if self.ai.enabled and not self.ai.api_key:
            found.append("AI_API_KEY is required with AI_ENABLED=true")
        return found


@lru_cache
def get_settings() -> Settings:
    return Settings()
