"""Wave and labour planning: which allocated shipments are picked in which wave, by how many pickers.

The service turns a warehouse's allocated shipments into a `solvers.waves` instance (orders are
shipments, lines are shipment lines, the cut-off is the collection cut-off of the cheapest
service that keeps the order's promise), stores the answer as a WavePlan with its waves, and
saves the pickers per wave as that day's LabourPlan, which routing reads as capacity.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import contains_eager, selectinload

from solvers import waves as wave_solver
from app.domain.errors import Conflict, NotFound, ValidationError
from app.domain.orders import ShipmentStatus
from app.extensions import db
from app.models import Warehouse
from app.models.orders import Order, Shipment, ShipmentLine
from app.models.types import utcnow
from app.models.warehouse_ops import LabourPlan, Wave, WaveOrder, WavePlan
from app.services import carriers
from app.services._uow import service
from app.services.events import record_event
from app.services.orders import move_shipment
from app.services.settings import get_setting

MODES = {"max_on_time": "Most orders on time", "min_labour": "Fewest picker hours"}
DEFAULT_CUTOFF = time(17, 0)


@dataclass(frozen=True)
class ShipmentCutoff:
    """When a shipment must be packed and handed over, and to whom."""

    shipment: Shipment
    cutoff: time
    carrier: str


def warehouse_or_404(warehouse_id: int) -> Warehouse:
    warehouse = db.session.get(Warehouse, warehouse_id)
    if warehouse is None:
        raise NotFound("No such warehouse.", field="warehouse")
    return warehouse


def local_zone(warehouse: Warehouse) -> ZoneInfo:
    try:
        return ZoneInfo(warehouse.timezone or "UTC")
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def local_today(warehouse: Warehouse, now: datetime | None = None) -> date:
    return (now or utcnow()).astimezone(local_zone(warehouse)).date()


def _clock(value: str) -> time:
    hours, minutes = str(value).split(":")
    return time(int(hours), int(minutes))


def _minutes(moment: time) -> int:
    return moment.hour * 60 + moment.minute


def _format(minutes: float) -> str:
    minutes = max(0, min(int(math.ceil(minutes)), 23 * 60 + 59))
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def shipment_weight(shipment: Shipment) -> Decimal:
    return sum((line.sku.weight_kg * line.qty for line in shipment.lines), Decimal("0"))


def shipment_quote(shipment: Shipment, ship_date: date, zone: str, quoter: carriers.Quoter) -> carriers.Quote | None:
    """The cheapest service that keeps the order's promise for this shipment, or None when none carries it."""
    try:
        return quoter.cheapest(zone, max(shipment_weight(shipment), Decimal("0.1")), shipment.order.promised_ship_date,
                               ship_date)
    except NotFound:
        return None


def shipment_cutoffs(warehouse: Warehouse, shipments: list[Shipment], ship_date: date) -> list[ShipmentCutoff]:
    """Each shipment's cut-off, quoted in memory from the warehouse's zones and rate cards loaded once."""
    zone_map = carriers.ZoneMap(warehouse.id)
    zones = [zone_map.zone(s.order.ship_country, s.order.ship_postcode) for s in shipments]
    quoter = carriers.Quoter(warehouse, sorted(set(zones)))
    latest = max(carriers.parse_cutoffs(warehouse.carrier_cutoffs).values(), default=DEFAULT_CUTOFF)
    found = []
    for shipment, zone in zip(shipments, zones):
        quote = shipment_quote(shipment, ship_date, zone, quoter)
        found.append(ShipmentCutoff(shipment, quote.cutoff, quote.label) if quote is not None
                     else ShipmentCutoff(shipment, latest, "no priced service"))
    return found


def allocated_shipments(warehouse_id: int) -> list[Shipment]:
    """Shipments reserved in the warehouse and not yet in a released wave, oldest promise first."""
    return list(db.session.scalars(
        select(Shipment).join(Order).where(Shipment.warehouse_id == warehouse_id,
                                           Shipment.status == ShipmentStatus.ALLOCATED.value)
        .options(contains_eager(Shipment.order), selectinload(Shipment.lines).joinedload(ShipmentLine.sku))
        .order_by(Order.promised_ship_date, Order.priority.desc(), Shipment.id)))


def _has_allocated_shipments(warehouse_id: int) -> bool:
    return db.session.scalar(select(Shipment.id).where(Shipment.warehouse_id == warehouse_id,
                                                       Shipment.status == ShipmentStatus.ALLOCATED.value).limit(1)) is not None


def cutoff_groups(warehouse_id: int, day: date) -> list[dict]:
    """Allocated shipments counted by the cut-off they must make: [{cutoff, carrier, shipments, lines, units}]."""
    groups: dict[tuple, dict] = {}
    shipments = allocated_shipments(warehouse_id)
    for found in shipment_cutoffs(warehouse_or_404(warehouse_id), shipments, day) if shipments else []:
        group = groups.setdefault((found.cutoff, found.carrier), {"cutoff": found.cutoff, "carrier": found.carrier,
                                                                  "shipments": 0, "lines": 0, "units": 0})
        group["shipments"] += 1
        group["lines"] += len(found.shipment.lines)
        group["units"] += found.shipment.units
    return [groups[key] for key in sorted(groups)]


# --- planning ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Shift:
    start: time
    wave_minutes: int
    waves: int


def shift_for(warehouse: Warehouse) -> Shift:
    wave_minutes = int(get_setting("waves.wave_minutes"))
    return Shift(_clock(get_setting("waves.shift_start")), wave_minutes,
                 max(1, warehouse.shift_hours * 60 // wave_minutes))


def default_plan_day(warehouse: Warehouse, now: datetime | None = None) -> date:
    """Today while the shift has a wave left to start, else the next working day."""
    local_now = (now or utcnow()).astimezone(local_zone(warehouse))
    shift = shift_for(warehouse)
    last_start = _minutes(shift.start) + (shift.waves - 1) * shift.wave_minutes
    day = local_now.date()
    if local_now.hour * 60 + local_now.minute > last_start:
        day += timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def _release_minutes(warehouse: Warehouse, day: date, shift: Shift, now: datetime) -> int:
    local_now = now.astimezone(local_zone(warehouse))
    if day > local_now.date():
        return _minutes(shift.start)
    return max(_minutes(shift.start), local_now.hour * 60 + local_now.minute + (1 if local_now.second else 0))


def _priority(order: Order, day: date) -> int:
    overdue = order.promised_ship_date <= day
    return max(1, order.priority) * (2 if overdue else 1) + (2 if order.rush else 0)


def build_instance(warehouse: Warehouse, day: date, mode: str, *, pickers: list[int] | None, max_pickers: int | None,
                   now: datetime) -> tuple[dict, dict[str, ShipmentCutoff]]:
    """The solver instance for a warehouse's day, and each shipment's cut-off by shipment number."""
    shift = shift_for(warehouse)
    release = _format(_release_minutes(warehouse, day, shift, now))
    cutoffs = {found.shipment.number: found for found in shipment_cutoffs(warehouse, allocated_shipments(warehouse.id), day)}
    instance = {
        "start": _format(_minutes(shift.start)), "wave_minutes": shift.wave_minutes, "waves": shift.waves,
        "max_orders_per_wave": int(get_setting("waves.max_orders_per_wave")),
        "minutes_per_order": float(get_setting("waves.minutes_per_order")),
        "minutes_per_line": float(get_setting("waves.minutes_per_line")),
        "pack_minutes": float(get_setting("waves.pack_minutes")), "mode": mode,
        "orders": [{"id": number, "lines": len(found.shipment.lines), "cutoff": _format(_minutes(found.cutoff)),
                    "release": release, "priority": _priority(found.shipment.order, day)}
                   for number, found in cutoffs.items()],
        "time_limit_s": float(get_setting("waves.time_limit_s")),
    }
    if mode == "max_on_time":
        instance["pickers"] = _pickers_per_wave(warehouse, day, shift, pickers)
    else:
        instance["max_pickers"] = max_pickers if max_pickers is not None else warehouse.pickers_per_shift
        instance["picker_cost_per_wave"] = float(get_setting("waves.picker_cost_per_hour")) * shift.wave_minutes / 60
    return instance, cutoffs


def _pickers_per_wave(warehouse: Warehouse, day: date, shift: Shift, pickers: list[int] | None) -> list[int]:
    if pickers:
        return (list(pickers) * shift.waves)[:shift.waves] if len(pickers) == 1 else list(pickers)
    saved = labour_plan_for(warehouse.id, day)
    if saved is not None and len(saved.pickers) == shift.waves and any(saved.pickers):
        return list(saved.pickers)
    return [warehouse.pickers_per_shift] * shift.waves


def _check_plan_input(mode: str, pickers: list[int] | None, max_pickers: int | None, waves: int) -> None:
    errors = {}
    if mode not in MODES:
        errors["mode"] = "Choose how to plan: most orders on time, or fewest picker hours."
    if pickers is not None and (any(p < 0 or p > 500 for p in pickers) or len(pickers) not in (1, waves)):
        errors["pickers"] = f"Give one number of pickers (0-500), or one per wave ({waves})."
    if max_pickers is not None and not 0 <= max_pickers <= 500:
        errors["max_pickers"] = "Pickers must be between 0 and 500."
    if errors:
        raise ValidationError(errors=errors)


@service
def plan_waves(warehouse_id: int, *, mode: str = "max_on_time", day: date | None = None,
               pickers: list[int] | None = None, max_pickers: int | None = None, user_id: int | None = None,
               now: datetime | None = None, time_limit_s: float | None = None) -> WavePlan:
    """Plan the day's waves for a warehouse's allocated shipments; saves the plan and the labour plan."""
    warehouse = warehouse_or_404(warehouse_id)
    now = now or utcnow()
    day = day or default_plan_day(warehouse, now)
    shift = shift_for(warehouse)
    _check_plan_input(mode, pickers, max_pickers, shift.waves)
    instance, cutoffs = build_instance(warehouse, day, mode, pickers=pickers, max_pickers=max_pickers, now=now)
    if time_limit_s is not None:
        instance["time_limit_s"] = time_limit_s
    problem = wave_solver.parse_problem(instance)
    started = utcnow()
    result = wave_solver.solve(problem)
    seconds = (utcnow() - started).total_seconds()
    baseline = wave_solver.baseline(problem)
    plan = _store_plan(warehouse, day, mode, shift, problem, result, baseline, cutoffs, user_id, seconds)
    save_labour_plan(warehouse, day, shift, list(result.pickers), plan.id, user_id)
    record_event("waves.planned", "wave_plan", plan.id, {"warehouse": warehouse.code, "day": day.isoformat(),
                                                         "mode": mode, "orders": plan.orders, "late": plan.late,
                                                         "unplanned": plan.unplanned}, user_id=user_id)
    db.session.commit()
    return plan


def _picker_hours(pickers, wave_minutes: int) -> Decimal:
    return Decimal(sum(pickers) * wave_minutes) / Decimal(60)


def _store_plan(warehouse, day, mode, shift, problem, result, baseline, cutoffs, user_id, seconds) -> WavePlan:
    _supersede_open_plans(warehouse.id, day)
    plan = WavePlan(warehouse_id=warehouse.id, day=day, mode=mode, status="planned", solver_status=result.status,
                    objective=Decimal(str(result.objective)), baseline_objective=Decimal(str(baseline.objective)),
                    start=shift.start, wave_minutes=shift.wave_minutes, orders=len(problem.orders),
                    late=len(result.late), unplanned=len(result.unplanned),
                    baseline_late=len(baseline.late) + len(baseline.unplanned),
                    picker_hours=_picker_hours(result.pickers, shift.wave_minutes),
                    baseline_picker_hours=_picker_hours(baseline.pickers, shift.wave_minutes),
                    solve_seconds=Decimal(str(round(seconds, 3))), created_by_id=user_id, created_at=utcnow())
    db.session.add(plan)
    db.session.flush()
    zone = local_zone(warehouse)
    late = set(result.late)
    for planned in result.waves:
        wave = Wave(plan=plan, warehouse_id=warehouse.id, index=planned.index, pickers=planned.pickers,
                    number=f"W{plan.id}-{planned.index + 1}", work_minutes=Decimal(str(round(planned.work_minutes, 2))),
                    starts_at=_at(day, problem.wave_start(planned.index), zone),
                    ends_at=_at(day, problem.wave_end(planned.index), zone))
        db.session.add(wave)
        for number in planned.orders:
            found = cutoffs[number]
            wave.members.append(WaveOrder(shipment_id=found.shipment.id, lines=len(found.shipment.lines),
                                          cutoff_at=datetime.combine(day, found.cutoff, zone), carrier=found.carrier[:80],
                                          on_time=number not in late))
    return plan


def _at(day: date, minutes: float, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0, 0), zone) + timedelta(minutes=minutes)


def _supersede_open_plans(warehouse_id: int, day: date) -> None:
    for old in db.session.scalars(select(WavePlan).where(WavePlan.warehouse_id == warehouse_id, WavePlan.day == day,
                                                         WavePlan.status == "planned")):
        old.status = "superseded"
        for wave in old.waves:
            if wave.status == "planned":
                wave.status = "superseded"


def save_labour_plan(warehouse: Warehouse, day: date, shift: Shift, pickers: list[int], plan_id: int | None,
                     user_id: int | None) -> LabourPlan:
    """Keep the pickers per wave for the warehouse's day (one labour plan per warehouse and day)."""
    labour = labour_plan_for(warehouse.id, day)
    if labour is None:
        labour = LabourPlan(warehouse_id=warehouse.id, day=day)
        db.session.add(labour)
    labour.plan_id, labour.start, labour.wave_minutes = plan_id, shift.start, shift.wave_minutes
    labour.pickers, labour.updated_by_id, labour.updated_at = [int(p) for p in pickers], user_id, utcnow()
    return labour


def labour_plan_for(warehouse_id: int, day: date) -> LabourPlan | None:
    return db.session.scalar(select(LabourPlan).where(LabourPlan.warehouse_id == warehouse_id, LabourPlan.day == day))


def labour_capacity_units(warehouse_id: int, day: date) -> int | None:
    """Units the planned pickers can pick that day; None when no labour plan exists for it."""
    labour = labour_plan_for(warehouse_id, day)
    if labour is None:
        return None
    warehouse = warehouse_or_404(warehouse_id)
    hours = Decimal(sum(labour.pickers) * labour.wave_minutes) / Decimal(60)
    return int(hours * warehouse.units_per_picker_hour)


# --- releasing -----------------------------------------------------------------------------------------------

@service
def release_wave(wave_id: int, *, user_id: int | None = None) -> Wave:
    """Send a planned wave to the floor: its shipments become released and are split into pick batches."""
    from app.services.picking import build_batches
    from app.services.shipping import settle_order_status
    wave = db.session.get(Wave, wave_id)
    if wave is None:
        raise NotFound("No such wave.")
    if wave.status != "planned":
        raise Conflict(f"Wave {wave.number} is {wave.status}; only a planned wave can be released.")
    released = []
    for member in wave.members:
        shipment = member.shipment
        if shipment.status != ShipmentStatus.ALLOCATED:
            continue
        move_shipment(shipment, ShipmentStatus.RELEASED, f"released in wave {wave.number}", user_id)
        shipment.wave_id = wave.id
        settle_order_status(shipment.order, user_id, f"wave {wave.number} released")
        released.append(shipment)
    if not released:
        raise Conflict(f"Wave {wave.number} has no shipments still waiting to be released.")
    wave.status, wave.released_at, wave.released_by_id = "released", utcnow(), user_id
    wave.plan.status = "released"
    db.session.flush()
    batches = build_batches(wave, released)
    record_event("wave.released", "wave", wave.number, {"wave": wave.number, "shipments": [s.number for s in released],
                                                        "batches": [b.number for b in batches]}, user_id=user_id)
    db.session.commit()
    return wave


def get_plan(plan_id: int) -> WavePlan:
    plan = db.session.get(WavePlan, plan_id)
    if plan is None:
        raise NotFound("No such wave plan.")
    return plan


def get_wave(wave_id: int) -> Wave:
    wave = db.session.get(Wave, wave_id)
    if wave is None:
        raise NotFound("No such wave.")
    return wave


def latest_plan(warehouse_id: int, day: date) -> WavePlan | None:
    return db.session.scalar(select(WavePlan).where(WavePlan.warehouse_id == warehouse_id, WavePlan.day == day,
                                                    WavePlan.status != "superseded").order_by(WavePlan.id.desc()))


def plan_summary(plan: WavePlan) -> dict:
    """Figures a supervisor reads first: on time, late, unplanned, picker hours, against the baseline."""
    on_time = sum(1 for wave in plan.waves for m in wave.members if m.on_time)
    return {"orders": plan.orders, "on_time": on_time, "late": plan.late, "unplanned": plan.unplanned,
            "baseline_missed": plan.baseline_late, "picker_hours": plan.picker_hours,
            "baseline_picker_hours": plan.baseline_picker_hours}


def plan_waves_for_code(code: str, *, mode: str = "max_on_time", day: date | None = None,
                        user_id: int | None = None) -> WavePlan:
    """Plan a warehouse's day by its code (the command line and the scheduled job)."""
    warehouse = db.session.scalar(select(Warehouse).where(Warehouse.code == (code or "").strip().upper()))
    if warehouse is None:
        raise NotFound(f"No warehouse '{code}'.", field="warehouse")
    return plan_waves(warehouse.id, mode=mode, day=day, user_id=user_id)


def plan_all_warehouses(mode: str = "max_on_time") -> list[str]:
    """Plan today's waves in every active warehouse that has shipments waiting; one summary line each."""
    lines = []
    for warehouse in db.session.scalars(select(Warehouse).where(Warehouse.active.is_(True)).order_by(Warehouse.code)):
        if not _has_allocated_shipments(warehouse.id):
            continue
        plan = plan_waves(warehouse.id, mode=mode)
        lines.append(f"{warehouse.code}: {plan.orders} shipments, {plan.late} late, {plan.unplanned} not planned")
    return lines
