"""Keel's tables, by area. Importing this package registers every model module in it."""
import importlib
import pkgutil

from app.models.catalog import Channel, Location, Sku, Supplier, Warehouse, channel_warehouses
from app.models.events import Event
from app.models.inventory import StockBalance, StockMove
from app.models.people import ApiToken, User

for _info in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_info.name}")

__all__ = [
    "ApiToken", "Channel", "Event", "Location", "Sku", "StockBalance", "StockMove", "Supplier",
    "User", "Warehouse", "channel_warehouses",
]
