"""Inventory use cases: receive, adjust, transfer, change status, reserve, release, pick, ship."""
from __future__ import annotations

from sqlalchemy import select

from app.domain.errors import NotFound, ValidationError
from app.domain.inventory import ADJUSTMENT_REASONS, Cause, adjustment_errors, Outside, Reason, Status, check_quantity
from app.extensions import db
from app.models import Location, Sku, StockMove, Warehouse
from app.services import ledger
from app.services._uow import service
from app.services.ledger import Place


def _sku(sku_id: int) -> Sku:
    sku = db.session.get(Sku, sku_id)
    if sku is None:
        raise NotFound("No such SKU.", field="sku")
    return sku


def _bin(location_id: int) -> Location:
    location = db.session.get(Location, location_id)
    if location is None or location.is_virtual:
        raise NotFound("No such bin.", field="location")
    if not location.active:
        raise ValidationError(f"Bin {location.code} is not in use.", field="location")
    return location


def _status(value: str, field: str = "status") -> Status:
    try:
        return Status(value)
    except ValueError:
        raise ValidationError(f"Unknown stock status '{value}'.", field=field) from None


@service
def receive_stock(sku_id: int, location_id: int, qty: int, *, cause: Cause, status: str = Status.AVAILABLE,
                  user_id: int | None = None, note: str = "") -> StockMove:
    """Units arrive from a supplier into a bin."""
    _sku(sku_id)
    move = ledger.post_move(sku_id, check_quantity(qty), Place(ledger.outside(Outside.SUPPLIER)),
                            Place(_bin(location_id), _status(status)), reason=Reason.RECEIPT, cause=cause,
                            user_id=user_id, note=note)
    db.session.commit()
    return move


@service
def adjust_stock(sku_id: int, location_id: int, delta: int, *, reason_code: str, user_id: int | None,
                 status: str = Status.AVAILABLE, note: str = "") -> StockMove:
    """Correct a bin's count up or down, with a reason a person chose."""
    if errors := adjustment_errors(reason_code, delta):
        raise ValidationError(errors=errors)
    sku, location, state = _sku(sku_id), _bin(location_id), _status(status)
    shelf, world = Place(location, state), Place(ledger.outside(Outside.ADJUSTMENT))
    src, dst = (world, shelf) if delta > 0 else (shelf, world)
    move = ledger.post_move(sku.id, abs(delta), src, dst, reason=Reason.ADJUSTMENT,
                            cause=Cause("adjustment", reason_code), user_id=user_id,
                            note=note or ADJUSTMENT_REASONS[reason_code])
    db.session.commit()
    return move


@service
def transfer_stock(sku_id: int, from_location_id: int, to_location_id: int, qty: int, *, user_id: int | None,
                   status: str = Status.AVAILABLE, note: str = "") -> StockMove:
    """Move units between two bins, keeping their status."""
    state = _status(status)
    src, dst = _bin(from_location_id), _bin(to_location_id)
    move = ledger.post_move(_sku(sku_id).id, check_quantity(qty), Place(src, state), Place(dst, state),
                            reason=Reason.TRANSFER, cause=Cause("transfer", f"{src.code}>{dst.code}"),
                            user_id=user_id, note=note)
    db.session.commit()
    return move


@service
def change_stock_status(sku_id: int, location_id: int, qty: int, from_status: str, to_status: str, *,
                        cause: Cause, user_id: int | None, note: str = "") -> StockMove:
    """Change the status of units in one bin: quarantine, release from quarantine, mark damaged."""
    location = _bin(location_id)
    move = ledger.post_move(_sku(sku_id).id, check_quantity(qty), Place(location, _status(from_status, "from_status")),
                            Place(location, _status(to_status, "to_status")), reason=Reason.STATUS_CHANGE,
                            cause=cause, user_id=user_id, note=note)
    db.session.commit()
    return move


@service
def reserve_stock(sku_id: int, warehouse_id: int, qty: int, *, cause: Cause, user_id: int | None = None
                  ) -> list[tuple[Location, int]]:
    """Reserve units in a warehouse for a shipment: available becomes allocated, all or nothing."""
    taken = ledger.move_from_warehouse(_sku(sku_id).id, _warehouse(warehouse_id).id, qty, Status.AVAILABLE,
                                       Status.ALLOCATED, reason=Reason.RESERVE, cause=cause, user_id=user_id)
    db.session.commit()
    return taken


@service
def release_stock(sku_id: int, warehouse_id: int, qty: int, *, cause: Cause, user_id: int | None = None
                  ) -> list[tuple[Location, int]]:
    """Give reserved units back to available stock."""
    taken = ledger.move_from_warehouse(_sku(sku_id).id, _warehouse(warehouse_id).id, qty, Status.ALLOCATED,
                                       Status.AVAILABLE, reason=Reason.RELEASE, cause=cause, user_id=user_id)
    db.session.commit()
    return taken


@service
def pick_stock(sku_id: int, location_id: int, qty: int, *, cause: Cause, user_id: int | None = None) -> StockMove:
    """A picker takes allocated units off the shelf."""
    location = _bin(location_id)
    move = ledger.post_move(_sku(sku_id).id, check_quantity(qty), Place(location, Status.ALLOCATED),
                            Place(location, Status.PICKED), reason=Reason.PICK, cause=cause, user_id=user_id)
    db.session.commit()
    return move


@service
def ship_stock(sku_id: int, location_id: int, qty: int, *, cause: Cause, user_id: int | None = None) -> StockMove:
    """Picked units leave for the customer."""
    move = ledger.post_move(_sku(sku_id).id, check_quantity(qty), Place(_bin(location_id), Status.PICKED),
                            Place(ledger.outside(Outside.CUSTOMER)), reason=Reason.SHIP, cause=cause,
                            user_id=user_id)
    db.session.commit()
    return move


def _warehouse(warehouse_id: int) -> Warehouse:
    warehouse = db.session.get(Warehouse, warehouse_id)
    if warehouse is None:
        raise NotFound("No such warehouse.", field="warehouse")
    return warehouse


def find_bin(warehouse_id: int, code: str) -> Location | None:
    return db.session.scalar(select(Location).where(Location.warehouse_id == warehouse_id, Location.code == code))
