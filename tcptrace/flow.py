"""Segments -> TCP streams, numbered and oriented exactly as Wireshark does it.

Theory of operation. A :class:`FlowTracker` sees segments in capture order and keeps one :class:`Flow` per
conversation, found through a dict keyed by the *directional* 4-tuple (both directions of a flow are entered,
so a packet costs one lookup). For each segment it fills in, in place:

* ``stream`` — Wireshark's ``tcp.stream``: 0-based, in order of first appearance. A pure SYN whose sequence
  number differs from the ISN already recorded for that direction starts a *new* stream on the same 4-tuple
  (port reuse, packet-tcp.c ``dissect_tcp``); a SYN with the same ISN is a retransmission of the old one.
* ``direction`` — client to server or back. The client is the sender of the first SYN (or the receiver of a
  SYN/ACK); for a flow first seen mid-stream the server is guessed (the well-known, else the lower port) and
  the flow says so in ``roles_guessed``.
* ``seq``/``ack`` — relative, as ``tcp.seq``/``tcp.ack``: a direction's base is its first segment's sequence
  number (SYN shows 0) or one less (a mid-stream first segment shows 1); the other direction's base is taken
  from the first ACK number seen (``ack - 1``) if it has none yet. ``ack`` is relative only with the ACK flag.
* ``win`` — ``tcp.window_size``: the raw window shifted by the *sender's* window-scale option, never on SYNs;
  unscaled while the scale is unknown (``-1``, e.g. handshake not captured) or scaling is off (``-2``).

A segment whose header Wireshark dissects only in part (``header_error``) gets its stream all the same (a SYN
among them may reopen a 4-tuple); a short segment keeps raw numbers and sets no base, and neither kind's SYN
options are read.

The tracker reads no clock and no file: feed it segments built by hand in a test and it behaves the same.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from .capture import CaptureStats, open_capture
from .model import ACK, MAX_WSCALE, SYN, Direction, Segment, format_addr, format_endpoint
from .vocab import HDR_SHORT_SEGMENT

_SYN_ACK = SYN | ACK
_WELL_KNOWN = 1024


class HalfFlow:
    """Per-direction state of a flow (Wireshark's ``tcp_flow_t``: base_seq, win_scale)."""

    __slots__ = ("addr", "base", "port", "win_scale")

    def __init__(self, addr: bytes, port: int) -> None:
        self.addr = addr
        self.port = port
        self.base: int | None = None  # raw seq that shows as relative 0; None until known
        self.win_scale = -1  # -1 unknown, -2 not in use, else the shift (packet-tcp.c win_scale)

    @property
    def endpoint(self) -> str:
        return format_endpoint(self.addr, self.port)

    @property
    def addr_text(self) -> str:
        return format_addr(self.addr)


class Flow:
    """One TCP stream: its endpoints, roles, and the per-direction numbering state.

    ``halves[Direction.C2S]`` is the client's side. ``roles_guessed`` is true when no SYN or SYN/ACK opened
    the flow in the capture, so which side is the client was inferred from the ports.
    """

    __slots__ = (
        "analysis",
        "first_frame",
        "first_ts_ns",
        "halves",
        "last_frame",
        "last_ts_ns",
        "packets",
        "previous_stream",
        "reused_ports_frame",
        "roles_guessed",
        "stream",
        "summary",
    )

    def __init__(self, stream: int, client: HalfFlow, server: HalfFlow, roles_guessed: bool, seg: Segment) -> None:
        self.stream = stream
        self.halves = (client, server)
        self.roles_guessed = roles_guessed
        self.first_frame = seg.frame
        self.first_ts_ns = seg.ts_ns
        self.last_frame = seg.frame
        self.last_ts_ns = seg.ts_ns
        self.packets = 0
        self.reused_ports_frame: int | None = None  # frame whose SYN reopened this 4-tuple as a new stream
        self.previous_stream: int | None = None  # the stream whose 4-tuple that SYN reopened
        self.analysis: Any = None  # per-stream state of tcptrace.analysis (kept here: one lookup per packet)
        self.summary: Any = None  # the stream's tcptrace.stats.FlowSummary, when a Pipeline runs

    @property
    def client(self) -> HalfFlow:
        return self.halves[0]

    @property
    def server(self) -> HalfFlow:
        return self.halves[1]

    @property
    def duration_ns(self) -> int:
        return self.last_ts_ns - self.first_ts_ns

    def __repr__(self) -> str:
        guess = " (roles guessed)" if self.roles_guessed else ""
        return f"<Flow stream={self.stream} {self.client.endpoint} -> {self.server.endpoint}{guess}>"


def _server_is_dst(seg: Segment) -> bool:
    """Guess the server of a flow first seen mid-stream: the well-known port, else the lower port."""
    s, d = seg.sport, seg.dport
    if (d < _WELL_KNOWN) != (s < _WELL_KNOWN):
        return d < _WELL_KNOWN
    return d <= s


_Key = tuple[bytes, int, bytes, int]
_Entry = tuple["Flow", Direction, "HalfFlow", "HalfFlow"]  # flow, direction, this side, the other side


class FlowTracker:
    """Assigns streams, roles, relative numbers and scaled windows to segments in capture order."""

    def __init__(self) -> None:
        self._table: dict[_Key, _Entry] = {}
        self.flows: list[Flow] = []

    def _new_flow(self, seg: Segment, key: _Key) -> _Entry:
        flags = seg.flags & _SYN_ACK
        src = HalfFlow(seg.src, seg.sport)
        dst = HalfFlow(seg.dst, seg.dport)
        if flags == SYN:
            client_is_src, guessed = True, False
        elif flags == _SYN_ACK:
            client_is_src, guessed = False, False
        else:
            client_is_src, guessed = _server_is_dst(seg), True
        flow = Flow(len(self.flows), src if client_is_src else dst, dst if client_is_src else src, guessed, seg)
        self.flows.append(flow)
        fwd = Direction.C2S if client_is_src else Direction.S2C
        entry = (flow, fwd, src, dst)
        self._table[key] = entry
        self._table[(seg.dst, seg.dport, seg.src, seg.sport)] = (flow, fwd.reverse, dst, src)
        return entry

    def forget(self, seg: Segment) -> None:
        """Forget the stream of ``seg``'s four-tuple, so that ``seg`` begins a new one (the selection inside the
        C engine's pass: the engine decided, having seen streams this tracker was not shown)."""
        self._table.pop((seg.src, seg.sport, seg.dst, seg.dport), None)
        self._table.pop((seg.dst, seg.dport, seg.src, seg.sport), None)

    def feed(self, seg: Segment) -> Flow:
        """Fill in ``seg``'s stream fields and return its flow."""
        entry = self._table.get((seg.src, seg.sport, seg.dst, seg.dport))
        flags = seg.flags
        if entry is None or flags & SYN:
            entry = self._lookup_slow(seg, entry)
        flow, direction, fwd, rev = entry
        flow.packets += 1
        flow.last_frame = seg.frame
        flow.last_ts_ns = seg.ts_ns
        seg.stream = flow.stream
        seg.direction = direction
        if seg.header_error == HDR_SHORT_SEGMENT:
            # packet-tcp.c sets the bases and relative numbers only once it knows the segment's length.
            seg.win_scale = fwd.win_scale
            return flow
        base = fwd.base
        if base is None:
            base = fwd.base = seg.seq_raw if flags & SYN else (seg.seq_raw - 1) & 0xFFFFFFFF
        seg.seq = (seg.seq_raw - base) & 0xFFFFFFFF
        if flags & ACK:
            base = rev.base
            if base is None:
                # The other side's ISN is unknown (SYN/ACK missing or reordered): ack - 1 is the best guess.
                base = rev.base = (seg.ack_raw - 1) & 0xFFFFFFFF
            seg.ack = (seg.ack_raw - base) & 0xFFFFFFFF
        else:
            seg.ack = seg.ack_raw
        if flags & SYN:
            if not seg.header_error:  # a bogus data offset ends packet-tcp.c's dissection before the options
                self._syn(seg, fwd, rev, flags & ACK != 0)
            seg.win = seg.win_raw  # packet-tcp.c: the window of a SYN is never scaled
            seg.win_scale = fwd.win_scale
        else:
            scale = seg.win_scale = fwd.win_scale
            seg.win = seg.win_raw << scale if scale >= 0 else seg.win_raw
        return flow

    def _lookup_slow(self, seg: Segment, entry: _Entry | None) -> _Entry:
        """A segment of a new 4-tuple, or a SYN / SYN-ACK (which may reopen a known 4-tuple)."""
        key = (seg.src, seg.sport, seg.dst, seg.dport)
        if entry is None:
            return self._new_flow(seg, key)
        flow, _direction, fwd, _rev = entry
        syn_ack = seg.flags & _SYN_ACK
        if fwd.base is not None and seg.seq_raw != fwd.base:
            if syn_ack == SYN:
                # packet-tcp.c: a SYN with a new ISN on a known 4-tuple is a new conversation ("TCP port
                # numbers reused"); a SYN with the same ISN is a retransmission and stays in the old one.
                entry = self._new_flow(seg, key)
                entry[0].reused_ports_frame = seg.frame
                entry[0].previous_stream = flow.stream
            elif syn_ack == _SYN_ACK:
                # packet-tcp.c (issue 16944): a SYN/ACK with a new ISN re-bases this direction in place.
                fwd.base = seg.seq_raw
                flow.reused_ports_frame = seg.frame
        return entry

    @staticmethod
    def _syn(seg: Segment, fwd: HalfFlow, rev: HalfFlow, is_synack: bool) -> None:
        """Record the SYN's options and settle window scaling (packet-tcp.c ``verify_tcp_window_scaling``)."""
        opts = seg.options
        if opts.wscale is not None:
            fwd.win_scale = min(opts.wscale, MAX_WSCALE)
        elif opts.truncated or seg.header_truncated:
            # The snap length cut the options before any WS option: whether scaling was offered is unknown,
            # so the scale stays unknown (-1). Wireshark stops at the cut and skips this check too.
            return
        if fwd.win_scale == -1:
            # No WS option from this side: scaling is not in use in either direction.
            fwd.win_scale = -2
            rev.win_scale = -2
        elif is_synack and rev.win_scale == -2:
            # The SYN/ACK offers scaling but the SYN did not: the endpoints will not scale, nor do we.
            fwd.win_scale = -2


def iter_segments(
    source: str | os.PathLike[str] | BinaryIO,
    tracker: FlowTracker | None = None,
    stats: list[CaptureStats] | None = None,
) -> Iterator[Segment]:
    """Yield every TCP segment of a capture with its stream fields filled in, in capture order.

    Pass a ``tracker`` to keep the flows afterwards; pass a list as ``stats`` to receive the reader's
    :class:`CaptureStats` (appended once the capture is opened).
    """
    tracker = tracker if tracker is not None else FlowTracker()
    cap = open_capture(source)
    if stats is not None:
        stats.append(cap.stats)
    feed = tracker.feed
    for seg in cap:
        feed(seg)
        yield seg


@dataclass
class TrackSummary:
    """What :func:`track_capture` found: counts for the whole capture."""

    frames: int
    tcp_segments: int
    streams: int
    skipped: dict[str, int]
    warnings: list[str]


def track_capture(source: str | os.PathLike[str] | BinaryIO) -> TrackSummary:
    """Read a whole capture and track its flows; return the counts (used by the benchmark)."""
    tracker = FlowTracker()
    cap = open_capture(source)
    feed = tracker.feed
    for seg in cap:
        feed(seg)
    st = cap.stats
    return TrackSummary(
        frames=st.frames,
        tcp_segments=st.tcp_segments,
        streams=len(tracker.flows),
        skipped={r.name.lower(): n for r, n in st.skipped.items()},
        warnings=list(st.warnings),
    )


__all__ = ["Flow", "FlowTracker", "HalfFlow", "TrackSummary", "iter_segments", "track_capture"]
