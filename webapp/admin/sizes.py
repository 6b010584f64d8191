"""Which tables, and which list views, were lately found big, so that a page can skip the query that would find
out again; and how every process serving an admin forgets the views' sizes once any of them has written.

A view's size is remembered in each process (`TableSizes`, read without any I/O). What it is forgotten by is
shared: a `Forgetting` backend keeps a generation, which a write moves on once it has committed and before its
response goes out (`ForgetSizesAfterWrites`). A page reads the generation before it consults the memory
(`SizeMemory.now`) and keeps its measurements under the generation it read, so nothing measured before a write
committed is trusted after that write is acknowledged:

- `LocalForgetting` (no Redis): the generation is a counter in this process. Other processes' memories expire on
  their own, within `BIG_TABLE_MEMORY`.
- `RedisForgetting` (`redis_url`): the generation is a Redis key, one GET per list page and one SET per write.
  A generation checked on every read is exact, where a published "forget" (Redis pub/sub) reaches a subscriber
  some time after the write was acknowledged, and not at all while its connection is down. When Redis does not
  answer, the generation is unknown and nothing remembered is used: each page counts again, as if its memory had
  expired, and the log says so once per outage.
"""

from __future__ import annotations

import logging
import secrets
from collections import OrderedDict
from collections.abc import Hashable
from time import monotonic
from typing import TYPE_CHECKING, Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from webapp.admin.db import SAFE_METHODS, write_intent

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Message, Receive, Scope, Send

    from webapp.admin.site import AdminSite

log = logging.getLogger(__name__)

BIG_TABLE_MEMORY = 60.0  # seconds
REMEMBERED = 1024  # keys; list views are many (one per search term), so the oldest measured are dropped
REDIS_TIMEOUT = 0.5  # seconds: an answer later than this is no answer, and the page counts again
REDIS_RETRY = 1.0  # seconds: after Redis failed to answer, how long pages count again without asking it


class TableSizes:
    """Remembers for a while that a table (or a list view, or one filter choice of it) held more than some number
    of rows.

    A big table rarely shrinks; until it is measured again, a relation widget can be an autocomplete without a
    query, and a list knows its count will be capped. Forgetting is harmless either way: a table is measured
    again when its memory expires, and what is remembered only picks between two correct ways to draw a page,
    or stands for a count shown as "10,000+". The site's `table_sizes` (relation widgets) is one of these; its
    `view_sizes` (list counts) is a `SizeMemory`, which every write forgets.
    """

    def __init__(self, memory: float = BIG_TABLE_MEMORY, size: int = REMEMBERED) -> None:
        self.memory = memory
        self.size = size
        self._seen: OrderedDict[Hashable, tuple[int, float]] = OrderedDict()

    def bound(self, key: Hashable) -> int | None:
        """The number of rows `key` was lately found to hold more than, while that is still fresh."""
        seen = self._seen.get(key)
        return seen[0] if seen is not None and monotonic() - seen[1] < self.memory else None

    def more_than(self, key: Hashable, rows: int) -> bool:
        bound = self.bound(key)
        return bound is not None and bound >= rows

    def found_more_than(self, key: Hashable, rows: int) -> None:
        seen = self._seen.get(key)
        if seen is not None and seen[0] > rows and monotonic() - seen[1] < self.memory:
            rows = seen[0]  # a bigger bound still fresh stays
        self._seen[key] = (rows, monotonic())
        self._seen.move_to_end(key)
        if len(self._seen) > self.size:
            self._seen.popitem(last=False)

    def forget(self) -> None:
        self._seen.clear()


class Forgetting(Protocol):
    """Says when the processes that serve one admin last forgot what they remember of view sizes."""

    async def generation(self) -> Hashable | None:
        """The current generation, or None when it cannot be known (then nothing remembered may be used)."""
        ...

    async def forget(self) -> None:
        """Start a new generation: what any process measured in an earlier one is no longer used."""
        ...

    async def close(self) -> None: ...


class LocalForgetting:
    """Forgetting within this process only: a counter. Other processes' memories expire on their own."""

    def __init__(self) -> None:
        self._generation = 0

    async def generation(self) -> int:
        return self._generation

    async def forget(self) -> None:
        self._generation += 1

    async def close(self) -> None:
        return None


class RedisForgetting:
    """Forgetting shared by every process with the same Redis `key`: each write sets it to a new random token.

    A token rather than a counter: should Redis lose the key (a restart without persistence), a counter would
    count the same generations again and match memories from before; a missing key, or a new token, matches none.
    A forget Redis did not take is sent again before the next generation is read.
    """

    def __init__(self, url: str, key: str) -> None:
        self.key = key
        self._redis = Redis.from_url(url, socket_timeout=REDIS_TIMEOUT, socket_connect_timeout=REDIS_TIMEOUT)
        self._unsent = False
        self._retry_at = 0.0
        self._down = False

    async def generation(self) -> str | None:
        if monotonic() < self._retry_at:
            return None
        try:
            if self._unsent:
                await self._send_forget()
            value = await self._redis.get(self.key)
        except (RedisError, OSError) as exc:
            self._failed(exc)
            return None
        self._answered()
        return value.decode() if value else ""

    async def forget(self) -> None:
        self._unsent = True
        if monotonic() < self._retry_at:
            return
        try:
            await self._send_forget()
        except (RedisError, OSError) as exc:
            self._failed(exc)
        else:
            self._answered()

    async def close(self) -> None:
        await self._redis.aclose()

    async def _send_forget(self) -> None:
        await self._redis.set(self.key, secrets.token_hex(8))
        self._unsent = False

    def _failed(self, exc: BaseException) -> None:
        self._retry_at = monotonic() + REDIS_RETRY
        if not self._down:
            self._down = True
            log.warning(
                "Redis did not answer for the list counts' memory (%s: %s): every list page counts its rows again "
                "until it does",
                type(exc).__name__,
                exc,
            )

    def _answered(self) -> None:
        if self._down:
            self._down = False
            log.info("Redis answers again: list counts over the cap are remembered again")


class SizeMemory:
    """The site's memory of its list views' sizes: kept in this process, forgotten by every process that shares
    its `forgetting` (a write through any of them forgets it in all)."""

    def __init__(
        self, forgetting: Forgetting | None = None, memory: float = BIG_TABLE_MEMORY, size: int = REMEMBERED
    ) -> None:
        self.forgetting: Forgetting = forgetting if forgetting is not None else LocalForgetting()
        self._memory = memory
        self.size = size
        self._sizes = TableSizes(memory, size)
        self._generation: Hashable | None = None

    @property
    def memory(self) -> float:
        """How long a size is remembered, in seconds (unless a write forgets it first)."""
        return self._memory

    @memory.setter
    def memory(self, seconds: float) -> None:
        self._memory = self._sizes.memory = seconds

    async def now(self) -> TableSizes:
        """What may be used of the memory now, and where to remember what this request measures.

        A request that writes gets an empty memory of its own: it counts afresh, and what it counts inside its
        own transaction is not kept. So does every request while the generation is unknown. A memory from an
        older generation is dropped: the request that finds the generation moved on starts a new one, and a
        request still holding the old one remembers into it for nobody."""
        if write_intent.get():
            return TableSizes(self._memory, self.size)
        generation = await self.forgetting.generation()
        if generation is None:
            self._sizes, self._generation = TableSizes(self._memory, self.size), None
            return TableSizes(self._memory, self.size)
        if generation != self._generation:
            self._sizes, self._generation = TableSizes(self._memory, self.size), generation
        return self._sizes

    async def forget(self) -> None:
        """Drop what this process remembers, and have every other process drop theirs."""
        self._sizes, self._generation = TableSizes(self._memory, self.size), None
        await self.forgetting.forget()

    async def close(self) -> None:
        await self.forgetting.close()


class ForgetSizesAfterWrites:
    """Forgets the site's view sizes (`SizeMemory.forget`) after a write has committed, before its response goes
    out.

    Mounted just outside the transaction middleware, which commits as the response starts: forgetting earlier
    (before the write, or before its commit) would let another request measure the rows as they were and
    remember that again, after the memory was forgotten and before the change could be seen. Responses of 400 and
    above were rolled back, and forget nothing.
    """

    def __init__(self, app: ASGIApp, site: AdminSite) -> None:
        self.app = app
        self.site = site

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method", "GET") in SAFE_METHODS:
            await self.app(scope, receive, send)
            return

        async def send_after_forgetting(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] < 400:
                await self.site.view_sizes.forget()
            await send(message)

        await self.app(scope, receive, send_after_forgetting)
