"""Supplier performance against hand-computed figures: fill rate, on-time rate, lead time, price variance."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from app.extensions import db as database
from app.models.types import utcnow
from app.services import purchasing
from app.services.purchasing import ReceiveInput
from app.services.purchasing_queries import lead_time_history, local_date, supplier_performance, supplier_ranking
from tests.services.test_purchasing import make_supplier, offer, sent_po


def backdate(po, sent_days_ago: int, promised_after: int = 10):
    po.sent_at = utcnow() - timedelta(days=sent_days_ago)
    po.promised_date = local_date(po.sent_at) + timedelta(days=promised_after)
    database.session.commit()


def receive(world, po, lines, *, days_after_sending: int, costs=None):
    receipt = purchasing.receive_purchase_order(
        po.id, [ReceiveInput(world.skus[sku].id, qty, unit_cost=(costs or {}).get(sku)) for sku, qty in lines],
        user_id=None)
    receipt.received_at = po.sent_at + timedelta(days=days_after_sending)
    database.session.commit()
    return receipt


@pytest.fixture()
def history(world):
    """Three orders in the last 90 days (one early and short, one late and complete, one not yet due) and one older."""
    supplier = make_supplier()
    offer(supplier, world.skus["MUG"], "2.0000")
    offer(supplier, world.skus["CAP"], "3.0000")
    first = sent_po(world, supplier, [("MUG", 10, None), ("CAP", 10, None)])
    backdate(first, 30)
    receive(world, first, [("MUG", 10), ("CAP", 6)], days_after_sending=8, costs={"MUG": Decimal("2.20")})
    purchasing.close_purchase_order(first.id, user_id=None)
    second = sent_po(world, supplier, [("MUG", 20, None)])
    backdate(second, 20)
    receive(world, second, [("MUG", 20)], days_after_sending=13)
    third = sent_po(world, supplier, [("CAP", 5, None)])
    backdate(third, 5)
    old = sent_po(world, supplier, [("CAP", 50, None)])
    backdate(old, 200)
    receive(world, old, [("CAP", 1)], days_after_sending=40, costs={"CAP": Decimal("9.00")})
    return supplier


def test_performance_figures_match_the_hand_computed_values(history):
    figures = supplier_performance(history, utcnow() - timedelta(days=90), purchasing.local_today())
    assert (figures.orders, figures.receipts) == (3, 2)
    assert (figures.units_ordered, figures.units_received) == (45, 36)
    # due orders: the first (closed) and the second (received): min(10,10) + min(6,10) + min(20,20) = 36 of 40
    assert figures.fill_rate == pytest.approx(36 / 40)
    # the first receipt came 2 days early, the second 3 days late
    assert figures.on_time_rate == pytest.approx(0.5)
    # 8 and 13 days: mean 10.5, sample standard deviation √((2.5² + 2.5²) / 1) = 3.5355
    assert figures.lead_time_mean == pytest.approx(10.5)
    assert figures.lead_time_std == pytest.approx(3.5355, abs=1e-4)
    # 10 mugs at 2.20 against 2.00 agreed: 2.00 over on 20 + 18 + 40 = 78 agreed
    assert figures.price_variance_amount == Decimal("2.00")
    assert figures.price_variance == pytest.approx(2 / 78)
    assert figures.score == pytest.approx(0.7)


def test_a_longer_window_takes_in_the_older_order(history):
    figures = supplier_performance(history, utcnow() - timedelta(days=365), purchasing.local_today())
    assert figures.orders == 4 and figures.receipts == 3
    assert figures.fill_rate == pytest.approx(37 / 90)  # the old order is overdue: 1 of 50 arrived


def test_a_supplier_without_orders_has_no_figures_and_ranks_last(history):
    quiet = make_supplier("QUIET")
    ranking = supplier_ranking(utcnow() - timedelta(days=90), purchasing.local_today())
    assert [p.supplier.code for p in ranking] == ["ACME", "QUIET"]
    assert ranking[1].fill_rate is None and ranking[1].on_time_rate is None and ranking[1].score is None
    assert quiet.id == ranking[1].supplier.id


def test_lead_time_history_lists_each_orders_first_receipt(history):
    assert sorted(lead_time_history(history.id)) == [8.0, 13.0, 40.0]
    assert sorted(lead_time_history(history.id, days=90)) == [8.0, 13.0]
