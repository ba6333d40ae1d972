"""Carriers: which zone a parcel goes to, what each service costs, the cheapest that keeps the promise, labels.

A carrier is reached through a `CarrierGateway`. `TableCarrier` answers from our own rate
tables and numbers its own tracking codes; a real carrier API plugs in by registering its
`api_kind` in GATEWAYS.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, time, timedelta
from decimal import Decimal
from typing import Callable, Protocol

from sqlalchemy import select

from app.domain.errors import DomainError, NotFound
from app.domain.gs1 import check_digit
from app.extensions import db
from app.models import Warehouse
from app.models.carriers import Carrier, CarrierService, RateCard, ShippingZone

TYPICAL_PARCEL_KG = Decimal("1")


class CarrierUnavailable(DomainError):
    """The carrier's system could not be reached or refused the request; try again later."""

    code = "carrier_unavailable"
    status = 503


@dataclass(frozen=True)
class Quote:
    """A priced service for one parcel from one warehouse to one zone."""

    carrier: str
    carrier_name: str
    service: str
    service_name: str
    service_id: int
    zone: str
    price: Decimal
    transit_days: int
    cutoff: time
    delivery_date: date
    meets_promise: bool = True

    @property
    def label(self) -> str:
        return f"{self.carrier_name} {self.service_name}"


@dataclass(frozen=True)
class LabelDetails:
    """What a carrier needs to label one parcel."""

    shipment: str
    service: str
    zone: str
    weight_kg: Decimal
    ship_from: dict = field(default_factory=dict)
    ship_to: dict = field(default_factory=dict)


class CarrierGateway(Protocol):
    """A carrier's system: prices a parcel and books its label."""

    def quote(self, service: CarrierService, zone: str, weight_kg: Decimal) -> Decimal | None:
        """The price of one parcel, or None when the service does not carry it there."""

    def create_label(self, request: LabelDetails) -> tuple[str, dict]:
        """Book the parcel: (tracking number, label data); raises CarrierUnavailable when the carrier is down."""


class TableCarrier:
    """A carrier priced from our rate cards, numbering its own tracking codes (prefix, serial, check digit).

    Given a RateBook (a Quoter gives it one) it prices from the cards already loaded, else with one query.
    """

    def __init__(self, carrier: Carrier, rates: "RateBook | None" = None):
        self.carrier = carrier
        self.rates = rates

    def quote(self, service: CarrierService, zone: str, weight_kg: Decimal) -> Decimal | None:
        if self.rates is not None and self.rates.covers(service.id, zone):
            return self.rates.price(service.id, zone, weight_kg)
        return rate_for(service.id, zone, weight_kg)

    def create_label(self, request: LabelDetails) -> tuple[str, dict]:
        self.carrier.last_tracking_serial += 1
        body = f"{self.carrier.last_tracking_serial:011d}"
        tracking = f"{self.carrier.tracking_prefix or self.carrier.code[:2].upper()}{body}{check_digit(body)}"
        return tracking, {"carrier": self.carrier.code, "service": request.service, "zone": request.zone,
                          "weight_kg": str(request.weight_kg)}


GATEWAYS: dict[str, Callable[[Carrier], CarrierGateway]] = {"table": TableCarrier}


def gateway_for(carrier: Carrier) -> CarrierGateway:
    """The gateway that speaks for this carrier."""
    make = GATEWAYS.get(carrier.api_kind)
    if make is None:
        raise CarrierUnavailable(f"No gateway for {carrier.name} ({carrier.api_kind}).")
    return make(carrier)


# --- zones ---------------------------------------------------------------------------------------------------

def normalise_postcode(postcode: str | None) -> str:
    return re.sub(r"\s+", "", (postcode or "").upper())


def postcode_area(postcode: str | None) -> str:
    """The leading letters of a postcode: "M" for M17 1WA, "LS" for LS1 4AP."""
    match = re.match(r"[A-Z]+", normalise_postcode(postcode))
    return match.group(0) if match else ""


def _prefix_matches(prefix: str, postcode: str, area: str) -> bool:
    if not prefix:
        return True
    if prefix.isalpha():  # an area: "M" must not catch "ML" (Motherwell)
        return prefix == area
    return postcode.startswith(prefix)


def _country(country: str | None) -> str:
    return (country or "").upper()[:2]


class ZoneMap:
    """A warehouse's zone rows loaded once (only some countries' when given): the zone of any destination."""

    def __init__(self, warehouse_id: int, countries: list[str] | None = None):
        query = select(ShippingZone).where(ShippingZone.warehouse_id == warehouse_id).order_by(ShippingZone.id)
        if countries is not None:
            query = query.where(ShippingZone.country.in_(countries))
        self.rows = list(db.session.scalars(query))

    def zone(self, country: str, postcode: str) -> str:
        """The longest matching postcode prefix of the country wins, else the "*" row; "" when unmapped."""
        country = _country(country)
        code, area = normalise_postcode(postcode), postcode_area(postcode)
        best = None
        for row in self.rows:
            if row.country == country and _prefix_matches(row.postcode_prefix, code, area):
                if best is None or best.country == "*" or len(row.postcode_prefix) > len(best.postcode_prefix):
                    best = row
            elif row.country == "*" and best is None:
                best = row
        return best.zone if best else ""


def zone_for(warehouse_id: int, country: str, postcode: str) -> str:
    """The zone of a destination from a warehouse: the longest matching postcode prefix wins; "" when unmapped."""
    return ZoneMap(warehouse_id, [_country(country), "*"]).zone(country, postcode)


# --- services and prices ---------------------------------------------------------------------------------------

def parse_cutoffs(text: str) -> dict[str, time]:
    """ "DPD 17:30, Royal Mail 16:30" -> {"dpd": 17:30, "royal mail": 16:30}."""
    found = {}
    for part in (text or "").split(","):
        match = re.match(r"\s*(.+?)\s+(\d{1,2}):(\d{2})\s*$", part)
        if match and int(match.group(2)) < 24 and int(match.group(3)) < 60:
            found[match.group(1).strip().lower()] = time(int(match.group(2)), int(match.group(3)))
    return found


def offered_services(warehouse: Warehouse) -> list[tuple[CarrierService, time]]:
    """The active services a warehouse ships with and its collection cut-off for each.

    A warehouse that names its carriers' cut-offs ships with those carriers only, at its own
    cut-off when earlier than the service's; one that names none ships with every carrier.
    """
    cutoffs = parse_cutoffs(warehouse.carrier_cutoffs)
    services = db.session.scalars(select(CarrierService).join(Carrier).where(
        CarrierService.active.is_(True), Carrier.active.is_(True)).order_by(Carrier.code, CarrierService.code))
    offered = []
    for service in services:
        local = cutoffs.get(service.carrier.name.lower()) or cutoffs.get(service.carrier.code.lower())
        if cutoffs and local is None:
            continue
        offered.append((service, min(local, service.cutoff) if local else service.cutoff))
    return offered


_STORED_WEIGHT = RateCard.__table__.c.max_weight_kg.type  # weights compare as the database stores them


class RateBook:
    """Rate-card weight breaks of some services (in some zones, or all), loaded with one query."""

    def __init__(self, service_ids: list[int], zones: list[str] | None = None):
        self.service_ids, self.zones = set(service_ids), None if zones is None else set(zones)
        self.breaks: dict[tuple[int, str], list[tuple[int, Decimal]]] = {}
        if not self.service_ids or self.zones == set():
            return
        query = select(RateCard.service_id, RateCard.zone, RateCard.max_weight_kg, RateCard.price).where(
            RateCard.service_id.in_(sorted(self.service_ids))).order_by(RateCard.max_weight_kg)
        if self.zones is not None:
            query = query.where(RateCard.zone.in_(sorted(self.zones)))
        for service_id, zone, max_weight_kg, price in db.session.execute(query):
            self.breaks.setdefault((service_id, zone), []).append(
                (_STORED_WEIGHT.process_bind_param(max_weight_kg, None), price))

    def covers(self, service_id: int, zone: str) -> bool:
        return service_id in self.service_ids and (self.zones is None or zone in self.zones)

    def price(self, service_id: int, zone: str, weight_kg: Decimal) -> Decimal | None:
        """The price at the smallest weight break that takes this weight, or None when none does."""
        weight = _STORED_WEIGHT.process_bind_param(Decimal(weight_kg), None)
        return next((price for max_weight, price in self.breaks.get((service_id, zone), ()) if max_weight >= weight),
                    None)


def rate_for(service_id: int, zone: str, weight_kg: Decimal) -> Decimal | None:
    """The price at the smallest weight break that takes this weight, or None when none does."""
    return RateBook([service_id], [zone]).price(service_id, zone, weight_kg)


def add_working_days(day: date, days: int) -> date:
    """The date `days` working days (Monday to Friday) after `day`."""
    while days > 0:
        day += timedelta(days=1)
        if day.weekday() < 5:
            days -= 1
    return day


class Quoter:
    """Prices parcels from one warehouse with its offered services and their rate cards, each loaded once."""

    def __init__(self, warehouse: Warehouse, zones: list[str] | None = None):
        self.warehouse = warehouse
        self.offered = offered_services(warehouse)
        self.rates = RateBook([service.id for service, _ in self.offered], zones)
        self.gateways: dict[int, CarrierGateway] = {}

    def gateway(self, carrier: Carrier) -> CarrierGateway:
        if carrier.id not in self.gateways:
            gateway = gateway_for(carrier)
            if isinstance(gateway, TableCarrier):
                gateway.rates = self.rates
            self.gateways[carrier.id] = gateway
        return self.gateways[carrier.id]

    def quotes(self, zone: str, weight_kg: Decimal, ship_date: date, promise_date: date | None = None) -> list[Quote]:
        """Every offered service that carries this parcel to the zone, cheapest first."""
        found = []
        for service, cutoff in self.offered:
            price = self.gateway(service.carrier).quote(service, zone, Decimal(weight_kg))
            if price is None:
                continue
            arrives = add_working_days(ship_date, service.transit_days)
            found.append(Quote(service.carrier.code, service.carrier.name, service.code, service.name, service.id,
                               zone, price, service.transit_days, cutoff, arrives,
                               meets_promise=promise_date is None or arrives <= promise_date))
        return sorted(found, key=lambda q: (q.price, q.transit_days, q.carrier, q.service))

    def cheapest(self, zone: str, weight_kg: Decimal, promise_date: date | None, ship_date: date) -> Quote:
        """The cheapest service that delivers by the promise date; when none can, the fastest (then cheapest)."""
        found = self.quotes(zone, weight_kg, ship_date, promise_date)
        if not found:
            raise NotFound(f"No carrier service takes a {Decimal(weight_kg):.2f} kg parcel to zone "
                           f"{zone or 'unmapped'}.", field="carrier")
        on_time = [q for q in found if q.meets_promise]
        if on_time:
            return on_time[0]
        return min(found, key=lambda q: (q.delivery_date, q.price))


def _warehouse(warehouse_id: int) -> Warehouse:
    warehouse = db.session.get(Warehouse, warehouse_id)
    if warehouse is None:
        raise NotFound("No such warehouse.", field="warehouse")
    return warehouse


def quotes(warehouse_id: int, zone: str, weight_kg: Decimal, ship_date: date,
           promise_date: date | None = None) -> list[Quote]:
    """Every service that carries this parcel from the warehouse to the zone, cheapest first."""
    return Quoter(_warehouse(warehouse_id), [zone]).quotes(zone, weight_kg, ship_date, promise_date)


def cheapest_service(warehouse_id: int, zone: str, weight_kg: Decimal, promise_date: date | None,
                     ship_date: date) -> Quote:
    """The cheapest service that delivers by the promise date; when none can, the fastest (then cheapest)."""
    return Quoter(_warehouse(warehouse_id), [zone]).cheapest(zone, weight_kg, promise_date, ship_date)


def routing_lanes() -> list[dict]:
    """Per warehouse and zone: the cheapest service price for a typical 1 kg parcel and its transit days."""
    lanes = []
    warehouses = db.session.scalars(select(Warehouse).where(Warehouse.active.is_(True)).order_by(Warehouse.code))
    for warehouse in warehouses:
        zones = sorted(set(db.session.scalars(select(ShippingZone.zone).where(ShippingZone.warehouse_id == warehouse.id))))
        offered = offered_services(warehouse)
        rates = RateBook([service.id for service, _ in offered], zones)
        for zone in zones:
            priced = [(rates.price(s.id, zone, TYPICAL_PARCEL_KG), s.transit_days) for s, _ in offered]
            priced = [(price, days) for price, days in priced if price is not None]
            if priced:
                price, days = min(priced)
                lanes.append({"warehouse": warehouse.code, "zone": zone, "cost": price, "transit_days": days})
    return lanes


def carrier_by_code(code: str) -> Carrier:
    carrier = db.session.scalar(select(Carrier).where(Carrier.code == code))
    if carrier is None:
        raise NotFound(f"No carrier '{code}'.", field="carrier")
    return carrier
