"""Store throughput: fill-ledger appends and reads, session-snapshot writes and reads, on the SQLite
backend (temp file) and the MongoDB backend (a private nx-27017 process). Prints one table.

    .venv/bin/python bench/store.py [--fills 2000] [--snapshots 500] [--cells 50]

One writer per session, awaited one operation at a time, as the session runner does; latency is per
operation. The "concurrent" rows run WRITERS sessions at once (each its own user, awaiting its own
writes one at a time) as a busy service does; there the SQLite backend's group commit shares one
fsync among all the writes pending at a moment. Set MONGODB_URI to add a row set for a real mongod.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

# Run as a script, bench/ comes first on sys.path and bench/engine.py would shadow the engine package;
# the repository root goes first instead (it also holds the nx-27017 launcher shared with the tests).
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:] = [str(ROOT)] + [entry for entry in sys.path if Path(entry or ".").resolve() != HERE]

from pymongo import AsyncMongoClient  # noqa: E402

from server.store import (  # noqa: E402
    FillRecord,
    MongoStore,
    SessionRecord,
    SessionStatus,
    Side,
    SqliteStore,
    Store,
)
from tests.store.nx_server import NxServer  # noqa: E402

T0_MS = 1_764_000_000_000
READ_PAGE = 100


@dataclass
class Row:
    backend: str
    operation: str
    count: int
    seconds: float
    latencies_ms: list[float]

    @property
    def per_second(self) -> float:
        return self.count / self.seconds


async def timed(count: int, operation: Callable[[int], Awaitable[int]]) -> tuple[int, float, list[float]]:
    """Runs operation(i) for i in range(count); each returns how many records it handled."""
    latencies: list[float] = []
    records = 0
    started = time.perf_counter()
    for i in range(count):
        t = time.perf_counter()
        records += await operation(i)
        latencies.append((time.perf_counter() - t) * 1000)
    return records, time.perf_counter() - started, latencies


WRITERS = 100


def fill(i: int, writer: int | None = None) -> FillRecord:
    suffix = "" if writer is None else f"_{writer}"
    return FillRecord(
        session_id=f"bench{suffix}_PERP_BTC_USDC",
        user_id=f"0xbench{suffix}",
        order_id=str(1_000_000 + i // 2),
        trade_id=f"{5_000_000 + i}{suffix}",
        client_order_id=f"bench-c{i % 50}-B-{i // 50}",
        side=Side.BUY if i % 2 else Side.SELL,
        price=Decimal("42000.5") + Decimal(i % 100),
        quantity=Decimal("0.0012"),
        fee=Decimal("0.0150"),
        timestamp_ms=T0_MS + i,
    )


async def timed_concurrently(
    writers: int, per_writer: int, operation: Callable[[int, int], Awaitable[int]]
) -> tuple[int, float, list[float]]:
    """`writers` tasks at once, each running operation(writer, i) for i in range(per_writer)."""
    latencies: list[float] = []

    async def run(writer: int) -> int:
        records = 0
        for i in range(per_writer):
            t = time.perf_counter()
            records += await operation(writer, i)
            latencies.append((time.perf_counter() - t) * 1000)
        return records

    started = time.perf_counter()
    counts = await asyncio.gather(*(run(writer) for writer in range(writers)))
    return sum(counts), time.perf_counter() - started, latencies


def engine_state(cells: int, step: int) -> dict[str, object]:
    return {
        "step": step,
        "cells": [
            {"index": c, "side": "BUY", "qty": "0.0012", "entry": str(40000 + 100 * c), "cycle": step}
            for c in range(cells)
        ],
        "realized_profit": f"{step * 0.5:.4f}",
    }


def new_session(cells: int, writer: int | None = None) -> SessionRecord:
    """The session the fills of fill(i, writer) belong to."""
    suffix = "" if writer is None else f"_{writer}"
    return SessionRecord(
        session_id=f"bench{suffix}_PERP_BTC_USDC",
        user_id=f"0xbench{suffix}",
        symbol="PERP_BTC_USDC",
        status=SessionStatus.RUNNING,
        config={"grid_levels": cells + 1},
        engine_state=engine_state(cells, 0),
        created_at_ms=T0_MS,
        updated_at_ms=T0_MS,
    )


async def bench_backend(name: str, store: Store, fills: int, snapshots: int, cells: int) -> list[Row]:
    rows: list[Row] = []

    async def append(i: int) -> int:
        await store.append_fill(fill(i))
        return 1

    async def duplicate(i: int) -> int:
        _, inserted = await store.append_fill(fill(i))
        assert not inserted
        return 1

    async def read_page(i: int) -> int:
        after = (i * READ_PAGE) % fills
        return len(await store.list_fills("bench_PERP_BTC_USDC", after_seq=after, limit=READ_PAGE))

    async def read_user_page(i: int) -> int:
        after = (i * READ_PAGE) % fills
        return len(await store.list_user_fills("0xbench", after_seq=after, limit=READ_PAGE))

    n, s, lat = await timed(fills, append)
    rows.append(Row(name, "fill append", n, s, lat))
    n, s, lat = await timed(fills // 4, duplicate)
    rows.append(Row(name, "fill append (duplicate)", n, s, lat))
    n, s, lat = await timed(max(1, fills // READ_PAGE) * 2, read_page)
    rows.append(Row(name, f"fill read ({READ_PAGE}/page)", n, s, lat))
    n, s, lat = await timed(max(1, fills // READ_PAGE) * 2, read_user_page)
    rows.append(Row(name, f"user fill read ({READ_PAGE}/page)", n, s, lat))

    session = await store.create_session(new_session(cells))
    version = session.version

    async def snapshot_write(i: int) -> int:
        nonlocal version
        updated = await store.update_session(
            session.session_id, version, updated_at_ms=T0_MS + i, engine_state=engine_state(cells, i + 1)
        )
        version = updated.version
        return 1

    async def snapshot_read(i: int) -> int:
        assert await store.get_session(session.session_id) is not None
        return 1

    n, s, lat = await timed(snapshots, snapshot_write)
    rows.append(Row(name, f"snapshot write ({cells} cells)", n, s, lat))
    n, s, lat = await timed(snapshots, snapshot_read)
    rows.append(Row(name, f"snapshot read ({cells} cells)", n, s, lat))
    rows += await bench_concurrent(name, store, fills, snapshots, cells)
    return rows


async def bench_concurrent(name: str, store: Store, fills: int, snapshots: int, cells: int) -> list[Row]:
    async def append(writer: int, i: int) -> int:
        _, inserted = await store.append_fill(fill(i, writer))
        assert inserted
        return 1

    n, s, lat = await timed_concurrently(WRITERS, max(1, fills // WRITERS), append)
    rows = [Row(name, f"concurrent fill append ({WRITERS} writers)", n, s, lat)]

    versions: dict[int, int] = {}
    for writer in range(WRITERS):
        created = await store.create_session(new_session(cells, writer))
        versions[writer] = created.version

    async def snapshot_write(writer: int, i: int) -> int:
        updated = await store.update_session(
            f"bench_{writer}_PERP_BTC_USDC",
            versions[writer],
            updated_at_ms=T0_MS + i,
            engine_state=engine_state(cells, i + 1),
        )
        versions[writer] = updated.version
        return 1

    n, s, lat = await timed_concurrently(WRITERS, max(1, snapshots // WRITERS), snapshot_write)
    rows.append(Row(name, f"concurrent snapshot write ({WRITERS})", n, s, lat))
    return rows


def print_table(rows: list[Row]) -> None:
    header = f"{'backend':<10} {'operation':<38} {'records':>8} {'records/s':>10} {'p50 ms':>8} {'p99 ms':>8}"
    print(header)
    print("-" * len(header))
    for row in rows:
        ordered = sorted(row.latencies_ms)
        p50 = statistics.median(ordered)
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        rate = row.per_second
        print(f"{row.backend:<10} {row.operation:<38} {row.count:>8} {rate:>10.0f} {p50:>8.2f} {p99:>8.2f}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--fills", type=int, default=2000)
    parser.add_argument("--snapshots", type=int, default=500)
    parser.add_argument("--cells", type=int, default=50)
    options = parser.parse_args()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bench-store-") as tmp:
        sqlite_store = await SqliteStore.open(Path(tmp) / "bench.sqlite3")
        try:
            rows += await bench_backend(
                "sqlite", sqlite_store, options.fills, options.snapshots, options.cells
            )
        finally:
            await sqlite_store.close()

        nx = NxServer(Path(tmp))
        nx.start()
        try:
            mongo_store = await MongoStore.open(nx.uri, database="bench")
            try:
                rows += await bench_backend(
                    "nx-27017", mongo_store, options.fills, options.snapshots, options.cells
                )
            finally:
                await mongo_store.close()
        finally:
            nx.stop()

        if uri := os.environ.get("MONGODB_URI"):
            database = f"bench_{uuid.uuid4().hex}"
            real = await MongoStore.open(uri, database=database)
            try:
                rows += await bench_backend("mongod", real, options.fills, options.snapshots, options.cells)
            finally:
                await real.close()
                client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(uri)
                await client.drop_database(database)
                await client.close()
    print_table(rows)


if __name__ == "__main__":
    asyncio.run(main())
