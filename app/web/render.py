"""One view, one template: a full page, or only its named block for an htmx request."""
from __future__ import annotations

from flask import make_response, redirect, render_template, request
from jinja2_fragments.flask import render_block


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true" and request.headers.get("HX-Boosted") != "true"


def page(template: str, block: str | None = None, status: int = 200, **context):
    """Render `template` whole, or just `block` when htmx asks for a fragment."""
    if block and is_htmx():
        body = render_block(template, block, **context)
    else:
        body = render_template(template, **context)
    response = make_response(body, status)
    response.headers["Vary"] = "HX-Request"
    return response


def go_to(url: str):
    """Redirect; htmx requests get HX-Redirect so the browser loads the whole new page."""
    if is_htmx():
        response = make_response("", 204)
        response.headers["HX-Redirect"] = url
        return response
    return redirect(url)
