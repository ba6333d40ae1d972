"""Cartonization: minimal cost on tiny orders, valid packings always, the contract's command line."""
from __future__ import annotations

import functools
import itertools
import json
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from solvers import cartonize
from solvers._instance import InstanceError
from solvers.cartonize import (CartonResult, Package, Placement, baseline, check_packing, parse_problem,
                               solve)

REPO = Path(__file__).resolve().parents[3]

SPEC_EXAMPLE = {
    "boxes": [{"id": "S", "length": 30, "width": 20, "height": 10, "max_weight": 5.0, "cost": 0.60}],
    "items": [{"id": "I1", "sku": "MUG-BLUE", "length": 10, "width": 10, "height": 9, "weight": 0.35}],
    "time_limit_s": 2,
}


def instance(boxes, items, time_limit_s=2):
    return {
        "boxes": [{"id": b, "length": l, "width": w, "height": h, "max_weight": m, "cost": c}
                  for b, (l, w, h, m, c) in boxes.items()],
        "items": [{"id": i, "sku": f"SKU-{i}", "length": l, "width": w, "height": h, "weight": g}
                  for i, (l, w, h, g) in items.items()],
        "time_limit_s": time_limit_s,
    }


def run_cli(tmp_path, raw, *flags):
    path = tmp_path / "instance.json"
    path.write_text(raw if isinstance(raw, str) else json.dumps(raw))
    return subprocess.run([sys.executable, "-m", "solvers.cartonize", str(path), *flags],
                          capture_output=True, text=True, cwd=REPO, timeout=60)


# ----------------------------------------------------------------------------- brute force


@functools.lru_cache(maxsize=None)
def fits_exhaustively(item_dims: tuple, box_dims: tuple) -> bool:
    """Exact 3D packing on the unit grid: fill the first empty cell with an item corner, or leave it empty."""
    length, width, height = box_dims
    cells = length * width * height

    def mask(x, y, z, l, w, h):
        if x + l > length or y + w > width or z + h > height:
            return None
        return sum(1 << ((z + dz) * width * length + (y + dy) * length + x + dx)
                   for dx in range(l) for dy in range(w) for dz in range(h))

    @functools.lru_cache(maxsize=None)
    def search(filled: int, remaining: tuple) -> bool:
        if not remaining:
            return True
        if cells - bin(filled).count("1") < sum(l * w * h for l, w, h in remaining):
            return False
        cell = (~filled & (filled + 1)).bit_length() - 1
        x, y, z = cell % length, cell // length % width, cell // (length * width)
        for dims in set(remaining):
            rest = list(remaining)
            rest.remove(dims)
            for l, w, h in set(itertools.permutations(dims)):
                shape = mask(x, y, z, l, w, h)
                if shape is not None and not shape & filled and search(filled | shape, tuple(rest)):
                    return True
        return search(filled | (1 << cell), remaining)

    return search(0, tuple(sorted(tuple(sorted(d)) for d in item_dims)))


def set_partitions(elements):
    if not elements:
        yield []
        return
    first, rest = elements[0], elements[1:]
    for partition in set_partitions(rest):
        yield [[first], *partition]
        for index in range(len(partition)):
            yield partition[:index] + [[first, *partition[index]]] + partition[index + 1:]


def brute_force_cost(problem) -> float:
    best = float("inf")
    for partition in set_partitions(list(problem.items)):
        cost = sum(cheapest_box_for(group, problem.boxes) for group in partition)
        best = min(best, cost)
    return best


def cheapest_box_for(group, boxes) -> float:
    weight = sum(item.weight for item in group)
    dims = tuple(tuple(int(d) for d in item.dims) for item in group)
    usable = [box.cost for box in boxes
              if weight <= box.max_weight + 1e-9 and fits_exhaustively(dims, tuple(int(d) for d in box.dims))]
    return min(usable, default=float("inf"))


def test_the_brute_force_oracle_knows_a_pinwheel_from_an_impossible_fit():
    assert fits_exhaustively(((2, 1, 1),) * 4, (3, 3, 1))
    assert not fits_exhaustively(((2, 2, 1),) * 3, (3, 3, 1))
    assert not fits_exhaustively(((2, 2, 2),) * 2, (3, 3, 3))


side = st.integers(1, 4)
tiny_box = st.tuples(side, side, side, st.integers(1, 8), st.sampled_from([0.3, 0.5, 0.8, 1.0, 1.2]))
tiny_item = st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(0, 4))


@st.composite
def tiny_problems(draw):
    boxes = draw(st.lists(tiny_box, min_size=2, max_size=3))
    items = draw(st.lists(tiny_item, min_size=1, max_size=4))
    raw = instance({f"B{n}": b for n, b in enumerate(boxes)}, {f"I{n}": i for n, i in enumerate(items)}, 10)
    try:
        return parse_problem(raw)
    except InstanceError:
        assume(False)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(tiny_problems())
def test_the_solver_finds_the_brute_force_minimum_cost_on_tiny_orders(problem):
    result = solve(problem)
    assert check_packing(problem, result) == []
    assert result.cost == pytest.approx(brute_force_cost(problem))
    assert result.status == "optimal"


# ----------------------------------------------------------------------------- validity


dimension = st.one_of(st.integers(1, 60), st.floats(0.5, 60, allow_nan=False).map(lambda d: round(d, 3)))
random_item = st.tuples(dimension, dimension, dimension, st.floats(0, 3).map(lambda g: round(g, 2)))


@st.composite
def random_problems(draw):
    catalogue = [(20, 15, 10, 5, 0.35), (30, 20, 15, 10, 0.55), (40, 30, 20, 15, 0.85), (60, 40, 40, 25, 1.75)]
    boxes = draw(st.lists(st.sampled_from(catalogue), min_size=1, max_size=4, unique=True))
    items = draw(st.lists(random_item, min_size=1, max_size=14))
    raw = instance({f"B{n}": b for n, b in enumerate(boxes)}, {f"I{n}": i for n, i in enumerate(items)}, 0.3)
    try:
        return parse_problem(raw)
    except InstanceError:
        assume(False)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(random_problems())
def test_every_packing_the_solver_and_the_baseline_return_is_valid(problem):
    result = solve(problem)
    assert check_packing(problem, result) == []
    assert result.status != "fallback"
    assert check_packing(problem, baseline(problem)) == []


def test_the_solver_is_never_costlier_than_first_fit_decreasing():
    from bench.cartonize import random_order

    rng = random.Random(11)
    cheaper = 0
    for _ in range(60):
        problem = random_order(rng, time_limit_s=0.5)
        solved, ffd = solve(problem), baseline(problem)
        assert solved.cost <= ffd.cost + 1e-9
        cheaper += solved.cost < ffd.cost - 1e-9
    assert cheaper > 10


def test_one_box_beats_first_fit_decreasing_when_the_largest_item_opens_a_small_box():
    problem = parse_problem(instance(
        {"S": (30, 20, 10, 5, 0.6), "M": (40, 30, 20, 10, 0.9)},
        {"BOOK": (24, 16, 4, 0.8), "MUG1": (10, 10, 9, 0.35), "MUG2": (10, 10, 9, 0.35),
         "MUG3": (10, 10, 9, 0.35), "MUG4": (10, 10, 9, 0.35), "MUG5": (10, 10, 9, 0.35)}))
    assert baseline(problem).cost == pytest.approx(1.2)
    result = solve(problem)
    assert (result.status, result.cost, [p.box for p in result.packages]) == ("optimal", 0.9, ["M"])


def test_the_weight_limit_splits_an_order_that_would_fit_one_box_by_volume():
    problem = parse_problem(instance({"S": (30, 30, 30, 5, 1.0)}, {"A": (10, 10, 10, 3), "B": (10, 10, 10, 3)}))
    result = solve(problem)
    assert check_packing(problem, result) == []
    assert [p.weight for p in result.packages] == [3, 3]


def test_the_answer_has_exactly_the_keys_of_the_spec():
    answer = solve(parse_problem(SPEC_EXAMPLE)).to_json()
    assert answer == {"status": "optimal", "cost": 0.6, "packages": [
        {"box": "S", "weight": 0.35,
         "items": [{"item": "I1", "x": 0, "y": 0, "z": 0, "length": 10, "width": 10, "height": 9}]}]}


def test_an_empty_order_needs_no_box():
    result = solve(parse_problem({**SPEC_EXAMPLE, "items": []}))
    assert (result.status, result.cost, result.packages) == ("optimal", 0, ())


def test_the_search_stops_near_the_time_limit_on_a_large_order():
    items = {f"I{n}": ((7 + n % 5) * 1.01, 9 + n % 3, 4 + n % 7, 0.3) for n in range(30)}
    problem = parse_problem(instance({"M": (40, 30, 20, 15, 0.85), "L": (50, 40, 30, 20, 1.3)}, items))
    started = time.monotonic()
    result = solve(problem, time_limit_s=0.5)
    assert time.monotonic() - started < 1.0
    assert check_packing(problem, result) == []


# ----------------------------------------------------------------------------- the checker


def placed(item, x, y, z, l, w, h):
    return Placement(item, x, y, z, l, w, h)


TWO_CUBES = instance({"B": (20, 10, 10, 5, 1.0)}, {"A": (10, 10, 10, 1), "C": (10, 10, 10, 1)})


@pytest.mark.parametrize("packages, complaint", [
    ([Package("B", 2, (placed("A", 0, 0, 0, 10, 10, 10), placed("C", 5, 0, 0, 10, 10, 10)))], "overlaps"),
    ([Package("B", 2, (placed("A", 0, 0, 0, 10, 10, 10), placed("C", 11, 0, 0, 10, 10, 10)))], "not inside"),
    ([Package("B", 2, (placed("A", 0, 0, 0, 10, 10, 10), placed("C", 10, 0, 0, 10, 10, 9)))], "orientations"),
    ([Package("B", 1, (placed("A", 0, 0, 0, 10, 10, 10),))], "not packed"),
    ([Package("B", 1, (placed("A", 0, 0, 0, 10, 10, 10),)), Package("B", 2, (placed("A", 0, 0, 0, 10, 10, 10),
                                                                            placed("C", 10, 0, 0, 10, 10, 10)))],
     "packed 2 times"),
    ([Package("B", 3, (placed("A", 0, 0, 0, 10, 10, 10), placed("C", 10, 0, 0, 10, 10, 10)))], "sum of its items"),
])
def test_check_packing_names_each_kind_of_fault(packages, complaint):
    problem = parse_problem(TWO_CUBES)
    faults = check_packing(problem, CartonResult("feasible", sum(1.0 for _ in packages), tuple(packages)))
    assert any(complaint in fault for fault in faults), faults


def test_check_packing_rejects_a_package_over_its_weight_limit():
    problem = parse_problem(instance({"B": (20, 10, 10, 1.5, 1.0)}, {"A": (10, 10, 10, 1), "C": (10, 10, 10, 1)}))
    result = CartonResult("feasible", 1.0, (Package("B", 2, (placed("A", 0, 0, 0, 10, 10, 10),
                                                             placed("C", 10, 0, 0, 10, 10, 10))),))
    assert any("exceeds max_weight" in fault for fault in check_packing(problem, result))


# ----------------------------------------------------------------------------- fallback


def test_the_solver_returns_the_baseline_as_fallback_when_the_search_fails(monkeypatch):
    def broken(problem, time_limit_s):
        raise RuntimeError("search exploded")

    monkeypatch.setattr(cartonize, "_search", broken)
    problem = parse_problem(SPEC_EXAMPLE)
    result = solve(problem)
    assert result.status == "fallback"
    assert (result.cost, result.packages) == (baseline(problem).cost, baseline(problem).packages)


def test_the_solver_never_returns_an_invalid_packing_from_the_search(monkeypatch):
    problem = parse_problem(TWO_CUBES)
    overlapping = CartonResult("optimal", 1.0, (Package("B", 2, (placed("A", 0, 0, 0, 10, 10, 10),
                                                                 placed("C", 0, 0, 0, 10, 10, 10))),))
    monkeypatch.setattr(cartonize, "_search", lambda problem, time_limit_s: overlapping)
    result = solve(problem)
    assert result.status == "fallback"
    assert check_packing(problem, result) == []


# ----------------------------------------------------------------------------- parsing


@pytest.mark.parametrize("change, message", [
    (lambda raw: raw.pop("boxes"), "boxes: is missing"),
    (lambda raw: raw["items"][0].pop("weight"), "items[0].weight: is missing"),
    (lambda raw: raw["boxes"][0].update(length="30"), "boxes[0].length: must be a number"),
    (lambda raw: raw["boxes"][0].update(height=0), "boxes[0].height: must be positive"),
    (lambda raw: raw["items"][0].update(width=-1), "items[0].width: must be positive"),
    (lambda raw: raw["items"][0].update(weight=-0.1), "items[0].weight: must be at least 0"),
    (lambda raw: raw["boxes"][0].update(cost=-1), "boxes[0].cost: must be at least 0"),
    (lambda raw: raw["boxes"].append(dict(raw["boxes"][0])), "boxes[1].id: duplicate id 'S'"),
    (lambda raw: raw["items"].append(dict(raw["items"][0])), "items[1].id: duplicate id 'I1'"),
    (lambda raw: raw.update(items={}), "items: must be a list"),
    (lambda raw: raw.update(time_limit_s=0), "time_limit_s: must be positive"),
])
def test_a_malformed_instance_raises_an_error_naming_the_field(change, message):
    raw = json.loads(json.dumps(SPEC_EXAMPLE))
    change(raw)
    with pytest.raises(InstanceError) as error:
        parse_problem(raw)
    assert str(error.value) == message


def test_an_item_too_big_or_too_heavy_for_every_box_is_named_by_index_and_id():
    too_big = instance({"S": (30, 20, 10, 5, 0.6)}, {"I1": (1, 1, 1, 0), "I2": (1, 1, 1, 0), "I3": (1, 1, 1, 0),
                                                   "I4": (31, 5, 5, 0.1)})
    with pytest.raises(InstanceError, match=r"^items\[3\] \(I4\): fits no box"):
        parse_problem(too_big)
    too_heavy = instance({"S": (30, 20, 10, 5, 0.6), "M": (40, 30, 20, 8, 0.9)}, {"I1": (5, 5, 5, 9)})
    with pytest.raises(InstanceError, match=r"^items\[0\] \(I1\): fits no box"):
        parse_problem(too_heavy)


# ----------------------------------------------------------------------------- command line


def test_the_command_prints_one_json_answer_and_exits_0(tmp_path):
    done = run_cli(tmp_path, SPEC_EXAMPLE)
    assert (done.returncode, done.stderr) == (0, "")
    assert json.loads(done.stdout)["status"] == "optimal"


def test_an_item_that_fits_no_box_exits_2_naming_the_item(tmp_path):
    raw = json.loads(json.dumps(SPEC_EXAMPLE))
    raw["items"].append({"id": "TENT", "sku": "TENT-4P", "length": 70, "width": 20, "height": 20, "weight": 3})
    done = run_cli(tmp_path, raw)
    assert done.returncode == 2
    assert done.stderr == "items[1] (TENT): fits no box in any orientation\n"


@pytest.mark.parametrize("raw", [
    "{not json",
    json.dumps([1, 2]),
    json.dumps({**SPEC_EXAMPLE, "boxes": [{"id": "S", "length": 30}]}),
    json.dumps({**SPEC_EXAMPLE, "items": [{"id": "I1", "length": "big", "width": 1, "height": 1, "weight": 1}]}),
    json.dumps({**SPEC_EXAMPLE, "items": [{"id": "I1", "length": 1, "width": 1, "height": 1, "weight": -2}]}),
])
def test_a_malformed_instance_exits_2_with_one_stderr_line_and_no_traceback(tmp_path, raw):
    done = run_cli(tmp_path, raw)
    assert done.returncode == 2
    assert done.stdout == ""
    assert len(done.stderr.splitlines()) == 1
    assert "Traceback" not in done.stderr


def test_the_baseline_flag_prints_first_fit_decreasing_in_the_same_format(tmp_path):
    raw = instance({"S": (30, 20, 10, 5, 0.6), "M": (40, 30, 20, 10, 0.9)},
                   {"BOOK": (24, 16, 4, 0.8), "MUG1": (10, 10, 9, 0.35), "MUG2": (10, 10, 9, 0.35),
                    "MUG3": (10, 10, 9, 0.35), "MUG4": (10, 10, 9, 0.35), "MUG5": (10, 10, 9, 0.35)})
    ffd = json.loads(run_cli(tmp_path, raw, "--baseline").stdout)
    solved = json.loads(run_cli(tmp_path, raw).stdout)
    assert set(ffd) == set(solved) == {"status", "cost", "packages"}
    assert (ffd["cost"], solved["cost"]) == (1.2, 0.9)


def test_the_time_limit_flag_overrides_the_instance(tmp_path, monkeypatch, capsys):
    seen = []
    monkeypatch.setattr(cartonize, "solve", lambda problem, time_limit_s: seen.append(time_limit_s) or baseline(problem))
    path = tmp_path / "instance.json"
    path.write_text(json.dumps(SPEC_EXAMPLE))
    assert cartonize.main([str(path), "--time-limit", "0.7"]) == 0
    assert seen == [0.7]
    assert json.loads(capsys.readouterr().out)["cost"] == 0.6


def test_a_non_positive_time_limit_flag_exits_2(tmp_path):
    done = run_cli(tmp_path, SPEC_EXAMPLE, "--time-limit", "0")
    assert (done.returncode, done.stderr) == (2, "--time-limit: must be positive\n")
