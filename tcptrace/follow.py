"""Follow a TCP stream: the bytes each side's application read, in order, with what the capture lacks marked.

Theory of operation. A :class:`Reassembler` is fed one stream's segments in capture order and keeps, per
direction, only the payload: pieces of the byte stream, each the new bytes of one segment, in a list sorted by
stream offset. A segment is placed by its sequence number (modulo 2**32, tcptrace.seqnum), so retransmissions
and out-of-order segments land where the receiver would put them. Where copies overlap, **the first captured
copy wins** (the later one only adds its frame number to the piece's ``frames``); when the copies' bytes differ,
a :class:`Conflict` names both frames. Payload the snap length cut off is remembered as such. When the input
ends, :meth:`Reassembler.finish` walks each direction from offset 0 to its end and gives the typed facts of
:class:`FollowedStream`: :class:`Chunk` (bytes, the frame whose copy is shown, every frame that carried them),
:class:`Gap` (bytes the stream had that the capture lacks: ``lost``, never captured, or ``snap``, cut by the
snap length; with the frames around it), :class:`Conflict` and :class:`Ignored` (payload a receiver does not
deliver: on an RST, or before the stream's first byte).

Where the stream starts: offset 0 is the byte after the SYN when the SYN was captured; else where an
acknowledgement the receiver sent before any data was captured says it had read to (data below it had been read
before the capture began); else the lowest sequence number a captured segment carries (within 2**30 of the
first one: a wilder number is a damaged segment, not data). Where it ends: the furthest of the last byte
carried, the FIN, and what the receiver acknowledged (data acknowledged but never captured is a ``lost`` gap
at the tail, as Wireshark's "[n bytes missing in capture file]"). How this differs from Wireshark's Follow TCP
Stream: docs/follow.md.

Rendering (text, hex, raw, json) is below the reassembly and reads only the facts; the CLI and the notebook API
(:meth:`tcptrace.api.Flow.payload`, :meth:`tcptrace.api.Flow.follow`) call :func:`follow` or
:func:`reassemble`.
"""

from __future__ import annotations

import base64
import bisect
import itertools
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Literal, NamedTuple

from .messages import LANGUAGES
from .model import ACK, FIN, RST, SYN, Direction, Segment, format_endpoint
from .output import printable
from .seqnum import MASK, diff

DirectionName = Literal["c2s", "s2c"]
DIRECTIONS: tuple[DirectionName, DirectionName] = ("c2s", "s2c")
GapKind = Literal["lost", "snap"]
GAP_WORDS: dict[str, str] = {"lost": "lost (never captured)", "snap": "not captured (snap length)"}
_RST_PAYLOAD = "payload of an RST is not delivered"
_BEFORE = "before the stream's first byte (the byte after the SYN, or what the receiver had acknowledged)"
_PLAUSIBLE = 1 << 30  # an acknowledgement further than this past the data is not taken as data lost at the tail


# --- the facts -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Chunk:
    """Bytes of one direction, carried by one segment: ``data`` from frame ``frame`` (the first captured copy),
    at stream ``offset`` (0 = the first byte after the SYN). ``frames`` is every frame that carried any of these
    bytes, ``frame`` first, then retransmitted copies in capture order."""

    direction: DirectionName
    offset: int
    data: bytes
    frame: int
    frames: tuple[int, ...]
    ts_ns: int

    @property
    def length(self) -> int:
        return len(self.data)

    @property
    def end(self) -> int:
        return self.offset + len(self.data)


@dataclass(frozen=True)
class Gap:
    """``length`` bytes at stream ``offset`` that the receiver got but the capture does not show: ``lost`` (no
    captured frame carried them; ``frames`` are the frames whose data ends before and starts after the gap, where
    there are such) or ``snap`` (carried by ``frames``, whose payload the snap length cut). ``at`` is where the
    gap falls in :attr:`Payload.data` (the delivered bytes without the gaps)."""

    direction: DirectionName
    offset: int
    length: int
    kind: GapKind
    frames: tuple[int, ...]
    at: int = 0

    @property
    def end(self) -> int:
        return self.offset + self.length

    @property
    def words(self) -> str:
        return GAP_WORDS[self.kind]


@dataclass(frozen=True)
class Conflict:
    """Two captured copies of the same stream bytes that differ: ``kept_frame``'s copy (the first) is in the
    stream, ``other_frame``'s is not. ``offset``/``length`` span the differing bytes."""

    direction: DirectionName
    offset: int
    length: int
    kept_frame: int
    other_frame: int


@dataclass(frozen=True)
class Ignored:
    """Captured payload that is not part of the byte stream the application reads: ``reason`` says why."""

    direction: DirectionName
    frame: int
    length: int
    reason: str


class Payload(NamedTuple):
    """One direction's byte stream: ``data`` (the bytes the capture shows, in stream order, gaps left out) and
    ``gaps`` (each with its stream ``offset`` and its position ``at`` in ``data``)."""

    data: bytes
    gaps: tuple[Gap, ...]


@dataclass(frozen=True)
class HalfStream:
    """One direction of a followed stream, in stream order: chunks and gaps, and what was noticed on the way."""

    direction: DirectionName
    sender: str  # endpoint text, e.g. 10.0.0.1:40000
    receiver: str
    items: tuple[Chunk | Gap, ...] = ()
    conflicts: tuple[Conflict, ...] = ()
    ignored: tuple[Ignored, ...] = ()
    syn_seen: bool = False
    fin_offset: int | None = None  # where the FIN sits in the stream, when one was captured

    @property
    def chunks(self) -> tuple[Chunk, ...]:
        return tuple(i for i in self.items if isinstance(i, Chunk))

    @property
    def gaps(self) -> tuple[Gap, ...]:
        return tuple(i for i in self.items if isinstance(i, Gap))

    @property
    def data(self) -> bytes:
        """The captured bytes in stream order, gaps left out."""
        return b"".join(c.data for c in self.chunks)

    @property
    def length(self) -> int:
        """The stream's length: captured bytes and gaps."""
        return self.items[-1].end if self.items else 0

    def bytes_in(self, kind: GapKind) -> int:
        return sum(g.length for g in self.gaps if g.kind == kind)

    def payload(self) -> Payload:
        return Payload(self.data, self.gaps)


@dataclass(frozen=True)
class FollowedStream:
    """A stream followed both ways: ``c2s`` (client to server) and ``s2c`` :class:`HalfStream` objects.

    >>> fs = follow("sample_pcaps/echo_ipv4.pcap", 0)
    >>> fs.payload("c2s")
    Payload(data=b'AB', gaps=())
    >>> [(type(i).__name__, i.direction, i.frame) for i in fs.items()]
    [('Chunk', 'c2s', 6), ('Chunk', 's2c', 8)]
    """

    stream: int
    client: str
    server: str
    c2s: HalfStream
    s2c: HalfStream
    order: tuple[tuple[int, DirectionName, int], ...] = field(default=(), repr=False)  # (key, direction, index)

    def half(self, direction: DirectionName) -> HalfStream:
        if direction not in DIRECTIONS:
            raise ValueError(f"direction is 'c2s' or 's2c', not {direction!r}")
        return self.c2s if direction == "c2s" else self.s2c

    def payload(self, direction: DirectionName) -> Payload:
        """The bytes ``direction``'s receiver read (gaps left out) and the gaps: ``data, gaps = fs.payload("c2s")``."""
        return self.half(direction).payload()

    def items(self, direction: DirectionName | Literal["both"] = "both") -> list[Chunk | Gap]:
        """Chunks and gaps of one direction in stream order, or of both interleaved in capture order: each item
        placed at the frame that made it readable (the latest frame among those before it in its direction), as
        Wireshark's Follow TCP Stream shows a conversation."""
        if direction != "both":
            return list(self.half(direction).items)
        halves = {"c2s": self.c2s.items, "s2c": self.s2c.items}
        return [halves[d][i] for _, d, i in self.order]

    @property
    def conflicts(self) -> tuple[Conflict, ...]:
        return self.c2s.conflicts + self.s2c.conflicts

    def text(self, direction: DirectionName | Literal["both"] = "both") -> str:
        """The text view (:func:`render_text`) as one string."""
        return "\n".join(render_text(self, direction))

    def __str__(self) -> str:
        return self.text()

    def _repr_html_(self) -> str:
        return render_html(self)

    @property
    def ignored(self) -> tuple[Ignored, ...]:
        return self.c2s.ignored + self.s2c.ignored


# --- reassembly ------------------------------------------------------------------------------------------------


class _Piece:
    """New bytes of one segment at [start, start + len(data)) relative to the direction's provisional anchor."""

    __slots__ = ("data", "end", "frame", "frames", "start", "ts_ns")

    def __init__(self, start: int, data: bytes, frame: int, ts_ns: int) -> None:
        self.start = start
        self.end = start + len(data)
        self.data = data
        self.frame = frame
        self.ts_ns = ts_ns
        self.frames: list[int] = [frame]


class _Half:
    """One direction's pieces, sorted by start; offsets are signed distances from ``anchor`` (the first sequence
    number placed) until :meth:`finish` knows where the stream starts."""

    def __init__(self, direction: DirectionName, rst_payload: bool = False) -> None:
        self.direction = direction
        self.rst_payload = rst_payload  # place an RST's payload in the stream (as Wireshark's Follow does)
        self.anchor: int | None = None  # a raw sequence number: offsets below count from it
        self.syns: list[int] = []  # the offsets of the byte after each SYN (two when a SYN/ACK came with a new ISN)
        self.pieces: list[_Piece] = []
        self.starts: list[int] = []
        self.snap: list[tuple[int, int, int]] = []  # (start, end, frame): payload the snap length cut
        self.fin: int | None = None  # offset of the FIN
        self.acked: int | None = None  # furthest offset the other side acknowledged
        self.first_ack: int | None = None  # the other side's acknowledgement before any data: where it had read to
        self.first_data: int | None = None  # where the first segment with data (in capture order) starts
        self.conflicts: list[Conflict] = []
        self.ignored: list[Ignored] = []

    def offset(self, raw: int) -> int:
        if self.anchor is None:
            self.anchor = raw
        return diff(raw, self.anchor)

    def add(self, seg: Segment) -> None:
        flags = seg.flags
        first = (seg.seq_raw + 1) & MASK if flags & SYN else seg.seq_raw
        if flags & SYN:
            nxt = self.offset(first)
            if nxt not in self.syns:
                self.syns.append(nxt)
        n = seg.len
        if n > 0 and flags & RST and not self.rst_payload:
            # RFC 9293 §3.10.7.4 checks the RST bit before the text and stops; Linux discards the segment
            # (tcp_validate_incoming -> tcp_reset): an RST's payload never reaches the application (Wireshark's
            # Follow shows it; docs/follow.md)
            self.ignored.append(Ignored(self.direction, seg.frame, n, _RST_PAYLOAD))
            return
        if n > 0:
            start = self.offset(first)
            if self.first_data is None:
                self.first_data = start
            captured = seg.payload[:n]
            if len(captured) < n:
                self.snap.append((start + len(captured), start + n, seg.frame))
            if captured:
                self._place(start, captured, seg.frame, seg.ts_ns)
        if flags & FIN:
            end = self.offset((first + n) & MASK)
            if self.fin is None or end > self.fin:
                self.fin = end

    def acknowledged(self, ack_raw: int) -> None:
        off = self.offset(ack_raw)
        if self.first_ack is None and self.first_data is None:
            self.first_ack = off
        if self.acked is None or off > self.acked:
            self.acked = off

    def _place(self, start: int, data: bytes, frame: int, ts_ns: int) -> None:
        pieces, starts = self.pieces, self.starts
        end = start + len(data)
        if not pieces or start >= pieces[-1].end:  # the usual case: in order, new bytes
            pieces.append(_Piece(start, data, frame, ts_ns))
            starts.append(start)
            return
        i = max(bisect.bisect_right(starts, start) - 1, 0)
        cursor = start
        new: list[_Piece] = []
        while i < len(pieces) and pieces[i].start < end:
            p = pieces[i]
            i += 1
            if p.end <= cursor:
                continue
            if p.start > cursor:  # bytes nobody carried before: this copy is the first
                new.append(_Piece(cursor, data[cursor - start : p.start - start], frame, ts_ns))
            lo, hi = max(p.start, cursor), min(p.end, end)
            if hi > lo:
                if frame not in p.frames:
                    p.frames.append(frame)
                mine, theirs = data[lo - start : hi - start], p.data[lo - p.start : hi - p.start]
                if mine != theirs:
                    first = next(k for k in range(hi - lo) if mine[k] != theirs[k])
                    last = next(k for k in range(hi - lo - 1, -1, -1) if mine[k] != theirs[k])
                    self.conflicts.append(Conflict(self.direction, lo + first, last - first + 1, p.frame, frame))
            cursor = max(cursor, hi)
        if cursor < end:
            new.append(_Piece(cursor, data[cursor - start :], frame, ts_ns))
        for p in new:
            k = bisect.bisect_left(starts, p.start)
            starts.insert(k, p.start)
            pieces.insert(k, p)

    def _base(self) -> int:
        """Where the stream starts (offset 0): the byte after the SYN (of several SYNs with different ISNs, the
        last one at or before the first data, which the data follows); without the SYN, where an acknowledgement
        the receiver sent before any data was captured says it had read to (when data follows it), else the lowest
        start within the largest window (RFC 7323's 2**30) before the first data segment (data sent earlier,
        captured out of order)."""
        if self.syns:
            if self.first_data is None:
                return self.syns[0]
            below = [n for n in self.syns if n <= self.first_data]
            if below:
                return max(below)
            # every SYN lies past the data: not this data's SYN (a damaged or rewritten capture); go by the rest
        ack = self.first_ack
        if ack is not None and (not self.pieces or self.pieces[-1].end > ack):
            return ack
        starts = [p.start for p in self.pieces] + [s for s, _, _ in self.snap]
        if self.first_data is None or not starts:
            return ack if ack is not None else 0
        return min(s for s in starts if s >= self.first_data - _PLAUSIBLE)

    def finish(self, sender: str, receiver: str) -> tuple[HalfStream, list[int]]:
        """The direction's facts, and for each item the frame that made it readable (for interleaving)."""
        if self.anchor is None:
            return HalfStream(self.direction, sender, receiver, ignored=tuple(self.ignored),
                              syn_seen=bool(self.syns)), []  # fmt: skip
        base = self._base()
        d = self.direction
        ignored = list(self.ignored)
        items: list[Chunk | Gap] = []
        ready: list[int] = []  # per item: the frame at which it became readable
        snap = sorted((s - base, e - base, f) for s, e, f in self.snap)
        merged: list[tuple[int, int, tuple[int, ...]]] = []  # overlapping cut ranges as one, with all their frames
        for s, e, f in snap:
            if merged and s <= merged[-1][1]:
                ms, me, mf = merged[-1]
                merged[-1] = (ms, max(me, e), mf if f in mf else (*mf, f))
            else:
                merged.append((s, e, (f,)))
        end = max([p.end - base for p in self.pieces[-1:]] + [e for _, e, _ in snap] + [0])
        fin = None if self.fin is None else self.fin - base
        if fin is not None and 0 <= fin < _PLAUSIBLE:
            end = max(end, fin)
        if self.acked is not None:
            acked = self.acked - base
            if fin is not None and 0 <= fin < acked:
                acked = fin  # the FIN takes one sequence number, not a byte of data
            if end < acked <= end + _PLAUSIBLE:
                end = acked
        cursor = 0
        at = 0
        latest = 0
        prev_frame: int | None = None

        ends = [e for _, e, _ in merged]  # increasing: the merged ranges are sorted and apart

        def gap(lo: int, hi: int, next_frame: int | None) -> None:
            pos = lo
            # from the first cut range that ends past lo (a bisection: a capture whose every segment the snap length
            # cut has as many ranges as segments, and a gap before each)
            for s, e, frames in itertools.islice(merged, bisect.bisect_right(ends, pos), None):
                if s >= hi:
                    break
                if s > pos:
                    lost(pos, s, next_frame)
                s, e = max(s, pos), min(e, hi)
                items.append(Gap(d, s, e - s, "snap", frames, at))
                ready.append(max(latest, *frames))
                pos = e
            if pos < hi:
                lost(pos, hi, next_frame)

        def lost(lo: int, hi: int, next_frame: int | None) -> None:
            frames = tuple(f for f in (prev_frame, next_frame) if f is not None)
            items.append(Gap(d, lo, hi - lo, "lost", frames, at))
            ready.append(max([latest, *frames]))

        for p in self.pieces:
            start, stop = p.start - base, p.end - base
            if stop <= 0:
                ignored.append(Ignored(d, p.frame, len(p.data), _BEFORE))
                continue
            data = p.data
            if start < 0:
                ignored.append(Ignored(d, p.frame, -start, _BEFORE))
                data, start = data[-start:], 0
            if start > cursor:
                gap(cursor, start, p.frame)
            latest = max(latest, p.frame)
            items.append(Chunk(d, start, data, p.frame, tuple(p.frames), p.ts_ns))
            ready.append(latest)
            at += len(data)
            cursor = stop
            prev_frame = p.frame
        if cursor < end:
            gap(cursor, end, None)
        # merged, the snap-length gaps' frames can be out of order with the chunks': keep each direction's order
        for k in range(1, len(ready)):
            ready[k] = max(ready[k], ready[k - 1])
        conflicts = tuple(Conflict(c.direction, c.offset - base, c.length, c.kept_frame, c.other_frame)
                          for c in self.conflicts)  # fmt: skip
        half = HalfStream(d, sender, receiver, tuple(items), conflicts, tuple(ignored), bool(self.syns),
                          fin)  # fmt: skip
        return half, ready


class Reassembler:
    """Feed one stream's analysed segments in capture order (:meth:`add`), then :meth:`finish`.

    Memory: the stream's payload, once (retransmitted copies are compared and dropped), and a few numbers per
    segment that carried new bytes.
    """

    def __init__(self, stream: int = -1, client: str = "", server: str = "", *, rst_payload: bool = False) -> None:
        self.stream = stream
        self.client = client
        self.server = server
        self.halves = (_Half("c2s", rst_payload), _Half("s2c", rst_payload))

    def add(self, seg: Segment) -> None:
        if seg.header_error:  # packet-tcp.c stops before the follow tap when the header is not whole
            return
        if self.stream < 0:
            self.stream = seg.stream
        if not self.client:
            src, dst = format_endpoint(seg.src, seg.sport), format_endpoint(seg.dst, seg.dport)
            self.client, self.server = (src, dst) if seg.direction == Direction.C2S else (dst, src)
        d = int(seg.direction)
        self.halves[d].add(seg)
        if seg.flags & ACK and not seg.flags & RST:
            self.halves[1 - d].acknowledged(seg.ack_raw)

    def finish(self) -> FollowedStream:
        c2s, ready_c = self.halves[0].finish(self.client, self.server)
        s2c, ready_s = self.halves[1].finish(self.server, self.client)
        both: list[tuple[int, DirectionName, int]] = [(k, "c2s", i) for i, k in enumerate(ready_c)]
        both += [(k, "s2c", i) for i, k in enumerate(ready_s)]
        both.sort(key=lambda t: t[0])  # stable: each direction keeps its stream order
        return FollowedStream(self.stream, self.client, self.server, c2s, s2c, tuple(both))


def reassemble(segments: Iterable[Segment], *, rst_payload: bool = False) -> FollowedStream:
    """The followed stream of one stream's analysed segments (capture order), e.g. a loaded Flow's packets.
    ``rst_payload=True`` puts an RST's payload in the stream, as Wireshark's Follow does (a receiver does not
    deliver it)."""
    r = Reassembler(rst_payload=rst_payload)
    for seg in segments:
        r.add(seg)
    return r.finish()


def follow(source: str | os.PathLike[str] | BinaryIO, stream: int) -> FollowedStream:
    """Read ``source`` and follow stream ``stream``: one pass, the selection inside the C engine's pass when it is
    built, only that stream's payload kept. Raises :class:`~tcptrace.selection.NoSuchStream` when there is no
    such stream. :func:`follow_with_stats` also gives the capture reader's stats (its warnings)."""
    return follow_with_stats(source, stream)[0]


def follow_with_stats(source: str | os.PathLike[str] | BinaryIO, stream: int) -> tuple[FollowedStream, Any]:
    """:func:`follow` and the capture reader's stats (its warnings)."""
    from .engine import Pipeline
    from .selection import NoSuchStream, Selection, missing_streams_message

    run = Pipeline(source, selection=Selection.of([stream]))
    r: Reassembler | None = None
    for seg in run:
        if r is None:
            flow = run.flow(seg.stream)
            r = Reassembler(seg.stream, flow.client.endpoint, flow.server.endpoint)
        r.add(seg)
    if r is None:
        exc = NoSuchStream(missing_streams_message(getattr(source, "name", source), [stream], run.streams_total))
        exc.stats = run.stats
        raise exc
    return r.finish(), run.stats


# --- rendering -------------------------------------------------------------------------------------------------

NOTES_SHOWN = 5  # differing copies and left-out payload listed in the summary; the JSON has them all


def _frames_text(frames: tuple[int, ...], t: dict[str, str]) -> str:
    if len(frames) == 1:
        return t["follow.frame"].format(frame=frames[0])
    return t["follow.frame_also"].format(frame=frames[0], others=", ".join(map(str, frames[1:])))


def _size(n: int, t: dict[str, str]) -> str:
    return t["follow.byte" if n == 1 else "follow.bytes"].format(n=n)


def describe(item: Chunk | Gap, lang: str = "en") -> str:
    """One line about a chunk or a gap, in ``lang``: direction, offset, size and frames."""
    t = LANGUAGES[lang]
    d = t["follow." + item.direction]
    if isinstance(item, Chunk):
        return t["follow.chunk"].format(dir=d, offset=item.offset, size=_size(item.length, t),
                                        frames=_frames_text(item.frames, t))  # fmt: skip
    where = ""
    if item.frames:
        if item.kind == "snap":
            key = "follow.cut_from_many" if len(item.frames) > 1 else "follow.cut_from"
            where = t[key].format(frames=", ".join(map(str, item.frames)))
        elif len(item.frames) == 2:
            where = t["follow.between"].format(a=item.frames[0], b=item.frames[1])
        else:
            where = t["follow.next_to"].format(frame=item.frames[0])
    return t["follow.gap"].format(dir=d, offset=item.offset, size=_size(item.length, t),
                                  words=t["follow.gap." + item.kind], where=where)  # fmt: skip


def _plural(n: int) -> str:
    return _size(n, LANGUAGES["en"])


def text_of(data: bytes) -> list[str]:
    """Payload bytes as lines safe for a terminal: text as it is, every control or undecodable byte escaped
    (``\\r``, ``\\x1b``, ``\\xff``); line breaks after each ``\\n``.

    >>> text_of(b"GET / HTTP/1.1\\r\\nHost: a\\r\\n\\r\\n\\x1b[2J")
    ['GET / HTTP/1.1\\\\r', 'Host: a\\\\r', '\\\\r', '\\\\x1b[2J']
    """
    lines = data.split(b"\n")
    if lines and lines[-1] == b"" and len(lines) > 1:
        lines.pop()
    return [printable(line.decode("utf-8", "surrogateescape")) for line in lines]


_REASON_KEYS = {_BEFORE: "follow.reason.before", _RST_PAYLOAD: "follow.reason.rst"}


def summary_lines(fs: FollowedStream, lang: str = "en") -> list[str]:
    """What the stream holds each way and what the capture lacks, one line a direction, then notes (in ``lang``)."""
    t = LANGUAGES[lang]
    out = [t["follow.head"].format(stream=fs.stream, client=fs.client, server=fs.server)]
    for h in (fs.c2s, fs.s2c):
        line = t["follow.half"].format(dir=t["follow." + h.direction], size=_size(len(h.data), t))
        lost, snap = h.bytes_in("lost"), h.bytes_in("snap")
        if lost:
            line += t["follow.half_lost"].format(size=_size(lost, t))
        if snap:
            line += t["follow.half_snap"].format(size=_size(snap, t))
        out.append(line)
    conflicts, ignored = fs.conflicts, fs.ignored
    for c in conflicts[:NOTES_SHOWN]:
        out.append(t["follow.conflict"].format(dir=t["follow." + c.direction], offset=c.offset, kept=c.kept_frame,
                                               other=c.other_frame, size=_size(c.length, t)))  # fmt: skip
    if len(conflicts) > NOTES_SHOWN:
        out.append(t["follow.more_conflicts"].format(n=len(conflicts) - NOTES_SHOWN))
    for ig in ignored[:NOTES_SHOWN]:
        reason = t[_REASON_KEYS[ig.reason]] if ig.reason in _REASON_KEYS else ig.reason
        out.append(t["follow.ignored"].format(dir=t["follow." + ig.direction], frame=ig.frame,
                                              size=_size(ig.length, t), reason=reason))  # fmt: skip
    if len(ignored) > NOTES_SHOWN:
        out.append(t["follow.more_ignored"].format(n=len(ignored) - NOTES_SHOWN))
    return out


def render_text(fs: FollowedStream, direction: DirectionName | Literal["both"] = "both") -> Iterator[str]:
    """The followed stream as lines for a terminal: a summary, then each chunk under a line naming its direction,
    offset and frames, each gap as one bracketed line."""
    yield from summary_lines(fs)
    for item in fs.items(direction):
        if isinstance(item, Chunk):
            yield f"── {describe(item)} ──"
            yield from text_of(item.data)
        else:
            yield f"[{describe(item)}]"


def _hex_line(offset: int, data: bytes) -> str:
    # the layout of `tshark -z follow,tcp,hex` (ui/cli/tap-follow.c): offset, two groups of 8, the ASCII column
    hexes = [f"{b:02x}" for b in data]
    hex_part = " ".join(hexes[:8]) + ("  " + " ".join(hexes[8:]) if len(hexes) > 8 else "")
    text = "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in data)
    if len(data) > 8:
        text = text[:8] + " " + text[8:]
    return f"{offset:08X}  {hex_part:<48}  {text}"


def render_hex(fs: FollowedStream, direction: DirectionName | Literal["both"] = "both") -> Iterator[str]:
    """Like ``tshark -z follow,tcp,hex``: 16 bytes a line, the server's lines indented by a tab, each chunk from
    a new line; offsets are stream offsets, and a gap is a bracketed line at its offset."""
    yield from summary_lines(fs)
    for item in fs.items(direction):
        indent = "\t" if item.direction == "s2c" else ""
        if isinstance(item, Chunk):
            for k in range(0, item.length, 16):
                yield indent + _hex_line(item.offset + k, item.data[k : k + 16])
        else:
            yield f"{indent}{item.offset:08X}  [{_plural(item.length)} {item.words}]"


def render_html(fs: FollowedStream, direction: DirectionName | Literal["both"] = "both") -> str:
    """The followed stream as an HTML fragment (for reports and notebooks): the summary, then each chunk as a
    ``<pre>`` under its description (class ``c2s``/``s2c``, with ``data-frames``), each gap as a paragraph (class
    ``gap``). Everything from the capture is HTML-escaped, after the same escaping as :func:`render_text`."""
    import html

    e = html.escape
    out = ['<div class="tcptrace-follow">', "<p>" + "<br>".join(e(line.strip()) for line in summary_lines(fs)) + "</p>"]
    for item in fs.items(direction):
        if isinstance(item, Chunk):
            frames = " ".join(map(str, item.frames))
            out.append(f'<p class="chunk-head {item.direction}">{e(describe(item))}</p>')
            out.append(
                f'<pre class="{item.direction}" data-frames="{frames}">{e(chr(10).join(text_of(item.data)))}</pre>'
            )
        else:
            out.append(f'<p class="gap {item.direction} {item.kind}">[{e(describe(item))}]</p>')
    out.append("</div>")
    return "\n".join(out)


def raw_bytes(fs: FollowedStream, direction: DirectionName | Literal["both"] = "both") -> Iterator[bytes]:
    """The captured bytes exactly, gaps left out; with ``both``, the two directions interleaved."""
    for item in fs.items(direction):
        if isinstance(item, Chunk):
            yield item.data


def to_dict(fs: FollowedStream, direction: DirectionName | Literal["both"] = "both") -> dict[str, Any]:
    """A JSON-ready document: the stream, per direction its totals, and the items (chunk bytes in base64)."""

    def item_dict(i: Chunk | Gap) -> dict[str, Any]:
        if isinstance(i, Chunk):
            return {"type": "chunk", "direction": i.direction, "offset": i.offset, "length": i.length,
                    "frame": i.frame, "frames": list(i.frames), "time": i.ts_ns / 1e9,
                    "data": base64.b64encode(i.data).decode("ascii")}  # fmt: skip
        return {"type": "gap", "direction": i.direction, "offset": i.offset, "length": i.length, "kind": i.kind,
                "frames": list(i.frames), "description": i.words}  # fmt: skip

    halves = {}
    for h in (fs.c2s, fs.s2c):
        if direction not in ("both", h.direction):
            continue
        halves[h.direction] = {
            "sender": h.sender,
            "receiver": h.receiver,
            "bytes": len(h.data),
            "length": h.length,
            "lost_bytes": h.bytes_in("lost"),
            "snap_bytes": h.bytes_in("snap"),
            "syn_seen": h.syn_seen,
            "fin_offset": h.fin_offset,
            "conflicts": [vars(c) for c in h.conflicts],
            "ignored": [vars(i) for i in h.ignored],
        }
    return {
        "stream": fs.stream,
        "client": fs.client,
        "server": fs.server,
        "encoding": "base64",
        "directions": halves,
        "items": [item_dict(i) for i in fs.items(direction)],
    }


__all__ = [
    "Chunk",
    "Conflict",
    "FollowedStream",
    "Gap",
    "HalfStream",
    "Ignored",
    "Payload",
    "Reassembler",
    "describe",
    "follow",
    "follow_with_stats",
    "raw_bytes",
    "reassemble",
    "render_hex",
    "render_html",
    "render_text",
    "summary_lines",
    "text_of",
    "to_dict",
]
