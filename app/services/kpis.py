"""KPI queries: one small function per KPI over a period, the records behind each figure, and snapshots.

Every KPI is registered with `@kpi(code)` on the function that measures it and `@records_of(code)` on
the function that lists the rows behind it. Definitions (formula, unit, target, owner) live in
app/domain/kpis.py; only KPIs registered here are shown, served and documented.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import BigInteger, Float, Select, and_, case, cast, delete, exists, func, insert, literal, or_, select, \
    type_coerce, union_all
from sqlalchemy.orm import aliased

from app.domain.inventory import Outside, Reason, Status
from app.domain.kpis import BY_CODE, KpiDefinition, Measure, Period, days_between, hours_between, mean, ratio, rounded
from app.domain.orders import OrderStatus
from app.extensions import db
from app.models import Location, Sku, StockMove, Warehouse
from app.models.kpis import KpiSnapshot
from app.models.orders import InboundDelivery, Order, OrderHold, OrderLine, OrderTransition, Shipment, ShipmentLine
from app.models.purchasing import PurchaseOrder, Receipt
from app.models.returns import Rma
from app.models.routing import RoutingRun
from app.models.types import utcnow
from app.models.warehouse_ops import BoxType, CountLine, CountTask, Package, PickBatch, PickScan, ShortPick
from app.services._uow import service
from app.services.queries import Page, paginate

SHIPPED = (OrderStatus.SHIPPED.value, OrderStatus.CLOSED.value)
WAITED = (OrderStatus.BACKORDERED.value, OrderStatus.PARTIALLY_ALLOCATED.value)
TREND_DAYS = 90


# --- the registry ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Records:
    """The rows behind a figure: column names, the query that finds them, and how to show one row."""

    header: tuple[str, ...]
    query: Select | None  # None when the rows are worked out in Python (`rows`)
    cells: Callable[[Any], tuple]
    link: Callable[[Any], tuple[str, dict]] | None = None  # (endpoint, url arguments) for a row's first cell
    rows: tuple = ()


@dataclass(frozen=True)
class Kpi:
    definition: KpiDefinition
    measure: Callable[[Period], Measure]
    records: Callable[[Period], Records]

    @property
    def code(self) -> str:
        return self.definition.code


_MEASURES: dict[str, Callable[[Period], Measure]] = {}
_RECORDS: dict[str, Callable[[Period], Records]] = {}


def kpi(code: str):
    """Register the function that measures KPI `code` over a period."""
    def register(fn):
        _MEASURES[BY_CODE[code].code] = fn
        return fn
    return register


def records_of(code: str):
    """Register the function that lists the records behind KPI `code`."""
    def register(fn):
        _RECORDS[BY_CODE[code].code] = fn
        return fn
    return register


def registry() -> list[Kpi]:
    """Every KPI that has both a measure and its records, in the order of the definitions."""
    return [Kpi(d, _MEASURES[d.code], _RECORDS[d.code]) for d in BY_CODE.values()
            if d.code in _MEASURES and d.code in _RECORDS]


def get_kpi(code: str) -> Kpi | None:
    return next((k for k in registry() if k.code == code), None)


def kpis_owned_by(role: str) -> list[Kpi]:
    """The KPIs a role owns; an admin sees every KPI."""
    return [k for k in registry() if role == "admin" or k.definition.owner == role]


def current_period(definition: KpiDefinition, now: datetime | None = None) -> Period:
    return Period.trailing(now or utcnow(), definition.window_days)


# --- time helpers ----------------------------------------------------------------------------------------------

def zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["KEEL_TIMEZONE"])


def day_end(day: date) -> datetime:
    """The UTC moment the local day ends (the next local midnight)."""
    return datetime.combine(day + timedelta(days=1), time.min, zone()).astimezone(timezone.utc)


def local_midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, zone()).astimezone(timezone.utc)


def local_text(moment: datetime | None) -> str:
    return moment.astimezone(zone()).strftime("%Y-%m-%d %H:%M") if moment else ""


def completed_days(period: Period) -> list[date]:
    """The local days that lie wholly inside the period."""
    start, end = period.start.astimezone(zone()), period.end.astimezone(zone())
    first = start.date() if start.timetz().replace(tzinfo=None) == time.min else start.date() + timedelta(days=1)
    last = end.date() - timedelta(days=1)
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _seconds(start, end):
    """Seconds between two timestamp columns, on SQLite and PostgreSQL."""
    if db.engine.dialect.name == "sqlite":
        return (func.julianday(end) - func.julianday(start)) * 86_400
    return func.extract("epoch", end - start)


def _minor(column) -> Any:
    """A Money column as the integer it is stored as, for exact sums in SQL."""
    return type_coerce(column, BigInteger)


def _hours(seconds) -> str:
    return f"{Decimal(str(seconds or 0)) / 3600:.1f}"


def _order_link(row) -> tuple[str, dict]:
    return "retail.order_detail", {"order_id": row.id}


# --- orders and shipments --------------------------------------------------------------------------------------

def _last_shipment():
    """Per order: when its last shipment left and how many shipments went."""
    return (select(Shipment.order_id.label("order_id"), func.max(Shipment.shipped_at).label("shipped_at"),
                   func.count(Shipment.id).label("shipments"))
            .where(Shipment.status == "shipped").group_by(Shipment.order_id).subquery())


def _shipped_in(period: Period, *columns) -> Select:
    """Orders shipped complete whose last shipment left in the period."""
    last = _last_shipment()
    return (select(Order.id, Order.number, Order.placed_at, last.c.shipped_at, last.c.shipments, *columns)
            .join(last, last.c.order_id == Order.id)
            .where(Order.status.in_(SHIPPED), last.c.shipped_at >= period.start, last.c.shipped_at < period.end))


@kpi("order_cycle_time")
def order_cycle_time(period: Period) -> Measure:
    rows = db.session.execute(_shipped_in(period)).all()
    return Measure(mean(hours_between(r.placed_at, r.shipped_at) for r in rows), len(rows))


@records_of("order_cycle_time")
def order_cycle_time_records(period: Period) -> Records:
    stmt = _shipped_in(period)
    took = _seconds(stmt.selected_columns.placed_at, stmt.selected_columns.shipped_at)
    return Records(("Order", "Placed", "Last shipment left", "Hours", "Shipments"),
                   stmt.add_columns(took.label("took")).order_by(took.desc(), Order.id),
                   lambda r: (r.number, local_text(r.placed_at), local_text(r.shipped_at), _hours(r.took), r.shipments),
                   _order_link)


def _placed_in(period: Period) -> Select:
    return select(Order.id).where(Order.placed_at >= period.start, Order.placed_at < period.end)


def _waited(period: Period):
    return exists().where(OrderTransition.order_id == Order.id, OrderTransition.to_status.in_(WAITED),
                          OrderTransition.created_at < period.end)


@kpi("backorder_rate")
def backorder_rate(period: Period) -> Measure:
    placed = _placed_in(period).subquery()
    total = db.session.scalar(select(func.count()).select_from(placed))
    waited = db.session.scalar(select(func.count(Order.id)).where(Order.id.in_(select(placed.c.id)), _waited(period)))
    return Measure(ratio(waited, total), total)


@records_of("backorder_rate")
def backorder_rate_records(period: Period) -> Records:
    stmt = (select(Order.id, Order.number, Order.placed_at, Order.status, Order.customer_name)
            .where(Order.placed_at >= period.start, Order.placed_at < period.end, _waited(period))
            .order_by(Order.placed_at.desc(), Order.id))
    return Records(("Order", "Placed", "Status now", "Customer"), stmt,
                   lambda r: (r.number, local_text(r.placed_at), r.status, r.customer_name), _order_link)


def _cancelled_in(period: Period) -> Select:
    cancelled_at = (select(OrderTransition.order_id, func.max(OrderTransition.created_at).label("at"))
                    .where(OrderTransition.to_status == OrderStatus.CANCELLED.value, OrderTransition.shipment_id.is_(None))
                    .group_by(OrderTransition.order_id).subquery())
    return (select(Order.id).join(cancelled_at, cancelled_at.c.order_id == Order.id)
            .where(Order.status == OrderStatus.CANCELLED.value, cancelled_at.c.at >= period.start,
                   cancelled_at.c.at < period.end))


def _finished_lines(period: Period) -> Select:
    finished = union_all(_shipped_in(period).with_only_columns(Order.id), _cancelled_in(period)).subquery()
    return (select(Order.id, Order.number, Order.status, func.sum(OrderLine.qty).label("ordered"),
                   func.sum(OrderLine.qty_shipped).label("shipped"))
            .join(OrderLine, OrderLine.order_id == Order.id).where(Order.id.in_(select(finished.c.id)))
            .group_by(Order.id, Order.number, Order.status))


@kpi("fill_rate")
def fill_rate(period: Period) -> Measure:
    rows = db.session.execute(_finished_lines(period)).all()
    return Measure(ratio(sum(int(r.shipped) for r in rows), sum(int(r.ordered) for r in rows)), len(rows))


@records_of("fill_rate")
def fill_rate_records(period: Period) -> Records:
    lines = _finished_lines(period).subquery()
    stmt = (select(lines.c.id, lines.c.number, lines.c.status, lines.c.ordered, lines.c.shipped)
            .where(lines.c.shipped < lines.c.ordered).order_by((lines.c.ordered - lines.c.shipped).desc(), lines.c.id))
    return Records(("Order", "Status", "Units ordered", "Units shipped", "Units not filled"), stmt,
                   lambda r: (r.number, r.status, r.ordered, r.shipped, r.ordered - r.shipped), _order_link)


def _resolved_exceptions(period: Period):
    holds = (select(literal("hold").label("kind"), OrderHold.order_id.label("id"), Order.number.label("number"),
                    OrderHold.kind.label("what"), OrderHold.created_at.label("opened"),
                    OrderHold.released_at.label("closed"))
             .join(Order, Order.id == OrderHold.order_id)
             .where(OrderHold.released_at >= period.start, OrderHold.released_at < period.end))
    payloads = (select(literal("payload").label("kind"), InboundDelivery.id.label("id"),
                       func.coalesce(Order.number, InboundDelivery.source).label("number"),
                       InboundDelivery.error_field.label("what"), InboundDelivery.received_at.label("opened"),
                       InboundDelivery.resolved_at.label("closed"))
                .outerjoin(Order, Order.id == InboundDelivery.order_id)
                .where(InboundDelivery.resolved_at >= period.start, InboundDelivery.resolved_at < period.end))
    return union_all(holds, payloads).subquery()


@kpi("exception_resolution_time")
def exception_resolution_time(period: Period) -> Measure:
    found = _resolved_exceptions(period)
    rows = db.session.execute(select(found.c.opened, found.c.closed)).all()
    # a union loses the column types on SQLite, so the times are read back through the aware type
    times = [(as_utc(r.opened), as_utc(r.closed)) for r in rows]
    return Measure(mean(hours_between(a, b) for a, b in times), len(times))


def as_utc(value) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


@records_of("exception_resolution_time")
def exception_resolution_time_records(period: Period) -> Records:
    found = _resolved_exceptions(period)
    took = _seconds(found.c.opened, found.c.closed)
    stmt = select(found, took.label("took")).order_by(took.desc(), found.c.kind, found.c.id)
    return Records(("Order or payload", "Kind", "Reason", "Opened", "Resolved", "Hours"), stmt,
                   lambda r: (r.number, r.kind, r.what, local_text(as_utc(r.opened)), local_text(as_utc(r.closed)),
                              _hours(r.took)),
                   lambda r: ("retail.order_detail", {"order_id": r.id}) if r.kind == "hold"
                   else ("retail.exception_detail", {"delivery_id": r.id}))


def _late_clause(days: list[date], shipped_at) -> Any:
    """Due on one of `days` and not shipped complete by the end of that day."""
    return or_(*[and_(Order.promised_ship_date == day,
                      or_(Order.status.not_in(SHIPPED), shipped_at.is_(None), shipped_at >= day_end(day)))
                 for day in days])


def _due_in(period: Period) -> tuple[list[date], Select]:
    days = completed_days(period)
    last = _last_shipment()
    stmt = (select(Order.id, Order.number, Order.promised_ship_date, Order.status, last.c.shipped_at)
            .outerjoin(last, last.c.order_id == Order.id)
            .where(Order.promised_ship_date.in_(days), Order.status != OrderStatus.CANCELLED.value))
    return days, stmt


@kpi("on_time_shipment")
def on_time_shipment(period: Period) -> Measure:
    days, stmt = _due_in(period)
    if not days:
        return Measure(None, 0)
    due = db.session.scalar(select(func.count()).select_from(stmt.subquery()))
    late_stmt = stmt.where(_late_clause(days, stmt.selected_columns.shipped_at))
    late = db.session.scalar(select(func.count()).select_from(late_stmt.subquery()))
    return Measure(ratio(due - late, due), due)


@records_of("on_time_shipment")
def on_time_shipment_records(period: Period) -> Records:
    days, stmt = _due_in(period)
    shipped_at = stmt.selected_columns.shipped_at
    late = stmt.where(_late_clause(days, shipped_at) if days else literal(False)).order_by(
        Order.promised_ship_date, Order.id)
    return Records(("Order", "Promised ship date", "Status", "Last shipment left"), late,
                   lambda r: (r.number, r.promised_ship_date.isoformat(), r.status, local_text(r.shipped_at)),
                   _order_link)


@kpi("split_shipment_rate")
def split_shipment_rate(period: Period) -> Measure:
    rows = db.session.execute(_shipped_in(period)).all()
    return Measure(ratio(sum(1 for r in rows if r.shipments > 1), len(rows)), len(rows))


@records_of("split_shipment_rate")
def split_shipment_rate_records(period: Period) -> Records:
    stmt = _shipped_in(period)
    stmt = stmt.where(stmt.selected_columns.shipments > 1).order_by(stmt.selected_columns.shipments.desc(), Order.id)
    return Records(("Order", "Placed", "Last shipment left", "Shipments"), stmt,
                   lambda r: (r.number, local_text(r.placed_at), local_text(r.shipped_at), r.shipments), _order_link)


# --- labour and routing ----------------------------------------------------------------------------------------

def _day_share(period: Period, day: date) -> float:
    """How much of a local day lies inside the period, from 0 to 1."""
    start, end = max(period.start, local_midnight(day)), min(period.end, day_end(day))
    return max(0.0, (end - start).total_seconds() / (day_end(day) - local_midnight(day)).total_seconds())


def _touched_days(period: Period) -> list[date]:
    first, last = period.start.astimezone(zone()).date(), (period.end - timedelta(microseconds=1)).astimezone(zone()).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _capacity(period: Period) -> dict[tuple[int, date], Decimal]:
    from app.services.routing import daily_capacity
    warehouses = db.session.scalars(select(Warehouse).where(Warehouse.active.is_(True))).all()
    return {(w.id, day): Decimal(daily_capacity(w, day)) * Decimal(str(_day_share(period, day)))
            for w in warehouses for day in _touched_days(period)}


def _picks(period: Period) -> Select:
    source = aliased(Location)
    return (select(source.warehouse_id, StockMove.created_at, StockMove.qty)
            .join(source, source.id == StockMove.from_location_id)
            .where(StockMove.reason == Reason.PICK.value, StockMove.created_at >= period.start,
                   StockMove.created_at < period.end))


@kpi("labour_utilisation")
def labour_utilisation(period: Period) -> Measure:
    picked = db.session.scalar(select(func.coalesce(func.sum(StockMove.qty), 0)).where(
        StockMove.reason == Reason.PICK.value, StockMove.created_at >= period.start, StockMove.created_at < period.end))
    capacity = sum(_capacity(period).values(), Decimal(0))
    return Measure(ratio(int(picked), capacity), int(picked))


@records_of("labour_utilisation")
def labour_utilisation_records(period: Period) -> Records:
    capacity = _capacity(period)
    picked: dict[tuple[int, date], int] = defaultdict(int)
    for warehouse_id, at, qty in db.session.execute(_picks(period)):
        picked[(warehouse_id, as_utc(at).astimezone(zone()).date())] += qty
    codes = dict(db.session.execute(select(Warehouse.id, Warehouse.code)).all())
    rows = sorted(((codes[wid], day.isoformat(), picked.get((wid, day), 0), cap) for (wid, day), cap in capacity.items()),
                  key=lambda r: (r[1], r[0]), reverse=True)
    return Records(("Warehouse", "Day", "Units picked", "Capacity (units)", "Utilisation"), None,
                   lambda r: (r[0], r[1], r[2], f"{r[3]:.0f}", f"{r[2] / r[3] * 100:.1f}%" if r[3] else "—"),
                   rows=tuple(rows))


def _applied_runs(period: Period) -> Select:
    return (select(RoutingRun.id, RoutingRun.applied_at, RoutingRun.orders_count, RoutingRun.baseline_cost,
                   RoutingRun.objective, RoutingRun.solver_status)
            .where(RoutingRun.status == "applied", RoutingRun.applied_at >= period.start,
                   RoutingRun.applied_at < period.end, RoutingRun.baseline_cost.is_not(None),
                   RoutingRun.objective.is_not(None)))


@kpi("routing_savings")
def routing_savings(period: Period) -> Measure:
    rows = db.session.execute(_applied_runs(period)).all()
    baseline = sum((r.baseline_cost for r in rows), Decimal(0))
    return Measure(ratio(baseline - sum((r.objective for r in rows), Decimal(0)), baseline), len(rows))


@records_of("routing_savings")
def routing_savings_records(period: Period) -> Records:
    stmt = _applied_runs(period).order_by(RoutingRun.applied_at.desc(), RoutingRun.id)
    return Records(("Run", "Applied", "Orders", "Baseline cost", "Optimised cost", "Saving", "Solver"), stmt,
                   lambda r: (f"#{r.id}", local_text(r.applied_at), r.orders_count, r.baseline_cost, r.objective,
                              r.baseline_cost - r.objective, r.solver_status),
                   lambda r: ("routing.run_detail", {"run_id": r.id}))


# --- the warehouse floor ---------------------------------------------------------------------------------------

def _counted(period: Period) -> Select:
    return (select(CountTask.id.label("task_id"), CountTask.number, CountTask.status, CountTask.counted_at,
                   Warehouse.code.label("warehouse"), Location.code.label("bin"), Sku.id.label("sku_id"),
                   Sku.code.label("sku"), CountLine.expected, CountLine.counted)
            .join(CountTask, CountTask.id == CountLine.task_id).join(Location, Location.id == CountTask.location_id)
            .join(Warehouse, Warehouse.id == CountTask.warehouse_id).join(Sku, Sku.id == CountLine.sku_id)
            .where(CountTask.counted_at >= period.start, CountTask.counted_at < period.end,
                   CountLine.counted.is_not(None), CountLine.expected.is_not(None)))


@kpi("inventory_accuracy")
def inventory_accuracy(period: Period) -> Measure:
    rows = db.session.execute(_counted(period)).all()
    return Measure(ratio(sum(1 for r in rows if r.counted == r.expected), len(rows)), len(rows))


@records_of("inventory_accuracy")
def inventory_accuracy_records(period: Period) -> Records:
    stmt = (_counted(period).where(CountLine.counted != CountLine.expected)
            .order_by(func.abs(CountLine.counted - CountLine.expected).desc(), CountTask.id))
    return Records(("SKU", "Warehouse", "Bin", "Count", "Counted at", "Expected", "Counted", "Variance", "Count status"),
                   stmt, lambda r: (r.sku, r.warehouse, r.bin, r.number, local_text(r.counted_at), r.expected,
                                    r.counted, r.counted - r.expected, r.status),
                   lambda r: ("catalog.sku_detail", {"sku_id": r.sku_id}))


def _floor_scans(period: Period, steps: tuple[str, ...]):
    return (PickScan.step.in_(steps), PickScan.created_at >= period.start, PickScan.created_at < period.end)


@kpi("pick_accuracy")
def pick_accuracy(period: Period) -> Measure:
    counts = dict(db.session.execute(select(PickScan.outcome, func.count(PickScan.id))
                                     .where(*_floor_scans(period, ("bin", "item")),
                                            PickScan.outcome.in_(("ok", "wrong_bin", "wrong_item")))
                                     .group_by(PickScan.outcome)).all())
    checked = sum(counts.values())
    return Measure(ratio(counts.get("ok", 0), checked), checked)


@records_of("pick_accuracy")
def pick_accuracy_records(period: Period) -> Records:
    scans = (select(literal("wrong scan").label("kind"), PickScan.created_at.label("at"),
                    func.coalesce(PickBatch.number, "").label("batch"), PickScan.step.label("what"),
                    PickScan.expected.label("expected"), PickScan.scanned.label("found"), literal(0).label("qty"),
                    Shipment.number.label("shipment"))
             .outerjoin(PickBatch, PickBatch.id == PickScan.batch_id)
             .outerjoin(Shipment, Shipment.id == PickScan.shipment_id)
             .where(*_floor_scans(period, ("bin", "item")), PickScan.outcome.in_(("wrong_bin", "wrong_item"))))
    shorts = (select(literal("short pick").label("kind"), ShortPick.created_at.label("at"), literal("").label("batch"),
                     Location.code.label("what"), Sku.code.label("expected"), ShortPick.status.label("found"),
                     ShortPick.qty.label("qty"), Shipment.number.label("shipment"))
              .join(Location, Location.id == ShortPick.location_id).join(Sku, Sku.id == ShortPick.sku_id)
              .join(Shipment, Shipment.id == ShortPick.shipment_id)
              .where(ShortPick.created_at >= period.start, ShortPick.created_at < period.end))
    found = union_all(scans, shorts).subquery()
    stmt = select(found).order_by(found.c.at.desc(), found.c.kind)
    return Records(("When", "Kind", "Shipment", "Batch", "Step or bin", "Expected", "Scanned or status", "Units short"),
                   stmt, lambda r: (local_text(as_utc(r.at)), r.kind, r.shipment, r.batch, r.what, r.expected,
                                    r.found, r.qty or ""))


@kpi("pack_accuracy")
def pack_accuracy(period: Period) -> Measure:
    counts = dict(db.session.execute(select(PickScan.outcome, func.count(PickScan.id))
                                     .where(*_floor_scans(period, ("pack",))).group_by(PickScan.outcome)).all())
    checked = sum(counts.values())
    return Measure(ratio(counts.get("ok", 0), checked), checked)


@records_of("pack_accuracy")
def pack_accuracy_records(period: Period) -> Records:
    stmt = (select(PickScan.created_at, Shipment.number.label("shipment"), PickScan.scanned, PickScan.expected,
                   PickScan.outcome)
            .outerjoin(Shipment, Shipment.id == PickScan.shipment_id)
            .where(*_floor_scans(period, ("pack",)), PickScan.outcome != "ok")
            .order_by(PickScan.created_at.desc(), PickScan.id))
    return Records(("When", "Shipment", "Scanned", "Still needed", "Outcome"), stmt,
                   lambda r: (local_text(r.created_at), r.shipment, r.scanned, r.expected, r.outcome))


def _count_corrections(period: Period) -> Select:
    adjustment = select(Location.id).where(Location.outside == Outside.ADJUSTMENT.value).scalar_subquery()
    cost = func.coalesce(_minor(StockMove.unit_cost), _minor(Sku.unit_cost))
    return (select(StockMove.qty, StockMove.from_location_id, StockMove.to_location_id, StockMove.sku_id,
                   (StockMove.qty * cost).label("value_minor"), adjustment.label("adjustment_id"))
            .join(Sku, Sku.id == StockMove.sku_id)
            .where(StockMove.reason == Reason.COUNT.value, StockMove.created_at >= period.start,
                   StockMove.created_at < period.end,
                   or_(StockMove.from_location_id == adjustment, StockMove.to_location_id == adjustment)))


@kpi("stock_variance")
def stock_variance(period: Period) -> Measure:
    moves = _count_corrections(period).subquery()
    total, count = db.session.execute(select(func.coalesce(func.sum(moves.c.value_minor), 0), func.count())).one()
    return Measure(rounded(Decimal(int(total)) / Decimal(10_000)), int(count))


@records_of("stock_variance")
def stock_variance_records(period: Period) -> Records:
    moves = _count_corrections(period).subquery()
    shelf = case((moves.c.to_location_id == moves.c.adjustment_id, moves.c.from_location_id),
                 else_=moves.c.to_location_id)
    lost = func.sum(case((moves.c.to_location_id == moves.c.adjustment_id, moves.c.qty), else_=0))
    found = func.sum(case((moves.c.from_location_id == moves.c.adjustment_id, moves.c.qty), else_=0))
    value = func.sum(moves.c.value_minor)
    grouped = (select(shelf.label("location_id"), moves.c.sku_id, lost.label("lost"), found.label("found"),
                      value.label("value_minor")).group_by(shelf, moves.c.sku_id).subquery())
    stmt = (select(Sku.id, Sku.code, Warehouse.code.label("warehouse"), Location.code.label("bin"), grouped.c.lost,
                   grouped.c.found, grouped.c.value_minor)
            .join(Sku, Sku.id == grouped.c.sku_id).join(Location, Location.id == grouped.c.location_id)
            .join(Warehouse, Warehouse.id == Location.warehouse_id)
            .order_by(grouped.c.value_minor.desc(), Sku.code))
    return Records(("SKU", "Warehouse", "Bin", "Units written off", "Units found", "Value at cost"), stmt,
                   lambda r: (r.code, r.warehouse, r.bin, r.lost, r.found,
                              (Decimal(int(r.value_minor)) / Decimal(10_000)).quantize(Decimal("0.01"))),
                   lambda r: ("catalog.sku_detail", {"sku_id": r.id}))


# --- cost to serve ---------------------------------------------------------------------------------------------

def _order_costs(period: Period) -> Select:
    """Per order shipped in the period: carrier charges, handling and cartons, in pence."""
    shipped = _shipped_in(period).with_only_columns(Order.id)
    units = (select(ShipmentLine.shipment_id, func.sum(ShipmentLine.qty).label("units"))
             .group_by(ShipmentLine.shipment_id).subquery())
    boxes = (select(Package.shipment_id, func.sum(_minor(BoxType.cost)).label("boxes"))
             .join(BoxType, BoxType.id == Package.box_type_id).group_by(Package.shipment_id).subquery())
    cost = (func.coalesce(_minor(Shipment.shipping_cost), 0)
            + func.coalesce(units.c.units, 0) * _minor(Warehouse.handling_cost_per_unit)
            + func.coalesce(boxes.c.boxes, 0))
    return (select(Order.id, Order.number, func.count(Shipment.id).label("shipments"),
                   func.sum(func.coalesce(units.c.units, 0)).label("units"), func.sum(cost).label("cost"))
            .join(Shipment, Shipment.order_id == Order.id).join(Warehouse, Warehouse.id == Shipment.warehouse_id)
            .outerjoin(units, units.c.shipment_id == Shipment.id).outerjoin(boxes, boxes.c.shipment_id == Shipment.id)
            .where(Order.id.in_(shipped), Shipment.status == "shipped")
            .group_by(Order.id, Order.number))


def _pounds(pence) -> Decimal:
    return (Decimal(int(pence or 0)) / 100).quantize(Decimal("0.01"))


@kpi("cost_to_serve")
def cost_to_serve(period: Period) -> Measure:
    costs = _order_costs(period).subquery()
    total, orders = db.session.execute(select(func.coalesce(func.sum(costs.c.cost), 0), func.count())).one()
    return Measure(ratio(_pounds(total), orders), int(orders))


@records_of("cost_to_serve")
def cost_to_serve_records(period: Period) -> Records:
    costs = _order_costs(period).subquery()
    stmt = select(costs).order_by(costs.c.cost.desc(), costs.c.id)
    return Records(("Order", "Shipments", "Units", "Cost to serve"), stmt,
                   lambda r: (r.number, r.shipments, r.units, _pounds(r.cost)), _order_link)


# --- purchasing and stock ----------------------------------------------------------------------------------------

def _dated_receipts(period: Period) -> Select:
    due = func.coalesce(PurchaseOrder.promised_date, PurchaseOrder.expected_date)
    return (select(Receipt.id, Receipt.number, Receipt.received_at, PurchaseOrder.id.label("po_id"),
                   PurchaseOrder.number.label("po"), due.label("due"))
            .join(PurchaseOrder, PurchaseOrder.id == Receipt.po_id)
            .where(Receipt.received_at >= period.start, Receipt.received_at < period.end, due.is_not(None)))


def _late_receipt_ids(period: Period) -> tuple[int, list[int]]:
    rows = db.session.execute(_dated_receipts(period)).all()
    late = [r.id for r in rows if r.received_at >= day_end(r.due)]
    return len(rows), late


@kpi("replenishment_lead_time")
def replenishment_lead_time(period: Period) -> Measure:
    total, late = _late_receipt_ids(period)
    return Measure(ratio(total - len(late), total), total)


@records_of("replenishment_lead_time")
def replenishment_lead_time_records(period: Period) -> Records:
    _total, late = _late_receipt_ids(period)
    from app.models import Supplier
    stmt = (_dated_receipts(period).add_columns(Supplier.name.label("supplier"))
            .join(Supplier, Supplier.id == PurchaseOrder.supplier_id)
            .where(Receipt.id.in_(late)).order_by(Receipt.received_at.desc(), Receipt.id))
    return Records(("Purchase order", "Receipt", "Supplier", "Due", "Received", "Days late"), stmt,
                   lambda r: (r.po, r.number, r.supplier, r.due.isoformat(), local_text(r.received_at),
                              (r.received_at.astimezone(zone()).date() - r.due).days),
                   lambda r: ("procurement.purchase_order", {"po_id": r.po_id}))


COVER_DEMAND_DAYS = 28


def _available_as_of(end: datetime) -> Select:
    """Available units per SKU at `end`, summed from the ledger's moves rather than today's balances."""
    into = case((StockMove.to_status == Status.AVAILABLE.value, StockMove.qty), else_=0)
    out_of = case((StockMove.from_status == Status.AVAILABLE.value, StockMove.qty), else_=0)
    return (select(StockMove.sku_id, func.sum(into - out_of).label("available"))
            .where(StockMove.created_at < end).group_by(StockMove.sku_id))


def _shipped_units(end: datetime) -> Select:
    return (select(StockMove.sku_id, func.sum(StockMove.qty).label("shipped"))
            .where(StockMove.reason == Reason.SHIP.value, StockMove.created_at >= end - timedelta(days=COVER_DEMAND_DAYS),
                   StockMove.created_at < end).group_by(StockMove.sku_id))


@kpi("stock_cover")
def stock_cover(period: Period) -> Measure:
    available = _available_as_of(period.end).subquery()
    shipped = _shipped_units(period.end).subquery()
    units = db.session.scalar(select(func.coalesce(func.sum(available.c.available), 0)))
    demand = db.session.scalar(select(func.coalesce(func.sum(shipped.c.shipped), 0)))
    daily = Decimal(int(demand)) / COVER_DEMAND_DAYS
    return Measure(ratio(int(units), daily), int(demand))


@records_of("stock_cover")
def stock_cover_records(period: Period) -> Records:
    available = _available_as_of(period.end).subquery()
    shipped = _shipped_units(period.end).subquery()
    units = func.coalesce(available.c.available, 0)
    cover = cast(units, Float) * COVER_DEMAND_DAYS / shipped.c.shipped
    stmt = (select(Sku.id, Sku.code, Sku.name, units.label("available"), shipped.c.shipped, cover.label("cover"))
            .join(shipped, shipped.c.sku_id == Sku.id).outerjoin(available, available.c.sku_id == Sku.id)
            .order_by(cover, Sku.code))
    return Records(("SKU", "Name", "Available", f"Shipped in {COVER_DEMAND_DAYS} days", "Days of cover"), stmt,
                   lambda r: (r.code, r.name, r.available, r.shipped, f"{r.cover:.1f}"),
                   lambda r: ("catalog.sku_detail", {"sku_id": r.id}))


# --- returns ------------------------------------------------------------------------------------------------------

def _refunded_in(period: Period) -> Select:
    return (select(Rma.id, Rma.number, Rma.received_at, Rma.refunded_at, Order.number.label("order"))
            .join(Order, Order.id == Rma.order_id)
            .where(Rma.refunded_at >= period.start, Rma.refunded_at < period.end, Rma.received_at.is_not(None)))


@kpi("return_cycle_time")
def return_cycle_time(period: Period) -> Measure:
    rows = db.session.execute(_refunded_in(period)).all()
    return Measure(mean(days_between(r.received_at, r.refunded_at) for r in rows), len(rows))


@records_of("return_cycle_time")
def return_cycle_time_records(period: Period) -> Records:
    took = _seconds(Rma.received_at, Rma.refunded_at)
    stmt = _refunded_in(period).add_columns(took.label("took")).order_by(took.desc(), Rma.id)
    return Records(("RMA", "Order", "Received", "Refunded", "Days"), stmt,
                   lambda r: (r.number, r.order, local_text(r.received_at), local_text(r.refunded_at),
                              f"{Decimal(str(r.took or 0)) / 86_400:.1f}"),
                   lambda r: ("returns.rma_detail", {"rma_id": r.id}))


# --- reading values and records ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Reading:
    """A KPI's current value with its definition, standing against target and the period measured."""

    kpi: Kpi
    measure: Measure
    period: Period

    @property
    def definition(self) -> KpiDefinition:
        return self.kpi.definition

    @property
    def standing(self) -> str:
        return self.definition.standing(self.measure.value).value


def read(kpi_: Kpi, now: datetime | None = None) -> Reading:
    period = current_period(kpi_.definition, now)
    return Reading(kpi_, kpi_.measure(period), period)


def current_readings(kpis: list[Kpi] | None = None, now: datetime | None = None) -> list[Reading]:
    """Each KPI's value over its trailing window ending now."""
    moment = now or utcnow()
    return [read(k, moment) for k in (registry() if kpis is None else kpis)]


def records_page(kpi_: Kpi, period: Period, page: int = 1, per_page: int = 50) -> tuple[Records, Page]:
    """One page of the records behind a KPI over a period."""
    records = kpi_.records(period)
    return records, page_of(records, page, per_page)


def page_of(records: Records, page: int = 1, per_page: int = 50) -> Page:
    if records.query is not None:
        return paginate(records.query, page, per_page, scalars=False)
    per_page = max(1, min(per_page, 200))
    return Page(list(records.rows[(page - 1) * per_page:page * per_page]), page, per_page, len(records.rows))


def stream_rows(records: Records, batch: int = 1000) -> Iterator[tuple]:
    """Every record as cells, read through a server-side cursor so memory stays flat."""
    result = records.rows if records.query is None else db.session.execute(records.query.execution_options(yield_per=batch))
    for row in result:
        yield records.cells(row)


# --- snapshots and trends ----------------------------------------------------------------------------------------

def snapshot_rows(at: datetime, kpis: list[Kpi] | None = None) -> list[dict]:
    rows = []
    for reading in current_readings(kpis, at):
        rows.append({"kpi": reading.kpi.code, "at": at, "period_start": reading.period.start,
                     "period_end": reading.period.end, "value": reading.measure.value,
                     "sample": reading.measure.sample, "created_at": utcnow()})
    return rows


def _store(rows: list[dict]) -> int:
    """Replace any snapshot of the same KPI and moment, then insert (a plain INSERT: snapshots are not audited)."""
    for row in rows:
        db.session.execute(delete(KpiSnapshot).where(KpiSnapshot.kpi == row["kpi"], KpiSnapshot.at == row["at"]))
    if rows:
        db.session.execute(insert(KpiSnapshot), rows)
    return len(rows)


@service
def take_snapshots(at: datetime | None = None) -> int:
    """Measure every KPI now (on the hour) and keep the values; returns how many were stored."""
    moment = (at or utcnow()).replace(minute=0, second=0, microsecond=0)
    stored = _store(snapshot_rows(moment))
    db.session.commit()
    return stored


@service
def backfill_snapshots(days: int = TREND_DAYS, today: date | None = None) -> int:
    """Measure every KPI as of the end of each of the last `days` local days, from the records as they stand."""
    last = today or datetime.now(zone()).date()
    stored = 0
    for n in range(days, 0, -1):
        stored += _store(snapshot_rows(local_midnight(last - timedelta(days=n - 1))))
    db.session.commit()
    return stored


def trend(code: str, days: int = TREND_DAYS, now: datetime | None = None) -> list[tuple[date, Decimal | None]]:
    """The KPI's last snapshot of each local day over the last `days` days, oldest first."""
    since = (now or utcnow()) - timedelta(days=days)
    rows = db.session.execute(select(KpiSnapshot.at, KpiSnapshot.value)
                              .where(KpiSnapshot.kpi == code, KpiSnapshot.at >= since).order_by(KpiSnapshot.at))
    by_day: dict[date, Decimal | None] = {}
    for at, value in rows:
        # a snapshot at local midnight measures the day that just ended
        by_day[(at - timedelta(microseconds=1)).astimezone(zone()).date()] = value
    return sorted(by_day.items())


def trends(codes: list[str], days: int = TREND_DAYS) -> dict[str, list[tuple[date, Decimal | None]]]:
    return {code: trend(code, days) for code in codes}


# --- the document ----------------------------------------------------------------------------------------------------

KPI_DOCUMENT = "docs/KPIS.md"


def kpi_document() -> str:
    """docs/KPIS.md, written from the registered definitions so the document cannot drift from the code."""
    from app.domain.kpis import Unit
    targets = {Unit.PERCENT: lambda t: f"{(t * 100).normalize():f} %", Unit.HOURS: lambda t: f"{t:g} h",
               Unit.DAYS: lambda t: f"{t:g} days", Unit.MONEY: lambda t: f"£{t:.2f}"}
    lines = ["# KPIs", "",
             "Generated from `app/domain/kpis.py` and the registry in `app/services/kpis.py` (regenerate with",
             "`.venv/bin/python -c \"from app.services.kpis import write_kpi_document; write_kpi_document()\"`;",
             "tests/services/test_kpis_document.py fails when this file is stale).", "",
             "Each KPI is measured over a trailing window ending now, served by `GET /api/v1/kpis`, snapshotted every",
             "hour by the `kpi_snapshots` job (table `kpi_snapshots`), and drawn on the dashboard of the role that",
             "owns it. Its page (`/kpis/<code>`) lists the records behind the figure, exportable as CSV. A value",
             "meets its target, is near it (missing by less than 10 % of the target), or is off it.", "",
             "| KPI | code | unit | target | better | owner | window |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for k in registry():
        d = k.definition
        better = "higher" if d.direction == "up" else "lower"
        lines.append(f"| {d.name} | `{d.code}` | {d.unit.value} | {targets[d.unit](d.target)} | {better} | "
                     f"{d.owner.value} | {d.window_days} days |")
    for k in registry():
        d = k.definition
        lines += ["", f"## {d.name} (`{d.code}`)", "", f"- Formula: {d.formula}", f"- Unit: {d.unit.value}",
                  f"- Target: {'at least' if d.direction == 'up' else 'at most'} {targets[d.unit](d.target)}",
                  f"- Owner: {d.owner.value}", f"- Window: trailing {d.window_days} days",
                  f"- Records behind it: {d.records}"]
    return "\n".join(lines) + "\n"


def write_kpi_document(root: str = ".") -> None:
    with open(f"{root}/{KPI_DOCUMENT}", "w", encoding="utf-8") as out:
        out.write(kpi_document())
