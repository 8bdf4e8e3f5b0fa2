"""The session's state: one immutable value, replaced (with structural sharing) by every `step`.

`state_to_dict` / `state_from_dict` turn it into a JSON-compatible dict (Decimals as strings, enums as
their values, sets as sorted lists) for the store, and back; the round trip is exact.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Any, NamedTuple

from engine.cells import CellState, CellStatus
from engine.config import GridConfig
from engine.ledger import Ledger, PnlReport, ledger_report
from engine.market import MarketRules
from engine.plan import GridPlan
from engine.types import Direction, GridType, Side, StopReason

# 2: trailing (the config's trailing fields; the plan's cell numbers and retired cells). A state of
# format 1 loads as a grid that never shifted.
STATE_FORMAT_VERSION = 2
_LOADABLE_VERSIONS = frozenset({1, STATE_FORMAT_VERSION})


class SessionStatus(StrEnum):
    PENDING_TRIGGER = "PENDING_TRIGGER"  # waiting for the mark to cross trigger_price; no orders yet
    RUNNING = "RUNNING"
    STOPPED = "STOPPED"  # cancels (and maybe a close) issued; events are still booked, nothing is placed


class SessionState(NamedTuple):
    config: GridConfig
    rules: MarketRules
    plan: GridPlan
    prefix: str  # client_order_id prefix of this run
    status: SessionStatus
    cells: tuple[CellState, ...]
    ledger: Ledger = Ledger()
    stop_reason: StopReason | None = None
    stop_detail: str = ""
    close_requested: bool = False
    close_sequence: int = 0
    close_trade_keys: frozenset[tuple[str, str]] = frozenset()
    funding_keys: frozenset[int] = frozenset()  # timestamp_ms of applied funding settlements
    # (order_id, trade_id) of booked trades of the session's orders that no cell follows any more
    orphan_trade_keys: frozenset[tuple[str, str]] = frozenset()
    # Cells whose post-only order the venue cancelled unfilled (it would have taken): each places its
    # order again once the mark lets it rest (engine.stops.apply_mark).
    parked_cells: frozenset[int] = frozenset()
    last_snapshot_ms: int = -1

    @property
    def prefix_dash(self) -> str:
        return self.prefix + "-"


def pnl(state: SessionState, mark_price: Decimal, run_time_ms: int) -> PnlReport:
    """The session's PnL at `mark_price`; APRs annualised over `run_time_ms` (0 -> APR 0)."""
    return ledger_report(state.ledger, state.config.total_margin, mark_price, run_time_ms)


def _dec(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _undec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(value)


_CONFIG_DECIMALS = (
    "lower_price",
    "upper_price",
    "current_price",
    "total_margin",
    "grid_ratio",
    "trigger_price",
    "stop_loss_price",
    "take_profit_price",
    "maker_fee_rate",
    "taker_fee_rate",
)
_CONFIG_OPTIONAL_DECIMALS = ("trailing_up_limit", "trailing_down_limit")
_CONFIG_FLAGS = ("trailing_up", "trailing_down", "trailing_close")
_RULES_DECIMALS = (
    "quote_tick",
    "base_tick",
    "base_min",
    "base_max",
    "min_notional",
    "quote_min",
    "quote_max",
    "price_scope",
)
_CELL_DECIMALS = (
    "order_quantity",
    "order_filled",
    "holding",
    "entry_value",
    "entry_fees",
    "exit_filled",
    "exit_value",
    "exit_fees",
)


def _config_to_dict(config: GridConfig) -> dict[str, Any]:
    data: dict[str, Any] = {
        "session_key": config.session_key,
        "symbol": config.symbol,
        "direction": config.direction.value,
        "grid_type": config.grid_type.value,
        "grid_levels": config.grid_levels,
        "leverage": config.leverage,
        "close_position_on_stop": config.close_position_on_stop,
    }
    data.update({name: _dec(getattr(config, name)) for name in _CONFIG_DECIMALS + _CONFIG_OPTIONAL_DECIMALS})
    data.update({name: bool(getattr(config, name)) for name in _CONFIG_FLAGS})
    return data


def _config_from_dict(data: dict[str, Any]) -> GridConfig:
    decimals = {name: _undec(data[name]) for name in _CONFIG_DECIMALS}
    decimals |= {name: _undec(data.get(name)) for name in _CONFIG_OPTIONAL_DECIMALS}
    return GridConfig(
        session_key=data["session_key"],
        symbol=data["symbol"],
        direction=Direction(data["direction"]),
        grid_type=GridType(data["grid_type"]),
        grid_levels=int(data["grid_levels"]),
        leverage=int(data["leverage"]),
        close_position_on_stop=bool(data["close_position_on_stop"]),
        trailing_up=bool(data.get("trailing_up", False)),
        trailing_down=bool(data.get("trailing_down", False)),
        trailing_close=bool(data.get("trailing_close", False)),
        **decimals,  # type: ignore[arg-type]
    )


def _cell_to_dict(cell: CellState) -> dict[str, Any]:
    data: dict[str, Any] = {
        "entry_side": None if cell.entry_side is None else cell.entry_side.value,
        "side": None if cell.side is None else cell.side.value,
        "status": cell.status.value,
        "cycle": cell.cycle,
        "client_order_id": cell.client_order_id,
        "order_id": cell.order_id,
        "trade_ids": _key_list(cell.trade_ids),
        "previous_client_order_id": cell.previous_client_order_id,
        "previous_trade_ids": _key_list(cell.previous_trade_ids),
    }
    data.update({name: str(getattr(cell, name)) for name in _CELL_DECIMALS})
    return data


def _key_list(keys: frozenset[tuple[str, str]]) -> list[list[str]]:
    return sorted([list(key) for key in keys])


def _keys(data: list[list[str]]) -> frozenset[Any]:
    return frozenset((order_id, trade_id) for order_id, trade_id in data)


def _cell_from_dict(data: dict[str, Any]) -> CellState:
    return CellState(
        entry_side=None if data["entry_side"] is None else Side(data["entry_side"]),
        side=None if data["side"] is None else Side(data["side"]),
        status=CellStatus(data["status"]),
        cycle=int(data["cycle"]),
        client_order_id=data["client_order_id"],
        order_id=data["order_id"],
        trade_ids=_keys(data["trade_ids"]),
        previous_client_order_id=data["previous_client_order_id"],
        previous_trade_ids=_keys(data["previous_trade_ids"]),
        **{name: Decimal(data[name]) for name in _CELL_DECIMALS},
    )


def state_to_dict(state: SessionState) -> dict[str, Any]:
    plan, ledger = state.plan, state.ledger
    return {
        "format_version": STATE_FORMAT_VERSION,
        "config": _config_to_dict(state.config),
        "rules": {"symbol": state.rules.symbol}
        | {name: str(getattr(state.rules, name)) for name in _RULES_DECIMALS},
        "plan": {
            "lines": [str(line) for line in plan.lines],
            "entry_sides": [None if side is None else side.value for side in plan.entry_sides],
            "quantities": [str(quantity) for quantity in plan.quantities],
            "margin_per_cell": str(plan.margin_per_cell),
            "numbers": list(plan.numbers),
            "next_number": plan.next_number,
            "retired_below": plan.retired_below,
            "retired_above": plan.retired_above,
            "shifts": plan.shifts,
        },
        "prefix": state.prefix,
        "status": state.status.value,
        "cells": [_cell_to_dict(cell) for cell in state.cells],
        "ledger": {
            "position": str(ledger.position),
            "cost": str(ledger.cost),
            "fees": str(ledger.fees),
            "realized_grid_profit": str(ledger.realized_grid_profit),
            "round_trips": ledger.round_trips,
            "funding": str(ledger.funding),
            "entry_value": str(ledger.entry_value),
        },
        "stop_reason": None if state.stop_reason is None else state.stop_reason.value,
        "stop_detail": state.stop_detail,
        "close_requested": state.close_requested,
        "close_sequence": state.close_sequence,
        "close_trade_keys": _key_list(state.close_trade_keys),
        "funding_keys": sorted(state.funding_keys),
        "orphan_trade_keys": _key_list(state.orphan_trade_keys),
        "parked_cells": sorted(state.parked_cells),
        "last_snapshot_ms": state.last_snapshot_ms,
    }


def state_from_dict(data: dict[str, Any]) -> SessionState:
    version = data.get("format_version")
    if version not in _LOADABLE_VERSIONS:
        raise ValueError(f"format_version: expected one of {sorted(_LOADABLE_VERSIONS)}, got {version!r}")
    rules_data = data["rules"]
    plan_data, ledger_data = data["plan"], data["ledger"]
    return SessionState(
        config=_config_from_dict(data["config"]),
        rules=MarketRules(
            symbol=rules_data["symbol"],
            **{name: Decimal(rules_data.get(name, "0")) for name in _RULES_DECIMALS},
        ),
        plan=GridPlan(
            lines=tuple(Decimal(line) for line in plan_data["lines"]),
            entry_sides=tuple(None if side is None else Side(side) for side in plan_data["entry_sides"]),
            quantities=tuple(Decimal(quantity) for quantity in plan_data["quantities"]),
            margin_per_cell=Decimal(plan_data["margin_per_cell"]),
            numbers=tuple(int(number) for number in plan_data.get("numbers", [])),
            next_number=int(plan_data.get("next_number", 0)),
            retired_below=int(plan_data.get("retired_below", 0)),
            retired_above=int(plan_data.get("retired_above", 0)),
            shifts=int(plan_data.get("shifts", 0)),
        ),
        prefix=data["prefix"],
        status=SessionStatus(data["status"]),
        cells=tuple(_cell_from_dict(cell) for cell in data["cells"]),
        ledger=Ledger(
            position=Decimal(ledger_data["position"]),
            cost=Decimal(ledger_data["cost"]),
            fees=Decimal(ledger_data["fees"]),
            realized_grid_profit=Decimal(ledger_data["realized_grid_profit"]),
            round_trips=int(ledger_data["round_trips"]),
            funding=Decimal(ledger_data["funding"]),
            entry_value=_entry_value(ledger_data),
        ),
        stop_reason=None if data["stop_reason"] is None else StopReason(data["stop_reason"]),
        stop_detail=data["stop_detail"],
        close_requested=bool(data["close_requested"]),
        close_sequence=int(data["close_sequence"]),
        close_trade_keys=_keys(data["close_trade_keys"]),
        funding_keys=frozenset(int(key) for key in data["funding_keys"]),
        orphan_trade_keys=_keys(data.get("orphan_trade_keys", [])),
        parked_cells=frozenset(int(index) for index in data.get("parked_cells", [])),
        last_snapshot_ms=int(data["last_snapshot_ms"]),
    )


def _entry_value(ledger_data: dict[str, Any]) -> Decimal:
    """A state saved before the ledger kept the entry value: cost + grid profit reproduces the figures
    that state showed (realized = grid profit, the rest unrealized) until its position is next traded."""
    if "entry_value" in ledger_data:
        return Decimal(ledger_data["entry_value"])
    return Decimal(ledger_data["cost"]) + Decimal(ledger_data["realized_grid_profit"])
