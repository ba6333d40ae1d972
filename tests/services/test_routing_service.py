"""Routing runs on a real database: instance, solve, explanations, apply, fallbacks."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.domain.inventory import Cause, Status
from app.extensions import db
from app.models.orders import Order
from app.models.routing import RoutingRun
from app.services import inventory, orders, routing
from app.services.integrity import ledger_problems
from app.services.settings import set_setting
from tests.factories import make_rate_tables, order_draft


@pytest.fixture()
def routed_world(world):
    make_rate_tables(world)
    set_setting("orders.allocate_on_capture", False)  # orders wait for the optimiser
    return world


def receive(world, sku, bin_code, qty):
    inventory.receive_stock(world.skus[sku].id, world.bins[bin_code].id, qty, cause=Cause("po", "PO-T"))


def capture(external_id, lines, channel="WEB", **kw):
    return orders.capture_order(channel, order_draft(external_id, lines, **kw), source="api").order


def solve_and_apply(**scope):
    run = routing.create_run(scope=scope, time_limit_s=5, auto_apply=True)
    return routing.execute_run(run.id)


def test_waiting_orders_are_routed_to_the_cheapest_warehouse_and_reserved(routed_world):
    receive(routed_world, "MUG", "E0-1", 5)
    receive(routed_world, "MUG", "W0-1", 5)
    order = capture("R1", [("MUG", 2)])
    assert order.status == "ready"
    run = solve_and_apply()
    assert run.status == "applied" and run.solver_status == "optimal"
    db.session.refresh(order)
    assert order.status == "allocated"
    assert [s.warehouse.code for s in order.shipments] == ["WEST"]
    decision = run.decisions[0]
    assert decision.warehouses == ["WEST"] and decision.outcome == "applied"
    assert "WEST" in decision.explanation and "next best EAST" in decision.explanation
    assert ledger_problems() == []


def test_the_plan_splits_only_when_no_warehouse_can_ship_whole(routed_world):
    receive(routed_world, "MUG", "E0-1", 1)
    receive(routed_world, "TEE-M", "W0-1", 1)
    order = capture("R2", [("MUG", 1), ("TEE-M", 1)])
    run = solve_and_apply()
    db.session.refresh(order)
    assert sorted(s.warehouse.code for s in order.shipments) == ["EAST", "WEST"]
    assert run.shipments == 2 and order.status == "allocated"


def test_stock_taken_between_solve_and_apply_leaves_that_order_waiting_and_nothing_oversold(routed_world):
    receive(routed_world, "CAP", "W0-1", 1)
    order = capture("R3", [("CAP", 1)])
    run = routing.create_run(time_limit_s=5, auto_apply=False)
    run = routing.execute_run(run.id)
    assert run.status == "solved" and run.decisions[0].warehouses == ["WEST"]
    inventory.adjust_stock(routed_world.skus["CAP"].id, routed_world.bins["W0-1"].id, -1,
                           reason_code="damaged_in_warehouse", user_id=None)
    run = routing.apply_run(run.id)
    db.session.refresh(order)
    assert run.skipped_orders == 1 and order.status == "ready" and not order.shipments
    assert "stock changed" in run.decisions[0].outcome_note
    assert ledger_problems() == []


def test_an_allocated_order_not_yet_released_is_replanned_when_cheaper(routed_world):
    receive(routed_world, "MUG", "E0-1", 3)
    receive(routed_world, "MUG", "W0-1", 3)
    set_setting("orders.allocate_on_capture", True)
    order = capture("R4", [("MUG", 1)])  # rules: EAST first
    assert [s.warehouse.code for s in order.shipments] == ["EAST"]
    solve_and_apply()
    db.session.refresh(order)
    live = [s for s in order.shipments if s.status == "allocated"]
    assert [s.warehouse.code for s in live] == ["WEST"]
    assert inventory_units(routed_world, "MUG", Status.ALLOCATED) == 1
    assert ledger_problems() == []


def inventory_units(world, sku, status):
    from app.services.ledger import balance
    return sum(balance(world.skus[sku].id, b.id, status) for b in world.bins.values())


def test_when_the_optimiser_fails_the_orders_are_allocated_by_rules_and_the_run_says_so(routed_world, monkeypatch):
    receive(routed_world, "MUG", "E0-1", 2)
    order = capture("R5", [("MUG", 1)])

    def broken(*args, **kwargs):
        raise RuntimeError("solver crashed")
    monkeypatch.setattr(routing.solver, "solve", broken)
    run = solve_and_apply()
    db.session.refresh(order)
    assert run.status == "failed" and run.solver_status == "rules"
    assert "allocated by channel rules" in run.message
    assert order.status == "allocated"


def test_a_run_reports_cost_against_the_baseline_with_a_proven_bound(routed_world):
    for n, bin_code in enumerate(("E0-1", "W0-1")):
        receive(routed_world, "TEE-M", bin_code, 4)
    for n in range(4):
        capture(f"R6-{n}", [("TEE-M", 1)], postcode=f"LS{n + 1} 4AP")
    run = routing.execute_run(routing.create_run(time_limit_s=5, auto_apply=False).id)
    assert run.objective <= run.baseline_cost
    assert run.bound is not None and run.bound <= run.objective
    assert run.orders_count == 4 and run.warehouse_load["WEST"]["units"] == 4


def test_only_one_run_may_be_in_progress(routed_world):
    routing.create_run(time_limit_s=5)
    from app.domain.errors import Conflict
    with pytest.raises(Conflict):
        routing.create_run(time_limit_s=5)


def test_a_bad_scope_or_time_limit_is_refused(routed_world):
    from app.domain.errors import NotFound, ValidationError
    with pytest.raises(NotFound):
        routing.create_run(scope={"warehouse": "NOPE"})
    with pytest.raises(ValidationError):
        routing.create_run(time_limit_s=0)
    assert db.session.scalar(select(RoutingRun.id)) is None


def test_a_scheduled_run_is_due_only_after_the_interval(routed_world):
    assert routing.scheduled_run_due()
    routing.run_scheduled()
    assert not routing.scheduled_run_due()
