"""Who a call comes from, when a proxy (the REST shim) stands between the client and the gRPC server.

The per-address rate limits count a call against its client's address. Over gRPC that is the
connection's peer. Behind the REST shim every call's peer is the shim, so the shim tells the server
which address it saw connect, in `x-forwarded-for`. The client must never be able to choose that
address, so both ends hold a rule:

- the shim always sends exactly one `x-forwarded-for`, the address of the HTTP connection, and never
  forwards a client's own (its `X-Forwarded-For` header is ignored, its `Grpc-Metadata-X-Forwarded-For`
  and `Grpc-Metadata-X-Orderly-Grid-Proxy` headers are dropped: `SHIM_OWNED_METADATA`);
- the server believes `x-forwarded-for` only from a call that proves it comes from the shim of its own
  process (the per-process secret `x-orderly-grid-proxy`, compared in constant time), or whose peer is
  one of the trusted proxies (GRID_TRUSTED_PROXIES: addresses or networks, for a shim run as its own
  process). Any other caller, loopback ones included, is counted by its own address.

This module imports nothing heavy, so the REST shim running as its own process can use it.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from collections.abc import Iterable
from typing import TypeAlias

FORWARDED_FOR_KEY = "x-forwarded-for"
PROXY_TOKEN_KEY = "x-orderly-grid-proxy"
# gRPC metadata only the shim itself sets: a client's Grpc-Metadata-<key> header for them is dropped.
SHIM_OWNED_METADATA = frozenset({FORWARDED_FOR_KEY, PROXY_TOKEN_KEY})

IpNetwork: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network
IpAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address


def new_proxy_token() -> str:
    """The secret by which a process's gRPC server recognises the REST shim of the same process."""
    return secrets.token_urlsafe(32)


def parse_trusted_proxies(text: str) -> tuple[str, ...]:
    """GRID_TRUSTED_PROXIES: comma-separated IP addresses or networks (CIDR), normalised;
    ValueError naming the entry that is neither."""
    entries: list[str] = []
    for raw in text.split(","):
        entry = raw.strip()
        if not entry:
            continue
        try:
            entries.append(str(ipaddress.ip_network(entry, strict=False)))
        except ValueError:
            raise ValueError(
                f"must be comma-separated IP addresses or networks (10.0.0.5, 10.0.0.0/24), got {entry!r}"
            ) from None
    return tuple(entries)


def _ip(text: str) -> IpAddress | None:
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # ::ffff:10.0.0.5 is 10.0.0.5
    return address


def peer_host(grpc_peer: str) -> str:
    """The address of a grpc peer string: "ipv4:1.2.3.4:5", "ipv6:[::1]:5", "unix:/path"."""
    kind, _, rest = grpc_peer.partition(":")
    if kind == "ipv4":
        return rest.rpartition(":")[0] or rest
    if kind == "ipv6":
        return rest.rpartition("]")[0].lstrip("[") or rest
    return grpc_peer


class ClientAddresses:
    """Decides the client address of a gRPC call (see the module docstring)."""

    def __init__(self, trusted_proxies: Iterable[str] = (), proxy_token: str | None = None) -> None:
        self._trusted: tuple[IpNetwork, ...] = tuple(
            ipaddress.ip_network(entry, strict=False) for entry in trusted_proxies
        )
        self._proxy_token = proxy_token.encode() if proxy_token else None

    def of_call(self, grpc_peer: str, metadata: Iterable[tuple[str, str | bytes]] | None) -> str:
        """The peer's address, or, for a call from the shim or a trusted proxy, the LAST address of
        its x-forwarded-for (the one that proxy saw connect; a proxy appends to the list). When the
        proxy sent no usable address, the proxy's own: never one the client chose."""
        host = peer_host(grpc_peer)
        entries = tuple(metadata or ())
        if not (self._from_own_shim(entries) or self._trusted_peer(host)):
            return host
        forwarded = [v for k, v in entries if k.lower() == FORWARDED_FOR_KEY and isinstance(v, str)]
        if forwarded:
            address = _ip(forwarded[-1].rsplit(",", 1)[-1])
            if address is not None:
                return str(address)
        return host

    def _from_own_shim(self, metadata: tuple[tuple[str, str | bytes], ...]) -> bool:
        if self._proxy_token is None:
            return False
        tokens = [v for k, v in metadata if k.lower() == PROXY_TOKEN_KEY]
        return (
            len(tokens) == 1
            and isinstance(tokens[0], str)
            and hmac.compare_digest(tokens[0].encode(), self._proxy_token)
        )

    def _trusted_peer(self, host: str) -> bool:
        address = _ip(host)
        return address is not None and any(address in network for network in self._trusted)


def client_address(
    grpc_peer: str,
    metadata: Iterable[tuple[str, str | bytes]] | None,
    trusted_proxies: Iterable[str] = (),
    proxy_token: str | None = None,
) -> str:
    """`ClientAddresses(trusted_proxies, proxy_token).of_call(grpc_peer, metadata)`."""
    return ClientAddresses(trusted_proxies, proxy_token).of_call(grpc_peer, metadata)
