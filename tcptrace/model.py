"""The nouns every other module shares: TCP flags, options, the decoded segment, roles and directions.

A :class:`Segment` is what the capture reader makes of one TCP packet. It is deliberately a mutable
``__slots__`` record rather than a frozen dataclass: the reader fills the wire fields and the flow tracker then
fills the per-stream fields (``stream``, relative ``seq``/``ack``, scaled ``win``) in place, so the hot loop
allocates one object per packet and no more. Field names follow Wireshark: ``seq`` is relative, ``seq_raw`` is
the wire value; ``win`` is scaled (``tcp.window_size``), ``win_raw`` is the header field.
"""

from __future__ import annotations

import enum
import ipaddress
import socket
import struct
from dataclasses import dataclass, field
from typing import Any, TypeGuard


class TcpFlags(enum.IntFlag):
    """The nine TCP header flags (RFC 9293 §3.1, RFC 3168 for ECE/CWR, RFC 3540 for NS)."""

    FIN = 0x001
    SYN = 0x002
    RST = 0x004
    PSH = 0x008
    ACK = 0x010
    URG = 0x020
    ECE = 0x040
    CWR = 0x080
    NS = 0x100


FIN, SYN, RST, PSH, ACK, URG, ECE, CWR, NS = (int(f) for f in TcpFlags)

# Wireshark lists flags from the lowest bit up ("FIN, ACK", "SYN, ACK", "PSH, ACK"); so do we.
_FLAG_ORDER: tuple[tuple[int, str], ...] = tuple((int(f), f.name or "") for f in TcpFlags)
_FLAG_NAMES_CACHE: dict[int, tuple[str, ...]] = {}


def flag_names(flags: int) -> tuple[str, ...]:
    """Names of the flags set in ``flags``, in Wireshark's order, e.g. ``("SYN", "ACK")``."""
    names = _FLAG_NAMES_CACHE.get(flags)
    if names is None:
        names = tuple(name for bit, name in _FLAG_ORDER if flags & bit)
        _FLAG_NAMES_CACHE[flags] = names
    return names


class Role(enum.Enum):
    """Which side of a connection an endpoint is."""

    CLIENT = "client"
    SERVER = "server"


class Direction(enum.IntEnum):
    """Direction of a segment within its stream."""

    C2S = 0  # client to server
    S2C = 1  # server to client

    @property
    def reverse(self) -> Direction:
        return Direction(1 - self.value)


class SkipReason(str, enum.Enum):
    """Why a frame did not yield a TCP segment. Every frame is either analysed or counted under one of these
    (docs/limits.md, "Why a frame is not a TCP segment")."""

    NOT_IP = "not IP"
    NOT_TCP = "not TCP"
    ICMP_QUOTE = "TCP header quoted in an ICMP error"
    FRAGMENT = "IP fragment without the TCP header"
    TRUNCATED = "cut by the snap length before the TCP ports and sequence numbers"
    MALFORMED = "malformed"
    UNSUPPORTED_LINK = "unsupported link type"
    TOO_DEEP = "nested deeper than Wireshark decodes"  # capture.MAX_LAYERS protocol layers, MAX_VLAN_TAGS tags
    COMPRESSED = "IP payload compressed (IPComp)"
    OUT_OF_TIME_RANGE = "outside the time range (--start/--end)"  # tcptrace.sources.TimeRange


# TCP option kinds (IANA "TCP Option Kind Numbers").
OPT_EOL, OPT_NOP, OPT_MSS, OPT_WSCALE, OPT_SACK_PERM, OPT_SACK, OPT_TIMESTAMP = 0, 1, 2, 3, 4, 5, 8
MAX_WSCALE = 14  # RFC 7323 §2.3: a shift above 14 is treated as 14 (Wireshark does the same)


@dataclass(frozen=True)
class TcpOptions:
    """Decoded TCP options. Options tcptrace does not interpret are kept raw in ``other``.

    ``malformed`` is set when an option's length byte is impossible or its body has the wrong size for its
    kind; ``truncated`` when the snap length cut the option area. Neither ever raises.
    """

    mss: int | None = None
    wscale: int | None = None
    sack_permitted: bool = False
    sack: tuple[tuple[int, int], ...] = ()
    tsval: int | None = None
    tsecr: int | None = None
    other: tuple[tuple[int, bytes], ...] = ()
    malformed: bool = False
    truncated: bool = False
    kinds: tuple[int, ...] = field(default=())

    def describe(self) -> list[str]:
        """Short human-readable list, Wireshark style: ``["MSS=1460", "SACK_PERM", "TSval=1 TSecr=0", "WS=128"]``."""
        out: list[str] = []
        if self.mss is not None:
            out.append(f"MSS={self.mss}")
        if self.sack_permitted:
            out.append("SACK_PERM")
        if self.tsval is not None:
            out.append(f"TSval={self.tsval} TSecr={self.tsecr}")
        if self.wscale is not None:
            out.append(f"WS={1 << min(self.wscale, MAX_WSCALE)}")
        for left, right in self.sack:
            out.append(f"SLE={left} SRE={right}")
        return out


EMPTY_OPTIONS = TcpOptions()
_TS_ONLY_PREFIX = b"\x01\x01\x08\x0a"  # NOP NOP TS(10): what Linux puts on almost every segment


def parse_options(data: bytes, declared_len: int) -> TcpOptions:
    """Decode TCP option bytes. ``declared_len`` is the option area size from the data offset field.

    ``data`` may be shorter than ``declared_len`` when the snap length cut the header; whatever is complete is
    decoded. Malformed options (length < 2, running past the area, wrong size for the kind) stop decoding and
    set ``malformed``; they never raise.
    """
    truncated = len(data) < declared_len
    if len(data) == 12 and data.startswith(_TS_ONLY_PREFIX):
        tsval, tsecr = struct.unpack_from("!II", data, 4)
        return TcpOptions(tsval=tsval, tsecr=tsecr, kinds=(OPT_NOP, OPT_NOP, OPT_TIMESTAMP))
    mss: int | None = None
    wscale: int | None = None
    sack_perm = False
    sack: list[tuple[int, int]] = []
    tsval_o: int | None = None
    tsecr_o: int | None = None
    other: list[tuple[int, bytes]] = []
    kinds: list[int] = []
    malformed = False
    i, n = 0, len(data)
    while i < n:
        kind = data[i]
        kinds.append(kind)
        if kind == OPT_EOL:
            break
        if kind == OPT_NOP:
            i += 1
            continue
        if i + 1 >= n:  # length byte cut off by the snap length (or missing)
            truncated = truncated or n < declared_len
            malformed = malformed or n >= declared_len
            break
        olen = data[i + 1]
        if olen < 2:
            malformed = True
            break
        if i + olen > n:
            if n < declared_len:
                truncated = True
            else:
                malformed = True
            break
        body = data[i + 2 : i + olen]
        blen = olen - 2
        if kind == OPT_MSS and blen == 2:
            mss = (body[0] << 8) | body[1]
        elif kind == OPT_WSCALE and blen == 1:
            wscale = body[0]
        elif kind == OPT_SACK_PERM and blen == 0:
            sack_perm = True
        elif kind == OPT_SACK and blen > 0 and blen % 8 == 0:
            vals = struct.unpack(f"!{blen // 4}I", body)
            sack.extend(zip(vals[0::2], vals[1::2], strict=False))
        elif kind == OPT_TIMESTAMP and blen == 8:
            tsval_o, tsecr_o = struct.unpack("!II", body)
        elif kind in (OPT_MSS, OPT_WSCALE, OPT_SACK_PERM, OPT_SACK, OPT_TIMESTAMP):
            malformed = True  # known kind with an impossible length
            other.append((kind, body))
        else:
            other.append((kind, body))
        i += olen
    return TcpOptions(
        mss=mss,
        wscale=wscale,
        sack_permitted=sack_perm,
        sack=tuple(sack),
        tsval=tsval_o,
        tsecr=tsecr_o,
        other=tuple(other),
        malformed=malformed,
        truncated=truncated,
        kinds=tuple(kinds),
    )


_ADDR_CACHE: dict[bytes, str] = {}


def format_addr(addr: bytes) -> str:
    """Text form of a 4- or 16-byte address (IPv6 compressed as Wireshark shows it); cached."""
    s = _ADDR_CACHE.get(addr)
    if s is None:
        s = socket.inet_ntop(socket.AF_INET, addr) if len(addr) == 4 else str(ipaddress.IPv6Address(addr))
        if len(_ADDR_CACHE) < 1 << 16:
            _ADDR_CACHE[addr] = s
    return s


def format_endpoint(addr: bytes, port: int) -> str:
    """``10.0.0.1:80`` or ``[fd00::1]:80``."""
    text = format_addr(addr)
    return f"[{text}]:{port}" if len(addr) == 16 else f"{text}:{port}"


class Segment:
    """One TCP segment as captured, plus the per-stream numbers the flow tracker fills in.

    Wire fields (set by the capture reader): ``frame`` (1-based over all frames, as ``frame.number``),
    ``ts_ns`` (integer nanoseconds since the epoch), ``interface``, ``ip_version``, ``src``/``dst`` (raw address
    bytes), ``sport``/``dport``, ``seq_raw``/``ack_raw``, ``flags``, ``win_raw``, ``hdr_len`` (TCP header bytes
    from the data offset), ``len`` (payload length from the IP length fields, like ``tcp.len``), ``ip_id``
    (IPv4 identification, ``-1`` for IPv6), ``ttl`` (TTL / hop limit), ``opt_bytes`` (option bytes as captured),
    ``payload`` (payload bytes as captured, possibly fewer than ``len``), ``header_truncated`` (the snap length
    cut the TCP header after the fixed part), ``header_error`` (0, or a header Wireshark dissects only in part:
    ``vocab.HDR_BOGUS_LENGTH``, a data offset below 5 words, ``len`` counted from it; ``vocab.HDR_SHORT_SEGMENT``,
    a header longer than the IP payload, ``len`` 0 and no relative numbers).

    Stream fields (set by :class:`tcptrace.flow.FlowTracker`): ``stream``, ``direction``, ``seq``/``ack``
    (relative, as ``tcp.seq``/``tcp.ack``), ``win`` (scaled, as ``tcp.window_size``), ``win_scale`` (the shift
    used: ``-1`` unknown, ``-2`` scaling not in use, as ``tcp.window_size_scalefactor``'s exponent).
    """

    __slots__ = (
        "_options",
        "ack",
        "ack_raw",
        "ack_rtt_ns",
        "acks_frame",
        "analysis",
        "bytes_in_flight",
        "client_state",
        "direction",
        "dport",
        "dst",
        "duplicate_of",
        "evidence",
        "flags",
        "frame",
        "hdr_len",
        "header_error",
        "header_truncated",
        "interface",
        "ip_id",
        "ip_version",
        "len",
        "opt_bytes",
        "payload",
        "phase",
        "rst_info",  # an RST's (sender state before it, cause), set by stats.FlowSummary; unset on other segments
        "rto_frame",
        "rto_ns",
        "seq",
        "seq_raw",
        "server_state",
        "settles",  # set by the C engine's packets pass only (vocab.ENGINE_SEGMENT_FIELDS; engine.PacketStream)
        "sport",
        "src",
        "stream",
        "ts_ns",
        "ttl",
        "urg_ptr",
        "win",
        "win_raw",
        "win_scale",
    )

    # Set by tcptrace.stats.FlowSummary on an RST only (absent on every other segment):
    rst_info: tuple[str, str]  # the sender's state before it, and why it was sent (vocab.RST_CAUSES)

    # Set by tcptrace.analysis (absent until a segment has been analysed):
    analysis: int  # bitmask of tcptrace.analysis.A_* flags
    evidence: dict[str, Any] | None  # per flag: the frame it refers to and why it fired
    acks_frame: int  # frame whose data this ACK acknowledges (0: none), as tcp.analysis.acks_frame
    ack_rtt_ns: int  # time since that frame (-1: none), as tcp.analysis.ack_rtt
    rto_ns: int  # retransmission timeout observed (-1: not a retransmission), as tcp.analysis.rto
    rto_frame: int  # the segment the RTO is measured from
    bytes_in_flight: int  # unacknowledged bytes after this segment (-1: not reported)
    duplicate_of: int  # frame this is a hardware duplicate of (0: not a duplicate)
    client_state: str  # RFC 9293 state of the client after this segment
    server_state: str
    phase: str  # handshake, data, teardown, reset
    settles: bool  # (the C engine's packets pass only) its stream's online view lets it settle the states

    def __init__(
        self,
        frame: int,
        ts_ns: int,
        interface: int,
        ip_version: int,
        src: bytes,
        dst: bytes,
        sport: int,
        dport: int,
        seq_raw: int,
        ack_raw: int,
        flags: int,
        win_raw: int,
        hdr_len: int,
        length: int,
        ip_id: int,
        ttl: int,
        opt_bytes: bytes,
        payload: bytes,
        header_truncated: bool = False,
        header_error: int = 0,
    ) -> None:
        self.frame = frame
        self.ts_ns = ts_ns
        self.interface = interface
        self.ip_version = ip_version
        self.src = src
        self.dst = dst
        self.sport = sport
        self.dport = dport
        self.seq_raw = seq_raw
        self.ack_raw = ack_raw
        self.flags = flags
        self.win_raw = win_raw
        self.hdr_len = hdr_len
        self.len = length
        self.ip_id = ip_id
        self.ttl = ttl
        self.opt_bytes = opt_bytes
        self.payload = payload
        self.header_truncated = header_truncated
        self.header_error = header_error
        self._options: TcpOptions | None = None
        self.urg_ptr = 0  # the urgent pointer, read by the decoder only when URG is set
        self.stream = -1
        self.direction = Direction.C2S
        self.seq = seq_raw
        self.ack = ack_raw
        self.win = win_raw
        self.win_scale = -1

    @property
    def options(self) -> TcpOptions:
        """The decoded TCP options (decoded on first use and cached)."""
        opts = self._options
        if opts is None:
            declared = self.hdr_len - 20
            opts = parse_options(self.opt_bytes, declared) if declared > 0 else EMPTY_OPTIONS
            self._options = opts
        return opts

    @property
    def time(self) -> float:
        """Capture time in epoch seconds (float; use ``ts_ns`` for exact arithmetic)."""
        return self.ts_ns / 1e9

    @property
    def flag_names(self) -> tuple[str, ...]:
        return flag_names(self.flags)

    @property
    def src_text(self) -> str:
        return format_addr(self.src)

    @property
    def dst_text(self) -> str:
        return format_addr(self.dst)

    @property
    def captured_len(self) -> int:
        """Payload bytes actually present in the capture (``len`` minus what the snap length cut)."""
        return len(self.payload)

    def __repr__(self) -> str:
        return (
            f"<Segment frame={self.frame} stream={self.stream} "
            f"{format_endpoint(self.src, self.sport)} > {format_endpoint(self.dst, self.dport)} "
            f"[{', '.join(self.flag_names)}] seq={self.seq} ack={self.ack} len={self.len} win={self.win}>"
        )


class PlainRun:
    """A stream's consecutive plain segments, counted by the C engine instead of handed out one by one (its
    packets pass with ``Engine.plain_runs``, what ``explain`` reads when it words no segment on its own).

    Plain: an ordinary data segment or ACK in ESTABLISHED that :mod:`tcptrace.events` would make an ordinary,
    not notable event of (nothing flagged, no SACK, new bytes right after the highest sent, not a side's first
    data or ACK, nothing the classifier remembers), after at least ``COLLAPSE_MIN_RUN - 1`` such segments in a
    row handed out whole: so :func:`tcptrace.narrate._collapse` always counts a run into a summary step, as it
    would have counted its segments. What the classifier and the summary step read of the segments a run
    stands for is in it (``vocab.ENGINE_RUN_RECORD``; per-direction fields are ``(client, server)`` pairs):

    * counts, bytes and times per side (the summary step's sentence and facts), the ACKs that acknowledged new
      data (``acked_new``), each side's highest ack, last ack, last window (the classifier's running state);
    * each side's last segment ``(frame, len, flags, ack, ts_ns, acks_frame)`` and last data segment
      ``(frame, len, ts_ns)`` (Nagle's look-back), its trailing data segments without PSH of one length
      (``trail_len``, ``trail_count``: the "one write split into full segments" look-back), its trailing
      segments with one ack (``ack_trail``, their first pure ACK ``ack_origin``, ``ack_trail_n``: the duplicate
      ACKs' origin);
    * per side, its data segments' first byte, end, frame and time as native int64 arrays (``starts``, ``ends``,
      ``frames``, ``times``: the bytes a retransmission re-sends were first carried by one of them).

    It answers the attributes a scan over a stream's segments reads (``frame`` is its first frame, ``ts_ns`` its
    last time, no flags but ACK, no payload, no direction) so that those scans pass over it."""

    __slots__ = (
        "ack_origin", "ack_trail", "ack_trail_n", "acked_new", "client_state", "data_bytes", "data_segments", "ends",
        "first_data_ts", "first_ts", "first_ts_dir", "frame", "frames", "last_ack_raw", "last_data", "last_data_ts",
        "last_frame", "last_seg", "last_ts_dir", "last_win", "max_ack", "packets", "segments", "server_state",
        "starts", "stream", "times", "trail_count", "trail_len", "ts_ns",
    )  # fmt: skip

    direction = -1
    flags = ACK
    analysis = 0
    header_error = 0
    payload = b""
    evidence = None
    phase = "data"

    def __init__(self, rec: Any) -> None:
        self.stream: int = rec.stream
        self.frame: int = rec.first_frame
        self.last_frame: int = rec.last_frame
        self.first_ts: int = rec.first_ts
        self.ts_ns: int = rec.last_ts
        self.packets: int = rec.packets
        pair = tuple[int, int]
        self.segments: pair = rec.segments
        self.data_segments: pair = rec.data_segments
        self.data_bytes: pair = rec.data_bytes
        self.first_ts_dir: pair = rec.first_ts_dir
        self.last_ts_dir: pair = rec.last_ts_dir
        self.first_data_ts: pair = rec.first_data_ts
        self.last_data_ts: pair = rec.last_data_ts
        self.acked_new: pair = rec.acked_new
        self.max_ack: pair = rec.max_ack
        self.last_ack_raw: pair = rec.last_ack_raw
        self.last_win: pair = rec.last_win
        self.last_seg: tuple[tuple[int, int, int, int, int, int] | None, ...] = rec.last_seg
        self.last_data: tuple[tuple[int, int, int] | None, ...] = rec.last_data
        self.trail_len: pair = rec.trail_len
        self.trail_count: pair = rec.trail_count
        self.ack_trail: pair = rec.ack_trail
        self.ack_origin: pair = rec.ack_origin
        self.ack_trail_n: pair = rec.ack_trail_n
        self.starts: tuple[bytes, bytes] = rec.starts
        self.ends: tuple[bytes, bytes] = rec.ends
        self.frames: tuple[bytes, bytes] = rec.frames
        self.times: tuple[bytes, bytes] = rec.times
        self.client_state = self.server_state = "ESTABLISHED"  # resolve_states sets them

    def __getstate__(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in PlainRun.__slots__)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        for name, value in zip(PlainRun.__slots__, state, strict=True):
            setattr(self, name, value)

    def __repr__(self) -> str:
        return f"PlainRun(stream={self.stream}, frames {self.frame}-{self.last_frame}, {self.packets} packets)"


def is_run(item: object) -> TypeGuard[PlainRun]:
    """Whether a stream's item is a plain run (the C engine's count of plain segments) rather than a Segment."""
    return type(item) is PlainRun
