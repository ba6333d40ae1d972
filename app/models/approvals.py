"""Approvals: the rules saying which requests need a second person, and the requests themselves."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.people import User
from app.models.types import Money, UTCDateTime, utcnow


class ApprovalRule(db.Model):
    """Requests of `kind` for more than `threshold` (any amount when it is empty) need `approver_role`."""

    __tablename__ = "approval_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(30), index=True)
    threshold: Mapped[Decimal | None] = mapped_column(Money(2))
    approver_role: Mapped[str] = mapped_column(String(20))
    description: Mapped[str] = mapped_column(String(200), default="")
    active: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class ApprovalRequest(db.Model):
    """One request for a decision: what, how much, who asked and why; who decided, when, and what they said."""

    __tablename__ = "approval_requests"
    __table_args__ = (Index("ix_approval_requests_status_role", "status", "approver_role"),
                      Index("ix_approval_requests_subject", "subject_type", "subject_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(30), index=True)
    subject_type: Mapped[str] = mapped_column(String(30))
    subject_id: Mapped[str] = mapped_column(String(40))
    summary: Mapped[str] = mapped_column(String(200), default="")
    amount: Mapped[Decimal | None] = mapped_column(Money(2))
    approver_role: Mapped[str] = mapped_column(String(20))
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("approval_rules.id"))
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    reason: Mapped[str] = mapped_column(String(500), default="")
    status: Mapped[str] = mapped_column(String(12), default="pending")  # pending, approved, rejected, withdrawn
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    note: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)

    requested_by: Mapped[User | None] = relationship(foreign_keys=[requested_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
