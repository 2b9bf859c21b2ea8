"""A stand-in for an old Redis on a loopback port: it answers the connection handshake and
`INFO` as Redis 6.2.14 answered (tests/engine/server_info/redis-6.2.txt), and refuses the
rest. No Redis that old ships for this machine; what the site reads of one is that answer."""

from __future__ import annotations

import socketserver
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.serving import served

INFO = (Path(__file__).parents[1] / "engine" / "server_info" / "redis-6.2.txt").read_bytes()
HELLO = (
    b"%3\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n6.2.14\r\n$5\r\nproto\r\n:3\r\n"
)


class _OldRedis(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        while command := self._command():
            if command[0] == b"INFO":
                self.wfile.write(b"$%d\r\n%s\r\n" % (len(INFO), INFO))
            elif command[0] == b"HELLO":
                self.wfile.write(HELLO)
            elif command[0] == b"CLIENT":
                self.wfile.write(b"+OK\r\n")
            else:
                self.wfile.write(b"-ERR unknown command\r\n")

    def _command(self) -> list[bytes]:
        """One command as redis-py sends it, a RESP array of bulk strings; [] at the end."""
        header = self.rfile.readline()
        if not header.startswith(b"*"):
            return []
        parts = []
        for _ in range(int(header[1:])):
            length = int(self.rfile.readline()[1:])
            parts.append(self.rfile.read(length + 2)[:-2])
        return [parts[0].upper(), *parts[1:]]


@contextmanager
def old_redis_url() -> Iterator[str]:
    """The URL of a stand-in Redis 6.2, served until the block ends."""
    old_redis = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _OldRedis)
    old_redis.daemon_threads = True
    with served(old_redis, "old-redis") as server:
        yield f"redis://127.0.0.1:{server.server_address[1]}/0"
