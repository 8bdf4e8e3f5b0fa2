"""Running the REST shim on a host and port, in the gRPC server's process or as its own."""

from __future__ import annotations

from typing import Any

import grpc
from aiohttp import web

from server.logs import get_logger
from server.rest.app import DEFAULT_DEADLINE_S, build_rest_app
from server.rest.limits import DEFAULT_HEADER_TIMEOUT_S, runner_options
from server.rest.parse_errors import ParseErrorLog

DEFAULT_SHUTDOWN_TIMEOUT_S = 5.0

_log = get_logger(__name__)


class RestShim:
    """The REST application behind an aiohttp runner. Give it a channel (the shim then only borrows
    it) or a `grpc_target` such as "127.0.0.1:50051" (it opens and closes its own channel).
    `header_timeout_s` bounds how long a connection may take to send a request head; `app_options`
    go to `build_rest_app` (max_body_bytes, body_timeout_s, proxy_token: see server.rest.limits and
    server.api.forwarding)."""

    def __init__(
        self,
        channel: grpc.aio.Channel | None = None,
        *,
        grpc_target: str | None = None,
        deadline_s: float | None = DEFAULT_DEADLINE_S,
        shutdown_timeout_s: float = DEFAULT_SHUTDOWN_TIMEOUT_S,
        header_timeout_s: float = DEFAULT_HEADER_TIMEOUT_S,
        **app_options: Any,
    ) -> None:
        if (channel is None) == (grpc_target is None):
            raise ValueError("give exactly one of channel or grpc_target")
        self._channel = channel
        self._grpc_target = grpc_target
        self._owned_channel: grpc.aio.Channel | None = None
        self._deadline_s = deadline_s
        self._shutdown_timeout_s = shutdown_timeout_s
        self._header_timeout_s = header_timeout_s
        self._app_options = app_options
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Serve on host:port (0 picks a free port); returns the bound port."""
        if self._runner is not None:
            raise RuntimeError("the REST shim is already running")
        channel = self._channel
        if channel is None:
            assert self._grpc_target is not None
            channel = self._owned_channel = grpc.aio.insecure_channel(self._grpc_target)
        app = build_rest_app(channel, deadline_s=self._deadline_s, **self._app_options)
        # handler_cancellation: a client that disconnects cancels its handler, and so its gRPC call.
        # auto_decompress off: the app decodes Content-Encoding itself (server.rest.encoding).
        # logger: a request head the parser refuses is one rate-limited line, not a traceback.
        runner = web.AppRunner(
            app,
            handler_cancellation=True,
            access_log=None,
            logger=ParseErrorLog(),
            shutdown_timeout=self._shutdown_timeout_s,
            auto_decompress=False,
            **runner_options(self._header_timeout_s),  # slow request heads, no lingering close
        )
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        _log.info(
            "rest_shim_started", host=host, port=self.port, grpc_target=self._grpc_target or "in-process"
        )
        return self.port

    async def stop(self) -> None:
        """Stop serving: open streams are ended, running requests get the shutdown timeout."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._owned_channel is not None:
            await self._owned_channel.close(None)
            self._owned_channel = None
        _log.info("rest_shim_stopped")
