"""A grid configuration as the API receives it (decimal text, optional enums), and its translation
into the engine's GridConfig with errors that name the API's field and the rule broken.

The API names a few fields differently from the engine (`lower_bound` is the engine's `lower_price`);
`API_FIELD_NAMES` maps the engine's names back so a client always sees the field it sent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from engine import Direction, GridConfig, GridConfigError, GridType
from engine.config import config_violations, decimal_digits_rule
from server.api.errors import DomainError, ErrorReason, FieldViolation

API_FIELD_NAMES = {"lower_price": "lower_bound", "upper_price": "upper_bound", "session_key": "ticker"}
MAX_TICKER_LENGTH = 64
MAX_DECIMAL_TEXT_LENGTH = 40


@dataclass(frozen=True, slots=True)
class GridConfigInput:
    """`orderly_grid.v1.GridConfig` without protobuf. Decimals are text ("" = not set); an enum that
    was not set (UNSPECIFIED) is None."""

    ticker: str
    direction: Direction | None
    current_price: str
    upper_bound: str
    lower_bound: str
    grid_levels: int
    total_margin: str
    grid_type: GridType | None = None
    grid_ratio: str = ""
    leverage: int = 0
    trigger_price: str = ""
    stop_loss_price: str = ""
    take_profit_price: str = ""
    close_position_on_stop: bool = False
    price_tolerance: str = ""  # "" = the server's default (server.service.price_guard)
    trailing_up: bool = False
    trailing_down: bool = False
    trailing_up_limit: str = ""
    trailing_down_limit: str = ""
    trailing_close: bool = False


_DECIMAL_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)


def _decimal(name: str, text: str, violations: list[FieldViolation], *, required: bool) -> Decimal | None:
    """The field's value, or None with a violation appended. Every decimal field keeps the same
    limits (documented in the protos and the README): at most MAX_DECIMAL_TEXT_LENGTH characters,
    finite, and at most 12 digits before and 12 after the decimal point (engine.config)."""
    stripped = text.strip()
    if not stripped:
        if required:
            violations.append(FieldViolation(name, 'is required (a decimal string such as "42500.5")'))
        return None
    if len(stripped) > MAX_DECIMAL_TEXT_LENGTH:
        rule = (
            f"must be a decimal string of at most {MAX_DECIMAL_TEXT_LENGTH} characters, got {len(stripped)}"
        )
        violations.append(FieldViolation(name, rule))
        return None
    # Python's Decimal also reads underscores and non-ASCII digits ("４００００"): a price is
    # plain ASCII decimal text, optionally with an exponent.
    if _DECIMAL_TEXT.fullmatch(stripped) is None:
        violations.append(FieldViolation(name, f"must be a decimal string such as 42500.5, got {stripped!r}"))
        return None
    try:
        value = Decimal(stripped)
    except InvalidOperation:
        violations.append(FieldViolation(name, f"must be a decimal string, got {stripped!r}"))
        return None
    digits_rule = decimal_digits_rule(value)
    if digits_rule is not None:
        violations.append(FieldViolation(name, digits_rule))
        return None
    return value


def check_ticker(ticker: str) -> str:
    text = ticker.strip()
    if not text:
        raise DomainError.invalid_field("ticker", "is required (e.g. BTCUSDT or PERP_BTC_USDC)")
    if len(text) > MAX_TICKER_LENGTH or not all(ch.isalnum() or ch in "_-/:" for ch in text):
        raise DomainError.invalid_field("ticker", "must be a symbol such as BTCUSDT or PERP_BTC_USDC")
    return text


def to_engine_config(
    source: GridConfigInput, session_key: str, symbol: str, mark_price: Decimal | None = None
) -> GridConfig:
    """The engine config for `source`, laid out around `mark_price` (the venue's live mark; None:
    around the request's current_price), or DomainError INVALID_ARGUMENT listing every bad field."""
    violations: list[FieldViolation] = []
    if source.direction is None:
        violations.append(FieldViolation("direction", "is required: LONG, SHORT or BOTH"))
    grid_type = source.grid_type or GridType.ARITHMETIC
    decimals = {
        name: _decimal(name, getattr(source, name), violations, required=True)
        for name in ("upper_bound", "lower_bound", "total_margin")
    }
    optional = {
        name: _decimal(name, getattr(source, name), violations, required=False)
        for name in (
            "current_price",
            "grid_ratio",
            "trigger_price",
            "stop_loss_price",
            "take_profit_price",
            "trailing_up_limit",
            "trailing_down_limit",
        )
    }
    if violations:
        named = {v.field for v in violations}
        violations.extend(
            v for v in _unparsed_field_violations(source, grid_type, optional) if v.field not in named
        )
        raise invalid(violations)
    config = GridConfig(
        session_key=session_key,
        symbol=symbol,
        direction=source.direction or Direction.BOTH,
        lower_price=decimals["lower_bound"] or Decimal(0),
        upper_price=decimals["upper_bound"] or Decimal(0),
        grid_levels=source.grid_levels,
        current_price=mark_price if mark_price is not None else optional["current_price"] or Decimal(0),
        total_margin=decimals["total_margin"] or Decimal(0),
        grid_type=grid_type,
        grid_ratio=optional["grid_ratio"] if grid_type is GridType.GEOMETRIC else None,
        leverage=source.leverage or 1,
        trigger_price=optional["trigger_price"],
        stop_loss_price=optional["stop_loss_price"],
        take_profit_price=optional["take_profit_price"],
        close_position_on_stop=source.close_position_on_stop,
        trailing_up=source.trailing_up,
        trailing_down=source.trailing_down,
        trailing_up_limit=optional["trailing_up_limit"],
        trailing_down_limit=optional["trailing_down_limit"],
        trailing_close=source.trailing_close,
    )
    own = config_violations(config)
    if own:
        raise invalid([_api_violation(f, rule, config, mark_price) for f, rule in own])
    return config


# The rules of the fields that do not depend on any decimal's value: checked even when a decimal
# could not be read, so a client sees every violation at once.
_INDEPENDENT_FIELDS = ("grid_levels", "leverage", "grid_ratio")


def _unparsed_field_violations(
    source: GridConfigInput, grid_type: GridType, optional: dict[str, Decimal | None]
) -> list[FieldViolation]:
    """The violations of `_INDEPENDENT_FIELDS`, found on a config whose prices are stand-ins."""
    stand_in = GridConfig(
        session_key="-",
        symbol="-",
        direction=source.direction or Direction.BOTH,
        lower_price=Decimal(1),
        upper_price=Decimal(3),
        grid_levels=source.grid_levels,
        current_price=Decimal(2),
        total_margin=Decimal(1),
        grid_type=grid_type,
        grid_ratio=optional["grid_ratio"] if grid_type is GridType.GEOMETRIC else None,
        leverage=source.leverage or 1,
    )
    return [
        FieldViolation(field, rule)
        for field, rule in config_violations(stand_in)
        if field in _INDEPENDENT_FIELDS
    ]


def api_rule_text(rule: str) -> str:
    """An engine rule as the API says it: the engine's names of fields (`upper_price`) become the
    API's (`upper_bound`) in the text too, not only in the field."""
    for engine_name, api_name in API_FIELD_NAMES.items():
        rule = rule.replace(engine_name, api_name)
    return rule


def _api_violation(field: str, rule: str, config: GridConfig, mark_price: Decimal | None) -> FieldViolation:
    if field == "current_price" and mark_price is not None:
        # The mark, not the client's price, is outside the bounds: the bound on that side is wrong.
        bound = "upper_bound" if mark_price > config.upper_price else "lower_bound"
        return FieldViolation(
            bound,
            f"the bounds [{config.lower_price}, {config.upper_price}] must contain the venue's mark "
            f"price {mark_price}: the grid is laid out around it",
        )
    return FieldViolation(API_FIELD_NAMES.get(field, field), api_rule_text(rule))


def invalid(
    violations: list[FieldViolation], reason: ErrorReason = ErrorReason.INVALID_ARGUMENT
) -> DomainError:
    message = "; ".join(f"{v.field}: {v.description}" for v in violations)
    return DomainError(reason, message, field_violations=violations)


def market_params_error(error: GridConfigError) -> DomainError:
    """A config that is fine on its own but breaks the symbol's market rules (tick, minimum size or
    notional, collapsing lines): INVALID_MARKET_PARAMS naming the API fields."""
    violations = [
        FieldViolation(API_FIELD_NAMES.get(f, f), api_rule_text(rule)) for f, rule in error.violations
    ]
    return invalid(violations, ErrorReason.INVALID_MARKET_PARAMS)


def input_to_dict(source: GridConfigInput) -> dict[str, object]:
    """The request's config as stored with the session (JSON-compatible; enums by name)."""
    return {
        "ticker": source.ticker,
        "direction": source.direction.value if source.direction is not None else "",
        "current_price": source.current_price,
        "upper_bound": source.upper_bound,
        "lower_bound": source.lower_bound,
        "grid_levels": source.grid_levels,
        "total_margin": source.total_margin,
        "grid_type": (source.grid_type or GridType.ARITHMETIC).value,
        "grid_ratio": source.grid_ratio,
        "leverage": source.leverage or 1,
        "trigger_price": source.trigger_price,
        "stop_loss_price": source.stop_loss_price,
        "take_profit_price": source.take_profit_price,
        "close_position_on_stop": source.close_position_on_stop,
        "price_tolerance": source.price_tolerance,
        "trailing_up": source.trailing_up,
        "trailing_down": source.trailing_down,
        "trailing_up_limit": source.trailing_up_limit,
        "trailing_down_limit": source.trailing_down_limit,
        "trailing_close": source.trailing_close,
    }
