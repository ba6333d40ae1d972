"""Role guards: every blueprint names the roles that may use it, and refuses everyone else."""
from __future__ import annotations

from collections.abc import Iterable

from flask import Blueprint, abort, redirect, request, url_for
from flask_login import current_user

from app.domain.roles import Role

ALL_SIGNED_IN = frozenset(Role)


def guarded_blueprint(name: str, import_name: str, roles: Iterable[Role], **kwargs) -> Blueprint:
    """A blueprint whose every route needs a signed-in user with one of `roles`."""
    bp = Blueprint(name, import_name, **kwargs)
    bp.roles = frozenset(roles)

    @bp.before_request
    def require_role():
        if not current_user.is_authenticated:
            if request.headers.get("HX-Request"):
                return ("", 401, {"HX-Redirect": url_for("auth.login")})
            return redirect(url_for("auth.login", next=request.full_path if request.method == "GET" else None))
        if current_user.role not in bp.roles:
            abort(403)
        return None

    return bp
