"""BacktestGrid from the SDK (async and blocking) and `gridctl backtest` (a subprocess) against the
real service: no wallet, progress, the result, the picture, refusals naming the field."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest
from orderly_grid import GridClient, GridParams, SyncGridClient
from orderly_grid.errors import InvalidArgument
from orderly_grid.v1 import grid_pb2

from tests.clients.processes import gridctl
from tests.clients.service import LoopbackService
from tests.integration.parity_path import parity_csv

BTC = GridParams(
    "BTCUSDT", "40000", "45000", grid_levels=6, total_margin="1000", stop_loss_price="39500",
    close_position_on_stop=True,
)  # fmt: skip
GRID_FLAGS = (
    "--ticker", "BTCUSDT", "--lower", "40000", "--upper", "45000", "--levels", "6", "--margin", "1000",
    "--stop-loss", "39500", "--close-on-stop",
)  # fmt: skip


async def test_the_async_client_reports_progress_and_returns_the_result(service: LoopbackService) -> None:
    seen: list[tuple[int, int]] = []
    async with GridClient(service.target) as client:  # no wallet: BacktestGrid needs no signature
        result = await client.backtest_grid(
            BTC, parity_csv(), resolution=20, on_progress=lambda *p: seen.append(p)
        )
        assert seen[-1] == (35, 35)
        assert result.status == grid_pb2.GRID_STATUS_STOPPED
        assert result.fill_count == len(result.fills) == 14
        assert Decimal(result.position.quantity) == 0
        with pytest.raises(InvalidArgument) as refused:
            await client.backtest_grid(BTC, parity_csv(), maker_fee_rate="0.5")
    assert [v.field for v in refused.value.field_violations] == ["maker_fee_rate"]


async def test_the_blocking_client_returns_the_same_result(service: LoopbackService) -> None:
    client = await asyncio.to_thread(SyncGridClient, service.target)
    try:
        result = await asyncio.to_thread(client.backtest_grid, BTC, parity_csv(), omit_fills=True)
    finally:
        await asyncio.to_thread(client.close)
    assert result.fill_count == 14
    assert len(result.fills) == 0


async def test_gridctl_backtest_prints_the_result_and_writes_the_picture(
    service: LoopbackService, tmp_path: Path
) -> None:
    prices = tmp_path / "prices.csv"
    prices.write_text(parity_csv())
    picture = tmp_path / "grid.png"
    shown = await gridctl(
        service.target, "backtest", "--csv", str(prices), *GRID_FLAGS, "--plot", str(picture), wallet_key=None
    )
    assert shown.returncode == 0, shown.stderr
    assert "round trips" in shown.stdout
    assert "STOPPED (STOP_LOSS)" in shown.stdout
    assert "Same engine as the live service" in shown.stdout
    assert picture.stat().st_size > 1000

    as_json = await gridctl(
        service.target, "--json", "backtest", "--csv", str(prices), *GRID_FLAGS, wallet_key=None
    )
    assert as_json.returncode == 0, as_json.stderr
    assert as_json.json()["fill_count"] == "14"

    bad = tmp_path / "bad.csv"
    bad.write_text("timestamp,price\n0,42500\n1000,4x\n")
    refused = await gridctl(service.target, "backtest", "--csv", str(bad), *GRID_FLAGS, wallet_key=None)
    assert refused.returncode == 1
    assert "line 3: price" in refused.stderr
    missing = await gridctl(
        service.target, "backtest", "--csv", str(tmp_path / "none.csv"), *GRID_FLAGS, wallet_key=None
    )
    assert missing.returncode == 2
