"""Many writers at once (as a busy service has): every caller gets its own, correct result."""

import asyncio
from collections import defaultdict

from server.store import DuplicateSession, FillRecord, SessionRecord, Store, VersionConflict
from tests.store import factories as make

USERS = 8
APPENDS = 200
REPLAYED = 40  # of the appends, repeats of another append's (order_id, trade_id)
SESSIONS = 50
STALE = 20  # of the updates, sent with a version the session no longer has


def _fill(i: int) -> FillRecord:
    user = f"0xu{i % USERS}"
    return make.fill(f"t{i}", session_id=f"{user}_PERP_BTC_USDC", user_id=user, timestamp_ms=make.T0_MS + i)


def _session(i: int) -> SessionRecord:
    return make.session(f"0xs{i}_PERP_BTC_USDC", user_id=f"0xs{i}")


async def test_concurrent_appends_updates_and_creates_each_get_their_own_result(store: Store) -> None:
    for i in range(SESSIONS):
        await store.create_session(_session(i))
    stale_version = 7
    appends = [store.append_fill(_fill(i)) for i in range(APPENDS - REPLAYED)]
    appends += [store.append_fill(_fill(i)) for i in range(REPLAYED)]  # replays, racing the originals
    updates = [
        store.update_session(
            _session(i).session_id,
            stale_version if i < STALE else 1,
            updated_at_ms=make.T0_MS + 1,
            engine_state={"cells": [], "cycle": i},
        )
        for i in range(SESSIONS)
    ]
    creates = [store.create_session(_session(i)) for i in range(5)]  # still running: refused
    results = await asyncio.gather(*appends, *updates, *creates, return_exceptions=True)
    fill_results = results[:APPENDS]
    update_results = results[APPENDS : APPENDS + SESSIONS]
    create_results = results[APPENDS + SESSIONS :]

    # appends: each distinct fill inserted exactly once; a replay returns the same stored fill
    by_trade: dict[str, list[tuple[FillRecord, bool]]] = defaultdict(list)
    inserted_fills: list[FillRecord] = []
    for result in fill_results:
        assert isinstance(result, tuple), result
        by_trade[result[0].trade_id].append(result)
        if result[1]:
            inserted_fills.append(result[0])
    assert len(by_trade) == APPENDS - REPLAYED
    for trade_id, outcomes in by_trade.items():
        assert sum(inserted for _, inserted in outcomes) == 1, trade_id
        assert len({stored for stored, _ in outcomes}) == 1, trade_id
    for user in range(USERS):
        user_id = f"0xu{user}"
        stored = sorted((f for f in inserted_fills if f.user_id == user_id), key=lambda f: f.seq)
        assert len({f.seq for f in stored}) == len(stored) > 0
        assert await store.list_user_fills(user_id, limit=1000) == stored

    # updates: the current version wins, a stale one is a conflict naming both versions
    for i, result in enumerate(update_results):
        session_id = _session(i).session_id
        if i < STALE:
            assert isinstance(result, VersionConflict), result
            assert (result.session_id, result.expected_version) == (session_id, stale_version)
            assert "stored version 1" in str(result)
        else:
            assert isinstance(result, SessionRecord), result
            assert (result.version, result.engine_state["cycle"]) == (2, i)
        now = await store.get_session(session_id)
        assert now is not None
        assert now.version == (1 if i < STALE else 2)

    for result in create_results:
        assert isinstance(result, DuplicateSession), result
