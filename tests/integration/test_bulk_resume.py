"""A restart resumes every session of an account from shared bulk reads (server.service.account_resume):
one read of the account's trades, orders and positions for all of them, not three per session."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from orderly_grid.v1 import grid_pb2

from server.simulator import RunningSimulator, SimulatorControl
from tests.integration.harness import (
    SYMBOL,
    USER,
    eth_start_request,
    prefix_of,
    running_app,
    start_request,
    venue_orders,
    wait_for_order,
    wait_until,
)

SOL_REQUEST = {"ticker": "SOLUSDT", "current_price": "150", "upper_bound": "160", "lower_bound": "135"}


async def test_a_restart_reads_the_account_once_for_all_its_sessions_and_catches_up(
    sim: RunningSimulator, control: SimulatorControl, tmp_path: Path
) -> None:
    async with running_app(sim, tmp_path) as server:
        btc = (await server.stub.StartGrid(start_request())).grid
        await server.stub.StartGrid(eth_start_request())
        await server.stub.StartGrid(start_request(**SOL_REQUEST, grid_levels=6))
    # Down: a buy fills on BTC; nobody places its counter order.
    assert await control.set_price(SYMBOL, "41950") == 1
    before = Counter(sim.context.requests)

    async with running_app(sim, tmp_path) as server:
        await wait_for_order(
            sim, "SELL", "43000", "the counter sell of the fill made while down", prefix=prefix_of(btc)
        )

        async def all_running() -> bool:
            grids = [await server.get(f"{USER}_{t}") for t in ("BTCUSDT", "ETHUSDT", "SOLUSDT")]
            return all(g.status == grid_pb2.GRID_STATUS_RUNNING and len(g.open_orders) == 5 for g in grids)

        await wait_until(all_running, "all three sessions running with their five orders")
        await wait_until(lambda: _resumed(server), "the start-up resume to finish")
        reads = Counter(sim.context.requests) - before
        assert server.app.service.resume_detail() == (True, "3 running")
    assert reads["GET /v1/trades"] == 1, reads  # one read of the account's trades, all symbols
    assert reads["GET /v1/positions"] <= 3, reads  # the bulk snapshot's, the adapter's own funding reads
    per_session = (
        reads["GET /v1/orders"]
        + reads["GET /v1/order/{order_id}"]
        + reads["GET /v1/client/order/{client_order_id}"]
    )
    assert per_session <= 4, reads  # orders since + open orders (+ the adapter's reconnect snapshot)
    ids = Counter(o.client_order_id for o in venue_orders(sim))
    assert all(count == 1 for count in ids.values()), ids


async def _resumed(server: object) -> bool:
    progress = server.app.service.resume_progress()  # type: ignore[attr-defined]
    return bool(progress) and all(done == total for _, done, total in progress)
