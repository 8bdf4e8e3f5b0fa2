"""Which stored sessions resume when the service starts, and how the others end.

Every unfinished session (PENDING, RUNNING, STOPPING) resumes, except:
- one whose owner replaced or removed the registration of the account it trades on
  (server.service.session_accounts), and
- one that traded on the in-process simulator of an EARLIER process (server.app without ORDERLY_*
  credentials starts a new, empty simulator each run: the session's orders and position are gone,
  so a resume could only stall or trade on a position that does not exist).
Those are recorded FAILED (stop reason ERROR, the reason as stop detail) with their summary.
A session whose account this process cannot open for now (the venue failing, or the account being
another configuration's default) is left untouched in the store (server.service.held_sessions).
"""

from __future__ import annotations

from dataclasses import replace

import structlog

from engine import StopReason, pnl
from server.service.errors import MAX_PAGE_SIZE
from server.service.session_accounts import ACCOUNT_SOURCE_KEY, account_of
from server.service.session_doc import from_document, stored_mark, to_document
from server.service.stop_summary import summary_record
from server.store import SessionRecord, SessionStatus, Store, StoreError

log = structlog.get_logger(__name__)

LIVE_STATUSES = (SessionStatus.PENDING, SessionStatus.RUNNING, SessionStatus.STOPPING)
# The simulated venue a session was started on (set only when the venue is the in-process simulator).
VENUE_INSTANCE_KEY = "venue_instance"
SIMULATED_VENUE_RESET = "simulated venue was reset"


async def unfinished_sessions(store: Store) -> list[SessionRecord]:
    records: list[SessionRecord] = []
    for status in LIVE_STATUSES:
        token: str | None = None
        while True:
            page = await store.list_sessions(status=status, page_size=MAX_PAGE_SIZE, page_token=token)
            records.extend(page.items)
            token = page.next_page_token
            if token is None:
                break
    return records


async def record_failed_resume(store: Store, record: SessionRecord, reason: str, now_ms: int) -> None:
    """Mark a session that cannot resume FAILED (stop reason ERROR, `reason` as its stop detail) and
    write its summary, so listings show it as a finished run. Logged; never raises."""
    log.error("session_resume_failed", session_id=record.session_id, reason=reason)
    state, runtime = from_document(record.engine_state)
    state = state._replace(stop_reason=StopReason.ERROR, stop_detail=reason)
    runtime = replace(runtime, stop_detail=reason)
    mark = stored_mark(state, runtime)
    report = pnl(state, mark, max(0, now_ms - record.created_at_ms))
    try:
        stored = await store.update_session(
            record.session_id,
            record.version,
            updated_at_ms=now_ms,
            status=SessionStatus.FAILED,
            engine_state=to_document(state, runtime),
            stopped_at_ms=now_ms,
            stop_reason=StopReason.ERROR.value,
        )
        await store.write_summary(summary_record(stored, state, runtime, report, mark, now_ms))
    except StoreError:
        log.exception("session_fail_not_recorded", session_id=record.session_id)


async def retire_sessions_of_reset_venue(
    store: Store, records: list[SessionRecord], venue_instance: str, default_account_id: str, now_ms: int
) -> list[SessionRecord]:
    """The sessions that may resume on the simulated venue `venue_instance`; every other one that
    traded on a simulated venue (another instance, or, for sessions of versions that recorded
    neither instances nor account sources, the simulator's default account) is marked FAILED with
    SIMULATED_VENUE_RESET: its orders and position are gone, so a resume could only stall or trade
    on a position that does not exist. A session without a venue instance but with an account source
    traded on a real venue: kept (decided on resume)."""
    keep: list[SessionRecord] = []
    retired = 0
    for record in records:
        recorded = record.config.get(VENUE_INSTANCE_KEY)
        if recorded is None:
            legacy = ACCOUNT_SOURCE_KEY not in record.config
            on_sim_default = account_of(record, default_account_id) == default_account_id.lower()
            simulated = legacy and on_sim_default
        else:
            simulated = recorded != venue_instance
        if not simulated:
            keep.append(record)  # this venue's, or a real venue's (decided on resume)
            continue
        retired += 1
        await record_failed_resume(
            store,
            record,
            f"{SIMULATED_VENUE_RESET}: the session traded on the simulator of an earlier run; "
            "its orders and position did not survive the restart",
            now_ms,
        )
    if retired:
        log.warning("simulated_venue_reset", retired_sessions=retired, kept_sessions=len(keep))
    return keep
