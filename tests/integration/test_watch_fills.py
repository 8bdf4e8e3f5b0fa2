"""WatchFills: per-user streams over several sessions, resume by seq, shutdown, slow subscribers."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import grpc
import pytest
from orderly_grid.v1 import grid_pb2

from engine import OrderFilled, OrderPartiallyFilled, Side
from server.api.status import error_from_rpc_error
from server.service.fill_broker import FillBroker, SubscriptionEnded
from server.service.views import FillView
from server.simulator import RunningSimulator, SimulatorControl
from server.store import FillRecord
from tests.integration.harness import (
    SYMBOL,
    USER,
    now_ms,
    prefix_of,
    running_app,
    start_request,
    venue_orders,
    wait_for_order,
)

ETH = "PERP_ETH_USDC"


async def test_user_watch_covers_every_session_and_resumes_by_seq(
    sim: RunningSimulator, control: SimulatorControl, tmp_path: Path
) -> None:
    async with running_app(sim, tmp_path) as server:
        await server.stub.StartGrid(start_request())
        eth = start_request(
            ticker="PERP_ETH_USDC",
            current_price="2500",
            lower_bound="2300",
            upper_bound="2700",
            grid_levels=5,
        )
        await server.stub.StartGrid(eth)
        everything = server.watch()
        await everything.wait_for(lambda w: w.replay_complete, "the replay marker")

        await control.set_price(SYMBOL, "41950")
        await control.set_price(ETH, "2390")
        await everything.wait_for(lambda w: len(w.fills) == 2, "a fill of each session")
        fills = everything.fills
        assert [f.symbol for f in fills] == [SYMBOL, ETH]
        assert [f.session_id for f in fills] == [f"{USER}_BTCUSDT", f"{USER}_PERP_ETH_USDC"]
        assert fills[0].seq < fills[1].seq

        resumed = server.watch(after_seq=fills[0].seq)
        await resumed.wait_for(lambda w: w.replay_complete, "the resumed replay")
        assert [f.seq for f in resumed.fills] == [fills[1].seq]
        assert resumed.messages[-1].replay_complete.last_seq == fills[1].seq

        only_eth = server.watch(f"{USER}_PERP_ETH_USDC")
        await only_eth.wait_for(lambda w: w.replay_complete, "the ETH replay")
        assert [(f.side, Decimal(f.price)) for f in only_eth.fills] == [(grid_pb2.SIDE_BUY, Decimal("2400"))]

        # Shutdown ends every stream with UNAVAILABLE / SHUTTING_DOWN: clients resume elsewhere.
        await server.app.stop(grace_s=1.0)
        for watch in (everything, resumed, only_eth):
            await watch.wait_for(lambda w: w.error is not None, "the stream to end at shutdown")
            assert watch.error is not None
            assert watch.error.code() == grpc.StatusCode.UNAVAILABLE
            assert error_from_rpc_error(watch.error).reason == "SHUTTING_DOWN"


async def test_replayed_fills_equal_the_live_ones_round_trip_and_cell_included(
    sim: RunningSimulator, control: SimulatorControl, tmp_path: Path
) -> None:
    async with running_app(sim, tmp_path) as server:
        await server.stub.StartGrid(start_request())
        live = server.watch()
        await live.wait_for(lambda w: w.replay_complete, "the replay marker")
        await control.set_price(SYMBOL, "41950")  # the buy at 42000 fills; its sell goes to 43000
        await live.wait_for(lambda w: len(w.fills) == 1, "the buy")
        await wait_for_order(sim, "SELL", "43000", "the counter sell at 43000")  # a post-only order
        await control.set_price(SYMBOL, "43050")  # the sell fills: a round trip in cell 2
        await live.wait_for(lambda w: len(w.fills) == 2, "the sell")
        buy, sell = live.fills
        assert (buy.cell_index, buy.HasField("round_trip")) == (2, False)
        assert sell.cell_index == 2
        assert sell.HasField("round_trip")
        assert (sell.round_trip.cell_index, Decimal(sell.round_trip.entry_price)) == (2, Decimal("42000"))
        assert sell.round_trip.exit_price == sell.price

        replay = server.watch()
        await replay.wait_for(lambda w: w.replay_complete, "the replay")
        assert replay.fills == [buy, sell]
        live.cancel()
        replay.cancel()


async def test_a_round_trip_rides_only_on_the_fill_that_completed_it_when_fills_arrive_together(
    sim: RunningSimulator, control: SimulatorControl, tmp_path: Path
) -> None:
    """Two trades of one sell reach the session in ONE batch: only the second (which completes
    the cell's round trip) carries it, live and on replay."""
    session_id = f"{USER}_BTCUSDT"
    async with running_app(sim, tmp_path) as server:
        prefix = prefix_of((await server.stub.StartGrid(start_request())).grid)
        live = server.watch(session_id)
        await control.set_price(SYMBOL, "41950")  # the buy at 42000 fills; its sell goes to 43000
        await wait_for_order(sim, "SELL", "43000", "the counter sell at 43000", prefix=prefix)
        sell = next(o for o in venue_orders(sim, prefix) if o.side == "SELL" and o.price == Decimal("43000"))
        assert sell.client_order_id is not None
        half = sell.quantity / 2
        trade = {
            "client_order_id": sell.client_order_id,
            "order_id": str(sell.order_id),
            "side": Side.SELL,
            "price": Decimal("43000"),
            "quantity": half,
            "fee": Decimal(0),
            "timestamp_ms": now_ms(),
        }
        assert server.app.service is not None
        (runner,) = server.app.service.runners
        # Both queued before the runner's loop runs again, so it applies them as one batch.
        await runner.submit(OrderPartiallyFilled(trade_id="t-first", cumulative_quantity=half, **trade), 0)
        await runner.submit(OrderFilled(trade_id="t-second", cumulative_quantity=sell.quantity, **trade), 0)
        await live.wait_for(lambda w: len(w.fills) == 3, "the buy and both halves of the sell")
        first, second = live.fills[1:]
        assert (first.trade_id, first.HasField("round_trip")) == ("t-first", False)
        assert (second.trade_id, second.HasField("round_trip")) == ("t-second", True)
        assert Decimal(second.round_trip.quantity) == sell.quantity

        replay = server.watch(session_id)
        await replay.wait_for(lambda w: w.replay_complete, "the replay")
        # The cell's next buy may already have filled too (the price sits below it): compare the
        # three fills this test is about, which every replay holds.
        assert replay.fills[:3] == live.fills[:3]
        live.cancel()
        replay.cancel()


def _fill(seq: int) -> FillView:
    record = FillRecord(
        session_id="s",
        user_id="u",
        order_id=f"o{seq}",
        trade_id=f"t{seq}",
        client_order_id=f"c{seq}",
        side=Side.BUY,
        price=Decimal("1"),
        quantity=Decimal("1"),
        fee=Decimal("0"),
        timestamp_ms=seq,
        seq=seq,
        cell_index=0,
    )
    return FillView(record, "u", SYMBOL)


async def test_slow_subscriber_is_cut_off_without_blocking_publishers() -> None:
    broker = FillBroker(queue_size=2)
    slow = broker.subscribe("u", None)
    fast = broker.subscribe("u", "s")
    for seq in (1, 2):
        broker.publish(_fill(seq))
    assert (await fast.get()).seq == 1
    assert (await fast.get()).seq == 2
    broker.publish(_fill(3))  # the slow one is full: it is cut off, publish returns at once
    assert slow.overflowed
    assert (await fast.get()).seq == 3
    with pytest.raises(SubscriptionEnded) as ended:
        await slow.get()
    assert ended.value.overflowed
    assert broker.subscriber_count == 1
