"""Bad HTTP input is a 400 envelope naming the field and the rule; it never reaches the gRPC server."""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys
import zlib
from typing import Any

import pytest

from tests.rest.conftest import Stack
from tests.rest.test_grid_routes import AUTH, AUTH_QUERY, START_BODY


async def _post(stack: Stack, path: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    async with stack.http.post(stack.url(path), **kwargs) as response:
        return response.status, await response.json()


def _violation(error: dict[str, Any]) -> tuple[str, str]:
    [violation] = error["details"]["field_violations"]
    return violation["field"], violation["description"]


@pytest.mark.parametrize(
    ("body", "field", "rule"),
    [
        ({**START_BODY, "gird_levels": 5}, "gird_levels", "unknown field of StartGridRequest"),
        ({**START_BODY, "user_auth": {**AUTH, "sig": "0x"}}, "user_auth.sig", "unknown field of UserAuth"),
        ({**START_BODY, "grid_levels": "eleven"}, "grid_levels", "must be an integer that fits 32 bits"),
        ({**START_BODY, "grid_levels": 10.5}, "grid_levels", "must be an integer that fits 32 bits"),
        ({**START_BODY, "direction": "UP"}, "direction", "must be one of LONG, SHORT, BOTH"),
        ({**START_BODY, "close_position_on_stop": "yes"}, "close_position_on_stop", "must be true or false"),
        ({**START_BODY, "user_auth": "0xabc"}, "user_auth", "must be a JSON object"),
        ({**START_BODY, "user_auth": {**AUTH, "timestamp": "soon"}}, "user_auth.timestamp", "64 bits"),
        ({**START_BODY, "ticker": True}, "ticker", "must be a string"),
        ({**START_BODY, "ticker": ["BTCUSDT"]}, "ticker", "must be a string"),
    ],
)
async def test_bad_body_field_is_400_naming_the_field(
    stack: Stack, body: dict[str, Any], field: str, rule: str
) -> None:
    status, error = await _post(stack, "/api/grid/start", json=body)
    assert status == 400
    assert (error["success"], error["error_code"], error["code"]) == (
        False,
        "INVALID_ARGUMENT",
        "INVALID_ARGUMENT",
    )
    assert _violation(error)[0] == field
    assert rule in _violation(error)[1]
    assert error["message"].startswith(f"{field}: ")
    assert "StartGrid" not in stack.backend.requests


async def test_malformed_json_is_400_saying_where(stack: Stack) -> None:
    headers = {"Content-Type": "application/json"}
    status, error = await _post(stack, "/api/grid/start", data=b'{"ticker": "BTCUSDT",}', headers=headers)
    assert status == 400
    assert error["error_code"] == "INVALID_ARGUMENT"
    assert error["message"].startswith("request body is not valid JSON: ")
    assert "line 1 column 22" in error["message"]
    assert _violation(error)[0] == "body"


async def test_json_that_is_not_an_object_is_400(stack: Stack) -> None:
    status, error = await _post(stack, "/api/grid/stop", json=["session"])
    assert status == 400
    assert error["message"] == "request body must be a JSON object"


async def test_unknown_query_parameter_is_400_naming_it(stack: Stack) -> None:
    params = {**AUTH_QUERY, "user_auth.sig": "0x1"}
    async with stack.http.get(stack.url("/api/grid/status/x"), params=params) as response:
        assert response.status == 400
        error = await response.json()
    field, rule = _violation(error)
    assert field == "user_auth.sig"
    assert "not a field of UserAuth" in rule


async def test_ill_typed_query_parameter_is_400_naming_it(stack: Stack) -> None:
    params = {**AUTH_QUERY, "page_size": "lots"}
    async with stack.http.get(stack.url("/api/grid/sessions"), params=params) as response:
        assert response.status == 400
        assert _violation(await response.json()) == ("page_size", "must be an integer that fits 32 bits")


async def test_repeated_single_query_parameter_is_400(stack: Stack) -> None:
    url = stack.url("/api/grid/sessions?status=RUNNING&status=STOPPED")
    async with stack.http.get(url) as response:
        assert response.status == 400
        assert _violation(await response.json()) == ("status", "must be given once")


async def test_query_parameters_on_a_whole_body_route_are_400(stack: Stack) -> None:
    status, error = await _post(stack, "/api/grid/stop?session_id=x", json={"user_auth": AUTH})
    assert status == 400
    assert _violation(error)[0] == "session_id"


async def test_unknown_route_and_wrong_method_use_the_error_envelope(stack: Stack) -> None:
    async with stack.http.get(stack.url("/api/grid/nothing")) as response:
        assert response.status == 404
        assert (await response.json())["error_code"] == "NOT_FOUND"
    async with stack.http.get(stack.url("/api/grid/start")) as response:
        assert response.status == 405
        assert (await response.json())["error_code"] == "METHOD_NOT_ALLOWED"
        assert response.headers["Allow"] == "POST"


async def test_oversized_body_is_rejected(stack: Stack) -> None:
    headers = {"Content-Type": "application/json"}
    status, error = await _post(
        stack, "/api/grid/start", data=io.BytesIO(b" " * (2 * 1024 * 1024)), headers=headers
    )
    assert status == 413
    assert error["success"] is False


@pytest.mark.parametrize(
    "body",
    [b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 100_000 + b"1" + b"}" * 100_000],
    ids=["arrays", "objects"],
)
async def test_deeply_nested_body_is_a_400_never_a_crash(stack: Stack, body: bytes) -> None:
    """Issue 11, finding 1: a 195 KB body of nested brackets segfaulted the process."""
    headers = {"Content-Type": "application/json"}
    status, error = await _post(stack, "/api/grid/preview", data=body, headers=headers)
    assert status == 400
    assert _violation(error) == ("body", "request body nests arrays and objects deeper than 32 levels")
    async with stack.http.get(stack.url("/health")) as response:
        assert response.status == 200


async def test_brackets_inside_strings_do_not_count_as_nesting(stack: Stack) -> None:
    body = json.dumps({**START_BODY, "ticker": "[" * 5_000}).encode()
    status, error = await _post(stack, "/api/grid/preview", data=body)
    assert "nests" not in error.get("message", ""), (status, error)


def test_importing_the_server_leaves_a_recursion_limit_that_stops_parsers_before_the_c_stack() -> None:
    """eth_account (py_ecc) raises the limit to 100000 on import; with it, json.loads of deep input
    overflowed the C stack (exit 139) instead of raising RecursionError."""
    script = (
        "import sys, json, server.app, server.auth\n"
        "assert sys.getrecursionlimit() <= 1000, sys.getrecursionlimit()\n"
        "try:\n"
        "    json.loads(b'[' * 100000 + b']' * 100000)\n"
        "except RecursionError:\n"
        "    print('refused')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout.strip()) == (0, "refused"), done.stderr[-2000:]


async def _post_encoded(stack: Stack, body: bytes, encoding: str) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": "application/json", "Content-Encoding": encoding}
    return await _post(stack, "/api/grid/preview", data=body, headers=headers)


async def test_gzip_and_deflate_bodies_are_decoded(stack: Stack) -> None:
    body = json.dumps({"ticker": "BTCUSDT"}).encode()
    for encoded, encoding in ((gzip.compress(body), "gzip"), (zlib.compress(body), "deflate")):
        stack.backend.requests.clear()
        status, reply = await _post_encoded(stack, encoded, encoding)
        assert status == 200, reply
        assert stack.backend.requests["PreviewGrid"].config.ticker == "BTCUSDT"


@pytest.mark.parametrize(
    ("body", "encoding", "message"),
    [
        (b"not gzip" * 20_000, "gzip", "request body is not valid gzip data"),
        (gzip.compress(b"{}")[:-6], "gzip", "truncated"),
        (b"not deflate", "deflate", "request body is not valid deflate data"),
        (b"{}", "br", "Content-Encoding br is not supported"),
        (b"{}", "gzip, gzip, gzip", "at most 2 codings"),
    ],
    ids=["not-gzip", "truncated-gzip", "not-deflate", "unsupported", "too-many-codings"],
)
async def test_a_body_that_is_not_its_content_encoding_is_a_400_naming_it(
    stack: Stack, body: bytes, encoding: str, message: str
) -> None:
    """Issue 11, finding 4: gzip that was not gzip answered 500 (and reset the connection)."""
    status, error = await _post_encoded(stack, body, encoding)
    assert status == 400, error
    assert error["error_code"] == "INVALID_ARGUMENT"
    assert _violation(error)[0] == "body"
    assert message in error["message"]
    assert "PreviewGrid" not in stack.backend.requests


async def test_a_gzip_body_that_inflates_past_the_body_limit_is_a_413(stack: Stack) -> None:
    bomb = gzip.compress(b" " * (2 * 1024 * 1024))  # 2 KB that inflate to 2 MB
    status, error = await _post_encoded(stack, bomb, "gzip")
    assert status == 413, error
    assert "PreviewGrid" not in stack.backend.requests
