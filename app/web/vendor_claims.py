"""Vendor claims screen: every claim with filters and what each supplier still owes, sending claims under the
supplier's reference, and settling each with what the supplier credited."""
from __future__ import annotations

from flask import abort, flash, request, url_for
from flask_login import current_user

from app.domain.errors import DomainError, ValidationError
from app.domain.roles import Role
from app.services import queries, vendor_claim_queries, vendor_claims
from app.services.vendor_claim_queries import ClaimFilters
from app.web.export import csv_response
from app.web.guard import guarded_blueprint
from app.web.kpis import may_open
from app.web.render import go_to, page

bp = guarded_blueprint("vendor_claims", __name__, {Role.RETURNS, Role.PROCUREMENT, Role.FINANCE, Role.ADMIN})


@bp.route("/vendor-claims")
def claims():
    return _list_page(ClaimFilters.from_args(request.args), {}, {})


def _list_page(filters: ClaimFilters, errors: dict, form, status: int = 200):
    results = vendor_claim_queries.search_claims(filters, queries.page_number(request.args.get("page")))
    return page("vendor_claims/claims.html", "results", status=status, filters=filters, results=results,
                counts=vendor_claim_queries.status_counts(filters),
                outstanding=vendor_claim_queries.outstanding_by_supplier(filters),
                suppliers=vendor_claim_queries.supplier_choices(), statuses=vendor_claims.STATUSES,
                errors=errors, form=form, chosen={int(i) for i in request.form.getlist("claim") if i.isdigit()},
                may_open_returns=may_open("returns.rma_detail"))


@bp.route("/vendor-claims.csv")
def export():
    filters = ClaimFilters.from_args(request.args)
    return csv_response("vendor-claims.csv", vendor_claim_queries.EXPORT_HEADER, vendor_claim_queries.export_rows(filters))


@bp.post("/vendor-claims/send")
def send():
    filters = ClaimFilters.from_args(request.form)
    ids = [int(i) for i in request.form.getlist("claim") if i.isdigit() and len(i) < 10]
    try:
        sent = vendor_claims.send_vendor_claims(ids, reference=request.form.get("reference", ""), user_id=current_user.id)
    except DomainError as exc:
        errors = getattr(exc, "errors", None) or {exc.field or "claims": exc.message}
        return _list_page(filters, errors, request.form, 422 if isinstance(exc, ValidationError) else 409)
    flash(f"{len(sent)} claim(s) sent to {sent[0].supplier.name} under {sent[0].reference}: "
          + ", ".join(c.number for c in sent) + ".")
    return go_to(url_for("vendor_claims.claims", **filters.args()))


@bp.route("/vendor-claims/<int:claim_id>/settle", methods=["GET", "POST"])
def settle(claim_id: int):
    try:
        claim = vendor_claims.get_claim(claim_id)
    except DomainError:
        abort(404)
    if request.method == "GET":
        return _settle_page(claim, {}, {"credited": str(claim.claimed)})
    try:
        vendor_claims.settle_vendor_claim(claim.id, credited=request.form.get("credited", "").strip()[:30],
                                          note=request.form.get("note", ""), user_id=current_user.id)
    except DomainError as exc:
        errors = getattr(exc, "errors", None) or {"form": exc.message}
        return _settle_page(vendor_claims.get_claim(claim_id), errors, request.form,
                            422 if isinstance(exc, ValidationError) else 409)
    flash(f"{claim.number} settled: {claim.supplier.name} credited {claim.credited} of {claim.claimed}.")
    return go_to(url_for("vendor_claims.claims", q=claim.number))


def _settle_page(claim, errors: dict, form, status: int = 200):
    return page("vendor_claims/settle.html", "settle", status=status, claim=claim, errors=errors, form=form)
