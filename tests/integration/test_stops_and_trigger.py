"""Stops the engine decides on the mark price, and a trigger that delays the ladder."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from orderly_grid.v1 import grid_pb2, grid_service_pb2

from server.simulator import RunningSimulator, SimulatorControl
from tests.integration.harness import SYMBOL, USER, auth, running_app, start_request, venue_orders, wait_until


async def test_stop_loss_on_the_mark_cancels_closes_and_summarises(
    sim: RunningSimulator, control: SimulatorControl, tmp_path: Path
) -> None:
    session_id = f"{USER}_BTCUSDT"
    request = start_request(stop_loss_price="39500", close_position_on_stop=True)
    async with running_app(sim, tmp_path) as server:
        await server.stub.StartGrid(request)
        watch = server.watch(session_id)
        await control.set_price(SYMBOL, "39400")  # fills the three buys, then crosses the stop-loss

        async def stopped() -> bool:
            return (await server.get(session_id)).status == grid_pb2.GRID_STATUS_STOPPED

        await wait_until(stopped, "the stop-loss to stop the session")
        grid = await server.get(session_id)
        assert grid.stop_reason == grid_pb2.STOP_REASON_STOP_LOSS
        assert Decimal(grid.position.quantity) == 0, "the position was not closed"
        assert venue_orders(sim) == []
        positions = (await control.state())["accounts"][sim.account.account_id]["positions"]
        assert Decimal(str(positions.get(SYMBOL, {}).get("position_qty", "0"))) == 0
        await watch.wait_for(lambda w: len(w.fills) == 4, "three buys and the closing sell")
        closing = watch.fills[-1]
        assert closing.side == grid_pb2.SIDE_SELL
        assert not closing.HasField("cell_index")
        summaries = await server.stub.ListGridSummaries(
            grid_service_pb2.ListGridSummariesRequest(user_auth=auth(), status=grid_pb2.GRID_STATUS_STOPPED)
        )
        assert [s.stop_reason for s in summaries.summaries] == [grid_pb2.STOP_REASON_STOP_LOSS]
        watch.cancel()


async def test_trigger_waits_for_the_mark_then_places_the_ladder(
    sim: RunningSimulator, control: SimulatorControl, tmp_path: Path
) -> None:
    session_id = f"{USER}_BTCUSDT"
    async with running_app(sim, tmp_path) as server:
        started = (await server.stub.StartGrid(start_request(trigger_price="43500"))).grid
        assert started.status == grid_pb2.GRID_STATUS_WAITING_TRIGGER
        assert list(started.open_orders) == []
        assert venue_orders(sim) == []
        await control.set_price(SYMBOL, "43600")

        async def ladder_placed() -> bool:
            grid = await server.get(session_id)
            return grid.status == grid_pb2.GRID_STATUS_RUNNING and len(venue_orders(sim)) == 5

        await wait_until(ladder_placed, "the ladder once the mark crossed the trigger")


async def test_stopping_a_session_that_waits_for_its_trigger_places_and_cancels_nothing(
    sim: RunningSimulator, control: SimulatorControl, tmp_path: Path
) -> None:
    session_id = f"{USER}_BTCUSDT"
    async with running_app(sim, tmp_path) as server:
        await server.stub.StartGrid(start_request(trigger_price="41500"))
        stopped = (
            await server.stub.StopGrid(
                grid_service_pb2.StopGridRequest(session_id=session_id, close_position=True, user_auth=auth())
            )
        ).grid
        assert stopped.status == grid_pb2.GRID_STATUS_STOPPED
        assert "cancelled 0 open orders" in stopped.stop_detail
        await control.set_price(SYMBOL, "41400")  # crossing the trigger now does nothing
        assert venue_orders(sim) == []
        assert (await server.get(session_id)).status == grid_pb2.GRID_STATUS_STOPPED


async def _stop_after_one_buy(
    sim: RunningSimulator, control: SimulatorControl, tmp_path: Path, close_position: bool | None
) -> tuple[grid_pb2.Grid, Decimal]:
    """A grid configured to close on stop, one buy filled, then StopGrid with `close_position`
    (None: the field left unset). Returns the stopped grid and the venue's position."""
    session_id = f"{USER}_BTCUSDT"
    async with running_app(sim, tmp_path) as server:
        await server.stub.StartGrid(start_request(close_position_on_stop=True))
        watch = server.watch(session_id)
        await control.set_price(SYMBOL, "41900")  # fills the buy at 42000
        await watch.wait_for(lambda w: len(w.fills) == 1, "the buy at 42000")
        fields: dict[str, object] = {"session_id": session_id, "user_auth": auth()}
        if close_position is not None:
            fields["close_position"] = close_position
        stopped = (await server.stub.StopGrid(grid_service_pb2.StopGridRequest(**fields))).grid  # type: ignore[arg-type]
        watch.cancel()
    positions = (await control.state())["accounts"][sim.account.account_id]["positions"]
    return stopped, Decimal(str(positions.get(SYMBOL, {}).get("position_qty", "0")))


async def test_stop_with_close_position_false_keeps_the_position_of_a_grid_configured_to_close(
    sim: RunningSimulator, control: SimulatorControl, tmp_path: Path
) -> None:
    stopped, venue_position = await _stop_after_one_buy(sim, control, tmp_path, close_position=False)
    assert stopped.status == grid_pb2.GRID_STATUS_STOPPED
    assert Decimal(stopped.position.quantity) > 0, "the explicit close_position=false was ignored"
    assert venue_position == Decimal(stopped.position.quantity)
    assert venue_orders(sim) == []


async def test_stop_without_close_position_follows_the_configured_close(
    sim: RunningSimulator, control: SimulatorControl, tmp_path: Path
) -> None:
    stopped, venue_position = await _stop_after_one_buy(sim, control, tmp_path, close_position=None)
    assert stopped.status == grid_pb2.GRID_STATUS_STOPPED
    assert Decimal(stopped.position.quantity) == 0
    assert venue_position == 0
