"""Read-side queries shaped for the screens and the API lists."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Select, func, or_, select, type_coerce

from app.domain.inventory import Status
from app.extensions import db
from app.models import Channel, Location, Sku, StockBalance, StockMove, User, Warehouse, channel_warehouses

MAX_PAGE_SIZE = 200


@dataclass
class Page:
    items: list[Any]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def page_number(raw: Any) -> int:
    try:
        return max(1, min(int(raw), 1_000_000))
    except (TypeError, ValueError):
        return 1


def paginate(stmt: Select, page: int, per_page: int = 50, *, scalars: bool = True) -> Page:
    per_page = max(1, min(per_page, MAX_PAGE_SIZE))
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    result = db.session.execute(stmt.limit(per_page).offset((page - 1) * per_page))
    items = list(result.scalars()) if scalars else list(result)
    return Page(items, page, per_page, total)


def like_pattern(q: str) -> str:
    escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def sku_search(q: str = "", *, category: str = "", active: str = "", warehouse_id: int | None = None,
               in_stock: bool = False) -> Select:
    stmt = select(Sku)
    if q:
        pattern = like_pattern(q.strip())
        stmt = stmt.where(or_(Sku.code.ilike(pattern, escape="\\"), Sku.name.ilike(pattern, escape="\\"),
                              Sku.gtin == q.strip()))
    if category:
        stmt = stmt.where(Sku.category == category)
    if active in ("yes", "no"):
        stmt = stmt.where(Sku.active.is_(active == "yes"))
    if in_stock or warehouse_id:
        held = select(StockBalance.sku_id).where(StockBalance.qty > 0, StockBalance.status == Status.AVAILABLE.value)
        if warehouse_id:
            held = held.where(StockBalance.warehouse_id == warehouse_id)
        stmt = stmt.where(Sku.id.in_(held))
    return stmt.order_by(Sku.code)


def sku_categories() -> list[str]:
    return list(db.session.scalars(select(Sku.category).distinct().order_by(Sku.category)))


def stock_by_status_for_skus(sku_ids: list[int]) -> dict[int, dict[str, int]]:
    """Units per status for each SKU, in one query for a page of SKUs."""
    if not sku_ids:
        return {}
    rows = db.session.execute(
        select(StockBalance.sku_id, StockBalance.status, func.sum(StockBalance.qty))
        .where(StockBalance.sku_id.in_(sku_ids)).group_by(StockBalance.sku_id, StockBalance.status))
    out: dict[int, dict[str, int]] = {}
    for sku_id, status, qty in rows:
        out.setdefault(sku_id, {})[status] = int(qty)
    return out


def sku_stock_by_location(sku_id: int) -> list[Any]:
    return list(db.session.execute(
        select(Warehouse.code.label("warehouse"), Warehouse.name.label("warehouse_name"), Location.code.label("bin"),
               Location.id.label("location_id"), StockBalance.status, StockBalance.qty)
        .join(Location, Location.id == StockBalance.location_id).join(Warehouse, Warehouse.id == StockBalance.warehouse_id)
        .where(StockBalance.sku_id == sku_id, StockBalance.qty > 0)
        .order_by(Warehouse.code, Location.code, StockBalance.status)))


def sku_stock_by_warehouse(sku_id: int) -> list[dict[str, Any]]:
    """One row per warehouse with units in each status."""
    rows = db.session.execute(
        select(Warehouse.id, Warehouse.code, Warehouse.name, StockBalance.status, func.sum(StockBalance.qty))
        .join(Warehouse, Warehouse.id == StockBalance.warehouse_id)
        .where(StockBalance.sku_id == sku_id).group_by(Warehouse.id, Warehouse.code, Warehouse.name, StockBalance.status)
        .order_by(Warehouse.code))
    table: dict[int, dict[str, Any]] = {}
    for wid, code, name, status, qty in rows:
        table.setdefault(wid, {"id": wid, "code": code, "name": name, **{s.value: 0 for s in Status}})[status] = int(qty)
    return list(table.values())


def sku_moves(sku_id: int, page: int = 1, per_page: int = 25) -> Page:
    stmt = (select(StockMove).where(StockMove.sku_id == sku_id)
            .order_by(StockMove.created_at.desc(), StockMove.id.desc()))
    return paginate(stmt, page, per_page)


def users_by_id(ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(db.session.execute(select(User.id, User.username).where(User.id.in_(ids))).all())


def available_to_sell(sku_id: int) -> list[dict[str, Any]]:
    """Per channel: available units in the warehouses that serve it, less the channel's buffer."""
    return available_to_sell_for([sku_id])[sku_id]


def available_to_sell_for(sku_ids: list[int] | set[int]) -> dict[int, list[dict[str, Any]]]:
    """Available-to-sell per channel for several SKUs, in two queries whatever their number."""
    channels = db.session.execute(select(Channel.id, Channel.code, Channel.name, Channel.safety_buffer)
                                  .where(Channel.active.is_(True)).order_by(Channel.code)).all()
    units: dict[tuple[int, int], int] = {}
    if sku_ids:
        for channel_id, sku_id, qty in db.session.execute(
                select(channel_warehouses.c.channel_id, StockBalance.sku_id, func.sum(StockBalance.qty))
                .join(StockBalance, StockBalance.warehouse_id == channel_warehouses.c.warehouse_id)
                .where(StockBalance.sku_id.in_(list(sku_ids)), StockBalance.status == Status.AVAILABLE.value)
                .group_by(channel_warehouses.c.channel_id, StockBalance.sku_id)):
            units[(channel_id, sku_id)] = int(qty or 0)
    return {sku_id: [{"channel_id": cid, "channel": code, "name": name, "available": units.get((cid, sku_id), 0),
                      "buffer": buffer, "available_to_sell": max(0, units.get((cid, sku_id), 0) - buffer)}
                     for cid, code, name, buffer in channels]
            for sku_id in sku_ids}


STOCK_SUMS_MAX_AGE = 30.0  # seconds; see stock_summary_by_warehouse
_STOCK_SUMS: dict[str, tuple[tuple, float, dict[tuple[int, str], tuple[int, int]]]] = {}


def stock_summary_by_warehouse() -> list[dict[str, Any]]:
    """Units and value at cost per warehouse and status, for the dashboards.

    Summing every balance costs time in proportion to the balances, so the sums are kept in this process and
    reused while the ledger's last move and the SKUs' costs are unchanged (both checked on every call, by an
    index lookup and a pass over the SKUs), for at most STOCK_SUMS_MAX_AGE seconds: on PostgreSQL a move can
    commit after one with a higher id, which the last-move check alone would miss.
    """
    version, now = _stock_version(), time.monotonic()
    cached = _STOCK_SUMS.get(str(db.engine.url))
    if cached is None or cached[0] != version or now - cached[1] > STOCK_SUMS_MAX_AGE:
        cached = (version, now, _stock_sums())
        _STOCK_SUMS[str(db.engine.url)] = cached
    table: dict[int, dict[str, Any]] = {}
    for wid, code, name in db.session.execute(select(Warehouse.id, Warehouse.code, Warehouse.name).order_by(Warehouse.code)):
        table[wid] = {"code": code, "name": name, "units": {}, "value": {}}
    for (wid, status), (units, value_minor) in cached[2].items():
        if wid in table:
            table[wid]["units"][status] = units
            # unit_cost is stored in ten-thousandths (Money(4)); the product is summed in SQL exactly.
            table[wid]["value"][status] = Decimal(value_minor) / Decimal(10_000)
    return [entry for entry in table.values() if entry["units"]]


def _stock_version() -> tuple:
    """Changes whenever a balance or a cost can have changed: the last move, and a weighted sum of the costs."""
    last_move = db.session.execute(select(StockMove.id, StockMove.created_at).order_by(StockMove.id.desc()).limit(1)).first()
    costs = db.session.execute(select(func.count(Sku.id), func.coalesce(func.sum(
        type_coerce(Sku.unit_cost, BigInteger) * (Sku.id % 9973 + 1)), 0))).one()
    return (tuple(last_move) if last_move else None, tuple(costs))


def _stock_sums() -> dict[tuple[int, str], tuple[int, int]]:
    rows = db.session.execute(
        select(StockBalance.warehouse_id, StockBalance.status, func.sum(StockBalance.qty),
               func.sum(StockBalance.qty * type_coerce(Sku.unit_cost, BigInteger)))
        .join(Sku, Sku.id == StockBalance.sku_id).group_by(StockBalance.warehouse_id, StockBalance.status))
    return {(wid, status): (int(units or 0), int(value_minor or 0)) for wid, status, units, value_minor in rows}


def warehouses_with_counts() -> list[Any]:
    bins = func.count(Location.id)
    return list(db.session.execute(
        select(Warehouse, bins.label("bins"), func.coalesce(func.max(Location.aisle), -1).label("last_aisle"))
        .outerjoin(Location, (Location.warehouse_id == Warehouse.id) & (Location.kind == "bin"))
        .group_by(Warehouse.id).order_by(Warehouse.code)))


def warehouse_locations(warehouse_id: int, q: str = "", page: int = 1) -> Page:
    units = (select(StockBalance.location_id, func.sum(StockBalance.qty).label("units"),
                    func.count(func.distinct(StockBalance.sku_id)).label("skus"))
             .where(StockBalance.qty > 0).group_by(StockBalance.location_id).subquery())
    stmt = (select(Location, func.coalesce(units.c.units, 0), func.coalesce(units.c.skus, 0))
            .outerjoin(units, units.c.location_id == Location.id).where(Location.warehouse_id == warehouse_id))
    if q:
        stmt = stmt.where(Location.code.ilike(like_pattern(q.strip()), escape="\\"))
    return paginate(stmt.order_by(Location.aisle, Location.position_m, Location.level, Location.code), page, 100,
                    scalars=False)

