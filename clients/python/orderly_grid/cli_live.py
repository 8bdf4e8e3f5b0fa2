"""The live parts of `gridctl`: progress while a start places its orders, and the `watch` table.

On a terminal both redraw in place with ANSI escapes; when the output is a pipe or a file they
append plain lines instead, so logs and scripts get one line per event.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import TextIO

from orderly_grid import cli_render as render
from orderly_grid.cli_history import sparkline
from orderly_grid.client import GridClient
from orderly_grid.errors import GridError
from orderly_grid.params import GridParams
from orderly_grid.v1 import grid_pb2

SPINNER = "|/-\\"
CLEAR_SCREEN = "\x1b[H\x1b[J"
CLEAR_LINE = "\r\x1b[K"
HIDE_CURSOR = "\x1b[?25l"
SHOW_CURSOR = "\x1b[?25h"
POLL_INTERVAL_S = 0.25
PNL_REFRESH_S = 2.0
SPARKLINE_WIDTH = 30
HISTORY_RESOLUTION_MS = 60_000


class ProgressLine:
    """One status line: rewritten in place on a TTY, printed when it changes otherwise."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._tty = out.isatty()
        self._last = ""
        self._frame = 0

    def update(self, text: str) -> None:
        if self._tty:
            self._frame += 1
            self._out.write(f"{CLEAR_LINE}{SPINNER[self._frame % len(SPINNER)]} {text}")
            self._out.flush()
        elif text != self._last:
            self._out.write(text + "\n")
            self._out.flush()
        self._last = text

    def finish(self, text: str) -> None:
        self._out.write(f"{CLEAR_LINE}{text}\n" if self._tty else text + "\n")
        self._out.flush()


async def start_with_progress(client: GridClient, params: GridParams, out: TextIO) -> grid_pb2.Grid:
    """StartGrid, showing how many of the planned orders the exchange has acknowledged so far.

    The plan comes from PreviewGrid (which also rejects a bad config before anything starts); the
    count comes from polling GetGrid on the session id the start will create."""
    planned = len((await client.preview_grid(params)).orders)
    session_id = client.session_id(params.ticker)
    progress = ProgressLine(out)
    started_at = time.monotonic()
    start = asyncio.create_task(client.start_grid(params))
    placed = 0
    try:
        while not start.done():
            elapsed = time.monotonic() - started_at
            progress.update(f"starting {session_id}: {placed}/{planned} orders placed ({elapsed:.1f} s)")
            await asyncio.wait({start}, timeout=POLL_INTERVAL_S)
            if not start.done():
                placed = await _placed_orders(client, session_id, placed)
    except BaseException:
        start.cancel()
        raise
    try:
        grid = start.result()
    except GridError:
        progress.finish(f"start of {session_id} failed")
        raise
    progress.finish(f"started {grid.session_id}: {_acknowledged(grid)}/{planned} orders placed")
    return grid


async def _placed_orders(client: GridClient, session_id: str, previous: int) -> int:
    try:
        grid = await client.get_grid(session_id, timeout_s=POLL_INTERVAL_S * 4)
    except GridError:
        return previous  # not stored yet, or busy: keep the last count
    return _acknowledged(grid)


def _acknowledged(grid: grid_pb2.Grid) -> int:
    """How many of the grid's open orders the exchange has acknowledged (they carry its order id)."""
    return sum(1 for o in grid.open_orders if o.order_id)


class WatchView:
    """The state `gridctl watch` shows: the last fills and the PnL of each session seen."""

    def __init__(self, rows: int = 15) -> None:
        self.fills: deque[grid_pb2.Fill] = deque(maxlen=rows)
        self.pnl: dict[str, grid_pb2.Pnl] = {}
        self.totals: dict[str, deque[Decimal]] = {}  # each session's total PnL, for the sparkline
        self.status = "connecting"
        self.count = 0
        self.venue = ""  # "simulator" or "orderly", from the sessions' own records

    def render(self) -> str:
        pnl_rows = [
            (
                session_id,
                render.money(p.realized),
                render.money(p.unrealized),
                render.money(p.fees),
                render.money(p.total),
                str(p.round_trips),
                sparkline(self.totals.get(session_id, ())),
            )
            for session_id, p in sorted(self.pnl.items())
        ]
        return "\n".join(
            [
                f"gridctl watch  {self.status}  {render.count(self.count, 'fill')}  (Ctrl-C to quit)",
                f"venue {render.venue(self.venue)}",
                "",
                render.table(
                    ("session", "realized", "unrealized", "fees", "total", "trips", "total PnL trend"),
                    pnl_rows,
                ),
                "",
                render.fills_table(self.fills),
                "",
            ]
        )


async def watch(
    client: GridClient,
    session_id: str,
    after_seq: int,
    out: TextIO,
    err: TextIO,
    *,
    json_lines: bool,
    limit: int | None,
    emit_json: Callable[[grid_pb2.Fill], str],
) -> int:
    """Follow fills until `limit` fills arrived (or forever); returns how many were shown."""
    view = WatchView()
    tty = out.isatty() and not json_lines
    queue: asyncio.Queue[grid_pb2.Fill] = asyncio.Queue()

    def reconnecting(error: GridError | None, attempt: int) -> None:
        view.status = f"reconnecting (attempt {attempt}: {error.reason if error else 'stream ended'})"
        if tty:
            out.write(CLEAR_SCREEN + view.render())
            out.flush()
        else:
            err.write(f"gridctl watch: {view.status}, resuming after seq {stream.last_seq}\n")
            err.flush()

    stream = client.watch_fills(session_id, after_seq=after_seq, on_reconnect=reconnecting)

    async def pump() -> None:
        async for fill in stream:
            await queue.put(fill)

    pumping = asyncio.create_task(pump())
    # The sessions show from the start, with their PnL, not only once each has its first fill.
    following = await _sessions_to_follow(client, session_id)
    await _refresh_pnl(client, view, following)
    if not tty:
        names = ", ".join(following) or "none yet"
        err.write(
            f"gridctl watch: following {render.count(len(following), 'running session')} ({names}) "
            f"on venue {render.venue(view.venue)}\n"
        )
        err.flush()
    if tty:
        out.write(HIDE_CURSOR + CLEAR_SCREEN + view.render())
        out.flush()
    try:
        while limit is None or view.count < limit:
            getter = asyncio.ensure_future(queue.get())
            await asyncio.wait({getter, pumping}, timeout=PNL_REFRESH_S, return_when=asyncio.FIRST_COMPLETED)
            if not getter.done():
                getter.cancel()
                if pumping.done():
                    pumping.result()  # raises the stream's error
                await _refresh_pnl(client, view, list(view.pnl) or ([session_id] if session_id else []))
            else:
                fill = getter.result()
                view.count += 1
                view.fills.append(fill)
                if json_lines:
                    out.write(emit_json(fill) + "\n")
                elif not tty:
                    out.write(render.fill_line(fill) + "\n")
                await _refresh_pnl(client, view, [fill.session_id])
            view.status = "live" if stream.live.is_set() else view.status
            if tty:
                out.write(CLEAR_SCREEN + view.render())
            out.flush()
    finally:
        pumping.cancel()
        with contextlib.suppress(asyncio.CancelledError, GridError):
            await pumping
        await stream.aclose()
        if tty:
            out.write(SHOW_CURSOR)
            out.flush()
    return view.count


async def _sessions_to_follow(client: GridClient, session_id: str) -> list[str]:
    """The one session asked for, else every running session of the signer."""
    if session_id:
        return [session_id]
    with contextlib.suppress(GridError):
        return [g.session_id async for g in client.iter_grids(status="RUNNING")]
    return []


async def _refresh_pnl(client: GridClient, view: WatchView, session_ids: Iterable[str]) -> None:
    for session_id in list(session_ids):
        with contextlib.suppress(GridError):
            grid = await client.get_grid(session_id)
            pnl = grid.pnl
            view.pnl[session_id] = pnl
            view.venue = grid.venue or view.venue
            totals = view.totals.get(session_id)
            if totals is None:  # first sight: the trend so far, from the run's history
                totals = view.totals[session_id] = deque(maxlen=SPARKLINE_WIDTH)
                history = await client.get_grid_history(
                    session_id, resolution_ms=HISTORY_RESOLUTION_MS, page_size=SPARKLINE_WIDTH
                )
                totals.extend(Decimal(point.total) for point in history.points)
            totals.append(Decimal(pnl.total))
