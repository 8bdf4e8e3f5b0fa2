"""The SQLite side of accounts and rate limits, used by SqliteStore inside its BEGIN IMMEDIATE
transactions (which also serialise other stores and processes on the same file)."""

from __future__ import annotations

import aiosqlite

from server.store.auth_records import AccountRecord, RateDecision, rate_decision, rate_window_start

GET_ACCOUNT_SQL = "SELECT * FROM accounts WHERE user_id = ?"

# A later registration replaces the account's fields; created_at_ms stays the first one's.
_UPSERT_ACCOUNT_SQL = (
    "INSERT INTO accounts (user_id, account_id, orderly_key, encrypted_secret, created_at_ms, updated_at_ms) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET account_id = excluded.account_id, "
    "orderly_key = excluded.orderly_key, encrypted_secret = excluded.encrypted_secret, "
    "updated_at_ms = excluded.updated_at_ms RETURNING *"
)

# One statement counts the hit and reads the count back.
_HIT_SQL = (
    "INSERT INTO rate_limits (key, window_start_ms, count, expires_at_ms) VALUES (?, ?, 1, ?) "
    "ON CONFLICT (key, window_start_ms) DO UPDATE SET count = count + 1 RETURNING count"
)


async def upsert_account(db: aiosqlite.Connection, record: AccountRecord) -> AccountRecord:
    params = [
        record.user_id,
        record.account_id,
        record.orderly_key,
        record.encrypted_secret,
        record.created_at_ms,
        record.updated_at_ms,
    ]
    async with db.execute(_UPSERT_ACCOUNT_SQL, params) as cursor:
        row = await cursor.fetchone()
    assert row is not None, "an upsert with RETURNING returned no row"
    return AccountRecord(**dict(row))


async def hit_rate_limit(
    db: aiosqlite.Connection, key: str, limit: int, window_ms: int, now_ms: int
) -> RateDecision:
    window_start_ms = rate_window_start(key, limit, window_ms, now_ms)
    async with db.execute(_HIT_SQL, [key, window_start_ms, window_start_ms + window_ms]) as cursor:
        row = await cursor.fetchone()
    assert row is not None, "an upsert with RETURNING returned no row"
    await db.execute("DELETE FROM rate_limits WHERE expires_at_ms <= ?", [now_ms])  # past windows
    return rate_decision(int(row[0]), limit, window_start_ms, window_ms, now_ms)
