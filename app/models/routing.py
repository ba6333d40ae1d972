"""Routing runs: the optimiser's plans of which warehouse ships what, with their explanations."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.types import Money, UTCDateTime, utcnow


class RoutingRun(db.Model):
    __tablename__ = "routing_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(String(20), default="queued", index=True)
    # queued, running, solved, applied, discarded, failed
    trigger: Mapped[str] = mapped_column(String(20), default="manual")  # manual, scheduled, api
    scope: Mapped[dict] = mapped_column(JSON, default=dict)
    time_limit_s: Mapped[int] = mapped_column(default=20)
    auto_apply: Mapped[bool] = mapped_column(default=False)
    solver_status: Mapped[str] = mapped_column(String(20), default="")  # optimal, feasible, fallback, rules
    orders_count: Mapped[int] = mapped_column(default=0)
    units: Mapped[int] = mapped_column(default=0)
    objective: Mapped[Decimal | None] = mapped_column(Money(2))
    bound: Mapped[Decimal | None] = mapped_column(Money(2))
    baseline_cost: Mapped[Decimal | None] = mapped_column(Money(2))
    shipments: Mapped[int] = mapped_column(default=0)
    baseline_shipments: Mapped[int] = mapped_column(default=0)
    unfilled_units: Mapped[int] = mapped_column(default=0)
    baseline_unfilled_units: Mapped[int] = mapped_column(default=0)
    progress: Mapped[float] = mapped_column(default=0.0)
    progress_objective: Mapped[float | None] = mapped_column()
    progress_bound: Mapped[float | None] = mapped_column()
    solve_seconds: Mapped[float | None] = mapped_column()
    warehouse_load: Mapped[dict] = mapped_column(JSON, default=dict)  # code -> {units, capacity}
    applied_orders: Mapped[int] = mapped_column(default=0)
    skipped_orders: Mapped[int] = mapped_column(default=0)
    message: Mapped[str] = mapped_column(String(1000), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    decisions: Mapped[list["RoutingDecision"]] = relationship(back_populates="run", order_by="RoutingDecision.id",
                                                              cascade="all, delete-orphan")

    @property
    def saving(self) -> Decimal | None:
        if self.objective is None or self.baseline_cost is None:
            return None
        return self.baseline_cost - self.objective

    @property
    def gap(self) -> float | None:
        if self.objective is None or self.bound is None or not self.objective:
            return None
        return float((self.objective - self.bound) / self.objective)


class RoutingDecision(db.Model):
    """One order's part of a plan: where it ships from, what it costs, and why."""

    __tablename__ = "routing_decisions"
    __table_args__ = (Index("ix_routing_decisions_run_order", "run_id", "order_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("routing_runs.id"))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    warehouses: Mapped[list] = mapped_column(JSON, default=list)
    allocations: Mapped[list] = mapped_column(JSON, default=list)  # [{sku, warehouse, qty}]
    unfilled: Mapped[list] = mapped_column(JSON, default=list)  # [{sku, qty}]
    cost: Mapped[Decimal] = mapped_column(Money(2), default=Decimal("0"))
    baseline_warehouses: Mapped[list] = mapped_column(JSON, default=list)
    baseline_cost: Mapped[Decimal | None] = mapped_column(Money(2))
    explanation: Mapped[str] = mapped_column(String(500), default="")
    outcome: Mapped[str] = mapped_column(String(20), default="planned")  # planned, applied, skipped, unchanged
    outcome_note: Mapped[str] = mapped_column(String(300), default="")

    run: Mapped[RoutingRun] = relationship(back_populates="decisions")
