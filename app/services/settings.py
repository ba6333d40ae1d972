"""Reading and changing the retailer's settings."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from app.domain.holds import HoldRules
from app.extensions import db
from app.models.settings import Setting
from app.services._uow import service

DEFAULTS: dict[str, Any] = {
    "holds.require_payment_captured": True,
    "holds.max_order_value": "1500.00",
    "holds.hold_country_mismatch": True,
    "holds.velocity_max_orders": 3,
    "holds.velocity_hours": 24,
    "orders.allocate_on_capture": True,
}


def get_setting(key: str) -> Any:
    row = db.session.get(Setting, key)
    return row.value if row is not None else DEFAULTS.get(key)


@service
def set_setting(key: str, value: Any, *, user_id: int | None = None) -> None:
    """Change one setting."""
    row = db.session.get(Setting, key) or Setting(key=key)
    row.value, row.updated_by_id = value, user_id
    db.session.add(row)
    db.session.commit()


def hold_rules() -> HoldRules:
    return HoldRules(
        require_payment_captured=bool(get_setting("holds.require_payment_captured")),
        max_order_value=Decimal(str(get_setting("holds.max_order_value"))),
        hold_country_mismatch=bool(get_setting("holds.hold_country_mismatch")),
        velocity_max_orders=int(get_setting("holds.velocity_max_orders")),
        velocity_hours=int(get_setting("holds.velocity_hours")),
    )
