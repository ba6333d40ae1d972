"""Retail screens: order inbox and detail, holds, exceptions, available-to-sell, manual entry and CSV import."""
from __future__ import annotations

from flask import abort, flash, request, url_for
from flask_login import current_user

from app.domain.errors import DomainError, ValidationError
from app.domain.roles import Role
from app.services import intake, order_queries, orders, queries
from app.services.intake import CsvRejected
from app.web.guard import guarded_blueprint
from app.web.render import go_to, page

bp = guarded_blueprint("retail", __name__, {Role.RETAIL, Role.ADMIN})

MAX_CSV_BYTES = 5_000_000
MANUAL_LINE_ROWS = 5


# --- inbox and order detail --------------------------------------------------------------------------------

@bp.route("/orders")
def inbox():
    filters = order_queries.InboxFilters.from_args(request.args)
    results = order_queries.inbox(filters, order_queries.Seek.from_args(request.args))
    return page("retail/inbox.html", "results", filters=filters, results=results, choices=order_queries.filter_choices(),
                warehouses=order_queries.shipment_warehouses([o.id for o in results.items]))


@bp.route("/orders/<int:order_id>")
def order_detail(order_id: int):
    order = order_queries.order_detail(order_id) or abort(404)
    return page("retail/order_detail.html", order=order, timeline=order_queries.order_timeline(order),
                releasers=order_queries.hold_releasers(order), deliveries=order_queries.order_deliveries(order_id))


def _act(order_id: int, action, done: str):
    """Run one order action, flash what happened, and go back where the person came from."""
    try:
        order = action()
        flash(done.format(order=order))
    except DomainError as exc:
        flash(exc.message, "error")
    back = request.form.get("back")
    if back == "holds":
        return go_to(url_for("retail.holds"))
    return go_to(url_for("retail.order_detail", order_id=order_id))


def _note(name: str) -> str:
    return request.form.get(name, "").strip()[:300]


@bp.post("/orders/<int:order_id>/release")
def release(order_id: int):
    return _act(order_id, lambda: orders.release_order_holds(order_id, user_id=current_user.id, note=_note("note")),
                "Released {order.number}; it is now {order.status}.")


@bp.post("/orders/<int:order_id>/hold")
def hold(order_id: int):
    return _act(order_id, lambda: orders.hold_order(order_id, reason=_note("reason"), user_id=current_user.id),
                "{order.number} is on hold.")


@bp.post("/orders/<int:order_id>/cancel")
def cancel(order_id: int):
    reason = _note("reason") or "cancelled by customer service"
    return _act(order_id, lambda: orders.cancel_order(order_id, reason=reason, user_id=current_user.id),
                "Cancelled {order.number}; its reserved stock is available again.")


@bp.post("/orders/<int:order_id>/allocate")
def allocate(order_id: int):
    return _act(order_id, lambda: orders.allocate_order(order_id, user_id=current_user.id),
                "Tried to allocate {order.number}; it is now {order.status}.")


@bp.post("/orders/<int:order_id>/validate")
def validate(order_id: int):
    return _act(order_id, lambda: orders.validate_order(order_id, user_id=current_user.id),
                "Checked {order.number}; it is now {order.status}.")


# --- queues ------------------------------------------------------------------------------------------------

@bp.route("/holds")
def holds():
    args = request.args
    q, kind, channel = args.get("q", "").strip()[:100], args.get("kind", "")[:30], args.get("channel", "")[:30]
    results = order_queries.hold_queue(q, kind, channel, queries.page_number(args.get("page")))
    return page("retail/holds.html", "results", results=results, q=q, kind=kind, channel=channel,
                kinds=order_queries.open_hold_kinds(), channels=order_queries.active_channels())


@bp.route("/exceptions")
def exceptions():
    args = request.args
    view = args.get("view", "open") if args.get("view") in order_queries.EXCEPTION_VIEWS else "open"
    q, source = args.get("q", "").strip()[:100], args.get("source", "")[:20]
    results = order_queries.exception_queue(view, q, source, queries.page_number(args.get("page")))
    return page("retail/exceptions.html", "results", results=results, view=view, q=q, source=source,
                open_count=order_queries.exception_count())


@bp.route("/exceptions/<int:delivery_id>")
def exception_detail(delivery_id: int):
    delivery = order_queries.delivery(delivery_id) or abort(404)
    return page("retail/exception_detail.html", delivery=delivery, body=order_queries.pretty_body(delivery),
                errors={})


@bp.post("/exceptions/<int:delivery_id>/retry")
def retry(delivery_id: int):
    try:
        delivery = intake.retry_delivery(delivery_id, user_id=current_user.id)
    except DomainError as exc:
        flash(exc.message, "error")
        return go_to(url_for("retail.exception_detail", delivery_id=delivery_id))
    if delivery.status in intake.OPEN_EXCEPTIONS:
        flash(f"Still cannot apply it: {delivery.error}", "error")
        return go_to(url_for("retail.exception_detail", delivery_id=delivery_id))
    flash(f"Delivery {delivery.id} applied: {delivery.status}.")
    if delivery.order_id:
        return go_to(url_for("retail.order_detail", order_id=delivery.order_id))
    return go_to(url_for("retail.exceptions"))


@bp.post("/exceptions/<int:delivery_id>/dismiss")
def dismiss(delivery_id: int):
    try:
        intake.dismiss_delivery(delivery_id, note=_note("note"), user_id=current_user.id)
    except DomainError as exc:
        flash(exc.message, "error")
        return go_to(url_for("retail.exception_detail", delivery_id=delivery_id))
    flash(f"Delivery {delivery_id} dismissed.")
    return go_to(url_for("retail.exceptions"))


# --- available to sell -------------------------------------------------------------------------------------

@bp.route("/availability")
def availability():
    args = request.args
    q, channel, short = args.get("q", "").strip()[:100], args.get("channel", "")[:30], args.get("short") == "1"
    skus, channels, cells = order_queries.availability_table(q, channel, short, queries.page_number(args.get("page")))
    return page("retail/availability.html", "results", skus=skus, channels=channels, cells=cells, q=q,
                channel=channel, short=short, all_channels=order_queries.active_channels())


# --- manual entry ------------------------------------------------------------------------------------------

def _order_form(form: dict, lines: list[dict], errors: dict | None = None, message: str | None = None, status: int = 200):
    return page("retail/new_order.html", "form", status=status, form=form, lines=lines, errors=errors or {},
                message=message, channels=order_queries.active_channels())


@bp.route("/orders/new", methods=["GET", "POST"])
def new_order():
    if request.method == "GET":
        form = {"external_id": intake.new_manual_reference(), "country": "GB", "payment_captured": "1",
                "channel": request.args.get("channel", "")}
        return _order_form(form, [{} for _ in range(MANUAL_LINE_ROWS)])
    form = {k: v[:1000] for k, v in request.form.items() if not k.startswith("lines-")}
    lines = _posted_lines()
    if request.form.get("add_line"):
        return _order_form(form, lines + [{}])
    try:
        captured = intake.capture_manual_order(form, lines, user_id=current_user.id)
    except ValidationError as exc:
        return _order_form(form, lines, exc.errors, exc.message, status=422)
    except DomainError as exc:
        return _order_form(form, lines, {exc.field or "channel": exc.message}, exc.message, status=422)
    order = captured.order
    flash(f"Order {order.number} entered; it is {order.status.replace('_', ' ')}." if captured.created
          else f"That order was already entered as {order.number}.")
    return go_to(url_for("retail.order_detail", order_id=order.id))


def _posted_lines() -> list[dict]:
    count = min(intake.MAX_MANUAL_LINES, max(MANUAL_LINE_ROWS, _line_rows()))
    return [{k: request.form.get(f"lines-{i}-{k}", "")[:200] for k in ("sku", "qty", "unit_price", "discount")}
            for i in range(count)]


def _line_rows() -> int:
    indexes = [key.split("-")[1] for key in request.form if key.startswith("lines-")]
    return max((int(i) + 1 for i in indexes if i.isdigit()), default=0)


@bp.route("/orders/new/skus")
def sku_options():
    typed = request.args.get("q") or next((v for k, v in request.args.items() if k.endswith("-sku")), "")
    return page("retail/_sku_options.html", skus=order_queries.sku_lookup(typed[:100]))


# --- CSV import --------------------------------------------------------------------------------------------

@bp.route("/orders/import", methods=["GET", "POST"])
def import_csv():
    if request.method == "GET":
        return page("retail/import_csv.html", "work", stage="upload", errors={})
    if request.form.get("confirm"):
        return _confirm_import(request.form.get("csv_text", ""), request.form.get("filename", "")[:200])
    upload = request.files.get("file")
    data = upload.read(MAX_CSV_BYTES + 1) if upload else b""
    if not data or len(data) > MAX_CSV_BYTES:
        message = "Choose a CSV file to upload." if not data else "The file is over 5 MB; split it into smaller files."
        return page("retail/import_csv.html", "work", status=422, stage="upload", errors={"file": message})
    text = intake.decode_upload(data)
    preview = intake.preview_csv_import(text)
    return page("retail/import_csv.html", "work", status=200 if preview.ok else 422, stage="preview",
                preview=preview, csv_text=text, filename=upload.filename or "upload.csv", errors={})


def _confirm_import(text: str, filename: str):
    try:
        result = intake.import_csv_orders(text, filename=filename, user_id=current_user.id)
    except CsvRejected as exc:
        preview = intake.preview_csv_import(text)
        preview.errors = preview.errors or exc.row_errors
        return page("retail/import_csv.html", "work", status=422, stage="preview", preview=preview, csv_text=text,
                    filename=filename, errors={})
    except DomainError as exc:
        return page("retail/import_csv.html", "work", status=422, stage="upload", errors={"file": exc.message})
    flash(f"Imported {len(result.created)} orders from {filename or 'the file'}"
          + (f" ({result.held} on hold for review)" if result.held else "")
          + (f"; {len(result.duplicates)} were already here." if result.duplicates else "."))
    return go_to(url_for("retail.inbox", q="", status=""))
