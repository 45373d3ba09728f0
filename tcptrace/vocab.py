"""The project's shared vocabularies, one table each, read by every module that names these things.

Theory of operation. A word the user reads or a code the C engine exchanges with Python is defined once, here,
and everything else derives from it: :mod:`tcptrace.analysis` takes its ``A_*`` bits and output order from
:data:`FLAGS`, :mod:`tcptrace.export` and :mod:`tcptrace.ladder` their Info-column texts, the ladder its colours
(:data:`LADDER_CATEGORIES`), ``tcptrace check`` its ``--forbid`` names; ``scripts/gen_vocab_h.py`` writes the C
engine's constants (``tcptrace/_vocab.h``) from these tables, :class:`tcptrace.state.TcpState`/``Input`` and
:class:`tcptrace.model.TcpFlags`, and ``tests/test_vocab.py`` fails when the committed header differs from what
the generator writes now. Adding a flag is one row; a consumer that cannot place it fails a test.

The flags are Wireshark's: the bit is ``TCP_A_*`` of packet-tcp.h, the name is the last part of the
``tcp.analysis.*`` field, and the rows are in the order the oracle (scripts/tshark_golden.py) joins the names,
which is the order of ``analysis`` lists in every output. Nothing here imports beyond the standard library.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AnalysisFlag:
    """One of Wireshark's TCP analysis flags (packet-tcp.c ``tcp_analyze_sequence_number``)."""

    bit: int  # packet-tcp.h TCP_A_* value; our Segment.analysis bitmask uses the same bits
    ws_const: str  # that constant's name in packet-tcp.h: "TCP_A_LOST_PACKET"; the C engine's A_* drop "TCP_"
    name: str  # our name, in every output: "lost_segment"
    field: str  # Wireshark's display-filter field: "tcp.analysis.lost_segment"
    info: str  # Wireshark's Info-column text, inside the brackets: "[TCP Previous segment not captured]"
    category: str | None  # ladder colour (a LADDER_CATEGORIES name); None: no colour of its own
    check: tuple[str, ...] = ()  # `tcptrace check --forbid` names that match this flag
    retransmission_kind: bool = False  # tshark also sets tcp.analysis.retransmission on it (packet-tcp.c)

    @property
    def c_name(self) -> str:
        """The C engine's macro: ``A_LOST_PACKET``."""
        return self.ws_const.removeprefix("TCP_")

    @property
    def colour(self) -> str | None:
        """The ladder colour of this flag's category (``None`` when it has none)."""
        return None if self.category is None else LADDER_COLOURS[self.category]


# In the oracle's order (tshark_golden.py ANALYSIS_FLAGS): every `analysis` list in our outputs follows it.
# The info texts are packet-tcp.c's col_prepend_fstr strings ("[TCP Dup ACK %u#%u] " gets frame#number).
FLAGS: tuple[AnalysisFlag, ...] = (
    AnalysisFlag(0x0001, "TCP_A_RETRANSMISSION", "retransmission", "tcp.analysis.retransmission",
                 "TCP Retransmission", "retransmission", ("retransmission",), retransmission_kind=True),
    AnalysisFlag(0x0400, "TCP_A_FAST_RETRANSMISSION", "fast_retransmission", "tcp.analysis.fast_retransmission",
                 "TCP Fast Retransmission", "retransmission", retransmission_kind=True),
    AnalysisFlag(0x4000, "TCP_A_SPURIOUS_RETRANSMISSION", "spurious_retransmission",
                 "tcp.analysis.spurious_retransmission", "TCP Spurious Retransmission", "retransmission",
                 retransmission_kind=True),
    AnalysisFlag(0x0200, "TCP_A_OUT_OF_ORDER", "out_of_order", "tcp.analysis.out_of_order",
                 "TCP Out-Of-Order", "out_of_order", ("out-of-order",)),
    AnalysisFlag(0x0002, "TCP_A_LOST_PACKET", "lost_segment", "tcp.analysis.lost_segment",
                 "TCP Previous segment not captured", "lost", ("lost-segment",)),
    AnalysisFlag(0x0004, "TCP_A_ACK_LOST_PACKET", "ack_lost_segment", "tcp.analysis.ack_lost_segment",
                 "TCP ACKed unseen segment", "lost", ("lost-segment",)),
    AnalysisFlag(0x0010, "TCP_A_DUPLICATE_ACK", "duplicate_ack", "tcp.analysis.duplicate_ack",
                 "TCP Dup ACK", "dup_ack", ("dup-ack",)),
    AnalysisFlag(0x0800, "TCP_A_WINDOW_UPDATE", "window_update", "tcp.analysis.window_update",
                 "TCP Window Update", "window_update"),
    AnalysisFlag(0x1000, "TCP_A_WINDOW_FULL", "window_full", "tcp.analysis.window_full",
                 "TCP Window Full", "window_full"),
    AnalysisFlag(0x0020, "TCP_A_ZERO_WINDOW", "zero_window", "tcp.analysis.zero_window",
                 "TCP ZeroWindow", "zero_window", ("zero-window",)),
    AnalysisFlag(0x0040, "TCP_A_ZERO_WINDOW_PROBE", "zero_window_probe", "tcp.analysis.zero_window_probe",
                 "TCP ZeroWindowProbe", "zero_window"),
    AnalysisFlag(0x0080, "TCP_A_ZERO_WINDOW_PROBE_ACK", "zero_window_probe_ack", "tcp.analysis.zero_window_probe_ack",
                 "TCP ZeroWindowProbeAck", "zero_window"),
    AnalysisFlag(0x0008, "TCP_A_KEEP_ALIVE", "keep_alive", "tcp.analysis.keep_alive",
                 "TCP Keep-Alive", "keep_alive"),
    AnalysisFlag(0x0100, "TCP_A_KEEP_ALIVE_ACK", "keep_alive_ack", "tcp.analysis.keep_alive_ack",
                 "TCP Keep-Alive ACK", "keep_alive"),
    AnalysisFlag(0x2000, "TCP_A_REUSED_PORTS", "reused_ports", "tcp.analysis.reused_ports",
                 "TCP Port numbers reused", None),
)  # fmt: skip
FLAG_BY_NAME: dict[str, AnalysisFlag] = {f.name: f for f in FLAGS}
FLAG_BY_CONST: dict[str, AnalysisFlag] = {f.c_name: f for f in FLAGS}
# The bits that tshark also reports as tcp.analysis.retransmission (packet-tcp.c adds that expert item to all three).
RETRANSMISSION_FAMILY = sum(f.bit for f in FLAGS if f.retransmission_kind)


@dataclass(frozen=True)
class LadderCategory:
    """How a ladder arrow is coloured (tcptrace.ladder): warm colours for loss and resets, purple for window
    trouble, in Wireshark's "Bad TCP" spirit."""

    name: str
    colour: str


# In legend order.
LADDER_CATEGORIES: tuple[LadderCategory, ...] = (
    LadderCategory("handshake", "#1f5fa8"),
    LadderCategory("normal", "#4d4d4d"),
    LadderCategory("teardown", "#2a8c8c"),
    LadderCategory("retransmission", "#e8590c"),
    LadderCategory("out_of_order", "#c98a00"),
    LadderCategory("lost", "#8c2d04"),
    LadderCategory("dup_ack", "#d6337f"),
    LadderCategory("rst", "#d00000"),
    LadderCategory("zero_window", "#7b2cbf"),
    LadderCategory("window_full", "#a67bd6"),
    LadderCategory("window_update", "#2b8a3e"),
    LadderCategory("keep_alive", "#6b7a00"),
    LadderCategory("duplicate", "#8a8a8a"),
)
LADDER_COLOURS: dict[str, str] = {c.name: c.colour for c in LADDER_CATEGORIES}
# When a segment has several reasons to be coloured, the most alarming wins: first in this order. "rst" is the TCP
# flag, "duplicate" a hardware duplicate (tcptrace's own finding); the rest are flags' categories. A segment with
# none of these is "handshake" (SYN, or in the handshake phase), "teardown" (FIN) or "normal".
LADDER_PRECEDENCE: tuple[str, ...] = (
    "rst",
    "lost",
    "retransmission",
    "duplicate",
    "out_of_order",
    "zero_window",
    "dup_ack",
    "keep_alive",
    "window_full",
    "window_update",
)

# `tcptrace check --forbid EVENT`, in the order --help and errors list them. "rst" is the TCP flag; every other
# name is an AnalysisFlag.check alias and matches the flags that carry it.
FORBID_EVENTS: tuple[str, ...] = ("rst", "retransmission", "zero-window", "lost-segment", "out-of-order", "dup-ack")
# `tcptrace check --require WHAT`: what every selected flow must show (tcptrace.check)
CHECK_REQUIREMENTS: tuple[str, ...] = ("handshake", "data", "graceful-close")
# what `tcptrace check --baseline` leaves out when it pairs and compares flows, unless --ignore says otherwise
BASELINE_IGNORE: tuple[str, ...] = ("time", "duration", "client_port", "addresses")

# Why an RST was sent, as stats.FlowSummary.rst_cause names it (and messages.py's "cause.<code>" explains it).
# The position is the C engine's CAUSE_* code, which Python turns back into the name.
RST_CAUSES: tuple[str, ...] = (
    "refused",  # the server's answer to a SYN it never acknowledged: nothing listens on that port
    "closed_socket",  # its sender had already sent a FIN: data arrived for a closed socket
    "abortive",  # from ESTABLISHED, CLOSE_WAIT or SYN_RECEIVED: the application aborted (SO_LINGER 0 ...)
    "mid_stream",  # the sender's state is UNKNOWN: the connection's start was not captured
    "stray",  # any other state: no connection that expects one
)

# What a flow summary keeps per stream, at most (docs/limits.md): memory per stream stays bounded whatever a
# capture holds (a flow of a million RSTs keeps ten and a count). Both engines use these (tcptrace/_vocab.h).
MAX_RESETS = 10  # RSTs listed with frame, state and cause; resets_total counts them all
MAX_ANOMALIES = 100  # state-machine anomalies kept (the flow document shows the first 20)
MAX_STATE_CHANGES = 64  # an endpoint's state changes listed (state.EndpointMachine.history); all are counted

# How long after a stream's end (reset, or both FINs acknowledged) nothing but a late copy is expected: then
# engine.FlowStream hands the stream out, and the C engine packs its state (a late packet unpacks it again).
FINISHED_HORIZON_NS = 2_000_000_000

# TCP headers Wireshark dissects only in part (packet-tcp.c dissect_tcp), as Segment.header_error: the
# segment keeps its tcp.stream and counts as a packet of its stream, but nothing in it is trusted further.
HDR_BOGUS_LENGTH = 1  # data offset below 5 words ("Bogus TCP header length"): analysed, flags not shown
HDR_SHORT_SEGMENT = 2  # header longer than the IP payload ("Short segment"): no tcp.len, no analysis
HEADER_ERRORS: dict[int, str] = {HDR_BOGUS_LENGTH: "bogus TCP header length", HDR_SHORT_SEGMENT: "short segment"}

# What the capture reader takes from a file, at most (docs/limits.md, "Reading"): the Python reader and the C
# engine's record and block walks (tcptrace/_vocab.h) stop at the same place.
# A pcap record's captured bytes, a pcapng block's whole length (section headers too): no link layer has larger
# frames, so a larger claim is a damaged length, and reading on would only fill memory.
MAX_BLOCK_BYTES = 64 << 20
# Frame timestamps, in nanoseconds since 1970, lie in [-TS_NS_MAX, TS_NS_MAX] (1823-11-12 to 2116-02-20): the
# pcapng reader clamps a timestamp outside it, with a warning. Then the difference of any two fits in int64, so
# the C engine's time arithmetic cannot overflow, and both engines agree on every capture, from a file or a pipe.
# pcap timestamps (32-bit seconds, 1970 to 2106) always lie inside.
TS_NS_MAX = (1 << 62) - 1

# Wireshark's tcp.completeness bits (packet-tcp.c TCP_COMPLETENESS_*), in bit order.
COMPLETENESS: tuple[tuple[str, int], ...] = (
    ("SYNSENT", 0x01),
    ("SYNACK", 0x02),
    ("ACK", 0x04),
    ("DATA", 0x08),
    ("FIN", 0x10),
    ("RST", 0x20),
)


# Zeek's TCP timers (scripts/base/init-bare.zeek defaults), in nanoseconds: they decide where Zeek ends one
# connection of a 4-tuple and starts the next (tcptrace.zeek.ZeekTracker).
ZEEK_ATTEMPT_DELAY_NS = 5_000_000_000  # tcp_attempt_delay: an unanswered SYN is dropped after it
ZEEK_CLOSE_DELAY_NS = 5_000_000_000  # tcp_close_delay: a closed connection lingers this long after its last packet
ZEEK_RESET_DELAY_NS = 5_000_000_000  # tcp_reset_delay: a RST after a one-sided close
ZEEK_SYN_TIMEOUT_NS = 5_000_000_000  # tcp_SYN_timeout: the first expire check
ZEEK_SESSION_TIMER_NS = 6_000_000_000  # tcp_session_timer: the expire check repeats this often
ZEEK_CONNECTION_LINGER_NS = 5_000_000_000  # tcp_connection_linger
ZEEK_HANDSHAKE_INACTIVITY_NS = 60_000_000_000  # udp_inactivity_timeout, a TCP session's until its handshake ends
ZEEK_INACTIVITY_NS = 300_000_000_000  # tcp_inactivity_timeout
# Zeek's TCP endpoint states (TCP_Endpoint.h EndpointState, in its order; conn.log's states drop TCP_ENDPOINT_), the
# history masks of TCP_Endpoint.h (a responder's are shifted 16 bits left) and TCPSessionAdapter.cc's
# TOO_LARGE_SEQ_DELTA: tcptrace.zeek and the C engine's twin (ZK_*) both read them from here.
ZEEK_ENDPOINT_STATES: tuple[str, ...] = (
    "INACTIVE", "SYN_SENT", "SYN_ACK_SENT", "PARTIAL", "ESTABLISHED", "CLOSED", "RESET",
)  # fmt: skip
ZEEK_HIST_MASKS: tuple[tuple[str, int], ...] = (
    ("SYN", 0x1), ("FIN", 0x2), ("RST", 0x4), ("FIN_RST", 0x8), ("DATA", 0x10), ("ACK", 0x20), ("MULTI", 0x40),
)  # fmt: skip
ZEEK_TOO_LARGE_SEQ_DELTA = 1048576
# likely_server_ports as Zeek's base scripts fill it (every TCP port an analyzer registers in
# scripts/base/protocols/*/main.zeek, Zeek 8): WantConnection makes the side with one of them the responder when
# a connection starts without a SYN. Bare mode (zeek -b) loads fewer analyzers, so fewer ports.
ZEEK_LIKELY_SERVER_PORTS: frozenset[int] = frozenset(
    {21, 22, 25, 53, 79, 80, 81, 88, 135, 139, 143, 389, 443, 445, 465, 502, 514, 563, 585, 587, 614, 631, 636}
    | {989, 990, 992, 993, 995, 1080, 1434, 1883, 2811, 3128, 3268, 3306, 3389, 5222, 5223, 5269, 5432, 6379}
    | {6666, 6667, 6668, 6669, 8000, 8080, 8888, 20000}
)


# The engine's per-direction record (tcptrace._engine DirRecord, a named struct sequence): stats.DirStats's counters
# by name, then the analysis-flag counts in FLAGS order. scripts/gen_vocab_h.py writes the C field table and index
# enum from this tuple, so the two sides cannot disagree on positions.
ENGINE_DIR_FIELDS: tuple[str, ...] = (
    *("packets", "ack_packets", "pure_acks", "pushed_packets", "sack_packets", "data_packets", "data_bytes"),
    *("seg_max", "seg_min", "truncated_bytes", "truncated_packets", "win_n", "win_sum", "win_max", "win_min"),
    *("rtt_n", "rtt_sum", "rtt_max", "rtt_min", "rtt_sumsq", "syn_packets", "fin_packets", "rst_packets"),
    *("rexmt_packets", "rexmt_bytes", "ooo_packets", "zwp_packets", "zwp_bytes", "zero_win_adv", "dup_acks"),
    *("missed_bytes", "first_ts", "last_ts", "max_idle_ns", "seq_lo", "seq_hi"),
)
ENGINE_DIR_RECORD: tuple[str, ...] = (*ENGINE_DIR_FIELDS, "flag_counts", "classic")
# Engine.flow(i): a stream's tracking and counters (FlowRecord); "client"/"server" are its two DirRecords.
ENGINE_FLOW_RECORD: tuple[str, ...] = (
    *("first_frame", "last_frame", "first_ts", "last_ts", "packets", "first_direction", "completeness"),
    *("ts_first_rtt", "reused_ports_frame", "base_client", "base_server", "win_scale_client", "win_scale_server"),
    *("client", "server"),
)
# Engine.lifecycle(i): handshake, FINs, RSTs, states, options and Zeek's view (LifecycleRecord). Values that are
# pairs are (client, server); fin_frames are (direction, frame), resets (direction, frame, state, cause, len),
# anomalies (frame, state, input), options per side (mss, wscale, sack_permitted, timestamps), -1 for absent.
ENGINE_LIFECYCLE_RECORD: tuple[str, ...] = (
    *("client_addr", "client_port", "server_addr", "server_port", "roles_guessed", "syn_frame", "synack_frame"),
    *("handshake_ack_frame", "handshake_done", "fin_frames", "fin_next", "fin_acked", "resets", "resets_total"),
    "data_after_fin",
    *("anomalies", "client_state", "server_state", "options"),
    # the stream as one Zeek connection (tcptrace.zeek.ZeekFinal's fields): the stream direction of Zeek's
    # originator, the history, (orig, resp) endpoint states, packets and TCP_Endpoint::Size(), missed bytes,
    # (first, last) network time
    *("zeek_orig_dir", "zeek_history", "zeek_states", "zeek_pkts", "zeek_sizes", "zeek_missed", "zeek_ts"),
)
# Engine.row(i): what the flows table and CSV show of a stream, and nothing more (RowRecord; stats.RowFacts is
# the same record built from a FlowSummary, and stats.flow_row turns either into a stats.FlowRow). Pairs are
# (client, server); app_bytes is DirStats.app_bytes; the zeek_* fields are LifecycleRecord's (what zeek.conn_state
# reads: (orig, resp) endpoint states and sizes); fin_frames are (direction, frame); first_reset is (direction,
# RST_CAUSES index) or None; flag_counts are both directions' analysis-flag counts in FLAGS order.
ENGINE_ROW_RECORD: tuple[str, ...] = (
    *("stream", "client_addr", "client_port", "server_addr", "server_port", "roles_guessed", "first_ts", "last_ts"),
    *("packets", "dir_packets", "data_bytes", "app_bytes", "completeness", "zeek_history", "zeek_states"),
    *("zeek_sizes", "syn_frame", "synack_frame", "handshake_ack_frame", "fin_frames", "fin_acked", "first_reset"),
    *("resets_total", "flag_counts"),
)
# Classic tcptrace's per-direction tcb (classic.ClassicDir, the C engine's ClDir): what `tcptrace -l` prints is
# computed from these (classic.classic_dict). Engine.flow(i)'s DirRecords carry them as a ClassicRecord ("classic").
# Times are ns; the *_sum fields are floats (sums of samples, added in the same order in both engines).
ENGINE_CLASSIC_FIELDS: tuple[str, ...] = (
    *("packets", "resets", "ack_pkts", "pureack_pkts", "num_sacks", "num_dsacks", "max_sack_blocks"),
    *("unique_bytes", "data_pkts", "data_bytes", "rexmit_pkts", "rexmit_bytes", "zwnd_probes", "zwnd_probe_bytes"),
    *("out_order_pkts", "data_pkts_push", "syn_count", "fin_count", "f1323_ws", "f1323_ts", "window_scale"),
    *("fsack_req", "sacks_sent", "urg_data_pkts", "urg_data_bytes", "mss", "max_seg_size", "min_seg_size"),
    *("win_max", "win_min", "win_zero_ct", "win_tot", "win_scaled_pkts", "win_scaling_used", "initialwin_bytes"),
    *("initialwin_segs", "syn", "fin", "latest_seq", "seq_wrap_count", "trunc_bytes", "trunc_segs"),
    *("data_pkts_timed", "first_data_time", "last_data_time", "has_time", "last_time", "idle_max"),
    *("rtt_count", "rtt_min", "rtt_max", "rtt_sum", "rtt_sum2", "rtt_3whs", "rtt_full_size", "rtt_full_count"),
    *("rtt_full_min", "rtt_full_max", "rtt_full_sum", "rtt_full_sum2", "rtt_nosample", "rtt_amback"),
    *("rtt_min_last", "rtt_max_last", "rtt_sum_last", "rtt_sum2_last", "rtt_count_last", "rtt_cumack"),
    *("rtt_dupack", "rtt_triple_dupack", "retr_max", "retr_min_tm", "retr_max_tm", "retr_tm_sum", "retr_tm_sum2"),
    *("retr_tm_count", "segs_dropped"),
)
# At most this many byte ranges in one direction's classic segment database (classic.py; docs/limits.md): holes
# the capture never filled keep acknowledged ranges apart. A range past it is not recorded (segs_dropped).
MAX_CLASSIC_SEGMENTS = 1 << 16
# The phase of a segment in its stream (stats.FlowSummary._lifecycle; Segment.phase); the C engine's PHASE_* codes.
PHASES: tuple[str, ...] = ("handshake", "data", "teardown", "reset")
# What the engine's packets pass (Engine.packets; engine.PacketStream) sets on the Segment of a packet it hands
# Python: model.Segment's stream and analysis attributes by name ("settles": the stream's online view lets this
# segment settle the stream's states: no FIN or RST yet, handshake done, both endpoints ESTABLISHED).
ENGINE_SEGMENT_FIELDS: tuple[str, ...] = (
    *("stream", "direction", "seq", "ack", "win", "win_scale", "analysis", "evidence", "acks_frame", "ack_rtt_ns"),
    *("rto_ns", "rto_frame", "bytes_in_flight", "duplicate_of", "phase", "client_state", "server_state", "settles"),
)
# Engine.plain_runs: one run of plain segments (model.PlainRun), as the engine hands it over
ENGINE_RUN_RECORD: tuple[str, ...] = (
    *("stream", "first_frame", "last_frame", "first_ts", "last_ts", "packets"),
    # (client, server) pairs from here on
    *("segments", "data_segments", "data_bytes", "first_ts_dir", "last_ts_dir", "first_data_ts", "last_data_ts"),
    *("acked_new", "max_ack", "last_ack_raw", "last_win", "last_seg", "last_data", "trail_len", "trail_count"),
    *("ack_trail", "ack_origin", "ack_trail_n", "starts", "ends", "frames", "times"),
)
# (C type name, enum prefix, fields) of each record the engine hands Python: scripts/gen_vocab_h.py writes them.
ENGINE_RECORDS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("DirRecord", "DIR", ENGINE_DIR_RECORD),
    ("FlowRecord", "FLOW", ENGINE_FLOW_RECORD),
    ("LifecycleRecord", "LIFE", ENGINE_LIFECYCLE_RECORD),
    ("RowRecord", "ROW", ENGINE_ROW_RECORD),
    ("ClassicRecord", "CL", ENGINE_CLASSIC_FIELDS),
    # Engine.take_kept() in the packets pass: consecutive packets rendered as lines by the engine (text, the lines
    # joined by newlines), how many, and the latest capture time among them (engine.PacketStream's horizon)
    ("LineChunk", "CHUNK", ("text", "packets", "max_ts")),
    # Engine.take_kept() with Engine.plain_runs (explain): a stream's consecutive plain segments, counted instead of
    # handed out (events.PlainRun says what each field is for; the per-direction fields are (client, server) pairs)
    ("PlainRunRecord", "RUN", ENGINE_RUN_RECORD),
)

__all__ = [
    "BASELINE_IGNORE",
    "CHECK_REQUIREMENTS",
    "COMPLETENESS",
    "ENGINE_CLASSIC_FIELDS",
    "ENGINE_DIR_FIELDS",
    "ENGINE_DIR_RECORD",
    "ENGINE_FLOW_RECORD",
    "ENGINE_LIFECYCLE_RECORD",
    "ENGINE_RECORDS",
    "ENGINE_ROW_RECORD",
    "ENGINE_RUN_RECORD",
    "ENGINE_SEGMENT_FIELDS",
    "FINISHED_HORIZON_NS",
    "FLAGS",
    "FLAG_BY_CONST",
    "FLAG_BY_NAME",
    "FORBID_EVENTS",
    "LADDER_CATEGORIES",
    "LADDER_COLOURS",
    "LADDER_PRECEDENCE",
    "MAX_ANOMALIES",
    "MAX_BLOCK_BYTES",
    "MAX_CLASSIC_SEGMENTS",
    "MAX_RESETS",
    "MAX_STATE_CHANGES",
    "PHASES",
    "RETRANSMISSION_FAMILY",
    "RST_CAUSES",
    "TS_NS_MAX",
    "ZEEK_ATTEMPT_DELAY_NS",
    "ZEEK_CLOSE_DELAY_NS",
    "ZEEK_CONNECTION_LINGER_NS",
    "ZEEK_ENDPOINT_STATES",
    "ZEEK_HANDSHAKE_INACTIVITY_NS",
    "ZEEK_HIST_MASKS",
    "ZEEK_INACTIVITY_NS",
    "ZEEK_LIKELY_SERVER_PORTS",
    "ZEEK_RESET_DELAY_NS",
    "ZEEK_SESSION_TIMER_NS",
    "ZEEK_SYN_TIMEOUT_NS",
    "ZEEK_TOO_LARGE_SEQ_DELTA",
    "AnalysisFlag",
    "LadderCategory",
]
