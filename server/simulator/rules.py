"""Parsing and validating order requests against the served symbol rules (Orderly's error codes)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from server.simulator.catalog import CATALOG, SymbolRules
from server.simulator.orders import VenueError

ORDER_TYPES = frozenset({"LIMIT", "MARKET", "IOC", "FOK", "POST_ONLY"})
SIDES = frozenset({"BUY", "SELL"})


@dataclass(frozen=True)
class OrderRequest:
    symbol: str
    order_type: str
    side: str
    price: Decimal | None
    quantity: Decimal | None
    amount: Decimal | None
    client_order_id: str | None
    reduce_only: bool
    order_tag: str | None


def parse_number(body: dict[str, Any], name: str) -> Decimal | None:
    """Numbers and numeric strings are both accepted, as on Orderly."""
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise VenueError(-1005, f"{name} must be a number")
    try:
        number = Decimal(str(value))
    except InvalidOperation as exc:
        raise VenueError(-1005, f"{name} must be a number") from exc
    if not number.is_finite():
        raise VenueError(-1005, f"{name} must be a number")
    return number


def symbol_rules(symbol: Any) -> SymbolRules:
    if not isinstance(symbol, str) or not symbol:
        raise VenueError(-1005, "symbol is required")
    rules = CATALOG.get(symbol)
    if rules is None:
        raise VenueError(-1005, f"symbol {symbol} is not a valid symbol")
    return rules


def parse_order_request(body: Any) -> OrderRequest:
    if not isinstance(body, dict):
        raise VenueError(-1005, "the order must be a JSON object")
    symbol = symbol_rules(body.get("symbol")).symbol
    order_type = body.get("order_type")
    if order_type not in ORDER_TYPES:
        raise VenueError(-1005, f"order_type must be one of {', '.join(sorted(ORDER_TYPES))}")
    side = body.get("side")
    if side not in SIDES:
        raise VenueError(-1005, "side must be BUY or SELL")
    price = parse_number(body, "order_price")
    quantity = parse_number(body, "order_quantity")
    amount = parse_number(body, "order_amount")
    if order_type == "MARKET":
        price = None
        if quantity is None and amount is None:
            raise VenueError(-1005, "order_quantity or order_amount is required for MARKET orders")
    else:
        if price is None or price <= 0:
            raise VenueError(-1005, "order_price must be a positive number")
        if quantity is None:
            raise VenueError(-1005, "order_quantity is required")
        amount = None
    if quantity is not None and quantity <= 0:
        raise VenueError(-1005, "order_quantity must be a positive number")
    if amount is not None and amount <= 0:
        raise VenueError(-1005, "order_amount must be a positive number")
    reduce_only = body.get("reduce_only", False)
    if reduce_only is None:
        reduce_only = False
    if not isinstance(reduce_only, bool):
        raise VenueError(-1005, "reduce_only must be a boolean")
    order_tag = body.get("order_tag")
    if order_tag is not None and (not isinstance(order_tag, str) or len(order_tag) > 128):
        raise VenueError(-1005, "order_tag must be a string of at most 128 characters")
    return OrderRequest(
        symbol=symbol,
        order_type=order_type,
        side=side,
        price=price,
        quantity=quantity,
        amount=amount,
        client_order_id=parse_client_order_id(body.get("client_order_id")),
        reduce_only=reduce_only,
        order_tag=order_tag,
    )


def parse_client_order_id(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise VenueError(-1005, "client_order_id must be a string")
    text = str(value)
    if len(text) > 36:
        raise VenueError(-1005, "client_order_id must be at most 36 characters")
    if text.startswith("-"):
        raise VenueError(-1005, "client_order_id must not start with '-'")
    return text


def check_price(rules: SymbolRules, side: str, price: Decimal, mark: Decimal) -> None:
    """-1103: outside quote_min/quote_max, off the tick, or outside price_range/price_scope of mark."""
    if price < rules.quote_min or price > rules.quote_max:
        raise VenueError(-1103, f"order_price must be within [{rules.quote_min}, {rules.quote_max}]")
    if price % rules.quote_tick != 0:
        raise VenueError(-1103, f"order_price must be a multiple of quote_tick {rules.quote_tick}")
    one = Decimal(1)
    if side == "BUY":
        low, high = mark * (one - rules.price_scope), mark * (one + rules.price_range)
    else:
        low, high = mark * (one - rules.price_range), mark * (one + rules.price_scope)
    if price < low or price > high:
        raise VenueError(
            -1103, f"order_price {price} is outside the price range/scope [{low:f}, {high:f}] of mark {mark}"
        )


def check_quantity(rules: SymbolRules, quantity: Decimal) -> None:
    """-1104: below base_min, above base_max or off the base tick."""
    if quantity < rules.base_min or quantity > rules.base_max:
        raise VenueError(-1104, f"order_quantity must be within [{rules.base_min}, {rules.base_max}]")
    if quantity % rules.base_tick != 0:
        raise VenueError(-1104, f"order_quantity must be a multiple of base_tick {rules.base_tick}")


def check_notional(rules: SymbolRules, price: Decimal, quantity: Decimal) -> None:
    if price * quantity < rules.min_notional:
        raise VenueError(
            -1102, f"order value {price * quantity:f} is below min_notional {rules.min_notional}"
        )
