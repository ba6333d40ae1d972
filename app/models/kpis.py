"""KPI snapshots: each KPI's value at a moment, over the window it was measured, so trends are cheap to draw."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import Money, UTCDateTime, utcnow


class KpiSnapshot(db.Model):
    """One KPI measured over [period_start, period_end), taken at `at`: hourly by the job, daily in the back-fill."""

    __tablename__ = "kpi_snapshots"
    __table_args__ = (UniqueConstraint("kpi", "at"), Index("ix_kpi_snapshots_at", "at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    kpi: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    period_start: Mapped[datetime] = mapped_column(UTCDateTime())
    period_end: Mapped[datetime] = mapped_column(UTCDateTime())
    value: Mapped[Decimal | None] = mapped_column(Money(4))  # None: nothing to measure in the period
    sample: Mapped[int] = mapped_column(default=0)  # records behind the value
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
