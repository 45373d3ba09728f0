"""TCP stream graphs: time-sequence (classic tcptrace style), throughput, round-trip time and window.

Theory of operation. A graph shows one *direction* of one stream: the sender's data and the other side's
answers to it (ACKs, SACK blocks, advertised windows, RTT samples), as in Wireshark's TCP Stream Graphs and
classic tcptrace's ``-S``/``-T``/``-R``/``-N`` plots (../shared/reference/tcp-analysis.md §1.9, §2.3). Each kind
is built in two steps: a pure function turns the analysed segments into plain series (lists of floats, no
matplotlib), then a thin drawing function puts those series on an Axes. Drawing never creates a window, never
calls pyplot and never prints: :func:`draw_graph` returns the Axes it drew on (seaborn style), and
:func:`save_graph` renders off screen with the Agg canvas. This is the only module that imports matplotlib for
graphs, and it does so inside the functions, so ``import tcptrace`` stays cheap.

Conventions shared by every graph: time is in seconds since the stream's first captured segment (Wireshark's
"session time origin", tcptrace ``-zx``); sequence numbers are relative (``tcp.seq``) and *unwrapped*, so a flow
longer than 4 GiB keeps rising instead of folding back to 0, and a keep-alive one byte below the base shows as
-1 rather than 4294967295; byte units are decimal (1 kB = 1000 B).
"""

from __future__ import annotations

import math
import operator
import os
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from .analysis import (
    A_FAST_RETRANSMISSION,
    A_KEEP_ALIVE,
    A_OUT_OF_ORDER,
    A_RETRANSMISSION,
    A_SPURIOUS_RETRANSMISSION,
    A_ZERO_WINDOW_PROBE,
)
from .model import ACK, FIN, RST, SYN, Direction, Segment
from .output import check_png_size, replacing
from .seqnum import diff

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from .stats import FlowSummary

GraphKind = Literal["tsg", "throughput", "rtt", "window"]
KINDS: tuple[str, ...] = ("tsg", "throughput", "rtt", "window")
DirectionName = Literal["c2s", "s2c"]
NO_DATA_TEXT = "no data in this direction"
DEFAULT_WIDTH_IN = 10.0  # figure width when none is given
HEIGHT_RATIO = 0.6  # figure height / width

# The three retransmission kinds all count as retransmissions (stats.py counts rexmt_packets the same way).
_RETRANS = A_RETRANSMISSION | A_FAST_RETRANSMISSION | A_SPURIOUS_RETRANSMISSION

# Classic tcptrace colours (trace.c; reference §2.3), adapted to a white background: tcptrace draws segments in
# white on black, so ours are black; its yellow window line is unreadable on white, so it is a dark yellow.
COLORS: dict[str, str] = {
    "data": "black",
    "ack": "green",
    "window": "#b5a000",  # "yellow" in tcptrace
    "sack": "purple",
    "retransmission": "red",
    "out_of_order": "#ff69b4",  # "pink"
    "zero_window_probe": "orange",
    "hw_duplicate": "blue",  # tcptrace "HD"
    "syn": "orange",
    "fin": "#555555",
    "rst": "darkred",
    "peer_rst": "#d62728",
    "throughput": "#1f77b4",
    "goodput": "#2ca02c",
    "instant": "#c8c8c8",
    "rtt": "#1f77b4",
    "irtt": "#d62728",
    "rwin": "#b5a000",
    "in_flight": "#1f77b4",
    "zero_window": "red",
}

TITLES: dict[str, str] = {
    "tsg": "Time-sequence graph (tcptrace)",
    "throughput": "Throughput",
    "rtt": "Round-trip time",
    "window": "Window and bytes in flight",
}

# Default moving-average window for the throughput graph: 1/50 of the time the direction spent sending data,
# so a 0.3 s transfer and a 10 min one both get a readable curve, bounded by 1 ms (below that a window holds a
# single burst) and 1 s (Wireshark's own default "MA Window (s)", tcp_stream_dialog.cpp).
MA_FRACTION = 50
MA_MIN_S = 0.001
MA_MAX_S = 1.0

_FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}


# --- choosing what to draw -------------------------------------------------------------------------------


def data_bytes(segs: Iterable[Segment], direction: int) -> int:
    """Payload bytes the ``direction`` side sent (retransmissions included), counted from ``segs``."""
    return sum(s.len for s in segs if s.direction == direction)


def choose_direction(summary: FlowSummary, direction: DirectionName | Direction | int | None = None) -> Direction:
    """The direction a graph shows: ``direction`` when given (``"c2s"``, ``"s2c"`` or a :class:`Direction`),
    otherwise the one that carried more data bytes (client to server on a tie, e.g. a flow without data)."""
    if direction is None:
        c2s, s2c = summary.dirs[0].data_bytes, summary.dirs[1].data_bytes
        return Direction.S2C if s2c > c2s else Direction.C2S
    if isinstance(direction, str):
        names = {"c2s": Direction.C2S, "s2c": Direction.S2C}
        if direction not in names:
            raise ValueError(f"direction must be 'c2s' or 's2c', not {direction!r}")
        return names[direction]
    if direction in (0, 1):
        return Direction(direction)
    raise ValueError(f"direction must be 'c2s', 's2c' or None, not {direction!r}")


def _unwrap(value: int, ref: int) -> int:
    """``value`` (relative, modulo 2**32) placed within 2**31 of ``ref`` (an already unwrapped number)."""
    return ref + diff(value, ref & 0xFFFFFFFF)


def _seconds(ts_ns: int, t0_ns: int) -> float:
    return (ts_ns - t0_ns) / 1e9


def _byte_unit(peak: float, per: str = "") -> tuple[float, str]:
    """Divisor and label for values up to ``peak`` bytes: B, kB, MB or GB (decimal, as network rates are)."""
    for div, unit in ((1e9, "GB"), (1e6, "MB"), (1e3, "kB")):
        if peak >= div:
            return div, unit + per
    return 1.0, "B" + per


# --- pure series: no matplotlib below this line until the drawing section ---------------------------------

# A long stream has more points than the figure has pixel columns: past DECIMATE_ABOVE points a series is kept
# per time bucket, and each bucket keeps only the points that bound what it draws (for a line, its first and
# last point and those with the smallest and largest values; for dots, the smallest and largest; for data bars,
# one bar from the lowest to the highest sequence number). There are DECIMATE_BUCKETS / 2 to DECIMATE_BUCKETS
# buckets over the stream (twice the figure's width in pixels when save_graph_from draws a wider one), so at least
# one per pixel column: each column shows the same extremes as the full series would (the line between them is
# drawn through fewer points, inside the same column). What marks an event (retransmissions and their R letters,
# zero windows, SACK blocks, SYN/FIN/RST, RTT samples of retransmitted data) is never reduced. A bucket is time,
# not sequence: data bars of one bucket with a hole in their sequence numbers become one bar over the hole (the
# hole's retransmission is drawn in red, exactly). The stream's time span is not known until its end, so the
# buckets start narrow and are merged in pairs whenever the stream outgrows them.
DECIMATE_ABOVE = 20_000
DECIMATE_BUCKETS = 8192


class _Series:
    """The points of one series in time order (``p[0]`` is the time), reduced per time bucket once there are
    more than :data:`DECIMATE_ABOVE` (the comment above). ``mode``: ``"line"``, ``"dots"`` or ``"bars"``
    (``(t, lo, hi, ...)``); ``values``: the positions of the values whose extremes a bucket keeps; ``exact``:
    which points are never reduced. Points of the current bucket wait in a list and are reduced when the next
    bucket begins (capture order is time order, nearly)."""

    __slots__ = ("buckets", "current", "exact", "kept", "mode", "most", "pending", "points", "values", "width")

    def __init__(self, mode: str, values: tuple[int, ...] = (1,), exact: Callable[[Any], bool] | None = None,
                 most: int | None = None) -> None:  # fmt: skip
        self.most = most or DECIMATE_BUCKETS  # buckets at most (half as many at least)
        self.mode = mode
        self.values = values
        self.exact = exact
        self.points: list[Any] = []  # all of them, until reduced
        self.kept: list[Any] = []  # once reduced: the exact ones
        self.buckets: dict[int, list[Any]] = {}
        self.current = -1  # the bucket the pending points are in
        self.pending: list[Any] = []
        self.width = 0.0  # bucket width in seconds (0: not reduced)

    def add(self, p: Any) -> None:
        if not self.width:
            self.points.append(p)
            if len(self.points) > DECIMATE_ABOVE:
                self._start()
            return
        if self.exact is not None and self.exact(p):
            self.kept.append(p)
            return
        i = int(p[0] / self.width)
        if i == self.current:
            self.pending.append(p)
            return
        self._settle()
        while i >= self.most:
            self._coarser()
            i = int(p[0] / self.width)
        self.current = max(0, i)
        self.pending.append(p)

    def _start(self) -> None:
        points, self.points = self.points, []
        self.width = max(max(p[0] for p in points) / (self.most / 2), 1e-9)
        for p in points:
            self.add(p)

    def _settle(self) -> None:
        if self.pending:
            b = self.buckets.get(self.current)
            self.buckets[self.current] = self._bounds(self.pending if b is None else b + self.pending)
            self.pending = []

    def _coarser(self) -> None:
        self.width *= 2
        merged: dict[int, list[Any]] = {}
        for i in sorted(self.buckets):
            b, j = self.buckets[i], i // 2
            merged[j] = b if j not in merged else self._bounds(merged[j] + b)
        self.buckets = merged

    def _bounds(self, points: list[Any]) -> list[Any]:
        """The points that bound what ``points`` (one bucket's, in time order) draw."""
        if self.mode == "bars":
            first = points[0]
            return [(first[0], min(p[1] for p in points), max(p[2] for p in points), *first[3:])]
        keep: dict[int, Any] = {}
        for k in self.values:
            value = operator.itemgetter(k)
            for x in (min(points, key=value), max(points, key=value)):
                keep[id(x)] = x
        if self.mode == "line":
            keep[id(points[0])] = points[0]
            keep[id(points[-1])] = points[-1]
        return [x for x in points if id(x) in keep]

    def finish(self) -> list[Any]:
        if not self.width:
            return self.points
        self._settle()
        out = [p for i in sorted(self.buckets) for p in self.buckets[i]]
        if self.kept:
            out = sorted(out + self.kept, key=lambda p: p[0])
        return out


@dataclass
class TsgSeries:
    """What a time-sequence graph shows, in seconds and unwrapped relative sequence numbers."""

    bars: list[tuple[float, int, int]] = field(default_factory=list)  # (t, seq, seq + len) per data segment
    bar_retransmitted: list[bool] = field(default_factory=list)
    ack: list[tuple[float, int]] = field(default_factory=list)  # (t, ack) of the other side's ACKs
    window: list[tuple[float, int]] = field(default_factory=list)  # (t, ack + win)
    sack: list[tuple[float, int, int]] = field(default_factory=list)  # (t, left, right), relative
    zero_window: list[tuple[float, int]] = field(default_factory=list)  # (t, ack) where the receiver's window is 0
    marks: dict[str, list[tuple[float, int]]] = field(default_factory=dict)  # kind -> points
    reduced: bool = False  # some series were reduced to the pixel grid (DECIMATE_ABOVE)


_MARKS = ("retransmission", "out_of_order", "zero_window_probe", "hw_duplicate", "syn", "fin", "rst", "peer_rst")


class _Tsg:
    """:func:`tsg_series`, one segment at a time."""

    def __init__(self, direction: int, t0: int | None, most: int | None = None) -> None:
        self.direction = direction
        self.t0 = t0
        self.bars = _Series("bars", exact=operator.itemgetter(3), most=most)  # (t, seq, end, retransmitted)
        self.ack = _Series("line", most=most)
        self.window = _Series("line", most=most)
        self.sack: list[tuple[float, int, int, int]] = []  # (t, raw left, raw right, last_ack): base known at the end
        self.zero_window: list[tuple[float, int]] = []
        self.marks: dict[str, list[tuple[float, int]]] = {k: [] for k in _MARKS}
        self.top = 0  # highest unwrapped sequence number seen, the reference for unwrapping the next one
        self.last_ack = 0
        self.peer_win = -1  # the receiver's last advertised window (scaled), -1 before it has sent anything

    def add(self, s: Segment) -> None:
        if self.t0 is None:
            self.t0 = s.ts_ns
        t = _seconds(s.ts_ns, self.t0)
        flags = s.flags
        marks = self.marks
        if s.direction != self.direction:
            if flags & ACK:
                self.last_ack = _unwrap(s.ack, self.last_ack)
                self.ack.add((t, self.last_ack))
            if flags & RST:
                # The receiver's reset ends this direction too (a refused SYN is answered by nothing else);
                # its window field means nothing (RFC 9293 §3.10.7), so it moves neither window line.
                marks["peer_rst"].append((t, self.last_ack))
                return
            if not flags & ACK:
                return
            self.peer_win = s.win
            self.window.add((t, self.last_ack + s.win))
            if s.win == 0:
                self.zero_window.append((t, self.last_ack))
            if b"\x05" in s.opt_bytes:  # (no SACK option without its kind byte: no parsing)
                for left, right in s.options.sack:
                    self.sack.append((t, left, right, self.last_ack))
            return
        seq = _unwrap(s.seq, self.top)
        end = seq + s.len
        self.top = max(self.top, end)
        ta = s.analysis
        if s.len:
            self.bars.add((t, seq, end, bool(ta & _RETRANS)))
        if ta & _RETRANS:
            marks["retransmission"].append((t, end))
        if ta & A_OUT_OF_ORDER:
            marks["out_of_order"].append((t, end))
        # Linux probes a zero window with a zero-length segment at snd_una - 1, which Wireshark calls a
        # keep-alive (sample_pcaps/README.md, zero_window.pcap); while the peer's window is 0 it is a probe.
        if ta & A_ZERO_WINDOW_PROBE or (ta & A_KEEP_ALIVE and self.peer_win == 0):
            marks["zero_window_probe"].append((t, end))
        if s.duplicate_of:
            marks["hw_duplicate"].append((t, end))
        if flags & SYN:
            marks["syn"].append((t, seq))
        if flags & FIN:
            marks["fin"].append((t, end))
        if flags & RST:
            marks["rst"].append((t, seq))

    def finish(self, base: int | None) -> TsgSeries:
        out = TsgSeries(marks=self.marks, zero_window=self.zero_window)
        bars = self.bars.finish()
        out.bars = [(t, lo, hi) for t, lo, hi, _ in bars]
        out.bar_retransmitted = [r for *_, r in bars]
        out.ack = self.ack.finish()
        out.window = self.window.finish()
        out.reduced = bool(self.bars.width or self.ack.width or self.window.width)
        if base is not None:
            for t, left, right, last_ack in self.sack:
                lo = _unwrap((left - base) & 0xFFFFFFFF, last_ack)
                out.sack.append((t, lo, lo + ((right - left) & 0xFFFFFFFF)))
        return out


def tsg_series(summary: FlowSummary, segs: Iterable[Segment], direction: Direction) -> TsgSeries:
    """The time-sequence graph's series for ``direction`` (classic tcptrace ``-S``, trace.c)."""
    b = _Tsg(direction, summary.first_ts)
    for s in segs:
        b.add(s)
    return b.finish(summary.flow.halves[direction].base)


@dataclass
class ThroughputSeries:
    """Moving averages in bytes per second, as a step function: each value holds from its time to the next."""

    window_s: float
    t: list[float] = field(default_factory=list)
    throughput: list[float] = field(default_factory=list)
    goodput: list[float] = field(default_factory=list)
    mean_goodput: float = 0.0  # non-retransmitted bytes over the stream's duration (first to last packet)


class _Sent:
    """One direction's data segments, compactly (time, length, retransmitted or not): what the throughput
    graph computes from once the moving-average window is known."""

    def __init__(self, direction: int, most: int | None = None) -> None:
        self.direction = direction
        self.most = most
        self.ts = array("q")
        self.len = array("q")
        self.good = array("q")

    def add(self, s: Segment) -> None:
        if s.direction == self.direction and s.len:
            self.ts.append(s.ts_ns)
            self.len.append(s.len)
            self.good.append(0 if s.analysis & _RETRANS else s.len)

    def ma_window(self) -> float:
        span = (max(self.ts) - min(self.ts)) / 1e9 if self.ts else 0.0
        return min(MA_MAX_S, max(MA_MIN_S, span / MA_FRACTION))

    def finish(self, t0: int, duration_ns: int, ma_window_s: float | None) -> ThroughputSeries:
        w = ma_window_s if ma_window_s is not None else self.ma_window()
        if not w > 0:
            raise ValueError(f"ma_window_s must be positive, not {w!r}")
        out = ThroughputSeries(window_s=w)
        w_ns = max(1, round(w * 1e9))
        n = len(self.ts)
        if n * 2 <= DECIMATE_ABOVE:
            events: dict[int, list[int]] = {}  # ts_ns -> [bytes delta, good bytes delta]
            for ts, size, good in zip(self.ts, self.len, self.good, strict=True):
                for at, sign in ((ts, 1), (ts + w_ns, -1)):
                    ev = events.setdefault(at, [0, 0])
                    ev[0] += sign * size
                    ev[1] += sign * good
            total = good_total = 0
            for ts in sorted(events):
                dt, dg = events[ts]
                total += dt
                good_total += dg
                out.t.append(_seconds(ts, t0))
                out.throughput.append(total * 1e9 / w_ns)
                out.goodput.append(good_total * 1e9 / w_ns)
        elif n:  # the same sums with numpy, then reduced to the pixel grid
            import numpy as np

            times = np.frombuffer(self.ts, dtype=np.int64)
            order = np.argsort(np.concatenate((times, times + w_ns)), kind="stable")
            when = np.concatenate((times, times + w_ns))[order]
            sizes = np.frombuffer(self.len, dtype=np.int64)
            sums = np.cumsum(np.concatenate((sizes, -sizes))[order])
            goods = np.frombuffer(self.good, dtype=np.int64)
            good_sums = np.cumsum(np.concatenate((goods, -goods))[order])
            del order
            last = np.flatnonzero(np.append(when[1:] != when[:-1], True))  # each time's last event: its value
            line = _Series("line", values=(1, 2), most=self.most)
            for i in range(0, len(last), 65536):  # (in slices: a list of every point would cost 100 B a point)
                part = last[i : i + 65536]
                for t, v, g in zip(((when[part] - t0) / 1e9).tolist(), (sums[part] * 1e9 / w_ns).tolist(),
                                   (good_sums[part] * 1e9 / w_ns).tolist(), strict=True):  # fmt: skip
                    line.add((t, v, g))
            points = line.finish()
            out.t = [p[0] for p in points]
            out.throughput = [p[1] for p in points]
            out.goodput = [p[2] for p in points]
        # Over the whole connection, as classic tcptrace's -l "throughput" and `tcptrace flows` (throughput_Bps),
        # which also leave out zero-window-probe bytes.
        if n and duration_ns > 0:
            out.mean_goodput = sum(self.good) * 1e9 / duration_ns
        return out


def default_ma_window(segs: Iterable[Segment], direction: Direction) -> float:
    """The throughput graph's default moving-average window in seconds (see ``MA_FRACTION``)."""
    sent = _Sent(direction)
    for s in segs:
        sent.add(s)
    return sent.ma_window()


def throughput_series(
    summary: FlowSummary, segs: Iterable[Segment], direction: Direction, ma_window_s: float | None = None
) -> ThroughputSeries:
    """Throughput (every payload byte) and goodput (bytes not flagged as retransmissions) of ``direction``.

    The value at time ``t`` is the payload sent in ``(t - w, t]`` divided by ``w``, the moving-average window
    (``ma_window_s``, else :func:`default_ma_window`). It is exact: a step up when a segment is sent, a step
    down ``w`` later, so the area under the curve is the bytes sent, an idle period drops to zero instead of
    being bridged by a straight line, and back-to-back bursts (microseconds apart) do not show as spikes, as a
    per-segment rate (tcptrace's yellow points) or a count-based window (tcptrace ``-A 10``) would.
    """
    sent = _Sent(direction)
    for s in segs:
        sent.add(s)
    return sent.finish(summary.first_ts, summary.last_ts - summary.first_ts, ma_window_s)


@dataclass
class RttSeries:
    t: list[float] = field(default_factory=list)
    rtt_ms: list[float] = field(default_factory=list)
    acked_frames: list[int] = field(default_factory=list)
    ambiguous: list[bool] = field(default_factory=list)  # the acknowledged data was retransmitted before the ACK
    irtt_ms: float | None = None


class _Rtt:
    """:func:`rtt_series`, one segment at a time: the direction's data segments kept as three compact columns
    (frame, seq, len; frames rise in capture order, so an ACK finds its frame by bisection)."""

    def __init__(self, direction: int, t0: int | None, most: int | None = None) -> None:
        self.direction = direction
        self.t0 = t0
        self.frames = array("q")
        self.seqs = array("q")
        self.lens = array("q")
        self.resent: list[tuple[int, int, int]] = []  # this direction's retransmissions with payload: frame, seq, len
        self.samples = _Series("dots", exact=operator.itemgetter(3), most=most)  # (t, rtt_ms, acked frame, ambiguous)

    def add(self, s: Segment) -> None:
        if self.t0 is None:
            self.t0 = s.ts_ns
        if s.direction == self.direction:
            if s.len:
                if not self.frames or s.frame > self.frames[-1]:
                    self.frames.append(s.frame)
                    self.seqs.append(s.seq)
                    self.lens.append(s.len)
                if s.analysis & _RETRANS:
                    self.resent.append((s.frame, s.seq, s.len))
            return
        if s.ack_rtt_ns < 0:
            return
        i = bisect_left(self.frames, s.acks_frame)
        if i == len(self.frames) or self.frames[i] != s.acks_frame:
            return
        frame = s.acks_frame
        lo, hi = self.seqs[i], self.seqs[i] + self.lens[i]
        ambiguous = False
        for r_frame, r_seq, r_len in reversed(self.resent):  # newest first; only those sent after the original matter
            if r_frame < frame:
                break
            if diff(r_seq, hi) < 0 and diff(r_seq + r_len, lo) > 0:  # the byte ranges overlap
                ambiguous = True
                break
        self.samples.add((_seconds(s.ts_ns, self.t0), s.ack_rtt_ns / 1e6, frame, ambiguous))

    def finish(self, summary: FlowSummary) -> RttSeries:
        out = RttSeries()
        fa = summary.flow.analysis
        if fa is not None and fa.ts_first_rtt:
            out.irtt_ms = fa.ts_first_rtt / 1e6
        for t, rtt, frame, ambiguous in self.samples.finish():
            out.t.append(t)
            out.rtt_ms.append(rtt)
            out.acked_frames.append(frame)
            out.ambiguous.append(ambiguous)
        return out


def rtt_series(summary: FlowSummary, segs: Iterable[Segment], direction: Direction) -> RttSeries:
    """RTT samples of ``direction``'s data: ``tcp.analysis.ack_rtt`` of the other side's ACKs whose acknowledged
    frame carried payload. Wireshark's RTT graph likewise times data segments only (tcp_stream_dialog.cpp
    ``fillRoundTripTime`` skips ``th_seglen == 0``); the handshake is shown instead as the iRTT line.

    ``ack_rtt`` is timed from the *first* transmission (packet-tcp.c keeps the oldest unacked match), so when
    that data was retransmitted before the ACK the sample may time the retransmission's loss and recovery
    instead of the path: Karn's algorithm (RFC 6298 §3) discards such samples. They are kept but flagged
    ``ambiguous``, since they are exactly what a user looking at an RTO wants to see.
    """
    b = _Rtt(direction, summary.first_ts)
    for s in segs:
        b.add(s)
    return b.finish(summary)


@dataclass
class WindowSeries:
    rwin: list[tuple[float, int]] = field(default_factory=list)  # the receiver's advertised window (scaled)
    in_flight: list[tuple[float, int]] = field(default_factory=list)  # this direction's bytes in flight
    zero_window: list[float] = field(default_factory=list)  # times the receiver advertised 0


class _Window:
    """:func:`window_series`, one segment at a time."""

    def __init__(self, direction: int, t0: int | None, most: int | None = None) -> None:
        self.direction = direction
        self.t0 = t0
        self.rwin = _Series("line", most=most)
        self.in_flight = _Series("dots", most=most)
        self.zero_window: list[float] = []

    def add(self, s: Segment) -> None:
        if self.t0 is None:
            self.t0 = s.ts_ns
        t = _seconds(s.ts_ns, self.t0)
        if s.direction != self.direction:
            if s.flags & RST:
                return  # a reset's window field means nothing (RFC 9293 §3.10.7.2 ignores it)
            self.rwin.add((t, s.win))
            if s.win == 0:
                self.zero_window.append(t)
        elif s.bytes_in_flight >= 0:
            self.in_flight.add((t, s.bytes_in_flight))

    def finish(self) -> WindowSeries:
        return WindowSeries(self.rwin.finish(), self.in_flight.finish(), self.zero_window)


def window_series(summary: FlowSummary, segs: Iterable[Segment], direction: Direction) -> WindowSeries:
    """The receiver's window (``tcp.window_size`` of the other side) and ``direction``'s bytes in flight
    (``tcp.analysis.bytes_in_flight``; needs ``Pipeline(..., track_bytes_in_flight=True)``), as in Wireshark's
    Window Scaling graph ("Rcv Win", "Bytes Out")."""
    b = _Window(direction, summary.first_ts)
    for s in segs:
        b.add(s)
    return b.finish()


# --- drawing ---------------------------------------------------------------------------------------------


def _new_figure(width: float | None = None) -> tuple[Figure, Axes]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    w = width if width is not None else DEFAULT_WIDTH_IN
    fig = Figure(figsize=(w, w * HEIGHT_RATIO))
    FigureCanvasAgg(fig)  # attaches itself to fig: savefig and draw work without pyplot
    return fig, fig.add_subplot()


def _title(summary: FlowSummary, direction: Direction, kind: str) -> str:
    halves = summary.flow.halves
    return (
        f"{TITLES[kind]}: stream {summary.flow.stream}, "
        f"{halves[direction].endpoint} \u2192 {halves[1 - direction].endpoint} ({('c2s', 's2c')[direction]})"
    )


def _no_data(ax: Axes) -> None:
    ax.text(
        0.5,
        0.5,
        NO_DATA_TEXT,
        transform=ax.transAxes,
        ha="center",
        va="center",
        color="#777777",
        fontsize="large",
        gid="no-data",
    )


def _steps(points: Sequence[tuple[float, int]]) -> tuple[list[float], list[int]]:
    return [p[0] for p in points], [p[1] for p in points]


def _dot_if_single(xs: Sequence[float]) -> dict[str, Any]:
    """A one-point line draws nothing: give it a marker so what the legend names is on the plot."""
    return {"marker": "."} if len(xs) == 1 else {}


def _legend(ax: Axes) -> None:
    """The legend outside the plot, on the right, so it never hides data (any corner can hold data)."""
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", frameon=False, borderaxespad=0.0)


# tcptrace letters (trace.c, reference §2.3), drawn as text markers; one Line2D per kind so the legend names each.
_TSG_MARKS: dict[str, tuple[str, float, str]] = {
    "retransmission": ("$R$", 8, "retransmission (R)"),
    "out_of_order": ("$O$", 8, "out of order (O)"),
    "zero_window_probe": ("$P$", 8, "zero-window probe (P)"),
    "hw_duplicate": ("$HD$", 12, "hardware duplicate (HD)"),
    "syn": ("D", 6, "SYN"),
    "fin": ("s", 6, "FIN"),
    "rst": ("X", 7, "RST"),
    "peer_rst": ("X", 7, "RST from the receiver"),
}
_LETTERS = ("retransmission", "out_of_order", "zero_window_probe", "hw_duplicate")


def _draw_tsg(ax: Axes, ser: TsgSeries) -> None:
    from matplotlib.collections import LineCollection
    from matplotlib.transforms import ScaledTranslation

    # Artists are made in legend order; zorder sets the drawing order, bottom to top: window, ACK, SACK, data,
    # marks (the data is what the graph is about).
    if ser.bars:
        colors = [COLORS["retransmission"] if r else COLORS["data"] for r in ser.bar_retransmitted]
        bars = LineCollection(
            [[(t, lo), (t, hi)] for t, lo, hi in ser.bars], colors=colors, linewidths=1.0, label="data segments"
        )
        bars.set_gid("data")
        bars.set_zorder(2.5)
        ax.add_collection(bars)
    if ser.ack:
        xs, ys = _steps(ser.ack)
        ax.plot(
            xs,
            ys,
            drawstyle="steps-post",
            color=COLORS["ack"],
            lw=1.0,
            label="ACK",
            gid="ack",
            zorder=2.1,
            **_dot_if_single(xs),
        )
    if ser.window:
        xs, ys = _steps(ser.window)
        ax.plot(
            xs,
            ys,
            drawstyle="steps-post",
            color=COLORS["window"],
            lw=1.0,
            label="receive window",
            gid="window",
            zorder=2,
            **_dot_if_single(xs),
        )
    if ser.sack:
        sack = LineCollection(
            [[(t, lo), (t, hi)] for t, lo, hi in ser.sack], colors=COLORS["sack"], linewidths=1.5, label="SACK"
        )
        sack.set_gid("sack")
        sack.set_zorder(2.2)
        ax.add_collection(sack)
    if ser.zero_window:
        xs, ys = _steps(ser.zero_window)
        ax.plot(
            xs,
            ys,
            linestyle="none",
            marker="x",
            markersize=7,
            color=COLORS["zero_window"],
            label="zero window advertised",
            gid="zero_window",
            zorder=3,
        )
    # Letters sit just above the segment's top (tcptrace writes them there), 5 points up whatever the zoom.
    above = ax.transData + ScaledTranslation(0, 5 / 72, ax.figure.dpi_scale_trans)
    for kind, (marker, size, label) in _TSG_MARKS.items():
        pts = ser.marks[kind]
        if not pts:
            continue
        xs, ys = _steps(pts)
        extra: dict[str, Any] = {"transform": above} if kind in _LETTERS else {}
        ax.plot(
            xs,
            ys,
            linestyle="none",
            marker=marker,
            markersize=size,
            color=COLORS[kind],
            label=label,
            gid=kind,
            zorder=3,
            **extra,
        )
    ax.set_xlabel("time (s)")
    ax.set_ylabel("relative sequence number")
    ax.ticklabel_format(axis="y", style="plain", useOffset=False)
    ax.autoscale_view()
    if ax.get_legend_handles_labels()[0]:
        _legend(ax)


def _draw_throughput(ax: Axes, ser: ThroughputSeries) -> None:
    div, unit = _byte_unit(max(ser.throughput, default=0.0), "/s")
    if ser.t:
        w = ser.window_s
        label_w = f"{w * 1000:.3g} ms" if w < 1 else f"{w:.3g} s"
        ax.plot(
            ser.t,
            [v / div for v in ser.throughput],
            drawstyle="steps-post",
            color=COLORS["throughput"],
            lw=1.2,
            label=f"throughput\n({label_w} moving average)",
            gid="throughput",
        )
        ax.plot(
            ser.t,
            [v / div for v in ser.goodput],
            drawstyle="steps-post",
            color=COLORS["goodput"],
            lw=1.0,
            ls="--",
            label="goodput\n(without retransmissions)",
            gid="goodput",
        )
        ax.axhline(
            ser.mean_goodput / div,
            color="#777777",
            lw=0.8,
            ls=":",
            label="mean goodput\n(over the whole connection)",
            gid="mean_goodput",
        )
        _legend(ax)
    ax.set_xlabel("time (s)")
    ax.set_ylabel(f"throughput ({unit})")


def _draw_rtt(ax: Axes, ser: RttSeries) -> None:
    clean = [(t, r) for t, r, a in zip(ser.t, ser.rtt_ms, ser.ambiguous, strict=True) if not a]
    karn = [(t, r) for t, r, a in zip(ser.t, ser.rtt_ms, ser.ambiguous, strict=True) if a]
    if clean:
        ax.plot(
            [p[0] for p in clean],
            [p[1] for p in clean],
            linestyle="none",
            marker="o",
            markersize=3,
            color=COLORS["rtt"],
            label="RTT sample (ACK of data)",
            gid="rtt",
        )
    if karn:
        ax.plot(
            [p[0] for p in karn],
            [p[1] for p in karn],
            linestyle="none",
            marker="o",
            markersize=6,
            markerfacecolor="none",
            color=COLORS["retransmission"],
            label="ACK of retransmitted data\n(ambiguous, RFC 6298 Karn)",
            gid="rtt_ambiguous",
        )
    if ser.irtt_ms is not None:
        ax.axhline(ser.irtt_ms, color=COLORS["irtt"], lw=1.0, ls="--", label=f"iRTT {ser.irtt_ms:.3g} ms", gid="irtt")
    values = [v for v in [*ser.rtt_ms, ser.irtt_ms] if v is not None and v > 0]
    if values and max(values) >= 100 * min(values):
        # Delayed ACKs and timeouts sit two or more decades above a LAN RTT: a linear axis flattens the RTT.
        from matplotlib.ticker import FuncFormatter

        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))  # 0.01, 0.1, 1 … not 10^-2
    else:
        ax.set_ylim(bottom=0)
    if ser.t or ser.irtt_ms is not None:
        _legend(ax)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("RTT (ms)")


def _draw_window(ax: Axes, ser: WindowSeries) -> None:
    peak = max([v for _, v in ser.rwin] + [v for _, v in ser.in_flight], default=0)
    div, unit = _byte_unit(peak)
    if ser.rwin:
        xs, ys = _steps(ser.rwin)
        ax.plot(
            xs,
            [y / div for y in ys],
            drawstyle="steps-post",
            color=COLORS["rwin"],
            lw=1.2,
            label="receive window\n(advertised by the receiver)",
            gid="rwin",
            **_dot_if_single(xs),
        )
    if ser.in_flight:
        xs, ys = _steps(ser.in_flight)
        ax.plot(
            xs,
            [y / div for y in ys],
            linestyle="none",
            marker=".",
            markersize=4,
            color=COLORS["in_flight"],
            label="bytes in flight\n(sent, not yet ACKed)",
            gid="in_flight",
        )
    if ser.zero_window:
        ax.plot(
            ser.zero_window,
            [0.0] * len(ser.zero_window),
            linestyle="none",
            marker="x",
            markersize=7,
            color=COLORS["zero_window"],
            label="zero window advertised",
            gid="zero_window",
            zorder=3,
        )
    if ser.rwin or ser.in_flight:
        _legend(ax)
        lo, hi = ax.get_ylim()
        ax.set_ylim(min(lo, -0.03 * hi), hi)  # always show 0: a window is read against it
    ax.set_xlabel("time (s)")
    ax.set_ylabel(f"bytes ({unit})")


class _Collect:
    """One graph's series for one or both directions, gathered one segment at a time (only what the graph needs:
    decimated past :data:`DECIMATE_ABOVE` points), so a graph never needs its stream held whole."""

    def __init__(self, kind: str, directions: Iterable[int], t0: int | None = None, most: int | None = None) -> None:
        make: dict[str, Callable[[int], Any]] = {
            "tsg": lambda d: _Tsg(d, t0, most),
            "throughput": lambda d: _Sent(d, most),
            "rtt": lambda d: _Rtt(d, t0, most),
            "window": lambda d: _Window(d, t0, most),
        }
        self.kind = kind
        self.per = {d: make[kind](d) for d in directions}
        self.data_bytes = [0, 0]  # payload bytes each side sent (retransmissions included)

    def add(self, s: Segment) -> None:
        self.data_bytes[s.direction] += s.len
        for b in self.per.values():
            b.add(s)

    def series(self, summary: FlowSummary, d: int, ma_window_s: float | None) -> Any:
        b = self.per[d]
        if self.kind == "tsg":
            return b.finish(summary.flow.halves[d].base)
        if self.kind == "throughput":
            return b.finish(summary.first_ts, summary.last_ts - summary.first_ts, ma_window_s)
        if self.kind == "rtt":
            return b.finish(summary)
        return b.finish()


def draw_graph(
    summary: FlowSummary,
    segs: Iterable[Segment],
    kind: GraphKind | str,
    *,
    direction: DirectionName | Direction | None = None,
    ax: Axes | None = None,
    ma_window_s: float | None = None,
) -> Axes:
    """Draw one graph of one stream on ``ax`` (a new off-screen figure when None) and return the Axes.

    ``segs`` are the stream's analysed segments in capture order (from :class:`~tcptrace.engine.Pipeline`),
    ``summary`` its :class:`~tcptrace.stats.FlowSummary`. ``kind``: ``"tsg"`` (time-sequence), ``"throughput"``,
    ``"rtt"`` or ``"window"``. ``direction``: ``"c2s"``, ``"s2c"``, or None for the one carrying more data.
    ``ma_window_s``: the throughput graph's moving-average window (default: :func:`default_ma_window`).
    A direction without payload draws what it has (SYN/FIN marks, ACKs) and says "no data in this direction".
    A series of more than :data:`DECIMATE_ABOVE` points is reduced to the pixel grid (see there).
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    d = choose_direction(summary, direction)
    n = summary.flow.stream
    collect = _Collect(kind, (d,), summary.first_ts)
    for s in segs:
        if s.stream == n:
            collect.add(s)
    return _draw(ax, GraphData.of(collect, summary, d, ma_window_s))


@dataclass
class GraphData:
    """One graph, ready to draw: the stream's summary, the kind, the direction drawn, its series (TsgSeries ...)
    and whether that direction carried payload. Small however long the stream (series are reduced past
    :data:`DECIMATE_ABOVE` points), so the CLI gathers it in a child process (:func:`graph_data_from`) while it
    imports matplotlib."""

    summary: FlowSummary
    kind: str
    direction: Direction
    series: Any
    has_data: bool

    @classmethod
    def of(cls, collect: _Collect, summary: FlowSummary, d: Direction, ma_window_s: float | None) -> GraphData:
        return cls(summary, collect.kind, d, collect.series(summary, d, ma_window_s), bool(collect.data_bytes[d]))


def _draw(ax: Axes | None, data: GraphData) -> Axes:
    summary, kind, d, ser = data.summary, data.kind, data.direction, data.series
    if ax is None:
        ax = _new_figure()[1]
    drawers: dict[str, Callable[[Axes, Any], None]] = {
        "tsg": _draw_tsg, "throughput": _draw_throughput, "rtt": _draw_rtt, "window": _draw_window}  # fmt: skip
    drawers[kind](ax, ser)
    if not data.has_data:
        _no_data(ax)
    # The same time axis for every kind (0 = the stream's first packet, to its last or beyond), so graphs of one
    # stream line up when stacked; then seconds as seconds, not "1e-5" with an offset.
    duration = (summary.last_ts - summary.first_ts) / 1e9
    right = max(duration, ax.dataLim.x1) if math.isfinite(ax.dataLim.x1) else duration
    if right > 0:
        ax.set_xlim(-0.02 * right, 1.02 * right)
    ax.ticklabel_format(axis="x", style="plain", useOffset=False)
    ax.set_title(_title(summary, d, kind), fontsize="medium")
    ax.grid(True, color="#e6e6e6", lw=0.6)
    ax.set_axisbelow(True)
    return ax


def graph_from(
    segments: Iterable[Segment],
    summary: Callable[[], FlowSummary],
    kind: GraphKind | str,
    *,
    direction: DirectionName | Direction | None = None,
    ax: Axes | None = None,
    ma_window_s: float | None = None,
    columns: int | None = None,
) -> Axes:
    """:func:`draw_graph` of one stream's segments read once as they come (:class:`tcptrace.engine.StreamSegments`)
    and never held whole; ``summary`` gives the stream's summary once they are read. Without ``direction`` both
    directions' series are gathered and the one :func:`choose_direction` picks at the end is drawn. ``columns``:
    the plot's width in pixels, when more than :data:`DECIMATE_BUCKETS` / 2 (a reduced series keeps a bucket per
    pixel column at least)."""
    return _draw(ax, graph_data_from(segments, summary, kind, direction=direction, ma_window_s=ma_window_s,
                                     columns=columns))  # fmt: skip


def graph_data_from(
    segments: Iterable[Segment],
    summary: Callable[[], FlowSummary],
    kind: GraphKind | str,
    *,
    direction: DirectionName | Direction | None = None,
    ma_window_s: float | None = None,
    columns: int | None = None,
) -> GraphData:
    """What :func:`graph_from` draws, gathered without matplotlib (see :class:`GraphData`)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    fixed = None if direction is None else choose_direction(None, direction)  # type: ignore[arg-type]
    most = max(DECIMATE_BUCKETS, 2 * columns) if columns else None  # at least one bucket per pixel column
    collect = _Collect(kind, (0, 1) if fixed is None else (fixed,), most=most)
    for s in segments:
        collect.add(s)
    whole = summary()
    return GraphData.of(collect, whole, choose_direction(whole, direction), ma_window_s)


def save_graph(
    summary: FlowSummary,
    segs: Iterable[Segment],
    kind: GraphKind | str,
    path: str | os.PathLike[str],
    *,
    direction: DirectionName | Direction | None = None,
    dpi: int = 150,
    width: float | None = None,
    ma_window_s: float | None = None,
) -> None:
    """Draw a graph (as :func:`draw_graph`) and write it to ``path``; the format comes from the extension
    (``.png``, ``.svg``, ``.pdf``). ``width`` is the figure width in inches (default 10; height is 0.6 of it),
    ``dpi`` applies to PNG. SVG and PDF carry no creation date, so the same capture gives the same file.

    ``path`` is replaced only by a complete image (:func:`tcptrace.output.replacing`): a PNG too large to draw
    raises :class:`~tcptrace.errors.ImageTooLarge` before anything is drawn, an error writing raises ``OSError``,
    and an existing file stays as it was."""
    _save(path, kind, dpi, width, lambda ax: draw_graph(summary, segs, kind, direction=direction, ax=ax,
                                                        ma_window_s=ma_window_s))  # fmt: skip


def save_graph_from(
    segments: Iterable[Segment],
    summary: Callable[[], FlowSummary],
    kind: GraphKind | str,
    path: str | os.PathLike[str],
    *,
    direction: DirectionName | Direction | None = None,
    dpi: int = 150,
    width: float | None = None,
    ma_window_s: float | None = None,
) -> None:
    """:func:`save_graph` of one stream read as it comes (:func:`graph_from`)."""
    check_graph_output(path, kind, dpi, width)
    save_graph_data(graph_data_from(segments, summary, kind, direction=direction, ma_window_s=ma_window_s,
                                    columns=graph_columns(dpi, width)), path, dpi=dpi, width=width)  # fmt: skip


def graph_columns(dpi: int, width: float | None) -> int:
    """The plot's width in pixel columns (graph_data_from's ``columns``) at ``dpi`` and ``width`` inches."""
    return math.ceil((width if width is not None else DEFAULT_WIDTH_IN) * dpi)


def save_graph_data(
    data: GraphData, path: str | os.PathLike[str], *, dpi: int = 150, width: float | None = None
) -> None:
    """Draw ``data`` (:func:`graph_data_from`) and write it to ``path``, as :func:`save_graph` does: what ``tcptrace
    graph`` does once the stream is read."""
    _save(path, data.kind, dpi, width, lambda ax: _draw(ax, data))


def check_graph_output(path: str | os.PathLike[str], kind: str, dpi: int, width: float | None) -> str:
    """The format (png, svg, pdf) ``path`` asks for, once the graph is known to be drawable there: raises
    ``ValueError`` for another extension or kind and :class:`~tcptrace.errors.ImageTooLarge` for a PNG past
    PNG_MAX_SIDE, before any capture is read."""
    fmt = _FORMATS.get(os.path.splitext(os.fspath(path))[1].lower())
    if fmt is None:
        raise ValueError(f"cannot tell the graph format from {os.fspath(path)!r}: use .png, .svg or .pdf")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if fmt == "png":
        w = width if width is not None else DEFAULT_WIDTH_IN
        check_png_size(w, w * HEIGHT_RATIO, dpi, what="the graph", advice="lower the dpi or the width, or write SVG "
                       "or PDF")  # fmt: skip
    return fmt


def _save(path: str | os.PathLike[str], kind: str, dpi: int, width: float | None, draw: Callable[[Axes], Axes]) -> None:
    fmt = check_graph_output(path, kind, dpi, width)
    fig, ax = _new_figure(width)
    draw(ax)
    fig.tight_layout()
    metadata: dict[str, Any] = {"pdf": {"CreationDate": None}, "svg": {"Date": None}, "png": {}}[fmt]
    import matplotlib

    with matplotlib.rc_context({"svg.hashsalt": "tcptrace"}), replacing(path) as out:  # stable SVG ids
        fig.savefig(out, format=fmt, dpi=dpi, metadata=metadata)


def graph_for(path: Any, stream: int, kind: GraphKind | str, **kw: Any) -> Axes:
    """Read the capture at ``path`` and draw ``kind`` for tcp.stream ``stream``; keywords go to :func:`draw_graph`.

    Raises :class:`~tcptrace.errors.TcptraceError` when the capture has no such stream.

    >>> ax = graph_for("sample_pcaps/lossy_bulk.pcap", 0, "tsg")
    >>> ax.get_title()
    'Time-sequence graph (tcptrace): stream 0, 10.99.0.1:20000 → 10.99.0.2:33812 (s2c)'
    >>> [t.get_text() for t in ax.get_legend().get_texts()]
    ['data segments', 'ACK', 'receive window', 'SACK', 'retransmission (R)', 'SYN', 'FIN']
    """
    from .engine import StreamSegments

    source = StreamSegments(path, stream)
    return graph_from(source, lambda: source.summary, kind, **kw)


__all__ = [
    "KINDS",
    "NO_DATA_TEXT",
    "GraphData",
    "GraphKind",
    "check_graph_output",
    "choose_direction",
    "default_ma_window",
    "draw_graph",
    "graph_data_from",
    "graph_for",
    "graph_from",
    "rtt_series",
    "save_graph",
    "save_graph_data",
    "save_graph_from",
    "throughput_series",
    "tsg_series",
    "window_series",
]
