"""Returns: authorisation, receipt at the dock, inspection and disposition, refunds, exchanges, on SQLite and PostgreSQL."""
from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.domain.errors import Conflict, PermissionDenied, ValidationError
from app.domain.inventory import Cause, Outside, Status
from app.extensions import db as _db
from app.models import Event, StockMove, Supplier
from app.models.finance import CreditNote
from app.models.purchasing import PurchaseOrder, PurchaseOrderLine, Receipt, ReceiptLine, SupplierSku
from app.models.returns import RefurbishTask, VendorClaim
from app.models.types import utcnow
from app.services import approvals, inventory, ledger, orders, returns
from app.services.integrity import ledger_problems
from app.services.purchasing import dock_location
from app.services.returns import UnitDecision
from app.services.settings import set_setting
from tests.factories import order_draft, ship_order

SHARED_REFUND = "shopify_python_api__refund.json"


@pytest.fixture()
def stocked(world):
    for code in ("TEE-M", "MUG", "CAP"):
        inventory.receive_stock(world.skus[code].id, world.bins["E0-1"].id, 20, cause=Cause("po", "seed"))
    supplier = Supplier(code="POTS", name="Pots Ltd")
    _db.session.add(supplier)
    _db.session.flush()
    _db.session.add(SupplierSku(supplier_id=supplier.id, sku_id=world.skus["MUG"].id, unit_cost=Decimal("4"),
                                preferred=True))
    _db.session.commit()
    return world


def shipped_order(external_id="R1", lines=(("TEE-M", 2), ("MUG", 1)), price="60.00", shipped_at=None):
    order = orders.capture_order("WEB", order_draft(external_id, list(lines), price=price), source="api").order
    return ship_order(order, shipped_at=shipped_at)


def event_types() -> list[str]:
    return list(_db.session.scalars(select(Event.type).order_by(Event.id)))


def balance(world, sku, location, status):
    return ledger.balance(world.skus[sku].id, location.id, status)


def rma_moves(rma):
    return list(_db.session.scalars(select(StockMove).where(StockMove.cause_type == "rma",
                                                           StockMove.cause_id == rma.number).order_by(StockMove.id)))


DISPOSITIONS = [("restock", "A"), ("refurbish", "C"), ("vendor_claim", "C"), ("write_off", "D")]


@pytest.mark.parametrize("disposition,grade", DISPOSITIONS)
def test_a_return_goes_from_authorisation_through_disposition_to_a_paid_refund(stocked, make_user, disposition, grade):
    world, clerk = stocked, make_user("returns")
    order = shipped_order()
    rma = returns.open_rma(order.number, [{"sku": "MUG", "qty": 1, "reason": "defective"}], user_id=clerk.id)
    assert rma.status == "authorised" and rma.number.startswith("RMA-") and rma.retailer_pays_label

    returns.receive_rma(rma.id, {"MUG": 1}, user_id=clerk.id)
    dock = dock_location(world.warehouses["EAST"])
    assert rma.status == "received" and balance(world, "MUG", dock, Status.RETURNED) == 1

    unit = rma.lines[0].units[0]
    returns.inspect_rma(rma.id, [UnitDecision(unit.id, grade, disposition, defect="handle cracked")], user_id=clerk.id)
    assert rma.status == "inspected" and unit.grade == grade and unit.disposition == disposition
    assert balance(world, "MUG", dock, Status.RETURNED) == 0
    _check_disposition(world, rma, disposition, dock)

    refund = returns.request_refund(rma.id, user_id=clerk.id)
    assert refund.status == "approved" and refund.total == Decimal("60.00") and refund.restocking_fee == 0
    returns.issue_refund(refund.id, user_id=clerk.id)
    assert rma.status == "refunded" and refund.status == "issued"
    note = _db.session.scalar(select(CreditNote).where(CreditNote.reference == refund.number))
    assert note is not None and note.total == Decimal("60.00") and note.order_id == order.id
    returns.mark_refund_paid(refund.id, reference="BANK-778", user_id=clerk.id)
    assert rma.status == "closed" and refund.status == "paid" and note.refunded_at is not None

    types = event_types()
    for expected in ("rma.authorised", "rma.received", "rma.inspected", "refund.issued", "refund.paid", "rma.closed"):
        assert expected in types
    steps = [(s.from_status, s.to_status) for s in rma.steps if s.to_status]
    assert steps == [(None, "authorised"), ("authorised", "received"), ("received", "inspected"),
                     ("inspected", "refunded"), ("refunded", "closed")]
    assert all(m.cause_type == "rma" for m in rma_moves(rma)) and len(rma_moves(rma)) >= 2
    assert ledger_problems() == []


def _check_disposition(world, rma, disposition, dock):
    moves = rma_moves(rma)
    customer = ledger.outside(Outside.CUSTOMER)
    assert (moves[0].from_location_id, moves[0].to_location_id, moves[0].to_status) == (customer.id, dock.id, "returned")
    if disposition == "restock":
        assert balance(world, "MUG", world.bins["E0-1"], Status.AVAILABLE) == 20  # 19 left after shipping, plus one
    elif disposition == "refurbish":
        assert balance(world, "MUG", dock, Status.QUARANTINED) == 1
        task = _db.session.scalar(select(RefurbishTask))
        returns.complete_refurbish(task.id, outcome="restock", note="new box")
        assert balance(world, "MUG", dock, Status.QUARANTINED) == 0
        assert balance(world, "MUG", world.bins["E0-1"], Status.AVAILABLE) == 20
        assert task.status == "done"
    elif disposition == "vendor_claim":
        assert balance(world, "MUG", dock, Status.DAMAGED) == 1
        claim = _db.session.scalar(select(VendorClaim))
        assert claim.supplier.code == "POTS" and claim.defect == "handle cracked" and claim.po_number == ""
    else:
        assert moves[-1].to_location_id == ledger.outside(Outside.SCRAP).id
    assert ledger_problems() == []


def test_only_shipped_units_not_already_returned_can_be_authorised(stocked):
    order = shipped_order()
    returns.open_rma(order.id, [{"sku": "TEE-M", "qty": 1, "reason": "too_small"}])
    with pytest.raises(ValidationError) as refused:
        returns.open_rma(order.number, [{"sku": "TEE-M", "qty": 2, "reason": "too_large"}])
    assert "Only 1 unit(s)" in refused.value.errors["lines[0].qty"]
    with pytest.raises(ValidationError) as refused:
        returns.open_rma(order.number, [{"sku": "CAP", "qty": 1, "reason": "too_large"}])
    assert "not on order" in refused.value.errors["lines[0].sku"]
    waiting = orders.capture_order("WEB", order_draft("R2", [("CAP", 1)]), source="api").order
    with pytest.raises(ValidationError) as refused:
        returns.open_rma(waiting.number, [{"sku": "CAP", "qty": 1, "reason": "changed_mind"}])
    assert "has not shipped" in refused.value.errors["lines[0].sku"]


def test_a_cancelled_rma_gives_its_units_back_to_return(stocked):
    order = shipped_order()
    rma = returns.open_rma(order.number, [{"sku": "TEE-M", "qty": 2, "reason": "too_small"}])
    returns.cancel_rma(rma.id, reason="customer kept them")
    assert rma.status == "cancelled"
    again = returns.open_rma(order.number, [{"sku": "TEE-M", "qty": 2, "reason": "too_small"}])
    assert again.units_expected == 2


def test_the_return_window_refuses_a_return_after_the_channels_days(stocked):
    returns.set_return_policy("WEB", window_days=14, restocking_fee_pct="10")
    order = shipped_order(shipped_at=utcnow() - timedelta(days=15))
    with pytest.raises(ValidationError) as refused:
        returns.open_rma(order.number, [{"sku": "MUG", "qty": 1, "reason": "changed_mind"}])
    assert "14-day return window closed" in refused.value.errors["lines[0].sku"]
    recent = shipped_order("R9", shipped_at=utcnow() - timedelta(days=13))
    assert returns.open_rma(recent.number, [{"sku": "MUG", "qty": 1, "reason": "changed_mind"}]).status == "authorised"


def test_non_returnable_skus_and_categories_are_refused(stocked):
    returns.set_return_policy("WEB", window_days=30, restocking_fee_pct="0", non_returnable_skus=["mug"])
    order = shipped_order()
    with pytest.raises(ValidationError) as refused:
        returns.open_rma(order.number, [{"sku": "MUG", "qty": 1, "reason": "changed_mind"}])
    assert "non-returnable" in refused.value.errors["lines[0].sku"]
    returns.set_return_policy("WEB", window_days=30, restocking_fee_pct="0", non_returnable_categories=["test"])
    with pytest.raises(ValidationError):
        returns.open_rma(order.number, [{"sku": "TEE-M", "qty": 1, "reason": "changed_mind"}])


def test_unexpected_items_and_extra_units_are_recorded_at_receipt_not_lost(stocked):
    world = stocked
    order = shipped_order()
    rma = returns.open_rma(order.number, [{"sku": "TEE-M", "qty": 1, "reason": "too_small"}])
    returns.receive_rma(rma.id, {"TEE-M": 2, world.skus["MUG"].gtin: 0, "CAP": 1})
    tee, cap = rma.lines
    assert (tee.qty_expected, tee.qty_received, tee.unexpected) == (1, 2, False)
    assert (cap.sku.code, cap.qty_expected, cap.qty_received, cap.unexpected) == ("CAP", 0, 1, True)
    dock = dock_location(world.warehouses["EAST"])
    assert balance(world, "CAP", dock, Status.RETURNED) == 1 and balance(world, "TEE-M", dock, Status.RETURNED) == 2
    assert "unexpected: 1 × CAP" in rma.steps[-1].note and len(returns.pending_units(rma)) == 3
    quote = returns.quote_refund(rma)
    assert [(q.rma_line.sku.code, q.qty) for q in quote.lines] == [("TEE-M", 1)]  # only what was authorised
    assert ledger_problems() == []


def test_receipt_refuses_unknown_barcodes_and_changes_nothing(stocked):
    order = shipped_order()
    rma = returns.open_rma(order.number, [{"sku": "MUG", "qty": 1, "reason": "defective"}])
    with pytest.raises(ValidationError) as refused:
        returns.receive_rma(rma.id, {"MUG": 1, "NOPE-123": 1})
    assert "NOPE-123" in str(refused.value.errors)
    assert rma.status == "authorised" and rma_moves(rma) == []


def test_a_refund_over_the_threshold_needs_a_different_finance_user(stocked, make_user):
    clerk, finance_user, other_clerk = make_user("returns"), make_user("finance", "fin"), make_user("returns", "clerk2")
    order = shipped_order(lines=(("TEE-M", 2),), price="150.00")
    rma = _inspected(order, "TEE-M", 2, "defective", clerk)
    refund = returns.request_refund(rma.id, user_id=clerk.id)
    assert refund.status == "pending_approval" and refund.total == Decimal("300.00")
    with pytest.raises(Conflict):
        returns.issue_refund(refund.id, user_id=clerk.id)
    with pytest.raises(PermissionDenied, match="own request"):
        returns.decide_refund(refund.id, approver_id=clerk.id, approve=True)
    with pytest.raises(PermissionDenied, match="finance"):
        returns.decide_refund(refund.id, approver_id=other_clerk.id, approve=True)
    returns.decide_refund(refund.id, approver_id=finance_user.id, approve=True, note="checked photos")
    assert refund.status == "approved" and refund.decided_by_id == finance_user.id
    returns.issue_refund(refund.id, user_id=clerk.id)
    assert rma.status == "refunded"


def test_a_rejected_refund_can_be_asked_again_with_a_fee(stocked, make_user):
    clerk, finance_user = make_user("returns"), make_user("finance", "fin")
    order = shipped_order(lines=(("TEE-M", 2),), price="150.00")
    rma = _inspected(order, "TEE-M", 2, "changed_mind", clerk)
    refund = returns.request_refund(rma.id, user_id=clerk.id)
    with pytest.raises(ValidationError):
        returns.decide_refund(refund.id, approver_id=finance_user.id, approve=False)
    returns.decide_refund(refund.id, approver_id=finance_user.id, approve=False, note="worn; charge a fee")
    assert refund.status == "rejected"
    with pytest.raises(ValidationError) as refused:
        returns.request_refund(rma.id, user_id=clerk.id, restocking_fee="60.00")
    assert "override_reason" in refused.value.errors
    second = returns.request_refund(rma.id, user_id=clerk.id, restocking_fee="60.00", override_reason="worn tags")
    assert second.total == Decimal("240.00") and second.status == "approved"


def test_the_policy_restocking_fee_applies_to_the_customers_reasons_only(stocked, make_user):
    clerk = make_user("returns")
    returns.set_return_policy("WEB", window_days=30, restocking_fee_pct="10",
                              retailer_pays_reasons=["defective", "damaged_in_transit", "wrong_item"])
    order = shipped_order()
    rma = returns.open_rma(order.number, [{"sku": "TEE-M", "qty": 1, "reason": "changed_mind"},
                                          {"sku": "MUG", "qty": 1, "reason": "defective"}], user_id=clerk.id)
    assert rma.retailer_pays_label
    returns.receive_rma(rma.id, {"TEE-M": 1, "MUG": 1}, user_id=clerk.id)
    returns.inspect_by_sku(rma.id, [{"sku": "TEE-M", "disposition": "restock"},
                                    {"sku": "MUG", "disposition": "write_off", "defect": "chipped"}], user_id=clerk.id)
    quote = returns.quote_refund(rma)
    assert quote.goods == Decimal("120.00") and quote.policy_fee == Decimal("6.00")
    refund = returns.request_refund(rma.id, user_id=clerk.id, amounts={rma.lines[1].id: "30.00"},
                                    override_reason="partial: customer kept the saucer")
    assert (refund.goods, refund.restocking_fee, refund.total) == (Decimal("90.00"), Decimal("6.00"), Decimal("84.00"))
    returns.issue_refund(refund.id, user_id=clerk.id)
    note = _db.session.scalar(select(CreditNote).where(CreditNote.reference == refund.number))
    assert note.total == Decimal("84.00") and note.restocking_fee == Decimal("6.00")


def test_an_exchange_makes_a_replacement_order_at_no_charge(stocked, make_user):
    clerk = make_user("returns")
    order = shipped_order(lines=(("TEE-M", 1),), price="10.00")
    rma = _inspected(order, "TEE-M", 1, "too_small", clerk)
    returns.exchange_rma(rma.id, {rma.lines[0].id: "CAP"}, user_id=clerk.id)
    replacement = rma.exchange_order
    assert replacement.source == "exchange" and replacement.customer_name == order.customer_name
    assert replacement.ship_postcode == order.ship_postcode and replacement.lines[0].unit_price == Decimal("0.00")
    assert rma.status == "closed" and rma.resolution == "exchange"


def test_the_shopify_refund_fixture_opens_an_rma_once(stocked):
    from app.channels.shopify import parse_refund
    from tests.conftest import SHARED
    from tests.factories import make_sku
    world = stocked
    ipods = [make_sku(code, price="199.00") for code in ("IPOD2008BLACK", "IPOD2008GREEN")]
    _db.session.commit()
    for sku in ipods:
        inventory.receive_stock(sku.id, world.bins["E0-1"].id, 5, cause=Cause("po", "seed"))
    draft = order_draft("450789469", [("IPOD2008BLACK", 1), ("IPOD2008GREEN", 1)], price="199.00")
    order = orders.capture_order("WEB", draft, source="shopify").order
    ship_order(order)
    payload = json.loads((SHARED / "fixtures" / "channels" / SHARED_REFUND).read_text())
    refund = parse_refund(payload)
    rma = returns.open_rma_from_channel_refund("WEB", refund)
    assert rma.order_id == order.id and rma.channel_refund_id == "509562969" and rma.source == "shopify"
    assert sorted((l.sku.code, l.qty_expected, l.reason) for l in rma.lines) == [
        ("IPOD2008BLACK", 1, "damaged_in_transit"), ("IPOD2008GREEN", 1, "damaged_in_transit")]
    channel_refund, = rma.refunds
    assert channel_refund.paid_by_channel and channel_refund.total == Decimal("209.00")
    assert returns.open_rma_from_channel_refund("WEB", refund).id == rma.id
    returns.receive_rma(rma.id, {"IPOD2008BLACK": 1, "IPOD2008GREEN": 1})
    returns.inspect_by_sku(rma.id, [{"sku": "IPOD2008BLACK", "disposition": "restock"},
                                    {"sku": "IPOD2008GREEN", "disposition": "write_off", "defect": "screen smashed"}])
    returns.issue_refund(channel_refund.id)
    assert rma.status == "closed" and channel_refund.status == "paid"
    assert "refund.issued" not in event_types() and "refund.paid" in event_types()
    assert ledger_problems() == []


def test_vendor_claims_name_the_most_recent_received_purchase_order(stocked):
    world = stocked
    supplier = _db.session.scalar(select(Supplier))
    older, newer = (_received_po(world, supplier, number, days) for number, days in (("PO-1", 20), ("PO-2", 3)))
    found_supplier, po_number = returns.claim_source(world.skus["MUG"].id)
    assert (found_supplier.code, po_number) == ("POTS", "PO-2") and older.number == "PO-1"
    assert returns.claim_source(world.skus["CAP"].id) is None


def _received_po(world, supplier, number, days_ago):
    po = PurchaseOrder(number=number, supplier_id=supplier.id, warehouse_id=world.warehouses["EAST"].id,
                       status="received", currency="GBP")
    po.lines.append(PurchaseOrderLine(line_no=1, sku_id=world.skus["MUG"].id, qty_ordered=5, unit_cost=Decimal("4"),
                                      qty_received=5))
    receipt = Receipt(number=f"GR-{number}", po=po, received_at=utcnow() - timedelta(days=days_ago))
    _db.session.add_all([po, receipt])
    _db.session.flush()
    receipt.lines.append(ReceiptLine(po_line_id=po.lines[0].id, sku_id=world.skus["MUG"].id, qty=5,
                                     unit_cost=Decimal("4")))
    _db.session.commit()
    return po


def test_restock_needs_grade_a_or_b_and_damage_needs_a_note(stocked):
    order = shipped_order()
    rma = returns.open_rma(order.number, [{"sku": "MUG", "qty": 1, "reason": "defective"}])
    returns.receive_rma(rma.id, {"MUG": 1})
    unit = rma.lines[0].units[0]
    with pytest.raises(ValidationError) as refused:
        returns.inspect_rma(rma.id, [UnitDecision(unit.id, "D", "restock")])
    assert "grade A or B" in refused.value.errors["units[0].disposition"]
    assert "units[0].defect" in refused.value.errors
    assert rma.status == "received" and unit.disposition == ""


def test_authorisations_expire_when_nothing_arrives(stocked):
    order = shipped_order()
    rma = returns.open_rma(order.number, [{"sku": "MUG", "qty": 1, "reason": "changed_mind"}])
    assert returns.expire_overdue_rmas(utcnow() + timedelta(days=29)) == 0
    assert returns.expire_overdue_rmas(utcnow() + timedelta(days=31)) == 1
    assert rma.status == "expired"


def test_the_return_label_is_a_4x6_pdf_only_when_the_retailer_pays(stocked):
    order = shipped_order()
    paid = returns.open_rma(order.number, [{"sku": "MUG", "qty": 1, "reason": "wrong_item"}])
    pdf = returns.render_return_label(paid.id)
    assert pdf.startswith(b"%PDF")
    customer_pays = returns.open_rma(order.number, [{"sku": "TEE-M", "qty": 1, "reason": "changed_mind"}])
    with pytest.raises(Conflict, match="customer pays"):
        returns.render_return_label(customer_pays.id)


def _inspected(order, sku, qty, reason, clerk):
    rma = returns.open_rma(order.number, [{"sku": sku, "qty": qty, "reason": reason}], user_id=clerk.id)
    returns.receive_rma(rma.id, {sku: qty}, user_id=clerk.id)
    returns.inspect_by_sku(rma.id, [{"sku": sku, "disposition": "restock", "grade": "B"}], user_id=clerk.id)
    assert rma.status == "inspected"
    return rma
