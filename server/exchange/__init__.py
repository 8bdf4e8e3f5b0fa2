"""Orderly Network exchange adapter: one `Exchange` protocol, implemented over Orderly's wire format.

Layout (Hummingbot-style): constants (paths, limits, codes as data), auth (ed25519 signing), errors
(typed, by code), ratelimit, rest, ws, parsing (pure), symbols, placement, stream (dedupe), adapter.
"""

from server.exchange.adapter import OrderlyExchange
from server.exchange.auth import CredentialsError, OrderlyCredentials, OrderlySigner, SignatureEncoding
from server.exchange.config import OrderlyConfig
from server.exchange.errors import (
    AuthError,
    DuplicateOrder,
    ExchangeError,
    InsufficientMargin,
    InvalidRequest,
    MinNotional,
    NetworkError,
    OutcomeUnknown,
    PriceFilter,
    PriceOutOfRange,
    ProtocolError,
    QuantityFilter,
    QuantityTooSmall,
    RateLimited,
    ServerError,
    UnknownOrder,
)
from server.exchange.models import PlacementAck, PlacementFailure, PlacementResult, SymbolInfo, VenueEvent
from server.exchange.protocol import Exchange
from server.exchange.symbols import SymbolError, normalize_ticker, resolve_symbol

__all__ = [
    "AuthError",
    "CredentialsError",
    "DuplicateOrder",
    "Exchange",
    "ExchangeError",
    "InsufficientMargin",
    "InvalidRequest",
    "MinNotional",
    "NetworkError",
    "OrderlyConfig",
    "OrderlyCredentials",
    "OrderlyExchange",
    "OrderlySigner",
    "OutcomeUnknown",
    "PlacementAck",
    "PlacementFailure",
    "PlacementResult",
    "PriceFilter",
    "PriceOutOfRange",
    "ProtocolError",
    "QuantityFilter",
    "QuantityTooSmall",
    "RateLimited",
    "ServerError",
    "SignatureEncoding",
    "SymbolError",
    "SymbolInfo",
    "UnknownOrder",
    "VenueEvent",
    "normalize_ticker",
    "resolve_symbol",
]
