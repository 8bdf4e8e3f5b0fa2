"""Wallet signatures through the real gRPC server: what does not verify is refused, with the reason,
and refused requests change nothing on the venue."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import grpc
from orderly_grid import signing
from orderly_grid.v1 import grid_service_pb2 as pb

from server.settings import Settings
from server.simulator import RunningSimulator
from tests.integration.harness import (
    OTHER_USER_KEY,
    USER,
    USER_KEY,
    eth_start_request,
    now_ms,
    rpc_error,
    running_app,
    signed,
    start_request,
    venue_orders,
)

SESSION_ID = f"{USER}_BTCUSDT"
OPERATOR_TOKEN = "operator-token-for-tests"
TEN_MINUTES_MS = 600_000


def unsigned_start() -> pb.StartGridRequest:
    request = start_request()
    request.ClearField("user_auth")
    return request


async def test_a_forged_signature_is_refused_and_places_nothing(
    sim: RunningSimulator, tmp_path: Path
) -> None:
    async with running_app(sim, tmp_path) as server:
        request = signed("StartGrid", unsigned_start())
        request.user_auth.signature = "0x" + "5a" * 64 + "1b"  # well-formed, signed by nobody
        code, error = await rpc_error(server.stub.StartGrid(request))
        assert (code, error.reason) == (grpc.StatusCode.UNAUTHENTICATED, "INVALID_SIGNATURE")
        assert [v.field for v in error.field_violations] == ["user_auth.signature"]
        assert venue_orders(sim) == []


async def test_a_signature_by_another_wallet_does_not_act_for_the_named_user(
    sim: RunningSimulator, tmp_path: Path
) -> None:
    async with running_app(sim, tmp_path) as server:
        request = signed("StartGrid", unsigned_start(), OTHER_USER_KEY)
        request.user_auth.user_id = USER  # claims USER, signed by the other wallet
        code, error = await rpc_error(server.stub.StartGrid(request))
        assert (code, error.reason) == (grpc.StatusCode.UNAUTHENTICATED, "INVALID_SIGNATURE")
        assert venue_orders(sim) == []


async def test_a_signature_for_another_action_or_other_parameters_is_refused(
    sim: RunningSimulator, tmp_path: Path
) -> None:
    async with running_app(sim, tmp_path) as server:
        await server.stub.StartGrid(start_request())
        # Signed as a GetGrid (a read), sent as a StopGrid of the same session.
        as_read = signed("GetGrid", pb.StopGridRequest(session_id=SESSION_ID))
        code, error = await rpc_error(server.stub.StopGrid(as_read))
        assert (code, error.reason) == (grpc.StatusCode.UNAUTHENTICATED, "INVALID_SIGNATURE")
        # Signed for a close_position=false stop, sent with close_position=true.
        other_params = signed("StopGrid", pb.StopGridRequest(session_id=SESSION_ID, close_position=False))
        other_params.close_position = True
        code, error = await rpc_error(server.stub.StopGrid(other_params))
        assert (code, error.reason) == (grpc.StatusCode.UNAUTHENTICATED, "INVALID_SIGNATURE")
        # Signed for a 1000 margin, sent with 2000.
        bigger = signed("StartGrid", unsigned_start())
        bigger.total_margin = "2000"
        code, error = await rpc_error(server.stub.StartGrid(bigger))
        assert (code, error.reason) == (grpc.StatusCode.UNAUTHENTICATED, "INVALID_SIGNATURE")
        assert len(venue_orders(sim)) == 5, "the session was stopped or another grid placed"


async def test_a_replayed_nonce_is_refused_also_after_a_restart_on_the_same_store(
    sim: RunningSimulator, tmp_path: Path
) -> None:
    listing = signed("ListGrids", pb.ListGridsRequest())
    async with running_app(sim, tmp_path) as server:
        assert list((await server.stub.ListGrids(listing)).grids) == []
        code, error = await rpc_error(server.stub.ListGrids(listing))
        assert (code, error.reason) == (grpc.StatusCode.UNAUTHENTICATED, "NONCE_REPLAYED")
        first_stop = signed("StopGrid", pb.StopGridRequest(session_id=SESSION_ID))
        await server.stub.StartGrid(start_request())
    async with running_app(sim, tmp_path) as restarted:
        code, error = await rpc_error(restarted.stub.ListGrids(listing))
        assert (code, error.reason) == (grpc.StatusCode.UNAUTHENTICATED, "NONCE_REPLAYED")
        # A signed stop used once ...
        stopped = await restarted.stub.StopGrid(first_stop)
        assert stopped.grid.session_id == SESSION_ID
        assert venue_orders(sim) == []
        # ... cannot stop the next run of the same session id.
        await restarted.stub.StartGrid(start_request())
    async with running_app(sim, tmp_path) as again:
        code, error = await rpc_error(again.stub.StopGrid(first_stop))
        assert (code, error.reason) == (grpc.StatusCode.UNAUTHENTICATED, "NONCE_REPLAYED")
        assert len(venue_orders(sim)) == 5


async def test_stale_and_future_timestamps_are_refused(sim: RunningSimulator, tmp_path: Path) -> None:
    async with running_app(sim, tmp_path) as server:
        for timestamp_ms in (now_ms() - TEN_MINUTES_MS, now_ms() + TEN_MINUTES_MS):
            request = signed("StartGrid", unsigned_start(), timestamp_ms=timestamp_ms)
            code, error = await rpc_error(server.stub.StartGrid(request))
            assert (code, error.reason) == (grpc.StatusCode.UNAUTHENTICATED, "SIGNATURE_EXPIRED")
            assert [v.field for v in error.field_violations] == ["user_auth.timestamp"]
        assert venue_orders(sim) == []


async def test_the_auth_block_may_come_as_metadata(sim: RunningSimulator, tmp_path: Path) -> None:
    async with running_app(sim, tmp_path) as server:
        request = unsigned_start()
        block = signing.sign_request(
            USER_KEY, signing.DEFAULT_DOMAIN, "StartGrid", request, timestamp_ms=now_ms()
        )
        request.ClearField("user_auth")
        grid = (await server.stub.StartGrid(request, metadata=signing.auth_metadata(block))).grid
        assert grid.session_id == SESSION_ID


async def test_anonymous_listings_are_refused_and_the_operator_token_lists_everyone(
    sim: RunningSimulator, tmp_path: Path
) -> None:
    settings = replace(Settings(), operator_token=OPERATOR_TOKEN)
    async with running_app(sim, tmp_path, settings=settings) as server:
        stub = server.stub
        await stub.StartGrid(start_request())
        other_start = eth_start_request()
        other_start.ClearField("user_auth")
        await stub.StartGrid(signed("StartGrid", other_start, OTHER_USER_KEY))
        for call in (
            stub.ListGrids(pb.ListGridsRequest()),
            stub.ListGridSummaries(pb.ListGridSummariesRequest()),
        ):
            code, error = await rpc_error(call)
            assert (code, error.reason) == (grpc.StatusCode.UNAUTHENTICATED, "UNAUTHENTICATED")

        operator = (("authorization", f"Bearer {OPERATOR_TOKEN}"),)
        everyone = await stub.ListGrids(pb.ListGridsRequest(), metadata=operator)
        assert len({grid.user_id for grid in everyone.grids}) == 2
        summaries = await stub.ListGridSummaries(pb.ListGridSummariesRequest(), metadata=operator)
        assert summaries.totals.session_count == 2
        only_user = await stub.ListGrids(pb.ListGridsRequest(user_id=USER), metadata=operator)
        assert [grid.user_id for grid in only_user.grids] == [USER]

        wrong = (("authorization", "Bearer not-the-token"),)
        code, error = await rpc_error(stub.ListGrids(pb.ListGridsRequest(), metadata=wrong))
        assert (code, error.reason) == (grpc.StatusCode.UNAUTHENTICATED, "UNAUTHENTICATED")
        # The token only lists: it neither reads nor stops a session.
        code, error = await rpc_error(
            stub.GetGrid(pb.GetGridRequest(session_id=SESSION_ID), metadata=operator)
        )
        assert (code, error.reason) == (grpc.StatusCode.UNAUTHENTICATED, "UNAUTHENTICATED")
        code, error = await rpc_error(
            stub.StopGrid(pb.StopGridRequest(session_id=SESSION_ID), metadata=operator)
        )
        assert (code, error.reason) == (grpc.StatusCode.UNAUTHENTICATED, "UNAUTHENTICATED")
        assert len(venue_orders(sim)) == 5  # USER's BTC grid, untouched


async def test_without_an_operator_token_configured_no_bearer_lists_everyone(
    sim: RunningSimulator, tmp_path: Path
) -> None:
    async with running_app(sim, tmp_path) as server:
        for token in ("", "anything"):
            metadata = (("authorization", f"Bearer {token}"),)
            code, error = await rpc_error(server.stub.ListGrids(pb.ListGridsRequest(), metadata=metadata))
            assert (code, error.reason) == (grpc.StatusCode.UNAUTHENTICATED, "UNAUTHENTICATED")
