"""The RFC 9293 endpoint machine: every (state, input) pair, then whole connections as the wire shows them."""

from __future__ import annotations

import inspect
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tcptrace import state as state_module
from tcptrace.model import ACK, FIN, PSH, RST, SYN, Role
from tcptrace.state import (
    TRANSITIONS,
    Anomaly,
    ConnectionMachine,
    EndpointMachine,
    Input,
    TcpState,
    anomaly_message,
    classify,
)

S = TcpState
C, SV = True, False  # from_client
SYN_ACK, FIN_ACK, PSH_ACK, RST_ACK = SYN | ACK, FIN | ACK, PSH | ACK, RST | ACK

# Segment = (from_client, flags, acks_fin_of_receiver); the expected (client, server) states after each.
Step = tuple[bool, int, bool, tuple[TcpState, TcpState]]

HANDSHAKE: list[Step] = [
    (C, SYN, False, (S.SYN_SENT, S.SYN_RECEIVED)),
    (SV, SYN_ACK, False, (S.ESTABLISHED, S.SYN_RECEIVED)),
    (C, ACK, False, (S.ESTABLISHED, S.ESTABLISHED)),
    (C, PSH_ACK, False, (S.ESTABLISHED, S.ESTABLISHED)),
    (SV, ACK, False, (S.ESTABLISHED, S.ESTABLISHED)),
]


def run(steps: list[Step]) -> tuple[ConnectionMachine, list[Anomaly]]:
    """Feed the steps (the first is the flow's first segment) and check the states after each one."""
    conn = ConnectionMachine()
    anomalies: list[Anomaly] = []
    for frame, (from_client, flags, acks_fin, expected) in enumerate(steps, start=1):
        anomalies += conn.on_segment(frame, from_client, flags, acks_fin, frame == 1)
        assert conn.states == expected, f"frame {frame}"
    return conn, anomalies


# --- every (state, input) pair (h2 test_state_machines.py style)


@pytest.mark.parametrize(("state", "inp"), list(itertools.product(TcpState, Input)))
def test_every_pair_is_an_arc_or_an_anomaly(state: TcpState, inp: Input) -> None:
    machine = EndpointMachine(state, Role.SERVER)
    result = machine.apply(inp, frame=7)
    if (state, inp) in TRANSITIONS:
        assert result is None
        assert machine.state is TRANSITIONS[state, inp]
        assert machine.history == ([] if machine.state is state else [(7, machine.state)])
        assert anomaly_message(state, inp) is None
    else:
        assert isinstance(result, Anomaly)
        assert machine.state is state
        assert machine.history == []
        assert (result.state, result.input, result.frame, result.role) == (state, inp, 7, Role.SERVER)
        assert result.message.startswith(f"{inp.value} in {state.value}: ")
        assert len(result.message) > len(f"{inp.value} in {state.value}: ") + 10
        assert str(result) == result.message == anomaly_message(state, inp)


def test_table_values_are_states_and_every_rst_closes() -> None:
    assert all(isinstance(v, TcpState) for v in TRANSITIONS.values())
    for state in TcpState:
        assert TRANSITIONS[state, Input.SEND_RST] is S.CLOSED
        # RFC 9293 §3.10.7.2: only a listener ignores an RST; everyone else ends up CLOSED.
        assert TRANSITIONS[state, Input.RECV_RST] is (S.LISTEN if state is S.LISTEN else S.CLOSED)
        assert (state, Input.SEND_NO_ACK) not in TRANSITIONS


def test_every_arc_cites_rfc_9293() -> None:
    source = inspect.getsource(state_module)
    table = source[source.index("TRANSITIONS: dict") : source.index('"""The endpoint machine')]
    arcs = [line for line in table.splitlines() if line.strip().startswith("(_S.")]
    assert len(arcs) == len(TRANSITIONS)
    for line in arcs:
        assert "# RFC 9293 §3." in line, line


def test_state_names_are_rfc_names() -> None:
    for state in TcpState:
        assert state.value == state.name == str(state) == f"{state}"


def test_anomaly_is_frozen() -> None:
    anomaly = EndpointMachine(S.SYN_SENT).apply(Input.RECV_FIN, 3)
    assert anomaly is not None
    assert anomaly.role is None
    assert "was never established" in anomaly.message
    with pytest.raises(AttributeError):
        anomaly.frame = 4  # type: ignore[misc]


def test_history_records_only_changes() -> None:
    machine = EndpointMachine(S.UNKNOWN)
    for frame, inp in enumerate([Input.SEND_ACK, Input.SEND_ACK, Input.RECV_ACK, Input.SEND_FIN, Input.SEND_FIN], 1):
        assert machine.apply(inp, frame) is None
    assert machine.initial is S.UNKNOWN
    assert machine.history == [(1, S.ESTABLISHED), (4, S.FIN_WAIT_1)]


# --- classifying a segment


@pytest.mark.parametrize(
    ("flags", "acks_fin", "send", "recv"),
    [
        (SYN, False, Input.SEND_SYN, (Input.RECV_SYN,)),
        (SYN_ACK, False, Input.SEND_SYN_ACK, (Input.RECV_SYN_ACK,)),
        (ACK, False, Input.SEND_ACK, (Input.RECV_ACK,)),
        (PSH_ACK, True, Input.SEND_ACK, (Input.RECV_ACK_OF_FIN,)),
        (FIN_ACK, False, Input.SEND_FIN, (Input.RECV_FIN,)),
        (FIN_ACK | PSH, True, Input.SEND_FIN_ACKING_FIN, (Input.RECV_ACK_OF_FIN, Input.RECV_FIN)),
        (RST, False, Input.SEND_RST, (Input.RECV_RST,)),
        (RST_ACK, True, Input.SEND_RST, (Input.RECV_RST,)),
        (SYN | FIN, False, Input.SEND_SYN, (Input.RECV_SYN,)),
        (FIN, False, Input.SEND_NO_ACK, ()),
        (0, False, Input.SEND_NO_ACK, ()),
        (FIN | PSH | 0x20, False, Input.SEND_NO_ACK, ()),  # Xmas
    ],
)
def test_classify(flags: int, acks_fin: bool, send: Input, recv: tuple[Input, ...]) -> None:
    assert classify(flags, acks_fin) == (send, recv)


@given(st.integers(0, 0x1FF), st.booleans())
def test_classify_sender_first_then_receivers(flags: int, acks_fin: bool) -> None:
    send, recv = classify(flags, acks_fin)
    assert send.name.startswith("SEND_")
    assert all(r.name.startswith("RECV_") for r in recv)


# --- whole connections


def test_open_and_four_way_close_client_first() -> None:
    _, anomalies = run(
        [
            *HANDSHAKE,
            (C, FIN_ACK, False, (S.FIN_WAIT_1, S.CLOSE_WAIT)),
            (SV, ACK, True, (S.FIN_WAIT_2, S.CLOSE_WAIT)),
            (SV, FIN_ACK, True, (S.TIME_WAIT, S.LAST_ACK)),
            (C, ACK, True, (S.TIME_WAIT, S.CLOSED)),
        ]
    )
    assert anomalies == []


def test_three_segment_close() -> None:
    conn, anomalies = run(
        [
            *HANDSHAKE,
            (C, FIN_ACK, False, (S.FIN_WAIT_1, S.CLOSE_WAIT)),
            # One FIN+ACK acknowledges the client's FIN and carries the server's: FIN_WAIT_2 then TIME_WAIT.
            (SV, FIN_ACK, True, (S.TIME_WAIT, S.LAST_ACK)),
            (C, ACK, True, (S.TIME_WAIT, S.CLOSED)),
        ]
    )
    assert anomalies == []
    assert conn.client.history[-2:] == [(7, S.FIN_WAIT_2), (7, S.TIME_WAIT)]
    assert conn.server.history == [
        (1, S.SYN_RECEIVED),
        (3, S.ESTABLISHED),
        (6, S.CLOSE_WAIT),
        (7, S.LAST_ACK),
        (8, S.CLOSED),
    ]


def test_server_closes_first() -> None:
    _, anomalies = run(
        [
            *HANDSHAKE,
            (SV, FIN_ACK, False, (S.CLOSE_WAIT, S.FIN_WAIT_1)),
            (C, ACK, True, (S.CLOSE_WAIT, S.FIN_WAIT_2)),
            (C, FIN_ACK, True, (S.LAST_ACK, S.TIME_WAIT)),
            (SV, ACK, True, (S.CLOSED, S.TIME_WAIT)),
        ]
    )
    assert anomalies == []


def test_simultaneous_close() -> None:
    _, anomalies = run(
        [
            *HANDSHAKE,
            (C, FIN_ACK, False, (S.FIN_WAIT_1, S.CLOSE_WAIT)),
            # The server's FIN does not acknowledge the client's: it was sent before that FIN arrived.
            (SV, FIN_ACK, False, (S.CLOSING, S.CLOSING)),
            (C, ACK, True, (S.CLOSING, S.TIME_WAIT)),
            (SV, ACK, True, (S.TIME_WAIT, S.TIME_WAIT)),
        ]
    )
    assert anomalies == []


def test_simultaneous_open() -> None:
    _, anomalies = run(
        [
            (C, SYN, False, (S.SYN_SENT, S.SYN_RECEIVED)),
            (SV, SYN, False, (S.SYN_RECEIVED, S.SYN_RECEIVED)),
            (C, SYN_ACK, False, (S.SYN_RECEIVED, S.ESTABLISHED)),
            (SV, SYN_ACK, False, (S.ESTABLISHED, S.ESTABLISHED)),
            (C, PSH_ACK, False, (S.ESTABLISHED, S.ESTABLISHED)),
        ]
    )
    assert anomalies == []


def test_half_close_with_data_from_the_server() -> None:
    _, anomalies = run(
        [
            *HANDSHAKE,
            (C, FIN_ACK, False, (S.FIN_WAIT_1, S.CLOSE_WAIT)),
            (SV, ACK, True, (S.FIN_WAIT_2, S.CLOSE_WAIT)),
            (SV, PSH_ACK, True, (S.FIN_WAIT_2, S.CLOSE_WAIT)),
            (SV, PSH_ACK, True, (S.FIN_WAIT_2, S.CLOSE_WAIT)),
            (C, ACK, False, (S.FIN_WAIT_2, S.CLOSE_WAIT)),
            (SV, FIN_ACK | PSH, True, (S.TIME_WAIT, S.LAST_ACK)),
            (C, ACK, True, (S.TIME_WAIT, S.CLOSED)),
        ]
    )
    assert anomalies == []


def test_half_close_data_before_the_ack_of_fin() -> None:
    # Data from the server that does not yet cover the client's FIN keeps FIN_WAIT_1.
    _, anomalies = run(
        [
            *HANDSHAKE,
            (C, FIN_ACK, False, (S.FIN_WAIT_1, S.CLOSE_WAIT)),
            (SV, PSH_ACK, False, (S.FIN_WAIT_1, S.CLOSE_WAIT)),
            (SV, PSH_ACK, True, (S.FIN_WAIT_2, S.CLOSE_WAIT)),
        ]
    )
    assert anomalies == []


def test_connection_refused() -> None:
    # Documented decision: the server is SYN_RECEIVED (a listener is assumed) until its RST shows there was none.
    conn, anomalies = run(
        [
            (C, SYN, False, (S.SYN_SENT, S.SYN_RECEIVED)),
            (SV, RST_ACK, False, (S.CLOSED, S.CLOSED)),
            # A client retrying with the same ISN stays in the same stream: no anomaly, same answer; the server
            # is now CLOSED, and a SYN to a closed port leaves it CLOSED (RFC 9293 §3.10.7.1).
            (C, SYN, False, (S.SYN_SENT, S.CLOSED)),
            (SV, RST_ACK, False, (S.CLOSED, S.CLOSED)),
        ]
    )
    assert anomalies == []
    assert conn.client.initial is S.CLOSED
    assert conn.server.initial is S.LISTEN


@pytest.mark.parametrize("from_client", [True, False])
@pytest.mark.parametrize("flags", [RST, RST_ACK])
def test_rst_in_established_closes_both(from_client: bool, flags: int) -> None:
    conn, anomalies = run([*HANDSHAKE, (from_client, flags, False, (S.CLOSED, S.CLOSED))])
    assert anomalies == []
    # Segments still arriving afterwards (in flight when the RST was sent) are reported, state unchanged.
    late = conn.on_segment(99, not from_client, PSH_ACK, False, False)
    assert [(a.state, a.input, a.frame) for a in late] == [
        (S.CLOSED, Input.SEND_ACK, 99),
        (S.CLOSED, Input.RECV_ACK, 99),
    ]
    assert conn.states == (S.CLOSED, S.CLOSED)


def test_client_resets_during_handshake() -> None:
    _, anomalies = run(
        [
            (C, SYN, False, (S.SYN_SENT, S.SYN_RECEIVED)),
            (SV, SYN_ACK, False, (S.ESTABLISHED, S.SYN_RECEIVED)),
            # RFC 9293 §3.10.7.4 sends a passive open back to LISTEN; the observer reports the connection CLOSED.
            (C, RST, False, (S.CLOSED, S.CLOSED)),
        ]
    )
    assert anomalies == []


def test_syn_and_syn_ack_retransmissions() -> None:
    _, anomalies = run(
        [
            (C, SYN, False, (S.SYN_SENT, S.SYN_RECEIVED)),
            (C, SYN, False, (S.SYN_SENT, S.SYN_RECEIVED)),
            (C, SYN, False, (S.SYN_SENT, S.SYN_RECEIVED)),
            (SV, SYN_ACK, False, (S.ESTABLISHED, S.SYN_RECEIVED)),
            # The SYN/ACK was lost after the capture point: the client retransmits its SYN, the server its SYN/ACK.
            (C, SYN, False, (S.ESTABLISHED, S.SYN_RECEIVED)),
            (SV, SYN_ACK, False, (S.ESTABLISHED, S.SYN_RECEIVED)),
            (C, ACK, False, (S.ESTABLISHED, S.ESTABLISHED)),
            (SV, SYN_ACK, False, (S.ESTABLISHED, S.ESTABLISHED)),  # the ACK was lost after the capture point
            (C, ACK, False, (S.ESTABLISHED, S.ESTABLISHED)),
        ]
    )
    assert anomalies == []


def test_fin_retransmissions_and_re_ack_in_time_wait() -> None:
    _, anomalies = run(
        [
            *HANDSHAKE,
            (C, FIN_ACK, False, (S.FIN_WAIT_1, S.CLOSE_WAIT)),
            (C, FIN_ACK, False, (S.FIN_WAIT_1, S.CLOSE_WAIT)),
            (SV, FIN_ACK, True, (S.TIME_WAIT, S.LAST_ACK)),
            (C, ACK, True, (S.TIME_WAIT, S.CLOSED)),
        ]
    )
    assert anomalies == []
    # The server retransmits its FIN+ACK (the first copy lost after the capture point): no state moves.
    _, anomalies = run(
        [
            *HANDSHAKE,
            (C, FIN_ACK, False, (S.FIN_WAIT_1, S.CLOSE_WAIT)),
            (SV, FIN_ACK, True, (S.TIME_WAIT, S.LAST_ACK)),
            (SV, FIN_ACK, True, (S.TIME_WAIT, S.LAST_ACK)),  # lost before the client: retransmitted, re-ACKed
            (C, ACK, True, (S.TIME_WAIT, S.CLOSED)),
        ]
    )
    assert anomalies == []


def test_starts_with_syn_ack() -> None:
    conn, anomalies = run(
        [
            (SV, SYN_ACK, False, (S.ESTABLISHED, S.SYN_RECEIVED)),
            (C, ACK, False, (S.ESTABLISHED, S.ESTABLISHED)),
        ]
    )
    assert anomalies == []
    assert (conn.client.initial, conn.server.initial) == (S.SYN_SENT, S.SYN_RECEIVED)


def test_mid_stream_start() -> None:
    conn = ConnectionMachine()
    assert conn.states == (S.UNKNOWN, S.UNKNOWN)
    # A segment without ACK is no evidence (the receiver drops it): still UNKNOWN, and an anomaly for its sender.
    anomalies = conn.on_segment(1, True, FIN | PSH | 0x20, False, True)
    assert [(a.role, a.input) for a in anomalies] == [(Role.CLIENT, Input.SEND_NO_ACK)]
    assert conn.states == (S.UNKNOWN, S.UNKNOWN)
    _, anomalies = run(
        [
            (SV, PSH_ACK, False, (S.ESTABLISHED, S.ESTABLISHED)),
            (C, ACK, False, (S.ESTABLISHED, S.ESTABLISHED)),
            (SV, FIN_ACK, False, (S.CLOSE_WAIT, S.FIN_WAIT_1)),
        ]
    )
    assert anomalies == []


@pytest.mark.parametrize(
    ("flags", "acks_fin", "expected"),
    [
        (FIN_ACK, False, (S.FIN_WAIT_1, S.CLOSE_WAIT)),
        (FIN_ACK, True, (S.LAST_ACK, S.TIME_WAIT)),  # an ACK of a FIN not seen, and a FIN
        (RST, False, (S.CLOSED, S.CLOSED)),
        (SYN, False, (S.SYN_SENT, S.SYN_RECEIVED)),
    ],
)
def test_mid_stream_first_evidence(flags: int, acks_fin: bool, expected: tuple[TcpState, TcpState]) -> None:
    conn = ConnectionMachine()
    conn.on_segment(1, True, flags, acks_fin, False)  # not first_seen: both start UNKNOWN
    assert conn.states == expected


@pytest.mark.parametrize(
    ("steps", "pairs"),
    [
        ([(C, SYN, False), (SV, FIN_ACK, False)], [(S.SYN_SENT, Input.RECV_FIN)]),
        ([(C, SYN, False), (SV, SYN_ACK, False), (C, ACK, False), (SV, SYN, False)], [(S.ESTABLISHED, Input.RECV_SYN)]),
        (
            [(SV, SYN_ACK, False), (C, FIN_ACK, False), (C, SYN, False)],
            [(S.FIN_WAIT_1, Input.SEND_SYN), (S.CLOSE_WAIT, Input.RECV_SYN)],
        ),
        ([(C, SYN, False), (SV, SYN_ACK, False), (SV, ACK, False)], []),
    ],
)
def test_anomalies_in_context(steps: list[tuple[bool, int, bool]], pairs: list[tuple[TcpState, Input]]) -> None:
    conn = ConnectionMachine()
    found: list[Anomaly] = []
    for frame, (from_client, flags, acks_fin) in enumerate(steps, 1):
        found += conn.on_segment(frame, from_client, flags, acks_fin, frame == 1)
    assert [(a.state, a.input) for a in found] == pairs


def test_receiver_anomaly_names_the_receiver() -> None:
    conn = ConnectionMachine()
    conn.on_segment(1, True, SYN, False, True)
    (anomaly,) = conn.on_segment(2, False, FIN_ACK, False, False)
    assert (anomaly.role, anomaly.frame, anomaly.state) == (Role.CLIENT, 2, S.SYN_SENT)
    assert anomaly.message.startswith(
        "FIN received in SYN_SENT: the peer closed a connection that was never established"
    )
    assert conn.states == (S.SYN_SENT, S.FIN_WAIT_1)


# --- never raises


segments = st.lists(st.tuples(st.booleans(), st.integers(0, 0x1FF), st.booleans()), max_size=40)


@given(segments)
def test_random_segments_never_raise(steps: list[tuple[bool, int, bool]]) -> None:
    conn = ConnectionMachine()
    for frame, (from_client, flags, acks_fin) in enumerate(steps, 1):
        before = conn.states
        anomalies = conn.on_segment(frame, from_client, flags, acks_fin, frame == 1)
        assert isinstance(conn.client_state, TcpState)
        assert isinstance(conn.server_state, TcpState)
        assert len(anomalies) <= 3
        for anomaly in anomalies:
            assert anomaly.frame == frame
            assert (anomaly.state, anomaly.input) not in TRANSITIONS
        if frame > 1 and not anomalies:
            send, _ = classify(flags, acks_fin)
            assert before[0 if from_client else 1] in {k[0] for k in TRANSITIONS if k[1] is send}
    for machine in (conn.client, conn.server):
        states = [machine.initial] + [s for _, s in machine.history]
        assert all(a is not b for a, b in itertools.pairwise(states))
        assert states[-1] is machine.state
        frames = [f for f, _ in machine.history]
        assert frames == sorted(frames)
