"""Per-flow statistics and verdicts: how each connection opened and ended, in words and in the three
vocabularies users know (Wireshark ``tcp.completeness``, Zeek ``conn_state``/``history`` from
:mod:`tcptrace.zeek`, classic tcptrace's complete/reset/unidirectional), per-direction statistics of our own
(:class:`DirStats`) and classic tcptrace ``-l``'s, with its definitions (:mod:`tcptrace.classic`). The driver
that feeds them (Pipeline, summarize, the C engine's glue) is :mod:`tcptrace.engine`.

Theory of operation. A :class:`FlowSummary` per stream is fed every analysed segment in capture order
(:meth:`FlowSummary.add`); it keeps counters only, so memory grows with flows, not packets. It also assigns
each packet its *phase* (handshake, data, teardown, reset) and, through :mod:`tcptrace.state`, each endpoint's
RFC 9293 state. :meth:`FlowSummary.to_dict` computes the verdict from the counters at the end.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any, NamedTuple

from . import seqnum
from .analysis import (
    A_DUPLICATE_ACK,
    A_FAST_RETRANSMISSION,
    A_LOST_PACKET,
    A_OUT_OF_ORDER,
    A_RETRANSMISSION,
    A_SPURIOUS_RETRANSMISSION,
    A_ZERO_WINDOW,
    A_ZERO_WINDOW_PROBE,
    analysis_names,
)
from .classic import ClassicDir, classic_add, classic_block
from .flow import Flow
from .messages import LANGUAGES
from .model import _ADDR_CACHE, ACK, FIN, RST, SYN, Segment, format_addr, format_endpoint
from .state import ConnectionMachine, TcpState
from .vocab import FLAGS, HDR_SHORT_SEGMENT, MAX_ANOMALIES, MAX_RESETS, RST_CAUSES
from .zeek import ZeekConnection, ZeekFinal, community_id, conn_state_cached, zeek_block

M32 = 0xFFFFFFFF
_RETRANS = A_RETRANSMISSION | A_FAST_RETRANSMISSION | A_SPURIOUS_RETRANSMISSION

# Wireshark tcp.completeness bits (packet-tcp.c TCP_COMPLETENESS_*)
C_SYNSENT, C_SYNACK, C_ACK, C_DATA, C_FIN, C_RST = 1, 2, 4, 8, 16, 32


def completeness_label(bits: int) -> str:
    """The label Wireshark 4.0 shows for ``tcp.completeness`` (conversation_completeness_fill)."""
    if bits & 7 == 7 and bits & (C_FIN | C_RST):
        return f"Complete, {'WITH_DATA' if bits & C_DATA else 'NO_DATA'} ({bits})"
    names = {1: "SYN_SENT", 3: "CLIENT_ESTABLISHED", 7: "ESTABLISHED", 15: "DATA"}
    return f"Incomplete, {names[bits]} ({bits})" if bits in names else f"Incomplete ({bits})"


class DirStats:
    """One direction's counters (the flow document's ``c2s``/``s2c``), in classic tcptrace ``-l``'s spirit but with
    our definitions: retransmissions, out-of-order segments and probes as Wireshark labels them, hardware duplicates
    excluded, missed bytes from Wireshark's gaps. Classic's own definitions are :mod:`tcptrace.classic`'s (the
    ``tcptrace`` block); docs/vocabulary-tcptrace.md says where the two differ."""

    __slots__ = (
        "ack_packets",
        "data_bytes",
        "data_packets",
        "dup_acks",
        "fin_packets",
        "first_ts",
        "flag_counts",
        "last_ts",
        "max_idle_ns",
        "missed_bytes",
        "mss",
        "ooo_packets",
        "packets",
        "pure_acks",
        "pushed_packets",
        "rexmt_bytes",
        "rexmt_packets",
        "rst_packets",
        "rtt_max",
        "rtt_min",
        "rtt_n",
        "rtt_sum",
        "rtt_sumsq",
        "sack_packets",
        "sack_permitted",
        "seg_max",
        "seg_min",
        "seq_hi",
        "seq_lo",
        "syn_packets",
        "timestamps",
        "truncated_bytes",
        "truncated_packets",
        "win_max",
        "win_min",
        "win_n",
        "win_sum",
        "wscale",
        "zero_win_adv",
        "zwp_bytes",
        "zwp_packets",
    )

    def __init__(self) -> None:
        self.ack_packets: int = 0
        self.data_bytes: int = 0
        self.data_packets: int = 0
        self.dup_acks: int = 0
        self.fin_packets: int = 0
        self.first_ts: int = -1
        self.flag_counts: dict[str, int] = {}
        self.last_ts: int = 0
        self.max_idle_ns: int = 0
        self.missed_bytes: int = 0
        self.mss: int | None = None
        self.ooo_packets: int = 0
        self.packets: int = 0
        self.pure_acks: int = 0
        self.pushed_packets: int = 0
        self.rexmt_bytes: int = 0
        self.rexmt_packets: int = 0
        self.rst_packets: int = 0
        self.rtt_max: int = 0
        self.rtt_min: int = -1
        self.rtt_n: int = 0
        self.rtt_sum: int = 0
        self.rtt_sumsq: int = 0
        self.sack_packets: int = 0
        self.sack_permitted: bool = False
        self.seg_max: int = 0
        self.seg_min: int = -1
        self.seq_lo: int = 0  # relative sequence span of the data (application bytes = seq_hi - seq_lo), set by
        self.seq_hi: int = 0  # the first data segment; below the base it is negative
        self.syn_packets: int = 0
        self.timestamps: bool = False
        self.truncated_bytes: int = 0
        self.truncated_packets: int = 0
        self.win_max: int = 0
        self.win_min: int = -1
        self.win_n: int = 0
        self.win_sum: int = 0
        self.wscale: int | None = None
        self.zero_win_adv: int = 0
        self.zwp_bytes: int = 0
        self.zwp_packets: int = 0

    @property
    def app_bytes(self) -> int:
        """Application bytes: the sequence span the data covered, whether or not every segment was captured and
        however often it was re-sent (a flow over 4 GiB wraps)."""
        return self.seq_hi - self.seq_lo if self.data_packets else 0

    def to_dict(self, duration_s: float) -> dict[str, Any]:
        unique = self.data_bytes - self.rexmt_bytes - self.zwp_bytes
        rtt = None
        if self.rtt_n:
            mean = self.rtt_sum / self.rtt_n
            var = max(0.0, self.rtt_sumsq / self.rtt_n - mean * mean)
            rtt = {
                "samples": self.rtt_n,
                "min_ms": self.rtt_min / 1e6,
                "avg_ms": mean / 1e6,
                "max_ms": self.rtt_max / 1e6,
                "stdev_ms": math.sqrt(var) / 1e6,
            }
        return {
            "packets": self.packets,
            "ack_packets": self.ack_packets,
            "pure_acks": self.pure_acks,
            "sack_packets": self.sack_packets,
            "rst_packets": self.rst_packets,
            "syn_packets": self.syn_packets,
            "fin_packets": self.fin_packets,
            "data_packets": self.data_packets,
            "data_bytes": self.data_bytes,
            "app_bytes": self.app_bytes,
            "unique_bytes": unique,
            "rexmt_packets": self.rexmt_packets,
            "rexmt_bytes": self.rexmt_bytes,
            "out_of_order_packets": self.ooo_packets,
            "zero_window_probe_packets": self.zwp_packets,
            "zero_window_probe_bytes": self.zwp_bytes,
            "duplicate_acks": self.dup_acks,
            "pushed_packets": self.pushed_packets,
            "mss_requested": self.mss,
            "window_scale": self.wscale,
            "sack_permitted": self.sack_permitted,
            "timestamps": self.timestamps,
            "segment_size": {
                "min": max(self.seg_min, 0),
                "avg": (self.data_bytes / self.data_packets) if self.data_packets else 0,
                "max": self.seg_max,
            },
            "advertised_window": {
                "min": max(self.win_min, 0),
                "avg": (self.win_sum / self.win_n) if self.win_n else 0,
                "max": self.win_max,
            },
            "zero_window_advertisements": self.zero_win_adv,
            "missed_bytes": self.missed_bytes,
            "truncated_bytes": self.truncated_bytes,
            "truncated_packets": self.truncated_packets,
            "max_idle_s": self.max_idle_ns / 1e9,
            "throughput_Bps": (unique / duration_s) if duration_s > 0 else 0.0,
            "rtt": rtt,
            "analysis": dict(sorted(self.flag_counts.items())),
        }


class FlowSummary:
    """Everything tcptrace says about one stream, accumulated packet by packet."""

    def __init__(self, flow: Flow, classic: tuple[Any, Any] | None = None) -> None:
        self.flow = flow
        self.dirs = (DirStats(), DirStats())
        self.completeness = 0
        self.syn_frame = 0
        self.synack_frame = 0
        self.handshake_ack_frame = 0
        self.handshake_done = False
        self.fin_frames: list[tuple[int, int]] = []  # (direction, frame) of the first FIN of each side
        self.fin_next: list[int | None] = [None, None]  # raw nextseq of each side's FIN
        self.fin_acked: list[int] = [0, 0]  # frame acknowledging each side's FIN
        # (direction, frame, sender state, cause, len) of the first MAX_RESETS RSTs; rst_total counts every one
        self.rst: list[tuple[int, int, str, str, int]] = []
        self.rst_total = 0
        self.data_after_fin: list[int] = [0, 0]  # data bytes a side sent after the *other* side's FIN
        self.first_ts = -1
        self.first_direction = 0  # who sent the first packet seen (classic tcptrace's host "a")
        self.last_ts = 0
        self.packets = 0
        self.anomalies: list[dict[str, Any]] = []
        self.machine = ConnectionMachine()
        # Zeek's view of the stream as one connection (tcptrace.zeek), fed every segment Zeek would analyse; the
        # C engine hands its end as zeek_final instead (engine.engine_summary)
        self.zeek: ZeekConnection | None = None
        self.zeek_final: ZeekFinal | None = None
        # classic tcptrace's per-direction tcb (tcptrace.classic), by our direction (0: client); from the C engine,
        # its ClassicRecords (the same fields by name, read only)
        self.classic: tuple[Any, Any] = (ClassicDir(), ClassicDir()) if classic is None else classic
        # [time of the last packet of the trace so far], shared by the driver's summaries (classic's idle time
        # runs to the end of the trace for connections not closed); None: this summary's own last packet
        self.trace_clock: list[int] | None = None
        # see on_event(): bit 2 * direction + has_data is set when such segments change nothing but counters
        self.steady_mask = 0

    # --- per packet ---------------------------------------------------------------------------------

    def add(self, seg: Segment) -> None:
        flags = seg.flags
        # Zeek's view: the first segment makes the connection; one whose header Zeek cannot read does no more
        zeek = self.zeek
        if zeek is None:
            zeek = self.zeek = ZeekConnection(seg.src, seg.sport, seg.dst, seg.dport, flags, seg.ts_ns)
        if not (seg.header_error or seg.header_truncated):  # tcptrace.zeek.analysable
            zeek.packet(
                (seg.src, seg.sport) == zeek.orig_key, flags, seg.seq_raw, seg.ack_raw, seg.len, len(seg.payload),
                seg.win_raw, seg.ts_ns,
            )  # fmt: skip
        if seg.header_error:
            self._add_malformed(seg, flags)
            return
        # steady_mask bit 2 * direction + has_data (see on_event), tested inline: this runs for every packet
        if (
            not flags & 0x07
            and flags & ACK
            and not seg.analysis
            and self.steady_mask >> (2 * seg.direction + (seg.len > 0)) & 1
        ):
            self._add_steady(seg)
            return
        direction = seg.direction
        d = self.dirs[direction]
        seglen = seg.len
        ts = seg.ts_ns
        ta = seg.analysis
        first = self.packets == 0
        self.packets += 1
        if first:
            self.first_ts = ts
            self.first_direction = direction
        self.last_ts = ts
        # completeness, as single-pass TShark 4.0.17 computes it (checked against the last packet of each of the
        # corpus's streams): a pure SYN opening the conversation sets SYN (+DATA with a payload); any other first
        # packet records nothing, not even a RST; every later packet adds SYN-ACK, DATA or ACK, FIN (with ACK),
        # RST. (`tshark -2` re-dissects the first packet on its second pass and may add its bits too.)
        if first:
            if flags & (SYN | ACK) == SYN:
                self.completeness = C_SYNSENT | (C_DATA if seglen else 0)
        else:
            if flags & (SYN | ACK) == SYN | ACK:
                self.completeness |= C_SYNACK
            elif flags & ACK and not flags & SYN:
                self.completeness |= C_DATA if seglen else C_ACK
            if flags & (FIN | ACK) == FIN | ACK:
                self.completeness |= C_FIN
            if flags & RST:
                self.completeness |= C_RST
        self._count(seg, d, flags, seglen, ts)
        classic_add(self.classic, seg)
        if flags & FIN:
            d.fin_packets += 1
        if flags & RST:
            d.rst_packets += 1
        if flags & SYN:
            d.syn_packets += 1
        if ta:
            counts = d.flag_counts
            for name in analysis_names(ta):  # as tshark counts them: fast and spurious are retransmissions too
                counts[name] = counts.get(name, 0) + 1
            if ta & _RETRANS:
                d.rexmt_packets += 1
                d.rexmt_bytes += seglen
            if ta & A_OUT_OF_ORDER:
                d.ooo_packets += 1
            if ta & A_ZERO_WINDOW_PROBE:
                d.zwp_packets += 1
                d.zwp_bytes += seglen
            if ta & A_ZERO_WINDOW:
                d.zero_win_adv += 1
            if ta & A_DUPLICATE_ACK:
                d.dup_acks += 1
            if ta & A_LOST_PACKET:
                ev = (seg.evidence or {}).get("lost_segment")
                if ev is not None:
                    d.missed_bytes += int(ev.get("gap", 0))
        self.on_event(seg, first)

    def on_event(self, seg: Segment, first: bool) -> int:
        """The part of :meth:`add` beyond the counters: SYN options and lifecycle (states, phase, FINs, RSTs).
        Returns the new :attr:`steady_mask`. (tcptrace/_engine.c ``lifecycle`` is its C twin.)"""
        if seg.flags & SYN:
            d = self.dirs[seg.direction]
            opts = seg.options
            d.mss = opts.mss if opts.mss is not None else d.mss
            d.wscale = opts.wscale if opts.wscale is not None else d.wscale
            d.sack_permitted = d.sack_permitted or opts.sack_permitted
            d.timestamps = d.timestamps or opts.tsval is not None
        self._lifecycle(seg, first)
        m = self.machine
        # Steady: both ESTABLISHED, handshake settled, no FIN yet. Then an ACK-bearing segment without SYN/FIN/RST
        # and without analysis flags changes nothing but counters (Zeek's model sees every segment before this).
        mask = 0
        if (
            m.client.state is TcpState.ESTABLISHED
            and m.server.state is TcpState.ESTABLISHED
            and self.fin_next[0] is None
            and self.fin_next[1] is None
            and (self.handshake_done or not self.synack_frame)
        ):
            mask = 0b1111
        self.steady_mask = mask
        return mask

    def _add_malformed(self, seg: Segment, flags: int) -> None:
        """A header Wireshark dissects only in part (``seg.header_error``): a packet of the conversation, and
        a short segment moves tcp.completeness (packet-tcp.c does that after its header-length check, with no
        payload); nothing else is trusted: no counters, no state, no Zeek history."""
        direction = seg.direction
        ts = seg.ts_ns
        first = self.packets == 0
        self.packets += 1
        if first:
            self.first_ts = ts
            self.first_direction = direction
        self.last_ts = ts
        self.dirs[direction].packets += 1
        # classic tcptrace reads it as any other segment (with no options, and no payload for a short segment)
        classic_add(self.classic, seg)
        if first:
            # packet-tcp.c: a pure SYN reopening a 4-tuple sets SYN-sent on its new conversation before the
            # header-length checks; a short segment opening one records its pure SYN after them.
            if flags & (SYN | ACK) == SYN and (
                seg.header_error == HDR_SHORT_SEGMENT or self.flow.reused_ports_frame == seg.frame
            ):
                self.completeness = C_SYNSENT
        elif seg.header_error == HDR_SHORT_SEGMENT:
            if flags & (SYN | ACK) == SYN | ACK:
                self.completeness |= C_SYNACK
            elif flags & ACK and not flags & SYN:
                self.completeness |= C_ACK
            if flags & (FIN | ACK) == FIN | ACK:
                self.completeness |= C_FIN
            if flags & RST:
                self.completeness |= C_RST
        machine = self.machine
        seg.client_state = machine.client.state
        seg.server_state = machine.server.state
        seg.phase = "data"

    def _add_steady(self, seg: Segment) -> None:
        """The common case (see ``steady``): nothing changes but counters, states stay ESTABLISHED."""
        seglen = seg.len
        ts = seg.ts_ns
        self.packets += 1
        self.last_ts = ts
        self.completeness |= C_DATA if seglen else C_ACK
        self._count(seg, self.dirs[seg.direction], seg.flags, seglen, ts)
        classic_add(self.classic, seg)
        seg.phase = "data"
        seg.client_state = seg.server_state = TcpState.ESTABLISHED

    def _count(self, seg: Segment, d: DirStats, flags: int, seglen: int, ts: int) -> None:
        """The per-direction counters every segment updates (classic tcptrace -l), and the RTT sample its ACK
        gives the other direction."""
        d.packets += 1
        if d.first_ts < 0:
            d.first_ts = ts
        elif ts - d.last_ts > d.max_idle_ns:
            d.max_idle_ns = ts - d.last_ts
        d.last_ts = ts
        if flags & ACK:
            d.ack_packets += 1
            if not seglen and not flags & (SYN | FIN | RST):
                d.pure_acks += 1
        if flags & 0x08:
            d.pushed_packets += 1
        fa = self.flow.analysis
        if fa is not None and fa.dirs[seg.direction].sack_blocks:  # the analyser decoded its SACK blocks
            d.sack_packets += 1
        if seglen:
            d.data_packets += 1
            d.data_bytes += seglen
            # a SYN's data follows its own sequence number; a seq below the base (data from before the capture's
            # first segment of this side) counts as negative, not as 4 GiB ahead
            lo = seg.seq + 1 if flags & SYN else seg.seq
            if lo >= 0x80000000:
                lo -= 0x100000000
            hi = lo + seglen
            if d.data_packets == 1 or lo < d.seq_lo:
                d.seq_lo = lo
            if d.data_packets == 1 or hi > d.seq_hi:
                d.seq_hi = hi
            if seglen > d.seg_max:
                d.seg_max = seglen
            if d.seg_min < 0 or seglen < d.seg_min:
                d.seg_min = seglen
            cut = seglen - len(seg.payload)
            if cut > 0:
                d.truncated_bytes += cut
                d.truncated_packets += 1
        if not flags & SYN:  # a SYN's window is never scaled: not an advertised window in the statistics
            win = seg.win
            d.win_n += 1
            d.win_sum += win
            if win > d.win_max:
                d.win_max = win
            if d.win_min < 0 or win < d.win_min:
                d.win_min = win
        r = seg.ack_rtt_ns
        if r >= 0:
            o = self.dirs[1 - seg.direction]
            o.rtt_n += 1
            o.rtt_sum += r
            o.rtt_sumsq += r * r
            if r > o.rtt_max:
                o.rtt_max = r
            if o.rtt_min < 0 or r < o.rtt_min:
                o.rtt_min = r

    def _lifecycle(self, seg: Segment, first: bool) -> None:
        """Handshake/close/reset bookkeeping, the phase of the packet and both endpoints' states."""
        direction = seg.direction
        flags = seg.flags
        other = 1 - direction
        # does this segment acknowledge the other side's FIN (for the first time)?
        acks_fin = False
        fin_next = self.fin_next[other]
        if flags & ACK and fin_next is not None and seqnum.ge(seg.ack_raw, fin_next):
            acks_fin = True
            if not self.fin_acked[other]:
                self.fin_acked[other] = seg.frame
        machine = self.machine
        before = machine.states
        for anomaly in machine.on_segment(seg.frame, direction == 0, flags, acks_fin, first):
            if len(self.anomalies) < MAX_ANOMALIES:
                self.anomalies.append({"frame": seg.frame, "text": anomaly.message})
        seg.client_state = machine.client.state  # TcpState is a str: no .value lookup on the hot path
        seg.server_state = machine.server.state
        # phase
        if flags & RST:
            phase = "reset"
        elif flags & SYN:
            phase = "handshake"
            if flags & ACK:
                self.synack_frame = self.synack_frame or seg.frame
            else:
                self.syn_frame = self.syn_frame or seg.frame
        elif not self.handshake_done and self.synack_frame and direction == 0 and not seg.len and flags & ACK:
            phase = "handshake"
            self.handshake_done = True
            self.handshake_ack_frame = seg.frame
        elif flags & FIN:
            phase = "teardown"
        elif seg.len:
            phase = "data"
            if self.fin_next[other] is not None and self.fin_next[direction] is None:
                self.data_after_fin[direction] += seg.len
        elif self.fin_next[0] is not None or self.fin_next[1] is not None:
            phase = "teardown"
        else:
            phase = "data"
        if seg.len or flags & (SYN | ACK) == ACK:
            self.handshake_done = self.handshake_done or bool(self.synack_frame)
        seg.phase = phase
        if flags & FIN and self.fin_next[direction] is None:
            self.fin_next[direction] = (seg.seq_raw + seg.len + 1) & M32
            self.fin_frames.append((direction, seg.frame))
        if flags & RST:
            # every RST carries its own state and cause (what explain words); the summary lists the first few
            state = str(before[direction])
            cause = self.rst_cause(seg, state)
            seg.rst_info = (state, cause)
            self.rst_total += 1
            if len(self.rst) < MAX_RESETS:
                self.rst.append((direction, seg.frame, state, cause, seg.len))

    def rst_cause(self, seg: Segment, sender_state: str) -> str:
        """Why ``seg`` (an RST sent from ``sender_state``) was sent, as one of vocab.RST_CAUSES."""
        direction = seg.direction
        if (
            sender_state in ("LISTEN", "SYN_RECEIVED", "CLOSED")
            and self.syn_frame
            and not self.synack_frame
            and direction == 1
        ):
            return "refused"
        if self.fin_next[direction] is not None:
            return "closed_socket"
        if sender_state in ("ESTABLISHED", "CLOSE_WAIT", "SYN_RECEIVED"):
            return "abortive"
        if sender_state == "UNKNOWN":
            return "mid_stream"
        return "stray"

    # --- verdict ------------------------------------------------------------------------------------

    def opened(self) -> str:
        return opened_how(self.syn_frame, self.synack_frame, self.handshake_ack_frame, self._first_reset(),
                          self.dirs[1].packets)  # fmt: skip

    def closed(self) -> str:
        return closed_how(self.fin_frames, self.fin_acked, self._first_reset())

    def sentence(self, lang: str = "en") -> str:
        """The one-line verdict in ``lang`` (wording in tcptrace.messages, ``verdict.*`` keys)."""
        return verdict_sentence(self.opened(), self.closed(), close_shape(self.fin_frames, self.fin_acked),
                                self._first_reset(), self.dirs[0].app_bytes, self.dirs[1].app_bytes, lang)  # fmt: skip

    def simultaneous_close(self) -> bool:
        """Both FINs were sent before either was acknowledged: they crossed on the wire."""
        return close_shape(self.fin_frames, self.fin_acked) == "simultaneous"

    def _first_reset(self) -> tuple[int, int] | None:
        """The first RST's (direction, RST_CAUSES index), as RowRecord.first_reset has it."""
        if not self.rst:
            return None
        d, _, _, cause, _ = self.rst[0]
        return d, RST_CAUSES.index(cause)

    def row_facts(self) -> RowFacts:
        """What the flows table and CSV show of this stream, as the C engine's Engine.row gives it."""
        flow, c, s, z = self.flow, self.dirs[0], self.dirs[1], self.zeek_end()
        counts = tuple(c.flag_counts.get(name, 0) + s.flag_counts.get(name, 0) for name in _FLAG_ORDER)
        return RowFacts(
            flow.stream, flow.client.addr, flow.client.port, flow.server.addr, flow.server.port,
            flow.roles_guessed, self.first_ts, self.last_ts, self.packets, (c.packets, s.packets),
            (c.data_bytes, s.data_bytes), (c.app_bytes, s.app_bytes), self.completeness, z.history,
            (z.orig_state, z.resp_state), (z.orig_size, z.resp_size), self.syn_frame, self.synack_frame,
            self.handshake_ack_frame, tuple(self.fin_frames), (self.fin_acked[0], self.fin_acked[1]),
            self._first_reset(), self.rst_total, counts,
        )  # fmt: skip

    def zeek_end(self) -> ZeekFinal:
        """The stream as one Zeek connection, at its end: from the C engine (zeek_final), from the Python
        tracker, or empty when no segment was one Zeek analyses."""
        if self.zeek_final is not None:
            return self.zeek_final
        if self.zeek is not None:
            c = self.flow.client
            return self.zeek.final((c.addr, c.port))
        return ZeekFinal(0, "", 0, 0, 0, 0, 0, 0, 0, self.first_ts, self.first_ts)

    def to_dict(self, classic: bool = True) -> dict[str, Any]:
        """The flow document (``flows --format json``); ``classic=False`` leaves out the per-direction statistics
        of the ``tcptrace`` block (``a2b``/``b2a``), which the flows table and CSV do not show."""
        flow = self.flow
        duration_s = flow_duration_s(self.first_ts, self.last_ts, self.packets)
        c, s = flow.client, flow.server
        bits = self.completeness
        zeek = self.zeek_end()
        fa = flow.analysis
        irtt = fa.ts_first_rtt / 1e9 if fa is not None and fa.ts_first_rtt else None
        return {
            "stream": flow.stream,
            "client": format_endpoint(c.addr, c.port),
            "server": format_endpoint(s.addr, s.port),
            # Community ID v1, as Zeek's conn.log, Suricata's EVE and Arkime write it: our flows join their logs
            "community_id": community_id(c.addr, s.addr, c.port, s.port),
            "roles_guessed": flow.roles_guessed,
            "first_frame": flow.first_frame,
            "last_frame": flow.last_frame,
            "start_time": self.first_ts / 1e9,
            "duration_s": duration_s,
            "packets": {"c2s": self.dirs[0].packets, "s2c": self.dirs[1].packets},
            "bytes": {"c2s": self.dirs[0].data_bytes, "s2c": self.dirs[1].data_bytes},  # payload on the wire
            "app_bytes": {"c2s": self.dirs[0].app_bytes, "s2c": self.dirs[1].app_bytes},
            "retransmitted_bytes": {"c2s": self.dirs[0].rexmt_bytes, "s2c": self.dirs[1].rexmt_bytes},
            "verdict": self.sentence(),
            "opened": self.opened(),
            "closed": self.closed(),
            "handshake_frames": [f for f in (self.syn_frame, self.synack_frame, self.handshake_ack_frame) if f],
            "fin_frames": [{"by": "client" if d == 0 else "server", "frame": f} for d, f in self.fin_frames],
            "resets": [
                {
                    "by": "client" if d == 0 else "server",
                    "frame": f,
                    "sender_state": st,
                    "cause": LANGUAGES["en"]["cause." + cause],
                    "cause_code": cause,
                }
                for d, f, st, cause, _ in self.rst
            ],
            "resets_total": self.rst_total,
            "irtt_s": irtt,
            "client_state": self.machine.client_state.value,
            "server_state": self.machine.server_state.value,
            "anomalies": self.anomalies[:20],
            "wireshark": {"completeness": bits, "completeness_label": completeness_label(bits)},
            "zeek": zeek_block(zeek, (c.addr, c.port), (s.addr, s.port)),
            "tcptrace": {
                "complete": self.dirs[0].syn_packets > 0
                and self.dirs[1].syn_packets > 0
                and self.dirs[0].fin_packets > 0
                and self.dirs[1].fin_packets > 0,
                "reset": bool(self.rst),
                "unidirectional": not (self.dirs[0].packets and self.dirs[1].packets),
                # classic's host a sent the connection's first packet; per direction, tcptrace -l's statistics
                "host_a": format_endpoint(*((c.addr, c.port) if self.first_direction == 0 else (s.addr, s.port))),
                "host_b": format_endpoint(*((s.addr, s.port) if self.first_direction == 0 else (c.addr, c.port))),
                **(
                    classic_block(
                        self.classic,
                        self.first_direction,
                        self.last_ts - self.first_ts if self.packets else 0,
                        self.trace_clock[0] if self.trace_clock else self.last_ts,
                    )
                    if classic
                    else {}
                ),
            },
            "c2s": self.dirs[0].to_dict(duration_s),
            "s2c": self.dirs[1].to_dict(duration_s),
        }


# --- what the flows table shows: one definition for FlowSummary.to_dict and the lean rows ----------------------------


def flow_duration_s(first_ts: int, last_ts: int, packets: int) -> float:
    """A stream's duration: its first packet to its last."""
    return (last_ts - first_ts) / 1e9 if packets else 0.0


def opened_how(
    syn_frame: int, synack_frame: int, handshake_ack_frame: int, first_reset: tuple[int, int] | None, s2c_packets: int
) -> str:
    """How the stream opened: handshake, refused, unanswered_syn, no_syn_ack, handshake_incomplete, mid_stream."""
    if syn_frame and synack_frame and handshake_ack_frame:
        return "handshake"
    if syn_frame and first_reset is not None and RST_CAUSES[first_reset[1]] == "refused":
        return "refused"
    if syn_frame and not synack_frame:
        return "unanswered_syn" if not s2c_packets else "no_syn_ack"
    if syn_frame or synack_frame:
        return "handshake_incomplete"
    return "mid_stream"


def closed_how(
    fin_frames: Sequence[tuple[int, int]], fin_acked: Sequence[int], first_reset: tuple[int, int] | None
) -> str:
    """How the stream ended: reset_by_*, graceful_close_by_*, closing_by_*, half_closed_by_*, open_at_capture_end."""
    if first_reset is not None:
        return "reset_by_client" if first_reset[0] == 0 else "reset_by_server"
    if len(fin_frames) == 2:
        first = "client" if fin_frames[0][0] == 0 else "server"
        if fin_acked[0] and fin_acked[1]:
            return f"graceful_close_by_{first}"
        return f"closing_by_{first}"
    if len(fin_frames) == 1:
        return f"half_closed_by_{'client' if fin_frames[0][0] == 0 else 'server'}"
    return "open_at_capture_end"


def close_shape(fin_frames: Sequence[tuple[int, int]], fin_acked: Sequence[int]) -> str:
    """With both FINs sent: "simultaneous" (sent before either was acknowledged: they crossed on the wire),
    "three_way" (the second FIN also acknowledged the first: FIN+ACK combined) or "four_way"; else ""."""
    if len(fin_frames) < 2:
        return ""
    first_dir, _ = fin_frames[0]
    second_frame = fin_frames[1][1]
    acked = fin_acked[first_dir]
    if not acked or acked > second_frame:
        return "simultaneous"
    return "three_way" if acked == second_frame else "four_way"


@functools.lru_cache(maxsize=4096)
def verdict_sentence(
    opened: str, closed: str, shape: str, first_reset: tuple[int, int] | None, c2s_app: int, s2c_app: int, lang: str
) -> str:
    """The one-line verdict in ``lang`` (wording in tcptrace.messages, ``verdict.*`` keys); cached, since a
    capture of a million connections has a handful of distinct verdicts. ``c2s_app``/``s2c_app``: application
    bytes (the sequence span each side covered), not captured payload: a re-sent segment counts once and a
    segment the capture missed still counts."""
    t = LANGUAGES[lang]
    text = verdict_template(opened, closed, shape, first_reset, lang)
    return text.replace(VERDICT_C2S, _bytes(c2s_app, t)).replace(VERDICT_S2C, _bytes(s2c_app, t))


# where verdict_template leaves the client's and the server's application bytes (private-use characters: no
# message has them, and the csv module quotes neither)
VERDICT_C2S, VERDICT_S2C = "\ue000", "\ue001"


@functools.lru_cache(maxsize=1024)
def verdict_template(opened: str, closed: str, shape: str, first_reset: tuple[int, int] | None, lang: str) -> str:
    """:func:`verdict_sentence` with :data:`VERDICT_C2S` and :data:`VERDICT_S2C` where the byte counts go (the C
    engine's flows rows fill them in: Engine.row_lines). A function of the opening, the close, its shape and the
    first reset only: the engine's row key holds exactly the facts these come from (_engine.c RowKey)."""
    t = LANGUAGES[lang]
    first = t["verdict.opened." + opened]
    if opened in ("refused", "unanswered_syn"):
        return first
    who = t[closed.rsplit("_", 1)[1]] if "_by_" in closed else ""
    if closed.startswith("graceful_close_by_"):
        if shape == "simultaneous":
            end = t["verdict.end.simultaneous"]
        else:
            end = t["verdict.end.three_way" if shape == "three_way" else "verdict.end.four_way"].format(who=who)
    elif closed.startswith("closing_by_"):
        end = t["verdict.end.closing"].format(who=who)
    elif closed.startswith("half_closed_by_"):
        end = t["verdict.end.half_closed"].format(who=who)
    elif closed.startswith("reset_by_"):
        assert first_reset is not None
        end = t["verdict.end.reset"].format(who=who, cause=t["cause.short." + RST_CAUSES[first_reset[1]]])
    else:
        end = t["verdict.end.open"]
    return t["verdict.sentence"].format(opened=first, c2s=VERDICT_C2S, s2c=VERDICT_S2C, end=end)


class RowFacts(NamedTuple):
    """What the flows table and CSV show of a stream, unrendered: the C engine's RowRecord
    (vocab.ENGINE_ROW_RECORD, same names and order), or :meth:`FlowSummary.row_facts` for the Python path."""

    stream: int
    client_addr: bytes
    client_port: int
    server_addr: bytes
    server_port: int
    roles_guessed: bool
    first_ts: int
    last_ts: int
    packets: int
    dir_packets: tuple[int, int]
    data_bytes: tuple[int, int]
    app_bytes: tuple[int, int]
    completeness: int
    zeek_history: str
    zeek_states: tuple[int, int]
    zeek_sizes: tuple[int, int]
    syn_frame: int
    synack_frame: int
    handshake_ack_frame: int
    fin_frames: tuple[tuple[int, int], ...]
    fin_acked: tuple[int, int]
    first_reset: tuple[int, int] | None
    resets_total: int
    flag_counts: tuple[int, ...]


class FlowRow(NamedTuple):
    """One row of the flows table and CSV (export.FLOW_CSV_FIELDS, plus roles_guessed), from :func:`flow_row`."""

    stream: int
    client: str
    server: str
    packets_c2s: int
    packets_s2c: int
    bytes_c2s: int
    bytes_s2c: int
    duration_s: float
    opened: str
    closed: str
    completeness: int
    conn_state: str
    history: str
    retransmissions: int
    dup_acks: int
    lost_segments: int
    zero_windows: int
    resets: int
    verdict: str
    roles_guessed: bool
    start_ns: int  # the first packet's capture time (the typed tables' start_time; not in the table or CSV)


_FLAG_ORDER = tuple(f.name for f in FLAGS)  # RowFacts.flag_counts (and the engine's counts) are in this order
_RETRANSMISSION, _DUP_ACK, _LOST, _ZERO_WINDOW = (
    _FLAG_ORDER.index(name) for name in ("retransmission", "duplicate_ack", "lost_segment", "zero_window"))  # fmt: skip


_addr_text = _ADDR_CACHE.get  # an address's text, once model.format_addr has made it
_new_row = tuple.__new__  # FlowRow(*values) without NamedTuple's Python-level __new__: a million rows, 1 s less


def flow_row(rec: RowFacts | Any) -> FlowRow:
    """The flows-table row of a :class:`RowFacts` or an engine RowRecord (the same fields by name): the same
    verdict, duration and Zeek state functions :meth:`FlowSummary.to_dict` uses."""
    first_reset, fin_frames, fin_acked = rec.first_reset, rec.fin_frames, rec.fin_acked
    opened = opened_how(rec.syn_frame, rec.synack_frame, rec.handshake_ack_frame, first_reset, rec.dir_packets[1])
    closed = closed_how(fin_frames, fin_acked, first_reset)
    app = rec.app_bytes
    packets, data, counts, history = rec.dir_packets, rec.data_bytes, rec.flag_counts, rec.zeek_history
    (orig_state, resp_state), (orig_size, resp_size) = rec.zeek_states, rec.zeek_sizes
    # format_endpoint inlined (two calls a row: a million-connection scan spent 1.7 s in them)
    caddr, saddr = rec.client_addr, rec.server_addr
    ctext, stext = _addr_text(caddr) or format_addr(caddr), _addr_text(saddr) or format_addr(saddr)
    return _new_row(FlowRow, (
        rec.stream, f"[{ctext}]:{rec.client_port}" if len(caddr) == 16 else f"{ctext}:{rec.client_port}",
        f"[{stext}]:{rec.server_port}" if len(saddr) == 16 else f"{stext}:{rec.server_port}",
        packets[0], packets[1], data[0], data[1],
        round(flow_duration_s(rec.first_ts, rec.last_ts, rec.packets), 6), opened, closed, rec.completeness,
        conn_state_cached(orig_state, resp_state, orig_size, resp_size, history), history,
        counts[_RETRANSMISSION], counts[_DUP_ACK], counts[_LOST], counts[_ZERO_WINDOW], rec.resets_total,
        verdict_sentence(opened, closed, close_shape(fin_frames, fin_acked), first_reset, app[0], app[1], "en"),
        rec.roles_guessed, rec.first_ts,
    ))  # fmt: skip


def _bytes(n: int, t: dict[str, str]) -> str:
    if n < 1024:
        return f"{n} {t['byte'] if n == 1 else t['bytes']}"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KiB"
    return f"{n / 1024 / 1024:.1f} MiB"


# The driver (Pipeline, summarize, the C engine's glue) lives in tcptrace.engine; these names stay reachable here.
_MOVED = frozenset(
    {
        "EngineSummaries",
        "Pipeline",
        "engine_module",
        "engine_summary",
        "selected_summaries",
        "summarize",
        "summarize_lazily",
        "_engine_tables",
    }
)


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        from . import engine

        return getattr(engine, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DirStats",
    "FlowRow",
    "FlowSummary",
    "RowFacts",
    "close_shape",
    "closed_how",
    "completeness_label",
    "flow_duration_s",
    "flow_row",
    "opened_how",
    "verdict_sentence",
    "verdict_template",
]
