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

from .model import Segment
from .selection import Selection
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
        self.run = Pipeline(source)
        self.late: dict[int, int] = {}  # stream -> segments that came after it was handed out
        self.streams_total = 0

    @property
    def stats(self) -> Any:
        return self.run.stats

    def __iter__(self) -> Iterator[FinishedFlow]:
        flows_of = self.run.tracker.flows
        selection = self.selection
        horizon = self.horizon_ns
        open_segs: dict[int, list[Segment]] = {}  # selected streams not handed out yet
        ended_at: dict[int, int] = {}  # stream -> capture time its close or reset was seen
        done: set[int] = set()
        late = self.late
        last_on_ports: dict[tuple[Any, ...], FlowSummary] = {}  # the latest stream of each four-tuple
        previous: dict[int, FlowSummary] = {}
        known = 0
        deadline = _NEVER  # the earliest capture time at which an ended stream is due

        def finish(n: int) -> FinishedFlow:
            ended_at.pop(n, None)
            done.add(n)
            summary = flows_of[n].summary
            assert summary is not None
            return FinishedFlow(summary, open_segs.pop(n), previous.get(n))

        for seg in self.run:
            n = seg.stream
            while known <= n:  # a new stream: which earlier one used its ports
                f = flows_of[known]
                key = (f.client.addr, f.client.port, f.server.addr, f.server.port)
                if f.summary is not None:
                    if key in last_on_ports:
                        previous[known] = last_on_ports[key]
                    last_on_ports[key] = f.summary
                known += 1
            if n in done:
                late[n] = late.get(n, 0) + 1
                continue
            segs = open_segs.get(n)
            if segs is None:
                if not selection.matches(flows_of[n]):
                    continue
                segs = open_segs[n] = []
            segs.append(seg)
            summary = flows_of[n].summary
            # (cheap tests first: most segments neither reset nor follow two FINs)
            may_end = summary is not None and (summary.rst or len(summary.fin_frames) == 2)
            if may_end and n not in ended_at and ended(summary):
                ended_at[n] = seg.ts_ns
                deadline = min(deadline, seg.ts_ns + horizon)
            if seg.ts_ns >= deadline:
                for m in sorted(m for m, ts in ended_at.items() if seg.ts_ns - ts >= horizon):
                    yield finish(m)
                deadline = min(ended_at.values(), default=_NEVER - horizon) + horizon
        self.streams_total = len(flows_of)
        for n in sorted(open_segs):
            yield finish(n)


__all__ = ["HORIZON_NS", "FinishedFlow", "FlowStream", "ended"]
