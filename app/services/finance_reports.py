"""Finance reports, read from the journal and the documents behind it: trial balance, journal search,
margins, profit and loss by channel and month, stock valuation, and order-to-cash follow-up.

Amounts are summed in SQL in cents (Money columns are stored as integer minor units), so every
figure is exact and adds up to the journal to the cent.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import BigInteger, Select, and_, case, exists, func, literal, or_, select, type_coerce

from app.domain.inventory import Status
from app.domain.money import ZERO, split_in_proportion
from app.domain.orders import ShipmentStatus
from app.extensions import db
from app.models import Channel, Sku, StockBalance, Warehouse
from app.models.finance import (Account, CostLayer, CreditNote, FiscalPeriod, Invoice, InvoiceLine, JournalEntry,
                                JournalLine, Payment, SupplierInvoice)
from app.models.orders import Order, Shipment
from app.services.finance import Acct, ensure_chart, from_minor, minor_sum, period_of, today
from app.services.queries import Page, like_pattern, paginate
from app.services.valuation import inventory_account_balance, layer_value, valuation_problems


def _minor(column):
    return type_coerce(column, BigInteger)


# --- trial balance ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TrialBalanceRow:
    code: str
    name: str
    type: str
    debit: Decimal
    credit: Decimal

    @property
    def balance(self) -> Decimal:
        """Debit balance positive, credit balance negative."""
        return self.debit - self.credit


@dataclass(frozen=True)
class TrialBalance:
    as_of: date
    rows: list[TrialBalanceRow]

    @property
    def total_debit(self) -> Decimal:
        return sum((r.debit for r in self.rows), ZERO)

    @property
    def total_credit(self) -> Decimal:
        return sum((r.credit for r in self.rows), ZERO)

    @property
    def balanced(self) -> bool:
        return self.total_debit == self.total_credit


def trial_balance(as_of: date | None = None) -> TrialBalance:
    """Every account with its debit and credit totals up to and including `as_of`."""
    ensure_chart()
    as_of = as_of or today()
    totals = (select(JournalLine.account_id, minor_sum(JournalLine.debit).label("debit"),
                     minor_sum(JournalLine.credit).label("credit"))
              .join(JournalEntry).where(JournalEntry.entry_date <= as_of).group_by(JournalLine.account_id).subquery())
    rows = db.session.execute(select(Account.code, Account.name, Account.type, totals.c.debit, totals.c.credit)
                              .outerjoin(totals, totals.c.account_id == Account.id).order_by(Account.code))
    return TrialBalance(as_of, [TrialBalanceRow(code, name, kind, from_minor(dr), from_minor(cr))
                                for code, name, kind, dr, cr in rows])


def account_balances(codes: list[str]) -> dict[str, Decimal]:
    ids = ensure_chart()
    return {code: from_minor(db.session.scalar(select(minor_sum(JournalLine.debit) - minor_sum(JournalLine.credit))
                                               .where(JournalLine.account_id == ids[code]))) for code in codes}


# --- the journal -----------------------------------------------------------------------------------------------

@dataclass
class JournalFilters:
    account: str = ""
    date_from: date | None = None
    date_to: date | None = None
    source_type: str = ""
    source_id: str = ""
    kind: str = ""
    q: str = ""
    dimensions: dict[str, int] = field(default_factory=dict)  # order_id, sku_id, channel_id, warehouse_id


def journal_query(f: JournalFilters) -> Select:
    """Entries matching the filters, newest first."""
    stmt = select(JournalEntry)
    if f.account:
        stmt = stmt.where(exists().where(JournalLine.entry_id == JournalEntry.id, JournalLine.account_id == Account.id,
                                         Account.code == f.account))
    if f.dimensions:
        stmt = stmt.where(exists().where(JournalLine.entry_id == JournalEntry.id,
                                         *(getattr(JournalLine, name) == value for name, value in f.dimensions.items())))
    if f.date_from:
        stmt = stmt.where(JournalEntry.entry_date >= f.date_from)
    if f.date_to:
        stmt = stmt.where(JournalEntry.entry_date <= f.date_to)
    if f.source_type:
        stmt = stmt.where(JournalEntry.source_type == f.source_type)
    if f.source_id:
        stmt = stmt.where(JournalEntry.source_id == f.source_id)
    if f.kind:
        stmt = stmt.where(JournalEntry.kind == f.kind)
    if f.q:
        pattern = like_pattern(f.q.strip())
        stmt = stmt.where(or_(JournalEntry.memo.ilike(pattern, escape="\\"),
                              JournalEntry.source_id.ilike(pattern, escape="\\")))
    return stmt.order_by(JournalEntry.entry_date.desc(), JournalEntry.id.desc())


def journal_kinds() -> list[str]:
    return list(db.session.scalars(select(JournalEntry.kind).distinct().order_by(JournalEntry.kind)))


def journal_source_types() -> list[str]:
    return list(db.session.scalars(select(JournalEntry.source_type).distinct().order_by(JournalEntry.source_type)))


JOURNAL_CSV_HEADER = ["entry", "date", "period", "kind", "source_type", "source_id", "account", "account_name",
                      "debit", "credit", "memo", "channel", "warehouse", "sku", "order", "qty", "reverses", "posted_at"]


def journal_csv_rows(f: JournalFilters) -> Iterator[list]:
    """One row per journal line of the matching entries, read in batches (never all in memory)."""
    entries = journal_query(f).order_by(None).with_only_columns(JournalEntry.id).subquery()
    stmt = (select(JournalEntry, JournalLine, Account.code, Account.name, Channel.code, Warehouse.code, Sku.code, Order.number)
            .join(JournalLine, JournalLine.entry_id == JournalEntry.id).join(Account, Account.id == JournalLine.account_id)
            .outerjoin(Channel, Channel.id == JournalLine.channel_id)
            .outerjoin(Warehouse, Warehouse.id == JournalLine.warehouse_id)
            .outerjoin(Sku, Sku.id == JournalLine.sku_id).outerjoin(Order, Order.id == JournalLine.order_id)
            .where(JournalEntry.id.in_(select(entries.c.id)))
            .order_by(JournalEntry.entry_date, JournalEntry.id, JournalLine.id)
            .execution_options(yield_per=500))
    for entry, line, code, name, channel, warehouse, sku, order in db.session.execute(stmt):
        yield [entry.id, entry.entry_date.isoformat(), entry.period, entry.kind, entry.source_type, entry.source_id,
               code, name, line.debit, line.credit, line.memo, channel or "", warehouse or "", sku or "", order or "",
               "" if line.qty is None else line.qty, entry.reverses_id or "", entry.posted_at.isoformat()]


def entries_for_source(source_type: str, source_id: str) -> Select:
    """The entries one document caused, oldest first."""
    return (select(JournalEntry).where(JournalEntry.source_type == source_type, JournalEntry.source_id == source_id)
            .order_by(JournalEntry.id))


def reversal_of(entry_id: int) -> JournalEntry | None:
    return db.session.scalar(select(JournalEntry).where(JournalEntry.reverses_id == entry_id))


# --- margins -----------------------------------------------------------------------------------------------------

DIMENSIONS = ("order", "sku", "channel", "warehouse")
MARGIN_SORTS = {"contribution": "contribution desc", "worst": "contribution asc", "revenue": "net revenue desc",
                "margin": "margin % asc"}


@dataclass
class MarginRow:
    key: int
    label: str
    detail: str
    units: int
    sales: Decimal
    shipping_income: Decimal
    restocking_fees: Decimal
    returns: Decimal
    cogs: Decimal
    written_off: Decimal
    shipping_cost: Decimal
    handling: Decimal

    @property
    def net_revenue(self) -> Decimal:
        return self.sales + self.shipping_income + self.restocking_fees - self.returns

    @property
    def gross_margin(self) -> Decimal:
        """Net revenue less the cost of goods kept by customers and of returned goods that were written off."""
        return self.net_revenue - self.cogs - self.written_off

    @property
    def contribution(self) -> Decimal:
        return self.gross_margin - self.shipping_cost - self.handling

    @property
    def margin_pct(self) -> Decimal | None:
        return (self.contribution / self.net_revenue) if self.net_revenue else None


def _journal_margin_sums(dim_column, date_from: date | None, date_to: date | None):
    ids = ensure_chart()

    def signed(code: str, credit_normal: bool):
        amount = _minor(JournalLine.credit) - _minor(JournalLine.debit) if credit_normal else \
            _minor(JournalLine.debit) - _minor(JournalLine.credit)
        return func.coalesce(func.sum(case((JournalLine.account_id == ids[code], amount), else_=0)), 0)

    units = func.coalesce(func.sum(case((JournalLine.account_id == ids[Acct.SALES], JournalLine.qty), else_=0)), 0)
    # returned goods scrapped: their write-off is a cost of the order they came back from (order lines only)
    written_off = func.coalesce(func.sum(case(
        ((JournalLine.account_id == ids[Acct.WRITE_OFFS]) & JournalLine.order_id.is_not(None),
         _minor(JournalLine.debit) - _minor(JournalLine.credit)), else_=0)), 0)
    stmt = (select(dim_column.label("key"), units.label("units"), signed(Acct.SALES, True).label("sales"),
                   signed(Acct.SHIPPING_INCOME, True).label("shipping_income"),
                   signed(Acct.RESTOCKING_FEES, True).label("restocking_fees"), signed(Acct.RETURNS, False).label("returns"),
                   signed(Acct.COGS, False).label("cogs"), written_off.label("written_off"))
            .join(JournalEntry, JournalEntry.id == JournalLine.entry_id)
            .where(dim_column.is_not(None),
                   JournalLine.account_id.in_([ids[c] for c in (Acct.SALES, Acct.SHIPPING_INCOME, Acct.RESTOCKING_FEES,
                                                                Acct.RETURNS, Acct.COGS, Acct.WRITE_OFFS)])))
    stmt = _date_range(stmt, JournalEntry.entry_date, date_from, date_to)
    return stmt.group_by(dim_column).subquery("revenue")


def _date_range(stmt, column, date_from, date_to):
    if date_from:
        stmt = stmt.where(column >= date_from)
    if date_to:
        stmt = stmt.where(column <= date_to)
    return stmt


def _fulfilment_costs(by: str, date_from: date | None, date_to: date | None):
    """Carrier label cost and handling (units × the warehouse's rate) of invoiced shipments, by dimension."""
    units = (select(InvoiceLine.invoice_id, InvoiceLine.sku_id, func.sum(InvoiceLine.qty).label("qty"))
             .where(InvoiceLine.kind == "goods").group_by(InvoiceLine.invoice_id, InvoiceLine.sku_id).subquery())
    rate = _minor(Warehouse.handling_cost_per_unit)
    if by == "sku":
        stmt = (select(units.c.sku_id.label("key"), literal(0).label("shipping_cost"),
                       func.sum(units.c.qty * rate).label("handling"))
                .select_from(units).join(Invoice, Invoice.id == units.c.invoice_id)
                .join(Warehouse, Warehouse.id == Invoice.warehouse_id).group_by(units.c.sku_id))
    else:
        key = {"order": Invoice.order_id, "channel": Invoice.channel_id, "warehouse": Invoice.warehouse_id}[by]
        per_invoice = (select(units.c.invoice_id, func.sum(units.c.qty).label("qty"))
                       .group_by(units.c.invoice_id).subquery())
        stmt = (select(key.label("key"), func.sum(func.coalesce(_minor(Shipment.shipping_cost), 0)).label("shipping_cost"),
                       func.sum(func.coalesce(per_invoice.c.qty, 0) * rate).label("handling"))
                .select_from(Invoice).join(Warehouse, Warehouse.id == Invoice.warehouse_id)
                .outerjoin(Shipment, Shipment.id == Invoice.shipment_id)
                .outerjoin(per_invoice, per_invoice.c.invoice_id == Invoice.id).group_by(key))
    return _date_range(stmt, Invoice.issue_date, date_from, date_to).subquery("costs")


_LABELS = {
    "order": (Order, Order.number, Order.customer_name),
    "sku": (Sku, Sku.code, Sku.name),
    "channel": (Channel, Channel.code, Channel.name),
    "warehouse": (Warehouse, Warehouse.code, Warehouse.name),
}


def _margin_statement(by: str, date_from: date | None, date_to: date | None, q: str, channel_id: int | None):
    dim_column = getattr(JournalLine, f"{by}_id")
    revenue, costs = _journal_margin_sums(dim_column, date_from, date_to), _fulfilment_costs(by, date_from, date_to)
    model, label, detail = _LABELS[by]
    shipping_cost = func.coalesce(costs.c.shipping_cost, 0)
    handling = func.coalesce(costs.c.handling, 0)
    contribution = (revenue.c.sales + revenue.c.shipping_income + revenue.c.restocking_fees - revenue.c.returns
                    - revenue.c.cogs - revenue.c.written_off - shipping_cost - handling)
    net = revenue.c.sales + revenue.c.shipping_income + revenue.c.restocking_fees - revenue.c.returns
    stmt = (select(revenue.c.key, label.label("label"), detail.label("detail"), revenue.c.units, revenue.c.sales,
                   revenue.c.shipping_income, revenue.c.restocking_fees, revenue.c.returns, revenue.c.cogs,
                   revenue.c.written_off, shipping_cost.label("shipping_cost"), handling.label("handling"),
                   contribution.label("contribution"),
                   net.label("net"))
            .join(model, model.id == revenue.c.key).outerjoin(costs, costs.c.key == revenue.c.key))
    if q:
        pattern = like_pattern(q.strip())
        stmt = stmt.where(or_(label.ilike(pattern, escape="\\"), detail.ilike(pattern, escape="\\")))
    if channel_id and by == "order":
        stmt = stmt.where(Order.channel_id == channel_id)
    return stmt, contribution, net


def margins(by: str, *, date_from: date | None = None, date_to: date | None = None, q: str = "",
            channel_id: int | None = None, sort: str = "contribution", page: int = 1, per_page: int = 50) -> Page:
    """Revenue less cost of goods, label cost and handling, grouped by order, SKU, channel or warehouse."""
    stmt, contribution, net = _margin_statement(by, date_from, date_to, q, channel_id)
    margin = contribution * 1.0 / func.nullif(net, 0)
    order_by = {"contribution": contribution.desc(), "worst": contribution.asc(), "revenue": net.desc(),
                "margin": margin.asc()}.get(sort, contribution.desc())
    result = paginate(stmt.order_by(order_by, stmt.selected_columns.label), page, per_page, scalars=False)
    result.items = [_margin_row(row) for row in result.items]
    return result


def margin_rows_all(by: str, **filters) -> Iterator[MarginRow]:
    """Every margin row, streamed for CSV export."""
    stmt, contribution, _net = _margin_statement(by, filters.get("date_from"), filters.get("date_to"),
                                                 filters.get("q", ""), filters.get("channel_id"))
    for row in db.session.execute(stmt.order_by(contribution.desc()).execution_options(yield_per=500)):
        yield _margin_row(row)


def margin_totals(by: str, **filters) -> MarginRow:
    stmt, _c, _n = _margin_statement(by, filters.get("date_from"), filters.get("date_to"), filters.get("q", ""),
                                     filters.get("channel_id"))
    sub = stmt.subquery()
    row = db.session.execute(select(*(func.coalesce(func.sum(sub.c[name]), 0) for name in
                                      ("units", "sales", "shipping_income", "restocking_fees", "returns", "cogs",
                                       "written_off", "shipping_cost", "handling")))).one()
    units, *money = row
    return MarginRow(0, "Total", "", int(units), *(from_minor(v) for v in money))


def _margin_row(row) -> MarginRow:
    return MarginRow(row.key, row.label, row.detail or "", int(row.units or 0), from_minor(row.sales),
                     from_minor(row.shipping_income), from_minor(row.restocking_fees), from_minor(row.returns),
                     from_minor(row.cogs), from_minor(row.written_off), from_minor(row.shipping_cost),
                     from_minor(row.handling))


def order_margin(order_id: int) -> MarginRow | None:
    """One order's margin over its whole life."""
    stmt, _c, _n = _margin_statement("order", None, None, "", None)
    row = db.session.execute(stmt.where(Order.id == order_id)).first()
    return _margin_row(row) if row else None


# --- profit and loss by channel and month --------------------------------------------------------------------------

@dataclass
class PnlLine:
    code: str
    name: str
    kind: str  # revenue, expense, subtotal, operational
    values: dict[str, Decimal] = field(default_factory=dict)

    def total(self) -> Decimal:
        return sum(self.values.values(), ZERO)


@dataclass
class ProfitAndLoss:
    columns: list[str]
    lines: list[PnlLine]


def months_between(first: str, last: str) -> list[str]:
    months, (year, month) = [], (int(first[:4]), int(first[5:]))
    while f"{year:04d}-{month:02d}" <= last and len(months) < 120:
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def profit_and_loss(period_from: str, period_to: str, *, channel_id: int | None = None, by_channel: bool = False
                    ) -> ProfitAndLoss:
    """Revenue and expense accounts per month (or per channel over the months), then fulfilment costs.

    Lines above "Net profit" are the journal; label cost and handling below it come from shipments
    and warehouse rates (carrier bills and warehouse wages reach the books through payables and payroll).
    """
    column = JournalLine.channel_id if by_channel else JournalEntry.period
    stmt = (select(column, Account.code, Account.name, Account.type,
                   func.sum(_minor(JournalLine.credit) - _minor(JournalLine.debit)))
            .join(JournalEntry, JournalEntry.id == JournalLine.entry_id).join(Account, Account.id == JournalLine.account_id)
            .where(Account.type.in_(["revenue", "expense"]), JournalEntry.period >= period_from,
                   JournalEntry.period <= period_to).group_by(column, Account.code, Account.name, Account.type))
    if channel_id:
        stmt = stmt.where(JournalLine.channel_id == channel_id)
    columns = _pnl_columns(period_from, period_to, by_channel)
    accounts = {code: PnlLine(code, name, kind) for code, name, kind in db.session.execute(
        select(Account.code, Account.name, Account.type).where(Account.type.in_(["revenue", "expense"])).order_by(Account.code))}
    for key, code, _name, kind, amount in db.session.execute(stmt):
        value = from_minor(amount)  # credit less debit: what a revenue account earned
        accounts[code].values[_pnl_key(key)] = value if kind == "revenue" else -value  # costs shown positive
    return ProfitAndLoss(columns, _pnl_lines(accounts, columns, period_from, period_to, channel_id, by_channel))


def _pnl_key(key) -> str:
    return str(key) if key is not None else "none"


def _pnl_columns(period_from: str, period_to: str, by_channel: bool) -> list[str]:
    if not by_channel:
        return months_between(period_from, period_to)
    return [str(c) for c in db.session.scalars(select(Channel.id).order_by(Channel.code))] + ["none"]


def _pnl_lines(accounts: dict[str, PnlLine], columns, period_from, period_to, channel_id, by_channel) -> list[PnlLine]:
    revenue = [line for line in accounts.values() if line.kind == "revenue"]
    expenses = [line for line in accounts.values() if line.kind == "expense"]  # already signed as costs
    net_revenue = _subtotal("Net revenue", revenue, columns)
    cogs = accounts.get(Acct.COGS, PnlLine(Acct.COGS, "Cost of goods sold", "expense"))
    gross = PnlLine("", "Gross profit", "subtotal", {c: net_revenue.values[c] - cogs.values.get(c, ZERO) for c in columns})
    other = [line for line in expenses if line.code != Acct.COGS]
    net = PnlLine("", "Net profit (journal)", "subtotal",
                  {c: gross.values[c] - sum((l.values.get(c, ZERO) for l in other), ZERO) for c in columns})
    shipping, handling = _operational_costs(period_from, period_to, channel_id, by_channel)
    contribution = PnlLine("", "After fulfilment costs", "subtotal",
                           {c: net.values[c] - shipping.values.get(c, ZERO) - handling.values.get(c, ZERO) for c in columns})
    return [*revenue, net_revenue, cogs, gross, *other, net, shipping, handling, contribution]


def _subtotal(name: str, lines: list[PnlLine], columns: list[str]) -> PnlLine:
    return PnlLine("", name, "subtotal", {c: sum((l.values.get(c, ZERO) for l in lines), ZERO) for c in columns})


def _operational_costs(period_from, period_to, channel_id, by_channel) -> tuple[PnlLine, PnlLine]:
    units = (select(InvoiceLine.invoice_id, func.sum(InvoiceLine.qty).label("qty"))
             .where(InvoiceLine.kind == "goods").group_by(InvoiceLine.invoice_id).subquery())
    column = Invoice.channel_id if by_channel else JournalEntry.period
    stmt = (select(column, func.sum(func.coalesce(_minor(Shipment.shipping_cost), 0)),
                   func.sum(func.coalesce(units.c.qty, 0) * _minor(Warehouse.handling_cost_per_unit)))
            .select_from(Invoice).join(JournalEntry, JournalEntry.id == Invoice.entry_id)
            .join(Warehouse, Warehouse.id == Invoice.warehouse_id).outerjoin(Shipment, Shipment.id == Invoice.shipment_id)
            .outerjoin(units, units.c.invoice_id == Invoice.id)
            .where(JournalEntry.period >= period_from, JournalEntry.period <= period_to).group_by(column))
    if channel_id:
        stmt = stmt.where(Invoice.channel_id == channel_id)
    shipping = PnlLine("", "Carrier labels (from shipments)", "operational")
    handling = PnlLine("", "Handling (units × warehouse rate)", "operational")
    for key, label_cost, handling_cost in db.session.execute(stmt):
        shipping.values[_pnl_key(key)] = from_minor(label_cost)
        handling.values[_pnl_key(key)] = from_minor(handling_cost)
    return shipping, handling


def journal_months() -> tuple[str, str]:
    """The first and last month with entries (this month when the journal is empty)."""
    first, last = db.session.execute(select(func.min(JournalEntry.period), func.max(JournalEntry.period))).one()
    current = period_of(today())
    return first or current, max(last or current, current)


# --- stock valuation -------------------------------------------------------------------------------------------

@dataclass
class WarehouseValuation:
    warehouse_id: int | None
    code: str
    name: str
    units: dict[str, int]
    value: dict[str, Decimal]
    total_value: Decimal

    @property
    def total_units(self) -> int:
        return sum(self.units.values())


def valuation_by_warehouse() -> list[WarehouseValuation]:
    """Value per warehouse (exact, from its layers) split over statuses by units at the warehouse's average cost."""
    values = {wh: from_minor(v) for wh, v in db.session.execute(
        select(CostLayer.warehouse_id, minor_sum(CostLayer.value_remaining)).group_by(CostLayer.warehouse_id))}
    units: dict[int, dict[str, int]] = {}
    for wh, status, qty in db.session.execute(select(StockBalance.warehouse_id, StockBalance.status, func.sum(StockBalance.qty))
                                              .group_by(StockBalance.warehouse_id, StockBalance.status)):
        if qty:
            units.setdefault(wh, {})[status] = int(qty)
    rows = []
    for warehouse in db.session.scalars(select(Warehouse).order_by(Warehouse.code)):
        if warehouse.id in values or warehouse.id in units:
            rows.append(_warehouse_row(warehouse.id, warehouse.code, warehouse.name, units.get(warehouse.id, {}),
                                       values.get(warehouse.id, ZERO)))
    transit_layers = db.session.execute(select(func.coalesce(func.sum(CostLayer.qty_remaining), 0))
                                        .where(CostLayer.warehouse_id.is_(None))).scalar_one()
    if values.get(None) or transit_layers:
        rows.append(_warehouse_row(None, "TRANSIT", "Between warehouses", {Status.IN_TRANSIT.value: int(transit_layers)},
                                   values.get(None, ZERO)))
    return rows


def _warehouse_row(warehouse_id, code, name, units: dict[str, int], value: Decimal) -> WarehouseValuation:
    statuses = [s.value for s in Status]
    shares = split_in_proportion(value, [Decimal(units.get(s, 0)) for s in statuses]) if units else [ZERO] * len(statuses)
    return WarehouseValuation(warehouse_id, code, name, {s: units.get(s, 0) for s in statuses},
                              dict(zip(statuses, shares)), value)


@dataclass
class SkuValuation:
    sku_id: int
    code: str
    name: str
    units: int
    value: Decimal
    standard_cost: Decimal

    @property
    def average_cost(self) -> Decimal | None:
        return (self.value / self.units).quantize(Decimal("0.0001")) if self.units else None


def valuation_by_sku(*, q: str = "", warehouse_id: int | None = None, page: int = 1, per_page: int = 50) -> Page:
    stmt = _sku_valuation_statement(q, warehouse_id)
    result = paginate(stmt.order_by(func.sum(_minor(CostLayer.value_remaining)).desc(), Sku.code), page, per_page,
                      scalars=False)
    result.items = [SkuValuation(r.id, r.code, r.name, int(r.units), from_minor(r.value), r.unit_cost) for r in result.items]
    return result


def sku_valuation_rows(*, q: str = "", warehouse_id: int | None = None) -> Iterator[SkuValuation]:
    stmt = _sku_valuation_statement(q, warehouse_id).order_by(Sku.code).execution_options(yield_per=500)
    for r in db.session.execute(stmt):
        yield SkuValuation(r.id, r.code, r.name, int(r.units), from_minor(r.value), r.unit_cost)


def _sku_valuation_statement(q: str, warehouse_id: int | None):
    stmt = (select(Sku.id, Sku.code, Sku.name, Sku.unit_cost, func.sum(CostLayer.qty_remaining).label("units"),
                   func.sum(_minor(CostLayer.value_remaining)).label("value"))
            .join(CostLayer, CostLayer.sku_id == Sku.id).where(CostLayer.qty_remaining > 0)
            .group_by(Sku.id, Sku.code, Sku.name, Sku.unit_cost))
    if warehouse_id:
        stmt = stmt.where(CostLayer.warehouse_id == warehouse_id)
    if q:
        pattern = like_pattern(q.strip())
        stmt = stmt.where(or_(Sku.code.ilike(pattern, escape="\\"), Sku.name.ilike(pattern, escape="\\")))
    return stmt


@dataclass(frozen=True)
class Reconciliation:
    account: Decimal
    layers: Decimal
    problems: list[str]

    @property
    def difference(self) -> Decimal:
        return self.account - self.layers

    @property
    def agrees(self) -> bool:
        return not self.problems


def books_problems() -> list[str]:
    """Everything wrong with the books as sentences: an unbalanced journal, a valuation apart from the account."""
    balance = trial_balance()
    problems = [] if balance.balanced else [f"the journal does not balance: debits {balance.total_debit}, "
                                            f"credits {balance.total_credit}"]
    return problems + valuation_problems()


def reconciliation() -> Reconciliation:
    """The inventory account against the valuation, with every disagreement named."""
    return Reconciliation(inventory_account_balance(), layer_value(), valuation_problems())


# --- order to cash -------------------------------------------------------------------------------------------------

def shipped_not_invoiced(q: str = "", page: int = 1, per_page: int = 50) -> Page:
    stmt = (select(Shipment).join(Order, Order.id == Shipment.order_id)
            .where(Shipment.status == ShipmentStatus.SHIPPED.value,
                   ~exists().where(Invoice.shipment_id == Shipment.id)))
    if q:
        pattern = like_pattern(q.strip())
        stmt = stmt.where(or_(Shipment.number.ilike(pattern, escape="\\"), Order.number.ilike(pattern, escape="\\")))
    return paginate(stmt.order_by(Shipment.shipped_at, Shipment.id), page, per_page)


def _receivable_by_order():
    ids = ensure_chart()
    return (select(JournalLine.order_id,
                   minor_sum(JournalLine.debit).label("invoiced"), minor_sum(JournalLine.credit).label("settled"))
            .where(JournalLine.account_id == ids[Acct.RECEIVABLE], JournalLine.order_id.is_not(None))
            .group_by(JournalLine.order_id).subquery())


def unpaid_orders(q: str = "", page: int = 1, per_page: int = 50) -> Page:
    """Orders invoiced and not (fully) paid, oldest invoice first."""
    receivable = _receivable_by_order()
    first_invoice = (select(Invoice.order_id, func.min(Invoice.issue_date).label("first_invoiced"),
                            func.count(Invoice.id).label("invoices"))
                     .group_by(Invoice.order_id).subquery())
    owed = receivable.c.invoiced - receivable.c.settled
    stmt = (select(Order, receivable.c.invoiced, receivable.c.settled, owed.label("owed"),
                   first_invoice.c.first_invoiced, first_invoice.c.invoices)
            .join(receivable, receivable.c.order_id == Order.id).join(first_invoice, first_invoice.c.order_id == Order.id)
            .where(owed > 0))
    if q:
        pattern = like_pattern(q.strip())
        stmt = stmt.where(or_(Order.number.ilike(pattern, escape="\\"), Order.customer_name.ilike(pattern, escape="\\")))
    result = paginate(stmt.order_by(first_invoice.c.first_invoiced, Order.id), page, per_page, scalars=False)
    result.items = [{"order": o, "invoiced": from_minor(i), "settled": from_minor(s), "owed": from_minor(w),
                     "first_invoiced": f, "invoices": n} for o, i, s, w, f, n in result.items]
    return result


def refunds_pending(q: str = "", page: int = 1, per_page: int = 50) -> Page:
    stmt = select(CreditNote).join(Order, Order.id == CreditNote.order_id).where(
        CreditNote.refund_due > 0, CreditNote.refunded_at.is_(None))
    if q:
        pattern = like_pattern(q.strip())
        stmt = stmt.where(or_(CreditNote.number.ilike(pattern, escape="\\"), Order.number.ilike(pattern, escape="\\"),
                              CreditNote.reference.ilike(pattern, escape="\\")))
    return paginate(stmt.order_by(CreditNote.issued_at, CreditNote.id), page, per_page)


def order_to_cash_counts() -> dict[str, int]:
    receivable = _receivable_by_order()
    return {
        "not_invoiced": db.session.scalar(select(func.count(Shipment.id)).where(
            Shipment.status == ShipmentStatus.SHIPPED.value, ~exists().where(Invoice.shipment_id == Shipment.id))),
        "unpaid": db.session.scalar(select(func.count()).select_from(receivable)
                                    .where(receivable.c.invoiced > receivable.c.settled)),
        "refunds": db.session.scalar(select(func.count(CreditNote.id)).where(CreditNote.refund_due > 0,
                                                                             CreditNote.refunded_at.is_(None))),
    }


# --- invoices, credit notes, payments, supplier invoices --------------------------------------------------------------

@dataclass
class InvoiceFilters:
    q: str = ""
    status: str = ""  # open, paid
    channel_id: int | None = None
    date_from: date | None = None
    date_to: date | None = None


def invoice_query(f: InvoiceFilters) -> Select:
    stmt = select(Invoice).join(Order, Order.id == Invoice.order_id)
    if f.q:
        pattern = like_pattern(f.q.strip())
        stmt = stmt.where(or_(Invoice.number.ilike(pattern, escape="\\"), Order.number.ilike(pattern, escape="\\"),
                              Order.customer_name.ilike(pattern, escape="\\")))
    if f.channel_id:
        stmt = stmt.where(Invoice.channel_id == f.channel_id)
    stmt = _date_range(stmt, Invoice.issue_date, f.date_from, f.date_to)
    if f.status in ("open", "paid"):
        receivable = _receivable_by_order()
        open_orders = select(receivable.c.order_id).where(receivable.c.invoiced > receivable.c.settled)
        stmt = stmt.where(Invoice.order_id.in_(open_orders) if f.status == "open" else Invoice.order_id.not_in(open_orders))
    return stmt.order_by(Invoice.sequence.desc())


def invoice_balances(invoices: list[Invoice]) -> dict[int, Decimal]:
    """What is still owed on each invoice: an order's payments and credits settle its oldest invoices first."""
    order_ids = {i.order_id for i in invoices}
    if not order_ids:
        return {}
    ids = ensure_chart()
    settled = {oid: from_minor(v) for oid, v in db.session.execute(
        select(JournalLine.order_id, minor_sum(JournalLine.credit))
        .where(JournalLine.account_id == ids[Acct.RECEIVABLE], JournalLine.order_id.in_(order_ids))
        .group_by(JournalLine.order_id))}
    owed = {}
    for invoice in db.session.scalars(select(Invoice).where(Invoice.order_id.in_(order_ids)).order_by(Invoice.sequence)):
        applied = min(invoice.total, settled.get(invoice.order_id, ZERO))
        settled[invoice.order_id] = settled.get(invoice.order_id, ZERO) - applied
        owed[invoice.id] = invoice.total - applied
    return owed


def credit_note_query(q: str = "", status: str = "") -> Select:
    stmt = select(CreditNote).join(Order, Order.id == CreditNote.order_id)
    if q:
        pattern = like_pattern(q.strip())
        stmt = stmt.where(or_(CreditNote.number.ilike(pattern, escape="\\"), Order.number.ilike(pattern, escape="\\"),
                              CreditNote.reference.ilike(pattern, escape="\\"), Order.customer_name.ilike(pattern, escape="\\")))
    if status == "pending":
        stmt = stmt.where(CreditNote.refund_due > 0, CreditNote.refunded_at.is_(None))
    elif status == "refunded":
        stmt = stmt.where(CreditNote.refunded_at.is_not(None))
    return stmt.order_by(CreditNote.sequence.desc())


def payment_query(q: str = "", method: str = "") -> Select:
    stmt = select(Payment).join(Order, Order.id == Payment.order_id)
    if q:
        pattern = like_pattern(q.strip())
        stmt = stmt.where(or_(Payment.number.ilike(pattern, escape="\\"), Payment.reference.ilike(pattern, escape="\\"),
                              Order.number.ilike(pattern, escape="\\")))
    if method:
        stmt = stmt.where(Payment.method == method)
    return stmt.order_by(Payment.received_at.desc(), Payment.id.desc())


def open_receipts() -> list[dict]:
    """Receiving documents with goods not yet matched to a supplier invoice, oldest first."""
    ids = ensure_chart()
    received = (select(JournalEntry.source_type, JournalEntry.source_id,
                       (minor_sum(JournalLine.credit) - minor_sum(JournalLine.debit)).label("received"),
                       func.min(JournalEntry.entry_date).label("first_received"))
                .join(JournalLine, JournalLine.entry_id == JournalEntry.id)
                .where(JournalEntry.kind == "receipt", JournalLine.account_id == ids[Acct.GRNI])
                .group_by(JournalEntry.source_type, JournalEntry.source_id).subquery())
    matched = (select(SupplierInvoice.receipt_type, SupplierInvoice.receipt_ref,
                      minor_sum(SupplierInvoice.grni_cleared).label("matched"))
               .where(SupplierInvoice.reversed_at.is_(None))
               .group_by(SupplierInvoice.receipt_type, SupplierInvoice.receipt_ref).subquery())
    open_value = received.c.received - func.coalesce(matched.c.matched, 0)
    rows = db.session.execute(
        select(received.c.source_type, received.c.source_id, received.c.received, open_value, received.c.first_received)
        .outerjoin(matched, and_(matched.c.receipt_type == received.c.source_type,
                                 matched.c.receipt_ref == received.c.source_id))
        .where(open_value > 0).order_by(received.c.first_received, received.c.source_id))
    return [{"type": t, "ref": r, "received": from_minor(v), "open": from_minor(o), "first_received": d}
            for t, r, v, o, d in rows]


def supplier_invoice_query(q: str = "") -> Select:
    stmt = select(SupplierInvoice)
    if q:
        pattern = like_pattern(q.strip())
        stmt = stmt.where(or_(SupplierInvoice.number.ilike(pattern, escape="\\"),
                              SupplierInvoice.reference.ilike(pattern, escape="\\"),
                              SupplierInvoice.receipt_ref.ilike(pattern, escape="\\")))
    return stmt.order_by(SupplierInvoice.id.desc())


# --- periods ------------------------------------------------------------------------------------------------------

@dataclass
class PeriodRow:
    period: str
    entries: int
    closed: FiscalPeriod | None
    closable: bool

    @property
    def first_day(self) -> date:
        return date(int(self.period[:4]), int(self.period[5:]), 1)

    @property
    def last_day(self) -> date:
        first = self.first_day
        following = date(first.year + (first.month == 12), first.month % 12 + 1, 1)
        return date.fromordinal(following.toordinal() - 1)


def period_rows() -> list[PeriodRow]:
    """Every month from the first entry to this one, newest first, with its entries and whether it can close."""
    first, last = journal_months()
    counts = dict(db.session.execute(select(JournalEntry.period, func.count(JournalEntry.id))
                                     .group_by(JournalEntry.period)).all())
    closed = {p.period: p for p in db.session.scalars(select(FiscalPeriod).where(FiscalPeriod.closed_at.is_not(None)))}
    current, rows, earlier_open = period_of(today()), [], False
    for month in months_between(first, last):
        is_closed = month in closed
        closable = not is_closed and month < current and not earlier_open
        rows.append(PeriodRow(month, counts.get(month, 0), closed.get(month), closable))
        earlier_open = earlier_open or (not is_closed and counts.get(month, 0) > 0)
    return list(reversed(rows))
