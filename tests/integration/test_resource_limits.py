"""Issue 11, finding 8, over the real gRPC server and REST shim: concurrent WatchFills streams are
capped per wallet, PreviewGrid and failed authentications are limited per client address, each
with a clear RESOURCE_EXHAUSTED (HTTP 429) and, for the rate limits, the delay to wait."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path

import aiohttp
import grpc
from orderly_grid.v1 import grid_pb2
from orderly_grid.v1 import grid_service_pb2 as pb

from server.settings import Settings
from server.simulator import RunningSimulator
from tests.integration.harness import (
    OTHER_USER,
    OTHER_USER_KEY,
    SIGN_ME,
    USER,
    FillWatch,
    auth,
    rpc_error,
    running_app,
    signed,
)
from tests.integration.rest_signing import START_FIELDS


def pinned_clock() -> Callable[[], int]:
    """The limits use fixed one-minute windows: pin the service's auth clock."""
    start_ms = int(time.time() * 1000)
    return lambda: start_ms


@contextlib.asynccontextmanager
async def http_from(address: str) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(address, 0))) as http:
        yield http


async def closed(watch: FillWatch) -> None:
    """Cancel a stream and wait until its drain ends."""
    watch.cancel()
    if watch.task is not None:
        await asyncio.gather(watch.task, return_exceptions=True)


def preview_request() -> pb.PreviewGridRequest:
    return pb.PreviewGridRequest(
        config=grid_pb2.GridConfig(
            ticker="BTCUSDT",
            direction=grid_pb2.DIRECTION_BOTH,
            current_price="42500",
            upper_bound="45000",
            lower_bound="40000",
            grid_levels=6,
            total_margin="1000",
        )
    )


def badly_signed_get() -> pb.GetGridRequest:
    """Signed by another wallet than the one it names: it does not verify (it is sent as it is)."""
    request = pb.GetGridRequest(session_id=f"{USER}_BTCUSDT")
    signed("GetGrid", request, OTHER_USER_KEY)
    request.user_auth.user_id = USER
    return request


async def test_concurrent_fill_streams_are_capped_per_wallet(sim: RunningSimulator, tmp_path: Path) -> None:
    settings = replace(Settings(), max_streams_per_user=2)
    async with running_app(sim, tmp_path, settings=settings) as server:
        first, second = server.watch(), server.watch()
        for watch in (first, second):
            await watch.wait_for(lambda w: w.replay_complete, "the replay marker")
        third = server.watch()
        await third.wait_for(lambda w: w.error is not None, "the third stream to be refused")
        assert third.error is not None
        assert third.error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "at most 2 concurrent" in (third.error.details() or "")

        # Another wallet has its own streams; closing one stream frees its slot.
        other = server.watch(user_id=OTHER_USER)
        await other.wait_for(lambda w: w.replay_complete, "another wallet's stream")
        await closed(first)

        async def reopened() -> bool:
            watch = server.watch()
            await watch.wait_for(lambda w: w.replay_complete or w.error is not None, "an answer")
            await closed(watch)
            return watch.replay_complete

        for _ in range(50):  # the server notices the cancelled stream a moment later
            if await reopened():
                break
            await asyncio.sleep(0.02)
        else:
            raise AssertionError("the slot of the cancelled stream was not freed")
        for watch in (second, other):
            await closed(watch)


async def test_preview_is_limited_per_client_address(sim: RunningSimulator, tmp_path: Path) -> None:
    settings = replace(Settings(), preview_rate_limit_per_min=3)
    async with running_app(
        sim, tmp_path, with_rest=True, settings=settings, auth_clock_ms=pinned_clock()
    ) as server:
        for _ in range(3):
            await server.stub.PreviewGrid(preview_request())
        code, error = await rpc_error(server.stub.PreviewGrid(preview_request()))
        assert (code, error.reason) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "RATE_LIMIT_EXCEEDED")
        assert error.retry_after_ms is not None
        assert 0 < error.retry_after_ms <= 60_000
        assert "PreviewGrid" in error.message

        url = f"{server.app.rest_url}/api/grid/preview"
        async with http_from("127.0.0.2") as http:  # a REST client is counted by its own address
            for _ in range(3):
                async with http.post(url, json=START_FIELDS) as response:
                    assert response.status == 200, await response.text()
            async with http.post(url, json=START_FIELDS) as response:
                body = await response.json()
                assert response.status == 429, body
        assert body["error_code"] == "RATE_LIMIT_EXCEEDED"
        assert 0 < body["details"]["retry_after_ms"] <= 60_000


async def test_failed_authentications_are_limited_per_client_address(
    sim: RunningSimulator, tmp_path: Path
) -> None:
    settings = replace(Settings(), auth_failure_limit_per_min=3)
    async with running_app(
        sim, tmp_path, with_rest=True, settings=settings, auth_clock_ms=pinned_clock()
    ) as server:
        for _ in range(3):
            code, error = await rpc_error(server.stub.GetGrid(badly_signed_get()))
            assert (code, error.reason) == (grpc.StatusCode.UNAUTHENTICATED, "INVALID_SIGNATURE")
        code, error = await rpc_error(server.stub.GetGrid(badly_signed_get()))
        assert (code, error.reason) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "RATE_LIMIT_EXCEEDED")
        assert error.retry_after_ms is not None
        assert 0 < error.retry_after_ms <= 60_000
        assert "failed authentications" in error.message

        # The address is refused before any signature is checked, a valid one included ...
        signed_get = pb.GetGridRequest(session_id=f"{USER}_BTCUSDT", user_auth=auth(USER))
        assert signed_get.user_auth.signature == SIGN_ME  # signed by the channel on the way out
        code, error = await rpc_error(server.stub.GetGrid(signed_get))
        assert (code, error.reason) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "RATE_LIMIT_EXCEEDED")
        code, error = await rpc_error(server.stub.ListGrids(pb.ListGridsRequest()))
        assert code == grpc.StatusCode.RESOURCE_EXHAUSTED

        # ... while another address (a REST client, counted by the address the shim saw) is not.
        url = f"{server.app.rest_url}/api/grid/status/{USER}_BTCUSDT"
        async with http_from("127.0.0.2") as http, http.get(url) as response:
            body = await response.json()
            assert response.status == 401, body
