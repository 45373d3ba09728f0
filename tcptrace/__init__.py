"""tcptrace: read Wireshark captures, rebuild every TCP flow exactly as Wireshark numbers it, and explain it.

>>> import tcptrace
>>> segs = list(tcptrace.iter_segments("sample_pcaps/echo_ipv4.pcap"))
>>> [(s.stream, s.flag_names, s.seq, s.ack) for s in segs[:3]]
[(0, ('SYN',), 0, 0), (0, ('SYN', 'ACK'), 0, 1), (0, ('ACK',), 1, 1)]
"""

from __future__ import annotations

__version__ = "0.1.0"

from .capture import Capture, CaptureStats, open_capture
from .errors import CaptureError, NotACapture, TcptraceError, TruncatedCapture, UnsupportedLinkType
from .flow import Flow, FlowTracker, HalfFlow, iter_segments, track_capture
from .model import Direction, Role, Segment, SkipReason, TcpFlags, TcpOptions

__all__ = [
    "Capture",
    "CaptureError",
    "CaptureStats",
    "Direction",
    "Flow",
    "FlowTracker",
    "HalfFlow",
    "NotACapture",
    "Role",
    "Segment",
    "SkipReason",
    "TcpFlags",
    "TcpOptions",
    "TcptraceError",
    "TruncatedCapture",
    "UnsupportedLinkType",
    "__version__",
    "iter_segments",
    "open_capture",
    "track_capture",
]
