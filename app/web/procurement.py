"""Procurement screens: what to buy and why, promotion scenarios, purchase orders from draft to closed, suppliers."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from flask import Response, abort, flash, request, url_for
from flask_login import current_user
from sqlalchemy import select

from app.domain.errors import DomainError, ValidationError
from app.domain.roles import Role
from app.extensions import db
from app.models import Sku, Supplier, Warehouse
from app.models.purchasing import SupplierTerms
from app.models.types import utcnow
from app.barcodes import code128_svg
from app.pdf import render_pdf
from app.services import purchasing, purchasing_queries, queries
from app.services import replenishment as restock
from app.services.approvals import latest_request_for, pending_request_for
from app.services.settings import get_setting
from app.web.guard import guarded_blueprint
from app.web.render import go_to, page

bp = guarded_blueprint("procurement", __name__, {Role.PROCUREMENT, Role.ADMIN}, url_prefix="/procurement")

NEW_PO_ROWS = 6
PERIODS = (30, 90, 180, 365)
SHOW = ("buy", "watch", "all")


# Badge colours for purchase order statuses: waiting on someone, on its way, done, stopped.
PO_BADGES = {"awaiting_approval": "warn", "approved": "info", "sent": "info", "confirmed": "info",
             "partially_received": "warn", "received": "ok", "closed": "ok", "cancelled": "bad", "in_transit": "info"}


@bp.context_processor
def purchasing_helpers():
    return {"unit_cost": unit_cost_text, "po_badges": PO_BADGES}


def unit_cost_text(value: Decimal | None, currency: str) -> str:
    """A unit cost as money, keeping the third and fourth decimals when the agreed cost has them."""
    from app.web.formatting import money
    if value is None:
        return "—"
    if value == value.quantize(Decimal("0.01")):
        return money(value, currency)
    text = money(value.quantize(Decimal("0.01"), rounding="ROUND_DOWN"), currency)
    last_digit = max(i for i, char in enumerate(text) if char.isdigit())
    return text[:last_digit + 1] + f"{value:.4f}"[-2:].rstrip("0") + text[last_digit + 1:]


def _int(raw: object) -> int | None:
    try:
        return int(str(raw).strip())
    except (TypeError, ValueError):
        return None


def _text(name: str, limit: int = 200) -> str:
    return request.form.get(name, "").strip()[:limit]


def _date(raw: str) -> date | None:
    try:
        return date.fromisoformat(raw.strip()) if raw and raw.strip() else None
    except ValueError:
        return None


def _warehouses() -> list[Warehouse]:
    return list(db.session.scalars(select(Warehouse).where(Warehouse.active.is_(True)).order_by(Warehouse.code)))


def _suppliers(active_only: bool = True) -> list[Supplier]:
    stmt = select(Supplier).order_by(Supplier.name)
    return list(db.session.scalars(stmt.where(Supplier.active.is_(True)) if active_only else stmt))


def _errors_text(exc: ValidationError) -> str:
    return " ".join(dict.fromkeys(exc.errors.values())) or exc.message


# --- replenishment -----------------------------------------------------------------------------------------------

@bp.route("/replenishment")
def replenishment():
    return _replenishment_page()


def _replenishment_page(errors: dict | None = None, status: int = 200):
    args = request.args
    filters = {"q": args.get("q", "")[:100], "warehouse": _int(args.get("warehouse")),
               "supplier": _int(args.get("supplier")), "show": args.get("show") if args.get("show") in SHOW else "buy"}
    run = restock.latest_run()
    results = counts = None
    if run is not None:
        stmt = restock.suggestion_search(run.id, q=filters["q"], warehouse_id=filters["warehouse"],
                                               supplier_id=filters["supplier"], show=filters["show"])
        results = queries.paginate(stmt, queries.page_number(args.get("page")), 50)
        counts = restock.run_counts(run.id)
    return page("procurement/replenishment.html", "suggestions", status=status, run=run, results=results,
                counts=counts, filters=filters, runs=restock.recent_runs(), warehouses=_warehouses(),
                suppliers=_suppliers(), errors=errors or {}, today=purchasing.local_today())


@bp.post("/replenishment/run")
def run_now():
    try:
        run = restock.run_replenishment(trigger="manual", user_id=current_user.id)
        flash(f"Replenishment run {run.id} finished in {run.seconds:.1f} s: {run.series} SKU-warehouse forecasts, "
              f"{run.suggestions} to buy.")
    except DomainError as exc:
        flash(exc.message, "error")
    return go_to(url_for("procurement.replenishment"))


@bp.post("/replenishment/draft")
def draft_orders():
    ids = [i for i in (_int(v) for v in request.form.getlist("line")) if i]
    quantities = {i: q for i in ids if (q := _int(request.form.get(f"qty-{i}"))) is not None}
    try:
        drafts = restock.draft_from_suggestions(ids, user_id=current_user.id, quantities=quantities)
    except ValidationError as exc:
        flash(_errors_text(exc), "error")
        return _replenishment_page(exc.errors, 422)
    except DomainError as exc:
        flash(exc.message, "error")
        return _replenishment_page({}, 422)
    flash(f"Drafted {', '.join(po.number for po in drafts)}: check the lines, then send.")
    if len(drafts) == 1:
        return go_to(url_for("procurement.purchase_order", po_id=drafts[0].id))
    return go_to(url_for("procurement.purchase_orders", status="draft"))


@bp.route("/replenishment/lines/<int:line_id>")
def suggestion(line_id: int):
    try:
        line = restock.get_line(line_id)
    except DomainError:
        abort(404)
    history = restock.line_history(line)
    return page("procurement/suggestion.html", line=line, history=history, chart=_suggestion_chart(line, history),
                offers=purchasing_queries.offers_for_skus([line.sku_id]).get(line.sku_id, []),
                latest=restock.latest_run())


def _suggestion_chart(line, history):
    from app.domain.replenishment import project_stock
    from app.web import charts
    run_day = purchasing_queries.local_date(line.run.started_at)
    days = len(line.daily)
    labels = [d.strftime("%d %b") for d, _ in history] + [(run_day + timedelta(days=i)).strftime("%d %b")
                                                           for i in range(days)]
    start = line.available - line.backorders
    without = project_stock(start, line.daily).closing
    with_order = project_stock(start, line.daily, {max(1, round(line.lead_time_days)): line.qty}).closing
    pad = [None] * len(history)
    series = {"units sold a day": [u for _, u in history] + [None] * days,
              "forecast a day": pad + list(line.daily),
              "projected stock": pad + list(without)}
    if line.qty:
        series["projected stock with the suggested order"] = pad + list(with_order)
    return charts.line_chart(labels, series, bars="units sold a day", band=(len(history), len(labels)),
                             band_label="forecast", title=f"Demand and projected stock of {line.sku.code}",
                             colours={"units sold a day": "#4a90c2", "forecast a day": "#f2a541",
                                      "projected stock": "#c0504d",
                                      "projected stock with the suggested order": "#2e8b57"})


# --- promotion scenarios -----------------------------------------------------------------------------------------

@bp.route("/scenarios", methods=["GET", "POST"])
def scenarios():
    today = purchasing.local_today()
    form = {"name": "", "skus": request.args.get("skus", "")[:2000], "uplift_pct": "30",
            "starts_on": (today + timedelta(days=14)).isoformat(), "ends_on": (today + timedelta(days=20)).isoformat(),
            "warehouse": ""}
    if request.method == "GET":
        return _scenario_page(form)
    form = {key: _text(key, 2000) for key in form}
    uplift = _decimal(form["uplift_pct"])
    args = (restock.parse_sku_codes(form["skus"]), uplift, _date(form["starts_on"]), _date(form["ends_on"]))
    warehouse_id = _int(form["warehouse"])
    try:
        if request.form.get("action") == "commit":
            promotion = restock.commit_promotion(form["name"], *args, warehouse_id=warehouse_id,
                                                       user_id=current_user.id)
            flash(f"Promotion {promotion.name} saved: later runs forecast its uplift. "
                  + (f"Drafted {', '.join(promotion.po_numbers)}." if promotion.po_numbers else "No extra buys needed."))
            return go_to(url_for("procurement.scenarios"))
        scenario = restock.plan_promotion(*args, warehouse_id)
    except ValidationError as exc:
        return _scenario_page(form, errors=exc.errors, message=exc.message, status=422)
    except DomainError as exc:
        return _scenario_page(form, errors={}, message=exc.message, status=422)
    return _scenario_page(form, scenario=scenario)


def _decimal(raw: str) -> Decimal | None:
    try:
        value = Decimal(raw.replace("%", "").strip())
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _scenario_page(form, *, scenario=None, errors=None, message=None, status=200):
    return page("procurement/scenarios.html", "scenario", status=status, form=form, scenario=scenario,
                errors=errors or {}, message=message, warehouses=_warehouses(),
                promotions=restock.recent_promotions(), scenario_charts=_scenario_charts(scenario),
                sku_codes=restock.sku_codes_by_id({i for p in restock.recent_promotions() for i in p.sku_ids}),
                run=restock.latest_run())


def _scenario_charts(scenario) -> dict:
    if scenario is None:
        return {}
    from app.web import charts
    made = {}
    for row in scenario.rows[:24]:
        labels = [(scenario.today + timedelta(days=i)).strftime("%d %b") for i in range(row.days_shown)]
        made[row.line.id] = charts.line_chart(
            labels, {"without the promotion": row.without.closing, "with the promotion": row.with_promotion.closing},
            band=(row.first_day, row.last_day), band_label="promotion", height=180,
            title=f"Projected stock of {row.line.sku.code} in {row.line.warehouse.code}",
            colours={"without the promotion": "#1f4e79", "with the promotion": "#c0504d"})
    return made


# --- purchase orders ---------------------------------------------------------------------------------------------

@bp.route("/purchase-orders")
def purchase_orders():
    args = request.args
    filters = {"q": args.get("q", "")[:100], "status": args.get("status", "")[:20],
               "supplier": _int(args.get("supplier")), "warehouse": _int(args.get("warehouse"))}
    if filters["status"] not in ("", "open", *purchasing.PO_STATUSES):
        filters["status"] = ""
    stmt = purchasing_queries.po_search(filters["q"], status=filters["status"], supplier_id=filters["supplier"],
                                        warehouse_id=filters["warehouse"])
    results = queries.paginate(stmt, queries.page_number(args.get("page")), 50)
    return page("procurement/purchase_orders.html", "results", results=results, filters=filters,
                statuses=purchasing.PO_STATUSES, counts=purchasing_queries.po_counts_by_status(),
                suppliers=_suppliers(False), warehouses=_warehouses(), today=purchasing.local_today())


@bp.route("/purchase-orders/new", methods=["GET", "POST"])
def new_po():
    if request.method == "GET":
        form = {"supplier": request.args.get("supplier", ""), "warehouse": request.args.get("warehouse", ""), "note": ""}
        return _new_po_page(form, [{} for _ in range(NEW_PO_ROWS)])
    form = {"supplier": _text("supplier"), "warehouse": _text("warehouse"), "note": _text("note", 1000)}
    rows = _posted_rows()
    if request.form.get("add_line"):
        return _new_po_page(form, rows + [{} for _ in range(3)])
    try:
        po = purchasing.draft_purchase_order(_int(form["supplier"]), _int(form["warehouse"]), _line_inputs(rows),
                                             user_id=current_user.id, note=form["note"])
    except ValidationError as exc:
        return _new_po_page(form, rows, _row_errors(exc.errors, rows), exc.message, 422)
    except DomainError as exc:
        return _new_po_page(form, rows, {exc.field or "supplier": exc.message}, exc.message, 422)
    flash(f"Drafted {po.number} for {po.supplier.name}.")
    return go_to(url_for("procurement.purchase_order", po_id=po.id))


def _new_po_page(form, rows, errors=None, message=None, status=200):
    return page("procurement/new_po.html", "form", status=status, form=form, rows=rows, errors=errors or {},
                message=message, suppliers=_suppliers(), warehouses=_warehouses())


def _posted_rows() -> list[dict]:
    rows = []
    for i in range(200):
        if f"lines-{i}-sku" not in request.form:
            break
        rows.append({key: request.form.get(f"lines-{i}-{key}", "").strip()[:64] for key in ("sku", "qty", "unit_cost")})
    return rows


def _filled(rows: list[dict]) -> list[tuple[int, dict]]:
    return [(i, row) for i, row in enumerate(rows) if any(row.values())]


def _line_inputs(rows: list[dict]) -> list[purchasing.LineInput]:
    """Typed rows to line inputs; every bad cell is named by its row before the service sees them."""
    filled = _filled(rows)
    skus = purchasing.skus_by_code({row["sku"] for _, row in filled})
    inputs, errors = [], {}
    for n, (i, row) in enumerate(filled):
        sku, qty = skus.get(row["sku"]), _int(row["qty"])
        if sku is None:
            errors[f"lines-{i}-sku"] = "No SKU with that code." if row["sku"] else "Enter a SKU."
        if qty is None or qty <= 0:
            errors[f"lines-{i}-qty"] = "Enter a whole number of units."
        try:
            cost = purchasing.parse_unit_cost(row["unit_cost"])
        except ValidationError as exc:
            errors[f"lines-{i}-unit_cost"], cost = exc.message, None
        if sku is not None and qty:
            inputs.append(purchasing.LineInput(sku.id, qty, cost))
    if errors:
        raise ValidationError(errors=errors)
    return inputs


def _row_errors(errors: dict, rows: list[dict]) -> dict:
    """Service errors name lines[n] of the lines sent; the form names its rows lines-i."""
    filled = [i for i, _ in _filled(rows)]
    mapped = {}
    for key, message in errors.items():
        if key.startswith("lines[") and "]" in key:
            n, field = int(key[6:key.index("]")]), key[key.index("]") + 2:]
            key = f"lines-{filled[n]}-{field}" if n < len(filled) else "lines"
        mapped[key] = message
    return mapped


@bp.route("/purchase-orders/<int:po_id>")
def purchase_order(po_id: int):
    return _po_page(po_id)


def _po_page(po_id: int, errors: dict | None = None, form: dict | None = None, status: int = 200):
    try:
        po = purchasing.get_po(po_id)
    except DomainError:
        abort(404)
    timeline = purchasing_queries.po_timeline(po)
    return page("procurement/purchase_order.html", status=status, po=po, errors=errors or {}, form=form or {},
                timeline=timeline, plan=purchasing.put_away_plan(po),
                bins=purchasing_queries.warehouse_bins(po.warehouse_id),
                approval=pending_request_for("purchase_order", po.id), home_value=purchasing.home_value(po),
                last_decision=latest_request_for("purchase_order", po.id),
                today=purchasing.local_today(), usernames=queries.users_by_id({e.user_id for e in timeline if e.user_id}),
                tolerance=get_setting("purchasing.over_receipt_tolerance_pct"))


def _act(po_id: int, action, done: str):
    try:
        result = action()
        flash(done.format(result=result))
    except ValidationError as exc:
        flash(_errors_text(exc), "error")
        return _po_page(po_id, exc.errors, request.form.to_dict(), 422)
    except DomainError as exc:
        flash(exc.message, "error")
        return _po_page(po_id, {exc.field or "action": exc.message}, request.form.to_dict(), 422)
    return go_to(url_for("procurement.purchase_order", po_id=po_id))


@bp.post("/purchase-orders/<int:po_id>/lines")
def edit_lines(po_id: int):
    po = _po_or_404(po_id)
    inputs, errors = [], {}
    for line in po.lines:
        qty = _int(request.form.get(f"qty-{line.id}"))
        try:
            cost = purchasing.parse_unit_cost(request.form.get(f"cost-{line.id}", ""))
        except ValidationError as exc:
            errors[f"cost-{line.id}"], cost = exc.message, None
        if qty is None or qty < 0:
            errors[f"qty-{line.id}"] = "Enter a whole number of units (0 removes the line)."
        elif qty > 0:
            inputs.append(purchasing.LineInput(line.sku_id, qty, cost if cost is not None else line.unit_cost, line.reason))
    added = _added_line(errors)
    if added is not None:
        inputs.append(added)
    if errors:
        return _po_page(po_id, errors, request.form.to_dict(), 422)
    return _act(po_id, lambda: purchasing.update_draft_lines(po_id, inputs, user_id=current_user.id,
                                                             note=request.form.get("note")),
                "Saved the lines of {result.number}.")


def _added_line(errors: dict):
    code, qty_text = _text("add_sku", 64), _text("add_qty", 12)
    if not code and not qty_text:
        return None
    sku = purchasing.skus_by_code({code}).get(code)
    qty = _int(qty_text)
    if sku is None:
        errors["add_sku"] = "No SKU with that code."
    if qty is None or qty <= 0:
        errors["add_qty"] = "Enter a whole number of units."
    try:
        cost = purchasing.parse_unit_cost(request.form.get("add_cost", ""))
    except ValidationError as exc:
        errors["add_cost"], cost = exc.message, None
    return purchasing.LineInput(sku.id, qty, cost) if sku is not None and qty and qty > 0 else None


def _po_or_404(po_id: int):
    try:
        return purchasing.get_po(po_id)
    except DomainError:
        abort(404)


@bp.post("/purchase-orders/<int:po_id>/send")
def send(po_id: int):
    def action():
        po = purchasing.send_purchase_order(po_id, user_id=current_user.id)
        return ("waiting for approval by " + pending_request_for("purchase_order", po.id).approver_role
                if po.status == "awaiting_approval" else "sent to " + po.supplier.name)
    return _act(po_id, action, "The purchase order is {result}.")


@bp.post("/purchase-orders/<int:po_id>/confirm")
def confirm(po_id: int):
    expected = _date(_text("expected_date", 12))
    if _text("expected_date", 12) and expected is None:
        return _po_page(po_id, {"expected_date": "Enter a date like 2026-12-01."}, request.form.to_dict(), 422)
    return _act(po_id, lambda: purchasing.confirm_purchase_order(po_id, user_id=current_user.id, expected_date=expected,
                                                                 supplier_reference=_text("supplier_reference", 60)),
                "The supplier confirmed {result.number}; expected {result.expected_date}.")


@bp.post("/purchase-orders/<int:po_id>/shipment")
def notify_shipment(po_id: int):
    po = _po_or_404(po_id)
    lines, errors = [], {}
    for index, line in enumerate(po.lines):
        raw = _text(f"asn-{line.id}", 12)
        qty = _int(raw)
        if raw and (qty is None or qty < 0):
            errors[f"asn-{line.id}"] = "Enter a whole number of units."
        elif qty:
            lines.append((line.sku_id, qty))
    expected = _date(_text("asn_expected_date", 12))
    if expected is None:
        errors["asn_expected_date"] = "Enter the date the shipment should arrive."
    if errors:
        return _po_page(po_id, errors, request.form.to_dict(), 422)
    return _act(po_id, lambda: purchasing.record_shipment_notice(
        po_id, lines, expected_date=expected, user_id=current_user.id, reference=_text("asn_reference", 60),
        carrier=_text("asn_carrier", 60), tracking=_text("asn_tracking", 80)),
        "Recorded the shipment notice: the units are in transit to the dock, due {result.expected_date}.")


@bp.post("/purchase-orders/<int:po_id>/receive")
def receive(po_id: int):
    lines, keys, errors = _receipt_form(_po_or_404(po_id))
    if errors:
        return _po_page(po_id, errors, request.form.to_dict(), 422)
    try:
        receipt = purchasing.receive_purchase_order(po_id, lines, user_id=current_user.id, note=_text("receive_note", 500))
    except DomainError as exc:
        errors = getattr(exc, "errors", {}) or {}
        flash(_errors_text(exc) if errors else exc.message, "error")
        return _po_page(po_id, {_receipt_key(k, keys): v for k, v in errors.items()}, request.form.to_dict(), 422)
    held = sum(rl.qty for rl in receipt.lines if rl.quarantined)
    flash(f"Received {receipt.number}: {sum(rl.qty for rl in receipt.lines)} units"
          + (f", {held} held in quarantine" if held else "") + ". Waiting orders were given the new stock first.")
    return go_to(url_for("procurement.purchase_order", po_id=po_id))


def _receipt_form(po) -> tuple[list[purchasing.ReceiveInput], list[int], dict[str, str]]:
    """The receive form's rows with units typed in, the PO line of each, and the cells that are not numbers."""
    lines, keys, errors = [], [], {}
    for line in po.lines:
        raw = _text(f"receive-{line.id}", 12)
        qty = _int(raw)
        try:
            cost = purchasing.parse_unit_cost(request.form.get(f"receive-cost-{line.id}", ""))
        except ValidationError as exc:
            errors[f"receive-cost-{line.id}"], cost = exc.message, None
        if raw and (qty is None or qty < 0):
            errors[f"receive-{line.id}"] = "Enter a whole number of units."
        elif qty:
            held = bool(request.form.get(f"quarantine-{line.id}"))
            lines.append(purchasing.ReceiveInput(line.sku_id, qty, held, cost))
            keys.append(line.id)
    return lines, keys, errors


def _receipt_key(key: str, keys: list[int]) -> str:
    """The service names lines[n] of the lines sent; the form names its cells receive-<line id>."""
    if key.startswith("lines[") and "]" in key:
        index = int(key[6:key.index("]")])
        field = "receive-cost" if key.endswith("unit_cost") else "receive"
        return f"{field}-{keys[index]}" if index < len(keys) else key
    return key


@bp.post("/purchase-orders/<int:po_id>/put-away")
def put_away(po_id: int):
    po = _po_or_404(po_id)
    moves, errors = [], {}
    bins = {location.code: location for location in purchasing_queries.warehouse_bins(po.warehouse_id)}
    for line in po.lines:
        qty, bin_code = _int(request.form.get(f"putaway-{line.id}")), _text(f"bin-{line.id}", 40)
        if not qty:
            continue
        location = bins.get(bin_code)
        if location is None:
            errors[f"bin-{line.id}"] = f"No active bin '{bin_code}' in {po.warehouse.code}."
        else:
            moves.append((line.id, location.id, qty))
    if errors:
        return _po_page(po_id, errors, request.form.to_dict(), 422)
    return _act(po_id, lambda: purchasing.put_away(po_id, moves, user_id=current_user.id),
                "Put {result} units away to their bins.")


@bp.post("/purchase-orders/<int:po_id>/release")
def release(po_id: int):
    line_id, qty = _int(request.form.get("line")), _int(request.form.get("qty"))
    return _act(po_id, lambda: purchasing.release_from_quarantine(po_id, line_id, qty, user_id=current_user.id,
                                                                  note=_text("note", 200)),
                "Released {result} units from quarantine.")


@bp.post("/purchase-orders/<int:po_id>/close")
def close(po_id: int):
    return _act(po_id, lambda: purchasing.close_purchase_order(po_id, user_id=current_user.id, note=_text("note", 300)),
                "Closed {result.number}.")


@bp.post("/purchase-orders/<int:po_id>/cancel")
def cancel(po_id: int):
    return _act(po_id, lambda: purchasing.cancel_purchase_order(po_id, user_id=current_user.id,
                                                                reason=_text("reason", 300)),
                "Cancelled {result.number}.")


@bp.route("/purchase-orders/<int:po_id>.pdf")
def purchase_order_pdf(po_id: int):
    po = _po_or_404(po_id)
    if po.status in ("draft", "awaiting_approval", "cancelled"):
        abort(409, description=f"{po.number} is {po.status.replace('_', ' ')}; only approved or sent orders are printed.")
    body = render_pdf("pdf/purchase_order.html", page_size="A4", po=po, terms=db.session.get(SupplierTerms, po.supplier_id),
                      contacts=purchasing_queries.supplier_contacts(po.supplier_id), printed=utcnow(),
                      barcode=lambda text: code128_svg(text, module_mm=0.3, height_mm=10))
    return Response(body, mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{po.number}.pdf"'})


# --- suppliers ---------------------------------------------------------------------------------------------------

@bp.route("/suppliers")
def suppliers():
    args = request.args
    days = _int(args.get("days")) if _int(args.get("days")) in PERIODS else 90
    q = args.get("q", "")[:100]
    results = queries.paginate(purchasing_queries.supplier_search(q, active=args.get("active", "")),
                               queries.page_number(args.get("page")), 50)
    today = purchasing.local_today()
    ranking = purchasing_queries.supplier_ranking(utcnow() - timedelta(days=days), today)
    return page("procurement/suppliers.html", "results", results=results, q=q, active=args.get("active", ""),
                days=days, periods=PERIODS, ranking=ranking, sizes=purchasing_queries.catalogue_sizes())


@bp.route("/suppliers/<int:supplier_id>")
def supplier(supplier_id: int):
    return _supplier_page(supplier_id)


def _supplier_page(supplier_id: int, errors: dict | None = None, form: dict | None = None, status: int = 200):
    found = db.session.get(Supplier, supplier_id) or abort(404)
    args = request.args
    days = _int(args.get("days")) if _int(args.get("days")) in PERIODS else 90
    q = args.get("q", "")[:100]
    catalogue = queries.paginate(purchasing_queries.supplier_catalogue(supplier_id, q),
                                 queries.page_number(args.get("page")), 25)
    recent = queries.paginate(purchasing_queries.po_search(supplier_id=supplier_id), 1, 10)
    performance = purchasing_queries.supplier_performance(found, utcnow() - timedelta(days=days),
                                                          purchasing.local_today())
    return page("procurement/supplier.html", "catalogue", status=status, supplier=found, catalogue=catalogue, q=q,
                terms=db.session.get(SupplierTerms, supplier_id), contacts=purchasing_queries.supplier_contacts(supplier_id),
                performance=performance, days=days, periods=PERIODS, recent=recent, errors=errors or {},
                form=form or {})


@bp.route("/suppliers/new", methods=["GET", "POST"])
def new_supplier():
    return _supplier_form(None)


@bp.route("/suppliers/<int:supplier_id>/edit", methods=["GET", "POST"])
def edit_supplier(supplier_id: int):
    return _supplier_form(db.session.get(Supplier, supplier_id) or abort(404))


def _supplier_form(found: Supplier | None):
    fields = ("code", "name", "email", "phone", "country", "currency", "lead_time_days", "payment_days", "incoterm",
              "notes")
    if request.method == "GET":
        terms = db.session.get(SupplierTerms, found.id) if found else None
        form = {"code": found.code, "name": found.name, "email": found.email, "phone": found.phone,
                "country": found.country, "currency": found.currency, "lead_time_days": found.lead_time_days,
                "active": found.active, "payment_days": terms.payment_days if terms else 30,
                "incoterm": terms.incoterm if terms else "DAP", "notes": terms.notes if terms else ""} if found else \
            {"country": "GB", "currency": "GBP", "lead_time_days": 14, "payment_days": 30, "incoterm": "DAP",
             "active": True}
        return _supplier_form_page(found, form)
    form = {key: _text(key, 500) for key in fields}
    form["active"] = bool(request.form.get("active"))
    try:
        saved = purchasing.save_supplier(found.id if found else None, code=form["code"], name=form["name"],
                                         email=form["email"], phone=form["phone"], country=form["country"],
                                         currency=form["currency"], lead_time_days=_int(form["lead_time_days"]),
                                         active=form["active"], payment_days=_int(form["payment_days"]),
                                         incoterm=form["incoterm"], notes=form["notes"])
    except ValidationError as exc:
        return _supplier_form_page(found, form, exc.errors, 422)
    flash(f"Saved {saved.name}.")
    return go_to(url_for("procurement.supplier", supplier_id=saved.id))


def _supplier_form_page(found, form, errors=None, status=200):
    return page("procurement/supplier_form.html", "form", status=status, supplier=found, form=form,
                errors=errors or {}, currencies=purchasing.known_currencies())


@bp.post("/suppliers/<int:supplier_id>/skus")
def save_offer(supplier_id: int):
    form = {key: _text(key, 64) for key in ("sku", "unit_cost", "pack_size", "moq", "lead_time_days", "supplier_code")}
    form["preferred"], form["active"] = bool(request.form.get("preferred")), bool(request.form.get("active"))
    sku = db.session.scalar(select(Sku).where(Sku.code == form["sku"])) if form["sku"] else None
    try:
        cost = purchasing.parse_unit_cost(form["unit_cost"])
        if sku is None:
            raise ValidationError(errors={"sku": "No SKU with that code."})
        purchasing.save_supplier_sku(supplier_id, sku.id, unit_cost=cost, pack_size=_int(form["pack_size"]),
                                     moq=_int(form["moq"] or "0"),
                                     lead_time_days=_int(form["lead_time_days"]) if form["lead_time_days"] else None,
                                     supplier_code=form["supplier_code"], preferred=form["preferred"],
                                     active=form["active"])
    except ValidationError as exc:
        return _supplier_page(supplier_id, exc.errors, form, 422)
    except DomainError as exc:
        return _supplier_page(supplier_id, {exc.field or "sku": exc.message}, form, 422)
    flash(f"Saved {form['sku']} in the catalogue.")
    return go_to(url_for("procurement.supplier", supplier_id=supplier_id, q=form["sku"]))


@bp.post("/suppliers/<int:supplier_id>/contacts")
def add_contact(supplier_id: int):
    form = {key: _text(key) for key in ("name", "title", "email", "phone")}
    try:
        purchasing.add_supplier_contact(supplier_id, **form, primary=bool(request.form.get("primary")))
    except ValidationError as exc:
        return _supplier_page(supplier_id, {f"contact_{k}": v for k, v in exc.errors.items()}, form, 422)
    except DomainError:
        abort(404)
    flash(f"Added {form['name']}.")
    return go_to(url_for("procurement.supplier", supplier_id=supplier_id))


@bp.post("/suppliers/<int:supplier_id>/contacts/<int:contact_id>/remove")
def remove_contact(supplier_id: int, contact_id: int):
    try:
        purchasing.remove_supplier_contact(contact_id)
        flash("Removed the contact.")
    except DomainError as exc:
        flash(exc.message, "error")
    return go_to(url_for("procurement.supplier", supplier_id=supplier_id))
