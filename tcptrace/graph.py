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
import os
from collections.abc import Iterable, Sequence
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


def tsg_series(summary: FlowSummary, segs: Sequence[Segment], direction: Direction) -> TsgSeries:
    """The time-sequence graph's series for ``direction`` (classic tcptrace ``-S``, trace.c)."""
    out = TsgSeries()
    marks: dict[str, list[tuple[float, int]]] = {
        k: []
        for k in (
            "retransmission",
            "out_of_order",
            "zero_window_probe",
            "hw_duplicate",
            "syn",
            "fin",
            "rst",
            "peer_rst",
        )
    }
    out.marks = marks
    t0 = summary.first_ts
    base = summary.flow.halves[direction].base
    top = 0  # highest unwrapped sequence number seen, the reference for unwrapping the next one
    last_ack = 0
    peer_win = -1  # the receiver's last advertised window (scaled), -1 before it has sent anything
    for s in segs:
        t = _seconds(s.ts_ns, t0)
        flags = s.flags
        if s.direction != direction:
            if flags & ACK:
                last_ack = _unwrap(s.ack, last_ack)
                out.ack.append((t, last_ack))
            if flags & RST:
                # The receiver's reset ends this direction too (a refused SYN is answered by nothing else);
                # its window field means nothing (RFC 9293 §3.10.7), so it moves neither window line.
                marks["peer_rst"].append((t, last_ack))
                continue
            if not flags & ACK:
                continue
            peer_win = s.win
            out.window.append((t, last_ack + s.win))
            if s.win == 0:
                out.zero_window.append((t, last_ack))
            if base is not None:
                for left, right in s.options.sack:
                    lo = _unwrap((left - base) & 0xFFFFFFFF, last_ack)
                    out.sack.append((t, lo, lo + ((right - left) & 0xFFFFFFFF)))
            continue
        seq = _unwrap(s.seq, top)
        end = seq + s.len
        top = max(top, end)
        ta = s.analysis
        if s.len:
            out.bars.append((t, seq, end))
            out.bar_retransmitted.append(bool(ta & _RETRANS))
        if ta & _RETRANS:
            marks["retransmission"].append((t, end))
        if ta & A_OUT_OF_ORDER:
            marks["out_of_order"].append((t, end))
        # Linux probes a zero window with a zero-length segment at snd_una - 1, which Wireshark calls a
        # keep-alive (sample_pcaps/README.md, zero_window.pcap); while the peer's window is 0 it is a probe.
        if ta & A_ZERO_WINDOW_PROBE or (ta & A_KEEP_ALIVE and peer_win == 0):
            marks["zero_window_probe"].append((t, end))
        if s.duplicate_of:
            marks["hw_duplicate"].append((t, end))
        if flags & SYN:
            marks["syn"].append((t, seq))
        if flags & FIN:
            marks["fin"].append((t, end))
        if flags & RST:
            marks["rst"].append((t, seq))
    return out


@dataclass
class ThroughputSeries:
    """Moving averages in bytes per second, as a step function: each value holds from its time to the next."""

    window_s: float
    t: list[float] = field(default_factory=list)
    throughput: list[float] = field(default_factory=list)
    goodput: list[float] = field(default_factory=list)
    mean_goodput: float = 0.0  # non-retransmitted bytes over the stream's duration (first to last packet)


def default_ma_window(segs: Sequence[Segment], direction: Direction) -> float:
    """The throughput graph's default moving-average window in seconds (see ``MA_FRACTION``)."""
    times = [s.ts_ns for s in segs if s.direction == direction and s.len]
    span = (max(times) - min(times)) / 1e9 if times else 0.0
    return min(MA_MAX_S, max(MA_MIN_S, span / MA_FRACTION))


def throughput_series(
    summary: FlowSummary, segs: Sequence[Segment], direction: Direction, ma_window_s: float | None = None
) -> ThroughputSeries:
    """Throughput (every payload byte) and goodput (bytes not flagged as retransmissions) of ``direction``.

    The value at time ``t`` is the payload sent in ``(t - w, t]`` divided by ``w``, the moving-average window
    (``ma_window_s``, else :func:`default_ma_window`). It is exact: a step up when a segment is sent, a step
    down ``w`` later, so the area under the curve is the bytes sent, an idle period drops to zero instead of
    being bridged by a straight line, and back-to-back bursts (microseconds apart) do not show as spikes, as a
    per-segment rate (tcptrace's yellow points) or a count-based window (tcptrace ``-A 10``) would.
    """
    w = ma_window_s if ma_window_s is not None else default_ma_window(segs, direction)
    if not w > 0:
        raise ValueError(f"ma_window_s must be positive, not {w!r}")
    out = ThroughputSeries(window_s=w)
    t0 = summary.first_ts
    w_ns = max(1, round(w * 1e9))
    data = [s for s in segs if s.direction == direction and s.len]
    events: dict[int, list[int]] = {}  # ts_ns -> [bytes delta, good bytes delta]
    for s in data:
        good = 0 if s.analysis & _RETRANS else s.len
        for ts, sign in ((s.ts_ns, 1), (s.ts_ns + w_ns, -1)):
            ev = events.setdefault(ts, [0, 0])
            ev[0] += sign * s.len
            ev[1] += sign * good
    total = good_total = 0
    for ts in sorted(events):
        dt, dg = events[ts]
        total += dt
        good_total += dg
        out.t.append(_seconds(ts, t0))
        out.throughput.append(total * 1e9 / w_ns)
        out.goodput.append(good_total * 1e9 / w_ns)
    # Over the whole connection, as classic tcptrace's -l "throughput" and `tcptrace flows` (throughput_Bps),
    # which also leave out zero-window-probe bytes.
    duration_ns = summary.last_ts - summary.first_ts
    if data and duration_ns > 0:
        out.mean_goodput = sum(s.len for s in data if not s.analysis & _RETRANS) * 1e9 / duration_ns
    return out


@dataclass
class RttSeries:
    t: list[float] = field(default_factory=list)
    rtt_ms: list[float] = field(default_factory=list)
    acked_frames: list[int] = field(default_factory=list)
    ambiguous: list[bool] = field(default_factory=list)  # the acknowledged data was retransmitted before the ACK
    irtt_ms: float | None = None


def rtt_series(summary: FlowSummary, segs: Sequence[Segment], direction: Direction) -> RttSeries:
    """RTT samples of ``direction``'s data: ``tcp.analysis.ack_rtt`` of the other side's ACKs whose acknowledged
    frame carried payload. Wireshark's RTT graph likewise times data segments only (tcp_stream_dialog.cpp
    ``fillRoundTripTime`` skips ``th_seglen == 0``); the handshake is shown instead as the iRTT line.

    ``ack_rtt`` is timed from the *first* transmission (packet-tcp.c keeps the oldest unacked match), so when
    that data was retransmitted before the ACK the sample may time the retransmission's loss and recovery
    instead of the path: Karn's algorithm (RFC 6298 §3) discards such samples. They are kept but flagged
    ``ambiguous``, since they are exactly what a user looking at an RTO wants to see.
    """
    out = RttSeries()
    fa = summary.flow.analysis
    if fa is not None and fa.ts_first_rtt:
        out.irtt_ms = fa.ts_first_rtt / 1e6
    t0 = summary.first_ts
    sent: dict[int, Segment] = {}  # frame -> this direction's data segment
    resent: list[Segment] = []  # this direction's retransmissions with payload, in capture order
    for s in segs:
        if s.direction == direction:
            if s.len:
                sent[s.frame] = s
                if s.analysis & _RETRANS:
                    resent.append(s)
            continue
        if s.ack_rtt_ns < 0:
            continue
        orig = sent.get(s.acks_frame)
        if orig is None:
            continue
        lo, hi = orig.seq, orig.seq + orig.len
        ambiguous = False
        for r in reversed(resent):  # newest first; only those sent after the original matter
            if r.frame < orig.frame:
                break
            if diff(r.seq, hi) < 0 and diff(r.seq + r.len, lo) > 0:  # the byte ranges overlap
                ambiguous = True
                break
        out.t.append(_seconds(s.ts_ns, t0))
        out.rtt_ms.append(s.ack_rtt_ns / 1e6)
        out.acked_frames.append(s.acks_frame)
        out.ambiguous.append(ambiguous)
    return out


@dataclass
class WindowSeries:
    rwin: list[tuple[float, int]] = field(default_factory=list)  # the receiver's advertised window (scaled)
    in_flight: list[tuple[float, int]] = field(default_factory=list)  # this direction's bytes in flight
    zero_window: list[float] = field(default_factory=list)  # times the receiver advertised 0


def window_series(summary: FlowSummary, segs: Sequence[Segment], direction: Direction) -> WindowSeries:
    """The receiver's window (``tcp.window_size`` of the other side) and ``direction``'s bytes in flight
    (``tcp.analysis.bytes_in_flight``; needs ``Pipeline(..., track_bytes_in_flight=True)``), as in Wireshark's
    Window Scaling graph ("Rcv Win", "Bytes Out")."""
    out = WindowSeries()
    t0 = summary.first_ts
    for s in segs:
        t = _seconds(s.ts_ns, t0)
        if s.direction != direction:
            if s.flags & RST:
                continue  # a reset's window field means nothing (RFC 9293 §3.10.7.2 ignores it)
            out.rwin.append((t, s.win))
            if s.win == 0:
                out.zero_window.append(t)
        elif s.bytes_in_flight >= 0:
            out.in_flight.append((t, s.bytes_in_flight))
    return out


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


def _draw_tsg(ax: Axes, summary: FlowSummary, segs: Sequence[Segment], direction: Direction) -> None:
    from matplotlib.collections import LineCollection
    from matplotlib.transforms import ScaledTranslation

    ser = tsg_series(summary, segs, direction)
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


def _draw_throughput(
    ax: Axes, summary: FlowSummary, segs: Sequence[Segment], direction: Direction, ma_window_s: float | None
) -> None:
    ser = throughput_series(summary, segs, direction, ma_window_s)
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


def _draw_rtt(ax: Axes, summary: FlowSummary, segs: Sequence[Segment], direction: Direction) -> None:
    ser = rtt_series(summary, segs, direction)
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


def _draw_window(ax: Axes, summary: FlowSummary, segs: Sequence[Segment], direction: Direction) -> None:
    ser = window_series(summary, segs, direction)
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


def draw_graph(
    summary: FlowSummary,
    segs: Sequence[Segment],
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
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    d = choose_direction(summary, direction)
    segs = [s for s in segs if s.stream == summary.flow.stream]
    if ax is None:
        ax = _new_figure()[1]
    if kind == "tsg":
        _draw_tsg(ax, summary, segs, d)
    elif kind == "throughput":
        _draw_throughput(ax, summary, segs, d, ma_window_s)
    elif kind == "rtt":
        _draw_rtt(ax, summary, segs, d)
    else:
        _draw_window(ax, summary, segs, d)
    if not data_bytes(segs, d):
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


def save_graph(
    summary: FlowSummary,
    segs: Sequence[Segment],
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
    fmt = _FORMATS.get(os.path.splitext(os.fspath(path))[1].lower())
    if fmt is None:
        raise ValueError(f"cannot tell the graph format from {os.fspath(path)!r}: use .png, .svg or .pdf")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    import matplotlib

    if fmt == "png":
        w = width if width is not None else DEFAULT_WIDTH_IN
        check_png_size(w, w * HEIGHT_RATIO, dpi, what="the graph", advice="lower the dpi or the width, or write SVG "
                       "or PDF")  # fmt: skip
    fig, ax = _new_figure(width)
    draw_graph(summary, segs, kind, direction=direction, ax=ax, ma_window_s=ma_window_s)
    fig.tight_layout()
    metadata: dict[str, Any] = {"pdf": {"CreationDate": None}, "svg": {"Date": None}, "png": {}}[fmt]
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
    from .engine import one_stream

    ff = one_stream(path, stream)
    summary, segs = ff.summary, ff.segments
    return draw_graph(summary, segs, kind, **kw)


__all__ = [
    "KINDS",
    "NO_DATA_TEXT",
    "GraphKind",
    "choose_direction",
    "default_ma_window",
    "draw_graph",
    "graph_for",
    "rtt_series",
    "save_graph",
    "throughput_series",
    "tsg_series",
    "window_series",
]
