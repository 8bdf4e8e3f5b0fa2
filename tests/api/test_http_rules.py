"""The REST route table comes from the protos and covers the REST contract route for route."""

from __future__ import annotations

import pytest
from google.api import annotations_pb2
from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.descriptor import ServiceDescriptor
from orderly_grid.v1 import grid_service_pb2, health_service_pb2

from server.api.http_rules import (
    API_SERVICES,
    HttpRoute,
    HttpRuleError,
    api_routes,
    routes_for_services,
)

GRID = "orderly_grid.v1.GridService"
HEALTH = "orderly_grid.v1.HealthService"

# The REST contract of architecture.md, plus the routes this API adds (preview, fills, account,
# session keys, history, backtest).
EXPECTED_ROUTES = {
    ("POST", "/api/grid/start"): (f"{GRID}.StartGrid", "*"),
    ("POST", "/api/grid/stop"): (f"{GRID}.StopGrid", "*"),
    ("GET", "/api/grid/status/{session_id}"): (f"{GRID}.GetGrid", ""),
    ("GET", "/api/grid/sessions"): (f"{GRID}.ListGrids", ""),
    ("GET", "/api/grid/summary"): (f"{GRID}.ListGridSummaries", ""),
    ("POST", "/api/grid/preview"): (f"{GRID}.PreviewGrid", "config"),
    ("GET", "/api/grid/fills/{session_id}"): (f"{GRID}.WatchFills", ""),
    ("GET", "/api/grid/fills"): (f"{GRID}.WatchFills", ""),
    ("POST", "/api/grid/account"): (f"{GRID}.RegisterAccount", "*"),
    ("GET", "/api/grid/history/{session_id}"): (f"{GRID}.GetGridHistory", ""),
    ("POST", "/api/grid/session-keys"): (f"{GRID}.CreateSessionKey", "*"),
    ("POST", "/api/grid/session-keys/revoke"): (f"{GRID}.RevokeSessionKey", "*"),
    ("POST", "/api/grid/backtest"): (f"{GRID}.BacktestGrid", "*"),
    ("GET", "/health"): (f"{HEALTH}.GetLiveness", ""),
    ("GET", "/"): (f"{HEALTH}.GetLiveness", ""),
    ("GET", "/health/ready"): (f"{HEALTH}.GetReadiness", ""),
    ("GET", "/metrics"): (f"{HEALTH}.GetMetrics", ""),
}


def _by_key() -> dict[tuple[str, str], HttpRoute]:
    return {(r.method, r.path_template): r for r in api_routes()}


def test_route_table_is_exactly_the_rest_contract() -> None:
    table = {key: (route.rpc, route.body) for key, route in _by_key().items()}
    assert table == EXPECTED_ROUTES


def test_every_rpc_of_every_api_service_has_an_http_rule() -> None:
    bound = {route.rpc for route in api_routes()}
    declared = {method.full_name for service in API_SERVICES for method in service.methods}
    assert declared == bound
    assert len(declared) == 15


def test_the_watch_and_backtest_routes_are_marked_server_streaming_and_nothing_else_is() -> None:
    streaming = {route.path_template for route in api_routes() if route.server_streaming}
    assert streaming == {"/api/grid/fills/{session_id}", "/api/grid/fills", "/api/grid/backtest"}


def test_path_params_are_request_fields() -> None:
    route = _by_key()[("GET", "/api/grid/status/{session_id}")]
    assert route.path_params == ("session_id",)
    assert "session_id" in grid_service_pb2.GetGridRequest.DESCRIPTOR.fields_by_name


def test_a_template_matches_concrete_paths_and_extracts_variables() -> None:
    route = _by_key()[("GET", "/api/grid/status/{session_id}")]
    session_id = "0x8ba1f109551bd432803012645ac136ddd64dba72_PERP_BTC_USDC"
    assert route.match(f"/api/grid/status/{session_id}") == {"session_id": session_id}
    assert route.match("/api/grid/status/") is None
    assert route.match("/api/grid/status/a/b") is None
    assert _by_key()[("GET", "/health")].match("/health/ready") is None
    assert _by_key()[("GET", "/")].match("/") == {}


def test_metrics_returns_http_body_so_it_is_served_raw() -> None:
    method = health_service_pb2.DESCRIPTOR.services_by_name["HealthService"].methods_by_name["GetMetrics"]
    assert method.output_type.full_name == "google.api.HttpBody"


def _service_with_rule(
    rule_text: str, request_fields: tuple[str, ...] = ("session_id",)
) -> ServiceDescriptor:
    """Build a throwaway service in its own pool whose one RPC carries the given http rule."""
    from google.api import http_pb2
    from google.protobuf import text_format

    pool = descriptor_pool.DescriptorPool()
    for module in (descriptor_pb2, http_pb2, annotations_pb2):
        proto = descriptor_pb2.FileDescriptorProto()
        module.DESCRIPTOR.CopyToProto(proto)
        pool.Add(proto)
    source = descriptor_pb2.FileDescriptorProto(
        name="test/v1/probe.proto",
        package="test.v1",
        syntax="proto3",
        dependency=["google/api/annotations.proto"],
    )
    request = source.message_type.add(name="ProbeRequest")
    for number, name in enumerate(request_fields, start=1):
        request.field.add(
            name=name,
            number=number,
            type=descriptor_pb2.FieldDescriptorProto.TYPE_STRING,
            label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL,
        )
    source.message_type.add(name="ProbeResponse")
    method = source.service.add(name="ProbeService").method.add(
        name="Probe", input_type=".test.v1.ProbeRequest", output_type=".test.v1.ProbeResponse"
    )
    if rule_text:
        method.options.Extensions[annotations_pb2.http].CopyFrom(
            text_format.Parse(rule_text, http_pb2.HttpRule())
        )
    pool.Add(source)
    return pool.FindServiceByName("test.v1.ProbeService")


def test_an_rpc_without_annotation_is_rejected_naming_it() -> None:
    with pytest.raises(HttpRuleError, match=r"test\.v1\.ProbeService\.Probe: no google\.api\.http"):
        routes_for_services([_service_with_rule("")])


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ('get: "/a/{name=things/*}"', "neither a literal nor a plain"),
        ('get: "/a/{missing}"', "path variable 'missing' is not a field"),
        ('post: "/a" body: "nope"', "body 'nope' is not a field"),
        ('get: "a/b"', "must start with '/'"),
    ],
)
def test_rules_outside_the_served_subset_are_rejected(rule: str, message: str) -> None:
    with pytest.raises(HttpRuleError, match=message):
        routes_for_services([_service_with_rule(rule)])


def test_two_rpcs_claiming_one_route_is_an_error() -> None:
    grid = grid_service_pb2.DESCRIPTOR.services_by_name["GridService"]
    with pytest.raises(HttpRuleError, match="POST /api/grid/start is bound by"):
        routes_for_services([grid, grid])
