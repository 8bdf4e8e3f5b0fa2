"""The venue: orders of every account matched against the price path (synchronous, no I/O).

Every operation returns the pushes it caused, in order, so the caller can hand them to the sockets
before answering (tests synchronise on that)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Any

from server.simulator.accounts import Account, AccountBook, margin_summary, position_push
from server.simulator.catalog import CATALOG
from server.simulator.clock import Clock
from server.simulator.config import SimulatorConfig
from server.simulator.history import AccountHistory, Submission, account_history
from server.simulator.orders import ZERO, Fill, Order, VenueError
from server.simulator.rules import OrderRequest, check_notional, check_price, check_quantity


@dataclass(frozen=True)
class Push:
    """One WebSocket push: private when account_id is set."""

    topic: str
    data: Any
    account_id: str | None = None
    symbol: str | None = None


class Venue:
    def __init__(self, config: SimulatorConfig, clock: Clock, accounts: AccountBook) -> None:
        self.config = config
        self.clock = clock
        self.accounts = accounts
        self.marks: dict[str, Decimal] = {symbol: Decimal(100) for symbol in CATALOG}
        self.marks.update(config.initial_prices)
        self.orders: dict[int, Order] = {}
        self.fills: list[Fill] = []
        # Every order request carrying a client_order_id, accepted or not, per account (history.py).
        self.submissions: dict[str, list[Submission]] = {}
        self._next_order_id = 1_000_001
        self._next_trade_id = 5_000_001
        self._pushes: list[Push] = []
        self._touched: dict[str, set[str]] = {}

    # ---- queries -------------------------------------------------------------------------------

    def account_orders(self, account_id: str) -> list[Order]:
        return [order for order in self.orders.values() if order.account_id == account_id]

    def open_orders(self, account_id: str, symbol: str | None = None) -> list[Order]:
        return [
            order
            for order in self.account_orders(account_id)
            if order.is_open and (symbol is None or order.symbol == symbol)
        ]

    def find_order(self, account_id: str, order_id: int) -> Order:
        order = self.orders.get(order_id)
        if order is None or order.account_id != account_id:
            raise VenueError(-1006, f"order {order_id} not found")
        return order

    def find_by_client_order_id(self, account_id: str, client_order_id: str) -> Order:
        """The open order with that id, else the most recent finished one."""
        matches = [o for o in self.account_orders(account_id) if o.client_order_id == client_order_id]
        if not matches:
            raise VenueError(-1006, f"order with client_order_id {client_order_id} not found")
        open_matches = [o for o in matches if o.is_open]
        return (open_matches or matches)[-1]

    def history(self, account_id: str, symbol: str | None = None) -> AccountHistory:
        """Everything the venue did for `account_id` (see server.simulator.history)."""
        account = self._account(account_id)
        fills = [fill for fill in self.fills if fill.account_id == account_id]
        submissions = self.submissions.get(account_id, [])
        return account_history(account, self.account_orders(account_id), fills, submissions, symbol)

    def margin(self, account_id: str) -> dict[str, Decimal]:
        account = self._account(account_id)
        return margin_summary(account, self.open_orders(account_id), self.marks, self.config.leverage)

    def restore(
        self,
        marks: dict[str, Decimal],
        orders: list[Order],
        fills: list[Fill],
        submissions: list[Submission],
    ) -> None:
        """Takes over a saved venue (server.simulator.state_file): its marks, orders with their fills,
        and submissions; new order and trade ids continue after the saved ones, never reusing one."""
        self.marks.update(marks)
        by_order: dict[int, list[Fill]] = {}
        for fill in fills:
            by_order.setdefault(fill.order_id, []).append(fill)
        for order in orders:
            order.fills = by_order.get(order.order_id, [])
            self.orders[order.order_id] = order
        self.fills = list(fills)
        for submission in submissions:
            self.submissions.setdefault(submission.account_id, []).append(submission)
        self._next_order_id = max([self._next_order_id - 1, *self.orders]) + 1
        self._next_trade_id = max([self._next_trade_id - 1, *(f.trade_id for f in fills)]) + 1

    # ---- commands ------------------------------------------------------------------------------

    def place(self, account_id: str, request: OrderRequest) -> tuple[Order, list[Push]]:
        """Accepts (and matches) an order, or raises VenueError. A request with a client_order_id is
        recorded as a submission either way, before anything is returned (history.py)."""
        try:
            order, pushes = self._place(account_id, request)
        except VenueError as exc:
            self._record_submission(account_id, request, None, exc.code)
            raise
        self._record_submission(account_id, request, order.order_id, None)
        return order, pushes

    def _record_submission(
        self, account_id: str, request: OrderRequest, order_id: int | None, error_code: int | None
    ) -> None:
        if request.client_order_id is None or self.accounts.get(account_id) is None:
            return
        submission = Submission(
            account_id=account_id,
            client_order_id=request.client_order_id,
            symbol=request.symbol,
            side=request.side,
            timestamp_ms=self.clock.now_ms(),
            order_id=order_id,
            error_code=error_code,
        )
        self.submissions.setdefault(account_id, []).append(submission)

    def _place(self, account_id: str, request: OrderRequest) -> tuple[Order, list[Push]]:
        account = self._account(account_id)
        rules = CATALOG[request.symbol]
        mark = self.marks[request.symbol]
        quantity = request.quantity
        if quantity is None:  # MARKET by quote amount
            assert request.amount is not None
            quantity = (request.amount / mark / rules.base_tick).to_integral_value(
                ROUND_DOWN
            ) * rules.base_tick
        if request.price is not None:
            check_price(rules, request.side, request.price, mark)
        check_quantity(rules, quantity)
        check_notional(rules, request.price if request.price is not None else mark, quantity)
        if rules.status == "REDUCE_ONLY" and not request.reduce_only:
            raise VenueError(
                -1005, f"{request.symbol} is in REDUCE_ONLY mode: only reduce_only orders are accepted"
            )
        if request.client_order_id is not None and any(
            o.client_order_id == request.client_order_id for o in self.open_orders(account_id)
        ):
            raise VenueError(
                -1007, f"client_order_id {request.client_order_id} already exists among open orders", 409
            )
        position = account.position(request.symbol).quantity
        reduces = (request.side == "BUY" and position < 0) or (request.side == "SELL" and position > 0)
        if request.reduce_only and (not reduces or quantity > abs(position)):
            raise VenueError(-1005, "reduce_only order would open or increase a position")
        if not (reduces and quantity <= abs(position)):
            required = (
                quantity * (request.price if request.price is not None else mark) / self.config.leverage
            )
            if required > self.margin(account_id)["free_collateral"]:
                raise VenueError(-1101, "Insufficient margin after the operation.")
        now = self.clock.now_ms()
        order = Order(
            order_id=self._next_order_id,
            account_id=account_id,
            symbol=request.symbol,
            side=request.side,
            order_type=request.order_type,
            price=request.price,
            quantity=quantity,
            client_order_id=request.client_order_id,
            reduce_only=request.reduce_only,
            created_ms=now,
            updated_ms=now,
            order_tag=request.order_tag,
            amount=request.amount,
        )
        self._next_order_id += 1
        self.orders[order.order_id] = order
        self._report(order, None)
        self._execute_on_arrival(order, mark)
        return order, self._drain()

    def cancel(self, account_id: str, order: Order, reason: str = "") -> list[Push]:
        if order.account_id != account_id:
            raise VenueError(-1006, f"order {order.order_id} not found")
        if not order.is_open:
            raise VenueError(-1006, f"order {order.order_id} is already {order.status}")
        self._finish(order, "CANCELLED", reason)
        return self._drain()

    def edit(self, account_id: str, order: Order, price: Decimal | None, quantity: Decimal) -> list[Push]:
        """Changes price and/or quantity of an open limit order; a price that now crosses takes at once."""
        if order.account_id != account_id or not order.is_open:
            raise VenueError(-1006, f"order {order.order_id} is not open")
        if order.price is None:
            raise VenueError(-1005, "MARKET orders cannot be edited")
        rules, mark = CATALOG[order.symbol], self.marks[order.symbol]
        new_price = price if price is not None else order.price
        check_price(rules, order.side, new_price, mark)
        check_quantity(rules, quantity)
        check_notional(rules, new_price, quantity)
        if quantity <= order.executed_quantity:
            raise VenueError(-1005, "order_quantity must be greater than the executed quantity")
        order.price, order.quantity, order.updated_ms = new_price, quantity, self.clock.now_ms()
        # Whether Orderly reports edits with a REPLACED status is unconfirmed; the status stays as it was.
        self._report(order, None)
        if _crosses(order.side, new_price, mark):
            if order.order_type == "POST_ONLY":
                self._finish(order, "CANCELLED", "POST_ONLY order would be executed as taker")
            else:
                self._fill(order, self._step_quantity(order), mark, maker=False, now=self.clock.now_ms())
        return self._drain()

    def cancel_all(self, account_id: str, symbol: str | None = None) -> tuple[int, list[Push]]:
        orders = self.open_orders(account_id, symbol)
        for order in orders:
            self._finish(order, "CANCELLED", "")
        return len(orders), self._drain()

    def set_price(self, symbol: str, price: Decimal) -> tuple[int, list[Push]]:
        """Moves the mark price one step; resting orders the move crosses fill at their limit (maker)."""
        if symbol not in CATALOG:
            raise VenueError(-1005, f"symbol {symbol} is not a valid symbol")
        if price <= 0:
            raise VenueError(-1005, "price must be a positive number")
        self.marks[symbol] = price
        now = self.clock.now_ms()
        self._pushes.append(Push(f"{symbol}@markprice", {"symbol": symbol, "price": price}, symbol=symbol))
        crossed = [
            o
            for o in self.orders.values()
            if o.symbol == symbol and o.is_open and o.price is not None and _crosses(o.side, o.price, price)
        ]
        # Price-time priority: best price first, then the earliest order.
        buys = sorted((o for o in crossed if o.side == "BUY"), key=lambda o: (-_price(o), o.order_id))
        sells = sorted((o for o in crossed if o.side == "SELL"), key=lambda o: (_price(o), o.order_id))
        fills = 0
        for order in buys + sells:
            if self._fill(
                order, self._step_quantity(order, resting=True), _price(order), maker=True, now=now
            ):
                fills += 1
        return fills, self._drain()

    def settle_funding(self, rate: Decimal) -> list[Push]:
        """One funding payment on every open position: qty * mark * rate leaves the collateral."""
        now = self.clock.now_ms()
        for account in self.accounts.accounts.values():
            for position in account.positions.values():
                if position.quantity == 0:
                    continue
                payment = position.quantity * self.marks[position.symbol] * rate
                account.collateral -= payment
                position.funding_total += payment
                position.updated_ms = now
                self._touched.setdefault(account.account_id, set()).add(position.symbol)
        return self._drain()

    # ---- internals -----------------------------------------------------------------------------

    def _account(self, account_id: str) -> Account:
        account = self.accounts.get(account_id)
        if account is None:
            raise VenueError(-1002, f"account {account_id} not found", 401)
        return account

    def _step_quantity(self, order: Order, resting: bool = False) -> Decimal:
        """What one fill takes of `order`: its remainder, capped by liquidity_per_order; a RESTING
        order crossed by a price step is also capped by liquidity_fraction of its quantity (rounded
        down to the base tick, at least one tick), so it fills over several trades as the price
        moves, while an order that takes liquidity on arrival (a market close) is not held back."""
        step = order.remaining
        if self.config.liquidity_per_order is not None:
            step = min(step, self.config.liquidity_per_order)
        fraction = self.config.liquidity_fraction
        if resting and fraction is not None:
            tick = CATALOG[order.symbol].base_tick
            share = (order.quantity * fraction / tick).to_integral_value(ROUND_DOWN) * tick
            step = min(step, max(share, tick))
        return step

    def _execute_on_arrival(self, order: Order, mark: Decimal) -> None:
        now = self.clock.now_ms()
        if order.order_type == "MARKET":
            self._fill(order, self._step_quantity(order), mark, maker=False, now=now)
            if order.is_open:
                self._finish(order, "CANCELLED", "market order remainder cancelled")
            return
        assert order.price is not None
        if not _crosses(order.side, order.price, mark):
            if order.order_type in ("IOC", "FOK"):
                self._finish(order, "CANCELLED", f"{order.order_type} order could not be filled")
            return
        if order.order_type == "POST_ONLY":
            self._finish(order, "CANCELLED", "POST_ONLY order would be executed as taker")
            return
        step = self._step_quantity(order)
        if order.order_type == "FOK" and step < order.quantity:
            self._finish(order, "CANCELLED", "FOK order could not be filled entirely")
            return
        # A crossing limit takes liquidity at the current price.
        self._fill(order, step, mark, maker=False, now=now)
        if order.is_open and order.order_type == "IOC":
            self._finish(order, "CANCELLED", "IOC order remainder cancelled")

    def _fill(self, order: Order, quantity: Decimal, price: Decimal, maker: bool, now: int) -> bool:
        account = self._account(order.account_id)
        position = account.position(order.symbol)
        if order.reduce_only:
            reduces = (order.side == "BUY" and position.quantity < 0) or (
                order.side == "SELL" and position.quantity > 0
            )
            quantity = min(quantity, abs(position.quantity)) if reduces else ZERO
            if quantity <= 0:
                self._finish(order, "CANCELLED", "reduce_only order has no position left to reduce")
                return False
        rate = self.config.maker_fee_rate if maker else self.config.taker_fee_rate
        fee = quantity * price * rate
        realized = position.apply_fill(order.side, quantity, price)
        position.fee_total += fee
        position.updated_ms = now
        account.collateral += realized - fee
        fill = Fill(
            trade_id=self._next_trade_id,
            order_id=order.order_id,
            account_id=order.account_id,
            symbol=order.symbol,
            side=order.side,
            price=price,
            quantity=quantity,
            fee=fee,
            is_maker=maker,
            realized_pnl=realized,
            timestamp_ms=now,
            match_id=f"{now}{self._next_trade_id}",
        )
        self._next_trade_id += 1
        self.fills.append(fill)
        order.fills.append(fill)
        order.executed_quantity += quantity
        order.executed_notional += quantity * price
        order.total_fee += fee
        order.realized_pnl += realized
        order.status = "FILLED" if order.remaining == 0 else "PARTIAL_FILLED"
        order.updated_ms = now
        self._report(order, fill)
        self._pushes.append(
            Push(
                f"{order.symbol}@trade",
                {"symbol": order.symbol, "price": price, "size": quantity, "side": order.side},
                symbol=order.symbol,
            )
        )
        self._touched.setdefault(order.account_id, set()).add(order.symbol)
        return True

    def _finish(self, order: Order, status: str, reason: str) -> None:
        order.status = status
        order.reason = reason
        order.updated_ms = self.clock.now_ms()
        self._report(order, None)
        self._touched.setdefault(order.account_id, set())

    def _report(self, order: Order, fill: Fill | None) -> None:
        data = order.execution_report(fill, self.clock.now_ms())
        self._pushes.append(Push("executionreport", data, account_id=order.account_id, symbol=order.symbol))

    def _drain(self) -> list[Push]:
        """Appends the position/balance pushes of every account touched, then hands everything over."""
        now = self.clock.now_ms()
        for account_id, symbols in self._touched.items():
            account = self._account(account_id)
            if symbols:
                rows = [
                    position_push(account.position(s), self.marks[s], self.config.leverage)
                    for s in sorted(symbols)
                ]
                self._pushes.append(Push("position", {"positions": rows}, account_id=account_id))
            self._pushes.append(Push("balance", self.balance_data(account_id, now), account_id=account_id))
        self._touched = {}
        pushes, self._pushes = self._pushes, []
        return pushes

    def balance_data(self, account_id: str, now: int) -> dict[str, Any]:
        account = self._account(account_id)
        margin = self.margin(account_id)
        fees = sum((p.fee_total for p in account.positions.values()), ZERO)
        usdc = {
            "holding": account.collateral,
            "frozen": margin["orders_margin"],
            "interest": ZERO,
            "pendingShortQty": ZERO,
            "pendingExposure": ZERO,
            "pendingLongQty": ZERO,
            "pendingLongExposure": ZERO,
            "isolatedMargin": ZERO,
            "isolatedOrderFrozen": ZERO,
            "version": now,
            "staked": ZERO,
            "unbonding": ZERO,
            "vault": ZERO,
            "averageOpenPrice": ZERO,
            "pnl24H": ZERO,
            "fee24H": fees,
            "markPrice": Decimal(1),
        }
        return {"balances": {"USDC": usdc}}


def _crosses(side: str, limit: Decimal, price: Decimal) -> bool:
    """A BUY fills when the price comes down to its limit, a SELL when it comes up to it."""
    return price <= limit if side == "BUY" else price >= limit


def _price(order: Order) -> Decimal:
    assert order.price is not None
    return order.price
