"""What the retailer sells, where it keeps it, who supplies it and where it sells it."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Column, ForeignKey, Integer, String, Table, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.types import Money, UTCDateTime, utcnow


class Sku(db.Model):
    __tablename__ = "skus"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    category: Mapped[str] = mapped_column(String(60), default="", index=True)
    gtin: Mapped[str | None] = mapped_column(String(14), unique=True)
    length_cm: Mapped[Decimal] = mapped_column(Money(1))
    width_cm: Mapped[Decimal] = mapped_column(Money(1))
    height_cm: Mapped[Decimal] = mapped_column(Money(1))
    weight_kg: Mapped[Decimal] = mapped_column(Money(3))
    unit_cost: Mapped[Decimal] = mapped_column(Money(4))
    price: Mapped[Decimal] = mapped_column(Money(2))
    active: Mapped[bool] = mapped_column(default=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    def __repr__(self) -> str:
        return f"<Sku {self.code}>"


channel_warehouses = Table(
    "channel_warehouses",
    db.metadata,
    Column("channel_id", Integer, ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True),
    Column("warehouse_id", Integer, ForeignKey("warehouses.id", ondelete="CASCADE"), primary_key=True),
    Column("rank", Integer, nullable=False, default=1),
)


class Warehouse(db.Model):
    __tablename__ = "warehouses"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(10), default="own")  # own or 3pl
    address1: Mapped[str] = mapped_column(String(200), default="")
    city: Mapped[str] = mapped_column(String(100), default="")
    postcode: Mapped[str] = mapped_column(String(20), default="")
    country: Mapped[str] = mapped_column(String(2), default="GB")
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/London")
    carrier_cutoffs: Mapped[str] = mapped_column(String(200), default="")  # "DPD 17:00, Royal Mail 16:30"
    pickers_per_shift: Mapped[int] = mapped_column(default=4)
    units_per_picker_hour: Mapped[int] = mapped_column(default=60)
    shift_hours: Mapped[int] = mapped_column(default=8)
    handling_cost_per_unit: Mapped[Decimal] = mapped_column(Money(2), default=Decimal("0.40"))
    aisles: Mapped[int] = mapped_column(default=0)
    aisle_length_m: Mapped[Decimal] = mapped_column(Money(1), default=Decimal("30"))
    aisle_spacing_m: Mapped[Decimal] = mapped_column(Money(1), default=Decimal("3"))
    cross_aisles: Mapped[int] = mapped_column(default=2)
    active: Mapped[bool] = mapped_column(default=True)

    locations: Mapped[list["Location"]] = relationship(back_populates="warehouse", order_by="Location.code")

    def __repr__(self) -> str:
        return f"<Warehouse {self.code}>"


class Location(db.Model):
    """A bin in a warehouse (aisle, position, level), or a virtual location for the outside world."""

    __tablename__ = "locations"
    __table_args__ = (UniqueConstraint("warehouse_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    warehouse_id: Mapped[int | None] = mapped_column(ForeignKey("warehouses.id"), index=True)
    code: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(12), default="bin")  # bin, staging, dock, virtual
    outside: Mapped[str | None] = mapped_column(String(20), unique=True)  # Outside kind for virtual ones
    aisle: Mapped[int | None] = mapped_column()
    position_m: Mapped[Decimal | None] = mapped_column(Money(1))
    level: Mapped[int | None] = mapped_column()
    active: Mapped[bool] = mapped_column(default=True)

    warehouse: Mapped[Warehouse | None] = relationship(back_populates="locations")

    @property
    def is_virtual(self) -> bool:
        return self.kind == "virtual"

    def __repr__(self) -> str:
        return f"<Location {self.code}>"


class Supplier(db.Model):
    __tablename__ = "suppliers"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    country: Mapped[str] = mapped_column(String(2), default="GB")
    currency: Mapped[str] = mapped_column(String(3), default="GBP")
    lead_time_days: Mapped[int] = mapped_column(default=14)
    active: Mapped[bool] = mapped_column(default=True)


class Channel(db.Model):
    __tablename__ = "channels"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(30), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    type: Mapped[str] = mapped_column(String(20))  # web, shopify, woocommerce, marketplace, wholesale, store
    currency: Mapped[str] = mapped_column(String(3), default="GBP")
    safety_buffer: Mapped[int] = mapped_column(default=0)
    webhook_secret: Mapped[str] = mapped_column(String(200), default="")
    ship_complete: Mapped[bool] = mapped_column(default=False)
    sla_days: Mapped[int] = mapped_column(default=2)
    active: Mapped[bool] = mapped_column(default=True)

    warehouses: Mapped[list[Warehouse]] = relationship(secondary=channel_warehouses, order_by=channel_warehouses.c.rank)
