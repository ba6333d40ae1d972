"""Return intelligence: return rates by SKU, channel and reason, cycle times, and SKUs with a quality problem.

A period's return rate is the units authorised for return on RMAs opened in the period (cancelled and
expired ones left out) over the units shipped in the same period. Cycle time runs from authorisation
to refund, over RMAs refunded in the period.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select

from app.domain.returns import (ENDED_WITHOUT_RETURN, QUALITY_REASONS, REASON_LABELS, QualitySignal, ReturnReason,
                                percentile, quality_signals, rate)
from app.extensions import db
from app.models import Channel, Sku
from app.models.orders import Shipment, ShipmentLine
from app.models.returns import Refund, Rma, RmaLine
from app.services.finance import from_minor, minor_sum
from app.services.return_queries import local_start, parse_date
from app.services.settings import get_setting

DEFAULT_DAYS = 90
DIMENSIONS = ("sku", "channel", "reason")


@dataclass(frozen=True)
class Period:
    """Local calendar days from `first` to `last`, both included."""

    first: date
    last: date

    @classmethod
    def from_args(cls, args, today: date) -> "Period":
        last = parse_date(args.get("to")) or today
        first = parse_date(args.get("from")) or last - timedelta(days=DEFAULT_DAYS - 1)
        return cls(min(first, last), max(first, last))

    @property
    def start(self) -> datetime:
        return local_start(self.first)

    @property
    def end(self) -> datetime:
        return local_start(self.last + timedelta(days=1))

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1


@dataclass(frozen=True)
class RateRow:
    key: str
    label: str
    returned: int
    shipped: int

    @property
    def rate(self) -> float | None:
        return rate(self.returned, self.shipped)


def _returned_lines(period: Period):
    return (select(RmaLine, Rma).join(Rma, Rma.id == RmaLine.rma_id)
            .where(Rma.authorised_at >= period.start, Rma.authorised_at < period.end, RmaLine.unexpected.is_(False),
                   Rma.status.not_in([s.value for s in ENDED_WITHOUT_RETURN])))


def returned_units(period: Period, dimension: str) -> dict[str, int]:
    """Units authorised for return in the period, by SKU code, channel code or reason."""
    key = {"sku": Sku.code, "channel": Channel.code, "reason": RmaLine.reason}[dimension]
    stmt = (select(key, func.sum(RmaLine.qty_expected)).select_from(RmaLine).join(Rma, Rma.id == RmaLine.rma_id)
            .join(Sku, Sku.id == RmaLine.sku_id).join(Channel, Channel.id == Rma.channel_id)
            .where(Rma.authorised_at >= period.start, Rma.authorised_at < period.end, RmaLine.unexpected.is_(False),
                   Rma.status.not_in([s.value for s in ENDED_WITHOUT_RETURN])).group_by(key))
    return {k: int(n or 0) for k, n in db.session.execute(stmt)}


def shipped_units(period: Period, dimension: str) -> dict[str, int]:
    """Units shipped in the period, by SKU code or channel code; by reason every key shares the total."""
    from app.models.orders import Order
    key = {"sku": Sku.code, "channel": Channel.code, "reason": None}[dimension]
    columns = (key, func.sum(ShipmentLine.qty_picked)) if key is not None else (func.sum(ShipmentLine.qty_picked),)
    stmt = (select(*columns).select_from(ShipmentLine).join(Shipment, Shipment.id == ShipmentLine.shipment_id)
            .join(Sku, Sku.id == ShipmentLine.sku_id).join(Order, Order.id == Shipment.order_id)
            .join(Channel, Channel.id == Order.channel_id)
            .where(Shipment.status == "shipped", Shipment.shipped_at >= period.start, Shipment.shipped_at < period.end))
    if key is None:
        return {"*": int(db.session.scalar(stmt) or 0)}
    return {k: int(n or 0) for k, n in db.session.execute(stmt.group_by(key))}


def return_rates(period: Period, dimension: str, *, limit: int | None = None) -> list[RateRow]:
    """Returned over shipped units per key: channels by rate, SKUs and reasons by units returned."""
    returned, shipped = returned_units(period, dimension), shipped_units(period, dimension)
    names = _labels(dimension)
    rows = [RateRow(key, names.get(key, key), n, shipped.get(key, shipped.get("*", 0))) for key, n in returned.items()]
    if dimension == "channel":
        rows += [RateRow(k, names.get(k, k), 0, n) for k, n in shipped.items() if k not in returned]
    if dimension == "channel":
        rows.sort(key=lambda r: (-(r.rate or 0), -r.returned, r.key))
    else:  # by SKU a rate over one or two units means little: the most returned come first
        rows.sort(key=lambda r: (-r.returned, -(r.rate or 0), r.key))
    return rows[:limit] if limit else rows


def _labels(dimension: str) -> dict[str, str]:
    if dimension == "reason":
        return {r.value: REASON_LABELS[r] for r in ReturnReason}
    if dimension == "channel":
        return dict(db.session.execute(select(Channel.code, Channel.name)).all())
    return {}


@dataclass(frozen=True)
class CycleTimes:
    count: int
    median_days: float | None
    p90_days: float | None


def cycle_times(period: Period) -> CycleTimes:
    """Days from authorisation to refund for RMAs refunded in the period: median and 90th percentile."""
    rows = db.session.execute(select(Rma.authorised_at, Rma.refunded_at).where(
        Rma.refunded_at.is_not(None), Rma.refunded_at >= period.start, Rma.refunded_at < period.end))
    days = [(refunded - authorised).total_seconds() / 86400 for authorised, refunded in rows]
    return CycleTimes(len(days), percentile(days, 50), percentile(days, 90))


def quality_problems(period: Period) -> list[QualitySignal]:
    """SKUs whose returns in the period are mostly defective or not as described (settings: threshold, minimum)."""
    stmt = (select(Sku.code, RmaLine.reason, func.sum(RmaLine.qty_expected)).select_from(RmaLine)
            .join(Rma, Rma.id == RmaLine.rma_id).join(Sku, Sku.id == RmaLine.sku_id)
            .where(Rma.authorised_at >= period.start, Rma.authorised_at < period.end, RmaLine.unexpected.is_(False),
                   Rma.status.not_in([s.value for s in ENDED_WITHOUT_RETURN]))
            .group_by(Sku.code, RmaLine.reason))
    table: dict[str, dict[str, int]] = {}
    for code, reason, units in db.session.execute(stmt):
        table.setdefault(code, {})[reason] = int(units or 0)
    return quality_signals(table, threshold=float(get_setting("returns.quality_threshold")),
                           min_count=int(get_setting("returns.quality_min_count")))


def sku_names(codes: list[str]) -> dict[str, str]:
    if not codes:
        return {}
    return dict(db.session.execute(select(Sku.code, Sku.name).where(Sku.code.in_(codes))).all())


def weekly_rmas(period: Period) -> list[tuple[date, int]]:
    """RMAs opened per week (weeks starting on Monday) over the period."""
    rows = db.session.scalars(select(Rma.authorised_at).where(Rma.authorised_at >= period.start,
                                                              Rma.authorised_at < period.end))
    first_monday = period.first - timedelta(days=period.first.weekday())
    weeks = {first_monday + timedelta(weeks=i): 0 for i in range((period.last - first_monday).days // 7 + 1)}
    zone = period.start.tzinfo
    for moment in rows:
        day = moment.astimezone(zone).date()
        weeks[day - timedelta(days=day.weekday())] += 1
    return sorted(weeks.items())


def overview(period: Period) -> dict:
    """The period's headline figures: RMAs, units, the overall return rate, money refunded, RMAs still open."""
    reasons = returned_units(period, "reason")
    returned = sum(reasons.values())
    shipped = shipped_units(period, "reason")["*"]
    rmas = db.session.scalar(select(func.count(Rma.id)).where(Rma.authorised_at >= period.start,
                                                              Rma.authorised_at < period.end)) or 0
    refunded = db.session.scalar(select(minor_sum(Refund.total)).where(
        Refund.status.in_(("issued", "paid")), Refund.issued_at >= period.start, Refund.issued_at < period.end))
    quality = sum(n for reason, n in reasons.items() if reason in QUALITY_REASONS)
    return {"rmas": int(rmas), "returned": returned, "shipped": shipped, "rate": rate(returned, shipped),
            "refunded": from_minor(refunded),
            "quality_share": rate(quality, returned)}
