"""The browser portal: one blueprint per area, each guarded by the roles that use it."""

import importlib

# Each module holds one blueprint named `bp`; later areas add themselves here.
AREAS = ["auth", "dashboard", "catalog", "stock"]


def blueprints():
    for area in AREAS:
        yield importlib.import_module(f"app.web.{area}").bp
