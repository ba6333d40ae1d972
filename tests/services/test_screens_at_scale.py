"""Dashboard read models that must cost the same at any size: capped queue counts, the stock summary, search indexes."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import text

from app.domain.inventory import Cause
from app.extensions import db as _db
from app.services import exceptions, inventory, queries
from tests.services.test_kpis import new_customer_order


def east(summary):
    return next(w for w in summary if w["code"] == "EAST")


def test_a_queue_longer_than_the_cap_says_so_and_still_dates_its_oldest(world, monkeypatch):
    for n, days in enumerate((3, 9, 5)):
        late = new_customer_order(f"L{n}", [("CAP", 1)])
        late.promised_ship_date = date.today() - timedelta(days=days)
    _db.session.commit()
    monkeypatch.setattr(exceptions, "COUNT_CAP", 2)
    summary = exceptions.summarise(exceptions.get_queue("late_orders"))
    assert summary.capped and summary.shown == "2+"
    assert summary.oldest == exceptions.day_end(date.today() - timedelta(days=9))  # overdue since that day ended
    monkeypatch.setattr(exceptions, "COUNT_CAP", 1000)
    exact = exceptions.summarise(exceptions.get_queue("late_orders"))
    assert exact.count == 3 and not exact.capped and exact.shown == "3"


def test_the_stock_summary_follows_every_move_and_cost_change(world):
    tee, mug = world.skus["TEE-M"], world.skus["MUG"]
    inventory.receive_stock(tee.id, world.bins["E0-1"].id, 10, cause=Cause("po", 1))
    first = east(queries.stock_summary_by_warehouse())
    assert first["units"]["available"] == 10
    assert east(queries.stock_summary_by_warehouse()) == first  # nothing moved: the same figures
    inventory.receive_stock(mug.id, world.bins["E0-1"].id, 4, cause=Cause("po", 2))
    assert east(queries.stock_summary_by_warehouse())["units"]["available"] == 14
    before = east(queries.stock_summary_by_warehouse())["value"]["available"]
    tee.unit_cost = tee.unit_cost + Decimal("1.0000")
    _db.session.commit()
    assert east(queries.stock_summary_by_warehouse())["value"]["available"] == before + Decimal("10")


@pytest.mark.postgres  # trigram indexes exist on PostgreSQL only
def test_postgresql_searches_names_and_emails_through_trigram_indexes(app, db):
    names = set(db.session.scalars(text("SELECT indexname FROM pg_indexes WHERE tablename = 'orders'")))
    assert {"ix_orders_customer_name_trgm", "ix_orders_customer_email_trgm", "ix_orders_open_promise"} <= names
    db.session.execute(text("SET LOCAL enable_seqscan = off"))
    plan = "\n".join(db.session.scalars(text(
        "EXPLAIN SELECT id FROM orders WHERE customer_name ILIKE '%ughe%' OR customer_email ILIKE '%ughe%'")))
    db.session.rollback()
    assert "ix_orders_customer_name_trgm" in plan and "ix_orders_customer_email_trgm" in plan


def test_stock_sums_are_summed_again_once_they_are_older_than_the_limit(world, monkeypatch):
    # A move that commits after one with a higher id leaves the last move unchanged; the age limit catches it.
    inventory.receive_stock(world.skus["MUG"].id, world.bins["E0-1"].id, 5, cause=Cause("po", 1))
    assert east(queries.stock_summary_by_warehouse())["units"]["available"] == 5
    _db.session.execute(text("UPDATE stock_balances SET qty = qty + 2"))
    _db.session.commit()
    assert east(queries.stock_summary_by_warehouse())["units"]["available"] == 5  # same last move, still fresh
    monkeypatch.setattr(queries, "STOCK_SUMS_MAX_AGE", 0.0)
    assert east(queries.stock_summary_by_warehouse())["units"]["available"] == 7
