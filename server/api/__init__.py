"""The API edge's pure parts: domain error reasons and their wire statuses, and the REST route table
read from the protos' google.api.http annotations."""
