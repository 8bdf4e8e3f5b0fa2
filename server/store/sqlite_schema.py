"""Tables and indexes of the embedded SQLite backend, and opening its write connection on them
(version check, migration, creation). Uniqueness lives in the schema (primary keys and UNIQUE
constraints), so a duplicate can never be written, whatever the code above does."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from server.store import sqlite_keys
from server.store.errors import StoreUnavailable

# 2: fills carry user_id and seq is numbered per user (one store-wide counter), not per session.
# 3: fills carry their cell and the round trip they completed (nullable columns; see MIGRATE_2_TO_3).
SCHEMA_VERSION = 3

# Version 2 files gain the new columns in place: all nullable, and NULL is exactly what a fill
# recorded without them means (unknown cell, no round trip), so nothing needs to be backfilled.
_FILL_COLUMNS_ADDED_IN_3 = (
    ("cell_index", "INTEGER"),
    ("round_trip_cell_index", "INTEGER"),
    ("round_trip_quantity", "TEXT"),
    ("round_trip_entry_price", "TEXT"),
    ("round_trip_exit_price", "TEXT"),
    ("round_trip_fees", "TEXT"),
    ("round_trip_profit", "TEXT"),
    ("round_trip_timestamp_ms", "INTEGER"),
)
MIGRATE_2_TO_3 = tuple(
    f"ALTER TABLE fills ADD COLUMN {name} {kind}" for name, kind in _FILL_COLUMNS_ADDED_IN_3
)

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
    cell_index              INTEGER,
    round_trip_cell_index   INTEGER,
    round_trip_quantity     TEXT,
    round_trip_entry_price  TEXT,
    round_trip_exit_price   TEXT,
    round_trip_fees         TEXT,
    round_trip_profit       TEXT,
    round_trip_timestamp_ms INTEGER,
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

-- A run's PnL history (server.store.equity); points of one run list in (timestamp_ms, point_id) order.
CREATE TABLE IF NOT EXISTS equity_points (
    session_id    TEXT NOT NULL,
    run_id        TEXT NOT NULL,
    point_id      TEXT NOT NULL,
    timestamp_ms  INTEGER NOT NULL,
    kind          TEXT NOT NULL,
    realized      TEXT NOT NULL,
    unrealized    TEXT NOT NULL,
    funding       TEXT NOT NULL,
    total         TEXT NOT NULL,
    grid_profit   TEXT NOT NULL,
    position      TEXT NOT NULL,
    mark_price    TEXT NOT NULL,
    fill_side     TEXT,
    fill_price    TEXT,
    fill_quantity TEXT,
    PRIMARY KEY (session_id, run_id, point_id)
);
CREATE INDEX IF NOT EXISTS equity_points_by_time
    ON equity_points (session_id, run_id, timestamp_ms, point_id);

CREATE TABLE IF NOT EXISTS leases (
    session_id    TEXT PRIMARY KEY,
    owner         TEXT NOT NULL,
    expires_at_ms INTEGER NOT NULL
);
"""


def open_write_connection(file: Path, busy_timeout_ms: int) -> sqlite3.Connection:
    """The write connection, with the schema checked, migrated and created (in the writer thread)."""
    # isolation_level=None: no implicit transactions; the group-commit writer says BEGIN IMMEDIATE.
    db = sqlite3.connect(file, isolation_level=None, check_same_thread=False)
    try:
        db.row_factory = sqlite3.Row
        db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = FULL")  # per connection: this one does every write
        found = int(db.execute("PRAGMA user_version").fetchone()[0])
        if found not in (0, 2, SCHEMA_VERSION):
            # No migration: schema 1 numbered fills per session, and renumbering them would break
            # every subscriber's resume point. Nothing was deployed on schema 1.
            raise StoreUnavailable(
                f"SQLite store at {file} has schema version {found}, this build needs {SCHEMA_VERSION} "
                "and cannot convert it; move the file away to start a fresh store"
            )
        if found == 2:
            _migrate_2_to_3(db)
        db.executescript(SCHEMA)
        db.executescript(sqlite_keys.SCHEMA)  # session keys: a block of their own (server.store.sqlite_keys)
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    except BaseException:
        db.close()
        raise
    return db


def _migrate_2_to_3(db: sqlite3.Connection) -> None:
    """Add the fills' cell and round-trip columns, once even if two processes open the file at once."""
    db.execute("BEGIN IMMEDIATE")
    try:
        if int(db.execute("PRAGMA user_version").fetchone()[0]) == 2:
            for statement in MIGRATE_2_TO_3:
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
