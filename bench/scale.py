"""Screen latency as the data grows: the inbox, search, SKU list and detail, and dashboards on PostgreSQL.

    .venv/bin/python -m bench.scale [--sizes 10000,100000,1000000] [--repeat 30] [--write]

Starts a throwaway PostgreSQL cluster, migrates and seeds the demo retailer, then grows the data in steps:
at each size N the database holds N stock moves, N / 10 orders (one to three lines each) and 5,000 SKUs.
Rows are written in bulk with INSERT ... SELECT generate_series; every column the models give a Python-side
default is filled with that default, and stock_balances is rebuilt from the folded moves with one
INSERT ... SELECT ... GROUP BY, so integrity.ledger_problems() stays empty; then VACUUM ANALYZE. Pages are requested in-process
through Flask's test client with a signed-in session (no HTTP server, so the figures are the app and the
database only): one warm-up, then --repeat requests per URL; p50 and p95 in ms per size, and the SQL statements
one request runs (the same at every size when nothing is loaded row by row). "after a stock move" receives one
unit through the ledger before each request (not timed), so the dashboard cannot reuse its stock sums.
--notes FILE appends that Markdown under the table when writing.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import time
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal

from bench import _server
from bench._report import write_section

SKUS = 5000
ORDERS_PER_MOVE = 0.1
PASSWORD = "scale-bench-Pass-9"


def column_defaults_sql(table, given: dict[str, str]) -> tuple[list[str], list[str]]:
    """Column names and SQL expressions: the given ones, else each column's Python-side scalar default."""
    from app.models.types import Money

    names, exprs = [], []
    for col in table.columns:
        if col.name in given:
            names.append(col.name)
            exprs.append(given[col.name])
            continue
        if col.primary_key or col.default is None:
            continue
        if col.default.is_callable:  # utcnow: the only callable default in Keel's models
            names.append(col.name)
            exprs.append("now()")
            continue
        value = col.default.arg
        if isinstance(col.type, Money):
            value = col.type.process_bind_param(value, None)
        if isinstance(value, bool):
            literal = "true" if value else "false"
        elif isinstance(value, (int, Decimal)):
            literal = str(value)
        elif isinstance(value, (dict, list)):
            literal = "'{}'" if isinstance(value, dict) else "'[]'"
        elif isinstance(value, (date, datetime)):
            literal = f"'{value.isoformat()}'"
        else:
            literal = "'" + str(value).replace("'", "''") + "'"
        names.append(col.name)
        exprs.append(literal)
    return names, exprs


def bulk_insert(table, count: int, given: dict[str, str], *, start: int = 1, prelude: str = "",
                also_from: str = "") -> None:
    """INSERT INTO table SELECT ... FROM generate_series(start, start + count - 1) AS g."""
    from sqlalchemy import text

    from app.extensions import db

    names, exprs = column_defaults_sql(table, given)
    sql = (f"{prelude} INSERT INTO {table.name} ({', '.join(names)}) SELECT {', '.join(exprs)} "
           f"FROM {also_from}generate_series({start}, {start + count - 1}) AS g")
    db.session.execute(text(sql))


def scalar(sql: str, **params):
    from sqlalchemy import text

    from app.extensions import db
    return db.session.execute(text(sql), params).scalar()


def add_skus(total: int) -> None:
    from app.models import Sku

    have = scalar("SELECT count(*) FROM skus")
    if have >= total:
        return
    bulk_insert(Sku.__table__, total - have, {
        "code": "'SCALE-' || lpad(g::text, 5, '0')",
        "name": "(ARRAY['Linen shirt','Wool scarf','Canvas tote','Steel bottle','Oak board'])[1 + g % 5] || ' ' || g",
        "category": "(ARRAY['Apparel','Accessories','Home','Kitchen','Outdoor'])[1 + g % 5]",
        "length_cm": "300", "width_cm": "200", "height_cm": "50", "weight_kg": "450",
        "unit_cost": "40000 + (g % 50) * 1000", "price": "900 + (g % 80) * 100", "active": "g % 20 <> 0",
    })


def add_moves(target: int) -> None:
    """Grow stock_moves to `target` rows as receipt / shipment pairs that never drive a bin negative."""
    from app.models import StockMove

    have = scalar("SELECT count(*) FROM stock_moves")
    pairs = (target - have) // 2
    if pairs <= 0:
        return
    start = scalar("SELECT coalesce(max(id), 0) FROM stock_moves") + 1
    prelude = ("WITH b AS (SELECT array_agg(id ORDER BY id) AS ids FROM locations WHERE kind = 'bin'), "
               "s AS (SELECT array_agg(id ORDER BY id) AS ids FROM skus), "
               "v AS (SELECT (SELECT id FROM locations WHERE outside = 'supplier') AS sup, "
               "(SELECT id FROM locations WHERE outside = 'customer') AS cus)")
    # Pair k: move 2k receives 10 units of a SKU into a bin; move 2k + 1 ships 4 of them from the same bin.
    sku = "s.ids[1 + ((g / 2) * 7919) % array_length(s.ids, 1)]"
    bin_ = "b.ids[1 + ((g / 2) * 104729) % array_length(b.ids, 1)]"
    receipt = "g % 2 = 0"
    names, exprs = column_defaults_sql(StockMove.__table__, {
        "sku_id": sku, "qty": f"CASE WHEN {receipt} THEN 10 ELSE 4 END",
        "from_location_id": f"CASE WHEN {receipt} THEN v.sup ELSE {bin_} END",
        "from_status": f"CASE WHEN {receipt} THEN NULL ELSE 'available' END",
        "to_location_id": f"CASE WHEN {receipt} THEN {bin_} ELSE v.cus END",
        "to_status": f"CASE WHEN {receipt} THEN 'available' ELSE NULL END",
        "reason": f"CASE WHEN {receipt} THEN 'receipt' ELSE 'ship' END",
        "cause_type": "'bench'", "cause_id": "'scale-' || (g / 2)",
        "created_at": "now() - ((2000000000 - g) % 31536000) * interval '1 second'",
    })
    from sqlalchemy import text

    from app.extensions import db
    lo = 2 * start
    db.session.execute(text(f"{prelude} INSERT INTO stock_moves ({', '.join(names)}) SELECT {', '.join(exprs)} "
                            f"FROM b, s, v, generate_series({lo}::bigint, {lo + 2 * pairs - 1}::bigint) AS g ORDER BY g"))


def rebuild_balances() -> None:
    """stock_balances := the folded moves, for real locations."""
    from sqlalchemy import text

    from app.extensions import db
    db.session.execute(text("DELETE FROM stock_balances"))
    db.session.execute(text("""
        INSERT INTO stock_balances (sku_id, location_id, warehouse_id, status, qty, updated_at)
        SELECT f.sku_id, f.loc, l.warehouse_id, f.status, sum(f.qty), now()
        FROM (SELECT sku_id, to_location_id AS loc, to_status AS status, qty FROM stock_moves
              UNION ALL
              SELECT sku_id, from_location_id, from_status, -qty FROM stock_moves) AS f
        JOIN locations l ON l.id = f.loc AND l.kind <> 'virtual'
        GROUP BY f.sku_id, f.loc, l.warehouse_id, f.status
        HAVING sum(f.qty) <> 0"""))


STATUSES = ["received", "on_hold", "ready", "allocated", "partially_allocated", "backordered", "in_fulfillment",
            "shipped", "shipped", "closed", "closed", "closed", "closed", "cancelled"]


def add_orders(target: int) -> None:
    """Grow orders to `target` rows, each with one to three lines; most are closed, as in a live shop."""
    from app.models.orders import Order, OrderLine

    have = scalar("SELECT count(*) FROM orders WHERE external_id LIKE 'SCALE-%'")
    count = target - have
    if count <= 0:
        return
    start = have + 1
    statuses = "ARRAY[" + ", ".join(f"'{s}'" for s in STATUSES) + "]"
    bulk_insert(Order.__table__, count, {
        "number": "'SC' || lpad(g::text, 8, '0')",
        "channel_id": "c.ids[1 + g % array_length(c.ids, 1)]",
        "external_id": "'SCALE-' || g", "channel_number": "'#' || (100000 + g)",
        "status": f"({statuses})[1 + (g * 31) % {len(STATUSES)}]",
        "promised_ship_date": "(now() - ((2000000 - g) % 365) * interval '1 day')::date + 2",
        "placed_at": "now() - ((2000000 - g) % 31536000) * interval '1 second'",
        "currency": "'GBP'",
        "customer_name": "(ARRAY['Ada','Ben','Cleo','Dev','Esme','Finn','Gwen','Hari'])[1 + g % 8] || ' Customer' || g",
        "customer_email": "'customer' || g || '@example.com'",
        "ship_name": "'Customer ' || g", "ship_address1": "g || ' High Street'", "ship_city": "'Leeds'",
        "ship_postcode": "'LS' || (1 + g % 28) || ' ' || (g % 10) || 'AB'", "ship_country": "'GB'",
        "billing_country": "'GB'", "total": "1200 + (g % 90) * 100", "source": "'api'",
    }, start=start, prelude="WITH c AS (SELECT array_agg(id ORDER BY id) AS ids FROM channels)", also_from="c, ")
    scalar_sql = f"""
        INSERT INTO order_lines ({{cols}})
        SELECT {{exprs}} FROM orders o, (SELECT array_agg(id ORDER BY id) AS ids FROM skus) s,
             generate_series(1, 3) AS n
        WHERE o.external_id LIKE 'SCALE-%' AND o.id >= (SELECT min(id) FROM orders WHERE external_id = 'SCALE-{start}')
          AND n <= 1 + o.id % 3"""
    names, exprs = column_defaults_sql(OrderLine.__table__, {
        "order_id": "o.id", "line_no": "n", "sku_id": "s.ids[1 + ((o.id::bigint * 3 + n) * 7919) % array_length(s.ids, 1)]",
        "title": "'Scale line'", "qty": "1 + n % 2", "unit_price": "1200",
        "qty_allocated": "CASE WHEN o.status IN ('allocated', 'in_fulfillment') THEN 1 + n % 2 ELSE 0 END",
        "qty_shipped": "CASE WHEN o.status IN ('shipped', 'closed') THEN 1 + n % 2 ELSE 0 END",
    })
    from sqlalchemy import text

    from app.extensions import db
    db.session.execute(text(scalar_sql.format(cols=", ".join(names), exprs=", ".join(exprs))))


def grow(moves: int) -> float:
    """Bring the database to `moves` moves and moves / 10 orders; returns the seconds it took."""
    from sqlalchemy import text

    from app.extensions import db
    started = time.monotonic()
    add_skus(SKUS)
    add_moves(moves)
    add_orders(int(moves * ORDERS_PER_MOVE))
    rebuild_balances()
    db.session.commit()
    # What autovacuum does to a live database soon after a bulk load: statistics, the visibility map (index-only
    # scans) and the GIN indexes' pending lists folded in. Measuring before it runs would time a passing state.
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    return time.monotonic() - started


def signed_in_client(app, role: str):
    """A test client holding a session for a fresh user of `role`."""
    from app.extensions import db
    from app.services.people import create_user

    username = f"scale-{role}"
    from app.models import User
    from sqlalchemy import select
    if db.session.scalar(select(User).where(User.username == username)) is None:
        create_user(username, role, PASSWORD, full_name=f"Scale {role}")
    client = app.test_client()
    response = client.post("/login", data={"username": username, "password": PASSWORD})
    if response.status_code != 302:
        raise SystemExit(f"could not sign in as {role}: {response.status_code}")
    return client


def urls() -> list[tuple[str, str, str, Callable[[], None] | None]]:
    """(label, role, url, what to do before each request) for each page measured."""
    sku_id = scalar("SELECT id FROM skus WHERE code = 'SCALE-00042'")
    # The inbox 20 pages deep (there are 1,105 orders at the smallest size): the page after the 1,000th newest
    # order, as the pager links to it.
    deep = scalar("SELECT id FROM orders ORDER BY placed_at DESC, id DESC OFFSET 999 LIMIT 1")
    return [
        ("order inbox", "retail", "/orders", None),
        ("order inbox, page 21", "retail", f"/orders?older={deep}&page=21", None),
        ("order inbox, status filter", "retail", "/orders?status=backordered", None),
        ("order search by number", "retail", "/orders?q=SC00004242", None),
        ("order search by name", "retail", "/orders?q=Customer4242", None),
        ("SKU list", "retail", "/skus", None),
        ("SKU search", "retail", "/skus?q=scarf", None),
        ("SKU detail", "retail", f"/skus/{sku_id}", None),
        ("dashboard, retail", "retail", "/", None),
        ("dashboard, warehouse", "warehouse", "/", None),
        ("dashboard, warehouse, after a stock move", "warehouse", "/", receive_one_unit),
    ]


def receive_one_unit() -> None:
    """One unit into a bin through the ledger, committed: the stock as the dashboard last summed it is gone."""
    from app.domain.inventory import Cause
    from app.services.inventory import receive_stock
    sku_id = scalar("SELECT id FROM skus WHERE code = 'SCALE-00042'")
    bin_id = scalar("SELECT min(id) FROM locations WHERE kind = 'bin'")
    receive_stock(sku_id, bin_id, 1, cause=Cause("bench", "scale"))


def statements_of(app, client, url: str) -> int:
    """SQL statements one request runs."""
    from sqlalchemy import event

    from app.extensions import db
    seen = []
    listener = lambda *args: seen.append(1)  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        client.get(url)
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    return len(seen)


def measure(app, repeat: int) -> dict[str, tuple[float, float, int, int]]:
    """label -> (p50 ms, p95 ms, status, SQL statements per request) over `repeat` requests after one warm-up."""
    from app.extensions import db
    clients = {role: signed_in_client(app, role) for role in ("retail", "warehouse")}
    db.session.commit()
    out = {}
    for label, role, url, before in urls():
        client = clients[role]
        status = client.get(url).status_code
        if before:
            before()
        statements = statements_of(app, client, url)
        times = []
        for _ in range(repeat):
            if before:
                before()
            t0 = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - t0) * 1000)
            status = response.status_code
        out[label] = (_server.percentile(times, 50), _server.percentile(times, 95), status, statements)
        print(f"  {label:42} p50 {out[label][0]:7.1f} ms  p95 {out[label][1]:7.1f} ms  ({status}, "
              f"{statements} statements)", flush=True)
    return out


def load_average() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip().split("load average:")[-1].strip()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10000,100000,1000000", help="stock move counts to measure at")
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--write", action="store_true", help="write the figures to docs/BENCHMARKS.md")
    ap.add_argument("--notes", help="a Markdown file to append under the table when writing")
    args = ap.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    with _server.postgres_cluster() as url:
        env = _server.app_env(url)
        _server.flask(env, "db", "upgrade")
        _server.flask(env, "seed-demo", "--orders", "100")
        os.environ.update(DATABASE_URL=url, KEEL_SCHEDULER="0", SECRET_KEY="bench")
        from app import create_app
        from app.extensions import db
        from app.services.integrity import ledger_problems
        app = create_app()
        app.config.update(WTF_CSRF_ENABLED=False)
        results = []
        with app.app_context():
            for size in sizes:
                seconds = grow(size)
                counts = {t: scalar(f"SELECT count(*) FROM {t}")
                          for t in ("stock_moves", "stock_balances", "orders", "order_lines", "skus")}
                print(f"size {size}: {counts} in {seconds:.0f} s; load {load_average()}", flush=True)
                problems = ledger_problems()
                db.session.rollback()
                figures = measure(app, args.repeat)
                results.append((size, counts, seconds, len(problems), figures, load_average()))
    report(args, results)


def report(args, results) -> None:
    labels = list(results[0][4])
    head = ("| Page | " + " | ".join(f"{r[0]:,} moves p50 / p95" for r in results) + " | SQL statements per request |\n")
    head += "|---|" + "---:|" * len(results) + "---:|\n"
    rows = "".join(f"| {label} | " + " | ".join(f"{r[4][label][0]:.0f} / {r[4][label][1]:.0f} ms" for r in results)
                   + " | " + " / ".join(str(r[4][label][3]) for r in results) + " |\n" for label in labels)
    sizes = "\n".join(f"- {r[0]:,} moves: {r[1]['stock_moves']:,} moves, {r[1]['stock_balances']:,} balances, "
                      f"{r[1]['orders']:,} orders, {r[1]['order_lines']:,} lines, {r[1]['skus']:,} SKUs "
                      f"(generated in {r[2]:.0f} s; ledger problems: {r[3]}; load average after: {r[5]})"
                      for r in results)
    body = (f"`python -m bench.scale --sizes {args.sizes} --repeat {args.repeat}`: PostgreSQL 15 in a throwaway "
            "cluster (fsync off), demo retailer plus bulk-generated rows; pages requested in-process through "
            f"Flask's test client with a signed-in session, one warm-up then {args.repeat} requests each. "
            "SQL statements per request are given at each size, smallest first.\n\n"
            f"{sizes}\n\n{head}{rows}")
    print(body)
    if args.write:
        notes = open(args.notes).read() if args.notes else ""
        write_section("scale", "Screens at scale", body + ("\n" + notes if notes else ""))


if __name__ == "__main__":
    main()
