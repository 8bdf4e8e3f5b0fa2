"""StartGrid/StopGrid/GetGrid refusals: each with its reason, code and the field it names."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
from orderly_grid.v1 import grid_pb2, grid_service_pb2

from server.api.status import error_from_rpc_error
from server.simulator import RunningSimulator
from tests.integration.harness import (
    OTHER_USER,
    USER,
    auth,
    rpc_error,
    running_app,
    start_request,
    venue_orders,
)


async def test_invalid_requests_name_the_field_and_start_nothing(
    sim: RunningSimulator, tmp_path: Path
) -> None:
    async with running_app(sim, tmp_path) as server:
        stub = server.stub
        code, error = await rpc_error(stub.StartGrid(start_request(upper_bound="39000")))
        assert code == grpc.StatusCode.INVALID_ARGUMENT
        assert error.reason == "INVALID_ARGUMENT"
        assert "upper_bound" in [v.field for v in error.field_violations]

        code, error = await rpc_error(stub.StartGrid(start_request(total_margin="abc")))
        assert (code, error.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT")
        assert [v.field for v in error.field_violations] == ["total_margin"]

        code, error = await rpc_error(stub.StartGrid(start_request(direction=grid_pb2.DIRECTION_UNSPECIFIED)))
        assert [v.field for v in error.field_violations] == ["direction"]

        # 5 cells of 0.5 USDC each is below the symbol's minimum notional of 10: a market rule.
        code, error = await rpc_error(stub.StartGrid(start_request(total_margin="2.5")))
        assert (code, error.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_MARKET_PARAMS")
        assert error.field_violations

        code, error = await rpc_error(stub.StartGrid(start_request(ticker="NOSUCHUSDT")))
        assert (code, error.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "UNKNOWN_SYMBOL")
        assert [v.field for v in error.field_violations] == ["ticker"]

        code, error = await rpc_error(stub.StartGrid(start_request(user_auth=auth("0x1234"))))
        assert (code, error.reason) == (grpc.StatusCode.UNAUTHENTICATED, "UNAUTHENTICATED")
        assert [v.field for v in error.field_violations] == ["user_auth.user_id"]

        missing = start_request()
        missing.ClearField("user_auth")
        code, error = await rpc_error(stub.StartGrid(missing))
        assert (code, error.reason) == (grpc.StatusCode.UNAUTHENTICATED, "UNAUTHENTICATED")

        assert venue_orders(sim) == []
        listed = await stub.ListGrids(grid_service_pb2.ListGridsRequest(user_auth=auth()))
        assert list(listed.grids) == []


async def test_duplicate_session_and_other_users_are_refused(sim: RunningSimulator, tmp_path: Path) -> None:
    async with running_app(sim, tmp_path) as server:
        stub = server.stub
        await stub.StartGrid(start_request())
        session_id = f"{USER}_BTCUSDT"
        code, error = await rpc_error(stub.StartGrid(start_request()))
        assert (code, error.reason) == (grpc.StatusCode.ALREADY_EXISTS, "DUPLICATE_GRID_SESSION")
        # The same symbol under its native name is the same grid.
        code, error = await rpc_error(stub.StartGrid(start_request(ticker="PERP_BTC_USDC")))
        assert (code, error.reason) == (grpc.StatusCode.ALREADY_EXISTS, "DUPLICATE_GRID_SESSION")
        assert len(venue_orders(sim)) == 5, "the refused duplicate placed orders"

        code, error = await rpc_error(
            stub.GetGrid(grid_service_pb2.GetGridRequest(session_id=session_id, user_auth=auth(OTHER_USER)))
        )
        # Another user's session answers exactly as a missing one.
        assert (code, error.reason) == (grpc.StatusCode.NOT_FOUND, "SESSION_NOT_FOUND")
        code, error = await rpc_error(
            stub.StopGrid(grid_service_pb2.StopGridRequest(session_id=session_id, user_auth=auth(OTHER_USER)))
        )
        assert (code, error.reason) == (grpc.StatusCode.NOT_FOUND, "SESSION_NOT_FOUND")
        assert len(venue_orders(sim)) == 5
        theirs = await stub.ListGrids(grid_service_pb2.ListGridsRequest(user_auth=auth(OTHER_USER)))
        assert list(theirs.grids) == []
        code, error = await rpc_error(
            stub.ListGrids(grid_service_pb2.ListGridsRequest(user_id=USER, user_auth=auth(OTHER_USER)))
        )
        assert (code, error.reason) == (grpc.StatusCode.PERMISSION_DENIED, "PERMISSION_DENIED")

        code, error = await rpc_error(
            stub.GetGrid(grid_service_pb2.GetGridRequest(session_id=f"{USER}_ETHUSDT", user_auth=auth()))
        )
        assert (code, error.reason) == (grpc.StatusCode.NOT_FOUND, "SESSION_NOT_FOUND")

        await stub.StopGrid(grid_service_pb2.StopGridRequest(session_id=session_id, user_auth=auth()))
        code, error = await rpc_error(
            stub.StopGrid(grid_service_pb2.StopGridRequest(session_id=session_id, user_auth=auth()))
        )
        assert (code, error.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "SESSION_ALREADY_STOPPED")
        # A stopped session id can be started again, as a new run with new client_order_ids.
        again = (await stub.StartGrid(start_request())).grid
        assert again.status == grid_pb2.GRID_STATUS_RUNNING
        assert len(venue_orders(sim)) == 5


async def test_rejected_opening_orders_fail_the_start_and_leave_nothing_behind(
    sim: RunningSimulator, tmp_path: Path
) -> None:
    # Around 44500 while the venue's mark is 42500: the buy at 44000 is above the venue's price range
    # (mark + 3 %) and is rejected, while the buys at 42000/43000 and the sells are accepted.
    request = start_request(current_price="44500", lower_bound="42000", upper_bound="46000", grid_levels=5)
    async with running_app(sim, tmp_path) as server:
        code, error = await rpc_error(server.stub.StartGrid(request))
        assert (code, error.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "ORDER_CREATION_FAILED")
        assert "44000" in error.message or "price" in error.message
        assert venue_orders(sim) == [], "orders of the failed start were left on the venue"
        grid = await server.get(f"{USER}_BTCUSDT")
        assert grid.status == grid_pb2.GRID_STATUS_FAILED
        assert grid.stop_reason == grid_pb2.STOP_REASON_ERROR
        assert list(grid.open_orders) == []
        # The failed run does not block a new start.
        assert (await server.stub.StartGrid(start_request())).grid.status == grid_pb2.GRID_STATUS_RUNNING


async def test_concurrent_starts_of_one_session_make_exactly_one_grid(
    sim: RunningSimulator, tmp_path: Path
) -> None:
    async with running_app(sim, tmp_path) as server:
        results = await asyncio.gather(
            server.stub.StartGrid(start_request()),
            server.stub.StartGrid(start_request()),
            return_exceptions=True,
        )
        started = [r for r in results if not isinstance(r, BaseException)]
        refused = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
        assert len(started) == 1
        assert len(refused) == 1
        assert error_from_rpc_error(refused[0]).reason == "DUPLICATE_GRID_SESSION"
        assert len(venue_orders(sim)) == 5


async def test_listings_page_newest_first_with_totals_over_every_page(
    sim: RunningSimulator, tmp_path: Path
) -> None:
    async with running_app(sim, tmp_path) as server:
        stub = server.stub
        await stub.StartGrid(start_request())
        eth = start_request(
            ticker="ETHUSDT", current_price="2500", lower_bound="2300", upper_bound="2700", grid_levels=5
        )
        await stub.StartGrid(eth)
        await stub.StopGrid(grid_service_pb2.StopGridRequest(session_id=f"{USER}_BTCUSDT", user_auth=auth()))

        first = await stub.ListGrids(grid_service_pb2.ListGridsRequest(page_size=1, user_auth=auth()))
        assert [g.session_id for g in first.grids] == [f"{USER}_ETHUSDT"]
        assert first.next_page_token
        second = await stub.ListGrids(
            grid_service_pb2.ListGridsRequest(page_size=1, page_token=first.next_page_token, user_auth=auth())
        )
        assert [g.session_id for g in second.grids] == [f"{USER}_BTCUSDT"]
        assert second.next_page_token == ""
        running = await stub.ListGrids(
            grid_service_pb2.ListGridsRequest(status=grid_pb2.GRID_STATUS_RUNNING, user_auth=auth())
        )
        assert [g.session_id for g in running.grids] == [f"{USER}_ETHUSDT"]

        page = await stub.ListGridSummaries(
            grid_service_pb2.ListGridSummariesRequest(page_size=1, user_auth=auth())
        )
        assert len(page.summaries) == 1
        assert page.next_page_token
        assert (page.totals.session_count, page.totals.active_session_count) == (2, 1)
        rest = await stub.ListGridSummaries(
            grid_service_pb2.ListGridSummariesRequest(
                page_size=1, page_token=page.next_page_token, user_auth=auth()
            )
        )
        assert {page.summaries[0].session_id, rest.summaries[0].session_id} == {
            f"{USER}_BTCUSDT",
            f"{USER}_ETHUSDT",
        }
        code, error = await rpc_error(
            stub.ListGridSummaries(
                grid_service_pb2.ListGridSummariesRequest(
                    page_token=page.next_page_token, status=grid_pb2.GRID_STATUS_STOPPED, user_auth=auth()
                )
            )
        )
        assert (code, error.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_PAGE_TOKEN")
