"""The real REST shim in front of a real gRPC server, for the tests that call over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import aiohttp
import grpc

from server.grpc_server import GrpcServer
from server.rest import RestShim


@asynccontextmanager
async def rest_in_front_of(
    server: GrpcServer, **shim_options: Any
) -> AsyncIterator[tuple[str, aiohttp.ClientSession]]:
    """Start `server` and a shim (with `shim_options`) calling it on loopback ports; yields the
    shim's base URL and an HTTP session, and stops everything on exit."""
    async with AsyncExitStack() as stack:
        grpc_port = await server.start("127.0.0.1", 0)
        stack.push_async_callback(server.stop, None)
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{grpc_port}")
        stack.push_async_callback(channel.close, None)
        shim = RestShim(channel, **shim_options)
        rest_port = await shim.start("127.0.0.1", 0)
        stack.push_async_callback(shim.stop)
        http = await stack.enter_async_context(aiohttp.ClientSession())
        yield f"http://127.0.0.1:{rest_port}", http
