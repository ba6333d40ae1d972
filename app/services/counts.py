"""Cycle counts: blind counts of bins, variances held in quarantine, a supervisor's approval before the ledger adjusts.

What the ledger expects in a bin is the shelf stock: available, allocated and quarantined
units (picked units have left the shelf). A variance within the threshold setting adjusts the
ledger at once; a larger one is held in quarantine (a shortage) or noted (a surplus) until
someone other than the counter approves it.
"""
from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import func, select

from app.domain.errors import Conflict, NotFound, PermissionDenied, ValidationError
from app.domain.inventory import Cause, Outside, Reason, Status
from app.extensions import db
from app.models import Location, Sku, StockBalance
from app.models.types import utcnow
from app.models.warehouse_ops import CountLine, CountTask, ShortPick
from app.services import ledger
from app.services._uow import service
from app.services.events import record_event
from app.services.ledger import Place
from app.services.settings import get_setting

SHELF_STATUSES = (Status.AVAILABLE, Status.ALLOCATED, Status.QUARANTINED)
OPEN_STATUSES = ("open", "review")


def shelf_stock(location_id: int) -> dict[int, int]:
    """SKU id -> units on the bin's shelf (available, allocated, quarantined)."""
    rows = db.session.execute(select(StockBalance.sku_id, func.sum(StockBalance.qty)).where(
        StockBalance.location_id == location_id, StockBalance.status.in_([s.value for s in SHELF_STATUSES]),
        StockBalance.qty > 0).group_by(StockBalance.sku_id))
    return {sku_id: int(qty) for sku_id, qty in rows}


def _open_task_for(location_id: int) -> CountTask | None:
    return db.session.scalar(select(CountTask).where(CountTask.location_id == location_id,
                                                     CountTask.status == "open").order_by(CountTask.id))


def _new_task(location: Location, source: str, user_id: int | None, note: str = "") -> CountTask:
    task = CountTask(number="pending", warehouse_id=location.warehouse_id, location_id=location.id, source=source,
                     created_by_id=user_id, created_at=utcnow(), note=note[:300])
    db.session.add(task)
    db.session.flush()
    task.number = f"CC-{task.id:06d}"
    for sku_id in sorted(shelf_stock(location.id)):
        task.lines.append(CountLine(sku_id=sku_id, held=0))
    return task


def _line_for(task: CountTask, sku_id: int) -> CountLine:
    line = next((line for line in task.lines if line.sku_id == sku_id), None)
    if line is None:
        line = CountLine(sku_id=sku_id, held=0)
        task.lines.append(line)
    return line


def count_task_for_short(location: Location, sku_id: int, held: int, user_id: int | None) -> CountTask:
    """The bin's open count task (made if needed), noting units held in quarantine for this SKU."""
    task = _open_task_for(location.id) or _new_task(location, "short_pick", user_id, "short pick")
    _line_for(task, sku_id).held += held
    return task


@service
def create_count_tasks(warehouse_id: int, *, aisle: int | None = None, abc: str | None = None,
                       location_codes: list[str] | None = None, user_id: int | None = None) -> list[CountTask]:
    """Count tasks for the bins of an aisle, of an ABC class (A: the SKUs that make 80% of stock value), or named bins."""
    bins = _bins_to_count(warehouse_id, aisle, abc, location_codes)
    made = [_new_task(location, "supervisor", user_id) for location in bins if _open_task_for(location.id) is None]
    if not made:
        raise ValidationError("Every bin chosen already has an open count, or none holds stock.", field="aisle")
    record_event("counts.created", "warehouse", warehouse_id, {"tasks": [t.number for t in made]}, user_id=user_id)
    db.session.commit()
    return made


def _bins_to_count(warehouse_id: int, aisle, abc, codes) -> list[Location]:
    stmt = select(Location).where(Location.warehouse_id == warehouse_id, Location.kind == "bin",
                                  Location.active.is_(True))
    if codes:
        stmt = stmt.where(Location.code.in_(codes))
    elif aisle is not None:
        stmt = stmt.where(Location.aisle == aisle)
    elif abc:
        if abc not in ("A", "B", "C"):
            raise ValidationError("Choose class A, B or C.", field="abc")
        wanted = abc_classes(warehouse_id)
        stocked = select(StockBalance.location_id).where(
            StockBalance.sku_id.in_([s for s, c in wanted.items() if c == abc]), StockBalance.qty > 0)
        stmt = stmt.where(Location.id.in_(stocked))
    else:
        raise ValidationError("Choose an aisle, an ABC class or bins to count.", field="aisle")
    bins = [b for b in db.session.scalars(stmt.order_by(Location.code)) if codes or shelf_stock(b.id)]
    if codes and len(bins) != len(set(codes)):
        missing = sorted(set(codes) - {b.code for b in bins})
        raise ValidationError(f"No bin {', '.join(missing)} in this warehouse.", field="bins")
    return bins


def abc_classes(warehouse_id: int) -> dict[int, str]:
    """SKU id -> A, B or C by the value of its stock in the warehouse (80% / 15% / 5% of value)."""
    rows = db.session.execute(select(StockBalance.sku_id, func.sum(StockBalance.qty), Sku.unit_cost)
                              .join(Sku, Sku.id == StockBalance.sku_id)
                              .where(StockBalance.warehouse_id == warehouse_id, StockBalance.qty > 0)
                              .group_by(StockBalance.sku_id, Sku.unit_cost)).all()
    values = sorted(((sku_id, qty * cost) for sku_id, qty, cost in rows), key=lambda pair: -pair[1])
    total = sum(v for _, v in values) or 1
    classes, running = {}, 0
    for sku_id, value in values:
        classes[sku_id] = "A" if running < total * 8 / 10 else ("B" if running < total * 95 / 100 else "C")
        running += value
    return classes


def get_count(task_id: int) -> CountTask:
    task = db.session.get(CountTask, task_id)
    if task is None:
        raise NotFound("No such count task.")
    return task


def _sku_by_code(code: str) -> Sku:
    value = (code or "").strip()
    sku = db.session.scalar(select(Sku).where((Sku.code == value) | (Sku.gtin == value))) if value else None
    if sku is None:
        raise ValidationError(f"No SKU with code or barcode '{value}'.", field="extra_sku")
    return sku


@service
def submit_count(task_id: int, counts: Mapping[int, int], *, user_id: int | None, extra_sku: str = "",
                 extra_qty: int | None = None) -> CountTask:
    """Record a blind count; small variances adjust the ledger now, larger ones wait for a supervisor."""
    task = get_count(task_id)
    if task.status != "open":
        raise Conflict(f"Count {task.number} is already {task.status}.")
    _record_counts(task, counts, extra_sku, extra_qty)
    expected = shelf_stock(task.location_id)
    for line in task.lines:
        line.expected = expected.get(line.sku_id, 0)
    task.counted_by_id, task.counted_at = user_id, utcnow()
    threshold = int(get_setting("counts.variance_threshold_units"))
    if all(abs(line.variance) <= threshold for line in task.lines):
        _apply(task, user_id)
        task.status = "adjusted"
    else:
        _hold_shortages(task, user_id)
        task.status = "review"
    record_event("count.submitted", "count", task.number, {"count": task.number, "status": task.status,
                                                           "variances": {l.sku.code: l.variance for l in task.lines}},
                 user_id=user_id)
    db.session.commit()
    return task


def _record_counts(task: CountTask, counts: Mapping[int, int], extra_sku: str, extra_qty: int | None) -> None:
    errors = {}
    for line in task.lines:
        value = counts.get(line.sku_id)
        if value is None or isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 1_000_000:
            errors[f"sku-{line.sku_id}"] = "Enter the units you counted (0 or more)."
        else:
            line.counted = value
    if extra_sku.strip() or extra_qty:
        if extra_qty is None or not 0 < extra_qty <= 1_000_000:
            errors["extra_qty"] = "Enter how many of the other item you found."
        else:
            sku = _sku_by_code(extra_sku)
            line = _line_for(task, sku.id)
            line.counted = (line.counted or 0) + extra_qty
    if errors:
        raise ValidationError(errors=errors)


def _cause(task: CountTask) -> Cause:
    return Cause("count", task.number)


def _hold_shortages(task: CountTask, user_id: int | None) -> None:
    """Quarantine the units a shortage says are missing (beyond those already held), pending approval."""
    location = task.location
    for line in task.lines:
        missing = -line.variance - line.held if line.variance < 0 else 0
        take = min(missing, ledger.balance(line.sku_id, location.id, Status.AVAILABLE))
        if take > 0:
            ledger.post_move(line.sku_id, take, Place(location, Status.AVAILABLE), Place(location, Status.QUARANTINED),
                             reason=Reason.COUNT, cause=_cause(task), user_id=user_id, note="suspected count variance")
            line.held += take


def _apply(task: CountTask, user_id: int | None) -> None:
    """Make the ledger agree with the count: write off what is missing, add what was found, free what was held."""
    location, adjustment = task.location, ledger.outside(Outside.ADJUSTMENT)
    for line in task.lines:
        missing = max(0, -line.variance)
        from_held = min(missing, line.held)
        _move(line.sku_id, from_held, Place(location, Status.QUARANTINED), Place(adjustment), task, user_id)
        _move(line.sku_id, line.held - from_held, Place(location, Status.QUARANTINED),
              Place(location, Status.AVAILABLE), task, user_id)
        rest = min(missing - from_held, ledger.balance(line.sku_id, location.id, Status.AVAILABLE))
        _move(line.sku_id, rest, Place(location, Status.AVAILABLE), Place(adjustment), task, user_id)
        _move(line.sku_id, max(0, line.variance), Place(adjustment), Place(location, Status.AVAILABLE), task, user_id)
        line.held = 0
    _resolve_shorts(task)


def _move(sku_id: int, qty: int, src: Place, dst: Place, task: CountTask, user_id: int | None) -> None:
    if qty > 0:
        ledger.post_move(sku_id, qty, src, dst, reason=Reason.COUNT, cause=_cause(task), user_id=user_id,
                         note=f"cycle count {task.number}")


def _resolve_shorts(task: CountTask) -> None:
    for short in db.session.scalars(select(ShortPick).where(ShortPick.count_task_id == task.id,
                                                            ShortPick.status == "open")):
        short.status, short.resolved_at = "resolved", utcnow()


def _check_reviewer(task: CountTask, user_id: int | None) -> None:
    if task.status != "review":
        raise Conflict(f"Count {task.number} is {task.status}, not waiting for approval.")
    if user_id is not None and user_id == task.counted_by_id:
        raise PermissionDenied("You counted this bin; another supervisor must approve or reject the count.")


@service
def approve_count(task_id: int, *, user_id: int, note: str = "") -> CountTask:
    """A supervisor other than the counter accepts the count: the ledger adjusts to it."""
    task = get_count(task_id)
    _check_reviewer(task, user_id)
    _apply(task, user_id)
    task.status, task.reviewed_by_id, task.reviewed_at = "adjusted", user_id, utcnow()
    task.note = (note or task.note)[:300]
    record_event("count.approved", "count", task.number, {"count": task.number}, user_id=user_id)
    db.session.commit()
    return task


@service
def reject_count(task_id: int, *, user_id: int, note: str = "") -> CountTask:
    """A supervisor refuses the count: held units go back on sale and the bin gets a fresh count."""
    task = get_count(task_id)
    _check_reviewer(task, user_id)
    if not note.strip():
        raise ValidationError("Say why the count is rejected.", field="note")
    for line in task.lines:
        _move(line.sku_id, line.held, Place(task.location, Status.QUARANTINED),
              Place(task.location, Status.AVAILABLE), task, user_id)
        line.held = 0
    task.status, task.reviewed_by_id, task.reviewed_at, task.note = "rejected", user_id, utcnow(), note.strip()[:300]
    recount = _new_task(task.location, "recount", user_id, f"recount after {task.number} was rejected")
    record_event("count.rejected", "count", task.number, {"count": task.number, "recount": recount.number},
                 user_id=user_id)
    db.session.commit()
    return task


def count_tasks(warehouse_id: int | None = None, status: str | None = None):
    stmt = select(CountTask)
    if warehouse_id:
        stmt = stmt.where(CountTask.warehouse_id == warehouse_id)
    if status:
        stmt = stmt.where(CountTask.status == status)
    return stmt.order_by(CountTask.id.desc())
