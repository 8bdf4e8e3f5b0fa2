"""Schemathesis against the REST shim's /openapi.json, served by the real app on the in-process
simulator (issue 11). Every operation of the document is fuzzed with schema-valid and schema-invalid
requests; user-acting ones are mostly signed for real (tests/fuzz/case_signing.py), so they reach
the service. No answer may be a 5xx or relay a status without our ErrorInfo (a 429 that is not
RATE_LIMIT_EXCEEDED, ...); afterwards the service must be healthy and its RSS bounded.

A short fixed-seed run is part of `make test`; `make fuzz` raises the example counts (FUZZ_EXAMPLES).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import given, seed
from orderly_grid.v1 import grid_service_pb2 as pb
from schemathesis.specs.openapi import checks as openapi_checks

from tests.fuzz import case_signing
from tests.fuzz.case_signing import Case
from tests.fuzz.report import REPORT, examples, fuzz_seed, fuzz_settings
from tests.fuzz.service import MAX_RSS_GROWTH_BYTES, FuzzService
from tests.integration.harness import WALLET_KEYS
from tests.integration.rest_signing import auth_json

REST_EXAMPLES = examples(25)
START_PATH = "/api/grid/start"
STOP_PATH = "/api/grid/stop"
CALL_TIMEOUT_S = 10.0
STREAM_FIRST_LINE_TIMEOUT_S = 5.0
# Error codes of a gRPC status that grpc itself produced (no ErrorInfo) and the shim relayed.
BARE_STATUS_CODES = frozenset(
    {
        "RESOURCE_EXHAUSTED",
        "UNAVAILABLE",
        "DEADLINE_EXCEEDED",
        "UNKNOWN",
        "CANCELLED",
        "DATA_LOSS",
        "INTERNAL",
    }
)
# Checks of the answers besides ours: never a 5xx, and the response matches the documented schema.
CHECKS = [
    schemathesis.checks.not_a_server_error,
    openapi_checks.content_type_conformance,
    openapi_checks.response_schema_conformance,
]


@pytest.fixture(scope="module")
def rest_schema(fuzz_service: FuzzService) -> schemathesis.BaseSchema:
    schema = schemathesis.openapi.from_url(f"{fuzz_service.rest_url}/openapi.json")
    schema.hook(case_signing.map_case)
    return schema


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def _is_stream(case: Case) -> bool:
    binding = case_signing.BINDINGS.get((case.method.upper(), case.path))
    return binding is not None and binding.route.server_streaming


def _send_stream(case: Case, http: requests.Session, base_url: str) -> tuple[int, bytes]:
    """A streaming route (NDJSON until the client leaves): the status and the first line."""
    data = case.as_transport_kwargs(base_url=base_url)
    data["timeout"] = STREAM_FIRST_LINE_TIMEOUT_S
    with http.request(**data, stream=True) as response:
        if response.status_code != 200:
            return response.status_code, response.content
        first = next(response.iter_lines(), b"")
        return response.status_code, first


def _error_code(body: bytes) -> str | None:
    try:
        parsed: Any = json.loads(body)
    except ValueError:
        return None
    if isinstance(parsed, dict) and isinstance(parsed.get("error_code"), str):
        return str(parsed["error_code"])
    return None


def _judge(status: int, body: bytes) -> str | None:
    """The finding in an answer, or None when it is clean."""
    if status >= 500:
        return f"HTTP {status}: {body[:300]!r}"
    code = _error_code(body) if status >= 400 else None
    if code in BARE_STATUS_CODES:
        return f"HTTP {status} relaying a bare {code}: {body[:300]!r}"
    return None


POSITIVE, NEGATIVE = schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE
# Every operation with schema-valid input, and those that take any input also with invalid input.
CASES = [
    pytest.param(f"{method} {path}", mode, id=f"{method} {path} {mode.value}")
    for (method, path), binding in sorted(case_signing.BINDINGS.items())
    for mode in ((POSITIVE, NEGATIVE) if binding.method.input_type.fields else (POSITIVE,))
]


def _check(case: Case, fuzz_service: FuzzService, http: requests.Session) -> None:
    category = f"rest {case.method.upper()} {case.path}"
    base_url = fuzz_service.rest_url
    if _is_stream(case):
        status, body = _send_stream(case, http, base_url)
        response = None
    else:
        response = case.call(base_url=base_url, session=http, timeout=CALL_TIMEOUT_S)
        status, body = response.status_code, response.content
    finding = _judge(status, body)
    if finding is not None:
        reproducer = case.as_curl_command(base_url=base_url)
        REPORT.finding(category, finding, reproducer)
        raise AssertionError(f"{category}: {finding}\n  reproducer: {reproducer}")
    assert fuzz_service.alive, "the service died"
    if status < 400:
        REPORT.ok(category)
        if case.path == START_PATH:
            _stop_started_grid(body, http, base_url)
    elif response is not None and _refused_by_http_parser(response):
        REPORT.clean_error(category, f"{status} (HTTP parser)")
        return  # aiohttp's own plain-text answer to a head it cannot parse: no envelope to check
    else:
        REPORT.clean_error(category, str(status))
    if response is not None:
        case.validate_response(response, checks=CHECKS)


def _stop_started_grid(started: bytes, http: requests.Session, base_url: str) -> None:
    """Stop (and flatten) the grid a fuzzed start started, signed by its owner, so that the next
    valid start is not refused as a duplicate; the stop is fuzz traffic too (its own category)."""
    session_id = json.loads(started)["data"]["grid"]["session_id"]
    key = WALLET_KEYS[session_id.split("_", 1)[0].lower()]
    request = pb.StopGridRequest(session_id=session_id, close_position=True)
    body = {
        "session_id": session_id,
        "close_position": True,
        "user_auth": auth_json("StopGrid", request, key),
    }
    category = f"rest POST {STOP_PATH} after a fuzzed start"
    response = http.post(f"{base_url}{STOP_PATH}", json=body, timeout=CALL_TIMEOUT_S)
    finding = _judge(response.status_code, response.content)
    if finding is not None:
        REPORT.finding(category, finding, json.dumps(body))
        raise AssertionError(f"{category}: {finding}")
    if response.status_code < 400:
        REPORT.ok(category)
    else:
        REPORT.clean_error(category, str(response.status_code))


def _refused_by_http_parser(response: schemathesis.Response) -> bool:
    """aiohttp refused the request head before the app saw it (a request line or header over
    8 KiB, ...): a plain-text 400 (server.rest.parse_errors)."""
    content_types = response.headers.get("content-type") or [""]
    return response.status_code == 400 and content_types[0].startswith("text/plain")


@pytest.mark.parametrize(("label", "mode"), CASES)
def test_rest_operation_answers_cleanly(
    label: str,
    mode: schemathesis.GenerationMode,
    rest_schema: schemathesis.BaseSchema,
    fuzz_service: FuzzService,
    http: requests.Session,
) -> None:
    operation = rest_schema.find_operation_by_label(label)
    assert operation is not None, f"{label} is not in /openapi.json"

    @fuzz_settings(REST_EXAMPLES)
    @seed(fuzz_seed())
    @given(case=operation.as_strategy(generation_mode=mode))
    def fuzz(case: Case) -> None:
        _check(case, fuzz_service, http)

    fuzz()


def test_the_service_is_healthy_with_bounded_rss_after_the_rest_fuzz(fuzz_service: FuzzService) -> None:
    fuzz_service.check_healthy()
    response = requests.get(f"{fuzz_service.rest_url}/health/ready", timeout=CALL_TIMEOUT_S)
    assert response.status_code == 200, response.text
    growth = fuzz_service.rss_growth()
    bound = MAX_RSS_GROWTH_BYTES
    REPORT.note(f"rest fuzz: healthy afterwards; RSS grew {growth >> 20} MiB (bound {bound >> 20} MiB)")
    assert growth <= bound, f"RSS grew {growth} bytes"
