"""A real HTTP middlebox between the adapter and the simulator that loses answers on cue.

The simulator's own faults strike before a request is processed; the hard case for a placement is the
opposite: the venue placed the order but the answer never arrived (connection reset, gateway 502,
timeout). This proxy forwards requests over a real socket and then, per scripted action, drops or
replaces the answer of the next `POST /v1/order` / `POST /v1/batch-order` calls.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator
from enum import StrEnum

import aiohttp
from aiohttp import web

_FORWARDED_HEADERS = (
    "orderly-timestamp",
    "orderly-account-id",
    "orderly-key",
    "orderly-signature",
    "Content-Type",
)


class Action(StrEnum):
    FORWARD = "forward"
    FORWARD_THEN_RESET = "forward_then_reset"  # placed, then the connection dies before the answer
    FORWARD_THEN_502 = "forward_then_502"  # placed, then a gateway error replaces the answer
    FAIL_502_WITHOUT_FORWARD = "fail_502_without_forward"  # gateway error, the venue never saw it
    HANG_WITHOUT_FORWARD = "hang_without_forward"  # no answer at all until the client gives up
    FAIL_429_WITHOUT_FORWARD = "fail_429_without_forward"  # rate limited before reaching the venue


class LossyProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.placement_actions: deque[Action] = deque()
        self.placements_seen = 0
        self._session: aiohttp.ClientSession | None = None
        self._release = asyncio.Event()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        action = Action.FORWARD
        if request.method == "POST" and request.path in ("/v1/order", "/v1/batch-order"):
            self.placements_seen += 1
            if self.placement_actions:
                action = self.placement_actions.popleft()
        if action is Action.FAIL_502_WITHOUT_FORWARD:
            return web.Response(status=502, text="<html>Bad Gateway</html>")
        if action is Action.FAIL_429_WITHOUT_FORWARD:
            return web.json_response(
                {"success": False, "code": -1003, "message": "too many requests"}, status=429
            )
        if action is Action.HANG_WITHOUT_FORWARD:
            await self._release.wait()  # released when the proxy stops
            return web.Response(status=504)
        assert self._session is not None
        headers = {name: request.headers[name] for name in _FORWARDED_HEADERS if name in request.headers}
        async with self._session.request(
            request.method, self.upstream + request.raw_path, data=body or None, headers=headers
        ) as upstream:
            text = await upstream.text()
            status = upstream.status
        if action is Action.FORWARD_THEN_RESET:
            assert request.transport is not None
            request.transport.close()
            return web.Response(status=500)  # never reaches the client: the socket is gone
        if action is Action.FORWARD_THEN_502:
            return web.Response(status=502, text="<html>Bad Gateway</html>")
        return web.Response(status=status, text=text, content_type="application/json")


@contextlib.asynccontextmanager
async def run_lossy_proxy(upstream: str) -> AsyncIterator[tuple[LossyProxy, str]]:
    proxy = LossyProxy(upstream)
    proxy._session = aiohttp.ClientSession()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", proxy.handle)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server = site._server
    assert server is not None
    port = next(iter(getattr(server, "sockets", []))).getsockname()[1]
    try:
        yield proxy, f"http://127.0.0.1:{port}"
    finally:
        proxy._release.set()
        await runner.cleanup()
        await proxy._session.close()
