"""Tables and indexes of the embedded SQLite backend. Uniqueness lives in the schema (primary keys
and UNIQUE constraints), so a duplicate can never be written, whatever the code above does."""

from __future__ import annotations

# 2: fills carry user_id and seq is numbered per user (one store-wide counter), not per session.
SCHEMA_VERSION = 2

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    session_id        TEXT PRIMARY KEY,
    user_id           TEXT NOT NULL,
    symbol            TEXT NOT NULL,
    status            TEXT NOT NULL,
    config_json       TEXT NOT NULL,
    engine_state_json TEXT NOT NULL,
    version           INTEGER NOT NULL,
    created_at_ms     INTEGER NOT NULL,
    updated_at_ms     INTEGER NOT NULL,
    stopped_at_ms     INTEGER,
    stop_reason       TEXT
);
CREATE INDEX IF NOT EXISTS sessions_by_user ON sessions (user_id, created_at_ms, session_id);
CREATE INDEX IF NOT EXISTS sessions_by_status ON sessions (status, created_at_ms, session_id);
CREATE INDEX IF NOT EXISTS sessions_by_created ON sessions (created_at_ms, session_id);

CREATE TABLE IF NOT EXISTS orders (
    client_order_id TEXT PRIMARY KEY,
    session_id      TEXT NOT NULL,
    order_id        TEXT,
    side            TEXT NOT NULL,
    price           TEXT NOT NULL,
    quantity        TEXT NOT NULL,
    status          TEXT NOT NULL,
    cell_index      INTEGER,
    created_at_ms   INTEGER NOT NULL,
    updated_at_ms   INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_by_session ON orders (session_id, status);

CREATE TABLE IF NOT EXISTS fills (
    session_id      TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    order_id        TEXT NOT NULL,
    trade_id        TEXT NOT NULL,
    client_order_id TEXT NOT NULL,
    side            TEXT NOT NULL,
    price           TEXT NOT NULL,
    quantity        TEXT NOT NULL,
    fee             TEXT NOT NULL,
    fee_asset       TEXT NOT NULL,
    is_maker        INTEGER NOT NULL,
    timestamp_ms    INTEGER NOT NULL,
    seq             INTEGER NOT NULL,
    UNIQUE (order_id, trade_id),
    UNIQUE (user_id, seq)
);
CREATE INDEX IF NOT EXISTS fills_by_session ON fills (session_id, seq);

-- The last seq handed out, for the whole ledger (one row). Unlike MAX(seq) + 1 it never hands a
-- value out twice, whatever is ever deleted from fills; append_fill bumps it in the insert's transaction.
CREATE TABLE IF NOT EXISTS fill_seq (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    last_seq INTEGER NOT NULL
);
INSERT OR IGNORE INTO fill_seq (id, last_seq) VALUES (1, 0);

CREATE TABLE IF NOT EXISTS summaries (
    session_id      TEXT NOT NULL,
    created_at_ms   INTEGER NOT NULL,
    user_id         TEXT NOT NULL,
    symbol          TEXT NOT NULL,
    status          TEXT NOT NULL,
    stopped_at_ms   INTEGER NOT NULL,
    realized_profit TEXT NOT NULL,
    fees            TEXT NOT NULL,
    funding         TEXT NOT NULL,
    unrealized      TEXT NOT NULL,
    total_pnl       TEXT NOT NULL,
    round_trips     INTEGER NOT NULL,
    grid_apr        TEXT NOT NULL,
    total_apr       TEXT NOT NULL,
    stop_reason     TEXT,
    details_json    TEXT NOT NULL,
    PRIMARY KEY (session_id, created_at_ms)
);
CREATE INDEX IF NOT EXISTS summaries_by_user ON summaries (user_id, created_at_ms, session_id);
CREATE INDEX IF NOT EXISTS summaries_by_status ON summaries (status, created_at_ms, session_id);
CREATE INDEX IF NOT EXISTS summaries_by_created ON summaries (created_at_ms, session_id);

CREATE TABLE IF NOT EXISTS nonces (
    user_id       TEXT NOT NULL,
    nonce         TEXT NOT NULL,
    expires_at_ms INTEGER NOT NULL,
    PRIMARY KEY (user_id, nonce)
);
CREATE INDEX IF NOT EXISTS nonces_by_expiry ON nonces (expires_at_ms);

-- Added tables need no schema version bump: CREATE TABLE IF NOT EXISTS adds them to older files.
CREATE TABLE IF NOT EXISTS accounts (
    user_id          TEXT PRIMARY KEY,
    account_id       TEXT NOT NULL,
    orderly_key      TEXT NOT NULL,
    encrypted_secret TEXT NOT NULL,
    created_at_ms    INTEGER NOT NULL,
    updated_at_ms    INTEGER NOT NULL
);

-- One row per (key, fixed window); rows of past windows are purged by later hits.
CREATE TABLE IF NOT EXISTS rate_limits (
    key             TEXT NOT NULL,
    window_start_ms INTEGER NOT NULL,
    count           INTEGER NOT NULL,
    expires_at_ms   INTEGER NOT NULL,
    PRIMARY KEY (key, window_start_ms)
);
CREATE INDEX IF NOT EXISTS rate_limits_by_expiry ON rate_limits (expires_at_ms);

CREATE TABLE IF NOT EXISTS leases (
    session_id    TEXT PRIMARY KEY,
    owner         TEXT NOT NULL,
    expires_at_ms INTEGER NOT NULL
);
"""
