"""Read side of the retail screens and the orders API: inbox search, order detail, queues, availability."""
from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import Select, exists, func, or_, select, tuple_
from sqlalchemy.orm import selectinload

from app.domain.inventory import Status
from app.domain.orders import OPEN_ORDER_STATUSES, OrderStatus
from app.extensions import db
from app.models import Channel, Sku, StockBalance, User, Warehouse, channel_warehouses
from app.models.orders import (InboundDelivery, Order, OrderHold, OrderLine, Shipment, ShipmentBin,
                               ShipmentLine)
from app.services.intake import OPEN_EXCEPTIONS
from app.services.queries import Page, like_pattern, page_number, paginate

ATTENTION = {"held": "On hold", "exception": "Delivery exception", "overdue": "Past promise date",
             "waiting": "Waiting for stock"}


@dataclass(frozen=True)
class InboxFilters:
    """What the inbox and GET /orders filter on; blanks mean any."""

    q: str = ""
    status: str = ""
    channel: str = ""
    warehouse: str = ""
    date_from: date | None = None
    date_to: date | None = None
    attention: str = ""

    @classmethod
    def from_args(cls, args) -> "InboxFilters":
        """Filters from query-string arguments; anything unreadable is ignored rather than refused."""
        status = args.get("status", "")
        return cls(q=args.get("q", "").strip()[:100],
                   status=status if status in set(OrderStatus) or status == "open" else "",
                   channel=args.get("channel", "").strip()[:30], warehouse=args.get("warehouse", "").strip()[:20],
                   date_from=_date(args.get("from")), date_to=_date(args.get("to")),
                   attention=args.get("attention", "") if args.get("attention", "") in ATTENTION else "")

    def args(self, **changes) -> dict[str, str]:
        """Query-string arguments for these filters, with some changed (for status tabs and pager links)."""
        chosen = replace(self, **changes)
        out = {"q": chosen.q, "status": chosen.status, "channel": chosen.channel, "warehouse": chosen.warehouse,
               "from": chosen.date_from.isoformat() if chosen.date_from else "",
               "to": chosen.date_to.isoformat() if chosen.date_to else "", "attention": chosen.attention}
        return {k: v for k, v in out.items() if v}

    @property
    def any(self) -> bool:
        return any(getattr(self, f.name) for f in fields(self))


def _date(raw: Any) -> date | None:
    try:
        return date.fromisoformat(str(raw)) if raw else None
    except ValueError:
        return None


def local_today() -> date:
    return datetime.now(ZoneInfo(current_app.config["KEEL_TIMEZONE"])).date()


def _local_midnight(day: date) -> datetime:
    zone = ZoneInfo(current_app.config["KEEL_TIMEZONE"])
    return datetime.combine(day, time.min, zone).astimezone(timezone.utc)


def _filtered(stmt: Select, f: InboxFilters, *, with_status: bool = True) -> Select:
    return stmt.where(*_conditions(f, with_status=with_status))


def _conditions(f: InboxFilters, *, with_status: bool = True) -> list:
    """The WHERE clauses for the filters, worked out once (the search may look an identifier up first)."""
    out = [_search(f.q)] if f.q else []
    if with_status:
        out += _status_conditions(f)
    if f.channel:
        out.append(Order.channel_id.in_(select(Channel.id).where(Channel.code == f.channel)))
    if f.warehouse:
        out.append(Order.id.in_(
            select(Shipment.order_id).join(Warehouse, Warehouse.id == Shipment.warehouse_id)
            .where(Warehouse.code == f.warehouse, Shipment.status != "cancelled")))
    if f.date_from:
        out.append(Order.placed_at >= _local_midnight(f.date_from))
    if f.date_to:
        out.append(Order.placed_at < _local_midnight(f.date_to + timedelta(days=1)))
    attention = _attention(select(Order.id), f.attention).whereclause
    return out if attention is None else [*out, attention]


def _search(q: str):
    """Number, channel number, external id, customer name or email, postcode, or a SKU on one of its lines.

    An order's own identifier answers from an index alone, so the wider match runs only when no order
    carries `q` as one. Every arm of the wider match has an index (names and emails a trigram index on
    PostgreSQL); the SKU arm is added only when `q` is a SKU's code, since it cannot share their bitmap.
    """
    identifier = or_(Order.number == q.upper(), Order.external_id == q, Order.channel_number.in_([q, f"#{q}"]))
    if db.session.scalar(select(Order.id).where(identifier).limit(1)) is not None:
        return identifier
    pattern = like_pattern(q)
    arms = [Order.customer_name.ilike(pattern, escape="\\"), Order.customer_email.ilike(pattern, escape="\\"),
            Order.ship_postcode == q.upper()]
    sku_ids = list(db.session.scalars(select(Sku.id).where(Sku.code.in_({q, q.upper()}))))
    if sku_ids:
        arms.append(Order.id.in_(select(OrderLine.order_id).where(OrderLine.sku_id.in_(sku_ids))))
    return or_(*arms)


def _attention(stmt: Select, attention: str) -> Select:
    if attention == "held":
        return stmt.where(Order.status == OrderStatus.ON_HOLD.value)
    if attention == "exception":
        return stmt.where(exists().where(InboundDelivery.order_id == Order.id,
                                         InboundDelivery.status.in_(OPEN_EXCEPTIONS)))
    if attention == "overdue":
        return stmt.where(Order.status.in_([s.value for s in OPEN_ORDER_STATUSES]),
                          Order.promised_ship_date < local_today())
    if attention == "waiting":
        return stmt.where(Order.status.in_([OrderStatus.BACKORDERED.value, OrderStatus.PARTIALLY_ALLOCATED.value]))
    return stmt


def search_orders(f: InboxFilters, page: int = 1, per_page: int = 50) -> Page:
    """Orders matching the filters, newest first, with their channel and lines loaded."""
    return paginate(_filtered(_inbox_rows(), f), page, per_page)


def _inbox_rows() -> Select:
    return (select(Order).options(selectinload(Order.channel), selectinload(Order.lines), selectinload(Order.holds))
            .order_by(Order.placed_at.desc(), Order.id.desc()))


COUNT_CAP = 1000  # browsing counts stop here: "1,000+" costs the same at any size, an exact count grows with the orders


@dataclass
class InboxPage:
    """One page of the inbox, reached by seeking from a neighbouring order rather than by skipping rows.

    `counts` are orders per status under every filter but the status (the tabs); with `cap` set, a count
    above it means "more than cap". `newer_than` / `older_than` are the order ids the previous and next
    pages seek from (None: there is no such page).
    """

    items: list[Order]
    page: int
    per_page: int
    counts: dict[str, int]
    cap: int | None
    newer_than: int | None
    older_than: int | None
    status: str = ""

    @property
    def shown_counts(self) -> list[int]:
        if self.status == "open":
            return [self.counts[s.value] for s in OPEN_ORDER_STATUSES]
        return [self.counts[self.status]] if self.status else list(self.counts.values())

    @property
    def capped(self) -> bool:
        return self.cap is not None and any(n > self.cap for n in self.shown_counts)

    @property
    def total(self) -> int:
        """Orders the list holds (at least this many when capped)."""
        return sum(n if self.cap is None else min(n, self.cap) for n in self.shown_counts)

    @property
    def pages(self) -> int | None:
        return None if self.capped else max(1, math.ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.newer_than is not None

    @property
    def has_next(self) -> bool:
        return self.older_than is not None


@dataclass(frozen=True)
class Seek:
    """Where a page starts: just older than one order (the next page), just newer (the previous), or the top."""

    older_than: int | None = None
    newer_than: int | None = None
    page: int = 1

    @classmethod
    def from_args(cls, args) -> "Seek":
        return cls(_order_id(args.get("older")), _order_id(args.get("newer")), page_number(args.get("page")))


def _order_id(raw: Any) -> int | None:
    try:
        value = int(raw)
    except (TypeError, ValueError):
        return None
    return value if 0 < value < 2**31 else None


def inbox(f: InboxFilters, seek: Seek = Seek(), per_page: int = 50) -> InboxPage:
    """One page of orders matching the filters, newest first, and the status tabs' counts, at a cost that does
    not grow with the number of orders or the depth of the page.

    Browsing walks the (status,) placed_at indexes from the neighbouring order and counts each status only up
    to COUNT_CAP. A search first reads its matches through the indexes (few, as identifiers, names and emails
    are), then sorts and counts those exactly: walking placed_at while testing each order against the search
    would read every order when the matches are rare.
    """
    rest = _conditions(f, with_status=False)
    status = _status_conditions(f)
    if f.q:
        matches = select(Order.id, Order.placed_at).where(*rest, *status).cte("matches").prefix_with("MATERIALIZED")
        rows = _inbox_rows().order_by(None).join(matches, matches.c.id == Order.id)
        at, key = matches.c.placed_at, matches.c.id
        counts, cap = _exact_counts(rest), None
    else:
        rows, at, key = _inbox_rows().order_by(None).where(*rest, *status), Order.placed_at, Order.id
        counts, cap = status_counts(rest, COUNT_CAP), COUNT_CAP
    items, newer_than, older_than = _seek_page(rows, at, key, seek, per_page)
    return InboxPage(items, seek.page, per_page, counts, cap, newer_than, older_than, f.status)


def _seek_page(rows: Select, at, key, seek: Seek, per_page: int) -> tuple[list[Order], int | None, int | None]:
    """The page's orders and the ids the previous and next pages seek from, ordered by (at, key) newest first."""
    anchor_id = seek.older_than or seek.newer_than
    anchor = db.session.execute(select(Order.placed_at, Order.id).where(Order.id == anchor_id)).first() \
        if anchor_id else None
    if anchor is None:  # the top, or an old ?page=N link: an offset (shallow pages cost little)
        found = list(db.session.scalars(rows.order_by(at.desc(), key.desc())
                                        .limit(per_page + 1).offset((seek.page - 1) * per_page)))
        page, more = found[:per_page], len(found) > per_page
        return page, page[0].id if page and seek.page > 1 else None, page[-1].id if more else None
    if seek.older_than:
        found = list(db.session.scalars(rows.where(at <= anchor.placed_at,
                                                   tuple_(at, key) < tuple_(anchor.placed_at, anchor.id))
                                        .order_by(at.desc(), key.desc()).limit(per_page + 1)))
        page, more = found[:per_page], len(found) > per_page
        return page, page[0].id if page else None, page[-1].id if more else None
    found = list(db.session.scalars(rows.where(at >= anchor.placed_at, tuple_(at, key) > tuple_(anchor.placed_at, anchor.id))
                                    .order_by(at, key).limit(per_page + 1)))
    page, more = found[:per_page][::-1], len(found) > per_page
    return page, page[0].id if more else None, page[-1].id if page else None


def _status_conditions(f: InboxFilters) -> list:
    if f.status == "open":
        return [Order.status.in_([s.value for s in OPEN_ORDER_STATUSES])]
    return [Order.status == f.status] if f.status else []


def _exact_counts(conditions: list) -> dict[str, int]:
    counts = {s.value: 0 for s in OrderStatus}
    counts.update({status: int(n) for status, n in db.session.execute(
        select(Order.status, func.count(Order.id)).where(*conditions).group_by(Order.status))})
    return counts


def status_counts(conditions: list, cap: int) -> dict[str, int]:
    """Orders per status matching the conditions, each counted only up to cap + 1 (above cap: "more than cap").

    One statement that reads at most cap + 1 entries of ix_orders_status_placed per status, whatever the size.
    """
    columns = [select(func.count()).select_from(
                   select(Order.id).where(*conditions, Order.status == s.value).limit(cap + 1).subquery())
               .scalar_subquery().label(s.value) for s in OrderStatus]
    row = db.session.execute(select(*columns)).one()
    return {s.value: int(n) for s, n in zip(OrderStatus, row)}


def shipment_warehouses(order_ids: list[int]) -> dict[int, list[str]]:
    """Warehouse codes of each order's live shipments, for a page of orders."""
    if not order_ids:
        return {}
    rows = db.session.execute(select(Shipment.order_id, Warehouse.code).join(Warehouse, Warehouse.id == Shipment.warehouse_id)
                              .where(Shipment.order_id.in_(order_ids), Shipment.status != "cancelled")
                              .distinct().order_by(Warehouse.code))
    out: dict[int, list[str]] = {}
    for order_id, code in rows:
        out.setdefault(order_id, []).append(code)
    return out


def filter_choices() -> dict[str, list]:
    return {"channels": list(db.session.execute(select(Channel.code, Channel.name).order_by(Channel.code))),
            "warehouses": list(db.session.execute(select(Warehouse.code, Warehouse.name).order_by(Warehouse.code))),
            "statuses": list(OrderStatus), "attention": ATTENTION}


# --- one order ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    subject: str
    from_status: str | None
    to_status: str
    reason: str
    who: str


def order_detail(order_id: int) -> Order | None:
    """The order with lines, shipments (warehouse, lines, bins), holds and transitions loaded."""
    # A shipment line's SKU is one of its order line's SKUs, loaded just before: the lazy load finds it in the
    # session without a query, so it needs no selectin query of its own.
    return db.session.scalar(
        select(Order).where(Order.id == order_id).options(
            selectinload(Order.channel), selectinload(Order.lines).selectinload(OrderLine.sku),
            selectinload(Order.shipments).selectinload(Shipment.warehouse),
            selectinload(Order.shipments).selectinload(Shipment.lines).selectinload(ShipmentLine.bins)
            .selectinload(ShipmentBin.location),
            selectinload(Order.holds), selectinload(Order.transitions)))


def order_timeline(order: Order) -> list[TimelineEntry]:
    """Every transition of the order and its shipments, oldest first, with who made it."""
    names = _usernames({t.user_id for t in order.transitions} | {h.released_by_id for h in order.holds})
    shipments = {s.id: s.number for s in order.shipments}
    return [TimelineEntry(t.created_at, f"Shipment {shipments.get(t.shipment_id, '')}" if t.shipment_id else "Order",
                          t.from_status, t.to_status, t.reason, names.get(t.user_id, "Keel"))
            for t in sorted(order.transitions, key=lambda t: (t.created_at, t.id))]


def _usernames(ids: set[int | None]) -> dict[int, str]:
    ids = {i for i in ids if i}
    if not ids:
        return {}
    return {uid: full or name for uid, name, full in
            db.session.execute(select(User.id, User.username, User.full_name).where(User.id.in_(ids)))}


def hold_releasers(order: Order) -> dict[int, str]:
    return _usernames({h.released_by_id for h in order.holds})


def order_deliveries(order_id: int) -> list[InboundDelivery]:
    """Everything received about this order: the payloads, refunds and any exceptions."""
    return list(db.session.scalars(select(InboundDelivery).where(InboundDelivery.order_id == order_id)
                                   .order_by(InboundDelivery.received_at, InboundDelivery.id)))


def order_api_json(order: Order) -> dict:
    """The order as GET /orders/<id> answers it."""
    return {**order_summary_json(order),
            "lines": [{"line_no": line.line_no, "sku": line.sku.code, "title": line.title, "qty": line.qty,
                       "unit_price": str(line.unit_price), "discount": str(line.discount), "tax": str(line.tax),
                       "qty_allocated": line.qty_allocated, "qty_shipped": line.qty_shipped,
                       "qty_backordered": line.qty_waiting if order.status in OPEN_ORDER_STATUSES else 0}
                      for line in order.lines],
            "ship_to": {"name": order.ship_name, "address1": order.ship_address1, "address2": order.ship_address2,
                        "city": order.ship_city, "region": order.ship_region, "postcode": order.ship_postcode,
                        "country": order.ship_country, "phone": order.ship_phone},
            "shipping": str(order.shipping), "shipping_tax": str(order.shipping_tax),
            "order_discount": str(order.order_discount), "fees": str(order.fees),
            "holds": [{"kind": h.kind, "reason": h.reason, "open": h.released_at is None} for h in order.holds],
            "shipments": [{"number": s.number, "status": s.status, "warehouse": s.warehouse.code,
                           "warehouse_name": s.warehouse.name,
                           "lines": [{"sku": sl.sku.code, "qty": sl.qty,
                                      "bins": [{"bin": b.location.code, "qty": b.qty} for b in sl.bins]}
                                     for sl in s.lines]}
                          for s in order.shipments],
            "cancel_reason": order.cancel_reason or None}


def order_summary_json(order: Order) -> dict:
    """The order as a row of GET /orders."""
    return {"id": order.id, "number": order.number, "channel": order.channel.code, "external_id": order.external_id,
            "channel_number": order.channel_number or None, "status": order.status, "priority": order.priority,
            "sla_days": order.sla_days, "promised_ship_date": order.promised_ship_date.isoformat(),
            "placed_at": order.placed_at.isoformat(), "currency": order.currency, "total": str(order.total),
            "customer_name": order.customer_name, "customer_email": order.customer_email, "units": order.units}


# --- queues ------------------------------------------------------------------------------------------------

def hold_queue(q: str = "", kind: str = "", channel: str = "", page: int = 1) -> Page:
    """Orders on hold, oldest first, with their open holds."""
    stmt = (select(Order).where(Order.status == OrderStatus.ON_HOLD.value)
            .options(selectinload(Order.channel), selectinload(Order.holds), selectinload(Order.lines))
            .order_by(Order.placed_at, Order.id))
    if q:
        stmt = stmt.where(_search(q))
    if kind:
        stmt = stmt.where(exists().where(OrderHold.order_id == Order.id, OrderHold.kind == kind,
                                         OrderHold.released_at.is_(None)))
    if channel:
        stmt = stmt.where(Order.channel_id.in_(select(Channel.id).where(Channel.code == channel)))
    return paginate(stmt, page, 50)


def open_hold_kinds() -> dict[str, int]:
    rows = db.session.execute(select(OrderHold.kind, func.count(OrderHold.id)).join(Order, Order.id == OrderHold.order_id)
                              .where(OrderHold.released_at.is_(None), Order.status == OrderStatus.ON_HOLD.value)
                              .group_by(OrderHold.kind).order_by(OrderHold.kind))
    return {kind: int(n) for kind, n in rows}


EXCEPTION_VIEWS = {"open": OPEN_EXCEPTIONS, "resolved": ("processed", "dismissed", "duplicate", "stale"),
                   "rejected": ("rejected",), "all": None}


def exception_queue(view: str = "open", q: str = "", source: str = "", page: int = 1) -> Page:
    """Deliveries in the exception queue (or resolved ones), newest first."""
    stmt = select(InboundDelivery).options(selectinload(InboundDelivery.channel)).order_by(
        InboundDelivery.received_at.desc(), InboundDelivery.id.desc())
    statuses = EXCEPTION_VIEWS.get(view, OPEN_EXCEPTIONS)
    if view == "resolved":
        stmt = stmt.where(InboundDelivery.resolved_at.is_not(None))
    elif statuses:
        stmt = stmt.where(InboundDelivery.status.in_(statuses))
    if source:
        stmt = stmt.where(InboundDelivery.source == source)
    if q:
        pattern = like_pattern(q)
        stmt = stmt.where(or_(InboundDelivery.error.ilike(pattern, escape="\\"),
                              InboundDelivery.delivery_id == q, InboundDelivery.topic == q,
                              InboundDelivery.body.ilike(pattern, escape="\\")))
    return paginate(stmt, page, 50)


def delivery(delivery_id: int) -> InboundDelivery | None:
    return db.session.get(InboundDelivery, delivery_id)


def exception_count() -> int:
    return db.session.scalar(select(func.count(InboundDelivery.id)).where(InboundDelivery.status.in_(OPEN_EXCEPTIONS)))


def pretty_body(delivery: InboundDelivery) -> str:
    """The raw payload, indented when it is JSON, exactly as received otherwise."""
    import json
    try:
        return json.dumps(json.loads(delivery.body), indent=2, ensure_ascii=False)
    except ValueError:
        return delivery.body


# --- available to sell -------------------------------------------------------------------------------------

def availability_table(q: str = "", channel: str = "", short: bool = False, page: int = 1) -> tuple[Page, list, dict]:
    """SKUs by channel: available units in each channel's warehouses less its buffer.

    Returns the page of SKUs, the channels (columns) and {(sku_id, channel_id): (available, can_sell)}.
    """
    channels = list(db.session.scalars(select(Channel).where(Channel.active.is_(True)).order_by(Channel.code)))
    if channel:
        channels = [c for c in channels if c.code == channel]
    stmt = select(Sku).where(Sku.active.is_(True)).order_by(Sku.code)
    if q:
        pattern = like_pattern(q)
        stmt = stmt.where(or_(Sku.code.ilike(pattern, escape="\\"), Sku.name.ilike(pattern, escape="\\"), Sku.gtin == q))
    if short and channels:
        stmt = stmt.where(_short_anywhere(channels))
    skus = paginate(stmt, page, 50)
    return skus, channels, _cells([s.id for s in skus.items], channels)


def _available_by_channel():
    """(sku_id, channel_id, units available in the channel's warehouses) as a subquery."""
    return (select(StockBalance.sku_id, channel_warehouses.c.channel_id, func.sum(StockBalance.qty).label("units"))
            .join(channel_warehouses, channel_warehouses.c.warehouse_id == StockBalance.warehouse_id)
            .where(StockBalance.status == Status.AVAILABLE.value)
            .group_by(StockBalance.sku_id, channel_warehouses.c.channel_id))


def _short_anywhere(channels: list[Channel]):
    """SKUs that some channel can sell none of: nothing available there beyond its buffer."""
    available = _available_by_channel().subquery()
    return or_(*[Sku.id.not_in(select(available.c.sku_id).where(available.c.channel_id == c.id,
                                                               available.c.units > c.safety_buffer))
                 for c in channels])


def _cells(sku_ids: list[int], channels: list[Channel]) -> dict[tuple[int, int], tuple[int, int]]:
    if not sku_ids or not channels:
        return {}
    available = _available_by_channel().subquery()
    units = {(sku_id, channel_id): int(n) for sku_id, channel_id, n in db.session.execute(
        select(available.c.sku_id, available.c.channel_id, available.c.units).where(available.c.sku_id.in_(sku_ids)))}
    return {(sku_id, c.id): (units.get((sku_id, c.id), 0), max(0, units.get((sku_id, c.id), 0) - c.safety_buffer))
            for sku_id in sku_ids for c in channels}


def sku_lookup(q: str, limit: int = 10) -> list[Sku]:
    """SKUs on sale whose code, name or barcode matches, for the order entry form."""
    if not q.strip():
        return []
    pattern = like_pattern(q.strip())
    return list(db.session.scalars(select(Sku).where(Sku.active.is_(True), or_(
        Sku.code.ilike(pattern, escape="\\"), Sku.name.ilike(pattern, escape="\\"), Sku.gtin == q.strip()))
        .order_by(Sku.code).limit(limit)))


def active_channels() -> list[Channel]:
    return list(db.session.scalars(select(Channel).where(Channel.active.is_(True)).order_by(Channel.code)))
