"""Request building: order bodies, exact body bytes and the query string that is signed."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from engine.commands import OrderType, PlaceOrder
from engine.types import Side
from server.exchange.placement import order_body
from server.exchange.rest import build_query, encode_body


def _order(**changes: object) -> PlaceOrder:
    fields: dict[str, object] = {
        "client_order_id": "s1-c4-BUY-0",
        "side": Side.BUY,
        "order_type": OrderType.LIMIT,
        "quantity": Decimal("0.00100"),
        "price": Decimal("42000.1"),
    }
    fields.update(changes)
    return PlaceOrder(**fields)  # type: ignore[arg-type]


def test_limit_order_body_carries_exact_decimal_strings_in_compact_json() -> None:
    body = encode_body(order_body("PERP_BTC_USDC", _order()))
    assert body == (
        '{"symbol":"PERP_BTC_USDC","client_order_id":"s1-c4-BUY-0","order_type":"LIMIT","side":"BUY",'
        '"order_quantity":"0.00100","order_price":"42000.1"}'
    )
    assert json.loads(body)["order_price"] == "42000.1"


def test_market_reduce_only_order_has_no_price_and_sets_reduce_only() -> None:
    body = order_body("PERP_BTC_USDC", _order(order_type=OrderType.MARKET, price=None, reduce_only=True))
    assert "order_price" not in body
    assert body["reduce_only"] is True


def test_decimal_exponent_never_reaches_the_wire() -> None:
    assert encode_body({"q": Decimal("1E-7")}) == '{"q":"0.0000001"}'


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"client_order_id": ""}, "client_order_id"),
        ({"client_order_id": "-leading-dash"}, "client_order_id"),
        ({"client_order_id": "x" * 37}, "client_order_id"),
        ({"client_order_id": "has space"}, "client_order_id"),
        ({"quantity": Decimal(0)}, "quantity"),
        ({"price": None}, "price"),
        ({"order_type": OrderType.POST_ONLY, "price": Decimal(-1)}, "price"),
    ],
)
def test_invalid_orders_are_refused_naming_the_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        order_body("PERP_BTC_USDC", _order(**changes))


def test_query_keeps_order_skips_none_and_does_not_percent_encode_commas() -> None:
    assert build_query([("order_ids", "1,2,3"), ("symbol", None), ("size", 500), ("p", Decimal("1E+1"))]) == (
        "order_ids=1,2,3&size=500&p=10"
    )
