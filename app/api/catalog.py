"""SKUs, channels and stock over the API."""
from __future__ import annotations

from flask import request
from sqlalchemy import select

from app.api import api, error, list_answer, roles
from app.domain.inventory import Status
from app.domain.roles import ALL_ROLES
from app.extensions import db
from app.models import Channel, Sku
from app.services import queries


def sku_json(sku: Sku) -> dict:
    return {"id": sku.id, "code": sku.code, "name": sku.name, "category": sku.category, "gtin": sku.gtin,
            "length_cm": str(sku.length_cm), "width_cm": str(sku.width_cm), "height_cm": str(sku.height_cm),
            "weight_kg": str(sku.weight_kg), "unit_cost": str(sku.unit_cost), "price": str(sku.price),
            "active": sku.active}


@api.get("/skus")
@roles(*ALL_ROLES)
def list_skus():
    """SKUs with barcode, dimensions, weight, cost and price; search and pages."""
    page = queries.paginate(queries.sku_search(request.args.get("q", "")[:100]), queries.page_number(request.args.get("page")))
    return list_answer(page, [sku_json(s) for s in page.items])


@api.get("/channels")
@roles(*ALL_ROLES)
def list_channels():
    """Sales channels."""
    channels = db.session.scalars(select(Channel).order_by(Channel.code)).all()
    return {"items": [{"code": c.code, "name": c.name, "type": c.type, "currency": c.currency,
                       "safety_buffer": c.safety_buffer, "active": c.active,
                       "warehouses": [w.code for w in c.warehouses]} for c in channels],
            "page": 1, "pages": 1, "total": len(channels)}


@api.get("/inventory")
@roles(*ALL_ROLES)
def inventory():
    """Quantities per warehouse and status, and available-to-sell per channel, for one SKU."""
    code = request.args.get("sku", "")[:64]
    if not code:
        return error("invalid", "Give the SKU code as ?sku=CODE.", 400)
    sku = db.session.scalar(select(Sku).where(Sku.code == code))
    if sku is None:
        return error("not_found", f"No SKU with code {code}.", 404)
    warehouses = [{"warehouse": w["code"], **{s.value: w[s.value] for s in Status}}
                  for w in queries.sku_stock_by_warehouse(sku.id)]
    ats = [{"channel": a["channel"], "available_to_sell": a["available_to_sell"]} for a in queries.available_to_sell(sku.id)]
    return {"sku": sku.code, "warehouses": warehouses, "available_to_sell": ats}
