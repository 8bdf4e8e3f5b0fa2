"""A grid's configuration and its field-by-field validation.

`GridConfigError` carries every violation found, each as (field, rule), so a client can fix all its
mistakes at once; its message names each field and the rule it broke.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from engine.types import Direction, GridType

# Every decimal of a config has at most this many digits before and after the decimal point: a
# value is below 10^12 and a multiple of 10^-12 (trailing zeros after the point do not count). Within
# these limits every computation of the engine stays inside the default decimal context (28 digits,
# exponents far from its bounds; engine.plan guards what extreme market rules could add), so no
# config that passes validation can raise a decimal signal.
MAX_INTEGER_DIGITS = 12
MAX_FRACTION_DIGITS = 12
DECIMAL_LIMIT = Decimal(10) ** MAX_INTEGER_DIGITS
MIN_GRID_RATIO = Decimal("0.01")
MAX_GRID_RATIO = Decimal("0.1")
MIN_LEVERAGE = 1
MAX_LEVERAGE = 50
MAX_FEE_RATE = Decimal("0.1")
_DIRECTIONS: frozenset[object] = frozenset(Direction)
_GRID_TYPES: frozenset[object] = frozenset(GridType)


class GridConfigError(ValueError):
    def __init__(self, violations: list[tuple[str, str]]) -> None:
        if not violations:
            raise ValueError("GridConfigError needs at least one violation")
        self.violations: tuple[tuple[str, str], ...] = tuple(violations)
        super().__init__("; ".join(f"{field}: {rule}" for field, rule in self.violations))

    @property
    def field(self) -> str:
        """The first offending field."""
        return self.violations[0][0]

    @property
    def rule(self) -> str:
        return self.violations[0][1]

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(field for field, _ in self.violations)


@dataclass(frozen=True, slots=True)
class GridConfig:
    """What the user asked for. Prices and money are Decimal; `grid_levels` counts LINES incl. bounds.

    Stops: `stop_loss_price` is hit when the mark moves against the grid's inventory and
    `take_profit_price` when it moves in favour: for LONG and BOTH the stop-loss is below the price
    (mark <= stop_loss_price) and the take-profit above (mark >= take_profit_price); SHORT mirrors it.
    The old API's stop_bot_price / stop_top_price map through `stops_from_bounds`.
    `trigger_price`: the session waits (PENDING_TRIGGER) until the mark crosses it, moving from the side
    of `current_price`; the cells' sides are then decided at the trigger price.
    """

    session_key: str
    symbol: str
    direction: Direction
    lower_price: Decimal
    upper_price: Decimal
    grid_levels: int
    current_price: Decimal
    total_margin: Decimal
    grid_type: GridType = GridType.ARITHMETIC
    grid_ratio: Decimal | None = None
    leverage: int = 1
    trigger_price: Decimal | None = None
    stop_loss_price: Decimal | None = None
    take_profit_price: Decimal | None = None
    close_position_on_stop: bool = False
    maker_fee_rate: Decimal = Decimal("0.0002")
    taker_fee_rate: Decimal = Decimal("0.0005")
    # Trailing (engine.trailing): follow the price up / down one cell at a time, never beyond the
    # limit (None: no limit); `trailing_close` closes (reduce-only) the inventory of a cell a shift
    # drops instead of keeping its counter order.
    trailing_up: bool = False
    trailing_down: bool = False
    trailing_up_limit: Decimal | None = None
    trailing_down_limit: Decimal | None = None
    trailing_close: bool = False

    @property
    def anchor_price(self) -> Decimal:
        """The price the cells' sides are decided at: the trigger if there is one, else the current."""
        return self.trigger_price if self.trigger_price is not None else self.current_price


def stops_from_bounds(
    direction: Direction, stop_bot_price: Decimal | None, stop_top_price: Decimal | None
) -> tuple[Decimal | None, Decimal | None]:
    """Map the old API's price-level stops to (stop_loss_price, take_profit_price) for a direction."""
    if direction is Direction.SHORT:
        return stop_top_price, stop_bot_price
    return stop_bot_price, stop_top_price


def _shown(value: Decimal) -> str:
    """`value` for an error message, cut short: a rejected value may have thousands of digits."""
    text = str(value)
    return text if len(text) <= 32 else f"{text[:16]}...({len(text)} characters)"


def fraction_digits(value: Decimal) -> int:
    """How many digits `value` has after the decimal point, trailing zeros not counted (no context
    is used, so any finite Decimal is safe to ask)."""
    _, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)  # finite
    if exponent >= 0 or not any(digits):
        return 0
    trailing_zeros = len(digits) - len("".join(map(str, digits)).rstrip("0"))
    return max(0, -exponent - trailing_zeros)


def decimal_digits_rule(value: Decimal) -> str | None:
    """The digit limit every decimal of a config keeps, or None when `value` keeps it: finite, at most
    MAX_INTEGER_DIGITS digits before the point and MAX_FRACTION_DIGITS after it."""
    if not value.is_finite():
        return f"must be a finite decimal, got {_shown(value)}"
    if value != 0 and value.adjusted() >= MAX_INTEGER_DIGITS:
        return (
            f"must have at most {MAX_INTEGER_DIGITS} digits before the decimal point "
            f"(below {DECIMAL_LIMIT} in size), got {_shown(value)}"
        )
    if fraction_digits(value) > MAX_FRACTION_DIGITS:
        return f"must have at most {MAX_FRACTION_DIGITS} digits after the decimal point, got {_shown(value)}"
    return None


def _decimal_violations(config: GridConfig) -> list[tuple[str, str]]:
    violations: list[tuple[str, str]] = []
    money_fields = ("lower_price", "upper_price", "current_price", "total_margin")
    optional_fields = (
        "grid_ratio",
        "trigger_price",
        "stop_loss_price",
        "take_profit_price",
        "trailing_up_limit",
        "trailing_down_limit",
    )
    for name in money_fields + optional_fields + ("maker_fee_rate", "taker_fee_rate"):
        value = getattr(config, name)
        if value is None and name in optional_fields:
            continue
        if not isinstance(value, Decimal):
            violations.append((name, f"must be a finite Decimal, got {value!r}"))
            continue
        rule = decimal_digits_rule(value)
        if rule is not None:
            violations.append((name, rule))
    return violations


def config_violations(config: GridConfig) -> list[tuple[str, str]]:
    """Every rule a config breaks on its own (market rules are checked when the plan is built)."""
    violations = _decimal_violations(config)
    if violations:
        return violations
    if not isinstance(config.session_key, str) or not config.session_key:
        violations.append(("session_key", "must be a non-empty string"))
    if config.direction not in _DIRECTIONS:  # a config built from untyped input may hold anything
        violations.append(("direction", "must be LONG, SHORT or BOTH"))
    if config.grid_type not in _GRID_TYPES:
        violations.append(("grid_type", "must be ARITHMETIC or GEOMETRIC"))
    lower, upper, current = config.lower_price, config.upper_price, config.current_price
    if lower <= 0:
        violations.append(("lower_price", f"must be > 0, got {lower}"))
    if upper <= lower:
        violations.append(
            ("upper_price", f"bounds inverted: upper_price {upper} must be > lower_price {lower}")
        )
    elif not lower <= current <= upper:
        violations.append(("current_price", f"{current} is outside the bounds [{lower}, {upper}]"))
    if isinstance(config.grid_levels, bool) or not isinstance(config.grid_levels, int):
        violations.append(("grid_levels", "must be an integer"))
    elif not 2 <= config.grid_levels <= 200:
        violations.append(("grid_levels", f"must be between 2 and 200 lines, got {config.grid_levels}"))
    if config.grid_type is GridType.GEOMETRIC:
        ratio = config.grid_ratio
        if ratio is None:
            violations.append(("grid_ratio", "is required for a GEOMETRIC grid"))
        elif not MIN_GRID_RATIO <= ratio <= MAX_GRID_RATIO:
            violations.append(("grid_ratio", f"must be in [{MIN_GRID_RATIO}, {MAX_GRID_RATIO}], got {ratio}"))
    if config.total_margin <= 0:
        violations.append(("total_margin", f"must be > 0, got {config.total_margin}"))
    leverage = config.leverage
    if isinstance(leverage, bool) or not isinstance(leverage, int):
        violations.append(("leverage", "must be an integer"))
    elif not MIN_LEVERAGE <= leverage <= MAX_LEVERAGE:
        violations.append(("leverage", f"must be between {MIN_LEVERAGE} and {MAX_LEVERAGE}, got {leverage}"))
    for name in ("maker_fee_rate", "taker_fee_rate"):
        rate: Decimal = getattr(config, name)
        if not -MAX_FEE_RATE < rate < MAX_FEE_RATE:
            violations.append((name, f"must be a fraction in (-{MAX_FEE_RATE}, {MAX_FEE_RATE}), got {rate}"))
    if upper > lower:
        violations.extend(_price_level_violations(config))
        violations.extend(_trailing_violations(config))
    return violations


def _trailing_violations(config: GridConfig) -> list[tuple[str, str]]:
    violations: list[tuple[str, str]] = []
    for name in ("trailing_up", "trailing_down", "trailing_close"):
        if not isinstance(getattr(config, name), bool):
            violations.append((name, "must be a boolean"))
    up_limit, down_limit = config.trailing_up_limit, config.trailing_down_limit
    if up_limit is not None:
        if not config.trailing_up:
            violations.append(("trailing_up_limit", "needs trailing_up"))
        elif up_limit <= config.upper_price:
            violations.append(
                ("trailing_up_limit", f"must be above upper_price {config.upper_price}, got {up_limit}")
            )
    if down_limit is not None:
        if not config.trailing_down:
            violations.append(("trailing_down_limit", "needs trailing_down"))
        elif not 0 < down_limit < config.lower_price:
            violations.append(
                ("trailing_down_limit", f"must be in (0, lower_price {config.lower_price}), got {down_limit}")
            )
    return violations


def _price_level_violations(config: GridConfig) -> list[tuple[str, str]]:
    violations: list[tuple[str, str]] = []
    lower, upper, current = config.lower_price, config.upper_price, config.current_price
    trigger = config.trigger_price
    if trigger is not None:
        if not lower < trigger < upper:
            violations.append(("trigger_price", f"{trigger} must be inside the bounds ({lower}, {upper})"))
        elif trigger == current:
            violations.append(("trigger_price", "must differ from current_price (it would never be crossed)"))
    anchor = config.anchor_price
    short = config.direction is Direction.SHORT
    stop_loss, take_profit = config.stop_loss_price, config.take_profit_price
    if stop_loss is not None:
        if stop_loss <= 0:
            violations.append(("stop_loss_price", f"must be > 0, got {stop_loss}"))
        elif short and stop_loss <= anchor:
            violations.append(
                ("stop_loss_price", f"must be above {anchor} for a SHORT grid, got {stop_loss}")
            )
        elif not short and stop_loss >= anchor:
            violations.append(
                ("stop_loss_price", f"must be below {anchor} for a LONG/BOTH grid, got {stop_loss}")
            )
    if take_profit is not None:
        if take_profit <= 0:
            violations.append(("take_profit_price", f"must be > 0, got {take_profit}"))
        elif short and take_profit >= anchor:
            violations.append(
                ("take_profit_price", f"must be below {anchor} for a SHORT grid, got {take_profit}")
            )
        elif not short and take_profit <= anchor:
            violations.append(
                ("take_profit_price", f"must be above {anchor} for a LONG/BOTH grid, got {take_profit}")
            )
    return violations
