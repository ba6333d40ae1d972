"""Random interleavings of capture, hold, release, cancel, allocation and backorder fill keep the books straight."""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, rule
from sqlalchemy import delete, func, select

from app.domain.capture import Address, LineDraft, OrderDraft
from app.domain.errors import DomainError
from app.domain.inventory import Cause, Status
from app.domain.orders import OrderStatus
from app.extensions import db as database
from app.models import Event, StockBalance, StockMove
from app.models.orders import (InboundDelivery, Order, OrderHold, OrderLine, OrderTransition, Shipment, ShipmentBin,
                               ShipmentLine)
from app.services import inventory, orders
from app.services.integrity import ledger_problems

SKUS = ["TEE-M", "MUG", "CAP"]
BINS = ["E0-1", "E1-2", "W0-1", "W1-2"]
START = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


def _wipe_orders() -> None:
    for model in (ShipmentBin, ShipmentLine, OrderTransition, InboundDelivery, OrderHold, OrderLine, Shipment, Order,
                  StockMove, StockBalance, Event):
        database.session.execute(delete(model))
    database.session.commit()


def allocated_balances() -> dict[int, int]:
    rows = database.session.execute(select(StockBalance.sku_id, func.sum(StockBalance.qty))
                                    .where(StockBalance.status == Status.ALLOCATED.value).group_by(StockBalance.sku_id))
    return {sku_id: int(qty) for sku_id, qty in rows if qty}


def allocated_on_lines() -> dict[int, int]:
    rows = database.session.execute(select(OrderLine.sku_id, func.sum(OrderLine.qty_allocated)).group_by(OrderLine.sku_id))
    return {sku_id: int(qty) for sku_id, qty in rows if qty}


@pytest.fixture()
def order_machine(world):
    class OrderMachine(RuleBasedStateMachine):
        placed = Bundle("orders")

        @initialize()
        def clear(self):
            _wipe_orders()
            self.serial = 0

        def _do(self, fn, *args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except DomainError:
                return None  # refused operations must change nothing; the invariants check that

        @rule(target=placed, channel=st.sampled_from(["WEB", "AMZ"]),
              lines=st.lists(st.tuples(st.sampled_from(SKUS), st.integers(1, 6)), min_size=1, max_size=3),
              captured=st.booleans(), priority=st.integers(1, 3))
        def capture(self, channel, lines, captured, priority):
            self.serial += 1
            address = Address(name="Test Buyer", address1=f"{self.serial} Dock Road", city="Hull", postcode="HU1 1AA",
                              country="GB")
            draft = OrderDraft(external_id=f"P-{self.serial}", number=None, currency="GBP",
                               placed_at=START + timedelta(minutes=self.serial), updated_at=None, customer_name="Test Buyer",
                               customer_email=None, ship_to=address, billing_country=None, payment_captured=captured,
                               lines=tuple(LineDraft(sku, qty, Decimal("5.00")) for sku, qty in lines),
                               shipping=Decimal("0"), shipping_tax=Decimal("0"), order_discount=Decimal("0"),
                               total=Decimal("5.00") * sum(q for _, q in lines), priority=priority)
            return orders.capture_order(channel, draft, source="api").order.id

        @rule(sku=st.sampled_from(SKUS), bin_=st.sampled_from(BINS), qty=st.integers(1, 8))
        def receive(self, sku, bin_, qty):
            inventory.receive_stock(world.skus[sku].id, world.bins[bin_].id, qty, cause=Cause("po", "PO-1"))

        @rule()
        def fill_backorders(self):
            orders.fill_backorders()

        @rule(order_id=placed)
        def allocate(self, order_id):
            self._do(orders.allocate_order, order_id)

        @rule(order_id=placed)
        def cancel(self, order_id):
            self._do(orders.cancel_order, order_id, reason="property test")

        @rule(order_id=placed)
        def hold(self, order_id):
            self._do(orders.hold_order, order_id, reason="property test", user_id=None)

        @rule(order_id=placed)
        def release(self, order_id):
            self._do(orders.release_order_holds, order_id, user_id=None)

        @invariant()
        def the_ledger_balances(self):
            assert ledger_problems() == []

        @invariant()
        def lines_allocated_equal_allocated_stock(self):
            assert allocated_on_lines() == allocated_balances()

        @invariant()
        def order_status_agrees_with_its_lines(self):
            for order in database.session.scalars(select(Order)):
                reserved = sum(line.qty_allocated for line in order.lines)
                if order.status in (OrderStatus.CANCELLED, OrderStatus.ON_HOLD, OrderStatus.RECEIVED, OrderStatus.READY):
                    assert reserved == 0, (order.number, order.status)
                elif order.status == OrderStatus.ALLOCATED:
                    assert all(line.qty_allocated == line.qty for line in order.lines)
                elif order.status == OrderStatus.BACKORDERED:
                    assert reserved == 0
                elif order.status == OrderStatus.PARTIALLY_ALLOCATED:
                    assert 0 < reserved < order.units

        @invariant()
        def live_shipment_lines_hold_exactly_the_reserved_units(self):
            live = defaultdict(int)
            for line in database.session.scalars(select(ShipmentLine).join(Shipment).where(Shipment.status != "cancelled")):
                live[line.order_line_id] += line.qty
                assert sum(b.qty for b in line.bins) == line.qty
            lines = {line.id: line.qty_allocated for line in database.session.scalars(select(OrderLine))}
            assert {k: v for k, v in lines.items() if v} == {k: v for k, v in live.items() if v}

    return OrderMachine


def test_random_order_operations_keep_the_ledger_and_the_order_lines_in_step(order_machine):
    order_machine.TestCase.settings = settings(max_examples=30, stateful_step_count=25, deadline=None,
                                               suppress_health_check=list(HealthCheck))
    order_machine.TestCase().runTest()
