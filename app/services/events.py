"""Recording domain events in the outbox, inside the caller's transaction."""
from __future__ import annotations

from typing import Any

from app.extensions import db
from app.models import Event
from app.models.types import utcnow

# In-process subscribers: event type -> functions called with the event inside the same transaction,
# so what they write (journal postings, for one) commits or rolls back with the change itself.
SUBSCRIBERS: dict[str, list] = {}


def subscribe(*event_types: str):
    """Register a function to run, in the same transaction, whenever one of these events is recorded."""
    def register(fn):
        for event_type in event_types:
            SUBSCRIBERS.setdefault(event_type, []).append(fn)
        return fn
    return register


def record_event(type: str, subject_type: str, subject_id: object, payload: dict[str, Any] | None = None,
                 *, user_id: int | None = None) -> Event:
    """Add an event to the outbox; it is committed with the change it reports."""
    event = Event(type=type, subject_type=subject_type, subject_id=str(subject_id), payload=payload or {},
                  user_id=user_id, created_at=utcnow())
    db.session.add(event)
    for subscriber in SUBSCRIBERS.get(type, ()):
        subscriber(event)
    return event
