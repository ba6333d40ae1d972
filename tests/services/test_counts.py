"""Cycle counts: blind counts, small variances adjust at once, large ones wait in quarantine for another person."""
from __future__ import annotations

import pytest

from app.domain.errors import PermissionDenied, ValidationError
from app.domain.inventory import Status
from app.services import counts, ledger
from app.services.integrity import ledger_problems
from tests.services.test_carriers import put_stock


def _stocked(world, qty=10):
    put_stock(world, "E1-1", "MUG", qty)
    task, = counts.create_count_tasks(world.warehouses["EAST"].id, location_codes=["E1-1"])
    return task, world.skus["MUG"].id, world.bins["E1-1"].id


def test_a_count_within_the_threshold_adjusts_the_ledger_at_once(world, make_user):
    counter = make_user("warehouse", "counter")
    task, mug, bin_ = _stocked(world)
    counts.submit_count(task.id, {mug: 9}, user_id=counter.id)
    assert task.status == "adjusted" and task.lines[0].expected == 10 and task.lines[0].variance == -1
    assert ledger.balance(mug, bin_, Status.AVAILABLE) == 9 and ledger_problems() == []


def test_a_large_shortage_is_quarantined_and_waits_for_another_supervisors_approval(world, make_user):
    counter, boss = make_user("warehouse", "counter"), make_user("supervisor", "boss")
    task, mug, bin_ = _stocked(world)
    counts.submit_count(task.id, {mug: 4}, user_id=counter.id)
    assert task.status == "review"
    assert ledger.balance(mug, bin_, Status.QUARANTINED) == 6 and ledger.balance(mug, bin_, Status.AVAILABLE) == 4
    with pytest.raises(PermissionDenied):
        counts.approve_count(task.id, user_id=counter.id)
    counts.approve_count(task.id, user_id=boss.id)
    assert task.status == "adjusted" and task.reviewed_by_id == boss.id
    assert ledger.balance(mug, bin_, Status.QUARANTINED) == 0 and ledger.balance(mug, bin_, Status.AVAILABLE) == 4
    assert ledger_problems() == []


def test_a_surplus_is_only_added_once_approved(world, make_user):
    counter, boss = make_user("warehouse", "counter"), make_user("supervisor", "boss")
    task, mug, bin_ = _stocked(world)
    counts.submit_count(task.id, {mug: 15}, user_id=counter.id)
    assert task.status == "review" and ledger.balance(mug, bin_, Status.AVAILABLE) == 10
    counts.approve_count(task.id, user_id=boss.id)
    assert ledger.balance(mug, bin_, Status.AVAILABLE) == 15


def test_a_rejected_count_frees_the_held_units_and_queues_a_recount(world, make_user):
    counter, boss = make_user("warehouse", "counter"), make_user("supervisor", "boss")
    task, mug, bin_ = _stocked(world)
    counts.submit_count(task.id, {mug: 2}, user_id=counter.id)
    with pytest.raises(ValidationError):
        counts.reject_count(task.id, user_id=boss.id, note=" ")
    counts.reject_count(task.id, user_id=boss.id, note="counted the wrong shelf")
    assert task.status == "rejected" and ledger.balance(mug, bin_, Status.AVAILABLE) == 10
    recount = counts._open_task_for(bin_)
    assert recount is not None and recount.source == "recount"


def test_a_found_item_not_expected_in_the_bin_can_be_added(world, make_user):
    counter = make_user("warehouse", "counter")
    task, mug, bin_ = _stocked(world)
    counts.submit_count(task.id, {mug: 10}, user_id=counter.id, extra_sku="CAP", extra_qty=1)
    assert task.status == "adjusted"
    assert ledger.balance(world.skus["CAP"].id, bin_, Status.AVAILABLE) == 1


def test_a_count_with_a_missing_quantity_is_refused_by_field(world, make_user):
    task, mug, _ = _stocked(world)
    with pytest.raises(ValidationError) as refused:
        counts.submit_count(task.id, {}, user_id=None)
    assert f"sku-{mug}" in refused.value.errors and task.status == "open"


def test_a_short_pick_count_resolves_the_held_units_by_what_was_found(world, make_user):
    from app.extensions import db
    from app.models.warehouse_ops import ShortPick
    from tests.services.test_carriers import released_floor
    from app.services.picking import current_task, scan_pick
    counter, boss = make_user("warehouse", "counter"), make_user("supervisor", "boss")
    batch, = released_floor(world, [[("MUG", 3)]])
    scan_pick(batch.id, "E1-1", user_id=counter.id)
    scan_pick(batch.id, "MUG", user_id=counter.id)
    scan_pick(batch.id, "1", user_id=counter.id)
    assert current_task(batch) is None
    mug, bin_ = world.skus["MUG"].id, world.bins["E1-1"].id
    task = counts._open_task_for(bin_)
    # 50 received, 1 picked, 2 held: the shelf really has 48 (one of the held was there after all)
    counts.submit_count(task.id, {mug: 48}, user_id=counter.id)
    assert task.status == "adjusted"
    assert ledger.balance(mug, bin_, Status.QUARANTINED) == 0 and ledger.balance(mug, bin_, Status.AVAILABLE) == 48
    assert db.session.query(ShortPick).one().status == "resolved" and ledger_problems() == []
