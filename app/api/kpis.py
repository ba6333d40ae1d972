"""KPIs over the API: the current value of every KPI with its definition."""
from __future__ import annotations

from flask import request

from app.api import api, error, roles
from app.api.openapi import documented
from app.domain.roles import ALL_ROLES, Role
from app.services import kpis

KPI_SCHEMA = {
    "type": "object",
    "required": ["code", "name", "formula", "unit", "target", "direction", "owner", "window_days", "value", "standing",
                 "sample", "period"],
    "properties": {
        "code": {"type": "string"}, "name": {"type": "string"}, "formula": {"type": "string"},
        "unit": {"type": "string", "enum": ["percent", "hours", "days", "money"],
                 "description": "percent values are fractions: 0.95 is 95 %"},
        "target": {"type": "string", "description": "exact decimal"},
        "direction": {"type": "string", "enum": ["up", "down"], "description": "up: higher is better"},
        "owner": {"type": "string", "description": "the role that owns the KPI"},
        "window_days": {"type": "integer"},
        "value": {"type": ["string", "null"], "description": "exact decimal; null when nothing was measured"},
        "standing": {"type": "string", "enum": ["ok", "warn", "bad", "none"]},
        "sample": {"type": "integer", "description": "how many records stand behind the value"},
        "period": {"type": "object", "properties": {"start": {"type": "string", "format": "date-time"},
                                                     "end": {"type": "string", "format": "date-time"}}},
        "records": {"type": "string", "description": "what the drill-down lists"},
    },
}
LIST_SCHEMA = {"type": "object", "required": ["items", "page", "pages", "total"],
               "properties": {"items": {"type": "array", "items": KPI_SCHEMA}, "page": {"type": "integer"},
                              "pages": {"type": "integer"}, "total": {"type": "integer"}}}


def reading_json(reading: kpis.Reading) -> dict:
    d = reading.definition
    value = reading.measure.value
    return {"code": d.code, "name": d.name, "formula": d.formula, "unit": d.unit.value, "target": str(d.target),
            "direction": d.direction.value, "owner": d.owner.value, "window_days": d.window_days,
            "value": None if value is None else str(value), "standing": reading.standing,
            "sample": reading.measure.sample, "records": d.records,
            "period": {"start": reading.period.start.isoformat(), "end": reading.period.end.isoformat()}}


@api.get("/kpis")
@roles(*ALL_ROLES)
@documented(query=[{"name": "owner", "in": "query", "required": False,
                    "schema": {"type": "string", "enum": [r.value for r in Role]},
                    "description": "only the KPIs this role owns"}], response=LIST_SCHEMA)
def list_kpis():
    """The current value of every KPI, over its trailing window, with its definition."""
    owner = request.args.get("owner", "")
    if owner and owner not in {r.value for r in Role}:
        return error("invalid", f"Unknown role '{owner[:30]}'.", 400)
    chosen = [k for k in kpis.registry() if not owner or k.definition.owner == owner]
    items = [reading_json(r) for r in kpis.current_readings(chosen)]
    return {"items": items, "page": 1, "pages": 1, "total": len(items)}
