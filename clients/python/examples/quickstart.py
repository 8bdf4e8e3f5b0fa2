"""Preview, start, inspect, list and stop a grid with the async SDK.

Run against `orderly-grid serve` (its built-in simulator quotes BTC around 42500):
    ORDERLY_GRID_WALLET_KEY=0x... .venv/bin/python clients/python/examples/quickstart.py
"""

from __future__ import annotations

import asyncio
import os
from decimal import Decimal

from orderly_grid import GridClient, GridParams, load_wallet
from orderly_grid.errors import DuplicateGridSession, SessionNotFound
from orderly_grid.v1 import grid_pb2


async def main() -> None:
    target = os.environ.get("GRIDCTL_TARGET", "localhost:50051")
    params = GridParams(
        ticker="BTCUSDT",
        lower_bound=Decimal("40000"),
        upper_bound=Decimal("45000"),
        grid_levels=6,  # price lines, both bounds included
        total_margin=Decimal("1000"),
        current_price=Decimal("42500"),
        direction="BOTH",
    )
    async with GridClient(target, wallet=load_wallet()) as client:
        preview = await client.preview_grid(params)
        print(f"{preview.symbol}: {len(preview.orders)} orders, margin {preview.required_margin}")

        try:
            grid = await client.start_grid(params)
        except DuplicateGridSession:
            # Still running from an earlier run: stop that one and start afresh.
            await client.stop_grid(client.session_id(params.ticker))
            grid = await client.start_grid(params)
        print(f"started {grid.session_id} with {len(grid.open_orders)} open orders")

        grid = await client.get_grid(grid.session_id)
        print(f"status {grid_pb2.GridStatus.Name(grid.status)}, realized PnL {grid.pnl.realized or '0'}")

        async for listed in client.iter_grids(status="RUNNING"):
            print(f"running: {listed.session_id}")

        stopped = await client.stop_grid(grid.session_id, close_position=True)
        print(f"stopped {stopped.session_id}: {len(stopped.open_orders)} open orders left")

        try:
            await client.get_grid(client.session_id("PERP_SOL_USDC"))
        except SessionNotFound as error:
            print(f"no SOL grid: {error.reason}")


if __name__ == "__main__":
    asyncio.run(main())
