"""The REST shim: the protos' google.api.http routes served over aiohttp by calling the gRPC API.

Entry points: `build_rest_app(channel)` for an aiohttp Application, and `RestShim` to run it.
"""

from server.rest.app import build_rest_app
from server.rest.shim import RestShim

__all__ = ["RestShim", "build_rest_app"]
