"""Where the tests find buf and protoc-gen-es (`make unit` installs both before pytest runs)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
TS_ROOT = REPO_ROOT / "clients" / "typescript"
PROTOC_GEN_ES = TS_ROOT / "node_modules" / ".bin" / "protoc-gen-es"


def buf_path() -> Path:
    """`$BUF`, else the one `make` installs into .venv/buf. A missing buf fails the test (with the
    command that installs it) rather than skipping it, so CI cannot pass without the check."""
    found = Path(os.environ.get("BUF") or REPO_ROOT / ".venv" / "buf" / "node_modules" / ".bin" / "buf")
    assert found.is_file(), f"buf not found at {found}: run `make unit` (or set BUF)"
    return found


def run_buf(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(buf_path()), *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )
