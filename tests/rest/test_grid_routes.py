"""The REST shim in front of a real gRPC server: how requests are bound and responses rendered."""

from __future__ import annotations

from typing import Any

from orderly_grid.v1 import grid_pb2

from tests.rest.backend import KNOWN_SESSION
from tests.rest.conftest import Stack

AUTH = {"user_id": "0xabc", "signature": "0x5151", "timestamp": 1_767_225_600_000, "nonce": "n-1"}
START_BODY: dict[str, Any] = {
    "ticker": "BTCUSDT",
    "direction": "LONG",
    "current_price": "65000",
    "upper_bound": "70000",
    "lower_bound": "60000",
    "grid_levels": 11,
    "total_margin": "1000",
    "grid_type": "ARITHMETIC",
    "user_auth": AUTH,
}
AUTH_QUERY = {
    "user_auth.user_id": "0xabc",
    "user_auth.signature": "0x5151",
    "user_auth.timestamp": "1767225600000",
    "user_auth.nonce": "n-2",
}


async def test_start_answers_the_success_envelope_with_plain_enum_names(stack: Stack) -> None:
    async with stack.http.post(stack.url("/api/grid/start"), json=START_BODY) as response:
        assert response.status == 200
        assert response.headers["X-Request-Id"]
        body = await response.json()
    assert body["success"] is True
    grid = body["data"]["grid"]
    assert grid["session_id"] == "0xabc_BTCUSDT"
    assert grid["status"] == "RUNNING"
    assert grid["config"]["direction"] == "LONG"
    assert grid["config"]["grid_type"] == "ARITHMETIC"
    assert grid["config"]["grid_levels"] == 11
    assert grid["created_ms"] == "1767225600000"  # int64 is a string in proto3 JSON
    assert grid["stop_reason"] == "UNSPECIFIED"  # every field is printed, zeros included
    assert grid["open_orders"] == []
    sent = stack.backend.requests["StartGrid"]
    assert sent.direction == grid_pb2.DIRECTION_LONG
    assert sent.user_auth.timestamp == 1_767_225_600_000


async def test_full_proto_enum_names_and_numbers_as_strings_are_accepted(stack: Stack) -> None:
    body = {**START_BODY, "direction": "DIRECTION_SHORT", "grid_levels": "7", "grid_type": "geometric"}
    async with stack.http.post(stack.url("/api/grid/start"), json=body) as response:
        assert response.status == 200, await response.text()
    sent = stack.backend.requests["StartGrid"]
    assert (sent.direction, sent.grid_levels, sent.grid_type) == (
        grid_pb2.DIRECTION_SHORT,
        7,
        grid_pb2.GRID_TYPE_GEOMETRIC,
    )


async def test_json_numbers_for_prices_keep_their_exact_decimal_text(stack: Stack) -> None:
    raw = (
        b'{"ticker":"BTCUSDT","direction":"BOTH","current_price":65000.10,"upper_bound":70000,'
        b'"lower_bound":60000.5,"grid_levels":11,"total_margin":"1000","user_auth":'
        b'{"user_id":"0xabc","signature":"0x51","timestamp":1,"nonce":"n"}}'
    )
    headers = {"Content-Type": "application/json"}
    async with stack.http.post(stack.url("/api/grid/start"), data=raw, headers=headers) as response:
        assert response.status == 200, await response.text()
    sent = stack.backend.requests["StartGrid"]
    assert (sent.current_price, sent.upper_bound, sent.lower_bound) == ("65000.10", "70000", "60000.5")


async def test_legacy_flat_auth_and_stop_price_names_are_folded(stack: Stack) -> None:
    body = {key: value for key, value in START_BODY.items() if key != "user_auth"}
    body |= {
        "user_id": "0xdef",
        "user_sig": "0xfeed",
        "timestamp": 1_767_225_600_123,
        "nonce": "legacy-1",
        "stop_bot_price": "55000",
        "stop_top_price": "75000",
    }
    async with stack.http.post(stack.url("/api/grid/start"), json=body) as response:
        assert response.status == 200, await response.text()
        grid = (await response.json())["data"]["grid"]
    assert grid["config"]["stop_loss_price"] == "55000"
    assert grid["config"]["take_profit_price"] == "75000"
    sent = stack.backend.requests["StartGrid"]
    assert (sent.user_auth.user_id, sent.user_auth.signature) == ("0xdef", "0xfeed")
    assert (sent.user_auth.timestamp, sent.user_auth.nonce) == (1_767_225_600_123, "legacy-1")


async def test_legacy_and_new_names_together_are_rejected_naming_the_field(stack: Stack) -> None:
    body = {**START_BODY, "stop_bot_price": "55000", "stop_loss_price": "55000"}
    async with stack.http.post(stack.url("/api/grid/start"), json=body) as response:
        assert response.status == 400
        error = await response.json()
    assert error["details"]["field_violations"][0]["field"] == "stop_bot_price"


async def test_get_binds_path_and_dotted_user_auth_query_parameters(stack: Stack) -> None:
    url = stack.url(f"/api/grid/status/{KNOWN_SESSION}")
    async with stack.http.get(url, params=AUTH_QUERY, headers={"Authorization": "Bearer t0k"}) as response:
        assert response.status == 200, await response.text()
        body = await response.json()
    assert body == {
        "success": True,
        "data": {
            "grid": body["data"]["grid"]
            | {"session_id": KNOWN_SESSION, "user_id": "0xabc", "status": "RUNNING"}
        },
    }
    sent = stack.backend.requests["GetGrid"]
    assert sent.session_id == KNOWN_SESSION
    assert (sent.user_auth.user_id, sent.user_auth.timestamp, sent.user_auth.nonce) == (
        "0xabc",
        1767225600000,
        "n-2",
    )
    assert stack.backend.metadata["authorization"] == "Bearer t0k"
    assert stack.backend.metadata["x-request-id"] == response.headers["X-Request-Id"]
    assert stack.backend.metadata["x-forwarded-for"] == "127.0.0.1"


async def test_request_id_from_the_client_is_passed_through(stack: Stack) -> None:
    url = stack.url(f"/api/grid/status/{KNOWN_SESSION}")
    async with stack.http.get(url, params=AUTH_QUERY, headers={"X-Request-Id": "client-77"}) as response:
        assert response.headers["X-Request-Id"] == "client-77"
    assert stack.backend.metadata["x-request-id"] == "client-77"


async def test_summary_query_binds_plain_enum_and_int64_filters(stack: Stack) -> None:
    params = {
        "user_id": "0xabc",
        "status": "RUNNING",
        "start_time": "1767225600000",
        "page_size": "20",
        **AUTH_QUERY,
    }
    async with stack.http.get(stack.url("/api/grid/summary"), params=params) as response:
        assert response.status == 200, await response.text()
        data = (await response.json())["data"]
    assert data["summaries"][0]["status"] == "RUNNING"
    assert data["summaries"][0]["created_ms"] == "1767225600000"
    assert data["totals"]["session_count"] == "1"
    sent = stack.backend.requests["ListGridSummaries"]
    assert (sent.status, sent.start_time, sent.page_size) == (grid_pb2.GRID_STATUS_RUNNING, 1767225600000, 20)


async def test_sessions_accepts_the_legacy_flat_auth_in_the_query(stack: Stack) -> None:
    params = {"user_id": "0xabc", "user_sig": "0x77", "timestamp": "5", "nonce": "q", "status": "STOPPED"}
    async with stack.http.get(stack.url("/api/grid/sessions"), params=params) as response:
        assert response.status == 200, await response.text()
    sent = stack.backend.requests["ListGrids"]
    assert sent.user_id == "0xabc"
    assert (sent.user_auth.user_id, sent.user_auth.signature, sent.user_auth.timestamp) == (
        "0xabc",
        "0x77",
        5,
    )
    assert sent.status == grid_pb2.GRID_STATUS_STOPPED


async def test_unknown_session_is_404_with_the_session_not_found_envelope(stack: Stack) -> None:
    body = {"session_id": "0xabc_ETHUSDT", "user_auth": AUTH}
    async with stack.http.post(stack.url("/api/grid/stop"), json=body) as response:
        assert response.status == 404
        error = await response.json()
    assert error == {
        "success": False,
        "error_code": "SESSION_NOT_FOUND",
        "code": "NOT_FOUND",
        "message": "no session 0xabc_ETHUSDT",
        "details": {"session_id": "0xabc_ETHUSDT"},
    }


async def test_stop_known_session_with_optional_field(stack: Stack) -> None:
    body = {"session_id": KNOWN_SESSION, "close_position": False, "user_auth": AUTH}
    async with stack.http.post(stack.url("/api/grid/stop"), json=body) as response:
        assert response.status == 200
        grid = (await response.json())["data"]["grid"]
    assert (grid["status"], grid["stop_reason"]) == ("STOPPED", "MANUAL")
    sent = stack.backend.requests["StopGrid"]
    assert sent.HasField("close_position")
    assert sent.close_position is False


async def test_preview_body_is_the_config(stack: Stack) -> None:
    body = {key: value for key, value in START_BODY.items() if key != "user_auth"} | {
        "stop_bot_price": "50000"
    }
    async with stack.http.post(stack.url("/api/grid/preview"), json=body) as response:
        assert response.status == 200, await response.text()
        data = (await response.json())["data"]
    assert data["lines"] == ["60000", "70000"]
    assert data["orders"] == [{"cell_index": 0, "side": "BUY", "price": "60000", "quantity": ""}]
    assert stack.backend.requests["PreviewGrid"].config.stop_loss_price == "50000"


async def test_register_account_never_echoes_the_secret(stack: Stack) -> None:
    body = {
        "account_id": "0xacc",
        "orderly_key": "ed25519:pub",
        "orderly_secret": "ed25519:s3cr3t",
        "user_auth": AUTH,
    }
    async with stack.http.post(stack.url("/api/grid/account"), json=body) as response:
        assert response.status == 200
        text = await response.text()
    assert "s3cr3t" not in text
    assert stack.backend.requests["RegisterAccount"].orderly_secret == "ed25519:s3cr3t"


async def test_start_binds_the_trailing_settings(stack: Stack) -> None:
    body = START_BODY | {"trailing_up": True, "trailing_up_limit": "80000", "trailing_close": True}
    async with stack.http.post(stack.url("/api/grid/start"), json=body) as response:
        assert response.status == 200
    sent = stack.backend.requests["StartGrid"]
    assert (sent.trailing_up, sent.trailing_up_limit, sent.trailing_close) == (True, "80000", True)
    assert not sent.trailing_down
