"""Order capture, holds, allocation by channel rules, backorders and cancellation, on a real session."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.domain.capture import Address, CancellationDraft, LineDraft, MappingError, OrderDraft
from app.domain.errors import Conflict, InvalidTransition, NotFound, ValidationError
from app.domain.inventory import Cause, Status
from app.extensions import db as database
from app.models import Event
from app.models.orders import Order, OrderTransition
from app.services import inventory, orders
from app.services.integrity import ledger_problems
from app.services.ledger import balance
from app.services.settings import set_setting

PLACED = datetime(2026, 3, 2, 9, 30, tzinfo=timezone.utc)  # a Monday


def draft(external_id="E-1", lines=(("TEE-M", 2),), *, total=None, captured=True, billing=None, updated_at=None,
          cancelled_at=None, address=None, priority=1, placed_at=PLACED) -> OrderDraft:
    line_drafts = tuple(LineDraft(sku, qty, Decimal("10.00")) for sku, qty in lines)
    amount = total if total is not None else sum((Decimal("10.00") * qty for _, qty in lines), Decimal("0"))
    return OrderDraft(external_id=external_id, number=f"#{external_id}", currency="GBP", placed_at=placed_at,
                      updated_at=updated_at, customer_name="Amelia Hughes", customer_email="amelia@example.co.uk",
                      ship_to=address or Address(name="Amelia Hughes", address1=f"{external_id} Orchard Lane", city="Bath",
                                                 postcode="BA1 2QT", country="GB"),
                      billing_country=billing, payment_captured=captured, lines=line_drafts,
                      shipping=Decimal("0"), shipping_tax=Decimal("0"), order_discount=Decimal("0"), total=amount,
                      priority=priority, cancelled_at=cancelled_at)


def stock(world, sku, bin_code, qty):
    inventory.receive_stock(world.skus[sku].id, world.bins[bin_code].id, qty, cause=Cause("po", "PO-1"))


def allocated_in(world, sku, bin_code):
    return balance(world.skus[sku].id, world.bins[bin_code].id, Status.ALLOCATED)


def test_a_captured_order_records_its_transitions_and_promise(world):
    stock(world, "TEE-M", "E0-1", 5)
    order = orders.capture_order("WEB", draft(), source="api").order
    assert order.number == f"SO-{order.id:06d}" and order.channel_number == "#E-1"
    assert [(t.from_status, t.to_status) for t in order.transitions] == [
        (None, "received"), ("received", "ready"), ("ready", "allocated")]
    assert order.promised_ship_date.isoformat() == "2026-03-04"  # two working days
    events = [e.type for e in database.session.scalars(select(Event).where(Event.subject_id == order.number))]
    assert events == ["order.received", "order.ready", "order.allocated"]


def test_capturing_the_same_external_id_twice_makes_one_order(world):
    first = orders.capture_order("WEB", draft(), source="api")
    second = orders.capture_order("WEB", draft(), source="api")
    assert first.created and not second.created and second.outcome == "duplicate"
    assert second.order.id == first.order.id
    assert database.session.query(Order).count() == 1


def test_an_unknown_sku_is_a_mapping_error_and_writes_nothing(world):
    with pytest.raises(MappingError) as error:
        orders.capture_order("WEB", draft(lines=(("TEE-M", 1), ("NOPE", 1))), source="api")
    assert error.value.field == "lines[1].sku"
    assert database.session.query(Order).count() == 0


def test_an_unknown_channel_is_not_found(world):
    with pytest.raises(NotFound):
        orders.capture_order("NOPE", draft(), source="api")


@pytest.mark.parametrize("kwargs, kind", [
    ({"captured": False}, "payment"),
    ({"total": Decimal("2000.00")}, "fraud_value"),
    ({"billing": "FR"}, "fraud_country"),
    ({"address": Address(name="A", address1="1 Road", city="Bath", country="GB")}, "address"),
])
def test_each_hold_rule_holds_the_order_with_its_reason_and_reserves_nothing(world, kwargs, kind):
    stock(world, "TEE-M", "E0-1", 5)
    order = orders.capture_order("WEB", draft(**kwargs), source="api").order
    assert order.status == "on_hold"
    assert [h.kind for h in order.open_holds] == [kind] and order.open_holds[0].reason
    assert allocated_in(world, "TEE-M", "E0-1") == 0


def test_many_orders_to_one_address_in_a_short_time_are_held(world):
    same = Address(name="Ann", address1="1 Mill Street", city="Leeds", postcode="LS1 4AB", country="GB")
    statuses = [orders.capture_order("WEB", draft(f"V-{n}", address=same), source="api").order.status for n in range(5)]
    assert statuses[:3] == ["backordered"] * 3
    assert statuses[3:] == ["on_hold"] * 2


def test_hold_thresholds_come_from_settings(world):
    set_setting("holds.max_order_value", "15.00")
    assert orders.capture_order("WEB", draft(), source="api").order.status == "on_hold"
    set_setting("holds.require_payment_captured", False)
    assert orders.capture_order("WEB", draft("E-2", lines=(("MUG", 1),), captured=False), source="api").order.status != "on_hold"


def test_releasing_a_hold_allocates_and_names_who_released_it(world, make_user):
    user = make_user("retail")
    stock(world, "TEE-M", "E0-1", 5)
    order = orders.capture_order("WEB", draft(captured=False), source="api").order
    released = orders.release_order_holds(order.id, user_id=user.id, note="card charged by phone")
    assert released.status == "allocated"
    hold = released.holds[0]
    assert hold.released_by_id == user.id and hold.release_note == "card charged by phone"
    transition = database.session.scalar(select(OrderTransition).where(OrderTransition.to_status == "ready",
                                                                       OrderTransition.user_id == user.id))
    assert transition.reason == "card charged by phone"


def test_releasing_an_order_that_is_not_held_is_a_conflict(world, make_user):
    order = orders.capture_order("WEB", draft(), source="api").order
    with pytest.raises(Conflict):
        orders.release_order_holds(order.id, user_id=make_user("retail").id)


def test_holding_an_allocated_order_gives_its_stock_back(world, make_user):
    stock(world, "TEE-M", "E0-1", 5)
    order = orders.capture_order("WEB", draft(), source="api").order
    held = orders.hold_order(order.id, reason="customer changing address", user_id=make_user("retail").id)
    assert held.status == "on_hold" and allocated_in(world, "TEE-M", "E0-1") == 0
    assert all(s.status == "cancelled" for s in held.shipments)
    with pytest.raises(ValidationError):
        orders.hold_order(order.id, reason="  ", user_id=None)
    assert ledger_problems() == []


def test_ship_complete_channel_takes_the_whole_order_from_one_warehouse_or_waits(world):
    world.channels["WEB"].ship_complete = True
    database.session.commit()
    stock(world, "TEE-M", "E0-1", 2)
    stock(world, "MUG", "W0-1", 1)
    order = orders.capture_order("WEB", draft(lines=(("TEE-M", 2), ("MUG", 1))), source="api").order
    assert order.status == "backordered" and not order.shipments
    stock(world, "TEE-M", "W1-1", 2)
    assert orders.fill_backorders() == 1
    database.session.refresh(order)
    assert order.status == "allocated" and [s.warehouse.code for s in order.shipments] == ["WEST"]


def test_a_split_channel_reserves_from_its_ranked_warehouses_in_turn(world):
    stock(world, "TEE-M", "E0-1", 1)
    stock(world, "TEE-M", "W0-1", 3)
    order = orders.capture_order("WEB", draft(lines=(("TEE-M", 3),)), source="api").order
    assert order.status == "allocated"
    assert {s.warehouse.code: s.units for s in order.shipments} == {"EAST": 1, "WEST": 2}


def test_partially_allocated_then_filled_when_stock_arrives(world):
    stock(world, "TEE-M", "E0-1", 1)
    order = orders.capture_order("WEB", draft(lines=(("TEE-M", 3),)), source="api").order
    assert order.status == "partially_allocated" and order.lines[0].qty_waiting == 2
    stock(world, "TEE-M", "E1-1", 5)
    orders.fill_backorders({world.skus["TEE-M"].id})
    database.session.refresh(order)
    assert order.status == "allocated" and order.lines[0].qty_allocated == 3


def test_backorders_fill_highest_priority_then_oldest_first(world):
    early = orders.capture_order("WEB", draft("OLD", placed_at=PLACED), source="api").order
    urgent = orders.capture_order("WEB", draft("URGENT", placed_at=PLACED + timedelta(days=1), priority=5), source="api").order
    late = orders.capture_order("WEB", draft("NEW", placed_at=PLACED + timedelta(days=2)), source="api").order
    stock(world, "TEE-M", "E0-1", 4)
    orders.fill_backorders()
    for order in (early, urgent, late):
        database.session.refresh(order)
    assert (urgent.status, early.status, late.status) == ("allocated", "allocated", "backordered")


def test_cancelling_releases_every_reservation_and_refuses_a_second_time(world):
    stock(world, "TEE-M", "E0-1", 5)
    order = orders.capture_order("WEB", draft(), source="api").order
    cancelled = orders.cancel_order(order.id, reason="customer asked")
    assert cancelled.status == "cancelled" and allocated_in(world, "TEE-M", "E0-1") == 0
    assert balance(world.skus["TEE-M"].id, world.bins["E0-1"].id, Status.AVAILABLE) == 5
    with pytest.raises(Conflict):
        orders.cancel_order(order.id, reason="again")
    assert ledger_problems() == []


def test_a_channel_cancellation_of_a_known_order_cancels_it(world):
    order = orders.capture_order("WEB", draft(), source="api").order
    orders.cancel_channel_order("WEB", CancellationDraft("E-1", reason="deleted"))
    database.session.refresh(order)
    assert order.status == "cancelled" and "deleted" in order.cancel_reason
    with pytest.raises(NotFound):
        orders.cancel_channel_order("WEB", CancellationDraft("E-404"))


def test_a_newer_channel_update_applies_and_an_older_one_is_stale(world):
    first = orders.capture_order("WEB", draft(captured=False, updated_at=PLACED), source="shopify").order
    assert first.status == "on_hold"
    paid = orders.capture_order("WEB", draft(captured=True, updated_at=PLACED + timedelta(hours=1)), source="shopify")
    assert paid.outcome == "updated" and paid.order.status == "backordered" and paid.order.payment_captured
    stale = orders.capture_order("WEB", draft(captured=False, updated_at=PLACED + timedelta(minutes=5)), source="shopify")
    assert stale.outcome == "stale" and stale.order.payment_captured


def test_an_order_can_be_kept_received_and_checked_later(world):
    from app.services.orders import record_capture
    captured = record_capture("WEB", draft(), source="csv", validate=False)
    database.session.commit()
    assert captured.order.status == "received"
    checked = orders.validate_order(captured.order.id)
    assert checked.status == "backordered"
    with pytest.raises(Conflict):
        orders.validate_order(captured.order.id)


def test_the_state_graph_refuses_moves_it_does_not_allow(world):
    order = orders.capture_order("WEB", draft(), source="api").order
    with pytest.raises(InvalidTransition):
        orders.move_order(order, "shipped")
    with pytest.raises(Conflict):
        orders.allocate_order(orders.cancel_order(order.id, reason="x").id)


def test_an_order_with_picked_units_cannot_be_held_or_cancelled(world):
    stock(world, "TEE-M", "E0-1", 5)
    order = orders.capture_order("WEB", draft(), source="api").order
    order.shipments[0].lines[0].qty_picked = 1
    database.session.commit()
    with pytest.raises(Conflict):
        orders.hold_order(order.id, reason="check", user_id=None)
    with pytest.raises(Conflict):
        orders.cancel_order(order.id, reason="x")
