"""Where a webhook may be sent: public addresses only, unless an operator allow-lists more.

An administrator's URL must not turn the server into a proxy into its own network (SSRF): loopback,
private, link-local (cloud metadata at 169.254.169.254), unique-local, unspecified, multicast and
other special-purpose addresses are refused, in every spelling (`127.1`, `0x7f000001`,
`2130706433`, `[::1]`, `::ffff:127.0.0.1`). The check runs when a subscription is saved and again
at every delivery: the name is resolved, every address it has must pass, and the request is sent
to the checked address itself (Host header and TLS server name keep the name), so a DNS answer
that changes between check and connect (rebinding) cannot redirect it.

On-premise receivers are allowed explicitly with WEBHOOK_ALLOWED_TARGETS: CIDRs (`10.20.0.0/16`)
and host names (`erp.internal`), comma-separated.

The lookup itself is bounded: `getaddrinfo` cannot be interrupted, and a hung resolver would hold
a delivery (and its worker) past the attempt's deadline, or an admin's save for as long as the
resolver likes. Each lookup runs in a daemon thread of its own and is abandoned at its deadline
(the thread ends when the resolver finally answers); at most MAX_PENDING_LOOKUPS may be abandoned
at once, so a resolver that never answers cannot pile up threads.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit, urlunsplit

from app.platform.config import get_settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Sequence[str]]
LOOKUP_S = 5.0  # a lookup outside a delivery (a subscription being saved): then the name is let be
MAX_PENDING_LOOKUPS = 16  # lookups running at once (the abandoned ones included)
_NUMERIC_V4 = re.compile(r"[0-9a-fA-FxX.]+")
# Named even though `is_global` covers them, so a refusal can say why.
METADATA = frozenset({ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")})


class RefusedTarget(ValueError):
    """The URL points at an address webhooks may not reach; the message says which and why."""


class LookupTimeout(RefusedTarget):
    """The name did not resolve within the time left (a hung or overloaded resolver)."""

    def __init__(self, host: str, message: str) -> None:
        super().__init__(message)
        self.host = host


@dataclass(frozen=True)
class Pinned:
    """A checked destination: connect to `url` (the host replaced by the checked address)."""

    url: str
    host_header: str
    server_name: str | None  # for TLS: the certificate must match the name, not the address
    address: IPAddress
    internal: bool  # an allow-listed non-public address: its responses are never recorded


@dataclass(frozen=True)
class AllowList:
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    hosts: frozenset[str] = frozenset()

    def allows(self, host: str, address: IPAddress) -> bool:
        return host.lower() in self.hosts or any(address in net for net in self.networks)


@lru_cache(maxsize=8)
def parse_allow_list(text: str) -> AllowList:
    networks, hosts = [], set()
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            hosts.add(item.lower().rstrip("."))
    return AllowList(tuple(networks), frozenset(hosts))


def _allow_list() -> AllowList:
    return parse_allow_list(get_settings().webhook_allowed_targets)


def literal_address(host: str) -> IPAddress | None:
    """The address a host spells out, in any form the C resolver accepts, or None for a name."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        if not _NUMERIC_V4.fullmatch(host) or not any(ch.isdigit() for ch in host):
            return None
        try:  # 127.1, 0x7f000001, 2130706433, 0177.0.0.1: inet_aton reads what connect() would
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def why_refused(address: IPAddress) -> str | None:
    """None for a public unicast address, else the kind of address it is."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address in METADATA:
        return "a cloud metadata address"
    for kind, flag in (
        ("unspecified", address.is_unspecified),
        ("a loopback address", address.is_loopback),
        ("a link-local address", address.is_link_local),
        ("a multicast address", address.is_multicast),
        ("a private address", address.is_private),
        ("a reserved address", address.is_reserved),
    ):
        if flag:
            return kind
    if not address.is_global:
        return "a special-purpose address"
    return None


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


# Replaced in tests to simulate DNS answers (including rebinding and a resolver that hangs).
_resolve: Resolver = system_resolver
_lookups = threading.BoundedSemaphore(MAX_PENDING_LOOKUPS)


def _resolve_within(host: str, port: int, timeout: float) -> Sequence[str]:
    """`_resolve(host, port)`, given up after `timeout` seconds (LookupTimeout); its OSError as is."""
    if not _lookups.acquire(blocking=False):
        pending = f"{MAX_PENDING_LOOKUPS} DNS lookups still pending"
        raise LookupTimeout(host, f"{host} was not looked up: {pending}")
    done = threading.Event()
    answer: list[Sequence[str]] = []
    failure: list[BaseException] = []
    resolve = _resolve  # the resolver in force now, even if a test swaps it while this one hangs

    def lookup() -> None:
        try:
            answer.append(resolve(host, port))
        except BaseException as exc:  # handed to the caller's thread
            failure.append(exc)
        finally:
            _lookups.release()
            done.set()

    threading.Thread(target=lookup, name=f"webhook-dns-{host}", daemon=True).start()
    if not done.wait(timeout):
        raise LookupTimeout(host, f"{host} did not resolve within {timeout:.3g} s")
    if failure:
        raise failure[0]
    return answer[0]


def _split(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RefusedTarget(f"{url!r} is not an http(s) URL with a host")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.scheme, parts.hostname.rstrip(".").lower(), port


def _check(host: str, addresses: Sequence[IPAddress], allow: AllowList) -> bool:
    """Raise for any refused address; True when an allow-listed internal address is among them."""
    internal = False
    for address in addresses:
        reason = why_refused(address)
        if reason is None:
            continue
        if not allow.allows(host, address):
            raise RefusedTarget(
                f"{host} is {address}, {reason}; webhooks only go to public addresses unless "
                "WEBHOOK_ALLOWED_TARGETS lists the receiver"
            )
        internal = True
    return internal


def check_subscription_url(url: str) -> None:
    """At save time: refuse a literal internal address at once, and a name that resolves to one.
    A name that does not resolve (yet) is accepted; every delivery checks again."""
    _, host, port = _split(url)
    literal = literal_address(host)
    if literal is not None:
        _check(host, [literal], _allow_list())
        return
    try:
        found = _resolve_within(host, port, LOOKUP_S)
    except (OSError, LookupTimeout):
        return
    addresses = [ipaddress.ip_address(a.split("%")[0]) for a in found]
    _check(host, addresses, _allow_list())


def pin(url: str, *, timeout: float = LOOKUP_S) -> Pinned:
    """At delivery time: resolve (within `timeout` seconds, else LookupTimeout), check every
    address, and aim the request at the first one."""
    scheme, host, port = _split(url)
    literal = literal_address(host)
    if literal is not None:
        addresses: list[IPAddress] = [literal]
    else:
        try:
            found = _resolve_within(host, port, timeout)
            addresses = [ipaddress.ip_address(a.split("%")[0]) for a in found]
        except OSError as exc:
            raise RefusedTarget(f"{host} does not resolve: {exc}") from exc
        if not addresses:
            raise RefusedTarget(f"{host} has no address")
    internal = _check(host, addresses, _allow_list())
    address = addresses[0]
    parts = urlsplit(url)
    netloc_host = f"[{address}]" if address.version == 6 else str(address)
    explicit_port = parts.port is not None
    pinned = urlunsplit(
        (scheme, f"{netloc_host}:{port}" if explicit_port else netloc_host, parts.path, parts.query, "")
    )
    host_header = parts.netloc.rsplit("@", 1)[-1]  # as the URL spells it, without credentials
    return Pinned(
        url=pinned,
        host_header=host_header,
        server_name=host if scheme == "https" and literal is None else None,
        address=address,
        internal=internal,
    )
