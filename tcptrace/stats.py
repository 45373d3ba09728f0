"""Per-flow statistics and verdicts: how each connection opened and ended, in words and in the three
vocabularies users know (Wireshark ``tcp.completeness``, Zeek ``conn_state``/``history``, classic tcptrace's
complete/reset/unidirectional), and per-direction statistics after classic tcptrace ``-l``.

Theory of operation. A :class:`FlowSummary` per stream is fed every analysed segment in capture order
(:meth:`FlowSummary.add`); it keeps counters only, so memory grows with flows, not packets. It also assigns
each packet its *phase* (handshake, data, teardown, reset) and, through :mod:`tcptrace.state`, each endpoint's
RFC 9293 state. :meth:`FlowSummary.to_dict` computes the verdict from the counters at the end.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Iterator, Sequence
from typing import Any, overload

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
from .errors import CaptureError
from .flow import Flow
from .messages import LANGUAGES
from .model import ACK, FIN, RST, SYN, Role, Segment, format_endpoint
from .state import ConnectionMachine, TcpState
from .vocab import ENGINE_DIR_FIELDS, RST_CAUSES, ZEEK_SENT_LETTERS

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
    """One direction's counters, after classic tcptrace ``-l`` (../shared/reference/tcp-analysis.md §2.2)."""

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

    def __init__(self, flow: Flow) -> None:
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
        self.rst: list[tuple[int, int, str, str, int]] = []  # (direction, frame, sender state, cause, len)
        self.data_after_fin: list[int] = [0, 0]  # data bytes a side sent after the *other* side's FIN
        self.first_ts = -1
        self.first_direction = 0  # who sent the first packet seen (classic tcptrace's host "a")
        self.last_ts = 0
        self.packets = 0
        self.anomalies: list[dict[str, Any]] = []
        self.machine = ConnectionMachine()
        self.zeek = _ZeekHistory()
        # see on_event(): bit 2 * direction + has_data is set when such segments change nothing but counters
        self.steady_mask = 0

    # --- per packet ---------------------------------------------------------------------------------

    def add(self, seg: Segment) -> None:
        flags = seg.flags
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
        """The part of :meth:`add` beyond the counters: SYN options, lifecycle (states, phase, FINs, RSTs) and
        Zeek history. Returns the new :attr:`steady_mask`. (tcptrace/_engine.c ``lifecycle`` is its C twin.)"""
        if seg.flags & SYN:
            d = self.dirs[seg.direction]
            opts = seg.options
            d.mss = opts.mss if opts.mss is not None else d.mss
            d.wscale = opts.wscale if opts.wscale is not None else d.wscale
            d.sack_permitted = d.sack_permitted or opts.sack_permitted
            d.timestamps = d.timestamps or opts.tsval is not None
        self._lifecycle(seg, first)
        zeek = self.zeek
        zeek.add(seg, first)
        m = self.machine
        # Steady: both ESTABLISHED, handshake settled, no FIN yet. Then an ACK-bearing segment without SYN/FIN/RST
        # and without analysis flags changes nothing but counters, once Zeek's one-time letter for its kind
        # (d: data, a: pure ACK) from its side is written.
        mask = 0
        if (
            m.client.state is TcpState.ESTABLISHED
            and m.server.state is TcpState.ESTABLISHED
            and self.fin_next[0] is None
            and self.fin_next[1] is None
            and (self.handshake_done or not self.synack_frame)
        ):
            once = zeek.once
            for direction in (0, 1):
                side = "O" if direction == zeek.orig_dir else "R"
                if ("a", side) in once:
                    mask |= 1 << (2 * direction)
                if ("d", side) in once:
                    mask |= 2 << (2 * direction)
        self.steady_mask = mask
        return mask

    def _add_steady(self, seg: Segment) -> None:
        """The common case (see ``steady``): nothing changes but counters, states stay ESTABLISHED."""
        seglen = seg.len
        ts = seg.ts_ns
        self.packets += 1
        self.last_ts = ts
        self.completeness |= C_DATA if seglen else C_ACK
        self._count(seg, self.dirs[seg.direction], seg.flags, seglen, ts)
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
            if len(self.anomalies) < 100:
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
            state = str(before[direction])
            self.rst.append((direction, seg.frame, state, self._rst_cause(seg, state), seg.len))

    def _rst_cause(self, seg: Segment, sender_state: str) -> str:
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
        if self.syn_frame and self.synack_frame and self.handshake_ack_frame:
            return "handshake"
        if self.syn_frame and self.rst and self.rst[0][3] == "refused":
            return "refused"
        if self.syn_frame and not self.synack_frame:
            return "unanswered_syn" if not self.dirs[1].packets else "no_syn_ack"
        if self.syn_frame or self.synack_frame:
            return "handshake_incomplete"
        return "mid_stream"

    def closed(self) -> str:
        if self.rst:
            return "reset_by_client" if self.rst[0][0] == 0 else "reset_by_server"
        if len(self.fin_frames) == 2:
            first = "client" if self.fin_frames[0][0] == 0 else "server"
            if self.fin_acked[0] and self.fin_acked[1]:
                return f"graceful_close_by_{first}"
            return f"closing_by_{first}"
        if len(self.fin_frames) == 1:
            return f"half_closed_by_{'client' if self.fin_frames[0][0] == 0 else 'server'}"
        return "open_at_capture_end"

    def sentence(self, lang: str = "en") -> str:
        """The one-line verdict in ``lang`` (wording in tcptrace.messages, ``verdict.*`` keys)."""
        t = LANGUAGES[lang]
        opened = self.opened()
        first = t["verdict.opened." + opened]
        if opened in ("refused", "unanswered_syn"):
            return first
        closed = self.closed()
        who = t[closed.rsplit("_", 1)[1]] if "_by_" in closed else ""
        if closed.startswith("graceful_close_by_"):
            if self.simultaneous_close():
                end = t["verdict.end.simultaneous"]
            else:
                end = t["verdict.end.three_way" if self._three_way_close() else "verdict.end.four_way"].format(who=who)
        elif closed.startswith("closing_by_"):
            end = t["verdict.end.closing"].format(who=who)
        elif closed.startswith("half_closed_by_"):
            end = t["verdict.end.half_closed"].format(who=who)
        elif closed.startswith("reset_by_"):
            end = t["verdict.end.reset"].format(who=who, cause=t["cause.short." + self.rst[0][3]])
        else:
            end = t["verdict.end.open"]
        # application bytes (the sequence span each side covered), not captured payload: a re-sent segment counts
        # once and a segment the capture missed still counts
        c2s, s2c = self.dirs[0].app_bytes, self.dirs[1].app_bytes
        return t["verdict.sentence"].format(opened=first, c2s=_bytes(c2s, t), s2c=_bytes(s2c, t), end=end)

    def simultaneous_close(self) -> bool:
        """Both FINs were sent before either was acknowledged: they crossed on the wire."""
        if len(self.fin_frames) < 2:
            return False
        first_dir, _ = self.fin_frames[0]
        second_frame = self.fin_frames[1][1]
        acked = self.fin_acked[first_dir]
        return not acked or acked > second_frame

    def _three_way_close(self) -> bool:
        """True when the second FIN also acknowledged the first (FIN+ACK combined: three segments)."""
        if len(self.fin_frames) < 2:
            return False
        first_dir, _ = self.fin_frames[0]
        return self.fin_acked[first_dir] == self.fin_frames[1][1]

    def to_dict(self) -> dict[str, Any]:
        flow = self.flow
        duration_s = (self.last_ts - self.first_ts) / 1e9 if self.packets else 0.0
        c, s = flow.client, flow.server
        bits = self.completeness
        orig_state, resp_state = self.zeek.endpoint_states()
        fa = flow.analysis
        irtt = fa.ts_first_rtt / 1e9 if fa is not None and fa.ts_first_rtt else None
        return {
            "stream": flow.stream,
            "client": format_endpoint(c.addr, c.port),
            "server": format_endpoint(s.addr, s.port),
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
            "irtt_s": irtt,
            "client_state": self.machine.client_state.value,
            "server_state": self.machine.server_state.value,
            "anomalies": self.anomalies[:20],
            "wireshark": {"completeness": bits, "completeness_label": completeness_label(bits)},
            "zeek": {
                "conn_state": _zeek_conn_state(orig_state, resp_state, self.zeek),
                "history": self.zeek.history,
            },
            "tcptrace": {
                "complete": self.dirs[0].syn_packets > 0
                and self.dirs[1].syn_packets > 0
                and self.dirs[0].fin_packets > 0
                and self.dirs[1].fin_packets > 0,
                "reset": bool(self.rst),
                "unidirectional": not (self.dirs[0].packets and self.dirs[1].packets),
            },
            "c2s": self.dirs[0].to_dict(duration_s),
            "s2c": self.dirs[1].to_dict(duration_s),
        }


def _bytes(n: int, t: dict[str, str]) -> str:
    if n < 1024:
        return f"{n} {t['byte'] if n == 1 else t['bytes']}"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KiB"
    return f"{n / 1024 / 1024:.1f} MiB"


class _ZeekHistory:
    """Zeek's ``history`` string (TCPSessionAdapter.cc update_history; reference §3.2): upper case for the
    originator, lower case for the responder; a/d/i/q once per side, f/h/r/s again only when the sequence
    number changes, t/w/g logarithmically (1st, 10th, 100th ...)."""

    def __init__(self) -> None:
        self.history = ""
        self.orig_dir = 0
        self.flipped = False
        self.once: set[tuple[str, str]] = set()  # (letter, "O" or "R") of the once-per-side letters written
        self._last_seq: dict[str, int] = {}
        self._counts: dict[str, int] = {}
        self.sent: list[set[str]] = [set(), set()]  # letters (lower case) each side produced

    def _letter(self, ch: str, direction: int) -> None:
        letter = ch.upper() if direction == self.orig_dir else ch
        self.history += letter
        self.sent[0 if direction == self.orig_dir else 1].add(ch)

    def _scaled(self, ch: str, direction: int) -> None:
        key = ch.upper() if direction == self.orig_dir else ch
        n = self._counts.get(key, 0) + 1
        self._counts[key] = n
        if n == 1 or (n >= 10 and math.log10(n).is_integer()):
            self._letter(ch, direction)

    def add(self, seg: Segment, first: bool) -> None:
        flags = seg.flags
        direction = seg.direction
        if first:
            # Zeek's originator is the first packet's sender, flipped when that packet is a SYN/ACK.
            self.orig_dir = direction
            if flags & (SYN | ACK) == SYN | ACK:
                self.orig_dir = 1 - direction
                self.flipped = True
                self.history = "^"
        key_dir = "O" if direction == self.orig_dir else "R"
        syn, fin, rst = flags & SYN, flags & FIN, flags & RST
        if syn and (fin or rst):
            if ("q", key_dir) not in self.once:
                self.once.add(("q", key_dir))
                self._letter("q", direction)
        elif fin and rst:
            if ("i", key_dir) not in self.once:
                self.once.add(("i", key_dir))
                self._letter("i", direction)
        elif syn:
            ch = "h" if flags & ACK else "s"
            self._repeatable(ch, direction, seg.seq_raw)
        elif fin:
            self._repeatable("f", direction, (seg.seq_raw + seg.len) & M32)
        elif rst:
            self._repeatable("r", direction, seg.seq_raw)
        elif seg.len:
            if ("d", key_dir) not in self.once:
                self.once.add(("d", key_dir))
                self._letter("d", direction)
        elif flags & ACK and ("a", key_dir) not in self.once:
            self.once.add(("a", key_dir))
            self._letter("a", direction)
        ta = seg.analysis
        if ta & _RETRANS and seg.len:
            self._scaled("t", direction)
        if ta & A_ZERO_WINDOW:
            self._scaled("w", direction)
        if ta & A_LOST_PACKET:
            self._scaled("g", direction)

    def _repeatable(self, ch: str, direction: int, seq: int) -> None:
        key = ch.upper() if direction == self.orig_dir else ch
        if self._last_seq.get(key) != seq:
            self._last_seq[key] = seq
            self._letter(ch, direction)

    def endpoint_states(self) -> tuple[str, str]:
        """Zeek's TCP endpoint states at the end (INACTIVE, SYN_SENT, SYN_ACK_SENT, PARTIAL, ESTABLISHED,
        CLOSED, RESET), inferred from what each side sent."""
        out = []
        for i in (0, 1):
            sent = self.sent[i]
            other = self.sent[1 - i]
            if "r" in sent:
                out.append("RESET")
            elif "f" in sent:
                out.append("CLOSED")
            elif ("s" in sent and "h" in other) or ("h" in sent and ({"a", "d"} & other)):
                out.append("ESTABLISHED")
            elif "s" in sent:
                out.append("SYN_SENT")
            elif "h" in sent:
                out.append("SYN_ACK_SENT")
            elif sent:
                out.append("PARTIAL")
            else:
                out.append("INACTIVE")
        return out[0], out[1]


def _zeek_conn_state(orig: str, resp: str, hist: _ZeekHistory) -> str:
    """Zeek's conn_state from the two endpoint states (scripts/base/protocols/conn/main.zeek, reference §3.1)."""
    inactive = ("INACTIVE", "PARTIAL")
    if resp == "RESET":
        if orig in ("SYN_SENT", "SYN_ACK_SENT") or (orig == "RESET" and not hist.sent[0] - {"s", "r"}):
            return "REJ"
        return "RSTRH" if orig in inactive else "RSTR"
    if orig == "RESET":
        if resp in inactive:
            import re

            return "RSTOS0" if re.match(r"^\^?S[^HAFGIQ]*R", hist.history) else "OTH"
        return "RSTO"
    if orig == "CLOSED" and resp == "CLOSED":
        return "SF"
    if orig == "CLOSED":
        return "SH" if resp in inactive else "S2"
    if resp == "CLOSED":
        return "SHR" if orig in inactive else "S3"
    if orig == "SYN_SENT" and resp in inactive:
        return "S0"
    if orig == "ESTABLISHED" and resp == "ESTABLISHED":
        return "S1"
    return "OTH"


class Pipeline:
    """Read, track, analyse and summarise a capture in one pass; iterate it for fully annotated segments.

    >>> run = Pipeline("sample_pcaps/echo_ipv4.pcap")
    >>> [(s.frame, s.phase, str(s.client_state), str(s.server_state)) for s in run][:2]
    [(3, 'handshake', 'SYN_SENT', 'SYN_RECEIVED'), (4, 'handshake', 'ESTABLISHED', 'SYN_RECEIVED')]
    >>> run.summaries[0].closed()
    'graceful_close_by_client'

    With a ``selection`` (:class:`tcptrace.selection.Selection`) only the selected streams' segments come out.
    When the C engine is built, the selection is applied inside the engine's pass: the engine tracks every
    stream, and only the selected ones' segments are decoded again and analysed here, so ``-s N`` costs one
    engine pass plus the Python work for stream N. The Python reference path reads, tracks and analyses
    everything and filters; both give the same segments, stream numbers and flags (tests/test_engine.py).

    >>> from tcptrace.selection import Selection
    >>> run = Pipeline("sample_pcaps/port_reuse.pcap", selection=Selection.of([1]))
    >>> [(s.frame, s.stream) for s in run][:2], run.streams_total
    ([(13, 1), (14, 1)], 2)
    """

    def __init__(self, source: Any, *, track_bytes_in_flight: bool = True, selection: Any = None) -> None:
        self.selection = selection if selection is not None and not selection.everything else None
        self._source = source
        self._track_bytes_in_flight = track_bytes_in_flight
        engine = engine_module() if self.selection is not None else None
        self._start(engine)

    def _start(self, engine: Any) -> None:
        from .analysis import Analyzer
        from .capture import open_capture
        from .flow import FlowTracker

        self.capture = open_capture(self._source)
        self.tracker = FlowTracker()
        self.analyzer = Analyzer(track_bytes_in_flight=self._track_bytes_in_flight)
        self._summaries: list[FlowSummary] = []
        self._by_stream: dict[int, Flow] = {}  # the streams seen (with the engine: the selected) -> their flows
        self._engine: Any = None if engine is None else engine.Engine(*_engine_tables())

    def __iter__(self) -> Iterator[Segment]:
        if self._engine is None:
            yield from self._iter_python()
            return
        yielded = False
        try:
            for seg in self._iter_engine():
                yielded = True
                yield seg
        except OverflowError as exc:
            # A timestamp beyond the engine's 64-bit nanoseconds (a damaged pcapng timestamp, year 2262+): read
            # the file again in Python (unbounded integers), as summarize() does; a stream cannot be read twice.
            source = self._source
            if yielded or not isinstance(source, (str, os.PathLike)) or os.fspath(source) == "-":
                raise _beyond_2262(source) from exc
            self._start(None)
            yield from self._iter_python()

    def _iter_python(self) -> Iterator[Segment]:
        feed = self.tracker.feed
        analyze = self.analyzer.analyze
        selection = self.selection
        for seg in self.capture:
            flow = feed(seg)
            analyze(seg, flow)
            summary = flow.summary
            if summary is None:
                summary = flow.summary = self._new_summary(flow)
            summary.add(seg)
            if selection is None or selection.matches(flow):
                yield seg

    def _new_summary(self, flow: Flow) -> FlowSummary:
        summary = FlowSummary(flow)
        self._summaries.append(summary)
        self._by_stream[flow.stream] = flow
        return summary

    def _iter_engine(self) -> Iterator[Segment]:
        """The selected streams, selected inside the engine's pass (see the class docstring)."""
        from .flow import HalfFlow

        eng, selection = self._engine, self.selection
        assert selection is not None
        previous: dict[int, int] = {}  # a selected stream -> the stream whose ports its SYN reopened

        def keep(stream: int, prev: int, caddr: bytes, cport: int, saddr: bytes, sport: int) -> bool:
            if not selection.matches_endpoints(stream, HalfFlow(caddr, cport), HalfFlow(saddr, sport)):
                return False
            if prev >= 0:
                previous[stream] = prev
            return True

        eng.keep(keep)
        tracker = self.tracker
        feed = tracker.feed
        analyze = self.analyzer.analyze
        by_stream = self._by_stream
        for _ in self.capture.feed_steps(eng):
            for seg in eng.take_kept():
                n = seg.stream  # the engine's tcp.stream: it saw every stream, the tracker only the selected
                flow = by_stream.get(n)
                if flow is None:  # the engine began stream n with this segment: so does the tracker
                    tracker.forget(seg)
                    flow = feed(seg)
                    flow.stream = n
                    if n in previous:  # its SYN reopened the ports of stream previous[n] (packet-tcp.c)
                        flow.reused_ports_frame = seg.frame
                        flow.previous_stream = previous[n]
                    by_stream[n] = flow
                    summary = flow.summary = FlowSummary(flow)
                    self._summaries.append(summary)
                else:
                    feed(seg)
                seg.stream = n
                analyze(seg, flow)
                flow.summary.add(seg)
                yield seg

    def run(self) -> Pipeline:
        """Consume the whole capture (when only the summaries are wanted)."""
        for _ in self:
            pass
        return self

    @property
    def summaries(self) -> list[FlowSummary]:
        """The summaries of the streams seen (all of them, or with a selection in the engine: the selected)."""
        return list(self._summaries)

    def flow(self, stream: int) -> Flow:
        """A stream seen so far (with a selection in the engine: a selected one)."""
        return self._by_stream[stream]

    @property
    def streams_total(self) -> int:
        """How many streams the capture has so far, selected or not."""
        return self._engine.flow_count() if self._engine is not None else len(self.tracker.flows)

    def previous(self, stream: int) -> FlowSummary | None:
        """The summary of the stream that used ``stream``'s four-tuple before it (port reuse), if any; from the
        engine when that stream was not selected."""
        prev = self._by_stream[stream].previous_stream
        if prev is None:
            return None
        flow = self._by_stream.get(prev)
        if flow is not None and flow.summary is not None:
            summary: FlowSummary = flow.summary
            return summary
        return engine_summary(self._engine, prev)

    @property
    def stats(self) -> Any:
        return self.capture.stats


class EngineSummaries(Sequence[FlowSummary]):
    """The streams of an engine pass as :class:`FlowSummary` objects built one at a time when asked for, so a
    million-connection capture never holds a million of them (``flows`` writes each and lets it go)."""

    def __init__(self, engine: Any) -> None:
        self._engine = engine

    def __len__(self) -> int:
        return int(self._engine.flow_count())

    @overload
    def __getitem__(self, i: int) -> FlowSummary: ...
    @overload
    def __getitem__(self, i: slice) -> list[FlowSummary]: ...
    def __getitem__(self, i: int | slice) -> FlowSummary | list[FlowSummary]:
        if isinstance(i, slice):
            return [engine_summary(self._engine, k) for k in range(len(self))[i]]
        if i < 0:
            i += len(self)
        return engine_summary(self._engine, i)

    def __iter__(self) -> Iterator[FlowSummary]:
        eng = self._engine
        for k in range(eng.flow_count()):
            yield engine_summary(eng, k)

    def endpoints(self, i: int) -> tuple[Any, Any]:
        """Stream ``i``'s client and server (``flow.HalfFlow``), without building its summary."""
        from .flow import HalfFlow

        life = self._engine.lifecycle(i)
        return HalfFlow(life.client_addr, life.client_port), HalfFlow(life.server_addr, life.server_port)


class _Selected(Sequence[FlowSummary]):
    """Some streams of an :class:`EngineSummaries`, by number, each summary built when read."""

    def __init__(self, all_: EngineSummaries, streams: list[int]) -> None:
        self._all, self._streams = all_, streams

    def __len__(self) -> int:
        return len(self._streams)

    @overload
    def __getitem__(self, i: int) -> FlowSummary: ...
    @overload
    def __getitem__(self, i: slice) -> list[FlowSummary]: ...
    def __getitem__(self, i: int | slice) -> FlowSummary | list[FlowSummary]:
        if isinstance(i, slice):
            return [self._all[k] for k in self._streams[i]]
        return self._all[self._streams[i]]


def selected_summaries(summaries: Sequence[FlowSummary], selection: Any) -> Sequence[FlowSummary]:
    """The summaries a :class:`~tcptrace.selection.Selection` selects; from an :class:`EngineSummaries`, chosen
    by endpoints and built only when read."""
    if isinstance(summaries, EngineSummaries):
        numbers = sorted(selection.streams) if selection.streams else range(len(summaries))
        total = len(summaries)
        picked = [n for n in numbers if n < total and selection.matches_endpoints(n, *summaries.endpoints(n))]
        return _Selected(summaries, picked)
    return [s for s in summaries if selection.matches(s.flow)]


def summarize_lazily(source: Any) -> tuple[Sequence[FlowSummary], Any]:
    """:func:`summarize` without building every summary first: with the C engine a sequence that builds each
    summary when it is read (see :class:`EngineSummaries`); the Python path's list otherwise."""
    engine = engine_module()
    if engine is not None:
        try:
            from .capture import open_capture

            cap = open_capture(source)
            eng = engine.Engine(*_engine_tables())
            cap.feed(eng)
            return EngineSummaries(eng), cap.stats
        except OverflowError as exc:
            if not isinstance(source, (str, os.PathLike)) or os.fspath(source) == "-":
                raise _beyond_2262(source) from exc
    run = Pipeline(source, track_bytes_in_flight=False).run()
    return run.summaries, run.stats


def _beyond_2262(source: Any) -> CaptureError:
    return CaptureError(
        f"{getattr(source, 'name', source)}: a timestamp beyond the year 2262 (damaged?); "
        "read it with TCPTRACE_ENGINE=python"
    )


def summarize(source: Any, streams: set[int] | None = None) -> tuple[list[FlowSummary], Any]:
    """Read and analyse a whole capture; return one :class:`FlowSummary` per stream (all, or ``streams``)
    and the reader's :class:`~tcptrace.capture.CaptureStats`.

    The C engine (``tcptrace._engine``) does the work when it is built, else the pure-Python :class:`Pipeline`;
    the results are identical (tests/test_engine.py). ``TCPTRACE_ENGINE=python`` forces the Python path.
    """
    engine = engine_module()
    summaries: list[FlowSummary] | None = None
    if engine is not None:
        try:
            summaries, stats = _summarize_engine(source, engine)
        except OverflowError as exc:
            # A timestamp beyond the engine's 64-bit nanoseconds (a damaged pcapng timestamp, year 2262+): the
            # Python path reads the file again, with unbounded integers. A stream cannot be read twice.
            if not isinstance(source, (str, os.PathLike)) or os.fspath(source) == "-":
                raise _beyond_2262(source) from exc
            summaries = None
    if summaries is None:
        run = Pipeline(source, track_bytes_in_flight=False).run()
        summaries, stats = run.summaries, run.stats
    return [s for s in summaries if streams is None or s.flow.stream in streams], stats


def engine_module() -> Any:
    """The C engine module, or None when it is not built or ``TCPTRACE_ENGINE=python`` asks for the reference."""
    choice = os.environ.get("TCPTRACE_ENGINE", "auto").lower()
    if choice == "python":
        return None
    try:
        from . import _engine
    except ImportError:
        if choice == "c":
            raise
        return None
    return _engine


def _engine_tables() -> tuple[bytes, bytes, bytes]:
    """state.py's transition table, input classes and initial states as the byte arrays the engine indexes."""
    from .model import ACK, RST, SYN
    from .state import _CLASS_INDICES, _INPUTS, _ROWS, _initial_states

    states = list(TcpState)
    index = {st: i for i, st in enumerate(states)}
    rows = bytes(255 if nxt is None else index[nxt] for st in states for nxt in _ROWS[st])
    assert len(rows) == len(states) * len(_INPUTS) == 12 * 13
    classes = bytearray(b"\xff" * 64 * 3)
    for bits, (send, recv) in enumerate(_CLASS_INDICES):
        classes[bits * 3] = send
        for k, r in enumerate(recv):
            classes[bits * 3 + 1 + k] = r
    initial = bytearray(32 * 2)
    for flags in range(32):
        sender, receiver = _initial_states(flags & (SYN | ACK | RST))
        initial[flags * 2] = index[sender]
        initial[flags * 2 + 1] = index[receiver]
    return rows, bytes(classes), bytes(initial)


def _summarize_engine(source: Any, engine: Any) -> tuple[list[FlowSummary], Any]:
    from .capture import open_capture

    cap = open_capture(source)
    eng = engine.Engine(*_engine_tables())
    cap.feed(eng)
    return [engine_summary(eng, stream) for stream in range(eng.flow_count())], cap.stats


@functools.cache
def _engine_glue() -> tuple[Any, ...]:
    """What engine_summary needs from other modules, looked up once (it runs once per stream: a million times
    on a million-connection capture)."""
    from .analysis import ANALYSIS_FLAGS, FlowAnalysis
    from .flow import HalfFlow
    from .state import _MESSAGES, EndpointMachine

    letters = ZEEK_SENT_LETTERS
    sent = [frozenset(ch for i, ch in enumerate(letters) if mask >> i & 1) for mask in range(1 << len(letters))]
    return ANALYSIS_FLAGS, FlowAnalysis, HalfFlow, _MESSAGES, EndpointMachine, list(TcpState), sent


def engine_summary(eng: Any, stream: int) -> FlowSummary:
    """Stream ``stream`` of a ``tcptrace._engine.Engine`` as a :class:`FlowSummary` (as the engine has it now)."""
    ANALYSIS_FLAGS, FlowAnalysis, HalfFlow, _MESSAGES, EndpointMachine, states, sent_sets = _engine_glue()
    life = eng.lifecycle(stream)  # a LifecycleRecord and a FlowRecord: fields by name (vocab.ENGINE_RECORDS)
    rec = eng.flow(stream)
    flow = Flow.__new__(Flow)
    flow.stream = stream
    flow.halves = (HalfFlow(life.client_addr, life.client_port), HalfFlow(life.server_addr, life.server_port))
    flow.roles_guessed = bool(life.roles_guessed)
    flow.first_frame, flow.last_frame = rec.first_frame, rec.last_frame
    flow.halves[0].base, flow.halves[1].base = rec.base_client, rec.base_server
    flow.halves[0].win_scale, flow.halves[1].win_scale = rec.win_scale_client, rec.win_scale_server
    first_ts, last_ts, packets = rec.first_ts, rec.last_ts, rec.packets
    first_direction, completeness, ts_first_rtt, reused = (
        rec.first_direction, rec.completeness, rec.ts_first_rtt, rec.reused_ports_frame)  # fmt: skip
    dirs = (rec.client, rec.server)
    syn_frame, synack_frame, handshake_ack_frame = life.syn_frame, life.synack_frame, life.handshake_ack_frame
    handshake_done, fin_frames, fin_next, fin_acked = (
        life.handshake_done, life.fin_frames, life.fin_next, life.fin_acked)  # fmt: skip
    resets, data_after_fin, anomalies = life.resets, life.data_after_fin, life.anomalies
    client_state, server_state, options = life.client_state, life.server_state, life.options
    history, orig_dir, sent = life.history, life.orig_dir, life.sent
    flow.first_ts_ns = first_ts
    flow.last_ts_ns = last_ts
    flow.packets = packets
    flow.reused_ports_frame = reused or None
    flow.previous_stream = None  # (not in the engine's records; Pipeline.previous asks the engine's pass)
    fa = flow.analysis = FlowAnalysis()
    fa.ts_first_rtt = ts_first_rtt
    s = flow.summary = FlowSummary(flow)
    s.first_ts, s.last_ts, s.packets = first_ts, last_ts, packets
    s.first_direction, s.completeness = first_direction, completeness
    s.syn_frame, s.synack_frame, s.handshake_ack_frame = syn_frame, synack_frame, handshake_ack_frame
    s.handshake_done = bool(handshake_done)
    s.fin_frames = fin_frames
    s.fin_next = list(fin_next)
    s.fin_acked = list(fin_acked)
    s.rst = [(d, f, states[st].value, RST_CAUSES[cause], n) for d, f, st, cause, n in resets]
    s.data_after_fin = list(data_after_fin)
    s.anomalies = [{"frame": f, "text": _MESSAGES[states[st], i]} for f, st, i in anomalies]
    # The engine keeps the final states, not their history (which only narratives and diagrams read).
    s.machine.client = EndpointMachine(states[client_state], Role.CLIENT)
    s.machine.server = EndpointMachine(states[server_state], Role.SERVER)
    zeek = s.zeek
    zeek.history = history.decode("ascii")
    zeek.orig_dir = orig_dir
    zeek.flipped = history.startswith(b"^")
    zeek.sent = [set(sent_sets[mask]) for mask in sent]
    for d, drec, (mss, wscale, sack_permitted, timestamps) in zip(s.dirs, dirs, options, strict=True):
        # a DirRecord: vocab.ENGINE_DIR_RECORD, DirStats's names in ENGINE_DIR_FIELDS order, then flag_counts
        for name, value in zip(ENGINE_DIR_FIELDS, drec, strict=False):
            setattr(d, name, value)
        d.flag_counts = {name: n for name, n in zip(ANALYSIS_FLAGS, drec.flag_counts, strict=True) if n}
        d.mss = None if mss < 0 else mss
        d.wscale = None if wscale < 0 else wscale
        d.sack_permitted = bool(sack_permitted)
        d.timestamps = bool(timestamps)
    return s


__all__ = [
    "DirStats",
    "EngineSummaries",
    "FlowSummary",
    "Pipeline",
    "completeness_label",
    "engine_module",
    "selected_summaries",
    "summarize",
    "summarize_lazily",
]
