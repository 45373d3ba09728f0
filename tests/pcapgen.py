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
import ipaddress
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


# --- tunnels (for the decoder's nesting bound and the encapsulations Wireshark follows) ----------------------


def udp(payload: bytes, sport: int, dport: int) -> bytes:
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def gre(payload: bytes, proto: int = 0x0800, flags_ver: int = 0, words: bytes = b"") -> bytes:
    """A GRE header: flags and version, protocol type, then the optional words the flags announce."""
    return struct.pack("!HH", flags_ver, proto) + words + payload


def ppp(packet: bytes, v6: bool = False) -> bytes:
    """PPP in HDLC-like framing (address 0xFF, control 0x03), protocol IPv4 or IPv6."""
    return b"\xff\x03" + struct.pack("!H", 0x57 if v6 else 0x21) + packet


def l2tp(ppp_frame: bytes, tunnel: int = 7, session: int = 9, ns_nr: bool = False) -> bytes:
    """An L2TPv2 data message (RFC 2661 §3.1) with the length bit, optionally Ns/Nr."""
    control = 0x4002 | (0x0800 if ns_nr else 0)
    words = struct.pack("!HH", tunnel, session) + (struct.pack("!HH", 1, 2) if ns_nr else b"")
    return struct.pack("!HH", control, 4 + len(words) + len(ppp_frame)) + words + ppp_frame


def ah(payload: bytes, nxt: int, icv_words: int = 3) -> bytes:
    """An IP Authentication Header (RFC 4302): next header, length in 32-bit words minus 2, SPI, sequence, ICV."""
    return struct.pack("!BBHII", nxt, icv_words + 1, 0, 0x1000, 1) + b"\xab" * (4 * icv_words) + payload


def vntag(payload: bytes, ethertype: int = 0x0800) -> bytes:
    """A VN-Tag (ethertype 0x8926): 4 bytes of tag, then the next EtherType; use as ether(vntag(...), 0x8926)."""
    return struct.pack("!IH", 0x00010002, ethertype) + payload


def pbb(frame: bytes, isid: int = 0x123) -> bytes:
    """An IEEE 802.1ah (PBB) frame around an Ethernet ``frame``: backbone addresses, EtherType 0x88E7, the I-TAG
    (priority, flags and a 24-bit service ID), then the customer frame's addresses, EtherType and payload."""
    return b"\x02\x00\x00\x00\x0b\x02" + b"\x02\x00\x00\x00\x0b\x01" + struct.pack("!HI", 0x88E7, isid) + frame


def fabricpath(frame: bytes, tag: int | None = None) -> bytes:
    """A Cisco FabricPath frame around an Ethernet ``frame``: outer hierarchical destination and source MACs,
    the FP tag (EtherType 0x8903, FTag and TTL), optionally behind an 802.1Q/802.1ad ``tag`` (TPID), then the
    frame and a 4-byte FabricPath FCS (left 0: nobody checks it by default)."""
    vlan = struct.pack("!HH", tag, 7) if tag is not None else b""
    hdr = b"\x02\x00\x00\x0f\x00\x02" + b"\x02\x00\x00\x0e\x00\x01" + vlan + struct.pack("!HH", 0x8903, (1 << 6) | 32)
    return hdr + frame + b"\x00\x00\x00\x00"


def ayiya(packet: bytes, nxt: int = 41, opcode: int = 1, identity: bytes = b"\x00" * 16) -> bytes:
    """An AYIYA header (draft-massar-v6ops-ayiya): identity length as a power of two, an integer identity, a
    20-byte SHA1 signature, ``opcode`` (1: forward), the next header, an epoch; then ``packet``."""
    idlen = {1: 0, 2: 1, 4: 2, 8: 3, 16: 4}[len(identity)]
    hdr = bytes([(idlen << 4) | 1, (5 << 4) | 2, (1 << 4) | opcode, nxt]) + struct.pack("!I", 1_700_000_000)
    return hdr + identity + b"\x5a" * 20 + packet


def fragments4(
    payload: bytes, proto: int, sizes: list[int], ip_id: int, src: str = "172.16.0.1", dst: str = "172.16.0.2"
) -> list[bytes]:
    """The IPv4 fragments of a datagram carrying ``payload`` (protocol ``proto``): pieces of ``sizes`` bytes
    (multiples of 8 but the last; what is left goes into a last fragment), in order, all with ``ip_id``."""
    out, at = [], 0
    for size in [*sizes, len(payload) - sum(sizes)]:
        piece = payload[at : at + size]
        more = 0x2000 if at + size < len(payload) else 0
        out.append(ipv4(piece, src, dst, proto=proto, frag=more | (at // 8), ip_id=ip_id))
        at += size
    return out


def fragments6(
    payload: bytes, nxt: int, sizes: list[int], ident: int, src: str = "fd00:f::1", dst: str = "fd00:f::2"
) -> list[bytes]:
    """The IPv6 fragments (fragment header, RFC 8200 §4.5) of a datagram whose fragmentable part is ``payload``
    starting with header ``nxt``, cut as :func:`fragments4` cuts."""
    out, at = [], 0
    for size in [*sizes, len(payload) - sum(sizes)]:
        more = 1 if at + size < len(payload) else 0
        fraghdr = struct.pack("!BBHI", nxt, 0, at | more, ident)
        out.append(ipv6(payload[at : at + size], src, dst, nxt=44, ext=fraghdr))
        at += size
    return out


# One level of each encapsulation, wrapped around an IP packet (or, for the tags, inserted into an Ethernet frame):
# the decoder's nesting bound is tested by stacking them (nested()).
_MPLS_BOTTOM = struct.pack("!I", (16 << 12) | (1 << 8) | 64)
_ERSPAN_II = struct.pack("!HHI", 0x1005, 0x0001, 0)  # version 1, VLAN 5; session 1
ENCAPSULATIONS = {
    "ipip": lambda p: ipv4(p, proto=4),
    "ip6in6": lambda p: ipv6(p, nxt=41),
    "gre": lambda p: ipv4(gre(p), proto=47),
    "gre_eth": lambda p: ipv4(gre(ether(p), 0x6558), proto=47),
    "gre_mpls": lambda p: ipv4(gre(_MPLS_BOTTOM + p, 0x8847), proto=47),
    "erspan_ii": lambda p: ipv4(gre(_ERSPAN_II + ether(p), 0x88BE, 0x1000, b"\x00\x00\x00\x07"), proto=47),
    "erspan_i": lambda p: ipv4(gre(ether(p), 0x88BE), proto=47),
    "pptp": lambda p: ipv4(gre(ppp(p), 0x880B, 0x3081, struct.pack("!HHII", len(p) + 4, 1, 5, 4)), proto=47),
    "vxlan": lambda p: ipv4(udp(b"\x08\x00\x00\x00\x00\x00\x05\x00" + ether(p), 5555, 4789), proto=17),
    "gtp_u": lambda p: ipv4(udp(struct.pack("!BBHI", 0x30, 0xFF, len(p), 1) + p, 2152, 2152), proto=17),
    "geneve": lambda p: ipv4(udp(struct.pack("!BBHI", 0, 0, 0x0800, 5 << 8) + p, 1234, 6081), proto=17),
    "l2tp": lambda p: ipv4(udp(l2tp(ppp(p)), 1701, 1701), proto=17),
    "ah": lambda p: ipv4(ah(p, 4), proto=51),
    "ieee8021ad": lambda f: f[:12] + b"\x88\xa8\x00\x05" + f[12:],
    "ieee8021q": lambda f: f[:12] + b"\x81\x00\x00\x05" + f[12:],
    "vntag": lambda f: f[:12] + b"\x89\x26\x00\x01\x00\x02" + f[12:],
    "pbb": pbb,
    "fabricpath": fabricpath,
    "ayiya": lambda p: ipv4(udp(ayiya(p, 4), 40000, 5072), proto=17),
}
_TAGS = ("ieee8021ad", "ieee8021q", "vntag", "pbb", "fabricpath")


def nested(kind: str, levels: int, inner: bytes | None = None) -> bytes:
    """An Ethernet frame: a TCP SYN inside ``levels`` levels of ENCAPSULATIONS[kind]."""
    wrap = ENCAPSULATIONS[kind]
    packet = inner if inner is not None else (ipv6 if kind == "ip6in6" else ipv4)(tcp(flags=SYN, seq=100))
    if kind in _TAGS:
        frame = ether(packet)
        for _ in range(levels):
            frame = wrap(frame)
        return frame
    for _ in range(levels):
        packet = wrap(packet)
    return ether(packet, 0x86DD if packet[0] >> 4 == 6 else 0x0800)


# --- connections through the tunnels Wireshark follows, and frames it does not decode as TCP --------------


def _conn(n: int, v6: bool = False) -> list[bytes]:
    """The TCP SYN and SYN/ACK of connection ``n`` (its own addresses and port), as IP packets."""
    ip, c, s = (ipv6, f"fd00::{n}:1", f"fd00::{n}:2") if v6 else (ipv4, f"10.{n}.0.1", f"10.{n}.0.2")
    return [ip(tcp(40000 + n, 80, 1000, 0, SYN), c, s), ip(tcp(80, 40000 + n, 5000, 1001, SYN | ACK), s, c)]


def _ah(packet: bytes) -> bytes:
    """The same IP packet with an authentication header between the IP header and TCP."""
    if packet[0] >> 4 == 6:
        return ipv6(
            ah(packet[40:], 6),
            str(ipaddress.IPv6Address(packet[8:24])),
            str(ipaddress.IPv6Address(packet[24:40])),
            nxt=51,
        )
    return ipv4(ah(packet[20:], 6), _v4(packet[12:16]), _v4(packet[16:20]), proto=51)


def _v4(b: bytes) -> str:
    return ".".join(map(str, b))


def _outer(payload: bytes, proto: int) -> bytes:
    return ether(ipv4(payload, "172.16.0.1", "172.16.0.2", proto=proto))


def tunnel_frames() -> list[bytes]:
    """Built by code: connections through L2TP, AH (IPv4 and IPv6), VN-Tag, PPTP, ERSPAN type I and GTP-U on a
    port pair that is also VXLAN's, interleaved with frames Wireshark does not decode as TCP (IPComp, GRE
    carrying a VLAN tag, a 0x9200 tag, L2TP control and version 3 messages)."""
    c_plain, c_l2tp, c_ah6, c_ah4, c_vntag, c_pptp, c_erspan, c_gtp, lost = (_conn(n, v6=n == 3) for n in range(1, 10))

    def via_l2tp(packet: bytes, ns_nr: bool = False) -> bytes:
        return _outer(udp(l2tp(ppp(packet), ns_nr=ns_nr), 1701, 1701), 17)

    def via_gtp(packet: bytes, sport: int, dport: int) -> bytes:
        return _outer(udp(struct.pack("!BBHI", 0x30, 0xFF, len(packet), 1) + packet, sport, dport), 17)

    ipcomp = b"\x06\x00\x00\x01" + lost[0][20:]  # next header TCP, CPI 1: but the payload is compressed
    return [
        ether(c_plain[0]),
        via_l2tp(c_l2tp[0]),
        ether(_ah(c_ah6[0]), 0x86DD),
        ether(_ah(c_ah4[0])),
        ether(vntag(c_vntag[0]), 0x8926),
        _outer(ipv4(ipcomp, proto=108), 4),  # IPComp inside IP-in-IP
        ether(ipv6(ipcomp, nxt=108), 0x86DD),  # IPComp in IPv6
        ether(ENCAPSULATIONS["pptp"](c_pptp[0])),
        _outer(gre(struct.pack("!HH", 5, 0x0800) + lost[0], 0x8100), 47),  # GRE does not carry VLAN tags
        ether(struct.pack("!HH", 5, 0x0800) + lost[1], 0x9200),  # not a VLAN tag to Wireshark
        ether(ENCAPSULATIONS["erspan_i"](c_erspan[0])),
        via_gtp(c_gtp[0], 4789, 2152),  # the lower port (GTP-U) is tried first
        _outer(udp(struct.pack("!HHHHHH", 0xC802, 12, 7, 0, 0, 0), 1701, 1701), 17),  # L2TP control message
        _outer(udp(struct.pack("!HHI", 0x0003, 0, 5) + ppp(lost[0]), 1701, 1701), 17),  # L2TPv3
        via_l2tp(c_l2tp[1], ns_nr=True),
        ether(c_plain[1]),
        ether(vntag(c_vntag[1]), 0x8926),
        ether(_ah(c_ah6[1]), 0x86DD),
        ether(_ah(c_ah4[1])),
        ether(ENCAPSULATIONS["pptp"](c_pptp[1])),
        ether(ENCAPSULATIONS["erspan_i"](c_erspan[1])),
        via_gtp(c_gtp[1], 2152, 4789),
    ]


# --- TCP headers Wireshark dissects only in part ------------------------------------------------------------


def bogus_header_frames() -> list[bytes]:
    """Built by code: connections with TCP headers whose data offset is below 5 words ("Bogus TCP header
    length") or longer than the IP payload ("Short segment"), among them a SYN that opens a stream, one that
    reopens a 4-tuple with a new ISN, a short pure ACK that opens a stream, a header cut by the IP length before
    byte 16 (no stream), and reserved flag bits on sound headers."""
    c, s = "10.0.0.1", "10.0.0.2"

    def c2s(seq: int, ack: int, flags: int, payload: bytes = b"", off: int | None = None, **kw: int) -> bytes:
        sport, opts = kw.get("sport", 40000), kw.get("opts", 0)
        options = opt_mss(1460) + opt_ws(7) if opts else b""
        return ether(ipv4(tcp(sport, 80, seq, ack, flags, 502, options, payload, data_offset=off), c, s))

    def s2c(seq: int, ack: int, flags: int, payload: bytes = b"", off: int | None = None, **kw: int) -> bytes:
        dport, opts = kw.get("dport", 40000), kw.get("opts", 0)
        options = opt_mss(1460) + opt_ws(8) if opts else b""
        return ether(ipv4(tcp(80, dport, seq, ack, flags, 300, options, payload, data_offset=off), s, c))

    cut = ipv4(tcp(40003, 80, 501, 600, ACK), c, s, total_len=20 + 12)  # IP payload: 12 bytes of TCP header
    return [
        c2s(1000, 0, SYN, opts=1),
        s2c(5000, 1001, SYN | ACK, opts=1),
        c2s(1001, 5001, ACK),
        c2s(1001, 5001, PSH | ACK, b"a" * 100),
        c2s(1101, 5001, PSH | ACK, b"b" * 50, off=3),  # bogus: tcp.len 58 from offset 12, analysed unseen
        c2s(1101, 5001, PSH | ACK, b"c" * 50),  # out of order after the bogus segment's 58 bytes
        s2c(5001, 1151, ACK),
        c2s(1151, 5001, ACK, b"d" * 20, off=15),  # short: a 60-byte header in 40 bytes
        c2s(7000, 0, SYN, off=0, sport=40001),  # a bogus SYN opens a stream
        s2c(9000, 7001, SYN | ACK, dport=40001),
        c2s(7001, 9001, ACK, sport=40001),
        c2s(3000, 0, SYN, b"xx", off=4),  # a bogus SYN with a new ISN reopens the first 4-tuple
        s2c(8000, 3001, SYN | ACK),
        c2s(3001, 8001, ACK),
        c2s(500, 600, ACK, b"\x00" * 4, off=12, sport=40002),  # a short pure ACK opens a stream
        c2s(500, 600, ACK, b"z" * 10, sport=40002),
        ether(cut + b"\x00" * 10),  # Ethernet padding is no TCP header: no stream
        c2s(100, 0, SYN | 0xE00, sport=40004),  # reserved bits: sound headers all the same
        s2c(200, 101, SYN | ACK | 0x100, dport=40004),
        c2s(101, 201, ACK | 0xA00, b"q" * 5, sport=40004),
        c2s(3011, 8001, FIN | ACK, off=2),  # a bogus FIN
        s2c(8001, 3001, ACK, off=14),  # a short ACK: completeness ACK
        c2s(3001, 8001, ACK, b"e" * 10),
        s2c(8001, 3011, FIN | ACK),
    ]
