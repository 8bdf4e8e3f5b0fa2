"""Pictures of a backtest: price with the grid's lines and every fill, equity and drawdown under it.

Takes the typed result (server.backtest.result) and nothing else, so the numbers never depend on
matplotlib; matplotlib is imported here only (the `backtest` extra). PNG or SVG by the file's suffix.
"""

from __future__ import annotations

from pathlib import Path

from engine import Side
from server.backtest.result import BacktestResult

_MAX_FILL_MARKERS = 20_000  # beyond this a scatter is a smear; the newest are drawn


def plot_result(result: BacktestResult, path: Path) -> None:
    if path.suffix.lower() not in (".png", ".svg"):
        raise ValueError(f"{path}: the picture must be a .png or .svg file")
    import matplotlib

    matplotlib.use("Agg")  # no display: files only
    import matplotlib.pyplot as plt

    hours = [(p.timestamp_ms - result.start_ms) / 3_600_000 for p in result.equity_curve]
    figure, (top, middle, bottom) = plt.subplots(
        3, 1, sharex=True, figsize=(11, 8), gridspec_kw={"height_ratios": [3, 2, 1]}
    )
    config = result.config
    top.set_title(
        f"{config.symbol} {config.direction.value} {config.grid_type.value} grid, "
        f"{len(result.lines)} lines {config.lower_price}..{config.upper_price}: "
        f"total {result.pnl.total:.2f}, {result.pnl.round_trips} round trips"
    )
    top.plot(hours, [p.price for p in result.equity_curve], color="black", linewidth=0.8, label="price")
    for line in result.lines:
        top.axhline(float(line), color="grey", linewidth=0.4, alpha=0.6)
    fills = result.fills[-_MAX_FILL_MARKERS:]
    for side, colour, marker in ((Side.BUY, "tab:green", "^"), (Side.SELL, "tab:red", "v")):
        chosen = [f for f in fills if f.side is side]
        top.scatter(
            [(f.timestamp_ms - result.start_ms) / 3_600_000 for f in chosen],
            [float(f.price) for f in chosen],
            color=colour,
            marker=marker,
            s=14,
            label=side.value.lower(),
            zorder=3,
        )
    top.set_ylabel("price")
    top.legend(loc="upper left", fontsize="small")
    middle.plot(hours, [p.equity for p in result.equity_curve], color="tab:blue")
    middle.set_ylabel("equity")
    bottom.fill_between(hours, [-p.drawdown for p in result.equity_curve], 0, color="tab:red", alpha=0.4)
    bottom.set_ylabel("drawdown")
    bottom.set_xlabel("hours from start")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
