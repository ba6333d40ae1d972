"""Outbound webhooks: each event fanned out to the subscriptions that want it, then delivered, signed,
retried with backoff and, when it keeps failing, parked in a dead-letter queue an admin can replay.

Fan-out happens at event time: a session hook adds one delivery row per matching subscription
in the same flush as the event, so a delivery exists exactly when its event committed, with no
cursor that could skip events committed out of id order.

Delivery is at-least-once, in three short transactions: claim (mark rows taken until a lease
runs out), POST (no transaction open), record the outcome. A worker killed mid-delivery leaves
its rows claimed; when the lease runs out another worker claims and sends them again.
"""
from __future__ import annotations

import base64
import fnmatch
import hashlib
import hmac
import json
import re
import secrets
import socket
import time as clock
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from urllib.parse import urlsplit

from sqlalchemy import event as sa_event
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from app.domain.errors import Conflict, NotFound, ValidationError
from app.extensions import db
from app.models import Event
from app.models.types import utcnow
from app.models.webhooks import WebhookAttempt, WebhookDelivery, WebhookSubscription
from app.services import audit
from app.services._uow import service
from app.services.events import record_event
from app.services.queries import Page, like_pattern, paginate

MAX_ATTEMPTS = 8
FIRST_RETRY = timedelta(seconds=30)
LONGEST_RETRY = timedelta(hours=1)
TIMEOUT_S = 5
# A claimed row stays invisible to other workers until its lease ends. Rows of one batch are sent one
# after another, so each row's lease covers every POST before it plus its own, and some slack.
LEASE_SLACK = timedelta(seconds=30)
STATUSES = ("pending", "delivered", "failed", "dead")
RETRYABLE = ("pending", "failed")
PATTERN = re.compile(r"^[a-z0-9_*][a-z0-9_.*]*$")
PING = "webhook.ping"
SUBSCRIPTIONS_KEY = "active_webhook_subscriptions"


# --- matching and fan-out ------------------------------------------------------------------------------------

def matches(patterns: list[str], event_type: str) -> bool:
    """Whether an event type matches any pattern ("order.*", "shipment.shipped", "*")."""
    return any(fnmatch.fnmatchcase(event_type, pattern) for pattern in patterns)


def _fan_out(session: Session, flush_context, instances) -> None:
    """Before a flush that writes events: one pending delivery per event and matching subscription."""
    new_events = [obj for obj in session.new if isinstance(obj, Event)]
    if not new_events:
        return
    subscriptions = _active_subscriptions(session)
    now = utcnow()
    for event in new_events:
        for subscription in subscriptions:
            if _wants(subscription, event):
                session.add(WebhookDelivery(event=event, subscription_id=subscription.id, event_type=event.type,
                                            status="pending", next_attempt_at=now, created_at=now))


def _active_subscriptions(session: Session) -> list[WebhookSubscription]:
    """The active subscriptions, read once per transaction (a capture flushes events several times)."""
    if any(isinstance(obj, WebhookSubscription) for obj in (*session.new, *session.dirty, *session.deleted)):
        session.info.pop(SUBSCRIPTIONS_KEY, None)  # changed in this transaction: read them again
    if SUBSCRIPTIONS_KEY not in session.info:
        session.info[SUBSCRIPTIONS_KEY] = session.scalars(
            select(WebhookSubscription).where(WebhookSubscription.active.is_(True))).all()
    return [s for s in session.info[SUBSCRIPTIONS_KEY] if s.active]


def _forget_subscriptions(session: Session, *args) -> None:
    session.info.pop(SUBSCRIPTIONS_KEY, None)


def _wants(subscription: WebhookSubscription, event: Event) -> bool:
    if event.type == PING:  # a ping goes only to the subscription it tests
        return event.subject_id == str(subscription.id)
    return matches(subscription.patterns, event.type)


def register_fan_out() -> None:
    """Create deliveries in the same transaction as each event (called by create_app)."""
    if not sa_event.contains(Session, "before_flush", _fan_out):
        sa_event.listen(Session, "before_flush", _fan_out)
        sa_event.listen(Session, "after_commit", _forget_subscriptions)
        sa_event.listen(Session, "after_rollback", _forget_subscriptions)


# --- subscriptions -------------------------------------------------------------------------------------------

def _clean_subscription(name: str, url: str, event_types: str) -> tuple[str, str, str]:
    errors = {}
    name, url = (name or "").strip(), (url or "").strip()
    patterns = (event_types or "").replace(",", " ").split()
    if not name or len(name) > 120:
        errors["name"] = "Give the subscription a name of up to 120 characters."
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 500:
        errors["url"] = "An http:// or https:// address of up to 500 characters."
    if not patterns or any(not PATTERN.match(p) for p in patterns):
        errors["event_types"] = "One or more event types such as order.* or shipment.shipped, separated by spaces."
    elif len(" ".join(patterns)) > 500:
        errors["event_types"] = "Too many event types; use patterns such as order.*."
    if errors:
        raise ValidationError(errors=errors)
    return name, url, " ".join(dict.fromkeys(patterns))


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


@service
def create_subscription(name: str, url: str, event_types: str, *, user_id: int | None = None,
                        active: bool = True) -> tuple[WebhookSubscription, str]:
    """A new receiver for events from now on; returns it with its signing secret (shown once)."""
    name, url, patterns = _clean_subscription(name, url, event_types)
    secret = new_secret()
    last_event = db.session.scalar(select(func.max(Event.id))) or 0
    subscription = WebhookSubscription(name=name, url=url, event_types=patterns, secret=secret, active=active,
                                       starts_after_event_id=last_event, created_by_id=user_id, created_at=utcnow())
    db.session.add(subscription)
    db.session.commit()
    return subscription, secret


def get_subscription(subscription_id: int) -> WebhookSubscription:
    subscription = db.session.get(WebhookSubscription, subscription_id)
    if subscription is None:
        raise NotFound("No such webhook subscription.")
    return subscription


@service
def update_subscription(subscription_id: int, name: str, url: str, event_types: str, active: bool) -> WebhookSubscription:
    """Change where a subscription sends, which events it wants, or switch it off."""
    subscription = get_subscription(subscription_id)
    subscription.name, subscription.url, subscription.event_types = _clean_subscription(name, url, event_types)
    subscription.active = active
    db.session.commit()
    return subscription


@service
def rotate_secret(subscription_id: int) -> str:
    """A new signing secret; deliveries from now on are signed with it."""
    subscription = get_subscription(subscription_id)
    subscription.secret = new_secret()
    db.session.commit()
    return subscription.secret


@service
def delete_subscription(subscription_id: int) -> None:
    """Remove a subscription that never had a delivery; one with history can only be switched off."""
    subscription = get_subscription(subscription_id)
    if db.session.scalar(select(func.count()).where(WebhookDelivery.subscription_id == subscription_id)):
        raise Conflict("This subscription has deliveries; switch it off instead, so its history stays.")
    db.session.delete(subscription)
    db.session.commit()


@service
def send_ping(subscription_id: int, *, user_id: int | None = None) -> Event:
    """Queue a webhook.ping event for one subscription, to test the receiver."""
    subscription = get_subscription(subscription_id)
    if not subscription.active:
        raise Conflict("Switch the subscription on before pinging it.")
    ping = record_event(PING, "webhook_subscription", subscription.id,
                        {"subscription": subscription.name, "message": "Keel is checking that this receiver works."},
                        user_id=user_id)
    db.session.commit()
    return ping


@service
def backfill(subscription_id: int, after_event_id: int) -> int:
    """Owe a subscription every matching event after `after_event_id` it has not had yet; returns how many."""
    subscription = get_subscription(subscription_id)
    if after_event_id < 0:
        raise ValidationError("Give an event number of 0 or more.", field="after")
    have = select(WebhookDelivery.event_id).where(WebhookDelivery.subscription_id == subscription_id)
    candidates = db.session.scalars(select(Event).where(Event.id > after_event_id, Event.id.not_in(have),
                                                        Event.type != PING).order_by(Event.id).limit(10_000))
    now, added = utcnow(), 0
    for event in candidates:
        if matches(subscription.patterns, event.type):
            db.session.add(WebhookDelivery(event_id=event.id, subscription_id=subscription.id, event_type=event.type,
                                           status="pending", next_attempt_at=now, created_at=now))
            added += 1
    db.session.commit()
    return added


# --- signing -------------------------------------------------------------------------------------------------

def sign(secret: str, body: bytes) -> str:
    """X-Keel-Signature: base64 of the HMAC-SHA256 of the raw body with the subscription's secret."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def verify_signature(secret: str, body: bytes, signature: str) -> bool:
    """What a receiver does: recompute the signature and compare in constant time."""
    return hmac.compare_digest(sign(secret, body), signature or "")


def event_body(event: Event) -> bytes:
    """The JSON a receiver gets; the same bytes on every attempt."""
    document = {"id": event.id, "type": event.type, "subject": {"type": event.subject_type, "id": event.subject_id},
                "payload": event.payload, "created_at": event.created_at.isoformat()}
    return json.dumps(document, sort_keys=True, separators=(",", ":"), default=str).encode()


# --- delivering ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Claim:
    delivery_id: int
    token: str
    attempt: int
    url: str
    secret: str
    event_type: str
    key: str
    body: bytes
    lease_ends: datetime


@dataclass(frozen=True)
class Outcome:
    ok: bool
    code: int | None
    error: str
    response: str
    duration_ms: int


@dataclass
class DeliveryReport:
    claimed: int = 0
    delivered: int = 0
    retrying: int = 0
    dead: int = 0
    superseded: int = 0
    errors: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (f"{self.claimed} claimed: {self.delivered} delivered, {self.retrying} to retry, {self.dead} dead"
                + (f", {self.superseded} taken over by another worker" if self.superseded else ""))


def retry_delay(attempts: int) -> timedelta:
    """30 s after the first failure, doubling each time, never more than an hour."""
    return min(FIRST_RETRY * (2 ** max(0, attempts - 1)), LONGEST_RETRY)


@service
def claim_due(batch: int = 50, *, now: datetime | None = None) -> list[Claim]:
    """Take up to `batch` due deliveries for this worker until their leases end; rows others hold are skipped."""
    now = now or utcnow()
    stmt = (select(WebhookDelivery).join(WebhookSubscription)
            .where(WebhookDelivery.status.in_(RETRYABLE), WebhookDelivery.next_attempt_at <= now,
                   WebhookSubscription.active.is_(True))
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id).limit(batch)
            .options(selectinload(WebhookDelivery.event), selectinload(WebhookDelivery.subscription)))
    if db.session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True, of=WebhookDelivery)
    claims = []
    for position, delivery in enumerate(db.session.scalars(stmt).all(), 1):
        lease_ends = now + position * timedelta(seconds=TIMEOUT_S + 1) + LEASE_SLACK
        delivery.claim_token, delivery.attempts = str(uuid.uuid4()), delivery.attempts + 1
        delivery.next_attempt_at, delivery.last_attempt_at = lease_ends, now
        claims.append(Claim(delivery.id, delivery.claim_token, delivery.attempts, delivery.subscription.url,
                            delivery.subscription.secret, delivery.event_type, delivery.idempotency_key,
                            event_body(delivery.event), lease_ends))
    db.session.commit()
    return claims


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a redirect is an answer to report, not a place to resend a signed body


_opener = urllib.request.build_opener(_NoRedirects)


def post(claim: Claim) -> Outcome:
    """POST one delivery; any 2xx answer is success, everything else (or no answer in time) a failure."""
    headers = {"Content-Type": "application/json", "User-Agent": "Keel-Webhooks/1", "X-Keel-Event": claim.event_type,
               "X-Keel-Delivery": claim.key, "X-Keel-Attempt": str(claim.attempt),
               "X-Keel-Signature": sign(claim.secret, claim.body)}
    request = urllib.request.Request(claim.url, data=claim.body, headers=headers, method="POST")
    started = clock.monotonic()
    try:
        with _opener.open(request, timeout=TIMEOUT_S) as response:
            code, text, error = response.status, response.read(2000), ""
    except urllib.error.HTTPError as exc:
        code, text, error = exc.code, exc.read(2000) if exc.fp else b"", f"HTTP {exc.code} {exc.reason}"
    except (urllib.error.URLError, socket.timeout, TimeoutError, ConnectionError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        code, text, error = None, b"", f"{type(reason).__name__}: {reason}"[:1000]
    duration = int((clock.monotonic() - started) * 1000)
    ok = code is not None and 200 <= code < 300
    return Outcome(ok, code, "" if ok else error or f"HTTP {code}", text.decode("utf-8", "replace"), duration)


@service
def record_outcome(claim: Claim, outcome: Outcome, *, now: datetime | None = None) -> str:
    """Write what the POST did; returns the delivery's new status ("superseded" when another worker took it over)."""
    now = now or utcnow()
    db.session.add(WebhookAttempt(delivery_id=claim.delivery_id, number=claim.attempt, at=now,
                                  duration_ms=outcome.duration_ms, response_code=outcome.code,
                                  response_body=outcome.response[:2000], error=outcome.error[:1000]))
    delivery = db.session.get(WebhookDelivery, claim.delivery_id)
    if delivery is None or delivery.claim_token != claim.token:
        db.session.commit()
        return "superseded"
    delivery.claim_token, delivery.response_code = None, outcome.code
    if outcome.ok:
        delivery.status, delivery.delivered_at, delivery.last_error = "delivered", now, ""
    else:
        delivery.last_error = outcome.error[:1000]
        delivery.status = "dead" if delivery.attempts >= MAX_ATTEMPTS else "failed"
        delivery.next_attempt_at = now + retry_delay(delivery.attempts)
    db.session.commit()
    return delivery.status


def deliver_pending(batch: int = 50) -> DeliveryReport:
    """Claim due deliveries, POST each, record each outcome: the dispatcher's one pass."""
    report = DeliveryReport()
    for claim in claim_due(batch):
        report.claimed += 1
        if utcnow() >= claim.lease_ends:  # our lease ran out: another worker may send it; leave it to them
            report.superseded += 1
            continue
        status = record_outcome(claim, post(claim))
        if status == "delivered":
            report.delivered += 1
        elif status == "failed":
            report.retrying += 1
        elif status == "dead":
            report.dead += 1
        else:
            report.superseded += 1
    return report


def deliver_for(seconds: float = 20, batch: int = 50) -> DeliveryReport:
    """Keep delivering full batches for up to `seconds` (the scheduled job's pass)."""
    total, started = DeliveryReport(), clock.monotonic()
    while True:
        report = deliver_pending(batch)
        for name in ("claimed", "delivered", "retrying", "dead", "superseded"):
            setattr(total, name, getattr(total, name) + getattr(report, name))
        if report.claimed < batch or clock.monotonic() - started > seconds:
            return total


# --- replay --------------------------------------------------------------------------------------------------

def _reset(delivery: WebhookDelivery, now: datetime) -> None:
    audit.note_change("webhook_deliveries", delivery.id, "replay",
                      {"status": delivery.status, "attempts": delivery.attempts}, {"status": "pending", "attempts": 0})
    delivery.status, delivery.attempts, delivery.next_attempt_at = "pending", 0, now
    delivery.claim_token, delivery.last_error = None, ""


@service
def replay_delivery(delivery_id: int) -> WebhookDelivery:
    """Send a delivery again from the first attempt: a dead one, a retrying one now, or a delivered one again."""
    delivery = db.session.get(WebhookDelivery, delivery_id)
    if delivery is None:
        raise NotFound("No such delivery.")
    if delivery.status == "pending":
        raise Conflict("This delivery is already waiting to be sent.")
    _reset(delivery, utcnow())
    db.session.commit()
    return delivery


@service
def replay_dead(subscription_id: int | None = None) -> int:
    """Send every dead delivery (of one subscription, or all) again; returns how many."""
    stmt = select(WebhookDelivery).where(WebhookDelivery.status == "dead")
    if subscription_id:
        stmt = stmt.where(WebhookDelivery.subscription_id == subscription_id)
    now, count = utcnow(), 0
    for delivery in db.session.scalars(stmt.limit(5000)):
        _reset(delivery, now)
        count += 1
    db.session.commit()
    return count


# --- reading -------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DeliveryFilters:
    status: str = ""
    subscription_id: int | None = None
    event_type: str = ""
    q: str = ""
    since: date | None = None
    until: date | None = None


def delivery_search(filters: DeliveryFilters, page: int = 1, per_page: int = 50, *, tz: str = "UTC") -> Page:
    """Deliveries matching the filters, newest first."""
    from zoneinfo import ZoneInfo
    stmt = select(WebhookDelivery).join(Event)
    if filters.status in STATUSES:
        stmt = stmt.where(WebhookDelivery.status == filters.status)
    if filters.subscription_id:
        stmt = stmt.where(WebhookDelivery.subscription_id == filters.subscription_id)
    if filters.event_type:
        stmt = stmt.where(WebhookDelivery.event_type.like(filters.event_type.replace("*", "%")))
    if filters.q:
        q = filters.q.strip()
        conditions = [Event.subject_id.ilike(like_pattern(q), escape="\\"),
                      WebhookDelivery.last_error.ilike(like_pattern(q), escape="\\")]
        if q.isdigit():
            conditions.append(Event.id == int(q))
        stmt = stmt.where(or_(*conditions))
    zone = ZoneInfo(tz)
    if filters.since:
        stmt = stmt.where(WebhookDelivery.created_at >= datetime.combine(filters.since, time(), zone))
    if filters.until:
        stmt = stmt.where(WebhookDelivery.created_at < datetime.combine(filters.until + timedelta(days=1), time(), zone))
    return paginate(stmt.order_by(WebhookDelivery.id.desc()), page, per_page)


def status_counts(subscription_id: int | None = None) -> dict[str, int]:
    stmt = select(WebhookDelivery.status, func.count()).group_by(WebhookDelivery.status)
    if subscription_id:
        stmt = stmt.where(WebhookDelivery.subscription_id == subscription_id)
    counts = dict.fromkeys(STATUSES, 0)
    counts.update(dict(db.session.execute(stmt).all()))
    return counts


def counts_by_subscription() -> dict[int, dict[str, int]]:
    out: dict[int, dict[str, int]] = {}
    for sub_id, status, n in db.session.execute(
            select(WebhookDelivery.subscription_id, WebhookDelivery.status, func.count())
            .group_by(WebhookDelivery.subscription_id, WebhookDelivery.status)):
        out.setdefault(sub_id, dict.fromkeys(STATUSES, 0))[status] = n
    return out


def subscriptions() -> list[WebhookSubscription]:
    return list(db.session.scalars(select(WebhookSubscription).order_by(WebhookSubscription.name)))


def get_delivery(delivery_id: int) -> WebhookDelivery:
    delivery = db.session.get(WebhookDelivery, delivery_id)
    if delivery is None:
        raise NotFound("No such delivery.")
    return delivery


def event_feed(after: int = 0, type_patterns: list[str] | None = None, limit: int = 100) -> tuple[list[Event], int]:
    """Events after an id, oldest first, optionally only some types; with how many match after the id in all."""
    stmt = select(Event).where(Event.id > after)
    if type_patterns:
        stmt = stmt.where(or_(*[Event.type.like(p.replace("%", "").replace("_", "\\_").replace("*", "%"), escape="\\")
                                for p in type_patterns]))
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery()))
    return list(db.session.scalars(stmt.order_by(Event.id).limit(limit))), total
