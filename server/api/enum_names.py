"""Translate between the REST contract's plain enum names ("LONG") and the proto's ("DIRECTION_LONG").

buf STANDARD lint makes every enum value carry its type's prefix (Direction -> DIRECTION_), while the
REST contract's JSON says "direction": "LONG". The REST shim runs request JSON through
`expand_enum_names` before json_format parses it, and response JSON through `shorten_enum_names`
after json_format renders it. Both walk the message descriptor, so every enum field of every message
is covered without a table, and a value that is already a full name (or a number) passes unchanged.
"""

from __future__ import annotations

import re
from typing import Any

from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor

_WORD_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def enum_value_prefix(enum: EnumDescriptor) -> str:
    """The prefix buf's ENUM_VALUE_PREFIX rule requires: the type name in UPPER_SNAKE_CASE plus "_"."""
    return _WORD_BOUNDARY.sub("_", enum.name).upper() + "_"


def _expand(enum: EnumDescriptor, value: Any) -> Any:
    if isinstance(value, str) and value not in enum.values_by_name:
        candidate = enum_value_prefix(enum) + value.upper()
        if candidate in enum.values_by_name:
            return candidate
    return value


def _shorten(enum: EnumDescriptor, value: Any) -> Any:
    prefix = enum_value_prefix(enum)
    if isinstance(value, str) and value.startswith(prefix) and value in enum.values_by_name:
        return value.removeprefix(prefix)
    return value


def _translate(message: Descriptor, data: dict[str, Any], expand: bool) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in data.items():
        field = message.fields_by_name.get(key)
        result[key] = value if field is None else _translate_field(field, value, expand)
    return result


def _translate_field(field: FieldDescriptor, value: Any, expand: bool) -> Any:
    if field.is_repeated and isinstance(value, list):
        return [_translate_one(field, item, expand) for item in value]
    return _translate_one(field, value, expand)


def _translate_one(field: FieldDescriptor, value: Any, expand: bool) -> Any:
    if field.enum_type is not None:
        return _expand(field.enum_type, value) if expand else _shorten(field.enum_type, value)
    if field.message_type is not None and isinstance(value, dict):
        return _translate(field.message_type, value, expand)
    return value


def expand_enum_names(message: Descriptor, data: dict[str, Any]) -> dict[str, Any]:
    """A copy of request JSON `data` for `message` with plain enum names ("LONG", "long") replaced by
    the proto's full names ("DIRECTION_LONG"). Unknown names are left for json_format to reject, with
    its error naming the field."""
    return _translate(message, data, expand=True)


def shorten_enum_names(message: Descriptor, data: dict[str, Any]) -> dict[str, Any]:
    """A copy of response JSON `data` for `message` (proto field names) with enum values written as
    the REST contract's plain names ("DIRECTION_LONG" -> "LONG")."""
    return _translate(message, data, expand=False)
