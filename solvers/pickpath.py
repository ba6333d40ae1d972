"""Pick path: the order in which one picker visits the pick locations of a batch.

The warehouse is a block of parallel aisles crossed by `cross_aisles` cross aisles. The exact
solver is a dynamic programme over the aisles from left to right (Ratliff & Rosenthal's
method, generalised to any number of cross aisles): at each aisle it keeps, per cross aisle,
how often the route crosses to the next aisle and which crossings are already connected.
Layouts with more cross aisles than the programme handles quickly use Held-Karp for small
batches and OR-Tools routing (guided local search, time-limited) for large ones.
"""
from __future__ import annotations

import itertools
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Iterable, Protocol

from solvers import _cli
from solvers._instance import InstanceError, integer, items, number, require, text

DEFAULT_TIME_LIMIT_S = 2.0
DP_MAX_CROSS_AISLES = 4
HELD_KARP_MAX_LOCATIONS = 12
TOLERANCE = 1e-6


class Point(Protocol):
    aisle: int
    position: float


@dataclass(frozen=True)
class Location:
    """A place in the warehouse: an aisle and a position along it."""

    aisle: int
    position: float


@dataclass(frozen=True)
class Layout:
    """A block of parallel aisles with evenly spaced cross aisles and a depot."""

    aisles: int
    aisle_length: float
    aisle_spacing: float
    cross_aisles: int
    depot: Location

    @property
    def cross_aisle_positions(self) -> tuple[float, ...]:
        return _cross_aisle_positions(self.aisle_length, self.cross_aisles)


@dataclass(frozen=True)
class Pick:
    """One pick of the batch."""

    id: str
    aisle: int
    position: float

    @property
    def location(self) -> Location:
        return Location(self.aisle, self.position)


@dataclass(frozen=True)
class Problem:
    """A batch of picks to visit on one closed route from the depot."""

    layout: Layout
    picks: tuple[Pick, ...]
    time_limit_s: float = DEFAULT_TIME_LIMIT_S


@dataclass(frozen=True)
class Result:
    """A route: the picks in visiting order and the length of the closed route."""

    status: str
    sequence: tuple[str, ...]
    distance: float
    solve_seconds: float = 0.0

    def to_json(self) -> dict:
        return {
            "status": self.status,
            "sequence": list(self.sequence),
            "distance": round(self.distance, 6),
            "solve_seconds": round(self.solve_seconds, 3),
        }


# ---------------------------------------------------------------- reading an instance


def parse_problem(raw: object) -> Problem:
    """Turn a JSON instance into a Problem; raises InstanceError naming the bad field."""
    if not isinstance(raw, dict):
        raise InstanceError("instance", "must be an object")
    layout = _parse_layout(require(raw, "layout", ""))
    picks = _parse_picks(require(raw, "picks", ""), layout)
    time_limit = number(raw.get("time_limit_s", DEFAULT_TIME_LIMIT_S), "time_limit_s")
    if time_limit <= 0:
        raise InstanceError("time_limit_s", "must be positive")
    return Problem(layout, picks, float(time_limit))


def _parse_layout(raw: object) -> Layout:
    aisles = integer(require(raw, "aisles", "layout"), "layout.aisles", minimum=1)
    length = number(require(raw, "aisle_length", "layout"), "layout.aisle_length")
    if length <= 0:
        raise InstanceError("layout.aisle_length", "must be positive")
    spacing = number(require(raw, "aisle_spacing", "layout"), "layout.aisle_spacing")
    cross = integer(require(raw, "cross_aisles", "layout"), "layout.cross_aisles", minimum=2)
    depot = require(raw, "depot", "layout")
    aisle, position = _parse_place(depot, "layout.depot", aisles, length)
    return Layout(aisles, float(length), float(spacing), cross, Location(aisle, position))


def _parse_place(raw: object, where: str, aisles: int, length: float) -> tuple[int, float]:
    aisle = integer(require(raw, "aisle", where), f"{where}.aisle")
    if aisle >= aisles:
        raise InstanceError(f"{where}.aisle", f"must be between 0 and {aisles - 1}")
    position = number(require(raw, "position", where), f"{where}.position")
    if position > length:
        raise InstanceError(f"{where}.position", f"must be between 0 and {length:g}")
    return aisle, float(position)


def _parse_picks(raw: object, layout: Layout) -> tuple[Pick, ...]:
    picks, seen = [], set()
    for i, entry in enumerate(items(raw, "picks")):
        where = f"picks[{i}]"
        pick_id = text(require(entry, "id", where), f"{where}.id")
        if pick_id in seen:
            raise InstanceError(f"{where}.id", f"duplicate id {pick_id}")
        seen.add(pick_id)
        aisle, position = _parse_place(entry, where, layout.aisles, layout.aisle_length)
        picks.append(Pick(pick_id, aisle, position))
    return tuple(picks)


# ---------------------------------------------------------------- the distance rule


@lru_cache(maxsize=None)
def _cross_aisle_positions(length: float, count: int) -> tuple[float, ...]:
    step = length / (count - 1)
    return tuple(i * step for i in range(count - 1)) + (length,)


def distance(layout: Layout, a: Point, b: Point) -> float:
    """Walking distance between two points: along aisles and cross aisles only."""
    if a.aisle == b.aisle:
        return abs(a.position - b.position)
    across = abs(a.aisle - b.aisle) * layout.aisle_spacing
    return across + min(abs(a.position - c) + abs(b.position - c) for c in layout.cross_aisle_positions)


def walking_path(layout: Layout, a: Point, b: Point) -> list[tuple[int, float]]:
    """The corners of the walk from a to b as (aisle, position) pairs, for drawing the route."""
    if a.aisle == b.aisle:
        return [(a.aisle, a.position), (b.aisle, b.position)]
    cross = min(layout.cross_aisle_positions, key=lambda c: abs(a.position - c) + abs(b.position - c))
    return [(a.aisle, a.position), (a.aisle, cross), (b.aisle, cross), (b.aisle, b.position)]


def route_length(problem: Problem, sequence: Iterable[str]) -> float:
    """Length of the closed route depot -> picks in `sequence` -> depot."""
    by_id = {pick.id: pick for pick in problem.picks}
    return _closed_length(problem.layout, [by_id[pick_id] for pick_id in sequence])


def _closed_length(layout: Layout, stops: list[Point]) -> float:
    points = [layout.depot, *stops, layout.depot]
    return sum(distance(layout, a, b) for a, b in zip(points, points[1:]))


# ---------------------------------------------------------------- heuristics


def baseline(problem: Problem) -> Result:
    """S-shape: aisles with picks left to right, each traversed in alternating direction."""
    return _heuristic_result(problem, s_shape_sequence(problem))


def largest_gap(problem: Problem) -> Result:
    """Largest gap: each inner aisle is entered from front and back up to its largest gap."""
    return _heuristic_result(problem, largest_gap_sequence(problem))


def _heuristic_result(problem: Problem, sequence: list[str]) -> Result:
    started = time.perf_counter()
    length = route_length(problem, sequence)
    return Result("feasible", tuple(sequence), length, time.perf_counter() - started)


def _picks_by_aisle(problem: Problem) -> dict[int, list[Pick]]:
    by_aisle: dict[int, list[Pick]] = defaultdict(list)
    for pick in sorted(problem.picks, key=lambda p: (p.aisle, p.position, p.id)):
        by_aisle[pick.aisle].append(pick)
    return dict(sorted(by_aisle.items()))


def s_shape_sequence(problem: Problem) -> list[str]:
    # With an odd number of aisles the last one is entered from the front like every
    # even-numbered one, so its picks come in ascending order either way; the distance
    # rule then returns to the depot from its farthest pick through the front.
    sequence = []
    for i, picks in enumerate(_picks_by_aisle(problem).values()):
        ordered = picks if i % 2 == 0 else picks[::-1]
        sequence.extend(pick.id for pick in ordered)
    return sequence


def largest_gap_sequence(problem: Problem) -> list[str]:
    aisles = list(_picks_by_aisle(problem).values())
    if len(aisles) <= 1:
        return [pick.id for picks in aisles for pick in picks]
    length = problem.layout.aisle_length
    splits = [_split_at_largest_gap(picks, length) for picks in aisles[1:-1]]
    sequence = [pick.id for pick in aisles[0]]
    sequence += [pick.id for _, back in splits for pick in reversed(back)]
    sequence += [pick.id for pick in reversed(aisles[-1])]
    sequence += [pick.id for front, _ in reversed(splits) for pick in front]
    return sequence


def _split_at_largest_gap(picks: list[Pick], length: float) -> tuple[list[Pick], list[Pick]]:
    """(picks reached from the front, picks reached from the back) of one aisle."""
    positions = [0.0] + [pick.position for pick in picks] + [length]
    gaps = [positions[i + 1] - positions[i] for i in range(len(positions) - 1)]
    cut = max(range(len(gaps)), key=lambda i: gaps[i])
    return picks[:cut], picks[cut:]


# ---------------------------------------------------------------- solving


def solve(problem: Problem, *, time_limit_s: float | None = None) -> Result:
    """Shortest closed route through every pick; never longer than the S-shape route."""
    started = time.perf_counter()
    limit = problem.time_limit_s if time_limit_s is None else time_limit_s
    s_shape = baseline(problem)
    try:
        sequence, proven = _shortest_route(problem, deadline=started + limit)
    except Exception:  # the contract: any failure returns the baseline, marked as such
        return replace(s_shape, status="fallback", solve_seconds=time.perf_counter() - started)
    length = route_length(problem, sequence)
    if length > s_shape.distance + TOLERANCE:
        return replace(s_shape, solve_seconds=time.perf_counter() - started)
    status = "optimal" if proven else "feasible"
    return Result(status, tuple(sequence), length, time.perf_counter() - started)


def _shortest_route(problem: Problem, *, deadline: float) -> tuple[list[str], bool]:
    """The pick ids in route order, and whether the route is proven shortest."""
    ids_at: dict[Location, list[str]] = defaultdict(list)
    for pick in problem.picks:
        ids_at[pick.location].append(pick.id)
    layout = problem.layout
    places = list(ids_at)
    if len({place.aisle for place in places} | {layout.depot.aisle}) <= 1:
        order, proven = _sweep_one_aisle(layout, places), True
    elif layout.cross_aisles <= DP_MAX_CROSS_AISLES:
        order, proven = aisle_by_aisle_route(layout, places, deadline), True
    elif len(places) <= HELD_KARP_MAX_LOCATIONS:
        order, proven = _held_karp_route(layout, places), True
    else:
        order, proven = _routing_route(layout, places, deadline), False
    return [pick_id for place in order for pick_id in ids_at[place]], proven


def _sweep_one_aisle(layout: Layout, places: list[Location]) -> list[Location]:
    """Depot and picks share one aisle: down to the lowest pick, then up to the highest."""
    depot = layout.depot.position
    below = sorted((p for p in places if p.position <= depot), key=lambda p: -p.position)
    above = sorted((p for p in places if p.position > depot), key=lambda p: p.position)
    return below + above


# ---------------------------------------------------------------- exact aisle-by-aisle programme
#
# A route is a connected multigraph of aisle pieces and cross-aisle pieces in which every
# vertex has even degree. Between two cross aisles, the piece of an aisle holding picks is
# covered in one of six ways; between two aisles, each cross aisle is crossed 0, 1 or 2
# times. The state after an aisle is, per cross aisle, (crossings to the next aisle,
# component label): enough to finish the route optimally to the right.

SKIP, THROUGH, TWICE_THROUGH, FROM_LOW, FROM_HIGH, FROM_BOTH_ENDS = range(6)
# option -> (degree added at the lower cross aisle, at the upper one, joins the two)
PIECE_EFFECT = {
    SKIP: (0, 0, False),
    THROUGH: (1, 1, True),
    TWICE_THROUGH: (2, 2, True),
    FROM_LOW: (2, 0, False),
    FROM_HIGH: (0, 2, False),
    FROM_BOTH_ENDS: (2, 2, False),
}
DONE = "done"


def aisle_by_aisle_route(layout: Layout, places: list[Location], deadline: float) -> list[Location]:
    """The proven shortest visiting order of `places` (distinct, the depot added inside)."""
    pieces = _pieces_by_aisle(layout, [*places, layout.depot])
    first, last = min(pieces), max(pieces)
    layers = []
    states = {_empty_cut(layout.cross_aisles): (0.0, None, None, None)}
    for aisle in range(first, last + 1):
        if time.perf_counter() > deadline:
            raise TimeoutError("pick path: out of time in the aisle programme")
        choices = _aisle_choices(layout, pieces.get(aisle))
        states = _advance(states, choices, layout.aisle_spacing, closing=aisle == last)
        layers.append((aisle, states))
    graph = _route_graph(layout, pieces, _chosen_moves(layers))
    return _first_visits(_euler_circuit(graph, ("place", layout.depot)), set(places))


def _pieces_by_aisle(layout: Layout, points: list[Location]) -> dict[int, list[list[float]]]:
    """Per aisle with points, per piece between two cross aisles, the sorted positions in it."""
    rows = layout.cross_aisle_positions
    pieces: dict[int, list[list[float]]] = {}
    for point in sorted(set(points), key=lambda p: (p.aisle, p.position)):
        piece = _piece_index(rows, point.position)
        pieces.setdefault(point.aisle, [[] for _ in rows[1:]])[piece].append(point.position)
    return pieces


def _piece_index(rows: tuple[float, ...], position: float) -> int:
    index = 0
    while index < len(rows) - 2 and position >= rows[index + 1]:
        index += 1
    return index


def _empty_cut(rows: int) -> tuple:
    return tuple((0, 0) for _ in range(rows))


def _aisle_choices(layout: Layout, pieces: list[list[float]] | None) -> list[tuple[tuple, float]]:
    """Every combination of piece options for one aisle, with its walking length."""
    rows = layout.cross_aisle_positions
    per_piece = [
        _piece_options(pieces[s] if pieces else [], rows[s], rows[s + 1]) for s in range(len(rows) - 1)
    ]
    return [
        (tuple(option for option, _ in combo), sum(length for _, length in combo))
        for combo in itertools.product(*per_piece)
    ]


def _piece_options(positions: list[float], low: float, high: float) -> list[tuple[int, float]]:
    span = high - low
    if not positions:
        return [(SKIP, 0.0), (THROUGH, span), (TWICE_THROUGH, 2 * span)]
    options = [
        (THROUGH, span),
        (TWICE_THROUGH, 2 * span),
        (FROM_LOW, 2 * (positions[-1] - low)),
        (FROM_HIGH, 2 * (high - positions[0])),
    ]
    if len(positions) > 1:
        options.append((FROM_BOTH_ENDS, 2 * (span - _largest_inner_gap(positions)[1])))
    return options


def _largest_inner_gap(positions: list[float]) -> tuple[int, float]:
    """(index of the first position above the gap, gap size) of the widest inner gap."""
    cut = max(range(1, len(positions)), key=lambda i: positions[i] - positions[i - 1])
    return cut, positions[cut] - positions[cut - 1]


def _advance(states: dict, choices: list, spacing: float, *, closing: bool) -> dict:
    """States after one more aisle (and the crossings to the next one, unless closing)."""
    reached: dict = {}
    for cut, (cost, *_) in states.items():
        for options, aisle_length in choices:
            middle = _after_aisle(cut, options)
            for crossings, after in _closings(middle) if closing else _crossings(middle):
                total = cost + aisle_length + sum(crossings) * spacing
                if after not in reached or total < reached[after][0] - 1e-12:
                    reached[after] = (total, cut, options, crossings)
    return reached


@lru_cache(maxsize=1 << 17)
def _after_aisle(cut: tuple, options: tuple) -> tuple:
    """Per cross aisle at this aisle: None if unused, else (degree parity, component)."""
    degree = [crossings for crossings, _ in cut]
    component = list(range(len(cut)))

    def root(row: int) -> int:
        while component[row] != row:
            row = component[row]
        return row

    first_row_of = {}
    for row, (crossings, label) in enumerate(cut):
        if crossings:
            component[row] = root(first_row_of.setdefault(label, row))
    for low, option in enumerate(options):
        add_low, add_high, joins = PIECE_EFFECT[option]
        degree[low] += add_low
        degree[low + 1] += add_high
        if joins:
            component[root(low)] = root(low + 1)
    return _relabel(tuple((degree[r] % 2, root(r)) if degree[r] else None for r in range(len(cut))))


def _relabel(rows: tuple) -> tuple:
    labels: dict = {}
    relabelled = []
    for row in rows:
        if row is None:
            relabelled.append(None)
        else:
            relabelled.append((row[0], labels.setdefault(row[1], len(labels) + 1)))
    return tuple(relabelled)


@lru_cache(maxsize=None)
def _crossings(middle: tuple) -> tuple:
    """Every way to cross to the next aisle that leaves no component behind."""
    choices = [(0,) if row is None else (1,) if row[0] else (0, 2) for row in middle]
    components = {row[1] for row in middle if row is not None}
    moves = []
    for crossings in itertools.product(*choices):
        continuing = {row[1] for row, n in zip(middle, crossings) if n}
        if continuing == components:
            cut = tuple((n, row[1]) if n else (0, 0) for row, n in zip(middle, crossings))
            moves.append((crossings, _relabel_cut(cut)))
    return tuple(moves)


def _relabel_cut(cut: tuple) -> tuple:
    labels: dict = {}
    return tuple((n, labels.setdefault(label, len(labels) + 1)) if n else (0, 0) for n, label in cut)


@lru_cache(maxsize=None)
def _closings(middle: tuple) -> tuple:
    used = [row for row in middle if row is not None]
    if used and all(parity == 0 for parity, _ in used) and len({label for _, label in used}) == 1:
        return (((0,) * len(middle), DONE),)
    return ()


def _chosen_moves(layers: list) -> list[tuple[int, tuple, tuple]]:
    """(aisle, piece options, crossings) of the best route, left to right."""
    moves, key = [], DONE
    for aisle, states in reversed(layers):
        _, previous, options, crossings = states[key]
        moves.append((aisle, options, crossings))
        key = previous
    return moves[::-1]


def _route_graph(layout: Layout, pieces: dict, moves: list) -> dict:
    """Adjacency lists (node -> list of (edge id, neighbour)) of the route's multigraph."""
    graph: dict = defaultdict(list)
    edge_ids = itertools.count()

    def walk(nodes: list, times: int) -> None:
        for a, b in zip(nodes, nodes[1:]):
            for _ in range(times):
                edge = next(edge_ids)
                graph[a].append((edge, b))
                graph[b].append((edge, a))

    for aisle, options, crossings in moves:
        for low, option in enumerate(options):
            positions = pieces[aisle][low] if aisle in pieces else []
            for nodes, times in _piece_walks(aisle, low, option, positions):
                walk(nodes, times)
        for row, times in enumerate(crossings):
            walk([("cross", aisle, row), ("cross", aisle + 1, row)], times)
    return graph


def _piece_walks(aisle: int, low: int, option: int, positions: list[float]) -> list[tuple[list, int]]:
    places = [("place", Location(aisle, p)) for p in positions]
    bottom, top = ("cross", aisle, low), ("cross", aisle, low + 1)
    if option == SKIP:
        return []
    if option in (THROUGH, TWICE_THROUGH):
        return [([bottom, *places, top], 1 if option == THROUGH else 2)]
    if option == FROM_LOW:
        return [([bottom, *places], 2)]
    if option == FROM_HIGH:
        return [([*places, top], 2)]
    cut, _ = _largest_inner_gap(positions)
    return [([bottom, *places[:cut]], 2), ([*places[cut:], top], 2)]


def _euler_circuit(graph: dict, start) -> list:
    """Hierholzer's algorithm: a closed walk using every edge once."""
    used: set = set()
    position = {node: 0 for node in graph}
    stack, circuit = [start], []
    while stack:
        node = stack[-1]
        edges = graph[node]
        while position[node] < len(edges) and edges[position[node]][0] in used:
            position[node] += 1
        if position[node] == len(edges):
            circuit.append(stack.pop())
        else:
            edge, neighbour = edges[position[node]]
            used.add(edge)
            stack.append(neighbour)
    return circuit[::-1]


def _first_visits(circuit: list, wanted: set) -> list[Location]:
    order, seen = [], set()
    for kind, *rest in circuit:
        place = rest[0] if kind == "place" else None
        if place in wanted and place not in seen:
            seen.add(place)
            order.append(place)
    return order


# ---------------------------------------------------------------- other layouts


def _held_karp_route(layout: Layout, places: list[Location]) -> list[Location]:
    """Exact visiting order over a distance matrix (depot first): Held-Karp, vectorised."""
    import numpy as np

    points = [layout.depot, *places]
    matrix = np.array([[distance(layout, a, b) for b in points] for a in points])
    n = len(places)
    best = np.full((1 << n, n), np.inf)
    came_from = np.full((1 << n, n), -1, dtype=np.int64)
    best[1 << np.arange(n), np.arange(n)] = matrix[0, 1:]
    between = matrix[1:, 1:]
    for subset in range(1, 1 << n):
        ends = [j for j in range(n) if subset >> j & 1]
        if len(ends) < 2:
            continue
        before = best[[subset ^ (1 << j) for j in ends]] + between[:, ends].T
        came_from[subset, ends] = before.argmin(axis=1)
        best[subset, ends] = before.min(axis=1)
    return [places[i] for i in _held_karp_order(best, came_from, matrix[1:, 0], n)]


def _held_karp_order(best, came_from, back_to_depot, n: int) -> list[int]:
    subset = (1 << n) - 1
    last = int((best[subset] + back_to_depot).argmin())
    order = []
    while last >= 0:
        order.append(last)
        subset, last = subset ^ (1 << last), int(came_from[subset, last])
    return order[::-1]


def _routing_route(layout: Layout, places: list[Location], deadline: float) -> list[Location]:
    """A good visiting order from OR-Tools routing with guided local search (not proven)."""
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    points = [layout.depot, *places]
    matrix = [[round(distance(layout, a, b) * 1000) for b in points] for a in points]
    manager = pywrapcp.RoutingIndexManager(len(points), 1, 0)
    routing = pywrapcp.RoutingModel(manager)
    routing.SetArcCostEvaluatorOfAllVehicles(routing.RegisterTransitMatrix(matrix))
    parameters = pywrapcp.DefaultRoutingSearchParameters()
    parameters.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    parameters.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    parameters.time_limit.FromMilliseconds(max(100, int((deadline - time.perf_counter()) * 1000)))
    solution = routing.SolveWithParameters(parameters)
    if solution is None:
        raise TimeoutError("pick path: routing found no route in time")
    order, index = [], solution.Value(routing.NextVar(routing.Start(0)))
    while not routing.IsEnd(index):
        order.append(places[manager.IndexToNode(index) - 1])
        index = solution.Value(routing.NextVar(index))
    return order


def main(argv: list[str] | None = None) -> int:
    """Command line: python -m solvers.pickpath INSTANCE.json [--baseline] [--time-limit S]."""
    return _cli.run(argv, prog="python -m solvers.pickpath", parse=parse_problem, solve=solve, baseline=baseline)


if __name__ == "__main__":
    sys.exit(main())
