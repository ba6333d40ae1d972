"""A throwaway PostgreSQL cluster and gunicorn serving Keel on it, for benchmarks."""
from __future__ import annotations

import contextlib
import glob
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"


def pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise SystemExit(f"{name} not found: install Debian's postgresql")
    return found[-1]


@contextlib.contextmanager
def postgres_cluster():
    """Start scripts/test_postgres.sh's cluster; yields its SQLAlchemy URL."""
    out = subprocess.run([str(ROOT / "scripts" / "test_postgres.sh"), "start"], check=True, capture_output=True,
                         text=True).stdout.strip()
    directory, url = out.split(" ", 1)
    try:
        yield url
    finally:
        subprocess.run([str(ROOT / "scripts" / "test_postgres.sh"), "stop", directory], check=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def flask(env: dict, *args: str, timeout: int = 1800) -> str:
    result = subprocess.run([str(VENV_BIN / "flask"), "--app", "wsgi", *args], env=env, cwd=ROOT, capture_output=True,
                            text=True, timeout=timeout)
    if result.returncode:
        raise SystemExit(f"flask {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return result.stdout


def app_env(url: str, **extra: str) -> dict:
    env = dict(os.environ, DATABASE_URL=url, KEEL_SCHEDULER="0", SECRET_KEY="bench", OPENBLAS_NUM_THREADS="1")
    env.update(extra)
    return env


@contextlib.contextmanager
def gunicorn(env: dict, *, workers: int, threads: int = 1, port: int | None = None):
    """Serve wsgi:app with gunicorn; yields the base URL."""
    port = port or free_port()
    cmd = [str(VENV_BIN / "gunicorn"), "-w", str(workers), "--threads", str(threads), "-b", f"127.0.0.1:{port}",
           "--log-level", "warning", "wsgi:app"]
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=sys.stderr)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base + "/login")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _wait_until_up(url: str) -> None:
    for _ in range(300):
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"server did not start at {url}")


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]
