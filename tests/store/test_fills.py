import asyncio
import dataclasses
import itertools
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.store import FillRecord, InvalidRecord, Store
from tests.store import factories as make
from tests.store.conftest import Backend


async def test_the_first_fill_gets_seq_1_and_comes_back_exactly_as_appended(store: Store) -> None:
    record = make.fill("t1", session_id="A")
    stored, inserted = await store.append_fill(dataclasses.replace(record, seq=77))  # own seq ignored
    assert inserted
    assert stored == dataclasses.replace(record, seq=1)
    assert await store.list_fills("A") == [stored]
    assert await store.list_user_fills(record.user_id) == [stored]


async def test_duplicate_fill_is_a_no_op_that_returns_the_stored_fill_and_consumes_no_seq(
    store: Store,
) -> None:
    first, inserted = await store.append_fill(make.fill("t1", price="42000.5"))
    assert inserted
    again, inserted_again = await store.append_fill(make.fill("t1", price="99999"))
    assert not inserted_again
    assert again == first
    following, _ = await store.append_fill(make.fill("t2"))
    assert following.seq == 2
    assert [f.trade_id for f in await store.list_fills(first.session_id)] == ["t1", "t2"]


async def test_same_trade_id_on_another_order_is_a_different_fill(store: Store) -> None:
    _, first = await store.append_fill(make.fill("t1", order_id="1"))
    _, second = await store.append_fill(make.fill("t1", order_id="2"))
    assert first
    assert second


async def test_concurrent_duplicate_appends_insert_exactly_once(backend: Backend) -> None:
    stores = [await backend.open(), await backend.open()]
    results = await asyncio.gather(*(stores[i % 2].append_fill(make.fill("t-race")) for i in range(6)))
    assert sum(inserted for _, inserted in results) == 1
    assert len({fill for fill, _ in results}) == 1
    assert len(await stores[0].list_fills(make.fill("x").session_id)) == 1


async def test_fills_resume_after_a_seq_with_a_limit(store: Store) -> None:
    for i in range(10):
        await store.append_fill(make.fill(f"t{i}", timestamp_ms=make.T0_MS + i))
    session_id = make.fill("x").session_id
    page = await store.list_fills(session_id, after_seq=3, limit=4)
    assert [f.seq for f in page] == [4, 5, 6, 7]
    assert [f.trade_id for f in page] == ["t3", "t4", "t5", "t6"]
    assert await store.list_fills(session_id, after_seq=10) == []
    assert await store.list_fills("other-session") == []
    with pytest.raises(InvalidRecord, match="after_seq"):
        await store.list_fills(session_id, after_seq=-1)
    with pytest.raises(InvalidRecord, match="limit"):
        await store.list_fills(session_id, limit=0)


async def test_sequential_appends_from_one_writer_leave_no_gaps(store: Store) -> None:
    appended = [await store.append_fill(make.fill(f"t{i}")) for i in range(25)]
    for i in range(0, 25, 5):
        await store.append_fill(make.fill(f"t{i}"))  # replays in between
    assert [fill.seq for fill, _ in appended] == list(range(1, 26))
    assert [f.seq for f in await store.list_fills(make.fill("x").session_id)] == list(range(1, 26))


def test_a_fill_with_a_float_price_is_rejected_naming_the_field() -> None:
    with pytest.raises(InvalidRecord, match="price"):
        dataclasses.replace(make.fill("t1"), price=42000.5)  # type: ignore[arg-type]
    with pytest.raises(InvalidRecord, match="fee"):
        dataclasses.replace(make.fill("t1"), fee=Decimal("NaN"))


_decimals = st.decimals(allow_nan=False, allow_infinity=False, places=None).filter(lambda d: d.is_finite())
_trade_ids = itertools.count()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(price=_decimals, quantity=_decimals, fee=_decimals)
async def test_decimals_round_trip_exactly_including_exponent(
    store: Store, price: Decimal, quantity: Decimal, fee: Decimal
) -> None:
    record = dataclasses.replace(make.fill(f"t{next(_trade_ids)}"), price=price, quantity=quantity, fee=fee)
    stored, inserted = await store.append_fill(record)
    assert inserted
    [read] = [f for f in await store.list_fills(record.session_id, after_seq=stored.seq - 1, limit=1)]
    for value in (stored, read):
        assert isinstance(value, FillRecord)
        assert (str(value.price), str(value.quantity), str(value.fee)) == (
            str(price),
            str(quantity),
            str(fee),
        )
