"""The landing page: what each role needs to see first."""
from __future__ import annotations

from flask_login import current_user

from app.domain.inventory import Status
from app.domain.roles import ROLE_TITLES
from app.services import queries
from app.web.guard import ALL_SIGNED_IN, guarded_blueprint
from app.web.render import page

bp = guarded_blueprint("dashboard", __name__, ALL_SIGNED_IN)


@bp.route("/")
def home():
    summary = queries.stock_summary_by_warehouse()
    return page("dashboard/home.html", summary=summary, statuses=list(Status),
                role_title=ROLE_TITLES.get(current_user.role, current_user.role),
                totals=_totals(summary),
                unit_series={s.value: [w["units"].get(s.value, 0) for w in summary] for s in Status})


def _totals(summary):
    units = {s.value: sum(w["units"].get(s.value, 0) for w in summary) for s in Status}
    value = {s.value: sum(w["value"].get(s.value, 0) for w in summary) for s in Status}
    return {"units": units, "value": value, "all_units": sum(units.values()), "all_value": sum(value.values())}
