"""Which tables were lately found big, so that a page can skip the query that would find out again."""

from __future__ import annotations

from time import monotonic

BIG_TABLE_MEMORY = 60.0  # seconds


class TableSizes:
    """Remembers for a while that a table held more than some number of rows.

    A big table rarely shrinks; until it is measured again, a relation widget can be an autocomplete without a
    query, and a list knows its count will be capped. Forgetting is harmless either way: a table is measured
    again when its memory expires, and what is remembered only picks between two correct ways to draw a page.
    """

    def __init__(self, memory: float = BIG_TABLE_MEMORY) -> None:
        self.memory = memory
        self._seen: dict[type, tuple[int, float]] = {}

    def more_than(self, model: type, rows: int) -> bool:
        seen = self._seen.get(model)
        return seen is not None and seen[0] >= rows and monotonic() - seen[1] < self.memory

    def found_more_than(self, model: type, rows: int) -> None:
        seen = self._seen.get(model)
        if seen is not None and seen[0] > rows and monotonic() - seen[1] < self.memory:
            rows = seen[0]  # a bigger bound still fresh stays
        self._seen[model] = (rows, monotonic())
