"""The SQLite side of accounts and rate limits: writes that SqliteStore runs in its group-commit
transactions (whose BEGIN IMMEDIATE also serialises other stores and processes on the same file)."""

from __future__ import annotations

import sqlite3

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


def upsert_account(db: sqlite3.Connection, record: AccountRecord) -> AccountRecord:
    params = [
        record.user_id,
        record.account_id,
        record.orderly_key,
        record.encrypted_secret,
        record.created_at_ms,
        record.updated_at_ms,
    ]
    row = db.execute(_UPSERT_ACCOUNT_SQL, params).fetchone()
    assert row is not None, "an upsert with RETURNING returned no row"
    return AccountRecord(**dict(row))


def hit_rate_limit(db: sqlite3.Connection, key: str, limit: int, window_ms: int, now_ms: int) -> RateDecision:
    window_start_ms = rate_window_start(key, limit, window_ms, now_ms)
    row = db.execute(_HIT_SQL, [key, window_start_ms, window_start_ms + window_ms]).fetchone()
    assert row is not None, "an upsert with RETURNING returned no row"
    db.execute("DELETE FROM rate_limits WHERE expires_at_ms <= ?", [now_ms])  # past windows
    return rate_decision(int(row[0]), limit, window_start_ms, window_ms, now_ms)
