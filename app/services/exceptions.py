"""Exception queues: everything waiting for a person, with how many, how old, whose, and the rows themselves."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select

from app.domain.orders import OPEN_ORDER_STATUSES
from app.domain.returns import RmaStatus
from app.domain.roles import Role
from app.extensions import db
from app.models import Channel, Location, Sku, Warehouse
from app.models.orders import InboundDelivery, Order, OrderHold, Shipment
from app.models.returns import Rma
from app.models.types import utcnow
from app.models.warehouse_ops import CountLine, CountTask, ShortPick
from app.models.webhooks import WebhookDelivery, WebhookSubscription
from app.services.intake import OPEN_EXCEPTIONS
from app.services.kpis import Records, as_utc, day_end, local_text, zone


@dataclass(frozen=True)
class Queue:
    """One queue of work waiting for a person: its rows carry an `opened` column (a time, or a due date)."""

    code: str
    name: str
    owner: Role
    meaning: str
    records: Callable[[], Records]
    screens: tuple[tuple[str, dict], ...] = ()  # the owning area's screens for this queue, in order of preference


COUNT_CAP = 1000  # a queue is counted up to here ("1,000+"), so summaries cost the same however long it grows


@dataclass(frozen=True)
class QueueSummary:
    queue: Queue
    count: int  # at most COUNT_CAP + 1; above COUNT_CAP means "more than COUNT_CAP"
    oldest: datetime | None

    @property
    def age(self) -> timedelta | None:
        return utcnow() - self.oldest if self.oldest else None

    @property
    def capped(self) -> bool:
        return self.count > COUNT_CAP

    @property
    def shown(self) -> str:
        """The count as the screens show it: exact, or "1,000+" past the cap."""
        return f"{COUNT_CAP:,}+" if self.capped else f"{self.count:,}"


QUEUES: list[Queue] = []


def queue(code: str, name: str, owner: Role, meaning: str, screens: tuple[tuple[str, dict], ...] = ()):
    """Register the function that lists a queue's rows."""
    def register(fn):
        QUEUES.append(Queue(code, name, owner, meaning, fn, screens))
        return fn
    return register


def get_queue(code: str) -> Queue | None:
    return next((q for q in QUEUES if q.code == code), None)


def _opened_moment(value) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, date) and not isinstance(value, datetime):
        return day_end(value)  # a due date becomes overdue when its day ends
    return as_utc(value)


def summarise(q: Queue) -> QueueSummary:
    """How many rows wait (up to COUNT_CAP + 1) and the oldest, in one statement that reads a bounded number of rows
    when the queue's filter and `opened` order have an index."""
    found = q.records().query.order_by(None)
    counted = select(func.count()).select_from(found.limit(COUNT_CAP + 1).subquery()).scalar_subquery()
    rows = found.subquery()
    oldest = select(rows.c.opened).order_by(rows.c.opened).limit(1).scalar_subquery()
    count, first = db.session.execute(select(counted, oldest)).one()
    return QueueSummary(q, int(count), _opened_moment(first) if count else None)


def overview(role: str | None = None) -> list[QueueSummary]:
    """Every queue with its count and oldest item; a role's own queues first."""
    summaries = [summarise(q) for q in QUEUES]
    return sorted(summaries, key=lambda s: (role is not None and s.queue.owner != role and role != "admin",
                                             QUEUES.index(s.queue)))


def age_text(age: timedelta | None) -> str:
    """How long something has waited, in the largest sensible units: 3 d 4 h, 5 h 10 min, 12 min."""
    if age is None:
        return "—"
    minutes = max(0, int(age.total_seconds() // 60))
    days, hours, mins = minutes // 1440, minutes % 1440 // 60, minutes % 60
    if days:
        return f"{days} d {hours} h"
    return f"{hours} h {mins} min" if hours else f"{mins} min"


# --- the queues --------------------------------------------------------------------------------------------------

@queue("holds", "Orders on hold", Role.RETAIL, "Orders held for fraud, address or payment checks, waiting for release.",
       screens=(("retail.holds", {}),))
def held_orders() -> Records:
    stmt = (select(Order.id, Order.number, OrderHold.kind, OrderHold.reason, OrderHold.created_at.label("opened"),
                   Order.customer_name)
            .join(Order, Order.id == OrderHold.order_id).where(OrderHold.released_at.is_(None))
            .order_by(OrderHold.created_at, OrderHold.id))
    return Records(("Order", "Hold", "Reason", "Held since", "Customer"), stmt,
                   lambda r: (r.number, r.kind, r.reason, local_text(r.opened), r.customer_name),
                   lambda r: ("retail.order_detail", {"order_id": r.id}))


@queue("payloads", "Unmapped channel payloads", Role.RETAIL,
       "Orders and updates a channel sent that could not be mapped: stored, waiting for a retry or dismissal.",
       screens=(("retail.exceptions", {}),))
def unmapped_payloads() -> Records:
    stmt = (select(InboundDelivery.id, InboundDelivery.source, InboundDelivery.topic, InboundDelivery.error_field,
                   InboundDelivery.error, InboundDelivery.received_at.label("opened"), Channel.code.label("channel"))
            .outerjoin(Channel, Channel.id == InboundDelivery.channel_id)
            .where(InboundDelivery.status.in_(OPEN_EXCEPTIONS)).order_by(InboundDelivery.received_at, InboundDelivery.id))
    return Records(("Payload", "Channel", "Topic", "Field", "Error", "Received"), stmt,
                   lambda r: (f"#{r.id} {r.source}", r.channel or "", r.topic, r.error_field, r.error,
                              local_text(r.opened)),
                   lambda r: ("retail.exception_detail", {"delivery_id": r.id}))


@queue("late_orders", "Late orders", Role.SUPERVISOR,
       "Open orders whose promised ship date has passed and that have not shipped.",
       screens=(("retail.inbox", {"attention": "overdue"}),))
def late_orders() -> Records:
    today = datetime.now(zone()).date()
    stmt = (select(Order.id, Order.number, Order.promised_ship_date.label("opened"), Order.status,
                   Channel.code.label("channel"), Order.customer_name)
            .join(Channel, Channel.id == Order.channel_id)
            .where(Order.status.in_([s.value for s in OPEN_ORDER_STATUSES]), Order.promised_ship_date < today)
            .order_by(Order.promised_ship_date, Order.id))
    return Records(("Order", "Promised ship date", "Status", "Channel", "Customer"), stmt,
                   lambda r: (r.number, r.opened.isoformat(), r.status, r.channel, r.customer_name),
                   lambda r: ("retail.order_detail", {"order_id": r.id}))


@queue("short_picks", "Short picks", Role.SUPERVISOR,
       "Units a picker could not find: held as a suspected variance until the bin is counted.",
       screens=(("waves.counts", {}),))
def short_picks() -> Records:
    stmt = (select(ShortPick.id, Shipment.number.label("shipment"), Warehouse.code.label("warehouse"),
                   Location.code.label("bin"), Sku.id.label("sku_id"), Sku.code.label("sku"), ShortPick.qty,
                   ShortPick.created_at.label("opened"))
            .join(Shipment, Shipment.id == ShortPick.shipment_id).join(Location, Location.id == ShortPick.location_id)
            .join(Warehouse, Warehouse.id == Location.warehouse_id).join(Sku, Sku.id == ShortPick.sku_id)
            .where(ShortPick.status == "open").order_by(ShortPick.created_at, ShortPick.id))
    return Records(("SKU", "Shipment", "Warehouse", "Bin", "Units short", "Reported"), stmt,
                   lambda r: (r.sku, r.shipment, r.warehouse, r.bin, r.qty, local_text(r.opened)),
                   lambda r: ("catalog.sku_detail", {"sku_id": r.sku_id}))


@queue("count_variances", "Count variances to approve", Role.SUPERVISOR,
       "Counted bins whose count differs from the ledger, waiting for a second person to approve or reject.",
       screens=(("waves.counts", {}),))
def count_variances() -> Records:
    lines = (select(CountLine.task_id, func.count(CountLine.id).label("skus"),
                    func.sum(func.coalesce(CountLine.counted, 0) - func.coalesce(CountLine.expected, 0)).label("net"))
             .where(CountLine.counted != CountLine.expected).group_by(CountLine.task_id).subquery())
    stmt = (select(CountTask.id, CountTask.number, Warehouse.code.label("warehouse"), Location.code.label("bin"),
                   func.coalesce(lines.c.skus, 0).label("skus"), func.coalesce(lines.c.net, 0).label("net"),
                   CountTask.counted_at.label("opened"))
            .join(Warehouse, Warehouse.id == CountTask.warehouse_id).join(Location, Location.id == CountTask.location_id)
            .outerjoin(lines, lines.c.task_id == CountTask.id)
            .where(CountTask.status == "review").order_by(CountTask.counted_at, CountTask.id))
    return Records(("Count", "Warehouse", "Bin", "SKUs differing", "Net units", "Counted"), stmt,
                   lambda r: (r.number, r.warehouse, r.bin, r.skus, r.net, local_text(r.opened)))


@queue("dead_letters", "Failed event deliveries", Role.ADMIN,
       "Webhook deliveries that failed and are being retried, or gave up (dead letters) and wait for a replay.",
       screens=(("admin.dead_letters", {}), ("admin.deliveries", {"status": "failed"})))
def failed_deliveries() -> Records:
    stmt = (select(WebhookDelivery.id, WebhookDelivery.event_id, WebhookDelivery.event_type, WebhookDelivery.status,
                   WebhookDelivery.attempts, WebhookDelivery.last_error, WebhookDelivery.created_at.label("opened"),
                   WebhookSubscription.name.label("subscription"))
            .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
            .where(WebhookDelivery.status.in_(("failed", "dead"))).order_by(WebhookDelivery.created_at, WebhookDelivery.id))
    return Records(("Delivery", "Subscription", "Event", "Status", "Attempts", "Last error", "Since"), stmt,
                   lambda r: (f"#{r.id}", r.subscription, f"{r.event_type} #{r.event_id}", r.status, r.attempts,
                              r.last_error, local_text(r.opened)))


STUCK_RETURN_DAYS = 3


@queue("stuck_returns", "Returns waiting for inspection", Role.RETURNS,
       f"RMAs received more than {STUCK_RETURN_DAYS} days ago whose units have not been inspected.",
       screens=(("returns.inspect_queue", {}),))
def stuck_returns() -> Records:
    stmt = (select(Rma.id, Rma.number, Order.number.label("order"), Warehouse.code.label("warehouse"),
                   Rma.customer_name, Rma.received_at.label("opened"))
            .join(Order, Order.id == Rma.order_id).join(Warehouse, Warehouse.id == Rma.warehouse_id)
            .where(Rma.status == RmaStatus.RECEIVED.value,
                   Rma.received_at < utcnow() - timedelta(days=STUCK_RETURN_DAYS))
            .order_by(Rma.received_at, Rma.id))
    return Records(("RMA", "Order", "Warehouse", "Customer", "Received"), stmt,
                   lambda r: (r.number, r.order, r.warehouse, r.customer_name, local_text(r.opened)),
                   lambda r: ("returns.rma_detail", {"rma_id": r.id}))
