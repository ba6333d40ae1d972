"""Scan-validated picking: right scans pick, a wrong bin or item is refused and counted, a short pick goes back."""
from __future__ import annotations

from app.domain.inventory import Status
from app.extensions import db as _db
from app.models.warehouse_ops import CountTask, PickScan, ShortPick
from app.services import ledger
from app.services.picking import current_task, pick_accuracy, scan_pick
from tests.services.test_carriers import pick_everything, released_floor


def _balance(world, bin_code, sku, status):
    return ledger.balance(world.skus[sku].id, world.bins[bin_code].id, status)


def test_right_scans_pick_the_line_and_move_stock_from_allocated_to_picked(world):
    batch, = released_floor(world, [[("MUG", 2)]])
    task = current_task(batch)
    assert scan_pick(batch.id, "e1-1", user_id=None).ok  # bins are matched without regard to case
    assert scan_pick(batch.id, "05060123410026", user_id=None).ok  # a GTIN-13 read as GTIN-14
    outcome = scan_pick(batch.id, "", user_id=None)  # Enter takes the line's quantity
    assert outcome.ok and "Picked 2" in outcome.message
    assert _balance(world, "E1-1", "MUG", Status.PICKED) == 2 and _balance(world, "E1-1", "MUG", Status.ALLOCATED) == 0
    assert task.status == "picked" and task.shipment_bin.qty_picked == 2 and task.shipment_bin.line.qty_picked == 2
    assert task.shipment.status == "picked" and batch.status == "done" and batch.wave.status == "done"


def test_a_wrong_bin_is_refused_with_a_clear_message_and_counted(world):
    batch, = released_floor(world, [[("MUG", 1)]])
    outcome = scan_pick(batch.id, "E0-1", user_id=None)
    assert not outcome.ok and "Wrong bin" in outcome.message and "E1-1" in outcome.message
    assert not current_task(batch).bin_confirmed
    assert _db.session.query(PickScan).filter_by(outcome="wrong_bin").count() == 1


def test_a_wrong_item_is_refused_and_the_line_waits_for_the_right_one(world):
    batch, = released_floor(world, [[("MUG", 1)]])
    scan_pick(batch.id, "E1-1", user_id=None)
    outcome = scan_pick(batch.id, "TEE-M", user_id=None)
    assert not outcome.ok and "Wrong item" in outcome.message
    assert current_task(batch).item_confirmed is False
    assert scan_pick(batch.id, "MUG", user_id=None).ok
    accuracy = pick_accuracy()
    assert accuracy["by_outcome"] == {"ok": 2, "wrong_item": 1} and round(accuracy["accuracy"], 3) == 0.667


def test_a_quantity_above_the_line_is_refused(world):
    batch, = released_floor(world, [[("MUG", 2)]])
    scan_pick(batch.id, "E1-1", user_id=None)
    scan_pick(batch.id, "MUG", user_id=None)
    outcome = scan_pick(batch.id, "3", user_id=None)
    assert not outcome.ok and "0 to 2" in outcome.message and current_task(batch) is not None


def test_a_short_pick_quarantines_the_missing_units_and_sends_the_order_back(world):
    batch, = released_floor(world, [[("MUG", 3), ("CAP", 1)]])
    order = batch.tasks[0].shipment.order
    mug = next(t for t in batch.tasks if t.sku.code == "MUG")
    pick_everything_but = [t for t in batch.tasks if t is not mug]
    for task in batch.tasks:
        scan_pick(batch.id, task.location.code, user_id=None)
        scan_pick(batch.id, task.sku.code, user_id=None)
        scan_pick(batch.id, "1" if task is mug else "", user_id=None)
    assert pick_everything_but
    assert _balance(world, "E1-1", "MUG", Status.QUARANTINED) == 2
    assert _balance(world, "E1-1", "MUG", Status.PICKED) == 1
    short = _db.session.query(ShortPick).one()
    assert short.qty == 2 and short.status == "open"
    count = _db.session.get(CountTask, short.count_task_id)
    assert count.location.code == "E1-1" and count.source == "short_pick"
    assert next(l for l in count.lines if l.sku.code == "MUG").held == 2
    line = next(l for l in order.lines if l.sku.code == "MUG")
    assert line.qty_allocated == 1 and line.qty_waiting == 2
    assert mug.shipment_bin.line.qty == 1 and mug.shipment.status == "picked"
    assert order.status == "partially_allocated"
    from app.services.integrity import ledger_problems
    assert ledger_problems() == []


def test_a_batch_picked_right_leaves_the_ledger_balanced(world):
    batches = released_floor(world, [[("MUG", 1)], [("TEE-M", 2), ("CAP", 1)]])
    for batch in batches:
        pick_everything(batch)
    from app.services.integrity import ledger_problems
    assert ledger_problems() == []
    assert all(b.status == "done" for b in batches)
