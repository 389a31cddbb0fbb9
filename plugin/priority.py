"""Work that can wait for the CPU, run at a lower scheduling priority.

A big fan-out keeps worker processes busy with bulk batches (decrypt, render, build, record) while
other shops' webhooks and first notices arrive. Queues put that work first in line for a free
process; on a busy machine it still shares the cores with the bulk batches, process for process.
So a bulk batch runs in a helper thread of its process whose nice value is ``BULK_NICENESS``
higher: on Linux nice is per thread, and the scheduler gives a nice-10 thread about a tenth of the
share of a nice-0 one when both want the CPU — and all of it when nothing else does. The calling
thread waits (no CPU, no GIL), so the batch behaves exactly as if it ran inline, its exceptions
included. Raising a thread's nice needs no privilege; lowering it again would, so the helper thread
keeps it and the process's own thread never changes.

Where a per-thread nice cannot be set (not Linux), the work runs at the normal priority.
"""

from __future__ import annotations

import contextvars
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, TypeVar

BULK_NICENESS = 10
_MAX_NICE = 19

T = TypeVar("T")
_lock = threading.Lock()
_pool: tuple[int, ThreadPoolExecutor] | None = None  # (pid, executor): a forked child makes its own


def _lower_priority() -> None:
    try:
        thread = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, thread, min(_MAX_NICE, os.getpriority(os.PRIO_PROCESS, thread) + BULK_NICENESS))
    except (AttributeError, OSError):  # no per-thread nice here: normal priority
        pass


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _lock:
        if _pool is None or _pool[0] != os.getpid():
            _pool = (os.getpid(), ThreadPoolExecutor(max_workers=1, thread_name_prefix="backbell-bulk",
                                                     initializer=_lower_priority))
        return _pool[1]


def run_at_low_priority(work: Callable[..., T], *args, **kwargs) -> T:
    """``work(*args, **kwargs)`` in this process's low-priority thread (with the caller's context
    variables, e.g. the log context); returns its result or raises its exception."""
    context = contextvars.copy_context()
    return _executor().submit(context.run, work, *args, **kwargs).result()
