"""The chaos run's data: the symbols and their grids, the run's configuration, what the driver knows
of each session run, the report of one store's run; and how the service's answers become the
invariants' inputs (GetGrid figures, the WatchFills ledger)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
from collections import Counter
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

import grpc
from orderly_grid import GridClient, GridError
from orderly_grid.v1 import grid_pb2

from server.simulator import FaultConfig
from tests.chaos import invariants as inv

KILL_KINDS = ("plain", "start", "stop", "burst")


@dataclass(frozen=True)
class SymbolSpec:
    """A symbol the grids trade and the band its price walks in (the simulator's start price is the
    middle of the grid)."""

    symbol: str
    lower: Decimal
    upper: Decimal
    levels: int
    margin: Decimal
    tick: Decimal

    @property
    def step(self) -> Decimal:
        return (self.upper - self.lower) / (self.levels - 1)

    @property
    def center(self) -> Decimal:
        return (self.lower + self.upper) / 2

    def clamp(self, price: Decimal) -> Decimal:
        """Within half a line outside the bounds, on the tick."""
        low, high = self.lower - self.step / 2, self.upper + self.step / 2
        bounded = min(max(price, low), high)
        return (bounded / self.tick).quantize(Decimal(1), rounding=ROUND_HALF_EVEN) * self.tick


SPECS = (
    SymbolSpec("PERP_BTC_USDC", Decimal(40000), Decimal(45000), 11, Decimal(3000), Decimal("0.1")),
    SymbolSpec("PERP_ETH_USDC", Decimal(2350), Decimal(2650), 11, Decimal(3000), Decimal("0.01")),
    # Small SOL cells: most round down to the same 0.10 SOL, so fills of two cells can cancel out in
    # the position exactly (the case where position equality proves nothing).
    SymbolSpec("PERP_SOL_USDC", Decimal(141), Decimal(159), 10, Decimal(70), Decimal("0.001")),
)

SPEC_OF = {spec.symbol: spec for spec in SPECS}


@dataclass(frozen=True)
class ChaosConfig:
    seed: int = 1
    kills: int = 10
    faults: bool = True
    grids: int = 5
    accounts: int = 4
    duration_s: float = 3600.0  # the kill loop of one store stops early after this long
    phase_s: tuple[float, float] = (0.5, 2.0)  # trading between two kills
    step_interval_s: float = 0.05
    volatility: Decimal = Decimal("0.005")  # relative sd of one price step
    burst_move: tuple[float, float] = (0.02, 0.05)  # relative jump of a fill burst
    kill_delay_s: tuple[float, float] = (0.0, 0.6)  # after a StartGrid/StopGrid/burst is sent
    down_s: tuple[float, float] = (0.2, 1.5)  # prices keep moving (orders fill) while it is down
    swing_probability: float = 0.5  # per kill: one symbol swings down and up while it is down
    settle_s: float = 20.0  # longer than the service's 15 s periodic reconciliation
    settle_budget_s: float = 240.0  # all settle waits of one store together
    nudge_after_s: float = 3.0  # then drop the WebSockets once: the service reconciles on reconnect
    ready_timeout_s: float = 60.0
    stall_probability: float = 0.3  # per restart: the service starts against silent WebSockets
    restart_stalls_max: int | None = None  # at most this many of those per store (None: no cap)
    phase_stall_probability: float = 0.3  # per phase: the WebSockets go silent while trading
    stall_s: tuple[float, float] = (0.5, 3.0)
    http_error_rate: float = 0.03  # each of 429 and 5xx
    lost_push_rate: float = 0.05
    latency_ms: int = 3
    ws_drop_every: int = 400
    liquidity_fraction: Decimal = Decimal("0.5")
    funding_rate: Decimal = Decimal("0.0001")
    funding_interval_ms: int = 10_000
    log_level: str = "WARNING"

    def __post_init__(self) -> None:
        if self.grids < 1 or self.accounts < 1 or self.kills < 0:
            raise ValueError("grids and accounts must be >= 1, kills >= 0")
        if self.grids > self.accounts * len(SPECS):
            raise ValueError(f"at most {len(SPECS)} grids per account (one per symbol): raise --accounts")

    @property
    def fault_config(self) -> FaultConfig:
        if not self.faults:
            return FaultConfig()
        return FaultConfig(
            http_429_rate=self.http_error_rate,
            http_5xx_rate=self.http_error_rate,
            latency_ms=self.latency_ms,
            lost_push_rate=self.lost_push_rate,
            ws_drop_every_n_messages=self.ws_drop_every,
        )


@dataclass
class StoreReport:
    store: str
    kills: Counter[str] = field(default_factory=Counter)
    restarts: int = 0
    unexpected_exits: int = 0
    stalls: int = 0
    orders: int = 0
    fills: int = 0
    ledger_fills: int = 0
    runs: int = 0
    checks: int = 0
    failed_checks: int = 0  # the service did not answer the reads of a check
    ready_ms: list[float] = field(default_factory=list)
    calls: Counter[str] = field(default_factory=Counter)
    violations: dict[tuple[str, str], inv.Violation] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # worth a look, not violations
    elapsed_s: float = 0.0
    settle_wait_s: float = 0.0
    error: str = ""

    def count(self, invariant: str) -> int:
        return sum(1 for name, _ in self.violations if name == invariant)

    def add(self, violation: inv.Violation) -> None:
        self.violations.setdefault((violation.invariant, violation.key), violation)


@dataclass
class RunState:
    """One run of a slot's session (a StartGrid that the service recorded)."""

    session_id: str
    created_ms: int
    prefix: str
    account_id: str
    symbol: str
    status: str = "STARTING"
    close_on_stop: bool | None = None  # decided once, when the driver first stops the run
    figures: inv.Figures | None = None
    stopped_ms: int = 0

    def to_run(self) -> inv.Run:
        return inv.Run(
            self.session_id,
            self.prefix,
            self.status,
            close_requested=bool(self.close_on_stop),
            figures=self.figures,
            account_id=self.account_id,
            symbol=self.symbol,
            stopped_ms=self.stopped_ms,
        )


@dataclass
class Slot:
    """One (wallet, symbol): one session id, run after run."""

    wallet: int
    spec: SymbolSpec
    session_id: str
    runs: list[RunState] = field(default_factory=list)

    @property
    def current(self) -> RunState | None:
        return self.runs[-1] if self.runs else None

    @property
    def idle(self) -> bool:
        return self.current is None or self.current.status in inv.FINISHED_STATUSES

    @property
    def running(self) -> bool:
        return self.current is not None and self.current.status in ("RUNNING", "WAITING_TRIGGER")


def wallet_key(seed: int, index: int) -> str:
    return "0x" + hashlib.sha256(f"orderly-grid-chaos:{seed}:wallet:{index}".encode()).hexdigest()


def master_key(seed: int) -> str:
    return base64.b64encode(hashlib.sha256(f"orderly-grid-chaos:{seed}:master".encode()).digest()).decode()


def status_name(value: int) -> str:
    return grid_pb2.GridStatus.Name(value).removeprefix("GRID_STATUS_")  # type: ignore[arg-type]


def _decimal(text: str) -> Decimal | None:
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def figures_of(grid: grid_pb2.Grid) -> inv.Figures | None:
    values = [
        _decimal(grid.position.quantity),
        _decimal(grid.pnl.fees),
        _decimal(grid.pnl.realized),
        _decimal(grid.pnl.unrealized),
        _decimal(grid.position.mark_price),
    ]
    position, fees, realized, unrealized, mark = values
    if position is None or fees is None or realized is None or unrealized is None or mark is None:
        return None
    return inv.Figures(position=position, fees=fees, trading_pnl=realized + unrealized, mark=mark)


def ledger_fill(fill: grid_pb2.Fill) -> inv.LedgerFill:
    return inv.LedgerFill(
        seq=fill.seq,
        session_id=fill.session_id,
        client_order_id=fill.client_order_id,
        order_id=fill.order_id,
        trade_id=fill.trade_id,
        side="BUY" if fill.side == grid_pb2.SIDE_BUY else "SELL",
        price=Decimal(fill.price or "0"),
        quantity=Decimal(fill.quantity or "0"),
        fee=Decimal(fill.fee or "0"),
    )


async def read_ledger(client: GridClient, timeout_s: float) -> list[inv.LedgerFill]:
    """The user's whole fill ledger: WatchFills from seq 0 until the replay is complete."""
    stream = client.watch_fills(after_seq=0, max_reconnects=5)
    fills: list[inv.LedgerFill] = []

    async def consume() -> None:
        async for fill in stream:
            fills.append(ledger_fill(fill))

    consumer = asyncio.create_task(consume())
    live = asyncio.create_task(stream.live.wait())
    try:
        done, _ = await asyncio.wait({consumer, live}, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
        if consumer in done:
            consumer.result()  # raises the stream's error
        if live not in done:
            raise GridError(
                grpc.StatusCode.DEADLINE_EXCEEDED, "LEDGER_TIMEOUT", "the fill replay did not end"
            )
        return list(fills)
    finally:
        for task in (consumer, live):
            task.cancel()
        for task in (consumer, live):
            with contextlib.suppress(asyncio.CancelledError, GridError):
                await task
        await stream.aclose()
