"""Classify: one finished stream's analysed segments -> typed events with their facts (no wording here).

Theory of operation. Two passes over a stream whose segments are all known (a narrative, a ladder or a notebook
flow always has the whole stream in hand):

1. :func:`resolve_states` infers each endpoint's RFC 9293 state after every segment *with hindsight*. The single
   pass of :mod:`tcptrace.stats` must decide at each packet; here later packets may correct the picture, and
   every correction follows the same table (:data:`tcptrace.state.TRANSITIONS`), so every state sequence is a
   path of RFC 9293 arcs:

   * **The ack field tells what the sender had received.** A segment whose ack does not cover the peer's FIN was
     sent before that FIN was processed, whatever the capture order says: the receiver's "FIN received" is
     applied after its last segment that does not acknowledge the FIN. Crossing FINs are then FIN_WAIT_1 ->
     CLOSING on both sides, never CLOSE_WAIT -> CLOSING.
   * **A retransmitted FIN proves its ACK did not arrive.** An ACK of a FIN captured before the FIN's sender
     re-sends it was lost past the capture point: the FIN's sender stays where it was (LAST_ACK, say) until an
     ACK that is not followed by another copy.
   * **Nothing listening means CLOSED.** When the server's first answer to the SYN is an RST (a refused
     connection) the server is CLOSED throughout (RFC 9293 §3.10.7.1), not LISTEN -> SYN_RECEIVED.

2. :func:`classify` turns each segment (or run, for the renderer's collapsing) into an :class:`Event`: a kind
   (``syn``, ``fin_retransmission``, ``refused`` ...), the numbers that make it true (``facts``: frames, seq/ack,
   byte counts, intervals in ns) and :class:`Note` values for what else the segment shows (an analysis flag and
   its evidence, a SACK block, a back-off, TIME_WAIT). :mod:`tcptrace.narrate` words them from the message
   catalogue; nothing here produces a sentence.

Facts whose name ends in ``_ns`` are durations in nanoseconds; ``frame``/``frames`` are ``frame.number``s;
seq/ack numbers are relative unless named ``*_raw``.
"""

from __future__ import annotations

import bisect
import itertools
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from . import seqnum
from .analysis import A_DUPLICATE_ACK, A_OUT_OF_ORDER, analysis_names, info_names
from .model import ACK, FIN, PSH, RST, SYN, PlainRun, Segment, is_run
from .state import _INPUT_INDEX, Anomaly, EndpointMachine, Input, TcpState, _initial_states
from .state import classify as classify_flags
from .stats import FlowSummary
from .vocab import FLAGS, RETRANSMISSION_FAMILY

M32 = 0xFFFFFFFF
# RFC 9293 §3.8.6.3 (and RFC 1122 §4.2.3.2): an ACK may be delayed at most 0.5 s; Linux waits about 40 ms.
DELAYED_ACK_MAX_NS = 500_000_000
DELAYED_ACK_MIN_NS = 20_000_000  # below this an ACK is simply prompt (loopback iRTTs are tens of µs)
TIMESTAMP_OPTION_BYTES = 12  # NOP NOP + TS(10): RFC 7323 §3, on every Linux segment once negotiated
NAGLE_RELEASE_NS = 1_000_000  # data held by Nagle leaves as soon as the ACK arrives: within a millisecond
MIN_RTO_NS = 200_000_000  # Linux's smallest retransmission timeout (TCP_RTO_MIN); RFC 6298 §2.4 says 1 s
CLOSE_WAIT_LINGER_NS = 1_000_000_000  # CLOSE_WAIT this long at the end: the application has not called close()


@dataclass(frozen=True)
class Note:
    """Something else a segment shows, worded by the catalogue entry ``key`` with ``facts``."""

    key: str
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Event:
    """One classified segment: what happened (``kind``), its facts, and the endpoints' states after it."""

    kind: str
    frame: int
    direction: int
    phase: str
    client_state: str
    server_state: str
    facts: dict[str, Any]
    notes: tuple[Note, ...] = ()
    flags: tuple[str, ...] = ()  # Wireshark's tcp.analysis names on this frame
    notable: bool = True
    group: tuple[Any, ...] = ()  # ("dupack", direction, ack, number, frame): adjacent ones merge into one step


# --- 1. states with hindsight ---------------------------------------------------------------------------


def _covers(seg: Segment, fin_end: int | None) -> bool:
    return fin_end is not None and bool(seg.flags & ACK) and seqnum.ge(seg.ack_raw, fin_end)


def refused(segs: list[Segment]) -> bool:
    """The client's pure SYN was answered first by an RST from the server: nothing listened."""
    if not segs or segs[0].flags & (SYN | ACK | RST) != SYN or segs[0].direction != 0:
        return False
    for seg in segs:
        if seg.direction == 1:
            return bool(seg.flags & RST) and not seg.flags & SYN
    return False


def initial_states(segs: list[Segment]) -> list[TcpState]:
    """(client, server) states before the stream's first segment: what that segment implies
    (:func:`tcptrace.state._initial_states`), and CLOSED for a server that answers the SYN with RST."""
    if not segs:
        return [TcpState.UNKNOWN, TcpState.UNKNOWN]
    first = segs[0]
    sender0, receiver0 = _initial_states(first.flags)
    init = [sender0, receiver0] if first.direction == 0 else [receiver0, sender0]
    if refused(segs):
        init[1] = TcpState.CLOSED  # RFC 9293 §3.10.7.1: a SYN to a closed port is answered with RST
    return init


@dataclass
class _Fins:
    """Where each side's FIN is in a stream (indexes into its segments) and when its peer received it."""

    first: list[int | None]  # index of each side's first FIN
    last: list[int]  # index of each side's last FIN copy (-1: none); later copies are retransmissions
    end: list[int | None]  # raw sequence number after each side's FIN
    deferred: dict[int, list[int]]  # index -> the sides whose "FIN received" is applied after that segment
    defer_until: list[int]  # a side's FIN (and its copies) up to this index reach the peer only after it


def _fins(segs: list[Segment]) -> _Fins:
    first: list[int | None] = [None, None]
    last = [-1, -1]
    end: list[int | None] = [None, None]
    for i, seg in enumerate(segs):
        if seg.flags & FIN and not seg.flags & (SYN | RST):
            d = seg.direction
            if first[d] is None:
                first[d] = i
                end[d] = (seg.seq_raw + seg.len + 1) & M32
            last[d] = i
    fins = _Fins(first, last, end, {}, [-1, -1])
    for x in (0, 1):
        start = first[x]
        if start is not None:
            arrival = _fin_arrival(segs, x, start, fins)
            if arrival > start:
                fins.deferred.setdefault(arrival, []).append(1 - x)
                fins.defer_until[x] = arrival
    return fins


def _fin_arrival(segs: list[Segment], x: int, start: int, fins: _Fins) -> int:
    """The index after which side ``x``'s FIN (sent at ``start``) is taken as received by its peer: the peer's
    last segment that does not acknowledge it yet (the ack field tells what the sender had received), or the last
    copy of the FIN sent before any acknowledgement (the earlier copies did not arrive). ``start`` if neither."""
    y = 1 - x
    arrival = start
    for j in range(start + 1, len(segs)):
        s = segs[j]
        if s.direction != y:
            if s.flags & FIN and not s.flags & (SYN | RST) and j <= fins.last[x]:
                arrival = j
            continue
        if s.flags & RST or _covers(s, fins.end[x]):
            break
        if s.flags & ACK:
            arrival = j
    return arrival


def resolve_states(segs: list[Segment], start: tuple[TcpState, TcpState] | None = None) -> list[Anomaly]:
    """Set ``client_state``/``server_state`` on every segment of one stream, with hindsight (module docstring);
    return the segments that still do not fit (anomalies). Idempotent: states are recomputed from the flags.
    ``start``: the (client, server) states before ``segs[0]`` when ``segs`` is the rest of a stream whose earlier
    part is settled (both ESTABLISHED and no FIN yet: nothing later can change it); else the stream's start."""
    if not segs:
        return []
    fins = _fins(segs)
    init = list(start) if start is not None else initial_states(segs)
    machines = (EndpointMachine(init[0]), EndpointMachine(init[1]))
    anomalies: list[Anomaly] = []

    def apply(m: EndpointMachine, inp: Input, frame: int) -> None:
        a = m._step(_INPUT_INDEX[inp], frame)
        if a is not None:
            anomalies.append(a)

    last_ack: list[int | None] = [None, None]
    for i, seg in enumerate(segs):
        if is_run(seg):  # ACKs in ESTABLISHED before any FIN: no state changes, only the last acks
            for x in (0, 1):
                if seg.segments[x]:
                    last_ack[x] = seg.last_ack_raw[x]
            seg.client_state = machines[0].state.value
            seg.server_state = machines[1].state.value
            continue
        d = seg.direction
        other = 1 - d
        # an ACK of the receiver's FIN counts only if the receiver did not re-send that FIN afterwards
        first_other = fins.first[other]
        acks_fin = (
            first_other is not None and first_other < i and fins.last[other] < i and _covers(seg, fins.end[other])
        )
        send, recv = classify_flags(seg.flags, acks_fin)
        apply(machines[d], send, seg.frame)
        pure_ack = seg.flags & (SYN | FIN | RST | ACK) == ACK and not seg.len
        if pure_ack and machines[other].state is TcpState.CLOSED and last_ack[d] == seg.ack_raw:
            recv = ()  # a copy of the last ACK (a duplicate, or a re-ACK): it changes nothing where it lands
        if seg.flags & ACK:
            last_ack[d] = seg.ack_raw
        for inp in recv:
            if inp is Input.RECV_FIN and i <= fins.defer_until[d]:
                continue  # applied after the receiver's last segment sent before it had this FIN
            apply(machines[other], inp, seg.frame)
        for y in fins.deferred.get(i, ()):
            apply(machines[y], Input.RECV_FIN, seg.frame)
        seg.client_state = machines[0].state.value  # plain strings: cheaper to read than the enum members
        seg.server_state = machines[1].state.value
    return anomalies


# --- 2. events ------------------------------------------------------------------------------------------


def _sack_blocks(seg: Segment) -> list[tuple[int, int]]:
    """The segment's SACK blocks in the peer's relative numbering (first byte, last byte + 1)."""
    if b"\x05" not in seg.opt_bytes or not seg.options.sack:  # no option kind 5 byte: no SACK (no parsing)
        return []
    base = (seg.ack_raw - seg.ack) & M32  # the peer's relative base, as this segment's ack shows it
    return [((left - base) & M32, (right - base) & M32) for left, right in seg.options.sack]


class _Sent:
    """The data one side sent: which frame first carried each byte range (for retransmission evidence). Native
    int64 arrays, sorted by start (a plain run's data segments, model.PlainRun, are appended as they come: new
    bytes after the highest sent, so after every range here)."""

    def __init__(self) -> None:
        self.starts = array("q")
        self.ends = array("q")
        self.frames = array("q")
        self.times = array("q")

    def first_carrier(self, start: int, end: int) -> tuple[int, int] | None:
        """(frame, ts_ns) of the earliest segment that carried any byte of [start, end)."""
        best: tuple[int, int] | None = None
        starts, ends, frames = self.starts, self.ends, self.frames
        i = bisect.bisect_right(starts, start) - 1
        for k in range(max(i, 0), len(starts)):
            if starts[k] >= end:
                break
            if ends[k] > start and (best is None or frames[k] < best[0]):
                best = (frames[k], self.times[k])
        # ranges starting before `start` but reaching into it (a longer earlier segment; looking eight back covers
        # re-sends that coalesce or split segments, which is what TCP stacks do)
        for k in range(max(i - 8, 0), max(i, 0)):
            if ends[k] > start and starts[k] < end and (best is None or frames[k] < best[0]):
                best = (frames[k], self.times[k])
        return best

    def add(self, start: int, end: int, frame: int, ts: int) -> None:
        k = bisect.bisect_right(self.starts, start)
        self.starts.insert(k, start)
        self.ends.insert(k, end)
        self.frames.insert(k, frame)
        self.times.insert(k, ts)

    def extend(self, run: PlainRun, d: int) -> None:
        """Side ``d``'s data segments of a plain run, after every range here (see the class docstring)."""
        self.starts.frombytes(run.starts[d])
        self.ends.frombytes(run.ends[d])
        self.frames.frombytes(run.frames[d])
        self.times.frombytes(run.times[d])


def _run_starts_at(run: PlainRun, d: int, seq: int) -> bool:
    """Whether one of side ``d``'s data segments in ``run`` starts at ``seq`` (its starts increase)."""
    starts = memoryview(run.starts[d]).cast("q")
    k = bisect.bisect_left(starts, seq)
    return k < len(starts) and starts[k] == seq


@dataclass(frozen=True, slots=True)
class _Tail:
    """One segment of a plain run, as far as _Classifier._nagle reads it (_Classifier._before_tails)."""

    direction: int
    frame: int
    len: int
    flags: int
    ack: int
    ts_ns: int
    acks_frame: int


def _run_carries(run: PlainRun, d: int, body_from: int, body: int, got: int, frames: list[int]) -> int:
    """_Classifier._framed's walk forward over a plain run: side ``d``'s data segments from ``body_from`` on add
    their bytes to ``got`` and their frames to ``frames`` until ``body`` bytes are in; returns ``got``."""
    if not run.data_segments[d]:
        return got
    starts, ends = memoryview(run.starts[d]).cast("q"), memoryview(run.ends[d]).cast("q")
    numbers = memoryview(run.frames[d]).cast("q")
    for k in range(len(starts)):
        if seqnum.ge(starts[k], body_from):
            got += ends[k] - starts[k]
            frames.append(numbers[k])
            if got >= body:
                break
    return got


class _Classifier:
    """Walks one stream's segments (states already resolved) and produces its events."""

    def __init__(self, summary: FlowSummary, segs: list[Segment]) -> None:
        self.s = summary
        self.segs = segs
        self.events: list[Event] = []
        self.syn_times: list[int] = []
        self.synack_times: list[int] = []
        self.fin_times: list[list[int]] = [[], []]
        self.fin_seq: list[int | None] = [None, None]  # relative seq of each side's FIN
        self.fin_next: list[int | None] = [None, None]  # raw seq after each side's FIN
        self.fin_acked = [False, False]
        self.max_ack: list[int | None] = [None, None]  # highest ack each side sent (relative)
        self.last_win: list[int | None] = [None, None]  # each side's last advertised (scaled) window
        self.sent = (_Sent(), _Sent())
        self.first_data = [True, True]
        self.first_ack = [True, True]
        self.half_close_told = [False, False]
        self.time_wait_told = False
        self.full_segment_told = False
        self.after_syn = [False, False]
        self.after_syn_before = False
        self.retrans_times: dict[tuple[int, int], list[int]] = {}  # (direction, seq) -> times it was sent
        self.keepalive_times: list[list[int]] = [[], []]
        self.states = ("", "")
        self._index = {seg.frame: i for i, seg in enumerate(segs)}  # frame -> position in segs
        self.round_trips = self._handshake_round_trips()
        self.is_refused = refused(segs)
        fa = summary.flow.analysis
        self.irtt = fa.ts_first_rtt if fa is not None else 0
        self.mss = [summary.dirs[0].mss, summary.dirs[1].mss]
        self.ts_on = summary.dirs[0].timestamps and summary.dirs[1].timestamps
        self.previous: FlowSummary | None = None  # the stream that used the same four-tuple before (classify())

    # --- helpers ---

    def _before(self, seg: Segment) -> Iterator[Segment]:
        """The stream's segments before ``seg``, latest first. The scans stop after a few, so no copy of the list
        (a slice per segment made a long stream's classification quadratic)."""
        segs = self.segs
        for j in range(self._index[seg.frame] - 1, -1, -1):
            yield segs[j]

    def _after(self, seg: Segment) -> Iterator[Segment]:
        """The stream's segments after ``seg``, in capture order (see :meth:`_before`)."""
        segs = self.segs
        for j in range(self._index[seg.frame] + 1, len(segs)):
            yield segs[j]

    def _before_tails(self, seg: Segment) -> Iterator[Any]:
        """:meth:`_before`, with each plain run replaced by what a walk back that stops at a side's last data
        segment and reads the other side's last segment sees of it: those segments, latest first (_Tail)."""
        for prev in self._before(seg):
            if not is_run(prev):
                yield prev
                continue
            tails: dict[int, _Tail] = {}
            for d in (0, 1):
                data = prev.last_data[d]
                if data is not None:
                    frame, length, ts = data
                    tails[frame] = _Tail(d, frame, length, ACK, 0, ts, 0)
            for d in (0, 1):
                last = prev.last_seg[d]
                if last is not None:
                    frame, length, flags, ack, ts, acks_frame = last
                    tails[frame] = _Tail(d, frame, length, flags, ack, ts, acks_frame)
            for frame in sorted(tails, reverse=True):
                yield tails[frame]

    def _retrans_notes(self, seg: Segment, names: list[str], notes: list[Note]) -> list[str]:
        """Notes for a segment that carries bytes sent before (or flagged so); returns the flag names left."""
        d = seg.direction
        start, end = seg.seq, (seg.seq + max(seg.len, 1)) & M32
        if not names or not seg.len or not _RETRANS_NAMES.intersection(names):
            return names
        carrier = self.sent[d].first_carrier(start, end)
        ev = seg.evidence or {}
        if "out_of_order" in names and carrier is not None:
            # Wireshark: within an RTT of the previous segment -> out-of-order; the bytes went out before, so it
            # is a re-send, prompted by the receiver's SACK / duplicate ACKs when they asked for it.
            names.remove("out_of_order")
            asked = self._asked_for(seg)
            kind = "sack" if asked and asked[1] else "fast" if asked else "resend"
            o = ev.get("out_of_order", {})
            notes.append(Note("retrans." + kind, {"seq": seg.seq, "frame": asked[0] if asked else 0,
                                                  "first_frame": carrier[0],
                                                 "since_ns": seg.ts_ns - carrier[1],
                                                 "asked_frame": asked[0] if asked else 0}))  # fmt: skip
            notes.append(Note("wireshark.ooo", {"ms": o.get("ms", ""), "threshold_ms": o.get("threshold_ms", "")}))
            return names
        retrans = [n for n in ("fast_retransmission", "spurious_retransmission", "retransmission") if n in names]
        if not retrans:
            return names
        name = retrans[0]
        for n in retrans:
            names.remove(n)
        fields = dict(ev.get(name, {}))
        fields.pop("why", None)
        kind = "fast" if name == "fast_retransmission" else "spurious" if name == "spurious_retransmission" else ""
        if not kind:
            asked = self._asked_for(seg)
            kind = ("sack" if asked[1] else "fast") if asked else "timeout"
            if asked:
                fields["frame"] = asked[0]  # the receiver's ACK that asked for these bytes
            if kind == "timeout" and carrier is not None and seg.ts_ns - carrier[1] < MIN_RTO_NS:
                kind = "probe"  # re-sent before any retransmission timeout could expire: a tail-loss probe
        times = self.retrans_times.setdefault((d, start), [])
        notes.append(Note("retrans." + kind, {**fields, "first_frame": carrier[0] if carrier else 0,
                                              "since_ns": seg.ts_ns - carrier[1] if carrier else 0,
                                              "has_carrier": carrier is not None}))  # fmt: skip
        if kind == "timeout" and carrier is not None:
            if not times:
                times.append(carrier[1])
            times.append(seg.ts_ns)
            if len(times) >= 3:
                intervals = [b - a for a, b in itertools.pairwise(times)]
                notes.append(Note("backoff", {"intervals_ns": intervals, "copy": len(times) - 1,
                                              "doubling": _doubling(intervals)}))  # fmt: skip
        return names

    def _asked_for(self, seg: Segment) -> tuple[int, bool] | None:
        """(frame, with SACK) of the receiver's latest ACK asking for this segment's seq (a duplicate ACK or
        a SACK reporting the hole), if the receiver asked for it since this seq was first sent."""
        d = seg.direction
        for prev in self._before(seg):
            if is_run(prev):  # its ACKs ask for nothing (no duplicate, no SACK); its data may be the copy
                if prev.data_segments[d] and _run_starts_at(prev, d, seg.seq):
                    break
                continue
            if prev.direction == d and prev.seq == seg.seq and prev.len:
                break  # its previous copy: nothing asked since
            asks = prev.direction != d and prev.flags & ACK and prev.ack == seg.seq and not prev.len
            if asks and (prev.analysis & A_DUPLICATE_ACK or prev.options.sack):  # a dup ACK, or SACK of the hole
                return prev.frame, bool(prev.options.sack)
        return None

    def _delayed(self, seg: Segment) -> bool:
        """A delayed ACK (RFC 9293 §3.8.6.3): at most 500 ms after the data it acknowledges, clearly later than
        the round trip, acknowledging new in-order data that was not itself a retransmission."""
        r = seg.ack_rtt_ns
        if not seg.acks_frame or r < DELAYED_ACK_MIN_NS or r > DELAYED_ACK_MAX_NS or r <= 4 * max(self.irtt, 1):
            return False
        i = self._index.get(seg.acks_frame)
        return i is None or not self.segs[i].analysis & _RESENT_BITS

    # --- the walk ---

    def run(self) -> list[Event]:
        for seg in self.segs:
            self.events.append(self._run_event(seg) if is_run(seg) else self._event(seg))
        return self.events

    def _run_event(self, run: PlainRun) -> Event:
        """A plain run: what its segments would have left in the classifier's memory, and one ordinary event
        (narrate._collapse counts it into a summary step, facts["run"])."""
        for d in (0, 1):
            if run.segments[d]:
                self.after_syn[d] = False
                if run.max_ack[d] >= 0:
                    self.max_ack[d] = run.max_ack[d]
                self.last_win[d] = run.last_win[d]
            if run.data_segments[d]:
                self.sent[d].extend(run, d)
        return Event("run", run.frame, -1, run.phase, run.client_state, run.server_state, {"run": run}, notable=False)

    def _event(self, seg: Segment) -> Event:
        d = seg.direction
        flags = seg.flags
        wireshark = info_names(analysis_names(seg.analysis)) if seg.analysis else ()  # as Wireshark tags them
        names = list(wireshark)  # what is still to be worded
        self.after_syn_before = self.after_syn[d]  # its previous segment was its SYN (window not scaled yet)
        self.after_syn[d] = bool(flags & SYN)
        notes: list[Note] = []
        facts: dict[str, Any] = {"seq": seg.seq, "seq_raw": seg.seq_raw, "ack": seg.ack, "ack_raw": seg.ack_raw,
                                 "len": seg.len}  # fmt: skip
        if flags & RST:
            kind = self._reset(seg, facts)
        elif flags & SYN:
            kind, names = self._syn(seg, facts, names)
        elif seg.phase == "handshake":
            kind = "handshake_ack"
            facts["irtt_ns"] = self.irtt if self.syn_times else 0
        elif flags & FIN:
            kind, names = self._fin(seg, facts, names, notes)
        elif seg.len:
            kind = "data"
            names = self._data(seg, facts, names, notes)
        else:
            kind, names = self._ack(seg, facts, names, notes)
        if flags & ACK:
            self._note_acks(seg, facts)
            peer_fin = self.fin_next[1 - d]
            if peer_fin is not None and seqnum.ge(seg.ack_raw, peer_fin):
                self.fin_acked[1 - d] = True  # a later FIN of this side no longer makes a three-segment close
        for name in names:
            ev = dict((seg.evidence or {}).get(name, {}))
            notes.append(self._flag_note(seg, name, ev))
        if seg.duplicate_of:
            ev = dict((seg.evidence or {}).get("duplicate", {}))
            ev.pop("why", None)
            notes.append(Note("flag.duplicate", ev))
        self._sack_notes(seg, notes)
        if seg is self.segs[0]:
            self._first_notes(seg, notes)
        now = (seg.client_state, seg.server_state)
        changed = now != self.states
        self.states = now
        if changed and kind in ("data", "ack"):
            notes.append(Note("step.states", {"client_state": now[0], "server_state": now[1]}))
        told = bool(notes) and any(n.key.startswith(("retrans", "backoff", "sack", "dsack", "zwp")) for n in notes)
        notable = bool(names or seg.duplicate_of or changed or kind not in ("data", "ack") or told)
        if kind == "data" and self.first_data[d]:
            notable = True
            self.first_data[d] = False
        if kind == "ack" and self.first_ack[d]:
            notable = True
            self.first_ack[d] = False
        group: tuple[Any, ...] = ()
        dup = (seg.evidence or {}).get("duplicate_ack")
        if kind == "ack" and dup is not None and not changed and set(names) <= {"duplicate_ack", "window_update"}:
            group = ("dupack", d, seg.ack, dup["number"], dup["frame"])
        elif kind == "ack" and facts.get("sack_dupack") and not changed:
            group = ("dupack", d, seg.ack, 0, facts["sack_dupack"])
        elif kind == "ack" and names == ["window_update"] and not changed and not self.after_syn_before:
            group = ("winupd", d, 0)
        if flags & ACK:
            self.last_win[d] = seg.win
        return Event(kind, seg.frame, d, seg.phase, now[0], now[1], facts, tuple(notes), wireshark, notable, group)

    def _first_notes(self, seg: Segment, notes: list[Note]) -> None:
        """What the flow's first segment shows about its start: mid-stream, or ports reused."""
        if not seg.flags & SYN and seg.win_scale == -1:
            notes.append(Note("midstream", {}))
        prev = self.previous
        if prev is not None and "reused_ports" in analysis_names(seg.analysis):
            closed = prev.closed()
            key = "reuse.after_rst" if closed.startswith("reset_by_") else "reuse.after_close"
            who = 0 if closed.endswith("client") else 1
            gap = seg.ts_ns - prev.last_ts
            notes.append(Note(key, {"stream": prev.flow.stream, "gap_ns": gap, "who": who}))

    def _reset(self, seg: Segment, facts: dict[str, Any]) -> str:
        if self.is_refused and seg.direction == 1 and self.s.rst and seg.frame == self.s.rst[0][1]:
            facts["port"] = self.s.flow.server.port
            facts["syn_seq_raw"] = self.segs[0].seq_raw
            return "refused"
        state, cause = getattr(seg, "rst_info", None) or ("", "stray")  # set by the summary for every RST
        facts["state"] = state or str(seg.client_state if seg.direction == 0 else seg.server_state)
        facts["cause"] = cause
        return "reset"

    def _syn(self, seg: Segment, facts: dict[str, Any], names: list[str]) -> tuple[str, list[str]]:
        facts["options"] = seg.options
        facts["header_truncated"] = seg.header_truncated
        if not seg.flags & ACK:
            times = self.syn_times
            kind = "syn" if not times else "syn_retransmission"
        else:
            times = self.synack_times
            kind = "syn_ack" if not times else "syn_ack_retransmission"
            syn = next((s for s in self.segs if s.flags & (SYN | ACK) == SYN), None)
            facts["syn_options"] = syn.options if syn is not None else None
            facts["syn_header_truncated"] = syn.header_truncated if syn is not None else False
        if times:
            all_times = [*times, seg.ts_ns]
            facts["delay_ns"] = seg.ts_ns - times[-1]
            facts["intervals_ns"] = [b - a for a, b in itertools.pairwise(all_times)]
            facts["copy"] = len(times)
            names = [n for n in names if n != "retransmission"]
        times.append(seg.ts_ns)
        return kind, names

    def _fin(self, seg: Segment, facts: dict[str, Any], names: list[str], notes: list[Note]) -> tuple[str, list[str]]:
        d = seg.direction
        other = 1 - d
        facts["fin_seq"] = (seg.seq + seg.len) & M32  # the FIN's own sequence number, after its data
        facts["data_len"] = seg.len
        facts["who_state"] = str(seg.client_state if d == 0 else seg.server_state)
        facts["other_state"] = str(seg.server_state if d == 0 else seg.client_state)
        if seg.len:
            self.sent[d].add(seg.seq, (seg.seq + seg.len) & M32, seg.frame, seg.ts_ns)
        if self.fin_seq[d] is not None:
            # the same FIN again: a retransmission, not a new close
            times = self.fin_times[d]
            all_times = [*times, seg.ts_ns]
            facts["delay_ns"] = seg.ts_ns - times[-1]
            facts["intervals_ns"] = [b - a for a, b in itertools.pairwise(all_times)]
            facts["doubling"] = _doubling(facts["intervals_ns"])
            facts["copy"] = len(times)
            facts["first_frame"] = self._fin_frame(d)
            peer_acked = self.fin_acked[d]
            facts["ack_lost"] = peer_acked  # an ACK of this FIN was captured: it was lost past the capture point
            facts["arrives"] = facts["other_state"] != self.states[other] and facts["other_state"] in (
                "CLOSE_WAIT",
                "CLOSING",
                "TIME_WAIT",
            )
            times.append(seg.ts_ns)
            names = [n for n in names if n not in ("retransmission", "fast_retransmission", "spurious_retransmission")]
            return "fin_retransmission", names
        self.fin_times[d].append(seg.ts_ns)
        self.fin_seq[d] = facts["fin_seq"]
        self.fin_next[d] = (seg.seq_raw + seg.len + 1) & M32
        if self.fin_seq[other] is None:
            return "fin", names
        peer_fin = self.fin_next[other]
        covers = peer_fin is not None and seqnum.ge(seg.ack_raw, peer_fin)
        facts["acking"] = covers and not self.fin_acked[other]  # its first ACK: the three-segment close
        facts["crossed"] = not covers  # sent before the peer's FIN was processed: the FINs crossed
        if covers:
            self.fin_acked[other] = True
        if facts["other_state"] == "TIME_WAIT" and not self.time_wait_told:
            notes.append(Note("time_wait", {"who": other}))
            self.time_wait_told = True
        return "fin_second", names

    def _fin_frame(self, d: int) -> int:
        return next((f for dd, f in self.s.fin_frames if dd == d), 0)

    def _data(self, seg: Segment, facts: dict[str, Any], names: list[str], notes: list[Note]) -> list[str]:
        d = seg.direction
        other = 1 - d
        end = (seg.seq + seg.len) & M32
        facts.update(first=seg.seq, last=(end - 1) & M32, push=bool(seg.flags & PSH), payload=seg.payload)
        names = self._retrans_notes(seg, names, notes)
        if "lost_segment" in names:
            ev = (seg.evidence or {}).get("lost_segment", {})
            filler = self._filled_later(seg, int(ev.get("expected", seg.seq)))
            if filler:
                names.remove("lost_segment")
                notes.append(Note("gap.reordered", {"seq": seg.seq, "gap": ev.get("gap", ""),
                                                    "expected": ev.get("expected", ""),
                                                    "later_frame": filler}))  # fmt: skip
        prev_ack = self.max_ack[d]
        if seg.flags & ACK and prev_ack is not None and seqnum.gt(seg.ack, prev_ack):
            fin_next = self.fin_next[other]
            if fin_next is not None and seg.ack_raw == fin_next:
                notes.append(Note("data.piggyback_fin", {"ack": seg.ack}))
            else:
                notes.append(Note("data.piggyback", {"upto": (seg.ack - 1) & M32, "n": (seg.ack - prev_ack) & M32}))
        if self.fin_seq[other] is not None and self.fin_seq[d] is None and not self.half_close_told[d]:
            self.half_close_told[d] = True
            notes.append(Note("data.half_close", {"reads_on": self._peer_keeps_reading(seg)}))
        mss = self.mss[other]
        if not self.full_segment_told and mss and self.ts_on and seg.len == mss - TIMESTAMP_OPTION_BYTES:
            notes.append(Note("mss.timestamps", {"len": seg.len, "mss": mss}))
            self.full_segment_told = True
        self._nagle(seg, notes)
        self._sticky(seg, notes)
        self.sent[d].add(seg.seq, end, seg.frame, seg.ts_ns)
        return names

    def _nagle(self, seg: Segment, notes: list[Note]) -> None:
        """Nagle's algorithm where the capture shows it: a small segment that left right after a pure ACK
        acknowledged the side's previous small segment, having waited much longer than that."""
        d = seg.direction
        mss = self.mss[1 - d]
        full = mss - (TIMESTAMP_OPTION_BYTES if self.ts_on else 0) if mss else 0
        if not full or seg.len >= full or seg.analysis:
            return
        ack_seg = prev = None
        for earlier in self._before_tails(seg):
            if earlier.direction == d:
                if earlier.len:
                    prev = earlier
                    break
                continue
            if ack_seg is None:
                if earlier.len or earlier.flags & (SYN | FIN | RST) or earlier.ack != seg.seq:
                    return  # the peer's last segment before this one is not a pure ACK of everything sent
                ack_seg = earlier
        if ack_seg is None or prev is None or prev.len >= full or ack_seg.acks_frame != prev.frame:
            return  # the ACK must be the one that acknowledged the previous small segment
        after = seg.ts_ns - ack_seg.ts_ns
        waited = seg.ts_ns - prev.ts_ns
        # The ACK reaches the sender one round trip (capture point <-> sender, from the handshake) after it passed
        # here; data that left because of it is seen no sooner than that, and at once after it.
        trip = self.round_trips[d] if self.round_trips is not None else None
        if trip is None or not trip <= after <= trip + NAGLE_RELEASE_NS or waited < 10 * after:
            return
        notes.append(Note("nagle", {"ack_frame": ack_seg.frame, "after_ns": after, "prev_frame": prev.frame,
                                    "prev_len": prev.len, "waited_ns": waited, "len": seg.len}))  # fmt: skip

    def _handshake_round_trips(self) -> tuple[int, int] | None:
        """Round trips between the capture point and (client, server), from the handshake (None if not captured):
        SYN/ACK -> ACK is the client's side, SYN -> SYN/ACK the server's."""
        s = self.s
        at = [self._index.get(f) for f in (s.syn_frame, s.synack_frame, s.handshake_ack_frame)]
        if None in at:
            return None
        syn, synack, ack = (self.segs[i].ts_ns for i in at)  # type: ignore[index]
        return ack - synack, synack - syn

    def _sticky(self, seg: Segment, notes: list[Note]) -> None:
        """The byte-stream note, only where the capture shows it: several newline-terminated messages in one
        segment, or one write split into full-size segments (a run of them ending with PSH)."""
        payload = seg.payload
        if len(payload) == seg.len and payload.count(b"\n") >= 2 and payload.endswith(b"\n"):
            notes.append(Note("sticky.several", {"n": payload.count(b"\n"), "len": seg.len}))
            return
        if len(payload) == seg.len and self._framed(seg, notes):
            return
        mss = self.mss[1 - seg.direction]
        if not (seg.flags & PSH and mss):
            return
        full = mss - (TIMESTAMP_OPTION_BYTES if self.ts_on else 0)
        run = 0
        d = seg.direction
        for prev in self._before(seg):
            if is_run(prev):  # its trailing data segments without PSH of one length, all or some of its
                if not prev.data_segments[d]:
                    continue
                if prev.trail_count[d] and prev.trail_len[d] == full:
                    run += prev.trail_count[d]
                    if prev.trail_count[d] == prev.data_segments[d]:
                        continue
                break
            if prev.direction != d or not prev.len:
                continue
            if prev.len == full and not prev.flags & PSH:
                run += 1
            else:
                break
        if run >= 1 and seg.len < full and not getattr(self, "_split_told", False):
            self._split_told = True
            notes.append(Note("sticky.split", {"n": run + 1, "full": full, "len": seg.len}))

    def _framed(self, seg: Segment, notes: list[Note]) -> bool:
        """Length-prefixed framing (a 4-byte big-endian length, then the body), where the capture shows it:
        several whole messages in one segment, or a header whose body follows in several segments."""
        payload = seg.payload
        lengths = []
        pos = 0
        while pos + 4 <= len(payload):
            n = int.from_bytes(payload[pos : pos + 4], "big")
            if n == 0 or n > 1 << 24:
                return False
            lengths.append(n)
            pos += 4 + n
        if pos == len(payload) and len(lengths) >= 2:
            notes.append(Note("sticky.framed", {"n": len(lengths), "len": seg.len}))
            return True
        if len(payload) != 4 or not lengths:
            return False
        body = lengths[0]
        got, frames = 0, list[int]()
        body_from = (seg.seq + 4) & M32
        for later in self._after(seg):
            if is_run(later):
                got = _run_carries(later, seg.direction, body_from, body, got, frames)
                if got >= body:
                    break
                continue
            if later.direction == seg.direction and later.len and seqnum.ge(later.seq, body_from):
                got += later.len
                frames.append(later.frame)
                if got >= body:
                    break
        if got == body and len(frames) >= 2:
            notes.append(Note("framing.split", {"body": body, "n": len(frames), "first_frame": frames[0],
                                                "last_frame": frames[-1]}))  # fmt: skip
            return True
        return False

    def _peer_keeps_reading(self, seg: Segment) -> str:
        """After its FIN, does the peer acknowledge this data ("reads": shutdown(SHUT_WR)), reset ("reset":
        close()), or does the capture not tell ("")?"""
        end = (seg.seq + seg.len) & M32
        for later in self._after(seg):
            if later.direction == seg.direction or is_run(later):  # (none after a FIN)
                continue
            if later.flags & RST:
                return "reset"
            if later.flags & ACK and seqnum.ge(later.ack, end):
                return "reads"
        return ""

    def _filled_later(self, seg: Segment, expected: int) -> int:
        """The frame that later carried the bytes a gap says were not captured (so they were reordered)."""
        for later in self._after(seg):
            if (
                later.direction == seg.direction
                and later.len
                and seqnum.le(later.seq, expected)
                and seqnum.gt((later.seq + later.len) & M32, expected)
            ):
                return later.frame
        return 0

    def _ack(self, seg: Segment, facts: dict[str, Any], names: list[str], notes: list[Note]) -> tuple[str, list[str]]:
        d = seg.direction
        other = 1 - d
        fin_next = self.fin_next[other]
        if fin_next is not None and seg.flags & ACK and seg.ack_raw == fin_next:
            return self._fin_ack(seg, facts, names, notes)
        if not seg.flags & ACK:
            return "ack", names
        prev = self.max_ack[d]
        facts["new"] = (seg.ack - prev) & M32 if prev is not None and seqnum.gt(seg.ack, prev) else 0
        facts["upto"] = (seg.ack - 1) & M32
        if seg.acks_frame and seg.ack_rtt_ns >= 0:
            facts["rtt_ns"] = seg.ack_rtt_ns
            facts["acks_frame"] = seg.acks_frame
            facts["delayed"] = self._delayed(seg)
        if "keep_alive" in names:
            peer_win = self.last_win[other]
            if peer_win == 0:  # Linux probes a zero window with seq = snd_una - 1 and no data
                names.remove("keep_alive")
                notes.append(Note("zwp.linux", {"seq": seg.seq}))
                facts["probe"] = True
            else:
                times = self.keepalive_times[d]
                times.append(seg.ts_ns)
                facts["keepalive"] = True
                if len(times) >= 2:
                    facts["interval_ns"] = times[-1] - times[-2]
                else:
                    i = self._index[seg.frame]
                    facts["idle_ns"] = seg.ts_ns - self.segs[i - 1].ts_ns if i else 0
        if "window_update" in names and seg.options.sack and prev is not None and seg.ack == prev:
            # the ack is stuck at a hole and SACK blocks grow: a duplicate ACK; only its window field moved
            names.remove("window_update")
            notes.append(Note("wireshark.window_update_sack", {}))
            facts["sack_dupack"] = self._dupack_origin(seg)
        if "zero_window" in names:
            facts["zero_window"] = True
        elif (
            prev is not None
            and self.last_win[d] is not None
            and self.last_win[d] != seg.win
            and not names
            and not self.after_syn_before
        ):
            facts["window"] = seg.win
            facts["window_raw"] = seg.win_raw
            facts["window_factor"] = 1 << seg.win_scale if seg.win_scale > 0 else 1
        return "ack", names

    def _fin_ack(
        self, seg: Segment, facts: dict[str, Any], names: list[str], notes: list[Note]
    ) -> tuple[str, list[str]]:
        """An ACK of the peer's FIN: the first, or a re-ACK (TIME_WAIT doing its job), delayed or not."""
        d = seg.direction
        other = 1 - d
        facts["states"] = (str(seg.client_state), str(seg.server_state))
        again = self.fin_acked[other]
        facts["again"] = again
        if again and "duplicate_ack" in names:
            names.remove("duplicate_ack")  # the re-ACK of a re-sent FIN: the TIME_WAIT note says why
        self.fin_acked[other] = True
        if seg.acks_frame and seg.ack_rtt_ns >= 0 and self._delayed(seg):
            facts["delayed_ns"] = seg.ack_rtt_ns
            facts["acks_frame"] = seg.acks_frame
        mine = str(seg.client_state if d == 0 else seg.server_state)
        if mine == "TIME_WAIT" and not self.time_wait_told:
            notes.append(Note("time_wait", {"who": d}))
            self.time_wait_told = True
        elif mine == "TIME_WAIT" and again:
            notes.append(Note("time_wait.reack", {"who": d}))
        return "fin_ack", names

    def _dupack_origin(self, seg: Segment) -> int:
        """The frame of the ACK this one repeats: what Wireshark's duplicate-ACK evidence names, else the earliest
        pure ACK of the same ack number in the run before it."""
        origin = seg.frame
        d = seg.direction
        for prev in self._before(seg):
            if is_run(prev):  # its trailing segments with one ack, and the first pure ACK among them
                if not prev.segments[d]:
                    continue
                if prev.ack_trail[d] != seg.ack:
                    break
                if prev.ack_origin[d]:
                    origin = prev.ack_origin[d]
                if prev.ack_trail_n[d] != prev.segments[d]:
                    break
                continue
            if prev.direction != d:
                continue
            if prev.flags & ACK and prev.ack != seg.ack:
                break
            if prev.ack == seg.ack and not prev.len:
                dup = (prev.evidence or {}).get("duplicate_ack")
                if dup:
                    return int(dup["frame"])
                origin = prev.frame
        return origin

    def _note_acks(self, seg: Segment, facts: dict[str, Any]) -> None:
        d = seg.direction
        prev = self.max_ack[d]
        if prev is None or seqnum.gt(seg.ack, prev):
            self.max_ack[d] = seg.ack
            facts["acked_new"] = prev is not None and seg.ack != prev
        else:
            facts["acked_new"] = False

    def _sack_notes(self, seg: Segment, notes: list[Note]) -> None:
        blocks = _sack_blocks(seg)
        if not blocks:
            return
        other = 1 - seg.direction
        left, right = blocks[0]
        # RFC 2883 §4: only the first block can be a D-SACK: below the ack, or inside the second block
        inside = len(blocks) > 1 and seqnum.ge(left, blocks[1][0]) and seqnum.le(right, blocks[1][1])
        if seqnum.lt(left, seg.ack) or inside:
            carrier = self.sent[other].first_carrier(left, right)
            notes.append(Note("dsack", {"first": left, "last": (right - 1) & M32,
                                        "frame": carrier[0] if carrier else 0}))  # fmt: skip
            return
        notes.append(Note("sack", {"ack": seg.ack, "first": left, "last": (right - 1) & M32,
                                   "blocks": len(blocks), "missing": (left - seg.ack) & M32}))  # fmt: skip

    def _flag_note(self, seg: Segment, name: str, ev: dict[str, Any]) -> Note:
        ev.pop("why", None)
        if name == "window_update":
            if self.after_syn_before and seg.win_scale > 0:
                return Note("flag.window_update.after_syn", {**ev, "factor": 1 << seg.win_scale,
                                                             "raw": seg.win_raw, "scaled": seg.win})  # fmt: skip
            old = ev.get("old")
            if isinstance(old, str) and old.isdigit() and int(old) > seg.win_raw:
                return Note("flag.window_update.shrink", ev)
        return Note("flag." + name, ev)

    def finish(self) -> list[Event]:
        """Flow-level events after the last segment: an unanswered SYN, a FIN_WAIT_2 or CLOSE_WAIT left open."""
        if not self.events or not self.segs:  # no events, or only malformed headers (classify)
            return self.events
        last = self.events[-1]
        end_notes: list[Note] = []
        if self.s.opened() == "unanswered_syn":
            end_notes.append(Note("unanswered", {}))
        states = (last.client_state, last.server_state)
        end_ts = self.segs[-1].ts_ns
        for d in (0, 1):
            other = 1 - d
            if states[d] == "FIN_WAIT_2" and states[other] == "CLOSE_WAIT":
                fin_ts = self.fin_times[d][0] if self.fin_times[d] else end_ts
                waiting = end_ts - fin_ts
                facts = {"who": other, "waiting_ns": waiting, "long": waiting >= CLOSE_WAIT_LINGER_NS}
                end_notes.append(Note("linger.close_wait", facts))
                end_notes.append(Note("linger.fin_wait_2", {"who": d}))
        for note in end_notes:
            self.events.append(Event(note.key.split(".")[0], last.frame, last.direction, last.phase, last.client_state,
                                     last.server_state, {}, (note,)))  # fmt: skip
        return self.events


# Flags of a segment that carries bytes sent before (or that Wireshark thinks so): the retransmission family
# (vocab.FLAGS) and out-of-order.
_RETRANS_NAMES = {f.name for f in FLAGS if f.retransmission_kind} | {"out_of_order"}
_RESENT_BITS = RETRANSMISSION_FAMILY | A_OUT_OF_ORDER


def _with_malformed(events: list[Event], malformed: list[Segment], sound: list[Segment]) -> list[Event]:
    """Insert one "malformed" event per such segment, in frame order, with the states the sound segments left."""
    states = tuple(initial_states(sound)) if sound else ("UNKNOWN", "UNKNOWN")
    out: list[Event] = []
    i = 0
    for seg in malformed:
        while i < len(events) and events[i].frame < seg.frame:
            states = (events[i].client_state, events[i].server_state)
            out.append(events[i])
            i += 1
        seg.client_state, seg.server_state = str(states[0]), str(states[1])
        facts = {"error": seg.header_error, "hdr_len": seg.hdr_len, "seq": seg.seq, "seq_raw": seg.seq_raw,
                 "ack": seg.ack, "ack_raw": seg.ack_raw, "len": seg.len}  # fmt: skip
        out.append(Event("malformed", seg.frame, seg.direction, seg.phase, seg.client_state, seg.server_state, facts))
    return out + events[i:]


def _doubling(intervals: list[int]) -> bool:
    """Each interval about twice the previous one (RFC 6298 §5.5 back-off; kernels' timers are coarse)."""
    ratios = [b / a for a, b in itertools.pairwise(intervals) if a]
    return any(1.6 <= r <= 2.6 for r in ratios) and all(0.8 <= r <= 2.6 for r in ratios)


def classify(summary: FlowSummary, segs: list[Segment], previous: FlowSummary | None = None) -> list[Event]:
    """The events of one stream, in capture order (``segs`` fed to ``summary``; states resolved here).
    ``previous``: the stream that used the same four-tuple before this one, if any (for port reuse).

    A segment whose header Wireshark dissects only in part (``header_error``) is told as a "malformed" event
    and takes no part in the states or the other events: nothing in its header is trusted."""
    malformed = [seg for seg in segs if seg.header_error]
    if malformed:
        segs = [seg for seg in segs if not seg.header_error]
    anomalies = resolve_states(segs)
    c = _Classifier(summary, segs)
    c.previous = previous
    c.run()
    if malformed:
        c.events = _with_malformed(c.events, malformed, segs)
    by_frame: dict[int, list[Anomaly]] = {}
    for a in anomalies:
        by_frame.setdefault(a.frame, []).append(a)
    if by_frame:
        c.events = [
            e if e.frame not in by_frame else
            Event(e.kind, e.frame, e.direction, e.phase, e.client_state, e.server_state, e.facts,
                  e.notes + tuple(Note("anomaly", {"text": a.message}) for a in by_frame[e.frame]), e.flags,
                  True, e.group)
            for e in c.events
        ]  # fmt: skip
    return c.finish()


__all__ = ["Event", "Note", "classify", "initial_states", "refused", "resolve_states"]
