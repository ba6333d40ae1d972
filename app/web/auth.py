"""Signing in and out."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, request, session, url_for
from flask_login import current_user, login_user, logout_user

from app.services.people import authenticate
from app.web.render import page

bp = Blueprint("auth", __name__)
bp.roles = frozenset()  # open to everyone: the way in


def _safe_next(target: str | None) -> str:
    if target and not urlsplit(target).netloc and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("dashboard.home")


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("dashboard.home"))
    if request.method == "GET":
        return page("auth/login.html", next=request.args.get("next", ""))
    username = request.form.get("username", "").strip()[:64]
    user = authenticate(username, request.form.get("password", "")[:200])
    if user is None:
        return page("auth/login.html", status=401, username=username, next=request.form.get("next", ""),
                    error="That username and password do not match, or the account is locked for a while.")
    session.clear()
    session.permanent = True
    login_user(user)
    return redirect(_safe_next(request.form.get("next")))


@bp.route("/logout", methods=["POST"])
def logout():
    logout_user()
    session.clear()
    flash("You are signed out.")
    return redirect(url_for("auth.login"))
