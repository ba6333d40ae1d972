"""Warehouse execution: wave and labour plans, pick batches and scans, short picks, packing, labels, counts."""
from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal

from sqlalchemy import JSON, Date, ForeignKey, Index, LargeBinary, String, Time, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.catalog import Location, Sku, Warehouse
from app.models.orders import Shipment, ShipmentBin
from app.models.types import Money, UTCDateTime, utcnow


class WavePlan(db.Model):
    """One run of the wave planner for a warehouse and day: its mode, objective and the baseline's."""

    __tablename__ = "wave_plans"
    __table_args__ = (Index("ix_wave_plans_warehouse_day", "warehouse_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    day: Mapped[date] = mapped_column(Date)
    mode: Mapped[str] = mapped_column(String(20))  # max_on_time, min_labour
    status: Mapped[str] = mapped_column(String(20), default="planned")  # planned, released, superseded
    solver_status: Mapped[str] = mapped_column(String(20), default="")
    objective: Mapped[Decimal] = mapped_column(Money(2), default=Decimal("0"))
    baseline_objective: Mapped[Decimal] = mapped_column(Money(2), default=Decimal("0"))
    start: Mapped[time] = mapped_column(Time)
    wave_minutes: Mapped[int] = mapped_column(default=60)
    orders: Mapped[int] = mapped_column(default=0)
    late: Mapped[int] = mapped_column(default=0)
    unplanned: Mapped[int] = mapped_column(default=0)
    baseline_late: Mapped[int] = mapped_column(default=0)
    picker_hours: Mapped[Decimal] = mapped_column(Money(2), default=Decimal("0"))
    baseline_picker_hours: Mapped[Decimal] = mapped_column(Money(2), default=Decimal("0"))
    solve_seconds: Mapped[Decimal] = mapped_column(Money(3), default=Decimal("0"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    warehouse: Mapped[Warehouse] = relationship()
    waves: Mapped[list["Wave"]] = relationship(back_populates="plan", order_by="Wave.index")


class Wave(db.Model):
    """A slot of the day in which pickers pick a set of shipments, finishing before their carriers' cut-offs."""

    __tablename__ = "waves"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("wave_plans.id"), index=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"), index=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    index: Mapped[int] = mapped_column()
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    pickers: Mapped[int] = mapped_column(default=0)
    work_minutes: Mapped[Decimal] = mapped_column(Money(2), default=Decimal("0"))
    status: Mapped[str] = mapped_column(String(20), default="planned")  # planned, released, done, superseded
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    released_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    plan: Mapped[WavePlan] = relationship(back_populates="waves")
    warehouse: Mapped[Warehouse] = relationship()
    members: Mapped[list["WaveOrder"]] = relationship(back_populates="wave", order_by="WaveOrder.cutoff_at")
    batches: Mapped[list["PickBatch"]] = relationship(back_populates="wave", order_by="PickBatch.id")


class WaveOrder(db.Model):
    """A shipment planned into a wave, with the cut-off it must make and whether the plan makes it."""

    __tablename__ = "wave_orders"
    __table_args__ = (UniqueConstraint("wave_id", "shipment_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    wave_id: Mapped[int] = mapped_column(ForeignKey("waves.id"), index=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id"), index=True)
    cutoff_at: Mapped[datetime] = mapped_column(UTCDateTime())
    carrier: Mapped[str] = mapped_column(String(80), default="")
    lines: Mapped[int] = mapped_column(default=0)
    on_time: Mapped[bool] = mapped_column(default=True)

    wave: Mapped[Wave] = relationship(back_populates="members")
    shipment: Mapped[Shipment] = relationship()


class LabourPlan(db.Model):
    """Pickers per wave for a warehouse and day: what the floor staffs and what routing takes as capacity."""

    __tablename__ = "labour_plans"
    __table_args__ = (UniqueConstraint("warehouse_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    day: Mapped[date] = mapped_column(Date)
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("wave_plans.id"))
    start: Mapped[time] = mapped_column(Time)
    wave_minutes: Mapped[int] = mapped_column(default=60)
    pickers: Mapped[list] = mapped_column(JSON, default=list)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    warehouse: Mapped[Warehouse] = relationship()


class PickBatch(db.Model):
    """What one picker picks in one walk: a few shipments of a wave, in the shortest path order."""

    __tablename__ = "pick_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    wave_id: Mapped[int] = mapped_column(ForeignKey("waves.id"), index=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="open")  # open, picking, done
    picker_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    solver_status: Mapped[str] = mapped_column(String(20), default="")
    distance_m: Mapped[Decimal] = mapped_column(Money(1), default=Decimal("0"))
    s_shape_m: Mapped[Decimal] = mapped_column(Money(1), default=Decimal("0"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    wave: Mapped[Wave] = relationship(back_populates="batches")
    warehouse: Mapped[Warehouse] = relationship()
    tasks: Mapped[list["PickTask"]] = relationship(back_populates="batch", order_by="PickTask.seq")


class PickTask(db.Model):
    """One line of a pick list: take `qty` of a SKU from a bin for a shipment, at step `seq` of the path."""

    __tablename__ = "pick_tasks"

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("pick_batches.id"), index=True)
    seq: Mapped[int] = mapped_column()
    tote: Mapped[int] = mapped_column(default=1)
    shipment_bin_id: Mapped[int] = mapped_column(ForeignKey("shipment_bins.id"), index=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id"), index=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"))
    qty: Mapped[int] = mapped_column()
    qty_picked: Mapped[int] = mapped_column(default=0)
    qty_short: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(String(20), default="open")  # open, picked, short
    bin_confirmed: Mapped[bool] = mapped_column(default=False)
    item_confirmed: Mapped[bool] = mapped_column(default=False)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    batch: Mapped[PickBatch] = relationship(back_populates="tasks")
    shipment_bin: Mapped[ShipmentBin] = relationship()
    shipment: Mapped[Shipment] = relationship()
    location: Mapped[Location] = relationship()
    sku: Mapped[Sku] = relationship()


class PickScan(db.Model):
    """Every scan on the floor and what came of it: the source of pick accuracy."""

    __tablename__ = "pick_scans"
    __table_args__ = (Index("ix_pick_scans_outcome_at", "outcome", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("pick_batches.id"), index=True)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("pick_tasks.id"))
    shipment_id: Mapped[int | None] = mapped_column(ForeignKey("shipments.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    step: Mapped[str] = mapped_column(String(10))  # bin, item, qty, pack
    scanned: Mapped[str] = mapped_column(String(100), default="")
    expected: Mapped[str] = mapped_column(String(100), default="")
    outcome: Mapped[str] = mapped_column(String(20))  # ok, wrong_bin, wrong_item, short, over
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ShortPick(db.Model):
    """Units a picker could not find: held as a suspected count variance, sent back to routing, counted."""

    __tablename__ = "short_picks"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("pick_tasks.id"))
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id"), index=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"))
    qty: Mapped[int] = mapped_column()
    status: Mapped[str] = mapped_column(String(20), default="open", index=True)  # open, resolved
    count_task_id: Mapped[int | None] = mapped_column(ForeignKey("count_tasks.id"))
    reported_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    shipment: Mapped[Shipment] = relationship()
    location: Mapped[Location] = relationship()
    sku: Mapped[Sku] = relationship()


class BoxType(db.Model):
    """A carton or mailer the packing bench stocks."""

    __tablename__ = "box_types"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(10), default="carton")  # carton, mailer
    length_cm: Mapped[Decimal] = mapped_column(Money(1))
    width_cm: Mapped[Decimal] = mapped_column(Money(1))
    height_cm: Mapped[Decimal] = mapped_column(Money(1))
    max_weight_kg: Mapped[Decimal] = mapped_column(Money(3))
    tare_kg: Mapped[Decimal] = mapped_column(Money(3), default=Decimal("0"))
    cost: Mapped[Decimal] = mapped_column(Money(2))
    active: Mapped[bool] = mapped_column(default=True)

    @property
    def dimensions(self) -> str:
        return f"{self.length_cm:g} × {self.width_cm:g} × {self.height_cm:g} cm"


class Package(db.Model):
    """One carton or mailer of a shipment: the box, what cartonization planned in it, and its label."""

    __tablename__ = "packages"
    __table_args__ = (UniqueConstraint("shipment_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id"), index=True)
    seq: Mapped[int] = mapped_column(default=1)
    box_type_id: Mapped[int] = mapped_column(ForeignKey("box_types.id"))
    proposed_box_id: Mapped[int | None] = mapped_column(ForeignKey("box_types.id"))
    planned: Mapped[dict] = mapped_column(JSON, default=dict)  # SKU code -> units cartonization put here
    packed: Mapped[dict] = mapped_column(JSON, default=dict)  # SKU code -> units scanned in
    weight_kg: Mapped[Decimal | None] = mapped_column(Money(3))
    sscc: Mapped[str] = mapped_column(String(18), default="")
    tracking_number: Mapped[str] = mapped_column(String(60), default="")
    status: Mapped[str] = mapped_column(String(20), default="open")  # open, closed

    shipment: Mapped[Shipment] = relationship()
    box_type: Mapped[BoxType] = relationship(foreign_keys=[box_type_id])
    proposed_box: Mapped[BoxType | None] = relationship(foreign_keys=[proposed_box_id])

    @property
    def units_planned(self) -> int:
        return sum(self.planned.values())

    @property
    def units_packed(self) -> int:
        return sum(self.packed.values())


class ShipmentDocument(db.Model):
    """A printed document kept with its shipment: label, packing slip."""

    __tablename__ = "shipment_documents"
    __table_args__ = (Index("ix_shipment_documents_shipment_kind", "shipment_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id"))
    package_id: Mapped[int | None] = mapped_column(ForeignKey("packages.id"))
    kind: Mapped[str] = mapped_column(String(20))  # label, packing_slip
    filename: Mapped[str] = mapped_column(String(120))
    content_type: Mapped[str] = mapped_column(String(60), default="application/pdf")
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    shipment: Mapped[Shipment] = relationship()


class LabelRequest(db.Model):
    """A label the carrier could not make yet: retried by a job until it succeeds."""

    __tablename__ = "label_requests"
    __table_args__ = (Index("ix_label_requests_status_next", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending, done
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str] = mapped_column(String(500), default="")
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    shipment: Mapped[Shipment] = relationship()


class CountTask(db.Model):
    """A blind count of one bin: the counter sees the bin, never the expected quantity."""

    __tablename__ = "count_tasks"
    __table_args__ = (Index("ix_count_tasks_warehouse_status", "warehouse_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(30), unique=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"), index=True)
    source: Mapped[str] = mapped_column(String(20), default="supervisor")  # supervisor, short_pick
    status: Mapped[str] = mapped_column(String(20), default="open")  # open, review, adjusted, rejected
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    counted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    counted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    note: Mapped[str] = mapped_column(String(300), default="")

    warehouse: Mapped[Warehouse] = relationship()
    location: Mapped[Location] = relationship()
    lines: Mapped[list["CountLine"]] = relationship(back_populates="task", order_by="CountLine.id",
                                                    cascade="all, delete-orphan")


class CountLine(db.Model):
    """One SKU of a count: units held in quarantine for it, what the ledger expected, what was counted."""

    __tablename__ = "count_lines"
    __table_args__ = (UniqueConstraint("task_id", "sku_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("count_tasks.id"), index=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"))
    held: Mapped[int] = mapped_column(default=0)  # units quarantined as a suspected variance
    expected: Mapped[int | None] = mapped_column()
    counted: Mapped[int | None] = mapped_column()

    task: Mapped[CountTask] = relationship(back_populates="lines")
    sku: Mapped[Sku] = relationship()

    @property
    def variance(self) -> int | None:
        return None if self.counted is None or self.expected is None else self.counted - self.expected

