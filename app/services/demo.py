"""The demo retailer, Harbour & Pine: warehouses, bins, SKUs, suppliers, channels, stock and people.

Seeded into an empty database by `make run`. Deterministic: the same seed gives the same data.
"""
from __future__ import annotations

import random
import time
from decimal import Decimal

from sqlalchemy import func, insert, select

from app.domain.gs1 import check_digit
from app.domain.inventory import Cause, Outside, Reason, Status
from app.domain.roles import Role
from app.extensions import db
from app.models import Channel, Location, Sku, Supplier, User, Warehouse, channel_warehouses
from app.services import ledger
from app.services._uow import service
from app.services.ledger import Place
from werkzeug.security import generate_password_hash

DEMO_PASSWORD = "demo"
DEMO_USERS = [
    ("admin", Role.ADMIN, "Administrator"),
    ("retail", Role.RETAIL, "Ecommerce operations"),
    ("warehouse", Role.WAREHOUSE, "Warehouse associate"),
    ("supervisor", Role.SUPERVISOR, "Warehouse supervisor"),
    ("procurement", Role.PROCUREMENT, "Procurement"),
    ("finance", Role.FINANCE, "Finance"),
    ("returns", Role.RETURNS, "Returns"),
]
DEMO_NAMES = {"admin": "Alex Morgan", "retail": "Priya Shah", "warehouse": "Tom Baker", "supervisor": "Grace Okafor",
              "procurement": "Luis Ortega", "finance": "Hannah Li", "returns": "Sam Reid"}

WAREHOUSES = [
    # code, name, kind, city, postcode, aisles, pickers, cut-offs
    ("LON", "London Park Royal", "own", "London", "NW10 7NZ", 12, 8, "DPD 17:30, Royal Mail 16:30, Evri 15:00"),
    ("MAN", "Manchester Trafford", "own", "Manchester", "M17 1WA", 10, 6, "DPD 17:00, Royal Mail 16:00"),
    ("BRS", "Bristol Avonmouth", "own", "Bristol", "BS11 8DJ", 8, 4, "DPD 16:30, Royal Mail 16:00"),
    ("MK3", "Milton Keynes 3PL (Fulfilwell)", "3pl", "Milton Keynes", "MK1 1BU", 6, 5, "DPD 18:00, Evri 17:00"),
]
POSITIONS_PER_AISLE, LEVELS, BIN_SPACING_M = 16, 2, Decimal("1.8")

PRODUCTS = [
    # category, base code, name, colours, sizes, (l, w, h cm), kg, cost, price
    ("Apparel", "TEE", "Organic cotton tee", ["White", "Black", "Navy", "Sage", "Rust", "Ochre", "Stone", "Sky"], ["XS", "S", "M", "L", "XL"], (30, 25, 2), "0.20", "4.10", "18.00"),
    ("Apparel", "HOOD", "Heavyweight hoodie", ["Charcoal", "Navy", "Oat", "Forest", "Burgundy"], ["S", "M", "L", "XL"], (35, 30, 6), "0.65", "14.50", "55.00"),
    ("Apparel", "SOCK", "Merino hiking socks", ["Grey", "Forest"], ["S", "M", "L"], (20, 10, 3), "0.08", "3.20", "14.00"),
    ("Apparel", "CAP", "Waxed cotton cap", ["Olive", "Black", "Tan"], [""], (28, 20, 12), "0.12", "5.80", "24.00"),
    ("Apparel", "BEANIE", "Lambswool beanie", ["Mustard", "Navy", "Grey", "Rust"], [""], (22, 18, 4), "0.09", "4.40", "20.00"),
    ("Home", "MUG", "Stoneware mug 350 ml", ["Blue", "Speckled", "Sand", "Moss"], [""], (12, 10, 10), "0.38", "2.90", "12.00"),
    ("Home", "CANDLE", "Soy candle", ["Fig", "Cedar", "Sea salt", "Amber"], ["Small", "Large"], (10, 10, 11), "0.45", "3.70", "16.00"),
    ("Home", "THROW", "Recycled wool throw", ["Grey check", "Ochre", "Navy"], [""], (40, 30, 10), "1.20", "22.00", "79.00"),
    ("Home", "TOWEL", "Waffle bath towel", ["White", "Stone", "Clay"], ["Hand", "Bath"], (30, 25, 8), "0.55", "6.10", "24.00"),
    ("Home", "CUSH", "Linen cushion cover", ["Natural", "Indigo", "Terracotta"], ["45cm", "60cm"], (30, 25, 3), "0.25", "5.20", "22.00"),
    ("Outdoor", "BOTTLE", "Insulated bottle 750 ml", ["Steel", "Black", "Teal", "Coral"], [""], (8, 8, 27), "0.42", "6.80", "28.00"),
    ("Outdoor", "TOTE", "Canvas tote", ["Natural", "Black"], [""], (38, 32, 2), "0.30", "3.10", "15.00"),
    ("Outdoor", "PACK", "Rolltop backpack 20 L", ["Black", "Olive", "Sand"], [""], (45, 30, 12), "0.90", "24.00", "89.00"),
    ("Outdoor", "LAMP", "Rechargeable camp lantern", ["Green", "Orange"], [""], (14, 14, 20), "0.50", "9.50", "35.00"),
    ("Stationery", "NOTE", "Dot grid notebook A5", ["Black", "Sage", "Rust", "Navy"], [""], (21, 15, 2), "0.32", "2.40", "11.00"),
    ("Stationery", "PEN", "Brass ballpoint", ["Brass", "Black"], [""], (16, 4, 3), "0.06", "4.90", "22.00"),
    ("Stationery", "PLAN", "Weekly planner 2027", ["Linen", "Navy"], [""], (25, 18, 2), "0.45", "4.60", "19.00"),
    ("Kitchen", "BOARD", "Oak chopping board", ["Oak"], ["Small", "Large"], (40, 25, 3), "1.30", "11.00", "39.00"),
    ("Kitchen", "APRON", "Denim apron", ["Indigo", "Black"], [""], (30, 22, 3), "0.35", "6.30", "26.00"),
    ("Kitchen", "JAR", "Glass storage jar", ["Clear"], ["0.5L", "1L", "2L"], (12, 12, 18), "0.60", "2.20", "9.50"),
    ("Apparel", "KIDTEE", "Kids organic tee", ["Yellow", "Sky", "Red", "Navy", "Mint"], ["3-4Y", "5-6Y", "7-8Y", "9-10Y", "11-12Y"], (25, 20, 2), "0.12", "3.10", "12.00"),
    ("Apparel", "SHIRT", "Oxford shirt", ["White", "Blue", "Pink"], ["S", "M", "L", "XL", "XXL"], (32, 26, 4), "0.30", "9.80", "45.00"),
    ("Apparel", "JUMPER", "Fisherman jumper", ["Cream", "Navy", "Moss"], ["S", "M", "L", "XL"], (35, 30, 8), "0.70", "19.00", "75.00"),
    ("Apparel", "CHINO", "Stretch chino", ["Stone", "Navy", "Olive"], ["30", "32", "34", "36"], (34, 28, 5), "0.55", "12.40", "49.00"),
    ("Apparel", "SCARF", "Cashmere blend scarf", ["Camel", "Grey", "Bottle"], [""], (30, 20, 4), "0.18", "8.60", "39.00"),
    ("Home", "PLATE", "Stoneware side plate", ["Blue", "Speckled", "Sand", "Moss"], ["Set of 2", "Set of 4"], (24, 24, 6), "1.40", "7.20", "26.00"),
    ("Home", "BOWL", "Stoneware bowl", ["Blue", "Speckled", "Sand"], ["Small", "Large"], (18, 18, 9), "0.55", "3.40", "14.00"),
    ("Home", "DIFF", "Reed diffuser 100 ml", ["Fig", "Cedar", "Sea salt"], [""], (8, 8, 25), "0.40", "5.10", "22.00"),
    ("Home", "LINEN", "Linen duvet cover", ["White", "Oat", "Sage", "Clay"], ["Single", "Double", "King"], (35, 28, 8), "1.10", "28.00", "95.00"),
    ("Outdoor", "FLASK", "Coffee flask 350 ml", ["Steel", "Black", "Teal"], [""], (8, 8, 20), "0.30", "5.90", "24.00"),
    ("Outdoor", "BLANKET", "Picnic blanket", ["Red check", "Blue check"], [""], (35, 25, 12), "1.00", "11.50", "42.00"),
    ("Outdoor", "SOCKW", "Wool walking socks", ["Charcoal", "Navy", "Red"], ["S", "M", "L"], (20, 10, 3), "0.09", "3.60", "16.00"),
    ("Stationery", "CARD", "Letterpress card", ["Fern", "Gull", "Harbour", "Birthday", "Thanks"], [""], (17, 12, 1), "0.04", "0.70", "4.00"),
    ("Stationery", "WRAP", "Recycled gift wrap", ["Kraft", "Navy stars"], [""], (52, 8, 8), "0.20", "1.10", "6.00"),
    ("Kitchen", "TEATOWEL", "Printed tea towel", ["Harbour", "Gulls", "Stripes"], [""], (25, 20, 2), "0.10", "2.30", "11.00"),
    ("Kitchen", "KNIFE", "Bread knife", ["Oak handle"], [""], (38, 6, 3), "0.25", "8.90", "34.00"),
]

SUPPLIERS = [
    ("NORTHLOOM", "Northloom Textiles", "GB", "GBP", 21), ("PORTCERAM", "Port Ceramics", "PT", "EUR", 28),
    ("HEARTHCO", "Hearth & Co Candles", "GB", "GBP", 10), ("TRAILWORKS", "Trailworks Outdoor", "CN", "USD", 45),
    ("PAPERMILL", "Papermill Press", "GB", "GBP", 14), ("OAKLEAF", "Oakleaf Woodcraft", "GB", "GBP", 18),
    ("GLASSWELL", "Glasswell Homeware", "PL", "EUR", 24),
]
CATEGORY_SUPPLIER = {"Apparel": "NORTHLOOM", "Home": "PORTCERAM", "Outdoor": "TRAILWORKS", "Stationery": "PAPERMILL",
                     "Kitchen": "OAKLEAF"}

CHANNELS = [
    # code, name, type, buffer, ship_complete, sla, warehouse codes by rank
    ("SHOP", "Harbour & Pine web store", "shopify", 2, False, 2, ["LON", "MAN", "BRS", "MK3"]),
    ("OUTLET", "Harbour & Pine outlet", "woocommerce", 1, False, 3, ["MK3", "BRS"]),
    ("AMZ", "Amazon UK", "marketplace", 5, True, 1, ["MK3", "LON"]),
    ("TRADE", "Wholesale accounts", "wholesale", 0, True, 5, ["MAN", "LON"]),
    ("STORES", "Harbour & Pine stores", "store", 0, True, 3, ["LON", "MAN", "BRS"]),
]


def database_is_empty() -> bool:
    return not db.session.scalar(select(func.count(User.id)))


@service
def seed_demo_data(*, orders: int = 3000, seed: int = 7) -> str:
    """Seed the demo retailer into an empty database; returns a summary line."""
    rng = random.Random(seed)
    _users()
    warehouses = _warehouses()
    _suppliers()
    skus = _skus(rng)
    _channels(warehouses)
    moves = _stock(rng, skus, warehouses)
    db.session.commit()
    summary = (f"Seeded Harbour & Pine: {len(warehouses)} warehouses, {len(skus)} SKUs, {moves} stock moves, "
               f"{len(DEMO_USERS)} users")
    _load_area_seeders()
    for _step, extra in sorted(EXTRA_SEEDERS, key=lambda pair: pair[0]):
        started = time.monotonic()
        summary += "; " + extra(rng, orders=orders) + f" ({time.monotonic() - started:.1f} s)"
    return summary


# Later areas (orders, purchasing, returns, finance) register seeders that run after the master data,
# in ascending `step`: fn(rng, *, orders) -> summary text. They live in app/services/demo_<area>.py.
EXTRA_SEEDERS: list[tuple[int, object]] = []


def demo_seeder(step: int):
    def register(fn):
        EXTRA_SEEDERS.append((step, fn))
        return fn
    return register


def _load_area_seeders() -> None:
    import importlib
    import pkgutil

    import app.services as services
    for info in pkgutil.iter_modules(services.__path__):
        if info.name.startswith("demo_"):
            importlib.import_module(f"app.services.{info.name}")


def _users() -> None:
    # Every demo user has the published demo password: one (deliberately slow) hash serves them all.
    password_hash = generate_password_hash(DEMO_PASSWORD)
    for username, role, _title in DEMO_USERS:
        db.session.add(User(username=username, role=role.value, full_name=DEMO_NAMES[username],
                            email=f"{username}@harbourandpine.example", password_hash=password_hash))


def _warehouses() -> list[Warehouse]:
    made = []
    for code, name, kind, city, postcode, aisles, pickers, cutoffs in WAREHOUSES:
        warehouse = Warehouse(code=code, name=name, kind=kind, address1="Unit 4, Distribution Park", city=city,
                              postcode=postcode, country="GB", timezone="Europe/London", carrier_cutoffs=cutoffs,
                              pickers_per_shift=pickers, aisles=aisles,
                              aisle_length_m=POSITIONS_PER_AISLE * BIN_SPACING_M, aisle_spacing_m=Decimal("3.0"),
                              handling_cost_per_unit=Decimal("0.55") if kind == "3pl" else Decimal("0.40"))
        db.session.add(warehouse)
        db.session.flush()
        _bins(warehouse)
        made.append(warehouse)
    for kind in Outside:
        ledger.outside(kind)
    return made


def bin_code(aisle: int, position: int, level: int) -> str:
    return f"{chr(ord('A') + aisle)}{position:02d}-{level}"


def _bins(warehouse: Warehouse) -> None:
    rows = [{"warehouse_id": warehouse.id, "code": bin_code(a, p, lvl), "kind": "bin", "aisle": a,
             "position_m": (p - 0.5) * float(BIN_SPACING_M), "level": lvl, "active": True}
            for a in range(warehouse.aisles) for p in range(1, POSITIONS_PER_AISLE + 1) for lvl in range(1, LEVELS + 1)]
    rows += [{"warehouse_id": warehouse.id, "code": code, "kind": kind, "aisle": None, "position_m": None,
              "level": None, "active": True} for code, kind in (("DOCK", "dock"), ("PACK", "staging"), ("QC", "staging"))]
    db.session.execute(insert(Location), rows)


def _suppliers() -> None:
    for code, name, country, currency, lead in SUPPLIERS:
        db.session.add(Supplier(code=code, name=name, country=country, currency=currency, lead_time_days=lead,
                                email=f"orders@{code.lower()}.example", phone="+44 20 7946 0000"))


def _skus(rng: random.Random) -> list[Sku]:
    skus = []
    serial = 1000
    for category, base, name, colours, sizes, dims, kg, cost, price in PRODUCTS:
        for colour in colours:
            for size in sizes:
                serial += 1
                code = "-".join(p for p in (base, colour.upper().replace(" ", "")[:6], size.upper()) if p)
                body = f"50601234{serial:04d}"
                sku = Sku(code=code, name=" · ".join(p for p in (name, colour, size) if p), category=category,
                          gtin=body + str(check_digit(body)), length_cm=Decimal(dims[0]), width_cm=Decimal(dims[1]),
                          height_cm=Decimal(dims[2]), weight_kg=Decimal(kg),
                          unit_cost=Decimal(cost) * Decimal(rng.choice(["0.95", "1.00", "1.05"])), price=Decimal(price),
                          active=rng.random() > 0.03)
                db.session.add(sku)
                skus.append(sku)
    db.session.flush()
    return skus


def _channels(warehouses: list[Warehouse]) -> None:
    by_code = {w.code: w for w in warehouses}
    for code, name, type_, buffer, complete, sla, ranked in CHANNELS:
        channel = Channel(code=code, name=name, type=type_, currency="GBP", safety_buffer=buffer, ship_complete=complete,
                          sla_days=sla, webhook_secret=f"demo-{code.lower()}-secret")
        db.session.add(channel)
        db.session.flush()
        db.session.execute(insert(channel_warehouses), [
            {"channel_id": channel.id, "warehouse_id": by_code[w].id, "rank": rank} for rank, w in enumerate(ranked, 1)])


def _stock(rng: random.Random, skus: list[Sku], warehouses: list[Warehouse]) -> int:
    """Opening stock received into bins, with some held back in other statuses."""
    bins = {w.id: list(db.session.scalars(select(Location).where(Location.warehouse_id == w.id, Location.kind == "bin")))
            for w in warehouses}
    docks = {w.id: db.session.scalar(select(Location).where(Location.warehouse_id == w.id, Location.code == "DOCK"))
             for w in warehouses}
    supplier = ledger.outside(Outside.SUPPLIER)
    cause = Cause("opening_balance", "demo")
    moves = 0
    for sku in skus:
        popularity = rng.choice([1, 1, 2, 3, 5])
        for warehouse in rng.sample(warehouses, rng.randint(2, len(warehouses))):
            for location in rng.sample(bins[warehouse.id], rng.randint(1, 2)):
                ledger.post_move(sku.id, rng.randint(4, 30) * popularity, Place(supplier), Place(location, Status.AVAILABLE),
                                 reason=Reason.RECEIPT, cause=cause)
                moves += 1
            moves += _held_back(rng, sku, warehouse, bins[warehouse.id], docks[warehouse.id], supplier, cause)
    return moves


def _held_back(rng, sku, warehouse, bins, dock, supplier, cause) -> int:
    roll = rng.random()
    status, location = (None, None)
    if roll < 0.06:
        status, location = Status.QUARANTINED, rng.choice(bins)
    elif roll < 0.10:
        status, location = Status.DAMAGED, rng.choice(bins)
    elif roll < 0.14:
        status, location = Status.RETURNED, dock
    elif roll < 0.22:
        status, location = Status.IN_TRANSIT, dock
    if status is None:
        return 0
    ledger.post_move(sku.id, rng.randint(1, 8), Place(supplier), Place(location, status), reason=Reason.RECEIPT, cause=cause)
    return 1
