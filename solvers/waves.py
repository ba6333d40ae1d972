"""Wave and labour planning: which released orders are picked in which wave, by how many pickers.

Two modes. `max_on_time` takes the pickers per wave as given and minimises the
priority-weighted number of orders that are late or not planned. `min_labour` chooses the
pickers per wave (0..max_pickers) at the least total cost such that as many orders are on
time as could be with `max_pickers` in every wave; its `objective` is that labour cost
(`picker_cost_per_wave` times the pickers summed over the waves).

Orders that agree on work, first allowed wave, last on-time wave and priority are
interchangeable, so the CP-SAT model counts orders per such class and wave instead of
deciding each order: two thousand orders make a few hundred classes. Ties on the objective
go to fewer missed orders (late or unplanned, unweighted), then to planning late orders
rather than leaving them out, then to earlier waves.
"""
from __future__ import annotations

import math
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Mapping

from solvers import _cli
from solvers._instance import InstanceError, clock, format_clock, integer, items, number, require, text

MAX_ON_TIME, MIN_LABOUR = "max_on_time", "min_labour"
DEFAULT_TIME_LIMIT_S = 10.0
WORK_SCALE = 1000  # the model counts work in thousandths of a minute
PRIORITY_SCALE = 1000  # for non-integer priorities
SLACK = 1e-6
CP_SAT_WORKERS = 8  # the full portfolio; with fewer it rarely closes the gap on a day of orders


@dataclass(frozen=True)
class Order:
    """An order to pick: its lines, cut-off and release as minutes after midnight, priority."""

    id: str
    lines: int
    cutoff: int
    release: int
    priority: float = 1


@dataclass(frozen=True)
class Problem:
    """A day of waves and the released orders to place in them."""

    start: int
    wave_minutes: float
    waves: int
    pickers: tuple[int, ...]
    max_orders_per_wave: int | None
    minutes_per_order: float
    minutes_per_line: float
    pack_minutes: float
    orders: tuple[Order, ...]
    mode: str = MAX_ON_TIME
    picker_cost_per_wave: float = 0.0
    max_pickers: int = 0
    time_limit_s: float = DEFAULT_TIME_LIMIT_S

    def wave_start(self, wave: int) -> float:
        return self.start + wave * self.wave_minutes

    def wave_end(self, wave: int) -> float:
        return self.start + (wave + 1) * self.wave_minutes

    def work(self, order: Order) -> float:
        return self.minutes_per_order + self.minutes_per_line * order.lines

    def may_start(self, order: Order, wave: int) -> bool:
        return self.wave_start(wave) >= order.release

    def on_time(self, order: Order, wave: int) -> bool:
        return self.wave_end(wave) + self.pack_minutes <= order.cutoff

    def capacity(self, pickers: int) -> float:
        return pickers * self.wave_minutes


@dataclass(frozen=True)
class WavePlan:
    """One wave of the answer."""

    index: int
    start: str
    end: str
    pickers: int
    orders: tuple[str, ...]
    work_minutes: float

    def to_json(self) -> dict:
        return {
            "index": self.index,
            "start": self.start,
            "end": self.end,
            "pickers": self.pickers,
            "orders": list(self.orders),
            "work_minutes": round(self.work_minutes, 6),
        }


@dataclass(frozen=True)
class Result:
    """A wave plan with the mode's objective, the late and the unplanned orders."""

    status: str
    objective: float
    waves: tuple[WavePlan, ...]
    late: tuple[str, ...]
    unplanned: tuple[str, ...]

    @property
    def assignment(self) -> dict[str, int]:
        return {order: wave.index for wave in self.waves for order in wave.orders}

    @property
    def pickers(self) -> tuple[int, ...]:
        return tuple(wave.pickers for wave in self.waves)

    def to_json(self) -> dict:
        return {
            "status": self.status,
            "objective": self.objective,
            "waves": [wave.to_json() for wave in self.waves],
            "late": list(self.late),
            "unplanned": list(self.unplanned),
        }


@dataclass(frozen=True)
class Evaluation:
    """What a plan achieves: late and unplanned orders, their weight, labour cost, objective."""

    late: tuple[str, ...]
    unplanned: tuple[str, ...]
    missed_weight: float
    labour_cost: float
    objective: float
    wave_rank: int

    def rank(self, mode: str) -> tuple:
        """Lower is better: the mode's objective first, then the tie-breaks."""
        missed = len(self.late) + len(self.unplanned)
        if mode == MIN_LABOUR:
            return (self.missed_weight, self.labour_cost, missed, self.wave_rank)
        return (self.missed_weight, missed, self.wave_rank)


# ---------------------------------------------------------------- reading an instance


def parse_problem(raw: object) -> Problem:
    """Turn a JSON instance into a Problem; raises InstanceError naming the bad field."""
    if not isinstance(raw, dict):
        raise InstanceError("instance", "must be an object")
    mode = require(raw, "mode", "")
    if mode not in (MAX_ON_TIME, MIN_LABOUR):
        raise InstanceError("mode", f"must be {MAX_ON_TIME!r} or {MIN_LABOUR!r}")
    waves = integer(require(raw, "waves", ""), "waves", minimum=1)
    wave_minutes = number(require(raw, "wave_minutes", ""), "wave_minutes")
    if wave_minutes <= 0:
        raise InstanceError("wave_minutes", "must be positive")
    return Problem(
        start=clock(require(raw, "start", ""), "start"),
        wave_minutes=wave_minutes,
        waves=waves,
        pickers=_parse_pickers(raw, waves) if mode == MAX_ON_TIME else (),
        max_orders_per_wave=integer(require(raw, "max_orders_per_wave", ""), "max_orders_per_wave", allow_none=True),
        minutes_per_order=number(require(raw, "minutes_per_order", ""), "minutes_per_order"),
        minutes_per_line=number(require(raw, "minutes_per_line", ""), "minutes_per_line"),
        pack_minutes=number(require(raw, "pack_minutes", ""), "pack_minutes"),
        orders=_parse_orders(require(raw, "orders", "")),
        mode=mode,
        **_parse_labour(raw, mode),
        time_limit_s=_parse_time_limit(raw),
    )


def _parse_pickers(raw: dict, waves: int) -> tuple[int, ...]:
    pickers = items(require(raw, "pickers", ""), "pickers")
    if len(pickers) != waves:
        raise InstanceError("pickers", f"must give one number per wave ({waves}), not {len(pickers)}")
    return tuple(integer(count, f"pickers[{k}]") for k, count in enumerate(pickers))


def _parse_labour(raw: dict, mode: str) -> dict:
    if mode != MIN_LABOUR:
        return {}
    return {
        "picker_cost_per_wave": number(require(raw, "picker_cost_per_wave", ""), "picker_cost_per_wave"),
        "max_pickers": integer(require(raw, "max_pickers", ""), "max_pickers"),
    }


def _parse_time_limit(raw: dict) -> float:
    limit = number(raw.get("time_limit_s", DEFAULT_TIME_LIMIT_S), "time_limit_s")
    if limit <= 0:
        raise InstanceError("time_limit_s", "must be positive")
    return float(limit)


def _parse_orders(raw: object) -> tuple[Order, ...]:
    """Orders; `release` defaults to midnight (released) and `priority` to 1."""
    orders, seen = [], set()
    for i, entry in enumerate(items(raw, "orders")):
        where = f"orders[{i}]"
        order_id = text(require(entry, "id", where), f"{where}.id")
        if order_id in seen:
            raise InstanceError(f"{where}.id", f"duplicate id {order_id}")
        seen.add(order_id)
        orders.append(
            Order(
                id=order_id,
                lines=integer(require(entry, "lines", where), f"{where}.lines"),
                cutoff=clock(require(entry, "cutoff", where), f"{where}.cutoff"),
                release=clock(entry.get("release", "00:00"), f"{where}.release"),
                priority=number(entry.get("priority", 1), f"{where}.priority"),
            )
        )
    return tuple(orders)


# ---------------------------------------------------------------- judging a plan


def evaluate(problem: Problem, assignment: Mapping[str, int], pickers: tuple[int, ...] | None = None) -> Evaluation:
    """Late and unplanned orders and the mode's objective of a plan (order id -> wave index).

    `pickers` defaults to the instance's pickers in max_on_time and, in min_labour, to the
    fewest pickers that cover each wave's work.
    """
    if pickers is None:
        pickers = problem.pickers if problem.mode == MAX_ON_TIME else pickers_needed(problem, assignment)
    late, unplanned, missed_weight, wave_rank = [], [], 0, 0
    for order in problem.orders:
        wave = assignment.get(order.id)
        if wave is None:
            unplanned.append(order.id)
        elif not problem.on_time(order, wave):
            late.append(order.id)
        if wave is None or not problem.on_time(order, wave):
            missed_weight += order.priority
        wave_rank += problem.waves + 1 if wave is None else wave + 1
    labour_cost = problem.picker_cost_per_wave * sum(pickers)
    objective = labour_cost if problem.mode == MIN_LABOUR else missed_weight
    return Evaluation(tuple(sorted(late)), tuple(sorted(unplanned)), missed_weight, labour_cost, objective, wave_rank)


def work_per_wave(problem: Problem, assignment: Mapping[str, int]) -> list[float]:
    work = [0.0] * problem.waves
    for order in problem.orders:
        if order.id in assignment:
            work[assignment[order.id]] += problem.work(order)
    return work


def pickers_needed(problem: Problem, assignment: Mapping[str, int]) -> tuple[int, ...]:
    """The fewest pickers per wave whose minutes cover that wave's work."""
    return tuple(max(0, math.ceil(work / problem.wave_minutes - SLACK)) for work in work_per_wave(problem, assignment))


def _result(problem: Problem, status: str, assignment: Mapping[str, int], pickers: tuple[int, ...]) -> Result:
    evaluation = evaluate(problem, assignment, pickers)
    work = work_per_wave(problem, assignment)
    members: dict[int, list[Order]] = defaultdict(list)
    for order in problem.orders:
        if order.id in assignment:
            members[assignment[order.id]].append(order)
    waves = tuple(
        WavePlan(
            index=k,
            start=format_clock(problem.wave_start(k)),
            end=format_clock(problem.wave_end(k)),
            pickers=pickers[k],
            orders=tuple(order.id for order in sorted(members[k], key=_urgency)),
            work_minutes=work[k],
        )
        for k in range(problem.waves)
    )
    objective = _plain_number(evaluation.objective)
    return Result(status, objective, waves, evaluation.late, evaluation.unplanned)


def _plain_number(value: float) -> float:
    return int(value) if float(value).is_integer() else round(value, 6)


def _urgency(order: Order) -> tuple:
    return (order.cutoff, -order.priority, order.id)


# ---------------------------------------------------------------- the baseline


def baseline(problem: Problem) -> Result:
    """Earliest cut-off first (ties: higher priority, then id), each into the earliest wave with room.

    In min_labour every wave may use max_pickers while placing; afterwards each wave keeps only
    the pickers its work needs.
    """
    if problem.mode == MIN_LABOUR:
        assignment = earliest_cutoff_first(problem, (problem.max_pickers,) * problem.waves)
        return _result(problem, "feasible", assignment, pickers_needed(problem, assignment))
    return _result(problem, "feasible", earliest_cutoff_first(problem, problem.pickers), problem.pickers)


def earliest_cutoff_first(problem: Problem, pickers: tuple[int, ...]) -> dict[str, int]:
    work = [0.0] * problem.waves
    count = [0] * problem.waves
    limit = problem.max_orders_per_wave
    assignment = {}
    for order in sorted(problem.orders, key=_urgency):
        for k in range(problem.waves):
            fits = work[k] + problem.work(order) <= problem.capacity(pickers[k]) + SLACK
            if problem.may_start(order, k) and fits and (limit is None or count[k] < limit):
                assignment[order.id] = k
                work[k] += problem.work(order)
                count[k] += 1
                break
    return assignment


# ---------------------------------------------------------------- solving


def solve(problem: Problem, *, time_limit_s: float | None = None) -> Result:
    """The best wave plan for the instance's mode; never worse than the baseline."""
    budget = _Budget.starting_now(problem.time_limit_s if time_limit_s is None else time_limit_s)
    fallback = baseline(problem)
    try:
        plan = _optimise(problem, budget, fallback)
    except Exception:  # the contract: any failure returns the baseline, marked as such
        plan = None
    if plan is None:
        return _result(problem, "fallback", fallback.assignment, fallback.pickers)
    status, assignment, pickers = plan
    if problem.mode == MIN_LABOUR:
        pickers = tuple(min(p, need) for p, need in zip(pickers, pickers_needed(problem, assignment)))
    found = evaluate(problem, assignment, pickers).rank(problem.mode)
    if evaluate(problem, fallback.assignment, fallback.pickers).rank(problem.mode) < found:
        return fallback
    return _result(problem, status, assignment, pickers)


@dataclass(frozen=True)
class _Budget:
    deadline: float
    seconds: float

    @classmethod
    def starting_now(cls, seconds: float) -> "_Budget":
        return cls(time.monotonic() + seconds, seconds)

    def stage(self, share: float, *, keep: float = 0.0) -> float:
        """A stage's deadline: at most `share` of the limit from now, leaving `keep` of it for later."""
        return min(time.monotonic() + share * self.seconds, self.deadline - keep * self.seconds)


def _optimise(problem: Problem, budget: _Budget, fallback: Result):
    """(status, assignment, pickers) from CP-SAT, or None if it found nothing in time."""
    classes = order_classes(problem)
    if problem.mode == MIN_LABOUR:
        return _fewest_pickers(problem, classes, budget)
    model = _WaveModel(problem, classes, problem.pickers)
    first = model.minimise(model.missed_weight, budget.stage(1.0, keep=0.2), model.hint(fallback.assignment))
    if first is None:
        return None
    proven, solution = first
    solution = _break_ties(model, solution, budget.stage(0.2))
    return ("optimal" if proven else "feasible", model.assignment(solution), problem.pickers)


def _fewest_pickers(problem: Problem, classes: list[OrderClass], budget: _Budget):
    """min_labour: the best on-time weight with max_pickers everywhere, then the fewest pickers for it."""
    full_crew = (problem.max_pickers,) * problem.waves
    crewed = _WaveModel(problem, classes, full_crew)
    greedy = crewed.hint(earliest_cutoff_first(problem, full_crew))
    most_on_time = crewed.minimise(crewed.missed_weight, budget.stage(0.4, keep=0.35), greedy)
    if most_on_time is None:
        return None
    proven_on_time, crewed_solution = most_on_time
    assignment = crewed.assignment(crewed_solution)
    model = _WaveModel(problem, classes, None)
    model.keep_at_most(model.missed_weight, crewed_solution.missed_weight)
    cheapest = model.minimise(model.labour, budget.stage(1.0, keep=0.15), model.hint(assignment))
    if cheapest is None:
        return ("feasible", assignment, pickers_needed(problem, assignment))
    proven_cheapest, solution = cheapest
    solution = _break_ties(model, solution, budget.stage(0.15))
    status = "optimal" if proven_on_time and proven_cheapest else "feasible"
    return (status, model.assignment(solution), solution.pickers)


def _break_ties(model: "_WaveModel", solution: "Solution", deadline: float) -> "Solution":
    """Keep the objective reached, then prefer fewer missed orders, planned ones, earlier waves."""
    model.keep_at_most(model.missed_weight, solution.missed_weight)
    model.keep_at_most(model.labour, solution.labour)
    tie_break = model.missed_count * (model.max_wave_rank + 1) + model.wave_rank
    better = model.minimise(tie_break, deadline, solution)
    return solution if better is None else better[1]


def _value(solver, expression) -> int:
    return expression if isinstance(expression, int) else int(solver.value(expression))


@dataclass(frozen=True)
class OrderClass:
    """Interchangeable orders: same work, first allowed wave, last on-time wave, priority."""

    work: int
    first_wave: int
    last_on_time_wave: int
    weight: int
    orders: tuple[Order, ...]


def order_classes(problem: Problem) -> list[OrderClass]:
    weights = _integer_weights(problem.orders)
    groups: dict[tuple, list[Order]] = defaultdict(list)
    for order in sorted(problem.orders, key=_urgency):
        waves = range(problem.waves)
        first = next((k for k in waves if problem.may_start(order, k)), problem.waves)
        last = max((k for k in waves if problem.on_time(order, k)), default=-1)
        work = math.ceil(problem.work(order) * WORK_SCALE - SLACK)
        groups[(work, first, last, weights[order.id])].append(order)
    return [OrderClass(*key, orders=tuple(orders)) for key, orders in groups.items()]


def _integer_weights(orders: tuple[Order, ...]) -> dict[str, int]:
    scale = 1 if all(float(order.priority).is_integer() for order in orders) else PRIORITY_SCALE
    return {order.id: round(order.priority * scale) for order in orders}


def _scaled_capacity(minutes: float) -> int:
    return math.floor(minutes * WORK_SCALE + SLACK)


@dataclass(frozen=True)
class Solution:
    """Orders per (class, wave) and pickers per wave."""

    counts: dict
    pickers: tuple[int, ...]
    missed_weight: int = 0
    labour: int = 0


class _WaveModel:
    """CP-SAT model: how many orders of each class go in each wave; pickers fixed or chosen."""

    def __init__(self, problem: Problem, classes: list[OrderClass], pickers: tuple[int, ...] | None):
        from ortools.sat.python import cp_model

        self.cp_model, self.problem, self.classes = cp_model, problem, classes
        self.model = cp_model.CpModel()
        self.counts = {
            (c, k): self.model.new_int_var(0, len(group.orders), f"n_{c}_{k}")
            for c, group in enumerate(classes)
            for k in range(group.first_wave, problem.waves)
        }
        self.crew = [
            self.model.new_int_var(0, problem.max_pickers, f"pickers_{k}") if pickers is None else pickers[k]
            for k in range(problem.waves)
        ]
        self._limit_waves(pickers is None)
        self._objectives()

    def _limit_waves(self, choosing_pickers: bool) -> None:
        per_picker = _scaled_capacity(self.problem.wave_minutes)
        for k in range(self.problem.waves):
            in_wave = [(var, self.classes[c].work) for (c, wave), var in self.counts.items() if wave == k]
            work = self.cp_model.LinearExpr.weighted_sum([v for v, _ in in_wave], [w for _, w in in_wave])
            capacity = per_picker * self.crew[k] if choosing_pickers else _scaled_capacity(self.problem.capacity(self.crew[k]))
            self.model.add(work <= capacity)
            if self.problem.max_orders_per_wave is not None:
                self.model.add(sum(v for v, _ in in_wave) <= self.problem.max_orders_per_wave)
        for c, group in enumerate(self.classes):
            self.model.add(sum(self._planned(c)) <= len(group.orders))

    def _planned(self, c: int, *, on_time_only: bool = False) -> list:
        last = self.classes[c].last_on_time_wave if on_time_only else self.problem.waves - 1
        return [self.counts[c, k] for k in range(self.classes[c].first_wave, last + 1)]

    def _objectives(self) -> None:
        waves = self.problem.waves
        missed_weight, missed_count, wave_rank = 0, 0, 0
        for c, group in enumerate(self.classes):
            missed = len(group.orders) - sum(self._planned(c, on_time_only=True))
            missed_weight += group.weight * missed
            missed_count += missed
            unplanned = len(group.orders) - sum(self._planned(c))
            wave_rank += (waves + 1) * unplanned + sum((k + 1) * self.counts[c, k] for k in range(group.first_wave, waves))
        self.missed_weight, self.missed_count, self.wave_rank = missed_weight, missed_count, wave_rank
        self.labour = sum(self.crew)
        self.max_wave_rank = (waves + 1) * len(self.problem.orders)

    def keep_at_most(self, expression, bound: int) -> None:
        if not isinstance(expression, int):
            self.model.add(expression <= bound)

    def minimise(self, objective, deadline: float, hint: Solution) -> tuple[bool, Solution] | None:
        """(proven optimal, solution) or None when no solution was found before the deadline."""
        self.model.clear_hints()
        for key, var in self.counts.items():
            self.model.add_hint(var, hint.counts.get(key, 0))
        for var, value in zip(self.crew, hint.pickers):
            if not isinstance(var, int):
                self.model.add_hint(var, value)
        self.model.minimize(objective)
        solver = self.cp_model.CpSolver()
        solver.parameters.max_time_in_seconds = max(0.05, deadline - time.monotonic())
        solver.parameters.num_workers = CP_SAT_WORKERS
        status = solver.solve(self.model)
        if status not in (self.cp_model.OPTIMAL, self.cp_model.FEASIBLE):
            return None
        counts = {key: solver.value(var) for key, var in self.counts.items()}
        crew = tuple(var if isinstance(var, int) else solver.value(var) for var in self.crew)
        measured = {name: _value(solver, getattr(self, name)) for name in ("missed_weight", "labour")}
        return status == self.cp_model.OPTIMAL, Solution(counts, crew, **measured)

    def hint(self, assignment: Mapping[str, int]) -> Solution:
        """A plan given order by order, as counts with the fewest pickers it needs."""
        class_of = {order.id: c for c, group in enumerate(self.classes) for order in group.orders}
        counts: dict = defaultdict(int)
        work = [0] * self.problem.waves
        for order_id, wave in assignment.items():
            counts[class_of[order_id], wave] += 1
            work[wave] += self.classes[class_of[order_id]].work
        per_picker = max(1, _scaled_capacity(self.problem.wave_minutes))
        crew = tuple(
            var if isinstance(var, int) else min(self.problem.max_pickers, -(-work[k] // per_picker))
            for k, var in enumerate(self.crew)
        )
        return Solution(dict(counts), crew)

    def assignment(self, solution: Solution) -> dict[str, int]:
        """Orders of each class handed out to the waves, earliest cut-off to the earliest wave."""
        plan = {}
        for c, group in enumerate(self.classes):
            queue = iter(group.orders)
            for k in range(group.first_wave, self.problem.waves):
                for _ in range(solution.counts.get((c, k), 0)):
                    plan[next(queue).id] = k
        return plan


def main(argv: list[str] | None = None) -> int:
    """Command line: python -m solvers.waves INSTANCE.json [--baseline] [--time-limit S]."""
    return _cli.run(argv, prog="python -m solvers.waves", parse=parse_problem, solve=solve, baseline=baseline)


if __name__ == "__main__":
    sys.exit(main())
