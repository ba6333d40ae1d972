"""Wave planning: shipments by cut-off, both modes, the stored plan, release to the floor, labour capacity."""
from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from app.domain.errors import Conflict, ValidationError
from app.extensions import db as _db
from app.models.warehouse_ops import LabourPlan, PickBatch, WavePlan
from app.services import waves
from solvers import pickpath
from tests.services.test_carriers import make_rate_tables, place_order, put_stock

MORNING = datetime(2026, 3, 2, 7, 30, tzinfo=timezone.utc)  # a Monday, before the 08:00 shift in London


@pytest.fixture()
def floor(world):
    make_rate_tables(world)
    put_stock(world, "E2-2", "TEE-M", 50)
    put_stock(world, "E1-1", "MUG", 50)
    put_stock(world, "E0-2", "CAP", 50)
    orders = [place_order(f"W{n}", lines) for n, lines in enumerate(
        [[("TEE-M", 1)], [("MUG", 2), ("CAP", 1)], [("CAP", 1)], [("TEE-M", 2), ("MUG", 1)]], 1)]
    return world, orders


def test_allocated_shipments_are_grouped_by_the_cutoff_of_their_cheapest_service(floor):
    world, orders = floor
    groups = waves.cutoff_groups(world.warehouses["EAST"].id, date(2026, 3, 2))
    assert sum(g["shipments"] for g in groups) == 4
    assert {g["carrier"] for g in groups} <= {"Royal Mail Tracked 48", "DPD Next day"}


def test_a_plan_in_max_on_time_mode_stores_waves_members_and_the_labour_plan(floor):
    world, orders = floor
    east = world.warehouses["EAST"]
    plan = waves.plan_waves(east.id, mode="max_on_time", day=date(2026, 3, 2), now=MORNING, time_limit_s=2)
    assert plan.orders == 4 and plan.late == 0 and plan.unplanned == 0
    assert plan.solver_status in ("optimal", "feasible")
    members = [m for wave in plan.waves for m in wave.members]
    assert len(members) == 4 and all(m.on_time for m in members)
    assert [w.pickers for w in plan.waves] == [3] * len(plan.waves)
    labour = _db.session.query(LabourPlan).one()
    assert labour.day == date(2026, 3, 2) and labour.pickers == [3] * len(plan.waves)
    assert waves.labour_capacity_units(east.id, date(2026, 3, 2)) == 3 * len(plan.waves) * 60


def test_min_labour_mode_uses_the_fewest_pickers_and_saves_them_for_routing(floor):
    world, _ = floor
    east = world.warehouses["EAST"]
    plan = waves.plan_waves(east.id, mode="min_labour", day=date(2026, 3, 2), now=MORNING, time_limit_s=2)
    assert plan.late == 0 and sum(w.pickers for w in plan.waves) == 1
    assert plan.picker_hours == 1 and plan.baseline_picker_hours >= plan.picker_hours
    assert waves.labour_capacity_units(east.id, date(2026, 3, 2)) == 60


def test_no_labour_plan_means_routing_uses_its_own_capacity(world):
    assert waves.labour_capacity_units(world.warehouses["EAST"].id, date(2026, 3, 2)) is None


def test_a_new_plan_supersedes_the_unreleased_one(floor):
    world, _ = floor
    east = world.warehouses["EAST"].id
    first = waves.plan_waves(east, day=date(2026, 3, 2), now=MORNING, time_limit_s=1)
    second = waves.plan_waves(east, day=date(2026, 3, 2), now=MORNING, time_limit_s=1)
    assert _db.session.get(WavePlan, first.id).status == "superseded" and second.status == "planned"
    with pytest.raises(Conflict):
        waves.release_wave(first.waves[0].id)


def test_bad_plan_input_is_refused_by_field(floor):
    world, _ = floor
    with pytest.raises(ValidationError) as refused:
        waves.plan_waves(world.warehouses["EAST"].id, mode="fastest", pickers=[-1], now=MORNING)
    assert set(refused.value.errors) == {"mode", "pickers"}


def test_releasing_a_wave_releases_its_shipments_and_batches_them_in_path_order(floor):
    world, orders = floor
    plan = waves.plan_waves(world.warehouses["EAST"].id, day=date(2026, 3, 2), now=MORNING, time_limit_s=1)
    wave = next(w for w in plan.waves if w.members)
    waves.release_wave(wave.id)
    shipments = [m.shipment for m in wave.members]
    assert all(s.status == "released" and s.wave_id == wave.id for s in shipments)
    assert all(s.order.status == "in_fulfillment" for s in shipments)
    batch = _db.session.query(PickBatch).one()
    assert sum(len(line.bins) for s in shipments for line in s.lines) == len(batch.tasks)
    from app.services.picking import path_instance
    stops = [(str(t.shipment_bin_id), t.location) for t in batch.tasks]
    problem = pickpath.parse_problem(path_instance(batch.warehouse, stops))
    solved = pickpath.solve(problem)
    assert [str(t.shipment_bin_id) for t in batch.tasks] == list(solved.sequence)
    assert float(batch.distance_m) == pytest.approx(solved.distance, abs=0.05)
    assert batch.distance_m <= batch.s_shape_m
    with pytest.raises(Conflict):
        waves.release_wave(wave.id)


def test_batches_hold_at_most_the_configured_number_of_orders(floor):
    from app.services.settings import set_setting
    world, _ = floor
    set_setting("picking.batch_max_orders", 2)
    plan = waves.plan_waves(world.warehouses["EAST"].id, day=date(2026, 3, 2), now=MORNING, time_limit_s=1)
    wave = next(w for w in plan.waves if w.members)
    waves.release_wave(wave.id)
    batches = _db.session.query(PickBatch).all()
    assert len(batches) == -(-len(wave.members) // 2)
    assert all(len({t.shipment_id for t in b.tasks}) <= 2 for b in batches)


def test_planning_late_in_the_day_leaves_past_waves_empty(floor):
    world, _ = floor
    afternoon = datetime(2026, 3, 2, 13, 10, tzinfo=timezone.utc)  # 13:10 in London
    plan = waves.plan_waves(world.warehouses["EAST"].id, day=date(2026, 3, 2), now=afternoon, time_limit_s=1)
    started = [w for w in plan.waves if w.members]
    assert started and all(w.starts_at >= afternoon for w in started)


def _cutoff_alone(shipment, day):
    """A shipment's cut-off quoted on its own, as the shipment screen and label buying quote it."""
    from decimal import Decimal

    from app.domain.errors import NotFound
    from app.services import carriers
    order = shipment.order
    zone = carriers.zone_for(shipment.warehouse_id, order.ship_country, order.ship_postcode)
    try:
        quote = carriers.cheapest_service(shipment.warehouse_id, zone, max(waves.shipment_weight(shipment),
                                                                           Decimal("0.1")),
                                          order.promised_ship_date, day)
    except NotFound:
        return None
    return quote.cutoff, quote.label


def _varied_floor(world, count: int):
    from decimal import Decimal

    from tests.factories import make_sku
    make_rate_tables(world)
    world.warehouses["EAST"].carrier_cutoffs = "Royal Mail 15:30, DPD 16:45"
    for code, kg in (("FEATHER", "0.050"), ("BRICK", "4.500"), ("ANVIL", "19.000"), ("PIANO", "40.000")):
        world.skus[code] = make_sku(code)
        world.skus[code].weight_kg = Decimal(kg)
    _db.session.commit()
    for bin_code, sku in (("E2-2", "TEE-M"), ("E1-1", "MUG"), ("E0-2", "CAP"), ("E0-1", "FEATHER"), ("E1-2", "BRICK"),
                          ("E2-1", "ANVIL"), ("E2-1", "PIANO")):
        put_stock(world, bin_code, sku, 200)
    postcodes = ["LS1 4AP", "EH1 1YZ", "BT9 5AB", "M17 1WA", "ML1 2AB", "CF10 1EP"]
    baskets = [[("FEATHER", 1)], [("MUG", 3), ("CAP", 1)], [("BRICK", 1)], [("ANVIL", 1)], [("PIANO", 1)],
               [("TEE-M", 2), ("BRICK", 1)], [("ANVIL", 1), ("BRICK", 1)]]
    for n in range(count):
        place_order(f"V{n}", baskets[n % len(baskets)], postcode=postcodes[n % len(postcodes)])


def test_shipments_quoted_together_get_the_cutoffs_each_gets_alone(world):
    _varied_floor(world, 21)
    east = world.warehouses["EAST"]
    shipments = waves.allocated_shipments(east.id)
    assert len(shipments) == 21
    for day in (date(2026, 3, 2), date(2026, 3, 6)):
        together = waves.shipment_cutoffs(east, shipments, day)
        assert [f.shipment for f in together] == shipments
        for found in together:
            alone = _cutoff_alone(found.shipment, day)
            latest = waves.carriers.parse_cutoffs(east.carrier_cutoffs)["dpd"]
            assert (found.cutoff, found.carrier) == (alone or (latest, "no priced service"))
    carriers_used = {f.carrier for f in waves.shipment_cutoffs(east, shipments, date(2026, 3, 2))}
    assert {"Royal Mail Tracked 48", "DPD Next day", "no priced service"} <= carriers_used


def test_building_an_instance_runs_the_same_statements_for_7_or_28_shipments(world):
    from sqlalchemy import event
    _varied_floor(world, 7)
    east = world.warehouses["EAST"]

    def statements() -> int:
        sent = []
        count = lambda *_args, **_kw: sent.append(1)  # noqa: E731
        _db.session.expire_all()
        event.listen(_db.engine, "before_cursor_execute", count)
        try:
            instance, _ = waves.build_instance(east, date(2026, 3, 2), "max_on_time", pickers=None, max_pickers=None,
                                               now=MORNING)
        finally:
            event.remove(_db.engine, "before_cursor_execute", count)
        return len(instance["orders"]), len(sent)

    few = statements()
    for n in range(7, 28):
        place_order(f"M{n}", [("MUG", 1), ("BRICK", 1)] if n % 2 else [("FEATHER", 2)],
                    postcode=["LS1 4AP", "BT9 5AB", "EH1 1YZ"][n % 3])
    many = statements()
    assert few[0] == 7 and many[0] == 28
    assert many[1] == few[1]
