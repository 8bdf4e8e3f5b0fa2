"""The fill seq is numbered per USER: one `after_seq` resumes a watch of one session or of every
session of the user (WatchFills), so seqs must rise in append order across all the user's sessions."""

import asyncio
import dataclasses
import itertools

import pytest

from server.store import FillRecord, InvalidRecord, Store
from tests.store import factories as make

U = "0xabc"
V = "0xdef"
A = f"{U}_PERP_BTC_USDC"
B = f"{U}_PERP_ETH_USDC"
C = f"{V}_PERP_BTC_USDC"


def fill(trade_id: str, session_id: str) -> FillRecord:
    return make.fill(trade_id, session_id=session_id, user_id=session_id.split("_")[0])


async def append(store: Store, trade_id: str, session_id: str) -> FillRecord:
    stored, inserted = await store.append_fill(fill(trade_id, session_id))
    assert inserted, trade_id
    return stored


def strictly_increasing(seqs: list[int]) -> bool:
    return all(a < b for a, b in itertools.pairwise(seqs))


async def test_seq_rises_in_append_order_across_a_users_interleaved_sessions(store: Store) -> None:
    order = [("a1", A), ("b1", B), ("c1", C), ("a2", A), ("b2", B), ("c2", C), ("a3", A)]
    stored = {trade_id: await append(store, trade_id, session_id) for trade_id, session_id in order}
    users_fills = [stored[t] for t in ("a1", "b1", "a2", "b2", "a3")]
    assert strictly_increasing([f.seq for f in users_fills])
    assert users_fills[0].seq >= 1
    assert await store.list_user_fills(U) == users_fills
    assert await store.list_fills(A) == [stored["a1"], stored["a2"], stored["a3"]]
    assert await store.list_fills(B) == [stored["b1"], stored["b2"]]
    assert [f.user_id for f in users_fills] == [U] * 5
    assert all(f == dataclasses.replace(fill(f.trade_id, f.session_id), seq=f.seq) for f in users_fills)


async def test_another_users_fills_never_appear_in_a_users_listing(store: Store) -> None:
    for i in range(5):
        await append(store, f"v{i}", C)
    await append(store, "x1", "0xab_PERP_BTC_USDC")  # a user id that is a prefix of U's
    assert await store.list_user_fills(U) == []
    mine = await append(store, "u1", A)
    assert await store.list_user_fills(U) == [mine]
    assert [f.trade_id for f in await store.list_user_fills(V)] == [f"v{i}" for i in range(5)]
    assert [f.trade_id for f in await store.list_user_fills("0xab")] == ["x1"]


async def test_a_duplicate_in_another_session_of_the_user_consumes_no_seq(store: Store) -> None:
    first = await append(store, "t1", A)
    again, inserted = await store.append_fill(dataclasses.replace(fill("t1", B), price=first.price * 2))
    assert (again, inserted) == (first, False)
    following = await append(store, "t2", B)
    assert following.seq == first.seq + 1
    assert [f.seq for f in await store.list_user_fills(U)] == [first.seq, following.seq]


async def test_resuming_with_the_last_seen_seq_misses_nothing_across_sessions(store: Store) -> None:
    appended: list[FillRecord] = []
    seen: list[FillRecord] = []
    last_seq = 0
    for round_no in range(6):
        for i in range(round_no % 3 + 1):  # 1 to 3 fills per round, alternating sessions, V in between
            appended.append(await append(store, f"u{round_no}-{i}", A if (round_no + i) % 2 else B))
            await append(store, f"v{round_no}-{i}", C)
        page = await store.list_user_fills(U, after_seq=last_seq, limit=2)
        seen += page
        last_seq = page[-1].seq
    while page := await store.list_user_fills(U, after_seq=last_seq, limit=2):
        seen += page
        last_seq = page[-1].seq
    assert seen == appended


async def test_a_seq_from_the_users_stream_resumes_a_single_session_too(store: Store) -> None:
    await append(store, "a1", A)
    b1 = await append(store, "b1", B)
    later = [await append(store, "a2", A), await append(store, "b2", B), await append(store, "a3", A)]
    assert await store.list_fills(A, after_seq=b1.seq) == [later[0], later[2]]
    assert await store.list_user_fills(U, after_seq=b1.seq) == later


async def test_a_follower_misses_nothing_while_a_users_sessions_append_concurrently(store: Store) -> None:
    per_session = 15
    done = asyncio.Event()

    async def writer(session_id: str) -> list[FillRecord]:
        return [await append(store, f"{session_id}-{i}", session_id) for i in range(per_session)]

    async def follower() -> list[FillRecord]:
        seen: list[FillRecord] = []
        last_seq = 0
        while True:
            finished = done.is_set()  # read before listing: a final pass must start after the writers
            page = await store.list_user_fills(U, after_seq=last_seq)
            seen += page
            last_seq = page[-1].seq if page else last_seq
            if finished and not page:
                return seen

    async def writers() -> tuple[list[FillRecord], list[FillRecord], list[FillRecord]]:
        try:
            return await asyncio.gather(writer(A), writer(B), writer(C))
        finally:
            done.set()

    written, seen = await asyncio.gather(writers(), follower())
    users_fills = sorted(written[0] + written[1], key=lambda f: f.seq)
    assert seen == users_fills
    assert strictly_increasing([f.seq for f in written[0]])
    assert strictly_increasing([f.seq for f in written[1]])
    assert await store.list_user_fills(V) == written[2]


async def test_appending_a_fill_without_its_user_is_refused_naming_the_field(store: Store) -> None:
    legacy = FillRecord(  # built as before user_id existed: still constructible, not appendable
        session_id=A,
        order_id="9001",
        trade_id="t1",
        client_order_id="c1",
        side=make.fill("x").side,
        price=make.fill("x").price,
        quantity=make.fill("x").quantity,
        fee=make.fill("x").fee,
        timestamp_ms=make.T0_MS,
    )
    assert legacy.user_id == ""
    with pytest.raises(InvalidRecord, match="user_id: must be a non-empty string") as raised:
        await store.append_fill(legacy)
    assert raised.value.field == "user_id"
    assert await store.list_fills(A) == []
    with pytest.raises(InvalidRecord, match="user_id: must be a string"):
        dataclasses.replace(legacy, user_id=7)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("user_id", "after_seq", "limit", "field"),
    [
        ("", 0, 10, "user_id"),
        (U, -1, 10, "after_seq"),
        (U, 2**63, 10, "after_seq"),  # beyond int64: SQLite raised OverflowError, BSON cannot hold it
        (U, 0, 0, "limit"),
        (U, 0, 10_001, "limit"),
    ],
)
async def test_a_bad_user_fills_window_is_refused_naming_the_field(
    store: Store, user_id: str, after_seq: int, limit: int, field: str
) -> None:
    with pytest.raises(InvalidRecord) as raised:
        await store.list_user_fills(user_id, after_seq=after_seq, limit=limit)
    assert raised.value.field == field
