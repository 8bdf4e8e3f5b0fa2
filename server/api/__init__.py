"""The API edge's pure parts: domain error reasons and their wire statuses, the REST route table
read from the protos' google.api.http annotations, and which client a call behind the REST shim
comes from (forwarding)."""
