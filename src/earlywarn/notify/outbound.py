"""Where earlywarn may send webhooks, and what it keeps of a receiver's reply.

A webhook URL is chosen by whoever registers a focal point. Without a check it can point the
service at itself or its neighbours (``127.0.0.1``, ``[::1]``, ``localhost:5432``, the cloud
metadata address ``169.254.169.254``, a private network) and turn the delivery worker into a
proxy into the internal network. So a destination must resolve to public addresses only, unless
the administrators name its host in ``EARLYWARN_WEBHOOK_ALLOW_HOSTS``.

The check runs twice: when the URL is registered (clear 422 for the caller) and when a message
is sent, after resolving the name again. The request then goes to the very address that was
checked (the name is kept for the Host header and TLS), so a name that resolves differently a
second time (DNS rebinding) cannot slip through between check and connection.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

Resolver = Callable[[str, int], Iterable[str]]

REPLY_EXCERPT_CHARS = 120
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


class UnsafeDestination(ValueError):
    """The URL resolves to an address earlywarn must not send to; the message says which."""


class UnresolvableDestination(ValueError):
    """The host name does not resolve (now): a temporary condition at send time."""


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (numeric forms such as ``0x7f000001`` included)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnresolvableDestination(f"webhook host {host!r} does not resolve") from exc
    return [str(info[4][0]) for info in infos]


def _forbidden(address: str) -> str | None:
    """Why sending to ``address`` is refused, or None for a public address."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for test, name in (
        (ip.is_unspecified, "unspecified"),
        (ip.is_loopback, "loopback"),
        (ip.is_link_local, "link-local"),
        (ip.is_multicast, "multicast"),
        (ip.is_private, "private"),
        (ip.is_reserved, "reserved"),
        (not ip.is_global, "non-public"),
    ):
        if test:
            return name
    return None


def normalise_host(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


def allowed(host: str, allow_hosts: Collection[str]) -> bool:
    return normalise_host(host) in {normalise_host(h) for h in allow_hosts}


@dataclass(frozen=True)
class Destination:
    """Where a webhook POST goes: ``url`` with the checked address in place of the name."""

    url: str
    headers: dict[str, str] = field(default_factory=dict)
    extensions: dict[str, str] = field(default_factory=dict)


def _port(scheme: str, port: int | None) -> int:
    return port if port is not None else (443 if scheme == "https" else 80)


def check_destination(
    url: str, allow_hosts: Collection[str], resolve: Resolver = system_resolver
) -> Destination:
    """The destination to connect to, or UnsafeDestination / UnresolvableDestination."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if allowed(host, allow_hosts):
        return Destination(url)
    port = _port(parts.scheme.lower(), parts.port)
    addresses = list(resolve(host, port))
    if not addresses:
        raise UnresolvableDestination(f"webhook host {host!r} does not resolve")
    for address in addresses:
        reason = _forbidden(address)
        if reason is not None:
            raise UnsafeDestination(
                f"webhook host {host!r} resolves to a {reason} address ({address}); "
                "an administrator may allow it with EARLYWARN_WEBHOOK_ALLOW_HOSTS"
            )
    pinned = addresses[0]
    netloc = f"[{pinned}]" if ":" in pinned else pinned
    if parts.port is not None:
        netloc += f":{parts.port}"
    extensions = {"sni_hostname": host} if parts.scheme.lower() == "https" else {}
    host_header = parts.netloc.rsplit("@", 1)[-1]
    return Destination(
        urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment)),
        {"host": host_header},
        extensions,
    )


def check_registration(
    url: str, allow_hosts: Collection[str], resolve: Resolver = system_resolver
) -> None:
    """Refuse a URL at registration when its host is (or resolves to) a forbidden address.

    A name that does not resolve now is accepted: it may be registered before its DNS entry
    exists, and it is checked again at every send.
    """
    try:
        check_destination(url, allow_hosts, resolve)
    except UnresolvableDestination:
        return


def reply_excerpt(text: str) -> str:
    """What is kept of a receiver's reply: one line, no control characters, short."""
    line = " ".join(_CONTROL.sub(" ", text).split())
    if len(line) > REPLY_EXCERPT_CHARS:
        return line[:REPLY_EXCERPT_CHARS] + "..."
    return line


def header_safe(text: str) -> str:
    """A value for a mail header: CR, LF and other control characters become spaces (a name
    with a line break must not add headers or make the message unbuildable)."""
    return " ".join(_CONTROL.sub(" ", text).split())
