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
from .output import path_text
from .stats import FlowRow
from .vocab import FLAGS, HEADER_ERRORS

PACKET_FIELDS = (
    "frame",
    "time",
    "stream",
    "community_id",
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


def segment_community_id(seg: Segment) -> str:
    """The Community ID v1 of a segment's flow (tcptrace.zeek.community_id), kept per 4-tuple: the engine's packets
    pass writes the one its keep predicate computed per stream (engine.PacketStream), the same value."""
    key = (seg.src, seg.dst, seg.sport, seg.dport)
    cid = _CIDS.get(key)
    if cid is None:
        from .zeek import community_id

        if len(_CIDS) > 65536:
            _CIDS.clear()
        cid = _CIDS[key] = community_id(seg.src, seg.dst, seg.sport, seg.dport)
    return cid


_CIDS: dict[tuple[bytes, bytes, int, int], str] = {}


# A frame's file and its number there, for a capture merged from several files (capture.MergedReader.locate)
Locate = Callable[[int], tuple[str, int]]


def options_other(seg: Segment) -> dict[str, Any]:
    """What a segment's options say besides the known ones: ``other`` ([kind, hex] each), ``malformed``,
    ``truncated`` (the options, or the snap length cut the header); empty when nothing (jsonl, Parquet)."""
    opts = seg.options
    out: dict[str, Any] = {}
    if opts.other:
        out["other"] = [[kind, body.hex()] for kind, body in opts.other]
    if opts.malformed:
        out["malformed"] = True
    if opts.truncated or seg.header_truncated:
        out["truncated"] = True
    return out


def packet_record(seg: Segment, locate: Locate | None = None) -> dict[str, Any]:
    """The JSON-ready dict of one segment (the ``jsonl`` format). With ``locate`` (several files read as one),
    ``file`` and ``file_frame`` follow ``frame``: the file the frame came from, as named, and its number there."""
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
    options.update(options_other(seg))
    rec: dict[str, Any] = {"frame": seg.frame}
    if locate is not None:
        rec["file"], rec["file_frame"] = locate(seg.frame)
        rec["file"] = path_text(rec["file"])
    rec |= {
        "time": seg.ts_ns / 1e9,
        "stream": seg.stream,
        "community_id": segment_community_id(seg),
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


def jsonl_lines(segments: Iterable[Any], locate: Locate | None = None) -> Iterator[str]:
    """One JSON object per segment. Items that are not Segments are the C engine's ``LineChunk``s (see
    tcptrace.engine.PacketStream): packets it rendered in this format already; their text passes through.
    ``locate``: see :func:`packet_record` (the engine renders no lines then)."""
    import json  # here, not at the top: `tcptrace flows` and the table need neither json nor csv

    dumps = json.dumps
    for seg in segments:
        if type(seg) is Segment:
            yield dumps(packet_record(seg, locate), separators=(",", ":"))
        else:
            yield seg.text


def csv_lines(segments: Iterable[Any], locate: Locate | None = None) -> Iterator[str]:
    """A header and one row per segment; the C engine's ``LineChunk`` items pass through (see jsonl_lines). With
    ``locate``, ``file`` and ``file_frame`` columns after ``frame``."""
    import csv
    import json

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="")
    fields = PACKET_FIELDS if locate is None else (PACKET_FIELDS[0], "file", "file_frame", *PACKET_FIELDS[1:])
    w.writerow(fields)
    yield buf.getvalue()
    for seg in segments:
        if type(seg) is not Segment:
            yield seg.text
            continue
        buf.seek(0)
        buf.truncate()
        rec = packet_record(seg, locate)
        rec["flags"] = ",".join(rec["flags"])
        rec["analysis"] = ",".join(rec.get("analysis", []))
        rec["options"] = json.dumps(rec["options"], separators=(",", ":")) if rec["options"] else ""
        w.writerow([rec.get(k, "") for k in fields])
        yield buf.getvalue()


def table_lines(
    segments: Iterable[Any], origin_ns: int | Callable[[], int | None] | None = None, color: bool = False
) -> Iterator[str]:
    """An aligned packet list: frame, time since ``origin_ns``, stream, endpoints, flags, relative seq/ack,
    length and scaled window, then Wireshark's analysis tags (in red with ``color``; the engine renders only lines
    without tags itself).

    ``origin_ns`` may be a callable asked at the first segment (the reader knows frame 1's time only once it
    has read it); by default the first segment's own time is the origin.
    """
    yield (
        f"{'frame':>6} {'time':>11} {'stream':>6}  {'source':>22}     {'destination':<22} "
        f"{'flags':<16} {'seq':>10} {'ack':>10} {'len':>6} {'win':>8}  analysis"
    )
    origin: int | None = None
    for seg in segments:
        if type(seg) is not Segment:  # the C engine's rows (a LineChunk), with the same origin (engine.PacketStream)
            yield seg.text
            continue
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
_CSV_COLUMNS = len(FLOW_CSV_FIELDS)  # FlowRow's first fields are these, in this order (tests/test_flow_rows.py)


def flows_table_head(app: bool = False) -> str:
    """The ``flows`` table's header line (with ``app``: its ``app`` column)."""
    app_head = f"{'app':<15} " if app else ""
    return (
        f"{'stream':>6}  {'client':>22}    {'server':<22} {'pkts >':>7} {'< pkts':>7} {'bytes >':>9} "
        f"{'< bytes':>9} {'duration':>9}  {'compl':>5} {'zeek':<6} {'retr':>5} {'dupack':>6} {'lost':>5}  "
        f"{app_head}verdict"
    )


def flows_table_lines(rows: Iterable[FlowRow], app: Callable[[int], str] | None = None) -> Iterator[str]:
    """The ``flows`` table: a header, then one line per :class:`~tcptrace.stats.FlowRow`; with ``app`` (``flows
    --app``: a stream's application protocol, tcptrace.applayer) an ``app`` column before the verdict."""
    yield flows_table_head(app is not None)
    # A capture of a million connections has a few thousand distinct rows once the stream, the endpoints and the
    # duration are left out (a scan: one): their text is kept, so most lines format five fields instead of fifteen.
    parts: dict[tuple[Any, ...], tuple[str, str]] = {}
    for row in rows:
        (stream, client, server, packets_c2s, packets_s2c, bytes_c2s, bytes_s2c, duration_s, _opened, _closed,
         completeness, conn_state, _history, retransmissions, dup_acks, lost_segments, _zero_windows, _resets,
         verdict, roles_guessed, _start_ns) = row  # fmt: skip
        key = row[3:7] + row[10:19]
        part = parts.get(key)
        if part is None:
            part = (
                f"{packets_c2s:>7} {packets_s2c:>7} {bytes_c2s:>9} {bytes_s2c:>9}",
                f"{completeness:>5} {conn_state:<6} {retransmissions:>5} {dup_acks:>6} {lost_segments:>5}  ",
            )
            if len(parts) < 4096:
                parts[key] = part
        guess = "?" if roles_guessed else ""
        app_cell = f"{app(stream):<15} " if app else ""
        yield (
            f"{stream:>6}  {client + guess:>22} →  {server:<22} {part[0]} {duration_s:>8.3f}s  {part[1]}{app_cell}"
            f"{verdict}"
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


def flows_csv_lines(rows: Iterable[FlowRow], app: Callable[[int], str] | None = None) -> Iterator[str]:
    """The ``flows`` CSV: FLOW_CSV_FIELDS and ``community_id``, then one line per
    :class:`~tcptrace.stats.FlowRow`; with ``app`` (``flows --app``) an ``app`` column last."""
    import csv

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="")
    yield flows_csv_head(app is not None)
    for row in rows:
        buf.seek(0)
        buf.truncate()
        cid = endpoints_community_id(row[1], row[2])
        w.writerow([*row[:_CSV_COLUMNS], cid, app(row[0])] if app else [*row[:_CSV_COLUMNS], cid])
        yield buf.getvalue()


def _endpoint_bytes(text: str) -> tuple[bytes, int]:
    """``10.0.0.1:80`` or ``[fd00::1]:80`` (model.format_endpoint) as packed address and port."""
    import socket

    host, _, port = text.rpartition(":")
    if host.startswith("["):
        return socket.inet_pton(socket.AF_INET6, host[1:-1]), int(port)
    return socket.inet_pton(socket.AF_INET, host), int(port)


def endpoints_community_id(client: str, server: str) -> str:
    """The Community ID v1 of a flow-table row's endpoints (tcptrace.zeek.community_id)."""
    from .zeek import community_id

    (caddr, cport), (saddr, sport) = _endpoint_bytes(client), _endpoint_bytes(server)
    return community_id(caddr, saddr, cport, sport)


def flows_csv_head(app: bool = False) -> str:
    """The ``flows`` CSV's header line: FLOW_CSV_FIELDS, ``community_id`` (with ``app``: its ``app`` column last)."""
    return _csv_line([*FLOW_CSV_FIELDS, "community_id", "app"] if app else [*FLOW_CSV_FIELDS, "community_id"])


def _csv_line(fields: list[str]) -> str:
    """One row as flows_csv_lines' writer writes it."""
    import csv

    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow(fields)
    return buf.getvalue()


def engine_row_texts(eng: Any, fmt: str, stream: int) -> tuple[bytes | int, ...]:
    """The words of stream ``stream``'s row in the flows ``fmt`` ("table" or "csv"), for the C engine's renderer
    (``Engine.row_lines``), which asks once per kind of row and writes the numbers itself: the words for "byte"
    and "bytes", the text cells (table: conn_state padded; csv: "opened,closed" and "conn_state,history"), then
    the verdict cut where the byte counts go (bytes, and 0 / 1 for the client's / the server's application
    bytes). The words come from :func:`tcptrace.stats.flow_row` of the engine's RowRecord, as the Python
    renderer's do, so the two write the same lines (tests/test_flow_rows.py)."""
    import re

    from .messages import LANGUAGES
    from .stats import VERDICT_C2S, VERDICT_S2C, close_shape, flow_row, verdict_template

    rec = eng.row(stream)
    row = flow_row(rec)
    t = LANGUAGES["en"]  # flow_row's language
    template = verdict_template(row.opened, row.closed, close_shape(rec.fin_frames, rec.fin_acked), rec.first_reset,
                                "en")  # fmt: skip
    if fmt == "table":
        cells = (f"{row.conn_state:<6}", "")
    else:
        # the byte counts have no character the csv module quotes: the verdict's quoting is its template's
        cells = (_csv_line([row.opened, row.closed]), _csv_line([row.conn_state, row.history]))
        template = _csv_line([template])
    parts: list[bytes | int] = []
    for piece in re.split(f"({VERDICT_C2S}|{VERDICT_S2C})", template):
        if piece in (VERDICT_C2S, VERDICT_S2C):
            parts.append(0 if piece == VERDICT_C2S else 1)
        elif piece:
            parts.append(piece.encode())
    return (t["byte"].encode(), t["bytes"].encode(), cells[0].encode(), cells[1].encode(), *parts)


def flow_row_dict(row: FlowRow) -> dict[str, Any]:
    """A row's CSV columns as a dict (a DataFrame row)."""
    return dict(zip(FLOW_CSV_FIELDS, row, strict=False))


def dumps_indented(obj: Any, depth: int = 0) -> str:
    """``json.dumps(obj, indent=2)``, byte for byte, faster; with ``depth``, as it reads nested ``depth`` levels
    deep in a bigger document (every line after the first indented ``2 * depth`` spaces more).

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
        return engine.dumps_indented(obj, enc_str, _fallback_json, depth)  # type: ignore[no-any-return]
    return _dumps_indented_py(obj, depth)


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
        yield "\n    " + dumps_indented(item, 2)  # (a flow's ~300 lines indented as they are written)
    if first:
        yield dumps_indented({**head, key: []})
    else:
        yield "\n  ]\n}"


def _fallback_json(o: Any, depth: int) -> str:
    import json

    return json.dumps(o, indent=2).replace("\n", "\n" + "  " * depth)


def _dumps_indented_py(obj: Any, depth: int = 0) -> str:
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

    enc(obj, "  " * depth)
    return "".join(parts)


# `flows --long`: classic tcptrace -l's per-direction layout (output.c PrintTrace, StatLineOne): label, value,
# unit, a -> b on the left and b -> a on the right, from the flow document's "tcptrace" block.
_LONG_ROWS: tuple[tuple[str, str, str, str], ...] = (
    # (label, key, unit, how: i integer, f1 one decimal, f3 three decimals, f0 no decimals, yn, na)
    ("total packets", "total_packets", "", "i"),
    ("resets sent", "resets_sent", "", "i"),
    ("ack pkts sent", "ack_pkts_sent", "", "i"),
    ("pure acks sent", "pure_acks_sent", "", "i"),
    ("sack pkts sent", "sack_pkts_sent", "", "i"),
    ("dsack pkts sent", "dsack_pkts_sent", "", "i"),
    ("max sack blks/ack", "max_sack_blks_per_ack", "", "i"),
    ("unique bytes sent", "unique_bytes_sent", "", "i"),
    ("actual data pkts", "actual_data_pkts", "", "i"),
    ("actual data bytes", "actual_data_bytes", "", "i"),
    ("rexmt data pkts", "rexmt_data_pkts", "", "i"),
    ("rexmt data bytes", "rexmt_data_bytes", "", "i"),
    ("zwnd probe pkts", "zwnd_probe_pkts", "", "i"),
    ("zwnd probe bytes", "zwnd_probe_bytes", "", "i"),
    ("outoforder pkts", "outoforder_pkts", "", "i"),
    ("pushed data pkts", "pushed_data_pkts", "", "i"),
    ("SYN/FIN pkts sent", "syn_fin", "", "s"),
    ("req 1323 ws/ts", "ws_ts", "", "s"),
    ("adv wind scale", "adv_wind_scale", "", "i"),
    ("req sack", "req_sack", "", "yn"),
    ("sacks sent", "sacks_sent", "", "i"),
    ("urgent data pkts", "urgent_data_pkts", "pkts", "i"),
    ("urgent data bytes", "urgent_data_bytes", "bytes", "i"),
    ("mss requested", "mss_requested", "bytes", "i"),
    ("max segm size", "max_segm_size", "bytes", "i"),
    ("min segm size", "min_segm_size", "bytes", "i"),
    ("avg segm size", "avg_segm_size", "bytes", "f0"),
    ("max win adv", "max_win_adv", "bytes", "i"),
    ("min win adv", "min_win_adv", "bytes", "i"),
    ("zero win adv", "zero_win_adv", "times", "i"),
    ("avg win adv", "avg_win_adv", "bytes", "f0"),
    ("initial window", "initial_window_bytes", "bytes", "i"),
    ("initial window", "initial_window_pkts", "pkts", "i"),
    ("ttl stream length", "ttl_stream_length", "bytes", "na"),
    ("missed data", "missed_data", "bytes", "na"),
    ("truncated data", "truncated_data", "bytes", "i"),
    ("truncated packets", "truncated_packets", "pkts", "i"),
    ("data xmit time", "data_xmit_time_s", "secs", "f3"),
    ("idletime max", "idletime_max_ms", "ms", "f1"),
    ("throughput", "throughput_Bps", "Bps", "f0"),
    ("", "", "", ""),
    ("RTT samples", "rtt_samples", "", "i"),
    ("RTT min", "rtt_min_ms", "ms", "f1"),
    ("RTT max", "rtt_max_ms", "ms", "f1"),
    ("RTT avg", "rtt_avg_ms", "ms", "f1"),
    ("RTT stdev", "rtt_stdev_ms", "ms", "f1"),
    ("", "", "", ""),
    ("RTT from 3WHS", "rtt_from_3whs_ms", "ms", "f1"),
    ("", "", "", ""),
    ("RTT full_sz smpls", "rtt_full_sz_smpls", "", "i"),
    ("RTT full_sz min", "rtt_full_sz_min_ms", "ms", "f1"),
    ("RTT full_sz max", "rtt_full_sz_max_ms", "ms", "f1"),
    ("RTT full_sz avg", "rtt_full_sz_avg_ms", "ms", "f1"),
    ("RTT full_sz stdev", "rtt_full_sz_stdev_ms", "ms", "f1"),
    ("", "", "", ""),
    ("post-loss acks", "post_loss_acks", "", "i"),
    ("ambiguous acks", "ambiguous_acks", "", "i"),
    ("RTT min (last)", "rtt_min_last_ms", "ms", "f1"),
    ("RTT max (last)", "rtt_max_last_ms", "ms", "f1"),
    ("RTT avg (last)", "rtt_avg_last_ms", "ms", "f1"),
    ("RTT sdv (last)", "rtt_sdv_last_ms", "ms", "f1"),
    ("segs cum acked", "segs_cum_acked", "", "i"),
    ("duplicate acks", "duplicate_acks", "", "i"),
    ("triple dupacks", "triple_dupacks", "", "i"),
    ("max # retrans", "max_retrans", "", "i"),
    ("min retr time", "min_retr_time_ms", "ms", "f1"),
    ("max retr time", "max_retr_time_ms", "ms", "f1"),
    ("avg retr time", "avg_retr_time_ms", "ms", "f1"),
    ("sdv retr time", "sdv_retr_time_ms", "ms", "f1"),
)


def _long_value(d: dict[str, Any], key: str, how: str) -> str:
    if key == "syn_fin":
        return f"{d['syn_pkts_sent']}/{d['fin_pkts_sent']}"
    if key == "ws_ts":
        return f"{'Y' if d['req_1323_ws'] else 'N'}/{'Y' if d['req_1323_ts'] else 'N'}"
    if key == "idletime_max_ms":
        v = d["idletime_max_s"]
        return "NA" if v is None else f"{v * 1000:8.1f}"
    v = d[key]
    if how == "yn":
        return "Y" if v else "N"
    if v is None:
        return "NA"
    if how in ("i", "na"):
        return f"{v:8d}"
    digits = int(how[1])
    return f"{v:8.{digits}f}" if digits else f"{v:8.0f}"


def flows_long_lines(flows: Iterable[dict[str, Any]]) -> Iterator[str]:
    """Each stream's classic tcptrace ``-l`` statistics, laid out as ``tcptrace -l`` prints them (exact values
    where classic rounds: average segment size and window are not rounded down; docs/vocabulary-tcptrace.md)."""
    for n, doc in enumerate(flows, 1):
        t = doc["tcptrace"]
        a2b, b2a = t["a2b"], t["b2a"]
        syns = (a2b["syn_pkts_sent"] > 0) + (b2a["syn_pkts_sent"] > 0)
        fins = (a2b["fin_pkts_sent"] > 0) + (b2a["fin_pkts_sent"] > 0)
        state = "RESET" if t["reset"] else "yes" if t["complete"] else "no"
        extra = "" if t["complete"] and not t["reset"] else f"\t(SYNs: {syns})  (FINs: {fins})"
        if n > 1:
            yield "=" * 64
        yield f"TCP connection {n}: (stream {doc['stream']})"
        yield f"\thost a:        {t['host_a']}"
        yield f"\thost b:        {t['host_b']}"
        yield f"\tcomplete conn: {state}{extra}"
        yield f"\telapsed time:  {doc['duration_s']:.6f} s"
        yield f"\ttotal packets: {a2b['total_packets'] + b2a['total_packets']}"
        yield "   a->b:\t\t\t      b->a:"
        for label, key, unit, how in _LONG_ROWS:
            if not label:
                yield ""
                continue
            left, right = (_long_value(d, key, how) for d in (a2b, b2a))
            cells = [f"     {label + ':':<18} {v:>9} {'' if v.strip() == 'NA' else unit:<5}" for v in (left, right)]
            yield (cells[0] + cells[1]).rstrip()
