"""Read side of vendor claims: the filtered list, what is outstanding per supplier, the API and CSV rows."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Mapping

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import selectinload

from app.domain.money import ZERO
from app.extensions import db
from app.models import Sku, Supplier
from app.models.returns import Rma, VendorClaim
from app.services.finance import cents
from app.services.kpis import local_text
from app.services.queries import Page, like_pattern, paginate
from app.services.vendor_claims import OPEN, SENT, STATUSES


def claim_value(qty: int, unit_cost: Decimal) -> Decimal:
    """Units at their cost, to the cent: what a claim asks for (VendorClaim.claimed for a loaded claim)."""
    return cents(unit_cost * qty)


@dataclass
class ClaimFilters:
    q: str = ""
    status: str = ""
    supplier: str = ""

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> "ClaimFilters":
        status = args.get("status", "")
        return cls(q=str(args.get("q", "")).strip()[:100], status=status if status in STATUSES else "",
                   supplier=str(args.get("supplier", "")).strip()[:30])

    @property
    def any(self) -> bool:
        return bool(self.q or self.status or self.supplier)

    def args(self, **changes) -> dict[str, str]:
        values = {"q": self.q, "status": self.status, "supplier": self.supplier, **changes}
        return {k: v for k, v in values.items() if v}


def filtered(filters: ClaimFilters, *, with_status: bool = True) -> Select:
    """Claims matching the search (claim, RMA, SKU, PO or supplier reference), supplier code and status."""
    stmt = (select(VendorClaim).join(Rma, Rma.id == VendorClaim.rma_id).join(Sku, Sku.id == VendorClaim.sku_id)
            .join(Supplier, Supplier.id == VendorClaim.supplier_id))
    if filters.q:
        pattern = like_pattern(filters.q)
        stmt = stmt.where(or_(*(column.ilike(pattern, escape="\\") for column in (
            VendorClaim.number, Rma.number, Sku.code, VendorClaim.po_number, VendorClaim.reference))))
    if filters.supplier:
        stmt = stmt.where(Supplier.code == filters.supplier)
    if with_status and filters.status:
        stmt = stmt.where(VendorClaim.status == filters.status)
    return stmt


def search_claims(filters: ClaimFilters, page: int, per_page: int = 50) -> Page:
    stmt = filtered(filters).options(selectinload(VendorClaim.rma), selectinload(VendorClaim.supplier),
                                     selectinload(VendorClaim.sku), selectinload(VendorClaim.sent_by),
                                     selectinload(VendorClaim.settled_by))
    return paginate(stmt.order_by(VendorClaim.created_at.desc(), VendorClaim.id.desc()), page, per_page)


def status_counts(filters: ClaimFilters) -> dict[str, int]:
    inner = filtered(filters, with_status=False).with_only_columns(VendorClaim.status).subquery()
    counts = dict(db.session.execute(select(inner.c.status, func.count()).group_by(inner.c.status)).all())
    return {status: int(counts.get(status, 0)) for status in STATUSES}


@dataclass
class Outstanding:
    """One supplier's claims not yet settled: how many and their claimed value, still open and sent."""

    code: str
    name: str
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    values: dict[str, Decimal] = field(default_factory=lambda: defaultdict(lambda: ZERO))

    @property
    def total(self) -> Decimal:
        return self.values[OPEN] + self.values[SENT]


def outstanding_by_supplier(filters: ClaimFilters) -> list[Outstanding]:
    """Per supplier, the claimed value still open (not sent) and sent awaiting credit, largest first."""
    stmt = (filtered(filters, with_status=False).where(VendorClaim.status.in_((OPEN, SENT)))
            .with_only_columns(Supplier.code, Supplier.name, VendorClaim.status, VendorClaim.qty, VendorClaim.unit_cost))
    found: dict[str, Outstanding] = {}
    for code, name, status, qty, unit_cost in db.session.execute(stmt.execution_options(yield_per=1000)):
        row = found.setdefault(code, Outstanding(code, name))
        row.counts[status] += 1
        row.values[status] += claim_value(qty, unit_cost)
    return sorted(found.values(), key=lambda r: (-r.total, r.code))


def supplier_choices() -> list[tuple[str, str]]:
    """Suppliers that have claims, for the filter."""
    return list(db.session.execute(select(Supplier.code, Supplier.name).where(
        Supplier.id.in_(select(VendorClaim.supplier_id).distinct())).order_by(Supplier.name)))


def claim_json(claim: VendorClaim) -> dict[str, Any]:
    """A claim as the API answers it."""
    return {"id": claim.id, "number": claim.number, "status": claim.status, "rma": claim.rma.number,
            "rma_id": claim.rma_id, "supplier": claim.supplier.code, "supplier_name": claim.supplier.name,
            "sku": claim.sku.code, "po_number": claim.po_number or None, "qty": claim.qty,
            "unit_cost": str(claim.unit_cost), "claimed": str(claim.claimed), "defect": claim.defect,
            "opened_at": claim.created_at.isoformat(), "reference": claim.reference or None,
            "sent_at": claim.sent_at.isoformat() if claim.sent_at else None,
            "credited": str(claim.credited) if claim.credited is not None else None, "note": claim.note or None,
            "settled_at": claim.settled_at.isoformat() if claim.settled_at else None}


EXPORT_HEADER = ("Claim", "Status", "RMA", "Supplier", "Supplier name", "SKU", "PO", "Units", "Unit cost", "Claimed",
                 "Defect", "Opened", "Supplier reference", "Sent", "Credited", "Note", "Settled")


def export_rows(filters: ClaimFilters):
    """The list's claims as CSV cells, oldest first, streamed in batches."""
    stmt = filtered(filters).with_only_columns(
        VendorClaim.number, VendorClaim.status, Rma.number.label("rma"), Supplier.code, Supplier.name, Sku.code.label("sku"),
        VendorClaim.po_number, VendorClaim.qty, VendorClaim.unit_cost, VendorClaim.defect, VendorClaim.created_at,
        VendorClaim.reference, VendorClaim.sent_at, VendorClaim.credited, VendorClaim.note, VendorClaim.settled_at,
    ).order_by(VendorClaim.created_at, VendorClaim.id)
    for r in db.session.execute(stmt.execution_options(yield_per=1000)):
        claimed = claim_value(r.qty, r.unit_cost)
        yield (r.number, r.status, r.rma, r.code, r.name, r.sku, r.po_number, r.qty, r.unit_cost, claimed, r.defect,
               local_text(r.created_at), r.reference, local_text(r.sent_at) if r.sent_at else "", r.credited, r.note,
               local_text(r.settled_at) if r.settled_at else "")
