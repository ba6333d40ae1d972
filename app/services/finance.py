"""The books: a chart of accounts, balanced immutable journal entries, monthly periods, gap-free
document numbers, and the documents that post (invoices, payments, credit notes, supplier invoices).

Other areas call the documented services here; nothing in this module reaches into their code:
- shipping: a shipment moving to `shipped` (the "shipment.shipped" event) issues its invoice and posts
  revenue, tax and the receivable; a channel that already took the money posts the payment too;
- customer payments: `record_payment(order_id, amount, reference)`;
- returns and refunds: `issue_credit_note(order_id, reference=..., lines=[RefundLine(...)], ...)`,
  `post_refund(...)` when the money already went back, `pay_refund(credit_note_id, reference=...)`;
- purchasing: `record_supplier_invoice(po_id, reference=..., amount=... or lines=[...])`;
- corrections: `reverse_entry(entry_id, reason=...)`; closing a month: `close_period("2026-10")`.
Stock moves are valued by app/services/valuation.py, which posts through `post_entry` here.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import BigInteger, event, func, select, type_coerce, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.domain.errors import Conflict, DomainError, NotFound, ValidationError
from app.domain.inventory import Outside
from app.domain.money import CENT, ZERO, split_in_proportion
from app.domain.orders import ShipmentStatus
from app.extensions import db
from app.models import Location, StockMove, Supplier
from app.models.finance import (Account, CreditNote, CreditNoteLine, DocumentCounter, FiscalPeriod, Invoice,
                                InvoiceLine, JournalEntry, JournalLine, Payment, SupplierInvoice)
from app.models.orders import Order, OrderLine, Shipment
from app.models.types import utcnow
from app.services._uow import service
from app.services.events import subscribe


class Acct:
    """Account codes the postings use."""

    CASH = "1000"
    RECEIVABLE = "1100"
    INVENTORY = "1200"
    SUPPLIER_CLAIMS = "1300"
    PAYABLE = "2000"
    GRNI = "2100"
    VAT = "2200"
    REFUNDS_PAYABLE = "2300"
    OPENING_EQUITY = "3000"
    SALES = "4000"
    SHIPPING_INCOME = "4100"
    RESTOCKING_FEES = "4200"
    RETURNS = "4500"
    COGS = "5000"
    ADJUSTMENTS = "5100"
    WRITE_OFFS = "5200"
    PRICE_VARIANCE = "5300"


CHART = [
    (Acct.CASH, "Cash and payment processors", "asset", "Bank and the balances channels and card processors hold for us."),
    (Acct.RECEIVABLE, "Accounts receivable", "asset", "Invoiced to customers, not yet paid."),
    (Acct.INVENTORY, "Inventory", "asset", "Stock on hand at FIFO cost; equals the valuation report."),
    (Acct.SUPPLIER_CLAIMS, "Supplier claims receivable", "asset",
     "Stock sent back to suppliers, at cost, awaiting their credit."),
    (Acct.PAYABLE, "Accounts payable", "liability", "Supplier invoices not yet paid."),
    (Acct.GRNI, "Goods received not invoiced", "liability", "Stock received from suppliers whose invoice has not arrived."),
    (Acct.VAT, "VAT control", "liability", "Output tax on sales less input tax on purchases."),
    (Acct.REFUNDS_PAYABLE, "Customer refunds payable", "liability", "Credit notes issued, money not yet returned."),
    (Acct.OPENING_EQUITY, "Opening balance equity", "equity", "The other side of opening stock and balances."),
    (Acct.SALES, "Sales", "revenue", "Goods invoiced to customers, net of discounts and tax."),
    (Acct.SHIPPING_INCOME, "Shipping and other charges", "revenue", "Shipping and order fees charged to customers."),
    (Acct.RESTOCKING_FEES, "Restocking fees", "revenue", "Fees kept from refunds for returned goods."),
    (Acct.RETURNS, "Sales returns and refunds", "revenue",
     "Goods and shipping credited back to customers (a contra-revenue account)."),
    (Acct.COGS, "Cost of goods sold", "expense", "FIFO cost of goods shipped, less the cost of goods returned to stock."),
    (Acct.ADJUSTMENTS, "Stock adjustments", "expense", "Shrinkage less stock found, from counts and corrections."),
    (Acct.WRITE_OFFS, "Stock write-offs", "expense", "Stock scrapped as unsellable."),
    (Acct.PRICE_VARIANCE, "Purchase price variance", "expense",
     "Supplier invoices above (or below) the cost goods were received at."),
]
REVENUE_CODES = (Acct.SALES, Acct.SHIPPING_INCOME, Acct.RESTOCKING_FEES, Acct.RETURNS)

INVOICE_SERIES, CREDIT_NOTE_SERIES = "invoice", "credit_note"
PAYMENT_SERIES, SUPPLIER_INVOICE_SERIES = "payment", "supplier_invoice"
PREFIXES = {INVOICE_SERIES: "INV", CREDIT_NOTE_SERIES: "CN", PAYMENT_SERIES: "PAY", SUPPLIER_INVOICE_SERIES: "SI"}
PERIOD_PATTERN = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")


# What invoices and credit notes say about the seller: settings an admin sets (Admin › Settings, "finance").
SELLER_SETTINGS = {"name": "finance.seller_name", "address": "finance.seller_address",
                   "vat_number": "finance.seller_vat_number", "company_number": "finance.seller_company_number",
                   "email": "finance.seller_email", "payment_terms": "finance.payment_terms"}


def seller() -> dict[str, str]:
    """The seller's name, address, VAT and company numbers, email and payment terms for printed documents."""
    from app.services.settings import get_setting
    return {field: str(get_setting(key) or "") for field, key in SELLER_SETTINGS.items()}


# --- dates ------------------------------------------------------------------------------------------------

def local_date(moment: datetime) -> date:
    """The retailer's calendar date of a moment: the day the books file it under."""
    return moment.astimezone(ZoneInfo(current_app.config["KEEL_TIMEZONE"])).date()


def today() -> date:
    return local_date(utcnow())


def period_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def period_label(period: str) -> str:
    return date(int(period[:4]), int(period[5:]), 1).strftime("%B %Y")


# --- chart of accounts --------------------------------------------------------------------------------------

def ensure_chart() -> dict[str, int]:
    """Account ids by code, creating any account of the chart that is missing."""
    cached = db.session.info.get("finance.accounts")
    if cached:
        return cached
    ids = dict(db.session.execute(select(Account.code, Account.id)).all())
    missing = [row for row in CHART if row[0] not in ids]
    for code, name, kind, description in missing:
        account = Account(code=code, name=name, type=kind, description=description)
        db.session.add(account)
        db.session.flush()
        ids[code] = account.id
    db.session.info["finance.accounts"] = ids
    return ids


def _forget_cached_chart(session: Session, *args) -> None:
    session.info.pop("finance.accounts", None)
    _forget_checked_periods(session)


def _forget_checked_periods(session: Session, *args) -> None:
    session.info.pop("finance.open_periods", None)
    session.info.pop("finance.sku_codes", None)


# --- posting ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Leg:
    """One line of an entry: a signed amount (positive debits, negative credits) with what it concerns."""

    account: str
    amount: Decimal
    memo: str = ""
    channel_id: int | None = None
    warehouse_id: int | None = None
    sku_id: int | None = None
    order_id: int | None = None
    qty: int | None = None


def debit(account: str, amount: Decimal, memo: str = "", **dims) -> Leg:
    return Leg(account, amount, memo, **dims)


def credit(account: str, amount: Decimal, memo: str = "", **dims) -> Leg:
    return Leg(account, -amount, memo, **dims)


def post_entry(legs: Iterable[Leg], *, kind: str, source_type: str, source_id: object, memo: str,
               entry_date: date | None = None, user_id: int | None = None, move_id: int | None = None,
               reverses: JournalEntry | None = None, reason: str = "") -> JournalEntry | None:
    """Write one balanced entry in the caller's transaction; None when every amount is zero.

    Refuses amounts that are not whole cents, entries whose debits and credits differ, and any
    date inside a closed period. Never commits.
    """
    legs = [leg for leg in legs if _checked_amount(leg) != 0]
    if not legs:
        return None
    debits = sum((leg.amount for leg in legs if leg.amount > 0), ZERO)
    credits = -sum((leg.amount for leg in legs if leg.amount < 0), ZERO)
    if debits != credits:
        raise DomainError(f"The entry does not balance: debits {debits}, credits {credits}.")
    day = entry_date or today()
    require_open_period(day)
    accounts = ensure_chart()
    entry = JournalEntry(entry_date=day, period=period_of(day), kind=kind, memo=memo[:300],
                         source_type=source_type[:30], source_id=str(source_id)[:40], user_id=user_id,
                         move_id=move_id, posted_at=utcnow(), reverses=reverses, reversal_reason=reason[:300])
    for leg in legs:
        if leg.account not in accounts:
            raise DomainError(f"There is no account {leg.account} in the chart.")
        entry.lines.append(JournalLine(
            account_id=accounts[leg.account], debit=max(leg.amount, ZERO), credit=max(-leg.amount, ZERO),
            memo=leg.memo[:200], channel_id=leg.channel_id, warehouse_id=leg.warehouse_id, sku_id=leg.sku_id,
            order_id=leg.order_id, qty=leg.qty))
    db.session.add(entry)
    return entry


def _checked_amount(leg: Leg) -> Decimal:
    amount = leg.amount
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise DomainError(f"Account {leg.account}: {amount!r} is not an exact amount.")
    if amount != amount.quantize(CENT):
        raise DomainError(f"Account {leg.account}: {amount} is not a whole number of cents.")
    return amount


def clean_text(value: object, limit: int) -> str:
    """Text from outside, trimmed and cut to `limit`, without NUL characters (which PostgreSQL refuses)."""
    return (value if isinstance(value, str) else "").replace("\x00", "").strip()[:limit]


def cents(amount: Decimal) -> Decimal:
    """An exact amount rounded half-up to the cent (zero without a sign)."""
    rounded = amount.quantize(CENT, rounding=ROUND_HALF_UP)
    return ZERO if rounded == 0 else rounded


def share(amount: Decimal, part: int, whole: int) -> Decimal:
    """`part` of `whole` units' worth of `amount`, to the cent; shares taken cumulatively never drift."""
    return cents(amount * part / whole) if whole else ZERO


# --- periods ------------------------------------------------------------------------------------------------

def _ensure_period_row(period: str) -> None:
    insert = pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    db.session.execute(insert(FiscalPeriod.__table__).values(period=period, note="")
                       .on_conflict_do_nothing(index_elements=["period"]))


def require_open_period(day: date) -> None:
    """Refuse a posting dated inside a closed month (the period row is share-locked until commit)."""
    period = period_of(day)
    checked = db.session.info.setdefault("finance.open_periods", set())
    if period in checked:  # already share-locked by this transaction: it cannot have closed since
        return
    _ensure_period_row(period)
    closed_at = db.session.scalar(select(FiscalPeriod.closed_at).where(FiscalPeriod.period == period)
                                  .with_for_update(read=True))
    if closed_at is not None:
        raise DomainError(f"{period_label(period)} is closed; nothing can be posted into it.", field="entry_date")
    checked.add(period)


def parse_period(text: str) -> str:
    match = PERIOD_PATTERN.fullmatch((text or "").strip())
    if not match:
        raise ValidationError("Give the month as YYYY-MM.", field="period")
    return match.group(0)


@service
def close_period(period: str, *, user_id: int | None, note: str = "") -> FiscalPeriod:
    """Close a month that has ended, once every earlier month is closed; nothing posts into it afterwards."""
    period = parse_period(period)
    if period >= period_of(today()):
        raise Conflict(f"{period_label(period)} has not ended yet; close it once it is over.")
    _ensure_period_row(period)
    row = db.session.scalar(select(FiscalPeriod).where(FiscalPeriod.period == period).with_for_update())
    if row.closed_at is not None:
        raise Conflict(f"{period_label(period)} is already closed.")
    earlier_open = db.session.scalar(select(func.min(JournalEntry.period)).where(
        JournalEntry.period < period,
        JournalEntry.period.not_in(select(FiscalPeriod.period).where(FiscalPeriod.closed_at.is_not(None)))))
    if earlier_open:
        raise Conflict(f"Close {period_label(earlier_open)} first: months close in order.")
    row.closed_at, row.closed_by_id, row.note = utcnow(), user_id, clean_text(note, 300)
    db.session.commit()
    return row


def period_is_closed(period: str) -> bool:
    return db.session.scalar(select(FiscalPeriod.closed_at).where(FiscalPeriod.period == period)) is not None


# --- gap-free numbers ---------------------------------------------------------------------------------------

def next_number(series: str) -> int:
    """The next number of a gap-free series, taken under the counter row's lock until commit.

    UPDATE ... RETURNING takes the row lock before reading (PostgreSQL row lock, SQLite's single
    writer), so concurrent transactions get consecutive numbers, and a rolled-back one gives its
    number back with the rest of its work.
    """
    counters = DocumentCounter.__table__
    increment = (update(counters).where(counters.c.name == series).values(last_value=counters.c.last_value + 1)
                 .returning(counters.c.last_value))
    value = db.session.execute(increment).scalar()
    if value is None:  # the series' first number: make its counter, then take it under the lock
        insert = pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
        db.session.execute(insert(counters).values(name=series, last_value=0)
                           .on_conflict_do_nothing(index_elements=["name"]))
        value = db.session.execute(increment).scalar_one()
    return value


def document_number(series: str) -> tuple[int, str]:
    value = next_number(series)
    return value, f"{PREFIXES[series]}-{value:06d}"


# --- balances the documents need ---------------------------------------------------------------------------

def minor_sum(column):
    """SUM of a Money(2) column in cents, summed exactly in SQL (zero when there are no rows)."""
    return func.coalesce(func.sum(type_coerce(column, BigInteger)), 0)


def from_minor(value) -> Decimal:
    return Decimal(int(value or 0)).scaleb(-2)


def order_receivable(order_id: int) -> Decimal:
    """What the customer still owes on an order: invoiced less paid and credited."""
    accounts = ensure_chart()
    return from_minor(db.session.scalar(
        select(minor_sum(JournalLine.debit) - minor_sum(JournalLine.credit))
        .where(JournalLine.order_id == order_id, JournalLine.account_id == accounts[Acct.RECEIVABLE])))


# --- invoices -----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LineAmounts:
    """An order line's money once every discount is taken off: net of tax, and its tax."""

    net: Decimal
    tax: Decimal

    @property
    def gross(self) -> Decimal:
        return self.net + self.tax


def order_line_amounts(order: Order) -> dict[int, LineAmounts]:
    """Each line's net and tax, with the order-level discount shared over the lines by value."""
    before = {line.id: _line_net_before_order_discount(order, line) for line in order.lines}
    ids = list(before)
    shares = split_in_proportion(order.order_discount or ZERO, [max(before[i], ZERO) for i in ids])
    return {line.id: LineAmounts(before[line.id] - shares[ids.index(line.id)], line.tax or ZERO)
            for line in order.lines}


def _line_net_before_order_discount(order: Order, line: OrderLine) -> Decimal:
    amount = cents(line.qty * line.unit_price - (line.discount or ZERO))
    return amount - (line.tax or ZERO) if order.prices_include_tax else amount


def shipping_amounts(order: Order) -> LineAmounts:
    shipping, tax = order.shipping or ZERO, order.shipping_tax or ZERO
    return LineAmounts(shipping - tax if order.prices_include_tax else shipping, tax)


def _invoiced_units(order_id: int) -> dict[int, int]:
    return dict(db.session.execute(
        select(InvoiceLine.order_line_id, func.sum(InvoiceLine.qty)).join(Invoice)
        .where(Invoice.order_id == order_id, InvoiceLine.kind == "goods")
        .group_by(InvoiceLine.order_line_id)).all())


def shipped_units(shipment: Shipment) -> dict[int, int]:
    """Units of each shipment line that left: the stock moves to the customer, else the units picked or reserved."""
    customer = select(Location.id).where(Location.outside == Outside.CUSTOMER.value).scalar_subquery()
    moved = {sku: int(qty) for sku, qty in db.session.execute(
        select(StockMove.sku_id, func.sum(StockMove.qty)).where(
            StockMove.cause_type == "shipment", StockMove.cause_id == shipment.number,
            StockMove.to_location_id == customer).group_by(StockMove.sku_id))}
    if not moved:
        return {line.id: line.qty_picked or line.qty for line in shipment.lines}
    units = {}
    for line in shipment.lines:
        units[line.id] = min(moved.get(line.sku_id, 0), line.qty)
        moved[line.sku_id] = moved.get(line.sku_id, 0) - units[line.id]
    return units


def _goods_lines(order: Order, shipment: Shipment) -> list[InvoiceLine]:
    amounts, invoiced, shipped = order_line_amounts(order), _invoiced_units(order.id), shipped_units(shipment)
    lines = []
    for ship_line in shipment.lines:
        line = ship_line.order_line
        before = int(invoiced.get(line.id, 0))
        units = min(shipped[ship_line.id], line.qty - before)
        if units <= 0:
            continue
        money = amounts[line.id]
        net = share(money.net, before + units, line.qty) - share(money.net, before, line.qty)
        tax = share(money.tax, before + units, line.qty) - share(money.tax, before, line.qty)
        lines.append(InvoiceLine(kind="goods", order_line_id=line.id, sku_id=line.sku_id, description=line.title[:300],
                                 qty=units, unit_price=line.unit_price, net=net, tax=tax, total=net + tax))
    return lines


def _charge_lines(order: Order) -> list[InvoiceLine]:
    """Shipping and order fees, billed once, on the order's first invoice."""
    lines = []
    shipping = shipping_amounts(order)
    if shipping.gross:
        lines.append(InvoiceLine(kind="shipping", description="Shipping", qty=1, net=shipping.net, tax=shipping.tax,
                                 total=shipping.gross))
    if order.fees:
        lines.append(InvoiceLine(kind="fees", description="Order fees", qty=1, net=order.fees, tax=ZERO, total=order.fees))
    return lines


def issue_invoice(shipment: Shipment, *, user_id: int | None = None) -> Invoice | None:
    """Invoice a shipped shipment and post it, in the caller's transaction; the same invoice when asked again."""
    existing = db.session.scalar(select(Invoice).where(Invoice.shipment_id == shipment.id))
    if existing is not None:
        return existing
    order = shipment.order
    first = not db.session.scalar(select(func.count(Invoice.id)).where(Invoice.order_id == order.id))
    lines = _goods_lines(order, shipment) + (_charge_lines(order) if first else [])
    if not lines:
        return None
    sequence, number = document_number(INVOICE_SERIES)
    invoice = Invoice(number=number, sequence=sequence, order=order, order_id=order.id, shipment=shipment,
                      shipment_id=shipment.id, channel_id=order.channel_id,
                      warehouse_id=shipment.warehouse_id, issued_at=utcnow(), issue_date=today(),
                      currency=order.currency, lines=lines)
    _total_invoice(invoice)
    invoice.entry = post_entry(_invoice_legs(invoice), kind="invoice", source_type="invoice", source_id=number,
                               memo=f"Invoice {number}: shipment {shipment.number} of order {order.number}",
                               entry_date=invoice.issue_date, user_id=user_id)
    db.session.add(invoice)
    if order.payment_captured:
        _record_payment(order, invoice.total, reference=f"Captured by {order.channel.code}: {number}",
                        method="channel", received_at=invoice.issued_at, user_id=user_id)
    return invoice


def _total_invoice(invoice: Invoice) -> None:
    invoice.goods_net = sum((l.net for l in invoice.lines if l.kind == "goods"), ZERO)
    invoice.shipping_net = sum((l.net for l in invoice.lines if l.kind == "shipping"), ZERO)
    invoice.fees = sum((l.net for l in invoice.lines if l.kind == "fees"), ZERO)
    invoice.tax = sum((l.tax for l in invoice.lines), ZERO)
    invoice.total = sum((l.total for l in invoice.lines), ZERO)


def _invoice_legs(invoice: Invoice) -> list[Leg]:
    dims = {"order_id": invoice.order_id, "channel_id": invoice.channel_id}
    legs = [debit(Acct.RECEIVABLE, invoice.total, invoice.number, **dims)]
    for line in invoice.lines:
        account = Acct.SALES if line.kind == "goods" else Acct.SHIPPING_INCOME
        legs.append(credit(account, line.net, line.description, warehouse_id=invoice.warehouse_id,
                           sku_id=line.sku_id, qty=line.qty if line.kind == "goods" else None, **dims))
    legs.append(credit(Acct.VAT, invoice.tax, f"Output tax {invoice.number}", **dims))
    return legs


@subscribe("shipment.shipped")
def _invoice_shipped_shipment(event) -> None:
    shipment = db.session.scalar(select(Shipment).where(Shipment.number == event.payload.get("shipment")))
    if shipment is not None:
        issue_invoice(shipment, user_id=event.user_id)


@service
def invoice_shipment(shipment_id: int, *, user_id: int | None = None) -> Invoice:
    """Invoice a shipment that left before invoicing could run (the order-to-cash catch-up)."""
    shipment = db.session.get(Shipment, shipment_id)
    if shipment is None:
        raise NotFound("No such shipment.")
    if shipment.status != ShipmentStatus.SHIPPED:
        raise Conflict(f"Shipment {shipment.number} has not shipped; invoices follow the goods.")
    already = db.session.scalar(select(Invoice.number).where(Invoice.shipment_id == shipment.id))
    if already:
        raise Conflict(f"Shipment {shipment.number} is already invoiced ({already}).")
    invoice = issue_invoice(shipment, user_id=user_id)
    if invoice is None:
        raise Conflict(f"Shipment {shipment.number} has nothing left to invoice.")
    db.session.commit()
    return invoice


# --- payments -----------------------------------------------------------------------------------------------

def _record_payment(order: Order, amount: Decimal, *, reference: str, method: str, received_at: datetime,
                    user_id: int | None, received_on: date | None = None) -> Payment | None:
    if amount <= 0:
        return None
    sequence, number = document_number(PAYMENT_SERIES)
    day = received_on or local_date(received_at)
    dims = {"order_id": order.id, "channel_id": order.channel_id}
    entry = post_entry([debit(Acct.CASH, amount, reference, **dims), credit(Acct.RECEIVABLE, amount, reference, **dims)],
                       kind="payment", source_type="payment", source_id=number, entry_date=day,
                       memo=f"Payment {number} for order {order.number}: {reference}", user_id=user_id)
    payment = Payment(number=number, order=order, amount=amount, reference=reference[:100], method=method,
                      received_at=received_at, received_date=day, user_id=user_id, entry=entry)
    db.session.add(payment)
    return payment


def _positive_cents(amount: object, field: str = "amount") -> Decimal:
    if isinstance(amount, bool) or not isinstance(amount, (Decimal, int)):
        raise ValidationError("Enter an amount such as 120.50.", field=field)
    amount = Decimal(amount)
    if not amount.is_finite() or amount <= 0:
        raise ValidationError("The amount must be more than zero.", field=field)
    if amount != amount.quantize(CENT):
        raise ValidationError("Amounts are whole cents: at most two decimals.", field=field)
    if amount >= Decimal("1000000000"):
        raise ValidationError("The amount is implausibly large.", field=field)
    return amount


@service
def record_payment(order_id: int, amount: Decimal, reference: str, *, method: str = "bank_transfer",
                   received_on: date | None = None, user_id: int | None = None) -> Payment:
    """Money received for an order's invoices: Dr Cash, Cr Accounts receivable.

    `amount` is an exact Decimal of at most two decimals, no more than the order still owes;
    `reference` (bank reference, processor id) may be used once per order. `received_on`
    dates the posting (today by default) and may not fall in a closed month.
    """
    order = db.session.get(Order, order_id)
    if order is None:
        raise NotFound("No such order.", field="order")
    amount, reference = _positive_cents(amount), clean_text(reference, 100)
    if not reference:
        raise ValidationError("Give the payment's reference (bank or processor).", field="reference")
    if received_on and received_on > today():
        raise ValidationError("A payment cannot be received in the future.", field="received_on")
    if db.session.scalar(select(Payment.id).where(Payment.order_id == order.id, Payment.reference == reference[:100])):
        raise Conflict(f"A payment with reference '{reference}' is already recorded for {order.number}.", field="reference")
    owed = order_receivable(order.id)
    if amount > owed:
        raise ValidationError(f"{order.number} owes {owed}; a payment of {amount} would overpay it.", field="amount")
    payment = _record_payment(order, amount, reference=reference, method=method, received_at=utcnow(),
                              received_on=received_on, user_id=user_id)
    db.session.commit()
    return payment


@subscribe("order.payment_captured")
def _payment_captured(event) -> None:
    order = db.session.scalar(select(Order).where(Order.number == event.payload.get("order")))
    if order is not None:
        _record_payment(order, order_receivable(order.id), reference=f"Captured by {order.channel.code}",
                        method="channel", received_at=utcnow(), user_id=event.user_id)


# --- credit notes and refunds --------------------------------------------------------------------------------

@dataclass(frozen=True)
class RefundLine:
    """Units of one order line given back: `amount` is the money for them with tax, or None for what was paid."""

    order_line_id: int
    qty: int
    amount: Decimal | None = None


def _credited_units(order_id: int) -> dict[int, int]:
    return dict(db.session.execute(
        select(CreditNoteLine.order_line_id, func.sum(CreditNoteLine.qty)).join(CreditNote)
        .where(CreditNote.order_id == order_id, CreditNoteLine.kind == "goods")
        .group_by(CreditNoteLine.order_line_id)).all())


def _refund_goods_lines(order: Order, lines: Sequence[RefundLine]) -> list[CreditNoteLine]:
    by_id = {line.id: line for line in order.lines}
    amounts, invoiced, credited = order_line_amounts(order), _invoiced_units(order.id), _credited_units(order.id)
    made = []
    for index, refund in enumerate(lines):
        line = by_id.get(refund.order_line_id)
        if line is None:
            raise ValidationError(f"Line {index + 1} is not a line of {order.number}.", field=f"lines[{index}]")
        open_units = int(invoiced.get(line.id, 0)) - int(credited.get(line.id, 0))
        if isinstance(refund.qty, bool) or not isinstance(refund.qty, int) or not 0 < refund.qty <= open_units:
            raise ValidationError(f"{line.title}: {open_units} invoiced unit(s) can still be credited.",
                                  field=f"lines[{index}].qty")
        credited[line.id] = int(credited.get(line.id, 0)) + refund.qty
        made.append(_refund_line(line, refund, amounts[line.id], index))
    return made


def _refund_line(line: OrderLine, refund: RefundLine, money: LineAmounts, index: int) -> CreditNoteLine:
    paid = share(money.gross, refund.qty, line.qty)
    gross = paid if refund.amount is None else _positive_cents(refund.amount, f"lines[{index}].amount")
    if gross > paid:
        raise ValidationError(f"{line.title}: at most {paid} was paid for {refund.qty} unit(s).", field=f"lines[{index}].amount")
    tax = cents(gross * money.tax / money.gross) if money.gross else ZERO
    return CreditNoteLine(kind="goods", order_line_id=line.id, sku_id=line.sku_id, description=line.title[:300],
                          qty=refund.qty, net=gross - tax, tax=tax, total=gross)


def _refund_shipping_line(order: Order, amount: Decimal) -> list[CreditNoteLine]:
    if not amount:
        return []
    amount = _positive_cents(amount, "shipping")
    shipping = shipping_amounts(order)
    billed = db.session.scalar(select(func.count(InvoiceLine.id)).join(Invoice).where(
        Invoice.order_id == order.id, InvoiceLine.kind == "shipping"))
    refunded = sum((l.total for n in db.session.scalars(select(CreditNote).where(CreditNote.order_id == order.id))
                    for l in n.lines if l.kind == "shipping"), ZERO)
    left = (shipping.gross if billed else ZERO) - refunded
    if amount > left:
        raise ValidationError(f"At most {left} of invoiced shipping can still be refunded.", field="shipping")
    tax = cents(amount * shipping.tax / shipping.gross) if shipping.gross else ZERO
    return [CreditNoteLine(kind="shipping", description="Shipping", qty=1, net=amount - tax, tax=tax, total=amount)]


def _issue_credit_note(order_id: int, *, reference: str, lines: Sequence[RefundLine], shipping: Decimal,
                       restocking_fee: Decimal, reason: str, refunded: bool, refund_reference: str,
                       user_id: int | None) -> CreditNote:
    reference = clean_text(reference, 60)
    if not reference:
        raise ValidationError("Name the return or refund this credit note is for.", field="reference")
    existing = db.session.scalar(select(CreditNote).where(CreditNote.reference == reference))
    if existing is not None:
        if existing.order_id != order_id:
            raise Conflict(f"Reference {reference} already credits order {existing.order.number}.", field="reference")
        return existing
    order = db.session.get(Order, order_id)
    if order is None:
        raise NotFound("No such order.", field="order")
    note_lines = _refund_goods_lines(order, lines) + _refund_shipping_line(order, shipping)
    if not note_lines:
        raise ValidationError("Credit at least one unit or some shipping.", field="lines")
    fee = _fee(restocking_fee, note_lines)
    sequence, number = document_number(CREDIT_NOTE_SERIES)
    note = CreditNote(number=number, sequence=sequence, order=order, order_id=order.id, channel_id=order.channel_id,
                      reference=reference,
                      reason=clean_text(reason, 300), issued_at=utcnow(), issue_date=today(),
                      currency=order.currency, lines=note_lines, user_id=user_id, invoice=_latest_invoice(order.id))
    if fee:
        note.lines.append(CreditNoteLine(kind="restocking_fee", description="Restocking fee", qty=1, net=-fee, tax=ZERO,
                                         total=-fee))
    _settle_credit_note(note, order, fee, refunded, refund_reference)
    note.entry = post_entry(_credit_note_legs(note, refunded), kind="credit_note", source_type="credit_note",
                            source_id=number, entry_date=note.issue_date, user_id=user_id,
                            memo=f"Credit note {number} for order {order.number}: {note.reason or reference}")
    db.session.add(note)
    return note


def _fee(restocking_fee: Decimal, lines: list[CreditNoteLine]) -> Decimal:
    if not restocking_fee:
        return ZERO
    fee = _positive_cents(restocking_fee, "restocking_fee")
    goods = sum((l.total for l in lines if l.kind == "goods"), ZERO)
    if fee > goods:
        raise ValidationError(f"The restocking fee cannot exceed the goods refunded ({goods}).", field="restocking_fee")
    return fee


def _latest_invoice(order_id: int) -> Invoice | None:
    return db.session.scalar(select(Invoice).where(Invoice.order_id == order_id).order_by(Invoice.sequence.desc()).limit(1))


def _settle_credit_note(note: CreditNote, order: Order, fee: Decimal, refunded: bool, refund_reference: str) -> None:
    goods = [l for l in note.lines if l.kind != "restocking_fee"]
    note.goods_net = sum((l.net for l in goods if l.kind == "goods"), ZERO)
    note.shipping_net = sum((l.net for l in goods if l.kind == "shipping"), ZERO)
    note.tax = sum((l.tax for l in goods), ZERO)
    note.restocking_fee = fee
    note.total = sum((l.total for l in goods), ZERO) - fee
    note.applied_to_receivable = min(max(order_receivable(order.id), ZERO), note.total)
    note.refund_due = note.total - note.applied_to_receivable
    if refunded and note.refund_due > 0:
        note.refunded_at, note.refund_reference = note.issued_at, clean_text(refund_reference or note.reference, 100)


def _credit_note_legs(note: CreditNote, refunded: bool) -> list[Leg]:
    dims = {"order_id": note.order_id, "channel_id": note.channel_id}
    warehouse_id = note.invoice.warehouse_id if note.invoice else None
    legs = [debit(Acct.RETURNS, l.net, l.description, sku_id=l.sku_id, qty=l.qty if l.kind == "goods" else None,
                  warehouse_id=warehouse_id, **dims)
            for l in note.lines if l.kind in ("goods", "shipping")]
    legs += [debit(Acct.VAT, note.tax, f"Output tax credited {note.number}", **dims),
             credit(Acct.RESTOCKING_FEES, note.restocking_fee, "Restocking fee", warehouse_id=warehouse_id, **dims),
             credit(Acct.RECEIVABLE, note.applied_to_receivable, "Set against the amount owed", **dims),
             credit(Acct.CASH if refunded else Acct.REFUNDS_PAYABLE, note.refund_due,
                    "Refunded" if refunded else "Refund to pay", **dims)]
    return legs


@service
def issue_credit_note(order_id: int, *, reference: str, lines: Sequence[RefundLine] = (), shipping: Decimal = ZERO,
                      restocking_fee: Decimal = ZERO, reason: str = "", refunded: bool = False,
                      refund_reference: str = "", user_id: int | None = None) -> CreditNote:
    """Credit invoiced goods and shipping back to a customer, less any restocking fee; numbered without gaps.

    - `reference`: the RMA number or channel refund id; asking again with the same reference
      returns the credit note already issued, so retries never credit twice.
    - `lines`: RefundLine(order_line_id, qty, amount=None). Only invoiced, not yet credited units;
      `amount` (tax included) defaults to what the customer paid for those units.
    - `shipping`: shipping refunded, tax included; `restocking_fee`: kept as other income.
    - Posts Dr Sales returns and VAT; Cr Restocking fees; Cr Accounts receivable for what the
      customer still owed; the rest Cr Cash when `refunded` (the money already went back, e.g.
      a channel refund), else Cr Customer refunds payable until `pay_refund` pays it out.
    The cost of returned goods goes back to stock through the stock move that receives them.
    Money refunded for units never shipped needs no credit note: no sale was booked for them, and a
    channel's payment is booked only with the invoice.
    """
    note = _issue_credit_note(order_id, reference=reference, lines=lines, shipping=shipping,
                              restocking_fee=restocking_fee, reason=reason, refunded=refunded,
                              refund_reference=refund_reference, user_id=user_id)
    db.session.commit()
    return note


@service
def post_refund(order_id: int, *, reference: str, lines: Sequence[RefundLine] = (), shipping: Decimal = ZERO,
                restocking_fee: Decimal = ZERO, reason: str = "", user_id: int | None = None) -> CreditNote:
    """Record money already returned to a customer (a channel refund): the credit note, paid out at once."""
    note = _issue_credit_note(order_id, reference=reference, lines=lines, shipping=shipping,
                              restocking_fee=restocking_fee, reason=reason, refunded=True,
                              refund_reference=reference, user_id=user_id)
    db.session.commit()
    return note


@service
def pay_refund(credit_note_id: int, *, reference: str, user_id: int | None = None) -> CreditNote:
    """Pay out a credit note's pending refund: Dr Customer refunds payable, Cr Cash."""
    note = db.session.get(CreditNote, credit_note_id)
    if note is None:
        raise NotFound("No such credit note.")
    if not note.refund_pending:
        raise Conflict(f"Credit note {note.number} has no refund waiting to be paid.")
    reference = clean_text(reference, 100)
    if not reference:
        raise ValidationError("Give the refund's payment reference.", field="reference")
    dims = {"order_id": note.order_id, "channel_id": note.channel_id}
    note.refund_entry = post_entry([debit(Acct.REFUNDS_PAYABLE, note.refund_due, reference, **dims),
                                    credit(Acct.CASH, note.refund_due, reference, **dims)],
                                   kind="refund_payment", source_type="credit_note", source_id=note.number,
                                   memo=f"Refund paid for credit note {note.number}: {reference}", user_id=user_id)
    note.refunded_at, note.refund_reference = utcnow(), reference[:100]
    db.session.commit()
    return note


# --- supplier invoices ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SupplierInvoiceLine:
    """What a supplier billed for one SKU: units and cost per unit (home currency)."""

    sku_id: int
    qty: int
    unit_cost: Decimal


def grni_open(receipt_type: str, receipt_ref: str) -> Decimal:
    """Goods received on one document (a receipt's cause) and not yet matched to a supplier invoice."""
    accounts = ensure_chart()
    received = db.session.scalar(
        select(minor_sum(JournalLine.credit) - minor_sum(JournalLine.debit))
        .join(JournalEntry).where(JournalLine.account_id == accounts[Acct.GRNI], JournalEntry.kind == "receipt",
                                  JournalEntry.source_type == receipt_type, JournalEntry.source_id == receipt_ref))
    matched = db.session.scalar(select(minor_sum(SupplierInvoice.grni_cleared)).where(
        SupplierInvoice.receipt_type == receipt_type, SupplierInvoice.receipt_ref == receipt_ref,
        SupplierInvoice.reversed_at.is_(None)))
    return from_minor(received) - from_minor(matched)


def received_at_cost(receipt_type: str, receipt_ref: str, sku_id: int) -> tuple[int, Decimal]:
    """Units and value at which one SKU came in on a receiving document."""
    accounts = ensure_chart()
    qty, value = db.session.execute(
        select(func.coalesce(func.sum(JournalLine.qty), 0), minor_sum(JournalLine.credit))
        .join(JournalEntry).where(JournalLine.account_id == accounts[Acct.GRNI], JournalEntry.kind == "receipt",
                                  JournalEntry.source_type == receipt_type, JournalEntry.source_id == receipt_ref,
                                  JournalLine.sku_id == sku_id)).one()
    return int(qty), from_minor(value)


def receiving_documents_of_po(po_id: int) -> tuple[int | None, list[tuple[str, str]]]:
    """The supplier of a purchase order and the receiving documents its goods came in on."""
    from app.models.purchasing import PurchaseOrder, Receipt
    po = db.session.get(PurchaseOrder, po_id)
    if po is None:
        raise NotFound("No such purchase order.", field="po")
    refs = {po.number, str(po.id)} | set(db.session.scalars(select(Receipt.number).where(Receipt.po_id == po.id)))
    found = db.session.execute(select(JournalEntry.source_type, JournalEntry.source_id).distinct()
                               .where(JournalEntry.kind == "receipt", JournalEntry.source_id.in_(refs))).all()
    return po.supplier_id, [(t, i) for t, i in found if not (i == str(po.id) and t not in ("po", "purchase_order"))]


def _supplier_invoice_amounts(receipt_type: str, receipt_ref: str, amount: Decimal | None,
                              lines: Sequence[SupplierInvoiceLine] | None) -> tuple[Decimal, Decimal]:
    """(billed, goods received value the bill clears): the whole open balance, or line by line."""
    open_value = grni_open(receipt_type, receipt_ref)
    if not lines:
        return _positive_cents(amount), open_value
    billed = cleared = ZERO
    for index, line in enumerate(lines):
        qty, value = received_at_cost(receipt_type, receipt_ref, line.sku_id)
        if isinstance(line.qty, bool) or not isinstance(line.qty, int) or not 0 < line.qty <= qty:
            raise ValidationError(f"Line {index + 1}: {qty} unit(s) of that SKU were received.", field=f"lines[{index}].qty")
        billed += cents(line.qty * Decimal(line.unit_cost))
        cleared += share(value, line.qty, qty)
    return billed, min(cleared, open_value)


def _record_supplier_invoice(receipt_type: str, receipt_ref: str, *, supplier_id: int, reference: str,
                             amount: Decimal | None, lines, tax: Decimal, invoice_date: date | None,
                             po_id: int | None, user_id: int | None) -> SupplierInvoice:
    reference = clean_text(reference, 60)
    if not reference:
        raise ValidationError("Enter the supplier's invoice number.", field="reference")
    supplier = db.session.get(Supplier, supplier_id) if supplier_id else None
    if supplier is None:
        raise ValidationError("Choose the supplier.", field="supplier")
    if db.session.scalar(select(SupplierInvoice.id).where(SupplierInvoice.supplier_id == supplier.id,
                                                          SupplierInvoice.reference == reference,
                                                          SupplierInvoice.reversed_at.is_(None))):
        raise Conflict(f"Invoice {reference} from {supplier.name} is already recorded.", field="reference")
    if grni_open(receipt_type, receipt_ref) <= 0:
        raise Conflict(f"Nothing received on {receipt_ref} is waiting for an invoice.", field="receipt")
    billed, cleared = _supplier_invoice_amounts(receipt_type, receipt_ref, amount, lines)
    tax = ZERO if not tax else _positive_cents(tax, "tax")
    day = invoice_date or today()
    if day > today():
        raise ValidationError("The invoice date cannot be in the future.", field="invoice_date")
    sequence, number = document_number(SUPPLIER_INVOICE_SERIES)
    bill = SupplierInvoice(number=number, supplier_id=supplier.id, po_id=po_id, receipt_type=receipt_type,
                           receipt_ref=receipt_ref, reference=reference, invoice_date=day, amount=billed, tax=tax,
                           total=billed + tax, grni_cleared=cleared, variance=billed - cleared, user_id=user_id)
    db.session.add(bill)
    bill.entry = post_entry([debit(Acct.GRNI, cleared, f"Received on {receipt_ref}"),
                             debit(Acct.PRICE_VARIANCE, billed - cleared, "Billed above (below) received cost"),
                             debit(Acct.VAT, tax, "Input tax"),
                             credit(Acct.PAYABLE, billed + tax, f"{supplier.name} {reference}")],
                            kind="supplier_invoice", source_type="supplier_invoice", source_id=number, entry_date=day,
                            memo=f"Supplier invoice {reference} from {supplier.name} for {receipt_ref}", user_id=user_id)
    return bill


@service
def record_supplier_invoice(po_id: int | None = None, *, reference: str, amount: Decimal | None = None,
                            lines: Sequence[SupplierInvoiceLine] | None = None, tax: Decimal = ZERO,
                            invoice_date: date | None = None, supplier_id: int | None = None,
                            receipt_type: str | None = None, receipt_ref: str | None = None,
                            user_id: int | None = None) -> SupplierInvoice:
    """Match a supplier's invoice to goods received: Dr GRNI, Cr Accounts payable; the difference is price variance.

    - `po_id`: the purchase order; its goods are found by the receipts' causes (the PO or its
      receipt numbers). Or give `receipt_type` and `receipt_ref` (a receipt's cause) instead.
    - `amount`: the goods total billed before tax (home currency), clearing everything received on
      that document and not yet invoiced; or `lines` [SupplierInvoiceLine(sku_id, qty, unit_cost)]
      clearing each SKU's units at the cost they were received at.
    - `tax`: input VAT on the bill; `reference`: the supplier's invoice number, once per supplier.
    """
    if po_id is not None:
        po_supplier, documents = receiving_documents_of_po(po_id)
        open_documents = [d for d in documents if grni_open(*d) > 0]
        if not open_documents:
            raise Conflict("Nothing received on this purchase order is waiting for an invoice.", field="po")
        receipt_type, receipt_ref = open_documents[0]
        supplier_id = supplier_id or po_supplier
    if not receipt_type or not receipt_ref:
        raise ValidationError("Choose the purchase order or receipt being invoiced.", field="receipt")
    bill = _record_supplier_invoice(receipt_type, receipt_ref, supplier_id=supplier_id, reference=reference,
                                    amount=amount, lines=lines, tax=tax, invoice_date=invoice_date, po_id=po_id,
                                    user_id=user_id)
    db.session.commit()
    return bill


# --- reversals ------------------------------------------------------------------------------------------------

UNREVERSIBLE = {
    "invoice": "An invoice stands once issued; credit it with a credit note instead.",
    "credit_note": "A credit note stands once issued; invoice the difference instead.",
    "reversal": "This entry is itself a reversal; post the correction as a new entry.",
    "vendor_claim_credit": "A settled vendor claim stands; record a further supplier credit or invoice instead.",
}


@service
def reverse_entry(entry_id: int, *, reason: str, user_id: int | None = None) -> JournalEntry:
    """Correct a posting by a mirror-image entry dated today; the original stays as it was."""
    entry = db.session.get(JournalEntry, entry_id)
    if entry is None:
        raise NotFound("No such journal entry.")
    reason = clean_text(reason, 300)
    if not reason:
        raise ValidationError("Say why the entry is reversed.", field="reason")
    _check_reversible(entry)
    legs = [Leg(line.account.code, line.credit - line.debit, f"Reversal: {line.memo}"[:200], line.channel_id,
                line.warehouse_id, line.sku_id, line.order_id, line.qty) for line in entry.lines]
    reversal = post_entry(legs, kind="reversal", source_type=entry.source_type, source_id=entry.source_id,
                          memo=f"Reversal of entry {entry.id}: {reason}", user_id=user_id, move_id=entry.move_id,
                          reverses=entry, reason=reason)
    _undo_document(entry)
    db.session.commit()
    return reversal


def reversal_refusal(entry: JournalEntry) -> str | None:
    """Why an entry cannot be reversed, or None when it can."""
    if entry.kind in UNREVERSIBLE:
        return UNREVERSIBLE[entry.kind]
    if db.session.scalar(select(JournalEntry.id).where(JournalEntry.reverses_id == entry.id)):
        return f"Entry {entry.id} is already reversed."
    if any(line.account.code == Acct.INVENTORY for line in entry.lines):
        return "Inventory postings follow the stock ledger; correct the stock (an adjustment) instead."
    return None


def _check_reversible(entry: JournalEntry) -> None:
    refusal = reversal_refusal(entry)
    if refusal:
        raise Conflict(refusal)


def _undo_document(entry: JournalEntry) -> None:
    """The document behind a reversed posting no longer counts: a payment, a supplier invoice, a refund payout."""
    now = utcnow()
    if entry.kind == "payment":
        for payment in db.session.scalars(select(Payment).where(Payment.entry_id == entry.id)):
            payment.reversed_at = now
    elif entry.kind == "supplier_invoice":
        for bill in db.session.scalars(select(SupplierInvoice).where(SupplierInvoice.entry_id == entry.id)):
            bill.reversed_at = now
    elif entry.kind == "refund_payment":
        for note in db.session.scalars(select(CreditNote).where(CreditNote.refund_entry_id == entry.id)):
            note.refunded_at, note.refund_reference = None, ""


# --- the journal never changes ------------------------------------------------------------------------------

def _refuse_changes_to_the_journal(session: Session, flush_context, instances) -> None:
    for obj in session.deleted:
        if isinstance(obj, (JournalEntry, JournalLine)):
            raise DomainError("Journal entries are never deleted; reverse them instead.")
    for obj in session.dirty:
        if isinstance(obj, (JournalEntry, JournalLine)) and session.is_modified(obj, include_collections=False):
            raise DomainError("Journal entries are never changed; reverse them instead.")


def register_finance() -> None:
    """Value every stock move and keep the journal immutable, from the moment the app starts."""
    from app.services import valuation
    valuation.register_valuation()
    if not event.contains(Session, "before_flush", _refuse_changes_to_the_journal):
        event.listen(Session, "before_flush", _refuse_changes_to_the_journal)
        event.listen(Session, "after_rollback", _forget_cached_chart)
        event.listen(Session, "after_commit", _forget_checked_periods)


# --- vendor claims: the supplier's credit ---------------------------------------------------------------------

VENDOR_CLAIM_SOURCE = "vendor_claim"


def vendor_claim_receivable(claim_number: str) -> Decimal:
    """What the books hold against the supplier for one vendor claim: the cost its units went back at, less credits."""
    accounts = ensure_chart()
    return from_minor(db.session.scalar(
        select(minor_sum(JournalLine.debit) - minor_sum(JournalLine.credit)).join(JournalEntry)
        .where(JournalLine.account_id == accounts[Acct.SUPPLIER_CLAIMS],
               JournalEntry.source_type == VENDOR_CLAIM_SOURCE, JournalEntry.source_id == claim_number)))


def post_vendor_claim_credit(claim_number: str, *, credited: Decimal, supplier_name: str, reference: str,
                             user_id: int | None = None, **dims) -> JournalEntry | None:
    """Post a supplier's settlement of a vendor claim in the caller's transaction (one entry); never commits.

    Dr Accounts payable with the credit (it offsets the supplier's bills), Cr Supplier claims receivable with
    what the units went back at; a shortfall (a refused or part-credited claim) is written off (Dr Stock
    write-offs, carrying the order the goods came back on), a credit above that cost is price variance (Cr).
    `dims` (sku_id, warehouse_id, order_id, channel_id, qty) go on the claim, write-off and variance lines.
    """
    receivable = vendor_claim_receivable(claim_number)
    shortfall = receivable - credited
    label = f"{claim_number} ({supplier_name} {reference})".strip()
    return post_entry([debit(Acct.PAYABLE, credited, f"Credit from {supplier_name} for {claim_number}"),
                       debit(Acct.WRITE_OFFS, max(shortfall, ZERO), f"Not credited on {label}", **dims),
                       credit(Acct.PRICE_VARIANCE, max(-shortfall, ZERO), f"Credited above cost on {label}", **dims),
                       credit(Acct.SUPPLIER_CLAIMS, receivable, f"Settled {label}", **dims)],
                      kind="vendor_claim_credit", source_type=VENDOR_CLAIM_SOURCE, source_id=claim_number,
                      memo=f"Vendor claim {label} settled: {credited} credited", user_id=user_id)
