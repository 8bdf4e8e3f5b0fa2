from __future__ import annotations

import subprocess
import sys


def test_help_lists_the_command_and_exits_zero() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "server.cli", "--help"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0
    assert "orderly-grid" in result.stdout
