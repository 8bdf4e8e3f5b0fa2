"""An OpenAPI 3 description of the REST routes, generated from the same route table and descriptors
the shim serves, so it cannot drift from the protos. It describes the shapes (paths, parameters,
bodies, the envelopes); the prose lives in the proto comments, which the runtime descriptors lack.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from google.api import field_behavior_pb2
from google.protobuf.descriptor import Descriptor, FieldDescriptor, MethodDescriptor

from server.api.enum_names import enum_value_prefix
from server.api.http_rules import HttpRoute
from server.health import package_version

OPENAPI_VERSION = "3.0.3"
SCHEMA_PREFIX = "#/components/schemas/"
ERROR_ENVELOPE = "ErrorEnvelope"
_MAX_QUERY_DEPTH = 3
_T = FieldDescriptor
_INT32 = frozenset({_T.TYPE_INT32, _T.TYPE_SINT32, _T.TYPE_SFIXED32, _T.TYPE_UINT32, _T.TYPE_FIXED32})
_INT64 = frozenset({_T.TYPE_INT64, _T.TYPE_SINT64, _T.TYPE_SFIXED64, _T.TYPE_UINT64, _T.TYPE_FIXED64})


def _ref(message: Descriptor) -> dict[str, Any]:
    return {"$ref": SCHEMA_PREFIX + message.full_name}


def _is_required(field: FieldDescriptor) -> bool:
    options = field.GetOptions()
    behaviors = options.Extensions[field_behavior_pb2.field_behavior]
    return field_behavior_pb2.FieldBehavior.REQUIRED in behaviors


class _Schemas:
    """Component schemas of every message reachable from the routes."""

    def __init__(self) -> None:
        self.components: dict[str, Any] = {}

    def ref(self, message: Descriptor) -> dict[str, Any]:
        if message.full_name not in self.components:
            self.components[message.full_name] = {}  # placeholder first: messages may recurse
            self.components[message.full_name] = self._object(message)
        return _ref(message)

    def _object(self, message: Descriptor) -> dict[str, Any]:
        schema: dict[str, Any] = {
            "type": "object",
            "properties": {field.name: self.field(field) for field in message.fields},
            "additionalProperties": False,
        }
        required = [field.name for field in message.fields if _is_required(field)]
        if required:
            schema["required"] = required
        return schema

    def field(self, field: FieldDescriptor) -> dict[str, Any]:
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            value = field.message_type.fields_by_name["value"]
            return {"type": "object", "additionalProperties": self.single(value)}
        if field.is_repeated:
            return {"type": "array", "items": self.single(field)}
        return self.single(field)

    def single(self, field: FieldDescriptor) -> dict[str, Any]:
        if field.message_type is not None:
            return self.ref(field.message_type)
        return scalar_schema(field)


def scalar_schema(field: FieldDescriptor) -> dict[str, Any]:
    if field.enum_type is not None:
        prefix = enum_value_prefix(field.enum_type)
        return {
            "type": "string",
            "enum": [value.name.removeprefix(prefix) for value in field.enum_type.values],
        }
    if field.type in _INT32:
        return {"type": "integer", "format": "int32"}
    if field.type in _INT64:
        # proto3 JSON writes 64-bit integers as decimal strings; numbers are accepted on input.
        return {"type": "string", "format": "int64", "pattern": "^-?[0-9]+$"}
    if field.type in (_T.TYPE_FLOAT, _T.TYPE_DOUBLE):
        return {"type": "number"}
    if field.type == _T.TYPE_BOOL:
        return {"type": "boolean"}
    if field.type == _T.TYPE_BYTES:
        return {"type": "string", "format": "byte"}
    return {"type": "string"}


def _query_parameters(message: Descriptor, excluded: set[str], prefix: str = "", depth: int = 0) -> list[Any]:
    parameters: list[Any] = []
    for field in message.fields:
        name = prefix + field.name
        if name in excluded:
            continue
        if field.message_type is not None:
            if not field.is_repeated and depth < _MAX_QUERY_DEPTH:
                parameters.extend(_query_parameters(field.message_type, excluded, name + ".", depth + 1))
            continue
        schema = scalar_schema(field)
        if field.is_repeated:
            schema = {"type": "array", "items": schema}
        parameters.append({"name": name, "in": "query", "required": False, "schema": schema})
    return parameters


def _path_parameter(message: Descriptor, dotted: str) -> dict[str, Any]:
    descriptor: Descriptor | None = message
    field: FieldDescriptor | None = None
    for part in dotted.split("."):
        assert descriptor is not None
        field = descriptor.fields_by_name[part]
        descriptor = field.message_type
    assert field is not None
    return {"name": dotted, "in": "path", "required": True, "schema": scalar_schema(field)}


def _responses(route: HttpRoute, method: MethodDescriptor, schemas: _Schemas) -> dict[str, Any]:
    output = method.output_type
    error = {
        "description": "The error envelope; the HTTP status follows the gRPC code as grpc-gateway maps it",
        "content": {"application/json": {"schema": {"$ref": SCHEMA_PREFIX + ERROR_ENVELOPE}}},
    }
    if output.full_name == "google.api.HttpBody":
        ok: dict[str, Any] = {
            "description": "The raw body (Prometheus text exposition format)",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    elif route.server_streaming:
        ok = {
            "description": f"Newline-delimited JSON, one {output.name} per line, until the stream ends",
            "content": {"application/x-ndjson": {"schema": schemas.ref(output)}},
        }
    else:
        ok = {
            "description": f"{{success: true, data: {output.name}}}",
            "content": {"application/json": {"schema": _envelope(schemas.ref(output))}},
        }
    responses: dict[str, Any] = {"200": ok, "default": error}
    if method.full_name == "orderly_grid.v1.HealthService.GetReadiness":
        responses["503"] = {
            "description": "Not ready: {success: false, data: GetReadinessResponse} naming the failed checks",
            "content": {"application/json": {"schema": _envelope(schemas.ref(output))}},
        }
    return responses


def _envelope(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"success": {"type": "boolean"}, "data": data},
        "required": ["success", "data"],
    }


def _error_envelope_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "success": {"type": "boolean", "enum": [False]},
            "error_code": {
                "type": "string",
                "description": "google.rpc.ErrorInfo reason, e.g. SESSION_NOT_FOUND",
            },
            "code": {"type": "string", "description": "gRPC status code name"},
            "message": {"type": "string"},
            "details": {"type": "object", "additionalProperties": True},
        },
        "required": ["success", "error_code", "message", "details"],
    }


def _operation(
    route: HttpRoute, method: MethodDescriptor, operation_id: str, schemas: _Schemas
) -> dict[str, Any]:
    message = method.input_type
    parameters = [_path_parameter(message, name) for name in route.path_params]
    if route.body != "*":
        excluded = set(route.path_params) | ({route.body} if route.body else set())
        parameters.extend(_query_parameters(message, excluded))
    operation: dict[str, Any] = {
        "operationId": operation_id,
        "summary": f"{method.containing_service.name}.{method.name}",
        "tags": [method.containing_service.name],
        "responses": _responses(route, method, schemas),
    }
    if parameters:
        operation["parameters"] = parameters
    if route.body:
        body_schema = (
            schemas.ref(message) if route.body == "*" else schemas.field(message.fields_by_name[route.body])
        )
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": body_schema}},
        }
    return operation


def openapi_document(routes: Sequence[HttpRoute], methods: Mapping[str, MethodDescriptor]) -> dict[str, Any]:
    """The OpenAPI 3.0 document of `routes`, whose RPCs are looked up in `methods` by full name."""
    schemas = _Schemas()
    paths: dict[str, dict[str, Any]] = {}
    seen: dict[str, int] = {}
    for route in routes:
        method = methods[route.rpc]
        base_id = f"{method.containing_service.name}_{method.name}"
        seen[base_id] = seen.get(base_id, 0) + 1
        operation_id = base_id if seen[base_id] == 1 else f"{base_id}{seen[base_id]}"
        paths.setdefault(route.path_template, {})[route.method.lower()] = _operation(
            route, method, operation_id, schemas
        )
    components = dict(sorted(schemas.components.items()))
    components[ERROR_ENVELOPE] = _error_envelope_schema()
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "orderly-grid REST API",
            "version": package_version(),
            "description": "Generated from the google.api.http rules of the orderly_grid.v1 protos.",
        },
        "paths": paths,
        "components": {"schemas": components},
    }
