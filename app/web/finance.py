"""Finance screens: journal, invoices, payments and refunds, order to cash, margins, P&L, valuation,
supplier invoices, trial balance and period close. Every figure links down to the documents behind it."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from flask import Response, abort, flash, request, url_for
from flask_login import current_user
from sqlalchemy import select

from app.domain.errors import DomainError, ValidationError
from app.domain.money import MoneyError, to_money
from app.domain.roles import Role
from app.extensions import db
from app.models import Channel, Sku, StockMove, Supplier, Warehouse
from app.models.finance import (Account, CostLayer, CreditNote, Invoice, JournalEntry, JournalLine, Payment,
                                SupplierInvoice)
from app.models.orders import Order, Shipment
from app.pdf import render_pdf
from app.services import finance, finance_reports as reports
from app.services.queries import page_number, paginate
from app.web.export import csv_response
from app.web.guard import guarded_blueprint
from app.web.render import go_to, page

bp = guarded_blueprint("finance", __name__, {Role.FINANCE, Role.ADMIN}, url_prefix="/finance")


# --- reading the query string ----------------------------------------------------------------------------------

def _date_arg(name: str) -> date | None:
    try:
        return date.fromisoformat(request.args.get(name, "").strip()[:10])
    except ValueError:
        return None


def _text_arg(name: str, limit: int = 100) -> str:
    return finance.clean_text(request.args.get(name, ""), limit)


def _form(*names: str, limit: int = 100) -> dict[str, str]:
    return {name: finance.clean_text(request.form.get(name, ""), limit) for name in names}


def _int_arg(name: str) -> int | None:
    value = request.args.get(name, "")
    return int(value) if value.isascii() and value.isdigit() and len(value) < 10 else None


def _period_arg(name: str, default: str) -> str:
    try:
        return finance.parse_period(request.args.get(name, ""))
    except ValidationError:
        return default


def _channels() -> list[Channel]:
    return list(db.session.scalars(select(Channel).order_by(Channel.code)))


def _money_field(form: dict, name: str, errors: dict, *, required: bool = True) -> Decimal | None:
    text = form.get(name, "")
    if not text:
        if required:
            errors[name] = "Enter an amount."
        return None
    try:
        return to_money(text)
    except MoneyError:
        errors[name] = "Enter an amount such as 120.50."
        return None


def _date_field(form: dict, name: str, errors: dict) -> date | None:
    if not form.get(name):
        return None
    try:
        return date.fromisoformat(form[name])
    except ValueError:
        errors[name] = "Enter the date as YYYY-MM-DD."
        return None


def _refusal(exc: DomainError, field: str) -> dict[str, str]:
    """A service's refusal as form errors: its own per field, or its message on its field (else `field`)."""
    return exc.errors if isinstance(exc, ValidationError) else {exc.field or field: exc.message}


# --- journal -------------------------------------------------------------------------------------------------

JOURNAL_DIMENSIONS = {"order": "order_id", "sku": "sku_id", "channel": "channel_id", "warehouse": "warehouse_id"}


def _journal_filters() -> reports.JournalFilters:
    dimensions = {column: _int_arg(arg) for arg, column in JOURNAL_DIMENSIONS.items() if _int_arg(arg)}
    return reports.JournalFilters(account=_text_arg("account", 10), date_from=_date_arg("from"), date_to=_date_arg("to"),
                                  source_type=_text_arg("source_type", 30), source_id=_text_arg("source", 40),
                                  kind=_text_arg("kind", 30), q=_text_arg("q"), dimensions=dimensions)


def _dimension_labels(dimensions: dict[str, int]) -> list[tuple[str, str]]:
    """What a journal filtered by order, SKU, channel or warehouse is narrowed to, in words."""
    models = {"order_id": (Order, "number"), "sku_id": (Sku, "code"), "channel_id": (Channel, "code"),
              "warehouse_id": (Warehouse, "code")}
    labels = []
    for column, value in dimensions.items():
        model, attribute = models[column]
        found = db.session.get(model, value)
        labels.append((column.removesuffix("_id"), getattr(found, attribute) if found else f"#{value}"))
    return labels


@bp.route("/journal")
def journal():
    filters = _journal_filters()
    results = paginate(reports.journal_query(filters), page_number(request.args.get("page")), 50)
    accounts = list(db.session.scalars(select(Account).order_by(Account.code)))
    return page("finance/journal.html", "results", filters=filters, results=results, accounts=accounts,
                kinds=reports.journal_kinds(), source_types=reports.journal_source_types(),
                narrowed=_dimension_labels(filters.dimensions))


@bp.route("/journal.csv")
def journal_csv():
    return csv_response("journal.csv", reports.JOURNAL_CSV_HEADER, reports.journal_csv_rows(_journal_filters()))


@bp.route("/journal/<int:entry_id>")
def entry_detail(entry_id: int, errors: dict | None = None, status: int = 200):
    entry = db.session.get(JournalEntry, entry_id) or abort(404)
    return page("finance/entry.html", "reverse", status=status, entry=entry, errors=errors or {},
                reversed_by=reports.reversal_of(entry.id), refusal=finance.reversal_refusal(entry),
                move=db.session.get(StockMove, entry.move_id) if entry.move_id else None)


@bp.route("/journal/<int:entry_id>/reverse", methods=["POST"])
def reverse(entry_id: int):
    try:
        reversal = finance.reverse_entry(entry_id, reason=_form("reason", limit=300)["reason"], user_id=current_user.id)
    except ValidationError as exc:
        return entry_detail(entry_id, exc.errors, 422)
    except DomainError as exc:
        return entry_detail(entry_id, {"reason": exc.message}, 422)
    flash(f"Entry {entry_id} reversed by entry {reversal.id}.")
    return go_to(url_for("finance.entry_detail", entry_id=reversal.id))


@bp.route("/sources/<source_type>/<path:source_id>")
def source(source_type: str, source_id: str):
    """Every posting a document caused, with the document itself and the stock moves it made."""
    source_type, source_id = finance.clean_text(source_type, 30), finance.clean_text(source_id, 40)
    moves = paginate(select(StockMove).where(StockMove.cause_type == source_type, StockMove.cause_id == source_id)
                     .order_by(StockMove.id), page_number(request.args.get("moves")), 25)
    entries = paginate(reports.entries_for_source(source_type, source_id), page_number(request.args.get("page")), 25)
    document = _document(source_type, source_id)
    return page("finance/source.html", "postings", source_type=source_type, source_id=source_id, moves=moves,
                entries=entries, document=document, elsewhere=_operational_link(source_type, document))


def _document(source_type: str, source_id: str):
    """The document behind a source, when Keel keeps one: finance's own, an order, a shipment, a PO, an RMA."""
    from app.models.purchasing import PurchaseOrder
    from app.models.returns import Rma, VendorClaim
    lookups = {"invoice": (Invoice, Invoice.number), "credit_note": (CreditNote, CreditNote.number),
               "payment": (Payment, Payment.number), "supplier_invoice": (SupplierInvoice, SupplierInvoice.number),
               "shipment": (Shipment, Shipment.number), "order": (Order, Order.number),
               "purchase_order": (PurchaseOrder, PurchaseOrder.number), "rma": (Rma, Rma.number),
               "vendor_claim": (VendorClaim, VendorClaim.number)}
    if source_type not in lookups:
        return None
    model, column = lookups[source_type]
    return db.session.scalar(select(model).where(column == source_id))


# Where another area shows a document: (endpoint, how to get its url arguments, link text).
OPERATIONAL_SCREENS = {
    "order": ("retail.order_detail", lambda d: {"order_id": d.id}, "Open the order"),
    "shipment": ("retail.order_detail", lambda d: {"order_id": d.order_id}, "Open the order"),
    "purchase_order": ("procurement.purchase_order", lambda d: {"po_id": d.id}, "Open the purchase order"),
    "rma": ("returns.rma_detail", lambda d: {"rma_id": d.id}, "Open the return"),
    "vendor_claim": ("vendor_claims.claims", lambda d: {"q": d.number}, "Open the vendor claim"),
}


def _operational_link(source_type: str, document) -> tuple[str, str] | None:
    """(text, url) of the screen another area keeps for this document, when this user's role may open it."""
    from flask import current_app
    if document is None or source_type not in OPERATIONAL_SCREENS:
        return None
    endpoint, arguments, text = OPERATIONAL_SCREENS[source_type]
    blueprint = current_app.blueprints.get(endpoint.split(".")[0])
    if endpoint not in current_app.view_functions or current_user.role not in getattr(blueprint, "roles", ()):
        return None
    return text, url_for(endpoint, **arguments(document))


# --- trial balance ----------------------------------------------------------------------------------------------

@bp.route("/trial-balance")
def trial_balance():
    balance = reports.trial_balance(_date_arg("as_of"))
    return page("finance/trial_balance.html", balance=balance)


@bp.route("/trial-balance.csv")
def trial_balance_csv():
    balance = reports.trial_balance(_date_arg("as_of"))
    rows = ([r.code, r.name, r.type, r.debit, r.credit, r.balance] for r in balance.rows)
    return csv_response(f"trial-balance-{balance.as_of.isoformat()}.csv",
                        ["account", "name", "type", "debit", "credit", "balance"], rows)


# --- invoices ---------------------------------------------------------------------------------------------------

def _invoice_filters() -> reports.InvoiceFilters:
    return reports.InvoiceFilters(q=_text_arg("q"), status=_text_arg("status", 10), channel_id=_int_arg("channel"),
                                  date_from=_date_arg("from"), date_to=_date_arg("to"))


@bp.route("/invoices")
def invoices():
    filters = _invoice_filters()
    results = paginate(reports.invoice_query(filters), page_number(request.args.get("page")), 50)
    return page("finance/invoices.html", "results", filters=filters, results=results, channels=_channels(),
                owed=reports.invoice_balances(results.items), seller=finance.seller())


@bp.route("/invoices.csv")
def invoices_csv():
    def rows():
        stmt = reports.invoice_query(_invoice_filters()).execution_options(yield_per=500)
        for invoice in db.session.scalars(stmt):
            yield [invoice.number, invoice.issue_date, invoice.order.number, invoice.channel.code,
                   invoice.shipment.number if invoice.shipment else "", invoice.currency, invoice.goods_net,
                   invoice.shipping_net, invoice.fees, invoice.tax, invoice.total]
    return csv_response("invoices.csv", ["invoice", "date", "order", "channel", "shipment", "currency", "goods_net",
                                         "shipping_net", "fees", "tax", "total"], rows())


@bp.route("/invoices/<int:invoice_id>")
def invoice_detail(invoice_id: int):
    invoice = db.session.get(Invoice, invoice_id) or abort(404)
    return page("finance/invoice.html", invoice=invoice, owed=reports.invoice_balances([invoice]).get(invoice.id),
                seller=finance.seller())


@bp.route("/invoices/<int:invoice_id>.pdf")
def invoice_pdf(invoice_id: int):
    invoice = db.session.get(Invoice, invoice_id) or abort(404)
    pdf = render_pdf("pdf/invoice.html", invoice=invoice, seller=finance.seller(),
                     owed=reports.invoice_balances([invoice]).get(invoice.id))
    return _pdf_response(pdf, f"{invoice.number}.pdf")


def _pdf_response(pdf: bytes, filename: str) -> Response:
    response = Response(pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


# --- credit notes and refunds ------------------------------------------------------------------------------------

@bp.route("/credit-notes")
def credit_notes():
    q, status = _text_arg("q"), _text_arg("status", 10)
    results = paginate(reports.credit_note_query(q, status), page_number(request.args.get("page")), 50)
    return page("finance/credit_notes.html", "results", results=results, filters={"q": q, "status": status})


@bp.route("/credit-notes.csv")
def credit_notes_csv():
    def rows():
        stmt = reports.credit_note_query(_text_arg("q"), _text_arg("status", 10)).execution_options(yield_per=500)
        for note in db.session.scalars(stmt):
            yield [note.number, note.issue_date, note.order.number, note.reference, note.reason, note.goods_net,
                   note.shipping_net, note.tax, note.restocking_fee, note.total, note.applied_to_receivable,
                   note.refund_due, note.refunded_at or "", note.refund_reference]
    return csv_response("credit-notes.csv", ["credit_note", "date", "order", "reference", "reason", "goods_net",
                                             "shipping_net", "tax", "restocking_fee", "total", "set_against_receivable",
                                             "refund_due", "refunded_at", "refund_reference"], rows())


@bp.route("/credit-notes/<int:note_id>")
def credit_note_detail(note_id: int, errors: dict | None = None, status: int = 200):
    note = db.session.get(CreditNote, note_id) or abort(404)
    return page("finance/credit_note.html", "payout", status=status, note=note, errors=errors or {})


@bp.route("/credit-notes/<int:note_id>.pdf")
def credit_note_pdf(note_id: int):
    note = db.session.get(CreditNote, note_id) or abort(404)
    return _pdf_response(render_pdf("pdf/credit_note.html", note=note, seller=finance.seller()), f"{note.number}.pdf")


@bp.route("/credit-notes/<int:note_id>/pay", methods=["POST"])
def pay_refund(note_id: int):
    try:
        note = finance.pay_refund(note_id, reference=_form("reference")["reference"], user_id=current_user.id)
    except ValidationError as exc:
        return credit_note_detail(note_id, exc.errors, 422)
    except DomainError as exc:
        return credit_note_detail(note_id, {"reference": exc.message}, 422)
    flash(f"Refund of {note.refund_due} for {note.number} recorded as paid.")
    return go_to(url_for("finance.credit_note_detail", note_id=note.id))


# --- payments ----------------------------------------------------------------------------------------------------

@bp.route("/payments", methods=["GET", "POST"])
def payments():
    if request.method == "POST":
        return _record_payment()
    return _payments_page({"order": _text_arg("order", 30)}, {})


def _payments_page(form: dict, errors: dict, status: int = 200, message: str | None = None):
    q, method = _text_arg("q"), _text_arg("method", 20)
    results = paginate(reports.payment_query(q, method), page_number(request.args.get("page")), 50)
    return page("finance/payments.html", "results" if status == 200 and request.method == "GET" else "record",
                status=status, results=results, filters={"q": q, "method": method}, form=form, errors=errors,
                message=message)


def _record_payment():
    form = _form("order", "amount", "reference", "received_on")
    errors: dict[str, str] = {}
    order = db.session.scalar(select(Order).where(Order.number == form["order"])) if form["order"] else None
    if order is None:
        errors["order"] = "No order with that number." if form["order"] else "Enter the order number."
    amount = _money_field(form, "amount", errors)
    received_on = _date_field(form, "received_on", errors)
    if errors:
        return _payments_page(form, errors, 422, "Please correct the highlighted fields.")
    try:
        payment = finance.record_payment(order.id, amount, form["reference"], received_on=received_on,
                                         user_id=current_user.id)
    except DomainError as exc:
        return _payments_page(form, _refusal(exc, "amount"), 422, exc.message)
    flash(f"Payment {payment.number} of {payment.amount} recorded for {order.number}.")
    return go_to(url_for("finance.payments"))


@bp.route("/payments.csv")
def payments_csv():
    def rows():
        stmt = reports.payment_query(_text_arg("q"), _text_arg("method", 20)).execution_options(yield_per=500)
        for p in db.session.scalars(stmt):
            yield [p.number, p.received_date, p.order.number, p.amount, p.method, p.reference, p.reversed_at or ""]
    return csv_response("payments.csv", ["payment", "date", "order", "amount", "method", "reference", "reversed_at"], rows())


# --- order to cash ------------------------------------------------------------------------------------------------

O2C_VIEWS = ("not_invoiced", "unpaid", "refunds")


@bp.route("/order-to-cash")
def order_to_cash():
    view = request.args.get("view") if request.args.get("view") in O2C_VIEWS else "unpaid"
    q, number = _text_arg("q"), page_number(request.args.get("page"))
    results = {"not_invoiced": reports.shipped_not_invoiced, "unpaid": reports.unpaid_orders,
               "refunds": reports.refunds_pending}[view](q, number)
    return page("finance/order_to_cash.html", "results", view=view, q=q, results=results,
                counts=reports.order_to_cash_counts(), today=finance.today())


@bp.route("/order-to-cash.csv")
def order_to_cash_csv():
    view = request.args.get("view") if request.args.get("view") in O2C_VIEWS else "unpaid"
    return csv_response(f"order-to-cash-{view}.csv", *_o2c_export(view, _text_arg("q")))


def _o2c_export(view: str, q: str):
    def pages(fetch):
        number = 1
        while True:
            chunk = fetch(q, number, 200)
            yield from chunk.items
            if not chunk.has_next:
                return
            number += 1
    if view == "not_invoiced":
        return (["shipment", "order", "warehouse", "shipped_at"],
                ([s.number, s.order.number, s.warehouse.code, s.shipped_at or ""] for s in pages(reports.shipped_not_invoiced)))
    if view == "refunds":
        return (["credit_note", "order", "reference", "issued", "refund_due"],
                ([n.number, n.order.number, n.reference, n.issue_date, n.refund_due] for n in pages(reports.refunds_pending)))
    return (["order", "customer", "channel", "first_invoiced", "invoices", "invoiced", "settled", "owed"],
            ([r["order"].number, r["order"].customer_name, r["order"].channel.code, r["first_invoiced"], r["invoices"],
              r["invoiced"], r["settled"], r["owed"]] for r in pages(reports.unpaid_orders)))


@bp.route("/shipments/<int:shipment_id>/invoice", methods=["POST"])
def invoice_shipment(shipment_id: int):
    try:
        invoice = finance.invoice_shipment(shipment_id, user_id=current_user.id)
    except DomainError as exc:
        flash(exc.message, "error")
        return go_to(url_for("finance.order_to_cash", view="not_invoiced"))
    flash(f"Invoice {invoice.number} issued for {invoice.total}.")
    return go_to(url_for("finance.invoice_detail", invoice_id=invoice.id))


@bp.route("/orders/<int:order_id>")
def order_finance(order_id: int):
    order = db.session.get(Order, order_id) or abort(404)
    invoices = list(db.session.scalars(select(Invoice).where(Invoice.order_id == order.id).order_by(Invoice.sequence)))
    entries = list(db.session.scalars(select(JournalEntry).where(JournalEntry.id.in_(
        select(JournalLine.entry_id).where(JournalLine.order_id == order.id))).order_by(JournalEntry.id)))
    return page("finance/order.html", order=order, invoices=invoices, owed=reports.invoice_balances(invoices),
                credit_notes=list(db.session.scalars(select(CreditNote).where(CreditNote.order_id == order.id))),
                payments=list(db.session.scalars(select(Payment).where(Payment.order_id == order.id))),
                entries=entries, margin=reports.order_margin(order.id), receivable=finance.order_receivable(order.id))


# --- margins ------------------------------------------------------------------------------------------------------

def _margin_filters() -> dict:
    by = request.args.get("by") if request.args.get("by") in reports.DIMENSIONS else "channel"
    sort = request.args.get("sort") if request.args.get("sort") in reports.MARGIN_SORTS else "contribution"
    return {"by": by, "sort": sort, "q": _text_arg("q"), "date_from": _date_arg("from"), "date_to": _date_arg("to"),
            "channel_id": _int_arg("channel")}


@bp.route("/margins")
def margins():
    f = _margin_filters()
    common = {k: f[k] for k in ("date_from", "date_to", "q", "channel_id")}
    results = reports.margins(f["by"], sort=f["sort"], page=page_number(request.args.get("page")), **common)
    return page("finance/margins.html", "results", filters=f, results=results, channels=_channels(),
                totals=reports.margin_totals(f["by"], **common), sorts=reports.MARGIN_SORTS)


@bp.route("/margins.csv")
def margins_csv():
    f = _margin_filters()
    rows = ([r.label, r.detail, r.units, r.sales, r.shipping_income, r.restocking_fees, r.returns, r.net_revenue, r.cogs,
             r.written_off, r.gross_margin, r.shipping_cost, r.handling, r.contribution,
             "" if r.margin_pct is None else round(r.margin_pct * 100, 2)]
            for r in reports.margin_rows_all(f["by"], date_from=f["date_from"], date_to=f["date_to"], q=f["q"],
                                             channel_id=f["channel_id"]))
    return csv_response(f"margins-by-{f['by']}.csv", [f["by"], "name", "units", "sales", "shipping_income",
                                                      "restocking_fees", "returns", "net_revenue", "cogs",
                                                      "returns_written_off", "gross_margin",
                                                      "label_cost", "handling", "contribution", "margin_pct"], rows)


# --- profit and loss ------------------------------------------------------------------------------------------------

def _pnl_args() -> dict:
    first, last = reports.journal_months()
    months = reports.months_between(first, last)
    default_from = months[-12] if len(months) > 12 else first
    period_from, period_to = _period_arg("from", default_from), _period_arg("to", last)
    if period_from > period_to:
        period_from, period_to = period_to, period_from
    view = "channel" if request.args.get("view") == "channel" else "month"
    return {"period_from": period_from, "period_to": period_to, "channel_id": _int_arg("channel"), "view": view}


@bp.route("/pnl")
def pnl():
    args = _pnl_args()
    statement = reports.profit_and_loss(args["period_from"], args["period_to"], channel_id=args["channel_id"],
                                        by_channel=args["view"] == "channel")
    channels = _channels()
    return page("finance/pnl.html", "statement", args=args, statement=statement, channels=channels,
                channel_names={str(c.id): c.code for c in channels}, chart=_pnl_chart(statement),
                cell_filters=_pnl_cell_filters(statement.columns, args))


def _pnl_cell_filters(columns: list[str], args: dict) -> dict[str, dict]:
    """The journal filters behind each P&L column: its month (or the months shown) and its channel."""
    def month_range(first: str, last: str) -> dict:
        start, end = reports.PeriodRow(first, 0, None, False), reports.PeriodRow(last, 0, None, False)
        return {"from": start.first_day.isoformat(), "to": end.last_day.isoformat()}
    chosen = {"channel": args["channel_id"]} if args["channel_id"] else {}
    if args["view"] == "month":
        return {c: {**month_range(c, c), **chosen} for c in columns}
    span = month_range(args["period_from"], args["period_to"])
    return {c: {**span, **({"channel": c} if c.isdigit() else {})} for c in columns}


PNL_CHART_LINES = {"Net revenue": "Net revenue", "Gross profit": "Gross profit", "After fulfilment costs": "After fulfilment"}


def _pnl_chart(statement) -> dict[str, list[float]]:
    return {PNL_CHART_LINES[line.name]: [float(line.values.get(c, 0)) for c in statement.columns]
            for line in statement.lines if line.name in PNL_CHART_LINES}


@bp.route("/pnl.csv")
def pnl_csv():
    args = _pnl_args()
    statement = reports.profit_and_loss(args["period_from"], args["period_to"], channel_id=args["channel_id"],
                                        by_channel=args["view"] == "channel")
    names = {str(c.id): c.code for c in _channels()} | {"none": "not channel-specific"}
    header = ["line", "account"] + [names.get(c, c) for c in statement.columns] + ["total"]
    rows = ([line.name, line.code] + [line.values.get(c, Decimal("0.00")) for c in statement.columns] + [line.total()]
            for line in statement.lines)
    return csv_response(f"pnl-{args['period_from']}-{args['period_to']}.csv", header, rows)


# --- valuation -------------------------------------------------------------------------------------------------------

@bp.route("/valuation")
def valuation():
    q, warehouse_id = _text_arg("q"), _int_arg("warehouse")
    results = reports.valuation_by_sku(q=q, warehouse_id=warehouse_id, page=page_number(request.args.get("page")))
    warehouses = list(db.session.scalars(select(Warehouse).order_by(Warehouse.code)))
    by_warehouse, statuses = reports.valuation_by_warehouse(), list(reports.Status)
    value_series = {s.value: [float(w.value[s.value]) for w in by_warehouse] for s in statuses}
    return page("finance/valuation.html", "results", results=results, filters={"q": q, "warehouse": warehouse_id},
                warehouses=warehouses, by_warehouse=by_warehouse, check=reports.reconciliation(), statuses=statuses,
                value_series=value_series)


@bp.route("/valuation.csv")
def valuation_csv():
    rows = ([r.code, r.name, r.units, r.value, r.average_cost or "", r.standard_cost]
            for r in reports.sku_valuation_rows(q=_text_arg("q"), warehouse_id=_int_arg("warehouse")))
    return csv_response("valuation-by-sku.csv", ["sku", "name", "units", "value", "average_cost", "standard_cost"], rows)


@bp.route("/valuation/warehouses.csv")
def valuation_warehouses_csv():
    rows = ([w.code, status, w.units[status], w.value[status]] for w in reports.valuation_by_warehouse() for status in w.units)
    return csv_response("valuation-by-warehouse.csv", ["warehouse", "status", "units", "value"], rows)


@bp.route("/valuation/skus/<int:sku_id>")
def sku_layers(sku_id: int):
    sku = db.session.get(Sku, sku_id) or abort(404)
    layers = paginate(select(CostLayer).where(CostLayer.sku_id == sku.id, CostLayer.qty_remaining > 0)
                      .order_by(CostLayer.warehouse_id, CostLayer.received_at, CostLayer.id),
                      page_number(request.args.get("page")), 50)
    return page("finance/sku_layers.html", "layers", sku=sku, layers=layers)


# --- supplier invoices --------------------------------------------------------------------------------------------------

@bp.route("/supplier-invoices", methods=["GET", "POST"])
def supplier_invoices():
    if request.method == "POST":
        return _record_supplier_invoice()
    receipt = _text_arg("receipt", 80)
    receipts = _open_receipts_with_suppliers()
    chosen = next((r for r in receipts if f"{r['type']}:{r['ref']}" == receipt), None)
    supplier = str(chosen["supplier_id"]) if chosen and chosen.get("supplier_id") else ""
    return _supplier_invoices_page({"receipt": receipt, "supplier": supplier,
                                    "amount": str(chosen["open"]) if chosen else ""}, {}, receipts=receipts)


def _open_receipts_with_suppliers() -> list[dict]:
    """Receipts waiting for a bill, with the purchase order's supplier where the receipt names a purchase order."""
    from app.models.purchasing import PurchaseOrder
    receipts = reports.open_receipts()
    numbers = [r["ref"] for r in receipts if r["type"] == "purchase_order"]
    pos = {po.number: po for po in db.session.scalars(select(PurchaseOrder).where(PurchaseOrder.number.in_(numbers)))}
    for receipt in receipts:
        po = pos.get(receipt["ref"]) if receipt["type"] == "purchase_order" else None
        receipt.update(po_id=po.id if po else None, supplier_id=po.supplier_id if po else None,
                       supplier=po.supplier.name if po else "")
    return receipts


def _supplier_invoices_page(form: dict, errors: dict, status: int = 200, message: str | None = None,
                            receipts: list[dict] | None = None):
    q = _text_arg("q")
    recorded = paginate(reports.supplier_invoice_query(q), page_number(request.args.get("page")), 50)
    suppliers = list(db.session.scalars(select(Supplier).where(Supplier.active.is_(True)).order_by(Supplier.name)))
    return page("finance/supplier_invoices.html", "record" if status != 200 else None, status=status,
                open_receipts=receipts if receipts is not None else _open_receipts_with_suppliers(), recorded=recorded,
                suppliers=suppliers, form=form, errors=errors, message=message, q=q, today=finance.today())


@bp.route("/supplier-invoices.csv")
def supplier_invoices_csv():
    def rows():
        stmt = reports.supplier_invoice_query(_text_arg("q")).execution_options(yield_per=500)
        for b in db.session.scalars(stmt):
            yield [b.number, b.supplier.name, b.reference, b.invoice_date, b.receipt_type, b.receipt_ref, b.amount,
                   b.tax, b.total, b.grni_cleared, b.variance, b.reversed_at or ""]
    return csv_response("supplier-invoices.csv", ["number", "supplier", "their_invoice", "date", "received_on_type",
                                                  "received_on", "goods", "tax", "total", "grni_cleared", "variance",
                                                  "reversed_at"], rows())


def _record_supplier_invoice():
    form = _form("receipt", "supplier", "reference", "amount", "tax", "invoice_date", limit=80)
    errors: dict[str, str] = {}
    receipt_type, _, receipt_ref = form["receipt"].partition(":")
    if not receipt_ref:
        errors["receipt"] = "Choose the receipt being invoiced."
    amount = _money_field(form, "amount", errors)
    tax = _money_field(form, "tax", errors, required=False) or Decimal("0")
    invoice_date = _date_field(form, "invoice_date", errors)
    supplier_id = int(form["supplier"]) if form["supplier"].isascii() and form["supplier"].isdigit() else None
    if errors:
        return _supplier_invoices_page(form, errors, 422, "Please correct the highlighted fields.")
    try:
        bill = finance.record_supplier_invoice(receipt_type=receipt_type, receipt_ref=receipt_ref, supplier_id=supplier_id,
                                               reference=form["reference"], amount=amount, tax=tax,
                                               invoice_date=invoice_date, user_id=current_user.id)
    except DomainError as exc:
        return _supplier_invoices_page(form, _refusal(exc, "amount"), 422, exc.message)
    flash(f"{bill.number}: {bill.supplier.name} invoice {bill.reference} recorded; price variance {bill.variance}.")
    return go_to(url_for("finance.supplier_invoices"))


# --- period close --------------------------------------------------------------------------------------------------------

@bp.route("/periods")
def periods():
    return page("finance/periods.html", rows=reports.period_rows(), current=finance.period_of(finance.today()),
                check=reports.reconciliation(), counts=reports.order_to_cash_counts())


@bp.route("/periods/<period>/close", methods=["POST"])
def close_period(period: str):
    try:
        closed = finance.close_period(period[:7], user_id=current_user.id, note=_form("note", limit=300)["note"])
    except DomainError as exc:
        flash(exc.message, "error")
        return go_to(url_for("finance.periods"))
    flash(f"{finance.period_label(closed.period)} is closed. Nothing can be posted into it any more.")
    return go_to(url_for("finance.periods"))
