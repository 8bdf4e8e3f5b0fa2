"""A grid's whole life over gRPC against the simulator: start, fills, counter orders, stop, summary."""

from __future__ import annotations

from decimal import Decimal

from orderly_grid.v1 import grid_pb2, grid_service_pb2

from server.simulator import RunningSimulator, SimulatorControl
from tests.integration.harness import (
    SYMBOL,
    USER,
    StoreLocation,
    auth,
    prefix_of,
    running_app,
    start_request,
    venue_orders,
    wait_for_order,
)


async def test_buy_fill_places_sell_one_line_up_and_stop_writes_summary(
    sim: RunningSimulator, control: SimulatorControl, store_location: StoreLocation
) -> None:
    async with running_app(sim, store_location) as server:
        started = (await server.stub.StartGrid(start_request())).grid
        session_id = f"{USER}_BTCUSDT"
        assert started.session_id == session_id
        assert started.status == grid_pb2.GRID_STATUS_RUNNING
        assert started.symbol == SYMBOL
        prices = sorted((o.side, Decimal(o.price)) for o in started.open_orders)
        assert prices == [
            (grid_pb2.SIDE_BUY, Decimal("40000")),
            (grid_pb2.SIDE_BUY, Decimal("41000")),
            (grid_pb2.SIDE_BUY, Decimal("42000")),
            (grid_pb2.SIDE_SELL, Decimal("44000")),
            (grid_pb2.SIDE_SELL, Decimal("45000")),
        ]
        assert all(o.order_id for o in started.open_orders), "returned before the venue accepted the orders"
        prefix = prefix_of(started)
        assert len(venue_orders(sim, prefix)) == 5

        watch = server.watch(session_id)
        await watch.wait_for(lambda w: w.replay_complete, "the replay marker")

        await control.set_price(SYMBOL, "41950")
        await watch.wait_for(lambda w: len(w.fills) == 1, "the buy fill at 42000")
        buy = watch.fills[0]
        assert (buy.side, Decimal(buy.price), buy.cell_index, buy.seq) == (
            grid_pb2.SIDE_BUY,
            Decimal("42000"),
            2,
            1,
        )

        await wait_for_order(sim, "SELL", "43000", "the counter sell at 43000 on the venue", prefix=prefix)
        grid = await server.get(session_id)
        sell = [o for o in grid.open_orders if Decimal(o.price) == Decimal("43000")]
        assert len(sell) == 1
        assert (sell[0].side, sell[0].cell_index, Decimal(sell[0].quantity)) == (
            grid_pb2.SIDE_SELL,
            2,
            Decimal(buy.quantity),
        )
        assert Decimal(grid.position.quantity) == Decimal(buy.quantity)

        await control.set_price(SYMBOL, "43050")
        await watch.wait_for(lambda w: len(w.fills) == 2, "the sell fill at 43000")
        sold = watch.fills[1]
        assert (sold.side, Decimal(sold.price), sold.seq) == (grid_pb2.SIDE_SELL, Decimal("43000"), 2)
        assert sold.HasField("round_trip")
        expected_profit = Decimal(buy.quantity) * 1000 - Decimal(buy.fee) - Decimal(sold.fee)
        assert Decimal(sold.round_trip.profit) == expected_profit

        stopped = (
            await server.stub.StopGrid(
                grid_service_pb2.StopGridRequest(session_id=session_id, close_position=True, user_auth=auth())
            )
        ).grid
        assert stopped.status == grid_pb2.GRID_STATUS_STOPPED
        assert stopped.stop_reason == grid_pb2.STOP_REASON_MANUAL
        assert list(stopped.open_orders) == []
        assert "cancelled 5 open orders" in stopped.stop_detail
        assert stopped.pnl.round_trips == 1
        assert Decimal(stopped.pnl.realized) == expected_profit
        assert venue_orders(sim, prefix) == []

        summaries = await server.stub.ListGridSummaries(
            grid_service_pb2.ListGridSummariesRequest(user_auth=auth())
        )
        assert [s.session_id for s in summaries.summaries] == [session_id]
        summary = summaries.summaries[0]
        assert summary.status == grid_pb2.GRID_STATUS_STOPPED
        assert summary.pnl.round_trips == 1
        assert Decimal(summary.pnl.realized) == expected_profit
        assert summaries.totals.session_count == 1
        assert summaries.totals.active_session_count == 0
        watch.cancel()
