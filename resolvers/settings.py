"""The settings the resolvers read: a plain, frozen copy that server/ builds from its pydantic settings
(`server.settings.Settings.for_resolvers`). Names match the environment variables' (`AUTH_JWT_SECRET` is
`auth.jwt_secret`); what the resolvers do not read is not here."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AppConfig:
    name: str
    public_url: str  # links sent out (verification emails, download URLs) start with it


@dataclass(frozen=True, slots=True)
class AuthConfig:
    jwt_algorithm: str
    jwt_secret: str
    jwt_private_key: str | None
    verification_ttl_seconds: int
    login_max_failures: int
    login_max_failures_per_address: int
    login_window_seconds: int


@dataclass(frozen=True, slots=True)
class StorageConfig:
    retry_after_seconds: int
    max_file_bytes: int
    url_ttl_seconds: int


@dataclass(frozen=True, slots=True)
class EmailConfig:
    sales_recipients: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ResolverSettings:
    app: AppConfig
    auth: AuthConfig
    storage: StorageConfig
    email: EmailConfig
