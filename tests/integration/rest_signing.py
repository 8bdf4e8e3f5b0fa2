"""Signed REST calls: the client signs the proto message the REST shim builds from the call (path and
query parameters bound, enum names expanded), so REST and gRPC share one signature format."""

from __future__ import annotations

from typing import Any

from google.protobuf.message import Message
from orderly_grid.v1 import auth_pb2

from tests.integration.harness import USER_KEY, signed, start_request

START_FIELDS: dict[str, Any] = {
    "ticker": "BTCUSDT",
    "direction": "BOTH",
    "current_price": "42500",
    "upper_bound": "45000",
    "lower_bound": "40000",
    "grid_levels": 6,
    "total_margin": "1000",
}


def _block(action: str, request: Message, key: str) -> auth_pb2.UserAuth:
    block: auth_pb2.UserAuth = signed(action, request, key).user_auth  # type: ignore[attr-defined]
    return block


def auth_query(action: str, request: Message, key: str = USER_KEY) -> dict[str, str]:
    """The `user_auth.*` query parameters of `request` signed for `action`."""
    block = _block(action, request, key)
    return {
        "user_auth.user_id": block.user_id,
        "user_auth.signature": block.signature,
        "user_auth.timestamp": str(block.timestamp),
        "user_auth.nonce": block.nonce,
    }


def auth_json(action: str, request: Message, key: str = USER_KEY) -> dict[str, Any]:
    """The `user_auth` object of a JSON body for `request` signed for `action`."""
    block = _block(action, request, key)
    return {
        "user_id": block.user_id,
        "signature": block.signature,
        "timestamp": block.timestamp,
        "nonce": block.nonce,
    }


def start_body(key: str = USER_KEY, **overrides: Any) -> dict[str, Any]:
    """A start body in the older flat auth form (folded into user_auth by the shim), signed over the
    StartGridRequest the shim builds from it."""
    request = start_request(**overrides)
    request.ClearField("user_auth")
    block = _block("StartGrid", request, key)
    return {
        **START_FIELDS,
        **overrides,
        "user_id": block.user_id,
        "user_sig": block.signature,
        "timestamp": block.timestamp,
        "nonce": block.nonce,
    }
