"""Pick path: the distance rule, the S-shape baseline, the exact solver against brute force, the command line."""
from __future__ import annotations

import itertools
import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from solvers import pickpath
from solvers.pickpath import Layout, Location, Pick, Problem

ROOT = Path(__file__).resolve().parents[3]


def layout(cross_aisles=2, aisles=12, length=30.0, spacing=3.0, depot=(0, 0.0)) -> Layout:
    return Layout(aisles, length, spacing, cross_aisles, Location(*depot))


def problem(picks, **layout_args) -> Problem:
    return Problem(layout(**layout_args), tuple(Pick(f"P{i}", a, p) for i, (a, p) in enumerate(picks)))


def random_problem(rng: random.Random, picks: int, cross_aisles: int, aisles: int = 6) -> Problem:
    length = 20.0
    depot = (rng.randrange(aisles), rng.choice([0.0, length, round(rng.uniform(0, length), 1)]))
    places = [(rng.randrange(aisles), rng.choice([0.0, length, round(rng.uniform(0, length), 1)])) for _ in range(picks)]
    return problem(places, cross_aisles=cross_aisles, aisles=aisles, length=length, depot=depot)


def shortest_by_brute_force(instance: Problem) -> float:
    ids = [pick.id for pick in instance.picks]
    return min(pickpath.route_length(instance, order) for order in itertools.permutations(ids))


def instance_json(**overrides) -> dict:
    raw = {
        "layout": {"aisles": 12, "aisle_length": 30.0, "aisle_spacing": 3.0, "cross_aisles": 2,
                   "depot": {"aisle": 0, "position": 0.0}},
        "picks": [{"id": "L1", "aisle": 3, "position": 12.5}, {"id": "L2", "aisle": 7, "position": 28.0},
                  {"id": "L3", "aisle": 7, "position": 4.0}],
        "time_limit_s": 2,
    }
    raw.update(overrides)
    return raw


def run_cli(tmp_path: Path, raw, *flags: str) -> subprocess.CompletedProcess:
    path = tmp_path / "instance.json"
    path.write_text(raw if isinstance(raw, str) else json.dumps(raw))
    return subprocess.run(
        [sys.executable, "-m", "solvers.pickpath", str(path), *flags],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )


# ---------------------------------------------------------------- the distance rule


def test_points_in_one_aisle_are_the_difference_of_their_positions_apart():
    assert pickpath.distance(layout(), Location(4, 3.0), Location(4, 21.5)) == 18.5


def test_points_in_different_aisles_go_round_through_the_nearer_cross_aisle():
    # front: 10 + 3 aisles * 3 m + 5 = 24; back: 20 + 9 + 25 = 54
    assert pickpath.distance(layout(), Location(1, 10.0), Location(4, 5.0)) == 24.0
    # back: 2 + 6 + 5 = 13; front: 28 + 6 + 25 = 59
    assert pickpath.distance(layout(), Location(2, 28.0), Location(4, 25.0)) == 13.0


def test_a_middle_cross_aisle_is_used_when_it_is_shorter():
    three = layout(cross_aisles=3)  # cross aisles at 0, 15 and 30
    assert three.cross_aisle_positions == (0.0, 15.0, 30.0)
    assert pickpath.distance(three, Location(1, 14.0), Location(4, 16.0)) == 1 + 9 + 1
    assert pickpath.distance(layout(), Location(1, 14.0), Location(4, 16.0)) == 14 + 9 + 16


def test_the_distance_is_symmetric_and_the_walking_path_has_its_length():
    rng = random.Random(3)
    three = layout(cross_aisles=3)
    for _ in range(50):
        a = Location(rng.randrange(12), rng.uniform(0, 30))
        b = Location(rng.randrange(12), rng.uniform(0, 30))
        corners = pickpath.walking_path(three, a, b)
        walked = sum(abs(a1 - a2) * 3.0 + abs(p1 - p2) for (a1, p1), (a2, p2) in zip(corners, corners[1:]))
        assert pickpath.distance(three, a, b) == pytest.approx(pickpath.distance(three, b, a))
        assert walked == pytest.approx(pickpath.distance(three, a, b))


def test_the_route_length_closes_the_loop_at_the_depot():
    instance = problem([(2, 10.0)])
    assert pickpath.route_length(instance, ["P0"]) == 2 * (6 + 10)
    assert pickpath.route_length(instance, []) == 0


# ---------------------------------------------------------------- S-shape


def test_s_shape_alternates_direction_and_ends_in_the_odd_last_aisle_from_the_front():
    instance = problem([(1, 4.0), (1, 8.0), (2, 5.0), (4, 3.0)], length=10.0, spacing=2.0)
    route = pickpath.baseline(instance)
    assert route.sequence == ("P0", "P1", "P2", "P3")
    # depot->P0 2+4, P0->P1 4, P1->P2 back 2+2+5, P2->P3 front 5+4+3, P3->depot front 3+8
    assert route.distance == pytest.approx(6 + 4 + 9 + 12 + 11)
    assert route.status == "feasible"


def test_s_shape_walks_the_second_aisle_from_back_to_front():
    instance = problem([(3, 2.0), (3, 9.0), (1, 5.0), (1, 7.0)], length=10.0, spacing=2.0)
    route = pickpath.baseline(instance)
    assert route.sequence == ("P2", "P3", "P1", "P0")
    # depot->P2 2+5, 2, P3->P1 back 3+4+1, 7, P0->depot front 2+6
    assert route.distance == pytest.approx(7 + 2 + 8 + 7 + 8)


# ---------------------------------------------------------------- the solver


@pytest.mark.parametrize("cross_aisles", [2, 3])
def test_the_route_is_as_short_as_the_best_of_all_orders_on_small_batches(cross_aisles):
    rng = random.Random(100 + cross_aisles)
    for _ in range(25):
        instance = random_problem(rng, rng.randint(1, 7), cross_aisles)
        route = pickpath.solve(instance)
        assert route.status == "optimal"
        assert route.distance == pytest.approx(shortest_by_brute_force(instance))


def test_layouts_with_many_cross_aisles_are_solved_exactly_when_the_batch_is_small():
    rng = random.Random(7)
    for cross_aisles in (4, 5, 7):
        instance = random_problem(rng, 6, cross_aisles)
        route = pickpath.solve(instance)
        assert route.status == "optimal"
        assert route.distance == pytest.approx(shortest_by_brute_force(instance))


def test_the_route_lists_every_pick_once_and_reports_its_own_length():
    rng = random.Random(11)
    for cross_aisles in (2, 3, 4):
        instance = random_problem(rng, 40, cross_aisles, aisles=12)
        route = pickpath.solve(instance)
        assert sorted(route.sequence) == sorted(pick.id for pick in instance.picks)
        assert route.distance == pytest.approx(pickpath.route_length(instance, route.sequence))


def test_the_optimal_route_is_never_longer_than_s_shape_or_largest_gap():
    rng = random.Random(12)
    for cross_aisles in (2, 3, 6):
        for _ in range(8):
            instance = random_problem(rng, rng.randint(10, 40), cross_aisles, aisles=12)
            route = pickpath.solve(instance, time_limit_s=0.3)
            assert route.distance <= pickpath.baseline(instance).distance + 1e-9
            assert route.distance <= pickpath.largest_gap(instance).distance + 1e-9


def test_a_large_batch_on_many_cross_aisles_is_feasible_not_claimed_optimal():
    instance = random_problem(random.Random(13), 30, 6, aisles=12)
    route = pickpath.solve(instance, time_limit_s=0.3)
    assert route.status == "feasible"
    assert sorted(route.sequence) == sorted(pick.id for pick in instance.picks)


def test_picks_at_the_same_place_cost_nothing_extra():
    single = problem([(2, 10.0), (5, 20.0)])
    doubled = problem([(2, 10.0), (5, 20.0), (2, 10.0), (5, 20.0), (5, 20.0)])
    assert pickpath.solve(doubled).distance == pytest.approx(pickpath.solve(single).distance)
    assert len(pickpath.solve(doubled).sequence) == 5


def test_an_empty_batch_or_picks_at_the_depot_need_no_walking():
    assert pickpath.solve(problem([])).to_json()["distance"] == 0
    assert pickpath.solve(problem([(0, 0.0), (0, 0.0)])).distance == 0


def test_picks_in_the_depot_aisle_only_are_swept_without_leaving_it():
    instance = problem([(3, 5.0), (3, 25.0), (3, 12.0)], depot=(3, 10.0))
    route = pickpath.solve(instance)
    assert route.distance == pytest.approx(2 * 20.0)
    assert route.status == "optimal"


def test_largest_gap_visits_every_pick_once():
    instance = random_problem(random.Random(14), 30, 2, aisles=12)
    assert sorted(pickpath.largest_gap(instance).sequence) == sorted(p.id for p in instance.picks)


def test_an_internal_failure_returns_the_s_shape_route_marked_fallback(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("solver exploded")

    monkeypatch.setattr(pickpath, "_shortest_route", broken)
    instance = random_problem(random.Random(15), 12, 2)
    route = pickpath.solve(instance)
    assert route.status == "fallback"
    assert route.sequence == pickpath.baseline(instance).sequence
    assert route.distance == pytest.approx(pickpath.baseline(instance).distance)


# ---------------------------------------------------------------- reading instances and the command line


def test_the_command_line_prints_the_answer_format(tmp_path):
    done = run_cli(tmp_path, instance_json())
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert set(answer) == {"status", "sequence", "distance", "solve_seconds"}
    assert answer["status"] == "optimal"
    assert sorted(answer["sequence"]) == ["L1", "L2", "L3"]


def test_the_baseline_flag_prints_the_s_shape_route(tmp_path):
    raw = instance_json()
    done = run_cli(tmp_path, raw, "--baseline")
    expected = pickpath.baseline(pickpath.parse_problem(raw))
    assert json.loads(done.stdout)["sequence"] == list(expected.sequence)
    assert json.loads(done.stdout)["distance"] == pytest.approx(expected.distance)


def test_the_time_limit_flag_overrides_the_instance(tmp_path):
    rng = random.Random(16)
    picks = [{"id": f"P{i}", "aisle": rng.randrange(12), "position": rng.uniform(0, 30)} for i in range(40)]
    raw = instance_json(picks=picks, time_limit_s=60)
    raw["layout"]["cross_aisles"] = 6
    done = run_cli(tmp_path, raw, "--time-limit", "0.3")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["solve_seconds"] < 5


def _without(raw: dict, *path: str) -> dict:
    target = raw
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return raw


def _with(raw: dict, value, *path) -> dict:
    target = raw
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return raw


MALFORMED = [
    (_without(instance_json(), "layout"), "layout"),
    (_without(instance_json(), "layout", "depot"), "layout.depot"),
    (_with(instance_json(), "12", "layout", "aisles"), "layout.aisles"),
    (_with(instance_json(), -3.0, "layout", "aisle_spacing"), "layout.aisle_spacing"),
    (_with(instance_json(), 1, "layout", "cross_aisles"), "layout.cross_aisles"),
    (_with(instance_json(), 12, "picks", 1, "aisle"), "picks[1].aisle"),
    (_with(instance_json(), 31.0, "picks", 0, "position"), "picks[0].position"),
    (_with(instance_json(), "L1", "picks", 2, "id"), "picks[2].id"),
    (_with(instance_json(), {"id": "L1"}, "picks"), "picks"),
    (_without(instance_json(), "picks", 0, "position"), "picks[0].position"),
]


@pytest.mark.parametrize("raw, field", MALFORMED, ids=[field for _, field in MALFORMED])
def test_a_malformed_instance_exits_2_with_one_line_naming_the_field(tmp_path, raw, field):
    done = run_cli(tmp_path, raw)
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr
    assert lines[0].startswith(field + ":")


def test_invalid_json_exits_2_without_a_traceback(tmp_path):
    done = run_cli(tmp_path, "{not json")
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1
