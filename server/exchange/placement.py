"""Placing orders without ever doubling one.

A placement is re-sent only when the venue has proved it did not place it (429, -1011/-1012 at HTTP
400). When the outcome is ambiguous (HTTP 5xx, timeout, connection reset) the order is looked up by its
client_order_id: found means placed; not found after a 5xx *answer* means not placed (re-send is safe);
not found after *no* answer stays OutcomeUnknown, because the request may still be in flight.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import structlog

from engine.commands import OrderType, PlaceOrder
from server.exchange import constants as c
from server.exchange.config import OrderlyConfig
from server.exchange.errors import (
    DuplicateOrder,
    ExchangeError,
    InvalidRequest,
    OutcomeUnknown,
    RateLimited,
    ServerError,
    error_from_response,
    parse_code,
)
from server.exchange.models import OrderReport, PlacementAck, PlacementFailure, PlacementResult
from server.exchange.parsing import to_id
from server.exchange.rest import OrderlyRestClient, check_client_order_id

log = structlog.get_logger(__name__)


def order_body(symbol: str, order: PlaceOrder) -> dict[str, Any]:
    cid = check_client_order_id(order.client_order_id)
    if order.quantity <= 0:
        raise ValueError(f"quantity: must be positive, got {order.quantity}")
    body: dict[str, Any] = {
        "symbol": symbol,
        "client_order_id": cid,
        "order_type": order.order_type.value,
        "side": order.side.value,
        "order_quantity": order.quantity,
    }
    if order.order_type is not OrderType.MARKET:
        if order.price is None or order.price <= 0:
            raise ValueError(f"price: a {order.order_type.value} order needs a positive price")
        body["order_price"] = order.price
    if order.reduce_only:
        body["reduce_only"] = True
    return body


def _proves_not_placed(exc: ExchangeError) -> bool:
    return isinstance(exc, RateLimited) or (isinstance(exc, ServerError) and (exc.http_status or 500) < 500)


def _ambiguous(exc: ExchangeError) -> bool:
    return isinstance(exc, OutcomeUnknown) or (
        isinstance(exc, ServerError) and (exc.http_status or 500) >= 500
    )


class Placer:
    def __init__(
        self,
        rest: OrderlyRestClient,
        config: OrderlyConfig,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._rest = rest
        self._config = config
        self._sleep = sleep
        self.resolved_by_lookup = 0  # ambiguous placements settled by a client_order_id look-up

    async def _backoff(self, attempt: int) -> None:
        delay_ms = min(self._config.retry_max_ms, self._config.retry_base_ms * 2**attempt)
        await self._sleep(delay_ms / 1000)

    @staticmethod
    def _ack_from(report: OrderReport) -> PlacementAck:
        """A look-up found the order: placed, unless the venue rejected it on arrival."""
        if report.status == c.STATUS_REJECTED:
            raise ExchangeError(f"placement of {report.client_order_id}: the venue rejected the order")
        return PlacementAck(report.client_order_id, report.order_id)

    async def _open_order_with(self, cid: str, order: PlaceOrder) -> PlacementAck | None:
        """The venue's open order carrying `cid`, if it is this very order (same side, price, size)."""
        try:
            report = await self._rest.order_by_client_order_id(cid)
        except ExchangeError:
            return None
        if report is None or report.status not in c.OPEN_STATUSES:
            return None
        same_price = order.price is None or report.price == order.price
        if report.side is not order.side or report.quantity != order.quantity or not same_price:
            return None
        return PlacementAck(cid, report.order_id)

    async def resolve(self, client_order_id: str) -> OrderReport | None:
        """Look the order up a few times (a late request may still land); None = never seen."""
        for attempt in range(self._config.resolve_attempts):
            try:
                report = await self._rest.order_by_client_order_id(client_order_id)
            except ExchangeError as exc:
                log.warning("placement_lookup_failed", client_order_id=client_order_id, error=str(exc))
                report = None
            if report is not None:
                self.resolved_by_lookup += 1
                return report
            if attempt + 1 < self._config.resolve_attempts:
                await self._sleep(self._config.resolve_interval_ms / 1000)
        return None

    async def place_one(self, symbol: str, order: PlaceOrder) -> PlacementAck:
        body = order_body(symbol, order)
        cid = order.client_order_id
        last: ExchangeError | None = None
        for attempt in range(self._config.max_place_attempts):
            try:
                data = await self._rest.create_order(body)
            except (DuplicateOrder, InvalidRequest) as exc:
                # An earlier attempt (or an earlier run) may already have placed this client_order_id;
                # which code the venue uses for a duplicate open id is unconfirmed (-1007 or -1005).
                existing = await self._open_order_with(cid, order)
                if existing is None:
                    raise exc from None
                return existing
            except ExchangeError as exc:
                if _proves_not_placed(exc):
                    last = exc
                    await self._backoff(attempt)
                    continue
                if not _ambiguous(exc):
                    raise
                report = await self.resolve(cid)
                if report is not None:
                    return self._ack_from(report)
                if isinstance(exc, OutcomeUnknown):
                    raise OutcomeUnknown(
                        f"placement of {cid} on {symbol}: no answer and not found by client_order_id",
                        client_order_id=cid,
                        cause=exc.cause,
                    ) from exc
                last = exc  # the venue answered 5xx and has no such order: re-sending is safe
                await self._backoff(attempt)
                continue
            order_id = to_id(data.get("order_id"))
            if not order_id:
                raise ExchangeError(f"placement of {cid}: the venue returned no order_id")
            return PlacementAck(cid, order_id)
        assert last is not None
        raise last

    async def place_many(self, symbol: str, orders: Sequence[PlaceOrder]) -> list[PlacementResult]:
        """Batches of <= 10; reduce-only orders go singly (the batch endpoint ignores reduce_only)."""
        results: dict[str, PlacementResult] = {}
        batchable: list[PlaceOrder] = []
        for order in orders:
            if order.reduce_only:
                results[order.client_order_id] = await self._single_result(symbol, order)
            else:
                batchable.append(order)
        for start in range(0, len(batchable), c.MAX_BATCH_ORDERS):
            chunk = batchable[start : start + c.MAX_BATCH_ORDERS]
            results.update(await self._place_chunk(symbol, chunk))
        return [results[order.client_order_id] for order in orders]

    async def _single_result(self, symbol: str, order: PlaceOrder) -> PlacementResult:
        try:
            return await self.place_one(symbol, order)
        except (ExchangeError, ValueError) as exc:
            return PlacementFailure(order.client_order_id, exc)

    async def _place_chunk(self, symbol: str, chunk: Sequence[PlaceOrder]) -> dict[str, PlacementResult]:
        bodies = []
        results: dict[str, PlacementResult] = {}
        valid: list[PlaceOrder] = []
        for order in chunk:
            try:
                bodies.append(order_body(symbol, order))
                valid.append(order)
            except ValueError as exc:
                results[order.client_order_id] = PlacementFailure(order.client_order_id, exc)
        if not valid:
            return results
        for attempt in range(self._config.max_place_attempts):
            try:
                rows = await self._rest.create_orders(bodies)
            except ExchangeError as exc:
                if _proves_not_placed(exc) and attempt + 1 < self._config.max_place_attempts:
                    await self._backoff(attempt)
                    continue
                # Ambiguous or a whole-batch rejection: settle each order on its own (look-up first).
                for order in valid:
                    results[order.client_order_id] = await self._settle_single(symbol, order, exc)
                return results
            results.update(self._rows_to_results(valid, rows))
            return results
        raise AssertionError("unreachable")  # pragma: no cover

    async def _settle_single(self, symbol: str, order: PlaceOrder, cause: ExchangeError) -> PlacementResult:
        if _ambiguous(cause):
            report = await self.resolve(order.client_order_id)
            if report is not None:
                try:
                    return self._ack_from(report)
                except ExchangeError as exc:
                    return PlacementFailure(order.client_order_id, exc)
            if isinstance(cause, OutcomeUnknown):
                return PlacementFailure(
                    order.client_order_id,
                    OutcomeUnknown("batch placement: no answer", client_order_id=order.client_order_id),
                )
        return await self._single_result(symbol, order)

    @staticmethod
    def _rows_to_results(
        orders: Sequence[PlaceOrder], rows: Sequence[Mapping[str, Any]]
    ) -> dict[str, PlacementResult]:
        by_cid = {to_id(row.get("client_order_id")): row for row in rows if isinstance(row, Mapping)}
        results: dict[str, PlacementResult] = {}
        for index, order in enumerate(orders):
            cid = order.client_order_id
            row = by_cid.get(cid) or (rows[index] if index < len(rows) else None)
            if row is None:
                results[cid] = PlacementFailure(cid, ExchangeError("batch placement: no row for this order"))
                continue
            message = str(row.get("error_message") or "none")
            order_id = to_id(row.get("order_id"))
            if message.lower() in ("none", "") and order_id:
                results[cid] = PlacementAck(cid, order_id)
            else:
                code = parse_code(row.get("error_code", row.get("code")))
                error = error_from_response(400, code, f"batch placement: {message}")
                results[cid] = PlacementFailure(cid, error)
        return results
