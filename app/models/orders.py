"""Orders from every channel, their lines, holds and timeline; shipments and the bins they reserve."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.catalog import Channel, Location, Sku, Warehouse
from app.models.types import Money, UTCDateTime, utcnow


class Order(db.Model):
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("channel_id", "external_id"),
        Index("ix_orders_status_placed", "status", "placed_at"),
        Index("ix_orders_placed_at", "placed_at"),
        Index("ix_orders_external_id", "external_id"),
        Index("ix_orders_channel_number", "channel_number"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(30), unique=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"), index=True)
    external_id: Mapped[str] = mapped_column(String(64))
    channel_number: Mapped[str] = mapped_column(String(40), default="")  # the channel's own name for it, e.g. "#1001"
    status: Mapped[str] = mapped_column(String(24))
    priority: Mapped[int] = mapped_column(default=1)
    rush: Mapped[bool] = mapped_column(default=False)
    sla_days: Mapped[int] = mapped_column(default=2)
    promised_ship_date: Mapped[date] = mapped_column(Date)
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    channel_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    currency: Mapped[str] = mapped_column(String(3))
    customer_name: Mapped[str] = mapped_column(String(200), default="")
    customer_email: Mapped[str] = mapped_column(String(200), default="", index=True)
    ship_name: Mapped[str] = mapped_column(String(200), default="")
    ship_address1: Mapped[str] = mapped_column(String(200), default="")
    ship_address2: Mapped[str] = mapped_column(String(200), default="")
    ship_city: Mapped[str] = mapped_column(String(100), default="")
    ship_region: Mapped[str] = mapped_column(String(100), default="")
    ship_postcode: Mapped[str] = mapped_column(String(20), default="", index=True)
    ship_country: Mapped[str] = mapped_column(String(2), default="")
    ship_phone: Mapped[str] = mapped_column(String(40), default="")
    billing_country: Mapped[str] = mapped_column(String(2), default="")
    payment_captured: Mapped[bool] = mapped_column(default=True)
    prices_include_tax: Mapped[bool] = mapped_column(default=False)
    shipping: Mapped[Decimal] = mapped_column(Money(2), default=Decimal("0"))
    shipping_tax: Mapped[Decimal] = mapped_column(Money(2), default=Decimal("0"))
    order_discount: Mapped[Decimal] = mapped_column(Money(2), default=Decimal("0"))
    fees: Mapped[Decimal] = mapped_column(Money(2), default=Decimal("0"))
    total: Mapped[Decimal] = mapped_column(Money(2), default=Decimal("0"))
    note: Mapped[str] = mapped_column(String(1000), default="")
    cancel_reason: Mapped[str] = mapped_column(String(300), default="")
    source: Mapped[str] = mapped_column(String(20), default="api")  # api, shopify, woocommerce, csv, manual
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    channel: Mapped[Channel] = relationship()
    lines: Mapped[list["OrderLine"]] = relationship(back_populates="order", order_by="OrderLine.line_no",
                                                    cascade="all, delete-orphan")
    shipments: Mapped[list["Shipment"]] = relationship(back_populates="order", order_by="Shipment.id")
    holds: Mapped[list["OrderHold"]] = relationship(back_populates="order", order_by="OrderHold.id")
    transitions: Mapped[list["OrderTransition"]] = relationship(back_populates="order", order_by="OrderTransition.id")

    @property
    def units(self) -> int:
        return sum(line.qty for line in self.lines)

    @property
    def open_holds(self) -> list["OrderHold"]:
        return [h for h in self.holds if h.released_at is None]


class OrderLine(db.Model):
    __tablename__ = "order_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    line_no: Mapped[int] = mapped_column()
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"), index=True)
    title: Mapped[str] = mapped_column(String(300), default="")
    external_line_id: Mapped[str] = mapped_column(String(64), default="")
    qty: Mapped[int] = mapped_column()
    unit_price: Mapped[Decimal] = mapped_column(Money(2))
    discount: Mapped[Decimal] = mapped_column(Money(2), default=Decimal("0"))
    tax: Mapped[Decimal] = mapped_column(Money(2), default=Decimal("0"))
    qty_allocated: Mapped[int] = mapped_column(default=0)  # reserved in open shipments
    qty_shipped: Mapped[int] = mapped_column(default=0)

    order: Mapped[Order] = relationship(back_populates="lines")
    sku: Mapped[Sku] = relationship()

    @property
    def qty_waiting(self) -> int:
        """Units neither reserved nor shipped: the backordered demand of an open order."""
        return max(0, self.qty - self.qty_allocated - self.qty_shipped)

    @property
    def net_amount(self) -> Decimal:
        return self.qty * self.unit_price - self.discount


class OrderHold(db.Model):
    __tablename__ = "order_holds"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    reason: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    released_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    release_note: Mapped[str] = mapped_column(String(300), default="")

    order: Mapped[Order] = relationship(back_populates="holds")


class OrderTransition(db.Model):
    """One step of an order's or shipment's timeline: who moved it, when, from where to where, and why."""

    __tablename__ = "order_transitions"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    shipment_id: Mapped[int | None] = mapped_column(ForeignKey("shipments.id"))
    from_status: Mapped[str | None] = mapped_column(String(24))
    to_status: Mapped[str] = mapped_column(String(24))
    reason: Mapped[str] = mapped_column(String(500), default="")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    order: Mapped[Order] = relationship(back_populates="transitions")


class Shipment(db.Model):
    __tablename__ = "shipments"
    __table_args__ = (Index("ix_shipments_warehouse_status", "warehouse_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    status: Mapped[str] = mapped_column(String(20))
    routing_run_id: Mapped[int | None] = mapped_column()
    wave_id: Mapped[int | None] = mapped_column(index=True)
    carrier: Mapped[str] = mapped_column(String(40), default="")
    service: Mapped[str] = mapped_column(String(60), default="")
    tracking_number: Mapped[str] = mapped_column(String(60), default="")
    sscc: Mapped[str] = mapped_column(String(18), default="")
    weight_kg: Mapped[Decimal | None] = mapped_column(Money(3))
    shipping_cost: Mapped[Decimal | None] = mapped_column(Money(2))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    shipped_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    order: Mapped[Order] = relationship(back_populates="shipments")
    warehouse: Mapped[Warehouse] = relationship()
    lines: Mapped[list["ShipmentLine"]] = relationship(back_populates="shipment", cascade="all, delete-orphan",
                                                       order_by="ShipmentLine.id")

    @property
    def units(self) -> int:
        return sum(line.qty for line in self.lines)


class ShipmentLine(db.Model):
    __tablename__ = "shipment_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id"), index=True)
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id"), index=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"))
    qty: Mapped[int] = mapped_column()
    qty_picked: Mapped[int] = mapped_column(default=0)
    qty_packed: Mapped[int] = mapped_column(default=0)

    shipment: Mapped[Shipment] = relationship(back_populates="lines")
    order_line: Mapped[OrderLine] = relationship()
    sku: Mapped[Sku] = relationship()
    bins: Mapped[list["ShipmentBin"]] = relationship(back_populates="line", cascade="all, delete-orphan")


class ShipmentBin(db.Model):
    """Where a shipment line's units are reserved: the bins a picker will visit."""

    __tablename__ = "shipment_bins"

    id: Mapped[int] = mapped_column(primary_key=True)
    shipment_line_id: Mapped[int] = mapped_column(ForeignKey("shipment_lines.id"), index=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    qty: Mapped[int] = mapped_column()
    qty_picked: Mapped[int] = mapped_column(default=0)

    line: Mapped[ShipmentLine] = relationship(back_populates="bins")
    location: Mapped[Location] = relationship()


class InboundDelivery(db.Model):
    """Every payload a channel or person sent, stored raw before it is parsed, and what became of it."""

    __tablename__ = "inbound_deliveries"
    __table_args__ = (UniqueConstraint("source", "channel_id", "delivery_id"),
                      Index("ix_inbound_deliveries_status", "status", "received_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(20))  # shopify, woocommerce, api, csv, manual
    channel_id: Mapped[int | None] = mapped_column(ForeignKey("channels.id"))
    topic: Mapped[str] = mapped_column(String(60), default="")
    delivery_id: Mapped[str | None] = mapped_column(String(100))
    headers: Mapped[dict] = mapped_column(JSON, default=dict)
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="received")  # received, processed, duplicate, stale, exception, failed
    error_field: Mapped[str] = mapped_column(String(200), default="")
    error: Mapped[str] = mapped_column(String(1000), default="")
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolution: Mapped[str] = mapped_column(String(300), default="")

    channel: Mapped[Channel | None] = relationship()
