"""The chaos suite's invariants: plain functions over the venue's history (the ground truth, from the
simulator's /sim/history) and what the service reports (its fill ledger and its sessions' figures).

Each check returns the violations it finds; a violation has a stable `key`, so a run that checks after
every restart counts each distinct violation once. Nothing here does I/O.

Sessions are told apart by their client_order_id prefix (`<prefix>-<cell><B|S><n>`, closing orders
`<prefix>-x<B|S><n>`; engine/order_ids.py): a session id is reused by every run on the same user and
symbol, the prefix is not.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from engine.order_ids import parse_client_order_id
from server.simulator.history import OrderRecord, Submission, TradeRecord

ZERO = Decimal(0)
QUANTITY_TOLERANCE = Decimal("0.000000001")
MONEY_TOLERANCE = Decimal("0.0001")

# The invariants, in the order the report shows them.
ACCEPTED_TWICE = "coid_accepted_twice"
RESUBMITTED = "coid_sent_again"
CELL_LIVE_TWICE = "two_live_in_cell"
FILL_MISSING = "fill_missing"
FILL_DUPLICATED = "fill_duplicated"
FILL_EXTRA = "fill_extra"
FIGURES = "figures_mismatch"
OPEN_AFTER_STOP = "open_after_stop"
NOT_FLAT_AFTER_CLOSE = "not_flat_after_close"
STUCK = "stuck_session"
UNEXPECTED_EXIT = "unexpected_exit"
NEVER_READY = "never_ready"
INVARIANTS = (
    ACCEPTED_TWICE,
    RESUBMITTED,
    CELL_LIVE_TWICE,
    FILL_MISSING,
    FILL_DUPLICATED,
    FILL_EXTRA,
    FIGURES,
    OPEN_AFTER_STOP,
    NOT_FLAT_AFTER_CLOSE,
    STUCK,
    UNEXPECTED_EXIT,
    NEVER_READY,
)
# Violations the service may still repair by itself (a lost push is recovered by its periodic
# reconciliation, a stop is finishing): a checker polls until these are gone or a deadline passes.
SETTLING = frozenset(
    {FILL_MISSING, FILL_DUPLICATED, FILL_EXTRA, FIGURES, OPEN_AFTER_STOP, NOT_FLAT_AFTER_CLOSE, STUCK}
)
FINISHED_STATUSES = frozenset({"STOPPED", "FAILED"})
TRANSIENT_STATUSES = frozenset({"STARTING", "STOPPING"})


@dataclass(frozen=True)
class Violation:
    invariant: str
    key: str  # identifies the violation across checks (same fault, same key)
    detail: str


@dataclass(frozen=True)
class LedgerFill:
    """One fill of the service's ledger (WatchFills)."""

    seq: int
    session_id: str
    client_order_id: str
    order_id: str
    trade_id: str
    side: str  # BUY | SELL
    price: Decimal
    quantity: Decimal
    fee: Decimal


@dataclass(frozen=True)
class Figures:
    """A session's figures as the service reports them (GetGrid)."""

    position: Decimal
    fees: Decimal
    trading_pnl: Decimal  # realized + unrealized: position * mark - cost, fees included
    mark: Decimal


@dataclass(frozen=True)
class Run:
    """One run of a session (StartGrid to its end), as the chaos driver knows it."""

    session_id: str
    prefix: str
    status: str  # STARTING | WAITING_TRIGGER | RUNNING | STOPPING | STOPPED | FAILED
    close_requested: bool = False  # StopGrid(close_position=true) was sent (or the config asks)
    figures: Figures | None = None  # None when the service did not report this run's figures
    account_id: str = ""  # the Orderly account it trades on ("" = unknown)
    symbol: str = ""
    stopped_ms: int = 0  # when it finished (0 = unknown, or not finished)

    @property
    def finished(self) -> bool:
        return self.status in FINISHED_STATUSES


def prefix_of(client_order_id: str | None) -> str | None:
    if not client_order_id:
        return None
    parsed = parse_client_order_id(client_order_id)
    return parsed.prefix if parsed is not None else None


def _signed(side: str, quantity: Decimal) -> Decimal:
    return quantity if side == "BUY" else -quantity


# --- venue-only invariants -------------------------------------------------------------------------


def accepted_twice(orders: Iterable[OrderRecord]) -> list[Violation]:
    """A client_order_id the venue accepted more than once on one account."""
    counts: Counter[tuple[str, str]] = Counter(
        (o.account_id, o.client_order_id) for o in orders if o.client_order_id
    )
    return [
        Violation(ACCEPTED_TWICE, f"{account}/{cid}", f"{cid} accepted {n} times on account {account[:10]}")
        for (account, cid), n in sorted(counts.items())
        if n > 1
    ]


def sent_again(submissions: Iterable[Submission]) -> list[Violation]:
    """A client_order_id submitted more than once on one account, whatever the venue answered the
    second time (-1007 for one still open; accepted again once the first was done)."""
    seen: dict[tuple[str, str], list[Submission]] = defaultdict(list)
    for submission in submissions:
        seen[(submission.account_id, submission.client_order_id)].append(submission)
    violations = []
    for (account, cid), rows in sorted(seen.items()):
        if len(rows) > 1:
            outcomes = ", ".join("accepted" if r.accepted else f"rejected {r.error_code}" for r in rows)
            violations.append(
                Violation(RESUBMITTED, f"{account}/{cid}", f"{cid} sent {len(rows)} times: {outcomes}")
            )
    return violations


def live_twice_in_a_cell(orders: Iterable[OrderRecord]) -> list[Violation]:
    """Two orders of one cell (same account, prefix and cell index) live at the same time: one was
    created strictly before the other ended (was filled or cancelled). Closing orders have no cell."""
    cells: dict[tuple[str, str, int], list[OrderRecord]] = defaultdict(list)
    for order in orders:
        parsed = parse_client_order_id(order.client_order_id or "")
        if parsed is not None and parsed.cell_index is not None:
            cells[(order.account_id, parsed.prefix, parsed.cell_index)].append(order)
    violations = []
    for (_account, prefix, cell), members in sorted(cells.items()):
        members.sort(key=lambda o: (o.created_ms, o.order_id))
        for index, first in enumerate(members):
            first_end = first.updated_ms if not first.is_open else None
            for second in members[index + 1 :]:
                if first_end is not None and second.created_ms >= first_end:
                    continue
                violations.append(
                    Violation(
                        CELL_LIVE_TWICE,
                        f"{prefix}-{cell}/{first.order_id}/{second.order_id}",
                        f"cell {cell} of {prefix}: {first.client_order_id} (order {first.order_id}, "
                        f"{first.status}) and {second.client_order_id} (order {second.order_id}, "
                        f"{second.status}) live at once",
                    )
                )
    return violations


# --- venue against the service ---------------------------------------------------------------------


def trades_by_prefix(trades: Iterable[TradeRecord]) -> dict[str, list[TradeRecord]]:
    grouped: dict[str, list[TradeRecord]] = defaultdict(list)
    for trade in trades:
        prefix = prefix_of(trade.client_order_id)
        if prefix is not None:
            grouped[prefix].append(trade)
    return grouped


def ledger_mismatches(
    runs: Sequence[Run], trades: Iterable[TradeRecord], ledger: Iterable[LedgerFill]
) -> list[Violation]:
    """Every venue trade of a run's orders is in the ledger exactly once, under the run's session,
    and the ledger holds nothing else: no fill the venue did not make."""
    all_trades = list(trades)
    by_prefix = trades_by_prefix(all_trades)
    venue_keys = {(str(t.order_id), str(t.trade_id)) for t in all_trades}
    booked: dict[tuple[str, str], list[LedgerFill]] = defaultdict(list)
    for fill in ledger:
        booked[(fill.order_id, fill.trade_id)].append(fill)
    violations = []
    for run in runs:
        for trade in by_prefix.get(run.prefix, []):
            key = (str(trade.order_id), str(trade.trade_id))
            entries = booked.get(key, [])
            what = (
                f"trade {trade.trade_id} of {trade.client_order_id} (order {trade.order_id}, "
                f"{trade.side} {trade.quantity} @ {trade.price})"
            )
            if not entries:
                violations.append(
                    Violation(
                        FILL_MISSING, f"{key[0]}/{key[1]}", f"{what} not in the ledger of {run.session_id}"
                    )
                )
            elif len(entries) > 1:
                seqs = ", ".join(str(e.seq) for e in entries)
                violations.append(
                    Violation(
                        FILL_DUPLICATED,
                        f"{key[0]}/{key[1]}",
                        f"{what} booked {len(entries)} times: seq {seqs}",
                    )
                )
            wrong = [e for e in entries if e.session_id != run.session_id]
            if wrong:
                violations.append(
                    Violation(
                        FILL_EXTRA,
                        f"{key[0]}/{key[1]}/session",
                        f"{what} booked under {wrong[0].session_id}, not {run.session_id}",
                    )
                )
    for key, entries in sorted(booked.items()):
        if key not in venue_keys:
            fill = entries[0]
            violations.append(
                Violation(
                    FILL_EXTRA,
                    f"{key[0]}/{key[1]}",
                    f"ledger fill seq {fill.seq} of {fill.session_id} ({fill.client_order_id}, order "
                    f"{key[0]}, trade {key[1]}) was never made by the venue",
                )
            )
    return violations


def venue_figures(trades: Iterable[TradeRecord], mark: Decimal) -> Figures:
    """What a run's venue trades imply: position, fees, and position * mark - cost."""
    position = fees = cost = ZERO
    for trade in trades:
        signed = _signed(trade.side, trade.quantity)
        position += signed
        fees += trade.fee
        cost += signed * trade.price + trade.fee
    return Figures(position=position, fees=fees, trading_pnl=position * mark - cost, mark=mark)


def figure_mismatches(runs: Sequence[Run], trades: Iterable[TradeRecord]) -> list[Violation]:
    """A run's position, fees and trading money (realized + unrealized at its mark) as reported
    equal the sums over its venue trades."""
    by_prefix = trades_by_prefix(trades)
    violations = []
    for run in runs:
        if run.figures is None:
            continue
        reported = run.figures
        truth = venue_figures(by_prefix.get(run.prefix, []), reported.mark)
        wrong = []
        if abs(reported.position - truth.position) > QUANTITY_TOLERANCE:
            wrong.append(f"position {reported.position} vs venue {truth.position}")
        if abs(reported.fees - truth.fees) > MONEY_TOLERANCE:
            wrong.append(f"fees {reported.fees} vs venue {truth.fees}")
        if abs(reported.trading_pnl - truth.trading_pnl) > MONEY_TOLERANCE:
            wrong.append(f"realized+unrealized {reported.trading_pnl} vs venue {truth.trading_pnl}")
        if wrong:
            violations.append(
                Violation(
                    FIGURES,
                    f"{run.prefix}/{run.status}",
                    f"{run.session_id} ({run.prefix}): {'; '.join(wrong)}",
                )
            )
    return violations


MIN_NOTIONAL_CODE = -1102


def refused_as_dust(run: Run, submissions: Iterable[Submission]) -> bool:
    """Whether the venue's answer to the run's last closing order was "below the minimum order
    value" (-1102): a residual no order can close, which stays with the account."""
    closes = [s for s in submissions if s.client_order_id.startswith(f"{run.prefix}-x")]
    return bool(closes) and max(closes, key=lambda s: s.timestamp_ms).error_code == MIN_NOTIONAL_CODE


def stop_leftovers(
    runs: Sequence[Run],
    orders: Iterable[OrderRecord],
    trades: Iterable[TradeRecord],
    submissions: Iterable[Submission] = (),
) -> list[Violation]:
    """A finished run has no open order left on the venue, and one stopped with close_position holds
    no inventory (the sum of its own trades is zero) -- unless the account held less than that on the
    symbol when it stopped (see `_reducible`), or the venue refused its last close as below its
    minimum order value (`refused_as_dust`)."""
    all_submissions = list(submissions)
    all_trades = list(trades)
    open_by_prefix: dict[str, list[OrderRecord]] = defaultdict(list)
    for order in orders:
        prefix = prefix_of(order.client_order_id)
        if prefix is not None and order.is_open:
            open_by_prefix[prefix].append(order)
    by_prefix = trades_by_prefix(all_trades)
    violations = []
    for run in runs:
        if not run.finished:
            continue
        for order in open_by_prefix.get(run.prefix, []):
            violations.append(
                Violation(
                    OPEN_AFTER_STOP,
                    f"{run.prefix}/{order.order_id}",
                    f"{run.session_id} is {run.status} but {order.client_order_id} (order {order.order_id}, "
                    f"{order.side} {order.quantity} @ {order.price}) is still {order.status}",
                )
            )
        if run.close_requested:
            inventory = venue_figures(by_prefix.get(run.prefix, []), ZERO).position
            reducible = _reducible(run, inventory, all_trades)
            if reducible != 0 and not refused_as_dust(run, all_submissions):
                violations.append(
                    Violation(
                        NOT_FLAT_AFTER_CLOSE,
                        run.prefix,
                        f"{run.session_id} ({run.prefix}) stopped with close_position, {run.status}, but its "
                        f"trades leave {inventory} while the account still held {reducible} of it to close",
                    )
                )
    return violations


def account_position_at(trades: Iterable[TradeRecord], account_id: str, symbol: str, at_ms: int) -> Decimal:
    """The account's position on `symbol` at `at_ms` (accounts start flat): its trades until then."""
    return sum(
        (
            _signed(t.side, t.quantity)
            for t in trades
            if t.account_id == account_id and t.symbol == symbol and t.timestamp_ms <= at_ms
        ),
        ZERO,
    )


def _reducible(run: Run, inventory: Decimal, trades: Sequence[TradeRecord]) -> Decimal:
    """How much of a closed run's inventory the venue would still have let it close: a close is
    reduce-only, clamped to the account's position on the symbol when the run stopped (the rest of
    that position may be an earlier run's leftover of the other sign). Unknown account or stop time:
    the whole inventory."""
    if inventory == 0:
        return ZERO
    if not run.account_id or not run.symbol or not run.stopped_ms:
        return inventory
    held = account_position_at(trades, run.account_id, run.symbol, run.stopped_ms)
    if (held > 0) != (inventory > 0) or held == 0:
        return ZERO
    return min(abs(held), abs(inventory)) * (1 if inventory > 0 else -1)


def closes_clamped(
    runs: Sequence[Run], trades: Iterable[TradeRecord], submissions: Iterable[Submission] = ()
) -> list[str]:
    """Runs stopped with close_position whose inventory stayed because the account held less of it,
    or because the venue refused the close as below its minimum order value (not violations: the
    close is clamped to what the venue holds and takes); for the report."""
    all_trades = list(trades)
    all_submissions = list(submissions)
    by_prefix = trades_by_prefix(all_trades)
    notes = []
    for run in runs:
        if run.finished and run.close_requested:
            inventory = venue_figures(by_prefix.get(run.prefix, []), ZERO).position
            if inventory == 0:
                continue
            if _reducible(run, inventory, all_trades) == 0:
                held = account_position_at(all_trades, run.account_id, run.symbol, run.stopped_ms)
                notes.append(f"{run.session_id} ({run.prefix}) keeps {inventory}: the account held {held}")
            elif refused_as_dust(run, all_submissions):
                notes.append(f"{run.session_id} ({run.prefix}) keeps {inventory}: below the venue's minimum")
    return notes


def stuck_sessions(runs: Sequence[Run]) -> list[Violation]:
    return [
        Violation(STUCK, run.prefix, f"{run.session_id} ({run.prefix}) is still {run.status}")
        for run in runs
        if run.status in TRANSIENT_STATUSES
    ]


@dataclass(frozen=True)
class Snapshot:
    """Everything one check looks at: the venue's history of every account, the service's ledger of
    every user, and the runs the driver knows."""

    orders: tuple[OrderRecord, ...]
    trades: tuple[TradeRecord, ...]
    submissions: tuple[Submission, ...]
    ledger: tuple[LedgerFill, ...]
    runs: tuple[Run, ...]


def check(snapshot: Snapshot, *, final: bool) -> list[Violation]:
    """Every invariant over one snapshot; sessions still starting or stopping count only in the
    `final` check (after a settle period)."""
    violations = [
        *accepted_twice(snapshot.orders),
        *sent_again(snapshot.submissions),
        *live_twice_in_a_cell(snapshot.orders),
        *ledger_mismatches(snapshot.runs, snapshot.trades, snapshot.ledger),
        *figure_mismatches(snapshot.runs, snapshot.trades),
        *stop_leftovers(snapshot.runs, snapshot.orders, snapshot.trades, snapshot.submissions),
    ]
    if final:
        violations.extend(stuck_sessions(snapshot.runs))
    return violations


def unsettled(snapshot: Snapshot) -> bool:
    """Whether a run is still starting or stopping (a checker waits for those before judging)."""
    return any(run.status in TRANSIENT_STATUSES for run in snapshot.runs)
