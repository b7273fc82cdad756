"""Production refuses to start without a database URL or with placeholder secrets; development needs nothing."""

import pytest

from server.app import ConfigError, create_app
from server.settings import PLACEHOLDER_SECRET, Settings

STRONG = "s" * 48


@pytest.fixture
def bare_env(monkeypatch, clean_env):
    for name in list(__import__("os").environ):
        if name not in clean_env:
            monkeypatch.delenv(name)
    monkeypatch.chdir(__import__("tempfile").mkdtemp(prefix="cg-env-"))  # no stray .env file


def test_development_needs_no_configuration(bare_env):
    settings = Settings()
    assert settings.app.env == "development"
    assert settings.problems() == []


def test_production_requires_database_url_and_a_real_secret(bare_env, monkeypatch):
    monkeypatch.setenv("APP_ENV", "production")
    problems = Settings().problems()
    assert "DATABASE_URL is required in production" in problems
    assert any("AUTH_JWT_SECRET" in p for p in problems)


def test_production_refuses_the_placeholder_secret(bare_env, monkeypatch):
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("DATABASE_URL", "postgresql://app@db/app")
    monkeypatch.setenv("AUTH_JWT_SECRET", PLACEHOLDER_SECRET)
    assert [p for p in Settings().problems() if "AUTH_JWT_SECRET" in p]
    with pytest.raises(ConfigError):
        create_app(Settings())


def test_production_starts_with_what_it_needs(bare_env, monkeypatch):
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("DATABASE_URL", "postgresql://app@db/app")
    monkeypatch.setenv("AUTH_JWT_SECRET", STRONG)
    monkeypatch.setenv("APP_CORS_ORIGINS", '["https://app.example.com"]')
    settings = Settings()
    assert settings.problems() == []
    assert settings.app.cors_origins == ["https://app.example.com"]


def test_asymmetric_keys_are_required_for_rs256(bare_env, monkeypatch):
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("DATABASE_URL", "postgresql://app@db/app")
    monkeypatch.setenv("AUTH_JWT_ALGORITHM", "RS256")
    assert any("AUTH_JWT_PRIVATE_KEY" in p for p in Settings().problems())
