"""The approvals inbox: requests this role may decide, and the requests a person made."""
from __future__ import annotations

from flask import current_app, flash, request, url_for
from flask_login import current_user

from app.domain.errors import DomainError, ValidationError
from app.services import queries
from app.services.approvals import KINDS, can_decide, decide_approval, inbox_for, requests_by
from app.web.guard import ALL_SIGNED_IN, guarded_blueprint
from app.web.render import go_to, page

bp = guarded_blueprint("approvals", __name__, ALL_SIGNED_IN, url_prefix="/approvals")

# Where each subject of a request is shown: (endpoint, the id argument). Areas add theirs here.
SUBJECT_LINKS = {"purchase_order": ("procurement.purchase_order", "po_id")}


def subject_url(approval) -> str | None:
    """Where the request's subject is shown, when there is such a screen and this person may open it."""
    link = SUBJECT_LINKS.get(approval.subject_type)
    if link is None or not approval.subject_id.isdigit():
        return None
    blueprint = current_app.blueprints.get(link[0].split(".")[0])
    if current_user.role not in getattr(blueprint, "roles", ()):
        return None
    try:
        return url_for(link[0], **{link[1]: int(approval.subject_id)})
    except Exception:  # noqa: BLE001 - an area without screens yet: show the request without a link
        return None


@bp.route("/")
def inbox():
    return _inbox_page()


def _inbox_page(errors: dict | None = None, status: int = 200):
    kind = request.args.get("kind", "") if request.args.get("kind") in KINDS else ""
    results = inbox_for(current_user, kind, queries.page_number(request.args.get("page")))
    return page("approvals/inbox.html", "results", status=status, results=results, kind=kind, kinds=KINDS,
                errors=errors or {}, subject_url=subject_url, can_decide=lambda a: can_decide(a, current_user))


@bp.route("/mine")
def mine():
    status = request.args.get("status", "") if request.args.get("status") in ("pending", "approved", "rejected",
                                                                            "withdrawn") else ""
    results = requests_by(current_user.id, status, queries.page_number(request.args.get("page")))
    return page("approvals/mine.html", "results", results=results, status_filter=status, kinds=KINDS,
                subject_url=subject_url)


@bp.post("/<int:request_id>/decide")
def decide(request_id: int):
    approve = request.form.get("decision") == "approve"
    note = request.form.get("note", "").strip()[:500]
    try:
        decided = decide_approval(request_id, current_user.id, approve, note)
    except ValidationError as exc:
        flash(exc.message if not exc.errors else " ".join(exc.errors.values()), "error")
        return _inbox_page({request_id: exc.errors.get("note", exc.message)}, 422)
    except DomainError as exc:
        flash(exc.message, "error")
        return _inbox_page({request_id: exc.message}, exc.status if exc.status in (403, 404, 409) else 422)
    flash(f"{'Approved' if approve else 'Rejected'}: {decided.summary or KINDS[decided.kind]}.")
    return go_to(url_for("approvals.inbox"))
