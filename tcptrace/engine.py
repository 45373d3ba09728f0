"""The driver that hands out whole streams as they finish, so memory grows with open streams, not the capture.

Theory of operation. :class:`FlowStream` runs the analysis pipeline (:class:`tcptrace.stats.Pipeline`) over a
capture and keeps each selected stream's analysed segments only while the stream can still change: once it has
ended (both FINs acknowledged, or reset) and the capture has gone :data:`HORIZON_NS` past that end (room for late
retransmissions and the last re-ACK), the stream is yielded as a :class:`FinishedFlow` and forgotten. Streams still
open when the input ends are yielded last, in stream order. A segment of a stream that was already yielded is
counted in :attr:`FlowStream.late`, not lost silently. ``explain`` and :func:`tcptrace.api.iter_flows` read
captures this way; the C engine (tcptrace._engine) serves ``flows``, which keeps no segments at all.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from .model import ACK, FIN, RST, SYN, Segment
from .selection import NoSuchStream, Selection, missing_streams_message
from .stats import FlowSummary, Pipeline

HORIZON_NS = 2_000_000_000  # an ended stream is handed out when the capture is this far past its end
_NEVER = 1 << 80


@dataclass
class FinishedFlow:
    """One stream, whole: its summary, its analysed segments in capture order, and the stream that used the same
    four-tuple before it (port reuse), if any."""

    summary: FlowSummary
    segments: list[Segment]
    previous: FlowSummary | None = None

    @property
    def stream(self) -> int:
        return self.summary.flow.stream


def ended(summary: FlowSummary | None) -> bool:
    """Reset, or both FINs sent and acknowledged: nothing but late copies can follow."""
    if summary is None:
        return False
    return bool(summary.rst) or (len(summary.fin_frames) == 2 and bool(summary.fin_acked[0] and summary.fin_acked[1]))


class FlowStream:
    """Iterate to get each selected stream once it is finished (see the module docstring).

    >>> fs = FlowStream("sample_pcaps/port_reuse.pcap")
    >>> [(f.stream, len(f.segments), f.previous is not None) for f in fs]
    [(0, 10, False), (1, 10, True)]
    >>> fs.streams_total, fs.late
    (2, {})
    """

    def __init__(
        self, source: str | os.PathLike[str] | BinaryIO, selection: Selection | None = None, *,
        horizon_ns: int = HORIZON_NS,
    ) -> None:  # fmt: skip
        self.selection = selection or Selection()
        self.horizon_ns = horizon_ns
        self.run = Pipeline(source, selection=self.selection)
        self.late: dict[int, int] = {}  # stream -> segments that came after it was handed out
        self.streams_total = 0

    @property
    def stats(self) -> Any:
        return self.run.stats

    def __iter__(self) -> Iterator[FinishedFlow]:
        run = self.run
        horizon = self.horizon_ns
        open_segs: dict[int, list[Segment]] = {}  # selected streams not handed out yet
        ended_at: dict[int, int] = {}  # stream -> capture time its close or reset was seen
        done: set[int] = set()
        late = self.late
        deadline = _NEVER  # the earliest capture time at which an ended stream is due

        def finish(n: int) -> FinishedFlow:
            ended_at.pop(n, None)
            done.add(n)
            summary = run.flow(n).summary
            assert summary is not None
            return FinishedFlow(summary, open_segs.pop(n), run.previous(n))

        for seg in run:  # the selected streams' segments only
            n = seg.stream
            if n in done:
                late[n] = late.get(n, 0) + 1
                continue
            segs = open_segs.get(n)
            if segs is None:
                segs = open_segs[n] = []
            segs.append(seg)
            summary = run.flow(n).summary
            # (cheap tests first: most segments neither reset nor follow two FINs)
            may_end = summary is not None and (summary.rst or len(summary.fin_frames) == 2)
            if may_end and n not in ended_at and ended(summary):
                ended_at[n] = seg.ts_ns
                deadline = min(deadline, seg.ts_ns + horizon)
            if seg.ts_ns >= deadline:
                for m in sorted(m for m, ts in ended_at.items() if seg.ts_ns - ts >= horizon):
                    yield finish(m)
                deadline = min(ended_at.values(), default=_NEVER - horizon) + horizon
        self.streams_total = run.streams_total
        for n in sorted(open_segs):
            yield finish(n)


def one_stream(source: str | os.PathLike[str] | BinaryIO, stream: int) -> FinishedFlow:
    """Stream ``stream`` of a capture, whole: what ``diagram``, ``graph`` and ``ladder_for``/``graph_for`` draw.
    One pass, the selection inside the engine when it is built. Raises
    :class:`~tcptrace.selection.NoSuchStream` when the capture has no such stream.

    >>> ff = one_stream("sample_pcaps/port_reuse.pcap", 1)
    >>> ff.stream, len(ff.segments), ff.previous.flow.stream
    (1, 10, 0)
    """
    run = Pipeline(source, selection=Selection.of([stream]))
    segs = list(run)
    if not segs:
        raise NoSuchStream(missing_streams_message(getattr(source, "name", source), [stream], run.streams_total))
    summary = run.flow(stream).summary
    assert summary is not None
    return FinishedFlow(summary, segs, run.previous(stream))


PACKET_HORIZON_NS = 1_000_000_000  # how long packets wait, at most, for the packets that settle their states
_SETTLING = FIN | RST | SYN  # after a settled (quiet) point, only these can need hindsight again


class PacketStream:
    """Iterate to get each (selected) segment in capture order, its endpoint states worked out with hindsight as
    ``explain`` does (tcptrace.events.resolve_states), at most :data:`PACKET_HORIZON_NS` of capture time late.

    Most segments are settled at once: a stream whose handshake is done, both sides ESTABLISHED and no FIN sent,
    cannot be re-read by what follows, so its data and ACKs go out as they come. Around a handshake, a close or a
    reset, a stream's segments wait until the stream settles or the horizon passes (a refused SYN waits for the
    RST, a FIN for its ACK or its peer's FIN, an ACK of a FIN for the copy that proves it was lost), and the
    segments behind them wait too, to keep capture order. Memory: the streams' unsettled segments and whatever
    arrived within the horizon.

    >>> [(s.frame, s.server_state) for s in PacketStream("sample_pcaps/refused.pcap")]
    [(3, 'CLOSED'), (4, 'CLOSED')]
    """

    def __init__(
        self, source: str | os.PathLike[str] | BinaryIO, selection: Selection | None = None, *,
        horizon_ns: int = PACKET_HORIZON_NS,
    ) -> None:  # fmt: skip
        self.selection = selection or Selection()
        self.horizon_ns = horizon_ns
        self.run = Pipeline(source, selection=self.selection)
        self.selected = 0

    @property
    def stats(self) -> Any:
        return self.run.stats

    def __iter__(self) -> Iterator[Segment]:
        from collections import deque

        from .events import resolve_states
        from .state import TcpState

        established = (TcpState.ESTABLISHED, TcpState.ESTABLISHED)
        flow_of = self.run.flow
        horizon = self.horizon_ns
        waiting: deque[Segment] = deque()  # capture order, not yet handed out
        settled: set[int] = set()  # id() of waiting segments whose states are final
        open_part: dict[int, list[Segment]] = {}  # stream -> its segments since its last settled point
        start: dict[int, tuple[TcpState, TcpState]] = {}  # stream -> the states before open_part[stream][0]
        quiet: set[int] = set()  # streams at a settled point: their data and ACKs are final as they come
        resolved_len: dict[int, int] = {}  # stream -> len(open_part) when it was last resolved

        def resolve(n: int) -> None:
            part = open_part[n]
            if resolved_len.get(n) != len(part):
                resolve_states(part, start.get(n))
                resolved_len[n] = len(part)

        def settle_if_quiet(n: int, seg: Segment) -> None:
            # the online machine says both ESTABLISHED, the handshake is over and no FIN, RST or SYN is open
            summary = flow_of(n).summary
            if summary is None or summary.fin_frames or summary.rst or not summary.handshake_done:
                return
            if (seg.client_state, seg.server_state) != established:
                return
            part = open_part.pop(n)
            resolve_states(part, start.pop(n, None))
            resolved_len.pop(n, None)
            if (part[-1].client_state, part[-1].server_state) == established:
                settled.update(id(x) for x in part)
                quiet.add(n)
            else:  # hindsight disagrees: keep waiting
                open_part[n] = part

        for seg in self.run:  # the selected streams' segments only
            n = seg.stream
            self.selected += 1
            if n in quiet and not seg.flags & _SETTLING:
                seg.client_state = seg.server_state = "ESTABLISHED"
                settled.add(id(seg))
            else:
                if n in quiet:
                    quiet.discard(n)
                    start[n] = established
                    open_part[n] = []
                open_part.setdefault(n, []).append(seg)
                if seg.flags & ACK and not seg.flags & _SETTLING:
                    settle_if_quiet(n, seg)
            waiting.append(seg)
            now = seg.ts_ns
            while waiting and (id(waiting[0]) in settled or now - waiting[0].ts_ns >= horizon):
                head = waiting.popleft()
                if id(head) in settled:
                    settled.discard(id(head))
                else:
                    resolve(head.stream)
                yield head
        while waiting:
            head = waiting.popleft()
            if id(head) not in settled and head.stream in open_part:
                resolve(head.stream)
            settled.discard(id(head))
            yield head


__all__ = ["HORIZON_NS", "PACKET_HORIZON_NS", "FinishedFlow", "FlowStream", "PacketStream", "ended", "one_stream"]
