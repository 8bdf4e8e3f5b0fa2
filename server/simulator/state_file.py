"""The simulator's state in one file, so a simulator restarted on the same file is the same venue.

`orderly-grid serve` without ORDERLY_* credentials runs the simulator in-process; without this, every
restart was a new, empty venue and every grid of the previous run ended FAILED. With a state file
the restarted simulator has the same accounts (and keys), orders, trades, positions, collateral,
client_order_id submissions and marks, and the same instance id, so the sessions resume on it.

What is kept: everything a client can observe or look up (order look-ups by client_order_id, the
trade history, positions and balances). What is not: the price path's position in its random walk
(the walk continues from the saved marks), open WebSockets (clients reconnect), rate-limit windows
and faults.

The file is written atomically (a temporary file in the same folder, fsync, rename), so a crash
mid-write leaves the previous state. It is written on every change, at most once per save interval,
and on a clean shutdown; a SIGKILL loses at most the last interval, which the service then treats as
it would any venue whose answers it missed (it resolves orders from the venue's history on resume).
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import fields
from decimal import Decimal
from pathlib import Path
from typing import Any

from server.simulator.accounts import Account, Position, SimAccount
from server.simulator.context import SimContext
from server.simulator.history import Submission
from server.simulator.orders import Fill, Order

FORMAT_VERSION = 1
_DECIMAL_TAG = "$decimal"


class StateFileError(Exception):
    """The state file exists but cannot be read as a simulator state (the message names the file)."""


def new_instance_id() -> str:
    return uuid.uuid4().hex


def _row(item: Any, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    return {f.name: getattr(item, f.name) for f in fields(item) if f.name not in skip}


def snapshot(ctx: SimContext, instance_id: str, default_account_id: str) -> dict[str, Any]:
    """Everything `restore` needs, as JSON-ready values (Decimals tagged by `dumps`)."""
    venue = ctx.venue
    return {
        "format": FORMAT_VERSION,
        "instance_id": instance_id,
        "default_account_id": default_account_id,
        "marks": dict(venue.marks),
        "accounts": [
            {
                **_row(account, skip=("positions",)),
                "positions": [_row(p) for p in account.positions.values()],
                "credentials": ctx.accounts.secrets[account.account_id].to_json()
                if account.account_id in ctx.accounts.secrets
                else None,
            }
            for account in ctx.accounts.accounts.values()
        ],
        # An order's fills are the venue's fills of that order: stored once, relinked on restore.
        "orders": [_row(order, skip=("fills",)) for order in venue.orders.values()],
        "fills": [_row(fill) for fill in venue.fills],
        "submissions": [_row(s) for rows in venue.submissions.values() for s in rows],
    }


def restore(ctx: SimContext, state: dict[str, Any]) -> tuple[str, SimAccount]:
    """Loads `state` into a freshly built context; returns (instance id, the default account)."""
    if state.get("format") != FORMAT_VERSION:
        raise StateFileError(f"unknown simulator state format {state.get('format')!r}")
    book = ctx.accounts
    for row in state["accounts"]:
        positions = {p["symbol"]: Position(**p) for p in row["positions"]}
        credentials = row["credentials"]
        account = Account(row["account_id"], dict(row["keys"]), row["collateral"], positions)
        book.accounts[account.account_id] = account
        if credentials is not None:
            book.secrets[account.account_id] = SimAccount(**credentials)
    fills = [Fill(**row) for row in state["fills"]]
    orders = [Order(**row) for row in state["orders"]]
    submissions = [Submission(**row) for row in state["submissions"]]
    ctx.venue.restore(state["marks"], orders, fills, submissions)
    book.reseed(str(state["instance_id"]))
    default = book.secrets[state["default_account_id"]]
    return str(state["instance_id"]), default


def dumps(state: dict[str, Any]) -> str:
    def tag(value: object) -> object:
        if isinstance(value, Decimal):
            return {_DECIMAL_TAG: str(value)}
        raise TypeError(f"cannot store {type(value).__name__} in the simulator state")

    return json.dumps(state, default=tag, separators=(",", ":"))


def loads(text: str) -> dict[str, Any]:
    def untag(obj: dict[str, Any]) -> object:
        return Decimal(obj[_DECIMAL_TAG]) if len(obj) == 1 and _DECIMAL_TAG in obj else obj

    state = json.loads(text, object_hook=untag)
    if not isinstance(state, dict):
        raise StateFileError("the simulator state is not a JSON object")
    return state


def read(path: Path) -> dict[str, Any] | None:
    """The state saved at `path`, or None when there is none (a fresh venue)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        return loads(text)
    except ValueError as exc:
        raise StateFileError(f"{path}: not a simulator state file ({exc})") from exc


def write(path: Path, text: str) -> None:
    """Replace `path` with `text` atomically: readers see the old state or the new, never a mix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with temporary.open("w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
