"""HTTP request -> request message, the way grpc-gateway binds it, plus the REST contract's legacy forms.

Order of work for one request: the JSON body (for the rule's body field, or the whole request for
"*"), the query string (dotted paths for nested fields, repeated keys for repeated fields), the path
variables; the legacy forms are folded in, the plain enum names expanded, and json_format parses the
result. Every rejection is a `DomainError` naming the field (a dotted path relative to the request
message, or to the body message when the body is one field) and the rule it breaks.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from google.protobuf import json_format, message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from server.api.enum_names import enum_value_prefix, expand_enum_names
from server.api.errors import DomainError, ErrorReason, FieldViolation
from server.api.http_rules import HttpRoute

# Legacy flat auth: top-level body key -> UserAuth field.
LEGACY_AUTH_KEYS = {"user_id": "user_id", "user_sig": "signature", "timestamp": "timestamp", "nonce": "nonce"}
LEGACY_RENAMES = {"stop_bot_price": "stop_loss_price", "stop_top_price": "take_profit_price"}
AUTH_FIELD = "user_auth"

_T = FieldDescriptor
_INTEGER_TYPES = frozenset(
    {
        _T.TYPE_INT32,
        _T.TYPE_INT64,
        _T.TYPE_UINT32,
        _T.TYPE_UINT64,
        _T.TYPE_SINT32,
        _T.TYPE_SINT64,
        _T.TYPE_FIXED32,
        _T.TYPE_FIXED64,
        _T.TYPE_SFIXED32,
        _T.TYPE_SFIXED64,
    }
)
_FLOAT_TYPES = frozenset({_T.TYPE_FLOAT, _T.TYPE_DOUBLE})
_PARSE_ERROR_FIELD = re.compile(r"Failed to parse (\w+) field")


def bad_field(field: str, rule: str) -> DomainError:
    return DomainError.invalid_field(field, rule)


MAX_JSON_DEPTH = 32  # far deeper than any request of the API; a parser never recurses past it
MAX_INT_DIGITS = 21  # a sign and the 20 digits of the largest uint64
_INTEGER_LIMIT = 2**64


def json_depth_exceeds(raw: bytes, limit: int) -> bool:
    """Whether arrays and objects nest deeper than `limit` anywhere in `raw` (brackets inside
    strings do not count). Linear, without recursion; skipped when there are too few brackets."""
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False
    depth = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > limit:
                return True
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
    return False


def parse_json_body(raw: bytes) -> Any:
    """The JSON body; numbers with a fraction or exponent come back as exact Decimals. An empty
    body is an empty object (as grpc-gateway treats it). Nesting is bounded BEFORE parsing, so no
    body can drive a parser's recursion (see server.recursion_guard)."""
    if not raw.strip():
        return {}
    if json_depth_exceeds(raw, MAX_JSON_DEPTH):
        raise _bad_body(f"request body nests arrays and objects deeper than {MAX_JSON_DEPTH} levels")
    try:
        return json.loads(raw, parse_float=Decimal, parse_int=_parse_int)
    except UnicodeDecodeError:
        raise _bad_body("request body must be UTF-8 JSON") from None
    except json.JSONDecodeError as exc:
        raise _bad_body(
            f"request body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None


def _parse_int(text: str) -> int | Decimal:
    """A JSON integer: a Python int when it could fit a proto integer field, else an exact Decimal
    (int() refuses more than 4300 digits, and no field takes more than 20), which the field's own
    check then refuses by name."""
    return int(text) if len(text) <= MAX_INT_DIGITS else Decimal(text)


def _bad_body(message: str) -> DomainError:
    return DomainError(
        ErrorReason.INVALID_ARGUMENT, message, field_violations=[FieldViolation("body", message)]
    )


def field_rule(field: FieldDescriptor) -> str:
    """The rule a JSON value for `field` must follow, for error messages."""
    if field.is_repeated and not _is_map(field):
        return "must be a list"
    if field.enum_type is not None:
        prefix = enum_value_prefix(field.enum_type)
        names = [v.name.removeprefix(prefix) for v in field.enum_type.values if v.number != 0]
        return "must be one of " + ", ".join(names)
    if field.message_type is not None:
        return "must be an object"
    if field.type in _INTEGER_TYPES:
        bits = "64" if field.type in (_T.TYPE_INT64, _T.TYPE_UINT64, _T.TYPE_SINT64) else "32"
        sign = "an unsigned" if field.type in (_T.TYPE_UINT32, _T.TYPE_UINT64, _T.TYPE_FIXED64) else "an"
        return f"must be {sign} integer that fits {bits} bits"
    if field.type in _FLOAT_TYPES:
        return "must be a number"
    if field.type == _T.TYPE_BOOL:
        return "must be true or false"
    return "must be a string"


def _is_map(field: FieldDescriptor) -> bool:
    return field.message_type is not None and field.message_type.GetOptions().map_entry


def _field_named(message: Descriptor, key: str) -> FieldDescriptor | None:
    field = message.fields_by_name.get(key)
    if field is None:  # proto3 JSON also accepts the lowerCamelCase json_name
        field = next((f for f in message.fields if f.json_name == key), None)
    return field


def normalize(message: Descriptor, data: Any, path: str = "") -> dict[str, Any]:
    """Check that `data` is an object whose keys are fields of `message` and whose nested objects
    and lists have the right shape; turn JSON numbers given for string fields into their exact text
    (a price sent as 65000.5 becomes "65000.5"). Value types are left to json_format."""
    if not isinstance(data, dict):
        raise bad_field(path or "body", "must be a JSON object")
    result: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{path}.{key}" if path else key
        field = _field_named(message, key)
        if field is None:
            raise bad_field(name, f"unknown field of {message.name}")
        if value is None or _is_map(field):
            result[key] = value
        elif field.is_repeated:
            if not isinstance(value, list):
                raise bad_field(name, field_rule(field))
            result[key] = [_normalize_value(field, item, f"{name}[{i}]") for i, item in enumerate(value)]
        else:
            result[key] = _normalize_value(field, value, name)
    return result


def _normalize_value(field: FieldDescriptor, value: Any, name: str) -> Any:
    if field.message_type is not None:
        return normalize(field.message_type, value, name)
    if isinstance(value, bool):
        return value
    if field.type == _T.TYPE_STRING and isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, Decimal):
        if field.type in _FLOAT_TYPES:
            return float(value)
        if (
            field.type in _INTEGER_TYPES
            and value.copy_abs() < _INTEGER_LIMIT
            and value == value.to_integral_value()
        ):
            return int(value)
        raise bad_field(name, field_rule(field))
    return value


def fold_legacy_forms(message: Descriptor, data: dict[str, Any]) -> dict[str, Any]:
    """The REST contract's older forms, rewritten to the proto's: `stop_bot_price`/`stop_top_price`
    renamed, and the flat auth keys (`user_id`, `user_sig`, `timestamp`, `nonce` at the top level)
    moved into `user_auth`. Only keys that are not fields of `message` are touched, and only when
    `message` has the target field; a request giving both forms is rejected."""
    result = dict(data)
    fields = message.fields_by_name
    for old, new in LEGACY_RENAMES.items():
        if old in result and old not in fields and new in fields:
            if new in result:
                raise bad_field(old, f"give {new} or its legacy name {old}, not both")
            result[new] = result.pop(old)
    if AUTH_FIELD not in fields:
        return result
    flat = {key: result.pop(key) for key in list(result) if key in LEGACY_AUTH_KEYS and key not in fields}
    if not flat:
        return result
    existing = result.get(AUTH_FIELD)
    if existing is not None:
        raise bad_field(AUTH_FIELD, "give user_auth or the flat user_id/user_sig/timestamp/nonce, not both")
    auth = {LEGACY_AUTH_KEYS[key]: value for key, value in flat.items()}
    if "user_id" in fields and "user_id" in result and "user_id" not in auth:
        auth["user_id"] = result["user_id"]  # a GET's `user_id` filter doubles as the signer
    result[AUTH_FIELD] = auth
    return result


def query_to_dict(message: Descriptor, query: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Query parameters as request JSON: `a.b=1` sets field b of message field a; a repeated field
    takes every value of its key; booleans and enum numbers are converted, other scalars stay
    strings for json_format (which accepts numbers as strings)."""
    grouped: dict[str, list[str]] = {}
    for key, value in query:
        grouped.setdefault(key, []).append(value)
    nested: dict[str, Any] = {}
    for key, values in grouped.items():
        if "." in key:
            _set_path(message, nested, key, values)
    # The legacy forms are top-level keys; folding moves the flat auth ones under user_auth.
    folded = fold_legacy_forms(message, {key: values for key, values in grouped.items() if "." not in key})
    for key, values in folded.items():
        if key == AUTH_FIELD and isinstance(values, dict):
            for auth_key, auth_values in values.items():
                _set_path(message, nested, f"{AUTH_FIELD}.{auth_key}", auth_values)
        else:
            _set_path(message, nested, key, values)
    return nested


def _set_path(message: Descriptor, target: dict[str, Any], dotted: str, values: list[str]) -> None:
    parts = dotted.split(".")
    descriptor = message
    node = target
    for depth, part in enumerate(parts):
        name = ".".join(parts[: depth + 1])
        field = descriptor.fields_by_name.get(part)
        if field is None:
            raise bad_field(dotted, f"unknown query parameter: {name} is not a field of {descriptor.name}")
        if depth == len(parts) - 1:
            if field.message_type is not None:
                raise bad_field(dotted, "is a message: set its fields, e.g. " + f"{dotted}.<field>")
            if field.is_repeated:
                node[part] = [_query_scalar(field, v, dotted) for v in values]
            elif len(values) > 1:
                raise bad_field(dotted, "must be given once")
            else:
                node[part] = _query_scalar(field, values[0], dotted)
            return
        if field.message_type is None or field.is_repeated:
            raise bad_field(dotted, f"{name} is not a message field, so it has no sub-fields")
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise bad_field(dotted, f"{name} is given both as a value and with sub-fields")
        node = child
        descriptor = field.message_type


def _query_scalar(field: FieldDescriptor, value: str, name: str) -> Any:
    if field.type == _T.TYPE_BOOL:
        lowered = value.lower()
        if lowered in ("true", "1"):
            return True
        if lowered in ("false", "0"):
            return False
        raise bad_field(name, field_rule(field))
    if field.enum_type is not None and value.isdigit():
        return int(value)
    return value


def merge(target: dict[str, Any], source: Mapping[str, Any], path: str = "") -> None:
    """Deep-merge `source` into `target`; a field set by both is an error naming it."""
    for key, value in source.items():
        name = f"{path}.{key}" if path else key
        if key not in target:
            target[key] = value
        elif isinstance(target[key], dict) and isinstance(value, dict):
            merge(target[key], value, name)
        else:
            raise bad_field(name, "is set twice (by the path, the query string or the body)")


def build_request(
    route: HttpRoute,
    message: Descriptor,
    path_params: Mapping[str, str],
    query: Iterable[tuple[str, str]],
    body: bytes | None,
) -> Message:
    """The request message of one HTTP request to `route`, whose RPC takes `message`."""
    data: dict[str, Any] = {}
    if route.body == "*":
        data = normalize(message, fold_legacy_forms(message, _object_body(body)))
    elif route.body:
        field = message.fields_by_name[route.body]
        if field.message_type is None:
            data[route.body] = parse_json_body(body or b"")
        else:
            data[route.body] = normalize(
                field.message_type, fold_legacy_forms(field.message_type, _object_body(body))
            )
    query_items = list(query)
    if query_items:
        if route.body == "*":
            raise bad_field(query_items[0][0], "no query parameters here: the body carries the whole request")
        queried = query_to_dict(message, query_items)
        if route.body and route.body in queried:
            raise bad_field(route.body, "is the request body and cannot be set from the query string")
        merge(data, queried)
    for name in route.path_params:
        bound: dict[str, Any] = {}
        _set_path(message, bound, name, [path_params[name]])
        merge(data, bound)
    try:
        return parse_message(message, expand_enum_names(message, data))
    except DomainError as exc:
        if route.body and route.body != "*":
            raise relative_to_body(exc, route.body) from None
        raise


def relative_to_body(error: DomainError, body_field: str) -> DomainError:
    """`error` with its fields named as the client wrote them: when the body IS one field of the
    request (PreviewGrid's `config`), its fields are bare (`grid_levels`), as every other error
    of the same call names them, not `config.grid_levels`."""
    prefix = body_field + "."
    violations = [FieldViolation(v.field.removeprefix(prefix), v.description) for v in error.field_violations]
    message = error.message.replace(prefix, "") if violations else error.message
    return DomainError(
        error.reason,
        message,
        metadata=error.metadata,
        field_violations=violations,
        code=error.code,
        retry_after_ms=error.retry_after_ms,
    )


def _object_body(body: bytes | None) -> dict[str, Any]:
    parsed = parse_json_body(body or b"")
    if not isinstance(parsed, dict):
        raise _bad_body("request body must be a JSON object")
    return parsed


def parse_message(message: Descriptor, data: dict[str, Any]) -> Message:
    """json_format's parse, with its errors turned into a DomainError naming the field."""
    result = message_factory.GetMessageClass(message)()
    try:
        json_format.ParseDict(data, result, ignore_unknown_fields=False)
    except json_format.ParseError as exc:
        raise _parse_error(message, str(exc)) from None
    return result


def _parse_error(message: Descriptor, text: str) -> DomainError:
    path = _PARSE_ERROR_FIELD.findall(text)
    descriptor: Descriptor | None = message
    field: FieldDescriptor | None = None
    for part in path:
        field = None if descriptor is None else descriptor.fields_by_name.get(part)
        descriptor = None if field is None else field.message_type
    if not path or field is None:
        return bad_field("body", "cannot be parsed: " + text.splitlines()[0])
    rule = field_rule(field)
    if field.is_repeated and not _is_map(field) and field.message_type is None:
        rule = "must be a list whose items each " + field_rule_of_item(field).removeprefix("must ")
    return bad_field(".".join(path), rule)


def field_rule_of_item(field: FieldDescriptor) -> str:
    """The rule of one item of a repeated field."""
    if field.enum_type is not None or field.message_type is not None:
        return "must be valid"
    if field.type in _INTEGER_TYPES:
        return "must be an integer"
    if field.type in _FLOAT_TYPES:
        return "must be a number"
    if field.type == _T.TYPE_BOOL:
        return "must be true or false"
    return "must be a string"
