"""Web-wide safeguards: secrets masked in every log line, sign-in throttled per address, idle sessions ended."""
from __future__ import annotations

import logging
import re
import time

from flask import Flask, flash, jsonify, request, session
from flask_login import current_user, logout_user
from werkzeug.routing import IntegerConverter

from app.web.render import page

MASK = "[masked]"
# Values that must never reach a log: bearer tokens, Keel tokens and webhook secrets, password hashes,
# and anything written as password=..., secret: ..., "token": "...", Authorization: ...
SECRET_PATTERNS = [
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), r"\1 " + MASK),
    (re.compile(r"\b(keel|whsec)_[A-Za-z0-9_-]{8,}"), r"\1_" + MASK),
    (re.compile(r"\b(scrypt|pbkdf2):[^\s'\"]+"), r"\1:" + MASK),
    (re.compile(r"(?i)((?:password|passwd|secret|token|api[_-]?key|authorization|signature|hmac[_-]?sha256)"
                r"[\w-]*[\"']?\s*[:=]\s*[\"']?)([^\s\"',;&}]+)"), r"\1" + MASK),
]


def mask_secrets(text: str) -> str:
    for pattern, replacement in SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class SecretMaskingFilter(logging.Filter):
    """Rewrites a log record so that its message and traceback carry no secrets."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_secrets_masked", False):
            return True
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep the raw template rather than lose the line
            message = str(record.msg)
        record.msg, record.args = mask_secrets(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_secrets(record.exc_text)
        record._secrets_masked = True
        return True


_masking = SecretMaskingFilter()


def install_secret_masking() -> None:
    """Mask every log record as it is made, whichever logger or handler it goes to."""
    factory = logging.getLogRecordFactory()
    if getattr(factory, "masks_secrets", False):
        return

    def masked_record(*args, **kwargs):
        record = factory(*args, **kwargs)
        _masking.filter(record)
        return record

    masked_record.masks_secrets = True
    logging.setLogRecordFactory(masked_record)


# --- input every route can trust ----------------------------------------------------------------------------

MAX_ID = 2**31 - 1  # ids are 32-bit integer keys on PostgreSQL


class IdConverter(IntegerConverter):
    """`<int:...>` in every URL: a number past the key range matches no route (404) instead of failing a query."""

    def __init__(self, map, fixed_digits=0, min=None, max=MAX_ID, signed=False):
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def _carries_nul() -> bool:
    if any("\x00" in value for value in request.args.values()):
        return True
    if request.mimetype == "application/json":
        body = request.get_data(cache=True)
        return b"\x00" in body or b"\\u0000" in body.lower()
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return any("\x00" in value for value in request.form.values())
    return False


def register_input_rules(app: Flask) -> None:
    """Bounded ids in URLs, and no NUL characters (PostgreSQL text cannot hold them) outside channel webhooks,
    whose raw payloads the intake stores as received."""
    app.url_map.converters["int"] = IdConverter

    @app.before_request
    def refuse_nul_characters():
        if request.path.startswith("/webhooks/") or not _carries_nul():
            return None
        message = "The request contains a NUL character, which Keel does not accept."
        if request.path.startswith("/api/"):
            return jsonify({"error": "invalid", "message": message}), 400
        return page("error.html", status=400, code=400, title="That did not work", message=message)


# --- sign-in throttling by address ---------------------------------------------------------------------------

def _client_ip() -> str:
    return (request.remote_addr or "unknown")[:64]


def register_login_throttle(app: Flask) -> None:
    """Refuse sign-in attempts from an address with too many recent failures; count each failure."""
    from app.services import security

    @app.before_request
    def refuse_throttled_sign_in():
        if request.endpoint != "auth.login" or request.method != "POST":
            return None
        if security.ip_throttled(_client_ip()):
            minutes = int(security.IP_WINDOW.total_seconds() // 60)
            return page("auth/login.html", status=429, username=request.form.get("username", "")[:64],
                        next=request.form.get("next", ""),
                        error=f"Too many failed sign-ins from your network. Try again in {minutes} minutes.")
        return None

    @app.after_request
    def count_failed_sign_in(response):
        if request.endpoint == "auth.login" and request.method == "POST" and response.status_code == 401:
            security.record_login_failure(_client_ip(), request.form.get("username", ""))
        return response


# --- idle sessions -------------------------------------------------------------------------------------------

LAST_SEEN = "_last_seen"
TOUCH_EVERY_S = 60  # rewrite the session cookie at most once a minute


def register_idle_timeout(app: Flask) -> None:
    """Sign people out after KEEL_IDLE_MINUTES without a request (the session lifetime still caps the total)."""

    @app.before_request
    def end_idle_session():
        if request.endpoint in (None, "static") or request.path.startswith(("/api/", "/webhooks/")):
            return None
        if not current_user.is_authenticated:
            return None
        now, idle_s = time.time(), app.config["KEEL_IDLE_MINUTES"] * 60
        last = session.get(LAST_SEEN)
        if isinstance(last, (int, float)) and now - last > idle_s:
            logout_user()
            session.clear()
            flash(f"You were signed out after {app.config['KEEL_IDLE_MINUTES']} minutes without activity.")
            return None
        if not isinstance(last, (int, float)) or now - last > TOUCH_EVERY_S:
            session[LAST_SEEN] = now
        return None


def register_security(app: Flask) -> None:
    install_secret_masking()
    register_login_throttle(app)
    register_idle_timeout(app)
