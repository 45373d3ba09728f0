"""Writers for per-packet output: an aligned table (like Wireshark's packet list), JSON Lines and CSV.

Each writer takes segments whose stream fields are filled in and yields lines; nothing here prints. The JSON
keys are a stable interface (later versions add keys, never change the meaning of these):
``frame time stream src sport dst dport flags seq ack seq_raw ack_raw len win win_raw``.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import click

from .analysis import analysis_names, info_names
from .model import Segment, format_addr, format_endpoint
from .vocab import FLAGS, HEADER_ERRORS

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
    "analysis",
    "phase",
    "client_state",
    "server_state",
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
    rec: dict[str, Any] = {
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
    if seg.header_error:  # a header Wireshark dissects only in part: its expert info, as "malformed"
        rec["malformed"] = HEADER_ERRORS[seg.header_error]
    if hasattr(seg, "analysis"):  # analysed (tcptrace.engine.Pipeline): flags, evidence, states, phase
        rec["analysis"] = list(analysis_names(seg.analysis))
        rec["phase"] = seg.phase
        rec["client_state"] = seg.client_state
        rec["server_state"] = seg.server_state
        if seg.evidence:
            rec["evidence"] = seg.evidence
        if seg.acks_frame:
            rec["acks_frame"] = seg.acks_frame
            rec["ack_rtt"] = seg.ack_rtt_ns / 1e9
        if seg.rto_ns >= 0:
            rec["rto"] = seg.rto_ns / 1e9
            rec["rto_frame"] = seg.rto_frame
        if seg.bytes_in_flight >= 0:
            rec["bytes_in_flight"] = seg.bytes_in_flight
        if seg.duplicate_of:
            rec["duplicate_of"] = seg.duplicate_of
    return rec


def jsonl_lines(segments: Iterable[Segment]) -> Iterator[str]:
    import json  # here, not at the top: `tcptrace flows` and the table need neither json nor csv

    for seg in segments:
        yield json.dumps(packet_record(seg), separators=(",", ":"))


def csv_lines(segments: Iterable[Segment]) -> Iterator[str]:
    import csv
    import json

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="")
    w.writerow(PACKET_FIELDS)
    yield buf.getvalue()
    for seg in segments:
        buf.seek(0)
        buf.truncate()
        rec = packet_record(seg)
        rec["flags"] = ",".join(rec["flags"])
        rec["analysis"] = ",".join(rec.get("analysis", []))
        rec["options"] = json.dumps(rec["options"], separators=(",", ":")) if rec["options"] else ""
        w.writerow([rec.get(k, "") for k in PACKET_FIELDS])
        yield buf.getvalue()


def table_lines(
    segments: Iterable[Segment], origin_ns: int | Callable[[], int | None] | None = None, color: bool = False
) -> Iterator[str]:
    """An aligned packet list: frame, time since ``origin_ns``, stream, endpoints, flags, relative seq/ack,
    length and scaled window, then Wireshark's analysis tags (in red with ``color``).

    ``origin_ns`` may be a callable asked at the first segment (the reader knows frame 1's time only once it
    has read it); by default the first segment's own time is the origin.
    """
    yield (
        f"{'frame':>6} {'time':>11} {'stream':>6}  {'source':>22}     {'destination':<22} "
        f"{'flags':<16} {'seq':>10} {'ack':>10} {'len':>6} {'win':>8}  analysis"
    )
    origin: int | None = None
    for seg in segments:
        if origin is None:
            origin = origin_ns() if callable(origin_ns) else origin_ns
            if origin is None:
                origin = seg.ts_ns
        rel = (seg.ts_ns - origin) / 1e9
        flags = "[" + ", ".join(seg.flag_names) + "]"
        info = _info(seg)
        if color and info:
            info = click.style(info, fg="red")
        yield (
            f"{seg.frame:>6} {rel:>11.6f} {seg.stream:>6}  {format_endpoint(seg.src, seg.sport):>22} →   "
            f"{format_endpoint(seg.dst, seg.dport):<22} {flags:<16} {seg.seq:>10} {seg.ack:>10} "
            f"{seg.len:>6} {seg.win:>8}  {info}"
        ).rstrip()


# Wireshark's Info-column text per flag name (tcptrace.vocab.FLAGS): "TCP Dup ACK", "TCP Window Full" ...
_INFO: dict[str, str] = {f.name: f.info for f in FLAGS}


def _info(seg: Segment) -> str:
    """Wireshark's Info-column tags for the analysis flags, e.g. ``[TCP Dup ACK 12#2]``."""
    bits = getattr(seg, "analysis", 0)
    if getattr(seg, "duplicate_of", 0):
        return f"[duplicate of frame {seg.duplicate_of}]"
    if not bits:
        return ""
    names = info_names(analysis_names(bits))
    tags = []
    for n in names:
        if n == "duplicate_ack" and seg.evidence and "duplicate_ack" in seg.evidence:
            e = seg.evidence["duplicate_ack"]
            tags.append(f"[{_INFO[n]} {e['frame']}#{e['number']}]")
        else:
            tags.append(f"[{_INFO[n]}]")
    return " ".join(tags)


FLOW_CSV_FIELDS = (
    "stream",
    "client",
    "server",
    "packets_c2s",
    "packets_s2c",
    "bytes_c2s",
    "bytes_s2c",
    "duration_s",
    "opened",
    "closed",
    "completeness",
    "conn_state",
    "history",
    "retransmissions",
    "dup_acks",
    "lost_segments",
    "zero_windows",
    "resets",
    "verdict",
)


def flow_row(d: dict[str, Any]) -> dict[str, Any]:
    """The flat row of one ``FlowSummary.to_dict()`` (table and CSV)."""
    c2s, s2c = d["c2s"], d["s2c"]

    def both(key: str) -> int:
        return int(c2s["analysis"].get(key, 0)) + int(s2c["analysis"].get(key, 0))

    return {
        "stream": d["stream"],
        "client": d["client"],
        "server": d["server"],
        "packets_c2s": d["packets"]["c2s"],
        "packets_s2c": d["packets"]["s2c"],
        "bytes_c2s": d["bytes"]["c2s"],
        "bytes_s2c": d["bytes"]["s2c"],
        "duration_s": round(d["duration_s"], 6),
        "opened": d["opened"],
        "closed": d["closed"],
        "completeness": d["wireshark"]["completeness"],
        "conn_state": d["zeek"]["conn_state"],
        "history": d["zeek"]["history"],
        "retransmissions": both("retransmission"),
        "dup_acks": both("duplicate_ack"),
        "lost_segments": both("lost_segment"),
        "zero_windows": both("zero_window"),
        "resets": d["resets_total"],
        "verdict": d["verdict"],
    }


def flows_table_lines(flows: Iterable[dict[str, Any]], app: bool = False) -> Iterator[str]:
    """The ``flows`` table; with ``app`` (``flows --app``) an ``app`` column before the verdict (the protocol of
    each document's ``app`` entry, tcptrace.applayer)."""
    app_head = f"{'app':<15} " if app else ""
    yield (
        f"{'stream':>6}  {'client':>22}    {'server':<22} {'pkts >':>7} {'< pkts':>7} {'bytes >':>9} "
        f"{'< bytes':>9} {'duration':>9}  {'compl':>5} {'zeek':<6} {'retr':>5} {'dupack':>6} {'lost':>5}  "
        f"{app_head}verdict"
    )
    for d in flows:
        r = flow_row(d)
        guess = "?" if d["roles_guessed"] else ""
        app_cell = f"{d['app']['protocol']:<15} " if app else ""
        yield (
            f"{r['stream']:>6}  {r['client'] + guess:>22} →  {r['server']:<22} {r['packets_c2s']:>7} "
            f"{r['packets_s2c']:>7} {r['bytes_c2s']:>9} {r['bytes_s2c']:>9} {r['duration_s']:>8.3f}s  "
            f"{r['completeness']:>5} {r['conn_state']:<6} {r['retransmissions']:>5} {r['dup_acks']:>6} "
            f"{r['lost_segments']:>5}  {app_cell}{r['verdict']}"
        )


ZEEK_CSV_FIELDS = (
    *("uid", "stream", "ts", "orig", "resp", "proto", "conn_state", "history", "orig_pkts", "resp_pkts"),
    *("orig_bytes", "resp_bytes", "missed_bytes", "duration_s", "community_id"),
)


def zeek_table_lines(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    """``flows --zeek``: one line per Zeek connection, conn.log's columns (``-`` where Zeek logs none)."""
    yield (
        f"{'uid':>5} {'stream':>6}  {'orig':>22}    {'resp':<22} {'state':<6} {'history':<16} {'pkts >':>7} "
        f"{'< pkts':>7} {'bytes >':>9} {'< bytes':>9} {'missed':>7} {'duration':>9}  community_id"
    )
    for d in rows:
        ob = "-" if d["orig_bytes"] is None else d["orig_bytes"]
        rb = "-" if d["resp_bytes"] is None else d["resp_bytes"]
        dur = "-" if d["duration_s"] is None else f"{d['duration_s']:.3f}s"
        yield (
            f"{d['uid']:>5} {d['stream']:>6}  {d['orig']:>22} →  {d['resp']:<22} {d['conn_state']:<6} "
            f"{d['history']:<16} {d['orig_pkts']:>7} {d['resp_pkts']:>7} {ob:>9} {rb:>9} {d['missed_bytes']:>7} "
            f"{dur:>9}  {d['community_id']}"
        )


def zeek_csv_lines(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    import csv

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="")
    w.writerow(ZEEK_CSV_FIELDS)
    yield buf.getvalue()
    for d in rows:
        buf.seek(0)
        buf.truncate()
        w.writerow(["" if d[k] is None else d[k] for k in ZEEK_CSV_FIELDS])
        yield buf.getvalue()


def flows_csv_lines(flows: Iterable[dict[str, Any]], app: bool = False) -> Iterator[str]:
    """The ``flows`` CSV; with ``app`` (``flows --app``) an ``app`` column last."""
    import csv

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="")
    w.writerow([*FLOW_CSV_FIELDS, "app"] if app else FLOW_CSV_FIELDS)
    yield buf.getvalue()
    for d in flows:
        buf.seek(0)
        buf.truncate()
        row = flow_row(d)
        w.writerow([row[k] for k in FLOW_CSV_FIELDS] + ([d["app"]["protocol"]] if app else []))
        yield buf.getvalue()


def dumps_indented(obj: Any) -> str:
    """``json.dumps(obj, indent=2)``, byte for byte, faster.

    The standard library falls back to its pure-Python encoder whenever ``indent`` is set; ``tcptrace flows
    --format json`` on a 500k-packet capture spent more time there than in the whole analysis. The C engine,
    when built, has this function in C (~8x); otherwise a Python recursion specialised for what flow documents
    hold (~2x). Both hand anything but dicts with str keys, lists, str, int, float, bool and None to the
    standard encoder, so the output never differs (tests/test_export_json.py).
    """
    from json.encoder import encode_basestring_ascii as enc_str

    from .engine import engine_module

    engine = engine_module()
    if engine is not None:
        return engine.dumps_indented(obj, enc_str, _fallback_json)  # type: ignore[no-any-return]
    return _dumps_indented_py(obj)


def dumps_indented_chunks(head: dict[str, Any], key: str, items: Iterable[Any]) -> Iterator[str]:
    """``json.dumps({**head, key: list(items)}, indent=2)`` in pieces, byte for byte, each item encoded when it
    comes: ``flows --format json`` writes a million flows without holding them (tests/test_export_json.py)."""
    first = True
    for item in items:
        if first:
            text = dumps_indented(head)
            yield (text[:-2] + ",\n" if head else "{\n") + f"  {dumps_indented(key)}: ["
            first = False
        else:
            yield ","
        yield "\n" + "\n".join("    " + line for line in dumps_indented(item).split("\n"))
    if first:
        yield dumps_indented({**head, key: []})
    else:
        yield "\n  ]\n}"


def _fallback_json(o: Any, depth: int) -> str:
    import json

    return json.dumps(o, indent=2).replace("\n", "\n" + "  " * depth)


def _dumps_indented_py(obj: Any) -> str:
    from json.encoder import encode_basestring_ascii as enc_str

    parts: list[str] = []
    append = parts.append
    inf = float("inf")

    def enc(o: Any, ind: str) -> None:
        t = type(o)
        if t is str:
            append(enc_str(o))
        elif t is int:
            append(int.__repr__(o))
        elif t is float:
            append("NaN" if o != o else "Infinity" if o == inf else "-Infinity" if o == -inf else float.__repr__(o))
        elif t is dict and all(type(k) is str for k in o):
            if not o:
                append("{}")
                return
            inner = ind + "  "
            sep = ",\n" + inner
            append("{\n" + inner)
            first = True
            for k, v in o.items():
                if first:
                    first = False
                else:
                    append(sep)
                append(enc_str(k))
                append(": ")
                enc(v, inner)
            append("\n" + ind + "}")
        elif t is list or t is tuple:
            if not o:
                append("[]")
                return
            inner = ind + "  "
            sep = ",\n" + inner
            append("[\n" + inner)
            first = True
            for v in o:
                if first:
                    first = False
                else:
                    append(sep)
                enc(v, inner)
            append("\n" + ind + "]")
        elif o is None:
            append("null")
        elif o is True:
            append("true")
        elif o is False:
            append("false")
        else:  # subclasses of int/str/dict, non-str keys ...: the standard encoder, re-indented to this depth
            append(_fallback_json(o, len(ind) // 2))

    enc(obj, "")
    return "".join(parts)
