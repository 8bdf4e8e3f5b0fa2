"""Test-only control surface under /sim/ (no signature) and a typed async client for it."""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

import aiohttp
from aiohttp import web

from server.simulator.accounts import SimAccount
from server.simulator.config import FaultConfig
from server.simulator.context import CONTEXT_KEY
from server.simulator.history import AccountHistory
from server.simulator.orders import VenueError
from server.simulator.rest_app import error_response, json_response


async def _body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    try:
        body = json.loads(raw or b"{}", parse_float=Decimal)
    except ValueError as exc:
        raise VenueError(-1005, "the request body is not valid JSON") from exc
    if not isinstance(body, dict):
        raise VenueError(-1005, "the request body must be a JSON object")
    return body


def _decimal(body: dict[str, Any], name: str) -> Decimal:
    try:
        return Decimal(str(body[name]))
    except (KeyError, InvalidOperation) as exc:
        raise VenueError(-1005, f"{name} is required and must be a number") from exc


def _ok(data: Any) -> web.Response:
    return json_response({"success": True, "data": data})


async def set_price(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT_KEY]
    try:
        body = await _body(request)
        fills, pushes = ctx.venue.set_price(str(body.get("symbol")), _decimal(body, "price"))
    except VenueError as exc:
        return error_response(exc.code, exc.message, exc.http_status)
    await ctx.hub.publish(pushes)  # answer only once every push is on the sockets
    return _ok({"fills": fills})


async def set_faults(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT_KEY]
    try:
        faults = FaultConfig.from_json(await _body(request))
    except VenueError as exc:
        return error_response(exc.code, exc.message, exc.http_status)
    except (ValueError, TypeError) as exc:
        return error_response(-1005, str(exc), 400)
    ctx.faults.config = faults
    return _ok(faults.to_json())


async def drop_websockets(request: web.Request) -> web.Response:
    dropped = await request.app[CONTEXT_KEY].hub.drop_all()
    return _ok({"dropped": dropped})


async def create_account(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT_KEY]
    try:
        body = await _body(request)
        collateral = _decimal(body, "collateral") if "collateral" in body else ctx.config.initial_collateral
    except VenueError as exc:
        return error_response(exc.code, exc.message, exc.http_status)
    return _ok(ctx.accounts.create(collateral).to_json())


async def advance_clock(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT_KEY]
    try:
        body = await _body(request)
        now_ms = ctx.clock.advance(int(body.get("ms", 0)))
    except VenueError as exc:
        return error_response(exc.code, exc.message, exc.http_status)
    except (ValueError, TypeError) as exc:
        return error_response(-1005, str(exc), 400)
    fills = await ctx.apply_due_events()
    return _ok({"now_ms": now_ms, "fills": fills})


async def state(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT_KEY]
    accounts = {}
    for account_id, account in ctx.accounts.accounts.items():
        accounts[account_id] = {
            "collateral": account.collateral,
            "open_orders": len(ctx.venue.open_orders(account_id)),
            "positions": {
                s: {"position_qty": p.quantity, "average_open_price": p.average_open_price}
                for s, p in account.positions.items()
            },
        }
    data = {
        "now_ms": ctx.clock.now_ms(),
        "prices": dict(ctx.venue.marks),
        "accounts": accounts,
        "fills": len(ctx.venue.fills),
        "websockets": len(ctx.hub.connections),
        "faults": ctx.faults.config.to_json(),
        "requests": dict(ctx.requests),
    }
    return _ok(data)


async def history(request: web.Request) -> web.Response:
    """GET /sim/history?account_id=...[&symbol=...]: the account's full order, trade and submission
    history and its positions (server.simulator.history)."""
    ctx = request.app[CONTEXT_KEY]
    account_id = request.query.get("account_id", "")
    symbol = request.query.get("symbol") or None
    try:
        data = ctx.venue.history(account_id, symbol).to_json()
    except VenueError as exc:
        return error_response(exc.code, exc.message, 404 if exc.code == -1002 else exc.http_status)
    return _ok(data)


async def list_accounts(request: web.Request) -> web.Response:
    """GET /sim/accounts: the ids of every account, in creation order (the default account first)."""
    return _ok({"account_ids": list(request.app[CONTEXT_KEY].accounts.accounts)})


async def settle_funding(request: web.Request) -> web.Response:
    """POST /sim/funding {"rate": "0.0001"}: one funding payment on every open position now, at
    `rate` (default: the configured funding_rate), pushed like a scheduled one."""
    ctx = request.app[CONTEXT_KEY]
    try:
        body = await _body(request)
        rate = _decimal(body, "rate") if "rate" in body else ctx.config.funding_rate
    except VenueError as exc:
        return error_response(exc.code, exc.message, exc.http_status)
    await ctx.hub.publish(ctx.venue.settle_funding(rate))
    return _ok({"rate": rate})


def add_control_routes(app: web.Application) -> None:
    app.router.add_post("/sim/price", set_price)
    app.router.add_post("/sim/faults", set_faults)
    app.router.add_post("/sim/ws/drop", drop_websockets)
    app.router.add_post("/sim/accounts", create_account)
    app.router.add_get("/sim/accounts", list_accounts)
    app.router.add_get("/sim/history", history)
    app.router.add_post("/sim/funding", settle_funding)
    app.router.add_post("/sim/clock/advance", advance_clock)
    app.router.add_get("/sim/state", state)


class SimulatorControlError(RuntimeError):
    pass


class SimulatorControl:
    """Typed client of the /sim/ routes."""

    def __init__(self, rest_url: str) -> None:
        self._rest_url = rest_url.rstrip("/")
        self._session: aiohttp.ClientSession | None = None

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        async with self._session.request(method, self._rest_url + path, json=body) as response:
            payload = json.loads(await response.text(), parse_float=Decimal)
        if not payload.get("success"):
            raise SimulatorControlError(f"{method} {path}: {payload.get('code')} {payload.get('message')}")
        return payload["data"]

    async def set_price(self, symbol: str, price: Decimal | str) -> int:
        data = await self._call("POST", "/sim/price", {"symbol": symbol, "price": str(price)})
        return int(data["fills"])

    async def set_faults(self, faults: FaultConfig) -> None:
        await self._call("POST", "/sim/faults", faults.to_json())

    async def drop_websockets(self) -> int:
        return int((await self._call("POST", "/sim/ws/drop"))["dropped"])

    async def create_account(self, collateral: Decimal | str = "100000") -> SimAccount:
        data = await self._call("POST", "/sim/accounts", {"collateral": str(collateral)})
        return SimAccount(data["account_id"], data["orderly_key"], data["orderly_secret"])

    async def advance_clock(self, ms: int) -> int:
        return int((await self._call("POST", "/sim/clock/advance", {"ms": ms}))["now_ms"])

    async def state(self) -> dict[str, Any]:
        data: dict[str, Any] = await self._call("GET", "/sim/state")
        return data

    async def faults(self) -> FaultConfig:
        """The fault configuration in force."""
        return FaultConfig.from_json((await self.state())["faults"])

    async def prices(self) -> dict[str, Decimal]:
        """The current mark price of every symbol."""
        marks: dict[str, Any] = (await self.state())["prices"]
        return {symbol: Decimal(str(price)) for symbol, price in marks.items()}

    async def account_ids(self) -> list[str]:
        return [str(a) for a in (await self._call("GET", "/sim/accounts"))["account_ids"]]

    async def history(self, account_id: str, symbol: str | None = None) -> AccountHistory:
        """Every order the venue accepted for `account_id`, every trade, every client_order_id
        submission (duplicates included) and the positions; only `symbol`'s when given."""
        query = f"?account_id={account_id}" + (f"&symbol={symbol}" if symbol else "")
        return AccountHistory.from_json(await self._call("GET", "/sim/history" + query))

    async def settle_funding(self, rate: Decimal | str | None = None) -> Decimal:
        """One funding payment now (at `rate`, else the configured rate); returns the rate used."""
        body = {} if rate is None else {"rate": str(rate)}
        return Decimal(str((await self._call("POST", "/sim/funding", body))["rate"]))

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> SimulatorControl:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
