"""Keel: the ecommerce ERP between the storefront and the warehouse floor."""
from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

from config import Config

ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger("keel")


def create_app(config_class: type = Config) -> Flask:
    """Build the portal, the API and the webhooks around one database."""
    app = Flask(__name__, template_folder=str(ROOT / "templates"), static_folder=str(ROOT / "static"),
                instance_path=str(ROOT / "instance"))
    app.config.from_object(config_class)
    register_extensions(app)
    register_input_rules(app)
    register_blueprints(app)
    register_error_handlers(app)
    register_template_helpers(app)
    register_security_headers(app)
    register_governance(app)
    register_cli(app)
    from app.services.availability import register_availability_publishing
    register_availability_publishing()
    from app.services.finance import register_finance
    register_finance()
    if app.config.get("KEEL_SCHEDULER"):
        from app.jobs import start_scheduler
        start_scheduler(app)
    return app


def register_extensions(app: Flask) -> None:
    from app import models  # noqa: F401  (registers every table with the metadata)
    from app.extensions import csrf, db, htmx, login_manager, migrate, register_sqlite_tuning

    register_sqlite_tuning()
    db.init_app(app)
    from app.models.types import render_type_for_migrations
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True, compare_type=False,
                     render_item=render_type_for_migrations)
    csrf.init_app(app)
    htmx.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to continue."
    login_manager.session_protection = "strong"

    @login_manager.user_loader
    def load_user(user_id: str):
        from app.models import User
        return db.session.get(User, int(user_id)) if user_id.isdigit() else None


def register_input_rules(app: Flask) -> None:
    """Before any route exists: ids in URLs bounded to the key range, NUL characters refused."""
    from app.security import register_input_rules as register
    register(app)


def register_blueprints(app: Flask) -> None:
    from app.web import blueprints
    for bp in blueprints():
        app.register_blueprint(bp)
    from app.api import api
    from app.extensions import csrf
    csrf.exempt(api)
    app.register_blueprint(api)


def wants_json() -> bool:
    return request.path.startswith(("/api/", "/webhooks/")) or request.accept_mimetypes.best == "application/json"


def register_error_handlers(app: Flask) -> None:
    from app.domain.errors import DomainError
    from app.extensions import db
    from app.web.render import page

    @app.errorhandler(DomainError)
    def domain_error(exc: DomainError):
        db.session.rollback()
        if wants_json():
            body = {"error": exc.code, "message": exc.message}
            if getattr(exc, "errors", None):
                body["fields"] = exc.errors
            return jsonify(body), exc.status
        return page("error.html", status=exc.status, code=exc.status, title="That did not work", message=exc.message)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if wants_json():
            code = (exc.name or "error").lower().replace(" ", "_")
            return jsonify({"error": code, "message": exc.description}), exc.code
        return page("error.html", status=exc.code, code=exc.code, title=exc.name, message=exc.description)

    @app.errorhandler(Exception)
    def unexpected_error(exc: Exception):
        db.session.rollback()
        log.exception("unexpected error on %s %s", request.method, request.path)
        if wants_json():
            return jsonify({"error": "server_error", "message": "Something went wrong on our side."}), 500
        return page("error.html", status=500, code=500, title="Something went wrong",
                    message="Keel could not finish that. Nothing was changed; please try again.")


def register_template_helpers(app: Flask) -> None:
    from app.web import formatting
    from app.web.nav import nav_for_current_user

    app.jinja_env.filters.update(formatting.FILTERS)
    app.jinja_env.globals.update(nav_for_current_user=nav_for_current_user,
                                 has_endpoint=lambda name: name in app.view_functions, **formatting.GLOBALS)


def register_security_headers(app: Flask) -> None:
    csp = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
           "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("Content-Security-Policy", csp)
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response


def register_governance(app: Flask) -> None:
    """The audit log and webhook fan-out (session hooks), secret masking in logs, sign-in throttle, idle timeout."""
    from app.security import register_security
    from app.services.audit import register_audit_log
    from app.services.outbox import register_fan_out

    register_audit_log()
    register_fan_out()
    register_security(app)


def register_cli(app: Flask) -> None:
    from app.cli import commands
    for command in commands():
        app.cli.add_command(command)
