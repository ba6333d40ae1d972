"""Demo orders: a few thousand over the last 90 days, from every channel, in every state up to allocation.

Orders go through the real capture path (holds, allocation by channel rules, cancellation), in one
transaction, so the ledger stays true. Shipping is left to the warehouse flow: nothing here is marked
shipped. A few channel deliveries that could not be mapped wait in the exception queue.
"""
from __future__ import annotations

import dataclasses
import json
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select

from app.channels import shopify, woocommerce
from app.domain.capture import Address, LineDraft, MappingError, OrderDraft
from app.domain.money import round_to_cent
from app.extensions import db
from app.models import Channel, Sku, User
from app.models.orders import InboundDelivery, Order
from app.models.types import utcnow
from app.services import orders as order_service
from app.services.demo import demo_seeder

FIRST_NAMES = ["Olivia", "Amelia", "Isla", "Ava", "Mia", "Freya", "Lily", "Grace", "Sophie", "Evie", "Poppy", "Ella",
               "Charlotte", "Millie", "Rosie", "Harriet", "Niamh", "Aisha", "Priya", "Zara", "Oliver", "George", "Harry",
               "Noah", "Jack", "Leo", "Arthur", "Oscar", "Charlie", "Thomas", "James", "William", "Alfie", "Rory",
               "Callum", "Owen", "Dylan", "Rhys", "Hamish", "Mohammed", "Arjun", "Kwame", "Tomasz", "Finlay", "Ewan"]
SURNAMES = ["Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel", "Robinson",
            "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall", "Thomas", "Clarke", "Jackson",
            "Wood", "Harris", "Edwards", "Turner", "Martin", "Cooper", "Hill", "Ward", "Hughes", "Moore", "Clark",
            "King", "Harrison", "Lewis", "Baker", "Lee", "Allen", "Morris", "Khan", "Scott", "Watson", "Campbell",
            "MacDonald", "Murray", "Kelly", "O'Neill", "Begum", "Nowak", "Okafor", "Fraser", "Lloyd", "Price"]
STREETS = ["High Street", "Station Road", "Church Lane", "Victoria Road", "Green Lane", "Manor Road", "Park Road",
           "Queens Road", "Kings Road", "New Road", "Mill Lane", "The Crescent", "Grange Road", "Springfield Road",
           "Windsor Road", "Orchard Close", "Meadow View", "Chapel Street", "North Street", "Albert Road",
           "Cedar Avenue", "Beech Grove", "Highfield Road", "St John's Road", "Riverside Walk", "Castle Street"]
# town, county, postcode district; the sector and unit are made up per address
TOWNS = [("London", "", "N1"), ("London", "", "SE15"), ("London", "", "E8"), ("London", "", "SW11"), ("London", "", "NW6"),
         ("Manchester", "Greater Manchester", "M20"), ("Salford", "Greater Manchester", "M5"),
         ("Leeds", "West Yorkshire", "LS6"), ("Sheffield", "South Yorkshire", "S11"), ("York", "North Yorkshire", "YO10"),
         ("Bristol", "", "BS6"), ("Bath", "Somerset", "BA2"), ("Exeter", "Devon", "EX4"), ("Truro", "Cornwall", "TR1"),
         ("Birmingham", "West Midlands", "B13"), ("Nottingham", "Nottinghamshire", "NG7"), ("Leicester", "Leicestershire", "LE2"),
         ("Norwich", "Norfolk", "NR2"), ("Cambridge", "Cambridgeshire", "CB1"), ("Oxford", "Oxfordshire", "OX4"),
         ("Brighton", "East Sussex", "BN1"), ("Canterbury", "Kent", "CT1"), ("Reading", "Berkshire", "RG1"),
         ("Southampton", "Hampshire", "SO15"), ("Cardiff", "", "CF11"), ("Swansea", "", "SA1"), ("Newcastle upon Tyne", "Tyne and Wear", "NE6"),
         ("Durham", "County Durham", "DH1"), ("Liverpool", "Merseyside", "L17"), ("Chester", "Cheshire", "CH2"),
         ("Edinburgh", "", "EH6"), ("Glasgow", "", "G12"), ("Aberdeen", "", "AB10"), ("Inverness", "", "IV2"),
         ("Belfast", "", "BT9"), ("Harrogate", "North Yorkshire", "HG1"), ("Cheltenham", "Gloucestershire", "GL50")]
TRADE_CUSTOMERS = ["The Corner Shop Hebden Bridge", "Salt & Stone Interiors", "Coastline Gifts Ltd", "Northern Larder",
                   "The Willow Tree Boutique", "Harbour Lights Gallery", "Fenwick Homewares", "Bramble & Co"]
UNIT_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"

# share of orders per channel, and how their lines look
CHANNEL_MIX = {"SHOP": 0.46, "AMZ": 0.24, "OUTLET": 0.12, "STORES": 0.10, "TRADE": 0.08}
RECEIVED_RECENTLY = 12        # the newest orders wait for their checks (fewer in a small demo, so it has history)
EXCEPTION_DELIVERIES = 6


@dataclass
class Tally:
    created: int = 0
    cancelled: int = 0
    released: int = 0


@demo_seeder(20)
def seed_orders(rng: random.Random, *, orders: int = 3000) -> str:
    """Orders over the last 90 days across channels and states, plus a few deliveries in the exception queue."""
    channels = {c.code: c for c in db.session.scalars(select(Channel).where(Channel.active.is_(True)))}
    skus = list(db.session.scalars(select(Sku).where(Sku.active.is_(True)).order_by(Sku.id)))
    if not channels or not skus or orders <= 0:
        return "no orders seeded (no channels or SKUs)"
    retail = db.session.scalar(select(User.id).where(User.username == "retail"))
    weights = _popularity(rng, skus)
    now = utcnow()
    tally = Tally()
    recent = _recent_count(orders)
    # Capture flushes where it needs ids; skipping the flush before every query keeps thousands of orders quick.
    with db.session.no_autoflush:
        for n, placed_at in enumerate(_placing_times(rng, orders, now, recent)):
            code = _channel(rng, channels)
            draft = _draft(rng, n, code, placed_at, skus, weights)
            _capture(rng, channels[code], draft, placed_at, now, retail, tally, fresh=n >= orders - recent)
        _velocity_burst(rng, channels, skus, weights, now, tally)
    exceptions = _exception_deliveries(rng, channels, skus, now)
    db.session.commit()
    return (f"{tally.created} orders over 90 days ({tally.released} released after review, {tally.cancelled} cancelled), "
            f"{exceptions} deliveries in the exception queue")


def _popularity(rng: random.Random, skus: list[Sku]) -> list[float]:
    """A long tail: a few best sellers take much of the demand, so some of them run short."""
    ranks = list(range(1, len(skus) + 1))
    rng.shuffle(ranks)
    return [1.0 / rank ** 0.45 for rank in ranks]


def _recent_count(orders: int) -> int:
    return min(RECEIVED_RECENTLY, max(1, orders // 10))


def _placing_times(rng: random.Random, count: int, now: datetime, recent: int) -> list[datetime]:
    """Order times over 90 days, busier lately and in the evening, oldest first."""
    times = []
    for _ in range(count):
        days_ago = 90 * rng.random() ** 1.25
        moment = now - timedelta(days=days_ago)
        hour = rng.choices(range(24), weights=[1, 1, 1, 1, 1, 1, 2, 3, 4, 5, 5, 5, 6, 6, 5, 5, 5, 6, 7, 8, 8, 7, 4, 2])[0]
        times.append(min(now - timedelta(minutes=2), moment.replace(hour=hour, minute=rng.randint(0, 59))))
    times.sort()
    for i in range(1, min(recent, len(times)) + 1):  # the last few arrived in the past half hour
        times[-i] = now - timedelta(minutes=2 * i + rng.randint(0, 1))
    times.sort()
    return times


def _channel(rng: random.Random, channels: dict[str, Channel]) -> str:
    codes = [c for c in CHANNEL_MIX if c in channels] or list(channels)
    return rng.choices(codes, weights=[CHANNEL_MIX.get(c, 0.1) for c in codes])[0]


def _person(rng: random.Random) -> str:
    return f"{rng.choice(FIRST_NAMES)} {rng.choice(SURNAMES)}"


def _address(rng: random.Random, name: str) -> Address:
    town, county, district = rng.choice(TOWNS)
    postcode = f"{district} {rng.randint(1, 9)}{rng.choice(UNIT_LETTERS)}{rng.choice(UNIT_LETTERS)}"
    flat = f"Flat {rng.randint(1, 12)}" if rng.random() < 0.15 else None
    return Address(name=name, address1=f"{rng.randint(1, 240)} {rng.choice(STREETS)}", address2=flat, city=town,
                   region=county or None, postcode=postcode, country="GB",
                   phone=f"07{rng.randint(100, 999)} {rng.randint(100000, 999999)}")


def _lines(rng: random.Random, code: str, skus: list[Sku], weights: list[float]) -> tuple[LineDraft, ...]:
    wholesale = code == "TRADE"
    count = rng.randint(3, 7) if wholesale else rng.choices([1, 2, 3, 4], weights=[60, 25, 10, 5])[0]
    chosen = {sku.id: sku for sku in rng.choices(skus, weights=weights, k=count)}.values()
    lines = []
    for sku in chosen:
        qty = rng.choice([4, 6, 6, 12]) if wholesale else rng.choices([1, 2, 3], weights=[80, 15, 5])[0]
        price = round_to_cent(sku.price * Decimal("0.55")) if wholesale else sku.price
        discount = round_to_cent(price * qty * Decimal("0.30")) if code == "OUTLET" else Decimal("0.00")
        gross = price * qty - discount
        # Retail prices include 20% VAT; trade prices are net, with VAT added.
        tax = round_to_cent(gross * Decimal("0.20") if wholesale else gross / 6)
        lines.append(LineDraft(sku.code, qty, price, discount, tax, sku.name))
    return tuple(lines)


def _draft(rng: random.Random, n: int, code: str, placed_at: datetime, skus: list[Sku], weights: list[float]) -> OrderDraft:
    lines = _lines(rng, code, skus, weights)
    wholesale = code == "TRADE"
    name = rng.choice(TRADE_CUSTOMERS) if wholesale else _person(rng)
    ship_to = _address(rng, name)
    roll = rng.random()
    if roll < 0.012:  # the customer left the postcode off
        ship_to = Address(name=ship_to.name, address1=ship_to.address1, city=ship_to.city, country="GB")
    goods = sum((line.qty * line.unit_price - line.discount for line in lines), Decimal("0"))
    shipping = Decimal("0.00") if wholesale or goods >= 50 else Decimal("3.95")
    tax = sum((line.tax for line in lines), Decimal("0"))
    email_name = name.lower().replace(" ", ".").replace("'", "").replace("&", "and")
    return OrderDraft(
        external_id=_external_id(code, n), number=_channel_number(code, n), currency="GBP", placed_at=placed_at,
        updated_at=placed_at if code in ("SHOP", "OUTLET") else None, customer_name=name,
        customer_email=f"{email_name}@example.co.uk", ship_to=ship_to,
        billing_country=rng.choice(["IE", "FR", "US"]) if 0.012 <= roll < 0.022 else "GB",
        payment_captured=not (0.022 <= roll < 0.05 and not wholesale), lines=lines, shipping=shipping,
        shipping_tax=round_to_cent(shipping / 6), order_discount=Decimal("0.00"),
        total=goods + shipping + (tax if wholesale else Decimal("0")),
        priority=3 if wholesale else rng.choices([1, 2], weights=[90, 10])[0],
        note="Please leave with a neighbour if out." if rng.random() < 0.04 else None,
        prices_include_tax=not wholesale)


def _external_id(code: str, n: int) -> str:
    return {"SHOP": f"{5610000000 + n * 7}", "OUTLET": f"{18000 + n}", "AMZ": f"203-{4400000 + n * 13:07d}-{(n * 7919) % 10000000:07d}",
            "TRADE": f"PO-{7100 + n}", "STORES": f"POS-{n:06d}"}.get(code, f"DEMO-{n:06d}")


def _channel_number(code: str, n: int) -> str | None:
    return {"SHOP": f"#{10000 + n}", "OUTLET": f"{18000 + n}"}.get(code)


def _capture(rng, channel: Channel, draft: OrderDraft, placed_at: datetime, now: datetime, retail: int | None,
             tally: Tally, *, fresh: bool) -> Order:
    order = order_service.record_capture(channel, draft, source=_source(channel.code), validate=not fresh).order
    _stamp(order, 0, placed_at)
    order.created_at = placed_at
    tally.created += 1
    age = now - placed_at
    if order.status == "on_hold" and age > timedelta(days=2) and (age > timedelta(days=4) or rng.random() < 0.5):
        _review(order, placed_at + timedelta(hours=rng.randint(2, 30)), retail, rng, tally)
    elif order.status not in ("received", "cancelled") and age > timedelta(hours=6) and rng.random() < 0.04:
        at = placed_at + timedelta(hours=rng.randint(1, 40))
        start = len(order.transitions)
        order_service._cancel(order, rng.choice(["customer changed their mind", "ordered the wrong size",
                                                 "found it cheaper elsewhere", "delivery date too late"]), retail)
        _stamp(order, start, at)
        tally.cancelled += 1
    return order


def _source(code: str) -> str:
    return {"SHOP": "shopify", "OUTLET": "woocommerce", "TRADE": "manual", "STORES": "csv"}.get(code, "api")


def _review(order: Order, at: datetime, retail: int | None, rng: random.Random, tally: Tally) -> None:
    """A person looked at the held order: most go ahead, the suspicious ones are cancelled."""
    start = len(order.transitions)
    if any(h.kind.startswith("fraud") for h in order.open_holds) and rng.random() < 0.4:
        order_service._cancel(order, "cancelled after fraud review", retail)
        tally.cancelled += 1
    else:
        kind = order.open_holds[0].kind
        if kind == "address":
            order.ship_postcode = _postcode_for(order.ship_city, rng)
        note = {"payment": "payment captured after retry", "address": "customer confirmed the postcode by email",
                "fraud_value": "large order checked with the customer by phone",
                "fraud_country": "billing address abroad confirmed with the card issuer"}
        order_service._release_holds(order, None, note.get(kind, "checked with the customer"), retail)
        tally.released += 1
    for hold in order.holds:
        if hold.released_at is not None:
            hold.released_at = at
    _stamp(order, start, at)


def _postcode_for(city: str, rng: random.Random) -> str:
    district = next((d for town, _, d in TOWNS if town == city), "EX4")
    return f"{district} {rng.randint(1, 9)}{rng.choice(UNIT_LETTERS)}{rng.choice(UNIT_LETTERS)}"


def _stamp(order: Order, start: int, at: datetime) -> None:
    """Date the order's own history (transitions, holds, shipments) from when it happened, a second apart."""
    for i, transition in enumerate(order.transitions[start:]):
        transition.created_at = at + timedelta(seconds=i)
    for hold in order.holds:
        if hold.created_at > at:
            hold.created_at = at
    for shipment in order.shipments:
        if shipment.created_at > at:
            shipment.created_at = at


def _velocity_burst(rng, channels, skus, weights, now: datetime, tally: Tally) -> None:
    """One address placing order after order within the hour: the last ones are held for review."""
    if "SHOP" not in channels:
        return
    name = _person(rng)
    address = _address(rng, name)
    for k in range(5):
        placed = now - timedelta(minutes=55 - 11 * k)
        draft = _draft(rng, 900_000 + k, "SHOP", placed, skus, weights)
        email = f"{name.lower().replace(' ', '.').replace(chr(39), '')}@example.co.uk"
        draft = dataclasses.replace(draft, ship_to=address, customer_name=name, customer_email=email,
                                    billing_country="GB", payment_captured=True)
        order = order_service.record_capture(channels["SHOP"], draft, source="shopify").order
        _stamp(order, 0, placed)
        order.created_at = placed
        tally.created += 1


def _exception_deliveries(rng: random.Random, channels: dict[str, Channel], skus: list[Sku], now: datetime) -> int:
    """Shopify deliveries naming SKUs Keel does not sell, and WooCommerce lines without a SKU."""
    made = 0
    for k in range(EXCEPTION_DELIVERIES):
        source, code = ("shopify", "SHOP") if k % 3 else ("woocommerce", "OUTLET")
        if code not in channels:
            continue
        received = now - timedelta(hours=rng.randint(1, 70), minutes=rng.randint(0, 59))
        placed = received - timedelta(seconds=rng.randint(2, 40))
        payload = (_shopify_payload(rng, k, skus, placed) if source == "shopify"
                   else _woocommerce_payload(rng, k, skus, placed))
        field, reason = _why_unmappable(source, payload)
        topic = "orders/create" if source == "shopify" else "order.created"
        headers = ({"X-Shopify-Topic": topic, "X-Shopify-Webhook-Id": f"demo-{k}-{rng.randint(10**8, 10**9)}",
                    "X-Shopify-Shop-Domain": "harbour-and-pine.myshopify.com"} if source == "shopify"
                   else {"X-WC-Webhook-Topic": topic, "X-WC-Webhook-Delivery-ID": str(rng.randint(10**5, 10**6))})
        key = headers.get("X-Shopify-Webhook-Id") or headers["X-WC-Webhook-Delivery-ID"]
        db.session.add(InboundDelivery(source=source, channel_id=channels[code].id, topic=topic, delivery_id=key,
                                       headers=headers, body=json.dumps(payload, indent=2), status="exception",
                                       error_field=field, error=reason, received_at=received, processed_at=received))
        made += 1
    return made


def _why_unmappable(source: str, payload: dict) -> tuple[str, str]:
    """The reason the real intake gives for this payload, found without writing anything."""
    try:
        draft = (woocommerce if source == "woocommerce" else shopify).parse_order(payload)
        order_service._skus_for(draft)
    except MappingError as exc:
        return exc.field, exc.reason
    return "", ""


def _shopify_payload(rng: random.Random, k: int, skus: list[Sku], placed_at: datetime) -> dict:
    real = rng.choice(skus)
    ghost = rng.choice(["HOOD-SAND-M", "MUG-TERRA", "TOTE-OLIVE", "CANDLE-PINE-LARGE", "BEANIE-MINT"])
    name = _person(rng)
    address = _address(rng, name)
    placed = placed_at.replace(microsecond=0).isoformat()
    items = [(real.code, real.name, real.price, 1), (ghost, ghost.replace("-", " ").title(), Decimal("24.00"), 1)]
    total = sum((price * qty for _, _, price, qty in items), Decimal("0"))
    return {"id": 5700000000 + k, "name": f"#{19000 + k}", "currency": "GBP", "created_at": placed, "updated_at": placed,
            "financial_status": "paid", "taxes_included": True, "email": f"{name.split()[0].lower()}@example.co.uk",
            "total_price": str(total), "total_discounts": "0.00",
            "customer": {"first_name": name.split()[0], "last_name": name.split()[1]},
            "line_items": [{"id": 14000000000 + 10 * k + i, "sku": code, "name": title, "quantity": qty, "price": str(price),
                            "tax_lines": [{"price": str(round_to_cent(price * qty / 6)), "rate": 0.2, "title": "VAT"}],
                            "discount_allocations": []}
                           for i, (code, title, price, qty) in enumerate(items)],
            "shipping_lines": [],
            "shipping_address": {"name": name, "address1": address.address1, "city": address.city, "zip": address.postcode,
                                 "country_code": "GB", "province": address.region},
            "billing_address": {"country_code": "GB"}}


def _woocommerce_payload(rng: random.Random, k: int, skus: list[Sku], placed_at: datetime) -> dict:
    real = rng.choice(skus)
    name = _person(rng)
    address = _address(rng, name)
    first, last = name.split(" ", 1)
    placed = placed_at.replace(microsecond=0, tzinfo=None).isoformat()
    return {"id": 31000 + k, "number": str(31000 + k), "status": "processing", "currency": "GBP",
            "date_created_gmt": placed, "date_modified_gmt": placed, "total": str(real.price + Decimal("9.00")),
            "billing": {"first_name": first, "last_name": last, "email": f"{first.lower()}@example.co.uk", "country": "GB"},
            "shipping": {"first_name": first, "last_name": last, "address_1": address.address1, "city": address.city,
                         "postcode": address.postcode, "country": "GB"},
            "line_items": [{"id": 900 + k, "name": real.name, "sku": real.code, "quantity": 1, "subtotal": str(real.price),
                            "total": str(real.price), "total_tax": "0.00", "price": float(real.price)},
                           {"id": 950 + k, "name": "Gift wrapping &amp; card", "sku": "", "quantity": 1, "subtotal": "9.00",
                            "total": "9.00", "total_tax": "0.00", "price": 9}],
            "shipping_lines": [], "fee_lines": []}
