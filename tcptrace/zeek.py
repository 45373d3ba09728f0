"""Zeek's TCP connection model: conn_state, history, sizes, content gaps and connection boundaries as Zeek 8
computes them for conn.log (reference §3; docs/vocabulary-zeek.md).

Theory of operation. :class:`ZeekConnection` is a transcription of the parts of Zeek's TCP analysis that decide
a conn.log row: ``TCPSessionAdapter::Process`` (src/packet_analysis/protocol/tcp/TCPSessionAdapter.cc: endpoint
initialisation, relative sequence numbers, ``update_history``, zero windows, ``update_last_seq`` with its
retransmission rule, the endpoint state machine ``UpdateStateMachine``), ``TCP_Endpoint`` (``Size()``, the
``^`` flip of ``CheckHistory``, the logarithmic letters) and the part of ``TCP_Reassembler``/``DataBlockList``
that reports content gaps: a gap is recorded when an ACK passes bytes the reassembler never received
(``AckReceived`` -> ``TrimToSeq`` -> ``Undelivered`` -> ``Gap``), only while both endpoints are established or
cleanly closing, and payload the snap length cut is never handed to the reassembler (``DataSent`` needs
``caplen >= len``), so it becomes a gap when acknowledged. ``conn_state`` is ``function conn_state`` of
scripts/base/protocols/conn/main.zeek.

:class:`ZeekTracker` adds Zeek's connection boundaries over a whole capture, keyed by the 4-tuple as Zeek keys
its sessions: a new connection when the first packet's port pair makes Zeek flip roles (``WantConnection``), when
a SYN reuses a closed tuple or starts a new sequence space (``IsReuse``), and when a timer removed the old one
(``tcp_close_delay``/``tcp_reset_delay``/``tcp_attempt_delay``, the expire timer, inactivity). Timers fire, as in
Zeek, when network time (the next packet's timestamp) passes them.

What is left out (documented in docs/vocabulary-zeek.md): checksum validation (``c``/``C``; tests run with
``-C`` mostly), Zeek's deferred close while data is pending, ``tcp_excessive_data_without_further_acks``
and the other reassembly limits, the partial-close timer (no handler in the base scripts), ``X``.
This module imports nothing but the standard library and model/vocab, so the C engine can be checked against it.
"""

from __future__ import annotations

import binascii
import functools
import struct
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from .model import ACK, FIN, RST, SYN, format_endpoint
from .vocab import (
    HDR_BOGUS_LENGTH,
    ZEEK_ATTEMPT_DELAY_NS,
    ZEEK_CLOSE_DELAY_NS,
    ZEEK_CONNECTION_LINGER_NS,
    ZEEK_ENDPOINT_STATES,
    ZEEK_HANDSHAKE_INACTIVITY_NS,
    ZEEK_HIST_MASKS,
    ZEEK_INACTIVITY_NS,
    ZEEK_LIKELY_SERVER_PORTS,
    ZEEK_RESET_DELAY_NS,
    ZEEK_SESSION_TIMER_NS,
    ZEEK_SYN_TIMEOUT_NS,
    ZEEK_TOO_LARGE_SEQ_DELTA,
)

M32 = 0xFFFFFFFF
TOO_LARGE_SEQ_DELTA = ZEEK_TOO_LARGE_SEQ_DELTA

# TCP_Endpoint.h EndpointState, in Zeek's order (conn.log's states are these names without TCP_ENDPOINT_)
STATE_NAMES = ZEEK_ENDPOINT_STATES
INACTIVE, SYN_SENT, SYN_ACK_SENT, PARTIAL, ESTABLISHED, CLOSED, RESET = (STATE_NAMES.index(n) for n in STATE_NAMES)

# TCP_Endpoint.h history masks (the responder's are shifted 16 bits left: TCP_Endpoint::CheckHistory)
_MASK = dict(ZEEK_HIST_MASKS)
HIST_SYN, HIST_FIN, HIST_RST, HIST_FIN_RST = _MASK["SYN"], _MASK["FIN"], _MASK["RST"], _MASK["FIN_RST"]
HIST_DATA, HIST_ACK, HIST_MULTI = _MASK["DATA"], _MASK["ACK"], _MASK["MULTI"]
_SFRA = SYN | FIN | RST | ACK


def _sd(a: int, b: int) -> int:
    """seq_delta(a, b): a - b as a signed 32-bit number (Zeek's util)."""
    d = (a - b) & M32
    return d - (1 << 32) if d & 0x80000000 else d


# SHA-1 for the Community ID: CPython's built-in _sha1 when present; hashlib would load OpenSSL, 3.6 MB more
# peak memory for every `flows` run, for one small digest per stream.
try:
    from _sha1 import sha1 as _sha1_new  # type: ignore[import-not-found]  # (CPython's, no stubs)
except ImportError:  # pragma: no cover - a Python built without it
    from hashlib import sha1 as _sha1_new

_CID_TAIL = struct.Struct("!BBHH")


def _sha1(data: bytes) -> bytes:
    digest: bytes = _sha1_new(data).digest()
    return digest


def community_id(saddr: bytes, daddr: bytes, sport: int, dport: int, proto: int = 6, seed: int = 0) -> str:
    """Community ID v1 of a flow ("1:" + base64 of a SHA-1; github.com/corelight/community-id-spec): the
    endpoints ordered so both directions give the same value (smaller address first, ports break a tie)."""
    if (saddr, sport) > (daddr, dport):
        saddr, daddr, sport, dport = daddr, saddr, dport, sport
    data = seed.to_bytes(2, "big") + saddr + daddr + _CID_TAIL.pack(proto, 0, sport, dport)
    return "1:" + binascii.b2a_base64(_sha1(data), newline=False).decode("ascii")


def likely_server_port(port: int) -> bool:
    return port in ZEEK_LIKELY_SERVER_PORTS


def wants_flip(flags: int, sport: int, dport: int) -> bool:
    """TCPAnalyzer::WantConnection (src/packet_analysis/protocol/tcp/TCP.cc): a connection that starts without a
    SYN, or with a SYN/ACK, takes the likely server port as its responder."""
    if flags & SYN and not flags & ACK:
        return False
    if not likely_server_port(sport):
        return False
    if likely_server_port(dport):
        return not flags & SYN and sport < dport
    return True


class _Endpoint:
    """TCP_Endpoint, with its TCP_Reassembler's gap bookkeeping (last_reassem_seq, trim_seq, blocks above holes)."""

    __slots__ = (
        "ack",
        "ack_wraps",
        "blocks",
        "did_close",
        "fin_cnt",
        "fin_seq",
        "gap_cnt",
        "gap_thresh",
        "hist_last_fin",
        "hist_last_rst",
        "hist_last_syn",
        "is_orig",
        "last",
        "last_reassem",
        "peer",
        "pkts",
        "prev_state",
        "rxmt_cnt",
        "rxmt_thresh",
        "seq_wraps",
        "start",
        "state",
        "trim",
        "win0_cnt",
        "win0_thresh",
    )

    def __init__(self, is_orig: bool) -> None:
        self.is_orig = is_orig
        self.state = self.prev_state = INACTIVE
        self.start = self.last = self.ack = 0
        self.seq_wraps = self.ack_wraps = 0
        self.fin_cnt = 0
        self.fin_seq = 0
        self.did_close = False
        self.hist_last_syn = self.hist_last_fin = self.hist_last_rst = 0
        self.rxmt_cnt = self.win0_cnt = self.gap_cnt = 0
        self.rxmt_thresh = self.win0_thresh = self.gap_thresh = 1
        self.last_reassem = self.trim = 1
        self.blocks: list[list[int]] = []  # [seq, upper) received above last_reassem, sorted, disjoint
        self.pkts = 0
        self.peer: _Endpoint = self

    def set_state(self, new: int) -> None:
        if new != self.state:
            self.prev_state = self.state
            self.state = new

    def update_last_seq(self, seq: int) -> None:
        if seq < self.last:
            self.seq_wraps += 1
        self.last = seq

    def update_ack_seq(self, seq: int) -> None:
        if seq < self.ack:
            self.ack_wraps += 1
        self.ack = seq

    def init_seqs(self, start: int, last: int) -> None:
        self.start = start & M32
        self.ack = start & M32
        self.last = last & M32

    def size(self) -> int:
        """TCP_Endpoint::Size(): the sequence span sent, SYN and FIN octets excluded, gaps included."""
        if (
            self.prev_state == SYN_SENT
            and self.state == RESET
            and self.peer.state == INACTIVE
            and not self.no_data_acked()
        ):
            return 0
        last64 = (self.seq_wraps << 32) + self.last
        ack64 = (self.ack_wraps << 32) + self.ack
        size = (last64 if last64 > ack64 else ack64) - self.start
        if size != 0:
            size -= 1
        if self.fin_cnt > 0 and size != 0:
            size -= 1
        return max(size, 0)

    def no_data_acked(self) -> bool:
        ack = (self.ack_wraps << 32) + self.ack
        return ack in (self.start, self.start + 1)

    def clean(self) -> bool:
        """TCP_Reassembler.cc is_clean()."""
        return self.state == ESTABLISHED or (self.state == CLOSED and self.prev_state == ESTABLISHED)


@dataclass
class ZeekRow:
    """One conn.log row: what Zeek writes for a connection (``orig_bytes``/``resp_bytes`` None when Zeek logs
    ``-``, that is when the duration is 0)."""

    uid: int
    orig: str
    resp: str
    orig_h: bytes
    orig_p: int
    resp_h: bytes
    resp_p: int
    conn_state: str
    history: str
    orig_pkts: int
    resp_pkts: int
    orig_bytes: int | None
    resp_bytes: int | None
    missed_bytes: int
    ts_ns: int
    duration_s: float
    community_id: str
    stream: int = -1
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "uid": self.uid,
            "stream": self.stream,
            "ts": self.ts_ns / 1e9,
            "orig": self.orig,
            "resp": self.resp,
            "proto": "tcp",
            "duration_s": self.duration_s or None,  # conn.log: no duration (-) when it is 0, nor sizes
            "orig_bytes": self.orig_bytes,
            "resp_bytes": self.resp_bytes,
            "conn_state": self.conn_state,
            "missed_bytes": self.missed_bytes,
            "history": self.history,
            "orig_pkts": self.orig_pkts,
            "resp_pkts": self.resp_pkts,
            "community_id": self.community_id,
        }


class ZeekConnection:
    """One Zeek TCP connection, fed packet by packet with :meth:`packet`; :meth:`row` gives its conn.log row.

    ``orig`` is the (address, port) of Zeek's originator when the connection is made (after WantConnection's
    flip); a later flip (SYN/ACK first, then an ACK or data: TCP_Endpoint::CheckHistory; SYN/SYN-ACK reversal)
    swaps it."""

    def __init__(self, src: bytes, sport: int, dst: bytes, dport: int, flags: int, ts_ns: int) -> None:
        flip = wants_flip(flags, sport, dport)
        self.orig_key = (dst, dport) if flip else (src, sport)
        self.resp_key = (src, sport) if flip else (dst, dport)
        self.orig = _Endpoint(True)
        self.resp = _Endpoint(False)
        self.orig.peer, self.resp.peer = self.resp, self.orig
        self.history = "^" if flip else ""
        self.hist_seen = 0
        self.is_partial = False
        self.first_packet_seen = 0  # 1: orig, 2: resp
        self.start_ns = ts_ns
        self.last_ns = ts_ns
        self.missed_bytes = 0
        # timers (network time in ns; None = not pending): Zeek's analyzer timers and the session's inactivity
        self.attempt_at: int | None = None
        self.delete_at: int | None = None
        self.reset_at: int | None = None
        self.expire_at: list[int] = [ts_ns + ZEEK_SYN_TIMEOUT_NS]
        self.inactivity_ns = ZEEK_HANDSHAKE_INACTIVITY_NS
        self.removed = False

    # --- history (Session::CheckHistory / AddHistory / ScaledHistoryEntry) ------------------------------------

    def _add(self, ep: _Endpoint, code: str) -> None:
        self.history += code if ep.is_orig else code.lower()

    def _check(self, ep: _Endpoint, mask: int, code: str) -> bool:
        """TCP_Endpoint::CheckHistory: True when this letter was seen before from this side, else writes it."""
        if code in "AD" and self.history == "H":
            self._flip()
            self.history = "^h"
            self.first_packet_seen |= 1
        if not ep.is_orig:
            mask <<= 16
        if not self.hist_seen & mask:
            self.hist_seen |= mask
            self._add(ep, code)
            return False
        return True

    def _scaled(self, ep: _Endpoint, code: str, which: str) -> None:
        cnt = getattr(ep, which + "_cnt") + 1
        thresh = getattr(ep, which + "_thresh")
        if cnt == thresh:
            self._add(ep, code)
            new = thresh * 10
            if new <= thresh or new > M32:
                cnt = 0
            else:
                setattr(ep, which + "_thresh", new)
        setattr(ep, which + "_cnt", cnt)

    def _flip(self) -> None:
        """Connection::FlipRoles + TCPSessionAdapter::FlipRoles: the endpoints swap roles; '^' joins the history."""
        self.orig_key, self.resp_key = self.resp_key, self.orig_key
        self.orig, self.resp = self.resp, self.orig
        self.orig.is_orig = True
        self.resp.is_orig = False
        fps = self.first_packet_seen
        self.first_packet_seen = (2 if fps & 1 else 0) | (1 if fps & 2 else 0)
        self.is_partial = False
        self.history += "^"

    # --- one packet (TCPSessionAdapter::Process) ----------------------------------------------------------

    def is_orig(self, src: bytes, sport: int) -> bool:
        return (src, sport) == self.orig_key

    def packet(
        self, is_orig: bool, flags: int, seq: int, ack: int, length: int, captured: int, win: int, ts: int
    ) -> None:
        ep = self.orig if is_orig else self.resp
        peer = ep.peer
        if (
            flags & _SFRA == ACK
            and ep.state == ESTABLISHED
            and peer.state == ESTABLISHED
            and win
            and self.first_packet_seen == 3
            and self.hist_seen & ((HIST_DATA if length else HIST_ACK) << (0 if is_orig else 16))
        ):
            self._steady(ep, peer, seq, ack, length, captured, ts)
            return
        ep.pkts += 1
        self._set_partial_status(flags, is_orig)
        seg_len = length + (1 if flags & SYN else 0) + (1 if flags & FIN else 0)
        if flags & RST:
            seg_len -= length
        seq_one_past = (seq + seg_len) & M32
        self._init_endpoint(ep, flags, seq, seq_one_past)
        rel_seq, underflow = self._relative(ep, seq, ep.last, ep.seq_wraps, ep.start)
        self._update_history(flags, ep, rel_seq, length)
        # update_window: a zero window is interesting unless it comes with or after a RST, or after the peer's FIN
        if win == 0 and not flags & RST and peer.state != CLOSED and ep.state != RESET:
            self._scaled(ep, "W", "win0")
        if not (self.orig.did_close and self.resp.did_close):
            self.last_ns = ts
        if flags & FIN:
            ep.fin_cnt += 1
            ep.fin_seq = rel_seq + seg_len
        rel_ack = 0
        if flags & ACK:
            if peer.state == INACTIVE:
                rel_ack = 1
                peer.init_seqs(ack - 1, ack - 1)  # init_peer
            else:
                rel_ack, ack_underflow = self._relative(peer, ack, peer.ack, peer.ack_wraps, peer.start)
                if ack_underflow:
                    rel_ack = 0
                elif not flags & RST:  # update_ack_seq; a RST's ack is not trusted
                    delta_ack = _sd(ack, peer.ack)
                    if not (ack == 0 and delta_ack > TOO_LARGE_SEQ_DELTA) and delta_ack > 0:
                        peer.update_ack_seq(ack)
        delta_last = self._update_last_seq(ep, seq_one_past, flags, length)
        do_close = self._state_machine(ep, peer, seq, ack, length, delta_last, is_orig, flags, ts)
        if flags & ACK:
            self._ack_received(peer, rel_ack)
        rel_data_seq = rel_seq + 1 if flags & SYN else rel_seq
        if length > 0 and not flags & RST and not underflow and captured >= length:
            self._data_sent(ep, rel_data_seq, length)
        if do_close:
            self._connection_closed(ep, peer)

    def _steady(self, ep: _Endpoint, peer: _Endpoint, seq: int, ack: int, length: int, captured: int, ts: int) -> None:
        """:meth:`packet` for an ACK or data segment (no SYN/FIN/RST, window open) between two ESTABLISHED
        endpoints that have both sent before and whose history has this side's letter for its kind already: the
        same steps, without the ones that cannot change anything then (partial status, endpoint initialisation,
        history letter, state machine). The C engine runs the general path; tests/test_engine.py compares."""
        ep.pkts += 1
        rel_seq, underflow = self._relative(ep, seq, ep.last, ep.seq_wraps, ep.start)
        if not (self.orig.did_close and self.resp.did_close):
            self.last_ns = ts
        rel_ack, ack_underflow = self._relative(peer, ack, peer.ack, peer.ack_wraps, peer.start)
        if ack_underflow:
            rel_ack = 0
        else:
            delta_ack = _sd(ack, peer.ack)
            if not (ack == 0 and delta_ack > TOO_LARGE_SEQ_DELTA) and delta_ack > 0:
                peer.update_ack_seq(ack)
        last = (seq + length) & M32
        if _sd(last, ep.last) > 0:
            ep.update_last_seq(last)
        elif length > 0:
            self._scaled(ep, "T", "rxmt")
        self._ack_received(peer, rel_ack)
        if length > 0 and not underflow and captured >= length:
            self._data_sent(ep, rel_seq, length)

    def _set_partial_status(self, flags: int, is_orig: bool) -> None:
        if is_orig:
            if not self.first_packet_seen & 1:
                self.is_partial = not flags & SYN or bool(flags & ACK)
        elif not self.first_packet_seen & 2 and not self.is_partial:
            self.is_partial = not flags & SYN
        # CheckPIA_FirstPacket marks the side seen once its packet is processed
        self.first_packet_seen |= 1 if is_orig else 2

    @staticmethod
    def _init_endpoint(ep: _Endpoint, flags: int, seq: int, last: int) -> None:
        st = ep.state
        if st == INACTIVE:
            if flags & SYN:
                ep.init_seqs(seq, last)
            else:  # a partial connection: numbered as though a SYN came just before
                ep.init_seqs(seq - 1, seq)
        elif st in (SYN_SENT, SYN_ACK_SENT):
            if flags & SYN and seq != ep.start:  # SYN_seq_jump
                ep.init_seqs(seq, last)
        elif st in (ESTABLISHED, PARTIAL):
            if flags & SYN:
                ep.init_seqs(seq, last)
        elif st == RESET and flags & SYN and ep.prev_state == INACTIVE:
            ep.init_seqs(seq, last)  # the earlier RST may have been injected: the SYN numbers this side

    @staticmethod
    def _relative(ep: _Endpoint, cur: int, last: int, wraps: int, start: int) -> tuple[int, bool]:
        """get_relative_seq: (relative sequence number, underflow)."""
        delta = _sd(cur, last)
        if delta < 0:
            if wraps and cur > last:
                wraps -= 1
        elif delta > 0 and cur < last:
            wraps += 1
        if wraps == 0:
            d = _sd(cur, start)
            return d, d < 0
        return (wraps << 32) + cur - start, False

    def _update_history(self, flags: int, ep: _Endpoint, rel_seq: int, length: int) -> None:
        syn, fin, rst = flags & SYN, flags & FIN, flags & RST
        bits = (1 if syn else 0) + (1 if fin else 0) + (1 if rst else 0)
        if bits > 1:
            if fin and rst:
                self._check(ep, HIST_FIN_RST, "I")
            else:
                self._check(ep, HIST_MULTI, "Q")
        elif bits == 1:
            if syn:
                code = "H" if flags & ACK else "S"
                if self._check(ep, HIST_SYN, code) and rel_seq != ep.hist_last_syn:
                    self._add(ep, code)
                ep.hist_last_syn = rel_seq
            if fin:
                if self._check(ep, HIST_FIN, "F") and rel_seq + length != ep.hist_last_fin:
                    self._add(ep, "F")
                ep.hist_last_fin = rel_seq + length
            if rst:
                if self._check(ep, HIST_RST, "R") and rel_seq != ep.hist_last_rst:
                    self._add(ep, "R")
                ep.hist_last_rst = rel_seq
        elif length:
            self._check(ep, HIST_DATA, "D")
        elif flags & ACK:
            self._check(ep, HIST_ACK, "A")

    def _update_last_seq(self, ep: _Endpoint, last: int, flags: int, length: int) -> int:
        """update_last_seq: advance the endpoint's last sequence number; data that does not advance it is a
        retransmission ('t')."""
        delta_last = _sd(last, ep.last)
        if flags & (SYN | RST) and (delta_last > TOO_LARGE_SEQ_DELTA or delta_last < -TOO_LARGE_SEQ_DELTA):
            pass
        elif flags & FIN and ep.last == (ep.start + 1) & M32:
            ep.update_last_seq(last)
        elif ep.state == RESET:
            pass
        elif delta_last > 0:
            ep.update_last_seq(last)
        elif length > 0:
            self._scaled(ep, "T", "rxmt")
        return delta_last

    # --- the endpoint state machine (UpdateStateMachine and its Update*State) ------------------------------

    def _state_machine(
        self, ep: _Endpoint, peer: _Endpoint, seq: int, ack: int, length: int, delta_last: int, is_orig: bool,
        flags: int, ts: int,
    ) -> bool:  # fmt: skip
        st = ep.state
        do_close = False
        if st == INACTIVE:
            do_close = self._inactive(ep, peer, seq, length, is_orig, flags, ts)
        elif st in (SYN_SENT, SYN_ACK_SENT):
            if flags & FIN:
                ep.set_state(CLOSED)
                do_close = True
            if flags & RST:
                ep.set_state(RESET)
                do_close = True
        elif st in (ESTABLISHED, PARTIAL):
            if flags & SYN and st == PARTIAL and peer.state == INACTIVE and not flags & ACK:
                ep.set_state(SYN_SENT)  # SYN_after_partial
            if flags & FIN and not flags & RST:
                ep.set_state(CLOSED)
                if peer.state == RESET and peer.prev_state == CLOSED:
                    peer.set_state(CLOSED)  # the peer's FIN then RST was a normal termination
                do_close = True
            if flags & RST:
                ep.set_state(RESET)
                do_close = True
        elif st == CLOSED and flags & RST and peer.state != CLOSED:
            # UpdateClosedState: a RST after both FINs leaves the states alone (the exchange was complete)
            ep.set_state(RESET)
            if not ep.did_close:
                do_close = True
            self.reset_at = ts + ZEEK_RESET_DELAY_NS
        self._note_inactivity_timeout()
        return do_close

    def _inactive(
        self, ep: _Endpoint, peer: _Endpoint, seq: int, length: int, is_orig: bool, flags: int, ts: int
    ) -> bool:
        do_close = False
        if flags & SYN:
            if is_orig:
                ep.set_state(SYN_ACK_SENT if flags & ACK else SYN_SENT)
                self.attempt_at = ts + ZEEK_ATTEMPT_DELAY_NS
            else:
                if not flags & ACK and peer.state == SYN_ACK_SENT and seq == ep.start:
                    # a SYN/SYN-ACK reversal (IsReuse's discussion): flip and establish
                    self.is_partial = False
                    self._flip()
                    peer.set_state(ESTABLISHED)
                    self.first_packet_seen |= 1
                if peer.state == SYN_SENT:
                    peer.set_state(ESTABLISHED)
                ep.set_state(ESTABLISHED)
        if flags & FIN:
            ep.set_state(CLOSED)
            do_close = True
        if flags & RST:
            ep.set_state(RESET)
            do_close = True
        if ep.state == INACTIVE:  # no control flag changed it
            if not is_orig and length == 0 and self.orig.state == SYN_SENT:
                pass  # an ACK of the SYN before the SYN/ACK does not make a partial connection
            elif flags & ACK and peer.state == ESTABLISHED:
                # SYN/ACK seen, SYN missed, now an ACK: establish ("missed SYN": conn_state S1)
                ep.set_state(ESTABLISHED)
                self.is_partial = False
            else:
                ep.set_state(PARTIAL)
        return do_close

    def _note_inactivity_timeout(self) -> None:
        """TCP_Endpoint::SetState: leaving the handshake states switches to tcp_inactivity_timeout."""
        if self.inactivity_ns != ZEEK_INACTIVITY_NS and (
            self.orig.state not in (INACTIVE, SYN_SENT, SYN_ACK_SENT)
            or self.resp.state not in (INACTIVE, SYN_SENT, SYN_ACK_SENT)
        ):
            self.inactivity_ns = ZEEK_INACTIVITY_NS

    def _connection_closed(self, ep: _Endpoint, peer: _Endpoint) -> None:
        if ep.did_close:
            return
        ep.did_close = True
        if ep.state == RESET or peer.did_close or peer.state == INACTIVE:
            # close complete: CancelTimers, then the connection goes tcp_close_delay after its last packet
            self.attempt_at = self.reset_at = None
            self.expire_at = []
            self.delete_at = self.last_ns + ZEEK_CLOSE_DELAY_NS
        elif ep.prev_state != INACTIVE:
            self.expire_at.append(self.last_ns + ZEEK_SESSION_TIMER_NS)

    # --- content gaps (TCP_Reassembler DataSent / AckReceived; DataBlockList::Trim; Undelivered) ------------

    @staticmethod
    def _data_sent(ep: _Endpoint, seq: int, length: int) -> None:
        ack = (ep.ack_wraps << 32) + ep.ack - ep.start
        upper = seq + length
        if seq < ack:
            if upper <= ack:
                return
            seq = ack
        lo = max(seq, ep.trim, ep.last_reassem)
        if upper <= lo:
            return
        blocks = ep.blocks
        # insert [lo, upper) into the sorted, disjoint blocks, merging overlaps
        merged = [lo, upper]
        keep = []
        for b in blocks:
            if b[1] < merged[0] or b[0] > merged[1]:
                keep.append(b)
            else:
                merged = [min(b[0], merged[0]), max(b[1], merged[1])]
        keep.append(merged)
        keep.sort()
        # deliver what is now contiguous with last_reassem (BlockInserted)
        while keep and keep[0][0] <= ep.last_reassem:
            ep.last_reassem = max(ep.last_reassem, keep.pop(0)[1])
        ep.blocks = keep

    def _ack_received(self, ep: _Endpoint, seq: int) -> None:
        if ep.fin_cnt > 0 and seq >= ep.fin_seq:
            seq = ep.fin_seq - 1
        if seq <= ep.trim:
            return
        if seq > ep.last_reassem:
            self._undelivered(ep, seq)
        ep.blocks = [b for b in ep.blocks if b[1] > seq]
        ep.trim = seq

    def _undelivered(self, ep: _Endpoint, up_to: int) -> None:
        if up_to <= 2 and self.is_partial:
            return
        while ep.blocks and ep.blocks[0][0] < up_to:
            b = ep.blocks.pop(0)
            if b[0] > ep.last_reassem:
                self._gap(ep, b[0] - ep.last_reassem)
            ep.last_reassem = max(ep.last_reassem, b[1])
        if up_to > ep.last_reassem:
            self._gap(ep, up_to - ep.last_reassem)
            ep.last_reassem = up_to

    def _gap(self, ep: _Endpoint, length: int) -> None:
        """TCP_Reassembler::Gap: history 'g' and content_gap (conn.log's missed_bytes) only while both endpoints
        are established or closing cleanly."""
        if ep.clean() and ep.peer.clean():
            self._scaled(ep, "G", "gap")
            self.missed_bytes += length

    # --- timers and reuse (TCPSessionAdapter's timers, IsReuse; Session::InactivityTimer) ------------------

    def expires_before(self, ts: int) -> bool:
        """Whether a Zeek timer removed this connection before network time reached ``ts``."""
        o, r = self.orig, self.resp
        due: list[int] = []
        if self.delete_at is not None and self.delete_at <= ts:
            due.append(self.delete_at)
        if self.reset_at is not None and self.reset_at <= ts:
            due.append(self.reset_at)
        if (
            self.attempt_at is not None
            and self.attempt_at <= ts
            and o.state in (SYN_SENT, SYN_ACK_SENT)
            and r.state == INACTIVE
        ):
            due.append(self.attempt_at)
        for i, t0 in enumerate(self.expire_at):
            if t0 > ts:
                continue
            tick = t0 + (ts - t0) // ZEEK_SESSION_TIMER_NS * ZEEK_SESSION_TIMER_NS
            if self.last_ns + ZEEK_CONNECTION_LINGER_NS < tick and (
                (
                    (o.did_close or r.did_close)
                    and ((o.did_close and r.did_close) or RESET in (o.state, r.state) or INACTIVE in (o.state, r.state))
                )
                or (o.state == INACTIVE and r.state == INACTIVE)
            ):
                # the first tick at which it held
                first = t0 + max(0, (self.last_ns + ZEEK_CONNECTION_LINGER_NS - t0) // ZEEK_SESSION_TIMER_NS + 1) * (
                    ZEEK_SESSION_TIMER_NS
                )
                due.append(min(first, tick))
            else:
                self.expire_at[i] = tick + ZEEK_SESSION_TIMER_NS
        if self.last_ns + self.inactivity_ns < ts:
            due.append(self.last_ns + self.inactivity_ns)
        return bool(due)

    def is_reuse(self, flags: int, seq: int) -> bool:
        """TCPSessionAdapter::IsReuse: a SYN that starts a new connection on this 4-tuple."""
        if not flags & SYN:
            return False
        conn_orig = self.orig
        if flags & ACK:
            if self.orig.state != INACTIVE:
                return False
            conn_orig = self.resp
        if not (self.orig.did_close or self.resp.did_close):
            if seq == conn_orig.start:
                return False
            if (
                not flags & ACK
                and conn_orig.state == SYN_ACK_SENT
                and self.resp.state == INACTIVE
                and seq == self.resp.start
            ):
                return False
        return True

    # --- the row ------------------------------------------------------------------------------------------

    def conn_state(self) -> str:
        return conn_state(self.orig.state, self.resp.state, self.orig.size(), self.resp.size(), self.history)

    def final(self, client: tuple[bytes, int]) -> ZeekFinal:
        """What a stream's ``zeek`` block needs (the C engine hands the same, engine.engine_summary)."""
        o, r = self.orig, self.resp
        return ZeekFinal(
            0 if self.orig_key == client else 1, self.history, o.state, r.state, o.pkts, r.pkts, o.size(), r.size(),
            self.missed_bytes, self.start_ns, self.last_ns,
        )  # fmt: skip

    def row(self, uid: int = 0, stream: int = -1) -> ZeekRow:
        (oh, op), (rh, rp) = self.orig_key, self.resp_key
        duration_ns = self.last_ns - self.start_ns
        sized = duration_ns > 0  # main.zeek set_conn: sizes only when the duration is above 0
        return ZeekRow(
            uid=uid,
            orig=format_endpoint(oh, op),
            resp=format_endpoint(rh, rp),
            orig_h=oh,
            orig_p=op,
            resp_h=rh,
            resp_p=rp,
            conn_state=self.conn_state(),
            history=self.history,
            orig_pkts=self.orig.pkts,
            resp_pkts=self.resp.pkts,
            orig_bytes=self.orig.size() if sized else None,
            resp_bytes=self.resp.size() if sized else None,
            missed_bytes=self.missed_bytes,
            ts_ns=self.start_ns,
            duration_s=duration_ns / 1e9,
            community_id=community_id(oh, rh, op, rp),
            stream=stream,
        )


class ZeekFinal(NamedTuple):
    """A Zeek connection's end, as both engines report it for a stream: ``orig_dir`` is the stream direction
    (0: client to server) of Zeek's originator; states are :data:`STATE_NAMES` indices; sizes
    TCP_Endpoint::Size()."""

    orig_dir: int
    history: str
    orig_state: int
    resp_state: int
    orig_pkts: int
    resp_pkts: int
    orig_size: int
    resp_size: int
    missed_bytes: int
    start_ns: int
    last_ns: int


def conn_state(orig_state: int, resp_state: int, orig_size: int, resp_size: int, history: str) -> str:
    """scripts/base/protocols/conn/main.zeek ``function conn_state``, from the endpoints' final states."""
    os_, rs = orig_state, resp_state
    o_inactive = os_ in (INACTIVE, PARTIAL)
    r_inactive = rs in (INACTIVE, PARTIAL)
    if rs == RESET:
        if os_ in (SYN_SENT, SYN_ACK_SENT) or (os_ == RESET and orig_size == 0 and resp_size == 0):
            return "REJ"
        return "RSTRH" if o_inactive else "RSTR"
    if os_ == RESET:
        if r_inactive:
            return "RSTOS0" if _rstos0(history) else "OTH"
        return "RSTO"
    if rs == CLOSED and os_ == CLOSED:
        return "SF"
    if os_ == CLOSED:
        return "SH" if r_inactive else "S2"
    if rs == CLOSED:
        return "SHR" if o_inactive else "S3"
    if os_ == SYN_SENT and rs == INACTIVE:
        return "S0"
    if os_ == ESTABLISHED and rs == ESTABLISHED:
        return "S1"
    return "OTH"


# conn_state cached: the flows table asks it once per stream, and a million-connection capture has a handful of
# distinct (states, sizes, history) combinations
conn_state_cached = functools.lru_cache(maxsize=4096)(conn_state)


def zeek_block(final: ZeekFinal, client: tuple[bytes, int], server: tuple[bytes, int]) -> dict[str, Any]:
    """A stream's ``zeek`` block in ``flows --format json``: the stream as one Zeek connection (Wireshark's
    boundaries; ``flows --zeek`` has Zeek's), every field with conn.log's definition."""
    sized = final.last_ns - final.start_ns > 0  # main.zeek set_conn: sizes only when the duration is above 0
    (ch, cp), (sh, sp) = client, server
    return {
        "conn_state": conn_state(final.orig_state, final.resp_state, final.orig_size, final.resp_size, final.history),
        "history": final.history,
        "orig": "client" if final.orig_dir == 0 else "server",
        "orig_pkts": final.orig_pkts,
        "resp_pkts": final.resp_pkts,
        "orig_bytes": final.orig_size if sized else None,
        "resp_bytes": final.resp_size if sized else None,
        "missed_bytes": final.missed_bytes,
        "community_id": community_id(ch, sh, cp, sp),
    }


def _rstos0(history: str) -> bool:
    """/\\^?S[^HAFGIQ]*R.*/ matched against the whole history (Zeek patterns are anchored)."""
    import re

    return re.fullmatch(r"\^?S[^HAFGIQ]*R.*", history) is not None


class ZeekTracker:
    """Zeek's connections over a capture: feed every TCP segment in capture order (:meth:`add`), then
    :meth:`rows` lists one conn.log row per connection, in the order the connections began."""

    def __init__(self) -> None:
        self.live: dict[tuple[bytes, int, bytes, int], tuple[int, ZeekConnection, int]] = {}
        self.done: list[tuple[int, ZeekConnection, int]] = []
        self.count = 0

    def add(self, src: bytes, sport: int, dst: bytes, dport: int, flags: int, seq: int, ack: int, length: int,
            captured: int, win: int, ts: int, stream: int = -1, analyse: bool = True,
            reuse_ok: bool = True) -> None:  # fmt: skip
        """One segment. ``analyse`` False: a segment Zeek cannot read past its fixed header (cut by the snap
        length, or a header length beyond the packet): it makes a connection, and does nothing else
        (TCPAnalyzer::ExtractTCP_Header); ``reuse_ok`` False: a data offset below 5 words, which IsReuse refuses."""
        a, b = (src, sport), (dst, dport)
        key = (*a, *b) if a <= b else (*b, *a)
        entry = self.live.get(key)
        if entry is not None:
            conn = entry[1]
            if conn.expires_before(ts) or (reuse_ok and conn.is_reuse(flags, seq)):
                self.done.append(entry)
                entry = None
        if entry is None:
            conn = ZeekConnection(src, sport, dst, dport, flags, ts)
            entry = (self.count, conn, stream)
            self.count += 1
            self.live[key] = entry
        conn = entry[1]
        if analyse:
            conn.packet(conn.is_orig(src, sport), flags, seq, ack, length, captured, win, ts)

    def rows(self) -> list[ZeekRow]:
        entries = sorted([*self.done, *self.live.values()], key=lambda e: e[0])
        return [conn.row(uid, stream) for uid, conn, stream in entries]


def zeek_rows(segments: Any) -> list[ZeekRow]:
    """conn.log rows of TCP segments in capture order (an iterable of :class:`tcptrace.model.Segment`; a row's
    ``stream`` is its first segment's, -1 when they carry none)."""
    tracker = ZeekTracker()
    for seg in segments:
        tracker.add(seg.src, seg.sport, seg.dst, seg.dport, seg.flags, seg.seq_raw, seg.ack_raw, seg.len,
                    len(seg.payload), seg.win_raw, seg.ts_ns, getattr(seg, "stream", -1), analysable(seg),
                    seg.header_error != HDR_BOGUS_LENGTH)  # fmt: skip
    return tracker.rows()


def analysable(seg: Any) -> bool:
    """Whether Zeek analyses this segment: not when its header is cut by the snap length or longer than the
    packet (truncated_header), nor when its data offset is below 5 words (bad_TCP_header_len)."""
    return not (seg.header_error or seg.header_truncated)


def capture_zeek_rows(source: Any) -> tuple[list[ZeekRow], Any]:
    """One conn.log row per Zeek connection of a capture, each with the Wireshark stream (``tcp.stream``) its
    first packet belongs to; and the capture's statistics. (``tcptrace flows --zeek``.)"""
    from .capture import open_capture
    from .flow import FlowTracker

    capture = open_capture(source)
    feed = FlowTracker().feed

    def numbered() -> Any:
        for seg in capture:
            feed(seg)
            yield seg

    return zeek_rows(numbered()), capture.stats


__all__ = [
    "STATE_NAMES",
    "ZeekConnection",
    "ZeekFinal",
    "ZeekRow",
    "ZeekTracker",
    "analysable",
    "capture_zeek_rows",
    "community_id",
    "conn_state",
    "conn_state_cached",
    "wants_flip",
    "zeek_block",
    "zeek_rows",
]
