"""Routing runs over the API: start one over the waiting orders, read its progress and decisions."""
from __future__ import annotations

from flask import current_app, g, request

from app.api import api, roles
from app.api.openapi import documented
from app.domain.errors import ValidationError
from app.domain.roles import Role
from app.services import routing

RUN_BODY = {"type": "object", "additionalProperties": False, "properties": {
    "channel": {"type": "string", "maxLength": 30}, "warehouse": {"type": "string", "maxLength": 20},
    "min_priority": {"type": "integer", "minimum": 0, "maximum": 1000},
    "replan_allocated": {"type": "boolean"}, "auto_apply": {"type": "boolean"},
    "time_limit_s": {"type": "integer", "minimum": 1, "maximum": routing.MAX_TIME_LIMIT_S}}}
RUN_SCHEMA = {"type": "object", "required": ["id", "status", "progress"], "properties": {
    "id": {"type": "integer"}, "status": {"type": "string"}, "progress": {"type": "number"},
    "objective": {"type": ["number", "null"]}, "bound": {"type": ["number", "null"]},
    "baseline_cost": {"type": ["number", "null"]}, "decisions": {"type": "array"}}}


@api.post("/routing/runs")
@roles(Role.SUPERVISOR, Role.ADMIN)
@documented(body=RUN_BODY, response=RUN_SCHEMA)
def start_routing_run():
    """Start a routing run over the orders waiting for allocation; returns its id at once."""
    body = request.get_json(silent=True)
    body = {} if body is None and not request.data else body
    if not isinstance(body, dict):
        raise ValidationError("The body must be a JSON object.", field="body")
    _check_types(body)
    run = routing.create_run(scope={k: body.get(k) for k in ("channel", "warehouse", "min_priority", "replan_allocated")},
                             time_limit_s=body.get("time_limit_s"), user_id=g.api_user.id, trigger="api",
                             auto_apply=body.get("auto_apply"))
    routing.start_run_in_background(current_app._get_current_object(), run.id)
    return routing.run_json(run, with_decisions=False), 201


def _check_types(body: dict) -> None:
    expected = {"channel": str, "warehouse": str, "min_priority": int, "replan_allocated": bool, "auto_apply": bool,
                "time_limit_s": int}
    for key, value in body.items():
        kind = expected.get(key)
        if kind is None:
            raise ValidationError(f"Unknown field '{key}'.", field=key)
        if value is not None and (not isinstance(value, kind) or (kind is int and isinstance(value, bool))):
            raise ValidationError(f"'{key}' must be a {kind.__name__}.", field=key)


@api.get("/routing/runs/<int:run_id>")
@roles(Role.SUPERVISOR, Role.ADMIN, Role.RETAIL)
@documented(response=RUN_SCHEMA)
def get_routing_run(run_id: int):
    """A routing run: status, progress, objective, bound, baseline cost, and every order's decision."""
    return routing.run_json(routing.get_run(run_id))
