"""The MongoDB side of session keys and session-key nonce batches, used by MongoStore (which adds
the error guard). Every write is one single-document or one multi-document update without
transactions: a key is one document (_id = key_id); a nonce batch is one document (_id = batch_id)
purged by a TTL index once all its nonces have expired."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from server.store.key_records import NonceBatch, SessionKeyRecord, nonces_from_json, nonces_to_json

Doc = dict[str, Any]

INDEXES: dict[str, list[IndexModel]] = {
    "session_keys": [IndexModel([("user_id", ASCENDING)])],
    "session_nonce_batches": [
        IndexModel([("written_at_ms", ASCENDING)]),
        IndexModel([("expire_at", ASCENDING)], expireAfterSeconds=0),
    ],
}


async def create_key(keys: AsyncCollection[Doc], record: SessionKeyRecord) -> bool:
    doc = {
        "_id": record.key_id,
        "user_id": record.user_id,
        "public_key": record.public_key,
        "scopes": list(record.scopes),
        "created_at_ms": record.created_at_ms,
        "expires_at_ms": record.expires_at_ms,
        "revoked_at_ms": record.revoked_at_ms,
    }
    try:
        await keys.insert_one(doc)
    except DuplicateKeyError:
        return False
    return True


async def get_key(keys: AsyncCollection[Doc], key_id: str) -> SessionKeyRecord | None:
    doc = await keys.find_one({"_id": key_id})
    if doc is None:
        return None
    return SessionKeyRecord(
        key_id=doc["_id"],
        user_id=doc["user_id"],
        public_key=doc["public_key"],
        scopes=tuple(doc["scopes"]),
        created_at_ms=int(doc["created_at_ms"]),
        expires_at_ms=int(doc["expires_at_ms"]),
        revoked_at_ms=int(doc["revoked_at_ms"]),
    )


async def revoke_keys(keys: AsyncCollection[Doc], user_id: str, key_id: str | None, now_ms: int) -> int:
    # Only keys that still work count: revoking twice, or an expired key, changes nothing.
    query: Doc = {"user_id": user_id, "revoked_at_ms": 0, "expires_at_ms": {"$gt": now_ms}}
    if key_id is not None:
        query["_id"] = key_id
    result = await keys.update_many(query, {"$set": {"revoked_at_ms": now_ms}})
    return int(result.modified_count)


async def append_batch(batches: AsyncCollection[Doc], batch: NonceBatch) -> None:
    doc = {
        "_id": batch.batch_id,
        "instance": batch.instance,
        "written_at_ms": batch.written_at_ms,
        "expires_at_ms": batch.expires_at_ms,
        "expire_at": datetime.fromtimestamp(batch.expires_at_ms / 1000, UTC),
        "nonces": nonces_to_json(batch.nonces),
    }
    with contextlib.suppress(DuplicateKeyError):  # a retried write of the same batch
        await batches.insert_one(doc)


async def list_batches(
    batches: AsyncCollection[Doc], written_since_ms: int, now_ms: int, exclude_instance: str
) -> list[NonceBatch]:
    query = {
        "written_at_ms": {"$gte": written_since_ms},
        "expires_at_ms": {"$gt": now_ms},
        "instance": {"$ne": exclude_instance},
    }
    found = []
    async for doc in batches.find(query).sort([("written_at_ms", ASCENDING), ("_id", ASCENDING)]):
        found.append(
            NonceBatch(
                batch_id=doc["_id"],
                instance=doc["instance"],
                written_at_ms=int(doc["written_at_ms"]),
                nonces=nonces_from_json(doc["nonces"]),
            )
        )
    return found
