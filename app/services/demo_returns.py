"""Demo returns: the older demo orders shipped, and RMAs on them over the last 90 days in every state.

Orders placed more than a few days ago that still wait on the shelf are taken through the floor and
ship confirm (the real ship-confirm service, so finance invoices them), dated a day or two after they
were placed. About one in five of them comes back, through the real returns services, each step
dated when it would have happened. A few SKUs carry a quality problem: most of their returns say
"defective" or "not as described", so the analytics have something to find.
"""
from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select, update

from app.domain.errors import DomainError
from app.domain.inventory import Cause, Status
from app.domain.orders import ShipmentStatus
from app.domain.returns import Disposition, Grade, ReturnReason, RmaStatus
from app.extensions import db
from app.models import Location, Sku, StockMove, User
from app.models.orders import Order, Shipment, ShipmentBin, ShipmentLine
from app.models.returns import Refund, Rma, VendorClaim
from app.models.types import utcnow
from app.services import ledger, orders, returns, shipping, vendor_claims
from app.services.demo import demo_seeder
from app.services.returns import UnitDecision

SHIP_AFTER_DAYS = 4
MAX_SHIPPED = 450
RETURN_SHARE = 0.2
MIN_RETURNS = 8  # a small demo still has returns to show: then a larger share of its few shipped orders comes back
QUALITY_SKUS = 4
R = ReturnReason
APPAREL_REASONS = {R.TOO_SMALL: 26, R.TOO_LARGE: 22, R.CHANGED_MIND: 18, R.NOT_AS_DESCRIBED: 7, R.DEFECTIVE: 5,
                   R.DAMAGED_IN_TRANSIT: 4, R.ARRIVED_LATE: 6, R.WRONG_ITEM: 4}
OTHER_REASONS = {R.CHANGED_MIND: 30, R.DAMAGED_IN_TRANSIT: 18, R.DEFECTIVE: 9, R.NOT_AS_DESCRIBED: 9,
                 R.ARRIVED_LATE: 10, R.WRONG_ITEM: 6}
QUALITY_REASONS = {R.DEFECTIVE: 45, R.NOT_AS_DESCRIBED: 25, R.CHANGED_MIND: 10, R.DAMAGED_IN_TRANSIT: 5}


@demo_seeder(50)
def seed_returns(rng: random.Random, *, orders: int) -> str:
    """Ship the older demo orders, then return some of them through every step of the returns flow."""
    users = {u.username: u.id for u in db.session.scalars(select(User))}
    shipped = _ship_older_orders(rng)
    if not shipped:
        return "no returns seeded (no shipped orders)"
    quality = _quality_skus(rng, shipped)
    now = utcnow()
    made: dict[str, int] = {}
    share = max(RETURN_SHARE, MIN_RETURNS / len(shipped))
    for order_id in shipped:
        if rng.random() >= share:
            continue
        status = _return_one(rng, db.session.get(Order, order_id), quality, users, now)
        if status:
            made[status] = made.get(status, 0) + 1
    summary = ", ".join(f"{n} {status.replace('_', ' ')}" for status, n in sorted(made.items()))
    claims = _follow_up_claims(rng, users)
    return f"{len(shipped)} older orders shipped; {sum(made.values())} RMAs ({summary}); {claims}"


# --- vendor claims -----------------------------------------------------------------------------------------------

def _follow_up_claims(rng: random.Random, users: dict[str, int]) -> str:
    """The older half of each supplier's claims sent back under a supplier reference, and most of those settled:
    in full, one refused and one part-credited, so the claims screen shows every state."""
    open_claims: dict[int, list[int]] = {}
    for claim_id, supplier_id in db.session.execute(select(VendorClaim.id, VendorClaim.supplier_id)
                                                    .where(VendorClaim.status == vendor_claims.OPEN)
                                                    .order_by(VendorClaim.id)):
        open_claims.setdefault(supplier_id, []).append(claim_id)
    sent: list[int] = []
    for supplier_id, ids in sorted(open_claims.items()):
        older = ids[:(len(ids) + 1) // 2]
        try:
            vendor_claims.send_vendor_claims(older, reference=f"RA-{rng.randint(10000, 99999)}",
                                             user_id=users.get("procurement"))
        except DomainError:  # a unit is no longer at the dock: these stay open, as they would for a person
            continue
        sent += older
    settled = sent[:len(sent) - max(1, len(sent) // 4)]  # the newest stay sent, waiting on the supplier
    for n, claim_id in enumerate(settled):
        claimed = vendor_claims.get_claim(claim_id).claimed
        credited, note = claimed, ""
        if n == 1:
            credited, note = Decimal("0"), "Supplier refused: wear from use, not a manufacturing fault."
        elif n == 2:
            credited, note = (claimed / 2).quantize(Decimal("0.01")), "Supplier credited half: outer packaging missing."
        vendor_claims.settle_vendor_claim(claim_id, credited=credited, note=note, user_id=users.get("finance"))
    opened = sum(len(ids) for ids in open_claims.values())
    return f"{opened} vendor claims ({len(sent)} sent, {len(settled)} settled)"


# --- shipping the older orders -----------------------------------------------------------------------------------
# The seeder keeps ids, not loaded orders, and commits only through the services: every commit expires each object
# the session holds, so holding a few thousand orders made each of the thousands of commits re-read them.

def _ship_older_orders(rng: random.Random) -> list[int]:
    """Ship a sample of the older allocated orders; returns their ids, oldest first."""
    cutoff = utcnow() - timedelta(days=SHIP_AFTER_DAYS)
    candidates = db.session.execute(
        select(Order.id, Order.placed_at).where(Order.status == "allocated", Order.placed_at < cutoff)
        .order_by(Order.placed_at)).all()
    chosen = sorted(rng.sample(candidates, min(MAX_SHIPPED, len(candidates))), key=lambda row: row.placed_at)
    shipped = []
    for order_id, _placed_at in chosen:
        shipments = [s for s in db.session.get(Order, order_id).shipments if s.status == ShipmentStatus.ALLOCATED]
        if not shipments:
            continue
        for shipment in shipments:
            _ship(rng, shipment)
        shipped.append(order_id)
    db.session.commit()
    return shipped


def _ship(rng: random.Random, shipment: Shipment) -> None:
    """The floor's work for one shipment, then the real ship confirm, dated a day or two after the order.

    The floor's steps and the dating are committed by the ship confirm and the next one."""
    for status in (ShipmentStatus.RELEASED, ShipmentStatus.PICKING):
        orders.move_shipment(shipment, status, "demo history")
    cause = Cause("shipment", shipment.number)
    for line in shipment.lines:
        for bin_ in line.bins:
            ledger.post_move(line.sku_id, bin_.qty, ledger.Place(bin_.location, Status.ALLOCATED),
                             ledger.Place(bin_.location, Status.PICKED), reason="pick", cause=cause)
            bin_.qty_picked = bin_.qty
        line.qty_picked = line.qty_packed = line.qty
    for status in (ShipmentStatus.PICKED, ShipmentStatus.PACKED):
        orders.move_shipment(shipment, status, "demo history")
    shipment.carrier, shipment.service = rng.choice([("DPD", "NEXT"), ("RM", "T48"), ("EVRI", "STD")])
    shipment.tracking_number = f"{shipment.carrier[:2]}{shipment.id:010d}"
    shipping.ship_shipment(shipment.id)
    shipped_at = shipment.order.placed_at + timedelta(hours=rng.randint(18, 52))
    shipment.shipped_at = min(shipped_at, utcnow() - timedelta(days=SHIP_AFTER_DAYS - 1))
    db.session.execute(update(StockMove).where(StockMove.cause_type == "shipment", StockMove.cause_id == shipment.number)
                       .values(created_at=shipment.shipped_at))


def _quality_skus(rng: random.Random, shipped: list[int]) -> set[int]:
    counts: dict[int, int] = {}
    for order_id in shipped:
        for line in db.session.get(Order, order_id).lines:
            counts[line.sku_id] = counts.get(line.sku_id, 0) + line.qty
    busiest = sorted(counts, key=counts.get, reverse=True)[:QUALITY_SKUS * 3]
    return set(rng.sample(busiest, min(QUALITY_SKUS, len(busiest))))


# --- one return --------------------------------------------------------------------------------------------------

def _return_one(rng: random.Random, order: Order, quality: set[int], users: dict[str, int], now: datetime) -> str | None:
    shipped_at = max(s.shipped_at for s in order.shipments if s.shipped_at)
    opened = shipped_at + timedelta(days=rng.uniform(1.5, 16), hours=rng.randint(0, 10))
    if opened > now - timedelta(hours=2):
        return None
    lines = _lines_to_return(rng, order, quality)
    try:
        rma = returns.record_rma(order.id, lines, user_id=users.get("returns"), source="portal", now=opened)
        db.session.commit()
    except DomainError:  # a line the policy refuses: this customer simply keeps the goods
        db.session.rollback()
        return None
    clock = _Clock(rma, opened)
    age = (now - opened).days
    _progress(rng, rma, clock, age, users)
    db.session.commit()
    return rma.status


def _lines_to_return(rng: random.Random, order: Order, quality: set[int]) -> list[dict]:
    lines = [line for line in order.lines if line.qty_shipped > 0]
    chosen = rng.sample(lines, 1 if len(lines) == 1 or rng.random() < 0.8 else 2)
    return [{"sku": line.sku.code, "qty": 1 if line.qty_shipped == 1 or rng.random() < 0.75 else line.qty_shipped,
             "reason": _reason(rng, line.sku_id in quality, line.sku.category).value} for line in chosen]


def _reason(rng: random.Random, quality_problem: bool, category: str) -> ReturnReason:
    table = QUALITY_REASONS if quality_problem else APPAREL_REASONS if category == "Apparel" else OTHER_REASONS
    return rng.choices(list(table), weights=list(table.values()))[0]


class _Clock:
    """Moves an RMA's story forward in past time and dates what each service just recorded.

    The dates are committed with the next service's work (and the RMA's last step by _return_one).
    """

    def __init__(self, rma: Rma, start: datetime):
        self.rma, self.at = rma, start
        self._date_steps()

    def advance(self, rng: random.Random, low: float, high: float) -> datetime:
        self.at = min(self.at + timedelta(days=rng.uniform(low, high)), utcnow() - timedelta(minutes=30))
        return self.at

    def stamp(self, *fields: str) -> None:
        for name in fields:
            setattr(self.rma, name, self.at)
        self._date_steps()
        db.session.execute(update(StockMove).where(StockMove.cause_type == "rma", StockMove.cause_id == self.rma.number,
                                                   StockMove.created_at > self.at).values(created_at=self.at))

    def _date_steps(self) -> None:
        for step in self.rma.steps:
            if step.created_at > self.at:
                step.created_at = self.at
        if self.rma.authorised_at > self.at:
            self.rma.authorised_at = self.at


def _progress(rng: random.Random, rma: Rma, clock: _Clock, age: int, users: dict[str, int]) -> None:
    clerk, finance = users.get("returns"), users.get("finance")
    if age < 2 or (age < 5 and rng.random() < 0.5):
        if rng.random() < 0.4:
            clock.advance(rng, 0.3, 1)
            returns.mark_in_transit(rma.id, tracking_number=f"RT{rma.id:08d}GB", user_id=None)
            clock.stamp()
        return
    if age > 35 and rng.random() < 0.06:
        returns.expire_overdue_rmas(clock.at + timedelta(days=31))
        clock.advance(rng, 30, 31)
        clock.stamp("closed_at")
        return
    if rng.random() < 0.04:
        clock.advance(rng, 0.5, 3)
        returns.cancel_rma(rma.id, reason="customer decided to keep it", user_id=clerk)
        clock.stamp("closed_at")
        return
    clock.advance(rng, 2, 6)
    returns.receive_rma(rma.id, _received_counts(rng, rma), user_id=clerk)
    clock.stamp("received_at")
    if age < 7 and rng.random() < 0.5:
        return
    clock.advance(rng, 0.2, 2)
    returns.inspect_rma(rma.id, [_decision(rng, rma, unit) for unit in returns.pending_units(rma)], user_id=clerk)
    clock.stamp("inspected_at")
    if age < 9 and rng.random() < 0.4:
        return
    _settle(rng, rma, clock, age, clerk, finance)


def _received_counts(rng: random.Random, rma: Rma) -> dict[str, int]:
    """What is in the parcel: now and then one unit fewer than authorised."""
    counts = {line.sku.code: line.qty_expected for line in rma.lines}
    short = [code for code, qty in counts.items() if qty > 1]
    if short and rng.random() < 0.3:
        counts[rng.choice(short)] -= 1
    return counts


def _decision(rng: random.Random, rma: Rma, unit) -> UnitDecision:
    reason = unit.line.reason
    if reason in (R.DEFECTIVE, R.NOT_AS_DESCRIBED) and returns.claim_source(unit.line.sku_id) and rng.random() < 0.5:
        return UnitDecision(unit.id, Grade.C, Disposition.VENDOR_CLAIM, "fault confirmed on inspection")
    if reason in (R.DEFECTIVE, R.DAMAGED_IN_TRANSIT):
        choice = rng.choices([Disposition.REFURBISH, Disposition.WRITE_OFF, Disposition.RESTOCK], weights=[4, 3, 2])[0]
        grade = {Disposition.REFURBISH: Grade.C, Disposition.WRITE_OFF: Grade.D, Disposition.RESTOCK: Grade.B}[choice]
        if choice == Disposition.RESTOCK:
            return _restock(rma, unit, grade)
        defect = rng.choice(["cracked", "scuffed", "seam split", "does not switch on"])
        return UnitDecision(unit.id, grade, choice, defect)
    return _restock(rma, unit, rng.choice([Grade.A, Grade.A, Grade.B]))


def _restock(rma: Rma, unit, grade: str) -> UnitDecision:
    """Back on the shelf: in the bin returns suggests, or, when the warehouse has sold its last one (returns then
    asks the inspector to choose), in the bin it was picked from."""
    suggested = returns.suggest_bin(unit.line.sku_id, rma.warehouse_id)
    return UnitDecision(unit.id, grade, Disposition.RESTOCK, "", None if suggested else _picked_from(rma, unit.line.sku_id))


def _picked_from(rma: Rma, sku_id: int) -> int | None:
    picked = select(ShipmentBin.location_id).join(ShipmentLine, ShipmentLine.id == ShipmentBin.shipment_line_id).join(
        Shipment, Shipment.id == ShipmentLine.shipment_id).where(
        Shipment.order_id == rma.order_id, Shipment.warehouse_id == rma.warehouse_id, ShipmentLine.sku_id == sku_id)
    any_bin = select(Location.id).where(Location.warehouse_id == rma.warehouse_id, Location.kind == "bin",
                                        Location.active.is_(True)).order_by(Location.code)
    return db.session.scalar(picked.limit(1)) or db.session.scalar(any_bin.limit(1))


def _settle(rng: random.Random, rma: Rma, clock: _Clock, age: int, clerk: int | None, finance: int | None) -> None:
    clock.advance(rng, 0.1, 1.5)
    if rng.random() < 0.05:
        returns.close_rma(rma.id, reason="returned worn; refund refused under the policy", user_id=clerk)
        clock.stamp("closed_at")
        return
    if rng.random() < 0.07 and _exchange(rng, rma, clerk):
        clock.stamp("closed_at")
        return
    refund = returns.request_refund(rma.id, user_id=clerk)
    clock.stamp()
    if refund.status == "pending_approval" and finance:
        clock.advance(rng, 0.2, 2)
        returns.decide_refund(refund.id, approver_id=finance, approve=True, note="checked the inspection notes")
        clock.stamp()
    if refund.status != "approved":
        return
    clock.advance(rng, 0.1, 1)
    returns.issue_refund(refund.id, user_id=clerk)
    refund.issued_at = clock.at
    clock.stamp("refunded_at")
    if age > 12 or rng.random() < 0.6:
        clock.advance(rng, 0.5, 3)
        returns.mark_refund_paid(refund.id, reference=f"BACS-{refund.id:06d}", user_id=clerk)
        _date_refund(refund, clock.at)
        clock.stamp("closed_at")


def _exchange(rng: random.Random, rma: Rma, clerk: int | None) -> bool:
    """Swap the first returned line for another SKU of the same category and price (another size or colour)."""
    line = next((l for l in rma.lines if l.qty_received and not l.unexpected), None)
    if line is None:
        return False
    alike = list(db.session.scalars(select(Sku).where(Sku.category == line.sku.category, Sku.price == line.sku.price,
                                                      Sku.active.is_(True), Sku.id != line.sku_id)))
    if not alike:
        return False
    returns.exchange_rma(rma.id, {line.id: rng.choice(alike).code}, user_id=clerk)
    return rma.status == RmaStatus.CLOSED


def _date_refund(refund: Refund, at: datetime) -> None:
    refund.paid_at = at

