import dataclasses
from decimal import Decimal

import pytest

from server.store import InvalidRecord, SessionStatus, Store
from tests.store import factories as make


async def test_summary_write_is_idempotent_per_run_and_a_rewrite_replaces(store: Store) -> None:
    record = make.summary("s1", realized_profit="12.3400")
    await store.write_summary(record)
    await store.write_summary(record)
    corrected = dataclasses.replace(
        record, realized_profit=Decimal("12.3500"), details={"note": "fees rebate"}
    )
    await store.write_summary(corrected)
    page = await store.list_summaries()
    assert page.items == (corrected,)


async def test_each_run_of_a_session_keeps_its_own_summary(store: Store) -> None:
    await store.write_summary(make.summary("s1", created_at_ms=make.T0_MS))
    await store.write_summary(make.summary("s1", created_at_ms=make.T0_MS + 10))
    page = await store.list_summaries(user_id="0xabc")
    assert [s.created_at_ms for s in page.items] == [make.T0_MS + 10, make.T0_MS]


async def test_summaries_filter_by_user_status_and_start_time_range(store: Store) -> None:
    hour = 3_600_000
    for i in range(6):
        await store.write_summary(
            make.summary(
                f"s{i}",
                user_id="0xaaa" if i < 4 else "0xbbb",
                status=SessionStatus.FAILED if i == 2 else SessionStatus.STOPPED,
                created_at_ms=make.T0_MS + i * hour,
            )
        )
    in_range = await store.list_summaries(
        user_id="0xaaa", start_time_ms=make.T0_MS + hour, end_time_ms=make.T0_MS + 3 * hour
    )
    assert [s.session_id for s in in_range.items] == ["s2", "s1"]
    stopped_of_a = await store.list_summaries(user_id="0xaaa", status=SessionStatus.STOPPED)
    assert [s.session_id for s in stopped_of_a.items] == ["s3", "s1", "s0"]
    since = await store.list_summaries(start_time_ms=make.T0_MS + 4 * hour)
    assert [s.session_id for s in since.items] == ["s5", "s4"]
    assert (await store.list_summaries(user_id="0xnobody")).items == ()


async def test_summaries_page_through_all_matches_once(store: Store) -> None:
    for i in range(9):
        await store.write_summary(make.summary(f"s{i}", created_at_ms=make.T0_MS + i // 3))
    pages, token = [], None
    while True:
        page = await store.list_summaries(user_id="0xabc", page_size=4, page_token=token)
        pages.append([s.session_id for s in page.items])
        token = page.next_page_token
        if token is None:
            break
    assert pages == [["s8", "s7", "s6", "s5"], ["s4", "s3", "s2", "s1"], ["s0"]]


async def test_summary_time_range_must_not_be_inverted(store: Store) -> None:
    with pytest.raises(InvalidRecord, match="end_time_ms"):
        await store.list_summaries(start_time_ms=10, end_time_ms=5)
