"""Every flow's postings: receipts, shipments and their invoices, payments, returns, adjustments,
write-offs, transfers, credit notes and supplier invoices; each balances and keeps the valuation true."""
from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.domain.errors import Conflict, DomainError, ValidationError
from app.domain.inventory import Cause, Outside, Reason, Status
from app.domain.orders import ShipmentStatus
from app.extensions import db as _db
from app.models.finance import Invoice, JournalEntry, JournalLine
from app.models.types import utcnow
from app.services import finance, inventory, ledger, orders
from app.services.finance import Acct, RefundLine
from app.services.finance_reports import account_balances, trial_balance
from app.services.ledger import Place
from app.services.valuation import valuation_problems
from tests.factories import order_draft

D = Decimal


# --- helpers other finance tests use -------------------------------------------------------------------------

def receive(world, sku: str, bin_code: str, qty: int, cost: str | None = None, *, cause=("purchase_order", "PO-1"),
            status: Status = Status.AVAILABLE):
    ledger.post_move(world.skus[sku].id, qty, Place(ledger.outside(Outside.SUPPLIER)), Place(world.bins[bin_code], status),
                     reason=Reason.RECEIPT, cause=Cause(*cause), unit_cost=D(cost) if cost else None)
    _db.session.commit()


def place_order(world, external_id: str, items, channel: str = "WEB", **overrides):
    draft_lines = overrides.pop("lines", None)
    draft = order_draft(external_id, items, **overrides)
    if draft_lines:
        draft = dataclasses.replace(draft, lines=draft_lines)
    return orders.capture_order(channel, draft, source="api").order


def ship(shipment) -> None:
    """Pick every reserved unit, send it to the customer and move the shipment to shipped."""
    cause = Cause("shipment", shipment.number)
    customer = Place(ledger.outside(Outside.CUSTOMER))
    for line in shipment.lines:
        for bin_ in line.bins:
            left = bin_.qty - bin_.qty_picked
            if left:
                ledger.post_move(line.sku_id, left, Place(bin_.location, Status.ALLOCATED),
                                 Place(bin_.location, Status.PICKED), reason=Reason.PICK, cause=cause)
                bin_.qty_picked += left
                ledger.post_move(line.sku_id, left, Place(bin_.location, Status.PICKED), customer,
                                 reason=Reason.SHIP, cause=cause)
        line.qty_picked = line.qty
        line.order_line.qty_shipped += line.qty
        line.order_line.qty_allocated -= line.qty
    for status in (ShipmentStatus.RELEASED, ShipmentStatus.PICKING, ShipmentStatus.PICKED, ShipmentStatus.PACKED):
        orders.move_shipment(shipment, status)
    shipment.shipped_at = utcnow()
    orders.move_shipment(shipment, ShipmentStatus.SHIPPED)
    _db.session.commit()


def return_to_stock(world, order, sku: str, qty: int, bin_code: str = "E0-1", **kwargs):
    ledger.post_move(world.skus[sku].id, qty, Place(ledger.outside(Outside.CUSTOMER)),
                     Place(world.bins[bin_code], Status.RETURNED), reason=Reason.RETURN,
                     cause=Cause("order", order.number), **kwargs)
    _db.session.commit()


def books_are_sound() -> None:
    balance = trial_balance()
    assert balance.balanced, (balance.total_debit, balance.total_credit)
    assert valuation_problems() == []
    for entry in _db.session.scalars(select(JournalEntry)):
        assert sum(l.debit for l in entry.lines) == sum(l.credit for l in entry.lines), entry.id


def balances(*codes: str) -> dict[str, Decimal]:
    return account_balances(list(codes))


# --- receipts and FIFO -----------------------------------------------------------------------------------------

def test_a_receipt_puts_stock_on_the_books_at_the_cost_the_purchase_order_gives(world):
    receive(world, "MUG", "E0-1", 10, "2.5000")
    assert balances(Acct.INVENTORY, Acct.GRNI) == {Acct.INVENTORY: D("25.00"), Acct.GRNI: D("-25.00")}
    entry = _db.session.scalar(select(JournalEntry).where(JournalEntry.kind == "receipt"))
    assert (entry.source_type, entry.source_id) == ("purchase_order", "PO-1")
    books_are_sound()


def test_a_receipt_without_a_cost_is_valued_at_the_skus_standard_cost(world):
    receive(world, "CAP", "E0-1", 3)
    assert balances(Acct.INVENTORY)[Acct.INVENTORY] == D("12.00")  # the factory's standard cost is 4.0000


def test_opening_stock_is_owned_by_opening_balance_equity_not_by_a_supplier(world):
    receive(world, "MUG", "E0-1", 4, "1.2500", cause=("opening_balance", "demo"))
    assert balances(Acct.INVENTORY, Acct.OPENING_EQUITY, Acct.GRNI) == {
        Acct.INVENTORY: D("5.00"), Acct.OPENING_EQUITY: D("-5.00"), Acct.GRNI: D("0.00")}


def test_shipping_takes_cost_from_the_oldest_layers_first(world):
    receive(world, "MUG", "E0-1", 5, "2.0000")
    receive(world, "MUG", "E0-1", 5, "3.0000", cause=("purchase_order", "PO-2"))
    order = place_order(world, "A1", [("MUG", 7)])
    ship(order.shipments[0])
    assert balances(Acct.COGS, Acct.INVENTORY) == {Acct.COGS: D("16.00"), Acct.INVENTORY: D("9.00")}
    books_are_sound()


def test_fractional_costs_never_leave_a_cent_behind(world):
    receive(world, "MUG", "E0-1", 3, "0.3333")  # worth 1.00 once rounded to the cent
    order = place_order(world, "A2", [("MUG", 1)])
    ship(order.shipments[0])
    second = place_order(world, "A3", [("MUG", 2)])
    ship(second.shipments[0])
    assert balances(Acct.INVENTORY, Acct.COGS) == {Acct.INVENTORY: D("0.00"), Acct.COGS: D("1.00")}
    books_are_sound()


# --- shipments, invoices and payments --------------------------------------------------------------------------

def test_a_shipped_order_is_invoiced_with_revenue_tax_and_its_captured_payment(world):
    receive(world, "MUG", "E0-1", 10, "4.0000")
    order = place_order(world, "B1", [("MUG", 2)], price="12.00", shipping=D("3.50"), total=D("27.50"))
    ship(order.shipments[0])
    invoice = _db.session.scalar(select(Invoice))
    assert invoice.number == "INV-000001" and invoice.total == D("27.50") and invoice.shipment_id == order.shipments[0].id
    assert balances(Acct.SALES, Acct.SHIPPING_INCOME, Acct.RECEIVABLE, Acct.CASH, Acct.COGS) == {
        Acct.SALES: D("-24.00"), Acct.SHIPPING_INCOME: D("-3.50"), Acct.RECEIVABLE: D("0.00"), Acct.CASH: D("27.50"),
        Acct.COGS: D("8.00")}
    books_are_sound()


def test_sales_lines_and_cost_of_goods_carry_the_order_channel_sku_and_warehouse(world):
    receive(world, "MUG", "E0-1", 10, "4.0000")
    order = place_order(world, "B2", [("MUG", 1)])
    ship(order.shipments[0])
    for code in (Acct.SALES, Acct.COGS):
        line = _db.session.scalar(select(JournalLine).join(JournalLine.account).where(JournalLine.account.has(code=code)))
        assert (line.order_id, line.channel_id, line.sku_id, line.warehouse_id) == (
            order.id, order.channel_id, world.skus["MUG"].id, world.warehouses["EAST"].id)


def test_split_shipments_add_up_to_the_order_total_to_the_cent_with_shipping_on_the_first(world):
    receive(world, "MUG", "E0-1", 1, "4.0000")
    receive(world, "MUG", "W0-1", 2, "4.0000")
    from app.domain.capture import LineDraft
    order = place_order(world, "B3", [("MUG", 3)], price="3.33", shipping=D("4.99"), order_discount=D("1.00"),
                        lines=(LineDraft("MUG", 3, D("3.33"), tax=D("2.00")),), total=D("15.98"))
    assert len(order.shipments) == 2
    for shipment in order.shipments:
        ship(shipment)
    invoices = list(_db.session.scalars(select(Invoice).order_by(Invoice.sequence)))
    assert [i.number for i in invoices] == ["INV-000001", "INV-000002"]
    assert sum(i.total for i in invoices) == order.total == D("15.98")
    assert invoices[0].shipping_net == D("4.99") and invoices[1].shipping_net == 0
    books_are_sound()


def test_prices_that_include_tax_post_revenue_net_of_that_tax(world):
    from app.domain.capture import LineDraft
    receive(world, "MUG", "E0-1", 5, "4.0000")
    order = place_order(world, "B4", [("MUG", 1)], prices_include_tax=True, shipping=D("6.00"), shipping_tax=D("1.00"),
                        lines=(LineDraft("MUG", 1, D("12.00"), tax=D("2.00")),), total=D("18.00"))
    ship(order.shipments[0])
    assert balances(Acct.SALES, Acct.SHIPPING_INCOME, Acct.VAT, Acct.CASH) == {
        Acct.SALES: D("-10.00"), Acct.SHIPPING_INCOME: D("-5.00"), Acct.VAT: D("-3.00"), Acct.CASH: D("18.00")}


def test_an_unpaid_order_stays_receivable_until_a_payment_is_recorded(world):
    receive(world, "MUG", "E0-1", 5, "4.0000")
    order = place_order(world, "C1", [("MUG", 2)], payment_captured=False)
    orders.release_order_holds(order.id, user_id=None)
    ship(order.shipments[0])
    assert finance.order_receivable(order.id) == D("20.00")
    with pytest.raises(ValidationError, match="overpay"):
        finance.record_payment(order.id, D("20.01"), "BANK-1")
    finance.record_payment(order.id, D("15.00"), "BANK-1")
    with pytest.raises(Conflict):
        finance.record_payment(order.id, D("5.00"), "BANK-1")
    finance.record_payment(order.id, D("5.00"), "BANK-2")
    assert finance.order_receivable(order.id) == 0 and balances(Acct.CASH)[Acct.CASH] == D("20.00")
    books_are_sound()


def test_a_payment_amount_must_be_whole_cents_and_positive(world):
    receive(world, "MUG", "E0-1", 5)
    order = place_order(world, "C2", [("MUG", 1)], payment_captured=False)
    orders.release_order_holds(order.id, user_id=None)
    ship(order.shipments[0])
    for bad in (D("0"), D("-1"), D("1.005"), D("NaN"), 1.5):
        with pytest.raises(ValidationError):
            finance.record_payment(order.id, bad, "X")
    assert _db.session.scalar(select(JournalEntry).where(JournalEntry.kind == "payment")) is None


def test_invoicing_a_shipment_twice_issues_one_invoice(world):
    receive(world, "MUG", "E0-1", 5)
    order = place_order(world, "C3", [("MUG", 1)])
    ship(order.shipments[0])
    with pytest.raises(Conflict):
        finance.invoice_shipment(order.shipments[0].id)  # already invoiced: nothing left
    assert finance.issue_invoice(order.shipments[0]).number == "INV-000001"


# --- returns, adjustments, write-offs, transfers ------------------------------------------------------------------

def test_a_customer_return_restores_the_cost_the_order_shipped_at(world):
    receive(world, "MUG", "E0-1", 2, "2.0000")
    receive(world, "MUG", "E0-1", 2, "6.0000", cause=("purchase_order", "PO-2"))
    order = place_order(world, "D1", [("MUG", 3)])
    ship(order.shipments[0])  # 2 × 2.00 + 1 × 6.00
    return_to_stock(world, order, "MUG", 1)
    assert balances(Acct.COGS)[Acct.COGS] == D("6.67")  # 10.00 less a third of it
    returned = _db.session.scalar(select(JournalEntry).where(JournalEntry.kind == "customer_return"))
    assert returned.lines[0].order_id == order.id
    books_are_sound()


def test_a_return_with_a_known_cost_uses_it(world):
    receive(world, "MUG", "E0-1", 2, "2.0000")
    order = place_order(world, "D2", [("MUG", 1)])
    ship(order.shipments[0])
    return_to_stock(world, order, "MUG", 1, unit_cost=D("1.5000"))
    assert balances(Acct.COGS)[Acct.COGS] == D("0.50")


def test_adjustments_post_shrinkage_and_gains_and_scrap_posts_a_write_off(world):
    receive(world, "MUG", "E0-1", 10, "3.0000")
    inventory.adjust_stock(world.skus["MUG"].id, world.bins["E0-1"].id, -2, reason_code="theft_or_loss", user_id=None)
    inventory.adjust_stock(world.skus["MUG"].id, world.bins["E0-1"].id, 1, reason_code="found", user_id=None)
    ledger.post_move(world.skus["MUG"].id, 3, Place(world.bins["E0-1"], Status.AVAILABLE),
                     Place(ledger.outside(Outside.SCRAP)), reason=Reason.SCRAP, cause=Cause("rma", "RMA-9"))
    _db.session.commit()
    assert balances(Acct.ADJUSTMENTS, Acct.WRITE_OFFS, Acct.INVENTORY) == {
        Acct.ADJUSTMENTS: D("3.00"), Acct.WRITE_OFFS: D("9.00"), Acct.INVENTORY: D("18.00")}
    books_are_sound()


def test_status_changes_and_bin_moves_post_nothing(world):
    receive(world, "MUG", "E0-1", 6, "3.0000")
    before = _db.session.query(JournalEntry).count()
    inventory.change_stock_status(world.skus["MUG"].id, world.bins["E0-1"].id, 2, "available", "quarantined",
                                  cause=Cause("count", 1), user_id=None)
    inventory.transfer_stock(world.skus["MUG"].id, world.bins["E0-1"].id, world.bins["E0-2"].id, 2, user_id=None)
    assert _db.session.query(JournalEntry).count() == before
    books_are_sound()


def test_units_moving_to_another_warehouse_take_their_cost_with_them(world):
    receive(world, "MUG", "E0-1", 4, "2.0000")
    receive(world, "MUG", "E0-1", 4, "5.0000", cause=("purchase_order", "PO-2"))
    transit = Place(ledger.outside(Outside.TRANSIT), Status.IN_TRANSIT)
    ledger.post_move(world.skus["MUG"].id, 5, Place(world.bins["E0-1"], Status.AVAILABLE), transit,
                     reason=Reason.TRANSFER, cause=Cause("transfer", "T-1"))
    _db.session.commit()
    books_are_sound()
    ledger.post_move(world.skus["MUG"].id, 5, transit, Place(world.bins["W0-1"], Status.AVAILABLE),
                     reason=Reason.TRANSFER, cause=Cause("transfer", "T-1"))
    _db.session.commit()
    from app.services.finance_reports import valuation_by_warehouse
    by_code = {row.code: row.total_value for row in valuation_by_warehouse()}
    assert by_code == {"EAST": D("15.00"), "WEST": D("13.00")}  # WEST got the 4 oldest at 2.00 and one at 5.00
    books_are_sound()


# --- credit notes and refunds ---------------------------------------------------------------------------------

def _shipped_order(world, external_id="E1", qty=2, **overrides):
    receive(world, "MUG", "E0-1", 10, "4.0000")
    order = place_order(world, external_id, [("MUG", qty)], **overrides)
    if order.status == "on_hold":
        orders.release_order_holds(order.id, user_id=None)
    ship(order.shipments[0])
    return order


def test_a_refund_of_a_paid_order_waits_as_refunds_payable_until_paid_out(world):
    order = _shipped_order(world)
    line = order.lines[0]
    note = finance.issue_credit_note(order.id, reference="RMA-1", lines=[RefundLine(line.id, 1)], restocking_fee=D("1.50"))
    assert note.number == "CN-000001" and note.total == D("8.50") and note.refund_pending
    assert balances(Acct.RETURNS, Acct.RESTOCKING_FEES, Acct.REFUNDS_PAYABLE) == {
        Acct.RETURNS: D("10.00"), Acct.RESTOCKING_FEES: D("-1.50"), Acct.REFUNDS_PAYABLE: D("-8.50")}
    finance.pay_refund(note.id, reference="BACS-77")
    assert balances(Acct.REFUNDS_PAYABLE, Acct.CASH) == {Acct.REFUNDS_PAYABLE: D("0.00"), Acct.CASH: D("11.50")}
    books_are_sound()


def test_a_credit_note_for_an_unpaid_order_reduces_what_the_customer_owes(world):
    order = _shipped_order(world, "E2", payment_captured=False)
    note = finance.issue_credit_note(order.id, reference="RMA-2", lines=[RefundLine(order.lines[0].id, 1)])
    assert note.applied_to_receivable == D("10.00") and note.refund_due == 0
    assert finance.order_receivable(order.id) == D("10.00")


def test_the_same_refund_reference_twice_issues_one_credit_note(world):
    order = _shipped_order(world, "E3")
    first = finance.post_refund(order.id, reference="shopify-refund-1", lines=[RefundLine(order.lines[0].id, 1)])
    again = finance.post_refund(order.id, reference="shopify-refund-1", lines=[RefundLine(order.lines[0].id, 1)])
    assert first.id == again.id and not first.refund_pending and balances(Acct.CASH)[Acct.CASH] == D("10.00")


def test_more_units_than_were_invoiced_cannot_be_credited(world):
    order = _shipped_order(world, "E4", qty=1)
    with pytest.raises(ValidationError):
        finance.issue_credit_note(order.id, reference="RMA-4", lines=[RefundLine(order.lines[0].id, 2)])
    finance.issue_credit_note(order.id, reference="RMA-4", lines=[RefundLine(order.lines[0].id, 1)])
    with pytest.raises(ValidationError):
        finance.issue_credit_note(order.id, reference="RMA-5", lines=[RefundLine(order.lines[0].id, 1)])


# --- supplier invoices ------------------------------------------------------------------------------------------

def test_a_supplier_invoice_clears_goods_received_and_posts_the_price_difference(world):
    from app.models import Supplier
    supplier = Supplier(code="ACME", name="Acme")
    _db.session.add(supplier)
    _db.session.commit()
    receive(world, "MUG", "E0-1", 10, "2.0000")
    bill = finance.record_supplier_invoice(receipt_type="purchase_order", receipt_ref="PO-1", supplier_id=supplier.id,
                                           reference="ACME-991", amount=D("21.50"), tax=D("4.30"))
    assert (bill.grni_cleared, bill.variance, bill.total) == (D("20.00"), D("1.50"), D("25.80"))
    assert balances(Acct.GRNI, Acct.PAYABLE, Acct.PRICE_VARIANCE, Acct.VAT) == {
        Acct.GRNI: D("0.00"), Acct.PAYABLE: D("-25.80"), Acct.PRICE_VARIANCE: D("1.50"), Acct.VAT: D("4.30")}
    with pytest.raises(Conflict):
        finance.record_supplier_invoice(receipt_type="purchase_order", receipt_ref="PO-1", supplier_id=supplier.id,
                                        reference="ACME-992", amount=D("1.00"))
    books_are_sound()


# --- the journal's own rules ----------------------------------------------------------------------------------

def test_an_entry_that_does_not_balance_or_is_not_in_cents_is_refused(world):
    with pytest.raises(DomainError, match="does not balance"):
        finance.post_entry([finance.debit(Acct.CASH, D("1.00")), finance.credit(Acct.SALES, D("0.99"))],
                           kind="manual", source_type="test", source_id=1, memo="x")
    with pytest.raises(DomainError, match="cents"):
        finance.post_entry([finance.debit(Acct.CASH, D("1.001")), finance.credit(Acct.SALES, D("1.001"))],
                           kind="manual", source_type="test", source_id=1, memo="x")


def test_posted_entries_cannot_be_changed_or_deleted(world):
    receive(world, "MUG", "E0-1", 1, "2.0000")
    line = _db.session.scalar(select(JournalLine))
    line.debit = D("3.00")
    with pytest.raises(DomainError, match="never changed"):
        _db.session.flush()
    _db.session.rollback()
    _db.session.delete(_db.session.scalar(select(JournalEntry)))
    with pytest.raises(DomainError, match="never deleted"):
        _db.session.flush()
    _db.session.rollback()


def test_a_payment_is_corrected_by_a_reversing_entry_that_leaves_the_original(world):
    order = _shipped_order(world, "F1", payment_captured=False)
    payment = finance.record_payment(order.id, D("20.00"), "BANK-9")
    reversal = finance.reverse_entry(payment.entry_id, reason="bounced")
    assert reversal.reverses_id == payment.entry_id and payment.reversed_at is not None
    assert finance.order_receivable(order.id) == D("20.00")
    with pytest.raises(Conflict, match="already reversed"):
        finance.reverse_entry(payment.entry_id, reason="again")
    books_are_sound()


def test_inventory_and_invoice_postings_cannot_be_reversed_by_hand(world):
    order = _shipped_order(world, "F2")
    invoice = _db.session.scalar(select(Invoice))
    with pytest.raises(Conflict, match="credit note"):
        finance.reverse_entry(invoice.entry_id, reason="wrong")
    cogs = _db.session.scalar(select(JournalEntry).where(JournalEntry.kind == "shipment"))
    with pytest.raises(Conflict, match="stock"):
        finance.reverse_entry(cogs.id, reason="wrong")
    with pytest.raises(ValidationError):
        finance.reverse_entry(cogs.id, reason=" ")


def test_a_closed_month_refuses_every_posting_dated_in_it(world):
    last_month = (finance.today().replace(day=1) - timedelta(days=1))
    finance.close_period(finance.period_of(last_month), user_id=None)
    with pytest.raises(DomainError, match="closed"):
        finance.post_entry([finance.debit(Acct.CASH, D("1.00")), finance.credit(Acct.SALES, D("1.00"))],
                           kind="manual", source_type="test", source_id=1, memo="x", entry_date=last_month)
    order = _shipped_order(world, "G1", payment_captured=False)
    with pytest.raises(DomainError, match="closed"):
        finance.record_payment(order.id, D("5.00"), "LATE-1", received_on=last_month)
    assert finance.order_receivable(order.id) == D("20.00")


def test_months_close_in_order_and_only_once_they_are_over(world):
    this_month = finance.period_of(finance.today())
    with pytest.raises(Conflict, match="not ended"):
        finance.close_period(this_month, user_id=None)
    first_of_month = finance.today().replace(day=1)
    two_months_ago = (first_of_month - timedelta(days=1)).replace(day=1) - timedelta(days=1)
    finance.post_entry([finance.debit(Acct.CASH, D("1.00")), finance.credit(Acct.OPENING_EQUITY, D("1.00"))],
                       kind="manual", source_type="test", source_id=1, memo="x", entry_date=two_months_ago)
    _db.session.commit()
    with pytest.raises(Conflict, match="first"):
        finance.close_period(finance.period_of(first_of_month - timedelta(days=1)), user_id=None)
    finance.close_period(finance.period_of(two_months_ago), user_id=None)
    with pytest.raises(Conflict, match="already"):
        finance.close_period(finance.period_of(two_months_ago), user_id=None)
    with pytest.raises(ValidationError):
        finance.close_period("2026-13", user_id=None)


def test_a_failed_transaction_gives_its_invoice_number_back(world):
    receive(world, "MUG", "E0-1", 5)
    first = place_order(world, "H1", [("MUG", 1)])
    ship(first.shipments[0])
    second = place_order(world, "H2", [("MUG", 1)])
    finance.issue_invoice(second.shipments[0])  # not shipped yet, but the number is taken in this transaction
    _db.session.rollback()
    third = place_order(world, "H3", [("MUG", 1)])
    ship(third.shipments[0])
    assert [i.number for i in _db.session.scalars(select(Invoice).order_by(Invoice.sequence))] == ["INV-000001", "INV-000002"]


def test_the_trial_balance_lists_every_account_and_balances(world):
    _shipped_order(world, "I1")
    balance = trial_balance()
    assert len(balance.rows) == len(finance.CHART) and balance.balanced and balance.total_debit > 0
    assert trial_balance(date(2000, 1, 1)).total_debit == 0


def test_an_orders_margin_counts_refunds_returned_cost_and_write_offs_of_returned_goods(world):
    from app.services.finance_reports import order_margin
    receive(world, "MUG", "E0-1", 10, "4.0000")
    order = place_order(world, "M1", [("MUG", 3)], shipping=D("3.00"), total=D("33.00"))
    ship(order.shipments[0])
    return_to_stock(world, order, "MUG", 1)  # back at the 4.00 it shipped at
    ledger.post_move(world.skus["MUG"].id, 1, Place(world.bins["E0-1"], Status.RETURNED),
                     Place(ledger.outside(Outside.SCRAP)), reason=Reason.SCRAP, cause=Cause("order", order.number))
    _db.session.commit()
    finance.issue_credit_note(order.id, reference="RMA-M1", lines=[RefundLine(order.lines[0].id, 1)])
    margin = order_margin(order.id)
    assert (margin.net_revenue, margin.cogs, margin.written_off) == (D("23.00"), D("8.00"), D("4.00"))
    assert margin.handling == D("1.20") and margin.contribution == D("9.80")
    books_are_sound()


def test_the_nightly_books_check_reports_a_sound_journal_and_names_a_broken_valuation(app, world):
    from app.jobs import check_books_job
    from app.models.finance import CostLayer
    receive(world, "MUG", "E0-1", 3, "2.0000")
    assert "balances" in check_books_job(app)
    _db.session.execute(CostLayer.__table__.update().values(value_remaining=D("1.00")))  # damage the layers
    _db.session.commit()
    assert "inventory account is 6.00 but the cost layers are worth 1.00" in check_books_job(app)
