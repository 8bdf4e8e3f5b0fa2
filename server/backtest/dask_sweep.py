"""The sweep on a Dask distributed cluster (`orderly-grid sweep --scheduler tcp://HOST:8786`): the
same chunk function as the local pool, the path scattered to every worker once (broadcast), chunks
submitted with client.map. Needs the optional `dask` extra here and on the workers, and this package
importable on every worker (they run server.backtest.sweep.run_point)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from server.backtest.prices import PriceSeries
from server.backtest.sweep import ChunkRunner, SweepJob, SweepPoint, SweepRow, run_point, window_of


@dataclass(frozen=True, slots=True)
class _Path:
    """One object to scatter (a tuple would be scattered element by element)."""

    series: PriceSeries
    is_bars: bool


def _dask_chunk(
    job: SweepJob, points: Sequence[SweepPoint], window: tuple[int, int], path: _Path
) -> list[SweepRow]:
    series = window_of(path.series, path.is_bars, window)
    return [run_point(job, series, path.is_bars, point) for point in points]


def cluster_threads(client: Any) -> int:
    """How many chunks the cluster runs at once (for sizing the chunks)."""
    return max(1, int(sum(client.nthreads().values())))


@contextmanager
def dask_pool(series: PriceSeries, is_bars: bool, scheduler: Any) -> Iterator[tuple[ChunkRunner, int]]:
    """(chunk runner, threads of the cluster) on `scheduler`: an address ("tcp://host:8786") or a
    distributed.Client the caller owns."""
    try:
        from distributed import Client
    except ImportError as exc:  # the optional extra
        raise ValueError("--scheduler needs dask: pip install 'orderly-grid[dask]'") from exc
    own = isinstance(scheduler, str)
    # distributed ships no type hints for Client's constructor.
    client = Client(scheduler) if own else scheduler  # type: ignore[no-untyped-call]
    try:
        path = client.scatter(_Path(series, is_bars), broadcast=True)

        def run_chunks(
            job: SweepJob, chunks: list[list[SweepPoint]], window: tuple[int, int]
        ) -> Iterator[list[SweepRow]]:
            futures = [client.submit(_dask_chunk, job, chunk, window, path, pure=False) for chunk in chunks]
            return (future.result() for future in futures)

        yield run_chunks, cluster_threads(client)
    finally:
        if own:
            client.close()
