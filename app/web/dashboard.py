"""The landing page: each role's KPIs against target with their trends, the queues waiting for it, and stock."""
from __future__ import annotations

from flask_login import current_user

from app.domain.inventory import Status
from app.domain.roles import ROLE_TITLES, Role
from app.services import exceptions, kpis, queries
from app.web.guard import ALL_SIGNED_IN, guarded_blueprint
from app.web.kpis import helpers, may_open, tile_context
from app.web.render import page

bp = guarded_blueprint("dashboard", __name__, ALL_SIGNED_IN)

STOCK_ROLES = {Role.WAREHOUSE, Role.SUPERVISOR, Role.ADMIN, Role.FINANCE}


@bp.route("/")
def home():
    role = current_user.role
    queues = exceptions.overview(role)
    context = {"role_title": ROLE_TITLES.get(role, role), "show_stock": role in STOCK_ROLES,
               "queues": [s for s in queues if s.queue.owner == role or role == Role.ADMIN],
               "others_waiting": sum(min(s.count, exceptions.COUNT_CAP) for s in queues
                                     if s.queue.owner != role and role != Role.ADMIN),
               "others_capped": any(s.capped for s in queues if s.queue.owner != role and role != Role.ADMIN),
               "operations": may_open("operations.board"), "fifo_link": may_open("finance.valuation")}
    context.update(tile_context(kpis.current_readings(kpis.kpis_owned_by(role))))
    if context["show_stock"]:
        context.update(_stock())
    return page("dashboard/home.html", **context, **helpers())


def _stock() -> dict:
    summary = queries.stock_summary_by_warehouse()
    return {"summary": summary, "statuses": list(Status), "totals": _totals(summary),
            "unit_series": {s.value: [w["units"].get(s.value, 0) for w in summary] for s in Status}}


def _totals(summary):
    units = {s.value: sum(w["units"].get(s.value, 0) for w in summary) for s in Status}
    value = {s.value: sum(w["value"].get(s.value, 0) for w in summary) for s in Status}
    return {"units": units, "value": value, "all_units": sum(units.values()), "all_value": sum(value.values())}
