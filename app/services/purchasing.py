"""Purchasing use cases: supplier terms and catalogues, and purchase orders from draft to closed.

A PO moves draft -> (awaiting_approval -> approved) -> sent -> confirmed -> partially_received -> received
-> closed, or is cancelled before anything arrives. Every unit it brings in is a ledger move caused by
("purchase_order", number): a shipment notice puts units in transit on the warehouse's dock, a receipt
makes them available or quarantined there, and put-away moves them to bins. Receipts fill backorders
in the same transaction.
"""
from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import TypeVar
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import func, select

from app.domain.errors import Conflict, InvalidTransition, NotFound, ValidationError
from app.domain.inventory import Cause, Outside, Reason, Status, check_quantity
from app.extensions import db
from app.models import Location, Sku, StockBalance, Supplier, Warehouse
from app.models.approvals import ApprovalRequest
from app.models.purchasing import (PurchaseOrder, PurchaseOrderLine, Receipt, ReceiptLine, SupplierContact,
                                   SupplierShipment, SupplierShipmentLine, SupplierSku, SupplierTerms)
from app.models.types import utcnow
from app.services import ledger
from app.services._uow import service
from app.services.approvals import (approval_needed, on_approved, on_rejected, pending_request_for,
                                    request_approval, withdraw_request)
from app.services.events import record_event
from app.services.ledger import Place
from app.services.orders import _fill_backorders
from app.services.settings import get_setting

DRAFT, AWAITING_APPROVAL, APPROVED, SENT, CONFIRMED = "draft", "awaiting_approval", "approved", "sent", "confirmed"
PARTIALLY_RECEIVED, RECEIVED, CLOSED, CANCELLED = "partially_received", "received", "closed", "cancelled"
PO_STATUSES = (DRAFT, AWAITING_APPROVAL, APPROVED, SENT, CONFIRMED, PARTIALLY_RECEIVED, RECEIVED, CLOSED, CANCELLED)
PO_TRANSITIONS = {
    DRAFT: {AWAITING_APPROVAL, SENT, CANCELLED},
    AWAITING_APPROVAL: {APPROVED, DRAFT, CANCELLED},
    APPROVED: {SENT, DRAFT, CANCELLED},
    SENT: {CONFIRMED, PARTIALLY_RECEIVED, RECEIVED, CANCELLED},
    CONFIRMED: {PARTIALLY_RECEIVED, RECEIVED, CANCELLED},
    PARTIALLY_RECEIVED: {RECEIVED, CLOSED},
    RECEIVED: {CLOSED},
    CLOSED: set(),
    CANCELLED: set(),
}
# Units of these orders are on their way (or about to be): replenishment counts them as on order.
OPEN_STATUSES = (DRAFT, AWAITING_APPROVAL, APPROVED, SENT, CONFIRMED, PARTIALLY_RECEIVED)
RECEIVABLE = (SENT, CONFIRMED, PARTIALLY_RECEIVED, RECEIVED)
NOTIFIABLE = (SENT, CONFIRMED, PARTIALLY_RECEIVED)
MAX_UNIT_COST = Decimal("1000000")
MAX_LINES = 500
Activatable = TypeVar("Activatable", Supplier, Warehouse)


@dataclass(frozen=True)
class LineInput:
    """One line a buyer asks for: a SKU, units, and a unit cost (the supplier's agreed cost when None)."""

    sku_id: int
    qty: int
    unit_cost: Decimal | None = None
    reason: str = ""


@dataclass(frozen=True)
class ReceiveInput:
    """Units of one SKU counted in at the dock, held in quarantine or not, at the delivery note's cost if given."""

    sku_id: int
    qty: int
    quarantine: bool = False
    unit_cost: Decimal | None = None


# --- small lookups -----------------------------------------------------------------------------------------------

def local_today() -> date:
    return datetime.now(ZoneInfo(current_app.config.get("KEEL_TIMEZONE", "Europe/London"))).date()


def get_po(po_id: int, *, lock: bool = False) -> PurchaseOrder:
    """The purchase order; with lock, its row is held until commit so two changes to it queue rather than race."""
    if not isinstance(po_id, int) or isinstance(po_id, bool):
        raise NotFound("No such purchase order.")
    po = db.session.get(PurchaseOrder, po_id, with_for_update=lock or None, populate_existing=lock)
    if po is None:
        raise NotFound("No such purchase order.")
    return po


def supplier_by_code(code: str) -> Supplier:
    supplier = db.session.scalar(select(Supplier).where(Supplier.code == code)) if isinstance(code, str) else None
    if supplier is None:
        raise NotFound(f"No supplier with code '{code}'.", field="supplier")
    return supplier


def warehouse_by_code(code: str) -> Warehouse:
    warehouse = db.session.scalar(select(Warehouse).where(Warehouse.code == code)) if isinstance(code, str) else None
    if warehouse is None:
        raise NotFound(f"No warehouse with code '{code}'.", field="warehouse")
    return warehouse


def skus_by_code(codes: set[str]) -> dict[str, Sku]:
    if not codes:
        return {}
    return {s.code: s for s in db.session.scalars(select(Sku).where(Sku.code.in_(codes)))}


def supplier_sku(supplier_id: int, sku_id: int) -> SupplierSku | None:
    return db.session.scalar(select(SupplierSku).where(SupplierSku.supplier_id == supplier_id,
                                                       SupplierSku.sku_id == sku_id))


def exchange_rate(currency: str) -> Decimal:
    """Home currency per unit of `currency`, from the purchasing.exchange_rates setting."""
    if currency == current_app.config.get("KEEL_CURRENCY", "GBP"):
        return Decimal(1)
    rate = (get_setting("purchasing.exchange_rates") or {}).get(currency)
    if rate is None:
        raise ValidationError(f"No exchange rate for {currency}; add one under purchasing.exchange_rates.",
                              field="supplier")
    return Decimal(str(rate))


def known_currencies() -> list[str]:
    """The home currency and every currency with an exchange rate."""
    home = current_app.config.get("KEEL_CURRENCY", "GBP")
    return [home, *sorted(set(get_setting("purchasing.exchange_rates") or {}) - {home})]


def home_value(po: PurchaseOrder) -> Decimal:
    """The order's value in the home currency, to the cent."""
    return (po.total * po.exchange_rate).quantize(Decimal("0.01"))


def _stand_in_number() -> str:
    # Unique until the id is known, so concurrent drafts never wait on each other's number.
    return f"new-{uuid.uuid4().hex[:16]}"


def _move_po(po: PurchaseOrder, new: str, user_id: int | None, reason: str = "") -> None:
    if new not in PO_TRANSITIONS.get(po.status, set()):
        raise InvalidTransition(f"Purchase order {po.number} is {po.status.replace('_', ' ')}; it cannot become "
                                f"{new.replace('_', ' ')}.")
    previous, po.status = po.status, new
    record_event(f"purchase_order.{new}", "purchase_order", po.number,
                 {"po": po.number, "from": previous, "to": new, "reason": reason}, user_id=user_id)


# --- drafting ----------------------------------------------------------------------------------------------------

@service
def draft_purchase_order(supplier_id: int, warehouse_id: int, lines: list[LineInput], *, user_id: int | None,
                         source: str = "manual", note: str = "") -> PurchaseOrder:
    """Start a purchase order as a draft, checking each line against the supplier's packs and minimums."""
    po = record_draft(supplier_id, warehouse_id, lines, user_id=user_id, source=source, note=note)
    db.session.commit()
    return po


def record_draft(supplier_id: int, warehouse_id: int, lines: list[LineInput], *, user_id: int | None,
                 source: str = "manual", note: str = "") -> PurchaseOrder:
    """draft_purchase_order without the commit."""
    supplier, warehouse = _active_supplier(supplier_id), _active_warehouse(warehouse_id)
    po = PurchaseOrder(number=_stand_in_number(), supplier=supplier,
                       warehouse=warehouse, status=DRAFT, currency=supplier.currency,
                       exchange_rate=exchange_rate(supplier.currency), terms=_terms_text(supplier),
                       note=note.strip()[:1000], source=source, created_by_id=user_id, created_at=utcnow())
    _set_lines(po, lines)
    db.session.add(po)
    db.session.flush()
    po.number = f"PO-{po.id:06d}"
    po.expected_date = local_today() + timedelta(days=_longest_lead_days(po))
    record_event("purchase_order.draft", "purchase_order", po.number,
                 {"po": po.number, "supplier": supplier.code, "warehouse": warehouse.code, "source": source},
                 user_id=user_id)
    return po


@service
def update_draft_lines(po_id: int, lines: list[LineInput], *, user_id: int | None, note: str | None = None
                       ) -> PurchaseOrder:
    """Replace a draft's lines; an approved order that is edited goes back to draft and needs approval again."""
    po = get_po(po_id, lock=True)
    if po.status not in (DRAFT, APPROVED):
        raise Conflict(f"Purchase order {po.number} is {po.status.replace('_', ' ')}; only drafts can be edited.")
    if po.status == APPROVED:
        _move_po(po, DRAFT, user_id, "edited after approval")
    po.lines.clear()
    db.session.flush()
    _set_lines(po, lines)
    if note is not None:
        po.note = note.strip()[:1000]
    po.expected_date = local_today() + timedelta(days=_longest_lead_days(po))
    db.session.commit()
    return po


def _set_lines(po: PurchaseOrder, lines: list[LineInput]) -> None:
    if not lines:
        raise ValidationError("Add at least one line.", field="lines")
    if len(lines) > MAX_LINES:
        raise ValidationError(f"A purchase order holds at most {MAX_LINES} lines.", field="lines")
    errors: dict[str, str] = {}
    merged: dict[int, PurchaseOrderLine] = {}
    for index, line in enumerate(lines):
        built = _build_line(po.supplier, line, f"lines[{index}]", errors)
        if built is None:
            continue
        if built.sku_id in merged:
            merged[built.sku_id].qty_ordered += built.qty_ordered
        else:
            merged[built.sku_id] = built
    if errors:
        raise ValidationError(errors=errors)
    for number, line in enumerate(merged.values(), 1):
        line.line_no = number
        po.lines.append(line)
    _check_packs(po.supplier, list(merged.values()), lines)


def _build_line(supplier: Supplier, line: LineInput, path: str, errors: dict[str, str]) -> PurchaseOrderLine | None:
    sku = db.session.get(Sku, line.sku_id) if isinstance(line.sku_id, int) else None
    if sku is None:
        errors[f"{path}.sku"] = "No such SKU."
        return None
    try:
        check_quantity(line.qty)
    except ValidationError as exc:
        errors[f"{path}.qty"] = exc.message
        return None
    terms = supplier_sku(supplier.id, sku.id)
    cost = line.unit_cost if line.unit_cost is not None else (terms.unit_cost if terms and terms.active else None)
    if cost is None:
        errors[f"{path}.unit_cost"] = f"{supplier.name} has no agreed cost for {sku.code}; enter a unit cost."
        return None
    if not isinstance(cost, Decimal) or not cost.is_finite() or cost < 0 or cost >= MAX_UNIT_COST:
        errors[f"{path}.unit_cost"] = "Enter a unit cost of 0 or more, like 4.25."
        return None
    return PurchaseOrderLine(sku_id=sku.id, sku=sku, qty_ordered=line.qty, unit_cost=cost.quantize(Decimal("0.0001")),
                             agreed_unit_cost=terms.unit_cost if terms else None,
                             supplier_code=terms.supplier_code if terms else "", pack_size=terms.pack_size if terms else 1,
                             reason=line.reason[:500])


def _check_packs(supplier: Supplier, lines: list[PurchaseOrderLine], inputs: list[LineInput]) -> None:
    """Suppliers sell in whole packs and above a minimum: name every line that breaks either."""
    index_of = {line.sku_id: i for i, line in reversed(list(enumerate(inputs)))}
    errors = {}
    for line in lines:
        terms = supplier_sku(supplier.id, line.sku_id)
        if terms is None:
            continue
        path = f"lines[{index_of[line.sku_id]}].qty"
        if line.qty_ordered % terms.pack_size:
            errors[path] = f"{line.sku.code} comes in packs of {terms.pack_size}; order a multiple of {terms.pack_size}."
        elif line.qty_ordered < terms.moq:
            errors[path] = f"{supplier.name} sells {line.sku.code} from {terms.moq} units."
    if errors:
        raise ValidationError(errors=errors)


def _active_supplier(supplier_id: int) -> Supplier:
    return _active(Supplier, supplier_id, "supplier", lambda supplier: f"{supplier.name} is not an active supplier.")


def _active_warehouse(warehouse_id: int) -> Warehouse:
    return _active(Warehouse, warehouse_id, "warehouse", lambda warehouse: f"Warehouse {warehouse.code} is not active.")


def _active(model: type[Activatable], record_id: int, field: str, inactive: Callable[[Activatable], str]) -> Activatable:
    record = db.session.get(model, record_id) if isinstance(record_id, int) else None
    if record is None:
        raise NotFound(f"No such {field}.", field=field)
    if not record.active:
        raise ValidationError(inactive(record), field=field)
    return record


def _terms_text(supplier: Supplier) -> str:
    terms = db.session.get(SupplierTerms, supplier.id)
    return terms.summary if terms else "Payment 30 days net · DAP (Incoterms 2020)"


def _longest_lead_days(po: PurchaseOrder) -> int:
    days = [po.supplier.lead_time_days]
    for line in po.lines:
        terms = supplier_sku(po.supplier_id, line.sku_id)
        if terms is not None:
            days.append(terms.lead_days)
    return max(days)


# --- approval and sending ----------------------------------------------------------------------------------------

@service
def send_purchase_order(po_id: int, *, user_id: int | None) -> PurchaseOrder:
    """Send a draft or approved PO to the supplier; a draft over the approval threshold waits for approval first."""
    po = get_po(po_id, lock=True)
    if po.status == DRAFT and (rule := approval_needed("purchase_order", home_value(po))) is not None:
        request = request_approval("purchase_order", "purchase_order", po.id, home_value(po), user_id,
                                   _approval_reason(po), summary=f"{po.number} · {po.supplier.name}")
        po.approval_request_id = request.id
        _move_po(po, AWAITING_APPROVAL, user_id, f"over the approval threshold ({rule.description or rule.threshold})")
    elif po.status in (DRAFT, APPROVED):
        _mark_sent(po, user_id)
    else:
        raise InvalidTransition(f"Purchase order {po.number} is {po.status.replace('_', ' ')} and cannot be sent.")
    db.session.commit()
    return po


def _approval_reason(po: PurchaseOrder) -> str:
    """What an approver needs without opening the order: who, where, how much, and the biggest lines."""
    biggest = sorted(po.lines, key=lambda line: line.value, reverse=True)[:3]
    lines = "; ".join(f"{line.sku.code} {line.qty_ordered} × {line.unit_cost.normalize()}" for line in biggest)
    more = f" and {len(po.lines) - 3} more lines" if len(po.lines) > 3 else ""
    return (f"{po.number} to {po.supplier.name} for {po.warehouse.code}: {po.units} units, {po.total:,.2f} "
            f"{po.currency}. {lines}{more}.")


def _mark_sent(po: PurchaseOrder, user_id: int | None) -> None:
    po.sent_at = utcnow()
    po.expected_date = po.promised_date = local_today() + timedelta(days=_longest_lead_days(po))
    _move_po(po, SENT, user_id, f"expected {po.expected_date.isoformat()}")


@on_approved("purchase_order")
def _approved(request: ApprovalRequest) -> None:
    po = db.session.get(PurchaseOrder, int(request.subject_id))
    if po is not None and po.status == AWAITING_APPROVAL:
        _move_po(po, APPROVED, request.decided_by_id, request.note or "approved")


@on_rejected("purchase_order")
def _rejected(request: ApprovalRequest) -> None:
    po = db.session.get(PurchaseOrder, int(request.subject_id))
    if po is not None and po.status == AWAITING_APPROVAL:
        _move_po(po, DRAFT, request.decided_by_id, f"rejected: {request.note}")


@service
def confirm_purchase_order(po_id: int, *, user_id: int | None, expected_date: date | None = None,
                           supplier_reference: str = "") -> PurchaseOrder:
    """Record the supplier's confirmation, with the delivery date they promise."""
    po = get_po(po_id, lock=True)
    if expected_date is not None and expected_date < (po.sent_at.date() if po.sent_at else local_today()):
        raise ValidationError("The promised date cannot be before the order was sent.", field="expected_date")
    _move_po(po, CONFIRMED, user_id, supplier_reference.strip())
    po.confirmed_at = utcnow()
    po.expected_date = po.promised_date = expected_date or po.expected_date
    po.supplier_reference = supplier_reference.strip()[:60]
    db.session.commit()
    return po


# --- shipment notices (ASN) --------------------------------------------------------------------------------------

@service
def record_shipment_notice(po_id: int, lines: list[tuple[int, int]], *, expected_date: date, user_id: int | None,
                           reference: str = "", carrier: str = "", tracking: str = "") -> SupplierShipment:
    """The supplier has shipped: the notified units move from the supplier to the dock, in transit."""
    po = get_po(po_id, lock=True)
    if po.status not in NOTIFIABLE:
        raise Conflict(f"Purchase order {po.number} is {po.status.replace('_', ' ')}; no shipment can be notified.")
    if not isinstance(expected_date, date):
        raise ValidationError("Give the date the shipment should arrive.", field="expected_date")
    shipment = SupplierShipment(po=po, reference=reference.strip()[:60], carrier=carrier.strip()[:60],
                                tracking=tracking.strip()[:80], expected_date=expected_date, created_by_id=user_id,
                                created_at=utcnow(), status="in_transit")
    db.session.add(shipment)
    dock, cause = dock_location(po.warehouse), Cause("purchase_order", po.number)
    for line, qty in _notified_lines(po, lines):
        shipment.lines.append(SupplierShipmentLine(po_line_id=line.id, sku_id=line.sku_id, qty=qty))
        line.qty_in_transit += qty
        ledger.post_move(line.sku_id, qty, Place(ledger.outside(Outside.SUPPLIER)), Place(dock, Status.IN_TRANSIT),
                         reason=Reason.TRANSFER, cause=cause, user_id=user_id, unit_cost=home_unit_cost(po, line),
                         note=f"shipment notice {shipment.reference or ''} due {expected_date.isoformat()}".strip())
    if all(line.qty_in_transit >= line.qty_open for line in po.lines):
        po.expected_date = expected_date  # everything still open is on this shipment
    db.session.flush()
    record_event("purchase_order.shipped", "purchase_order", po.number,
                 {"po": po.number, "shipment": shipment.id, "reference": shipment.reference,
                  "expected_date": expected_date.isoformat(), "units": sum(q for _, q in lines)}, user_id=user_id)
    db.session.commit()
    return shipment


def _notified_lines(po: PurchaseOrder, lines: list[tuple[int, int]]) -> list[tuple[PurchaseOrderLine, int]]:
    by_sku = {line.sku_id: line for line in po.lines}
    errors, chosen, counted = {}, [], {}
    for index, (sku_id, qty) in enumerate(lines):
        line = by_sku.get(sku_id)
        if line is None:
            errors[f"lines[{index}].sku"] = "This SKU is not on the purchase order."
            continue
        try:
            check_quantity(qty)
        except ValidationError as exc:
            errors[f"lines[{index}].qty"] = exc.message
            continue
        counted[line.id] = counted.get(line.id, 0) + qty
        room = _receipt_ceiling(line) - line.qty_received - line.qty_in_transit
        if counted[line.id] > room:
            errors[f"lines[{index}].qty"] = f"{line.sku.code}: only {max(room, 0)} more can be shipped on this order."
            continue
        chosen.append((line, qty))
    if errors:
        raise ValidationError(errors=errors)
    if not chosen:
        raise ValidationError("Give at least one line with units shipped.", field="lines")
    return chosen


def dock_location(warehouse: Warehouse) -> Location:
    """The warehouse's receiving dock, made on first use for warehouses laid out without one."""
    dock = db.session.scalar(select(Location).where(Location.warehouse_id == warehouse.id, Location.kind == "dock")
                             .order_by(Location.code != "DOCK", Location.id))
    if dock is None:
        dock = Location(warehouse_id=warehouse.id, code="DOCK", kind="dock", active=True)
        db.session.add(dock)
        db.session.flush()
    return dock


# --- receiving ---------------------------------------------------------------------------------------------------

@service
def receive_purchase_order(po_id: int, lines: list[ReceiveInput], *, user_id: int | None, note: str = "") -> Receipt:
    """Count units in at the dock: from transit when notified, else from the supplier; then fill backorders."""
    po = get_po(po_id, lock=True)
    if po.status not in RECEIVABLE:
        raise Conflict(f"Purchase order {po.number} is {po.status.replace('_', ' ')}; nothing can be received on it.")
    chosen = _received_lines(po, lines)
    receipt = Receipt(po=po, number=_stand_in_number(), received_by_id=user_id,
                      received_at=utcnow(), note=note.strip()[:500])
    db.session.add(receipt)
    for line, wanted in chosen:
        _receive_line(po, receipt, line, wanted, user_id)
    db.session.flush()
    receipt.number = f"GRN-{receipt.id:06d}"
    _settle_received_status(po, user_id)
    record_event("purchase_order.receipt", "purchase_order", po.number,
                 {"po": po.number, "receipt": receipt.number,
                  "lines": [{"sku": rl.sku.code, "qty": rl.qty, "quarantined": rl.quarantined} for rl in receipt.lines]},
                 user_id=user_id)
    available = {rl.sku_id for rl in receipt.lines if not rl.quarantined}
    if available:
        _fill_backorders(available, user_id=user_id)
    db.session.commit()
    return receipt


def _received_lines(po: PurchaseOrder, lines: list[ReceiveInput]) -> list[tuple[PurchaseOrderLine, ReceiveInput]]:
    if not lines:
        raise ValidationError("Give at least one line with units received.", field="lines")
    by_sku = {line.sku_id: line for line in po.lines}
    tolerance = _tolerance_pct()
    errors, chosen, counted = {}, [], {}
    for index, wanted in enumerate(lines):
        line = by_sku.get(wanted.sku_id)
        if line is None:
            errors[f"lines[{index}].sku"] = "This SKU is not on the purchase order."
            continue
        try:
            check_quantity(wanted.qty)
        except ValidationError as exc:
            errors[f"lines[{index}].qty"] = exc.message
            continue
        counted[line.id] = counted.get(line.id, 0) + wanted.qty
        ceiling = _receipt_ceiling(line)
        if line.qty_received + counted[line.id] > ceiling:
            errors[f"lines[{index}].qty"] = (f"{line.sku.code}: {line.qty_received + counted[line.id]} would be more than "
                                             f"the {ceiling} allowed ({line.qty_ordered} ordered + {tolerance}% tolerance).")
            continue
        if wanted.unit_cost is not None and (wanted.unit_cost < 0 or wanted.unit_cost >= MAX_UNIT_COST):
            errors[f"lines[{index}].unit_cost"] = "Enter a unit cost of 0 or more."
            continue
        chosen.append((line, wanted))
    if errors:
        raise ValidationError(errors=errors)
    return chosen


def _tolerance_pct() -> Decimal:
    return Decimal(str(get_setting("purchasing.over_receipt_tolerance_pct") or 0))


def _receipt_ceiling(line: PurchaseOrderLine) -> int:
    """The most units a line may bring in: what was ordered plus the over-receipt tolerance, rounded down."""
    return int(line.qty_ordered * (1 + _tolerance_pct() / 100))


def home_unit_cost(po: PurchaseOrder, line: PurchaseOrderLine) -> Decimal:
    """What one unit of the line costs in the home currency: the value its stock enters the books at."""
    return (line.unit_cost * (po.exchange_rate or Decimal(1))).quantize(Decimal("0.0001"))


def _receive_line(po: PurchaseOrder, receipt: Receipt, line: PurchaseOrderLine, wanted: ReceiveInput,
                  user_id: int | None) -> None:
    dock, cause = dock_location(po.warehouse), Cause("purchase_order", po.number)
    status = Status.QUARANTINED if wanted.quarantine else Status.AVAILABLE
    from_transit = _take_from_transit(po, line, wanted.qty)
    if from_transit:
        ledger.post_move(line.sku_id, from_transit, Place(dock, Status.IN_TRANSIT), Place(dock, status),
                         reason=Reason.RECEIPT, cause=cause, user_id=user_id, note=f"received {receipt.number}")
    if wanted.qty - from_transit:
        ledger.post_move(line.sku_id, wanted.qty - from_transit, Place(ledger.outside(Outside.SUPPLIER)),
                         Place(dock, status), reason=Reason.RECEIPT, cause=cause, user_id=user_id,
                         note=f"received {receipt.number}", unit_cost=home_unit_cost(po, line))
    line.qty_received += wanted.qty
    line.qty_quarantined += wanted.qty if wanted.quarantine else 0
    receipt.lines.append(ReceiptLine(po_line_id=line.id, sku_id=line.sku_id, sku=line.sku, qty=wanted.qty,
                                     quarantined=wanted.quarantine, from_in_transit=from_transit,
                                     unit_cost=(wanted.unit_cost if wanted.unit_cost is not None else line.unit_cost)))


def _take_from_transit(po: PurchaseOrder, line: PurchaseOrderLine, qty: int) -> int:
    """Units of this line counted off open shipment notices, oldest first; the notice closes when all arrived."""
    taken = 0
    for shipment in po.shipments:
        if shipment.status != "in_transit":
            continue
        for notified in shipment.lines:
            if notified.po_line_id == line.id and notified.qty_waiting and taken < qty:
                chunk = min(notified.qty_waiting, qty - taken)
                notified.qty_received += chunk
                taken += chunk
        if all(n.qty_waiting == 0 for n in shipment.lines):
            shipment.status, shipment.received_at = "received", utcnow()
    line.qty_in_transit -= taken
    return taken


def _settle_received_status(po: PurchaseOrder, user_id: int | None) -> None:
    complete = all(line.qty_received >= line.qty_ordered for line in po.lines)
    target = RECEIVED if complete else PARTIALLY_RECEIVED
    if po.status != target and target in PO_TRANSITIONS[po.status]:
        units = sum(line.qty_received for line in po.lines)
        _move_po(po, target, user_id, f"{units} of {po.units} units received")


# --- put-away ----------------------------------------------------------------------------------------------------

def suggested_bin(warehouse_id: int, sku_id: int, taken: set[int] | frozenset = frozenset()) -> Location | None:
    """A bin already holding the SKU (fullest first), else the empty bin nearest the front of the warehouse."""
    holding = db.session.scalar(
        select(Location).join(StockBalance, StockBalance.location_id == Location.id)
        .where(Location.warehouse_id == warehouse_id, Location.kind == "bin", Location.active.is_(True),
               StockBalance.sku_id == sku_id, StockBalance.qty > 0)
        .group_by(Location.id).order_by(func.sum(StockBalance.qty).desc(), Location.id).limit(1))
    if holding is not None:
        return holding
    occupied = select(StockBalance.location_id).where(StockBalance.qty > 0, StockBalance.warehouse_id == warehouse_id)
    stmt = (select(Location).where(Location.warehouse_id == warehouse_id, Location.kind == "bin",
                                   Location.active.is_(True), Location.id.not_in(occupied))
            .order_by(Location.position_m, Location.aisle, Location.level, Location.code))
    if taken:
        stmt = stmt.where(Location.id.not_in(taken))
    return db.session.scalar(stmt.limit(1))


def put_away_plan(po: PurchaseOrder) -> list[tuple[PurchaseOrderLine, int, Location | None]]:
    """Each line with units waiting on the dock: how many can go, and the bin suggested for them."""
    plan, taken = [], set()
    dock = dock_location(po.warehouse)
    for line in po.lines:
        qty = min(line.qty_to_put_away, ledger.balance(line.sku_id, dock.id, Status.AVAILABLE))
        if qty <= 0:
            continue
        location = suggested_bin(po.warehouse_id, line.sku_id, taken)
        if location is not None:
            taken.add(location.id)
        plan.append((line, qty, location))
    return plan


@service
def put_away(po_id: int, moves: list[tuple[int, int, int]], *, user_id: int | None) -> int:
    """Move received units from the dock to bins: (PO line id, bin id, units) each; returns units moved."""
    po = get_po(po_id, lock=True)
    dock, cause = dock_location(po.warehouse), Cause("purchase_order", po.number)
    lines = {line.id: line for line in po.lines}
    errors, moved = {}, 0
    for index, (line_id, location_id, qty) in enumerate(moves):
        line = lines.get(line_id)
        location = db.session.get(Location, location_id) if isinstance(location_id, int) else None
        if line is None:
            errors[f"moves[{index}].line"] = "Not a line of this purchase order."
        elif location is None or location.warehouse_id != po.warehouse_id or location.kind != "bin" or not location.active:
            errors[f"moves[{index}].bin"] = f"Choose an active bin in {po.warehouse.code}."
        elif not isinstance(qty, int) or isinstance(qty, bool) or not 0 < qty <= line.qty_to_put_away:
            errors[f"moves[{index}].qty"] = f"Put away between 1 and {line.qty_to_put_away} units of {line.sku.code}."
        else:
            ledger.post_move(line.sku_id, qty, Place(dock, Status.AVAILABLE), Place(location, Status.AVAILABLE),
                             reason=Reason.TRANSFER, cause=cause, user_id=user_id, note=f"put away to {location.code}")
            line.qty_put_away += qty
            moved += qty
    if errors:
        raise ValidationError(errors=errors)
    if not moved:
        raise ValidationError("Nothing to put away.", field="moves")
    record_event("purchase_order.put_away", "purchase_order", po.number, {"po": po.number, "units": moved},
                 user_id=user_id)
    db.session.commit()
    return moved


@service
def release_from_quarantine(po_id: int, line_id: int, qty: int, *, user_id: int | None, note: str = "") -> int:
    """Inspection passed: quarantined units of a line become available on the dock, and fill backorders."""
    po = get_po(po_id, lock=True)
    line = next((candidate for candidate in po.lines if candidate.id == line_id), None)
    if line is None:
        raise NotFound("Not a line of this purchase order.")
    if not isinstance(qty, int) or isinstance(qty, bool) or not 0 < qty <= line.qty_quarantined:
        raise ValidationError(f"Release between 1 and {line.qty_quarantined} units.", field="qty")
    dock = dock_location(po.warehouse)
    ledger.post_move(line.sku_id, qty, Place(dock, Status.QUARANTINED), Place(dock, Status.AVAILABLE),
                     reason=Reason.STATUS_CHANGE, cause=Cause("purchase_order", po.number), user_id=user_id,
                     note=note.strip()[:200] or "passed receiving inspection")
    line.qty_quarantined -= qty
    record_event("purchase_order.released", "purchase_order", po.number,
                 {"po": po.number, "sku": line.sku.code, "units": qty}, user_id=user_id)
    _fill_backorders({line.sku_id}, user_id=user_id)
    db.session.commit()
    return qty


# --- closing and cancelling --------------------------------------------------------------------------------------

@service
def close_purchase_order(po_id: int, *, user_id: int | None, note: str = "") -> PurchaseOrder:
    """Finish a PO: units never delivered are given up, and notified units that never came go back to the supplier."""
    po = get_po(po_id, lock=True)
    if po.status not in (PARTIALLY_RECEIVED, RECEIVED):
        raise InvalidTransition(f"Purchase order {po.number} is {po.status.replace('_', ' ')}; only received or "
                                f"partly received orders can be closed.")
    _return_undelivered(po, user_id)
    short = 0
    for line in po.lines:
        line.qty_cancelled = max(0, line.qty_ordered - line.qty_received)
        short += line.qty_cancelled
    po.closed_at = utcnow()
    _move_po(po, CLOSED, user_id, (note.strip() or "closed") + (f"; {short} units short given up" if short else ""))
    db.session.commit()
    return po


def _return_undelivered(po: PurchaseOrder, user_id: int | None) -> None:
    dock, cause = dock_location(po.warehouse), Cause("purchase_order", po.number)
    for shipment in po.shipments:
        if shipment.status != "in_transit":
            continue
        for notified in shipment.lines:
            if notified.qty_waiting:
                ledger.post_move(notified.sku_id, notified.qty_waiting, Place(dock, Status.IN_TRANSIT),
                                 Place(ledger.outside(Outside.SUPPLIER)), reason=Reason.TRANSFER, cause=cause,
                                 user_id=user_id, note="notified but never delivered")
                notified.po_line.qty_in_transit -= notified.qty_waiting
        shipment.status = "closed"


@service
def cancel_purchase_order(po_id: int, *, user_id: int | None, reason: str) -> PurchaseOrder:
    """Cancel a PO before anything has arrived; units notified in transit go back to the supplier."""
    po = get_po(po_id, lock=True)
    if not reason.strip():
        raise ValidationError("Say why the order is cancelled.", field="reason")
    if any(line.qty_received for line in po.lines):
        raise Conflict(f"Purchase order {po.number} has received units; close it instead.")
    _move_po(po, CANCELLED, user_id, reason.strip())
    _return_undelivered(po, user_id)
    request = pending_request_for("purchase_order", po.id)
    if request is not None:
        withdraw_request(request, user_id, "purchase order cancelled")
    po.cancel_reason, po.closed_at = reason.strip()[:300], utcnow()
    db.session.commit()
    return po


# --- suppliers ---------------------------------------------------------------------------------------------------

@service
def save_supplier(supplier_id: int | None, *, code: str, name: str, email: str = "", phone: str = "", country: str = "GB",
                  currency: str = "GBP", lead_time_days: int = 14, active: bool = True, payment_days: int = 30,
                  incoterm: str = "DAP", notes: str = "") -> Supplier:
    """Create a supplier or change one, with its trading terms."""
    supplier = db.session.get(Supplier, supplier_id) if supplier_id else Supplier()
    if supplier is None:
        raise NotFound("No such supplier.")
    errors = _supplier_errors(supplier, code.strip().upper(), name.strip(), country, currency, lead_time_days,
                              payment_days, incoterm)
    if errors:
        raise ValidationError(errors=errors)
    supplier.code, supplier.name, supplier.email, supplier.phone = code.strip().upper(), name.strip(), email.strip(), phone.strip()
    supplier.country, supplier.currency, supplier.lead_time_days, supplier.active = country.upper(), currency, lead_time_days, active
    db.session.add(supplier)
    db.session.flush()
    terms = db.session.get(SupplierTerms, supplier.id) or SupplierTerms(supplier_id=supplier.id)
    terms.payment_days, terms.incoterm, terms.notes = payment_days, incoterm.upper(), notes.strip()[:500]
    db.session.add(terms)
    db.session.commit()
    return supplier


def _supplier_errors(supplier: Supplier, code: str, name: str, country: str, currency: str, lead_time_days: object,
                     payment_days: object, incoterm: str) -> dict[str, str]:
    errors = {}
    if not code or len(code) > 20:
        errors["code"] = "A code of 1 to 20 characters is needed."
    elif db.session.scalar(select(Supplier.id).where(Supplier.code == code, Supplier.id != (supplier.id or 0))):
        errors["code"] = "Another supplier has that code."
    if not name or len(name) > 120:
        errors["name"] = "A name of 1 to 120 characters is needed."
    if len(country) != 2 or not country.isalpha():
        errors["country"] = "Use the two-letter country code, like GB."
    if currency not in known_currencies():
        errors["currency"] = "Choose a currency with an exchange rate."
    if not isinstance(lead_time_days, int) or not 0 < lead_time_days <= 365:
        errors["lead_time_days"] = "Lead time is 1 to 365 days."
    if not isinstance(payment_days, int) or not 0 <= payment_days <= 180:
        errors["payment_days"] = "Payment terms are 0 to 180 days."
    if len(incoterm) != 3 or not incoterm.isalpha():
        errors["incoterm"] = "Use a three-letter Incoterm, like DAP or FOB."
    return errors


@service
def save_supplier_sku(supplier_id: int, sku_id: int, *, unit_cost: Decimal, pack_size: int, moq: int,
                      lead_time_days: int | None, supplier_code: str = "", preferred: bool = False,
                      active: bool = True) -> SupplierSku:
    """Add a SKU to a supplier's catalogue or change its agreed cost, pack size, minimum and lead time."""
    supplier = _active_supplier(supplier_id) if supplier_id else None
    sku = db.session.get(Sku, sku_id) if isinstance(sku_id, int) else None
    errors = _supplier_sku_errors(sku, unit_cost, pack_size, moq, lead_time_days)
    if supplier is None:
        errors["supplier"] = "No such supplier."
    if errors:
        raise ValidationError(errors=errors)
    row = supplier_sku(supplier.id, sku.id) or SupplierSku(supplier_id=supplier.id, sku_id=sku.id)
    row.unit_cost, row.pack_size, row.moq, row.lead_time_days = unit_cost, pack_size, moq, lead_time_days
    row.supplier_code, row.active, row.preferred = supplier_code.strip()[:64], active, preferred
    db.session.add(row)
    if preferred:
        db.session.flush()
        for other in db.session.scalars(select(SupplierSku).where(SupplierSku.sku_id == sku.id, SupplierSku.id != row.id,
                                                                  SupplierSku.preferred.is_(True))):
            other.preferred = False
    db.session.commit()
    return row


def _supplier_sku_errors(sku: Sku | None, unit_cost: object, pack_size: object, moq: object,
                         lead_time_days: object) -> dict[str, str]:
    errors = {}
    if sku is None:
        errors["sku"] = "No such SKU."
    if not isinstance(unit_cost, Decimal) or not unit_cost.is_finite() or not 0 <= unit_cost < MAX_UNIT_COST:
        errors["unit_cost"] = "Enter the agreed unit cost, like 4.25."
    if not isinstance(pack_size, int) or isinstance(pack_size, bool) or not 1 <= pack_size <= 100_000:
        errors["pack_size"] = "Pack size is a whole number from 1."
    if not isinstance(moq, int) or isinstance(moq, bool) or not 0 <= moq <= 10_000_000:
        errors["moq"] = "Minimum order is a whole number from 0."
    if lead_time_days is not None and (not isinstance(lead_time_days, int) or not 0 < lead_time_days <= 365):
        errors["lead_time_days"] = "Lead time is 1 to 365 days, or empty for the supplier's."
    return errors


@service
def add_supplier_contact(supplier_id: int, *, name: str, title: str = "", email: str = "", phone: str = "",
                         primary: bool = False) -> SupplierContact:
    """Add a person to talk to at a supplier."""
    supplier = db.session.get(Supplier, supplier_id)
    if supplier is None:
        raise NotFound("No such supplier.")
    errors = {}
    if not name.strip() or len(name) > 120:
        errors["name"] = "A name of 1 to 120 characters is needed."
    if email and ("@" not in email or len(email) > 200):
        errors["email"] = "Enter an email address like name@example.com."
    if errors:
        raise ValidationError(errors=errors)
    if primary:
        for other in db.session.scalars(select(SupplierContact).where(SupplierContact.supplier_id == supplier.id)):
            other.primary = False
    contact = SupplierContact(supplier_id=supplier.id, name=name.strip(), title=title.strip()[:120],
                              email=email.strip(), phone=phone.strip()[:40], primary=primary)
    db.session.add(contact)
    db.session.commit()
    return contact


@service
def remove_supplier_contact(contact_id: int) -> None:
    """Remove a contact who no longer works with the retailer."""
    contact = db.session.get(SupplierContact, contact_id)
    if contact is None:
        raise NotFound("No such contact.")
    db.session.delete(contact)
    db.session.commit()


def parse_unit_cost(raw: object, field: str = "unit_cost") -> Decimal | None:
    """A unit cost typed or sent as text or a number: None when blank, ValidationError when not an amount."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if isinstance(raw, bool) or not isinstance(raw, str | int | float | Decimal):
        raise ValidationError("Enter a unit cost like 4.25.", field=field)
    text = raw.strip().replace(",", "") if isinstance(raw, str) else repr(raw) if isinstance(raw, float) else str(raw)
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValidationError("Enter a unit cost like 4.25.", field=field) from None
    if not value.is_finite() or value < 0 or value >= MAX_UNIT_COST:
        raise ValidationError("Enter a unit cost of 0 or more, like 4.25.", field=field)
    return value.quantize(Decimal("0.0001"))
