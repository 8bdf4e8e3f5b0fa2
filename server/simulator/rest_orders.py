"""Private order routes: create (single and batch), cancel (five forms), order and trade queries."""

from __future__ import annotations

from typing import Any

from server.simulator.context import SimContext
from server.simulator.orders import Order, VenueError
from server.simulator.rest_app import ApiRequest, Route
from server.simulator.rules import parse_number, parse_order_request, symbol_rules

STATUS_BUNDLES = {
    "INCOMPLETE": {"NEW", "PARTIAL_FILLED"},
    "COMPLETED": {"CANCELLED", "FILLED"},
}
ORDER_STATUSES = {"NEW", "PARTIAL_FILLED", "FILLED", "CANCELLED", "REJECTED"}
SORTS = {"CREATED_TIME_DESC", "CREATED_TIME_ASC", "UPDATED_TIME_DESC", "UPDATED_TIME_ASC"}
MAX_BATCH = 10


def _ack(order: Order) -> dict[str, Any]:
    return {
        "order_id": order.order_id,
        "client_order_id": order.client_order_id,
        "order_type": order.order_type,
        "order_price": order.price,
        "order_quantity": order.quantity,
        "order_amount": order.amount,
        "error_message": "none",
    }


async def create_order(ctx: SimContext, req: ApiRequest) -> Any:
    order, pushes = ctx.venue.place(req.account_id, parse_order_request(req.body))
    await ctx.hub.publish(pushes)
    return _ack(order)


async def create_batch(ctx: SimContext, req: ApiRequest) -> Any:
    """Up to 10 orders; reduce_only is ignored; each row succeeds or carries its own error."""
    orders = req.body.get("orders") if isinstance(req.body, dict) else None
    if not isinstance(orders, list) or not orders:
        raise VenueError(-1005, "orders must be a non-empty list")
    if len(orders) > MAX_BATCH:
        raise VenueError(-1005, f"orders must hold at most {MAX_BATCH} orders")
    # Every order also counts towards the single-create limit.
    if not ctx.rate_limiter.allow(req.orderly_key, "create", len(orders)):
        raise VenueError(-1003, "Too many requests, please try again later.", 429)
    rows: list[dict[str, Any]] = []
    for item in orders:
        try:
            body = {**item, "reduce_only": False} if isinstance(item, dict) else item
            order, pushes = ctx.venue.place(req.account_id, parse_order_request(body))
        except VenueError as exc:
            client_order_id = item.get("client_order_id") if isinstance(item, dict) else None
            rows.append(
                {
                    "order_id": None,
                    "client_order_id": client_order_id,
                    "error_code": exc.code,
                    "error_message": exc.message,
                }
            )
            continue
        await ctx.hub.publish(pushes)
        rows.append(_ack(order))
    return {"rows": rows}


async def edit_order(ctx: SimContext, req: ApiRequest) -> Any:
    body = req.body if isinstance(req.body, dict) else {}
    try:
        order_id = int(str(body.get("order_id")))
    except ValueError as exc:
        raise VenueError(-1005, "order_id is required and must be an integer") from exc
    order = ctx.venue.find_order(req.account_id, order_id)
    if body.get("symbol") != order.symbol or body.get("side") != order.side:
        raise VenueError(-1005, "symbol and side must match the order being edited")
    quantity = parse_number(body, "order_quantity")
    pushes = ctx.venue.edit(
        req.account_id, order, parse_number(body, "order_price"), quantity or order.quantity
    )
    await ctx.hub.publish(pushes)
    return {"status": "EDIT_SENT"}


def _int_param(req: ApiRequest, name: str, default: int | None = None) -> int:
    value = req.query.get(name)
    if value is None or value == "":
        if default is None:
            raise VenueError(-1005, f"{name} is required")
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise VenueError(-1005, f"{name} must be an integer") from exc


def _symbol_param(req: ApiRequest, required: bool) -> str | None:
    symbol = req.query.get("symbol")
    if not symbol:
        if required:
            raise VenueError(-1005, "symbol is required")
        return None
    return symbol_rules(symbol).symbol


async def _cancel_one(ctx: SimContext, req: ApiRequest, order: Order, symbol: str | None, what: str) -> Any:
    """Cancel `order` (described as `what` when it is not on the requested `symbol`)."""
    if order.symbol != symbol:
        raise VenueError(-1006, f"{what} not found for {symbol}")
    await ctx.hub.publish(ctx.venue.cancel(req.account_id, order))
    return {"status": "CANCEL_SENT"}


async def cancel_order(ctx: SimContext, req: ApiRequest) -> Any:
    order_id = _int_param(req, "order_id")
    symbol = _symbol_param(req, required=True)
    order = ctx.venue.find_order(req.account_id, order_id)
    return await _cancel_one(ctx, req, order, symbol, f"order {order_id}")


async def cancel_client_order(ctx: SimContext, req: ApiRequest) -> Any:
    client_order_id = req.query.get("client_order_id")
    if not client_order_id:
        raise VenueError(-1005, "client_order_id is required")
    symbol = _symbol_param(req, required=True)
    order = ctx.venue.find_by_client_order_id(req.account_id, client_order_id)
    return await _cancel_one(ctx, req, order, symbol, f"order with client_order_id {client_order_id}")


async def cancel_all(ctx: SimContext, req: ApiRequest) -> Any:
    _, pushes = ctx.venue.cancel_all(req.account_id, _symbol_param(req, required=False))
    await ctx.hub.publish(pushes)
    return {"status": "CANCEL_ALL_SENT"}


def _id_list(req: ApiRequest, name: str) -> list[str]:
    ids = [part for part in req.query.get(name, "").split(",") if part]
    if not ids:
        raise VenueError(-1005, f"{name} is required")
    if len(ids) > MAX_BATCH:
        raise VenueError(-1005, f"{name} must hold at most {MAX_BATCH} ids")
    return ids


async def _cancel_many(ctx: SimContext, req: ApiRequest, orders: list[Order]) -> Any:
    open_orders = [order for order in orders if order.is_open]
    if not open_orders:
        raise VenueError(-1006, "none of the given orders is open")
    for order in open_orders:
        await ctx.hub.publish(ctx.venue.cancel(req.account_id, order))
    return {"status": "CANCEL_ALL_SENT"}


async def cancel_batch(ctx: SimContext, req: ApiRequest) -> Any:
    orders: list[Order] = []
    for text in _id_list(req, "order_ids"):
        try:
            orders.append(ctx.venue.find_order(req.account_id, int(text)))
        except (ValueError, VenueError):
            continue  # unknown ids are skipped, as long as one is valid
    return await _cancel_many(ctx, req, orders)


async def cancel_client_batch(ctx: SimContext, req: ApiRequest) -> Any:
    orders: list[Order] = []
    for text in _id_list(req, "client_order_ids"):
        try:
            orders.append(ctx.venue.find_by_client_order_id(req.account_id, text))
        except VenueError:
            continue
    return await _cancel_many(ctx, req, orders)


def _page(req: ApiRequest, rows: list[dict[str, Any]]) -> dict[str, Any]:
    page = _int_param(req, "page", 1)
    size = _int_param(req, "size", 25)
    if page < 1:
        raise VenueError(-1005, "page must be >= 1")
    if not 1 <= size <= 500:
        raise VenueError(-1005, "size must be within [1, 500]")
    start = (page - 1) * size
    return {
        "meta": {"total": len(rows), "records_per_page": size, "current_page": page},
        "rows": rows[start : start + size],
    }


async def list_orders(ctx: SimContext, req: ApiRequest) -> Any:
    symbol = _symbol_param(req, required=False)
    status = req.query.get("status")
    if status and status not in STATUS_BUNDLES and status not in ORDER_STATUSES:
        raise VenueError(
            -1005,
            "status must be one of NEW, PARTIAL_FILLED, FILLED, CANCELLED, REJECTED, INCOMPLETE, COMPLETED",
        )
    statuses = STATUS_BUNDLES.get(status or "", {status} if status else None)
    sort_by = req.query.get("sort_by") or "CREATED_TIME_DESC"
    if sort_by not in SORTS:
        raise VenueError(-1005, f"sort_by must be one of {', '.join(sorted(SORTS))}")
    start_t, end_t = _int_param(req, "start_t", 0), _int_param(req, "end_t", 2**62)
    side, order_type = req.query.get("side"), req.query.get("order_type")
    orders = [
        o
        for o in ctx.venue.account_orders(req.account_id)
        if (symbol is None or o.symbol == symbol)
        and (statuses is None or o.status in statuses)
        and (not side or o.side == side)
        and (not order_type or o.order_type == order_type)
        and start_t <= o.created_ms <= end_t
    ]
    by_updated = sort_by.startswith("UPDATED")
    orders.sort(key=lambda o: (o.updated_ms if by_updated else o.created_ms, o.order_id))
    if sort_by.endswith("DESC"):
        orders.reverse()
    return _page(req, [o.to_row() for o in orders])


def _path_order(ctx: SimContext, req: ApiRequest) -> Order:
    try:
        order_id = int(req.path_params["order_id"])
    except ValueError as exc:
        raise VenueError(-1005, "order_id must be an integer") from exc
    return ctx.venue.find_order(req.account_id, order_id)


async def get_order(ctx: SimContext, req: ApiRequest) -> Any:
    return _path_order(ctx, req).to_row()


async def get_client_order(ctx: SimContext, req: ApiRequest) -> Any:
    return ctx.venue.find_by_client_order_id(req.account_id, req.path_params["client_order_id"]).to_row()


async def list_trades(ctx: SimContext, req: ApiRequest) -> Any:
    symbol = _symbol_param(req, required=False)
    start_t, end_t = _int_param(req, "start_t", 0), _int_param(req, "end_t", 2**62)
    fills = [
        f
        for f in ctx.venue.fills
        if f.account_id == req.account_id
        and (symbol is None or f.symbol == symbol)
        and start_t <= f.timestamp_ms <= end_t
    ]
    fills.sort(key=lambda f: (f.timestamp_ms, f.trade_id), reverse=True)
    return _page(req, [f.to_row() for f in fills])


async def get_trade(ctx: SimContext, req: ApiRequest) -> Any:
    for fill in ctx.venue.fills:
        if str(fill.trade_id) == req.path_params["trade_id"] and fill.account_id == req.account_id:
            return fill.to_row()
    raise VenueError(-1006, f"trade {req.path_params['trade_id']} not found")


async def order_trades(ctx: SimContext, req: ApiRequest) -> Any:
    return {"rows": [f.to_row() for f in _path_order(ctx, req).fills]}


ORDER_ROUTES = [
    Route("POST", "/v1/order", create_order, "create", "trading"),
    Route("POST", "/v1/batch-order", create_batch, "batch_create", "trading"),
    Route("PUT", "/v1/order", edit_order, "edit", "trading"),
    Route("DELETE", "/v1/order", cancel_order, "cancel", "trading"),
    Route("DELETE", "/v1/client/order", cancel_client_order, "cancel", "trading"),
    Route("DELETE", "/v1/orders", cancel_all, "cancel_all", "trading"),
    Route("DELETE", "/v1/batch-order", cancel_batch, "cancel_batch", "trading"),
    Route("DELETE", "/v1/client/batch-order", cancel_client_batch, "cancel_batch", "trading"),
    Route("GET", "/v1/orders", list_orders, "orders"),
    Route("GET", "/v1/order/{order_id}", get_order, "orders"),
    Route("GET", "/v1/client/order/{client_order_id}", get_client_order, "orders"),
    Route("GET", "/v1/trades", list_trades, "trades"),
    Route("GET", "/v1/order/{order_id}/trades", order_trades, "trades"),
    Route("GET", "/v1/trade/{trade_id}", get_trade, "trades"),
]
