"""`gridctl sign ACTION --body FILE`: sign a REST call without writing code.

The body is the JSON a REST client sends (proto field names; enums by short or full name, e.g.
"direction": "BOTH"). The signature covers the request message the REST shim builds from it (the
README's "Canonical parameters"), so this builds the same message: the JSON parsed into ACTION's
request type, enum names expanded. Out comes the same body with its `user_auth` block, ready for
`curl -d @-`, and the same signature as the metadata headers a GET (which has no body) sends instead.
"""

from __future__ import annotations

import json
import time
from typing import Any, TextIO

from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor
from google.protobuf.message import Message

from orderly_grid.params import enum_value
from orderly_grid.signing import AUTH_FIELD, sign_request
from orderly_grid.v1 import grid_service_pb2
from orderly_grid.wallet import Wallet

SERVICE = grid_service_pb2.DESCRIPTOR.services_by_name["GridService"]
# PreviewGrid needs no signature; every other GridService call acts for a user.
SIGNED_ACTIONS = tuple(sorted(m.name for m in SERVICE.methods if m.name != "PreviewGrid"))
HEADER_PREFIX = "Grpc-Metadata-"


def _expand_enums(descriptor: Descriptor, data: dict[str, Any], path: str = "") -> dict[str, Any]:
    """`data` with every enum given by short name ("BOTH") written as its full name, as the shim does."""
    result = dict(data)
    for key, value in data.items():
        field = descriptor.fields_by_name.get(key)
        name = f"{path}{key}"
        if field is None:
            continue
        if field.enum_type is not None and isinstance(value, str | int) and not isinstance(value, bool):
            result[key] = field.enum_type.values_by_number[enum_value(name, field.enum_type, value)].name
        elif field.message_type is not None and isinstance(value, dict) and not field.is_repeated:
            result[key] = _expand_enums(field.message_type, value, f"{name}.")
    return result


def request_of(action: str, body: Any) -> Message:
    """The request message the REST shim builds from `body` for `action` (ValueError names the
    problem: an unknown action, a body that is not an object, a field the request does not have)."""
    if action not in SIGNED_ACTIONS:
        raise ValueError(f"ACTION: must be one of {', '.join(SIGNED_ACTIONS)}, got {action!r}")
    if not isinstance(body, dict):
        raise ValueError("--body: must hold a JSON object")
    if AUTH_FIELD in body:
        raise ValueError(f"--body: leave {AUTH_FIELD} out: it is what this command adds")
    method = SERVICE.methods_by_name[action]
    request_class: type[Message] = getattr(grid_service_pb2, method.input_type.name)
    request = request_class()
    try:
        json_format.ParseDict(_expand_enums(method.input_type, body), request)
    except json_format.ParseError as exc:
        raise ValueError(f"--body: {exc}") from None
    return request


def sign_body(
    wallet: Wallet, domain: str, action: str, body: dict[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """(the body with its `user_auth`, the same auth as HTTP headers)."""
    request = request_of(action, body)
    auth = sign_request(wallet.private_key, domain, action, request, timestamp_ms=time.time_ns() // 1_000_000)
    block = {
        "user_id": auth.user_id,
        "signature": auth.signature,
        "timestamp": auth.timestamp,
        "nonce": auth.nonce,
    }
    headers = [
        f"{HEADER_PREFIX}X-User-Id: {auth.user_id}",
        f"{HEADER_PREFIX}X-User-Signature: {auth.signature}",
        f"{HEADER_PREFIX}X-User-Timestamp: {auth.timestamp}",
        f"{HEADER_PREFIX}X-User-Nonce: {auth.nonce}",
    ]
    return {**body, AUTH_FIELD: block}, headers


def run_sign(wallet: Wallet, domain: str, action: str, body_text: str, out: TextIO, err: TextIO) -> None:
    try:
        body = json.loads(body_text)
    except ValueError as exc:
        raise ValueError(f"--body: not JSON ({exc})") from None
    signed, headers = sign_body(wallet, domain, action, body)
    out.write(json.dumps(signed) + "\n")
    err.write("# or, without user_auth in the body (GET calls), send these headers:\n")
    err.write("".join(f"#   {header}\n" for header in headers))
    err.write("# valid once (a single-use nonce) within 5 minutes\n")
