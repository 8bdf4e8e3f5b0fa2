"""Argument checks and change sets shared by both backends, so both reject the same bad input."""

from __future__ import annotations

from typing import Any

from server.store.errors import InvalidRecord
from server.store.records import FillRecord, SessionStatus, parse_session_status, require_json_object

# The records' own field checks, re-exported: the backends call them as check.check_text / check_ms.
from server.store.records import check_ms as check_ms
from server.store.records import check_text as check_text

MAX_FILL_LIMIT = 10_000
MAX_SEQ = 2**63 - 1  # seqs are signed 64-bit integers in both backends (SQLite INTEGER, BSON int64)
MAX_PAGE_SIZE = 1000
MAX_TIME_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z, the last instant a BSON date can show


def check_positive_ms(name: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise InvalidRecord(name, "must be a positive integer of milliseconds")
    return value


def lease_expiry(owner: str, ttl_ms: int, now_ms: int) -> int:
    """When a lease taken or renewed by owner at now_ms for ttl_ms ends."""
    check_text("owner", owner)
    return check_ms("now_ms", now_ms) + check_positive_ms("ttl_ms", ttl_ms)


def check_fill_to_append(record: FillRecord) -> None:
    """What a record may leave at its default but an append may not: the ledger is numbered per user."""
    if not record.user_id:
        raise InvalidRecord("user_id", "must be a non-empty string (the owner of the fill's session)")


def check_page_size(page_size: int) -> None:
    if not isinstance(page_size, int) or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidRecord("page_size", f"must be an integer from 1 to {MAX_PAGE_SIZE}")


def check_fill_window(after_seq: int, limit: int) -> None:
    if not isinstance(after_seq, int) or not 0 <= after_seq <= MAX_SEQ:
        raise InvalidRecord("after_seq", f"must be an integer from 0 to {MAX_SEQ}")
    if not isinstance(limit, int) or not 1 <= limit <= MAX_FILL_LIMIT:
        raise InvalidRecord("limit", f"must be an integer from 1 to {MAX_FILL_LIMIT}")


def check_nonce(user_id: str, nonce: str, expires_at_ms: int, now_ms: int) -> None:
    check_text("user_id", user_id)
    check_text("nonce", nonce)
    check_ms("now_ms", now_ms)
    check_ms("expires_at_ms", expires_at_ms)
    if expires_at_ms <= now_ms:
        raise InvalidRecord("expires_at_ms", "must be later than now_ms")
    if expires_at_ms > MAX_TIME_MS:
        raise InvalidRecord("expires_at_ms", "must be before year 10000")


def check_time_range(start_time_ms: int | None, end_time_ms: int | None) -> None:
    if start_time_ms is not None:
        check_ms("start_time_ms", start_time_ms)
    if end_time_ms is not None:
        check_ms("end_time_ms", end_time_ms)
    if start_time_ms is not None and end_time_ms is not None and end_time_ms < start_time_ms:
        raise InvalidRecord("end_time_ms", "must not be earlier than start_time_ms")


def optional_status(status: SessionStatus | str | None) -> str | None:
    return None if status is None else parse_session_status(status).value


def session_changes(
    *,
    updated_at_ms: int,
    status: SessionStatus | None,
    config: dict[str, Any] | None,
    engine_state: dict[str, Any] | None,
    stopped_at_ms: int | None,
    stop_reason: str | None,
) -> dict[str, Any]:
    """The stored columns an update sets (version excluded: the backend increments it atomically)."""
    changes: dict[str, Any] = {"updated_at_ms": check_ms("updated_at_ms", updated_at_ms)}
    if status is not None:
        changes["status"] = parse_session_status(status).value
    if config is not None:
        changes["config_json"] = require_json_object("config", config)
    if engine_state is not None:
        changes["engine_state_json"] = require_json_object("engine_state", engine_state)
    if stopped_at_ms is not None:
        changes["stopped_at_ms"] = check_ms("stopped_at_ms", stopped_at_ms)
    if stop_reason is not None:
        check_text("stop_reason", stop_reason)
        changes["stop_reason"] = stop_reason
    return changes


def check_expected_version(expected_version: int) -> None:
    if not isinstance(expected_version, int) or expected_version < 1:
        raise InvalidRecord("expected_version", "must be an integer >= 1")
