"""Bulk work at a lower CPU priority (``plugin.priority``): the helper thread's nice value, results
and exceptions as if run inline, the caller's context variables, and a forked process's own thread."""

from __future__ import annotations

import contextvars
import os
import threading

import pytest

from plugin.priority import BULK_NICENESS, run_at_low_priority

pytestmark = pytest.mark.skipif(not hasattr(os, "getpriority"), reason="per-thread nice is Linux's")

REQUEST = contextvars.ContextVar("request", default=None)


def _niceness() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def test_the_work_runs_on_another_thread_ten_nice_steps_lower_and_the_caller_keeps_its_own():
    # given
    mine = _niceness()

    # when
    thread, niceness = run_at_low_priority(lambda: (threading.get_native_id(), _niceness()))

    # then
    assert thread != threading.get_native_id()
    assert niceness == min(19, mine + BULK_NICENESS)
    assert _niceness() == mine


def test_results_exceptions_and_context_variables_pass_through():
    # given
    REQUEST.set("restock 42")

    # when / then
    assert run_at_low_priority(lambda a, b=0: a + b, 2, b=3) == 5
    assert run_at_low_priority(REQUEST.get) == "restock 42"
    with pytest.raises(KeyError, match="gone"):
        run_at_low_priority(lambda: {}["gone"])


def test_a_forked_child_gets_its_own_low_priority_thread():
    # given the parent's thread exists (as in a Celery worker's parent before it forks the pool)
    parent_thread = run_at_low_priority(threading.get_native_id)
    read, write = os.pipe()

    # when a forked child runs work at low priority
    pid = os.fork()
    if pid == 0:  # the child: report its helper thread and that thread's niceness, then leave
        try:
            thread, niceness = run_at_low_priority(lambda: (threading.get_native_id(), _niceness()))
            os.write(write, f"{thread} {niceness}".encode())
        finally:
            os._exit(0)
    os.close(write)
    answer = os.read(read, 100).decode().split()
    os.waitpid(pid, 0)

    # then it ran on a new thread of the child, at the low priority
    assert len(answer) == 2 and int(answer[0]) != parent_thread
    assert int(answer[1]) == min(19, _niceness() + BULK_NICENESS)
