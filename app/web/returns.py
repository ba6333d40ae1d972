"""Returns screens: RMA list and detail, opening an RMA, scan-first receipt, inspection, refunds, refurbishing,
return policies and return intelligence."""
from __future__ import annotations

from flask import Response, abort, flash, request, url_for
from flask_login import current_user

from app.domain.errors import DomainError, ValidationError
from app.domain.returns import DISPOSITION_LABELS, GRADE_LABELS, REASON_LABELS, Disposition, Grade, ReturnReason
from app.domain.roles import Role
from app.models.types import utcnow
from app.services import approvals, queries, return_analytics, return_queries, returns
from app.services.returns import UnitDecision
from app.web.guard import guarded_blueprint
from app.web.kpis import may_open
from app.web.render import go_to, page

bp = guarded_blueprint("returns", __name__, {Role.RETURNS, Role.RETAIL, Role.ADMIN})

VOCABULARY = {"reasons": [(r.value, REASON_LABELS[r]) for r in ReturnReason],
              "grades": [(g.value, GRADE_LABELS[g]) for g in Grade],
              "dispositions": [(d.value, DISPOSITION_LABELS[d]) for d in Disposition],
              "reason_labels": {r.value: REASON_LABELS[r] for r in ReturnReason}}
MAX_SCANS = 2000


def _text(name: str, limit: int = 300) -> str:
    return request.form.get(name, "").strip()[:limit]


def _back_to(rma_id: int):
    return go_to(url_for("returns.rma_detail", rma_id=rma_id))


def _act(rma_id: int, action, done: str):
    """Run one RMA action, flash what happened, and show the RMA again."""
    try:
        action()
        flash(done)
    except DomainError as exc:
        flash(exc.message, "error")
    return _back_to(rma_id)


# --- list and detail ---------------------------------------------------------------------------------------------

@bp.route("/returns")
def rmas():
    filters = return_queries.RmaFilters.from_args(request.args)
    results = return_queries.search_rmas(filters, queries.page_number(request.args.get("page")))
    return page("returns/rmas.html", "results", filters=filters, results=results,
                counts=return_queries.status_counts(filters), choices=return_queries.filter_choices(), **VOCABULARY)


@bp.route("/returns/<int:rma_id>")
def rma_detail(rma_id: int):
    rma = return_queries.rma_detail(rma_id) or abort(404)
    return page("returns/detail.html", rma=rma, timeline=return_queries.timeline(rma),
                claims=return_queries.claims_for(rma), tasks=return_queries.refurbish_tasks_for(rma),
                may_open_claims=may_open("vendor_claims.claims"), **VOCABULARY)


@bp.route("/returns/<int:rma_id>/label.pdf")
def label(rma_id: int):
    try:
        pdf = returns.render_return_label(rma_id)
    except DomainError as exc:
        flash(exc.message, "error")
        return _back_to(rma_id)
    return Response(pdf, mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="return-label-{rma_id}.pdf"'})


@bp.post("/returns/<int:rma_id>/in-transit")
def in_transit(rma_id: int):
    return _act(rma_id, lambda: returns.mark_in_transit(rma_id, tracking_number=_text("tracking", 60),
                                                        user_id=current_user.id), "Marked as on its way.")


@bp.post("/returns/<int:rma_id>/cancel")
def cancel(rma_id: int):
    return _act(rma_id, lambda: returns.cancel_rma(rma_id, reason=_text("reason"), user_id=current_user.id),
                "RMA cancelled; its units can be returned again.")


@bp.post("/returns/<int:rma_id>/close")
def close(rma_id: int):
    return _act(rma_id, lambda: returns.close_rma(rma_id, reason=_text("reason"), user_id=current_user.id),
                "RMA closed without a refund.")


# --- opening an RMA ----------------------------------------------------------------------------------------------

@bp.route("/returns/new", methods=["GET", "POST"])
def new_rma():
    ref = (request.values.get("order") or "").strip()[:64]
    order, lines, errors = None, [], {}
    if ref:
        try:
            order = returns.find_order(ref)
            lines = returns.returnable_lines(order)
        except DomainError as exc:
            errors["order"] = exc.message
    if request.method == "GET" or order is None:
        return page("returns/new.html", "form", status=422 if errors else 200, ref=ref, order=order, lines=lines,
                    errors=errors, form={}, **VOCABULARY)
    asked = _asked_lines(lines)
    try:
        rma = returns.open_rma(order.id, asked, user_id=current_user.id, source="portal", note=_text("note", 1000))
    except ValidationError as exc:
        return page("returns/new.html", "form", status=422, ref=ref, order=order, lines=lines,
                    errors=_line_errors(exc.errors, asked, lines), message=exc.message, form=request.form, **VOCABULARY)
    flash(f"{rma.number} authorised for {rma.units_expected} unit(s)"
          + ("; print the prepaid return label for the customer." if rma.retailer_pays_label else "."))
    return go_to(url_for("returns.rma_detail", rma_id=rma.id))


def _asked_lines(lines) -> list[dict]:
    asked = []
    for r in lines:
        qty = request.form.get(f"qty-{r.line.id}", "").strip()
        if qty and qty != "0":
            asked.append({"sku": r.line.sku.code, "qty": int(qty) if qty.isdigit() else qty,
                          "reason": request.form.get(f"reason-{r.line.id}", ""), "note": _text(f"note-{r.line.id}"),
                          "line_id": r.line.id})
    return asked or []


def _line_errors(errors: dict, asked: list[dict], lines) -> dict:
    """Service errors name lines[i]; the form names each order line."""
    mapped = {}
    for key, message in errors.items():
        if key.startswith("lines[") and "]" in key:
            index = int(key[6:key.index("]")])
            field = key.split(".", 1)[1] if "." in key else "qty"
            mapped[f"{field}-{asked[index]['line_id']}"] = message
        else:
            mapped["form"] = message
    return mapped


# --- receipt at the dock (scan first) ----------------------------------------------------------------------------

@bp.route("/returns/receive", methods=["GET", "POST"])
def receive():
    code = (request.values.get("code") or "").strip()[:64]
    if code:
        try:
            rma = returns.find_rma(code)
            return go_to(url_for("returns.receive_items", rma_id=rma.id))
        except DomainError as exc:
            return page("returns/receive_find.html", "scan", status=404 if request.method == "POST" else 200, code=code,
                        error=exc.message, waiting=return_queries.awaiting_receipt("", 1))
    return page("returns/receive_find.html", "scan", code="", error=None,
                waiting=return_queries.awaiting_receipt(request.args.get("q", "")[:100],
                                                        queries.page_number(request.args.get("page"))))


@bp.route("/returns/<int:rma_id>/receive", methods=["GET", "POST"])
def receive_items(rma_id: int):
    rma = return_queries.rma_detail(rma_id) or abort(404)
    scanned = [code[:64] for code in request.form.getlist("scanned")][:MAX_SCANS]
    if request.method == "POST" and request.form.get("action") == "finish":
        return _finish_receipt(rma, scanned)
    error = None
    code = (request.form.get("code") or "").strip()[:64]
    if code:
        sku = returns.find_sku(code)
        qty = request.form.get("qty", "1").strip()
        if sku is None:
            error = f"No SKU or barcode '{code}'. Set the item aside and check its label."
        elif not qty.isdigit() or not 1 <= int(qty) <= returns.MAX_UNITS_PER_SCAN:
            error = f"Units must be a whole number from 1 to {returns.MAX_UNITS_PER_SCAN}."
        else:
            scanned += [sku.code] * int(qty)
    return _receiving(rma, scanned, error, status=422 if error else 200)


def _receiving(rma, scanned: list[str], error: str | None, status: int = 200):
    tally: dict[str, int] = {}
    for code in scanned:
        tally[code] = tally.get(code, 0) + 1
    expected = {}
    for line in rma.lines:
        expected[line.sku.code] = expected.get(line.sku.code, 0) + line.qty_expected
    return page("returns/receive.html", "receiving", status=status, rma=rma, scanned=scanned, tally=tally,
                expected=expected, error=error)


def _finish_receipt(rma, scanned: list[str]):
    counts: dict[str, int] = {}
    for code in scanned:
        counts[code] = counts.get(code, 0) + 1
    try:
        returns.receive_rma(rma.id, counts, user_id=current_user.id, note=_text("note"))
    except DomainError as exc:
        return _receiving(rma, scanned, exc.message, status=422)
    flash(f"{rma.number} received: {rma.units_received} unit(s) on the dock, waiting for inspection.")
    return go_to(url_for("returns.inspect", rma_id=rma.id))


# --- inspection --------------------------------------------------------------------------------------------------

@bp.route("/returns/inspect")
def inspect_queue():
    return page("returns/inspect_queue.html", "results",
                results=return_queries.inspection_queue(queries.page_number(request.args.get("page"))))


@bp.route("/returns/<int:rma_id>/inspect", methods=["GET", "POST"])
def inspect(rma_id: int):
    rma = return_queries.rma_detail(rma_id) or abort(404)
    if request.method == "GET":
        return _inspection_form(rma, {}, {})
    decisions, form = _decisions(rma)
    try:
        returns.inspect_rma(rma.id, decisions, user_id=current_user.id)
    except ValidationError as exc:
        return _inspection_form(rma, _unit_errors(exc.errors, decisions), form, exc.message, 422)
    except DomainError as exc:
        return _inspection_form(rma, {"form": exc.message}, form, exc.message, 409)
    flash(f"{rma.number}: {len(decisions)} unit(s) inspected" + ("; ready for its refund." if rma.status == "inspected" else "."))
    return go_to(url_for("returns.rma_detail", rma_id=rma.id))


def _inspection_form(rma, errors: dict, form: dict, message: str | None = None, status: int = 200):
    return page("returns/inspect.html", "inspection", status=status, rma=rma, units=returns.pending_units(rma),
                suggested=returns.suggested_decisions(rma), bins=return_queries.bins_of(rma.warehouse_id),
                errors=errors, form=form, message=message, **VOCABULARY)


def _decisions(rma) -> tuple[list[UnitDecision], dict]:
    decisions, form = [], {}
    for unit in returns.pending_units(rma):
        values = {key: request.form.get(f"{key}-{unit.id}", "").strip()[:300]
                  for key in ("grade", "disposition", "defect", "bin")}
        form[unit.id] = values
        if values["grade"]:
            location = int(values["bin"]) if values["bin"].isdigit() else None
            decisions.append(UnitDecision(unit.id, values["grade"], values["disposition"], values["defect"], location))
    return decisions, form


def _unit_errors(errors: dict, decisions: list[UnitDecision]) -> dict:
    mapped = {}
    for key, message in errors.items():
        if key.startswith("units[") and "]" in key:
            unit_id = decisions[int(key[6:key.index("]")])].unit_id
            mapped[f"{key.split('.', 1)[1] if '.' in key else 'grade'}-{unit_id}"] = message
        else:
            mapped["form"] = message
    return mapped


# --- refunds and exchanges ---------------------------------------------------------------------------------------

@bp.route("/returns/refunds")
def refunds():
    view = request.args.get("view", "to_request")
    view = view if view in return_queries.REFUND_VIEWS else "to_request"
    q = request.args.get("q", "").strip()[:100]
    results = return_queries.refund_queue(view, q, queries.page_number(request.args.get("page")))
    return page("returns/refunds.html", "results", view=view, q=q, results=results,
                views=return_queries.REFUND_VIEWS, counts=return_queries.refund_queue_counts(),
                can_decide=_can_decide)


def _can_decide(refund) -> bool:
    request_ = approvals.pending_request_for("refund", refund.number)
    return request_ is not None and approvals.can_decide(request_, current_user)


@bp.route("/returns/<int:rma_id>/refund", methods=["GET", "POST"])
def refund_form(rma_id: int):
    rma = return_queries.rma_detail(rma_id) or abort(404)
    if request.method == "GET":
        return _refund_page(rma, {}, {})
    amounts = {line_id: request.form.get(f"amount-{line_id}", "").strip()
               for line_id in (ql.rma_line.id for ql in returns.quote_refund(rma).lines)}
    try:
        refund = returns.request_refund(rma.id, user_id=current_user.id, amounts=amounts,
                                        restocking_fee=request.form.get("restocking_fee", "").strip(),
                                        shipping=request.form.get("shipping", "").strip(),
                                        override_reason=_text("override_reason"))
    except ValidationError as exc:
        return _refund_page(rma, {k.replace("amounts.", "amount-"): v for k, v in exc.errors.items()}, request.form,
                            exc.message, 422)
    except DomainError as exc:
        return _refund_page(rma, {"form": exc.message}, request.form, exc.message, 409)
    flash(f"{refund.number} for {refund.total} {refund.currency} "
          + ("is waiting for finance's approval." if refund.status == "pending_approval" else "is approved; issue it."))
    return go_to(url_for("returns.rma_detail", rma_id=rma.id))


def _refund_page(rma, errors: dict, form, message: str | None = None, status: int = 200):
    return page("returns/refund_form.html", "refund", status=status, rma=rma, quote=returns.quote_refund(rma),
                errors=errors, form=form, message=message, **VOCABULARY)


@bp.post("/returns/<int:rma_id>/exchange")
def exchange(rma_id: int):
    rma = return_queries.rma_detail(rma_id) or abort(404)
    replacements = {line.id: _text(f"replacement-{line.id}", 64) for line in rma.lines}
    try:
        returns.exchange_rma(rma.id, replacements, user_id=current_user.id)
    except ValidationError as exc:
        errors = {k.replace("replacements.", "replacement-"): v for k, v in exc.errors.items()}
        return _refund_page(rma, errors, request.form, exc.message, 422)
    except DomainError as exc:
        return _refund_page(rma, {"form": exc.message}, request.form, exc.message, 409)
    flash(f"Replacement order {rma.exchange_order.number} created for {rma.number}.")
    return go_to(url_for("returns.rma_detail", rma_id=rma.id))


def _refund_action(refund_id: int, action, done: str):
    try:
        refund = action()
        flash(done.format(refund=refund))
    except DomainError as exc:
        flash(exc.message, "error")
    back = request.form.get("back", "")
    if back.startswith("/returns"):
        return go_to(back)
    return go_to(url_for("returns.refunds"))


@bp.post("/returns/refunds/<int:refund_id>/decide")
def decide(refund_id: int):
    approve = request.form.get("decision") == "approve"
    return _refund_action(refund_id, lambda: returns.decide_refund(refund_id, approver_id=current_user.id,
                                                                   approve=approve, note=_text("note")),
                          "{refund.number} " + ("approved." if approve else "rejected."))


@bp.post("/returns/refunds/<int:refund_id>/issue")
def issue(refund_id: int):
    return _refund_action(refund_id, lambda: returns.issue_refund(refund_id, user_id=current_user.id),
                          "{refund.number} issued: credit note posted and the channel told.")


@bp.post("/returns/refunds/<int:refund_id>/pay")
def pay(refund_id: int):
    return _refund_action(refund_id, lambda: returns.mark_refund_paid(refund_id, reference=_text("reference", 100),
                                                                      user_id=current_user.id),
                          "{refund.number} paid; the return is closed.")


# --- refurbishing ------------------------------------------------------------------------------------------------

@bp.route("/returns/refurbish")
def refurbish():
    status = request.args.get("status", "open")
    results = return_queries.refurbish_queue(status, queries.page_number(request.args.get("page")))
    return page("returns/refurbish.html", "results", results=results, status=status,
                suggested={t.id: returns.suggest_bin(t.sku_id, t.warehouse_id) for t in results.items},
                bins={w: return_queries.bins_of(w) for w in {t.warehouse_id for t in results.items}})


@bp.post("/returns/refurbish/<int:task_id>")
def complete_refurbish(task_id: int):
    location = request.form.get("location", "")
    try:
        task = returns.complete_refurbish(task_id, outcome=request.form.get("outcome", ""), note=_text("note"),
                                          location_id=int(location) if location.isdigit() else None,
                                          user_id=current_user.id)
        flash(f"{task.sku.code} " + ("back in stock in " + task.location.code if task.status == "done" else "scrapped") + ".")
    except DomainError as exc:
        flash(exc.message, "error")
    return go_to(url_for("returns.refurbish"))


# --- policies ----------------------------------------------------------------------------------------------------

@bp.route("/returns/policies", methods=["GET", "POST"])
def policies():
    channels = return_queries.policy_channels()
    code = (request.values.get("channel") or (channels[0]["code"] if channels else "")).strip()[:30]
    if request.method == "GET":
        return _policy_page(channels, code, {}, None)
    if current_user.role not in (Role.RETURNS, Role.ADMIN):
        abort(403)
    try:
        returns.set_return_policy(code, window_days=_whole(request.form.get("window_days", "")),
                                  restocking_fee_pct=request.form.get("restocking_fee_pct", "").strip(),
                                  non_returnable_skus=_split(request.form.get("non_returnable_skus", "")),
                                  non_returnable_categories=_split(request.form.get("non_returnable_categories", "")),
                                  retailer_pays_reasons=request.form.getlist("retailer_pays_reasons"),
                                  user_id=current_user.id)
    except DomainError as exc:
        return _policy_page(channels, code, getattr(exc, "errors", None) or {"form": exc.message}, request.form, 422)
    flash(f"Return policy for {code} saved.")
    return go_to(url_for("returns.policies", channel=code))


def _policy_page(channels: list[dict], code: str, errors: dict, form, status: int = 200):
    current = next((c for c in channels if c["code"] == code), None)
    policy = returns.policy_for(current["id"]) if current else returns.default_policy()
    return page("returns/policies.html", "policy", status=status, code=code, channels=channels, current=current,
                policy=policy, errors=errors, form=form, may_edit=current_user.role in (Role.RETURNS, Role.ADMIN),
                **VOCABULARY)


def _whole(text: str) -> object:
    text = text.strip()
    return int(text) if text.isdigit() else text


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.replace("\n", ",").split(",") if part.strip()][:500]


# --- return intelligence -----------------------------------------------------------------------------------------

@bp.route("/returns/analytics")
def analytics():
    period = return_analytics.Period.from_args(request.args, utcnow().date())
    skus = return_analytics.return_rates(period, "sku", limit=15)
    signals = return_analytics.quality_problems(period)
    weeks = return_analytics.weekly_rmas(period)
    return page("returns/analytics.html", "report", period=period, figures=return_analytics.overview(period),
                channels=return_analytics.return_rates(period, "channel"),
                reason_rates=return_analytics.return_rates(period, "reason"), skus=skus,
                names=return_analytics.sku_names([r.key for r in skus] + [s.sku for s in signals]),
                cycle=return_analytics.cycle_times(period), signals=signals,
                weeks=weeks, week_labels=[monday.strftime("%d %b") for monday, _n in weeks], **VOCABULARY)
