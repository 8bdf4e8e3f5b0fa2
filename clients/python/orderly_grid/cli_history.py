"""`gridctl history`: a run's PnL history as a table, a sparkline, or a plot.

The plot (matplotlib, an optional extra: `pip install 'orderly-grid-client[plot]'`) draws total PnL
and the price over time with every fill marked (buys up, sells down); numbers never depend on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

from orderly_grid import cli_render as render
from orderly_grid.params import enum_name
from orderly_grid.v1 import grid_pb2

SPARK_CHARS = "▁▂▃▄▅▆▇█"
_FILL = grid_pb2.EQUITY_POINT_KIND_FILL


def sparkline(values: Sequence[Decimal], width: int = 40) -> str:
    """The last `width` values as one line of block characters (flat when they do not move)."""
    shown = list(values)[-width:]
    if not shown:
        return ""
    low, high = min(shown), max(shown)
    if high == low:
        return SPARK_CHARS[0] * len(shown)
    top = len(SPARK_CHARS) - 1
    return "".join(SPARK_CHARS[int((v - low) / (high - low) * top)] for v in shown)


def history_text(points: Sequence[grid_pb2.EquityPoint], run_id: str) -> str:
    rows = [
        (
            render.when(p.timestamp_ms),
            enum_name("EquityPointKind", p.kind),
            render.money(p.total),
            render.money(p.realized),
            render.money(p.unrealized),
            p.position,
            p.mark_price,
            f"{render.side(p.fill_side)} {p.fill_quantity} @ {p.fill_price}" if p.kind == _FILL else "",
        )
        for p in points
    ]
    totals = [Decimal(p.total) for p in points]
    header = f"run {run_id}  {len(points)} points  total PnL {sparkline(totals)}"
    columns = ("time", "kind", "total", "realized", "unrealized", "position", "mark", "fill")
    return header + "\n" + render.table(columns, rows)


def plot_history(points: Sequence[grid_pb2.EquityPoint], title: str, path: Path) -> None:
    """Total PnL over time (top) and the price with the fills marked (bottom), written to `path`
    (PNG or SVG, by its suffix)."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only: no display needed, none opened
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ValueError("--plot needs matplotlib: pip install 'orderly-grid-client[plot]'") from exc
    from datetime import UTC, datetime

    def at(p: grid_pb2.EquityPoint) -> datetime:
        return datetime.fromtimestamp(p.timestamp_ms / 1000, UTC)

    figure, (pnl_axes, price_axes) = plt.subplots(2, 1, sharex=True, figsize=(10, 6))
    pnl_axes.plot([at(p) for p in points], [float(p.total) for p in points], color="tab:blue")
    pnl_axes.axhline(0, color="grey", linewidth=0.5)
    pnl_axes.set_ylabel("total PnL")
    pnl_axes.set_title(title)
    price_axes.plot([at(p) for p in points], [float(p.mark_price) for p in points], color="tab:grey")
    for side, marker, color in ((grid_pb2.SIDE_BUY, "^", "tab:green"), (grid_pb2.SIDE_SELL, "v", "tab:red")):
        fills = [p for p in points if p.kind == _FILL and p.fill_side == side]
        price_axes.scatter(
            [at(p) for p in fills], [float(p.fill_price) for p in fills], marker=marker, color=color, zorder=3
        )
    price_axes.set_ylabel("price")
    figure.autofmt_xdate()
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
