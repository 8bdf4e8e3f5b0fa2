"""Parity: the same price path through the live service on the simulator and through the backtester
gives the same fills and the same PnL, to the last digit (the point of sharing the engine).

The live side is driven point by point (POST /sim/price); after each point the test waits until the
venue shows what the backtest of the path so far says it should (the orders resting, the fills made),
so the next point never races the service's counter orders. The path (tests/integration/data) has
round trips, a gap over several lines, and ends on a stop-loss with close."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from orderly_grid.v1 import grid_pb2

from engine import Side
from server.backtest import BacktestResult, config_at_start, parse_csv, run_backtest
from server.backtest.prices import PriceSeries
from server.simulator import RunningSimulator, SimulatorControl
from tests.backtest.support import RULES, grid
from tests.integration.harness import SYMBOL, USER, running_app, start_request, venue_orders, wait_until
from tests.integration.parity_path import PATH_FILE, parity_csv

_SIDES = {grid_pb2.SIDE_BUY: Side.BUY, grid_pb2.SIDE_SELL: Side.SELL}


def _backtest(series: PriceSeries, points: int) -> BacktestResult:
    prefix = PriceSeries(series.timestamps_ms[:points], series.prices[:points], series.scale)
    config = grid(stop_loss_price=Decimal(39500), close_position_on_stop=True)
    return run_backtest(config_at_start(config, prefix, RULES), RULES, prefix)


def test_the_checked_in_path_is_the_seeded_one() -> None:
    assert PATH_FILE.read_text() == parity_csv()


async def test_backtest_and_live_service_make_the_same_fills_and_pnl(
    sim: RunningSimulator, control: SimulatorControl, tmp_path: Path
) -> None:
    series, _ = parse_csv(PATH_FILE.read_text().splitlines())
    session_id = f"{USER}_BTCUSDT"
    request = start_request(stop_loss_price="39500", close_position_on_stop=True)
    async with running_app(sim, tmp_path) as server:
        await server.stub.StartGrid(request)
        watch = server.watch(session_id)
        for point in range(1, len(series)):
            expected = _backtest(series, point + 1)
            await control.set_price(SYMBOL, str(series.price(point)))
            wanted = sorted((side.value, price, quantity) for side, price, quantity in expected.open_orders)

            async def caught_up(expected: BacktestResult = expected, wanted: object = wanted) -> bool:
                orders = venue_orders(sim)
                resting = sorted((o.side, o.price, o.quantity - o.executed_quantity) for o in orders)
                return len(watch.fills) == len(expected.fills) and resting == wanted

            await wait_until(caught_up, f"the venue to match the backtest after point {point}")

        async def stopped() -> bool:
            return (await server.get(session_id)).status == grid_pb2.GRID_STATUS_STOPPED

        await wait_until(stopped, "the stop-loss to stop the session")
        live = await server.get(session_id)
        watch.cancel()
    result = _backtest(series, len(series))
    assert result.stop_reason == "STOP_LOSS"
    assert live.stop_reason == grid_pb2.STOP_REASON_STOP_LOSS
    live_fills = [
        (
            _SIDES[f.side],
            Decimal(f.price),
            Decimal(f.quantity),
            Decimal(f.fee),
            f.cell_index if f.HasField("cell_index") else None,
        )
        for f in watch.fills
    ]
    backtest_fills = [(f.side, f.price, f.quantity, f.fee, f.cell_index) for f in result.fills]
    assert live_fills == backtest_fills
    assert len(backtest_fills) >= 12, "the path should trade"
    pnl = result.pnl
    assert Decimal(live.pnl.grid_profit) == pnl.grid_profit
    assert Decimal(live.pnl.realized) == pnl.realized
    assert Decimal(live.pnl.fees) == pnl.fees
    assert Decimal(live.pnl.unrealized) == pnl.unrealized
    assert Decimal(live.pnl.funding) == pnl.funding
    assert Decimal(live.pnl.total) == pnl.total
    assert live.pnl.round_trips == pnl.round_trips
    assert Decimal(live.position.quantity) == pnl.position == 0
