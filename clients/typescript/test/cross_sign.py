"""The Python side of the TypeScript SDK's cross-signing test (test/signing.test.ts).

    python cross_sign.py sign KEY   < [{"action", "type", "request"}, ...]
    python cross_sign.py verify     < [{"action", "type", "request" (with user_auth)}, ...]

`sign` signs each request with orderly_grid.signing (the module the server verifies with) and
prints its canonical JSON, digest and user_auth; `verify` recomputes the text the server checks and
prints the address the signature recovers to and whether the signature is in the accepted form.
Requests are proto3 JSON with the proto field names; `type` is the full message name.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from eth_account import Account
from eth_account.messages import encode_defunct
from google.protobuf import json_format, symbol_database
from google.protobuf.message import Message
from orderly_grid import signing
from orderly_grid.v1 import grid_service_pb2  # noqa: F401  (registers the request types)


def _message(item: dict[str, Any]) -> Message:
    cls: Any = symbol_database.Default().GetSymbol(item["type"])
    message: Message = json_format.ParseDict(item["request"], cls())
    return message


def _sign(key: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for item in items:
        request = _message(item)
        auth = signing.sign_request(
            key, signing.DEFAULT_DOMAIN, item["action"], request, timestamp_ms=time.time_ns() // 1_000_000
        )
        out.append(
            {
                "canonical": signing.canonical_params_json(request),
                "digest": signing.canonical_params_digest(request),
                "user_auth": json_format.MessageToDict(auth, preserving_proto_field_name=True),
            }
        )
    return out


def _verify(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for item in items:
        request = _message(item)
        auth = getattr(request, signing.AUTH_FIELD)
        digest = signing.canonical_params_digest(request)
        text = signing.build_auth_message(
            signing.DEFAULT_DOMAIN, item["action"], auth.user_id, digest, auth.timestamp, auth.nonce
        )
        recovered = Account.recover_message(encode_defunct(text=text), signature=auth.signature)
        out.append(
            {
                "digest": digest,
                "recovered": recovered,
                "form_problem": signing.signature_form_problem(auth.signature),
            }
        )
    return out


def main(argv: list[str]) -> int:
    items = json.load(sys.stdin)
    result = _sign(argv[2], items) if argv[1] == "sign" else _verify(items)
    json.dump(result, sys.stdout, ensure_ascii=False)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
