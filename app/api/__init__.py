"""The JSON API at /api/v1: bearer tokens, JSON errors, and the same services as the portal."""
from __future__ import annotations

import importlib

from flask import Blueprint, g, jsonify, request

from app.services.people import user_for_token

api = Blueprint("api", __name__, url_prefix="/api/v1")
api.roles = frozenset()  # each endpoint names its roles with @roles(...)

PUBLIC_ENDPOINTS = {"api.openapi"}
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def error(code: str, message: str, status: int, **extra):
    return jsonify({"error": code, "message": message, **extra}), status


@api.before_request
def authenticate_bearer():
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    found = user_for_token(token.strip()) if scheme.lower() == "bearer" else None
    if found is None:
        return error("unauthorized", "Send a valid API token as 'Authorization: Bearer TOKEN'.", 401)
    g.api_user, g.api_scopes = found
    if request.method in WRITE_METHODS and "write" not in g.api_scopes:
        return error("forbidden", "This token may only read.", 403)
    return None


def roles(*allowed):
    """Allow an endpoint to the given roles only."""
    allowed_set = frozenset(allowed)

    def decorate(fn):
        fn.api_roles = allowed_set

        def wrapper(*args, **kwargs):
            if g.api_user.role not in allowed_set:
                return error("forbidden", "Your role may not use this endpoint.", 403)
            return fn(*args, **kwargs)

        wrapper.__name__ = fn.__name__
        wrapper.__doc__ = fn.__doc__
        wrapper.api_roles = allowed_set
        return wrapper

    return decorate


def json_body() -> dict:
    """The request's JSON object, or a ValidationError explaining why there is none."""
    from app.domain.errors import ValidationError
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationError("The body must be a JSON object (Content-Type: application/json).", field="body")
    return body


def list_answer(page, items) -> dict:
    return {"items": items, "page": page.page, "pages": page.pages, "total": page.total}


def status_arg_refusal(statuses):
    """The 400 answer for a ?status= that is neither "open" nor one of `statuses` (an enum); None when it is fine."""
    status = request.args.get("status", "")
    if status and status != "open" and status not in set(statuses):
        return error("invalid", f"status must be one of: {', '.join(s.value for s in statuses)}, open.", 400)
    return None


def _load_endpoint_modules() -> None:
    """Each module in app/api adds its routes to `api`."""
    import pkgutil
    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")


_load_endpoint_modules()
