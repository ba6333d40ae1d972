"""Administration screens: people and tokens, audit log, webhooks, scheduled jobs, settings and master data."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date

from flask import abort, current_app, flash, request, url_for
from flask_login import current_user
from sqlalchemy import select

from app.domain.errors import DomainError, ValidationError
from app.domain.roles import ROLE_TITLES, Role
from app.extensions import db
from app.models import Channel, Location, Sku, Warehouse
from app.models.types import utcnow
from app.services import admin, audit, outbox, ownership, queries, scheduling
from app.web.guard import guarded_blueprint
from app.web.render import go_to, page

bp = guarded_blueprint("admin", __name__, {Role.ADMIN}, url_prefix="/admin")


def _form(*keys: str, limit: int = 500) -> dict[str, str]:
    return {key: request.form.get(key, "").strip()[:limit] for key in keys}


def _day(raw: str | None) -> date | None:
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


def _id(raw: str | None) -> int | None:
    return int(raw) if raw and raw.isdigit() and len(raw) < 10 else None


def _page() -> int:
    return queries.page_number(request.args.get("page"))


def _back(endpoint: str, message: str | None = None, error: DomainError | None = None, **values):
    if error is not None:
        flash(error.message, "error")
    elif message:
        flash(message)
    return go_to(url_for(endpoint, **values))


def _attempt(action: Callable[[], object], endpoint: str, message: str | Callable[[object], str], **values):
    """One service call, then back to `endpoint` flashing its refusal or `message` (text, or made from its result)."""
    try:
        result = action()
    except DomainError as exc:
        return _back(endpoint, error=exc, **values)
    return _back(endpoint, message(result) if callable(message) else message, **values)


def _tz() -> str:
    return current_app.config["KEEL_TIMEZONE"]


# --- people --------------------------------------------------------------------------------------------------

@bp.route("/users")
def users():
    filters = {"q": request.args.get("q", "")[:100], "role": request.args.get("role", ""),
               "state": request.args.get("state", "")}
    results = queries.paginate(admin.user_search(**filters), _page())
    return page("admin/users.html", "results", results=results, filters=filters, roles=list(Role), titles=ROLE_TITLES,
                now=utcnow())


def _new_user_page(form: dict, errors: dict | None = None, status: int = 200):
    return page("admin/user_new.html", "form", status=status, form=form, errors=errors or {}, roles=list(Role),
                titles=ROLE_TITLES)


@bp.route("/users/new", methods=["GET", "POST"])
def new_user():
    if request.method == "GET":
        return _new_user_page({"role": Role.RETAIL.value})
    form = _form("username", "full_name", "email", "role")
    try:
        user = admin.create_account(form["username"], form["role"], request.form.get("password", "")[:200],
                                    request.form.get("confirm", "")[:200], full_name=form["full_name"],
                                    email=form["email"])
    except ValidationError as exc:
        return _new_user_page(form, exc.errors, 422)
    flash(f"{user.username} can now sign in as {ROLE_TITLES[Role(user.role)].lower()}.")
    return go_to(url_for("admin.user_detail", user_id=user.id))


def _user_page(user_id: int, status: int = 200, errors: dict | None = None, new_token: str | None = None):
    user = admin.get_user(user_id)
    tokens = queries.paginate(admin.token_search(user_id=user.id), 1, 100)
    changes = audit.audit_search(audit.AuditFilters(user=user.username), 1, 10, tz=_tz())
    return page("admin/user_detail.html", status=status, user=user, tokens=tokens.items, recent=changes.items,
                errors=errors or {}, new_token=new_token, roles=list(Role), titles=ROLE_TITLES, now=utcnow())


@bp.route("/users/<int:user_id>")
def user_detail(user_id: int):
    return _user_page(user_id)


@bp.route("/users/<int:user_id>/active", methods=["POST"])
def set_user_active(user_id: int):
    active = request.form.get("active") == "1"
    return _attempt(lambda: admin.set_user_active(user_id, active, acting_user_id=current_user.id), "admin.user_detail",
                    lambda user: f"{user.username} is {'active' if active else 'deactivated'}.", user_id=user_id)


@bp.route("/users/<int:user_id>/role", methods=["POST"])
def change_role(user_id: int):
    return _attempt(lambda: admin.change_role(user_id, request.form.get("role", ""), acting_user_id=current_user.id),
                    "admin.user_detail", lambda user: f"{user.username} is now {ROLE_TITLES[Role(user.role)].lower()}.",
                    user_id=user_id)


@bp.route("/users/<int:user_id>/password", methods=["POST"])
def reset_password(user_id: int):
    try:
        user = admin.reset_password(user_id, request.form.get("password", "")[:200], request.form.get("confirm", "")[:200])
    except ValidationError as exc:
        return _user_page(user_id, 422, errors=exc.errors)
    return _back("admin.user_detail", f"New password set for {user.username}; any sign-in lock is lifted.",
                 user_id=user_id)


@bp.route("/users/<int:user_id>/tokens", methods=["POST"])
def issue_token(user_id: int):
    try:
        token = admin.issue_token(user_id, request.form.get("label", "")[:200], request.form.getlist("scopes"))
    except ValidationError as exc:
        return _user_page(user_id, 422, errors=exc.errors)
    except DomainError as exc:
        return _back("admin.user_detail", error=exc, user_id=user_id)
    return _user_page(user_id, 201, new_token=token)


@bp.route("/tokens")
def tokens():
    filters = {"q": request.args.get("q", "")[:100], "state": request.args.get("state", "")}
    results = queries.paginate(admin.token_search(state=filters["state"], q=filters["q"]), _page())
    return page("admin/tokens.html", "results", results=results, filters=filters)


@bp.route("/tokens/<int:token_id>/revoke", methods=["POST"])
def revoke_token(token_id: int):
    try:
        admin.revoke_token(token_id)
    except DomainError as exc:
        return _back("admin.tokens", error=exc)
    target = request.form.get("back", "")
    if target.isdigit():
        return _back("admin.user_detail", "Token revoked; it no longer works.", user_id=int(target))
    return _back("admin.tokens", "Token revoked; it no longer works.")


# --- audit log -----------------------------------------------------------------------------------------------

@bp.route("/audit")
def audit_log():
    args = request.args
    filters = audit.AuditFilters(table=args.get("table", "")[:60], record=args.get("record", "")[:80],
                                 user=args.get("user", "")[:64], action=args.get("action", "")[:10],
                                 since=_day(args.get("since")), until=_day(args.get("until")), q=args.get("q", "")[:100])
    results = audit.audit_search(filters, _page(), tz=_tz())
    return page("admin/audit.html", "results", results=results, filters=filters, tables=audit.audited_tables(),
                not_audited=audit.NOT_AUDITED)


@bp.route("/audit/<table>/<record_id>")
def record_history(table: str, record_id: str):
    entries = audit.record_history(table[:60], record_id[:80])
    return page("admin/record_history.html", table=table, record_id=record_id, entries=entries)


# --- webhooks ------------------------------------------------------------------------------------------------

@bp.route("/webhooks")
def webhooks():
    return page("admin/webhooks.html", subscriptions=outbox.subscriptions(), counts=outbox.counts_by_subscription(),
                totals=outbox.status_counts(), max_attempts=outbox.MAX_ATTEMPTS)


def _subscription_form(subscription=None, form=None, errors=None, status=200, secret=None):
    return page("admin/subscription.html", "form", status=status, subscription=subscription, form=form or {},
                errors=errors or {}, secret=secret,
                counts=outbox.status_counts(subscription.id) if subscription else None)


@bp.route("/webhooks/new", methods=["GET", "POST"])
def new_subscription():
    if request.method == "GET":
        return _subscription_form(form={"event_types": "order.*", "active": "1"})
    form = _form("name", "url", "event_types", "active")
    try:
        subscription, secret = outbox.create_subscription(form["name"], form["url"], form["event_types"],
                                                          user_id=current_user.id, active=bool(form["active"]))
    except ValidationError as exc:
        return _subscription_form(form=form, errors=exc.errors, status=422)
    return _subscription_form(subscription, _subscription_values(subscription), status=201, secret=secret)


def _subscription_values(subscription) -> dict:
    return {"name": subscription.name, "url": subscription.url, "event_types": subscription.event_types,
            "active": "1" if subscription.active else ""}


@bp.route("/webhooks/<int:subscription_id>", methods=["GET", "POST"])
def subscription(subscription_id: int):
    current = outbox.get_subscription(subscription_id)
    if request.method == "GET":
        return _subscription_form(current, _subscription_values(current))
    form = _form("name", "url", "event_types", "active")
    try:
        outbox.update_subscription(subscription_id, form["name"], form["url"], form["event_types"], bool(form["active"]))
    except ValidationError as exc:
        return _subscription_form(current, form, exc.errors, 422)
    return _back("admin.subscription", "Subscription saved.", subscription_id=subscription_id)


@bp.route("/webhooks/<int:subscription_id>/secret", methods=["POST"])
def rotate_subscription_secret(subscription_id: int):
    secret = outbox.rotate_secret(subscription_id)
    current = outbox.get_subscription(subscription_id)
    return _subscription_form(current, _subscription_values(current), secret=secret)


@bp.route("/webhooks/<int:subscription_id>/ping", methods=["POST"])
def ping_subscription(subscription_id: int):
    return _attempt(lambda: outbox.send_ping(subscription_id, user_id=current_user.id), "admin.subscription",
                    lambda ping: f"Ping queued as event {ping.id}; it goes out with the next delivery run.",
                    subscription_id=subscription_id)


@bp.route("/webhooks/<int:subscription_id>/backfill", methods=["POST"])
def backfill_subscription(subscription_id: int):
    after = _id(request.form.get("after", "").strip())
    return _attempt(lambda: outbox.backfill(subscription_id, after if after is not None else -1), "admin.subscription",
                    lambda added: f"{added} earlier events queued for this subscription.",
                    subscription_id=subscription_id)


@bp.route("/webhooks/<int:subscription_id>/delete", methods=["POST"])
def delete_subscription(subscription_id: int):
    try:
        outbox.delete_subscription(subscription_id)
    except DomainError as exc:
        return _back("admin.subscription", error=exc, subscription_id=subscription_id)
    return _back("admin.webhooks", "Subscription deleted.")


def _delivery_filters() -> outbox.DeliveryFilters:
    args = request.args
    return outbox.DeliveryFilters(status=args.get("status", "")[:12], subscription_id=_id(args.get("subscription")),
                                  event_type=args.get("type", "")[:60], q=args.get("q", "")[:100],
                                  since=_day(args.get("since")), until=_day(args.get("until")))


@bp.route("/deliveries")
def deliveries():
    filters = _delivery_filters()
    results = outbox.delivery_search(filters, _page(), tz=_tz())
    return page("admin/deliveries.html", "results", results=results, filters=filters, endpoint="admin.deliveries",
                subscriptions=outbox.subscriptions(), statuses=outbox.STATUSES, dead_letters=False)


@bp.route("/dead-letters")
def dead_letters():
    filters = replace(_delivery_filters(), status="dead")
    results = outbox.delivery_search(filters, _page(), tz=_tz())
    return page("admin/deliveries.html", "results", results=results, filters=filters, endpoint="admin.dead_letters",
                subscriptions=outbox.subscriptions(), statuses=outbox.STATUSES, dead_letters=True)


@bp.route("/dead-letters/replay", methods=["POST"])
def replay_dead_letters():
    count = outbox.replay_dead(_id(request.form.get("subscription")))
    return _back("admin.dead_letters", f"{count} dead deliveries queued to be sent again.")


@bp.route("/deliveries/<int:delivery_id>")
def delivery(delivery_id: int):
    found = outbox.get_delivery(delivery_id)
    return page("admin/delivery.html", delivery=found, body=outbox.event_body(found.event).decode())


@bp.route("/deliveries/<int:delivery_id>/replay", methods=["POST"])
def replay_delivery(delivery_id: int):
    return _attempt(lambda: outbox.replay_delivery(delivery_id), "admin.delivery",
                    "Queued to be sent again with the next delivery run.", delivery_id=delivery_id)


# --- scheduled jobs ------------------------------------------------------------------------------------------

@bp.route("/jobs")
def jobs():
    return page("admin/jobs.html", "jobs", jobs=scheduling.job_overview())


@bp.route("/jobs/history")
def job_runs():
    filters = {"job": request.args.get("job", "")[:60], "result": request.args.get("result", "")[:10]}
    results = scheduling.job_history(filters["job"], filters["result"], _page())
    return page("admin/job_runs.html", "results", results=results, filters=filters,
                job_ids=[job_id for job_id, _fn, _trigger in scheduling.all_jobs()])


@bp.route("/jobs/<job_id>/run", methods=["POST"])
def run_job(job_id: str):
    return _attempt(lambda: scheduling.start_job_now(current_app._get_current_object(), job_id, user_id=current_user.id),
                    "admin.jobs", f"{job_id} started; its run appears below when it finishes.")


@bp.route("/jobs/<job_id>/pause", methods=["POST"])
def pause_job(job_id: str):
    return _attempt(lambda: scheduling.pause_job(job_id, user_id=current_user.id), "admin.jobs",
                    f"{job_id} is paused until you resume it.")


@bp.route("/jobs/<job_id>/resume", methods=["POST"])
def resume_job(job_id: str):
    return _attempt(lambda: scheduling.resume_job(job_id, user_id=current_user.id), "admin.jobs",
                    f"{job_id} runs on its schedule again.")


# --- settings and ownership ----------------------------------------------------------------------------------

def _settings_page(errors: dict | None = None, values: dict | None = None, status: int = 200):
    rows = admin.setting_rows()
    groups: dict[str, list] = {}
    for row in rows:
        groups.setdefault(row.group, []).append(row)
    return page("admin/settings.html", "settings", status=status, groups=groups, errors=errors or {},
                values=values or {}, areas=ownership.AREAS, owners=ownership.ownership_map(), roles=list(Role),
                titles=ROLE_TITLES)


@bp.route("/settings", methods=["GET", "POST"])
def settings():
    if request.method == "GET":
        return _settings_page()
    values = {key: request.form.get(key, "")[:20000] for key in request.form}
    try:
        changed = admin.update_settings(values, request.form.getlist("shown"), user_id=current_user.id)
    except ValidationError as exc:
        return _settings_page(exc.errors, values, 422)
    return _back("admin.settings", f"Saved: {', '.join(changed)}." if changed else "Nothing changed.")


@bp.route("/settings/<key>/reset", methods=["POST"])
def reset_setting(key: str):
    return _attempt(lambda: admin.reset_setting(key[:80], user_id=current_user.id), "admin.settings",
                    f"{key} is back to its default.")


@bp.route("/ownership", methods=["POST"])
def set_ownership():
    try:
        for area in ownership.AREAS:
            ownership.set_owners(area, request.form.getlist(area), user=current_user.id)
    except DomainError as exc:
        return _back("admin.settings", error=exc)
    return _back("admin.settings", "Master data ownership saved.")


# --- master data ---------------------------------------------------------------------------------------------

@bp.route("/master-data")
def master_data():
    q = request.args.get("q", "")[:100]
    skus = queries.paginate(queries.sku_search(q), _page(), 25)
    return page("admin/master_data.html", "skus", skus=skus, q=q,
                warehouses=db.session.scalars(select(Warehouse).order_by(Warehouse.code)).all(),
                channels=db.session.scalars(select(Channel).order_by(Channel.code)).all(),
                owners=ownership.ownership_map(), areas=ownership.AREAS)


SKU_FORM = ("code", "name", "category", "gtin", "length_cm", "width_cm", "height_cm", "weight_kg", "unit_cost",
            "price", "active", "reason")


def _sku_form_page(sku=None, form=None, errors=None, status=200, message=None):
    return page("admin/sku_form.html", "form", status=status, sku=sku, form=form or {}, errors=errors or {},
                message=message,
                pending=admin.pending_price(sku.id) if sku else None,
                history=audit.record_history("skus", str(sku.id))[-15:] if sku else [])


def _sku_values(sku: Sku) -> dict:
    return {key: "" if getattr(sku, key) is None else str(getattr(sku, key)) for key in SKU_FORM
            if key not in ("active", "reason")} | {"active": "1" if sku.active else ""}


@bp.route("/skus/new", methods=["GET", "POST"])
def new_sku():
    if request.method == "GET":
        return _sku_form_page(form={"active": "1", "length_cm": "0", "width_cm": "0", "height_cm": "0",
                                    "weight_kg": "0", "unit_cost": "0", "price": "0"})
    form = _form(*SKU_FORM, limit=200)
    try:
        sku = admin.create_sku(form, user_id=current_user.id)
    except ValidationError as exc:
        return _sku_form_page(form=form, errors=exc.errors, status=422)
    except DomainError as exc:
        return _sku_form_page(form=form, status=exc.status, message=exc.message)
    flash(f"{sku.code} created.")
    return go_to(url_for("admin.edit_sku", sku_id=sku.id))


@bp.route("/skus/<int:sku_id>", methods=["GET", "POST"])
def edit_sku(sku_id: int):
    sku = db.session.get(Sku, sku_id) or abort(404)
    if request.method == "GET":
        return _sku_form_page(sku, _sku_values(sku))
    form = _form(*SKU_FORM, limit=200)
    try:
        change = admin.update_sku(sku_id, form, user_id=current_user.id, reason=form["reason"])
    except ValidationError as exc:
        return _sku_form_page(sku, form, exc.errors, 422)
    except DomainError as exc:
        return _sku_form_page(db.session.get(Sku, sku_id), form, status=exc.status, message=exc.message)
    flash(_sku_message(change))
    return go_to(url_for("admin.edit_sku", sku_id=sku_id))


def _sku_message(change: admin.SkuChange) -> str:
    if change.price_outcome == "approval_requested":
        return f"{change.sku.code}: the new price waits for approval; the current price stays until then."
    if not change.changed and change.price_outcome == "unchanged":
        return "Nothing changed."
    return f"{change.sku.code} saved."


def _warehouse_page(warehouse, form=None, errors=None, status=200, location_form=None, location_errors=None):
    q = request.args.get("q", "")[:40]
    locations = queries.warehouse_locations(warehouse.id, q, _page())
    return page("admin/warehouse_form.html", "locations", status=status, warehouse=warehouse, form=form or {},
                errors=errors or {}, location_form=location_form or {"kind": "bin"},
                location_errors=location_errors or {}, locations=locations, q=q)


def _warehouse_values(warehouse: Warehouse) -> dict:
    keys = ("name", "kind", "address1", "city", "postcode", "country", "timezone", "carrier_cutoffs",
            "pickers_per_shift", "units_per_picker_hour", "shift_hours", "handling_cost_per_unit")
    return {key: str(getattr(warehouse, key)) for key in keys} | {"active": "1" if warehouse.active else ""}


@bp.route("/warehouses/<int:warehouse_id>", methods=["GET", "POST"])
def edit_warehouse(warehouse_id: int):
    warehouse = db.session.get(Warehouse, warehouse_id) or abort(404)
    if request.method == "GET":
        return _warehouse_page(warehouse, _warehouse_values(warehouse))
    form = _form("name", "kind", "address1", "city", "postcode", "country", "timezone", "carrier_cutoffs",
                 "pickers_per_shift", "units_per_picker_hour", "shift_hours", "handling_cost_per_unit", "active")
    try:
        admin.update_warehouse(warehouse_id, form, user_id=current_user.id)
    except ValidationError as exc:
        return _warehouse_page(db.session.get(Warehouse, warehouse_id), form, exc.errors, 422)
    return _back("admin.edit_warehouse", f"{warehouse.code} saved.", warehouse_id=warehouse_id)


@bp.route("/warehouses/<int:warehouse_id>/locations", methods=["POST"])
def add_location(warehouse_id: int):
    warehouse = db.session.get(Warehouse, warehouse_id) or abort(404)
    form = _form("code", "kind", "aisle", "position_m", "level", limit=60)
    try:
        location = admin.add_location(warehouse_id, form, user_id=current_user.id)
    except ValidationError as exc:
        return _warehouse_page(warehouse, _warehouse_values(warehouse), location_form=form,
                               location_errors=exc.errors, status=422)
    return _back("admin.edit_warehouse", f"Bin {location.code} added.", warehouse_id=warehouse_id)


@bp.route("/locations/<int:location_id>/active", methods=["POST"])
def set_location_active(location_id: int):
    location = db.session.get(Location, location_id) or abort(404)
    warehouse_id = location.warehouse_id
    active = request.form.get("active") == "1"
    return _attempt(lambda: admin.set_location_active(location_id, active, user_id=current_user.id),
                    "admin.edit_warehouse", lambda _location: f"{location.code} is {'in use' if active else 'out of use'}.",
                    warehouse_id=warehouse_id)


def _channel_page(channel, form=None, errors=None, ranking=None, status=200, secret=None):
    ranking = ranking if ranking is not None else admin.channel_ranking(channel.id)
    warehouses = sorted(db.session.scalars(select(Warehouse)).all(),
                        key=lambda w: (ranking.index(w.id) if w.id in ranking else len(ranking), w.code))
    return page("admin/channel_form.html", "form", status=status, channel=channel, form=form or {},
                errors=errors or {}, ranking=ranking,
                warehouses=warehouses, secret=secret,
                history=audit.record_history("channels", str(channel.id))[-10:])


def _channel_values(channel: Channel) -> dict:
    return {"name": channel.name, "safety_buffer": str(channel.safety_buffer), "sla_days": str(channel.sla_days),
            "ship_complete": "1" if channel.ship_complete else "", "active": "1" if channel.active else ""}


def _ranking_from_form() -> list[int]:
    """Warehouses ticked on the form, ordered by the rank typed next to each."""
    chosen = []
    for warehouse_id in request.form.getlist("warehouse"):
        if (wid := _id(warehouse_id)) is not None:
            rank = _id(request.form.get(f"rank_{wid}", "")) or 999
            chosen.append((rank, wid))
    return [wid for _rank, wid in sorted(chosen)]


@bp.route("/channels/<int:channel_id>", methods=["GET", "POST"])
def edit_channel(channel_id: int):
    channel = db.session.get(Channel, channel_id) or abort(404)
    if request.method == "GET":
        return _channel_page(channel, _channel_values(channel))
    form = _form("name", "safety_buffer", "sla_days", "ship_complete", "active")
    ranking = _ranking_from_form()
    try:
        admin.update_channel(channel_id, form, ranking, user_id=current_user.id)
    except ValidationError as exc:
        return _channel_page(db.session.get(Channel, channel_id), form, exc.errors, ranking, 422)
    return _back("admin.edit_channel", f"{channel.code} saved.", channel_id=channel_id)


@bp.route("/channels/<int:channel_id>/secret", methods=["POST"])
def rotate_channel_secret(channel_id: int):
    channel = db.session.get(Channel, channel_id) or abort(404)
    try:
        secret = admin.rotate_channel_secret(channel_id, user_id=current_user.id,
                                             secret=request.form.get("secret", "")[:300])
    except ValidationError as exc:
        return _channel_page(channel, _channel_values(channel), exc.errors, status=422)
    return _channel_page(db.session.get(Channel, channel_id), _channel_values(channel), secret=secret)
