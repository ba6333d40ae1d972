"""The books: chart of accounts, a double-entry journal, monthly periods, FIFO cost layers,
customer invoices and credit notes, payments, supplier invoices and gap-free document counters."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.catalog import Channel, Sku, Supplier, Warehouse
from app.models.orders import Order, OrderLine, Shipment
from app.models.types import Money, UTCDateTime, utcnow

ZERO = Decimal("0")


class Account(db.Model):
    """One account of the chart: its code, name and type (asset, liability, equity, revenue, expense)."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(10), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    type: Mapped[str] = mapped_column(String(10))
    description: Mapped[str] = mapped_column(String(300), default="")

    @property
    def debit_normal(self) -> bool:
        return self.type in ("asset", "expense")


class FiscalPeriod(db.Model):
    """A calendar month of the books, open until someone in finance closes it."""

    __tablename__ = "fiscal_periods"

    period: Mapped[str] = mapped_column(String(7), primary_key=True)  # YYYY-MM
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str] = mapped_column(String(300), default="")

    @property
    def is_closed(self) -> bool:
        return self.closed_at is not None


class JournalEntry(db.Model):
    """One balanced posting, never changed after it is written; corrections are reversing entries."""

    __tablename__ = "journal_entries"
    __table_args__ = (Index("ix_journal_entries_source", "source_type", "source_id"),
                      Index("ix_journal_entries_date", "entry_date", "id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_date: Mapped[date] = mapped_column(Date)
    period: Mapped[str] = mapped_column(String(7), index=True)
    kind: Mapped[str] = mapped_column(String(30), index=True)
    memo: Mapped[str] = mapped_column(String(300), default="")
    source_type: Mapped[str] = mapped_column(String(30))
    source_id: Mapped[str] = mapped_column(String(40))
    move_id: Mapped[int | None] = mapped_column(index=True)  # the stock move that caused it, for stock valuation entries
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("journal_entries.id"), unique=True)
    reversal_reason: Mapped[str] = mapped_column(String(300), default="")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    posted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    lines: Mapped[list["JournalLine"]] = relationship(back_populates="entry", order_by="JournalLine.id",
                                                      cascade="all")
    reverses: Mapped["JournalEntry | None"] = relationship(remote_side=[id], foreign_keys=[reverses_id])

    @property
    def total(self) -> Decimal:
        return sum((line.debit for line in self.lines), ZERO)


class JournalLine(db.Model):
    """A debit or a credit to one account, tagged with the channel, warehouse, SKU and order it concerns."""

    __tablename__ = "journal_lines"
    __table_args__ = (
        CheckConstraint("debit >= 0 AND credit >= 0 AND (debit = 0 OR credit = 0)", name="one_sided"),
        Index("ix_journal_lines_account_entry", "account_id", "entry_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("journal_entries.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    debit: Mapped[Decimal] = mapped_column(Money(2), default=ZERO)
    credit: Mapped[Decimal] = mapped_column(Money(2), default=ZERO)
    memo: Mapped[str] = mapped_column(String(200), default="")
    channel_id: Mapped[int | None] = mapped_column(ForeignKey("channels.id"), index=True)
    warehouse_id: Mapped[int | None] = mapped_column(ForeignKey("warehouses.id"), index=True)
    sku_id: Mapped[int | None] = mapped_column(ForeignKey("skus.id"), index=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)
    qty: Mapped[int | None] = mapped_column()

    entry: Mapped[JournalEntry] = relationship(back_populates="lines")
    account: Mapped[Account] = relationship()
    channel: Mapped[Channel | None] = relationship()
    warehouse: Mapped[Warehouse | None] = relationship()
    sku: Mapped[Sku | None] = relationship()
    order: Mapped[Order | None] = relationship()


class DocumentCounter(db.Model):
    """The last number issued in one gap-free series (invoices, credit notes)."""

    __tablename__ = "document_counters"

    name: Mapped[str] = mapped_column(String(30), primary_key=True)
    last_value: Mapped[int] = mapped_column(default=0)


class CostLayer(db.Model):
    """Units of one SKU that came in together at one cost, in one warehouse (none: between warehouses).

    FIFO takes units from the oldest layer first. The layer keeps its remaining value in cents, so
    taking the last unit takes exactly what is left and the inventory account never drifts.
    """

    __tablename__ = "cost_layers"
    __table_args__ = (
        CheckConstraint("qty_remaining >= 0 AND qty_remaining <= qty_in", name="remaining_within_received"),
        CheckConstraint("value_remaining >= 0", name="value_never_negative"),
        Index("ix_cost_layers_fifo", "sku_id", "warehouse_id", "received_at", "id"),
        Index("ix_cost_layers_source", "source_type", "source_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"))
    warehouse_id: Mapped[int | None] = mapped_column(ForeignKey("warehouses.id"), index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    qty_in: Mapped[int] = mapped_column()
    qty_remaining: Mapped[int] = mapped_column()
    unit_cost: Mapped[Decimal] = mapped_column(Money(4))
    value_in: Mapped[Decimal] = mapped_column(Money(2))
    value_remaining: Mapped[Decimal] = mapped_column(Money(2))
    source_type: Mapped[str] = mapped_column(String(30))
    source_id: Mapped[str] = mapped_column(String(40))
    move_id: Mapped[int | None] = mapped_column(index=True)  # the stock move that brought the units in
    origin_layer_id: Mapped[int | None] = mapped_column()  # the layer these units left, when moved between warehouses
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    sku: Mapped[Sku] = relationship()
    warehouse: Mapped[Warehouse | None] = relationship()


class CostConsumption(db.Model):
    """Units taken from a cost layer by one stock move, and the value they carried out."""

    __tablename__ = "cost_consumptions"
    __table_args__ = (Index("ix_cost_consumptions_cause", "cause_type", "cause_id", "sku_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    layer_id: Mapped[int] = mapped_column(ForeignKey("cost_layers.id"), index=True)
    move_id: Mapped[int | None] = mapped_column(index=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"))
    warehouse_id: Mapped[int | None] = mapped_column(ForeignKey("warehouses.id"))
    qty: Mapped[int] = mapped_column()
    value: Mapped[Decimal] = mapped_column(Money(2))
    kind: Mapped[str] = mapped_column(String(20))  # shipment, adjustment, write_off, supplier_return, transfer
    cause_type: Mapped[str] = mapped_column(String(30))
    cause_id: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    layer: Mapped[CostLayer] = relationship()


class Invoice(db.Model):
    """The customer invoice for one shipment: what left the warehouse, at the order's prices."""

    __tablename__ = "invoices"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    sequence: Mapped[int] = mapped_column(unique=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    shipment_id: Mapped[int | None] = mapped_column(ForeignKey("shipments.id"), unique=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"), index=True)
    warehouse_id: Mapped[int | None] = mapped_column(ForeignKey("warehouses.id"))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    issue_date: Mapped[date] = mapped_column(Date, index=True)
    currency: Mapped[str] = mapped_column(String(3))
    goods_net: Mapped[Decimal] = mapped_column(Money(2), default=ZERO)
    shipping_net: Mapped[Decimal] = mapped_column(Money(2), default=ZERO)
    fees: Mapped[Decimal] = mapped_column(Money(2), default=ZERO)
    tax: Mapped[Decimal] = mapped_column(Money(2), default=ZERO)
    total: Mapped[Decimal] = mapped_column(Money(2), default=ZERO)
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("journal_entries.id"))

    entry: Mapped[JournalEntry | None] = relationship()
    order: Mapped[Order] = relationship()
    shipment: Mapped[Shipment | None] = relationship()
    channel: Mapped[Channel] = relationship()
    warehouse: Mapped[Warehouse | None] = relationship()
    lines: Mapped[list["InvoiceLine"]] = relationship(back_populates="invoice", order_by="InvoiceLine.id",
                                                      cascade="all, delete-orphan")


class InvoiceLine(db.Model):
    __tablename__ = "invoice_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), index=True)
    kind: Mapped[str] = mapped_column(String(12), default="goods")  # goods, shipping, fees
    order_line_id: Mapped[int | None] = mapped_column(ForeignKey("order_lines.id"), index=True)
    sku_id: Mapped[int | None] = mapped_column(ForeignKey("skus.id"))
    description: Mapped[str] = mapped_column(String(300))
    qty: Mapped[int] = mapped_column(default=0)
    unit_price: Mapped[Decimal | None] = mapped_column(Money(2))
    net: Mapped[Decimal] = mapped_column(Money(2))
    tax: Mapped[Decimal] = mapped_column(Money(2), default=ZERO)
    total: Mapped[Decimal] = mapped_column(Money(2))

    invoice: Mapped[Invoice] = relationship(back_populates="lines")
    order_line: Mapped[OrderLine | None] = relationship()
    sku: Mapped[Sku | None] = relationship()


class CreditNote(db.Model):
    """Money given back to a customer against an order: refunded goods and shipping, less any restocking fee."""

    __tablename__ = "credit_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    sequence: Mapped[int] = mapped_column(unique=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"))
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"), index=True)
    reference: Mapped[str] = mapped_column(String(60), unique=True)  # the RMA or channel refund: asked twice, issued once
    reason: Mapped[str] = mapped_column(String(300), default="")
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    issue_date: Mapped[date] = mapped_column(Date, index=True)
    currency: Mapped[str] = mapped_column(String(3))
    goods_net: Mapped[Decimal] = mapped_column(Money(2), default=ZERO)
    shipping_net: Mapped[Decimal] = mapped_column(Money(2), default=ZERO)
    tax: Mapped[Decimal] = mapped_column(Money(2), default=ZERO)
    restocking_fee: Mapped[Decimal] = mapped_column(Money(2), default=ZERO)
    total: Mapped[Decimal] = mapped_column(Money(2), default=ZERO)  # owed back: goods and shipping with tax, less the fee
    applied_to_receivable: Mapped[Decimal] = mapped_column(Money(2), default=ZERO)
    refund_due: Mapped[Decimal] = mapped_column(Money(2), default=ZERO)  # to be paid out to the customer
    refunded_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    refund_reference: Mapped[str] = mapped_column(String(100), default="")
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("journal_entries.id"))
    refund_entry_id: Mapped[int | None] = mapped_column(ForeignKey("journal_entries.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    entry: Mapped[JournalEntry | None] = relationship(foreign_keys=[entry_id])
    refund_entry: Mapped[JournalEntry | None] = relationship(foreign_keys=[refund_entry_id])
    order: Mapped[Order] = relationship()
    invoice: Mapped[Invoice | None] = relationship()
    channel: Mapped[Channel] = relationship()
    lines: Mapped[list["CreditNoteLine"]] = relationship(back_populates="credit_note", order_by="CreditNoteLine.id",
                                                         cascade="all, delete-orphan")

    @property
    def refund_pending(self) -> bool:
        return self.refund_due > 0 and self.refunded_at is None


class CreditNoteLine(db.Model):
    __tablename__ = "credit_note_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    credit_note_id: Mapped[int] = mapped_column(ForeignKey("credit_notes.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="goods")  # goods, shipping, restocking_fee
    order_line_id: Mapped[int | None] = mapped_column(ForeignKey("order_lines.id"), index=True)
    sku_id: Mapped[int | None] = mapped_column(ForeignKey("skus.id"))
    description: Mapped[str] = mapped_column(String(300))
    qty: Mapped[int] = mapped_column(default=0)
    net: Mapped[Decimal] = mapped_column(Money(2))
    tax: Mapped[Decimal] = mapped_column(Money(2), default=ZERO)
    total: Mapped[Decimal] = mapped_column(Money(2))

    credit_note: Mapped[CreditNote] = relationship(back_populates="lines")
    order_line: Mapped[OrderLine | None] = relationship()
    sku: Mapped[Sku | None] = relationship()


class Payment(db.Model):
    """Money received from a customer against an order's invoices."""

    __tablename__ = "payments"
    __table_args__ = (UniqueConstraint("order_id", "reference"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(Money(2))
    reference: Mapped[str] = mapped_column(String(100))
    method: Mapped[str] = mapped_column(String(20), default="bank_transfer")  # channel, card, bank_transfer
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    received_date: Mapped[date] = mapped_column(Date)
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("journal_entries.id"))
    reversed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    entry: Mapped[JournalEntry | None] = relationship()
    order: Mapped[Order] = relationship()


class SupplierInvoice(db.Model):
    """A supplier's bill for goods received: clears goods received not invoiced, owes the supplier."""

    __tablename__ = "supplier_invoices"
    __table_args__ = (UniqueConstraint("supplier_id", "reference"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    supplier_id: Mapped[int] = mapped_column(ForeignKey("suppliers.id"), index=True)
    po_id: Mapped[int | None] = mapped_column(index=True)
    # the receiving document (a stock move's cause: purchase order or receipt) whose goods this bill clears
    receipt_type: Mapped[str] = mapped_column(String(30))
    receipt_ref: Mapped[str] = mapped_column(String(40), index=True)
    reference: Mapped[str] = mapped_column(String(60))  # the supplier's invoice number
    invoice_date: Mapped[date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(Money(2))  # goods, before tax
    tax: Mapped[Decimal] = mapped_column(Money(2), default=ZERO)
    total: Mapped[Decimal] = mapped_column(Money(2))
    grni_cleared: Mapped[Decimal] = mapped_column(Money(2))
    variance: Mapped[Decimal] = mapped_column(Money(2), default=ZERO)
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("journal_entries.id"))
    reversed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    entry: Mapped[JournalEntry | None] = relationship()
    supplier: Mapped[Supplier] = relationship()
