"""The audit log: a session hook that records every insert, update and delete, and the queries that read it.

Two session events work together. `before_flush` looks at every new, changed and deleted object
and notes the columns that changed with their values before and after (attribute history is
only reliable before the flush writes it). Inserted rows get their primary keys and column
defaults during the flush, so the notes become audit rows in `after_flush`, written with a plain
INSERT on the same connection: the audit rows commit or roll back with the change itself.
"""
from __future__ import annotations

import contextvars
import enum
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import String, cast, event, inspect, or_, select
from sqlalchemy.orm import Session, attributes
from sqlalchemy.sql.elements import ClauseElement

from app.extensions import db
from app.models.audit import AuditEntry
from app.models.types import utcnow
from app.services.queries import Page, like_pattern, paginate

# Tables the hook leaves alone, each with the reason. The append-only ones already say who did
# what and when in every row, so auditing them would double the largest tables for nothing.
NOT_AUDITED: dict[str, str] = {
    "audit_log": "the audit log itself",
    "stock_moves": "the stock ledger is append-only; every move names its user, time, reason and cause",
    "stock_balances": "derived from stock_moves (rebuilt from them) and changed by conditional SQL updates",
    "events": "the outbox is append-only; each event is itself the record of a change",
    "order_transitions": "each row is one step of an order's timeline: who, when, from, to and why",
    "inbound_deliveries": "the raw payload store: each row is what arrived, byte for byte, and names who resolved it",
    "webhook_deliveries": "delivery bookkeeping changes on every attempt; webhook_attempts keeps each one",
    "webhook_attempts": "append-only log of every webhook POST",
    "job_runs": "append-only history of scheduled job runs",
    "login_failures": "append-only security log of failed sign-ins",
}

# Columns whose values never reach the log; the entry still shows that they changed.
SECRET_COLUMNS = {"password_hash", "token_hash", "webhook_secret", "secret"}
REDACTED = "[redacted]"
MAX_TEXT = 2000

# What is acting outside a request: "job deliver_events", "cli backup", ... (set by the job wrapper and CLI).
current_source: contextvars.ContextVar[str] = contextvars.ContextVar("audit_source", default="")

PENDING_KEY = "audit_pending"


@dataclass
class _Note:
    obj: Any
    action: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


# --- JSON-safe values ----------------------------------------------------------------------------------------

def json_safe(value: Any) -> Any:
    """A value the JSON column can hold: Decimal as text, times as ISO 8601, long text cut short."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        return value if len(value) <= MAX_TEXT else value[:MAX_TEXT] + "…"
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, enum.Enum):
        return json_safe(value.value)
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [json_safe(v) for v in value]
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"<{len(bytes(value))} bytes>"
    return json_safe(str(value))


def _shown(column: str, value: Any) -> Any:
    return REDACTED if column in SECRET_COLUMNS and value not in (None, "") else json_safe(value)


# --- who and where -------------------------------------------------------------------------------------------

def current_actor() -> tuple[int | None, str]:
    """The person behind this change: the API token's user, the signed-in user, or nobody (system)."""
    from flask import g, has_request_context
    if not has_request_context():
        return None, ""
    user = g.get("api_user")
    if user is None:
        from flask_login import current_user
        user = current_user._get_current_object() if current_user.is_authenticated else None
    if user is None:
        return None, ""
    state = inspect(user)
    if state.identity is None:
        return None, ""
    user_id = state.identity[0]
    username = state.dict.get("username")
    if username is None:  # expired by an earlier commit in this request
        username = _username_once_per_request(user_id)
    return user_id, username or ""


def _username_once_per_request(user_id: int) -> str:
    """The actor's username, read without touching the session and kept for the rest of the request."""
    from flask import g
    known = g.get("audit_usernames")
    if known is None:
        known = g.audit_usernames = {}
    if user_id not in known:
        from app.models import User
        known[user_id] = db.session.connection().scalar(
            select(User.__table__.c.username).where(User.__table__.c.id == user_id)) or ""
    return known[user_id]


def current_context() -> str:
    from flask import has_request_context, request
    if has_request_context():
        return f"{request.method} {request.path}"[:200]
    source = current_source.get()
    if source:
        return source[:200]
    import click
    ctx = click.get_current_context(silent=True)
    return f"cli {ctx.command_path.split(' ', 1)[-1]}"[:200] if ctx else "system"


# --- the hook ------------------------------------------------------------------------------------------------

def _audited(obj: Any) -> bool:
    table = getattr(obj, "__tablename__", None)
    return table is not None and table not in NOT_AUDITED


def _columns(obj: Any):
    return inspect(obj).mapper.column_attrs


def _snapshot(obj: Any) -> dict[str, Any]:
    state = inspect(obj)
    return {attr.key: _shown(attr.key, state.dict.get(attr.key)) for attr in _columns(obj)
            if attr.key in state.dict}


def _is_sql(value: Any) -> bool:
    return hasattr(value, "__clause_element__") or isinstance(value, ClauseElement)


def _changes(session: Session, obj: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The columns whose value really changed, with the old and new values."""
    before, after, unknown = {}, {}, []
    for attr in _columns(obj):
        history = attributes.get_history(obj, attr.key, passive=attributes.PASSIVE_NO_INITIALIZE)
        if not history.added:
            continue
        after[attr.key] = history.added[0]
        if history.deleted:
            before[attr.key] = history.deleted[0]
        elif history.unchanged:
            before[attr.key] = history.unchanged[0]
        else:
            unknown.append(attr)
    if unknown:  # set without being read first: the database still holds the old value until this flush
        _load_old_values(session, obj, unknown, before)
    changed = [k for k in after if _is_sql(after[k]) or before.get(k) != after[k]]
    return ({k: _shown(k, before.get(k)) for k in changed},
            {k: "(computed by SQL)" if _is_sql(after[k]) else _shown(k, after[k]) for k in changed})


def _load_old_values(session: Session, obj: Any, attrs: list, before: dict[str, Any]) -> None:
    state = inspect(obj)
    if state.identity is None:
        return
    condition = [column == value for column, value in zip(state.mapper.primary_key, state.identity)]
    row = session.execute(select(*[attr.columns[0] for attr in attrs]).where(*condition)).first()
    for attr, value in zip(attrs, row or [None] * len(attrs)):
        before[attr.key] = value


def _note_changes(session: Session, flush_context, instances) -> None:
    """Before the flush: the old and new values of every changed or deleted row."""
    notes = flush_context.attributes.setdefault(PENDING_KEY, [])
    for obj in session.dirty:
        if _audited(obj) and session.is_modified(obj, include_collections=False):
            before, after = _changes(session, obj)
            if after:
                notes.append(_Note(obj, "update", before, after))
    for obj in session.deleted:
        if _audited(obj):
            notes.append(_Note(obj, "delete", _snapshot(obj), None))


def _record_id(obj: Any) -> str:
    state = inspect(obj)
    identity = state.identity or state.mapper.primary_key_from_instance(obj)
    return ",".join(str(part) for part in identity)[:80]


def _write_entries(session: Session, flush_context) -> None:
    """After the flush (keys and defaults now known): one audit row per insert, update and delete."""
    notes = flush_context.attributes.get(PENDING_KEY, [])
    notes += [_Note(obj, "insert", None, None) for obj in session.new if _audited(obj)]
    if not notes:
        return
    user_id, username = current_actor()
    source, now = current_context(), utcnow()
    rows = [{"at": now, "user_id": user_id, "username": username, "source": source,
             "table_name": note.obj.__tablename__, "record_id": _record_id(note.obj), "action": note.action,
             "before": note.before, "after": _snapshot(note.obj) if note.action == "insert" else note.after}
            for note in notes]
    session.connection().execute(AuditEntry.__table__.insert(), rows)


def register_audit_log() -> None:
    """Record every mutation of every audited table, in the same transaction (called by create_app)."""
    if not event.contains(Session, "before_flush", _note_changes):
        event.listen(Session, "before_flush", _note_changes)
        event.listen(Session, "after_flush", _write_entries)


def note_change(table_name: str, record_id: object, action: str, before: dict | None, after: dict | None) -> None:
    """Log a change the hook cannot see (rows of plain association tables written with SQL)."""
    user_id, username = current_actor()
    db.session.add(AuditEntry(at=utcnow(), user_id=user_id, username=username, source=current_context(),
                              table_name=table_name, record_id=str(record_id)[:80], action=action,
                              before=json_safe(before), after=json_safe(after)))


# --- reading -------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class AuditFilters:
    table: str = ""
    record: str = ""
    user: str = ""
    action: str = ""
    since: date | None = None
    until: date | None = None
    q: str = ""


def audit_search(filters: AuditFilters, page: int = 1, per_page: int = 50, *, tz: str = "UTC") -> Page:
    """Audit entries matching the filters, newest first; dates are whole days in the retailer's time zone."""
    from zoneinfo import ZoneInfo
    stmt = select(AuditEntry)
    if filters.table:
        stmt = stmt.where(AuditEntry.table_name == filters.table)
    if filters.record:
        stmt = stmt.where(AuditEntry.record_id == filters.record)
    if filters.user == "system":
        stmt = stmt.where(AuditEntry.user_id.is_(None))
    elif filters.user:
        stmt = stmt.where(AuditEntry.username == filters.user)
    if filters.action:
        stmt = stmt.where(AuditEntry.action == filters.action)
    zone = ZoneInfo(tz)
    if filters.since:
        stmt = stmt.where(AuditEntry.at >= datetime.combine(filters.since, time(), zone))
    if filters.until:
        stmt = stmt.where(AuditEntry.at < datetime.combine(filters.until + timedelta(days=1), time(), zone))
    if filters.q:
        pattern = like_pattern(filters.q)
        stmt = stmt.where(or_(cast(AuditEntry.before, String).ilike(pattern, escape="\\"),
                              cast(AuditEntry.after, String).ilike(pattern, escape="\\"),
                              AuditEntry.source.ilike(pattern, escape="\\")))
    return paginate(stmt.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()), page, per_page)


def record_history(table: str, record_id: str) -> list[AuditEntry]:
    """Every change to one record, oldest first."""
    return list(db.session.scalars(select(AuditEntry).where(AuditEntry.table_name == table,
                                                             AuditEntry.record_id == record_id)
                                   .order_by(AuditEntry.at, AuditEntry.id)))


def audited_tables() -> list[str]:
    """The tables that have entries, for the filter list."""
    return list(db.session.scalars(select(AuditEntry.table_name).distinct().order_by(AuditEntry.table_name)))
