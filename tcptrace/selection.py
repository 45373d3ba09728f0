"""Which streams a command looks at: ``-s N``, ``--host ADDR|CIDR``, ``--port N`` (one meaning everywhere).

A stream is selected when every kind of criterion given matches it: its number is one of ``-s``; one of its two
addresses lies in one of the ``--host`` networks (an address is a /32 or /128 network; ``10.0.0.0/8`` and
``fd00::/8`` select prefixes); one of its two ports is one of ``--port``. Host names are refused with a clear
message rather than silently matching nothing: a capture holds addresses, and resolving names would make the
answer depend on the machine's DNS.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .errors import TcptraceError

if TYPE_CHECKING:
    from .flow import Flow, HalfFlow

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class SelectionError(TcptraceError, ValueError):
    """A selection that cannot mean anything: a host name, a malformed address or prefix."""


def parse_host(text: str) -> Network:
    """An address or CIDR prefix as a network (``10.1.2.3`` -> 10.1.2.3/32; host bits of a prefix are ignored)."""
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise SelectionError(
            f"--host takes an IP address or a CIDR prefix (e.g. 10.0.0.5, 10.0.0.0/8, fd00::/8), not {text!r}"
            + (": host names are not resolved" if any(c.isalpha() for c in text) and ":" not in text else "")
        ) from None


@dataclass(frozen=True)
class Selection:
    """Stream numbers, address networks and ports; an empty criterion selects everything."""

    streams: frozenset[int] = frozenset()
    networks: tuple[Network, ...] = ()
    ports: frozenset[int] = frozenset()
    _cache: dict[int, bool] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def of(cls, streams: Iterable[int] = (), hosts: Iterable[str] = (), ports: Iterable[int] = ()) -> Selection:
        return cls(frozenset(streams), tuple(parse_host(h) for h in hosts), frozenset(ports))

    @property
    def everything(self) -> bool:
        return not (self.streams or self.networks or self.ports)

    def matches(self, flow: Flow) -> bool:
        """Whether ``flow`` is selected (cached per stream number: a stream's endpoints never change)."""
        if self.everything:
            return True
        hit = self._cache.get(flow.stream)
        if hit is None:
            hit = self.matches_endpoints(flow.stream, flow.client, flow.server)
            self._cache[flow.stream] = hit
        return hit

    def matches_endpoints(self, stream: int, client: HalfFlow, server: HalfFlow) -> bool:
        """Whether stream number ``stream`` between ``client`` and ``server`` is selected (not cached)."""
        if self.streams and stream not in self.streams:
            return False
        if self.ports and not {client.port, server.port} & self.ports:
            return False
        if self.networks:
            addrs = [ipaddress.ip_address(h.addr_text) for h in (client, server)]
            if not any(a in net for a in addrs for net in self.networks if a.version == net.version):
                return False
        return True

    def missing(self, streams_total: int) -> tuple[int, ...]:
        """The requested stream numbers a capture of ``streams_total`` streams does not have."""
        return tuple(sorted(n for n in self.streams if n >= streams_total))


class NoSuchStream(TcptraceError, LookupError):
    """A requested stream number the capture does not have (``stats``: the reader's, when the capture was read)."""

    stats: object = None


def missing_streams_message(capture: object, missing: Iterable[int], streams_total: int, lang: str = "en") -> str:
    """The error text for stream numbers a capture lacks, worded from the message catalogue."""
    from .messages import LANGUAGES

    t = LANGUAGES[lang]
    if streams_total > 1:
        have = t["select.have"].format(n=streams_total, last=streams_total - 1)
    else:
        have = t["select.have.one" if streams_total else "select.have.none"]
    return t["select.missing"].format(streams=", ".join(map(str, missing)), capture=capture, have=have)


__all__ = ["NoSuchStream", "Selection", "SelectionError", "missing_streams_message", "parse_host"]
