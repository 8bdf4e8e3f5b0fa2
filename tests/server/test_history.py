"""GetGridHistory's downsampling and paging over a real (SQLite) store."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from orderly_grid.cli_history import sparkline

from server.api.errors import DomainError
from server.service.history import HistoryQuery, history_page
from server.store import EquityPointKind, EquityPointRecord, Side, SqliteStore

D = Decimal
RUN = HistoryQuery("0xabc_BTCUSDT", "gaaaaaaaaaa", 0, None, 0)


def point(ms: int, kind: EquityPointKind) -> EquityPointRecord:
    fill = kind is EquityPointKind.FILL
    return EquityPointRecord(
        session_id=RUN.session_id,
        run_id=RUN.run_id,
        point_id=f"f{ms}" if fill else f"p{ms}",
        timestamp_ms=ms,
        kind=kind,
        realized=D(0),
        unrealized=D(ms),
        funding=D(0),
        total=D(ms),
        grid_profit=D(0),
        position=D(0),
        mark_price=D(100),
        fill_side=Side.BUY if fill else None,
        fill_price=D(100) if fill else None,
        fill_quantity=D(1) if fill else None,
    )


async def stored(tmp_path: Path, points: list[EquityPointRecord]) -> SqliteStore:
    store = await SqliteStore.open(tmp_path / "s.sqlite3")
    await store.append_equity_points(points)
    return store


async def test_resolution_keeps_the_last_periodic_point_per_interval_and_every_fill(tmp_path: Path) -> None:
    points = [point(ms, EquityPointKind.PERIODIC) for ms in range(0, 300, 10)]
    points.append(point(155, EquityPointKind.FILL))
    store = await stored(tmp_path, points)
    page = await history_page(store, HistoryQuery(RUN.session_id, RUN.run_id, 0, None, 100), 500, "")
    assert [(p.timestamp_ms, p.kind.value) for p in page.points] == [
        (90, "PERIODIC"),
        (150, "PERIODIC"),  # flushed before the fill, to keep time order
        (155, "FILL"),
        (190, "PERIODIC"),
        (290, "PERIODIC"),
    ]
    assert page.next_page_token == ""
    await store.close()


@pytest.mark.parametrize("page_size", [1, 2, 3, 7])
async def test_pages_join_up_to_the_unpaged_answer(tmp_path: Path, page_size: int) -> None:
    kinds = (EquityPointKind.PERIODIC, EquityPointKind.FILL, EquityPointKind.PERIODIC)
    points = [point(ms, kinds[ms % 3]) for ms in range(0, 200, 7)]
    store = await stored(tmp_path, points)
    query = HistoryQuery(RUN.session_id, RUN.run_id, 0, None, 20)
    whole = (await history_page(store, query, 5000, "")).points
    joined: list[EquityPointRecord] = []
    token = ""
    while True:
        page = await history_page(store, query, page_size, token)
        joined += page.points
        token = page.next_page_token
        if not token:
            break
    assert joined == whole
    with pytest.raises(DomainError, match="page_token"):  # a token is bound to its query
        await history_page(store, RUN, page_size, (await history_page(store, query, 1, "")).next_page_token)
    await store.close()


def test_sparkline_spans_low_to_high_and_is_flat_when_nothing_moves() -> None:
    assert sparkline([D(0), D(7), D(14)]) == "▁▄█"
    assert sparkline([D(5)] * 3) == "▁▁▁"
    assert sparkline([]) == ""
    assert len(sparkline([D(i) for i in range(100)], width=40)) == 40
