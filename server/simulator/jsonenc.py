"""JSON text with Decimals written as plain JSON numbers (no float rounding, no exponent)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any


def decimal_text(value: Decimal) -> str:
    text = format(value, "f")
    return "0" if text in ("-0", "-0.0") else text


def dumps(value: Any) -> str:
    parts: list[str] = []
    _write(value, parts)
    return "".join(parts)


def _write(value: Any, out: list[str]) -> None:
    if isinstance(value, Decimal):
        out.append(decimal_text(value))
    elif isinstance(value, dict):
        out.append("{")
        for index, (key, item) in enumerate(value.items()):
            if index:
                out.append(",")
            out.append(json.dumps(str(key)))
            out.append(":")
            _write(item, out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _write(item, out)
        out.append("]")
    else:
        out.append(json.dumps(value))
