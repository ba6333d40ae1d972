"""Order routing: optimal on tiny instances, always feasible, baseline per spec, strict input, quiet CLI."""
from __future__ import annotations

import itertools
import json
import random
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from bench.routing import generate
from solvers import routing
from solvers._instance import InstanceError

ROOT = Path(__file__).resolve().parents[3]


# ---------------------------------------------------------------- helpers


def instance(**overrides) -> dict:
    """Two warehouses, EAST cheap to Z1, WEST cheap to Z2; plenty of stock of TEE and MUG."""
    raw = {
        "warehouses": [
            {"id": "EAST", "capacity_units": None, "handling_cost_per_unit": 0.5},
            {"id": "WEST", "capacity_units": None, "handling_cost_per_unit": 0.5},
        ],
        "stock": [
            {"warehouse": "EAST", "sku": "TEE", "qty": 10},
            {"warehouse": "EAST", "sku": "MUG", "qty": 10},
            {"warehouse": "WEST", "sku": "TEE", "qty": 10},
            {"warehouse": "WEST", "sku": "MUG", "qty": 10},
        ],
        "lanes": [
            {"warehouse": "EAST", "zone": "Z1", "cost": 5.0, "transit_days": 1},
            {"warehouse": "WEST", "zone": "Z1", "cost": 9.0, "transit_days": 3},
            {"warehouse": "EAST", "zone": "Z2", "cost": 9.0, "transit_days": 3},
            {"warehouse": "WEST", "zone": "Z2", "cost": 5.0, "transit_days": 1},
        ],
        "orders": [
            {"id": "SO-1", "zone": "Z1", "sla_days": 2, "priority": 1,
             "lines": [{"sku": "TEE", "qty": 2}, {"sku": "MUG", "qty": 1}]},
        ],
        "split_penalty": 4.0,
        "unfilled_penalty_per_unit": 50.0,
        "late_penalty_per_day": 8.0,
        "max_shipments_per_order": None,
        "time_limit_s": 5,
    }
    raw.update(overrides)
    return raw


def order(oid: str, zone: str, lines: list[tuple[str, int]], priority: int = 1, sla: int = 2, **extra) -> dict:
    return {"id": oid, "zone": zone, "sla_days": sla, "priority": priority,
            "lines": [{"sku": s, "qty": q} for s, q in lines], **extra}


def stock(*entries: tuple[str, str, int]) -> list[dict]:
    return [{"warehouse": w, "sku": s, "qty": q} for w, s, q in entries]


def solve(raw: dict, **kwargs) -> dict:
    problem = routing.parse_problem(raw)
    answer = routing.solve(problem, time_limit_s=kwargs.pop("time_limit_s", 5), **kwargs).to_json()
    assert_feasible(raw, answer)
    return answer


def run_baseline(raw: dict) -> dict:
    answer = routing.baseline(routing.parse_problem(raw)).to_json()
    assert_feasible(raw, answer)
    return answer


def shipped_from(answer: dict, oid: str) -> dict[tuple[str, str], int]:
    return {(a["warehouse"], a["sku"]): a["qty"] for a in answer["allocations"] if a["order"] == oid}


def assert_feasible(raw: dict, answer: dict) -> None:
    """Every hard constraint of the spec, checked from the raw instance, plus the answer's bookkeeping."""
    warehouses = {w["id"]: w for w in raw["warehouses"]}
    lanes = {(l["warehouse"], l["zone"]) for l in raw["lanes"]}
    orders = {o["id"]: o for o in raw["orders"]}
    on_hand = defaultdict(int)
    for entry in raw["stock"]:
        on_hand[(entry["warehouse"], entry["sku"])] += entry["qty"]
    demand = defaultdict(int)
    for o in raw["orders"]:
        for line in o["lines"]:
            demand[(o["id"], line["sku"])] += line["qty"]
    per_line, per_stock, per_warehouse, shipments = defaultdict(int), defaultdict(int), defaultdict(int), defaultdict(set)
    for a in answer["allocations"]:
        assert isinstance(a["qty"], int) and a["qty"] > 0, a
        assert a["warehouse"] in warehouses and (a["order"], a["sku"]) in demand, a
        assert (a["warehouse"], orders[a["order"]]["zone"]) in lanes, f"no lane for {a}"
        per_line[(a["order"], a["sku"])] += a["qty"]
        per_stock[(a["warehouse"], a["sku"])] += a["qty"]
        per_warehouse[a["warehouse"]] += a["qty"]
        shipments[a["order"]].add(a["warehouse"])
    for key, qty in per_line.items():
        assert qty <= demand[key], f"{key} over demand"
    for key, qty in per_stock.items():
        assert qty <= on_hand[key], f"{key} over stock"
    for wid, qty in per_warehouse.items():
        capacity = warehouses[wid].get("capacity_units")
        assert capacity is None or qty <= capacity, f"{wid} over capacity"
    for oid, ws in shipments.items():
        limit = orders[oid].get("max_shipments", raw.get("max_shipments_per_order"))
        assert limit is None or len(ws) <= limit, f"{oid}: too many shipments"
    unfilled = {(u["order"], u["sku"]): u["qty"] for u in answer["unfilled"]}
    for key, qty in demand.items():
        assert unfilled.get(key, 0) == qty - per_line[key], f"unfilled of {key} misreported"
    assert [p["order"] for p in answer["orders"]] == [o["id"] for o in raw["orders"]]
    assert all(p["explanation"] and "\n" not in p["explanation"] for p in answer["orders"])
    assert answer["objective"] == pytest.approx(sum(p["cost"] for p in answer["orders"]), abs=1e-6)
    problem = routing.parse_problem(raw)
    assert answer["objective"] == pytest.approx(routing.evaluate(problem, answer["allocations"]), abs=1e-6)
    if answer["bound"] is not None:
        assert answer["bound"] <= answer["objective"] + 1e-6


# ---------------------------------------------------------------- brute force


def tiny_instance(seed: int) -> dict:
    rng = random.Random(seed)
    whs = [f"W{k}" for k in range(rng.randint(2, 3))]
    skus = ["A", "B", "C"]
    orders = []
    for k in range(rng.randint(2, 3)):
        lines = [(s, rng.choice((1, 1, 2))) for s in rng.sample(skus, rng.randint(1, 2))]
        ship_complete = {"max_shipments": 1} if rng.random() < 0.3 else {}
        zone, priority, sla = rng.choice(("Z1", "Z2")), rng.randint(1, 3), rng.randint(0, 2)
        orders.append(order(f"O{k}", zone, lines, priority, sla, **ship_complete))
    lanes = [{"warehouse": w, "zone": z, "cost": round(rng.uniform(1, 8), 2), "transit_days": rng.randint(0, 3)}
             for w in whs for z in ("Z1", "Z2") if rng.random() < 0.8]
    return instance(
        warehouses=[{"id": w, "capacity_units": rng.choice((None, None, 1, 2, 3)),
                     "handling_cost_per_unit": round(rng.uniform(0.1, 0.5), 2)} for w in whs],
        stock=stock(*[(w, s, rng.randint(0, 2)) for w in whs for s in skus]),
        lanes=lanes,
        orders=orders,
        split_penalty=round(rng.uniform(0, 4), 1),
        unfilled_penalty_per_unit=round(rng.uniform(3, 20), 1),
        late_penalty_per_day=round(rng.uniform(0, 3), 1),
        max_shipments_per_order=rng.choice((None, 1, 2)),
    )


def brute_force_optimum(raw: dict) -> float:
    """Cheapest cost over every feasible allocation, by enumeration."""
    problem = routing.parse_problem(raw)
    pairs = [(o, s, d) for o in problem.orders for s, d in o.demand.items()]
    choices = []
    for o, s, d in pairs:
        reachable = problem.reachable(o.zone)
        splits = [q for q in itertools.product(range(d + 1), repeat=len(reachable)) if sum(q) <= d]
        choices.append([[routing.Allocation(o.id, s, w, n) for w, n in zip(reachable, q) if n] for q in splits])
    best = float("inf")
    for combination in itertools.product(*choices):
        plan = [a for part in combination for a in part]
        if not routing.plan_violations(problem, plan):
            best = min(best, routing.evaluate(problem, plan))
    return best


@pytest.mark.parametrize("seed", range(30))
def test_the_solver_matches_brute_force_on_tiny_random_instances(seed):
    raw = tiny_instance(seed)
    answer = solve(raw)
    assert answer["status"] == "optimal"
    assert answer["objective"] == pytest.approx(brute_force_optimum(raw), abs=1e-6)
    assert answer["bound"] == pytest.approx(answer["objective"], abs=1e-6)


@pytest.mark.parametrize("seed", range(20))
def test_the_plan_solver_used_for_large_instances_is_feasible_and_its_bound_is_proven(seed, monkeypatch):
    monkeypatch.setattr(routing, "_FULL_MODEL_ARCS", 0)
    raw = tiny_instance(seed)
    answer = solve(raw)
    optimum = brute_force_optimum(raw)
    assert answer["bound"] <= optimum + 1e-6
    assert answer["objective"] >= optimum - 1e-6
    assert answer["objective"] <= run_baseline(raw)["objective"] + 1e-6


@pytest.mark.parametrize("seed", range(20))
def test_any_prices_give_a_lower_bound_on_the_optimum(seed):
    raw = tiny_instance(seed)
    optimum = brute_force_optimum(raw)
    space = routing._PlanSpace(routing.parse_problem(raw))
    rng = np.random.default_rng(seed)
    for _ in range(5):
        prices = routing._Prices(
            np.append(rng.exponential(3.0, space.n_stock_rows), 0.0), rng.exponential(2.0, len(space.ids))
        )
        bound, _, _ = space.lagrangian(prices)
        assert bound <= optimum + 1e-6


@pytest.mark.parametrize("seed", range(20))
def test_an_order_alone_gets_its_cheapest_plan_from_pricing(seed):
    raw = tiny_instance(seed)
    raw["orders"] = raw["orders"][:1]
    for warehouse in raw["warehouses"]:
        warehouse["capacity_units"] = None  # pricing relaxes capacity across an order's lines
    space = routing._PlanSpace(routing.parse_problem(raw))
    bound, _, _ = space.lagrangian(space.zero_prices())
    assert bound == pytest.approx(brute_force_optimum(raw), abs=1e-6)


def test_orders_reaching_many_warehouses_keep_a_proven_bound(monkeypatch):
    monkeypatch.setattr(routing, "_FULL_MODEL_ARCS", 0)
    rng = random.Random(5)
    whs = [f"W{k:02d}" for k in range(11)]
    raw = instance(
        warehouses=[{"id": w, "capacity_units": None, "handling_cost_per_unit": 0.5} for w in whs],
        stock=stock(*[(w, s, rng.randint(0, 1)) for w in whs for s in ("TEE", "MUG")]),
        lanes=[{"warehouse": w, "zone": "Z1", "cost": round(rng.uniform(3, 9), 2), "transit_days": 1} for w in whs],
        orders=[order("SO-1", "Z1", [("TEE", 1), ("MUG", 1)]), order("SO-2", "Z1", [("TEE", 1)])],
    )
    space = routing._PlanSpace(routing.parse_problem(raw))
    assert all(group.relaxed for group in space.groups)
    answer = solve(raw)
    assert answer["bound"] <= brute_force_optimum(raw) + 1e-6 <= answer["objective"] + 2e-6


def test_pricing_in_small_passes_gives_the_same_plans(monkeypatch):
    space = routing._PlanSpace(routing.parse_problem(generate(300, 5, 80, seed=8)))
    values, best = space.price(space.zero_prices())
    monkeypatch.setattr(routing, "_PRICING_CELLS", 40)
    small_values, small_best = space.price(space.zero_prices())
    assert np.array_equal(values, small_values) and np.array_equal(best, small_best)


@pytest.mark.parametrize("seed", range(30))
def test_the_baseline_is_feasible_and_never_beats_the_solver(seed):
    raw = tiny_instance(seed)
    assert run_baseline(raw)["objective"] >= solve(raw)["objective"] - 1e-6


# ---------------------------------------------------------------- routing rules


def test_an_order_ships_whole_from_one_warehouse_when_that_is_cheapest():
    answer = solve(instance())
    assert shipped_from(answer, "SO-1") == {("EAST", "TEE"): 2, ("EAST", "MUG"): 1}
    assert answer["orders"][0]["warehouses"] == ["EAST"]
    assert answer["orders"][0]["cost"] == pytest.approx(5.0 + 3 * 0.5)


def test_an_order_splits_when_no_warehouse_has_all_its_lines():
    raw = instance(stock=stock(("EAST", "TEE", 5), ("WEST", "MUG", 5)))
    answer = solve(raw)
    assert shipped_from(answer, "SO-1") == {("EAST", "TEE"): 2, ("WEST", "MUG"): 1}
    late = 8.0 * (3 - 2)
    assert answer["objective"] == pytest.approx(5.0 + 9.0 + late + 4.0 + 1.5)
    assert "no single warehouse" in answer["orders"][0]["explanation"]


def test_several_lines_of_one_sku_count_as_one_demand():
    raw = instance(orders=[order("SO-1", "Z1", [("TEE", 1), ("TEE", 2)])], stock=stock(("EAST", "TEE", 2)))
    answer = solve(raw)
    assert shipped_from(answer, "SO-1") == {("EAST", "TEE"): 2}
    assert answer["unfilled"] == [{"order": "SO-1", "sku": "TEE", "qty": 1}]


def test_a_sku_with_no_stock_anywhere_is_simply_unfilled():
    raw = instance(orders=[order("SO-1", "Z1", [("TEE", 1), ("GHOST", 2)])])
    answer = solve(raw)
    assert shipped_from(answer, "SO-1") == {("EAST", "TEE"): 1}
    assert answer["unfilled"] == [{"order": "SO-1", "sku": "GHOST", "qty": 2}]


def test_capacity_limits_what_a_warehouse_ships():
    raw = instance(
        warehouses=[{"id": "EAST", "capacity_units": 2, "handling_cost_per_unit": 0.5},
                    {"id": "WEST", "capacity_units": None, "handling_cost_per_unit": 0.5}],
        orders=[order("SO-1", "Z1", [("TEE", 2)]), order("SO-2", "Z1", [("MUG", 2)])],
    )
    for answer in (solve(raw), run_baseline(raw)):
        assert sum(a["qty"] for a in answer["allocations"] if a["warehouse"] == "EAST") <= 2
        assert sum(a["qty"] for a in answer["allocations"]) == 4


def test_max_shipments_per_order_is_never_exceeded():
    raw = instance(
        stock=stock(("EAST", "TEE", 5), ("WEST", "MUG", 5)),
        max_shipments_per_order=1,
    )
    for answer in (solve(raw), run_baseline(raw)):
        assert len(answer["orders"][0]["warehouses"]) <= 1
        assert answer["unfilled"]


def test_a_ship_complete_order_ships_from_one_warehouse_while_others_may_split():
    raw = instance(
        stock=stock(("EAST", "TEE", 5), ("WEST", "MUG", 5)),
        orders=[order("SO-1", "Z1", [("TEE", 2), ("MUG", 1)], max_shipments=1),
                order("SO-2", "Z1", [("TEE", 1), ("MUG", 1)])],
    )
    for answer in (solve(raw), run_baseline(raw)):
        plans = {p["order"]: p["warehouses"] for p in answer["orders"]}
        assert len(plans["SO-1"]) == 1 and plans["SO-2"] == ["EAST", "WEST"]


def test_an_order_may_allow_more_shipments_than_the_instance():
    raw = instance(
        stock=stock(("EAST", "TEE", 5), ("WEST", "MUG", 5)),
        orders=[order("SO-1", "Z1", [("TEE", 2), ("MUG", 1)], max_shipments=2)],
        max_shipments_per_order=1,
    )
    assert solve(raw)["orders"][0]["warehouses"] == ["EAST", "WEST"]


def test_units_only_travel_along_existing_lanes():
    raw = instance(lanes=[{"warehouse": "WEST", "zone": "Z1", "cost": 9.0, "transit_days": 1}])
    for answer in (solve(raw), run_baseline(raw)):
        assert {a["warehouse"] for a in answer["allocations"]} == {"WEST"}


def test_an_order_without_any_lane_is_left_unfilled():
    raw = instance(orders=[order("SO-1", "Z9", [("TEE", 1)])])
    answer = solve(raw)
    assert answer["allocations"] == [] and answer["unfilled"] == [{"order": "SO-1", "sku": "TEE", "qty": 1}]
    assert answer["orders"][0]["warehouses"] == []


def test_priority_gets_the_scarce_stock():
    raw = instance(
        stock=stock(("EAST", "TEE", 1)),
        orders=[order("SO-1", "Z1", [("TEE", 1)], priority=1), order("SO-2", "Z1", [("TEE", 1)], priority=3)],
    )
    for answer in (solve(raw), run_baseline(raw)):
        assert shipped_from(answer, "SO-2") == {("EAST", "TEE"): 1}
        assert answer["unfilled"] == [{"order": "SO-1", "sku": "TEE", "qty": 1}]


def test_lateness_is_priced_per_day_beyond_the_sla():
    raw = instance(orders=[order("SO-1", "Z1", [("TEE", 1)], sla=0)])
    problem = routing.parse_problem(raw)
    cost = routing.evaluate(problem, [routing.Allocation("SO-1", "TEE", "WEST", 1)])
    assert cost == pytest.approx(9.0 + 8.0 * 3 + 0.5)


# ---------------------------------------------------------------- baseline


def test_the_baseline_ships_whole_from_the_cheapest_warehouse_that_can():
    raw = instance(stock=stock(("EAST", "TEE", 1), ("EAST", "MUG", 1), ("WEST", "TEE", 5), ("WEST", "MUG", 5)))
    assert shipped_from(run_baseline(raw), "SO-1") == {("WEST", "TEE"): 2, ("WEST", "MUG"): 1}


def test_the_baseline_goes_line_by_line_from_the_cheapest_warehouse_with_stock_left():
    raw = instance(stock=stock(("EAST", "TEE", 1), ("EAST", "MUG", 1), ("WEST", "TEE", 1)))
    assert shipped_from(run_baseline(raw), "SO-1") == {("EAST", "TEE"): 1, ("EAST", "MUG"): 1, ("WEST", "TEE"): 1}


def test_the_baseline_serves_higher_priority_then_lower_ids_first():
    raw = instance(
        stock=stock(("EAST", "TEE", 2)),
        orders=[order("SO-3", "Z1", [("TEE", 1)]), order("SO-2", "Z1", [("TEE", 1)], priority=2),
                order("SO-1", "Z1", [("TEE", 1)])],
    )
    answer = run_baseline(raw)
    assert {a["order"] for a in answer["allocations"]} == {"SO-2", "SO-1"}
    assert answer["status"] == "feasible" and answer["bound"] is None


# ---------------------------------------------------------------- answers


def test_every_order_has_a_one_line_explanation_naming_the_next_best_choice():
    raw = generate(40, 4, 60, seed=3)
    answer = solve(raw)
    assert len(answer["orders"]) == 40
    assert all(p["explanation"] for p in answer["orders"])
    assert any("next best" in p["explanation"] for p in answer["orders"])


def test_a_generated_small_instance_is_solved_to_proven_optimality():
    raw = generate(40, 4, 60, seed=11)
    answer = solve(raw)
    assert answer["status"] == "optimal"
    assert answer["objective"] < run_baseline(raw)["objective"]


def test_progress_is_reported_ending_with_the_final_figures():
    seen = []
    answer = solve(generate(30, 3, 40, seed=5), progress=lambda obj, bound, done: seen.append((obj, bound, done)))
    assert seen and all(0.0 <= done <= 1.0 for _, _, done in seen)
    assert seen[-1] == (pytest.approx(answer["objective"]), pytest.approx(answer["bound"]), 1.0)


def test_a_large_instance_is_solved_over_plans_close_to_its_proven_bound():
    raw = generate(800, 5, 200, seed=4)
    assert not routing._whole_model_fits(routing.parse_problem(raw))
    seen = []
    answer = solve(raw, time_limit_s=20, progress=lambda obj, bound, done: seen.append(bound))
    assert answer["status"] in ("feasible", "optimal")
    assert answer["objective"] - answer["bound"] <= 0.02 * answer["objective"]
    assert answer["objective"] < 0.8 * run_baseline(raw)["objective"]
    bounds = [b for b in seen if b is not None]
    assert bounds == sorted(bounds) and bounds[-1] == pytest.approx(answer["bound"])


def test_a_large_instance_keeps_a_short_time_limit():
    raw = generate(2000, 5, 400, seed=6)
    problem = routing.parse_problem(raw)
    answer = routing.solve(problem, time_limit_s=2).to_json()
    assert answer["solve_seconds"] <= 3.0
    assert_feasible(raw, answer)


def test_a_failing_solver_falls_back_to_the_baseline(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("solver crashed")

    monkeypatch.setattr(routing, "_optimise", broken)
    raw = generate(30, 3, 40, seed=2)
    answer = solve(raw)
    assert answer["status"] == "fallback" and answer["bound"] is None
    assert answer["allocations"] == run_baseline(raw)["allocations"]


def test_an_infeasible_plan_from_the_solver_is_never_returned(monkeypatch):
    def overshipping(problem, clock, progress):
        too_many = [routing.Allocation(o.id, s, "EAST", d + 5) for o in problem.orders for s, d in o.demand.items()]
        return routing._Outcome("optimal", too_many, None)

    monkeypatch.setattr(routing, "_optimise", overshipping)
    answer = solve(instance())
    assert answer["status"] == "fallback"


def test_the_to_json_answer_has_exactly_the_spec_keys():
    answer = solve(instance())
    assert set(answer) == {"status", "objective", "bound", "solve_seconds", "allocations", "unfilled", "orders"}
    assert set(answer["orders"][0]) == {"order", "warehouses", "cost", "explanation"}


# ---------------------------------------------------------------- malformed instances


def without(raw: dict, path: list) -> dict:
    target = raw
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return raw


def with_value(raw: dict, path: list, value) -> dict:
    target = raw
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return raw


MALFORMED = [
    (lambda: without(instance(), ["warehouses"]), "warehouses"),
    (lambda: without(instance(), ["split_penalty"]), "split_penalty"),
    (lambda: with_value(instance(), ["orders"], {"SO-1": 1}), "orders"),
    (lambda: with_value(instance(), ["stock", 0, "qty"], -1), "stock[0].qty"),
    (lambda: with_value(instance(), ["stock", 1, "warehouse"], "NORTH"), "stock[1].warehouse"),
    (lambda: with_value(instance(), ["lanes", 2, "warehouse"], "NORTH"), "lanes[2].warehouse"),
    (lambda: with_value(instance(), ["lanes", 0, "cost"], -2.0), "lanes[0].cost"),
    (lambda: with_value(instance(), ["lanes", 1], {"warehouse": "EAST", "zone": "Z1", "cost": 1, "transit_days": 1}),
     "lanes[1].zone"),
    (lambda: with_value(instance(), ["orders", 0, "lines", 1, "qty"], -3), "orders[0].lines[1].qty"),
    (lambda: with_value(instance(), ["orders", 0, "lines", 0, "qty"], "two"), "orders[0].lines[0].qty"),
    (lambda: without(instance(), ["orders", 0, "lines", 0, "sku"]), "orders[0].lines[0].sku"),
    (lambda: without(instance(), ["orders", 0, "zone"]), "orders[0].zone"),
    (lambda: with_value(instance(), ["orders", 0, "priority"], -1), "orders[0].priority"),
    (lambda: with_value(instance(), ["orders"], [order("A", "Z1", []), order("A", "Z2", [])]), "orders[1].id"),
    (lambda: with_value(instance(), ["warehouses", 1, "id"], "EAST"), "warehouses[1].id"),
    (lambda: with_value(instance(), ["warehouses", 0, "capacity_units"], 2.5), "warehouses[0].capacity_units"),
    (lambda: with_value(instance(), ["max_shipments_per_order"], 0), "max_shipments_per_order"),
    (lambda: with_value(instance(), ["orders", 0, "max_shipments"], 0), "orders[0].max_shipments"),
    (lambda: with_value(instance(), ["orders", 0, "max_shipments"], "one"), "orders[0].max_shipments"),
    (lambda: with_value(instance(), ["time_limit_s"], 0), "time_limit_s"),
    (lambda: [], "instance"),
]


@pytest.mark.parametrize("make, field", MALFORMED, ids=[field for _, field in MALFORMED])
def test_a_malformed_instance_raises_an_error_naming_the_field(make, field):
    with pytest.raises(InstanceError) as error:
        routing.parse_problem(make())
    assert error.value.field == field


def test_optional_fields_take_their_defaults():
    raw = instance()
    del raw["max_shipments_per_order"], raw["time_limit_s"], raw["orders"][0]["priority"]
    del raw["warehouses"][0]["capacity_units"]
    problem = routing.parse_problem(raw)
    assert problem.max_shipments_per_order is None and problem.time_limit_s == 10
    assert problem.orders[0].max_shipments is None
    assert problem.orders[0].priority == 1 and problem.warehouse["EAST"].capacity_units is None


# ---------------------------------------------------------------- command line


def run_cli(tmp_path: Path, raw, *flags: str) -> subprocess.CompletedProcess:
    path = tmp_path / "instance.json"
    path.write_text(json.dumps(raw))
    return subprocess.run(
        [sys.executable, "-m", "solvers.routing", str(path), *flags],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )


def test_the_command_line_prints_one_json_answer(tmp_path):
    raw = instance()
    done = run_cli(tmp_path, raw)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert_feasible(raw, answer)
    assert answer["status"] == "optimal"


def test_the_command_line_baseline_flag_prints_the_baseline(tmp_path):
    raw = instance(stock=stock(("EAST", "TEE", 1), ("WEST", "TEE", 5), ("WEST", "MUG", 5), ("EAST", "MUG", 5)))
    done = run_cli(tmp_path, raw, "--baseline")
    assert done.returncode == 0
    answer = json.loads(done.stdout)
    assert answer["allocations"] == run_baseline(raw)["allocations"]


def test_the_command_line_time_limit_overrides_the_instance(tmp_path):
    raw = generate(300, 4, 80, seed=9)
    raw["time_limit_s"] = 600
    done = run_cli(tmp_path, raw, "--time-limit", "1")
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["solve_seconds"] <= 1.5
    assert_feasible(raw, answer)


def test_the_command_line_keeps_what_a_solver_library_prints_off_stdout(tmp_path):
    path = tmp_path / "instance.json"
    path.write_text(json.dumps(instance()))
    chatty = (
        "import ctypes, sys\n"
        "from solvers import routing\n"
        "solve = routing.solve\n"
        "def chatty(*args, **kwargs):\n"
        "    ctypes.CDLL(None).printf(b'library chatter\\n')\n"
        "    return solve(*args, **kwargs)\n"
        "routing.solve = chatty\n"
        f"sys.exit(routing.main([{str(path)!r}]))\n"
    )
    done = subprocess.run([sys.executable, "-c", chatty], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "optimal"
    assert "library chatter" in done.stderr


CLI_MALFORMED = MALFORMED[1:5:3] + [m for m in MALFORMED if m[1] == "orders[0].max_shipments"][:1]


@pytest.mark.parametrize("make, field", CLI_MALFORMED, ids=[field for _, field in CLI_MALFORMED])
def test_the_command_line_rejects_a_malformed_instance_with_one_line(tmp_path, make, field):
    done = run_cli(tmp_path, make())
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(field) and "Traceback" not in done.stderr
