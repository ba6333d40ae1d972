"""Finance over the API: trial balance, journal, margins, profit and loss and stock valuation."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from flask import request
from sqlalchemy import select

from app.api import api, error, list_answer, roles
from app.api.openapi import documented
from app.domain.errors import ValidationError
from app.domain.roles import Role
from app.extensions import db
from app.models import Channel
from app.services import finance, finance_reports as reports
from app.services.queries import page_number, paginate

FINANCE_ROLES = (Role.FINANCE, Role.ADMIN)
MONEY = {"type": "string", "pattern": r"^-?[0-9]+\.[0-9]{2}$", "description": "exact amount, two decimals"}
DATE_PARAM = {"type": "string", "format": "date"}


def _param(name: str, description: str, schema: dict | None = None) -> dict:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema or {"type": "string"}}


def _date(name: str) -> date | None:
    """A YYYY-MM-DD query argument; a malformed one is a ValidationError naming it."""
    raw = finance.clean_text(request.args.get(name, ""), 20)
    if not raw:
        return None
    try:
        if len(raw) != 10:
            raise ValueError(raw)
        return date.fromisoformat(raw)
    except ValueError:
        raise ValidationError(f"{name} must be a date as YYYY-MM-DD.", field=name) from None


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


TRIAL_BALANCE_SCHEMA = {
    "type": "object", "required": ["as_of", "accounts", "total_debit", "total_credit", "balanced"],
    "properties": {
        "as_of": DATE_PARAM,
        "accounts": {"type": "array", "items": {"type": "object", "required": ["code", "name", "type", "debit", "credit"],
                                                "properties": {"code": {"type": "string"}, "name": {"type": "string"},
                                                               "type": {"type": "string"}, "debit": MONEY,
                                                               "credit": MONEY, "balance": MONEY}}},
        "total_debit": MONEY, "total_credit": MONEY, "balanced": {"type": "boolean"}},
}


@api.get("/finance/trial-balance")
@roles(*FINANCE_ROLES)
@documented(query=[_param("as_of", "Totals up to and including this date (default today)", DATE_PARAM)],
            response=TRIAL_BALANCE_SCHEMA)
def trial_balance():
    """Every account with debit and credit totals; the two columns are equal."""
    balance = reports.trial_balance(_date("as_of"))
    return {"as_of": balance.as_of.isoformat(),
            "accounts": [{"code": r.code, "name": r.name, "type": r.type, "debit": _money(r.debit),
                          "credit": _money(r.credit), "balance": _money(r.balance)} for r in balance.rows],
            "total_debit": _money(balance.total_debit), "total_credit": _money(balance.total_credit),
            "balanced": balance.balanced}


ENTRY_SCHEMA = {"type": "object", "properties": {
    "id": {"type": "integer"}, "date": DATE_PARAM, "period": {"type": "string"}, "kind": {"type": "string"},
    "memo": {"type": "string"}, "source_type": {"type": "string"}, "source_id": {"type": "string"},
    "reverses": {"type": ["integer", "null"]},
    "lines": {"type": "array", "items": {"type": "object", "properties": {
        "account": {"type": "string"}, "debit": MONEY, "credit": MONEY, "memo": {"type": "string"},
        "order_id": {"type": ["integer", "null"]}, "sku_id": {"type": ["integer", "null"]},
        "channel_id": {"type": ["integer", "null"]}, "warehouse_id": {"type": ["integer", "null"]},
        "qty": {"type": ["integer", "null"]}}}}}}


@api.get("/finance/journal")
@roles(*FINANCE_ROLES)
@documented(query=[_param("account", "Account code, e.g. 1200"), _param("from", "From date", DATE_PARAM),
                   _param("to", "To date", DATE_PARAM), _param("source_type", "Document type, e.g. shipment"),
                   _param("source_id", "Document number"), _param("q", "Search memo and document number"),
                   _param("page", "Page number", {"type": "integer", "minimum": 1})],
            response={"type": "object", "properties": {"items": {"type": "array", "items": ENTRY_SCHEMA},
                                                       "page": {"type": "integer"}, "pages": {"type": "integer"},
                                                       "total": {"type": "integer"}}})
def journal():
    """Journal entries with their lines, newest first; filters and pages."""
    text = {name: finance.clean_text(request.args.get(name, ""), limit)
            for name, limit in (("account", 10), ("source_type", 30), ("source_id", 40), ("q", 100))}
    filters = reports.JournalFilters(account=text["account"], date_from=_date("from"), date_to=_date("to"),
                                     source_type=text["source_type"], source_id=text["source_id"], q=text["q"])
    page = paginate(reports.journal_query(filters), page_number(request.args.get("page")), 50)
    return list_answer(page, [_entry_json(e) for e in page.items])


def _entry_json(entry) -> dict:
    return {"id": entry.id, "date": entry.entry_date.isoformat(), "period": entry.period, "kind": entry.kind,
            "memo": entry.memo, "source_type": entry.source_type, "source_id": entry.source_id,
            "reverses": entry.reverses_id,
            "lines": [{"account": l.account.code, "debit": _money(l.debit), "credit": _money(l.credit), "memo": l.memo,
                       "order_id": l.order_id, "sku_id": l.sku_id, "channel_id": l.channel_id,
                       "warehouse_id": l.warehouse_id, "qty": l.qty} for l in entry.lines]}


MARGIN_SCHEMA = {"type": "object", "properties": {
    "key": {"type": "integer"}, "label": {"type": "string"}, "units": {"type": "integer"}, "sales": MONEY,
    "shipping_income": MONEY, "restocking_fees": MONEY, "returns": MONEY, "net_revenue": MONEY, "cogs": MONEY,
    "written_off": MONEY, "gross_margin": MONEY, "label_cost": MONEY, "handling": MONEY, "contribution": MONEY,
    "margin_pct": {"type": ["number", "null"]}}}


@api.get("/finance/margins")
@roles(*FINANCE_ROLES)
@documented(query=[_param("by", "order, sku, channel or warehouse (default channel)",
                          {"type": "string", "enum": list(reports.DIMENSIONS)}),
                   _param("from", "Invoiced from", DATE_PARAM), _param("to", "Invoiced to", DATE_PARAM),
                   _param("q", "Search code, number or name"),
                   _param("sort", "contribution, worst, revenue or margin",
                          {"type": "string", "enum": list(reports.MARGIN_SORTS)}),
                   _param("page", "Page number", {"type": "integer", "minimum": 1})],
            response={"type": "object", "properties": {"by": {"type": "string"},
                                                       "items": {"type": "array", "items": MARGIN_SCHEMA},
                                                       "totals": MARGIN_SCHEMA, "page": {"type": "integer"},
                                                       "pages": {"type": "integer"}, "total": {"type": "integer"}}})
def margins():
    """Revenue less cost of goods, carrier labels and handling, by order, SKU, channel or warehouse."""
    by = request.args.get("by", "channel")
    if by not in reports.DIMENSIONS:
        return error("invalid", f"by must be one of {', '.join(reports.DIMENSIONS)}.", 400)
    sort = request.args.get("sort", "contribution")
    if sort not in reports.MARGIN_SORTS:
        return error("invalid", f"sort must be one of {', '.join(reports.MARGIN_SORTS)}.", 400)
    filters = {"date_from": _date("from"), "date_to": _date("to"), "q": finance.clean_text(request.args.get("q", ""), 100)}
    page = reports.margins(by, sort=sort, page=page_number(request.args.get("page")), **filters)
    return {"by": by, "totals": _margin_json(reports.margin_totals(by, **filters)),
            **list_answer(page, [_margin_json(r) for r in page.items])}


def _margin_json(row) -> dict:
    return {"key": row.key, "label": row.label, "units": row.units, "sales": _money(row.sales),
            "shipping_income": _money(row.shipping_income), "restocking_fees": _money(row.restocking_fees),
            "returns": _money(row.returns), "net_revenue": _money(row.net_revenue), "cogs": _money(row.cogs),
            "written_off": _money(row.written_off),
            "gross_margin": _money(row.gross_margin), "label_cost": _money(row.shipping_cost),
            "handling": _money(row.handling), "contribution": _money(row.contribution),
            "margin_pct": None if row.margin_pct is None else round(float(row.margin_pct) * 100, 2)}


PERIOD = {"type": "string", "pattern": "^[0-9]{4}-(0[1-9]|1[0-2])$"}


@api.get("/finance/pnl")
@roles(*FINANCE_ROLES)
@documented(query=[_param("from", "First month, YYYY-MM", PERIOD), _param("to", "Last month, YYYY-MM", PERIOD),
                   _param("channel", "Channel code"),
                   _param("by", "month or channel", {"type": "string", "enum": ["month", "channel"]})],
            response={"type": "object", "properties": {
                "from": PERIOD, "to": PERIOD, "columns": {"type": "array", "items": {"type": "string"}},
                "lines": {"type": "array", "items": {"type": "object", "properties": {
                    "name": {"type": "string"}, "account": {"type": "string"}, "kind": {"type": "string"},
                    "values": {"type": "object", "additionalProperties": MONEY}, "total": MONEY}}}}})
def pnl():
    """Profit and loss by month (or by channel) from the journal, then fulfilment costs from shipments."""
    first, last = reports.journal_months()
    try:
        period_from = finance.parse_period(request.args["from"]) if request.args.get("from") else first
        period_to = finance.parse_period(request.args["to"]) if request.args.get("to") else last
    except ValidationError:
        return error("invalid", "from and to are months as YYYY-MM.", 400)
    if period_from > period_to or len(reports.months_between(period_from, period_to)) >= 120:
        return error("invalid", "from must not be after to, and the range is at most ten years.", 400)
    by = request.args.get("by", "month")
    if by not in ("month", "channel"):
        return error("invalid", "by must be month or channel.", 400)
    channel_id = _channel_id(finance.clean_text(request.args.get("channel", ""), 30))
    if channel_id == -1:
        return error("not_found", "No channel with that code.", 404)
    statement = reports.profit_and_loss(period_from, period_to, channel_id=channel_id, by_channel=by == "channel")
    names = _column_names(by)
    return {"from": period_from, "to": period_to, "columns": [names.get(c, c) for c in statement.columns],
            "lines": [{"name": l.name, "account": l.code, "kind": l.kind,
                       "values": {names.get(c, c): _money(l.values.get(c, Decimal("0"))) for c in statement.columns},
                       "total": _money(l.total())} for l in statement.lines]}


def _channel_id(code: str) -> int | None:
    if not code:
        return None
    found = db.session.scalar(select(Channel.id).where(Channel.code == code[:30]))
    return found if found is not None else -1


def _column_names(by: str) -> dict[str, str]:
    if by != "channel":
        return {}
    return {str(cid): code for cid, code in db.session.execute(select(Channel.id, Channel.code))} | {"none": "none"}


@api.get("/finance/valuation")
@roles(*FINANCE_ROLES)
@documented(response={"type": "object", "properties": {
    "inventory_account": MONEY, "valuation": MONEY, "agrees": {"type": "boolean"},
    "problems": {"type": "array", "items": {"type": "string"}},
    "warehouses": {"type": "array", "items": {"type": "object", "properties": {
        "warehouse": {"type": "string"}, "value": MONEY, "units": {"type": "integer"},
        "statuses": {"type": "object", "additionalProperties": {"type": "object", "properties": {
            "units": {"type": "integer"}, "value": MONEY}}}}}}}})
def valuation():
    """Stock at FIFO cost by warehouse and status, reconciled with the inventory account."""
    check = reports.reconciliation()
    return {"inventory_account": _money(check.account), "valuation": _money(check.layers), "agrees": check.agrees,
            "problems": check.problems[:100],
            "warehouses": [{"warehouse": w.code, "value": _money(w.total_value), "units": w.total_units,
                            "statuses": {s: {"units": w.units[s], "value": _money(w.value[s])} for s in w.units}}
                           for w in reports.valuation_by_warehouse()]}
