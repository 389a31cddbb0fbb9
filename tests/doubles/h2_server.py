"""Serve a WSGI app over HTTPS and HTTP/2 on a free loopback port, in a background thread.

Shopify's storefront and CDN answer a theme's product page and its files over HTTP/2 (or HTTP/3): one
TLS connection per origin, every request multiplexed on it. werkzeug's server (``serve_wsgi``) closes
the connection after each answer, so a page of fifty files costs the browser fifty connections — and
Lighthouse's simulation, which models each connection it saw (its handshake, its slow start), a
throttled load no shopper has. This server (hypercorn, the WSGI app run in its thread pool) offers h2
over TLS with a certificate made for the run; Chromium is told to trust that one key with
``--ignore-certificate-errors-spki-list`` (``spki`` below).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import ipaddress
import socket
import ssl
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypercorn.asyncio import serve
from hypercorn.config import Config


@dataclass
class RunningH2Server:
    url: str
    spki: str  # base64 of the SHA-256 of the certificate's public key (Chromium's SPKI pin)
    _loop: asyncio.AbstractEventLoop
    _stopping: asyncio.Event
    _thread: threading.Thread
    _socket: socket.socket  # the listening socket, served by hypercorn through its descriptor

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(timeout=5)
        self._socket.detach()  # hypercorn closed the listening socket's descriptor when it stopped


def self_signed(host: str, folder: Path) -> tuple[Path, Path, str]:
    """A certificate for ``host`` (an IP address), valid a day either side of now: its file, its key's
    file and its SPKI pin."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.now(timezone.utc)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    public = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return cert_file, key_file, base64.b64encode(hashlib.sha256(public).digest()).decode()


def serve_wsgi_h2(app, host: str = "127.0.0.1") -> RunningH2Server:
    listener = socket.socket()
    listener.bind((host, 0))
    listener.listen(128)
    config = Config()
    config.bind = [f"fd://{listener.fileno()}"]
    config.accesslog = config.errorlog = None
    with tempfile.TemporaryDirectory() as folder:  # hypercorn reads the files when it starts serving
        cert_file, key_file, spki = self_signed(host, Path(folder))
        config.certfile, config.keyfile = str(cert_file), str(key_file)
        loop, stopping = asyncio.new_event_loop(), asyncio.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(serve(app, config, mode="wsgi", shutdown_trigger=stopping.wait))

        thread = threading.Thread(target=run, daemon=True, name=f"h2-stand-in-{listener.getsockname()[1]}")
        thread.start()
        _wait_for_tls(host, listener.getsockname()[1])
    return RunningH2Server(url=f"https://{host}:{listener.getsockname()[1]}", spki=spki, _loop=loop,
                           _stopping=stopping, _thread=thread, _socket=listener)


def _wait_for_tls(host: str, port: int, timeout: float = 10.0) -> None:
    """Until the server answers a TLS handshake (it loads the certificate when it starts serving)."""
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=1) as raw, context.wrap_socket(raw):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
