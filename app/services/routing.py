"""Routing runs: build the optimiser's instance from the database, solve, explain, and apply the plan.

The instance speaks the solver contract (spec/solvers.md section 1). Channel rules become its
vocabulary: an order's zone is its channel plus destination, so only the channel's eligible
warehouses have lanes to it; ranked warehouses cost a little more per rank; ship-complete
channels allow one shipment per order. Applying is one transaction per order, re-checking stock,
so a plan made on stale stock never oversells and never half-routes an order.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select

from app.domain.errors import Conflict, NotFound, ValidationError
from app.domain.inventory import Status
from app.domain.orders import AWAITING_STOCK, OrderStatus, ShipmentStatus
from app.extensions import db
from app.models import Sku, StockBalance, Warehouse
from app.models.orders import Order, OrderLine, Shipment, ShipmentLine
from app.models.routing import RoutingDecision, RoutingRun
from app.models.types import utcnow
from app.services import orders as order_service
from app.services._uow import service
from app.services.events import record_event
from app.services.settings import get_setting
from solvers import routing as solver

log = logging.getLogger("keel.routing")
MAX_TIME_LIMIT_S = 300
ELIGIBLE = (OrderStatus.READY, *AWAITING_STOCK)
IN_PROGRESS = ("queued", "running", "applying")


@dataclass
class Instance:
    """The solver's JSON instance and the ids needed to map its answer back."""

    raw: dict
    order_ids: dict[str, int] = field(default_factory=dict)  # order number -> id
    sku_ids: dict[str, int] = field(default_factory=dict)
    warehouse_ids: dict[str, int] = field(default_factory=dict)
    replanned: set[int] = field(default_factory=set)  # orders whose current reservations the plan may move


# --- starting and running -----------------------------------------------------------------------------------

@service
def create_run(*, scope: dict | None = None, time_limit_s: int | None = None, user_id: int | None = None,
               trigger: str = "manual", auto_apply: bool | None = None) -> RoutingRun:
    """Queue a routing run over the orders in scope; returns it before it is solved."""
    scope = clean_scope(scope or {})
    limit = int(time_limit_s if time_limit_s is not None else get_setting("routing.time_limit_s"))
    if not 1 <= limit <= MAX_TIME_LIMIT_S:
        raise ValidationError(f"The time limit must be 1 to {MAX_TIME_LIMIT_S} seconds.", field="time_limit_s")
    if db.session.scalar(select(func.count(RoutingRun.id)).where(RoutingRun.status.in_(IN_PROGRESS))):
        raise Conflict("A routing run is already in progress; wait for it to finish.")
    run = RoutingRun(scope=scope, time_limit_s=limit, trigger=trigger, created_by_id=user_id,
                     auto_apply=bool(get_setting("routing.auto_apply") if auto_apply is None else auto_apply))
    db.session.add(run)
    db.session.commit()
    return run


def clean_scope(scope: dict) -> dict:
    """Keep only the scope keys Keel understands, with checked values."""
    cleaned = {}
    if scope.get("channel"):
        order_service.channel_by_code(str(scope["channel"]))
        cleaned["channel"] = str(scope["channel"])
    if scope.get("warehouse"):
        if not db.session.scalar(select(Warehouse.id).where(Warehouse.code == str(scope["warehouse"]))):
            raise NotFound(f"No warehouse with code '{scope['warehouse']}'.", field="warehouse")
        cleaned["warehouse"] = str(scope["warehouse"])
    if scope.get("min_priority") not in (None, ""):
        try:
            cleaned["min_priority"] = int(scope["min_priority"])
        except (TypeError, ValueError):
            raise ValidationError("Priority must be a whole number.", field="min_priority") from None
    if scope.get("replan_allocated") is not None:
        cleaned["replan_allocated"] = bool(scope["replan_allocated"])
    return cleaned


def start_run_in_background(app, run_id: int) -> threading.Thread:
    """Solve a queued run on a thread of this process, so the screen can poll its progress."""
    thread = threading.Thread(target=_run_with_context, args=(app, run_id), name=f"routing-run-{run_id}", daemon=True)
    thread.start()
    return thread


def _run_with_context(app, run_id: int) -> None:
    with app.app_context():
        try:
            execute_run(run_id)
        finally:
            db.session.remove()


def execute_run(run_id: int) -> RoutingRun:
    """Build the instance, solve it with live progress, store the plan, and apply it when set to."""
    run = db.session.get(RoutingRun, run_id)
    if run is None or run.status != "queued":
        raise Conflict("That routing run is not waiting to start.")
    run.status, run.started_at = "running", utcnow()
    db.session.commit()
    try:
        instance = build_instance(run.scope)
        problem = solver.parse_problem(instance.raw)
        result = solver.solve(problem, time_limit_s=run.time_limit_s, progress=_progress_writer(run.id))
        reference = solver.baseline(problem)
        _store_plan(run, instance, problem, result, reference)
    except Exception as exc:  # the run must end visibly, whatever failed; rules keep orders moving
        db.session.rollback()
        log.exception("routing run %s failed", run_id)
        return _fail_to_rules(run_id, exc)
    if run.auto_apply:
        apply_run(run.id)
    return db.session.get(RoutingRun, run_id)


def _progress_writer(run_id: int):
    last = [0.0]

    def report(objective, bound, fraction):
        now = time.monotonic()
        if now - last[0] < 0.5 and fraction < 1.0:
            return
        last[0] = now
        db.session.execute(
            RoutingRun.__table__.update().where(RoutingRun.id == run_id)
            .values(progress=min(1.0, float(fraction)), progress_objective=objective, progress_bound=bound))
        db.session.commit()

    return report


def _fail_to_rules(run_id: int, exc: Exception) -> RoutingRun:
    """The optimiser could not run: allocate the waiting orders by channel rules instead, and say so."""
    run = db.session.get(RoutingRun, run_id)
    moved = 0
    for order in db.session.scalars(_eligible_orders(run.scope, replan=False)):
        before = sum(line.qty_allocated for line in order.lines)
        order_service.allocate_by_rules(order)
        moved += sum(line.qty_allocated for line in order.lines) > before
    run.status, run.solver_status, run.finished_at, run.progress = "failed", "rules", utcnow(), 1.0
    run.message = f"The optimiser failed ({type(exc).__name__}: {str(exc)[:300]}); {moved} orders were allocated by channel rules instead."
    record_event("routing.run_failed", "routing_run", run.id, {"run": run.id, "message": run.message})
    db.session.commit()
    return run


# --- building the instance ------------------------------------------------------------------------------------

def _eligible_orders(scope: dict, *, replan: bool):
    statuses = [s.value for s in ELIGIBLE] + ([OrderStatus.ALLOCATED.value] if replan else [])
    stmt = select(Order).where(Order.status.in_(statuses))
    if scope.get("channel"):
        stmt = stmt.where(Order.channel_id == order_service.channel_by_code(scope["channel"]).id)
    if scope.get("min_priority") is not None:
        stmt = stmt.where(Order.priority >= scope["min_priority"])
    return stmt.order_by(Order.priority.desc(), Order.placed_at, Order.id)


def _replannable(order: Order) -> bool:
    """An allocated order may be re-planned while none of its shipments has gone to the floor."""
    open_shipments = [s for s in order.shipments if s.status != ShipmentStatus.CANCELLED]
    return all(s.status == ShipmentStatus.ALLOCATED for s in open_shipments)


def build_instance(scope: dict) -> Instance:
    """The solver instance for the orders in scope, from live stock, labour and rate tables."""
    replan = bool(scope.get("replan_allocated", get_setting("routing.replan_allocated")))
    warehouses = _warehouses_in_scope(scope)
    instance = Instance(raw={}, warehouse_ids={w.code: w.id for w in warehouses})
    orders = [o for o in db.session.scalars(_eligible_orders(scope, replan=replan))
              if o.status != OrderStatus.ALLOCATED or _replannable(o)]
    orders = [o for o in orders if any(w.id in instance.warehouse_ids.values() for w in o.channel.warehouses)]
    instance.replanned = {o.id for o in orders if o.status == OrderStatus.ALLOCATED or _has_open_reservation(o)}
    order_rows, zones = _order_rows(orders, instance)
    instance.raw = {
        "warehouses": _warehouse_rows(warehouses, instance),
        "stock": _stock_rows(warehouses, instance, orders),
        "lanes": _lane_rows(warehouses, zones),
        "orders": order_rows,
        "split_penalty": float(get_setting("routing.split_penalty")),
        "unfilled_penalty_per_unit": float(get_setting("routing.unfilled_penalty_per_unit")),
        "late_penalty_per_day": float(get_setting("routing.late_penalty_per_day")),
        "max_shipments_per_order": get_setting("routing.max_shipments_per_order"),
        "time_limit_s": 10,
    }
    return instance


def _has_open_reservation(order: Order) -> bool:
    return any(line.qty_allocated for line in order.lines)


def _warehouses_in_scope(scope: dict) -> list[Warehouse]:
    stmt = select(Warehouse).where(Warehouse.active.is_(True)).order_by(Warehouse.code)
    if scope.get("warehouse"):
        stmt = stmt.where(Warehouse.code == scope["warehouse"])
    return list(db.session.scalars(stmt))


def _order_rows(orders: list[Order], instance: Instance) -> tuple[list[dict], dict[str, tuple]]:
    """Orders with the units still to route; zones keyed by channel and destination."""
    rows, zones = [], {}
    today = date.today()
    for order in orders:
        demand: dict[str, int] = defaultdict(int)
        for line in order.lines:
            units = line.qty - line.qty_shipped if order.id in instance.replanned else line.qty_waiting
            if units > 0:
                demand[line.sku.code] += units
                instance.sku_ids[line.sku.code] = line.sku_id
        if not demand:
            continue
        zone = f"{order.channel.code}|{order.ship_country}|{_postcode_area(order.ship_postcode)}"
        zones[zone] = (order.channel, order.ship_country, order.ship_postcode)
        instance.order_ids[order.number] = order.id
        rows.append({"id": order.number, "zone": zone, "priority": order.priority,
                     "sla_days": max(0, (order.promised_ship_date - today).days + 1) if order.promised_ship_date else order.sla_days,
                     "lines": [{"sku": sku, "qty": qty} for sku, qty in sorted(demand.items())],
                     **({"max_shipments": 1} if order.channel.ship_complete else {})})
    return rows, zones


def _postcode_area(postcode: str) -> str:
    letters = ""
    for ch in (postcode or "").strip().upper():
        if not ch.isalpha():
            break
        letters += ch
    return letters or "-"


def _warehouse_rows(warehouses: list[Warehouse], instance: Instance) -> list[dict]:
    rows = []
    for w in warehouses:
        capacity = remaining_capacity(w, instance.replanned)
        rows.append({"id": w.code, "capacity_units": capacity, "handling_cost_per_unit": float(w.handling_cost_per_unit)})
    return rows


def daily_capacity(warehouse: Warehouse, day: date) -> int:
    """Units a warehouse can pick and ship in a day: the labour plan's, else its standing shift."""
    try:
        from app.services.waves import labour_capacity_units
    except ImportError:
        labour_capacity_units = None
    planned = labour_capacity_units(warehouse.id, day) if labour_capacity_units else None
    if planned is not None:
        return planned
    return warehouse.pickers_per_shift * warehouse.shift_hours * warehouse.units_per_picker_hour


def remaining_capacity(warehouse: Warehouse, replanned: set[int]) -> int:
    """Today's capacity less the units already reserved there for orders this run does not move."""
    committed = db.session.scalar(
        select(func.coalesce(func.sum(ShipmentLine.qty - ShipmentLine.qty_picked), 0))
        .join(Shipment, Shipment.id == ShipmentLine.shipment_id)
        .where(Shipment.warehouse_id == warehouse.id,
               Shipment.status.in_([ShipmentStatus.ALLOCATED.value, ShipmentStatus.RELEASED.value,
                                    ShipmentStatus.PICKING.value]),
               Shipment.order_id.not_in(replanned) if replanned else True)) or 0
    return max(0, daily_capacity(warehouse, date.today()) - int(committed))


def _stock_rows(warehouses: list[Warehouse], instance: Instance, orders: list[Order]) -> list[dict]:
    """Available units per warehouse and SKU, plus what re-planned orders already hold (they may keep or move it)."""
    stock: dict[tuple[str, str], int] = defaultdict(int)
    codes = {w.id: w.code for w in warehouses}
    sku_ids = set(instance.sku_ids.values())
    if sku_ids:
        for wid, sku_id, qty in db.session.execute(
                select(StockBalance.warehouse_id, StockBalance.sku_id, func.sum(StockBalance.qty))
                .where(StockBalance.status == Status.AVAILABLE.value, StockBalance.sku_id.in_(sku_ids),
                       StockBalance.warehouse_id.in_(codes))
                .group_by(StockBalance.warehouse_id, StockBalance.sku_id)):
            stock[(codes[wid], _sku_code(instance, sku_id))] += int(qty)
    for order in orders:
        if order.id not in instance.replanned:
            continue
        for shipment in order.shipments:
            if shipment.status == ShipmentStatus.ALLOCATED and shipment.warehouse_id in codes:
                for line in shipment.lines:
                    stock[(codes[shipment.warehouse_id], line.sku.code)] += line.qty - line.qty_picked
    return [{"warehouse": w, "sku": s, "qty": q} for (w, s), q in sorted(stock.items()) if q > 0]


def _sku_code(instance: Instance, sku_id: int) -> str:
    for code, known in instance.sku_ids.items():
        if known == sku_id:
            return code
    return db.session.get(Sku, sku_id).code


def _lane_rows(warehouses: list[Warehouse], zones: dict[str, tuple]) -> list[dict]:
    """A lane per eligible warehouse and zone: the carrier's price to that destination, plus a rank step."""
    from app.services.carriers import routing_lanes, zone_for
    lanes = {(lane["warehouse"], lane["zone"]): lane for lane in routing_lanes()}
    rank_step = float(get_setting("routing.rank_penalty"))
    in_scope = {w.id: w for w in warehouses}
    rows = []
    for key, (channel, country, postcode) in zones.items():
        for rank, warehouse in enumerate(channel.warehouses):
            if warehouse.id not in in_scope:
                continue
            lane = lanes.get((warehouse.code, zone_for(warehouse.id, country, postcode)))
            if lane is None:
                continue
            rows.append({"warehouse": warehouse.code, "zone": key, "cost": float(lane["cost"]) + rank * rank_step,
                         "transit_days": int(lane["transit_days"])})
    return rows


# --- storing the plan ---------------------------------------------------------------------------------------

def _store_plan(run: RoutingRun, instance: Instance, problem, result, reference) -> None:
    baseline_plans = {p.order: p for p in reference.orders}
    by_order: dict[str, list] = defaultdict(list)
    for a in result.allocations:
        by_order[a.order].append({"sku": a.sku, "warehouse": a.warehouse, "qty": a.qty})
    unfilled: dict[str, list] = defaultdict(list)
    for u in result.unfilled:
        unfilled[u.order].append({"sku": u.sku, "qty": u.qty})
    for plan in result.orders:
        base = baseline_plans.get(plan.order)
        run.decisions.append(RoutingDecision(
            order_id=instance.order_ids[plan.order], warehouses=list(plan.warehouses), allocations=by_order[plan.order],
            unfilled=unfilled[plan.order], cost=_money(plan.cost), explanation=plan.explanation[:500],
            baseline_warehouses=list(base.warehouses) if base else [], baseline_cost=_money(base.cost) if base else None))
    run.solver_status, run.objective = result.status, _money(result.objective)
    run.bound = _money(result.bound) if result.bound is not None else None
    run.baseline_cost, run.solve_seconds = _money(reference.objective), result.solve_seconds
    run.orders_count, run.units = len(problem.orders), sum(o.units for o in problem.orders)
    run.shipments, run.baseline_shipments = _shipment_count(result), _shipment_count(reference)
    run.unfilled_units = sum(u.qty for u in result.unfilled)
    run.baseline_unfilled_units = sum(u.qty for u in reference.unfilled)
    run.warehouse_load = _load(problem, result)
    run.status, run.finished_at, run.progress = ("applying" if run.auto_apply else "solved"), utcnow(), 1.0
    record_event("routing.run_solved", "routing_run", run.id,
                 {"run": run.id, "orders": run.orders_count, "objective": str(run.objective),
                  "baseline": str(run.baseline_cost), "status": run.solver_status})
    db.session.commit()


def _money(value: float) -> Decimal:
    return Decimal(str(round(value, 2)))


def _shipment_count(result) -> int:
    return sum(len(plan.warehouses) for plan in result.orders)


def _load(problem, result) -> dict:
    units: dict[str, int] = defaultdict(int)
    for a in result.allocations:
        units[a.warehouse] += a.qty
    return {w.id: {"units": units.get(w.id, 0), "capacity": w.capacity_units} for w in problem.warehouses}


# --- applying --------------------------------------------------------------------------------------------------

def apply_run(run_id: int, *, user_id: int | None = None) -> RoutingRun:
    """Reserve stock as planned, one order per transaction; orders whose stock changed wait for the next run."""
    run = db.session.get(RoutingRun, run_id)
    if run is None:
        raise NotFound("No such routing run.")
    if run.status not in ("solved", "applying"):
        raise Conflict(f"This run is {run.status}; only a solved run can be applied.")
    replanned = {d.order_id for d in run.decisions}
    for decision_id in [d.id for d in run.decisions]:
        _apply_decision(decision_id, user_id)
    run = db.session.get(RoutingRun, run_id)
    run.applied_orders = sum(d.outcome == "applied" for d in run.decisions)
    run.skipped_orders = sum(d.outcome == "skipped" for d in run.decisions)
    run.status, run.applied_at = "applied", utcnow()
    record_event("routing.run_applied", "routing_run", run.id,
                 {"run": run.id, "applied": run.applied_orders, "skipped": run.skipped_orders, "orders": len(replanned)},
                 user_id=user_id)
    db.session.commit()
    return run


def _apply_decision(decision_id: int, user_id: int | None) -> None:
    decision = db.session.get(RoutingDecision, decision_id)
    order = decision.order_id and db.session.get(Order, decision.order_id)
    try:
        outcome, note = _apply_to_order(order, decision, user_id)
    except Exception as exc:  # one order's failure must not stop the others; it waits for the next run
        db.session.rollback()
        log.warning("routing decision %s not applied: %s", decision_id, exc)
        decision = db.session.get(RoutingDecision, decision_id)
        outcome, note = "skipped", f"not applied: {str(exc)[:200]}"
    decision.outcome, decision.outcome_note = outcome, note[:300]
    db.session.commit()


class _StockMoved(Exception):
    pass


def _apply_to_order(order: Order, decision: RoutingDecision, user_id: int | None) -> tuple[str, str]:
    if order.status not in [s.value for s in ELIGIBLE] + [OrderStatus.ALLOCATED.value]:
        return "skipped", f"order is now {order.status.replace('_', ' ')}"
    if order.status == OrderStatus.ALLOCATED and not _replannable(order):
        return "skipped", "already released to the floor"
    if _already_as_planned(order, decision):
        return "unchanged", "already reserved where the plan puts it"
    reason = f"routing run {decision.run_id}"
    for shipment in list(order.shipments):
        if shipment.status == ShipmentStatus.ALLOCATED:
            order_service.release_shipment(shipment, user_id, f"re-planned by {reason}")
    try:
        _reserve_plan(order, decision, user_id)
    except _StockMoved as exc:
        db.session.rollback()
        return "skipped", f"stock changed during the run ({exc}); waits for the next run"
    order_service.settle_allocation_status(order, user_id, reason)
    return "applied", ", ".join(decision.warehouses) or "nothing in stock"


def _already_as_planned(order: Order, decision: RoutingDecision) -> bool:
    current: dict[tuple[str, str], int] = defaultdict(int)
    for shipment in order.shipments:
        if shipment.status == ShipmentStatus.ALLOCATED:
            for line in shipment.lines:
                current[(shipment.warehouse.code, line.sku.code)] += line.qty
    planned = {(a["warehouse"], a["sku"]): a["qty"] for a in decision.allocations}
    return bool(planned) and dict(current) == planned


def _reserve_plan(order: Order, decision: RoutingDecision, user_id: int | None) -> None:
    warehouses = {w.code: w.id for w in db.session.scalars(select(Warehouse))}
    for allocation in decision.allocations:
        need = allocation["qty"]
        for line in (l for l in order.lines if l.sku.code == allocation["sku"]):
            take = min(need, line.qty_waiting)
            if take <= 0:
                continue
            got = order_service.reserve_line(order, line, warehouses[allocation["warehouse"]], take, user_id=user_id,
                                             routing_run_id=decision.run_id)
            need -= got
            if got < take:
                raise _StockMoved(f"{allocation['sku']} at {allocation['warehouse']}")
        if need > 0:
            raise _StockMoved(f"{allocation['sku']} demand changed")


@service
def discard_run(run_id: int, *, user_id: int | None = None) -> RoutingRun:
    """Throw a solved plan away without touching any order."""
    run = db.session.get(RoutingRun, run_id)
    if run is None:
        raise NotFound("No such routing run.")
    if run.status != "solved":
        raise Conflict(f"This run is {run.status}; only a solved run can be discarded.")
    run.status = "discarded"
    record_event("routing.run_discarded", "routing_run", run.id, {"run": run.id}, user_id=user_id)
    db.session.commit()
    return run


def run_scheduled() -> RoutingRun | None:
    """The scheduled run: queue, solve and (by setting) apply, in this thread."""
    if not get_setting("routing.scheduled"):
        return None
    try:
        run = create_run(trigger="scheduled")
    except Conflict:
        return None
    return execute_run(run.id)


def scheduled_run_due() -> bool:
    """True when scheduled routing is on and the last scheduled run started at least the interval ago."""
    if not get_setting("routing.scheduled"):
        return False
    last = db.session.scalar(select(func.max(RoutingRun.created_at)).where(RoutingRun.trigger == "scheduled"))
    minutes = max(1, int(get_setting("routing.interval_minutes")))
    return last is None or (utcnow() - last).total_seconds() >= minutes * 60


def run_history(page: int = 1, per_page: int = 20):
    from app.services.queries import paginate
    return paginate(select(RoutingRun).order_by(RoutingRun.created_at.desc(), RoutingRun.id.desc()), page, per_page)


def run_decisions(run_id: int, q: str = "", outcome: str = "", page: int = 1):
    """A page of a run's decisions with their orders, searchable by order number."""
    from app.services.queries import like_pattern, paginate
    stmt = (select(RoutingDecision, Order).join(Order, Order.id == RoutingDecision.order_id)
            .where(RoutingDecision.run_id == run_id))
    if q:
        stmt = stmt.where(Order.number.ilike(like_pattern(q.strip()), escape="\\") | Order.external_id.ilike(like_pattern(q.strip()), escape="\\"))
    if outcome:
        stmt = stmt.where(RoutingDecision.outcome == outcome)
    return paginate(stmt.order_by(RoutingDecision.id), page, 50, scalars=False)


def get_run(run_id: int) -> RoutingRun:
    run = db.session.get(RoutingRun, run_id)
    if run is None:
        raise NotFound("No such routing run.")
    return run


def run_json(run: RoutingRun, *, with_decisions: bool = True) -> dict:
    """A run as the API describes it."""
    body = {"id": run.id, "status": run.status, "trigger": run.trigger, "scope": run.scope,
            "solver_status": run.solver_status or None, "progress": round(run.progress, 3),
            "objective": _num(run.objective) if run.objective is not None else run.progress_objective,
            "bound": _num(run.bound) if run.bound is not None else run.progress_bound,
            "baseline_cost": _num(run.baseline_cost), "saving": _num(run.saving),
            "orders": run.orders_count, "units": run.units, "shipments": run.shipments,
            "baseline_shipments": run.baseline_shipments, "unfilled_units": run.unfilled_units,
            "solve_seconds": run.solve_seconds, "warehouse_load": run.warehouse_load, "message": run.message,
            "created_at": run.created_at.isoformat(), "finished_at": run.finished_at.isoformat() if run.finished_at else None,
            "applied_orders": run.applied_orders, "skipped_orders": run.skipped_orders}
    if with_decisions:
        numbers = dict(db.session.execute(select(Order.id, Order.number).where(
            Order.id.in_([d.order_id for d in run.decisions]))).all()) if run.decisions else {}
        body["decisions"] = [{"order": numbers.get(d.order_id), "warehouses": d.warehouses, "cost": _num(d.cost),
                              "baseline_warehouses": d.baseline_warehouses, "baseline_cost": _num(d.baseline_cost),
                              "allocations": d.allocations, "unfilled": d.unfilled, "explanation": d.explanation,
                              "outcome": d.outcome, "note": d.outcome_note} for d in run.decisions]
    return body


def _num(value: Decimal | None) -> float | None:
    return None if value is None else float(value)
