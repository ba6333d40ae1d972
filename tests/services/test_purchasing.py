"""Purchase orders from draft to closed: approval, sending, shipment notices, receipts, quarantine, put-away,
closing short, cancelling, and receipts filling backorders; every unit through the ledger."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.domain.capture import Address, LineDraft, OrderDraft
from app.domain.errors import Conflict, InvalidTransition, NotFound, PermissionDenied, ValidationError
from app.domain.inventory import Cause, Status
from app.extensions import db as database
from app.models import Location, StockMove, Supplier
from app.models.purchasing import SupplierSku
from app.services import inventory, orders, purchasing
from app.services.approvals import decide_approval
from app.services.integrity import ledger_problems
from app.services.ledger import balance
from app.services.purchasing import LineInput, ReceiveInput


# --- helpers other purchasing tests share ------------------------------------------------------------------------

def make_supplier(code="ACME", *, currency="GBP", lead=10) -> Supplier:
    supplier = Supplier(code=code, name=f"{code.title()} Supplies", currency=currency, lead_time_days=lead,
                        email=f"orders@{code.lower()}.example")
    database.session.add(supplier)
    database.session.commit()
    return supplier


def offer(supplier, sku, cost="4.0000", *, pack=1, moq=0, lead=None, preferred=True) -> SupplierSku:
    row = SupplierSku(supplier_id=supplier.id, sku_id=sku.id, unit_cost=Decimal(cost), pack_size=pack, moq=moq,
                      lead_time_days=lead, preferred=preferred, supplier_code=f"{supplier.code}-{sku.code}")
    database.session.add(row)
    database.session.commit()
    return row


def draft_po(world, supplier, lines, warehouse="EAST", user=None):
    return purchasing.draft_purchase_order(
        supplier.id, world.warehouses[warehouse].id,
        [LineInput(world.skus[code].id, qty, Decimal(cost) if cost else None) for code, qty, cost in lines],
        user_id=user.id if user else None)


def sent_po(world, supplier, lines, warehouse="EAST", user=None):
    po = draft_po(world, supplier, lines, warehouse, user)
    return purchasing.send_purchase_order(po.id, user_id=user.id if user else None)


def dock(world, warehouse="EAST") -> Location:
    return purchasing.dock_location(world.warehouses[warehouse])


def on_dock(world, sku, status, warehouse="EAST") -> int:
    return balance(world.skus[sku].id, dock(world, warehouse).id, status)


def order_draft(external_id, lines, *, priority=1, placed_at) -> OrderDraft:
    return OrderDraft(external_id=external_id, number=f"#{external_id}", currency="GBP", placed_at=placed_at,
                      updated_at=None, customer_name="Ada", customer_email="ada@example.co.uk",
                      ship_to=Address(name="Ada", address1=f"{external_id} Mill Lane", city="Leeds", postcode="LS1 4AP",
                                      country="GB"),
                      billing_country=None, payment_captured=True,
                      lines=tuple(LineDraft(sku, qty, Decimal("10.00")) for sku, qty in lines),
                      shipping=Decimal("0"), shipping_tax=Decimal("0"), order_discount=Decimal("0"),
                      total=sum((Decimal("10.00") * qty for _, qty in lines), Decimal("0")), priority=priority)


# --- drafting ----------------------------------------------------------------------------------------------------

def test_a_draft_takes_the_agreed_cost_and_numbers_itself(world, make_user):
    buyer = make_user("procurement", "luis")
    supplier = make_supplier()
    offer(supplier, world.skus["MUG"], "2.5000", pack=6, moq=12)
    po = draft_po(world, supplier, [("MUG", 24, None), ("CAP", 5, "3.10")], user=buyer)
    assert po.number == f"PO-{po.id:06d}" and po.status == "draft" and po.created_by_id == buyer.id
    mug, cap = po.lines
    assert (mug.unit_cost, mug.agreed_unit_cost, mug.pack_size, mug.supplier_code) == (
        Decimal("2.5000"), Decimal("2.5000"), 6, "ACME-MUG")
    assert (cap.unit_cost, cap.agreed_unit_cost) == (Decimal("3.1000"), None)
    assert po.total == Decimal("75.50")  # 24 × 2.50 + 5 × 3.10
    assert po.expected_date == purchasing.local_today() + timedelta(days=10)


def test_a_draft_refuses_broken_packs_short_minimums_and_unknown_costs_naming_each_line(world):
    supplier = make_supplier()
    offer(supplier, world.skus["MUG"], pack=6, moq=12)
    offer(supplier, world.skus["TEE-M"], pack=1, moq=10)
    with pytest.raises(ValidationError) as raised:
        draft_po(world, supplier, [("MUG", 10, None), ("TEE-M", 4, None)])
    assert set(raised.value.errors) == {"lines[0].qty", "lines[1].qty"}
    assert "packs of 6" in raised.value.errors["lines[0].qty"]
    with pytest.raises(ValidationError) as raised:
        draft_po(world, supplier, [("CAP", 4, None)])
    assert "enter a unit cost" in raised.value.errors["lines[0].unit_cost"]
    assert purchasing.PurchaseOrder.query.count() == 0


def test_a_draft_refuses_an_unknown_or_inactive_supplier_or_warehouse_naming_the_field(world):
    supplier = make_supplier()
    offer(supplier, world.skus["MUG"])
    line = [LineInput(world.skus["MUG"].id, 1, None)]
    with pytest.raises(NotFound, match="No such supplier") as raised:
        purchasing.draft_purchase_order(999_999, world.warehouses["EAST"].id, line, user_id=None)
    assert raised.value.field == "supplier"
    with pytest.raises(NotFound, match="No such warehouse") as raised:
        purchasing.draft_purchase_order(supplier.id, "EAST", line, user_id=None)
    assert raised.value.field == "warehouse"
    world.warehouses["EAST"].active = False
    database.session.commit()
    with pytest.raises(ValidationError) as raised:
        purchasing.draft_purchase_order(supplier.id, world.warehouses["EAST"].id, line, user_id=None)
    assert raised.value.errors == {"warehouse": "Warehouse EAST is not active."}
    supplier.active = False
    database.session.commit()
    with pytest.raises(ValidationError) as raised:
        purchasing.draft_purchase_order(supplier.id, world.warehouses["WEST"].id, line, user_id=None)
    assert raised.value.errors == {"supplier": "Acme Supplies is not an active supplier."}
    assert purchasing.PurchaseOrder.query.count() == 0


def test_the_same_sku_twice_becomes_one_line(world):
    supplier = make_supplier()
    po = draft_po(world, supplier, [("CAP", 4, "3.00"), ("CAP", 6, "3.00")])
    assert [(line.sku.code, line.qty_ordered) for line in po.lines] == [("CAP", 10)]


def test_a_foreign_currency_order_keeps_its_currency_and_the_exchange_rate(world):
    supplier = make_supplier("PORTO", currency="EUR")
    po = draft_po(world, supplier, [("CAP", 100, "10.00")])
    assert (po.currency, po.exchange_rate, po.total) == ("EUR", Decimal("0.860000"), Decimal("1000.00"))
    assert purchasing.home_value(po) == Decimal("860.00")


def test_a_draft_can_be_edited_and_an_edited_approved_order_needs_approval_again(world, make_user):
    buyer, finance = make_user("procurement", "luis"), make_user("finance", "hannah")
    supplier = make_supplier()
    po = sent_po(world, supplier, [("CAP", 1000, "6.00")], user=buyer)
    assert po.status == "awaiting_approval"
    decide_approval(po.approval_request_id, finance.id, True)
    assert po.status == "approved"
    purchasing.update_draft_lines(po.id, [LineInput(world.skus["CAP"].id, 900, Decimal("6.00"))], user_id=buyer.id)
    assert po.status == "draft" and po.units == 900
    again = purchasing.send_purchase_order(po.id, user_id=buyer.id)
    assert again.status == "awaiting_approval" and again.approval_request_id != po.id


# --- approval and sending ----------------------------------------------------------------------------------------

def test_an_order_within_the_threshold_is_sent_straight_away(world, make_user):
    buyer = make_user("procurement", "luis")
    po = sent_po(world, make_supplier(), [("CAP", 100, "50.00")], user=buyer)  # 5,000.00 is not over 5,000.00
    assert po.status == "sent" and po.sent_at is not None and po.promised_date == po.expected_date


def test_an_order_over_the_threshold_waits_for_finance_and_the_buyer_cannot_approve_it(world, make_user):
    buyer = make_user("procurement", "luis")
    po = sent_po(world, make_supplier(), [("CAP", 101, "50.00")], user=buyer)
    assert po.status == "awaiting_approval" and po.sent_at is None
    with pytest.raises(PermissionDenied):
        decide_approval(po.approval_request_id, buyer.id, True, "looks right to me")
    with pytest.raises(PermissionDenied):
        decide_approval(po.approval_request_id, make_user("supervisor", "grace").id, True)
    with pytest.raises(InvalidTransition):
        purchasing.confirm_purchase_order(po.id, user_id=buyer.id)
    decide_approval(po.approval_request_id, make_user("finance", "hannah").id, True, "budgeted")
    assert po.status == "approved"
    assert purchasing.send_purchase_order(po.id, user_id=buyer.id).status == "sent"


def test_an_admin_who_drafted_an_order_still_needs_someone_else(world, make_user):
    admin = make_user("admin", "alex")
    po = sent_po(world, make_supplier(), [("CAP", 200, "50.00")], user=admin)
    with pytest.raises(PermissionDenied, match="own request"):
        decide_approval(po.approval_request_id, admin.id, True)


def test_a_rejected_order_goes_back_to_draft_with_the_reason_on_its_timeline(world, make_user):
    buyer = make_user("procurement", "luis")
    po = sent_po(world, make_supplier(), [("CAP", 200, "50.00")], user=buyer)
    decide_approval(po.approval_request_id, make_user("finance", "hannah").id, False, "split it over two months")
    assert po.status == "draft"
    from app.services.purchasing_queries import po_timeline
    assert po_timeline(po)[-1].payload["reason"] == "rejected: split it over two months"


def test_a_foreign_order_is_judged_in_the_home_currency(world, make_user):
    buyer = make_user("procurement", "luis")
    supplier = make_supplier("TRAIL", currency="USD")
    po = sent_po(world, supplier, [("CAP", 100, "60.00")], user=buyer)  # $6,000 × 0.79 = £4,740
    assert po.status == "sent"


def test_confirmation_records_the_promised_date_and_reference(world):
    po = sent_po(world, make_supplier(), [("CAP", 10, "3.00")])
    promised = purchasing.local_today() + timedelta(days=12)
    purchasing.confirm_purchase_order(po.id, user_id=None, expected_date=promised, supplier_reference="SO-991")
    assert (po.status, po.expected_date, po.promised_date, po.supplier_reference) == (
        "confirmed", promised, promised, "SO-991")


# --- shipment notices and receiving --------------------------------------------------------------------------------

def test_a_shipment_notice_puts_units_in_transit_on_the_dock(world):
    po = sent_po(world, make_supplier(), [("MUG", 20, "2.00")])
    due = purchasing.local_today() + timedelta(days=3)
    shipment = purchasing.record_shipment_notice(po.id, [(world.skus["MUG"].id, 15)], expected_date=due,
                                                 user_id=None, reference="ASN-7")
    assert on_dock(world, "MUG", Status.IN_TRANSIT) == 15
    assert po.lines[0].qty_in_transit == 15 and po.expected_date != due and shipment.status == "in_transit"
    move = database.session.scalars(select(StockMove).where(StockMove.cause_id == po.number)).one()
    assert (move.cause_type, move.from_location.outside, move.to_status) == ("purchase_order", "supplier", "in_transit")


def test_receiving_takes_notified_units_from_transit_and_the_rest_from_the_supplier(world):
    po = sent_po(world, make_supplier(), [("MUG", 20, "2.00")])
    purchasing.record_shipment_notice(po.id, [(world.skus["MUG"].id, 15)],
                                      expected_date=purchasing.local_today(), user_id=None)
    receipt = purchasing.receive_purchase_order(po.id, [ReceiveInput(world.skus["MUG"].id, 18)], user_id=None)
    assert receipt.number == f"GRN-{receipt.id:06d}" and receipt.lines[0].from_in_transit == 15
    assert on_dock(world, "MUG", Status.IN_TRANSIT) == 0 and on_dock(world, "MUG", Status.AVAILABLE) == 18
    assert po.shipments[0].status == "received" and po.lines[0].qty_in_transit == 0
    assert po.status == "partially_received" and po.lines[0].qty_open == 2
    assert ledger_problems() == []


def test_a_partial_then_an_over_receipt_within_tolerance_completes_the_order(world):
    po = sent_po(world, make_supplier(), [("MUG", 20, "2.00"), ("CAP", 10, "3.00")])
    purchasing.receive_purchase_order(po.id, [ReceiveInput(world.skus["MUG"].id, 12)], user_id=None)
    assert po.status == "partially_received"
    purchasing.receive_purchase_order(po.id, [ReceiveInput(world.skus["MUG"].id, 10),
                                              ReceiveInput(world.skus["CAP"].id, 10)], user_id=None)
    assert po.status == "received" and po.lines[0].qty_received == 22  # 10% over 20 is allowed
    assert on_dock(world, "MUG", Status.AVAILABLE) == 22


def test_an_over_receipt_beyond_tolerance_is_refused_and_nothing_moves(world):
    po = sent_po(world, make_supplier(), [("MUG", 20, "2.00")])
    with pytest.raises(ValidationError) as raised:
        purchasing.receive_purchase_order(po.id, [ReceiveInput(world.skus["MUG"].id, 23)], user_id=None)
    assert "22 allowed" in raised.value.errors["lines[0].qty"]
    assert on_dock(world, "MUG", Status.AVAILABLE) == 0 and po.lines[0].qty_received == 0 and po.receipts == []


def test_receiving_a_sku_not_on_the_order_or_before_sending_is_refused(world):
    po = draft_po(world, make_supplier(), [("MUG", 20, "2.00")])
    with pytest.raises(Conflict):
        purchasing.receive_purchase_order(po.id, [ReceiveInput(world.skus["MUG"].id, 1)], user_id=None)
    purchasing.send_purchase_order(po.id, user_id=None)
    with pytest.raises(ValidationError) as raised:
        purchasing.receive_purchase_order(po.id, [ReceiveInput(world.skus["CAP"].id, 1)], user_id=None)
    assert "lines[0].sku" in raised.value.errors
    with pytest.raises(NotFound):
        purchasing.receive_purchase_order(9999, [ReceiveInput(world.skus["MUG"].id, 1)], user_id=None)


def test_quarantined_units_are_held_then_released_to_available(world):
    po = sent_po(world, make_supplier(), [("MUG", 20, "2.00")])
    purchasing.receive_purchase_order(po.id, [ReceiveInput(world.skus["MUG"].id, 8, quarantine=True),
                                              ReceiveInput(world.skus["MUG"].id, 12)], user_id=None)
    line = po.lines[0]
    assert (line.qty_received, line.qty_quarantined, line.qty_to_put_away) == (20, 8, 12)
    assert on_dock(world, "MUG", Status.QUARANTINED) == 8 and on_dock(world, "MUG", Status.AVAILABLE) == 12
    purchasing.release_from_quarantine(po.id, line.id, 5, user_id=None, note="glaze checked")
    assert on_dock(world, "MUG", Status.QUARANTINED) == 3 and on_dock(world, "MUG", Status.AVAILABLE) == 17
    assert line.qty_to_put_away == 17
    with pytest.raises(ValidationError):
        purchasing.release_from_quarantine(po.id, line.id, 4, user_id=None)


def test_the_cost_on_the_delivery_note_is_kept_on_the_receipt(world):
    supplier = make_supplier()
    offer(supplier, world.skus["MUG"], "2.0000")
    po = sent_po(world, supplier, [("MUG", 10, None)])
    receipt = purchasing.receive_purchase_order(po.id, [ReceiveInput(world.skus["MUG"].id, 10,
                                                                     unit_cost=Decimal("2.1500"))], user_id=None)
    assert receipt.lines[0].unit_cost == Decimal("2.1500") and po.lines[0].agreed_unit_cost == Decimal("2.0000")


# --- put-away -----------------------------------------------------------------------------------------------------

def test_put_away_suggests_a_bin_holding_the_sku_else_the_empty_bin_nearest_the_front(world):
    inventory.receive_stock(world.skus["MUG"].id, world.bins["E2-2"].id, 3, cause=Cause("opening", "x"))
    inventory.receive_stock(world.skus["TEE-M"].id, world.bins["E0-1"].id, 3, cause=Cause("opening", "x"))
    po = sent_po(world, make_supplier(), [("MUG", 10, "2.00"), ("CAP", 6, "3.00")])
    purchasing.receive_purchase_order(po.id, [ReceiveInput(world.skus["MUG"].id, 10),
                                              ReceiveInput(world.skus["CAP"].id, 6)], user_id=None)
    plan = {line.sku.code: (qty, location.code) for line, qty, location in purchasing.put_away_plan(po)}
    # MUG already sits in E2-2; CAP gets the first empty bin at 3 m (E0-1 holds tees, so E1-1)
    assert plan == {"MUG": (10, "E2-2"), "CAP": (6, "E1-1")}


def test_putting_away_moves_units_from_the_dock_to_the_bin(world):
    po = sent_po(world, make_supplier(), [("MUG", 10, "2.00")])
    purchasing.receive_purchase_order(po.id, [ReceiveInput(world.skus["MUG"].id, 10)], user_id=None)
    line = po.lines[0]
    assert purchasing.put_away(po.id, [(line.id, world.bins["E1-2"].id, 7)], user_id=None) == 7
    assert balance(world.skus["MUG"].id, world.bins["E1-2"].id, Status.AVAILABLE) == 7
    assert on_dock(world, "MUG", Status.AVAILABLE) == 3 and line.qty_to_put_away == 3
    with pytest.raises(ValidationError):
        purchasing.put_away(po.id, [(line.id, world.bins["E1-2"].id, 4)], user_id=None)
    with pytest.raises(ValidationError):
        purchasing.put_away(po.id, [(line.id, world.bins["W0-1"].id, 1)], user_id=None)  # another warehouse


# --- closing and cancelling -------------------------------------------------------------------------------------

def test_closing_short_gives_up_the_rest_and_returns_notified_units_that_never_came(world):
    po = sent_po(world, make_supplier(), [("MUG", 20, "2.00")])
    purchasing.record_shipment_notice(po.id, [(world.skus["MUG"].id, 20)],
                                      expected_date=purchasing.local_today(), user_id=None)
    purchasing.receive_purchase_order(po.id, [ReceiveInput(world.skus["MUG"].id, 16)], user_id=None)
    purchasing.close_purchase_order(po.id, user_id=None, note="supplier out of stock")
    assert po.status == "closed" and po.lines[0].qty_cancelled == 4 and po.lines[0].qty_open == 0
    assert on_dock(world, "MUG", Status.IN_TRANSIT) == 0 and po.shipments[0].status == "closed"
    assert ledger_problems() == []


def test_an_order_with_nothing_received_is_cancelled_not_closed(world, make_user):
    buyer = make_user("procurement", "luis")
    po = sent_po(world, make_supplier(), [("CAP", 200, "50.00")], user=buyer)  # waiting for approval
    with pytest.raises(InvalidTransition):
        purchasing.close_purchase_order(po.id, user_id=None)
    with pytest.raises(ValidationError):
        purchasing.cancel_purchase_order(po.id, user_id=buyer.id, reason=" ")
    purchasing.cancel_purchase_order(po.id, user_id=buyer.id, reason="range dropped")
    from app.models.approvals import ApprovalRequest
    assert po.status == "cancelled" and database.session.get(ApprovalRequest, po.approval_request_id).status == "withdrawn"


def test_an_order_with_receipts_cannot_be_cancelled(world):
    po = sent_po(world, make_supplier(), [("MUG", 20, "2.00")])
    purchasing.receive_purchase_order(po.id, [ReceiveInput(world.skus["MUG"].id, 1)], user_id=None)
    with pytest.raises(Conflict):
        purchasing.cancel_purchase_order(po.id, user_id=None, reason="too late")


# --- receipts fill backorders -------------------------------------------------------------------------------------

def test_a_receipt_fills_waiting_orders_highest_priority_first_then_oldest(world):
    start = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
    older = orders.capture_order("WEB", order_draft("OLD", [("MUG", 3)], placed_at=start), source="api").order
    newer = orders.capture_order("WEB", order_draft("NEW", [("MUG", 3)], placed_at=start + timedelta(hours=1)),
                                 source="api").order
    urgent = orders.capture_order("WEB", order_draft("VIP", [("MUG", 3)], priority=5,
                                                     placed_at=start + timedelta(hours=2)), source="api").order
    assert {o.status for o in (older, newer, urgent)} == {"backordered"}
    po = sent_po(world, make_supplier(), [("MUG", 10, "2.00")])
    purchasing.receive_purchase_order(po.id, [ReceiveInput(world.skus["MUG"].id, 5)], user_id=None)
    assert (urgent.status, older.status, newer.status) == ("allocated", "partially_allocated", "backordered")
    assert (urgent.lines[0].qty_allocated, older.lines[0].qty_allocated) == (3, 2)
    assert on_dock(world, "MUG", Status.ALLOCATED) == 5 and on_dock(world, "MUG", Status.AVAILABLE) == 0
    assert ledger_problems() == []


def test_quarantined_units_fill_no_backorders_until_released(world):
    waiting = orders.capture_order("WEB", order_draft("W1", [("MUG", 2)], placed_at=datetime(2026, 3, 2, tzinfo=timezone.utc)),
                                   source="api").order
    po = sent_po(world, make_supplier(), [("MUG", 10, "2.00")])
    purchasing.receive_purchase_order(po.id, [ReceiveInput(world.skus["MUG"].id, 4, quarantine=True)], user_id=None)
    assert waiting.status == "backordered"
    purchasing.release_from_quarantine(po.id, po.lines[0].id, 4, user_id=None)
    assert waiting.status == "allocated"


# --- suppliers ----------------------------------------------------------------------------------------------------

def test_a_supplier_is_saved_with_its_terms_and_a_bad_one_is_refused_field_by_field(db):
    supplier = purchasing.save_supplier(None, code="fjord", name="Fjord Knit", currency="EUR", country="no",
                                        lead_time_days=20, payment_days=45, incoterm="fca")
    terms = database.session.get(purchasing.SupplierTerms, supplier.id)
    assert (supplier.code, supplier.country, terms.incoterm, terms.payment_days) == ("FJORD", "NO", "FCA", 45)
    with pytest.raises(ValidationError) as raised:
        purchasing.save_supplier(None, code="FJORD", name="", currency="JPY", country="Norway", lead_time_days=0,
                                 payment_days=400, incoterm="x")
    assert set(raised.value.errors) == {"code", "name", "currency", "country", "lead_time_days", "payment_days",
                                        "incoterm"}


def test_one_preferred_offer_per_sku(world):
    first, second = make_supplier("ONE"), make_supplier("TWO")
    purchasing.save_supplier_sku(first.id, world.skus["MUG"].id, unit_cost=Decimal("2"), pack_size=1, moq=0,
                                 lead_time_days=None, preferred=True)
    purchasing.save_supplier_sku(second.id, world.skus["MUG"].id, unit_cost=Decimal("1.9"), pack_size=6, moq=6,
                                 lead_time_days=30, preferred=True)
    preferred = database.session.scalars(select(SupplierSku.supplier_id).where(SupplierSku.preferred.is_(True))).all()
    assert preferred == [second.id]
    with pytest.raises(ValidationError) as raised:
        purchasing.save_supplier_sku(first.id, world.skus["MUG"].id, unit_cost=Decimal("-1"), pack_size=0, moq=-1,
                                     lead_time_days=0)
    assert set(raised.value.errors) == {"unit_cost", "pack_size", "moq", "lead_time_days"}


def test_contacts_are_added_with_one_primary_and_removed(world):
    supplier = make_supplier()
    purchasing.add_supplier_contact(supplier.id, name="Ana", email="ana@acme.example", primary=True)
    bea = purchasing.add_supplier_contact(supplier.id, name="Bea", primary=True)
    from app.services.purchasing_queries import supplier_contacts
    assert [(c.name, c.primary) for c in supplier_contacts(supplier.id)] == [("Bea", True), ("Ana", False)]
    purchasing.remove_supplier_contact(bea.id)
    assert [c.name for c in supplier_contacts(supplier.id)] == ["Ana"]
    with pytest.raises(ValidationError):
        purchasing.add_supplier_contact(supplier.id, name="", email="not-an-email")


@pytest.mark.parametrize("raw, expected", [("4.25", Decimal("4.2500")), ("1,204.5", Decimal("1204.5000")),
                                           (3, Decimal("3.0000")), (0.1, Decimal("0.1000")), ("", None)])
def test_unit_costs_are_read_exactly(raw, expected):
    assert purchasing.parse_unit_cost(raw) == expected


@pytest.mark.parametrize("raw", ["abc", "-1", "NaN", "Infinity", True, [], "1e9"])
def test_nonsense_unit_costs_are_refused(raw):
    with pytest.raises(ValidationError):
        purchasing.parse_unit_cost(raw)


def test_a_notice_cannot_ship_more_than_the_order_and_its_tolerance(world):
    po = sent_po(world, make_supplier(), [("MUG", 20, "2.00")])
    mug = world.skus["MUG"].id
    purchasing.record_shipment_notice(po.id, [(mug, 15)], expected_date=purchasing.local_today(), user_id=None)
    with pytest.raises(ValidationError) as raised:
        purchasing.record_shipment_notice(po.id, [(mug, 8)], expected_date=purchasing.local_today(), user_id=None)
    assert "only 7 more" in raised.value.errors["lines[0].qty"] and on_dock(world, "MUG", Status.IN_TRANSIT) == 15
