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


def test_an_api_order_cancelled_by_a_deadlock_is_captured_on_the_next_attempt(app, world, caplog):
    """Another transaction takes the order's SKUs in the opposite order: PostgreSQL cancels the capture to break
    the deadlock, and the capture runs again instead of failing."""
    import json
    import threading
    import time

    from sqlalchemy import text

    from app.extensions import db
    from app.services.intake import capture_api_order
    first, second = sorted((world.skus["TEE-M"].id, world.skus["MUG"].id))
    for sku_id in (first, second):
        inventory.receive_stock(sku_id, world.bins["E0-1"].id, 5, cause=Cause("po", "PO-1"))
    lock = text("UPDATE stock_balances SET qty = qty WHERE sku_id = :sku AND status = 'available'")
    holding, done = threading.Event(), threading.Event()
    engine = db.engine

    def other_transaction():
        with engine.connect() as connection:
            connection.execute(lock, {"sku": second})
            holding.set()
            waiting = text("SELECT count(*) FROM pg_locks WHERE NOT granted")  # live, unlike pg_stat_activity
            deadline = time.monotonic() + 20
            while not connection.execute(waiting).scalar() and time.monotonic() < deadline:
                time.sleep(0.05)  # until the capture has taken `first` and waits for `second`
            connection.execute(lock, {"sku": first})  # waits for the capture: a deadlock
            connection.commit()
        done.set()

    body = {"channel": "WEB", "external_id": "DEADLOCK-1", "customer_email": "ann@example.com",
            "ship_to": {"name": "Ann", "address1": "1 High St", "city": "York", "postcode": "YO1 7HH", "country": "GB"},
            "lines": [{"sku": "TEE-M", "qty": 1, "unit_price": "18.00"}, {"sku": "MUG", "qty": 1, "unit_price": "9.00"}]}
    thread = threading.Thread(target=other_transaction)
    thread.start()
    assert holding.wait(10)
    captured = capture_api_order(json.dumps(body), user_id=None)
    thread.join(30)
    assert done.is_set()
    assert captured.created and captured.order.status == "allocated"
    assert "cancelled by the database (40P01)" in caplog.text
    assert ledger_problems() == []
