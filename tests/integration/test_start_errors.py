"""StartGrid/StopGrid/GetGrid refusals: each with its reason, code and the field it names."""

from __future__ import annotations

import asyncio
from decimal import Decimal
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
    # More margin than the account's collateral (100000 at the venue's leverage 10): the venue
    # accepts the first orders and rejects the rest for insufficient margin.
    request = start_request(total_margin="2000000")
    async with running_app(sim, tmp_path) as server:
        code, error = await rpc_error(server.stub.StartGrid(request))
        assert (code, error.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "ORDER_CREATION_FAILED")
        assert "margin" in error.message.lower()
        assert venue_orders(sim) == [], "orders of the failed start were left on the venue"
        grid = await server.get(f"{USER}_BTCUSDT")
        assert grid.status == grid_pb2.GRID_STATUS_FAILED
        assert grid.stop_reason == grid_pb2.STOP_REASON_ERROR
        assert list(grid.open_orders) == []
        # The failed run does not block a new start.
        assert (await server.stub.StartGrid(start_request())).grid.status == grid_pb2.GRID_STATUS_RUNNING


async def test_a_stale_current_price_is_refused_naming_the_mark_and_places_nothing(
    sim: RunningSimulator, tmp_path: Path
) -> None:
    """Issue 11: a new user's stale `--price 42650` while the mark was 43193 placed sells below the
    market that filled at once as taker. The grid is laid out around the mark; a current_price
    beyond the tolerance is refused."""
    stale = start_request(current_price="44000", lower_bound="42000", upper_bound="46000", grid_levels=5)
    async with running_app(sim, tmp_path) as server:
        code, error = await rpc_error(server.stub.StartGrid(stale))
        assert (code, error.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT")
        [violation] = error.field_violations
        assert violation.field == "current_price"
        assert "42500" in violation.description  # the mark
        assert venue_orders(sim) == []
        within = start_request(current_price="44000", price_tolerance="0.05")
        grid = (await server.stub.StartGrid(within)).grid  # 3.5 % off, inside a 5 % tolerance
        assert grid.status == grid_pb2.GRID_STATUS_RUNNING
        assert {o.order_type for o in venue_orders(sim)} == {"POST_ONLY"}  # a grid order never takes
        # Laid out around the mark 42500, not the typed 44000: buys at 40000..42000, sells above.
        prices = sorted((o.side, o.price) for o in venue_orders(sim))
        assert prices == [
            ("BUY", Decimal("40000")),
            ("BUY", Decimal("41000")),
            ("BUY", Decimal("42000")),
            ("SELL", Decimal("44000")),
            ("SELL", Decimal("45000")),
        ]


async def test_bounds_that_do_not_contain_the_mark_are_refused_at_preview_and_start(
    sim: RunningSimulator, tmp_path: Path
) -> None:
    """ETH bounds 1000-1400 at a mark of about 2500 passed preview and failed half-placed."""
    config = {"ticker": "ETHUSDT", "lower_bound": "1000", "upper_bound": "1400", "grid_levels": 5}
    async with running_app(sim, tmp_path) as server:
        preview = grid_service_pb2.PreviewGridRequest(
            config=grid_pb2.GridConfig(direction=grid_pb2.DIRECTION_BOTH, total_margin="1000", **config)
        )
        code, error = await rpc_error(server.stub.PreviewGrid(preview))
        assert code == grpc.StatusCode.INVALID_ARGUMENT
        assert [v.field for v in error.field_violations] == ["upper_bound"]
        assert "2500" in error.message
        code, error = await rpc_error(server.stub.StartGrid(start_request(current_price="", **config)))
        assert code == grpc.StatusCode.INVALID_ARGUMENT
        assert [v.field for v in error.field_violations] == ["upper_bound"]
        assert [o for o in sim.context.venue.account_orders(sim.account.account_id)] == []
        scope = await server.stub.PreviewGrid(
            grid_service_pb2.PreviewGridRequest(
                config=grid_pb2.GridConfig(
                    ticker="ETHUSDT",
                    direction=grid_pb2.DIRECTION_BOTH,
                    lower_bound="2000",
                    upper_bound="3000",
                    grid_levels=6,
                    total_margin="1000",
                )
            )
        )
        assert Decimal(scope.mark_price) == Decimal("2500")
        assert Decimal(scope.min_order_price) == Decimal("1500")  # price_scope 0.4
        assert Decimal(scope.max_order_price) == Decimal("3500")
        code, error = await rpc_error(
            server.stub.StartGrid(
                start_request(ticker="ETHUSDT", current_price="", lower_bound="1400", upper_bound="3000")
            )
        )
        assert code == grpc.StatusCode.INVALID_ARGUMENT
        assert [v.field for v in error.field_violations] == ["lower_bound"]


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
