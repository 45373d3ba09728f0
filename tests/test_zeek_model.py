"""Zeek's conn.log model (tcptrace.zeek): each rule of Zeek's TCP analysis on a hand-made connection, the
Community ID against the spec's published vectors, and the agreement with Zeek's own baselines."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import OUTSIDE, ROOT

from tcptrace.model import ACK, FIN, PSH, RST, SYN
from tcptrace.zeek import ZeekConnection, ZeekTracker, community_id

C = bytes([10, 0, 0, 1])
S = bytes([10, 0, 0, 2])
CISN, SISN = 1000, 5000
T0 = 1_700_000_000_000_000_000
MS = 1_000_000


class Conv:
    """A conversation between C:40000 and S:80 (or ``sport``), fed to a ZeekTracker packet by packet."""

    def __init__(self, sport: int = 80, cport: int = 40000) -> None:
        self.tracker = ZeekTracker()
        self.cport, self.sport = cport, sport
        self.t = T0

    def c(self, flags: int, seq: int, ack: int = 0, n: int = 0, captured: int | None = None, win: int = 1000,
          dt: int = MS) -> Conv:  # fmt: skip
        self.t += dt
        cap = n if captured is None else captured
        self.tracker.add(C, self.cport, S, self.sport, flags, CISN + seq, SISN + ack, n, cap, win, self.t)
        return self

    def s(self, flags: int, seq: int, ack: int = 0, n: int = 0, captured: int | None = None, win: int = 1000,
          dt: int = MS) -> Conv:  # fmt: skip
        self.t += dt
        cap = n if captured is None else captured
        self.tracker.add(S, self.sport, C, self.cport, flags, SISN + seq, CISN + ack, n, cap, win, self.t)
        return self

    def rows(self) -> list[tuple[str, str, int]]:
        return [(r.conn_state, r.history, r.missed_bytes) for r in self.tracker.rows()]

    def handshake(self) -> Conv:
        return self.c(SYN, 0).s(SYN | ACK, 0, 1).c(ACK, 1, 1)


def test_normal_close_is_sf() -> None:
    conv = Conv().handshake().c(ACK | PSH, 1, 1, 10).s(ACK, 1, 11).s(ACK | PSH, 1, 11, 20).c(ACK, 11, 21)
    conv.c(FIN | ACK, 11, 21).s(FIN | ACK, 21, 12).c(ACK, 12, 22)
    assert conv.rows() == [("SF", "ShADadFf", 0)]
    (row,) = conv.tracker.rows()
    assert (row.orig_bytes, row.resp_bytes, row.orig_pkts, row.resp_pkts) == (10, 20, 6, 4)


def test_rst_after_both_fins_stays_sf() -> None:
    # TCPSessionAdapter::UpdateClosedState: a RST once the peer is CLOSED changes no state
    conv = Conv().handshake().c(FIN | ACK, 1, 1).s(FIN | ACK, 1, 2).c(RST, 2)
    assert conv.rows() == [("SF", "ShAFfR", 0)]


def test_rst_after_own_fin_only_is_rsto() -> None:
    conv = Conv().handshake().c(FIN | ACK, 1, 1).c(RST, 2)
    assert conv.rows()[0][0] == "RSTO"


def test_synack_first_from_server_port_is_flipped_and_s1() -> None:
    # WantConnection flips (source port 80 is a likely server port); the "missed SYN" case of
    # UpdateInactiveState establishes the originator on its ACK
    conv = Conv()
    conv.s(SYN | ACK, 0, 1).c(ACK, 1, 1).c(ACK | PSH, 1, 1, 5).s(ACK, 1, 6)
    assert conv.rows() == [("S1", "^hADa", 0)]
    assert conv.tracker.rows()[0].orig == "10.0.0.1:40000"


def test_synack_first_between_unknown_ports_flips_on_the_ack() -> None:
    # TCP_Endpoint::CheckHistory: history "H" then an ACK or data rewrites it to "^h" and flips the roles
    conv = Conv(sport=40001, cport=40002)
    conv.s(SYN | ACK, 0, 1).c(ACK, 1, 1)
    ((_state, history, _),) = conv.rows()
    assert history == "^hA"
    assert conv.tracker.rows()[0].orig == "10.0.0.1:40002"


def test_midstream_from_server_port_is_flipped() -> None:
    conv = Conv()
    conv.s(ACK | PSH, 100, 50, 10).c(ACK, 50, 110)
    ((state, history, _),) = conv.rows()
    assert history.startswith("^")
    assert state == "OTH"
    assert conv.tracker.rows()[0].orig == "10.0.0.1:40000"


def test_gap_needs_an_ack_past_an_unfilled_hole() -> None:
    filled = Conv().handshake().c(ACK, 1, 1, 100).c(ACK, 201, 1, 100).c(ACK, 101, 1, 100).s(ACK, 1, 301)
    # reordering filled the hole before the ACK: no gap (the late segment did not advance the last sequence
    # number, so update_last_seq counts it as a retransmission: T)
    assert filled.rows() == [("S1", "ShADTa", 0)]
    hole = Conv().handshake().c(ACK, 1, 1, 100).c(ACK, 201, 1, 100).s(ACK, 1, 301)
    assert hole.rows() == [("S1", "ShADaG", 100)]  # the originator's content has the gap


def test_payload_cut_by_the_snap_length_is_a_gap() -> None:
    # TCP_Endpoint::DataSent hands the reassembler nothing when caplen < len: acknowledged, it is missing
    conv = Conv().handshake().c(ACK | PSH, 1, 1, 100, captured=40).s(ACK, 1, 101)
    assert conv.rows() == [("S1", "ShADaG", 100)]
    (row,) = conv.tracker.rows()
    assert row.orig_bytes == 100  # bytes are the sequence span, gaps included


def test_retransmission_letters_are_logarithmic() -> None:
    conv = Conv().handshake().c(ACK | PSH, 1, 1, 10)
    for _ in range(10):
        conv.c(ACK | PSH, 1, 1, 10)
    assert conv.rows()[0][1] == "ShADTT"  # the 1st and the 10th


def test_zero_window_letter() -> None:
    conv = Conv().handshake().s(ACK, 1, 1, win=0)
    assert conv.rows()[0][1] == "ShAaw"


def test_attempt_without_reply_and_refusal() -> None:
    assert Conv().c(SYN, 0).rows() == [("S0", "S", 0)]
    assert Conv().c(SYN, 0).s(RST | ACK, 0, 1).rows() == [("REJ", "Sr", 0)]


def test_split_after_close_delay_and_on_syn_reuse() -> None:
    conv = Conv()
    for _ in range(3):  # RSTs a minute apart: each is its own connection once tcp_close_delay passed
        conv.c(RST, 0, dt=60_000 * MS)
    assert [r[:2] for r in conv.rows()] == [("OTH", "R")] * 3
    reuse = Conv().handshake().c(FIN | ACK, 1, 1).s(FIN | ACK, 1, 2).c(ACK, 2, 2)
    reuse.tracker.add(C, 40000, S, 80, SYN, 777, 0, 0, 0, 1000, reuse.t + MS)  # a new ISN at once
    assert [r[:2] for r in reuse.rows()] == [("SF", "ShAFf"), ("S0", "S")]


def test_close_within_delay_keeps_one_connection() -> None:
    conv = Conv().handshake().c(FIN | ACK, 1, 1).s(FIN | ACK, 1, 2).c(ACK, 2, 2, dt=4000 * MS)
    assert len(conv.rows()) == 1


def test_unanswered_syn_is_dropped_after_attempt_delay() -> None:
    conv = Conv().c(SYN, 0).c(ACK, 1, 1, dt=6000 * MS)
    assert [r[0] for r in conv.rows()] == ["S0", "OTH"]


# corelight/community-id-spec, baseline/README.md ("Default settings", "A custom seed=1 value") and
# baseline/baseline_deflt.json: the spec's published values.
@pytest.mark.parametrize(
    ("saddr", "daddr", "sport", "dport", "seed", "expected"),
    [
        ("1.2.3.4", "5.6.7.8", 1122, 3344, 0, "1:wCb3OG7yAFWelaUydu0D+125CLM="),
        ("5.6.7.8", "1.2.3.4", 3344, 1122, 0, "1:wCb3OG7yAFWelaUydu0D+125CLM="),
        ("1.2.3.4", "5.6.7.8", 1122, 3344, 1, "1:HhA1B+6CoLbiKPEs5nhNYN4XWfk="),
        ("128.232.110.120", "66.35.250.204", 34855, 80, 0, "1:LQU9qZlK+B5F3KDmev6m5PMibrg="),
        ("66.35.250.204", "128.232.110.120", 80, 34855, 0, "1:LQU9qZlK+B5F3KDmev6m5PMibrg="),
        ("2001:470:e5bf:dead:4957:2174:e82c:4887", "2607:f8b0:400c:c03::1a", 63943, 25, 0,
         "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4="),
    ],
)  # fmt: skip
def test_community_id_spec_vectors(saddr: str, daddr: str, sport: int, dport: int, seed: int, expected: str) -> None:
    import ipaddress

    a, b = ipaddress.ip_address(saddr).packed, ipaddress.ip_address(daddr).packed
    assert community_id(a, b, sport, dport, seed=seed) == expected


def test_zeek_connection_reports_state_names() -> None:
    conn = ZeekConnection(C, 40000, S, 80, SYN, T0)
    conn.packet(True, SYN, CISN, 0, 0, 0, 1000, T0)
    assert conn.conn_state() == "S0"


ZEEK_DIR = ROOT.parent / "shared" / "zeek"


@pytest.mark.skipif(not (ZEEK_DIR / "baselines.tsv").exists(), reason=f"Zeek's baselines are not in {ZEEK_DIR}")
def test_agreement_with_zeeks_own_baselines(capsys: pytest.CaptureFixture[str]) -> None:
    """Zeek's test-suite conn.log rows (../shared/zeek): targets conn_state >= 99 %, history >= 98 %, bytes
    >= 99 % of the connections whose boundaries agree (docs/vocabulary-zeek.md lists what remains)."""
    sys.path.insert(0, str(ROOT / "scripts"))
    from zeek_agreement import FIELDS, compare

    result = compare(ZEEK_DIR)
    pct = {name: 100.0 * result[name]["agree"] / max(1, result[name]["compared"]) for name in FIELDS}
    with capsys.disabled():
        print("\nZeek agreement:", ", ".join(f"{k} {v:.2f}%" for k, v in pct.items()),
              f"over {result['boundaries']['matched_rows']} of {result['boundaries']['zeek_rows']} rows")  # fmt: skip
    assert result["boundaries"]["matched_rows"] >= 0.99 * result["boundaries"]["zeek_rows"]
    assert pct["conn_state"] >= 99.0
    assert pct["history"] >= 98.0
    assert pct["bytes"] >= 99.0


def test_flows_zeek_cli_json_and_csv() -> None:
    pcap = ROOT / "sample_pcaps" / "port_reuse.pcap"
    out = subprocess.run([sys.executable, "-m", "tcptrace", "flows", "--zeek", "--format", "json", str(pcap)],
                         capture_output=True, text=True, check=True, cwd=OUTSIDE).stdout  # fmt: skip
    conns = json.loads(out)["connections"]
    assert [(c["stream"], c["conn_state"]) for c in conns] == [(0, "SF"), (1, "SF")]
    assert conns[0]["community_id"] == conns[1]["community_id"]  # the same 4-tuple
    csv_out = subprocess.run([sys.executable, "-m", "tcptrace", "flows", "--zeek", "--format", "csv", str(pcap)],
                             capture_output=True, text=True, check=True, cwd=OUTSIDE).stdout  # fmt: skip
    assert csv_out.splitlines()[0].startswith("uid,stream,ts,orig,resp,proto,conn_state,history")
    assert Path(pcap).exists()


ZEEK_TRACES = sorted((ZEEK_DIR / "traces").glob("*")) if (ZEEK_DIR / "traces").is_dir() else []


@pytest.mark.skipif(not ZEEK_TRACES, reason=f"Zeek's traces are not in {ZEEK_DIR}")
def test_stream_block_is_zeeks_row_in_both_engines(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each stream's ``zeek`` block is the same from the C engine and the Python reference, and where Zeek makes
    the stream one connection it is that connection's ``flows --zeek`` row (the C twin checked against the
    reference on the traces Zeek's own tests use: flips, gaps, retransmissions, resets)."""
    from conftest import engines

    from tcptrace import stats
    from tcptrace.zeek import capture_zeek_rows

    compared = 0
    for path in ZEEK_TRACES:
        blocks = {}
        for engine in engines():
            monkeypatch.setenv("TCPTRACE_ENGINE", engine)
            summaries, _ = stats.summarize(path)
            blocks[engine] = [s.to_dict()["zeek"] for s in summaries]
        assert blocks["python"] == blocks.get("c", blocks["python"]), path.name
        rows, _ = capture_zeek_rows(path)
        by_stream: dict[int, list] = {}
        for row in rows:
            by_stream.setdefault(row.stream, []).append(row)
        for stream, block in enumerate(blocks["python"]):
            one = by_stream.get(stream, [])
            if len(one) != 1:
                continue
            r = one[0]
            assert (block["conn_state"], block["history"], block["orig_pkts"], block["resp_pkts"]) == (
                r.conn_state, r.history, r.orig_pkts, r.resp_pkts), (path.name, stream)  # fmt: skip
            assert (block["orig_bytes"], block["resp_bytes"], block["missed_bytes"]) == (
                r.orig_bytes, r.resp_bytes, r.missed_bytes)  # fmt: skip
            assert block["community_id"] == r.community_id
            compared += 1
    assert compared > 30


def test_flows_zeek_cli_text_and_selection() -> None:
    pcap = ROOT / "sample_pcaps" / "syn_timeout.pcap"
    out = subprocess.run([sys.executable, "-m", "tcptrace", "flows", "--zeek", str(pcap)],
                         capture_output=True, text=True, check=True, cwd=OUTSIDE).stdout  # fmt: skip
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["uid", "stream", "orig", "resp"]
    # the retried SYNs: one stream, two Zeek connections (tcp_attempt_delay ended the first)
    assert [line.split()[5] for line in lines[1:3]] == ["S0", "S0"]
    assert lines[-1] == "2 Zeek connection(s) in 1 TCP stream(s)"
    none = subprocess.run([sys.executable, "-m", "tcptrace", "flows", "--zeek", "--port", "9", str(pcap)],
                          capture_output=True, text=True, check=False, cwd=OUTSIDE)  # fmt: skip
    assert none.returncode != 0
    assert "matches the selection" in none.stderr
