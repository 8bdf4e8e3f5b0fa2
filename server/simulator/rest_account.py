"""Public market routes and private account routes (positions, holding, client info)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from server.simulator.accounts import position_row
from server.simulator.catalog import CATALOG
from server.simulator.context import SimContext
from server.simulator.orders import ZERO, VenueError
from server.simulator.rest_app import NO_DATA, ApiRequest, Route
from server.simulator.rules import symbol_rules


async def public_info(ctx: SimContext, req: ApiRequest) -> Any:
    return {"rows": [rules.to_row() for rules in CATALOG.values()]}


async def public_info_symbol(ctx: SimContext, req: ApiRequest) -> Any:
    return symbol_rules(req.path_params["symbol"]).to_row()


def _futures_row(ctx: SimContext, symbol: str) -> dict[str, Any]:
    mark = ctx.venue.marks[symbol]
    return {
        "symbol": symbol,
        "index_price": mark,
        "mark_price": mark,
        "sum_unitary_funding": ZERO,
        "est_funding_rate": ctx.config.funding_rate,
        "last_funding_rate": ctx.config.funding_rate,
        "next_funding_time": ctx.next_funding_ms,
        "open_interest": ZERO,
        "24h_open": mark,
        "24h_close": mark,
        "24h_high": mark,
        "24h_low": mark,
        "24h_amount": ZERO,
        "24h_volume": ZERO,
    }


async def public_futures(ctx: SimContext, req: ApiRequest) -> Any:
    return {"rows": [_futures_row(ctx, symbol) for symbol in CATALOG]}


async def public_futures_symbol(ctx: SimContext, req: ApiRequest) -> Any:
    symbol = req.path_params["symbol"]
    # Orderly answers an unknown symbol with a success envelope that has no data key.
    return _futures_row(ctx, symbol) if symbol in CATALOG else NO_DATA


async def system_info(ctx: SimContext, req: ApiRequest) -> Any:
    return {"status": 0, "msg": "System is functioning properly.", "scheduled_maintenance": None}


async def positions(ctx: SimContext, req: ApiRequest) -> Any:
    account = ctx.accounts.accounts[req.account_id]
    margin = ctx.venue.margin(req.account_id)
    leverage = ctx.config.leverage
    now = ctx.clock.now_ms()
    rows = [
        position_row(p, ctx.venue.marks[p.symbol], leverage, now)
        for p in account.positions.values()
        if p.quantity != 0 or p.updated_ms
    ]
    total = margin["total_collateral_value"]
    ratio = total / margin["position_margin"] / leverage if margin["position_margin"] else Decimal(10)
    return {
        "current_margin_ratio_with_orders": ratio,
        "free_collateral": margin["free_collateral"],
        "initial_margin_ratio": Decimal(1) / leverage,
        "initial_margin_ratio_with_orders": Decimal(1) / leverage,
        "maintenance_margin_ratio": Decimal("0.05"),
        "maintenance_margin_ratio_with_orders": Decimal("0.05"),
        "margin_ratio": ratio,
        "open_margin_ratio": ratio,
        "total_collateral_value": total,
        "total_pnl_24_h": sum((p.realized_pnl for p in account.positions.values()), ZERO),
        "account_value": total,
        "rows": rows,
    }


async def position(ctx: SimContext, req: ApiRequest) -> Any:
    symbol = symbol_rules(req.path_params["symbol"]).symbol
    account = ctx.accounts.accounts[req.account_id]
    return position_row(
        account.position(symbol), ctx.venue.marks[symbol], ctx.config.leverage, ctx.clock.now_ms()
    )


async def holding(ctx: SimContext, req: ApiRequest) -> Any:
    account = ctx.accounts.accounts[req.account_id]
    margin = ctx.venue.margin(req.account_id)
    row = {
        "updated_time": ctx.clock.now_ms(),
        "token": "USDC",
        "holding": account.collateral,
        "frozen": margin["orders_margin"],
        "pending_short": ZERO,
        "isolated_margin": ZERO,
        "isolated_order_frozen": ZERO,
    }
    return {"holding": [row]}


async def client_info(ctx: SimContext, req: ApiRequest) -> Any:
    # Fee rates are in basis points on the wire.
    maker_bps = ctx.config.maker_fee_rate * 10_000
    taker_bps = ctx.config.taker_fee_rate * 10_000
    if req.account_id not in ctx.accounts.accounts:
        raise VenueError(-1006, "account not found")
    return {
        "account_id": req.account_id,
        "email": "",
        "account_mode": "FUTURES",
        "max_leverage": ctx.config.leverage,
        "taker_fee_rate": taker_bps,
        "maker_fee_rate": maker_bps,
        "futures_taker_fee_rate": taker_bps,
        "futures_maker_fee_rate": maker_bps,
        "rwa_taker_fee_rate": taker_bps,
        "rwa_maker_fee_rate": maker_bps,
        "maintenance_cancel_orders": True,
        "imr_factor": {symbol: rules.imr_factor for symbol, rules in CATALOG.items()},
        "max_notional": {symbol: Decimal(10_000_000) for symbol in CATALOG},
    }


ACCOUNT_ROUTES = [
    Route("GET", "/v1/public/info", public_info),
    Route("GET", "/v1/public/info/{symbol}", public_info_symbol),
    Route("GET", "/v1/public/futures", public_futures),
    Route("GET", "/v1/public/futures/{symbol}", public_futures_symbol),
    Route("GET", "/v1/public/system_info", system_info),
    Route("GET", "/v1/positions", positions, "positions"),
    Route("GET", "/v1/position/{symbol}", position, "positions"),
    Route("GET", "/v1/client/holding", holding, "holding"),
    Route("GET", "/v1/client/info", client_info, "client_info"),
]
