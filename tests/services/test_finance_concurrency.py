"""Real concurrency on PostgreSQL: shipments shipping at once get consecutive invoice numbers and take
distinct FIFO units; payments recorded at once get consecutive payment numbers; the books still balance."""
from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from app.domain.inventory import Outside
from app.models.finance import Invoice, Payment
from app.services import finance, ledger, orders
from app.services.finance_reports import trial_balance
from app.services.valuation import valuation_problems
from tests.concurrency import race
from tests.services.test_finance_flows import place_order, receive, ship

pytestmark = pytest.mark.postgres
WORKERS = 8


def _race(app, work, items) -> list[str]:
    from app.extensions import db
    for kind in Outside:  # virtual locations are made on first use; make them before the race
        ledger.outside(kind)
    db.session.commit()
    return race(app, items, work)  # a deadlock or a duplicate number is a failure of the books


def test_shipments_shipping_at_once_get_consecutive_invoice_numbers_and_distinct_fifo_units(app, world):
    receive(world, "MUG", "E0-1", 4, "2.0000")
    receive(world, "MUG", "E0-1", 4, "3.0000", cause=("purchase_order", "PO-2"))
    receive(world, "MUG", "E0-1", 20, "5.0000", cause=("purchase_order", "PO-3"))
    shipment_ids = [place_order(world, f"R{n}", [("MUG", 2)], postcode=f"R{n} 1AA").shipments[0].id
                    for n in range(WORKERS)]

    def ship_one(shipment_id):
        from app.extensions import db
        from app.models.orders import Shipment
        ship(db.session.get(Shipment, shipment_id))

    outcomes = _race(app, ship_one, shipment_ids)
    assert outcomes == ["done"] * WORKERS, outcomes
    from app.extensions import db
    numbers = sorted(db.session.scalars(select(Invoice.sequence)))
    assert numbers == list(range(1, WORKERS + 1))
    cogs = dict(finance_reports_balances())
    assert cogs[finance.Acct.COGS] == Decimal("4") * 2 + Decimal("4") * 3 + Decimal("8") * 5  # 16 units, oldest first
    assert valuation_problems() == [] and trial_balance().balanced


def finance_reports_balances():
    from app.services.finance_reports import account_balances
    return account_balances([finance.Acct.COGS, finance.Acct.INVENTORY]).items()


def test_payments_recorded_at_once_get_consecutive_numbers(app, world):
    receive(world, "MUG", "E0-1", 30, "2.0000")
    order_ids = []
    for n in range(WORKERS):
        order = place_order(world, f"P{n}", [("MUG", 1)], payment_captured=False, postcode=f"P{n} 1AA")
        orders.release_order_holds(order.id, user_id=None)
        ship(order.shipments[0])
        order_ids.append(order.id)

    outcomes = _race(app, lambda order_id: finance.record_payment(order_id, Decimal("10.00"), "TRANSFER"), order_ids)
    assert outcomes == ["done"] * WORKERS, outcomes
    from app.extensions import db
    numbers = sorted(int(n.split("-")[1]) for n in db.session.scalars(select(Payment.number)))
    assert numbers == list(range(1, WORKERS + 1)) and trial_balance().balanced
