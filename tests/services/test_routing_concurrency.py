"""On PostgreSQL: orders captured while a routing run is in flight never oversell."""
from __future__ import annotations

import threading

import pytest

from app.domain.inventory import Cause, Status
from app.services import inventory, orders, routing
from app.services.integrity import ledger_problems
from app.services.ledger import balance
from app.services.settings import set_setting
from tests.factories import make_rate_tables, order_draft

pytestmark = pytest.mark.postgres


def test_orders_captured_during_a_run_and_the_applied_plan_never_oversell(app, world):
    make_rate_tables(world)
    mug = world.skus["MUG"].id
    inventory.receive_stock(mug, world.bins["E0-1"].id, 6, cause=Cause("po", 1))
    inventory.receive_stock(mug, world.bins["W0-1"].id, 6, cause=Cause("po", 1))
    set_setting("orders.allocate_on_capture", False)
    for n in range(8):
        orders.capture_order("WEB", order_draft(f"WAIT-{n}", [("MUG", 1)], postcode=f"LS{n + 1} 1AA"), source="api")
    set_setting("orders.allocate_on_capture", True)
    run = routing.create_run(time_limit_s=5, auto_apply=True)
    errors = []

    def run_routing():
        from app.extensions import db
        with app.app_context():
            try:
                routing.execute_run(run.id)
            except Exception as exc:
                import traceback
                errors.append(traceback.format_exc())
            finally:
                db.session.remove()

    def capture_more(n):
        from app.extensions import db
        with app.app_context():
            try:
                orders.capture_order("WEB", order_draft(f"LIVE-{n}", [("MUG", 1)], postcode=f"M{n + 1} 1AA"), source="api")
            except Exception as exc:
                import traceback
                errors.append(traceback.format_exc())
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run_routing)] + [threading.Thread(target=capture_more, args=(n,)) for n in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    allocated = sum(balance(mug, world.bins[b].id, Status.ALLOCATED) for b in ("E0-1", "W0-1"))
    available = sum(balance(mug, world.bins[b].id, Status.AVAILABLE) for b in ("E0-1", "W0-1"))
    assert allocated + available == 12 and allocated <= 12
    from app.extensions import db
    from app.models.orders import OrderLine
    assert sum(l.qty_allocated for l in db.session.query(OrderLine)) == allocated
    assert ledger_problems() == []
