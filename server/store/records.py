"""Plain, immutable records the store keeps. Money, prices and quantities are Decimal (stored as
decimal strings, so they round-trip exactly, exponent included); times are integer ms since the epoch;
config and engine_state are JSON-compatible dicts, kept as opaque snapshots."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any, Generic, TypeVar

from engine.types import Side
from server.store.errors import InvalidRecord

T = TypeVar("T")


class SessionStatus(StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    STOPPING = "STOPPING"
    STOPPED = "STOPPED"
    FAILED = "FAILED"

    @property
    def is_finished(self) -> bool:
        return self in (SessionStatus.STOPPED, SessionStatus.FAILED)


class OrderStatus(StrEnum):
    """Usual order states; OrderRecord.status is any non-empty string so the runner may add its own."""

    PENDING_NEW = "PENDING_NEW"
    NEW = "NEW"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELLED = "CANCELLED"
    REJECTED = "REJECTED"


def check_text(name: str, value: object) -> None:
    if not isinstance(value, str) or not value:
        raise InvalidRecord(name, "must be a non-empty string")


def check_ms(name: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidRecord(name, "must be a non-negative integer of milliseconds")
    return value


def _require_decimal(name: str, value: object) -> None:
    if not isinstance(value, Decimal) or not value.is_finite():
        raise InvalidRecord(name, "must be a finite Decimal")


def require_json_object(name: str, value: object) -> str:
    """Check `value` is a JSON-compatible dict and return its canonical JSON text."""
    if not isinstance(value, dict):
        raise InvalidRecord(name, "must be a dict")
    try:
        return json.dumps(value, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise InvalidRecord(name, f"must be JSON-compatible (store Decimals as strings): {exc}") from None


def _check_decimals(record: object, *names: str) -> None:
    for name in names:
        _require_decimal(name, getattr(record, name))


@dataclass(frozen=True, slots=True)
class SessionRecord:
    session_id: str
    user_id: str
    symbol: str
    status: SessionStatus
    config: dict[str, Any]
    engine_state: dict[str, Any]
    created_at_ms: int
    updated_at_ms: int
    version: int = 1
    stopped_at_ms: int | None = None
    stop_reason: str | None = None

    def __post_init__(self) -> None:
        for name in ("session_id", "user_id", "symbol"):
            check_text(name, getattr(self, name))
        object.__setattr__(self, "status", parse_session_status(self.status))
        require_json_object("config", self.config)
        require_json_object("engine_state", self.engine_state)
        check_ms("created_at_ms", self.created_at_ms)
        check_ms("updated_at_ms", self.updated_at_ms)
        if self.stopped_at_ms is not None:
            check_ms("stopped_at_ms", self.stopped_at_ms)
        if not isinstance(self.version, int) or self.version < 1:
            raise InvalidRecord("version", "must be an integer >= 1")


def parse_session_status(value: object) -> SessionStatus:
    if isinstance(value, str) and value in SessionStatus.__members__:
        return SessionStatus(value)
    allowed = ", ".join(s.value for s in SessionStatus)
    raise InvalidRecord("status", f"must be one of {allowed}, got {value!r}")


def parse_side(value: object) -> Side:
    if isinstance(value, str) and value in Side.__members__:
        return Side(value)
    raise InvalidRecord("side", f"must be BUY or SELL, got {value!r}")


@dataclass(frozen=True, slots=True)
class OrderRecord:
    client_order_id: str
    session_id: str
    side: Side
    price: Decimal
    quantity: Decimal
    status: str
    created_at_ms: int
    updated_at_ms: int
    order_id: str | None = None
    cell_index: int | None = None

    def __post_init__(self) -> None:
        for name in ("client_order_id", "session_id", "status"):
            check_text(name, getattr(self, name))
        object.__setattr__(self, "side", parse_side(self.side))
        _check_decimals(self, "price", "quantity")
        check_ms("created_at_ms", self.created_at_ms)
        check_ms("updated_at_ms", self.updated_at_ms)
        if self.order_id is not None:
            check_text("order_id", self.order_id)
        if self.cell_index is not None and (not isinstance(self.cell_index, int) or self.cell_index < 0):
            raise InvalidRecord("cell_index", "must be a non-negative integer or None")


def _require_index(name: str, value: object, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidRecord(name, "must be a non-negative integer" + (" or None" if optional else ""))


ROUND_TRIP_DECIMAL_FIELDS = ("quantity", "entry_price", "exit_price", "fees", "profit")


@dataclass(frozen=True, slots=True)
class RoundTripRecord:
    """The round trip a fill completed in its cell (the engine's RecordRoundTrip, as stored), so a
    fill replayed from the ledger carries what the live one did."""

    cell_index: int
    quantity: Decimal
    entry_price: Decimal
    exit_price: Decimal
    fees: Decimal
    profit: Decimal
    timestamp_ms: int

    def __post_init__(self) -> None:
        _require_index("round_trip.cell_index", self.cell_index)
        for name in ROUND_TRIP_DECIMAL_FIELDS:
            _require_decimal(f"round_trip.{name}", getattr(self, name))
        check_ms("round_trip.timestamp_ms", self.timestamp_ms)


@dataclass(frozen=True, slots=True)
class FillRecord:
    """One trade against one order of a session of `user_id`. `seq` is assigned by the store on
    append: positive, strictly increasing in append order over ALL the fills of that user (so also
    within each session), not necessarily contiguous; leave it 0 when appending.

    `user_id` is required by `append_fill`; it is keyword-only with an empty default only so that
    callers written before it existed still construct records (append_fill refuses them by name)."""

    session_id: str
    user_id: str = field(default="", kw_only=True)
    order_id: str
    trade_id: str
    client_order_id: str
    side: Side
    price: Decimal
    quantity: Decimal
    fee: Decimal
    timestamp_ms: int
    fee_asset: str = "USDC"
    is_maker: bool = True
    seq: int = 0
    # The cell the filled order belongs to (None: no cell, e.g. a closing order, or not recorded) and
    # the round trip this fill completed there, if any; the round trip's cell must be this one.
    cell_index: int | None = None
    round_trip: RoundTripRecord | None = None

    def __post_init__(self) -> None:
        for name in ("session_id", "order_id", "trade_id", "client_order_id", "fee_asset"):
            check_text(name, getattr(self, name))
        if not isinstance(self.user_id, str):
            raise InvalidRecord("user_id", "must be a string")
        object.__setattr__(self, "side", parse_side(self.side))
        _check_decimals(self, "price", "quantity", "fee")
        check_ms("timestamp_ms", self.timestamp_ms)
        if not isinstance(self.seq, int) or self.seq < 0:
            raise InvalidRecord("seq", "must be a non-negative integer")
        _require_index("cell_index", self.cell_index, optional=True)
        if self.round_trip is not None:
            if not isinstance(self.round_trip, RoundTripRecord):
                raise InvalidRecord("round_trip", "must be a RoundTripRecord or None")
            if self.round_trip.cell_index != self.cell_index:
                raise InvalidRecord(
                    "round_trip",
                    f"its cell_index {self.round_trip.cell_index} must equal the fill's cell_index "
                    f"{self.cell_index}",
                )


SUMMARY_DECIMAL_FIELDS = (
    "realized_profit",
    "fees",
    "funding",
    "unrealized",
    "total_pnl",
    "grid_apr",
    "total_apr",
)


@dataclass(frozen=True, slots=True)
class SummaryRecord:
    """The result of one finished run of a session; a run is identified by (session_id, created_at_ms)."""

    session_id: str
    user_id: str
    symbol: str
    status: SessionStatus
    created_at_ms: int
    stopped_at_ms: int
    realized_profit: Decimal
    fees: Decimal
    funding: Decimal
    unrealized: Decimal
    total_pnl: Decimal
    round_trips: int
    grid_apr: Decimal
    total_apr: Decimal
    stop_reason: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("session_id", "user_id", "symbol"):
            check_text(name, getattr(self, name))
        object.__setattr__(self, "status", parse_session_status(self.status))
        check_ms("created_at_ms", self.created_at_ms)
        check_ms("stopped_at_ms", self.stopped_at_ms)
        _check_decimals(self, *SUMMARY_DECIMAL_FIELDS)
        if not isinstance(self.round_trips, int) or self.round_trips < 0:
            raise InvalidRecord("round_trips", "must be a non-negative integer")
        require_json_object("details", self.details)


@dataclass(frozen=True, slots=True)
class Lease:
    """Who runs a session (for multi-instance operation) and until when, unless renewed."""

    session_id: str
    owner: str
    expires_at_ms: int


@dataclass(frozen=True, slots=True)
class HealthStatus:
    backend: str
    ok: bool
    detail: str
    latency_ms: float


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a listing; pass `next_page_token` back to get the next, None means the end."""

    items: tuple[T, ...]
    next_page_token: str | None
