"""Fills carry their cell and the round trip they completed, so a fill replayed from the ledger is
the same as the live one."""

import dataclasses
import itertools
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.store import FillRecord, InvalidRecord, RoundTripRecord, SqliteStore, Store
from server.store.sqlite_schema import MIGRATE_2_TO_3
from tests.store import factories as make

_decimals = st.decimals(allow_nan=False, allow_infinity=False, places=None)
_trade_ids = itertools.count()


def round_trip(cell_index: int = 3, **changes: object) -> RoundTripRecord:
    values: dict[str, object] = {
        "cell_index": cell_index,
        "quantity": Decimal("0.001"),
        "entry_price": Decimal("42000"),
        "exit_price": Decimal("43000"),
        "fees": Decimal("0.0252"),
        "profit": Decimal("0.9748"),
        "timestamp_ms": make.T0_MS + 5,
    }
    values.update(changes)
    return RoundTripRecord(**values)  # type: ignore[arg-type]


def closing_fill(trade_id: str) -> FillRecord:
    return dataclasses.replace(make.fill(trade_id), cell_index=3, round_trip=round_trip())


async def _all_views(store: Store, stored: FillRecord) -> list[FillRecord]:
    by_session = await store.list_fills(stored.session_id, after_seq=stored.seq - 1, limit=1)
    by_user = await store.list_user_fills(stored.user_id, after_seq=stored.seq - 1, limit=1)
    return [stored, *by_session, *by_user]


async def test_a_fill_that_completed_a_round_trip_comes_back_with_its_cell_and_round_trip(
    store: Store,
) -> None:
    record = closing_fill("t1")
    stored, inserted = await store.append_fill(record)
    assert inserted
    views = await _all_views(store, stored)
    assert len(views) == 3
    assert all(view == dataclasses.replace(record, seq=1) for view in views)


async def test_a_fill_without_a_round_trip_keeps_its_cell_and_no_round_trip(store: Store) -> None:
    record = dataclasses.replace(make.fill("t1"), cell_index=0)
    stored, _ = await store.append_fill(record)
    assert [(view.cell_index, view.round_trip) for view in await _all_views(store, stored)] == [(0, None)] * 3


async def test_a_fill_recorded_without_the_new_fields_reads_back_with_neither(store: Store) -> None:
    stored, _ = await store.append_fill(make.fill("t1"))
    views = await _all_views(store, stored)
    assert [(view.cell_index, view.round_trip) for view in views] == [(None, None)] * 3


async def test_a_replayed_append_returns_the_stored_round_trip_not_the_new_one(store: Store) -> None:
    first, _ = await store.append_fill(closing_fill("t1"))
    other = dataclasses.replace(make.fill("t1"), cell_index=4, round_trip=round_trip(4, profit=Decimal("7")))
    again, inserted = await store.append_fill(other)
    assert not inserted
    assert again == first
    assert again.round_trip == round_trip()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    cell_index=st.integers(min_value=0, max_value=2**31 - 1),
    quantity=_decimals,
    entry=_decimals,
    exit_=_decimals,
    fees=_decimals,
    profit=_decimals,
    timestamp_ms=st.integers(min_value=0, max_value=2**62),
)
async def test_every_round_trip_field_round_trips_exactly_including_the_exponent(
    store: Store,
    cell_index: int,
    quantity: Decimal,
    entry: Decimal,
    exit_: Decimal,
    fees: Decimal,
    profit: Decimal,
    timestamp_ms: int,
) -> None:
    trip = RoundTripRecord(cell_index, quantity, entry, exit_, fees, profit, timestamp_ms)
    record = dataclasses.replace(make.fill(f"t{next(_trade_ids)}"), cell_index=cell_index, round_trip=trip)
    stored, inserted = await store.append_fill(record)
    assert inserted
    for view in await _all_views(store, stored):
        assert view.cell_index == cell_index
        assert view.round_trip is not None
        assert view.round_trip == trip
        stored_trip = view.round_trip
        names = ("quantity", "entry_price", "exit_price", "fees", "profit")
        assert [str(getattr(stored_trip, name)) for name in names] == [
            str(value) for value in (quantity, entry, exit_, fees, profit)
        ]


def test_a_round_trip_in_another_cell_than_the_fill_is_rejected_naming_the_field() -> None:
    with pytest.raises(InvalidRecord, match=r"round_trip.*cell_index 3 must equal the fill's cell_index 4"):
        dataclasses.replace(make.fill("t1"), cell_index=4, round_trip=round_trip(3))
    with pytest.raises(InvalidRecord, match="round_trip"):
        dataclasses.replace(make.fill("t1"), round_trip=round_trip(3))  # the fill names no cell


def test_bad_cell_and_round_trip_values_are_rejected_naming_the_field() -> None:
    with pytest.raises(InvalidRecord, match="cell_index"):
        dataclasses.replace(make.fill("t1"), cell_index=-1)
    with pytest.raises(InvalidRecord, match=r"round_trip\.profit"):
        round_trip(profit=0.5)
    with pytest.raises(InvalidRecord, match=r"round_trip\.fees"):
        round_trip(fees=Decimal("Infinity"))
    with pytest.raises(InvalidRecord, match=r"round_trip\.timestamp_ms"):
        round_trip(timestamp_ms=-1)
    with pytest.raises(InvalidRecord, match=r"round_trip\.cell_index"):
        round_trip(cell_index=True)
    with pytest.raises(InvalidRecord, match="round_trip"):
        dataclasses.replace(make.fill("t1"), cell_index=3, round_trip={"cell_index": 3})  # type: ignore[arg-type]


async def test_a_schema_2_sqlite_file_gains_the_columns_and_keeps_its_fills(tmp_path: Path) -> None:
    path = tmp_path / "v2.sqlite3"
    store = await SqliteStore.open(path)
    old, _ = await store.append_fill(make.fill("t1"))
    await store.close()
    with sqlite3.connect(path) as conn:  # make it the file a schema-2 build left behind
        for statement in MIGRATE_2_TO_3:
            conn.execute(f"ALTER TABLE fills DROP COLUMN {statement.split()[5]}")
        conn.execute("PRAGMA user_version = 2")
    conn.close()
    store = await SqliteStore.open(path)
    try:
        new, inserted = await store.append_fill(closing_fill("t2"))
        assert inserted
        assert await store.list_fills(old.session_id) == [old, new]
        assert new.round_trip == round_trip()
    finally:
        await store.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone() == (3,)
    conn.close()
