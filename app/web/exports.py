"""CSV exports of the lists: SKUs, the order inbox and a SKU's stock moves, streamed with the list's own filters."""
from __future__ import annotations

from flask import abort, current_app, request
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import aliased

from app.extensions import db
from app.models import Channel, Location, Sku, StockMove, User
from app.models.orders import Order
from app.services import order_queries, queries
from app.services.kpis import local_text
from app.web.export import csv_response
from app.web.guard import ALL_SIGNED_IN, guarded_blueprint

bp = guarded_blueprint("exports", __name__, ALL_SIGNED_IN)

BATCH = 1000


def _stream(stmt, cells):
    for row in db.session.execute(stmt.execution_options(yield_per=BATCH)):
        yield cells(row)


def _require_blueprint_role(name: str) -> None:
    """An export shows what a screen shows: only to the roles that may open that screen."""
    if current_user.role not in getattr(current_app.blueprints.get(name), "roles", ()):
        abort(403)


@bp.route("/exports/skus.csv")
def skus():
    _require_blueprint_role("catalog")
    args = request.args
    stmt = queries.sku_search(args.get("q", "")[:100], category=args.get("category", "")[:60],
                              active=args.get("active", ""), in_stock=args.get("in_stock") == "1")
    columns = select(Sku.code, Sku.name, Sku.category, Sku.gtin, Sku.length_cm, Sku.width_cm, Sku.height_cm,
                     Sku.weight_kg, Sku.unit_cost, Sku.price, Sku.active)
    stmt = columns.where(Sku.id.in_(stmt.with_only_columns(Sku.id).order_by(None))).order_by(Sku.code)
    header = ("SKU", "Name", "Category", "Barcode", "Length cm", "Width cm", "Height cm", "Weight kg", "Unit cost",
              "Price", "Active")
    return csv_response("skus.csv", header, _stream(stmt, tuple))


@bp.route("/exports/skus/<int:sku_id>/moves.csv")
def sku_moves(sku_id: int):
    _require_blueprint_role("catalog")
    sku = db.session.get(Sku, sku_id) or abort(404)
    source, destination = aliased(Location), aliased(Location)
    stmt = (select(StockMove.id, StockMove.created_at, StockMove.qty, source.code.label("src"), StockMove.from_status,
                   destination.code.label("dst"), StockMove.to_status, StockMove.reason, StockMove.cause_type,
                   StockMove.cause_id, StockMove.note, User.username)
            .join(source, source.id == StockMove.from_location_id)
            .join(destination, destination.id == StockMove.to_location_id)
            .outerjoin(User, User.id == StockMove.user_id)
            .where(StockMove.sku_id == sku_id).order_by(StockMove.created_at.desc(), StockMove.id.desc()))
    header = ("Move", "When", "Units", "From", "From status", "To", "To status", "Reason", "Cause", "Cause id", "Note",
              "By")
    cells = lambda r: (r.id, local_text(r.created_at), r.qty, r.src, r.from_status or "", r.dst, r.to_status or "",
                       r.reason, r.cause_type, r.cause_id, r.note, r.username or "")
    return csv_response(f"{sku.code}-moves.csv", header, _stream(stmt, cells))


@bp.route("/exports/orders.csv")
def orders():
    _require_blueprint_role("retail")
    filters = order_queries.InboxFilters.from_args(request.args)
    matching = order_queries._filtered(select(Order.id), filters)  # the inbox's own filters, so the file matches the screen
    stmt = (select(Order.number, Order.channel_number, Channel.code.label("channel"), Order.status, Order.placed_at,
                   Order.promised_ship_date, Order.customer_name, Order.customer_email, Order.ship_postcode,
                   Order.ship_country, Order.currency, Order.total)
            .join(Channel, Channel.id == Order.channel_id).where(Order.id.in_(matching))
            .order_by(Order.placed_at.desc(), Order.id.desc()))
    header = ("Order", "Channel number", "Channel", "Status", "Placed", "Promised ship date", "Customer", "Email",
              "Postcode", "Country", "Currency", "Total")
    cells = lambda r: (r.number, r.channel_number, r.channel, r.status, local_text(r.placed_at), r.promised_ship_date,
                       r.customer_name, r.customer_email, r.ship_postcode, r.ship_country, r.currency, r.total)
    return csv_response("orders.csv", header, _stream(stmt, cells))
