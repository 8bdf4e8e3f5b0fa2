"""The short chaos run of issue 10, in the test suite: bench/chaos.py with a fixed seed, 5 SIGKILLs on
each store (SQLite and MongoDB through nx-27017), venue faults on, one restart against stalled
WebSockets per store. Every invariant must hold: zero violations (the long run is `make chaos`)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHORT_RUN = [
    "--seed",
    "1",
    "--kills",
    "5",
    "--stores",
    "sqlite,mongo",
    "--faults",
    "--grids",
    "5",
    "--accounts",
    "4",
    "--restart-stalls-max",
    "1",
    "--quiet",
]
DEADLINE_S = 420.0


async def test_short_chaos_run_keeps_every_invariant(tmp_path: Path) -> None:
    result = tmp_path / "chaos.json"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(REPO / "bench" / "chaos.py"),
        *SHORT_RUN,
        "--workdir",
        str(tmp_path / "work"),
        "--json-out",
        str(result),
        cwd=REPO,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    try:
        async with asyncio.timeout(DEADLINE_S):
            stdout, stderr = await process.communicate()
    finally:
        if process.returncode is None:
            # SIGTERM lets the run kill its own children (they are in their own process groups).
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                async with asyncio.timeout(30):
                    await process.wait()
            except TimeoutError:
                os.killpg(process.pid, signal.SIGKILL)
                await process.wait()
    table = stdout.decode()
    assert result.exists(), f"no result (exit {process.returncode}):\n{table}\n{stderr.decode()[-3000:]}"
    runs = json.loads(result.read_text())["runs"]
    assert set(runs) == {"sqlite", "mongo"}
    for store, run in runs.items():
        assert not run["error"], f"{store}: {run['error']}\n{table}"
        assert sum(run["kills"].values()) == 5, f"{store}: {run['kills']}"
        assert run["restarts"] >= 5
        assert run["fills"] > 0, f"{store}: no fills, the run exercised nothing\n{table}"
        assert run["failed_checks"] == 0, f"{store}: {run['notes']}"
    violations = [v for run in runs.values() for v in run["violations"]]
    assert violations == [], f"{len(violations)} violations:\n{table}"
    assert process.returncode == 0, table
