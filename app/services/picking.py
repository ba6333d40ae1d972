"""Picking: batches of a wave in the shortest path order, and the scan-validated pick of each line.

Each pick line is confirmed in three scans: the bin, the item (GTIN or SKU code), the quantity.
Every scan is stored with its outcome (pick accuracy). A quantity below the line's is a short
pick: the missing units are held in quarantine as a suspected count variance, the shipment
line shrinks, the order line's units wait again for routing, and the bin gets a count task.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select

from solvers import pickpath
from app.barcodes import code128_svg
from app.domain.errors import Conflict, NotFound, ValidationError
from app.domain.inventory import Cause, Reason, Status
from app.domain.orders import ShipmentStatus
from app.extensions import db
from app.models import Location, Warehouse
from app.models.orders import Shipment, ShipmentBin
from app.models.types import utcnow
from app.models.warehouse_ops import PickBatch, PickScan, PickTask, ShortPick, Wave
from app.pdf import render_pdf
from app.services import ledger
from app.services._uow import service
from app.services.events import record_event
from app.services.ledger import Place
from app.services.orders import move_shipment
from app.services.settings import get_setting


# --- batches and paths ---------------------------------------------------------------------------------------

def pick_layout(warehouse: Warehouse, locations: list[Location] = ()) -> dict:
    """The solver's layout for a warehouse: its aisles, their length and spacing, cross aisles, depot at the front."""
    aisles = max([warehouse.aisles or 0, 1] + [(loc.aisle or 0) + 1 for loc in locations])
    length = max([float(warehouse.aisle_length_m or 1)] + [float(loc.position_m or 0) for loc in locations])
    return {"aisles": aisles, "aisle_length": length, "aisle_spacing": float(warehouse.aisle_spacing_m or 1),
            "cross_aisles": max(2, warehouse.cross_aisles or 2), "depot": {"aisle": 0, "position": 0.0}}


def _point(location: Location) -> tuple[int, float]:
    """Where a bin sits on the layout; a place off the aisles (dock, staging) counts as the depot."""
    if location.aisle is None:
        return 0, 0.0
    return location.aisle, float(location.position_m or 0)


def path_instance(warehouse: Warehouse, stops: list[tuple[str, Location]]) -> dict:
    """A pick path instance: one pick per (id, bin)."""
    layout = pick_layout(warehouse, [loc for _, loc in stops])
    picks = [{"id": pick_id, "aisle": _point(loc)[0], "position": _point(loc)[1]} for pick_id, loc in stops]
    return {"layout": layout, "picks": picks, "time_limit_s": float(get_setting("picking.time_limit_s"))}


def solve_path(warehouse: Warehouse, stops: list[tuple[str, Location]]) -> tuple[pickpath.Result, pickpath.Result]:
    """(the shortest route found, the S-shape route) through the stops."""
    problem = pickpath.parse_problem(path_instance(warehouse, stops))
    return pickpath.solve(problem), pickpath.baseline(problem)


def split_into_batches(shipments: list[Shipment], max_orders: int, max_lines: int) -> list[list[Shipment]]:
    """Consecutive groups of at most `max_orders` shipments and `max_lines` pick lines (a bigger shipment goes alone)."""
    batches, current, lines = [], [], 0
    for shipment in shipments:
        stops = sum(len(line.bins) for line in shipment.lines)
        if current and (len(current) >= max_orders or lines + stops > max_lines):
            batches.append(current)
            current, lines = [], 0
        current.append(shipment)
        lines += stops
    if current:
        batches.append(current)
    return batches


def build_batches(wave: Wave, shipments: list[Shipment]) -> list[PickBatch]:
    """Split a released wave's shipments into picker batches, each with its lines in the shortest path order."""
    groups = split_into_batches(shipments, int(get_setting("picking.batch_max_orders")),
                                int(get_setting("picking.batch_max_lines")))
    made = []
    for number, group in enumerate(groups, 1):
        batch = PickBatch(number=f"{wave.number}-B{number}", wave_id=wave.id, warehouse_id=wave.warehouse_id,
                          created_at=utcnow())
        db.session.add(batch)
        _fill_batch(batch, group, wave.warehouse)
        made.append(batch)
    return made


def _fill_batch(batch: PickBatch, shipments: list[Shipment], warehouse: Warehouse) -> None:
    bins: dict[str, tuple[int, ShipmentBin]] = {}
    for tote, shipment in enumerate(shipments, 1):
        for line in shipment.lines:
            for bin_ in line.bins:
                if bin_.qty - bin_.qty_picked > 0:
                    db.session.flush()
                    bins[str(bin_.id)] = (tote, bin_)
    if not bins:
        return
    best, s_shape = solve_path(warehouse, [(key, b.location) for key, (_, b) in bins.items()])
    batch.solver_status = best.status
    batch.distance_m, batch.s_shape_m = Decimal(str(round(best.distance, 1))), Decimal(str(round(s_shape.distance, 1)))
    for seq, key in enumerate(best.sequence, 1):
        tote, bin_ = bins[key]
        batch.tasks.append(PickTask(seq=seq, tote=tote, shipment_bin_id=bin_.id, shipment_id=bin_.line.shipment_id,
                                    location_id=bin_.location_id, sku_id=bin_.line.sku_id,
                                    qty=bin_.qty - bin_.qty_picked))


def get_batch(batch_id: int) -> PickBatch:
    batch = db.session.get(PickBatch, batch_id)
    if batch is None:
        raise NotFound("No such pick batch.")
    return batch


def find_batch(code: str) -> PickBatch:
    """A batch by its number as scanned from a pick list."""
    batch = db.session.scalar(select(PickBatch).where(func.upper(PickBatch.number) == (code or "").strip().upper()))
    if batch is None:
        raise NotFound(f"No pick batch '{(code or '').strip()}'.", field="code")
    return batch


def route_points(batch: PickBatch) -> list[tuple[int, float]]:
    """The walked route's corners, depot to depot, by the solver's distance rule (for drawing the map)."""
    warehouse = batch.warehouse
    locations = [task.location for task in batch.tasks]
    layout = pickpath.parse_problem({"layout": pick_layout(warehouse, locations), "picks": []}).layout
    stops = [layout.depot] + [pickpath.Location(*_point(loc)) for loc in locations] + [layout.depot]
    corners: list[tuple[int, float]] = []
    for a, b in zip(stops, stops[1:]):
        for point in pickpath.walking_path(layout, a, b):
            if not corners or corners[-1] != point:
                corners.append(point)
    return corners


# --- scanning ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ScanOutcome:
    """What a scan did: accepted or refused, with a message fit for the picker."""

    ok: bool
    message: str
    task: PickTask | None = None


def current_task(batch: PickBatch) -> PickTask | None:
    return next((task for task in batch.tasks if task.status == "open"), None)


def same_code(scanned: str, *codes: str | None) -> bool:
    value = (scanned or "").strip().upper()
    for code in codes:
        if not code:
            continue
        if value == code.upper():
            return True
        if value.isdigit() and code.isdigit() and value.lstrip("0") == code.lstrip("0"):  # GTIN-13 read as GTIN-14
            return True
    return False


def _scan(task: PickTask, user_id: int | None, step: str, scanned: str, expected: str, outcome: str) -> None:
    db.session.add(PickScan(batch_id=task.batch_id, task_id=task.id, shipment_id=task.shipment_id, user_id=user_id,
                            step=step, scanned=(scanned or "")[:100], expected=expected[:100], outcome=outcome,
                            created_at=utcnow()))


def _open_task(batch_id: int, task_id: int | None, user_id: int | None) -> PickTask:
    batch = get_batch(batch_id)
    batch.picker_id = batch.picker_id or user_id
    if batch.status == "done":
        raise Conflict(f"Batch {batch.number} is already picked.")
    if batch.status == "open":
        batch.status, batch.started_at = "picking", utcnow()
    task = current_task(batch)
    if task is None or (task_id is not None and task.id != task_id):
        raise Conflict("That line is no longer the next one to pick; the screen shows the current one.")
    return task


@service
def start_batch(batch_id: int, *, user_id: int | None) -> PickBatch:
    """A picker takes a batch."""
    batch = get_batch(batch_id)
    if batch.status == "done":
        raise Conflict(f"Batch {batch.number} is already picked.")
    if batch.status == "open":
        batch.status, batch.started_at, batch.picker_id = "picking", utcnow(), user_id
    db.session.commit()
    return batch


@service
def scan_pick(batch_id: int, scanned: str, *, user_id: int | None, task_id: int | None = None) -> ScanOutcome:
    """One scan on the pick screen: the bin, then the item, then the quantity of the current line."""
    task = _open_task(batch_id, task_id, user_id)
    if not task.bin_confirmed:
        outcome = _scan_bin(task, scanned, user_id)
    elif not task.item_confirmed:
        outcome = _scan_item(task, scanned, user_id)
    else:
        outcome = _confirm_quantity(task, scanned, user_id)
    db.session.commit()
    return outcome


def _scan_bin(task: PickTask, scanned: str, user_id: int | None) -> ScanOutcome:
    if not same_code(scanned, task.location.code):
        _scan(task, user_id, "bin", scanned, task.location.code, "wrong_bin")
        return ScanOutcome(False, f"Wrong bin: you scanned {scanned.strip() or 'nothing'}, go to {task.location.code}.", task)
    _scan(task, user_id, "bin", scanned, task.location.code, "ok")
    task.bin_confirmed = True
    return ScanOutcome(True, f"Bin {task.location.code} confirmed. Scan the item.", task)


def _scan_item(task: PickTask, scanned: str, user_id: int | None) -> ScanOutcome:
    sku = task.sku
    if not same_code(scanned, sku.gtin, sku.code):
        _scan(task, user_id, "item", scanned, sku.gtin or sku.code, "wrong_item")
        return ScanOutcome(False, f"Wrong item: {scanned.strip() or 'nothing'} is not {sku.code}. Put it back and "
                                  f"scan {sku.code}.", task)
    _scan(task, user_id, "item", scanned, sku.gtin or sku.code, "ok")
    task.item_confirmed = True
    return ScanOutcome(True, f"{sku.code} confirmed. Confirm the quantity.", task)


def _confirm_quantity(task: PickTask, typed: str, user_id: int | None) -> ScanOutcome:
    text = (typed or "").strip()
    qty = task.qty if text == "" else (int(text) if text.isdigit() else None)
    if qty is None or qty > task.qty:
        outcome = "over" if qty is not None else "invalid"
        _scan(task, user_id, "qty", text, str(task.qty), outcome)
        return ScanOutcome(False, f"Enter a quantity from 0 to {task.qty}.", task)
    _scan(task, user_id, "qty", text or str(qty), str(task.qty), "ok" if qty == task.qty else "short")
    if qty:
        pick_units(task, qty, user_id)
    if qty < task.qty:
        report_short(task, task.qty - qty, user_id)
        message = f"Short pick recorded: {task.qty - qty} of {task.qty} missing. A count of {task.location.code} is queued."
    else:
        message = f"Picked {qty} × {task.sku.code} into tote {task.tote}."
    _finish_task(task, user_id)
    return ScanOutcome(True, message, task)


def pick_units(task: PickTask, qty: int, user_id: int | None) -> None:
    """Move the units allocated → picked in the bin and mark them picked on the shipment."""
    shipment, bin_ = task.shipment, task.shipment_bin
    if shipment.status == ShipmentStatus.RELEASED:
        move_shipment(shipment, ShipmentStatus.PICKING, "picking started", user_id)
    ledger.post_move(task.sku_id, qty, Place(task.location, Status.ALLOCATED), Place(task.location, Status.PICKED),
                     reason=Reason.PICK, cause=Cause("shipment", shipment.number), user_id=user_id)
    bin_.qty_picked += qty
    bin_.line.qty_picked += qty
    task.qty_picked += qty


def report_short(task: PickTask, missing: int, user_id: int | None) -> ShortPick:
    """Units not found: hold them as a suspected count variance, shrink the shipment, send the order back to routing."""
    from app.services.counts import count_task_for_short
    from app.services.shipping import settle_order_status
    shipment, bin_ = task.shipment, task.shipment_bin
    count = count_task_for_short(task.location, task.sku_id, missing, user_id)
    ledger.post_move(task.sku_id, missing, Place(task.location, Status.ALLOCATED),
                     Place(task.location, Status.QUARANTINED), reason=Reason.COUNT, cause=Cause("count", count.number),
                     user_id=user_id, note=f"short pick on {shipment.number}")
    bin_.qty -= missing
    bin_.line.qty -= missing
    bin_.line.order_line.qty_allocated -= missing
    task.qty_short = missing
    short = ShortPick(task_id=task.id, shipment_id=shipment.id, location_id=task.location_id, sku_id=task.sku_id,
                      qty=missing, count_task_id=count.id, reported_by_id=user_id, created_at=utcnow())
    db.session.add(short)
    record_event("pick.short", "shipment", shipment.number, {"shipment": shipment.number, "sku": task.sku.code,
                                                             "bin": task.location.code, "qty": missing},
                 user_id=user_id)
    if shipment.units == 0:
        move_shipment(shipment, ShipmentStatus.CANCELLED, "every unit short-picked", user_id)
    settle_order_status(shipment.order, user_id, f"{missing} × {task.sku.code} short-picked; sent back to routing")
    return short


def _finish_task(task: PickTask, user_id: int | None) -> None:
    task.status = "short" if task.qty_short else "picked"
    task.done_at = utcnow()
    shipment = task.shipment
    if shipment.status == ShipmentStatus.PICKING and _shipment_fully_picked(shipment):
        move_shipment(shipment, ShipmentStatus.PICKED, "every line picked", user_id)
    batch = task.batch
    if all(t.status != "open" for t in batch.tasks):
        batch.status, batch.finished_at = "done", utcnow()
        wave = batch.wave
        if all(b.status == "done" for b in wave.batches):
            wave.status = "done"


def _shipment_fully_picked(shipment: Shipment) -> bool:
    open_tasks = db.session.scalar(select(func.count(PickTask.id)).where(PickTask.shipment_id == shipment.id,
                                                                          PickTask.status == "open"))
    return not open_tasks and all(line.qty_picked >= line.qty for line in shipment.lines)


# --- reading -------------------------------------------------------------------------------------------------

def open_batches(warehouse_id: int | None = None) -> list[PickBatch]:
    stmt = select(PickBatch).where(PickBatch.status != "done")
    if warehouse_id:
        stmt = stmt.where(PickBatch.warehouse_id == warehouse_id)
    return list(db.session.scalars(stmt.order_by(PickBatch.id)))


def pick_accuracy(since=None, warehouse_id: int | None = None) -> dict:
    """Scans by outcome and the share of bin and item scans that were right first time."""
    stmt = select(PickScan.outcome, func.count(PickScan.id)).group_by(PickScan.outcome)
    if since is not None:
        stmt = stmt.where(PickScan.created_at >= since)
    if warehouse_id:
        stmt = stmt.join(PickBatch, PickBatch.id == PickScan.batch_id).where(PickBatch.warehouse_id == warehouse_id)
    counts = dict(db.session.execute(stmt).all())
    checked = counts.get("ok", 0) + counts.get("wrong_bin", 0) + counts.get("wrong_item", 0)
    wrong = counts.get("wrong_bin", 0) + counts.get("wrong_item", 0)
    return {"by_outcome": counts, "accuracy": (1 - wrong / checked) if checked else None}


def task_barcode_value(task: PickTask) -> str:
    return task.sku.gtin or task.sku.code


def validate_batch_code(code: str) -> str:
    if not (code or "").strip():
        raise ValidationError("Scan or type a batch number.", field="code")
    return code.strip()



def pick_list_rows(batch: PickBatch) -> list[dict]:
    """The pick list's lines in path order, each with a Code 128 of its bin and of its item."""
    return [{"task": task, "bin_svg": code128_svg(task.location.code, module_mm=0.3, height_mm=8),
             "item_svg": code128_svg(task_barcode_value(task), module_mm=0.25, height_mm=7)} for task in batch.tasks]


def render_pick_list(batch: PickBatch, page_size: str = "A4") -> bytes:
    """The printable pick list of a batch, on A4 or Letter."""
    if page_size not in ("A4", "Letter"):
        raise ValidationError("Choose A4 or Letter.", field="size")
    return render_pdf("pdf/pick_list.html", page_size=page_size, batch=batch, rows=pick_list_rows(batch),
                      totes=len({task.tote for task in batch.tasks}),
                      batch_svg=code128_svg(batch.number, module_mm=0.3, height_mm=9))
