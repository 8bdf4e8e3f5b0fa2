"""Errors raised by every Store backend. Callers catch these, never a driver's own exceptions."""

from __future__ import annotations


class StoreError(Exception):
    """Base class of store failures."""


class InvalidRecord(StoreError, ValueError):
    """A record or argument breaks a rule; the message names the field and the rule."""

    def __init__(self, field: str, rule: str) -> None:
        super().__init__(f"{field}: {rule}")
        self.field = field
        self.rule = rule


class SessionNotFound(StoreError, LookupError):
    def __init__(self, session_id: str) -> None:
        super().__init__(f"session {session_id!r} not found")
        self.session_id = session_id


class DuplicateSession(StoreError):
    """A session with this id exists and has not finished (only STOPPED or FAILED runs are replaced)."""

    def __init__(self, session_id: str, status: str) -> None:
        super().__init__(f"session {session_id!r} already exists with status {status}")
        self.session_id = session_id
        self.status = status


class VersionConflict(StoreError):
    """Optimistic concurrency: the session changed since the caller read it; nothing was written."""

    def __init__(self, session_id: str, expected_version: int, stored_version: int) -> None:
        super().__init__(
            f"session {session_id!r}: expected version {expected_version}, stored version {stored_version}"
        )
        self.session_id = session_id
        self.expected_version = expected_version
        self.stored_version = stored_version


class StoreUnavailable(StoreError):
    """The backend cannot be reached or opened."""
