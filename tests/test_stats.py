"""Verdicts and statistics on the real sample captures (sample_pcaps/README.md says what each contains)."""

from __future__ import annotations

import pytest
from conftest import SAMPLES

from tcptrace.engine import Pipeline, summarize
from tcptrace.stats import completeness_label


def one(name: str) -> dict:
    (s,), _ = summarize(SAMPLES / name)
    return s.to_dict()


def test_echo_graceful_close_by_client() -> None:
    d = one("echo_ipv4.pcap")
    assert d["opened"] == "handshake"
    assert d["closed"] == "graceful_close_by_client"
    assert d["bytes"] == {"c2s": 2, "s2c": 2}
    assert d["wireshark"] == {"completeness": 31, "completeness_label": "Complete, WITH_DATA (31)"}
    assert d["zeek"]["conn_state"] == "SF"
    assert d["zeek"]["history"].startswith("ShAD")
    verdict = {k: d["tcptrace"][k] for k in ("complete", "reset", "unidirectional")}
    assert verdict == {"complete": True, "reset": False, "unidirectional": False}
    assert d["client_state"] == "TIME_WAIT"
    assert d["server_state"] == "CLOSED"
    assert d["handshake_frames"] == [3, 4, 5]
    assert d["irtt_s"] is not None
    assert d["irtt_s"] > 0
    assert d["c2s"]["mss_requested"] == 1460
    assert d["c2s"]["window_scale"] == 10
    assert d["c2s"]["rtt"]["samples"] >= 1


def test_echo_states_and_phases_packet_by_packet() -> None:
    got = [(s.frame, s.phase, s.client_state, s.server_state) for s in Pipeline(SAMPLES / "echo_ipv4.pcap")]
    assert got[:3] == [
        (3, "handshake", "SYN_SENT", "SYN_RECEIVED"),
        (4, "handshake", "ESTABLISHED", "SYN_RECEIVED"),
        (5, "handshake", "ESTABLISHED", "ESTABLISHED"),
    ]
    assert got[-3:] == [
        (10, "teardown", "FIN_WAIT_1", "CLOSE_WAIT"),
        (11, "teardown", "TIME_WAIT", "LAST_ACK"),
        (12, "teardown", "TIME_WAIT", "CLOSED"),
    ]


def test_refused() -> None:
    d = one("refused.pcap")
    assert d["opened"] == "refused"
    assert d["resets"][0]["by"] == "server"
    assert d["resets"][0]["cause"].startswith("connection refused")
    assert d["zeek"]["conn_state"] == "REJ"
    assert d["wireshark"]["completeness"] == 37


def test_abortive_close_by_client() -> None:
    d = one("abort_rst.pcap")
    assert d["closed"] == "reset_by_client"
    assert d["resets"][0]["sender_state"] == "ESTABLISHED"
    assert "SO_LINGER 0" in d["resets"][0]["cause"]
    assert d["zeek"]["conn_state"] == "RSTO"


def test_data_to_closed_socket() -> None:
    d = one("rst_after_close.pcap")
    assert d["closed"] == "reset_by_server"
    assert d["resets"][0]["cause"] == "data arrived for a socket that was already closed"
    assert d["zeek"]["conn_state"] == "RSTR"


def test_half_close_data_after_fin() -> None:
    run = Pipeline(SAMPLES / "half_close.pcap").run()
    (s,) = run.summaries
    assert s.fin_frames[0][0] == 0  # the client's FIN comes first
    assert s.data_after_fin[1] > 0  # the server kept sending after it
    assert s.to_dict()["zeek"]["conn_state"] == "SF"


def test_port_reuse_two_streams() -> None:
    sums, _ = summarize(SAMPLES / "port_reuse.pcap")
    assert [s.to_dict()["closed"] for s in sums] == ["graceful_close_by_server"] * 2


def test_lossy_bulk_statistics() -> None:
    d = one("lossy_bulk.pcap")
    s2c = d["s2c"]
    assert s2c["rexmt_packets"] > 0
    assert s2c["unique_bytes"] == s2c["data_bytes"] - s2c["rexmt_bytes"] - s2c["zero_window_probe_bytes"]
    assert s2c["truncated_packets"] > 0  # recorded with a 128-byte snap length
    assert d["c2s"]["duplicate_acks"] > 0
    assert d["c2s"]["sack_packets"] > 0


def test_zero_window_counted() -> None:
    d = one("zero_window.pcap")
    assert d["s2c"]["zero_window_advertisements"] >= 1


@pytest.mark.parametrize(
    ("bits", "label"),
    [
        (1, "Incomplete, SYN_SENT (1)"),
        (3, "Incomplete, CLIENT_ESTABLISHED (3)"),
        (7, "Incomplete, ESTABLISHED (7)"),
        (15, "Incomplete, DATA (15)"),
        (23, "Complete, NO_DATA (23)"),
        (31, "Complete, WITH_DATA (31)"),
        (47, "Complete, WITH_DATA (47)"),
        (63, "Complete, WITH_DATA (63)"),
        (44, "Incomplete (44)"),
        (37, "Incomplete (37)"),
    ],
)
def test_completeness_labels(bits: int, label: str) -> None:
    assert completeness_label(bits) == label
