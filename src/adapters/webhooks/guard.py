"""The SSRF guard: every TCP connection goes to an address checked just before connecting.

It sits below httpx, as httpcore's network backend: the name in the URL is resolved here,
each address is judged (``domain.destinations.address_refusal``) and only an allowed one is
connected to - the very address checked, so a name that resolved to a public address when
the stream was saved and resolves to ``127.0.0.1`` now (DNS rebinding) is refused. TLS is
still negotiated for the name in the URL, so certificates are checked as usual.

It also enforces a deadline per request across every read and write: httpx's timeouts are
per operation, and a receiver trickling a byte every few seconds would otherwise hold a
worker for as long as it liked.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import httpcore

from domain.destinations import address_refusal

Resolver = Callable[..., list[tuple[Any, ...]]]
"""``socket.getaddrinfo``'s signature; tests stand in for a name server with another."""


class DestinationRefused(Exception):
    """The host resolves only to addresses the operator does not allow."""


_deadline = threading.local()


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Every network operation of this thread inside the block ends ``seconds`` from now."""
    _deadline.at = time.monotonic() + seconds
    try:
        yield
    finally:
        _deadline.at = None


def _remaining(timeout: float | None, timeout_error: type[Exception]) -> float | None:
    at = getattr(_deadline, "at", None)
    if at is None:
        return timeout
    left = at - time.monotonic()
    if left <= 0:
        raise timeout_error("the request took longer than its deadline")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _remaining(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _remaining(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        return _DeadlineStream(self._inner.start_tls(
            ssl_context, server_hostname, _remaining(timeout, httpcore.ConnectTimeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class GuardedBackend(httpcore.NetworkBackend):
    def __init__(self, allow_private: bool, resolve: Resolver = socket.getaddrinfo) -> None:
        self._allow_private = allow_private
        self._resolve = resolve
        self._inner = httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        last: Exception | None = None
        for address in self.addresses(host, port):
            try:
                stream = self._inner.connect_tcp(
                    address, port, _remaining(timeout, httpcore.ConnectTimeout),
                    local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc  # the next address may answer
                continue
            return _DeadlineStream(stream)
        raise last or httpcore.ConnectError(f"{host} has no address")

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[Any] | None = None
                            ) -> httpcore.NetworkStream:
        raise DestinationRefused("Unix sockets are not a destination")

    def addresses(self, host: str, port: int) -> list[str]:
        """The addresses of ``host`` that may be connected to, in resolver order;
        ``DestinationRefused`` when there is none."""
        try:
            found = self._resolve(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise httpcore.ConnectError(f"{host} could not be resolved") from exc
        addresses = list(dict.fromkeys(str(info[4][0]).split("%")[0] for info in found))
        if self._allow_private:
            return addresses
        allowed, refusals = [], []
        for address in addresses:
            refusal = address_refusal(ipaddress.ip_address(address))
            if refusal is None:
                allowed.append(address)
            else:
                refusals.append(f"{address}, {refusal}")
        if not allowed:
            raise DestinationRefused(f"{host} resolves to {'; '.join(refusals)}")
        return allowed

    def refusal(self, url: str) -> str | None:
        """Why ``url``'s host would be refused now, for advice when a URL is saved."""
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            self.addresses(parts.hostname or "", port)
        except DestinationRefused as exc:
            return str(exc).split(" resolves to ", 1)[1]
        except httpcore.ConnectError:
            return None  # not resolvable yet: the delivery log will say so if it stays so
        return None
