"""Reading and changing the retailer's settings."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session

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
    "approvals.default_rules": [
        {"kind": "purchase_order", "threshold": "5000.00", "approver_role": "finance",
         "description": "Purchase orders over 5,000.00 need finance's approval."},
        {"kind": "inventory_adjustment", "threshold": "500.00", "approver_role": "supervisor",
         "description": "Stock adjustments worth more than 500.00 at cost need a supervisor."},
        {"kind": "refund", "threshold": "250.00", "approver_role": "finance",
         "description": "Refunds over 250.00 need finance."},
        {"kind": "rush_order", "threshold": None, "approver_role": "supervisor",
         "description": "Every rush order needs a supervisor."},
        {"kind": "price_change", "threshold": None, "approver_role": "admin",
         "description": "Every price change needs an admin."},
    ],
    "purchasing.exchange_rates": {"EUR": "0.8600", "USD": "0.7900"},
    "purchasing.over_receipt_tolerance_pct": 10,
    "replenishment.service_level": 0.95,
    "replenishment.horizon_days": 56,
    "replenishment.order_cycle_days": 14,
    "replenishment.lead_time_spread": 0.25,
    "replenishment.min_lead_time_samples": 3,
    "waves.shift_start": "08:00",
    "waves.wave_minutes": 60,
    "waves.minutes_per_order": 1.0,
    "waves.minutes_per_line": 0.5,
    "waves.pack_minutes": 15,
    "waves.max_orders_per_wave": 150,
    "waves.picker_cost_per_hour": 14.0,
    "waves.time_limit_s": 10,
    "picking.batch_max_orders": 8,
    "picking.batch_max_lines": 40,
    "picking.time_limit_s": 2,
    "packing.time_limit_s": 2,
    "shipping.gs1_company_prefix": "5060123",
    "shipping.sscc_extension_digit": 0,
    "shipping.label_retry_minutes": 5,
    "counts.variance_threshold_units": 2,
    "routing.scheduled": True,
    "routing.interval_minutes": 15,
    "routing.auto_apply": False,
    "routing.time_limit_s": 20,
    "routing.replan_allocated": True,
    "routing.split_penalty": 4.0,
    "routing.unfilled_penalty_per_unit": 50.0,
    "routing.late_penalty_per_day": 8.0,
    "routing.max_shipments_per_order": None,
    "routing.rank_penalty": 0.25,
    "returns.default_policy": {"window_days": 30, "restocking_fee_pct": "0", "non_returnable_skus": [],
                               "non_returnable_categories": [],
                               "retailer_pays_reasons": ["defective", "damaged_in_transit", "wrong_item"]},
    "returns.authorisation_days": 30,
    "returns.quality_threshold": 0.4,
    "returns.quality_min_count": 5,
    "returns.label_company": "Returns department",
    "finance.seller_name": "",
    "finance.seller_address": "",
    "finance.seller_vat_number": "",
    "finance.seller_company_number": "",
    "finance.seller_email": "",
    "finance.payment_terms": "Payment due on receipt.",
}


def get_setting(key: str) -> Any:
    """A setting's stored value, else its default; read once per transaction, since hot paths ask often."""
    stored = _stored_settings()
    return stored[key] if key in stored else DEFAULTS.get(key)


def _stored_settings() -> dict[str, Any]:
    cache = db.session.info.get(_CACHE_KEY)
    if cache is None:
        with db.session.no_autoflush:
            cache = dict(db.session.execute(select(Setting.key, Setting.value)).all())
        db.session.info[_CACHE_KEY] = cache
    return cache


_CACHE_KEY = "keel_settings"


def _forget_settings(session, *args) -> None:
    session.info.pop(_CACHE_KEY, None)


event.listen(Session, "after_commit", _forget_settings)
event.listen(Session, "after_rollback", _forget_settings)


@service
def set_setting(key: str, value: Any, *, user_id: int | None = None) -> None:
    """Change one setting."""
    row = db.session.get(Setting, key) or Setting(key=key)
    row.value, row.updated_by_id = value, user_id
    db.session.add(row)
    db.session.info.pop(_CACHE_KEY, None)
    db.session.commit()


def hold_rules() -> HoldRules:
    return HoldRules(
        require_payment_captured=bool(get_setting("holds.require_payment_captured")),
        max_order_value=Decimal(str(get_setting("holds.max_order_value"))),
        hold_country_mismatch=bool(get_setting("holds.hold_country_mismatch")),
        velocity_max_orders=int(get_setting("holds.velocity_max_orders")),
        velocity_hours=int(get_setting("holds.velocity_hours")),
    )
