"""Returns: authorise an RMA, receive it at the dock, inspect and dispose of each unit, refund or exchange.

Every stock move names Cause("rma", number): units come back from the customer into (DOCK, returned);
inspection sends each unit to a bin (restock), to quarantine for a refurbish task, to damaged for a
vendor claim, or to scrap. Refunds over the approval threshold wait for finance (approvals mechanism);
an issued refund becomes a credit note in finance and a "refund.issued" event for the channel, and
a paid one a "refund.paid" event. Channels that already refunded (a Shopify refunds/create with
returned lines) open their RMA through `record_rma_from_channel_refund`.
"""
from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, or_, select

from app.domain.capture import Address, LineDraft, OrderDraft, RefundDraft
from app.domain.errors import Conflict, NotFound, ValidationError
from app.domain.inventory import Cause, Outside, Reason, Status
from app.domain.money import ZERO, round_to_cent, split_in_proportion, to_money
from app.domain.orders import ShipmentStatus
from app.domain.returns import (AWAITING_ARRIVAL, ENDED_WITHOUT_RETURN, SUGGESTED_DISPOSITION, Disposition, Grade,
                                ReturnPolicy, ReturnReason, RmaStatus, check_rma_transition, inspection_problems,
                                parse_reason, policy_problems, reason_from_text, restocking_fee)
from app.extensions import db
from app.models import Channel, Location, Sku, Supplier
from app.models.finance import CreditNote
from app.models.orders import Order, OrderLine, Shipment, ShipmentLine
from app.models.purchasing import PurchaseOrder, Receipt, ReceiptLine, SupplierSku
from app.models.returns import (Refund, RefundLine, RefurbishTask, ReturnPolicyRecord, Rma, RmaLine, RmaStep, RmaUnit,
                                VendorClaim)
from app.models.types import utcnow
from app.pdf import render_pdf
from app.services import approvals, finance, ledger, orders, valuation
from app.services._uow import service
from app.services.events import record_event
from app.services.ledger import Place
from app.services.purchasing import dock_location
from app.services.settings import get_setting

MAX_UNITS_PER_SCAN = 500
MAX_UNITS_PER_RECEIPT = 2000
MAX_LINES = 100
ACTIVE_REFUND = ("pending_approval", "approved", "issued")


# --- policy ------------------------------------------------------------------------------------------------------

def policy_for(channel_id: int) -> ReturnPolicy:
    """The channel's return policy, else the default from settings."""
    row = db.session.get(ReturnPolicyRecord, channel_id)
    if row is not None:
        return ReturnPolicy(window_days=row.window_days, restocking_fee_pct=row.restocking_fee_pct,
                            non_returnable_skus=frozenset(row.non_returnable_skus or ()),
                            non_returnable_categories=frozenset(row.non_returnable_categories or ()),
                            retailer_pays_reasons=frozenset(ReturnReason(r) for r in row.retailer_pays_reasons or ()))
    return default_policy()


def default_policy() -> ReturnPolicy:
    entry = get_setting("returns.default_policy") or {}
    return ReturnPolicy(window_days=int(entry.get("window_days", 30)),
                        restocking_fee_pct=Decimal(str(entry.get("restocking_fee_pct", "0"))),
                        non_returnable_skus=frozenset(entry.get("non_returnable_skus", ())),
                        non_returnable_categories=frozenset(entry.get("non_returnable_categories", ())),
                        retailer_pays_reasons=frozenset(ReturnReason(r) for r in entry.get(
                            "retailer_pays_reasons", ("defective", "damaged_in_transit", "wrong_item"))))


@service
def set_return_policy(channel_code: str, *, window_days: object, restocking_fee_pct: object,
                      non_returnable_skus: Sequence[str] = (), non_returnable_categories: Sequence[str] = (),
                      retailer_pays_reasons: Sequence[str] = (), user_id: int | None = None) -> ReturnPolicyRecord:
    """Set one channel's return window, restocking fee, non-returnable SKUs and categories, and label rule."""
    channel = orders.channel_by_code(channel_code)
    fee = _percent(restocking_fee_pct)
    errors = policy_problems(window_days, fee)
    reasons = []
    for value in retailer_pays_reasons:
        try:
            reasons.append(parse_reason(value).value)
        except ValidationError:
            errors["retailer_pays_reasons"] = f"Unknown reason '{value}'."
    skus = sorted({code.strip().upper() for code in non_returnable_skus if code.strip()})
    known = set(db.session.scalars(select(Sku.code).where(Sku.code.in_(skus)))) if skus else set()
    if set(skus) - known:
        errors["non_returnable_skus"] = f"Unknown SKU: {', '.join(sorted(set(skus) - known))}."
    if errors:
        raise ValidationError(errors=errors)
    row = db.session.get(ReturnPolicyRecord, channel.id) or ReturnPolicyRecord(channel_id=channel.id)
    row.window_days, row.restocking_fee_pct, row.non_returnable_skus = window_days, fee, skus
    row.non_returnable_categories = sorted({c.strip() for c in non_returnable_categories if c.strip()})
    row.retailer_pays_reasons, row.updated_by_id = sorted(set(reasons)), user_id
    db.session.add(row)
    db.session.commit()
    return row


def _percent(value: object) -> Decimal | None:
    try:
        return to_money(value)
    except (ValueError, TypeError):
        return None


# --- lookups -----------------------------------------------------------------------------------------------------

def get_rma(rma_id: int) -> Rma:
    return _by_id(Rma, rma_id, "No such RMA.")


def _by_id(model, record_id: int, missing: str):
    record = db.session.get(model, record_id) if isinstance(record_id, int) and not isinstance(record_id, bool) else None
    if record is None:
        raise NotFound(missing)
    return record


def find_rma(code: str) -> Rma:
    """The RMA a scanned code names: its number, the return's tracking number, or an order with one open RMA."""
    value = (code or "").strip()
    if not value:
        raise ValidationError("Scan or type the RMA number.", field="code")
    rma = db.session.scalar(select(Rma).where(or_(Rma.number == value.upper(), Rma.tracking_number == value)))
    if rma is None:
        open_ones = list(db.session.scalars(
            select(Rma).join(Order, Order.id == Rma.order_id)
            .where(or_(Order.number == value.upper(), Order.channel_number == value),
                   Rma.status.in_([s.value for s in AWAITING_ARRIVAL]))))
        rma = open_ones[0] if len(open_ones) == 1 else None
    if rma is None:
        raise NotFound(f"No RMA '{value}'.", field="code")
    return rma


def find_order(ref: object) -> Order:
    """An order by id, Keel number (SO-000123), the channel's number (#1001) or external id."""
    order = None
    if isinstance(ref, bool) or not isinstance(ref, str | int):
        raise ValidationError("Name the order by its number or id.", field="order")
    if isinstance(ref, int):
        order = db.session.get(Order, ref)
    elif isinstance(ref, str) and ref.strip():
        text = ref.strip()[:64]
        order = db.session.scalar(select(Order).where(Order.number == text.upper()))
        if order is None and text.isdigit():
            order = db.session.get(Order, int(text)) if len(text) < 10 else None
        order = order or db.session.scalar(select(Order).where(or_(Order.channel_number == text, Order.external_id == text))
                                           .order_by(Order.id.desc()).limit(1))
    if order is None:
        raise NotFound(f"No order '{ref}'.", field="order")
    return order


def find_sku(code: str) -> Sku | None:
    """The SKU a scanned code names: its code or its GTIN."""
    value = (code or "").strip()
    if not value:
        return None
    return db.session.scalar(select(Sku).where(or_(Sku.code == value.upper(), Sku.code == value, Sku.gtin == value)))


# --- what can come back -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Shipped:
    """Units of an order line that left, when the last of them left, and from which warehouse most of them left."""

    qty: int
    last_shipped_at: datetime | None
    warehouse_id: int | None


def shipped_units(order: Order) -> dict[int, Shipped]:
    rows = db.session.execute(
        select(ShipmentLine.order_line_id, Shipment.warehouse_id, func.sum(ShipmentLine.qty_picked),
               func.max(Shipment.shipped_at))
        .join(Shipment, Shipment.id == ShipmentLine.shipment_id)
        .where(Shipment.order_id == order.id, Shipment.status == ShipmentStatus.SHIPPED.value)
        .group_by(ShipmentLine.order_line_id, Shipment.warehouse_id))
    by_line: dict[int, list] = defaultdict(list)
    for line_id, warehouse_id, qty, shipped_at in rows:
        by_line[line_id].append((int(qty or 0), shipped_at, warehouse_id))
    result = {}
    for line_id, parts in by_line.items():
        when = [p[1] for p in parts if p[1] is not None]
        result[line_id] = Shipped(sum(p[0] for p in parts), max(when) if when else None,
                                  max(parts, key=lambda p: p[0])[2])
    return result


def units_on_rmas(order_id: int, *, excluding: int | None = None) -> dict[int, int]:
    """Units of each order line already coming back: expected on RMAs still on their way, received on the rest."""
    taken: dict[int, int] = defaultdict(int)
    stmt = (select(RmaLine, Rma.status).join(Rma, Rma.id == RmaLine.rma_id)
            .where(Rma.order_id == order_id, RmaLine.order_line_id.is_not(None),
                   Rma.status.not_in([s.value for s in ENDED_WITHOUT_RETURN])))
    for line, status in db.session.execute(stmt):
        if line.rma_id == excluding:
            continue
        taken[line.order_line_id] += line.qty_expected if status in AWAITING_ARRIVAL else min(line.qty_received,
                                                                                              line.qty_expected)
    return taken


@dataclass(frozen=True)
class Returnable:
    """One order line as a return form shows it: units shipped, already coming back, still returnable, and why not."""

    line: OrderLine
    shipped: int
    on_rmas: int
    problem: str | None

    @property
    def open_units(self) -> int:
        return 0 if self.problem else max(0, self.shipped - self.on_rmas)


def returnable_lines(order: Order, now: datetime | None = None) -> list[Returnable]:
    now = now or utcnow()
    shipped, taken, policy = shipped_units(order), units_on_rmas(order.id), policy_for(order.channel_id)
    result = []
    for line in order.lines:
        sent = shipped.get(line.id, Shipped(0, None, None))
        problem = policy.returnable_problem(line.sku.code, line.sku.category, sent.last_shipped_at, now) if sent.qty else (
            f"{line.sku.code} has not shipped, so it cannot be returned.")
        result.append(Returnable(line, sent.qty, taken.get(line.id, 0), problem))
    return result


# --- authorisation ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Requested:
    sku: str
    qty: int
    reason: ReturnReason
    note: str


def parse_requested_lines(lines: object) -> list[Requested]:
    """Lines [{sku, qty, reason, note?}] as asked for, or ValidationError naming each bad field by path."""
    if not isinstance(lines, list) or not lines:
        raise ValidationError("Return at least one line: sku, qty and reason.", field="lines")
    if len(lines) > MAX_LINES:
        raise ValidationError(f"At most {MAX_LINES} lines per RMA.", field="lines")
    errors: dict[str, str] = {}
    parsed = []
    for index, raw in enumerate(lines):
        where = f"lines[{index}]"
        if not isinstance(raw, dict):
            errors[where] = "Each line is an object with sku, qty and reason."
            continue
        sku, qty, note = raw.get("sku"), raw.get("qty"), raw.get("note", "")
        if not isinstance(sku, str) or not sku.strip():
            errors[f"{where}.sku"] = "Give the SKU code."
        if isinstance(qty, bool) or not isinstance(qty, int) or not 1 <= qty <= MAX_UNITS_PER_SCAN:
            errors[f"{where}.qty"] = f"Quantity is a whole number from 1 to {MAX_UNITS_PER_SCAN}."
        if not isinstance(note, str):
            errors[f"{where}.note"] = "The note is text."
        try:
            reason = parse_reason(raw.get("reason"), f"{where}.reason")
        except ValidationError as exc:
            errors.update(exc.errors)
            continue
        if f"{where}.sku" not in errors and f"{where}.qty" not in errors and isinstance(note, str):
            parsed.append(Requested(sku.strip()[:64], qty, reason, note.strip()[:300]))
    if errors:
        raise ValidationError(errors=errors)
    return parsed


@service
def open_rma(order_ref: object, lines: object, *, user_id: int | None = None, source: str = "portal",
             note: str = "") -> Rma:
    """Authorise the return of shipped, not yet returned units of an order, within the channel's policy."""
    rma = record_rma(order_ref, lines, user_id=user_id, source=source, note=note)
    db.session.commit()
    return rma


def record_rma(order_ref: object, lines: object, *, user_id: int | None = None, source: str = "portal",
               note: str = "", now: datetime | None = None) -> Rma:
    """open_rma without the commit."""
    requested = parse_requested_lines(lines)
    order = find_order(order_ref)
    now = now or utcnow()
    returnable = {r.line.id: r for r in returnable_lines(order, now)}
    chosen, errors = [], {}
    left = {line_id: r.shipped - r.on_rmas for line_id, r in returnable.items()}
    for index, asked in enumerate(requested):
        matches = [r for r in returnable.values() if r.line.sku.code.upper() == asked.sku.upper()]
        if not matches:
            errors[f"lines[{index}].sku"] = f"{asked.sku} is not on order {order.number}."
            continue
        if all(r.problem for r in matches):
            errors[f"lines[{index}].sku"] = matches[0].problem
            continue
        open_units = sum(max(left[r.line.id], 0) for r in matches if not r.problem)
        taken = _take_units(matches, asked, left)
        if taken is None:
            errors[f"lines[{index}].qty"] = (f"Only {open_units} unit(s) of {asked.sku} shipped and not yet "
                                             "returned on this order.")
            continue
        chosen.extend(taken)
    if errors:
        raise ValidationError(errors=errors)
    return _create_rma(order, chosen, source=source, note=note, user_id=user_id)


def _take_units(matches: list[Returnable], asked: Requested, left: dict[int, int]):
    """Spread the asked units over the order's lines for that SKU; None when there are not enough."""
    need, taken = asked.qty, []
    for r in matches:
        if r.problem or left[r.line.id] <= 0 or need == 0:
            continue
        qty = min(need, left[r.line.id])
        left[r.line.id] -= qty
        need -= qty
        taken.append((r.line, qty, asked.reason, asked.note))
    return None if need else taken


def _create_rma(order: Order, chosen: list[tuple], *, source: str, note: str, user_id: int | None,
                warehouse_id: int | None = None) -> Rma:
    shipped = shipped_units(order)
    if warehouse_id is None:
        weights: dict[int, int] = defaultdict(int)
        for line, qty, _reason, _note in chosen:
            weights[shipped[line.id].warehouse_id] += qty
        warehouse_id = max(weights, key=weights.get)
    policy = policy_for(order.channel_id)
    rma = Rma(number=f"new-{uuid.uuid4().hex[:24]}", order=order, channel_id=order.channel_id, warehouse_id=warehouse_id,
              status=RmaStatus.AUTHORISED.value, source=source[:20], customer_name=order.customer_name,
              customer_email=order.customer_email, note=(note or "")[:1000], created_by_id=user_id, authorised_at=utcnow(),
              retailer_pays_label=policy.label_paid_by_retailer(reason for _l, _q, reason, _n in chosen))
    for line, qty, reason, line_note in chosen:
        rma.lines.append(RmaLine(order_line_id=line.id, sku_id=line.sku_id, reason=reason.value,
                                 customer_note=line_note, qty_expected=qty, qty_received=0))
    db.session.add(rma)
    db.session.flush()
    rma.number = f"RMA-{rma.id:06d}"
    units = sum(qty for _l, qty, _r, _n in chosen)
    _step(rma, "authorised", None, RmaStatus.AUTHORISED, note or f"{units} unit(s) authorised from {source}", user_id)
    record_event("rma.authorised", "rma", rma.number, {**_rma_payload(rma), "source": source}, user_id=user_id)
    return rma


# --- channel refunds (Shopify refunds/create) -------------------------------------------------------------------

@service
def open_rma_from_channel_refund(channel_code: str, refund_draft: RefundDraft, *, user_id: int | None = None
                                 ) -> Rma | None:
    """A channel refunded returned lines: open the RMA for them, once per channel refund; None without returned lines."""
    rma = record_rma_from_channel_refund(channel_code, refund_draft, user_id=user_id)
    db.session.commit()
    return rma


def record_rma_from_channel_refund(channel_code: str, refund_draft: RefundDraft, *, user_id: int | None = None
                                   ) -> Rma | None:
    """open_rma_from_channel_refund without the commit, for intake's own transaction."""
    channel = orders.channel_by_code(channel_code)
    existing = db.session.scalar(select(Rma).where(Rma.channel_id == channel.id,
                                                   Rma.channel_refund_id == refund_draft.external_id))
    if existing is not None:
        return existing
    order = orders.order_by_external_id(channel.id, refund_draft.order_external_id)
    if order is None:
        raise NotFound(f"No order {refund_draft.order_external_id} from channel {channel.code}.", field="order_id")
    chosen = _channel_refund_lines(order, refund_draft)
    if not chosen:
        return None
    rma = _create_rma(order, [(line, qty, reason, "") for line, qty, reason, _amount in chosen], source=channel.type,
                      note=f"Refunded by {channel.name} ({refund_draft.external_id}): {refund_draft.note or 'no note'}",
                      user_id=user_id)
    rma.channel_refund_id = refund_draft.external_id[:64]
    _record_channel_refund(rma, refund_draft, chosen, user_id)
    return rma


def _channel_refund_lines(order: Order, draft: RefundDraft) -> list[tuple[OrderLine, int, ReturnReason, Decimal]]:
    reason = reason_from_text(draft.reason or draft.note)
    shipped, taken = shipped_units(order), units_on_rmas(order.id)
    chosen = []
    for refunded in draft.lines:
        if not refunded.restock or refunded.qty <= 0:
            continue
        line = next((l for l in order.lines if refunded.external_line_id and l.external_line_id == refunded.external_line_id),
                    None) or next((l for l in order.lines if refunded.sku and l.sku.code == refunded.sku), None)
        if line is None:
            continue
        open_units = shipped.get(line.id, Shipped(0, None, None)).qty - taken.get(line.id, 0)
        qty = min(refunded.qty, open_units)
        if qty > 0:
            taken[line.id] = taken.get(line.id, 0) + qty
            chosen.append((line, qty, reason, refunded.amount * qty / refunded.qty))
    return chosen


def _record_channel_refund(rma: Rma, draft: RefundDraft, chosen: list, user_id: int | None) -> None:
    """The money the channel already sent back, kept ready to post to finance once the goods are inspected."""
    paid = _paid_amounts(rma.order)
    shipping = max(draft.shipping_refund, ZERO)
    stated = [max(amount, ZERO) for *_rest, amount in chosen]
    goods = max(draft.amount - shipping, ZERO) if draft.amount else round_to_cent(sum(stated, ZERO))
    weights = stated if any(stated) else [Decimal(qty) for _line, qty, _reason, _amount in chosen]
    caps = [round_to_cent(paid[line.id] * qty / line.qty) for line, qty, _reason, _amount in chosen]
    amounts = [min(part, cap) for part, cap in zip(split_in_proportion(goods, weights), caps)]
    if sum(amounts, ZERO) + shipping <= 0:
        return
    refund = _new_refund(rma, user_id, paid_by_channel=True)
    for rma_line, amount, cap in zip(rma.lines, amounts, caps):
        if amount > 0:
            refund.lines.append(RefundLine(rma_line_id=rma_line.id, order_line_id=rma_line.order_line_id,
                                           qty=rma_line.qty_expected, amount=amount, paid_amount=cap))
    _settle_refund_totals(refund, shipping=shipping, fee=ZERO)
    refund.override_reason = f"Refunded by the channel ({draft.external_id})"
    _step(rma, "refund_recorded", None, None, f"{rma.channel.name} already refunded {refund.total} {refund.currency}",
          user_id)


# --- in transit, cancel, expire ----------------------------------------------------------------------------------

@service
def mark_in_transit(rma_id: int, *, tracking_number: str = "", user_id: int | None = None) -> Rma:
    """The customer sent the parcel: note its tracking number."""
    rma = get_rma(rma_id)
    rma.tracking_number = (tracking_number or "").strip()[:60]
    _move(rma, RmaStatus.IN_TRANSIT, f"on its way{': ' + rma.tracking_number if rma.tracking_number else ''}", user_id)
    db.session.commit()
    return rma


@service
def cancel_rma(rma_id: int, *, reason: str, user_id: int | None = None) -> Rma:
    """Withdraw an authorisation before anything arrived."""
    rma = get_rma(rma_id)
    if not (reason or "").strip():
        raise ValidationError("Say why the RMA is cancelled.", field="reason")
    _move(rma, RmaStatus.CANCELLED, reason.strip(), user_id)
    rma.cancel_reason, rma.closed_at = reason.strip()[:300], utcnow()
    db.session.commit()
    return rma


@service
def expire_overdue_rmas(now: datetime | None = None) -> int:
    """Expire authorisations whose goods never arrived within the allowed days; returns how many."""
    now = now or utcnow()
    cutoff = now - timedelta(days=int(get_setting("returns.authorisation_days")))
    overdue = list(db.session.scalars(select(Rma).where(Rma.status.in_([s.value for s in AWAITING_ARRIVAL]),
                                                        Rma.authorised_at < cutoff)))
    for rma in overdue:
        _move(rma, RmaStatus.EXPIRED, f"nothing arrived within {get_setting('returns.authorisation_days')} days", None)
        rma.closed_at = now
    db.session.commit()
    return len(overdue)


@service
def close_rma(rma_id: int, *, reason: str, user_id: int | None = None) -> Rma:
    """Close an inspected RMA without a refund (refused after inspection, or settled outside Keel)."""
    rma = get_rma(rma_id)
    if not (reason or "").strip():
        raise ValidationError("Say why the RMA closes without a refund.", field="reason")
    if any(r.status in ACTIVE_REFUND for r in rma.refunds):
        raise Conflict(f"{rma.number} has a refund in progress; finish or reject it first.")
    rma.resolution = rma.resolution or "none"
    _close(rma, reason.strip(), user_id)
    db.session.commit()
    return rma


# --- receipt at the dock -----------------------------------------------------------------------------------------

def parse_counts(counts: Mapping[str, object]) -> dict[Sku, int]:
    """Scanned codes and units as SKUs, or ValidationError naming the unknown codes and bad quantities."""
    errors, found = {}, {}
    for code, qty in counts.items():
        sku = find_sku(str(code))
        if sku is None:
            errors[f"counts.{code}"] = f"No SKU or barcode '{code}'."
        elif isinstance(qty, bool) or not isinstance(qty, int) or not 0 <= qty <= MAX_UNITS_PER_SCAN:
            errors[f"counts.{code}"] = f"Units of {code} must be a whole number from 0 to {MAX_UNITS_PER_SCAN}."
        elif qty:
            found[sku] = found.get(sku, 0) + qty
    if errors:
        raise ValidationError("Some scans could not be matched.", errors=errors)
    if not found:
        raise ValidationError("Scan at least one returned item.", field="code")
    if sum(found.values()) > MAX_UNITS_PER_RECEIPT:
        raise ValidationError(f"At most {MAX_UNITS_PER_RECEIPT} units per receipt.", field="code")
    return found


@service
def receive_rma(rma_id: int, counts: Mapping[str, object], *, user_id: int | None = None, note: str = "") -> Rma:
    """Count the parcel in: units go from the customer to the dock as returned; surprises are kept, flagged."""
    rma = get_rma(rma_id)
    if rma.status not in AWAITING_ARRIVAL:
        raise Conflict(f"{rma.number} is {rma.status.replace('_', ' ')}; it was already received or closed.")
    found = parse_counts(counts)
    dock, customer, cause = dock_location(rma.warehouse), Place(ledger.outside(Outside.CUSTOMER)), Cause("rma", rma.number)
    for sku, qty in sorted(found.items(), key=lambda pair: pair[0].code):
        for line, units in _spread_received(rma, sku, qty):
            line.qty_received += units
            line.units.extend(RmaUnit() for _ in range(units))
        ledger.post_move(sku.id, qty, customer, Place(dock, Status.RETURNED), reason=Reason.RETURN, cause=cause,
                         user_id=user_id, note=f"returned on {rma.number}", unit_cost=_return_cost(rma, sku.id))
    rma.received_at = utcnow()
    _move(rma, RmaStatus.RECEIVED, _receipt_summary(rma, note), user_id)
    record_event("rma.received", "rma", rma.number, _rma_payload(rma), user_id=user_id)
    db.session.commit()
    return rma


def _spread_received(rma: Rma, sku: Sku, qty: int) -> list[tuple[RmaLine, int]]:
    """Fill the expected lines for this SKU first; more than expected goes on the last; a stranger gets its own line."""
    lines = [line for line in rma.lines if line.sku_id == sku.id]
    if not lines:
        line = RmaLine(sku_id=sku.id, qty_expected=0, qty_received=0, unexpected=True, reason="")
        rma.lines.append(line)
        return [(line, qty)]
    spread, need = [], qty
    for line in lines:
        room = max(0, line.qty_expected - line.qty_received)
        if room and need:
            spread.append((line, min(room, need)))
            need -= min(room, need)
    if need:
        spread.append((lines[-1], need))
    return spread


def _return_cost(rma: Rma, sku_id: int) -> Decimal | None:
    return valuation.return_unit_cost(rma.order_id, sku_id)


def _receipt_summary(rma: Rma, note: str) -> str:
    expected, received = rma.units_expected, rma.units_received
    surprises = [f"{line.qty_received} × {line.sku.code}" for line in rma.lines if line.unexpected]
    over = [f"{line.variance:+d} {line.sku.code}" for line in rma.lines if not line.unexpected and line.variance]
    text = f"received {received} unit(s) of {expected} expected"
    if surprises:
        text += f"; unexpected: {', '.join(surprises)}"
    if over:
        text += f"; variance: {', '.join(over)}"
    return text + (f". {note.strip()}" if note and note.strip() else "")


# --- inspection and disposition ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class UnitDecision:
    """What the inspector decided for one unit; `location_id` is the bin for restock (suggested when empty)."""

    unit_id: int
    grade: str
    disposition: str
    defect: str = ""
    location_id: int | None = None


def suggest_bin(sku_id: int, warehouse_id: int) -> Location | None:
    """Where a restocked unit goes: the bin already holding most of this SKU's available stock, else any bin holding it."""
    bins = ledger.available_bins(sku_id, warehouse_id)
    if bins:
        return db.session.get(Location, bins[0][0])
    return db.session.scalar(
        select(Location).join(ledger.BALANCES, ledger.BALANCES.c.location_id == Location.id)
        .where(ledger.BALANCES.c.sku_id == sku_id, ledger.BALANCES.c.warehouse_id == warehouse_id,
               Location.kind == "bin").order_by(ledger.BALANCES.c.qty.desc(), Location.code).limit(1))


def pending_units(rma: Rma) -> list[RmaUnit]:
    return [unit for line in rma.lines for unit in line.units if not unit.disposition]


@service
def inspect_rma(rma_id: int, decisions: Sequence[UnitDecision], *, user_id: int | None = None) -> Rma:
    """Grade and dispose of received units; each disposition is a ledger move with the RMA as its cause."""
    rma = get_rma(rma_id)
    if rma.status != RmaStatus.RECEIVED:
        raise Conflict(f"{rma.number} is {rma.status.replace('_', ' ')}; only received returns are inspected.")
    if not decisions:
        raise ValidationError("Inspect at least one unit.", field="units")
    checked = _checked_decisions(rma, decisions)
    restocked = _apply_dispositions(rma, checked, user_id)
    left = len(pending_units(rma))
    if left:
        _step(rma, "inspected", None, None, f"inspected {len(checked)} unit(s); {left} still to inspect", user_id)
    else:
        rma.inspected_at = utcnow()
        _move(rma, RmaStatus.INSPECTED, _inspection_summary(rma), user_id)
        record_event("rma.inspected", "rma", rma.number, _rma_payload(rma), user_id=user_id)
    if restocked:
        orders._fill_backorders(restocked, user_id=user_id)
    db.session.commit()
    return rma


def _checked_decisions(rma: Rma, decisions: Sequence[UnitDecision]) -> list[tuple[RmaUnit, UnitDecision, Location | None]]:
    units = {unit.id: unit for line in rma.lines for unit in line.units}
    errors, checked, seen = {}, [], set()
    for index, decision in enumerate(decisions):
        where = f"units[{index}]"
        unit = units.get(decision.unit_id)
        if unit is None or unit.disposition or decision.unit_id in seen:
            errors[where] = "That unit is not waiting for inspection on this RMA."
            continue
        seen.add(decision.unit_id)
        problems = inspection_problems(decision.grade, decision.disposition, decision.defect or "")
        errors.update({f"{where}.{key}": text for key, text in problems.items()})
        location = None
        if not problems and decision.disposition == Disposition.RESTOCK:
            location = _restock_bin(rma, unit, decision, errors, where)
        if not problems and decision.disposition == Disposition.VENDOR_CLAIM and claim_source(unit.line.sku_id) is None:
            errors[f"{where}.disposition"] = (f"No supplier is known for {unit.line.sku.code}; write it off or add it "
                                              "to a supplier's catalogue first.")
        checked.append((unit, decision, location))
    if errors:
        raise ValidationError(errors=errors)
    return checked


def _restock_bin(rma: Rma, unit: RmaUnit, decision: UnitDecision, errors: dict, where: str) -> Location | None:
    if decision.location_id:
        location = db.session.get(Location, decision.location_id)
        if location is None or location.warehouse_id != rma.warehouse_id or location.kind != "bin" or not location.active:
            errors[f"{where}.location"] = f"Choose an active bin in {rma.warehouse.code}."
            return None
        return location
    location = suggest_bin(unit.line.sku_id, rma.warehouse_id)
    if location is None:
        errors[f"{where}.location"] = f"{unit.line.sku.code} has no bin in {rma.warehouse.code} yet; choose one."
    return location


DISPOSITION_TARGET = {Disposition.REFURBISH: Status.QUARANTINED, Disposition.VENDOR_CLAIM: Status.DAMAGED}


def _apply_dispositions(rma: Rma, checked: list, user_id: int | None) -> set[int]:
    dock, cause, now = dock_location(rma.warehouse), Cause("rma", rma.number), utcnow()
    moves: dict[tuple, int] = defaultdict(int)
    for unit, decision, location in checked:
        unit.grade, unit.disposition, unit.defect = decision.grade, decision.disposition, (decision.defect or "").strip()[:300]
        unit.inspected_by_id, unit.inspected_at = user_id, now
        unit.location_id = location.id if location else dock.id
        moves[(unit.line.sku_id, Disposition(decision.disposition), unit.location_id)] += 1
        if decision.disposition == Disposition.REFURBISH:
            db.session.add(RefurbishTask(unit=unit, sku_id=unit.line.sku_id, warehouse_id=rma.warehouse_id,
                                         work=unit.defect or "refurbish and repack", created_at=now))
        elif decision.disposition == Disposition.VENDOR_CLAIM:
            _open_vendor_claim(rma, unit)
    returned = Place(dock, Status.RETURNED)
    for (sku_id, disposition, location_id), qty in sorted(moves.items(), key=lambda item: (item[0][0], item[0][1].value)):
        if disposition == Disposition.RESTOCK:
            target = Place(db.session.get(Location, location_id), Status.AVAILABLE)
        elif disposition == Disposition.WRITE_OFF:
            target = Place(ledger.outside(Outside.SCRAP))
        else:
            target = Place(dock, DISPOSITION_TARGET[disposition])
        ledger.post_move(sku_id, qty, returned, target, reason=Reason.DISPOSITION if disposition != Disposition.WRITE_OFF
                         else Reason.SCRAP, cause=cause, user_id=user_id, note=f"{disposition.value} after inspection")
    return {sku_id for sku_id, disposition, _loc in moves if disposition == Disposition.RESTOCK}


def _inspection_summary(rma: Rma) -> str:
    counts: dict[str, int] = defaultdict(int)
    for line in rma.lines:
        for unit in line.units:
            counts[unit.disposition] += 1
    return "inspected: " + ", ".join(f"{n} {d.replace('_', ' ')}" for d, n in sorted(counts.items()))


def inspect_by_sku(rma_id: int, lines: object, *, user_id: int | None = None) -> Rma:
    """The API's form of inspection: per SKU a disposition (grade, defect, qty and bin optional)."""
    rma = get_rma(rma_id)
    if not isinstance(lines, list) or not lines:
        raise ValidationError("Give lines [{sku, disposition}] to inspect.", field="lines")
    decisions, errors = [], {}
    waiting = pending_units(rma)
    for index, raw in enumerate(lines[:MAX_LINES]):
        decisions.extend(_sku_decisions(rma, raw, f"lines[{index}]", waiting, errors))
    if errors:
        raise ValidationError(errors=errors)
    return inspect_rma(rma.id, decisions, user_id=user_id)


def _sku_decisions(rma: Rma, raw: object, where: str, waiting: list[RmaUnit], errors: dict) -> list[UnitDecision]:
    if not isinstance(raw, dict):
        errors[where] = "Each line is an object with sku and disposition."
        return []
    sku, disposition = raw.get("sku"), raw.get("disposition")
    if not isinstance(disposition, str) or disposition not in set(Disposition):
        errors[f"{where}.disposition"] = "disposition is one of restock, refurbish, vendor_claim, write_off."
        return []
    units = [u for u in waiting if isinstance(sku, str) and u.line.sku.code.upper() == sku.strip().upper()]
    qty = raw.get("qty", len(units))
    if not units:
        errors[f"{where}.sku"] = f"No unit of {sku!r} waits for inspection on {rma.number}."
        return []
    if isinstance(qty, bool) or not isinstance(qty, int) or not 1 <= qty <= len(units):
        errors[f"{where}.qty"] = f"qty is a whole number from 1 to {len(units)}."
        return []
    grade = raw.get("grade") or _default_grade(Disposition(disposition))
    defect, bin_code = raw.get("defect") or "", raw.get("bin")
    if not isinstance(grade, str) or not isinstance(defect, str) or not (bin_code is None or isinstance(bin_code, str)):
        errors[where] = "grade, defect and bin are text."
        return []
    location_id = _bin_id(rma, bin_code, f"{where}.bin", errors) if bin_code else None
    for unit in units[:qty]:
        waiting.remove(unit)
    return [UnitDecision(u.id, grade.strip().upper(), disposition, defect, location_id) for u in units[:qty]]


def _default_grade(disposition: Disposition) -> str:
    return {Disposition.RESTOCK: Grade.A, Disposition.REFURBISH: Grade.C, Disposition.VENDOR_CLAIM: Grade.C,
            Disposition.WRITE_OFF: Grade.D}[disposition].value


def _bin_id(rma: Rma, code: str, where: str, errors: dict) -> int | None:
    location = db.session.scalar(select(Location).where(Location.warehouse_id == rma.warehouse_id,
                                                        Location.code == code.strip().upper()))
    if location is None:
        errors[where] = f"No bin {code} in {rma.warehouse.code}."
        return None
    return location.id


def suggested_decisions(rma: Rma) -> dict[int, dict]:
    """Per waiting unit, what the inspection form offers first: grade A, restock, the SKU's bin."""
    bins: dict[int, Location | None] = {}
    out = {}
    for unit in pending_units(rma):
        sku_id = unit.line.sku_id
        if sku_id not in bins:
            bins[sku_id] = suggest_bin(sku_id, rma.warehouse_id)
        out[unit.id] = {"grade": Grade.A.value, "disposition": SUGGESTED_DISPOSITION[Grade.A].value,
                        "bin": bins[sku_id].code if bins[sku_id] else ""}
    return out


# --- vendor claims -----------------------------------------------------------------------------------------------

def claim_source(sku_id: int) -> tuple[Supplier, str] | None:
    """Who to claim from: the supplier of the most recent received PO line for the SKU (with its PO), else its main supplier."""
    received = db.session.execute(
        select(PurchaseOrder.supplier_id, PurchaseOrder.number)
        .join(Receipt, Receipt.po_id == PurchaseOrder.id).join(ReceiptLine, ReceiptLine.receipt_id == Receipt.id)
        .where(ReceiptLine.sku_id == sku_id, ReceiptLine.qty > 0)
        .order_by(Receipt.received_at.desc(), Receipt.id.desc()).limit(1)).first()
    if received is not None:
        return db.session.get(Supplier, received.supplier_id), received.number
    main = db.session.scalar(select(SupplierSku).where(SupplierSku.sku_id == sku_id, SupplierSku.active.is_(True))
                             .order_by(SupplierSku.preferred.desc(), SupplierSku.id).limit(1))
    return (main.supplier, "") if main is not None else None


def _open_vendor_claim(rma: Rma, unit: RmaUnit) -> VendorClaim:
    supplier, po_number = claim_source(unit.line.sku_id)
    cost = _return_cost(rma, unit.line.sku_id) or unit.line.sku.unit_cost
    claim = VendorClaim(number=f"new-{uuid.uuid4().hex[:24]}", rma=rma, rma_unit_id=unit.id, supplier_id=supplier.id,
                        sku_id=unit.line.sku_id, po_number=po_number, qty=1, unit_cost=cost, defect=unit.defect,
                        created_at=utcnow())
    db.session.add(claim)
    db.session.flush()
    claim.number = f"VC-{claim.id:06d}"
    record_event("vendor_claim.opened", "vendor_claim", claim.number,
                 {"claim": claim.number, "rma": rma.number, "supplier": supplier.code, "sku": unit.line.sku.code,
                  "po": po_number, "qty": 1, "unit_cost": str(cost), "defect": unit.defect})
    return claim


# --- refurbishing ------------------------------------------------------------------------------------------------

@service
def complete_refurbish(task_id: int, *, outcome: str, location_id: int | None = None, note: str = "",
                       user_id: int | None = None) -> RefurbishTask:
    """Finish a refurbish task: the unit goes from quarantine to a bin (restock) or to scrap (beyond repair)."""
    task = db.session.get(RefurbishTask, task_id)
    if task is None:
        raise NotFound("No such refurbish task.")
    if task.status != "open":
        raise Conflict(f"Refurbish task {task.id} is already {task.status}.")
    rma = task.unit.line.rma
    dock, cause = dock_location(task.warehouse), Cause("rma", rma.number)
    if outcome == "restock":
        location = _refurbished_bin(task, location_id)
        ledger.post_move(task.sku_id, 1, Place(dock, Status.QUARANTINED), Place(location, Status.AVAILABLE),
                         reason=Reason.DISPOSITION, cause=cause, user_id=user_id, note="refurbished")
        task.status, task.location_id = "done", location.id
        orders._fill_backorders({task.sku_id}, user_id=user_id)
    elif outcome == "scrap":
        if not note.strip():
            raise ValidationError("Say why the unit cannot be refurbished.", field="note")
        ledger.post_move(task.sku_id, 1, Place(dock, Status.QUARANTINED), Place(ledger.outside(Outside.SCRAP)),
                         reason=Reason.SCRAP, cause=cause, user_id=user_id, note="beyond repair")
        task.status = "scrapped"
    else:
        raise ValidationError("Choose restock or scrap.", field="outcome")
    task.outcome_note, task.completed_at, task.completed_by_id = note.strip()[:300], utcnow(), user_id
    _step(rma, "refurbished" if task.status == "done" else "refurbish_scrapped", None, None,
          f"{task.sku.code}: {'back in ' + task.location.code if task.status == 'done' else 'scrapped'}"
          + (f" ({note.strip()})" if note.strip() else ""), user_id)
    db.session.commit()
    return task


def _refurbished_bin(task: RefurbishTask, location_id: int | None) -> Location:
    location = db.session.get(Location, location_id) if location_id else suggest_bin(task.sku_id, task.warehouse_id)
    if location is None or location.warehouse_id != task.warehouse_id or location.kind != "bin":
        raise ValidationError(f"Choose a bin in {task.warehouse.code}.", field="location")
    return location


# --- refunds -----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class QuoteLine:
    """Units of one RMA line that can be refunded and what the customer paid for them (tax included)."""

    rma_line: RmaLine
    qty: int
    paid: Decimal

    @property
    def reason(self) -> ReturnReason | None:
        return ReturnReason(self.rma_line.reason) if self.rma_line.reason else None


@dataclass(frozen=True)
class RefundQuote:
    """What the policy offers: the received units' paid amounts, less the restocking fee on the customer's reasons."""

    lines: list[QuoteLine]
    policy_fee: Decimal
    fee_pct: Decimal
    currency: str

    @property
    def goods(self) -> Decimal:
        return sum((line.paid for line in self.lines), ZERO)

    @property
    def total(self) -> Decimal:
        return self.goods - self.policy_fee


def _paid_amounts(order: Order) -> dict[int, Decimal]:
    return {line_id: amounts.gross for line_id, amounts in finance.order_line_amounts(order).items()}


def quote_refund(rma: Rma) -> RefundQuote:
    paid, lines = _paid_amounts(rma.order), []
    refunded = _units_refunded(rma)
    for line in rma.lines:
        if line.unexpected or line.order_line is None:
            continue
        qty = min(line.qty_received, line.qty_expected) - refunded.get(line.id, 0)
        if qty > 0:
            lines.append(QuoteLine(line, qty, finance.share(paid[line.order_line_id], qty, line.order_line.qty)))
    policy = policy_for(rma.channel_id)
    fee = restocking_fee(policy, [(ql.reason, ql.paid) for ql in lines if ql.reason])
    return RefundQuote(lines, fee, policy.restocking_fee_pct, rma.order.currency)


def _units_refunded(rma: Rma) -> dict[int, int]:
    done: dict[int, int] = defaultdict(int)
    for refund in rma.refunds:
        if refund.status not in ("rejected", "withdrawn"):
            for line in refund.lines:
                done[line.rma_line_id] += line.qty
    return done


@service
def request_refund(rma_id: int, *, user_id: int, amounts: Mapping[int, object] | None = None,
                   restocking_fee: object = None, shipping: object = ZERO, override_reason: str = "") -> Refund:
    """Ask for the refund of an inspected return: the policy's amounts, or overridden with a reason; big ones wait for finance."""
    rma = get_rma(rma_id)
    _refundable(rma)
    quote = quote_refund(rma)
    if not quote.lines:
        raise Conflict(f"Nothing on {rma.number} can be refunded: no authorised units were received.")
    refund = _refund_from_quote(rma, quote, user_id, amounts or {}, restocking_fee, shipping, override_reason)
    _ask_approval(refund, user_id)
    db.session.commit()
    return refund


def _refundable(rma: Rma) -> None:
    if rma.status != RmaStatus.INSPECTED:
        raise Conflict(f"{rma.number} is {rma.status.replace('_', ' ')}; refunds follow inspection.")
    if any(r.status in ACTIVE_REFUND for r in rma.refunds):
        raise Conflict(f"{rma.number} already has a refund in progress.")


def _refund_from_quote(rma: Rma, quote: RefundQuote, user_id: int, amounts: Mapping[int, object], fee: object,
                       shipping: object, override_reason: str) -> Refund:
    errors: dict[str, str] = {}
    chosen = [(ql, _line_amount(ql, amounts.get(ql.rma_line.id), errors)) for ql in quote.lines]
    goods = sum((amount for _ql, amount in chosen), ZERO)
    fee_amount = quote.policy_fee if fee in (None, "") else _money_field(fee, "restocking_fee", errors)
    shipping_amount = _money_field(shipping if shipping not in (None, "") else ZERO, "shipping", errors)
    if not errors and fee_amount > goods:
        errors["restocking_fee"] = f"The restocking fee cannot exceed the goods refunded ({goods})."
    overridden = fee_amount != quote.policy_fee or any(amount != ql.paid for ql, amount in chosen)
    if not errors and overridden and not override_reason.strip():
        errors["override_reason"] = "Say why the refund differs from the policy."
    if not errors and goods + shipping_amount - fee_amount <= 0:
        errors["amount"] = "Nothing would be refunded; close the RMA without a refund instead."
    if errors:
        raise ValidationError(errors=errors)
    refund = _quoted_refund(rma, chosen, user_id, shipping=shipping_amount, fee=fee_amount)
    refund.policy_fee, refund.override_reason = quote.policy_fee, override_reason.strip()[:300]
    return refund


def _line_amount(ql: QuoteLine, raw: object, errors: dict) -> Decimal:
    if raw in (None, ""):
        return ql.paid
    amount = _money_field(raw, f"amounts.{ql.rma_line.id}", errors)
    if amount > ql.paid:
        errors[f"amounts.{ql.rma_line.id}"] = f"At most {ql.paid} was paid for {ql.qty} × {ql.rma_line.sku.code}."
    return amount


def _money_field(raw: object, field: str, errors: dict) -> Decimal:
    try:
        amount = round_to_cent(to_money(raw))
    except (ValueError, TypeError):
        errors[field] = "Enter an amount such as 12.50."
        return ZERO
    if amount < 0:
        errors[field] = "Amounts cannot be negative."
        return ZERO
    return amount


def _new_refund(rma: Rma, user_id: int | None, *, paid_by_channel: bool = False) -> Refund:
    refund = Refund(number=f"new-{uuid.uuid4().hex[:24]}", rma=rma, status="approved", currency=rma.order.currency,
                    requested_by_id=user_id, paid_by_channel=paid_by_channel, created_at=utcnow())
    db.session.add(refund)
    db.session.flush()
    refund.number = f"RF-{refund.id:06d}"
    return refund


def _quoted_refund(rma: Rma, amounts: list[tuple[QuoteLine, Decimal]], user_id: int | None, *,
                   shipping: Decimal, fee: Decimal) -> Refund:
    refund = _new_refund(rma, user_id)
    for ql, amount in amounts:
        if amount > 0:
            refund.lines.append(RefundLine(rma_line_id=ql.rma_line.id, order_line_id=ql.rma_line.order_line_id,
                                           qty=ql.qty, amount=amount, paid_amount=ql.paid))
    _settle_refund_totals(refund, shipping=shipping, fee=fee)
    return refund


def _settle_refund_totals(refund: Refund, *, shipping: Decimal, fee: Decimal) -> None:
    refund.goods = sum((line.amount for line in refund.lines), ZERO)
    refund.shipping, refund.restocking_fee = shipping, fee
    refund.total = refund.goods + shipping - fee


def _ask_approval(refund: Refund, user_id: int | None) -> None:
    rma = refund.rma
    if approvals.approval_needed("refund", refund.total) is None:
        refund.status = "approved"
        _step(rma, "refund_requested", None, None, f"{refund.number} for {refund.total} {refund.currency}; "
                                                   "within the approval limit", user_id)
    else:
        request = approvals.request_approval(
            "refund", "refund", refund.number, refund.total, user_id,
            refund.override_reason or f"Refund for return {rma.number}",
            summary=f"Refund {refund.number} for {rma.number} ({rma.customer_name or rma.order.number})")
        refund.status, refund.approval_request_id = "pending_approval", request.id
        _step(rma, "refund_requested", None, None, f"{refund.number} for {refund.total} {refund.currency}; "
                                                   f"waiting for {request.approver_role} approval", user_id)
    record_event("refund.requested", "refund", refund.number, _refund_payload(refund), user_id=user_id)


def refund_by_number(number: str) -> Refund | None:
    return db.session.scalar(select(Refund).where(Refund.number == number))


@approvals.on_approved("refund")
def _refund_approved(request) -> None:
    refund = refund_by_number(request.subject_id)
    if refund is None or refund.status != "pending_approval":
        return
    refund.status, refund.decided_by_id, refund.decision_note = "approved", request.decided_by_id, request.note
    _step(refund.rma, "refund_approved", None, None, f"{refund.number} approved" + (f": {request.note}" if request.note else ""),
          request.decided_by_id)


@approvals.on_rejected("refund")
def _refund_rejected(request) -> None:
    refund = refund_by_number(request.subject_id)
    if refund is None or refund.status != "pending_approval":
        return
    refund.status, refund.decided_by_id, refund.decision_note = "rejected", request.decided_by_id, request.note
    _step(refund.rma, "refund_rejected", None, None, f"{refund.number} rejected: {request.note}", request.decided_by_id)


@service
def decide_refund(refund_id: int, *, approver_id: int, approve: bool, note: str = "") -> Refund:
    """Approve or reject a refund waiting for approval, through the one approvals mechanism."""
    refund = get_refund(refund_id)
    if refund.status != "pending_approval" or refund.approval_request_id is None:
        raise Conflict(f"{refund.number} is not waiting for approval.")
    approvals.decide_approval(refund.approval_request_id, approver_id, approve, note)
    return refund


def get_refund(refund_id: int) -> Refund:
    return _by_id(Refund, refund_id, "No such refund.")


@service
def issue_refund(refund_id: int, *, user_id: int | None = None) -> Refund:
    """Issue an approved refund: a credit note in finance, and the refund sent back to the channel as an event."""
    refund = get_refund(refund_id)
    if refund.status != "approved":
        raise Conflict(f"{refund.number} is {refund.status.replace('_', ' ')}; only an approved refund can be issued.")
    rma = refund.rma
    if rma.status != RmaStatus.INSPECTED:
        raise Conflict(f"{rma.number} is {rma.status.replace('_', ' ')}; refunds are issued after inspection.")
    now = utcnow()
    refund.status, refund.issued_at = "issued", now
    rma.refunded_at, rma.resolution = now, rma.resolution or "refund"
    _move(rma, RmaStatus.REFUNDED, f"{refund.number}: {refund.total} {refund.currency} credited", user_id)
    if refund.paid_by_channel:
        _settle_paid(refund, rma, f"{rma.channel.code} refund {rma.channel_refund_id}", user_id)
    else:
        record_event("refund.issued", "refund", refund.number, _refund_payload(refund), user_id=user_id)
    post = finance.post_refund if refund.paid_by_channel else finance.issue_credit_note
    extra = {} if refund.paid_by_channel else {"refunded": False}
    # finance's service commits: called last, its commit is this service's one commit.
    post(rma.order_id, reference=refund.number, lines=_finance_lines(refund), shipping=refund.shipping,
         restocking_fee=refund.restocking_fee, reason=_refund_reason(refund), user_id=user_id, **extra)
    return refund


@service
def mark_refund_paid(refund_id: int, *, reference: str, user_id: int | None = None) -> Refund:
    """The money went back to the customer: pay out the credit note and close the return."""
    refund = get_refund(refund_id)
    if refund.status != "issued":
        raise Conflict(f"{refund.number} is {refund.status.replace('_', ' ')}; only an issued refund can be paid.")
    reference = (reference or "").strip()
    if not reference:
        raise ValidationError("Give the payment reference of the refund.", field="reference")
    note = db.session.scalar(select(CreditNote).where(CreditNote.reference == refund.number))
    _settle_paid(refund, refund.rma, reference, user_id)
    if note is not None and note.refund_pending:
        finance.pay_refund(note.id, reference=reference, user_id=user_id)  # commits, last
    else:
        db.session.commit()
    return refund


def _settle_paid(refund: Refund, rma: Rma, reference: str, user_id: int | None) -> None:
    refund.status, refund.paid_at, refund.payment_reference = "paid", utcnow(), reference[:100]
    record_event("refund.paid", "refund", refund.number,
                 {**_refund_payload(refund), "payment_reference": refund.payment_reference,
                  "paid_by_channel": refund.paid_by_channel}, user_id=user_id)
    if rma.status == RmaStatus.REFUNDED:
        _close(rma, f"{refund.number} paid ({refund.payment_reference})", user_id)


def _finance_lines(refund: Refund) -> list:
    return [finance.RefundLine(order_line_id=line.order_line_id, qty=line.qty, amount=line.amount)
            for line in refund.lines]


def _refund_reason(refund: Refund) -> str:
    reasons = sorted({line.rma_line.reason.replace("_", " ") for line in refund.lines if line.rma_line.reason})
    return f"Return {refund.rma.number}: {', '.join(reasons) or 'returned goods'}"


# --- exchanges ---------------------------------------------------------------------------------------------------

@service
def exchange_rma(rma_id: int, replacements: Mapping[int, str], *, user_id: int | None = None) -> Rma:
    """Send replacements instead of money: a new order for the same customer and address, priced at the difference."""
    rma = get_rma(rma_id)
    _refundable(rma)
    quote = quote_refund(rma)
    by_line = {ql.rma_line.id: ql for ql in quote.lines}
    chosen, errors = [], {}
    for line_id, code in replacements.items():
        if not code:
            continue
        sku = find_sku(code)
        if line_id not in by_line:
            errors[f"replacements.{line_id}"] = "That line has no received units to exchange."
        elif sku is None or not sku.active:
            errors[f"replacements.{line_id}"] = f"No SKU '{code}' on sale."
        else:
            chosen.append((by_line[line_id], sku))
    if not chosen and not errors:
        errors["replacements"] = "Choose a replacement SKU for at least one line."
    if errors:
        raise ValidationError(errors=errors)
    order = _exchange_order(rma, chosen, user_id)
    rma.exchange_order_id, rma.resolution = order.id, "exchange"
    owed = [(ql, max(ZERO, ql.paid - round_to_cent(sku.price * ql.qty))) for ql, sku in chosen]
    _step(rma, "exchanged", None, None, f"replacement order {order.number}", user_id)
    if any(amount > 0 for _ql, amount in owed):
        _difference_refund(rma, owed, user_id)
    else:
        _close(rma, f"exchanged for order {order.number}", user_id)
    db.session.commit()
    return rma


def _exchange_order(rma: Rma, chosen: list[tuple[QuoteLine, Sku]], user_id: int | None) -> Order:
    original, now = rma.order, utcnow()
    lines = tuple(LineDraft(sku.code, ql.qty, max(ZERO, round_to_cent(sku.price - ql.paid / ql.qty)),
                            title=f"Exchange for {ql.rma_line.sku.code} ({rma.number})") for ql, sku in chosen)
    draft = OrderDraft(
        external_id=f"{rma.number}-EX", number=f"{rma.number}-EX", currency=original.currency, placed_at=now,
        updated_at=now, customer_name=original.customer_name, customer_email=original.customer_email,
        ship_to=Address(name=original.ship_name, address1=original.ship_address1, address2=original.ship_address2 or None,
                        city=original.ship_city, region=original.ship_region or None, postcode=original.ship_postcode,
                        country=original.ship_country, phone=original.ship_phone or None),
        billing_country=original.billing_country or original.ship_country, payment_captured=True, lines=lines,
        shipping=ZERO, shipping_tax=ZERO, order_discount=ZERO, total=sum((l.net_amount() for l in lines), ZERO),
        note=f"Exchange for return {rma.number} of order {original.number}")
    return orders.record_capture(original.channel.code, draft, source="exchange", user_id=user_id).order


def _difference_refund(rma: Rma, owed: list[tuple[QuoteLine, Decimal]], user_id: int | None) -> None:
    refund = _quoted_refund(rma, owed, user_id, shipping=ZERO, fee=ZERO)
    refund.override_reason = "Price difference on an exchange"
    _ask_approval(refund, user_id)


# --- the return label --------------------------------------------------------------------------------------------

def render_return_label(rma_id: int) -> bytes:
    """The 4x6 prepaid return label: customer to the retailer's returns address, with the RMA as Code 128."""
    from app.barcodes import code128_svg
    rma = get_rma(rma_id)
    if not rma.retailer_pays_label:
        raise Conflict(f"The customer pays the postage for {rma.number}: no prepaid label.")
    if rma.status not in AWAITING_ARRIVAL:
        raise Conflict(f"{rma.number} is {rma.status.replace('_', ' ')}; a label is only needed before it arrives.")
    order, warehouse = rma.order, rma.warehouse
    return render_pdf("pdf/return_label.html", page_size="4x6", rma=rma,
                      ship_from={"name": order.ship_name or order.customer_name, "address1": order.ship_address1,
                                 "address2": order.ship_address2, "city": order.ship_city,
                                 "postcode": order.ship_postcode, "country": order.ship_country},
                      ship_to={"company": get_setting("returns.label_company"), "name": warehouse.name,
                               "address1": warehouse.address1, "city": warehouse.city, "postcode": warehouse.postcode,
                               "country": warehouse.country},
                      barcode_svg=code128_svg(rma.number, module_mm=0.4, height_mm=18),
                      units=rma.units_expected)


# --- timeline helpers --------------------------------------------------------------------------------------------

def _move(rma: Rma, new: RmaStatus, note: str, user_id: int | None) -> None:
    target = check_rma_transition(rma.status, new)
    _step(rma, target.value, rma.status, target, note, user_id)
    rma.status = target.value


def _close(rma: Rma, note: str, user_id: int | None) -> None:
    _move(rma, RmaStatus.CLOSED, note, user_id)
    rma.closed_at = utcnow()
    record_event("rma.closed", "rma", rma.number, _rma_payload(rma), user_id=user_id)


def _step(rma: Rma, action: str, from_status: str | None, to_status: RmaStatus | None, note: str,
          user_id: int | None) -> None:
    rma.steps.append(RmaStep(action=action, from_status=from_status, to_status=to_status.value if to_status else None,
                             note=(note or "")[:500], user_id=user_id, created_at=utcnow()))


def _rma_payload(rma: Rma) -> dict:
    return {"rma": rma.number, "order": rma.order.number, "channel": rma.channel.code, "status": rma.status,
            "lines": [{"sku": line.sku.code, "reason": line.reason, "expected": line.qty_expected,
                       "received": line.qty_received, "unexpected": line.unexpected} for line in rma.lines]}


def _refund_payload(refund: Refund) -> dict:
    rma = refund.rma
    return {"refund": refund.number, "rma": rma.number, "order": rma.order.number,
            "order_external_id": rma.order.external_id, "channel": rma.channel.code, "currency": refund.currency,
            "goods": str(refund.goods), "shipping": str(refund.shipping), "restocking_fee": str(refund.restocking_fee),
            "total": str(refund.total), "status": refund.status,
            "lines": [{"sku": line.rma_line.sku.code, "order_line_external_id": line.rma_line.order_line.external_line_id
                       if line.rma_line.order_line else "", "qty": line.qty, "amount": str(line.amount)}
                      for line in refund.lines]}
