"""The demo retailer seeds cleanly on both databases and leaves every book balanced."""
from __future__ import annotations

from sqlalchemy import func, select

from app.extensions import db
from app.models import Sku, User, Warehouse
from app.models.orders import Order
from app.services.demo import seed_demo_data
from app.services.integrity import ledger_problems


def test_the_demo_seeds_every_area_and_the_ledger_stays_true(db):
    summary = seed_demo_data(orders=120)
    assert "Seeded Harbour & Pine" in summary
    assert db.session.scalar(select(func.count(Warehouse.id))) == 4
    assert db.session.scalar(select(func.count(Sku.id))) >= 200
    assert db.session.scalar(select(func.count(User.id))) >= 7
    statuses = set(db.session.scalars(select(Order.status).distinct()))
    assert {"allocated", "on_hold", "shipped"} <= statuses, statuses
    assert ledger_problems() == []
    try:
        from app.services.valuation import valuation_problems
    except ImportError:
        return
    assert valuation_problems() == []
