"""Publishing available-to-sell whenever sellable stock changes, so storefronts stop overselling.

The ledger marks the SKUs whose available stock moved; just before the transaction commits,
one `inventory.available_changed` event per SKU is written with the new figure per channel.
"""
from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.orm import Session

from app.services.events import record_event


def _publish(session: Session) -> None:
    touched = session.info.pop("availability_touched", None)
    if not touched:
        return
    from app.models import Sku
    from app.services.queries import available_to_sell_for
    # Balances are written by statements that ran already, so reading them needs no flush first.
    with session.no_autoflush:
        codes = dict(session.query(Sku.id, Sku.code).filter(Sku.id.in_(touched)).all())
        available = available_to_sell_for(touched)
    for sku_id, rows in available.items():
        record_event("inventory.available_changed", "sku", codes.get(sku_id, sku_id),
                     {"sku": codes.get(sku_id), "channels": {r["channel"]: r["available_to_sell"] for r in rows}})


def _forget(session: Session, *args) -> None:
    session.info.pop("availability_touched", None)


def register_availability_publishing() -> None:
    if not event.contains(Session, "before_commit", _publish):
        event.listen(Session, "before_commit", _publish)
        event.listen(Session, "after_rollback", _forget)
