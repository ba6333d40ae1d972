"""Outbound webhooks: who wants which events, and the delivery of each event to each of them."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.events import Event
from app.models.types import UTCDateTime, utcnow


class WebhookSubscription(db.Model):
    """A receiver: events whose type matches one of its patterns ("order.*", "shipment.shipped") are POSTed to it."""

    __tablename__ = "webhook_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    url: Mapped[str] = mapped_column(String(500))
    event_types: Mapped[str] = mapped_column(String(500))  # patterns separated by spaces
    secret: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)
    starts_after_event_id: Mapped[int] = mapped_column(default=0)  # events up to this id predate the subscription
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    @property
    def patterns(self) -> list[str]:
        return self.event_types.split()


class WebhookDelivery(db.Model):
    """One event owed to one subscription: pending, delivered, failed (retrying) or dead (given up)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (UniqueConstraint("event_id", "subscription_id"),
                      Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
                      Index("ix_webhook_deliveries_subscription", "subscription_id", "status"))

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"))
    subscription_id: Mapped[int] = mapped_column(ForeignKey("webhook_subscriptions.id"))
    event_type: Mapped[str] = mapped_column(String(60), index=True)
    status: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    claim_token: Mapped[str | None] = mapped_column(String(36))
    last_error: Mapped[str] = mapped_column(String(1000), default="")
    response_code: Mapped[int | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    event: Mapped[Event] = relationship()
    subscription: Mapped[WebhookSubscription] = relationship()
    attempt_log: Mapped[list["WebhookAttempt"]] = relationship(back_populates="delivery",
                                                               order_by="WebhookAttempt.id")

    @property
    def idempotency_key(self) -> str:
        return f"{self.event_id}-{self.subscription_id}"


class WebhookAttempt(db.Model):
    """One POST of a delivery: when, how long, what came back."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("webhook_deliveries.id"), index=True)
    number: Mapped[int] = mapped_column()
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    duration_ms: Mapped[int] = mapped_column(default=0)
    response_code: Mapped[int | None] = mapped_column()
    response_body: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str] = mapped_column(String(1000), default="")

    delivery: Mapped[WebhookDelivery] = relationship(back_populates="attempt_log")
