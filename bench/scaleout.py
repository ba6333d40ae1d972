"""Two web instances and two schedulers on one PostgreSQL, under order load: no oversell, no double run, no lost event.

    .venv/bin/python -m bench.scaleout [--seconds 30] [--write]

Starts a throwaway PostgreSQL cluster, migrates and seeds the demo retailer, adds three scarce SKUs
(SCARCE-1..3, 40 units each in one bin) and a webhook subscription for "order.*" pointing at a receiver
this script serves on 127.0.0.1. Then runs two gunicorn instances (2 workers each) and two
`flask scheduler` processes, and posts orders for the scarce SKUs to both instances at once for
--seconds, asking for more units than exist. Afterwards it checks, straight in the database:

- the ledger: integrity.ledger_problems() is empty, and units allocated to order lines never exceed stock;
- the scheduler: one process holds the advisory lock, only one host wrote job runs, and no two runs of one
  job overlap;
- the outbox: every captured order has its order.received event, every order.* event has its delivery row
  for the subscription, and every delivery reached the receiver (counted on the receiver's side).
"""
from __future__ import annotations

import argparse
import http.client
import http.server
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from urllib.parse import urlsplit

from bench import _server
from bench._report import write_section

SCARCE_UNITS = 40
SCARCE_CODES = ["SCARCE-1", "SCARCE-2", "SCARCE-3"]


class Receiver(http.server.ThreadingHTTPServer):
    """A webhook receiver that answers 200 and remembers every delivery key it was sent."""

    def __init__(self):
        self.keys: list[str] = []
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", _server.free_port()), _ReceiverHandler)


class _ReceiverHandler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (http.server's name)
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with self.server.lock:
            self.server.keys.append(self.headers.get("X-Keel-Delivery", ""))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def prepare(env: dict, receiver_url: str) -> str:
    """Migrate, seed, add the scarce SKUs and the subscription; returns an API token."""
    _server.flask(env, "db", "upgrade")
    _server.flask(env, "seed-demo", "--orders", "200")
    _server.flask(env, "set-setting", "holds.velocity_max_orders", "1000000")
    token = _server.flask(env, "create-token", "retail").strip().splitlines()[-1]
    script = _SETUP.replace("RECEIVER_URL", receiver_url).replace("SCARCE_UNITS", str(SCARCE_UNITS))
    done = subprocess.run([str(_server.VENV_BIN / "python"), "-c", script], env=env, cwd=_server.ROOT,
                          capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"setting up failed:\n{done.stderr[-3000:]}")
    return token


_SETUP = """
from decimal import Decimal
from sqlalchemy import select
from app import create_app
from app.domain.inventory import Cause, Outside, Reason, Status
from app.extensions import db
from app.models import Channel, Location, Sku
from app.services import ledger, outbox
app = create_app()
with app.app_context():
    shop = db.session.scalar(select(Channel).where(Channel.code == "SHOP"))
    bin_ = db.session.scalar(select(Location).where(Location.warehouse_id == shop.warehouses[0].id,
                                                    Location.kind == "bin").order_by(Location.id).limit(1))
    for n in (1, 2, 3):
        sku = Sku(code=f"SCARCE-{n}", name=f"Scarce item {n}", category="Bench", length_cm=Decimal("10"),
                  width_cm=Decimal("10"), height_cm=Decimal("5"), weight_kg=Decimal("0.2"), unit_cost=Decimal("3"),
                  price=Decimal("12"))
        db.session.add(sku)
        db.session.flush()
        ledger.post_move(sku.id, SCARCE_UNITS, ledger.Place(ledger.outside(Outside.SUPPLIER)),
                         ledger.Place(bin_, Status.AVAILABLE), reason=Reason.RECEIPT, cause=Cause("bench", "scaleout"))
    db.session.commit()
    outbox.create_subscription("Scale-out receiver", "RECEIVER_URL", "order.*")
"""


class Load:
    """Closed-loop clients posting orders for the scarce SKUs, spread over every instance."""

    def __init__(self, bases: list[str], token: str, seconds: float, threads_per_base: int):
        self.bases, self.token, self.seconds, self.threads_per_base = bases, token, seconds, threads_per_base
        self.lock = threading.Lock()
        self.counter = 0
        self.statuses: dict[tuple[str, int], int] = {}
        self.units_asked = 0

    def worker(self, base: str, seed: int) -> None:
        rng = random.Random(seed)
        host = urlsplit(base).netloc
        conn = http.client.HTTPConnection(host, timeout=30)
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        while time.monotonic() < self.deadline:
            with self.lock:
                self.counter += 1
                n = self.counter
            lines = [{"sku": code, "qty": rng.randint(1, 3), "unit_price": "12.00"}
                     for code in rng.sample(SCARCE_CODES, rng.randint(1, 2))]
            body = json.dumps({"channel": "SHOP", "external_id": f"SCALEOUT-{n}", "lines": lines,
                               "ship_to": {"name": f"Customer {n}", "address1": f"{n} Quay Street", "city": "Bristol",
                                           "postcode": "BS1 4DJ", "country": "GB"}}).encode()
            try:
                conn.request("POST", "/api/v1/orders", body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(host, timeout=30)
                status = 0
            with self.lock:
                self.statuses[(base, status)] = self.statuses.get((base, status), 0) + 1
                if status == 201:
                    self.units_asked += sum(line["qty"] for line in lines)
        conn.close()

    def run(self) -> None:
        self.deadline = time.monotonic() + self.seconds
        workers = [threading.Thread(target=self.worker, args=(base, i * 100 + j))
                   for i, base in enumerate(self.bases) for j in range(self.threads_per_base)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()


def start_scheduler(env: dict, log_path: str) -> subprocess.Popen:
    log = open(log_path, "w")
    return subprocess.Popen([str(_server.VENV_BIN / "flask"), "--app", "wsgi", "scheduler", "--retry-seconds", "5"],
                            env=env, cwd=_server.ROOT, stdout=log, stderr=subprocess.STDOUT)


def pending_deliveries() -> int:
    from sqlalchemy import func, select

    from app.extensions import db
    from app.models.webhooks import WebhookDelivery
    count = db.session.scalar(select(func.count()).select_from(WebhookDelivery)
                              .where(WebhookDelivery.status != "delivered"))
    db.session.rollback()
    return count


def checks(receiver: Receiver, schedulers: list[subprocess.Popen], started_at) -> dict:
    """Every invariant, as figures and a verdict each."""
    from sqlalchemy import func, select, text

    from app.extensions import db
    from app.models import Event, Sku, StockMove
    from app.models.jobs import JobRun
    from app.models.orders import Order, OrderLine
    from app.models.webhooks import WebhookDelivery
    from app.services.integrity import ledger_problems
    from app.services.scheduling import LOCK_KEY

    out: dict = {}
    out["ledger_problems"] = ledger_problems()
    scarce = db.session.scalars(select(Sku).where(Sku.code.in_(SCARCE_CODES))).all()
    out["per_sku"] = []
    for sku in scarce:
        received = db.session.scalar(select(func.coalesce(func.sum(StockMove.qty), 0))
                                     .where(StockMove.sku_id == sku.id, StockMove.reason == "receipt"))
        ordered, allocated = db.session.execute(
            select(func.coalesce(func.sum(OrderLine.qty), 0), func.coalesce(func.sum(OrderLine.qty_allocated), 0))
            .where(OrderLine.sku_id == sku.id)).one()
        out["per_sku"].append((sku.code, int(received), int(ordered), int(allocated)))
    out["oversold"] = any(allocated > received for _, received, _, allocated in out["per_sku"])

    holders = db.session.execute(text("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
                                      "AND ((classid::bigint << 32) | objid::bigint) = :key"), {"key": LOCK_KEY}).all()
    out["lock_holders"] = len(holders)
    runs = db.session.execute(select(JobRun.job_id, JobRun.started_at, JobRun.finished_at, JobRun.host)
                              .where(JobRun.started_at >= started_at).order_by(JobRun.job_id, JobRun.started_at)).all()
    out["job_runs"] = len(runs)
    out["job_hosts"] = sorted({r.host for r in runs})
    overlaps = 0
    for previous, current in zip(runs, runs[1:]):
        if previous.job_id == current.job_id and (previous.finished_at is None
                                                  or current.started_at < previous.finished_at):
            overlaps += 1
    out["overlapping_runs"] = overlaps
    out["runs_by_job"] = {}
    for r in runs:
        out["runs_by_job"][r.job_id] = out["runs_by_job"].get(r.job_id, 0) + 1

    bench_orders = db.session.scalars(select(Order.number).where(Order.external_id.like("SCALEOUT-%"))).all()
    received_events = set(db.session.scalars(select(Event.subject_id).where(Event.type == "order.received")))
    out["orders"] = len(bench_orders)
    out["orders_without_event"] = sum(1 for number in bench_orders if number not in received_events)
    subscription_start = db.session.scalar(text("SELECT min(starts_after_event_id) FROM webhook_subscriptions"))
    order_events = db.session.scalars(select(Event.id).where(Event.type.like("order.%"),
                                                             Event.id > subscription_start)).all()
    delivered = dict(db.session.execute(select(WebhookDelivery.event_id, WebhookDelivery.status)).all())
    out["order_events"] = len(order_events)
    out["events_without_delivery"] = sum(1 for e in order_events if e not in delivered)
    out["deliveries_not_delivered"] = sum(1 for s in delivered.values() if s != "delivered")
    with receiver.lock:
        keys = list(receiver.keys)
    out["received_posts"] = len(keys)
    out["received_distinct"] = len(set(keys))
    wanted = {f"{e}-" for e in order_events}
    got_events = {k.split("-")[0] + "-" for k in keys}
    out["events_never_received"] = len(wanted - got_events)
    out["schedulers_alive"] = sum(1 for p in schedulers if p.poll() is None)
    db.session.rollback()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--threads", type=int, default=6, help="client threads per web instance")
    ap.add_argument("--drain", type=float, default=120.0, help="seconds to wait for webhook deliveries")
    ap.add_argument("--write", action="store_true", help="write the figures to docs/BENCHMARKS.md")
    args = ap.parse_args()
    receiver = Receiver()
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    receiver_url = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
    with _server.postgres_cluster() as url:
        env = _server.app_env(url)
        token = prepare(env, receiver_url)
        os.environ.update(DATABASE_URL=url, KEEL_SCHEDULER="0", SECRET_KEY="bench")
        from app import create_app
        from app.models.types import utcnow
        app = create_app()
        started_at = utcnow()
        schedulers = [start_scheduler(env, f"/tmp/keel-scaleout-scheduler-{i}.log") for i in (1, 2)]
        try:
            with _server.gunicorn(env, workers=2) as base_a, _server.gunicorn(env, workers=2) as base_b:
                load = Load([base_a, base_b], token, args.seconds, args.threads)
                t0 = time.monotonic()
                load.run()
                load_seconds = time.monotonic() - t0
                with app.app_context():
                    deadline = time.monotonic() + args.drain
                    while pending_deliveries() and time.monotonic() < deadline:
                        time.sleep(2)
                    drained = time.monotonic() - t0 - load_seconds
                    result = checks(receiver, schedulers, started_at)
        finally:
            for p in schedulers:
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
            for p in schedulers:
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    p.kill()
    receiver.shutdown()
    report(args, load, load_seconds, drained, result)


def report(args, load: Load, load_seconds: float, drained: float, r: dict) -> None:
    by_base: dict[str, dict[int, int]] = {}
    for (base, status), n in load.statuses.items():
        by_base.setdefault(base, {})[status] = n
    answers = "; ".join(f"instance {i + 1}: " + ", ".join(f"{n} × {s}" for s, n in sorted(st.items()))
                        for i, (_, st) in enumerate(sorted(by_base.items())))
    skus = "\n".join(f"| {code} | {received} | {ordered} | {allocated} | {'yes' if allocated <= received else 'NO'} |"
                     for code, received, ordered, allocated in r["per_sku"])
    verdicts = [
        ("Ledger balances equal the folded moves", not r["ledger_problems"],
         f"{len(r['ledger_problems'])} problems"),
        ("No SKU allocated beyond its stock", not r["oversold"], "see table"),
        ("One scheduler holds the advisory lock", r["lock_holders"] == 1,
         f"{r['lock_holders']} holder(s); {r['schedulers_alive']} scheduler processes alive"),
        ("Job runs written by one scheduler only", len(r["job_hosts"]) <= 1,
         f"{r['job_runs']} runs from {len(r['job_hosts'])} process(es): "
         + ", ".join(f"{k} {v}" for k, v in sorted(r["runs_by_job"].items()))),
        ("No two runs of one job overlap", r["overlapping_runs"] == 0, f"{r['overlapping_runs']} overlaps"),
        ("Every captured order has its order.received event", r["orders_without_event"] == 0,
         f"{r['orders']} orders, {r['orders_without_event']} without"),
        ("Every order.* event has its delivery row", r["events_without_delivery"] == 0,
         f"{r['order_events']} events, {r['events_without_delivery']} without"),
        ("Every delivery delivered and seen by the receiver", r["deliveries_not_delivered"] == 0
         and r["events_never_received"] == 0,
         f"{r['deliveries_not_delivered']} not delivered, {r['events_never_received']} never received; "
         f"{r['received_posts']} POSTs for {r['received_distinct']} distinct deliveries"),
    ]
    table = "\n".join(f"| {name} | {'pass' if ok else 'FAIL'} | {detail} |" for name, ok, detail in verdicts)
    body = (f"`python -m bench.scaleout --seconds {args.seconds:g} --threads {args.threads}`: one PostgreSQL 15 "
            "(throwaway cluster, fsync off), two gunicorn instances with 2 sync workers each, two `flask scheduler` "
            "processes, a webhook receiver on 127.0.0.1 subscribed to `order.*`; all on the same 2-core machine. "
            f"{args.threads} client threads per instance posted orders of 1-3 units of one or two of three SKUs "
            f"that have {SCARCE_UNITS} units each, for {load_seconds:.0f} s.\n\n"
            f"Answers: {answers}. Deliveries drained {drained:.0f} s after the load stopped "
            "(the deliver_events job runs every 30 s).\n\n"
            "| SKU | units in stock | units ordered | units allocated | allocated ≤ stock |\n|---|---:|---:|---:|---|\n"
            f"{skus}\n\n| Check | Result | Detail |\n|---|---|---|\n{table}\n")
    if r["ledger_problems"]:
        body += "\nFirst ledger problems: " + "; ".join(r["ledger_problems"][:3]) + "\n"
    print(body)
    if args.write:
        write_section("scaleout", "Two instances and two schedulers on one database", body)


if __name__ == "__main__":
    sys.exit(main())
