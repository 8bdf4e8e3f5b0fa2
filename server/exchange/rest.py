"""Orderly REST transport and endpoints: signing, envelope, typed errors, limiter, read retries.

The body is serialized once to compact JSON and those exact bytes are both signed and sent; the query
string is built here (no percent-encoding of ',') and sent verbatim via yarl's encoded=True, so the
signature always covers exactly what goes on the wire. Only idempotent calls are retried here;
placements are never blindly re-sent (see placement.py).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any, TypeVar

import aiohttp
import yarl
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from server.exchange import constants as c
from server.exchange.auth import OrderlySigner
from server.exchange.clock import wall_clock_ms
from server.exchange.config import OrderlyConfig
from server.exchange.errors import (
    AuthError,
    ExchangeError,
    NetworkError,
    OutcomeUnknown,
    ProtocolError,
    RateLimited,
    ServerError,
    UnknownOrder,
    error_from_response,
)
from server.exchange.models import OrderReport, PositionReport, SymbolInfo, TradeReport
from server.exchange.parsing import (
    parse_futures_mark_price,
    parse_order_row,
    parse_position_reports,
    parse_symbol_catalog,
    parse_trade_row,
    to_int,
)
from server.exchange.ratelimit import RateLimiter

T = TypeVar("T")
Query = Sequence[tuple[str, object]]


def _json_default(value: object) -> str:
    if isinstance(value, Decimal):
        return format(value, "f")  # numeric strings: exact, and accepted by Orderly
    raise TypeError(f"cannot serialize {type(value).__name__}")


def encode_body(body: Mapping[str, Any]) -> str:
    return json.dumps(body, separators=(",", ":"), default=_json_default)


def build_query(query: Query) -> str:
    parts = []
    for key, value in query:
        if value is None:
            continue
        text = format(value, "f") if isinstance(value, Decimal) else str(value)
        parts.append(f"{key}={text}")
    return "&".join(parts)


_CLIENT_ORDER_ID_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,35}$")
_PATH_SEGMENT_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def check_client_order_id(client_order_id: str) -> str:
    """Orderly: up to 36 characters, '-' allowed but not first; we also keep it URL-safe."""
    if not _CLIENT_ORDER_ID_RE.match(client_order_id):
        raise ValueError(
            "client_order_id: 1..36 chars of letters, digits, '_' or '-' (not first),"
            f" got {client_order_id!r}"
        )
    return client_order_id


def _segment(value: str, field: str) -> str:
    """A value that goes into a URL path or query unencoded, so it must not carry URL syntax."""
    if not _PATH_SEGMENT_RE.match(value):
        raise ValueError(f"{field}: must be letters, digits, '_' or '-', got {value!r}")
    return value


def _is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, ExchangeError) and exc.retryable


class OrderlyRestClient:
    def __init__(
        self,
        config: OrderlyConfig,
        session: aiohttp.ClientSession,
        limiter: RateLimiter,
        signer: OrderlySigner | None,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._config = config
        self._session = session
        self._limiter = limiter
        self._signer = signer
        self._sleep = sleep
        self.server_offset_ms = 0  # server clock minus local clock, from the envelope timestamp
        self.http_429_count = 0
        self.retries = 0  # idempotent calls re-sent after a retryable failure
        self.requests_sent = 0

    def server_now_ms(self) -> int:
        return wall_clock_ms() + self.server_offset_ms

    # --- transport --------------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        costs: Mapping[str, int],
        query: Query = (),
        body: Mapping[str, Any] | None = None,
        signed: bool = True,
    ) -> Any:
        """One attempt. Returns the envelope's `data` (None when absent) or raises an ExchangeError.

        A timeout or broken connection raises NetworkError for GET and OutcomeUnknown otherwise.
        """
        query_string = build_query(query)
        path_with_query = f"{path}?{query_string}" if query_string else path
        body_text = encode_body(body) if body is not None else ""
        await self._limiter.acquire(costs)
        headers: dict[str, str] = {}
        if signed:
            if self._signer is None:
                raise AuthError(f"{method} {path} needs credentials (ORDERLY_ACCOUNT_ID/KEY/SECRET)")
            headers = self._signer.headers(method, path_with_query, body_text)
        url = yarl.URL(self._config.rest_url + path_with_query, encoded=True)
        self.requests_sent += 1
        timeout = aiohttp.ClientTimeout(total=self._config.request_timeout_ms / 1000)
        try:
            async with self._session.request(
                method, url, data=body_text.encode() if body_text else None, headers=headers, timeout=timeout
            ) as response:
                status = response.status
                text = await response.text()
        except (TimeoutError, aiohttp.ClientError) as exc:
            detail = f"{method} {path}: no answer ({type(exc).__name__})"
            if method == "GET":
                raise NetworkError(detail) from exc
            raise OutcomeUnknown(detail, cause=type(exc).__name__) from exc
        return self._decode(status, text, f"{method} {path}")

    def _decode(self, status: int, text: str, what: str) -> Any:
        try:
            payload = json.loads(text, parse_float=Decimal)
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            if status == 429:
                self.http_429_count += 1
                raise RateLimited(f"{what}: rate limited", http_status=status)
            if status >= 500:
                raise ServerError(f"{what}: HTTP {status}", http_status=status)
            raise ProtocolError(
                f"{what}: HTTP {status} with a body that is not a JSON object", http_status=status
            )
        if status == 429:
            self.http_429_count += 1
        if payload.get("success") is True and status < 400:
            if "timestamp" in payload:
                server_ms = to_int(payload["timestamp"], "timestamp")
                self.server_offset_ms = server_ms - wall_clock_ms()
            return payload.get("data")
        raise error_from_response(status, payload.get("code"), f"{what}: {payload.get('message', '')}")

    def _count_retry(self, _state: object) -> None:
        self.retries += 1

    async def with_retries(self, call: Callable[[], Awaitable[T]], attempts: int | None = None) -> T:
        """Retry an idempotent call on 429, 5xx, -1011/-1012 and network errors, with jittered backoff."""
        retrying = AsyncRetrying(
            stop=stop_after_attempt(attempts or self._config.max_read_attempts),
            wait=wait_exponential_jitter(
                multiplier=self._config.retry_base_ms / 1000,
                max=self._config.retry_max_ms / 1000,
                jitter=self._config.retry_base_ms / 1000,
            ),
            retry=retry_if_exception(_is_retryable),
            sleep=self._sleep,
            reraise=True,
            before_sleep=self._count_retry,
        )
        async for attempt in retrying:
            with attempt:
                return await call()
        raise AssertionError("unreachable: tenacity reraises")  # pragma: no cover

    async def get(self, path: str, group: str, query: Query = (), *, signed: bool = True) -> Any:
        return await self.with_retries(
            lambda: self.request("GET", path, costs={group: 1}, query=query, signed=signed)
        )

    async def _paged_rows(self, path: str, group: str, query: Query) -> list[Mapping[str, Any]]:
        rows: list[Mapping[str, Any]] = []
        page = 1
        while True:
            data = await self.get(path, group, [*query, ("page", page), ("size", c.MAX_PAGE_SIZE)])
            batch = data.get("rows", []) if isinstance(data, dict) else []
            rows.extend(batch)
            total = data.get("meta", {}).get("total") if isinstance(data, dict) else None
            if len(batch) < c.MAX_PAGE_SIZE or (total is not None and len(rows) >= int(total)):
                return rows
            page += 1

    # --- public -----------------------------------------------------------------------------------

    async def symbol_catalog(self) -> dict[str, SymbolInfo]:
        data = await self.get(c.PUBLIC_INFO_PATH, c.PUBLIC_READ, signed=False)
        if not isinstance(data, dict):
            raise ProtocolError("GET /v1/public/info: no data")
        return parse_symbol_catalog(data)

    async def mark_price(self, symbol: str) -> Decimal:
        path = f"{c.PUBLIC_FUTURES_PATH}/{_segment(symbol, 'symbol')}"
        data = await self.get(path, c.PUBLIC_READ, signed=False)
        return parse_futures_mark_price(data, symbol)

    # --- orders -----------------------------------------------------------------------------------

    async def create_order(self, body: Mapping[str, Any]) -> Mapping[str, Any]:
        """One attempt, never retried here: the caller resolves an ambiguous outcome."""
        data = await self.request("POST", c.ORDER_PATH, costs={c.ORDER_CREATE: 1}, body=body)
        if not isinstance(data, dict):
            raise ProtocolError("POST /v1/order: no data")
        return data

    async def create_orders(self, bodies: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
        if not 0 < len(bodies) <= c.MAX_BATCH_ORDERS:
            raise ValueError(f"orders: a batch holds 1..{c.MAX_BATCH_ORDERS} orders, got {len(bodies)}")
        costs = {c.BATCH_CREATE: 1, c.ORDER_CREATE: len(bodies)}
        data = await self.request("POST", c.BATCH_ORDER_PATH, costs=costs, body={"orders": list(bodies)})
        rows = data.get("rows") if isinstance(data, dict) else None
        if not isinstance(rows, list):
            raise ProtocolError("POST /v1/batch-order: no rows")
        return rows

    async def cancel_by_client_order_id(self, symbol: str, client_order_id: str) -> None:
        """Cancel is idempotent in effect: after an unanswered first attempt, -1006 means done."""
        attempts = 0

        async def once() -> None:
            nonlocal attempts
            attempts += 1
            query = [
                ("client_order_id", check_client_order_id(client_order_id)),
                ("symbol", _segment(symbol, "symbol")),
            ]
            try:
                await self.request("DELETE", c.CLIENT_ORDER_PATH, costs={c.ORDER_CANCEL: 1}, query=query)
            except OutcomeUnknown as exc:
                raise NetworkError(exc.message) from exc
            except UnknownOrder:
                if attempts == 1:
                    raise

        await self.with_retries(once)

    async def cancel_all(self, symbol: str) -> None:
        async def once() -> None:
            try:
                await self.request(
                    "DELETE",
                    c.ORDERS_PATH,
                    costs={c.ORDER_CANCEL: 1},
                    query=[("symbol", _segment(symbol, "symbol"))],
                )
            except OutcomeUnknown as exc:  # cancelling everything twice is harmless
                raise NetworkError(exc.message) from exc

        await self.with_retries(once)

    async def open_orders(self, symbol: str) -> list[OrderReport]:
        query = [("symbol", _segment(symbol, "symbol")), ("status", c.STATUS_INCOMPLETE)]
        return [parse_order_row(row) for row in await self._paged_rows(c.ORDERS_PATH, c.ORDER_READ, query)]

    async def account_open_orders(self) -> list[OrderReport]:
        """Every open order of the account, all symbols (paged): one read for a whole resume."""
        query = [("status", c.STATUS_INCOMPLETE)]
        return [parse_order_row(row) for row in await self._paged_rows(c.ORDERS_PATH, c.ORDER_READ, query)]

    async def account_orders_since(self, start_ms: int) -> list[OrderReport]:
        """Every order of the account created at or after `start_ms`, any status, all symbols."""
        query = [("start_t", start_ms)]
        return [parse_order_row(row) for row in await self._paged_rows(c.ORDERS_PATH, c.ORDER_READ, query)]

    async def account_trades(self, start_ms: int) -> list[TradeReport]:
        """Every trade of the account at or after `start_ms`, all symbols (paged)."""
        query = [("start_t", start_ms)]
        return [parse_trade_row(row) for row in await self._paged_rows(c.TRADES_PATH, c.TRADE_READ, query)]

    async def order_by_client_order_id(self, client_order_id: str) -> OrderReport | None:
        """None when the venue says it has no such order (-1006). Nothing else counts as "not found":
        a 400 -1000 is a path the venue does not know, not an order it never saw."""
        try:
            path = f"{c.CLIENT_ORDER_PATH}/{check_client_order_id(client_order_id)}"
            data = await self.get(path, c.ORDER_READ)
        except UnknownOrder:
            return None
        return parse_order_row(data) if isinstance(data, dict) else None

    async def order_by_id(self, order_id: str) -> OrderReport:
        data = await self.get(f"{c.ORDER_PATH}/{_segment(order_id, 'order_id')}", c.ORDER_READ)
        if not isinstance(data, dict):
            raise ProtocolError(f"GET /v1/order/{order_id}: no data")
        return parse_order_row(data)

    async def order_trades(self, order_id: str) -> list[TradeReport]:
        data = await self.get(f"{c.ORDER_PATH}/{_segment(order_id, 'order_id')}/trades", c.TRADE_READ)
        rows = data.get("rows", []) if isinstance(data, dict) else []
        return [parse_trade_row(row) for row in rows]

    async def trades(self, symbol: str, start_ms: int) -> list[TradeReport]:
        query = [("symbol", _segment(symbol, "symbol")), ("start_t", start_ms)]
        return [parse_trade_row(row) for row in await self._paged_rows(c.TRADES_PATH, c.TRADE_READ, query)]

    async def positions(self) -> dict[str, Decimal]:
        return {report.symbol: report.quantity for report in await self.position_reports()}

    async def position_reports(self) -> list[PositionReport]:
        data = await self.get(c.POSITIONS_PATH, c.POSITION_READ)
        if not isinstance(data, dict):
            raise ProtocolError("GET /v1/positions: no data")
        return parse_position_reports(data)
