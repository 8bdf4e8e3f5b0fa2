"""The real REST shim in front of a real gRPC server, for the tests that call over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import grpc

from server.grpc_server import GrpcServer
from server.rest import RestShim


@asynccontextmanager
async def rest_in_front_of(server: GrpcServer) -> AsyncIterator[tuple[str, aiohttp.ClientSession]]:
    """Start `server` and a shim calling it on loopback ports; yields the shim's base URL and an
    HTTP session, and stops everything on exit."""
    grpc_port = await server.start("127.0.0.1", 0)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{grpc_port}")
    shim = RestShim(channel)
    rest_port = await shim.start("127.0.0.1", 0)
    http = aiohttp.ClientSession()
    try:
        yield f"http://127.0.0.1:{rest_port}", http
    finally:
        await http.close()
        await shim.stop()
        await channel.close(None)
        await server.stop(None)
