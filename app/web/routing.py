"""Routing runs for supervisors: start one, watch it solve, see why each order went where, apply or discard."""
from __future__ import annotations

from flask import current_app, flash, request, url_for
from flask_login import current_user
from sqlalchemy import select

from app.domain.errors import DomainError
from app.domain.roles import Role
from app.extensions import db
from app.models import Channel, Warehouse
from app.services import queries, routing
from app.services.settings import get_setting
from app.web.guard import guarded_blueprint
from app.web.render import go_to, is_htmx, page

bp = guarded_blueprint("routing", __name__, {Role.SUPERVISOR, Role.ADMIN})


def _choices():
    return {"channels": db.session.scalars(select(Channel).where(Channel.active.is_(True)).order_by(Channel.code)).all(),
            "warehouses": db.session.scalars(select(Warehouse).where(Warehouse.active.is_(True)).order_by(Warehouse.code)).all()}


@bp.route("/routing")
def runs():
    history = routing.run_history(queries.page_number(request.args.get("page")))
    return page("routing/runs.html", "history", history=history, form={}, errors={},
                settings={k: get_setting(f"routing.{k}") for k in ("scheduled", "interval_minutes", "auto_apply", "time_limit_s")},
                **_choices())


@bp.route("/routing/runs", methods=["POST"])
def start():
    form = {k: request.form.get(k, "").strip()[:40] for k in ("channel", "warehouse", "min_priority", "time_limit_s")}
    scope = {"channel": form["channel"], "warehouse": form["warehouse"], "min_priority": form["min_priority"],
             "replan_allocated": request.form.get("replan_allocated") == "1"}
    try:
        limit = int(form["time_limit_s"] or get_setting("routing.time_limit_s"))
        run = routing.create_run(scope=scope, time_limit_s=limit, user_id=current_user.id,
                                 auto_apply=request.form.get("auto_apply") == "1")
    except ValueError:
        return _start_error(form, {"time_limit_s": "Enter whole seconds."})
    except DomainError as exc:
        return _start_error(form, {exc.field or "form": exc.message})
    routing.start_run_in_background(current_app._get_current_object(), run.id)
    return go_to(url_for("routing.run_detail", run_id=run.id))


def _start_error(form, errors):
    history = routing.run_history(1)
    settings = {k: get_setting(f"routing.{k}") for k in ("scheduled", "interval_minutes", "auto_apply", "time_limit_s")}
    return page("routing/runs.html", "start_form", status=422, history=history, form=form, errors=errors,
                settings=settings, **_choices())


@bp.route("/routing/runs/<int:run_id>")
def run_detail(run_id: int):
    run = routing.get_run(run_id)
    if request.args.get("poll") and is_htmx() and run.status not in routing.IN_PROGRESS:
        return "", 200, {"HX-Refresh": "true"}
    q, outcome = request.args.get("q", "")[:40], request.args.get("outcome", "")[:20]
    decisions = routing.run_decisions(run_id, q, outcome, queries.page_number(request.args.get("page")))
    block = "decisions" if request.args.get("fragment") == "decisions" else "progress"
    return page("routing/run.html", block, run=run, decisions=decisions, q=q, outcome=outcome)


@bp.route("/routing/runs/<int:run_id>/apply", methods=["POST"])
def apply(run_id: int):
    run = routing.apply_run(run_id, user_id=current_user.id)
    flash(f"Applied run {run.id}: routed {run.applied_orders} of {len(run.decisions)} orders; "
          f"{run.skipped_orders} wait for the next run.")
    return go_to(url_for("routing.run_detail", run_id=run_id))


@bp.route("/routing/runs/<int:run_id>/discard", methods=["POST"])
def discard(run_id: int):
    routing.discard_run(run_id, user_id=current_user.id)
    flash(f"Run {run_id} discarded; no order was changed.")
    return go_to(url_for("routing.runs"))
