"""The REST contract end to end: aiohttp client -> REST shim -> gRPC -> service -> simulator.

Every call is signed over the proto message the shim builds from it (see tests.auth.test_rest_signing)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
from orderly_grid.v1 import grid_pb2
from orderly_grid.v1 import grid_service_pb2 as pb

from server.simulator import RunningSimulator, SimulatorControl
from tests.integration.harness import (
    OTHER_USER_KEY,
    SYMBOL,
    USER,
    running_app,
    venue_orders,
    wait_for_order,
)
from tests.integration.rest_signing import auth_json, auth_query, start_body


@contextlib.asynccontextmanager
async def ndjson_lines(
    http: aiohttp.ClientSession, url: str, params: dict[str, str]
) -> AsyncIterator[asyncio.Queue[dict[str, Any]]]:
    lines: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    async with http.get(url, params=params) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("application/x-ndjson")

        async def pump() -> None:
            async for raw in response.content:
                if raw.strip():
                    await lines.put(json.loads(raw))

        task = asyncio.create_task(pump())
        try:
            yield lines
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def test_grid_over_rest_streams_fills_as_ndjson_and_stops(
    sim: RunningSimulator, control: SimulatorControl, tmp_path: Path
) -> None:
    async with running_app(sim, tmp_path, with_rest=True) as server, aiohttp.ClientSession() as http:
        base = server.app.rest_url
        async with http.post(f"{base}/api/grid/start", json=start_body()) as response:
            body = await response.json()
            assert response.status == 200, body
        assert body["success"] is True
        grid = body["data"]["grid"]
        session_id = f"{USER}_BTCUSDT"
        assert grid["session_id"] == session_id
        assert grid["status"] == "RUNNING"
        assert len(grid["open_orders"]) == 5

        async with http.post(f"{base}/api/grid/start", json=start_body()) as response:
            duplicate = await response.json()
        assert response.status == 409
        assert duplicate["success"] is False
        assert duplicate["error_code"] == "DUPLICATE_GRID_SESSION"

        bad = start_body(grid_levels=1)
        async with http.post(f"{base}/api/grid/start", json=bad) as response:
            refused = await response.json()
        assert response.status == 400
        assert refused["error_code"] == "INVALID_ARGUMENT"
        assert [v["field"] for v in refused["details"]["field_violations"]] == ["grid_levels"]

        fills_query = auth_query("WatchFills", pb.WatchFillsRequest(session_id=session_id))
        async with ndjson_lines(http, f"{base}/api/grid/fills/{session_id}", fills_query) as lines:
            first = await asyncio.wait_for(lines.get(), 10)
            assert first == {"replay_complete": {"last_seq": "0"}}
            await control.set_price(SYMBOL, "41950")
            fill = (await asyncio.wait_for(lines.get(), 10))["fill"]
            assert (fill["side"], Decimal(fill["price"]), fill["seq"]) == ("BUY", Decimal("42000"), "1")

        await wait_for_order(sim, "SELL", "43000", "the counter sell at 43000")

        get_query = auth_query("GetGrid", pb.GetGridRequest(session_id=session_id))
        async with http.get(f"{base}/api/grid/status/{session_id}", params=get_query) as response:
            status = await response.json()
        assert response.status == 200, status
        prices = sorted(Decimal(o["price"]) for o in status["data"]["grid"]["open_orders"])
        assert Decimal("43000") in prices
        assert Decimal(status["data"]["grid"]["position"]["quantity"]) == Decimal(fill["quantity"])

        # Another wallet's valid signature: the session answers as a missing one.
        other_query = auth_query("GetGrid", pb.GetGridRequest(session_id=session_id), OTHER_USER_KEY)
        async with http.get(f"{base}/api/grid/status/{session_id}", params=other_query) as r:
            assert r.status == 404
            assert (await r.json())["error_code"] == "SESSION_NOT_FOUND"

        stop = pb.StopGridRequest(session_id=session_id, close_position=True)
        stop_body = {
            "session_id": session_id,
            "close_position": True,
            "user_auth": auth_json("StopGrid", stop),
        }
        async with http.post(f"{base}/api/grid/stop", json=stop_body) as response:
            stopped = await response.json()
        assert response.status == 200, stopped
        assert stopped["data"]["grid"]["status"] == "STOPPED"
        assert venue_orders(sim) == []

        listing = pb.ListGridSummariesRequest(user_id=USER, status=grid_pb2.GRID_STATUS_STOPPED)
        params = dict(auth_query("ListGridSummaries", listing), user_id=USER, status="STOPPED")
        async with http.get(f"{base}/api/grid/summary", params=params) as response:
            summary = await response.json()
        assert response.status == 200, summary
        assert [s["session_id"] for s in summary["data"]["summaries"]] == [session_id]
        assert summary["data"]["totals"]["session_count"] == "1"

        async with http.get(f"{base}/health/ready") as response:
            ready = await response.json()
        assert response.status == 200, ready
        assert ready["data"]["ready"] is True
        assert {check["name"] for check in ready["data"]["checks"]} == {
            "store",
            "exchange_rest",
            "exchange_ws",
            "sessions",
        }
        async with http.get(f"{base}/metrics") as response:
            metrics = await response.text()
        assert "orderly_grid_fills_total" in metrics
        assert "orderly_grid_orders_placed_total" in metrics
