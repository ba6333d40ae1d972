"""Real concurrency on PostgreSQL: receipts racing on one purchase order, buyers racing to draft one suggestion."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.domain.errors import DomainError
from app.domain.inventory import Status
from app.extensions import db as database
from app.models.purchasing import PurchaseOrder, PurchaseOrderLine, ReplenishmentLine
from app.services import purchasing, replenishment
from app.services.integrity import ledger_problems
from app.services.purchasing import ReceiveInput
from tests.concurrency import race
from tests.services.test_purchasing import make_supplier, offer, on_dock, sent_po
from tests.services.test_replenishment import steady_demand

pytestmark = pytest.mark.postgres


def test_ten_receipts_racing_on_one_order_count_every_unit_once_and_stop_at_the_tolerance(app, world):
    po = sent_po(world, make_supplier(), [("MUG", 50, "2.00")])
    po_id, mug = po.id, world.skus["MUG"].id
    outcomes = race(app, range(10),
                    lambda n: purchasing.receive_purchase_order(po_id, [ReceiveInput(mug, 6)], user_id=None),
                    refusals=(DomainError,))
    database.session.expire_all()
    line = database.session.scalars(select(PurchaseOrderLine).where(PurchaseOrderLine.po_id == po_id)).one()
    # 55 units are allowed (10% over 50): nine receipts of 6 fit, the tenth is refused
    assert sorted(outcomes) == ["ValidationError"] + ["done"] * 9, outcomes
    assert line.qty_received == 54 and on_dock(world, "MUG", Status.AVAILABLE) == 54
    assert ledger_problems() == []


def test_two_buyers_drafting_the_same_suggestion_make_one_order(app, world):
    supplier = make_supplier()
    offer(supplier, world.skus["MUG"], "2.0000")
    steady_demand(world, days=30)
    run = replenishment.run_replenishment()
    line_id = database.session.scalars(select(ReplenishmentLine.id).where(ReplenishmentLine.run_id == run.id)).one()
    outcomes = race(app, range(2), lambda n: replenishment.draft_from_suggestions([line_id], user_id=None),
                    refusals=(DomainError,))
    assert sorted(outcomes) == ["ValidationError", "done"], outcomes
    assert database.session.scalar(select(func.count(PurchaseOrder.id))) == 1
