import asyncio

import pytest

from server.store import InvalidRecord, Store
from tests.store.conftest import Backend

MINUTE_MS = 60_000
# Start of a window, so the tests know exactly where the window ends.
WINDOW_START_MS = 1_764_000_000_000 - 1_764_000_000_000 % MINUTE_MS


async def test_hits_up_to_the_limit_are_allowed_and_the_next_is_refused_until_the_window_ends(
    store: Store,
) -> None:
    decisions = [
        await store.hit_rate_limit("user:0xabc:StartGrid", limit=3, window_ms=MINUTE_MS, now_ms=now)
        for now in (WINDOW_START_MS, WINDOW_START_MS + 10, WINDOW_START_MS + 20, WINDOW_START_MS + 20_000)
    ]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.count for d in decisions] == [1, 2, 3, 4]
    assert decisions[-1].retry_after_ms == MINUTE_MS - 20_000
    assert all(d.retry_after_ms == 0 for d in decisions[:3])
    next_window = await store.hit_rate_limit(
        "user:0xabc:StartGrid", limit=3, window_ms=MINUTE_MS, now_ms=WINDOW_START_MS + MINUTE_MS
    )
    assert (next_window.allowed, next_window.count) == (True, 1)


async def test_keys_are_counted_separately(store: Store) -> None:
    assert (await store.hit_rate_limit("a", limit=1, window_ms=MINUTE_MS, now_ms=WINDOW_START_MS)).allowed
    assert (await store.hit_rate_limit("b", limit=1, window_ms=MINUTE_MS, now_ms=WINDOW_START_MS)).allowed
    assert not (await store.hit_rate_limit("a", limit=1, window_ms=MINUTE_MS, now_ms=WINDOW_START_MS)).allowed


async def test_the_count_holds_across_a_restart(backend: Backend) -> None:
    first = await backend.open()
    for _ in range(2):
        await first.hit_rate_limit("k", limit=2, window_ms=MINUTE_MS, now_ms=WINDOW_START_MS + 1)
    await first.close()
    backend.opened.remove(first)
    reopened = await backend.open()
    decision = await reopened.hit_rate_limit("k", limit=2, window_ms=MINUTE_MS, now_ms=WINDOW_START_MS + 2)
    assert (decision.allowed, decision.count) == (False, 3)


async def test_concurrent_hits_on_two_stores_allow_exactly_the_limit(backend: Backend) -> None:
    stores = [await backend.open(), await backend.open()]
    decisions = await asyncio.gather(
        *(
            stores[i % 2].hit_rate_limit(
                "peer:127.0.0.1", limit=5, window_ms=MINUTE_MS, now_ms=WINDOW_START_MS
            )
            for i in range(12)
        )
    )
    assert sum(d.allowed for d in decisions) == 5
    assert sorted(d.count for d in decisions) == list(range(1, 13))


@pytest.mark.parametrize(
    ("key", "limit", "window_ms", "now_ms", "field"),
    [
        ("", 1, MINUTE_MS, 0, "key"),
        ("k", 0, MINUTE_MS, 0, "limit"),
        ("k", 1, 0, 0, "window_ms"),
        ("k", 1, MINUTE_MS, -1, "now_ms"),
    ],
)
async def test_bad_rate_limit_arguments_name_the_field(
    store: Store, key: str, limit: int, window_ms: int, now_ms: int, field: str
) -> None:
    with pytest.raises(InvalidRecord, match=field):
        await store.hit_rate_limit(key, limit=limit, window_ms=window_ms, now_ms=now_ms)
