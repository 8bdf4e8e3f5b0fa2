"""Acknowledged writes survive the process that holds them being killed with SIGKILL."""

import asyncio
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from server.store import MongoStore, SessionStatus, SqliteStore, StoreUnavailable
from tests.store import factories as make
from tests.store.nx_server import NxServer, collect_sockets_left_by_pymongo

NONCE_EXPIRY_MS = int(time.time() * 1000) + 86_400_000  # wall-clock based: see test_nonces

REPO_ROOT = Path(__file__).resolve().parents[2]
ACKS_BEFORE_KILL = 40


async def test_sqlite_keeps_every_acknowledged_write_when_the_writer_is_killed(tmp_path: Path) -> None:
    path = tmp_path / "crash.sqlite3"
    writer = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.store.sqlite_writer",
        str(path),
        cwd=REPO_ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    assert writer.stdout is not None
    last_acked = 0
    try:
        async with asyncio.timeout(60):
            assert (await writer.stdout.readline()).strip() == b"READY"
            while last_acked < ACKS_BEFORE_KILL:
                line = (await writer.stdout.readline()).decode().split()
                assert line[0] == "ACK", line
                last_acked = int(line[1])
    finally:
        os.kill(writer.pid, signal.SIGKILL)  # mid-stream: the writer is appending as fast as it can
        await writer.wait()
    assert writer.returncode == -signal.SIGKILL

    store = await SqliteStore.open(path)
    try:
        fills = await store.list_fills(make.fill("x").session_id, limit=10_000)
        assert len(fills) >= last_acked
        assert [f.seq for f in fills] == list(range(1, len(fills) + 1))
        session = await store.get_session(make.session().session_id)
        assert session is not None
        assert (session.version, session.engine_state) == (2, {"n": 1})
        assert not await store.consume_nonce(
            "0xabc", "n-crash", expires_at_ms=NONCE_EXPIRY_MS, now_ms=make.T0_MS + 1
        )
    finally:
        await store.close()


@pytest.fixture
def own_nx(tmp_path: Path) -> Iterator[NxServer]:
    """A server of this test's own, since the test kills it."""
    server = NxServer(tmp_path)
    server.start()
    yield server
    server.stop()


async def test_mongo_keeps_acknowledged_writes_when_the_server_is_killed_and_restarted(
    own_nx: NxServer,
) -> None:
    store = await MongoStore.open(own_nx.uri, database="crash", server_selection_timeout_ms=1000)
    created = await store.create_session(make.session())
    await store.update_session(
        created.session_id, 1, updated_at_ms=make.T0_MS + 1, status=SessionStatus.STOPPING
    )
    for i in range(ACKS_BEFORE_KILL):
        await store.append_fill(make.fill(f"t{i}"))
    assert await store.consume_nonce("0xabc", "n-crash", expires_at_ms=NONCE_EXPIRY_MS, now_ms=make.T0_MS)
    await store.write_summary(make.summary(created.session_id))

    own_nx.kill()
    down = await store.health()
    assert not down.ok
    assert "mongodb" in down.detail
    with pytest.raises(StoreUnavailable, match="mongo get_session"):
        await store.get_session(created.session_id)
    await store.close()
    collect_sockets_left_by_pymongo()

    own_nx.start()  # same data dir, new port
    store = await MongoStore.open(own_nx.uri, database="crash", server_selection_timeout_ms=3000)
    try:
        assert (await store.health()).ok
        fills = await store.list_fills(created.session_id, limit=10_000)
        assert [f.seq for f in fills] == list(range(1, ACKS_BEFORE_KILL + 1))
        next_fill, inserted = await store.append_fill(make.fill("after-restart"))
        assert (next_fill.seq, inserted) == (ACKS_BEFORE_KILL + 1, True)
        session = await store.get_session(created.session_id)
        assert session is not None
        assert (session.version, session.status) == (2, SessionStatus.STOPPING)
        assert not await store.consume_nonce(
            "0xabc", "n-crash", expires_at_ms=NONCE_EXPIRY_MS, now_ms=make.T0_MS + 1
        )
        assert (await store.list_summaries()).items == (make.summary(created.session_id),)
    finally:
        await store.close()
        # The first client's monitor may have been mid-reconnect to the killed server until now.
        collect_sockets_left_by_pymongo()
