"""Shared fixtures: the app on SQLite or PostgreSQL (KEEL_TEST_BACKEND), a clean database per test,
a client that signs in as any role, and factories for the master data most tests need."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from sqlalchemy import text

from config import TestConfig

BACKEND = os.environ.get("KEEL_TEST_BACKEND", "sqlite")
ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("KEEL_SHARED", ROOT.parent / "shared"))


def pytest_configure(config):
    config.addinivalue_line("markers", "postgres: needs real PostgreSQL concurrency; runs in the PostgreSQL pass only")
    config.addinivalue_line("markers", "browser: drives Chromium through Playwright")


def pytest_collection_modifyitems(config, items):
    """PostgreSQL-only tests are left out of the SQLite pass (deselected, not skipped)."""
    if BACKEND == "postgresql":
        return
    keep, drop = [], []
    for item in items:
        (drop if item.get_closest_marker("postgres") else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def _database_url() -> str:
    if BACKEND == "postgresql":
        url = os.environ["KEEL_TEST_DATABASE_URL"]
        return url.replace("postgresql://", "postgresql+psycopg://", 1)
    path = Path(tempfile.mkdtemp(prefix="keel-sqlite-")) / "test.sqlite"
    return f"sqlite:///{path}"


@pytest.fixture(scope="session")
def app():
    from flask_migrate import upgrade

    from app import create_app
    from app.extensions import db

    class Config(TestConfig):
        SQLALCHEMY_DATABASE_URI = _database_url()

    app = create_app(Config)
    with app.app_context():
        if BACKEND == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        upgrade()
        if BACKEND == "sqlite":
            with db.engine.begin() as conn:
                conn.execute(text("PRAGMA journal_mode=WAL"))
    yield app


def _wipe(db) -> None:
    tables = [t for t in reversed(db.metadata.sorted_tables)]
    with db.engine.begin() as conn:
        if db.engine.dialect.name == "postgresql":
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t.name}"' for t in tables) + " RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                conn.execute(table.delete())


@pytest.fixture()
def db(app):
    from app.extensions import db as database
    with app.app_context():
        yield database
        database.session.remove()
        _wipe(database)


@pytest.fixture()
def client(app, db):
    return app.test_client()


@pytest.fixture()
def make_user(db):
    from app.services.people import create_user

    def make(role: str, username: str | None = None, password: str = "correct-horse-9"):
        return create_user(username or f"{role}-user", role, password, full_name=f"Test {role}")

    return make


@pytest.fixture()
def login_as(client, make_user):
    """Sign the test client in as a fresh user of `role`."""
    def login(role: str):
        user = make_user(role)
        response = client.post("/login", data={"username": user.username, "password": "correct-horse-9"})
        assert response.status_code == 302, response.data[:500]
        return user
    return login


@pytest.fixture()
def world(db):
    """A small retailer: two warehouses with a few bins, three SKUs, two channels."""
    from tests.factories import build_world
    return build_world()
