"""The engine's entry points: `start(config, rules)` and `step(state, event)`.

Both are pure: no clock, no randomness, no I/O. `step` never raises for anything the venue or the
user can send; what it refuses to act on comes back as a ReportAnomaly command.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.cells import initial_cell
from engine.commands import Command, ReportAnomaly
from engine.config import GridConfig
from engine.events import (
    Event,
    FundingSettled,
    MarkPriceUpdated,
    OrderAccepted,
    OrderCancelled,
    OrderFilled,
    OrderPartiallyFilled,
    OrderRejected,
    StopRequested,
    VenueSnapshot,
)
from engine.fills import apply_fill
from engine.market import MarketRules
from engine.order_events import apply_accepted, apply_cancelled, apply_rejected
from engine.order_ids import client_order_id_prefix
from engine.plan import build_plan
from engine.reconcile import reconcile
from engine.state import SessionState, SessionStatus
from engine.stops import apply_mark, apply_stop_request, place_ladder

Outcome = tuple[SessionState, tuple[Command, ...]]


def start(config: GridConfig, rules: MarketRules) -> Outcome:
    """Validate the config (GridConfigError lists every violation) and return the session's first
    state with its opening orders, or a PENDING_TRIGGER state with none when a trigger is set."""
    plan = build_plan(config, rules)
    cells = tuple(initial_cell(side) for side in plan.entry_sides)
    prefix = client_order_id_prefix(config.session_key)
    if config.trigger_price is not None:
        return SessionState(config, rules, plan, prefix, SessionStatus.PENDING_TRIGGER, cells), ()
    state, orders = place_ladder(SessionState(config, rules, plan, prefix, SessionStatus.RUNNING, cells))
    return state, tuple(orders)


def _apply_funding(state: SessionState, event: FundingSettled) -> Outcome:
    # Funding settles at most once per timestamp, which makes the event idempotent.
    if event.timestamp_ms in state.funding_keys:
        return state, ()
    ledger = state.ledger._replace(funding=state.ledger.funding + event.amount)
    return state._replace(ledger=ledger, funding_keys=state.funding_keys | {event.timestamp_ms}), ()


_HANDLERS: dict[type, Callable[[SessionState, Any], Outcome]] = {
    OrderFilled: apply_fill,
    OrderPartiallyFilled: apply_fill,
    OrderAccepted: apply_accepted,
    OrderRejected: apply_rejected,
    OrderCancelled: apply_cancelled,
    MarkPriceUpdated: apply_mark,
    FundingSettled: _apply_funding,
    StopRequested: apply_stop_request,
    VenueSnapshot: reconcile,
}


def step(state: SessionState, event: Event) -> Outcome:
    handler = _HANDLERS.get(type(event))
    if handler is None:
        return state, (ReportAnomaly("unknown_event", type(event).__name__),)
    return handler(state, event)
