"""Packing: the cartons cartonization proposes, items scanned into them, then carrier, label and packing slip.

The carrier service is the cheapest that keeps the order's promise for the heaviest carton;
each carton gets an SSCC and its own label. When the carrier is down the shipment is packed
with its label pending, and a job retries.
"""
from __future__ import annotations

from collections import Counter
from datetime import date
from decimal import Decimal

from sqlalchemy import select

from solvers import cartonize
from solvers._instance import InstanceError
from app.domain.errors import Conflict, NotFound, ValidationError
from app.domain.orders import ShipmentStatus
from app.extensions import db
from app.models.orders import Shipment
from app.models.types import utcnow
from app.models.warehouse_ops import BoxType, Package, PickScan
from app.services import carriers
from app.services._uow import service
from app.services.events import record_event
from app.services.orders import move_shipment
from app.services.picking import ScanOutcome, same_code
from app.services.settings import get_setting
from app.services.shipping import get_shipment, packages_of, render_packing_slip, request_labels, store_document
from app.services.waves import local_today


def box_types() -> list[BoxType]:
    return list(db.session.scalars(select(BoxType).where(BoxType.active.is_(True)).order_by(BoxType.cost, BoxType.code)))


def carton_instance(shipment: Shipment, boxes: list[BoxType]) -> dict:
    """The cartonization instance: the box catalogue and one item per unit of the shipment."""
    items = []
    for line in shipment.lines:
        for unit in range(line.qty):
            sku = line.sku
            items.append({"id": f"{sku.code}#{unit + 1}", "sku": sku.code, "length": float(sku.length_cm),
                          "width": float(sku.width_cm), "height": float(sku.height_cm), "weight": float(sku.weight_kg)})
    return {"boxes": [{"id": b.code, "length": float(b.length_cm), "width": float(b.width_cm),
                       "height": float(b.height_cm), "max_weight": float(b.max_weight_kg), "cost": float(b.cost)}
                      for b in boxes],
            "items": items, "time_limit_s": float(get_setting("packing.time_limit_s"))}


def propose_cartons(shipment: Shipment) -> list[tuple[BoxType, dict[str, int]]]:
    """(box, SKU code -> units) per carton: cartonization's answer, or one largest box when nothing fits."""
    boxes = box_types()
    if not boxes:
        raise ValidationError("No box types are set up for packing.", field="box")
    by_code = {b.code: b for b in boxes}
    try:
        result = cartonize.solve(cartonize.parse_problem(carton_instance(shipment, boxes)))
    except InstanceError:
        largest = max(boxes, key=lambda b: (b.length_cm * b.width_cm * b.height_cm, b.max_weight_kg))
        return [(largest, {line.sku.code: line.qty for line in shipment.lines if line.qty})]
    return [(by_code[p.box], dict(Counter(placement.item.split("#")[0] for placement in p.items)))
            for p in result.packages]


@service
def start_packing(shipment_id: int, *, user_id: int | None = None) -> list[Package]:
    """Open a picked shipment on the bench: the proposed cartons, made once."""
    shipment = get_shipment(shipment_id)
    if shipment.status != ShipmentStatus.PICKED:
        raise Conflict(f"Shipment {shipment.number} is {shipment.status}; only a picked shipment can be packed.")
    packages = packages_of(shipment)
    if not packages:
        for seq, (box, planned) in enumerate(propose_cartons(shipment), 1):
            db.session.add(Package(shipment_id=shipment.id, seq=seq, box_type_id=box.id, proposed_box_id=box.id,
                                   planned=planned, packed={}))
        db.session.flush()
        packages = packages_of(shipment)
    db.session.commit()
    return packages


def units_to_pack(shipment: Shipment) -> dict[str, int]:
    """SKU code -> units still to scan into a carton."""
    return {line.sku.code: line.qty - line.qty_packed for line in shipment.lines if line.qty - line.qty_packed > 0}


def _carton_for(packages: list[Package], sku_code: str) -> Package:
    for package in packages:
        if package.packed.get(sku_code, 0) < package.planned.get(sku_code, 0):
            return package
    return packages[-1]


@service
def scan_pack(shipment_id: int, scanned: str, *, user_id: int | None = None) -> ScanOutcome:
    """Scan one unit into its carton; an item the shipment does not need is refused."""
    shipment = get_shipment(shipment_id)
    if shipment.status != ShipmentStatus.PICKED:
        raise Conflict(f"Shipment {shipment.number} is {shipment.status}, not on the packing bench.")
    packages = packages_of(shipment)
    if not packages:
        raise Conflict("Open the shipment on the bench first.")
    line = next((l for l in shipment.lines if l.qty > l.qty_packed and same_code(scanned, l.sku.gtin, l.sku.code)), None)
    outcome = "ok" if line else "wrong_item"
    db.session.add(PickScan(shipment_id=shipment.id, user_id=user_id, step="pack", scanned=(scanned or "")[:100],
                            expected=",".join(units_to_pack(shipment))[:100], outcome=outcome, created_at=utcnow()))
    if line is None:
        db.session.commit()
        return ScanOutcome(False, f"{(scanned or '').strip() or 'Nothing'} is not needed in {shipment.number}. "
                                  "Put it aside for the supervisor.")
    package = _carton_for(packages, line.sku.code)
    package.packed = {**package.packed, line.sku.code: package.packed.get(line.sku.code, 0) + 1}
    line.qty_packed += 1
    db.session.commit()
    return ScanOutcome(True, f"{line.sku.code} into carton {package.seq} ({package.box_type.name}).")


@service
def change_box(package_id: int, box_code: str, *, user_id: int | None = None) -> Package:
    """The packer overrides the proposed carton."""
    package = db.session.get(Package, package_id)
    if package is None:
        raise NotFound("No such carton.")
    if package.status != "open" or package.shipment.status != ShipmentStatus.PICKED:
        raise Conflict("This carton is already closed.")
    box = db.session.scalar(select(BoxType).where(BoxType.code == (box_code or "").strip(), BoxType.active.is_(True)))
    if box is None:
        raise ValidationError("Choose a box from the list.", field="box")
    package.box_type_id = box.id
    db.session.commit()
    return package


def carton_weight(package: Package) -> Decimal:
    skus = {line.sku.code: line.sku for line in package.shipment.lines}
    items = sum((skus[code].weight_kg * qty for code, qty in package.packed.items() if code in skus), Decimal("0"))
    return (items + package.box_type.tare_kg).quantize(Decimal("0.001"))


@service
def complete_packing(shipment_id: int, *, user_id: int | None = None, ship_date: date | None = None) -> Shipment:
    """Close the cartons, choose the carrier service, book labels (or queue them), print the packing slip."""
    shipment = get_shipment(shipment_id)
    if shipment.status != ShipmentStatus.PICKED:
        raise Conflict(f"Shipment {shipment.number} is {shipment.status}, not on the packing bench.")
    left = units_to_pack(shipment)
    if left:
        raise ValidationError("Scan every unit before closing: " + ", ".join(f"{q} × {c}" for c, q in left.items())
                              + " still to pack.", field="code")
    packages = [p for p in packages_of(shipment) if p.units_packed]
    for package in packages_of(shipment):
        if not package.units_packed:
            db.session.delete(package)
    for package in packages:
        package.weight_kg, package.status = carton_weight(package), "closed"
    _choose_service(shipment, packages, ship_date or local_today(shipment.warehouse))
    db.session.flush()
    store_document(shipment, "packing_slip", f"packing-slip-{shipment.number}.pdf", render_packing_slip(shipment))
    move_shipment(shipment, ShipmentStatus.PACKED, f"{len(packages)} carton(s), {shipment.weight_kg} kg", user_id)
    request_labels(shipment, user_id)
    record_event("shipment.packed_cartons", "shipment", shipment.number,
                 {"shipment": shipment.number, "cartons": [p.box_type.code for p in packages]}, user_id=user_id)
    db.session.commit()
    return shipment


def _choose_service(shipment: Shipment, packages: list[Package], ship_date: date) -> None:
    order = shipment.order
    zone = carriers.zone_for(shipment.warehouse_id, order.ship_country, order.ship_postcode)
    heaviest = max(p.weight_kg for p in packages)
    quote = carriers.cheapest_service(shipment.warehouse_id, zone, heaviest, order.promised_ship_date, ship_date)
    prices = [carriers.rate_for(quote.service_id, zone, p.weight_kg) for p in packages]
    if any(price is None for price in prices):
        raise ValidationError(f"{quote.label} does not carry one of the cartons; split it.", field="box")
    shipment.carrier, shipment.service = quote.carrier, quote.service
    shipment.weight_kg = sum((p.weight_kg for p in packages), Decimal("0"))
    shipment.shipping_cost = sum(prices, Decimal("0"))

