"""WatchFills over REST: newline-delimited JSON relayed as the gRPC stream produces it."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from tests.rest.conftest import Stack
from tests.rest.test_grid_routes import AUTH_QUERY


async def _lines(stack: Stack, path: str, params: dict[str, str]) -> tuple[int, str, list[dict[str, Any]]]:
    async with stack.http.get(stack.url(path), params=params) as response:
        content_type = response.headers["Content-Type"]
        lines = [json.loads(line) async for line in response.content if line.strip()]
        return response.status, content_type, lines


async def test_fills_stream_as_ndjson_one_message_per_line_until_the_stream_ends(stack: Stack) -> None:
    status, content_type, lines = await _lines(
        stack, "/api/grid/fills/0xabc_BTCUSDT", {"after_seq": "4", **AUTH_QUERY}
    )
    assert status == 200
    assert content_type == "application/x-ndjson"
    assert len(lines) == 3
    assert [line["fill"]["seq"] for line in lines[:2]] == ["5", "6"]
    assert lines[0]["fill"]["side"] == "SELL"
    assert lines[0]["fill"]["price"] == "65000.5"
    assert lines[2] == {"replay_complete": {"last_seq": "6"}}
    sent = stack.backend.requests["WatchFills"]
    assert (sent.session_id, sent.after_seq, sent.user_auth.nonce) == ("0xabc_BTCUSDT", 4, "n-2")


async def test_fills_of_every_session_use_the_route_without_a_session(stack: Stack) -> None:
    status, _, lines = await _lines(stack, "/api/grid/fills", AUTH_QUERY)
    assert status == 200
    assert [line["fill"]["seq"] for line in lines[:2]] == ["1", "2"]
    assert stack.backend.requests["WatchFills"].session_id == ""


async def test_stream_failing_before_its_first_message_is_an_ordinary_error_response(stack: Stack) -> None:
    async with stack.http.get(stack.url("/api/grid/fills/fail-early"), params=AUTH_QUERY) as response:
        assert response.status == 404
        assert response.headers["Content-Type"].startswith("application/json")
        assert (await response.json())["error_code"] == "SESSION_NOT_FOUND"


async def test_stream_failing_midway_ends_with_an_error_line(stack: Stack) -> None:
    status, _, lines = await _lines(stack, "/api/grid/fills/fail-late", AUTH_QUERY)
    assert status == 200
    assert [line["fill"]["seq"] for line in lines[:2]] == ["1", "2"]
    error = lines[2]["error"]
    assert (error["error_code"], error["code"], error["message"]) == (
        "FILLS_NOT_RETAINED",
        "OUT_OF_RANGE",
        "older fills were dropped",
    )


async def test_client_disconnect_cancels_the_grpc_stream(stack: Stack) -> None:
    response = await stack.http.get(stack.url("/api/grid/fills/hold"), params=AUTH_QUERY)
    try:
        # The first fill arrives while the stream is still open: it is relayed, not buffered.
        first = json.loads(await asyncio.wait_for(response.content.readline(), timeout=10))
        assert first["fill"]["seq"] == "1"
        await asyncio.wait_for(stack.backend.stream_held.wait(), timeout=10)
        assert not stack.backend.stream_cancelled.is_set()
    finally:
        response.close()  # drops the connection
    await asyncio.wait_for(stack.backend.stream_cancelled.wait(), timeout=10)
