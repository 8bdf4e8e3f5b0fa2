"""The SQLite side of session keys and session-key nonce batches, kept apart from the other tables
so that it merges cleanly; SqliteStore runs the writes in its group-commit transactions."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from server.store.key_records import NonceBatch, SessionKeyRecord, nonces_from_json, nonces_to_json

# Added tables need no schema version bump: CREATE TABLE IF NOT EXISTS adds them to older files.
SCHEMA = """
CREATE TABLE IF NOT EXISTS session_keys (
    key_id        TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL,
    public_key    TEXT NOT NULL,
    scopes        TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    expires_at_ms INTEGER NOT NULL,
    revoked_at_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS session_keys_by_user ON session_keys (user_id);

-- One row per nonce batch of one process (server.auth.session_nonces); purged once expired.
CREATE TABLE IF NOT EXISTS session_nonce_batches (
    batch_id      TEXT PRIMARY KEY,
    instance      TEXT NOT NULL,
    written_at_ms INTEGER NOT NULL,
    expires_at_ms INTEGER NOT NULL,
    nonces_json   TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS session_nonce_batches_by_time ON session_nonce_batches (written_at_ms);
"""

GET_KEY_SQL = "SELECT * FROM session_keys WHERE key_id = ?"
LIST_BATCHES_SQL = (
    "SELECT * FROM session_nonce_batches WHERE written_at_ms >= ? AND expires_at_ms > ? AND instance != ? "
    "ORDER BY written_at_ms, batch_id"
)


def create_key(db: sqlite3.Connection, record: SessionKeyRecord) -> bool:
    sql = (
        "INSERT INTO session_keys (key_id, user_id, public_key, scopes, created_at_ms, expires_at_ms, "
        "revoked_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key_id) DO NOTHING"
    )
    params = [
        record.key_id,
        record.user_id,
        record.public_key,
        ",".join(record.scopes),
        record.created_at_ms,
        record.expires_at_ms,
        record.revoked_at_ms,
    ]
    return db.execute(sql, params).rowcount == 1


def revoke_keys(db: sqlite3.Connection, user_id: str, key_id: str | None, now_ms: int) -> int:
    # Only keys that still work count: revoking twice, or an expired key, changes nothing.
    sql = (
        "UPDATE session_keys SET revoked_at_ms = ? "
        "WHERE user_id = ? AND revoked_at_ms = 0 AND expires_at_ms > ?"
    )
    params: list[Any] = [now_ms, user_id, now_ms]
    if key_id is not None:
        sql += " AND key_id = ?"
        params.append(key_id)
    return db.execute(sql, params).rowcount


def append_batch(db: sqlite3.Connection, batch: NonceBatch) -> None:
    sql = (
        "INSERT INTO session_nonce_batches (batch_id, instance, written_at_ms, expires_at_ms, nonces_json) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (batch_id) DO NOTHING"
    )
    nonces = json.dumps(nonces_to_json(batch.nonces), separators=(",", ":"))
    db.execute(sql, [batch.batch_id, batch.instance, batch.written_at_ms, batch.expires_at_ms, nonces])
    db.execute("DELETE FROM session_nonce_batches WHERE expires_at_ms <= ?", [batch.written_at_ms])


def key_from_row(row: Any) -> SessionKeyRecord:
    return SessionKeyRecord(
        key_id=row["key_id"],
        user_id=row["user_id"],
        public_key=row["public_key"],
        scopes=tuple(row["scopes"].split(",")),
        created_at_ms=int(row["created_at_ms"]),
        expires_at_ms=int(row["expires_at_ms"]),
        revoked_at_ms=int(row["revoked_at_ms"]),
    )


def batch_from_row(row: Any) -> NonceBatch:
    return NonceBatch(
        batch_id=row["batch_id"],
        instance=row["instance"],
        written_at_ms=int(row["written_at_ms"]),
        nonces=nonces_from_json(json.loads(row["nonces_json"])),
    )
