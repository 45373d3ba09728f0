"""Ladder (sequence) diagrams of one TCP stream: the layout as plain data, and text renderers.

Theory of operation. :func:`build_ladder` turns one stream's analysed segments into a :class:`Ladder`: one
:class:`Arrow` per segment shown (labelled like Wireshark's Flow Graph: ``"PSH, ACK  seq=1 ack=1 len=2"``,
relative numbers), a :class:`StateMark` wherever an endpoint's RFC 9293 state changes, a :class:`Band` per phase
(handshake, data, teardown, reset) and a :class:`Collapsed` block for every long run of ordinary segments. No
matplotlib here: :mod:`tcptrace.diagram` draws a ``Ladder``; :func:`render_ascii`, :func:`render_mermaid` and
:func:`render_plantuml` write it as text. Everything is a frozen value, so a test can build a ladder and look at
its numbers.

Collapsing (narrate's rule, :mod:`tcptrace.narrate`): a segment is *notable* when it has a Wireshark analysis
flag, is a hardware duplicate, changes an endpoint's state, carries SYN, FIN or RST, belongs to the handshake, or
is the first data segment or the first pure ACK of its side. Every notable segment is an arrow. Runs of at least
:data:`COLLAPSE_MIN_RUN` consecutive ordinary segments (plain data and ACKs) become one block that says what they
carried, so a 2 MB transfer is a few dozen arrows, not thousands.

Vertical layout, in *rows* (one row is the height of one arrow; ``y`` grows downwards with time). Each band opens
with a header row for its name; an arrow takes one row, its receiver end :data:`ARROW_DROP` rows below its sender
end (the segment is in flight); a collapsed block takes :data:`COLLAPSED_ROWS`. With ``spacing="even"`` that is
all. With ``spacing="time"`` each item is also pushed down by ``min(MAX_GAP_ROWS, max(0, log2(gap / ref)))`` rows,
where ``gap`` is the time since the previous item ended and ``ref`` the flow's usual gap: the larger of the
handshake round-trip time (Wireshark's iRTT) and the flow's pace (its duration over the gaps between the items
drawn). So a gap no longer than usual adds nothing, each doubling beyond it adds a row, and an idle period adds at
most ``MAX_GAP_ROWS``. The mapping is monotone (a later segment is never drawn above an earlier one) and readable
(a burst still gets one row per arrow, so labels never overlap; a 200 ms retransmission timeout stands out in a
0.3 s transfer, a 50 µs pause does not). A pause that takes :data:`GAP_NOTE_ROWS` rows or more is recorded as a
:class:`Gap` with its real duration, ``broken`` where the cap cut it short, so renderers can label it and mark the
broken time axis.
"""

# Chinese catalogue strings use full-width punctuation on purpose (as in messages.py).
# ruff: noqa: RUF001, RUF003

from __future__ import annotations

import dataclasses
import math
import os
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO, Literal

from .analysis import (
    A_DUPLICATE_ACK,
    A_FAST_RETRANSMISSION,
    A_LOST_PACKET,
    A_RETRANSMISSION,
    A_REUSED_PORTS,
    A_SPURIOUS_RETRANSMISSION,
    A_ZERO_WINDOW,
    A_ZERO_WINDOW_PROBE,
    analysis_names,
    info_names,
)
from .events import initial_states, resolve_states
from .messages import LANGUAGES
from .model import FIN, RST, SYN, Segment, flag_names, format_endpoint
from .narrate import _size as narrate_size
from .vocab import FLAGS, LADDER_CATEGORIES, LADDER_COLOURS, LADDER_PRECEDENCE

if TYPE_CHECKING:
    from .stats import FlowSummary

SPACINGS = ("time", "even")
COLLAPSE_MIN_RUN = 6  # at least this many consecutive ordinary segments become one block
ARROW_DROP = 0.4  # rows between an arrow's sender end and its receiver end
BAND_HEADER_ROWS = 1.0
ARROW_ROWS = 1.0
COLLAPSED_ROWS = 2.0
MAX_GAP_ROWS = 3.0
GAP_NOTE_ROWS = 2.0  # a pause that adds at least this many rows is labelled with its duration
END_PAD_ROWS = 0.4  # below the last arrow, so its receiver-side state stays inside the last band
INITIAL_STATE_Y = -0.35  # the states before the first segment, just under the participant heads

# Colouring categories, in legend order, and their colours: tcptrace.vocab.LADDER_CATEGORIES.
CATEGORIES: tuple[str, ...] = tuple(c.name for c in LADDER_CATEGORIES)
CATEGORY_COLORS: dict[str, str] = dict(LADDER_COLOURS)
BAND_COLORS: dict[str, str] = {
    "handshake": "#e7effa",
    "data": "#f5f5f5",
    "teardown": "#e6f3f3",
    "reset": "#fbe6e6",
}
_PHASE_ORDER = {"handshake": 0, "data": 1, "teardown": 2, "reset": 3}


def _en_notes() -> dict[str, str]:
    """The English arrow notes: Wireshark's Info-column texts (tcptrace.vocab.FLAGS); a duplicate ACK's also says
    which ACK it repeats and how often, "TCP Dup ACK 12#2" (packet-tcp.c "[TCP Dup ACK %u#%u]")."""
    return {"note." + f.name: f.info + (" {frame}#{number}" if f.name == "duplicate_ack" else "") for f in FLAGS}


# The wording is the message catalogue's "ladder.*" entries (tcptrace.messages: one catalogue per language); the
# English arrow notes are Wireshark's Info-column texts from tcptrace.vocab.
TEXTS: dict[str, dict[str, str]] = {
    lang: {k[len("ladder.") :]: v for k, v in cat.items() if k.startswith("ladder.")} for lang, cat in LANGUAGES.items()
}
for _key, _text in _en_notes().items():
    TEXTS["en"].setdefault(_key, _text)


# --- values ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Arrow:
    """One segment: from the sender's lifeline at ``y`` to the receiver's at ``y + ARROW_DROP``."""

    frame: int
    t: float  # seconds since the stream's first segment
    y: float  # rows from the top of the first band
    from_client: bool
    label: str  # "PSH, ACK  seq=1 ack=1 len=2" (relative numbers, Wireshark's flag order)
    category: str  # one of CATEGORIES: how to colour it
    flags: tuple[str, ...]  # TCP flags, e.g. ("PSH", "ACK")
    analysis: tuple[str, ...] = ()  # Wireshark tcp.analysis names, e.g. ("retransmission",)
    note: str = ""  # "[TCP Retransmission]": the analysis in the words of Wireshark's Info column
    dup_ack: tuple[int, int] | None = None  # (frame, number) of a duplicate ACK: "Dup ACK 35#2"
    duplicate_of: int = 0  # frame this is a hardware duplicate of

    @property
    def side(self) -> str:
        return "client" if self.from_client else "server"


@dataclass(frozen=True)
class StateMark:
    """An endpoint's state changes at ``y`` (after ``frame``; 0 for the state before the first segment)."""

    y: float
    side: Literal["client", "server"]
    state: str
    frame: int


@dataclass(frozen=True)
class Band:
    """A phase of the connection, from ``y0`` to ``y1``; its name is drawn in its first row."""

    y0: float
    y1: float
    phase: str  # handshake, data, teardown, reset
    label: str


@dataclass(frozen=True)
class Collapsed:
    """A run of ordinary segments drawn as one block from ``y`` to ``y + height``."""

    y: float
    frames: tuple[int, int]  # first and last frame of the run
    text: str  # "frames 12–1,480: the server sends 2.0 MB in 1,402 segments; the client answers with 701 ACKs"
    segments: int
    t0: float
    t1: float
    data_bytes: tuple[int, int] = (0, 0)  # client→server, server→client
    data_segments: tuple[int, int] = (0, 0)
    acks: tuple[int, int] = (0, 0)  # pure ACKs (no payload) by each side
    height: float = COLLAPSED_ROWS
    flags: tuple[tuple[str, int], ...] = ()  # analysis flags inside the block (flows over the arrow budget)


@dataclass(frozen=True)
class Gap:
    """A pause worth noting under ``time`` spacing: ``seconds`` of idle drawn as ``rows`` rows centred on ``y``.
    ``broken`` when the pause was longer than :data:`MAX_GAP_ROWS` could show (the time axis is broken there)."""

    y: float
    seconds: float
    rows: float
    text: str
    broken: bool = False


@dataclass(frozen=True)
class Ladder:
    """The ladder diagram of one TCP stream, as data. ``str()`` is the ASCII rendering; in Jupyter it shows
    as a PNG."""

    stream: int
    client: str  # "10.0.0.1:40000 (client)"
    server: str
    client_endpoint: str  # "10.0.0.1:40000"
    server_endpoint: str
    arrows: tuple[Arrow, ...]
    states: tuple[StateMark, ...]
    bands: tuple[Band, ...]
    collapsed: tuple[Collapsed, ...]
    gaps: tuple[Gap, ...]
    title: str
    subtitle: str
    lang: str
    spacing: str
    height: float  # rows from y=0 to the end of the last band
    segments: int  # segments in the stream (shown or collapsed)
    duration_s: float

    def __str__(self) -> str:
        return render_ascii(self)

    def _repr_png_(self) -> bytes:
        from .diagram import render_png

        return render_png(self)

    def localized(self, lang: str) -> Ladder:
        """The same ladder with its words in ``lang`` (numbers, flags and state names never change)."""
        return _localize(self, lang)

    def categories(self) -> list[str]:
        """The colouring categories present, in legend order."""
        present = {a.category for a in self.arrows}
        return [c for c in CATEGORIES if c in present]


# --- building -------------------------------------------------------------------------------------------


def _texts(lang: str) -> dict[str, str]:
    if lang not in TEXTS:
        raise ValueError(f"unknown language {lang!r}; available: {', '.join(TEXTS)}")
    return TEXTS[lang]


def segment_label(seg: Segment) -> str:
    """The arrow label: flags as Wireshark's Flow Graph writes them, then relative seq/ack/len.

    ``ack`` only when the ACK flag is set, ``len`` only when there is payload, ``win=0`` when the window is
    closed (a zero window is the one window value a ladder must show).
    """
    names = flag_names(seg.flags)
    # an RST from a closed port carries seq 0 (RFC 9293 §3.10.7.1): Wireshark's relative 1 would hide that
    parts = ["raw seq=0" if seg.flags & RST and seg.seq_raw == 0 and seg.seq != 0 else f"seq={seg.seq}"]
    if "ACK" in names:
        parts.append(f"ack={seg.ack}")
    if seg.len:
        parts.append(f"len={seg.len}")
    if seg.win == 0 and not seg.flags & RST:
        parts.append("win=0")
    return f"{', '.join(names) or '<none>'}  {' '.join(parts)}"


def segment_category(seg: Segment) -> str:
    """How to colour a segment: the most alarming thing about it first (tcptrace.vocab.LADDER_PRECEDENCE)."""
    flags = seg.flags
    found = list(_flag_categories(seg.analysis))
    if flags & RST:
        found.append("rst")
    if seg.duplicate_of:
        found.append("duplicate")
    if found:
        return min(found, key=_PRECEDENCE.__getitem__)
    if flags & SYN or seg.phase == "handshake":
        return "handshake"
    if flags & FIN:
        return "teardown"
    return "normal"


_PRECEDENCE = {name: rank for rank, name in enumerate(LADDER_PRECEDENCE)}
_FLAG_CATEGORIES: dict[int, tuple[str, ...]] = {}


def _flag_categories(bits: int) -> tuple[str, ...]:
    """The ladder categories of the analysis flags in ``bits`` (flags without one, like reused_ports, add none)."""
    cats = _FLAG_CATEGORIES.get(bits)
    if cats is None:
        cats = _FLAG_CATEGORIES[bits] = tuple(f.category for f in FLAGS if bits & f.bit and f.category is not None)
    return cats


def _note(analysis: tuple[str, ...], dup_ack: tuple[int, int] | None, duplicate_of: int, t: dict[str, str]) -> str:
    out = []
    for name in info_names(analysis):
        if name == "duplicate_ack" and dup_ack is not None:
            out.append("[" + t["note.duplicate_ack"].format(frame=dup_ack[0], number=dup_ack[1]) + "]")
        else:
            out.append("[" + t.get("note." + name, name).format(frame="?", number="?") + "]")
    if duplicate_of:
        out.append("[" + t["note.duplicate"].format(frame=duplicate_of) + "]")
    return " ".join(out)


def _dur(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds:.3f} s"


_size = narrate_size  # one byte-size wording for narratives and ladders


def _collapsed_text(c: Collapsed, t: dict[str, str]) -> str:
    role = (t["client"], t["server"])
    parts = []
    for d in (0, 1):
        if c.data_segments[d]:
            parts.append(t["collapsed.data"].format(who=role[d], size=_size(c.data_bytes[d], t), n=c.data_segments[d]))
    for d in (0, 1):
        if c.acks[d]:
            key = "collapsed.acks" if c.data_segments[1 - d] else "collapsed.acks_only"
            parts.append(t[key].format(who=role[d], n=c.acks[d]))
    if c.flags:
        parts.append(t["collapsed.flags"].format(flags=", ".join(f"{n} {name}" for name, n in c.flags)))
    return t["collapsed"].format(
        first=f"{c.frames[0]:,}", last=f"{c.frames[1]:,}", parts=t["collapsed.sep"].join(parts)
    )


def _titles(
    stream: int, client_ep: str, server_ep: str, segments: int, duration_s: float, arrows: int,
    collapsed: tuple[Collapsed, ...], t: dict[str, str],
) -> tuple[str, str, str, str]:  # fmt: skip
    client = t["endpoint"].format(endpoint=client_ep, role=t["client"])
    server = t["endpoint"].format(endpoint=server_ep, role=t["server"])
    title = t["title"].format(stream=stream, client=client_ep, server=server_ep)
    hidden = sum(c.segments for c in collapsed)
    more = t["subtitle.collapsed"].format(n=hidden, blocks=len(collapsed)) if collapsed else ""
    subtitle = t["subtitle"].format(segments=segments, duration=_dur(duration_s), arrows=arrows, collapsed=more)
    return client, server, title, subtitle


def _band_label(phase: str, lang: str) -> str:
    return LANGUAGES[lang]["section." + phase]


def _localize(ladder: Ladder, lang: str) -> Ladder:
    t = _texts(lang)
    arrows = tuple(dataclasses.replace(a, note=_note(a.analysis, a.dup_ack, a.duplicate_of, t)) for a in ladder.arrows)
    collapsed = tuple(dataclasses.replace(c, text=_collapsed_text(c, t)) for c in ladder.collapsed)
    bands = tuple(dataclasses.replace(b, label=_band_label(b.phase, lang)) for b in ladder.bands)
    gaps = tuple(dataclasses.replace(g, text=t["gap"].format(duration=_dur(g.seconds))) for g in ladder.gaps)
    client, server, title, subtitle = _titles(
        ladder.stream, ladder.client_endpoint, ladder.server_endpoint, ladder.segments, ladder.duration_s,
        len(arrows), collapsed, t,
    )  # fmt: skip
    return dataclasses.replace(ladder, arrows=arrows, collapsed=collapsed, bands=bands, gaps=gaps, client=client,
                               server=server, title=title, subtitle=subtitle, lang=lang)  # fmt: skip


def _initial_states(segs: list[Segment]) -> tuple[str, str]:
    """The endpoints' states before the first segment (CLOSED for a server that refuses: tcptrace.events)."""
    client, server = initial_states(segs)
    return str(client), str(server)


# Over this many arrows matplotlib spends seconds on the labels and nobody can read the result: then only the
# flags that change the story (retransmissions, lost segments, zero windows, resets) keep their own arrow, and
# the rest (window updates, window full, dup ACKs, out-of-order, keep-alives ...) are counted in their blocks.
MAX_ARROWS = 300
_MAJOR = (
    A_RETRANSMISSION
    | A_FAST_RETRANSMISSION
    | A_SPURIOUS_RETRANSMISSION
    | A_LOST_PACKET
    | A_ZERO_WINDOW
    | A_ZERO_WINDOW_PROBE
    | A_REUSED_PORTS
)


def _notable_flags(segs: list[Segment]) -> list[bool]:
    """Which segments must stay arrows (narrate's rule, module docstring), within the arrow budget: first every
    flagged segment; over budget, only retransmission-class events; still over, only handshake, teardown, resets
    and state changes, with every flag counted in the collapsed blocks ("inside: 125 retransmission ...")."""
    out = _notable(segs, level=0)
    for level in (1, 2):
        if _arrow_count(out) <= MAX_ARROWS:
            break
        out = _notable(segs, level=level)
    return out


def _arrow_count(notable: list[bool]) -> int:
    """Arrows drawn for this choice: the notable segments plus runs too short to collapse."""
    arrows = run = 0
    for keep in notable:
        if keep:
            arrows += 1 + (run if run < COLLAPSE_MIN_RUN else 0)
            run = 0
        else:
            run += 1
    return arrows + (run if run < COLLAPSE_MIN_RUN else 0)


def _notable(segs: list[Segment], level: int) -> list[bool]:
    out = []
    prev = _initial_states(segs)
    first_data = [True, True]
    first_ack = [True, True]
    for seg in segs:
        states = (str(seg.client_state), str(seg.server_state))
        d = seg.direction
        # A long burst of duplicate ACKs is one event: the first three (the third triggers a fast retransmit)
        # stay arrows, the rest join the collapsed run around them (the narrative merges them the same way).
        burst_tail = (
            seg.analysis == A_DUPLICATE_ACK and (seg.evidence or {}).get("duplicate_ack", {}).get("number", 0) > 3
        )
        flagged = (seg.analysis and not burst_tail) if level == 0 else (seg.analysis & _MAJOR if level == 1 else 0)
        notable = bool(
            flagged or seg.duplicate_of or states != prev or seg.flags & (SYN | FIN | RST) or seg.phase == "handshake"
        )
        if seg.len and first_data[d]:
            first_data[d] = False
            notable = True
        elif not seg.len and first_ack[d]:
            first_ack[d] = False
            notable = True
        prev = states
        out.append(notable)
    return out


class _Item:
    """A row-group under construction: a band header, an arrow or a collapsed run."""

    __slots__ = ("band", "kind", "segs", "t0", "t1")

    def __init__(self, kind: str, band: str, segs: list[Segment], t0: float, t1: float) -> None:
        self.kind = kind
        self.band = band
        self.segs = segs
        self.t0 = t0
        self.t1 = t1


def build_ladder(
    summary: FlowSummary,
    segs: Iterable[Segment],
    *,
    lang: str = "en",
    collapse: bool = True,
    spacing: str = "time",
) -> Ladder:
    """The ladder of one analysed stream (``segs`` in capture order, ``summary`` fed with them).

    >>> from tcptrace.engine import Pipeline
    >>> run = Pipeline("sample_pcaps/echo_ipv4.pcap")
    >>> segs = list(run)
    >>> lad = build_ladder(run.summaries[0], segs)
    >>> [a.label for a in lad.arrows[:3]]
    ['SYN  seq=0', 'SYN, ACK  seq=0 ack=1', 'ACK  seq=1 ack=1']
    >>> [(m.side, m.state) for m in lad.states[:4]]
    [('client', 'CLOSED'), ('server', 'LISTEN'), ('client', 'SYN_SENT'), ('server', 'SYN_RECEIVED')]
    """
    t = _texts(lang)
    if spacing not in SPACINGS:
        raise ValueError(f"unknown spacing {spacing!r}; use one of: {', '.join(SPACINGS)}")
    segs = list(segs)
    resolve_states(segs)  # the endpoints' states with hindsight, as the narrative tells them (tcptrace.events)
    flow = summary.flow
    start_ns = segs[0].ts_ns if segs else 0
    notable = _notable_flags(segs) if collapse else [True] * len(segs)

    # 1. Group into items, in order: band headers, arrows, collapsed runs.
    items: list[_Item] = []
    band_order = -1
    run: list[Segment] = []

    def flush() -> None:
        if len(run) >= COLLAPSE_MIN_RUN:
            items.append(_Item("collapsed", band, list(run), _rel(run[0]), _rel(run[-1])))
        else:
            items.extend(_Item("arrow", band, [s], _rel(s), _rel(s)) for s in run)
        run.clear()

    def _rel(seg: Segment) -> float:
        return (seg.ts_ns - start_ns) / 1e9

    band = ""
    for seg, keep in zip(segs, notable, strict=True):
        order = max(band_order, _PHASE_ORDER.get(seg.phase, 1))
        if order != band_order:  # a phase opens; it never goes back (data after a FIN stays under teardown)
            flush()
            band_order = order
            band = next(p for p, o in _PHASE_ORDER.items() if o == order)
            items.append(_Item("band", band, [], _rel(seg), _rel(seg)))
        if keep:
            flush()
            items.append(_Item("arrow", band, [seg], _rel(seg), _rel(seg)))
        else:
            run.append(seg)
    flush()

    # 2. Vertical positions.
    ref = _time_ref(summary, items)
    y = 0.0
    last_t: float | None = None
    arrows: list[Arrow] = []
    collapsed: list[Collapsed] = []
    gaps: list[Gap] = []
    band_starts: list[tuple[float, str]] = []
    states: list[StateMark] = []
    init = _initial_states(segs)
    if segs:
        states.append(StateMark(INITIAL_STATE_Y, "client", init[0], 0))
        states.append(StateMark(INITIAL_STATE_Y, "server", init[1], 0))
    prev_states = init
    for item in items:
        if spacing == "time" and last_t is not None:
            gap = max(0.0, item.t0 - last_t)
            extra = max(0.0, math.log2(gap / ref)) if gap > ref else 0.0
            broken = extra > MAX_GAP_ROWS
            extra = min(extra, MAX_GAP_ROWS)
            if extra >= GAP_NOTE_ROWS:  # say how long the pause was where it takes visible room
                gaps.append(Gap(y + extra / 2, gap, extra, t["gap"].format(duration=_dur(gap)), broken))
            y += extra
        if item.kind == "band":  # a gap before a phase opens is drawn above its header
            band_starts.append((y, item.band))
            y += BAND_HEADER_ROWS
            if last_t is not None:
                last_t = item.t0
            continue
        last_t = item.t1
        if item.kind == "arrow":
            seg = item.segs[0]
            ay = y + 0.5 - ARROW_DROP / 2  # centred in its row
            names = analysis_names(seg.analysis)
            dup = None
            if "duplicate_ack" in names and seg.evidence and "duplicate_ack" in seg.evidence:
                ev = seg.evidence["duplicate_ack"]
                dup = (int(ev.get("frame", 0)), int(ev.get("number", 0)))
            arrows.append(
                Arrow(
                    frame=seg.frame,
                    t=item.t0,
                    y=ay,
                    from_client=seg.direction == 0,
                    label=segment_label(seg),
                    category=segment_category(seg),
                    flags=flag_names(seg.flags),
                    analysis=names,
                    note=_note(names, dup, seg.duplicate_of, t),
                    dup_ack=dup,
                    duplicate_of=seg.duplicate_of,
                )
            )
            now = (str(seg.client_state), str(seg.server_state))
            sender = seg.direction
            for side in (0, 1):
                if now[side] != prev_states[side]:
                    sy = ay if side == sender else ay + ARROW_DROP
                    states.append(StateMark(sy, "client" if side == 0 else "server", now[side], seg.frame))
            prev_states = now
            y += ARROW_ROWS
        else:
            run_segs = item.segs
            nbytes = [0, 0]
            ndata = [0, 0]
            nacks = [0, 0]
            inside: dict[str, int] = {}
            for s in run_segs:
                if s.len:
                    nbytes[s.direction] += s.len
                    ndata[s.direction] += 1
                else:
                    nacks[s.direction] += 1
                for name in analysis_names(s.analysis):
                    inside[name] = inside.get(name, 0) + 1
            block = Collapsed(y + 0.25, (run_segs[0].frame, run_segs[-1].frame), "", len(run_segs), item.t0, item.t1,
                              (nbytes[0], nbytes[1]), (ndata[0], ndata[1]), (nacks[0], nacks[1]),
                              COLLAPSED_ROWS - 0.6, tuple(sorted(inside.items())))  # fmt: skip
            collapsed.append(dataclasses.replace(block, text=_collapsed_text(block, t)))
            y += COLLAPSED_ROWS
    y += END_PAD_ROWS
    bands = tuple(
        Band(y0, band_starts[i + 1][0] if i + 1 < len(band_starts) else y, phase, _band_label(phase, lang))
        for i, (y0, phase) in enumerate(band_starts)
    )
    client_ep = format_endpoint(flow.client.addr, flow.client.port)
    server_ep = format_endpoint(flow.server.addr, flow.server.port)
    duration = (segs[-1].ts_ns - start_ns) / 1e9 if segs else 0.0
    client, server, title, subtitle = _titles(flow.stream, client_ep, server_ep, len(segs), duration, len(arrows),
                                              tuple(collapsed), t)  # fmt: skip
    return Ladder(
        stream=flow.stream,
        client=client,
        server=server,
        client_endpoint=client_ep,
        server_endpoint=server_ep,
        arrows=tuple(arrows),
        states=tuple(states),
        bands=bands,
        collapsed=tuple(collapsed),
        gaps=tuple(gaps),
        title=title,
        subtitle=subtitle,
        lang=lang,
        spacing=spacing,
        height=y,
        segments=len(segs),
        duration_s=duration,
    )


def _time_ref(summary: FlowSummary, items: list[_Item]) -> float:
    """The flow's usual gap (seconds): the larger of the handshake RTT (iRTT) and the flow's own pace, its
    duration divided by the gaps between the items drawn (module docstring)."""
    fa = summary.flow.analysis
    irtt = fa.ts_first_rtt / 1e9 if fa is not None and fa.ts_first_rtt else 0.0
    shown = [i for i in items if i.kind != "band"]
    pace = (shown[-1].t1 - shown[0].t0) / (len(shown) - 1) if len(shown) > 1 else 0.0
    return max(irtt, pace, 1e-6)


def ladder_for(
    path: str | os.PathLike[str] | BinaryIO,
    stream: int = 0,
    **kw: Any,
) -> Ladder:
    """Read a capture and build the ladder of one stream; keywords as :func:`build_ladder`.

    >>> lad = ladder_for("sample_pcaps/refused.pcap", 0)
    >>> [(a.frame, a.label, a.category) for a in lad.arrows]
    [(3, 'SYN  seq=0', 'handshake'), (4, 'RST, ACK  raw seq=0 ack=1', 'rst')]
    """
    from .engine import one_stream

    ff = one_stream(path, stream)
    summary, segs = ff.summary, ff.segments
    return build_ladder(summary, segs, **kw)


# --- text renderers -------------------------------------------------------------------------------------


def _width(s: str) -> int:
    """Display width in a terminal: East Asian wide and full-width characters take two columns."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in s)


def _ljust(s: str, n: int) -> str:
    return s + " " * max(0, n - _width(s))


def _rjust(s: str, n: int) -> str:
    return " " * max(0, n - _width(s)) + s


def _rows(ladder: Ladder) -> list[tuple[float, int, Any]]:
    """Bands, arrows, collapsed blocks and gaps in drawing order."""
    rows: list[tuple[float, int, Any]] = [(b.y0, 0, b) for b in ladder.bands]
    rows += [(g.y - g.rows / 2, 1, g) for g in ladder.gaps]  # before the item the pause precedes
    rows += [(a.y, 2, a) for a in ladder.arrows]
    rows += [(c.y, 2, c) for c in ladder.collapsed]
    rows.sort(key=lambda r: (r[0], r[1]))
    return rows


def _states_by_frame(ladder: Ladder) -> dict[int, dict[str, str]]:
    out: dict[int, dict[str, str]] = {}
    for m in ladder.states:
        out.setdefault(m.frame, {})[m.side] = m.state
    return out


def render_ascii(ladder: Ladder) -> str:
    """A text ladder in the spirit of ``tshark -z flow,tcp``: frame and time at the left, the client's states,
    the arrow with its label, the server's states, then Wireshark's analysis notes.

    >>> print(render_ascii(ladder_for("sample_pcaps/refused.pcap")))
    Stream 0: 10.99.0.2:37434 → 10.99.0.1:20001
    2 segments over 14 µs; 2 drawn as arrows
    <BLANKLINE>
      frame    time (s)   10.99.0.2:37434 (client)        10.99.0.1:20001 (server)
                           CLOSED |                                   | CLOSED
    == Three-way handshake ==
          3    0.000000  SYN_SENT |-------- SYN  seq=0 -------------->|
    == Reset ==
          4    0.000014    CLOSED |<-- RST, ACK  raw seq=0 ack=1 -----|
    """
    t = _texts(ladder.lang)
    states = _states_by_frame(ladder)
    labels = [a.label for a in ladder.arrows]
    arrow_w = max([_width(x) + 10 for x in labels] + [28])
    cstates = [m.state for m in ladder.states if m.side == "client"]
    state_w = max([_width(x) for x in cstates] + [6])
    lead_w = 7 + 2 + 10 + 2  # f"{frame:>7}  {time:>10.6f}  "
    lines = [ladder.title, ladder.subtitle, ""]
    # Participant headers centred over their lifelines ("|" columns).
    left_col = lead_w + state_w + 1
    right_col = left_col + arrow_w + 1
    head = _rjust(t["frame"], 7) + "  " + _rjust(t["time"], 10) + "  "
    c_start = max(_width(head) + 1, left_col - _width(ladder.client) // 2)
    head = _ljust(head, c_start) + ladder.client
    s_start = max(_width(head) + 2, right_col - _width(ladder.server) // 2)
    head = _ljust(head, s_start) + ladder.server
    lines.append(head)
    init = states.get(0, {})
    lines.append(
        _ljust("", lead_w) + _rjust(init.get("client", ""), state_w) + " |" + " " * arrow_w + "| "
        + init.get("server", "")
    )  # fmt: skip
    for _, _, row in _rows(ladder):
        if isinstance(row, Band):
            lines.append(f"== {row.label} ==")
        elif isinstance(row, Gap):
            lines.append(_ljust("", lead_w + state_w) + " :" + _centre(f"~ {row.text} ~", arrow_w, " ") + ":")
        elif isinstance(row, Collapsed):  # the block's text wrapped between the lifelines, "~" for elided
            span = f"{row.frames[0]:,}–{row.frames[1]:,}"
            for i, part in enumerate(_wrap_columns(row.text, arrow_w - 6)):
                first = _rjust(span, 7) if i == 0 else ""
                lines.append(_ljust(first, lead_w + state_w) + " |~ " + _ljust(part, arrow_w - 4) + " ~|")
        else:
            a = row
            st = states.get(a.frame, {})
            if a.from_client:
                body = "-" + _centre(f" {a.label} ", arrow_w - 2, "-") + ">"
            else:
                body = "<" + _centre(f" {a.label} ", arrow_w - 2, "-") + "-"
            line = (
                f"{a.frame:>7}  {a.t:>10.6f}  " + _rjust(st.get("client", ""), state_w) + " |" + body + "| "
                + _ljust(st.get("server", ""), 12)
            )  # fmt: skip
            if a.note:
                line += " " + a.note
            lines.append(line.rstrip())
    return "\n".join(line.rstrip() for line in lines)


def _wrap_columns(text: str, width: int) -> list[str]:
    """Wrap to ``width`` terminal columns: at spaces, or between any two characters of CJK text."""
    cjk = _width(text) != len(text)
    tokens = list(text) if cjk else text.split(" ")
    sep = "" if cjk else " "
    lines: list[str] = []
    current = ""
    for tok in tokens:
        trial = f"{current}{sep}{tok}" if current else tok
        if current and _width(trial) > width:
            lines.append(current)
            current = tok
        else:
            current = trial
    lines.append(current)
    return lines


def _centre(text: str, width: int, fill: str) -> str:
    pad = max(0, width - _width(text))
    left = pad // 3 if fill == "-" else pad // 2  # arrow labels sit a little towards the sender, like tshark
    return fill * left + text + fill * (pad - left)


def mermaid_escape(text: str) -> str:
    """Make text safe after a Mermaid ``:``: ``#`` starts a comment and ``;`` ends a statement in Mermaid's
    sequence lexer, ``%%`` is a comment and ``<``/``>`` are HTML; write them as Mermaid entity codes."""
    return text.translate(_MERMAID_ENTITIES)


_MERMAID_ENTITIES = str.maketrans({"#": "#35;", ";": "#59;", "%": "#37;", "<": "#lt;", ">": "#gt;", "\n": " "})


def _rgb(hex_colour: str) -> str:
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


def render_mermaid(ladder: Ladder) -> str:
    """A Mermaid ``sequenceDiagram``: one message per arrow (``->>``; ``-->>`` for anomalies, ``-x`` for RST),
    ``Note`` for state changes and collapsed blocks, a ``rect`` per phase.

    >>> print(render_mermaid(ladder_for("sample_pcaps/refused.pcap")))
    sequenceDiagram
        title Stream 0: 10.99.0.2:37434 → 10.99.0.1:20001
        participant C as 10.99.0.2:37434 (client)
        participant S as 10.99.0.1:20001 (server)
        Note left of C: CLOSED
        Note right of S: CLOSED
        rect rgb(231, 239, 250)
        Note over C,S: Three-way handshake
        C->>S: 3 SYN  seq=0
        Note left of C: SYN_SENT
        end
        rect rgb(251, 230, 230)
        Note over C,S: Reset
        S-xC: 4 RST, ACK  raw seq=0 ack=1
        Note left of C: CLOSED
        end
    """
    e = mermaid_escape
    states = _states_by_frame(ladder)
    out = ["sequenceDiagram", f"    title {e(ladder.title)}", f"    participant C as {e(ladder.client)}",
           f"    participant S as {e(ladder.server)}"]  # fmt: skip
    init = states.get(0, {})
    if "client" in init:
        out.append(f"    Note left of C: {e(init['client'])}")
    if "server" in init:
        out.append(f"    Note right of S: {e(init['server'])}")
    open_rect = False
    for _, _, row in _rows(ladder):
        if isinstance(row, Band):
            if open_rect:
                out.append("    end")
            out.append(f"    rect {_rgb(BAND_COLORS.get(row.phase, '#ffffff'))}")
            out.append(f"    Note over C,S: {e(row.label)}")
            open_rect = True
        elif isinstance(row, Gap):
            out.append(f"    Note over C,S: … {e(row.text)} …")
        elif isinstance(row, Collapsed):
            out.append(f"    Note over C,S: {e(row.text)}")
        else:
            a = row
            src, dst = ("C", "S") if a.from_client else ("S", "C")
            arrow = "-x" if a.category == "rst" else ("->>" if a.category in _PLAIN else "-->>")
            text = f"{a.frame} {a.label}" + (f" {a.note}" if a.note else "")
            out.append(f"    {src}{arrow}{dst}: {e(text)}")
            st = states.get(a.frame, {})
            if "client" in st:
                out.append(f"    Note left of C: {e(st['client'])}")
            if "server" in st:
                out.append(f"    Note right of S: {e(st['server'])}")
    if open_rect:
        out.append("    end")
    return "\n".join(out)


_PLAIN = frozenset({"normal", "handshake", "teardown"})


def _plantuml_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", " ")


def render_plantuml(ladder: Ladder) -> str:
    """A PlantUML sequence diagram: ``== phase ==`` separators, coloured arrows for anomalies (``->x`` for RST),
    ``note`` for state changes, ``...`` delays for collapsed blocks and compressed gaps.

    >>> text = render_plantuml(ladder_for("sample_pcaps/refused.pcap"))
    >>> text.splitlines()[0], text.splitlines()[-1]
    ('@startuml', '@enduml')
    >>> [x for x in text.splitlines() if " -[#" in x]
    ['C -[#1f5fa8]> S : 3 SYN  seq=0', 'S -[#d00000]>x C : 4 RST, ACK  raw seq=0 ack=1']
    """
    e = _plantuml_escape
    states = _states_by_frame(ladder)
    out = ["@startuml", f"title {e(ladder.title)}", "skinparam sequenceMessageAlign center",
           f'participant "{e(ladder.client)}" as C', f'participant "{e(ladder.server)}" as S']  # fmt: skip
    init = states.get(0, {})
    if init:
        out.append(f"note over C : {init.get('client', '')}")
        out.append(f"/ note over S : {init.get('server', '')}")
    for _, _, row in _rows(ladder):
        if isinstance(row, Band):
            out.append(f"== {e(row.label)} ==")
        elif isinstance(row, (Gap, Collapsed)):  # PlantUML's "delay" marks elided time
            out.append(f"...{e(row.text)}...")
        else:
            a = row
            src, dst = ("C", "S") if a.from_client else ("S", "C")
            colour = CATEGORY_COLORS.get(a.category, "#000000")
            # PlantUML: -[#c]> solid, -[#c]-> dashed (anomalies), -[#c]>x lost/rejected (RST)
            head = ">x" if a.category == "rst" else (">" if a.category in _PLAIN else "->")
            text = f"{a.frame} {a.label}" + (f" {a.note}" if a.note else "")
            out.append(f"{src} -[{colour}]{head} {dst} : {e(text)}")
            st = states.get(a.frame, {})
            if "client" in st:
                out.append(f"note left of C : {st['client']}")
            if "server" in st:
                out.append(("/ " if "client" in st else "") + f"note right of S : {st['server']}")
    out.append("@enduml")
    return "\n".join(out)


__all__ = [
    "ARROW_DROP",
    "CATEGORIES",
    "CATEGORY_COLORS",
    "COLLAPSE_MIN_RUN",
    "Arrow",
    "Band",
    "Collapsed",
    "Gap",
    "Ladder",
    "StateMark",
    "build_ladder",
    "ladder_for",
    "mermaid_escape",
    "render_ascii",
    "render_mermaid",
    "render_plantuml",
    "segment_category",
    "segment_label",
]
