"""The stock ledger's primitives. They never commit: the calling service commits once.

A move takes units from one (location, status) and puts them on another. Balances of real
locations change in the same transaction, by conditional updates, so two concurrent
transactions can never both take the last unit (no lost update, no negative balance).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app.domain.errors import InsufficientStock, ValidationError
from app.domain.inventory import Cause, Outside, Status, check_quantity
from app.extensions import db
from app.models import Location, StockBalance, StockMove
from app.models.types import utcnow

BALANCES = StockBalance.__table__

# Called with (move, src, dst) after each move is recorded, inside the same transaction.
# Inventory valuation listens here, so every flow's stock changes are valued the same way.
MOVE_OBSERVERS: list = []


@dataclass(frozen=True)
class Place:
    """One side of a move: a location, and the status when the location is real."""

    location: Location
    status: Status | None = None

    def __post_init__(self):
        if self.location.is_virtual and self.status is not None and self.location.outside != Outside.TRANSIT:
            raise ValueError("virtual locations keep no status")
        if not self.location.is_virtual and self.status is None:
            raise ValueError("a real location needs a status")


def outside(kind: Outside) -> Location:
    """The virtual location for one part of the outside world, made on first use."""
    found = db.session.scalar(select(Location).where(Location.outside == kind.value))
    if found:
        return found
    # Two first uses may race: the loser's insert does nothing and it reads the winner's row.
    db.session.execute(_insert().values(code=f"~{kind.value.upper()}", kind="virtual", outside=kind.value, active=True)
                       .on_conflict_do_nothing(index_elements=["outside"]))
    return db.session.scalar(select(Location).where(Location.outside == kind.value))


def _insert():
    dialect_insert = pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    return dialect_insert(Location.__table__)


def post_move(sku_id: int, qty: int, src: Place, dst: Place, *, reason: str, cause: Cause,
              user_id: int | None = None, note: str = "", unit_cost: Decimal | None = None) -> StockMove:
    """Record one move and update the balances of its real sides.

    `unit_cost` is the cost of one unit in the home currency when the cause knows it (a purchase
    order line's cost on a receipt, the original cost on a customer return); inventory valuation
    uses it for units coming in from outside and falls back to the SKU's standard cost without it.
    """
    check_quantity(qty)
    if unit_cost is not None and (not isinstance(unit_cost, Decimal) or not unit_cost.is_finite() or unit_cost < 0):
        raise ValidationError("Unit cost must be an exact amount of zero or more.", field="unit_cost")
    if src.location.id == dst.location.id and src.status == dst.status:
        raise ValidationError("A move needs a different place or status.", field="to")
    if not src.location.is_virtual:
        _take(sku_id, src.location, src.status, qty)
    if not dst.location.is_virtual:
        _put(sku_id, dst.location, dst.status, qty)
    move = StockMove(
        sku_id=sku_id, qty=qty, reason=reason, cause_type=cause.type, cause_id=cause.id,
        from_location_id=src.location.id, from_status=_status_value(src),
        to_location_id=dst.location.id, to_status=_status_value(dst),
        user_id=user_id, note=note[:500], created_at=utcnow(), unit_cost=unit_cost,
    )
    db.session.add(move)
    _note_touched(sku_id, src, dst)
    for observer in MOVE_OBSERVERS:
        observer(move, src, dst)
    return move


def _status_value(place: Place) -> str | None:
    return place.status.value if place.status else None


# The two balance statements are built once: they run for every move, and building them cost more than running them.
_TAKE = (update(BALANCES)
         .where(BALANCES.c.sku_id == bindparam("b_sku"), BALANCES.c.location_id == bindparam("b_location"),
                BALANCES.c.status == bindparam("b_status"), BALANCES.c.qty >= bindparam("b_qty"))
         .values(qty=BALANCES.c.qty - bindparam("b_qty"), updated_at=bindparam("b_now")))


@functools.cache
def _put_statement(dialect: str):
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = insert(BALANCES).values(sku_id=bindparam("b_sku"), location_id=bindparam("b_location"),
                                   warehouse_id=bindparam("b_warehouse"), status=bindparam("b_status"),
                                   qty=bindparam("b_qty"), updated_at=bindparam("b_now"))
    return stmt.on_conflict_do_update(
        index_elements=["sku_id", "location_id", "status"],
        set_={"qty": BALANCES.c.qty + stmt.excluded.qty, "updated_at": stmt.excluded.updated_at},
    )


def _take(sku_id: int, location: Location, status: Status, qty: int) -> None:
    result = db.session.execute(_TAKE, {"b_sku": sku_id, "b_location": location.id, "b_status": status.value,
                                        "b_qty": qty, "b_now": utcnow()})
    if result.rowcount != 1:
        have = balance(sku_id, location.id, status)
        raise InsufficientStock(f"Only {have} {status.value} in {location.code}; cannot take {qty}.")


def _put(sku_id: int, location: Location, status: Status, qty: int) -> None:
    db.session.execute(_put_statement(db.session.get_bind().dialect.name),
                       {"b_sku": sku_id, "b_location": location.id, "b_warehouse": location.warehouse_id,
                        "b_status": status.value, "b_qty": qty, "b_now": utcnow()})


def _note_touched(sku_id: int, *places: Place) -> None:
    """Remember which SKUs' sellable stock changed, so availability can be published once at commit."""
    if any(p.status == Status.AVAILABLE for p in places):
        db.session.info.setdefault("availability_touched", set()).add(sku_id)


# Balances are only ever written by the statements above, which run at once: reading them needs no
# flush of the session's other pending changes (and skipping it keeps a capture to a few flushes).

def balance(sku_id: int, location_id: int, status: Status) -> int:
    with db.session.no_autoflush:
        return db.session.scalar(
            select(func.coalesce(func.sum(BALANCES.c.qty), 0)).where(
                BALANCES.c.sku_id == sku_id, BALANCES.c.location_id == location_id, BALANCES.c.status == status.value)
        )


def available_bins(sku_id: int, warehouse_id: int, status: Status = Status.AVAILABLE) -> list[tuple[int, int]]:
    """(location id, qty) with stock of this SKU and status in a warehouse, fullest first."""
    with db.session.no_autoflush:
        rows = db.session.execute(
            select(BALANCES.c.location_id, BALANCES.c.qty)
            .where(BALANCES.c.sku_id == sku_id, BALANCES.c.warehouse_id == warehouse_id,
                   BALANCES.c.status == status.value, BALANCES.c.qty > 0)
            .order_by(BALANCES.c.qty.desc(), BALANCES.c.location_id)
        ).all()
    return [(r.location_id, r.qty) for r in rows]


def move_from_warehouse(sku_id: int, warehouse_id: int, qty: int, src_status: Status, dst_status: Status, *,
                        reason: str, cause: Cause, user_id: int | None = None, allow_partial: bool = False
                        ) -> list[tuple[Location, int]]:
    """Change the status of `qty` units in whichever bins hold them, safely under concurrency.

    Returns the (bin, qty) taken. Each bin is taken by a conditional update; when another
    transaction took the units first, the bins are read again.
    """
    check_quantity(qty)
    taken: list[tuple[Location, int]] = []
    need = qty
    for _attempt in range(50):
        bins = available_bins(sku_id, warehouse_id, src_status)
        if not bins:
            break
        for location_id, have in bins:
            chunk = min(need, have)
            with db.session.no_autoflush:
                location = db.session.get(Location, location_id)
            try:
                post_move(sku_id, chunk, Place(location, src_status), Place(location, dst_status),
                          reason=reason, cause=cause, user_id=user_id)
            except InsufficientStock:  # another transaction took them first: nothing was written
                continue
            taken.append((location, chunk))
            need -= chunk
            if need == 0:
                return taken
    if need and not allow_partial:
        raise InsufficientStock(f"Only {qty - need} of {qty} units {src_status.value} in the warehouse.")
    return taken
