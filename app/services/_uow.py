"""The unit of work around every service: commit once inside, roll back on any failure."""
from __future__ import annotations

import contextlib
import functools

from app.extensions import db


def service(fn):
    """Roll the session back when a service fails, so the caller never sees half a change."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except BaseException:
            db.session.rollback()
            raise

    return wrapper


@contextlib.contextmanager
def kept_after_commit():
    """Objects written inside stay loaded after their commit, so an answer can be built from them without
    reading them back. Only for objects this transaction made: others may have changed since."""
    session = db.session()
    previous, session.expire_on_commit = session.expire_on_commit, False
    try:
        yield
    finally:
        session.expire_on_commit = previous


# PostgreSQL cancels one of two transactions that wait on each other (deadlock) or that could not be serialised;
# the cancelled one did nothing and may simply run again.
RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})


def cancelled_by_the_database(exc: BaseException) -> bool:
    """Whether the database cancelled this transaction to break a deadlock or a serialisation conflict."""
    return getattr(getattr(exc, "orig", None), "sqlstate", None) in RETRYABLE_SQLSTATES
