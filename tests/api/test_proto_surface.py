"""Design rules of the orderly_grid.v1 API that the protos must keep (beyond what buf lint checks)."""

from __future__ import annotations

from collections.abc import Iterator

from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from orderly_grid.v1 import auth_pb2, grid_pb2, grid_service_pb2, health_service_pb2

FILES = (auth_pb2.DESCRIPTOR, grid_pb2.DESCRIPTOR, grid_service_pb2.DESCRIPTOR, health_service_pb2.DESCRIPTOR)
GRID_SERVICE = grid_service_pb2.DESCRIPTOR.services_by_name["GridService"]
HEALTH_SERVICE = health_service_pb2.DESCRIPTOR.services_by_name["HealthService"]
# Need no signature: they read no user data and change nothing.
PUBLIC_GRID_RPCS = {"PreviewGrid", "BacktestGrid"}

# Fields that are times in ms but keep the REST contract's names.
LEGACY_TIME_FIELDS = {
    "orderly_grid.v1.UserAuth.timestamp",
    "orderly_grid.v1.ListGridSummariesRequest.start_time",
    "orderly_grid.v1.ListGridSummariesRequest.end_time",
}
DECIMAL_WORDS = (
    "price",
    "quantity",
    "margin",
    "bound",
    "fee",
    "profit",
    "pnl",
    "notional",
    "ratio",
    "rate",
    "apr",
)
DECIMAL_NAMES = {"realized", "unrealized", "funding", "total", "fees"}


def _messages() -> Iterator[Descriptor]:
    def walk(message: Descriptor) -> Iterator[Descriptor]:
        yield message
        for nested in message.nested_types:
            yield from walk(nested)

    for file in FILES:
        for message in file.message_types_by_name.values():
            yield from walk(message)


def _fields() -> Iterator[FieldDescriptor]:
    for message in _messages():
        yield from message.fields


def _reachable(message: Descriptor, seen: set[str] | None = None) -> set[str]:
    seen = set() if seen is None else seen
    if message.full_name in seen:
        return seen
    seen.add(message.full_name)
    for field in message.fields:
        if field.message_type is not None:
            _reachable(field.message_type, seen)
    return seen


def test_every_grid_rpc_that_acts_for_a_user_carries_user_auth() -> None:
    for method in GRID_SERVICE.methods:
        field = method.input_type.fields_by_name.get("user_auth")
        if method.name in PUBLIC_GRID_RPCS:
            assert field is None, method.full_name
            continue
        assert field is not None, f"{method.full_name} has no user_auth"
        assert field.message_type is auth_pb2.UserAuth.DESCRIPTOR


def test_health_rpcs_need_no_signature() -> None:
    for method in HEALTH_SERVICE.methods:
        assert "user_auth" not in method.input_type.fields_by_name


def test_no_field_is_a_binary_float() -> None:
    floats = {FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT}
    assert [f.full_name for f in _fields() if f.type in floats] == []


def test_prices_quantities_and_money_are_decimal_strings() -> None:
    suspects = [
        f
        for f in _fields()
        if f.message_type is None
        and f.enum_type is None
        and (f.name in DECIMAL_NAMES or any(word in f.name.split("_") for word in DECIMAL_WORDS))
    ]
    assert len(suspects) > 40  # the rule is really looking at the money fields
    assert [f.full_name for f in suspects if f.type != FieldDescriptor.TYPE_STRING] == []


def test_times_are_int64_ms() -> None:
    for field in _fields():
        if field.name.endswith("_ms") or field.full_name in LEGACY_TIME_FIELDS:
            assert field.type == FieldDescriptor.TYPE_INT64, field.full_name
        elif "time" in field.name:
            raise AssertionError(f"{field.full_name}: a time field must end in _ms")


def test_the_orderly_secret_is_input_only_and_reachable_from_no_response() -> None:
    secret_fields = [f.full_name for f in _fields() if "secret" in f.name]
    assert secret_fields == ["orderly_grid.v1.RegisterAccountRequest.orderly_secret"]
    for service in (GRID_SERVICE, HEALTH_SERVICE):
        for method in service.methods:
            assert "orderly_grid.v1.RegisterAccountRequest" not in _reachable(method.output_type)
    secret = grid_service_pb2.RegisterAccountRequest.DESCRIPTOR.fields_by_name["orderly_secret"]
    assert secret.GetOptions().debug_redact


def test_start_request_fields_mirror_grid_config_number_for_number() -> None:
    config = grid_pb2.GridConfig.DESCRIPTOR
    start = grid_service_pb2.StartGridRequest.DESCRIPTOR
    for field in config.fields:
        twin = start.fields_by_number[field.number]
        assert (twin.name, twin.type, twin.enum_type) == (field.name, field.type, field.enum_type)
    assert set(start.fields_by_name) - set(config.fields_by_name) == {"user_auth"}


def test_every_enum_starts_with_an_unspecified_zero_and_prefixes_its_values() -> None:
    for file in FILES:
        for enum in file.enum_types_by_name.values():
            prefix = "".join(f"_{c}" if c.isupper() else c.upper() for c in enum.name).lstrip("_") + "_"
            assert enum.values_by_number[0].name == f"{prefix}UNSPECIFIED"
            assert all(value.name.startswith(prefix) for value in enum.values)


def test_the_rest_contract_start_body_parses_with_its_field_names() -> None:
    body = {
        "ticker": "BTCUSDT",
        "direction": "DIRECTION_BOTH",
        "current_price": "42500",
        "upper_bound": "45000",
        "lower_bound": "40000",
        "grid_levels": 6,
        "total_margin": "1000",
        "grid_type": "GRID_TYPE_ARITHMETIC",
        "user_auth": {
            "user_id": "0x8ba1f109551bD432803012645Ac136ddd64DBA72",
            "signature": "0x" + "ab" * 65,
            "timestamp": 1767225600000,
            "nonce": "7f3a9c",
        },
    }
    request = json_format.ParseDict(body, grid_service_pb2.StartGridRequest())
    assert request.direction == grid_pb2.DIRECTION_BOTH
    assert request.user_auth.timestamp == 1767225600000
    echoed = json_format.MessageToDict(request, preserving_proto_field_name=True)
    assert echoed["user_auth"]["timestamp"] == "1767225600000"  # int64 is a JSON string in proto3 JSON
    assert {k: v for k, v in echoed.items() if k != "user_auth"} == {
        k: v for k, v in body.items() if k != "user_auth"
    }
