"""Issue 13 end to end on the simulator: PnL fields checked against the trades themselves (a
stop-loss with and without close), the PnL history (gRPC and REST), runs that never mix, and ticker
aliases that name one session."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import aiohttp
from orderly_grid.v1 import grid_pb2, grid_service_pb2

from server.simulator import RunningSimulator, SimulatorControl
from tests.integration.harness import (
    SYMBOL,
    USER,
    Running,
    auth,
    prefix_of,
    rpc_error,
    running_app,
    start_request,
    wait_for_order,
    wait_until,
)
from tests.integration.rest_signing import auth_query

D = Decimal
SESSION_ID = f"{USER}_BTCUSDT"


def expected_pnl(fills: list[grid_pb2.Fill], mark: Decimal) -> dict[str, Decimal]:
    """An independent reading of the trades: average-cost position, realized on every reducing
    trade less every fee, unrealized at `mark`, grid profit from the round trips the fills completed."""
    position = entry = realized = fees = grid_profit = D(0)
    for fill in fills:
        quantity, price, fee = D(fill.quantity), D(fill.price), D(fill.fee)
        signed = quantity if fill.side == grid_pb2.SIDE_BUY else -quantity
        fees += fee
        if fill.HasField("round_trip"):
            grid_profit += D(fill.round_trip.profit)
        if position == 0 or (position > 0) == (signed > 0):
            entry = (entry * abs(position) + price * quantity) / (abs(position) + quantity)
            position += signed
            continue
        closed = min(abs(signed), abs(position))
        realized += closed * (price - entry) * (1 if position > 0 else -1)
        position += signed
        if position == 0:
            entry = D(0)
        elif (position > 0) != (position - signed > 0):  # flipped: the rest opened at this price
            entry = price
    unrealized = position * (mark - entry) if position else D(0)
    return {
        "position": position,
        "realized": realized - fees,
        "fees": fees,
        "unrealized": unrealized,
        "grid_profit": grid_profit,
        "total": realized - fees + unrealized,
    }


async def run_stop_loss(
    server: Running, sim: RunningSimulator, control: SimulatorControl, *, close: bool
) -> grid_pb2.Grid:
    request = start_request(stop_loss_price="39500", close_position_on_stop=close)
    started = (await server.stub.StartGrid(request)).grid
    assert started.venue == "simulator"
    assert started.run_id == prefix_of(started)
    await control.set_price(SYMBOL, "42000")  # one buy fills at 42000: its sell goes up at 43000
    await wait_for_order(sim, "SELL", "43000", "the counter sell at 43000", prefix=started.run_id)
    await control.set_price(SYMBOL, "43000")  # ... and fills: one round trip
    await wait_for_order(sim, "BUY", "42000", "the buy at 42000 again", prefix=started.run_id)
    await control.set_price(SYMBOL, "39400")  # the remaining buys fill, then the stop-loss

    async def stopped() -> bool:
        return (await server.get(SESSION_ID)).status == grid_pb2.GRID_STATUS_STOPPED

    await wait_until(stopped, "the stop-loss to stop the session")
    return await server.get(SESSION_ID)


async def all_fills(server: Running, run_id: str) -> list[grid_pb2.Fill]:
    stream = server.stub.WatchFills(
        grid_service_pb2.WatchFillsRequest(session_id=SESSION_ID, run_id=run_id, user_auth=auth())
    )
    fills: list[grid_pb2.Fill] = []
    async for message in stream:
        if message.HasField("replay_complete"):
            break
        fills.append(message.fill)
    stream.cancel()
    return fills


def assert_pnl_matches_the_trades(grid: grid_pb2.Grid, fills: list[grid_pb2.Fill]) -> None:
    pnl = grid.pnl
    expected = expected_pnl(fills, D(pnl.valued_at_price))
    assert D(grid.position.quantity) == expected["position"]
    assert abs(D(pnl.realized) - expected["realized"]) < D("1e-9")
    assert D(pnl.fees) == expected["fees"]
    assert abs(D(pnl.unrealized) - expected["unrealized"]) < D("1e-9")
    assert D(pnl.grid_profit) == expected["grid_profit"]
    assert D(pnl.total) == D(pnl.realized) + D(pnl.unrealized) + D(pnl.funding)
    assert pnl.round_trips == sum(1 for fill in fills if fill.HasField("round_trip"))
    assert pnl.valued_at_ms == grid.stopped_ms


async def test_a_stop_loss_with_close_books_the_loss_as_realized_and_leaves_nothing_unrealized(
    sim: RunningSimulator, control: SimulatorControl, tmp_path: Path
) -> None:
    async with running_app(sim, tmp_path) as server:
        grid = await run_stop_loss(server, sim, control, close=True)
        fills = await all_fills(server, grid.run_id)
        assert len(fills) == 6  # buy 42000, sell 43000, buys 42000 41000 40000, the close
        assert_pnl_matches_the_trades(grid, fills)
        pnl = grid.pnl
        assert D(grid.position.quantity) == 0
        assert D(pnl.unrealized) == 0
        assert D(pnl.realized) < 0 < D(pnl.grid_profit)  # the stop's loss is realized; the round trip won
        assert not pnl.position_handed_back
        before = (await server.get(SESSION_ID)).pnl
        await control.set_price(SYMBOL, "30000")  # a stopped session's figures are final
        assert (await server.get(SESSION_ID)).pnl == before


async def test_a_stop_loss_without_close_hands_the_position_back_valued_at_the_stop(
    sim: RunningSimulator, control: SimulatorControl, tmp_path: Path
) -> None:
    async with running_app(sim, tmp_path) as server:
        grid = await run_stop_loss(server, sim, control, close=False)
        fills = await all_fills(server, grid.run_id)
        assert len(fills) == 5
        assert_pnl_matches_the_trades(grid, fills)
        assert D(grid.position.quantity) > 0
        assert grid.pnl.position_handed_back
        assert D(grid.pnl.unrealized) < 0
        summaries = await server.stub.ListGridSummaries(
            grid_service_pb2.ListGridSummariesRequest(user_auth=auth())
        )
        [summary] = summaries.summaries
        assert summary.run_id == grid.run_id
        assert summary.pnl == grid.pnl
        assert summaries.totals.grid_profit == grid.pnl.grid_profit
        assert summaries.totals.realized == grid.pnl.realized


async def test_history_has_the_start_every_fill_and_the_stop_over_grpc_and_rest(
    sim: RunningSimulator, control: SimulatorControl, tmp_path: Path
) -> None:
    async with running_app(sim, tmp_path, with_rest=True) as server:
        grid = await run_stop_loss(server, sim, control, close=True)
        history = await server.stub.GetGridHistory(
            grid_service_pb2.GetGridHistoryRequest(session_id=SESSION_ID, user_auth=auth())
        )
        assert history.run_id == grid.run_id
        kinds = [point.kind for point in history.points]
        assert kinds[0] == grid_pb2.EQUITY_POINT_KIND_START
        assert kinds[-1] == grid_pb2.EQUITY_POINT_KIND_STOP
        fill_points = [p for p in history.points if p.kind == grid_pb2.EQUITY_POINT_KIND_FILL]
        fills = await all_fills(server, grid.run_id)
        marked = sorted((p.fill_price, p.fill_quantity, p.timestamp_ms) for p in fill_points)
        assert marked == sorted((f.price, f.quantity, f.timestamp_ms) for f in fills)
        final = history.points[-1]
        assert (final.total, final.realized, final.grid_profit) == (
            grid.pnl.total,
            grid.pnl.realized,
            grid.pnl.grid_profit,
        )
        times = [point.timestamp_ms for point in history.points]
        assert times == sorted(times)

        paged: list[grid_pb2.EquityPoint] = []
        token = ""
        while True:
            page = await server.stub.GetGridHistory(
                grid_service_pb2.GetGridHistoryRequest(
                    session_id=f"{USER}_PERP_BTC_USDC", page_size=3, page_token=token, user_auth=auth()
                )
            )
            paged += page.points
            token = page.next_page_token
            if not token:
                break
        assert paged == list(history.points)

        query = grid_service_pb2.GetGridHistoryRequest(session_id=SESSION_ID)
        url = f"{server.app.rest_url}/api/grid/history/{SESSION_ID}"
        async with (
            aiohttp.ClientSession() as http,
            http.get(url, params=auth_query("GetGridHistory", query)) as r,
        ):
            body = await r.json()
        assert r.status == 200, body
        assert len(body["data"]["points"]) == len(history.points)
        assert body["data"]["points"][-1]["kind"] == "STOP"


async def test_bad_history_queries_name_the_field(sim: RunningSimulator, tmp_path: Path) -> None:
    async with running_app(sim, tmp_path) as server:
        await server.stub.StartGrid(start_request())
        for fields, name in (
            ({"resolution_ms": -1}, "resolution_ms"),
            ({"start_time_ms": 10, "end_time_ms": 5}, "end_time_ms"),
            ({"run_id": "nope"}, "run_id"),
            ({"page_token": "garbage"}, "page_token"),
        ):
            request = grid_service_pb2.GetGridHistoryRequest(
                session_id=SESSION_ID, user_auth=auth(), **fields
            )
            code, error = await rpc_error(server.stub.GetGridHistory(request))
            assert code.name == "INVALID_ARGUMENT"
            assert [v.field for v in error.field_violations] == [name]


async def test_a_new_run_of_a_session_never_shows_the_last_runs_fills(
    sim: RunningSimulator, control: SimulatorControl, tmp_path: Path
) -> None:
    async with running_app(sim, tmp_path) as server:
        first = await run_stop_loss(server, sim, control, close=True)
        await control.set_price(SYMBOL, "42500")
        second = (await server.stub.StartGrid(start_request())).grid
        assert second.run_id != first.run_id
        assert await all_fills(server, second.run_id) == []
        assert await all_fills(server, "") == []  # a session's watch is of its latest run
        assert len(await all_fills(server, first.run_id)) == 6  # the old run keeps its own
        old = await server.stub.GetGridHistory(
            grid_service_pb2.GetGridHistoryRequest(
                session_id=SESSION_ID, run_id=first.run_id, user_auth=auth()
            )
        )
        assert old.points[-1].kind == grid_pb2.EQUITY_POINT_KIND_STOP
        new = await server.stub.GetGridHistory(
            grid_service_pb2.GetGridHistoryRequest(session_id=SESSION_ID, user_auth=auth())
        )
        assert [p.kind for p in new.points] == [grid_pb2.EQUITY_POINT_KIND_START]


async def test_both_ticker_spellings_name_one_session(sim: RunningSimulator, tmp_path: Path) -> None:
    native_id = f"{USER}_PERP_BTC_USDC"
    async with running_app(sim, tmp_path) as server:
        await server.stub.StartGrid(start_request())
        assert (await server.get(native_id)).session_id == SESSION_ID
        code, error = await rpc_error(server.stub.StartGrid(start_request(ticker="PERP_BTC_USDC")))
        assert code.name == "ALREADY_EXISTS"
        assert error.metadata["session_id"] == SESSION_ID  # the id StopGrid takes
        stopped = await server.stub.StopGrid(
            grid_service_pb2.StopGridRequest(session_id=native_id, user_auth=auth())
        )
        assert stopped.grid.session_id == SESSION_ID
        assert stopped.grid.status == grid_pb2.GRID_STATUS_STOPPED
