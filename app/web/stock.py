"""Stock corrections by warehouse staff."""
from __future__ import annotations

from flask import flash, request, url_for
from flask_login import current_user
from sqlalchemy import select

from app.domain.errors import DomainError, ValidationError
from app.domain.inventory import ADJUSTMENT_REASONS, Status, adjustment_errors
from app.domain.roles import Role
from app.extensions import db
from app.models import Location, Sku, Warehouse
from app.services.inventory import adjust_stock
from app.web.guard import guarded_blueprint
from app.web.render import go_to, page

bp = guarded_blueprint("stock", __name__, {Role.ADMIN, Role.WAREHOUSE, Role.SUPERVISOR})


def _form_page(form, errors=None, message=None, status=200):
    warehouses = db.session.scalars(select(Warehouse).where(Warehouse.active.is_(True)).order_by(Warehouse.code)).all()
    return page("stock/adjust.html", "form", status=status, form=form, errors=errors or {}, message=message,
                reasons=ADJUSTMENT_REASONS, statuses=list(Status), warehouses=warehouses)


@bp.route("/stock/adjust", methods=["GET", "POST"])
def adjust():
    if request.method == "GET":
        return _form_page({"sku": request.args.get("sku", ""), "warehouse": request.args.get("warehouse", ""),
                           "bin": request.args.get("bin", ""), "status": "available"})
    form = {k: request.form.get(k, "").strip()[:200] for k in ("sku", "warehouse", "bin", "delta", "reason", "status", "note")}
    try:
        sku_id, location_id, delta = _resolve(form)
        move = adjust_stock(sku_id, location_id, delta, reason_code=form["reason"], status=form["status"] or "available",
                            user_id=current_user.id, note=form["note"])
    except ValidationError as exc:
        return _form_page(form, exc.errors, exc.message, status=422)
    except DomainError as exc:
        return _form_page(form, {exc.field or "delta": exc.message}, exc.message, status=422)
    flash(f"Adjusted {move.sku.code} in {form['bin']} by {delta:+d}.")
    return go_to(url_for("catalog.sku_detail", sku_id=sku_id))


def _resolve(form) -> tuple[int, int, int]:
    """Turn the typed codes into ids, naming every field that does not match."""
    try:
        delta = int(form["delta"])
    except ValueError:
        delta = None
    errors = adjustment_errors(form["reason"], delta)
    sku = db.session.scalar(select(Sku).where((Sku.code == form["sku"]) | (Sku.gtin == form["sku"]))) if form["sku"] else None
    if sku is None:
        errors["sku"] = "No SKU with that code or barcode." if form["sku"] else "Scan or type a SKU."
    warehouse = db.session.scalar(select(Warehouse).where(Warehouse.code == form["warehouse"]))
    if warehouse is None:
        errors["warehouse"] = "Choose a warehouse."
    location = None
    if warehouse is not None:
        location = db.session.scalar(select(Location).where(Location.warehouse_id == warehouse.id,
                                                            Location.code == form["bin"]))
        if location is None:
            errors["bin"] = f"No bin '{form['bin']}' in {warehouse.code}." if form["bin"] else "Scan or type a bin."
    if errors:
        raise ValidationError(errors=errors)
    return sku.id, location.id, delta
