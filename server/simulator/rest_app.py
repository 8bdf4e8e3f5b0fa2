"""REST front door: routing (tolerating `//v1/...`), faults, signature checks, rate limits, envelopes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from aiohttp import web

from server.simulator import jsonenc
from server.simulator.context import CONTEXT_KEY, SimContext
from server.simulator.orders import VenueError
from server.simulator.signing import (
    SignatureFormatError,
    decode_orderly_key,
    decode_signature,
    request_messages,
    verify,
)

NO_DATA = object()  # a handler result meaning "success envelope without a data key"


@dataclass
class ApiRequest:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    path_params: dict[str, str] = field(default_factory=dict)
    account_id: str = ""
    orderly_key: str = ""


Handler = Callable[[SimContext, ApiRequest], Awaitable[Any]]


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    handler: Handler
    bucket: str | None = None  # rate-limit bucket; None = public, no signature
    scope: str = "read"

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if method != self.method:
            return None
        want, got = self.template.split("/"), path.split("/")
        if len(want) != len(got):
            return None
        params: dict[str, str] = {}
        for pattern, part in zip(want, got, strict=True):
            if pattern.startswith("{"):
                if not part:
                    return None
                params[pattern[1:-1]] = part
            elif pattern != part:
                return None
        return params


def json_response(payload: dict[str, Any], status: int = 200) -> web.Response:
    return web.Response(text=jsonenc.dumps(payload), status=status, content_type="application/json")


def error_response(code: int, message: str, status: int) -> web.Response:
    return json_response({"success": False, "code": code, "message": message}, status)


class RestApp:
    def __init__(self, routes: list[Route]) -> None:
        self.routes = routes

    async def handle(self, request: web.Request) -> web.Response:
        ctx = request.app[CONTEXT_KEY]
        path = "/" + request.path.lstrip("/")
        found = [
            (route, params)
            for route in self.routes
            if (params := route.match(request.method, path)) is not None
        ]
        if not found:
            return error_response(-1000, "path not found", 400)
        route, path_params = found[0]
        ctx.requests[f"{route.method} {route.template}"] += 1
        # The whole request is received first: a client that goes away during the latency below (killed,
        # timed out) has still sent it, and the venue acts on it without anyone to answer.
        try:
            raw_body = await request.read()
        except ConnectionError:
            return error_response(-1000, "the request was cut off", 400)
        faults = ctx.faults
        if faults.config.latency_ms:
            await asyncio.sleep(faults.config.latency_ms / 1000)
        if faults.http_429():
            return error_response(-1003, "Too many requests, please try again later.", 429)
        if faults.http_5xx():
            return error_response(-1000, "Internal server error.", 500)
        api_request = ApiRequest(request.method, path, dict(request.query), None, path_params)
        try:
            if route.bucket is not None:
                self._authenticate(ctx, request, raw_body, route, api_request)
            api_request.body = _parse_body(raw_body) if request.method in ("POST", "PUT") else None
            data = await route.handler(ctx, api_request)
        except VenueError as exc:
            return error_response(exc.code, exc.message, exc.http_status)
        envelope: dict[str, Any] = {"success": True, "timestamp": ctx.clock.now_ms()}
        if data is not NO_DATA:
            envelope["data"] = data
        return json_response(envelope)

    def _authenticate(
        self, ctx: SimContext, request: web.Request, raw_body: bytes, route: Route, api_request: ApiRequest
    ) -> None:
        headers = request.headers
        for name in ("orderly-account-id", "orderly-key", "orderly-timestamp", "orderly-signature"):
            if not headers.get(name):
                raise VenueError(-1002, f"{name} header is empty", 401)
        account_id, orderly_key = headers["orderly-account-id"], headers["orderly-key"]
        timestamp = headers["orderly-timestamp"]
        try:
            timestamp_ms = int(timestamp)
        except ValueError as exc:
            raise VenueError(-1002, "orderly-timestamp must be Unix time in milliseconds", 401) from exc
        window_ms = ctx.config.auth_window_ms
        if not ctx.clock.accepts(timestamp_ms, window_ms):
            raise VenueError(
                -1002, f"orderly-timestamp is more than {window_ms // 1000} s from server time", 401
            )
        try:
            public_key = decode_orderly_key(orderly_key)
            signature = decode_signature(headers["orderly-signature"])
        except SignatureFormatError as exc:
            raise VenueError(-1001, str(exc), 401) from exc
        account = ctx.accounts.get(account_id)
        scope = account.keys.get(orderly_key) if account is not None else None
        if scope is None:
            raise VenueError(-1002, "orderly-key is not registered for this account", 401)
        messages = request_messages(timestamp, request.method, request.raw_path, raw_body)
        if not any(verify(public_key, signature, message) for message in messages):
            raise VenueError(-1001, "orderly-signature is invalid", 401)
        if route.scope not in scope.split(","):
            raise VenueError(-1002, f"orderly-key lacks the '{route.scope}' scope", 401)
        assert route.bucket is not None
        if not ctx.rate_limiter.allow(orderly_key, route.bucket):
            raise VenueError(-1003, "Too many requests, please try again later.", 429)
        api_request.account_id = account_id
        api_request.orderly_key = orderly_key


def _parse_body(raw: bytes) -> Any:
    if not raw.strip():
        return {}
    try:
        return json.loads(raw, parse_float=Decimal)
    except ValueError as exc:
        raise VenueError(-1005, "the request body is not valid JSON") from exc
