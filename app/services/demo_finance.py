"""Demo finance: the books for the history the other seeders wrote.

Every stock move and shipment the earlier seeders made was valued and posted as it happened, through
the same observer and event subscribers as live use. Those seeders drive the real services today and
then stamp their documents with past dates; this seeder gives the postings the same dates (the stock
move's time, the shipment's ship date, the refund's issue date), dates the opening stock the day
before the first order, records bank payments for most orders that were not paid up front, matches
supplier invoices to most receipts (a few dearer than received), and closes the months before last.
"""
from __future__ import annotations

import random
from datetime import datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import bindparam, func, select, update

from app.extensions import db
from app.models import StockMove
from app.models.finance import CostLayer, CreditNote, Invoice, JournalEntry, Payment
from app.models.orders import Order, Shipment
from app.models.types import utcnow
from app.services import finance
from app.services.demo import demo_seeder
from app.services.finance_reports import open_receipts, trial_balance, unpaid_orders
from app.services.settings import set_setting
from app.services.valuation import layer_value, valuation_problems

SELLER = {
    "finance.seller_name": "Harbour & Pine Ltd",
    "finance.seller_address": "Unit 4, Distribution Park\nPark Royal, London NW10 7NZ\nUnited Kingdom",
    "finance.seller_vat_number": "GB 284 7731 09",
    "finance.seller_company_number": "11234567",
    "finance.seller_email": "accounts@harbourandpine.example",
    "finance.payment_terms": "Payment due within 30 days of the invoice date.",
}
PAID_BY_TRANSFER = 0.7
SUPPLIER_INVOICED = 0.8
ENTRIES, LAYERS, INVOICES, PAYMENTS, NOTES = (JournalEntry.__table__, CostLayer.__table__, Invoice.__table__,
                                              Payment.__table__, CreditNote.__table__)


@demo_seeder(60)
def seed_finance(rng: random.Random, *, orders: int) -> str:
    """Date the postings with their documents, pay most open invoices, match supplier invoices, close old months."""
    for key, value in SELLER.items():
        set_setting(key, value)
    caught_up = _invoice_stragglers()
    opening = _date_history()
    paid = _bank_payments(rng)
    matched = _supplier_invoices(rng)
    closed = _close_old_months()
    balance = trial_balance()
    problems = valuation_problems()
    return (f"books from {opening:%d %b %Y}: {caught_up} late invoices, {paid} bank payments, {matched} supplier "
            f"invoices, {closed} months closed; trial balance {'balances' if balance.balanced else 'DOES NOT BALANCE'} "
            f"at {balance.total_debit}, stock {layer_value()} {'equals' if not problems else 'DIFFERS FROM'} the "
            f"inventory account")


def _invoice_stragglers() -> int:
    """Shipments that left before finance listened (none, when the seeders run in order) get their invoices."""
    shipped = db.session.scalars(select(Shipment).where(Shipment.status == "shipped", ~Shipment.id.in_(
        select(Invoice.shipment_id).where(Invoice.shipment_id.is_not(None)))))
    count = sum(1 for shipment in shipped if finance.issue_invoice(shipment) is not None)
    db.session.commit()
    return count


# --- dating the postings with the history ----------------------------------------------------------------------

def _date_history() -> datetime:
    """Give each posting the date of what caused it; returns the opening moment."""
    first_order = db.session.scalar(select(func.min(Order.placed_at))) or utcnow()
    opening = datetime.combine(first_order.date() - timedelta(days=1), time(8, 0), tzinfo=first_order.tzinfo)
    dates: dict[int, datetime] = {}
    for entry_id, kind, moved_at in db.session.execute(
            select(JournalEntry.id, JournalEntry.kind, StockMove.created_at)
            .join(StockMove, StockMove.id == JournalEntry.move_id)):
        dates[entry_id] = opening if kind == "opening_balance" else moved_at
    dates.update(_document_dates())
    _stamp_entries(dates)
    _stamp_layers(opening)
    db.session.commit()
    return opening


def _document_dates() -> dict[int, datetime]:
    """Invoices and their channel payments on the ship date; credit notes and refunds when the return said."""
    dates: dict[int, datetime] = {}
    invoice_rows = db.session.execute(select(Invoice.id, Invoice.number, Invoice.entry_id, Shipment.shipped_at)
                                      .join(Shipment, Shipment.id == Invoice.shipment_id)
                                      .where(Shipment.shipped_at.is_not(None))).all()
    shipped_by_number = {number: shipped_at for _id, number, _entry, shipped_at in invoice_rows}
    _bulk(INVOICES, [{"key": i, "issued_at": at, "issue_date": finance.local_date(at)} for i, _n, _e, at in invoice_rows])
    dates.update({entry_id: at for _i, _n, entry_id, at in invoice_rows if entry_id})
    payments = []
    for payment_id, entry_id, reference in db.session.execute(
            select(Payment.id, Payment.entry_id, Payment.reference).where(Payment.method == "channel")):
        at = shipped_by_number.get(reference.rsplit(": ", 1)[-1])
        if at is not None:
            payments.append({"key": payment_id, "received_at": at, "received_date": finance.local_date(at)})
            dates[entry_id] = at
    _bulk(PAYMENTS, payments)
    dates.update(_refund_dates())
    return dates


def _refund_dates() -> dict[int, datetime]:
    from app.models.returns import Refund
    dates, notes = {}, []
    for note_id, entry_id, refund_entry_id, issued_at, paid_at in db.session.execute(
            select(CreditNote.id, CreditNote.entry_id, CreditNote.refund_entry_id, Refund.issued_at, Refund.paid_at)
            .join(Refund, Refund.number == CreditNote.reference).where(Refund.issued_at.is_not(None))):
        notes.append({"key": note_id, "issued_at": issued_at, "issue_date": finance.local_date(issued_at)})
        dates[entry_id] = issued_at
        if refund_entry_id:
            dates[refund_entry_id] = paid_at or issued_at
    _bulk(NOTES, notes)
    refunded = [{"key": note_id, "refunded_at": paid_at} for note_id, paid_at in db.session.execute(
        select(CreditNote.id, Refund.paid_at).join(Refund, Refund.number == CreditNote.reference)
        .where(CreditNote.refunded_at.is_not(None), Refund.paid_at.is_not(None)))]
    _bulk(NOTES, refunded)
    return dates


def _stamp_entries(dates: dict[int, datetime]) -> None:
    """The journal is immutable to the application; a seeder writing history stamps its dates directly."""
    rows = []
    for entry_id, moment in dates.items():
        day = finance.local_date(min(moment, utcnow()))
        rows.append({"key": entry_id, "entry_date": day, "period": finance.period_of(day), "posted_at": moment})
    _bulk(ENTRIES, rows)


def _stamp_layers(opening: datetime) -> None:
    received = [{"key": layer_id, "received_at": opening if source == "opening_balance" else moved_at}
                for layer_id, source, moved_at in db.session.execute(
                    select(CostLayer.id, CostLayer.source_type, StockMove.created_at)
                    .join(StockMove, StockMove.id == CostLayer.move_id).where(CostLayer.origin_layer_id.is_(None)))]
    _bulk(LAYERS, received)


def _bulk(table, rows: list[dict]) -> None:
    if rows:
        columns = {name: bindparam(name) for name in rows[0] if name != "key"}
        db.session.execute(update(table).where(table.c.id == bindparam("key")).values(**columns), rows)


# --- money in and bills in ----------------------------------------------------------------------------------------

def _bank_payments(rng: random.Random) -> int:
    """Most orders that were not paid up front are paid by transfer some days after their first invoice."""
    owed, number, paid = [], 1, 0
    while True:
        chunk = unpaid_orders(page=number, per_page=200)
        owed.extend(chunk.items)
        if not chunk.has_next:
            break
        number += 1
    today = finance.today()
    for row in owed:
        if rng.random() >= PAID_BY_TRANSFER:
            continue
        received_on = min(today, row["first_invoiced"] + timedelta(days=rng.randint(3, 26)))
        finance.record_payment(row["order"].id, row["owed"], f"BACS {rng.randint(100000, 999999)}",
                               received_on=received_on)
        paid += 1
    return paid


def _supplier_invoices(rng: random.Random) -> int:
    """Suppliers bill most receipts a few days after the goods arrive; one in ten a little dearer or cheaper."""
    from app.models.purchasing import PurchaseOrder
    today, matched = finance.today(), 0
    for receipt in open_receipts():
        if receipt["type"] != "purchase_order" or receipt["first_received"] > today - timedelta(days=5):
            continue
        if rng.random() >= SUPPLIER_INVOICED:
            continue
        po = db.session.scalar(select(PurchaseOrder).where(PurchaseOrder.number == receipt["ref"]))
        if po is None:
            continue
        amount = finance.cents(receipt["open"] * Decimal(rng.choice(["1", "1", "1", "1", "1", "1", "1", "1", "1.03", "0.98"])))
        tax = finance.cents(amount * Decimal("0.2")) if po.supplier.country == "GB" else Decimal("0")
        finance.record_supplier_invoice(po.id, reference=f"{po.supplier.code[:4]}-INV-{rng.randint(10000, 99999)}",
                                        amount=amount, tax=tax,
                                        invoice_date=min(today, receipt["first_received"] + timedelta(days=rng.randint(2, 9))))
        matched += 1
    return matched


def _close_old_months() -> int:
    """Every month before last is closed; last month is still being closed, as it would be late in a month."""
    first_of_month = finance.today().replace(day=1)
    last_to_close = finance.period_of((first_of_month - timedelta(days=1)).replace(day=1) - timedelta(days=1))
    months = list(db.session.scalars(select(JournalEntry.period).distinct().where(JournalEntry.period <= last_to_close)
                                     .order_by(JournalEntry.period)))
    for period in months:
        if not finance.period_is_closed(period):
            finance.close_period(period, user_id=None, note="Closed in the demo history")
    return len(months)
