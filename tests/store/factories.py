"""Small builders of valid records, so each test states only what it is about."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from engine.types import Side
from server.store import FillRecord, OrderRecord, SessionRecord, SessionStatus, SummaryRecord

T0_MS = 1_764_000_000_000


def session(
    session_id: str = "0xabc_PERP_BTC_USDC",
    *,
    user_id: str = "0xabc",
    status: SessionStatus = SessionStatus.RUNNING,
    created_at_ms: int = T0_MS,
    **changes: Any,
) -> SessionRecord:
    return SessionRecord(
        session_id=session_id,
        user_id=user_id,
        symbol=changes.pop("symbol", "PERP_BTC_USDC"),
        status=status,
        config=changes.pop("config", {"upper_bound": "45000", "lower_bound": "40000", "grid_levels": 6}),
        engine_state=changes.pop("engine_state", {"cells": [], "cycle": 0}),
        created_at_ms=created_at_ms,
        updated_at_ms=changes.pop("updated_at_ms", created_at_ms),
        **changes,
    )


def fill(
    trade_id: str,
    *,
    session_id: str = "0xabc_PERP_BTC_USDC",
    user_id: str = "0xabc",
    order_id: str = "9001",
    price: str = "42000.5",
    quantity: str = "0.001",
    fee: str = "0.0126",
    timestamp_ms: int = T0_MS,
) -> FillRecord:
    return FillRecord(
        session_id=session_id,
        user_id=user_id,
        order_id=order_id,
        trade_id=trade_id,
        client_order_id=f"{session_id}-c3-B-0",
        side=Side.BUY,
        price=Decimal(price),
        quantity=Decimal(quantity),
        fee=Decimal(fee),
        timestamp_ms=timestamp_ms,
    )


def order(
    client_order_id: str,
    *,
    session_id: str = "0xabc_PERP_BTC_USDC",
    status: str = "NEW",
    created_at_ms: int = T0_MS,
    price: str = "41000",
) -> OrderRecord:
    return OrderRecord(
        client_order_id=client_order_id,
        session_id=session_id,
        side=Side.BUY,
        price=Decimal(price),
        quantity=Decimal("0.0024"),
        status=status,
        created_at_ms=created_at_ms,
        updated_at_ms=created_at_ms,
        cell_index=1,
    )


def summary(
    session_id: str,
    *,
    user_id: str = "0xabc",
    status: SessionStatus = SessionStatus.STOPPED,
    created_at_ms: int = T0_MS,
    realized_profit: str = "12.3400",
) -> SummaryRecord:
    return SummaryRecord(
        session_id=session_id,
        user_id=user_id,
        symbol="PERP_BTC_USDC",
        status=status,
        created_at_ms=created_at_ms,
        stopped_at_ms=created_at_ms + 3_600_000,
        realized_profit=Decimal(realized_profit),
        fees=Decimal("-1.25"),
        funding=Decimal("0.0031"),
        unrealized=Decimal("-0.5"),
        total_pnl=Decimal("10.5931"),
        round_trips=7,
        grid_apr=Decimal("0.1234"),
        total_apr=Decimal("0.1059"),
        stop_reason="MANUAL",
    )
