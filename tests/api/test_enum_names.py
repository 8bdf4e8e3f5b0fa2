"""The REST contract's plain enum names map onto the proto's prefixed ones and back."""

from __future__ import annotations

from typing import Any

import pytest
from google.protobuf import json_format
from orderly_grid.v1 import grid_pb2, grid_service_pb2

from server.api.enum_names import enum_value_prefix, expand_enum_names, shorten_enum_names

START = grid_service_pb2.StartGridRequest.DESCRIPTOR
CONTRACT_START_BODY: dict[str, Any] = {
    "ticker": "PERP_BTC_USDC",
    "direction": "LONG",
    "current_price": "42500",
    "upper_bound": "45000",
    "lower_bound": "40000",
    "grid_levels": 6,
    "total_margin": "1000",
    "grid_type": "GEOMETRIC",
    "grid_ratio": "0.02",
    "user_auth": {"user_id": "0xabc", "signature": "0x01", "timestamp": 1, "nonce": "n"},
}


@pytest.mark.parametrize(
    ("enum", "prefix"),
    [
        (grid_pb2.Direction.DESCRIPTOR, "DIRECTION_"),
        (grid_pb2.GridType.DESCRIPTOR, "GRID_TYPE_"),
        (grid_pb2.GridStatus.DESCRIPTOR, "GRID_STATUS_"),
        (grid_pb2.OrderStatus.DESCRIPTOR, "ORDER_STATUS_"),
        (grid_pb2.StopReason.DESCRIPTOR, "STOP_REASON_"),
    ],
)
def test_prefix_is_the_type_name_in_upper_snake_case(enum: Any, prefix: str) -> None:
    assert enum_value_prefix(enum) == prefix


def test_contract_body_with_plain_names_parses_after_expansion() -> None:
    request = json_format.ParseDict(
        expand_enum_names(START, CONTRACT_START_BODY), grid_service_pb2.StartGridRequest()
    )
    assert request.direction == grid_pb2.DIRECTION_LONG
    assert request.grid_type == grid_pb2.GRID_TYPE_GEOMETRIC
    assert request.user_auth.user_id == "0xabc"


def test_without_expansion_json_format_rejects_the_plain_name_naming_the_field() -> None:
    with pytest.raises(json_format.ParseError, match="direction"):
        json_format.ParseDict(CONTRACT_START_BODY, grid_service_pb2.StartGridRequest())


def test_full_names_numbers_and_lower_case_plain_names_are_accepted() -> None:
    expanded = expand_enum_names(START, {"direction": "DIRECTION_SHORT", "grid_type": 2})
    assert expanded == {"direction": "DIRECTION_SHORT", "grid_type": 2}
    assert expand_enum_names(START, {"direction": "both"}) == {"direction": "DIRECTION_BOTH"}


def test_an_unknown_name_is_left_for_json_format_to_reject() -> None:
    body = expand_enum_names(START, {**CONTRACT_START_BODY, "direction": "SIDEWAYS"})
    assert body["direction"] == "SIDEWAYS"
    with pytest.raises(json_format.ParseError, match="direction"):
        json_format.ParseDict(body, grid_service_pb2.StartGridRequest())


def test_the_input_dict_is_not_modified() -> None:
    body = {"direction": "LONG", "user_auth": {"user_id": "0xabc"}}
    expand_enum_names(START, body)
    assert body == {"direction": "LONG", "user_auth": {"user_id": "0xabc"}}


def test_response_enums_nested_and_repeated_come_out_with_plain_names() -> None:
    grid = grid_pb2.Grid(
        session_id="0xabc_PERP_BTC_USDC",
        status=grid_pb2.GRID_STATUS_RUNNING,
        config=grid_pb2.GridConfig(direction=grid_pb2.DIRECTION_BOTH),
        open_orders=[
            grid_pb2.GridOrder(side=grid_pb2.SIDE_BUY, status=grid_pb2.ORDER_STATUS_NEW),
            grid_pb2.GridOrder(side=grid_pb2.SIDE_SELL, status=grid_pb2.ORDER_STATUS_PARTIALLY_FILLED),
        ],
        stop_reason=grid_pb2.STOP_REASON_UNSPECIFIED,
    )
    rendered = json_format.MessageToDict(grid, preserving_proto_field_name=True)
    short = shorten_enum_names(grid_pb2.Grid.DESCRIPTOR, rendered)
    assert short["status"] == "RUNNING"
    assert short["config"] == {"direction": "BOTH"}
    assert [(o["side"], o["status"]) for o in short["open_orders"]] == [
        ("BUY", "NEW"),
        ("SELL", "PARTIALLY_FILLED"),
    ]
    # And back: the plain names parse to the same message.
    again = json_format.ParseDict(expand_enum_names(grid_pb2.Grid.DESCRIPTOR, short), grid_pb2.Grid())
    assert again == grid
