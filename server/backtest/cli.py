"""`orderly-grid backtest`: one backtest of a grid on a CSV price file, offline.

The grid takes the same fields as StartGrid and is checked by the same code (server.service.grid_input),
laid out around the file's first price; the symbol's rules come from the simulator's catalog (the
venue's rules for the listed symbols) unless overridden. numpy is imported only when the command runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from server.backtest.result import BacktestResult


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--csv", required=True, type=Path, help="timestamp,price ticks or timestamp,o,h,l,c bars"
    )
    parser.add_argument("--symbol", default="PERP_BTC_USDC", help="Orderly symbol (rules from the catalog)")
    parser.add_argument("--direction", choices=["LONG", "SHORT", "BOTH"], default="BOTH")
    parser.add_argument("--lower", required=True, help="lower bound (lowest line)")
    parser.add_argument("--upper", required=True, help="upper bound (highest line)")
    parser.add_argument("--levels", type=int, required=True, help="lines including both bounds")
    parser.add_argument("--margin", required=True, help="total margin, quote currency")
    parser.add_argument("--grid-type", choices=["ARITHMETIC", "GEOMETRIC"], default="ARITHMETIC")
    parser.add_argument("--ratio", default="", help="grid_ratio of a GEOMETRIC grid")
    parser.add_argument("--leverage", type=int, default=1)
    parser.add_argument("--trigger", default="", help="trigger price")
    parser.add_argument("--stop-loss", default="", help="stop-loss price")
    parser.add_argument("--take-profit", default="", help="take-profit price")
    parser.add_argument("--close-on-stop", action="store_true", help="close the position when stopping")
    parser.add_argument("--trailing-up", action="store_true", help="follow the price up, a cell at a time")
    parser.add_argument("--trailing-down", action="store_true", help="follow the price down")
    parser.add_argument("--trailing-up-limit", default="", help="never shift the top line above this")
    parser.add_argument("--trailing-down-limit", default="", help="never shift the bottom line below this")
    parser.add_argument("--trailing-close", action="store_true", help="close a dropped cell's inventory")
    parser.add_argument("--maker-fee", default="0.0002", help="maker fee rate")
    parser.add_argument("--taker-fee", default="0.0005", help="taker fee rate")
    parser.add_argument("--funding-rate", default="0", help="funding rate per 8 h period (longs pay > 0)")
    parser.add_argument(
        "--bar-order", choices=["NEAREST", "PESSIMISTIC"], default="NEAREST", help="path inside a bar"
    )
    parser.add_argument("--resolution", type=int, default=500, help="equity curve points returned")
    parser.add_argument("--json", action="store_true", help="print the whole result as JSON")
    parser.add_argument("--plot", type=Path, help="write a picture (.png or .svg)")


def _progress_bar(stream: TextIO) -> Callable[[int, int], None]:
    def show(done: int, total: int) -> None:
        filled = int(30 * done / max(total, 1))
        stream.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {done:,}/{total:,} points")
        if done >= total:
            stream.write("\n")
        stream.flush()

    return show


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from engine import GridConfigError
    from engine.lines import round_to_tick
    from engine.types import Direction, GridType
    from server.api.errors import DomainError
    from server.backtest import BacktestOptions, BarOrder, PriceInputError, parse_csv, path_for
    from server.backtest.catalog_rules import catalog_rules
    from server.backtest.run import run_backtest
    from server.service.grid_input import GridConfigInput, to_engine_config

    try:
        rules = catalog_rules(args.symbol)
        with args.csv.open() as handle:
            series, is_bars = parse_csv(handle)
        source = GridConfigInput(
            ticker=args.symbol,
            direction=Direction(args.direction),
            current_price="",
            upper_bound=args.upper,
            lower_bound=args.lower,
            grid_levels=args.levels,
            total_margin=args.margin,
            grid_type=GridType(args.grid_type),
            grid_ratio=args.ratio,
            leverage=args.leverage,
            trigger_price=args.trigger,
            stop_loss_price=args.stop_loss,
            take_profit_price=args.take_profit,
            close_position_on_stop=args.close_on_stop,
            trailing_up=args.trailing_up,
            trailing_down=args.trailing_down,
            trailing_up_limit=args.trailing_up_limit,
            trailing_down_limit=args.trailing_down_limit,
            trailing_close=args.trailing_close,
        )
        order = BarOrder(args.bar_order)
        mark = round_to_tick(series.price(0), rules.quote_tick)
        config = to_engine_config(source, "backtest", rules.symbol, mark)
        config = replace(
            config, maker_fee_rate=Decimal(args.maker_fee), taker_fee_rate=Decimal(args.taker_fee)
        )
        path = path_for(series, is_bars, config, order)
        options = BacktestOptions(
            bar_order=order, resolution=args.resolution, funding_rate=Decimal(args.funding_rate)
        )
        progress = _progress_bar(sys.stderr) if sys.stderr.isatty() and len(path) > 200_000 else None
        result = run_backtest(config, rules, path, options, progress)
    except (OSError, PriceInputError, GridConfigError, DomainError, ArithmeticError, ValueError) as exc:
        print(f"orderly-grid backtest: {exc}", file=sys.stderr)
        return 2
    if args.plot is not None:
        from server.backtest.plot import plot_result

        plot_result(result, args.plot)
    if args.json:
        json.dump(result.to_dict(), sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(render(result))
    return 0


def render(result: BacktestResult) -> str:
    pnl, stats = result.pnl, result.stats
    rows = [
        ("grid profit", f"{pnl.grid_profit:.2f}"),
        ("realized", f"{pnl.realized:.2f}"),
        ("unrealized", f"{pnl.unrealized:.2f}"),
        ("fees", f"{pnl.fees:.2f}"),
        ("funding", f"{pnl.funding:.2f}"),
        ("total", f"{pnl.total:.2f}"),
        ("round trips", str(pnl.round_trips)),
        ("position", f"{pnl.position} @ {pnl.average_entry_price:.2f}"),
        ("grid APR", f"{pnl.grid_apr * 100:.2f} %"),
        ("total APR", f"{pnl.total_apr * 100:.2f} %"),
        ("max drawdown", f"{stats.max_drawdown:.2f} ({stats.max_drawdown_fraction * 100:.2f} %)"),
        ("Sharpe / Sortino", f"{stats.sharpe:.2f} / {stats.sortino:.2f}"),
        ("time in range", f"{stats.time_in_range * 100:.1f} %"),
        ("fills", f"{len(result.fills)} ({stats.fills_per_day:.1f} a day)"),
        ("status", result.status + (f" ({result.stop_reason})" if result.stop_reason else "")),
        ("final price", str(result.final_price)),
        ("points stepped", f"{result.steps:,} of {result.points:,}"),
    ]
    width = max(len(name) for name, _ in rows)
    lines = [f"{name.ljust(width)}  {value}" for name, value in rows]
    lines.append("fill model:")
    lines.extend(f"  - {statement}" for statement in result.fill_model)
    return "\n".join(lines) + "\n"
