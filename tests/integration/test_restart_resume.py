"""Restarting the service mid-run: sessions resume from the store, catch up on the fills that
happened while the server was down, and never double an order."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from pathlib import Path

import grpc
import pytest
from orderly_grid.v1 import grid_pb2, grid_service_pb2

from engine import OrderType, PlaceOrder, Side
from server.simulator import RunningSimulator, SimulatorControl
from tests.integration.harness import (
    OTHER_USER,
    SYMBOL,
    USER,
    StoreLocation,
    auth,
    prefix_of,
    running_app,
    running_venue_client,
    start_request,
    venue_orders,
    wait_for_order,
    wait_until,
)


def _book(sim: RunningSimulator, prefix: str) -> list[tuple[str, Decimal]]:
    return sorted((o.side, o.price or Decimal(0)) for o in venue_orders(sim, prefix))


async def test_session_resumes_after_restart_with_fill_made_while_down(
    sim: RunningSimulator, control: SimulatorControl, store_location: StoreLocation
) -> None:
    session_id = f"{USER}_BTCUSDT"
    async with running_app(sim, store_location) as server:
        started = (await server.stub.StartGrid(start_request())).grid
        prefix = prefix_of(started)
        watch = server.watch(session_id)
        await control.set_price(SYMBOL, "41950")
        await watch.wait_for(lambda w: len(w.fills) == 1, "the buy fill at 42000")

        await wait_for_order(sim, "SELL", "43000", "the counter sell at 43000", prefix=prefix)
        watch.cancel()

    # The server is down: the buy at 41000 fills on the venue, nobody places its counter order.
    assert await control.set_price(SYMBOL, "40950") == 1
    assert ("BUY", Decimal("41000")) not in _book(sim, prefix)

    async with running_app(sim, store_location) as server:
        grid = await server.get(session_id)
        assert grid.status == grid_pb2.GRID_STATUS_RUNNING

        async def caught_up() -> bool:
            return ("SELL", Decimal("42000")) in _book(sim, prefix)

        await wait_until(caught_up, "the counter sell at 42000 of the fill made while down")
        book = _book(sim, prefix)
        assert book == [
            ("BUY", Decimal("40000")),
            ("SELL", Decimal("42000")),
            ("SELL", Decimal("43000")),
            ("SELL", Decimal("44000")),
            ("SELL", Decimal("45000")),
        ]
        ids = Counter(o.client_order_id for o in venue_orders(sim, prefix))
        assert all(count == 1 for count in ids.values()), ids
        grid = await server.get(session_id)
        assert Decimal(grid.position.quantity) > 0
        assert len(grid.open_orders) == 5

        # The ledger holds both fills exactly once; a resumed watch gets only the new one.
        replay_all = server.watch(session_id)
        await replay_all.wait_for(lambda w: w.replay_complete, "the full replay")
        assert [(f.seq, Decimal(f.price)) for f in replay_all.fills] == [
            (1, Decimal("42000")),
            (2, Decimal("41000")),
        ]
        resumed = server.watch(session_id, after_seq=1)
        await resumed.wait_for(lambda w: w.replay_complete, "the resumed replay")
        assert [f.seq for f in resumed.fills] == [2]
        assert resumed.messages[-1].replay_complete.last_seq == 2

        # Trading goes on live after the restart: the sell at 42000 completes cell 1's round trip.
        await control.set_price(SYMBOL, "42050")
        await resumed.wait_for(lambda w: len(w.fills) == 2, "the live sell fill after the restart")
        live = resumed.fills[-1]
        assert (live.side, Decimal(live.price), live.cell_index) == (grid_pb2.SIDE_SELL, Decimal("42000"), 1)
        assert live.HasField("round_trip")
        assert live.seq == 3
        await replay_all.wait_for(lambda w: [f.seq for f in w.fills] == [1, 2, 3], "the same live fill")

        stopped = await server.stub.StopGrid(
            grid_service_pb2.StopGridRequest(session_id=session_id, close_position=True, user_auth=auth())
        )
        assert stopped.grid.status == grid_pb2.GRID_STATUS_STOPPED
        assert Decimal(stopped.grid.position.quantity) == 0
        assert venue_orders(sim, prefix) == []
        replay_all.cancel()
        resumed.cancel()


async def test_second_grid_on_the_same_account_and_symbol_is_refused_naming_the_running_one(
    sim: RunningSimulator, store_location: StoreLocation
) -> None:
    """The venue nets positions per account and symbol: a second grid there could not know its own
    position. Both users trade on the default account here."""
    b_request = start_request(
        user_auth=auth(OTHER_USER), current_price="42500", lower_bound="40500", upper_bound="45500"
    )
    async with running_app(sim, store_location) as server:
        a_grid = (await server.stub.StartGrid(start_request())).grid
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await server.stub.StartGrid(b_request)
        assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert a_grid.session_id in (refused.value.details() or "")
        assert venue_orders(sim, prefix_of(a_grid)) != []
        await server.stub.StopGrid(
            grid_service_pb2.StopGridRequest(session_id=a_grid.session_id, user_auth=auth())
        )
        b_grid = (await server.stub.StartGrid(b_request)).grid  # free again once A stopped
        assert b_grid.status == grid_pb2.GRID_STATUS_RUNNING


async def test_order_cancelled_unseen_is_replaced_even_when_positions_disagree(
    sim: RunningSimulator, tmp_path: Path
) -> None:
    async with running_app(sim, tmp_path) as server:
        grid = (await server.stub.StartGrid(start_request())).grid
        prefix = prefix_of(grid)
    book_before = _book(sim, prefix)
    lost = next(o for o in venue_orders(sim, prefix) if o.price == Decimal("44000"))
    async with running_venue_client(sim) as venue_client:
        # A trade of the account's owner outside the grid: the venue's position no longer matches
        # the grid's, so reconciliation cannot tell a missing order from a filled one by absence.
        manual = PlaceOrder("manual1", Side.BUY, OrderType.MARKET, Decimal("0.001"), None)
        await venue_client.place_order(SYMBOL, manual)
        assert lost.client_order_id is not None
        await venue_client.cancel_order(SYMBOL, lost.client_order_id)

    async with running_app(sim, tmp_path):

        async def replaced() -> bool:
            return _book(sim, prefix) == book_before

        await wait_until(replaced, "the order cancelled while down replaced by a new one")
        new = next(o for o in venue_orders(sim, prefix) if o.price == Decimal("44000"))
        assert new.client_order_id != lost.client_order_id  # the next cycle of the cell, not a re-send


async def test_crash_loses_nothing_the_venue_cannot_give_back(
    sim: RunningSimulator, control: SimulatorControl, tmp_path: Path
) -> None:
    """No graceful shutdown: the runners die without writing anything more (acknowledgements are
    written lazily, so the store may still hold orders as PENDING_NEW); resume must adopt them from
    the venue and catch up on the fills, placing nothing twice."""
    session_id = f"{USER}_BTCUSDT"
    async with running_app(sim, tmp_path) as server:
        prefix = prefix_of((await server.stub.StartGrid(start_request())).grid)
        watch = server.watch(session_id)
        await control.set_price(SYMBOL, "41950")
        await watch.wait_for(lambda w: len(w.fills) == 1, "the buy fill at 42000")

        await wait_for_order(sim, "SELL", "43000", "the counter sell at 43000", prefix=prefix)
        watch.cancel()
        assert server.app.service is not None
        for runner in server.app.service.runners:
            await runner.abandon()
    assert await control.set_price(SYMBOL, "40950") == 1  # a fill nobody sees

    async with running_app(sim, tmp_path) as server:

        async def caught_up() -> bool:
            return ("SELL", Decimal("42000")) in _book(sim, prefix)

        await wait_until(caught_up, "the counter order of the fill made during the outage")
        assert _book(sim, prefix) == [
            ("BUY", Decimal("40000")),
            ("SELL", Decimal("42000")),
            ("SELL", Decimal("43000")),
            ("SELL", Decimal("44000")),
            ("SELL", Decimal("45000")),
        ]
        grid = await server.get(session_id)
        assert sorted(o.status for o in grid.open_orders) == [grid_pb2.ORDER_STATUS_NEW] * 5
        assert all(o.order_id for o in grid.open_orders), "orders were not adopted from the venue"
        replay = server.watch(session_id)
        await replay.wait_for(lambda w: w.replay_complete, "the replay")
        assert [f.seq for f in replay.fills] == [1, 2]
        replay.cancel()
