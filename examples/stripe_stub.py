"""A small stand-in for the Stripe endpoints the HTTP example uses, on a free loopback port.

Answers like Stripe: form-encoded requests, JSON answers, 401 without the right secret key.
Not Stripe: it keeps products and prices in memory, for the example's lifetime only.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

API_KEY = "sk_test_51FlowsiteExampleKey"
_ids = itertools.count(1)


class _Stripe(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out without waiting for an ACK

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if not self._authorized():
            return
        if self.path == "/v1/account":
            self._json(200, {"id": "acct_example", "object": "account", "default_currency": "usd"})
        else:
            self._json(404, {"error": {"message": f"Unrecognized request URL ({self.path})"}})

    def do_POST(self) -> None:
        if not self._authorized():
            return
        length = int(self.headers.get("Content-Length") or 0)
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        if self.path == "/v1/products":
            self._json(200, {"id": f"prod_{next(_ids)}", "object": "product", **form})
        elif self.path == "/v1/prices":
            price = {"id": f"price_{next(_ids)}", "object": "price", **form}
            price["unit_amount"] = int(form.get("unit_amount", 0))
            self._json(200, price)
        else:
            self._json(404, {"error": {"message": f"Unrecognized request URL ({self.path})"}})

    def _authorized(self) -> bool:
        if self.headers.get("Authorization") == f"Bearer {API_KEY}":
            return True
        self._json(401, {"error": {"message": "Invalid API Key provided"}})
        return False

    def _json(self, status: int, body: dict) -> None:
        encoded = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(encoded)))
        self.end_headers()
        self.wfile.write(encoded)


@contextmanager
def stripe_stub() -> Iterator[str]:
    """Serve the stub on 127.0.0.1 and a free port; yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Stripe)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="stripe-stub", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
