"""Real concurrency for the PostgreSQL tests: workers released at once, each in its own app context and session."""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any


def race(app, items: Iterable, work: Callable[[Any], object], *,
         refusals: tuple[type[Exception], ...] = ()) -> list[str]:
    """Run work(item) for every item in its own thread, all starting together; return each worker's outcome.

    An outcome is what work returned when that is text (else "done"), the class name of an exception listed in
    `refusals`, or "error: ..." for any other exception (a deadlock, a serialization failure, a lost update).
    """
    from app.extensions import db
    items = list(items)
    outcomes: list[str] = []
    start = threading.Barrier(len(items))

    def worker(item):
        with app.app_context():
            start.wait()
            try:
                result = work(item)
                outcomes.append(result if isinstance(result, str) else "done")
            except refusals as exc:
                outcomes.append(type(exc).__name__)
            except Exception as exc:
                outcomes.append(f"error: {exc!r}")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker, args=(item,)) for item in items]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return outcomes
