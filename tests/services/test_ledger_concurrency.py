"""Real concurrency on PostgreSQL: many workers, one scarce SKU."""
from __future__ import annotations

import threading

import pytest

from app.domain.errors import InsufficientStock
from app.domain.inventory import Cause, Status
from app.services import inventory
from app.services.integrity import ledger_problems
from app.services.ledger import balance

pytestmark = pytest.mark.postgres


def test_twenty_workers_racing_for_the_last_five_units_reserve_exactly_five(app, world):
    sku_id, warehouse_id = world.skus["TEE-M"].id, world.warehouses["EAST"].id
    bins = [world.bins["E0-1"].id, world.bins["E1-1"].id]
    inventory.receive_stock(sku_id, bins[0], 3, cause=Cause("po", 1))
    inventory.receive_stock(sku_id, bins[1], 2, cause=Cause("po", 1))
    outcomes: list[str] = []
    start = threading.Barrier(20)

    def worker(n: int):
        from app.extensions import db
        with app.app_context():
            start.wait()
            try:
                inventory.reserve_stock(sku_id, warehouse_id, 1, cause=Cause("shipment", n))
                outcomes.append("reserved")
            except InsufficientStock:
                outcomes.append("refused")
            except Exception as exc:  # any other error (serialization, deadlock) is a failure of the ledger
                outcomes.append(f"error: {exc!r}")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(set(outcomes)) == ["refused", "reserved"], outcomes
    assert outcomes.count("reserved") == 5
    assert sum(balance(sku_id, b, Status.ALLOCATED) for b in bins) == 5
    assert sum(balance(sku_id, b, Status.AVAILABLE) for b in bins) == 0
    assert ledger_problems() == []
