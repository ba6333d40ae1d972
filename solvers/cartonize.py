"""Cartonization: which box types an order's items go into, and where each item sits.

The search walks multisets of box types in increasing cost. A volume/weight relaxation
rules most of them out cheaply; the rest go to an extreme-point placement heuristic with
several item orderings, and small orders to an exact CP-SAT packing model that can prove a
multiset infeasible. The first multiset that packs is the cheapest the search can find; it
is optimal when every cheaper multiset was proven infeasible.
"""
from __future__ import annotations

import heapq
import itertools
import logging
import random
import sys
import time
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterator, Sequence

from ortools.sat.python import cp_model

from solvers._cli import run
from solvers._instance import InstanceError, items, number, require, text

log = logging.getLogger(__name__)

EPS = 1e-6
DEFAULT_TIME_LIMIT_S = 2.0
EXACT_MAX_ITEMS = 30
RANDOM_ATTEMPTS = 24

Dims = tuple[float, float, float]
Point = tuple[float, float, float]


# ----------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Box:
    """A carton type: inner dimensions, weight limit and cost per use."""

    id: str
    length: float
    width: float
    height: float
    max_weight: float
    cost: float

    @property
    def dims(self) -> Dims:
        return (self.length, self.width, self.height)

    @property
    def volume(self) -> float:
        return self.length * self.width * self.height


@dataclass(frozen=True)
class Item:
    """One unit to ship: its outer dimensions and weight."""

    id: str
    sku: str
    length: float
    width: float
    height: float
    weight: float

    @property
    def dims(self) -> Dims:
        return (self.length, self.width, self.height)

    @property
    def volume(self) -> float:
        return self.length * self.width * self.height

    def orientations(self) -> list[Dims]:
        return list(dict.fromkeys(itertools.permutations(self.dims)))


@dataclass(frozen=True)
class CartonProblem:
    """The box catalogue and the order's items."""

    boxes: tuple[Box, ...]
    items: tuple[Item, ...]
    time_limit_s: float = DEFAULT_TIME_LIMIT_S


@dataclass(frozen=True)
class Placement:
    item: str
    x: float
    y: float
    z: float
    length: float
    width: float
    height: float

    def to_json(self) -> dict[str, Any]:
        return {"item": self.item, "x": self.x, "y": self.y, "z": self.z,
                "length": self.length, "width": self.width, "height": self.height}


@dataclass(frozen=True)
class Package:
    box: str
    weight: float
    items: tuple[Placement, ...]

    def to_json(self) -> dict[str, Any]:
        return {"box": self.box, "weight": self.weight, "items": [p.to_json() for p in self.items]}


@dataclass(frozen=True)
class CartonResult:
    """Packages chosen for an order; `bound` is a proven lower bound on the cost, if any."""

    status: str
    cost: float
    packages: tuple[Package, ...]
    bound: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "cost": self.cost, "packages": [p.to_json() for p in self.packages]}


# ----------------------------------------------------------------------------- parsing


def parse_problem(raw: Any) -> CartonProblem:
    """Read a JSON instance, raising InstanceError that names the offending field."""
    if not isinstance(raw, dict):
        raise InstanceError("instance", "must be an object")
    boxes = tuple(_parse_box(b, f"boxes[{i}]") for i, b in enumerate(items(require(raw, "boxes", ""), "boxes")))
    if not boxes:
        raise InstanceError("boxes", "must list at least one box")
    order = tuple(_parse_item(it, f"items[{i}]") for i, it in enumerate(items(require(raw, "items", ""), "items")))
    _reject_duplicate_ids(boxes, "boxes")
    _reject_duplicate_ids(order, "items")
    for index, item in enumerate(order):
        _require_some_box(item, boxes, f"items[{index}] ({item.id})")
    return CartonProblem(boxes, order, _parse_time_limit(raw))


def _parse_box(raw: Any, where: str) -> Box:
    return Box(
        id=text(require(raw, "id", where), f"{where}.id"),
        length=_dimension(raw, "length", where),
        width=_dimension(raw, "width", where),
        height=_dimension(raw, "height", where),
        max_weight=number(require(raw, "max_weight", where), f"{where}.max_weight"),
        cost=number(require(raw, "cost", where), f"{where}.cost"),
    )


def _parse_item(raw: Any, where: str) -> Item:
    sku = raw.get("sku", "") if isinstance(raw, dict) else ""
    return Item(
        id=text(require(raw, "id", where), f"{where}.id"),
        sku=text(sku, f"{where}.sku") if sku != "" else "",
        length=_dimension(raw, "length", where),
        width=_dimension(raw, "width", where),
        height=_dimension(raw, "height", where),
        weight=number(require(raw, "weight", where), f"{where}.weight"),
    )


def _dimension(raw: dict, key: str, where: str) -> float:
    value = number(require(raw, key, where), f"{where}.{key}", minimum=None)
    if value <= 0:
        raise InstanceError(f"{where}.{key}", "must be positive")
    return value


def _parse_time_limit(raw: dict) -> float:
    value = number(raw.get("time_limit_s", DEFAULT_TIME_LIMIT_S), "time_limit_s", minimum=None)
    if value <= 0:
        raise InstanceError("time_limit_s", "must be positive")
    return value


def _reject_duplicate_ids(entries: Sequence[Box | Item], field: str) -> None:
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        if entry.id in seen:
            raise InstanceError(f"{field}[{index}].id", f"duplicate id {entry.id!r}")
        seen.add(entry.id)


def _require_some_box(item: Item, boxes: Sequence[Box], field: str) -> None:
    roomy = [box for box in boxes if fits_geometrically(item.dims, box.dims)]
    if not roomy:
        raise InstanceError(field, "fits no box in any orientation")
    if not any(item.weight <= box.max_weight + EPS for box in roomy):
        raise InstanceError(field, "fits no box: heavier than the max_weight of every box it fits in")


def fits_geometrically(item_dims: Dims, box_dims: Dims) -> bool:
    """Some orientation of the item fits the box: compare both sorted."""
    return all(i <= b + EPS for i, b in zip(sorted(item_dims), sorted(box_dims)))


def fits_alone(item: Item, box: Box) -> bool:
    return item.weight <= box.max_weight + EPS and fits_geometrically(item.dims, box.dims)


# ----------------------------------------------------------------------------- checking


def check_packing(problem: CartonProblem, result: CartonResult) -> list[str]:
    """Every way the result breaks the contract; an empty list means a valid packing."""
    boxes = {box.id: box for box in problem.boxes}
    problems = _check_item_coverage(problem, result)
    for index, package in enumerate(result.packages):
        box = boxes.get(package.box)
        if box is None:
            problems.append(f"packages[{index}]: unknown box {package.box!r}")
            continue
        problems += _check_package(problem, box, package, f"packages[{index}]")
    expected_cost = sum(boxes[p.box].cost for p in result.packages if p.box in boxes)
    if abs(expected_cost - result.cost) > EPS:
        problems.append(f"cost: {result.cost} is not the sum of box costs {expected_cost}")
    return problems


def _check_item_coverage(problem: CartonProblem, result: CartonResult) -> list[str]:
    packed = [p.item for package in result.packages for p in package.items]
    known = {item.id for item in problem.items}
    problems = [f"item {i!r} is packed {packed.count(i)} times" for i in sorted(set(packed)) if packed.count(i) > 1]
    problems += [f"item {i!r} is not packed" for i in sorted(known - set(packed))]
    problems += [f"item {i!r} is not in the order" for i in sorted(set(packed) - known)]
    return problems


def _check_package(problem: CartonProblem, box: Box, package: Package, where: str) -> list[str]:
    order = {item.id: item for item in problem.items}
    placements = [p for p in package.items if p.item in order]
    faults = [(p.item, _placement_fault(order[p.item], box, p)) for p in placements]
    problems = [f"{where}: {item} is {fault}" for item, fault in faults if fault]
    problems += [f"{where}: {a.item} overlaps {b.item}"
                 for a, b in itertools.combinations(placements, 2) if _overlap(a, b)]
    weight = sum(order[p.item].weight for p in placements)
    if weight > box.max_weight + EPS:
        problems.append(f"{where}: weight {weight} exceeds max_weight {box.max_weight}")
    if abs(weight - package.weight) > EPS:
        problems.append(f"{where}: weight {package.weight} is not the sum of its items {weight}")
    return problems


def _placement_fault(item: Item, box: Box, p: Placement) -> str:
    if any(abs(a - b) > EPS for a, b in zip(sorted((p.length, p.width, p.height)), sorted(item.dims))):
        return "not in one of its orientations"
    lows, sizes = (p.x, p.y, p.z), (p.length, p.width, p.height)
    if any(low < -EPS or low + size > limit + EPS for low, size, limit in zip(lows, sizes, box.dims)):
        return "not inside the box"
    return ""


def _overlap(a: Placement, b: Placement) -> bool:
    return (min(a.x + a.length, b.x + b.length) - max(a.x, b.x) > EPS
            and min(a.y + a.width, b.y + b.width) - max(a.y, b.y) > EPS
            and min(a.z + a.height, b.z + b.height) - max(a.z, b.z) > EPS)


# ----------------------------------------------------------------------------- placement


PointKey = Callable[[Point], tuple]
FLOOR_FIRST: PointKey = lambda p: (p[2], p[1], p[0])  # noqa: E731
WALL_FIRST: PointKey = lambda p: (p[0], p[2], p[1])  # noqa: E731
ROW_FIRST: PointKey = lambda p: (p[1], p[2], p[0])  # noqa: E731


class OpenBox:
    """A box being filled: items placed at extreme points (corners of earlier items)."""

    def __init__(self, box: Box, *, project: bool = True):
        self.box = box
        self.placed: list[tuple[float, float, float, float, float, float, Item]] = []
        self.points: list[Point] = [(0, 0, 0)]
        self.weight = 0.0
        self.volume_used = 0.0
        self.project = project

    def place(self, item: Item, orientations: Sequence[Dims], point_key: PointKey) -> bool:
        """Put the item at the first extreme point where some orientation fits."""
        if self.weight + item.weight > self.box.max_weight + EPS:
            return False
        for point in sorted(self.points, key=point_key):
            for dims in orientations:
                if self._free(point, dims):
                    self._commit(point, dims, item)
                    return True
        return False

    def _free(self, point: Point, dims: Dims) -> bool:
        (x, y, z), (l, w, h) = point, dims
        if x + l > self.box.length + EPS or y + w > self.box.width + EPS or z + h > self.box.height + EPS:
            return False
        return not any(
            x < px + pl - EPS and px < x + l - EPS and y < py + pw - EPS and py < y + w - EPS
            and z < pz + ph - EPS and pz < z + h - EPS
            for px, py, pz, pl, pw, ph, _ in self.placed
        )

    def _commit(self, point: Point, dims: Dims, item: Item) -> None:
        (x, y, z), (l, w, h) = point, dims
        self.placed.append((x, y, z, l, w, h, item))
        self.weight += item.weight
        self.volume_used += item.volume
        fresh = self._new_points(x, y, z, l, w, h)
        self.points = [p for p in dict.fromkeys(self.points + fresh) if self._usable(p)]

    def _new_points(self, x, y, z, l, w, h) -> list[Point]:
        corners = [(x + l, y, z), (x, y + w, z), (x, y, z + h)]
        if not self.project:
            return corners
        (ax, ay, az), (bx, by, bz), (cx, cy, cz) = corners
        return corners + [
            (ax, self._drop(ax, ay, az, 1), az), (ax, ay, self._drop(ax, ay, az, 2)),
            (self._drop(bx, by, bz, 0), by, bz), (bx, by, self._drop(bx, by, bz, 2)),
            (self._drop(cx, cy, cz, 0), cy, cz), (cx, self._drop(cx, cy, cz, 1), cz),
        ]

    def _drop(self, x: float, y: float, z: float, axis: int) -> float:
        """Slide the point towards the origin along `axis` until it meets an item or a wall."""
        point = (x, y, z)
        stop = 0.0
        for placed in self.placed:
            low, size = placed[:3], placed[3:6]
            far = low[axis] + size[axis]
            across = all(low[a] - EPS <= point[a] < low[a] + size[a] - EPS for a in range(3) if a != axis)
            if across and stop < far <= point[axis] + EPS:
                stop = far
        return stop

    def _usable(self, p: Point) -> bool:
        if p[0] >= self.box.length - EPS or p[1] >= self.box.width - EPS or p[2] >= self.box.height - EPS:
            return False
        return not any(
            px - EPS <= p[0] < px + pl - EPS and py - EPS <= p[1] < py + pw - EPS and pz - EPS <= p[2] < pz + ph - EPS
            for px, py, pz, pl, pw, ph, _ in self.placed
        )


def flat_first(item: Item) -> list[Dims]:
    return sorted(item.orientations(), key=lambda d: (d[2], -d[0]))


def tall_first(item: Item) -> list[Dims]:
    return sorted(item.orientations(), key=lambda d: (-d[2], -d[0]))


def as_given_first(item: Item) -> list[Dims]:
    return item.orientations()


def pack_first_fit(boxes: Sequence[Box], ordered: Sequence[Item], point_key: PointKey,
                   orient: Callable[[Item], list[Dims]]) -> list[OpenBox] | None:
    """Each item into the first of the boxes where it finds room; None if one finds none."""
    open_boxes = [OpenBox(box) for box in boxes]
    for item in ordered:
        orientations = orient(item)
        if not any(ob.place(item, orientations, point_key) for ob in open_boxes):
            return None
    return open_boxes


def pack_best_fit(boxes: Sequence[Box], ordered: Sequence[Item], point_key: PointKey,
                  orient: Callable[[Item], list[Dims]]) -> list[OpenBox] | None:
    """Each item into the box with the least free volume that still takes it."""
    open_boxes = [OpenBox(box) for box in boxes]
    for item in ordered:
        orientations = orient(item)
        by_room = sorted(open_boxes, key=lambda ob: ob.box.volume - ob.volume_used)
        if not any(ob.place(item, orientations, point_key) for ob in by_room):
            return None
    return open_boxes


# ----------------------------------------------------------------------------- baseline


def baseline(problem: CartonProblem) -> CartonResult:
    """First-fit decreasing by volume into the smallest box with room, simple corner points."""
    box_types = sorted(problem.boxes, key=lambda b: (b.volume, b.cost, b.id))
    open_boxes: list[OpenBox] = []
    for item in sorted(problem.items, key=lambda it: (-it.volume, it.id)):
        orientations = item.orientations()
        smallest_first = sorted(open_boxes, key=lambda ob: ob.box.volume)
        if not any(ob.place(item, orientations, FLOOR_FIRST) for ob in smallest_first):
            open_boxes.append(_open_smallest_box_for(item, box_types))
    return result_from(open_boxes, "feasible")


def _open_smallest_box_for(item: Item, box_types: Sequence[Box]) -> OpenBox:
    for box in box_types:
        opened = OpenBox(box, project=False)
        if opened.place(item, item.orientations(), FLOOR_FIRST):
            return opened
    raise ValueError(f"item {item.id} fits no box")


def result_from(open_boxes: Sequence[OpenBox], status: str, bound: float | None = None) -> CartonResult:
    packages = tuple(_package(ob) for ob in open_boxes if ob.placed)
    cost = round(sum(ob.box.cost for ob in open_boxes if ob.placed), 6)
    return CartonResult(status, cost, packages, None if bound is None else round(bound, 6))


def _package(ob: OpenBox) -> Package:
    placements = tuple(Placement(item.id, x, y, z, l, w, h) for x, y, z, l, w, h, item in ob.placed)
    return Package(ob.box.id, round(sum(p[6].weight for p in ob.placed), 6), placements)


# ----------------------------------------------------------------------------- relaxation


class Relaxation:
    """Necessary conditions for a multiset of boxes to hold the order: volume and weight.

    For every set F of box types that some item fits in, the items that fit only within F
    need room (volume and weight) in the boxes of F.
    """

    def __init__(self, problem: CartonProblem):
        self.boxes = problem.boxes
        groups: dict[frozenset[int], list[Item]] = {}
        for item in problem.items:
            fit = frozenset(t for t, box in enumerate(self.boxes) if fits_alone(item, box))
            groups.setdefault(fit, []).append(item)
        self.demands = [
            (fit, sum(it.volume for g, its in groups.items() if g <= fit for it in its),
             sum(it.weight for g, its in groups.items() if g <= fit for it in its))
            for fit in groups
        ]

    def may_hold(self, counts: Sequence[int]) -> bool:
        return all(self._has_room(counts, fit, volume, weight) for fit, volume, weight in self.demands)

    def _has_room(self, counts: Sequence[int], fit: frozenset[int], volume: float, weight: float) -> bool:
        room = sum(counts[t] * self.boxes[t].volume for t in fit)
        carry = sum(counts[t] * self.boxes[t].max_weight for t in fit)
        return volume <= room + EPS and weight <= carry + EPS


def multisets_by_cost(boxes: Sequence[Box], max_boxes: int, below: float) -> Iterator[tuple[float, tuple[int, ...]]]:
    """Every multiset of box types (as counts) cheaper than `below`, cheapest first."""
    order = sorted(range(len(boxes)), key=lambda t: (boxes[t].cost, -boxes[t].volume))
    start = (0, tuple(0 for _ in boxes), 0, 0)
    frontier = [start]
    while frontier:
        cost, counts, size, first = heapq.heappop(frontier)
        if size:
            yield cost, counts
        if size == max_boxes:
            continue
        for position in range(first, len(order)):
            t = order[position]
            child_cost = cost + boxes[t].cost
            if child_cost < below - EPS:
                child = tuple(c + (i == t) for i, c in enumerate(counts))
                heapq.heappush(frontier, (child_cost, child, size + 1, position))


def expand(boxes: Sequence[Box], counts: Sequence[int]) -> list[Box]:
    return [box for box, count in zip(boxes, counts) for _ in range(count)]


# ----------------------------------------------------------------------------- heuristic


ITEM_ORDERS: tuple[Callable[[Item], tuple], ...] = (
    lambda it: (-it.volume, it.id),
    lambda it: (-max(it.dims), -it.volume, it.id),
    lambda it: (-_base_area(it), -it.volume, it.id),
    lambda it: (-it.weight, -it.volume, it.id),
)
STRATEGIES = tuple(itertools.product(
    ITEM_ORDERS,
    (FLOOR_FIRST, WALL_FIRST),
    (flat_first, tall_first),
    (pack_first_fit, pack_best_fit),
))


def _base_area(item: Item) -> float:
    small, middle, large = sorted(item.dims)
    return middle * large


def heuristic_pack(boxes: Sequence[Box], problem_items: Sequence[Item], deadline: float) -> list[OpenBox] | None:
    """Try each fixed strategy (item order, point order, orientation preference, packer)."""
    big_first = sorted(boxes, key=lambda b: -b.volume)
    for order_key, point_key, orient, packer in STRATEGIES:
        if time.monotonic() > deadline:
            return None
        packing = packer(big_first, sorted(problem_items, key=order_key), point_key, orient)
        if packing is not None:
            return packing
    return None


def random_pack(boxes: Sequence[Box], problem_items: Sequence[Item], deadline: float,
                rng: random.Random, attempts: int) -> list[OpenBox] | None:
    """Randomised orderings of items, boxes and orientations, until one packs or time runs out."""
    for _ in range(attempts):
        if time.monotonic() > deadline:
            return None
        packing = _random_attempt(boxes, problem_items, rng)
        if packing is not None:
            return packing
    return None


def _random_attempt(boxes: Sequence[Box], problem_items: Sequence[Item], rng: random.Random) -> list[OpenBox] | None:
    ordered = sorted(problem_items, key=lambda it: -it.volume * rng.uniform(0.5, 1.5))
    shuffled_boxes = rng.sample(list(boxes), len(boxes))
    point_key = rng.choice((FLOOR_FIRST, WALL_FIRST, ROW_FIRST))

    def orient(item: Item) -> list[Dims]:
        return rng.sample(item.orientations(), len(item.orientations()))

    return rng.choice((pack_first_fit, pack_best_fit))(shuffled_boxes, ordered, point_key, orient)


# ----------------------------------------------------------------------------- exact model


def integer_scale(problem: CartonProblem) -> int | None:
    """The power of ten that makes every dimension an integer, if a small one does."""
    lengths = [d for entry in (*problem.boxes, *problem.items) for d in entry.dims]
    for scale in (1, 10, 100, 1000):
        if all(abs(d * scale - round(d * scale)) < 1e-9 for d in lengths):
            return scale
    return None


def exact_pack(boxes: Sequence[Box], problem_items: Sequence[Item], scale: int,
               deadline: float) -> tuple[str, list[OpenBox] | None]:
    """Decide with CP-SAT whether the items fit these boxes: ("feasible", packing), ("infeasible", None) or ("unknown", None)."""
    model = _ExactModel(boxes, problem_items, scale)
    time_left = deadline - time.monotonic()
    if time_left <= 0:
        return "unknown", None
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_left
    solver.parameters.num_workers = 1
    status = solver.solve(model.model)
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return "feasible", model.read(solver)
    if status == cp_model.INFEASIBLE:
        return "infeasible", None
    return "unknown", None


class _ExactModel:
    """Items assigned to boxes and placed without overlap, one of six orientations each."""

    def __init__(self, boxes: Sequence[Box], problem_items: Sequence[Item], scale: int):
        self.model = cp_model.CpModel()
        self.boxes, self.items, self.scale = list(boxes), list(problem_items), scale
        self._variables()
        self._assignment_constraints()
        self._containment_constraints()
        self._non_overlap_constraints()
        self._symmetry_breaking()

    def _scaled(self, dims: Dims) -> tuple[int, int, int]:
        return tuple(int(round(d * self.scale)) for d in dims)

    def _variables(self) -> None:
        m = self.model
        reach = [max(self._scaled(b.dims)[a] for b in self.boxes) for a in range(3)]
        self.assign = [[m.new_bool_var(f"a{i}_{b}") for b in range(len(self.boxes))] for i in range(len(self.items))]
        self.rotations = [item.orientations() for item in self.items]
        self.rotate = [[m.new_bool_var(f"r{i}_{r}") for r in range(len(rs))] for i, rs in enumerate(self.rotations)]
        self.low = [[m.new_int_var(0, reach[a], f"p{i}_{a}") for a in range(3)] for i in range(len(self.items))]
        self.size = [[sum(self._scaled(dims)[a] * var for dims, var in zip(self.rotations[i], self.rotate[i]))
                      for a in range(3)] for i in range(len(self.items))]

    def _assignment_constraints(self) -> None:
        m = self.model
        for i, item in enumerate(self.items):
            m.add_exactly_one(self.assign[i])
            m.add_exactly_one(self.rotate[i])
            for b, box in enumerate(self.boxes):
                if not fits_alone(item, box):
                    m.add(self.assign[i][b] == 0)
        grams = [int(round(it.weight * 1e6)) for it in self.items]
        volumes = [_product(self._scaled(it.dims)) for it in self.items]
        for b, box in enumerate(self.boxes):
            m.add(sum(g * self.assign[i][b] for i, g in enumerate(grams)) <= int(round(box.max_weight * 1e6)))
            m.add(sum(v * self.assign[i][b] for i, v in enumerate(volumes)) <= _product(self._scaled(box.dims)))

    def _containment_constraints(self) -> None:
        for i in range(len(self.items)):
            for b, box in enumerate(self.boxes):
                limits = self._scaled(box.dims)
                for a in range(3):
                    self.model.add(self.low[i][a] + self.size[i][a] <= limits[a]).only_enforce_if(self.assign[i][b])

    def _non_overlap_constraints(self) -> None:
        m = self.model
        for i, j in itertools.combinations(range(len(self.items)), 2):
            apart = []
            for a in range(3):
                for first, second in ((i, j), (j, i)):
                    before = m.new_bool_var(f"s{first}_{second}_{a}")
                    m.add(self.low[first][a] + self.size[first][a] <= self.low[second][a]).only_enforce_if(before)
                    apart.append(before)
            for b in range(len(self.boxes)):
                m.add_bool_or(apart + [self.assign[i][b].Not(), self.assign[j][b].Not()])

    def _symmetry_breaking(self) -> None:
        """Copies of one box type are used in order of their lowest-numbered item."""
        for earlier, later in zip(range(len(self.boxes)), range(1, len(self.boxes))):
            if self.boxes[earlier] != self.boxes[later]:
                continue
            self.model.add(self.assign[0][later] == 0)
            for i in range(1, len(self.items)):
                self.model.add_bool_or([self.assign[j][earlier] for j in range(i)]).only_enforce_if(self.assign[i][later])

    def read(self, solver: Any) -> list[OpenBox]:
        open_boxes = [OpenBox(box) for box in self.boxes]
        for i, item in enumerate(self.items):
            b = next(b for b in range(len(self.boxes)) if solver.boolean_value(self.assign[i][b]))
            r = next(r for r in range(len(self.rotations[i])) if solver.boolean_value(self.rotate[i][r]))
            x, y, z = (_unscale(solver.value(self.low[i][a]), self.scale) for a in range(3))
            open_boxes[b].placed.append((x, y, z, *self.rotations[i][r], item))
            open_boxes[b].weight += item.weight
        return open_boxes


def _product(dims: Sequence[int]) -> int:
    return dims[0] * dims[1] * dims[2]


def _unscale(value: int, scale: int) -> float:
    return value if scale == 1 else value / scale


# ----------------------------------------------------------------------------- search


class _Search:
    """Box multisets in increasing cost, in two passes.

    The fast pass tries the placement heuristic on each multiset the relaxation allows and
    stops at the first that packs. The careful pass spends the remaining time on the
    cheaper multisets it could not pack: the exact model packs one or proves it infeasible.
    """

    def __init__(self, problem: CartonProblem, time_limit_s: float):
        self.problem = problem
        # Leave time for checking the answer, and for CP-SAT and a last attempt overrunning a little.
        self.deadline = time.monotonic() + time_limit_s - min(0.1, 0.1 * time_limit_s)
        self.relaxation = Relaxation(problem)
        self.scale = integer_scale(problem)
        self.rng = random.Random(0)
        self.unpacked: list[tuple[float, list[Box]]] = []  # cheaper multisets the heuristic failed on
        self.disproved: set[int] = set()  # indexes into unpacked proven infeasible
        self.unexplored_from: float | None = None  # cost where the fast pass ran out of time

    def run(self) -> CartonResult:
        best = baseline(self.problem)
        if not self.problem.items:
            return replace(best, status="optimal", bound=0.0)
        for search_pass in (self._fast_pass, self._careful_pass):
            packing = search_pass(best.cost)
            if packing is not None:
                best = result_from(packing, "feasible")
        bound = self._bound(best.cost)
        return replace(best, status="optimal" if best.cost <= bound + EPS else "feasible", bound=round(bound, 6))

    def _fast_pass(self, below: float) -> list[OpenBox] | None:
        for cost, counts in multisets_by_cost(self.problem.boxes, len(self.problem.items), below):
            if time.monotonic() > self.deadline:
                self.unexplored_from = cost
                return None
            if not self.relaxation.may_hold(counts):
                continue
            boxes = expand(self.problem.boxes, counts)
            packing = heuristic_pack(boxes, self.problem.items, self.deadline)
            if packing is not None:
                return packing
            self.unpacked.append((cost, boxes))
        return None

    def _careful_pass(self, below: float) -> list[OpenBox] | None:
        cheaper = [(index, boxes) for index, (cost, boxes) in enumerate(self.unpacked) if cost < below - EPS]
        for position, (index, boxes) in enumerate(cheaper):
            if time.monotonic() > self.deadline:
                return None
            verdict, packing = self._exact(boxes, still_to_try=len(cheaper) - position)
            if verdict == "infeasible":
                self.disproved.add(index)
                continue
            packing = packing or random_pack(boxes, self.problem.items, self.deadline, self.rng, RANDOM_ATTEMPTS)
            if packing is not None:
                return packing
        return None

    def _exact(self, boxes: list[Box], still_to_try: int) -> tuple[str, list[OpenBox] | None]:
        if self.scale is None or len(self.problem.items) > EXACT_MAX_ITEMS:
            return "unknown", None
        # The cheapest open multiset decides the bound: give it up to half the time left.
        now = time.monotonic()
        return exact_pack(boxes, self.problem.items, self.scale, now + (self.deadline - now) / min(2, still_to_try))

    def _bound(self, best_cost: float) -> float:
        open_costs = [cost for index, (cost, _) in enumerate(self.unpacked) if index not in self.disproved]
        unexplored = [] if self.unexplored_from is None else [self.unexplored_from]
        return min([best_cost, *open_costs, *unexplored])


def solve(problem: CartonProblem, *, time_limit_s: float | None = None) -> CartonResult:
    """The cheapest packing found within the time limit; never an invalid one."""
    limit = problem.time_limit_s if time_limit_s is None else time_limit_s
    try:
        result = _search(problem, limit)
    except Exception:
        log.exception("cartonize: search failed, returning the baseline")
        return _fallback(problem)
    faults = check_packing(problem, result)
    if faults:
        log.error("cartonize: search produced an invalid packing (%s), returning the baseline", faults[0])
        return _fallback(problem)
    return result


def _search(problem: CartonProblem, time_limit_s: float) -> CartonResult:
    return _Search(problem, time_limit_s).run()


def _fallback(problem: CartonProblem) -> CartonResult:
    return replace(baseline(problem), status="fallback")


def main(argv: list[str] | None = None) -> int:
    """python -m solvers.cartonize INSTANCE.json [--baseline] [--time-limit S]"""
    return run(argv, prog="python -m solvers.cartonize", parse=parse_problem, solve=solve, baseline=baseline)


if __name__ == "__main__":
    sys.exit(main())
