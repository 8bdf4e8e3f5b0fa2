"""BacktestGrid end to end: gRPC and REST (NDJSON) on the real server over loopback, the venue's
rules, the per-address limit, and the same figures as the offline backtester."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import pytest
from orderly_grid.v1 import grid_pb2
from orderly_grid.v1 import grid_service_pb2 as pb

from server.api.status import error_from_rpc_error
from server.auth import RateLimitPolicy
from server.backtest import BacktestOptions, config_at_start, parse_csv, path_for, run_backtest
from server.backtest.catalog_rules import catalog_rules
from server.backtest.service import MAX_CSV_BYTES
from server.simulator import RunningSimulator
from tests.backtest.support import grid
from tests.integration.harness import running_app
from tests.integration.parity_path import parity_csv


def _request(**overrides: Any) -> pb.BacktestGridRequest:
    config = grid_pb2.GridConfig(
        ticker="BTCUSDT",
        direction=grid_pb2.DIRECTION_BOTH,
        upper_bound="45000",
        lower_bound="40000",
        grid_levels=6,
        total_margin="1000",
        stop_loss_price="39500",
        close_position_on_stop=True,
    )
    fields: dict[str, Any] = {"config": config, "prices_csv": parity_csv(), "resolution": 10}
    fields.update(overrides)
    return pb.BacktestGridRequest(**fields)


async def _collect(stub: Any, request: pb.BacktestGridRequest) -> list[pb.BacktestGridResponse]:
    return [message async for message in stub.BacktestGrid(request)]


async def test_grpc_streams_progress_then_the_result_the_offline_backtester_finds(
    sim: RunningSimulator, tmp_path: Path
) -> None:
    async with running_app(sim, tmp_path) as server:
        messages = await _collect(server.stub, _request())
    kinds = [message.WhichOneof("event") for message in messages]
    assert kinds[-1] == "result"
    assert set(kinds[:-1]) == {"progress"}
    assert len(kinds) >= 3
    last_progress = messages[-2].progress
    assert last_progress.points_done == last_progress.points_total == 35
    result = messages[-1].result

    series, _ = parse_csv(parity_csv().splitlines())
    config = grid(stop_loss_price=Decimal(39500), close_position_on_stop=True)
    rules = catalog_rules("PERP_BTC_USDC")  # the simulator serves the catalog's rules
    path = path_for(series, False, config, BacktestOptions().bar_order)
    offline = run_backtest(config_at_start(config, path, rules), rules, path, BacktestOptions(resolution=10))

    assert result.symbol == "PERP_BTC_USDC"
    assert result.status == grid_pb2.GRID_STATUS_STOPPED
    assert result.stop_reason == grid_pb2.STOP_REASON_STOP_LOSS
    assert result.pnl.total == str(offline.pnl.total)
    assert result.pnl.grid_profit == str(offline.pnl.grid_profit)
    assert result.pnl.round_trips == offline.pnl.round_trips
    assert result.position.quantity == str(offline.pnl.position)
    assert [(f.price, f.quantity, f.fee) for f in result.fills] == [
        (str(f.price), str(f.quantity), str(f.fee)) for f in offline.fills
    ]
    assert result.fill_count == len(offline.fills) == 14
    assert not result.fills[-1].HasField("cell_index")  # the stop's closing order
    assert len(result.equity_curve) == len(offline.equity_curve) <= 10
    assert Decimal(result.max_drawdown) == pytest.approx(Decimal(str(offline.stats.max_drawdown)))
    assert Decimal(result.config.current_price) == 42500
    assert list(result.lines) == ["40000", "41000", "42000", "43000", "44000", "45000"]
    assert result.fill_model[0].startswith("Same engine as the live service")


async def test_rest_streams_ndjson_with_the_result_last(sim: RunningSimulator, tmp_path: Path) -> None:
    body = {
        "config": {
            "ticker": "BTCUSDT",
            "direction": "LONG",
            "grid_type": "GEOMETRIC",
            "grid_ratio": "0.03",
            "upper_bound": "45000",
            "lower_bound": "40000",
            "grid_levels": 6,
            "total_margin": "1000",
            "leverage": 2,
        },
        "prices_csv": (
            "timestamp,open,high,low,close\n0,42500,43100,41600,42500\n60000,42500,44000,41000,43000\n"
        ),
        "bar_order": "PESSIMISTIC",
        "omit_fills": True,
    }
    async with (
        running_app(sim, tmp_path, with_rest=True) as server,
        aiohttp.ClientSession() as http,
        http.post(f"{server.app.rest_url}/api/grid/backtest", json=body) as response,
    ):
        assert response.status == 200, await response.text()
        assert response.headers["Content-Type"].startswith("application/x-ndjson")
        lines = [json.loads(raw) async for raw in response.content if raw.strip()]
    assert all("progress" in line for line in lines[:-1])
    result = lines[-1]["result"]
    assert result["status"] == "RUNNING"
    assert result["config"]["direction"] == "LONG"
    assert result["config"]["grid_type"] == "GEOMETRIC"
    assert int(result["fill_count"]) > 0
    assert result.get("fills", []) == []
    assert result["points"] == "8"  # two bars, four points each
    assert any("high -> low" in statement for statement in result["fill_model"])


async def test_bad_input_is_invalid_argument_naming_the_field(sim: RunningSimulator, tmp_path: Path) -> None:
    cases = {
        "prices_csv": _request(prices_csv="timestamp,price\n0,42500\n1000,4x\n"),
        "grid_levels": _request(config=grid_pb2.GridConfig(ticker="BTCUSDT", direction=1, grid_levels=1,
                                                           upper_bound="45000", lower_bound="40000",
                                                           total_margin="1000")),
        "maker_fee_rate": _request(maker_fee_rate="0.5"),
        "resolution": _request(resolution=100_000),
    }  # fmt: skip
    async with running_app(sim, tmp_path) as server:
        for field, request in cases.items():
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await _collect(server.stub, request)
            assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT, field
            error = error_from_rpc_error(caught.value)
            assert field in [violation.field for violation in error.field_violations], error
            if field == "prices_csv":
                assert "line 3: price" in error.message
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await _collect(server.stub, _request(prices_csv="0,42500\n" * (MAX_CSV_BYTES // 8 + 1)))
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "prices_csv: at most 3,000,000 bytes" in (caught.value.details() or "")


async def test_the_per_address_limit_refuses_the_call_past_it(sim: RunningSimulator, tmp_path: Path) -> None:
    policy = RateLimitPolicy.per_minute(backtest=1)
    async with running_app(sim, tmp_path, rate_limit_policy=policy) as server:
        assert (await _collect(server.stub, _request()))[-1].HasField("result")
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await _collect(server.stub, _request())
    assert caught.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert error_from_rpc_error(caught.value).retry_after_ms is not None
