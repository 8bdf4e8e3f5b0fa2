"""The REST route table, read from the google.api.http annotations of the generated descriptors.

The protos are the single source of the REST contract: the REST shim serves exactly `api_routes()`,
the routes a generated grpc-gateway would serve. Path templates are restricted to plain `{field}`
variables (no `{name=pattern}` forms, no verbs), a form aiohttp's router accepts unchanged; a rule
outside that subset is rejected here rather than served differently from the gateway.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from google.api import annotations_pb2, http_pb2
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from orderly_grid.v1 import grid_service_pb2, health_service_pb2

API_SERVICES: tuple[ServiceDescriptor, ...] = (
    grid_service_pb2.DESCRIPTOR.services_by_name["GridService"],
    health_service_pb2.DESCRIPTOR.services_by_name["HealthService"],
)

_PATTERN_KINDS = ("get", "put", "post", "delete", "patch")
_VARIABLE = re.compile(r"\{([a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)*)\}")
_LITERAL_SEGMENT = re.compile(r"[A-Za-z0-9._~-]*")


class HttpRuleError(ValueError):
    """An RPC's http annotation is missing or outside the subset the REST shim serves."""


@dataclass(frozen=True, slots=True)
class HttpRoute:
    """One REST route: `method` and `path_template` call the RPC `rpc` (full name, e.g.
    `orderly_grid.v1.GridService.GetGrid`). `body` is "" (no body: fields come from path and query),
    "*" (the whole request message) or the request field the body fills."""

    method: str
    path_template: str
    rpc: str
    body: str
    response_body: str
    server_streaming: bool

    @property
    def path_params(self) -> tuple[str, ...]:
        """The request fields bound from the path, in order."""
        return tuple(_VARIABLE.findall(self.path_template))

    def match(self, path: str) -> dict[str, str] | None:
        """The path variables if `path` matches this template, else None. A variable matches one
        non-empty path segment."""
        found = _template_regex(self.path_template).fullmatch(path)
        return None if found is None else dict(zip(self.path_params, found.groups(), strict=True))


def _template_regex(template: str) -> re.Pattern[str]:
    parts: list[str] = []
    last = 0
    for variable in _VARIABLE.finditer(template):
        parts.append(re.escape(template[last : variable.start()]))
        parts.append("([^/]+)")
        last = variable.end()
    parts.append(re.escape(template[last:]))
    return re.compile("".join(parts))


def _checked_template(template: str, rpc: str) -> str:
    if not template.startswith("/"):
        raise HttpRuleError(f"{rpc}: path template {template!r} must start with '/'")
    for segment in template.split("/")[1:]:
        if _VARIABLE.fullmatch(segment) is None and _LITERAL_SEGMENT.fullmatch(segment) is None:
            raise HttpRuleError(
                f"{rpc}: path segment {segment!r} of {template!r} is neither a literal nor a plain {{field}}"
            )
    return template


def _route(rule: http_pb2.HttpRule, method: MethodDescriptor) -> HttpRoute:
    rpc = method.full_name
    kind = rule.WhichOneof("pattern")
    if kind in _PATTERN_KINDS:
        http_method, template = kind.upper(), str(getattr(rule, kind))
    elif kind == "custom":
        http_method, template = rule.custom.kind.upper(), rule.custom.path
    else:
        raise HttpRuleError(f"{rpc}: http rule has no pattern")
    request_fields = method.input_type.fields_by_name
    if rule.body not in ("", "*") and rule.body not in request_fields:
        raise HttpRuleError(f"{rpc}: body {rule.body!r} is not a field of {method.input_type.full_name}")
    route = HttpRoute(
        method=http_method,
        path_template=_checked_template(template, rpc),
        rpc=rpc,
        body=rule.body,
        response_body=rule.response_body,
        server_streaming=method.server_streaming,
    )
    for param in route.path_params:
        if param.split(".")[0] not in request_fields:
            raise HttpRuleError(f"{rpc}: path variable {param!r} is not a field of the request")
    return route


def http_rule(method: MethodDescriptor) -> http_pb2.HttpRule | None:
    """The method's google.api.http annotation, or None when it has none."""
    options = method.GetOptions()
    if not options.HasExtension(annotations_pb2.http):
        return None
    rule: http_pb2.HttpRule = options.Extensions[annotations_pb2.http]
    return rule


def routes_for_method(method: MethodDescriptor) -> list[HttpRoute]:
    """The method's primary route followed by its additional bindings."""
    rule = http_rule(method)
    if rule is None:
        raise HttpRuleError(f"{method.full_name}: no google.api.http annotation")
    routes = [_route(rule, method)]
    for binding in rule.additional_bindings:
        if binding.additional_bindings:
            raise HttpRuleError(f"{method.full_name}: additional bindings cannot nest")
        routes.append(_route(binding, method))
    return routes


def routes_for_services(services: Iterable[ServiceDescriptor]) -> list[HttpRoute]:
    """Every route of every method of the services; two RPCs claiming one route is an error."""
    routes: list[HttpRoute] = []
    seen: dict[tuple[str, str], str] = {}
    for service in services:
        for method in service.methods:
            for route in routes_for_method(method):
                key = (route.method, route.path_template)
                if key in seen:
                    raise HttpRuleError(
                        f"{route.method} {route.path_template} is bound by {seen[key]} and {route.rpc}"
                    )
                seen[key] = route.rpc
                routes.append(route)
    return routes


def api_routes() -> list[HttpRoute]:
    """The REST routes of the orderly_grid.v1 API, in proto declaration order."""
    return routes_for_services(API_SERVICES)
