"""What the fuzzers tried and what came back, per category, printed as one table at the end of the
run (tests/fuzz/conftest.py): requests tried, answers that were fine (OK), clean errors by status,
and findings (a 5xx, INTERNAL/UNKNOWN, a status without our ErrorInfo, a dead or unhealthy service)
with a reproducer for each kind."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field

from hypothesis import HealthCheck, settings

MAX_REPRODUCER_CHARS = 600


def examples(default: int) -> int:
    """Examples per fuzzed category: FUZZ_EXAMPLES when set (`make fuzz`), else `default` (the
    short fixed-seed run of `make test`)."""
    return int(os.environ.get("FUZZ_EXAMPLES", default))


def fuzz_seed() -> int:
    """The Hypothesis seed of the run: FUZZ_SEED when set, else 0 (fixed)."""
    return int(os.environ.get("FUZZ_SEED", "0"))


def fuzz_settings(max_examples: int) -> settings:
    """Hypothesis settings of a fuzz test: no deadline (a call over sockets varies), no example
    database (a fixed seed replays a run), and no health checks about slow or large examples."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        print_blob=True,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
    )


@dataclass
class Finding:
    category: str
    outcome: str
    reproducer: str


@dataclass
class Tally:
    tried: int = 0
    ok: int = 0
    clean: Counter[str] = field(default_factory=Counter)
    findings: int = 0


@dataclass
class FuzzReport:
    tallies: dict[str, Tally] = field(default_factory=dict)
    # One reproducer per (category, outcome): the last one seen, which after Hypothesis' shrinking
    # is the smallest.
    findings: dict[tuple[str, str], Finding] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def _tally(self, category: str) -> Tally:
        return self.tallies.setdefault(category, Tally())

    def ok(self, category: str) -> None:
        tally = self._tally(category)
        tally.tried += 1
        tally.ok += 1

    def clean_error(self, category: str, status: str) -> None:
        tally = self._tally(category)
        tally.tried += 1
        tally.clean[status] += 1

    def finding(self, category: str, outcome: str, reproducer: str) -> None:
        tally = self._tally(category)
        tally.tried += 1
        tally.findings += 1
        self.findings[(category, outcome)] = Finding(category, outcome, reproducer[:MAX_REPRODUCER_CHARS])

    def note(self, text: str) -> None:
        self.notes.append(text)

    def table(self) -> str:
        """One row per category, a subtotal per transport (the category's first word: grpc, rest)
        and a total; then the notes and one line per kind of finding with its reproducer."""
        rows = [("category", "tried", "ok", "clean errors by status", "findings")]
        rules = [1]
        total = Tally()
        transports = sorted({category.split(" ", 1)[0] for category in self.tallies})
        for transport in transports:
            subtotal = Tally()
            for category in sorted(c for c in self.tallies if c.split(" ", 1)[0] == transport):
                tally = self.tallies[category]
                rows.append(_row(category, tally, _statuses(tally.clean)))
                _add(subtotal, tally)
            rules.append(len(rows))
            rows.append(_row(f"all {transport}", subtotal, _statuses(subtotal.clean)))
            rules.append(len(rows))
            _add(total, subtotal)
        rows.append(_row("TOTAL", total, f"{sum(total.clean.values())} clean errors"))
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        rule = "-+-".join("-" * width for width in widths)
        lines = []
        for index, row in enumerate(rows):
            if index in rules:
                lines.append(rule)
            lines.append(" | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
        lines.extend(self.notes)
        if self.findings:
            lines.append(f"findings ({len(self.findings)} kinds):")
            for finding in self.findings.values():
                lines.append(f"  [{finding.category}] {finding.outcome}: {finding.reproducer}")
        else:
            lines.append("findings: none")
        return "\n".join(lines)


def _row(name: str, tally: Tally, statuses: str) -> tuple[str, str, str, str, str]:
    return (name, str(tally.tried), str(tally.ok), statuses, str(tally.findings))


def _add(into: Tally, tally: Tally) -> None:
    into.tried += tally.tried
    into.ok += tally.ok
    into.clean.update(tally.clean)
    into.findings += tally.findings


def _statuses(counts: Counter[str]) -> str:
    return ", ".join(f"{status} {count}" for status, count in sorted(counts.items())) or "-"


REPORT = FuzzReport()
"""The run's report, filled by every fuzz test of the process."""
