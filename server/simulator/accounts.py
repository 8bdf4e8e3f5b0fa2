"""Simulated accounts: registered orderly keys, USDC collateral, positions, margin."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from server.simulator.orders import ZERO, Order
from server.simulator.signing import generate_keypair


@dataclass(frozen=True)
class SimAccount:
    """What a client needs to trade on the simulator."""

    account_id: str
    orderly_key: str
    orderly_secret: str

    def to_json(self) -> dict[str, str]:
        return {
            "account_id": self.account_id,
            "orderly_key": self.orderly_key,
            "orderly_secret": self.orderly_secret,
        }


@dataclass
class Position:
    symbol: str
    quantity: Decimal = ZERO  # signed; < 0 is short
    average_open_price: Decimal = ZERO
    fee_total: Decimal = ZERO
    realized_pnl: Decimal = ZERO
    funding_total: Decimal = ZERO  # paid (> 0) or received (< 0)
    updated_ms: int = 0

    @property
    def cost_position(self) -> Decimal:
        return self.quantity * self.average_open_price

    def apply_fill(self, side: str, quantity: Decimal, price: Decimal) -> Decimal:
        """Books a fill; returns the realized PnL of the part that reduced the position."""
        signed = quantity if side == "BUY" else -quantity
        realized = ZERO
        if self.quantity == 0 or (self.quantity > 0) == (signed > 0):
            new_quantity = self.quantity + signed
            self.average_open_price = (
                self.quantity * self.average_open_price + signed * price
            ) / new_quantity
            self.quantity = new_quantity
            return realized
        closing = min(abs(signed), abs(self.quantity))
        direction = Decimal(1) if self.quantity > 0 else Decimal(-1)
        realized = closing * (price - self.average_open_price) * direction
        if abs(signed) <= abs(self.quantity):
            self.quantity += signed
            if self.quantity == 0:
                self.average_open_price = ZERO
        else:  # flipped: the rest opens a new position at this price
            remainder = abs(signed) - closing
            self.quantity = remainder if signed > 0 else -remainder
            self.average_open_price = price
        self.realized_pnl += realized
        return realized

    def unrealized_pnl(self, mark: Decimal) -> Decimal:
        return self.quantity * (mark - self.average_open_price)


@dataclass
class Account:
    account_id: str
    keys: dict[str, str]  # orderly_key -> scope
    collateral: Decimal
    positions: dict[str, Position] = field(default_factory=dict)

    def position(self, symbol: str) -> Position:
        return self.positions.setdefault(symbol, Position(symbol))


class AccountBook:
    """All accounts and their keys; keys are generated from the run's seed so runs repeat."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(f"orderly-sim-accounts:{seed}")
        self.accounts: dict[str, Account] = {}
        self.secrets: dict[str, SimAccount] = {}

    def create(self, collateral: Decimal, scope: str = "read,trading") -> SimAccount:
        account_id = "0x" + self._rng.randbytes(32).hex()
        keys = generate_keypair(self._rng)
        self.accounts[account_id] = Account(account_id, {keys.orderly_key: scope}, collateral)
        sim_account = SimAccount(account_id, keys.orderly_key, keys.orderly_secret)
        self.secrets[account_id] = sim_account
        return sim_account

    def reseed(self, salt: str) -> None:
        """A new key stream: a restored book (server.simulator.state_file) must not generate again
        the accounts it already holds."""
        self._rng = random.Random(f"orderly-sim-accounts:{salt}:{len(self.accounts)}")

    def get(self, account_id: str) -> Account | None:
        return self.accounts.get(account_id)


def order_margin(orders: list[Order], marks: dict[str, Decimal], leverage: int) -> Decimal:
    """Initial margin held by open orders that can add exposure."""
    total = ZERO
    for order in orders:
        if order.is_open and not order.reduce_only:
            price = order.price if order.price is not None else marks[order.symbol]
            total += order.remaining * price / leverage
    return total


def margin_summary(
    account: Account, open_orders: list[Order], marks: dict[str, Decimal], leverage: int
) -> dict[str, Decimal]:
    unrealized = sum((p.unrealized_pnl(marks[p.symbol]) for p in account.positions.values()), ZERO)
    position_margin = sum(
        (abs(p.quantity) * marks[p.symbol] / leverage for p in account.positions.values()), ZERO
    )
    orders_margin = order_margin(open_orders, marks, leverage)
    total_collateral = account.collateral + unrealized
    return {
        "total_collateral_value": total_collateral,
        "free_collateral": total_collateral - position_margin - orders_margin,
        "position_margin": position_margin,
        "orders_margin": orders_margin,
        "unrealized_pnl": unrealized,
    }


def position_row(position: Position, mark: Decimal, leverage: int, timestamp_ms: int) -> dict[str, Any]:
    return {
        "symbol": position.symbol,
        "position_qty": position.quantity,
        "cost_position": position.cost_position,
        "average_open_price": position.average_open_price,
        "mark_price": mark,
        "est_liq_price": ZERO,
        "unsettled_pnl": position.unrealized_pnl(mark),
        "settle_price": position.average_open_price,
        "last_sum_unitary_funding": ZERO,
        "pending_long_qty": ZERO,
        "pending_short_qty": ZERO,
        "fee_24_h": position.fee_total,
        "pnl_24_h": position.realized_pnl,
        "imr": Decimal(1) / leverage,
        "mmr": Decimal("0.05"),
        "IMR_withdraw_orders": Decimal(1) / leverage,
        "MMR_with_orders": Decimal("0.05"),
        "seq": position.updated_ms,
        "timestamp": position.updated_ms,
        "updated_time": position.updated_ms,
        "leverage": leverage,
        "margin_mode": "CROSS",
        "margin": ZERO,
        "accrued_funding_fee": position.funding_total,
    }


def position_push(position: Position, mark: Decimal, leverage: int) -> dict[str, Any]:
    """One row of the `position` topic (camelCase, except updated_time)."""
    return {
        "symbol": position.symbol,
        "positionQty": position.quantity,
        "costPosition": position.cost_position,
        "lastSumUnitaryFunding": ZERO,
        "sumUnitaryFundingVersion": 0,
        "pendingLongQty": ZERO,
        "pendingShortQty": ZERO,
        "settlePrice": position.average_open_price,
        "averageOpenPrice": position.average_open_price,
        "unsettledPnl": position.unrealized_pnl(mark),
        "pnl24H": position.realized_pnl,
        "fee24H": position.fee_total,
        "markPrice": mark,
        "estLiqPrice": ZERO,
        "version": position.updated_ms,
        "imrwithOrders": Decimal(1) / leverage,
        "mmrwithOrders": Decimal("0.05"),
        "mmr": Decimal("0.05"),
        "imr": Decimal(1) / leverage,
        "seq": position.updated_ms,
        "timestamp": position.updated_ms,
        "updated_time": position.updated_ms,
        "leverage": leverage,
        "marginMode": "CROSS",
        "margin": ZERO,
    }
