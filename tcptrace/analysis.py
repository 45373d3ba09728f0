"""Per-packet TCP analysis exactly as Wireshark's ``tcp_analyze_sequence_number`` (packet-tcp.c, 4.0), plus
the evidence for every flag, RTT, bytes in flight and hardware duplicates.

Theory of operation. The :class:`Analyzer` sees each segment after :class:`~tcptrace.flow.FlowTracker` has
numbered it, in capture order, and keeps Wireshark's per-direction variables (``nextseq``,
``maxseqtobeacked``, ``lastack``, the raw ``window``, ``dupacknum``, the unacked-segment list ...) on raw
sequence numbers, with Wireshark's own initial values (``window`` = 0xFFFFFFFF, ``nextseq`` = 0 meaning
"unknown"), so that its quirks are ours too. The checks run in packet-tcp.c's order with its ``goto``s
(``finished_fwd``, ``finished_checking_retransmission_type``); see ../shared/reference/tcp-analysis.md §1.2.
Every flag that fires records *why*: the condition with the numbers compared (relative, as the user sees them)
and the frame it refers to.

The result is written onto the segment: ``analysis`` (bitmask of ``A_*``), ``evidence`` (dict, only when a
flag fired), ``acks_frame``/``ack_rtt_ns`` (which frame this ACK acknowledges and after how long),
``rto_ns``/``rto_frame`` on retransmissions, ``bytes_in_flight``, ``duplicate_of`` (hardware duplicate).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

from .flow import Flow
from .messages import EN
from .model import ACK, FIN, RST, SYN, Segment
from .seqnum import gt as _gt
from .seqnum import le as _le
from .seqnum import lt as _lt
from .vocab import FLAG_BY_CONST, FLAGS, HDR_SHORT_SEGMENT, RETRANSMISSION_FAMILY

M32 = 0xFFFFFFFF
HALF = 0x80000000

# Wireshark's TCP_A_* bits (packet-tcp.h) under the C engine's names, and our output names in the oracle's order:
# all from the one flag table, tcptrace.vocab.FLAGS.
A_RETRANSMISSION = FLAG_BY_CONST["A_RETRANSMISSION"].bit
A_LOST_PACKET = FLAG_BY_CONST["A_LOST_PACKET"].bit
A_ACK_LOST_PACKET = FLAG_BY_CONST["A_ACK_LOST_PACKET"].bit
A_KEEP_ALIVE = FLAG_BY_CONST["A_KEEP_ALIVE"].bit
A_DUPLICATE_ACK = FLAG_BY_CONST["A_DUPLICATE_ACK"].bit
A_ZERO_WINDOW = FLAG_BY_CONST["A_ZERO_WINDOW"].bit
A_ZERO_WINDOW_PROBE = FLAG_BY_CONST["A_ZERO_WINDOW_PROBE"].bit
A_ZERO_WINDOW_PROBE_ACK = FLAG_BY_CONST["A_ZERO_WINDOW_PROBE_ACK"].bit
A_KEEP_ALIVE_ACK = FLAG_BY_CONST["A_KEEP_ALIVE_ACK"].bit
A_OUT_OF_ORDER = FLAG_BY_CONST["A_OUT_OF_ORDER"].bit
A_FAST_RETRANSMISSION = FLAG_BY_CONST["A_FAST_RETRANSMISSION"].bit
A_WINDOW_UPDATE = FLAG_BY_CONST["A_WINDOW_UPDATE"].bit
A_WINDOW_FULL = FLAG_BY_CONST["A_WINDOW_FULL"].bit
A_REUSED_PORTS = FLAG_BY_CONST["A_REUSED_PORTS"].bit
A_SPURIOUS_RETRANSMISSION = FLAG_BY_CONST["A_SPURIOUS_RETRANSMISSION"].bit

FLAG_NAMES: tuple[tuple[int, str], ...] = tuple((f.bit, f.name) for f in FLAGS)
ANALYSIS_FLAGS: tuple[str, ...] = tuple(f.name for f in FLAGS)
_NAMES_CACHE: dict[int, tuple[str, ...]] = {}

# packet-tcp.c constants (the C engine gets its copies from here: scripts/gen_vocab_h.py writes tcptrace/_vocab.h)
MAX_UNACKED_SEGMENTS = 10000  # TCP_MAX_UNACKED_SEGMENTS: stop tracking when ACKs are not seen
FAST_RETRANSMISSION_WINDOW_NS = 20_000_000  # a fast retransmission follows the dup ACKs within 20 ms
DEFAULT_OOO_THRESHOLD_NS = 3_000_000  # out-of-order window when the handshake RTT is unknown
# A hardware duplicate (the same packet captured twice) follows its original within this time; a
# retransmission that reuses the IP ID (some stacks do) comes an RTT or an RTO later.
HW_DUP_WINDOW_NS = 1_000_000
_SFR = SYN | FIN | RST
_SF = SYN | FIN
_TS_ONLY = b"\x01\x01\x08\x0a"  # NOP NOP TS: no SACK blocks in this option area


def analysis_names(bits: int) -> tuple[str, ...]:
    """Flag names as tshark's ``tcp.analysis.*`` fields: fast and spurious retransmissions are also
    ``retransmission`` (packet-tcp.c prints that expert item for all three kinds)."""
    names = _NAMES_CACHE.get(bits)
    if names is None:
        shown = bits | A_RETRANSMISSION if bits & RETRANSMISSION_FAMILY else bits
        names = tuple(name for bit, name in FLAG_NAMES if shown & bit)
        _NAMES_CACHE[bits] = names
    return names


def info_names(names: tuple[str, ...]) -> tuple[str, ...]:
    """The names as Wireshark's Info column tags them: a fast or spurious retransmission is named for its kind
    only, not also as a plain retransmission (the ``tcp.analysis`` fields of :func:`analysis_names` list both)."""
    if "retransmission" in names and ("fast_retransmission" in names or "spurious_retransmission" in names):
        return tuple(n for n in names if n != "retransmission")
    return names


class _Unacked:
    """A segment sent but not yet acknowledged (packet-tcp.c ``tcp_unacked_t``)."""

    __slots__ = ("frame", "nextseq", "seq", "ts_ns")

    def __init__(self, frame: int, seq: int, nextseq: int, ts_ns: int) -> None:
        self.frame = frame
        self.seq = seq
        self.nextseq = nextseq
        self.ts_ns = ts_ns


class DirState:
    """Wireshark's per-direction analysis variables (``tcp_flow_t`` + ``tcp_analyze_seq_flow_info_t``)."""

    __slots__ = (
        "base",
        "dupacknum",
        "is_first_ack",
        "lastack",
        "lastackframe",
        "lastacktime",
        "lastnondupack",
        "lastsegmentflags",
        "maxseqtobeacked",
        "monotonic",
        "nextseq",
        "nextseqframe",
        "nextseqtime",
        "recent",
        "sack_blocks",
        "segments",
        "valid_bif",
        "window",
        "zero_window_frame",
    )

    def __init__(self) -> None:
        self.nextseq = 0  # 0 = unknown, as in packet-tcp.c (a real 0 is indistinguishable there too)
        self.nextseqframe = 0
        self.nextseqtime = 0
        self.maxseqtobeacked = 0
        self.lastack = 0
        self.lastacktime = 0
        self.lastackframe = 0
        self.window = 0xFFFFFFFF  # raw window of the last segment; G_MAXUINT32 until one is seen
        self.lastsegmentflags = 0
        self.dupacknum = 0
        self.lastnondupack = 0
        self.segments: list[_Unacked] = []  # oldest first
        self.monotonic = True  # segments strictly ascending and disjoint: ACK processing may stop early
        self.valid_bif = True
        self.is_first_ack = True
        self.base = 0  # relative-numbering base (from the flow tracker), for evidence texts
        self.sack_blocks: tuple[tuple[int, int], ...] = ()  # last SACK blocks this side sent
        # (ip_id, seq, len, frame) of the last two segments: the hardware-duplicate check
        self.recent: tuple[tuple[int, int, int, int, int], ...] = ((-1, 0, 0, 0, 0), (-1, 0, 0, 0, 0))
        self.zero_window_frame = 0


class FlowAnalysis:
    """Per-stream analysis state: the two directions and the handshake times."""

    __slots__ = ("dirs", "ts_first_rtt", "ts_mru_syn")

    def __init__(self) -> None:
        self.dirs = (DirState(), DirState())
        self.ts_mru_syn = 0  # time of the most recent pure SYN (0 = none)
        self.ts_first_rtt = 0  # iRTT in ns (0 = not known yet)


class Analyzer:
    """Runs the per-packet analysis. ``analyze(seg, flow_state, reused)`` after the tracker fed ``seg``.

    ``detect_hardware_duplicates``: a segment repeating an earlier one's IP ID, sequence number and length in
    the same direction (the same packet captured twice, e.g. on two interfaces) is marked ``duplicate_of``
    and gets no Wireshark flags (Wireshark calls it a retransmission; docs/wireshark-differences.md).
    """

    def __init__(
        self,
        detect_hardware_duplicates: bool = True,
        fastrt_supersedes_ooo: bool = True,
        track_bytes_in_flight: bool = True,
    ) -> None:
        self.detect_hardware_duplicates = detect_hardware_duplicates
        self.fastrt_supersedes_ooo = fastrt_supersedes_ooo
        self.track_bytes_in_flight = track_bytes_in_flight

    def analyze(self, seg: Segment, flow: Flow) -> None:
        """Analyse one segment of ``flow`` (already numbered by the tracker); results go onto ``seg``."""
        fa = flow.analysis
        if fa is None:
            fa = flow.analysis = FlowAnalysis()
        direction = seg.direction
        fwd = fa.dirs[direction]
        rev = fa.dirs[1 - direction]
        fwd_half = flow.halves[direction]
        rev_half = flow.halves[1 - direction]
        fwd_base = fwd.base = fwd_half.base or 0
        rev_base = rev.base = rev_half.base or 0
        rev_win_scale = rev_half.win_scale
        reused = flow.reused_ports_frame == seg.frame
        seq = seg.seq_raw
        ack = seg.ack_raw
        seglen = seg.len
        flags = seg.flags
        window = seg.win_raw
        now = seg.ts_ns
        frame = seg.frame
        ev: dict[str, Any] | None = None
        seg.acks_frame = 0
        seg.ack_rtt_ns = -1
        seg.rto_ns = -1
        seg.rto_frame = 0
        seg.bytes_in_flight = -1
        seg.duplicate_of = 0

        ta = A_REUSED_PORTS if reused else 0
        if reused:
            ev = _ev(None, "reused_ports")
        if flags & (SYN | ACK) == SYN and seq == fwd_base and fwd.maxseqtobeacked:
            # packet-tcp.c (issue 17616): a SYN repeating the ISN restarts the handshake; a RST sent before it
            # may have pushed nextseq anywhere, so nextseq falls back to the highest contiguous sequence number.
            fwd.nextseq = fwd.maxseqtobeacked
        header_error = seg.header_error
        if header_error == HDR_SHORT_SEGMENT:
            # packet-tcp.c: no segment length, so no sequence analysis; what dissect_tcp does after its header
            # checks still happens (the SYN time, the iRTT, the first ACK), and no SACK blocks are kept.
            seg.analysis = 0
            seg.evidence = None
            fwd.sack_blocks = ()
            self._after_analysis(flags, now, fa, fwd)
            return
        if flags & ACK:
            rev.valid_bif = True

        fnext = fwd.nextseq
        # Fast path (most segments): in order, no SYN/FIN/RST, open windows both ways, data or a new ack. Then
        # none of packet-tcp.c's checks can fire, except window-full, spurious retransmission and ACKed-unseen,
        # which are pre-checked here with the same conditions; if one holds, the full checks below run instead.
        fast = (
            not ta
            and seq == fnext
            and fnext
            and window
            and rev.window
            and not flags & _SFR
            and (seglen or ack != fwd.lastack)
        )
        if fast and seglen:
            end_seq = (seq + seglen) & M32
            if rev.lastack and _le(end_seq, rev.lastack):
                fast = False  # spurious retransmission
            elif rev_win_scale != -1:
                shift = 0 if (rev.is_first_ack or rev_win_scale == -2) else rev_win_scale
                if end_seq == (rev.lastack + ((rev.window << shift) & M32)) & M32:
                    fast = False  # window full
        if fast:
            rmax = rev.maxseqtobeacked
            if rmax and ack != rmax and flags & ACK and ((ack - rmax) & M32) < HALF:
                fast = False  # ACKed unseen segment
        if fast:
            if ack != fwd.lastack:  # finished_fwd
                fwd.lastnondupack = frame
                fwd.dupacknum = 0
        else:
            goto_finished_fwd = False
            # ZERO WINDOW PROBE: 1 byte at the next expected sequence number while the peer's window is 0
            if seglen == 1 and seq == fnext and rev.window == 0:
                ta |= A_ZERO_WINDOW_PROBE
                ev = _ev(ev, "zero_window_probe", frame=rev.zero_window_frame, seq=(seq - fwd_base) & M32)
                goto_finished_fwd = True
            if not goto_finished_fwd:
                # ZERO WINDOW: window 0 and none of SYN/FIN/RST
                if window == 0 and not flags & _SFR:
                    ta |= A_ZERO_WINDOW
                    fwd.zero_window_frame = frame
                    ev = _ev(ev, "zero_window")
                # LOST PACKET: beyond the next expected sequence number (not checked on RST)
                if fnext and seq != fnext and ((seq - fnext) & M32) < HALF and not flags & RST:
                    ta |= A_LOST_PACKET
                    fwd.valid_bif = False
                    ev = _ev(
                        ev,
                        "lost_segment",
                        frame=fwd.nextseqframe,
                        seq=(seq - fwd_base) & M32,
                        expected=(fnext - fwd_base) & M32,
                        gap=(seq - fnext) & M32,
                    )
                # KEEP ALIVE: 0 or 1 byte, one before the next expected sequence number
                if seglen <= 1 and seq == ((fnext - 1) & M32) and not flags & _SFR:
                    ta |= A_KEEP_ALIVE
                    ev = _ev(
                        ev,
                        "keep_alive",
                        frame=fwd.nextseqframe,
                        len=seglen,
                        seq=(seq - fwd_base) & M32,
                        expected=(fnext - fwd_base) & M32,
                    )
                # WINDOW UPDATE: no data, same seq/ack as before, new non-zero window
                same_position = seq == fnext and ack == fwd.lastack and not flags & _SFR
                if seglen == 0 and window and window != fwd.window and same_position:
                    ta |= A_WINDOW_UPDATE
                    ev = _ev(ev, "window_update", old=_raw_win(fwd.window), new=window)
                # WINDOW FULL: data up to exactly the right edge of the peer's advertised window
                if seglen > 0 and rev_win_scale != -1 and not flags & _SFR:
                    shift = 0 if (rev.is_first_ack or rev_win_scale == -2) else rev_win_scale
                    edge = (rev.lastack + ((rev.window << shift) & M32)) & M32
                    if (seq + seglen) & M32 == edge:
                        ta |= A_WINDOW_FULL
                        ev = _ev(
                            ev,
                            "window_full",
                            frame=rev.lastackframe,
                            end=(seq + seglen - fwd_base) & M32,
                            ack=(rev.lastack - fwd_base) & M32,
                            window=(rev.window << shift) & M32,
                        )
                if (
                    seglen == 0
                    and same_position
                    and rev.lastsegmentflags & A_KEEP_ALIVE
                    and window
                    and (window == fwd.window)
                ):
                    ta |= A_KEEP_ALIVE_ACK
                    ev = _ev(ev, "keep_alive_ack")
                elif (
                    seglen == 0
                    and same_position
                    and rev.lastsegmentflags & A_ZERO_WINDOW_PROBE
                    and window == 0
                    and (fwd.window == 0)
                ):
                    ta |= A_ZERO_WINDOW_PROBE_ACK
                    ev = _ev(ev, "zero_window_probe_ack")
                elif seglen == 0 and window and window == fwd.window and same_position:
                    # DUPLICATE ACK (the MPTCP exception of packet-tcp.c is not modelled)
                    fwd.dupacknum = 1 if fwd.dupacknum == -1 else fwd.dupacknum + 1
                    ta |= A_DUPLICATE_ACK
                    ev = _ev(
                        ev, "duplicate_ack", frame=fwd.lastnondupack, number=fwd.dupacknum, ack=(ack - rev_base) & M32
                    )
            # finished_fwd: a new ack number resets the dup-ack counter
            if ack != fwd.lastack:
                fwd.lastnondupack = frame
                fwd.dupacknum = 0
            # ACKED LOST PACKET: acknowledges data never seen in the other direction
            rmax = rev.maxseqtobeacked
            if rmax and ack != rmax and flags & ACK and ((ack - rmax) & M32) < HALF:
                # TShark 4.0 behaviour (checked against the oracle): when new data was seen since the mark, move
                # the mark and flag; otherwise flag only the first such ACK (dupacknum -1 de-duplicates the hole).
                if _lt(rmax, rev.nextseq):
                    rev.maxseqtobeacked = rev.nextseq
                    ta |= A_ACK_LOST_PACKET
                else:
                    if rev.dupacknum == 0:
                        ta |= A_ACK_LOST_PACKET
                    rev.dupacknum = -1
                if ta & A_ACK_LOST_PACKET:
                    ev = _ev(ev, "ack_lost_segment", ack=(ack - rev_base) & M32, seen=(rmax - rev_base) & M32)
            # RETRANSMISSION / FAST RETRANSMISSION / OUT-OF-ORDER (only for data, SYN or FIN)
            if seglen > 0 or flags & _SF:
                seq_not_advanced = fnext != 0 and ((seq - fnext) & M32) >= HALF
                if not ta & A_KEEP_ALIVE:
                    if seglen > 1 and ((fnext - 1) & M32) == seq:
                        seq_not_advanced = False  # new data after a dropped 1-byte zero-window probe
                    end = (seq + seglen) & M32
                    if seglen > 0 and rev.lastack and _le(end, rev.lastack):
                        ta |= A_SPURIOUS_RETRANSMISSION
                        ev = _ev(
                            ev,
                            "spurious_retransmission",
                            frame=rev.lastackframe,
                            end=(end - fwd_base) & M32,
                            acked=(rev.lastack - fwd_base) & M32,
                        )
                    else:
                        kind = self._retransmission_kind(seq, seglen, flags, now, fwd, rev, fa, seq_not_advanced)
                        if kind:
                            ta |= kind
                            ev = self._retransmission_evidence(ev, kind, seg, fwd, rev, fa, now)
        # finished_checking_retransmission_type: remember the segment and the highest sequence numbers
        nextseq = (seq + seglen) & M32
        if (seglen or flags & _SF) and len(fwd.segments) < MAX_UNACKED_SEGMENTS:
            if flags & _SF:
                nextseq = (nextseq + 1) & M32
            segs = fwd.segments
            if segs and fwd.monotonic and not _le(segs[-1].nextseq, seq):
                fwd.monotonic = False
            segs.append(_Unacked(frame, seq, nextseq, now))
        if not ta & A_ZERO_WINDOW_PROBE:
            if _gt(nextseq, fnext) or not fnext:
                fwd.nextseq = nextseq
                fwd.nextseqframe = frame
                fwd.nextseqtime = now
            if seq == fwd.maxseqtobeacked or not fwd.maxseqtobeacked:
                fwd.maxseqtobeacked = fwd.nextseq
        fwd.window = window
        fwd.lastack = ack
        fwd.lastacktime = now
        fwd.lastackframe = frame
        fwd.lastsegmentflags = ta
        # ACK matching against the other direction's unacked segments: acks_frame / ack_rtt
        rsegs = rev.segments
        if rsegs:
            self._match_acks(seg, ack, rev, now)
        # Bytes in flight (packet-tcp.c default: span of this direction's unacked segments, minus SACKed)
        if self.track_bytes_in_flight and seglen and fwd.segments and fwd.valid_bif:
            in_flight = self._bytes_in_flight(fwd, rev)
            if 0 < in_flight < 2_000_000_000:
                seg.bytes_in_flight = in_flight - 1 if flags & _SF else in_flight
        # Hardware duplicate: one of the last two segments of this direction had the same IP ID, seq and
        # length, moments before. Only a segment Wireshark flags (retransmission, dup ACK ...) can be one.
        ip_id = seg.ip_id
        if ta and ip_id > 0 and self.detect_hardware_duplicates:
            for prev in fwd.recent:
                if prev[0] == ip_id and prev[1] == seq and prev[2] == seglen and now - prev[4] <= HW_DUP_WINDOW_NS:
                    seg.duplicate_of = prev[3]
                    ta = 0
                    ev = _ev(None, "duplicate", frame=prev[3], ip_id=ip_id, us=round((now - prev[4]) / 1e3))
                    break
        fwd.recent = (fwd.recent[1], (ip_id, seq, seglen, frame, now))
        if header_error:
            # A bogus data offset: packet-tcp.c ran the analysis (the state above is Wireshark's) but ends the
            # dissection before it shows any of it, or reads the options, the SYN time or the iRTT.
            seg.analysis = 0
            seg.evidence = None
            seg.acks_frame = 0
            seg.ack_rtt_ns = -1
            seg.rto_ns = -1
            seg.rto_frame = 0
            seg.bytes_in_flight = -1
            seg.duplicate_of = 0
            fwd.sack_blocks = ()
            return
        seg.analysis = ta
        seg.evidence = ev
        # packet-tcp.c after the analysis (inline: once per packet; _after_analysis is the same for the rare paths)
        syn_ack = flags & (SYN | ACK)
        if syn_ack == SYN:
            fa.ts_mru_syn = now
        elif syn_ack == ACK:
            if fa.ts_mru_syn and not fa.ts_first_rtt:
                fa.ts_first_rtt = now - fa.ts_mru_syn or 1
            fwd.is_first_ack = False
        # the SACK blocks this side sent last (subtracted from the other side's bytes in flight)
        ob = seg.opt_bytes
        if not ob or (len(ob) == 12 and ob[:4] == _TS_ONLY):
            if fwd.sack_blocks:
                fwd.sack_blocks = ()
        else:
            fwd.sack_blocks = seg.options.sack

    # --- helpers ------------------------------------------------------------------------------------

    @staticmethod
    def _after_analysis(flags: int, now: int, fa: FlowAnalysis, fwd: DirState) -> None:
        """packet-tcp.c after the analysis: most recent SYN time, iRTT on the first pure ACK, first-ACK flag."""
        syn_ack = flags & (SYN | ACK)
        if syn_ack == SYN:
            fa.ts_mru_syn = now
        elif syn_ack == ACK:
            if fa.ts_mru_syn and not fa.ts_first_rtt:
                fa.ts_first_rtt = now - fa.ts_mru_syn or 1
            fwd.is_first_ack = False

    def _retransmission_kind(
        self,
        seq: int,
        seglen: int,
        flags: int,
        now: int,
        fwd: DirState,
        rev: DirState,
        fa: FlowAnalysis,
        seq_not_advanced: bool,
    ) -> int:
        if not seq_not_advanced:
            return 0
        for step in (0, 1) if self.fastrt_supersedes_ooo else (1, 0):
            if step == 0:
                dt = now - rev.lastacktime
                # dupacknum is unsigned in packet-tcp.c: the -1 left by "ACKed unseen segment" counts as >= 2
                dups = rev.dupacknum
                if (dups >= 2 or dups == -1) and rev.lastack == seq and 0 <= dt < FAST_RETRANSMISSION_WINDOW_NS:
                    return A_FAST_RETRANSMISSION
            else:
                dt = now - fwd.nextseqtime
                thres = fa.ts_first_rtt or DEFAULT_OOO_THRESHOLD_NS
                extra = 1 if flags & _SF else 0
                if 0 <= dt < thres and fwd.nextseq != (seq + seglen + extra) & M32:
                    return A_OUT_OF_ORDER
        return A_RETRANSMISSION

    def _retransmission_evidence(
        self,
        ev: dict[str, Any] | None,
        kind: int,
        seg: Segment,
        fwd: DirState,
        rev: DirState,
        fa: FlowAnalysis,
        now: int,
    ) -> dict[str, Any]:
        base = fwd.base
        seq_rel = (seg.seq_raw - base) & M32
        next_rel = (fwd.nextseq - base) & M32
        if kind == A_FAST_RETRANSMISSION:
            return _ev(
                ev,
                "fast_retransmission",
                frame=rev.lastackframe,
                dup_acks=rev.dupacknum if rev.dupacknum >= 0 else 2,
                seq=seq_rel,
                expected=next_rel,
                ms=round((now - rev.lastacktime) / 1e6, 3),
            )
        if kind == A_OUT_OF_ORDER:
            thres = fa.ts_first_rtt or DEFAULT_OOO_THRESHOLD_NS
            return _ev(
                ev,
                "out_of_order",
                frame=fwd.nextseqframe,
                seq=seq_rel,
                expected=next_rel,
                ms=round((now - fwd.nextseqtime) / 1e6, 3),
                threshold_ms=round(thres / 1e6, 3),
            )
        # generic retransmission: RTO from the oldest unacked segment, else from the segment that set nextseq
        rto_frame, rto_ts = fwd.nextseqframe, fwd.nextseqtime
        if fwd.segments:
            oldest = fwd.segments[0]
            rto_frame, rto_ts = oldest.frame, oldest.ts_ns
        seg.rto_frame = rto_frame
        seg.rto_ns = now - rto_ts
        return _ev(
            ev,
            "retransmission",
            frame=rto_frame,
            seq=seq_rel,
            expected=next_rel,
            rto_s=seg.rto_ns / 1e9,
            ms=round(seg.rto_ns / 1e6, 3),
        )

    @staticmethod
    def _match_acks(seg: Segment, ack: int, rev: DirState, now: int) -> None:
        segs = rev.segments
        if rev.monotonic:
            n = 0
            for ual in segs:
                nxt = ual.nextseq
                if nxt == ack:
                    seg.acks_frame = ual.frame
                    seg.ack_rtt_ns = now - ual.ts_ns
                    n += 1
                    break
                if _lt(nxt, ack):
                    n += 1
                    continue
                if _gt(ack, ual.seq):  # acknowledges part of the segment
                    ual.seq = ack
                break
            if n:
                del segs[:n]
        else:
            keep: list[_Unacked] = []
            matched: _Unacked | None = None
            for ual in segs:
                nxt = ual.nextseq
                if nxt == ack:
                    if matched is None:
                        matched = ual  # the oldest match wins, as in packet-tcp.c's newest-first walk
                    continue
                if _gt(ack, ual.seq) and _le(ack, nxt):
                    ual.seq = ack
                    keep.append(ual)
                elif _gt(nxt, ack):
                    keep.append(ual)
            if matched is not None:
                seg.acks_frame = matched.frame
                seg.ack_rtt_ns = now - matched.ts_ns
            rev.segments = keep
            rev.monotonic = all(_le(a.nextseq, b.seq) for a, b in itertools.pairwise(keep))

    @staticmethod
    def _bytes_in_flight(fwd: DirState, rev: DirState) -> int:
        segs = fwd.segments
        base = fwd.base
        if fwd.monotonic:
            first = (segs[0].seq - base) & M32
            last = (segs[-1].nextseq - base) & M32
        else:
            first = min((u.seq - base) & M32 for u in segs)
            last = max((u.nextseq - base) & M32 for u in segs)
        in_flight = (last - first) & M32
        for left, right in rev.sack_blocks:
            in_flight = (in_flight - ((right - left) & M32)) & M32
        return in_flight


def _raw_win(w: int) -> str:
    return "unknown" if w == 0xFFFFFFFF else str(w)


def _ev(ev: dict[str, Any] | None, name: str, **fields: Any) -> dict[str, Any]:
    """Record a flag's evidence: its numbers (relative seq/ack, frames, times) and the English sentence built
    from them by the message catalogue (narratives render the same numbers in the reader's language)."""
    if ev is None:
        ev = {}
    fields["why"] = EN["why." + name].format(**fields)
    ev[name] = fields
    return ev


__all__ = [
    "ANALYSIS_FLAGS",
    "A_ACK_LOST_PACKET",
    "A_DUPLICATE_ACK",
    "A_FAST_RETRANSMISSION",
    "A_KEEP_ALIVE",
    "A_KEEP_ALIVE_ACK",
    "A_LOST_PACKET",
    "A_OUT_OF_ORDER",
    "A_RETRANSMISSION",
    "A_REUSED_PORTS",
    "A_SPURIOUS_RETRANSMISSION",
    "A_WINDOW_FULL",
    "A_WINDOW_UPDATE",
    "A_ZERO_WINDOW",
    "A_ZERO_WINDOW_PROBE",
    "A_ZERO_WINDOW_PROBE_ACK",
    "Analyzer",
    "FlowAnalysis",
    "analysis_names",
]


def iter_analyzed(
    source: Any, tracker: Any = None, analyzer: Analyzer | None = None, stats: list[Any] | None = None
) -> Iterator[Segment]:
    """Every TCP segment of a capture, numbered by the flow tracker and analysed, in capture order."""
    from .capture import open_capture
    from .flow import FlowTracker

    tracker = tracker if tracker is not None else FlowTracker()
    analyzer = analyzer or Analyzer()
    cap = open_capture(source)
    if stats is not None:
        stats.append(cap.stats)
    feed = tracker.feed
    analyze = analyzer.analyze
    for seg in cap:
        analyze(seg, feed(seg))
        yield seg
