"""GetGridHistory: a run's equity points, in a time range, downsampled, paged.

Downsampling keeps FILL, START and STOP points always (so every fill can be marked on a plot) and at
most one PERIODIC point per `resolution_ms` interval (the last one in it). Pages are cut only where
no PERIODIC point is pending, and the page token is the (timestamp_ms, point_id) key of the last raw
point read, bound to the query, so the next page continues exactly there.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

from server.api.errors import DomainError, ErrorReason
from server.store import EquityPointKind, EquityPointRecord, Store

DEFAULT_HISTORY_PAGE = 500
MAX_HISTORY_PAGE = 5000
MAX_RESOLUTION_MS = 86_400_000
_READ_CHUNK = 1000


@dataclass(frozen=True, slots=True)
class HistoryQuery:
    session_id: str
    run_id: str
    start_ms: int
    end_ms: int | None
    resolution_ms: int

    def fingerprint(self) -> str:
        text = f"{self.session_id}|{self.run_id}|{self.start_ms}|{self.end_ms}|{self.resolution_ms}"
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class HistoryPage:
    points: list[EquityPointRecord]
    next_page_token: str


def check_history_request(start_ms: int, end_ms: int, resolution_ms: int, page_size: int) -> int:
    """The page size to use; DomainError naming the field for anything out of range."""
    if start_ms < 0:
        raise DomainError.invalid_field("start_time_ms", f"must be >= 0 (ms since the epoch), got {start_ms}")
    if end_ms < 0:
        raise DomainError.invalid_field("end_time_ms", f"must be >= 0 (ms since the epoch), got {end_ms}")
    if end_ms and end_ms <= start_ms:
        raise DomainError.invalid_field("end_time_ms", "must be later than start_time_ms (or 0: up to now)")
    if not 0 <= resolution_ms <= MAX_RESOLUTION_MS:
        raise DomainError.invalid_field(
            "resolution_ms", f"must be from 0 to {MAX_RESOLUTION_MS} (one day), got {resolution_ms}"
        )
    if page_size < 0:
        raise DomainError.invalid_field("page_size", f"must be >= 0, got {page_size}")
    return min(page_size or DEFAULT_HISTORY_PAGE, MAX_HISTORY_PAGE)


async def history_page(store: Store, query: HistoryQuery, page_size: int, page_token: str) -> HistoryPage:
    after = decode_token(page_token, query)
    out: list[EquityPointRecord] = []
    pending: EquityPointRecord | None = None  # the last PERIODIC point of the current interval
    last_read = after
    async for point in _raw_points(store, query, after):
        if pending is not None and _bucket(point, query) != _bucket(pending, query):
            out.append(pending)
            pending = None
        if pending is None and len(out) >= page_size:
            return HistoryPage(out, encode_token(last_read, query) if last_read else "")
        if point.kind is EquityPointKind.PERIODIC and query.resolution_ms:
            pending = point
        else:
            if pending is not None:  # keep time order: the interval's periodic point goes first
                out.append(pending)
                pending = None
            out.append(point)
        last_read = (point.timestamp_ms, point.point_id)
    if pending is not None:
        out.append(pending)
    return HistoryPage(out, "")


def _bucket(point: EquityPointRecord, query: HistoryQuery) -> int:
    return point.timestamp_ms // query.resolution_ms if query.resolution_ms else point.timestamp_ms


async def _raw_points(
    store: Store, query: HistoryQuery, after: tuple[int, str] | None
) -> AsyncIterator[EquityPointRecord]:
    while True:
        chunk = await store.list_equity_points(
            query.session_id,
            query.run_id,
            start_ms=query.start_ms,
            end_ms=query.end_ms,
            after=after,
            limit=_READ_CHUNK,
        )
        for point in chunk:
            yield point
        if len(chunk) < _READ_CHUNK:
            return
        after = (chunk[-1].timestamp_ms, chunk[-1].point_id)


def encode_token(after: tuple[int, str], query: HistoryQuery) -> str:
    raw = json.dumps({"t": after[0], "p": after[1], "f": query.fingerprint()}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str, query: HistoryQuery) -> tuple[int, str] | None:
    if not token:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode((token + "=" * (-len(token) % 4)).encode()))
        after = (int(data["t"]), str(data["p"]))
        fingerprint = str(data["f"])
    except (ValueError, KeyError, TypeError) as exc:
        raise DomainError.invalid_field(
            "page_token", "is not a token this history returned", ErrorReason.INVALID_PAGE_TOKEN
        ) from exc
    if fingerprint != query.fingerprint() or after[0] < 0 or not after[1]:
        raise DomainError.invalid_field(
            "page_token", "belongs to a history query with other parameters", ErrorReason.INVALID_PAGE_TOKEN
        )
    return after
