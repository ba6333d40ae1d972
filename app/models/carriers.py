"""Carriers, their services, the zones a warehouse ships to, and the rate cards that price a parcel."""
from __future__ import annotations

from datetime import time
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, String, Time, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.catalog import Warehouse
from app.models.types import Money


class Carrier(db.Model):
    """A parcel carrier; `api_kind` names the gateway that quotes and labels for it ("table": our rate tables)."""

    __tablename__ = "carriers"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(80))
    active: Mapped[bool] = mapped_column(default=True)
    api_kind: Mapped[str] = mapped_column(String(20), default="table")
    tracking_prefix: Mapped[str] = mapped_column(String(6), default="")
    last_tracking_serial: Mapped[int] = mapped_column(default=0)

    services: Mapped[list["CarrierService"]] = relationship(back_populates="carrier", order_by="CarrierService.code")


class CarrierService(db.Model):
    """One service of a carrier (next day, 48 hour, ...), with its usual transit time and collection cut-off."""

    __tablename__ = "carrier_services"
    __table_args__ = (UniqueConstraint("carrier_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    carrier_id: Mapped[int] = mapped_column(ForeignKey("carriers.id"), index=True)
    code: Mapped[str] = mapped_column(String(30))
    name: Mapped[str] = mapped_column(String(80))
    transit_days: Mapped[int] = mapped_column(default=1)
    cutoff: Mapped[time] = mapped_column(Time, default=time(17, 0))
    active: Mapped[bool] = mapped_column(default=True)

    carrier: Mapped[Carrier] = relationship(back_populates="services")
    rates: Mapped[list["RateCard"]] = relationship(back_populates="service", order_by="RateCard.max_weight_kg")

    @property
    def label(self) -> str:
        return f"{self.carrier.name} {self.name}"


class ShippingZone(db.Model):
    """Which zone a destination is from one warehouse: a country and a postcode area prefix ("" for the rest)."""

    __tablename__ = "shipping_zones"
    __table_args__ = (UniqueConstraint("warehouse_id", "country", "postcode_prefix"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"), index=True)
    country: Mapped[str] = mapped_column(String(2))
    postcode_prefix: Mapped[str] = mapped_column(String(10), default="")
    zone: Mapped[str] = mapped_column(String(10))

    warehouse: Mapped[Warehouse] = relationship()


class RateCard(db.Model):
    """The price of one parcel of a service to a zone, up to a weight break."""

    __tablename__ = "rate_cards"
    __table_args__ = (UniqueConstraint("service_id", "zone", "max_weight_kg"),
                      Index("ix_rate_cards_zone", "zone"))

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("carrier_services.id"), index=True)
    zone: Mapped[str] = mapped_column(String(10))
    max_weight_kg: Mapped[Decimal] = mapped_column(Money(3))
    price: Mapped[Decimal] = mapped_column(Money(2))

    service: Mapped[CarrierService] = relationship(back_populates="rates")
