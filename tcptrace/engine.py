"""The one driver: every command and the API read captures through this module.

* :class:`Pipeline` reads, tracks, analyses and summarises a capture in one pass (the Python reference), with a
  selection applied inside the C engine's pass when the engine is built; :func:`one_stream` is one stream of it.
* :func:`summarize` / :func:`summarize_lazily` give the flow summaries, from the C engine (tcptrace._engine) when
  it is built (``flows``, ``check``), built one at a time when read (:class:`EngineSummaries`).
* :class:`FlowStream` hands out whole streams as they finish, so memory grows with open streams, not the
  capture; :class:`PacketStream` hands out segments in capture order with hindsight states.

Theory of operation (FlowStream). It keeps each selected stream's analysed segments only while the stream can
still change: once it has ended (both FINs acknowledged, or reset) and the capture has gone :data:`HORIZON_NS`
past that end (room for late retransmissions and the last re-ACK), the stream is yielded as a
:class:`FinishedFlow` and forgotten. Streams still open when the input ends are yielded last, in stream order. A
segment of a stream that was already yielded is counted in :attr:`FlowStream.late`, not lost silently.
``explain`` and :func:`tcptrace.api.iter_flows` read captures this way.
"""

from __future__ import annotations

import functools
import heapq
import operator
import os
import pickle
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO, TypeVar, overload

from .flow import Flow
from .messages import EN
from .model import ACK, FIN, RST, SYN, PlainRun, Role, Segment, is_run
from .selection import NoSuchStream, Selection, missing_streams_message
from .state import TcpState
from .stats import FlowRow, FlowSummary, flow_row
from .vocab import ENGINE_DIR_FIELDS, FINISHED_HORIZON_NS, RST_CAUSES
from .zeek import ZeekFinal


class Pipeline:
    """Read, track, analyse and summarise a capture in one pass; iterate it for fully annotated segments.

    >>> run = Pipeline("sample_pcaps/echo_ipv4.pcap")
    >>> [(s.frame, s.phase, str(s.client_state), str(s.server_state)) for s in run][:2]
    [(3, 'handshake', 'SYN_SENT', 'SYN_RECEIVED'), (4, 'handshake', 'ESTABLISHED', 'SYN_RECEIVED')]
    >>> run.summaries[0].closed()
    'graceful_close_by_client'

    With a ``selection`` (:class:`tcptrace.selection.Selection`) only the selected streams' segments come out.
    When the C engine is built, the selection is applied inside the engine's pass: the engine tracks every
    stream, and only the selected ones' segments are decoded again and analysed here, so ``-s N`` costs one
    engine pass plus the Python work for stream N. The Python reference path reads, tracks and analyses
    everything and filters; both give the same segments, stream numbers and flags (tests/test_engine.py).

    >>> from tcptrace.selection import Selection
    >>> run = Pipeline("sample_pcaps/port_reuse.pcap", selection=Selection.of([1]))
    >>> [(s.frame, s.stream) for s in run][:2], run.streams_total
    ([(13, 1), (14, 1)], 2)
    """

    def __init__(
        self, source: Any, *, track_bytes_in_flight: bool = True, selection: Any = None,
        part: tuple[int, int, Sequence[int] | None] | None = None,
    ) -> None:  # fmt: skip
        self.selection = selection if selection is not None and not selection.everything else None
        if part is not None and self.selection is None:
            self.selection = Selection()  # the engine's pass, every stream of the part kept
        engine = engine_module() if self.selection is not None else None
        from .analysis import Analyzer
        from .capture import open_capture
        from .flow import FlowTracker

        self.capture = open_capture(source)
        self.tracker = FlowTracker()
        self.analyzer = Analyzer(track_bytes_in_flight=track_bytes_in_flight)
        self._summaries: list[FlowSummary] = []
        self._by_stream: dict[int, Flow] = {}  # the streams seen (with the engine: the selected) -> their flows
        self._engine: Any = None if engine is None else new_engine(engine)
        self._clock = [0]  # the time of the last segment read: the end of the trace (FlowSummary.trace_clock)
        # Part k of n (tcptrace.parallel), and the capture's stream number of each of the part's streams: the
        # engine tracks only that part's connections; streams, segments and flows carry the capture's numbers.
        # foreign_ts: before each segment handed out, the latest time among the other parts' segments since the
        # previous one (None: none), which FlowStream reads as one pass would read those segments' times.
        self._numbers: Sequence[int] | None = None
        self.foreign_ts: int | None = None
        if part is not None:
            if self._engine is None:
                raise RuntimeError("a part of a capture needs the C engine")
            k, n, numbers = part
            if numbers is None:  # only FlowStream.told's engine pass counts the other parts' streams (_EngineRun)
                raise ValueError("a part read by the Pipeline needs its streams' numbers (parallel.numbering)")
            self._engine.partition(k, n)
            self._numbers = numbers

    def __iter__(self) -> Iterator[Segment]:
        if self._engine is None:
            yield from self._iter_python()
        else:
            yield from self._iter_engine()

    def _iter_python(self) -> Iterator[Segment]:
        feed = self.tracker.feed
        analyze = self.analyzer.analyze
        selection = self.selection
        clock = self._clock
        for seg in self.capture:
            clock[0] = seg.ts_ns
            flow = feed(seg)
            analyze(seg, flow)
            summary = flow.summary
            if summary is None:
                summary = flow.summary = self._new_summary(flow)
            summary.add(seg)
            if selection is None or selection.matches(flow):
                yield seg
        end = self.capture.stats.last_ts_ns  # the last frame's time, TCP or not
        if end is not None:
            clock[0] = end

    def _new_summary(self, flow: Flow) -> FlowSummary:
        summary = FlowSummary(flow)
        summary.trace_clock = self._clock
        self._summaries.append(summary)
        self._by_stream[flow.stream] = flow
        return summary

    def _iter_engine(self) -> Iterator[Segment]:
        """The selected streams, selected inside the engine's pass (see the class docstring)."""
        from .flow import HalfFlow

        eng, selection = self._engine, self.selection
        assert selection is not None
        previous: dict[int, int] = {}  # a selected stream -> the stream whose ports its SYN reopened
        numbers = self._numbers
        number: Callable[[int], int] = (lambda i: i) if numbers is None else numbers.__getitem__

        def keep(stream: int, prev: int, caddr: bytes, cport: int, saddr: bytes, sport: int) -> bool:
            stream = number(stream)
            if not selection.matches_endpoints(stream, HalfFlow(caddr, cport), HalfFlow(saddr, sport)):
                return False
            if prev >= 0:
                previous[stream] = number(prev)
            return True

        eng.keep(keep)
        tracker = self.tracker
        feed = tracker.feed
        analyze = self.analyzer.analyze
        by_stream = self._by_stream
        clock = self._clock
        for _ in self.capture.feed_steps(eng):
            clock[0] = eng.trace_end()
            kept = eng.take_kept()
            foreign = eng.take_foreign() if numbers is not None else None
            for i, seg in enumerate(kept):
                n = seg.stream  # the engine's tcp.stream: it saw every stream, the tracker only the selected
                if numbers is not None:
                    n = seg.stream = numbers[n]
                    assert foreign is not None
                    self.foreign_ts = foreign[i]
                flow = by_stream.get(n)
                if flow is None:  # the engine began stream n with this segment: so does the tracker
                    tracker.forget(seg)
                    flow = feed(seg)
                    flow.stream = n
                    if n in previous:  # its SYN reopened the ports of stream previous[n] (packet-tcp.c)
                        flow.reused_ports_frame = seg.frame
                        flow.previous_stream = previous[n]
                    flow.summary = self._new_summary(flow)
                else:
                    feed(seg)
                seg.stream = n
                analyze(seg, flow)
                flow.summary.add(seg)
                yield seg

    def summary_of(self, stream: int) -> FlowSummary:
        """The summary of a stream seen so far (as it is now: it goes on being fed)."""
        summary: FlowSummary | None = self._by_stream[stream].summary
        assert summary is not None
        return summary

    def deadline(self, ts_ns: int) -> None:
        """(:class:`_EngineRun`'s pause; nothing to do here: the summaries are fed one segment at a time)"""

    def ended(self, seg: Segment) -> bool:
        """Whether ``seg``'s stream has ended (:func:`ended`), ``seg`` the last segment handed out."""
        return ended(self._by_stream[seg.stream].summary)

    def run(self) -> Pipeline:
        """Consume the whole capture (when only the summaries are wanted)."""
        for _ in self:
            pass
        return self

    @property
    def summaries(self) -> list[FlowSummary]:
        """The summaries of the streams seen (all of them, or with a selection in the engine: the selected)."""
        return list(self._summaries)

    def flow(self, stream: int) -> Flow:
        """A stream seen so far (with a selection in the engine: a selected one)."""
        return self._by_stream[stream]

    @property
    def streams_total(self) -> int:
        """How many streams the capture has so far, selected or not."""
        return self._engine.flow_count() if self._engine is not None else len(self.tracker.flows)

    def previous(self, stream: int) -> FlowSummary | None:
        """The summary of the stream that used ``stream``'s four-tuple before it (port reuse), if any; from the
        engine when that stream was not selected."""
        prev = self._by_stream[stream].previous_stream
        if prev is None:
            return None
        flow = self._by_stream.get(prev)
        if flow is not None and flow.summary is not None:
            summary: FlowSummary = flow.summary
            return summary
        if self._numbers is None:
            return engine_summary(self._engine, prev)
        import bisect

        local = engine_summary(self._engine, bisect.bisect_left(self._numbers, prev))  # a part's numbers increase
        local.flow.stream = prev
        return local

    @property
    def stats(self) -> Any:
        return self.capture.stats


class EngineSummaries(Sequence[FlowSummary]):
    """Streams of an engine pass (all, or the numbers in ``streams``) as :class:`FlowSummary` objects built one at a
    time when read, so a million-connection capture never holds a million of them (``flows`` writes each and lets
    it go)."""

    def __init__(self, engine: Any, streams: Sequence[int] | None = None) -> None:
        self._engine = engine
        self._streams = range(engine.flow_count()) if streams is None else streams

    def __len__(self) -> int:
        return len(self._streams)

    @overload
    def __getitem__(self, i: int) -> FlowSummary: ...
    @overload
    def __getitem__(self, i: slice) -> list[FlowSummary]: ...
    def __getitem__(self, i: int | slice) -> FlowSummary | list[FlowSummary]:
        if isinstance(i, slice):
            return [engine_summary(self._engine, k) for k in self._streams[i]]
        return engine_summary(self._engine, self._streams[i])

    def select(self, selection: Any) -> EngineSummaries:
        """The streams ``selection`` selects, chosen by their endpoints (no summary is built to choose)."""
        from .flow import HalfFlow

        eng, total = self._engine, self._engine.flow_count()
        numbers = sorted(n for n in selection.streams if n < total) if selection.streams else self._streams
        picked = []
        for n in numbers:
            life = eng.lifecycle(n)
            client, server = HalfFlow(life.client_addr, life.client_port), HalfFlow(life.server_addr, life.server_port)
            if selection.matches_endpoints(n, client, server):
                picked.append(n)
        return EngineSummaries(eng, picked)


def flow_rows(summaries: Sequence[FlowSummary]) -> Iterator[FlowRow]:
    """The flows-table rows of ``summaries``: from the engine's lean RowRecord when they are
    :class:`EngineSummaries` (no FlowSummary is built: a million-connection capture's table costs a few
    microseconds a stream), else from each summary's :meth:`~tcptrace.stats.FlowSummary.row_facts`."""
    if isinstance(summaries, EngineSummaries):
        row = summaries._engine.row
        for n in summaries._streams:
            yield flow_row(row(n))
    else:
        for s in summaries:
            yield flow_row(s.row_facts())


_ROW_BATCH = 1024  # flows rows a write (and a call of Engine.row_lines)


def flow_lines(summaries: Sequence[FlowSummary], fmt: str, app: Callable[[int], str] | None = None) -> Iterator[str]:
    """The ``flows`` table (``fmt`` "table") or CSV ("csv") of ``summaries``, its header first, then each item
    a batch of rows joined by newlines. For :class:`EngineSummaries` (and no ``app`` column) the C engine writes
    the rows itself (Engine.row_lines: no Python object per row; the words of each kind of row from
    export.engine_row_texts); otherwise export.flows_table_lines / flows_csv_lines of :func:`flow_rows`. Both
    give the same text (tests/test_flow_rows.py)."""
    import itertools

    from .export import engine_row_texts, flows_csv_lines, flows_table_lines

    if isinstance(summaries, EngineSummaries) and app is None:
        from .export import flows_csv_head, flows_table_head
        from .model import format_addr

        eng, streams = summaries._engine, summaries._streams
        yield flows_table_head() if fmt == "table" else flows_csv_head()
        texts = functools.partial(engine_row_texts, eng, fmt)
        cache: dict[bytes, tuple[bytes | int, ...]] = {}
        code = 1 if fmt == "table" else 2
        for lo in range(0, len(streams), _ROW_BATCH):
            yield eng.row_lines(code, streams[lo : lo + _ROW_BATCH], texts, cache, format_addr)[:-1]
        return
    lines = (flows_table_lines if fmt == "table" else flows_csv_lines)(flow_rows(summaries), app=app)
    while batch := list(itertools.islice(lines, _ROW_BATCH)):
        yield "\n".join(batch)


def selected_summaries(summaries: Sequence[FlowSummary], selection: Any) -> Sequence[FlowSummary]:
    """The summaries a :class:`~tcptrace.selection.Selection` selects (from :class:`EngineSummaries` built only
    when read)."""
    if isinstance(summaries, EngineSummaries):
        return summaries.select(selection)
    return [s for s in summaries if selection.matches(s.flow)]


def summarize_lazily(source: Any) -> tuple[Sequence[FlowSummary], Any]:
    """:func:`summarize` without building every summary first: with the C engine a sequence that builds each
    summary when it is read (see :class:`EngineSummaries`); the Python path's list otherwise."""
    engine = engine_module()
    if engine is not None:
        from .capture import open_capture

        cap = open_capture(source)
        eng = new_engine(engine)
        cap.feed(eng)
        return EngineSummaries(eng), cap.stats
    run = Pipeline(source, track_bytes_in_flight=False).run()
    return run.summaries, run.stats


def summarize(source: Any, streams: set[int] | None = None) -> tuple[list[FlowSummary], Any]:
    """Read and analyse a whole capture; return one :class:`FlowSummary` per stream (all, or ``streams``)
    and the reader's :class:`~tcptrace.capture.CaptureStats`.

    The C engine (``tcptrace._engine``) does the work when it is built, else the pure-Python :class:`Pipeline`;
    the results are identical (tests/test_engine.py). ``TCPTRACE_ENGINE=python`` forces the Python path.
    """
    summaries, stats = summarize_lazily(source)
    return [s for s in summaries if streams is None or s.flow.stream in streams], stats


def engine_module() -> Any:
    """The C engine module, or None when it is not built or ``TCPTRACE_ENGINE=python`` asks for the reference."""
    choice = os.environ.get("TCPTRACE_ENGINE", "auto").lower()
    if choice == "python":
        return None
    try:
        from . import _engine
    except ImportError:
        if choice == "c":
            raise
        return None
    return _engine


# The C engine packs a stream's state this long (capture time) after its end; a late packet unpacks it, so the
# results never depend on it (tests/test_engine.py sets 0: every stream packed at its end). Shorter than the 2 s
# horizon explain waits for late segments (FINISHED_HORIZON_NS), which is about output: half a second covers a
# re-sent FIN or the last ACK's retransmission on most paths (an unpack costs a copy), and a scan of a million
# connections in 9 s holds a quarter as many streams unpacked (1.31 GB -> 0.75 GB peak).
PACK_AFTER_NS = 500_000_000


def new_engine(engine: Any) -> Any:
    """A ``tcptrace._engine.Engine`` with state.py's tables."""
    return engine.Engine(*_engine_tables(), pack_after_ns=PACK_AFTER_NS)


def _engine_tables() -> tuple[bytes, bytes, bytes]:
    """state.py's transition table, input classes and initial states as the byte arrays the engine indexes."""
    from .model import ACK, RST, SYN
    from .state import _CLASS_INDICES, _INPUTS, _ROWS, _initial_states

    states = list(TcpState)
    index = {st: i for i, st in enumerate(states)}
    rows = bytes(255 if nxt is None else index[nxt] for st in states for nxt in _ROWS[st])
    assert len(rows) == len(states) * len(_INPUTS) == 12 * 13
    classes = bytearray(b"\xff" * 64 * 3)
    for bits, (send, recv) in enumerate(_CLASS_INDICES):
        classes[bits * 3] = send
        for k, r in enumerate(recv):
            classes[bits * 3 + 1 + k] = r
    initial = bytearray(32 * 2)
    for flags in range(32):
        sender, receiver = _initial_states(flags & (SYN | ACK | RST))
        initial[flags * 2] = index[sender]
        initial[flags * 2 + 1] = index[receiver]
    return rows, bytes(classes), bytes(initial)


@functools.cache
def _engine_glue() -> tuple[Any, ...]:
    """What engine_summary needs from other modules, looked up once (it runs once per stream: a million times
    on a million-connection capture)."""
    from .analysis import ANALYSIS_FLAGS, FlowAnalysis
    from .flow import HalfFlow
    from .state import _MESSAGES, EndpointMachine

    return ANALYSIS_FLAGS, FlowAnalysis, HalfFlow, _MESSAGES, EndpointMachine, list(TcpState)


def engine_summary(eng: Any, stream: int) -> FlowSummary:
    """Stream ``stream`` of a ``tcptrace._engine.Engine`` as a :class:`FlowSummary` (as the engine has it now)."""
    ANALYSIS_FLAGS, FlowAnalysis, HalfFlow, _MESSAGES, EndpointMachine, states = _engine_glue()
    life = eng.lifecycle(stream)  # a LifecycleRecord and a FlowRecord: fields by name (vocab.ENGINE_RECORDS)
    rec = eng.flow(stream)
    flow = Flow.__new__(Flow)
    flow.stream = stream
    flow.halves = (HalfFlow(life.client_addr, life.client_port), HalfFlow(life.server_addr, life.server_port))
    flow.roles_guessed = bool(life.roles_guessed)
    flow.first_frame, flow.last_frame = rec.first_frame, rec.last_frame
    flow.halves[0].base, flow.halves[1].base = rec.base_client, rec.base_server
    flow.halves[0].win_scale, flow.halves[1].win_scale = rec.win_scale_client, rec.win_scale_server
    first_ts, last_ts, packets = rec.first_ts, rec.last_ts, rec.packets
    first_direction, completeness, ts_first_rtt, reused = (
        rec.first_direction, rec.completeness, rec.ts_first_rtt, rec.reused_ports_frame)  # fmt: skip
    dirs = (rec.client, rec.server)
    syn_frame, synack_frame, handshake_ack_frame = life.syn_frame, life.synack_frame, life.handshake_ack_frame
    handshake_done, fin_frames, fin_next, fin_acked = (
        life.handshake_done, life.fin_frames, life.fin_next, life.fin_acked)  # fmt: skip
    resets, data_after_fin, anomalies = life.resets, life.data_after_fin, life.anomalies
    client_state, server_state, options = life.client_state, life.server_state, life.options
    flow.first_ts_ns = first_ts
    flow.last_ts_ns = last_ts
    flow.packets = packets
    flow.reused_ports_frame = reused or None
    flow.previous_stream = None  # (not in the engine's records; Pipeline.previous asks the engine's pass)
    fa = flow.analysis = FlowAnalysis()
    fa.ts_first_rtt = ts_first_rtt
    # each DirRecord's ClassicRecord has classic.ClassicDir's fields by name (vocab.ENGINE_CLASSIC_FIELDS): read as is
    s = flow.summary = FlowSummary(flow, classic=(dirs[0].classic, dirs[1].classic))
    s.first_ts, s.last_ts, s.packets = first_ts, last_ts, packets
    s.first_direction, s.completeness = first_direction, completeness
    s.syn_frame, s.synack_frame, s.handshake_ack_frame = syn_frame, synack_frame, handshake_ack_frame
    s.handshake_done = bool(handshake_done)
    s.fin_frames = fin_frames
    s.fin_next = list(fin_next)
    s.fin_acked = list(fin_acked)
    s.rst = [(d, f, states[st].value, RST_CAUSES[cause], n) for d, f, st, cause, n in resets]
    s.rst_total = life.resets_total
    s.data_after_fin = list(data_after_fin)
    s.anomalies = [{"frame": f, "text": _MESSAGES[states[st], i]} for f, st, i in anomalies]
    # The engine keeps the final states, not their history (which only narratives and diagrams read).
    s.machine.client = EndpointMachine(states[client_state], Role.CLIENT)
    s.machine.server = EndpointMachine(states[server_state], Role.SERVER)
    s.trace_clock = [eng.trace_end()]
    (o_state, r_state), (o_pkts, r_pkts), (o_size, r_size), (z_first, z_last) = (
        life.zeek_states, life.zeek_pkts, life.zeek_sizes, life.zeek_ts)  # fmt: skip
    s.zeek_final = ZeekFinal(
        life.zeek_orig_dir, life.zeek_history.decode("ascii"), o_state, r_state, o_pkts, r_pkts, o_size, r_size,
        life.zeek_missed, z_first, z_last,
    )  # fmt: skip
    for d, drec, (mss, wscale, sack_permitted, timestamps) in zip(s.dirs, dirs, options, strict=True):
        # a DirRecord: vocab.ENGINE_DIR_RECORD, DirStats's names in ENGINE_DIR_FIELDS order, then flag_counts
        for name, value in zip(ENGINE_DIR_FIELDS, drec, strict=False):
            setattr(d, name, value)
        d.flag_counts = {name: n for name, n in zip(ANALYSIS_FLAGS, drec.flag_counts, strict=True) if n}
        d.mss = None if mss < 0 else mss
        d.wscale = None if wscale < 0 else wscale
        d.sack_permitted = bool(sack_permitted)
        d.timestamps = bool(timestamps)
    return s


T = TypeVar("T")
HORIZON_NS = FINISHED_HORIZON_NS  # an ended stream is handed out when the capture is this far past its end
_NEVER = 1 << 80
_INT64_MAX = (1 << 63) - 1


@dataclass
class FinishedFlow:
    """One stream, whole: its summary, its analysed segments in capture order, and the stream that used the same
    four-tuple before it (port reuse), if any."""

    summary: FlowSummary
    segments: list[Segment]
    previous: FlowSummary | None = None
    stats: Any = None  # the capture reader's CaptureStats (warnings ...), from one_stream

    @property
    def stream(self) -> int:
        return self.summary.flow.stream


def ended(summary: FlowSummary | None) -> bool:
    """Reset, or both FINs sent and acknowledged: nothing but late copies can follow."""
    if summary is None:
        return False
    return bool(summary.rst) or (len(summary.fin_frames) == 2 and bool(summary.fin_acked[0] and summary.fin_acked[1]))


def _word_evidence(ev: dict[str, dict[str, Any]]) -> None:
    """The C engine gives a flag's evidence as numbers; its English sentence comes from the message catalogue, as
    analysis._ev words the Python engine's (``why``)."""
    for name, fields in ev.items():
        fields["why"] = EN["why." + name].format(**fields)


class _EngineRun:
    """The selected streams' segments in capture order from one pass of the C engine (Engine.packets: each kept
    packet decoded by the reference decoder and given the engine's tracking and analysis, vocab.ENGINE_SEGMENT_FIELDS),
    with the summaries :meth:`FlowStream.told` asks for built from the engine's records (:func:`engine_summary`).
    What :class:`Pipeline` gives :meth:`FlowStream.told`, without the per-packet Python tracking, analysis and
    summaries (classic tcptrace's and Zeek's models run in C)."""

    def __init__(
        self, engine: Any, source: Any, selection: Selection, part: tuple[int, int, Sequence[int] | None] | None = None,
        runs: bool = False,
    ) -> None:  # fmt: skip
        from .capture import open_capture
        from .flow import HalfFlow

        self.capture = open_capture(source)
        eng = self._eng = new_engine(engine)
        self._previous: dict[int, int] = {}  # a selected stream -> the stream whose ports its SYN reopened
        previous = self._previous
        everything = selection.everything
        # Part k of n (tcptrace.parallel), as Pipeline(part=...): the engine tracks that part's connections only, and
        # the Segments and summaries carry the capture's stream numbers (numbers[the part's own]); numbers None: the
        # engine also counts the other parts' streams as it reads (Engine.partition(k, n, True)) and says each of
        # the part's numbers when it begins (_number: a part read from the capture itself, with no numbering pass
        # before it). foreign_ts, before each Segment, is the other parts' latest time since the previous one
        # (Engine.take_foreign)
        self._numbers: Sequence[int] | None = None  # a list, extended by _number, when counting
        self._counting = False
        if part is not None:
            k, n, numbers = part
            self._counting = numbers is None
            self._numbers = [] if numbers is None else numbers
            eng.partition(k, n, self._counting)
        number: Callable[[int], int] = (lambda i: i) if part is None else self._number

        def keep(stream: int, prev: int, caddr: bytes, cport: int, saddr: bytes, sport: int) -> bool:
            stream = number(stream)
            if not everything and not selection.matches_endpoints(
                stream, HalfFlow(caddr, cport), HalfFlow(saddr, sport)
            ):
                return False
            if prev >= 0:
                previous[stream] = number(prev)
            return True

        eng.keep(keep)
        eng.packets(0, _flag_texts(0))
        # runs: plain segments are counted in C (model.PlainRun), after COLLAPSE_MIN_RUN - 1 in a row handed out
        # whole, so that narrate._collapse counts each run into a summary step as it would have its segments
        self._runs = runs
        if runs:
            from .applayer import APP_PREFIXES
            from .narrate import COLLAPSE_MIN_RUN

            # a capture read again if need be (FlowStream.whole) lets a run start before a side's first payload
            strict = not isinstance(source, (str, os.PathLike))
            eng.plain_runs(APP_PREFIXES, COLLAPSE_MIN_RUN - 1, strict)
        # The engine runs ahead of the Segments it hands out (a batch at a time), except that it pauses after each
        # Segment of a stream that sent a FIN or RST and after the first at or after the deadline: then what it
        # says of a stream is as of that Segment, the last of its batch, as FlowStream.told needs it. A part also
        # pauses after a Segment before which the other parts' time passed the deadline (FlowStream.told may tell
        # a stream there, when it reads that time with the Segment: the engine must not be past it).
        eng.pause_after(_INT64_MAX)
        self._teardown: set[int] = set()  # streams that sent a FIN or RST: ended() asks the engine
        self._last = False  # whether the Segment last handed out ended its batch (the engine paused after it)
        self._clock = 0  # the capture time the summaries are told at (FlowSummary.trace_clock)
        self.foreign_ts: int | None = None

    @property
    def stats(self) -> Any:
        return self.capture.stats

    @property
    def streams_total(self) -> int:
        """The streams so far: the capture's when counting every part's (a part's own otherwise)."""
        return int(self._eng.streams_seen() if self._counting else self._eng.flow_count())

    def __iter__(self) -> Iterator[Segment]:

        eng = self._eng
        take = eng.take_kept
        numbers = self._numbers
        runs = self._runs
        for _ in self._steps():
            batch = take()
            last = batch[-1] if batch else None
            foreign = eng.take_foreign() if numbers is not None else None
            for i, seg in enumerate(batch):
                if runs and type(seg) is not Segment:  # a PlainRunRecord
                    seg = PlainRun(seg)
                if numbers is not None:
                    assert foreign is not None
                    n = seg.stream
                    seg.stream = numbers[n] if n < len(numbers) else self._number(n)
                    self.foreign_ts = foreign[i]
                if seg.evidence:
                    _word_evidence(seg.evidence)
                self._clock = seg.ts_ns  # as Pipeline's clock: the time of the segment last handed out
                self._last = seg is last
                yield seg
        self._last = True
        end = self.capture.stats.last_ts_ns  # the last frame's time, TCP or not
        self._clock = eng.trace_end() if end is None else end

    def _steps(self) -> Iterator[None]:
        """The capture's feed steps, then one for the plain runs still counted at its end (Engine.runs_flush)."""
        yield from self.capture.feed_steps(self._eng)
        if self._runs:
            self._eng.runs_flush()
            yield None

    def deadline(self, ts_ns: int) -> None:
        """FlowStream.told's next deadline: the engine pauses at the first Segment at or after it, and hands out
        every plain segment from then on whole (not counted in a run: told's clock must see it)."""
        self._eng.pause_after(min(ts_ns, _INT64_MAX))
        if self._runs:
            self._eng.runs_due(min(ts_ns, _INT64_MAX))

    def ended(self, seg: Segment) -> bool:
        """:func:`ended` of ``seg``'s stream, asked of the engine only once the stream has sent a FIN or RST."""
        n = seg.stream
        teardown = self._teardown
        if n not in teardown:
            if not seg.flags & (FIN | RST):
                return False
            teardown.add(n)
        if not self._last:  # the engine did not pause: the stream has not sent a FIN or RST it counts
            return False
        life = self._eng.lifecycle(self._local(n))
        fin_acked = life.fin_acked
        return bool(life.resets) or (len(life.fin_frames) == 2 and bool(fin_acked[0] and fin_acked[1]))

    def _number(self, local: int) -> int:
        """The capture's number of the part's stream ``local`` (asked of the engine when counting)."""
        numbers = self._numbers
        assert numbers is not None
        if local >= len(numbers) and self._counting:
            assert isinstance(numbers, list)
            numbers.extend(self._eng.stream_numbers(len(numbers)))
        return numbers[local]

    def _local(self, stream: int) -> int:
        """The engine's own number of a stream the capture numbers ``stream`` (a part's numbers increase)."""
        if self._numbers is None:
            return stream
        import bisect

        return bisect.bisect_left(self._numbers, stream)

    def _summary(self, stream: int) -> FlowSummary:
        s = engine_summary(self._eng, self._local(stream))
        s.flow.stream = stream
        return s

    def summary_of(self, stream: int) -> FlowSummary:
        assert self._last, "the engine has run past the Segment last handed out"
        s = self._summary(stream)
        s.trace_clock = [self._clock]
        return s

    def previous(self, stream: int) -> FlowSummary | None:
        prev = self._previous.get(stream)
        return None if prev is None else self._summary(prev)


class _Ended:
    """The streams that ended and wait out the horizon (FlowStream's loops): ``at``, when each ended, and a heap
    of those times, so that the due ones come off its top; ``deadline``, the earliest capture time at which one
    of them is due."""

    def __init__(self, horizon_ns: int) -> None:
        self.horizon = horizon_ns
        self.at: dict[int, int] = {}  # stream -> capture time its close or reset was seen
        self._heap: list[tuple[int, int]] = []  # (that time, stream); entries of streams handed out since are stale
        self.deadline = _NEVER

    def add(self, n: int, ts_ns: int) -> None:
        self.at[n] = ts_ns
        heapq.heappush(self._heap, (ts_ns, n))
        self.deadline = min(self.deadline, ts_ns + self.horizon)

    def due(self, now: int) -> list[int]:
        """The streams ended at least the horizon before ``now``, by number (the caller hands them out and drops
        them from ``at``); the next deadline set, as if they were dropped already."""
        heap, at = self._heap, self.at
        out = []
        while heap and now - heap[0][0] >= self.horizon:
            ts, m = heapq.heappop(heap)
            if at.get(m) == ts:
                out.append(m)
        while heap and at.get(heap[0][1]) != heap[0][0]:
            heapq.heappop(heap)
        self.deadline = (heap[0][0] if heap else _NEVER - self.horizon) + self.horizon
        return sorted(out)


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
        horizon_ns: int = HORIZON_NS, part: tuple[int, int, Sequence[int] | None] | None = None, runs: bool = False,
    ) -> None:  # fmt: skip
        self.selection = selection or Selection()
        # runs: told() with the C engine may give model.PlainRun items among a stream's segments (explain when it
        # words no segment on its own: narrate.narrate_flow without verbose); the Python Pipeline never does
        self.runs = runs
        self.horizon_ns = horizon_ns
        self._source = source
        self._run: Pipeline | None = None
        self._engine_run: _EngineRun | None = None
        self._part = part  # one part of the capture (tcptrace.parallel): read by the Pipeline
        self.late: dict[int, int] = {}  # stream -> segments that came after it was handed out
        self.streams_total = 0

    @property
    def run(self) -> Pipeline:
        """The Python :class:`Pipeline` that :meth:`__iter__` reads (made when first asked for)."""
        if self._run is None:
            self._run = Pipeline(self._source, selection=self.selection, part=self._part)
        return self._run

    @property
    def capture(self) -> Any:
        """The capture being read: the engine pass's (:meth:`told` with the engine) or the Pipeline's."""
        if self._engine_run is not None:
            return self._engine_run.capture
        return self.run.capture

    @property
    def stats(self) -> Any:
        if self._engine_run is not None:
            return self._engine_run.stats
        return self.run.stats

    def __iter__(self) -> Iterator[FinishedFlow]:
        run = self.run
        horizon = self.horizon_ns
        open_segs: dict[int, list[Segment]] = {}  # selected streams not handed out yet
        waiting = _Ended(horizon)
        done: set[int] = set()
        late = self.late

        def finish(n: int) -> FinishedFlow:
            waiting.at.pop(n, None)
            done.add(n)
            summary = run.flow(n).summary
            assert summary is not None
            return FinishedFlow(summary, open_segs.pop(n), run.previous(n))

        for seg in run:  # the selected streams' segments only
            other = run.foreign_ts  # a part of the capture: the other parts' segments' latest time, as if read
            if other is not None and other >= waiting.deadline:
                for m in waiting.due(other):
                    yield finish(m)
            n = seg.stream
            if n in done:
                late[n] = late.get(n, 0) + 1
                continue
            segs = open_segs.get(n)
            if segs is None:
                segs = open_segs[n] = []
            segs.append(seg)
            summary = run.flow(n).summary
            if n not in waiting.at and ended(summary):
                waiting.add(n, seg.ts_ns)
            if seg.ts_ns >= waiting.deadline:
                for m in waiting.due(seg.ts_ns):
                    yield finish(m)
        self.streams_total = run.streams_total
        for n in sorted(open_segs):
            yield finish(n)

    def whole(self, ff: FinishedFlow) -> list[Segment]:
        """``ff``'s segments with none counted in a plain run (model.PlainRun): the stream read again from the
        capture (a path: the runs of :meth:`told` on one never wait for a side's first payload), as far as ``ff``
        goes. For the rare stream whose narrative turns out to need every payload (a side's first payload, after
        a run, is HTTP, TLS or DNS: narrate._app_of)."""
        items = ff.segments
        if not any(is_run(s) for s in items):
            return items
        last = items[-1]
        upto = last.last_frame if is_run(last) else last.frame
        n = ff.summary.flow.stream
        again = FlowStream(self._source, Selection.of([n]), horizon_ns=self.horizon_ns)
        got: list[Segment] = []
        for _ in again.told(lambda f: got.extend(s for s in f.segments if s.frame <= upto)):
            pass
        return got

    def told(self, tell: Callable[[FinishedFlow], T]) -> Iterator[tuple[int, T]]:
        """Iterate to get ``(stream, tell(finished flow))`` for each selected stream, handed out when
        :meth:`__iter__` would hand it out (same streams, same order, same segments), with less held meanwhile.

        A stream is told as soon as it ends, and through the horizon only what ``tell`` returned is kept, with its
        segments packed (:func:`_pack`, about a fifth of their size) in case a late copy arrives: that reopens the
        stream (its segments unpacked, the early telling dropped) and it is told again when the horizon passes,
        as :meth:`__iter__` would. On a busy capture the ended streams' segments are most of what the horizon
        holds (200,000 of the 203,000 held at the peak of benchmarks/record_bench_capture.sh's capture).
        ``tell`` must not keep the flow's segment list: it is emptied (packed) once ``tell`` returns.

        With the C engine built, the segments come from the engine's packets pass (:class:`_EngineRun`: one pass
        tracks, analyses and summarises in C, Python decodes only the segments handed out) and each summary is the
        engine's (:func:`engine_summary`), built when the stream is told; the Python :class:`Pipeline` otherwise.
        Both tell the same (tests/test_engine.py)."""
        engine = engine_module()
        use_engine = engine is not None
        run: Any = _EngineRun(engine, self._source, self.selection, self._part, self.runs) if use_engine else self.run
        if use_engine:
            self._engine_run = run
        horizon = self.horizon_ns
        open_segs: dict[int, list[Segment]] = {}  # selected streams not told yet (or reopened)
        waiting = _Ended(horizon)
        early: dict[int, tuple[T, list[bytes]]] = {}  # told at their end: the telling, and the packed segments
        done: set[int] = set()
        late = self.late

        def finish(n: int) -> T:
            waiting.at.pop(n, None)
            done.add(n)
            if n in early:
                return early.pop(n)[0]
            return tell(FinishedFlow(run.summary_of(n), open_segs.pop(n), run.previous(n)))

        for seg in run:  # the selected streams' segments only
            other = run.foreign_ts  # a part of the capture: the other parts' segments' latest time, as if read
            if other is not None and other >= waiting.deadline:
                for m in waiting.due(other):
                    yield m, finish(m)
                run.deadline(waiting.deadline)
            n = seg.stream
            if n in done:
                late[n] = late.get(n, 0) + 1
                continue
            segs = open_segs.get(n)
            if segs is None:
                told_early = early.pop(n, None)
                segs = open_segs[n] = [] if told_early is None else _unpack(told_early[1])
            segs.append(seg)
            if n not in waiting.at and run.ended(seg):
                waiting.add(n, seg.ts_ns)
                segs = open_segs.pop(n)
                early[n] = (tell(FinishedFlow(run.summary_of(n), segs, run.previous(n))), _pack(segs))
                run.deadline(waiting.deadline)
            if seg.ts_ns >= waiting.deadline:
                for m in waiting.due(seg.ts_ns):
                    yield m, finish(m)
                run.deadline(waiting.deadline)
        self.streams_total = run.streams_total
        for n in sorted(open_segs.keys() | early.keys()):
            yield n, finish(n)


# rst_info: on an RST only (packed apart); settles: set by the C engine's packets pass only, never read after it;
# _options: the options parsed from opt_bytes when first asked for (Segment.options), parsed again if asked after
# _unpack (pickling the TcpOptions cached by the narrative took a third of _pack's time)
_SEG_FIELDS = tuple(name for name in Segment.__slots__ if name not in ("rst_info", "settles", "_options"))
_seg_fields = operator.attrgetter(*_SEG_FIELDS)


_PACK_CHUNK = 4096  # segments per pickle: the tuples being pickled stay small next to the segments


def _pack(segs: list[Segment]) -> list[bytes]:
    """Segments as pickles of their fields (a tuple each, read by one C call), for :func:`_unpack`. Empties
    ``segs`` as it goes, so a long stream's segments are let go while its packed copy grows."""
    out = []
    for lo in range(0, len(segs), _PACK_CHUNK):
        chunk = segs[lo : lo + _PACK_CHUNK]
        rows = [_seg_fields(seg) if type(seg) is Segment else seg for seg in chunk]  # a PlainRun pickles itself
        rst = [(i, seg.rst_info) for i, seg in enumerate(chunk) if seg.flags & RST and hasattr(seg, "rst_info")]
        out.append(pickle.dumps((rows, rst), protocol=pickle.HIGHEST_PROTOCOL))
        segs[lo : lo + _PACK_CHUNK] = [None] * len(chunk)  # type: ignore[list-item]
    segs.clear()
    return out


def _unpack(packed: list[bytes]) -> list[Segment]:
    segs: list[Segment] = []
    new = Segment.__new__
    for data in packed:
        rows, rst = pickle.loads(data)  # our own bytes, made by _pack in this process
        first = len(segs)
        for row in rows:
            if is_run(row):
                segs.append(row)  # type: ignore[arg-type]
                continue
            seg = new(Segment)
            seg._options = None
            for name, value in zip(_SEG_FIELDS, row, strict=True):
                setattr(seg, name, value)
            segs.append(seg)
        for i, info in rst:
            segs[first + i].rst_info = info
    return segs


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
        exc = NoSuchStream(missing_streams_message(getattr(source, "name", source), [stream], run.streams_total))
        exc.stats = run.stats
        raise exc
    summary = run.flow(stream).summary
    assert summary is not None
    return FinishedFlow(summary, segs, run.previous(stream), run.stats)


class StreamSegments:
    """One stream's analysed segments in capture order, handed out as they are read and not kept, then its
    summary: what ``diagram`` and ``graph`` draw in memory that grows with the picture, not with the stream. The
    endpoint states on them are the online ones (tcptrace.ladder.settled_states gives the hindsight ones).

    With the C engine, its packets pass (Engine.packets, as :class:`PacketStream`) analyses the stream, the
    selection inside the pass (Engine.select: the other connections are only counted, for the stream numbers);
    else the :class:`Pipeline`. Iterate once; :attr:`summary` is set when the
    iteration ends, or :class:`~tcptrace.selection.NoSuchStream` is raised there when the capture has no such
    stream.

    >>> src = StreamSegments("sample_pcaps/refused.pcap", 0)
    >>> [s.frame for s in src], src.summary.closed()
    ([3, 4], 'reset_by_server')
    """

    def __init__(self, source: str | os.PathLike[str] | BinaryIO, stream: int, runs: int = 0) -> None:
        self.source = source
        self.stream = stream
        # runs > 0 (the C engine only): after ``runs`` plain segments in a row handed out whole, the rest of the
        # row comes as one model.PlainRun, counted in C (Engine.plain_runs): what a collapsing ladder draws as a
        # block (ladder.LadderBuilder), the stream's long transfers not made into Segments one by one
        self.runs = runs
        self._summary: FlowSummary | None = None
        self.stats: Any = None

    @property
    def summary(self) -> FlowSummary:
        """The stream's summary (once the iteration has ended)."""
        if self._summary is None:
            raise RuntimeError("StreamSegments.summary is known once its segments have all been read")
        return self._summary

    def __iter__(self) -> Iterator[Segment]:
        stream = self.stream
        engine = engine_module()
        n = 0
        if engine is None:
            run = Pipeline(self.source, selection=Selection.of([stream]))
            self.stats = run.stats
            for seg in run:
                n += 1
                yield seg
            total = run.streams_total
            if n:
                self._summary = run.flow(stream).summary
        else:
            from .capture import open_capture

            cap = open_capture(self.source)
            self.stats = cap.stats
            eng = new_engine(engine)
            # Only this stream tracked and analysed, the others' connections only counted (their numbers): the
            # engine's stream 0 is the capture's stream ``stream``
            eng.select(stream)
            eng.packets(0, _flag_texts(0))
            if self.runs:  # (no protocol prefixes: the ladder tells no application messages)
                eng.plain_runs((), self.runs, False)
            take = eng.take_kept
            for _ in self._steps(cap, eng):
                for item in take():
                    # a PlainRunRecord (runs > 0) comes as a model.PlainRun, where Segments go
                    got: Any = item if type(item) is Segment else PlainRun(item)
                    got.stream = stream
                    if got.evidence:
                        _word_evidence(got.evidence)
                    n += 1
                    yield got
            total = eng.streams_seen()
            if n:
                self._summary = engine_summary(eng, 0)
                self._summary.flow.stream = stream
        if not n:
            exc = NoSuchStream(missing_streams_message(getattr(self.source, "name", self.source), [stream], total))
            exc.stats = self.stats
            raise exc

    def _steps(self, cap: Any, eng: Any) -> Iterator[None]:
        """The capture's feed steps, then one for the plain run still counted at its end (Engine.runs_flush)."""
        yield from cap.feed_steps(eng)
        if self.runs:
            eng.runs_flush()
            yield None


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

    With the C engine, one pass of the engine does the tracking and analysis (Engine.packets) and hands out each
    selected packet as a Segment carrying its analysis (vocab.ENGINE_SEGMENT_FIELDS); with ``fmt`` ``"jsonl"`` or
    ``"csv"`` the packets of settled streams that have nothing to explain (no SYN, FIN or RST, no analysis flag)
    come out already rendered, as ``LineChunk`` items (``.text``: their lines, as :mod:`tcptrace.export` writes
    them), between the Segments; the writers of :mod:`tcptrace.export` pass them through. Without the engine (or
    ``TCPTRACE_ENGINE=python``) the :class:`Pipeline` is the reference; both give the same output
    (tests/test_engine.py).

    >>> [(s.frame, s.server_state) for s in PacketStream("sample_pcaps/refused.pcap")]
    [(3, 'CLOSED'), (4, 'CLOSED')]
    """

    def __init__(
        self, source: str | os.PathLike[str] | BinaryIO, selection: Selection | None = None, *,
        horizon_ns: int = PACKET_HORIZON_NS, fmt: str | None = None,
    ) -> None:  # fmt: skip
        self.selection = selection or Selection()
        self.horizon_ns = horizon_ns
        self.selected = 0
        engine = engine_module()
        self._engine: Any = None
        self._origin_needed = False
        if engine is None:
            self.run: Pipeline | None = Pipeline(source, selection=self.selection)
            self._capture: Any = self.run.capture
            return
        from .capture import open_capture
        from .flow import HalfFlow

        self.run = None
        self._capture = open_capture(source)
        eng = self._engine = new_engine(engine)
        sel = self.selection
        from .zeek import community_id

        # a kept stream's Community ID: the engine writes it in the lines it renders (export.packet_record's value)
        if sel.everything:
            eng.keep(lambda n, _prev, ca, cp, sa, sp: community_id(ca, sa, cp, sp))
        else:
            eng.keep(
                lambda n, _prev, ca, cp, sa, sp: (
                    sel.matches_endpoints(n, HalfFlow(ca, cp), HalfFlow(sa, sp)) and community_id(ca, sa, cp, sp)
                )
            )
        # several files: each record also names its file (export.packet_record), which the engine does not write
        code = 0 if self.locate is not None else _LINE_FORMATS.get(fmt or "", 0)
        eng.packets(code, _flag_texts(code))
        self._origin_needed = code == _LINE_FORMATS["table"]

    @property
    def stats(self) -> Any:
        return self._capture.stats

    @property
    def locate(self) -> Callable[[int], tuple[str, int]] | None:
        """For a capture of several files (capture.MergedReader): a frame's file and its number there."""
        return getattr(self._capture, "locate", None)

    @property
    def streams_total(self) -> int:
        """How many streams the capture has so far, selected or not."""
        if self._engine is not None:
            return int(self._engine.flow_count())
        assert self.run is not None
        return self.run.streams_total

    def _items(self) -> Iterator[tuple[Any, bool]]:
        """The selected packets in capture order, each with whether the stream's online view lets it settle the
        stream's states (no FIN or RST yet, handshake done, both endpoints ESTABLISHED); the engine's LineChunks
        with False."""
        eng = self._engine
        if eng is None:
            assert self.run is not None
            flow_of = self.run.flow
            established = (TcpState.ESTABLISHED, TcpState.ESTABLISHED)
            for seg in self.run:
                summary = flow_of(seg.stream).summary
                yield (
                    seg,
                    not (summary is None or summary.fin_frames or summary.rst or not summary.handshake_done)
                    and (seg.client_state, seg.server_state) == established,
                )
            return
        from .model import Segment

        take = eng.take_kept
        stats = self._capture.stats
        origin = self._origin_needed
        for _ in self._capture.feed_steps(eng):
            if origin and stats.first_ts_ns is not None:  # the table's time origin, as export.table_lines reads it
                eng.origin(stats.first_ts_ns)
                origin = False
            for item in take():
                if type(item) is not Segment:  # a LineChunk
                    yield item, False
                    continue
                if item.evidence:
                    _word_evidence(item.evidence)
                yield item, item.settles

    def __iter__(self) -> Iterator[Any]:
        from collections import deque

        from .events import resolve_states
        from .model import Segment

        established = (TcpState.ESTABLISHED, TcpState.ESTABLISHED)
        eng = self._engine
        horizon = self.horizon_ns
        waiting: deque[Any] = deque()  # capture order, not yet handed out (Segments, the engine's LineChunks)
        # id() of each waiting item -> whether its states are final. Only waiting items are here: a segment handed
        # out at the horizon may be settled later as part of its stream, and its id() may by then belong to a new
        # object (a set of ids that outlived their objects once marked a later FIN as settled, unresolved).
        settled: dict[int, bool] = {}
        open_part: dict[int, list[Segment]] = {}  # stream -> its segments since its last settled point
        start: dict[int, tuple[TcpState, TcpState]] = {}  # stream -> the states before open_part[stream][0]
        quiet: set[int] = set()  # streams at a settled point: their data and ACKs are final as they come
        resolved_len: dict[int, int] = {}  # stream -> len(open_part) when it was last resolved
        # stream -> how many of open_part[stream]'s first segments were handed out (at the horizon) and replaced by
        # a _Past: what hindsight still reads of them, without their payload and options (memory stays flat when
        # a stream's close is never settled)
        handed_out: dict[int, int] = {}

        def forget_payload(head: Segment) -> None:
            n = head.stream
            part = open_part.get(n)
            i = handed_out.get(n, 0)
            if part is not None and i < len(part) and part[i] is head:
                part[i] = _Past(head)  # type: ignore[call-overload]
                handed_out[n] = i + 1

        def resolve(n: int) -> None:
            part = open_part[n]
            if resolved_len.get(n) != len(part):
                resolve_states(part, start.get(n))
                resolved_len[n] = len(part)

        def settle(n: int, seg: Segment) -> None:
            # the online view lets seg settle the stream: do the states with hindsight agree?
            part = open_part.pop(n)
            resolve_states(part, start.pop(n, None))
            resolved_len.pop(n, None)
            handed_out.pop(n, None)
            if (part[-1].client_state, part[-1].server_state) == established:
                for x in part:
                    if id(x) in settled:
                        settled[id(x)] = True
                quiet.add(n)
                if eng is not None:  # its next segments without SYN, FIN or RST: rendered by the engine
                    eng.quiet(n, seg.frame)
            else:  # hindsight disagrees: keep waiting
                open_part[n] = part

        for seg, settles in self._items():
            if type(seg) is not Segment:  # a LineChunk: packets of quiet streams, settled, in capture order
                self.selected += seg.packets
                settled[id(seg)] = True
                waiting.append(seg)
                now = seg.max_ts
            else:
                n = seg.stream
                self.selected += 1
                if n in quiet and not seg.flags & _SETTLING:
                    seg.client_state = seg.server_state = "ESTABLISHED"
                    settled[id(seg)] = True
                else:
                    settled[id(seg)] = False
                    if n in quiet:
                        quiet.discard(n)
                        start[n] = established
                        open_part[n] = []
                        handed_out.pop(n, None)
                    open_part.setdefault(n, []).append(seg)
                    if settles and seg.flags & ACK and not seg.flags & _SETTLING:
                        settle(n, seg)
                waiting.append(seg)
                now = seg.ts_ns
            while waiting and (settled[id(waiting[0])] or now - waiting[0].ts_ns >= horizon):
                head = waiting.popleft()
                if not settled.pop(id(head)):
                    resolve(head.stream)
                    yield head
                    forget_payload(head)
                else:
                    yield head
        while waiting:
            head = waiting.popleft()
            if not settled.pop(id(head)) and head.stream in open_part:
                resolve(head.stream)
            yield head


class _Past:
    """A segment of a stream's unsettled part that was already handed out: what events.resolve_states reads."""

    __slots__ = ("ack_raw", "client_state", "direction", "flags", "frame", "len", "seq_raw", "server_state")

    def __init__(self, seg: Segment) -> None:
        self.ack_raw, self.direction, self.flags, self.frame = seg.ack_raw, seg.direction, seg.flags, seg.frame
        self.len, self.seq_raw = seg.len, seg.seq_raw
        self.client_state, self.server_state = seg.client_state, seg.server_state


# the packets formats the engine renders itself (Engine.packets' fmt); any other gets Segments only
_LINE_FORMATS = {"jsonl": 1, "csv": 2, "table": 3}


@functools.cache
def _flag_texts(code: int) -> tuple[bytes, ...]:
    """The TCP flags (the 512 values of the nine flag bits) as the format ``code`` writes them (export.py)."""
    import json

    from .model import flag_names

    if code == 1:
        return tuple(json.dumps(list(flag_names(i)), separators=(",", ":")).encode() for i in range(512))
    if code == 2:
        import csv
        import io

        out = []
        for i in range(512):
            buf = io.StringIO()
            csv.writer(buf, lineterminator="").writerow([",".join(flag_names(i)), ""])
            out.append(buf.getvalue()[:-1].encode())  # the field, without the separator of the empty one after it
        return tuple(out)
    if code == 3:
        return tuple(f"{'[' + ', '.join(flag_names(i)) + ']':<16}".encode() for i in range(512))
    return (b"",) * 512


__all__ = [
    "HORIZON_NS",
    "PACKET_HORIZON_NS",
    "FinishedFlow",
    "FlowStream",
    "PacketStream",
    "StreamSegments",
    "ended",
    "flow_lines",
    "flow_rows",
    "one_stream",
]
