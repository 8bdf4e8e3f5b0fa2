"""One exchange connection per Orderly account the sessions trade on.

Sessions of users without a registered account trade on the default account (the operator's
ORDERLY_* one, or the simulator's); a user who registered their own account (RegisterAccount)
trades on it. Each account needs its own signed REST client and its own private stream, and so its
own EventRouter: the pool creates both lazily, the first time a session needs the account, and
closes them all at shutdown. Accounts are keyed by their lower-case Orderly account id.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from server.exchange import Exchange, OrderlyCredentials
from server.service.router import EventRouter

log = structlog.get_logger(__name__)

ExchangeFactory = Callable[[OrderlyCredentials], Exchange]
"""Builds the (not yet started) exchange of one account: the default's URLs, that account's keys."""


@dataclass(frozen=True, slots=True)
class AccountVenue:
    """The exchange of one Orderly account and the router feeding its events to the sessions."""

    account_id: str
    exchange: Exchange
    router: EventRouter


class ExchangePool:
    def __init__(
        self, default: Exchange, default_account_id: str, factory: ExchangeFactory | None = None
    ) -> None:
        self.default = AccountVenue(default_account_id.lower(), default, EventRouter(default))
        self._factory = factory
        self._venues: dict[str, AccountVenue] = {self.default.account_id: self.default}
        self._opening: dict[str, asyncio.Task[AccountVenue]] = {}
        self._closed = False

    @property
    def venues(self) -> tuple[AccountVenue, ...]:
        return tuple(self._venues.values())

    def start(self) -> None:
        """Route the default account's events (its exchange is started by its owner)."""
        self.default.router.start()

    def get(self, account_id: str) -> AccountVenue | None:
        """The account's venue if it is open already."""
        return self._venues.get(account_id.lower())

    async def venue_for(self, credentials: OrderlyCredentials | None) -> AccountVenue:
        """The venue of `credentials`' account (None: the default account), started on first use.
        Concurrent first uses of one account share one start."""
        if credentials is None:
            return self.default
        account_id = credentials.account_id.lower()
        venue = self._venues.get(account_id)
        if venue is not None:
            return venue
        if self._closed:
            raise RuntimeError("the exchange pool is closed")
        if self._factory is None:
            raise RuntimeError("this server trades on its default account only")
        opening = self._opening.get(account_id)
        if opening is None or opening.done():  # none yet, or an earlier attempt failed: try again
            opening = asyncio.create_task(self._open(account_id, credentials), name=f"open-{account_id}")
            self._opening[account_id] = opening
        try:
            return await asyncio.shield(opening)
        finally:
            if opening.done():
                self._opening.pop(account_id, None)

    async def _open(self, account_id: str, credentials: OrderlyCredentials) -> AccountVenue:
        assert self._factory is not None
        exchange = self._factory(credentials)
        try:
            await exchange.start()
        except BaseException:
            await exchange.close()
            raise
        venue = AccountVenue(account_id, exchange, EventRouter(exchange))
        venue.router.start()
        self._venues[account_id] = venue
        log.info("account_exchange_opened", account_id=account_id)
        return venue

    async def close(self) -> None:
        """Stop every router and close every exchange the pool opened (the default exchange is its
        owner's to close)."""
        self._closed = True
        for task in tuple(self._opening.values()):
            task.cancel()
        await asyncio.gather(*self._opening.values(), return_exceptions=True)
        self._opening.clear()
        for venue in tuple(self._venues.values()):
            await venue.router.close()
            if venue is not self.default:
                await venue.exchange.close()
        self._venues = {self.default.account_id: self.default}
