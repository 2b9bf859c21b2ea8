"""Host allow-lists, as FLOWS_HTTP_ALLOW and a flow's allowed hosts write them:
`api.stripe.com, *.example.com, localhost:8080, [::1]:8080`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class HostRule:
    """One allow-list entry: a host name, `*.domain` for any name under it, optional port."""

    host: str
    port: int | None = None

    def matches(self, host: str, port: int) -> bool:
        if self.port is not None and self.port != port:
            return False
        if self.host.startswith("*."):
            return host.endswith(self.host[1:])
        return host == self.host


def parse_allow_list(text: str) -> tuple[HostRule, ...]:
    """`api.stripe.com, *.example.com, localhost:8080, [::1]:8080` as rules; ValueError names a
    bad entry."""
    rules = []
    for entry in (part.strip().lower() for part in text.split(",")):
        if not entry:
            continue
        if entry.startswith("["):  # an IPv6 address, as in URLs
            host, _, rest = entry[1:].partition("]")
            colon, port = rest[:1], rest[1:]
        else:
            host, colon, port = entry.partition(":")
        name = host.removeprefix("*.")
        bad_port = colon and not (port.isdigit() and 0 < int(port) < 65536)
        if not name or "*" in name or "/" in name or bad_port:
            raise ValueError(f"{entry!r} is not a host, *.domain or host:port")
        rules.append(HostRule(host, int(port) if port else None))
    return tuple(rules)
