"""Multi-warehouse order routing: which warehouse ships which units of which order.

The contract (instance, answer, cost) is section 1 of the solver spec. `priority` weights an
order's unfilled penalty, so a higher number means a more important order: scarce stock goes
to it first, in the optimiser (through the cost) and in the baseline (through the order).
"""
from __future__ import annotations

import math
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any, Callable, Iterable, Mapping

from ortools.linear_solver import pywraplp
from ortools.sat.python import cp_model

from solvers import _cli
from solvers._instance import InstanceError, integer, items, number, require, text

Progress = Callable[[float | None, float | None, float], None]
"""progress(objective, bound, fraction_done): a live report; objective/bound may be None."""

_EPS = 1e-6


# ---------------------------------------------------------------- problem


@dataclass(frozen=True)
class Warehouse:
    """A warehouse: its handling cost per unit and the units it can still ship (None = unlimited)."""

    id: str
    handling_cost_per_unit: float
    capacity_units: int | None = None


@dataclass(frozen=True)
class Lane:
    """A per-shipment cost and transit time from a warehouse to a destination zone."""

    warehouse: str
    zone: str
    cost: float
    transit_days: float


@dataclass(frozen=True)
class OrderLine:
    """Units of one SKU an order asks for."""

    sku: str
    qty: int


@dataclass(frozen=True)
class Order:
    """A customer order; a higher `priority` weights its unfilled units more."""

    id: str
    zone: str
    sla_days: float
    priority: float
    lines: tuple[OrderLine, ...]

    @cached_property
    def demand(self) -> dict[str, int]:
        """Units per SKU, lines of one SKU summed, SKUs in order of first appearance."""
        totals: dict[str, int] = {}
        for line in self.lines:
            totals[line.sku] = totals.get(line.sku, 0) + line.qty
        return totals

    @cached_property
    def units(self) -> int:
        return sum(self.demand.values())


@dataclass(frozen=True)
class RoutingProblem:
    """A routing instance: warehouses, stock, lanes, orders and the cost weights."""

    warehouses: tuple[Warehouse, ...]
    stock: Mapping[tuple[str, str], int]  # (warehouse, sku) -> units
    lanes: Mapping[tuple[str, str], Lane]  # (warehouse, zone) -> lane
    orders: tuple[Order, ...]
    split_penalty: float
    unfilled_penalty_per_unit: float
    late_penalty_per_day: float
    max_shipments_per_order: int | None = None
    time_limit_s: float = 10.0

    @cached_property
    def warehouse(self) -> dict[str, Warehouse]:
        return {w.id: w for w in self.warehouses}

    @cached_property
    def order(self) -> dict[str, Order]:
        return {o.id: o for o in self.orders}

    @cached_property
    def capacity(self) -> dict[str, int | None]:
        return {w.id: w.capacity_units for w in self.warehouses}

    def reachable(self, zone: str) -> list[str]:
        """Warehouses with a lane to `zone`, in instance order."""
        return [w.id for w in self.warehouses if (w.id, zone) in self.lanes]

    def shipment_cost(self, order: Order, warehouse: str) -> float:
        """Lane cost plus lateness penalty of one shipment of `order` from `warehouse`."""
        lane = self.lanes[(warehouse, order.zone)]
        return lane.cost + self.late_penalty_per_day * max(0.0, lane.transit_days - order.sla_days)

    def unit_penalty(self, order: Order) -> float:
        return self.unfilled_penalty_per_unit * order.priority


# ---------------------------------------------------------------- parsing


def parse_problem(raw: Any) -> RoutingProblem:
    """Read a JSON instance; raise InstanceError naming the field when it is malformed."""
    if not isinstance(raw, dict):
        raise InstanceError("instance", "must be an object")
    warehouses = _parse_warehouses(require(raw, "warehouses", ""))
    known = {w.id for w in warehouses}
    limit = number(raw.get("time_limit_s", 10), "time_limit_s")
    if limit <= 0:
        raise InstanceError("time_limit_s", "must be positive")
    return RoutingProblem(
        warehouses=warehouses,
        stock=_parse_stock(require(raw, "stock", ""), known),
        lanes=_parse_lanes(require(raw, "lanes", ""), known),
        orders=_parse_orders(require(raw, "orders", "")),
        split_penalty=number(require(raw, "split_penalty", ""), "split_penalty"),
        unfilled_penalty_per_unit=number(require(raw, "unfilled_penalty_per_unit", ""), "unfilled_penalty_per_unit"),
        late_penalty_per_day=number(require(raw, "late_penalty_per_day", ""), "late_penalty_per_day"),
        max_shipments_per_order=integer(
            raw.get("max_shipments_per_order"), "max_shipments_per_order", minimum=1, allow_none=True
        ),
        time_limit_s=float(limit),
    )


def _parse_warehouses(value: Any) -> tuple[Warehouse, ...]:
    warehouses, seen = [], set()
    for i, entry in enumerate(items(value, "warehouses")):
        where = f"warehouses[{i}]"
        wid = text(require(entry, "id", where), f"{where}.id")
        if wid in seen:
            raise InstanceError(f"{where}.id", f"duplicate warehouse {wid!r}")
        seen.add(wid)
        handling = number(require(entry, "handling_cost_per_unit", where), f"{where}.handling_cost_per_unit")
        capacity = integer(entry.get("capacity_units"), f"{where}.capacity_units", allow_none=True)
        warehouses.append(Warehouse(wid, float(handling), capacity))
    return tuple(warehouses)


def _known_warehouse(entry: Any, where: str, known: set[str]) -> str:
    wid = text(require(entry, "warehouse", where), f"{where}.warehouse")
    if wid not in known:
        raise InstanceError(f"{where}.warehouse", f"unknown warehouse {wid!r}")
    return wid


def _parse_stock(value: Any, known: set[str]) -> dict[tuple[str, str], int]:
    """Stock per (warehouse, sku); an entry listed twice is summed."""
    stock: dict[tuple[str, str], int] = defaultdict(int)
    for i, entry in enumerate(items(value, "stock")):
        where = f"stock[{i}]"
        wid = _known_warehouse(entry, where, known)
        sku = text(require(entry, "sku", where), f"{where}.sku")
        stock[(wid, sku)] += integer(require(entry, "qty", where), f"{where}.qty")
    return dict(stock)


def _parse_lanes(value: Any, known: set[str]) -> dict[tuple[str, str], Lane]:
    lanes: dict[tuple[str, str], Lane] = {}
    for i, entry in enumerate(items(value, "lanes")):
        where = f"lanes[{i}]"
        wid = _known_warehouse(entry, where, known)
        zone = text(require(entry, "zone", where), f"{where}.zone")
        if (wid, zone) in lanes:
            raise InstanceError(f"{where}.zone", f"second lane from {wid!r} to {zone!r}")
        cost = number(require(entry, "cost", where), f"{where}.cost")
        days = number(require(entry, "transit_days", where), f"{where}.transit_days")
        lanes[(wid, zone)] = Lane(wid, zone, float(cost), days)
    return lanes


def _parse_orders(value: Any) -> tuple[Order, ...]:
    orders, seen = [], set()
    for i, entry in enumerate(items(value, "orders")):
        where = f"orders[{i}]"
        oid = text(require(entry, "id", where), f"{where}.id")
        if oid in seen:
            raise InstanceError(f"{where}.id", f"duplicate order {oid!r}")
        seen.add(oid)
        priority = number(entry.get("priority", 1), f"{where}.priority", allow_none=True)
        orders.append(
            Order(
                id=oid,
                zone=text(require(entry, "zone", where), f"{where}.zone"),
                sla_days=number(require(entry, "sla_days", where), f"{where}.sla_days"),
                priority=1 if priority is None else priority,
                lines=_parse_lines(require(entry, "lines", where), f"{where}.lines"),
            )
        )
    return tuple(orders)


def _parse_lines(value: Any, where: str) -> tuple[OrderLine, ...]:
    lines = []
    for j, entry in enumerate(items(value, where)):
        line = f"{where}[{j}]"
        sku = text(require(entry, "sku", line), f"{line}.sku")
        lines.append(OrderLine(sku, integer(require(entry, "qty", line), f"{line}.qty")))
    return tuple(lines)


# ---------------------------------------------------------------- answer


@dataclass(frozen=True)
class Allocation:
    """Units of one order's SKU shipped from one warehouse."""

    order: str
    sku: str
    warehouse: str
    qty: int


@dataclass(frozen=True)
class Unfilled:
    order: str
    sku: str
    qty: int


@dataclass(frozen=True)
class OrderPlan:
    """Where one order ships from, its share of the cost, and why."""

    order: str
    warehouses: tuple[str, ...]
    cost: float
    explanation: str


@dataclass(frozen=True)
class RoutingResult:
    """A routing answer: status "optimal", "feasible" or "fallback", and the plan."""

    status: str
    objective: float
    bound: float | None
    solve_seconds: float
    allocations: tuple[Allocation, ...]
    unfilled: tuple[Unfilled, ...]
    orders: tuple[OrderPlan, ...]

    def to_json(self) -> dict:
        """The answer in the spec's format."""
        return {
            "status": self.status,
            "objective": round(self.objective, 6),
            "bound": None if self.bound is None else round(self.bound, 6),
            "solve_seconds": round(self.solve_seconds, 3),
            "allocations": [
                {"order": a.order, "sku": a.sku, "warehouse": a.warehouse, "qty": a.qty} for a in self.allocations
            ],
            "unfilled": [{"order": u.order, "sku": u.sku, "qty": u.qty} for u in self.unfilled],
            "orders": [
                {"order": p.order, "warehouses": list(p.warehouses), "cost": round(p.cost, 6), "explanation": p.explanation}
                for p in self.orders
            ],
        }


def _as_allocation(entry: Allocation | Mapping) -> Allocation:
    if isinstance(entry, Allocation):
        return entry
    return Allocation(entry["order"], entry["sku"], entry["warehouse"], int(entry["qty"]))


# ---------------------------------------------------------------- cost and feasibility


def order_costs(problem: RoutingProblem, allocations: Iterable[Allocation | Mapping]) -> dict[str, float]:
    """Each order's share of the plan cost (shipments, lateness, handling, split, unfilled)."""
    allocations = [_as_allocation(entry) for entry in allocations]
    shipped: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    handling: dict[str, float] = defaultdict(float)
    for a in allocations:
        shipped[a.order][a.sku] += a.qty
        handling[a.order] += a.qty * problem.warehouse[a.warehouse].handling_cost_per_unit
    used = _warehouses_per_order(allocations)
    costs = {}
    for order in problem.orders:
        warehouses = used.get(order.id, ())
        cost = handling[order.id] + problem.split_penalty * max(0, len(warehouses) - 1)
        cost += sum(problem.shipment_cost(order, w) for w in warehouses)
        missing = sum(d - min(d, shipped[order.id].get(s, 0)) for s, d in order.demand.items())
        costs[order.id] = cost + problem.unit_penalty(order) * missing
    return costs


def evaluate(problem: RoutingProblem, allocations: Iterable[Allocation | Mapping]) -> float:
    """The plan cost of the spec: the one cost function the solver, baseline and tests use."""
    return sum(order_costs(problem, allocations).values())


def _warehouses_per_order(allocations: Iterable[Allocation | Mapping]) -> dict[str, tuple[str, ...]]:
    used: dict[str, set[str]] = defaultdict(set)
    for entry in allocations:
        a = _as_allocation(entry)
        if a.qty > 0:
            used[a.order].add(a.warehouse)
    return {o: tuple(sorted(ws)) for o, ws in used.items()}


def plan_violations(problem: RoutingProblem, allocations: Iterable[Allocation]) -> list[str]:
    """Every hard constraint the plan breaks (empty when feasible)."""
    allocations = list(allocations)
    problems = [f"{a}: bad reference or quantity" for a in allocations if not _well_formed(problem, a)]
    if problems:
        return problems
    per_line, per_stock, per_warehouse = defaultdict(int), defaultdict(int), defaultdict(int)
    for a in allocations:
        per_line[(a.order, a.sku)] += a.qty
        per_stock[(a.warehouse, a.sku)] += a.qty
        per_warehouse[a.warehouse] += a.qty
    problems += [f"{k}: {q} over demand" for k, q in per_line.items() if q > problem.order[k[0]].demand[k[1]]]
    problems += [f"{k}: {q} over stock" for k, q in per_stock.items() if q > problem.stock.get(k, 0)]
    for w, q in per_warehouse.items():
        if problem.capacity[w] is not None and q > problem.capacity[w]:
            problems.append(f"{w}: {q} units over capacity")
    limit = problem.max_shipments_per_order
    for order, warehouses in _warehouses_per_order(allocations).items():
        if limit is not None and len(warehouses) > limit:
            problems.append(f"{order}: {len(warehouses)} shipments over the limit")
    return problems


def _well_formed(problem: RoutingProblem, a: Allocation) -> bool:
    order = problem.order.get(a.order)
    return (
        order is not None
        and a.sku in order.demand
        and a.warehouse in problem.warehouse
        and (a.warehouse, order.zone) in problem.lanes
        and isinstance(a.qty, int)
        and a.qty > 0
    )


# ---------------------------------------------------------------- baseline


class _Resources:
    """Stock and capacity left while a plan is built."""

    def __init__(self, problem: RoutingProblem, stock: Mapping | None = None, capacity: Mapping | None = None):
        self.stock = dict(problem.stock if stock is None else stock)
        self.capacity = dict(problem.capacity if capacity is None else capacity)

    def room(self, warehouse: str) -> float:
        cap = self.capacity[warehouse]
        return math.inf if cap is None else cap

    def take(self, warehouse: str, sku: str, qty: int) -> None:
        self.stock[(warehouse, sku)] -= qty
        if self.capacity[warehouse] is not None:
            self.capacity[warehouse] -= qty

    def can_fill_whole(self, order: Order, warehouse: str) -> bool:
        in_stock = all(self.stock.get((warehouse, s), 0) >= d for s, d in order.demand.items())
        return in_stock and self.room(warehouse) >= order.units


def baseline(problem: RoutingProblem) -> RoutingResult:
    """The spec's greedy baseline, with status "feasible"."""
    started = time.monotonic()
    allocations = _greedy(problem, problem.orders, _Resources(problem))
    return _result(problem, "feasible", allocations, None, time.monotonic() - started)


def _priority_order(orders: Iterable[Order]) -> list[Order]:
    """Higher priority first (priority weights the unfilled penalty), then by id."""
    return sorted(orders, key=lambda o: (-o.priority, o.id))


def _greedy(problem: RoutingProblem, orders: Iterable[Order], left: _Resources) -> list[Allocation]:
    """Baseline: each order whole from its cheapest able warehouse, else line by line."""
    allocations: list[Allocation] = []
    for order in _priority_order(orders):
        ranked = _ranked_warehouses(problem, order)
        whole = next((w for w in ranked if left.can_fill_whole(order, w)), None)
        if whole is not None:
            for sku, qty in order.demand.items():
                if qty > 0:
                    left.take(whole, sku, qty)
                    allocations.append(Allocation(order.id, sku, whole, qty))
        else:
            allocations += _fill_line_by_line(problem, order, ranked, left)
    return allocations


def _ranked_warehouses(problem: RoutingProblem, order: Order) -> list[str]:
    """Reachable warehouses, cheapest first by the cost of shipping the whole order there."""
    def whole_order_cost(w: str) -> float:
        return problem.shipment_cost(order, w) + problem.warehouse[w].handling_cost_per_unit * order.units

    return sorted(problem.reachable(order.zone), key=whole_order_cost)


def _fill_line_by_line(problem: RoutingProblem, order: Order, ranked: list[str], left: _Resources) -> list[Allocation]:
    """Each line from the cheapest warehouses with stock, capacity and shipments left."""
    allocations, used = [], []
    limit = problem.max_shipments_per_order or len(ranked)
    for sku, demand in order.demand.items():
        for w in ranked:
            if demand == 0:
                break
            if w not in used and len(used) >= limit:
                continue
            qty = int(min(demand, left.stock.get((w, sku), 0), left.room(w)))
            if qty > 0:
                left.take(w, sku, qty)
                allocations.append(Allocation(order.id, sku, w, qty))
                used += [] if w in used else [w]
                demand -= qty
    return allocations


# ---------------------------------------------------------------- result and explanations


def _result(
    problem: RoutingProblem, status: str, allocations: list[Allocation], bound: float | None, seconds: float
) -> RoutingResult:
    allocations = _merged(allocations)
    costs = order_costs(problem, allocations)
    objective = sum(costs.values())
    if bound is not None:
        bound = min(bound, objective)  # float noise must not put a lower bound above a real plan
    return RoutingResult(
        status=status,
        objective=objective,
        bound=bound,
        solve_seconds=seconds,
        allocations=tuple(allocations),
        unfilled=tuple(_unfilled(problem, allocations)),
        orders=tuple(_order_plans(problem, allocations, costs)),
    )


def _merged(allocations: Iterable[Allocation]) -> list[Allocation]:
    """One allocation per (order, sku, warehouse), sorted."""
    totals = defaultdict(int)
    for a in allocations:
        totals[(a.order, a.sku, a.warehouse)] += a.qty
    return [Allocation(o, s, w, q) for (o, s, w), q in sorted(totals.items()) if q > 0]


def _unfilled(problem: RoutingProblem, allocations: list[Allocation]) -> list[Unfilled]:
    shipped = defaultdict(int)
    for a in allocations:
        shipped[(a.order, a.sku)] += a.qty
    return [
        Unfilled(order.id, sku, demand - shipped[(order.id, sku)])
        for order in problem.orders
        for sku, demand in order.demand.items()
        if demand > shipped[(order.id, sku)]
    ]


def _order_plans(problem: RoutingProblem, allocations: list[Allocation], costs: dict[str, float]) -> list[OrderPlan]:
    used = _warehouses_per_order(allocations)
    shipped = defaultdict(int)
    for a in allocations:
        shipped[a.order] += a.qty
    plans = []
    for order in problem.orders:
        warehouses = used.get(order.id, ())
        why = _explain(problem, order, warehouses, shipped[order.id], costs[order.id])
        plans.append(OrderPlan(order.id, warehouses, costs[order.id], why))
    return plans


def _standalone_cost(problem: RoutingProblem, order: Order, warehouse: str) -> tuple[float, int]:
    """Cost and units if `warehouse` alone shipped what its full stock and capacity allow."""
    room = problem.capacity[warehouse]
    units = 0
    for sku, demand in order.demand.items():
        take = min(demand, problem.stock.get((warehouse, sku), 0))
        if room is not None:
            take = min(take, room - units)
        units += take
    missing = order.units - units
    if units == 0:
        return problem.unit_penalty(order) * missing, 0
    handling = problem.warehouse[warehouse].handling_cost_per_unit * units
    return problem.shipment_cost(order, warehouse) + handling + problem.unit_penalty(order) * missing, units


def _explain(problem: RoutingProblem, order: Order, warehouses: tuple[str, ...], shipped: int, cost: float) -> str:
    """One line: why the order went where it went and what the next best choice costs."""
    options = {w: _standalone_cost(problem, order, w) for w in problem.reachable(order.zone)}
    options = {w: c for w, (c, units) in options.items() if units > 0}
    whole = [w for w in options if all(problem.stock.get((w, s), 0) >= d for s, d in order.demand.items())]
    reason = _reason(order, warehouses, shipped, options, whole)
    alternatives = {w: c for w, c in options.items() if (w,) != warehouses}
    if order.units == 0:
        return "nothing to ship"
    if not alternatives:
        return f"{reason}; no other warehouse can ship it"
    best = min(alternatives, key=lambda w: (alternatives[w], w))
    delta = alternatives[best] - cost
    if delta < -_EPS:
        return f"{reason}; {best} alone would save {-delta:.2f} but its stock or capacity went to other orders"
    return f"{reason}; next best {best} alone +{delta:.2f}"


def _reason(order: Order, warehouses: tuple[str, ...], shipped: int, options: dict, whole: list[str]) -> str:
    lines = len(order.demand)
    what = "the line" if lines == 1 else f"all {lines} lines"
    if shipped == 0:
        return "unfilled: no reachable warehouse has stock" if not options else "unfilled: its stock went to other orders"
    missing = order.units - shipped
    if missing:
        unit = "unit" if missing == 1 else "units"
        return f"{'+'.join(warehouses)}: what the stock and capacity left allow, {missing} {unit} unfilled"
    if len(warehouses) > 1:
        why = "no single warehouse has " + what + " in stock" if not whole else "splitting is cheaper than one shipment"
        return f"{'+'.join(warehouses)}: {why}"
    (w,) = warehouses
    if whole == [w]:
        return f"{w}: only warehouse with {what} in stock"
    return f"{w}: cheapest warehouse with {what} in stock"


# ---------------------------------------------------------------- optimiser

_FULL_MODEL_ARCS = 3_000  # up to this many (order, sku, warehouse) choices CP-SAT gets the whole model
_INTERIOR_POINT_ARCS = 20_000  # past this many, HiGHS's interior point beats GLOP's simplex on the LP
_BLOCK_ORDERS = 120  # CP-SAT closes blocks of this many fractional orders in seconds
_TIME_RESERVE_S = 0.2  # share of the time limit kept for reading, checking and explaining the plan
_MIN_BLOCK_S = 0.3  # below this CP-SAT's own start-up would overrun the time limit: greedy instead
_WORKERS = 8  # CP-SAT's full portfolio; measured: fewer workers fail to prove even 40-order optima


@dataclass
class _Structure:
    """The choices open to some orders given the stock and capacity left to them."""

    orders: list[Order]
    shipments: dict[tuple[int, str], float]  # (order index, warehouse) -> shipment cost
    arcs: list[tuple[int, str, str, int, float]]  # (order index, sku, warehouse, max units, cost per unit)
    stock: dict[tuple[str, str], int]
    capacity: dict[str, int | None]
    split_penalty: float
    max_shipments: int | None
    constant: float  # the unfilled penalty of shipping nothing; each shipped unit earns its share back


def _structure(problem: RoutingProblem, orders: list[Order], stock: Mapping, capacity: Mapping) -> _Structure:
    """The shipments and arcs open to `orders` with the given stock and capacity."""
    shipments, arcs = {}, []
    for i, order in enumerate(orders):
        for w in problem.reachable(order.zone):
            order_arcs = _arcs(problem, i, order, w, stock, capacity[w])
            if order_arcs:
                shipments[(i, w)] = problem.shipment_cost(order, w)
                arcs += order_arcs
    unfilled = sum(problem.unit_penalty(order) * order.units for order in orders)
    return _Structure(
        orders, shipments, arcs, dict(stock), dict(capacity), problem.split_penalty, problem.max_shipments_per_order,
        unfilled,
    )


def _arcs(problem: RoutingProblem, i: int, order: Order, w: str, stock: Mapping, room: int | None) -> list:
    """The SKUs of `order` that `w` could usefully ship, with their unit bounds and costs."""
    per_unit = problem.warehouse[w].handling_cost_per_unit - problem.unit_penalty(order)
    if per_unit >= 0:  # shipping a unit costs more than leaving it unfilled
        return []
    limit = math.inf if room is None else room
    bounded = [(i, s, w, int(min(d, stock.get((w, s), 0), limit)), per_unit) for s, d in order.demand.items()]
    return [arc for arc in bounded if arc[3] > 0]


class _LinearSink:
    """What the model writer needs from a solver: variables, at-most constraints, an objective."""

    def var(self, upper: int, boolean: bool) -> Any: ...

    def at_most(self, terms: list[tuple[int, Any]], rhs: int) -> None: ...

    def minimise(self, terms: list[tuple[float, Any]]) -> None: ...


def _write_model(structure: _Structure, sink: _LinearSink) -> tuple[dict, list]:
    """Variables y[order, warehouse] and x[arc], the hard constraints, and the plan cost."""
    y = {key: sink.var(1, True) for key in structure.shipments}
    x = [sink.var(ub, False) for (_, _, _, ub, _) in structure.arcs]
    for var, (i, _, w, ub, _) in zip(x, structure.arcs):
        sink.at_most([(1, var), (-ub, y[(i, w)])], 0)
    objective = [(cost, y[key]) for key, cost in structure.shipments.items()]
    objective += [(arc[4], var) for var, arc in zip(x, structure.arcs)]
    objective += _shipment_limits(structure, y, sink)
    _resource_limits(structure, x, sink)
    sink.minimise(objective)
    return y, x


def _shipment_limits(structure: _Structure, y: dict, sink: _LinearSink) -> list[tuple[float, Any]]:
    """Split penalty z >= shipments - 1 and the cap on shipments per order; returns z's cost."""
    per_order = defaultdict(list)
    for (i, _), var in y.items():
        per_order[i].append(var)
    split_terms = []
    limit = structure.max_shipments
    for shipments in per_order.values():
        if limit is not None and len(shipments) > limit:
            sink.at_most([(1, v) for v in shipments], limit)
        if structure.split_penalty > 0 and len(shipments) > 1:
            split = sink.var(min(len(shipments), limit or len(shipments)) - 1, False)
            sink.at_most([(1, v) for v in shipments] + [(-1, split)], 1)
            split_terms.append((structure.split_penalty, split))
    return split_terms


def _resource_limits(structure: _Structure, x: list, sink: _LinearSink) -> None:
    """Demand per (order, sku), stock per (warehouse, sku), capacity per warehouse, where they can bind."""
    per_line, per_stock, per_warehouse = defaultdict(list), defaultdict(list), defaultdict(list)
    for var, (i, s, w, ub, _) in zip(x, structure.arcs):
        per_line[(i, s)].append((ub, var))
        per_stock[(w, s)].append((ub, var))
        per_warehouse[w].append((ub, var))
    for (i, s), terms in per_line.items():
        demand = structure.orders[i].demand[s]
        if sum(ub for ub, _ in terms) > demand:
            sink.at_most([(1, var) for _, var in terms], demand)
    for key, terms in per_stock.items():
        if sum(ub for ub, _ in terms) > structure.stock[key]:
            sink.at_most([(1, var) for _, var in terms], structure.stock[key])
    for w, terms in per_warehouse.items():
        room = structure.capacity[w]
        if room is not None and sum(ub for ub, _ in terms) > room:
            sink.at_most([(1, var) for _, var in terms], room)


class _LpSink(_LinearSink):
    """The LP relaxation, for GLOP (small models) or HiGHS's interior point method (large ones)."""

    def __init__(self, large: bool):
        self.solver = pywraplp.Solver.CreateSolver("HIGHS_LP" if large else "GLOP")
        if large:
            self.solver.SetSolverSpecificParametersAsString("solver=ipm\noutput_flag=false")  # stdout is the answer's
        self.infinity = self.solver.infinity()

    def var(self, upper: int, boolean: bool) -> Any:
        return self.solver.NumVar(0.0, float(upper), "")

    def at_most(self, terms: list[tuple[int, Any]], rhs: int) -> None:
        constraint = self.solver.Constraint(-self.infinity, float(rhs))
        for coefficient, var in terms:
            constraint.SetCoefficient(var, float(coefficient))

    def minimise(self, terms: list[tuple[float, Any]]) -> None:
        objective = self.solver.Objective()
        for coefficient, var in terms:
            objective.SetCoefficient(var, objective.GetCoefficient(var) + coefficient)
        objective.SetMinimization()


@dataclass
class _Relaxation:
    objective: float
    y: dict[tuple[int, str], float]
    x: list[float]


def _solve_lp(structure: _Structure, seconds: float) -> _Relaxation | None:
    """The LP relaxation: a proven lower bound and a mostly integral plan."""
    sink = _LpSink(large=len(structure.arcs) > _INTERIOR_POINT_ARCS)
    y, x = _write_model(structure, sink)
    sink.solver.SetTimeLimit(max(1, int(seconds * 1000)))
    if sink.solver.Solve() != pywraplp.Solver.OPTIMAL:
        return None
    return _Relaxation(
        objective=sink.solver.Objective().Value() + structure.constant,
        y={key: var.solution_value() for key, var in y.items()},
        x=[var.solution_value() for var in x],
    )


class _CpSatSink(_LinearSink):
    """The integer model, for CP-SAT, with the cost scaled to integers."""

    def __init__(self, scale: int):
        self.model = cp_model.CpModel()
        self.scale = scale

    def var(self, upper: int, boolean: bool) -> Any:
        return self.model.NewBoolVar("") if boolean else self.model.NewIntVar(0, upper, "")

    def at_most(self, terms: list[tuple[int, Any]], rhs: int) -> None:
        self.model.Add(cp_model.LinearExpr.WeightedSum([v for _, v in terms], [c for c, _ in terms]) <= rhs)

    def minimise(self, terms: list[tuple[float, Any]]) -> None:
        coefficients = [round(c * self.scale) for c, _ in terms]
        self.model.Minimize(cp_model.LinearExpr.WeightedSum([v for _, v in terms], coefficients))


def _cost_scale(structure: _Structure) -> tuple[int, bool]:
    """The smallest power of ten making every cost an integer, and whether one exists up to 10**6."""
    costs = set(structure.shipments.values()) | {arc[4] for arc in structure.arcs} | {structure.split_penalty}
    for digits in range(7):
        scale = 10**digits
        if all(abs(c * scale - round(c * scale)) <= 1e-9 * max(1.0, abs(c * scale)) for c in costs):
            return scale, True
    return 10**6, False


@dataclass
class _IntegerPlan:
    allocations: list[Allocation]
    proven: bool  # optimal for this sub-model
    bound: float | None  # proven lower bound of this sub-model (None if costs had to be rounded)


def _solve_cp(
    structure: _Structure, seconds: float, on_solution: Callable[[float, float | None], None] | None, *, exact_stop: bool
) -> _IntegerPlan | None:
    """The integer model with CP-SAT; None when no plan was found in time."""
    scale, exact = _cost_scale(structure)
    sink = _CpSatSink(scale)
    y, x = _write_model(structure, sink)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(0.05, seconds)
    solver.parameters.num_workers = _WORKERS
    if not exact_stop:
        solver.parameters.relative_gap_limit = 1e-4
    callback = _SolutionReporter(structure, scale, exact, on_solution) if on_solution else None
    status = solver.Solve(sink.model, callback)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    bound = solver.BestObjectiveBound() / scale + structure.constant if exact else None
    allocations = _allocations(structure, [solver.Value(var) for var in x])
    return _IntegerPlan(allocations, exact and exact_stop and status == cp_model.OPTIMAL, bound)


class _SolutionReporter(cp_model.CpSolverSolutionCallback):
    """Passes each improving CP-SAT plan's cost and bound (in currency) on for progress reports."""

    def __init__(self, structure: _Structure, scale: int, exact: bool, on_solution):
        super().__init__()
        self.structure, self.scale, self.exact, self.on_solution = structure, scale, exact, on_solution

    def on_solution_callback(self) -> None:
        value = self.ObjectiveValue() / self.scale + self.structure.constant
        bound = self.BestObjectiveBound() / self.scale + self.structure.constant if self.exact else None
        self.on_solution(value, bound)


def _allocations(structure: _Structure, values: list[float], only: set[int] | None = None) -> list[Allocation]:
    """Whole-unit allocations from variable values, optionally of some orders only."""
    allocations = []
    for value, (i, sku, w, _, _) in zip(values, structure.arcs):
        qty = int(round(value))
        if qty > 0 and (only is None or i in only):
            allocations.append(Allocation(structure.orders[i].id, sku, w, qty))
    return allocations


@dataclass
class _Outcome:
    status: str
    allocations: list[Allocation]
    bound: float | None


class _Clock:
    """Time left before the answer is due, and the fraction used, for progress reports."""

    def __init__(self, limit: float, started: float):
        self.limit, self.started = limit, started
        self.deadline = started + limit * (1 - _TIME_RESERVE_S)

    def left(self) -> float:
        return max(0.0, self.deadline - time.monotonic())

    def fraction(self) -> float:
        return min(1.0, (time.monotonic() - self.started) / self.limit)


def _optimise(problem: RoutingProblem, clock: _Clock, progress: Progress | None) -> _Outcome:
    """LP bound first; then the whole integer model when small, else LP-fixed orders plus a MIP on the rest."""
    everything = _structure(problem, list(problem.orders), problem.stock, problem.capacity)
    relaxation = _solve_lp(everything, clock.left())
    bound = None if relaxation is None else relaxation.objective
    _report(progress, None, bound, clock.fraction())
    if relaxation is None or len(everything.arcs) <= _FULL_MODEL_ARCS:
        return _solve_whole(everything, bound, clock, progress)
    return _solve_rest_of_relaxation(problem, everything, relaxation, clock, progress)


def _solve_whole(structure: _Structure, bound: float | None, clock: _Clock, progress: Progress | None) -> _Outcome:
    def on_solution(value: float, cp_bound: float | None) -> None:
        _report(progress, value, _best_bound(bound, cp_bound), clock.fraction())

    plan = _solve_cp(structure, clock.left(), on_solution if progress else None, exact_stop=True)
    if plan is None:
        raise RuntimeError("CP-SAT found no plan in time")
    status = "optimal" if plan.proven else "feasible"
    return _Outcome(status, plan.allocations, _best_bound(bound, plan.bound))


def _best_bound(*bounds: float | None) -> float | None:
    known = [b for b in bounds if b is not None]
    return max(known) if known else None


def _solve_rest_of_relaxation(
    problem: RoutingProblem, everything: _Structure, relaxation: _Relaxation, clock: _Clock, progress: Progress | None
) -> _Outcome:
    """Keep the orders the LP already routes integrally; route the others with CP-SAT, block by block."""
    settled, open_orders = _integral_orders(everything, relaxation)
    allocations = _allocations(everything, relaxation.x, set(settled))
    left = _Resources(problem)
    for a in allocations:
        left.take(a.warehouse, a.sku, a.qty)
    blocks = _blocks(everything, open_orders)
    shares = _lp_shares(everything, relaxation, blocks, left)
    for done, (block, share) in enumerate(zip(blocks, shares)):
        seconds = clock.left() / (len(blocks) - done)
        orders = [everything.orders[i] for i in block]
        allocations += _route_block(problem, orders, share, left, seconds) if seconds > _MIN_BLOCK_S else _greedy(
            problem, orders, left
        )
        _report(progress, None, relaxation.objective, clock.fraction())
    allocations += _top_up(problem, allocations, left)
    return _Outcome("feasible", allocations, relaxation.objective)


def _blocks(structure: _Structure, orders: list[int]) -> list[list[int]]:
    """Orders grouped by shared SKUs (connected components), packed into blocks CP-SAT solves quickly."""
    parent: dict[Any, Any] = {}

    def root(node: Any) -> Any:
        while parent.setdefault(node, node) != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for i in orders:
        for sku in structure.orders[i].demand:
            parent[root(("order", i))] = root(("sku", sku))
    components = defaultdict(list)
    for i in orders:
        components[root(("order", i))].append(i)
    blocks: list[list[int]] = [[]]
    for component in sorted(components.values(), key=len, reverse=True):
        for start in range(0, len(component), _BLOCK_ORDERS):
            piece = component[start : start + _BLOCK_ORDERS]
            if len(blocks[-1]) + len(piece) > _BLOCK_ORDERS:
                blocks.append([])
            blocks[-1].extend(piece)
    return [block for block in blocks if block]


def _lp_shares(
    structure: _Structure, relaxation: _Relaxation, blocks: list[list[int]], left: _Resources
) -> list[tuple[dict, dict]]:
    """Per block, the stock and capacity its orders use in the LP (rounded up) plus what nobody uses."""
    block_of = {i: b for b, block in enumerate(blocks) for i in block}
    stock_use = [defaultdict(float) for _ in blocks]
    room_use = [defaultdict(float) for _ in blocks]
    total_stock, total_room = defaultdict(float), defaultdict(float)
    for value, (i, sku, w, _, _) in zip(relaxation.x, structure.arcs):
        if i in block_of and value > _EPS:
            stock_use[block_of[i]][(w, sku)] += value
            room_use[block_of[i]][w] += value
            total_stock[(w, sku)] += value
            total_room[w] += value
    spare_stock = {key: max(0.0, qty - total_stock[key]) for key, qty in left.stock.items()}
    spare_room = {w: None if room is None else max(0.0, room - total_room[w]) for w, room in left.capacity.items()}
    shares = []
    for b in range(len(blocks)):
        stock = {key: math.ceil(stock_use[b][key] + spare_stock[key] - _EPS) for key in left.stock}
        room = {w: None if r is None else math.ceil(room_use[b][w] + r - _EPS) for w, r in spare_room.items()}
        shares.append((stock, room))
    return shares


def _route_block(
    problem: RoutingProblem, orders: list[Order], share: tuple[dict, dict], left: _Resources, seconds: float
) -> list[Allocation]:
    """CP-SAT on one block within its LP share of what is left; greedy if it finds nothing in time."""
    stock = {key: min(qty, share[0].get(key, 0)) for key, qty in left.stock.items()}
    room = {w: _least(r, share[1][w]) for w, r in left.capacity.items()}
    structure = _structure(problem, orders, stock, room)
    plan = _solve_cp(structure, seconds, None, exact_stop=False) if structure.arcs else None
    allocations = plan.allocations if plan else _greedy(problem, orders, _Resources(problem, stock, room))
    for a in allocations:
        left.take(a.warehouse, a.sku, a.qty)
    return allocations


def _least(first: int | None, second: int | None) -> int | None:
    """The smaller of two capacities, None meaning unlimited."""
    known = [c for c in (first, second) if c is not None]
    return min(known) if known else None


def _top_up(problem: RoutingProblem, allocations: list[Allocation], left: _Resources) -> list[Allocation]:
    """Unfilled units that a warehouse already shipping the order still has in stock and capacity."""
    shipped, used = defaultdict(int), _warehouses_per_order(allocations)
    for a in allocations:
        shipped[(a.order, a.sku)] += a.qty
    extra = []
    for order_id, warehouses in used.items():
        order = problem.order[order_id]
        for sku, demand in order.demand.items():
            for w in warehouses:
                missing = demand - shipped[(order_id, sku)]
                qty = int(min(missing, left.stock.get((w, sku), 0), left.room(w)))
                if qty > 0 and problem.warehouse[w].handling_cost_per_unit < problem.unit_penalty(order):
                    left.take(w, sku, qty)
                    shipped[(order_id, sku)] += qty
                    extra.append(Allocation(order_id, sku, w, qty))
    return extra


def _integral_orders(structure: _Structure, relaxation: _Relaxation) -> tuple[list[int], list[int]]:
    """Orders whose LP values are all whole numbers, and the others."""
    fractional = set()
    for (i, _), value in relaxation.y.items():
        if abs(value - round(value)) > _EPS:
            fractional.add(i)
    for value, arc in zip(relaxation.x, structure.arcs):
        if abs(value - round(value)) > _EPS:
            fractional.add(arc[0])
    everyone = range(len(structure.orders))
    return [i for i in everyone if i not in fractional], sorted(fractional)


def _report(progress: Progress | None, objective: float | None, bound: float | None, fraction: float) -> None:
    if progress is not None:
        progress(objective, bound, fraction)


def solve(problem: RoutingProblem, *, time_limit_s: float | None = None, progress: Progress | None = None) -> RoutingResult:
    """Minimise the plan cost within the time limit; never returns an infeasible plan."""
    started = time.monotonic()
    clock = _Clock(problem.time_limit_s if time_limit_s is None else time_limit_s, started)
    greedy = _greedy(problem, problem.orders, _Resources(problem))
    try:
        outcome = _optimise(problem, clock, progress)
    except Exception:  # any solver failure still owes the caller a valid plan: the baseline's
        outcome = None
    if outcome is None or plan_violations(problem, outcome.allocations):
        outcome = _Outcome("fallback", greedy, None)
    elif evaluate(problem, greedy) < evaluate(problem, outcome.allocations) - _EPS:
        outcome = _Outcome("feasible", greedy, outcome.bound)
    result = _result(problem, outcome.status, outcome.allocations, outcome.bound, time.monotonic() - started)
    if result.status == "feasible" and _bound_meets_objective(result):
        result = replace(result, status="optimal")
    _report(progress, result.objective, result.bound, 1.0)
    return result


def _bound_meets_objective(result: RoutingResult) -> bool:
    return result.bound is not None and result.objective - result.bound <= _EPS * max(1.0, abs(result.objective))


# ---------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> int:
    """python -m solvers.routing INSTANCE.json [--baseline] [--time-limit S]"""
    return _cli.run(argv, prog="python -m solvers.routing", parse=parse_problem, solve=solve, baseline=baseline)


if __name__ == "__main__":
    sys.exit(main())

