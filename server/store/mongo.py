"""MongoDB backend through PyMongo's async API (AsyncMongoClient).

Atomicity comes from single-document operations only (conditional find_one_and_update, inserts
guarded by unique indexes), never from multi-document transactions: they need a replica set, and the
wire-compatible stand-in used in tests (nx-27017) can roll back another client's write on abort.
Decimals are stored as decimal strings (no Decimal128), config/engine_state as JSON text (an opaque
snapshot: identical round trip on both backends, no restrictions on key names).
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, AsyncMongoClient, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ConnectionFailure, DuplicateKeyError, PyMongoError

from server.store import args as check
from server.store import mongo_auth, mongo_keys
from server.store.auth_records import AccountRecord, RateDecision
from server.store.codec import (
    cut_page,
    decode_page_token,
    fill_from_row,
    fill_to_row,
    order_from_row,
    order_to_row,
    session_from_row,
    session_to_row,
    summary_from_row,
    summary_to_row,
)
from server.store.equity import EquityPointRecord, check_point_window, point_from_row, point_to_row
from server.store.errors import (
    DuplicateSession,
    SessionNotFound,
    StoreError,
    StoreUnavailable,
    VersionConflict,
)
from server.store.guard import store_errors
from server.store.key_records import NonceBatch, SessionKeyRecord
from server.store.mongo_indexes import create_indexes
from server.store.protocol import DEFAULT_PAGE_SIZE
from server.store.records import (
    FillRecord,
    HealthStatus,
    Lease,
    OrderRecord,
    Page,
    SessionRecord,
    SessionStatus,
    SummaryRecord,
)

Doc = dict[str, Any]
# ConnectionFailure covers server selection timeouts, network errors and AutoReconnect.
_guard = store_errors(backend="mongo", unavailable=(ConnectionFailure,), other=(PyMongoError,))
DEFAULT_DATABASE = "orderly_grid"
FINISHED = [SessionStatus.STOPPED.value, SessionStatus.FAILED.value]
# Retries of "insert, and on a duplicate take over conditionally": the second pass covers a document
# deleted (TTL, release) between the two steps.
ATTEMPTS = 2
HEALTH_TIMEOUT_S = 2.0


class MongoStore:
    backend = "mongo"

    def __init__(self, client: AsyncMongoClient[Doc], database: AsyncDatabase[Doc]) -> None:
        self._client = client
        self._db = database
        self._sessions: AsyncCollection[Doc] = database["sessions"]
        self._orders: AsyncCollection[Doc] = database["orders"]
        self._fills: AsyncCollection[Doc] = database["fills"]
        # One document per counter; a user's fill seq lives at _id "fills:<user_id>".
        self._counters: AsyncCollection[Doc] = database["counters"]
        # Per-user append locks (dropped once no append holds them): see append_fill.
        self._append_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._summaries: AsyncCollection[Doc] = database["summaries"]
        self._equity: AsyncCollection[Doc] = database["equity_points"]
        self._nonces: AsyncCollection[Doc] = database["nonces"]
        self._leases: AsyncCollection[Doc] = database["leases"]
        self._accounts: AsyncCollection[Doc] = database["accounts"]
        self._rate_limits: AsyncCollection[Doc] = database["rate_limits"]
        # session keys and their nonce batches (server.store.mongo_keys)
        self._session_keys: AsyncCollection[Doc] = database["session_keys"]
        self._nonce_batches: AsyncCollection[Doc] = database["session_nonce_batches"]

    @classmethod
    async def open(
        cls, uri: str, *, database: str | None = None, server_selection_timeout_ms: int = 5000
    ) -> MongoStore:
        """Connects and creates the indexes; StoreUnavailable (without the URI, which may hold a
        password) if the server cannot be reached within the selection timeout."""
        try:
            client: AsyncMongoClient[Doc] = AsyncMongoClient(
                uri, serverSelectionTimeoutMS=server_selection_timeout_ms, tz_aware=True
            )
        except PyMongoError as exc:
            raise StoreUnavailable(
                f"cannot open MongoDB store: invalid MONGODB_URI ({type(exc).__name__})"
            ) from None
        try:
            db = client[database] if database else client.get_default_database(default=DEFAULT_DATABASE)
            await create_indexes(db)
        except PyMongoError as exc:
            await client.close()
            raise StoreUnavailable(f"cannot open MongoDB store: {type(exc).__name__}: {exc}") from exc
        return cls(client, db)

    # sessions -------------------------------------------------------------------------------------
    @_guard
    async def create_session(self, record: SessionRecord) -> SessionRecord:
        row = session_to_row(record)
        row["version"] = 1
        doc = {"_id": record.session_id, **row}
        for _ in range(ATTEMPTS):
            try:
                await self._sessions.insert_one(dict(doc))
                return session_from_row(row)
            except DuplicateKeyError:
                pass
            replaced = await self._sessions.find_one_and_replace(
                {"_id": record.session_id, "status": {"$in": FINISHED}}, doc
            )
            if replaced is not None:
                return session_from_row(row)
            existing = await self._sessions.find_one({"_id": record.session_id}, {"status": 1})
            if existing is not None:
                raise DuplicateSession(record.session_id, existing["status"])
        raise StoreError(f"session {record.session_id!r}: create kept racing with other writers")

    @_guard
    async def get_session(self, session_id: str) -> SessionRecord | None:
        doc = await self._sessions.find_one({"_id": session_id})
        return None if doc is None else session_from_row(doc)

    @_guard
    async def update_session(
        self,
        session_id: str,
        expected_version: int,
        *,
        updated_at_ms: int,
        status: SessionStatus | None = None,
        config: dict[str, Any] | None = None,
        engine_state: dict[str, Any] | None = None,
        stopped_at_ms: int | None = None,
        stop_reason: str | None = None,
    ) -> SessionRecord:
        check.check_expected_version(expected_version)
        changes = check.session_changes(
            updated_at_ms=updated_at_ms,
            status=status,
            config=config,
            engine_state=engine_state,
            stopped_at_ms=stopped_at_ms,
            stop_reason=stop_reason,
        )
        doc = await self._sessions.find_one_and_update(
            {"_id": session_id, "version": expected_version},
            {"$set": changes, "$inc": {"version": 1}},
            return_document=ReturnDocument.AFTER,
        )
        if doc is not None:
            return session_from_row(doc)
        stored = await self._sessions.find_one({"_id": session_id}, {"version": 1})
        if stored is None:
            raise SessionNotFound(session_id)
        raise VersionConflict(session_id, expected_version, int(stored["version"]))

    @_guard
    async def list_sessions(
        self,
        *,
        user_id: str | None = None,
        status: SessionStatus | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        page_token: str | None = None,
    ) -> Page[SessionRecord]:
        equal = {"user_id": user_id, "status": check.optional_status(status)}
        docs, token = await self._keyset_page(self._sessions, equal, [], page_size, page_token)
        return Page(tuple(session_from_row(d) for d in docs), token)

    async def _keyset_page(
        self,
        collection: AsyncCollection[Doc],
        equal: dict[str, Any],
        extra: list[Doc],
        page_size: int,
        page_token: str | None,
    ) -> tuple[list[Doc], str | None]:
        """Newest first by (created_at_ms, session_id); the token is the last document's sort key."""
        check.check_page_size(page_size)
        clauses: list[Doc] = [{k: v} for k, v in equal.items() if v is not None] + extra
        if page_token is not None:
            created_at_ms, session_id = decode_page_token(page_token)
            clauses.append(
                {
                    "$or": [
                        {"created_at_ms": {"$lt": created_at_ms}},
                        {"created_at_ms": created_at_ms, "session_id": {"$lt": session_id}},
                    ]
                }
            )
        query: Doc = {"$and": clauses} if clauses else {}
        sort = [("created_at_ms", -1), ("session_id", -1)]
        return cut_page(await collection.find(query).sort(sort).limit(page_size + 1).to_list(), page_size)

    # orders ---------------------------------------------------------------------------------------
    @_guard
    async def upsert_order(self, record: OrderRecord) -> None:
        # _id repeated in the replacement: an upsert must not rely on the server copying it from the filter.
        doc = {"_id": record.client_order_id, **order_to_row(record)}
        await self._orders.replace_one({"_id": record.client_order_id}, doc, upsert=True)

    @_guard
    async def get_order(self, client_order_id: str) -> OrderRecord | None:
        doc = await self._orders.find_one({"_id": client_order_id})
        return None if doc is None else order_from_row(doc)

    @_guard
    async def list_orders(self, session_id: str, *, status: str | None = None) -> list[OrderRecord]:
        query: Doc = {"session_id": session_id}
        if status is not None:
            query["status"] = status
        cursor = self._orders.find(query).sort([("created_at_ms", ASCENDING), ("client_order_id", ASCENDING)])
        return [order_from_row(d) for d in await cursor.to_list()]

    # fill ledger ----------------------------------------------------------------------------------
    @_guard
    async def append_fill(self, record: FillRecord) -> tuple[FillRecord, bool]:
        check.check_fill_to_append(record)
        # Taking a seq and inserting are two operations. Serialising a user's appends (in this
        # process) makes inserts land in seq order, so a reader never sees a seq before a smaller
        # one of the same user, and a replayed duplicate cannot waste a seq.
        async with self._append_locks.setdefault(record.user_id, asyncio.Lock()):
            return await self._append_fill(record)

    async def _append_fill(self, record: FillRecord) -> tuple[FillRecord, bool]:
        key = {"order_id": record.order_id, "trade_id": record.trade_id}
        existing = await self._fills.find_one(key)
        if existing is not None:
            return fill_from_row(existing), False
        seq = await self._next_fill_seq(record.user_id)
        row = fill_to_row(record, seq)
        try:
            await self._fills.insert_one(dict(row))
        except DuplicateKeyError:
            # Another process appended the same trade first; this seq stays unused (a harmless gap).
            existing = await self._fills.find_one(key)
            if existing is None:
                raise StoreError(
                    f"fill {record.order_id}/{record.trade_id}: seq {seq} of user "
                    f"{record.user_id!r} already taken; the fills counter is behind the ledger"
                ) from None
            return fill_from_row(existing), False
        return fill_from_row(row), True

    async def _next_fill_seq(self, user_id: str) -> int:
        for _ in range(ATTEMPTS):
            try:
                counter = await self._counters.find_one_and_update(
                    {"_id": f"fills:{user_id}"},
                    {"$inc": {"seq": 1}},
                    upsert=True,
                    return_document=ReturnDocument.AFTER,
                )
            except DuplicateKeyError:
                continue  # two first appends raced to create the counter; the retry increments it
            if counter is not None:
                return int(counter["seq"])
        raise StoreError(f"user {user_id!r}: could not allocate a fill seq")

    @_guard
    async def list_fills(self, session_id: str, *, after_seq: int = 0, limit: int = 500) -> list[FillRecord]:
        check.check_fill_window(after_seq, limit)
        query = {"session_id": session_id, "seq": {"$gt": after_seq}}
        docs = await self._fills.find(query).sort("seq", ASCENDING).limit(limit).to_list()
        return [fill_from_row(d) for d in docs]

    @_guard
    async def list_user_fills(
        self, user_id: str, *, after_seq: int = 0, limit: int = 500
    ) -> list[FillRecord]:
        check.check_text("user_id", user_id)
        check.check_fill_window(after_seq, limit)
        query = {"user_id": user_id, "seq": {"$gt": after_seq}}
        docs = await self._fills.find(query).sort("seq", ASCENDING).limit(limit).to_list()
        return [fill_from_row(d) for d in docs]

    # equity points --------------------------------------------------------------------------------
    @_guard
    async def append_equity_points(self, points: Sequence[EquityPointRecord]) -> None:
        for point in points:  # one upsert each: nx-27017 and real servers agree on these
            row = point_to_row(point)
            key = {"session_id": point.session_id, "run_id": point.run_id, "point_id": point.point_id}
            try:
                await self._equity.update_one(key, {"$setOnInsert": row}, upsert=True)
            except DuplicateKeyError:
                continue  # recorded at the same instant by a racing write: it is there

    @_guard
    async def list_equity_points(
        self,
        session_id: str,
        run_id: str,
        *,
        start_ms: int = 0,
        end_ms: int | None = None,
        after: tuple[int, str] | None = None,
        limit: int = 500,
    ) -> list[EquityPointRecord]:
        check_point_window(session_id, run_id, start_ms, end_ms, after, limit)
        window: dict[str, Any] = {"$gte": start_ms}
        if end_ms is not None:
            window["$lt"] = end_ms
        query: dict[str, Any] = {"session_id": session_id, "run_id": run_id, "timestamp_ms": window}
        if after is not None:
            query["$or"] = [
                {"timestamp_ms": {"$gt": after[0]}},
                {"timestamp_ms": after[0], "point_id": {"$gt": after[1]}},
            ]
        cursor = self._equity.find(query, {"_id": 0}).sort(
            [("timestamp_ms", ASCENDING), ("point_id", ASCENDING)]
        )
        return [point_from_row(doc) for doc in await cursor.limit(limit).to_list()]

    # summaries ------------------------------------------------------------------------------------
    @_guard
    async def write_summary(self, record: SummaryRecord) -> None:
        row = summary_to_row(record)
        run = {"session_id": record.session_id, "created_at_ms": record.created_at_ms}
        for _ in range(ATTEMPTS):
            try:
                await self._summaries.replace_one(run, row, upsert=True)
                return
            except DuplicateKeyError:
                continue  # two first writes raced on the upsert; the retry replaces
        raise StoreError(f"summary of {record.session_id!r}: write kept racing with other writers")

    @_guard
    async def list_summaries(
        self,
        *,
        user_id: str | None = None,
        status: SessionStatus | None = None,
        start_time_ms: int | None = None,
        end_time_ms: int | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        page_token: str | None = None,
    ) -> Page[SummaryRecord]:
        check.check_time_range(start_time_ms, end_time_ms)
        equal = {"user_id": user_id, "status": check.optional_status(status)}
        extra: list[Doc] = []
        if start_time_ms is not None:
            extra.append({"created_at_ms": {"$gte": start_time_ms}})
        if end_time_ms is not None:
            extra.append({"created_at_ms": {"$lt": end_time_ms}})
        docs, token = await self._keyset_page(self._summaries, equal, extra, page_size, page_token)
        return Page(tuple(summary_from_row(d) for d in docs), token)

    # nonces ---------------------------------------------------------------------------------------
    @_guard
    async def consume_nonce(self, user_id: str, nonce: str, *, expires_at_ms: int, now_ms: int) -> bool:
        check.check_nonce(user_id, nonce, expires_at_ms, now_ms)
        # expire_at (a BSON date) feeds the TTL index that purges; expires_at_ms is what logic trusts,
        # since TTL deletion runs late (about once a minute on mongod).
        expire_at = datetime.fromtimestamp(expires_at_ms / 1000, UTC)
        fields = {"expires_at_ms": expires_at_ms, "expire_at": expire_at}
        for _ in range(ATTEMPTS):
            try:
                await self._nonces.insert_one({"user_id": user_id, "nonce": nonce, **fields})
                return True
            except DuplicateKeyError:
                pass
            expired = {"user_id": user_id, "nonce": nonce, "expires_at_ms": {"$lte": now_ms}}
            result = await self._nonces.update_one(expired, {"$set": fields})
            if result.matched_count == 1:
                return True
            if await self._nonces.find_one({"user_id": user_id, "nonce": nonce}, {"_id": 1}) is not None:
                return False  # a live nonce: replay
        return False

    # accounts and rate limits (server.store.mongo_auth) -------------------------------------------
    @_guard
    async def upsert_account(self, record: AccountRecord) -> AccountRecord:
        return await mongo_auth.upsert_account(self._accounts, record)

    @_guard
    async def get_account(self, user_id: str) -> AccountRecord | None:
        return await mongo_auth.get_account(self._accounts, user_id)

    @_guard
    async def hit_rate_limit(self, key: str, *, limit: int, window_ms: int, now_ms: int) -> RateDecision:
        return await mongo_auth.hit_rate_limit(self._rate_limits, key, limit, window_ms, now_ms)

    # session keys and their nonce batches (server.store.mongo_keys) ---------------------------------
    @_guard
    async def create_session_key(self, record: SessionKeyRecord) -> bool:
        return await mongo_keys.create_key(self._session_keys, record)

    @_guard
    async def get_session_key(self, key_id: str) -> SessionKeyRecord | None:
        return await mongo_keys.get_key(self._session_keys, key_id)

    @_guard
    async def revoke_session_keys(self, user_id: str, *, key_id: str | None, now_ms: int) -> int:
        check.check_text("user_id", user_id)
        check.check_ms("now_ms", now_ms)
        return await mongo_keys.revoke_keys(self._session_keys, user_id, key_id, now_ms)

    @_guard
    async def append_nonce_batch(self, batch: NonceBatch) -> None:
        await mongo_keys.append_batch(self._nonce_batches, batch)

    @_guard
    async def list_nonce_batches(
        self, *, written_since_ms: int, now_ms: int, exclude_instance: str
    ) -> list[NonceBatch]:
        return await mongo_keys.list_batches(self._nonce_batches, written_since_ms, now_ms, exclude_instance)

    # leases ---------------------------------------------------------------------------------------
    @_guard
    async def acquire_lease(self, session_id: str, owner: str, *, ttl_ms: int, now_ms: int) -> Lease | None:
        expires_at_ms = check.lease_expiry(owner, ttl_ms, now_ms)
        lease = {"owner": owner, "expires_at_ms": expires_at_ms}
        for _ in range(ATTEMPTS):
            try:
                await self._leases.insert_one({"_id": session_id, **lease})
                return Lease(session_id, owner, expires_at_ms)
            except DuplicateKeyError:
                pass
            takeable = {"_id": session_id, "$or": [{"owner": owner}, {"expires_at_ms": {"$lte": now_ms}}]}
            if await self._leases.find_one_and_update(takeable, {"$set": lease}) is not None:
                return Lease(session_id, owner, expires_at_ms)
            if await self._leases.find_one({"_id": session_id}, {"_id": 1}) is not None:
                return None  # held by another owner
        return None

    @_guard
    async def renew_lease(self, session_id: str, owner: str, *, ttl_ms: int, now_ms: int) -> Lease | None:
        expires_at_ms = check.lease_expiry(owner, ttl_ms, now_ms)
        result = await self._leases.update_one(
            {"_id": session_id, "owner": owner}, {"$set": {"expires_at_ms": expires_at_ms}}
        )
        return Lease(session_id, owner, expires_at_ms) if result.matched_count == 1 else None

    @_guard
    async def release_lease(self, session_id: str, owner: str) -> bool:
        result = await self._leases.delete_one({"_id": session_id, "owner": owner})
        return result.deleted_count == 1

    @_guard
    async def get_lease(self, session_id: str) -> Lease | None:
        doc = await self._leases.find_one({"_id": session_id})
        return None if doc is None else Lease(session_id, doc["owner"], int(doc["expires_at_ms"]))

    # lifecycle ------------------------------------------------------------------------------------
    async def health(self) -> HealthStatus:
        started = time.perf_counter()  # latency measurement only; no logic depends on it
        try:
            await asyncio.wait_for(self._client.admin.command("ping"), HEALTH_TIMEOUT_S)
            ok, detail = True, f"mongodb database {self._db.name}"
        except (PyMongoError, TimeoutError) as exc:
            ok, detail = False, f"mongodb database {self._db.name}: {type(exc).__name__}: {exc}"
        return HealthStatus(self.backend, ok, detail, (time.perf_counter() - started) * 1000)

    async def close(self) -> None:
        await self._client.close()
