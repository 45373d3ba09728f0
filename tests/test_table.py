"""Typed tables (tcptrace.table): ``--format parquet``, ``Capture.to_arrow()`` and the DataFrames say what the
``jsonl`` and ``csv`` formats say, with real types (timestamps, nullable integers, bools)."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import tcptrace
from tcptrace.cli import main
from tcptrace.table import FLOW_COLUMNS, KINDS, PACKET_COLUMNS

SAMPLES = Path(__file__).resolve().parent.parent / "sample_pcaps"
# losses and SACK, port reuse, an RST, IPv6 in pcapng, a snap length, refused
CAPTURES = ["lossy_bulk.pcap", "port_reuse.pcap", "abort_rst.pcap", "echo_ipv6.pcapng", "echo_snaplen.pcap",
            "refused.pcap", "sack_dsack.pcap", "zero_window.pcap"]  # fmt: skip


def _parquet_rows(path: Path) -> list[dict[str, Any]]:
    pq = pytest.importorskip("pyarrow.parquet", reason="Parquet needs tcptrace[parquet] (pyarrow)")
    rows: list[dict[str, Any]] = pq.read_table(path).to_pylist()
    return rows


def _cli(args: list[str]) -> Any:
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    return r


def _ns(t: Any) -> int:
    """A pyarrow timestamp as read back (a datetime, or a pandas Timestamp when pandas is installed) in ns."""
    return int(t.value) if hasattr(t, "value") else int(t.timestamp() * 1e9)


@pytest.mark.parametrize("name", CAPTURES)
def test_packets_parquet_says_what_jsonl_says(name: str, tmp_path: Path) -> None:
    pytest.importorskip("pyarrow", reason="Parquet needs tcptrace[parquet] (pyarrow)")
    out = tmp_path / "p.parquet"
    _cli(["packets", str(SAMPLES / name), "--format", "parquet", "-o", str(out)])
    rows = _parquet_rows(out)
    lines = _cli(["packets", str(SAMPLES / name), "--format", "jsonl"]).stdout.splitlines()
    recs = [json.loads(line) for line in lines]
    assert len(rows) == len(recs) > 0
    for row, rec in zip(rows, recs, strict=True):
        for key in ("frame", "stream", "src", "sport", "dst", "dport", "flags", "seq", "ack", "seq_raw", "ack_raw",
                    "len", "win", "win_raw", "win_scale", "hdr_len", "captured_len", "interface", "analysis",
                    "phase", "client_state", "server_state"):  # fmt: skip
            assert row[key] == rec[key], (key, rec["frame"])
        assert abs(_ns(row["time"]) / 1e9 - rec["time"]) < 1e-6
        for key in ("acks_frame", "ack_rtt", "rto", "rto_frame", "bytes_in_flight", "duplicate_of", "malformed"):
            assert row[key] == rec.get(key), (key, rec["frame"])
        assert (json.loads(row["evidence"]) if row["evidence"] else None) == rec.get("evidence")
        opts = rec["options"]
        assert (row["mss"], row["wscale"], row["tsval"], row["tsecr"]) == (
            opts.get("mss"), opts.get("wscale"), opts.get("tsval"), opts.get("tsecr"))  # fmt: skip
        assert row["sack_permitted"] == opts.get("sack_permitted", False)
        assert (json.loads(row["sack"]) if row["sack"] else None) == opts.get("sack")  # JSON text in Parquet
        other = json.loads(row["options_other"]) if row["options_other"] else {}
        assert other == {k: opts[k] for k in ("other", "malformed", "truncated") if k in opts}
        flagged = {k.removeprefix("analysis_") for k, v in row.items() if k.startswith("analysis_") and v}
        assert flagged == set(rec["analysis"])


def test_packets_parquet_types(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow", reason="Parquet needs tcptrace[parquet] (pyarrow)")
    import pyarrow.parquet as pq

    out = tmp_path / "p.parquet"
    _cli(["packets", str(SAMPLES / "lossy_bulk.pcap"), "--format", "parquet", "-o", str(out)])
    schema = pq.read_schema(out)
    assert schema.names == [c.name for c in PACKET_COLUMNS]
    assert schema.field("time").type == pa.timestamp("ns", tz="UTC")
    assert schema.field("frame").type == pa.int64()
    assert schema.field("analysis").type == pa.list_(pa.string())
    assert schema.field("analysis_retransmission").type == pa.bool_()
    table = pq.read_table(out)
    assert table.column("time").to_pylist()[0] is not None
    assert table.column("acks_frame").null_count > 0  # nullable: not every packet acknowledges one
    assert sum(table.column("analysis_fast_retransmission").to_pylist()) == 5  # as tests/test_api.py counts


@pytest.mark.parametrize("name", CAPTURES)
def test_flows_parquet_says_what_csv_says(name: str, tmp_path: Path) -> None:
    pytest.importorskip("pyarrow", reason="Parquet needs tcptrace[parquet] (pyarrow)")
    out = tmp_path / "f.parquet"
    _cli(["flows", str(SAMPLES / name), "--format", "parquet", "-o", str(out)])
    rows = _parquet_rows(out)
    csv_rows = list(csv.DictReader(io.StringIO(_cli(["flows", str(SAMPLES / name), "--format", "csv"]).stdout)))
    docs = json.loads(_cli(["flows", str(SAMPLES / name), "--format", "json"]).stdout)["flows"]
    assert len(rows) == len(csv_rows) == len(docs)
    for row, text, doc in zip(rows, csv_rows, docs, strict=True):
        for key, value in text.items():
            assert str(row[key]) == value, key
        assert abs(_ns(row["start_time"]) / 1e9 - doc["start_time"]) < 1e-6
        assert row["roles_guessed"] == doc["roles_guessed"]


def test_capture_to_arrow_and_dataframes() -> None:
    pa = pytest.importorskip("pyarrow", reason="Parquet needs tcptrace[parquet] (pyarrow)")
    pytest.importorskip("pandas", reason="DataFrames need the notebook extra")
    cap = tcptrace.load(SAMPLES / "port_reuse.pcap")
    flows = cap.to_arrow()
    assert flows.column("stream").to_pylist() == [0, 1]
    assert flows.schema.field("start_time").type == pa.timestamp("ns", tz="UTC")
    packets = cap.to_arrow("packets")
    assert packets.num_rows == 20
    assert packets.column("frame").to_pylist() == sorted(s.frame for f in cap for s in f.packets)
    with pytest.raises(ValueError, match="flows' or 'packets'"):
        cap.to_arrow("streams")
    # the same columns and types as the DataFrame API
    df = cap.packets_dataframe()
    assert list(df.columns) == packets.schema.names
    assert df.frame.tolist() == packets.column("frame").to_pylist()


def test_dataframe_dtypes() -> None:
    pytest.importorskip("pandas", reason="DataFrames need the notebook extra")
    cap = tcptrace.load(SAMPLES / "lossy_bulk.pcap")
    for df, columns in ((cap.to_dataframe(), FLOW_COLUMNS), (cap.packets_dataframe(), PACKET_COLUMNS)):
        assert list(df.columns) == [c.name for c in columns]
        assert {c.name: str(df[c.name].dtype) for c in columns} == {c.name: KINDS[c.kind][1] for c in columns}
    pk = cap.flow(0).to_dataframe()
    assert pk.acks_frame.isna().any()
    assert not pk.acks_frame.isna().all()  # Int64 with nulls, not floats
    assert int(pk.analysis_fast_retransmission.sum()) == 5
    assert pk.time.iloc[0].value == cap.flow(0).packets[0].ts_ns
    # nested values are objects in pandas (JSON text in Parquet)
    fast = pk[pk.analysis_fast_retransmission].iloc[0]
    assert fast.evidence["fast_retransmission"]["why"]


def test_empty_dataframes_keep_their_types(tmp_path: Path) -> None:
    pytest.importorskip("pandas", reason="DataFrames need the notebook extra")
    from tcptrace.table import dataframe

    df = dataframe("packets", [])
    assert len(df) == 0
    assert str(df.time.dtype) == "datetime64[ns, UTC]"


def test_parquet_needs_a_file_and_o_needs_parquet() -> None:
    r = CliRunner().invoke(main, ["packets", str(SAMPLES / "echo_ipv4.pcap"), "--format", "parquet"])
    assert r.exit_code == 2
    assert "-o FILE.parquet" in r.stderr
    r = CliRunner().invoke(main, ["flows", str(SAMPLES / "echo_ipv4.pcap"), "-o", "x.parquet"])
    assert r.exit_code == 2
    assert "-o is for --format parquet" in r.stderr


def test_without_pyarrow_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    out = tmp_path / "x.parquet"
    r = CliRunner().invoke(main, ["flows", str(SAMPLES / "echo_ipv4.pcap"), "--format", "parquet", "-o", str(out)])
    assert r.exit_code == 2
    assert "pip install 'tcptrace[parquet]'" in r.stderr
    assert "Traceback" not in r.stderr
    assert not out.exists()
