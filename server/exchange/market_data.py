"""Symbol rules and mark prices, cached: the catalog is reloaded after `rules_ttl_ms`, a mark price is
served from the public stream while fresh and fetched over REST otherwise."""

from __future__ import annotations

from decimal import Decimal

from engine.market import MarketRules
from server.exchange.clock import monotonic_ms
from server.exchange.config import OrderlyConfig
from server.exchange.models import SymbolInfo
from server.exchange.rest import OrderlyRestClient
from server.exchange.symbols import SymbolError, resolve_symbol


class MarketData:
    def __init__(self, rest: OrderlyRestClient, config: OrderlyConfig) -> None:
        self._rest = rest
        self._config = config
        self._catalog: dict[str, SymbolInfo] = {}
        self._catalog_loaded_ms = -(10**15)
        self._mark_prices: dict[str, tuple[Decimal, int]] = {}

    def _catalog_expired(self) -> bool:
        return monotonic_ms() - self._catalog_loaded_ms >= self._config.rules_ttl_ms

    async def refresh_catalog(self) -> None:
        self._catalog = await self._rest.symbol_catalog()
        self._catalog_loaded_ms = monotonic_ms()

    async def symbol_info(self, symbol: str) -> SymbolInfo:
        if self._catalog_expired() or symbol not in self._catalog:  # a new listing needs no restart
            await self.refresh_catalog()
        info = self._catalog.get(symbol)
        if info is None:
            raise SymbolError(f"symbol: {symbol} is not listed by the venue")
        return info

    async def resolve_symbol(self, ticker: str) -> str:
        if self._catalog_expired():
            await self.refresh_catalog()
        return resolve_symbol(ticker, self._catalog)

    async def market_rules(self, symbol: str) -> MarketRules:
        return (await self.symbol_info(symbol)).rules

    def on_mark_price(self, symbol: str, price: Decimal) -> None:
        self._mark_prices[symbol] = (price, monotonic_ms())

    async def mark_price(self, symbol: str) -> Decimal:
        cached = self._mark_prices.get(symbol)
        if cached is not None and monotonic_ms() - cached[1] <= self._config.mark_price_max_age_ms:
            return cached[0]
        price = await self._rest.mark_price(symbol)
        self.on_mark_price(symbol, price)
        return price
