"""The notebook-friendly API: ``tcptrace.load(path)`` -> :class:`Capture` of :class:`Flow` objects.

Theory of operation. :func:`load` runs the whole pipeline once and keeps, per stream, its analysed segments
and its summary, so a notebook can ask for any stream's packets, narrative, ladder diagram, graphs or followed
byte stream (``flow.follow()``, ``flow.payload("c2s")``: tcptrace.follow) without re-reading the file. For files
too big to keep, iterate :func:`iter_packets` (streaming, constant memory) or use :func:`tcptrace.summarize`.
Display in Jupyter goes through ``_repr_html_``/``_repr_svg_``; everything taken from the capture is HTML-escaped.
DataFrames need the optional pandas extra (``tcptrace[notebook]``).
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, BinaryIO

from .engine import Pipeline
from .export import flow_row_dict
from .model import Segment
from .output import short_name
from .sources import CaptureSet
from .stats import FlowSummary, flow_row

if TYPE_CHECKING:  # the narrator is imported when a narrative is asked for, not with the API
    from .applayer import AppLayer
    from .follow import FollowedStream, Payload
    from .narrate import FlowNarrative

_VERDICT_COLOURS = {"graceful": "#e6f4ea", "reset": "#fde7e9", "refused": "#fde7e9", "open": "#fff8e1",
                    "half": "#fff8e1", "closing": "#fff8e1"}  # fmt: skip


def _pandas() -> Any:
    try:
        import pandas as pd
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("DataFrames need pandas: pip install 'tcptrace[notebook]'") from exc
    return pd


class Flow:
    """One TCP stream of a loaded capture: its packets, summary, narrative, diagram and graphs.

    >>> cap = load("sample_pcaps/echo_ipv4.pcap")
    >>> flow = cap.flow(0)
    >>> flow
    <Flow 0: 10.99.0.2:57356 → 10.99.0.1:20000, 10 packets, graceful_close_by_client>
    >>> flow.narrative().steps[0].kind
    'syn'
    """

    def __init__(self, summary: FlowSummary, packets: list[Segment]) -> None:
        from .events import resolve_states

        self._summary_obj = summary
        self.packets = packets
        resolve_states(packets)  # the whole stream is here: states with hindsight, as explain tells them
        self.stream = summary.flow.stream
        self._dict: dict[str, Any] | None = None
        self._followed: FollowedStream | None = None

    @property
    def summary(self) -> dict[str, Any]:
        """Everything ``tcptrace flows --format json`` says about this stream."""
        if self._dict is None:
            self._dict = self._summary_obj.to_dict()
        return self._dict

    @property
    def client(self) -> str:
        return str(self.summary["client"])

    @property
    def server(self) -> str:
        return str(self.summary["server"])

    @property
    def verdict(self) -> str:
        return str(self.summary["verdict"])

    def narrative(
        self, lang: str = "en", *, verbose: bool = False, absolute: bool = False, max_steps: int | None = None
    ) -> FlowNarrative:
        """The step-by-step story of this stream: Jupyter displays it as HTML (``_repr_html_``), ``str()`` is
        the text. ``max_steps`` keeps the first and last steps and says how many were left out."""
        from .narrate import narrate_flow

        return narrate_flow(self._summary_obj, self.packets, lang, verbose=verbose, absolute=absolute,
                            max_steps=max_steps)  # fmt: skip

    def follow(self) -> FollowedStream:
        """The byte stream each side's application read (tcptrace.follow): chunks with their frames, gaps, and
        copies that differ.

        >>> [(c.direction, c.data, c.frames) for c in load("sample_pcaps/echo_ipv4.pcap").flow(0).follow().items()]
        [('c2s', b'AB', (6,)), ('s2c', b'AB', (8,))]
        """
        if self._followed is None:
            from .follow import reassemble

            self._followed = reassemble(self.packets)
        return self._followed

    def payload(self, direction: str = "c2s") -> Payload:
        """The bytes the receiver of ``direction`` (``"c2s"`` or ``"s2c"``) read, gaps left out, and the gaps:
        ``data, gaps = flow.payload("c2s")``.

        >>> load("sample_pcaps/dialogue.pcap").flow(0).payload("c2s")
        Payload(data=b'Alice\\nexit\\n', gaps=())
        """
        return self.follow().payload(direction)  # type: ignore[arg-type]

    def app(self) -> AppLayer:
        """What the application said on this stream (tcptrace.applayer): the protocol recognised (http, tls, dns,
        length-prefixed, lines, unknown, none) and its messages, from the first 64 KiB each way.

        >>> app = load("sample_pcaps/http_keepalive.pcap").flow(0).app()
        >>> app.protocol, [(m.kind, m.fields.get("path")) for m in app.messages][:2]
        ('http', [('request', '/0'), ('response', None)])
        """
        from .applayer import analyse

        flow = self._summary_obj.flow
        return analyse(self.packets, flow.halves[1].port, flow.halves[0].port)

    def ladder(self, lang: str = "en", **kw: Any) -> Any:
        """The ladder layout (:class:`tcptrace.ladder.Ladder`); its text forms are in :mod:`tcptrace.ladder`."""
        from .ladder import build_ladder

        return build_ladder(self._summary_obj, self.packets, lang=lang, **kw)

    def diagram(self, ax: Any = None, lang: str = "en", **kw: Any) -> Any:
        """Draw the ladder (sequence) diagram on ``ax`` (or a new figure); returns the matplotlib Axes."""
        from .diagram import draw_ladder

        return draw_ladder(self.ladder(lang, **kw), ax=ax)

    def graph(self, kind: str = "tsg", ax: Any = None, **kw: Any) -> Any:
        """Draw a TCP graph (``tsg``, ``throughput``, ``rtt``, ``window``); returns the matplotlib Axes."""
        from .graph import draw_graph

        return draw_graph(self._summary_obj, self.packets, kind, ax=ax, **kw)

    def to_dataframe(self) -> Any:
        """One row per packet: the ``tcptrace packets --format jsonl`` fields, typed as tcptrace.table's
        PACKET_COLUMNS say (``time`` a datetime64[ns, UTC], integers Int64; needs pandas)."""
        return _packets_frame(self.packets)

    def _repr_svg_(self) -> str | None:
        try:
            ax = self.diagram()
        except Exception:
            return None
        buf = io.StringIO()
        ax.figure.savefig(buf, format="svg", bbox_inches="tight")
        return buf.getvalue()

    def _repr_html_(self) -> str:
        from .narrate import render_html_flow

        svg = self._repr_svg_() or ""
        story = render_html_flow(self.narrative())
        return f"<div>{story}{svg}</div>"

    def __repr__(self) -> str:
        return (
            f"<Flow {self.stream}: {self.client} → {self.server}, {len(self.packets)} packets, "
            f"{self.summary['closed'] if self.summary['opened'] != 'refused' else 'refused'}>"
        )


class Capture:
    """A loaded capture: ``.flows``, ``.flow(n)``, ``.stats``; iterating yields the flows.

    >>> cap = load("sample_pcaps/port_reuse.pcap")
    >>> len(cap.flows), cap.stats["tcp_segments"]
    (2, 20)
    """

    def __init__(self, path: str, flows: list[Flow], stats: dict[str, Any]) -> None:
        self.path = path
        self.flows = flows
        self.stats = stats
        self._by_stream = {f.stream: f for f in flows}

    def flow(self, stream: int) -> Flow:
        """The flow with this ``tcp.stream`` number."""
        try:
            return self._by_stream[stream]
        except KeyError:
            raise KeyError(f"no stream {stream} in {self.path} (streams: {sorted(self._by_stream)})") from None

    def __iter__(self) -> Iterator[Flow]:
        return iter(self.flows)

    def __len__(self) -> int:
        return len(self.flows)

    def to_dataframe(self) -> Any:
        """One row per flow: the ``tcptrace flows`` table columns and ``start_time``, typed as tcptrace.table's
        FLOW_COLUMNS say (needs pandas)."""
        _pandas()
        from .table import dataframe, flow_values

        return dataframe("flows", (flow_values(flow_row(f._summary_obj.row_facts())) for f in self.flows))

    def packets_dataframe(self) -> Any:
        """One row per packet of every flow (needs pandas)."""
        return _packets_frame(self._packets_in_order())

    def _packets_in_order(self) -> list[Segment]:
        return sorted((s for f in self.flows for s in f.packets), key=lambda s: s.frame)

    def to_arrow(self, what: str = "flows") -> Any:
        """A ``pyarrow.Table`` of the flows (``what="flows"``) or of every packet (``"packets"``), with the columns
        and types of ``tcptrace flows|packets --format parquet`` (tcptrace.table; needs tcptrace[parquet]).

        >>> load("sample_pcaps/port_reuse.pcap").to_arrow().column("stream").to_pylist()  # doctest: +SKIP
        [0, 1]
        """
        from .table import arrow_table, flow_values, packet_values

        if what == "flows":
            return arrow_table("flows", (flow_values(flow_row(f._summary_obj.row_facts())) for f in self.flows))
        if what == "packets":
            return arrow_table("packets", map(packet_values, self._packets_in_order()))
        raise ValueError(f"to_arrow: what is 'flows' or 'packets', not {what!r}")

    def report(self, lang: str = "en", **kw: Any) -> Any:
        """This capture's HTML report (:func:`tcptrace.report.build_report`, reading the file again); Jupyter
        displays it, ``.html`` is the page."""
        from .report import build_report

        return build_report(self.path, lang=lang, **kw)

    def _repr_html_(self) -> str:
        import html

        e = html.escape
        rows = []
        for f in self.flows:
            r = flow_row_dict(flow_row(f._summary_obj.row_facts()))
            colour = next((c for k, c in _VERDICT_COLOURS.items() if str(r["closed"]).startswith(k) or
                           str(r["opened"]).startswith(k)), "#ffffff")  # fmt: skip
            rows.append(
                f'<tr style="background:{colour}"><td>{r["stream"]}</td><td>{e(r["client"])}</td>'
                f"<td>{e(r['server'])}</td><td>{r['packets_c2s']}/{r['packets_s2c']}</td>"
                f"<td>{r['bytes_c2s']}/{r['bytes_s2c']}</td><td>{r['duration_s']:.3f}</td>"
                f"<td>{r['completeness']}</td><td>{e(r['conn_state'])}</td><td>{r['retransmissions']}</td>"
                f"<td>{e(r['verdict'])}</td></tr>"
            )
        head = ("<tr><th>stream</th><th>client</th><th>server</th><th>packets →/←</th><th>bytes →/←</th>"
                "<th>duration s</th><th>completeness</th><th>Zeek</th><th>retr.</th><th>verdict</th></tr>")  # fmt: skip
        return (
            f"<p><b>{e(short_name(self.path))}</b>: {self.stats['frames']} frames, "
            f"{self.stats['tcp_segments']} TCP segments, {len(self.flows)} streams</p>"
            f'<table class="tcptrace">{head}{"".join(rows)}</table>'
        )

    def __repr__(self) -> str:
        return (
            f"<Capture {short_name(self.path)}: {self.stats['frames']} frames, "
            f"{self.stats['tcp_segments']} TCP segments, {len(self.flows)} streams>"
        )


def _packets_frame(segs: list[Segment]) -> Any:
    """Packet records as a typed DataFrame (tcptrace.table), ``time`` a datetime64[ns, UTC] column built from the
    integer ``ts_ns`` (a float of seconds since 1970 keeps only microseconds)."""
    _pandas()
    from .table import dataframe, packet_values

    return dataframe("packets", map(packet_values, segs))


def load(source: str | os.PathLike[str] | BinaryIO | Sequence[str | os.PathLike[str]] | CaptureSet) -> Capture:
    """Read and analyse a whole capture, keeping every stream's packets (for notebooks and scripts). ``source``:
    a path, a file object, a list of paths, globs and directories read as one capture merged by time, or a
    :class:`~tcptrace.sources.CaptureSet` (also with a time range).

    >>> cap = load(["sample_pcaps/echo_ipv4.pcap", "sample_pcaps/port_reuse.pcap"])
    >>> [f.stream for f in cap.flows], cap.stats["frames"]
    ([0, 1, 2], 34)
    """
    if isinstance(source, (list, tuple)):
        source = CaptureSet.of(source)
    run = Pipeline(source)
    packets: dict[int, list[Segment]] = {}
    for seg in run:
        packets.setdefault(seg.stream, []).append(seg)
    flows = [Flow(s, packets.get(s.flow.stream, [])) for s in run.summaries]
    name = os.fspath(source) if isinstance(source, (str, os.PathLike)) else str(getattr(source, "name", "<stream>"))
    return Capture(name, flows, run.stats.as_dict())


def iter_flows(
    source: str | os.PathLike[str] | BinaryIO,
    streams: Iterable[int] = (),
    hosts: Iterable[str] = (),
    ports: Iterable[int] = (),
) -> Iterator[Flow]:
    """Each (selected) stream as a :class:`Flow`, handed out once it has finished (both FINs acknowledged or
    reset, and 2 s of capture past that; open streams at the end), its packets then forgotten: memory grows with
    the streams open at once, not with the capture (tcptrace.engine). Streams come in the order they finish.

    >>> [(f.stream, f.summary["closed"]) for f in iter_flows("sample_pcaps/port_reuse.pcap")]
    [(0, 'graceful_close_by_server'), (1, 'graceful_close_by_server')]
    """
    from .engine import FlowStream
    from .selection import Selection

    for ff in FlowStream(source, Selection.of(streams, hosts, ports)):
        yield Flow(ff.summary, ff.segments)


def iter_packets(source: str | os.PathLike[str] | BinaryIO) -> Iterator[Segment]:
    """Every analysed TCP segment of a capture, streamed in capture order (memory grows with flows only)."""
    yield from Pipeline(source)


__all__ = ["Capture", "Flow", "iter_flows", "iter_packets", "load"]
