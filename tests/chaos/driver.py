"""One chaos run on one store: the simulator in its own process, `orderly-grid serve` as a child that
is SIGKILLed at random points and restarted, grids on several wallets, accounts and symbols driven
through the SDK, prices driven on the simulator, invariants checked after every restart and at the end
(tests/chaos/invariants.py, ground truth from the simulator's /sim/history).

Every choice (phase lengths, price steps, which grid to start or stop, kill kinds and their delays,
stalls) comes from generators seeded by the run's seed and is drawn whatever the state, so a run
repeats its choices; the timing of the processes decides the rest. Everything is bounded: every wait
has a deadline, every loop a count.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import random
import time
import traceback
from decimal import Decimal
from pathlib import Path

import aiohttp
from orderly_grid import GridClient, GridError, GridParams
from orderly_grid.errors import SessionNotFound
from orderly_grid.retry import Backoff
from orderly_grid.v1 import grid_pb2

from engine.order_ids import client_order_id_prefix
from server.simulator import FaultConfig, SimulatorControl
from tests.chaos import invariants as inv
from tests.chaos.model import (
    KILL_KINDS,
    SPEC_OF,
    SPECS,
    ChaosConfig,
    RunState,
    Slot,
    StoreReport,
    SymbolSpec,
    figures_of,
    master_key,
    read_ledger,
    status_name,
    wallet_key,
)
from tests.chaos.processes import (
    Child,
    ChildError,
    SimulatorInfo,
    service_child,
    service_env,
    simulator_child,
    simulator_started,
    wait_ready,
)
from tests.store.nx_server import NxServer, free_port

LEDGER_TIMEOUT_S = 20.0  # reading one user's whole fill ledger
CALL_TIMEOUT_S = 30.0
POLL_S = 0.25
MAX_START_ATTEMPTS = 5
MAX_RATE_LIMIT_WAIT_S = 65.0


class ChaosRun:
    """The chaos run of one store; `run()` returns its report and always ends every child."""

    def __init__(self, config: ChaosConfig, store: str, workdir: Path, log: list[str]) -> None:
        if store not in ("sqlite", "mongo"):
            raise ValueError(f"unknown store {store!r}: sqlite or mongo")
        self.config = config
        self.store = store
        self.workdir = workdir
        self.log_lines = log
        self.report = StoreReport(store)
        seed = config.seed
        self.plan = random.Random(f"chaos:{seed}:{store}:plan")
        self.walk = random.Random(f"chaos:{seed}:{store}:walk")
        self.sim: Child | None = None
        self.service: Child | None = None
        self.nx: NxServer | None = None
        self.control: SimulatorControl | None = None
        self.info: SimulatorInfo | None = None
        self.account_ids: list[str] = []
        self.clients: list[GridClient] = []
        self.slots: list[Slot] = []
        self.prices: dict[str, Decimal] = {spec.symbol: spec.center for spec in SPECS}
        self.grpc_port = 0
        self.rest_port = 0
        self._stall_task: asyncio.Task[None] | None = None
        self._known_unsettled: set[str] = set()
        self._last_error = ""
        self._restart_stalls = 0
        self._kind_bag: list[str] = []
        self._deadline = 0.0
        self._started = time.monotonic()

    def log(self, text: str) -> None:
        self.log_lines.append(f"[{self.store} {time.monotonic() - self._started:6.1f}s] {text}")

    # --- the run ------------------------------------------------------------------------------------

    async def run(self) -> StoreReport:
        started = self._started = time.monotonic()
        self._deadline = started + self.config.duration_s
        try:
            await self._set_up()
            for number in range(self.config.kills):
                if time.monotonic() > self._deadline:
                    self.log(f"duration reached after {number} kills")
                    break
                await self._phase()
                await self._kill(number)
                await self._while_down()
                await self._restart()
                await self._check(final=False)
            await self._wind_down()
            await self._check(final=True)
            await self._count_totals()
        except (ChildError, GridError, OSError, RuntimeError, aiohttp.ClientError) as exc:
            self.report.error = f"{type(exc).__name__}: {exc}"
            self.log(f"run aborted: {self.report.error}")
            (self.workdir / "driver-error.txt").write_text(traceback.format_exc())
        finally:
            await self._tear_down()
            self.report.elapsed_s = time.monotonic() - started
        return self.report

    async def _set_up(self) -> None:
        config = self.config
        (self.workdir / "data").mkdir(parents=True, exist_ok=True)
        mongodb_uri = None
        if self.store == "mongo":
            self.nx = NxServer(self._mkdir("nx"))
            await asyncio.to_thread(self.nx.start)
            mongodb_uri = f"mongodb://127.0.0.1:{self.nx.port}/chaos_{config.seed}?directConnection=true"
        self.sim = simulator_child(
            [
                "--seed",
                str(config.seed),
                "--liquidity-fraction",
                str(config.liquidity_fraction),
                "--funding-rate",
                str(config.funding_rate),
                "--funding-interval-ms",
                str(config.funding_interval_ms),
            ],
            self.workdir,
        )
        await self.sim.start()
        self.info = await simulator_started(self.sim)
        self.control = SimulatorControl(self.info.rest_url)
        for spec in SPECS:
            await self.control.set_price(spec.symbol, spec.center)
        self.account_ids = [self.info.account_id]
        extra = [await self.control.create_account() for _ in range(config.accounts - 1)]
        self.account_ids += [account.account_id for account in extra]
        self.grpc_port, self.rest_port = free_port(), free_port()
        env = service_env(
            self.info,
            grpc_port=self.grpc_port,
            rest_port=self.rest_port,
            data_dir=self.workdir / "data",
            master_key=master_key(config.seed),
            mongodb_uri=mongodb_uri,
            log_level=config.log_level,
        )
        self.service = service_child(env, self.workdir)
        await self._start_service(count_restart=False)
        await self._new_clients()
        # Wallet 0 trades on the operator's default account; every other wallet registers its own.
        for index, account in enumerate(extra, start=1):
            await self.clients[index].register_account(
                account.account_id, account.orderly_key, account.orderly_secret
            )
        self.slots = self._slots()
        await self.control.set_faults(config.fault_config)
        self.log(
            f"seed={config.seed} store={self.store} accounts={len(self.account_ids)} "
            f"grids={', '.join(f'{s.wallet}:{s.spec.symbol}' for s in self.slots)} faults={config.faults} "
            f"workdir={self.workdir}"
        )

    def _mkdir(self, name: str) -> Path:
        path = self.workdir / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _slots(self) -> list[Slot]:
        """(wallet, symbol) pairs, spread over wallets and symbols, never one pair twice."""
        taken: set[tuple[int, str]] = set()
        slots: list[Slot] = []
        index = 0
        while len(slots) < self.config.grids:
            wallet = index % self.config.accounts
            for shift in range(len(SPECS)):
                spec = SPECS[(index + shift) % len(SPECS)]
                if (wallet, spec.symbol) not in taken:
                    taken.add((wallet, spec.symbol))
                    session_id = self.clients[wallet].session_id(spec.symbol)
                    slots.append(Slot(wallet, spec, session_id))
                    break
            index += 1
        return slots

    async def _new_clients(self) -> None:
        """Fresh SDK clients after a restart (a channel to the killed process may sit in backoff)."""
        old, self.clients = self.clients, []
        for client in old:
            with contextlib.suppress(Exception):
                await client.close()
        for index in range(self.config.accounts):
            self.clients.append(
                GridClient(
                    f"127.0.0.1:{self.grpc_port}",
                    wallet=wallet_key(self.config.seed, index),
                    timeout_s=5.0,
                    write_timeout_s=CALL_TIMEOUT_S,
                    retries=3,
                    backoff=Backoff(initial_s=0.1, max_s=1.0, rng=random.Random(index)),
                )
            )

    # --- trading between kills ----------------------------------------------------------------------

    async def _phase(self) -> None:
        """Prices walk on every traded symbol while grids are started and stopped."""
        config = self.config
        duration = self.plan.uniform(*config.phase_s)
        steps = max(1, int(duration / config.step_interval_s))
        actions = sorted(self.plan.randrange(steps) for _ in range(self.plan.randint(1, 3)))
        drop_at = self.plan.randrange(steps) if config.faults and self.plan.random() < 0.2 else -1
        stall_at = (
            self.plan.randrange(steps)
            if config.faults and self.plan.random() < config.phase_stall_probability
            else -1
        )
        stall_for = self.plan.uniform(*config.stall_s)
        for step in range(steps):
            await self._walk_step()
            if step == drop_at:
                await self._ctl().drop_websockets()
            if step == stall_at and self._stall_task is None:
                await self._stall(stall_for)
            while actions and actions[0] == step:
                actions.pop(0)
                await self._random_action()
            await asyncio.sleep(config.step_interval_s)

    async def _walk_step(self) -> None:
        for spec in SPECS:
            if not any(slot.spec is spec for slot in self.slots):
                continue
            price = self.prices[spec.symbol]
            drift = (spec.center - price) / spec.center * Decimal("0.02")
            move = Decimal(repr(self.walk.gauss(0.0, 1.0))) * self.config.volatility
            await self._set_price(spec, price * (1 + move + drift))

    async def _set_price(self, spec: SymbolSpec, price: Decimal) -> None:
        self.prices[spec.symbol] = spec.clamp(price)
        await self._ctl().set_price(spec.symbol, self.prices[spec.symbol])

    async def _random_action(self) -> None:
        # Every draw happens whatever the state, so the choices stay the same from run to run.
        slot = self.slots[self.plan.randrange(len(self.slots))]
        close = self.plan.random() < 0.5
        direction = self._direction()
        if slot.idle:
            await self._start(slot, direction)
        elif slot.running:
            await self._stop(slot, close)

    def _direction(self) -> str:
        return self.plan.choice(("BOTH", "BOTH", "LONG", "SHORT"))

    async def _start(self, slot: Slot, direction: str) -> None:
        spec = slot.spec
        price = self.prices[spec.symbol]
        if not spec.lower < price < spec.upper:
            return  # StartGrid refuses a current price outside the bounds
        params = GridParams(
            ticker=spec.symbol,
            lower_bound=spec.lower,
            upper_bound=spec.upper,
            grid_levels=spec.levels,
            total_margin=spec.margin,
            current_price=price,
            direction=direction,
            leverage=2,
        )
        try:
            grid = await self.clients[slot.wallet].start_grid(params)
        except GridError as exc:
            self.report.calls[f"StartGrid:{exc.reason}"] += 1
            return
        self.report.calls["StartGrid:OK"] += 1
        self._observe(slot, grid)

    async def _stop(self, slot: Slot, close: bool) -> GridError | None:
        """StopGrid on the slot's run, with the close decided at its first stop; the error, if any."""
        run = slot.current
        if run is None:
            return None
        if run.close_on_stop is None:
            run.close_on_stop = close
        try:
            grid = await self.clients[slot.wallet].stop_grid(
                slot.session_id, close_position=run.close_on_stop
            )
        except GridError as exc:
            self.report.calls[f"StopGrid:{exc.reason}"] += 1
            return exc
        self.report.calls["StopGrid:OK"] += 1
        self._observe(slot, grid)
        return None

    def _observe(self, slot: Slot, grid: grid_pb2.Grid) -> RunState:
        """The run `grid` shows, registered on first sight, its status and figures updated."""
        run = next((r for r in slot.runs if r.created_ms == grid.created_ms), None)
        if run is None:
            prefix = client_order_id_prefix(f"{grid.session_id}@{grid.created_ms}")
            shown = {o.client_order_id.partition("-")[0] for o in grid.open_orders}
            if shown and prefix not in shown:
                self.log(f"{grid.session_id}: derived prefix {prefix} but open orders show {sorted(shown)}")
                prefix = sorted(shown)[0]
            run = RunState(
                grid.session_id, grid.created_ms, prefix, self.account_ids[slot.wallet], grid.symbol
            )
            slot.runs.append(run)
            self.log(f"run {prefix} of {grid.session_id} seen ({status_name(grid.status)})")
        run.status = status_name(grid.status)
        run.figures = figures_of(grid)
        run.stopped_ms = grid.stopped_ms
        return run

    async def _refresh(self, slot: Slot) -> bool:
        """The slot's latest run as the service shows it now; False when GetGrid failed."""
        try:
            grid = await self.clients[slot.wallet].get_grid(slot.session_id)
        except SessionNotFound:
            return True
        except GridError as exc:
            self.report.calls[f"GetGrid:{exc.reason}"] += 1
            self._last_error = f"GetGrid {slot.session_id}: {exc}"
            return False
        self._observe(slot, grid)
        return True

    # --- kills and restarts ---------------------------------------------------------------------------

    def _kill_kind(self) -> str:
        """Kinds come from a shuffled bag of all of them, so even a short run has each."""
        if not self._kind_bag:
            self._kind_bag = list(KILL_KINDS)
            self.plan.shuffle(self._kind_bag)
        return self._kind_bag.pop()

    async def _kill(self, number: int) -> None:
        kind = self._kill_kind()
        delay = self.plan.uniform(*self.config.kill_delay_s)
        close = self.plan.random() < 0.5
        pick = self.plan.random()
        direction = self._direction()
        move = Decimal(repr(self.plan.uniform(*self.config.burst_move)))
        stall = self.config.faults and self.plan.random() < self.config.stall_probability
        stall_for = self.plan.uniform(*self.config.stall_s)
        call: asyncio.Task[GridError | None] | asyncio.Task[None] | None = None
        if kind == "start":
            idle = [s for s in self.slots if s.idle]
            if idle:
                call = asyncio.create_task(self._start(idle[int(pick * len(idle))], direction))
            else:
                kind = "plain"
        elif kind == "stop":
            running = [s for s in self.slots if s.running]
            if running:
                call = asyncio.create_task(self._stop(running[int(pick * len(running))], close))
            else:
                kind = "plain"
        elif kind == "burst":
            traded = sorted({s.spec.symbol for s in self.slots if s.running})
            if traded:
                spec = SPEC_OF[traded[int(pick * len(traded))]]
                sign = 1 if self.prices[spec.symbol] < spec.center else -1
                await self._set_price(spec, self.prices[spec.symbol] * (1 + sign * move))
            else:
                kind = "plain"
        if kind != "plain":
            await asyncio.sleep(delay)  # the kill lands this long into the call or the burst
        self.report.kills[kind] += 1
        self.log(f"kill {number + 1}: {kind} after {delay:.3f} s")
        await self._kill_service()
        if call is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(call, CALL_TIMEOUT_S)
        cap = self.config.restart_stalls_max
        if cap is not None and self._restart_stalls >= cap:
            stall = False
        self._restart_stalls += int(stall)
        await self._end_stall()
        if stall:
            await self._stall(stall_for)

    async def _while_down(self) -> None:
        """The market does not wait for the service: prices walk on, resting orders fill; half the
        time one symbol swings a line or two down AND up (a buy and a sell fill while nobody looks)."""
        steps = max(1, int(self.plan.uniform(*self.config.down_s) / self.config.step_interval_s))
        swing = self.plan.random() < self.config.swing_probability
        pick, down_first = self.plan.random(), self.plan.random() < 0.5
        depth = (Decimal(repr(self.plan.uniform(1.0, 2.5))), Decimal(repr(self.plan.uniform(1.0, 2.5))))
        for _ in range(steps):
            await self._walk_step()
            await asyncio.sleep(self.config.step_interval_s)
        traded = sorted({s.spec.symbol for s in self.slots if s.running})
        if traded and swing:
            await self._swing(SPEC_OF[traded[int(pick * len(traded))]], depth, down_first=down_first)

    async def _swing(self, spec: SymbolSpec, depth: tuple[Decimal, Decimal], *, down_first: bool) -> None:
        """Down `depth[0]` lines and up `depth[1]` lines from here (or up first), then back, resting
        a few steps at each turn so partially filled orders fill completely."""
        start = self.prices[spec.symbol]
        low = start - spec.step * depth[0]
        high = start + spec.step * depth[1]
        legs = (low, high, start) if down_first else (high, low, start)
        price = start
        for target in legs:
            for fraction in (Decimal("0.34"), Decimal("0.67"), Decimal(1), Decimal(1), Decimal(1)):
                await self._set_price(spec, price + (target - price) * fraction)  # and rests there
                await asyncio.sleep(self.config.step_interval_s)
            price = self.prices[spec.symbol]

    async def _kill_service(self) -> None:
        assert self.service is not None
        code = await self.service.kill()
        if code is not None and code != -9:
            self._unexpected_exit(code)

    def _unexpected_exit(self, code: int) -> None:
        assert self.service is not None
        self.report.unexpected_exits += 1
        tail = self.service.stderr_tail(6).replace("\n", " | ")
        self.report.add(
            inv.Violation(
                inv.UNEXPECTED_EXIT,
                f"incarnation {self.service.incarnation}",
                f"the service exited by itself with code {code}: {tail}",
            )
        )
        self.log(f"service exited by itself ({code})")

    async def _stall(self, seconds: float) -> None:
        """The venue's WebSockets go silent for `seconds` (the restart happens meanwhile)."""
        self.report.stalls += 1
        control = self._ctl()
        stalled = FaultConfig(**{**self.config.fault_config.to_json(), "ws_stalled": True})
        await control.set_faults(stalled)
        self.log(f"WebSockets stalled for {seconds:.2f} s")

        async def unstall() -> None:
            await asyncio.sleep(seconds)
            await control.set_faults(self.config.fault_config)

        self._stall_task = asyncio.create_task(unstall())

    async def _end_stall(self) -> None:
        if self._stall_task is not None:
            await self._stall_task  # bounded by its own sleep
            self._stall_task = None

    async def _restart(self) -> None:
        await self._start_service(count_restart=True)
        await self._new_clients()
        await self._end_stall()

    async def _start_service(self, *, count_restart: bool) -> None:
        """Start the service and wait until it is ready; one that exits by itself or never becomes
        ready is counted and started again (a bounded number of times)."""
        assert self.service is not None
        for _attempt in range(MAX_START_ATTEMPTS):
            await self.service.start()
            if count_restart:
                self.report.restarts += 1
            ready_ms = await wait_ready(self.service, self.rest_port, self.config.ready_timeout_s)
            if ready_ms is not None:
                if count_restart:
                    self.report.ready_ms.append(ready_ms)
                return
            running = self.service.running
            code = await self.service.kill()
            if running:
                self.report.add(
                    inv.Violation(
                        inv.NEVER_READY,
                        f"incarnation {self.service.incarnation}",
                        f"not ready within {self.config.ready_timeout_s} s: {self.service.stderr_tail(4)}",
                    )
                )
            else:
                self._unexpected_exit(code if code is not None else 0)
            count_restart = True
        raise ChildError(f"the service did not become ready in {MAX_START_ATTEMPTS} attempts")

    # --- checks ---------------------------------------------------------------------------------------

    async def _snapshot(self) -> inv.Snapshot | None:
        """The service's view first (ledger, sessions), then the venue's: a fill the venue makes in
        between shows as missing, and the next poll sees it booked. None when the service failed to
        answer (the reason in `_last_error`)."""
        ledger: list[inv.LedgerFill] = []
        for client in self.clients:
            try:
                ledger.extend(await read_ledger(client, LEDGER_TIMEOUT_S))
            except GridError as exc:
                self.report.calls[f"WatchFills:{exc.reason}"] += 1
                self._last_error = f"WatchFills: {exc}"
                return None
        for slot in self.slots:
            if not await self._refresh(slot):
                return None
        histories = [await self._ctl().history(account_id) for account_id in self.account_ids]
        snapshot = inv.Snapshot(
            orders=tuple(o for h in histories for o in h.orders),
            trades=tuple(t for h in histories for t in h.trades),
            submissions=tuple(s for h in histories for s in h.submissions),
            ledger=tuple(ledger),
            runs=tuple(run.to_run() for slot in self.slots for run in slot.runs),
        )
        return snapshot

    async def _check(self, *, final: bool) -> None:
        """Poll until the service has settled (no new violation the service could still repair, no
        session starting or stopping) or the settle deadline passes, then record what is left."""
        config = self.config
        start = time.monotonic()
        budget = max(0.0, config.settle_budget_s - self.report.settle_wait_s)
        deadline = start + min(config.settle_s * (2 if final else 1), budget)
        nudged = False
        snapshot: inv.Snapshot | None = None
        while True:
            snapshot = await self._snapshot()
            if snapshot is None:
                if time.monotonic() >= deadline:
                    break
                await asyncio.sleep(POLL_S)
                continue
            found = inv.check(snapshot, final=final)
            new = [
                v
                for v in found
                if v.invariant in inv.SETTLING and (v.invariant, v.key) not in self.report.violations
            ]
            unsettled = {
                run.prefix
                for run in snapshot.runs
                if run.status in inv.TRANSIENT_STATUSES and run.prefix not in self._known_unsettled
            }
            if (not new and not unsettled) or time.monotonic() >= deadline:
                break
            if not nudged and time.monotonic() - start >= config.nudge_after_s:
                nudged = True
                await self._ctl().drop_websockets()
            await asyncio.sleep(POLL_S)
        waited = time.monotonic() - start
        self.report.settle_wait_s += waited
        self.report.checks += 1
        if snapshot is None:
            self.report.failed_checks += 1
            self.report.notes.append(
                f"check {self.report.checks} could not read the service: {self._last_error}"
            )
            self.log(f"check {self.report.checks}: no snapshot after {waited:.1f} s: {self._last_error}")
            return
        self._known_unsettled |= {r.prefix for r in snapshot.runs if r.status in inv.TRANSIENT_STATUSES}
        fresh = [v for v in found if (v.invariant, v.key) not in self.report.violations]
        for violation in found:
            self.report.add(violation)
        self.log(
            f"check {self.report.checks}{' (final)' if final else ''}: {len(found)} violations "
            f"({len(fresh)} new) after {waited:.1f} s"
        )
        for violation in fresh:
            self.log(f"  {violation.invariant}: {violation.detail}")

    async def _wind_down(self) -> None:
        """Stop every grid still running (some closing their position) and let the stops finish."""
        for slot in self.slots:
            await self._refresh(slot)
        for slot in self.slots:
            close = self.plan.random() < 0.5
            if slot.current is not None and not slot.idle:
                for _attempt in range(3):
                    error = await self._stop(slot, close)
                    await self._refresh(slot)
                    if slot.current is None or slot.current.status in ("STOPPING", "STOPPED", "FAILED"):
                        break
                    if error is not None and error.reason == "RATE_LIMIT_EXCEEDED":
                        # The service's own per-user limit on StopGrid: wait out its window.
                        await asyncio.sleep(min(error.retry_after_s or 5.0, MAX_RATE_LIMIT_WAIT_S))

    async def _count_totals(self) -> None:
        snapshot = await self._snapshot()
        if snapshot is None:
            self.report.notes.append(f"no final totals: {self._last_error}")
            return
        prefixes = {run.prefix for run in snapshot.runs}
        self.report.orders = sum(1 for o in snapshot.orders if inv.prefix_of(o.client_order_id) in prefixes)
        self.report.fills = sum(1 for t in snapshot.trades if inv.prefix_of(t.client_order_id) in prefixes)
        self.report.ledger_fills = len(snapshot.ledger)
        self.report.runs = len(snapshot.runs)
        self.report.notes.extend(
            f"close clamped: {note}"
            for note in inv.closes_clamped(snapshot.runs, snapshot.trades, snapshot.submissions)
        )
        dump = {
            "runs": [dataclasses.asdict(run) for run in snapshot.runs],
            "orders": [dataclasses.asdict(o) for o in snapshot.orders],
            "trades": [dataclasses.asdict(t) for t in snapshot.trades],
            "submissions": [dataclasses.asdict(s) for s in snapshot.submissions],
            "ledger": [dataclasses.asdict(f) for f in snapshot.ledger],
        }
        (self.workdir / "final-snapshot.json").write_text(json.dumps(dump, default=str, indent=1))

    def _ctl(self) -> SimulatorControl:
        assert self.control is not None
        return self.control

    async def _tear_down(self) -> None:
        if self._stall_task is not None:
            self._stall_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._stall_task
        for client in self.clients:
            with contextlib.suppress(Exception):
                await client.close()
        if self.service is not None:
            code = await self.service.kill()
            if code is not None and code != -9:
                self._unexpected_exit(code)
        if self.sim is not None:
            await self.sim.kill()
        if self.control is not None:
            await self.control.close()
        if self.nx is not None:
            await asyncio.to_thread(self.nx.stop)
