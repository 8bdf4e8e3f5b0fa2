"""The SDK against the real service on loopback: signed calls, typed answers, typed errors."""

from __future__ import annotations

from decimal import Decimal

import grpc
import pytest
from orderly_grid.client import GridClient, MissingWalletError
from orderly_grid.errors import DuplicateGridSession, InvalidArgument, SessionNotFound
from orderly_grid.params import GridParams
from orderly_grid.v1 import grid_pb2
from orderly_grid.wallet import Wallet

from tests.clients.service import LoopbackService

BTC = GridParams(
    ticker="BTCUSDT",
    lower_bound="40000",
    upper_bound="45000",
    grid_levels=6,
    total_margin=Decimal("1000"),
    current_price="42500",
    direction="BOTH",
)


async def test_start_get_list_stop_round_trip_through_the_sdk(client: GridClient, wallet: Wallet) -> None:
    started = await client.start_grid(BTC)
    assert started.session_id == f"{wallet.address.lower()}_BTCUSDT"
    assert started.session_id == client.session_id("BTCUSDT")
    assert started.status == grid_pb2.GRID_STATUS_RUNNING
    assert sorted((o.side, Decimal(o.price)) for o in started.open_orders) == [
        (grid_pb2.SIDE_BUY, Decimal(40000)),
        (grid_pb2.SIDE_BUY, Decimal(41000)),
        (grid_pb2.SIDE_BUY, Decimal(42000)),
        (grid_pb2.SIDE_SELL, Decimal(44000)),
        (grid_pb2.SIDE_SELL, Decimal(45000)),
    ]

    fetched = await client.get_grid(started.session_id)
    assert fetched.session_id == started.session_id
    assert len(fetched.open_orders) == 5

    page = await client.list_grids(status="RUNNING")
    assert [g.session_id for g in page.grids] == [started.session_id]
    assert [g.session_id async for g in client.iter_grids(page_size=1)] == [started.session_id]

    summaries = await client.list_summaries()
    assert [s.session_id for s in summaries.summaries] == [started.session_id]
    assert summaries.totals.active_session_count == 1

    stopped = await client.stop_grid(started.session_id, close_position=True)
    assert stopped.status == grid_pb2.GRID_STATUS_STOPPED
    assert list(stopped.open_orders) == []
    assert [g.session_id for g in (await client.list_grids(status="RUNNING")).grids] == []


async def test_preview_shows_the_orders_a_start_would_place_without_a_wallet(
    service: LoopbackService,
) -> None:
    async with GridClient(service.target) as anonymous:
        preview = await anonymous.preview_grid(BTC)
        with pytest.raises(MissingWalletError):
            await anonymous.list_grids()
    assert preview.symbol == "PERP_BTC_USDC"
    assert [Decimal(line) for line in preview.lines] == [Decimal(40000 + 1000 * i) for i in range(6)]
    assert len(preview.orders) == 5


async def test_unknown_session_raises_session_not_found_with_the_reason(client: GridClient) -> None:
    with pytest.raises(SessionNotFound) as raised:
        await client.get_grid(client.session_id("PERP_ETH_USDC"))
    assert raised.value.reason == "SESSION_NOT_FOUND"
    assert raised.value.code == grpc.StatusCode.NOT_FOUND


async def test_bad_grid_raises_invalid_argument_naming_the_field(client: GridClient) -> None:
    inverted = GridParams(
        ticker="BTCUSDT",
        lower_bound="45000",
        upper_bound="40000",
        grid_levels=6,
        total_margin="1000",
        current_price="42500",
    )
    with pytest.raises(InvalidArgument) as raised:
        await client.start_grid(inverted)
    fields = [v.field for v in raised.value.field_violations]
    assert fields, raised.value
    assert any(f in ("upper_bound", "lower_bound") for f in fields), fields

    with pytest.raises(InvalidArgument) as too_few:
        await client.preview_grid(
            GridParams("BTCUSDT", "40000", "45000", grid_levels=1, total_margin="1000", current_price="42500")
        )
    assert [v.field for v in too_few.value.field_violations] == ["grid_levels"]


async def test_second_start_on_the_same_symbol_is_a_duplicate(client: GridClient) -> None:
    await client.start_grid(BTC)
    with pytest.raises(DuplicateGridSession) as raised:
        await client.start_grid(BTC)
    assert raised.value.code == grpc.StatusCode.ALREADY_EXISTS


async def test_a_trailing_grid_starts_through_the_sdk_and_echoes_its_settings(client: GridClient) -> None:
    params = GridParams(
        ticker="BTCUSDT",
        lower_bound="40000",
        upper_bound="45000",
        grid_levels=6,
        total_margin=Decimal("1000"),
        trailing_up=True,
        trailing_down=True,
        trailing_up_limit="50000",
        trailing_down_limit=Decimal("35000"),
    )
    started = await client.start_grid(params)
    assert (started.config.trailing_up, started.config.trailing_down) == (True, True)
    assert (started.config.trailing_up_limit, started.config.trailing_down_limit) == ("50000", "35000")
    assert started.shift_count == 0
    assert (Decimal(started.active_lower_bound), Decimal(started.active_upper_bound)) == (40000, 45000)
    await client.stop_grid(started.session_id)
