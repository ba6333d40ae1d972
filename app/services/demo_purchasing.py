"""Demo purchasing for Harbour & Pine: supplier terms, contacts and catalogues, 90 days of purchase orders and
receipts (some late, some short, some dearer than agreed), open orders at every stage, approval rules, and,
once the other areas have seeded, a first replenishment run so the buyer's screens have something to say."""
from __future__ import annotations

import random
from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select

from app.domain.inventory import Cause, Outside, Reason, Status
from app.extensions import db
from app.models import Sku, Supplier, User, Warehouse
from app.models.approvals import ApprovalRule
from app.models.orders import Order, OrderLine
from app.models.purchasing import (PurchaseOrder, PurchaseOrderLine, Receipt, ReceiptLine, SupplierContact,
                                   SupplierShipment, SupplierShipmentLine, SupplierSku, SupplierTerms)
from app.models.types import utcnow
from app.services import ledger
from app.services.demo import demo_seeder
from app.services.events import record_event
from app.services.ledger import Place
from app.services.purchasing import dock_location, exchange_rate, local_today, suggested_bin
from app.services.settings import get_setting

HISTORY_DAYS = 90
# Which supplier makes what, by the first part of the SKU code; the rest go by category (demo.CATEGORY_SUPPLIER).
MAKER_BY_PREFIX = {"CANDLE": "HEARTHCO", "DIFF": "HEARTHCO", "JAR": "GLASSWELL", "BOTTLE": "GLASSWELL",
                   "FLASK": "GLASSWELL"}
CATEGORY_MAKER = {"Apparel": "NORTHLOOM", "Home": "PORTCERAM", "Outdoor": "TRAILWORKS", "Stationery": "PAPERMILL",
                  "Kitchen": "OAKLEAF"}
SECOND_SOURCE = {"NORTHLOOM": "HEARTHCO", "PORTCERAM": "GLASSWELL", "TRAILWORKS": "NORTHLOOM",
                 "PAPERMILL": "OAKLEAF", "OAKLEAF": "PORTCERAM", "HEARTHCO": "PORTCERAM", "GLASSWELL": "PORTCERAM"}
PACKS = {"Apparel": (6, 12), "Home": (4, 6), "Outdoor": (2, 4), "Stationery": (10, 20), "Kitchen": (2, 6)}
TERMS = {"GB": (30, "DAP"), "PT": (45, "DAP"), "PL": (45, "FCA"), "CN": (60, "FOB")}
CONTACT_NAMES = ["Aisha Khan", "Ben Carter", "Chloe Martin", "Diego Alves", "Elena Nowak", "Finn O'Brien",
                 "Grace Wu", "Hugo Silva", "Isla Murray", "Jonas Berg", "Kasia Zielinska", "Liam Hughes",
                 "Mei Lin", "Noah Evans"]
WAREHOUSE_WEIGHTS = {"LON": 4, "MAN": 3, "MK3": 3, "BRS": 1}


@demo_seeder(30)
def seed_purchasing(rng: random.Random, *, orders: int) -> str:
    """Supplier terms and catalogues, a purchasing history and open POs."""
    suppliers = {s.code: s for s in db.session.scalars(select(Supplier))}
    if not suppliers:
        return "purchasing: no suppliers to seed"
    buyer = db.session.scalar(select(User).where(User.username == "procurement"))
    _terms_and_contacts(rng, suppliers)
    offers = _catalogues(rng, suppliers)
    _approval_rules()
    db.session.flush()
    demand = _daily_demand()
    history = _history(rng, suppliers, offers, demand, buyer)
    db.session.commit()
    waiting = _awaiting_approval(offers, suppliers, buyer)
    return (f"purchasing: {sum(len(v) for v in offers.values())} supplier SKUs, {history} purchase orders "
            f"({waiting} awaiting approval)")


def _terms_and_contacts(rng: random.Random, suppliers: dict[str, Supplier]) -> None:
    names = list(CONTACT_NAMES)
    rng.shuffle(names)
    for index, supplier in enumerate(suppliers.values()):
        days, incoterm = TERMS.get(supplier.country, (30, "DAP"))
        db.session.add(SupplierTerms(supplier_id=supplier.id, payment_days=days, incoterm=incoterm,
                                     notes=f"Order by email to {supplier.email}; confirmations within two working days."))
        for offset, (title, primary) in enumerate((("Account manager", True), ("Logistics coordinator", False))):
            name = names[(2 * index + offset) % len(names)]
            db.session.add(SupplierContact(supplier_id=supplier.id, name=name, title=title, primary=primary,
                                           email=f"{name.split()[0].lower()}@{supplier.code.lower()}.example",
                                           phone=f"+44 20 7946 {rng.randint(1000, 9999)}"))


def _catalogues(rng: random.Random, suppliers: dict[str, Supplier]) -> dict[str, list[SupplierSku]]:
    """Every SKU from its maker; about a quarter also from a second, dearer or slower, source."""
    offers: dict[str, list[SupplierSku]] = defaultdict(list)
    for sku in db.session.scalars(select(Sku).order_by(Sku.id)):
        maker = MAKER_BY_PREFIX.get(sku.code.split("-")[0], CATEGORY_MAKER.get(sku.category, "NORTHLOOM"))
        sources = [(maker, Decimal(rng.choice(["0.94", "0.97", "1.00"])), True)]
        if rng.random() < 0.25 and SECOND_SOURCE.get(maker) in suppliers:
            sources.append((SECOND_SOURCE[maker], Decimal(rng.choice(["1.04", "1.08", "1.12"])), False))
        for code, factor, preferred in sources:
            supplier = suppliers.get(code)
            if supplier is None:
                continue
            offer = _offer(rng, sku, supplier, factor, preferred)
            db.session.add(offer)
            offers[code].append(offer)
    return offers


def _offer(rng: random.Random, sku: Sku, supplier: Supplier, factor: Decimal, preferred: bool) -> SupplierSku:
    pack = rng.choice(PACKS.get(sku.category, (1, 6)))
    cost = (sku.unit_cost * factor / exchange_rate(supplier.currency)).quantize(Decimal("0.0001"))
    lead = supplier.lead_time_days + rng.choice([0, 0, 0, -2, 3, 5]) if rng.random() < 0.3 else None
    return SupplierSku(supplier_id=supplier.id, sku_id=sku.id, sku=sku, supplier=supplier,
                       supplier_code=f"{supplier.code[:3]}-{sku.id:05d}", unit_cost=cost, pack_size=pack,
                       moq=pack * rng.choice([0, 1, 2, 4]), lead_time_days=lead, preferred=preferred)


def _approval_rules() -> None:
    if db.session.scalar(select(func.count(ApprovalRule.id))):
        return
    for rule in get_setting("approvals.default_rules") or []:
        threshold = rule.get("threshold")
        db.session.add(ApprovalRule(kind=rule["kind"], approver_role=rule["approver_role"],
                                    threshold=Decimal(threshold) if threshold is not None else None,
                                    description=rule.get("description", "")))


def _daily_demand() -> dict[int, float]:
    """Mean units a day per SKU over the order history, to size the demo's orders."""
    since = utcnow() - timedelta(days=HISTORY_DAYS)
    rows = db.session.execute(select(OrderLine.sku_id, func.sum(OrderLine.qty)).join(Order, Order.id == OrderLine.order_id)
                              .where(Order.placed_at >= since).group_by(OrderLine.sku_id))
    return {sku_id: float(units) / HISTORY_DAYS for sku_id, units in rows}


# --- history ----------------------------------------------------------------------------------------------------

def _history(rng: random.Random, suppliers: dict[str, Supplier], offers: dict[str, list[SupplierSku]],
             demand: dict[int, float], buyer: User | None) -> int:
    warehouses = {w.code: w for w in db.session.scalars(select(Warehouse).where(Warehouse.active.is_(True)))}
    codes = [c for c in WAREHOUSE_WEIGHTS if c in warehouses] or list(warehouses)
    now, made = utcnow(), 0
    for code, supplier in sorted(suppliers.items()):
        catalogue = [offer for offer in offers.get(code, []) if offer.preferred and offer.sku.active]
        if not catalogue:
            continue
        day = HISTORY_DAYS - rng.randint(0, 6)
        while day > 1:
            warehouse = warehouses[rng.choices(codes, weights=[WAREHOUSE_WEIGHTS.get(c, 1) for c in codes])[0]]
            _one_order(rng, supplier, warehouse, rng.sample(catalogue, min(len(catalogue), rng.randint(3, 9))),
                       demand, now - timedelta(days=day, hours=rng.randint(0, 8)), buyer)
            made += 1
            day -= rng.randint(6, 12)
    return made


def _one_order(rng, supplier: Supplier, warehouse: Warehouse, chosen: list[SupplierSku], demand: dict[int, float],
               created: datetime, buyer: User | None) -> PurchaseOrder:
    sent = created + timedelta(hours=rng.randint(1, 20))
    po = PurchaseOrder(number=f"demo-{rng.getrandbits(48):x}", supplier=supplier, warehouse=warehouse, status="sent",
                       currency=supplier.currency, exchange_rate=exchange_rate(supplier.currency),
                       terms=_terms_summary(supplier), source="demo", created_by_id=buyer.id if buyer else None,
                       created_at=created, sent_at=sent)
    lead = max(offer.lead_days for offer in chosen)
    po.expected_date = po.promised_date = _local_date(sent) + timedelta(days=lead)
    for number, offer in enumerate(chosen, 1):
        po.lines.append(PurchaseOrderLine(line_no=number, sku_id=offer.sku_id, sku=offer.sku,
                                          supplier_code=offer.supplier_code, qty_ordered=_order_qty(rng, offer, demand),
                                          unit_cost=offer.unit_cost, agreed_unit_cost=offer.unit_cost,
                                          pack_size=offer.pack_size))
    db.session.add(po)
    db.session.flush()
    po.number = f"PO-{po.id:06d}"
    _event(po, "draft", created, buyer)
    _event(po, "sent", sent, buyer)
    arrival = sent + timedelta(days=lead + _delay(rng), hours=rng.randint(-4, 4))
    if arrival < utcnow() - timedelta(hours=2):
        _deliver(rng, po, arrival, buyer)
    else:
        _still_coming(rng, po, arrival, buyer)
    return po


def _order_qty(rng, offer: SupplierSku, demand: dict[int, float]) -> int:
    """About three to six weeks of the SKU's share of demand, in whole packs, at least the minimum."""
    wanted = demand.get(offer.sku_id, 0.2) * rng.randint(21, 42) / 2
    packs = max(1, round(wanted / offer.pack_size), -(-offer.moq // offer.pack_size))
    return packs * offer.pack_size


def _delay(rng) -> int:
    """Days late (negative: early): most suppliers mostly keep their word."""
    return rng.choice([-2, -1, 0, 0, 0, 0, 1, 2, 4, 7])


def _deliver(rng, po: PurchaseOrder, arrival: datetime, buyer: User | None) -> None:
    _receive(rng, po, arrival, buyer, short=rng.random() < 0.25, split=rng.random() < 0.15)
    if any(line.qty_received < line.qty_ordered for line in po.lines):
        if arrival < utcnow() - timedelta(days=6):
            _close(po, arrival + timedelta(days=5), buyer)
        else:
            po.status = "partially_received"
    else:
        po.status = "received"
        if arrival < utcnow() - timedelta(days=3):
            _close(po, arrival + timedelta(days=2), buyer)


def _receive(rng, po: PurchaseOrder, arrival: datetime, buyer: User | None, *, short: bool, split: bool) -> None:
    receipt = _receipt(po, arrival, buyer)
    later = []
    for line in po.lines:
        qty = line.qty_ordered
        if short and rng.random() < 0.4:
            qty = int(qty * rng.choice([0.5, 0.75, 0.9])) // line.pack_size * line.pack_size
        if split and qty > line.pack_size:
            later.append((line, qty // 2))
            qty -= qty // 2
        if qty > 0:
            _receipt_line(rng, po, receipt, line, qty, arrival, buyer)
    if later:
        when = arrival + timedelta(days=rng.randint(3, 6))
        second = _receipt(po, min(when, utcnow() - timedelta(hours=1)), buyer)
        for line, qty in later:
            _receipt_line(rng, po, second, line, qty, second.received_at, buyer)


def _receipt(po: PurchaseOrder, when: datetime, buyer: User | None) -> Receipt:
    receipt = Receipt(po=po, number=f"demo-{po.id}-{len(po.receipts)}", received_at=when,
                      received_by_id=buyer.id if buyer else None)
    db.session.add(receipt)
    db.session.flush()
    receipt.number = f"GRN-{receipt.id:06d}"
    _event(po, "receipt", when, buyer, receipt=receipt.number)
    return receipt


def _receipt_line(rng, po: PurchaseOrder, receipt: Receipt, line: PurchaseOrderLine, qty: int, when: datetime,
                  buyer: User | None) -> None:
    cost = line.unit_cost
    if rng.random() < 0.15:
        cost = (cost * Decimal(rng.choice(["1.02", "1.04", "1.06", "1.08", "0.98"]))).quantize(Decimal("0.0001"))
    quarantine = rng.random() < 0.03
    dock, cause = dock_location(po.warehouse), Cause("purchase_order", po.number)
    user_id = buyer.id if buyer else None
    status = Status.QUARANTINED if quarantine else Status.AVAILABLE
    moves = [ledger.post_move(line.sku_id, qty, Place(ledger.outside(Outside.SUPPLIER)), Place(dock, status),
                              reason=Reason.RECEIPT, cause=cause, user_id=user_id, note=f"received {receipt.number}")]
    if not quarantine:
        target = suggested_bin(po.warehouse_id, line.sku_id)
        if target is not None:
            moves.append(ledger.post_move(line.sku_id, qty, Place(dock, Status.AVAILABLE), Place(target, Status.AVAILABLE),
                                          reason=Reason.TRANSFER, cause=cause, user_id=user_id,
                                          note=f"put away to {target.code}"))
            line.qty_put_away += qty
    for offset, move in enumerate(moves):
        move.created_at = when + timedelta(minutes=30 * offset)
    line.qty_received += qty
    line.qty_quarantined += qty if quarantine else 0
    receipt.lines.append(ReceiptLine(po_line_id=line.id, sku_id=line.sku_id, qty=qty, quarantined=quarantine,
                                     unit_cost=cost))


def _close(po: PurchaseOrder, when: datetime, buyer: User | None) -> None:
    for line in po.lines:
        line.qty_cancelled = max(0, line.qty_ordered - line.qty_received)
    po.status, po.closed_at = "closed", min(when, utcnow())
    _event(po, "closed", po.closed_at, buyer)


def _still_coming(rng, po: PurchaseOrder, arrival: datetime, buyer: User | None) -> None:
    """An order not yet due: sent, or confirmed, and when close, shipped with a notice."""
    if rng.random() < 0.6:
        po.status, po.confirmed_at = "confirmed", po.sent_at + timedelta(days=1)
        po.supplier_reference = f"{po.supplier.code[:3]}-SO-{rng.randint(10000, 99999)}"
        _event(po, "confirmed", po.confirmed_at, buyer)
    days_left = (_local_date(arrival) - local_today()).days
    if days_left <= 10 and rng.random() < 0.7:
        _notify(po, _local_date(arrival), buyer)


def _notify(po: PurchaseOrder, expected, buyer: User | None) -> None:
    shipment = SupplierShipment(po=po, reference=f"ASN-{po.id:05d}", carrier="Maersk" if po.supplier.country == "CN"
                                else "DHL Freight", tracking=f"TRK{po.id:08d}", expected_date=expected,
                                created_by_id=buyer.id if buyer else None, created_at=utcnow() - timedelta(days=2))
    db.session.add(shipment)
    dock, cause = dock_location(po.warehouse), Cause("purchase_order", po.number)
    for line in po.lines:
        shipment.lines.append(SupplierShipmentLine(po_line_id=line.id, sku_id=line.sku_id, qty=line.qty_ordered))
        line.qty_in_transit = line.qty_ordered
        move = ledger.post_move(line.sku_id, line.qty_ordered, Place(ledger.outside(Outside.SUPPLIER)),
                                Place(dock, Status.IN_TRANSIT), reason=Reason.TRANSFER, cause=cause,
                                user_id=buyer.id if buyer else None, note=f"shipment notice {shipment.reference}")
        move.created_at = shipment.created_at
    po.expected_date = expected
    _event(po, "shipped", shipment.created_at, buyer)


def _event(po: PurchaseOrder, what: str, when: datetime, buyer: User | None, **extra) -> None:
    event = record_event(f"purchase_order.{what}", "purchase_order", po.number, {"po": po.number, **extra},
                         user_id=buyer.id if buyer else None)
    event.created_at = when


def _terms_summary(supplier: Supplier) -> str:
    terms = db.session.get(SupplierTerms, supplier.id)
    return terms.summary if terms else ""


def _local_date(moment: datetime):
    from app.services.purchasing_queries import local_date
    return local_date(moment)


# --- open work for the screens -----------------------------------------------------------------------------------

def _awaiting_approval(offers: dict[str, list[SupplierSku]], suppliers: dict[str, Supplier], buyer: User | None) -> int:
    """One large order waiting for finance, so the approvals inbox has something to decide."""
    from app.services.purchasing import LineInput, draft_purchase_order, send_purchase_order
    catalogue = sorted((o for o in offers.get("NORTHLOOM", []) if o.preferred and o.sku.active),
                       key=lambda o: o.unit_cost, reverse=True)[:6]
    warehouse = db.session.scalar(select(Warehouse).where(Warehouse.code == "LON"))
    if buyer is None or not catalogue or warehouse is None:
        return 0
    lines = [LineInput(o.sku_id, max(o.moq, o.pack_size * 12)) for o in catalogue]
    po = draft_purchase_order(suppliers["NORTHLOOM"].id, warehouse.id, lines, user_id=buyer.id, source="manual",
                              note="Autumn range: knitwear and hoodies ahead of the cold months.")
    send_purchase_order(po.id, user_id=buyer.id)
    return 1 if po.status == "awaiting_approval" else 0


@demo_seeder(85)
def first_replenishment_run(rng: random.Random, *, orders: int) -> str:
    """The first forecast-and-suggest run, after the warehouse, returns and finance seeders moved stock."""
    from app.services.replenishment import run_replenishment
    run = run_replenishment(trigger="demo")
    return f"replenishment run {run.id}: {run.series} forecasts, {run.suggestions} to buy in {run.seconds:.1f} s"
