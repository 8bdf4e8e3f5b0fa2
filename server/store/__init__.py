"""Persistence: one `Store` protocol, an embedded SQLite backend (default) and a MongoDB backend.

store = await open_store(os.environ.get("MONGODB_URI"), data_dir)
"""

from engine.types import Side
from server.store.auth_records import AccountRecord, RateDecision
from server.store.equity import EquityPointKind, EquityPointRecord
from server.store.errors import (
    DuplicateSession,
    InvalidRecord,
    SessionNotFound,
    StoreError,
    StoreUnavailable,
    VersionConflict,
)
from server.store.factory import open_store
from server.store.mongo import MongoStore
from server.store.protocol import DEFAULT_PAGE_SIZE, Store
from server.store.records import (
    FillRecord,
    HealthStatus,
    Lease,
    OrderRecord,
    OrderStatus,
    Page,
    RoundTripRecord,
    SessionRecord,
    SessionStatus,
    SummaryRecord,
)
from server.store.sqlite import SqliteStore

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "AccountRecord",
    "DuplicateSession",
    "EquityPointKind",
    "EquityPointRecord",
    "FillRecord",
    "HealthStatus",
    "InvalidRecord",
    "Lease",
    "MongoStore",
    "OrderRecord",
    "OrderStatus",
    "Page",
    "RateDecision",
    "RoundTripRecord",
    "SessionNotFound",
    "SessionRecord",
    "SessionStatus",
    "Side",
    "SqliteStore",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "SummaryRecord",
    "VersionConflict",
    "open_store",
]
