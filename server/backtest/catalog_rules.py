"""A symbol's market rules for an offline backtest: the simulator's catalog, which mirrors the venue's
/v1/public/info rows for the symbols it lists (the service's BacktestGrid asks the venue instead)."""

from __future__ import annotations

from engine import MarketRules
from server.simulator.catalog import CATALOG


def catalog_rules(symbol: str) -> MarketRules:
    row = CATALOG.get(symbol)
    if row is None:
        raise ValueError(f"symbol: {symbol!r} is not in the catalog; one of {', '.join(sorted(CATALOG))}")
    return MarketRules(
        symbol=row.symbol,
        quote_tick=row.quote_tick,
        base_tick=row.base_tick,
        base_min=row.base_min,
        base_max=row.base_max,
        min_notional=row.min_notional,
        quote_min=row.quote_min,
        quote_max=row.quote_max,
        price_scope=row.price_scope,
    )
