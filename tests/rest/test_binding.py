"""The pure binding rules, on the generated descriptors (no sockets)."""

from __future__ import annotations

import pytest
from orderly_grid.v1 import grid_service_pb2 as pb

from server.api.errors import DomainError
from server.api.http_rules import HttpRoute
from server.rest.binding import build_request, fold_legacy_forms, parse_json_body, query_to_dict

GET_GRID = HttpRoute(
    "GET", "/api/grid/status/{session_id}", "orderly_grid.v1.GridService.GetGrid", "", "", False
)
WATCH = HttpRoute("GET", "/api/grid/fills", "orderly_grid.v1.GridService.WatchFills", "", "", True)


def _violation(raised: pytest.ExceptionInfo[DomainError]) -> tuple[str, str]:
    [violation] = raised.value.field_violations
    return violation.field, violation.description


def test_query_builds_nested_dicts_and_converts_booleans() -> None:
    data = query_to_dict(
        pb.StopGridRequest.DESCRIPTOR,
        [("close_position", "TRUE"), ("user_auth.user_id", "0xabc"), ("user_auth.timestamp", "12")],
    )
    assert data == {"close_position": True, "user_auth": {"user_id": "0xabc", "timestamp": "12"}}


def test_repeated_query_key_fills_a_repeated_field() -> None:
    data = query_to_dict(pb.PreviewGridResponse.DESCRIPTOR, [("lines", "1"), ("lines", "2")])
    assert data == {"lines": ["1", "2"]}


def test_query_cannot_address_a_message_or_a_scalar_sub_field() -> None:
    with pytest.raises(DomainError) as raised:
        query_to_dict(pb.StopGridRequest.DESCRIPTOR, [("user_auth", "x")])
    assert _violation(raised)[0] == "user_auth"
    with pytest.raises(DomainError) as raised:
        query_to_dict(pb.StopGridRequest.DESCRIPTOR, [("session_id.x", "1")])
    assert "not a message field" in _violation(raised)[1]


def test_path_variable_and_query_parameter_for_one_field_conflict() -> None:
    with pytest.raises(DomainError) as raised:
        build_request(
            GET_GRID, pb.GetGridRequest.DESCRIPTOR, {"session_id": "a"}, [("session_id", "b")], None
        )
    assert _violation(raised) == ("session_id", "is set twice (by the path, the query string or the body)")


def test_uint64_query_value_out_of_range_names_the_field() -> None:
    with pytest.raises(DomainError) as raised:
        build_request(WATCH, pb.WatchFillsRequest.DESCRIPTOR, {}, [("after_seq", "-1")], None)
    assert _violation(raised) == ("after_seq", "must be an unsigned integer that fits 64 bits")


def test_lower_camel_case_json_names_are_accepted_in_bodies() -> None:
    route = HttpRoute("POST", "/api/grid/stop", "orderly_grid.v1.GridService.StopGrid", "*", "", False)
    body = b'{"sessionId": "s", "userAuth": {"userId": "0xabc"}}'
    message = build_request(route, pb.StopGridRequest.DESCRIPTOR, {}, [], body)
    assert isinstance(message, pb.StopGridRequest)
    assert (message.session_id, message.user_auth.user_id) == ("s", "0xabc")


def test_flat_auth_is_folded_only_where_the_message_has_user_auth() -> None:
    folded = fold_legacy_forms(
        pb.StopGridRequest.DESCRIPTOR, {"session_id": "s", "user_sig": "0x1", "nonce": "n"}
    )
    assert folded == {"session_id": "s", "user_auth": {"signature": "0x1", "nonce": "n"}}
    unchanged = fold_legacy_forms(pb.PreviewGridRequest.DESCRIPTOR, {"user_sig": "0x1"})
    assert unchanged == {"user_sig": "0x1"}


def test_flat_and_nested_auth_together_are_rejected() -> None:
    with pytest.raises(DomainError) as raised:
        fold_legacy_forms(pb.StopGridRequest.DESCRIPTOR, {"user_sig": "0x1", "user_auth": {"nonce": "n"}})
    assert _violation(raised)[0] == "user_auth"


def test_empty_body_is_an_empty_object_and_bad_utf8_is_named() -> None:
    assert parse_json_body(b"  ") == {}
    with pytest.raises(DomainError) as raised:
        parse_json_body(b'{"ticker": "\xff"}')
    assert raised.value.message == "request body must be UTF-8 JSON"
