"""Order capture under load: orders per second and latency over HTTP against gunicorn on PostgreSQL.

    .venv/bin/python -m bench.load [--rate 250] [--seconds 30] [--workers 4]

Starts a throwaway PostgreSQL cluster, migrates and seeds the demo retailer, serves Keel with
gunicorn, and sends POST /api/v1/orders at a fixed rate (open loop: latency counts from the
moment each order was due, so a slow server cannot hide its queue). Each order is captured,
validated and reserved in the ledger. In the same run, pgbench's TPC-B figure on the same
server gives the ratio to report. Figures go to docs/BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import subprocess
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from bench import _server
from bench._report import write_section

GIVE_UP_LATE = 10.0  # seconds: an order this late is not sent at all, so an overloaded run still ends
NOT_SENT = -1
POSTCODES = ["LS1 4AP", "M1 1AE", "B1 1BB", "EH1 1YZ", "BS1 4DJ", "NE1 7RU", "CF10 1EP", "G1 1XQ", "L1 8JQ",
             "NG1 5FS", "S1 2HE", "OX1 1HS", "CB2 1TN", "BN1 1AE", "SO14 7DU", "PL1 2AA", "YO1 7HH", "N1 9GU"]


def prepare(url: str) -> tuple[str, list[str]]:
    """Migrate, seed the demo, add deep stock, and return an API token and the SKU codes to order."""
    env = _server.app_env(url)
    _server.flask(env, "db", "upgrade")
    _server.flask(env, "seed-demo", "--orders", "200")
    _server.flask(env, "set-setting", "holds.velocity_max_orders", "1000000")
    token = _server.flask(env, "create-token", "retail").strip().splitlines()[-1]
    restock = subprocess.run([str(_server.VENV_BIN / "python"), "-c", _RESTOCK], env=env, cwd=_server.ROOT,
                             capture_output=True, text=True)
    if restock.returncode:
        raise SystemExit(f"restocking failed:\n{restock.stderr[-3000:]}")
    return token, json.loads(restock.stdout.strip().splitlines()[-1])


# Deep stock for every active SKU in every warehouse, so each benchmark order can be reserved.
_RESTOCK = """
import json
from sqlalchemy import select
from app import create_app
from app.domain.inventory import Cause, Reason, Status, Outside
from app.extensions import db
from app.models import Location, Sku, Warehouse
from app.services import ledger
app = create_app()
with app.app_context():
    skus = db.session.scalars(select(Sku).where(Sku.active.is_(True))).all()
    for w in db.session.scalars(select(Warehouse)):
        bin_ = db.session.scalar(select(Location).where(Location.warehouse_id == w.id, Location.kind == "bin").limit(1))
        for sku in skus:
            ledger.post_move(sku.id, 100000, ledger.Place(ledger.outside(Outside.SUPPLIER)),
                             ledger.Place(bin_, Status.AVAILABLE), reason=Reason.RECEIPT, cause=Cause("bench", "stock"))
    db.session.commit()
    print(json.dumps([s.code for s in skus]))
"""


def token_and_skus(url: str) -> tuple[str, list[str]]:
    """A new API token and the active SKU codes of an already prepared database."""
    env = _server.app_env(url)
    token = _server.flask(env, "create-token", "retail").strip().splitlines()[-1]
    out = subprocess.run([str(_server.VENV_BIN / "python"), "-c", _SKUS], env=env, cwd=_server.ROOT,
                         capture_output=True, text=True, check=True).stdout
    return token, json.loads(out.strip().splitlines()[-1])


_SKUS = """
import json
from sqlalchemy import select
from app import create_app
from app.extensions import db
from app.models import Sku
with create_app().app_context():
    print(json.dumps(list(db.session.scalars(select(Sku.code).where(Sku.active.is_(True))))))
"""


class Load:
    """An open-loop load generator: request i is due at start + i / rate."""

    def __init__(self, base: str, token: str, skus: list[str], rate: float, seconds: float, threads: int):
        self.host = urlsplit(base).netloc
        self.token, self.skus, self.rate, self.seconds, self.threads = token, skus, rate, seconds, threads
        self.total = int(rate * seconds)
        self.lock = threading.Lock()
        self.next_index = 0
        self.latencies: list[float] = []
        self.statuses: dict[int, int] = {}
        self.errors = 0

    def body(self, n: int) -> bytes:
        rng = random.Random(n)
        lines = [{"sku": sku, "qty": rng.randint(1, 2), "unit_price": "12.00"} for sku in rng.sample(self.skus, rng.randint(1, 3))]
        return json.dumps({"channel": "SHOP", "external_id": f"LOAD-{self.started:.0f}-{n}", "lines": lines,
                           "ship_to": {"name": f"Customer {n}", "address1": f"{n} High Street", "city": "Leeds",
                                       "postcode": rng.choice(POSTCODES), "country": "GB"}}).encode()

    def worker(self) -> None:
        conn = http.client.HTTPConnection(self.host, timeout=30)
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        while True:
            with self.lock:
                n = self.next_index
                self.next_index += 1
            if n >= self.total:
                break
            due = self.started + n / self.rate
            time.sleep(max(0.0, due - time.monotonic()))
            if time.monotonic() - due > GIVE_UP_LATE:  # the server is this far behind: count it, don't queue it
                with self.lock:
                    self.statuses[NOT_SENT] = self.statuses.get(NOT_SENT, 0) + 1
                continue
            try:
                conn.request("POST", "/api/v1/orders", body=self.body(n), headers=headers)
                response = conn.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(self.host, timeout=30)
                status = 0
            finished = time.monotonic()
            with self.lock:
                self.latencies.append(finished - due)
                self.statuses[status] = self.statuses.get(status, 0) + 1
        conn.close()

    def run(self) -> float:
        self.started = time.monotonic()
        workers = [threading.Thread(target=self.worker) for _ in range(self.threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        return time.monotonic() - self.started


def pgbench_tps(url: str, seconds: int) -> float:
    """TPC-B transactions per second on the same server, in a database of its own."""
    parts = urlsplit(url)
    base = ["-h", parts.hostname, "-p", str(parts.port), "-U", parts.username or "keel"]
    subprocess.run([_server.pg_bin("dropdb"), *base, "--if-exists", "pgbench"], check=True, capture_output=True)
    subprocess.run([_server.pg_bin("createdb"), *base, "pgbench"], check=True, capture_output=True)
    subprocess.run(["pgbench", *base, "-i", "-s", "10", "-q", "pgbench"], check=True, capture_output=True)
    out = subprocess.run(["pgbench", *base, "-c", "8", "-j", "2", "-T", str(seconds), "pgbench"], check=True,
                         capture_output=True, text=True).stdout
    line = next(l for l in out.splitlines() if l.startswith("tps"))
    return float(line.split("=")[1].split()[0])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=float, nargs="+", default=[250.0],
                    help="orders per second to offer; several rates run one after another on the same database")
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2,
                    help="gunicorn worker processes (one per core did best here: 2 beat 3 and 4 on two cores)")
    ap.add_argument("--threads", type=int, default=1, help="threads per gunicorn worker")
    ap.add_argument("--client-threads", type=int, default=48)
    ap.add_argument("--write", action="store_true", help="write the figures to docs/BENCHMARKS.md")
    ap.add_argument("--url", help="reuse a prepared PostgreSQL database instead of starting and seeding one")
    args = ap.parse_args()
    if args.url:  # a database bench.load (or bench.profile_capture) prepared before: skip the seeding
        run(args, args.url, *token_and_skus(args.url))
        return
    with _server.postgres_cluster() as url:
        run(args, url, *prepare(url))


@dataclass
class Result:
    rate: float
    load: Load
    elapsed: float
    machine_load: tuple[float, float]


def run(args, url: str, token: str, skus: list[str]) -> None:
    results = []
    with _server.gunicorn(_server.app_env(url), workers=args.workers, threads=args.threads) as base:
        for rate in args.rate:
            Load(base, token, skus, rate, 3, args.client_threads).run()  # warm-up
            load = Load(base, token, skus, rate, args.seconds, args.client_threads)
            before = os.getloadavg()[0]
            elapsed = load.run()
            results.append(Result(rate, load, elapsed, (before, os.getloadavg()[0])))
            print(row(args, results[-1], None), flush=True)
    report(args, results, pgbench_tps(url, 20))


def row(args, result: Result, tps: float | None) -> str:
    load = result.load
    ok = load.statuses.get(201, 0)
    achieved = ok / result.elapsed
    ms = [x * 1000 for x in load.latencies]
    p50, p95, p99 = (_server.percentile(ms, p) for p in (50, 95, 99))
    ratio = f"{achieved / tps:.4f}" if tps else "-"
    return (f"| {result.rate:g}/s for {args.seconds:g} s | {achieved:.1f}/s ({ok} orders) | {p50:.0f} ms | {p95:.0f} ms "
            f"| {p99:.0f} ms | {sum(v for k, v in load.statuses.items() if k not in (201, NOT_SENT))} "
            f"| {load.statuses.get(NOT_SENT, 0)} | {ratio} "
            f"| {result.machine_load[0]:.1f} / {result.machine_load[1]:.1f} |")


TARGET_RATE, TARGET_P95_MS = 200, 100


def sustained(result: Result) -> bool:
    """Every order offered was captured (201), at the offered rate, with a p95 under the target."""
    load = result.load
    ok = load.statuses.get(201, 0)
    p95 = _server.percentile([x * 1000 for x in load.latencies], 95)
    return ok == load.total and ok / result.elapsed >= 0.98 * result.rate and p95 < TARGET_P95_MS


def verdict(results: list[Result]) -> str:
    """The highest offered rate this run sustained, against the target."""
    best = max((r.rate for r in results if sustained(r)), default=None)
    if best is None:
        return f"No offered rate was sustained with every order captured and a p95 under {TARGET_P95_MS} ms."
    met = "met" if best >= TARGET_RATE else "not reached on this machine"
    return (f"Highest offered rate sustained (every order captured, p95 under {TARGET_P95_MS} ms): **{best:g} orders/s**. "
            f"Target {TARGET_RATE} orders/s: {met}.")


def report(args, results: list[Result], tps: float) -> None:
    kind = f"{args.workers} workers x {args.threads} threads" if args.threads > 1 else f"{args.workers} sync workers"
    rates = " ".join(f"{r:g}" for r in args.rate)
    body = (f"`python -m bench.load --rate {rates} --seconds {args.seconds:g} --workers {args.workers} "
            f"--threads {args.threads}{' --url URL' if args.url else ''}`: "
            f"{'on a database an earlier run prepared (seeded demo, deep stock), ' if args.url else ''}"
            f"gunicorn with {kind}, the load generator and PostgreSQL 15 "
            f"(throwaway cluster, fsync off) all on the same 2-core machine, shared with other engineers' work. "
            f"pgbench TPC-B (scale 10, 8 clients) on the same server afterwards: {tps:.0f} tps.\n\n"
            "| offered | captured and reserved (201) | p50 | p95 | p99 | other answers | not sent | orders / TPC-B tx "
            "| load average before / after |\n"
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n"
            + "\n".join(row(args, r, tps) for r in results) + "\n\n"
            + verdict(results) + "\n\n"
            "Latency is measured from the moment each order was due (open loop), so queueing counts; an order "
            f"still unsent {GIVE_UP_LATE:g} s after it was due is counted under 'not sent' instead (the server "
            "could not keep up), so an overloaded run still ends. Other answers include timeouts. "
            "Load averages are the 1-minute `uptime` figures when the run started and ended.")
    print(body)
    if args.write:
        write_section("load", "Order capture under load", body)


if __name__ == "__main__":
    main()
