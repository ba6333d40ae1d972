"""Document rendering benchmark: pick list (A4), shipping label (4x6) and packing slip (A4) through WeasyPrint.

    python -m bench.documents [--renders 50] [--lines 25] [--no-write]

Builds a small warehouse in a throwaway SQLite database (a 25-line pick batch, one labelled
carton), renders each document `--renders` times, and reports the mean and 95th percentile.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, time as clock, timezone
from decimal import Decimal
from pathlib import Path

from bench._report import write_section


def _build(lines: int):
    """A warehouse, an order of `lines` lines reserved in as many bins, a batch over them and a labelled carton."""
    import random

    from app.extensions import db
    from app.models import Channel, Location, Sku, Warehouse
    from app.models.orders import Order, OrderLine, Shipment, ShipmentBin, ShipmentLine
    from app.models.warehouse_ops import BoxType, Package, PickBatch, PickTask, Wave, WavePlan
    from app.services import demo_warehouse
    rng = random.Random(7)
    warehouse = Warehouse(code="LON", name="London Park Royal", aisles=12, address1="Unit 4", city="London",
                          postcode="NW10 7NZ", aisle_length_m=Decimal("28.8"), aisle_spacing_m=Decimal("3"))
    channel = Channel(code="SHOP", name="Web store", type="web")
    db.session.add_all([warehouse, channel])
    db.session.flush()
    demo_warehouse._seed_carriers()
    demo_warehouse._seed_zones([warehouse])
    demo_warehouse._seed_boxes()
    now = datetime.now(timezone.utc)
    order = Order(number="SO-000001", channel_id=channel.id, external_id="1", status="in_fulfillment",
                  promised_ship_date=date.today(), placed_at=now, currency="GBP", ship_name="Ann Smith",
                  ship_address1="1 Park Row", ship_city="Leeds", ship_postcode="LS1 4AP", ship_country="GB")
    shipment = Shipment(number="SO-000001-1", warehouse_id=warehouse.id, status="packed", carrier="RM", service="T48",
                        tracking_number="RM000000000017")
    order.shipments.append(shipment)
    plan = WavePlan(warehouse_id=warehouse.id, day=date.today(), mode="max_on_time", start=clock(8, 0))
    wave = Wave(plan=plan, warehouse_id=warehouse.id, number="W1-1", index=0, starts_at=now, ends_at=now)
    batch = PickBatch(number="W1-1-B1", wave=wave, warehouse_id=warehouse.id, distance_m=Decimal("182.4"),
                      s_shape_m=Decimal("211.0"))
    db.session.add_all([order, plan, wave, batch])
    for n in range(lines):
        sku = Sku(code=f"SKU-{n:03d}", name=f"Demo item {n}", gtin=None, length_cm=Decimal("12"), width_cm=Decimal("10"),
                  height_cm=Decimal("4"), weight_kg=Decimal("0.25"), unit_cost=Decimal("2"), price=Decimal("9"))
        bin_ = Location(warehouse_id=warehouse.id, code=f"{chr(65 + n % 12)}{n % 16 + 1:02d}-1", kind="bin",
                        aisle=n % 12, position_m=Decimal(rng.randint(1, 28)))
        db.session.add_all([sku, bin_])
        db.session.flush()
        line = OrderLine(line_no=n + 1, sku_id=sku.id, title=sku.name, qty=1, unit_price=sku.price, qty_allocated=1)
        order.lines.append(line)
        db.session.flush()
        ship_line = ShipmentLine(order_line_id=line.id, sku_id=sku.id, qty=1, qty_picked=1, qty_packed=1)
        shipment.lines.append(ship_line)
        ship_line.bins.append(ShipmentBin(location_id=bin_.id, qty=1, qty_picked=1))
        db.session.flush()
        batch.tasks.append(PickTask(seq=n + 1, tote=1, shipment_bin_id=ship_line.bins[0].id, shipment_id=shipment.id,
                                    location_id=bin_.id, sku_id=sku.id, qty=1))
    box = db.session.query(BoxType).filter_by(code="CTN-M").one()
    package = Package(shipment=shipment, seq=1, box_type_id=box.id, planned={}, packed={}, weight_kg=Decimal("2.400"),
                      tracking_number="RM000000000017", status="closed")
    db.session.add(package)
    db.session.commit()
    return batch, package, shipment


def _time(render, runs: int) -> tuple[float, float, int]:
    """(mean ms, p95 ms, bytes of the last document) over `runs` renders, after one warm-up."""
    render()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        data = render()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.fmean(times), times[max(0, int(len(times) * 0.95) - 1)], len(data)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--renders", type=int, default=50)
    parser.add_argument("--lines", type=int, default=25)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)

    from app import create_app
    from app.extensions import db
    from config import TestConfig

    class Config(TestConfig):
        SQLALCHEMY_DATABASE_URI = f"sqlite:///{Path(tempfile.mkdtemp(prefix='keel-bench-')) / 'bench.sqlite'}"

    app = create_app(Config)
    with app.app_context(), app.test_request_context():
        db.create_all()
        from app.services.picking import render_pick_list
        from app.services.shipping import render_label, render_packing_slip
        batch, package, shipment = _build(args.lines)
        rows = [("Pick list, A4", *_time(lambda: render_pick_list(batch, "A4"), args.renders)),
                ("Pick list, Letter", *_time(lambda: render_pick_list(batch, "Letter"), args.renders)),
                ("Shipping label, 4x6 in", *_time(lambda: render_label(package), args.renders)),
                ("Packing slip, A4", *_time(lambda: render_packing_slip(shipment), args.renders))]
    table = ["| document | mean (ms) | p95 (ms) | size (KiB) |", "| --- | ---: | ---: | ---: |"]
    table += [f"| {name} | {mean:.0f} | {p95:.0f} | {size / 1024:.0f} |" for name, mean, p95, size in rows]
    body = (f"{args.renders} renders each after one warm-up, WeasyPrint, one process. The pick list has "
            f"{args.lines} lines, each with two Code 128 symbols (bin and item); the label carries a Code 128 "
            "tracking number and a GS1-128 SSCC.\n\n" + "\n".join(table))
    print(body)
    if not args.no_write:
        write_section("documents", "Documents: pick list, label and packing slip rendering", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
