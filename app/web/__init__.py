"""The browser portal: one module per area, each holding one blueprint `bp` guarded by the roles that use it."""
from __future__ import annotations

import importlib
import pkgutil


def blueprints():
    """Every area's blueprint: each module in app/web that defines `bp`."""
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "bp"):
            yield module.bp
