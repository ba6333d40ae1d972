"""The event feed for integrations that poll: every domain event after a given id, oldest first."""
from __future__ import annotations

import re

from flask import request

from app.api import api, error, roles
from app.api.openapi import documented
from app.domain.roles import Role
from app.services.outbox import event_feed

FEED_ROLES = (Role.ADMIN, Role.RETAIL, Role.SUPERVISOR, Role.PROCUREMENT, Role.FINANCE, Role.RETURNS)
MAX_LIMIT = 500
TYPE_PATTERN = re.compile(r"^[a-z0-9_*][a-z0-9_.*]{0,59}$")

EVENT = {"type": "object", "required": ["id", "type", "subject_type", "subject_id", "payload", "created_at"],
         "properties": {"id": {"type": "integer"}, "type": {"type": "string"}, "subject_type": {"type": "string"},
                        "subject_id": {"type": "string"}, "payload": {"type": "object"},
                        "created_at": {"type": "string", "format": "date-time"}}}
FEED = {"type": "object", "required": ["items", "page", "pages", "total", "next_after"],
        "properties": {"items": {"type": "array", "items": EVENT}, "page": {"type": "integer"},
                       "pages": {"type": "integer"}, "total": {"type": "integer"},
                       "next_after": {"type": "integer", "description": "Pass as ?after= to get the next events."}}}
PARAMS = [
    {"name": "after", "in": "query", "description": "Only events with a larger id (0 for the first).",
     "schema": {"type": "integer", "minimum": 0, "default": 0}},
    {"name": "type", "in": "query", "description": "Event types, comma separated; * matches anything (order.*).",
     "schema": {"type": "string", "maxLength": 300}},
    {"name": "limit", "in": "query", "description": f"How many events at most (1 to {MAX_LIMIT}).",
     "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 100}},
]


def _whole(name: str, default: int, low: int, high: int) -> int | None:
    raw = request.args.get(name, "")
    if raw == "":
        return default
    if not re.fullmatch(r"\d{1,18}", raw) or not low <= int(raw) <= high:
        return None
    return int(raw)


@api.get("/events")
@roles(*FEED_ROLES)
@documented(query=PARAMS, response=FEED)
def list_events():
    """Domain events after an id, oldest first: poll with ?after=<next_after> to follow the feed."""
    after, limit = _whole("after", 0, 0, 2**62), _whole("limit", 100, 1, MAX_LIMIT)
    if after is None:
        return error("invalid", "after must be a whole number of 0 or more.", 400, fields={"after": "a whole number"})
    if limit is None:
        return error("invalid", f"limit must be from 1 to {MAX_LIMIT}.", 400, fields={"limit": f"1 to {MAX_LIMIT}"})
    patterns = [p.strip() for p in request.args.get("type", "")[:300].split(",") if p.strip()]
    if any(not TYPE_PATTERN.match(p) for p in patterns):
        return error("invalid", "type takes event types such as order.shipped or order.*, comma separated.", 400,
                     fields={"type": "event types"})
    events, total = event_feed(after, patterns, limit)
    return {"items": [_event_json(e) for e in events], "page": 1, "pages": max(1, -(-total // limit)),
            "total": total, "next_after": events[-1].id if events else after}


def _event_json(event) -> dict:
    return {"id": event.id, "type": event.type, "subject_type": event.subject_type, "subject_id": event.subject_id,
            "payload": event.payload, "created_at": event.created_at.isoformat()}
