"""The session's PnL ledger.

The ledger keeps the net position and the net cost of every trade (signed quantity * price + fee),
so the session's trading PnL at a mark is exactly position * mark - cost. Round trips are booked into
`realized_grid_profit` as cells complete them; `unrealized` is everything not yet booked as a round trip,
valued at the mark (open inventory, the entry fees already paid on it, a closing order's result,
late trades). So total = realized + unrealized + funding holds by construction, and an unrealized
figure that no longer moves with the mark (position 0) is what a stop's close locked in.
"""

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple

from engine.types import ZERO, Side

MS_PER_YEAR = 365 * 24 * 60 * 60 * 1000


class Ledger(NamedTuple):
    position: Decimal = ZERO  # signed base quantity, negative = short
    cost: Decimal = ZERO  # sum of signed quantity * price + fee over every applied trade
    fees: Decimal = ZERO
    realized_grid_profit: Decimal = ZERO
    round_trips: int = 0
    funding: Decimal = ZERO

    def with_trade(self, side: Side, price: Decimal, quantity: Decimal, fee: Decimal) -> Ledger:
        return self.with_value(side, quantity, quantity * price, fee)

    def with_value(self, side: Side, quantity: Decimal, value: Decimal, fee: Decimal) -> Ledger:
        """`with_trade` for a trade whose value (quantity * price) is already known."""
        buy = side is Side.BUY
        return Ledger(
            self.position + quantity if buy else self.position - quantity,
            self.cost + value + fee if buy else self.cost - value + fee,
            self.fees + fee,
            self.realized_grid_profit,
            self.round_trips,
            self.funding,
        )

    def with_round_trip(self, profit: Decimal) -> Ledger:
        return Ledger(
            self.position,
            self.cost,
            self.fees,
            self.realized_grid_profit + profit,
            self.round_trips + 1,
            self.funding,
        )


class PnlReport(NamedTuple):
    realized_grid_profit: Decimal
    fees: Decimal
    unrealized: Decimal
    funding: Decimal
    total: Decimal
    round_trips: int
    position: Decimal
    grid_apr: Decimal  # fractions (0.12 = 12 % a year), relative to total_margin
    total_apr: Decimal


def round_trip_profit(entry_side: Side, entry_value: Decimal, exit_value: Decimal, fees: Decimal) -> Decimal:
    """quantity * (exit - entry) * sign - both legs' fees, from the legs' values (quantity * price)."""
    gross = exit_value - entry_value if entry_side is Side.BUY else entry_value - exit_value
    return gross - fees


def annualise(amount: Decimal, total_margin: Decimal, run_time_ms: int) -> Decimal:
    if run_time_ms <= 0 or total_margin <= 0:
        return ZERO
    return amount / total_margin * MS_PER_YEAR / run_time_ms


def ledger_report(ledger: Ledger, total_margin: Decimal, mark_price: Decimal, run_time_ms: int) -> PnlReport:
    trading = ledger.position * mark_price - ledger.cost
    unrealized = trading - ledger.realized_grid_profit
    total = trading + ledger.funding
    return PnlReport(
        realized_grid_profit=ledger.realized_grid_profit,
        fees=ledger.fees,
        unrealized=unrealized,
        funding=ledger.funding,
        total=total,
        round_trips=ledger.round_trips,
        position=ledger.position,
        grid_apr=annualise(ledger.realized_grid_profit, total_margin, run_time_ms),
        total_apr=annualise(total, total_margin, run_time_ms),
    )
