"""Multi-warehouse order routing: which warehouse ships which units of which order.

The contract (instance, answer, cost) is section 1 of the solver spec. `priority` weights an
order's unfilled penalty, so a higher number means a more important order: scarce stock goes
to it first, in the optimiser (through the cost) and in the baseline (through the order).

Optional key added by Keel (docs/SOLVERS.md): an order's `max_shipments` (integer, at least 1)
caps the warehouses that may ship that order, in place of the instance's
`max_shipments_per_order`; the portal sends 1 for ship-complete channels.

Small instances go to CP-SAT whole, which proves its optimum. Large ones are solved over
per-order plans: column generation gives a proven Lagrangian bound and the candidate plans, a
MIP (HiGHS) picks one plan per order, and one-order moves polish the result.
"""
from __future__ import annotations

import ctypes
import itertools
import math
import os
import sys
import time
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any, Callable, Iterable, Mapping

import numpy as np
import scipy.sparse as sp
from ortools.linear_solver import pywraplp
from ortools.sat.python import cp_model
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

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
    max_shipments: int | None = None  # overrides the instance's max_shipments_per_order for this order

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

    def shipment_limit(self, order: Order) -> int | None:
        """At most this many warehouses may ship `order` (None: no limit)."""
        return self.max_shipments_per_order if order.max_shipments is None else order.max_shipments


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
                max_shipments=integer(
                    entry.get("max_shipments"), f"{where}.max_shipments", minimum=1, allow_none=True
                ),
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
    for order, warehouses in _warehouses_per_order(allocations).items():
        limit = problem.shipment_limit(problem.order[order])
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

    def __init__(self, problem: RoutingProblem):
        self.stock = dict(problem.stock)
        self.capacity = dict(problem.capacity)

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
    limit = problem.shipment_limit(order) or len(ranked)
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
# Kept back from the time limit: a share, plus a little per order. Checking and explaining the plan
# take 0.05 ms per order on a quiet machine; on a loaded one HiGHS overruns its own time limit
# (seen: 9 s over with 10,000 orders at load 12).
_TIME_RESERVE = 0.1
_TIME_RESERVE_PER_ORDER_S = 0.00025
_WORKERS = 8  # CP-SAT's full portfolio; measured: fewer workers fail to prove even 40-order optima


@dataclass
class _Outcome:
    status: str
    allocations: list[Allocation]
    bound: float | None


class _Clock:
    """Time left before the answer is due, and the fraction used, for progress reports."""

    def __init__(self, limit: float, started: float, orders: int = 0):
        self.limit, self.started = limit, started
        reserve = min(0.5 * limit, _TIME_RESERVE * limit + _TIME_RESERVE_PER_ORDER_S * orders)
        self.deadline = started + limit - reserve

    def left(self) -> float:
        return max(0.0, self.deadline - time.monotonic())

    def fraction(self) -> float:
        return min(1.0, (time.monotonic() - self.started) / self.limit)


def _optimise(problem: RoutingProblem, clock: _Clock, progress: Progress | None) -> _Outcome:
    """Small instances: CP-SAT on the whole model, to a proof. Large ones: plans, priced and chosen."""
    if not _whole_model_fits(problem):
        return _solve_by_plans(problem, clock, progress)
    everything = _structure(problem, list(problem.orders), problem.stock, problem.capacity)
    relaxation = _solve_lp(everything, clock.left())
    bound = None if relaxation is None else relaxation.objective
    _report(progress, None, bound, clock.fraction())
    return _solve_whole(everything, bound, clock, progress)


def _whole_model_fits(problem: RoutingProblem) -> bool:
    arcs = 0
    for i, order in enumerate(problem.orders):
        for w in problem.reachable(order.zone):
            arcs += len(_arcs(problem, i, order, w, problem.stock, problem.capacity[w]))
        if arcs > _FULL_MODEL_ARCS:
            return False
    return True


def _report(progress: Progress | None, objective: float | None, bound: float | None, fraction: float) -> None:
    if progress is not None:
        progress(objective, bound, fraction)


def _best_bound(*bounds: float | None) -> float | None:
    known = [b for b in bounds if b is not None]
    return max(known) if known else None


# ---------------------------------------------------------------- optimiser: the whole model (small instances)


@dataclass
class _Structure:
    """The choices open to some orders given the stock and capacity left to them."""

    orders: list[Order]
    shipments: dict[tuple[int, str], float]  # (order index, warehouse) -> shipment cost
    arcs: list[tuple[int, str, str, int, float]]  # (order index, sku, warehouse, max units, cost per unit)
    stock: dict[tuple[str, str], int]
    capacity: dict[str, int | None]
    split_penalty: float
    limits: list[int | None]  # per order index: most warehouses that may ship it
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
    limits = [problem.shipment_limit(order) for order in orders]
    return _Structure(orders, shipments, arcs, dict(stock), dict(capacity), problem.split_penalty, limits, unfilled)


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
    for i, shipments in per_order.items():
        limit = structure.limits[i]
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
    """The LP relaxation of the whole model, for GLOP."""

    def __init__(self):
        self.solver = pywraplp.Solver.CreateSolver("GLOP")
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
    """The LP relaxation of the whole model: a first lower bound while CP-SAT works."""
    sink = _LpSink()
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


def _allocations(structure: _Structure, values: list[float]) -> list[Allocation]:
    """Whole-unit allocations from the arc variables' values."""
    allocations = []
    for value, (i, sku, w, _, _) in zip(values, structure.arcs):
        qty = int(round(value))
        if qty > 0:
            allocations.append(Allocation(structure.orders[i].id, sku, w, qty))
    return allocations


def _solve_whole(structure: _Structure, bound: float | None, clock: _Clock, progress: Progress | None) -> _Outcome:
    def on_solution(value: float, cp_bound: float | None) -> None:
        _report(progress, value, _best_bound(bound, cp_bound), clock.fraction())

    plan = _solve_cp(structure, clock.left(), on_solution if progress else None, exact_stop=True)
    if plan is None:
        raise RuntimeError("CP-SAT found no plan in time")
    status = "optimal" if plan.proven else "feasible"
    return _Outcome(status, plan.allocations, _best_bound(bound, plan.bound))


# ---------------------------------------------------------------- optimiser: plans (large instances)
#
# Each order picks one plan: how many units of each of its SKUs each warehouse ships. Orders meet
# only in the stock rows (warehouse, sku) and the capacity rows (warehouse). Given prices on those
# rows, an order's cheapest plan is found exactly by trying every set of warehouses it can reach,
# each unit going to the cheapest priced warehouse of the set that holds it. At ANY prices that
# gives a proven lower bound (Lagrangian: the orders' cheapest priced plans, minus the prices times
# the rows' limits), and new columns for the LP over plans, whose duals are the next prices
# (column generation). The plan itself is a MIP over the generated plans, then one-order moves.

_PLAN_SET_WAREHOUSES = 10  # past this many reachable warehouses, plans use at most two and the bound relaxes
_EVERY_SET_LIMIT = 32  # asked for a plan per warehouse set, orders with more sets get them for sets of one or two
_PRICING_CELLS = 1_000_000  # lines x warehouse sets priced in one numpy pass (bounds the memory)
_LP_GAP = 2e-4  # column generation stops once its bound is this close to the LP value
_LP_SHARE = 0.5  # at most this share of the time left goes to column generation
_MIP_SLACK = 2.0  # the MIPs get plans within this many average shipment costs of an order's best priced plan
_MIP_GAP = 1e-4
_HESITANT_SLACK = 0.1  # a close second plan: within this many average shipment costs at the LP prices
_MIN_MIP_S = 0.5  # HiGHS needs about this long to read and presolve even a mid-sized MIP
_IMPROVE_ROUNDS = 20
_IMPROVE_SHARE = 0.1  # of the time left after column generation, kept for one-order moves


@dataclass(frozen=True)
class _Prices:
    """Prices per stock row (then a zero for "no row") and per warehouse's capacity."""

    stock: np.ndarray
    room: np.ndarray


@dataclass(frozen=True)
class _Group:
    """Orders reaching the same warehouses, priced together over the same warehouse sets."""

    orders: np.ndarray
    lines: np.ndarray  # their lines, order by order
    segments: np.ndarray  # where each order's lines start in `lines`
    sets: np.ndarray  # (sets, warehouses) membership; row 0 is the empty set
    fixed: np.ndarray  # (orders, sets) shipment, lateness and split cost; inf beyond an order's limit
    relaxed: bool  # not every set tried: the bound takes a relaxation for these orders


class _PlanSpace:
    """The orders' lines as arrays, so that every order's cheapest plan is priced in a few numpy passes."""

    def __init__(self, problem: RoutingProblem):
        self.problem = problem
        self.ids = [w.id for w in problem.warehouses]
        self.handling = np.array([w.handling_cost_per_unit for w in problem.warehouses], dtype=float)
        self.capacitated = np.array([k for k, w in enumerate(problem.warehouses) if w.capacity_units is not None], int)
        self.stock_keys = list(problem.stock)
        room = [problem.warehouses[k].capacity_units for k in self.capacitated]
        self.rhs = np.array([problem.stock[key] for key in self.stock_keys] + room, dtype=float)
        self._read_orders(problem)
        self._read_lines(problem)
        self.groups = self._group_orders()

    @cached_property
    def scale(self) -> float:
        """A typical shipment cost: how far from its best a plan may be and still be worth keeping."""
        reachable = self.shipment[np.isfinite(self.shipment)]
        return float(reachable.mean()) if reachable.size else 1.0

    @property
    def n_orders(self) -> int:
        return len(self.penalty)

    @property
    def n_stock_rows(self) -> int:
        return len(self.stock_keys)

    def _read_orders(self, problem: RoutingProblem) -> None:
        orders, width = problem.orders, len(self.ids)
        self.penalty = np.array([problem.unit_penalty(o) for o in orders], dtype=float)
        self.limit = np.array([min(width, problem.shipment_limit(o) or width) for o in orders], dtype=int)
        self.shipment = np.full((len(orders), width), np.inf)
        for i, order in enumerate(orders):
            for k, wid in enumerate(self.ids):
                if (wid, order.zone) in problem.lanes:
                    self.shipment[i, k] = problem.shipment_cost(order, wid)

    def _read_lines(self, problem: RoutingProblem) -> None:
        """One line per (order, sku): its demand, and per warehouse the units it may ship and its stock row."""
        row_of = {key: r for r, key in enumerate(self.stock_keys)}
        owner, skus, demand = [], [], []
        for i, order in enumerate(problem.orders):
            for sku, qty in order.demand.items():
                owner.append(i), skus.append(sku), demand.append(qty)
        self.owner, self.skus = np.array(owner, dtype=int), skus
        self.demand = np.array(demand, dtype=float)
        counts = np.bincount(self.owner, minlength=len(problem.orders))
        self.end = np.cumsum(counts)
        self.start = self.end - counts
        self.bound = np.zeros((len(owner), len(self.ids)))
        self.row = np.full((len(owner), len(self.ids)), self.n_stock_rows)  # the "no row" row, priced zero
        for line, (i, sku, qty) in enumerate(zip(owner, skus, demand)):
            for k, wid in enumerate(self.ids):
                room = problem.capacity[wid]
                units = min(qty, problem.stock.get((wid, sku), 0), math.inf if room is None else room)
                if units > 0 and np.isfinite(self.shipment[i, k]) and self.handling[k] < self.penalty[i]:
                    self.bound[line, k], self.row[line, k] = units, row_of[(wid, sku)]
        self.empty_cost = np.bincount(self.owner, self.demand * self.penalty[self.owner], minlength=len(problem.orders))

    def _group_orders(self) -> list[_Group]:
        """Orders with lines, grouped by the warehouses they reach."""
        members = defaultdict(list)
        for i in np.flatnonzero(self.end > self.start):
            members[tuple(np.flatnonzero(np.isfinite(self.shipment[i])))].append(i)
        return [self._group(np.array(orders), reach) for reach, orders in members.items()]

    def _group(self, orders: np.ndarray, reach: tuple[int, ...]) -> _Group:
        relaxed = len(reach) > _PLAN_SET_WAREHOUSES
        largest = 2 if relaxed else len(reach)
        chosen = [()] + [c for size in range(1, largest + 1) for c in itertools.combinations(reach, size)]
        sets = np.zeros((len(chosen), len(self.ids)), dtype=bool)
        for n, members in enumerate(chosen):
            sets[n, list(members)] = True
        sizes = sets.sum(1)
        fixed = np.zeros((len(orders), len(chosen)))
        shipment = self.shipment[orders]
        for n in range(1, len(chosen)):
            fixed[:, n] = shipment[:, sets[n]].sum(1) + self.problem.split_penalty * (sizes[n] - 1)
        fixed[sizes[None, :] > self.limit[orders][:, None]] = np.inf
        lines, segments = self._lines_of(orders)
        return _Group(orders, lines, segments, sets, fixed, relaxed)

    def _lines_of(self, orders: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The lines of `orders`, order by order, and where each order's lines start."""
        counts = self.end[orders] - self.start[orders]
        segments = np.cumsum(counts) - counts
        lines = np.arange(counts.sum()) - np.repeat(segments - self.start[orders], counts)
        return lines, segments

    # pricing

    def zero_prices(self) -> _Prices:
        return _Prices(np.zeros(self.n_stock_rows + 1), np.zeros(len(self.ids)))

    def prices_from(self, duals: np.ndarray) -> _Prices:
        """Prices from the LP's row duals (sign flipped, clipped at zero: any such prices give a valid bound)."""
        stock = np.append(np.maximum(0.0, -duals[: self.n_stock_rows]), 0.0)
        room = np.zeros(len(self.ids))
        room[self.capacitated] = np.maximum(0.0, -duals[self.n_stock_rows :])
        return _Prices(stock, room)

    def unit_costs(self, prices: _Prices, bound: np.ndarray) -> np.ndarray:
        """Per line and warehouse: handling plus prices per unit; inf where a unit may not or should not go."""
        room = np.zeros(len(self.ids))
        room[self.capacitated] = prices.room[self.capacitated]  # unlimited warehouses have no capacity to price
        unit = self.handling[None, :] + room[None, :] + prices.stock[self.row]
        usable = (bound > 0) & (unit < self.penalty[self.owner][:, None])
        return np.where(usable, unit, np.inf)

    def _line_costs(self, unit: np.ndarray, bound: np.ndarray, lines: np.ndarray, sets: np.ndarray) -> np.ndarray:
        """(lines, sets): each line filled from the cheapest warehouses of each set, the rest unfilled."""
        unit, bound = unit[lines], bound[lines]
        rank = np.argsort(unit, axis=1, kind="stable")
        every = np.arange(len(lines))
        left = np.repeat(self.demand[lines][:, None], len(sets), axis=1)
        costs = np.zeros(left.shape)
        for position in range(unit.shape[1]):
            w = rank[:, position]
            price = unit[every, w]
            usable = np.isfinite(price)
            if not usable.any():
                break
            take = np.where(sets[:, w].T & usable[:, None], np.minimum(left, bound[every, w][:, None]), 0.0)
            costs += take * np.where(usable, price, 0.0)[:, None]
            left -= take
        return costs + left * self.penalty[self.owner[lines]][:, None]

    def price(self, prices: _Prices, bound: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Every order's cheapest priced plan: its priced cost (a lower bound's term) and its warehouse set."""
        bound = self.bound if bound is None else bound
        unit = self.unit_costs(prices, bound)
        values = self.empty_cost.copy()
        best = np.zeros((self.n_orders, len(self.ids)), dtype=bool)
        for group in self.groups:
            for orders, lines, segments, fixed in self._chunks(group):
                totals = fixed + np.add.reduceat(self._line_costs(unit, bound, lines, group.sets), segments, axis=0)
                choice = totals.argmin(1)
                values[orders] = totals[np.arange(len(orders)), choice]
                best[orders] = group.sets[choice]
                if group.relaxed:
                    values[orders] = np.minimum(values[orders], self._relaxed(unit, bound, orders, lines, segments))
        return values, best

    def _chunks(self, group: _Group):
        """The group's orders in slices small enough to price in one pass."""
        lines_per_pass = max(1, _PRICING_CELLS // len(group.sets))
        ends = np.append(group.segments[1:], len(group.lines))
        first = 0
        while first < len(group.orders):
            low = group.segments[first]
            last = max(first + 1, int(np.searchsorted(ends, low + lines_per_pass, side="right")))
            lines = group.lines[low : ends[last - 1]]
            yield group.orders[first:last], lines, group.segments[first:last] - low, group.fixed[first:last]
            first = last

    def _relaxed(self, unit, bound, orders, lines, segments) -> np.ndarray:
        """A lower bound on any non-empty plan: cheapest single shipment, each unit from any reachable warehouse."""
        everywhere = np.isfinite(self.shipment[orders[0]])[None, :]
        lines_cost = np.add.reduceat(self._line_costs(unit, bound, lines, everywhere), segments, axis=0)[:, 0]
        return self.shipment[orders].min(1) + lines_cost

    def lagrangian(self, prices: _Prices) -> tuple[float, np.ndarray, np.ndarray]:
        """The proven lower bound at these prices, with every order's priced value and cheapest warehouse set."""
        values, best = self.price(prices)
        rows = self.n_stock_rows
        bound = values.sum() - prices.stock[:rows] @ self.rhs[:rows] - prices.room[self.capacitated] @ self.rhs[rows:]
        return float(bound), values, best

    # plans

    def plans(self, prices: _Prices, orders: np.ndarray, sets: np.ndarray, bound: np.ndarray | None = None):
        """Each order's cheapest priced plan within its warehouse set: its lines, and their units per warehouse."""
        bound = self.bound if bound is None else bound
        lines, _ = self._lines_of(orders)
        member = sets[np.repeat(np.arange(len(orders)), self.end[orders] - self.start[orders])]
        unit, line_bound = self.unit_costs(prices, bound)[lines], bound[lines]
        rank = np.argsort(unit, axis=1, kind="stable")
        every = np.arange(len(lines))
        left, units = self.demand[lines].copy(), np.zeros(unit.shape)
        for position in range(unit.shape[1]):
            w = rank[:, position]
            usable = np.isfinite(unit[every, w]) & member[every, w]
            take = np.where(usable, np.minimum(left, line_bound[every, w]), 0.0)
            units[every, w] = take
            left -= take
        return lines, units

    def plan_costs(self, orders: np.ndarray, lines: np.ndarray, units: np.ndarray) -> np.ndarray:
        """The true cost of each order's plan (lines of `orders`, order by order)."""
        which = np.repeat(np.arange(len(orders)), self.end[orders] - self.start[orders])
        per_warehouse = np.zeros((len(orders), len(self.ids)))
        np.add.at(per_warehouse, which, units)
        used = per_warehouse > 0
        shipments = np.where(used, self.shipment[orders], 0.0).sum(1)
        split = self.problem.split_penalty * np.maximum(0, used.sum(1) - 1)
        missing = (self.demand[lines] - units.sum(1)) * self.penalty[self.owner[lines]]
        return shipments + split + per_warehouse @ self.handling + np.bincount(which, missing, minlength=len(orders))

    def total_cost(self, units: np.ndarray) -> float:
        """The cost of a plan given as units per (line, warehouse) for every line."""
        return float(self.plan_costs(np.arange(self.n_orders), np.arange(len(self.owner)), units).sum())

    def usage(self, units: np.ndarray) -> np.ndarray:
        """Units per row (stock rows, then capacity rows) of a plan for every line."""
        stock = np.bincount(self.row.ravel(), units.ravel(), minlength=self.n_stock_rows + 1)[: self.n_stock_rows]
        return np.concatenate([stock, units.sum(0)[self.capacitated]])

    def allocations(self, units: np.ndarray) -> list[Allocation]:
        orders = self.problem.orders
        return [
            Allocation(orders[self.owner[line]].id, self.skus[line], self.ids[k], int(units[line, k]))
            for line, k in zip(*np.nonzero(units))
        ]


class _Columns:
    """The plans generated so far (an empty plan per order first): order, true cost, units per (line, warehouse)."""

    def __init__(self, space: _PlanSpace):
        self.space = space
        self.order: list[int] = list(range(space.n_orders))
        self.cost: list[float] = [float(c) for c in space.empty_cost]
        nothing = np.zeros(0, dtype=int)
        self.lines: list[np.ndarray] = [nothing] * space.n_orders
        self.warehouses: list[np.ndarray] = [nothing] * space.n_orders
        self.units: list[np.ndarray] = [np.zeros(0)] * space.n_orders
        self._seen: set[tuple[int, bytes]] = set()

    def __len__(self) -> int:
        return len(self.order)

    def add(self, prices: _Prices, orders: np.ndarray, sets: np.ndarray, bound: np.ndarray | None = None) -> int:
        """Each order's cheapest priced plan within its set, where new and not empty; returns how many were added."""
        lines, units = self.space.plans(prices, orders, sets, bound)
        costs = self.space.plan_costs(orders, lines, units)
        ends = np.cumsum(self.space.end[orders] - self.space.start[orders])
        added = 0
        for n, i in enumerate(orders.tolist()):
            block = units[ends[n] - (self.space.end[i] - self.space.start[i]) : ends[n]]
            key = (i, block.tobytes())
            if key in self._seen or not block.any():
                continue
            self._seen.add(key)
            at, warehouse = np.nonzero(block)
            self.order.append(i)
            self.cost.append(float(costs[n]))
            self.lines.append(self.space.start[i] + at)
            self.warehouses.append(warehouse)
            self.units.append(block[at, warehouse])
            added += 1
        return added

    def add_every_set(self, prices: _Prices, orders: np.ndarray | None = None, bound: np.ndarray | None = None) -> int:
        """For each order (of `orders`, default all), its cheapest priced plan from each warehouse set it may use."""
        added = 0
        for group in self.space.groups:
            sizes = group.sets.sum(1)
            seeded = (sizes > 0) & ((sizes <= 2) | (len(group.sets) <= _EVERY_SET_LIMIT))
            members = group.orders if orders is None else group.orders[np.isin(group.orders, orders)]
            for n in np.flatnonzero(seeded):
                chosen = members[sizes[n] <= self.space.limit[members]]
                if len(chosen):
                    added += self.add(prices, chosen, np.repeat(group.sets[n][None, :], len(chosen), axis=0), bound)
        return added

    def priced_costs(self, prices: _Prices) -> np.ndarray:
        """Every column's cost plus the prices of the stock and capacity it uses."""
        resources, _ = self.matrices(np.arange(len(self.order)))
        duals = np.concatenate([prices.stock[: self.space.n_stock_rows], prices.room[self.space.capacitated]])
        return np.array(self.cost) + resources.T @ duals

    def matrices(self, keep: np.ndarray | None = None):
        """The rows' matrix (stock rows, then capacity rows) and the one-plan-per-order matrix, of the kept columns."""
        keep = np.arange(len(self.order)) if keep is None else keep
        space = self.space
        sizes = np.array([len(self.units[j]) for j in keep], dtype=int)
        column = np.repeat(np.arange(len(keep)), sizes)
        lines = np.concatenate([self.lines[j] for j in keep]).astype(int)
        warehouses = np.concatenate([self.warehouses[j] for j in keep]).astype(int)
        units = np.concatenate([self.units[j] for j in keep])
        capacity_row = np.full(len(space.ids), -1)
        capacity_row[space.capacitated] = space.n_stock_rows + np.arange(len(space.capacitated))
        limited = capacity_row[warehouses] >= 0
        rows = np.concatenate([space.row[lines, warehouses], capacity_row[warehouses][limited]])
        values = np.concatenate([units, units[limited]])
        columns = np.concatenate([column, column[limited]])
        resources = sp.csr_matrix((values, (rows, columns)), shape=(len(space.rhs), len(keep)))
        orders = np.array(self.order)[keep]
        one_each = sp.csr_matrix(
            (np.ones(len(keep)), (orders, np.arange(len(keep)))), shape=(space.n_orders, len(keep))
        )
        return resources, one_each

    def units_of(self, chosen: Iterable[int]) -> np.ndarray:
        """Units per (line, warehouse) of a plan made of the chosen columns."""
        units = np.zeros(self.space.bound.shape)
        for j in chosen:
            units[self.lines[j], self.warehouses[j]] = self.units[j]
        return units


@dataclass
class _MasterSolution:
    """The LP over the plans generated so far: value, plan weights, row prices, order duals."""

    value: float
    x: np.ndarray
    prices: _Prices
    order_duals: np.ndarray


def _solve_master(space: _PlanSpace, columns: _Columns, seconds: float) -> _MasterSolution | None:
    """The LP: a convex mix of plans per order within stock and capacity, cheapest (HiGHS dual simplex)."""
    resources, one_each = columns.matrices()
    rows = space.rhs.size > 0
    answer = linprog(
        np.array(columns.cost),
        A_ub=resources if rows else None,
        b_ub=space.rhs if rows else None,
        A_eq=one_each,
        b_eq=np.ones(space.n_orders),
        bounds=(0, None),
        method="highs-ds",
        options={"time_limit": max(0.1, seconds)},
    )
    if answer.status != 0:
        return None
    duals = answer.ineqlin.marginals if rows else np.zeros(0)
    return _MasterSolution(answer.fun, answer.x, space.prices_from(duals), answer.eqlin.marginals)


@dataclass
class _PlanRelaxation:
    bound: float  # proven lower bound on the optimal cost
    solution: _MasterSolution | None  # the last LP solved, None if none was


def _generate_plans(space: _PlanSpace, columns: _Columns, until: float, report: Callable) -> _PlanRelaxation:
    """Column generation: LP over plans, prices from its duals, each order's cheapest priced plan, again."""
    zero = space.zero_prices()
    bound, _, best = space.lagrangian(zero)
    columns.add(zero, np.arange(space.n_orders), best)
    report(bound)
    solution = None
    while time.monotonic() < until:
        master = _solve_master(space, columns, until - time.monotonic())
        if master is None:
            break
        solution = master
        priced, values, best = space.lagrangian(master.prices)
        bound = max(bound, priced)
        report(bound)
        if master.value - bound <= _LP_GAP * max(1.0, abs(master.value)):
            break
        improving = np.flatnonzero(values < master.order_duals - _EPS)
        if not columns.add(master.prices, improving, best[improving]):
            break
    return _PlanRelaxation(bound, solution)


def _solve_by_plans(problem: RoutingProblem, clock: _Clock, progress: Progress | None) -> _Outcome:
    """Bound and columns by column generation, a MIP over the plans, then one-order moves."""
    space = _PlanSpace(problem)
    columns = _Columns(space)
    until = time.monotonic() + clock.left() * _LP_SHARE
    relaxation = _generate_plans(space, columns, until, lambda bound: _report(progress, None, bound, clock.fraction()))

    def report(objective: float) -> None:
        _report(progress, objective, relaxation.bound, clock.fraction())

    units = _integer_plan(space, columns, relaxation, clock, report)
    return _Outcome("feasible", space.allocations(units), relaxation.bound)


def _integer_plan(
    space: _PlanSpace, columns: _Columns, relaxation: _PlanRelaxation, clock: _Clock, report: Callable[[float], None]
) -> np.ndarray:
    """The cheapest of several plans, quickest first, each polished by one-order moves.

    First the orders the LP routes whole keep that plan and the others move in one by one. Then
    MIPs over growing sets of free orders, the others keeping their LP plan: the orders the LP
    splits; those plus every order with a close second plan; every order.
    """
    solution = relaxation.solution
    if solution is None:
        return _improve(space, np.zeros(space.bound.shape), clock.deadline)
    order = np.array(columns.order)
    whole = np.flatnonzero(solution.x > 1 - 1e-6)
    split = np.setdiff1d(np.arange(space.n_orders), order[whole])
    rest = space.rhs - space.usage(columns.units_of(whole))
    for prices in (solution.prices, space.zero_prices()):
        columns.add_every_set(prices, split, _bounds_within(space, rest))
    plan = _Incumbent(space, columns, _improve(space, columns.units_of(whole), clock.deadline), report)
    every_split_plan = np.isin(np.array(columns.order), split)
    plan.offer(_solve_with_free_orders(space, columns, whole, split, every_split_plan, _stage_seconds(clock, 0.5)), clock)
    columns.add_every_set(solution.prices)
    distance = _distance_from_best(space, columns, solution.prices)
    worth = (distance <= _MIP_SLACK * space.scale) | np.isin(np.array(columns.order), split)
    worth[: space.n_orders] = True  # the empty plans keep every MIP feasible
    hesitant = np.union1d(split, _orders_with_close_second(space, columns, distance))
    plan.offer(_solve_with_free_orders(space, columns, whole, hesitant, worth, _stage_seconds(clock, 0.5)), clock)
    every = np.arange(space.n_orders)
    plan.offer(_solve_with_free_orders(space, columns, whole, every, worth, _stage_seconds(clock, 1.0)), clock)
    return plan.units


def _stage_seconds(clock: _Clock, share: float) -> float:
    """At most this share of the time left, less what the one-order moves after it need."""
    return clock.left() * (1 - _IMPROVE_SHARE) * share


class _Incumbent:
    """The cheapest plan so far, reported whenever it improves."""

    def __init__(self, space: _PlanSpace, columns: _Columns, units: np.ndarray, report: Callable[[float], None]):
        self.space, self.columns, self.units, self.report = space, columns, units, report
        self.cost = space.total_cost(units)
        report(self.cost)

    def offer(self, chosen: np.ndarray | None, clock: _Clock) -> None:
        """Columns chosen by a MIP (None: it found nothing), polished by one-order moves, kept if cheaper."""
        if chosen is None:
            return
        units = _improve(self.space, self.columns.units_of(chosen), clock.deadline)
        cost = self.space.total_cost(units)
        if cost < self.cost - _EPS:
            self.units, self.cost = units, cost
            self.report(cost)


def _solve_with_free_orders(
    space: _PlanSpace, columns: _Columns, whole: np.ndarray, free: np.ndarray, worth: np.ndarray, seconds: float
) -> np.ndarray | None:
    """The MIP over the worthwhile plans of the free orders, the others keeping the plan the LP gives them whole."""
    order = np.array(columns.order)
    kept = whole[~np.isin(order[whole], free)]
    rhs = space.rhs - space.usage(columns.units_of(kept))
    chosen = _solve_plan_mip(space, columns, np.flatnonzero(worth & np.isin(order, free)), seconds, rhs, free)
    return None if chosen is None else np.concatenate([kept, chosen])


def _distance_from_best(space: _PlanSpace, columns: _Columns, prices: _Prices) -> np.ndarray:
    """Per column: how much more its plan costs at these prices than its order's cheapest priced plan."""
    priced = columns.priced_costs(prices)
    order = np.array(columns.order)
    cheapest = np.full(space.n_orders, np.inf)
    np.minimum.at(cheapest, order, priced)
    return priced - cheapest[order]


def _orders_with_close_second(space: _PlanSpace, columns: _Columns, distance: np.ndarray) -> np.ndarray:
    """Orders with at least two plans (not the empty one) close to their cheapest priced plan."""
    close = distance <= _HESITANT_SLACK * space.scale
    close[: space.n_orders] = False
    return np.flatnonzero(np.bincount(np.array(columns.order)[close], minlength=space.n_orders) >= 2)


def _bounds_within(space: _PlanSpace, rest: np.ndarray) -> np.ndarray:
    """Per line and warehouse, the units a plan may ship from `rest` (per stock row, then capacity row)."""
    stock_left = np.append(rest[: space.n_stock_rows], 0.0)
    room_left = np.full(len(space.ids), np.inf)
    room_left[space.capacitated] = rest[space.n_stock_rows :]
    return np.minimum(space.bound, np.minimum(stock_left[space.row], room_left[None, :]))


def _solve_plan_mip(
    space: _PlanSpace,
    columns: _Columns,
    keep: np.ndarray,
    seconds: float,
    rhs: np.ndarray | None = None,
    orders: np.ndarray | None = None,
) -> np.ndarray | None:
    """One kept plan per order (of `orders`, default all) within `rhs` (default all stock and capacity),
    cheapest in total, by HiGHS; None if it found none in time."""
    if seconds < _MIN_MIP_S or not len(keep):
        return None
    resources, one_each = columns.matrices(keep)
    if orders is not None:
        one_each = one_each[orders]
    constraints = [LinearConstraint(one_each, 1, 1)]
    if space.rhs.size:
        constraints.append(LinearConstraint(resources, -np.inf, space.rhs if rhs is None else np.maximum(rhs, 0.0)))
    answer = milp(
        np.array(columns.cost)[keep],
        integrality=np.ones(len(keep)),
        bounds=Bounds(0, 1),
        constraints=constraints,
        options={"time_limit": seconds, "mip_rel_gap": _MIP_GAP, "disp": False},
    )
    if answer.x is None:
        return None
    return keep[answer.x > 0.5]


def _improve(space: _PlanSpace, units: np.ndarray, deadline: float) -> np.ndarray:
    """One-order moves: each order to its cheapest plan within what the others leave, while that lowers the cost."""
    every, all_lines, zero = np.arange(space.n_orders), np.arange(len(space.owner)), space.zero_prices()
    units = units.copy()
    for _ in range(_IMPROVE_ROUNDS):
        if time.monotonic() >= deadline:
            break
        rest = space.rhs - space.usage(units)
        left = _left_around(space, units, rest)
        values, best = space.price(zero, left)
        current = space.plan_costs(every, all_lines, units)
        candidates = np.flatnonzero(values < current - 1e-6)
        lines, moved = space.plans(zero, candidates, best[candidates], left)
        gain = current[candidates] - space.plan_costs(candidates, lines, moved)
        if not _apply_moves(space, units, rest, candidates, moved, gain):
            break
    return units


def _left_around(space: _PlanSpace, units: np.ndarray, rest: np.ndarray) -> np.ndarray:
    """Per line and warehouse, the units its order could ship: what is left plus what the order ships itself."""
    stock_left = np.append(rest[: space.n_stock_rows], 0.0)
    own_room = np.zeros((space.n_orders, len(space.ids)))
    np.add.at(own_room, space.owner, units)
    room_left = np.full(len(space.ids), np.inf)
    room_left[space.capacitated] = rest[space.n_stock_rows :]
    room = room_left[None, :] + own_room[space.owner]
    return np.minimum(space.bound, np.minimum(stock_left[space.row] + units, room))


def _apply_moves(space: _PlanSpace, units, rest, orders: np.ndarray, moved: np.ndarray, gain: np.ndarray) -> int:
    """Moves that lower the cost, best first, each only if it still fits what is left; returns how many were made."""
    made = 0
    counts = space.end[orders] - space.start[orders]
    firsts = np.cumsum(counts) - counts
    stock_rows = space.n_stock_rows
    for n in np.argsort(-gain):
        if gain[n] <= 1e-6:
            break
        i = orders[n]
        span = slice(space.start[i], space.end[i])
        change = moved[firsts[n] : firsts[n] + counts[n]] - units[span]
        changed = change != 0
        rows, needed = space.row[span][changed], change[changed]
        room = change.sum(0)[space.capacitated]
        if np.all(needed <= rest[rows] + 1e-9) and np.all(room <= rest[stock_rows:] + 1e-9):
            units[span] += change
            rest[rows] -= needed
            rest[stock_rows:] -= room
            made += 1
    return made


# ---------------------------------------------------------------- solve


def solve(problem: RoutingProblem, *, time_limit_s: float | None = None, progress: Progress | None = None) -> RoutingResult:
    """Minimise the plan cost within the time limit; never returns an infeasible plan."""
    started = time.monotonic()
    clock = _Clock(problem.time_limit_s if time_limit_s is None else time_limit_s, started, len(problem.orders))
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
    return _cli.run(argv, prog="python -m solvers.routing", parse=parse_problem, solve=_quiet_solve, baseline=baseline)


def _quiet_solve(problem: RoutingProblem, **kwargs: Any) -> RoutingResult:
    with _stdout_to_stderr():
        return solve(problem, **kwargs)


@contextmanager
def _stdout_to_stderr():
    """HiGHS prints some messages to the process's stdout, which on the command line carries only the answer."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        ctypes.CDLL(None).fflush(None)
        os.dup2(saved, 1)
        os.close(saved)


if __name__ == "__main__":
    sys.exit(main())

