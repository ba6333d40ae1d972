"""Vendor claims: sent to the supplier with its reference, settled with its credit, and posted to the books."""
from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.domain.errors import Conflict, NotFound, ValidationError
from app.domain.inventory import Cause, Outside, Status
from app.extensions import db as _db
from app.models import Event, StockMove, Supplier
from app.models.finance import JournalEntry
from app.models.purchasing import SupplierSku
from app.models.returns import VendorClaim
from app.services import finance, inventory, ledger, orders, returns, valuation, vendor_claims
from app.services.finance import Acct
from app.services.integrity import ledger_problems
from app.services.purchasing import dock_location
from app.services.returns import UnitDecision
from tests.factories import order_draft, ship_order


@pytest.fixture()
def claims_world(world):
    for code in ("MUG", "CAP"):
        inventory.receive_stock(world.skus[code].id, world.bins["E0-1"].id, 20, cause=Cause("po", "seed"))
    for supplier_code, name, sku in (("POTS", "Pots Ltd", "MUG"), ("HATS", "Hats & Co", "CAP")):
        supplier = Supplier(code=supplier_code, name=name)
        _db.session.add(supplier)
        _db.session.flush()
        _db.session.add(SupplierSku(supplier_id=supplier.id, sku_id=world.skus[sku].id, unit_cost=Decimal("4"),
                                    preferred=True))
    _db.session.commit()
    return world


def open_claims(sku: str, units: int, external_id: str, user_id: int | None = None) -> list[VendorClaim]:
    """Ship `units` of a SKU, take them back and send every one to a vendor claim."""
    order = ship_order(orders.capture_order("WEB", order_draft(external_id, [(sku, units)], price="30.00"),
                                            source="api").order)
    rma = returns.open_rma(order.number, [{"sku": sku, "qty": units, "reason": "defective"}], user_id=user_id)
    returns.receive_rma(rma.id, {sku: units}, user_id=user_id)
    decisions = [UnitDecision(u.id, "C", "vendor_claim", defect="cracked") for u in rma.lines[0].units]
    returns.inspect_rma(rma.id, decisions, user_id=user_id)
    return list(_db.session.scalars(select(VendorClaim).where(VendorClaim.rma_id == rma.id).order_by(VendorClaim.id)))


def account_balance(code: str) -> Decimal:
    ids = finance.ensure_chart()
    from app.models.finance import JournalLine
    debit, credit = _db.session.execute(select(func.coalesce(func.sum(JournalLine.debit), 0),
                                               func.coalesce(func.sum(JournalLine.credit), 0))
                                        .where(JournalLine.account_id == ids[code])).one()
    return Decimal(debit) - Decimal(credit)


def claim_events(kind: str) -> list[Event]:
    return list(_db.session.scalars(select(Event).where(Event.type == kind).order_by(Event.id)))


def test_sending_claims_ships_the_units_back_and_books_them_as_owed_by_the_supplier(claims_world, make_user):
    world, clerk = claims_world, make_user("returns")
    claims = open_claims("MUG", 2, "VC1", clerk.id)
    dock = dock_location(world.warehouses["EAST"])
    assert ledger.balance(world.skus["MUG"].id, dock.id, Status.DAMAGED) == 2

    sent = vendor_claims.send_vendor_claims([c.id for c in claims], reference="  POTS-RMA-77 ", user_id=clerk.id)

    assert [c.status for c in sent] == ["sent", "sent"]
    assert all(c.reference == "POTS-RMA-77" and c.sent_by_id == clerk.id and c.sent_at is not None for c in sent)
    assert ledger.balance(world.skus["MUG"].id, dock.id, Status.DAMAGED) == 0
    moves = list(_db.session.scalars(select(StockMove).where(StockMove.cause_type == "vendor_claim")))
    assert sorted(m.cause_id for m in moves) == sorted(c.number for c in claims)
    assert all(m.to_location_id == ledger.outside(Outside.SUPPLIER).id for m in moves)
    for claim in sent:
        assert finance.vendor_claim_receivable(claim.number) > 0
    assert account_balance(Acct.SUPPLIER_CLAIMS) == sum(finance.vendor_claim_receivable(c.number) for c in sent)
    assert [e.subject_id for e in claim_events("vendor_claim.sent")] == [c.number for c in claims]
    assert claim_events("vendor_claim.sent")[0].payload["reference"] == "POTS-RMA-77"
    assert [s.action for s in claims[0].rma.steps][-2:] == ["vendor_claim_sent", "vendor_claim_sent"]
    assert ledger_problems() == [] and valuation.valuation_problems() == []


def test_a_full_credit_clears_the_claim_against_payables_in_one_balanced_entry(claims_world, make_user):
    clerk = make_user("procurement")
    claim = open_claims("MUG", 1, "VC2", clerk.id)[0]
    vendor_claims.send_vendor_claims([claim.id], reference="R-1", user_id=clerk.id)
    owed = finance.vendor_claim_receivable(claim.number)

    settled = vendor_claims.settle_vendor_claim(claim.id, credited=str(claim.claimed), note="", user_id=clerk.id)

    assert settled.status == "settled" and settled.credited == claim.claimed and settled.settled_by_id == clerk.id
    entry = _db.session.get(JournalEntry, settled.entry_id)
    assert entry.kind == "vendor_claim_credit" and entry.source_id == claim.number
    assert sum(l.debit for l in entry.lines) == sum(l.credit for l in entry.lines)
    by_account = {l.account.code: l.debit - l.credit for l in entry.lines}
    assert by_account[Acct.PAYABLE] == claim.claimed and by_account[Acct.SUPPLIER_CLAIMS] == -owed
    assert finance.vendor_claim_receivable(claim.number) == 0
    assert claim_events("vendor_claim.settled")[0].payload["credited"] == str(claim.claimed)
    assert claim.rma.steps[-1].action == "vendor_claim_settled"


def test_a_refused_claim_settles_at_zero_and_the_cost_is_written_off_on_its_order(claims_world):
    claim = open_claims("MUG", 1, "VC3")[0]
    vendor_claims.send_vendor_claims([claim.id], reference="R-2")
    owed = finance.vendor_claim_receivable(claim.number)

    vendor_claims.settle_vendor_claim(claim.id, credited="0", note="Supplier says misuse")

    entry = _db.session.get(JournalEntry, claim.entry_id)
    lines = {l.account.code: l for l in entry.lines}
    assert set(lines) == {Acct.WRITE_OFFS, Acct.SUPPLIER_CLAIMS}
    assert lines[Acct.WRITE_OFFS].debit == owed and lines[Acct.WRITE_OFFS].order_id == claim.rma.order_id
    assert claim.credited == Decimal("0.00") and claim.note == "Supplier says misuse"


def test_a_part_credit_needs_a_reason_and_splits_payables_from_the_write_off(claims_world):
    claim = open_claims("MUG", 1, "VC4")[0]
    vendor_claims.send_vendor_claims([claim.id], reference="R-3")
    owed = finance.vendor_claim_receivable(claim.number)
    with pytest.raises(ValidationError) as refused:
        vendor_claims.settle_vendor_claim(claim.id, credited="1.00", note="  ")
    assert "note" in refused.value.errors and claim.status == "sent" and claim.entry_id is None

    vendor_claims.settle_vendor_claim(claim.id, credited=Decimal("1.00"), note="Handling deducted")
    lines = {l.account.code: l.debit - l.credit for l in _db.session.get(JournalEntry, claim.entry_id).lines}
    assert lines == {Acct.PAYABLE: Decimal("1.00"), Acct.WRITE_OFFS: owed - Decimal("1.00"),
                     Acct.SUPPLIER_CLAIMS: -owed}


@pytest.mark.parametrize("credited,field_message", [
    ("abc", "such as 12.50"), ("-1", "negative"), ("1.234", "whole cents"), ("NaN", "number"),
    ("1e30", "At most"), (1.5, "such as 12.50"), (None, "such as 12.50"), (True, "such as 12.50")])
def test_a_bad_credit_is_refused_and_changes_nothing(claims_world, credited, field_message):
    claim = open_claims("MUG", 1, "VC5")[0]
    vendor_claims.send_vendor_claims([claim.id], reference="R-4")
    entries = _db.session.scalar(select(func.count(JournalEntry.id)))
    with pytest.raises(ValidationError) as refused:
        vendor_claims.settle_vendor_claim(claim.id, credited=credited, note="x")
    assert field_message in refused.value.errors["credited"]
    _db.session.refresh(claim)
    assert claim.status == "sent" and claim.credited is None
    assert _db.session.scalar(select(func.count(JournalEntry.id))) == entries
    assert claim_events("vendor_claim.settled") == []


def test_more_than_was_claimed_cannot_be_credited(claims_world):
    claim = open_claims("MUG", 1, "VC6")[0]
    vendor_claims.send_vendor_claims([claim.id], reference="R-5")
    with pytest.raises(ValidationError) as refused:
        vendor_claims.settle_vendor_claim(claim.id, credited=str(claim.claimed + Decimal("0.01")))
    assert str(claim.claimed) in refused.value.errors["credited"]


def test_claims_move_only_forward_open_then_sent_then_settled(claims_world):
    claim = open_claims("MUG", 1, "VC7")[0]
    with pytest.raises(Conflict):
        vendor_claims.settle_vendor_claim(claim.id, credited="1.00")
    vendor_claims.send_vendor_claims([claim.id], reference="R-6")
    with pytest.raises(Conflict):
        vendor_claims.send_vendor_claims([claim.id], reference="R-7")
    assert claim.reference == "R-6"
    vendor_claims.settle_vendor_claim(claim.id, credited=str(claim.claimed))
    with pytest.raises(Conflict):
        vendor_claims.settle_vendor_claim(claim.id, credited="0", note="again")
    assert len(claim_events("vendor_claim.settled")) == 1


def test_claims_of_two_suppliers_are_not_sent_together_and_nothing_moves(claims_world):
    world = claims_world
    mug, cap = open_claims("MUG", 1, "VC8")[0], open_claims("CAP", 1, "VC9")[0]
    moves = _db.session.scalar(select(func.count(StockMove.id)))
    with pytest.raises(ValidationError) as refused:
        vendor_claims.send_vendor_claims([mug.id, cap.id], reference="R-8")
    assert "Hats & Co" in refused.value.errors["claims"] and "Pots Ltd" in refused.value.errors["claims"]
    assert _db.session.scalar(select(func.count(StockMove.id))) == moves
    assert {mug.status, cap.status} == {"open"}
    assert ledger.balance(world.skus["MUG"].id, dock_location(world.warehouses["EAST"]).id, Status.DAMAGED) == 1


@pytest.mark.parametrize("ids,reference,field", [
    ([], "R", "claims"), ("12", "R", "claims"), ([True], "R", "claims"), ([1], "   ", "reference")])
def test_sending_needs_claims_and_a_reference(claims_world, ids, reference, field):
    open_claims("MUG", 1, "VC10")
    with pytest.raises(ValidationError) as refused:
        vendor_claims.send_vendor_claims(ids, reference=reference)
    assert field in refused.value.errors


def test_a_claim_that_does_not_exist_is_not_found(claims_world):
    claim = open_claims("MUG", 1, "VC11")[0]
    with pytest.raises(NotFound):
        vendor_claims.send_vendor_claims([claim.id, 99999], reference="R")
    with pytest.raises(NotFound):
        vendor_claims.settle_vendor_claim(99999, credited="0")
    assert claim.status == "open"


def test_a_claim_whose_unit_left_the_damaged_stock_cannot_be_sent(claims_world):
    world = claims_world
    first, second = open_claims("MUG", 2, "VC12")
    dock = dock_location(world.warehouses["EAST"])
    ledger.post_move(world.skus["MUG"].id, 2, ledger.Place(dock, Status.DAMAGED), ledger.Place(ledger.outside(Outside.SCRAP)),
                     reason="scrap", cause=Cause("count", "C-1"))
    _db.session.commit()
    with pytest.raises(Conflict) as refused:
        vendor_claims.send_vendor_claims([first.id, second.id], reference="R-9")
    assert first.number in refused.value.message
    assert {first.status, second.status} == {"open"} and claim_events("vendor_claim.sent") == []


def test_a_settlement_entry_cannot_be_reversed_behind_the_claims_back(claims_world):
    claim = open_claims("MUG", 1, "VC13")[0]
    vendor_claims.send_vendor_claims([claim.id], reference="R-10")
    vendor_claims.settle_vendor_claim(claim.id, credited=str(claim.claimed))
    with pytest.raises(Conflict):
        finance.reverse_entry(claim.entry_id, reason="typo")
    assert claim.status == "settled"


def test_the_demo_takes_claims_through_every_state(claims_world):
    import random

    from app.services.demo_returns import _follow_up_claims
    claims = open_claims("MUG", 10, "W-DEMO")
    summary = _follow_up_claims(random.Random(7), {})
    by_status = {}
    for claim in claims:
        _db.session.refresh(claim)
        by_status.setdefault(claim.status, []).append(claim)
    assert summary == "10 vendor claims (5 sent, 4 settled)"
    assert {status: len(found) for status, found in by_status.items()} == {"open": 5, "sent": 1, "settled": 4}
    credited = [(c.credited, c.claimed, bool(c.note)) for c in by_status["settled"]]
    assert credited[0][0] == credited[0][1] and credited[1][0] == 0 and 0 < credited[2][0] < credited[2][1]
    assert all(c.reference.startswith("RA-") for c in by_status["sent"] + by_status["settled"])
