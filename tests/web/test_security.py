"""Security: headers and no inline scripts, sign-in throttled per account and per address, idle sessions end,
password policy, token scopes and revocation, no stack traces shown, no secrets in the logs."""
from __future__ import annotations

import logging
import re
import time
from pathlib import Path

import pytest

from app.security import LAST_SEEN, mask_secrets
from app.services import security
from app.services.people import create_token

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def sign_in(client, username: str, password: str, ip: str = "10.0.0.1"):
    return client.post("/login", data={"username": username, "password": password},
                       environ_base={"REMOTE_ADDR": ip})


def test_pages_carry_the_security_headers(client, login_as):
    login_as("admin")
    headers = client.get("/admin/users").headers
    csp = headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert "frame-ancestors 'none'" in csp
    assert headers["X-Frame-Options"] == "DENY" and headers["X-Content-Type-Options"] == "nosniff"


def test_no_template_has_an_inline_script_or_event_handler():
    problems = []
    for path in TEMPLATES.rglob("*.html"):
        source = path.read_text()
        for match in re.finditer(r"<script\b[^>]*>", source, re.I):
            if "src=" not in match.group(0):
                problems.append(f"{path.name}: inline <script>")
        if re.search(r"\son[a-z]+\s*=\s*[\"']", source, re.I):
            problems.append(f"{path.name}: inline event handler")
        if re.search(r"\bhx-on[:-]", source) or "javascript:" in source:
            problems.append(f"{path.name}: script in an attribute")
    assert problems == []


def test_five_wrong_passwords_lock_the_account_for_a_while(client, make_user):
    make_user("retail", "priya")
    for _ in range(5):
        assert sign_in(client, "priya", "wrong-password-1").status_code == 401
    assert sign_in(client, "priya", "correct-horse-9").status_code == 401  # locked, even with the right one


def test_too_many_failures_from_one_address_are_refused_whatever_the_account(client, make_user, db):
    make_user("retail", "priya")
    for n in range(security.IP_MAX_FAILURES):
        assert sign_in(client, f"guess-{n}", "whatever-123", ip="203.0.113.9").status_code == 401
    refused = sign_in(client, "priya", "correct-horse-9", ip="203.0.113.9")
    assert refused.status_code == 429 and b"Too many failed sign-ins" in refused.data
    assert sign_in(client, "priya", "correct-horse-9", ip="198.51.100.7").status_code == 302


def test_an_idle_session_is_signed_out(app, client, login_as):
    login_as("admin")
    assert client.get("/admin/users").status_code == 200
    with client.session_transaction() as session:
        session[LAST_SEEN] = time.time() - app.config["KEEL_IDLE_MINUTES"] * 60 - 5
    response = client.get("/admin/users")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "signed out after" in page
    assert client.get("/admin/users").status_code == 302


def test_an_active_session_stays_signed_in(client, login_as):
    login_as("admin")
    with client.session_transaction() as session:
        session[LAST_SEEN] = time.time() - 120
    assert client.get("/admin/users").status_code == 200


def test_new_users_and_new_passwords_must_meet_the_policy(client, login_as):
    admin = login_as("admin")
    weak = {"username": "sam", "role": "returns", "password": "password", "confirm": "password"}
    response = client.post("/admin/users/new", data=weak)
    assert response.status_code == 422 and b"at least 10 characters" in response.data
    assert client.post("/admin/users/new", data={**weak, "password": "sam-is-great-1", "confirm": "sam-is-great-1"}
                       ).status_code == 422  # contains the username
    ok = {**weak, "password": "tidal-Basin-42", "confirm": "tidal-Basin-42"}
    assert client.post("/admin/users/new", data=ok).status_code == 302
    response = client.post(f"/admin/users/{admin.id}/password", data={"password": "short1", "confirm": "short1"})
    assert response.status_code == 422 and b"at least 10 characters" in response.data


def test_a_read_only_token_cannot_write_and_a_revoked_token_stops_at_once(client, login_as, world):
    admin = login_as("admin")
    response = client.post(f"/admin/users/{admin.id}/tokens", data={"label": "Feed reader", "scopes": ["read"]})
    assert response.status_code == 201
    token = re.search(r'id="new-token">([^<]+)<', response.get_data(as_text=True)).group(1)
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/events", headers=headers).status_code == 200
    assert client.post("/api/v1/orders", json={}, headers=headers).status_code == 403
    from app.models import ApiToken
    from app.extensions import db
    token_id = db.session.query(ApiToken).one().id
    assert client.post(f"/admin/tokens/{token_id}/revoke").status_code == 302
    assert client.get("/api/v1/events", headers=headers).status_code == 401
    listing = client.get("/admin/tokens?state=revoked").get_data(as_text=True)
    assert "Feed reader" in listing and token not in listing


def test_a_crash_shows_no_stack_trace_to_people_or_programs(tmp_path):
    from app import create_app
    from config import TestConfig

    class Config(TestConfig):
        SQLALCHEMY_DATABASE_URI = f"sqlite:///{tmp_path / 'crash.sqlite'}"

    app = create_app(Config)
    app.config["PROPAGATE_EXCEPTIONS"] = False

    def explode():
        raise RuntimeError("secret internals at /srv/keel/app.py line 42")

    app.add_url_rule("/explode", "explode", explode)
    app.add_url_rule("/api/explode", "api_explode", explode)
    client = app.test_client()
    page = client.get("/explode")
    assert page.status_code == 500 and b"Something went wrong" in page.data
    assert b"Traceback" not in page.data and b"secret internals" not in page.data
    api = client.get("/api/explode")
    assert api.status_code == 500 and api.json == {"error": "server_error", "message": "Something went wrong on our side."}


def test_secrets_are_masked_in_every_log_line(caplog):
    log = logging.getLogger("keel.test")
    secrets = ["keel_Abc123def456ghi789jkl", "whsec_Zyx987wvu654tsr321", "hunter2-but-longer",
               "scrypt:32768:8:1$salt$0123abcd", "shpss_topsecretvalue"]
    with caplog.at_level(logging.INFO, logger="keel.test"):
        log.info("Authorization: Bearer %s", secrets[0])
        log.info("subscription secret is %s", secrets[1])
        log.warning("login failed: password=%s", secrets[2])
        log.info("user row %s", {"password_hash": secrets[3]})
        log.info("channel webhook_secret=%s saved", secrets[4])
        try:
            raise ValueError(f"token={secrets[0]}")
        except ValueError:
            log.exception("failed")
    text = caplog.text + "".join(r.exc_text or "" for r in caplog.records)
    for secret in secrets:
        assert secret not in text, secret
    assert "[masked]" in text and "login failed" in text


def test_masking_leaves_ordinary_text_alone():
    line = "routing run 12: 40 orders, cost 310.50, saved 12%"
    assert mask_secrets(line) == line


def test_sql_errors_never_show_the_values_they_were_given(db, make_user):
    from sqlalchemy.exc import IntegrityError

    from app.extensions import db as database
    from app.models import User
    database.session.add(User(username="dup", role="admin", password_hash="scrypt:topsecret-hash-value"))
    database.session.add(User(username="dup", role="admin", password_hash="scrypt:another-secret-hash"))
    with pytest.raises(IntegrityError) as caught:
        database.session.commit()
    database.session.rollback()
    assert "topsecret" not in str(caught.value) and "another-secret" not in str(caught.value)


def test_ids_past_the_key_range_and_nul_characters_are_refused_cleanly(client, login_as, make_user):
    login_as("admin")
    assert client.get("/admin/users/99999999999").status_code == 404
    assert client.get("/admin/users?q=a%00b").status_code == 400
    make_user("retail", "priya")
    headers = {"Authorization": f"Bearer {create_token('priya')}"}
    response = client.post("/api/v1/orders", data='{"channel": "WEB\\u0000"}', headers=headers,
                           content_type="application/json")
    assert response.status_code == 400 and response.json["error"] == "invalid"
    spec = client.get("/api/v1/openapi.json").json
    ids = [p["schema"] for path in spec["paths"].values() for op in path.values() for p in op["parameters"]
           if p["in"] == "path" and p["schema"]["type"] == "integer"]
    assert ids and all(s["maximum"] == 2**31 - 1 for s in ids)
