"""Sign-in throttling by network address, on top of the per-account lock in people.authenticate."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, func, select

from app.extensions import db
from app.models.audit import LoginFailure
from app.models.types import utcnow
from app.services._uow import service

IP_MAX_FAILURES = 20
IP_WINDOW = timedelta(minutes=15)
KEEP_FAILURES = timedelta(days=2)


def failures_from(ip: str) -> int:
    since = utcnow() - IP_WINDOW
    return db.session.scalar(select(func.count()).where(LoginFailure.ip == ip, LoginFailure.at > since))


def ip_throttled(ip: str) -> bool:
    """Whether this address failed to sign in too often lately (any accounts, every web worker counted)."""
    return failures_from(ip[:64]) >= IP_MAX_FAILURES


@service
def record_login_failure(ip: str, username: str) -> None:
    """Count one failed sign-in against an address, and forget failures old enough not to matter."""
    now = utcnow()
    db.session.add(LoginFailure(ip=ip[:64], username=username[:64], at=now))
    db.session.execute(delete(LoginFailure).where(LoginFailure.at < now - KEEP_FAILURES))
    db.session.commit()
