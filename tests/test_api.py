"""The notebook API: tcptrace.load -> Capture -> Flow, DataFrames and rich display."""

from __future__ import annotations

import io

import pcapgen as g
import pytest
from conftest import SAMPLES

import tcptrace


def test_load_capture_and_flows() -> None:
    cap = tcptrace.load(SAMPLES / "port_reuse.pcap")
    assert len(cap) == 2
    assert [f.stream for f in cap] == [0, 1]
    assert cap.stats["frames"] == 22
    assert repr(cap) == "<Capture port_reuse.pcap: 22 frames, 20 TCP segments, 2 streams>"
    flow = cap.flow(1)
    assert flow.packets[0].frame == 13
    assert flow.summary["closed"] == "graceful_close_by_server"
    assert flow.verdict.startswith("opened normally")
    with pytest.raises(KeyError, match="no stream 7"):
        cap.flow(7)


def test_flow_renders() -> None:
    flow = tcptrace.load(SAMPLES / "echo_ipv4.pcap").flow(0)
    assert flow.narrative("zh").steps[0].text.startswith("客户端发送 SYN")
    ax = flow.diagram()
    assert any("SYN" in t.get_text() for t in ax.texts)
    ax = flow.graph("tsg")
    assert ax.get_ylabel() == "relative sequence number"
    svg = flow._repr_svg_()
    assert svg is not None
    assert svg.lstrip().startswith(("<?xml", "<svg"))


def test_dataframes() -> None:
    pytest.importorskip("pandas", reason="DataFrames need the notebook extra")
    cap = tcptrace.load(SAMPLES / "lossy_bulk.pcap")
    flows = cap.to_dataframe()
    assert list(flows.stream) == [0]
    assert int(flows.retransmissions[0]) == 13
    pk = cap.flow(0).to_dataframe()
    assert len(pk) == 640
    assert {"frame", "seq", "ack", "analysis", "client_state"} <= set(pk.columns)
    assert pk.analysis.apply(lambda a: "fast_retransmission" in a).sum() == 5
    assert len(cap.packets_dataframe()) == 640
    # time is a datetime to the nanosecond, from the capture's integer timestamps
    assert str(pk.time.dtype) == "datetime64[ns, UTC]"
    assert [t.value for t in pk.time[:3]] == [s.ts_ns for s in cap.flow(0).packets[:3]]
    assert list(cap.packets_dataframe().frame) == sorted(s.frame for s in cap.flow(0).packets)


def test_html_is_escaped() -> None:
    evil = b"<img src=x onerror=alert(1)>"
    pkts = g.handshake_and_data()
    pkts[3] = g.ipv4(g.tcp(40000, 80, 1001, 5001, g.PSH | g.ACK, 502, payload=evil))
    cap = tcptrace.load(io.BytesIO(g.pcap(g.records([g.ether(p) for p in pkts]))))  # type: ignore[arg-type]
    page = cap.flow(0)._repr_html_()
    assert "<img src=x" not in page
    assert "&lt;img src=x" in page
    assert "<table" in cap._repr_html_()


def test_iter_packets_streams() -> None:
    it = tcptrace.iter_packets(SAMPLES / "echo_ipv4.pcap")
    first = next(it)
    assert first.flag_names == ("SYN",)
    assert first.client_state == "SYN_SENT"
    assert sum(1 for _ in it) == 9


def test_iter_flows_hands_out_a_stream_before_the_capture_ends() -> None:
    """tcptrace.iter_flows streams: a stream that ended is handed out (and its packets dropped) while the capture is
    still being read. (A two-connection fixture built by code in tests/pcapgen.py.)"""
    from pathlib import Path

    import pcapgen as g

    from tcptrace.engine import FlowStream

    c, s = ("10.0.0.1", "10.0.0.2")
    first = [
        *g.handshake_and_data(),
        g.ipv4(g.tcp(40000, 80, 1006, 5001, g.FIN | g.ACK, 502), c, s),
        g.ipv4(g.tcp(80, 40000, 5001, 1007, g.FIN | g.ACK, 255), s, c),
        g.ipv4(g.tcp(40000, 80, 1007, 5002, g.ACK, 502), c, s),
    ]
    recs = g.records([g.ether(p) for p in first], gap_ns=1_000_000)
    later = g.records([g.ether(p) for p in g.handshake_and_data(sport=40001)], start_ns=recs[-1].ts_ns + 3_000_000_000)
    path = Path(__file__).parent / ".two_flows.pcap"
    path.write_bytes(g.pcap(recs + later))
    try:
        fs = FlowStream(path)
        seen = []
        for ff in fs:
            other = fs.run.tracker.flows[1 - ff.stream] if len(fs.run.tracker.flows) > 1 else None
            read = other.summary.packets if other is not None and other.summary is not None else 0
            seen.append((ff.stream, len(ff.segments), read))
        flows = list(tcptrace.iter_flows(path))
    finally:
        path.unlink()
    # stream 0 (8 segments) came out when the first segment of stream 1, 3 s later, was read, not at the end of
    # the file; stream 1 (5 segments, still open) at the end
    assert seen == [(0, 8, 1), (1, 5, 8)]
    assert [(f.stream, f.summary["closed"]) for f in flows] == [
        (0, "graceful_close_by_client"),
        (1, "open_at_capture_end"),
    ]
