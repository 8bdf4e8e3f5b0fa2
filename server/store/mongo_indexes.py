"""Collections and indexes of the MongoDB backend, created (idempotently) at start-up.

Unique indexes wherever a duplicate would be a bug; a TTL index purges expired nonces; the rest
serve the listing queries (by user, by status, newest first). Indexes are declared ascending and
unnamed: MongoDB walks them in either direction, and nx-27017 ignores directions and names anyway."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from server.store import mongo_keys

_LISTING = [
    IndexModel([("user_id", ASCENDING), ("created_at_ms", ASCENDING), ("session_id", ASCENDING)]),
    IndexModel([("status", ASCENDING), ("created_at_ms", ASCENDING), ("session_id", ASCENDING)]),
    IndexModel([("created_at_ms", ASCENDING), ("session_id", ASCENDING)]),
]

INDEXES: dict[str, list[IndexModel]] = {
    "sessions": _LISTING,  # _id is the session_id
    "orders": [IndexModel([("session_id", ASCENDING), ("status", ASCENDING)])],  # _id is client_order_id
    "fills": [
        IndexModel([("order_id", ASCENDING), ("trade_id", ASCENDING)], unique=True),
        IndexModel([("user_id", ASCENDING), ("seq", ASCENDING)], unique=True),  # seq is per user
        IndexModel([("session_id", ASCENDING), ("seq", ASCENDING)]),
    ],
    "summaries": [
        IndexModel([("session_id", ASCENDING), ("created_at_ms", ASCENDING)], unique=True),
        *_LISTING,
    ],
    "equity_points": [
        IndexModel([("session_id", ASCENDING), ("run_id", ASCENDING), ("point_id", ASCENDING)], unique=True),
        IndexModel(
            [
                ("session_id", ASCENDING),
                ("run_id", ASCENDING),
                ("timestamp_ms", ASCENDING),
                ("point_id", ASCENDING),
            ]
        ),
    ],
    "nonces": [
        IndexModel([("user_id", ASCENDING), ("nonce", ASCENDING)], unique=True),
        IndexModel([("expire_at", ASCENDING)], expireAfterSeconds=0),
    ],
    # One document per (key, fixed window), purged once its window is over.
    "rate_limits": [IndexModel([("expire_at", ASCENDING)], expireAfterSeconds=0)],
    # leases are keyed by _id (the session_id) only; counters by _id ("fills:<user_id>"); accounts
    # by _id (the user_id).
}


async def create_indexes(db: AsyncDatabase[dict[str, Any]]) -> None:
    for collection, indexes in {**INDEXES, **mongo_keys.INDEXES}.items():
        await db[collection].create_indexes(indexes)
