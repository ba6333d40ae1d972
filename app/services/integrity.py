"""Checks that the stock ledger still adds up: balances equal the folded moves, none negative."""
from __future__ import annotations

from collections import defaultdict

from sqlalchemy import func, select

from app.extensions import db
from app.models import Location, StockBalance, StockMove


def folded_moves() -> dict[tuple[int, int, str], int]:
    """Units per (sku, real location, status) obtained by adding up every move."""
    totals: dict[tuple[int, int, str], int] = defaultdict(int)
    real = select(Location.id).where(Location.kind != "virtual")
    for sku_id, loc, status, qty in db.session.execute(
            select(StockMove.sku_id, StockMove.to_location_id, StockMove.to_status, func.sum(StockMove.qty))
            .where(StockMove.to_location_id.in_(real))
            .group_by(StockMove.sku_id, StockMove.to_location_id, StockMove.to_status)):
        totals[(sku_id, loc, status)] += int(qty)
    for sku_id, loc, status, qty in db.session.execute(
            select(StockMove.sku_id, StockMove.from_location_id, StockMove.from_status, func.sum(StockMove.qty))
            .where(StockMove.from_location_id.in_(real))
            .group_by(StockMove.sku_id, StockMove.from_location_id, StockMove.from_status)):
        totals[(sku_id, loc, status)] -= int(qty)
    return {k: v for k, v in totals.items() if v != 0}


def ledger_problems() -> list[str]:
    """Every way the balances disagree with the moves, as sentences; empty when the ledger is sound."""
    balances = {(b.sku_id, b.location_id, b.status): b.qty
                for b in db.session.execute(select(StockBalance.sku_id, StockBalance.location_id, StockBalance.status,
                                                   StockBalance.qty))}
    folded = folded_moves()
    problems = [f"negative balance {qty} for sku {k[0]} at location {k[1]} ({k[2]})" for k, qty in balances.items() if qty < 0]
    for key in set(balances) | set(folded):
        if balances.get(key, 0) != folded.get(key, 0):
            problems.append(f"sku {key[0]} at location {key[1]} ({key[2]}): balance {balances.get(key, 0)}, moves say {folded.get(key, 0)}")
    return problems
