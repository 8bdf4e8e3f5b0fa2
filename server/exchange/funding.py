"""Funding settlements from the venue's accrued funding per position.

Orderly pushes no funding event to an account; REST /v1/positions reports `accrued_funding_fee` per
position (paid > 0, received < 0). Each change of it on an open position between two reads is a
settlement, emitted as FundingSettled (paid is negative there, as the engine's ledger counts it),
stamped with the row's updated_time (the engine applies one settlement per timestamp). The first read
is the baseline (funding accrued before it, e.g. while the service was down, is not re-booked; a
symbol absent from it had none), and a change on a flat position is a reset, not a payment.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from engine.events import FundingSettled
from server.exchange.models import PositionReport


class AccruedFunding:
    def __init__(self) -> None:
        self._accrued: dict[str, Decimal] = {}
        self._has_baseline = False

    def observe(self, reports: Iterable[PositionReport]) -> list[tuple[str, FundingSettled]]:
        """The settlements since the last observation, per symbol."""
        settled: list[tuple[str, FundingSettled]] = []
        baseline, self._has_baseline = not self._has_baseline, True
        for report in reports:
            before = self._accrued.get(report.symbol, Decimal(0))
            self._accrued[report.symbol] = report.accrued_funding
            if baseline or report.quantity == 0:
                continue
            paid = report.accrued_funding - before
            if paid:
                settled.append((report.symbol, FundingSettled(-paid, report.updated_ms)))
        return settled
