"""Supervisor screens: the wave and labour plan, releasing waves, pick lists, and cycle count review."""
from __future__ import annotations

from datetime import date

from flask import flash, make_response, request, url_for
from flask_login import current_user
from sqlalchemy import select

from app.domain.errors import DomainError, ValidationError
from app.domain.roles import Role
from app.extensions import db
from app.models import Warehouse
from app.models.warehouse_ops import ShortPick, WavePlan
from app.services import counts as count_service
from app.services import picking
from app.services import waves as wave_service
from app.services.queries import page_number, paginate
from app.web import charts
from app.web.guard import guarded_blueprint
from app.web.render import go_to, page

bp = guarded_blueprint("waves", __name__, {Role.SUPERVISOR, Role.ADMIN})


def _warehouses() -> list[Warehouse]:
    return list(db.session.scalars(select(Warehouse).where(Warehouse.active.is_(True)).order_by(Warehouse.code)))


def _chosen_warehouse(code: str | None) -> Warehouse | None:
    found = _warehouses()
    return next((w for w in found if w.code == code), found[0] if found else None)


def _day(raw: str | None, warehouse: Warehouse) -> date:
    try:
        return date.fromisoformat(raw) if raw else wave_service.default_plan_day(warehouse)
    except ValueError:
        return wave_service.default_plan_day(warehouse)


@bp.route("/waves")
def plan():
    warehouse = _chosen_warehouse(request.args.get("warehouse"))
    if warehouse is None:
        return page("waves/plan.html", warehouses=[], warehouse=None)
    day = _day(request.args.get("day"), warehouse)
    plans = paginate(select(WavePlan).where(WavePlan.warehouse_id == warehouse.id).order_by(WavePlan.id.desc()),
                     page_number(request.args.get("page")), 10)
    return _plan_page(warehouse, day, plans, form={"mode": "max_on_time"}, errors={})


def _plan_page(warehouse, day, plans, form, errors, status=200, message=None):
    groups = wave_service.cutoff_groups(warehouse.id, day)
    return page("waves/plan.html", "plans", status=status, warehouses=_warehouses(), warehouse=warehouse, day=day,
                groups=groups, plans=plans, form=form, errors=errors, message=message, modes=wave_service.MODES,
                labour=wave_service.labour_plan_for(warehouse.id, day),
                capacity=wave_service.labour_capacity_units(warehouse.id, day))


def _pickers(raw: str) -> list[int] | None:
    parts = [p for p in raw.replace(";", ",").replace(" ", ",").split(",") if p]
    if not parts:
        return None
    if not all(p.isdigit() for p in parts):
        raise ValidationError(errors={"pickers": "Pickers are whole numbers, e.g. 6 or 4,4,6,6,6,4,4,2."})
    return [int(p) for p in parts]


@bp.route("/waves/plan", methods=["POST"])
def run_plan():
    form = {k: request.form.get(k, "").strip()[:100] for k in ("warehouse", "day", "mode", "pickers", "max_pickers")}
    warehouse = _chosen_warehouse(form["warehouse"])
    if warehouse is None:
        return go_to(url_for("waves.plan"))
    day = _day(form["day"], warehouse)
    try:
        max_pickers = int(form["max_pickers"]) if form["max_pickers"].isdigit() else None
        made = wave_service.plan_waves(warehouse.id, mode=form["mode"], day=day, pickers=_pickers(form["pickers"]),
                                       max_pickers=max_pickers, user_id=current_user.id)
    except DomainError as exc:
        plans = paginate(select(WavePlan).where(WavePlan.warehouse_id == warehouse.id).order_by(WavePlan.id.desc()), 1, 10)
        errors = getattr(exc, "errors", None) or {exc.field or "mode": exc.message}
        return _plan_page(warehouse, day, plans, form, errors, status=422, message=exc.message)
    flash(f"Planned {made.orders} shipments into waves: {made.late} late, {made.unplanned} not planned.")
    return go_to(url_for("waves.plan_detail", plan_id=made.id))


def gantt_for(plan: WavePlan):
    """The plan's waves on a timeline with each carrier cut-off."""
    start = plan.start.hour * 60 + plan.start.minute
    zone = wave_service.local_zone(plan.warehouse)
    minute = lambda moment: (lambda t: t.hour * 60 + t.minute)(moment.astimezone(zone))  # noqa: E731
    rows = [{"label": w.number, "start": minute(w.starts_at), "end": minute(w.ends_at), "pickers": w.pickers,
             "orders": len(w.members), "late": sum(1 for m in w.members if not m.on_time)} for w in plan.waves]
    cutoffs = sorted({(m.carrier + " " + m.cutoff_at.astimezone(zone).strftime("%H:%M"),
                       minute(m.cutoff_at)) for w in plan.waves for m in w.members}, key=lambda c: c[1])
    end = max([r["end"] for r in rows] + [c[1] for c in cutoffs] + [start + 60]) + 30
    from app.services.settings import get_setting
    return charts.wave_gantt(rows, cutoffs, day_start=start - 30, day_end=end,
                             pack_minutes=float(get_setting("waves.pack_minutes")), title=f"Waves of plan {plan.id}")


@bp.route("/waves/plans/<int:plan_id>")
def plan_detail(plan_id: int):
    plan_row = wave_service.get_plan(plan_id)
    planned = {m.shipment_id for w in plan_row.waves for m in w.members}
    unplanned = [s for s in wave_service.allocated_shipments(plan_row.warehouse_id) if s.id not in planned]
    return page("waves/plan_detail.html", "waves", plan=plan_row, chart=gantt_for(plan_row),
                summary=wave_service.plan_summary(plan_row), unplanned=unplanned[:200], unplanned_total=len(unplanned))


@bp.route("/waves/<int:wave_id>/release", methods=["POST"])
def release(wave_id: int):
    try:
        wave = wave_service.release_wave(wave_id, user_id=current_user.id)
    except DomainError as exc:
        flash(exc.message, "error")
        return go_to(url_for("waves.plan_detail", plan_id=wave_service.get_wave(wave_id).plan_id))
    flash(f"Wave {wave.number} released to the floor in {len(wave.batches)} batch(es).")
    return go_to(url_for("waves.wave_detail", wave_id=wave.id))


@bp.route("/waves/<int:wave_id>")
def wave_detail(wave_id: int):
    return page("waves/wave.html", wave=wave_service.get_wave(wave_id))


@bp.route("/waves/batches/<int:batch_id>")
def batch_detail(batch_id: int):
    batch = picking.get_batch(batch_id)
    layout = picking.pick_layout(batch.warehouse, [t.location for t in batch.tasks])
    from solvers.pickpath import parse_problem
    cross = parse_problem({"layout": layout, "picks": []}).layout.cross_aisle_positions
    stops = [(*picking._point(t.location), str(t.seq)) for t in batch.tasks]
    route_map = charts.pick_route_map(aisles=layout["aisles"], aisle_length=layout["aisle_length"],
                                      aisle_spacing=layout["aisle_spacing"], cross_aisles=cross, stops=stops,
                                      route=picking.route_points(batch), title=f"Route of batch {batch.number}")
    return page("waves/batch.html", batch=batch, route_map=route_map)


@bp.route("/waves/batches/<int:batch_id>/pick-list.pdf")
def pick_list_pdf(batch_id: int):
    size = request.args.get("size", "A4")
    size = size if size in ("A4", "Letter") else "A4"
    batch = picking.get_batch(batch_id)
    response = make_response(picking.render_pick_list(batch, size))
    response.headers["Content-Type"] = "application/pdf"
    response.headers["Content-Disposition"] = f'inline; filename="pick-list-{batch.number}-{size}.pdf"'
    return response


# --- cycle counts ------------------------------------------------------------------------------------------------

@bp.route("/waves/counts")
def counts():
    warehouse = _chosen_warehouse(request.args.get("warehouse"))
    status = request.args.get("status", "review")
    status = status if status in ("open", "review", "adjusted", "rejected", "all") else "review"
    tasks = paginate(count_service.count_tasks(warehouse.id if warehouse else None, None if status == "all" else status),
                     page_number(request.args.get("page")), 25)
    shorts = list(db.session.scalars(select(ShortPick).where(ShortPick.status == "open").order_by(ShortPick.id.desc())
                                     .limit(50)))
    return page("waves/counts.html", "tasks", warehouses=_warehouses(), warehouse=warehouse, status=status,
                tasks=tasks, shorts=shorts, errors={}, form={})


@bp.route("/waves/counts", methods=["POST"])
def create_counts():
    form = {k: request.form.get(k, "").strip()[:200] for k in ("warehouse", "aisle", "abc", "bins")}
    warehouse = _chosen_warehouse(form["warehouse"])
    try:
        made = count_service.create_count_tasks(
            warehouse.id, aisle=int(form["aisle"]) if form["aisle"].isdigit() else None, abc=form["abc"] or None,
            location_codes=[c for c in form["bins"].replace(",", " ").split() if c] or None, user_id=current_user.id)
    except DomainError as exc:
        flash(exc.message, "error")
        return go_to(url_for("waves.counts", warehouse=warehouse.code, status="open"))
    flash(f"Created {len(made)} count task(s).")
    return go_to(url_for("waves.counts", warehouse=warehouse.code, status="open"))


@bp.route("/waves/counts/<int:task_id>")
def count_detail(task_id: int):
    return page("waves/count.html", task=count_service.get_count(task_id), errors={})


@bp.route("/waves/counts/<int:task_id>/approve", methods=["POST"])
def approve_count(task_id: int):
    return _review(task_id, count_service.approve_count, "approved: the ledger is adjusted")


@bp.route("/waves/counts/<int:task_id>/reject", methods=["POST"])
def reject_count(task_id: int):
    return _review(task_id, count_service.reject_count, "rejected: a recount is queued")


def _review(task_id: int, decide, done: str):
    try:
        decide(task_id, user_id=current_user.id, note=request.form.get("note", "").strip()[:300])
    except DomainError as exc:
        return page("waves/count.html", status=403 if exc.status == 403 else 422,
                    task=count_service.get_count(task_id), errors={"note": exc.message})
    flash(f"Count {done}.")
    return go_to(url_for("waves.count_detail", task_id=task_id))
