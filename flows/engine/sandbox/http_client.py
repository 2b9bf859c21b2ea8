"""Outbound HTTP for step scripts (`http.get(...)` and friends), behind an allow-list.

Deny by default: a request goes out only to a host the site allows (FLOWS_HTTP_ALLOW) and, when
the flow names its own allowed hosts, that the flow allows too. Even then no request reaches a
loopback, private, link-local (the cloud metadata address included), multicast, reserved or
unspecified address unless FLOWS_HTTP_ALLOW_PRIVATE is set: the name is resolved once, when the
connection is made, and the connection goes to the address that was checked, so a name cannot
answer one address to the check and another to the connection (DNS rebinding). Every redirect
is checked again; proxies from the environment are ignored, since they would bypass the check.

A sandbox worker keeps one client for its whole life, so keep-alive connections to a host are
reused from one step to the next.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx

from flows.engine.allow_list import HostRule
from flows.engine.sandbox.limits import (
    HTTP_DEFAULT_MAX_BYTES,
    HTTP_DEFAULT_TIMEOUT_SECONDS,
    HTTP_MAX_REDIRECTS,
    HTTP_MAX_REQUESTS_PER_ATTEMPT,
)

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


class HttpError(Exception):
    """Fails the attempt with this one line (the script's retries then cover it)."""


@dataclass(frozen=True)
class HttpPolicy:
    """What one attempt may reach. `flow_hosts` None: the flow does not narrow the site's."""

    site_hosts: tuple[HostRule, ...] = ()
    flow_hosts: tuple[HostRule, ...] | None = None
    allow_private: bool = False
    max_bytes: int = HTTP_DEFAULT_MAX_BYTES

    def check_host(self, host: str, port: int) -> None:
        if not any(rule.matches(host, port) for rule in self.site_hosts):
            raise HttpError(f"http: host {host} is not allowed (FLOWS_HTTP_ALLOW)")
        if self.flow_hosts is not None and not any(r.matches(host, port) for r in self.flow_hosts):
            raise HttpError(f"http: host {host} is not allowed (the flow's allowed hosts)")

    def check_address(self, host: str, address: str) -> None:
        ip = ipaddress.ip_address(address.split("%")[0])
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        refused = (
            ip.is_private
            or ip.is_loopback
            or ip.is_link_local
            or ip.is_multicast
            or ip.is_reserved
            or ip.is_unspecified
        )
        if refused and not self.allow_private:
            raise HttpError(
                f"http: host {host} is at {ip}, a private or local address "
                "(FLOWS_HTTP_ALLOW_PRIVATE)"
            )


class _CheckedBackend(httpcore.SyncBackend):
    """Resolves a host once, checks every address it has, and connects to a checked one."""

    def __init__(self) -> None:
        self.policy = HttpPolicy()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as error:
            raise HttpError(f"http: host {host} cannot be resolved: {error.strerror}") from None
        addresses = [info[4][0] for info in found]
        for address in addresses:  # a name with any refused address is refused whole
            self.policy.check_address(host, address)
        return super().connect_tcp(addresses[0], port, timeout, local_address, socket_options)


class _CheckedTransport(httpx.HTTPTransport):
    def __init__(self, backend: _CheckedBackend) -> None:
        super().__init__(trust_env=False)
        # httpx takes no network backend: give its pool one, as httpcore's own API allows.
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            network_backend=backend,
            max_keepalive_connections=20,
            keepalive_expiry=30.0,
        )


class ScriptHttp:
    """The HTTP client of one sandbox worker, shared by every attempt it runs."""

    def __init__(self) -> None:
        self._backend = _CheckedBackend()
        self._client = httpx.Client(
            transport=_CheckedTransport(self._backend), follow_redirects=False, trust_env=False
        )

    def attempt(
        self, policy: HttpPolicy, deadline: float, log: Callable[[str], object]
    ) -> HttpAttempt:
        self._backend.policy = policy
        return HttpAttempt(self._client, policy, deadline, log)

    def close(self) -> None:
        self._client.close()


class HttpAttempt:
    """Requests made by one attempt: counted, timed by its deadline, each logged in one line."""

    def __init__(
        self,
        client: httpx.Client,
        policy: HttpPolicy,
        deadline: float,
        log: Callable[[str], object],
    ) -> None:
        self.client = client
        self.policy = policy
        self.deadline = deadline
        self.log = log
        self.requests = 0

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Any = None,
        headers: Any = None,
        json: Any = None,
        data: Any = None,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        method = method.upper()
        if method not in METHODS:
            raise HttpError(f"http: unknown method {method!r}")
        self.requests += 1
        if self.requests > HTTP_MAX_REQUESTS_PER_ATTEMPT:
            raise HttpError(f"http: at most {HTTP_MAX_REQUESTS_PER_ATTEMPT} requests per attempt")
        try:
            request = self.client.build_request(
                method, url, params=params, headers=headers, json=json, data=data
            )
        except (httpx.InvalidURL, TypeError, ValueError) as error:
            raise HttpError(f"http: bad request to {url!r}: {error}") from None
        started = time.monotonic()
        response = self._send_following_redirects(request, timeout)
        body = self._read_capped(response)
        milliseconds = (time.monotonic() - started) * 1000
        target = response.request.url
        status = response.status_code
        self.log(f"http: {method} {target.host}{target.path} {status} {milliseconds:.0f} ms")
        return _answer(response, body)

    def _send_following_redirects(
        self, request: httpx.Request, timeout: float | None
    ) -> httpx.Response:
        for _ in range(HTTP_MAX_REDIRECTS + 1):
            url = request.url
            if url.scheme not in ("http", "https"):
                raise HttpError(f"http: only http and https URLs, not {url.scheme!r}")
            self.policy.check_host(url.host, url.port or (443 if url.scheme == "https" else 80))
            request.extensions["timeout"] = httpx.Timeout(self._remaining(timeout)).as_dict()
            try:
                response = self.client.send(request, stream=True)
            except httpx.TimeoutException:
                raise HttpError(f"http: {request.method} {url.host} timed out") from None
            except httpx.HTTPError as error:
                raise HttpError(f"http: {request.method} {url.host} failed: {error}") from None
            if not response.is_redirect:
                return response
            response.close()
            request = response.next_request
        raise HttpError(f"http: more than {HTTP_MAX_REDIRECTS} redirects from {request.url.host}")

    def _remaining(self, timeout: float | None) -> float:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise HttpError("http: no time left in the step for a request")
        return min(timeout or HTTP_DEFAULT_TIMEOUT_SECONDS, remaining)

    def _read_capped(self, response: httpx.Response) -> bytes:
        chunks, size = [], 0
        host = response.request.url.host
        try:
            for chunk in response.iter_bytes():  # decompressed: the cap also stops zip bombs
                size += len(chunk)
                if size > self.policy.max_bytes:
                    raise HttpError(
                        f"http: the answer from {host} is over "
                        f"{self.policy.max_bytes:,} bytes (FLOWS_HTTP_MAX_BYTES)"
                    )
                chunks.append(chunk)
        except httpx.HTTPError as error:
            raise HttpError(f"http: reading from {host} failed: {error}") from None
        finally:
            response.close()
        return b"".join(chunks)


def _answer(response: httpx.Response, body: bytes) -> dict[str, Any]:
    """What a script gets: status, headers (lower-cased names), text, and json when it is."""
    text = body.decode(response.encoding or "utf-8", errors="replace")
    parsed = None
    if "json" in response.headers.get("content-type", ""):
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
    headers = {name: ", ".join(response.headers.get_list(name)) for name in response.headers}
    return {"status": response.status_code, "headers": headers, "text": text, "json": parsed}
