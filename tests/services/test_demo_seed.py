"""The demo retailer seeds cleanly on both databases, even at a small size, leaves every book balanced, and every
area has something to show."""
from __future__ import annotations

from sqlalchemy import func, select

from app.extensions import db
from app.models import Sku, User, Warehouse
from app.models.carriers import Carrier
from app.models.finance import Invoice, JournalEntry
from app.models.kpis import KpiSnapshot
from app.models.orders import Order, Shipment
from app.models.purchasing import PurchaseOrder, Receipt, ReplenishmentRun
from app.models.returns import Rma
from app.models.warehouse_ops import WavePlan
from app.services.demo import seed_demo_data
from app.services.finance_reports import trial_balance
from app.services.integrity import ledger_problems
from app.services.valuation import valuation_problems


def count(column, *where) -> int:
    return db.session.scalar(select(func.count(column)).where(*where)) or 0


def test_a_small_demo_seeds_every_area_and_the_ledger_stays_true(db):
    summary = seed_demo_data(orders=30)
    assert "Seeded Harbour & Pine" in summary
    assert count(Warehouse.id) == 4 and count(Sku.id) >= 200 and count(User.id) >= 7

    statuses = set(db.session.scalars(select(Order.status).distinct()))
    assert count(Order.id) >= 30 and {"allocated", "shipped"} <= statuses, statuses
    assert count(PurchaseOrder.id) and count(Receipt.id), "purchasing has no history"
    assert count(Carrier.id) and count(WavePlan.id), "the warehouse has no carriers or wave plan"
    assert count(Shipment.id, Shipment.status == "shipped", Shipment.tracking_number != "") >= 4
    assert count(Rma.id) >= 3, f"returns has nothing to show: {summary}"
    assert count(Invoice.id) and count(JournalEntry.id), "finance has no books"
    assert count(ReplenishmentRun.id) and count(KpiSnapshot.id), "no replenishment run or KPI trends"

    assert ledger_problems() == []
    assert valuation_problems() == []
    assert trial_balance().balanced
