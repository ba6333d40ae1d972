"""Carriers: zones by postcode area, prices by weight break, the cheapest service that keeps the promise, lanes."""
from __future__ import annotations

from datetime import date, time
from decimal import Decimal

import pytest

from app.domain.errors import NotFound
from app.extensions import db as _db
from app.models.carriers import Carrier, CarrierService, RateCard, ShippingZone
from app.services import carriers
from app.services.carriers import cheapest_service, routing_lanes, zone_for

# service code -> (carrier, name, transit days, cut-off, {zone: [(max kg, price)]})
TEST_RATES = {
    ("DPD", "NEXT"): ("Next day", 1, time(17, 0), {
        "Z1": [("2", "6.20"), ("5", "7.40"), ("20", "11.90")], "Z2": [("2", "6.80"), ("5", "8.10"), ("20", "12.60")],
        "Z3": [("2", "9.90"), ("5", "11.20"), ("20", "17.50")]}),
    ("RM", "TRACKED48"): ("Tracked 48", 2, time(16, 0), {
        "Z1": [("1", "3.35"), ("2", "4.10"), ("10", "7.20")], "Z2": [("1", "3.35"), ("2", "4.10"), ("10", "7.20")],
        "Z3": [("1", "3.95"), ("2", "4.70"), ("10", "8.40")]}),
}
TEST_ZONES = {  # warehouse -> [(country, postcode prefix, zone)]
    "EAST": [("GB", "", "Z1"), ("GB", "BT", "Z3"), ("GB", "EH", "Z2")],
    "WEST": [("GB", "", "Z2"), ("GB", "BT", "Z3"), ("GB", "M", "Z1")],
}


def make_rate_tables(world) -> dict[str, Carrier]:
    """DPD Next day and Royal Mail Tracked 48 with zones for the test world's EAST and WEST; returns the carriers."""
    made = {}
    for code, name in (("DPD", "DPD"), ("RM", "Royal Mail")):
        made[code] = Carrier(code=code, name=name, api_kind="table", tracking_prefix=code[:2])
        _db.session.add(made[code])
    for (carrier, code), (name, days, cutoff, zones) in TEST_RATES.items():
        service = CarrierService(carrier=made[carrier], code=code, name=name, transit_days=days, cutoff=cutoff)
        _db.session.add(service)
        for zone, breaks in zones.items():
            for kg, price in breaks:
                service.rates.append(RateCard(zone=zone, max_weight_kg=Decimal(kg), price=Decimal(price)))
    for warehouse, rows in TEST_ZONES.items():
        for country, prefix, zone in rows:
            _db.session.add(ShippingZone(warehouse_id=world.warehouses[warehouse].id, country=country,
                                         postcode_prefix=prefix, zone=zone))
    _db.session.commit()
    return made


@pytest.fixture()
def rates(world):
    return make_rate_tables(world)


def test_zone_is_found_by_postcode_area_and_an_area_never_catches_a_longer_one(world, rates):
    west = world.warehouses["WEST"].id
    assert zone_for(west, "GB", "M17 1WA") == "Z1"
    assert zone_for(west, "gb", "ml1 2ab") == "Z2"  # Motherwell is not Manchester
    assert zone_for(west, "GB", "BT1 1AA") == "Z3"
    assert zone_for(world.warehouses["EAST"].id, "GB", "EH1 1YZ") == "Z2"


def test_an_unmapped_country_has_no_zone(world, rates):
    assert zone_for(world.warehouses["EAST"].id, "FR", "75001") == ""


def test_price_is_taken_at_the_smallest_weight_break_that_carries_the_parcel(world, rates):
    service = _service("RM", "TRACKED48")
    assert carriers.rate_for(service.id, "Z1", Decimal("0.8")) == Decimal("3.35")
    assert carriers.rate_for(service.id, "Z1", Decimal("1.0")) == Decimal("3.35")
    assert carriers.rate_for(service.id, "Z1", Decimal("1.01")) == Decimal("4.10")
    assert carriers.rate_for(service.id, "Z1", Decimal("12")) is None


def test_the_cheapest_service_is_chosen_when_it_keeps_the_promise(world, rates):
    monday = date(2026, 3, 2)
    quote = cheapest_service(world.warehouses["EAST"].id, "Z1", Decimal("1.5"), date(2026, 3, 4), monday)
    assert (quote.carrier, quote.service, quote.price) == ("RM", "TRACKED48", Decimal("4.10"))
    assert quote.delivery_date == date(2026, 3, 4) and quote.meets_promise


def test_a_faster_dearer_service_is_chosen_when_the_cheap_one_would_be_late(world, rates):
    monday = date(2026, 3, 2)
    quote = cheapest_service(world.warehouses["EAST"].id, "Z1", Decimal("1.5"), date(2026, 3, 3), monday)
    assert (quote.carrier, quote.price, quote.delivery_date) == ("DPD", Decimal("6.20"), date(2026, 3, 3))
    every = carriers.quotes(world.warehouses["EAST"].id, "Z1", Decimal("1.5"), monday, date(2026, 3, 3))
    assert quote.price == min(q.price for q in every if q.meets_promise)


def test_when_no_service_can_keep_the_promise_the_fastest_is_chosen(world, rates):
    friday = date(2026, 3, 6)
    quote = cheapest_service(world.warehouses["EAST"].id, "Z1", Decimal("1"), date(2026, 3, 6), friday)
    assert quote.carrier == "DPD" and not quote.meets_promise and quote.delivery_date == date(2026, 3, 9)


def test_transit_skips_the_weekend(world, rates):
    friday = date(2026, 3, 6)
    quote = cheapest_service(world.warehouses["EAST"].id, "Z1", Decimal("1"), None, friday)
    assert quote.service == "TRACKED48" and quote.delivery_date == date(2026, 3, 10)


def test_a_parcel_no_service_carries_is_refused_by_name(world, rates):
    with pytest.raises(NotFound, match="25.00 kg"):
        cheapest_service(world.warehouses["EAST"].id, "Z1", Decimal("25"), None, date(2026, 3, 2))


def test_a_warehouse_that_names_its_carriers_ships_only_with_them_at_its_own_cutoff(world, rates):
    east = world.warehouses["EAST"]
    east.carrier_cutoffs = "DPD 16:30"
    _db.session.commit()
    offered = carriers.offered_services(east)
    assert [(s.carrier.code, cutoff) for s, cutoff in offered] == [("DPD", time(16, 30))]
    assert carriers.quotes(east.id, "Z1", Decimal("1"), date(2026, 3, 2))[0].carrier == "DPD"


def test_routing_lanes_give_the_cheapest_one_kilo_price_per_warehouse_and_zone(world, rates):
    lanes = {(lane["warehouse"], lane["zone"]): lane for lane in routing_lanes()}
    assert set(lanes) == {("EAST", "Z1"), ("EAST", "Z2"), ("EAST", "Z3"), ("WEST", "Z1"), ("WEST", "Z2"), ("WEST", "Z3")}
    assert lanes[("EAST", "Z3")] == {"warehouse": "EAST", "zone": "Z3", "cost": Decimal("3.95"), "transit_days": 2}
    assert all(isinstance(lane["cost"], Decimal) for lane in lanes.values())


def test_table_carrier_numbers_tracking_codes_in_sequence_with_a_check_digit(world, rates):
    from app.domain.gs1 import has_valid_check_digit
    gateway = carriers.gateway_for(rates["DPD"])
    details = carriers.LabelDetails(shipment="SO-1-1", service="NEXT", zone="Z1", weight_kg=Decimal("1"))
    first, data = gateway.create_label(details)
    second, _ = gateway.create_label(details)
    assert first.startswith("DP") and second != first and data["service"] == "NEXT"
    assert has_valid_check_digit(first[2:]) and int(second[2:-1]) == int(first[2:-1]) + 1


def test_cutoffs_are_read_from_the_warehouse_text():
    assert carriers.parse_cutoffs("DPD 17:30, Royal Mail 16:30, bad, X 25:00") == {
        "dpd": time(17, 30), "royal mail": time(16, 30)}


def _service(carrier: str, code: str) -> CarrierService:
    return _db.session.query(CarrierService).join(Carrier).filter(Carrier.code == carrier,
                                                                    CarrierService.code == code).one()


# --- helpers the warehouse tests share ---------------------------------------------------------------------------

def make_boxes() -> None:
    """A mailer and two cartons for the packing bench."""
    from app.models.warehouse_ops import BoxType
    for code, name, kind, dims, max_kg, tare, cost in (
            ("MAIL", "Mailer bag", "mailer", (35, 25, 6), "2", "0.02", "0.15"),
            ("S", "Small carton", "carton", (25, 20, 15), "5", "0.15", "0.45"),
            ("L", "Large carton", "carton", (45, 35, 30), "20", "0.45", "0.95")):
        _db.session.add(BoxType(code=code, name=name, kind=kind, length_cm=Decimal(dims[0]), width_cm=Decimal(dims[1]),
                                height_cm=Decimal(dims[2]), max_weight_kg=Decimal(max_kg), tare_kg=Decimal(tare),
                                cost=Decimal(cost)))
    _db.session.commit()


def put_stock(world, bin_code: str, sku_code: str, qty: int) -> None:
    from app.domain.inventory import Cause
    from app.services.inventory import receive_stock
    receive_stock(world.skus[sku_code].id, world.bins[bin_code].id, qty, cause=Cause("test", "opening"))


def place_order(external_id: str, lines: list[tuple[str, int]], *, postcode: str = "LS1 4AP", channel: str = "WEB"):
    """Capture a paid order (allocated on capture by the channel's rules); each has its own street address."""
    from app.domain.capture import Address
    from app.services.orders import capture_order
    from tests.factories import order_draft
    address = Address(name="Ann Smith", address1=f"{external_id} Park Row", city="Leeds", postcode=postcode, country="GB")
    return capture_order(channel, order_draft(external_id, lines, postcode=postcode, ship_to=address), source="api").order


def released_floor(world, orders: list[list[tuple[str, int]]]):
    """Rate tables, boxes, stock in EAST, the orders captured, planned and their wave released; returns the batches."""
    from datetime import date, datetime, timezone

    from app.models.warehouse_ops import PickBatch
    from app.services import waves
    make_rate_tables(world)
    make_boxes()
    for bin_code, sku in (("E2-2", "TEE-M"), ("E1-1", "MUG"), ("E0-2", "CAP")):
        put_stock(world, bin_code, sku, 50)
    for n, lines in enumerate(orders, 1):
        place_order(f"F{n}", lines)
    plan = waves.plan_waves(world.warehouses["EAST"].id, day=date(2026, 3, 2),
                            now=datetime(2026, 3, 2, 7, 30, tzinfo=timezone.utc), time_limit_s=1)
    for wave in plan.waves:
        if wave.members:
            waves.release_wave(wave.id)
    return _db.session.query(PickBatch).order_by(PickBatch.id).all()


def pick_everything(batch, user_id=None) -> None:
    """Scan every line of a batch right: bin, item, quantity."""
    from app.services.picking import current_task, scan_pick
    while (task := current_task(batch)) is not None:
        scan_pick(batch.id, task.location.code, user_id=user_id)
        scan_pick(batch.id, task.sku.gtin or task.sku.code, user_id=user_id)
        scan_pick(batch.id, "", user_id=user_id)


# --- many parcels quoted at once give the single-parcel answers ------------------------------------------------

VARIED_WEIGHTS = ["0.1", "0.9995", "1", "1.0004", "1.0005", "1.5", "2", "2.0001", "5", "9.9999", "10", "10.0005", "12",
                  "20", "20.001", "25"]
VARIED_DESTINATIONS = [("GB", "LS1 4AP"), ("GB", "eh1 1yz"), ("GB", "EH10 4BF"), ("GB", "M17 1WA"), ("GB", "ML1 2AB"),
                       ("GB", "BT9 5AB"), ("gb", ""), ("FR", "75001"), ("US", "10001"), ("", "")]


def _rate_in_sql(service_id: int, zone: str, weight_kg: Decimal) -> Decimal | None:
    """The database's own answer: the smallest weight break at or above the weight, compared as stored."""
    from sqlalchemy import select
    return _db.session.scalar(select(RateCard.price).where(
        RateCard.service_id == service_id, RateCard.zone == zone, RateCard.max_weight_kg >= Decimal(weight_kg)
    ).order_by(RateCard.max_weight_kg).limit(1))


def _single(warehouse_id, country, postcode, weight, ship_date, promise):
    zone = zone_for(warehouse_id, country, postcode)
    try:
        chosen = cheapest_service(warehouse_id, zone, Decimal(weight), promise, ship_date)
    except NotFound as refused:
        chosen = refused.message
    return zone, carriers.quotes(warehouse_id, zone, Decimal(weight), ship_date, promise), chosen


def _batched(zone_map, quoter, country, postcode, weight, ship_date, promise):
    zone = zone_map.zone(country, postcode)
    try:
        chosen = quoter.cheapest(zone, Decimal(weight), promise, ship_date)
    except NotFound as refused:
        chosen = refused.message
    return zone, quoter.quotes(zone, Decimal(weight), ship_date, promise), chosen


def test_quoting_many_parcels_from_loaded_tables_answers_as_quoting_each_alone(world, rates):
    east, west = world.warehouses["EAST"], world.warehouses["WEST"]
    _db.session.add_all([ShippingZone(warehouse_id=east.id, country="*", postcode_prefix="", zone="Z3"),
                         ShippingZone(warehouse_id=east.id, country="GB", postcode_prefix="EH1", zone="Z1"),
                         ShippingZone(warehouse_id=west.id, country="FR", postcode_prefix="", zone="EU")])
    west.carrier_cutoffs = "Royal Mail 15:00, DPD 18:00"
    _db.session.commit()
    monday, friday = date(2026, 3, 2), date(2026, 3, 6)
    compared = 0
    for warehouse in (east, west):
        zone_map, quoter = carriers.ZoneMap(warehouse.id), carriers.Quoter(warehouse)
        for country, postcode in VARIED_DESTINATIONS:
            for weight in VARIED_WEIGHTS:
                for ship_date in (monday, friday):
                    for promise in (None, ship_date, date(2026, 3, 3), date(2026, 3, 4), date(2026, 3, 10)):
                        single = _single(warehouse.id, country, postcode, weight, ship_date, promise)
                        assert _batched(zone_map, quoter, country, postcode, weight, ship_date, promise) == single
                        compared += 1
    assert compared == 2 * len(VARIED_DESTINATIONS) * len(VARIED_WEIGHTS) * 2 * 5
    assert {quoter.offered[0][1], quoter.offered[1][1]} == {time(15, 0), time(17, 0)}  # the earlier cut-off wins


def test_a_loaded_rate_book_prices_every_service_zone_and_weight_as_the_database_does(world, rates):
    services = _db.session.query(CarrierService).all()
    book = carriers.RateBook([s.id for s in services])
    for service in services:
        for zone in ("Z1", "Z2", "Z3", "EU", "", "z1"):
            for weight in VARIED_WEIGHTS + ["0", "-1", "0.0004"]:
                expected = _rate_in_sql(service.id, zone, Decimal(weight))
                assert carriers.rate_for(service.id, zone, Decimal(weight)) == expected
                assert book.price(service.id, zone, Decimal(weight)) == expected


def test_a_quoter_asks_a_gateway_that_is_not_ours_for_every_parcel(world, rates, monkeypatch):
    asked = []

    class Remote:
        def __init__(self, carrier):
            self.carrier = carrier

        def quote(self, service, zone, weight_kg):
            asked.append((service.code, zone, weight_kg))
            return Decimal("9.99")

    monkeypatch.setitem(carriers.GATEWAYS, "table", Remote)
    quoter = carriers.Quoter(world.warehouses["EAST"])
    assert [q.price for q in quoter.quotes("Z1", Decimal("1"), date(2026, 3, 2))] == [Decimal("9.99")] * 2
    assert [q.price for q in quoter.quotes("Z9", Decimal("2"), date(2026, 3, 2))] == [Decimal("9.99")] * 2
    assert len(asked) == 4
