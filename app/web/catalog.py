"""SKUs, warehouses and bins: the master data every role looks things up in."""
from __future__ import annotations

from flask import abort, request

from app.domain.inventory import STATUS_MEANINGS, Status
from app.domain.roles import Role
from app.extensions import db
from app.models import Sku, Warehouse
from app.services import queries
from app.web.guard import guarded_blueprint
from app.web.render import page

bp = guarded_blueprint("catalog", __name__, {Role.ADMIN, Role.RETAIL, Role.WAREHOUSE, Role.SUPERVISOR,
                                               Role.PROCUREMENT, Role.FINANCE, Role.RETURNS})


@bp.route("/skus")
def skus():
    args = request.args
    filters = {"q": args.get("q", "")[:100], "category": args.get("category", "")[:60],
               "active": args.get("active", ""), "in_stock": args.get("in_stock") == "1"}
    results = queries.paginate(queries.sku_search(**filters), queries.page_number(args.get("page")))
    stock = queries.stock_by_status_for_skus([s.id for s in results.items])
    return page("catalog/skus.html", "results", results=results, stock=stock, filters=filters,
                categories=queries.sku_categories())


@bp.route("/skus/<int:sku_id>")
def sku_detail(sku_id: int):
    sku = db.session.get(Sku, sku_id) or abort(404)
    moves = queries.sku_moves(sku_id, queries.page_number(request.args.get("page")))
    return page("catalog/sku_detail.html", "moves", sku=sku, moves=moves,
                by_warehouse=queries.sku_stock_by_warehouse(sku_id),
                by_location=queries.sku_stock_by_location(sku_id), statuses=list(Status),
                meanings=STATUS_MEANINGS, ats=queries.available_to_sell(sku_id),
                usernames=queries.users_by_id({m.user_id for m in moves.items if m.user_id}))


@bp.route("/warehouses")
def warehouses():
    return page("catalog/warehouses.html", rows=queries.warehouses_with_counts(),
                summary={w["code"]: w for w in queries.stock_summary_by_warehouse()})


@bp.route("/warehouses/<int:warehouse_id>")
def warehouse_detail(warehouse_id: int):
    warehouse = db.session.get(Warehouse, warehouse_id) or abort(404)
    q = request.args.get("q", "")[:40]
    locations = queries.warehouse_locations(warehouse_id, q, queries.page_number(request.args.get("page")))
    return page("catalog/warehouse_detail.html", "locations", warehouse=warehouse, locations=locations, q=q)
