"""Serve a WSGI app (a provider stand-in) on a free loopback port in a background thread.

The demo serves its Shopify stand-in this way so the app reaches it over real HTTP, through the
same client and transport as in production; the test suite serves its doubles with it too.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from werkzeug.serving import make_server


@dataclass
class RunningServer:
    url: str
    _server: object
    _thread: threading.Thread

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def serve_wsgi(app, host: str = "127.0.0.1") -> RunningServer:
    server = make_server(host, 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True, name=f"stand-in-{server.port}")
    thread.start()
    return RunningServer(url=f"http://{host}:{server.port}", _server=server, _thread=thread)
