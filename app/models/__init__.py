"""Keel's tables, by area. Importing this package registers every model."""
from app.models.catalog import Channel, Location, Sku, Supplier, Warehouse, channel_warehouses
from app.models.events import Event
from app.models.inventory import StockBalance, StockMove
from app.models.people import ApiToken, User

__all__ = [
    "ApiToken", "Channel", "Event", "Location", "Sku", "StockBalance", "StockMove", "Supplier",
    "User", "Warehouse", "channel_warehouses",
]
