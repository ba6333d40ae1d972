"""Today on the floor, for supervisors: orders by state and warehouse, backlog against labour, waves, pickups."""
from __future__ import annotations

from app.domain.roles import Role
from app.models.types import utcnow
from app.services import operations
from app.web.export import csv_response
from app.web.guard import guarded_blueprint
from app.web.kpis import helpers
from app.web.render import page

bp = guarded_blueprint("operations", __name__, {Role.SUPERVISOR, Role.ADMIN})


@bp.route("/operations")
def board():
    day = operations.local_today()
    return page("operations/board.html", "board", day=day, now=utcnow(), grid=operations.orders_by_state(day),
                backlog=operations.backlog_against_labour(day), waves=operations.waves_against_cutoffs(day),
                pickups=operations.carrier_pickups(day), **helpers())


@bp.route("/operations/orders.csv")
def export_orders_by_state():
    day = operations.local_today()
    grid = operations.orders_by_state(day)
    rows = ((code, *[cells.get(s, 0) for s in grid.statuses]) for code, cells in grid.rows)
    return csv_response(f"orders-by-state-{day:%Y%m%d}.csv", ("Warehouse", *grid.statuses), rows)
