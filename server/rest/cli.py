"""`orderly-grid rest`: the REST shim as its own process, in front of a gRPC server elsewhere
(GRID_GRPC_TARGET, or `--grpc-target`). It holds no state: every route is a gRPC call."""

from __future__ import annotations

import argparse
import asyncio
import os
from dataclasses import replace

from server.cli import stop_on_signals
from server.logs import configure_logging, get_logger
from server.rest.shim import RestShim
from server.settings import Settings, SettingsError

log = get_logger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--grpc-target", default=None, help="the gRPC server, host:port (default GRID_GRPC_TARGET)"
    )
    parser.add_argument(
        "--rest-port", type=int, default=None, help="REST port (default GRID_REST_PORT or 8001)"
    )


async def serve_rest(settings: Settings, grpc_target: str) -> None:
    # The gRPC server believes this shim's x-forwarded-for only if its GRID_TRUSTED_PROXIES lists
    # this process's address (server.api.forwarding).
    shim = RestShim(
        grpc_target=grpc_target,
        header_timeout_s=settings.rest_header_timeout_s,
        body_timeout_s=settings.rest_body_timeout_s,
        max_body_bytes=settings.rest_max_body_bytes,
    )
    stop = stop_on_signals()
    port = await shim.start(settings.rest_host, settings.rest_port)
    print(f"orderly-grid REST on http://{settings.rest_host}:{port} -> gRPC {grpc_target}", flush=True)
    await stop.wait()
    log.info("shutdown_requested")
    await shim.stop()


def run(args: argparse.Namespace) -> int:
    try:
        settings = Settings.from_env(os.environ)
    except SettingsError as exc:
        print(f"orderly-grid rest: {exc}")
        return 2
    if args.rest_port is not None:
        settings = replace(settings, rest_port=args.rest_port)
    grpc_target = args.grpc_target or settings.grpc_target
    if not grpc_target:
        print(
            "orderly-grid rest: --grpc-target or GRID_GRPC_TARGET is required (host:port of the gRPC server)"
        )
        return 2
    configure_logging(settings.log_level)
    asyncio.run(serve_rest(settings, grpc_target))
    return 0
