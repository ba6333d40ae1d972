"""Outbound webhooks against a real local receiver: signed, retried with backoff, dead-lettered, replayed,
and nothing lost when a worker dies mid-delivery (at-least-once, with a stable idempotency key)."""
from __future__ import annotations

import json
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from app.extensions import db as database
from app.models.types import utcnow
from app.models.webhooks import WebhookAttempt, WebhookDelivery
from app.services import outbox
from app.services.events import record_event


class Receiver:
    """A webhook receiver on 127.0.0.1: answers with the queued status codes (then 200), remembers every request."""

    def __init__(self):
        self.requests: list[dict] = []
        self.answers: list[int] = []
        self.always: int | None = None
        self.delay_s = 0.0
        self.lock = threading.Lock()
        self.server = make_server("127.0.0.1", 0, self.wsgi, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def wsgi(self, environ, start_response):
        request = Request(environ)
        body = request.get_data()
        time.sleep(self.delay_s)
        with self.lock:
            status = self.always or (self.answers.pop(0) if self.answers else 200)
            self.requests.append({"headers": dict(request.headers), "body": body, "status": status})
        return Response("ok" if status < 300 else "not now", status=status)(environ, start_response)

    def accepted_keys(self) -> list[str]:
        return [r["headers"]["X-Keel-Delivery"] for r in self.requests if r["status"] < 300]


@pytest.fixture()
def receiver():
    server = Receiver()
    server.thread.start()
    yield server
    server.server.shutdown()


def emit(n: int = 1, event_type: str = "order.allocated") -> list[int]:
    events = [record_event(event_type, "order", f"SO-{i:06d}", {"order": f"SO-{i:06d}", "n": i}) for i in range(n)]
    database.session.commit()
    return [event.id for event in events]


def time_passes() -> None:
    """Make every waiting delivery due now, as if its retry delay (or a dead worker's lease) had run out."""
    database.session.execute(update(WebhookDelivery).where(WebhookDelivery.status.in_(outbox.RETRYABLE))
                             .values(next_attempt_at=utcnow() - timedelta(seconds=1)))
    database.session.commit()


def deliveries() -> list[WebhookDelivery]:
    database.session.expire_all()
    return list(database.session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


def test_events_fan_out_at_event_time_to_each_matching_active_subscription(db):
    orders, _ = outbox.create_subscription("Orders", "http://127.0.0.1:9/a", "order.*")
    shipped, _ = outbox.create_subscription("Shipped", "http://127.0.0.1:9/b", "shipment.shipped order.cancelled")
    off, _ = outbox.create_subscription("Off", "http://127.0.0.1:9/c", "*", active=False)
    emit(1, "order.allocated")
    emit(1, "order.cancelled")
    emit(1, "shipment.packed")
    got = {(d.subscription_id, d.event_type) for d in deliveries()}
    assert got == {(orders.id, "order.allocated"), (orders.id, "order.cancelled"), (shipped.id, "order.cancelled")}
    assert all(d.status == "pending" and d.attempts == 0 for d in deliveries())
    assert off.id not in {d.subscription_id for d in deliveries()}


def test_an_event_rolled_back_creates_no_delivery(db):
    outbox.create_subscription("Orders", "http://127.0.0.1:9/a", "order.*")
    record_event("order.allocated", "order", "SO-1", {})
    database.session.flush()
    database.session.rollback()
    assert deliveries() == []


def test_a_delivery_is_signed_so_the_receiver_can_verify_it(db, receiver):
    subscription, secret = outbox.create_subscription("Shop", receiver.url, "order.*")
    [event_id] = emit()
    report = outbox.deliver_pending()
    assert (report.claimed, report.delivered) == (1, 1)
    [got] = receiver.requests
    headers = got["headers"]
    assert headers["X-Keel-Event"] == "order.allocated"
    assert headers["X-Keel-Delivery"] == f"{event_id}-{subscription.id}"
    assert headers["Content-Type"] == "application/json"
    assert outbox.verify_signature(secret, got["body"], headers["X-Keel-Signature"])
    assert not outbox.verify_signature(secret, got["body"] + b" ", headers["X-Keel-Signature"])
    assert not outbox.verify_signature("whsec_wrong", got["body"], headers["X-Keel-Signature"])
    document = json.loads(got["body"])
    assert document["id"] == event_id and document["payload"] == {"order": "SO-000000", "n": 0}
    [delivery] = deliveries()
    assert (delivery.status, delivery.response_code, delivery.attempts) == ("delivered", 200, 1)


def test_a_failing_receiver_is_retried_with_growing_delays_until_it_recovers(db, receiver):
    outbox.create_subscription("Shop", receiver.url, "order.*")
    emit()
    receiver.answers = [500, 503]
    started = utcnow()
    assert outbox.deliver_pending().retrying == 1
    [first] = deliveries()
    assert first.status == "failed" and first.response_code == 500 and "500" in first.last_error
    assert timedelta(seconds=29) < first.next_attempt_at - started < timedelta(seconds=40)
    assert outbox.deliver_pending().claimed == 0  # not due yet
    time_passes()
    outbox.deliver_pending()
    [second] = deliveries()
    assert second.status == "failed" and second.attempts == 2
    assert timedelta(seconds=59) < second.next_attempt_at - utcnow() < timedelta(seconds=61)
    time_passes()
    assert outbox.deliver_pending().delivered == 1
    [done] = deliveries()
    assert (done.status, done.attempts, done.last_error) == ("delivered", 3, "")
    assert [r["status"] for r in receiver.requests] == [500, 503, 200]
    assert len({r["body"] for r in receiver.requests}) == 1  # the same bytes every time
    assert len({r["headers"]["X-Keel-Delivery"] for r in receiver.requests}) == 1
    attempts = database.session.scalars(select(WebhookAttempt).order_by(WebhookAttempt.number)).all()
    assert [(a.number, a.response_code) for a in attempts] == [(1, 500), (2, 503), (3, 200)]


def test_retry_delays_double_from_thirty_seconds_and_stop_at_an_hour():
    assert [outbox.retry_delay(n).total_seconds() for n in range(1, 10)] == [
        30, 60, 120, 240, 480, 960, 1920, 3600, 3600]


def test_after_eight_failures_a_delivery_is_dead_and_a_replay_sends_it(db, receiver):
    outbox.create_subscription("Shop", receiver.url, "order.*")
    emit()
    receiver.always = 500
    for _ in range(outbox.MAX_ATTEMPTS):
        outbox.deliver_pending()
        time_passes()
    [dead] = deliveries()
    assert (dead.status, dead.attempts) == ("dead", outbox.MAX_ATTEMPTS)
    assert outbox.deliver_pending().claimed == 0  # dead letters wait for a person
    receiver.always = None
    outbox.replay_delivery(dead.id)
    [again] = deliveries()
    assert (again.status, again.attempts) == ("pending", 0)
    assert outbox.deliver_pending().delivered == 1
    assert receiver.accepted_keys() == [dead.idempotency_key]
    assert len(receiver.requests) == outbox.MAX_ATTEMPTS + 1


def test_an_unreachable_or_slow_receiver_counts_as_a_failure(db, receiver, monkeypatch):
    outbox.create_subscription("Nowhere", "http://127.0.0.1:1/hook", "order.*")
    emit()
    outbox.deliver_pending()
    [refused] = deliveries()
    assert refused.status == "failed" and refused.response_code is None and refused.last_error
    monkeypatch.setattr(outbox, "TIMEOUT_S", 0.3)
    receiver.delay_s = 1.0
    slow, _ = outbox.create_subscription("Slow", receiver.url, "shipment.*")
    emit(1, "shipment.shipped")
    outbox.deliver_pending()
    [timed_out] = [d for d in deliveries() if d.subscription_id == slow.id]
    assert timed_out.status == "failed" and "timed out" in timed_out.last_error.lower()


def test_a_worker_killed_after_claiming_loses_nothing(db, receiver):
    outbox.create_subscription("Shop", receiver.url, "order.*")
    emit(3)
    claims = outbox.claim_due()  # this worker dies here: nothing sent, nothing recorded
    assert len(claims) == 3
    assert outbox.deliver_pending().claimed == 0  # leased: another worker leaves them alone
    time_passes()  # the lease runs out
    report = outbox.deliver_pending()
    assert report.delivered == 3
    assert sorted(receiver.accepted_keys()) == sorted(c.key for c in claims)


def test_a_worker_killed_after_posting_causes_a_repeat_with_the_same_key(db, receiver):
    outbox.create_subscription("Shop", receiver.url, "order.*")
    emit()
    [claim] = outbox.claim_due()
    outbox.post(claim)  # sent, then the worker dies before writing the outcome
    time_passes()
    assert outbox.deliver_pending().delivered == 1
    assert receiver.accepted_keys() == [claim.key, claim.key]  # at least once: the receiver de-duplicates on the key
    [delivery] = deliveries()
    assert delivery.status == "delivered" and delivery.attempts == 2


def test_a_late_worker_cannot_overwrite_the_outcome_of_the_worker_that_took_over(db, receiver):
    outbox.create_subscription("Shop", receiver.url, "order.*")
    emit()
    [stale] = outbox.claim_due()
    time_passes()
    assert outbox.deliver_pending().delivered == 1
    late = outbox.record_outcome(stale, outbox.Outcome(False, 500, "HTTP 500", "", 5))
    assert late == "superseded"
    [delivery] = deliveries()
    assert delivery.status == "delivered"


def test_many_events_with_a_flaky_receiver_arrive_once_each(db, receiver):
    outbox.create_subscription("Shop", receiver.url, "order.*")
    emit(30)
    receiver.answers = [500, 200, 502, 503, 200, 500] * 4
    for _ in range(6):
        outbox.deliver_pending(batch=7)
        time_passes()
    while outbox.deliver_pending(batch=7).claimed:
        time_passes()
    assert all(d.status == "delivered" for d in deliveries())
    keys = receiver.accepted_keys()
    assert len(keys) == 30 and len(set(keys)) == 30


def test_replaying_dead_letters_of_one_subscription_leaves_the_others(db, receiver):
    a, _ = outbox.create_subscription("A", receiver.url, "order.*")
    b, _ = outbox.create_subscription("B", receiver.url, "order.*")
    emit(2)
    database.session.execute(update(WebhookDelivery).values(status="dead", attempts=8))
    database.session.commit()
    assert outbox.replay_dead(a.id) == 2
    assert {(d.subscription_id, d.status) for d in deliveries()} == {(a.id, "pending"), (b.id, "dead")}
    assert outbox.replay_dead() == 2


def test_a_ping_goes_only_to_the_subscription_it_tests(db, receiver):
    a, _ = outbox.create_subscription("A", receiver.url, "*")
    outbox.create_subscription("B", receiver.url, "*")
    outbox.send_ping(a.id)
    assert [(d.subscription_id, d.event_type) for d in deliveries()] == [(a.id, "webhook.ping")]


def test_backfill_queues_earlier_matching_events_once(db, receiver):
    emit(3, "order.allocated")
    emit(2, "shipment.packed")
    late, _ = outbox.create_subscription("Late", receiver.url, "order.*")
    assert deliveries() == []
    assert outbox.backfill(late.id, 0) == 3
    assert outbox.backfill(late.id, 0) == 0


def test_subscriptions_are_validated_and_kept_when_they_have_history(db, receiver):
    from app.domain.errors import Conflict, ValidationError
    with pytest.raises(ValidationError) as caught:
        outbox.create_subscription("", "ftp://example.com", "Order Created!")
    assert set(caught.value.errors) == {"name", "url", "event_types"}
    subscription, secret = outbox.create_subscription("Shop", receiver.url, "order.*, shipment.*")
    assert subscription.event_types == "order.* shipment.*" and secret.startswith("whsec_")
    assert outbox.rotate_secret(subscription.id) != secret
    emit()
    with pytest.raises(Conflict):
        outbox.delete_subscription(subscription.id)


@pytest.mark.postgres
def test_two_workers_never_claim_the_same_delivery(app, db, receiver):
    outbox.create_subscription("Shop", receiver.url, "order.*")
    emit(40)
    claimed: list[list[int]] = []
    barrier = threading.Barrier(4)

    def worker():
        with app.app_context():
            barrier.wait()
            claimed.append([c.delivery_id for c in outbox.claim_due(batch=15)])
            database.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [d for batch in claimed for d in batch]
    assert len(every) == len(set(every)) == 40
