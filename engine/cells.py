"""The per-cell state machine.

A cell is the band between two adjacent lines and holds at most one live order. A LONG cell (entry side
BUY) waits to buy at its lower line; the fill flips it to sell what it holds at its upper line; that fill
books a round trip and flips it back. A SHORT cell mirrors this. The order lifecycle of the cell's
current order follows `TRANSITIONS`; an action with no entry there is illegal and reported as an
anomaly by `step`, never raised.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import NamedTuple

from engine.types import ZERO, Side


class CellStatus(StrEnum):
    IDLE = "IDLE"  # no live order (not started, rejected, cancelled after a stop, inactive cell)
    PLACING = "PLACING"  # PlaceOrder issued, the venue has not acknowledged it yet
    OPEN = "OPEN"  # acknowledged and resting
    CANCELLING = "CANCELLING"  # CancelOrder issued, not confirmed yet


class CellAction(StrEnum):
    PLACE = "place"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    FILL = "fill"
    COMPLETED = "completed"  # the order is fully filled
    CANCEL_REQUESTED = "cancel_requested"
    CANCELLED = "cancelled"


TRANSITIONS: dict[tuple[CellStatus, CellAction], CellStatus] = {
    (CellStatus.IDLE, CellAction.PLACE): CellStatus.PLACING,
    (CellStatus.PLACING, CellAction.ACCEPTED): CellStatus.OPEN,
    (CellStatus.PLACING, CellAction.REJECTED): CellStatus.IDLE,
    (CellStatus.PLACING, CellAction.FILL): CellStatus.OPEN,  # a fill may overtake the acknowledgement
    (CellStatus.PLACING, CellAction.COMPLETED): CellStatus.IDLE,
    (CellStatus.PLACING, CellAction.CANCELLED): CellStatus.IDLE,
    (CellStatus.PLACING, CellAction.CANCEL_REQUESTED): CellStatus.CANCELLING,
    (CellStatus.OPEN, CellAction.ACCEPTED): CellStatus.OPEN,
    (CellStatus.OPEN, CellAction.FILL): CellStatus.OPEN,
    (CellStatus.OPEN, CellAction.COMPLETED): CellStatus.IDLE,
    (CellStatus.OPEN, CellAction.CANCELLED): CellStatus.IDLE,
    (CellStatus.OPEN, CellAction.CANCEL_REQUESTED): CellStatus.CANCELLING,
    (CellStatus.CANCELLING, CellAction.ACCEPTED): CellStatus.CANCELLING,
    (CellStatus.CANCELLING, CellAction.REJECTED): CellStatus.IDLE,
    (CellStatus.CANCELLING, CellAction.FILL): CellStatus.CANCELLING,
    (CellStatus.CANCELLING, CellAction.COMPLETED): CellStatus.IDLE,
    (CellStatus.CANCELLING, CellAction.CANCELLED): CellStatus.IDLE,
}

LIVE_STATUSES = frozenset({CellStatus.PLACING, CellStatus.OPEN, CellStatus.CANCELLING})


# Keyed by the enums' plain string values: hashing a str is cached, hashing an Enum member is a Python
# call, and this lookup sits on the hot path of every fill.
_TRANSITIONS_BY_VALUE = {(status.value, action.value): new for (status, action), new in TRANSITIONS.items()}


def transition(status: CellStatus, action: CellAction) -> CellStatus | None:
    """The status after `action`, or None when the action is illegal in `status`."""
    return _TRANSITIONS_BY_VALUE.get((status._value_, action._value_))


class CellState(NamedTuple):
    """One cell. `side` is the side of the cell's current (or next) order: equal to `entry_side` on the
    entry leg, opposite on the exit leg. Entry accumulators describe what the cell holds; exit
    accumulators what the exit leg has sold (bought back) of it so far."""

    entry_side: Side | None  # None: the cell does not trade
    side: Side | None
    status: CellStatus = CellStatus.IDLE
    cycle: int = -1  # sequence number of the current order's client_order_id; -1 before the first
    client_order_id: str | None = None
    order_id: str | None = None
    order_quantity: Decimal = ZERO
    order_filled: Decimal = ZERO
    trade_ids: frozenset[tuple[str, str]] = frozenset()  # (order_id, trade_id) applied to this order
    holding: Decimal = ZERO  # base quantity bought (LONG) or sold (SHORT) on the entry leg
    entry_value: Decimal = ZERO  # sum of quantity * price of the held entry trades
    entry_fees: Decimal = ZERO
    exit_filled: Decimal = ZERO
    exit_value: Decimal = ZERO
    exit_fees: Decimal = ZERO
    previous_client_order_id: str | None = None  # to recognise late or repeated events of the last order
    previous_trade_ids: frozenset[tuple[str, str]] = frozenset()

    @property
    def is_live(self) -> bool:
        return self.status in LIVE_STATUSES


def initial_cell(entry_side: Side | None) -> CellState:
    return CellState(entry_side=entry_side, side=entry_side)
