"""Wave planning benchmark: the solver against the earliest-cut-off baseline on seeded days.

    python -m bench.waves [--seeds 3] [--time-limit 10]
    python -m bench.waves --build [--sizes 200,1000,2000] [--repeat 3] [--postgres] [--write] [--notes FILE]

Writes the `waves` section of docs/BENCHMARKS.md; with --build, the `waves-build` section: the time and the
SQL statements app.services.waves.build_instance needs for a warehouse's open shipments.
"""
from __future__ import annotations

import argparse
import random
import time

from bench._report import write_section
from solvers import waves
from solvers.waves import MAX_ON_TIME, MIN_LABOUR, Order, Problem

CUTOFFS = (12 * 60, 15 * 60, 17 * 60, (24 + 12) * 60)  # the last is tomorrow noon
START = 7 * 60
CREW_BY_HOUR = (5, 7, 9, 9, 9, 9, 7, 7, 5, 5, 3, 3, 2, 2, 2, 2)


def realistic_day(seed: int, orders: int, wave_count: int, mode: str, time_limit_s: float) -> Problem:
    """Orders released from 06:00 to 16:00 (busiest mid-morning), each due at the next cut-off two hours on."""
    rng = random.Random(seed)
    made = []
    for i in range(orders):
        release = 6 * 60 + int(rng.triangular(0, 10 * 60, 2 * 60))
        cutoff = next(c for c in CUTOFFS if c >= release + 120)
        lines = 1 + min(20, int(rng.expovariate(1 / 2.5)))
        priority = rng.choices((1, 2, 3), weights=(80, 15, 5))[0]
        made.append(Order(f"SO-{i:05d}", lines, cutoff, release, priority))
    return Problem(
        start=START, wave_minutes=60, waves=wave_count, pickers=CREW_BY_HOUR[:wave_count],
        max_orders_per_wave=220, minutes_per_order=1.0, minutes_per_line=0.5, pack_minutes=15,
        orders=tuple(made), mode=mode, picker_cost_per_wave=25.0, max_pickers=12, time_limit_s=time_limit_s,
    )


def measure(problem: Problem) -> dict:
    row = {}
    for name, plan in (("baseline", waves.baseline), ("solver", waves.solve)):
        started = time.perf_counter()
        answer = plan(problem)
        seconds = time.perf_counter() - started
        judged = waves.evaluate(problem, answer.assignment, answer.pickers)
        row[name] = {
            "status": answer.status, "late": len(judged.late), "unplanned": len(judged.unplanned),
            "missed_weight": judged.missed_weight, "pickers": sum(answer.pickers),
            "labour_cost": judged.labour_cost, "seconds": seconds,
        }
    return row


def main() -> None:
    """Run the benchmark and write its section of docs/BENCHMARKS.md."""
    ap = argparse.ArgumentParser(prog="python -m bench.waves")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--time-limit", type=float, default=10.0)
    ap.add_argument("--build", action="store_true", help="measure building the instance from the database")
    ap.add_argument("--sizes", default=",".join(map(str, BUILD_SIZES)), help="open shipments, growing")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--postgres", action="store_true", help="also on a throwaway PostgreSQL cluster")
    ap.add_argument("--write", action="store_true", help="write the waves-build section")
    ap.add_argument("--notes", type=argparse.FileType(), help="Markdown appended under the waves-build table")
    args = ap.parse_args()
    if args.build:
        build_main(args)
        return
    days = [(seed, 1500, 12) for seed in range(1, args.seeds + 1)] + [(args.seeds + 1, 2000, 16)]
    rows = []
    for seed, orders, wave_count in days:
        for mode in (MAX_ON_TIME, MIN_LABOUR):
            problem = realistic_day(seed, orders, wave_count, mode, args.time_limit)
            rows.append((f"seed {seed}: {orders} orders, {wave_count} waves", mode, measure(problem)))
            print(rows[-1])
    write_section("waves", "Wave and labour planning", report(args, rows))


def report(args, rows: list) -> str:
    lines = [
        "| Day | Mode | Plan | Status | Late | Unplanned | Weighted late+unplanned | Picker-waves | Labour cost | Seconds |",
        "|---|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for label, mode, row in rows:
        for name, r in row.items():
            lines.append(
                f"| {label} | {mode} | {name} | {r['status']} | {r['late']} | {r['unplanned']} "
                f"| {r['missed_weight']} | {r['pickers']} | {r['labour_cost']:.0f} | {r['seconds']:.2f} |"
            )
    return (
        f"`python -m bench.waves --seeds {args.seeds} --time-limit {args.time_limit:g}`: seeded days starting "
        "07:00 with 60-minute waves; orders released 06:00-16:00 (busiest mid-morning), each due at the next "
        "of the 12:00 / 15:00 / 17:00 cut-offs at least two hours after release (else tomorrow 12:00); 1-21 lines "
        "(1 + 0.5 min per line), priority 1/2/3 at 80/15/5 %, at most 220 orders per wave, 15 min packing. "
        f"max_on_time uses the crew {', '.join(map(str, CREW_BY_HOUR[:12]))} per wave, then 2 in any later "
        "wave; min_labour chooses 0-12 pickers per wave at 25 per picker-wave and must keep on time "
        "every order that 12 pickers in every wave could. The baseline in min_labour places with 12 "
        "pickers per wave, then keeps only the pickers each wave's work needs.\n\n"
        + "\n".join(lines)
    )


# --- building the instance from the database -------------------------------------------------------------------

BUILD_SIZES = (200, 1000, 2000)
SKU_WEIGHTS = ("0.080", "0.150", "0.300", "0.450", "0.900", "1.200", "1.900", "2.600", "4.800", "7.500", "12.000",
               "31.000")  # the last is heavier than any break: no service prices it
FOREIGN = (("IE", "D02 X285"), ("FR", "75001"), ("DE", "10115"), ("US", "10001"), ("AU", "2000"))


def seed_floor(rng: random.Random) -> tuple[int, int, list[int]]:
    """The demo's London warehouse, carriers, rate cards and zones, a web channel and SKUs of every weight."""
    from decimal import Decimal

    from app.extensions import db
    from app.models import Channel, Sku, Warehouse
    from app.services import demo_warehouse
    from app.services.demo import WAREHOUSES
    code, name, kind, city, postcode, aisles, pickers, cutoffs = WAREHOUSES[0]
    warehouse = Warehouse(code=code, name=name, kind=kind, city=city, postcode=postcode, country="GB",
                          timezone="Europe/London", carrier_cutoffs=cutoffs, pickers_per_shift=pickers, aisles=aisles)
    channel = Channel(code="SHOP", name="Web shop", type="shopify")
    db.session.add_all([warehouse, channel])
    db.session.flush()
    demo_warehouse._seed_carriers()
    demo_warehouse._seed_zones([warehouse])
    skus = [Sku(code=f"BENCH-{n:03d}", name=f"Bench item {n}", length_cm=Decimal("20"), width_cm=Decimal("15"),
                height_cm=Decimal("5"), weight_kg=Decimal(rng.choice(SKU_WEIGHTS)), unit_cost=Decimal("4"),
                price=Decimal("12.50")) for n in range(200)]
    db.session.add_all(skus)
    db.session.commit()
    return warehouse.id, channel.id, [sku.id for sku in skus]


def add_open_shipments(rng: random.Random, floor: tuple[int, int, list[int]], first: int, count: int, day) -> None:
    """`count` allocated shipments from the warehouse: UK areas (some unmapped), Europe and beyond, 1-3 lines."""
    from datetime import datetime, timedelta, timezone
    from decimal import Decimal

    from app.extensions import db
    from app.models.orders import Order, OrderLine, Shipment, ShipmentLine
    from app.services.demo_warehouse import REGIONS
    warehouse_id, channel_id, sku_ids = floor
    areas = [area for listed in REGIONS.values() for area in listed.split()] + ["ZZ", "QQ"]
    placed = datetime.now(timezone.utc)
    for n in range(first, first + count):
        country, postcode = ("GB", f"{rng.choice(areas)}{rng.randint(1, 20)} {rng.randint(1, 9)}AB")
        if rng.random() < 0.08:
            country, postcode = rng.choice(FOREIGN)
        order = Order(number=f"SO-B{n:06d}", channel_id=channel_id, external_id=f"B{n}", status="allocated",
                      priority=rng.choice((1, 1, 1, 2, 3)), rush=rng.random() < 0.05,
                      promised_ship_date=day + timedelta(days=rng.choice((-1, 0, 0, 1, 2, 4))), placed_at=placed,
                      currency="GBP", ship_postcode=postcode, ship_country=country)
        shipment = Shipment(number=f"SO-B{n:06d}-1", order=order, warehouse_id=warehouse_id, status="allocated")
        for line_no, sku_id in enumerate(rng.sample(sku_ids, rng.choice((1, 1, 2, 3))), 1):
            qty = rng.choice((1, 1, 2))
            line = OrderLine(order=order, line_no=line_no, sku_id=sku_id, qty=qty, unit_price=Decimal("12.50"),
                             qty_allocated=qty)
            shipment.lines.append(ShipmentLine(order_line=line, sku_id=sku_id, qty=qty))
        db.session.add(order)
    db.session.commit()


def measure_build(warehouse_id: int, day, repeat: int) -> dict:
    """Seconds to build one instance from a cold session (best of `repeat`), and the SQL statements it ran."""
    from datetime import datetime
    from datetime import time as clock

    from sqlalchemy import event

    from app.extensions import db
    from app.models import Warehouse
    from app.services import waves as wave_service
    statements = []
    count = lambda *_args, **_kw: statements.append(1)  # noqa: E731
    best = None
    for _ in range(repeat):
        db.session.remove()
        warehouse = db.session.get(Warehouse, warehouse_id)
        now = datetime.combine(day, clock(7, 0), wave_service.local_zone(warehouse))
        statements.clear()
        event.listen(db.engine, "before_cursor_execute", count)
        started = time.perf_counter()
        instance, _cutoffs = wave_service.build_instance(warehouse, day, MAX_ON_TIME, pickers=None, max_pickers=None,
                                                         now=now)
        seconds = time.perf_counter() - started
        event.remove(db.engine, "before_cursor_execute", count)
        best = seconds if best is None else min(best, seconds)
    return {"shipments": len(instance["orders"]), "seconds": best, "statements": len(statements)}


def build_rows(url: str, sizes: tuple[int, ...], repeat: int) -> list[dict]:
    """Grow one database through `sizes` open shipments and measure an instance build at each."""
    from datetime import date, timedelta

    from flask_migrate import upgrade

    from app import create_app
    from config import Config

    class BenchConfig(Config):
        SQLALCHEMY_DATABASE_URI = url
        KEEL_SCHEDULER = False

    rng = random.Random(7)
    day = date.today()
    while day.weekday() >= 5:
        day += timedelta(days=1)
    app = create_app(BenchConfig)
    rows = []
    with app.app_context():
        upgrade()
        floor = seed_floor(rng)
        made = 0
        for size in sizes:
            add_open_shipments(rng, floor, made, size - made, day)
            made = size
            rows.append(measure_build(floor[0], day, repeat))
            print(rows[-1], flush=True)
    return rows


def build_main(args) -> None:
    import tempfile
    from pathlib import Path

    from bench import _server
    sizes = tuple(int(s) for s in args.sizes.split(","))
    results = {}
    with tempfile.TemporaryDirectory(prefix="keel-waves-build-") as folder:
        results["SQLite"] = build_rows(f"sqlite:///{Path(folder) / 'bench.sqlite'}", sizes, args.repeat)
    if args.postgres:
        with _server.postgres_cluster() as url:
            results["PostgreSQL"] = build_rows(url.replace("postgresql://", "postgresql+psycopg://", 1), sizes,
                                               args.repeat)
    if args.write:
        write_section("waves-build", "Wave planning: building the instance", build_report(args, results))


def build_report(args, results: dict) -> str:
    lines = ["| Database | Open shipments | Seconds per instance | SQL statements | Statements per shipment |",
             "|---|---:|---:|---:|---:|"]
    for backend, rows in results.items():
        for r in rows:
            lines.append(f"| {backend} | {r['shipments']:,} | {r['seconds']:.2f} | {r['statements']:,} "
                         f"| {r['statements'] / max(1, r['shipments']):.2f} |")
    notes = f"\n\n{args.notes.read()}" if args.notes else ""
    return (
        f"`python -m bench.waves --build --sizes {args.sizes} --repeat {args.repeat}"
        f"{' --postgres' if args.postgres else ''} --write`: app.services.waves.build_instance for the demo's "
        "London warehouse (its carrier cut-offs, the demo carriers' 6 services, rate cards and 138 zone rows), "
        "grown to each number of allocated shipments: UK postcode areas with a few unmapped ones, 8 % to Europe "
        "and beyond, 1-3 lines of SKUs from 0.08 to 31 kg (the heaviest priced by no service), promises from "
        "yesterday to four days on. Best of --repeat builds, each from an empty session (nothing cached), in "
        "process; statements are every SQL statement the build sent."
        + "\n\n" + "\n".join(lines) + notes
    )


if __name__ == "__main__":
    main()
