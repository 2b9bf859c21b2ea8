"""A real HTTP/1.1 server on a loopback port, for the scripts' HTTP tests: keep-alive like a
production server, and it counts the connections it was given."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from tests.serving import served


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    disable_nagle_algorithm = True  # headers and body go out without waiting for an ACK

    def log_message(self, *args: object) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def _answer(self) -> None:
        self.server.connections.add(self.client_address)  # type: ignore[attr-defined]
        url = urlsplit(self.path)
        query = {name: values[0] for name, values in parse_qs(url.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        if url.path == "/redirect":
            self._send(302, "", {"Location": query["to"]})
        elif url.path == "/big":
            self._send(200, "x" * int(query["bytes"]), {"Content-Type": "text/plain"})
        elif url.path == "/slow":
            time.sleep(float(query["seconds"]))
            self._send(200, "late", {"Content-Type": "text/plain"})
        else:
            echo = {
                "method": self.command,
                "path": url.path,
                "query": query,
                "body": body,
                "authorization": self.headers.get("Authorization"),
            }
            status = int(query.get("status", 200))
            self._send(status, json.dumps(echo), {"Content-Type": "application/json"})

    def _send(self, status: int, body: str, headers: dict[str, str]) -> None:
        encoded = body.encode()
        self.send_response(status)
        for name, value in {**headers, "Content-Length": str(len(encoded))}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(encoded)


class LocalHttpServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.connections: set[tuple[str, int]] = set()

    @property
    def port(self) -> int:
        return self.server_address[1]

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"


@contextmanager
def local_http_server() -> Iterator[LocalHttpServer]:
    with served(LocalHttpServer(), "local-http") as server:
        yield server
