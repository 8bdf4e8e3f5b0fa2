"""Parameter search: one base grid, a space of values for lower, upper, levels, direction, grid type
and ratio, every combination (or a seeded random sample of them) backtested on one path, ranked by
a metric; optionally walk-forward (pick the best on one window, score it on the next).

The work is cut into chunks of configurations and handed to an executor: a local process pool by
default (`local_pool`), whose workers receive the pre-parsed path once, at start-up, as numpy arrays
(pickled once per worker, not once per configuration); or a Dask cluster (server.backtest.dask_sweep),
which gets the same chunk function. Each worker returns only the figures of each run, never the
fills or curves, so what crosses process boundaries stays small.

Bounds may be absolute ("40000") or relative to the first price of the path (or of the window):
"-5%" / "+5%", so one space fits every walk-forward window.
"""

from __future__ import annotations

import itertools
import math
import os
import random
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from decimal import Decimal

from engine import Direction, GridConfig, GridConfigError, GridType, MarketRules
from engine.lines import round_to_tick
from server.backtest.prices import PriceSeries
from server.backtest.run import BacktestOptions, config_at_start, path_for, run_backtest

PARAMETERS = ("lower", "upper", "levels", "direction", "grid_type", "ratio")
# name -> (read from a result row, higher is better)
METRICS: dict[str, bool] = {
    "total": True,
    "grid_profit": True,
    "total_apr": True,
    "sharpe": True,
    "sortino": True,
    "max_drawdown": False,
    "round_trips": True,
}


@dataclass(frozen=True, slots=True)
class SweepPoint:
    """One configuration of the space: text values as given (bounds may be relative)."""

    lower: str
    upper: str
    levels: int
    direction: Direction
    grid_type: GridType
    ratio: str  # "" for ARITHMETIC

    def label(self, name: str) -> str:
        value = getattr(self, name)
        return value.value if isinstance(value, Direction | GridType) else str(value)


@dataclass(frozen=True, slots=True)
class SweepSpace:
    lower: tuple[str, ...]
    upper: tuple[str, ...]
    levels: tuple[int, ...]
    direction: tuple[Direction, ...] = (Direction.BOTH,)
    grid_type: tuple[GridType, ...] = (GridType.ARITHMETIC,)
    ratio: tuple[str, ...] = ("",)

    def points(self) -> list[SweepPoint]:
        """Every combination; a ratio goes only with GEOMETRIC (ARITHMETIC takes one, empty)."""
        found: dict[SweepPoint, None] = {}
        for lower, upper, levels, direction, grid_type, ratio in itertools.product(
            self.lower, self.upper, self.levels, self.direction, self.grid_type, self.ratio
        ):
            ratio = ratio if grid_type is GridType.GEOMETRIC else ""
            found[SweepPoint(lower, upper, levels, direction, grid_type, ratio)] = None
        return list(found)

    def sample(self, count: int, seed: int) -> list[SweepPoint]:
        """`count` distinct combinations drawn with a seeded generator (all when fewer exist)."""
        every = self.points()
        if count >= len(every):
            return every
        return random.Random(seed).sample(every, count)


@dataclass(frozen=True, slots=True)
class SweepRow:
    point: SweepPoint
    total: float
    grid_profit: float
    total_apr: float
    sharpe: float
    sortino: float
    max_drawdown: float
    round_trips: int
    fills: int
    error: str = ""  # a configuration the engine refuses on this path (its rows rank last)

    def metric(self, name: str) -> float:
        return float(getattr(self, name))


@dataclass(frozen=True, slots=True)
class SweepJob:
    """What every worker needs besides its chunk: the base grid, the rules, the options."""

    base: GridConfig
    rules: MarketRules
    options: BacktestOptions


def resolve_bound(text: str, start: Decimal, tick: Decimal) -> Decimal:
    """An absolute bound, or "-5%"/"+5%" of `start`, on the tick."""
    text = text.strip()
    if text.endswith("%"):
        return round_to_tick(start * (1 + Decimal(text[:-1]) / 100), tick)
    return Decimal(text)


def _config(job: SweepJob, point: SweepPoint, start: Decimal) -> GridConfig:
    tick = job.rules.quote_tick
    return replace(
        job.base,
        lower_price=resolve_bound(point.lower, start, tick),
        upper_price=resolve_bound(point.upper, start, tick),
        grid_levels=point.levels,
        direction=point.direction,
        grid_type=point.grid_type,
        grid_ratio=Decimal(point.ratio) if point.ratio else None,
    )


def _failed(point: SweepPoint, error: str) -> SweepRow:
    return SweepRow(point, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0, 0, error)


def run_point(job: SweepJob, series: PriceSeries, is_bars: bool, point: SweepPoint) -> SweepRow:
    """One backtest, reduced to its figures."""
    start = round_to_tick(series.price(0), job.rules.quote_tick)
    try:
        config = _config(job, point, start)
        path = path_for(series, is_bars, config, job.options.bar_order)
        result = run_backtest(config_at_start(config, path, job.rules), job.rules, path, job.options)
    except GridConfigError as exc:
        return _failed(point, "; ".join(f"{field}: {rule}" for field, rule in exc.violations))
    except (ArithmeticError, ValueError) as exc:
        return _failed(point, str(exc))
    pnl, stats = result.pnl, result.stats
    return SweepRow(
        point,
        float(pnl.total),
        float(pnl.grid_profit),
        float(pnl.total_apr),
        stats.sharpe,
        stats.sortino,
        stats.max_drawdown,
        pnl.round_trips,
        len(result.fills),
    )


# -- workers ---------------------------------------------------------------------------------------

_WORKER: dict[str, tuple[PriceSeries, bool]] = {}


def _init_worker(series: PriceSeries, is_bars: bool) -> None:
    _WORKER["path"] = (series, is_bars)


def run_chunk(job: SweepJob, points: Sequence[SweepPoint], window: tuple[int, int]) -> list[SweepRow]:
    """A chunk in a pool worker, on the rows [start, end) of the path the worker was given."""
    series, is_bars = _WORKER["path"]
    return [run_point(job, window_of(series, is_bars, window), is_bars, point) for point in points]


def window_of(series: PriceSeries, is_bars: bool, window: tuple[int, int]) -> PriceSeries:
    """Rows [start, end) of the path (a bar is four points of a bars series)."""
    start, end = window
    if start == 0 and end >= rows_of(series, is_bars):
        return series
    width = 4 if is_bars else 1
    return PriceSeries(
        series.timestamps_ms[start * width : end * width],
        series.prices[start * width : end * width],
        series.scale,
        bars=(end - start) if is_bars else 0,
    )


def rows_of(series: PriceSeries, is_bars: bool) -> int:
    return series.bars if is_bars else len(series)


ChunkRunner = Callable[[SweepJob, list[list[SweepPoint]], tuple[int, int]], Iterator[list[SweepRow]]]


@contextmanager
def local_pool(
    series: PriceSeries, is_bars: bool, workers: int | None = None
) -> Iterator[tuple[ChunkRunner, int]]:
    """A process pool whose workers hold the path: (a function that runs chunks on it, workers)."""
    count = workers or os.cpu_count() or 1
    with ProcessPoolExecutor(count, initializer=_init_worker, initargs=(series, is_bars)) as pool:

        def run_chunks(
            job: SweepJob, chunks: list[list[SweepPoint]], window: tuple[int, int]
        ) -> Iterator[list[SweepRow]]:
            return _map(pool, job, chunks, window)

        yield run_chunks, count


def _map(
    pool: Executor, job: SweepJob, chunks: list[list[SweepPoint]], window: tuple[int, int]
) -> Iterator[list[SweepRow]]:
    futures = [pool.submit(run_chunk, job, chunk, window) for chunk in chunks]
    return (future.result() for future in futures)


def chunks_of(points: Sequence[SweepPoint], workers: int) -> list[list[SweepPoint]]:
    """About four chunks per worker: few enough to keep dispatch cheap, enough to balance grids of
    different cost (more lines, more steps)."""
    size = max(1, math.ceil(len(points) / (workers * 4)))
    return [list(points[i : i + size]) for i in range(0, len(points), size)]


# -- the search ------------------------------------------------------------------------------------


def ranked(rows: Sequence[SweepRow], metric: str) -> list[SweepRow]:
    """Best first by `metric`; failed configurations last."""
    if metric not in METRICS:
        raise ValueError(f"metric: one of {', '.join(METRICS)}, got {metric!r}")
    sign = -1.0 if METRICS[metric] else 1.0
    return sorted(rows, key=lambda row: (bool(row.error), sign * row.metric(metric)))


def sweep(
    job: SweepJob,
    points: Sequence[SweepPoint],
    run_chunks: ChunkRunner,
    window: tuple[int, int],
    metric: str,
    workers: int,
) -> list[SweepRow]:
    """Every point on rows [start, end) of the path, ranked by `metric`."""
    rows = [row for chunk in run_chunks(job, chunks_of(points, workers), window) for row in chunk]
    return ranked(rows, metric)


@dataclass(frozen=True, slots=True)
class Fold:
    fit: tuple[int, int]  # rows of the path the point was chosen on
    test: tuple[int, int]  # rows it was then scored on
    chosen: SweepRow  # the best on `fit`
    scored: SweepRow  # the same point on `test`


def walk_forward(
    job: SweepJob,
    points: Sequence[SweepPoint],
    run_chunks: ChunkRunner,
    rows: int,
    windows: int,
    metric: str,
    workers: int,
) -> list[Fold]:
    """Split the path's rows into `windows` equal windows; for each but the last, choose the best
    point on it and score that point on the next window (out of sample)."""
    if windows < 2:
        raise ValueError("walk-forward needs at least 2 windows")
    edges = [rows * i // windows for i in range(windows + 1)]
    folds = []
    for i in range(windows - 1):
        fit, test = (edges[i], edges[i + 1]), (edges[i + 1], edges[i + 2])
        best = sweep(job, points, run_chunks, fit, metric, workers)[0]
        scored = next(iter(run_chunks(job, [[best.point]], test)))[0]
        folds.append(Fold(fit, test, best, scored))
    return folds
