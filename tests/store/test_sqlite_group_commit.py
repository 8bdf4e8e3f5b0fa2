"""SQLite group commit: the writes pending at once share one transaction (one fsync), each in its own
savepoint, so one write's failure is its caller's alone, and every acknowledged write is committed."""

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from server.store import SqliteStore, StoreError
from tests.store import factories as make


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    store = await SqliteStore.open(tmp_path / "group.sqlite3")
    yield store
    await store.close()


def _committed_fill_count(path: Path) -> int:
    """What another connection (so: only committed data) sees."""
    with sqlite3.connect(path) as other:
        count = int(other.execute("SELECT COUNT(*) FROM fills").fetchone()[0])
    other.close()
    return count


async def test_writes_pending_at_once_commit_in_one_transaction(sqlite_store: SqliteStore) -> None:
    commits_before = sqlite_store.writer.commits
    results = await asyncio.gather(*(sqlite_store.append_fill(make.fill(f"t{i}")) for i in range(50)))
    assert sqlite_store.writer.commits == commits_before + 1
    assert sorted(fill.seq for fill, _ in results) == list(range(1, 51))
    assert _committed_fill_count(sqlite_store.path) == 50  # acknowledged means committed


async def test_a_lone_write_is_not_held_back_for_a_batch(sqlite_store: SqliteStore) -> None:
    commits_before = sqlite_store.writer.commits
    for i in range(3):
        await sqlite_store.append_fill(make.fill(f"t{i}"))
        assert sqlite_store.writer.commits == commits_before + i + 1


async def test_a_constraint_violation_fails_only_its_own_write(sqlite_store: SqliteStore) -> None:
    def duplicate_counter_row(db: sqlite3.Connection) -> None:
        db.execute("INSERT INTO fill_seq (id, last_seq) VALUES (1, 0)")  # id 1 exists

    commits_before = sqlite_store.writer.commits
    before = [sqlite_store.append_fill(make.fill(f"a{i}")) for i in range(10)]
    after = [sqlite_store.append_fill(make.fill(f"b{i}")) for i in range(10)]
    results = await asyncio.gather(
        *before, sqlite_store.writer.run(duplicate_counter_row), *after, return_exceptions=True
    )
    assert sqlite_store.writer.commits == commits_before + 1
    assert isinstance(results[10], sqlite3.IntegrityError)
    appended = results[:10] + results[11:]
    assert all(isinstance(result, tuple) and result[1] for result in appended)
    assert _committed_fill_count(sqlite_store.path) == 20


async def test_a_write_that_raises_midway_leaves_nothing_and_spares_the_others(
    sqlite_store: SqliteStore,
) -> None:
    def half_done(db: sqlite3.Connection) -> None:
        db.execute("INSERT INTO leases (session_id, owner, expires_at_ms) VALUES ('half', 'me', 1)")
        raise RuntimeError("failed after its first statement")

    results = await asyncio.gather(
        sqlite_store.acquire_lease("before", "me", ttl_ms=10, now_ms=1),
        sqlite_store.writer.run(half_done),
        sqlite_store.acquire_lease("after", "me", ttl_ms=10, now_ms=1),
        return_exceptions=True,
    )
    assert isinstance(results[1], RuntimeError)
    assert await sqlite_store.get_lease("half") is None
    assert await sqlite_store.get_lease("before") is not None
    assert await sqlite_store.get_lease("after") is not None


async def test_writes_queued_before_close_finish_and_later_ones_are_refused(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "closing.sqlite3")
    # gather starts its awaitables in order: the appends are queued before close() begins
    results = await asyncio.gather(*(store.append_fill(make.fill(f"t{i}")) for i in range(20)), store.close())
    assert all(inserted for _, inserted in results[:20])  # type: ignore[misc]
    with pytest.raises(StoreError, match="sqlite append_fill: ClosedStore: the SQLite store is closed"):
        await store.append_fill(make.fill("late"))
    assert _committed_fill_count(tmp_path / "closing.sqlite3") == 20
    await store.close()  # a second close is harmless
