"""Fixtures of the fuzzers (the service under fuzz, one per module) and the closing table.

The run's figures (tests/fuzz/report.py) are printed at the end of every pytest run that fuzzed:
requests tried per category, OK answers, clean errors by status, findings with a reproducer each,
and the service's health and RSS after each fuzzer.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fuzz.report import REPORT
from tests.fuzz.service import FuzzService


@pytest.fixture(scope="module")
def fuzz_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzService]:
    service = FuzzService(tmp_path_factory.mktemp("fuzz"))
    service.start()
    try:
        yield service
    finally:
        service.stop()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not REPORT.tallies:
        return
    terminalreporter.section("fuzz report")
    terminalreporter.write_line(REPORT.table())
