"""Master data changes that wait for someone: a price change held for approval."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.catalog import Sku
from app.models.types import Money, UTCDateTime, utcnow


class PriceProposal(db.Model):
    """A new selling price for a SKU, applied once its approval request is approved."""

    __tablename__ = "price_proposals"

    id: Mapped[int] = mapped_column(primary_key=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"), index=True)
    old_price: Mapped[Decimal] = mapped_column(Money(2))
    new_price: Mapped[Decimal] = mapped_column(Money(2))
    approval_request_id: Mapped[int | None] = mapped_column(index=True)
    status: Mapped[str] = mapped_column(String(12), default="pending")  # pending, applied, rejected, withdrawn
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    sku: Mapped[Sku] = relationship()
