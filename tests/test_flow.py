"""Flow tracking: tcp.stream, roles, relative numbers and window scaling, as Wireshark computes them."""

from __future__ import annotations

import io

import pcapgen as g

from tcptrace.flow import FlowTracker, iter_segments
from tcptrace.model import Direction


def run(packets: list[bytes]) -> tuple[list, FlowTracker]:
    tracker = FlowTracker()
    segs = list(iter_segments(io.BytesIO(g.pcap(g.records(packets), linktype=228)), tracker))
    return segs, tracker


def test_relative_numbers_and_scaled_window() -> None:
    segs, tracker = run(g.handshake_and_data())
    assert [(s.seq, s.ack) for s in segs] == [(0, 0), (0, 1), (1, 1), (1, 1), (1, 6)]
    # SYNs never scaled; afterwards each side's window is shifted by its own WS option
    assert [s.win for s in segs] == [64240, 65160, 502 << 7, 502 << 7, 255 << 8]
    assert [s.direction for s in segs] == [Direction.C2S, Direction.S2C, Direction.C2S, Direction.C2S, Direction.S2C]
    (flow,) = tracker.flows
    assert not flow.roles_guessed
    assert flow.client.port == 40000


def test_no_scaling_when_one_side_lacks_the_option() -> None:
    segs, _ = run(g.handshake_and_data(ws_s=None))
    assert [s.win for s in segs[2:]] == [502, 502, 255]
    assert segs[2].win_scale == -2


def test_scale_shift_clamped_to_14() -> None:
    segs, _ = run(g.handshake_and_data(ws_c=20, ws_s=20))
    assert segs[2].win == 502 << 14


def test_mid_stream_flow_starts_at_1_and_guesses_roles() -> None:
    c, s = "10.0.0.1", "10.0.0.2"
    pkts = [
        g.ipv4(g.tcp(80, 51000, 7000, 9000, g.PSH | g.ACK, 300, payload=b"x" * 100), s, c),
        g.ipv4(g.tcp(51000, 80, 9000, 7100, g.ACK, 200), c, s),
    ]
    segs, tracker = run(pkts)
    assert [(x.seq, x.ack, x.win) for x in segs] == [(1, 1, 300), (1, 101, 200)]
    flow = tracker.flows[0]
    assert flow.roles_guessed
    assert flow.server.port == 80
    assert segs[0].direction == Direction.S2C


def test_port_reuse_new_isn_is_a_new_stream_same_isn_is_not() -> None:
    first = g.handshake_and_data(isn_c=1000)
    retransmitted_syn = first[0]
    second = g.handshake_and_data(isn_c=777_777)
    segs, tracker = run([*first, retransmitted_syn, *second])
    assert [s.stream for s in segs] == [0] * 6 + [1] * 5
    assert tracker.flows[1].reused_ports_frame == 7
    assert segs[6].seq == 0


def test_sequence_wraparound() -> None:
    pkts = g.handshake_and_data(isn_c=0xFFFFFFFE, isn_s=0xFFFFFFFF)
    segs, _ = run(pkts)
    assert [(s.seq, s.ack) for s in segs] == [(0, 0), (0, 1), (1, 1), (1, 1), (1, 6)]
    assert segs[4].ack_raw == (0xFFFFFFFE + 6) & 0xFFFFFFFF


def test_ack_not_relative_without_ack_flag() -> None:
    pkts = [g.ipv4(g.tcp(40000, 80, 5, 123456, g.SYN))]
    (seg,), _ = run(pkts)
    assert seg.ack == 123456


def test_reverse_base_from_first_ack_when_synack_missing() -> None:
    c, s = "10.0.0.1", "10.0.0.2"
    pkts = [
        g.ipv4(g.tcp(40000, 80, 1000, 0, g.SYN), c, s),
        g.ipv4(g.tcp(40000, 80, 1001, 5001, g.ACK), c, s),  # SYN/ACK not captured
        g.ipv4(g.tcp(80, 40000, 5001, 1001, g.ACK, payload=b"hi"), s, c),
    ]
    segs, _ = run(pkts)
    assert [(x.seq, x.ack) for x in segs] == [(0, 0), (1, 1), (1, 1)]
