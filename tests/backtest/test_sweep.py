"""The sweep: the space, the local process pool against serial runs, ranking, walk-forward, the
heatmap, `orderly-grid sweep`, and the same sweep on a Dask LocalCluster."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from engine import Direction, GridType
from server.backtest.prices import PriceSeries
from server.backtest.run import BacktestOptions
from server.backtest.sweep import (
    SweepJob,
    SweepPoint,
    SweepRow,
    SweepSpace,
    local_pool,
    ranked,
    resolve_bound,
    run_point,
    sweep,
    walk_forward,
    window_of,
)
from server.backtest.sweep_plot import heatmap_cells, plot_heatmap
from server.cli import main
from tests.backtest.support import RULES, grid

SPACE = SweepSpace(
    lower=("-3%", "40000"),
    upper=("+3%", "45000"),
    levels=(6, 11),
    direction=(Direction.BOTH, Direction.LONG),
    grid_type=(GridType.ARITHMETIC, GridType.GEOMETRIC),
    ratio=("0.01", "0.02"),
)


def _walk(points: int = 3_000, seed: int = 3) -> PriceSeries:
    """A seeded walk on the 0.1 tick around 42,500 that crosses many lines."""
    steps = np.random.default_rng(seed).integers(-300, 301, points)
    units = np.clip(425_000 + np.cumsum(steps), 401_000, 449_000).astype(np.int64)
    return PriceSeries(np.arange(points, dtype=np.int64) * 60_000, units, 1)


JOB = SweepJob(grid(), RULES, BacktestOptions(resolution=2))


def test_the_space_pairs_ratios_with_geometric_grids_only_and_samples_seeded() -> None:
    points = SPACE.points()
    assert len(points) == 2 * 2 * 2 * 2 * (1 + 2)
    assert {p.ratio for p in points if p.grid_type is GridType.ARITHMETIC} == {""}
    assert SPACE.sample(5, seed=9) == SPACE.sample(5, seed=9)
    assert len(set(SPACE.sample(5, seed=9))) == 5
    assert SPACE.sample(1000, seed=9) == points


def test_relative_bounds_are_fractions_of_the_start_price_on_the_tick() -> None:
    assert resolve_bound("-4%", Decimal("42500.3"), Decimal("0.1")) == Decimal("40800.3")
    assert resolve_bound("+4%", Decimal(42500), Decimal("0.1")) == Decimal(44200)
    assert resolve_bound("45000", Decimal(1), Decimal("0.1")) == Decimal(45000)


@pytest.fixture(scope="module")
def pool() -> Iterator[object]:
    path = _walk()
    with local_pool(path, False, workers=2) as (run_chunks, workers):
        yield path, run_chunks, workers


def test_the_pool_finds_what_serial_runs_find_ranked_by_the_metric(pool: tuple) -> None:  # type: ignore[type-arg]
    path, run_chunks, workers = pool
    points = SPACE.points()
    rows = sweep(JOB, points, run_chunks, (0, len(path)), "sharpe", workers)
    serial = {row.point: row for row in (run_point(JOB, path, False, p) for p in points)}
    assert {row.point: row for row in rows} == serial
    good = [row for row in rows if not row.error]
    assert [row.sharpe for row in good] == sorted((row.sharpe for row in good), reverse=True)
    assert good[0].round_trips > 0
    failed = [row for row in rows if row.error]  # e.g. a 0.02 ratio with too few levels
    assert failed
    assert rows[-len(failed) :] == failed
    by_drawdown = ranked(rows, "max_drawdown")
    assert by_drawdown[0].max_drawdown == min(row.max_drawdown for row in good)


def test_walk_forward_scores_the_best_of_each_window_on_the_next(pool: tuple) -> None:  # type: ignore[type-arg]
    path, run_chunks, workers = pool
    points = SweepSpace(lower=("-4%",), upper=("+4%",), levels=(6, 11, 21)).points()
    folds = walk_forward(JOB, points, run_chunks, len(path), 3, "total", workers)
    assert [(fold.fit, fold.test) for fold in folds] == [
        ((0, 1000), (1000, 2000)),
        ((1000, 2000), (2000, 3000)),
    ]
    for fold in folds:
        fit = sweep(JOB, points, run_chunks, fold.fit, "total", workers)
        assert fold.chosen == fit[0]
        assert fold.scored == run_point(JOB, window_of(path, False, fold.test), False, fold.chosen.point)


def _row(lower: str, upper: str, total: float, error: str = "") -> SweepRow:
    point = SweepPoint(lower, upper, 6, Direction.BOTH, GridType.ARITHMETIC, "")
    return SweepRow(point, total, 0.0, 0.0, 0.0, 0.0, 0.0, 0, 0, error)


def test_the_heatmap_shows_the_best_value_per_pair(tmp_path: Path) -> None:
    rows = [
        _row("-4%", "+4%", 1.0),
        _row("-4%", "+4%", 3.0),
        _row("-8%", "+4%", 2.0),
        _row("-8%", "+8%", 9, "x"),
    ]
    x_labels, y_labels, values = heatmap_cells(rows, "lower", "upper", "total")
    assert (x_labels, y_labels) == (["-8%", "-4%"], ["+4%", "+8%"])
    assert values == [[2.0, 3.0], [None, None]]
    picture = tmp_path / "map.png"
    plot_heatmap(rows, "lower", "upper", "total", picture)
    assert picture.stat().st_size > 1000
    with pytest.raises(ValueError, match="heatmap parameter"):
        heatmap_cells(rows, "lower", "margin", "total")


def test_the_command_ranks_draws_and_walks_forward(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _walk(600)
    prices = tmp_path / "prices.csv"
    prices.write_text(
        "timestamp,price\n"
        + "".join(f"{t},{p / 10}\n" for t, p in zip(path.timestamps_ms, path.prices, strict=True))
    )
    picture = tmp_path / "map.png"
    flags = [
        "sweep",
        "--csv",
        str(prices),
        "--margin",
        "1000",
        "--lower=-3%,-5%",
        "--upper=+3%,+5%",
        "--levels",
        "6,11",
    ]
    assert main([*flags, "--workers", "1", "--heatmap", str(picture), "--walk-forward", "2"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("8 configurations in ")
    assert "walk-forward" in out
    assert picture.stat().st_size > 1000
    assert main([*flags, "--workers", "1", "--metric", "round_trips", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert [row["round_trips"] for row in rows] == sorted((row["round_trips"] for row in rows), reverse=True)
    assert main([*flags, "--heatmap", str(tmp_path / "map.txt")]) == 2


def test_the_same_sweep_on_a_dask_local_cluster(pool: tuple) -> None:  # type: ignore[type-arg]
    import distributed  # the `dask` extra, in the dev extras: this test always runs

    from server.backtest.dask_sweep import dask_pool

    path, run_chunks, workers = pool
    points = SPACE.sample(12, seed=4)
    local = sweep(JOB, points, run_chunks, (0, len(path)), "total", workers)
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
        dask_pool(path, False, client) as (dask_chunks, threads),
    ):
        assert threads == 2
        on_dask = sweep(JOB, points, dask_chunks, (0, len(path)), "total", threads)
    assert on_dask == local
