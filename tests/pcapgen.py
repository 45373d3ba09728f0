"""Build capture files in code for unit tests (these are synthetic fixtures, not recorded traffic).

Packets are assembled with struct, field by field, so a test states exactly which bytes it feeds the reader:
link headers of every supported type, IPv4 (with options, fragments), IPv6 (with extension headers), TCP
with any options. Containers: pcap (µs/ns, either byte order), pcapng (several interfaces, each with its own
link type, ``if_tsresol`` and ``if_tsoffset``; several sections; enhanced, simple and any other blocks),
optionally gzip-compressed. IP IDs vary and timestamps advance by realistic amounts, as STYLE.md asks of
synthetic fixtures.
"""

from __future__ import annotations

import gzip
import itertools
import struct
from dataclasses import dataclass

SYN, ACK, FIN, RST, PSH = 0x02, 0x10, 0x01, 0x04, 0x08

_ip_ids = itertools.count(0x1F3A, 7919)


def tcp(
    sport: int = 40000,
    dport: int = 80,
    seq: int = 1000,
    ack: int = 0,
    flags: int = ACK,
    win: int = 65535,
    options: bytes = b"",
    payload: bytes = b"",
    data_offset: int | None = None,
) -> bytes:
    """A TCP header (+ options padded to 4 bytes) + payload. Checksum left 0 (tcptrace does not verify)."""
    options = options + b"\x00" * (-len(options) % 4)
    off = data_offset if data_offset is not None else (20 + len(options)) // 4
    return struct.pack("!HHIIHHHH", sport, dport, seq, ack, (off << 12) | flags, win, 0, 0) + options + payload


def opt_mss(v: int) -> bytes:
    return struct.pack("!BBH", 2, 4, v)


def opt_ws(shift: int) -> bytes:
    return struct.pack("!BBB", 3, 3, shift)


def opt_sack_perm() -> bytes:
    return b"\x04\x02"


def opt_ts(val: int, ecr: int) -> bytes:
    return b"\x01\x01" + struct.pack("!BBII", 8, 10, val, ecr)


def opt_sack(*blocks: tuple[int, int]) -> bytes:
    return b"\x01\x01" + struct.pack(f"!BB{2 * len(blocks)}I", 5, 2 + 8 * len(blocks), *[x for b in blocks for x in b])


def ipv4(
    payload: bytes,
    src: str = "10.0.0.1",
    dst: str = "10.0.0.2",
    proto: int = 6,
    options: bytes = b"",
    frag: int = 0,
    total_len: int | None = None,
    ip_id: int | None = None,
) -> bytes:
    options = options + b"\x00" * (-len(options) % 4)
    ihl = (20 + len(options)) // 4
    tl = total_len if total_len is not None else 20 + len(options) + len(payload)
    ident = ip_id if ip_id is not None else next(_ip_ids) & 0xFFFF
    hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, tl, ident, frag, 64, proto, 0, _a4(src), _a4(dst))
    return hdr + options + payload


def ipv6(payload: bytes, src: str = "fd00::1", dst: str = "fd00::2", nxt: int = 6, ext: bytes = b"") -> bytes:
    import ipaddress

    hdr = struct.pack("!IHBB", 6 << 28, len(ext) + len(payload), nxt, 64)
    return hdr + ipaddress.IPv6Address(src).packed + ipaddress.IPv6Address(dst).packed + ext + payload


def _a4(s: str) -> bytes:
    return bytes(int(x) for x in s.split("."))


def ether(payload: bytes, ethertype: int = 0x0800, vlans: tuple[int, ...] = (), tpid: int = 0x8100) -> bytes:
    hdr = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01"
    tags = b""
    for i, vid in enumerate(vlans):
        outer = tpid if i == 0 and len(vlans) > 1 else 0x8100
        tags += struct.pack("!H", outer) + struct.pack("!H", vid)
    return hdr + tags + struct.pack("!H", ethertype) + payload


def sll(payload: bytes, proto: int = 0x0800) -> bytes:
    return struct.pack("!HHH8sH", 0, 772, 6, b"\x00" * 8, proto) + payload


def sll2(payload: bytes, proto: int = 0x0800) -> bytes:
    return struct.pack("!HHIHBB8s", proto, 0, 1, 772, 0, 6, b"\x00" * 8) + payload


def null(payload: bytes, family: int = 2, big_endian: bool = False) -> bytes:
    return struct.pack(">I" if big_endian else "<I", family) + payload


@dataclass
class Rec:
    """One record: ``data`` as captured, ``orig_len`` as on the wire (defaults to ``len(data)``)."""

    data: bytes
    ts_ns: int
    orig_len: int | None = None
    iface: int = 0


def records(packets: list[bytes], start_ns: int = 1_700_000_000_123_456_000, gap_ns: int = 250_000) -> list[Rec]:
    return [Rec(p, start_ns + i * gap_ns) for i, p in enumerate(packets)]


def pcap(
    recs: list[Rec],
    linktype: int = 1,
    nano: bool = False,
    big_endian: bool = False,
    snaplen: int = 262144,
    version: tuple[int, int] = (2, 4),
) -> bytes:
    e = ">" if big_endian else "<"
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    out = [struct.pack(e + "IHHiIII", magic, version[0], version[1], 0, 0, snaplen, linktype)]
    for r in recs:
        sec, sub = divmod(r.ts_ns, 1_000_000_000)
        frac = sub if nano else sub // 1000
        orig = r.orig_len if r.orig_len is not None else len(r.data)
        out.append(struct.pack(e + "IIII", sec, frac, len(r.data), orig) + r.data)
    return b"".join(out)


def _block(e: str, btype: int, body: bytes) -> bytes:
    body += b"\x00" * (-len(body) % 4)
    n = len(body) + 12
    return struct.pack(e + "II", btype, n) + body + struct.pack(e + "I", n)


def _opt(e: str, code: int, value: bytes) -> bytes:
    return struct.pack(e + "HH", code, len(value)) + value + b"\x00" * (-len(value) % 4)


@dataclass
class Iface:
    """A pcapng interface description: link type, ``if_tsresol`` byte (None: the default 6, microseconds),
    ``if_tsoffset`` in seconds (None: none), snap length."""

    linktype: int
    tsresol: int | None = None
    tsoffset: int | None = None
    snaplen: int = 0


def _iface(i: Iface | tuple[int, int | None]) -> Iface:
    return i if isinstance(i, Iface) else Iface(*i)


def pcapng_block(btype: int, body: bytes, big_endian: bool = False) -> bytes:
    """Any pcapng block (name resolution, statistics, custom, obsolete packet block ...), padded and framed."""
    return _block(">" if big_endian else "<", btype, body)


def pcapng_section(interfaces: list[Iface | tuple[int, int | None]], big_endian: bool = False) -> bytes:
    """A section header block and one interface description block per interface."""
    e = ">" if big_endian else "<"
    out = [_block(e, 0x0A0D0D0A, struct.pack(e + "IHHq", 0x1A2B3C4D, 1, 0, -1))]
    for i in map(_iface, interfaces):
        opts = b""
        if i.tsresol is not None:
            opts += _opt(e, 9, bytes([i.tsresol]))
        if i.tsoffset is not None:
            opts += _opt(e, 14, struct.pack(e + "q", i.tsoffset))
        if opts:
            opts += _opt(e, 0, b"")
        out.append(_block(e, 1, struct.pack(e + "HHI", i.linktype, 0, i.snaplen) + opts))
    return b"".join(out)


def pcapng_units(ts_ns: int, iface: Iface | tuple[int, int | None]) -> int:
    """``ts_ns`` in the interface's timestamp units, counted from its ``if_tsoffset``."""
    i = _iface(iface)
    res = 6 if i.tsresol is None else i.tsresol
    t = ts_ns - (i.tsoffset or 0) * 1_000_000_000
    if res & 0x80:
        return t * (1 << (res & 0x7F)) // 1_000_000_000
    return t // 10 ** (9 - res) if res <= 9 else t * 10 ** (res - 9)


def pcapng_packet(
    r: Rec, iface: Iface | tuple[int, int | None], big_endian: bool = False, simple: bool = False
) -> bytes:
    """An enhanced packet block naming interface ``r.iface`` (its timestamp in ``iface``'s units), or a simple
    packet block (no interface, no timestamp)."""
    e = ">" if big_endian else "<"
    orig = r.orig_len if r.orig_len is not None else len(r.data)
    if simple:
        return _block(e, 3, struct.pack(e + "I", orig) + r.data)
    units = pcapng_units(r.ts_ns, iface)
    assert 0 <= units < 1 << 64, "the timestamp does not fit the block's 64 bits"
    body = struct.pack(e + "IIIII", r.iface, units >> 32, units & 0xFFFFFFFF, len(r.data), orig) + r.data
    return _block(e, 6, body)


def pcapng(
    recs: list[Rec], interfaces: list[Iface | tuple[int, int | None]], big_endian: bool = False, simple: bool = False
) -> bytes:
    """One section: ``interfaces`` as :class:`Iface` or (link type, if_tsresol byte or None for the default 6);
    ``recs`` name them by ``Rec.iface``. ``simple`` writes SPBs."""
    out = [pcapng_section(interfaces, big_endian)]
    for r in recs:
        out.append(pcapng_packet(r, interfaces[r.iface], big_endian, simple))
    return b"".join(out)


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def handshake_and_data(
    sport: int = 40000,
    dport: int = 80,
    isn_c: int = 1000,
    isn_s: int = 5000,
    ws_c: int | None = 7,
    ws_s: int | None = 8,
) -> list[bytes]:
    """IPv4 TCP packets (no link header): handshake with window scaling, 5 bytes of data, its ACK."""
    oc = opt_mss(1460) + (opt_ws(ws_c) if ws_c is not None else b"")
    os_ = opt_mss(1460) + (opt_ws(ws_s) if ws_s is not None else b"")
    c, s = ("10.0.0.1", "10.0.0.2")
    m = 0xFFFFFFFF
    return [
        ipv4(tcp(sport, dport, isn_c, 0, SYN, 64240, oc), c, s),
        ipv4(tcp(dport, sport, isn_s, (isn_c + 1) & m, SYN | ACK, 65160, os_), s, c),
        ipv4(tcp(sport, dport, (isn_c + 1) & m, (isn_s + 1) & m, ACK, 502), c, s),
        ipv4(tcp(sport, dport, (isn_c + 1) & m, (isn_s + 1) & m, PSH | ACK, 502, payload=b"hello"), c, s),
        ipv4(tcp(dport, sport, (isn_s + 1) & m, (isn_c + 6) & m, ACK, 255), s, c),
    ]
