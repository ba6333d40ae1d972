"""Small, explicit master data for tests."""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import insert

from app.extensions import db
from app.models import Channel, Location, Sku, Warehouse, channel_warehouses


@dataclass
class World:
    warehouses: dict[str, Warehouse] = field(default_factory=dict)
    bins: dict[str, Location] = field(default_factory=dict)
    skus: dict[str, Sku] = field(default_factory=dict)
    channels: dict[str, Channel] = field(default_factory=dict)


def make_sku(code: str, *, price: str = "10.00", cost: str = "4.0000", gtin: str | None = None) -> Sku:
    sku = Sku(code=code, name=f"Test item {code}", category="Test", gtin=gtin, length_cm=Decimal("10"),
              width_cm=Decimal("10"), height_cm=Decimal("5"), weight_kg=Decimal("0.300"), unit_cost=Decimal(cost),
              price=Decimal(price))
    db.session.add(sku)
    return sku


def build_world() -> World:
    world = World()
    for code, aisles in (("EAST", 3), ("WEST", 2)):
        warehouse = Warehouse(code=code, name=f"{code.title()} warehouse", aisles=aisles, pickers_per_shift=3)
        db.session.add(warehouse)
        db.session.flush()
        world.warehouses[code] = warehouse
        for aisle in range(aisles):
            for position in (1, 2):
                bin_ = Location(warehouse_id=warehouse.id, code=f"{code[0]}{aisle}-{position}", kind="bin",
                                aisle=aisle, position_m=Decimal(position * 3), level=1)
                db.session.add(bin_)
                world.bins[bin_.code] = bin_
    for code, gtin in (("TEE-M", "5060123410019"), ("MUG", "5060123410026"), ("CAP", None)):
        world.skus[code] = make_sku(code, gtin=gtin)
    db.session.flush()
    for code, buffer, ranked in (("WEB", 2, ["EAST", "WEST"]), ("AMZ", 0, ["WEST"])):
        channel = Channel(code=code, name=f"{code} channel", type="shopify" if code == "WEB" else "marketplace",
                          safety_buffer=buffer, webhook_secret=f"{code}-secret")
        db.session.add(channel)
        db.session.flush()
        db.session.execute(insert(channel_warehouses), [
            {"channel_id": channel.id, "warehouse_id": world.warehouses[w].id, "rank": i} for i, w in enumerate(ranked, 1)])
        world.channels[code] = channel
    db.session.commit()
    return world


def order_draft(external_id: str, lines: list[tuple[str, int]], *, postcode: str = "LS1 4AP", country: str = "GB",
                price: str = "10.00", **overrides):
    """An order as a channel would send it: SKU codes and quantities, a complete UK address, paid."""
    from datetime import datetime, timezone

    from app.domain.capture import Address, LineDraft, OrderDraft
    now = datetime.now(timezone.utc)
    fields = dict(external_id=external_id, number=None, currency="GBP", placed_at=now, updated_at=now,
                  customer_name="Ann Smith", customer_email="ann@example.com",
                  ship_to=Address(name="Ann Smith", address1="1 Park Row", city="Leeds", postcode=postcode, country=country),
                  billing_country=country, payment_captured=True,
                  lines=tuple(LineDraft(sku, qty, Decimal(price)) for sku, qty in lines),
                  shipping=Decimal("0"), shipping_tax=Decimal("0"), order_discount=Decimal("0"),
                  total=sum((Decimal(price) * qty for _, qty in lines), Decimal("0")))
    fields.update(overrides)
    return OrderDraft(**fields)


def make_rate_tables(world: World, *, east_price: str = "5.00", west_price: str = "4.00") -> None:
    """One carrier with a two-day service; EAST ships to zone Z1, WEST to Z2, everywhere in GB."""
    from datetime import time

    from app.models.carriers import Carrier, CarrierService, RateCard, ShippingZone
    carrier = Carrier(code="TST", name="Test Parcels", tracking_prefix="TS")
    service = CarrierService(carrier=carrier, code="48H", name="48 hour", transit_days=2, cutoff=time(17, 0))
    db.session.add_all([carrier, service])
    for code, zone, price in (("EAST", "Z1", east_price), ("WEST", "Z2", west_price)):
        db.session.add(ShippingZone(warehouse_id=world.warehouses[code].id, country="GB", postcode_prefix="", zone=zone))
        for max_kg, step in (("2", "0"), ("10", "3.00")):
            db.session.add(RateCard(service=service, zone=zone, max_weight_kg=Decimal(max_kg),
                                    price=Decimal(price) + Decimal(step)))
    db.session.commit()


def ship_order(order, *, shipped_at=None):
    """Take every allocated shipment of a captured order through the floor and ship it (ship confirm)."""
    from app.domain.inventory import Cause, Status
    from app.domain.orders import ShipmentStatus
    from app.services import ledger, orders, shipping

    for shipment in [s for s in order.shipments if s.status == ShipmentStatus.ALLOCATED]:
        for status in (ShipmentStatus.RELEASED, ShipmentStatus.PICKING):
            orders.move_shipment(shipment, status, "test floor")
        for line in shipment.lines:
            for bin_ in line.bins:
                ledger.post_move(line.sku_id, bin_.qty, ledger.Place(bin_.location, Status.ALLOCATED),
                                 ledger.Place(bin_.location, Status.PICKED), reason="pick",
                                 cause=Cause("shipment", shipment.number))
                bin_.qty_picked = bin_.qty
            line.qty_picked = line.qty_packed = line.qty
        for status in (ShipmentStatus.PICKED, ShipmentStatus.PACKED):
            orders.move_shipment(shipment, status, "test floor")
        shipment.carrier, shipment.tracking_number = "TST", f"TS{shipment.id:08d}"
        db.session.commit()
        shipping.ship_shipment(shipment.id)
        if shipped_at is not None:
            shipment.shipped_at = shipped_at
            db.session.commit()
    return order
