"""Order use cases: capture from any door, holds, allocation by channel rules, backorders, cancellation."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.domain.capture import CancellationDraft, MappingError, OrderDraft
from app.domain.errors import Conflict, NotFound, ValidationError
from app.domain.holds import OrderFacts, hold_reasons
from app.domain.inventory import Cause, Reason, Status
from app.domain.orders import (AWAITING_STOCK, CANCELLABLE, OrderStatus, ShipmentStatus, allocation_status,
                               check_order_transition, check_shipment_transition, promised_ship_date)
from app.extensions import db
from app.models import Channel, Location, Sku
from app.models.orders import Order, OrderHold, OrderLine, OrderTransition, Shipment, ShipmentBin, ShipmentLine
from app.models.types import utcnow
from app.services import ledger
from app.services._uow import service
from app.services.events import record_event
from app.services.settings import get_setting, hold_rules


@dataclass(frozen=True)
class Captured:
    order: Order
    created: bool
    outcome: str  # created, duplicate, updated, stale, cancelled


# --- transitions -------------------------------------------------------------------------------------------

def move_order(order: Order, new: OrderStatus | str, reason: str = "", user_id: int | None = None) -> None:
    """Move an order along its state graph, recording who, when and why, and emitting an event."""
    if order.status == new:
        return
    target = check_order_transition(order.status, new)
    db.session.add(OrderTransition(order=order, from_status=order.status, to_status=target.value, reason=reason[:500],
                                   user_id=user_id, created_at=utcnow()))
    previous, order.status = order.status, target.value
    record_event(f"order.{target.value}", "order", order.number,
                 {"order": order.number, "from": previous, "to": target.value, "reason": reason}, user_id=user_id)


def move_shipment(shipment: Shipment, new: ShipmentStatus | str, reason: str = "", user_id: int | None = None) -> None:
    """Move a shipment along its state graph, on the order's timeline."""
    if shipment.id is None:
        db.session.flush()  # the transition names the shipment by id
    target = check_shipment_transition(shipment.status, new)
    db.session.add(OrderTransition(order_id=shipment.order_id, shipment_id=shipment.id, from_status=shipment.status,
                                   to_status=target.value, reason=reason[:500], user_id=user_id, created_at=utcnow()))
    previous, shipment.status = shipment.status, target.value
    record_event(f"shipment.{target.value}", "shipment", shipment.number,
                 {"shipment": shipment.number, "order_id": shipment.order_id, "from": previous, "to": target.value},
                 user_id=user_id)


# --- capture -------------------------------------------------------------------------------------------------

def channel_by_code(code: str) -> Channel:
    channel = db.session.scalar(select(Channel).where(Channel.code == code)) if isinstance(code, str) else None
    if channel is None:
        raise NotFound(f"No sales channel with code '{code}'.", field="channel")
    if not channel.active:
        raise ValidationError(f"Channel {code} is not active.", field="channel")
    return channel


@service
def capture_order(channel_code: str, draft: OrderDraft, *, source: str, user_id: int | None = None) -> Captured:
    """Record an order from any door, once; later updates apply, stale ones are ignored."""
    try:
        result = record_capture(channel_code, draft, source=source, user_id=user_id)
        db.session.commit()
    except IntegrityError:
        # Another request captured the same channel order a moment earlier: answer with that one.
        db.session.rollback()
        existing = order_by_external_id(channel_by_code(channel_code).id, draft.external_id)
        if existing is None:
            raise
        return Captured(existing, False, "duplicate")
    return result


def record_capture(channel: Channel | str, draft: OrderDraft, *, source: str, user_id: int | None = None,
                   validate: bool = True) -> Captured:
    """capture_order without the commit, for services that capture many orders in one transaction.

    `channel` is an active channel its caller has already read, or a channel code.
    With validate=False the new order stays received, for validate_order to check later.
    """
    if not isinstance(channel, Channel):
        channel = channel_by_code(channel)
    existing = order_by_external_id(channel.id, draft.external_id)
    if existing is not None:
        return _apply_update(existing, draft, user_id)
    return Captured(_create_order(channel, draft, source, user_id, validate), True, "created")


def order_by_external_id(channel_id: int, external_id: str) -> Order | None:
    return db.session.scalar(select(Order).where(Order.channel_id == channel_id, Order.external_id == external_id))


def _create_order(channel: Channel, draft: OrderDraft, source: str, user_id: int | None, validate: bool = True) -> Order:
    skus = _skus_for(draft)
    # A unique stand-in until the id is known: concurrent captures must not wait on each other's number.
    order = Order(channel=channel, external_id=draft.external_id, number=f"new-{uuid.uuid4().hex[:26]}",
                  status=OrderStatus.RECEIVED.value,
                  priority=draft.priority, sla_days=draft.sla_days if draft.sla_days is not None else channel.sla_days,
                  placed_at=draft.placed_at, channel_updated_at=draft.updated_at, currency=draft.currency,
                  customer_name=draft.customer_name or "", customer_email=draft.customer_email or "",
                  billing_country=(draft.billing_country or "")[:2].upper(), payment_captured=draft.payment_captured,
                  prices_include_tax=draft.prices_include_tax, shipping=draft.shipping, shipping_tax=draft.shipping_tax,
                  order_discount=draft.order_discount, fees=draft.fees, total=draft.total, note=(draft.note or "")[:1000],
                  channel_number=(draft.number or "")[:40], source=source,
                  shipments=[], holds=[], transitions=[])  # known empty: no query when they are first read
    _set_address(order, draft)
    order.promised_ship_date = promised_ship_date(draft.placed_at.date(), order.sla_days)
    for number, line in enumerate(draft.lines, 1):
        order.lines.append(OrderLine(line_no=number, sku=skus[line.sku], sku_id=skus[line.sku].id, title=(line.title or skus[line.sku].name)[:300],
                                     external_line_id=line.external_line_id or "", qty=line.qty,
                                     unit_price=line.unit_price, discount=line.discount, tax=line.tax,
                                     qty_allocated=0, qty_shipped=0))
    db.session.add(order)
    db.session.flush()
    order.number = f"SO-{order.id:06d}"
    db.session.add(OrderTransition(order=order, from_status=None, to_status=OrderStatus.RECEIVED.value,
                                   reason=f"captured from {source}", user_id=user_id, created_at=utcnow()))
    record_event("order.received", "order", order.number,
                 {"order": order.number, "channel": channel.code, "external_id": order.external_id}, user_id=user_id)
    if draft.cancelled_at:
        move_order(order, OrderStatus.CANCELLED, draft.cancel_reason or "cancelled by the channel", user_id)
        order.cancel_reason = draft.cancel_reason or "cancelled by the channel"
        return order
    if validate:
        _validate_and_route(order, user_id)
    return order


def _set_address(order: Order, draft: OrderDraft) -> None:
    a = draft.ship_to
    order.ship_name, order.ship_address1, order.ship_address2 = (a.name or "")[:200], (a.address1 or "")[:200], (a.address2 or "")[:200]
    order.ship_city, order.ship_region, order.ship_postcode = (a.city or "")[:100], (a.region or "")[:100], (a.postcode or "")[:20]
    order.ship_country, order.ship_phone = (a.country or "")[:2].upper(), (a.phone or "")[:40]
    order._missing_address = a.missing_fields()


def _skus_for(draft: OrderDraft) -> dict[str, Sku]:
    if not draft.lines:
        raise MappingError("lines", "The order has no lines.")
    codes = {line.sku for line in draft.lines}
    found = {s.code: s for s in db.session.scalars(select(Sku).where(Sku.code.in_(codes)))}
    for index, line in enumerate(draft.lines):
        if line.sku not in found:
            raise MappingError(f"lines[{index}].sku", f"Unknown SKU '{line.sku}' on line {index + 1}.")
        if not found[line.sku].active:
            raise MappingError(f"lines[{index}].sku", f"SKU '{line.sku}' on line {index + 1} is no longer sold.")
    return found


def _apply_update(order: Order, draft: OrderDraft, user_id: int | None) -> Captured:
    """A repeated delivery of a known order: newer cancellations and payment captures apply, older ones do not."""
    if draft.updated_at is None or (order.channel_updated_at and draft.updated_at <= order.channel_updated_at):
        return Captured(order, False, "duplicate" if draft.updated_at == order.channel_updated_at else "stale")
    order.channel_updated_at = draft.updated_at
    if draft.cancelled_at and order.status in CANCELLABLE:
        _cancel(order, draft.cancel_reason or "cancelled by the channel", user_id)
        return Captured(order, False, "cancelled")
    if draft.payment_captured and not order.payment_captured:
        order.payment_captured = True
        _release_holds(order, "payment", "payment captured by the channel", user_id)
    return Captured(order, False, "updated")


# --- validation and holds ------------------------------------------------------------------------------------

def _validate_and_route(order: Order, user_id: int | None) -> None:
    reasons = hold_reasons(_facts(order), hold_rules())
    if reasons:
        for reason in reasons:
            db.session.add(OrderHold(order=order, kind=reason.kind, reason=reason.reason, created_at=utcnow()))
        move_order(order, OrderStatus.ON_HOLD, "; ".join(r.reason for r in reasons), user_id)
        return
    move_order(order, OrderStatus.READY, "passed validation", user_id)
    if get_setting("orders.allocate_on_capture"):
        allocate_by_rules(order, user_id)


def _facts(order: Order) -> OrderFacts:
    since = utcnow() - timedelta(hours=int(get_setting("holds.velocity_hours")))
    recent = 0
    if order.ship_postcode:
        with db.session.no_autoflush:  # counts other orders: this order's pending changes cannot matter
            recent = db.session.scalar(select(func.count(Order.id)).where(
                Order.ship_postcode == order.ship_postcode, Order.ship_address1 == order.ship_address1,
                Order.created_at >= since, Order.id != order.id)) or 0
    missing = getattr(order, "_missing_address", None)
    if missing is None:
        missing = tuple(f for f in ("ship_name", "ship_address1", "ship_city", "ship_country") if not getattr(order, f))
    return OrderFacts(total=order.total, payment_captured=order.payment_captured, missing_address_fields=tuple(missing),
                      ship_country=order.ship_country, billing_country=order.billing_country or None,
                      recent_orders_same_address=recent)


def _release_holds(order: Order, kind: str | None, note: str, user_id: int | None) -> None:
    for hold in order.open_holds:
        if kind is None or hold.kind == kind:
            hold.released_at, hold.released_by_id, hold.release_note = utcnow(), user_id, note[:300]
    if order.status == OrderStatus.ON_HOLD and not order.open_holds:
        move_order(order, OrderStatus.READY, note, user_id)
        if get_setting("orders.allocate_on_capture"):
            allocate_by_rules(order, user_id)


@service
def validate_order(order_id: int, *, user_id: int | None = None) -> Order:
    """Check a received order against the hold rules now: hold it with reasons, or let it go ahead."""
    order = get_order(order_id)
    if order.status != OrderStatus.RECEIVED:
        raise Conflict(f"Order {order.number} was already checked; it is {order.status.replace('_', ' ')}.")
    _validate_and_route(order, user_id)
    db.session.commit()
    return order


@service
def release_order_holds(order_id: int, *, user_id: int, note: str = "") -> Order:
    """A person reviewed a held order and lets it go ahead."""
    order = get_order(order_id)
    if order.status != OrderStatus.ON_HOLD:
        raise Conflict(f"Order {order.number} is not on hold.")
    _release_holds(order, None, note or "released after review", user_id)
    db.session.commit()
    return order


@service
def hold_order(order_id: int, *, reason: str, user_id: int) -> Order:
    """Put an order on hold by hand, giving back any stock reserved for it."""
    order = get_order(order_id)
    if not reason.strip():
        raise ValidationError("Say why the order is held.", field="reason")
    _refuse_when_picked(order, "held")
    _release_reservations(order, user_id, "held by hand")
    db.session.add(OrderHold(order=order, kind="manual", reason=reason.strip()[:300], created_at=utcnow()))
    move_order(order, OrderStatus.ON_HOLD, reason.strip(), user_id)
    db.session.commit()
    return order


def get_order(order_id: int) -> Order:
    order = db.session.get(Order, order_id)
    if order is None:
        raise NotFound("No such order.")
    return order


# --- allocation by channel rules ----------------------------------------------------------------------------

def allocate_by_rules(order: Order, user_id: int | None = None) -> None:
    """Reserve stock from the channel's ranked warehouses: ship-complete from one, or line by line."""
    waiting = {line.id: line.qty_waiting for line in order.lines if line.qty_waiting > 0}
    if waiting:
        with db.session.no_autoflush:  # reading the channel's warehouses needs nothing of this order written
            ranked = order.channel.warehouses
        if order.channel.ship_complete and not any(s.status != ShipmentStatus.CANCELLED for s in order.shipments):
            whole = next((w for w in ranked if _can_fill(order, w.id)), None)
            ranked = [whole] if whole else []
        for warehouse in ranked:
            _reserve_from(order, warehouse.id, user_id)
    settle_allocation_status(order, user_id)


def _can_fill(order: Order, warehouse_id: int) -> bool:
    return all(available_in(line.sku_id, warehouse_id) >= line.qty_waiting for line in order.lines)


def available_in(sku_id: int, warehouse_id: int) -> int:
    return sum(qty for _, qty in ledger.available_bins(sku_id, warehouse_id))


def _reserve_from(order: Order, warehouse_id: int, user_id: int | None) -> None:
    # SKU by SKU in one order for every capture, so two orders taking the same SKUs lock their balances in the
    # same order and cannot deadlock on each other.
    for line in sorted(order.lines, key=lambda line: line.sku_id):
        if line.qty_waiting > 0:  # filled from an earlier warehouse: no need to read this one's stock
            reserve_line(order, line, warehouse_id, line.qty_waiting, user_id=user_id)


def reserve_line(order: Order, line: OrderLine, warehouse_id: int, qty: int, *, user_id: int | None = None,
                 routing_run_id: int | None = None) -> int:
    """Reserve up to `qty` units of a line in one warehouse, on that warehouse's open shipment; returns units reserved."""
    shipment = _open_shipment(order, warehouse_id, routing_run_id)
    taken = ledger.move_from_warehouse(line.sku_id, warehouse_id, qty, Status.AVAILABLE, Status.ALLOCATED,
                                       reason=Reason.RESERVE, cause=Cause("shipment", shipment.number),
                                       user_id=user_id, allow_partial=True)
    reserved = sum(q for _, q in taken)
    if reserved:
        ship_line = next((sl for sl in shipment.lines if sl.order_line_id == line.id), None)
        if ship_line is None:
            ship_line = ShipmentLine(order_line=line, order_line_id=line.id, sku_id=line.sku_id, qty=0, qty_picked=0,
                                     qty_packed=0)
            shipment.lines.append(ship_line)
        ship_line.qty += reserved
        for location, q in taken:
            ship_line.bins.append(ShipmentBin(location=location, location_id=location.id, qty=q, qty_picked=0))
        line.qty_allocated += reserved
    elif not shipment.lines:
        order.shipments.remove(shipment)
        if shipment.id is None:
            db.session.expunge(shipment)
        else:
            db.session.delete(shipment)
            db.session.flush()  # the next warehouse's shipment may take the same number: delete first
    return reserved


def _open_shipment(order: Order, warehouse_id: int, routing_run_id: int | None) -> Shipment:
    for shipment in order.shipments:
        if shipment.warehouse_id == warehouse_id and shipment.status == ShipmentStatus.ALLOCATED:
            return shipment
    shipment = Shipment(warehouse_id=warehouse_id, status=ShipmentStatus.ALLOCATED.value,
                        number=f"{order.number}-{len(order.shipments) + 1}", routing_run_id=routing_run_id,
                        created_at=utcnow(), lines=[])
    order.shipments.append(shipment)
    return shipment


def settle_allocation_status(order: Order, user_id: int | None, why: str = "") -> None:
    """Set allocated, partially allocated or backordered from the units reserved; does not commit."""
    ordered = sum(line.qty - line.qty_shipped for line in order.lines)
    allocated = sum(line.qty_allocated for line in order.lines)
    target = allocation_status(ordered, allocated)
    if order.status != target:
        waiting = ordered - allocated
        reason = f"{allocated} of {ordered} units reserved" + (f"; {waiting} backordered" if waiting else "")
        move_order(order, target, f"{reason} ({why})" if why else reason, user_id)


@service
def allocate_order(order_id: int, *, user_id: int | None = None) -> Order:
    """Try to reserve stock for a ready or waiting order by the channel's rules."""
    order = get_order(order_id)
    if order.status not in (OrderStatus.READY, *AWAITING_STOCK):
        raise Conflict(f"Order {order.number} is {order.status.replace('_', ' ')}, not waiting for stock.")
    allocate_by_rules(order, user_id)
    db.session.commit()
    return order


@service
def fill_backorders(sku_ids: set[int] | None = None, *, user_id: int | None = None) -> int:
    """Give newly arrived stock to waiting orders, highest priority and oldest first; returns orders touched."""
    touched = _fill_backorders(sku_ids, user_id=user_id)
    db.session.commit()
    return touched


def _fill_backorders(sku_ids: set[int] | None = None, *, user_id: int | None = None) -> int:
    """fill_backorders without the commit, for services that receive stock and fill in one transaction."""
    stmt = select(Order).where(Order.status.in_([s.value for s in AWAITING_STOCK]))
    if sku_ids:
        stmt = stmt.where(Order.id.in_(select(OrderLine.order_id).where(OrderLine.sku_id.in_(sku_ids))))
    touched = 0
    for order in db.session.scalars(stmt.order_by(Order.priority.desc(), Order.placed_at, Order.id)):
        before = sum(line.qty_allocated for line in order.lines)
        allocate_by_rules(order, user_id)
        touched += sum(line.qty_allocated for line in order.lines) > before
    return touched


# --- cancellation ---------------------------------------------------------------------------------------------

@service
def cancel_order(order_id: int, *, reason: str, user_id: int | None = None) -> Order:
    """Cancel before shipping: every reserved unit goes back to available."""
    order = get_order(order_id)
    if order.status not in CANCELLABLE:
        raise Conflict(f"Order {order.number} is {order.status.replace('_', ' ')} and can no longer be cancelled.")
    _cancel(order, reason.strip() or "cancelled", user_id)
    db.session.commit()
    return order


@service
def cancel_channel_order(channel_code: str, cancellation: CancellationDraft, *, user_id: int | None = None) -> Order:
    """The channel says an order is cancelled: cancel it here too, unless it has already left."""
    order = record_channel_cancellation(channel_code, cancellation, user_id=user_id)
    db.session.commit()
    return order


def record_channel_cancellation(channel_code: str, cancellation: CancellationDraft, *,
                                user_id: int | None = None) -> Order:
    """cancel_channel_order without the commit."""
    order = order_by_external_id(channel_by_code(channel_code).id, cancellation.external_id)
    if order is None:
        raise NotFound(f"No order {cancellation.external_id} from channel {channel_code} to cancel.", field="id")
    if order.status == OrderStatus.CANCELLED:
        return order
    if order.status not in CANCELLABLE:
        raise Conflict(f"Order {order.number} is {order.status.replace('_', ' ')}; the channel's cancellation came too late.")
    _cancel(order, f"cancelled by the channel ({cancellation.reason})" if cancellation.reason else "cancelled by the channel",
            user_id)
    return order


def _refuse_when_picked(order: Order, verb: str) -> None:
    if any(line.qty_picked for s in order.shipments if s.status != ShipmentStatus.CANCELLED for line in s.lines):
        raise Conflict(f"Order {order.number} has units already picked and cannot be {verb}; return them to stock first.")


def _cancel(order: Order, reason: str, user_id: int | None) -> None:
    _refuse_when_picked(order, "cancelled")
    _release_reservations(order, user_id, reason)
    order.cancel_reason = reason[:300]
    for hold in order.open_holds:
        hold.released_at, hold.release_note = utcnow(), "order cancelled"
    move_order(order, OrderStatus.CANCELLED, reason, user_id)


def _release_reservations(order: Order, user_id: int | None, reason: str) -> None:
    for shipment in order.shipments:
        if shipment.status in (ShipmentStatus.ALLOCATED, ShipmentStatus.RELEASED, ShipmentStatus.PICKING):
            release_shipment(shipment, user_id, reason)


def release_shipment(shipment: Shipment, user_id: int | None, reason: str) -> None:
    """Give every unreserved-but-unpicked unit of a shipment back to available, and cancel it."""
    cause = Cause("shipment", shipment.number)
    for line in shipment.lines:
        for bin_ in line.bins:
            left = bin_.qty - bin_.qty_picked
            if left > 0:
                location = db.session.get(Location, bin_.location_id)
                ledger.post_move(line.sku_id, left, ledger.Place(location, Status.ALLOCATED),
                                 ledger.Place(location, Status.AVAILABLE), reason=Reason.RELEASE, cause=cause,
                                 user_id=user_id, note=reason)
        line.order_line.qty_allocated -= line.qty - line.qty_picked
    move_shipment(shipment, ShipmentStatus.CANCELLED, reason, user_id)
