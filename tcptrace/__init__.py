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

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:  # the real imports, for type checkers and IDEs; at run time they are resolved lazily
    from .api import Capture, Flow, iter_flows, iter_packets, load
    from .capture import CaptureReader, CaptureStats, MergedReader, open_capture
    from .engine import Pipeline, summarize
    from .errors import (
        CaptureError,
        ImageTooLarge,
        NotACapture,
        OutputError,
        TcptraceError,
        TruncatedCapture,
        UnsupportedLinkType,
    )
    from .flow import FlowTracker, HalfFlow, iter_segments, track_capture
    from .follow import Chunk, FollowedStream, Gap, Payload
    from .model import Direction, Role, Segment, SkipReason, TcpFlags, TcpOptions
    from .narrate import FlowNarrative, Narrative, Step, explain
    from .sources import CaptureSet, TimeRange
    from .stats import FlowSummary

# Public name -> the submodule defining it. Importing ``tcptrace`` (and so ``python -m tcptrace``, whose
# commands each need only part of the package) loads none of them; the first access to a name imports its
# module (PEP 562) and caches the name here. The submodules that importing the package used to load as a side
# effect stay reachable as attributes (``import tcptrace; tcptrace.engine.summarize``) the same way.
_LAZY: dict[str, str] = {
    "Capture": "api",
    "Flow": "api",
    "iter_flows": "api",
    "iter_packets": "api",
    "load": "api",
    "CaptureReader": "capture",
    "CaptureStats": "capture",
    "MergedReader": "capture",
    "open_capture": "capture",
    "CaptureSet": "sources",
    "TimeRange": "sources",
    "CaptureError": "errors",
    "ImageTooLarge": "errors",
    "NotACapture": "errors",
    "OutputError": "errors",
    "TcptraceError": "errors",
    "TruncatedCapture": "errors",
    "UnsupportedLinkType": "errors",
    "Chunk": "follow",
    "FollowedStream": "follow",
    "Gap": "follow",
    "Payload": "follow",
    "FlowTracker": "flow",
    "HalfFlow": "flow",
    "iter_segments": "flow",
    "track_capture": "flow",
    "Direction": "model",
    "Role": "model",
    "Segment": "model",
    "SkipReason": "model",
    "TcpFlags": "model",
    "TcpOptions": "model",
    "FlowNarrative": "narrate",
    "Narrative": "narrate",
    "Step": "narrate",
    "explain": "narrate",
    "FlowSummary": "stats",
    "Pipeline": "stats",
    "summarize": "stats",
}
_SUBMODULES = frozenset(
    {
        "analysis",
        "api",
        "capture",
        "errors",
        "export",
        "flow",
        "follow",
        "messages",
        "model",
        "narrate",
        "seqnum",
        "sources",
        "state",
        "stats",
    }
)


if not TYPE_CHECKING:  # hidden from type checkers, so that a misspelt name stays an error for them

    def __getattr__(name: str) -> Any:
        from importlib import import_module

        module = _LAZY.get(name)
        if module is not None:
            value = getattr(import_module(f".{module}", __name__), name)
            globals()[name] = value
            return value
        if name in _SUBMODULES:
            return import_module(f".{name}", __name__)  # the import system binds it here as well
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__) | _SUBMODULES)


__all__ = [
    "Capture",
    "CaptureError",
    "CaptureReader",
    "CaptureSet",
    "CaptureStats",
    "Chunk",
    "Direction",
    "Flow",
    "FlowNarrative",
    "FlowSummary",
    "FlowTracker",
    "FollowedStream",
    "Gap",
    "HalfFlow",
    "ImageTooLarge",
    "MergedReader",
    "Narrative",
    "NotACapture",
    "OutputError",
    "Payload",
    "Pipeline",
    "Role",
    "Segment",
    "SkipReason",
    "Step",
    "TcpFlags",
    "TcpOptions",
    "TcptraceError",
    "TimeRange",
    "TruncatedCapture",
    "UnsupportedLinkType",
    "__version__",
    "explain",
    "iter_flows",
    "iter_packets",
    "iter_segments",
    "load",
    "open_capture",
    "summarize",
    "track_capture",
]
