"""The RFC 9293 state of each endpoint, as a passive observer on the wire infers it.

Theory of operation. The machine is data: :data:`TRANSITIONS` maps ``(state, input)`` to the next state, one
line per arc, each citing RFC 9293 (h11 ``_state.py`` style). One observed segment is translated into one
:class:`Input` for its sender and zero, one or two for its receiver (:func:`classify`); the sender's input is
applied first, then the receiver's. A pair missing from the table leaves the state unchanged and yields an
:class:`Anomaly`: a passive observer never rejects a packet. Pairs that really happen on the wire without
changing anything (an ACK in ESTABLISHED, a retransmitted FIN reaching TIME_WAIT) are in the table as
self-loops, so "not in the table" always means "does not fit what was seen".

The observer sees every packet at one point of the path and attributes its *reception* to the moment it is
captured, not to the moment it reaches the other endpoint. Two consequences are accepted and documented:

* a segment already in flight when the capture point saw the peer's packet looks as if it had been sent after
  it. The table absorbs the harmless cases (a FIN that does not acknowledge the peer's FIN, sent while the
  observer already credits the peer's FIN, is a simultaneous close: CLOSE_WAIT -> CLOSING; SYNs that crossed
  in a simultaneous open); segments still arriving after an RST are reported as anomalies. That shortcut is
  for this single pass (``flows``, ``packets``); narratives and ladders, which have the whole stream, place the
  "FIN received" after the receiver's own FIN instead (tcptrace.events.resolve_states), so their paths are
  FIN_WAIT_1 -> CLOSING;
* a retransmission caused by a loss *after* the capture point (a SYN/ACK or FIN retransmitted although its
  answer was seen) does not rewind the state: it is a self-loop here, and the analysis engine, which tracks
  sequence numbers, reports the retransmission. Likewise RST acceptability (in-window, RFC 5961) needs
  sequence numbers and is left to the engine: every observed RST closes both endpoints.

The caller says whether a segment's ACK field covers the *receiver's* FIN (``ack`` >= FIN seq + 1, on every
segment that does, not only the first one); that is how FIN_WAIT_1 -> FIN_WAIT_2, CLOSING -> TIME_WAIT and
LAST_ACK -> CLOSED are seen. The hot path is two tuple indexings per input: no hashing, no allocation except
the returned list and, on a state change, one history entry.

>>> from tcptrace.model import ACK, FIN, SYN
>>> conn = ConnectionMachine()
>>> conn.on_segment(1, True, SYN, False, True)
[]
>>> [str(s) for s in conn.states]
['SYN_SENT', 'SYN_RECEIVED']
>>> for frame, from_client, flags, acks_fin in [(2, False, SYN | ACK, False), (3, True, ACK, False)]:
...     _ = conn.on_segment(frame, from_client, flags, acks_fin, False)
>>> [str(s) for s in conn.states]
['ESTABLISHED', 'ESTABLISHED']
>>> print(conn.on_segment(4, False, SYN, False, False)[0])
SYN received in ESTABLISHED: ...
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from .model import ACK, FIN, RST, SYN, Role
from .vocab import MAX_STATE_CHANGES


class TcpState(str, enum.Enum):
    """An endpoint's connection state: RFC 9293 §3.3.2 names, plus UNKNOWN for flows first seen mid-stream."""

    CLOSED = "CLOSED"
    LISTEN = "LISTEN"
    SYN_SENT = "SYN_SENT"
    SYN_RECEIVED = "SYN_RECEIVED"
    ESTABLISHED = "ESTABLISHED"
    FIN_WAIT_1 = "FIN_WAIT_1"
    FIN_WAIT_2 = "FIN_WAIT_2"
    CLOSE_WAIT = "CLOSE_WAIT"
    CLOSING = "CLOSING"
    LAST_ACK = "LAST_ACK"
    TIME_WAIT = "TIME_WAIT"
    UNKNOWN = "UNKNOWN"  # state unknown until evidence: the capture began mid-stream

    def __str__(self) -> str:  # the same on 3.10 and 3.12, whose Enum.__format__ differ
        return self.value


class Input(enum.Enum):
    """What one endpoint experiences from one observed segment; the value is the phrase anomalies use.

    The segment's flags decide, highest precedence first: RST, then SYN, then "no ACK", then FIN, then ACK
    (see :func:`classify`). "The peer's FIN" means the FIN of the segment's receiver, as the caller reports it.
    """

    # The sender of the segment:
    SEND_SYN = "SYN sent"  # SYN without ACK (the SYN of an active open, or its retransmission)
    SEND_SYN_ACK = "SYN/ACK sent"  # SYN with ACK
    SEND_ACK = "ACK or data sent"  # ACK without SYN/FIN/RST, with or without data
    SEND_FIN = "FIN sent"  # FIN with ACK, the ACK not covering the peer's FIN (first to close, or FINs crossed)
    SEND_FIN_ACKING_FIN = "FIN sent acknowledging the peer's FIN"  # FIN+ACK whose ACK covers the peer's FIN
    SEND_RST = "RST sent"  # RST, whatever else is set
    SEND_NO_ACK = "segment without SYN, RST or ACK sent"  # FIN-only, NULL, Xmas...: the receiver drops it
    # The receiver of the segment:
    RECV_SYN = "SYN received"
    RECV_SYN_ACK = "SYN/ACK received"
    RECV_ACK = "ACK or data received"  # ACK not covering this endpoint's FIN (or it sent none)
    RECV_ACK_OF_FIN = "ACK of its FIN received"  # ACK covering this endpoint's FIN (with data, or on a FIN)
    RECV_FIN = "FIN received"  # on a FIN+ACK that also acks our FIN, fed after RECV_ACK_OF_FIN
    RECV_RST = "RST received"


_S = TcpState
_I = Input

TRANSITIONS: dict[tuple[TcpState, Input], TcpState] = {
    # --- CLOSED: no connection (never opened, or ended)
    (_S.CLOSED, _I.SEND_SYN): _S.SYN_SENT,  # RFC 9293 §3.10.1 active OPEN sends SYN
    (_S.CLOSED, _I.SEND_RST): _S.CLOSED,  # RFC 9293 §3.10.7.1 a closed port answers with RST
    (_S.CLOSED, _I.RECV_SYN): _S.CLOSED,  # RFC 9293 §3.10.7.1 nothing listens: the SYN is answered with RST
    (_S.CLOSED, _I.RECV_RST): _S.CLOSED,  # RFC 9293 §3.10.7.1 an incoming RST is discarded
    # --- LISTEN: the server before the first SYN arrives
    (_S.LISTEN, _I.SEND_SYN): _S.SYN_SENT,  # RFC 9293 §3.10.2 SEND in LISTEN turns the open active
    (_S.LISTEN, _I.SEND_RST): _S.CLOSED,  # RFC 9293 §3.10.7.2 an ACK to a listener is answered with RST
    (_S.LISTEN, _I.RECV_SYN): _S.SYN_RECEIVED,  # RFC 9293 §3.10.7.2 third: SYN -> SYN-RECEIVED, send SYN/ACK
    (_S.LISTEN, _I.RECV_RST): _S.LISTEN,  # RFC 9293 §3.10.7.2 first: an RST in LISTEN is ignored
    # --- SYN_SENT: the client waiting for SYN/ACK
    (_S.SYN_SENT, _I.SEND_SYN): _S.SYN_SENT,  # RFC 9293 §3.10.8 retransmission timeout: SYN retransmitted
    (_S.SYN_SENT, _I.SEND_SYN_ACK): _S.SYN_RECEIVED,  # RFC 9293 §3.10.7.3 simultaneous open (peer SYN not seen)
    (_S.SYN_SENT, _I.SEND_ACK): _S.ESTABLISHED,  # RFC 9293 §3.10.7.3 it ACKs only a SYN/ACK (one not captured)
    (_S.SYN_SENT, _I.SEND_RST): _S.CLOSED,  # RFC 9293 §3.10.5 ABORT
    (_S.SYN_SENT, _I.RECV_SYN): _S.SYN_RECEIVED,  # RFC 9293 §3.10.7.3 fourth: simultaneous open
    (_S.SYN_SENT, _I.RECV_SYN_ACK): _S.ESTABLISHED,  # RFC 9293 §3.10.7.3 fourth: ESTABLISHED, then send ACK
    (_S.SYN_SENT, _I.RECV_RST): _S.CLOSED,  # RFC 9293 §3.10.7.3 second: "connection reset" (refused)
    # --- SYN_RECEIVED: SYN seen, waiting for the ACK of our SYN
    (_S.SYN_RECEIVED, _I.SEND_SYN): _S.SYN_RECEIVED,  # RFC 9293 §3.5 Figure 7 simultaneous open: SYNs crossed
    (_S.SYN_RECEIVED, _I.SEND_SYN_ACK): _S.SYN_RECEIVED,  # RFC 9293 §3.10.8 SYN/ACK (re)transmitted
    (_S.SYN_RECEIVED, _I.SEND_ACK): _S.ESTABLISHED,  # RFC 9293 §3.10.2 data waits for ESTABLISHED: ACK not captured
    (_S.SYN_RECEIVED, _I.SEND_FIN): _S.FIN_WAIT_1,  # RFC 9293 §3.10.4 CLOSE in SYN-RECEIVED sends FIN
    (_S.SYN_RECEIVED, _I.SEND_RST): _S.CLOSED,  # RFC 9293 §3.10.5 ABORT, or no listener after all (§3.10.7.1)
    (_S.SYN_RECEIVED, _I.RECV_SYN): _S.SYN_RECEIVED,  # RFC 9293 §3.10.8 the peer retransmits its SYN
    (_S.SYN_RECEIVED, _I.RECV_SYN_ACK): _S.ESTABLISHED,  # RFC 9293 §3.5 Figure 7 simultaneous open completes
    (_S.SYN_RECEIVED, _I.RECV_ACK): _S.ESTABLISHED,  # RFC 9293 §3.10.7.4 fifth: our SYN acknowledged
    (_S.SYN_RECEIVED, _I.RECV_FIN): _S.CLOSE_WAIT,  # RFC 9293 §3.10.7.4 fifth then eighth: ACK+FIN together
    (_S.SYN_RECEIVED, _I.RECV_RST): _S.CLOSED,  # RFC 9293 §3.10.7.4 second (passive: the listener lives on)
    # --- ESTABLISHED
    (_S.ESTABLISHED, _I.SEND_SYN): _S.ESTABLISHED,  # RFC 9293 §3.10.8 SYN retransmitted: SYN/ACK lost past us
    (_S.ESTABLISHED, _I.SEND_SYN_ACK): _S.ESTABLISHED,  # RFC 9293 §3.10.8 SYN/ACK retransmitted, or §3.5 Fig. 7
    (_S.ESTABLISHED, _I.SEND_ACK): _S.ESTABLISHED,  # RFC 9293 §3.10.7.4 seventh: data and ACKs
    (_S.ESTABLISHED, _I.SEND_FIN): _S.FIN_WAIT_1,  # RFC 9293 §3.10.4 CLOSE in ESTABLISHED sends FIN
    (_S.ESTABLISHED, _I.SEND_RST): _S.CLOSED,  # RFC 9293 §3.10.5 ABORT sends RST
    (_S.ESTABLISHED, _I.RECV_SYN_ACK): _S.ESTABLISHED,  # RFC 9293 §3.10.7.4 first: duplicate, answered by ACK
    (_S.ESTABLISHED, _I.RECV_ACK): _S.ESTABLISHED,  # RFC 9293 §3.10.7.4 fifth: SND.UNA advances (or dup ACK)
    (_S.ESTABLISHED, _I.RECV_FIN): _S.CLOSE_WAIT,  # RFC 9293 §3.10.7.4 eighth: ESTABLISHED -> CLOSE-WAIT
    (_S.ESTABLISHED, _I.RECV_RST): _S.CLOSED,  # RFC 9293 §3.10.7.4 second: "connection reset"
    # --- FIN_WAIT_1: our FIN sent, not yet acknowledged
    (_S.FIN_WAIT_1, _I.SEND_ACK): _S.FIN_WAIT_1,  # RFC 9293 §3.6.1 still ACKing the peer (or retransmitting)
    (_S.FIN_WAIT_1, _I.SEND_FIN): _S.FIN_WAIT_1,  # RFC 9293 §3.10.8 FIN retransmitted
    (_S.FIN_WAIT_1, _I.SEND_RST): _S.CLOSED,  # RFC 9293 §3.10.5 ABORT sends RST
    (_S.FIN_WAIT_1, _I.RECV_ACK): _S.FIN_WAIT_1,  # RFC 9293 §3.10.7.4 fifth: our FIN not yet covered
    (_S.FIN_WAIT_1, _I.RECV_ACK_OF_FIN): _S.FIN_WAIT_2,  # RFC 9293 §3.10.7.4 fifth: FIN acked -> FIN-WAIT-2
    (_S.FIN_WAIT_1, _I.RECV_FIN): _S.CLOSING,  # RFC 9293 §3.10.7.4 eighth: FIN not acked -> CLOSING
    (_S.FIN_WAIT_1, _I.RECV_RST): _S.CLOSED,  # RFC 9293 §3.10.7.4 second: "connection reset"
    # --- FIN_WAIT_2: our FIN acknowledged, the peer may still send (half-close)
    (_S.FIN_WAIT_2, _I.SEND_ACK): _S.FIN_WAIT_2,  # RFC 9293 §3.6.1 half-closed: we ACK the peer's data
    (_S.FIN_WAIT_2, _I.SEND_FIN): _S.FIN_WAIT_2,  # RFC 9293 §3.10.8 FIN retransmitted: its ACK lost past us
    (_S.FIN_WAIT_2, _I.SEND_RST): _S.CLOSED,  # RFC 9293 §3.10.5 ABORT sends RST
    (_S.FIN_WAIT_2, _I.RECV_ACK): _S.FIN_WAIT_2,  # RFC 9293 §3.6.1 the peer's data (reordered before its ACK)
    (_S.FIN_WAIT_2, _I.RECV_ACK_OF_FIN): _S.FIN_WAIT_2,  # RFC 9293 §3.6.1 the peer's data after our FIN
    (_S.FIN_WAIT_2, _I.RECV_FIN): _S.TIME_WAIT,  # RFC 9293 §3.10.7.4 eighth: FIN-WAIT-2 -> TIME-WAIT
    (_S.FIN_WAIT_2, _I.RECV_RST): _S.CLOSED,  # RFC 9293 §3.10.7.4 second: "connection reset"
    # --- CLOSE_WAIT: the peer's FIN received, we may still send
    (_S.CLOSE_WAIT, _I.SEND_ACK): _S.CLOSE_WAIT,  # RFC 9293 §3.6.1 half-closed: we may still send data
    (_S.CLOSE_WAIT, _I.SEND_FIN): _S.CLOSING,  # RFC 9293 §3.6 Figure 13 it does not ack the peer's FIN: crossed
    (_S.CLOSE_WAIT, _I.SEND_FIN_ACKING_FIN): _S.LAST_ACK,  # RFC 9293 §3.10.4 CLOSE in CLOSE-WAIT sends FIN
    (_S.CLOSE_WAIT, _I.SEND_RST): _S.CLOSED,  # RFC 9293 §3.10.5 ABORT sends RST
    (_S.CLOSE_WAIT, _I.RECV_ACK): _S.CLOSE_WAIT,  # RFC 9293 §3.10.7.4 fifth: as in ESTABLISHED
    (_S.CLOSE_WAIT, _I.RECV_FIN): _S.CLOSE_WAIT,  # RFC 9293 §3.10.7.4 eighth: retransmitted FIN, remain
    (_S.CLOSE_WAIT, _I.RECV_RST): _S.CLOSED,  # RFC 9293 §3.10.7.4 second: "connection reset"
    # --- CLOSING: both FINs sent, ours not yet acknowledged
    (_S.CLOSING, _I.SEND_ACK): _S.CLOSING,  # RFC 9293 §3.10.7.4 eighth: ACK of the peer's FIN
    (_S.CLOSING, _I.SEND_FIN): _S.CLOSING,  # RFC 9293 §3.10.8 FIN retransmitted (the peer's FIN lost past us)
    (_S.CLOSING, _I.SEND_FIN_ACKING_FIN): _S.CLOSING,  # RFC 9293 §3.10.8 FIN retransmitted
    (_S.CLOSING, _I.SEND_RST): _S.CLOSED,  # RFC 9293 §3.10.5 ABORT sends RST
    (_S.CLOSING, _I.RECV_ACK): _S.CLOSING,  # RFC 9293 §3.10.7.4 fifth: not our FIN, "ignore the segment"
    (_S.CLOSING, _I.RECV_ACK_OF_FIN): _S.TIME_WAIT,  # RFC 9293 §3.10.7.4 fifth: FIN acked -> TIME-WAIT
    (_S.CLOSING, _I.RECV_FIN): _S.CLOSING,  # RFC 9293 §3.10.7.4 eighth: retransmitted FIN, remain
    (_S.CLOSING, _I.RECV_RST): _S.CLOSED,  # RFC 9293 §3.10.7.4 second: enter CLOSED
    # --- LAST_ACK: the peer's FIN received, our FIN sent, waiting for its ACK
    (_S.LAST_ACK, _I.SEND_ACK): _S.LAST_ACK,  # RFC 9293 §3.10.7.4 eighth: re-ACK a retransmitted FIN
    (_S.LAST_ACK, _I.SEND_FIN_ACKING_FIN): _S.LAST_ACK,  # RFC 9293 §3.10.8 FIN retransmitted
    (_S.LAST_ACK, _I.SEND_RST): _S.CLOSED,  # RFC 9293 §3.10.5 ABORT sends RST
    (_S.LAST_ACK, _I.RECV_ACK): _S.LAST_ACK,  # RFC 9293 §3.10.7.4 fifth: ACK of data sent before our FIN
    (_S.LAST_ACK, _I.RECV_ACK_OF_FIN): _S.CLOSED,  # RFC 9293 §3.10.7.4 fifth: FIN acked -> delete the TCB
    (_S.LAST_ACK, _I.RECV_FIN): _S.LAST_ACK,  # RFC 9293 §3.10.7.4 eighth: retransmitted FIN, remain
    (_S.LAST_ACK, _I.RECV_RST): _S.CLOSED,  # RFC 9293 §3.10.7.4 second: enter CLOSED
    # --- TIME_WAIT: both FINs sent and acknowledged, lingering 2*MSL
    (_S.TIME_WAIT, _I.SEND_ACK): _S.TIME_WAIT,  # RFC 9293 §3.10.7.4 eighth: ACK the (retransmitted) FIN
    (_S.TIME_WAIT, _I.SEND_FIN): _S.TIME_WAIT,  # RFC 9293 §3.10.8 FIN retransmitted: the peer's FIN+ACK lost past us
    (_S.TIME_WAIT, _I.SEND_FIN_ACKING_FIN): _S.TIME_WAIT,  # RFC 9293 §3.10.8 FIN retransmitted: its ACK lost past us
    (_S.TIME_WAIT, _I.SEND_RST): _S.CLOSED,  # RFC 9293 §3.10.5 ABORT sends RST
    (_S.TIME_WAIT, _I.RECV_ACK): _S.TIME_WAIT,  # RFC 9293 §3.10.7.4 first: a delayed segment, answered by ACK
    (_S.TIME_WAIT, _I.RECV_ACK_OF_FIN): _S.TIME_WAIT,  # RFC 9293 §3.10.7.4 fifth: a retransmitted FIN's ACK part
    (_S.TIME_WAIT, _I.RECV_FIN): _S.TIME_WAIT,  # RFC 9293 §3.10.7.4 eighth: retransmitted FIN, re-ACK, restart 2MSL
    (_S.TIME_WAIT, _I.RECV_RST): _S.CLOSED,  # RFC 9293 §3.10.7.4 second: enter CLOSED (RFC 1337 hazard)
    # --- UNKNOWN: first seen mid-stream; the first evidence decides
    (_S.UNKNOWN, _I.SEND_SYN): _S.SYN_SENT,  # RFC 9293 §3.10.1 a SYN opens actively
    (_S.UNKNOWN, _I.SEND_SYN_ACK): _S.SYN_RECEIVED,  # RFC 9293 §3.10.7.2 a SYN/ACK answers a SYN
    (_S.UNKNOWN, _I.SEND_ACK): _S.ESTABLISHED,  # RFC 9293 §3.10.7.4 ACKs flow only once synchronized
    (_S.UNKNOWN, _I.SEND_FIN): _S.FIN_WAIT_1,  # RFC 9293 §3.10.4 CLOSE in ESTABLISHED
    (_S.UNKNOWN, _I.SEND_FIN_ACKING_FIN): _S.LAST_ACK,  # RFC 9293 §3.10.4 CLOSE in CLOSE-WAIT
    (_S.UNKNOWN, _I.SEND_RST): _S.CLOSED,  # RFC 9293 §3.10.5 ABORT sends RST
    (_S.UNKNOWN, _I.RECV_SYN): _S.SYN_RECEIVED,  # RFC 9293 §3.10.7.2 assume a listener
    (_S.UNKNOWN, _I.RECV_SYN_ACK): _S.ESTABLISHED,  # RFC 9293 §3.10.7.3 it had sent a SYN
    (_S.UNKNOWN, _I.RECV_ACK): _S.ESTABLISHED,  # RFC 9293 §3.10.7.4 ACKs flow only once synchronized
    (_S.UNKNOWN, _I.RECV_ACK_OF_FIN): _S.FIN_WAIT_2,  # RFC 9293 §3.10.7.4 fifth: it had sent a FIN
    (_S.UNKNOWN, _I.RECV_FIN): _S.CLOSE_WAIT,  # RFC 9293 §3.10.7.4 eighth: as in ESTABLISHED
    (_S.UNKNOWN, _I.RECV_RST): _S.CLOSED,  # RFC 9293 §3.10.7.4 second: "connection reset"
}
"""The endpoint machine, ``(state, input) -> next state``. A pair not listed is an :class:`Anomaly`."""

# Why a pair is missing from the table, by input; the per-pair entries below refine it. The sentence reads
# "<input> in <state>: <why>".
_AFTER_CLOSE = (
    "the endpoint still acts on a connection the observer saw end (it sent this before the segment that ended the"
    " connection reached it, or that segment was lost past the capture point)"
)
_WHY_BY_INPUT: dict[Input, str] = {
    _I.SEND_SYN: "a SYN on a connection already closing (a late retransmission, or a new connection on a 4-tuple"
    " still in use)",
    _I.SEND_SYN_ACK: "a SYN/ACK on a connection already closing (a late retransmission, or a stack answering a"
    " connection it does not have)",
    _I.SEND_ACK: "a listener sends nothing before a SYN arrives",
    _I.SEND_FIN: "a listener has no connection to close",
    _I.SEND_FIN_ACKING_FIN: "it acknowledges a FIN from the peer that this endpoint was not seen receiving",
    _I.SEND_NO_ACK: "every segment but the first SYN must carry ACK and the receiver drops it (RFC 9293 §3.10.7.4"
    " fifth): a FIN, NULL or Xmas scan, or a broken stack",
    _I.RECV_SYN: "a SYN on a synchronized connection (a delayed duplicate, or a new connection attempt on a"
    " 4-tuple still in use); it is answered with a challenge ACK (RFC 9293 §3.10.7.4 fourth, RFC 5961 §4)",
    _I.RECV_SYN_ACK: "it answers no SYN this endpoint has outstanding (a delayed duplicate); it is answered with an"
    " ACK or an RST (RFC 9293 §3.10.7.4 first, §3.5.1)",
    _I.RECV_ACK: "an ACK for a connection the listener does not have (half-open, RFC 9293 §3.5.1); it is answered"
    " with RST (§3.10.7.2)",
    _I.RECV_ACK_OF_FIN: "it acknowledges a FIN this endpoint was not seen sending",
    _I.RECV_FIN: "a FIN for a connection the listener does not have (RFC 9293 §3.10.7.2 drops it)",
    _I.RECV_RST: "an RST this state does not expect",  # unused: every state has an arc for RST
}
_WHY: dict[tuple[TcpState, Input], str] = {
    (_S.CLOSED, _I.SEND_SYN_ACK): "no SYN was seen for it to answer",
    (_S.CLOSED, _I.SEND_ACK): _AFTER_CLOSE,
    (_S.CLOSED, _I.SEND_FIN): _AFTER_CLOSE,
    (_S.CLOSED, _I.SEND_FIN_ACKING_FIN): _AFTER_CLOSE,
    (_S.CLOSED, _I.RECV_SYN_ACK): "this endpoint has no SYN outstanding; a closed port answers with RST"
    " (RFC 9293 §3.10.7.1)",
    (_S.CLOSED, _I.RECV_ACK): "a segment for a connection that no longer exists (in flight when it ended);"
    " a closed port answers with RST (RFC 9293 §3.10.7.1)",
    (_S.CLOSED, _I.RECV_ACK_OF_FIN): "a segment for a connection that no longer exists; a closed port answers with"
    " RST (RFC 9293 §3.10.7.1)",
    (_S.CLOSED, _I.RECV_FIN): "the peer closes a connection that has already ended here; a closed port answers with"
    " RST (RFC 9293 §3.10.7.1)",
    (_S.LISTEN, _I.SEND_SYN_ACK): "no SYN was seen for it to answer",
    (_S.LISTEN, _I.SEND_FIN_ACKING_FIN): "a listener has no connection to close",
    (_S.LISTEN, _I.RECV_SYN_ACK): "a listener sent no SYN; it answers with RST (RFC 9293 §3.10.7.2)",
    (_S.LISTEN, _I.RECV_ACK_OF_FIN): "a listener sent no FIN; it answers with RST (RFC 9293 §3.10.7.2)",
    (_S.SYN_SENT, _I.SEND_FIN): "a connection closed before it is established ends without a FIN (RFC 9293 §3.10.4)",
    (_S.SYN_SENT, _I.SEND_FIN_ACKING_FIN): "a connection closed before it is established ends without a FIN"
    " (RFC 9293 §3.10.4)",
    (_S.SYN_SENT, _I.RECV_ACK): "an ACK without SYN while opening: a half-open connection or an old duplicate"
    " (RFC 9293 §3.5.1); it is dropped or answered with RST (§3.10.7.3)",
    (_S.SYN_SENT, _I.RECV_ACK_OF_FIN): "this endpoint sent no FIN; an ACK without SYN while opening is dropped or"
    " answered with RST (RFC 9293 §3.10.7.3)",
    (_S.SYN_SENT, _I.RECV_FIN): "the peer closed a connection that was never established (RFC 9293 §3.10.7.3 drops it)",
    (_S.LAST_ACK, _I.SEND_FIN): "its acknowledgment went backwards: this FIN no longer covers the peer's FIN",
    (_S.TIME_WAIT, _I.RECV_SYN): "a new connection attempt on a 4-tuple still in TIME_WAIT, or a delayed"
    " duplicate SYN (RFC 9293 §3.6.1 reopens only for a higher ISN; a new ISN starts a new stream)",
}


@dataclass(frozen=True)
class Anomaly:
    """An observed segment that does not fit the endpoint's inferred state; the state did not change.

    ``message`` is a sentence for people, e.g. "FIN received in SYN_SENT: the peer closed a connection that was
    never established ...". ``role`` is None for an :class:`EndpointMachine` made without one.
    """

    state: TcpState
    input: Input
    message: str
    frame: int
    role: Role | None = None

    def __str__(self) -> str:
        return self.message


def anomaly_message(state: TcpState, inp: Input) -> str | None:
    """The sentence for a pair missing from :data:`TRANSITIONS`, or None for a pair in it."""
    if (state, inp) in TRANSITIONS:
        return None
    why = _WHY.get((state, inp)) or _WHY_BY_INPUT[inp]
    return f"{inp.value} in {state.value}: {why}"


# Compiled form for the hot path: inputs and states as row/column indices, so a step is a tuple indexing (Enum
# hashing runs Python code) and an anomaly's sentence is built once per pair, at import.
_INPUTS: tuple[Input, ...] = tuple(Input)
_INPUT_INDEX: dict[Input, int] = {inp: i for i, inp in enumerate(_INPUTS)}
_ROWS: dict[TcpState, tuple[TcpState | None, ...]] = {
    state: tuple(TRANSITIONS.get((state, inp)) for inp in _INPUTS) for state in TcpState
}
_MESSAGES: dict[tuple[TcpState, int], str] = {
    (state, i): msg
    for state in TcpState
    for i, inp in enumerate(_INPUTS)
    if (msg := anomaly_message(state, inp)) is not None
}


class EndpointMachine:
    """One endpoint's inferred state. ``history`` lists ``(frame, new_state)`` for the first
    :data:`~tcptrace.vocab.MAX_STATE_CHANGES` changes (a crafted flow can change state on every packet: SYN, RST,
    SYN ... with one ISN); ``changes`` counts them all."""

    __slots__ = ("_row", "changes", "history", "initial", "role", "state")

    def __init__(self, initial: TcpState, role: Role | None = None) -> None:
        self.initial = initial
        self.state = initial
        self.role = role
        self.history: list[tuple[int, TcpState]] = []
        self.changes = 0
        self._row = _ROWS[initial]

    def apply(self, inp: Input, frame: int) -> Anomaly | None:
        """Feed one input seen at ``frame``; returns the anomaly if the table has no arc for it."""
        return self._step(_INPUT_INDEX[inp], frame)

    def _step(self, i: int, frame: int) -> Anomaly | None:
        new = self._row[i]
        if new is None:
            state = self.state
            return Anomaly(state, _INPUTS[i], _MESSAGES[state, i], frame, self.role)
        if new is not self.state:
            self.state = new
            self._row = _ROWS[new]
            self.changes += 1
            if len(self.history) < MAX_STATE_CHANGES:
                self.history.append((frame, new))
        return None

    def __repr__(self) -> str:
        return f"<EndpointMachine {self.state.value} initial={self.initial.value} changes={self.changes}>"


# classify(): flags masked to FIN|SYN|RST|ACK, plus one bit for "the ACK covers the receiver's FIN".
_FLAG_MASK = FIN | SYN | RST | ACK
_ACKS_FIN_BIT = 0x20  # URG's bit, free once the flags are masked


def _classify_bits(bits: int) -> tuple[Input, tuple[Input, ...]]:
    acks_fin = bits & _ACKS_FIN_BIT != 0
    if bits & RST:  # RFC 9293 §3.10.7.4 second: the RST is processed before SYN, ACK and FIN
        return _I.SEND_RST, (_I.RECV_RST,)
    if bits & SYN:  # a SYN+FIN is treated as its SYN
        return (_I.SEND_SYN_ACK, (_I.RECV_SYN_ACK,)) if bits & ACK else (_I.SEND_SYN, (_I.RECV_SYN,))
    if not bits & ACK:  # RFC 9293 §3.10.7.3 fourth / §3.10.7.4 fifth: dropped by the receiver, FIN or not
        return _I.SEND_NO_ACK, ()
    if bits & FIN:  # RFC 9293 §3.10.7.4: the ACK (fifth) is processed before the FIN (eighth)
        if acks_fin:
            return _I.SEND_FIN_ACKING_FIN, (_I.RECV_ACK_OF_FIN, _I.RECV_FIN)
        return _I.SEND_FIN, (_I.RECV_FIN,)
    return _I.SEND_ACK, ((_I.RECV_ACK_OF_FIN,) if acks_fin else (_I.RECV_ACK,))


_CLASSES: tuple[tuple[Input, tuple[Input, ...]], ...] = tuple(
    _classify_bits(bits) for bits in range((_FLAG_MASK | _ACKS_FIN_BIT) + 1)
)
_CLASS_INDICES: tuple[tuple[int, tuple[int, ...]], ...] = tuple(
    (_INPUT_INDEX[send], tuple(_INPUT_INDEX[r] for r in recv)) for send, recv in _CLASSES
)


def classify(flags: int, acks_fin_of_receiver: bool = False) -> tuple[Input, tuple[Input, ...]]:
    """The sender's input and the receiver's inputs (in order) for a segment with these TCP flags.

    >>> from tcptrace.model import ACK, FIN
    >>> send, recv = classify(FIN | ACK, acks_fin_of_receiver=True)
    >>> send.name, [r.name for r in recv]
    ('SEND_FIN_ACKING_FIN', ['RECV_ACK_OF_FIN', 'RECV_FIN'])
    """
    return _CLASSES[(flags & _FLAG_MASK) | (_ACKS_FIN_BIT if acks_fin_of_receiver else 0)]


def _initial_states(flags: int) -> tuple[TcpState, TcpState]:
    """(sender, receiver) states before a flow's first observed segment, as that segment implies them."""
    syn_ack_rst = flags & (SYN | ACK | RST)
    if syn_ack_rst == SYN:  # an active open seen from its start (RFC 9293 §3.5 Figure 6)
        return _S.CLOSED, _S.LISTEN
    if syn_ack_rst == SYN | ACK:  # the SYN was not captured: it was sent, and received
        return _S.SYN_RECEIVED, _S.SYN_SENT
    return _S.UNKNOWN, _S.UNKNOWN


class ConnectionMachine:
    """Both endpoints of one connection, driven by the observed segments in capture order.

    Initial states, set when ``on_segment`` is called with ``first_seen=True`` (before that both are UNKNOWN):
    a pure SYN first: its sender CLOSED, its receiver LISTEN, so the SYN makes them SYN_SENT and SYN_RECEIVED;
    a SYN/ACK first (the SYN was not captured): its sender SYN_RECEIVED, its receiver SYN_SENT, so the SYN/ACK
    makes the receiver ESTABLISHED; anything else: both UNKNOWN until evidence. A refused connection (SYN,
    then RST/ACK) ends with both CLOSED: the observer cannot see listeners, so the server is SYN_RECEIVED until
    its RST shows there was none (RFC 9293 §3.10.7.1); a passive open reset in SYN_RECEIVED also reports CLOSED,
    since the machine follows the connection, not the listening socket (§3.10.7.4 returns that to LISTEN).
    """

    __slots__ = ("client", "server")

    def __init__(self) -> None:
        self.client = EndpointMachine(_S.UNKNOWN, Role.CLIENT)
        self.server = EndpointMachine(_S.UNKNOWN, Role.SERVER)

    @property
    def client_state(self) -> TcpState:
        return self.client.state

    @property
    def server_state(self) -> TcpState:
        return self.server.state

    @property
    def states(self) -> tuple[TcpState, TcpState]:
        """``(client_state, server_state)``."""
        return self.client.state, self.server.state

    def on_segment(
        self, frame: int, from_client: bool, flags: int, acks_fin_of_receiver: bool = False, first_seen: bool = False
    ) -> list[Anomaly]:
        """Apply one observed segment: the sender's input, then the receiver's; returns the anomalies (fresh list).

        ``acks_fin_of_receiver``: the segment's ACK covers the FIN the receiver sent (the caller tracks sequence
        numbers). ``first_seen``: this is the flow's first observed segment, which sets the initial states.
        """
        if first_seen:
            sender0, receiver0 = _initial_states(flags)
            client0, server0 = (sender0, receiver0) if from_client else (receiver0, sender0)
            self.client = EndpointMachine(client0, Role.CLIENT)
            self.server = EndpointMachine(server0, Role.SERVER)
        send, recv = _CLASS_INDICES[(flags & _FLAG_MASK) | (_ACKS_FIN_BIT if acks_fin_of_receiver else 0)]
        sender, receiver = (self.client, self.server) if from_client else (self.server, self.client)
        out: list[Anomaly] = []
        # EndpointMachine._step inlined for the common case (no change, no anomaly): it runs per packet.
        new = sender._row[send]
        if new is not sender.state:
            anomaly = sender._step(send, frame)
            if anomaly is not None:
                out.append(anomaly)
        for i in recv:
            new = receiver._row[i]
            if new is not receiver.state:
                anomaly = receiver._step(i, frame)
                if anomaly is not None:
                    out.append(anomaly)
        return out

    def __repr__(self) -> str:
        return f"<ConnectionMachine client={self.client.state.value} server={self.server.state.value}>"
