"""What is alive once the host app has started, out of the cyclic garbage collector's way (`gc.freeze`).

Modules, mappers, routes and compiled templates live as long as the process. Left in the collector's reach,
every full collection (which a request's allocations set off every thousand or so writes) traverses them all:
about 60 ms in which the server answers nothing, a stall that every request in flight then shows in its
latency (the edit POST's p99 in the shared peer run, bench/README.md). Frozen, such a collection takes about
3 ms. Once per process: a later app in the same process (the test suite makes hundreds) must not freeze the
garbage of earlier ones, and a host that froze its heap itself is left as it is. Guarded by
tests/test_request_costs.py and tests/test_one_line_host.py.
"""

from __future__ import annotations

import gc


def freeze_startup_objects() -> None:
    if gc.get_freeze_count() == 0:
        gc.freeze()
