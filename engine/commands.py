"""Commands the engine returns: imperative requests for the shell to carry out, and records to keep."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from engine.types import Side, StopReason


class OrderType(StrEnum):
    LIMIT = "LIMIT"
    POST_ONLY = "POST_ONLY"
    MARKET = "MARKET"


# Every cell order: a grid order may never take. One that would is cancelled by the venue instead,
# and its cell waits until the mark lets it rest again (engine.order_events, engine.stops).
GRID_ORDER_TYPE = OrderType.POST_ONLY


@dataclass(frozen=True, slots=True)
class PlaceOrder:
    client_order_id: str
    side: Side
    order_type: OrderType
    quantity: Decimal
    price: Decimal | None  # None for MARKET
    reduce_only: bool = False
    cell_index: int | None = None  # None for orders that belong to no cell (a closing order)


@dataclass(frozen=True, slots=True)
class CancelOrder:
    client_order_id: str
    order_id: str | None  # None while the venue has not acknowledged the order yet


@dataclass(frozen=True, slots=True)
class ClosePosition:
    """Flatten the session's position with a reduce-only market order."""

    client_order_id: str
    side: Side
    quantity: Decimal


@dataclass(frozen=True, slots=True)
class RecordFill:
    """A trade the engine applied, to append to the fill ledger and publish to subscribers."""

    client_order_id: str
    order_id: str
    trade_id: str
    cell_index: int | None
    side: Side
    price: Decimal
    quantity: Decimal
    fee: Decimal
    timestamp_ms: int


@dataclass(frozen=True, slots=True)
class RecordRoundTrip:
    """A completed buy/sell pair in one cell, with its realized profit net of both legs' fees."""

    cell_index: int
    quantity: Decimal
    entry_price: Decimal
    exit_price: Decimal
    fees: Decimal
    profit: Decimal
    timestamp_ms: int


@dataclass(frozen=True, slots=True)
class ReportAnomaly:
    """Something the engine refused to act on (a fill for an unknown order, an illegal transition):
    kept for operators, never a crash."""

    kind: str
    detail: str


@dataclass(frozen=True, slots=True)
class QueryOrder:
    """Ask the venue what became of an order (its status and trades) and feed the answer back as
    events: the engine cannot tell a filled order from a cancelled one by its absence."""

    client_order_id: str
    order_id: str | None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class SessionStopped:
    reason: StopReason
    detail: str = ""


class ShiftDirection(StrEnum):
    UP = "UP"
    DOWN = "DOWN"


@dataclass(frozen=True, slots=True)
class GridShifted:
    """A trailing shift (engine.trailing): the grid moved one cell. `dropped_cell` / `added_cell` are
    cell numbers (the numbers client_order_ids carry); the bounds are the grid's range after it."""

    direction: ShiftDirection
    dropped_cell: int
    added_cell: int
    lower_price: Decimal
    upper_price: Decimal
    mark_price: Decimal
    timestamp_ms: int


Command = (
    PlaceOrder
    | CancelOrder
    | ClosePosition
    | QueryOrder
    | RecordFill
    | RecordRoundTrip
    | ReportAnomaly
    | SessionStopped
    | GridShifted
)
