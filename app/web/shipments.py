"""A shipment's page and its documents (label, packing slip), for everyone who follows an order."""
from __future__ import annotations

from flask import make_response

from app.domain.roles import Role
from app.services import shipping
from app.web.guard import guarded_blueprint
from app.web.render import page

bp = guarded_blueprint("shipments", __name__, {Role.ADMIN, Role.RETAIL, Role.WAREHOUSE, Role.SUPERVISOR, Role.FINANCE,
                                               Role.RETURNS})


@bp.route("/shipments/<int:shipment_id>")
def detail(shipment_id: int):
    shipment = shipping.get_shipment(shipment_id)
    return page("shipments/detail.html", shipment=shipment, packages=shipping.packages_of(shipment),
                documents=shipping.shipment_documents(shipment.id), pending=shipping.label_pending(shipment),
                service_label=shipping.service_label(shipment))


@bp.route("/shipments/documents/<int:document_id>")
def document(document_id: int):
    found = shipping.get_document(document_id)
    response = make_response(found.data)
    response.headers["Content-Type"] = found.content_type
    response.headers["Content-Disposition"] = f'inline; filename="{found.filename}"'
    return response


@bp.app_context_processor
def shipment_helpers():
    """Lets any page (the order page, for one) list a shipment's documents: include shipments/_order_shipments.html."""
    return {"shipment_documents_for": shipping.shipment_documents}
