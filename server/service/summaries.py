"""ListGridSummaries: finished runs (the store's summaries) and live sessions in one listing, newest
first, with totals over every match.

Finished runs live in the summaries collection (a session id that was started again keeps every old
run there); live sessions only in the sessions collection. The listing merges both, so it reads all
matches (up to MAX_MATCHES) to compute the totals anyway, and pages over the merged list with an
opaque offset token bound to the filters.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from engine import PnlReport
from server.api.errors import DomainError, ErrorReason
from server.service.views import GridView
from server.store import SessionRecord, SessionStatus, Store, SummaryRecord

MAX_MATCHES = 10_000
_SCAN_PAGE = 500


@dataclass(frozen=True, slots=True)
class SummaryView:
    session_id: str
    user_id: str
    symbol: str
    status: str  # the API's GridStatus name
    config: dict[str, Any]  # GridConfigInput fields as stored
    pnl: PnlReport
    open_order_count: int
    created_ms: int
    stopped_ms: int
    stop_reason: str | None
    run_id: str = ""
    valued_at_price: Decimal = Decimal(0)
    valued_at_ms: int = 0
    position_handed_back: bool = False


@dataclass(frozen=True, slots=True)
class SummaryTotals:
    session_count: int
    active_session_count: int
    total_margin: Decimal
    grid_profit: Decimal
    realized: Decimal
    fees: Decimal
    unrealized: Decimal
    funding: Decimal
    total: Decimal
    round_trips: int


@dataclass(frozen=True, slots=True)
class SummaryQuery:
    user_id: str | None  # None: every user's (the operator's listing)
    status: SessionStatus | None
    start_time_ms: int | None
    end_time_ms: int | None

    def fingerprint(self) -> str:
        text = f"{self.user_id}|{self.status}|{self.start_time_ms}|{self.end_time_ms}"
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def from_summary(record: SummaryRecord) -> SummaryView:
    details = record.details
    position = Decimal(str(details.get("position", "0")))
    # A summary written before grid_profit was its own figure: its realized_profit was the grid profit.
    grid_profit = Decimal(str(details.get("grid_profit", record.realized_profit)))
    report = PnlReport(
        grid_profit=grid_profit,
        realized=record.realized_profit,
        fees=record.fees,
        unrealized=record.unrealized,
        funding=record.funding,
        total=record.total_pnl,
        round_trips=record.round_trips,
        position=position,
        average_entry_price=Decimal(str(details.get("average_entry_price", "0"))),
        grid_apr=record.grid_apr,
        total_apr=record.total_apr,
    )
    return SummaryView(
        session_id=record.session_id,
        user_id=record.user_id,
        symbol=record.symbol,
        status=record.status.value,
        config=dict(details.get("config") or {}),
        pnl=report,
        open_order_count=int(details.get("open_order_count", 0)),
        created_ms=record.created_at_ms,
        stopped_ms=record.stopped_at_ms,
        stop_reason=record.stop_reason,
        run_id=str(details.get("run_id", "")),
        valued_at_price=Decimal(str(details.get("mark_price", "0"))),
        valued_at_ms=record.stopped_at_ms,
        position_handed_back=position != 0,
    )


def from_grid(view: GridView) -> SummaryView:
    record = view.record
    return SummaryView(
        session_id=record.session_id,
        user_id=record.user_id,
        symbol=record.symbol,
        status=view.phase,
        config=dict(view.config),
        pnl=view.pnl,
        open_order_count=len(view.open_orders),
        created_ms=record.created_at_ms,
        stopped_ms=record.stopped_at_ms or 0,
        stop_reason=record.stop_reason,
        run_id=view.run_id,
        valued_at_price=view.mark_price,
        valued_at_ms=view.valued_at_ms,
        position_handed_back=view.position_handed_back,
    )


async def collect(
    store: Store, query: SummaryQuery, live_view: Callable[[SessionRecord], GridView]
) -> list[SummaryView]:
    """Every run matching the query, newest first."""
    views: list[SummaryView] = []
    finished_wanted = query.status is None or query.status.is_finished
    token: str | None = None
    while finished_wanted and len(views) < MAX_MATCHES:
        page = await store.list_summaries(
            user_id=query.user_id,
            status=query.status,
            start_time_ms=query.start_time_ms,
            end_time_ms=query.end_time_ms,
            page_size=_SCAN_PAGE,
            page_token=token,
        )
        views.extend(from_summary(record) for record in page.items)
        token = page.next_page_token
        if token is None:
            break
    if query.status is None or not query.status.is_finished:
        token = None
        while len(views) < MAX_MATCHES:
            sessions = await store.list_sessions(
                user_id=query.user_id, status=query.status, page_size=_SCAN_PAGE, page_token=token
            )
            for record in sessions.items:
                if record.status.is_finished or not _in_range(record.created_at_ms, query):
                    continue
                views.append(from_grid(live_view(record)))
            token = sessions.next_page_token
            if token is None:
                break
    views.sort(key=lambda v: (v.created_ms, v.session_id), reverse=True)
    return views[:MAX_MATCHES]


def _in_range(created_ms: int, query: SummaryQuery) -> bool:
    if query.start_time_ms is not None and created_ms < query.start_time_ms:
        return False
    return query.end_time_ms is None or created_ms < query.end_time_ms


def totals(views: list[SummaryView]) -> SummaryTotals:
    zero = Decimal(0)
    return SummaryTotals(
        session_count=len(views),
        active_session_count=sum(1 for v in views if v.status not in ("STOPPED", "FAILED")),
        total_margin=sum((Decimal(str(v.config.get("total_margin") or 0)) for v in views), zero),
        grid_profit=sum((v.pnl.grid_profit for v in views), zero),
        realized=sum((v.pnl.realized for v in views), zero),
        fees=sum((v.pnl.fees for v in views), zero),
        unrealized=sum((v.pnl.unrealized for v in views), zero),
        funding=sum((v.pnl.funding for v in views), zero),
        total=sum((v.pnl.total for v in views), zero),
        round_trips=sum(v.pnl.round_trips for v in views),
    )


def encode_offset(offset: int, query: SummaryQuery) -> str:
    raw = json.dumps({"o": offset, "f": query.fingerprint()}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_offset(token: str, query: SummaryQuery) -> int:
    if not token:
        return 0
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        offset = int(data["o"])
        fingerprint = str(data["f"])
    except (ValueError, KeyError, TypeError) as exc:
        raise DomainError.invalid_field(
            "page_token", "is not a token this listing returned", ErrorReason.INVALID_PAGE_TOKEN
        ) from exc
    if fingerprint != query.fingerprint() or offset < 0:
        raise DomainError.invalid_field(
            "page_token", "belongs to a listing with other filters", ErrorReason.INVALID_PAGE_TOKEN
        )
    return offset
