import asyncio
import dataclasses
import itertools
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.store import (
    DuplicateSession,
    InvalidRecord,
    SessionNotFound,
    SessionStatus,
    Store,
    VersionConflict,
)
from tests.store import factories as make
from tests.store.conftest import Backend

_session_ids = itertools.count()


async def test_created_session_reads_back_identically_at_version_1(store: Store) -> None:
    record = make.session(version=7, engine_state={"cells": [{"i": 0, "qty": "0.0010"}], "big": 2**70})
    stored = await store.create_session(record)
    assert stored == dataclasses.replace(record, version=1)
    assert await store.get_session(record.session_id) == stored


async def test_unknown_session_reads_as_none(store: Store) -> None:
    assert await store.get_session("nobody_PERP_BTC_USDC") is None


async def test_creating_a_session_that_is_still_running_is_refused(store: Store) -> None:
    original = await store.create_session(make.session(status=SessionStatus.RUNNING))
    with pytest.raises(DuplicateSession, match="RUNNING"):
        await store.create_session(make.session(config={"other": True}))
    assert await store.get_session(original.session_id) == original


async def test_a_new_run_replaces_a_stopped_session_and_restarts_its_version(store: Store) -> None:
    first = await store.create_session(make.session())
    stopped = await store.update_session(
        first.session_id,
        1,
        updated_at_ms=make.T0_MS + 5,
        status=SessionStatus.STOPPED,
        stopped_at_ms=make.T0_MS + 5,
    )
    assert stopped.version == 2
    second = await store.create_session(make.session(created_at_ms=make.T0_MS + 10, config={"run": 2}))
    assert second.version == 1
    assert await store.get_session(first.session_id) == second


async def test_update_applies_changes_bumps_version_and_keeps_the_rest(store: Store) -> None:
    created = await store.create_session(make.session())
    updated = await store.update_session(
        created.session_id,
        1,
        updated_at_ms=make.T0_MS + 100,
        status=SessionStatus.STOPPED,
        engine_state={"cells": [1, 2], "cycle": 3},
        stopped_at_ms=make.T0_MS + 100,
        stop_reason="TAKE_PROFIT",
    )
    assert updated == dataclasses.replace(
        created,
        version=2,
        updated_at_ms=make.T0_MS + 100,
        status=SessionStatus.STOPPED,
        engine_state={"cells": [1, 2], "cycle": 3},
        stopped_at_ms=make.T0_MS + 100,
        stop_reason="TAKE_PROFIT",
    )
    assert await store.get_session(created.session_id) == updated


async def test_stale_version_conflicts_naming_both_versions_and_writes_nothing(store: Store) -> None:
    created = await store.create_session(make.session())
    current = await store.update_session(created.session_id, 1, updated_at_ms=make.T0_MS + 1, config={"a": 1})
    with pytest.raises(VersionConflict) as raised:
        await store.update_session(created.session_id, 1, updated_at_ms=make.T0_MS + 2, config={"b": 2})
    assert raised.value.expected_version == 1
    assert raised.value.stored_version == 2
    assert created.session_id in str(raised.value)
    assert "expected version 1" in str(raised.value)
    assert "stored version 2" in str(raised.value)
    assert await store.get_session(created.session_id) == current


async def test_updating_a_missing_session_says_not_found(store: Store) -> None:
    with pytest.raises(SessionNotFound, match="ghost"):
        await store.update_session("ghost", 1, updated_at_ms=make.T0_MS)


async def test_two_writers_racing_on_one_version_exactly_one_wins(backend: Backend) -> None:
    first, second = await backend.open(), await backend.open()
    await first.create_session(make.session())
    session_id = make.session().session_id
    results = await asyncio.gather(
        first.update_session(session_id, 1, updated_at_ms=make.T0_MS + 1, engine_state={"writer": "first"}),
        second.update_session(session_id, 1, updated_at_ms=make.T0_MS + 1, engine_state={"writer": "second"}),
        return_exceptions=True,
    )
    winners = [r for r in results if not isinstance(r, BaseException)]
    losers = [r for r in results if isinstance(r, BaseException)]
    assert len(winners) == 1
    assert len(losers) == 1
    assert isinstance(losers[0], VersionConflict)
    stored = await second.get_session(session_id)
    assert stored == winners[0]
    assert stored is not None
    assert stored.version == 2


async def test_read_modify_write_with_retries_loses_no_update(backend: Backend) -> None:
    stores = [await backend.open(), await backend.open()]
    created = await stores[0].create_session(make.session(engine_state={"count": 0}))
    writers, increments = 4, 5

    async def increment(store: Store) -> int:
        conflicts = 0
        for _ in range(increments):
            while True:
                current = await store.get_session(created.session_id)
                assert current is not None
                count = current.engine_state["count"] + 1
                try:
                    await store.update_session(
                        created.session_id,
                        current.version,
                        updated_at_ms=make.T0_MS,
                        engine_state={"count": count},
                    )
                    break
                except VersionConflict:
                    conflicts += 1
        return conflicts

    await asyncio.gather(*(increment(stores[i % 2]) for i in range(writers)))
    final = await stores[1].get_session(created.session_id)
    assert final is not None
    assert final.engine_state == {"count": writers * increments}
    assert final.version == 1 + writers * increments


async def test_sessions_list_by_user_and_status_newest_first_across_pages(store: Store) -> None:
    for i in range(7):
        user = "0xaaa" if i % 2 == 0 else "0xbbb"
        status = SessionStatus.RUNNING if i < 5 else SessionStatus.FAILED
        # two sessions share each timestamp, so paging must break ties by session_id
        await store.create_session(
            make.session(f"s{i}", user_id=user, status=status, created_at_ms=make.T0_MS + i // 2)
        )
    seen: list[str] = []
    token: str | None = None
    while True:
        page = await store.list_sessions(page_size=2, page_token=token)
        seen += [s.session_id for s in page.items]
        token = page.next_page_token
        if token is None:
            break
    assert seen == ["s6", "s5", "s4", "s3", "s2", "s1", "s0"]
    by_user = await store.list_sessions(user_id="0xaaa")
    assert [s.session_id for s in by_user.items] == ["s6", "s4", "s2", "s0"]
    assert by_user.next_page_token is None
    failed_of_b = await store.list_sessions(user_id="0xbbb", status=SessionStatus.FAILED)
    assert [s.session_id for s in failed_of_b.items] == ["s5"]


async def test_listing_rejects_a_bad_page_token_and_page_size_naming_the_field(store: Store) -> None:
    with pytest.raises(InvalidRecord, match="page_token"):
        await store.list_sessions(page_token="not-a-token")
    with pytest.raises(InvalidRecord, match="page_size"):
        await store.list_sessions(page_size=0)


async def test_config_that_is_not_json_compatible_is_rejected_naming_the_field(store: Store) -> None:
    created = await store.create_session(make.session())
    with pytest.raises(InvalidRecord, match="engine_state"):
        await store.update_session(created.session_id, 1, updated_at_ms=1, engine_state={"x": float("nan")})
    assert await store.get_session(created.session_id) == created


_json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
_json = st.recursive(
    _json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
_snapshots = st.dictionaries(st.text(max_size=8), _json, max_size=6)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(engine_state=_snapshots)
async def test_any_json_snapshot_round_trips_unchanged(store: Store, engine_state: dict[str, Any]) -> None:
    session_id = f"s{next(_session_ids)}"
    await store.create_session(make.session(session_id))
    updated = await store.update_session(session_id, 1, updated_at_ms=make.T0_MS, engine_state=engine_state)
    stored = await store.get_session(session_id)
    assert stored is not None
    assert stored.engine_state == engine_state
    assert stored == updated
