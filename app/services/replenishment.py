"""Replenishment: demand forecasts per SKU and warehouse, reorder points, and what to buy from whom, with why.

The maths live in app/domain/forecast.py and app/domain/replenishment.py. This module reads order history,
stock, open purchase orders, backorders and supplier terms, runs the maths for each SKU and warehouse, and
stores every run with its accuracy. Daily demand is attributed to the warehouse that shipped or reserved
each unit, else to the first warehouse of the order's channel.

The forecast module (statsmodels) is imported where it fits, which keeps it out of web start-up.
A run fits with OpenBLAS limited to one thread (threadpoolctl, since numpy is already loaded by then in
every process): the fits are tiny, and threaded BLAS made them about eight times slower on a busy machine.
"""
from __future__ import annotations

import math
import statistics
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as clock
from datetime import timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import selectinload
from threadpoolctl import threadpool_limits

from app.domain.errors import Conflict, NotFound, ValidationError
from app.domain.inventory import Status
from app.domain.orders import AWAITING_STOCK
from app.domain.replenishment import StockProjection, project_stock, reorder_point, safety_stock, suggest_order
from app.extensions import db
from app.models import Sku, StockBalance, Warehouse, channel_warehouses
from app.models.orders import Order, OrderLine, Shipment, ShipmentLine
from app.models.purchasing import (Promotion, PurchaseOrder, PurchaseOrderLine, ReplenishmentLine, ReplenishmentRun,
                                   SupplierShipment, SupplierShipmentLine, SupplierSku)
from app.models.types import utcnow
from app.services._uow import service
from app.services.events import record_event
from app.services.purchasing import OPEN_STATUSES, LineInput, exchange_rate, local_today, record_draft
from app.services.purchasing_queries import lead_time_history, offers_for_skus
from app.services.settings import get_setting

DEFAULT_LEAD_TIME_DAYS = 14  # for SKUs no supplier offers: enough to show a reorder point, never to order
RUNS_WITH_DETAIL = 10  # older runs keep their summary row; their per-SKU lines are pruned
STALE_RUN = timedelta(hours=2)
# A slow seller's reorder point can sit a fraction of a unit above zero; a pack (or a minimum order) bought
# for less than half a unit of expected need is stock that will not sell.
MIN_NEED_UNITS = 0.5
MAX_PROMOTION_UPLIFT = 1000


@dataclass(frozen=True)
class Policy:
    """The replenishment settings one run uses, read once."""

    service_level: float
    horizon_days: int
    cycle_days: int
    lead_time_spread: float
    min_lead_time_samples: int


def current_policy() -> Policy:
    level = float(get_setting("replenishment.service_level"))
    if not 0.5 <= level < 1:
        raise ValidationError("The service level setting must be at least 0.5 and below 1.", field="service_level")
    return Policy(service_level=level, horizon_days=int(get_setting("replenishment.horizon_days")),
                  cycle_days=int(get_setting("replenishment.order_cycle_days")),
                  lead_time_spread=float(get_setting("replenishment.lead_time_spread")),
                  min_lead_time_samples=int(get_setting("replenishment.min_lead_time_samples")))


@dataclass(frozen=True)
class LeadTime:
    """Days from order to arrival, their spread, and where the figures came from (receipts or supplier terms)."""

    days: float
    std: float
    source: str


@dataclass
class Inbound:
    """Units coming to one warehouse: ordered but not shipped, in transit, and the day offsets they arrive on."""

    on_order: int = 0
    in_transit: int = 0
    arrivals: dict[int, float] = field(default_factory=dict)

    def arrive(self, day: int, units: int) -> None:
        self.arrivals[max(day, 0)] = self.arrivals.get(max(day, 0), 0.0) + units


@dataclass(frozen=True)
class Position:
    """What a warehouse holds and expects of one SKU, in units."""

    available: int
    on_order: int
    in_transit: int
    backorders: int
    arrivals: dict[int, float]

    @property
    def units(self) -> int:
        return self.available + self.on_order + self.in_transit - self.backorders


@dataclass(frozen=True)
class Terms:
    """The offer a SKU would be bought on: supplier, cost, packs, minimum, currency."""

    supplier_id: int | None
    unit_cost: Decimal | None
    pack_size: int
    moq: int
    currency: str


@dataclass(frozen=True)
class Plan:
    """The reorder figures and suggestion for one SKU in one warehouse."""

    mean_daily: float
    safety_stock: float
    reorder_point: float
    order_up_to: float
    qty: int
    reason: str
    value: Decimal | None
    projection: StockProjection
    reorder_day: int | None
    arrival_day: int


# --- running -----------------------------------------------------------------------------------------------------

@service
def run_replenishment(*, trigger: str = "manual", user_id: int | None = None) -> ReplenishmentRun:
    """Forecast every SKU in every warehouse, suggest what to buy, and record the run with its accuracy."""
    policy = current_policy()
    run = _start_run(trigger, user_id, policy)
    started = time.perf_counter()
    try:
        with threadpool_limits(limits=1, user_api="blas"):
            _compute(run, local_today(), policy)
        run.status, run.finished_at = "done", utcnow()
        run.seconds = round(time.perf_counter() - started, 2)
        _prune_old_lines()
        record_event("replenishment.run", "replenishment_run", run.id,
                     {"run": run.id, "series": run.series, "suggestions": run.suggestions, "seconds": run.seconds})
        db.session.commit()
    except Exception as exc:
        db.session.rollback()
        _mark_failed(run.id, exc, time.perf_counter() - started)
        raise
    return run


def _start_run(trigger: str, user_id: int | None, policy: Policy) -> ReplenishmentRun:
    running = db.session.scalar(select(ReplenishmentRun).where(ReplenishmentRun.status == "running",
                                                               ReplenishmentRun.started_at > utcnow() - STALE_RUN))
    if running is not None:
        raise Conflict(f"Replenishment run {running.id} is still running; wait for it to finish.")
    run = ReplenishmentRun(trigger=trigger, status="running", started_at=utcnow(), user_id=user_id,
                           service_level=policy.service_level, horizon_days=policy.horizon_days)
    db.session.add(run)
    db.session.commit()
    return run


def _mark_failed(run_id: int, exc: Exception, seconds: float) -> None:
    run = db.session.get(ReplenishmentRun, run_id)
    run.status, run.finished_at, run.seconds = "failed", utcnow(), round(seconds, 2)
    run.error = f"{type(exc).__name__}: {exc}"[:1000]
    db.session.commit()


def _compute(run: ReplenishmentRun, today: date, policy: Policy) -> None:
    from app.domain.forecast import MAX_HISTORY_DAYS, forecast_series, overall_accuracy
    end = today - timedelta(days=1)
    start = end - timedelta(days=MAX_HISTORY_DAYS - 1)
    history, first_sale = demand_history(start, end)
    positions = positions_now(today)
    keys = _series_keys(set(history) | {key for key, p in positions.items() if p.backorders > 0})
    offers = offers_for_skus(sorted({sku for sku, _ in keys}))
    leads: dict[int, LeadTime] = {}
    promotions = active_promotions(today)
    forecasts, rows = [], []
    for sku_id, warehouse_id in keys:
        days = _series(history.get((sku_id, warehouse_id), {}), first_sale.get(sku_id, end), start, end)
        terms, lead = choose_terms(offers.get(sku_id, []), leads, policy)
        horizon = max(policy.horizon_days, math.ceil(lead.days) + policy.cycle_days + 1)
        forecast = forecast_series(days, horizon)
        daily = promoted(forecast.daily, sku_id, warehouse_id, promotions, today)
        position = positions.get((sku_id, warehouse_id)) or Position(0, 0, 0, 0, {})
        plan = plan_series(daily, forecast.std_daily_error, position, lead, terms, policy)
        forecasts.append(forecast)
        rows.append(_line_row(run, sku_id, warehouse_id, days, forecast, daily, lead, terms, position, plan, today))
    if rows:
        db.session.execute(insert(ReplenishmentLine), rows)
    accuracy = overall_accuracy(forecasts)
    run.history_days, run.series, run.skus = (end - start).days + 1, len(rows), len({sku for sku, _ in keys})
    run.suggestions = sum(1 for row in rows if row["qty"] > 0)
    run.mean_mase, run.weighted_mape = accuracy.mean_mase, accuracy.weighted_mape
    run.methods = dict(sorted(_count(f.method for f in forecasts).items()))


def _series_keys(candidates: set[tuple[int, int]]) -> list[tuple[int, int]]:
    """The (SKU, warehouse) pairs worth forecasting: active SKUs in active warehouses."""
    skus = set(db.session.scalars(select(Sku.id).where(Sku.active.is_(True))))
    warehouses = set(db.session.scalars(select(Warehouse.id).where(Warehouse.active.is_(True))))
    return sorted(key for key in candidates if key[0] in skus and key[1] in warehouses)


def _count(values) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for value in values:
        counts[value] += 1
    return counts


def _series(by_day: dict[date, float], first_sale: date, start: date, end: date) -> list[float]:
    """Units per day from the SKU's first sale (or the window's start) to yesterday; zeros where nothing sold."""
    begin = max(start, first_sale)
    return [by_day.get(begin + timedelta(days=offset), 0.0) for offset in range((end - begin).days + 1)]


def plan_series(daily: tuple[float, ...] | list[float], std_daily: float, position: Position, lead: LeadTime,
                terms: Terms, policy: Policy) -> Plan:
    """Safety stock, reorder point, order-up-to level and suggestion for one series, from its forecast."""
    lead_days = max(1, math.ceil(lead.days))
    mean_daily = statistics.fmean(daily[:lead_days]) if daily else 0.0
    safety = safety_stock(policy.service_level, std_daily, lead.days, lead.std, mean_daily)
    trigger = reorder_point(mean_daily, lead.days, safety)
    order_up_to = trigger.units + mean_daily * policy.cycle_days
    suggestion = suggest_order(position.available, position.on_order + position.in_transit, position.backorders,
                               trigger, order_up_to, terms.pack_size, terms.moq, unit_cost=terms.unit_cost)
    qty, value, wording = suggestion.qty, suggestion.value, suggestion.reason
    need = order_up_to - position.units
    if qty and need < MIN_NEED_UNITS:
        qty, value = 0, None
        wording = (f"position {position.units} ≤ reorder point {trigger.units:.1f}, but only {need:.1f} units are "
                   f"needed to reach {order_up_to:.1f}; no order")
    projection = project_stock(position.available - position.backorders, daily, position.arrivals)
    return Plan(mean_daily, safety, trigger.units, order_up_to, qty, _reason(position, wording, terms), value,
                projection, _reorder_day(position.units, daily, trigger.units), lead_days)


def _reason(position: Position, wording: str, terms: Terms) -> str:
    parts = [f"available {position.available}"]
    if position.on_order or position.in_transit:
        parts.append(f"+ on order {position.on_order + position.in_transit}")
    if position.backorders:
        parts.append(f"− backordered {position.backorders}")
    text = " ".join(parts) + "; " + wording
    if terms.supplier_id is None:
        text += "; no supplier offers this SKU"
    return text[:500]


def _reorder_day(position: float, daily, trigger: float) -> int | None:
    """The first day the inventory position, drawn down by forecast demand, reaches the reorder point."""
    if position <= trigger:
        return 0
    for day, demand in enumerate(daily):
        position -= demand
        if position <= trigger:
            return day + 1
    return None


def _line_row(run, sku_id, warehouse_id, days, forecast, daily, lead, terms, position, plan, today) -> dict:
    stockout = plan.projection.first_stockout_day
    return {
        "run_id": run.id, "sku_id": sku_id, "warehouse_id": warehouse_id, "supplier_id": terms.supplier_id,
        "method": forecast.method, "demand_class": forecast.demand_class, "history_days": len(days),
        "history_units": int(sum(days)), "mean_daily": plan.mean_daily, "std_daily": forecast.std_daily_error,
        "mase": forecast.mase, "mape": forecast.mape, "daily": [round(units, 3) for units in daily],
        "lead_time_days": lead.days, "lead_time_std": lead.std, "lead_time_source": lead.source,
        "safety_stock": plan.safety_stock, "reorder_point": plan.reorder_point, "order_up_to": plan.order_up_to,
        "available": position.available, "on_order": position.on_order, "in_transit": position.in_transit,
        "backorders": position.backorders, "position": float(position.units), "qty": plan.qty,
        "pack_size": terms.pack_size, "moq": terms.moq, "unit_cost": terms.unit_cost,
        "value": plan.value.quantize(Decimal("0.01")) if plan.value is not None else None, "currency": terms.currency,
        "reason": plan.reason, "stockout_date": today + timedelta(days=stockout) if stockout is not None else None,
        "order_by": today + timedelta(days=plan.reorder_day) if plan.reorder_day is not None else None,
        "arrival_date": today + timedelta(days=plan.arrival_day),
    }


def _prune_old_lines() -> None:
    keep = select(ReplenishmentRun.id).order_by(ReplenishmentRun.id.desc()).limit(RUNS_WITH_DETAIL)
    db.session.execute(delete(ReplenishmentLine).where(ReplenishmentLine.run_id.not_in(keep.scalar_subquery()))
                       .execution_options(synchronize_session=False))


# --- reading demand, stock and inbound ---------------------------------------------------------------------------

def _zone() -> ZoneInfo:
    return ZoneInfo(current_app.config.get("KEEL_TIMEZONE", "Europe/London"))


def demand_history(start: date, end: date, sku_ids: set[int] | None = None
                   ) -> tuple[dict[tuple[int, int], dict[date, float]], dict[int, date]]:
    """Units ordered per (SKU, warehouse) per local day from start to end, and each SKU's first day of sale."""
    zone = _zone()
    since = datetime.combine(start, clock.min, zone).astimezone(timezone.utc)
    until = datetime.combine(end + timedelta(days=1), clock.min, zone).astimezone(timezone.utc)
    lines = (select(OrderLine.id, OrderLine.sku_id, OrderLine.qty, Order.placed_at, Order.channel_id)
             .join(Order, Order.id == OrderLine.order_id)
             .where(Order.placed_at >= since, Order.placed_at < until, Order.status != "cancelled"))
    if sku_ids:
        lines = lines.where(OrderLine.sku_id.in_(sku_ids))
    shipped = _shipped_by_line(lines)
    first_warehouse = channel_first_warehouses()
    history: dict[tuple[int, int], dict[date, float]] = defaultdict(lambda: defaultdict(float))
    first_sale: dict[int, date] = {}
    for line_id, sku_id, qty, placed_at, channel_id in db.session.execute(lines):
        day = placed_at.astimezone(zone).date()
        first_sale[sku_id] = min(first_sale.get(sku_id, day), day)
        rest = qty
        for warehouse_id, units in shipped.get(line_id, ()):
            units = min(units, rest)
            history[(sku_id, warehouse_id)][day] += units
            rest -= units
        if rest > 0 and channel_id in first_warehouse:
            history[(sku_id, first_warehouse[channel_id])][day] += rest
    return history, first_sale


def _shipped_by_line(lines) -> dict[int, list[tuple[int, int]]]:
    line_ids = lines.with_only_columns(OrderLine.id).scalar_subquery()
    rows = db.session.execute(
        select(ShipmentLine.order_line_id, Shipment.warehouse_id, func.sum(ShipmentLine.qty))
        .join(Shipment, Shipment.id == ShipmentLine.shipment_id)
        .where(Shipment.status != "cancelled", ShipmentLine.order_line_id.in_(line_ids))
        .group_by(ShipmentLine.order_line_id, Shipment.warehouse_id).order_by(ShipmentLine.order_line_id))
    shipped: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for line_id, warehouse_id, units in rows:
        shipped[line_id].append((warehouse_id, int(units)))
    return shipped


def channel_first_warehouses() -> dict[int, int]:
    """Each channel's first-ranked warehouse: where demand not yet reserved anywhere is counted."""
    ranked = db.session.execute(select(channel_warehouses.c.channel_id, channel_warehouses.c.warehouse_id)
                                .order_by(channel_warehouses.c.channel_id, channel_warehouses.c.rank.desc()))
    return {channel_id: warehouse_id for channel_id, warehouse_id in ranked}


def positions_now(today: date, sku_ids: set[int] | None = None) -> dict[tuple[int, int], Position]:
    """Available, on-order, in-transit and backordered units per (SKU, warehouse), with expected arrival days."""
    stock = _stock(sku_ids)
    inbound = inbound_by_series(today, stock, sku_ids)
    waiting = backorders_by_series(sku_ids)
    available = {(sku, warehouse): units for (sku, warehouse, status), units in stock.items()
                 if status == Status.AVAILABLE.value}
    positions = {}
    for key in set(available) | set(inbound) | set(waiting):
        coming = inbound.get(key) or Inbound()
        positions[key] = Position(available.get(key, 0), coming.on_order, coming.in_transit, waiting.get(key, 0),
                                  dict(coming.arrivals))
    return positions


def _stock(sku_ids: set[int] | None) -> dict[tuple[int, int, str], int]:
    stmt = (select(StockBalance.sku_id, StockBalance.warehouse_id, StockBalance.status, func.sum(StockBalance.qty))
            .where(StockBalance.status.in_((Status.AVAILABLE.value, Status.IN_TRANSIT.value)), StockBalance.qty > 0)
            .group_by(StockBalance.sku_id, StockBalance.warehouse_id, StockBalance.status))
    if sku_ids:
        stmt = stmt.where(StockBalance.sku_id.in_(sku_ids))
    return {(sku, warehouse, status): int(qty) for sku, warehouse, status, qty in db.session.execute(stmt)}


def inbound_by_series(today: date, stock: dict[tuple[int, int, str], int], sku_ids: set[int] | None = None
                      ) -> dict[tuple[int, int], Inbound]:
    """Open PO units not yet shipped arrive on the PO's expected date, notified units on the notice's date,
    other in-transit units (no document says when) today."""
    inbound: dict[tuple[int, int], Inbound] = defaultdict(Inbound)
    lines = (select(PurchaseOrderLine.sku_id, PurchaseOrder.warehouse_id, PurchaseOrder.expected_date,
                    PurchaseOrderLine.qty_ordered - PurchaseOrderLine.qty_received - PurchaseOrderLine.qty_cancelled
                    - PurchaseOrderLine.qty_in_transit)
             .join(PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.po_id)
             .where(PurchaseOrder.status.in_(OPEN_STATUSES)))
    notified = (select(SupplierShipmentLine.sku_id, PurchaseOrder.warehouse_id, SupplierShipment.expected_date,
                       SupplierShipmentLine.qty - SupplierShipmentLine.qty_received)
                .join(SupplierShipment, SupplierShipment.id == SupplierShipmentLine.shipment_id)
                .join(PurchaseOrder, PurchaseOrder.id == SupplierShipment.po_id)
                .where(SupplierShipment.status == "in_transit"))
    if sku_ids:
        lines = lines.where(PurchaseOrderLine.sku_id.in_(sku_ids))
        notified = notified.where(SupplierShipmentLine.sku_id.in_(sku_ids))
    for sku_id, warehouse_id, expected, units in db.session.execute(lines):
        if units > 0:
            inbound[(sku_id, warehouse_id)].on_order += units
            inbound[(sku_id, warehouse_id)].arrive(_day(expected, today), units)
    documented: dict[tuple[int, int], int] = defaultdict(int)
    for sku_id, warehouse_id, expected, units in db.session.execute(notified):
        if units > 0:
            documented[(sku_id, warehouse_id)] += units
            inbound[(sku_id, warehouse_id)].arrive(_day(expected, today), units)
    for (sku_id, warehouse_id, status), units in stock.items():
        if status == Status.IN_TRANSIT.value:
            inbound[(sku_id, warehouse_id)].in_transit += units
            undocumented = units - documented.get((sku_id, warehouse_id), 0)
            if undocumented > 0:
                inbound[(sku_id, warehouse_id)].arrive(0, undocumented)
    return inbound


def _day(expected: date | None, today: date) -> int:
    return (expected - today).days if expected else 0


def backorders_by_series(sku_ids: set[int] | None = None) -> dict[tuple[int, int], int]:
    """Units of waiting order lines, counted at the first warehouse of the order's channel."""
    stmt = (select(OrderLine.sku_id, Order.channel_id,
                   func.sum(OrderLine.qty - OrderLine.qty_allocated - OrderLine.qty_shipped))
            .join(Order, Order.id == OrderLine.order_id)
            .where(Order.status.in_([s.value for s in AWAITING_STOCK]),
                   OrderLine.qty > OrderLine.qty_allocated + OrderLine.qty_shipped)
            .group_by(OrderLine.sku_id, Order.channel_id))
    if sku_ids:
        stmt = stmt.where(OrderLine.sku_id.in_(sku_ids))
    first = channel_first_warehouses()
    waiting: dict[tuple[int, int], int] = defaultdict(int)
    for sku_id, channel_id, units in db.session.execute(stmt):
        if channel_id in first:
            waiting[(sku_id, first[channel_id])] += int(units)
    return dict(waiting)


# --- supplier terms and lead times -------------------------------------------------------------------------------

def choose_terms(offers: list[SupplierSku], leads: dict[int, LeadTime], policy: Policy) -> tuple[Terms, LeadTime]:
    """The preferred offer, else the cheapest in the home currency (then the quickest); and its lead time."""
    offer = _best_offer(offers)
    if offer is None:
        return (Terms(None, None, 1, 0, ""),
                LeadTime(DEFAULT_LEAD_TIME_DAYS, DEFAULT_LEAD_TIME_DAYS * policy.lead_time_spread, "default"))
    if offer.supplier_id not in leads:
        leads[offer.supplier_id] = supplier_lead_time(offer.supplier_id, offer.lead_days, policy)
    lead = leads[offer.supplier_id]
    if lead.source == "supplier" and lead.days != offer.lead_days:
        lead = LeadTime(float(offer.lead_days), offer.lead_days * policy.lead_time_spread, "supplier")
    return Terms(offer.supplier_id, offer.unit_cost, offer.pack_size, offer.moq, offer.supplier.currency), lead


def _best_offer(offers: list[SupplierSku]) -> SupplierSku | None:
    live = [offer for offer in offers if offer.active and offer.supplier.active]
    if not live:
        return None
    preferred = [offer for offer in live if offer.preferred]
    if preferred:
        return preferred[0]
    return min(live, key=lambda o: (o.unit_cost * _rate_or_one(o.supplier.currency), o.lead_days, o.id))


def _rate_or_one(currency: str) -> Decimal:
    try:
        return exchange_rate(currency)
    except ValidationError:
        return Decimal(1)


def supplier_lead_time(supplier_id: int, quoted_days: int, policy: Policy) -> LeadTime:
    """Mean and spread of observed lead times when there are enough receipts; else the quote with the default spread."""
    observed = lead_time_history(supplier_id)
    if len(observed) >= max(2, policy.min_lead_time_samples):
        return LeadTime(statistics.fmean(observed), statistics.stdev(observed), "receipts")
    return LeadTime(float(quoted_days), quoted_days * policy.lead_time_spread, "supplier")


# --- promotions --------------------------------------------------------------------------------------------------

def active_promotions(today: date) -> list[Promotion]:
    return list(db.session.scalars(select(Promotion).where(Promotion.ends_on >= today).order_by(Promotion.id)))


def promoted(daily, sku_id: int, warehouse_id: int, promotions: list[Promotion], today: date) -> tuple[float, ...]:
    """The forecast with every committed promotion of this SKU (and warehouse) applied."""
    from app.domain.forecast import apply_promotion
    result = tuple(daily)
    for promotion in promotions:
        if sku_id in promotion.sku_ids and promotion.warehouse_id in (None, warehouse_id):
            first, last = _promotion_days(promotion.starts_on, promotion.ends_on, today, len(result))
            result = apply_promotion(result, first, last, float(promotion.uplift_pct))
    return result


def _promotion_days(starts_on: date, ends_on: date, today: date, horizon: int) -> tuple[int, int]:
    first = min(max((starts_on - today).days, 0), horizon)
    return first, max(first, min((ends_on - today).days + 1, horizon))


# --- reading runs and suggestions --------------------------------------------------------------------------------

def latest_run() -> ReplenishmentRun | None:
    """The newest finished run: the one suggestions and scenarios are read from."""
    return db.session.scalar(select(ReplenishmentRun).where(ReplenishmentRun.status == "done")
                             .order_by(ReplenishmentRun.id.desc()).limit(1))


def recent_runs(limit: int = 15) -> list[ReplenishmentRun]:
    return list(db.session.scalars(select(ReplenishmentRun).order_by(ReplenishmentRun.id.desc()).limit(limit)))


def suggestion_search(run_id: int, *, q: str = "", warehouse_id: int | None = None, supplier_id: int | None = None,
                      show: str = "buy"):
    """A run's lines: to buy (quantity above zero), to watch (running out within the horizon), or all."""
    from app.services.queries import like_pattern
    stmt = (select(ReplenishmentLine).join(Sku, Sku.id == ReplenishmentLine.sku_id)
            .options(selectinload(ReplenishmentLine.sku), selectinload(ReplenishmentLine.warehouse),
                     selectinload(ReplenishmentLine.supplier), selectinload(ReplenishmentLine.po))
            .where(ReplenishmentLine.run_id == run_id))
    if q.strip():
        pattern = like_pattern(q.strip())
        stmt = stmt.where(Sku.code.ilike(pattern, escape="\\") | Sku.name.ilike(pattern, escape="\\"))
    if warehouse_id:
        stmt = stmt.where(ReplenishmentLine.warehouse_id == warehouse_id)
    if supplier_id:
        stmt = stmt.where(ReplenishmentLine.supplier_id == supplier_id)
    if show == "buy":
        stmt = stmt.where(ReplenishmentLine.qty > 0)
    elif show == "watch":
        stmt = stmt.where(ReplenishmentLine.qty == 0, ReplenishmentLine.stockout_date.is_not(None))
    return stmt.order_by(ReplenishmentLine.stockout_date.is_(None), ReplenishmentLine.stockout_date,
                         ReplenishmentLine.order_by.is_(None), ReplenishmentLine.order_by, Sku.code,
                         ReplenishmentLine.warehouse_id)


def run_counts(run_id: int) -> dict[str, int]:
    """How many lines of a run are to buy, to watch, and already drafted."""
    base = select(func.count(ReplenishmentLine.id)).where(ReplenishmentLine.run_id == run_id)
    return {
        "buy": db.session.scalar(base.where(ReplenishmentLine.qty > 0)) or 0,
        "watch": db.session.scalar(base.where(ReplenishmentLine.qty == 0,
                                              ReplenishmentLine.stockout_date.is_not(None))) or 0,
        "drafted": db.session.scalar(base.where(ReplenishmentLine.po_id.is_not(None))) or 0,
        "all": db.session.scalar(base) or 0,
    }


def get_line(line_id: int) -> ReplenishmentLine:
    line = db.session.get(ReplenishmentLine, line_id)
    if line is None:
        raise NotFound("No such replenishment line; it may belong to a run whose detail was pruned.")
    return line


def line_history(line: ReplenishmentLine, days: int = 56) -> list[tuple[date, float]]:
    """The last `days` days of demand before the line's run, for its chart."""
    run_day = line.run.started_at.astimezone(_zone()).date()
    end, start = run_day - timedelta(days=1), run_day - timedelta(days=days)
    history, _ = demand_history(start, end, {line.sku_id})
    by_day = history.get((line.sku_id, line.warehouse_id), {})
    return [(start + timedelta(days=i), by_day.get(start + timedelta(days=i), 0.0)) for i in range(days)]


# --- turning suggestions into purchase orders --------------------------------------------------------------------

@service
def draft_from_suggestions(line_ids: list[int], *, user_id: int | None,
                           quantities: dict[int, int] | None = None) -> list[PurchaseOrder]:
    """Draft one PO per supplier and warehouse from suggestions of the latest run, at the buyer's quantities if given."""
    chosen = _chosen_lines(line_ids, quantities or {})
    groups: dict[tuple[int, int], list[ReplenishmentLine]] = defaultdict(list)
    for line in chosen:
        groups[(line.supplier_id, line.warehouse_id)].append(line)
    drafts = []
    for (supplier_id, warehouse_id), lines in sorted(groups.items()):
        inputs = [LineInput(line.sku_id, (quantities or {}).get(line.id, line.qty), None, line.reason) for line in lines]
        po = record_draft(supplier_id, warehouse_id, inputs, user_id=user_id, source="suggestion",
                          note=f"Drafted from replenishment run {lines[0].run_id}.")
        for line in lines:
            line.po_id = po.id
        drafts.append(po)
    db.session.commit()
    return drafts


def _chosen_lines(line_ids: list[int], quantities: dict[int, int]) -> list[ReplenishmentLine]:
    run = latest_run()
    if not line_ids:
        raise ValidationError("Tick at least one suggestion to draft.", field="lines")
    if run is None:
        raise Conflict("There is no finished replenishment run yet.")
    lines = list(db.session.scalars(select(ReplenishmentLine).where(ReplenishmentLine.id.in_(line_ids))
                                    .order_by(ReplenishmentLine.id).with_for_update()))
    errors = {}
    for line in lines:
        qty = quantities.get(line.id, line.qty)
        if line.run_id != run.id:
            errors[f"line-{line.id}"] = f"{line.sku.code}: this suggestion is from an older run; use the latest one."
        elif line.po_id is not None:
            errors[f"line-{line.id}"] = f"{line.sku.code} in {line.warehouse.code} is already on {line.po.number}."
        elif line.supplier_id is None:
            errors[f"line-{line.id}"] = f"{line.sku.code}: no supplier offers this SKU."
        elif not isinstance(qty, int) or isinstance(qty, bool) or qty <= 0:
            errors[f"line-{line.id}"] = f"{line.sku.code}: enter a quantity above zero."
    if len(lines) != len(set(line_ids)):
        errors["lines"] = "Some suggestions no longer exist; reload the page."
    if errors:
        raise ValidationError("Some suggestions cannot be drafted.", errors=errors)
    return lines


# --- promotion scenarios -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ScenarioRow:
    """One SKU in one warehouse under a promotion: projected stock with and without it, and the extra buy."""

    line: ReplenishmentLine
    without: StockProjection
    with_promotion: StockProjection
    baseline_units: float
    promotion_units: float
    safety_stock: float
    extra_qty: int
    extra_value: Decimal | None
    arrival_day: int
    first_day: int
    last_day: int
    days_shown: int
    today: date

    @property
    def runs_out_without(self) -> date | None:
        return self._date(self.without.first_stockout_day)

    @property
    def runs_out_with(self) -> date | None:
        return self._date(self.with_promotion.first_stockout_day)

    @property
    def arrival_date(self) -> date:
        return self.today + timedelta(days=self.arrival_day)

    def _date(self, day: int | None) -> date | None:
        return self.today + timedelta(days=day) if day is not None else None

    @property
    def extra_demand(self) -> float:
        return self.promotion_units - self.baseline_units

    @property
    def arrives_late(self) -> bool:
        return self.extra_qty > 0 and self.arrival_day > self.first_day


@dataclass(frozen=True)
class Scenario:
    """A promotion tried against the latest run, before anyone commits to it."""

    skus: list[Sku]
    uplift_pct: Decimal
    starts_on: date
    ends_on: date
    warehouse_id: int | None
    today: date
    rows: list[ScenarioRow]

    @property
    def extra_buys(self) -> list[ScenarioRow]:
        return [row for row in self.rows if row.extra_qty > 0 and row.line.supplier_id]


def parse_sku_codes(text: str) -> list[str]:
    return list(dict.fromkeys(code for code in text.replace(",", " ").split() if code))[:200]


def plan_promotion(sku_codes: list[str], uplift_pct: Decimal, starts_on: date | None, ends_on: date | None,
                   warehouse_id: int | None = None) -> Scenario:
    """Project stock with and without a promotion for its SKUs, and the extra units it needs bought."""
    run = latest_run()
    if run is None:
        raise Conflict("Run replenishment once before planning a promotion: scenarios start from its forecasts.")
    today = local_today()
    skus = _scenario_errors(sku_codes, uplift_pct, starts_on, ends_on, today, run)
    lines = list(db.session.scalars(
        select(ReplenishmentLine).options(selectinload(ReplenishmentLine.sku), selectinload(ReplenishmentLine.warehouse),
                                          selectinload(ReplenishmentLine.supplier))
        .where(ReplenishmentLine.run_id == run.id, ReplenishmentLine.sku_id.in_([s.id for s in skus]),
               *([ReplenishmentLine.warehouse_id == warehouse_id] if warehouse_id else []))
        .order_by(ReplenishmentLine.sku_id, ReplenishmentLine.warehouse_id)))
    positions = positions_now(today, {s.id for s in skus})
    rows = [_scenario_row(line, positions, uplift_pct, starts_on, ends_on, today, run) for line in lines]
    return Scenario(skus, uplift_pct, starts_on, ends_on, warehouse_id, today, rows)


def _scenario_errors(codes: list[str], uplift_pct, starts_on, ends_on, today: date, run: ReplenishmentRun) -> list[Sku]:
    errors = {}
    found = {s.code: s for s in db.session.scalars(select(Sku).where(Sku.code.in_(codes)))} if codes else {}
    forecast = set(db.session.scalars(select(ReplenishmentLine.sku_id).where(
        ReplenishmentLine.run_id == run.id, ReplenishmentLine.sku_id.in_([s.id for s in found.values()]))))
    if not codes:
        errors["skus"] = "List the SKUs on promotion."
    elif missing := [c for c in codes if c not in found]:
        errors["skus"] = "Unknown SKU codes: " + ", ".join(missing[:10])
    elif unforecast := [c for c in codes if found[c].id not in forecast]:
        errors["skus"] = "No forecast yet (no sales history) for: " + ", ".join(unforecast[:10])
    if not isinstance(uplift_pct, Decimal) or not -100 <= uplift_pct <= MAX_PROMOTION_UPLIFT:
        errors["uplift_pct"] = f"Uplift is a percentage from -100 to {MAX_PROMOTION_UPLIFT}."
    last_day = today + timedelta(days=run.horizon_days - 1)
    if starts_on is None or starts_on < today:
        errors["starts_on"] = "The promotion starts today or later."
    if ends_on is None or (starts_on and ends_on < starts_on):
        errors["ends_on"] = "The promotion ends on or after its first day."
    elif ends_on > last_day:
        errors["ends_on"] = f"The forecast reaches {last_day.isoformat()}; end the promotion by then."
    if errors:
        raise ValidationError(errors=errors)
    return [found[c] for c in codes]


def _scenario_row(line: ReplenishmentLine, positions, uplift_pct: Decimal, starts_on: date, ends_on: date,
                  today: date, run: ReplenishmentRun) -> ScenarioRow:
    from app.domain.forecast import apply_promotion
    offset = max(0, (today - run.started_at.astimezone(_zone()).date()).days)
    daily = tuple(line.daily[offset:])
    first, last = _promotion_days(starts_on, ends_on, today, len(daily))
    shown = min(len(daily), max(last + 14, 28))
    boosted = apply_promotion(daily, first, last, float(uplift_pct))
    position = positions.get((line.sku_id, line.warehouse_id)) or Position(0, 0, 0, 0, {})
    start = position.available - position.backorders
    without = project_stock(start, daily[:shown], position.arrivals)
    with_promotion = project_stock(start, boosted[:shown], position.arrivals)
    arrival = max(1, math.ceil(line.lead_time_days))
    window = range(min(arrival, shown - 1), max(min(arrival, shown - 1), last - 1) + 1)
    extra = max(0.0, _shortfall(with_promotion, line.safety_stock, window) - _shortfall(without, line.safety_stock, window))
    qty = _whole_packs(extra, line.pack_size, line.moq)
    value = (line.unit_cost * qty).quantize(Decimal("0.01")) if line.unit_cost is not None and qty else None
    return ScenarioRow(line, without, with_promotion, sum(daily[first:last]), sum(boosted[first:last]),
                       line.safety_stock, qty, value, arrival, first, last, shown, today)


def _shortfall(projection: StockProjection, safety: float, window: range) -> float:
    """Units needed so that closing stock stays at or above safety stock on every day of the window."""
    closing = projection.closing
    return max([0.0, *(safety - closing[day] for day in window if day < len(closing))])


def _whole_packs(units: float, pack_size: int, moq: int) -> int:
    if units <= 1e-9:
        return 0
    packs = math.ceil(units / pack_size - 1e-9)
    return max(packs * pack_size, math.ceil(moq / pack_size) * pack_size)


@service
def commit_promotion(name: str, sku_codes: list[str], uplift_pct: Decimal, starts_on: date | None,
                     ends_on: date | None, *, warehouse_id: int | None, user_id: int | None) -> Promotion:
    """Record the promotion, so later runs forecast it, and draft the extra purchase orders it needs."""
    if not name.strip():
        raise ValidationError("Name the promotion.", field="name")
    scenario = plan_promotion(sku_codes, uplift_pct, starts_on, ends_on, warehouse_id)
    if warehouse_id is not None and db.session.get(Warehouse, warehouse_id) is None:
        raise ValidationError("No such warehouse.", field="warehouse")
    promotion = Promotion(name=name.strip()[:120], uplift_pct=uplift_pct, starts_on=starts_on, ends_on=ends_on,
                          warehouse_id=warehouse_id, sku_ids=[s.id for s in scenario.skus], po_numbers=[], created_by_id=user_id,
                          created_at=utcnow())
    groups: dict[tuple[int, int], list[ScenarioRow]] = defaultdict(list)
    for row in scenario.extra_buys:
        groups[(row.line.supplier_id, row.line.warehouse_id)].append(row)
    for (supplier_id, warehouse_id_), rows in sorted(groups.items()):
        po = record_draft(supplier_id, warehouse_id_, [
            LineInput(row.line.sku_id, row.extra_qty, None,
                      f"promotion {promotion.name}: +{_figure(row.extra_demand)} units demand") for row in rows],
            user_id=user_id, source="promotion", note=f"Extra stock for the promotion {promotion.name}, "
                                                        f"{starts_on.isoformat()} to {ends_on.isoformat()}.")
        promotion.po_numbers = [*promotion.po_numbers, po.number]
    db.session.add(promotion)
    db.session.flush()
    record_event("promotion.committed", "promotion", promotion.id,
                 {"promotion": promotion.name, "skus": sku_codes, "uplift_pct": str(uplift_pct),
                  "purchase_orders": promotion.po_numbers}, user_id=user_id)
    db.session.commit()
    return promotion


def _figure(units: float) -> str:
    return f"{units:.1f}".removesuffix(".0")


def recent_promotions(limit: int = 10) -> list[Promotion]:
    return list(db.session.scalars(select(Promotion).order_by(Promotion.id.desc()).limit(limit)))


def sku_codes_by_id(ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(db.session.execute(select(Sku.id, Sku.code).where(Sku.id.in_(ids))).all())

