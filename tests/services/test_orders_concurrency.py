"""Real concurrency on PostgreSQL: fifty orders captured at once compete for ten units."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.domain.capture import Address, LineDraft, OrderDraft
from app.domain.inventory import Cause, Status
from app.models import StockBalance
from app.models.orders import Order, OrderLine
from app.services import inventory, orders
from app.services.integrity import ledger_problems
from tests.concurrency import race

pytestmark = pytest.mark.postgres
WORKERS = 50


def one_unit_order(n: int) -> OrderDraft:
    return OrderDraft(external_id=f"RACE-{n}", number=None, currency="GBP",
                      placed_at=datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc), updated_at=None,
                      customer_name=f"Buyer {n}", customer_email=None,
                      ship_to=Address(name=f"Buyer {n}", address1=f"{n} Race Street", city="York", postcode="YO1 7HH",
                                      country="GB"),
                      billing_country=None, payment_captured=True, lines=(LineDraft("TEE-M", 1, Decimal("18.00")),),
                      shipping=Decimal("0"), shipping_tax=Decimal("0"), order_discount=Decimal("0"), total=Decimal("18.00"))


def test_fifty_concurrent_orders_for_ten_units_allocate_exactly_ten(app, world):
    from app.extensions import db
    sku_id = world.skus["TEE-M"].id
    for bin_code, qty in (("E0-1", 4), ("E1-2", 3), ("W0-1", 3)):
        inventory.receive_stock(sku_id, world.bins[bin_code].id, qty, cause=Cause("po", "PO-1"))
    # any error (deadlock, serialization, unique violation) is a failure
    outcomes = race(app, range(WORKERS),
                    lambda n: orders.capture_order("WEB", one_unit_order(n), source="api").order.status)
    assert not [o for o in outcomes if o.startswith("error")], outcomes
    assert outcomes.count("allocated") == 10 and outcomes.count("backordered") == WORKERS - 10
    assert db.session.scalar(select(func.sum(OrderLine.qty_allocated))) == 10
    assert db.session.scalar(select(func.sum(StockBalance.qty)).where(StockBalance.status == Status.ALLOCATED.value)) == 10
    assert db.session.scalar(select(func.sum(StockBalance.qty)).where(StockBalance.status == Status.AVAILABLE.value)) == 0
    assert db.session.scalar(select(func.count(Order.id))) == WORKERS
    assert ledger_problems() == []
