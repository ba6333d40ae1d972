"""Keel's configuration: environment variables with local defaults."""
from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = BASE_DIR / "instance"


def _secret_key() -> str:
    """SECRET_KEY from the environment, else one random key kept in instance/ per install."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    INSTANCE_DIR.mkdir(exist_ok=True)
    key_file = INSTANCE_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_hex(32))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


def _database_url() -> str:
    url = os.environ.get("DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'keel.sqlite'}")
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


class Config:
    SECRET_KEY = _secret_key()
    SQLALCHEMY_DATABASE_URI = _database_url()
    # hide_parameters: SQL errors and logs never show bound values (passwords, tokens, secrets).
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True, "hide_parameters": True}
    KEEL_SCHEDULER = os.environ.get("KEEL_SCHEDULER", "0") == "1"
    KEEL_TIMEZONE = os.environ.get("KEEL_TIMEZONE", "Europe/London")
    KEEL_CURRENCY = os.environ.get("KEEL_CURRENCY", "GBP")
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = os.environ.get("KEEL_INSECURE_COOKIES", "0") != "1" and os.environ.get("KEEL_HTTPS", "0") == "1"
    REMEMBER_COOKIE_HTTPONLY = True
    PERMANENT_SESSION_LIFETIME = timedelta(hours=int(os.environ.get("KEEL_SESSION_HOURS", "10")))
    KEEL_IDLE_MINUTES = int(os.environ.get("KEEL_IDLE_MINUTES", "30"))  # signed out after this long idle
    WTF_CSRF_TIME_LIMIT = None
    PAGE_SIZE = 50


class TestConfig(Config):
    TESTING = True
    SECRET_KEY = "test-secret-key"
    SQLALCHEMY_DATABASE_URI = os.environ.get("KEEL_TEST_DATABASE_URL", "sqlite://")
    KEEL_SCHEDULER = False
    WTF_CSRF_ENABLED = False
