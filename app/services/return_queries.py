"""Read-side queries for the returns screens and the returns API lists."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Mapping
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import Select, func, or_, select

from app.domain.returns import AWAITING_ARRIVAL, OPEN_STATUSES, REASON_LABELS, ReturnReason, RmaStatus
from app.extensions import db
from app.models import Channel, Location
from app.models.orders import Order
from app.models.returns import Refund, RefurbishTask, ReturnPolicyRecord, Rma, RmaLine, VendorClaim
from app.services import returns
from app.services.queries import Page, like_pattern, paginate, users_by_id

REFUND_VIEWS = {
    "to_request": "Inspected, no refund yet",
    "approval": "Waiting for approval",
    "to_issue": "Approved, to issue",
    "to_pay": "Issued, to pay",
    "done": "Paid",
}
REFUND_VIEW_STATUS = {"approval": "pending_approval", "to_issue": "approved", "to_pay": "issued", "done": "paid"}


def parse_date(text: object) -> date | None:
    try:
        return date.fromisoformat(str(text).strip()) if text else None
    except ValueError:
        return None


def local_start(day: date) -> datetime:
    """The first moment of a local calendar day, as an aware time."""
    return datetime.combine(day, time.min, tzinfo=ZoneInfo(current_app.config["KEEL_TIMEZONE"]))


@dataclass
class RmaFilters:
    q: str = ""
    status: str = ""
    channel: str = ""
    reason: str = ""
    date_from: date | None = None
    date_to: date | None = None

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> "RmaFilters":
        status = args.get("status", "")
        reason = args.get("reason", "")
        return cls(q=args.get("q", "").strip()[:100], status=status if status in set(RmaStatus) or status == "open" else "",
                   channel=args.get("channel", "").strip()[:30], reason=reason if reason in set(ReturnReason) else "",
                   date_from=parse_date(args.get("from")), date_to=parse_date(args.get("to")))

    @property
    def any(self) -> bool:
        return bool(self.q or self.status or self.channel or self.reason or self.date_from or self.date_to)

    def args(self, **changes) -> dict[str, str]:
        values = {"q": self.q, "status": self.status, "channel": self.channel, "reason": self.reason,
                  "from": self.date_from.isoformat() if self.date_from else "",
                  "to": self.date_to.isoformat() if self.date_to else ""}
        values.update(changes)
        return {k: v for k, v in values.items() if v}


def _filtered(filters: RmaFilters, *, with_status: bool = True) -> Select:
    stmt = select(Rma).join(Order, Order.id == Rma.order_id)
    if filters.q:
        pattern = like_pattern(filters.q)
        stmt = stmt.where(or_(Rma.number.ilike(pattern, escape="\\"), Order.number.ilike(pattern, escape="\\"),
                              Order.channel_number.ilike(pattern, escape="\\"),
                              Rma.customer_name.ilike(pattern, escape="\\"), Rma.customer_email.ilike(pattern, escape="\\"),
                              Rma.tracking_number == filters.q))
    if with_status and filters.status == "open":
        stmt = stmt.where(Rma.status.in_([s.value for s in OPEN_STATUSES]))
    elif with_status and filters.status:
        stmt = stmt.where(Rma.status == filters.status)
    if filters.channel:
        stmt = stmt.where(Rma.channel_id.in_(select(Channel.id).where(Channel.code == filters.channel)))
    if filters.reason:
        stmt = stmt.where(Rma.id.in_(select(RmaLine.rma_id).where(RmaLine.reason == filters.reason)))
    if filters.date_from:
        stmt = stmt.where(Rma.authorised_at >= local_start(filters.date_from))
    if filters.date_to:
        stmt = stmt.where(Rma.authorised_at < local_start(filters.date_to + timedelta(days=1)))
    return stmt


def search_rmas(filters: RmaFilters, page: int, per_page: int = 50) -> Page:
    return paginate(_filtered(filters).order_by(Rma.authorised_at.desc(), Rma.id.desc()), page, per_page)


def status_counts(filters: RmaFilters) -> dict[str, int]:
    inner = _filtered(filters, with_status=False).with_only_columns(Rma.status).subquery()
    counts = dict(db.session.execute(select(inner.c.status, func.count()).group_by(inner.c.status)).all())
    return {s.value: int(counts.get(s.value, 0)) for s in RmaStatus}


def filter_choices() -> dict[str, Any]:
    channels = list(db.session.execute(select(Channel.code, Channel.name).order_by(Channel.code)))
    return {"statuses": list(RmaStatus), "channels": channels,
            "reasons": [(r.value, REASON_LABELS[r]) for r in ReturnReason]}


def rma_detail(rma_id: int) -> Rma | None:
    return db.session.get(Rma, rma_id)


def timeline(rma: Rma) -> list[dict[str, Any]]:
    names = users_by_id({s.user_id for s in rma.steps if s.user_id})
    return [{"at": s.created_at, "who": names.get(s.user_id, "Keel"), "action": s.action, "from_status": s.from_status,
             "to_status": s.to_status, "note": s.note} for s in reversed(rma.steps)]


def claims_for(rma: Rma) -> list[VendorClaim]:
    return list(db.session.scalars(select(VendorClaim).where(VendorClaim.rma_id == rma.id).order_by(VendorClaim.id)))


def refurbish_tasks_for(rma: Rma) -> list[RefurbishTask]:
    unit_ids = [u.id for line in rma.lines for u in line.units]
    if not unit_ids:
        return []
    return list(db.session.scalars(select(RefurbishTask).where(RefurbishTask.rma_unit_id.in_(unit_ids))))


def awaiting_receipt(q: str, page: int) -> Page:
    return search_rmas(RmaFilters(q=q, status=""), page, 25) if q else paginate(
        select(Rma).where(Rma.status.in_([s.value for s in AWAITING_ARRIVAL]))
        .order_by(Rma.authorised_at.desc(), Rma.id.desc()), page, 25)


def inspection_queue(page: int) -> Page:
    return paginate(select(Rma).where(Rma.status == RmaStatus.RECEIVED.value)
                    .order_by(Rma.received_at, Rma.id), page, 25)


def refund_queue(view: str, q: str, page: int) -> Page:
    """One tab of the refund queue: inspected RMAs waiting for a refund request, or refunds in one state."""
    if view == "to_request":
        active = select(Refund.rma_id).where(Refund.status.in_(returns.ACTIVE_REFUND + ("paid",)))
        stmt = (select(Rma).join(Order, Order.id == Rma.order_id)
                .where(Rma.status == RmaStatus.INSPECTED.value, Rma.id.not_in(active)))
        if q:
            stmt = stmt.where(or_(Rma.number.ilike(like_pattern(q), escape="\\"), Order.number.ilike(like_pattern(q), escape="\\"),
                                  Rma.customer_name.ilike(like_pattern(q), escape="\\")))
        return paginate(stmt.order_by(Rma.inspected_at, Rma.id), page, 25)
    stmt = select(Refund).join(Rma, Rma.id == Refund.rma_id).where(Refund.status == REFUND_VIEW_STATUS[view])
    if q:
        stmt = stmt.where(or_(Refund.number.ilike(like_pattern(q), escape="\\"), Rma.number.ilike(like_pattern(q), escape="\\"),
                              Rma.customer_name.ilike(like_pattern(q), escape="\\")))
    order = Refund.paid_at.desc() if view == "done" else Refund.created_at
    return paginate(stmt.order_by(order, Refund.id), page, 25)


def refund_queue_counts() -> dict[str, int]:
    counts = dict(db.session.execute(select(Refund.status, func.count()).group_by(Refund.status)).all())
    active = select(Refund.rma_id).where(Refund.status.in_(returns.ACTIVE_REFUND + ("paid",)))
    waiting = db.session.scalar(select(func.count(Rma.id)).where(Rma.status == RmaStatus.INSPECTED.value,
                                                                 Rma.id.not_in(active)))
    return {"to_request": int(waiting or 0), **{view: int(counts.get(status, 0))
                                                 for view, status in REFUND_VIEW_STATUS.items()}}


def refurbish_queue(status: str, page: int) -> Page:
    status = status if status in ("open", "done", "scrapped") else "open"
    return paginate(select(RefurbishTask).where(RefurbishTask.status == status)
                    .order_by(RefurbishTask.created_at, RefurbishTask.id), page, 50)


def policy_channels() -> list[dict[str, Any]]:
    """Every channel, and whether it has its own return policy or follows the default."""
    own = set(db.session.scalars(select(ReturnPolicyRecord.channel_id)))
    return [{"id": cid, "code": code, "name": name, "own": cid in own}
            for cid, code, name in db.session.execute(select(Channel.id, Channel.code, Channel.name).order_by(Channel.code))]


def bins_of(warehouse_id: int) -> list[Location]:
    return list(db.session.scalars(select(Location).where(Location.warehouse_id == warehouse_id, Location.kind == "bin",
                                                          Location.active.is_(True)).order_by(Location.code)))


def rma_json(rma: Rma, *, detail: bool = False) -> dict[str, Any]:
    """An RMA as the API answers it."""
    body = {"id": rma.id, "number": rma.number, "status": rma.status, "order": rma.order.number, "order_id": rma.order_id,
            "channel": rma.channel.code, "warehouse": rma.warehouse.code, "source": rma.source,
            "customer_name": rma.customer_name, "retailer_pays_label": rma.retailer_pays_label,
            "authorised_at": rma.authorised_at.isoformat(), "units_expected": rma.units_expected,
            "units_received": rma.units_received, "resolution": rma.resolution or None}
    if detail:
        body["lines"] = [{"id": line.id, "sku": line.sku.code, "reason": line.reason or None, "expected": line.qty_expected,
                          "received": line.qty_received, "unexpected": line.unexpected,
                          "units": [{"id": u.id, "grade": u.grade or None, "disposition": u.disposition or None,
                                     "defect": u.defect or None, "location": u.location.code if u.location else None}
                                    for u in line.units]} for line in rma.lines]
        body["refunds"] = [refund_json(r) for r in rma.refunds]
        body["timeline"] = [{"at": s.created_at.isoformat(), "action": s.action, "from": s.from_status,
                             "to": s.to_status, "note": s.note} for s in rma.steps]
        body["exchange_order"] = rma.exchange_order.number if rma.exchange_order else None
    return body


def refund_json(refund: Refund) -> dict[str, Any]:
    return {"id": refund.id, "number": refund.number, "rma": refund.rma.number, "status": refund.status,
            "currency": refund.currency, "goods": str(refund.goods), "shipping": str(refund.shipping),
            "restocking_fee": str(refund.restocking_fee), "total": str(refund.total),
            "paid_by_channel": refund.paid_by_channel, "payment_reference": refund.payment_reference or None,
            "lines": [{"sku": line.rma_line.sku.code, "qty": line.qty, "amount": str(line.amount)} for line in refund.lines]}
