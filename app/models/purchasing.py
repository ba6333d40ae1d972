"""Buying stock: supplier terms and catalogues, purchase orders, shipment notices, receipts,
replenishment runs with their forecasts and suggestions, and planned promotions."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, Date, Float, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.catalog import Sku, Supplier, Warehouse
from app.models.people import User
from app.models.types import Money, UTCDateTime, utcnow


class SupplierTerms(db.Model):
    """How a supplier trades with the retailer: payment terms, delivery terms, notes."""

    __tablename__ = "supplier_terms"

    supplier_id: Mapped[int] = mapped_column(ForeignKey("suppliers.id"), primary_key=True)
    payment_days: Mapped[int] = mapped_column(default=30)
    incoterm: Mapped[str] = mapped_column(String(3), default="DAP")
    notes: Mapped[str] = mapped_column(String(500), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    supplier: Mapped[Supplier] = relationship()

    @property
    def summary(self) -> str:
        return f"Payment {self.payment_days} days net · {self.incoterm} (Incoterms 2020)"


class SupplierContact(db.Model):
    __tablename__ = "supplier_contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    supplier_id: Mapped[int] = mapped_column(ForeignKey("suppliers.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    title: Mapped[str] = mapped_column(String(120), default="")
    email: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    primary: Mapped[bool] = mapped_column(default=False)


class SupplierSku(db.Model):
    """A SKU in a supplier's catalogue: their code, the agreed cost in their currency, packs, minimum, lead time."""

    __tablename__ = "supplier_skus"
    __table_args__ = (UniqueConstraint("supplier_id", "sku_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    supplier_id: Mapped[int] = mapped_column(ForeignKey("suppliers.id"), index=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"), index=True)
    supplier_code: Mapped[str] = mapped_column(String(64), default="")
    unit_cost: Mapped[Decimal] = mapped_column(Money(4))
    pack_size: Mapped[int] = mapped_column(default=1)
    moq: Mapped[int] = mapped_column(default=0)
    lead_time_days: Mapped[int | None] = mapped_column()  # the supplier's own when empty
    preferred: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    supplier: Mapped[Supplier] = relationship()
    sku: Mapped[Sku] = relationship()

    @property
    def lead_days(self) -> int:
        return self.lead_time_days if self.lead_time_days is not None else self.supplier.lead_time_days


class PurchaseOrder(db.Model):
    __tablename__ = "purchase_orders"
    __table_args__ = (Index("ix_purchase_orders_status_supplier", "status", "supplier_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    supplier_id: Mapped[int] = mapped_column(ForeignKey("suppliers.id"), index=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    exchange_rate: Mapped[Decimal] = mapped_column(Money(6), default=Decimal(1))  # home currency per unit of `currency`
    expected_date: Mapped[date | None] = mapped_column(Date)  # latest word on arrival: sending, confirmation, notice
    promised_date: Mapped[date | None] = mapped_column(Date)  # what the supplier committed to; on-time is judged by it
    supplier_reference: Mapped[str] = mapped_column(String(60), default="")
    terms: Mapped[str] = mapped_column(String(200), default="")
    note: Mapped[str] = mapped_column(String(1000), default="")
    source: Mapped[str] = mapped_column(String(20), default="manual")  # manual, suggestion, promotion, api, demo
    approval_request_id: Mapped[int | None] = mapped_column(ForeignKey("approval_requests.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancel_reason: Mapped[str] = mapped_column(String(300), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    supplier: Mapped[Supplier] = relationship()
    warehouse: Mapped[Warehouse] = relationship()
    created_by: Mapped[User | None] = relationship()
    lines: Mapped[list["PurchaseOrderLine"]] = relationship(back_populates="po", order_by="PurchaseOrderLine.line_no",
                                                            cascade="all, delete-orphan")
    shipments: Mapped[list["SupplierShipment"]] = relationship(back_populates="po", order_by="SupplierShipment.id")
    receipts: Mapped[list["Receipt"]] = relationship(back_populates="po", order_by="Receipt.id")

    @property
    def total(self) -> Decimal:
        """The order's value in its own currency, to the cent."""
        return sum((line.value for line in self.lines), Decimal("0")).quantize(Decimal("0.01"))

    @property
    def units(self) -> int:
        return sum(line.qty_ordered for line in self.lines)


class PurchaseOrderLine(db.Model):
    __tablename__ = "purchase_order_lines"
    __table_args__ = (UniqueConstraint("po_id", "sku_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    po_id: Mapped[int] = mapped_column(ForeignKey("purchase_orders.id"), index=True)
    line_no: Mapped[int] = mapped_column()
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"), index=True)
    supplier_code: Mapped[str] = mapped_column(String(64), default="")
    qty_ordered: Mapped[int] = mapped_column()
    unit_cost: Mapped[Decimal] = mapped_column(Money(4))
    agreed_unit_cost: Mapped[Decimal | None] = mapped_column(Money(4))  # the supplier SKU's cost when drafted
    pack_size: Mapped[int] = mapped_column(default=1)
    qty_in_transit: Mapped[int] = mapped_column(default=0)  # notified by the supplier, not yet received
    qty_received: Mapped[int] = mapped_column(default=0)
    qty_quarantined: Mapped[int] = mapped_column(default=0)  # of qty_received
    qty_put_away: Mapped[int] = mapped_column(default=0)
    qty_cancelled: Mapped[int] = mapped_column(default=0)  # given up when the order closed short
    reason: Mapped[str] = mapped_column(String(500), default="")

    po: Mapped[PurchaseOrder] = relationship(back_populates="lines")
    sku: Mapped[Sku] = relationship()

    @property
    def value(self) -> Decimal:
        return self.qty_ordered * self.unit_cost

    @property
    def qty_open(self) -> int:
        """Units still expected from the supplier, in transit or not."""
        return max(0, self.qty_ordered - self.qty_received - self.qty_cancelled)

    @property
    def qty_to_put_away(self) -> int:
        return max(0, self.qty_received - self.qty_quarantined - self.qty_put_away)


class SupplierShipment(db.Model):
    """A supplier's advance shipment notice (ASN): units on their way, with the date they should arrive."""

    __tablename__ = "supplier_shipments"

    id: Mapped[int] = mapped_column(primary_key=True)
    po_id: Mapped[int] = mapped_column(ForeignKey("purchase_orders.id"), index=True)
    reference: Mapped[str] = mapped_column(String(60), default="")
    status: Mapped[str] = mapped_column(String(12), default="in_transit")  # in_transit, received
    carrier: Mapped[str] = mapped_column(String(60), default="")
    tracking: Mapped[str] = mapped_column(String(80), default="")
    expected_date: Mapped[date] = mapped_column(Date)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    po: Mapped[PurchaseOrder] = relationship(back_populates="shipments")
    lines: Mapped[list["SupplierShipmentLine"]] = relationship(back_populates="shipment", cascade="all, delete-orphan",
                                                               order_by="SupplierShipmentLine.id")


class SupplierShipmentLine(db.Model):
    __tablename__ = "supplier_shipment_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("supplier_shipments.id"), index=True)
    po_line_id: Mapped[int] = mapped_column(ForeignKey("purchase_order_lines.id"), index=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"))
    qty: Mapped[int] = mapped_column()
    qty_received: Mapped[int] = mapped_column(default=0)

    shipment: Mapped[SupplierShipment] = relationship(back_populates="lines")
    po_line: Mapped[PurchaseOrderLine] = relationship()

    @property
    def qty_waiting(self) -> int:
        return max(0, self.qty - self.qty_received)


class Receipt(db.Model):
    """Goods received against a purchase order: a delivery counted in at the dock."""

    __tablename__ = "receipts"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    po_id: Mapped[int] = mapped_column(ForeignKey("purchase_orders.id"), index=True)
    shipment_id: Mapped[int | None] = mapped_column(ForeignKey("supplier_shipments.id"))
    received_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    note: Mapped[str] = mapped_column(String(500), default="")

    po: Mapped[PurchaseOrder] = relationship(back_populates="receipts")
    received_by: Mapped[User | None] = relationship()
    lines: Mapped[list["ReceiptLine"]] = relationship(back_populates="receipt", cascade="all, delete-orphan",
                                                      order_by="ReceiptLine.id")


class ReceiptLine(db.Model):
    __tablename__ = "receipt_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    receipt_id: Mapped[int] = mapped_column(ForeignKey("receipts.id"), index=True)
    po_line_id: Mapped[int] = mapped_column(ForeignKey("purchase_order_lines.id"), index=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"))
    qty: Mapped[int] = mapped_column()
    quarantined: Mapped[bool] = mapped_column(default=False)
    from_in_transit: Mapped[int] = mapped_column(default=0)
    unit_cost: Mapped[Decimal] = mapped_column(Money(4))

    receipt: Mapped[Receipt] = relationship(back_populates="lines")
    po_line: Mapped[PurchaseOrderLine] = relationship()
    sku: Mapped[Sku] = relationship()


class ReplenishmentRun(db.Model):
    """One forecast-and-suggest pass over the catalogue: when, how long, how many series, how accurate."""

    __tablename__ = "replenishment_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    trigger: Mapped[str] = mapped_column(String(20), default="manual")  # nightly, manual, cli, demo
    status: Mapped[str] = mapped_column(String(12), default="running")  # running, done, failed
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    seconds: Mapped[float | None] = mapped_column(Float)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    service_level: Mapped[float] = mapped_column(Float)
    horizon_days: Mapped[int] = mapped_column()
    history_days: Mapped[int] = mapped_column(default=0)
    skus: Mapped[int] = mapped_column(default=0)
    series: Mapped[int] = mapped_column(default=0)
    suggestions: Mapped[int] = mapped_column(default=0)
    mean_mase: Mapped[float | None] = mapped_column(Float)
    weighted_mape: Mapped[float | None] = mapped_column(Float)
    methods: Mapped[dict] = mapped_column(JSON, default=dict)  # method -> series that chose it
    error: Mapped[str] = mapped_column(String(1000), default="")


class ReplenishmentLine(db.Model):
    """One SKU in one warehouse in a run: its forecast, reorder figures, position and what to buy, with why."""

    __tablename__ = "replenishment_lines"
    __table_args__ = (Index("ix_replenishment_lines_run_qty", "run_id", "qty"),
                      Index("ix_replenishment_lines_run_sku", "run_id", "sku_id", "warehouse_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("replenishment_runs.id", ondelete="CASCADE"))
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"))
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    supplier_id: Mapped[int | None] = mapped_column(ForeignKey("suppliers.id"))
    method: Mapped[str] = mapped_column(String(20))
    demand_class: Mapped[str] = mapped_column(String(14))
    history_days: Mapped[int] = mapped_column(default=0)
    history_units: Mapped[int] = mapped_column(default=0)
    mean_daily: Mapped[float] = mapped_column(Float)
    std_daily: Mapped[float] = mapped_column(Float)
    mase: Mapped[float | None] = mapped_column(Float)
    mape: Mapped[float | None] = mapped_column(Float)
    daily: Mapped[list] = mapped_column(JSON, default=list)  # forecast units per day from the run's date
    lead_time_days: Mapped[float] = mapped_column(Float)
    lead_time_std: Mapped[float] = mapped_column(Float)
    lead_time_source: Mapped[str] = mapped_column(String(12))  # receipts, supplier
    safety_stock: Mapped[float] = mapped_column(Float)
    reorder_point: Mapped[float] = mapped_column(Float)
    order_up_to: Mapped[float] = mapped_column(Float)
    available: Mapped[int] = mapped_column(default=0)
    on_order: Mapped[int] = mapped_column(default=0)
    in_transit: Mapped[int] = mapped_column(default=0)
    backorders: Mapped[int] = mapped_column(default=0)
    position: Mapped[float] = mapped_column(Float)
    qty: Mapped[int] = mapped_column(default=0)
    pack_size: Mapped[int] = mapped_column(default=1)
    moq: Mapped[int] = mapped_column(default=0)
    unit_cost: Mapped[Decimal | None] = mapped_column(Money(4))
    value: Mapped[Decimal | None] = mapped_column(Money(2))
    currency: Mapped[str] = mapped_column(String(3), default="")
    reason: Mapped[str] = mapped_column(String(500), default="")
    stockout_date: Mapped[date | None] = mapped_column(Date)
    order_by: Mapped[date | None] = mapped_column(Date)
    arrival_date: Mapped[date | None] = mapped_column(Date)
    po_id: Mapped[int | None] = mapped_column(ForeignKey("purchase_orders.id"))

    run: Mapped[ReplenishmentRun] = relationship()
    sku: Mapped[Sku] = relationship()
    warehouse: Mapped[Warehouse] = relationship()
    supplier: Mapped[Supplier | None] = relationship()
    po: Mapped[PurchaseOrder | None] = relationship()


class Promotion(db.Model):
    """A committed promotion: its uplift raises the forecast of its SKUs on its days in every later run."""

    __tablename__ = "promotions"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    uplift_pct: Mapped[Decimal] = mapped_column(Money(1))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)  # inclusive
    warehouse_id: Mapped[int | None] = mapped_column(ForeignKey("warehouses.id"))  # every warehouse when empty
    sku_ids: Mapped[list] = mapped_column(JSON, default=list)
    po_numbers: Mapped[list] = mapped_column(JSON, default=list)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    warehouse: Mapped[Warehouse | None] = relationship()
