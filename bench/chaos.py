"""Chaos: the service SIGKILLed at random points under venue faults, on each store; prints one table.

    .venv/bin/python bench/chaos.py [--seed 1] [--kills 10] [--stores sqlite,mongo] [--faults|--no-faults]
                                    [--grids 5] [--accounts 4] [--duration-s 900] [--json-out FILE]

Per store: the exchange simulator in its own process (`orderly-grid simulate`, partial fills and
funding on), `orderly-grid serve` as a child on it (SQLite, or MongoDB through an nx-27017 process),
wallets with their own registered Orderly accounts, grids on several symbols started, stopped (half of
them closing their position) and started again through the SDK while the driver walks the prices.
Between phases the service is killed with SIGKILL -- plainly, right after a StartGrid or StopGrid is
sent, or right after a price burst that fills many orders -- and restarted (sometimes while the
venue's WebSockets stall); after each restart, once it is ready, and at the end, the invariants of
tests/chaos/invariants.py are checked against the simulator's full order and trade history. Exit
status 1 when any invariant was violated (the violations are listed under the table), 2 when a run
could not be carried out.

`make chaos` runs the long form: 100 kills x 3 seeds x both stores, faults on.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import signal
import statistics
import sys
import tempfile
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

# Run as a script, bench/ comes first on sys.path and bench/engine.py would shadow the engine package;
# the repository root goes first instead (it holds the chaos package under tests/).
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:] = [str(ROOT)] + [entry for entry in sys.path if Path(entry or ".").resolve() != HERE]

from tests.chaos import invariants as inv  # noqa: E402
from tests.chaos.driver import ChaosRun  # noqa: E402
from tests.chaos.model import ChaosConfig, StoreReport  # noqa: E402

MAX_DETAILS_PER_INVARIANT = 12


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, action="append", help="run seed; repeat for several (default 1)")
    parser.add_argument("--kills", type=int, default=10, help="SIGKILLs per store and seed (default 10)")
    parser.add_argument("--stores", default="sqlite,mongo", help="comma-separated: sqlite, mongo")
    parser.add_argument("--faults", action=argparse.BooleanOptionalAction, default=True, help="venue faults")
    parser.add_argument("--grids", type=int, default=5, help="grids (wallet, symbol pairs); default 5")
    parser.add_argument("--accounts", type=int, default=4, help="wallets, each its own account; default 4")
    parser.add_argument("--duration-s", type=float, default=3600.0, help="max kill-loop time per store")
    parser.add_argument("--settle-s", type=float, default=20.0, help="how long a check waits to settle")
    parser.add_argument("--settle-budget-s", type=float, default=240.0, help="all settle waits per store")
    parser.add_argument("--phase-s", type=float, nargs=2, default=(0.5, 2.0), metavar=("MIN", "MAX"))
    parser.add_argument("--stall-s", type=float, nargs=2, default=(0.5, 3.0), metavar=("MIN", "MAX"))
    parser.add_argument("--stall-probability", type=float, default=0.3, help="per restart, with faults on")
    parser.add_argument("--restart-stalls-max", type=int, help="cap on restart stalls per store")
    parser.add_argument("--phase-stall-probability", type=float, default=0.3, help="per trading phase")
    parser.add_argument("--lost-push-rate", type=float, default=0.05)
    parser.add_argument("--http-error-rate", type=float, default=0.03, help="each of 429 and 5xx")
    parser.add_argument("--latency-ms", type=int, default=3)
    parser.add_argument("--liquidity-fraction", type=Decimal, default=Decimal("0.5"))
    parser.add_argument("--log-level", default="WARNING", help="the service's GRID_LOG_LEVEL")
    parser.add_argument("--workdir", type=Path, help="keep logs and stores here (default: a temp dir)")
    parser.add_argument("--json-out", type=Path, help="also write the results as JSON")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    return parser.parse_args(argv)


def config_of(args: argparse.Namespace, seed: int) -> ChaosConfig:
    return ChaosConfig(
        seed=seed,
        kills=args.kills,
        faults=args.faults,
        grids=args.grids,
        accounts=args.accounts,
        duration_s=args.duration_s,
        settle_s=args.settle_s,
        settle_budget_s=args.settle_budget_s,
        phase_s=(args.phase_s[0], args.phase_s[1]),
        stall_s=(args.stall_s[0], args.stall_s[1]),
        stall_probability=args.stall_probability,
        phase_stall_probability=args.phase_stall_probability,
        restart_stalls_max=args.restart_stalls_max,
        lost_push_rate=args.lost_push_rate,
        http_error_rate=args.http_error_rate,
        latency_ms=args.latency_ms,
        liquidity_fraction=args.liquidity_fraction,
        log_level=args.log_level,
    )


class Progress(list[str]):
    """Log lines, echoed to stderr as they come unless quiet."""

    def __init__(self, quiet: bool) -> None:
        super().__init__()
        self.quiet = quiet

    def append(self, line: str) -> None:
        super().append(line)
        if not self.quiet:
            print(line, file=sys.stderr, flush=True)


def _ms(values: list[float], how: str) -> str:
    if not values:
        return "-"
    return f"{statistics.median(values):.0f}" if how == "p50" else f"{max(values):.0f}"


def table(reports: list[tuple[str, StoreReport]]) -> str:
    """One table: a column per run (store and seed), a row per figure and per invariant."""
    rows: list[tuple[str, list[str]]] = [
        ("kills", [str(sum(r.kills.values())) for _, r in reports]),
        (
            "  plain/start/stop/burst",
            ["/".join(str(r.kills[k]) for k in ("plain", "start", "stop", "burst")) for _, r in reports],
        ),
        ("restarts", [str(r.restarts) for _, r in reports]),
        ("ws stalls", [str(r.stalls) for _, r in reports]),
        ("runs (sessions started)", [str(r.runs) for _, r in reports]),
        ("orders (venue)", [str(r.orders) for _, r in reports]),
        ("fills (venue)", [str(r.fills) for _, r in reports]),
        ("fills (ledger)", [str(r.ledger_fills) for _, r in reports]),
        ("restart-to-ready p50 ms", [_ms(r.ready_ms, "p50") for _, r in reports]),
        ("restart-to-ready max ms", [_ms(r.ready_ms, "max") for _, r in reports]),
        ("checks (failed to read)", [f"{r.checks} ({r.failed_checks})" for _, r in reports]),
        (
            "service INTERNAL errors",
            [str(sum(n for k, n in r.calls.items() if k.endswith(":INTERNAL"))) for _, r in reports],
        ),
        ("elapsed s", [f"{r.elapsed_s:.0f}" for _, r in reports]),
    ]
    rows += [(f"violations: {name}", [str(r.count(name)) for _, r in reports]) for name in inv.INVARIANTS]
    rows.append(("violations: total", [str(len(r.violations)) for _, r in reports]))
    rows.append(
        (
            "closes clamped (not violations)",
            [str(sum(n.startswith("close clamped") for n in r.notes)) for _, r in reports],
        )
    )
    rows.append(("run error", [("yes" if r.error else "no") for _, r in reports]))
    headers = [label for label, _ in reports]
    first = max(len(label) for label, _ in rows)
    widths = [max(len(h), *(len(values[i]) for _, values in rows)) for i, h in enumerate(headers)]
    lines = ["  ".join([" " * first, *(h.rjust(w) for h, w in zip(headers, widths, strict=True))])]
    lines.append("  ".join(["-" * first, *("-" * w for w in widths)]))
    for label, values in rows:
        lines.append(
            "  ".join([label.ljust(first), *(v.rjust(w) for v, w in zip(values, widths, strict=True))])
        )
    return "\n".join(lines)


def details(reports: list[tuple[str, StoreReport]]) -> str:
    lines: list[str] = []
    for label, report in reports:
        if report.error:
            lines.append(f"[{label}] run error: {report.error}")
        for name in inv.INVARIANTS:
            found = [v for (invariant, _), v in report.violations.items() if invariant == name]
            for violation in found[:MAX_DETAILS_PER_INVARIANT]:
                lines.append(f"[{label}] {name}: {violation.detail}")
            if len(found) > MAX_DETAILS_PER_INVARIANT:
                lines.append(f"[{label}] {name}: ... and {len(found) - MAX_DETAILS_PER_INVARIANT} more")
        for note in report.notes[:MAX_DETAILS_PER_INVARIANT]:
            lines.append(f"[{label}] note: {note}")
    return "\n".join(lines)


def as_json(reports: list[tuple[str, StoreReport]]) -> dict[str, Any]:
    return {
        label: {
            "store": r.store,
            "kills": dict(r.kills),
            "restarts": r.restarts,
            "unexpected_exits": r.unexpected_exits,
            "stalls": r.stalls,
            "runs": r.runs,
            "orders": r.orders,
            "fills": r.fills,
            "ledger_fills": r.ledger_fills,
            "ready_ms": r.ready_ms,
            "checks": r.checks,
            "failed_checks": r.failed_checks,
            "elapsed_s": r.elapsed_s,
            "calls": dict(r.calls),
            "error": r.error,
            "notes": r.notes,
            "counts": {name: r.count(name) for name in inv.INVARIANTS},
            "violations": [
                {"invariant": v.invariant, "key": v.key, "detail": v.detail} for v in r.violations.values()
            ],
        }
        for label, r in reports
    }


async def run_all(
    args: argparse.Namespace, workdir: Path, progress: Progress, reports: list[tuple[str, StoreReport]]
) -> None:
    """Every (seed, store) run in turn, appending to `reports`. SIGTERM or SIGINT cancels the run in
    progress, which still kills its children (process groups) on the way out."""
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    stores = [s.strip() for s in args.stores.split(",") if s.strip()]
    seeds = args.seed or [1]
    for seed in seeds:
        config = config_of(args, seed)
        for store in stores:
            label = f"{store}/{seed}" if len(seeds) > 1 else store
            run_dir = workdir / f"{store}-{seed}"
            run_dir.mkdir(parents=True, exist_ok=True)
            report = await ChaosRun(replace(config), store, run_dir, progress).run()
            reports.append((label, report))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        config_of(args, 0)
    except ValueError as exc:
        print(f"chaos: {exc}", file=sys.stderr)
        return 2
    progress = Progress(args.quiet)
    keep = args.workdir is not None
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="orderly-grid-chaos-"))
    workdir.mkdir(parents=True, exist_ok=True)
    reports: list[tuple[str, StoreReport]] = []
    try:
        asyncio.run(run_all(args, workdir, progress, reports))
    except asyncio.CancelledError:
        print("chaos: interrupted", file=sys.stderr)
        return 130
    finally:
        failed = not reports or any(r.violations or r.error for _, r in reports)
        if failed:
            keep = True
            print(f"chaos: logs and stores kept in {workdir}", file=sys.stderr)
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print(table(reports))
    text = details(reports)
    if text:
        print()
        print(text)
    if args.json_out is not None:
        args.json_out.write_text(json.dumps({"runs": as_json(reports), "log": list(progress)}, indent=2))
    if any(r.error or r.failed_checks for _, r in reports):
        return 2
    return 1 if any(r.violations for _, r in reports) else 0


if __name__ == "__main__":
    sys.exit(main())
