"""Records of session keys (an ed25519 key a wallet authorized to sign calls for it) and of the
batches in which server processes persist the nonces those keys used (server.auth.session_nonces)."""

from __future__ import annotations

from dataclasses import dataclass

from server.store.args import MAX_TIME_MS, check_positive_ms
from server.store.errors import InvalidRecord
from server.store.records import check_ms, check_text


@dataclass(frozen=True, slots=True)
class SessionKeyRecord:
    """A wallet's session key. `revoked_at_ms` is 0 while the key is not revoked."""

    key_id: str
    user_id: str
    public_key: str
    scopes: tuple[str, ...]
    created_at_ms: int
    expires_at_ms: int
    revoked_at_ms: int = 0

    def __post_init__(self) -> None:
        for name in ("key_id", "user_id", "public_key"):
            check_text(name, getattr(self, name))
        if not self.scopes or not all(isinstance(scope, str) and scope for scope in self.scopes):
            raise InvalidRecord("scopes", "must be one or more non-empty strings")
        check_ms("created_at_ms", self.created_at_ms)
        check_positive_ms("expires_at_ms", self.expires_at_ms)
        check_ms("revoked_at_ms", self.revoked_at_ms)

    def usable_at(self, now_ms: int) -> bool:
        return self.revoked_at_ms == 0 and now_ms < self.expires_at_ms


@dataclass(frozen=True, slots=True)
class UsedNonce:
    key_id: str
    nonce: str
    expires_at_ms: int


@dataclass(frozen=True, slots=True)
class NonceBatch:
    """The session-key nonces one process accepted in one batch interval, written as one record.
    `batch_id` is unique (the process's instance id and a counter); `expires_at_ms` is the latest
    expiry of its nonces, after which the whole batch may be purged."""

    batch_id: str
    instance: str
    written_at_ms: int
    nonces: tuple[UsedNonce, ...]

    def __post_init__(self) -> None:
        check_text("batch_id", self.batch_id)
        check_text("instance", self.instance)
        check_ms("written_at_ms", self.written_at_ms)
        if not self.nonces:
            raise InvalidRecord("nonces", "must hold at least one nonce")
        for used in self.nonces:
            check_text("nonce", used.nonce)
            if not 0 < used.expires_at_ms <= MAX_TIME_MS:
                raise InvalidRecord("expires_at_ms", "must be a positive time before year 10000")

    @property
    def expires_at_ms(self) -> int:
        return max(used.expires_at_ms for used in self.nonces)


def nonces_to_json(nonces: tuple[UsedNonce, ...]) -> list[list[str | int]]:
    return [[used.key_id, used.nonce, used.expires_at_ms] for used in nonces]


def nonces_from_json(rows: list[list[str | int]]) -> tuple[UsedNonce, ...]:
    return tuple(UsedNonce(str(key_id), str(nonce), int(expiry)) for key_id, nonce, expiry in rows)
