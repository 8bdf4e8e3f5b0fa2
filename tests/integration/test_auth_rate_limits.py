"""Rate limits on StartGrid over the real server: past the limit, RESOURCE_EXHAUSTED over gRPC and
HTTP 429 over REST, both with the delay to wait; counted per verified wallet, not per claimed one."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import aiohttp
import grpc

from server.auth import RateLimit, RateLimitPolicy
from server.simulator import RunningSimulator
from tests.integration.harness import (
    OTHER_USER,
    auth,
    rpc_error,
    running_app,
    start_request,
    venue_orders,
)
from tests.integration.rest_signing import start_body

THREE_STARTS = RateLimitPolicy(per_user={"StartGrid": RateLimit(3)}, per_peer={})


def pinned_clock() -> Callable[[], int]:
    """The service's auth clock held at this moment: the limits use fixed windows, and calls that
    straddled a window boundary on the wall clock would be counted in two windows."""
    start_ms = int(time.time() * 1000)
    return lambda: start_ms


async def test_the_default_limit_refuses_the_eleventh_start_in_a_minute(
    sim: RunningSimulator, tmp_path: Path
) -> None:
    async with running_app(sim, tmp_path, auth_clock_ms=pinned_clock()) as server:
        for _ in range(10):  # refused for their parameters, but counted: the limit bounds attempts
            code, error = await rpc_error(server.stub.StartGrid(start_request(grid_levels=1)))
            assert (code, error.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT")
        code, error = await rpc_error(server.stub.StartGrid(start_request()))
        assert (code, error.reason) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "RATE_LIMIT_EXCEEDED")
        assert error.retry_after_ms is not None
        assert 0 < error.retry_after_ms <= 60_000
        assert "retry in" in error.message
        assert venue_orders(sim) == []


async def test_the_limit_answers_429_over_rest_with_a_retry_hint_and_spares_other_wallets(
    sim: RunningSimulator, tmp_path: Path
) -> None:
    async with running_app(
        sim, tmp_path, with_rest=True, rate_limit_policy=THREE_STARTS, auth_clock_ms=pinned_clock()
    ) as server:
        for _ in range(3):
            await rpc_error(server.stub.StartGrid(start_request(grid_levels=1)))
        code, error = await rpc_error(server.stub.StartGrid(start_request()))
        assert (code, error.reason) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "RATE_LIMIT_EXCEEDED")

        url = f"{server.app.rest_url}/api/grid/start"
        async with aiohttp.ClientSession() as http, http.post(url, json=start_body()) as response:
            body = await response.json()
            assert response.status == 429, body
        assert body["error_code"] == "RATE_LIMIT_EXCEEDED"
        assert 0 < body["details"]["retry_after_ms"] <= 60_000
        assert venue_orders(sim) == []

        # The limit is the signer's: another wallet still starts its grid.
        grid = (await server.stub.StartGrid(start_request(user_auth=auth(OTHER_USER)))).grid
        assert grid.user_id == OTHER_USER
        assert len(venue_orders(sim)) == 5
