"""Exchange trading rules for one symbol, as the engine needs them."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class MarketRules:
    """Orderly's `/v1/public/info/{symbol}` rules, already parsed into Decimals.

    `quote_min`/`quote_max` of zero mean "no bound" (the venue reports 0 when it has none).
    `price_scope`: the venue accepts a buy down to mark * (1 - price_scope) and a sell up to
    mark * (1 + price_scope); zero means unknown (not checked).
    """

    symbol: str
    quote_tick: Decimal
    base_tick: Decimal
    base_min: Decimal
    base_max: Decimal
    min_notional: Decimal
    quote_min: Decimal = Decimal(0)
    quote_max: Decimal = Decimal(0)
    price_scope: Decimal = Decimal(0)

    def order_price_window(self, mark: Decimal) -> tuple[Decimal, Decimal]:
        """The lowest and highest price a grid order (buys below the mark, sells above it) may have
        when the mark is `mark`, by price_scope and quote_min/quote_max (0 = no bound)."""
        low = mark * (1 - self.price_scope) if self.price_scope > 0 else Decimal(0)
        high = mark * (1 + self.price_scope) if self.price_scope > 0 else Decimal(0)
        if self.quote_min > 0:
            low = max(low, self.quote_min)
        if self.quote_max > 0:
            high = min(high, self.quote_max) if high > 0 else self.quote_max
        return low, high
