"""Small value types shared by every part of the engine."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

ZERO = Decimal(0)


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class Direction(StrEnum):
    """Which cells of the grid trade: LONG (below price), SHORT (above) or BOTH (neutral)."""

    LONG = "LONG"
    SHORT = "SHORT"
    BOTH = "BOTH"


class GridType(StrEnum):
    ARITHMETIC = "ARITHMETIC"
    GEOMETRIC = "GEOMETRIC"


class StopReason(StrEnum):
    MANUAL = "MANUAL"
    STOP_LOSS = "STOP_LOSS"
    TAKE_PROFIT = "TAKE_PROFIT"
    ERROR = "ERROR"
