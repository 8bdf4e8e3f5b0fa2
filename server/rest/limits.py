"""The REST shim's limits on slow and large requests, so that a few clients cannot hold its
connections or memory.

- Request head: a connection must deliver a complete request head within `header_timeout_s` of
  opening (or of its previous response, on a kept-alive connection), else it is closed without an
  answer (slowloris). This is aiohttp's keep-alive timer, which runs from the moment a connection
  opens and is not reset by incoming bytes (`runner_options`); idle kept-alive connections close
  after the same time.
- Request body: it must arrive within `body_timeout_s` of its head; else the read fails and the
  client gets 408 and the connection is closed.
- Body size: a Content-Length over `max_body_bytes` is refused with 413 before any of the body is
  read (also in answer to `Expect: 100-continue`, so the client never sends it); without a
  Content-Length (chunked), the read stops at `max_body_bytes` with 413. Either way the connection
  is closed after the answer and the rest of the body is never read (no lingering close).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Middleware

from server.grpc_server import REQUEST_ID_KEY, request_id_from_metadata
from server.logs import get_logger
from server.rest.rendering import REQUEST_ID_HEADER, json_response

DEFAULT_HEADER_TIMEOUT_S = 10.0
DEFAULT_BODY_TIMEOUT_S = 30.0

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ExpectHandler = Callable[[web.Request], Awaitable[web.StreamResponse | None]]

_log = get_logger(__name__)


class BodyTimeout(Exception):
    """The request body did not arrive in time (set on the body stream, so the read raises it)."""


def runner_options(header_timeout_s: float) -> dict[str, Any]:
    """aiohttp AppRunner options: the head timeout (see the module docstring), and no lingering
    close, which would read (and discard) the rest of a refused body for up to ten seconds."""
    return {"keepalive_timeout": header_timeout_s, "lingering_time": 0}


def _refusal(
    request: web.Request, status: int, error_code: str, code: str, message: str, **details: Any
) -> web.Response:
    body = {"success": False, "error_code": error_code, "code": code, "message": message, "details": details}
    request_id = request_id_from_metadata([(REQUEST_ID_KEY, request.headers.get(REQUEST_ID_HEADER, ""))])
    response = json_response(body, status, request_id)
    response.force_close()  # Connection: close; the unread rest of the body is never read
    return response


def _too_large(request: web.Request, max_body_bytes: int, content_length: int | None) -> web.Response:
    message = f"request body: at most {max_body_bytes} bytes are accepted"
    details: dict[str, Any] = {"max_body_bytes": max_body_bytes}
    if content_length is not None:
        message += f" (Content-Length: {content_length})"
        details["content_length"] = content_length
    _log.info("rest_body_too_large", path=request.path, **details)
    return _refusal(request, 413, "PAYLOAD_TOO_LARGE", "INVALID_ARGUMENT", message, **details)


def _declared_too_large(request: web.Request, max_body_bytes: int) -> web.Response | None:
    length = request.content_length
    return (
        _too_large(request, max_body_bytes, length)
        if length is not None and length > max_body_bytes
        else None
    )


def body_limits(max_body_bytes: int, body_timeout_s: float | None) -> Middleware:
    """The middleware that enforces the body size and time limits (run inside the error envelope)."""

    @web.middleware
    async def limit_body(request: web.Request, handler: Handler) -> web.StreamResponse:
        refused = _declared_too_large(request, max_body_bytes)
        if refused is not None:
            return refused
        timer: asyncio.TimerHandle | None = None
        if request.body_exists and body_timeout_s is not None:
            timer = asyncio.get_running_loop().call_later(body_timeout_s, _expire_body, request)
        try:
            return await handler(request)
        except web.HTTPRequestEntityTooLarge:  # the streaming cap (aiohttp's client_max_size)
            return _too_large(request, max_body_bytes, None)
        except BodyTimeout:
            _log.info("rest_body_timeout", path=request.path, timeout_s=body_timeout_s)
            return _refusal(
                request,
                408,
                "REQUEST_TIMEOUT",
                "DEADLINE_EXCEEDED",
                f"request body: not received within {body_timeout_s:g} s of the request head",
                body_timeout_s=body_timeout_s,
            )
        finally:
            if timer is not None:
                timer.cancel()

    return limit_body


def _expire_body(request: web.Request) -> None:
    if not request.content.is_eof():
        request.content.set_exception(BodyTimeout())


def expect_handler(max_body_bytes: int) -> ExpectHandler:
    """Answers `Expect: 100-continue` with the 413 when Content-Length is already too large, so the
    client does not send the body; otherwise as aiohttp does (100 Continue)."""

    async def expect(request: web.Request) -> web.StreamResponse | None:
        refused = _declared_too_large(request, max_body_bytes)
        if refused is not None:
            return refused
        if request.version < (1, 1):
            return None
        if request.headers.get("Expect", "").lower() != "100-continue":
            return _refusal(
                request, 417, "EXPECTATION_FAILED", "INVALID_ARGUMENT", "Expect: only 100-continue"
            )
        await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        request.writer.output_size = 0  # the response proper has not started
        return None

    return expect
