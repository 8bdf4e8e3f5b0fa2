"""Authorization: a user reaches only their own sessions and data.

A session of another user answers exactly as a session that does not exist (SESSION_NOT_FOUND),
so nobody can probe which sessions other wallets run. Listings name the user explicitly in the
request (`user_id`, empty = the signer); asking for another user's is PERMISSION_DENIED, as the
API documents, unless the caller is the operator (who may list everyone's, read-only).
"""

from __future__ import annotations

from server.api.errors import DomainError, ErrorReason
from server.auth.verifier import AuthenticatedUser
from server.store.records import SessionRecord


def owns(user: AuthenticatedUser, owner_user_id: str) -> bool:
    return bool(user.user_id) and user.user_id == owner_user_id.lower()


def session_not_found(session_id: str) -> DomainError:
    return DomainError(
        ErrorReason.SESSION_NOT_FOUND,
        f"session_id: no session {session_id!r} of the signing user",
        metadata={"session_id": session_id},
    )


def require_session_owner(
    user: AuthenticatedUser, session: SessionRecord | None, session_id: str
) -> SessionRecord:
    """The session, when it exists and belongs to `user`; SESSION_NOT_FOUND in every other case
    (the operator included: the token only lists)."""
    if session is None or not owns(user, session.user_id):
        raise session_not_found(session_id)
    return session


def listing_user_filter(user: AuthenticatedUser, requested_user_id: str) -> str | None:
    """The user_id a listing must filter on: the signer's own id (when `requested_user_id` is empty
    or names the signer), any requested id or None (= everyone) for the operator, and
    PERMISSION_DENIED for a user asking for someone else's."""
    if user.is_operator:
        return requested_user_id.lower() or None
    if requested_user_id and requested_user_id.lower() != user.user_id:
        raise DomainError.invalid_field(
            "user_id",
            "must be empty or the signer's own address: a user lists only their own sessions",
            ErrorReason.PERMISSION_DENIED,
        )
    return user.user_id
