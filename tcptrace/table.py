"""Typed tables of packets and flows: one list of columns, three forms (Arrow, Parquet, pandas).

Theory of operation. :data:`PACKET_COLUMNS` and :data:`FLOW_COLUMNS` name every column and its kind once; the
kind says what it is in each form (:data:`KINDS`): capture times are ``timestamp[ns, tz=UTC]`` in Arrow and
Parquet and ``datetime64[ns, UTC]`` in pandas (never float seconds, which keep microseconds only), counts and
numbers are nullable 64-bit integers (``int64`` with nulls, pandas ``Int64``), analysis flags are both a list of
tshark's names (``analysis``, as ``packets --format jsonl`` has it) and one bool column per flag
(``analysis_retransmission`` ...), for SQL engines that filter better on a column than in a list. Options and
evidence, nested and rare, are JSON text. The values are the text formats' (export.packet_record, stats.flow_row;
tests/test_table.py compares them), so a Parquet file says what ``jsonl``/``csv`` say; TCP options have columns
of their own (``mss``, ``wscale``, ``tsval`` ...) where ``jsonl`` has an ``options`` object.

pyarrow is imported here only (the ``tcptrace[parquet]`` extra), pandas here and in the API (``[notebook]``).
The Parquet files are written in row groups of :data:`ROW_GROUP` rows: memory stays flat on big captures, and
pandas, Dask, DuckDB, Spark and Polars read them as they are.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any, BinaryIO, NamedTuple

from .analysis import FLAG_NAMES, analysis_names
from .errors import TcptraceError
from .export import Locate, endpoints_community_id, options_other, segment_community_id
from .model import format_addr
from .stats import FlowRow
from .vocab import HEADER_ERRORS

ROW_GROUP = 65_536  # rows per Parquet row group (and per Arrow batch while writing)


class Column(NamedTuple):
    name: str
    kind: str  # a key of KINDS
    doc: str


# kind -> (Arrow type name, pandas dtype); the Arrow types are made by _arrow_type (pyarrow imported late)
KINDS: dict[str, tuple[str, str]] = {
    "time": ("timestamp[ns, tz=UTC]", "datetime64[ns, UTC]"),
    "int": ("int64", "Int64"),
    "float": ("double", "float64"),
    "str": ("string", "string"),
    "bool": ("bool", "boolean"),
    "strings": ("list<string>", "object"),
    "json": ("string", "object"),  # nested and rare: JSON text in Arrow and Parquet, the dict or list in pandas
}

_FLAG_COLUMNS = tuple(f"analysis_{name}" for _bit, name in FLAG_NAMES)

PACKET_COLUMNS: tuple[Column, ...] = (
    Column("frame", "int", "frame number (frame.number; several files: over their merge)"),
    Column("file", "str", "the file the frame came from (several files read as one; null: one file)"),
    Column("file_frame", "int", "the frame's number within that file (null: one file)"),
    Column("time", "time", "capture time (frame.time), UTC, to the nanosecond"),
    Column("stream", "int", "tcp.stream"),
    Column("community_id", "str", "the flow's Community ID v1 (as Zeek, Suricata and Arkime write it)"),
    Column("src", "str", "source address"),
    Column("sport", "int", "source port"),
    Column("dst", "str", "destination address"),
    Column("dport", "int", "destination port"),
    Column("flags", "strings", "TCP flags set (SYN, ACK, ...)"),
    Column("seq", "int", "relative sequence number (tcp.seq)"),
    Column("ack", "int", "relative acknowledgement number (tcp.ack)"),
    Column("seq_raw", "int", "sequence number on the wire"),
    Column("ack_raw", "int", "acknowledgement number on the wire"),
    Column("len", "int", "TCP payload length (tcp.len)"),
    Column("win", "int", "scaled window (tcp.window_size)"),
    Column("win_raw", "int", "window field on the wire"),
    Column("win_scale", "int", "window scale in effect (-1 unknown, -2 not used)"),
    Column("hdr_len", "int", "TCP header length"),
    Column("mss", "int", "MSS option"),
    Column("wscale", "int", "window scale option (the shift)"),
    Column("sack_permitted", "bool", "SACK-permitted option"),
    Column("sack", "json", "SACK blocks [[left, right], ...] (raw numbers; null: none)"),
    Column("tsval", "int", "timestamp option's value"),
    Column("tsecr", "int", "timestamp option's echo reply"),
    Column("options_other", "json", 'other options {"other": [[kind, hex]], "malformed": true, "truncated": true}'),
    Column("captured_len", "int", "payload bytes captured (the snap length may cut them)"),
    Column("interface", "int", "capture interface"),
    Column("malformed", "str", "a header Wireshark dissects only in part: its expert info (null: none)"),
    Column("analysis", "strings", "tcp.analysis flags, tshark's names"),
    *(Column(c, "bool", f"tcp.analysis.{c.removeprefix('analysis_')}") for c in _FLAG_COLUMNS),
    Column("phase", "str", "handshake, data, teardown or after"),
    Column("client_state", "str", "client's RFC 9293 state after this segment"),
    Column("server_state", "str", "server's RFC 9293 state after this segment"),
    Column("evidence", "json", "why each analysis flag was set: {flag: {frame ..., why}} (null: none)"),
    Column("acks_frame", "int", "frame this ACK acknowledges (tcp.analysis.acks_frame)"),
    Column("ack_rtt", "float", "seconds since that frame (tcp.analysis.ack_rtt)"),
    Column("rto", "float", "seconds since the segment retransmitted (tcp.analysis.rto)"),
    Column("rto_frame", "int", "the frame retransmitted (tcp.analysis.rto_frame)"),
    Column("bytes_in_flight", "int", "tcp.analysis.bytes_in_flight"),
    Column("duplicate_of", "int", "the frame a hardware duplicate copies"),
)

FLOW_COLUMNS: tuple[Column, ...] = (
    Column("stream", "int", "tcp.stream"),
    Column("start_time", "time", "the first packet's capture time, UTC"),
    Column("client", "str", "client address:port"),
    Column("server", "str", "server address:port"),
    Column("community_id", "str", "the flow's Community ID v1 (as Zeek, Suricata and Arkime write it)"),
    Column("packets_c2s", "int", "packets client to server"),
    Column("packets_s2c", "int", "packets server to client"),
    Column("bytes_c2s", "int", "payload bytes client to server"),
    Column("bytes_s2c", "int", "payload bytes server to client"),
    Column("duration_s", "float", "seconds from the first packet to the last"),
    Column("opened", "str", "how it opened (handshake, midstream, refused ...)"),
    Column("closed", "str", "how it ended (graceful_close_by_client, reset_by_server, open ...)"),
    Column("completeness", "int", "Wireshark's tcp.completeness bits"),
    Column("conn_state", "str", "Zeek's conn_state"),
    Column("history", "str", "Zeek's history"),
    Column("retransmissions", "int", "segments flagged retransmission"),
    Column("dup_acks", "int", "duplicate ACKs"),
    Column("lost_segments", "int", "previous segment not captured"),
    Column("zero_windows", "int", "zero windows"),
    Column("resets", "int", "RST segments"),
    Column("verdict", "str", "the verdict in words"),
    Column("roles_guessed", "bool", "client and server guessed (no SYN seen)"),
)

COLUMNS = {"packets": PACKET_COLUMNS, "flows": FLOW_COLUMNS}
_JSON_COLUMNS = frozenset(c.name for cols in COLUMNS.values() for c in cols if c.kind == "json")


_ANALYSIS: dict[int, tuple[tuple[str, ...], int]] = {}  # analysis bits -> tshark's names, the bits they show


def _analysis(bits: int) -> tuple[tuple[str, ...], int]:
    v = _ANALYSIS.get(bits)
    if v is None:
        names = analysis_names(bits)
        v = _ANALYSIS[bits] = (names, sum(bit for bit, name in FLAG_NAMES if name in names))
    return v


_NOT_ANALYSED: tuple[tuple[str, ...], int | None] = ((), None)
# The bool columns are made from the bits a row ends with (one int a packet, split into columns by pyarrow or
# pandas at once, not fifteen Python bools a packet): each column's bit, in PACKET_COLUMNS order.
_FLAG_BITS = {f"analysis_{name}": bit for bit, name in FLAG_NAMES}


def packet_values(seg: Any, locate: Locate | None = None) -> tuple[Any, ...]:
    """One segment as a row of :data:`PACKET_COLUMNS`: the ``jsonl`` record's values (export.packet_record), typed,
    its options in columns of their own. ``locate``: a frame's file and number there (several files as one)."""
    o = seg.options
    other = options_other(seg)
    bits = getattr(seg, "analysis", None)
    names, shown = _NOT_ANALYSED if bits is None else _analysis(bits)
    evidence = getattr(seg, "evidence", None)
    acks = getattr(seg, "acks_frame", 0)
    rto_ns = getattr(seg, "rto_ns", -1)
    bif = getattr(seg, "bytes_in_flight", -1)
    file, file_frame = (None, None) if locate is None else locate(seg.frame)
    return (
        seg.frame, file, file_frame, seg.ts_ns, seg.stream, segment_community_id(seg),
        format_addr(seg.src), seg.sport, format_addr(seg.dst), seg.dport,
        seg.flag_names, seg.seq, seg.ack, seg.seq_raw, seg.ack_raw, seg.len, seg.win, seg.win_raw, seg.win_scale,
        seg.hdr_len, o.mss, o.wscale, o.sack_permitted, [list(b) for b in o.sack] if o.sack else None,
        o.tsval, o.tsecr if o.tsval is not None else None,
        other or None, len(seg.payload), seg.interface,
        HEADER_ERRORS[seg.header_error] if seg.header_error else None, names,
        getattr(seg, "phase", None), getattr(seg, "client_state", None), getattr(seg, "server_state", None),
        evidence or None,
        acks or None, seg.ack_rtt_ns / 1e9 if acks else None, rto_ns / 1e9 if rto_ns >= 0 else None,
        seg.rto_frame if rto_ns >= 0 else None, bif if bif >= 0 else None, getattr(seg, "duplicate_of", 0) or None,
        shown,
    )  # fmt: skip


def flow_values(row: FlowRow) -> tuple[Any, ...]:
    """One flow row (stats.flow_row, what the table and CSV show) as a row of :data:`FLOW_COLUMNS`."""
    return (row.stream, row.start_ns, row[1], row[2], endpoints_community_id(row[1], row[2]), *row[3:20])


def _pyarrow() -> tuple[Any, Any]:
    import importlib

    try:  # typed as Any: pyarrow ships no type information
        pa: Any = importlib.import_module("pyarrow")
        pq: Any = importlib.import_module("pyarrow.parquet")
    except ImportError as exc:
        raise TcptraceError("Parquet and Arrow need pyarrow: pip install 'tcptrace[parquet]'") from exc
    return pa, pq


def _arrow_type(pa: Any, kind: str) -> Any:
    return {
        "time": pa.timestamp("ns", tz="UTC"),
        "int": pa.int64(),
        "float": pa.float64(),
        "str": pa.string(),
        "bool": pa.bool_(),
        "strings": pa.list_(pa.string()),
        "json": pa.string(),
    }[kind]


def arrow_schema(what: str) -> Any:
    """The Arrow schema of ``"packets"`` or ``"flows"`` (each field's description in its metadata)."""
    pa, _ = _pyarrow()
    return pa.schema(
        [pa.field(c.name, _arrow_type(pa, c.kind), metadata={"description": c.doc}) for c in COLUMNS[what]],
        metadata={"producer": "tcptrace", "table": what},
    )


def _batches(rows: Iterable[tuple[Any, ...]], size: int) -> Iterator[list[tuple[Any, ...]]]:
    batch: list[tuple[Any, ...]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _columns(what: str, rows: list[tuple[Any, ...]]) -> tuple[list[Any], Any]:
    """``rows`` as value columns (the bool flag columns left out) and, for packets, the column of analysis bits."""
    stored = [c for c in COLUMNS[what] if c.name not in _FLAG_BITS]
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in range(len(stored) + (what == "packets"))]
    if what == "packets":
        return columns[:-1], columns[-1]
    return columns, None


def _record_batch(pa: Any, schema: Any, what: str, rows: list[tuple[Any, ...]]) -> Any:
    import importlib

    pc: Any = importlib.import_module("pyarrow.compute")
    columns, bits = _columns(what, rows)
    values = iter(columns)
    bits_array = None if bits is None else pa.array(bits, type=pa.int64())
    arrays = []
    for field in schema:
        bit = _FLAG_BITS.get(field.name)
        if bit is None:
            col = next(values)
            if field.name in _JSON_COLUMNS:
                dumps = json.dumps
                col = [None if v is None else dumps(v, separators=(",", ":"), ensure_ascii=False) for v in col]
            arrays.append(pa.array(col, type=field.type))
        else:
            arrays.append(pc.not_equal(pc.bit_wise_and(bits_array, pa.scalar(bit, pa.int64())), 0))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def arrow_table(what: str, rows: Iterable[tuple[Any, ...]]) -> Any:
    """A ``pyarrow.Table`` of ``"packets"`` or ``"flows"`` rows (:func:`packet_values`, :func:`flow_values`)."""
    pa, _ = _pyarrow()
    schema = arrow_schema(what)
    batches = [_record_batch(pa, schema, what, b) for b in _batches(rows, ROW_GROUP)]
    return pa.Table.from_batches(batches, schema=schema) if batches else schema.empty_table()


def write_parquet(what: str, rows: Iterable[tuple[Any, ...]], out: BinaryIO) -> int:
    """Write ``rows`` of ``"packets"`` or ``"flows"`` to ``out`` as Parquet, a row group at a time; return how many
    rows were written."""
    pa, pq = _pyarrow()
    schema = arrow_schema(what)
    n = 0
    with pq.ParquetWriter(out, schema, compression="zstd") as writer:
        for batch in _batches(rows, ROW_GROUP):
            writer.write_batch(_record_batch(pa, schema, what, batch))
            n += len(batch)
    return n


def dataframe(what: str, rows: Iterable[tuple[Any, ...]]) -> Any:
    """A pandas DataFrame of ``"packets"`` or ``"flows"`` rows, typed as :data:`KINDS` says (``time`` a
    datetime64[ns, UTC], integers Int64, ...)."""
    import pandas as pd

    rows = list(rows)
    columns, bits = _columns(what, rows)
    values = iter(columns)
    shown = pd.Series(list(bits or ()), dtype="Int64")
    out = {}
    for c in COLUMNS[what]:
        dtype = KINDS[c.kind][1]
        bit = _FLAG_BITS.get(c.name)
        if bit is not None:
            out[c.name] = ((shown & bit) != 0).astype(dtype)
            continue
        col = next(values)
        if c.kind == "time":
            out[c.name] = pd.Series(pd.to_datetime(list(col), unit="ns", utc=True), dtype=dtype)
        elif c.kind == "strings":
            out[c.name] = pd.Series([list(v) for v in col], dtype=object)
        elif c.kind == "json":
            out[c.name] = pd.Series(list(col), dtype=object)
        else:
            out[c.name] = pd.Series(list(col), dtype=dtype)
    return pd.DataFrame(out)


__all__ = ["COLUMNS", "FLOW_COLUMNS", "KINDS", "PACKET_COLUMNS", "arrow_schema", "arrow_table", "dataframe",
           "flow_values", "packet_values", "write_parquet"]  # fmt: skip
