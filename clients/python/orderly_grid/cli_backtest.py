"""`gridctl backtest`: a grid backtested by the service on a CSV file (BacktestGrid), as text, JSON
or a picture.

    gridctl backtest --csv prices.csv --ticker BTCUSDT --lower 40000 --upper 45000 --levels 6 \\
        --margin 1000 [--bar-order PESSIMISTIC] [--plot grid.png] [--json]

The plot (matplotlib, the optional `plot` extra) takes the result message only: price with the
lines and fills, equity, drawdown; the numbers never depend on it. Needs no wallet.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from orderly_grid import cli_render as render
from orderly_grid.params import enum_name
from orderly_grid.v1 import grid_pb2, grid_service_pb2

Result = grid_service_pb2.BacktestResult


def add_flags(parser: argparse.ArgumentParser) -> None:
    """The flags beyond the grid's (cli._add_grid_flags adds those)."""
    parser.add_argument("--csv", required=True, type=Path, help="timestamp,price or timestamp,o,h,l,c rows")
    parser.add_argument("--bar-order", default="NEAREST", choices=("NEAREST", "PESSIMISTIC"), type=str.upper)
    parser.add_argument("--maker-fee", help="maker fee rate (default: the service's)")
    parser.add_argument("--taker-fee", help="taker fee rate (default: the service's)")
    parser.add_argument("--funding-rate", help="funding rate per 8 h (longs pay when > 0)")
    parser.add_argument("--resolution", type=int, default=0, help="equity curve points (default 500)")
    parser.add_argument("--omit-fills", action="store_true", help="leave the fills out of the result")
    parser.add_argument("--plot", type=Path, help="write price, fills, equity and drawdown to FILE.png/.svg")


def progress_bar(stream: TextIO) -> Callable[[int, int], None]:
    def show(done: int, total: int) -> None:
        filled = int(30 * done / max(total, 1))
        stream.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {done:,}/{total:,} points")
        if done >= total:
            stream.write("\n")
        stream.flush()

    return show


def result_text(result: Result) -> str:
    pnl = result.pnl
    status = enum_name("GridStatus", result.status)
    if result.stop_reason:
        status += f" ({enum_name('StopReason', result.stop_reason)})"
    rows = [
        ("symbol", result.symbol),
        ("grid profit", render.money(pnl.grid_profit)),
        ("realized", render.money(pnl.realized)),
        ("unrealized", render.money(pnl.unrealized)),
        ("fees", render.money(pnl.fees)),
        ("funding", render.money(pnl.funding)),
        ("total", render.money(pnl.total)),
        ("round trips", str(pnl.round_trips)),
        ("position", f"{result.position.quantity} @ {render.money(result.position.average_entry_price)}"),
        ("grid APR", render.percent(pnl.grid_apr)),
        ("total APR", render.percent(pnl.total_apr)),
        (
            "max drawdown",
            f"{render.money(result.max_drawdown)} ({render.percent(result.max_drawdown_fraction)})",
        ),
        ("Sharpe / Sortino", f"{float(result.sharpe):.2f} / {float(result.sortino):.2f}"),
        ("time in range", render.percent(result.in_range_fraction)),
        ("fills", f"{result.fill_count} ({float(result.fills_per_day):.1f} a day)"),
        ("status", status),
        ("final price", result.position.mark_price),
        ("points stepped", f"{result.steps:,} of {result.points:,}"),
    ]
    width = max(len(name) for name, _ in rows)
    lines = [f"{name.ljust(width)}  {value}" for name, value in rows]
    lines.append("fill model:")
    lines.extend(f"  - {statement}" for statement in result.fill_model)
    return "\n".join(lines)


def plot_result(result: Result, path: Path) -> None:
    """Price with the lines and fills (top), equity (middle), drawdown (bottom), to `path`."""
    if path.suffix.lower() not in (".png", ".svg"):
        raise ValueError(f"{path}: the picture must be a .png or .svg file")
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only: no display needed, none opened
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ValueError("--plot needs matplotlib: pip install 'orderly-grid-client[plot]'") from exc

    def hours(timestamp_ms: int) -> float:
        return (timestamp_ms - result.start_ms) / 3_600_000

    curve = result.equity_curve
    figure, (top, middle, bottom) = plt.subplots(
        3, 1, sharex=True, figsize=(11, 8), gridspec_kw={"height_ratios": [3, 2, 1]}
    )
    top.set_title(
        f"{result.symbol}: total {render.money(result.pnl.total)}, {result.pnl.round_trips} round trips"
    )
    top.plot(
        [hours(p.timestamp_ms) for p in curve], [float(p.price) for p in curve], color="black", linewidth=0.8
    )
    for line in result.lines:
        top.axhline(float(line), color="grey", linewidth=0.4, alpha=0.6)
    for side, colour, marker in ((grid_pb2.SIDE_BUY, "tab:green", "^"), (grid_pb2.SIDE_SELL, "tab:red", "v")):
        chosen = [f for f in result.fills if f.side == side]
        top.scatter(
            [hours(f.timestamp_ms) for f in chosen],
            [float(f.price) for f in chosen],
            color=colour,
            marker=marker,
            s=14,
            zorder=3,
        )
    top.set_ylabel("price")
    middle.plot([hours(p.timestamp_ms) for p in curve], [float(p.equity) for p in curve], color="tab:blue")
    middle.set_ylabel("equity")
    bottom.fill_between(
        [hours(p.timestamp_ms) for p in curve],
        [-float(p.drawdown) for p in curve],
        0,
        color="tab:red",
        alpha=0.4,
    )
    bottom.set_ylabel("drawdown")
    bottom.set_xlabel("hours from start")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
