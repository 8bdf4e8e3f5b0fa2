"""gridctl's live views on a terminal (an in-memory TTY), in-process against the real service."""

from __future__ import annotations

import asyncio
import io
from decimal import Decimal

from orderly_grid import cli_live, cli_render
from orderly_grid.cli_history import SPARK_CHARS
from orderly_grid.client import GridClient
from orderly_grid.params import GridParams

from server.simulator import SimulatorControl
from tests.clients.service import LoopbackService, wait_for_resting_order
from tests.integration.harness import SYMBOL

BTC = GridParams("BTCUSDT", "40000", "45000", grid_levels=6, total_margin="1000", current_price="42500")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


async def test_start_progress_redraws_one_line_and_ends_with_the_placed_count(client: GridClient) -> None:
    err = Terminal()
    grid = await cli_live.start_with_progress(client, BTC, err)
    assert len(grid.open_orders) == 5
    shown = err.getvalue()
    assert shown.startswith(cli_live.CLEAR_LINE)
    assert "\n" not in shown.rstrip("\n")  # one line rewritten in place, not a scroll of lines
    assert shown.rsplit(cli_live.CLEAR_LINE, 1)[-1] == f"started {grid.session_id}: 5/5 orders placed\n"


async def test_watch_redraws_a_table_of_pnl_and_fills(
    service: LoopbackService, client: GridClient, control: SimulatorControl
) -> None:
    grid = await client.start_grid(BTC)
    out, err = Terminal(), Terminal()
    watching = asyncio.create_task(
        cli_live.watch(client, "", 0, out, err, json_lines=False, limit=2, emit_json=cli_render.as_json_line)
    )
    await control.set_price(SYMBOL, "41950")
    await wait_for_resting_order(service.sim, "SELL", "43000")
    await control.set_price(SYMBOL, "43050")
    assert await asyncio.wait_for(watching, 20) == 2

    screen = out.getvalue()
    assert screen.startswith(cli_live.HIDE_CURSOR)
    assert screen.endswith(cli_live.SHOW_CURSOR)
    last_frame = screen.removesuffix(cli_live.SHOW_CURSOR).rsplit(cli_live.CLEAR_SCREEN, 1)[-1]
    lines = last_frame.splitlines()
    assert lines[0].startswith("gridctl watch  live  2 fills")
    pnl_row = next(line for line in lines if line.startswith(grid.session_id))
    realized, _unrealized, _fees, total, trips, trend = pnl_row.split()[1:]
    assert Decimal(realized) > 0
    assert Decimal(total) == Decimal(realized)
    assert trips == "1"
    assert set(trend) <= set(SPARK_CHARS)  # the total PnL's sparkline: the run's history, then each refresh
    assert trend[-1] == SPARK_CHARS[-1]  # the round trip's profit is the highest total so far
    fill_rows = [line.split() for line in lines if line.strip() and line.split()[0] in ("1", "2")]
    assert [(row[4], row[5]) for row in fill_rows] == [("BUY", "42000"), ("SELL", "43000")]
    assert err.getvalue() == ""
