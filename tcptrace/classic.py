"""Classic tcptrace's ``-l`` statistics (Shawn Ostermann's tcptrace 6.6.7, ``tcptrace -l -n -r``), computed the
way its C source computes them, one :class:`ClassicDir` per direction of a stream.

Theory of operation. Classic tcptrace keeps, per direction, a *segment database* (rexmit.c): the sequence space
is cut into four quadrants of 2^30 numbers, and each quadrant holds a sorted list of the byte ranges sent, with
the time each was (last) sent, how often it was re-sent and how often it was acknowledged. A data, SYN or FIN
segment is added to its sender's database (``rexmit``): bytes already recorded are *retransmitted* bytes, the
rest *unique*; a segment that starts and ends before a recorded range filled a hole and is *out of order*.
An ACK walks the other side's database (``ack_in``): a range it covers exactly gives an RTT sample only when
the range was sent once (Karn's rule; else an *ambiguous* ack) and no range before it was sent later (else a
*post-loss* ack, no sample); acknowledged neighbouring ranges are merged (``collapse_quad``), so the list stays
as short as the data in flight plus the holes. Everything else is a counter updated per packet, in the order
trace.c's ``dotrace`` updates it (a RST stops after the RTT step: no window statistics from a RST).

Each method cites the function of classic's source it follows; the C engine (tcptrace/_engine.c, ``classic_*``)
is its twin and tests/test_engine.py requires both to agree. Where classic has a defect (the MSS printed as a
signed short, averages divided by ``n + 0.0001``, integer averages), the values here are the exact ones and
docs/vocabulary-tcptrace.md lists the difference. Times are integer nanoseconds (classic: microseconds); the
sums of RTT samples are floats, added in the same order in both engines.

Bound: a direction's database holds at most :data:`tcptrace.vocab.MAX_CLASSIC_SEGMENTS` ranges (holes the capture
never filled keep ranges apart); a range that would pass the bound is not recorded and ``segs_dropped`` counts it
(a later copy of its bytes then counts as unique; docs/limits.md).
"""

from __future__ import annotations

import math
from typing import Any

from .model import ACK, FIN, RST, SYN, Segment
from .vocab import ENGINE_CLASSIC_FIELDS, MAX_CLASSIC_SEGMENTS

M32 = 0xFFFFFFFF
PSH, URG = 0x08, 0x20
QUADSIZE = 0x40000000
# a range: [first byte, last byte, time sent (ns), times re-sent, times acknowledged]
FIRST, LAST, TIME, RETRANS, ACKED = 0, 1, 2, 3, 4


class _Quad:
    """One quadrant of the sequence space (rexmit.c ``quadrant``): its ranges in order, and its neighbours."""

    __slots__ = ("next", "prev", "segs")

    def __init__(self) -> None:
        self.segs: list[list[int]] = []
        self.next: _Quad | None = None
        self.prev: _Quad | None = None


class ClassicDir:
    """One direction's ``tcb`` (tcptrace.h): the counters ``-l`` prints and the state that feeds them."""

    __slots__ = (
        *ENGINE_CLASSIC_FIELDS,
        "ack",
        "data_acked",
        "nsegs",
        "owin_any",
        "quads",
        "quads_seen",
        "rtt_last",
        "win_last",
    )

    # the fields of vocab.ENGINE_CLASSIC_FIELDS (set in __init__; the C engine's ClassicRecord has the same)
    packets: int
    resets: int
    ack_pkts: int
    pureack_pkts: int
    num_sacks: int
    num_dsacks: int
    max_sack_blocks: int
    unique_bytes: int
    data_pkts: int
    data_bytes: int
    rexmit_pkts: int
    rexmit_bytes: int
    zwnd_probes: int
    zwnd_probe_bytes: int
    out_order_pkts: int
    data_pkts_push: int
    syn_count: int
    fin_count: int
    f1323_ws: int
    f1323_ts: int
    window_scale: int
    fsack_req: int
    sacks_sent: int
    urg_data_pkts: int
    urg_data_bytes: int
    mss: int
    max_seg_size: int
    min_seg_size: int
    win_max: int
    win_min: int
    win_zero_ct: int
    win_tot: int
    win_scaled_pkts: int
    win_scaling_used: int
    initialwin_bytes: int
    initialwin_segs: int
    syn: int
    fin: int
    latest_seq: int
    seq_wrap_count: int
    trunc_bytes: int
    trunc_segs: int
    data_pkts_timed: int
    first_data_time: int
    last_data_time: int
    has_time: int
    last_time: int
    idle_max: int
    rtt_count: int
    rtt_min: int
    rtt_max: int
    rtt_sum: float
    rtt_sum2: float
    rtt_3whs: int
    rtt_full_size: int
    rtt_full_count: int
    rtt_full_min: int
    rtt_full_max: int
    rtt_full_sum: float
    rtt_full_sum2: float
    rtt_nosample: int
    rtt_amback: int
    rtt_min_last: int
    rtt_max_last: int
    rtt_sum_last: float
    rtt_sum2_last: float
    rtt_count_last: int
    rtt_cumack: int
    rtt_dupack: int
    rtt_triple_dupack: int
    retr_max: int
    retr_min_tm: int
    retr_max_tm: int
    retr_tm_sum: float
    retr_tm_sum2: float
    retr_tm_count: int
    segs_dropped: int

    def __init__(self) -> None:
        for name in ENGINE_CLASSIC_FIELDS:
            setattr(self, name, 0)
        for name in ("rtt_sum", "rtt_sum2", "rtt_full_sum", "rtt_full_sum2", "rtt_sum_last", "rtt_sum2_last"):
            setattr(self, name, 0.0)
        self.retr_tm_sum = 0.0
        self.retr_tm_sum2 = 0.0
        self.ack = 0  # the last ACK this side sent (tcb.ack; a SYN from the other side sets it too)
        self.data_acked = False
        self.nsegs = 0
        self.owin_any = False  # tcb.owin_tot > 0: some outstanding-window sample was not zero
        self.quads: list[_Quad | None] = [None, None, None, None]
        self.quads_seen = 0  # tcb.quad1..quad4 as bits
        self.rtt_last = 0
        self.win_last = 0

    # --- the segment database (rexmit.c) ------------------------------------------------------------

    def _whichquad(self, seq: int) -> _Quad:
        """rexmit.c ``whichquad``: the quadrant of ``seq``, with its neighbours made and the opposite one freed."""
        quads = self.quads
        qix = seq >> 30
        q = quads[qix]
        if q is not None and q.next is not None and q.prev is not None:
            return q
        nxt, opp, prv = (qix + 1) % 4, (qix + 2) % 4, (qix + 3) % 4
        for i in (qix, nxt, prv):
            if quads[i] is None:
                quads[i] = _Quad()
        o = quads[opp]
        if o is not None:
            self.nsegs -= len(o.segs)
            quads[opp] = None
        q, qn, qp = quads[qix], quads[nxt], quads[prv]
        assert q is not None
        assert qn is not None
        assert qp is not None
        q.prev, q.next = qp, qn
        qn.prev = q
        qp.next = q
        qn.next = None
        qp.prev = None
        return q

    def _new_seg(self, first: int, length: int, now: int) -> list[int] | None:
        if self.nsegs >= MAX_CLASSIC_SEGMENTS:
            self.segs_dropped += 1
            return None
        self.nsegs += 1
        return [first, (first + length - 1) & M32, now, 0, 0]

    def rexmit(self, seq: int, length: int, now: int) -> tuple[int, bool]:
        """rexmit.c ``rexmit``: (bytes of ``length`` at ``seq`` already recorded, out of order?)."""
        last = (seq + length - 1) & M32
        q = self._whichquad(seq)
        if seq >> 30 != last >> 30:  # lives in two quadrants
            len1 = ((QUADSIZE * ((seq >> 30) + 1) - 1) & M32) - seq + 1
            r1, o1 = self._addseg(q, seq, len1, now)
            assert q.next is not None
            r2, o2 = self._addseg(q.next, (last >> 30) * QUADSIZE, length - len1, now)
            return r1 + r2, o1 or o2
        return self._addseg(q, seq, length, now)

    def _addseg(self, q: _Quad, first: int, length: int, now: int) -> tuple[int, bool]:
        """rexmit.c ``addseg``."""
        last = (first + length - 1) & M32
        segs = q.segs
        rexlen = 0
        split = False
        ooo = False
        i = len(segs) if segs and first > segs[-1][LAST] else 0  # the expected case: it goes at the end
        while i < len(segs):
            s = segs[i]
            if first > s[LAST]:
                i += 1
                continue
            if first < s[FIRST]:
                # starts before this range: out of order if it also ends before it
                if last < s[LAST]:
                    ooo = True
                new = self._new_seg(first, length, now)
                if new is not None:
                    segs.insert(i, new)
                    i += 1
                if last < s[FIRST]:
                    return rexlen, ooo
                if new is not None:
                    new[LAST] = (s[FIRST] - 1) & M32
                first = s[FIRST]
                length = (last - first + 1) & M32
            # starts within this range: a retransmission
            s[RETRANS] += 1
            if not split:
                self._rtt_retrans(s, now)
            if last <= s[LAST]:
                return rexlen + length, ooo
            split = True
            rexlen += s[LAST] - first + 1
            first = (s[LAST] + 1) & M32
            length = (last - first + 1) & M32
            i += 1
        new = self._new_seg(first, length, now)
        if new is not None:
            segs.append(new)
        return rexlen, ooo

    def _rtt_retrans(self, s: list[int], now: int) -> None:
        """rexmit.c ``rtt_retrans``: the retransmission-time statistics; the range was sent again now."""
        if not s[ACKED]:
            etime = max(0, now - s[TIME])
            if s[RETRANS] > self.retr_max:
                self.retr_max = s[RETRANS]
            if etime > self.retr_max_tm:
                self.retr_max_tm = etime
            if self.retr_min_tm == 0 or etime < self.retr_min_tm:
                self.retr_min_tm = etime
            self.retr_tm_sum += float(etime)
            self.retr_tm_sum2 += float(etime) * float(etime)
            self.retr_tm_count += 1
        s[TIME] = now

    def _collapse(self, q: _Quad) -> None:
        """rexmit.c ``collapse_quad``: merge acknowledged ranges that touch, from the head."""
        segs = q.segs
        i = 0
        while i + 1 < len(segs):
            s = segs[i]
            if not s[ACKED]:
                break
            n = segs[i + 1]
            if n[ACKED] and (s[LAST] + 1) & M32 == n[FIRST]:
                s[LAST] = n[LAST]
                s[ACKED] = n[ACKED]
                if n[TIME] > s[TIME]:
                    s[TIME] = n[TIME]
                del segs[i + 1]
                self.nsegs -= 1
            else:
                i += 1

    def ack_in(self, ack: int, data_len: int, eff_win: int, acker: ClassicDir, now: int) -> None:
        """rexmit.c ``ack_in`` (BSD duplicate-ACK rules, the default): ``acker`` acknowledged ``ack``."""
        q = self._whichquad(ack)
        qp = q.prev
        assert qp is not None
        last_xmit = 0
        changed = False
        for s in qp.segs:
            if not s[ACKED]:
                s[ACKED] += 1
                changed = True
                self.rtt_cumack += 1
                if s[TIME] > last_xmit:
                    last_xmit = s[TIME]
        if changed:
            self._collapse(qp)
        changed = False
        for s in q.segs:
            if ack <= s[FIRST]:
                break
            if s[TIME] > last_xmit:
                last_xmit = s[TIME]
            if s[ACKED]:
                if (
                    ack == (s[LAST] + 1) & M32
                    and ack == acker.ack
                    and data_len == 0
                    and eff_win == acker.win_last
                    and self.owin_any
                ):
                    self.rtt_dupack += 1
                    s[ACKED] += 1
                    if s[ACKED] == 4:
                        self.rtt_triple_dupack += 1
                else:
                    s[ACKED] = 1
                continue
            s[ACKED] += 1
            changed = True
            if ack == (s[LAST] + 1) & M32:
                self._rtt_ackin(s, last_xmit > s[TIME], now)
            else:
                self.rtt_cumack += 1
        if changed:
            self._collapse(q)

    def _rtt_ackin(self, s: list[int], rexmit_prev: bool, now: int) -> None:
        """rexmit.c ``rtt_ackin``: a sample (Karn's rule), a post-loss ack or an ambiguous ack."""
        etime = max(0, now - s[TIME])
        if rexmit_prev:
            self.rtt_last = 0
            self.rtt_nosample += 1
        elif s[RETRANS] == 0:
            self.rtt_last = etime
            if self.rtt_min == 0 or self.rtt_min > etime:
                self.rtt_min = etime
            if self.rtt_max < etime:
                self.rtt_max = etime
            x = float(etime)
            self.rtt_sum += x
            self.rtt_sum2 += x * x
            self.rtt_count += 1
            # classic's size of a range: a one-byte range (a SYN or FIN alone) comes out as 2^32
            size = s[LAST] - s[FIRST] + 1 if s[LAST] > s[FIRST] else (1 << 32) - s[FIRST] + s[LAST]
            if not self.rtt_full_size or self.rtt_full_size < size:
                self.rtt_full_size = size
                self.rtt_full_min = self.rtt_full_max = etime
                self.rtt_full_sum = x
                self.rtt_full_sum2 = x * x
                self.rtt_full_count = 1
            elif self.rtt_full_size == size:
                self.rtt_full_count += 1
                if self.rtt_full_min == 0 or self.rtt_full_min > etime:
                    self.rtt_full_min = etime
                if self.rtt_full_max < etime:
                    self.rtt_full_max = etime
                self.rtt_full_sum += x
                self.rtt_full_sum2 += x * x
        else:
            if self.rtt_min_last == 0 or self.rtt_min_last > etime:
                self.rtt_min_last = etime
            if self.rtt_max_last < etime:
                self.rtt_max_last = etime
            x = float(etime)
            self.rtt_sum_last += x
            self.rtt_sum2_last += x * x
            self.rtt_count_last += 1
            self.rtt_amback += 1
            self.rtt_last = 0


def classic_add(dirs: tuple[ClassicDir, ClassicDir], seg: Segment) -> None:
    """trace.c ``dotrace`` for one segment: ``dirs`` indexed by ``seg.direction``. A segment whose header Wireshark
    dissects only in part (``header_error``) has no options here, and a short one no payload."""
    d = seg.direction
    this, other = dirs[d], dirs[1 - d]
    flags = seg.flags
    now = seg.ts_ns
    if flags & SYN:
        this.syn_count += 1
    if flags & RST:
        this.resets += 1
    if flags & FIN:
        this.fin_count += 1
    # the effective window: scaled only when both sides asked for scaling, never on a SYN
    if flags & (ACK | SYN):
        eff_win = seg.win_raw
        if this.f1323_ws and other.f1323_ws and not flags & SYN:
            eff_win <<= min(this.window_scale, 14)  # RFC 7323 2.3 (classic shifts by any value: undefined in C)
    else:
        eff_win = 0
    if this.has_time:
        itime = now - this.last_time
        if itime > this.idle_max:
            this.idle_max = itime
    this.last_time = now
    this.has_time = 1
    data_len = seg.len
    start = seg.seq_raw
    end = start + data_len  # (not reduced modulo 2^32, as classic's u_long)
    _wrap_stats(this, end, start)
    if flags & SYN:
        this.syn = start
        other.ack = start
    if flags & FIN:
        this.fin = end & M32
    opts = seg.options
    if opts.mss is not None:
        this.mss = opts.mss
    if opts.wscale is not None:
        this.window_scale = opts.wscale
        this.f1323_ws = 1
    if opts.tsval is not None:
        this.f1323_ts = 1
    if not flags & SYN and not (this.f1323_ws and other.f1323_ws):
        this.window_scale = other.window_scale = 0
    if opts.sack_permitted:
        this.fsack_req = 1
    sacks = opts.sack
    if sacks:
        this.sacks_sent += 1
    if data_len > 0:
        this.data_pkts += 1
        if flags & PSH:
            this.data_pkts_push += 1
        this.data_bytes += data_len
        if flags & URG:
            this.urg_data_pkts += 1
            this.urg_data_bytes += seg.urg_ptr
        if data_len > this.max_seg_size:
            this.max_seg_size = data_len
        if this.min_seg_size == 0 or data_len < this.min_seg_size:
            this.min_seg_size = data_len
        if not this.data_pkts_timed:
            this.first_data_time = now
            this.data_pkts_timed = 1
        this.last_data_time = now
    this.packets += 1
    if this.win_scaling_used:
        this.win_scaled_pkts += 1
    this.latest_seq = end & M32
    if data_len > 0:
        missing = data_len - len(seg.payload)
        if missing > 0:
            this.trunc_bytes += missing
            this.trunc_segs += 1
    # retransmissions, out of order, zero-window probes, unique bytes
    retrans_bytes = 0
    out_order = False
    if flags & (SYN | FIN) or data_len > 0:
        length = data_len + (1 if flags & SYN else 0) + (1 if flags & FIN else 0)
        retrans_cnt = 0
        probe = other.win_last == 0 and other.packets > 0 and not flags & SYN
        if probe:
            this.zwnd_probes += 1
            this.zwnd_probe_bytes += data_len
        else:
            retrans_cnt, out_order = this.rexmit(start, length, now)
            retrans_bytes = retrans_cnt
        if out_order:
            this.out_order_pkts += 1
        if flags & SYN:
            length -= 1
            if this.syn_count > 1:
                retrans_cnt -= 1
        if flags & FIN:
            length -= 1
            if this.fin_count > 1:
                retrans_cnt -= 1
        if not probe and retrans_cnt < length:
            this.unique_bytes += length - retrans_cnt
    # RTT
    ack = seg.ack_raw
    if flags & ACK:
        other.ack_in(ack, data_len, eff_win, this, now)
        if ack == (other.syn + 1) & M32 and other.syn_count == 1:
            other.rtt_3whs = other.rtt_last
    if retrans_bytes > 0:
        this.rexmit_pkts += 1
        this.rexmit_bytes += retrans_bytes
    if flags & RST:
        if flags & ACK:
            this.ack_pkts += 1
        return
    # windows (a SYN's too)
    this.win_last = eff_win
    if flags & (ACK | SYN):
        if eff_win > this.win_max:
            this.win_max = eff_win
        if eff_win > 0 and this.f1323_ws and other.f1323_ws and not flags & SYN and not this.win_scaling_used:
            # the first scaled window: what the SYNs said is forgotten
            this.win_scaling_used = 1
            this.win_min = this.win_max = eff_win
            this.win_tot = 0
            this.win_scaled_pkts = 1
        elif eff_win > 0 and (this.win_min == 0 or eff_win < this.win_min):
            this.win_min = eff_win
        this.win_tot += eff_win
    if flags & ACK:
        if eff_win == 0:
            this.win_zero_ct += 1
        this.ack_pkts += 1
        if data_len == 0 and not flags & (SYN | FIN):
            this.pureack_pkts += 1
        if sacks:
            this.num_sacks += 1
            if len(sacks) > this.max_sack_blocks:
                this.max_sack_blocks = len(sacks)
            if _is_dsack(sacks, ack):
                this.num_dsacks += 1
        this.ack = ack
    # the initial window: data sent before the other side acknowledged any
    if not other.data_acked and flags & ACK and (other.syn + 1) & M32 != ack:
        other.data_acked = True
    if data_len > 0 and not this.data_acked and not retrans_bytes:
        this.initialwin_bytes += data_len
        this.initialwin_segs += 1
    # outstanding window (only whether it was ever non-zero matters: the duplicate-ACK rule reads it)
    if not flags & SYN and not out_order and not retrans_bytes:
        owin = end - start if other.ack == 0 else end - ((other.ack - 1) & M32)
        if owin:
            this.owin_any = True


def _wrap_stats(this: ClassicDir, end: int, start: int) -> None:
    """trace.c's sequence-space wrap count: all four quadrants visited, and back in the SYN's quadrant."""
    seen = this.quads_seen
    if seen == 15 and this.syn >> 30 == end >> 30 and end >= this.syn:
        this.seq_wrap_count += 1
        seen = 0
    for v in (start, end):
        q = v >> 30
        if q < 4:
            seen |= 1 << q
    this.quads_seen = seen


def _is_dsack(sacks: tuple[tuple[int, int], ...], ack: int) -> bool:
    """trace.c: a D-SACK (RFC 2883) when the first block lies under the cumulative ACK, inside the second block,
    or overlaps it (plain unsigned comparisons, as classic's)."""
    left0, right0 = sacks[0]
    if right0 <= ack:
        return True
    if len(sacks) > 1:
        left1, right1 = sacks[1]
        if right0 <= right1 and left0 >= left1:
            return True
        if (left0 <= left1 < right0) or (right0 >= right1 > left0):
            return True
    return False


def _stdev(total: float, total2: float, n: int) -> float:
    """output.c ``Stdev``: the sample standard deviation (n - 1), 0 when n <= 2."""
    if n <= 2:
        return 0.0
    term = (total2 - total * total / n) / (n - 1)
    return math.sqrt(term) if term > 0 else 0.0


def stream_length(d: Any) -> int | None:
    """output.c: the sequence span from the SYN to the FIN (to the last segment when this side sent a RST),
    with classic's wrap count; None ("NA") unless this side sent both a SYN and a FIN."""
    if not (d.syn_count and d.fin_count):
        return None
    last: int = d.latest_seq if d.resets else d.fin
    syn: int = d.syn
    wraps: int = d.seq_wrap_count
    if wraps:
        return last + (1 << 32) * (wraps if last > syn else wraps + 1) - syn - 1
    return last - syn - 1 if last > syn else (1 << 32) + last - syn - 1


def classic_dict(d: Any, elapsed_ns: int, idle_to_end_ns: int | None) -> dict[str, Any]:
    """One direction as ``tcptrace -l -r`` prints it (names: its labels in snake case; times in seconds or
    milliseconds as the name says; ``None`` where it prints NA). ``idle_to_end_ns``: the time from this
    direction's last packet to the end of the trace when the connection was not closed (trace.c trace_done)."""
    length = stream_length(d)
    idle = None
    if d.has_time:
        idle = d.idle_max
        if idle_to_end_ns is not None and idle_to_end_ns > idle:
            idle = idle_to_end_ns
    return {
        "total_packets": d.packets,
        "resets_sent": d.resets,
        "ack_pkts_sent": d.ack_pkts,
        "pure_acks_sent": d.pureack_pkts,
        "sack_pkts_sent": d.num_sacks,
        "dsack_pkts_sent": d.num_dsacks,
        "max_sack_blks_per_ack": d.max_sack_blocks,
        "unique_bytes_sent": d.unique_bytes,
        "actual_data_pkts": d.data_pkts,
        "actual_data_bytes": d.data_bytes,
        "rexmt_data_pkts": d.rexmit_pkts,
        "rexmt_data_bytes": d.rexmit_bytes,
        "zwnd_probe_pkts": d.zwnd_probes,
        "zwnd_probe_bytes": d.zwnd_probe_bytes,
        "outoforder_pkts": d.out_order_pkts,
        "pushed_data_pkts": d.data_pkts_push,
        "syn_pkts_sent": d.syn_count,
        "fin_pkts_sent": d.fin_count,
        "req_1323_ws": bool(d.f1323_ws),
        "req_1323_ts": bool(d.f1323_ts),
        "adv_wind_scale": d.window_scale,
        "req_sack": bool(d.fsack_req),
        "sacks_sent": d.sacks_sent,
        "urgent_data_pkts": d.urg_data_pkts,
        "urgent_data_bytes": d.urg_data_bytes,
        "mss_requested": d.mss,
        "max_segm_size": d.max_seg_size,
        "min_segm_size": d.min_seg_size,
        "avg_segm_size": d.data_bytes / d.data_pkts if d.data_pkts else 0.0,
        "max_win_adv": d.win_max,
        "min_win_adv": d.win_min,
        "zero_win_adv": d.win_zero_ct,
        "avg_win_adv": 0.0,  # set by classic_block: it depends on both directions
        "initial_window_bytes": d.initialwin_bytes,
        "initial_window_pkts": d.initialwin_segs,
        "ttl_stream_length": length,
        "missed_data": None if length is None else length - d.unique_bytes,
        "truncated_data": d.trunc_bytes,
        "truncated_packets": d.trunc_segs,
        "data_xmit_time_s": (d.last_data_time - d.first_data_time) / 1e9 if d.data_pkts_timed else 0.0,
        "idletime_max_s": None if idle is None else idle / 1e9,
        "throughput_Bps": d.unique_bytes / (elapsed_ns / 1e9) if elapsed_ns > 0 else None,
        "rtt_samples": d.rtt_count,
        "rtt_min_ms": d.rtt_min / 1e6,
        "rtt_max_ms": d.rtt_max / 1e6,
        "rtt_avg_ms": d.rtt_sum / d.rtt_count / 1e6 if d.rtt_count else 0.0,
        "rtt_stdev_ms": _stdev(d.rtt_sum, d.rtt_sum2, d.rtt_count) / 1e6,
        "rtt_from_3whs_ms": d.rtt_3whs / 1e6,
        "rtt_full_sz_smpls": d.rtt_full_count,
        "rtt_full_sz_min_ms": d.rtt_full_min / 1e6,
        "rtt_full_sz_max_ms": d.rtt_full_max / 1e6,
        "rtt_full_sz_avg_ms": d.rtt_full_sum / d.rtt_full_count / 1e6 if d.rtt_full_count else 0.0,
        "rtt_full_sz_stdev_ms": _stdev(d.rtt_full_sum, d.rtt_full_sum2, d.rtt_full_count) / 1e6,
        "post_loss_acks": d.rtt_nosample,
        "ambiguous_acks": d.rtt_amback,
        "rtt_min_last_ms": d.rtt_min_last / 1e6,
        "rtt_max_last_ms": d.rtt_max_last / 1e6,
        "rtt_avg_last_ms": d.rtt_sum_last / d.rtt_count_last / 1e6 if d.rtt_count_last else 0.0,
        "rtt_sdv_last_ms": _stdev(d.rtt_sum_last, d.rtt_sum2_last, d.rtt_count_last) / 1e6,
        "segs_cum_acked": d.rtt_cumack,
        "duplicate_acks": d.rtt_dupack,
        "triple_dupacks": d.rtt_triple_dupack,
        "max_retrans": d.retr_max,
        "min_retr_time_ms": d.retr_min_tm / 1e6,
        "max_retr_time_ms": d.retr_max_tm / 1e6,
        "avg_retr_time_ms": d.retr_tm_sum / d.retr_tm_count / 1e6 if d.retr_tm_count else 0.0,
        "sdv_retr_time_ms": _stdev(d.retr_tm_sum, d.retr_tm_sum2, d.retr_tm_count) / 1e6,
        "segments_not_recorded": d.segs_dropped,
    }


def classic_block(
    dirs: tuple[Any, Any], a: int, elapsed_ns: int, trace_end_ns: int | None
) -> dict[str, dict[str, Any]]:
    """Both directions, ``a2b`` from the sender of the connection's first packet (classic's host a). ``dirs``:
    two :class:`ClassicDir`, or the C engine's ClassicRecords (the same fields by name)."""
    closed = (dirs[0].fin_count > 0 and dirs[1].fin_count > 0) or dirs[0].resets + dirs[1].resets > 0
    both = dirs[0].win_scaling_used and dirs[1].win_scaling_used  # classic averages scaled windows only then
    out = {}
    for name, d in (("a2b", dirs[a]), ("b2a", dirs[1 - a])):
        idle_end = None if closed or trace_end_ns is None or not d.has_time else trace_end_ns - d.last_time
        out[name] = classic_dict(d, elapsed_ns, idle_end)
        n = d.win_scaled_pkts if both else d.packets
        out[name]["avg_win_adv"] = d.win_tot / n if n else 0.0
    return out


__all__ = ["ClassicDir", "classic_add", "classic_block", "stream_length"]
