"""Demo warehouse execution: carriers with UK rate tables, zones by postcode area, box types, and a day's work.

The day's work: today's allocated shipments wait to be planned; one warehouse has a plan with
its first waves released and partly picked; a few shipments went through pick, pack, label and
ship in the ledger, so their documents sit on their pages.
"""
from __future__ import annotations

import random
from datetime import datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import func, select

from app.domain.capture import Address, LineDraft, OrderDraft
from app.domain.orders import ShipmentStatus
from app.extensions import db
from app.models import Sku, Warehouse
from app.models.carriers import Carrier, CarrierService, RateCard, ShippingZone
from app.models.orders import Shipment
from app.models.types import utcnow
from app.models.warehouse_ops import BoxType, PickBatch
from app.services.demo import demo_seeder

REGIONS = {
    "SE": "E EC N NW SE SW W WC BR CR DA EN HA IG KT RM SM TW UB WD AL BN CM CT GU HP LU ME MK OX RG RH SG SL SS TN SO PO",
    "EAST": "CB CO IP NR PE",
    "MID": "B CV DE DY LE LN NG NN ST WS WV WR HR TF",
    "NW": "M BB BL CA CH CW FY L LA OL PR SK WA WN",
    "NE": "BD DH DL DN HD HG HU HX LS NE S SR TS WF YO",
    "SW": "BA BH BS DT EX GL PL SN SP TA TQ TR",
    "WALES": "CF LD LL NP SA SY",
    "SCOT": "AB DD DG EH FK G KA KY ML PA PH TD",
    "REMOTE": "HS IV KW ZE BT GY JE IM",
}
# warehouse -> (home region, nearby regions); everything else in mainland Britain is Z3, remote areas Z4
NEARBY = {
    "LON": ("SE", {"EAST", "MID", "SW"}),
    "MAN": ("NW", {"MID", "NE", "WALES", "SCOT"}),
    "BRS": ("SW", {"WALES", "SE", "MID"}),
    "MK3": ("MID", {"SE", "EAST", "NW", "NE", "WALES"}),
}
EU_COUNTRIES = ["IE", "FR", "DE", "NL", "BE", "ES", "IT", "PT", "DK", "SE", "AT", "PL"]

GB_ZONES = ("Z1", "Z2", "Z3", "Z4")
def _dpd_next_day() -> dict:
    base = [("2", "6.45"), ("5", "7.25"), ("10", "8.95"), ("20", "11.50"), ("30", "14.90")]
    extra = {"Z1": "0", "Z2": "0.40", "Z3": "0.90", "Z4": "9.50"}
    return {zone: [(kg, str(Decimal(p) + Decimal(extra[zone]))) for kg, p in base] for zone in GB_ZONES}


def _flat(base: list[tuple[str, str]], remote_extra: str = "0") -> dict:
    return {zone: [(kg, str(Decimal(p) + (Decimal(remote_extra) if zone == "Z4" else 0))) for kg, p in base]
            for zone in GB_ZONES}


CARRIERS = [
    ("DPD", "DPD", "15", [
        ("NEXT", "Next day", 1, time(17, 30), _dpd_next_day),
        ("EU", "Classic Europe", 3, time(17, 0),
         lambda: {"EU": [("2", "12.90"), ("5", "15.40"), ("10", "19.80"), ("20", "26.50")]}),
    ]),
    ("RM", "Royal Mail", "RM", [
        ("T24", "Tracked 24", 1, time(16, 30), lambda: _flat([("1", "4.15"), ("2", "5.05"), ("10", "8.40"), ("20", "13.90")])),
        ("T48", "Tracked 48", 2, time(16, 30), lambda: _flat([("1", "3.35"), ("2", "4.15"), ("10", "6.85"), ("20", "11.90")])),
        ("INTL", "International Tracked", 5, time(16, 0),
         lambda: {"EU": [("1", "9.95"), ("2", "14.20"), ("5", "24.50")], "INTL": [("1", "14.50"), ("2", "22.75")]}),
    ]),
    ("EVRI", "Evri", "H0", [
        ("STD", "Standard 48", 2, time(15, 0), lambda: _flat([("1", "2.95"), ("2", "3.65"), ("5", "5.45"), ("15", "8.95")], "3.00")),
    ]),
]

BOXES = [
    ("MAIL-S", "Small mailer", "mailer", (30, 22, 4), "1", "0.02", "0.12"),
    ("MAIL-L", "Large mailer", "mailer", (42, 34, 7), "2", "0.04", "0.20"),
    ("CTN-XS", "Extra small carton", "carton", (20, 15, 12), "5", "0.10", "0.35"),
    ("CTN-S", "Small carton", "carton", (30, 23, 16), "10", "0.18", "0.45"),
    ("CTN-M", "Medium carton", "carton", (40, 30, 22), "15", "0.30", "0.70"),
    ("CTN-L", "Large carton", "carton", (50, 40, 32), "25", "0.48", "1.10"),
    ("CTN-XL", "Extra large carton", "carton", (62, 46, 42), "30", "0.70", "1.60"),
]


def _seed_carriers() -> int:
    services = 0
    for code, name, prefix, offered in CARRIERS:
        carrier = Carrier(code=code, name=name, api_kind="table", tracking_prefix=prefix, last_tracking_serial=0)
        db.session.add(carrier)
        for s_code, s_name, days, cutoff, rates in offered:
            service = CarrierService(carrier=carrier, code=s_code, name=s_name, transit_days=days, cutoff=cutoff)
            db.session.add(service)
            services += 1
            for zone, breaks in rates().items():
                for kg, price in breaks:
                    service.rates.append(RateCard(zone=zone, max_weight_kg=Decimal(kg), price=Decimal(price)))
    return services


def _zone(warehouse_code: str, region: str) -> str:
    home, near = NEARBY.get(warehouse_code, ("SE", set()))
    if region == "REMOTE":
        return "Z4"
    return "Z1" if region == home else ("Z2" if region in near else "Z3")


def _seed_zones(warehouses: list[Warehouse]) -> int:
    rows = 0
    for warehouse in warehouses:
        for region, areas in REGIONS.items():
            for area in areas.split():
                db.session.add(ShippingZone(warehouse_id=warehouse.id, country="GB", postcode_prefix=area,
                                            zone=_zone(warehouse.code, region)))
                rows += 1
        db.session.add(ShippingZone(warehouse_id=warehouse.id, country="GB", postcode_prefix="", zone="Z3"))
        for country in EU_COUNTRIES:
            db.session.add(ShippingZone(warehouse_id=warehouse.id, country=country, postcode_prefix="", zone="EU"))
        db.session.add(ShippingZone(warehouse_id=warehouse.id, country="*", postcode_prefix="", zone="INTL"))
        rows += len(EU_COUNTRIES) + 2
    return rows


def _seed_boxes() -> None:
    for code, name, kind, dims, max_kg, tare, cost in BOXES:
        db.session.add(BoxType(code=code, name=name, kind=kind, length_cm=Decimal(dims[0]), width_cm=Decimal(dims[1]),
                               height_cm=Decimal(dims[2]), max_weight_kg=Decimal(max_kg), tare_kg=Decimal(tare),
                               cost=Decimal(cost)))


@demo_seeder(40)
def seed_warehouse_execution(rng: random.Random, *, orders: int) -> str:
    """Carriers, zones, boxes, then today's work on the floor."""
    warehouses = list(db.session.scalars(select(Warehouse).order_by(Warehouse.code)))
    services = _seed_carriers()
    zones = _seed_zones(warehouses)
    _seed_boxes()
    db.session.commit()
    work = _days_work(rng, warehouses)
    return f"{len(CARRIERS)} carriers with {services} services, {zones} zone rows, {len(BOXES)} box types; {work}"


# --- a day's work --------------------------------------------------------------------------------------------

STREETS = ["High Street", "Station Road", "Church Lane", "Park Avenue", "Mill Lane", "Victoria Road", "Queen Street"]
TOWNS = [("Leeds", "LS6 2AB"), ("Croydon", "CR0 1PB"), ("Norwich", "NR2 4AB"), ("Cardiff", "CF10 1EP"),
         ("Edinburgh", "EH3 9AA"), ("Birmingham", "B15 2TT"), ("Manchester", "M20 2RN"), ("Brighton", "BN1 1AE"),
         ("Exeter", "EX4 3SR"), ("Belfast", "BT9 5AB"), ("Oxford", "OX4 1AA"), ("York", "YO1 7HH")]


def _todays_orders(rng: random.Random, count: int) -> None:
    """Paid web-store orders placed this morning, allocated on capture by the channel's rules."""
    from app.services.orders import capture_order
    skus = list(db.session.scalars(select(Sku).where(Sku.active.is_(True)).order_by(Sku.id)))
    placed = utcnow().replace(hour=6, minute=0, second=0, microsecond=0)
    for n in range(count):
        town, postcode = rng.choice(TOWNS)
        lines = tuple(LineDraft(sku.code, rng.choice([1, 1, 1, 2]), sku.price) for sku in rng.sample(skus, rng.choice([1, 1, 2, 3])))
        total = sum((line.qty * line.unit_price for line in lines), Decimal("0"))
        name = f"{rng.choice(['Ann', 'Ben', 'Cara', 'Dev', 'Ella', 'Finn', 'Gwen', 'Hugo'])} {rng.choice(['Smith', 'Jones', 'Patel', 'Evans', 'Brown'])}"
        draft = OrderDraft(external_id=f"DEMO-FLOOR-{n + 1:04d}", number=None, currency="GBP",
                           placed_at=placed + timedelta(minutes=7 * n), updated_at=None, customer_name=name,
                           customer_email=f"floor{n + 1}@example.com",
                           ship_to=Address(name=name, address1=f"{rng.randint(1, 200)} {rng.choice(STREETS)}", city=town,
                                           postcode=postcode, country="GB"),
                           billing_country="GB", payment_captured=True, lines=lines, shipping=Decimal("3.95"),
                           shipping_tax=Decimal("0"), order_discount=Decimal("0"), total=total + Decimal("3.95"))
        capture_order("SHOP", draft, source="manual")


def _allocated_count(warehouse_id: int) -> int:
    return db.session.scalar(select(func.count(Shipment.id)).where(Shipment.warehouse_id == warehouse_id,
                                                                   Shipment.status == ShipmentStatus.ALLOCATED.value))


def _days_work(rng: random.Random, warehouses: list[Warehouse]) -> str:
    from app.services import waves
    main = next((w for w in warehouses if w.code == "LON"), warehouses[0] if warehouses else None)
    if main is None:
        return "no warehouse for a day's work"
    if _allocated_count(main.id) < 30:
        _todays_orders(rng, 60)
    shipped = _ship_a_few(main)
    zone = waves.local_zone(main)
    morning = datetime.combine(waves.local_today(main), time(7, 0), zone)
    plan = waves.plan_waves(main.id, mode="max_on_time", now=morning, time_limit_s=3)
    released = [w for w in plan.waves if w.members][:2]
    for wave in released:
        waves.release_wave(wave.id)
    picked = _pick_part(released)
    return (f"{shipped} shipments shipped with labels; plan {plan.id} for {main.code} with {plan.orders} shipments, "
            f"{len(released)} waves released, {picked} lines picked")


def _ship_a_few(warehouse: Warehouse, count: int = 4) -> int:
    """A few shipments all the way through: their own wave, every scan, packing, label, ship confirm."""
    from app.services import packing, shipping, waves
    from app.services.picking import current_task, scan_pick
    zone = waves.local_zone(warehouse)
    morning = datetime.combine(waves.local_today(warehouse), time(7, 0), zone)
    plan = waves.plan_waves(warehouse.id, mode="max_on_time", now=morning, time_limit_s=2)
    wave = next((w for w in plan.waves if w.members), None)
    if wave is None:
        return 0
    keep = {m.shipment_id for m in wave.members[:count]}
    for member in wave.members[count:]:
        db.session.delete(member)
    db.session.commit()
    waves.release_wave(wave.id)
    for batch in list(db.session.scalars(select(PickBatch).where(PickBatch.wave_id == wave.id))):
        while (task := current_task(batch)) is not None:
            for code in (task.location.code, task.sku.gtin or task.sku.code, ""):
                scan_pick(batch.id, code, user_id=None)
    done = 0
    for shipment_id in keep:
        shipment = db.session.get(Shipment, shipment_id)
        if shipment.status != ShipmentStatus.PICKED:
            continue
        packing.start_packing(shipment.id)
        for line in shipment.lines:
            for _ in range(line.qty):
                packing.scan_pack(shipment.id, line.sku.code)
        packing.complete_packing(shipment.id)
        shipping.ship_shipment(shipment.id)
        done += 1
    return done


def _pick_part(released) -> int:
    """Half of the first released batch picked right, so the floor has work in progress."""
    from app.services.picking import current_task, scan_pick
    if not released or not released[0].batches:
        return 0
    batch = released[0].batches[0]
    picked = 0
    for _ in range(len(batch.tasks) // 2):
        task = current_task(batch)
        if task is None:
            break
        for code in (task.location.code, task.sku.gtin or task.sku.code, ""):
            scan_pick(batch.id, code, user_id=None)
        picked += 1
    return picked
