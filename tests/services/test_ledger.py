"""The stock ledger's services on a real database."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.domain.errors import InsufficientStock, ValidationError
from app.domain.inventory import Cause, Status
from app.extensions import db
from app.models import StockMove
from app.services import inventory, queries
from app.services.integrity import ledger_problems
from app.services.ledger import balance

PO = Cause("purchase_order", "PO-1")


def test_receiving_puts_units_on_the_shelf_as_available(world):
    sku, bin_ = world.skus["TEE-M"], world.bins["E0-1"]
    inventory.receive_stock(sku.id, bin_.id, 12, cause=PO)
    assert balance(sku.id, bin_.id, Status.AVAILABLE) == 12
    assert ledger_problems() == []


def test_receiving_into_quarantine_keeps_units_out_of_available(world):
    sku, bin_ = world.skus["MUG"], world.bins["E0-1"]
    inventory.receive_stock(sku.id, bin_.id, 5, cause=PO, status="quarantined")
    assert balance(sku.id, bin_.id, Status.QUARANTINED) == 5
    assert balance(sku.id, bin_.id, Status.AVAILABLE) == 0


def test_an_adjustment_below_zero_is_refused_and_changes_nothing(world):
    sku, bin_ = world.skus["TEE-M"], world.bins["E0-1"]
    inventory.receive_stock(sku.id, bin_.id, 3, cause=PO)
    with pytest.raises(InsufficientStock):
        inventory.adjust_stock(sku.id, bin_.id, -4, reason_code="theft_or_loss", user_id=None)
    assert balance(sku.id, bin_.id, Status.AVAILABLE) == 3
    assert db.session.scalar(select(StockMove).where(StockMove.reason == "adjustment")) is None


def test_an_adjustment_needs_a_reason_and_a_nonzero_whole_number(world):
    sku, bin_ = world.skus["TEE-M"], world.bins["E0-1"]
    with pytest.raises(ValidationError) as caught:
        inventory.adjust_stock(sku.id, bin_.id, 0, reason_code="because", user_id=None)
    assert set(caught.value.errors) == {"reason", "delta"}


def test_an_adjustment_records_who_why_and_the_cause(world, make_user):
    user = make_user("warehouse")
    sku, bin_ = world.skus["CAP"], world.bins["W1-2"]
    move = inventory.adjust_stock(sku.id, bin_.id, 7, reason_code="found", user_id=user.id, note="behind the racking")
    assert (move.user_id, move.cause_type, move.cause_id, move.note) == (user.id, "adjustment", "found", "behind the racking")
    assert balance(sku.id, bin_.id, Status.AVAILABLE) == 7


def test_a_transfer_moves_units_between_bins_and_keeps_the_total(world):
    sku, a, b = world.skus["MUG"], world.bins["E0-1"], world.bins["E1-2"]
    inventory.receive_stock(sku.id, a.id, 10, cause=PO)
    inventory.transfer_stock(sku.id, a.id, b.id, 4, user_id=None)
    assert (balance(sku.id, a.id, Status.AVAILABLE), balance(sku.id, b.id, Status.AVAILABLE)) == (6, 4)


def test_a_status_change_quarantines_units_in_place(world):
    sku, bin_ = world.skus["MUG"], world.bins["E0-1"]
    inventory.receive_stock(sku.id, bin_.id, 10, cause=PO)
    inventory.change_stock_status(sku.id, bin_.id, 2, "available", "quarantined", cause=Cause("count", "C-1"), user_id=None)
    assert balance(sku.id, bin_.id, Status.QUARANTINED) == 2
    assert balance(sku.id, bin_.id, Status.AVAILABLE) == 8


def test_reserving_takes_from_several_bins_and_is_all_or_nothing(world):
    sku, east = world.skus["TEE-M"], world.warehouses["EAST"]
    inventory.receive_stock(sku.id, world.bins["E0-1"].id, 3, cause=PO)
    inventory.receive_stock(sku.id, world.bins["E2-2"].id, 4, cause=PO)
    taken = inventory.reserve_stock(sku.id, east.id, 6, cause=Cause("shipment", 1))
    assert sum(q for _, q in taken) == 6
    with pytest.raises(InsufficientStock):
        inventory.reserve_stock(sku.id, east.id, 2, cause=Cause("shipment", 2))
    assert sum(balance(sku.id, b.id, Status.ALLOCATED) for b in (world.bins["E0-1"], world.bins["E2-2"])) == 6
    assert ledger_problems() == []


def test_releasing_gives_reserved_units_back(world):
    sku, east, bin_ = world.skus["TEE-M"], world.warehouses["EAST"], world.bins["E0-1"]
    inventory.receive_stock(sku.id, bin_.id, 5, cause=PO)
    inventory.reserve_stock(sku.id, east.id, 5, cause=Cause("shipment", 1))
    inventory.release_stock(sku.id, east.id, 2, cause=Cause("shipment", 1))
    assert (balance(sku.id, bin_.id, Status.AVAILABLE), balance(sku.id, bin_.id, Status.ALLOCATED)) == (2, 3)


def test_pick_then_ship_sends_units_to_the_customer(world):
    sku, east, bin_ = world.skus["MUG"], world.warehouses["EAST"], world.bins["E0-1"]
    inventory.receive_stock(sku.id, bin_.id, 5, cause=PO)
    inventory.reserve_stock(sku.id, east.id, 2, cause=Cause("shipment", 9))
    inventory.pick_stock(sku.id, bin_.id, 2, cause=Cause("shipment", 9))
    inventory.ship_stock(sku.id, bin_.id, 2, cause=Cause("shipment", 9))
    assert [balance(sku.id, bin_.id, s) for s in (Status.AVAILABLE, Status.ALLOCATED, Status.PICKED)] == [3, 0, 0]
    assert ledger_problems() == []


def test_picking_more_than_is_allocated_is_refused(world):
    sku, bin_ = world.skus["MUG"], world.bins["E0-1"]
    inventory.receive_stock(sku.id, bin_.id, 5, cause=PO)
    with pytest.raises(InsufficientStock):
        inventory.pick_stock(sku.id, bin_.id, 1, cause=Cause("shipment", 1))


def test_available_to_sell_counts_the_warehouses_serving_a_channel_less_its_buffer(world):
    sku = world.skus["TEE-M"]
    inventory.receive_stock(sku.id, world.bins["E0-1"].id, 10, cause=PO)
    inventory.receive_stock(sku.id, world.bins["W0-1"].id, 3, cause=PO)
    ats = {row["channel"]: row["available_to_sell"] for row in queries.available_to_sell(sku.id)}
    assert ats == {"WEB": 13 - 2, "AMZ": 3}


def test_every_move_names_its_cause_and_is_never_zero(world):
    sku, bin_ = world.skus["MUG"], world.bins["E0-1"]
    inventory.receive_stock(sku.id, bin_.id, 5, cause=PO)
    with pytest.raises(ValidationError):
        inventory.receive_stock(sku.id, bin_.id, 0, cause=PO)
    with pytest.raises(ValueError):
        Cause("", "x")
    assert all(m.cause_type and m.cause_id for m in db.session.scalars(select(StockMove)))


def test_money_columns_keep_exact_decimals(world):
    from decimal import Decimal
    from tests.factories import make_sku
    sku = make_sku("EXACT", price="19.99", cost="3.3333")
    db.session.commit()
    db.session.expire_all()
    assert (sku.price, sku.unit_cost) == (Decimal("19.99"), Decimal("3.3333"))
