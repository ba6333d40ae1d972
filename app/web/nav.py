"""The navigation each role sees: its own screens, in the order it works through them."""
from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from flask_login import current_user


@dataclass(frozen=True)
class NavItem:
    label: str
    endpoint: str
    section: str


NAV: list[NavItem] = [
    NavItem("Dashboard", "dashboard.home", "Overview"),
    NavItem("Approvals", "approvals.inbox", "Overview"),
    NavItem("Exception queues", "kpis.exception_overview", "Overview"),
    NavItem("Today on the floor", "operations.board", "Overview"),
    NavItem("KPIs", "kpis.index", "Overview"),
    NavItem("Order inbox", "retail.inbox", "Orders"),
    NavItem("Holds", "retail.holds", "Orders"),
    NavItem("Exceptions", "retail.exceptions", "Orders"),
    NavItem("Available to sell", "retail.availability", "Orders"),
    NavItem("New order", "retail.new_order", "Orders"),
    NavItem("Import CSV", "retail.import_csv", "Orders"),
    NavItem("Routing", "routing.runs", "Fulfilment"),
    NavItem("Waves", "waves.plan", "Fulfilment"),
    NavItem("Count review", "waves.counts", "Fulfilment"),
    NavItem("Pick", "floor.pick_home", "Floor"),
    NavItem("Pack", "floor.pack_home", "Floor"),
    NavItem("Cycle counts", "floor.counts", "Floor"),
    NavItem("Replenishment", "procurement.replenishment", "Purchasing"),
    NavItem("Purchase orders", "procurement.purchase_orders", "Purchasing"),
    NavItem("Suppliers", "procurement.suppliers", "Purchasing"),
    NavItem("Promotions", "procurement.scenarios", "Purchasing"),
    NavItem("Returns", "returns.rmas", "Returns"),
    NavItem("Receive returns", "returns.receive", "Returns"),
    NavItem("Inspect", "returns.inspect_queue", "Returns"),
    NavItem("Refunds", "returns.refunds", "Returns"),
    NavItem("Refurbish", "returns.refurbish", "Returns"),
    NavItem("Vendor claims", "vendor_claims.claims", "Returns"),
    NavItem("Return analytics", "returns.analytics", "Returns"),
    NavItem("Return policies", "returns.policies", "Returns"),
    NavItem("Journal", "finance.journal", "Finance"),
    NavItem("Margins", "finance.margins", "Finance"),
    NavItem("P&L", "finance.pnl", "Finance"),
    NavItem("Order to cash", "finance.order_to_cash", "Finance"),
    NavItem("Invoices", "finance.invoices", "Finance"),
    NavItem("Payments", "finance.payments", "Finance"),
    NavItem("Credit notes", "finance.credit_notes", "Finance"),
    NavItem("Supplier invoices", "finance.supplier_invoices", "Finance"),
    NavItem("Valuation", "finance.valuation", "Finance"),
    NavItem("Trial balance", "finance.trial_balance", "Finance"),
    NavItem("Period close", "finance.periods", "Finance"),
    NavItem("SKUs", "catalog.skus", "Stock"),
    NavItem("Warehouses", "catalog.warehouses", "Stock"),
    NavItem("Adjust stock", "stock.adjust", "Stock"),
    NavItem("Users", "admin.users", "Admin"),
    NavItem("Master data", "admin.master_data", "Admin"),
    NavItem("Settings", "admin.settings", "Admin"),
    NavItem("Audit log", "admin.audit_log", "Admin"),
    NavItem("Webhooks", "admin.webhooks", "Admin"),
    NavItem("Scheduled jobs", "admin.jobs", "Admin"),
]


def nav_for_current_user() -> list[tuple[str, list[NavItem]]]:
    """The nav items whose screens exist and that the signed-in role may open, grouped by section."""
    if not current_user.is_authenticated:
        return []
    sections: dict[str, list[NavItem]] = {}
    for item in NAV:
        if item.endpoint not in current_app.view_functions:
            continue
        blueprint = current_app.blueprints.get(item.endpoint.split(".")[0])
        if current_user.role in getattr(blueprint, "roles", ()):
            sections.setdefault(item.section, []).append(item)
    return list(sections.items())
