"""`orderly-grid sweep`: backtest every combination of a space of grid parameters (or a seeded
sample) on one CSV, rank them by a metric, draw a heatmap over two parameters, optionally
walk-forward; on the local cores (a process pool) or a Dask cluster (--scheduler).

    orderly-grid sweep --csv bars.csv --margin 1000 --lower=-10%,-20% --upper=+10%,+20% \\
        --levels 20,40 --direction BOTH,LONG --metric sharpe --heatmap map.png --x lower --y upper

Lists are comma-separated; a bound ending in % is relative to the first price of the path (or of
each walk-forward window); write a leading minus as `--lower=-10%` so it is not read as a flag.
numpy and the backtester are imported only when the command runs.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from contextlib import AbstractContextManager
from dataclasses import asdict
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from server.backtest.sweep import Fold, SweepRow


def _list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--csv", required=True, type=Path, help="timestamp,price ticks or o,h,l,c bars")
    parser.add_argument("--symbol", default="PERP_BTC_USDC", help="Orderly symbol (rules from the catalog)")
    parser.add_argument("--margin", required=True, help="total margin of every grid, quote currency")
    parser.add_argument("--lower", required=True, type=_list, help="lower bounds: 40000,41000 or -10%%,-20%%")
    parser.add_argument("--upper", required=True, type=_list, help="upper bounds: 45000 or +10%%,+20%%")
    parser.add_argument("--levels", required=True, type=_list, help="line counts: 20,30,40")
    parser.add_argument("--direction", type=_list, default=["BOTH"], help="LONG,SHORT,BOTH")
    parser.add_argument("--grid-type", type=_list, default=["ARITHMETIC"], help="ARITHMETIC,GEOMETRIC")
    parser.add_argument("--ratio", type=_list, default=[""], help="ratios of GEOMETRIC grids: 0.01,0.02")
    parser.add_argument("--leverage", type=int, default=1)
    parser.add_argument("--maker-fee", default="0.0002")
    parser.add_argument("--taker-fee", default="0.0005")
    parser.add_argument("--funding-rate", default="0", help="per 8 h period (longs pay > 0)")
    parser.add_argument("--bar-order", choices=["NEAREST", "PESSIMISTIC"], default="NEAREST")
    parser.add_argument("--samples", type=int, default=0, help="a seeded random sample of this many (0: all)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--metric",
        default="total",
        choices=["total", "grid_profit", "total_apr", "sharpe", "sortino", "max_drawdown", "round_trips"],
    )
    parser.add_argument("--top", type=int, default=20, help="rows of the ranked table shown")
    parser.add_argument("--workers", type=int, default=0, help="local processes (0: every core)")
    parser.add_argument("--scheduler", help="run on a Dask cluster: tcp://HOST:8786 (the `dask` extra)")
    parser.add_argument(
        "--walk-forward", type=int, default=0, metavar="K", help="K windows: best on one, scored on the next"
    )
    parser.add_argument("--heatmap", type=Path, help="write the metric over --x and --y to .png/.svg")
    parser.add_argument("--x", default="lower", help="heatmap column parameter")
    parser.add_argument("--y", default="upper", help="heatmap row parameter")
    parser.add_argument("--json", action="store_true", help="print the ranked rows (and folds) as JSON")


def run(args: argparse.Namespace) -> int:
    from engine import Direction, GridConfig, GridType
    from server.backtest import BacktestOptions, BarOrder, PriceInputError, parse_csv
    from server.backtest.catalog_rules import catalog_rules
    from server.backtest.sweep import SweepJob, SweepSpace, local_pool, rows_of, sweep, walk_forward

    try:
        rules = catalog_rules(args.symbol)
        with args.csv.open() as handle:
            series, is_bars = parse_csv(handle)
        space = SweepSpace(
            lower=tuple(args.lower),
            upper=tuple(args.upper),
            levels=tuple(int(level) for level in args.levels),
            direction=tuple(Direction(d.upper()) for d in args.direction),
            grid_type=tuple(GridType(t.upper()) for t in args.grid_type),
            ratio=tuple(args.ratio),
        )
        points = space.sample(args.samples, args.seed) if args.samples else space.points()
        first = points[0]
        base = GridConfig(
            "sweep", rules.symbol, first.direction, Decimal(1), Decimal(2), 2, Decimal(1),
            Decimal(args.margin), leverage=args.leverage, maker_fee_rate=Decimal(args.maker_fee),
            taker_fee_rate=Decimal(args.taker_fee),
        )  # fmt: skip
        options = BacktestOptions(
            bar_order=BarOrder(args.bar_order), resolution=2, funding_rate=Decimal(args.funding_rate)
        )
        job = SweepJob(base, rules, options)
        pool: AbstractContextManager[Any]
        if args.scheduler:
            from server.backtest.dask_sweep import dask_pool

            pool = dask_pool(series, is_bars, args.scheduler)
        else:
            pool = local_pool(series, is_bars, args.workers or None)
        began = time.perf_counter()
        folds: list[Fold] = []
        with pool as (run_chunks, workers):
            rows = sweep(job, points, run_chunks, (0, rows_of(series, is_bars)), args.metric, workers)
            if args.walk_forward:
                folds = walk_forward(
                    job, points, run_chunks, rows_of(series, is_bars), args.walk_forward, args.metric, workers
                )
        seconds = time.perf_counter() - began
    except (OSError, PriceInputError, ArithmeticError, ValueError) as exc:
        print(f"orderly-grid sweep: {exc}", file=sys.stderr)
        return 2
    if args.heatmap is not None:
        from server.backtest.sweep_plot import plot_heatmap

        try:
            plot_heatmap(rows, args.x, args.y, args.metric, args.heatmap)
        except ValueError as exc:
            print(f"orderly-grid sweep: {exc}", file=sys.stderr)
            return 2
    if args.json:
        json.dump({"rows": [_row_dict(r) for r in rows], "folds": [_fold_dict(f) for f in folds]}, sys.stdout)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(render(rows[: args.top], args.metric, len(rows), seconds, folds))
    return 0


def _row_dict(row: SweepRow) -> dict[str, Any]:
    data = asdict(row)
    data["point"] = {name: row.point.label(name) for name in data["point"]}
    return data


def _fold_dict(fold: Fold) -> dict[str, Any]:
    return {
        "fit_rows": list(fold.fit),
        "test_rows": list(fold.test),
        "chosen": _row_dict(fold.chosen),
        "scored": _row_dict(fold.scored),
    }


def render(rows: list[SweepRow], metric: str, count: int, seconds: float, folds: list[Fold]) -> str:
    header = ("#", "lower", "upper", "levels", "direction", "type", "ratio", metric, "total", "trips", "note")
    table = [
        (
            str(rank),
            row.point.lower,
            row.point.upper,
            str(row.point.levels),
            row.point.direction.value,
            row.point.grid_type.value,
            row.point.ratio or "-",
            f"{row.metric(metric):.4g}",
            f"{row.total:.2f}",
            str(row.round_trips),
            row.error[:60],
        )
        for rank, row in enumerate(rows, start=1)
    ]
    widths = [max(len(line[i]) for line in [header, *table]) for i in range(len(header))]
    lines = [f"{count} configurations in {seconds:.1f} s, best {metric} first"]
    lines += [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True))
        for line in [header, *table]
    ]
    if folds:
        lines.append("walk-forward (best on each window, scored on the next):")
        for fold in folds:
            point = fold.chosen.point
            lines.append(
                f"  rows {fold.fit[0]}-{fold.fit[1]} -> {fold.test[0]}-{fold.test[1]}: "
                f"{point.lower}..{point.upper} x{point.levels} {point.direction.value} "
                f"in-sample {fold.chosen.metric(metric):.4g}, out-of-sample {fold.scored.metric(metric):.4g}"
                + (f" ({fold.scored.error[:60]})" if fold.scored.error else "")
            )
    return "\n".join(lines) + "\n"
