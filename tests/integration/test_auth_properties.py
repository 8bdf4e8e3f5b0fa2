"""Whatever auth block a client sends, through the real gRPC server, the answer is a client error
(or a success for a valid signature), never INTERNAL or UNKNOWN.

Hypothesis drives a synchronous test, so the service (simulator, store, gRPC server) runs on its
own event loop in a background thread, started once for the module, and the examples call it with
a blocking gRPC client."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from orderly_grid.v1 import auth_pb2
from orderly_grid.v1 import grid_service_pb2 as pb
from orderly_grid.v1 import grid_service_pb2_grpc as pb_grpc

from server.simulator import SimulatorConfig, run_simulator
from tests.auth.test_verifier_properties import nonces, signatures, user_ids
from tests.integration.harness import OTHER_USER, USER, USER_KEY, now_ms, running_app, signed

CLIENT_CODES = {
    grpc.StatusCode.OK,
    grpc.StatusCode.UNAUTHENTICATED,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.ALREADY_EXISTS,
}


@pytest.fixture(scope="module")
def grpc_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data_dir: Path = tmp_path_factory.mktemp("auth-properties")
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="service-loop", daemon=True)
    thread.start()
    stack = contextlib.AsyncExitStack()

    async def start() -> str:
        sim = await stack.enter_async_context(run_simulator(SimulatorConfig(port=0, seed=7)))
        server = await stack.enter_async_context(running_app(sim, data_dir))
        return server.app.grpc_target

    try:
        yield asyncio.run_coroutine_threadsafe(start(), loop).result(60)
    finally:
        asyncio.run_coroutine_threadsafe(stack.aclose(), loop).result(60)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@pytest.fixture(scope="module")
def stub(grpc_target: str) -> Iterator[pb_grpc.GridServiceStub]:
    with grpc.insecure_channel(grpc_target) as channel:
        yield pb_grpc.GridServiceStub(channel)


def _read_stream(call: Any) -> None:
    for _ in call:  # an error surfaces on the first read
        break
    call.cancel()


Call = Callable[[pb_grpc.GridServiceStub, auth_pb2.UserAuth], Any]
CALLS: dict[str, Call] = {
    "GetGrid": lambda s, a: s.GetGrid(
        pb.GetGridRequest(session_id=f"{USER}_BTCUSDT", user_auth=a), timeout=10
    ),
    "StopGrid": lambda s, a: s.StopGrid(
        pb.StopGridRequest(session_id=f"{USER}_BTCUSDT", user_auth=a), timeout=10
    ),
    "ListGrids": lambda s, a: s.ListGrids(pb.ListGridsRequest(user_id=OTHER_USER, user_auth=a), timeout=10),
    "ListGridSummaries": lambda s, a: s.ListGridSummaries(
        pb.ListGridSummariesRequest(user_auth=a), timeout=10
    ),
    "StartGrid": lambda s, a: s.StartGrid(pb.StartGridRequest(ticker="BTCUSDT", user_auth=a), timeout=10),
    "RegisterAccount": lambda s, a: s.RegisterAccount(pb.RegisterAccountRequest(user_auth=a), timeout=10),
    "WatchFills": lambda s, a: _read_stream(s.WatchFills(pb.WatchFillsRequest(user_auth=a), timeout=10)),
}

near_now = st.integers(min_value=-400_000, max_value=400_000).map(lambda d: now_ms() + d)
timestamps = st.one_of(st.integers(min_value=-(2**63), max_value=2**63 - 1), near_now)


@st.composite
def auth_blocks(draw: st.DrawFn) -> auth_pb2.UserAuth:
    """Random blocks, and now and then a genuine signature of some request (so a valid block, and
    one valid for another request, are among the examples)."""
    if draw(st.integers(0, 4)) == 0:
        genuine = signed("ListGrids", pb.ListGridsRequest(), USER_KEY, timestamp_ms=draw(near_now))
        block: auth_pb2.UserAuth = genuine.user_auth  # type: ignore[attr-defined]
        return block
    return auth_pb2.UserAuth(
        user_id=draw(user_ids), signature=draw(signatures), timestamp=draw(timestamps), nonce=draw(nonces)
    )


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(action=st.sampled_from(sorted(CALLS)), block=auth_blocks())
def test_no_auth_block_makes_the_server_fail_internally(
    stub: pb_grpc.GridServiceStub, action: str, block: auth_pb2.UserAuth
) -> None:
    try:
        CALLS[action](stub, block)
        code = grpc.StatusCode.OK
    except grpc.RpcError as exc:
        code = exc.code()
    assert code in CLIENT_CODES, (action, block, code)
