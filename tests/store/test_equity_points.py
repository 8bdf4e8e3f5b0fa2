from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from server.store import EquityPointKind, EquityPointRecord, InvalidRecord, Side, Store

D = Decimal


def point(
    point_id: str, timestamp_ms: int, *, run_id: str = "gaaaaaaaaaa", total: str = "1"
) -> EquityPointRecord:
    return EquityPointRecord(
        session_id="0xabc_PERP_BTC_USDC",
        run_id=run_id,
        point_id=point_id,
        timestamp_ms=timestamp_ms,
        kind=EquityPointKind.FILL if point_id.startswith("f") else EquityPointKind.PERIODIC,
        realized=D("-0.5"),
        unrealized=D("2.25"),
        funding=D("0"),
        total=D(total),
        grid_profit=D("1.10"),
        position=D("-0.003"),
        mark_price=D("42000.5"),
        fill_side=Side.SELL if point_id.startswith("f") else None,
        fill_price=D("42001") if point_id.startswith("f") else None,
        fill_quantity=D("0.001") if point_id.startswith("f") else None,
    )


async def test_points_round_trip_exactly_and_list_in_time_then_id_order(store: Store) -> None:
    points = [point("p300", 300), point("f1:2", 100), point("f1:1", 100), point("start", 0)]
    await store.append_equity_points(points)
    listed = await store.list_equity_points("0xabc_PERP_BTC_USDC", "gaaaaaaaaaa")
    assert [p.point_id for p in listed] == ["start", "f1:1", "f1:2", "p300"]
    assert listed[1] == points[2]
    assert listed[3].fill_side is None


async def test_recording_a_point_again_keeps_the_first_and_adds_nothing(store: Store) -> None:
    await store.append_equity_points([point("f1:1", 100, total="1")])
    await store.append_equity_points([point("f1:1", 100, total="99"), point("f1:2", 101)])
    listed = await store.list_equity_points("0xabc_PERP_BTC_USDC", "gaaaaaaaaaa")
    assert [(p.point_id, p.total) for p in listed] == [("f1:1", D("1")), ("f1:2", D("1"))]


async def test_runs_and_sessions_never_mix(store: Store) -> None:
    await store.append_equity_points([point("p1", 1), point("p1", 1, run_id="gbbbbbbbbbb")])
    await store.append_equity_points([replace(point("p2", 2), session_id="0xdef_PERP_BTC_USDC")])
    listed = await store.list_equity_points("0xabc_PERP_BTC_USDC", "gbbbbbbbbbb")
    assert [(p.run_id, p.point_id) for p in listed] == [("gbbbbbbbbbb", "p1")]


async def test_a_time_window_and_a_key_cursor_page_through_every_point_once(store: Store) -> None:
    await store.append_equity_points([point(f"p{ms:04d}", ms // 3 * 3) for ms in range(60)])
    seen: list[str] = []
    after: tuple[int, str] | None = None
    while True:
        page = await store.list_equity_points(
            "0xabc_PERP_BTC_USDC", "gaaaaaaaaaa", start_ms=9, end_ms=45, after=after, limit=7
        )
        seen += [p.point_id for p in page]
        if len(page) < 7:
            break
        after = (page[-1].timestamp_ms, page[-1].point_id)
    expected = [f"p{ms:04d}" for ms in range(60) if 9 <= ms // 3 * 3 < 45]
    assert seen == expected


async def test_bad_windows_are_refused_by_name(store: Store) -> None:
    with pytest.raises(InvalidRecord, match="limit"):
        await store.list_equity_points("s", "r", limit=0)
    with pytest.raises(InvalidRecord, match="run_id"):
        await store.list_equity_points("s", "")
