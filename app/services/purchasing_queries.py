"""Read-side queries for the purchasing screens and API: PO search, supplier catalogues, supplier performance."""
from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from flask import current_app

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.models import Event, Location, Sku, Supplier
from app.models.purchasing import PurchaseOrder, PurchaseOrderLine, Receipt, SupplierContact, SupplierSku
from app.models.types import utcnow
from app.services.queries import like_pattern

# Orders that reached the supplier: the ones a supplier can be judged on.
SENT_STATUSES = ("sent", "confirmed", "partially_received", "received", "closed")
DONE_STATUSES = ("received", "closed")


def po_search(q: str = "", *, status: str = "", supplier_id: int | None = None, warehouse_id: int | None = None
              ) -> Select:
    """Purchase orders by number, supplier reference, supplier name or SKU, newest first."""
    stmt = select(PurchaseOrder).options(selectinload(PurchaseOrder.lines), selectinload(PurchaseOrder.supplier),
                                         selectinload(PurchaseOrder.warehouse))
    if q.strip():
        pattern = like_pattern(q.strip())
        with_sku = (select(PurchaseOrderLine.po_id).join(Sku, Sku.id == PurchaseOrderLine.sku_id)
                    .where(Sku.code.ilike(pattern, escape="\\")))
        stmt = stmt.join(Supplier, Supplier.id == PurchaseOrder.supplier_id).where(or_(
            PurchaseOrder.number.ilike(pattern, escape="\\"), PurchaseOrder.supplier_reference.ilike(pattern, escape="\\"),
            Supplier.name.ilike(pattern, escape="\\"), Supplier.code.ilike(pattern, escape="\\"),
            PurchaseOrder.id.in_(with_sku)))
    if status == "open":
        stmt = stmt.where(PurchaseOrder.status.in_(("draft", "awaiting_approval", "approved", "sent", "confirmed",
                                                    "partially_received")))
    elif status:
        stmt = stmt.where(PurchaseOrder.status == status)
    if supplier_id:
        stmt = stmt.where(PurchaseOrder.supplier_id == supplier_id)
    if warehouse_id:
        stmt = stmt.where(PurchaseOrder.warehouse_id == warehouse_id)
    return stmt.order_by(PurchaseOrder.created_at.desc(), PurchaseOrder.id.desc())


def po_counts_by_status() -> dict[str, int]:
    return dict(db.session.execute(select(PurchaseOrder.status, func.count(PurchaseOrder.id))
                                   .group_by(PurchaseOrder.status)).all())


def po_timeline(po: PurchaseOrder) -> list[Event]:
    return list(db.session.scalars(select(Event).where(Event.subject_type == "purchase_order",
                                                       Event.subject_id == po.number).order_by(Event.id)))


def warehouse_bins(warehouse_id: int) -> list[Location]:
    """A warehouse's active bins, front to back: the choices for put-away."""
    return list(db.session.scalars(select(Location).where(Location.warehouse_id == warehouse_id, Location.kind == "bin",
                                                          Location.active.is_(True))
                                   .order_by(Location.aisle, Location.position_m, Location.level, Location.code)))


def supplier_search(q: str = "", *, active: str = "") -> Select:
    stmt = select(Supplier)
    if q.strip():
        pattern = like_pattern(q.strip())
        stmt = stmt.where(or_(Supplier.code.ilike(pattern, escape="\\"), Supplier.name.ilike(pattern, escape="\\")))
    if active in ("yes", "no"):
        stmt = stmt.where(Supplier.active.is_(active == "yes"))
    return stmt.order_by(Supplier.name)


def supplier_catalogue(supplier_id: int, q: str = "") -> Select:
    stmt = (select(SupplierSku).join(Sku, Sku.id == SupplierSku.sku_id).options(selectinload(SupplierSku.sku))
            .where(SupplierSku.supplier_id == supplier_id))
    if q.strip():
        pattern = like_pattern(q.strip())
        stmt = stmt.where(or_(Sku.code.ilike(pattern, escape="\\"), Sku.name.ilike(pattern, escape="\\"),
                              SupplierSku.supplier_code.ilike(pattern, escape="\\")))
    return stmt.order_by(Sku.code)


def supplier_contacts(supplier_id: int) -> list[SupplierContact]:
    return list(db.session.scalars(select(SupplierContact).where(SupplierContact.supplier_id == supplier_id)
                                   .order_by(SupplierContact.primary.desc(), SupplierContact.name)))


def catalogue_sizes() -> dict[int, int]:
    return dict(db.session.execute(select(SupplierSku.supplier_id, func.count(SupplierSku.id))
                                   .where(SupplierSku.active.is_(True)).group_by(SupplierSku.supplier_id)).all())


def offers_for_skus(sku_ids: list[int]) -> dict[int, list[SupplierSku]]:
    """Active supplier offers per SKU, preferred first."""
    if not sku_ids:
        return {}
    offers: dict[int, list[SupplierSku]] = {}
    for row in db.session.scalars(select(SupplierSku).options(selectinload(SupplierSku.supplier))
                                  .where(SupplierSku.sku_id.in_(sku_ids), SupplierSku.active.is_(True))
                                  .order_by(SupplierSku.preferred.desc(), SupplierSku.id)):
        offers.setdefault(row.sku_id, []).append(row)
    return offers


# --- supplier performance ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Performance:
    """How a supplier delivered on the orders sent to it in a period."""

    supplier: Supplier
    orders: int
    receipts: int
    units_ordered: int
    units_received: int
    fill_rate: float | None          # units received (up to the ordered) / units ordered, on orders due by now
    on_time_rate: float | None       # receipts on or before the promised date / receipts
    lead_time_mean: float | None     # days from sending to the first receipt
    lead_time_std: float | None
    price_variance: float | None     # (paid - agreed) / agreed, over received units with an agreed cost
    price_variance_amount: Decimal   # in the supplier's currency

    @property
    def score(self) -> float | None:
        """The mean of fill rate and on-time rate: the ranking's order."""
        parts = [rate for rate in (self.fill_rate, self.on_time_rate) if rate is not None]
        return sum(parts) / len(parts) if parts else None


def supplier_performance(supplier: Supplier, since: datetime, today: date) -> Performance:
    """Fill rate, on-time rate, lead time and price variance over the orders sent since `since`."""
    orders = list(db.session.scalars(
        select(PurchaseOrder).options(selectinload(PurchaseOrder.lines),
                                      selectinload(PurchaseOrder.receipts).selectinload(Receipt.lines))
        .where(PurchaseOrder.supplier_id == supplier.id, PurchaseOrder.status.in_(SENT_STATUSES),
               PurchaseOrder.sent_at >= since)))
    receipts = [receipt for po in orders for receipt in po.receipts]
    due = [po for po in orders if po.status in DONE_STATUSES or (po.promised_date and po.promised_date < today)]
    ordered = sum(line.qty_ordered for po in due for line in po.lines)
    filled = sum(min(line.qty_received, line.qty_ordered) for po in due for line in po.lines)
    lead_times = [days for po in orders if (days := first_receipt_days(po)) is not None]
    variance, base = _price_variance(orders)
    return Performance(
        supplier=supplier, orders=len(orders), receipts=len(receipts),
        units_ordered=sum(line.qty_ordered for po in orders for line in po.lines),
        units_received=sum(line.qty_received for po in orders for line in po.lines),
        fill_rate=filled / ordered if ordered else None,
        on_time_rate=(sum(_on_time(r) for r in receipts) / len(receipts)) if receipts else None,
        lead_time_mean=statistics.fmean(lead_times) if lead_times else None,
        lead_time_std=statistics.stdev(lead_times) if len(lead_times) > 1 else (0.0 if lead_times else None),
        price_variance=float(variance / base) if base else None,
        price_variance_amount=variance.quantize(Decimal("0.01")),
    )


def first_receipt_days(po: PurchaseOrder) -> float | None:
    """Days, to a tenth, from sending the order to its first receipt."""
    if po.sent_at is None or not po.receipts:
        return None
    first = min(receipt.received_at for receipt in po.receipts)
    return round((first - po.sent_at).total_seconds() / 86400, 1)


def _on_time(receipt: Receipt) -> bool:
    promised = receipt.po.promised_date
    return promised is None or local_date(receipt.received_at) <= promised


def local_date(moment: datetime) -> date:
    """The retailer's calendar date at a moment."""
    return moment.astimezone(ZoneInfo(current_app.config.get("KEEL_TIMEZONE", "Europe/London"))).date()


def _price_variance(orders: list[PurchaseOrder]) -> tuple[Decimal, Decimal]:
    variance = base = Decimal(0)
    for po in orders:
        agreed = {line.id: line.agreed_unit_cost for line in po.lines}
        for receipt in po.receipts:
            for line in receipt.lines:
                if agreed.get(line.po_line_id) is not None:
                    variance += (line.unit_cost - agreed[line.po_line_id]) * line.qty
                    base += agreed[line.po_line_id] * line.qty
    return variance, base


def supplier_ranking(since: datetime, today: date) -> list[Performance]:
    """Every active supplier's performance, best score first; suppliers without figures last."""
    suppliers = db.session.scalars(select(Supplier).where(Supplier.active.is_(True)).order_by(Supplier.name))
    figures = [supplier_performance(supplier, since, today) for supplier in suppliers]
    return sorted(figures, key=lambda p: (p.score is None, -(p.score or 0), p.supplier.name))


def lead_time_history(supplier_id: int, *, days: int = 365) -> list[float]:
    """Observed lead times (sent to first receipt, in days) of a supplier's orders sent in the last `days` days."""
    since = utcnow() - timedelta(days=days)
    orders = db.session.scalars(
        select(PurchaseOrder).options(selectinload(PurchaseOrder.receipts))
        .where(PurchaseOrder.supplier_id == supplier_id, PurchaseOrder.sent_at >= since,
               PurchaseOrder.status.in_(SENT_STATUSES)))
    return [days for po in orders if (days := first_receipt_days(po)) is not None]
