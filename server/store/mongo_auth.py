"""The MongoDB side of accounts and rate limits, used by MongoStore (which adds the error guard).

Both are single-document atomic operations. nx-27017 ignores $setOnInsert in find_one_and_update
upserts (update_one honours it), which decides the shape of each below."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from server.store.auth_records import AccountRecord, RateDecision, rate_decision, rate_window_start
from server.store.errors import StoreError

Doc = dict[str, Any]
# A DuplicateKeyError means two first writers raced to insert; the second attempt updates.
ATTEMPTS = 2


async def upsert_account(accounts: AsyncCollection[Doc], record: AccountRecord) -> AccountRecord:
    fields = {
        "user_id": record.user_id,
        "account_id": record.account_id,
        "orderly_key": record.orderly_key,
        "encrypted_secret": record.encrypted_secret,
        "updated_at_ms": record.updated_at_ms,
    }
    update = {"$set": fields, "$setOnInsert": {"created_at_ms": record.created_at_ms}}
    # update_one (it honours $setOnInsert on nx-27017), then a read: the account as stored, which
    # is a later writer's if one raced this one (each write replaces the fields whole).
    for _ in range(ATTEMPTS):
        try:
            await accounts.update_one({"_id": record.user_id}, update, upsert=True)
        except DuplicateKeyError:
            continue
        doc = await accounts.find_one({"_id": record.user_id})
        if doc is not None:
            return account_from_doc(doc)
    raise StoreError(f"account of {record.user_id!r}: upsert kept racing with other writers")


async def get_account(accounts: AsyncCollection[Doc], user_id: str) -> AccountRecord | None:
    doc = await accounts.find_one({"_id": user_id})
    return None if doc is None else account_from_doc(doc)


async def hit_rate_limit(
    rate_limits: AsyncCollection[Doc], key: str, limit: int, window_ms: int, now_ms: int
) -> RateDecision:
    window_start_ms = rate_window_start(key, limit, window_ms, now_ms)
    expire_at = datetime.fromtimestamp((window_start_ms + window_ms) / 1000, UTC)
    # One document per (key, window): the $inc and the read of the count are one atomic update.
    # The other fields never change, so $set (not the ignored $setOnInsert) writes them; expire_at
    # feeds the TTL index that purges past windows (the logic never depends on that purge).
    update = {
        "$inc": {"count": 1},
        "$set": {"key": key, "window_start_ms": window_start_ms, "expire_at": expire_at},
    }
    for _ in range(ATTEMPTS):
        try:
            doc = await rate_limits.find_one_and_update(
                {"_id": f"{key}@{window_start_ms}"}, update, upsert=True, return_document=ReturnDocument.AFTER
            )
        except DuplicateKeyError:
            continue
        if doc is not None:
            return rate_decision(int(doc["count"]), limit, window_start_ms, window_ms, now_ms)
    raise StoreError(f"rate limit {key!r}: could not count the hit")


def account_from_doc(doc: Doc) -> AccountRecord:
    return AccountRecord(
        user_id=doc["user_id"],
        account_id=doc["account_id"],
        orderly_key=doc["orderly_key"],
        encrypted_secret=doc["encrypted_secret"],
        created_at_ms=int(doc["created_at_ms"]),
        updated_at_ms=int(doc["updated_at_ms"]),
    )
