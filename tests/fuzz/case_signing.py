"""The Schemathesis `map_case` hook that signs the user-acting REST calls for real, so the schema
fuzzer gets past the signature check into the service.

What a REST client signs is the proto message the shim builds from the call (README, "Canonical
parameters"), so the hook builds exactly that: it prepares the HTTP request Schemathesis would send
(without the case's own `user_auth`), parses its URL with yarl as aiohttp does, binds path, query
and body with the shim's own `build_request`, signs the message with `orderly_grid.signing`, and
puts the signed `user_auth` back into the case (the JSON body, or the `user_auth.*` query
parameters). A case the shim would refuse to bind is left as drawn. About one case in five is left
unsigned on purpose (the generated auth block exercises the auth failures), and some are signed by
another wallet than the one whose data they ask for.

Before signing, about one case in three is moved near a valid request: its body becomes a valid
body of the route with a few of the generated fields kept, and its session id an existing user's,
so that the generated values meet the rules behind the first validation error. About one case in
eight has one of its strings stretched to thousands of characters (errors echo inputs), and about
one in eleven carries a hostile header the document does not describe (a Content-Encoding its body
does not have, forged forwarding and auth metadata, a huge request id).
"""

from __future__ import annotations

import copy
import time
import zlib
from dataclasses import dataclass
from typing import Any, TypeAlias

import requests
import schemathesis
import yarl
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import Message
from orderly_grid import signing

from server.api.http_rules import API_SERVICES, HttpRoute, routes_for_services
from server.rest.binding import build_request
from tests.integration.harness import A_SESSION, DOMAIN, OTHER_USER_KEY, USER_KEY
from tests.integration.rest_signing import START_FIELDS

Case: TypeAlias = "schemathesis.Case[Any]"
AUTH_FIELD = signing.AUTH_FIELD
AUTH_QUERY_PREFIX = AUTH_FIELD + "."
_PLACEHOLDER_BASE_URL = "http://fuzz.invalid"
# Valid bodies by route; a case moved near one keeps about a quarter of its generated fields.
PLAUSIBLE_BODIES: dict[str, dict[str, Any]] = {
    "/api/grid/start": START_FIELDS,
    "/api/grid/preview": START_FIELDS,
    "/api/grid/stop": {"session_id": A_SESSION, "close_position": True},
}


@dataclass(frozen=True)
class _Binding:
    route: HttpRoute
    method: MethodDescriptor


def _bindings() -> dict[tuple[str, str], _Binding]:
    methods = {method.full_name: method for service in API_SERVICES for method in service.methods}
    return {
        (route.method.upper(), route.path_template): _Binding(route, methods[route.rpc])
        for route in routes_for_services(API_SERVICES)
    }


BINDINGS = _bindings()


def _fingerprint(case: Case) -> int:
    return zlib.crc32(repr((case.path_parameters, case.query, case.body)).encode("utf-8", "replace"))


def signer_for(case: Case) -> str | None:
    """The key that signs `case`: usually the test user's, sometimes another wallet's, sometimes
    none. Decided by the case's content, so a fixed seed replays the same choices."""
    fingerprint = _fingerprint(case)
    if fingerprint % 5 == 0:
        return None
    return OTHER_USER_KEY if fingerprint % 7 == 0 else USER_KEY


STRETCH_LENGTHS = (5_000, 20_000)
HOSTILE_HEADERS: tuple[tuple[str, str], ...] = (
    ("Content-Encoding", "gzip"),
    ("Content-Encoding", "deflate"),
    ("Content-Encoding", "br"),
    ("Content-Encoding", "x-unknown"),
    ("Content-Encoding", "gzip, gzip, gzip"),
    ("X-Forwarded-For", "1.1.1.1\t2, 9.9.9.9"),
    ("Grpc-Metadata-X-Forwarded-For", "9.9.9.9"),
    ("Grpc-Metadata-X-Orderly-Grid-Proxy", "guess"),
    ("Grpc-Metadata-X-User-Id", "0x" + "ab" * 20),
    ("Grpc-Metadata-X-User-Timestamp", "9" * 40),
    ("Grpc-Metadata-Trace-Bin", "AAEC"),
    ("Authorization", "Bearer " + "t" * 4_000),
    ("Authorization", "Basic Zm9vOmJhcg=="),
    ("X-Request-Id", "r" * 8_000),
    ("Expect", "100-continue"),
    ("Transfer-Encoding", "chunked"),
)


def stretch_a_string(case: Case) -> None:
    """For about one case in eight: one string of the path, query or body, stretched."""
    fingerprint = _fingerprint(case)
    if fingerprint % 8 != 0:
        return
    length = STRETCH_LENGTHS[(fingerprint >> 3) % len(STRETCH_LENGTHS)]
    for part in ("path_parameters", "query", "body"):
        values = getattr(case, part)
        if not isinstance(values, dict):
            continue
        strings = sorted(key for key, value in values.items() if isinstance(value, str))
        if strings:
            key = strings[(fingerprint >> 5) % len(strings)]
            unit = values[key] or "x"
            setattr(case, part, {**values, key: (unit * (length // len(unit) + 1))[:length]})
            return


def add_a_hostile_header(case: Case) -> None:
    """For about one case in eleven: one header from HOSTILE_HEADERS."""
    fingerprint = _fingerprint(case)
    if fingerprint % 11 != 0:
        return
    name, value = HOSTILE_HEADERS[(fingerprint >> 4) % len(HOSTILE_HEADERS)]
    case.headers[name] = value


def move_near_valid(case: Case) -> None:
    """For about one case in three: a valid body of the route with some generated fields kept, and
    an existing session id in the path (see the module doc)."""
    fingerprint = _fingerprint(case)
    if fingerprint % 3 != 0:
        return
    base = PLAUSIBLE_BODIES.get(case.path)
    if base is not None and isinstance(case.body, dict):
        kept = {
            key: value
            for i, (key, value) in enumerate(sorted(case.body.items()))
            if key == AUTH_FIELD or (fingerprint >> (i + 2)) % 4 == 0
        }
        case.body = {**base, **kept}
    if case.path_parameters and "session_id" in case.path_parameters and fingerprint % 2 == 0:
        case.path_parameters = {**case.path_parameters, "session_id": A_SESSION}


def _without_auth(case: Case, binding: _Binding) -> tuple[dict[str, Any], Any]:
    """The case's query and body without its own auth block."""
    query = {k: v for k, v in (case.query or {}).items() if not k.startswith(AUTH_QUERY_PREFIX)}
    body = case.body
    if binding.route.body == "*" and isinstance(body, dict):
        body = {k: v for k, v in body.items() if k != AUTH_FIELD}
    return query, body


def _prepared(case: Case) -> requests.PreparedRequest:
    data = case.as_transport_kwargs(base_url=_PLACEHOLDER_BASE_URL)
    request = requests.Request(
        method=data["method"],
        url=data["url"],
        params=data.get("params"),
        data=data.get("data"),
        json=data.get("json"),
        headers=data.get("headers"),
    )
    return request.prepare()


def bound_message(case: Case, binding: _Binding) -> Message | None:
    """The message the shim builds from `case` as it stands, or None when it would refuse it."""
    try:
        prepared = _prepared(case)
        url = yarl.URL(prepared.url or "", encoded=True)
        path_params = binding.route.match(url.path)
        if path_params is None:
            return None
        body: Any = prepared.body
        raw = body.encode() if isinstance(body, str) else bytes(body or b"")
        return build_request(
            binding.route,
            binding.method.input_type,
            path_params,
            list(url.query.items()),
            raw if binding.route.body else None,
        )
    except Exception:  # a DomainError of the binding, or a case requests cannot even prepare
        return None


def map_case(context: schemathesis.HookContext, case: Case) -> Case:  # the hook's name and signature
    """Sign `case` for real when it acts for a user (see the module doc)."""
    binding = BINDINGS.get((case.method.upper(), case.path))
    if binding is None:
        return case
    move_near_valid(case)
    stretch_a_string(case)
    add_a_hostile_header(case)
    if AUTH_FIELD not in binding.method.input_type.fields_by_name:
        return case
    key = signer_for(case)
    if key is None:
        return case
    original_query, original_body = case.query, case.body
    case.query, case.body = _without_auth(case, binding)
    message = bound_message(case, binding)
    if message is None:
        case.query, case.body = original_query, original_body
        return case
    block = signing.sign_request(
        key, DOMAIN, binding.method.name, message, timestamp_ms=time.time_ns() // 1_000_000
    )
    if binding.route.body == "*":
        body = copy.copy(case.body) if isinstance(case.body, dict) else {}
        body[AUTH_FIELD] = {
            "user_id": block.user_id,
            "signature": block.signature,
            "timestamp": block.timestamp,
            "nonce": block.nonce,
        }
        case.body = body
    else:
        case.query = {
            **(case.query or {}),
            AUTH_QUERY_PREFIX + "user_id": block.user_id,
            AUTH_QUERY_PREFIX + "signature": block.signature,
            AUTH_QUERY_PREFIX + "timestamp": str(block.timestamp),
            AUTH_QUERY_PREFIX + "nonce": block.nonce,
        }
    return case
