"""Embedded default backend: one SQLite file in WAL mode.

Two connections: writes go through a group-commit writer (server.store.group_commit) that owns the
write connection and commits every write pending at a moment in one transaction, each write in its
own savepoint; reads use a second connection (aiosqlite), which WAL lets read while a batch is being
written, and which only ever sees committed data. A write's caller gets its result once its COMMIT
returned, so "read your writes" holds. Every transaction begins IMMEDIATE, which makes two stores (or
processes) on the same file safe: SQLite's write lock serialises them and busy_timeout makes the
loser wait instead of failing. synchronous=FULL: an acknowledged write survives the process being
killed and a power cut.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiosqlite

from server.store import args as check
from server.store import sqlite_auth, sqlite_keys
from server.store.auth_records import AccountRecord, RateDecision
from server.store.codec import (
    Row,
    cut_page,
    decode_page_token,
    fill_from_row,
    fill_to_row,
    flatten_round_trip,
    order_from_row,
    order_to_row,
    session_from_row,
    session_to_row,
    summary_from_row,
    summary_to_row,
)
from server.store.equity import EquityPointRecord, check_point_window, point_from_row, point_to_row
from server.store.errors import DuplicateSession, SessionNotFound, StoreUnavailable, VersionConflict
from server.store.group_commit import GroupCommitWriter
from server.store.guard import store_errors
from server.store.key_records import NonceBatch, SessionKeyRecord
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
from server.store.sqlite_schema import open_write_connection

BUSY_TIMEOUT_MS = 10_000
DATA_FILE_NAME = "orderly-grid.sqlite3"
HEALTH_TIMEOUT_S = 2.0


# "database is locked" past busy_timeout, disk full, I/O errors: the file is there but unusable now.
_guard = store_errors(backend="sqlite", unavailable=(sqlite3.OperationalError,), other=(sqlite3.Error,))


def _insert_sql(table: str, row: Row, verb: str = "INSERT") -> tuple[str, list[Any]]:
    columns = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    return f"{verb} INTO {table} ({columns}) VALUES ({marks})", list(row.values())


class SqliteStore:
    backend = "sqlite"

    def __init__(self, writer: GroupCommitWriter, reader: aiosqlite.Connection, path: Path) -> None:
        self._writer = writer
        self._reader = reader
        self._path = path

    @classmethod
    async def open(cls, path: str | Path, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> SqliteStore:
        file = Path(path)
        file.parent.mkdir(parents=True, exist_ok=True)
        try:
            connection = await asyncio.to_thread(open_write_connection, file, busy_timeout_ms)
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"cannot open SQLite store at {file}: {exc}") from exc
        writer = GroupCommitWriter(connection)
        try:
            reader = await aiosqlite.connect(file, isolation_level=None)
            reader.row_factory = aiosqlite.Row
            await reader.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        except sqlite3.Error as exc:
            await writer.close()
            raise StoreUnavailable(f"cannot open SQLite store at {file}: {exc}") from exc
        return cls(writer, reader, file)

    @classmethod
    async def open_in_dir(cls, data_dir: str | Path) -> SqliteStore:
        return await cls.open(Path(data_dir) / DATA_FILE_NAME)

    @property
    def path(self) -> Path:
        return self._path

    @property
    def writer(self) -> GroupCommitWriter:
        """The group-commit writer (its counters show how writes were batched)."""
        return self._writer

    async def _fetch_one(self, sql: str, params: Sequence[Any]) -> Row | None:
        async with self._reader.execute(sql, params) as cursor:
            row = await cursor.fetchone()
        return None if row is None else dict(row)

    async def _fetch_all(self, sql: str, params: Sequence[Any]) -> list[Row]:
        async with self._reader.execute(sql, params) as cursor:
            rows = await cursor.fetchall()
        return [dict(row) for row in rows]

    async def _execute(self, sql: str, params: Sequence[Any]) -> int:
        """One write statement; its row count."""
        return await self._writer.run(lambda db: db.execute(sql, params).rowcount)

    # sessions -------------------------------------------------------------------------------------
    @_guard
    async def create_session(self, record: SessionRecord) -> SessionRecord:
        row = session_to_row(record)
        row["version"] = 1

        def write(db: sqlite3.Connection) -> None:
            query = "SELECT status FROM sessions WHERE session_id = ?"
            existing = db.execute(query, [record.session_id]).fetchone()
            if existing is not None and not SessionStatus(existing["status"]).is_finished:
                raise DuplicateSession(record.session_id, existing["status"])
            db.execute(*_insert_sql("sessions", row, "INSERT OR REPLACE"))

        await self._writer.run(write)
        return session_from_row(row)

    @_guard
    async def get_session(self, session_id: str) -> SessionRecord | None:
        row = await self._fetch_one("SELECT * FROM sessions WHERE session_id = ?", [session_id])
        return None if row is None else session_from_row(row)

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
        assignments = ", ".join(f"{column} = ?" for column in changes)
        sql = f"UPDATE sessions SET {assignments}, version = version + 1 WHERE session_id = ? AND version = ?"

        def write(db: sqlite3.Connection) -> SessionRecord:
            updated = db.execute(sql, [*changes.values(), session_id, expected_version]).rowcount == 1
            stored = db.execute("SELECT * FROM sessions WHERE session_id = ?", [session_id]).fetchone()
            if stored is None:
                raise SessionNotFound(session_id)
            if not updated:
                raise VersionConflict(session_id, expected_version, int(stored["version"]))
            return session_from_row(dict(stored))

        return await self._writer.run(write)

    @_guard
    async def list_sessions(
        self,
        *,
        user_id: str | None = None,
        status: SessionStatus | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        page_token: str | None = None,
    ) -> Page[SessionRecord]:
        where = {"user_id": user_id, "status": check.optional_status(status)}
        rows, token = await self._keyset_page("sessions", where, [], page_size, page_token)
        return Page(tuple(session_from_row(r) for r in rows), token)

    async def _keyset_page(
        self,
        table: str,
        equal: dict[str, Any],
        extra: list[tuple[str, Any]],
        page_size: int,
        page_token: str | None,
    ) -> tuple[list[Row], str | None]:
        """Newest first by (created_at_ms, session_id); the token is the last row's sort key."""
        check.check_page_size(page_size)
        clauses = [f"{column} = ?" for column, value in equal.items() if value is not None]
        params: list[Any] = [value for value in equal.values() if value is not None]
        for clause, value in extra:
            clauses.append(clause)
            params.append(value)
        if page_token is not None:
            created_at_ms, session_id = decode_page_token(page_token)
            clauses.append("(created_at_ms < ? OR (created_at_ms = ? AND session_id < ?))")
            params += [created_at_ms, created_at_ms, session_id]
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        sql = f"SELECT * FROM {table} {where} ORDER BY created_at_ms DESC, session_id DESC LIMIT ?"
        return cut_page(await self._fetch_all(sql, [*params, page_size + 1]), page_size)

    # orders ---------------------------------------------------------------------------------------
    @_guard
    async def upsert_order(self, record: OrderRecord) -> None:
        await self._execute(*_insert_sql("orders", order_to_row(record), "INSERT OR REPLACE"))

    @_guard
    async def get_order(self, client_order_id: str) -> OrderRecord | None:
        row = await self._fetch_one("SELECT * FROM orders WHERE client_order_id = ?", [client_order_id])
        return None if row is None else order_from_row(row)

    @_guard
    async def list_orders(self, session_id: str, *, status: str | None = None) -> list[OrderRecord]:
        sql = "SELECT * FROM orders WHERE session_id = ?"
        params: list[Any] = [session_id]
        if status is not None:
            sql += " AND status = ?"
            params.append(status)
        rows = await self._fetch_all(sql + " ORDER BY created_at_ms, client_order_id", params)
        return [order_from_row(r) for r in rows]

    # fill ledger ----------------------------------------------------------------------------------
    @_guard
    async def append_fill(self, record: FillRecord) -> tuple[FillRecord, bool]:
        check.check_fill_to_append(record)
        row = flatten_round_trip(fill_to_row(record, seq=0))
        del row["seq"]
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        # The insert takes the next value of the store-wide counter; a duplicate inserts nothing and
        # leaves the counter alone (no gap). Both statements share one transaction (and writes run one
        # at a time), so fills commit in seq order and a reader never sees a seq before a smaller one.
        # The WHERE clause keeps SQLite's INSERT ... SELECT ... ON CONFLICT parse.
        insert = (
            f"INSERT INTO fills ({columns}, seq) SELECT {marks}, last_seq + 1 "
            "FROM fill_seq WHERE id = 1 ON CONFLICT (order_id, trade_id) DO NOTHING"
        )

        def write(db: sqlite3.Connection) -> tuple[FillRecord, bool]:
            inserted = db.execute(insert, list(row.values())).rowcount == 1
            if inserted:
                db.execute("UPDATE fill_seq SET last_seq = last_seq + 1 WHERE id = 1")
            query = "SELECT * FROM fills WHERE order_id = ? AND trade_id = ?"
            stored = db.execute(query, [record.order_id, record.trade_id]).fetchone()
            assert stored is not None, "fill vanished inside its own transaction"
            return fill_from_row(dict(stored)), inserted

        return await self._writer.run(write)

    @_guard
    async def list_fills(self, session_id: str, *, after_seq: int = 0, limit: int = 500) -> list[FillRecord]:
        check.check_fill_window(after_seq, limit)
        sql = "SELECT * FROM fills WHERE session_id = ? AND seq > ? ORDER BY seq LIMIT ?"
        return [fill_from_row(r) for r in await self._fetch_all(sql, [session_id, after_seq, limit])]

    @_guard
    async def list_user_fills(
        self, user_id: str, *, after_seq: int = 0, limit: int = 500
    ) -> list[FillRecord]:
        check.check_text("user_id", user_id)
        check.check_fill_window(after_seq, limit)
        sql = "SELECT * FROM fills WHERE user_id = ? AND seq > ? ORDER BY seq LIMIT ?"
        return [fill_from_row(r) for r in await self._fetch_all(sql, [user_id, after_seq, limit])]

    # summaries ------------------------------------------------------------------------------------
    @_guard
    async def write_summary(self, record: SummaryRecord) -> None:
        await self._execute(*_insert_sql("summaries", summary_to_row(record), "INSERT OR REPLACE"))

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
        where = {"user_id": user_id, "status": check.optional_status(status)}
        extra: list[tuple[str, Any]] = []
        if start_time_ms is not None:
            extra.append(("created_at_ms >= ?", start_time_ms))
        if end_time_ms is not None:
            extra.append(("created_at_ms < ?", end_time_ms))
        rows, token = await self._keyset_page("summaries", where, extra, page_size, page_token)
        return Page(tuple(summary_from_row(r) for r in rows), token)

    # equity points --------------------------------------------------------------------------------
    @_guard
    async def append_equity_points(self, points: Sequence[EquityPointRecord]) -> None:
        if not points:
            return
        rows = [point_to_row(point) for point in points]
        sql, _ = _insert_sql("equity_points", rows[0], "INSERT OR IGNORE")

        def write(db: sqlite3.Connection) -> None:
            db.executemany(sql, [list(row.values()) for row in rows])

        await self._writer.run(write)

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
        sql = "SELECT * FROM equity_points WHERE session_id = ? AND run_id = ? AND timestamp_ms >= ?"
        params: list[Any] = [session_id, run_id, start_ms]
        if end_ms is not None:
            sql += " AND timestamp_ms < ?"
            params.append(end_ms)
        if after is not None:
            sql += " AND (timestamp_ms > ? OR (timestamp_ms = ? AND point_id > ?))"
            params += [after[0], after[0], after[1]]
        sql += " ORDER BY timestamp_ms, point_id LIMIT ?"
        params.append(limit)
        return [point_from_row(row) for row in await self._fetch_all(sql, params)]

    # nonces ---------------------------------------------------------------------------------------
    @_guard
    async def consume_nonce(self, user_id: str, nonce: str, *, expires_at_ms: int, now_ms: int) -> bool:
        check.check_nonce(user_id, nonce, expires_at_ms, now_ms)
        # Inserts a new nonce, or takes over one that has expired; a live one is left alone (rowcount 0).
        sql = (
            "INSERT INTO nonces (user_id, nonce, expires_at_ms) VALUES (?, ?, ?) "
            "ON CONFLICT (user_id, nonce) DO UPDATE SET expires_at_ms = excluded.expires_at_ms "
            "WHERE nonces.expires_at_ms <= ?"
        )

        def write(db: sqlite3.Connection) -> bool:
            consumed = db.execute(sql, [user_id, nonce, expires_at_ms, now_ms]).rowcount == 1
            db.execute("DELETE FROM nonces WHERE expires_at_ms <= ?", [now_ms])
            return consumed

        return await self._writer.run(write)

    # accounts and rate limits (server.store.sqlite_auth) ------------------------------------------
    @_guard
    async def upsert_account(self, record: AccountRecord) -> AccountRecord:
        return await self._writer.run(lambda db: sqlite_auth.upsert_account(db, record))

    @_guard
    async def get_account(self, user_id: str) -> AccountRecord | None:
        row = await self._fetch_one(sqlite_auth.GET_ACCOUNT_SQL, [user_id])
        return None if row is None else AccountRecord(**row)

    @_guard
    async def hit_rate_limit(self, key: str, *, limit: int, window_ms: int, now_ms: int) -> RateDecision:
        return await self._writer.run(
            lambda db: sqlite_auth.hit_rate_limit(db, key, limit, window_ms, now_ms)
        )

    # session keys and their nonce batches (server.store.sqlite_keys) --------------------------------
    @_guard
    async def create_session_key(self, record: SessionKeyRecord) -> bool:
        return await self._writer.run(lambda db: sqlite_keys.create_key(db, record))

    @_guard
    async def get_session_key(self, key_id: str) -> SessionKeyRecord | None:
        row = await self._fetch_one(sqlite_keys.GET_KEY_SQL, [key_id])
        return None if row is None else sqlite_keys.key_from_row(row)

    @_guard
    async def revoke_session_keys(self, user_id: str, *, key_id: str | None, now_ms: int) -> int:
        check.check_text("user_id", user_id)
        check.check_ms("now_ms", now_ms)
        return await self._writer.run(lambda db: sqlite_keys.revoke_keys(db, user_id, key_id, now_ms))

    @_guard
    async def append_nonce_batch(self, batch: NonceBatch) -> None:
        await self._writer.run(lambda db: sqlite_keys.append_batch(db, batch))

    @_guard
    async def list_nonce_batches(
        self, *, written_since_ms: int, now_ms: int, exclude_instance: str
    ) -> list[NonceBatch]:
        params = [written_since_ms, now_ms, exclude_instance]
        return [
            sqlite_keys.batch_from_row(row)
            for row in await self._fetch_all(sqlite_keys.LIST_BATCHES_SQL, params)
        ]

    # leases ---------------------------------------------------------------------------------------
    @_guard
    async def acquire_lease(self, session_id: str, owner: str, *, ttl_ms: int, now_ms: int) -> Lease | None:
        expires_at_ms = check.lease_expiry(owner, ttl_ms, now_ms)
        sql = (
            "INSERT INTO leases (session_id, owner, expires_at_ms) VALUES (?, ?, ?) "
            "ON CONFLICT (session_id) DO UPDATE SET owner = excluded.owner, "
            "expires_at_ms = excluded.expires_at_ms "
            "WHERE leases.owner = excluded.owner OR leases.expires_at_ms <= ?"
        )
        params = [session_id, owner, expires_at_ms, now_ms]
        acquired = await self._execute(sql, params) == 1
        return Lease(session_id, owner, expires_at_ms) if acquired else None

    @_guard
    async def renew_lease(self, session_id: str, owner: str, *, ttl_ms: int, now_ms: int) -> Lease | None:
        expires_at_ms = check.lease_expiry(owner, ttl_ms, now_ms)
        sql = "UPDATE leases SET expires_at_ms = ? WHERE session_id = ? AND owner = ?"
        renewed = await self._execute(sql, [expires_at_ms, session_id, owner]) == 1
        return Lease(session_id, owner, expires_at_ms) if renewed else None

    @_guard
    async def release_lease(self, session_id: str, owner: str) -> bool:
        sql = "DELETE FROM leases WHERE session_id = ? AND owner = ?"
        return await self._execute(sql, [session_id, owner]) == 1

    @_guard
    async def get_lease(self, session_id: str) -> Lease | None:
        row = await self._fetch_one("SELECT * FROM leases WHERE session_id = ?", [session_id])
        return None if row is None else Lease(row["session_id"], row["owner"], int(row["expires_at_ms"]))

    # lifecycle ------------------------------------------------------------------------------------
    async def health(self) -> HealthStatus:
        started = time.perf_counter()  # latency measurement only; no logic depends on it
        try:
            row = await asyncio.wait_for(self._fetch_one("SELECT 1 AS ok", []), timeout=HEALTH_TIMEOUT_S)
            ok, detail = row is not None, f"sqlite {self._path}"
        except (sqlite3.Error, ValueError, TimeoutError) as exc:
            ok, detail = False, f"sqlite {self._path}: {type(exc).__name__}: {exc}"
        return HealthStatus(self.backend, ok, detail, (time.perf_counter() - started) * 1000)

    async def close(self) -> None:
        await self._writer.close()
        await self._reader.close()
