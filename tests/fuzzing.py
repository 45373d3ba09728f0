"""Hostile mutants of capture files (issue #13): the input of tests/test_fuzz.py and benchmarks/fuzz.py.

Theory of operation. A seed capture (pcap or pcapng, either possibly gzip-compressed) is parsed just far enough
to name its fields (:func:`layout`): the pcap file header and record headers, the pcapng blocks (section headers,
interface descriptions and their options, enhanced/simple/obsolete packet blocks), and inside each captured frame
the link header, the IP header and the TCP header. A mutation then either gives one named field a hostile value
(0, 1, the largest, one past the end of its block, a length that runs into the next record), rebuilds a frame
(TCP options of length 0, 1 and 255; the IP packet wrapped in IP-in-IP, GRE, VXLAN, ... many levels deep), or
damages bytes blindly (bit flips, overwrites, truncation, deleted or repeated ranges). One to three mutations
are stacked, each on the layout of the previous result (a damaged length shifts what follows).

Everything is a pure function of the seed bytes and an integer or string seed: :func:`mutate` with
``random.Random(x)`` gives the same bytes on every machine, so a failure is reproduced from its name and number
(:func:`mutant`), and each mutation says in words what it did (``Mutant.ops``), which is what a report of the
failure needs. Nothing here reads tcptrace: the fields are located with this module's own small parser, so a
bug in the library's reader cannot hide the fields it mis-reads.
"""

from __future__ import annotations

import gzip
import random
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

# --- seeds ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seed:
    """A capture to mutate: its name (for reports), its bytes (decompressed) and whether it came gzipped."""

    name: str
    data: bytes
    gzipped: bool = False


def load_seed(path: Path, name: str | None = None) -> Seed:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        return Seed(name or path.name, gzip.decompress(raw), True)
    return Seed(name or path.name, raw)


def corpus_seeds(corpus: Path, max_bytes: int = 64 * 1024) -> list[Seed]:
    """The small captures of ../shared/corpus (sorted, so the set is the same on every machine with the corpus):
    the gzipped copies are left out (their decompressed twin is there; gzip is a mutation of its own here)."""
    if not corpus.is_dir():
        return []
    out = []
    for p in sorted(corpus.rglob("*")):
        if not p.is_file() or p.suffix in (".tsv", ".md", ".json", ".txt", ".gz") or p.name.startswith("."):
            continue
        if p.stat().st_size <= max_bytes:
            out.append(load_seed(p, str(p.relative_to(corpus))))
    return out


def sample_seeds(samples: Path) -> list[Seed]:
    return [load_seed(p) for p in sorted(samples.iterdir()) if p.suffix in (".pcap", ".pcapng")]


# --- layout: where the fields are ----------------------------------------------------------------------------

PCAP_MAGICS: dict[bytes, tuple[str, bool, int]] = {  # first four bytes -> byte order, nanoseconds, record header
    b"\xd4\xc3\xb2\xa1": ("<", False, 16),
    b"\xa1\xb2\xc3\xd4": (">", False, 16),
    b"\x4d\x3c\xb2\xa1": ("<", True, 16),
    b"\xa1\xb2\x3c\x4d": (">", True, 16),
    b"\x34\xcd\xb2\xa1": ("<", False, 24),
    b"\xa1\xb2\xcd\x34": (">", False, 24),
}
SHB = 0x0A0D0D0A
BOM_LE, BOM_BE = b"\x4d\x3c\x2b\x1a", b"\x1a\x2b\x3c\x4d"


@dataclass
class Frame:
    """One packet record: where its header fields and its captured bytes are in the file."""

    hdr: int  # the record header (pcap) or the block (pcapng)
    data: int  # the first captured byte
    caplen: int  # captured bytes, as far as the file really holds them
    linktype: int
    kind: str  # "pcap", "epb", "spb" or "pb"
    caplen_at: int = -1
    origlen_at: int = -1
    ts_at: int = -1  # pcap: seconds then fraction; EPB/PB: high then low 32 bits
    iface_at: int = -1
    iface_size: int = 4
    ts_units: tuple[int, int] = (1000, 1)  # pcapng: ns = ts * mult // div (the interface's if_tsresol)


@dataclass
class Block:
    off: int
    btype: int
    length: int


@dataclass
class Layout:
    kind: str  # "pcap", "pcapng" or "" (neither: only blind mutations apply)
    order: str = "<"
    frames: list[Frame] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)
    idbs: list[Block] = field(default_factory=list)
    rec_hdr_len: int = 16
    nano: bool = False


_LINK_NAMES = {0: "null", 1: "ether", 101: "raw", 12: "raw", 14: "raw", 228: "raw", 229: "raw", 108: "loop"}
_LINK_NAMES.update({113: "sll", 276: "sll2"})


def layout(data: bytes) -> Layout:
    """The fields of a pcap or pcapng file, walked as far as its lengths make sense (tolerant of damage)."""
    head = data[:4]
    if head in PCAP_MAGICS:
        return _pcap_layout(data)
    if len(data) >= 12 and struct.unpack_from("<I", data)[0] == SHB:
        return _pcapng_layout(data)
    return Layout("")


def _pcap_layout(data: bytes) -> Layout:
    order, nano, rh = PCAP_MAGICS[data[:4]]
    lay = Layout("pcap", order, rec_hdr_len=rh, nano=nano)
    if len(data) < 24:
        return lay
    linktype = struct.unpack_from(order + "I", data, 20)[0] & 0x03FFFFFF
    pos = 24
    while pos + rh <= len(data):
        caplen = struct.unpack_from(order + "I", data, pos + 8)[0]
        if caplen > 0x4000000:
            break
        cap = min(caplen, len(data) - pos - rh)
        lay.frames.append(Frame(pos, pos + rh, cap, linktype, "pcap", pos + 8, pos + 12, pos))
        pos += rh + caplen
    return lay


def _pcapng_layout(data: bytes) -> Layout:
    lay = Layout("pcapng")
    order = "<"
    ifaces: list[tuple[int, tuple[int, int]]] = []  # this section's (link type, ts units)
    pos = 0
    while pos + 12 <= len(data):
        if struct.unpack_from("<I", data, pos)[0] == SHB:
            bom = data[pos + 8 : pos + 12]
            order = ">" if bom == BOM_BE else "<"
            ifaces = []
        btype, blen = struct.unpack_from(order + "II", data, pos)
        if blen < 12 or blen % 4 or pos + blen > len(data):
            break
        blk = Block(pos, btype, blen)
        lay.blocks.append(blk)
        body, end = pos + 8, pos + blen - 4
        if btype == 1 and blen >= 20:
            lay.idbs.append(blk)
            ifaces.append((struct.unpack_from(order + "H", data, body)[0], _idb_units(data, order, body + 8, end)))
        elif btype in (6, 2) and blen >= 32:
            if btype == 6:
                iface = struct.unpack_from(order + "I", data, body)[0]
            else:
                iface = struct.unpack_from(order + "H", data, body)[0]
            caplen = struct.unpack_from(order + "I", data, body + 12)[0]
            lt, units = ifaces[iface] if iface < len(ifaces) else (-1, (1000, 1))
            cap = max(0, min(caplen, end - (body + 20)))
            kind = "epb" if btype == 6 else "pb"
            size = 4 if btype == 6 else 2
            lay.frames.append(Frame(pos, body + 20, cap, lt, kind, body + 12, body + 16, body + 4, body, size, units))
        elif btype == 3 and blen >= 16:
            origlen = struct.unpack_from(order + "I", data, body)[0]
            lt = ifaces[0][0] if ifaces else -1
            lay.frames.append(Frame(pos, body + 4, max(0, min(origlen, end - body - 4)), lt, "spb", -1, body))
        pos += blen
    lay.order = order
    return lay


def _idb_units(data: bytes, order: str, pos: int, end: int) -> tuple[int, int]:
    mult, div = 1000, 1
    while pos + 4 <= end:
        code, olen = struct.unpack_from(order + "HH", data, pos)
        if code == 0:
            break
        if code == 9 and olen >= 1 and pos + 4 < end:
            res = data[pos + 4]
            if res & 0x80:
                mult, div = 1_000_000_000, 1 << (res & 0x7F)
            elif res <= 9:
                mult, div = 10 ** (9 - res), 1
            else:
                mult, div = 1, 10 ** (res - 9)
        pos += 4 + ((olen + 3) & ~3)
    return mult, div


def ip_offset(frame: bytes, linktype: int) -> int | None:
    """Where the IP header starts in a frame of this link type (VLAN tags peeled), or None."""
    name = _LINK_NAMES.get(linktype)
    if name == "raw":
        off = 0
    elif name in ("null", "loop"):
        off = 4
    elif name in ("ether", "sll", "sll2"):
        etype_at, off = {"ether": (12, 14), "sll": (14, 16), "sll2": (0, 20)}[name]
        if len(frame) < off:
            return None
        etype = struct.unpack_from("!H", frame, etype_at)[0]
        while name == "ether" and etype in (0x8100, 0x88A8, 0x9100) and len(frame) >= off + 4:
            etype = struct.unpack_from("!H", frame, off + 2)[0]
            off += 4
        if etype not in (0x0800, 0x86DD):
            return None
    else:
        return None
    if len(frame) <= off or frame[off] >> 4 not in (4, 6):
        return None
    return off


@dataclass
class Packet:
    """The IP and TCP headers of one frame, as offsets into the file."""

    frame: Frame
    ip: int  # file offset of the IP header
    version: int
    tcp: int  # file offset of the TCP header, or -1 when the IP payload is not (directly) TCP
    ihl: int


def packets(data: bytes, lay: Layout) -> list[Packet]:
    out = []
    for fr in lay.frames:
        raw = data[fr.data : fr.data + fr.caplen]
        off = ip_offset(raw, fr.linktype)
        if off is None:
            continue
        ip = fr.data + off
        version = raw[off] >> 4
        if version == 4:
            if len(raw) < off + 20:
                continue
            ihl = (raw[off] & 0x0F) * 4
            tcp = ip + ihl if raw[off + 9] == 6 and ihl >= 20 and len(raw) >= off + ihl + 20 else -1
        else:
            if len(raw) < off + 40:
                continue
            ihl = 40
            tcp = ip + 40 if raw[off + 6] == 6 and len(raw) >= off + 60 else -1
        out.append(Packet(fr, ip, version, tcp, ihl))
    return out


# --- rebuilding a frame ---------------------------------------------------------------------------------------


def with_frame(data: bytes, lay: Layout, fr: Frame, new: bytes, origlen: int | None = None) -> bytes:
    """The file with frame ``fr`` replaced by ``new`` (record header or block lengths adjusted to fit)."""
    o = lay.order
    orig = len(new) if origlen is None else origlen
    if fr.kind == "pcap":
        hdr = bytearray(data[fr.hdr : fr.data])
        struct.pack_into(o + "II", hdr, 8, len(new), orig)
        return data[: fr.hdr] + bytes(hdr) + new + data[fr.data + fr.caplen :]
    blen = struct.unpack_from(o + "I", data, fr.hdr + 4)[0]
    end = fr.hdr + blen
    if fr.kind == "spb":
        body = struct.pack(o + "I", orig) + new
    else:
        fixed = bytearray(data[fr.hdr + 8 : fr.data])
        struct.pack_into(o + "II", fixed, 12, len(new), orig)
        opts_at = fr.data + fr.caplen + (-fr.caplen % 4)
        opts = data[opts_at : end - 4] if opts_at < end - 4 else b""
        body = bytes(fixed) + new + b"\x00" * (-len(new) % 4) + opts
    body += b"\x00" * (-len(body) % 4)
    n = len(body) + 12
    block = struct.pack(o + "II", struct.unpack_from(o + "I", data, fr.hdr)[0], n) + body + struct.pack(o + "I", n)
    return data[: fr.hdr] + block + data[end:]


def _fix_ip_lengths(pkt: bytearray, ip: int, version: int) -> None:
    """Set the IP length field(s) at ``ip`` to what follows (0 when it does not fit in 16 bits: the TSO case)."""
    n = len(pkt) - ip
    if version == 4:
        struct.pack_into("!H", pkt, ip + 2, n if n <= 0xFFFF else 0)
    else:
        struct.pack_into("!H", pkt, ip + 4, n - 40 if n - 40 <= 0xFFFF else 0)


# --- the mutations --------------------------------------------------------------------------------------------

U32_EDGES = (0, 1, 2, 3, 4, 8, 12, 0x7F, 0x80, 0xFF, 0xFFFF, 0x10000, 0x3FFFFFF, 0x4000000, 0x4000001,
             0x7FFFFFFF, 0x80000000, 0xFFFFFFFE, 0xFFFFFFFF)  # fmt: skip
U16_EDGES = (0, 1, 2, 19, 20, 21, 40, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFE, 0xFFFF)
# Link types with a decoder in tcptrace/capture.py, and some without (tcpdump.org/linktypes.html).
LINKTYPES = (0, 1, 9, 10, 12, 14, 50, 101, 104, 105, 108, 113, 127, 129, 192, 228, 229, 239, 242, 276,
             2, 6, 147, 220, 252, 0xFFFF)  # fmt: skip
TSRESOLS = (0, 1, 3, 6, 9, 10, 12, 18, 19, 20, 100, 127, 0x80, 0x81, 0x9E, 0x9F, 0xA0, 0xBF, 0xC0, 0xFF)
TSOFFSETS = (0, 1, -1, 1 << 31, -(1 << 31), 5_000_000_000, -5_000_000_000, -1_700_000_000, 1 << 62, (1 << 63) - 1,
             -(1 << 63))  # fmt: skip
# Nanosecond timestamps near the C engine's limits (int64: +-9.22e18) and the values issue #13 names (+-5e18).
NS_TARGETS = (0, 1 << 32, 4_294_967_295_999_999_999, 5 * 10**18, 5 * 10**18 + 1, 9_223_372_036_854_775_807,
              9_223_372_036_854_775_808, 1 << 64, 18_446_744_073_709_551_615_000)  # fmt: skip

Mutation = Callable[[random.Random, bytes, Layout], "tuple[bytes, str] | None"]


def _u32(rng: random.Random, current: int, room: int) -> int:
    """A hostile 32-bit length: an edge value, or one near the current value or the bytes left."""
    pick = rng.randrange(4)
    if pick == 0:
        return rng.choice(U32_EDGES)
    if pick == 1:
        return max(0, current + rng.choice((-4, -1, 1, 4, 8, 64))) & 0xFFFFFFFF
    if pick == 2:
        return max(0, room + rng.choice((-1, 0, 1, 4))) & 0xFFFFFFFF
    return rng.getrandbits(32)


def _put(data: bytes, at: int, fmt: str, value: int) -> bytes:
    buf = bytearray(data)
    struct.pack_into(fmt, buf, at, value)
    return bytes(buf)


def bit_flips(rng: random.Random, data: bytes, lay: Layout) -> tuple[bytes, str] | None:
    if not data:
        return None
    buf = bytearray(data)
    n = rng.choice((1, 1, 2, 4, 8, 32))
    lo = 24 if len(data) > 24 and rng.random() < 0.9 else 0
    where = []
    for _ in range(n):
        pos = rng.randrange(lo, len(buf))
        buf[pos] ^= 1 << rng.randrange(8)
        where.append(pos)
    return bytes(buf), f"bit_flips(n={n}, first at {min(where)})"


def overwrite(rng: random.Random, data: bytes, lay: Layout) -> tuple[bytes, str] | None:
    if not data:
        return None
    buf = bytearray(data)
    n = rng.choice((1, 2, 4, 16))
    pos = rng.randrange(len(buf))
    value = rng.choice((b"\x00", b"\xff", b"\x7f", b"\x80", bytes([rng.randrange(256)])))
    buf[pos : pos + n] = (value * n)[: len(buf[pos : pos + n])]
    return bytes(buf), f"overwrite({n} bytes of {value.hex()} at {pos})"


def truncate(rng: random.Random, data: bytes, lay: Layout) -> tuple[bytes, str] | None:
    if len(data) < 2:
        return None
    marks = [f.hdr for f in lay.frames] + [f.data for f in lay.frames] + [b.off for b in lay.blocks]
    if marks and rng.random() < 0.6:
        at = rng.choice(marks) + rng.choice((-1, 0, 1, 2, 4, 8, 12, 16, 20))
    else:
        at = rng.randrange(len(data))
    at = max(0, min(at, len(data) - 1))
    return data[:at], f"truncate(at {at} of {len(data)})"


def cut_range(rng: random.Random, data: bytes, lay: Layout) -> tuple[bytes, str] | None:
    """Delete or repeat a byte range: every length after it now points into the wrong place."""
    if len(data) < 32:
        return None
    a = rng.randrange(len(data))
    n = rng.choice((1, 3, 4, 16, 100))
    if rng.random() < 0.5:
        return data[:a] + data[a + n :], f"delete({n} bytes at {a})"
    return data[: a + n] + data[a : a + n] + data[a + n :], f"repeat({n} bytes at {a})"


def records(rng: random.Random, data: bytes, lay: Layout) -> tuple[bytes, str] | None:
    """Duplicate, drop or swap whole records: retransmissions, losses and reordering the analysis must survive."""
    fr = lay.frames
    if len(fr) < 2:
        return None
    spans = []
    for f in fr:
        if f.kind == "pcap":
            spans.append((f.hdr, f.data + f.caplen))
        else:
            spans.append((f.hdr, f.hdr + struct.unpack_from(lay.order + "I", data, f.hdr + 4)[0]))
    i, j = sorted(rng.sample(range(len(spans)), 2))
    (a0, a1), (b0, b1) = spans[i], spans[j]
    op = rng.choice(("dup", "drop", "swap", "dup_many"))
    if op == "dup":
        return data[:a1] + data[a0:a1] + data[a1:], f"records(duplicate record {i})"
    if op == "dup_many":
        n = rng.choice((3, 50))
        return data[:a1] + data[a0:a1] * n + data[a1:], f"records(record {i} repeated {n} times)"
    if op == "drop":
        return data[:a0] + data[a1:], f"records(drop record {i})"
    return data[:a0] + data[b0:b1] + data[a1:b0] + data[a0:a1] + data[b1:], f"records(swap records {i} and {j})"


# pcap -------------------------------------------------------------------------------------------------------


def pcap_lengths(rng: random.Random, data: bytes, lay: Layout) -> tuple[bytes, str] | None:
    if lay.kind != "pcap" or not lay.frames:
        return None
    i = rng.randrange(len(lay.frames))
    f = lay.frames[i]
    which = rng.choice(("caplen", "origlen", "both"))
    v = _u32(rng, f.caplen, len(data) - f.data)
    if which == "caplen":
        return _put(data, f.caplen_at, lay.order + "I", v), f"pcap_caplen(record {i}, {v:#x})"
    if which == "origlen":
        return _put(data, f.origlen_at, lay.order + "I", v), f"pcap_origlen(record {i}, {v:#x})"
    out = _put(_put(data, f.caplen_at, lay.order + "I", v), f.origlen_at, lay.order + "I", v)
    return out, f"pcap_caplen_and_origlen(record {i}, {v:#x})"


def pcap_timestamps(rng: random.Random, data: bytes, lay: Layout) -> tuple[bytes, str] | None:
    if lay.kind != "pcap" or not lay.frames:
        return None
    i = rng.randrange(len(lay.frames))
    f = lay.frames[i]
    sec = rng.choice((0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, rng.getrandbits(32)))
    frac = rng.choice((0, 999_999, 1_000_000, 999_999_999, 1_000_000_000, 0xFFFFFFFF))
    out = _put(_put(data, f.ts_at, lay.order + "I", sec), f.ts_at + 4, lay.order + "I", frac)
    return out, f"pcap_timestamp(record {i}, sec={sec:#x}, frac={frac})"


def pcap_header(rng: random.Random, data: bytes, lay: Layout) -> tuple[bytes, str] | None:
    """Link type, magic (byte order, ns, Kuznetsov's 24-byte records), version, snap length of the file header."""
    if lay.kind != "pcap" or len(data) < 24:
        return None
    o = lay.order
    what = rng.choice(("linktype", "linktype", "fcs", "magic", "version", "snaplen"))
    if what == "linktype":
        v = rng.choice(LINKTYPES)
        return _put(data, 20, o + "I", v), f"pcap_linktype({v})"
    if what == "fcs":  # pcap-savefile(5): bit 26 says the upper 4 bits carry an FCS length in 16-bit words
        lt = struct.unpack_from(o + "I", data, 20)[0] & 0xFFFF
        v = lt | 0x04000000 | (rng.choice((1, 2, 15)) << 28)
        return _put(data, 20, o + "I", v), f"pcap_linktype_fcs({v:#x})"
    if what == "magic":
        magic = rng.choice([m for m in PCAP_MAGICS if m != data[:4]])
        return magic + data[4:], f"pcap_magic({magic.hex()})"
    if what == "version":
        vmaj, vmin = rng.choice(((2, 2), (2, 3), (1, 0), (0, 0), (0xFFFF, 0xFFFF)))
        return _put(_put(data, 4, o + "H", vmaj), 6, o + "H", vmin), f"pcap_version({vmaj}.{vmin})"
    v = rng.choice((0, 1, 14, 0x7FFFFFFF, 0xFFFFFFFF))
    return _put(data, 16, o + "I", v), f"pcap_snaplen({v:#x})"


# pcapng -----------------------------------------------------------------------------------------------------


def ng_block_length(rng: random.Random, data: bytes, lay: Layout) -> tuple[bytes, str] | None:
    if lay.kind != "pcapng" or not lay.blocks:
        return None
    i = rng.randrange(len(lay.blocks))
    b = lay.blocks[i]
    o = lay.order
    v = _u32(rng, b.length, len(data) - b.off) if rng.random() < 0.7 else b.length + rng.choice((-8, -4, -2, 1, 4))
    v &= 0xFFFFFFFF
    which = rng.choice(("leading", "trailing", "both"))
    out = data
    if which in ("leading", "both"):
        out = _put(out, b.off + 4, o + "I", v)
    if which in ("trailing", "both"):
        out = _put(out, b.off + b.length - 4, o + "I", v)
    return out, f"pcapng_block_length(block {i} type {b.btype:#x}, {which}, {v:#x})"


def ng_section(rng: random.Random, data: bytes, lay: Layout) -> tuple[bytes, str] | None:
    """The section header: its length, byte-order magic, version, section length; or a new section mid-file."""
    if lay.kind != "pcapng" or not lay.blocks:
        return None
    o = lay.order
    shbs = [b for b in lay.blocks if b.btype == SHB]
    what = rng.choice(("length", "bom", "version", "section_length", "insert", "insert_other_order"))
    if what.startswith("insert"):
        order = o if what == "insert" else (">" if o == "<" else "<")
        bom = BOM_BE if order == ">" else BOM_LE
        shb = struct.pack(order + "II", SHB, 28) + bom + struct.pack(order + "HHqI", 1, 0, -1, 28)
        at = rng.choice(lay.blocks[1:] or lay.blocks).off
        return data[:at] + shb + data[at:], f"pcapng_{what}(section header at {at}, byte order {order})"
    if not shbs:
        return None
    s = rng.choice(shbs)
    if what == "length":
        v = rng.choice((0, 4, 12, 16, 24, 27, 28, 29, 32, 0x4000000, 0xFFFFFFFF, s.length + 4, s.length - 4))
        return _put(data, s.off + 4, o + "I", v & 0xFFFFFFFF), f"pcapng_shb_length(at {s.off}, {v & 0xFFFFFFFF:#x})"
    if what == "bom":
        bom = rng.choice((b"\x00\x00\x00\x00", BOM_BE if o == "<" else BOM_LE, b"\x4d\x3c\x2b\x1b"))
        return data[: s.off + 8] + bom + data[s.off + 12 :], f"pcapng_shb_byte_order_magic(at {s.off}, {bom.hex()})"
    if what == "version":
        vmaj = rng.choice((0, 2, 0xFFFF))
        return _put(data, s.off + 12, o + "H", vmaj), f"pcapng_shb_version(at {s.off}, {vmaj})"
    v = rng.choice((0, 1, 1 << 62, -(1 << 63), 12))
    return _put(data, s.off + 16, o + "q", v), f"pcapng_section_length(at {s.off}, {v})"


def _idb_option(rng: random.Random, o: str) -> tuple[bytes, str]:
    """One hostile interface option, serialised (code, length, value, padding)."""

    def opt(code: int, value: bytes, olen: int | None = None) -> bytes:
        n = len(value) if olen is None else olen
        return struct.pack(o + "HH", code, n) + value + b"\x00" * (-len(value) % 4)

    kind = rng.choice(("tsresol", "tsresol", "tsoffset", "tsoffset", "tsoffset_short", "empty", "huge", "end"))
    if kind == "tsresol":
        v = rng.choice(TSRESOLS)
        return opt(9, bytes([v])), f"if_tsresol={v:#x}"
    if kind == "tsoffset":
        v = rng.choice(TSOFFSETS)
        return opt(14, struct.pack(o + "q", v)), f"if_tsoffset={v}"
    if kind == "tsoffset_short":  # code 14 claiming 8 bytes with only 4 present
        return opt(14, b"\x01\x00\x00\x00", 8), "if_tsoffset claiming 8 bytes, 4 present"
    if kind == "empty":
        code = rng.choice((9, 14, 2, 3))
        return opt(code, b""), f"option {code} of length 0"
    if kind == "huge":
        code = rng.choice((9, 14, 2))
        return opt(code, b"\x06\x00\x00\x00", 0xFFFF), f"option {code} claiming 65535 bytes"
    return opt(0, b""), "opt_endofopt"


def ng_interface(rng: random.Random, data: bytes, lay: Layout) -> tuple[bytes, str] | None:
    """Rebuild an interface description block: link type, snap length, and hostile options; among them the
    ``if_tsoffset`` (code 14, length 8) whose value runs past the end of the block."""
    if lay.kind != "pcapng" or not lay.idbs:
        return None
    o = lay.order
    i = rng.randrange(len(lay.idbs))
    b = lay.idbs[i]
    linktype, snaplen = struct.unpack_from(o + "H2xI", data, b.off + 8)
    what = rng.choice(("linktype", "snaplen", "options", "options", "options", "tsoffset_past_end", "short_body"))
    desc = ""
    opts = b""
    keep_opts = data[b.off + 16 : b.off + b.length - 4]
    if what == "linktype":
        linktype = rng.choice(LINKTYPES)
        opts, desc = keep_opts, f"linktype={linktype}"
    elif what == "snaplen":
        snaplen = rng.choice((0, 1, 14, 54, 0xFFFFFFFF))
        opts, desc = keep_opts, f"snaplen={snaplen:#x}"
    elif what == "options":
        parts = [_idb_option(rng, o) for _ in range(rng.choice((1, 2, 3)))]
        opts = b"".join(p for p, _ in parts)
        if rng.random() < 0.5:
            opts += struct.pack(o + "HH", 0, 0)
        desc = ", ".join(d for _, d in parts)
    elif what == "tsoffset_past_end":
        # The last option header is code 14 length 8, and the block ends right after it: the value would be
        # the block's trailing length and beyond.
        opts = struct.pack(o + "HH", 14, 8)
        desc = "if_tsoffset (code 14, length 8) with its value past the block end"
    else:
        block = struct.pack(o + "III", 1, 16, linktype) + struct.pack(o + "I", 16)
        out = data[: b.off] + block + data[b.off + b.length :]
        return out, f"pcapng_idb(interface {i}, body of 4 bytes)"
    body = struct.pack(o + "HHI", linktype, 0, snaplen) + opts
    body += b"\x00" * (-len(body) % 4)
    n = len(body) + 12
    block = struct.pack(o + "II", 1, n) + body + struct.pack(o + "I", n)
    return data[: b.off] + block + data[b.off + b.length :], f"pcapng_idb(interface {i}, {desc})"


def ng_packet(rng: random.Random, data: bytes, lay: Layout) -> tuple[bytes, str] | None:
    """A packet block's caplen, origlen, interface id or timestamp."""
    frames = [f for f in lay.frames if f.kind != "pcap"]
    if lay.kind != "pcapng" or not frames:
        return None
    o = lay.order
    i = rng.randrange(len(frames))
    f = frames[i]
    what = rng.choice(("caplen", "origlen", "iface", "ts", "ts", "type"))
    if what == "caplen" and f.caplen_at >= 0:
        v = _u32(rng, f.caplen, struct.unpack_from(o + "I", data, f.hdr + 4)[0] - 32)
        return _put(data, f.caplen_at, o + "I", v), f"pcapng_{f.kind}_caplen(packet {i}, {v:#x})"
    if what == "origlen" and f.origlen_at >= 0:
        v = _u32(rng, f.caplen, f.caplen)
        return _put(data, f.origlen_at, o + "I", v), f"pcapng_{f.kind}_origlen(packet {i}, {v:#x})"
    if what == "iface" and f.iface_at >= 0:
        v = rng.choice((1, 2, 7, 0xFFFF, 0xFFFFFFFF)) & (0xFFFFFFFF if f.iface_size == 4 else 0xFFFF)
        fmt = o + ("I" if f.iface_size == 4 else "H")
        return _put(data, f.iface_at, fmt, v), f"pcapng_{f.kind}_interface(packet {i}, {v})"
    if what == "ts" and f.ts_at >= 0:
        if rng.random() < 0.5:
            target = rng.choice(NS_TARGETS)  # (below zero needs an if_tsoffset: ng_clock)
            mult, div = f.ts_units
            units = (target * div // mult) & 0xFFFFFFFFFFFFFFFF
            desc = f"near {target} ns"
        else:
            units = rng.choice((0, 1, 0xFFFFFFFF, 1 << 32, 0xFFFFFFFFFFFFFFFF, rng.getrandbits(64)))
            desc = f"{units:#x} units"
        out = _put(_put(data, f.ts_at, o + "I", units >> 32), f.ts_at + 4, o + "I", units & 0xFFFFFFFF)
        return out, f"pcapng_{f.kind}_timestamp(packet {i}, {desc})"
    if what == "type":
        v = rng.choice((2, 3, 6, 1, 5, 0x80000001, 0xBAD))
        return _put(data, f.hdr, o + "I", v), f"pcapng_block_type(packet {i} {f.kind} -> {v:#x})"
    return None


def ng_clock(rng: random.Random, data: bytes, lay: Layout) -> tuple[bytes, str] | None:
    """Timestamps at the edges of 64-bit nanoseconds: the first interface gets an ``if_tsoffset`` (seconds, maybe
    negative) and some packets of it timestamps that land, offset included, on chosen nanosecond values (+-5e18,
    +-9.2e18, 0), so one capture can hold times on both sides of zero: differences overflow 64 bits."""
    if lay.kind != "pcapng" or not lay.idbs:
        return None
    o = lay.order
    b = lay.idbs[0]
    frames = [
        f
        for f in lay.frames
        if f.kind == "epb" and f.hdr > b.off and struct.unpack_from(o + "I", data, f.iface_at)[0] == 0
    ]
    if not frames:
        return None
    offset_s = rng.choice((0, -5_000_000_000, 5_000_000_000, -9_000_000_000, -1))
    targets = [t for t in (-9_223_372_036_854_775_807, -5 * 10**18, 0, 5 * 10**18, 9_223_372_036_854_775_807)
               if t >= offset_s * 10**9]  # fmt: skip
    linktype, snaplen = struct.unpack_from(o + "H2xI", data, b.off + 8)
    body = struct.pack(o + "HHI", linktype, 0, snaplen) + struct.pack(o + "HH", 9, 1) + b"\x09\x00\x00\x00"
    body += struct.pack(o + "HHq", 14, 8, offset_s) + struct.pack(o + "HH", 0, 0)
    n = len(body) + 12
    idb = struct.pack(o + "II", 1, n) + body + struct.pack(o + "I", n)
    shift = n - b.length
    out = bytearray(data[: b.off] + idb + data[b.off + b.length :])
    chosen = rng.sample(frames, min(len(frames), rng.choice((1, 2, 5))))
    picked = []
    for f in chosen:
        target = rng.choice(targets) + rng.choice((0, 1, -1, 1000))
        units = target - offset_s * 10**9  # if_tsresol 9: nanoseconds
        if not 0 <= units < 1 << 64:
            continue
        struct.pack_into(o + "II", out, f.ts_at + shift, units >> 32, units & 0xFFFFFFFF)
        picked.append(target)
    return bytes(out), f"pcapng_clock(if_tsoffset={offset_s} s, if_tsresol=9, packets at {sorted(picked)} ns)"


# IP and TCP -------------------------------------------------------------------------------------------------


def _pick_packet(rng: random.Random, data: bytes, lay: Layout, tcp: bool = False) -> Packet | None:
    pk = [p for p in packets(data, lay) if p.tcp >= 0 or not tcp]
    return rng.choice(pk) if pk else None


def ip_header(rng: random.Random, data: bytes, lay: Layout) -> tuple[bytes, str] | None:
    """IPv4 header length, total length, protocol, fragment bits; IPv6 payload length and next header."""
    p = _pick_packet(rng, data, lay)
    if p is None:
        return None
    f = p.frame
    if p.version == 4:
        what = rng.choice(("ihl", "total_len", "total_len", "proto", "frag"))
        if what == "ihl":
            v = rng.randrange(16)
            return _put(data, p.ip, "B", 0x40 | v), f"ipv4_ihl(frame at {f.hdr}, {v})"
        if what == "total_len":
            actual = f.data + f.caplen - p.ip
            v = rng.choice((*U16_EDGES, p.ihl - 1, p.ihl, p.ihl + 19, p.ihl + 20, actual - 1, actual + 1))
            v &= 0xFFFF
            return _put(data, p.ip + 2, "!H", v), f"ipv4_total_length(frame at {f.hdr}, {v})"
        if what == "proto":
            v = rng.choice((4, 41, 47, 17, 1, 58, 0, 255))
            return _put(data, p.ip + 9, "B", v), f"ipv4_protocol(frame at {f.hdr}, {v})"
        v = rng.choice((0x2000, 0x0001, 0x1FFF, 0x4000, 0xFFFF))
        return _put(data, p.ip + 6, "!H", v), f"ipv4_fragment(frame at {f.hdr}, {v:#x})"
    if rng.random() < 0.5:
        v = rng.choice(U16_EDGES)
        return _put(data, p.ip + 4, "!H", v), f"ipv6_payload_length(frame at {f.hdr}, {v})"
    v = rng.choice((0, 43, 44, 51, 60, 59, 135, 4, 41, 47, 17, 58))
    return _put(data, p.ip + 6, "B", v), f"ipv6_next_header(frame at {f.hdr}, {v})"


def tcp_header(rng: random.Random, data: bytes, lay: Layout) -> tuple[bytes, str] | None:
    """TCP data offset (0..15), flags (all 12 bits), sequence and acknowledgment numbers, window."""
    p = _pick_packet(rng, data, lay, tcp=True)
    if p is None:
        return None
    at = p.frame.hdr
    what = rng.choice(("offset", "offset", "flags", "seq", "ack", "win"))
    if what == "offset":
        v = rng.randrange(16)
        old = struct.unpack_from("!H", data, p.tcp + 12)[0]
        return _put(data, p.tcp + 12, "!H", (v << 12) | (old & 0xFFF)), f"tcp_data_offset(frame at {at}, {v})"
    if what == "flags":
        v = rng.getrandbits(12)
        old = struct.unpack_from("!H", data, p.tcp + 12)[0]
        return _put(data, p.tcp + 12, "!H", (old & 0xF000) | v), f"tcp_flags(frame at {at}, {v:#x})"
    if what == "win":
        v = rng.choice((0, 1, 0xFFFF))
        return _put(data, p.tcp + 14, "!H", v), f"tcp_window(frame at {at}, {v})"
    fat = p.tcp + (4 if what == "seq" else 8)
    old = struct.unpack_from("!I", data, fat)[0]
    v = rng.choice((0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, (old + (1 << 31)) & 0xFFFFFFFF, (old - 1) & 0xFFFFFFFF))
    return _put(data, fat, "!I", v), f"tcp_{what}(frame at {at}, {v:#x})"


def _hostile_options(rng: random.Random) -> tuple[bytes, str]:
    out = b""
    desc = []
    for _ in range(rng.choice((1, 2, 3, 6))):
        kind = rng.choice((0, 1, 2, 3, 4, 5, 8, 19, 28, 29, 30, 34, 253, 254, rng.randrange(256)))
        olen = rng.choice((0, 1, 2, 255, {2: 4, 3: 3, 4: 2, 5: 10, 8: 10}.get(kind, 4), rng.randrange(3, 41)))
        if kind in (0, 1) and rng.random() < 0.5:
            out += bytes([kind])
            desc.append(f"{kind}")
            continue
        value = bytes(rng.randrange(256) for _ in range(max(0, min(olen, 40) - 2)))
        if kind == 3 and value:
            value = bytes([rng.choice((14, 15, 255))]) + value[1:]
        out += bytes([kind, olen]) + value
        desc.append(f"{kind}/len {olen}")
    return out[:40], " ".join(desc)


def tcp_options(rng: random.Random, data: bytes, lay: Layout) -> tuple[bytes, str] | None:
    """Rebuild a TCP header with hostile options (lengths 0, 1, 255, running past the header), lengths fixed up;
    sometimes with the capture cut inside the options."""
    p = _pick_packet(rng, data, lay, tcp=True)
    if p is None:
        return None
    f = p.frame
    frame = data[f.data : f.data + f.caplen]
    ip, tcp = p.ip - f.data, p.tcp - f.data
    hdr_len = (frame[tcp + 12] >> 4) * 4
    if hdr_len < 20 or tcp + hdr_len > len(frame):
        return None
    opts, desc = _hostile_options(rng)
    opts += b"\x00" * (-len(opts) % 4)
    new_off = (20 + len(opts)) // 4
    pkt = bytearray(frame[: tcp + 12]) + bytes([(new_off << 4) | (frame[tcp + 12] & 0x0F)])
    pkt += frame[tcp + 13 : tcp + 20] + opts + frame[tcp + hdr_len :]
    _fix_ip_lengths(pkt, ip, p.version)
    origlen = None
    if rng.random() < 0.25:  # a snap length that cuts the options
        cut = tcp + 20 + rng.randrange(max(1, len(opts)))
        origlen, pkt = len(pkt), pkt[:cut]
        desc += f", captured up to byte {cut}"
    return with_frame(data, lay, f, bytes(pkt), origlen), f"tcp_options(frame at {f.hdr}: {desc})"


# Encapsulations: each wraps an IP packet (version 4 or 6) and returns (new packet, its IP version).
def _ipv4(payload: bytes, proto: int) -> bytes:
    n = 20 + len(payload)
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, n if n <= 0xFFFF else 0, 0x1234, 0, 64, proto, 0,
                      b"\xc0\x00\x02\x01", b"\xc0\x00\x02\x02")  # fmt: skip
    return hdr + payload


def _ipv6(payload: bytes, nxt: int) -> bytes:
    n = len(payload)
    src, dst = b"\x20\x01\x0d\xb8" + b"\x00" * 11 + b"\x01", b"\x20\x01\x0d\xb8" + b"\x00" * 11 + b"\x02"
    return struct.pack("!IHBB", 6 << 28, n if n <= 0xFFFF else 0, nxt, 64) + src + dst + payload


def _eth(payload: bytes, version: int) -> bytes:
    etype = 0x0800 if version == 4 else 0x86DD
    return b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01" + struct.pack("!H", etype) + payload


def _udp(payload: bytes, dport: int) -> bytes:
    return struct.pack("!HHHH", 50000, dport, min(8 + len(payload), 0xFFFF), 0) + payload


def _wrap(kind: str, pkt: bytes, v: int, rng: random.Random) -> tuple[bytes, int]:
    etype = 0x0800 if v == 4 else 0x86DD
    if kind == "ip4":
        return _ipv4(pkt, 4 if v == 4 else 41), 4
    if kind == "ip6":
        return _ipv6(pkt, 4 if v == 4 else 41), 6
    if kind == "gre":
        gflags = rng.choice((0x00, 0x80, 0x20, 0x10, 0xB0))
        extra = b"\x00\x00\x00\x00" * bin(gflags & 0xB0).count("1")
        return _ipv4(bytes([gflags, 0]) + struct.pack("!H", etype) + extra + pkt, 47), 4
    if kind == "gre_eth":
        return _ipv4(b"\x00\x00\x65\x58" + _eth(pkt, v), 47), 4
    if kind == "vxlan":
        return _ipv4(_udp(b"\x08\x00\x00\x00\x00\x00\x01\x00" + _eth(pkt, v), 4789), 17), 4
    if kind == "gtpu":
        gtp = struct.pack("!BBHI", 0x30, 0xFF, min(len(pkt), 0xFFFF), 1)
        return _ipv4(_udp(gtp + pkt, 2152), 17), 4
    # Geneve: version 0, no options, the inner EtherType
    return _ipv4(_udp(struct.pack("!BBHI", 0, 0, etype, 0x100) + pkt, 6081), 17), 4


ENCAPSULATIONS = ("ip4", "ip6", "gre", "gre_eth", "vxlan", "gtpu", "geneve")
NEST_LEVELS = (1, 2, 3, 8, 64, 300, 1000, 3000)


def _relink(frame: bytes, off: int, linktype: int, version: int) -> bytes:
    """The link header in front of a (new) IP packet, its EtherType / protocol / family made to match."""
    head = bytearray(frame[:off])
    etype = 0x0800 if version == 4 else 0x86DD
    name = _LINK_NAMES.get(linktype)
    if name == "ether":
        struct.pack_into("!H", head, off - 2, etype)
    elif name == "sll":
        struct.pack_into("!H", head, 14, etype)
    elif name == "sll2":
        struct.pack_into("!H", head, 0, etype)
    elif name in ("null", "loop") and len(head) == 4:
        fam = 2 if version == 4 else 24
        order = ">" if head[:2] == b"\x00\x00" else "<"
        struct.pack_into(order + "I", head, 0, fam)
    return bytes(head)


def nest(rng: random.Random, data: bytes, lay: Layout) -> tuple[bytes, str] | None:
    """Wrap the IP packet of one frame (or of every frame, for shallow nesting) in tunnel headers, 1 to 3000
    levels: IPv4-in-IPv4, IPv6-in-IPv6, GRE, GRE with Ethernet, VXLAN, GTP-U, Geneve, one kind or mixed."""
    pk = packets(data, lay)
    if not pk:
        return None
    levels = rng.choice(NEST_LEVELS)
    mixed = rng.random() < 0.4
    kind = rng.choice(ENCAPSULATIONS)
    targets = pk if levels <= 8 and rng.random() < 0.5 else [rng.choice(pk)]
    chosen = {id(p.frame) for p in targets}
    picks = [rng.choice(ENCAPSULATIONS) if mixed else kind for _ in range(levels)]
    out = data
    for p in reversed(pk):  # from the end, so earlier offsets stay valid
        if id(p.frame) not in chosen:
            continue
        f = p.frame
        frame = out[f.data : f.data + f.caplen]
        off = p.ip - f.data
        inner, v = frame[off:], p.version
        wrap_rng = random.Random(levels)  # the same GRE flags in every frame
        for k in picks:
            inner, v = _wrap(k, inner, v, wrap_rng)
        new = _relink(frame, off, f.linktype, v) + inner
        out = with_frame(out, lay, f, new)
    what = "mixed " + "/".join(sorted(set(picks))) if mixed else kind
    return out, f"nest({levels} levels of {what}, {len(chosen)} frame(s))"


def link_stack(rng: random.Random, data: bytes, lay: Layout) -> tuple[bytes, str] | None:
    """Many VLAN tags or MPLS labels in front of the IP packet of an Ethernet frame; or many IPv6 extension
    headers (hop-by-hop, destination options) before TCP."""
    pk = [p for p in packets(data, lay) if _LINK_NAMES.get(p.frame.linktype) == "ether" or p.version == 6]
    if not pk:
        return None
    p = rng.choice(pk)
    f = p.frame
    frame = data[f.data : f.data + f.caplen]
    off = p.ip - f.data
    n = rng.choice((2, 10, 100, 2000))
    if p.version == 6 and (rng.random() < 0.5 or _LINK_NAMES.get(f.linktype) != "ether"):
        nxt = frame[off + 6]
        ext = b""
        for _ in range(n):
            ext = bytes([nxt, 0]) + b"\x01\x04\x00\x00\x00\x00" + ext  # PadN; 8 bytes each
            nxt = rng.choice((0, 60))
        pkt = bytearray(frame[:off] + frame[off : off + 40] + ext + frame[off + 40 :])
        pkt[off + 6] = nxt
        _fix_ip_lengths(pkt, off, 6)
        return with_frame(data, lay, f, bytes(pkt)), f"ipv6_extension_headers(frame at {f.hdr}, {n})"
    etype = 0x0800 if p.version == 4 else 0x86DD
    if rng.random() < 0.5:
        tags = b"".join(struct.pack("!HH", 7, 0x8100) for _ in range(n - 1)) + struct.pack("!HH", 7, etype)
        new = frame[:12] + b"\x81\x00" + tags + frame[off:]
        return with_frame(data, lay, f, new), f"vlan_tags(frame at {f.hdr}, {n})"
    bottom = struct.pack("!I", 99 << 12 | 0x140)  # label 99, bottom of stack, TTL 64
    labels = b"".join(struct.pack("!I", (16 + i) << 12 | 64) for i in range(n - 1)) + bottom
    new = frame[:12] + b"\x88\x47" + labels + frame[off:]
    return with_frame(data, lay, f, new), f"mpls_labels(frame at {f.hdr}, {n})"


# --- choosing and stacking ------------------------------------------------------------------------------------

MUTATIONS: tuple[tuple[Mutation, int], ...] = (
    (bit_flips, 8),
    (overwrite, 5),
    (truncate, 3),
    (cut_range, 3),
    (records, 3),
    (pcap_lengths, 5),
    (pcap_timestamps, 2),
    (pcap_header, 3),
    (ng_block_length, 5),
    (ng_section, 3),
    (ng_interface, 6),
    (ng_packet, 5),
    (ng_clock, 3),
    (ip_header, 6),
    (tcp_header, 6),
    (tcp_options, 5),
    (nest, 4),
    (link_stack, 2),
)


@dataclass(frozen=True)
class Mutant:
    """A mutated capture and how it was made: the seed's name, the mutant's number, and each operation."""

    data: bytes
    seed: str
    number: int | str
    ops: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"{self.seed}#{self.number}"


def mutate(
    data: bytes, rng: random.Random, rounds: int | None = None, gzipped: bool = False
) -> tuple[bytes, list[str]]:
    """Apply ``rounds`` (1 to 3 when None) mutations chosen by ``rng``; gzip the result when the seed came gzipped
    (and sometimes damage the compressed bytes too)."""
    ops: list[str] = []
    n = rounds if rounds is not None else rng.choice((1, 1, 1, 2, 2, 3))
    funcs = [m for m, _ in MUTATIONS]
    weights = [w for _, w in MUTATIONS]
    for _ in range(n):
        lay = layout(data)
        for _attempt in range(20):
            done = rng.choices(funcs, weights)[0](rng, data, lay)
            if done is not None:
                data, desc = done
                ops.append(desc)
                break
    if gzipped or rng.random() < 0.03:
        data = gzip.compress(data, compresslevel=1, mtime=0)
        ops.append("gzip")
        if rng.random() < 0.3 and len(data) > 20:
            cut = rng.randrange(10, len(data))
            if rng.random() < 0.5:
                data = data[:cut]
                ops.append(f"gzip_truncate(at {cut})")
            else:
                buf = bytearray(data)
                buf[cut] ^= 1 << rng.randrange(8)
                data = bytes(buf)
                ops.append(f"gzip_bit_flip(at {cut})")
    return data, ops


def mutant(seed: Seed, number: int | str) -> Mutant:
    """Mutant ``number`` of ``seed``: the same bytes every time (``random.Random`` seeded with a string)."""
    rng = random.Random(f"{seed.name}#{number}")
    data, ops = mutate(seed.data, rng, gzipped=seed.gzipped)
    return Mutant(data, seed.name, number, tuple(ops))


def mutants(seeds: list[Seed], start: int = 0, base: int = 0) -> Iterator[Mutant]:
    """Mutants ``start``, ``start + 1``, ... of a seed set, endlessly: mutant ``i`` takes seed ``i % len(seeds)``
    and number ``base + i // len(seeds)``."""
    i = start
    while True:
        s = seeds[i % len(seeds)]
        yield mutant(s, base + i // len(seeds))
        i += 1


# --- judging a mutant: the oracle both the CI test and the long run use -------------------------------------


@dataclass(frozen=True)
class Verdict:
    """What reading a mutant came to. ``outcome``: ``ok`` (both engines gave the same flows and accounting),
    ``error`` (both raised the same TcptraceError: a clean refusal), ``divergence`` (the engines disagree) or
    ``exception`` (something other than a TcptraceError escaped). ``signature`` names the failure class without
    its particulars (the innermost tcptrace frame of a traceback, the first field that differs), so reproducers
    can be deduplicated by it; ``detail`` says the rest."""

    outcome: str
    signature: str = ""
    detail: str = ""

    @property
    def failed(self) -> bool:
        return self.outcome in ("divergence", "exception")


def _innermost(exc: BaseException, n: int) -> list[tuple[str, int, str]]:
    """(file, line, function) of the innermost ``n`` traceback frames, cheaply: traceback.extract_tb works out
    column positions for every frame, a tenth of a second for the thousand frames of a RecursionError."""
    from collections import deque

    out: deque[tuple[str, int, str]] = deque(maxlen=n)
    tb = exc.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        out.append((code.co_filename.replace("\\", "/"), tb.tb_lineno, code.co_name))
        tb = tb.tb_next
    return list(out)


def where(exc: BaseException) -> str:
    """``file:line`` of the innermost traceback frame inside the tcptrace package (else the innermost frame)."""
    frames = _innermost(exc, 40)
    if not frames:
        return "?"
    ours = [f for f in frames if "/tcptrace/" in f[0] and "/tests/" not in f[0]]
    name, line, _ = (ours or frames)[-1]
    name = "tcptrace/" + name.rsplit("/tcptrace/", 1)[1] if "/tcptrace/" in name else name.rsplit("/", 1)[-1]
    return f"{name}:{line}"


def exception_name(exc: BaseException) -> str:
    t = type(exc)
    return t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"


def _exception(stage: str, exc: BaseException) -> Verdict:
    import linecache

    if isinstance(exc, RecursionError):  # where the limit struck (and which functions go round) varies
        sig = f"{stage}: RecursionError in {where(exc).rsplit(':', 1)[0]}"
    else:
        sig = f"{stage}: {exception_name(exc)} at {where(exc)}"
    lines = ["Traceback (innermost frames):"]
    for name, line, func in _innermost(exc, 12):
        lines.append(f'  File "{name}", line {line}, in {func}')
        lines.append("    " + linecache.getline(name, line).strip())
    tb = "\n".join(lines)
    return Verdict("exception", sig, f"{exception_name(exc)}: {str(exc)[:300]}\n{tb}")


class _Engine:
    """Set TCPTRACE_ENGINE for the duration of a with-block (restoring the caller's value)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.saved: str | None = None

    def __enter__(self) -> None:
        import os

        self.saved = os.environ.get("TCPTRACE_ENGINE")
        os.environ["TCPTRACE_ENGINE"] = self.name

    def __exit__(self, *exc: object) -> None:
        import os

        if self.saved is None:
            os.environ.pop("TCPTRACE_ENGINE", None)
        else:
            os.environ["TCPTRACE_ENGINE"] = self.saved


def _first_difference(a: object, b: object, path: str = "") -> str:
    """The first path at which two JSON-like documents differ, list indices written ``[]`` (a class, not a place)."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b), key=str):
            if k not in a or k not in b:
                return f"{path}.{k}"
            if a[k] != b[k]:
                return _first_difference(a[k], b[k], f"{path}.{k}")
        return path
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{path} (length {len(a)} vs {len(b)})"
        for x, y in zip(a, b, strict=True):
            if x != y:
                return _first_difference(x, y, f"{path}[]")
    return path


def summaries(path: str, engine: str) -> tuple[str, object]:
    """``("doc", {"flows", "stats", "rows"})`` from :func:`tcptrace.engine.summarize_lazily` with
    TCPTRACE_ENGINE=``engine`` (``rows``: the flows table and CSV as ``tcptrace flows`` writes them, by the C engine
    itself on its side), ``("error", "Type: message")`` for a TcptraceError, ``("exception", Verdict)`` for
    anything else."""
    from tcptrace.engine import flow_lines, summarize_lazily
    from tcptrace.errors import TcptraceError

    with _Engine(engine):
        try:
            flows, stats = summarize_lazily(path)
            rows = "\n".join([*flow_lines(flows, "table"), *flow_lines(flows, "csv")])
            return "doc", {"flows": [s.to_dict() for s in flows], "stats": stats.as_dict(), "rows": rows}
        except TcptraceError as exc:
            return "error", f"{type(exc).__name__}: {exc}"
        except Exception as exc:
            return "exception", _exception(f"summarize[{engine}]", exc)


def judge_engines(path: str, c_engine: bool = True) -> Verdict:
    """Both engines on one file: no exception but TcptraceError, and the same result (or the same error). With
    ``c_engine`` false (the engine is not built) only the Python reference runs."""
    import json

    py_kind, py = summaries(path, "python")
    c_kind, c = summaries(path, "c") if c_engine else (py_kind, py)
    for kind, got in ((py_kind, py), (c_kind, c)):
        if kind == "exception":
            assert isinstance(got, Verdict)
            return got
    if py_kind == "error" and c_kind == "error":
        if py == c:
            return Verdict("error", str(py).split(":")[0], str(py))
        return Verdict("divergence", "different errors", f"python: {py}\nc: {c}")
    if py_kind != c_kind:
        return Verdict("divergence", f"python {py_kind}, c {c_kind}", f"python: {str(py)[:500]}\nc: {str(c)[:500]}")
    if py == c:
        return Verdict("ok")
    # JSON round trip first: tuples vs lists are not a disagreement (what `tcptrace flows --format json` shows).
    a, b = json.loads(json.dumps(py, sort_keys=True)), json.loads(json.dumps(c, sort_keys=True))
    if a == b:
        return Verdict("ok")
    at = _first_difference(a, b)
    detail = _show_difference(a, b, at)
    return Verdict("divergence", f"differs at {at}", detail)


def _show_difference(a: object, b: object, at: str) -> str:
    """The two values at the first differing place (first list element that differs)."""
    steps = [s for s in at.split(" ")[0].replace("[]", ".[]").split(".") if s]
    for step in steps:
        if step == "[]" and isinstance(a, list) and isinstance(b, list):
            pair = next(((x, y) for x, y in zip(a, b, strict=False) if x != y), (a, b))
            a, b = pair
        elif isinstance(a, dict) and isinstance(b, dict):
            a, b = a.get(step), b.get(step)
    return f"python: {str(a)[:400]}\nc:      {str(b)[:400]}"


def judge_ladders(path: str, max_streams: int = 4) -> Verdict:
    """The C engine's one-stream pass as ``diagram`` reads it (``ladder.ladder_for``: Engine.select, the other
    connections only counted, and the plain runs counted in C) against the Python reference's whole stream
    (``ladder.build_ladder`` of every segment the Pipeline gives the stream: a diagram draws a stream's late
    copies too, which explain counts and does not tell), for the first streams: the same ladder, arrow by arrow
    (frames, labels, analysis, states, collapsed counts), or the same refusal."""
    from tcptrace import ladder
    from tcptrace.engine import Pipeline
    from tcptrace.errors import TcptraceError

    stage = "ladders (python)"
    try:
        with _Engine("python"):
            run = Pipeline(path)
            streams: dict[int, list[object]] = {}
            for seg in run:
                if seg.stream < max_streams:
                    streams.setdefault(seg.stream, []).append(seg)
            want = [(n, ladder.build_ladder(run.flow(n).summary, segs)) for n, segs in sorted(streams.items())]
    except TcptraceError as exc:
        return Verdict("error", type(exc).__name__, str(exc))
    except Exception as exc:
        return _exception(stage, exc)
    with _Engine("c"):
        for n, lad in want:
            stage = f"ladder_for[c] stream {n}"
            try:
                got = ladder.ladder_for(path, n)
            except Exception as exc:
                return _exception(stage, exc)
            if got != lad:
                a, b = dataclass_dict(lad), dataclass_dict(got)
                at = _first_difference(a, b)
                return Verdict("divergence", f"ladder of stream {n} differs at {at}", _show_difference(a, b, at))
    return Verdict("ok")


def dataclass_dict(obj: object) -> object:
    """A (nested) dataclass as plain dicts and lists, for :func:`_first_difference`."""
    import dataclasses

    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: dataclass_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [dataclass_dict(x) for x in obj]
    return obj


def judge_renderers(path: str, max_streams: int = 4) -> Verdict:
    """Every renderer on the Python engine's results: explain as text, markdown, JSON and HTML; the ladder of the
    first streams as ASCII, Mermaid and PlantUML, and their followed byte streams as text, hex, raw and JSON; the
    packets as JSON lines. TcptraceError is a clean refusal."""
    import json

    from tcptrace import follow, ladder, narrate
    from tcptrace.engine import FlowStream, PacketStream
    from tcptrace.errors import TcptraceError
    from tcptrace.export import jsonl_lines

    stage = "explain"
    with _Engine("python"):
        try:
            nar = narrate.explain(path)
            stage = "explain text"
            narrate.render_text_all(nar, color=True)
            stage = "explain markdown"
            narrate.render_markdown(nar)
            stage = "explain json"
            json.dumps(nar.to_dict(), ensure_ascii=False)
            stage = "explain html"
            narrate.render_html(nar)
            stage = "ladder"
            for n, ff in enumerate(FlowStream(path)):
                if n >= max_streams:
                    break
                stage = "ladder build"
                lad = ladder.build_ladder(ff.summary, ff.segments)
                stage = "ladder ascii"
                ladder.render_ascii(lad)
                stage = "ladder mermaid"
                ladder.render_mermaid(lad)
                stage = "ladder plantuml"
                ladder.render_plantuml(lad)
                stage = "follow"
                fs = follow.reassemble(ff.segments)
                stage = "follow text"
                list(follow.render_text(fs))
                stage = "follow hex"
                list(follow.render_hex(fs))
                stage = "follow raw"
                b"".join(follow.raw_bytes(fs))
                stage = "follow json"
                json.dumps(follow.to_dict(fs))
            stage = "packets jsonl"
            for _ in jsonl_lines(PacketStream(path)):
                pass
        except TcptraceError as exc:
            return Verdict("error", type(exc).__name__, str(exc))
        except Exception as exc:
            return _exception(stage, exc)
    return Verdict("ok")
