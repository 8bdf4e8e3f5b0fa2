"""The session's PnL ledger, with the definitions traders know from every exchange.

The ledger keeps the net position, the net cost of every trade (signed quantity * price + fee) and the
open position's entry value (signed quantity * average entry price, fees excluded). From those:
- grid_profit: completed round trips, (exit - entry) * quantity * sign, net of both legs' fees;
- realized: PnL of every position-reducing trade against the average entry price (round trips, stop
  closes, flattening, late or orphan trades), minus every fee paid = entry_value - cost;
- unrealized: open position * (mark - average entry price), no fees = position * mark - entry_value;
- total = realized + unrealized + funding = position * mark - cost + funding.
Average cost: a reducing trade keeps the average entry price; a trade that flips the position opens
the remainder at its own price. So a stop that closes the position moves its result into `realized`
and leaves `unrealized` at 0.
"""

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple

from engine.types import ZERO, Side

MS_PER_YEAR = 365 * 24 * 60 * 60 * 1000


def entry_value_after(
    position: Decimal, entry_value: Decimal, signed_quantity: Decimal, value: Decimal
) -> Decimal:
    """The open position's entry value after a trade of `signed_quantity` (buy > 0) worth `value`
    (quantity * price, unsigned)."""
    new_position = position + signed_quantity
    if position == 0 or (position > 0) == (signed_quantity > 0):  # opening or adding: at the trade's price
        return entry_value + (value if signed_quantity > 0 else -value)
    if new_position == 0:
        return ZERO
    if (new_position > 0) == (position > 0):  # reducing: the average entry price stays
        return entry_value * new_position / position
    # Flipping: the old position is closed, the remainder opens at the trade's price.
    return new_position * value / abs(signed_quantity)


class Ledger(NamedTuple):
    position: Decimal = ZERO  # signed base quantity, negative = short
    cost: Decimal = ZERO  # sum of signed quantity * price + fee over every applied trade
    fees: Decimal = ZERO
    realized_grid_profit: Decimal = ZERO  # grid_profit: completed round trips, net of both legs' fees
    round_trips: int = 0
    funding: Decimal = ZERO
    entry_value: Decimal = ZERO  # open position * average entry price (signed, no fees)

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
            entry_value_after(self.position, self.entry_value, quantity if buy else -quantity, value),
        )

    def with_round_trip(self, profit: Decimal) -> Ledger:
        return self._replace(
            realized_grid_profit=self.realized_grid_profit + profit, round_trips=self.round_trips + 1
        )

    @property
    def realized(self) -> Decimal:
        return self.entry_value - self.cost

    @property
    def average_entry_price(self) -> Decimal:
        return ZERO if self.position == 0 else self.entry_value / self.position


class PnlReport(NamedTuple):
    grid_profit: Decimal  # completed round trips, net of both legs' fees
    realized: Decimal  # every position-reducing trade's PnL, minus every fee paid
    fees: Decimal
    unrealized: Decimal  # position * (mark - average entry price)
    funding: Decimal
    total: Decimal  # realized + unrealized + funding
    round_trips: int
    position: Decimal
    average_entry_price: Decimal  # 0 when flat
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
    realized = ledger.realized
    unrealized = ledger.position * mark_price - ledger.entry_value
    total = realized + unrealized + ledger.funding
    return PnlReport(
        grid_profit=ledger.realized_grid_profit,
        realized=realized,
        fees=ledger.fees,
        unrealized=unrealized,
        funding=ledger.funding,
        total=total,
        round_trips=ledger.round_trips,
        position=ledger.position,
        average_entry_price=ledger.average_entry_price,
        grid_apr=annualise(ledger.realized_grid_profit, total_margin, run_time_ms),
        total_apr=annualise(total, total_margin, run_time_ms),
    )
