"""Reading captures: pcap / pcapng (optionally gzip, xz, bzip2, zstd or lz4-compressed; from a file or a pipe)
into TCP segments.

Theory of operation. The container is read in large chunks and each record is decoded in place with
``struct.unpack_from`` at known offsets: no per-packet object tree, no copy of the frame. Only the TCP payload
is sliced out. The decoder walks link layer -> IPv4/IPv6 (options, extension headers, fragments) -> TCP and
builds one :class:`~tcptrace.model.Segment` per TCP packet; every other frame is counted in
:class:`CaptureStats` under a :class:`~tcptrace.model.SkipReason`, so every frame is accounted for.

Lengths follow Wireshark's "reported length": the TCP payload length comes from the IP length fields, not from
the captured bytes, so captures cut by a snap length are still analysed — also when the cut falls inside the
TCP options (Wireshark stops dissecting such a header; we keep the fixed part and what options survive).

pcapng is read block by block with its own state per section: *every* interface description block is honoured
(its link type, snap length, ``if_tsresol`` and ``if_tsoffset``), unlike dpkt's reader, which only knows the
first interface (dpkt issue #681). Frame numbers are 1-based over all packet records of the file, like
Wireshark's ``frame.number``.

Nothing here builds dpkt objects per packet: on a 500k-packet capture dpkt's object decode alone costs
about 10 s (the reference's figure), 5x this whole reader. Unit-test fixtures are built with struct (tests/pcapgen.py).
"""

from __future__ import annotations

import contextlib
import contextvars
import enum
import functools
import os
import stat
import struct
import sys
import zlib
from collections import Counter
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO, NamedTuple, Protocol

from .errors import CaptureError, NotACapture, TruncatedCapture, UnsupportedLinkType
from .model import Segment, SkipReason
from .sources import CaptureSet, Window
from .vocab import HDR_BOGUS_LENGTH, HDR_SHORT_SEGMENT, MAX_BLOCK_BYTES, TS_NS_MAX

# Progress reporting, for a caller that wants it (the CLI, on a terminal): called with (bytes of the input read so
# far, its size or None for a pipe, finished) at most once per PROGRESS_STEP bytes and once at the end. The
# library itself never prints.
Progress = Callable[[int, "int | None", bool], None]
PROGRESS: contextvars.ContextVar[Progress | None] = contextvars.ContextVar("tcptrace_progress", default=None)
PROGRESS_STEP = 4 << 20

CHUNK_SIZE = 1 << 20
# pcapng interfaces kept per capture (all sections together): later descriptions are ignored, with a warning, and
# their frames skipped. Each costs a few hundred bytes (a tuple, its link type in stats, the engine's entry).
MAX_INTERFACES = 1 << 16
INFLATE_STEP = 4 << 20  # compressed input: the most one decompressor call inflates (docs/limits.md)

# pcap magics (as read little-endian from the first four bytes) -> (byte order, nanosecond?, record header size)
_PCAP_MAGICS: dict[bytes, tuple[str, bool, int]] = {
    b"\xd4\xc3\xb2\xa1": ("<", False, 16),
    b"\xa1\xb2\xc3\xd4": (">", False, 16),
    b"\x4d\x3c\xb2\xa1": ("<", True, 16),
    b"\xa1\xb2\x3c\x4d": (">", True, 16),
    # Alexey Kuznetsov's "modified pcap" (tcpdump patches): 8 extra bytes per record header.
    b"\x34\xcd\xb2\xa1": ("<", False, 24),
    b"\xa1\xb2\xcd\x34": (">", False, 24),
}
_PCAPNG_SHB = b"\x0a\x0d\x0d\x0a"
_IDB_OPTIONS = {9: "if_tsresol", 14: "if_tsoffset"}  # the interface description options the reader uses, by code

# Link types (tcpdump.org/linktypes.html). RAW is 101 in files; 12 and 14 are the historical DLT values.
LT_NULL, LT_ETHERNET, LT_FDDI, LT_PPP, LT_RAW_12, LT_RAW_14 = 0, 1, 10, 9, 12, 14
LT_PPP_HDLC, LT_RAW, LT_C_HDLC, LT_IEEE802_11, LT_LOOP, LT_LINUX_SLL = 50, 101, 104, 105, 108, 113
LT_ARCNET_LINUX = 129
LT_RADIOTAP, LT_PPI, LT_IPV4, LT_IPV6, LT_NFLOG, LT_IPOIB, LT_LINUX_SLL2 = 127, 192, 228, 229, 239, 242, 276

_ETH_IPV4, _ETH_IPV6 = 0x0800, 0x86DD
_ETH_BRIDGE = 0x6558  # transparent Ethernet bridging (GRE, Geneve)
# packet-vlan.c: 802.1Q and the vlan.qinq_ethertype preference (0x9100); 0x9200 is no VLAN tag to Wireshark.
_ETH_8021Q = frozenset((0x8100, 0x9100))
_ETH_8021AD = 0x88A8  # packet-ieee8021ah.c, "ieee8021ad" (no nesting bound)
_ETH_VNTAG = 0x8926  # packet-vntag.c
_ETH_MPLS = frozenset((0x8847, 0x8848))
_ETH_PPPOE_SESSION = 0x8864
# packet-ieee8021ah.c: 802.1ah (PBB) I-TAG, customer destination and source addresses, then an EtherType (18 bytes)
_ETH_PBB, _PBB_LEN = 0x88E7, 18
# packet-cisco-fp-mim.c: Cisco FabricPath, a heuristic of every Ethernet header ("fp_eth", enabled by default)
_ETH_FABRICPATH = 0x8903
_FP_TAGS = frozenset((0x8100, _ETH_8021AD))  # the tags dissect_fp_heur looks behind (not 0x9100)

# IPv6 extension headers we can walk: hop-by-hop, routing, destination options, mobility, HIP, shim6.
_IP6_EXT = frozenset((0, 43, 60, 135, 139, 140))
_IP6_FRAGMENT = 44
_PROTO_TCP = 6

_u16be = struct.Struct("!H").unpack_from
_u32le = struct.Struct("<I").unpack_from
_u32be = struct.Struct("!I").unpack_from
_ipv4_hdr = struct.Struct("!BBHHHBB").unpack_from  # ver/ihl, tos, total length, id, flags/frag, ttl, proto
_ipv6_hdr = struct.Struct("!HBB").unpack_from  # payload length, next header, hop limit (at offset 4)
_tcp_hdr = struct.Struct("!HHIIHH").unpack_from  # sport, dport, seq, ack, offset/flags, window


# Warnings of one kind beyond the first few are counted, not kept: a million frames naming an undescribed interface
# leave five lines and one summary line at the end (docs/limits.md, "Reading").
WARNINGS_PER_KIND = 5


class WarningKind(enum.Enum):
    """What a reader warning is about: the key :meth:`CaptureReader._warn` counts warnings by. The value is the
    summary line's description, after "... and N more like this: "."""

    PCAP_DAMAGED_CAPLEN = "record headers claiming too many captured bytes"
    PCAP_CUT_HEADER = "captures cut inside a record header"
    PCAP_CUT_FRAME = "captures cut inside a frame"
    COMPRESSED_DAMAGED = "damaged compressed data"
    PCAPNG_CUT_BLOCK_HEADER = "captures cut inside a pcapng block header"
    PCAPNG_CUT_SECTION_HEADER = "captures cut inside a section header"
    PCAPNG_DAMAGED_SECTION_HEADER = "damaged section headers"
    PCAPNG_DAMAGED_BLOCK = "damaged pcapng blocks"
    PCAPNG_CUT_BLOCK = "captures cut inside a pcapng block"
    DAMAGED_INTERFACE = "damaged interface description blocks"
    DAMAGED_INTERFACE_OPTION = "damaged interface description options"
    UNDESCRIBED_INTERFACE = "frames naming an interface that was never described"
    TOO_MANY_INTERFACES = "interfaces beyond the number tcptrace keeps, and frames naming them"
    TIMESTAMP_CLAMPED = "timestamps outside 1823-11-12 to 2116-02-20, clamped"
    UNSUPPORTED_LINK = "interfaces of link types tcptrace cannot decode"


@dataclass
class CaptureStats:
    """What the reader saw: every frame is a TCP segment or counted under exactly one skip reason."""

    format: str = ""
    compressed: bool = False
    frames: int = 0
    first_ts_ns: int | None = None  # time of frame 1, the origin of Wireshark's relative time column
    # time of the last frame read (any frame with a timestamp): the end of the trace, where classic tcptrace's idle
    # time of a connection not closed runs to (FlowSummary.trace_clock); the engine keeps it as Engine.trace_end()
    last_ts_ns: int | None = None
    tcp_segments: int = 0
    skipped: Counter[SkipReason] = field(default_factory=Counter)
    truncated_segments: int = 0  # TCP segments whose payload (or options) the snap length cut
    linktypes: dict[int, int] = field(default_factory=dict)  # interface -> link type
    warnings: list[str] = field(default_factory=list)
    skipped_frames: list[tuple[int, SkipReason]] | None = None  # filled only when asked (keep_skipped=True)

    def as_dict(self) -> dict[str, object]:
        return {
            "format": self.format,
            "compressed": self.compressed,
            "frames": self.frames,
            "tcp_segments": self.tcp_segments,
            "truncated_segments": self.truncated_segments,
            "skipped": {reason.name.lower(): n for reason, n in sorted(self.skipped.items())},
            "linktypes": {str(k): v for k, v in self.linktypes.items()},
            "warnings": list(self.warnings),
        }


class _Decompressor(Protocol):
    """The incremental API that :mod:`lzma`, :mod:`bz2`, zstd (``compression.zstd`` / ``backports.zstd``) and
    ``lz4.frame`` share: at most ``max_length`` bytes out per call, input kept until asked for."""

    @property
    def eof(self) -> bool: ...
    @property
    def needs_input(self) -> bool: ...
    @property
    def unused_data(self) -> bytes: ...
    def decompress(self, data: bytes, max_length: int = -1) -> bytes: ...


class _Zlib:
    """gzip through :func:`zlib.decompressobj`, behind the lzma-style API of :class:`_Decompressor`."""

    def __init__(self) -> None:
        self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self.needs_input = True

    @property
    def eof(self) -> bool:
        return self._z.eof

    @property
    def unused_data(self) -> bytes:
        return self._z.unused_data

    def decompress(self, data: bytes, max_length: int = -1) -> bytes:
        z = self._z
        out = z.decompress(z.unconsumed_tail + data if z.unconsumed_tail else data, max(max_length, 0))
        # more may come without new input while the input's tail waits or the output filled max_length
        self.needs_input = not z.unconsumed_tail and (max_length <= 0 or len(out) < max_length)
        return out


# What a codec's loader returns: a factory of fresh decompressors (one per member) and the errors they raise on
# damaged data.
_Loaded = tuple[Callable[[], _Decompressor], tuple[type[BaseException], ...]]


def _gzip() -> _Loaded:
    return _Zlib, (zlib.error,)


def _xz() -> _Loaded:
    import lzma

    return lzma.LZMADecompressor, (lzma.LZMAError,)


def _bzip2() -> _Loaded:
    import bz2

    return bz2.BZ2Decompressor, (OSError, ValueError)  # "Invalid data stream" is an OSError


def _zstd() -> _Loaded:
    try:
        from compression import zstd  # type: ignore[import-not-found,unused-ignore]  # Python 3.14
    except ImportError:
        from backports import zstd  # type: ignore[import-not-found,no-redef,unused-ignore]
    return zstd.ZstdDecompressor, (zstd.ZstdError,)  # type: ignore[no-any-return,unused-ignore]


def _lz4() -> _Loaded:
    import lz4.frame  # type: ignore[import-not-found,import-untyped,unused-ignore]

    return lz4.frame.LZ4FrameDecompressor, (RuntimeError,)  # type: ignore[no-any-return,unused-ignore]


class _Codec(NamedTuple):
    """A compression tshark reads too, recognised by its magic bytes (never by the file name)."""

    name: str
    magic: bytes  # the first bytes of its data
    load: Callable[[], _Loaded]  # imports the module (ImportError when an optional one is absent)
    extra: str | None  # the optional dependency that reads it (pip install 'tcptrace[NAME]'); None: standard library


CODECS = (
    _Codec("gzip", b"\x1f\x8b", _gzip, None),
    _Codec("xz", b"\xfd7zXZ\x00", _xz, None),
    _Codec("bzip2", b"BZh", _bzip2, None),
    _Codec("zstd", b"\x28\xb5\x2f\xfd", _zstd, "zstd"),
    _Codec("lz4", b"\x04\x22\x4d\x18", _lz4, "lz4"),
)


def _open_compressed(name: str, stream: BinaryIO, head: bytes, codec: _Codec) -> _Decompressed:
    try:
        return _Decompressed(stream, head, codec)
    except ImportError:
        raise CaptureError(
            f"{name}: {codec.name}-compressed; reading it needs the optional '{codec.extra}' extra: "
            f"pip install 'tcptrace[{codec.extra}]' (or decompress it first)"
        ) from None


def _codec_of(head: bytes) -> _Codec | None:
    """The compression whose magic starts ``head`` (the first 4 bytes of the input), if any."""
    for codec in CODECS:
        n = min(len(codec.magic), len(head))
        if n >= 2 and head[:n] == codec.magic[:n]:
            return codec
    return None


class _Decompressed:
    """Incremental decompression (gzip, xz, bzip2, zstd, lz4) that, unlike ``gzip.GzipFile``, hands out everything
    it could decompress before a truncated or damaged tail (then sets ``damaged``). Concatenated members (gzip
    members, xz streams, zstd and lz4 frames, bzip2 streams) are read as one.

    Memory stays bounded whatever the compressed data holds: the decompressor inflates at most what was asked for,
    and at most :data:`INFLATE_STEP` bytes per call (``max_length``), keeping the compressed input it has not
    reached; a 4 MB file that inflates to gigabytes of zeros costs what the reader asks for, not gigabytes."""

    def __init__(self, raw: BinaryIO, head: bytes, codec: _Codec) -> None:
        self._raw = raw
        self.codec = codec
        self._new, self._errors = codec.load()
        self._d = self._new()
        self._in = head  # compressed bytes not yet given to the decompressor
        self._out = b""  # decompressed bytes, handed out from _pos on
        self._pos = 0
        self._eof = False
        self.damaged: str | None = None

    def _fill(self, at_least: int, limit: int) -> None:
        """Decompress until ``at_least`` bytes are ready (or the data ends), never beyond ``limit`` ready bytes."""
        ready = len(self._out) - self._pos
        parts = []
        while ready < at_least and not self._eof:
            d = self._d
            if d.eof:  # the end of a member: a clean end of file unless more bytes follow (another member)
                rest = (d.unused_data or b"") + self._in or _read_some(self._raw, CHUNK_SIZE // 4, 1)
                if not rest:
                    self._eof = True
                    break
                self._d, self._in = self._new(), rest
                continue
            if not self._in and d.needs_input:
                self._in = _read_some(self._raw, CHUNK_SIZE // 4, 1)
                if not self._in:
                    self.damaged = "the compressed data ends early"
                    self._eof = True
                    break
            want = min(limit - ready, INFLATE_STEP)
            try:
                chunk = d.decompress(self._in, want)
            except self._errors as exc:
                self.damaged = f"damaged compressed data ({exc})"
                self._eof = True
                break
            self._in = b""
            if chunk:
                parts.append(chunk)
                ready += len(chunk)
        if parts:
            if self._pos < len(self._out):
                parts.insert(0, self._out[self._pos :])
            self._out = parts[0] if len(parts) == 1 else b"".join(parts)
            self._pos = 0

    def _take(self, n: int) -> bytes:
        out, pos = self._out, self._pos
        if pos == 0 and n >= len(out):
            self._out = b""
            return out
        self._pos = pos + n
        return out[pos : pos + n]

    def read(self, n: int) -> bytes:
        self._fill(n, n)
        return self._take(n)

    def read1(self, n: int) -> bytes:
        """What is available now (at least one byte unless at the end): a slow compressed pipe is not waited on."""
        if self._pos >= len(self._out):
            self._fill(1, max(n, INFLATE_STEP))
        return self._take(n)


def _read_some(stream: BinaryIO, n: int, at_least: int) -> bytes:
    """Read up to ``n`` bytes but return as soon as ``at_least`` have arrived (fewer only at end of stream): a pipe
    fed slowly (``tcpdump -U -w - | tcptrace packets -``) is analysed as its packets come, not per full buffer."""
    read1 = getattr(stream, "read1", None)
    if read1 is None:
        return _read_exact(stream, n)
    data = read1(n)
    if len(data) >= at_least or not data:
        return data  # type: ignore[no-any-return]
    parts = [data]
    got = len(data)
    while got < at_least:
        more = read1(n - got)
        if not more:
            break
        parts.append(more)
        got += len(more)
    return b"".join(parts)


def _is_pipe(mode: int) -> bool:
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or stat.S_ISCHR(mode)


def _read_exact(stream: BinaryIO, n: int) -> bytes:
    """Read up to ``n`` bytes, looping over short reads from pipes; fewer only at end of stream."""
    data = stream.read(n)
    if len(data) == n or not data:
        return data
    parts = [data]
    got = len(data)
    while got < n:
        more = stream.read(n - got)
        if not more:
            break
        parts.append(more)
        got += len(more)
    return b"".join(parts)


class CaptureReader:
    """An open capture: iterate it for :class:`Segment` objects; ``stats`` accounts for every frame.

    Use :func:`open_capture` to make one. Iterating streams the file; memory does not grow with its size.
    """

    def __init__(
        self, stream: BinaryIO, name: str, *, close: bool, keep_skipped: bool = False, window: Window | None = None
    ) -> None:
        self.name = name
        # --start/--end (tcptrace.sources.Window, shared by the files of a merged capture); None: every frame
        self._window = window
        # Merged reading (MergedReader): the walk stops before a record later than _until (ns), setting blocked and
        # next_ts, and resumes when iterated again; frame numbers handed on are the file's own plus _frame_base.
        self._until = NO_BOUND
        self._frame_base = 0
        self.blocked = False
        self.next_ts: int | None = None
        self._held: _Packet | None = None  # a pcapng packet read past the bound, handed on when resumed
        self._configure_engine = True  # feed_steps gives the engine the time range (not a merge's files: it does)
        self._close = close
        self._raw = stream
        self.stats = CaptureStats()
        # the decoders' ``skip``: counts skip reasons, and carries the state kept across frames (outer-IP fragments)
        self._skip = _Accounting(self._count_skip)
        self._warned: dict[WarningKind, int] = {}  # warnings of each kind so far (stats.warnings keeps the first few)
        self._warnings_settled = False
        self._progress = PROGRESS.get()
        self._read_bytes = 0
        self._next_report = 0
        self._size: int | None = None
        if self._progress is not None:
            try:
                st = os.fstat(stream.fileno())
                self._size = st.st_size if st.st_size and not _is_pipe(st.st_mode) else None
            except (OSError, ValueError, AttributeError):
                self._size = None
        if keep_skipped:
            self.stats.skipped_frames = []
        head = _read_exact(stream, 4)
        self._stream: BinaryIO = stream
        self._unpack: _Decompressed | None = None
        self._unpack_warned = False
        codec = _codec_of(head)
        if codec is not None:
            self.stats.compressed = True
            self._unpack = _open_compressed(name, stream, head, codec)
            self._stream = self._unpack  # type: ignore[assignment]
            head = _read_exact(self._stream, 4)
            if len(head) < 4 and self._unpack.damaged:
                raise NotACapture(f"{name}: {codec.name}-compressed, but {self._unpack.damaged}")
        if not head:
            raise TruncatedCapture(f"{name}: the file is empty")
        if len(head) < 4 and any(m.startswith(head) for m in (*_PCAP_MAGICS, _PCAPNG_SHB)):
            raise TruncatedCapture(f"{name}: the file ends inside its header ({len(head)} bytes)")
        if head in _PCAP_MAGICS:
            self.stats.format = "pcap"
        elif head == _PCAPNG_SHB:
            self.stats.format = "pcapng"
        else:
            raise NotACapture(
                f"{name}: not a pcap or pcapng capture (starts with {head.hex()}); "
                "tcptrace reads pcap, pcapng and gzip/xz/bzip2/zstd/lz4-compressed copies of them"
            )
        self._head = head
        self._iterated = False
        # Read the file header now so an unsupported link type or a damaged header fails at open time.
        self._records: Iterator[Segment]
        if self.stats.format == "pcap":
            self._records = self._iter_pcap()
        else:
            self._records = self._pcapng_blocks()

    # --- public --------------------------------------------------------------------------------------

    def __iter__(self) -> Iterator[Segment]:
        if self._iterated:
            raise CaptureError(f"{self.name}: a capture can be iterated only once; open it again")
        self._iterated = True
        try:
            yield from self._records
        finally:
            self.close()

    def feed(self, engine: Any) -> None:
        """Consume the whole capture into a ``tcptrace._engine.Engine`` (the C accelerator of
        :func:`tcptrace.engine.summarize`). pcap records and pcapng enhanced packet blocks are walked and decoded in
        C, with this module's layered decoder for the frames the fused decode does not take; the other pcapng
        blocks go through the Python block walk. ``stats`` and warnings come out exactly as from iterating."""
        for _ in self.feed_steps(engine):
            pass

    def feed_steps(self, engine: Any) -> Iterator[None]:
        """:meth:`feed`, pausing after each batch the engine took (about :data:`CHUNK_SIZE` bytes, or up to a
        packet decoded in Python), so a caller can drain ``Engine.take_kept()`` as the capture is read."""
        if self._iterated:
            raise CaptureError(f"{self.name}: a capture can be iterated only once; open it again")
        self._iterated = True
        if self._window is not None and self._configure_engine:
            engine.time_range(*self._window.range.engine_args(), SkipReason.OUT_OF_TIME_RANGE)
        try:
            if self.stats.format == "pcap":
                yield from self._feed_pcap(engine)
            else:
                yield from self._feed_pcapng(engine)
        finally:
            self.close()

    def _feed_pcap(self, engine: Any) -> Iterator[None]:
        """:meth:`_pcap_records` with the per-record loop in C: same frames, stats and warnings."""
        order, nano, rec_hdr_len, linktype, fcs_len, swapped = self._pcap_params
        link = _engine_link(linktype)
        assert link is not None  # a pcap of a link type we cannot decode is refused when it is opened
        link_len, etype, slow = link
        rec_hdr = struct.Struct(order + "IIII").unpack_from
        stats = self.stats
        feed = engine.feed_pcap
        read = self._read
        big = order == ">"
        buf = b""
        pos = 0
        frame = 0
        try:
            while True:
                before = frame
                base = self._frame_base
                pos, frame, status, segments, truncated, first_ts = feed(
                    buf, pos, frame + base, big, nano, rec_hdr_len, swapped, fcs_len, link_len, etype, slow,
                    self._skip, self._until,
                )  # fmt: skip
                frame -= base
                if frame != before:  # the C walk read frames: the end of the trace is the last one's time
                    stats.last_ts_ns = engine.trace_end()
                stats.tcp_segments += segments
                stats.truncated_segments += truncated
                if first_ts is not None:
                    stats.first_ts_ns = first_ts
                if status == 3:  # the next record is later than _until (MergedReader): another file's come first
                    sec, frac = rec_hdr(buf, pos)[:2]
                    self.blocked, self.next_ts = True, sec * 1_000_000_000 + frac * (1 if nano else 1000)
                    stats.frames = frame
                    yield
                    continue
                yield
                if status == 2:  # the engine paused after a record (Engine.packets): go on with the same buffer
                    continue
                avail = len(buf) - pos
                caplen = -1
                if avail >= rec_hdr_len:
                    _sec, _frac, caplen, origlen = rec_hdr(buf, pos)
                    if swapped and caplen > origlen:
                        caplen = origlen
                if status == 1:
                    self._warn_damaged_caplen(frame, caplen)
                    return
                need = rec_hdr_len + caplen if caplen >= 0 else rec_hdr_len
                more = read(max(CHUNK_SIZE, need - avail), max(need - avail, 1))
                if not more:
                    if 0 < avail < rec_hdr_len:
                        self._warn_cut_header(frame, avail, rec_hdr_len)
                    elif avail:
                        self._warn_cut_frame(frame, avail - rec_hdr_len, caplen)
                    return
                buf = buf[pos:] + more
                pos = 0
        finally:
            stats.frames = frame

    def close(self) -> None:
        self._settle_warnings()
        if self._close:
            self._raw.close()

    def __enter__(self) -> CaptureReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- reading helpers -------------------------------------------------------------------------------

    def _warn(self, kind: WarningKind, message: str) -> None:
        """Keep ``message`` if it is one of the first :data:`WARNINGS_PER_KIND` of its ``kind``, else count it for
        the summary line :meth:`_settle_warnings` adds at the end."""
        n = self._warned[kind] = self._warned.get(kind, 0) + 1
        if n <= WARNINGS_PER_KIND:
            self.stats.warnings.append(message)

    def _settle_warnings(self) -> None:
        """One line per kind of warning that came more than :data:`WARNINGS_PER_KIND` times, once, at the end."""
        if self._warnings_settled:
            return
        self._warnings_settled = True
        for kind, n in self._warned.items():
            if n > WARNINGS_PER_KIND:
                self.stats.warnings.append(f"... and {n - WARNINGS_PER_KIND} more like this: {kind.value}")

    def _warn_short_option(self, number: int, code: int, olen: int, need: int) -> None:
        self._warn(
            WarningKind.DAMAGED_INTERFACE_OPTION,
            f"interface {number}: option {_IDB_OPTIONS[code]} has {olen} bytes, not {need}; ignored",
        )

    # The pcap record walk's three ways to stop early, shared by the Python loop and the C engine's driver.
    def _warn_damaged_caplen(self, frame: int, caplen: int) -> None:
        self._warn(
            WarningKind.PCAP_DAMAGED_CAPLEN,
            f"record header of frame {frame + 1} claims {caplen} captured bytes: the file is damaged "
            f"there; read the {frame} frames before it",
        )

    def _warn_cut_header(self, frame: int, have: int, rec_hdr_len: int) -> None:
        self._warn(
            WarningKind.PCAP_CUT_HEADER,
            f"capture cut in the middle of the record header of frame {frame + 1} "
            f"({have} of {rec_hdr_len} bytes); read the {frame} frames before it",
        )

    def _warn_cut_frame(self, frame: int, have: int, caplen: int) -> None:
        self._warn(
            WarningKind.PCAP_CUT_FRAME,
            f"capture cut in the middle of frame {frame + 1} ({have} of {caplen} bytes); "
            f"read the {frame} frames before it",
        )

    def _read(self, n: int, at_least: int | None = None) -> bytes:
        """Read up to ``n`` bytes from the (possibly decompressed) stream, returning once ``at_least`` (default:
        all ``n``) have arrived; a damaged compressed tail ends the data with a warning."""
        try:
            data = _read_exact(self._stream, n) if at_least is None else _read_some(self._stream, n, at_least)
        except OSError as exc:
            raise CaptureError(f"{self.name}: read error: {exc}") from exc
        unpack = self._unpack
        if (
            unpack is not None
            and unpack.damaged
            and len(data) < (n if at_least is None else at_least)
            and not self._unpack_warned
        ):
            self._unpack_warned = True
            self._warn(WarningKind.COMPRESSED_DAMAGED, f"{unpack.codec.name}: {unpack.damaged}; read what came before")
        if self._progress is not None:
            self._report(len(data), not data)
        return data

    def _report(self, got: int, at_end: bool) -> None:
        """Tell the progress callback how far the input has been read (raw bytes, before decompression)."""
        self._read_bytes += got
        pos = self._read_bytes
        if self._size is not None:
            with contextlib.suppress(OSError, ValueError):
                pos = self._raw.tell()
        if at_end or pos >= self._next_report:
            self._next_report = pos + PROGRESS_STEP
            assert self._progress is not None
            self._progress(pos, self._size, at_end)

    def _count_skip(self, frame: int, reason: SkipReason) -> None:
        self.stats.skipped[reason] += 1
        if self.stats.skipped_frames is not None:
            self.stats.skipped_frames.append((frame, reason))

    # --- pcap ------------------------------------------------------------------------------------------

    def _iter_pcap(self) -> Iterator[Segment]:
        order, nano, rec_hdr_len = _PCAP_MAGICS[self._head]
        rest = self._read(20)
        if len(rest) < 20:
            raise TruncatedCapture(f"{self.name}: the pcap file header is cut short ({4 + len(rest)} of 24 bytes)")
        vmaj, vmin, _zone, _sigfigs, _snaplen, network = struct.unpack(order + "HHiIII", rest)
        linktype = network & 0x03FFFFFF  # upper bits may carry the FCS length (pcap-savefile(5))
        fcs_len = ((network >> 28) * 2) if network & 0x04000000 else 0
        self.stats.linktypes[0] = linktype
        decode = _link_decoder(linktype)
        if decode is None:
            raise UnsupportedLinkType(linktype)
        # libpcap before 2.3 wrote the captured and original lengths the other way round (Wireshark libpcap.c)
        swapped = (vmaj, vmin) < (2, 3)
        self._pcap_params = (order, nano, rec_hdr_len, linktype, fcs_len, swapped)
        return self._pcap_records(order, nano, rec_hdr_len, decode, fcs_len, swapped)

    def _pcap_records(
        self, order: str, nano: bool, rec_hdr_len: int, decode: _LinkDecoder, fcs_len: int, swapped: bool
    ) -> Iterator[Segment]:
        rec_hdr = struct.Struct(order + "IIII").unpack_from
        frac_mult = 1 if nano else 1000
        stats = self.stats
        skip = self._skip
        read = self._read
        buf = b""
        buflen = 0
        pos = 0
        frame = 0
        segments = 0
        ts_ns = None
        window = self._window
        lo, hi = (-NO_BOUND - 1, NO_BOUND) if window is None else (window.lo, window.hi)
        until, base = self._until, self._frame_base
        try:
            while True:
                if buflen - pos < rec_hdr_len:
                    buf = buf[pos:] + read(CHUNK_SIZE, rec_hdr_len - (buflen - pos))
                    buflen = len(buf)
                    pos = 0
                    if buflen < rec_hdr_len:
                        if buf:
                            self._warn_cut_header(frame, buflen, rec_hdr_len)
                        return
                sec, frac, caplen, origlen = rec_hdr(buf, pos)
                if swapped and caplen > origlen:
                    caplen, origlen = origlen, caplen
                start = pos + rec_hdr_len
                end = start + caplen
                if caplen > MAX_BLOCK_BYTES:  # no real link layer has such frames: the record header is damaged
                    self._warn_damaged_caplen(frame, caplen)
                    return
                if end > buflen:
                    buf = buf[pos:] + read(max(CHUNK_SIZE, end - buflen), end - buflen)
                    buflen = len(buf)
                    pos = 0
                    start = rec_hdr_len
                    end = start + caplen
                    if end > buflen:
                        self._warn_cut_frame(frame, buflen - start, caplen)
                        return
                t = sec * 1_000_000_000 + frac * frac_mult  # 32-bit seconds: always within vocab.TS_NS_MAX
                if t > until:  # merged reading: another file's records come first (MergedReader)
                    self.blocked, self.next_ts = True, t
                    stats.frames, stats.tcp_segments = frame, segments
                    if ts_ns is not None:
                        stats.last_ts_ns = ts_ns
                    yield None  # type: ignore[misc]
                    until, base = self._until, self._frame_base
                    continue
                frame += 1
                pos = end
                if frame == 1:
                    stats.first_ts_ns = t
                    if window is not None:
                        lo, hi = window.settle(t)
                if not lo <= t <= hi:
                    skip(frame + base, SkipReason.OUT_OF_TIME_RANGE)
                    continue
                ts_ns = t
                # reported end: what was on the wire, captured or not
                rend = start + origlen if origlen > caplen else end
                if fcs_len:
                    end = max(start, end - fcs_len)
                    rend -= fcs_len
                seg = decode(buf, start, end, rend, frame + base, ts_ns, 0, skip)
                if seg is not None:
                    segments += 1
                    if seg.header_truncated or len(seg.payload) < seg.len:
                        stats.truncated_segments += 1
                    yield seg
        finally:  # counted locally on the hot path; settled here, also when the consumer stops early
            stats.frames = frame
            stats.tcp_segments = segments
            if ts_ns is not None:
                stats.last_ts_ns = ts_ns

    # --- pcapng ----------------------------------------------------------------------------------------

    def _pcapng_packets(self) -> Iterator[_Packet]:
        """The pcapng block walk (:class:`_PcapngWalk`): per packet (frame, interface, link type, decoder, block
        body, data offset, end of the captured data, end of the frame as sent, ts_ns); damaged or foreign blocks
        are skipped or warned about there, and every frame is counted."""
        walk = _PcapngWalk(self)
        step = walk.step
        while True:
            packet = step()
            if packet is not None:
                yield packet
            elif walk.done:
                return

    def _pcapng_blocks(self) -> Iterator[Segment]:
        stats = self.stats
        skip = self._skip
        window = self._window
        last = None  # the time of the last frame within the time range
        try:
            for packet in self._pcapng_packets():
                while packet[8] > self._until:  # merged reading: another file's records come first (MergedReader)
                    self._hold(packet)
                    yield None  # type: ignore[misc]
                self._held = None
                frame, iface, _lt, decode, body, start, end, rend, ts_ns = packet
                if window is not None:
                    lo, hi = window.settle(ts_ns)
                    if not lo <= ts_ns <= hi:
                        skip(frame + self._frame_base, SkipReason.OUT_OF_TIME_RANGE)
                        continue
                    last = ts_ns
                seg = decode(body, start, end, rend, frame + self._frame_base, ts_ns, iface, skip)
                if seg is not None:
                    stats.tcp_segments += 1
                    if seg.header_truncated or len(seg.payload) < seg.len:
                        stats.truncated_segments += 1
                    yield seg
        finally:
            if window is not None:
                stats.last_ts_ns = last

    def _hold(self, packet: _Packet) -> None:
        """Keep ``packet``, read past the merge's bound, until the walk is resumed (MergedReader)."""
        self._held = packet
        self.blocked, self.next_ts = True, packet[8]

    @property
    def frames_done(self) -> int:
        """Frames of this file handed on so far (a packet held at the merge's bound is not yet)."""
        return self.stats.frames - (self._held is not None)

    def _feed_pcapng(self, engine: Any) -> Iterator[None]:
        """:meth:`_pcapng_packets` with the common case in C: ``Engine.feed_pcapng`` walks the Enhanced Packet
        Blocks of the interfaces in its table (:func:`_engine_interfaces`) and decodes and processes their frames
        as ``feed_pcap`` does; it stops at every other block (section headers, interface descriptions, simple and
        obsolete packet blocks, damaged blocks, undescribed interfaces or link types we cannot decode, timestamps
        outside ``vocab.TS_NS_MAX``, which the walk clamps), which :meth:`_PcapngWalk.step` reads, one at a time,
        before C goes on. Same frames, stats and warnings as iterating."""
        stats = self.stats
        skip = self._skip
        feed, add = engine.feed_pcapng, engine.add
        walk = _PcapngWalk(self)
        step = walk.step
        # The engine's table of the current section's interfaces: only appended to, and a new list for a new
        # section, as Engine.feed_pcapng asks (it keeps what it has read of the list).
        table: list[_EngineIface | None] = []
        section = walk.sections
        # Pauses: from a pipe after every read, so a selection's Segments come out as the packets arrive; else
        # once the engine has walked a chunk, as the batches of the old re-packing path did.
        prompt = self._from_pipe()
        walked = 0  # bytes the engine walked since the last pause
        try:
            while True:
                if section != walk.sections:
                    section = walk.sections
                    table = []
                if len(table) < len(walk.interfaces):
                    _engine_interfaces(walk, stats.linktypes, table)
                base = self._frame_base
                pos, frame, status, segments, truncated, first_ts = feed(
                    walk.buf, walk.at, walk.frame + base, big_endian=walk.order == ">", interfaces=table, skip=skip,
                    until=self._until,
                )  # fmt: skip
                frame -= base
                walked += pos - walk.at
                walk.at = pos
                if frame != walk.frame:  # the C walk read frames: the end of the trace is the last one's time
                    stats.last_ts_ns = engine.trace_end()
                walk.frame = stats.frames = frame
                stats.tcp_segments += segments
                stats.truncated_segments += truncated
                if first_ts is not None and stats.first_ts_ns is None:
                    stats.first_ts_ns = first_ts
                if status == 2:  # the engine paused after a block (Engine.packets): hand out, then go on
                    walked = 0
                    yield
                    continue
                if status == 0:  # the block at pos is incomplete: read on
                    if prompt or walked >= CHUNK_SIZE:
                        walked = 0
                        yield
                    if walk.refill():
                        continue
                if status == 3:  # the next block is later than _until (MergedReader): another file's come first
                    self.blocked, self.next_ts = True, _epb_ts(walk, table)
                    yield
                    continue
                # the block at pos (or the end of the input) is Python's
                packet = step()
                if packet is None:
                    if walk.done:
                        break
                    continue
                while packet[8] > self._until:
                    self._hold(packet)
                    yield
                self._held = None
                frame, iface, _lt, decode, body, start, end, rend, ts_ns = packet
                frame += self._frame_base
                if not engine.saw_frame(ts_ns):  # the end of the trace (classic's idle time), TCP or not
                    skip(frame, SkipReason.OUT_OF_TIME_RANGE)
                    walked = 0
                    yield
                    continue
                seg = decode(body, start, end, rend, frame, ts_ns, iface, skip)
                if seg is not None:
                    stats.tcp_segments += 1
                    if seg.header_truncated or len(seg.payload) < seg.len:
                        stats.truncated_segments += 1
                    add(seg)
                walked = 0
                yield
            yield
        finally:
            stats.frames = walk.frame
            if self._window is not None:
                stats.last_ts_ns = engine.trace_end()

    def _from_pipe(self) -> bool:
        """Whether the input is a pipe, socket or terminal (which cannot be read twice), or a live input
        (tcptrace.live.LiveInput: a capture child's pipe, a file still being written): read as it comes."""
        if getattr(self._raw, "live", False):
            return True
        try:
            return _is_pipe(os.fstat(self._raw.fileno()).st_mode)
        except (OSError, ValueError, AttributeError):
            return False

    def _pcapng_idb(self, body: bytes, order: str, number: int) -> tuple[_LinkDecoder | None, int, int, int, int]:
        """Decode an Interface Description Block: link type, snap length, timestamp resolution and offset.

        An option that runs past the end of the block (its length is damaged) is ignored with a warning, and so is
        every option after it, which cannot be found; the interface keeps its link type and the options before.
        An ``if_tsresol`` or ``if_tsoffset`` too short for its value is ignored with a warning too."""
        if len(body) < 12:
            self._warn(WarningKind.DAMAGED_INTERFACE, f"interface {number}: damaged description block")
            self.stats.linktypes[number] = -1
            return None, 1000, 1, 0, 0
        linktype, _reserved, snaplen = struct.unpack_from(order + "HHI", body, 0)
        self.stats.linktypes[number] = linktype
        mult, div = 1000, 1  # default if_tsresol = 6 (microseconds): ns = ts * 1000
        off_ns = 0
        pos, end = 8, len(body) - 4  # options run up to the trailing block length
        while pos + 4 <= end:
            code, olen = struct.unpack_from(order + "HH", body, pos)
            if code == 0:
                break
            if pos + 4 + olen > end:
                self._warn(
                    WarningKind.DAMAGED_INTERFACE_OPTION,
                    f"interface {number}: option {_IDB_OPTIONS.get(code, code)} claims {olen} bytes, past the end "
                    "of its description block; ignored, with the options after it",
                )
                break
            if code == 9:  # if_tsresol: one byte
                if olen < 1:
                    self._warn_short_option(number, code, olen, 1)
                else:
                    res = body[pos + 4]
                    if res & 0x80:  # power of two
                        mult, div = 1_000_000_000, 1 << (res & 0x7F)
                    elif res <= 9:
                        mult, div = 10 ** (9 - res), 1
                    else:
                        mult, div = 1, 10 ** (res - 9)
            elif code == 14:  # if_tsoffset: a signed 64-bit number of seconds
                if olen < 8:
                    self._warn_short_option(number, code, olen, 8)
                else:
                    off_ns = struct.unpack_from(order + "q", body, pos + 4)[0] * 1_000_000_000
            pos += 4 + ((olen + 3) & ~3)
        return _link_decoder(linktype), mult, div, off_ns, snaplen


# One packet of the pcapng walk: (frame, interface, link type, decoder, block body, data offset, end of the
# captured data, end of the frame as sent, ts_ns)
_Packet = tuple[int, int, int, "_LinkDecoder", bytes, int, int, int, int]


class _PcapngWalk:
    """The pcapng block walk of a :class:`CaptureReader`, one block per :meth:`step`, with its own state per
    section: byte order, interfaces (every interface description block is honoured). The bytes read and not yet
    walked are ``buf[at:]``, so ``Engine.feed_pcapng`` can walk the common blocks in between (it advances ``at``
    and ``frame``)."""

    def __init__(self, reader: CaptureReader) -> None:
        self._reader = reader
        self._fill = reader._read
        self._stats = reader.stats
        self._skip = reader._skip
        # Blocks are cut from a buffer filled a chunk at a time (two small reads per block cost more than the
        # rest of the walk); from a pipe a refill returns as soon as the block asked for is whole.
        self.buf = reader._head
        self.at = 0
        self.eof = False  # a read came back short: the input has ended
        self.done = False  # the walk has ended (end of the input, or a damaged block)
        self.frame = 0
        self.order = "<"  # the current section's byte order
        # Per interface of the current section: (decoder or None, ns multiplier numerator, divisor, offset ns, snap)
        self.interfaces: list[tuple[_LinkDecoder | None, int, int, int, int]] = []
        self.iface_base = 0  # interfaces of earlier sections keep their numbers distinct
        self.ignored_interfaces = 0  # descriptions of the current section beyond MAX_INTERFACES
        self.sections = 0
        self._warned_unsupported: set[int] = set()

    def read(self, n: int) -> bytes:
        """Up to ``n`` bytes from ``buf[at:]``, refilling it first when it holds fewer; fewer only at the end."""
        buf, at = self.buf, self.at
        end = at + n
        if end > len(buf):
            have = len(buf) - at
            if not self.eof:
                more = self._fill(max(CHUNK_SIZE, n - have), n - have)
                self.eof = len(more) < n - have
                buf = self.buf = buf[at:] + more
                at, end = 0, n
            if end > len(buf):
                end = len(buf)
        self.at = end
        return buf[at:end]

    def refill(self) -> bool:
        """Read until the incomplete block at ``at`` is whole (or a chunk more); False at the end of the input,
        where :meth:`step` warns about the cut block."""
        avail = len(self.buf) - self.at
        need = 8 - avail
        if avail >= 8:
            need = struct.unpack_from(self.order + "I", self.buf, self.at + 4)[0] - avail
        need = max(need, 1)
        more = b"" if self.eof else self._fill(max(CHUNK_SIZE, need), need)
        if not more:
            self.eof = True
            return False
        self.buf = self.buf[self.at :] + more
        self.at = 0
        return True

    def step(self) -> _Packet | None:
        """Read one block: a packet to decode, or None (a block without one: a description, a damaged or foreign
        block, a skipped frame; at the end ``done`` is set)."""
        reader = self._reader
        read = self.read
        frame = self.frame
        hdr = read(8)
        if len(hdr) < 8:
            if hdr:
                reader._warn(
                    WarningKind.PCAPNG_CUT_BLOCK_HEADER, f"capture cut inside a pcapng block header after frame {frame}"
                )
            self.done = True
            return None
        btype_raw = hdr[:4]
        if btype_raw == _PCAPNG_SHB:
            # Section header: the byte-order magic follows the block length; both may be in either order.
            bom = read(4)
            if len(bom) < 4:
                if frame == 0:
                    raise TruncatedCapture(f"{reader.name}: the pcapng section header is cut short")
                reader._warn(
                    WarningKind.PCAPNG_CUT_SECTION_HEADER, f"capture cut inside a section header after frame {frame}"
                )
                self.done = True
                return None
            if bom == b"\x4d\x3c\x2b\x1a":
                order = "<"
            elif bom == b"\x1a\x2b\x3c\x4d":
                order = ">"
            else:
                if frame == 0:
                    raise NotACapture(f"{reader.name}: pcapng section header has a bad byte-order magic")
                reader._warn(
                    WarningKind.PCAPNG_DAMAGED_SECTION_HEADER,
                    f"damaged pcapng section header after frame {frame}; stopped reading there",
                )
                self.done = True
                return None
            self.order = order
            (blen,) = struct.unpack(order + "I", hdr[4:8])
            if blen < 28 or blen % 4 or blen > MAX_BLOCK_BYTES:
                if frame == 0:
                    raise NotACapture(f"{reader.name}: pcapng section header has a bad length ({blen})")
                reader._warn(
                    WarningKind.PCAPNG_DAMAGED_SECTION_HEADER,
                    f"damaged pcapng section header after frame {frame}; stopped reading there",
                )
                self.done = True
                return None
            body = read(blen - 12)
            if len(body) < blen - 12:
                if frame == 0 and not self.interfaces:
                    raise TruncatedCapture(f"{reader.name}: the pcapng section header is cut short")
                reader._warn(
                    WarningKind.PCAPNG_CUT_SECTION_HEADER, f"capture cut inside a section header after frame {frame}"
                )
                self.done = True
                return None
            self.iface_base += len(self.interfaces)
            self.interfaces = []
            self.ignored_interfaces = 0
            self.sections += 1
            return None
        order = self.order
        btype, blen = struct.unpack(order + "II", hdr)
        if blen < 12 or blen % 4 or blen > MAX_BLOCK_BYTES:
            reader._warn(
                WarningKind.PCAPNG_DAMAGED_BLOCK,
                f"damaged pcapng block (type {btype:#x}, length {blen}) after frame {frame}; stopped reading there",
            )
            self.done = True
            return None
        body = read(blen - 8)
        if len(body) < blen - 8:
            reader._warn(
                WarningKind.PCAPNG_CUT_BLOCK,
                f"capture cut in the middle of a pcapng block after frame {frame} "
                f"({len(body) + 8} of {blen} bytes); read the {frame} frames before it",
            )
            self.done = True
            return None
        interfaces = self.interfaces
        iface_base = self.iface_base
        stats = self._stats
        skip = self._skip
        if btype == 1:  # Interface Description Block
            number = iface_base + len(interfaces)
            if number >= MAX_INTERFACES:
                self.ignored_interfaces += 1
                reader._warn(
                    WarningKind.TOO_MANY_INTERFACES,
                    f"interface {number + self.ignored_interfaces - 1}: more than {MAX_INTERFACES} interfaces "
                    "described; ignored, and the frames naming it skipped",
                )
                return None
            interfaces.append(reader._pcapng_idb(body, order, number))
            return None
        if btype == 6:  # Enhanced Packet Block
            if len(body) < 20 + 4:
                self.frame = stats.frames = frame + 1
                skip(frame + 1, SkipReason.MALFORMED)
                return None
            iface, ts_hi, ts_lo, caplen, origlen = struct.unpack_from(order + "IIIII", body, 0)
            data_off = 20
        elif btype == 3:  # Simple Packet Block: interface 0, no timestamp
            if len(body) < 4 + 4:  # no room for its original length (what is there is the trailing block length)
                self.frame = stats.frames = frame + 1
                skip(frame + 1, SkipReason.MALFORMED)
                return None
            iface, ts_hi, ts_lo = 0, 0, 0
            (origlen,) = struct.unpack_from(order + "I", body, 0)
            snap = interfaces[0][4] if interfaces else 0
            caplen = min(origlen, len(body) - 8, snap or origlen)
            data_off = 4
        elif btype == 2:  # obsolete Packet Block
            if len(body) < 20 + 4:
                self.frame = stats.frames = frame + 1
                skip(frame + 1, SkipReason.MALFORMED)
                return None
            iface, _drops, ts_hi, ts_lo, caplen, origlen = struct.unpack_from(order + "HHIIII", body, 0)
            data_off = 20
        else:
            return None  # name resolution, statistics, secrets, custom blocks: nothing for us
        frame += 1
        self.frame = stats.frames = frame
        if iface >= len(interfaces):
            if iface < len(interfaces) + self.ignored_interfaces:
                reader._warn(
                    WarningKind.TOO_MANY_INTERFACES,
                    f"frame {frame} names interface {iface}, beyond the first {MAX_INTERFACES} described; skipped",
                )
                skip(frame, SkipReason.MALFORMED)
                return None
            reader._warn(
                WarningKind.UNDESCRIBED_INTERFACE,
                f"frame {frame} names interface {iface}, which was never described; skipped",
            )
            skip(frame, SkipReason.MALFORMED)
            return None
        decode, mult, div, off_ns, _snap = interfaces[iface]
        if decode is None:
            lt = stats.linktypes[iface_base + iface]
            if lt not in self._warned_unsupported:
                self._warned_unsupported.add(lt)
                reader._warn(
                    WarningKind.UNSUPPORTED_LINK,
                    str(UnsupportedLinkType(lt, iface_base + iface)) + "; its frames are skipped",
                )
            skip(frame, SkipReason.UNSUPPORTED_LINK)
            return None
        end = data_off + caplen
        if end > len(body) - 4:
            skip(frame, SkipReason.MALFORMED)
            return None
        ts = (ts_hi << 32) | ts_lo
        ts_ns = (ts * mult) // div + off_ns
        if not -TS_NS_MAX <= ts_ns <= TS_NS_MAX:  # Engine.feed_pcapng leaves such blocks to this line
            ts_ns = TS_NS_MAX if ts_ns > 0 else -TS_NS_MAX
            reader._warn(
                WarningKind.TIMESTAMP_CLAMPED,
                f"frame {frame}: timestamp {'after 2116-02-20 23:53:38' if ts_ns > 0 else 'before 1823-11-12 00:06:21'}"
                " (damaged?); read as that moment",
            )
        if stats.first_ts_ns is None:
            stats.first_ts_ns = ts_ns
        stats.last_ts_ns = ts_ns
        lt = stats.linktypes[iface_base + iface]
        return frame, iface_base + iface, lt, decode, body, data_off, end, data_off + max(origlen, caplen), ts_ns


def _epb_ts(walk: _PcapngWalk, table: list[_EngineIface | None]) -> int:
    """The time of the Enhanced Packet Block at ``walk.at`` that ``Engine.feed_pcapng`` stopped before (status 3:
    an interface in ``table``), as the engine computes it."""
    iface, ts_hi, ts_lo = struct.unpack_from(walk.order + "III", walk.buf, walk.at + 8)
    f = table[iface]
    assert f is not None
    return int((((ts_hi << 32) | ts_lo) * f.ts_mult) // f.ts_div + f.ts_off_ns)


class _EngineIface(NamedTuple):
    """One interface of the current pcapng section as ``Engine.feed_pcapng`` reads it (by field name)."""

    number: int  # over all sections, as frames report it
    link_len: int  # the fused decode's link header length (_FUSED_LAYOUTS), -1: no fused decode
    etype_off: int  # where the EtherType is in that header, -1: IPv4 directly after link_len bytes
    ts_mult: int  # ts_ns = ts * ts_mult // ts_div + ts_off_ns, as _PcapngWalk.step computes it
    ts_div: int
    ts_off_ns: int
    decode: _LinkDecoder  # the layered decoder: frames the fused decode does not take, kept streams' Segments


def _engine_interfaces(walk: _PcapngWalk, linktypes: dict[int, int], table: list[_EngineIface | None]) -> None:
    """Append to ``table`` the interfaces of the current section it lacks, as ``Engine.feed_pcapng`` walks them:
    None for an interface whose packets Python reads (a link type we cannot decode, a damaged description, a
    timestamp scale beyond 64 bits)."""
    for i in range(len(table), len(walk.interfaces)):
        decode, mult, div, off_ns, _snap = walk.interfaces[i]
        number = walk.iface_base + i
        link = _engine_link(linktypes[number])
        if decode is None or link is None or div >= 1 << 64 or mult >= 1 << 64 or not -(1 << 63) <= off_ns < 1 << 63:
            table.append(None)
            continue
        link_len, etype_off, slow = link
        table.append(_EngineIface(number, link_len, etype_off, mult, div, off_ns, slow))


def open_capture(
    source: str | os.PathLike[str] | BinaryIO | CaptureSet | Sequence[str | os.PathLike[str]],
    *,
    keep_skipped: bool = False,
) -> CaptureReader | MergedReader:
    """Open a capture for reading.

    ``source`` is a path, ``"-"`` for standard input (a pipe works: nothing is seeked), a binary file object, or
    a :class:`~tcptrace.sources.CaptureSet` or a list of paths (globs and directories too): several files read
    as one capture merged by time (:class:`MergedReader`), and with a CaptureSet a time range. Compression
    (gzip, xz, bzip2; zstd and lz4 with their optional extras) is recognised by its magic bytes, not by the file
    name.

    Raises :class:`~tcptrace.errors.CaptureError` (one-line message) when the input cannot be opened or is not
    a capture, and :class:`~tcptrace.errors.UnsupportedLinkType` for a pcap of a link type we cannot decode.
    Problems *inside* the file (a truncated last record, damaged blocks) are warnings in ``stats.warnings``.

    >>> cap = open_capture("sample_pcaps/echo_ipv4.pcap")
    >>> first = next(iter(cap))
    >>> cap.stats.format, first.flag_names, first.dport
    ('pcap', ('SYN',), 20000)
    """
    if isinstance(source, PartCapture):  # a part's frames of files read elsewhere (tcptrace.parallel)
        return source  # type: ignore[return-value]
    if isinstance(source, (list, tuple)):  # several files (or globs, directories): one capture merged by time
        source = CaptureSet.of(source)
    if isinstance(source, CaptureSet):
        window = None if source.time_range is None else Window(source.time_range)
        if len(source.paths) == 1:
            return _open_path(source.paths[0], keep_skipped, window)
        return MergedReader(source.paths, keep_skipped=keep_skipped, window=window)
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if path == "-":
            stdin = getattr(sys.stdin, "buffer", None)  # None when the process was started with stdin closed
            if stdin is None:
                raise CaptureError("<stdin>: standard input is closed")
            return CaptureReader(stdin, "<stdin>", close=False, keep_skipped=keep_skipped)
        try:
            f = open(path, "rb")  # noqa: SIM115 - closed by CaptureReader
        except OSError as exc:
            raise CaptureError(f"cannot open {path}: {exc.strerror or exc}") from exc
        try:
            return CaptureReader(f, path, close=True, keep_skipped=keep_skipped)
        except BaseException:
            f.close()
            raise
    assert not isinstance(source, (list, tuple))  # made a CaptureSet above
    name = getattr(source, "name", "<stream>")
    return CaptureReader(source, str(name), close=False, keep_skipped=keep_skipped)  # type: ignore[arg-type]


def _open_path(path: str, keep_skipped: bool, window: Window | None) -> CaptureReader:
    if path == "-":
        stdin = getattr(sys.stdin, "buffer", None)
        if stdin is None:
            raise CaptureError("<stdin>: standard input is closed")
        return CaptureReader(stdin, "<stdin>", close=False, keep_skipped=keep_skipped, window=window)
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed by CaptureReader
    except OSError as exc:
        raise CaptureError(f"cannot open {path}: {exc.strerror or exc}") from exc
    try:
        return CaptureReader(f, path, close=True, keep_skipped=keep_skipped, window=window)
    except BaseException:
        f.close()
        raise


# The bound of a reader not being merged: no record is later (int64's largest, as Engine.feed_pcap's default)
NO_BOUND = (1 << 63) - 1


class MergedReader:
    """Several capture files read as one, merged by time as ``mergecap`` merges them by default: the next frame
    is always the earliest of the files' next frames; each file's frames keep their order. Frames are numbered
    over the merged capture (:meth:`locate` gives a frame's file and its number there). The same interface as
    :class:`CaptureReader`: iterate it for Segments, or :meth:`feed` an engine.

    Ties. Frames of the same time in several files go in the order of the files' first frames (files whose first
    frames tie: in the order named). So the files of a ring buffer read as the capture they were cut from, in
    whatever order they are named, also where the frames either side of a cut share a timestamp. mergecap 4.0
    breaks such a tie the other way (merge.c's is_earlier is true on equality: the file named *last* wins),
    which reorders those frames; given the files in the reverse of our order, it writes the frames in ours.

    Theory of operation. Each file has its own :class:`CaptureReader`, its walk made resumable: given a bound
    (``_until``, ns) it stops before the first record later than it (``blocked``, ``next_ts``), and its frames
    are numbered from ``_frame_base``. The files wait in a heap by (next frame's time, position); the earliest
    runs, bounded by the next one's time (inclusive when it was named first), then goes back to the heap. Files
    that do not overlap in time (a ring buffer) therefore run each in one go, through the C engine's walk when it
    is built; overlapping files alternate record by record where they overlap. Memory: each file's read buffer
    (all files are open at once).
    """

    def __init__(self, paths: list[str], *, keep_skipped: bool = False, window: Window | None = None) -> None:
        self.paths = paths
        self.name = ", ".join(paths)
        self._window = window
        self.readers: list[CaptureReader] = []
        self._closed = False
        try:
            for path in paths:
                if path == "-":
                    raise CaptureError("standard input (-) cannot be read together with other captures")
                r = _open_path(path, keep_skipped, window)
                r._configure_engine = False
                self.readers.append(r)
        except BaseException:
            self.close()
            raise
        self.stats = CaptureStats(skipped_frames=[] if keep_skipped else None)
        formats = sorted({r.stats.format for r in self.readers})
        self.stats.format = "+".join(formats)
        self.stats.compressed = any(r.stats.compressed for r in self.readers)
        # runs of frames from one file: frame numbers from _run_starts[i] on are file _run_files[i]'s, each its own
        # number plus _run_bases[i]
        self._run_starts: list[int] = []
        self._run_files: list[int] = []
        self._run_bases: list[int] = []
        self._iterated = False
        self._engine: Any = None  # the engine fed (its trace_end: the merged capture's last frame)

    def locate(self, frame: int) -> tuple[str, int]:
        """The file frame ``frame`` of the merged capture comes from, and its number in that file."""
        i = _run_of(self._run_starts, frame)
        return self.paths[self._run_files[i]], frame - self._run_bases[i]

    def __iter__(self) -> Iterator[Segment]:
        gens = [iter(r) for r in self._start()]
        for step in self._merge(gens):
            if step is not None:
                yield step

    def feed(self, engine: Any) -> None:
        for _ in self.feed_steps(engine):
            pass

    def feed_steps(self, engine: Any) -> Iterator[None]:
        """:meth:`CaptureReader.feed_steps` over the merged files, pausing when one of them pauses."""
        readers = self._start()
        if self._window is not None:
            engine.time_range(*self._window.range.engine_args(), SkipReason.OUT_OF_TIME_RANGE)
        self._engine = engine
        for _ in self._merge([r.feed_steps(engine) for r in readers]):
            yield None

    def _start(self) -> list[CaptureReader]:
        if self._iterated:
            raise CaptureError(f"{self.name}: a capture can be iterated only once; open it again")
        self._iterated = True
        self._engine = None
        return self.readers

    def _merge(self, gens: list[Iterator[Any]]) -> Iterator[Any]:
        """Run the files' walks in time order (see the class docstring), passing on what they yield."""
        import heapq

        readers = self.readers
        stats = self.stats
        heap: list[tuple[int, int]] = []
        done = 0  # frames of the merged capture so far
        try:
            # prime: each walk reads up to its first frame (a bound below every time) and says its time
            for i, (r, g) in enumerate(zip(readers, gens, strict=True)):
                r._until = -NO_BOUND - 1
                r._frame_base = done
                self._begin(i, done)
                ended = yield from self._until_blocked(r, g)
                done = self._ran(i, done)
                if not ended:
                    heap.append((r.next_ts or 0, i))
            # rank: the files in the order of their first frames' times (a tie: the one named first); a tie between
            # frames goes to the file ranked first
            heap.sort()
            rank = {i: k for k, (_ts, i) in enumerate(heap)}
            order = [i for _ts, i in heap]
            heap = [(ts, rank[i]) for ts, i in heap]
            if heap:
                stats.first_ts_ns = heap[0][0]
            while heap:
                _ts, k = heapq.heappop(heap)
                i = order[k]
                r, g = readers[i], gens[i]
                if heap:
                    other_ts, other = heap[0]
                    r._until = other_ts if k < other else other_ts - 1
                else:
                    r._until = NO_BOUND
                r._frame_base = done - r.frames_done
                r.blocked = False
                self._begin(i, done)
                ended = yield from self._until_blocked(r, g)
                done = self._ran(i, done)
                if not ended:
                    heapq.heappush(heap, (r.next_ts or 0, k))
        finally:
            self._settle(done)
            for g in gens:  # a consumer that stopped early: each walk's own finally closes its file
                close = getattr(g, "close", None)
                if close is not None:
                    close()
            self.close()  # the files whose walk never started too

    def _begin(self, i: int, done: int) -> None:
        """File ``i`` runs next: its frames from ``done + 1`` on (for :meth:`locate`, as they are handed out)."""
        base = self.readers[i]._frame_base
        starts, files, bases = self._run_starts, self._run_files, self._run_bases
        if files and files[-1] == i and bases[-1] == base:
            return  # the same run goes on
        if starts and starts[-1] == done + 1:  # the run before read no frame
            files[-1], bases[-1] = i, base
            return
        starts.append(done + 1)
        files.append(i)
        bases.append(base)

    @staticmethod
    def _until_blocked(r: CaptureReader, g: Iterator[Any]) -> Generator[Any, None, bool]:
        """Pass on what walk ``g`` yields until its reader is blocked by its bound (False) or the walk ends (True)."""
        for item in g:
            if r.blocked:
                return False
            yield item
        return True

    def _ran(self, i: int, done: int) -> int:
        """After file ``i`` ran: the frames of the merged capture so far."""
        r = self.readers[i]
        now = r._frame_base + r.frames_done
        if now > done:
            if r.stats.last_ts_ns is not None:
                self.stats.last_ts_ns = r.stats.last_ts_ns
            done = now
        self.stats.frames = done
        return done

    def _settle(self, done: int) -> None:
        """The merged capture's stats: the files' summed, their warnings each named with its file."""
        stats = self.stats
        stats.frames = done
        for r in self.readers:
            r._settle_warnings()
        sum_file_stats(stats, [(r.name, r.stats) for r in self.readers])
        if stats.skipped_frames is not None:
            stats.skipped_frames = sorted(f for r in self.readers for f in r.stats.skipped_frames or [])
        if self._engine is not None and done:
            stats.last_ts_ns = self._engine.trace_end()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for r in self.readers:
            r.close()

    def __enter__(self) -> MergedReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def sum_file_stats(stats: CaptureStats, files: Sequence[tuple[str, CaptureStats]]) -> None:
    """Into the statistics of several files read as one (in the order named): their segments and skip reasons
    summed, each interface's link type as the first file that has it says, their warnings each named with its
    file. (MergedReader; tcptrace.parallel's read-once path, whose files are read by different tasks.)"""
    stats.tcp_segments = sum(st.tcp_segments for _, st in files)
    stats.truncated_segments = sum(st.truncated_segments for _, st in files)
    skipped: Counter[SkipReason] = Counter()
    warnings: list[str] = []
    for name, st in files:
        skipped.update(st.skipped)
        for lt_iface, lt in st.linktypes.items():
            stats.linktypes.setdefault(lt_iface, lt)
        warnings.extend(f"{name}: {w}" for w in st.warnings)
    stats.skipped = skipped
    stats.warnings = warnings


def merged_stats(files: Sequence[tuple[str, CaptureStats]], order: Sequence[tuple[int, int]]) -> CaptureStats:
    """The statistics MergedReader gives for ``files`` (name, statistics, in the order named) read one after
    another in ``order`` ((file index, frames before it) in reading order): one file's own when there is one."""
    if len(files) == 1:
        return files[0][1]
    stats = CaptureStats(format="+".join(sorted({st.format for _, st in files})),
                         compressed=any(st.compressed for _, st in files))  # fmt: skip
    stats.frames = sum(st.frames for _, st in files)
    if order:
        stats.first_ts_ns = files[order[0][0]][1].first_ts_ns
    stats.last_ts_ns = next((files[i][1].last_ts_ns for i, _ in reversed(order)
                             if files[i][1].last_ts_ns is not None), None)  # fmt: skip
    sum_file_stats(stats, files)
    return stats


def _run_of(starts: Sequence[int], frame: int) -> int:
    """The run of frames read from one file that ``frame`` of a merged capture falls in (``starts``: each run's
    first frame, increasing): MergedReader.locate and PartCapture.locate."""
    import bisect

    i = bisect.bisect_right(starts, frame) - 1
    if i < 0:
        raise ValueError(f"frame {frame} was not read")
    return i


def _no_skip(frame: int, reason: SkipReason) -> None:
    """The decoders' skip counter when a part decodes its frames again: each was decoded as TCP when read."""


def _engine_link(linktype: int) -> tuple[int, int, _LinkDecoder] | None:
    """What the C walks take of a link type (None: one we cannot decode): the fused decode's link header length
    (-1: no fused decode) and where its EtherType is (-1: IPv4 right after it), from _FUSED_LAYOUTS, and the
    layered decoder for the frames the fused decode does not take (_DECODERS)."""
    slow = _DECODERS.get(linktype)
    if slow is None:
        return None
    link_len, etype_off = _FUSED_LAYOUTS.get(linktype, (-1, None))
    return link_len, -1 if etype_off is None else etype_off, slow


def engine_links(linktypes: dict[int, int]) -> list[Any]:
    """Engine.feed_frames' interface table: each interface's :func:`_engine_link`."""
    links: list[Any] = [None] * (max(linktypes, default=-1) + 1)
    for iface, lt in linktypes.items():
        links[iface] = _engine_link(lt)
    return links


class PartCapture:
    """One part's TCP frames of several capture files read elsewhere (tcptrace.parallel's read-once path): per
    file, in the merged capture's order, the records ``Engine.split`` wrote for this part, the frames before the
    file's first (so the frames keep the merged capture's numbers), its interfaces' link types, and optionally
    per record the latest time of the other parts' segments since this part's previous one (``Engine.take_foreign``
    as a pass over the whole capture would give it). What :class:`tcptrace.engine.FlowStream` reads of a capture:
    :meth:`feed_steps`, ``stats`` (the merged capture's, given), :meth:`locate` and ``paths``."""

    def __init__(
        self,
        paths: list[str],
        pieces: Sequence[tuple[int, int, dict[int, int], bytes, bytes | None]],
        stats: CaptureStats,
    ) -> None:
        self.paths = paths
        self.name = ", ".join(paths)
        self.stats = stats
        self._pieces = list(pieces)  # (file index, frames before it, link types, records, foreign times)
        self._starts = [offset + 1 for _i, offset, *_ in pieces]

    def feed_steps(self, engine: Any) -> Iterator[None]:
        """Feed the records, pausing where the engine pauses (Engine.packets), then the trace's end."""
        for _i, offset, linktypes, records, foreign in self._pieces:
            links = engine_links(linktypes)
            pos = index = 0
            while True:
                pos, index, paused, _segments, _truncated = engine.feed_frames(
                    records, offset, links, _no_skip, pos, index, foreign
                )
                yield None
                if not paused:
                    break
        if self.stats.last_ts_ns is not None:
            engine.saw_frame(self.stats.last_ts_ns)  # the merged capture's last frame, TCP or not

    def feed(self, engine: Any) -> None:
        for _ in self.feed_steps(engine):
            pass

    def locate(self, frame: int) -> tuple[str, int]:
        """The file frame ``frame`` of the merged capture comes from, and its number in that file."""
        i, offset = self._pieces[_run_of(self._starts, frame)][:2]
        return self.paths[i], frame - offset

    def close(self) -> None:
        self._pieces = []


# --- decoding ------------------------------------------------------------------------------------------

_Skip = Callable[[int, SkipReason], None]


# Outer-IP fragments of tunnels are reassembled (Wireshark's ip.defragment / ipv6.defragment, on by default: the
# datagram is dissected in the frame that completes it). Memory is bounded: at most MAX_PENDING_DATAGRAMS datagrams
# waiting for fragments, holding at most MAX_PENDING_FRAGMENT_BYTES together, and MAX_FRAGMENTS_PER_DATAGRAM
# fragments each; beyond that the oldest pending datagram is dropped (its frames stay counted as fragments).
MAX_PENDING_DATAGRAMS = 1024
MAX_PENDING_FRAGMENT_BYTES = 8 << 20
MAX_FRAGMENTS_PER_DATAGRAM = 256


class _Datagram:
    """One IP datagram being reassembled: its fragments by offset, its length once the last fragment is seen."""

    __slots__ = ("held", "pieces", "total")

    def __init__(self) -> None:
        self.pieces: dict[int, bytes] = {}
        self.total: int | None = None
        self.held = 0


class _Fragments:
    """Pending outer-IP fragments of one capture, keyed as packet-ip.c / packet-ipv6.c key them (addresses,
    identification, and for IPv4 the protocol)."""

    def __init__(self) -> None:
        self._pending: dict[tuple[object, ...], _Datagram] = {}
        self._held = 0
        self.dropped = 0  # datagrams given up (the bounds above, a fragment cut by the snap length)

    def add(self, key: tuple[object, ...], offset: int, more: bool, data: bytes | None) -> bytes | None:
        """Add one fragment (``data`` None: cut by the snap length, the datagram cannot be completed); the
        reassembled payload when this fragment completes its datagram, else None."""
        dgram = self._pending.get(key)
        if data is None:
            if dgram is not None:
                self._drop(key, dgram)
            return None
        if dgram is None:
            while len(self._pending) >= MAX_PENDING_DATAGRAMS:
                self._drop_oldest()
            dgram = self._pending[key] = _Datagram()
        if offset in dgram.pieces or len(dgram.pieces) >= MAX_FRAGMENTS_PER_DATAGRAM:
            if offset not in dgram.pieces:
                self._drop(key, dgram)
            return None  # a duplicate fragment: the first copy is kept
        dgram.pieces[offset] = data
        dgram.held += len(data)
        self._held += len(data)
        if not more:
            dgram.total = offset + len(data)
        while self._held > MAX_PENDING_FRAGMENT_BYTES and self._pending:
            self._drop_oldest()
        if key not in self._pending or dgram.total is None or dgram.held < dgram.total:
            return None
        parts, pos = [], 0
        for at in sorted(dgram.pieces):
            if at > pos:
                return None  # a hole (the bytes held are overlaps): wait for the missing fragment
            piece = dgram.pieces[at]
            if at + len(piece) > pos:
                parts.append(piece[pos - at :])
                pos = at + len(piece)
        if pos < dgram.total:
            return None
        del self._pending[key]
        self._held -= dgram.held
        return b"".join(parts)[: dgram.total]

    def _drop(self, key: tuple[object, ...], dgram: _Datagram) -> None:
        del self._pending[key]
        self._held -= dgram.held
        self.dropped += 1

    def _drop_oldest(self) -> None:
        key = next(iter(self._pending))
        self._drop(key, self._pending[key])


class _Accounting:
    """The ``skip`` a reader hands its decoders: counts a frame under a skip reason when called, and carries the
    state the layered decoder keeps across the frames of one capture (:class:`_Fragments`)."""

    __slots__ = ("count", "fragments")

    def __init__(self, count: _Skip) -> None:
        self.count = count
        self.fragments = _Fragments()

    def __call__(self, frame: int, reason: SkipReason) -> None:
        self.count(frame, reason)


def _reassemble(skip: _Skip, key: tuple[object, ...], offset: int, more: bool, data: bytes | None) -> bytes | None:
    """Hand a fragment to the capture's fragment table (none when the decoder was called without one)."""
    fragments: _Fragments | None = getattr(skip, "fragments", None)
    if fragments is None:
        return None
    return fragments.add(key, offset, more, data)


class _LinkDecoder(Protocol):
    """A link type's decoder: (buffer, offset, captured end, wire end, frame, time, interface, skip[, layers
    before the link header]) -> the TCP Segment, or None after counting a skip reason. The C engine calls it
    with the first eight."""

    def __call__(
        self,
        buf: bytes,
        off: int,
        end: int,
        rend: int,
        frame: int,
        ts_ns: int,
        iface: int,
        skip: _Skip,
        layers: int = 1,
        /,
    ) -> Segment | None: ...


# Wireshark stops decoding a frame once it has this many protocol layers: packet.c call_dissector_work asserts
# ``saved_layers_len < prefs.gui_max_tree_depth`` before it calls each dissector (prefs.c: gui.max_tree_depth,
# 5 * 100), so TCP is decoded only if fewer layers, "frame" included, come before it (tshark shows the layers in
# frame.protocols). The decoders count them as Wireshark does (an IP header is one, Ethernet two: eth and
# ethertype, a VLAN tag two: vlan and ethertype ...) and skip a deeper frame as TOO_DEEP. The walk through
# tunnels is a loop, not a recursion, so a hostile frame of nested tunnels costs time linear in its length.
MAX_LAYERS = 500
# packet-vlan.c VLAN_MAX_NESTED_TAGS: the 21st 802.1Q tag of a frame (tunnels included) ends its dissection.
MAX_VLAN_TAGS = 20

# Where an IP packet starts inside a frame: (offset, end on the wire, layers before it, 802.1Q tags so far).
_At = tuple[int, int, int, int]


def _decode_ip(
    buf: bytes,
    off: int,
    end: int,
    rend: int,
    frame: int,
    ts_ns: int,
    iface: int,
    skip: _Skip,
    layers: int = 1,
    vlans: int = 0,
) -> Segment | None:
    """Decode an IPv4 or IPv6 packet at ``buf[off:end]`` (choosing by the version nibble) down to TCP, through
    the tunnels Wireshark follows (:func:`_inner`), one after the other.

    ``end`` is where the captured bytes stop, ``rend`` where the packet stopped on the wire. Like Wireshark,
    lengths come from the IP header but never exceed what the frame reported (``rend``). ``layers`` counts the
    protocol layers before this IP header ("frame" and the link layer), ``vlans`` the 802.1Q tags.
    """
    while True:
        if layers >= MAX_LAYERS:
            skip(frame, SkipReason.TOO_DEEP)
            return None
        layers += 1  # ip / ipv6
        if off >= end:
            skip(frame, SkipReason.TRUNCATED)
            return None
        version = buf[off] >> 4
        if version == 4:
            if end - off < 20:
                skip(frame, SkipReason.TRUNCATED)
                return None
            vihl, _tos, total_len, ip_id, frag, ttl, proto = _ipv4_hdr(buf, off)
            ihl = (vihl & 0x0F) * 4
            if ihl < 20:
                skip(frame, SkipReason.MALFORMED)
                return None
            if total_len == 0:  # TSO/GSO capture: the stack had not filled the length in yet; use the frame
                total_len = rend - off
            elif total_len < ihl:
                skip(frame, SkipReason.MALFORMED)
                return None
            elif total_len > rend - off:  # "IPv4 total length exceeds packet length": Wireshark trusts the frame
                total_len = rend - off
            pos = off + ihl
            rend = off + total_len
            if frag & 0x3FFF and proto != _PROTO_TCP and proto != _IP_AH and pos <= rend:
                # A fragment of a tunnel (or of anything but TCP): reassembled, then dissected in the frame that
                # completes it, as packet-ip.c does (ip.defragment). TCP itself keeps the first-fragment rule
                # (docs/wireshark-differences.md #3).
                key: tuple[object, ...] = (4, buf[off + 12 : off + 20], ip_id, proto)
                whole = _reassemble(
                    skip, key, (frag & 0x1FFF) * 8, bool(frag & 0x2000), buf[pos:rend] if rend <= end else None
                )
                if whole is None:
                    skip(frame, SkipReason.FRAGMENT)
                    return None
                buf, pos, end, rend = whole, 0, len(whole), len(whole)
            elif frag & 0x1FFF:
                skip(frame, SkipReason.FRAGMENT)
                return None
            while proto == _IP_AH:
                # packet-ipsec.c dissect_ah: (length + 2) 32-bit words, then the next header from ip.proto.
                if pos + 2 > end:
                    skip(frame, SkipReason.TRUNCATED)
                    return None
                layers += 1  # ah
                proto = buf[pos]
                pos += (buf[pos + 1] + 2) * 4
                if pos > rend:
                    skip(frame, SkipReason.MALFORMED)
                    return None
            if proto == _PROTO_TCP:
                if layers >= MAX_LAYERS:
                    skip(frame, SkipReason.TOO_DEEP)
                    return None
                src, dst = buf[off + 12 : off + 16], buf[off + 16 : off + 20]
                return _decode_tcp(buf, pos, end, rend - pos, frame, ts_ns, iface, 4, src, dst, ip_id, ttl, skip)
        elif version == 6:
            if end - off < 40:
                skip(frame, SkipReason.TRUNCATED)
                return None
            plen, proto, hlim = _ipv6_hdr(buf, off + 4)
            pos = off + 40
            if plen == 0 or plen > rend - pos:  # jumbogram (RFC 2675), TSO, or longer than the frame
                plen = rend - pos
            rend = pos + plen
            while proto != _PROTO_TCP:
                # Extension headers (each its own layer: ipv6.hopopts, ipv6.routing, ah, ipv6.fraghdr ...).
                if proto in _IP6_EXT or proto == _IP_AH:
                    if pos + 2 > end:
                        skip(frame, SkipReason.TRUNCATED)
                        return None
                    hlen = (buf[pos + 1] + 2) * 4 if proto == _IP_AH else (buf[pos + 1] + 1) * 8
                elif proto == _IP6_FRAGMENT:
                    if pos + 8 > end:
                        skip(frame, SkipReason.TRUNCATED)
                        return None
                    fo, nxt = _u16be(buf, pos + 2)[0], buf[pos]
                    if fo & 0xFFF9 and nxt != _PROTO_TCP and nxt != _IP_AH and nxt not in _IP6_EXT:
                        # a fragment of a tunnel: reassembled as packet-ipv6.c does (ipv6.defragment)
                        key = (6, buf[off + 8 : off + 40], _u32be(buf, pos + 4)[0])
                        whole = _reassemble(
                            skip, key, fo & 0xFFF8, bool(fo & 1), buf[pos + 8 : rend] if rend <= end else None
                        )
                        if whole is None:
                            skip(frame, SkipReason.FRAGMENT)
                            return None
                        layers += 1  # ipv6.fraghdr
                        buf, pos, end, rend, proto = whole, 0, len(whole), len(whole), nxt
                        break
                    if fo & 0xFFF8:
                        skip(frame, SkipReason.FRAGMENT)
                        return None
                    hlen = 8
                else:
                    break
                layers += 1
                proto = buf[pos]
                pos += hlen
                if pos > rend:
                    skip(frame, SkipReason.MALFORMED)
                    return None
            if proto == _PROTO_TCP:
                if layers >= MAX_LAYERS:
                    skip(frame, SkipReason.TOO_DEEP)
                    return None
                src, dst = buf[off + 8 : off + 24], buf[off + 24 : off + 40]
                return _decode_tcp(buf, pos, end, rend - pos, frame, ts_ns, iface, 6, src, dst, -1, hlim, skip)
        else:
            skip(frame, SkipReason.NOT_IP)
            return None
        at = _inner(proto, buf, pos, end, rend, frame, skip, layers, vlans)
        if at is None:
            return None
        off, rend, layers, vlans = at


# UDP ports of the tunnels Wireshark decodes by default, and how to reach the inner packet.
_UDP_VXLAN, _UDP_GTPU, _UDP_GENEVE, _UDP_L2TP = 4789, 2152, 6081, 1701
_UDP_GRE = 4754  # GRE-in-UDP, RFC 8086 (packet-gre.c registers it on udp.port; Zeek decodes it too)
_UDP_AYIYA = 5072  # packet-ayiya.c UDP_PORT_AYIYA (Zeek's AYIYA analyzer uses the same port)
_IP_AH, _IP_IPCOMP = 51, 108


def _inner(
    proto: int, buf: bytes, off: int, end: int, rend: int, frame: int, skip: _Skip, layers: int, vlans: int
) -> _At | None:
    """A non-TCP IP payload: the IP packet inside the tunnels Wireshark follows (IP-in-IP, GRE, VXLAN, GTP-U,
    Geneve, L2TPv2, GRE-in-UDP), or None after counting why the frame has no TCP segment.

    ICMP errors quote the start of the offending TCP segment; Wireshark shows that quote as TCP, but it is not
    a segment of the connection, so it is counted as "not TCP" here (docs/wireshark-differences.md).
    """
    if proto == 4 or proto == 41:  # IPv4 / IPv6 encapsulated in IP
        return off, rend, layers, vlans
    if proto == 47 and off + 4 <= end:
        return _gre(buf, off, end, rend, frame, skip, layers + 1, vlans)
    if proto == 17 and off + 8 <= end:
        sport, dport = _u16be(buf, off)[0], _u16be(buf, off + 2)[0]
        pos = off + 8
        layers += 2  # udp and the tunnel's own layer
        # packet-udp.c decode_udp_ports: the lower port is tried first, then the higher one.
        for port in (sport, dport) if sport <= dport else (dport, sport):
            if port == _UDP_VXLAN and pos + 8 <= end and buf[pos] & 0x08:
                return _eth_to_ip(buf, pos + 8, end, rend, frame, skip, layers, vlans)
            if port == _UDP_GTPU and pos + 8 <= end and buf[pos] >> 5 == 1 and buf[pos + 1] == 0xFF:
                gflags = buf[pos]
                pos += 8
                if gflags & 0x07:  # sequence number, N-PDU number and next-extension-type words present
                    if pos + 4 > end:
                        skip(frame, SkipReason.TRUNCATED)
                        return None
                    ext = buf[pos + 3]
                    pos += 4
                    while ext and pos < end:  # extension headers: length in 4-byte units, next type last
                        elen = buf[pos] * 4
                        if elen == 0 or pos + elen > end:
                            skip(frame, SkipReason.MALFORMED)
                            return None
                        ext = buf[pos + elen - 1]
                        pos += elen
                return pos, rend, layers, vlans
            if port == _UDP_GENEVE and pos + 8 <= end:
                # The protocol type goes through the ethertype table directly: "geneve:ip", "geneve:eth".
                pos2 = pos + 8 + (buf[pos] & 0x3F) * 4
                ptype = _u16be(buf, pos + 2)[0]
                if ptype == _ETH_BRIDGE:
                    return _eth_to_ip(buf, pos2, end, rend, frame, skip, layers, vlans)
                return _ethertype_to_ip(ptype, buf, pos2, end, rend, frame, skip, layers, vlans)
            if port == _UDP_L2TP and pos + 2 <= end and (buf[pos + 1] & 0x0F) == 2:
                return _l2tp2(buf, pos, end, rend, frame, skip, layers, vlans)
            if port == _UDP_GRE and pos + 4 <= end:
                return _gre(buf, pos, end, rend, frame, skip, layers, vlans)
            if port == _UDP_AYIYA and pos + 4 <= end:
                return _ayiya(buf, pos, end, rend, frame, skip, layers, vlans)
    if proto == _IP_IPCOMP:
        # packet-ipsec.c shows an IPComp payload as data: it would have to be decompressed first.
        skip(frame, SkipReason.COMPRESSED)
        return None
    if (proto == 1 and off + 8 <= end and buf[off] in _ICMP4_ERRORS) or (
        proto == 58 and off + 8 <= end and 1 <= buf[off] <= 4
    ):
        inner = off + 8  # the quoted IP header: count it as a quote only if it quotes TCP
        if inner < end and (
            (buf[inner] >> 4 == 4 and inner + 10 <= end and buf[inner + 9] == _PROTO_TCP)
            or (buf[inner] >> 4 == 6 and inner + 7 <= end and buf[inner + 6] == _PROTO_TCP)
        ):
            skip(frame, SkipReason.ICMP_QUOTE)
            return None
    skip(frame, SkipReason.NOT_TCP)
    return None


def _ayiya(buf: bytes, off: int, end: int, rend: int, frame: int, skip: _Skip, layers: int, vlans: int) -> _At | None:
    """AYIYA, "Anything In Anything" (draft-massar-v6ops-ayiya), as packet-ayiya.c reads it: identity length
    ``1 << high nibble`` of byte 0, signature length ``4 * high nibble`` of byte 1, the opcode in the low nibble of
    byte 2, the next header (an IP protocol number) in byte 3, a 4-byte epoch; only a Forward (opcode 1) has a
    payload, dissected through the ip.proto table. ``layers`` already counts udp and ayiya."""
    hlen = 8 + (1 << (buf[off] >> 4)) + (buf[off + 1] >> 4) * 4
    opcode, nxt = buf[off + 2] & 0x0F, buf[off + 3]
    pos = off + hlen
    if opcode != 1:
        skip(frame, SkipReason.NOT_TCP)
        return None
    if pos > end:
        skip(frame, SkipReason.TRUNCATED)
        return None
    if nxt == 4 or nxt == 41:
        # the "ip" / "ipv6" dissector: a packet of the other IP version is not dissected
        if pos >= end or buf[pos] >> 4 != (4 if nxt == 4 else 6):
            skip(frame, SkipReason.NOT_IP)
            return None
        return pos, rend, layers, vlans
    if nxt == 17:
        # UDP straight inside AYIYA (no IP header around it) is not followed: it would be the only way for the
        # tunnel walk to recurse (AYIYA in UDP in AYIYA ...), and nobody sends it.
        skip(frame, SkipReason.NOT_TCP)
        return None
    return _inner(nxt, buf, pos, end, rend, frame, skip, layers, vlans)


_ICMP4_ERRORS = frozenset((3, 4, 5, 11, 12))  # unreachable, source quench, redirect, time exceeded, parameter

# GRE protocol types (packet-gre.c's gre.proto table) whose payload we follow.
_GRE_ETH_TYPES = frozenset((_ETH_BRIDGE, 0x6400))  # transparent Ethernet bridging, MikroTik EoIP
_GRE_ERSPAN_II, _GRE_ERSPAN_III, _GRE_WCCP, _GRE_PPP = 0x88BE, 0x22EB, 0x883E, 0x880B
_GRE_ARUBA = frozenset(range(0x8200, 0x8371, 0x10))  # packet-ieee80211.c: Aruba 802.11 frames, 0x8200-0x8370


def _gre(buf: bytes, off: int, end: int, rend: int, frame: int, skip: _Skip, layers: int, vlans: int) -> _At | None:
    """GRE (RFC 2784/2890, PPTP's RFC 2637) as packet-gre.c ``dissect_gre`` reads it, then its payload by type."""
    fv, gproto = _u16be(buf, off)[0], _u16be(buf, off + 2)[0]
    is_ppp = gproto == _GRE_PPP and fv & 0x0007  # PPTP: enhanced GRE, version 1
    pos = off + 4
    if fv & 0xC000:  # checksum or routing present: checksum and offset words
        pos += 4
    if fv & 0x2000:  # key (PPTP: payload length and call ID)
        pos += 4
    if fv & 0x1000:  # sequence number
        pos += 4
    if is_ppp and fv & 0x0080:  # PPTP acknowledgment number
        pos += 4
    if fv & 0x4000:  # source route entries, up to the one with address family 0 and length 0
        while True:
            if pos + 4 > end:
                skip(frame, SkipReason.TRUNCATED)
                return None
            sre_af, sre_len = _u16be(buf, pos)[0], buf[pos + 3]
            pos += 4
            if sre_af == 0 and sre_len == 0:
                break
            pos += sre_len
    if gproto in (_ETH_IPV4, _ETH_IPV6):
        return pos, rend, layers, vlans
    if gproto == _GRE_WCCP:  # IPv4; WCCPv2 puts a 4-byte redirect header first (no IPv4 version nibble)
        return (pos if off + 4 < end and buf[off + 4] >> 4 == 4 else pos + 4), rend, layers, vlans
    if gproto in _GRE_ETH_TYPES:
        return _eth_to_ip(buf, pos, end, rend, frame, skip, layers, vlans)
    if gproto in _ETH_MPLS:
        return _ethertype_to_ip(gproto, buf, pos, end, rend, frame, skip, layers, vlans)
    if gproto in (_GRE_ERSPAN_II, _GRE_ERSPAN_III):
        # packet-cisco-erspan.c: type 0x88BE has an ERSPAN header only when the GRE sequence bit is set
        # (else type I: Ethernet right away); version 1 (type II) is 8 bytes, version 2 (type III) 12, plus an
        # 8-byte platform subheader when its O bit is set, and its frame type must be Ethernet (0).
        if gproto == _GRE_ERSPAN_III or fv & 0x1000:
            if pos + 2 > end:
                skip(frame, SkipReason.TRUNCATED)
                return None
            version = buf[pos] >> 4
            if version == 1:
                pos += 8
            elif version == 2 and pos + 12 <= end:
                word = _u16be(buf, pos + 10)[0]
                if word & 0x7C00:
                    skip(frame, SkipReason.NOT_IP)
                    return None
                pos += 20 if word & 1 else 12
            else:
                skip(frame, SkipReason.NOT_IP)
                return None
        return _eth_to_ip(buf, pos, end, rend, frame, skip, layers + 1, vlans)
    if gproto in _GRE_ARUBA:
        return _wlan_to_ip(buf, pos, end, rend, frame, skip, layers, vlans)
    if is_ppp:
        return _ppp_hdlc_to_ip(buf, pos, end, rend, frame, skip, layers, vlans)
    skip(frame, SkipReason.NOT_IP)
    return None


def _l2tp2(buf: bytes, off: int, end: int, rend: int, frame: int, skip: _Skip, layers: int, vlans: int) -> _At | None:
    """An L2TPv2 data message (RFC 2661 §3.1) carries a PPP frame (packet-l2tp.c ``dissect_l2tp_udp``)."""
    control = _u16be(buf, off)[0]
    if control & 0x8000:  # T bit: a control message
        skip(frame, SkipReason.NOT_TCP)
        return None
    pos = off + 2
    if control & 0x4000:  # L bit: the length field bounds the message
        if pos + 2 > end:
            skip(frame, SkipReason.TRUNCATED)
            return None
        rend = min(rend, off + _u16be(buf, pos)[0])
        pos += 2
    pos += 4  # tunnel ID, session ID
    if control & 0x0800:  # S bit: Ns, Nr
        pos += 4
    if control & 0x0200:  # O bit: offset size, then that much padding
        if pos + 2 > end:
            skip(frame, SkipReason.TRUNCATED)
            return None
        pos += 2 + _u16be(buf, pos)[0]
    return _ppp_hdlc_to_ip(buf, pos, end, rend, frame, skip, layers, vlans)


def _ppp_hdlc_to_ip(
    buf: bytes, off: int, end: int, rend: int, frame: int, skip: _Skip, layers: int, vlans: int
) -> _At | None:
    """PPP in HDLC-like framing inside a tunnel (packet-ppp.c ``dissect_ppp_hdlc``): a first byte 0x0F or 0x8F
    is Cisco HDLC instead; 0xFF starts the address and control bytes; the protocol field may be compressed to
    one byte (RFC 1661 §6.5)."""
    if off >= end:
        skip(frame, SkipReason.TRUNCATED)
        return None
    if buf[off] in (0x0F, 0x8F):
        if off + 4 > end:
            skip(frame, SkipReason.TRUNCATED)
            return None
        return _ethertype_to_ip(_u16be(buf, off + 2)[0], buf, off + 4, end, rend, frame, skip, layers + 1, vlans)
    if buf[off] == 0xFF:
        off += 2
    if off >= end:
        skip(frame, SkipReason.TRUNCATED)
        return None
    if buf[off] & 1:
        proto = buf[off]
        off += 1
    else:
        if off + 2 > end:
            skip(frame, SkipReason.TRUNCATED)
            return None
        proto = _u16be(buf, off)[0]
        off += 2
    if proto in (0x21, 0x57):
        return off, rend, layers + 1, vlans  # ppp
    skip(frame, SkipReason.NOT_IP)
    return None


def _decode_tcp(
    buf: bytes,
    off: int,
    end: int,
    ip_payload_len: int,
    frame: int,
    ts_ns: int,
    iface: int,
    ip_version: int,
    src: bytes,
    dst: bytes,
    ip_id: int,
    ttl: int,
    skip: _Skip,
) -> Segment | None:
    # The 16 bytes up to the window are what analysis needs; checksum and urgent pointer are optional.
    if end - off < 16:
        skip(frame, SkipReason.TRUNCATED)
        return None
    if ip_payload_len < 16:
        # packet-tcp.c dissect_tcp reads ports, sequence numbers, flags and window first; beyond the IP payload
        # that throws before the conversation is looked up: no tcp.stream.
        skip(frame, SkipReason.MALFORMED)
        return None
    sport, dport, seq, ack, offflags, win = _tcp_hdr(buf, off)
    hdr_len = (offflags >> 12) * 4
    data_off = off + hdr_len
    if hdr_len < 20 or hdr_len > ip_payload_len:
        # packet-tcp.c dissect_tcp finds or creates the conversation (the tcp.stream, a SYN's port reuse) before
        # it looks at the data offset. A "Bogus TCP header length" (below 5 words) still gets its sequence
        # analysis, with tcp.len = IP payload - offset, and then the dissection ends (no flags shown); a "Short
        # segment" (a header longer than the IP payload) gets no tcp.len and no analysis, raw numbers, but
        # moves tcp.completeness. The segment says which (header_error); its options are not read.
        bogus = hdr_len < 20
        seglen = ip_payload_len - hdr_len if bogus else 0
        opt_bytes, header_truncated = b"", False
        payload = buf[data_off : min(end, data_off + seglen)] if seglen else b""
        header_error = HDR_BOGUS_LENGTH if bogus else HDR_SHORT_SEGMENT
    else:
        seglen = ip_payload_len - hdr_len
        header_error = 0
        if data_off <= end:
            opt_bytes = buf[off + 20 : data_off] if hdr_len > 20 else b""
            payload = buf[data_off : min(end, data_off + seglen)] if seglen else b""
            header_truncated = False
        else:
            opt_bytes = buf[off + 20 : end]
            payload = b""
            header_truncated = True
    # Flags: the nine named bits plus the three reserved ones, as Wireshark's 12-bit tcp.flags.
    seg = Segment(frame, ts_ns, iface, ip_version, src, dst, sport, dport, seq, ack, offflags & 0xFFF, win, hdr_len,
                  seglen, ip_id, ttl, opt_bytes, payload, header_truncated, header_error)  # fmt: skip
    # URG: the urgent pointer (classic tcptrace's urgent data bytes); a header in error is not read further
    if not header_error and offflags & 0x20 and off + 20 <= end:
        seg.urg_ptr = (buf[off + 18] << 8) | buf[off + 19]
    return seg


def _ethertype_to_ip(
    etype: int, buf: bytes, off: int, end: int, rend: int, frame: int, skip: _Skip, layers: int, vlans: int
) -> _At | None:
    """Dispatch on an EtherType up to an IP packet, peeling VLAN tags (802.1Q, 802.1ad), VN-Tags, LLC/SNAP,
    MPLS labels and PPPoE sessions. ``layers`` counts the layers before the header at ``off``."""
    while True:
        if etype in (_ETH_IPV4, _ETH_IPV6):
            return off, rend, layers, vlans
        if etype in _ETH_8021Q or etype == _ETH_8021AD:
            if etype != _ETH_8021AD:
                vlans += 1
                if vlans > MAX_VLAN_TAGS:
                    skip(frame, SkipReason.TOO_DEEP)
                    return None
            if off + 4 > end:
                skip(frame, SkipReason.TRUNCATED)
                return None
            tag_len = 4
            if etype == _ETH_8021AD and _u16be(buf, off + 2)[0] in (_ETH_8021AD, _ETH_PBB):
                # packet-ieee8021ah.c dissect_ieee8021ad: an S-tag followed by another S-tag is read as a pair
                # (Q-in-Q), a B-tag followed by an 802.1ah I-TAG as one PBB header: one layer for both.
                pbb = _u16be(buf, off + 2)[0] == _ETH_PBB
                tag_len = 4 + _PBB_LEN if pbb else 8
                if off + tag_len > end:
                    skip(frame, SkipReason.TRUNCATED)
                    return None
                if pbb and _u16be(buf, off + tag_len - 2)[0] <= 1500:
                    skip(frame, SkipReason.NOT_IP)  # the I-TAG's type goes to the EtherType table: a length is data
                    return None
            etype = _u16be(buf, off + tag_len - 2)[0]
            off += tag_len
            layers += 2  # vlan (or ieee8021ad), ethertype
        elif etype == _ETH_PBB:
            # Provider backbone bridging (IEEE 802.1ah): the I-TAG's EtherType goes to the EtherType table, where a
            # length value (802.3) is data, not LLC ("ieee8021ah:ethertype:data").
            if off + _PBB_LEN > end:
                skip(frame, SkipReason.TRUNCATED)
                return None
            etype = _u16be(buf, off + _PBB_LEN - 2)[0]
            if etype <= 1500:
                skip(frame, SkipReason.NOT_IP)
                return None
            off += _PBB_LEN
            layers += 2  # ieee8021ah, ethertype
        elif etype == _ETH_VNTAG:
            # packet-vntag.c: a 4-byte tag (direction, pointer, destination and source VIFs), then the EtherType
            if off + 6 > end:
                skip(frame, SkipReason.TRUNCATED)
                return None
            etype = _u16be(buf, off + 4)[0]
            off += 6
            layers += 2  # vntag, ethertype
        elif etype in _ETH_MPLS:
            while True:  # pop labels up to the bottom of the stack, then guess IPv4/IPv6 by the version nibble
                if off + 4 > end:
                    skip(frame, SkipReason.TRUNCATED)
                    return None
                bottom = buf[off + 2] & 1
                off += 4
                if bottom:
                    break
            return off, rend, layers + 1, vlans  # mpls: one layer for the whole stack
        elif etype == _ETH_PPPOE_SESSION:
            if off + 8 > end:
                skip(frame, SkipReason.TRUNCATED)
                return None
            ppp_proto = _u16be(buf, off + 6)[0]
            rend = min(rend, off + 6 + _u16be(buf, off + 4)[0])  # the PPPoE length bounds the payload
            off += 8
            if ppp_proto not in (0x0021, 0x0057):
                skip(frame, SkipReason.NOT_IP)
                return None
            return off, rend, layers + 2, vlans  # pppoes, ppp
        elif etype <= 1500:  # IEEE 802.3 length field: LLC, maybe SNAP with an EtherType
            if off + 8 <= end and buf[off : off + 3] == b"\xaa\xaa\x03":
                etype = _u16be(buf, off + 6)[0]
                off += 8
                layers += 1  # llc
            else:
                skip(frame, SkipReason.NOT_IP)
                return None
        else:
            skip(frame, SkipReason.NOT_IP)
            return None


def _eth_to_ip(
    buf: bytes, off: int, end: int, rend: int, frame: int, skip: _Skip, layers: int, vlans: int
) -> _At | None:
    if end - off < 14:
        skip(frame, SkipReason.TRUNCATED)
        return None
    etype = _u16be(buf, off + 12)[0]
    while etype == _ETH_FABRICPATH or (
        etype in _FP_TAGS and end - off >= 18 and buf[off + 16] == 0x89 and buf[off + 17] == 0x03  # 0x8903
    ):
        # packet-cisco-fp-mim.c dissect_fp_heur, tried before the EtherType: outer hierarchical MACs, the FP tag
        # (behind an 802.1Q or 802.1ad tag: 20 bytes, else 16), then an Ethernet frame without the last 4 bytes
        # (the FabricPath FCS): "eth:cfp:eth:ethertype".
        off += 16 if etype == _ETH_FABRICPATH else 20
        rend -= 4
        layers += 2  # eth, cfp
        if layers >= MAX_LAYERS:
            skip(frame, SkipReason.TOO_DEEP)
            return None
        if end - off < 14 or rend - off < 14:
            skip(frame, SkipReason.TRUNCATED if end - off < 14 else SkipReason.MALFORMED)
            return None
        etype = _u16be(buf, off + 12)[0]
    # "eth:ethertype:ip", but an 802.3 length field goes to LLC without the ethertype layer ("eth:llc:ip")
    return _ethertype_to_ip(etype, buf, off + 14, end, rend, frame, skip, layers + (1 if etype <= 1500 else 2), vlans)


def _wlan_to_ip(
    buf: bytes, off: int, end: int, rend: int, frame: int, skip: _Skip, layers: int, vlans: int
) -> _At | None:
    """IEEE 802.11 data frame: MAC header (24 or 30 bytes, + QoS, + HT control), then LLC/SNAP ("wlan:llc")."""
    if end - off < 24:
        skip(frame, SkipReason.TRUNCATED)
        return None
    fc0, fc1 = buf[off], buf[off + 1]
    if (fc0 >> 2) & 3 != 2 or fc1 & 0x40:  # not a data frame, or protected (encrypted payload)
        skip(frame, SkipReason.NOT_IP)
        return None
    pos = off + (30 if fc1 & 0x03 == 0x03 else 24)  # four addresses when both To-DS and From-DS are set
    if fc0 & 0x80:  # QoS data subtypes carry a 2-byte QoS control field ...
        pos += 2
        if fc1 & 0x80:  # ... and, with the Order bit, a 4-byte HT control field
            pos += 4
    if pos + 8 <= end and buf[pos : pos + 3] == b"\xaa\xaa\x03":
        return _ethertype_to_ip(_u16be(buf, pos + 6)[0], buf, pos + 8, end, rend, frame, skip, layers + 2, vlans)
    skip(frame, SkipReason.NOT_IP)
    return None


def _ip_at(at: _At | None, buf: bytes, end: int, frame: int, ts_ns: int, iface: int, skip: _Skip) -> Segment | None:
    """Decode the IP packet a link layer led to (None: the link layer already counted why not)."""
    if at is None:
        return None
    off, rend, layers, vlans = at
    return _decode_ip(buf, off, end, rend, frame, ts_ns, iface, skip, layers, vlans)


# Link-layer decoders: (buffer, offset, captured end, wire end, frame, time, interface, skip[, layers before the
# link header: 1 for "frame", more inside PPI]) -> Segment or None (a skip reason counted).


def _eth(
    buf: bytes, off: int, end: int, rend: int, frame: int, ts_ns: int, iface: int, skip: _Skip, layers: int = 1
) -> Segment | None:
    if end - off >= 14 and buf[off + 12] == 0x08 and buf[off + 13] == 0x00:  # the common case: IPv4 right away
        return _decode_ip(buf, off + 14, end, rend, frame, ts_ns, iface, skip, layers + 2)
    return _ip_at(_eth_to_ip(buf, off, end, rend, frame, skip, layers, 0), buf, end, frame, ts_ns, iface, skip)


def _sll(
    buf: bytes, off: int, end: int, rend: int, frame: int, ts_ns: int, iface: int, skip: _Skip, layers: int = 1
) -> Segment | None:
    if end - off < 16:
        skip(frame, SkipReason.TRUNCATED)
        return None
    at = _ethertype_to_ip(_u16be(buf, off + 14)[0], buf, off + 16, end, rend, frame, skip, layers + 2, 0)
    return _ip_at(at, buf, end, frame, ts_ns, iface, skip)


def _sll2(
    buf: bytes, off: int, end: int, rend: int, frame: int, ts_ns: int, iface: int, skip: _Skip, layers: int = 1
) -> Segment | None:
    if end - off < 20:
        skip(frame, SkipReason.TRUNCATED)
        return None
    at = _ethertype_to_ip(_u16be(buf, off)[0], buf, off + 20, end, rend, frame, skip, layers + 2, 0)
    return _ip_at(at, buf, end, frame, ts_ns, iface, skip)


def _null(
    buf: bytes, off: int, end: int, rend: int, frame: int, ts_ns: int, iface: int, skip: _Skip, layers: int = 1
) -> Segment | None:
    """BSD loopback: a 4-byte address family in the *capturing* host's byte order (LOOP: network order)."""
    if end - off < 4:
        skip(frame, SkipReason.TRUNCATED)
        return None
    family = _u32le(buf, off)[0]
    if family > 0xFFFF:
        family = _u32be(buf, off)[0]
    if family == 2 or family in (24, 28, 30, 10):  # AF_INET; AF_INET6 on BSDs, macOS, Linux
        return _decode_ip(buf, off + 4, end, rend, frame, ts_ns, iface, skip, layers + 1)
    skip(frame, SkipReason.NOT_IP)
    return None


def _raw(
    buf: bytes, off: int, end: int, rend: int, frame: int, ts_ns: int, iface: int, skip: _Skip, layers: int = 1
) -> Segment | None:
    return _decode_ip(buf, off, end, rend, frame, ts_ns, iface, skip, layers + 1)  # "raw:ip"


def _c_hdlc(
    buf: bytes, off: int, end: int, rend: int, frame: int, ts_ns: int, iface: int, skip: _Skip, layers: int = 1
) -> Segment | None:
    if end - off < 4:
        skip(frame, SkipReason.TRUNCATED)
        return None
    at = _ethertype_to_ip(_u16be(buf, off + 2)[0], buf, off + 4, end, rend, frame, skip, layers + 1, 0)
    return _ip_at(at, buf, end, frame, ts_ns, iface, skip)


def _ppp(
    buf: bytes, off: int, end: int, rend: int, frame: int, ts_ns: int, iface: int, skip: _Skip, layers: int = 1
) -> Segment | None:
    if end - off >= 2 and buf[off] == 0xFF and buf[off + 1] == 0x03:  # HDLC address/control
        off += 2
    if off >= end:
        skip(frame, SkipReason.TRUNCATED)
        return None
    if buf[off] & 1:  # protocol field compressed to one byte (RFC 1661 §6.5)
        proto = buf[off]
        off += 1
    else:
        if off + 2 > end:
            skip(frame, SkipReason.TRUNCATED)
            return None
        proto = _u16be(buf, off)[0]
        off += 2
    if proto in (0x21, 0x57):
        return _decode_ip(buf, off, end, rend, frame, ts_ns, iface, skip, layers + 1)
    skip(frame, SkipReason.NOT_IP)
    return None


def _ipoib(
    buf: bytes, off: int, end: int, rend: int, frame: int, ts_ns: int, iface: int, skip: _Skip, layers: int = 1
) -> Segment | None:
    """IP over InfiniBand (LINKTYPE_IPOIB): a 40-byte pseudo-header (GRH and address), then RFC 4391's
    4-byte EtherType + reserved word."""
    if end - off < 44:
        skip(frame, SkipReason.TRUNCATED)
        return None
    at = _ethertype_to_ip(_u16be(buf, off + 40)[0], buf, off + 44, end, rend, frame, skip, layers + 1, 0)
    return _ip_at(at, buf, end, frame, ts_ns, iface, skip)


def _fddi(
    buf: bytes, off: int, end: int, rend: int, frame: int, ts_ns: int, iface: int, skip: _Skip, layers: int = 1
) -> Segment | None:
    # FC (1) + DA (6) + SA (6), then 802.2 LLC/SNAP; some captures carry 3 bytes of padding before FC.
    for llc in (off + 13, off + 16):
        if llc + 8 <= end and buf[llc : llc + 3] == b"\xaa\xaa\x03":
            at = _ethertype_to_ip(_u16be(buf, llc + 6)[0], buf, llc + 8, end, rend, frame, skip, layers + 2, 0)
            return _ip_at(at, buf, end, frame, ts_ns, iface, skip)
    skip(frame, SkipReason.NOT_IP)
    return None


def _nflog(
    buf: bytes, off: int, end: int, rend: int, frame: int, ts_ns: int, iface: int, skip: _Skip, layers: int = 1
) -> Segment | None:
    """Linux NFLOG: a 4-byte header, then TLVs (length and type in host byte order); type 9 is the packet."""
    pos = off + 4
    while pos + 4 <= end:
        tlv_len = buf[pos] | (buf[pos + 1] << 8)
        tlv_type = buf[pos + 2] | (buf[pos + 3] << 8)
        if tlv_len < 4:
            break
        if tlv_type == 9:
            return _decode_ip(buf, pos + 4, min(end, pos + tlv_len), rend, frame, ts_ns, iface, skip, layers + 1)
        pos += (tlv_len + 3) & ~3
    skip(frame, SkipReason.NOT_IP)
    return None


def _ppi(
    buf: bytes, off: int, end: int, rend: int, frame: int, ts_ns: int, iface: int, skip: _Skip, layers: int = 1
) -> Segment | None:
    """Per-Packet Information header (little-endian length and inner DLT), then the inner frame
    ("ppi:pcap_pktdata:eth:...")."""
    if end - off < 8:
        skip(frame, SkipReason.TRUNCATED)
        return None
    hlen = buf[off + 2] | (buf[off + 3] << 8)
    inner = _DECODERS.get(_u32le(buf, off + 4)[0])
    if inner is None or _u32le(buf, off + 4)[0] == LT_PPI:
        skip(frame, SkipReason.UNSUPPORTED_LINK)
        return None
    return inner(buf, off + hlen, end, rend, frame, ts_ns, iface, skip, layers + 2)


def _ieee80211(
    buf: bytes, off: int, end: int, rend: int, frame: int, ts_ns: int, iface: int, skip: _Skip, layers: int = 1
) -> Segment | None:
    return _ip_at(_wlan_to_ip(buf, off, end, rend, frame, skip, layers, 0), buf, end, frame, ts_ns, iface, skip)


def _radiotap(
    buf: bytes, off: int, end: int, rend: int, frame: int, ts_ns: int, iface: int, skip: _Skip, layers: int = 1
) -> Segment | None:
    """Radiotap header (little-endian length at offset 2), then an 802.11 frame ("radiotap:wlan_radio:wlan")."""
    if end - off < 4:
        skip(frame, SkipReason.TRUNCATED)
        return None
    at = _wlan_to_ip(buf, off + (buf[off + 2] | (buf[off + 3] << 8)), end, rend, frame, skip, layers + 2, 0)
    return _ip_at(at, buf, end, frame, ts_ns, iface, skip)


def _arcnet_linux(
    buf: bytes, off: int, end: int, rend: int, frame: int, ts_ns: int, iface: int, skip: _Skip, layers: int = 1
) -> Segment | None:
    """Linux ARCNET: source, destination, 2-byte offset, protocol id; RFC 1201 adds split flag and sequence."""
    if end - off < 5:
        skip(frame, SkipReason.TRUNCATED)
        return None
    proto = buf[off + 4]
    if proto == 0xF0:  # RFC 1051 IP: no split flag or sequence number
        return _decode_ip(buf, off + 5, end, rend, frame, ts_ns, iface, skip, layers + 1)
    if proto in (0xD4, 0xC4) and end - off >= 8:  # RFC 1201 IPv4, IPv6
        hdr = 12 if buf[off + 5] == 0xFF else 8  # an exception packet repeats protocol and split flag
        return _decode_ip(buf, off + hdr, end, rend, frame, ts_ns, iface, skip, layers + 1)
    skip(frame, SkipReason.NOT_IP)
    return None


_DECODERS: dict[int, _LinkDecoder] = {
    LT_NULL: _null,
    LT_LOOP: _null,
    LT_ETHERNET: _eth,
    LT_LINUX_SLL: _sll,
    LT_LINUX_SLL2: _sll2,
    LT_RAW: _raw,
    LT_RAW_12: _raw,
    LT_RAW_14: _raw,
    LT_IPV4: _decode_ip,
    LT_IPV6: _decode_ip,
    LT_C_HDLC: _c_hdlc,
    LT_PPP: _ppp,
    LT_PPP_HDLC: _ppp,
    LT_FDDI: _fddi,
    LT_NFLOG: _nflog,
    LT_IPOIB: _ipoib,
    LT_PPI: _ppi,
    LT_IEEE802_11: _ieee80211,
    LT_RADIOTAP: _radiotap,
    LT_ARCNET_LINUX: _arcnet_linux,
}

SUPPORTED_LINKTYPES = frozenset(_DECODERS)


@functools.lru_cache(maxsize=64)  # bounded: a capture can name any of 65,536 link types
def _link_decoder(linktype: int) -> _LinkDecoder | None:
    """The decoder for a link type: a fused fast path for the common IPv4/TCP frames, else the layered one. Made
    once per link type and shared by every interface of that type (cached): an interface description costs a
    small tuple, not a closure and a ``struct.Struct`` of its own (a million descriptions in a 48 KB gzip file
    took 1.35 GB)."""
    slow = _DECODERS.get(linktype)
    if slow is None:
        return None
    layout = _FUSED_LAYOUTS.get(linktype)
    if layout is None:
        return slow
    link_len, etype_off = layout
    # One unpack for link type, IPv4 header (no options) and TCP fixed header: this is the per-packet hot path.
    if etype_off is None:
        unpack = struct.Struct("!BxHHHBB2x4s4sHHIIHH").unpack_from
        want_etype = None
    else:
        unpack = struct.Struct(f"!{etype_off}xH{link_len - etype_off - 2}xBxHHHBB2x4s4sHHIIHH").unpack_from
        want_etype = _ETH_IPV4
    need = link_len + 36

    def decode(
        buf: bytes, off: int, end: int, rend: int, frame: int, ts_ns: int, iface: int, skip: _Skip, layers: int = 1, /
    ) -> Segment | None:
        if end - off >= need:
            if want_etype is None:
                vihl, tl, ipid, frag, ttl, proto, src, dst, sport, dport, seq, ack, offflags, win = unpack(buf, off)
                etype = None
            else:
                etype, vihl, tl, ipid, frag, ttl, proto, src, dst, sport, dport, seq, ack, offflags, win = unpack(
                    buf, off
                )
            if etype == want_etype and vihl == 0x45 and proto == _PROTO_TCP and not frag & 0x1FFF and tl >= 40:
                ip_start = off + link_len
                iplen = rend - ip_start
                if tl < iplen:
                    iplen = tl
                hdr_len = (offflags >> 12) << 2
                seglen = iplen - 20 - hdr_len
                tcp_off = ip_start + 20
                data_off = tcp_off + hdr_len
                if hdr_len >= 20 and seglen >= 0 and data_off <= end:
                    seg = Segment(
                        frame,
                        ts_ns,
                        iface,
                        4,
                        src,
                        dst,
                        sport,
                        dport,
                        seq,
                        ack,
                        offflags & 0xFFF,
                        win,
                        hdr_len,
                        seglen,
                        ipid,
                        ttl,
                        buf[tcp_off + 20 : data_off] if hdr_len > 20 else b"",
                        buf[data_off : min(end, data_off + seglen)] if seglen else b"",
                    )
                    if offflags & 0x20:  # URG (rare): the urgent pointer, as _decode_tcp reads it
                        seg.urg_ptr = (buf[tcp_off + 18] << 8) | buf[tcp_off + 19]
                    return seg
        return slow(buf, off, end, rend, frame, ts_ns, iface, skip, layers)

    return decode


# Link types with a fixed-size header where IPv4 follows directly: (header length, EtherType offset or None).
_FUSED_LAYOUTS: dict[int, tuple[int, int | None]] = {
    LT_ETHERNET: (14, 12),
    LT_LINUX_SLL: (16, 14),
    LT_LINUX_SLL2: (20, 0),
    LT_RAW: (0, None),
    LT_RAW_12: (0, None),
    LT_RAW_14: (0, None),
    LT_IPV4: (0, None),
}
