"""Serve a WSGI app (a provider double) on a free loopback port in a background thread.

The helper ships with the demo (``plugin.demo.server``), which serves its Shopify stand-in the same way.
"""

from plugin.demo.server import RunningServer, serve_wsgi

__all__ = ["RunningServer", "serve_wsgi"]
