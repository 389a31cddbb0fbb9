"""A seeded fault mode for the provider doubles (SendGrid, Twilio), and the server they run on.

``FaultPlan.seeded(seed, share)`` is a fixed, shuffled cycle of outcomes, one per call that
reaches the double: ``share`` of each cycle fails, every kind of failure once per cycle —

- ``429``: throttled, with the provider's wait (SendGrid: ``X-RateLimit-Reset``; Twilio:
  ``Retry-After``); the double records every later call that comes before that time;
- ``500`` / ``502`` / ``503``: the provider failed, nothing was accepted;
- ``unreachable``: the provider does not take the *next* connection: the double's server stops
  accepting and fills its accept queue, so the client's SYN is dropped and its connect times out
  (a timeout where the provider never had the message: safe to send again);
- ``no_answer``: the provider accepts the message (it is recorded as delivered), then answers
  only after the client's timeout (a timeout where the provider DID accept: must never be sent
  again; the app has to report it uncertain). Whether the client was still there for an answer
  is read off the connection (``peer_gone``), so an answer a loaded machine made late counts too.

429 and 5xx answer before the body is validated (a throttled or failing provider does not look at
it); the retried body is validated when it is accepted.

The order of a cycle is shuffled by the seed; a cycle covers ``round(1 / share × kinds)`` calls.
While a plan is set, every answer says ``Connection: close``, so each call opens a new connection
(and the ``unreachable`` fault meets the next one).
"""

from __future__ import annotations

import random
import socket
import threading
import time
from dataclasses import dataclass, field

from werkzeug.serving import make_server

KINDS = ("429", "500", "502", "503", "unreachable", "no_answer")
LISTEN_BACKLOG = 128


@dataclass
class FaultPlan:
    cycle: list[str | None]
    hang_seconds: float  # how long a ``no_answer`` holds its answer back (longer than the client's timeout)
    gate_seconds: float  # how long ``unreachable`` refuses connections (longer than the client's connect timeout)
    throttle_seconds: int = 1  # the wait a 429 asks for
    position: int = 0
    happened: dict[str, int] = field(default_factory=dict)
    _refusal_due: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def seeded(cls, seed: int, share: float, hang_seconds: float, gate_seconds: float) -> "FaultPlan":
        calls = round(len(KINDS) / share)
        cycle: list[str | None] = list(KINDS) + [None] * (calls - len(KINDS))
        random.Random(seed).shuffle(cycle)
        return cls(cycle=cycle, hang_seconds=hang_seconds, gate_seconds=gate_seconds)

    def take(self) -> tuple[str | None, bool]:
        """This call's outcome, and whether the next connection must be refused (``unreachable``).

        A refusal is armed after a call that succeeds: the caller goes straight on to its next
        call (the rest of its batch), which then meets the shut door; after a failed call the
        caller waits out a backoff first, which could outlast the door."""
        with self._lock:
            while True:
                kind = self.cycle[self.position % len(self.cycle)]
                self.position += 1
                if kind == "unreachable":
                    self._refusal_due = True
                    continue
                if kind is not None:
                    self.happened[kind] = self.happened.get(kind, 0) + 1
                    return kind, False
                refuse_next, self._refusal_due = self._refusal_due, False
                if refuse_next:
                    self.happened["unreachable"] = self.happened.get("unreachable", 0) + 1
                return None, refuse_next


class GatedServer:
    """A threaded WSGI server on a free loopback port whose door can be shut for a while:
    ``refuse_connections(seconds)`` leaves new connections unanswered at the TCP level."""

    def __init__(self, app, host: str = "127.0.0.1"):
        self._server = make_server(host, 0, app, threaded=True)
        self.url = f"http://{host}:{self._server.port}"
        self._address = (host, self._server.port)
        self._open = threading.Event()
        self._open.set()
        self._gate_lock = threading.Lock()
        self._stopped = False
        self._reopening: list[threading.Timer] = []
        accept = self._server.get_request

        def get_request():
            self._open.wait()
            return accept()

        self._server.get_request = get_request
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name=f"gated-double-{self._server.port}")
        self._thread.start()

    def refuse_connections(self, seconds: float) -> bool:
        """Stop accepting and fill the accept queue with a placeholder connection of our own: the
        kernel then drops the next client's SYN and its connect times out. False if already shut."""
        with self._gate_lock:
            if not self._open.is_set():
                return False
            self._open.clear()
            self._server.socket.listen(0)  # one pending connection fills the queue
            try:
                placeholder = socket.create_connection(self._address, timeout=2)
            except OSError:
                self._server.socket.listen(LISTEN_BACKLOG)
                self._open.set()
                return False
        timer = threading.Timer(seconds, self._reopen, args=(placeholder,))
        self._reopening.append(timer)
        timer.start()
        return True

    def _reopen(self, placeholder: socket.socket) -> None:
        with self._gate_lock:
            placeholder.close()
            if self._stopped:  # the test ended first: its socket is closed
                return
            self._server.socket.listen(LISTEN_BACKLOG)
            self._open.set()

    def stop(self) -> None:
        with self._gate_lock:
            self._stopped = True
        for timer in self._reopening:
            timer.cancel()
            timer.args[0].close()  # its placeholder connection (closing twice is harmless)
        self._open.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def peer_gone(environ) -> bool:
    """True when the client has closed its end (it gave up waiting): checked right before an
    answer is returned, it tells an answer that was heard from one that came too late."""
    connection = environ.get("werkzeug.socket")
    if connection is None:
        return False
    try:
        return connection.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def now() -> float:
    """The provider's wall clock (a real provider knows nothing of the app's moved clock)."""
    return time.time()
