"""The history of scheduled job runs."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import UTCDateTime, utcnow


class JobRun(db.Model):
    """One run of a scheduled job: when it started and finished, and whether it worked."""

    __tablename__ = "job_runs"
    __table_args__ = (Index("ix_job_runs_job_started", "job_id", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[str] = mapped_column(String(60))
    trigger: Mapped[str] = mapped_column(String(12), default="schedule")  # schedule or manual
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    duration_ms: Mapped[int | None] = mapped_column()
    result: Mapped[str] = mapped_column(String(10), default="running")  # running, ok, failed
    message: Mapped[str] = mapped_column(String(1000), default="")
    host: Mapped[str] = mapped_column(String(120), default="")
    started_by_id: Mapped[int | None] = mapped_column()
