"""Exception queues: counts, oldest item and owner for every queue."""
from __future__ import annotations

from datetime import date, timedelta

from app.extensions import db as _db
from app.models.orders import InboundDelivery
from app.models.types import utcnow
from app.services import exceptions, orders
from tests.services.test_kpis import new_customer_order


def summary(code: str) -> exceptions.QueueSummary:
    return exceptions.summarise(exceptions.get_queue(code))


def test_queues_count_what_waits_and_date_the_oldest(world, make_user):
    user = make_user("retail")
    held = new_customer_order("Q1", [("MUG", 1)])
    orders.hold_order(held.id, reason="call the customer", user_id=user.id)
    late = new_customer_order("Q2", [("CAP", 1)])
    late.promised_ship_date = date.today() - timedelta(days=3)
    old = utcnow() - timedelta(days=2)
    _db.session.add_all([InboundDelivery(source="shopify", body="{}", status="exception", error="bad SKU", received_at=old),
                         InboundDelivery(source="shopify", body="{}", status="processed")])
    _db.session.commit()
    assert summary("holds").count == 1
    payloads = summary("payloads")
    assert payloads.count == 1 and abs((payloads.oldest - old).total_seconds()) < 1
    assert exceptions.age_text(payloads.age).startswith("2 d")
    late_orders = summary("late_orders")
    assert late_orders.count == 1 and late_orders.oldest < utcnow() - timedelta(days=1)
    assert summary("short_picks").count == 0 and summary("short_picks").oldest is None


def test_a_roles_own_queues_come_first_and_every_queue_has_an_owner(world):
    codes = [s.queue.code for s in exceptions.overview("supervisor")]
    owners = [exceptions.get_queue(c).owner for c in codes]
    first_other = next(i for i, o in enumerate(owners) if o != "supervisor")
    assert all(o != "supervisor" for o in owners[first_other:])
    assert set(codes) == {"holds", "payloads", "late_orders", "short_picks", "count_variances", "dead_letters",
                          "stuck_returns"}


def test_age_is_told_in_the_largest_sensible_units():
    assert exceptions.age_text(timedelta(days=3, hours=4, minutes=5)) == "3 d 4 h"
    assert exceptions.age_text(timedelta(hours=5, minutes=10)) == "5 h 10 min"
    assert exceptions.age_text(timedelta(minutes=12)) == "12 min"
    assert exceptions.age_text(None) == "—"
