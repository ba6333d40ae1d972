"""The stock ledger: every move of units between (location, status) pairs, and the balances it keeps."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.catalog import Location, Sku
from app.models.types import Money, UTCDateTime, utcnow


class StockMove(db.Model):
    __tablename__ = "stock_moves"
    __table_args__ = (
        CheckConstraint("qty > 0", name="positive_qty"),
        Index("ix_stock_moves_sku_created", "sku_id", "created_at"),
        Index("ix_stock_moves_cause", "cause_type", "cause_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"))
    qty: Mapped[int] = mapped_column()
    from_location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"), index=True)
    to_status: Mapped[str | None] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(String(30))
    cause_type: Mapped[str] = mapped_column(String(30))
    cause_id: Mapped[str] = mapped_column(String(40))
    note: Mapped[str] = mapped_column(String(500), default="")
    unit_cost: Mapped[Decimal | None] = mapped_column(Money(4))  # the cause's cost per unit, for valuation
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    sku: Mapped[Sku] = relationship()
    from_location: Mapped[Location] = relationship(foreign_keys=[from_location_id])
    to_location: Mapped[Location] = relationship(foreign_keys=[to_location_id])


class StockBalance(db.Model):
    """Units of one SKU in one (real location, status); kept in step with the moves."""

    __tablename__ = "stock_balances"
    __table_args__ = (
        UniqueConstraint("sku_id", "location_id", "status"),
        CheckConstraint("qty >= 0", name="never_negative"),
        Index("ix_stock_balances_location_status", "location_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"), index=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    qty: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    sku: Mapped[Sku] = relationship()
    location: Mapped[Location] = relationship()
