"""A request head the HTTP parser refuses is a 400 and one log line, not a traceback per request.

Found by the schema fuzzer (tests/fuzz): a query string over 8 KiB made aiohttp log "Error handling
request" with the parser's traceback at ERROR, some 700 bytes of plain text per unauthenticated
request, the REST twin of issue 11's finding 5."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import urlsplit

import pytest
from aiohttp.http_exceptions import LineTooLong

from server.rest.parse_errors import ParseErrorLog
from tests.log_capture import captured_logs
from tests.rest.conftest import Stack

UNPARSEABLE_HEADS = [
    pytest.param(
        b"GET /api/grid/sessions?x=" + b"a" * 9_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", id="long-line"
    ),
    pytest.param(
        b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 9_000 + b"\r\n\r\n", id="long-header"
    ),
    pytest.param(b"GET /health HTTP/1.1\r\nHo st: x\r\n\r\n", id="bad-header-name"),
    pytest.param(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\nFOO\x01 / HTTP/1.1\r\n\r\n", id="bad-method"),
]


async def _send_raw(base_url: str, head: bytes) -> bytes:
    address = urlsplit(base_url)
    assert address.hostname is not None
    assert address.port is not None
    reader, writer = await asyncio.open_connection(address.hostname, address.port)
    try:
        writer.write(head)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()


@pytest.mark.parametrize("head", UNPARSEABLE_HEADS)
async def test_an_unparseable_request_head_is_400_and_one_log_line_without_traceback(
    stack: Stack, head: bytes
) -> None:
    with captured_logs("DEBUG") as logs:
        answer = await _send_raw(stack.base_url, head)
        await asyncio.sleep(0.05)
    assert b" 400 Bad Request\r\n" in answer
    text = logs.getvalue()
    assert "Traceback" not in text, text
    assert "Error handling request" not in text, text
    [line] = [json.loads(line) for line in text.splitlines() if "rest_request_malformed" in line]
    assert line["level"] == "warning"
    assert line["status"] == 400
    assert "aaaa" not in text, "the refused bytes are never logged"
    assert "bbbb" not in text, "the refused bytes are never logged"


async def test_a_flood_of_unparseable_heads_writes_a_bounded_number_of_log_lines(stack: Stack) -> None:
    head = b"GET /health HTTP/1.1\r\nHo st: x\r\n\r\n"
    with captured_logs("INFO") as logs:
        for _ in range(30):
            assert b" 400 " in await _send_raw(stack.base_url, head)
        await asyncio.sleep(0.05)
    lines = [line for line in logs.getvalue().splitlines() if line.strip()]
    assert 1 <= len(lines) <= 5, lines


def test_the_line_after_a_quiet_interval_counts_the_lines_left_out() -> None:
    now = [0.0]
    log = ParseErrorLog(interval_s=1.0, clock=lambda: now[0])
    with captured_logs("INFO") as logs:
        for _ in range(4):
            log.error("Error handling request from %s", "127.0.0.1", exc_info=_parse_error())
        now[0] = 1.5
        log.error("Error handling request from %s", "127.0.0.1", exc_info=_parse_error())
    lines = [json.loads(line) for line in logs.getvalue().splitlines() if line.strip()]
    assert [line["not_logged_since_last"] for line in lines] == [0, 3]


def test_records_that_are_not_parser_errors_pass_to_aiohttps_logger_with_their_traceback() -> None:
    log = ParseErrorLog()
    with captured_logs("INFO") as logs:
        try:
            raise RuntimeError("a handler bug")
        except RuntimeError:
            log.exception("Error handling request from %s", "127.0.0.1")
    assert "Error handling request from 127.0.0.1" in logs.getvalue()
    assert "RuntimeError: a handler bug" in logs.getvalue()


def _parse_error() -> BaseException:
    return LineTooLong("x" * 100, "8190")
