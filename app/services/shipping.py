"""Shipping: labels from the carrier (queued and retried when the carrier is down), documents, ship confirm.

Ship confirm moves every picked unit to the customer in the ledger, marks the shipment shipped
(the "shipment.shipped" event finance listens to), and settles the order's status: shipped when
every unit has left and nothing waits, in fulfilment while shipments are on the floor.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select

from app.barcodes import code128_svg, gs1_128_svg
from app.domain import gs1
from app.domain.errors import Conflict, NotFound
from app.domain.inventory import Cause, Outside, Reason, Status
from app.domain.orders import OrderStatus, ShipmentStatus, allocation_status
from app.extensions import db
from app.models.orders import Order, Shipment
from app.models.types import utcnow
from app.models.warehouse_ops import LabelRequest, Package, ShipmentDocument
from app.pdf import render_pdf
from app.services import carriers, ledger
from app.services._uow import service
from app.services.events import record_event
from app.services.ledger import Place
from app.services.orders import move_order, move_shipment
from app.services.settings import get_setting

log = logging.getLogger("keel.shipping")
ON_THE_FLOOR = (ShipmentStatus.RELEASED, ShipmentStatus.PICKING, ShipmentStatus.PICKED, ShipmentStatus.PACKED)


# --- the order's status follows its shipments --------------------------------------------------------------------

def settle_order_status(order: Order, user_id: int | None = None, reason: str = "") -> None:
    """Set the order's status from its lines and shipments: shipped, in fulfilment, or waiting for stock."""
    if order.status in (OrderStatus.CANCELLED, OrderStatus.CLOSED, OrderStatus.SHIPPED, OrderStatus.ON_HOLD):
        return
    remaining = sum(line.qty - line.qty_shipped for line in order.lines)
    waiting = sum(line.qty_waiting for line in order.lines)
    on_floor = any(s.status in ON_THE_FLOOR for s in order.shipments)
    shipped_some = any(s.status == ShipmentStatus.SHIPPED for s in order.shipments)
    if remaining <= 0:
        target = OrderStatus.SHIPPED
    elif waiting > 0:
        target = allocation_status(remaining, sum(line.qty_allocated for line in order.lines))
    elif on_floor or shipped_some:
        target = OrderStatus.IN_FULFILLMENT
    else:
        target = OrderStatus.ALLOCATED
    if target == OrderStatus.SHIPPED and order.status != OrderStatus.IN_FULFILLMENT:
        move_order(order, OrderStatus.IN_FULFILLMENT, reason, user_id)
    if order.status != target:
        move_order(order, target, reason or f"now {target.value.replace('_', ' ')}", user_id)


# --- labels ------------------------------------------------------------------------------------------------------

def assign_sscc(package: Package) -> str:
    """The package's SSCC-18: extension digit, company prefix (setting), the package's serial, check digit."""
    if not package.sscc:
        db.session.flush()
        package.sscc = gs1.make_sscc(int(get_setting("shipping.sscc_extension_digit")),
                                     str(get_setting("shipping.gs1_company_prefix")), package.id)
    return package.sscc


def _address_from(shipment: Shipment) -> dict:
    w = shipment.warehouse
    return {"name": w.name, "address1": w.address1, "city": w.city, "postcode": w.postcode, "country": w.country}


def _address_to(shipment: Shipment) -> dict:
    o = shipment.order
    return {"name": o.ship_name, "address1": o.ship_address1, "address2": o.ship_address2, "city": o.ship_city,
            "region": o.ship_region, "postcode": o.ship_postcode, "country": o.ship_country, "phone": o.ship_phone}


def packages_of(shipment: Shipment) -> list[Package]:
    return list(db.session.scalars(select(Package).where(Package.shipment_id == shipment.id).order_by(Package.seq)))


def request_labels(shipment: Shipment, user_id: int | None = None) -> bool:
    """Book every package's label with the carrier; on an outage, queue a label request. True when labelled."""
    try:
        _book_labels(shipment)
    except carriers.CarrierUnavailable as exc:
        _queue_label(shipment, str(exc.message))
        record_event("shipment.label_pending", "shipment", shipment.number,
                     {"shipment": shipment.number, "error": exc.message}, user_id=user_id)
        return False
    record_event("shipment.labelled", "shipment", shipment.number,
                 {"shipment": shipment.number, "carrier": shipment.carrier, "tracking": shipment.tracking_number},
                 user_id=user_id)
    return True


def _book_labels(shipment: Shipment) -> None:
    carrier = carriers.carrier_by_code(shipment.carrier)
    gateway = carriers.gateway_for(carrier)
    zone = carriers.zone_for(shipment.warehouse_id, shipment.order.ship_country, shipment.order.ship_postcode)
    packages = packages_of(shipment)
    booked = []
    for package in packages:
        details = carriers.LabelDetails(shipment=shipment.number, service=shipment.service, zone=zone,
                                        weight_kg=package.weight_kg or 0, ship_from=_address_from(shipment),
                                        ship_to=_address_to(shipment))
        try:
            tracking, _data = gateway.create_label(details)
        except carriers.CarrierUnavailable:
            raise
        except Exception as exc:  # a carrier's system failing in any way is an outage to retry, not a crash
            raise carriers.CarrierUnavailable(f"{carrier.name} did not answer: {exc}") from exc
        booked.append((package, tracking))
    for package, tracking in booked:
        package.tracking_number = tracking
    shipment.tracking_number = booked[0][1] if booked else ""
    for package in packages:
        store_document(shipment, "label", f"label-{shipment.number}-{package.seq}.pdf", render_label(package),
                       package_id=package.id)


def _queue_label(shipment: Shipment, error: str) -> LabelRequest:
    pending = db.session.scalar(select(LabelRequest).where(LabelRequest.shipment_id == shipment.id,
                                                           LabelRequest.status == "pending"))
    if pending is None:
        pending = LabelRequest(shipment_id=shipment.id, status="pending", attempts=0, created_at=utcnow())
        db.session.add(pending)
    pending.attempts += 1
    pending.last_error = error[:500]
    delay = int(get_setting("shipping.label_retry_minutes")) * min(2 ** (pending.attempts - 1), 12)
    pending.next_attempt_at = utcnow() + timedelta(minutes=delay)
    return pending


def label_pending(shipment: Shipment) -> LabelRequest | None:
    return db.session.scalar(select(LabelRequest).where(LabelRequest.shipment_id == shipment.id,
                                                        LabelRequest.status == "pending"))


@service
def retry_label_requests(now: datetime | None = None, *, force: bool = False) -> dict:
    """Try again every queued label that is due; returns how many were labelled and how many still wait."""
    now = now or utcnow()
    stmt = select(LabelRequest).where(LabelRequest.status == "pending")
    if not force:
        stmt = stmt.where(LabelRequest.next_attempt_at <= now)
    done = waiting = 0
    for pending in list(db.session.scalars(stmt.order_by(LabelRequest.id))):
        try:
            _book_labels(pending.shipment)
        except carriers.CarrierUnavailable as exc:
            _queue_label(pending.shipment, exc.message)
            waiting += 1
            continue
        pending.status, pending.done_at = "done", now
        record_event("shipment.labelled", "shipment", pending.shipment.number,
                     {"shipment": pending.shipment.number, "tracking": pending.shipment.tracking_number})
        done += 1
    db.session.commit()
    return {"labelled": done, "waiting": waiting}


# --- documents ---------------------------------------------------------------------------------------------------

def store_document(shipment: Shipment, kind: str, filename: str, data: bytes, *, package_id: int | None = None
                   ) -> ShipmentDocument:
    """Keep a printed document with the shipment, replacing an earlier one of the same kind and package."""
    old = db.session.scalar(select(ShipmentDocument).where(ShipmentDocument.shipment_id == shipment.id,
                                                           ShipmentDocument.kind == kind,
                                                           ShipmentDocument.package_id == package_id))
    if old is not None:
        db.session.delete(old)
    document = ShipmentDocument(shipment_id=shipment.id, package_id=package_id, kind=kind, filename=filename,
                                data=data, created_at=utcnow())
    db.session.add(document)
    return document


def service_label(shipment: Shipment) -> str:
    """ "DPD Next day" for a shipment's stored carrier and service codes."""
    if not shipment.carrier:
        return ""
    try:
        carrier = carriers.carrier_by_code(shipment.carrier)
    except NotFound:
        return f"{shipment.carrier} {shipment.service}"
    service = next((s for s in carrier.services if s.code == shipment.service), None)
    return f"{carrier.name} {service.name if service else shipment.service}"


def label_context(package: Package) -> dict:
    shipment = package.shipment
    total = len(packages_of(shipment))
    return {"shipment": shipment, "package": package, "packages": total, "service_label": service_label(shipment),
            "zone": carriers.zone_for(shipment.warehouse_id, shipment.order.ship_country, shipment.order.ship_postcode),
            "ship_from": _address_from(shipment),
            "ship_to": _address_to(shipment),
            "tracking_svg": code128_svg(package.tracking_number, module_mm=0.38, height_mm=16),
            "sscc_svg": gs1_128_svg(gs1.gs1_128_sscc_data(assign_sscc(package)), module_mm=0.495, height_mm=25)}


def render_label(package: Package) -> bytes:
    """The 4x6 inch shipping label: addresses, service, weight, tracking barcode and the SSCC lowest."""
    return render_pdf("pdf/label.html", page_size="4x6", **label_context(package))


def render_packing_slip(shipment: Shipment) -> bytes:
    """The A4 packing slip that goes in the parcel."""
    lines = [line for line in shipment.lines if line.qty > 0]
    return render_pdf("pdf/packing_slip.html", page_size="A4", shipment=shipment, order=shipment.order, lines=lines,
                      ship_from=_address_from(shipment), ship_to=_address_to(shipment))


def shipment_documents(shipment_id: int) -> list[ShipmentDocument]:
    return list(db.session.scalars(select(ShipmentDocument).where(ShipmentDocument.shipment_id == shipment_id)
                                   .order_by(ShipmentDocument.kind, ShipmentDocument.id)))


def get_document(document_id: int) -> ShipmentDocument:
    document = db.session.get(ShipmentDocument, document_id)
    if document is None:
        raise NotFound("No such document.")
    return document


# --- ship confirm -----------------------------------------------------------------------------------------------

def get_shipment(shipment_id: int) -> Shipment:
    shipment = db.session.get(Shipment, shipment_id)
    if shipment is None:
        raise NotFound("No such shipment.")
    return shipment


def find_shipment(code: str) -> Shipment:
    value = (code or "").strip().upper()
    shipment = db.session.scalar(select(Shipment).where(Shipment.number == value)) if value else None
    if shipment is None:
        shipment = db.session.scalar(select(Shipment).where(Shipment.tracking_number == value)) if value else None
    if shipment is None:
        raise NotFound(f"No shipment '{(code or '').strip()}'.", field="code")
    return shipment


@service
def ship_shipment(shipment_id: int, *, user_id: int | None = None) -> Shipment:
    """Hand a packed, labelled shipment to the carrier: picked stock leaves for the customer; the order settles."""
    shipment = get_shipment(shipment_id)
    if shipment.status != ShipmentStatus.PACKED:
        raise Conflict(f"Shipment {shipment.number} is {shipment.status}; only a packed shipment can ship.")
    if label_pending(shipment) is not None or not shipment.tracking_number:
        raise Conflict(f"Shipment {shipment.number} has no label yet (the carrier's label is pending).")
    _post_shipment_moves(shipment, user_id)
    shipment.shipped_at = utcnow()
    move_shipment(shipment, ShipmentStatus.SHIPPED, f"handed to {shipment.carrier}", user_id)
    settle_order_status(shipment.order, user_id, f"shipment {shipment.number} shipped")
    db.session.commit()
    return shipment


def _post_shipment_moves(shipment: Shipment, user_id: int | None) -> None:
    customer = Place(ledger.outside(Outside.CUSTOMER))
    cause = Cause("shipment", shipment.number)
    for line in shipment.lines:
        for bin_ in line.bins:
            if bin_.qty_picked > 0:
                ledger.post_move(line.sku_id, bin_.qty_picked, Place(bin_.location, Status.PICKED), customer,
                                 reason=Reason.SHIP, cause=cause, user_id=user_id)
        order_line = line.order_line
        order_line.qty_shipped += line.qty_picked
        order_line.qty_allocated -= line.qty
