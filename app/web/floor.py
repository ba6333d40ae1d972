"""The warehouse floor on a phone: scan-driven picking, packing and ship confirm, blind cycle counts."""
from __future__ import annotations

from collections.abc import Callable

from flask import flash, request, url_for
from flask_login import current_user
from sqlalchemy import select

from app.domain.errors import DomainError
from app.domain.orders import ShipmentStatus
from app.domain.roles import Role
from app.extensions import db
from app.models import Warehouse
from app.models.orders import Shipment
from app.services import counts as count_service
from app.services import packing, picking, shipping
from app.services.queries import page_number, paginate
from app.web.guard import guarded_blueprint
from app.web.render import go_to, page

bp = guarded_blueprint("floor", __name__, {Role.WAREHOUSE, Role.SUPERVISOR, Role.ADMIN})


def _warehouses() -> list[Warehouse]:
    return list(db.session.scalars(select(Warehouse).where(Warehouse.active.is_(True)).order_by(Warehouse.code)))


def _warehouse_id(code: str | None) -> int | None:
    return next((w.id for w in _warehouses() if w.code == code), None)


def _outcome(action: Callable[[], picking.ScanOutcome]) -> picking.ScanOutcome:
    """What a scan or bench action did, with a refusal shown on the prompt rather than raised."""
    try:
        return action()
    except DomainError as exc:
        return picking.ScanOutcome(False, exc.message)


# --- picking -----------------------------------------------------------------------------------------------------

@bp.route("/floor/pick")
def pick_home():
    code = request.args.get("code", "").strip()[:60]
    if code:
        try:
            return go_to(url_for("floor.pick", batch_id=picking.find_batch(code).id))
        except DomainError as exc:
            flash(exc.message, "error")
    warehouse = request.args.get("warehouse", "")
    return page("floor/pick_home.html", batches=picking.open_batches(_warehouse_id(warehouse)),
                warehouses=_warehouses(), warehouse=warehouse)


@bp.route("/floor/pick/<int:batch_id>")
def pick(batch_id: int):
    batch = picking.get_batch(batch_id)
    return page("floor/pick.html", "prompt", batch=batch, task=picking.current_task(batch), outcome=None)


@bp.route("/floor/pick/<int:batch_id>/scan", methods=["POST"])
def pick_scan(batch_id: int):
    code = request.form.get("code", "")[:100]
    task_id = request.form.get("task_id", type=int)
    outcome = _outcome(lambda: picking.scan_pick(batch_id, code, user_id=current_user.id, task_id=task_id))
    batch = picking.get_batch(batch_id)
    return page("floor/pick.html", "prompt", batch=batch, task=picking.current_task(batch), outcome=outcome)


# --- packing and shipping ----------------------------------------------------------------------------------------

@bp.route("/floor/pack")
def pack_home():
    warehouse = request.args.get("warehouse", "")
    stmt = select(Shipment).where(Shipment.status.in_([ShipmentStatus.PICKED.value, ShipmentStatus.PACKED.value]))
    if _warehouse_id(warehouse):
        stmt = stmt.where(Shipment.warehouse_id == _warehouse_id(warehouse))
    shipments = paginate(stmt.order_by(Shipment.status.desc(), Shipment.id), page_number(request.args.get("page")), 20)
    return page("floor/pack_home.html", "bench_list", shipments=shipments, warehouses=_warehouses(),
                warehouse=warehouse, message=None)


@bp.route("/floor/pack/open", methods=["POST"])
def pack_open():
    code = request.form.get("code", "")[:60]
    try:
        shipment = shipping.find_shipment(code)
        if shipment.status == ShipmentStatus.PICKED:
            packing.start_packing(shipment.id, user_id=current_user.id)
    except DomainError as exc:
        flash(exc.message, "error")
        return go_to(url_for("floor.pack_home"))
    return go_to(url_for("floor.pack", shipment_id=shipment.id))


def _bench(shipment_id: int, outcome=None, status: int = 200):
    shipment = shipping.get_shipment(shipment_id)
    return page("floor/pack.html", "bench", status=status, shipment=shipment, outcome=outcome,
                packages=shipping.packages_of(shipment), to_pack=packing.units_to_pack(shipment),
                boxes=packing.box_types(), documents=shipping.shipment_documents(shipment.id),
                pending=shipping.label_pending(shipment), service_label=shipping.service_label(shipment))


@bp.route("/floor/pack/<int:shipment_id>")
def pack(shipment_id: int):
    return _bench(shipment_id)


@bp.route("/floor/pack/<int:shipment_id>/scan", methods=["POST"])
def pack_scan(shipment_id: int):
    code = request.form.get("code", "")[:100]
    return _bench(shipment_id, _outcome(lambda: packing.scan_pack(shipment_id, code, user_id=current_user.id)))


@bp.route("/floor/pack/<int:shipment_id>/box", methods=["POST"])
def pack_box(shipment_id: int):
    def change_box() -> picking.ScanOutcome:
        package = packing.change_box(request.form.get("package_id", type=int) or 0, request.form.get("box", ""),
                                     user_id=current_user.id)
        return picking.ScanOutcome(True, f"Carton {package.seq} is now a {package.box_type.name}.")
    return _bench(shipment_id, _outcome(change_box))


@bp.route("/floor/pack/<int:shipment_id>/close", methods=["POST"])
def pack_close(shipment_id: int):
    try:
        shipment = packing.complete_packing(shipment_id, user_id=current_user.id)
    except DomainError as exc:
        return _bench(shipment_id, picking.ScanOutcome(False, exc.message))
    pending = shipping.label_pending(shipment)
    text = "Packed. The carrier's label is pending and will be retried." if pending else "Packed and labelled. Print the label."
    return _bench(shipment_id, picking.ScanOutcome(True, text))


@bp.route("/floor/ship/<int:shipment_id>", methods=["POST"])
def ship(shipment_id: int):
    try:
        shipment = shipping.ship_shipment(shipment_id, user_id=current_user.id)
    except DomainError as exc:
        return _bench(shipment_id, picking.ScanOutcome(False, exc.message))
    flash(f"Shipment {shipment.number} shipped with {shipment.carrier} ({shipment.tracking_number}).")
    return go_to(url_for("floor.pack_home"))


@bp.route("/floor/labels/retry", methods=["POST"])
def retry_labels():
    result = shipping.retry_label_requests(force=True)
    flash(f"Labels retried: {result['labelled']} made, {result['waiting']} still waiting for the carrier.")
    return go_to(url_for("floor.pack_home"))


# --- cycle counts ------------------------------------------------------------------------------------------------

@bp.route("/floor/counts")
def counts():
    warehouse = request.args.get("warehouse", "")
    tasks = paginate(count_service.count_tasks(_warehouse_id(warehouse), "open"), page_number(request.args.get("page")), 25)
    return page("floor/counts.html", "count_list", tasks=tasks, warehouses=_warehouses(), warehouse=warehouse)


@bp.route("/floor/counts/<int:task_id>", methods=["GET", "POST"])
def count(task_id: int):
    task = count_service.get_count(task_id)
    if request.method == "GET":
        return page("floor/count.html", "count_form", task=task, errors={}, form={})
    form = {k: request.form.get(k, "").strip()[:60] for k in request.form if k != "csrf_token"}
    values = {line.sku_id: int(form[f"sku-{line.sku_id}"]) for line in task.lines
              if form.get(f"sku-{line.sku_id}", "").isdigit()}
    extra_qty = int(form["extra_qty"]) if form.get("extra_qty", "").isdigit() else None
    try:
        count_service.submit_count(task_id, values, user_id=current_user.id, extra_sku=form.get("extra_sku", ""),
                                   extra_qty=extra_qty)
    except DomainError as exc:
        errors = getattr(exc, "errors", None) or {"extra_sku": exc.message}
        return page("floor/count.html", "count_form", status=422, task=count_service.get_count(task_id), errors=errors,
                    form=form)
    flash(f"Count {task.number} recorded. Thank you.")
    return go_to(url_for("floor.counts"))
