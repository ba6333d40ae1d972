"""The unit of work around every service: commit once inside, roll back on any failure."""
from __future__ import annotations

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
