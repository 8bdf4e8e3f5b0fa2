"""Generated protobuf and gRPC code for orderly_grid.v1 (see clients/python/generate.py)."""
