"""Records to flat rows and back, shared by both backends so they store exactly the same values:
Decimals as decimal strings, config/engine_state/details as JSON text, enums as their names."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from server.store.errors import InvalidRecord
from server.store.records import (
    ROUND_TRIP_DECIMAL_FIELDS,
    SUMMARY_DECIMAL_FIELDS,
    FillRecord,
    OrderRecord,
    RoundTripRecord,
    SessionRecord,
    SummaryRecord,
    require_json_object,
)

Row = dict[str, Any]


def _decimal(row: Mapping[str, Any], name: str) -> Decimal:
    try:
        return Decimal(row[name])
    except (InvalidOperation, TypeError) as exc:
        raise InvalidRecord(name, f"stored value {row[name]!r} is not a decimal string") from exc


def session_to_row(record: SessionRecord) -> Row:
    return {
        "session_id": record.session_id,
        "user_id": record.user_id,
        "symbol": record.symbol,
        "status": record.status.value,
        "config_json": require_json_object("config", record.config),
        "engine_state_json": require_json_object("engine_state", record.engine_state),
        "version": record.version,
        "created_at_ms": record.created_at_ms,
        "updated_at_ms": record.updated_at_ms,
        "stopped_at_ms": record.stopped_at_ms,
        "stop_reason": record.stop_reason,
    }


def session_from_row(row: Mapping[str, Any]) -> SessionRecord:
    return SessionRecord(
        session_id=row["session_id"],
        user_id=row["user_id"],
        symbol=row["symbol"],
        status=row["status"],
        config=json.loads(row["config_json"]),
        engine_state=json.loads(row["engine_state_json"]),
        version=int(row["version"]),
        created_at_ms=int(row["created_at_ms"]),
        updated_at_ms=int(row["updated_at_ms"]),
        stopped_at_ms=None if row["stopped_at_ms"] is None else int(row["stopped_at_ms"]),
        stop_reason=row["stop_reason"],
    )


def order_to_row(record: OrderRecord) -> Row:
    return {
        "client_order_id": record.client_order_id,
        "session_id": record.session_id,
        "order_id": record.order_id,
        "side": record.side.value,
        "price": str(record.price),
        "quantity": str(record.quantity),
        "status": record.status,
        "cell_index": record.cell_index,
        "created_at_ms": record.created_at_ms,
        "updated_at_ms": record.updated_at_ms,
    }


def order_from_row(row: Mapping[str, Any]) -> OrderRecord:
    return OrderRecord(
        client_order_id=row["client_order_id"],
        session_id=row["session_id"],
        order_id=row["order_id"],
        side=row["side"],
        price=_decimal(row, "price"),
        quantity=_decimal(row, "quantity"),
        status=row["status"],
        cell_index=row["cell_index"],
        created_at_ms=int(row["created_at_ms"]),
        updated_at_ms=int(row["updated_at_ms"]),
    )


def fill_to_row(record: FillRecord, seq: int) -> Row:
    return {
        "session_id": record.session_id,
        "user_id": record.user_id,
        "order_id": record.order_id,
        "trade_id": record.trade_id,
        "client_order_id": record.client_order_id,
        "side": record.side.value,
        "price": str(record.price),
        "quantity": str(record.quantity),
        "fee": str(record.fee),
        "fee_asset": record.fee_asset,
        "is_maker": bool(record.is_maker),
        "timestamp_ms": record.timestamp_ms,
        "seq": seq,
        "cell_index": record.cell_index,
        "round_trip": round_trip_to_doc(record.round_trip),
    }


def round_trip_to_doc(record: RoundTripRecord | None) -> Row | None:
    """The embedded document (Mongo) that SQLite flattens into round_trip_* columns."""
    if record is None:
        return None
    doc: Row = {"cell_index": record.cell_index, "timestamp_ms": record.timestamp_ms}
    doc.update((name, str(getattr(record, name))) for name in ROUND_TRIP_DECIMAL_FIELDS)
    return doc


def round_trip_from_doc(doc: Mapping[str, Any] | None) -> RoundTripRecord | None:
    if doc is None:
        return None
    decimals = {name: _decimal(doc, name) for name in ROUND_TRIP_DECIMAL_FIELDS}
    return RoundTripRecord(
        cell_index=int(doc["cell_index"]), timestamp_ms=int(doc["timestamp_ms"]), **decimals
    )


ROUND_TRIP_COLUMN_PREFIX = "round_trip_"


def flatten_round_trip(row: Row) -> Row:
    """A fill row with its round_trip document spread over nullable round_trip_<field> columns."""
    flat = {name: value for name, value in row.items() if name != "round_trip"}
    doc = row.get("round_trip")
    for name in ("cell_index", "timestamp_ms", *ROUND_TRIP_DECIMAL_FIELDS):
        flat[ROUND_TRIP_COLUMN_PREFIX + name] = None if doc is None else doc[name]
    return flat


def _stored_round_trip(row: Mapping[str, Any]) -> RoundTripRecord | None:
    if "round_trip" in row:  # Mongo: the embedded document
        return round_trip_from_doc(row["round_trip"])
    if row.get(ROUND_TRIP_COLUMN_PREFIX + "cell_index") is None:  # SQLite: no round trip, or a v2 row
        return None
    prefix = len(ROUND_TRIP_COLUMN_PREFIX)
    return round_trip_from_doc(
        {name[prefix:]: value for name, value in row.items() if name.startswith(ROUND_TRIP_COLUMN_PREFIX)}
    )


def fill_from_row(row: Mapping[str, Any]) -> FillRecord:
    return FillRecord(
        session_id=row["session_id"],
        user_id=row["user_id"],
        order_id=row["order_id"],
        trade_id=row["trade_id"],
        client_order_id=row["client_order_id"],
        side=row["side"],
        price=_decimal(row, "price"),
        quantity=_decimal(row, "quantity"),
        fee=_decimal(row, "fee"),
        fee_asset=row["fee_asset"],
        is_maker=bool(row["is_maker"]),
        timestamp_ms=int(row["timestamp_ms"]),
        seq=int(row["seq"]),
        # Fills stored before these fields existed have neither: unknown cell, no round trip.
        cell_index=None if row.get("cell_index") is None else int(row["cell_index"]),
        round_trip=_stored_round_trip(row),
    )


def summary_to_row(record: SummaryRecord) -> Row:
    row: Row = {
        "session_id": record.session_id,
        "user_id": record.user_id,
        "symbol": record.symbol,
        "status": record.status.value,
        "created_at_ms": record.created_at_ms,
        "stopped_at_ms": record.stopped_at_ms,
        "round_trips": record.round_trips,
        "stop_reason": record.stop_reason,
        "details_json": require_json_object("details", record.details),
    }
    for name in SUMMARY_DECIMAL_FIELDS:
        row[name] = str(getattr(record, name))
    return row


def summary_from_row(row: Mapping[str, Any]) -> SummaryRecord:
    decimals = {name: _decimal(row, name) for name in SUMMARY_DECIMAL_FIELDS}
    return SummaryRecord(
        session_id=row["session_id"],
        user_id=row["user_id"],
        symbol=row["symbol"],
        status=row["status"],
        created_at_ms=int(row["created_at_ms"]),
        stopped_at_ms=int(row["stopped_at_ms"]),
        round_trips=int(row["round_trips"]),
        stop_reason=row["stop_reason"],
        details=json.loads(row["details_json"]),
        **decimals,
    )


def encode_page_token(created_at_ms: int, key: str) -> str:
    """Keyset cursor: the sort key of the last item returned. Listings run newest first."""
    raw = json.dumps([created_at_ms, key], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def cut_page(rows: list[Row], page_size: int) -> tuple[list[Row], str | None]:
    """The first page_size of rows fetched with a limit of page_size + 1, and the token of the next
    page (None if this is the last): a keyset page newest first by (created_at_ms, session_id)."""
    if len(rows) <= page_size:
        return rows, None
    last = rows[page_size - 1]
    return rows[:page_size], encode_page_token(int(last["created_at_ms"]), str(last["session_id"]))


def decode_page_token(token: str) -> tuple[int, str]:
    try:
        padded = token + "=" * (-len(token) % 4)
        created_at_ms, key = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, TypeError, binascii.Error):
        raise InvalidRecord("page_token", "is not a token this store issued") from None
    if not isinstance(created_at_ms, int) or not isinstance(key, str):
        raise InvalidRecord("page_token", "is not a token this store issued")
    return created_at_ms, key
