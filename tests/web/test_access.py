"""Every route refuses the anonymous user and every role it is not for."""
from __future__ import annotations

import re

import pytest

from app.domain.roles import Role

OPEN_ENDPOINTS = {"static", "auth.login", "auth.logout", "api.openapi"}


def _url_for_rule(rule) -> str:
    return re.sub(r"<(?:[^:>]+:)?[^>]+>", "1", rule.rule)


def guarded_rules(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint in OPEN_ENDPOINTS or rule.endpoint.startswith("webhooks."):
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method


def allowed_roles(app, rule) -> frozenset:
    if rule.endpoint.startswith("api."):
        return getattr(app.view_functions[rule.endpoint], "api_roles")
    return app.blueprints[rule.endpoint.split(".")[0]].roles


def test_every_route_declares_the_roles_it_is_for(app):
    for rule, _method in guarded_rules(app):
        assert allowed_roles(app, rule), f"{rule.endpoint} names no roles"


def test_the_anonymous_user_is_refused_everywhere(app, client):
    for rule, method in guarded_rules(app):
        response = client.open(_url_for_rule(rule), method=method)
        if rule.endpoint.startswith("api."):
            assert response.status_code == 401, (rule.rule, method)
        else:
            assert response.status_code == 302 and "/login" in response.headers["Location"], (rule.rule, method)


@pytest.mark.parametrize("role", [r.value for r in Role])
def test_every_wrong_role_is_refused_everywhere(app, client, login_as, role):
    from app.services.people import create_token
    user = login_as(role)
    token = create_token(user.username)
    for rule, method in guarded_rules(app):
        if role in allowed_roles(app, rule):
            continue
        headers = {"Authorization": f"Bearer {token}"} if rule.endpoint.startswith("api.") else {}
        response = client.open(_url_for_rule(rule), method=method, headers=headers)
        assert response.status_code == 403, (role, rule.rule, method, response.status_code)
