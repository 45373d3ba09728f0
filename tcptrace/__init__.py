"""tcptrace: read Wireshark captures, rebuild every TCP flow exactly as Wireshark numbers it, and explain it.

>>> import tcptrace
>>> segs = list(tcptrace.iter_segments("sample_pcaps/echo_ipv4.pcap"))
>>> [(s.stream, s.flag_names, s.seq, s.ack) for s in segs[:3]]
[(0, ('SYN',), 0, 0), (0, ('SYN', 'ACK'), 0, 1), (0, ('ACK',), 1, 1)]
>>> story = tcptrace.explain("sample_pcaps/echo_ipv4.pcap", lang="en")
>>> story[0].steps[0].kind, story[0].steps[-1].client_state
('syn', 'TIME_WAIT')
"""

from __future__ import annotations

__version__ = "0.1.0"

from .api import Capture, Flow, iter_packets, load
from .capture import CaptureReader, CaptureStats, open_capture
from .errors import CaptureError, NotACapture, TcptraceError, TruncatedCapture, UnsupportedLinkType
from .flow import FlowTracker, HalfFlow, iter_segments, track_capture
from .model import Direction, Role, Segment, SkipReason, TcpFlags, TcpOptions
from .narrate import FlowNarrative, Narrative, Step, explain
from .stats import FlowSummary, Pipeline, summarize

__all__ = [
    "Capture",
    "CaptureError",
    "CaptureReader",
    "CaptureStats",
    "Direction",
    "Flow",
    "FlowNarrative",
    "FlowSummary",
    "FlowTracker",
    "HalfFlow",
    "Narrative",
    "NotACapture",
    "Pipeline",
    "Role",
    "Segment",
    "SkipReason",
    "Step",
    "TcpFlags",
    "TcpOptions",
    "TcptraceError",
    "TruncatedCapture",
    "UnsupportedLinkType",
    "__version__",
    "explain",
    "iter_packets",
    "iter_segments",
    "load",
    "open_capture",
    "summarize",
    "track_capture",
]
