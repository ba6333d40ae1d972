"""Real concurrency on PostgreSQL: many workers, one scarce SKU."""
from __future__ import annotations

import pytest

from app.domain.errors import InsufficientStock
from app.domain.inventory import Cause, Status
from app.services import inventory
from app.services.integrity import ledger_problems
from app.services.ledger import balance
from tests.concurrency import race

pytestmark = pytest.mark.postgres


def test_twenty_workers_racing_for_the_last_five_units_reserve_exactly_five(app, world):
    sku_id, warehouse_id = world.skus["TEE-M"].id, world.warehouses["EAST"].id
    bins = [world.bins["E0-1"].id, world.bins["E1-1"].id]
    inventory.receive_stock(sku_id, bins[0], 3, cause=Cause("po", 1))
    inventory.receive_stock(sku_id, bins[1], 2, cause=Cause("po", 1))
    # any error other than InsufficientStock (serialization, deadlock) is a failure of the ledger
    outcomes = race(app, range(20),
                    lambda n: inventory.reserve_stock(sku_id, warehouse_id, 1, cause=Cause("shipment", n)),
                    refusals=(InsufficientStock,))
    assert sorted(set(outcomes)) == ["InsufficientStock", "done"], outcomes
    assert outcomes.count("done") == 5
    assert sum(balance(sku_id, b, Status.ALLOCATED) for b in bins) == 5
    assert sum(balance(sku_id, b, Status.AVAILABLE) for b in bins) == 0
    assert ledger_problems() == []
