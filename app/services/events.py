"""Recording domain events in the outbox, inside the caller's transaction."""
from __future__ import annotations

from typing import Any

from app.extensions import db
from app.models import Event
from app.models.types import utcnow


def record_event(type: str, subject_type: str, subject_id: object, payload: dict[str, Any] | None = None,
                 *, user_id: int | None = None) -> Event:
    """Add an event to the outbox; it is committed with the change it reports."""
    event = Event(type=type, subject_type=subject_type, subject_id=str(subject_id), payload=payload or {},
                  user_id=user_id, created_at=utcnow())
    db.session.add(event)
    return event
