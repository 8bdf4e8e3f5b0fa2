"""The session document the runner keeps in the store's `engine_state`: the engine's own state plus
the little the runtime needs to resume (the time of the last fill, what a stop did)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from engine import SessionState, state_from_dict, state_to_dict


@dataclass(frozen=True, slots=True)
class Runtime:
    last_fill_ms: int = 0  # venue time of the newest fill applied; resume asks for trades since then
    cancelled_orders: int = 0  # what the stop did, for StopGrid's answer and the summary
    closed_quantity: Decimal = Decimal(0)
    stop_detail: str = ""
    mark_price: str = ""  # the mark when the session stopped (its PnL is valued there afterwards)
    # The account's position on the symbol when the session started: the session's inventory is the
    # venue's position minus this (one running grid per account and symbol).
    baseline_position: Decimal = Decimal(0)
    # The store's seq of the newest fill of this session applied to the engine state saved with this
    # runtime: fills in the ledger after it were appended but not yet applied (a crash in between)
    # and are applied first on resume. None for a document written before this was kept.
    last_fill_seq: int | None = 0
    close_order_ids: tuple[str, ...] = ()  # every closing order issued, to look up after a restart

    def with_fill(self, timestamp_ms: int) -> Runtime:
        return self if timestamp_ms <= self.last_fill_ms else replace(self, last_fill_ms=timestamp_ms)

    def with_close_order(self, client_order_id: str) -> Runtime:
        if client_order_id in self.close_order_ids:
            return self
        return replace(self, close_order_ids=(*self.close_order_ids, client_order_id))


def stored_mark(state: SessionState, runtime: Runtime) -> Decimal:
    """The mark a stored session is valued at: the one recorded when it stopped, else its config's."""
    return Decimal(runtime.mark_price) if runtime.mark_price else state.config.current_price


def to_document(state: SessionState, runtime: Runtime) -> dict[str, Any]:
    return {
        "engine": state_to_dict(state),
        "runtime": {
            "last_fill_ms": runtime.last_fill_ms,
            "cancelled_orders": runtime.cancelled_orders,
            "closed_quantity": str(runtime.closed_quantity),
            "stop_detail": runtime.stop_detail,
            "mark_price": runtime.mark_price,
            "baseline_position": str(runtime.baseline_position),
            "last_fill_seq": runtime.last_fill_seq,
            "close_order_ids": list(runtime.close_order_ids),
        },
    }


def from_document(document: dict[str, Any]) -> tuple[SessionState, Runtime]:
    data = document.get("runtime") or {}
    runtime = Runtime(
        last_fill_ms=int(data.get("last_fill_ms", 0)),
        cancelled_orders=int(data.get("cancelled_orders", 0)),
        closed_quantity=Decimal(str(data.get("closed_quantity", "0"))),
        stop_detail=str(data.get("stop_detail", "")),
        mark_price=str(data.get("mark_price", "")),
        baseline_position=Decimal(str(data.get("baseline_position", "0"))),
        last_fill_seq=None if data.get("last_fill_seq") is None else int(data["last_fill_seq"]),
        close_order_ids=tuple(str(cid) for cid in data.get("close_order_ids", ())),
    )
    return state_from_dict(document["engine"]), runtime
