"""Plain Python values -> request messages: decimals as text, enums by name.

Prices, quantities and money are `Decimal`, `int` or decimal text; a `float` is refused (binary
floats cannot hold most prices exactly). Enums are given by their short name ("LONG"), their full
proto name ("DIRECTION_LONG") or their proto value.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TypeAlias

from google.protobuf.descriptor import EnumDescriptor

from orderly_grid.v1 import grid_pb2, grid_service_pb2

DecimalLike: TypeAlias = Decimal | int | str
"""A decimal value: Decimal, int or decimal text. Never float."""

DirectionLike: TypeAlias = "str | grid_pb2.Direction.ValueType"
GridTypeLike: TypeAlias = "str | grid_pb2.GridType.ValueType"
GridStatusLike: TypeAlias = "str | grid_pb2.GridStatus.ValueType"


def decimal_text(field: str, value: DecimalLike | None) -> str:
    """The wire text of a decimal field ("" when None). Raises ValueError naming the field."""
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        raise ValueError(f"{field}: must be a Decimal, int or decimal string, not {type(value).__name__}")
    try:
        number = Decimal(value.strip()) if isinstance(value, str) else Decimal(value)
    except InvalidOperation:
        raise ValueError(f"{field}: {value!r} is not a decimal number") from None
    if not number.is_finite():
        raise ValueError(f"{field}: must be a finite number")
    return str(number)


_ENUMS = grid_pb2.DESCRIPTOR.enum_types_by_name


def _prefix(enum: EnumDescriptor) -> str:
    # buf's rule: every value starts with the type's name in UPPER_SNAKE_CASE, e.g. GRID_STATUS_.
    return enum.values[0].name.removesuffix("UNSPECIFIED")


def enum_value(field: str, enum: EnumDescriptor, value: str | int) -> int:
    """The proto value of an enum given by short name, full name or number (case-insensitive)."""
    if isinstance(value, int):
        if value not in enum.values_by_number or value == 0:
            raise ValueError(f"{field}: {value} is not a valid {enum.name}")
        return value
    prefix = _prefix(enum)
    name = value.strip().upper()
    for candidate in (name, prefix + name):
        found = enum.values_by_name.get(candidate)
        if found is not None and found.number != 0:
            return found.number
    allowed = ", ".join(v.name.removeprefix(prefix) for v in enum.values if v.number != 0)
    raise ValueError(f"{field}: {value!r} is not one of {allowed}")


def enum_name(enum_type: str, value: int) -> str:
    """The short name of a value of the grid.proto enum `enum_type` ("LONG" for DIRECTION_LONG)."""
    enum = _ENUMS[enum_type]
    found = enum.values_by_number.get(value)
    return found.name.removeprefix(_prefix(enum)) if found is not None else str(value)


def direction(value: DirectionLike) -> grid_pb2.Direction.ValueType:
    return grid_pb2.Direction.ValueType(enum_value("direction", _ENUMS["Direction"], value))


def grid_type(value: GridTypeLike) -> grid_pb2.GridType.ValueType:
    return grid_pb2.GridType.ValueType(enum_value("grid_type", _ENUMS["GridType"], value))


def grid_status(value: GridStatusLike | None) -> grid_pb2.GridStatus.ValueType:
    """A status filter; None means any."""
    if value is None:
        return grid_pb2.GRID_STATUS_UNSPECIFIED
    return grid_pb2.GridStatus.ValueType(enum_value("status", _ENUMS["GridStatus"], value))


@dataclass(frozen=True, slots=True)
class GridParams:
    """The parameters of a grid, as `preview_grid` and `start_grid` take them.

    `grid_levels` counts price LINES including both bounds (at least 2). The server lays the grid
    out around the venue's live mark price; `current_price`, when given, is what you believe the
    price is, and a start is refused when it is further than `price_tolerance` (default 1 %, at most
    5 %) from the mark. Optional prices are None when not set.
    """

    ticker: str
    lower_bound: DecimalLike
    upper_bound: DecimalLike
    grid_levels: int
    total_margin: DecimalLike
    current_price: DecimalLike | None = None
    direction: DirectionLike = "BOTH"
    grid_type: GridTypeLike = "ARITHMETIC"
    grid_ratio: DecimalLike | None = None
    leverage: int = 1
    trigger_price: DecimalLike | None = None
    stop_loss_price: DecimalLike | None = None
    take_profit_price: DecimalLike | None = None
    close_position_on_stop: bool = False
    price_tolerance: DecimalLike | None = None
    # Trailing: follow the price up / down one cell at a time (never beyond the limit, when given);
    # `trailing_close` closes a dropped cell's inventory (reduce-only) instead of keeping its counter.
    trailing_up: bool = False
    trailing_down: bool = False
    trailing_up_limit: DecimalLike | None = None
    trailing_down_limit: DecimalLike | None = None
    trailing_close: bool = False

    def to_config(self) -> grid_pb2.GridConfig:
        """The GridConfig message; ValueError naming the field for a value of the wrong kind (the
        server checks the rules: bounds, tick sizes, minimum notional)."""
        return grid_pb2.GridConfig(
            ticker=self.ticker,
            direction=direction(self.direction),
            current_price=decimal_text("current_price", self.current_price),
            upper_bound=decimal_text("upper_bound", self.upper_bound),
            lower_bound=decimal_text("lower_bound", self.lower_bound),
            grid_levels=self.grid_levels,
            total_margin=decimal_text("total_margin", self.total_margin),
            grid_type=grid_type(self.grid_type),
            grid_ratio=decimal_text("grid_ratio", self.grid_ratio),
            leverage=self.leverage,
            trigger_price=decimal_text("trigger_price", self.trigger_price),
            stop_loss_price=decimal_text("stop_loss_price", self.stop_loss_price),
            take_profit_price=decimal_text("take_profit_price", self.take_profit_price),
            close_position_on_stop=self.close_position_on_stop,
            price_tolerance=decimal_text("price_tolerance", self.price_tolerance),
            trailing_up=self.trailing_up,
            trailing_down=self.trailing_down,
            trailing_up_limit=decimal_text("trailing_up_limit", self.trailing_up_limit),
            trailing_down_limit=decimal_text("trailing_down_limit", self.trailing_down_limit),
            trailing_close=self.trailing_close,
        )

    def to_start_request(self) -> grid_service_pb2.StartGridRequest:
        """StartGridRequest (fields 1-14 and 16-21 are GridConfig's, same numbers), without `user_auth`."""
        return grid_service_pb2.StartGridRequest.FromString(self.to_config().SerializeToString())
