"""Hypothesis fuzz of every GridService and HealthService method over the real gRPC server (issue 11).

Three categories per method: "fields" (a request message with hostile field values: huge, negative,
NaN/Infinity/exponent decimal texts, invalid UTF-8, unknown enum numbers, wrong wire types, unknown
fields; user-acting requests mostly signed for real so they get past the signature check),
"metadata" (for the user-acting methods: the auth block as x-user-* metadata, hostile or really
signed, with the operator token, forged forwarding claims and request ids) and "raw bytes" (bytes
that are not the method's message). Every grid a fuzzed StartGrid starts is stopped again, so that
later valid starts are not refused as duplicates. No answer may be INTERNAL, UNKNOWN or lack our
ErrorInfo; afterwards the service must be healthy and its RSS bounded.

A short fixed-seed run is part of `make test`; `make fuzz` raises the example counts (FUZZ_EXAMPLES).
"""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest
from google.protobuf.message import Message
from hypothesis import given, seed
from hypothesis import strategies as st

from tests.fuzz.grpc_calls import (
    METHODS,
    Method,
    call_and_record,
    sign_into_metadata,
    sign_payload,
    stop_started_grid,
    without_auth,
)
from tests.fuzz.messages import Metadata, bases, good_values, metadata, raw_bytes, request_bytes
from tests.fuzz.report import REPORT, examples, fuzz_seed, fuzz_settings
from tests.fuzz.service import MAX_RSS_GROWTH_BYTES, FuzzService
from tests.integration.harness import OTHER_USER_KEY, USER_KEY

FIELD_EXAMPLES = examples(40)
METADATA_EXAMPLES = examples(15)
RAW_EXAMPLES = examples(15)
SIGNED_METHODS = [m for m in METHODS if m.signed]
# Who signs a user-acting request: mostly the user the base request names, sometimes another
# wallet, sometimes nobody (the auth block stays as drawn).
SIGNERS = st.sampled_from([USER_KEY, USER_KEY, USER_KEY, OTHER_USER_KEY, None])


@pytest.fixture(scope="module")
def channel(fuzz_service: FuzzService) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(fuzz_service.grpc_target) as opened:
        yield opened


def _base(service: FuzzService, method: Method) -> Message:
    assert service.spare_account is not None
    base = bases(service.spare_account).get(method.name)
    return base if base is not None else method.request_type()


@pytest.mark.parametrize("method", METHODS, ids=[m.name for m in METHODS])
def test_hostile_field_values_get_clean_answers(
    method: Method, fuzz_service: FuzzService, channel: grpc.Channel
) -> None:
    assert fuzz_service.spare_account is not None
    requests = request_bytes(_base(fuzz_service, method), good_values(fuzz_service.spare_account))
    signers = SIGNERS if method.signed else st.none()
    category = f"grpc {method.name} fields"

    @fuzz_settings(FIELD_EXAMPLES)
    @seed(fuzz_seed())
    @given(payload=requests, signer=signers)
    def fuzz(payload: bytes, signer: str | None) -> None:
        if signer is not None:
            payload = sign_payload(method, payload, signer)
        outcome = call_and_record(channel, method, payload, category)
        if method.name == "StartGrid" and outcome.status == "OK" and signer is not None:
            stop_started_grid(channel, outcome, signer)
        assert fuzz_service.alive, "the service died"

    fuzz()


@pytest.mark.parametrize("method", SIGNED_METHODS, ids=[m.name for m in SIGNED_METHODS])
def test_hostile_metadata_gets_clean_answers(
    method: Method, fuzz_service: FuzzService, channel: grpc.Channel
) -> None:
    """The auth block as x-user-* metadata (hostile, or a real signature), the operator token,
    forged forwarding claims and request ids."""
    assert fuzz_service.spare_account is not None
    requests = request_bytes(_base(fuzz_service, method), good_values(fuzz_service.spare_account))
    category = f"grpc {method.name} metadata"

    @fuzz_settings(METADATA_EXAMPLES)
    @seed(fuzz_seed())
    @given(payload=requests, extra=metadata(), signer=SIGNERS)
    def fuzz(payload: bytes, extra: Metadata, signer: str | None) -> None:
        signed: Metadata = ()
        if signer is None:
            payload = without_auth(method, payload)
        else:
            payload, signed = sign_into_metadata(method, payload, signer)
        outcome = call_and_record(channel, method, payload, category, signed + extra)
        if method.name == "StartGrid" and outcome.status == "OK" and signer is not None:
            stop_started_grid(channel, outcome, signer)
        assert fuzz_service.alive, "the service died"

    fuzz()


@pytest.mark.parametrize("method", METHODS, ids=[m.name for m in METHODS])
def test_bytes_that_are_not_the_message_get_clean_answers(
    method: Method, fuzz_service: FuzzService, channel: grpc.Channel
) -> None:
    category = f"grpc {method.name} raw bytes"

    @fuzz_settings(RAW_EXAMPLES)
    @seed(fuzz_seed())
    @given(payload=raw_bytes(_base(fuzz_service, method)))
    def fuzz(payload: bytes) -> None:
        call_and_record(channel, method, payload, category)
        assert fuzz_service.alive, "the service died"

    fuzz()


def test_the_service_is_healthy_with_bounded_rss_after_the_grpc_fuzz(
    fuzz_service: FuzzService, channel: grpc.Channel
) -> None:
    fuzz_service.check_healthy()
    growth = fuzz_service.rss_growth()
    bound = MAX_RSS_GROWTH_BYTES
    REPORT.note(f"grpc fuzz: healthy afterwards; RSS grew {growth >> 20} MiB (bound {bound >> 20} MiB)")
    assert growth <= bound, f"RSS grew {growth} bytes"
