"""Ladder (sequence) diagrams of one TCP stream: the layout as plain data, and text renderers.

Theory of operation. :func:`build_ladder` turns one stream's analysed segments into a :class:`Ladder`: one
:class:`Arrow` per segment shown (labelled like Wireshark's Flow Graph: ``"PSH, ACK  seq=1 ack=1 len=2"``,
relative numbers), a :class:`StateMark` wherever an endpoint's RFC 9293 state changes, a :class:`Band` per phase
(handshake, data, teardown, reset) and a :class:`Collapsed` block for every long run of ordinary segments. No
matplotlib here: :mod:`tcptrace.diagram` draws a ``Ladder``; :func:`render_ascii`, :func:`render_mermaid` and
:func:`render_plantuml` write it as text. Everything is a frozen value, so a test can build a ladder and look at
its numbers (the values are defined in :mod:`tcptrace.ladder_values`, which is all the drawing imports, and are
importable from here too).

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
# ruff: noqa: RUF001

from __future__ import annotations

import dataclasses
import math
import os
import unicodedata
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, BinaryIO

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
from .ladder_values import (
    ARROW_DROP,
    BAND_COLORS,
    CATEGORIES,
    CATEGORY_COLORS,
    COLLAPSED_ROWS,
    INITIAL_STATE_Y,
    TEXTS,
    Arrow,
    Band,
    Collapsed,
    Gap,
    Ladder,
    StateMark,
)
from .messages import LANGUAGES
from .model import ACK, FIN, RST, SYN, PlainRun, Segment, flag_names, format_endpoint, is_run
from .narrate import _size as narrate_size
from .state import TcpState
from .vocab import FLAGS, LADDER_PRECEDENCE

if TYPE_CHECKING:
    from .engine import StreamSegments
    from .stats import FlowSummary

SPACINGS = ("time", "even")
COLLAPSE_MIN_RUN = 6  # at least this many consecutive ordinary segments become one block
BAND_HEADER_ROWS = 1.0
ARROW_ROWS = 1.0
MAX_GAP_ROWS = 3.0
GAP_NOTE_ROWS = 2.0  # a pause that adds at least this many rows is labelled with its duration
END_PAD_ROWS = 0.4  # below the last arrow, so its receiver-side state stays inside the last band
_PHASE_ORDER = {"handshake": 0, "data": 1, "teardown": 2, "reset": 3}


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


class _Run:
    """A collapsed run of ordinary segments: what its block says (counts, first and last frame and time)."""

    __slots__ = ("first", "inside", "last", "n", "nacks", "nbytes", "ndata", "t0", "t1")

    def __init__(self, first: int, last: int, n: int, t0: float, t1: float, counts: list[int],
                 inside: dict[str, int]) -> None:  # fmt: skip
        self.first, self.last, self.n, self.t0, self.t1 = first, last, n, t0, t1
        self.nbytes = (counts[0], counts[1])
        self.ndata = (counts[2], counts[3])
        self.nacks = (counts[4], counts[5])
        self.inside = inside


class _Item:
    """A row-group under construction: a band header, an arrow (``seg``) or a collapsed run (``run``)."""

    __slots__ = ("band", "kind", "run", "seg", "t0", "t1")

    def __init__(self, kind: str, band: str, t0: float, t1: float, seg: Any = None, run: _Run | None = None) -> None:
        self.kind = kind
        self.band = band
        self.t0 = t0
        self.t1 = t1
        self.seg = seg
        self.run = run


class _Track:
    """The items of the ladder at one collapsing level, built as the segments come, and the arrow count that
    decides whether the level fits :data:`MAX_ARROWS` (a run between two kept segments counts by its length,
    whatever phases it crosses). An open run is only where it started: a run is consecutive segments, so its
    counts are the difference of the builder's running totals, and a short one's segments are the last few."""

    __slots__ = ("arrows", "band", "inside0", "items", "kept", "run_at", "run_counts", "run_frame", "run_t0")

    def __init__(self) -> None:
        self.items: list[_Item] = []
        self.band = ""
        self.arrows = 0  # arrows for certain: the kept segments and the short runs between them
        self.kept = -1  # index of the last kept segment
        self.run_at = -1  # index of the open run's first segment (-1: none)
        self.run_frame = 0
        self.run_t0 = 0.0
        self.run_counts: list[int] = []
        self.inside0: dict[str, int] = {}

    def flush(self, b: LadderBuilder) -> None:
        """End the open run before the segment being added (index ``b.segments``)."""
        if self.run_at < 0:
            return
        n = b.segments - self.run_at
        if n >= COLLAPSE_MIN_RUN:
            counts = [now - then for now, then in zip(b.counts, self.run_counts, strict=True)]
            inside0 = self.inside0
            inside = {k: v - inside0.get(k, 0) for k, v in b.inside.items() if v > inside0.get(k, 0)}
            run = _Run(self.run_frame, b.last_frame, n, self.run_t0, b.last_t, counts, inside)
            self.items.append(_Item("collapsed", self.band, run.t0, run.t1, run=run))
        else:
            recent = list(b.recent)
            self.items.extend(_Item("arrow", self.band, t, t, seg=s) for s, t in recent[len(recent) - n :])
        self.run_at = -1

    def open_band(self, b: LadderBuilder, band: str, t: float) -> None:
        self.flush(b)
        self.band = band
        self.items.append(_Item("band", band, t, t))

    def add(self, b: LadderBuilder, seg: Segment, t: float, keep: bool) -> None:
        i = b.segments
        if keep:
            self.flush(b)
            self.items.append(_Item("arrow", self.band, t, t, seg=seg))
            gap = i - self.kept - 1
            self.arrows += 1 + (gap if gap < COLLAPSE_MIN_RUN else 0)
            self.kept = i
        elif self.run_at < 0:
            self.run_at, self.run_frame, self.run_t0 = i, seg.frame, t
            self.run_counts = list(b.counts)
            self.inside0 = dict(b.inside)

    def arrow_count(self, total: int) -> int:
        gap = total - self.kept - 1
        return self.arrows + (gap if gap < COLLAPSE_MIN_RUN else 0)


_NONE_KEPT = (False, False, False)


class LadderBuilder:
    """Build a :class:`Ladder` from one stream's segments, one at a time, keeping only what the ladder will show:
    the arrows and, per collapsed run, its counts. Memory grows with what is drawn, not with the stream.

    Each segment's endpoint states must be final when it is added (hindsight: :func:`settled_states`). The arrow
    budget picks the collapsing level only at the end, so the three levels are built side by side, and a level
    is dropped as soon as it has more than :data:`MAX_ARROWS` arrows for certain (it can never fit again).

    >>> from tcptrace.engine import Pipeline
    >>> run = Pipeline("sample_pcaps/refused.pcap")
    >>> builder = LadderBuilder()
    >>> for seg in settled_states(run):
    ...     builder.add(seg)
    >>> [a.label for a in builder.build(run.summaries[0]).arrows]
    ['SYN  seq=0', 'RST, ACK  raw seq=0 ack=1']
    """

    def __init__(self, *, lang: str = "en", collapse: bool = True, spacing: str = "time") -> None:
        self._t = _texts(lang)
        if spacing not in SPACINGS:
            raise ValueError(f"unknown spacing {spacing!r}; use one of: {', '.join(SPACINGS)}")
        self.lang, self.collapse, self.spacing = lang, collapse, spacing
        # level 0 keeps every flagged segment, 1 the retransmission-class ones, 2 none for its flags alone
        # (handshake, teardown, resets and state changes only); collapse=False keeps every segment (one track)
        self._tracks: list[_Track | None] = [_Track(), _Track(), _Track()] if collapse else [_Track()]
        self.segments = 0  # added so far
        # running totals over the segments added: payload bytes, data segments and pure ACKs by direction (c, s)
        self.counts = [0, 0, 0, 0, 0, 0]
        self.inside: dict[str, int] = {}  # analysis flag -> segments with it so far
        self.recent: deque[tuple[Segment, float]] = deque(maxlen=COLLAPSE_MIN_RUN - 1)  # the last few, with t
        self.last_frame = 0
        self.last_t = 0.0
        self._start_ns = 0
        self._last_ns = 0
        self._first: Segment | None = None  # what the initial states depend on: the first segment, and
        self._first_server: Segment | None = None  # the server's first (a refused SYN: tcptrace.events.refused)
        self._prev: tuple[str, str] = ("", "")  # the previous segment's states
        self._first_data = [True, True]
        self._first_ack = [True, True]
        self._phase = "\0"  # the previous segment's phase (none yet)
        self._band_order = -1
        self._runs_open = False  # every track has an open run (the last segment was kept by none)

    def add(self, seg: Segment) -> None:
        """Add the next segment of the stream (capture order, states final), or a plain run of them (a
        model.PlainRun goes where Segments go: it answers what a scan over a stream's segments reads)."""
        if is_run(seg):
            self._add_run(seg)
            return
        if self._first is None:
            self._first, self._start_ns = seg, seg.ts_ns
            # a pure SYN (the only first segment whose initial states depend on what follows) is kept anyway
            self._prev = _initial_states([seg])
        d = seg.direction
        if self._first_server is None and d == 1:
            self._first_server = seg
        t = (seg.ts_ns - self._start_ns) / 1e9
        tracks = self._tracks
        phase = seg.phase
        if phase != self._phase:
            self._phase = phase
            order = max(self._band_order, _PHASE_ORDER.get(phase, 1))
            if order != self._band_order:  # a phase opens; it never goes back (data after a FIN: teardown)
                self._band_order = order
                band = next(p for p, o in _PHASE_ORDER.items() if o == order)
                for tr in tracks:
                    if tr is not None:
                        tr.open_band(self, band, t)
                self._runs_open = False
        flags, length, analysis = seg.flags, seg.len, seg.analysis
        if not self.collapse:
            tracks[0].add(self, seg, t, True)  # type: ignore[union-attr]
        else:
            # Narrate's rule (module docstring): what is notable whatever the level ...
            states = (seg.client_state, seg.server_state)
            base = bool(seg.duplicate_of or states != self._prev or flags & (SYN | FIN | RST) or phase == "handshake")
            if length and self._first_data[d]:
                self._first_data[d] = False
                base = True
            elif not length and self._first_ack[d]:
                self._first_ack[d] = False
                base = True
            self._prev = states
            # ... and its analysis flags, by level. A long burst of duplicate ACKs is one event: the first three
            # (the third triggers a fast retransmit) stay arrows, the rest join the collapsed run around them
            # (the narrative merges them the same way).
            if base or not analysis:
                keep = (base, base, base)
            else:
                burst_tail = (
                    analysis == A_DUPLICATE_ACK and (seg.evidence or {}).get("duplicate_ack", {}).get("number", 0) > 3
                )
                keep = (not burst_tail, bool(analysis & _MAJOR), False)
            if keep != _NONE_KEPT or not self._runs_open:  # (else: one more segment in every track's open run)
                for level, tr in enumerate(tracks):
                    if tr is not None:
                        tr.add(self, seg, t, keep[level])
                        if level < 2 and tr.arrows > MAX_ARROWS:  # over the budget for certain: this level is out
                            tracks[level] = None
                self._runs_open = keep == _NONE_KEPT
        # the running totals, after the tracks (a run ending here ends before this segment)
        counts = self.counts
        if length:
            counts[d] += length
            counts[2 + d] += 1
        else:
            counts[4 + d] += 1
        if analysis:
            inside = self.inside
            for name in analysis_names(analysis):
                inside[name] = inside.get(name, 0) + 1
        self.recent.append((seg, t))
        self.segments += 1
        self.last_frame, self.last_t, self._last_ns = seg.frame, t, seg.ts_ns

    def _add_run(self, run: PlainRun) -> None:
        """A plain run: consecutive segments the C engine counted (engine.StreamSegments(runs=COLLAPSE_MIN_RUN - 1)),
        each one :meth:`add` would have found ordinary at every level (no flag, no state change, neither side's first
        data or ACK), after at least COLLAPSE_MIN_RUN - 1 such segments added one by one: so every track's run is
        open, and will be collapsed, and only the running totals move."""
        assert self.collapse, "a plain run in a ladder that draws every segment"
        assert self._runs_open, "a plain run after fewer than COLLAPSE_MIN_RUN - 1 ordinary segments"
        counts = self.counts
        for d in (0, 1):
            counts[d] += run.data_bytes[d]
            counts[2 + d] += run.data_segments[d]
            counts[4 + d] += run.segments[d] - run.data_segments[d]
        self.recent.clear()  # (only a short run reads it, and a run with this one in it is not short)
        self.segments += run.packets
        self.last_frame, self.last_t, self._last_ns = run.last_frame, (run.ts_ns - self._start_ns) / 1e9, run.ts_ns

    def _chosen(self) -> _Track:
        tracks = self._tracks
        if not self.collapse:
            chosen = tracks[0]
        else:  # the first level within the budget; the last one whatever its count
            chosen = next(
                tr
                for level, tr in enumerate(tracks)
                if tr is not None and (level == 2 or tr.arrow_count(self.segments) <= MAX_ARROWS)
            )
        assert chosen is not None
        chosen.flush(self)
        return chosen

    def initial_states(self) -> tuple[str, str]:
        """The endpoints' states before the first segment."""
        firsts = [s for s in (self._first, self._first_server) if s is not None]
        return _initial_states(firsts)

    def build(self, summary: FlowSummary) -> Ladder:
        """The ladder of the segments added (``summary``: the stream's, for its endpoints and iRTT)."""
        t = self._t
        lang, spacing = self.lang, self.spacing
        items = self._chosen().items
        flow = summary.flow
        # Vertical positions.
        ref = _time_ref(summary, items)
        y = 0.0
        last_t: float | None = None
        arrows: list[Arrow] = []
        collapsed: list[Collapsed] = []
        gaps: list[Gap] = []
        band_starts: list[tuple[float, str]] = []
        states: list[StateMark] = []
        init = self.initial_states()
        if self.segments:
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
                seg = item.seg
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
                run = item.run
                assert run is not None
                block = Collapsed(y + 0.25, (run.first, run.last), "", run.n, item.t0, item.t1,
                                  (run.nbytes[0], run.nbytes[1]), (run.ndata[0], run.ndata[1]),
                                  (run.nacks[0], run.nacks[1]), COLLAPSED_ROWS - 0.6,
                                  tuple(sorted(run.inside.items())))  # fmt: skip
                collapsed.append(dataclasses.replace(block, text=_collapsed_text(block, t)))
                y += COLLAPSED_ROWS
        y += END_PAD_ROWS
        bands = tuple(
            Band(y0, band_starts[i + 1][0] if i + 1 < len(band_starts) else y, phase, _band_label(phase, lang))
            for i, (y0, phase) in enumerate(band_starts)
        )
        client_ep = format_endpoint(flow.client.addr, flow.client.port)
        server_ep = format_endpoint(flow.server.addr, flow.server.port)
        duration = (self._last_ns - self._start_ns) / 1e9 if self.segments else 0.0
        client, server, title, subtitle = _titles(flow.stream, client_ep, server_ep, self.segments, duration,
                                                  len(arrows), tuple(collapsed), t)  # fmt: skip
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
            segments=self.segments,
            duration_s=duration,
        )


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
    builder = LadderBuilder(lang=lang, collapse=collapse, spacing=spacing)
    segs = list(segs)
    resolve_states(segs)  # the endpoints' states with hindsight, as the narrative tells them (tcptrace.events)
    for seg in segs:
        builder.add(seg)
    return builder.build(summary)


_SETTLE_CHUNK = 64  # segments resolved together while the states can be settled as they come


def settled_states(segs: Iterable[Segment]) -> Iterator[Segment]:
    """One stream's segments (capture order) handed on once their endpoint states are final: the states
    :func:`tcptrace.events.resolve_states` gives with hindsight over the whole stream, exactly, without holding
    the stream.

    Hindsight reaches back only from a FIN or RST (a FIN's arrival and its ACK are read from what follows; a
    re-sent FIN re-reads earlier ACKs) and to the start (a SYN refused by the server's first answer). So segments
    are resolved in small chunks, each from the states the previous one ended in, once the server's first answer
    is known and while no FIN or RST has been seen (nor a CLOSED endpoint, whose reading of a re-sent ACK depends
    on the ACKs before); once both sides are ESTABLISHED, a segment without SYN, FIN or RST stays so and goes out
    at once. From the first FIN or RST to the end the segments are held and resolved together: a stream that
    sends for long after a FIN (a half close) is held from there (their number, not the drawing, sets the memory).
    """
    established = TcpState.ESTABLISHED.value
    part: list[Segment] = []
    start: tuple[TcpState, TcpState] | None = None  # the states before part[0]; None: the stream's start
    answered = False  # the first segment's initial states are known (tcptrace.events.refused)
    tail = False  # a FIN or RST was seen (or a CLOSED endpoint): hold everything to the end
    quiet = False  # both ESTABLISHED after the last settled segment
    first = True
    for seg in segs:
        flags = seg.flags
        if quiet and not flags & (SYN | FIN | RST):
            seg.client_state = seg.server_state = established
            yield seg
            continue
        quiet = False
        part.append(seg)
        if first:
            first = False
            answered = not (flags & (SYN | ACK | RST) == SYN and seg.direction == 0)
        elif seg.direction == 1:
            answered = True
        if flags & (FIN | RST):
            tail = True
        if tail or not answered or (len(part) < _SETTLE_CHUNK and not (flags & ACK and not flags & SYN)):
            continue
        resolve_states(part, start)
        if any(s.client_state == "CLOSED" or s.server_state == "CLOSED" for s in part):
            tail = True
            continue
        last = (part[-1].client_state, part[-1].server_state)
        yield from part
        part = []
        start = (TcpState(last[0]), TcpState(last[1]))
        quiet = last == (established, established)
    if part:
        resolve_states(part, start)
        yield from part


def _time_ref(summary: FlowSummary, items: list[_Item]) -> float:
    """The flow's usual gap (seconds): the larger of the handshake RTT (iRTT) and the flow's own pace, its
    duration divided by the gaps between the items drawn (module docstring)."""
    fa = summary.flow.analysis
    irtt = fa.ts_first_rtt / 1e9 if fa is not None and fa.ts_first_rtt else 0.0
    shown = [i for i in items if i.kind != "band"]
    pace = (shown[-1].t1 - shown[0].t0) / (len(shown) - 1) if len(shown) > 1 else 0.0
    return max(irtt, pace, 1e-6)


def ladder_from(segments: Iterable[Segment], summary: Callable[[], FlowSummary], **kw: Any) -> Ladder:
    """The ladder of one stream's segments read once as they come (:class:`tcptrace.engine.StreamSegments`),
    never held whole; ``summary`` gives the stream's summary once they are read. Keywords as
    :func:`build_ladder`."""
    builder = LadderBuilder(**kw)
    for seg in settled_states(_without_payload(segments)):
        builder.add(seg)
    return builder.build(summary())


def _without_payload(segments: Iterable[Segment]) -> Iterator[Segment]:
    """The segments, their payload let go (a ladder shows lengths, never bytes): what settled_states holds from a
    FIN to the end of a half-closed stream is then headers, not data."""
    for seg in segments:
        if not is_run(seg):
            seg.payload = b""
        yield seg


def ladder_source(path: str | os.PathLike[str] | BinaryIO, stream: int, collapse: bool = True) -> StreamSegments:
    """One stream of a capture read as :func:`ladder_from` reads it: when the ladder collapses, the long runs of
    plain segments come counted by the C engine (model.PlainRun), not one Segment each (a 2M-packet transfer is
    drawn in the time of the engine's pass, not of 2M Segments)."""
    from .engine import StreamSegments

    return StreamSegments(path, stream, runs=COLLAPSE_MIN_RUN - 1 if collapse else 0)


def ladder_for(
    path: str | os.PathLike[str] | BinaryIO,
    stream: int = 0,
    **kw: Any,
) -> Ladder:
    """Read a capture and build the ladder of one stream; keywords as :func:`build_ladder`. The stream is read
    as it comes and not held (:func:`ladder_from`).

    >>> lad = ladder_for("sample_pcaps/refused.pcap", 0)
    >>> [(a.frame, a.label, a.category) for a in lad.arrows]
    [(3, 'SYN  seq=0', 'handshake'), (4, 'RST, ACK  raw seq=0 ack=1', 'rst')]
    """
    source = ladder_source(path, stream, kw.get("collapse", True))
    return ladder_from(source, lambda: source.summary, **kw)


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
