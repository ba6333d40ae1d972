"""The OpenAPI document, built from the API's own routes so it cannot drift from them."""
from __future__ import annotations

import re

from flask import current_app
from werkzeug.routing import IntegerConverter

from app.api import api

REQUEST_SCHEMAS: dict[str, dict] = {}   # endpoint -> JSON Schema of its body
QUERY_PARAMS: dict[str, list[dict]] = {}  # endpoint -> OpenAPI parameter objects
RESPONSE_SCHEMAS: dict[str, dict] = {}  # endpoint -> JSON Schema of its success body

ERROR_SCHEMA = {"type": "object", "required": ["error", "message"],
                "properties": {"error": {"type": "string"}, "message": {"type": "string"}, "fields": {"type": "object"}}}


def documented(*, body: dict | None = None, query: list[dict] | None = None, response: dict | None = None):
    """Attach the request body schema, query parameters and response schema to an API endpoint."""
    def decorate(fn):
        endpoint = f"api.{fn.__name__}"
        if body is not None:
            REQUEST_SCHEMAS[endpoint] = body
        if query is not None:
            QUERY_PARAMS[endpoint] = query
        if response is not None:
            RESPONSE_SCHEMAS[endpoint] = response
        return fn
    return decorate


def _operation(rule, method: str) -> dict:
    view = current_app.view_functions[rule.endpoint]
    doc = (view.__doc__ or rule.endpoint).strip().splitlines()[0]
    operation = {"operationId": rule.endpoint.replace(".", "_") + "_" + method.lower(), "summary": doc,
                 "parameters": [{"name": arg, "in": "path", "required": True,
                                 "schema": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1} if isinstance(rule._converters[arg], IntegerConverter) else {"type": "string"}}
                                for arg in rule.arguments] + QUERY_PARAMS.get(rule.endpoint, []),
                 "responses": _responses(rule.endpoint, method)}
    if rule.endpoint != "api.openapi":
        operation["security"] = [{"bearer": []}]
    if rule.endpoint in REQUEST_SCHEMAS:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": REQUEST_SCHEMAS[rule.endpoint]}}}
    return operation


def _responses(endpoint: str, method: str) -> dict:
    ok = {"description": "Success", "content": {"application/json": {"schema": RESPONSE_SCHEMAS.get(endpoint, {"type": "object"})}}}
    error = {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    codes = {"200": ok, "400": error, "401": error, "403": error, "404": error, "422": error}
    if method == "POST":
        codes["201"] = ok
        codes["409"] = error
    return codes


def build_spec() -> dict:
    paths: dict[str, dict] = {}
    for rule in current_app.url_map.iter_rules():
        if not rule.endpoint.startswith("api."):
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            paths.setdefault(path, {})[method.lower()] = _operation(rule, method)
    return {"openapi": "3.0.3",
            "info": {"title": "Keel API", "version": "1.0.0",
                     "description": "Orders, stock, routing, purchasing, returns and finance for Keel."},
            "servers": [{"url": "/"}], "paths": dict(sorted(paths.items())),
            "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
                           "schemas": {"Error": ERROR_SCHEMA}}}


@api.get("/openapi.json")
def openapi():
    """This document."""
    return build_spec()
