"""The grid is laid out around the venue's live mark price, never around a price the client typed.

`current_price` stays accepted (the old API requires it) and is checked against the mark: further than
the tolerance (default 1 %, a request may ask for up to 5 %) is INVALID_ARGUMENT naming current_price
and showing the mark, so a stale or mistyped price never places orders on the wrong side of the market.
The bounds must contain the mark and every line must lie within the venue's price scope around it
(engine.plan checks both, with the mark as the config's current price).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from engine.config import decimal_digits_rule
from server.api.errors import DomainError
from server.service.grid_input import MAX_DECIMAL_TEXT_LENGTH

DEFAULT_PRICE_TOLERANCE = Decimal("0.01")
MAX_PRICE_TOLERANCE = Decimal("0.05")


def price_tolerance(text: str) -> Decimal:
    """The request's tolerance ("" = the default), or INVALID_ARGUMENT naming price_tolerance."""
    stripped = text.strip()
    if not stripped:
        return DEFAULT_PRICE_TOLERANCE
    rule = f"must be a decimal fraction in (0, {MAX_PRICE_TOLERANCE}] (0.01 = 1 %)"
    if len(stripped) > MAX_DECIMAL_TEXT_LENGTH:  # the limits every decimal field keeps (grid_input)
        raise DomainError.invalid_field(
            "price_tolerance", f"{rule}, at most {MAX_DECIMAL_TEXT_LENGTH} characters, got {len(stripped)}"
        )
    try:
        value = Decimal(stripped)
    except InvalidOperation:
        raise DomainError.invalid_field("price_tolerance", f"{rule}, got {text[:40]!r}") from None
    if not value.is_finite() or not 0 < value <= MAX_PRICE_TOLERANCE:
        raise DomainError.invalid_field("price_tolerance", f"{rule}, got {text[:40]!r}")
    digits = decimal_digits_rule(value)
    if digits is not None:
        raise DomainError.invalid_field("price_tolerance", digits)
    return value


def check_current_price(current_price: str, mark: Decimal, tolerance: Decimal) -> None:
    """Refuse a current_price further than `tolerance` from the mark (an empty one is not checked:
    the mark is used). Called after the config's own checks, so the text is a valid decimal."""
    stripped = current_price.strip()
    if not stripped or mark <= 0:
        return
    typed = Decimal(stripped)
    if abs(typed - mark) <= mark * tolerance:
        return
    off = abs(typed - mark) / mark * 100
    raise DomainError.invalid_field(
        "current_price",
        f"{typed} is {off:.2f} % from the venue's mark price {mark}, beyond the tolerance of "
        f"{tolerance * 100:g} %; the grid is laid out around the mark: send the mark (or omit "
        "current_price), or raise price_tolerance",
    )
