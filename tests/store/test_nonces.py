import asyncio
import time

import pytest

from server.store import InvalidRecord, Store
from tests.store.conftest import Backend

# The test clock starts at the wall clock: MongoDB's TTL monitor purges by the server's own clock, so a
# nonce "live" at a made-up past time would be gone already. Expiries are minutes ahead, never racing it.
NOW_MS = int(time.time() * 1000)
WINDOW_MS = 300_000
MINUTE_MS = 60_000


async def test_a_nonce_is_accepted_once_and_a_replay_is_rejected(store: Store) -> None:
    assert await store.consume_nonce("0xabc", "n-1", expires_at_ms=NOW_MS + WINDOW_MS, now_ms=NOW_MS)
    assert not await store.consume_nonce("0xabc", "n-1", expires_at_ms=NOW_MS + WINDOW_MS, now_ms=NOW_MS + 1)


async def test_nonces_are_per_user(store: Store) -> None:
    assert await store.consume_nonce("0xabc", "n-1", expires_at_ms=NOW_MS + WINDOW_MS, now_ms=NOW_MS)
    assert await store.consume_nonce("0xdef", "n-1", expires_at_ms=NOW_MS + WINDOW_MS, now_ms=NOW_MS)


async def test_an_expired_nonce_no_longer_blocks_its_reuse(store: Store) -> None:
    expiry = NOW_MS + MINUTE_MS
    assert await store.consume_nonce("0xabc", "n-1", expires_at_ms=expiry, now_ms=NOW_MS)
    assert not await store.consume_nonce("0xabc", "n-1", expires_at_ms=expiry + 5, now_ms=expiry - 1)
    assert await store.consume_nonce("0xabc", "n-1", expires_at_ms=expiry + MINUTE_MS, now_ms=expiry)
    assert not await store.consume_nonce(
        "0xabc", "n-1", expires_at_ms=expiry + 2 * MINUTE_MS, now_ms=expiry + 1
    )


async def test_concurrent_uses_of_one_nonce_accept_exactly_one(backend: Backend) -> None:
    stores = [await backend.open(), await backend.open()]
    results = await asyncio.gather(
        *(
            stores[i % 2].consume_nonce("0xabc", "n-race", expires_at_ms=NOW_MS + WINDOW_MS, now_ms=NOW_MS)
            for i in range(8)
        )
    )
    assert sorted(results) == [False] * 7 + [True]


async def test_a_replayed_nonce_is_still_rejected_after_a_restart(backend: Backend) -> None:
    first = await backend.open()
    assert await first.consume_nonce("0xabc", "n-1", expires_at_ms=NOW_MS + WINDOW_MS, now_ms=NOW_MS)
    await first.close()
    backend.opened.remove(first)
    reopened = await backend.open()
    assert not await reopened.consume_nonce(
        "0xabc", "n-1", expires_at_ms=NOW_MS + WINDOW_MS, now_ms=NOW_MS + 5
    )


async def test_a_nonce_must_expire_after_now(store: Store) -> None:
    with pytest.raises(InvalidRecord, match="expires_at_ms"):
        await store.consume_nonce("0xabc", "n-1", expires_at_ms=NOW_MS, now_ms=NOW_MS)
    with pytest.raises(InvalidRecord, match="nonce"):
        await store.consume_nonce("0xabc", "", expires_at_ms=NOW_MS + 1, now_ms=NOW_MS)
