"""Writers for per-packet output: an aligned table (like Wireshark's packet list), JSON Lines and CSV.

Each writer takes segments whose stream fields are filled in and yields lines; nothing here prints. The JSON
keys are a stable interface (later versions add keys, never change the meaning of these):
``frame time stream src sport dst dport flags seq ack seq_raw ack_raw len win win_raw``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from .model import Segment, format_addr, format_endpoint

PACKET_FIELDS = (
    "frame",
    "time",
    "stream",
    "src",
    "sport",
    "dst",
    "dport",
    "flags",
    "seq",
    "ack",
    "seq_raw",
    "ack_raw",
    "len",
    "win",
    "win_raw",
    "win_scale",
    "hdr_len",
    "options",
    "captured_len",
    "interface",
)


def packet_record(seg: Segment) -> dict[str, Any]:
    """The JSON-ready dict of one segment (the ``jsonl`` format)."""
    opts = seg.options
    options: dict[str, Any] = {}
    if opts.mss is not None:
        options["mss"] = opts.mss
    if opts.wscale is not None:
        options["wscale"] = opts.wscale
    if opts.sack_permitted:
        options["sack_permitted"] = True
    if opts.sack:
        options["sack"] = [list(block) for block in opts.sack]
    if opts.tsval is not None:
        options["tsval"] = opts.tsval
        options["tsecr"] = opts.tsecr
    if opts.other:
        options["other"] = [[kind, body.hex()] for kind, body in opts.other]
    if opts.malformed:
        options["malformed"] = True
    if opts.truncated or seg.header_truncated:
        options["truncated"] = True
    return {
        "frame": seg.frame,
        "time": seg.ts_ns / 1e9,
        "stream": seg.stream,
        "src": format_addr(seg.src),
        "sport": seg.sport,
        "dst": format_addr(seg.dst),
        "dport": seg.dport,
        "flags": list(seg.flag_names),
        "seq": seg.seq,
        "ack": seg.ack,
        "seq_raw": seg.seq_raw,
        "ack_raw": seg.ack_raw,
        "len": seg.len,
        "win": seg.win,
        "win_raw": seg.win_raw,
        "win_scale": seg.win_scale,
        "hdr_len": seg.hdr_len,
        "options": options,
        "captured_len": len(seg.payload),
        "interface": seg.interface,
    }


def jsonl_lines(segments: Iterable[Segment]) -> Iterator[str]:
    for seg in segments:
        yield json.dumps(packet_record(seg), separators=(",", ":"))


def csv_lines(segments: Iterable[Segment]) -> Iterator[str]:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="")
    w.writerow(PACKET_FIELDS)
    yield buf.getvalue()
    for seg in segments:
        buf.seek(0)
        buf.truncate()
        rec = packet_record(seg)
        rec["flags"] = ",".join(rec["flags"])
        rec["options"] = json.dumps(rec["options"], separators=(",", ":")) if rec["options"] else ""
        w.writerow([rec[k] for k in PACKET_FIELDS])
        yield buf.getvalue()


def table_lines(segments: Iterable[Segment], origin_ns: int | Callable[[], int | None] | None = None) -> Iterator[str]:
    """An aligned packet list: frame, time since ``origin_ns``, stream, endpoints, flags, relative seq/ack,
    length and scaled window.

    ``origin_ns`` may be a callable asked at the first segment (the reader knows frame 1's time only once it
    has read it); by default the first segment's own time is the origin.
    """
    yield (
        f"{'frame':>6} {'time':>11} {'stream':>6}  {'source':>22}     {'destination':<22} "
        f"{'flags':<16} {'seq':>10} {'ack':>10} {'len':>6} {'win':>8}"
    )
    origin: int | None = None
    for seg in segments:
        if origin is None:
            origin = origin_ns() if callable(origin_ns) else origin_ns
            if origin is None:
                origin = seg.ts_ns
        rel = (seg.ts_ns - origin) / 1e9
        flags = "[" + ", ".join(seg.flag_names) + "]"
        yield (
            f"{seg.frame:>6} {rel:>11.6f} {seg.stream:>6}  {format_endpoint(seg.src, seg.sport):>22} →   "
            f"{format_endpoint(seg.dst, seg.dport):<22} {flags:<16} {seg.seq:>10} {seg.ack:>10} "
            f"{seg.len:>6} {seg.win:>8}"
        )
