"""Today on the floor, for supervisors: orders by state and warehouse, backlog against labour, waves
against their cut-offs, and each carrier's pickup."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.orm import aliased

from app.domain.inventory import Reason
from app.domain.orders import OrderStatus, ShipmentStatus
from app.extensions import db
from app.models import Location, StockMove, Warehouse
from app.models.orders import Order, Shipment, ShipmentLine
from app.models.warehouse_ops import Wave, WaveOrder
from app.services.carriers import parse_cutoffs
from app.services.kpis import day_end, local_midnight, zone

NOT_ROUTED = "—"
WAITING_TO_PICK = (ShipmentStatus.ALLOCATED.value, ShipmentStatus.RELEASED.value, ShipmentStatus.PICKING.value)


def local_today() -> date:
    return datetime.now(zone()).date()


def _warehouses() -> list[Warehouse]:
    return list(db.session.scalars(select(Warehouse).where(Warehouse.active.is_(True)).order_by(Warehouse.code)))


@dataclass(frozen=True)
class StateGrid:
    """Orders placed on a day, counted by status (columns) and shipping warehouse (rows)."""

    statuses: list[str]
    rows: list[tuple[str, dict[str, int]]]

    @property
    def peak(self) -> int:
        return max((n for _code, cells in self.rows for n in cells.values()), default=0)

    def heat(self, count: int) -> int:
        """0 to 4: how hot a cell is against the busiest one, for its shading."""
        return 0 if not count or not self.peak else min(4, 1 + (4 * count - 1) // self.peak)

    def total(self, status: str) -> int:
        return sum(cells.get(status, 0) for _code, cells in self.rows)


def orders_by_state(day: date) -> StateGrid:
    """Orders placed on `day` by status and the warehouse of each live shipment (one order may count twice)."""
    stmt = (select(Warehouse.code, Order.status, func.count(func.distinct(Order.id)))
            .select_from(Order)
            .outerjoin(Shipment, (Shipment.order_id == Order.id) & (Shipment.status != ShipmentStatus.CANCELLED.value))
            .outerjoin(Warehouse, Warehouse.id == Shipment.warehouse_id)
            .where(Order.placed_at >= local_midnight(day), Order.placed_at < day_end(day))
            .group_by(Warehouse.code, Order.status))
    cells: dict[str, dict[str, int]] = {w.code: {} for w in _warehouses()}
    for code, status, count in db.session.execute(stmt):
        cells.setdefault(code or NOT_ROUTED, {})[status] = int(count)
    return StateGrid([s.value for s in OrderStatus], [(code, cells[code]) for code in cells])


@dataclass(frozen=True)
class Backlog:
    """A warehouse's units waiting to be picked against what its pickers can still pick today."""

    warehouse: Warehouse
    waiting: int
    picked_today: int
    capacity: int

    @property
    def remaining(self) -> int:
        return max(0, self.capacity - self.picked_today)

    @property
    def load(self) -> float | None:
        """Waiting units as a share of the capacity left today; above 1 the backlog outruns the shift."""
        return self.waiting / self.remaining if self.remaining else None


def backlog_against_labour(day: date) -> list[Backlog]:
    from app.services.routing import daily_capacity
    waiting = dict(db.session.execute(
        select(Shipment.warehouse_id, func.sum(ShipmentLine.qty - ShipmentLine.qty_picked))
        .join(Shipment, Shipment.id == ShipmentLine.shipment_id).where(Shipment.status.in_(WAITING_TO_PICK))
        .group_by(Shipment.warehouse_id)).all())
    source = aliased(Location)
    picked = dict(db.session.execute(
        select(source.warehouse_id, func.sum(StockMove.qty)).join(source, source.id == StockMove.from_location_id)
        .where(StockMove.reason == Reason.PICK.value, StockMove.created_at >= local_midnight(day),
               StockMove.created_at < day_end(day))
        .group_by(source.warehouse_id)).all())
    return [Backlog(w, int(waiting.get(w.id) or 0), int(picked.get(w.id) or 0), daily_capacity(w, day))
            for w in _warehouses()]


@dataclass(frozen=True)
class WaveAgainstCutoff:
    wave: Wave
    shipments: int
    cutoff: datetime | None
    late: int

    @property
    def margin(self) -> timedelta | None:
        """Time between the wave's end and its earliest cut-off; negative when it ends too late."""
        return self.cutoff - self.wave.ends_at if self.cutoff else None


def waves_against_cutoffs(day: date) -> list[WaveAgainstCutoff]:
    """Today's live waves with their earliest carrier cut-off and the shipments planned to miss one."""
    members = (select(WaveOrder.wave_id, func.count(WaveOrder.id).label("shipments"),
                      func.min(WaveOrder.cutoff_at).label("cutoff"),
                      func.sum(case((WaveOrder.on_time.is_(False), 1), else_=0)).label("late"))
               .group_by(WaveOrder.wave_id).subquery())
    rows = db.session.execute(
        select(Wave, members.c.shipments, members.c.cutoff, members.c.late)
        .outerjoin(members, members.c.wave_id == Wave.id)
        .where(Wave.starts_at >= local_midnight(day), Wave.starts_at < day_end(day), Wave.status != "superseded")
        .order_by(Wave.starts_at, Wave.warehouse_id, Wave.index))
    return [WaveAgainstCutoff(wave, int(count or 0), cutoff, int(late or 0)) for wave, count, cutoff, late in rows]


@dataclass(frozen=True)
class Pickup:
    """One carrier's collection at one warehouse today: what is packed and waiting, what already went."""

    warehouse: str
    carrier: str
    packed: int
    shipped: int
    cutoff: time | None

    def state(self, now: datetime) -> str:
        if self.cutoff is None:
            return "no cut-off"
        local = now.astimezone(zone())
        return "passed" if local.time() >= self.cutoff else "open"


def carrier_pickups(day: date) -> list[Pickup]:
    """Shipments packed (waiting for the van) or shipped today, per warehouse and carrier, with the cut-off."""
    stmt = (select(Warehouse.code, Warehouse.carrier_cutoffs, Shipment.carrier, Shipment.status, func.count(Shipment.id))
            .join(Warehouse, Warehouse.id == Shipment.warehouse_id)
            .where((Shipment.status == ShipmentStatus.PACKED.value)
                   | ((Shipment.status == ShipmentStatus.SHIPPED.value) & (Shipment.shipped_at >= local_midnight(day))
                      & (Shipment.shipped_at < day_end(day))))
            .group_by(Warehouse.code, Warehouse.carrier_cutoffs, Shipment.carrier, Shipment.status))
    found: dict[tuple[str, str], dict] = {}
    for code, cutoffs, carrier, status, count in db.session.execute(stmt):
        entry = found.setdefault((code, carrier or ""), {"packed": 0, "shipped": 0, "cutoffs": cutoffs})
        entry["packed" if status == ShipmentStatus.PACKED.value else "shipped"] += int(count)
    return [Pickup(code, carrier or "Not chosen yet", e["packed"], e["shipped"], _cutoff_for(carrier, e["cutoffs"]))
            for (code, carrier), e in sorted(found.items())]


def _cutoff_for(carrier: str, cutoffs: str) -> time | None:
    name = (carrier or "").lower()
    return next((at for who, at in parse_cutoffs(cutoffs).items() if name and (name.startswith(who) or who in name)),
                None)
