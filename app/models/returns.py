"""Returns: per-channel policies, RMAs with their lines, units and timeline, refunds, refurbish tasks, vendor claims."""
from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.catalog import Channel, Location, Sku, Supplier, Warehouse
from app.models.orders import Order, OrderLine
from app.models.people import User
from app.models.types import Money, UTCDateTime, utcnow


class ReturnPolicyRecord(db.Model):
    """A channel's own return policy; channels without one follow the default in settings."""

    __tablename__ = "return_policies"

    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"), primary_key=True)
    window_days: Mapped[int] = mapped_column(default=30)
    restocking_fee_pct: Mapped[Decimal] = mapped_column(Money(2), default=Decimal("0"))
    non_returnable_skus: Mapped[list] = mapped_column(JSON, default=list)
    non_returnable_categories: Mapped[list] = mapped_column(JSON, default=list)
    retailer_pays_reasons: Mapped[list] = mapped_column(JSON, default=list)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    channel: Mapped[Channel] = relationship()


class Rma(db.Model):
    """A return merchandise authorisation: which units of an order may come back, and what became of them."""

    __tablename__ = "rmas"
    __table_args__ = (UniqueConstraint("channel_id", "channel_refund_id"),
                      Index("ix_rmas_status_authorised", "status", "authorised_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(30), unique=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"), index=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(20), default="portal")  # portal, api, shopify, woocommerce, demo
    channel_refund_id: Mapped[str | None] = mapped_column(String(64))
    customer_name: Mapped[str] = mapped_column(String(200), default="")
    customer_email: Mapped[str] = mapped_column(String(200), default="", index=True)
    retailer_pays_label: Mapped[bool] = mapped_column(default=False)
    tracking_number: Mapped[str] = mapped_column(String(60), default="")
    note: Mapped[str] = mapped_column(String(1000), default="")
    cancel_reason: Mapped[str] = mapped_column(String(300), default="")
    resolution: Mapped[str] = mapped_column(String(20), default="")  # refund, exchange, none
    exchange_order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    authorised_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    inspected_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    refunded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    order: Mapped[Order] = relationship(foreign_keys=[order_id])
    exchange_order: Mapped[Order | None] = relationship(foreign_keys=[exchange_order_id])
    channel: Mapped[Channel] = relationship()
    warehouse: Mapped[Warehouse] = relationship()
    lines: Mapped[list["RmaLine"]] = relationship(back_populates="rma", order_by="RmaLine.id", cascade="all, delete-orphan")
    steps: Mapped[list["RmaStep"]] = relationship(back_populates="rma", order_by="RmaStep.id", cascade="all, delete-orphan")
    refunds: Mapped[list["Refund"]] = relationship(back_populates="rma", order_by="Refund.id")

    @property
    def units_expected(self) -> int:
        return sum(line.qty_expected for line in self.lines)

    @property
    def units_received(self) -> int:
        return sum(line.qty_received for line in self.lines)


class RmaLine(db.Model):
    """Units of one SKU on an RMA: expected (authorised) and received; unexpected when it was never authorised."""

    __tablename__ = "rma_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    rma_id: Mapped[int] = mapped_column(ForeignKey("rmas.id"), index=True)
    order_line_id: Mapped[int | None] = mapped_column(ForeignKey("order_lines.id"), index=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"), index=True)
    reason: Mapped[str] = mapped_column(String(30), default="")
    customer_note: Mapped[str] = mapped_column(String(300), default="")
    qty_expected: Mapped[int] = mapped_column(default=0)
    qty_received: Mapped[int] = mapped_column(default=0)
    unexpected: Mapped[bool] = mapped_column(default=False)

    rma: Mapped[Rma] = relationship(back_populates="lines")
    order_line: Mapped[OrderLine | None] = relationship()
    sku: Mapped[Sku] = relationship()
    units: Mapped[list["RmaUnit"]] = relationship(back_populates="line", order_by="RmaUnit.id", cascade="all, delete-orphan")

    @property
    def variance(self) -> int:
        return self.qty_received - self.qty_expected


class RmaUnit(db.Model):
    """One received unit: its grade, defect, disposition and where it went."""

    __tablename__ = "rma_units"

    id: Mapped[int] = mapped_column(primary_key=True)
    rma_line_id: Mapped[int] = mapped_column(ForeignKey("rma_lines.id"), index=True)
    grade: Mapped[str] = mapped_column(String(1), default="")
    defect: Mapped[str] = mapped_column(String(300), default="")
    disposition: Mapped[str] = mapped_column(String(20), default="", index=True)
    location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    inspected_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    inspected_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    line: Mapped[RmaLine] = relationship(back_populates="units")
    location: Mapped[Location | None] = relationship()
    inspected_by: Mapped[User | None] = relationship()


class RmaStep(db.Model):
    """One step of an RMA's timeline: a state change or an action, who did it, when and why."""

    __tablename__ = "rma_steps"

    id: Mapped[int] = mapped_column(primary_key=True)
    rma_id: Mapped[int] = mapped_column(ForeignKey("rmas.id"), index=True)
    action: Mapped[str] = mapped_column(String(40))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str | None] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(String(500), default="")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    rma: Mapped[Rma] = relationship(back_populates="steps")
    user: Mapped[User | None] = relationship()


class Refund(db.Model):
    """Money back for an RMA: requested, approved when over the threshold, issued as a credit note, then paid."""

    __tablename__ = "refunds"
    __table_args__ = (Index("ix_refunds_status", "status", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(30), unique=True)
    rma_id: Mapped[int] = mapped_column(ForeignKey("rmas.id"), index=True)
    status: Mapped[str] = mapped_column(String(20))  # pending_approval, approved, rejected, issued, paid
    currency: Mapped[str] = mapped_column(String(3))
    goods: Mapped[Decimal] = mapped_column(Money(2), default=Decimal("0"))
    shipping: Mapped[Decimal] = mapped_column(Money(2), default=Decimal("0"))
    restocking_fee: Mapped[Decimal] = mapped_column(Money(2), default=Decimal("0"))
    total: Mapped[Decimal] = mapped_column(Money(2), default=Decimal("0"))
    policy_fee: Mapped[Decimal] = mapped_column(Money(2), default=Decimal("0"))
    override_reason: Mapped[str] = mapped_column(String(300), default="")
    paid_by_channel: Mapped[bool] = mapped_column(default=False)
    approval_request_id: Mapped[int | None] = mapped_column(ForeignKey("approval_requests.id"))
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decision_note: Mapped[str] = mapped_column(String(500), default="")
    payment_reference: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    rma: Mapped[Rma] = relationship(back_populates="refunds")
    lines: Mapped[list["RefundLine"]] = relationship(back_populates="refund", order_by="RefundLine.id",
                                                     cascade="all, delete-orphan")
    requested_by: Mapped[User | None] = relationship(foreign_keys=[requested_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])


class RefundLine(db.Model):
    __tablename__ = "refund_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    refund_id: Mapped[int] = mapped_column(ForeignKey("refunds.id"), index=True)
    rma_line_id: Mapped[int] = mapped_column(ForeignKey("rma_lines.id"))
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id"))
    qty: Mapped[int] = mapped_column()
    amount: Mapped[Decimal] = mapped_column(Money(2))  # tax included
    paid_amount: Mapped[Decimal] = mapped_column(Money(2))  # what the customer paid for these units

    refund: Mapped[Refund] = relationship(back_populates="lines")
    rma_line: Mapped[RmaLine] = relationship()


class RefurbishTask(db.Model):
    """Units held in quarantine until they are refurbished (back to a bin) or found beyond repair (scrapped)."""

    __tablename__ = "refurbish_tasks"

    id: Mapped[int] = mapped_column(primary_key=True)
    rma_unit_id: Mapped[int] = mapped_column(ForeignKey("rma_units.id"), unique=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"), index=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"), index=True)
    status: Mapped[str] = mapped_column(String(12), default="open", index=True)  # open, done, scrapped
    work: Mapped[str] = mapped_column(String(300), default="")
    outcome_note: Mapped[str] = mapped_column(String(300), default="")
    location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    completed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    unit: Mapped[RmaUnit] = relationship()
    sku: Mapped[Sku] = relationship()
    warehouse: Mapped[Warehouse] = relationship()
    location: Mapped[Location | None] = relationship()


class VendorClaim(db.Model):
    """A claim against a supplier for faulty units: opened at inspection, sent back with the supplier's reference,
    settled with what the supplier credited."""

    __tablename__ = "vendor_claims"
    __table_args__ = (Index("ix_vendor_claims_status_supplier", "status", "supplier_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(30), unique=True)
    rma_id: Mapped[int] = mapped_column(ForeignKey("rmas.id"), index=True)
    rma_unit_id: Mapped[int] = mapped_column(ForeignKey("rma_units.id"), unique=True)
    supplier_id: Mapped[int] = mapped_column(ForeignKey("suppliers.id"), index=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"))
    po_number: Mapped[str] = mapped_column(String(20), default="")
    qty: Mapped[int] = mapped_column(default=1)
    unit_cost: Mapped[Decimal] = mapped_column(Money(4))
    defect: Mapped[str] = mapped_column(String(300), default="")
    status: Mapped[str] = mapped_column(String(12), default="open")  # open, sent, settled
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    reference: Mapped[str] = mapped_column(String(60), default="", index=True)  # the supplier's RMA or claim number
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    credited: Mapped[Decimal | None] = mapped_column(Money(2))
    note: Mapped[str] = mapped_column(String(500), default="")
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    settled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("journal_entries.id"))

    rma: Mapped[Rma] = relationship()
    unit: Mapped[RmaUnit] = relationship()
    supplier: Mapped[Supplier] = relationship()
    sku: Mapped[Sku] = relationship()
    sent_by: Mapped[User | None] = relationship(foreign_keys=[sent_by_id])
    settled_by: Mapped[User | None] = relationship(foreign_keys=[settled_by_id])

    @property
    def claimed(self) -> Decimal:
        """What the claim asks the supplier for: units at their cost, to the cent."""
        return (self.unit_cost * self.qty).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
