"""The gate behind a real grpc.aio server on a loopback port: the auth block in the message or in
the metadata, the operator token on the listings, the per-peer and per-user limits, and rich errors
(ErrorInfo reason, RetryInfo) on the wire."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from orderly_grid import signing
from orderly_grid.v1 import grid_pb2
from orderly_grid.v1 import grid_service_pb2 as pb
from orderly_grid.v1 import grid_service_pb2_grpc as pb_grpc

from server.api.errors import DomainError, ErrorReason
from server.api.status import error_from_rpc_error
from server.auth import RateLimit, RateLimitPolicy
from server.auth.gate import AuthGate, build_auth
from server.grpc_server import GrpcServer
from server.metrics import ServiceMetrics
from server.store import SqliteStore
from tests.auth.conftest import ALICE, ALICE_KEY, BOB_KEY, DOMAIN, T0_MS, Clock

OPERATOR_TOKEN = "operator-token-for-tests"
POLICY = RateLimitPolicy(per_user={"StopGrid": RateLimit(2)}, per_peer={"StopGrid": RateLimit(3)})


class GateServicer(pb_grpc.GridServiceServicer):
    """Answers who the gate says the caller is; the real servicer acts on it instead."""

    def __init__(self, gate: AuthGate) -> None:
        self.gate = gate

    async def StartGrid(self, request: pb.StartGridRequest, context: Any) -> pb.StartGridResponse:
        user = await self.gate.authenticate("StartGrid", request, context)
        return pb.StartGridResponse(grid=grid_pb2.Grid(session_id=request.ticker, user_id=user.user_id))

    async def GetGrid(self, request: pb.GetGridRequest, context: Any) -> pb.GetGridResponse:
        user = await self.gate.authenticate("GetGrid", request, context)
        return pb.GetGridResponse(grid=grid_pb2.Grid(session_id=request.session_id, user_id=user.user_id))

    async def StopGrid(self, request: pb.StopGridRequest, context: Any) -> pb.StopGridResponse:
        user = await self.gate.authenticate("StopGrid", request, context)
        return pb.StopGridResponse(grid=grid_pb2.Grid(session_id=request.session_id, user_id=user.user_id))

    async def ListGrids(self, request: pb.ListGridsRequest, context: Any) -> pb.ListGridsResponse:
        user = await self.gate.authenticate("ListGrids", request, context)
        return pb.ListGridsResponse(grids=[grid_pb2.Grid(user_id=user.user_id or "*operator*")])


@dataclass
class Served:
    stub: pb_grpc.GridServiceStub
    clock: Clock


@pytest.fixture
async def served(store: SqliteStore, clock: Clock) -> AsyncIterator[Served]:
    auth = build_auth(
        store,
        clock_ms=clock,
        domain=DOMAIN,
        operator_token=OPERATOR_TOKEN,
        policy=POLICY,
        trusted_proxies=(),  # the test client is on loopback too: count it by its own address
    )
    server = GrpcServer(
        [(GateServicer(auth.gate), pb_grpc.add_GridServiceServicer_to_server)],
        metrics=ServiceMetrics(),
        readiness_interval_s=None,
    )
    port = await server.start("127.0.0.1", 0)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield Served(pb_grpc.GridServiceStub(channel), clock)
    finally:
        await channel.close(None)
        await server.stop(None)


async def failure(call: Any) -> DomainError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return error_from_rpc_error(caught.value)


async def test_a_signed_request_reaches_the_servicer_as_its_wallet(served: Served) -> None:
    request = pb.GetGridRequest(session_id="s1")
    signing.sign_request(ALICE_KEY, DOMAIN, "GetGrid", request, timestamp_ms=T0_MS)
    reply = await served.stub.GetGrid(request)
    assert reply.grid.user_id == ALICE.lower()


async def test_the_auth_block_travels_in_metadata_too(served: Served) -> None:
    request = pb.GetGridRequest(session_id="s1")
    auth = signing.sign_request(ALICE_KEY, DOMAIN, "GetGrid", request, timestamp_ms=T0_MS)
    request.ClearField("user_auth")
    reply = await served.stub.GetGrid(request, metadata=signing.auth_metadata(auth))
    assert reply.grid.user_id == ALICE.lower()


async def test_wire_errors_carry_the_auth_reason(served: Served) -> None:
    request = pb.StopGridRequest(session_id="s1")
    signing.sign_request(BOB_KEY, DOMAIN, "StopGrid", request, timestamp_ms=T0_MS)
    request.user_auth.user_id = ALICE
    error = await failure(served.stub.StopGrid(request))
    assert (error.reason, error.code) == (ErrorReason.INVALID_SIGNATURE, grpc.StatusCode.UNAUTHENTICATED)
    unsigned = await failure(served.stub.GetGrid(pb.GetGridRequest(session_id="s1")))
    assert unsigned.reason == ErrorReason.UNAUTHENTICATED


async def test_the_operator_token_lists_but_does_not_read_or_stop(served: Served) -> None:
    bearer = (("authorization", f"Bearer {OPERATOR_TOKEN}"),)
    reply = await served.stub.ListGrids(pb.ListGridsRequest(), metadata=bearer)
    assert reply.grids[0].user_id == "*operator*"
    error = await failure(served.stub.GetGrid(pb.GetGridRequest(session_id="s1"), metadata=bearer))
    assert error.reason == ErrorReason.UNAUTHENTICATED
    error = await failure(served.stub.StopGrid(pb.StopGridRequest(session_id="s1"), metadata=bearer))
    assert error.reason == ErrorReason.UNAUTHENTICATED


async def test_a_user_past_the_limit_gets_resource_exhausted_with_retry_info(served: Served) -> None:
    for _ in range(2):
        request = pb.StopGridRequest(session_id="s1")
        signing.sign_request(ALICE_KEY, DOMAIN, "StopGrid", request, timestamp_ms=T0_MS)
        await served.stub.StopGrid(request)
    request = pb.StopGridRequest(session_id="s1")
    signing.sign_request(ALICE_KEY, DOMAIN, "StopGrid", request, timestamp_ms=T0_MS)
    error = await failure(served.stub.StopGrid(request))
    assert (error.reason, error.code) == (ErrorReason.RATE_LIMIT_EXCEEDED, grpc.StatusCode.RESOURCE_EXHAUSTED)
    window_ms = 60_000
    assert error.retry_after_ms == window_ms - T0_MS % window_ms


async def test_unsigned_requests_count_against_the_peer_not_the_named_user(served: Served) -> None:
    forged = pb.StopGridRequest(session_id="s1")
    signing.sign_request(BOB_KEY, DOMAIN, "StopGrid", forged, timestamp_ms=T0_MS)
    forged.user_auth.user_id = ALICE  # Bob tries to spend Alice's budget (2 per window)
    assert (await failure(served.stub.StopGrid(forged))).reason == ErrorReason.INVALID_SIGNATURE
    for _ in range(2):  # both pass: the forged call did not count against Alice
        request = pb.StopGridRequest(session_id="s1")
        signing.sign_request(ALICE_KEY, DOMAIN, "StopGrid", request, timestamp_ms=T0_MS)
        assert (await served.stub.StopGrid(request)).grid.user_id == ALICE.lower()
    # ... but every call counted against the peer (3 per window), the forged one included.
    assert (await failure(served.stub.StopGrid(forged))).reason == ErrorReason.RATE_LIMIT_EXCEEDED


class Context:
    """A servicer context as the gate sees it, for the seam tests that need no server."""

    def __init__(self, metadata: tuple[tuple[str, str], ...] = ()) -> None:
        self.metadata = metadata

    def peer(self) -> str:
        return "ipv4:192.0.2.1:5000"

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return self.metadata


async def test_the_user_id_seam_returns_the_wallet_and_refuses_the_operator(
    store: SqliteStore, clock: Clock
) -> None:
    gate = build_auth(store, clock_ms=clock, domain=DOMAIN, operator_token=OPERATOR_TOKEN).gate
    request = pb.ListGridsRequest()
    signing.sign_request(ALICE_KEY, DOMAIN, "ListGrids", request, timestamp_ms=T0_MS)
    assert await gate.authenticate_user_id("ListGrids", request, Context()) == ALICE.lower()
    bearer = (("authorization", f"Bearer {OPERATOR_TOKEN}"),)
    with pytest.raises(DomainError) as caught:
        await gate.authenticate_user_id("ListGrids", pb.ListGridsRequest(), Context(bearer))
    assert caught.value.reason == ErrorReason.PERMISSION_DENIED
