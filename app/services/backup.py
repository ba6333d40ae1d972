"""Backing up and restoring the whole database.

SQLite goes through its online backup API, so a backup taken while Keel runs is consistent.
PostgreSQL goes through pg_dump in custom format; a restore replays it with psql in one
transaction after emptying the schema, so it either replaces everything or changes nothing.
"""
from __future__ import annotations

import glob
import os
import shutil
import sqlite3
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL

from app.domain.errors import DomainError, ValidationError
from app.extensions import db


class BackupFailed(DomainError):
    code = "backup_failed"
    status = 500


@dataclass(frozen=True)
class BackupResult:
    path: Path
    backend: str
    size_bytes: int

    def __str__(self) -> str:
        return f"{self.backend} database, {self.size_bytes:,} bytes, {self.path}"


def _url() -> URL:
    return db.engine.url


def _sqlite_file(url: URL) -> Path:
    if not url.database or url.database == ":memory:" or url.database.startswith("file:"):
        raise ValidationError("Only an SQLite database in a file can be backed up.", field="database")
    return Path(url.database).resolve()


def _release_connections() -> None:
    """Close this process's connections so the restore is not blocked by, or mixed with, open transactions."""
    db.session.remove()
    db.engine.dispose()


# --- SQLite ----------------------------------------------------------------------------------------------------

def _sqlite_copy(source: Path, target: Path) -> None:
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        with dst:
            src.backup(dst)
    finally:
        src.close()
        dst.close()


def _check_sqlite_backup(path: Path) -> None:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            found = conn.execute("SELECT name FROM sqlite_master WHERE type='table' AND name='alembic_version'").fetchone()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise ValidationError(f"{path} is not an SQLite database ({exc}).", field="path") from None
    if not found:
        raise ValidationError(f"{path} is not a Keel backup: it has no schema version.", field="path")


# --- PostgreSQL ------------------------------------------------------------------------------------------------

def _tool(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None)
    if not found:
        raise BackupFailed(f"{name} is not installed (apt-get install postgresql-client).")
    return found


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """The URL for the command-line tools, and the environment carrying the password (never on a command line)."""
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _run(command: list[str], env: dict[str, str]) -> None:
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=3600)
    if result.returncode != 0:
        message = (result.stderr or result.stdout).strip().splitlines()
        raise BackupFailed(f"{Path(command[0]).name} failed: {message[-1] if message else result.returncode}")


def _pg_backup(url: URL, target: Path) -> None:
    dsn, env = _libpq(url)
    _run([_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges", "--file", str(target),
          "--dbname", dsn], env)


def _pg_restore(url: URL, source: Path) -> None:
    dsn, env = _libpq(url)
    with tempfile.TemporaryDirectory(prefix="keel-restore-") as work:
        script = Path(work) / "restore.sql"
        _run([_tool("pg_restore"), "--no-owner", "--no-privileges", "--file", str(script), str(source)], env)
        _run([_tool("psql"), "--no-psqlrc", "--quiet", "--single-transaction", "--set", "ON_ERROR_STOP=1",
              "--command", "DROP SCHEMA public CASCADE", "--command", "CREATE SCHEMA public",
              "--file", str(script), "--dbname", dsn], env)


def _check_pg_backup(path: Path) -> None:
    with path.open("rb") as handle:
        if handle.read(5) != b"PGDMP":
            raise ValidationError(f"{path} is not a pg_dump custom-format backup.", field="path")


# --- the two commands ------------------------------------------------------------------------------------------

def backup_database(path: str | os.PathLike) -> BackupResult:
    """Write a consistent copy of the whole database to `path` (replaced only once the copy is complete)."""
    url, target = _url(), Path(path).resolve()
    if target.is_dir():
        raise ValidationError(f"{target} is a directory; give a file name.", field="path")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        if url.get_backend_name() == "sqlite":
            _sqlite_copy(_sqlite_file(url), partial)
        elif url.get_backend_name() == "postgresql":
            _pg_backup(url, partial)
        else:
            raise ValidationError(f"Backups of {url.get_backend_name()} are not supported.", field="database")
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return BackupResult(target, url.get_backend_name(), target.stat().st_size)


def restore_database(path: str | os.PathLike) -> BackupResult:
    """Replace the whole database with a backup. Stop the web and scheduler processes first."""
    url, source = _url(), Path(path).resolve()
    if not source.is_file():
        raise ValidationError(f"No backup file at {source}.", field="path")
    backend = url.get_backend_name()
    if backend == "sqlite":
        _check_sqlite_backup(source)
        live = _sqlite_file(url)
        _release_connections()
        _sqlite_copy(source, live)
    elif backend == "postgresql":
        _check_pg_backup(source)
        _release_connections()
        _pg_restore(url, source)
    else:
        raise ValidationError(f"Restoring {backend} is not supported.", field="database")
    return BackupResult(source, backend, source.stat().st_size)
