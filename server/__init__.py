"""The imperative shell: gRPC and REST edges, session runtime, stores, exchange adapter and simulator."""
