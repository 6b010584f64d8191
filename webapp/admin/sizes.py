"""Which tables, and which list views, were lately found big, so that a page can skip the query that would find
out again."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from time import monotonic

BIG_TABLE_MEMORY = 60.0  # seconds
REMEMBERED = 1024  # keys; list views are many (one per search term), so the oldest measured are dropped


class TableSizes:
    """Remembers for a while that a table (or a list view, or one filter choice of it) held more than some number
    of rows.

    A big table rarely shrinks; until it is measured again, a relation widget can be an autocomplete without a
    query, and a list knows its count will be capped. Forgetting is harmless either way: a table is measured
    again when its memory expires, and what is remembered only picks between two correct ways to draw a page,
    or stands for a count shown as "10,000+". `forget()` drops everything at once, when this process writes.
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
