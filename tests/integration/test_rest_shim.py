"""The REST contract end to end: aiohttp client -> REST shim -> gRPC -> service -> simulator."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp

from server.simulator import RunningSimulator, SimulatorControl
from tests.integration.harness import SYMBOL, USER, running_app, venue_orders, wait_until


def _auth_query(user_id: str = USER) -> dict[str, str]:
    return {
        "user_auth.user_id": user_id,
        "user_auth.signature": "0x" + "11" * 65,
        "user_auth.timestamp": str(int(time.time() * 1000)),
        "user_auth.nonce": "n2",
    }


START_BODY: dict[str, Any] = {
    "ticker": "BTCUSDT",
    "direction": "BOTH",
    "current_price": "42500",
    "upper_bound": "45000",
    "lower_bound": "40000",
    "grid_levels": 6,
    "total_margin": "1000",
    # The older flat auth form, folded into user_auth by the shim.
    "user_id": USER,
    "user_sig": "0x" + "22" * 65,
    "timestamp": int(time.time() * 1000),
    "nonce": "n1",
}


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
        async with http.post(f"{base}/api/grid/start", json=START_BODY) as response:
            body = await response.json()
            assert response.status == 200, body
        assert body["success"] is True
        grid = body["data"]["grid"]
        session_id = f"{USER}_BTCUSDT"
        assert grid["session_id"] == session_id
        assert grid["status"] == "RUNNING"
        assert len(grid["open_orders"]) == 5

        async with http.post(f"{base}/api/grid/start", json=START_BODY) as response:
            duplicate = await response.json()
        assert response.status == 409
        assert duplicate["success"] is False
        assert duplicate["error_code"] == "DUPLICATE_GRID_SESSION"

        bad = dict(START_BODY, grid_levels=1)
        async with http.post(f"{base}/api/grid/start", json=bad) as response:
            refused = await response.json()
        assert response.status == 400
        assert refused["error_code"] == "INVALID_ARGUMENT"
        assert [v["field"] for v in refused["details"]["field_violations"]] == ["grid_levels"]

        async with ndjson_lines(http, f"{base}/api/grid/fills/{session_id}", _auth_query()) as lines:
            first = await asyncio.wait_for(lines.get(), 10)
            assert first == {"replay_complete": {"last_seq": "0"}}
            await control.set_price(SYMBOL, "41950")
            fill = (await asyncio.wait_for(lines.get(), 10))["fill"]
            assert (fill["side"], Decimal(fill["price"]), fill["seq"]) == ("BUY", Decimal("42000"), "1")

        async def counter_on_venue() -> bool:
            return any(o.side == "SELL" and o.price == Decimal("43000") for o in venue_orders(sim))

        await wait_until(counter_on_venue, "the counter sell at 43000")

        async with http.get(f"{base}/api/grid/status/{session_id}", params=_auth_query()) as response:
            status = await response.json()
        assert response.status == 200, status
        prices = sorted(Decimal(o["price"]) for o in status["data"]["grid"]["open_orders"])
        assert Decimal("43000") in prices
        assert Decimal(status["data"]["grid"]["position"]["quantity"]) == Decimal(fill["quantity"])

        async with http.get(
            f"{base}/api/grid/status/{session_id}", params=_auth_query("0x" + "cd" * 20)
        ) as r:
            assert r.status == 403
            assert (await r.json())["error_code"] == "PERMISSION_DENIED"

        stop_body = {"session_id": session_id, "close_position": True, "user_auth": {"user_id": USER}}
        async with http.post(f"{base}/api/grid/stop", json=stop_body) as response:
            stopped = await response.json()
        assert response.status == 200, stopped
        assert stopped["data"]["grid"]["status"] == "STOPPED"
        assert venue_orders(sim) == []

        params = dict(_auth_query(), user_id=USER, status="STOPPED")
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
        }
        async with http.get(f"{base}/metrics") as response:
            metrics = await response.text()
        assert "orderly_grid_fills_total" in metrics
        assert "orderly_grid_orders_placed_total" in metrics
