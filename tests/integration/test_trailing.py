"""A trailing grid on the simulator: the price walks above the top, the grid shifts, its orders move
on the venue, and no client_order_id is ever sent twice."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from pathlib import Path

import grpc
from orderly_grid.v1 import grid_pb2, grid_service_pb2

from server.simulator import RunningSimulator, SimulatorControl
from tests.integration.harness import (
    SYMBOL,
    USER,
    auth,
    prefix_of,
    rpc_error,
    running_app,
    start_request,
    venue_orders,
    wait_for_order,
    wait_until,
)


async def test_a_price_walking_above_the_top_shifts_the_grid_and_moves_its_orders(
    sim: RunningSimulator, control: SimulatorControl, tmp_path: Path
) -> None:
    session_id = f"{USER}_BTCUSDT"
    request = start_request(trailing_up=True, trailing_up_limit="47000")
    async with running_app(sim, tmp_path) as server:
        started = (await server.stub.StartGrid(request)).grid
        assert started.config.trailing_up
        assert started.config.trailing_up_limit == "47000"
        prefix = prefix_of(started)
        # Up through the sells at 44000 and 45000, then one step above the top: 46000 shifts once.
        await control.set_price(SYMBOL, "46000")
        await wait_for_order(sim, "BUY", "45000", "the new top cell's buy at 45000", prefix=prefix)

        async def shifted(count: int) -> bool:
            grid = await server.get(session_id)
            return grid.shift_count == count and all(o.price != Decimal(40000) for o in venue_orders(sim))

        await wait_until(lambda: shifted(1), "one shift and the lowest cell's buy cancelled")
        grid = await server.get(session_id)
        assert (Decimal(grid.active_lower_bound), Decimal(grid.active_upper_bound)) == (41000, 46000)
        assert all(Decimal(o.price) != Decimal(40000) for o in venue_orders(sim, prefix))
        # Two steps more, but the limit is 47000: only one more shift.
        await control.set_price(SYMBOL, "48500")
        await wait_for_order(sim, "BUY", "46000", "the next top cell's buy at 46000", prefix=prefix)
        await wait_until(lambda: shifted(2), "the second shift")
        grid = await server.get(session_id)
        assert Decimal(grid.active_upper_bound) == 47000
        assert len(venue_orders(sim, prefix)) == 5  # one order per cell, none in a dropped cell
        history = await control.history(sim.account.account_id, SYMBOL)
        sent = Counter(s.client_order_id for s in history.submissions if s.client_order_id.startswith(prefix))
        assert sent
        assert max(sent.values()) == 1, "a client_order_id was sent twice"
        points = await server.stub.GetGridHistory(
            grid_service_pb2.GetGridHistoryRequest(session_id=session_id, user_auth=auth())
        )
        kinds = [p.kind for p in points.points]
        assert kinds.count(grid_pb2.EQUITY_POINT_KIND_SHIFT) == 2


async def test_a_trailing_limit_on_the_wrong_side_is_refused_naming_the_field(
    sim: RunningSimulator, tmp_path: Path
) -> None:
    async with running_app(sim, tmp_path) as server:
        code, error = await rpc_error(
            server.stub.StartGrid(start_request(trailing_up=True, trailing_up_limit="44000"))
        )
        assert code == grpc.StatusCode.INVALID_ARGUMENT
        assert [v.field for v in error.field_violations] == ["trailing_up_limit"]


async def test_a_shifted_grid_resumes_after_a_restart_and_keeps_shifting_without_doubling(
    sim: RunningSimulator, control: SimulatorControl, tmp_path: Path
) -> None:
    session_id = f"{USER}_BTCUSDT"
    async with running_app(sim, tmp_path) as server:
        prefix = prefix_of((await server.stub.StartGrid(start_request(trailing_up=True))).grid)
        await control.set_price(SYMBOL, "46000")
        await wait_for_order(sim, "BUY", "45000", "the new top cell's buy at 45000", prefix=prefix)

    # Down: the price rises one more step; nobody shifts the grid while the server is away.
    await control.set_price(SYMBOL, "47000")
    async with running_app(sim, tmp_path) as server:
        await wait_for_order(sim, "BUY", "46000", "the shift made after the restart", prefix=prefix)

        async def settled() -> bool:
            grid = await server.get(session_id)
            prices = sorted(o.price for o in venue_orders(sim, prefix))
            return grid.shift_count == 2 and len(prices) == 5 and prices[0] > Decimal(41000)

        await wait_until(settled, "two shifts, one order per cell, the dropped cells' buys cancelled")
        history = await control.history(sim.account.account_id, SYMBOL)
        sent = Counter(s.client_order_id for s in history.submissions if s.client_order_id.startswith(prefix))
        assert max(sent.values()) == 1, "a client_order_id was sent twice"
