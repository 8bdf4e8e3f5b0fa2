"""SyncGridClient: the same calls from blocking code (run here in a worker thread, since the test's
event loop serves the real service)."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from orderly_grid import GridParams, SyncGridClient
from orderly_grid.errors import SessionNotFound
from orderly_grid.v1 import grid_pb2

from server.simulator import SimulatorControl
from tests.clients.conftest import WALLET_KEY
from tests.clients.service import LoopbackService
from tests.integration.harness import SYMBOL

BTC = GridParams("BTCUSDT", "40000", "45000", grid_levels=6, total_margin="1000", current_price="42500")


async def test_blocking_client_starts_watches_and_stops(
    service: LoopbackService, control: SimulatorControl
) -> None:
    client = await asyncio.to_thread(SyncGridClient, service.target, wallet=WALLET_KEY)
    try:
        grid = await asyncio.to_thread(client.start_grid, BTC)
        assert grid.status == grid_pb2.GRID_STATUS_RUNNING
        assert [g.session_id for g in await asyncio.to_thread(lambda: list(client.iter_grids()))] == [
            grid.session_id
        ]

        def first_fill() -> tuple[grid_pb2.Fill, int]:
            with client.watch_fills(grid.session_id) as fills:
                fill = next(fills)
                return fill, fills.last_seq

        watching = asyncio.create_task(asyncio.to_thread(first_fill))
        await control.set_price(SYMBOL, "41950")
        fill, last_seq = await asyncio.wait_for(watching, 10)
        assert (fill.side, Decimal(fill.price)) == (grid_pb2.SIDE_BUY, Decimal(42000))
        assert last_seq == fill.seq

        with pytest.raises(SessionNotFound):
            await asyncio.to_thread(client.get_grid, client.session_id("PERP_ETH_USDC"))
        stopped = await asyncio.to_thread(client.stop_grid, grid.session_id)
        assert stopped.status == grid_pb2.GRID_STATUS_STOPPED
    finally:
        await asyncio.to_thread(client.close)
    assert not client._thread.is_alive()
