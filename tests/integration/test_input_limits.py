"""Issue 11, findings 2-4: input at the edges of what a field can hold is a clean INVALID_ARGUMENT
(HTTP 400) naming the field and the rule, never INTERNAL, through the real gRPC server and REST shim."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import pytest
from orderly_grid.v1 import grid_pb2
from orderly_grid.v1 import grid_service_pb2 as pb

from server.simulator import RunningSimulator
from tests.integration.harness import Running, auth, rpc_error, running_app, start_request, venue_orders
from tests.integration.rest_signing import START_FIELDS

MAX_SEQ = 2**63 - 1

# (field, value, a phrase of the rule the error must state)
EXTREME_DECIMALS = [
    ("total_margin", "1e999999999", "at most 12 digits before the decimal point"),
    ("total_margin", "9" * 5000, "at most 40 characters"),
    ("total_margin", "99999999999999999999", "at most 12 digits before the decimal point"),
    ("lower_bound", "1e-999999999", "at most 12 digits after the decimal point"),
    ("lower_bound", "0.0000000000001", "at most 12 digits after the decimal point"),
    ("upper_bound", "1e999999", "at most 12 digits before the decimal point"),
    ("upper_bound", "-1e999999999", "at most 12 digits before the decimal point"),
    ("current_price", "1e-999999999", "at most 12 digits after the decimal point"),
    ("current_price", "4" * 100_000, "at most 40 characters"),
    ("trigger_price", "1e999999999", "at most 12 digits before the decimal point"),
    ("stop_loss_price", "1e-999999999", "at most 12 digits after the decimal point"),
    ("take_profit_price", "9" * 5000, "at most 40 characters"),
]


def _config(**overrides: Any) -> grid_pb2.GridConfig:
    fields: dict[str, Any] = {
        "ticker": "BTCUSDT",
        "direction": grid_pb2.DIRECTION_BOTH,
        "current_price": "42500",
        "upper_bound": "45000",
        "lower_bound": "40000",
        "grid_levels": 6,
        "total_margin": "1000",
    }
    fields.update(overrides)
    return grid_pb2.GridConfig(**fields)


async def _assert_invalid(call: Any, field: str, rule: str) -> None:
    code, error = await rpc_error(call)
    assert (code, error.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT"), error
    [violation] = error.field_violations
    assert violation.field == field, error
    assert rule in violation.description, error
    assert len(error.message) < 300, "the error must not echo a huge value back"


async def _still_previews(server: Running) -> None:
    response = await server.stub.PreviewGrid(pb.PreviewGridRequest(config=_config()))
    assert len(response.lines) == 6


@pytest.mark.parametrize(("field", "value", "rule"), EXTREME_DECIMALS)
async def test_extreme_decimals_are_invalid_argument_naming_the_field(
    sim: RunningSimulator, tmp_path: Path, field: str, value: str, rule: str
) -> None:
    """PreviewGrid (no auth) and StartGrid answered INTERNAL (decimal.Overflow, DivisionImpossible)."""
    async with running_app(sim, tmp_path) as server:
        await _assert_invalid(
            server.stub.PreviewGrid(pb.PreviewGridRequest(config=_config(**{field: value}))), field, rule
        )
        await _assert_invalid(server.stub.StartGrid(start_request(**{field: value})), field, rule)
        assert venue_orders(sim) == []
        await _still_previews(server)


async def test_geometric_ratio_with_an_extreme_exponent_names_grid_ratio(
    sim: RunningSimulator, tmp_path: Path
) -> None:
    async with running_app(sim, tmp_path) as server:
        config = _config(grid_type=grid_pb2.GRID_TYPE_GEOMETRIC, grid_ratio="1e-999999999", grid_levels=200)
        await _assert_invalid(
            server.stub.PreviewGrid(pb.PreviewGridRequest(config=config)),
            "grid_ratio",
            "at most 12 digits after the decimal point",
        )


async def test_the_largest_and_finest_allowed_decimals_never_answer_internal(
    sim: RunningSimulator, tmp_path: Path
) -> None:
    """The edges of the documented ranges pass the field checks and end in a market-rule refusal at
    worst: the engine's arithmetic holds for every config its validation lets through."""
    async with running_app(sim, tmp_path) as server:
        for overrides in (
            {"total_margin": "999999999999.999999999999"},
            {"total_margin": "0.000000000001"},
            {"lower_bound": "0.000000000001", "total_margin": "999999999999"},
            {"upper_bound": "999999999999.999999999999"},
        ):
            code, details = grpc.StatusCode.OK, ""
            try:
                await server.stub.PreviewGrid(pb.PreviewGridRequest(config=_config(**overrides)))
            except grpc.aio.AioRpcError as exc:
                code, details = exc.code(), exc.details() or ""
            assert code in (grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT), (overrides, details)


@pytest.mark.parametrize("after_seq", [2**63, 2**64 - 1])
async def test_watch_fills_after_seq_beyond_int64_is_invalid_argument(
    sim: RunningSimulator, tmp_path: Path, after_seq: int
) -> None:
    """Finding 3: OverflowError (Python int too large to convert to SQLite INTEGER) was INTERNAL."""
    async with running_app(sim, tmp_path) as server:
        stream = server.stub.WatchFills(pb.WatchFillsRequest(after_seq=after_seq, user_auth=auth()))
        code, error = await rpc_error(stream.read())
        assert (code, error.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT")
        assert [v.field for v in error.field_violations] == ["after_seq"]
        assert str(MAX_SEQ) in error.field_violations[0].description

        # The largest allowed resume point is an ordinary (empty) replay.
        watch = server.watch(after_seq=MAX_SEQ)
        await watch.wait_for(lambda w: w.replay_complete, "replay_complete")
        assert watch.error is None
        watch.cancel()


async def _post(http: aiohttp.ClientSession, url: str, data: bytes, **headers: str) -> tuple[int, Any]:
    async with http.post(url, data=data, headers={"Content-Type": "application/json", **headers}) as response:
        return response.status, await response.json()


def _field_of(error: dict[str, Any]) -> str:
    """The field named, relative to the config (the shim names PreviewGrid's body `config.*`)."""
    [violation] = error["details"]["field_violations"]
    return str(violation["field"]).removeprefix("config.")


async def test_rest_huge_numbers_are_400_naming_the_field(sim: RunningSimulator, tmp_path: Path) -> None:
    """Finding 4: a 5000-digit grid_levels or a 100000-digit price was a 500 (Exceeds the limit
    (4300 digits) for integer string conversion)."""
    body = json.dumps(START_FIELDS)
    cases = [
        (body.replace('"grid_levels": 6', '"grid_levels": ' + "9" * 5000), "grid_levels"),
        (body.replace('"grid_levels": 6', '"grid_levels": "' + "9" * 5000 + '"'), "grid_levels"),
        (body.replace('"grid_levels": 6', '"grid_levels": -' + "9" * 5000), "grid_levels"),
        (body.replace('"current_price": "42500"', '"current_price": ' + "4" * 100_000), "current_price"),
        (
            body.replace('"current_price": "42500"', '"current_price": "' + "4" * 100_000 + '"'),
            "current_price",
        ),
        (body.replace('"total_margin": "1000"', '"total_margin": 1e999999999'), "total_margin"),
        (body.replace('"lower_bound": "40000"', '"lower_bound": 4' + "0" * 5000 + ".5"), "lower_bound"),
    ]
    async with running_app(sim, tmp_path, with_rest=True) as server, aiohttp.ClientSession() as http:
        url = f"{server.app.rest_url}/api/grid/preview"
        for data, field in cases:
            status, error = await _post(http, url, data.encode())
            assert status == 400, (field, error)
            assert error["error_code"] == "INVALID_ARGUMENT", error
            assert _field_of(error) == field, error
            assert len(error["message"]) < 300
        status, _ = await _post(http, url, body.encode())
        assert status == 200


async def test_rest_body_that_is_not_the_content_encoding_it_claims_is_400(
    sim: RunningSimulator, tmp_path: Path
) -> None:
    """Finding 4: a body sent with `Content-Encoding: gzip` that is not gzip was a 500."""
    async with running_app(sim, tmp_path, with_rest=True) as server, aiohttp.ClientSession() as http:
        url = f"{server.app.rest_url}/api/grid/preview"
        for encoding in ("gzip", "deflate"):
            status, error = await _post(http, url, b'{"ticker": "BTCUSDT"}', **{"Content-Encoding": encoding})
            assert status == 400, error
            assert error["error_code"] == "INVALID_ARGUMENT"
            assert _field_of(error) == "body"
            assert encoding in error["message"]
        status, _ = await _post(http, url, json.dumps(START_FIELDS).encode())
        assert status == 200


@pytest.mark.parametrize("text", ["٤٢٥٠٠", "４００００", "4_0_000", "1०००"])
async def test_decimal_text_is_plain_ascii(sim: RunningSimulator, tmp_path: Path, text: str) -> None:
    """Found by the fuzzers: Python's Decimal reads underscores and non-ASCII digits."""
    async with running_app(sim, tmp_path) as server:
        code, error = await rpc_error(server.stub.StartGrid(start_request(lower_bound=text)))
        assert code == grpc.StatusCode.INVALID_ARGUMENT
        assert [v.field for v in error.field_violations] == ["lower_bound"]
