"""Inventory valuation: FIFO cost layers kept in step with every stock move, and the postings they make.

Registered as a stock-ledger observer when the app starts, so every flow's moves are valued the
same way, inside the transaction that moves the units:

    from outside into stock   supplier: Dr Inventory, Cr Goods received not invoiced (Cr Opening
                              balance equity for opening balances); customer return: Dr Inventory,
                              Cr Cost of goods sold at the cost the units shipped at; found stock:
                              Dr Inventory, Cr Stock adjustments; back from scrap: Cr Write-offs
    from stock to outside     customer: Dr Cost of goods sold; adjustment: Dr Stock adjustments;
                              scrap: Dr Write-offs; supplier: Dr Supplier claims; all Cr Inventory
                              at the FIFO cost of the oldest layers
    within stock              no posting; between warehouses the layers move with the units

Layers are kept per (SKU, warehouse); units between warehouses (the transit location) form their
own pool. The cost of units coming in is, in order: the move's `unit_cost` (given by the cause,
e.g. a purchase order line), for customer returns the cost the order's shipments took, the
current FIFO cost in that warehouse, else the SKU's standard cost.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import and_, func, insert, select, update

from app.domain.inventory import Outside
from app.extensions import db
from app.models import Location, Sku, StockBalance, StockMove
from app.models.finance import CostConsumption, CostLayer
from app.models.orders import Order, Shipment
from app.models.types import utcnow
from app.services import ledger
from app.services.finance import Acct, cents, credit, debit, from_minor, minor_sum, post_entry

LAYERS = CostLayer.__table__
CONSUMPTIONS = CostConsumption.__table__
UNIT_COST = Decimal("0.0001")
OPENING_CAUSES = {("adjustment", "opening_balance")}

# Where units go when they leave stock: (account debited, consumption kind, what the entry says).
OUTBOUND = {
    Outside.CUSTOMER: (Acct.COGS, "shipment", "Shipped"),
    Outside.ADJUSTMENT: (Acct.ADJUSTMENTS, "adjustment", "Adjusted out"),
    Outside.SCRAP: (Acct.WRITE_OFFS, "write_off", "Written off"),
    Outside.SUPPLIER: (Acct.SUPPLIER_CLAIMS, "supplier_return", "Returned to supplier"),
}
# Where units come from when they enter stock: (account credited, entry kind, what the entry says).
INBOUND = {
    Outside.SUPPLIER: (Acct.GRNI, "receipt", "Received"),
    Outside.CUSTOMER: (Acct.COGS, "customer_return", "Returned by customer"),
    Outside.ADJUSTMENT: (Acct.ADJUSTMENTS, "adjustment", "Adjusted in"),
    Outside.SCRAP: (Acct.WRITE_OFFS, "write_off", "Recovered from scrap"),
}


@dataclass(frozen=True)
class Taken:
    """Units taken from one layer, with the value they carried and where they came from."""

    layer_id: int
    qty: int
    value: Decimal
    unit_cost: Decimal
    received_at: datetime
    source_type: str
    source_id: str


def register_valuation() -> None:
    if observe_move not in ledger.MOVE_OBSERVERS:
        ledger.MOVE_OBSERVERS.append(observe_move)


def _in_stock(location: Location) -> bool:
    return not location.is_virtual or location.outside == Outside.TRANSIT


def _pool(location: Location) -> int | None:
    """The layer pool a location's units belong to: its warehouse, or None between warehouses."""
    return location.warehouse_id if not location.is_virtual else None


def observe_move(move: StockMove, src: ledger.Place, dst: ledger.Place) -> None:
    """Keep the cost layers in step with one stock move and post any change in inventory value."""
    held_before, held_after = _in_stock(src.location), _in_stock(dst.location)
    if held_before and held_after:
        if _pool(src.location) != _pool(dst.location):
            db.session.flush()
            _transfer(move, _pool(src.location), _pool(dst.location))
        return
    if not held_before and not held_after:
        return
    db.session.flush()  # the move's id, for the layers and consumptions that name it
    if held_after:
        _bring_in(move, Outside(src.location.outside), _pool(dst.location))
    else:
        _take_out(move, _pool(src.location), Outside(dst.location.outside))


# --- FIFO layers ----------------------------------------------------------------------------------------------

def _pool_filter(sku_id: int, pool: int | None):
    where_pool = LAYERS.c.warehouse_id == pool if pool is not None else LAYERS.c.warehouse_id.is_(None)
    return and_(LAYERS.c.sku_id == sku_id, where_pool, LAYERS.c.qty_remaining > 0)


def add_layer(sku_id: int, pool: int | None, qty: int, value: Decimal, *, unit_cost: Decimal, source_type: str,
              source_id: str, move_id: int | None, received_at: datetime | None = None,
              origin_layer_id: int | None = None) -> int:
    """A new layer of `qty` units worth exactly `value`; returns its id."""
    now = utcnow()
    return db.session.execute(insert(LAYERS).values(
        sku_id=sku_id, warehouse_id=pool, received_at=received_at or now, qty_in=qty, qty_remaining=qty,
        unit_cost=unit_cost.quantize(UNIT_COST, rounding=ROUND_HALF_UP), value_in=value, value_remaining=value,
        source_type=source_type[:30], source_id=source_id[:40], move_id=move_id, origin_layer_id=origin_layer_id,
        created_at=now).returning(LAYERS.c.id)).scalar_one()


def consume(move: StockMove, pool: int | None, kind: str) -> list[Taken]:
    """Take the move's units from the pool's oldest layers first, safely under concurrency.

    Each layer is taken by a conditional update on the quantity read; when another transaction
    took from it first, the layers are read again. A layer's last unit carries exactly the value
    left on it, so values never drift from the cents posted.
    """
    need, taken = move.qty, []
    for _attempt in range(50):
        rows = db.session.execute(select(LAYERS).where(_pool_filter(move.sku_id, pool))
                                  .order_by(LAYERS.c.received_at, LAYERS.c.id)).all()
        if not rows:
            break
        for row in rows:
            took = _take_from_layer(row, min(need, row.qty_remaining))
            if took is None:
                break  # read again: someone else took from this layer
            taken.append(took)
            need -= took.qty
            if need == 0:
                break
        if need == 0:
            break
    if need:
        taken.append(_uncosted_units(move, pool, need))
    _record_consumptions(move, pool, kind, taken)
    return taken


def _take_from_layer(row, qty: int) -> Taken | None:
    value = row.value_remaining if qty == row.qty_remaining else cents(row.value_remaining * qty / row.qty_remaining)
    result = db.session.execute(update(LAYERS).where(LAYERS.c.id == row.id, LAYERS.c.qty_remaining == row.qty_remaining)
                                .values(qty_remaining=row.qty_remaining - qty, value_remaining=row.value_remaining - value))
    if result.rowcount != 1:
        return None
    return Taken(row.id, qty, value, row.unit_cost, row.received_at, row.source_type, row.source_id)


def _uncosted_units(move: StockMove, pool: int | None, qty: int) -> Taken:
    """Units leaving that no layer holds (stock from before valuation began): valued at standard cost.

    They are first brought onto the books as opening stock, so the inventory account and the
    layers stay equal.
    """
    unit_cost = db.session.get(Sku, move.sku_id).unit_cost
    value = cents(unit_cost * qty)
    layer_id = add_layer(move.sku_id, pool, qty, value, unit_cost=unit_cost, source_type="opening_balance",
                         source_id="before valuation", move_id=move.id)
    post_entry([debit(Acct.INVENTORY, value, "Stock on hand before valuation began", sku_id=move.sku_id,
                      warehouse_id=pool, qty=qty),
                credit(Acct.OPENING_EQUITY, value, "Stock on hand before valuation began", sku_id=move.sku_id,
                       warehouse_id=pool)],
               kind="opening_balance", source_type="opening_balance", source_id="before valuation", move_id=move.id,
               memo=f"{qty} unit(s) of {_sku_code(move.sku_id)} on hand before valuation began, at standard cost")
    db.session.execute(update(LAYERS).where(LAYERS.c.id == layer_id).values(qty_remaining=0, value_remaining=0))
    return Taken(layer_id, qty, value, unit_cost, utcnow(), "opening_balance", "before valuation")


def _record_consumptions(move: StockMove, pool: int | None, kind: str, taken: list[Taken]) -> None:
    now = utcnow()
    db.session.execute(insert(CONSUMPTIONS), [
        {"layer_id": t.layer_id, "move_id": move.id, "sku_id": move.sku_id, "warehouse_id": pool, "qty": t.qty,
         "value": t.value, "kind": kind, "cause_type": move.cause_type, "cause_id": move.cause_id,
         "created_at": now} for t in taken])


def _transfer(move: StockMove, from_pool: int | None, to_pool: int | None) -> None:
    """Units changing warehouse keep their cost and their place in the FIFO queue."""
    for took in consume(move, from_pool, "transfer"):
        add_layer(move.sku_id, to_pool, took.qty, took.value, unit_cost=took.unit_cost, source_type=took.source_type,
                  source_id=took.source_id, move_id=move.id, received_at=took.received_at, origin_layer_id=took.layer_id)


# --- units leaving and entering stock --------------------------------------------------------------------------

def _take_out(move: StockMove, pool: int | None, destination: Outside) -> None:
    account, kind, verb = OUTBOUND[destination]
    if _is_opening(move):
        account = Acct.OPENING_EQUITY
    value = sum((t.value for t in consume(move, pool, kind)), Decimal("0.00"))
    dims = {"sku_id": move.sku_id, "warehouse_id": pool, **_order_dims(move)}
    memo = f"{verb}: {move.qty} × {_sku_code(move.sku_id)} at FIFO cost"
    post_entry([debit(account, value, memo, qty=move.qty, **dims), credit(Acct.INVENTORY, value, memo, qty=move.qty, **dims)],
               kind=kind, source_type=move.cause_type, source_id=move.cause_id, memo=memo, user_id=move.user_id,
               move_id=move.id)


def _bring_in(move: StockMove, origin: Outside, pool: int | None) -> None:
    if origin not in INBOUND:
        return
    account, kind, verb = INBOUND[origin]
    value, unit_cost = _incoming_value(move, origin, pool)
    if _is_opening(move):
        account, kind = Acct.OPENING_EQUITY, "opening_balance"
    add_layer(move.sku_id, pool, move.qty, value, unit_cost=unit_cost, source_type=move.cause_type,
              source_id=move.cause_id, move_id=move.id)
    dims = {"sku_id": move.sku_id, "warehouse_id": pool, **_order_dims(move)}
    memo = f"{verb}: {move.qty} × {_sku_code(move.sku_id)} at {unit_cost.quantize(UNIT_COST)}"
    post_entry([debit(Acct.INVENTORY, value, memo, qty=move.qty, **dims), credit(account, value, memo, qty=move.qty, **dims)],
               kind=kind, source_type=move.cause_type, source_id=move.cause_id, memo=memo, user_id=move.user_id,
               move_id=move.id)


def _is_opening(move: StockMove) -> bool:
    return move.cause_type == "opening_balance" or (move.cause_type, move.cause_id) in OPENING_CAUSES


def _incoming_value(move: StockMove, origin: Outside, pool: int | None) -> tuple[Decimal, Decimal]:
    """(value in cents, cost per unit) of units coming into stock."""
    if move.unit_cost is not None:
        return cents(move.unit_cost * move.qty), move.unit_cost
    if origin == Outside.CUSTOMER:
        order_id = _order_dims(move).get("order_id")
        shipped = shipped_cost(order_id, move.sku_id) if order_id else None
        if shipped is not None:
            qty, value = shipped
            return cents(value * move.qty / qty), value / qty
    unit_cost = current_unit_cost(move.sku_id, pool)
    return cents(unit_cost * move.qty), unit_cost


def current_unit_cost(sku_id: int, pool: int | None) -> Decimal:
    """The cost the next unit out of the pool would carry (its oldest layer), else the SKU's standard cost."""
    found = db.session.scalar(select(LAYERS.c.unit_cost).where(_pool_filter(sku_id, pool))
                              .order_by(LAYERS.c.received_at, LAYERS.c.id).limit(1))
    return found if found is not None else db.session.get(Sku, sku_id).unit_cost


def shipped_cost(order_id: int, sku_id: int) -> tuple[int, Decimal] | None:
    """(units, value) at which an order's shipments took this SKU out of stock; None if it never shipped."""
    numbers = select(Shipment.number).where(Shipment.order_id == order_id)
    qty, value = db.session.execute(
        select(func.coalesce(func.sum(CONSUMPTIONS.c.qty), 0), minor_sum(CONSUMPTIONS.c.value))
        .where(CONSUMPTIONS.c.cause_type == "shipment", CONSUMPTIONS.c.cause_id.in_(numbers),
               CONSUMPTIONS.c.sku_id == sku_id)).one()
    return (int(qty), from_minor(value)) if qty else None


def return_unit_cost(order_id: int, sku_id: int) -> Decimal | None:
    """The cost per unit at which an order's shipments took a SKU out: pass it as `unit_cost` on a return's move."""
    shipped = shipped_cost(order_id, sku_id)
    return (shipped[1] / shipped[0]).quantize(UNIT_COST, rounding=ROUND_HALF_UP) if shipped else None


def _order_of_rma(cause_id: str):
    from app.models.returns import Rma
    return select(Rma.order_id).where(Rma.number == cause_id)


# The order a move's cause belongs to, by cause type: how postings learn their order and channel, and
# how a customer return finds the cost its order shipped at.
ORDER_OF_CAUSE = {
    "shipment": lambda cause_id: select(Shipment.order_id).where(Shipment.number == cause_id),
    "order": lambda cause_id: select(Order.id).where(Order.number == cause_id),
    "rma": _order_of_rma,
}


def _order_dims(move: StockMove) -> dict[str, int]:
    cached = getattr(move, "_finance_order_dims", None)
    if cached is not None:
        return cached
    dims = {}
    query = ORDER_OF_CAUSE.get(move.cause_type)
    if query is not None:
        found = db.session.execute(select(Order.id, Order.channel_id)
                                   .where(Order.id == query(move.cause_id).scalar_subquery())).first()
        if found is not None:
            dims = {"order_id": found.id, "channel_id": found.channel_id}
    move._finance_order_dims = dims
    return dims


def _sku_code(sku_id: int) -> str:
    """The SKU's code for an entry's memo, remembered for the transaction (looking it up never flushes)."""
    codes = db.session.info.setdefault("finance.sku_codes", {})
    if sku_id not in codes:
        with db.session.no_autoflush:
            codes[sku_id] = db.session.scalar(select(Sku.code).where(Sku.id == sku_id))
    return codes[sku_id]


# --- the invariant ------------------------------------------------------------------------------------------

def layer_value() -> Decimal:
    return from_minor(db.session.scalar(select(minor_sum(LAYERS.c.value_remaining))))


def inventory_account_balance() -> Decimal:
    from app.services.finance import ensure_chart
    from app.models.finance import JournalLine
    account_id = ensure_chart()[Acct.INVENTORY]
    return from_minor(db.session.scalar(select(minor_sum(JournalLine.debit) - minor_sum(JournalLine.credit))
                                        .where(JournalLine.account_id == account_id)))


def _layer_units() -> dict[tuple[int, int | None], int]:
    return {(sku, pool): int(qty) for sku, pool, qty in db.session.execute(
        select(LAYERS.c.sku_id, LAYERS.c.warehouse_id, func.sum(LAYERS.c.qty_remaining))
        .group_by(LAYERS.c.sku_id, LAYERS.c.warehouse_id)) if qty}


def _stock_units() -> dict[tuple[int, int | None], int]:
    units = {(sku, wh): int(qty) for sku, wh, qty in db.session.execute(
        select(StockBalance.sku_id, StockBalance.warehouse_id, func.sum(StockBalance.qty))
        .group_by(StockBalance.sku_id, StockBalance.warehouse_id)) if qty}
    for sku, qty in _units_between_warehouses().items():
        units[(sku, None)] = qty
    return units


def _units_between_warehouses() -> dict[int, int]:
    transit = select(Location.id).where(Location.outside == Outside.TRANSIT.value).scalar_subquery()
    inbound = dict(db.session.execute(select(StockMove.sku_id, func.sum(StockMove.qty))
                                      .where(StockMove.to_location_id == transit).group_by(StockMove.sku_id)).all())
    outbound = dict(db.session.execute(select(StockMove.sku_id, func.sum(StockMove.qty))
                                       .where(StockMove.from_location_id == transit).group_by(StockMove.sku_id)).all())
    return {sku: int(inbound.get(sku, 0)) - int(outbound.get(sku, 0))
            for sku in set(inbound) | set(outbound) if int(inbound.get(sku, 0)) != int(outbound.get(sku, 0))}


def valuation_problems() -> list[str]:
    """Every way the valuation disagrees with the books or the stock, as sentences; empty when sound."""
    problems = []
    account, layers = inventory_account_balance(), layer_value()
    if account != layers:
        problems.append(f"the inventory account is {account} but the cost layers are worth {layers}")
    held, counted = _layer_units(), _stock_units()
    for key in sorted(set(held) | set(counted), key=lambda k: (k[0], k[1] or 0)):
        if held.get(key, 0) != counted.get(key, 0):
            where = f"warehouse {key[1]}" if key[1] is not None else "transit"
            problems.append(f"sku {key[0]} in {where}: layers hold {held.get(key, 0)} units, stock is {counted.get(key, 0)}")
    bad = db.session.scalar(select(func.count()).select_from(LAYERS).where(
        (LAYERS.c.qty_remaining == 0) & (LAYERS.c.value_remaining != 0)))
    if bad:
        problems.append(f"{bad} empty layer(s) still carry value")
    return problems


def layers_of(sku_ids: Iterable[int]) -> list:
    return list(db.session.scalars(select(CostLayer).where(CostLayer.sku_id.in_(list(sku_ids)), CostLayer.qty_remaining > 0)
                                   .order_by(CostLayer.warehouse_id, CostLayer.received_at, CostLayer.id)))
