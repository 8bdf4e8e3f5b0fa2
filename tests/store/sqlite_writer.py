"""Child process for the crash test: writes to a SQLite store and prints `ACK <seq>` after each fill
append the store acknowledged, until it is killed."""

from __future__ import annotations

import asyncio
import sys
import time

from server.store import SessionStatus, SqliteStore
from tests.store import factories as make

NONCE_EXPIRY_MS = int(time.time() * 1000) + 86_400_000  # wall-clock based: see test_nonces


async def write_until_killed(path: str) -> None:
    store = await SqliteStore.open(path)
    created = await store.create_session(make.session())
    await store.update_session(
        created.session_id,
        1,
        updated_at_ms=make.T0_MS + 1,
        status=SessionStatus.RUNNING,
        engine_state={"n": 1},
    )
    await store.consume_nonce("0xabc", "n-crash", expires_at_ms=NONCE_EXPIRY_MS, now_ms=make.T0_MS)
    print("READY", flush=True)
    i = 0
    while True:
        fill, _ = await store.append_fill(make.fill(f"t{i}"))
        print(f"ACK {fill.seq}", flush=True)
        i += 1


if __name__ == "__main__":
    asyncio.run(write_until_killed(sys.argv[1]))
