"""Price input for a backtest: CSV ticks (`timestamp,price`) or bars (`timestamp,open,high,low,close
[,volume]`), held exactly as scaled integers.

Every price is kept as an int64 count of 10^-scale units, so the pre-scan compares prices with the grid's
lines exactly (no float rounding decides a fill) and the engine is fed the exact Decimal of the input
text. Timestamps are integer milliseconds, non-decreasing. A bar becomes four path points (see
`bar_path`). Every error names the line and the field.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

import numpy as np
import numpy.typing as npt

# A year of 1-minute bars is 525,600 rows; two years of them fit. A request over the API has its own,
# smaller limit (server.backtest.api_limits).
MAX_ROWS = 1_200_000
# Prices are kept as int64 of 10^-scale units: at most 10^18 of them, so a price may have at most
# 18 significant digits once scaled (BTC at 100000 with 8 decimals uses 13).
MAX_SCALED = 10**18
MAX_SCALE = 12  # the engine's own limit on fraction digits (engine.config.MAX_FRACTION_DIGITS)
_NUMBER = re.compile(r"([0-9]+)(?:\.([0-9]*))?")
Int64Array = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


class PriceInputError(ValueError):
    """A CSV the backtester cannot use; the message names the line and field."""


class BarOrder(StrEnum):
    """The path inside one bar. NEAREST: open -> the extreme nearer the open -> the other extreme ->
    close (a tie goes low first). PESSIMISTIC: high before low for LONG and BOTH grids, low before high
    for SHORT ones, so a bar ends on the leg that builds the grid's inventory."""

    NEAREST = "NEAREST"
    PESSIMISTIC = "PESSIMISTIC"


@dataclass(frozen=True)
class PriceSeries:
    """The path the backtest walks: timestamps_ms and prices (int64, in 10^-scale units)."""

    timestamps_ms: Int64Array
    prices: Int64Array
    scale: int
    bars: int = 0  # how many bars the path came from (0: ticks)

    def __post_init__(self) -> None:
        if len(self.prices) == 0:
            raise PriceInputError("the price series is empty")
        if len(self.prices) != len(self.timestamps_ms):
            raise PriceInputError("timestamps and prices differ in length")

    def __len__(self) -> int:
        return len(self.prices)

    def price(self, index: int) -> Decimal:
        """The exact Decimal price of point `index`."""
        return Decimal(int(self.prices[index])).scaleb(-self.scale)

    def as_float(self) -> FloatArray:
        """For the equity curve and metrics only: money figures come from Decimal (engine.pnl)."""
        return self.prices.astype(np.float64) / float(10**self.scale)

    def scaled_to(self, scale: int) -> PriceSeries:
        """The same series in finer units (a grid line may have more decimals than the data)."""
        if scale <= self.scale:
            return self
        factor = 10 ** (scale - self.scale)
        if int(self.prices.max()) * factor >= MAX_SCALED:
            raise PriceInputError(f"prices cannot be held with {scale} decimals: too many digits")
        return PriceSeries(self.timestamps_ms, self.prices * factor, scale, self.bars)


def scaled(value: Decimal, scale: int) -> int:
    """`value` in 10^-scale units; raises when it does not fit exactly."""
    units = value.scaleb(scale)
    if units != units.to_integral_value():
        raise PriceInputError(f"{value} has more than {scale} decimals")
    return int(units)


def decimals_needed(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


def _number(text: str, line_no: int, field: str) -> tuple[int, int]:
    """(mantissa, fraction digits) of a plain positive decimal, or PriceInputError naming it."""
    match = _NUMBER.fullmatch(text.strip())
    if match is None:
        raise PriceInputError(f"line {line_no}: {field}: expected a plain decimal number, got {text!r}")
    whole, fraction = match[1], (match[2] or "").rstrip("0")
    if len(fraction) > MAX_SCALE:
        raise PriceInputError(f"line {line_no}: {field}: more than {MAX_SCALE} decimals in {text!r}")
    return int(whole + fraction), len(fraction)


def _rows(lines: Iterable[str]) -> Iterable[tuple[int, list[str]]]:
    for line_no, line in enumerate(lines, start=1):
        text = line.strip()
        if text and not text.startswith("#"):
            yield line_no, [field.strip() for field in text.split(",")]


_TICK_FIELDS = ("timestamp", "price")
_BAR_FIELDS = ("timestamp", "open", "high", "low", "close")


def parse_csv(lines: Iterable[str], *, max_rows: int = MAX_ROWS) -> tuple[PriceSeries, bool]:
    """Parse CSV text lines into (series of raw rows, is_bars). Ticks: one price per row; bars: the
    rows' open/high/low/close as a (rows, 4) series, expanded into a path by `bar_path`. A first row
    that is not numeric is a header."""
    stamps: list[int] = []
    mantissas: list[int] = []
    digits: list[int] = []
    line_numbers: list[int] = []
    fields: tuple[str, ...] | None = None
    for line_no, row in _rows(lines):
        if fields is None:
            if not row[0].lstrip("-").isdigit():
                if stamps:
                    raise PriceInputError(f"line {line_no}: timestamp: expected integer milliseconds")
                continue  # the header
            if len(row) == 2:
                fields = _TICK_FIELDS
            elif len(row) in (5, 6):
                fields = _BAR_FIELDS
            else:
                raise PriceInputError(
                    f"line {line_no}: expected 'timestamp,price' or 'timestamp,open,high,low,close"
                    f"[,volume]', got {len(row)} fields"
                )
        if len(row) != len(fields) and not (fields is _BAR_FIELDS and len(row) == 6):
            raise PriceInputError(f"line {line_no}: expected {len(fields)} fields, got {len(row)}")
        if len(stamps) >= max_rows:
            raise PriceInputError(f"line {line_no}: more than {max_rows} rows")
        try:
            stamp = int(row[0])
        except ValueError:
            raise PriceInputError(f"line {line_no}: timestamp: expected integer milliseconds") from None
        if stamps and stamp < stamps[-1]:
            raise PriceInputError(f"line {line_no}: timestamp: {stamp} is before the previous row's")
        stamps.append(stamp)
        line_numbers.append(line_no)
        for name, text in zip(fields[1:], row[1:], strict=False):
            mantissa, fraction = _number(text, line_no, name)
            if mantissa == 0:
                raise PriceInputError(f"line {line_no}: {name}: must be > 0, got {text!r}")
            mantissas.append(mantissa)
            digits.append(fraction)
    if fields is None:
        raise PriceInputError("no price rows")
    scale = max(digits)
    width = len(fields) - 1
    values = _scaled_array(mantissas, digits, scale).reshape(len(stamps), width)
    times = np.array(stamps, dtype=np.int64)
    if width == 1:
        return PriceSeries(times, values[:, 0], scale), False
    _check_bars(values, np.array(line_numbers, dtype=np.int64))
    return PriceSeries(np.repeat(times, 4), values.reshape(-1), scale, bars=len(stamps)), True


def _scaled_array(mantissas: list[int], digits: list[int], scale: int) -> Int64Array:
    # Python ints first: a mantissa times its power of ten may not fit int64, which must be an error.
    if min(digits) == scale:
        raw = mantissas
    else:
        raw = [
            mantissa * 10 ** (scale - fraction) for mantissa, fraction in zip(mantissas, digits, strict=True)
        ]
    if max(raw) >= MAX_SCALED:
        raise PriceInputError(f"a price has more than 18 significant digits at {scale} decimals")
    return np.array(raw, dtype=np.int64)


def _check_bars(values: Int64Array, line_numbers: Int64Array) -> None:
    opens, highs, lows, closes = values.T
    bad_high = highs < np.maximum(opens, closes)
    bad_low = lows > np.minimum(opens, closes)
    for bad, field, rule in ((bad_high, "high", ">= open and close"), (bad_low, "low", "<= open and close")):
        if bad.any():
            line_no = int(line_numbers[int(np.flatnonzero(bad)[0])])
            raise PriceInputError(f"line {line_no}: {field}: must be {rule}")


def bar_path(bars: PriceSeries, order: BarOrder, high_first_if_pessimistic: bool) -> PriceSeries:
    """The path through `bars` (a series whose points are open, high, low, close per bar, as
    parse_csv returns): per bar open -> first extreme -> second extreme -> close, all at the bar's
    timestamp. NEAREST: the extreme nearer the open first (tie: the low); PESSIMISTIC: the high first
    when `high_first_if_pessimistic` (LONG, BOTH), else the low."""
    values = bars.prices.reshape(-1, 4)
    opens, highs, lows, closes = values.T
    if order is BarOrder.NEAREST:
        high_first = (highs - opens) < (opens - lows)
    else:
        high_first = np.full(len(opens), high_first_if_pessimistic)
    first = np.where(high_first, highs, lows)
    second = np.where(high_first, lows, highs)
    path = np.stack([opens, first, second, closes], axis=1).reshape(-1)
    return PriceSeries(bars.timestamps_ms, path, bars.scale, bars.bars)


def series_from_arrays(timestamps_ms: Int64Array, prices: Int64Array, scale: int) -> PriceSeries:
    """A tick series built in memory (benchmarks, tests, the klines fetcher)."""
    return PriceSeries(np.asarray(timestamps_ms, np.int64), np.asarray(prices, np.int64), scale)
