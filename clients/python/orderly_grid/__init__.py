"""Python client for the orderly-grid service.

`orderly_grid.v1` holds the generated protobuf messages (`*_pb2`) and gRPC stubs (`*_pb2_grpc`) for
the `orderly_grid.v1` API, with type stubs; the typed SDK will be built on them here.
"""

__version__ = "0.1.0"
