/* tcptrace._engine: the per-packet hot loop of `tcptrace flows` and `tcptrace packets` in C (optional accelerator).
 *
 * Theory of operation. This is a transcription, statement by statement, of Python code that stays the
 * reference: the pcap record walk, the pcapng walk over enhanced packet blocks and the fused Ethernet/SLL/raw
 * + IPv4 + TCP decode of capture.py, the FlowTracker of flow.py, the Analyzer of analysis.py (Wireshark 4.0's
 * tcp_analyze_sequence_number; its evidence as numbers, the sentences stay in Python; bytes in flight only in the
 * packets pass) and stats.FlowSummary: the per-direction counters (classic tcptrace -l), completeness, and for every
 * packet that is not "steady" the lifecycle (handshake, FINs, RSTs and their causes) and the RFC 9293 endpoint
 * machine; for every segment Zeek's view of the stream (zeek.py ZeekConnection: zeek_packet) and classic
 * tcptrace's tcb (classic.py: classic_add). The machine is not copied: state.py's table arrives as byte arrays
 * when the Engine is made (engine._engine_tables), so the table stays data in one place.
 *
 * A frame the fused decode does not take (IPv6, IPv4 options, tunnels, VLANs, other link types, anything odd)
 * goes to capture.py's layered decoder, which returns a Segment (fed back through Engine.add) or counts a skip
 * reason. In pcapng files the engine walks the enhanced packet blocks of the interfaces Python described to it;
 * every other block (section headers, interface descriptions, simple packet blocks, damage) goes back to
 * capture.py's block walk. Memory is per flow: the table entry, the counters, Wireshark's unacked-segment list,
 * Zeek's history string and its blocks above holes; nothing per packet. A flow that has ended is packed a while
 * later (a few hundred bytes instead of ~2 KB) and unpacked if a late packet comes (see "packing finished flows").
 *
 * The packets pass (Engine.packets, docs/engine.md) hands out every kept packet as a Segment with its analysis or,
 * when nothing in it needs Python, as a jsonl/csv/table line rendered here (tests/test_engine_packets.py).
 *
 * The equivalence of the two paths is a test (tests/test_engine.py): `flows --format json` is byte-identical
 * with and without this module on every sample and corpus capture. Sequence numbers are uint32_t and all
 * comparisons follow seqnum.py (Wireshark's LT_SEQ & co.).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <stdlib.h>
#include <math.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

/* The constants shared with Python (TCP and analysis flag bits, the flags' output order, state and RST-cause codes,
 * completeness bits, Zeek's letters, packet-tcp.c thresholds): generated from the Python tables by
 * scripts/gen_vocab_h.py, never copied by hand (tests/test_vocab.py). */
#include "_vocab.h"

#define HALF 0x80000000u
#define F_SFR (F_SYN | F_FIN | F_RST)
#define F_SF (F_SYN | F_FIN)

#define NO_STATE 255      /* engine._engine_tables: no arc for this (state, input), an anomaly */

static inline int seq_lt(uint32_t a, uint32_t b) { return (uint32_t)(a - b) >= HALF; }
static inline int seq_le(uint32_t a, uint32_t b) { return a == b || (uint32_t)(a - b) >= HALF; }
static inline int seq_gt(uint32_t a, uint32_t b) { return a != b && (uint32_t)(a - b) < HALF; }

/* ------------------------------------------------------------------------------------------------ */
/* records                                                                                          */

typedef struct {
    int64_t frame, ts;
    uint32_t seq, nextseq;
} Unacked;

typedef struct {
    int64_t frame, len;
    int dir, state, cause;
} Rst;

typedef struct {
    int64_t frame;
    uint8_t state, input;
} Anomaly;

typedef struct { /* analysis.DirState */
    uint32_t nextseq, maxseqtobeacked, lastack, window;
    int64_t nextseqframe, nextseqtime, lastacktime, lastackframe, lastnondupack, dupacknum;
    int lastsegmentflags, monotonic, is_first_ack;
    Unacked *segs;
    Py_ssize_t head, n, cap; /* live segments are segs[head .. n) */
    int64_t recent_ipid[2], recent_len[2], recent_ts[2], recent_frame[2];
    uint32_t recent_seq[2];
    /* for the packets pass (Analyzer's bytes in flight and evidence) */
    int valid_bif;
    uint32_t sack_sum;  /* the SACK blocks this side sent last, their lengths summed (DirState.sack_blocks) */
    int64_t zero_window_frame;
} ADir;

typedef struct { /* stats.DirStats counters */
    int64_t packets, ack_packets, pure_acks, pushed, sack_packets, data_packets, data_bytes, seg_max, seg_min;
    int64_t trunc_bytes, trunc_packets, win_n, win_sum, win_max, win_min;
    int64_t rtt_n, rtt_max, rtt_min;
    /* sums of RTT samples, exact as Python's integers: a sample is below 2^63 (timestamps lie within TS_NS_MAX), its
     * square below 2^126, so 128 bits hold the sum of 2^64 samples and 192 bits (rtt_sumsq_hi) the squares */
    unsigned __int128 rtt_sum, rtt_sumsq;
    uint64_t rtt_sumsq_hi;
    int64_t syn, fin, rst, rexmt_packets, rexmt_bytes, ooo, zwp_packets, zwp_bytes, zero_win_adv, dup_acks;
    int64_t missed_bytes, first_ts, last_ts, max_idle;
    int64_t seq_lo, seq_hi; /* relative sequence span of the data: application bytes = seq_hi - seq_lo */
    int64_t flags[N_FLAGS];
} SDir;

/* classic tcptrace -l: the tcb per direction (classic.ClassicDir), kept in FlowC.cl; functions below (classic_*) */

typedef struct { /* one recorded byte range (rexmit.c segment) */
    uint32_t first, last;
    int64_t time;
    int32_t retrans, acked;
} ClSeg;

typedef struct ClQuad { /* rexmit.c quadrant: 2^30 sequence numbers, its ranges in order */
    ClSeg *segs;
    Py_ssize_t n, cap;
    struct ClQuad *next, *prev;
} ClQuad;

typedef struct { /* classic.ClassicDir: the fields of vocab.ENGINE_CLASSIC_FIELDS, then the internal state */
    int64_t packets, resets, ack_pkts, pureack_pkts, num_sacks, num_dsacks, max_sack_blocks, unique_bytes;
    int64_t data_pkts, data_bytes, rexmit_pkts, rexmit_bytes, zwnd_probes, zwnd_probe_bytes, out_order_pkts;
    int64_t data_pkts_push, syn_count, fin_count, f1323_ws, f1323_ts, window_scale, fsack_req, sacks_sent;
    int64_t urg_data_pkts, urg_data_bytes, mss, max_seg_size, min_seg_size, win_max, win_min, win_zero_ct;
    int64_t win_tot, win_scaled_pkts, win_scaling_used, initialwin_bytes, initialwin_segs, syn, fin, latest_seq;
    int64_t seq_wrap_count, trunc_bytes, trunc_segs, data_pkts_timed, first_data_time, last_data_time, has_time;
    int64_t last_time, idle_max, rtt_count, rtt_min, rtt_max, rtt_3whs, rtt_full_size, rtt_full_count;
    int64_t rtt_full_min, rtt_full_max, rtt_nosample, rtt_amback, rtt_min_last, rtt_max_last, rtt_count_last;
    int64_t rtt_cumack, rtt_dupack, rtt_triple_dupack, retr_max, retr_min_tm, retr_max_tm, retr_tm_count;
    int64_t segs_dropped;
    double rtt_sum, rtt_sum2, rtt_full_sum, rtt_full_sum2, rtt_sum_last, rtt_sum2_last, retr_tm_sum, retr_tm_sum2;
    /* internal */
    uint32_t ack;
    int64_t nsegs, rtt_last, win_last;
    int data_acked, owin_any, quads_seen;
    ClQuad *quads[4];
} ClDir;

/* Zeek's view of a stream (tcptrace/zeek.py ZeekConnection; zeek_packet below) */
typedef struct {
    int64_t lo, hi; /* relative sequence numbers [lo, hi) received above a hole */
} ZBlock;

typedef struct { /* TCP_Endpoint with its reassembler's gap bookkeeping */
    uint32_t start, last, ack;
    int64_t seq_wraps, ack_wraps;
    int state, prev_state, fin_cnt, did_close;
    int64_t pkts, fin_seq, hist_last_syn, hist_last_fin, hist_last_rst;
    int64_t cnt[3], thresh[3]; /* logarithmic letters: [0] T, [1] W, [2] G */
    int64_t last_reassem, trim;
    ZBlock *blocks;
    Py_ssize_t nblocks, capblocks;
} ZEnd;

typedef struct {
    ZEnd ep[2]; /* by stream direction: [0] the client's side */
    int started, orig_dir, is_partial, first_packet_seen;
    uint32_t hist_seen;
    char *hist;
    Py_ssize_t hlen, hcap;
    int64_t start_ns, last_ns, missed;
} ZeekC;

typedef struct {
    int64_t stream;
    uint8_t addr[2][16]; /* [0] client, [1] server */
    int port[2];
    int alen;
    uint32_t base[2];
    int has_base[2], win_scale[2];
    int roles_guessed;
    int64_t first_frame, last_frame, first_ts, last_ts, packets, reused_ports_frame;
    ADir ad[2];
    int64_t ts_mru_syn, ts_first_rtt;
    SDir sd[2];
    int completeness, first_direction, steady_mask;
    /* FlowSummary lifecycle (stats._lifecycle) */
    int64_t syn_frame, synack_frame, handshake_ack_frame, fin_acked[2], data_after_fin[2];
    int handshake_done, has_fin_next[2], nfin, state[2]; /* state: [0] client, [1] server (TcpState order) */
    uint32_t fin_next[2];
    int64_t fin_frame[2];
    int fin_dir[2];
    Rst *rst;
    Py_ssize_t nrst, caprst; /* the first MAX_RESETS RSTs (vocab.MAX_RESETS) */
    int64_t rst_total;
    Anomaly *anomalies; /* allocated at the first one: most streams have none (keeps a stream ~1 KB smaller) */
    Py_ssize_t nanomalies, capanomalies;
    /* SYN options per direction (mss -1 = none) */
    int mss[2], wscale_opt[2], sack_permitted[2], timestamps[2];
    ZeekC zk; /* Zeek's view of the stream (zeek_packet) */
    int keep; /* Engine.keep's predicate said yes: this stream's Segments go to Engine.take_kept() */
    int queued; /* ended (reset, or both FINs acknowledged) and in the engine's queue of flows to pack */
    ClDir cl[2]; /* classic tcptrace's tcb per direction ([0] client), classic_add */
    /* the packets pass: PacketStream says the stream's states are settled (Engine.quiet), so its segments without
     * SYN, FIN or RST are rendered as lines here; last_sfr_frame: its last SYN, FIN or RST */
    int quiet, pk_settles; /* pk_settles: the last Segment's "settles" */
    int64_t last_sfr_frame;
} FlowC;

/* A finished flow, packed (see "packing finished flows" below): e->flows[i] points here with its low bit set.
 * The four-tuple stays readable for the flow table; the rest is the FlowC's words that differ from a new flow's,
 * then its arrays, byte for byte. */
typedef struct {
    uint32_t nbytes; /* of data[] */
    uint16_t port[2];
    uint8_t alen;
    uint8_t data[] __attribute__((aligned(8))); /* client address, server address (alen bytes each), the packed
                                                   FlowC, zeros up to a multiple of 8, then its arrays */
} Packed;

/* A packed flow read in place (flow_view): its FlowC, and classic's quadrants, which the FlowC points to */
typedef struct {
    FlowC f;
    ClQuad quads[2][4];
} FlowTmp;

#define IS_PACKED(ptr) (((uintptr_t)(ptr)) & 1u)
#define PACKED(ptr) ((Packed *)((uintptr_t)(ptr) & ~(uintptr_t)1u))

typedef struct {
    uint8_t src[16], dst[16];
    uint16_t sport, dport;
    uint32_t alen;
} Key;

typedef struct { /* 16 bytes: the four-tuple itself lives in the flow (addr, port), not in the table */
    int64_t flow; /* index into flows, -1 = empty slot */
    uint64_t hash; /* the key's hash, whole: a mismatch ends here without touching the flow, and the table grows
                    * without reading a flow or hashing again (a million-connection scan spent a fifth of its
                    * pass rebuilding keys from flows scattered in memory) */
} Slot;
#define SLOT_FLOW(s) ((s)->flow >> 1) /* the flow is index << 1 | dir, dir: which way the key points (0 when */
#define SLOT_DIR(s) ((int)((s)->flow & 1)) /* its source is the flow's client) */

typedef struct { /* one decoded TCP segment */
    int64_t frame, ts, len, payload_captured, ip_id;
    const uint8_t *src, *dst, *opt;
    Py_ssize_t opt_len;
    int alen, sport, dport, flags, hdr_len, header_truncated;
    int header_error; /* Segment.header_error: 0, HDR_BOGUS_LENGTH or HDR_SHORT_SEGMENT */
    uint32_t seq, ack, win_raw;
    int urg_ptr; /* the urgent pointer when URG is set (classic's urgent data bytes), else 0 */
} Pkt;

/* What the analysis found on the packet just processed, beyond its flags: what Analyzer.analyze writes on a
 * Segment (acks_frame, ack_rtt_ns, rto_ns/rto_frame, bytes_in_flight, duplicate_of) and the numbers of every
 * flag's evidence (Analyzer's _ev calls; ev has a bit per evidence entry, EV_*), the phase and the relative
 * numbers (FlowTracker.feed). The packets pass turns it into a Segment's attributes or a rendered line. */
enum {
    EV_REUSED = 1 << 0, EV_ZWP = 1 << 1, EV_ZW = 1 << 2, EV_LOST = 1 << 3, EV_KA = 1 << 4, EV_WU = 1 << 5,
    EV_WF = 1 << 6, EV_KAA = 1 << 7, EV_ZWPA = 1 << 8, EV_DA = 1 << 9, EV_AL = 1 << 10, EV_SPUR = 1 << 11,
    EV_RT = 1 << 12 /* fast retransmission, out-of-order or retransmission: rt_kind */
};
typedef struct {
    int ta, dir, phase, ev, rt_kind, flags;
    int rst_state, rst_cause; /* an RST's sender state before it and cause (Segment.rst_info); rst_state -1: none */
    int64_t win, acks_frame, ack_rtt, rto_ns, rto_frame, bif, dup_of, dup_ip_id, dup_dt;
    uint32_t seq_rel, ack_rel;
    /* evidence numbers, named after the _ev fields */
    int64_t zwp_frame, lost_frame, ka_frame, ka_len, wf_frame, da_frame, da_number, spur_frame, rt_frame, rt_dups;
    int64_t rt_dt, rt_thres;
    uint32_t zwp_seq, lost_seq, lost_expected, lost_gap, ka_seq, ka_expected, wu_old, wu_new, wf_end, wf_ack,
        wf_window, da_ack, al_ack, al_seen, spur_end, spur_acked, rt_seq, rt_expected;
} PktOut;

/* explain's plain runs (Engine.plain_runs; model.PlainRun): a kept stream's segments that the narrative can only
 * count (a plain data segment or ACK in ESTABLISHED, nothing flagged: runs_plain) are folded into a RunAgg once
 * `lead` of them in a row were handed out as Segments, and the RunAgg goes to take_kept() when the run ends. */
typedef struct {
    int64_t first_frame, last_frame, first_ts, last_ts, packets;
    int64_t segs[2], data[2], bytes[2], first_ts_d[2], last_ts_d[2], first_data_ts[2], last_data_ts[2];
    int64_t acked_new[2], max_ack[2], last_ack_raw[2], last_win[2];
    int64_t ls_frame[2], ls_len[2], ls_flags[2], ls_ack[2], ls_ts[2], ls_acks_frame[2]; /* last segment */
    int64_t ld_frame[2], ld_len[2], ld_ts[2];                                             /* last data segment */
    int64_t trail_len[2], trail_count[2]; /* the last data segments without PSH of one length: that length, how many */
    int64_t ack_trail[2], ack_origin[2], ack_n[2]; /* the last segments with one ack: it, its first pure ACK, how many */
    int64_t *ranges[2]; /* per data segment: start, end (relative), frame, time */
    Py_ssize_t nranges[2], capranges[2];
} RunAgg;

typedef struct { /* per kept stream: what decides whether its next segment is plain (events._Classifier's view) */
    int plain;                 /* plain segments in a row so far */
    int never;                 /* HTTP, TLS or DNS may be told (applayer.may_be_http_tls_or_dns): no runs */
    int app_seen[2];           /* each side's first payload was looked at */
    int seen_data[2], seen_ack[2], full_told, split_told, prev_est;
    int have_max_ack[2], have_high[2], have_last[2], last_psh[2];
    uint32_t max_ack[2];
    uint64_t high[2];
    int64_t last_len[2];
    RunAgg *agg; /* the run being counted, or NULL */
} RunC;
#define RUNS_DONE ((RunC *)1) /* the stream sent a FIN or RST: no plain segment any more */

struct NgIface; /* one pcapng interface as feed_pcapng walks it (below) */
struct Due {
    int64_t flow, ts;
};

typedef struct {
    PyObject_HEAD
    FlowC **flows;
    Py_ssize_t nflows, capflows;
    Slot *slots;
    Py_ssize_t nslots, used;
    uint64_t hash_key[2]; /* SipHash key, random per Engine: crafted addresses cannot pile flows on one slot */
    /* flows that ended, in the order they ended, with the capture time of their last packet then: each is
     * packed once the capture is pack_after_ns past its last packet (see "packing finished flows") */
    struct Due *due;
    Py_ssize_t due_head, due_n, due_cap;
    int64_t pack_after_ns; /* < 0: never pack */
    int64_t npacked, packed_bytes, nunpacked;
    /* the packets pass reads and writes the flow of the packet just processed after process() (segment_fields,
     * line_ok, render_line): its packing waits for the next packet. 1 + its stream (0: none), and that time */
    int64_t pack_defer, pack_defer_ts;
    int detect_hw_dups;
    /* state.py's table, compiled by engine._engine_tables: rows[state][input] -> state or NO_STATE (anomaly);
     * classes[flags & (FIN|SYN|RST|ACK) | 0x20 if the ACK covers the receiver's FIN] -> send, recv1, recv2;
     * initial[flags & (SYN|ACK|RST)] -> sender, receiver states before a flow's first segment */
    uint8_t rows[N_STATES][N_INPUTS], classes[64][3], initial[32][2];
    /* selection inside the pass (Engine.keep): keep(stream, previous_stream_on_the_ports, client_addr,
     * client_port, server_addr, server_port) decides once per new stream; the Segments of kept streams,
     * their .stream set, collect in kept until take_kept(). last_*: the stream of the packet just processed. */
    PyObject *keep, *kept;
    int last_kept;
    int64_t last_stream;
    /* feed_pcapng's interface table, read from the list it was last given (ng_list, a strong reference): its
     * first ng_n entries, in ng_ifs. capture._engine_interfaces only appends to a section's list and gives a new
     * section a new list, so a call reads only the entries appended since the last (a million interface
     * descriptions, each followed by a call, cost a million entries read, not 10^12). ng_busy: a walk is running
     * (it uses the table; a nested call must not change it). */
    PyObject *ng_list;
    struct NgIface *ng_ifs;
    Py_ssize_t ng_n, ng_cap;
    int ng_busy;
    int64_t trace_end; /* the time of the last frame read (classic's idle time runs to it): feed_frame, add, saw_frame */
    /* --start/--end (Engine.time_range, capture.TimeRange): frames outside [win_lo, win_hi] are counted through the
     * walk's skip callable under win_reason and go no further. A bound relative to the capture's first frame
     * (win_lo_rel, win_hi_rel) is an offset until the first frame read (win_pending) makes it a time. */
    int64_t win_lo, win_hi;
    int win_pending, win_lo_rel, win_hi_rel;
    PyObject *win_reason;
    /* Engine.partition(k, n): only the segments whose four-tuple falls in part k of n (partition_of) are tracked
     * and analysed; the others are read and counted, nothing more (tcptrace.parallel: n such passes together
     * analyse every stream once; the frame numbers stay the capture's). nparts 0: every segment. numbered
     * (Engine.partition(k, n, True)): the other parts' connections are also followed, only as far as numbering
     * their streams needs (light_track: a table of four-tuples and their base sequence numbers, 64 bytes each,
     * nothing analysed), so that each of the part's streams gets the number one pass gives it (gnum, by the part's
     * own number; streams_seen: every part's streams so far) without a numbering pass before it */
    uint32_t part, nparts;
    int numbered;
    /* Engine.select(n): only the capture's stream n is tracked and analysed (its number as one pass gives it:
     * numbered, with gnum), every other connection counted as another part's is (light_track). Once stream n has
     * begun, only_* is its four-tuple, which later streams on the same four-tuple share (track()'s port reuse):
     * those packets take the full path, the others light_track. only_reused: the packet beginning stream n
     * reopened a counted four-tuple (its SYN flagged as track() flags one, A_REUSED_PORTS). only -1: off */
    int64_t only;
    int only_alen, only_reused;
    uint8_t only_a[16], only_b[16];
    uint16_t only_pa, only_pb;
    struct Light *light;
    Py_ssize_t light_slots, light_used;
    int64_t streams_seen;
    int64_t *gnum;
    Py_ssize_t gnum_cap;
    /* with parts: the latest time among the other parts' segments since the last kept segment (INT64_MIN: none),
     * and per kept segment that time as it was before it (Engine.take_foreign): a part's FlowStream hands out a
     * stream when one pass would, at the other parts' segments too (tcptrace.parallel) */
    int64_t foreign_ts;
    int64_t *fts;
    Py_ssize_t fts_n, fts_cap;
    /* the packets pass (Engine.packets): pk_mode 1 hands out every kept packet, as a Segment with the analysis
     * on it, or (pk_fmt > 0, a quiet stream, nothing to explain) as a line rendered here into lines; out: the
     * analysis of the packet just processed */
    int pk_mode, pk_fmt, pk_has_origin;
    int64_t pk_origin; /* the table's time origin (Engine.origin: the capture's first frame), once known */
    int pk_pause; /* a Segment that may settle its stream was handed out: the walk pauses (status 2) so that
                   * PacketStream can say Engine.quiet before the stream's next packets */
    /* Engine.pause_after(ts_ns): the walk also pauses after each kept Segment of a stream that has sent a FIN or
     * an RST and after each at or after pk_pause_ts (with parts: or with the other parts' time before it at or
     * after pk_pause_ts), so that what the engine says of a stream then (lifecycle, flow) is as of that Segment
     * (engine.FlowStream.told asks whether it ended, and tells it) */
    int pk_pause_teardown;
    int64_t pk_pause_ts;
    PyObject *pk_flag_text; /* tuple of 512 bytes: the TCP flags (& 0x1FF) as the format writes them */
    /* per stream (the packets pass): the str Engine.keep's predicate returned for it, the stream's Community ID,
     * written in its rendered lines (NULL: the predicate returned another true value; nothing written) */
    PyObject **pk_cid;
    Py_ssize_t pk_cid_n, pk_cid_cap;
    char *lines;
    Py_ssize_t lines_len, lines_cap, lines_count;
    int64_t lines_max_ts;
    PktOut out;
    /* Engine.plain_runs: on, the Segments handed out in a row before a run is counted (lead), the payload
     * prefixes that may start HTTP or TLS (applayer), per stream its RunC (NULL: none yet), and the time from
     * which a plain segment is handed out whole (Engine.runs_due: FlowStream.told's next deadline) */
    int runs_on, runs_lead, runs_strict;
    PyObject *runs_prefixes;
    RunC **runs;
    Py_ssize_t runs_cap;
    int64_t runs_due;
    /* Engine.split(n) (tcptrace.parallel's read-once path, docs/scale.md): the frame being walked (feed_frame), and
     * per part a buffer of the TCP frames whose four-tuple falls in it, as records (SPLIT_HDR bytes: frame, time,
     * captured length, length on the wire, interface; then the captured bytes, padded to 8), instead of tracking
     * them; split_max: the latest time of any frame walked */
    uint32_t split_n;
    PyObject **split_buf; /* bytes objects grown in place (_PyBytes_Resize): take_split hands them out uncopied */
    Py_ssize_t *split_len;
    const uint8_t *cur_buf;
    Py_ssize_t cur_caplen, cur_wirelen;
    int cur_iface;
    int64_t cur_frame, cur_ts, split_max;
    int split_have;
    /* Engine.split(n, clock=True): per TCP frame split, its part and time, in order (explain's parts move their
     * clock by the other parts' segments: tcptrace.parallel.foreign_times) */
    int split_clock;
    int32_t *clock_part;
    int64_t *clock_ts;
    Py_ssize_t clock_n, clock_cap_part, clock_cap_ts;
} Engine;

static PyObject *S_frame, *S_ts_ns, *S_src, *S_dst, *S_sport, *S_dport, *S_seq_raw, *S_ack_raw, *S_flags,
    *S_win_raw, *S_hdr_len, *S_len, *S_ip_id, *S_opt_bytes, *S_payload, *S_header_truncated, *S_stream,
    *S_header_error, *S_urg_ptr, *S_rst_info;
/* capture._EngineIface's fields */
static PyObject *S_number, *S_link_len, *S_etype_off, *S_ts_mult, *S_ts_div, *S_ts_off_ns, *S_decode;

static inline uint32_t rd32(const uint8_t *b, int big) {
    return big ? ((uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3])
               : ((uint32_t)b[3] << 24 | (uint32_t)b[2] << 16 | (uint32_t)b[1] << 8 | b[0]);
}

/* ------------------------------------------------------------------------------------------------ */
/* options (model.parse_options, reduced to what the engine needs)                                   */

#define MAX_LINE_SACK 8 /* SACK blocks a packets line renders in C; a segment with more goes to Python */

typedef struct {
    int wscale, mss; /* -1: none */
    int nsack, truncated, sack_perm, ts;
    /* for the packets pass: model.parse_options would report `other` or `malformed` (the line is Python's) */
    int odd;
    uint32_t tsval, tsecr;
    uint32_t sack_sum; /* the SACK blocks' lengths, summed mod 2^32 (Analyzer._bytes_in_flight subtracts them) */
    uint32_t sack[MAX_LINE_SACK][2];
} Opts;

static void parse_opts(const uint8_t *d, Py_ssize_t n, Py_ssize_t declared, Opts *o) {
    o->wscale = o->mss = -1;
    o->nsack = o->truncated = o->sack_perm = o->ts = o->odd = 0;
    o->sack_sum = 0;
    if (declared <= 0)
        return; /* EMPTY_OPTIONS */
    int truncated = n < declared;
    if (n == 12 && d[0] == 1 && d[1] == 1 && d[2] == 8 && d[3] == 10) {
        o->ts = 1; /* NOP NOP TS: the shortcut in parse_options (truncated stays False there too) */
        o->tsval = rd32(d + 4, 1);
        o->tsecr = rd32(d + 8, 1);
        return;
    }
    Py_ssize_t i = 0;
    while (i < n) {
        int kind = d[i];
        if (kind == 0)
            break;
        if (kind == 1) {
            i += 1;
            continue;
        }
        if (i + 1 >= n) {
            truncated = truncated || n < declared;
            o->odd |= n >= declared; /* malformed */
            break;
        }
        int olen = d[i + 1];
        if (olen < 2) {
            o->odd = 1;
            break;
        }
        if (i + olen > n) {
            if (n < declared)
                truncated = 1;
            else
                o->odd = 1;
            break;
        }
        int blen = olen - 2;
        const uint8_t *body = d + i + 2;
        if (kind == 2 && blen == 2) {
            o->mss = body[0] << 8 | body[1];
        } else if (kind == 3 && blen == 1) {
            o->wscale = body[0];
        } else if (kind == 4 && blen == 0) {
            o->sack_perm = 1;
        } else if (kind == 5 && blen > 0 && blen % 8 == 0) {
            for (int k = 0; k < blen / 8; k++) {
                uint32_t left = rd32(body + 8 * k, 1), right = rd32(body + 8 * k + 4, 1);
                o->sack_sum += right - left;
                if (o->nsack < MAX_LINE_SACK) {
                    o->sack[o->nsack][0] = left;
                    o->sack[o->nsack][1] = right;
                }
                o->nsack++;
            }
        } else if (kind == 8 && blen == 8) {
            o->ts = 1;
            o->tsval = rd32(body, 1);
            o->tsecr = rd32(body + 4, 1);
        } else {
            o->odd = 1; /* a kind parse_options keeps in `other` (a known kind of the wrong size: also malformed) */
        }
        i += olen;
    }
    o->truncated = truncated;
}

/* Make room for `need` elements in a PyMem array of `elem`-byte items (doubling, from `first`). */
static int grow(void **arr, Py_ssize_t *cap, Py_ssize_t need, size_t elem, Py_ssize_t first) {
    if (need <= *cap)
        return 0;
    Py_ssize_t n = *cap ? *cap : first;
    while (n < need)
        n *= 2;
    void *a = PyMem_Realloc(*arr, (size_t)n * elem);
    if (!a) {
        PyErr_NoMemory();
        return -1;
    }
    *arr = a;
    *cap = n;
    return 0;
}

/* ------------------------------------------------------------------------------------------------ */
/* flow table                                                                                       */

/* SipHash-1-3 (Aumasson & Bernstein; the variant CPython uses for str/bytes) of the 40-byte key under the
 * engine's random key: an unkeyed hash let crafted IPv6 addresses collide (issue 13: 100k flows 5x slower). */
#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                                                 \
    do {                                                                                                         \
        v0 += v1;                                                                                                \
        v1 = ROTL(v1, 13);                                                                                       \
        v1 ^= v0;                                                                                                \
        v0 = ROTL(v0, 32);                                                                                       \
        v2 += v3;                                                                                                \
        v3 = ROTL(v3, 16);                                                                                       \
        v3 ^= v2;                                                                                                \
        v0 += v3;                                                                                                \
        v3 = ROTL(v3, 21);                                                                                       \
        v3 ^= v0;                                                                                                \
        v2 += v1;                                                                                                \
        v1 = ROTL(v1, 17);                                                                                       \
        v1 ^= v2;                                                                                                \
        v2 = ROTL(v2, 32);                                                                                       \
    } while (0)

static uint64_t key_hash(const Engine *e, const Key *k) {
    uint64_t w[5];
    memcpy(w, k, sizeof w); /* src 16, dst 16, ports 4, alen 4: 40 bytes, 5 words (byte order: this machine's) */
    uint64_t k0 = e->hash_key[0], k1 = e->hash_key[1];
    uint64_t v0 = k0 ^ 0x736f6d6570736575ULL, v1 = k1 ^ 0x646f72616e646f6dULL;
    uint64_t v2 = k0 ^ 0x6c7967656e657261ULL, v3 = k1 ^ 0x7465646279746573ULL;
    for (int i = 0; i < 5; i++) {
        v3 ^= w[i];
        SIPROUND;
        v0 ^= w[i];
    }
    uint64_t b = (uint64_t)40 << 56;
    v3 ^= b;
    SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}
#undef SIPROUND
#undef ROTL

static void make_key(Key *k, const uint8_t *src, const uint8_t *dst, int alen, int sport, int dport) {
    memset(k, 0, sizeof *k);
    memcpy(k->src, src, (size_t)alen);
    memcpy(k->dst, dst, (size_t)alen);
    k->sport = (uint16_t)sport;
    k->dport = (uint16_t)dport;
    k->alen = (uint32_t)alen;
}

/* Whether slot s (a flow and a direction) holds key k: the flow keeps the four-tuple (addr/port [0] client) */
/* A flow's four-tuple, live or packed: [0] client, [1] server */
typedef struct {
    const uint8_t *addr[2];
    int port[2], alen;
} Tuple;

static Tuple flow_tuple(const Engine *e, int64_t i) {
    Tuple t;
    const FlowC *f = e->flows[i];
    if (IS_PACKED(f)) {
        const Packed *pk = PACKED(f);
        t.alen = pk->alen;
        t.addr[0] = pk->data;
        t.addr[1] = pk->data + pk->alen;
        t.port[0] = pk->port[0];
        t.port[1] = pk->port[1];
    } else {
        t.alen = f->alen;
        t.addr[0] = f->addr[0];
        t.addr[1] = f->addr[1];
        t.port[0] = f->port[0];
        t.port[1] = f->port[1];
    }
    return t;
}

static int slot_is(const Engine *e, const Slot *s, const Key *k) {
    Tuple f = flow_tuple(e, SLOT_FLOW(s));
    int d = SLOT_DIR(s);
    return (int)k->alen == f.alen && k->sport == f.port[d] && k->dport == f.port[1 - d] &&
           memcmp(k->src, f.addr[d], (size_t)f.alen) == 0 && memcmp(k->dst, f.addr[1 - d], (size_t)f.alen) == 0;
}

static Slot *table_find(Engine *e, const Key *k, uint64_t h) {
    Py_ssize_t mask = e->nslots - 1;
    Py_ssize_t i = (Py_ssize_t)(h & (uint64_t)mask);
    for (;;) {
        Slot *s = &e->slots[i];
        if (s->flow < 0 || (s->hash == h && slot_is(e, s, k)))
            return s;
        i = (i + 1) & mask;
    }
}

/* The slots, from malloc (freed with free): a big table in 2 MiB pages where Linux gives them on request (a lookup
 * is a cache miss in a table of tens of MB; with 4 KiB pages it was a TLB miss too) */
static Slot *slots_alloc(Py_ssize_t n) {
    size_t bytes = (size_t)n * sizeof(Slot);
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (bytes >= ((size_t)2 << 20)) {
        void *p = NULL;
        if (posix_memalign(&p, (size_t)2 << 20, bytes) != 0)
            return NULL;
        madvise(p, bytes, MADV_HUGEPAGE); /* (a hint: without it, 4 KiB pages) */
        return p;
    }
#endif
    return malloc(bytes);
}

static int table_grow(Engine *e) {
    Py_ssize_t old_n = e->nslots;
    Slot *old = e->slots;
    Py_ssize_t n = old_n ? old_n * 2 : 1024;
    Slot *slots = (size_t)n <= PY_SSIZE_T_MAX / sizeof(Slot) ? slots_alloc(n) : NULL;
    if (!slots) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++)
        slots[i].flow = -1;
    e->slots = slots;
    e->nslots = n;
    Py_ssize_t mask = n - 1;
    for (Py_ssize_t i = 0; i < old_n; i++) {
        if (old[i].flow < 0)
            continue;
        /* keys are distinct: the first free slot of the probe sequence is the place */
        Py_ssize_t j = (Py_ssize_t)(old[i].hash & (uint64_t)mask);
        while (slots[j].flow >= 0)
            j = (j + 1) & mask;
        slots[j] = old[i];
    }
    free(old);
    return 0;
}

/* Point key k at (flow, dir): a new key, or a reused four-tuple now belonging to a newer stream */
static int table_put(Engine *e, const Key *k, int64_t flow, int dir) {
    if ((e->used + 1) * 2 > e->nslots && table_grow(e) < 0)
        return -1;
    uint64_t h = key_hash(e, k);
    Slot *s = table_find(e, k, h);
    if (s->flow < 0)
        e->used++;
    s->flow = flow << 1 | dir;
    s->hash = h;
    return 0;
}

/* Another part's four-tuple, as far as numbering streams needs (track's port-reuse rule): the endpoints in
 * canonical order (a: the lower address and port, as partition_of orders them), the base sequence number of each
 * direction ([0]: a to b) once known. Engine.partition(k, n, True) only. */
struct Light {
    uint64_t hash;
    uint8_t a[16], b[16];
    uint16_t pa, pb;
    uint8_t alen, used;
    int has_base[2];
    uint32_t base[2];
};

/* FlowTracker.feed's base sequence numbers (track, light_track): a direction's from its first segment (a SYN's seq,
 * else seq - 1), the other's from the first ACK (ack - 1). Not for a short segment (its numbers stay raw). */
static inline void learn_bases(uint32_t base[2], int has_base[2], const Pkt *p, int dir) {
    if (!has_base[dir]) {
        base[dir] = (p->flags & F_SYN) ? p->seq : p->seq - 1;
        has_base[dir] = 1;
    }
    if ((p->flags & F_ACK) && !has_base[1 - dir]) {
        base[1 - dir] = p->ack - 1;
        has_base[1 - dir] = 1;
    }
}

/* The direction of p in its canonical four-tuple (0: from the lower endpoint), and that four-tuple as a Key */
static int light_key(const Pkt *p, Key *k) {
    int c = memcmp(p->src, p->dst, (size_t)p->alen);
    int dir = c > 0 || (c == 0 && p->sport > p->dport);
    if (dir)
        make_key(k, p->dst, p->src, p->alen, p->dport, p->sport);
    else
        make_key(k, p->src, p->dst, p->alen, p->sport, p->dport);
    return dir;
}

static struct Light *light_find(struct Light *tab, Py_ssize_t nslots, const Key *k, uint64_t h) {
    Py_ssize_t mask = nslots - 1, i = (Py_ssize_t)(h & (uint64_t)mask);
    for (;;) {
        struct Light *l = &tab[i];
        if (!l->used || (l->hash == h && l->alen == k->alen && l->pa == k->sport && l->pb == k->dport &&
                         memcmp(l->a, k->src, k->alen) == 0 && memcmp(l->b, k->dst, k->alen) == 0))
            return l;
        i = (i + 1) & mask;
    }
}

static int light_grow(Engine *e) {
    Py_ssize_t n = e->light_slots ? e->light_slots * 2 : 1024;
    struct Light *tab = PyMem_Calloc((size_t)n, sizeof(struct Light));
    if (!tab) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < e->light_slots; i++) {
        struct Light *old = &e->light[i];
        if (!old->used)
            continue;
        Py_ssize_t j = (Py_ssize_t)(old->hash & (uint64_t)(n - 1));
        while (tab[j].used)
            j = (j + 1) & (n - 1);
        tab[j] = *old;
    }
    PyMem_Free(e->light);
    e->light = tab;
    e->light_slots = n;
    return 0;
}

/* Engine.select's stream begins with p (reused: on a counted four-tuple): its four-tuple is tracked in full from
 * here (only_own). Returns 1: the caller hands p to the full path, whose new_flow numbers it. */
static int only_begins(Engine *e, const Pkt *p, int reused) {
    e->only_alen = p->alen;
    memcpy(e->only_a, p->src, (size_t)p->alen);
    memcpy(e->only_b, p->dst, (size_t)p->alen);
    e->only_pa = p->sport;
    e->only_pb = p->dport;
    e->only_reused = reused;
    return 1;
}

/* Whether p is on the four-tuple of Engine.select's stream (either direction), once that stream has begun */
static inline int only_own(const Engine *e, const Pkt *p) {
    if (e->only_alen != p->alen)
        return 0;
    size_t n = (size_t)p->alen; /* both orders in full: with equal ports (80 to 80) only the addresses tell them */
    if (p->sport == e->only_pa && p->dport == e->only_pb && memcmp(p->src, e->only_a, n) == 0 &&
        memcmp(p->dst, e->only_b, n) == 0)
        return 1;
    return p->sport == e->only_pb && p->dport == e->only_pa && memcmp(p->src, e->only_b, n) == 0 &&
           memcmp(p->dst, e->only_a, n) == 0;
}

/* Another part's segment: a new stream of the capture where track would begin one (a new four-tuple, or a SYN
 * with a new sequence number on one whose base is known), the bases as track sets them. Nothing else is kept.
 * Returns 0, -1 with an exception set, or 1 (only_begins): p begins Engine.select's stream, not counted here. */
static int light_track(Engine *e, const Pkt *p) {
    if ((e->light_used + 1) * 2 > e->light_slots && light_grow(e) < 0)
        return -1;
    Key k;
    int dir = light_key(p, &k);
    uint64_t h = key_hash(e, &k);
    struct Light *l = light_find(e->light, e->light_slots, &k, h);
    int flags = p->flags;
    if (!l->used) {
        if (e->streams_seen == e->only)
            return only_begins(e, p, 0);
        l->used = 1;
        l->hash = h;
        l->alen = (uint8_t)k.alen;
        memcpy(l->a, k.src, k.alen);
        memcpy(l->b, k.dst, k.alen);
        l->pa = k.sport;
        l->pb = k.dport;
        e->light_used++;
        e->streams_seen++;
    } else if ((flags & F_SYN) && l->has_base[dir] && p->seq != l->base[dir]) {
        if ((flags & (F_SYN | F_ACK)) == F_SYN) { /* the ports reused: a new stream, no base yet */
            if (e->streams_seen == e->only) /* (the counted record stays, never read again: only_own first) */
                return only_begins(e, p, 1);
            e->streams_seen++;
            l->has_base[0] = l->has_base[1] = 0;
        } else if ((flags & (F_SYN | F_ACK)) == (F_SYN | F_ACK)) {
            l->base[dir] = p->seq;
        }
    }
    if (p->header_error != HDR_SHORT_SEGMENT)
        learn_bases(l->base, l->has_base, p, dir);
    return 0;
}

/* ------------------------------------------------------------------------------------------------ */
/* flows (flow.FlowTracker)                                                                         */

static void init_adir(ADir *a) {
    memset(a, 0, sizeof *a);
    a->window = 0xFFFFFFFFu;
    a->monotonic = 1;
    a->is_first_ack = 1;
    a->valid_bif = 1;
    a->recent_ipid[0] = a->recent_ipid[1] = -1;
}

static void init_sdir(SDir *s) {
    memset(s, 0, sizeof *s);
    s->seg_min = s->win_min = s->rtt_min = -1;
    s->first_ts = -1;
}

/* What every new flow starts with, besides its four-tuple and first packet (a zeroed FlowC otherwise) */
static void flow_defaults(FlowC *f) {
    f->win_scale[0] = f->win_scale[1] = -1;
    init_adir(&f->ad[0]);
    init_adir(&f->ad[1]);
    init_sdir(&f->sd[0]);
    init_sdir(&f->sd[1]);
    f->state[0] = f->state[1] = S_UNKNOWN;
    f->mss[0] = f->mss[1] = f->wscale_opt[0] = f->wscale_opt[1] = -1;
}

static int server_is_dst(const Pkt *p) {
    int s = p->sport, d = p->dport;
    if ((d < 1024) != (s < 1024))
        return d < 1024;
    return d <= s;
}

/* Returns the new flow's index, or -1 with an exception set. */
static int64_t new_flow(Engine *e, const Pkt *p, int *dir_out) {
    int synack = p->flags & (F_SYN | F_ACK);
    int client_is_src, guessed;
    if (synack == F_SYN) {
        client_is_src = 1;
        guessed = 0;
    } else if (synack == (F_SYN | F_ACK)) {
        client_is_src = 0;
        guessed = 0;
    } else {
        client_is_src = server_is_dst(p);
        guessed = 1;
    }
    if (grow((void **)&e->flows, &e->capflows, e->nflows + 1, sizeof(FlowC *), 256) < 0)
        return -1;
    FlowC *f = PyMem_Calloc(1, sizeof(FlowC));
    if (!f) {
        PyErr_NoMemory();
        return -1;
    }
    int64_t idx = e->nflows;
    if (e->numbered) { /* the capture's number of this stream (Engine.partition(k, n, True)) */
        if (grow((void **)&e->gnum, &e->gnum_cap, idx + 1, sizeof(int64_t), 256) < 0) {
            PyMem_Free(f);
            return -1;
        }
        e->gnum[idx] = e->streams_seen;
    }
    e->streams_seen++;
    f->stream = idx;
    f->alen = p->alen;
    const uint8_t *c = client_is_src ? p->src : p->dst, *s = client_is_src ? p->dst : p->src;
    memcpy(f->addr[0], c, (size_t)p->alen);
    memcpy(f->addr[1], s, (size_t)p->alen);
    f->port[0] = client_is_src ? p->sport : p->dport;
    f->port[1] = client_is_src ? p->dport : p->sport;
    flow_defaults(f);
    f->roles_guessed = guessed;
    f->first_frame = f->last_frame = p->frame;
    f->first_ts = f->last_ts = p->ts;
    e->flows[e->nflows++] = f;
    int fwd = client_is_src ? 0 : 1;
    Key k;
    make_key(&k, p->src, p->dst, p->alen, p->sport, p->dport);
    if (table_put(e, &k, idx, fwd) < 0)
        return -1;
    make_key(&k, p->dst, p->src, p->alen, p->dport, p->sport);
    if (table_put(e, &k, idx, 1 - fwd) < 0)
        return -1;
    *dir_out = fwd;
    return idx;
}

/* ------------------------------------------------------------------------------------------------ */
/* packing finished flows                                                                           */

/* A flow that has ended (reset, or both FINs sent and acknowledged: engine.ended) changes only if a late packet
 * of its four-tuple comes. Once the capture is pack_after_ns (vocab.FINISHED_HORIZON_NS) past its last packet,
 * its FlowC (~1.7 KB, mostly the counters and analysis state of two directions) is packed into a Packed blob of
 * typically 100-200 bytes: a bitmap of the 64-bit words that differ from a new flow's (FLOW_TEMPLATE), each such
 * word XOR the template's as a LEB128 varint, then its live unacked segments, RSTs, anomalies, Zeek's blocks
 * above holes, classic tcptrace's segment ranges (cl_pack_code) and Zeek's history.
 * Nothing is lost: a packed flow is unpacked, byte for byte, when a packet of its four-tuple comes (Wireshark
 * attaches packets to a conversation however late they come, and a SYN on its ports is judged against its base,
 * packet-tcp.c), and read through a temporary copy when Python asks for its records. So stream numbers, port
 * reuse and every count stay exactly as without packing; only memory changes (tests/test_engine.py packs every
 * flow at once, pack_after_ns=0, and compares). */

#define FLOW_WORDS (sizeof(FlowC) / 8)
_Static_assert(sizeof(FlowC) % 8 == 0, "a FlowC is packed as 64-bit words");
_Static_assert(sizeof(Unacked) % 8 == 0 && sizeof(Rst) % 8 == 0 && sizeof(Anomaly) % 8 == 0 && sizeof(ZBlock) % 8 == 0 &&
                   sizeof(ClSeg) % 8 == 0,
               "packed arrays stay aligned one after the other");
#define PRESENCE_BYTES ((FLOW_WORDS + 7) / 8)
#define FIRST_TS_WORD (offsetof(FlowC, first_ts) / 8)
static FlowC FLOW_TEMPLATE;
/* the words that are classic's sums of samples (doubles, ClDir.rtt_sum .. retr_tm_sum2): packed byte-swapped,
 * since a double's low mantissa bytes are mostly zero and its exponent is in the top ones (4 bytes, not 9) */
static uint8_t DOUBLE_WORD[FLOW_WORDS];
_Static_assert(sizeof(ClDir) % 8 == 0 && offsetof(FlowC, cl) % 8 == 0 && offsetof(ClDir, rtt_sum) % 8 == 0 &&
                   offsetof(ClDir, retr_tm_sum2) == offsetof(ClDir, rtt_sum) + 7 * sizeof(double),
               "classic's eight sums are whole words, one after the other");

static void packing_init(void) {
    flow_defaults(&FLOW_TEMPLATE);
    for (int d = 0; d < 2; d++)
        for (size_t j = 0; j < 8; j++)
            DOUBLE_WORD[(offsetof(FlowC, cl) + d * sizeof(ClDir) + offsetof(ClDir, rtt_sum)) / 8 + j] = 1;
}

static int varint_len(uint64_t v) { return v ? (64 - __builtin_clzll(v) + 6) / 7 : 1; }

static Py_ssize_t varint_put(uint8_t *out, uint64_t v) {
    Py_ssize_t n = 0;
    while (v >= 0x80) {
        out[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    out[n++] = (uint8_t)v;
    return n;
}

static uint64_t varint_get(const uint8_t **in) {
    uint64_t v = 0;
    int shift = 0;
    const uint8_t *p = *in;
    for (;;) {
        uint8_t b = *p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            break;
        shift += 7;
    }
    *in = p;
    return v;
}

/* the unacked segments Wireshark's list still holds: segs[head .. n) */
static Py_ssize_t live_segs(const ADir *a) { return a->n - a->head; }

static uint8_t *put_bytes(uint8_t *out, const void *src, size_t bytes) {
    if (bytes)
        memcpy(out, src, bytes);
    return out + bytes;
}

/* Classic's quadrants (rexmit.c's, ClDir.quads) in a packed flow: each present quadrant's pointer word becomes
 * n << 3 | 4 (a prev link) | 2 (a next link) | 1, and its n ranges follow Zeek's blocks in the blob (quadrant 0 to 3,
 * client side first). A link always joins neighbouring quadrants: cl_whichquad sets q->next to quads[q+1] and
 * q->prev to quads[q-1] (mod 4), and clears both neighbours' links to the quadrant it frees, so the two bits
 * rebuild them exactly. cl_packable checks that (a flow that broke it would stay live). */
#define CL_NEXT(k) (((k) + 1) % 4)
#define CL_PREV(k) (((k) + 3) % 4)

static int cl_packable(const ClDir *c) {
    for (int k = 0; k < 4; k++) {
        const ClQuad *q = c->quads[k];
        if (q && ((q->next && q->next != c->quads[CL_NEXT(k)]) || (q->prev && q->prev != c->quads[CL_PREV(k)])))
            return 0;
    }
    return 1;
}

static ClQuad *cl_pack_code(const ClQuad *q) {
    if (!q)
        return NULL;
    return (ClQuad *)(((uintptr_t)q->n << 3) | (q->prev ? 4u : 0u) | (q->next ? 2u : 0u) | 1u);
}

/* A packed flow's quadrants, read in place: c->cl[d].quads hold cl_pack_code's words; rebuild them as qs[d][k]
 * (ranges in the blob from *arr on, read only) and point the FlowC at them; *arr moves past the ranges */
static void cl_unpack_view(FlowC *c, ClQuad qs[2][4], const uint8_t **arr) {
    for (int d = 0; d < 2; d++) {
        uintptr_t code[4];
        for (int k = 0; k < 4; k++) {
            code[k] = (uintptr_t)c->cl[d].quads[k];
            if (!code[k])
                continue;
            Py_ssize_t n = (Py_ssize_t)(code[k] >> 3);
            qs[d][k] = (ClQuad){(ClSeg *)*arr, n, 0, NULL, NULL};
            *arr += (size_t)n * sizeof(ClSeg);
            c->cl[d].quads[k] = &qs[d][k];
        }
        for (int k = 0; k < 4; k++) {
            if (code[k] & 2)
                qs[d][k].next = &qs[d][CL_NEXT(k)];
            if (code[k] & 4)
                qs[d][k].prev = &qs[d][CL_PREV(k)];
        }
    }
}

static size_t cl_bytes(const ClDir *c) { /* the ranges of c, as packed */
    size_t n = 0;
    for (int k = 0; k < 4; k++)
        if (c->quads[k])
            n += (size_t)c->quads[k]->n * sizeof(ClSeg);
    return n;
}

/* Pack flow i (live) in place; -1 with an exception when out of memory (the flow then stays live) */
static int pack_flow(Engine *e, int64_t i) {
    FlowC *f = e->flows[i];
    FlowC c;
    memcpy(&c, f, sizeof c);
    /* what the blob keeps elsewhere, or rebuilds: the four-tuple (in the header), pointers and capacities */
    memset(c.addr, 0, sizeof c.addr);
    c.port[0] = c.port[1] = 0;
    c.alen = 0;
    for (int d = 0; d < 2; d++) {
        c.ad[d].segs = NULL;
        c.ad[d].n = live_segs(&f->ad[d]);
        c.ad[d].head = c.ad[d].cap = 0;
    }
    c.rst = NULL;
    c.anomalies = NULL;
    c.zk.hist = NULL;
    c.caprst = c.capanomalies = c.zk.hcap = 0;
    for (int d = 0; d < 2; d++) {
        c.zk.ep[d].blocks = NULL;
        c.zk.ep[d].capblocks = 0;
    }
    c.queued = 0;
    if (!cl_packable(&f->cl[0]) || !cl_packable(&f->cl[1]))
        return 0; /* (cannot happen: see cl_packable) stays live */
    for (int d = 0; d < 2; d++)
        for (int k = 0; k < 4; k++)
            c.cl[d].quads[k] = cl_pack_code(f->cl[d].quads[k]);
    size_t arrays = (size_t)(c.ad[0].n + c.ad[1].n) * sizeof(Unacked) + (size_t)f->nrst * sizeof(Rst) +
                    (size_t)f->nanomalies * sizeof(Anomaly) +
                    (size_t)(f->zk.ep[0].nblocks + f->zk.ep[1].nblocks) * sizeof(ZBlock) + cl_bytes(&f->cl[0]) +
                    cl_bytes(&f->cl[1]) + (size_t)f->zk.hlen;
    /* presence bitmap (a bit per word that differs from the template), then a mode bit per present word (0: the
     * varint is the word XOR the template's, byte-swapped for classic's sums (DOUBLE_WORD); 1: its zigzag difference
     * from first_ts, for the timestamps), then the varints */
    uint8_t words[PRESENCE_BYTES + (FLOW_WORDS + 7) / 8 + FLOW_WORDS * 10], modes[(FLOW_WORDS + 7) / 8],
        ints[FLOW_WORDS * 10];
    memset(words, 0, PRESENCE_BYTES);
    memset(modes, 0, sizeof modes);
    Py_ssize_t nints = 0, npresent = 0;
    const uint64_t *w = (const uint64_t *)&c, *t = (const uint64_t *)&FLOW_TEMPLATE;
    uint64_t base = (uint64_t)c.first_ts;
    for (size_t k = 0; k < FLOW_WORDS; k++) {
        if (k % 8 == 0) { /* most of a flow is as new (a scan's: 40 of ~490 words differ): skip 8 equal words at once */
            size_t end = k + 8 < FLOW_WORDS ? k + 8 : FLOW_WORDS;
            uint64_t any = 0;
            for (size_t q = k; q < end; q++)
                any |= w[q] ^ t[q];
            if (!any) {
                k = end - 1;
                continue;
            }
        }
        uint64_t x = w[k] ^ t[k];
        if (!x)
            continue;
        words[k / 8] |= (uint8_t)(1u << (k % 8));
        if (DOUBLE_WORD[k]) {
            npresent++;
            nints += varint_put(ints + nints, __builtin_bswap64(x));
            continue;
        }
        int64_t delta = (int64_t)(w[k] - base);
        uint64_t zz = ((uint64_t)delta << 1) ^ (uint64_t)(delta >> 63);
        if (k != FIRST_TS_WORD && varint_len(zz) < varint_len(x)) {
            modes[npresent / 8] |= (uint8_t)(1u << (npresent % 8));
            x = zz;
        }
        npresent++;
        nints += varint_put(ints + nints, x);
    }
    Py_ssize_t n = PRESENCE_BYTES;
    memcpy(words + n, modes, (size_t)(npresent + 7) / 8);
    n += (npresent + 7) / 8;
    memcpy(words + n, ints, (size_t)nints);
    n += nints;
    size_t head = 2 * (size_t)f->alen + (size_t)n, pad = (8 - head % 8) % 8; /* the arrays start aligned */
    size_t total = head + pad + arrays;
    if (total > UINT32_MAX)
        return 0; /* (a history of billions of letters) stays live */
    Packed *pk = PyMem_Malloc(sizeof(Packed) + total);
    if (!pk) {
        PyErr_NoMemory();
        return -1;
    }
    pk->nbytes = (uint32_t)total;
    pk->port[0] = (uint16_t)f->port[0];
    pk->port[1] = (uint16_t)f->port[1];
    pk->alen = (uint8_t)f->alen;
    uint8_t *out = pk->data;
    memcpy(out, f->addr[0], (size_t)f->alen);
    memcpy(out + f->alen, f->addr[1], (size_t)f->alen);
    out += 2 * f->alen;
    memcpy(out, words, (size_t)n);
    out += n;
    memset(out, 0, pad);
    out += pad;
    for (int d = 0; d < 2; d++)
        out = put_bytes(out, f->ad[d].segs + f->ad[d].head, (size_t)c.ad[d].n * sizeof(Unacked));
    out = put_bytes(out, f->rst, (size_t)f->nrst * sizeof(Rst));
    out = put_bytes(out, f->anomalies, (size_t)f->nanomalies * sizeof(Anomaly));
    for (int d = 0; d < 2; d++)
        out = put_bytes(out, f->zk.ep[d].blocks, (size_t)f->zk.ep[d].nblocks * sizeof(ZBlock));
    for (int d = 0; d < 2; d++)
        for (int k = 0; k < 4; k++)
            if (f->cl[d].quads[k])
                out = put_bytes(out, f->cl[d].quads[k]->segs, (size_t)f->cl[d].quads[k]->n * sizeof(ClSeg));
    put_bytes(out, f->zk.hist, (size_t)f->zk.hlen);
    PyMem_Free(f->ad[0].segs);
    PyMem_Free(f->ad[1].segs);
    PyMem_Free(f->rst);
    PyMem_Free(f->anomalies);
    PyMem_Free(f->zk.ep[0].blocks);
    PyMem_Free(f->zk.ep[1].blocks);
    PyMem_Free(f->zk.hist);
    for (int k = 0; k < 4; k++) { /* (not cl_free_quad: nsegs is packed as it is) */
        for (int d = 0; d < 2; d++)
            if (f->cl[d].quads[k]) {
                PyMem_Free(f->cl[d].quads[k]->segs);
                PyMem_Free(f->cl[d].quads[k]);
            }
    }
    PyMem_Free(f);
    e->flows[i] = (FlowC *)((uintptr_t)pk | 1u);
    e->npacked++;
    e->packed_bytes += (int64_t)(sizeof(Packed) + total);
    return 0;
}

/* The FlowC of a packed blob into *c; its array pointers point into the blob (read only), classic's quadrants
 * to qs (cl_unpack_view) */
static void unpack_into(const Packed *pk, FlowC *c, ClQuad qs[2][4]) {
    memcpy(c, &FLOW_TEMPLATE, sizeof *c);
    const uint8_t *bits = pk->data + 2 * pk->alen, *modes = bits + PRESENCE_BYTES;
    uint64_t *w = (uint64_t *)c;
    uint64_t values[FLOW_WORDS];
    size_t where[FLOW_WORDS];
    Py_ssize_t npresent = 0, j;
    for (size_t b = 0; b < PRESENCE_BYTES; b++) /* the present words, in order: bit k % 8 of byte k / 8 */
        for (unsigned m = bits[b]; m; m &= m - 1)
            where[npresent++] = b * 8 + (size_t)__builtin_ctz(m);
    const uint8_t *in = modes + (npresent + 7) / 8;
    for (j = 0; j < npresent; j++) { /* first the XOR words (first_ts is one), then the differences */
        size_t k = where[j];
        values[j] = varint_get(&in);
        if (!(modes[j / 8] >> (j % 8) & 1))
            w[k] ^= DOUBLE_WORD[k] ? __builtin_bswap64(values[j]) : values[j];
    }
    uint64_t base = (uint64_t)c->first_ts;
    for (j = 0; j < npresent; j++)
        if (modes[j / 8] >> (j % 8) & 1) {
            uint64_t zz = values[j];
            w[where[j]] = base + (uint64_t)((int64_t)(zz >> 1) ^ -(int64_t)(zz & 1));
        }
    c->alen = pk->alen;
    memcpy(c->addr[0], pk->data, pk->alen);
    memcpy(c->addr[1], pk->data + pk->alen, pk->alen);
    c->port[0] = pk->port[0];
    c->port[1] = pk->port[1];
    const uint8_t *arr = in + (8 - (size_t)(in - pk->data) % 8) % 8; /* the arrays start aligned (pack_flow) */
    for (int d = 0; d < 2; d++) {
        c->ad[d].segs = (Unacked *)arr;
        arr += (size_t)c->ad[d].n * sizeof(Unacked);
    }
    c->rst = (Rst *)arr;
    arr += (size_t)c->nrst * sizeof(Rst);
    c->anomalies = (Anomaly *)arr;
    arr += (size_t)c->nanomalies * sizeof(Anomaly);
    for (int d = 0; d < 2; d++) {
        c->zk.ep[d].blocks = (ZBlock *)arr;
        arr += (size_t)c->zk.ep[d].nblocks * sizeof(ZBlock);
    }
    cl_unpack_view(c, qs, &arr);
    c->zk.hist = (char *)arr;
}

/* Flow i as it is now, for reading: the live FlowC, or a packed one unpacked into *tmp (valid while the flow
 * stays packed and tmp lives: its classic quadrants are tmp's) */
static const FlowC *flow_view(const Engine *e, int64_t i, FlowTmp *tmp) {
    FlowC *f = e->flows[i];
    if (!IS_PACKED(f))
        return f;
    unpack_into(PACKED(f), &tmp->f, tmp->quads);
    return &tmp->f;
}

static void *copy_out(const void *src, size_t bytes, int *failed) {
    if (!bytes)
        return NULL;
    void *p = PyMem_Malloc(bytes);
    if (!p)
        *failed = 1;
    else
        memcpy(p, src, bytes);
    return p;
}

/* Flow i, live (unpacked if it was packed: a late packet came); NULL with an exception when out of memory */
static FlowC *flow_live(Engine *e, int64_t i) {
    FlowC *f = e->flows[i];
    if (!IS_PACKED(f))
        return f;
    Packed *pk = PACKED(f);
    FlowC *c = PyMem_Malloc(sizeof *c);
    if (!c) {
        PyErr_NoMemory();
        return NULL;
    }
    ClQuad qs[2][4];
    unpack_into(pk, c, qs);
    int failed = 0;
    ClQuad *nq[2][4] = {{NULL}}; /* classic's quadrants, live: the ranges copied, the links rebuilt between them */
    for (int d = 0; d < 2; d++) {
        for (int k = 0; k < 4; k++)
            if (c->cl[d].quads[k]) {
                nq[d][k] = PyMem_Calloc(1, sizeof(ClQuad));
                if (!nq[d][k]) {
                    failed = 1;
                    continue;
                }
                nq[d][k]->segs = copy_out(qs[d][k].segs, (size_t)qs[d][k].n * sizeof(ClSeg), &failed);
                nq[d][k]->n = nq[d][k]->cap = qs[d][k].n;
            }
        for (int k = 0; k < 4; k++)
            if (nq[d][k]) {
                nq[d][k]->next = qs[d][k].next ? nq[d][CL_NEXT(k)] : NULL;
                nq[d][k]->prev = qs[d][k].prev ? nq[d][CL_PREV(k)] : NULL;
            }
        for (int k = 0; k < 4; k++)
            c->cl[d].quads[k] = nq[d][k];
    }
    for (int d = 0; d < 2; d++) {
        c->ad[d].segs = copy_out(c->ad[d].segs, (size_t)c->ad[d].n * sizeof(Unacked), &failed);
        c->ad[d].cap = c->ad[d].n;
    }
    c->rst = copy_out(c->rst, (size_t)c->nrst * sizeof(Rst), &failed);
    c->caprst = c->nrst;
    c->anomalies = copy_out(c->anomalies, (size_t)c->nanomalies * sizeof(Anomaly), &failed);
    c->capanomalies = c->nanomalies;
    for (int d = 0; d < 2; d++) {
        c->zk.ep[d].blocks = copy_out(c->zk.ep[d].blocks, (size_t)c->zk.ep[d].nblocks * sizeof(ZBlock), &failed);
        c->zk.ep[d].capblocks = c->zk.ep[d].nblocks;
    }
    c->zk.hist = copy_out(c->zk.hist, (size_t)c->zk.hlen, &failed);
    c->zk.hcap = c->zk.hlen;
    if (failed) {
        PyMem_Free(c->ad[0].segs);
        PyMem_Free(c->ad[1].segs);
        PyMem_Free(c->rst);
        PyMem_Free(c->anomalies);
        PyMem_Free(c->zk.ep[0].blocks);
        PyMem_Free(c->zk.ep[1].blocks);
        PyMem_Free(c->zk.hist);
        for (int d = 0; d < 2; d++)
            for (int k = 0; k < 4; k++)
                if (nq[d][k]) {
                    PyMem_Free(nq[d][k]->segs);
                    PyMem_Free(nq[d][k]);
                }
        PyMem_Free(c);
        PyErr_NoMemory();
        return NULL;
    }
    e->npacked--;
    e->nunpacked++;
    e->packed_bytes -= (int64_t)(sizeof(Packed) + pk->nbytes);
    PyMem_Free(pk);
    e->flows[i] = c;
    return c; /* c->queued is 0: if it has ended it is queued again after this packet */
}

/* After a packet of flow f at capture time now: queue f once it has ended, and pack the queued flows whose last
 * packet is pack_after_ns behind now (one that got a packet since it was queued goes to the back). */
static int flow_ended(const FlowC *f) {
    return f->rst_total > 0 || (f->nfin == 2 && f->fin_acked[0] && f->fin_acked[1]);
}

static int pack_finished(Engine *e, FlowC *f, int64_t now) {
    if (e->pack_after_ns < 0)
        return 0;
    if (!f->queued && flow_ended(f)) {
        if (grow((void **)&e->due, &e->due_cap, e->due_n + 1, sizeof(struct Due), 64) < 0)
            return -1;
        e->due[e->due_n++] = (struct Due){f->stream, f->last_ts};
        f->queued = 1;
    }
    while (e->due_head < e->due_n && now - e->due[e->due_head].ts >= e->pack_after_ns) {
        struct Due d = e->due[e->due_head++];
        FlowC *g = e->flows[d.flow];
        if (IS_PACKED(g) || !g->queued)
            continue; /* (cannot happen: a flow is queued once until it is packed) */
        if (now - g->last_ts < e->pack_after_ns) { /* a late packet: wait from that one */
            if (grow((void **)&e->due, &e->due_cap, e->due_n + 1, sizeof(struct Due), 64) < 0)
                return -1;
            e->due[e->due_n++] = (struct Due){d.flow, g->last_ts};
            continue;
        }
        if (pack_flow(e, d.flow) < 0)
            return -1;
    }
    if (e->due_head > 4096 && e->due_head * 2 > e->due_n) { /* drop the consumed front */
        memmove(e->due, e->due + e->due_head, (size_t)(e->due_n - e->due_head) * sizeof(struct Due));
        e->due_n -= e->due_head;
        e->due_head = 0;
    }
    return 0;
}

/* Engine.keep's predicate, asked once when stream idx begins (prev: the stream that used its ports before, or -1) */
static int decide_keep(Engine *e, int64_t idx, int64_t prev) {
    FlowC *f = e->flows[idx];
    if (e->only >= 0) { /* Engine.select: that stream, not the later ones on its four-tuple */
        f->keep = e->gnum[idx] == e->only;
        return 0;
    }
    if (!e->keep)
        return 0;
    PyObject *r = PyObject_CallFunction(e->keep, "LLy#iy#i", (long long)idx, (long long)prev, (const char *)f->addr[0],
                                        (Py_ssize_t)f->alen, f->port[0], (const char *)f->addr[1],
                                        (Py_ssize_t)f->alen, f->port[1]);
    if (!r)
        return -1;
    int yes = PyObject_IsTrue(r);
    if (yes > 0 && e->pk_mode && PyUnicode_Check(r)) {
        if (grow((void **)&e->pk_cid, &e->pk_cid_cap, idx + 1, sizeof(PyObject *), 64) < 0) {
            Py_DECREF(r);
            return -1;
        }
        while (e->pk_cid_n <= idx)
            e->pk_cid[e->pk_cid_n++] = NULL;
        Py_XSETREF(e->pk_cid[idx], Py_NewRef(r));
    }
    Py_DECREF(r);
    if (yes < 0)
        return -1;
    f->keep = yes;
    return 0;
}


/* FlowTracker.feed: stream, direction, bases, window scale. Returns the flow or NULL with an exception. */
static FlowC *track(Engine *e, const Pkt *p, const Opts *o, int *dir_out, int *is_new, int64_t *win_out) {
    Key k;
    make_key(&k, p->src, p->dst, p->alen, p->sport, p->dport);
    if (e->nslots == 0 && table_grow(e) < 0)
        return NULL;
    Slot *s = table_find(e, &k, key_hash(e, &k));
    int flags = p->flags;
    int64_t idx = s->flow < 0 ? -1 : SLOT_FLOW(s);
    int dir = SLOT_DIR(s);
    *is_new = 0;
    if (idx < 0) {
        idx = new_flow(e, p, &dir);
        if (idx < 0 || decide_keep(e, idx, -1) < 0)
            return NULL;
        *is_new = 1;
        if (e->only_reused) { /* Engine.select's stream, on a four-tuple light_track counted: reused ports */
            e->flows[idx]->reused_ports_frame = p->frame;
            e->only_reused = 0;
        }
    } else if (flags & F_SYN) {
        FlowTmp tmp; /* a packed flow is read here, and unpacked below only if this packet belongs to it */
        const FlowC *v = flow_view(e, idx, &tmp);
        int syn_ack = flags & (F_SYN | F_ACK);
        if (v->has_base[dir] && p->seq != v->base[dir]) {
            if (syn_ack == F_SYN) {
                int64_t prev = idx;
                idx = new_flow(e, p, &dir);
                if (idx < 0 || decide_keep(e, idx, prev) < 0)
                    return NULL;
                *is_new = 1;
                e->flows[idx]->reused_ports_frame = p->frame;
            } else if (syn_ack == (F_SYN | F_ACK)) {
                FlowC *f = flow_live(e, idx);
                if (!f)
                    return NULL;
                f->base[dir] = p->seq;
                f->reused_ports_frame = p->frame;
            }
        }
    }
    FlowC *f = flow_live(e, idx);
    if (!f)
        return NULL;
    int rev = 1 - dir;
    f->packets++;
    f->last_frame = p->frame;
    f->last_ts = p->ts;
    *dir_out = dir;
    if (p->header_error == HDR_SHORT_SEGMENT) { /* FlowTracker.feed: no base, raw numbers */
        *win_out = p->win_raw;
        return f;
    }
    learn_bases(f->base, f->has_base, p, dir);
    if (flags & F_SYN) {
        /* FlowTracker._syn (packet-tcp.c verify_tcp_window_scaling); not for a bogus data offset */
        int settle = !p->header_error;
        if (settle && o->wscale >= 0)
            f->win_scale[dir] = o->wscale < 14 ? o->wscale : 14;
        else if (o->truncated || p->header_truncated)
            settle = 0;
        if (settle) {
            if (f->win_scale[dir] == -1) {
                f->win_scale[dir] = -2;
                f->win_scale[rev] = -2;
            } else if ((flags & F_ACK) && f->win_scale[rev] == -2) {
                f->win_scale[dir] = -2;
            }
        }
        *win_out = p->win_raw;
    } else {
        int scale = f->win_scale[dir];
        *win_out = scale >= 0 ? ((int64_t)p->win_raw << scale) : (int64_t)p->win_raw;
    }
    return f;
}

/* ------------------------------------------------------------------------------------------------ */
/* analysis (analysis.Analyzer.analyze, track_bytes_in_flight=False)                                */

static int unacked_push(ADir *a, int64_t frame, uint32_t seq, uint32_t nextseq, int64_t ts) {
    if (a->n == a->cap) {
        if (a->head > 0) {
            memmove(a->segs, a->segs + a->head, (size_t)(a->n - a->head) * sizeof(Unacked));
            a->n -= a->head;
            a->head = 0;
        }
        if (grow((void **)&a->segs, &a->cap, a->n + 1, sizeof(Unacked), 2) < 0)
            return -1;
    }
    Unacked *u = &a->segs[a->n++];
    u->frame = frame;
    u->seq = seq;
    u->nextseq = nextseq;
    u->ts = ts;
    return 0;
}

/* Analyzer._match_acks: returns the RTT sample in ns, or -1; *frame: the frame it acknowledges. */
static int64_t match_acks(ADir *rev, uint32_t ack, int64_t now, int64_t *frame) {
    int64_t rtt = -1;
    if (rev->monotonic) {
        Py_ssize_t i = rev->head;
        for (; i < rev->n; i++) {
            Unacked *u = &rev->segs[i];
            if (u->nextseq == ack) {
                rtt = now - u->ts;
                *frame = u->frame;
                i++;
                break;
            }
            if (seq_lt(u->nextseq, ack))
                continue;
            if (seq_gt(ack, u->seq))
                u->seq = ack;
            break;
        }
        rev->head = i;
        if (rev->head == rev->n)
            rev->head = rev->n = 0;
    } else {
        Py_ssize_t out = rev->head;
        int matched = 0;
        for (Py_ssize_t i = rev->head; i < rev->n; i++) {
            Unacked u = rev->segs[i];
            if (u.nextseq == ack) {
                if (!matched) {
                    matched = 1;
                    rtt = now - u.ts;
                    *frame = u.frame;
                }
                continue;
            }
            if (seq_gt(ack, u.seq) && seq_le(ack, u.nextseq)) {
                u.seq = ack;
                rev->segs[out++] = u;
            } else if (seq_gt(u.nextseq, ack)) {
                rev->segs[out++] = u;
            }
        }
        rev->n = out;
        int mono = 1;
        for (Py_ssize_t i = rev->head + 1; i < rev->n; i++) {
            if (!seq_le(rev->segs[i - 1].nextseq, rev->segs[i].seq)) {
                mono = 0;
                break;
            }
        }
        rev->monotonic = mono;
        if (rev->head == rev->n)
            rev->head = rev->n = 0;
    }
    return rtt;
}

/* Analyzer._retransmission_kind and the numbers of _retransmission_evidence (into o) */
static int retransmission_kind(const Pkt *p, ADir *fwd, ADir *rev, FlowC *f, int seq_not_advanced, PktOut *o) {
    if (!seq_not_advanced)
        return 0;
    int64_t now = p->ts;
    int64_t dt = now - rev->lastacktime;
    int64_t dups = rev->dupacknum;
    if ((dups >= 2 || dups == -1) && rev->lastack == p->seq && dt >= 0 && dt < FAST_RETRANSMISSION_WINDOW_NS) {
        o->rt_frame = rev->lastackframe;
        o->rt_dups = dups >= 0 ? dups : 2;
        o->rt_dt = dt;
        return A_FAST_RETRANSMISSION;
    }
    dt = now - fwd->nextseqtime;
    int64_t thres = f->ts_first_rtt ? f->ts_first_rtt : DEFAULT_OOO_THRESHOLD_NS;
    uint32_t extra = (p->flags & F_SF) ? 1 : 0;
    if (dt >= 0 && dt < thres && fwd->nextseq != (uint32_t)(p->seq + (uint32_t)p->len + extra)) {
        o->rt_frame = fwd->nextseqframe;
        o->rt_dt = dt;
        o->rt_thres = thres;
        return A_OUT_OF_ORDER;
    }
    /* generic retransmission: RTO from the oldest unacked segment, else from the segment that set nextseq */
    int64_t rto_frame = fwd->nextseqframe, rto_ts = fwd->nextseqtime;
    if (fwd->n > fwd->head) {
        rto_frame = fwd->segs[fwd->head].frame;
        rto_ts = fwd->segs[fwd->head].ts;
    }
    o->rt_frame = o->rto_frame = rto_frame;
    o->rt_dt = o->rto_ns = now - rto_ts;
    return A_RETRANSMISSION;
}

/* Analyzer._after_analysis: most recent SYN time, iRTT on the first pure ACK, first-ACK flag */
static void after_analysis(FlowC *f, ADir *fwd, int flags, int64_t now) {
    int syn_ack = flags & (F_SYN | F_ACK);
    if (syn_ack == F_SYN) {
        f->ts_mru_syn = now;
    } else if (syn_ack == F_ACK) {
        if (f->ts_mru_syn && !f->ts_first_rtt) {
            int64_t d = now - f->ts_mru_syn;
            f->ts_first_rtt = d ? d : 1;
        }
        fwd->is_first_ack = 0;
    }
}

/* Analyzer._bytes_in_flight: the span of this side's unacked segments, minus what the other side SACKed */
static uint32_t bytes_in_flight(const FlowC *f, int dir) {
    const ADir *fwd = &f->ad[dir];
    uint32_t in_flight;
    if (fwd->monotonic) {
        in_flight = fwd->segs[fwd->n - 1].nextseq - fwd->segs[fwd->head].seq;
    } else {
        uint32_t base = f->has_base[dir] ? f->base[dir] : 0, first = UINT32_MAX, last = 0;
        for (Py_ssize_t i = fwd->head; i < fwd->n; i++) {
            uint32_t a = fwd->segs[i].seq - base, b = fwd->segs[i].nextseq - base;
            if (a < first)
                first = a;
            if (b > last)
                last = b;
        }
        in_flight = last - first;
    }
    return in_flight - f->ad[1 - dir].sack_sum;
}

/* Analyzer.analyze: returns the analysis bits (0 after a hardware duplicate), or -1 with an exception set; the
 * rest of what it finds goes into e->out (PktOut). */
static int analyze(Engine *e, FlowC *f, int dir, const Pkt *p, const Opts *opts, int64_t *rtt_out,
                   int64_t *gap_out) {
    ADir *fwd = &f->ad[dir], *rev = &f->ad[1 - dir];
    PktOut *o = &e->out;
    uint32_t fwd_base = f->has_base[dir] ? f->base[dir] : 0, rev_base = f->has_base[1 - dir] ? f->base[1 - dir] : 0;
    int rev_win_scale = f->win_scale[1 - dir];
    int reused = f->reused_ports_frame == p->frame;
    uint32_t seq = p->seq, ack = p->ack, window = p->win_raw;
    uint32_t seglen32 = (uint32_t)p->len;
    int64_t seglen = p->len, now = p->ts, frame = p->frame;
    int flags = p->flags;
    int ta = reused ? A_REUSED_PORTS : 0;
    int ev = reused ? EV_REUSED : 0;
    int64_t gap = 0;
    *rtt_out = -1;

    if ((flags & (F_SYN | F_ACK)) == F_SYN && seq == fwd_base && fwd->maxseqtobeacked)
        fwd->nextseq = fwd->maxseqtobeacked; /* packet-tcp.c issue 17616 */
    if (flags & F_ACK)
        rev->valid_bif = 1;
    uint32_t fnext = fwd->nextseq;
    int fast = !ta && seq == fnext && fnext && window && rev->window && !(flags & F_SFR) &&
               (seglen || ack != fwd->lastack);
    if (fast && seglen) {
        uint32_t end_seq = seq + seglen32;
        if (rev->lastack && seq_le(end_seq, rev->lastack)) {
            fast = 0;
        } else if (rev_win_scale != -1) {
            int shift = (rev->is_first_ack || rev_win_scale == -2) ? 0 : rev_win_scale;
            if (end_seq == (uint32_t)(rev->lastack + (uint32_t)((uint64_t)rev->window << shift)))
                fast = 0;
        }
    }
    if (fast) {
        uint32_t rmax = rev->maxseqtobeacked;
        if (rmax && ack != rmax && (flags & F_ACK) && (uint32_t)(ack - rmax) < HALF)
            fast = 0;
    }
    if (fast) {
        if (ack != fwd->lastack) {
            fwd->lastnondupack = frame;
            fwd->dupacknum = 0;
        }
    } else {
        int goto_finished_fwd = 0;
        if (seglen == 1 && seq == fnext && rev->window == 0) {
            ta |= A_ZERO_WINDOW_PROBE;
            ev |= EV_ZWP;
            o->zwp_frame = rev->zero_window_frame;
            o->zwp_seq = seq - fwd_base;
            goto_finished_fwd = 1;
        }
        if (!goto_finished_fwd) {
            if (window == 0 && !(flags & F_SFR)) {
                ta |= A_ZERO_WINDOW;
                fwd->zero_window_frame = frame;
                ev |= EV_ZW;
            }
            if (fnext && seq != fnext && (uint32_t)(seq - fnext) < HALF && !(flags & F_RST)) {
                ta |= A_LOST_PACKET;
                fwd->valid_bif = 0;
                gap = (uint32_t)(seq - fnext);
                ev |= EV_LOST;
                o->lost_frame = fwd->nextseqframe;
                o->lost_seq = seq - fwd_base;
                o->lost_expected = fnext - fwd_base;
                o->lost_gap = seq - fnext;
            }
            if (seglen <= 1 && seq == (uint32_t)(fnext - 1) && !(flags & F_SFR)) {
                ta |= A_KEEP_ALIVE;
                ev |= EV_KA;
                o->ka_frame = fwd->nextseqframe;
                o->ka_len = seglen;
                o->ka_seq = seq - fwd_base;
                o->ka_expected = fnext - fwd_base;
            }
            int same_position = seq == fnext && ack == fwd->lastack && !(flags & F_SFR);
            if (seglen == 0 && window && window != fwd->window && same_position) {
                ta |= A_WINDOW_UPDATE;
                ev |= EV_WU;
                o->wu_old = fwd->window; /* 0xFFFFFFFF: "unknown" */
                o->wu_new = window;
            }
            if (seglen > 0 && rev_win_scale != -1 && !(flags & F_SFR)) {
                int shift = (rev->is_first_ack || rev_win_scale == -2) ? 0 : rev_win_scale;
                uint32_t edge = rev->lastack + (uint32_t)((uint64_t)rev->window << shift);
                if ((uint32_t)(seq + seglen32) == edge) {
                    ta |= A_WINDOW_FULL;
                    ev |= EV_WF;
                    o->wf_frame = rev->lastackframe;
                    o->wf_end = seq + seglen32 - fwd_base;
                    o->wf_ack = rev->lastack - fwd_base;
                    o->wf_window = (uint32_t)((uint64_t)rev->window << shift);
                }
            }
            if (seglen == 0 && same_position && (rev->lastsegmentflags & A_KEEP_ALIVE) && window &&
                window == fwd->window) {
                ta |= A_KEEP_ALIVE_ACK;
                ev |= EV_KAA;
            } else if (seglen == 0 && same_position && (rev->lastsegmentflags & A_ZERO_WINDOW_PROBE) &&
                       window == 0 && fwd->window == 0) {
                ta |= A_ZERO_WINDOW_PROBE_ACK;
                ev |= EV_ZWPA;
            } else if (seglen == 0 && window && window == fwd->window && same_position) {
                fwd->dupacknum = fwd->dupacknum == -1 ? 1 : fwd->dupacknum + 1;
                ta |= A_DUPLICATE_ACK;
                ev |= EV_DA;
                o->da_frame = fwd->lastnondupack;
                o->da_number = fwd->dupacknum;
                o->da_ack = ack - rev_base;
            }
        }
        if (ack != fwd->lastack) {
            fwd->lastnondupack = frame;
            fwd->dupacknum = 0;
        }
        uint32_t rmax = rev->maxseqtobeacked;
        if (rmax && ack != rmax && (flags & F_ACK) && (uint32_t)(ack - rmax) < HALF) {
            if (seq_lt(rmax, rev->nextseq)) {
                rev->maxseqtobeacked = rev->nextseq;
                ta |= A_ACK_LOST_PACKET;
            } else {
                if (rev->dupacknum == 0)
                    ta |= A_ACK_LOST_PACKET;
                rev->dupacknum = -1;
            }
            if (ta & A_ACK_LOST_PACKET) {
                ev |= EV_AL;
                o->al_ack = ack - rev_base;
                o->al_seen = rmax - rev_base;
            }
        }
        if (seglen > 0 || (flags & F_SF)) {
            int seq_not_advanced = fnext != 0 && (uint32_t)(seq - fnext) >= HALF;
            if (!(ta & A_KEEP_ALIVE)) {
                if (seglen > 1 && (uint32_t)(fnext - 1) == seq)
                    seq_not_advanced = 0;
                uint32_t end = seq + seglen32;
                if (seglen > 0 && rev->lastack && seq_le(end, rev->lastack)) {
                    ta |= A_SPURIOUS_RETRANSMISSION;
                    ev |= EV_SPUR;
                    o->spur_frame = rev->lastackframe;
                    o->spur_end = end - fwd_base;
                    o->spur_acked = rev->lastack - fwd_base;
                } else {
                    int kind = retransmission_kind(p, fwd, rev, f, seq_not_advanced, o);
                    if (kind) {
                        ta |= kind;
                        ev |= EV_RT;
                        o->rt_kind = kind;
                        o->rt_seq = seq - fwd_base;
                        o->rt_expected = fwd->nextseq - fwd_base;
                    }
                }
            }
        }
    }
    /* finished_checking_retransmission_type */
    uint32_t nextseq = seq + seglen32;
    if ((seglen || (flags & F_SF)) && (fwd->n - fwd->head) < MAX_UNACKED_SEGMENTS) {
        if (flags & F_SF)
            nextseq += 1;
        if (fwd->n > fwd->head && fwd->monotonic && !seq_le(fwd->segs[fwd->n - 1].nextseq, seq))
            fwd->monotonic = 0;
        if (unacked_push(fwd, frame, seq, nextseq, now) < 0)
            return -1;
    }
    if (!(ta & A_ZERO_WINDOW_PROBE)) {
        if (seq_gt(nextseq, fnext) || !fnext) {
            fwd->nextseq = nextseq;
            fwd->nextseqframe = frame;
            fwd->nextseqtime = now;
        }
        if (seq == fwd->maxseqtobeacked || !fwd->maxseqtobeacked)
            fwd->maxseqtobeacked = fwd->nextseq;
    }
    fwd->window = window;
    fwd->lastack = ack;
    fwd->lastacktime = now;
    fwd->lastackframe = frame;
    fwd->lastsegmentflags = ta;
    if (rev->n > rev->head)
        *rtt_out = match_acks(rev, ack, now, &o->acks_frame);
    /* bytes in flight (only the packets pass reports it) */
    if (e->pk_mode && seglen && fwd->n > fwd->head && fwd->valid_bif) {
        uint32_t in_flight = bytes_in_flight(f, dir);
        if (in_flight > 0 && in_flight < 2000000000u)
            o->bif = (flags & F_SF) ? (int64_t)in_flight - 1 : (int64_t)in_flight;
    }
    /* hardware duplicate: one of the last two segments of this direction, same IP ID, seq and length */
    int64_t ip_id = p->ip_id;
    if (ta && ip_id > 0 && e->detect_hw_dups) {
        for (int i = 0; i < 2; i++) {
            if (fwd->recent_ipid[i] == ip_id && fwd->recent_seq[i] == seq && fwd->recent_len[i] == seglen &&
                now - fwd->recent_ts[i] <= HW_DUP_WINDOW_NS) {
                ta = 0;
                o->dup_of = fwd->recent_frame[i];
                o->dup_ip_id = ip_id;
                o->dup_dt = now - fwd->recent_ts[i];
                break;
            }
        }
    }
    fwd->recent_ipid[0] = fwd->recent_ipid[1];
    fwd->recent_seq[0] = fwd->recent_seq[1];
    fwd->recent_len[0] = fwd->recent_len[1];
    fwd->recent_ts[0] = fwd->recent_ts[1];
    fwd->recent_frame[0] = fwd->recent_frame[1];
    fwd->recent_ipid[1] = ip_id;
    fwd->recent_seq[1] = seq;
    fwd->recent_len[1] = seglen;
    fwd->recent_ts[1] = now;
    fwd->recent_frame[1] = frame;
    o->ta = ta;
    o->ev = ev;
    if (!p->header_error) { /* Analyzer.analyze: a bogus data offset ends packet-tcp.c's dissection before this */
        after_analysis(f, fwd, flags, now);
        fwd->sack_sum = opts->sack_sum;
    } else {
        fwd->sack_sum = 0;
    }
    *gap_out = (ta & A_LOST_PACKET) ? gap : 0;
    return ta;
}

/* ------------------------------------------------------------------------------------------------ */
/* counters (stats.FlowSummary.add / _count)                                                        */

static void count(FlowC *f, int dir, const Pkt *p, int ta, int64_t win, int64_t rtt, int64_t gap, int has_sack) {
    int flags = p->flags;
    int64_t seglen = p->len, ts = p->ts;
    int first = f->packets == 1;
    if (first) {
        f->first_direction = dir;
        if ((flags & (F_SYN | F_ACK)) == F_SYN)
            f->completeness = C_SYNSENT | (seglen ? C_DATA : 0);
    } else {
        if ((flags & (F_SYN | F_ACK)) == (F_SYN | F_ACK))
            f->completeness |= C_SYNACK;
        else if ((flags & F_ACK) && !(flags & F_SYN))
            f->completeness |= seglen ? C_DATA : C_ACK;
        if ((flags & (F_FIN | F_ACK)) == (F_FIN | F_ACK))
            f->completeness |= C_FIN;
        if (flags & F_RST)
            f->completeness |= C_RST;
    }
    SDir *d = &f->sd[dir];
    d->packets++;
    if (d->first_ts < 0)
        d->first_ts = ts;
    else if (ts - d->last_ts > d->max_idle)
        d->max_idle = ts - d->last_ts;
    d->last_ts = ts;
    if (flags & F_ACK) {
        d->ack_packets++;
        if (!seglen && !(flags & F_SFR))
            d->pure_acks++;
    }
    if (flags & F_PSH)
        d->pushed++;
    if (has_sack)
        d->sack_packets++;
    if (seglen) {
        d->data_packets++;
        d->data_bytes += seglen;
        /* stats.FlowSummary._count: a SYN's data follows its own number; below the base counts as negative */
        int64_t lo = (int32_t)(uint32_t)(p->seq + ((flags & F_SYN) ? 1u : 0u) - f->base[dir]), hi = lo + seglen;
        if (d->data_packets == 1 || lo < d->seq_lo)
            d->seq_lo = lo;
        if (d->data_packets == 1 || hi > d->seq_hi)
            d->seq_hi = hi;
        if (seglen > d->seg_max)
            d->seg_max = seglen;
        if (d->seg_min < 0 || seglen < d->seg_min)
            d->seg_min = seglen;
        int64_t cut = seglen - p->payload_captured;
        if (cut > 0) {
            d->trunc_bytes += cut;
            d->trunc_packets++;
        }
    }
    if (!(flags & F_SYN)) {
        d->win_n++;
        d->win_sum += win;
        if (win > d->win_max)
            d->win_max = win;
        if (d->win_min < 0 || win < d->win_min)
            d->win_min = win;
    }
    if (rtt >= 0) {
        SDir *o = &f->sd[1 - dir];
        o->rtt_n++;
        unsigned __int128 sq = (unsigned __int128)rtt * (unsigned __int128)rtt;
        o->rtt_sum += (unsigned __int128)rtt;
        o->rtt_sumsq += sq;
        o->rtt_sumsq_hi += o->rtt_sumsq < sq; /* the carry */
        if (rtt > o->rtt_max)
            o->rtt_max = rtt;
        if (o->rtt_min < 0 || rtt < o->rtt_min)
            o->rtt_min = rtt;
    }
    if (flags & F_SYN)
        d->syn++;
    if (flags & F_FIN)
        d->fin++;
    if (flags & F_RST)
        d->rst++;
    if (ta) {
        int shown = (ta & A_RETRANS_FAMILY) ? (ta | A_RETRANSMISSION) : ta;
        for (int i = 0; i < N_FLAGS; i++)
            if (shown & FLAG_ORDER[i])
                d->flags[i]++;
        if (ta & A_RETRANS_FAMILY) {
            d->rexmt_packets++;
            d->rexmt_bytes += seglen;
        }
        if (ta & A_OUT_OF_ORDER)
            d->ooo++;
        if (ta & A_ZERO_WINDOW_PROBE) {
            d->zwp_packets++;
            d->zwp_bytes += seglen;
        }
        if (ta & A_ZERO_WINDOW)
            d->zero_win_adv++;
        if (ta & A_DUPLICATE_ACK)
            d->dup_acks++;
        if (ta & A_LOST_PACKET)
            d->missed_bytes += gap;
    }
}

/* ------------------------------------------------------------------------------------------------ */
/* lifecycle (stats.FlowSummary.on_event: _lifecycle, state.ConnectionMachine, _ZeekHistory)         */

/* ------------------------------------------------------------------------------------------------ */
/* Zeek's view of the stream (tcptrace/zeek.py ZeekConnection, transcribed; that file cites Zeek's source for each
 * rule): endpoint states, history, sizes, content gaps. Fed every segment Zeek would analyse, in process(),
 * before the steady shortcut. Endpoints are indexed by stream direction (ep[0]: the client's side) and never
 * move; a flip changes orig_dir. */

static int zk_likely_server_port(int port) {
    int lo = 0, hi = N_ZEEK_SERVER_PORTS - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (ZEEK_SERVER_PORTS[mid] == port)
            return 1;
        if (ZEEK_SERVER_PORTS[mid] < port)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return 0;
}

/* zeek.wants_flip: TCPAnalyzer::WantConnection */
static int zk_wants_flip(int flags, int sport, int dport) {
    if ((flags & F_SYN) && !(flags & F_ACK))
        return 0;
    if (!zk_likely_server_port(sport))
        return 0;
    if (zk_likely_server_port(dport))
        return !(flags & F_SYN) && sport < dport;
    return 1;
}

static inline int32_t zk_sd(uint32_t a, uint32_t b) { return (int32_t)(a - b); }

static int zk_add(ZeekC *z, int is_orig, char code) {
    if (grow((void **)&z->hist, &z->hcap, z->hlen + 1, 1, 16) < 0)
        return -1;
    z->hist[z->hlen++] = is_orig ? code : (char)(code - 'A' + 'a');
    return 0;
}

static int zk_flip(ZeekC *z) {
    z->orig_dir ^= 1;
    int fps = z->first_packet_seen;
    z->first_packet_seen = ((fps & 1) ? 2 : 0) | ((fps & 2) ? 1 : 0);
    z->is_partial = 0;
    return zk_add(z, 1, '^');
}

/* TCP_Endpoint::CheckHistory: 1 when seen before from this side, else writes it (0); -1 on error */
static int zk_check(ZeekC *z, int d, uint32_t mask, char code) {
    if ((code == 'A' || code == 'D') && z->hlen == 1 && z->hist[0] == 'H') {
        if (zk_flip(z) < 0)
            return -1;
        z->hist[0] = '^';
        z->hist[1] = 'h';
        z->hlen = 2;
        z->first_packet_seen |= 1;
    }
    int is_orig = d == z->orig_dir;
    if (!is_orig)
        mask <<= 16;
    if (!(z->hist_seen & mask)) {
        z->hist_seen |= mask;
        return zk_add(z, is_orig, code) < 0 ? -1 : 0;
    }
    return 1;
}

/* ScaledHistoryEntry (which: 0 rxmt 'T', 1 win0 'W', 2 gap 'G') */
static int zk_scaled(ZeekC *z, int d, int which, char code) {
    ZEnd *ep = &z->ep[d];
    int64_t cnt = ep->cnt[which] + 1;
    int64_t thresh = ep->thresh[which];
    if (cnt == thresh) {
        if (zk_add(z, d == z->orig_dir, code) < 0)
            return -1;
        int64_t nw = thresh * 10;
        if (nw <= thresh || nw > 0xFFFFFFFFLL)
            cnt = 0;
        else
            ep->thresh[which] = nw;
    }
    ep->cnt[which] = cnt;
    return 0;
}

static void zk_init_seqs(ZEnd *ep, uint32_t start, uint32_t last) {
    ep->start = start;
    ep->ack = start;
    ep->last = last;
}

static void zk_set_state(ZEnd *ep, int st) {
    if (st != ep->state) {
        ep->prev_state = ep->state;
        ep->state = st;
    }
}

/* get_relative_seq */
static int64_t zk_relative(uint32_t cur, uint32_t last, int64_t wraps, uint32_t start, int *underflow) {
    int32_t delta = zk_sd(cur, last);
    if (delta < 0) {
        if (wraps && cur > last)
            wraps--;
    } else if (delta > 0 && cur < last) {
        wraps++;
    }
    if (wraps == 0) {
        int32_t dd = zk_sd(cur, start);
        *underflow = dd < 0;
        return dd;
    }
    *underflow = 0;
    return (wraps << 32) + (int64_t)cur - (int64_t)start;
}

static int64_t zk_size(const ZEnd *ep, const ZEnd *peer) {
    int64_t ack64 = (ep->ack_wraps << 32) + ep->ack;
    if (ep->prev_state == ZK_SYN_SENT && ep->state == ZK_RESET && peer->state == ZK_INACTIVE &&
        !(ack64 == ep->start || ack64 == (int64_t)ep->start + 1))
        return 0;
    int64_t last64 = (ep->seq_wraps << 32) + ep->last;
    int64_t size = (last64 > ack64 ? last64 : ack64) - ep->start;
    if (size != 0)
        size--;
    if (ep->fin_cnt > 0 && size != 0)
        size--;
    return size < 0 ? 0 : size;
}

static int zk_clean(const ZEnd *ep) {
    return ep->state == ZK_ESTABLISHED || (ep->state == ZK_CLOSED && ep->prev_state == ZK_ESTABLISHED);
}

static int zk_gap(ZeekC *z, int d, int64_t len) {
    if (zk_clean(&z->ep[d]) && zk_clean(&z->ep[1 - d])) {
        if (zk_scaled(z, d, 2, 'G') < 0)
            return -1;
        z->missed += len;
    }
    return 0;
}

/* TCP_Reassembler::DataSent + Reassembler::NewBlock/BlockInserted: blocks above last_reassem, sorted, disjoint */
static int zk_data_sent(ZEnd *ep, int64_t seq, int64_t len) {
    int64_t ack = (ep->ack_wraps << 32) + ep->ack - ep->start;
    int64_t upper = seq + len;
    if (seq < ack) {
        if (upper <= ack)
            return 0;
        seq = ack;
    }
    int64_t lo = seq;
    if (ep->trim > lo)
        lo = ep->trim;
    if (ep->last_reassem > lo)
        lo = ep->last_reassem;
    if (upper <= lo)
        return 0;
    if (ep->nblocks == 0 && lo == ep->last_reassem) { /* in order: delivered at once */
        ep->last_reassem = upper;
        return 0;
    }
    /* merge [lo, upper) with the blocks it touches (b.hi >= lo and b.lo <= upper), keep the rest in order */
    int64_t mlo = lo, mhi = upper;
    Py_ssize_t w = 0, at = -1;
    for (Py_ssize_t i = 0; i < ep->nblocks; i++) {
        int64_t blo = ep->blocks[i].lo, bhi = ep->blocks[i].hi;
        if (bhi < mlo || blo > mhi) {
            if (blo > mhi && at < 0)
                at = w;
            ep->blocks[w++] = ep->blocks[i];
        } else {
            if (blo < mlo)
                mlo = blo;
            if (bhi > mhi)
                mhi = bhi;
        }
    }
    if (at < 0)
        at = w;
    if (grow((void **)&ep->blocks, &ep->capblocks, w + 1, sizeof(ZBlock), 4) < 0)
        return -1;
    memmove(&ep->blocks[at + 1], &ep->blocks[at], (size_t)(w - at) * sizeof(ZBlock));
    ep->blocks[at].lo = mlo;
    ep->blocks[at].hi = mhi;
    ep->nblocks = w + 1;
    /* deliver what is now contiguous with last_reassem */
    Py_ssize_t k = 0;
    while (k < ep->nblocks && ep->blocks[k].lo <= ep->last_reassem) {
        if (ep->blocks[k].hi > ep->last_reassem)
            ep->last_reassem = ep->blocks[k].hi;
        k++;
    }
    if (k) {
        memmove(ep->blocks, ep->blocks + k, (size_t)(ep->nblocks - k) * sizeof(ZBlock));
        ep->nblocks -= k;
    }
    return 0;
}

/* TCP_Reassembler::AckReceived -> DataBlockList::Trim -> Undelivered -> Gap */
static int zk_ack_received(ZeekC *z, int d, int64_t seq) {
    ZEnd *ep = &z->ep[d];
    if (ep->fin_cnt > 0 && seq >= ep->fin_seq)
        seq = ep->fin_seq - 1;
    if (seq <= ep->trim)
        return 0;
    if (seq > ep->last_reassem && !(seq <= 2 && z->is_partial)) {
        Py_ssize_t k = 0;
        while (k < ep->nblocks && ep->blocks[k].lo < seq) {
            if (ep->blocks[k].lo > ep->last_reassem && zk_gap(z, d, ep->blocks[k].lo - ep->last_reassem) < 0)
                return -1;
            if (ep->blocks[k].hi > ep->last_reassem)
                ep->last_reassem = ep->blocks[k].hi;
            k++;
        }
        if (k) {
            memmove(ep->blocks, ep->blocks + k, (size_t)(ep->nblocks - k) * sizeof(ZBlock));
            ep->nblocks -= k;
        }
        if (seq > ep->last_reassem) {
            if (zk_gap(z, d, seq - ep->last_reassem) < 0)
                return -1;
            ep->last_reassem = seq;
        }
    }
    Py_ssize_t w = 0;
    for (Py_ssize_t i = 0; i < ep->nblocks; i++)
        if (ep->blocks[i].hi > seq)
            ep->blocks[w++] = ep->blocks[i];
    ep->nblocks = w;
    ep->trim = seq;
    return 0;
}

static int zk_update_history(ZeekC *z, int d, int flags, int64_t rel_seq, int64_t len) {
    ZEnd *ep = &z->ep[d];
    int syn = flags & F_SYN, fin = flags & F_FIN, rst = flags & F_RST;
    int bits = (syn ? 1 : 0) + (fin ? 1 : 0) + (rst ? 1 : 0), r;
    if (bits > 1)
        return (fin && rst) ? (zk_check(z, d, ZK_HIST_FIN_RST, 'I') < 0 ? -1 : 0)
                            : (zk_check(z, d, ZK_HIST_MULTI, 'Q') < 0 ? -1 : 0);
    if (bits == 1) {
        if (syn) {
            char code = (flags & F_ACK) ? 'H' : 'S';
            if ((r = zk_check(z, d, ZK_HIST_SYN, code)) < 0)
                return -1;
            if (r && rel_seq != ep->hist_last_syn && zk_add(z, d == z->orig_dir, code) < 0)
                return -1;
            ep->hist_last_syn = rel_seq;
        }
        if (fin) {
            if ((r = zk_check(z, d, ZK_HIST_FIN, 'F')) < 0)
                return -1;
            if (r && rel_seq + len != ep->hist_last_fin && zk_add(z, d == z->orig_dir, 'F') < 0)
                return -1;
            ep->hist_last_fin = rel_seq + len;
        }
        if (rst) {
            if ((r = zk_check(z, d, ZK_HIST_RST, 'R')) < 0)
                return -1;
            if (r && rel_seq != ep->hist_last_rst && zk_add(z, d == z->orig_dir, 'R') < 0)
                return -1;
            ep->hist_last_rst = rel_seq;
        }
        return 0;
    }
    if (len)
        return zk_check(z, d, ZK_HIST_DATA, 'D') < 0 ? -1 : 0;
    if (flags & F_ACK)
        return zk_check(z, d, ZK_HIST_ACK, 'A') < 0 ? -1 : 0;
    return 0;
}

/* update_last_seq; *delta gets delta_last */
static int zk_update_last_seq(ZeekC *z, int d, uint32_t last, int flags, int64_t len) {
    ZEnd *ep = &z->ep[d];
    int32_t delta_last = zk_sd(last, ep->last);
    if ((flags & (F_SYN | F_RST)) && (delta_last > ZK_TOO_LARGE_SEQ_DELTA || delta_last < -ZK_TOO_LARGE_SEQ_DELTA)) {
        /* not trusted */
    } else if ((flags & F_FIN) && ep->last == ep->start + 1) {
        if (last < ep->last)
            ep->seq_wraps++;
        ep->last = last;
    } else if (ep->state == ZK_RESET) {
        /* nothing after a RST is trusted */
    } else if (delta_last > 0) {
        if (last < ep->last)
            ep->seq_wraps++;
        ep->last = last;
    } else if (len > 0) {
        return zk_scaled(z, d, 0, 'T');
    }
    return 0;
}

/* UpdateInactiveState; returns do_close or -1 */
static int zk_inactive(ZeekC *z, int d, uint32_t seq, int64_t len, int is_orig, int flags) {
    ZEnd *ep = &z->ep[d], *peer = &z->ep[1 - d];
    int do_close = 0;
    if (flags & F_SYN) {
        if (is_orig) {
            zk_set_state(ep, (flags & F_ACK) ? ZK_SYN_ACK_SENT : ZK_SYN_SENT);
        } else {
            if (!(flags & F_ACK) && peer->state == ZK_SYN_ACK_SENT && seq == ep->start) {
                z->is_partial = 0;
                if (zk_flip(z) < 0)
                    return -1;
                zk_set_state(peer, ZK_ESTABLISHED);
                z->first_packet_seen |= 1;
            }
            if (peer->state == ZK_SYN_SENT)
                zk_set_state(peer, ZK_ESTABLISHED);
            zk_set_state(ep, ZK_ESTABLISHED);
        }
    }
    if (flags & F_FIN) {
        zk_set_state(ep, ZK_CLOSED);
        do_close = 1;
    }
    if (flags & F_RST) {
        zk_set_state(ep, ZK_RESET);
        do_close = 1;
    }
    if (ep->state == ZK_INACTIVE) {
        if (!is_orig && len == 0 && z->ep[z->orig_dir].state == ZK_SYN_SENT) {
            /* an ACK of the SYN before the SYN/ACK */
        } else if ((flags & F_ACK) && peer->state == ZK_ESTABLISHED) {
            zk_set_state(ep, ZK_ESTABLISHED);
            z->is_partial = 0;
        } else {
            zk_set_state(ep, ZK_PARTIAL);
        }
    }
    return do_close;
}

static int zk_state_machine(ZeekC *z, int d, uint32_t seq, int64_t len, int is_orig, int flags) {
    ZEnd *ep = &z->ep[d], *peer = &z->ep[1 - d];
    int st = ep->state, do_close = 0;
    if (st == ZK_INACTIVE) {
        do_close = zk_inactive(z, d, seq, len, is_orig, flags);
    } else if (st == ZK_SYN_SENT || st == ZK_SYN_ACK_SENT) {
        if (flags & F_FIN) {
            zk_set_state(ep, ZK_CLOSED);
            do_close = 1;
        }
        if (flags & F_RST) {
            zk_set_state(ep, ZK_RESET);
            do_close = 1;
        }
    } else if (st == ZK_ESTABLISHED || st == ZK_PARTIAL) {
        if ((flags & F_SYN) && st == ZK_PARTIAL && peer->state == ZK_INACTIVE && !(flags & F_ACK))
            zk_set_state(ep, ZK_SYN_SENT);
        if ((flags & F_FIN) && !(flags & F_RST)) {
            zk_set_state(ep, ZK_CLOSED);
            if (peer->state == ZK_RESET && peer->prev_state == ZK_CLOSED)
                zk_set_state(peer, ZK_CLOSED);
            do_close = 1;
        }
        if (flags & F_RST) {
            zk_set_state(ep, ZK_RESET);
            do_close = 1;
        }
    } else if (st == ZK_CLOSED && (flags & F_RST) && peer->state != ZK_CLOSED) {
        zk_set_state(ep, ZK_RESET);
        if (!ep->did_close)
            do_close = 1;
    }
    return do_close;
}

/* ZeekConnection.__init__: the stream's first segment makes the connection (even one Zeek cannot analyse) */
static int zeek_start(FlowC *f, const Pkt *p, int d) {
    ZeekC *z = &f->zk;
    z->started = 1;
    z->orig_dir = zk_wants_flip(p->flags, p->sport, p->dport) ? 1 - d : d;
    if (z->orig_dir != d && zk_add(z, 1, '^') < 0)
        return -1;
    z->ep[0].thresh[0] = z->ep[0].thresh[1] = z->ep[0].thresh[2] = 1;
    z->ep[1].thresh[0] = z->ep[1].thresh[1] = z->ep[1].thresh[2] = 1;
    z->ep[0].last_reassem = z->ep[0].trim = z->ep[1].last_reassem = z->ep[1].trim = 1;
    z->start_ns = z->last_ns = p->ts;
    return 0;
}

/* ZeekConnection.packet: one segment from stream direction d (zeek.analysable: header whole and valid) */
/* A connection from an address and port to themselves: Zeek tells a packet's side by comparing its source with the
 * originator's endpoint (IPBasedAnalyzer: src_addr == OrigAddr && src_port == OrigPort), so here every packet is
 * the originator's, as zeek.ZeekConnection.is_orig says; its zeek block names the client (ZeekConnection.final) */
static inline int zk_self(const FlowC *f) {
    return f->port[0] == f->port[1] && memcmp(f->addr[0], f->addr[1], (size_t)f->alen) == 0;
}

static int zeek_packet(FlowC *f, const Pkt *p, int d) {
    ZeekC *z = &f->zk;
    if (zk_self(f))
        d = z->orig_dir; /* the originator's endpoint, whichever way the stream tracker counted the packet */
    int flags = p->flags;
    ZEnd *ep = &z->ep[d], *peer = &z->ep[1 - d];
    int is_orig = d == z->orig_dir;
    int64_t len = p->len;
    uint32_t seq = p->seq, ack = p->ack;
    ep->pkts++;
    /* SetPartialStatus */
    if (is_orig) {
        if (!(z->first_packet_seen & 1))
            z->is_partial = !(flags & F_SYN) || (flags & F_ACK);
    } else if (!(z->first_packet_seen & 2) && !z->is_partial) {
        z->is_partial = !(flags & F_SYN);
    }
    z->first_packet_seen |= is_orig ? 1 : 2;
    int64_t seg_len = len + ((flags & F_SYN) ? 1 : 0) + ((flags & F_FIN) ? 1 : 0);
    if (flags & F_RST)
        seg_len -= len;
    uint32_t seq_one_past = seq + (uint32_t)seg_len;
    /* init_endpoint */
    int st = ep->state;
    if (st == ZK_INACTIVE) {
        if (flags & F_SYN)
            zk_init_seqs(ep, seq, seq_one_past);
        else
            zk_init_seqs(ep, seq - 1, seq);
    } else if (st == ZK_SYN_SENT || st == ZK_SYN_ACK_SENT) {
        if ((flags & F_SYN) && seq != ep->start)
            zk_init_seqs(ep, seq, seq_one_past);
    } else if (st == ZK_ESTABLISHED || st == ZK_PARTIAL) {
        if (flags & F_SYN)
            zk_init_seqs(ep, seq, seq_one_past);
    } else if (st == ZK_RESET && (flags & F_SYN) && ep->prev_state == ZK_INACTIVE) {
        zk_init_seqs(ep, seq, seq_one_past);
    }
    int underflow;
    int64_t rel_seq = zk_relative(seq, ep->last, ep->seq_wraps, ep->start, &underflow);
    if (zk_update_history(z, d, flags, rel_seq, len) < 0)
        return -1;
    if (p->win_raw == 0 && !(flags & F_RST) && peer->state != ZK_CLOSED && ep->state != ZK_RESET &&
        zk_scaled(z, d, 1, 'W') < 0)
        return -1;
    if (!(z->ep[0].did_close && z->ep[1].did_close))
        z->last_ns = p->ts;
    if (flags & F_FIN) {
        ep->fin_cnt++;
        ep->fin_seq = rel_seq + seg_len;
    }
    int64_t rel_ack = 0;
    if (flags & F_ACK) {
        if (peer->state == ZK_INACTIVE) {
            rel_ack = 1;
            zk_init_seqs(peer, ack - 1, ack - 1);
        } else {
            int ack_underflow;
            rel_ack = zk_relative(ack, peer->ack, peer->ack_wraps, peer->start, &ack_underflow);
            if (ack_underflow) {
                rel_ack = 0;
            } else if (!(flags & F_RST)) {
                int32_t delta_ack = zk_sd(ack, peer->ack);
                if (!(ack == 0 && delta_ack > ZK_TOO_LARGE_SEQ_DELTA) && delta_ack > 0) {
                    if (ack < peer->ack)
                        peer->ack_wraps++;
                    peer->ack = ack;
                }
            }
        }
    }
    if (zk_update_last_seq(z, d, seq_one_past, flags, len) < 0)
        return -1;
    int do_close = zk_state_machine(z, d, seq, len, is_orig, flags);
    if (do_close < 0)
        return -1;
    if ((flags & F_ACK) && zk_ack_received(z, 1 - d, rel_ack) < 0)
        return -1;
    int64_t rel_data_seq = (flags & F_SYN) ? rel_seq + 1 : rel_seq;
    if (len > 0 && !(flags & F_RST) && !underflow && p->payload_captured >= len &&
        zk_data_sent(ep, rel_data_seq, len) < 0)
        return -1;
    if (do_close && !ep->did_close)
        ep->did_close = 1; /* ConnectionClosed (its timers only decide Zeek's boundaries: tcptrace.zeek) */
    return 0;
}

/* ------------------------------------------------------------------------------------------------ */
/* lifecycle state machine                                                                          */

static int machine_step(Engine *e, FlowC *f, int who, int input, int64_t frame) {
    int st = f->state[who];
    int nw = e->rows[st][input];
    if (nw != NO_STATE) {
        f->state[who] = nw;
        return 0;
    }
    if (f->nanomalies >= MAX_ANOMALIES)
        return 0;
    if (grow((void **)&f->anomalies, &f->capanomalies, f->nanomalies + 1, sizeof(Anomaly), 4) < 0)
        return -1;
    Anomaly *a = &f->anomalies[f->nanomalies++];
    a->frame = frame;
    a->state = (uint8_t)st;
    a->input = (uint8_t)input;
    return 0;
}

static int rst_cause(FlowC *f, int dir, int sender_state) {
    if ((sender_state == S_LISTEN || sender_state == S_SYN_RECEIVED || sender_state == S_CLOSED) && f->syn_frame &&
        !f->synack_frame && dir == 1)
        return CAUSE_REFUSED;
    if (f->has_fin_next[dir])
        return CAUSE_CLOSED_SOCKET;
    if (sender_state == S_ESTABLISHED || sender_state == S_CLOSE_WAIT || sender_state == S_SYN_RECEIVED)
        return CAUSE_ABORTIVE;
    if (sender_state == S_UNKNOWN)
        return CAUSE_MID_STREAM;
    return CAUSE_STRAY;
}

static int lifecycle(Engine *e, FlowC *f, const Pkt *p, const Opts *o, int dir, int ta, int first) {
    int flags = p->flags, other = 1 - dir;
    int64_t frame = p->frame;
    if (flags & F_SYN) {
        if (o->mss >= 0)
            f->mss[dir] = o->mss;
        if (o->wscale >= 0)
            f->wscale_opt[dir] = o->wscale;
        f->sack_permitted[dir] |= o->sack_perm;
        f->timestamps[dir] |= o->ts;
    }
    int acks_fin = 0;
    if ((flags & F_ACK) && f->has_fin_next[other] && (uint32_t)(p->ack - f->fin_next[other]) < HALF) {
        acks_fin = 1;
        if (!f->fin_acked[other])
            f->fin_acked[other] = frame;
    }
    int before_sender = f->state[dir]; /* before the first packet's reset too: UNKNOWN, as machine.states */
    /* ConnectionMachine.on_segment */
    if (first) {
        const uint8_t *init = e->initial[flags & (F_SYN | F_ACK | F_RST)];
        f->state[dir] = init[0];
        f->state[other] = init[1];
    }
    const uint8_t *cls = e->classes[(flags & (F_FIN | F_SYN | F_RST | F_ACK)) | (acks_fin ? 0x20 : 0)];
    /* state[] is indexed by role and dir 0 is the client's direction: the sender is state[dir] */
    if (machine_step(e, f, dir, cls[0], frame) < 0)
        return -1;
    for (int i = 1; i < 3; i++)
        if (cls[i] != NO_STATE && machine_step(e, f, other, cls[i], frame) < 0)
            return -1;
    int64_t seglen = p->len;
    int phase = PHASE_DATA;
    if (flags & F_RST) {
        phase = PHASE_RESET;
    } else if (flags & F_SYN) {
        phase = PHASE_HANDSHAKE;
        if (flags & F_ACK) {
            if (!f->synack_frame)
                f->synack_frame = frame;
        } else if (!f->syn_frame) {
            f->syn_frame = frame;
        }
    } else if (!f->handshake_done && f->synack_frame && dir == 0 && !seglen && (flags & F_ACK)) {
        phase = PHASE_HANDSHAKE;
        f->handshake_done = 1;
        f->handshake_ack_frame = frame;
    } else if (flags & F_FIN) {
        phase = PHASE_TEARDOWN;
    } else if (seglen) {
        if (f->has_fin_next[other] && !f->has_fin_next[dir])
            f->data_after_fin[dir] += seglen;
    } else if (f->has_fin_next[0] || f->has_fin_next[1]) {
        phase = PHASE_TEARDOWN;
    }
    e->out.phase = phase;
    if (seglen || (flags & (F_SYN | F_ACK)) == F_ACK)
        f->handshake_done = f->handshake_done || f->synack_frame != 0;
    if ((flags & F_FIN) && !f->has_fin_next[dir]) {
        f->has_fin_next[dir] = 1;
        f->fin_next[dir] = p->seq + (uint32_t)seglen + 1;
        f->fin_dir[f->nfin] = dir;
        f->fin_frame[f->nfin] = frame;
        f->nfin++;
    }
    if (flags & F_RST) {
        /* every RST carries its own state and cause (FlowSummary._lifecycle's seg.rst_info); the first few listed */
        e->out.rst_state = before_sender;
        e->out.rst_cause = rst_cause(f, dir, before_sender);
        f->rst_total++;
        if (f->nrst < MAX_RESETS) {
            if (grow((void **)&f->rst, &f->caprst, f->nrst + 1, sizeof(Rst), 2) < 0)
                return -1;
            Rst *r = &f->rst[f->nrst++];
            r->dir = dir;
            r->frame = frame;
            r->state = before_sender;
            r->cause = e->out.rst_cause;
            r->len = seglen;
        }
    }
    /* the steady mask (FlowSummary.on_event): Zeek's view has seen the packet already (process) */
    int mask = 0;
    if (f->state[0] == S_ESTABLISHED && f->state[1] == S_ESTABLISHED && !f->has_fin_next[0] &&
        !f->has_fin_next[1] && (f->handshake_done || !f->synack_frame))
        mask = 0xf;
    f->steady_mask = mask;
    return 0;
}

/* ------------------------------------------------------------------------------------------------ */
/* one packet                                                                                       */

/* A header Wireshark dissects only in part (Analyzer.analyze, FlowSummary._add_malformed): a bogus data offset
 * is analysed (nothing shown), a short segment only restarts a repeated SYN and times the handshake; the packet
 * counts, a short segment moves the completeness; no other counter, no lifecycle. */
static int malformed(Engine *e, FlowC *f, int dir, const Pkt *p) {
    int flags = p->flags;
    ADir *fwd = &f->ad[dir];
    if (p->header_error == HDR_BOGUS_LENGTH) {
        int64_t rtt, gap;
        if (analyze(e, f, dir, p, NULL, &rtt, &gap) < 0)
            return -1;
    } else {
        fwd->sack_sum = 0; /* Analyzer.analyze: a short segment keeps no SACK blocks */
        uint32_t fwd_base = f->has_base[dir] ? f->base[dir] : 0;
        if ((flags & (F_SYN | F_ACK)) == F_SYN && p->seq == fwd_base && fwd->maxseqtobeacked)
            fwd->nextseq = fwd->maxseqtobeacked; /* packet-tcp.c issue 17616 */
        after_analysis(f, fwd, flags, p->ts);
    }
    if (f->packets == 1) {
        f->first_direction = dir;
        if ((flags & (F_SYN | F_ACK)) == F_SYN &&
            (p->header_error == HDR_SHORT_SEGMENT || f->reused_ports_frame == p->frame))
            f->completeness = C_SYNSENT;
    } else if (p->header_error == HDR_SHORT_SEGMENT) {
        if ((flags & (F_SYN | F_ACK)) == (F_SYN | F_ACK))
            f->completeness |= C_SYNACK;
        else if ((flags & F_ACK) && !(flags & F_SYN))
            f->completeness |= C_ACK;
        if ((flags & (F_FIN | F_ACK)) == (F_FIN | F_ACK))
            f->completeness |= C_FIN;
        if (flags & F_RST)
            f->completeness |= C_RST;
    }
    f->sd[dir].packets++;
    return 0;
}

/* ------------------------------------------------------------------------------------------------ */
/* classic tcptrace -l (tcptrace/classic.py, its C twin): one tcb per direction and its segment database */

static inline uint32_t cl_be32(const uint8_t *b) {
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static void cl_free_quad(ClDir *c, int i) {
    if (c->quads[i]) {
        c->nsegs -= c->quads[i]->n;
        PyMem_Free(c->quads[i]->segs);
        PyMem_Free(c->quads[i]);
        c->quads[i] = NULL;
    }
}

static void classic_free(ClDir *c) {
    for (int i = 0; i < 4; i++)
        cl_free_quad(c, i);
}

/* rexmit.c whichquad */
static ClQuad *cl_whichquad(ClDir *c, uint32_t seq) {
    int qix = (int)(seq >> 30);
    ClQuad *q = c->quads[qix];
    if (q && q->next && q->prev)
        return q;
    int nxt = (qix + 1) % 4, opp = (qix + 2) % 4, prv = (qix + 3) % 4;
    int need[3] = {qix, nxt, prv};
    for (int k = 0; k < 3; k++)
        if (!c->quads[need[k]]) {
            c->quads[need[k]] = PyMem_Calloc(1, sizeof(ClQuad));
            if (!c->quads[need[k]]) {
                PyErr_NoMemory();
                return NULL;
            }
        }
    cl_free_quad(c, opp);
    q = c->quads[qix];
    ClQuad *qn = c->quads[nxt], *qp = c->quads[prv];
    q->prev = qp;
    q->next = qn;
    qn->prev = q;
    qp->next = q;
    qn->next = NULL;
    qp->prev = NULL;
    return q;
}

/* insert a range at position i of q (or count it as not recorded past MAX_CLASSIC_SEGMENTS): its index or -1 */
static Py_ssize_t cl_insert(ClDir *c, ClQuad *q, Py_ssize_t i, uint32_t first, uint32_t len, int64_t now,
                            int *err) {
    if (c->nsegs >= MAX_CLASSIC_SEGMENTS) {
        c->segs_dropped++;
        return -1;
    }
    if (grow((void **)&q->segs, &q->cap, q->n + 1, sizeof(ClSeg), 8) < 0) {
        *err = 1;
        return -1;
    }
    memmove(q->segs + i + 1, q->segs + i, (size_t)(q->n - i) * sizeof(ClSeg));
    q->segs[i] = (ClSeg){first, first + len - 1, now, 0, 0};
    q->n++;
    c->nsegs++;
    return i;
}

/* rexmit.c rtt_retrans */
static void cl_rtt_retrans(ClDir *c, ClSeg *s, int64_t now) {
    if (!s->acked) {
        int64_t etime = now - s->time > 0 ? now - s->time : 0;
        if (s->retrans > c->retr_max)
            c->retr_max = s->retrans;
        if (etime > c->retr_max_tm)
            c->retr_max_tm = etime;
        if (c->retr_min_tm == 0 || etime < c->retr_min_tm)
            c->retr_min_tm = etime;
        double x = (double)etime;
        c->retr_tm_sum += x;
        c->retr_tm_sum2 += x * x;
        c->retr_tm_count++;
    }
    s->time = now;
}

/* rexmit.c addseg: bytes already recorded; *ooo set when the segment fills a hole; -1 on error */
static int64_t cl_addseg(ClDir *c, ClQuad *q, uint32_t first, uint32_t len, int64_t now, int *ooo) {
    uint32_t last = first + len - 1;
    int64_t rexlen = 0;
    int split = 0, err = 0;
    Py_ssize_t i = (q->n && first > q->segs[q->n - 1].last) ? q->n : 0;
    while (i < q->n) {
        ClSeg *s = &q->segs[i];
        if (first > s->last) {
            i++;
            continue;
        }
        if (first < s->first) {
            if (last < s->last)
                *ooo = 1;
            uint32_t sfirst = s->first;
            Py_ssize_t k = cl_insert(c, q, i, first, len, now, &err);
            if (err)
                return -1;
            if (k >= 0)
                i++;
            s = &q->segs[i]; /* (the array may have moved) */
            if (last < sfirst)
                return rexlen;
            if (k >= 0)
                q->segs[k].last = sfirst - 1;
            first = sfirst;
            len = last - first + 1;
        }
        s->retrans++;
        if (!split)
            cl_rtt_retrans(c, s, now);
        if (last <= s->last)
            return rexlen + len;
        split = 1;
        rexlen += (int64_t)s->last - first + 1;
        first = s->last + 1;
        len = last - first + 1;
        i++;
    }
    cl_insert(c, q, q->n, first, len, now, &err);
    return err ? -1 : rexlen;
}

/* rexmit.c rexmit */
static int64_t cl_rexmit(ClDir *c, uint32_t seq, uint32_t len, int64_t now, int *ooo) {
    uint32_t last = seq + len - 1;
    *ooo = 0;
    ClQuad *q = cl_whichquad(c, seq);
    if (!q)
        return -1;
    if (seq >> 30 != last >> 30) {
        uint32_t len1 = (uint32_t)(0x40000000u * ((seq >> 30) + 1) - 1) - seq + 1;
        int64_t r1 = cl_addseg(c, q, seq, len1, now, ooo);
        if (r1 < 0)
            return -1;
        int64_t r2 = cl_addseg(c, q->next, (last >> 30) * 0x40000000u, len - len1, now, ooo);
        return r2 < 0 ? -1 : r1 + r2;
    }
    return cl_addseg(c, q, seq, len, now, ooo);
}

/* rexmit.c collapse_quad */
static void cl_collapse(ClDir *c, ClQuad *q) {
    Py_ssize_t i = 0;
    while (i + 1 < q->n) {
        ClSeg *s = &q->segs[i], *n = &q->segs[i + 1];
        if (!s->acked)
            break;
        if (n->acked && s->last + 1 == n->first) {
            s->last = n->last;
            s->acked = n->acked;
            if (n->time > s->time)
                s->time = n->time;
            memmove(q->segs + i + 1, q->segs + i + 2, (size_t)(q->n - i - 2) * sizeof(ClSeg));
            q->n--;
            c->nsegs--;
        } else {
            i++;
        }
    }
}

/* rexmit.c rtt_ackin */
static void cl_rtt_ackin(ClDir *c, const ClSeg *s, int rexmit_prev, int64_t now) {
    int64_t etime = now - s->time > 0 ? now - s->time : 0;
    double x = (double)etime;
    if (rexmit_prev) {
        c->rtt_last = 0;
        c->rtt_nosample++;
    } else if (s->retrans == 0) {
        c->rtt_last = etime;
        if (c->rtt_min == 0 || c->rtt_min > etime)
            c->rtt_min = etime;
        if (c->rtt_max < etime)
            c->rtt_max = etime;
        c->rtt_sum += x;
        c->rtt_sum2 += x * x;
        c->rtt_count++;
        int64_t size = s->last > s->first ? (int64_t)s->last - s->first + 1
                                          : ((int64_t)1 << 32) - s->first + s->last; /* classic's 1-byte size */
        if (!c->rtt_full_size || c->rtt_full_size < size) {
            c->rtt_full_size = size;
            c->rtt_full_min = c->rtt_full_max = etime;
            c->rtt_full_sum = x;
            c->rtt_full_sum2 = x * x;
            c->rtt_full_count = 1;
        } else if (c->rtt_full_size == size) {
            c->rtt_full_count++;
            if (c->rtt_full_min == 0 || c->rtt_full_min > etime)
                c->rtt_full_min = etime;
            if (c->rtt_full_max < etime)
                c->rtt_full_max = etime;
            c->rtt_full_sum += x;
            c->rtt_full_sum2 += x * x;
        }
    } else {
        if (c->rtt_min_last == 0 || c->rtt_min_last > etime)
            c->rtt_min_last = etime;
        if (c->rtt_max_last < etime)
            c->rtt_max_last = etime;
        c->rtt_sum_last += x;
        c->rtt_sum2_last += x * x;
        c->rtt_count_last++;
        c->rtt_amback++;
        c->rtt_last = 0;
    }
}

/* rexmit.c ack_in (BSD duplicate-ACK rules): `acker` acknowledged `ack` of c's data */
static int cl_ack_in(ClDir *c, uint32_t ack, int64_t data_len, int64_t eff_win, const ClDir *acker, int64_t now) {
    ClQuad *q = cl_whichquad(c, ack);
    if (!q)
        return -1;
    ClQuad *qp = q->prev;
    int64_t last_xmit = 0;
    int changed = 0;
    for (Py_ssize_t i = 0; i < qp->n; i++) {
        ClSeg *s = &qp->segs[i];
        if (!s->acked) {
            s->acked++;
            changed = 1;
            c->rtt_cumack++;
            if (s->time > last_xmit)
                last_xmit = s->time;
        }
    }
    if (changed)
        cl_collapse(c, qp);
    changed = 0;
    for (Py_ssize_t i = 0; i < q->n; i++) {
        ClSeg *s = &q->segs[i];
        if (ack <= s->first)
            break;
        if (s->time > last_xmit)
            last_xmit = s->time;
        if (s->acked) {
            if (ack == (uint32_t)(s->last + 1) && ack == acker->ack && data_len == 0 && eff_win == acker->win_last &&
                c->owin_any) {
                c->rtt_dupack++;
                if (++s->acked == 4)
                    c->rtt_triple_dupack++;
            } else {
                s->acked = 1;
            }
            continue;
        }
        s->acked++;
        changed = 1;
        if (ack == (uint32_t)(s->last + 1))
            cl_rtt_ackin(c, s, last_xmit > s->time, now);
        else
            c->rtt_cumack++;
    }
    if (changed)
        cl_collapse(c, q);
    return 0;
}

static int cl_is_dsack(const Opts *o, uint32_t ack) {
    uint32_t l0 = o->sack[0][0], r0 = o->sack[0][1];
    if (r0 <= ack)
        return 1;
    if (o->nsack > 1) {
        uint32_t l1 = o->sack[1][0], r1 = o->sack[1][1];
        if (r0 <= r1 && l0 >= l1)
            return 1;
        if ((l0 <= l1 && l1 < r0) || (r0 >= r1 && r1 > l0))
            return 1;
    }
    return 0;
}

/* trace.c dotrace for one segment (classic.classic_add; a header_error segment has no options). `o`: the options
 * process() parsed for this segment (classic reads the same ones: mss, wscale, timestamps, SACK) */
static int classic_add(FlowC *f, int dir, const Pkt *p, const Opts *o) {
    ClDir *this = &f->cl[dir], *other = &f->cl[1 - dir];
    int flags = p->flags;
    int64_t now = p->ts, data_len = p->len;
    if (flags & F_SYN)
        this->syn_count++;
    if (flags & F_RST)
        this->resets++;
    if (flags & F_FIN)
        this->fin_count++;
    int64_t eff_win = 0;
    if (flags & (F_ACK | F_SYN)) {
        eff_win = p->win_raw;
        if (this->f1323_ws && other->f1323_ws && !(flags & F_SYN))
            eff_win <<= this->window_scale < 14 ? this->window_scale : 14; /* RFC 7323 2.3 */
    }
    if (this->has_time && now - this->last_time > this->idle_max)
        this->idle_max = now - this->last_time;
    this->last_time = now;
    this->has_time = 1;
    uint32_t start = p->seq;
    uint64_t end = (uint64_t)start + (uint64_t)data_len; /* not reduced modulo 2^32, as classic's u_long */
    /* trace.c's sequence-space wrap count */
    if (this->quads_seen == 15 && (uint64_t)(this->syn >> 30) == (end >> 30) && end >= (uint64_t)this->syn) {
        this->seq_wrap_count++;
        this->quads_seen = 0;
    }
    this->quads_seen |= 1 << (start >> 30);
    if ((end >> 30) < 4)
        this->quads_seen |= 1 << (end >> 30);
    if (flags & F_SYN) {
        this->syn = start;
        other->ack = start;
    }
    if (flags & F_FIN)
        this->fin = (uint32_t)end;
    if (o->mss >= 0)
        this->mss = o->mss;
    if (o->wscale >= 0) {
        this->window_scale = o->wscale;
        this->f1323_ws = 1;
    }
    if (o->ts)
        this->f1323_ts = 1;
    if (!(flags & F_SYN) && !(this->f1323_ws && other->f1323_ws))
        this->window_scale = other->window_scale = 0;
    if (o->sack_perm)
        this->fsack_req = 1;
    if (o->nsack)
        this->sacks_sent++;
    if (data_len > 0) {
        this->data_pkts++;
        if (flags & F_PSH)
            this->data_pkts_push++;
        this->data_bytes += data_len;
        if (flags & F_URG) {
            this->urg_data_pkts++;
            this->urg_data_bytes += p->urg_ptr;
        }
        if (data_len > this->max_seg_size)
            this->max_seg_size = data_len;
        if (this->min_seg_size == 0 || data_len < this->min_seg_size)
            this->min_seg_size = data_len;
        if (!this->data_pkts_timed) {
            this->first_data_time = now;
            this->data_pkts_timed = 1;
        }
        this->last_data_time = now;
    }
    this->packets++;
    if (this->win_scaling_used)
        this->win_scaled_pkts++;
    this->latest_seq = (uint32_t)end;
    if (data_len > 0 && data_len > p->payload_captured) {
        this->trunc_bytes += data_len - p->payload_captured;
        this->trunc_segs++;
    }
    int64_t retrans_bytes = 0;
    int out_order = 0;
    if ((flags & (F_SYN | F_FIN)) || data_len > 0) {
        int64_t length = data_len + ((flags & F_SYN) ? 1 : 0) + ((flags & F_FIN) ? 1 : 0), retrans_cnt = 0;
        int probe = other->win_last == 0 && other->packets > 0 && !(flags & F_SYN);
        if (probe) {
            this->zwnd_probes++;
            this->zwnd_probe_bytes += data_len;
        } else {
            retrans_cnt = cl_rexmit(this, start, (uint32_t)length, now, &out_order);
            if (retrans_cnt < 0)
                return -1;
            retrans_bytes = retrans_cnt;
        }
        if (out_order)
            this->out_order_pkts++;
        if (flags & F_SYN) {
            length--;
            if (this->syn_count > 1)
                retrans_cnt--;
        }
        if (flags & F_FIN) {
            length--;
            if (this->fin_count > 1)
                retrans_cnt--;
        }
        if (!probe && retrans_cnt < length)
            this->unique_bytes += length - retrans_cnt;
    }
    uint32_t ack = p->ack;
    if (flags & F_ACK) {
        if (cl_ack_in(other, ack, data_len, eff_win, this, now) < 0)
            return -1;
        if (ack == (uint32_t)(other->syn + 1) && other->syn_count == 1)
            other->rtt_3whs = other->rtt_last;
    }
    if (retrans_bytes > 0) {
        this->rexmit_pkts++;
        this->rexmit_bytes += retrans_bytes;
    }
    if (flags & F_RST) {
        if (flags & F_ACK)
            this->ack_pkts++;
        return 0;
    }
    this->win_last = eff_win;
    if (flags & (F_ACK | F_SYN)) {
        if (eff_win > this->win_max)
            this->win_max = eff_win;
        if (eff_win > 0 && this->f1323_ws && other->f1323_ws && !(flags & F_SYN) && !this->win_scaling_used) {
            this->win_scaling_used = 1;
            this->win_min = this->win_max = eff_win;
            this->win_tot = 0;
            this->win_scaled_pkts = 1;
        } else if (eff_win > 0 && (this->win_min == 0 || eff_win < this->win_min)) {
            this->win_min = eff_win;
        }
        this->win_tot += eff_win;
    }
    if (flags & F_ACK) {
        if (eff_win == 0)
            this->win_zero_ct++;
        this->ack_pkts++;
        if (data_len == 0 && !(flags & (F_SYN | F_FIN)))
            this->pureack_pkts++;
        if (o->nsack) {
            this->num_sacks++;
            if (o->nsack > this->max_sack_blocks)
                this->max_sack_blocks = o->nsack;
            if (cl_is_dsack(o, ack))
                this->num_dsacks++;
        }
        this->ack = ack;
    }
    if (!other->data_acked && (flags & F_ACK) && (uint32_t)(other->syn + 1) != ack)
        other->data_acked = 1;
    if (data_len > 0 && !this->data_acked && !retrans_bytes) {
        this->initialwin_bytes += data_len;
        this->initialwin_segs++;
    }
    if (!(flags & F_SYN) && !out_order && !retrans_bytes) {
        uint64_t owin = other->ack == 0 ? end - start : end - (uint32_t)(other->ack - 1);
        if (owin)
            this->owin_any = 1;
    }
    return 0;
}

/* Track, analyse and count one segment; run the lifecycle unless it is steady (changes nothing but counters). */
static int process_packet(Engine *e, const Pkt *p, Opts *o, FlowC **flow);

/* Which of n parts a segment's connection falls in: FNV-1a over the address length and the two endpoints
 * (address bytes, then the port big-endian), the lower endpoint first so both directions agree, then
 * splitmix64's finaliser. Fixed, unkeyed and independent of byte order: every process, on every machine, splits
 * alike (tcptrace.parallel.partition_of is the same function in Python; tests/test_parallel.py compares them).
 * A crafted capture can unbalance the parts, never change the results. */
static uint32_t partition_of(const Pkt *p, uint32_t n) {
    const uint8_t *a = p->src, *b = p->dst;
    int pa = p->sport, pb = p->dport;
    int c = memcmp(a, b, (size_t)p->alen);
    if (c > 0 || (c == 0 && pa > pb)) {
        const uint8_t *t = a;
        a = b;
        b = t;
        int tp = pa;
        pa = pb;
        pb = tp;
    }
    uint64_t h = 0xcbf29ce484222325ULL;
#define FNV(byte) (h = (h ^ (uint8_t)(byte)) * 0x100000001b3ULL)
    FNV(p->alen);
    for (int i = 0; i < p->alen; i++)
        FNV(a[i]);
    FNV(pa >> 8);
    FNV(pa);
    for (int i = 0; i < p->alen; i++)
        FNV(b[i]);
    FNV(pb >> 8);
    FNV(pb);
#undef FNV
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    h ^= h >> 31;
    return (uint32_t)(h % n);
}

/* One packet, then the packing of finished flows (the flow may be packed again at once when pack_after_ns is 0) */
static int split_frame(Engine *e, const Pkt *p);

static int process(Engine *e, const Pkt *p, Opts *o) {
    if (e->split_n) /* the read-once path's reading half: the frame goes to its part's records, nothing more */
        return split_frame(e, p);
    if (e->only >= 0 && !only_own(e, p)) { /* Engine.select: another stream's connection, counted */
        e->last_kept = 0;
        e->trace_end = p->ts;
        int r = light_track(e, p);
        if (r <= 0)
            return r;
    } /* (r 1: p begins the selected stream, tracked in full from here) */
    else if (e->nparts > 1 && partition_of(p, e->nparts) != e->part) { /* another pass's connection: read only */
        e->last_kept = 0;
        e->trace_end = p->ts;
        if (p->ts > e->foreign_ts)
            e->foreign_ts = p->ts;
        return e->numbered ? light_track(e, p) : 0; /* (numbered: its streams counted) */
    }
    if (e->pack_defer) {
        FlowC *g = e->flows[e->pack_defer - 1];
        e->pack_defer = 0;
        if (!IS_PACKED(g) && pack_finished(e, g, e->pack_defer_ts) < 0)
            return -1;
    }
    FlowC *f = NULL;
    if (process_packet(e, p, o, &f) < 0)
        return -1;
    if (f && e->pk_mode) {
        e->pack_defer = f->stream + 1;
        e->pack_defer_ts = p->ts;
        return 0;
    }
    return f ? pack_finished(e, f, p->ts) : 0;
}

static int process_packet(Engine *e, const Pkt *p, Opts *o, FlowC **flow) {
    int dir, is_new;
    int64_t win, rtt, gap;
    /* NOP NOP TS (most segments) takes parse_options' shortcut; no options, no loop */
    parse_opts(p->opt, p->opt_len, p->hdr_len - 20, o);
    FlowC *f = track(e, p, o, &dir, &is_new, &win);
    if (!f)
        return -1;
    *flow = f;
    e->last_kept = f->keep;
    e->last_stream = f->stream;
    e->trace_end = p->ts;
    if (!f->zk.started && zeek_start(f, p, dir) < 0)
        return -1;
    if (!p->header_error && !p->header_truncated && zeek_packet(f, p, dir) < 0) /* zeek.analysable */
        return -1;
    PktOut *out = &e->out;
    out->ta = out->ev = 0;
    out->rst_state = -1;
    out->acks_frame = out->rto_frame = out->dup_of = 0;
    out->ack_rtt = out->rto_ns = out->bif = -1;
    out->phase = PHASE_DATA;
    out->dir = dir;
    out->flags = p->flags;
    out->win = win;
    if (p->header_error != HDR_SHORT_SEGMENT) { /* FlowTracker.feed: relative numbers once the length is known */
        out->seq_rel = p->seq - f->base[dir];
        out->ack_rel = (p->flags & F_ACK) ? p->ack - f->base[1 - dir] : p->ack;
    } else {
        out->seq_rel = p->seq;
        out->ack_rel = p->ack;
    }
    if (p->flags & F_SFR) { /* PacketStream un-quiets the stream at this segment too */
        f->last_sfr_frame = p->frame;
        f->quiet = 0;
    }
    if (p->header_error) { /* classic tcptrace reads it as any other segment (stats.FlowSummary._add_malformed) */
        if (classic_add(f, dir, p, o) < 0)
            return -1;
        return malformed(e, f, dir, p);
    }
    int ta = analyze(e, f, dir, p, o, &rtt, &gap);
    if (ta < 0)
        return -1;
    out->ack_rtt = rtt;
    /* analysis keeps the SACK blocks this side sent last; stats counts a segment whose options carry any */
    count(f, dir, p, ta, win, rtt, gap, o->nsack > 0);
    if (classic_add(f, dir, p, o) < 0)
        return -1;
    int flags = p->flags;
    if (!(flags & 0x07) && (flags & F_ACK) && !ta && ((f->steady_mask >> (dir * 2 + (p->len > 0))) & 1))
        return 0;
    return lifecycle(e, f, p, o, dir, ta, is_new);
}

static PyObject *record_done(PyObject *rec, Py_ssize_t n, const PyStructSequence_Field *fields);
/* ------------------------------------------------------------------------------------------------ */
/* the packets pass (Engine.packets; engine.PacketStream): each kept packet as a Segment or a line   */

static PyObject *S_seg_fields[SEG_N];         /* model.Segment's attribute names (vocab.ENGINE_SEGMENT_FIELDS) */
static PyObject *S_phase_names[N_PHASES];     /* vocab.PHASES as str */
static PyObject *S_state_names[N_STATES];     /* TcpState values as str */
static PyObject *S_cause_names[N_CAUSES];     /* vocab.RST_CAUSES as str */
static PyTypeObject *LineChunkType;           /* tcptrace._engine.LineChunk: vocab.ENGINE_RECORDS */
static PyTypeObject *PlainRunType;            /* tcptrace._engine.PlainRunRecord: vocab.ENGINE_RECORDS */

/* round(x, ndigits) as Python computes it (a float), or round(x) (an int) when ndigits < 0 */
static PyObject *py_round(double x, int ndigits) {
    PyObject *v = PyFloat_FromDouble(x);
    if (!v)
        return NULL;
    PyObject *r = ndigits < 0 ? PyObject_CallMethod(v, "__round__", NULL)
                              : PyObject_CallMethod(v, "__round__", "i", ndigits);
    Py_DECREF(v);
    return r;
}

/* Add name: fields (a new dict, or NULL with an exception) to ev; 0, or -1 with an exception set */
static int ev_put(PyObject *ev, const char *name, PyObject *fields) {
    if (!fields)
        return -1;
    int r = PyDict_SetItemString(ev, name, fields);
    Py_DECREF(fields);
    return r;
}

/* Segment.evidence of the packet just processed (Analyzer's _ev calls, in their order, without the "why" text,
 * which PacketStream adds from the message catalogue): a dict, or None */
static PyObject *evidence(const PktOut *o) {
    if (!o->ev && !o->dup_of)
        Py_RETURN_NONE;
    PyObject *ev = PyDict_New();
    if (!ev)
        return NULL;
    int r = 0;
    if (o->dup_of) { /* a hardware duplicate: its evidence replaces the flags' */
        r = ev_put(ev, "duplicate",
                   Py_BuildValue("{s:L,s:L,s:N}", "frame", (long long)o->dup_of, "ip_id", (long long)o->dup_ip_id, "us",
                                 py_round((double)o->dup_dt / 1e3, -1)));
        goto done;
    }
    int b = o->ev;
    if (!r && (b & EV_REUSED))
        r = ev_put(ev, NAME_A_REUSED_PORTS, PyDict_New());
    if (!r && (b & EV_ZWP))
        r = ev_put(ev, NAME_A_ZERO_WINDOW_PROBE,
                   Py_BuildValue("{s:L,s:I}", "frame", (long long)o->zwp_frame, "seq", o->zwp_seq));
    if (!r && (b & EV_ZW))
        r = ev_put(ev, NAME_A_ZERO_WINDOW, PyDict_New());
    if (!r && (b & EV_LOST))
        r = ev_put(ev, NAME_A_LOST_PACKET,
                   Py_BuildValue("{s:L,s:I,s:I,s:I}", "frame", (long long)o->lost_frame, "seq", o->lost_seq,
                                 "expected", o->lost_expected, "gap", o->lost_gap));
    if (!r && (b & EV_KA))
        r = ev_put(ev, NAME_A_KEEP_ALIVE,
                   Py_BuildValue("{s:L,s:L,s:I,s:I}", "frame", (long long)o->ka_frame, "len", (long long)o->ka_len,
                                 "seq", o->ka_seq, "expected", o->ka_expected));
    if (!r && (b & EV_WU)) {
        PyObject *old = o->wu_old == 0xFFFFFFFFu ? PyUnicode_FromString("unknown")
                                                 : PyUnicode_FromFormat("%u", (unsigned)o->wu_old);
        r = ev_put(ev, NAME_A_WINDOW_UPDATE, old ? Py_BuildValue("{s:N,s:I}", "old", old, "new", o->wu_new) : NULL);
    }
    if (!r && (b & EV_WF))
        r = ev_put(ev, NAME_A_WINDOW_FULL,
                   Py_BuildValue("{s:L,s:I,s:I,s:I}", "frame", (long long)o->wf_frame, "end", o->wf_end, "ack",
                                 o->wf_ack, "window", o->wf_window));
    if (!r && (b & EV_KAA))
        r = ev_put(ev, NAME_A_KEEP_ALIVE_ACK, PyDict_New());
    if (!r && (b & EV_ZWPA))
        r = ev_put(ev, NAME_A_ZERO_WINDOW_PROBE_ACK, PyDict_New());
    if (!r && (b & EV_DA))
        r = ev_put(ev, NAME_A_DUPLICATE_ACK,
                   Py_BuildValue("{s:L,s:L,s:I}", "frame", (long long)o->da_frame, "number", (long long)o->da_number,
                                 "ack", o->da_ack));
    if (!r && (b & EV_AL))
        r = ev_put(ev, NAME_A_ACK_LOST_PACKET, Py_BuildValue("{s:I,s:I}", "ack", o->al_ack, "seen", o->al_seen));
    if (!r && (b & EV_SPUR))
        r = ev_put(ev, NAME_A_SPURIOUS_RETRANSMISSION,
                   Py_BuildValue("{s:L,s:I,s:I}", "frame", (long long)o->spur_frame, "end", o->spur_end, "acked",
                                 o->spur_acked));
    if (!r && (b & EV_RT)) {
        double ms = (double)o->rt_dt / 1e6;
        if (o->rt_kind == A_FAST_RETRANSMISSION)
            r = ev_put(ev, NAME_A_FAST_RETRANSMISSION,
                       Py_BuildValue("{s:L,s:L,s:I,s:I,s:N}", "frame", (long long)o->rt_frame, "dup_acks",
                                     (long long)o->rt_dups, "seq", o->rt_seq, "expected", o->rt_expected, "ms",
                                     py_round(ms, 3)));
        else if (o->rt_kind == A_OUT_OF_ORDER)
            r = ev_put(ev, NAME_A_OUT_OF_ORDER,
                       Py_BuildValue("{s:L,s:I,s:I,s:N,s:N}", "frame", (long long)o->rt_frame, "seq", o->rt_seq,
                                     "expected", o->rt_expected, "ms", py_round(ms, 3), "threshold_ms",
                                     py_round((double)o->rt_thres / 1e6, 3)));
        else
            r = ev_put(ev, NAME_A_RETRANSMISSION,
                       Py_BuildValue("{s:L,s:I,s:I,s:d,s:N}", "frame", (long long)o->rt_frame, "seq", o->rt_seq,
                                     "expected", o->rt_expected, "rto_s", (double)o->rto_ns / 1e9, "ms",
                                     py_round((double)o->rto_ns / 1e6, 3)));
    }
done:
    if (r < 0) {
        Py_DECREF(ev);
        return NULL;
    }
    return ev;
}

static int set_seg(PyObject *seg, int field, PyObject *value) {
    if (!value || PyErr_Occurred()) {
        Py_XDECREF(value);
        return -1;
    }
    int r = PyObject_SetAttr(seg, S_seg_fields[field], value);
    Py_DECREF(value);
    return r;
}

/* Put the analysis of the packet just processed on its Segment (what FlowTracker.feed, Analyzer.analyze and
 * FlowSummary.add write there); a header Wireshark dissects only in part shows no analysis. */
static int segment_fields(Engine *e, PyObject *seg, int header_error) {
    const PktOut *o = &e->out;
    FlowC *f = e->flows[e->last_stream];
    int shown = !header_error;
    int settles = f->pk_settles = !f->nfin && !f->rst_total && f->handshake_done && f->state[0] == S_ESTABLISHED &&
                                  f->state[1] == S_ESTABLISHED;
    PyObject *values[SEG_N];
    values[SEG_stream] = PyLong_FromLongLong(f->stream);
    values[SEG_direction] = PyLong_FromLong(o->dir);
    values[SEG_seq] = PyLong_FromUnsignedLong(o->seq_rel);
    values[SEG_ack] = PyLong_FromUnsignedLong(o->ack_rel);
    values[SEG_win] = PyLong_FromLongLong(o->win);
    values[SEG_win_scale] = PyLong_FromLong(f->win_scale[o->dir]);
    values[SEG_analysis] = PyLong_FromLong(shown ? o->ta : 0);
    values[SEG_evidence] = shown ? evidence(o) : Py_NewRef(Py_None);
    values[SEG_acks_frame] = PyLong_FromLongLong(shown ? o->acks_frame : 0);
    values[SEG_ack_rtt_ns] = PyLong_FromLongLong(shown ? o->ack_rtt : -1);
    values[SEG_rto_ns] = PyLong_FromLongLong(shown ? o->rto_ns : -1);
    values[SEG_rto_frame] = PyLong_FromLongLong(shown ? o->rto_frame : 0);
    values[SEG_bytes_in_flight] = PyLong_FromLongLong(shown ? o->bif : -1);
    values[SEG_duplicate_of] = PyLong_FromLongLong(shown ? o->dup_of : 0);
    values[SEG_phase] = Py_NewRef(S_phase_names[o->phase]);
    values[SEG_client_state] = Py_NewRef(S_state_names[f->state[0]]);
    values[SEG_server_state] = Py_NewRef(S_state_names[f->state[1]]);
    values[SEG_settles] = PyBool_FromLong(settles);
    int r = 0;
    for (int k = 0; k < SEG_N; k++) /* set_seg takes each reference, also after a failure */
        r = set_seg(seg, k, values[k]) < 0 || r ? -1 : 0;
    if (!r && o->rst_state >= 0) { /* an RST: (sender state before it, cause), as FlowSummary sets it */
        PyObject *info = PyTuple_Pack(2, S_state_names[o->rst_state], S_cause_names[o->rst_cause]);
        r = !info || PyObject_SetAttr(seg, S_rst_info, info) < 0 ? -1 : 0;
        Py_XDECREF(info);
    }
    if (r < 0 && !PyErr_Occurred())
        PyErr_NoMemory();
    return r;
}

/* The lines rendered since the last item, as one LineChunk in kept (none when there are none) */
static int flush_lines(Engine *e) {
    if (!e->lines_count)
        return 0;
    PyObject *rec = PyStructSequence_New(LineChunkType);
    if (!rec)
        return -1;
    PyStructSequence_SET_ITEM(rec, CHUNK_text, PyUnicode_DecodeUTF8(e->lines, e->lines_len - 1, NULL));
    PyStructSequence_SET_ITEM(rec, CHUNK_packets, PyLong_FromSsize_t(e->lines_count));
    PyStructSequence_SET_ITEM(rec, CHUNK_max_ts, PyLong_FromLongLong(e->lines_max_ts));
    e->lines_len = e->lines_count = 0;
    rec = record_done(rec, CHUNK_N, CHUNK_RECORD_FIELDS);
    if (!rec)
        return -1;
    int r = PyList_Append(e->kept, rec);
    Py_DECREF(rec);
    return r;
}

static int put(Engine *e, const char *s, Py_ssize_t n) {
    if (e->lines_len + n > e->lines_cap &&
        grow((void **)&e->lines, &e->lines_cap, e->lines_len + n, 1, 1 << 16) < 0)
        return -1;
    memcpy(e->lines + e->lines_len, s, (size_t)n);
    e->lines_len += n;
    return 0;
}
#define PUTS(s) put(e, s, (Py_ssize_t)(sizeof(s) - 1))

/* the decimal digits of v at the end of b[24] (no snprintf: it was a third of the rendering time) */
static int put_i64(Engine *e, int64_t v) {
    char b[24], *q = b + sizeof b;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        *--q = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--q = '-';
    return put(e, q, b + sizeof b - q);
}

/* repr(x), as json.dumps and the csv module write a float */
static int put_float(Engine *e, double x) {
    char *s = PyOS_double_to_string(x, 'r', 0, Py_DTSF_ADD_DOT_0, NULL);
    if (!s)
        return -1;
    int r = put(e, s, (Py_ssize_t)strlen(s));
    PyMem_Free(s);
    return r;
}

static int put_ipv4(Engine *e, const uint8_t *a) {
    return put_i64(e, a[0]) || PUTS(".") || put_i64(e, a[1]) || PUTS(".") || put_i64(e, a[2]) || PUTS(".") ||
           put_i64(e, a[3]);
}

/* export.packet_record's "options" as json.dumps writes it (compact), for options without oddities */
static int put_options(Engine *e, const Opts *o, int csv) {
    const char *q = csv ? "\"\"" : "\""; /* a quote, doubled inside a csv field */
    Py_ssize_t ql = csv ? 2 : 1;
    int first = 1;
#define KEY(name)                                                                                                \
    (put(e, first ? "{" : ",", 1) || put(e, q, ql) || PUTS(name) || put(e, q, ql) || put(e, ":", 1) ||       \
     ((first = 0), 0))
    if (o->mss >= 0 && (KEY("mss") || put_i64(e, o->mss)))
        return -1;
    if (o->wscale >= 0 && (KEY("wscale") || put_i64(e, o->wscale)))
        return -1;
    if (o->sack_perm && (KEY("sack_permitted") || PUTS("true")))
        return -1;
    if (o->nsack) {
        if (KEY("sack") || PUTS("["))
            return -1;
        for (int k = 0; k < o->nsack; k++)
            if ((k && PUTS(",")) || PUTS("[") || put_i64(e, o->sack[k][0]) || PUTS(",") ||
                put_i64(e, o->sack[k][1]) || PUTS("]"))
                return -1;
        if (PUTS("]"))
            return -1;
    }
    if (o->ts && (KEY("tsval") || put_i64(e, o->tsval) || PUTS(",") || put(e, q, ql) || PUTS("tsecr") ||
                  put(e, q, ql) || PUTS(":") || put_i64(e, o->tsecr)))
        return -1;
#undef KEY
    return first ? 0 : PUTS("}");
}

/* pad with spaces to width: before text[0:n] (right-aligned) or after it */
static int put_padded(Engine *e, const char *text, Py_ssize_t n, Py_ssize_t width, int right) {
    static const char spaces[] = "                                ";
    Py_ssize_t pad = width > n ? width - n : 0;
    if (pad > (Py_ssize_t)sizeof spaces - 1)
        pad = (Py_ssize_t)sizeof spaces - 1;
    if (right && pad && put(e, spaces, pad))
        return -1;
    if (put(e, text, n))
        return -1;
    return !right && pad ? put(e, spaces, pad) : 0;
}

static int put_i64_padded(Engine *e, int64_t v, Py_ssize_t width) {
    char b[24];
    int n = snprintf(b, sizeof b, "%lld", (long long)v); /* (the table: not the hot format) */
    return put_padded(e, b, n, width, 1);
}

/* export.table_lines' row of a packet with no analysis to show (the Info column empty, so nothing after win) */
static int render_table_row(Engine *e, const Pkt *p, PyObject *ft) {
    const PktOut *out = &e->out;
    FlowC *f = e->flows[e->last_stream];
    char *rel = PyOS_double_to_string((double)(p->ts - e->pk_origin) / 1e9, 'f', 6, 0, NULL);
    if (!rel)
        return -1;
    char src[32], dst[32];
    int ns = snprintf(src, sizeof src, "%u.%u.%u.%u:%d", p->src[0], p->src[1], p->src[2], p->src[3], p->sport);
    int nd = snprintf(dst, sizeof dst, "%u.%u.%u.%u:%d", p->dst[0], p->dst[1], p->dst[2], p->dst[3], p->dport);
    int r = put_i64_padded(e, p->frame, 6) || PUTS(" ") || put_padded(e, rel, (Py_ssize_t)strlen(rel), 11, 1) ||
            PUTS(" ") || put_i64_padded(e, f->stream, 6) || PUTS("  ") || put_padded(e, src, ns, 22, 1) ||
            PUTS(" \xe2\x86\x92   ") || put_padded(e, dst, nd, 22, 0) || PUTS(" ") ||
            put(e, PyBytes_AS_STRING(ft), PyBytes_GET_SIZE(ft)) || PUTS(" ") || put_i64_padded(e, out->seq_rel, 10) ||
            PUTS(" ") || put_i64_padded(e, out->ack_rel, 10) || PUTS(" ") || put_i64_padded(e, p->len, 6) ||
            PUTS(" ") || put_i64_padded(e, out->win, 8) || PUTS("\n");
    PyMem_Free(rel);
    return r;
}

/* One packet as export.jsonl_lines / csv_lines / table_lines writes it (pk_fmt 1 / 2 / 3), when nothing in it needs Python: a
 * quiet stream (endpoint states ESTABLISHED with hindsight), no SYN, FIN or RST, no analysis flag, no evidence,
 * IPv4, options without oddities. tests/test_engine.py compares these lines with the Python renderer's. */
/* The Community ID of stream n as the packets pass writes it (see Engine.pk_cid), or NULL */
static PyObject *stream_cid(Engine *e, int64_t n) { return n < e->pk_cid_n ? e->pk_cid[n] : NULL; }

/* ,"community_id":"..." (json) or ,... (csv) of stream n: nothing when it has none. 0, or -1 with an exception */
static int put_cid(Engine *e, int64_t n, int json) {
    PyObject *cid = stream_cid(e, n);
    if (!cid)
        return 0;
    Py_ssize_t len;
    const char *text = PyUnicode_AsUTF8AndSize(cid, &len);
    if (!text)
        return -1;
    return json ? (put(e, ",\"community_id\":\"", 17) || put(e, text, len) || put(e, "\"", 1))
                : (put(e, ",", 1) || put(e, text, len));
}

static int render_line(Engine *e, const Pkt *p, const Opts *o, int iface) {
    const PktOut *out = &e->out;
    FlowC *f = e->flows[e->last_stream];
    PyObject *ft = PyTuple_GET_ITEM(e->pk_flag_text, p->flags & 0x1FF);
    int has_opts = o->mss >= 0 || o->wscale >= 0 || o->sack_perm || o->nsack || o->ts;
    const char *phase = PHASE_NAMES[out->phase];
    int r;
    if (e->pk_fmt == 3) {
        r = render_table_row(e, p, ft);
    } else if (e->pk_fmt == 1) {
        r = PUTS("{\"frame\":") || put_i64(e, p->frame) || PUTS(",\"time\":") || put_float(e, (double)p->ts / 1e9) ||
            PUTS(",\"stream\":") || put_i64(e, f->stream) || put_cid(e, f->stream, 1) || PUTS(",\"src\":\"") ||
            put_ipv4(e, p->src) ||
            PUTS("\",\"sport\":") || put_i64(e, p->sport) || PUTS(",\"dst\":\"") || put_ipv4(e, p->dst) ||
            PUTS("\",\"dport\":") || put_i64(e, p->dport) || PUTS(",\"flags\":") ||
            put(e, PyBytes_AS_STRING(ft), PyBytes_GET_SIZE(ft)) || PUTS(",\"seq\":") || put_i64(e, out->seq_rel) ||
            PUTS(",\"ack\":") || put_i64(e, out->ack_rel) || PUTS(",\"seq_raw\":") || put_i64(e, p->seq) ||
            PUTS(",\"ack_raw\":") || put_i64(e, p->ack) || PUTS(",\"len\":") || put_i64(e, p->len) ||
            PUTS(",\"win\":") || put_i64(e, out->win) || PUTS(",\"win_raw\":") || put_i64(e, p->win_raw) ||
            PUTS(",\"win_scale\":") || put_i64(e, f->win_scale[out->dir]) || PUTS(",\"hdr_len\":") ||
            put_i64(e, p->hdr_len) || PUTS(",\"options\":") || (has_opts ? put_options(e, o, 0) : PUTS("{}")) ||
            PUTS(",\"captured_len\":") || put_i64(e, p->payload_captured) || PUTS(",\"interface\":") ||
            put_i64(e, iface) || PUTS(",\"analysis\":[],\"phase\":\"") || put(e, phase, (Py_ssize_t)strlen(phase)) ||
            PUTS("\",\"client_state\":\"ESTABLISHED\",\"server_state\":\"ESTABLISHED\"");
        if (!r && out->acks_frame)
            r = PUTS(",\"acks_frame\":") || put_i64(e, out->acks_frame) || PUTS(",\"ack_rtt\":") ||
                put_float(e, (double)out->ack_rtt / 1e9);
        if (!r && out->bif >= 0)
            r = PUTS(",\"bytes_in_flight\":") || put_i64(e, out->bif);
        r = r || PUTS("}\n");
    } else {
        r = put_i64(e, p->frame) || PUTS(",") || put_float(e, (double)p->ts / 1e9) || PUTS(",") ||
            put_i64(e, f->stream) || put_cid(e, f->stream, 0) || PUTS(",") || put_ipv4(e, p->src) || PUTS(",") ||
            put_i64(e, p->sport) ||
            PUTS(",") || put_ipv4(e, p->dst) || PUTS(",") || put_i64(e, p->dport) || PUTS(",") ||
            put(e, PyBytes_AS_STRING(ft), PyBytes_GET_SIZE(ft)) || PUTS(",") || put_i64(e, out->seq_rel) ||
            PUTS(",") || put_i64(e, out->ack_rel) || PUTS(",") || put_i64(e, p->seq) || PUTS(",") ||
            put_i64(e, p->ack) || PUTS(",") || put_i64(e, p->len) || PUTS(",") || put_i64(e, out->win) ||
            PUTS(",") || put_i64(e, p->win_raw) || PUTS(",") || put_i64(e, f->win_scale[out->dir]) || PUTS(",") ||
            put_i64(e, p->hdr_len) || PUTS(",") || (has_opts && (PUTS("\"") || put_options(e, o, 1) || PUTS("\""))) ||
            PUTS(",") || put_i64(e, p->payload_captured) || PUTS(",") || put_i64(e, iface) || PUTS(",,") ||
            put(e, phase, (Py_ssize_t)strlen(phase)) || PUTS(",ESTABLISHED,ESTABLISHED\n");
    }
    if (r)
        return -1;
    if (!e->lines_count || p->ts > e->lines_max_ts)
        e->lines_max_ts = p->ts;
    e->lines_count++;
    return 0;
}

/* Whether the packet just processed (fused decode: IPv4, no header error) can be a line rendered here */
static int line_ok(Engine *e, const Pkt *p, const Opts *o) {
    const PktOut *out = &e->out;
    return e->pk_fmt && (e->pk_fmt != 3 || e->pk_has_origin) && e->flows[e->last_stream]->quiet && !(p->flags & F_SFR) && !out->ta && !out->dup_of &&
           !o->odd && !o->truncated && o->nsack <= MAX_LINE_SACK && p->alen == 4 && !p->header_truncated &&
           !p->header_error;
}

/* ------------------------------------------------------------------------------------------------ */
/* Python API                                                                                       */

static int get_ll(PyObject *o, PyObject *name, long long *out) {
    PyObject *v = PyObject_GetAttr(o, name);
    if (!v)
        return -1;
    *out = PyLong_AsLongLong(v);
    Py_DECREF(v);
    return (*out == -1 && PyErr_Occurred()) ? -1 : 0;
}

/* One more entry of Engine.take_foreign's list: the other parts' latest time before a kept item */
static int push_foreign(Engine *e, int64_t ts) {
    if (grow((void **)&e->fts, &e->fts_cap, e->fts_n + 1, sizeof *e->fts, 1024) < 0)
        return -1;
    e->fts[e->fts_n++] = ts;
    return 0;
}

/* ------------------------------------------------------------------------------------------------ */
/* explain's plain runs (Engine.plain_runs; events.py and narrate._collapse read them as model.PlainRun)  */

static void run_agg_free(RunAgg *a) {
    if (!a)
        return;
    PyMem_Free(a->ranges[0]);
    PyMem_Free(a->ranges[1]);
    PyMem_Free(a);
}

/* The stream's RunC (made at its first kept segment), or RUNS_DONE; NULL with an exception set on failure */
static RunC *runs_of(Engine *e, const FlowC *f) {
    int64_t n = f->stream;
    if (n >= e->runs_cap) {
        Py_ssize_t old = e->runs_cap;
        if (grow((void **)&e->runs, &e->runs_cap, n + 1, sizeof *e->runs, 1024) < 0)
            return NULL;
        memset(e->runs + old, 0, (size_t)(e->runs_cap - old) * sizeof *e->runs);
    }
    RunC *rs = e->runs[n];
    if (!rs) {
        rs = PyMem_Calloc(1, sizeof *rs);
        if (!rs) {
            PyErr_NoMemory();
            return NULL;
        }
        rs->never = f->port[0] == 53 || f->port[1] == 53; /* DNS over TCP is told message by message */
        e->runs[n] = rs;
    }
    return rs;
}

/* applayer.may_be_http_tls_or_dns on one side's first captured payload */
static int runs_app_payload(Engine *e, const uint8_t *p, Py_ssize_t n, int d) {
    Py_ssize_t k = PyTuple_GET_SIZE(e->runs_prefixes);
    for (Py_ssize_t i = 0; i < k; i++) {
        PyObject *pre = PyTuple_GET_ITEM(e->runs_prefixes, i);
        Py_ssize_t m = PyBytes_GET_SIZE(pre);
        if (n >= m && !memcmp(p, PyBytes_AS_STRING(pre), (size_t)m))
            return 1;
    }
    if (n >= 3 && p[0] == 22 && p[1] == 3)
        return 1; /* a TLS handshake record */
    /* a 2-byte length, then a DNS query header: QR 0, QDCOUNT 1 */
    return d == 0 && n >= 8 && (p[0] << 8 | p[1]) >= 12 && !(p[4] & 0x80) && p[6] == 0 && p[7] == 1;
}

/* events._Classifier._sticky's first test: several newline-terminated messages (payload whole, n bytes) */
static int runs_lines(const uint8_t *p, int64_t n) {
    if (!p || n < 2 || p[n - 1] != '\n')
        return 0;
    int64_t k = 0;
    for (const uint8_t *q = p; (q = memchr(q, '\n', (size_t)(p + n - q))) != NULL; q++)
        if (++k >= 2)
            return 1;
    return 0;
}

/* events._Classifier._framed on a payload that is not a lone 4-byte header: whole length-prefixed messages */
static int runs_framed(const uint8_t *p, int64_t n) {
    if (!p)
        return 0;
    int64_t pos = 0, count = 0;
    while (pos + 4 <= n) {
        uint32_t m = (uint32_t)p[pos] << 24 | (uint32_t)p[pos + 1] << 16 | (uint32_t)p[pos + 2] << 8 | p[pos + 3];
        if (m == 0 || m > (1u << 24))
            return 0;
        count++;
        pos += 4 + (int64_t)m;
    }
    return pos == n && count >= 2;
}

static PyObject *pair_ll(int64_t a, int64_t b) { return Py_BuildValue("(LL)", (long long)a, (long long)b); }

static PyObject *ranges_bytes(const RunAgg *a, int d, int k) {
    PyObject *b = PyBytes_FromStringAndSize(NULL, a->nranges[d] * (Py_ssize_t)sizeof(int64_t));
    if (!b)
        return NULL;
    int64_t *out = (int64_t *)PyBytes_AS_STRING(b);
    for (Py_ssize_t i = 0; i < a->nranges[d]; i++)
        out[i] = a->ranges[d][4 * i + k];
    return b;
}

/* The run being counted, as a PlainRunRecord at the end of take_kept()'s list; the RunAgg is freed */
static int runs_emit(Engine *e, RunC *rs, int64_t stream) {
    RunAgg *a = rs->agg;
    if (!a)
        return 0;
    rs->agg = NULL;
    PyObject *rec = PyStructSequence_New(PlainRunType);
    if (!rec) {
        run_agg_free(a);
        return -1;
    }
#define RSET(field, value) PyStructSequence_SET_ITEM(rec, RUN_##field, (value))
#define RPAIR(field, arr) RSET(field, pair_ll(a->arr[0], a->arr[1]))
    RSET(stream, PyLong_FromLongLong(stream));
    RSET(first_frame, PyLong_FromLongLong(a->first_frame));
    RSET(last_frame, PyLong_FromLongLong(a->last_frame));
    RSET(first_ts, PyLong_FromLongLong(a->first_ts));
    RSET(last_ts, PyLong_FromLongLong(a->last_ts));
    RSET(packets, PyLong_FromLongLong(a->packets));
    RPAIR(segments, segs);
    RPAIR(data_segments, data);
    RPAIR(data_bytes, bytes);
    RPAIR(first_ts_dir, first_ts_d);
    RPAIR(last_ts_dir, last_ts_d);
    RPAIR(first_data_ts, first_data_ts);
    RPAIR(last_data_ts, last_data_ts);
    RPAIR(acked_new, acked_new);
    RPAIR(max_ack, max_ack);
    RPAIR(last_ack_raw, last_ack_raw);
    RPAIR(last_win, last_win);
    PyObject *ls[2], *ld[2];
    for (int d = 0; d < 2; d++) {
        ls[d] = a->ls_frame[d] ? Py_BuildValue("(LLLLLL)", (long long)a->ls_frame[d], (long long)a->ls_len[d],
                                               (long long)a->ls_flags[d], (long long)a->ls_ack[d],
                                               (long long)a->ls_ts[d], (long long)a->ls_acks_frame[d])
                               : Py_NewRef(Py_None);
        ld[d] = a->ld_frame[d] ? Py_BuildValue("(LLL)", (long long)a->ld_frame[d], (long long)a->ld_len[d],
                                               (long long)a->ld_ts[d])
                               : Py_NewRef(Py_None);
    }
    RSET(last_seg, ls[0] && ls[1] ? PyTuple_Pack(2, ls[0], ls[1]) : NULL);
    RSET(last_data, ld[0] && ld[1] ? PyTuple_Pack(2, ld[0], ld[1]) : NULL);
    for (int d = 0; d < 2; d++) {
        Py_XDECREF(ls[d]);
        Py_XDECREF(ld[d]);
    }
    RPAIR(trail_len, trail_len);
    RPAIR(trail_count, trail_count);
    RPAIR(ack_trail, ack_trail);
    RPAIR(ack_origin, ack_origin);
    RPAIR(ack_trail_n, ack_n);
    static const int col[4] = {RUN_starts, RUN_ends, RUN_frames, RUN_times};
    for (int k = 0; k < 4; k++) {
        PyObject *b0 = ranges_bytes(a, 0, k), *b1 = ranges_bytes(a, 1, k);
        PyStructSequence_SET_ITEM(rec, col[k], b0 && b1 ? PyTuple_Pack(2, b0, b1) : NULL);
        Py_XDECREF(b0);
        Py_XDECREF(b1);
    }
#undef RPAIR
#undef RSET
    run_agg_free(a);
    rec = record_done(rec, RUN_N, RUN_RECORD_FIELDS);
    if (!rec)
        return -1;
    if (e->nparts > 1 && push_foreign(e, INT64_MIN) < 0) { /* nothing of the other parts' time goes with a run */
        Py_DECREF(rec);
        return -1;
    }
    int r = PyList_Append(e->kept, rec);
    Py_DECREF(rec);
    return r;
}

/* Fold one plain segment into the stream's run */
static int runs_fold(RunC *rs, const Pkt *p, const PktOut *o, int acked_new) {
    RunAgg *a = rs->agg;
    if (!a) {
        a = rs->agg = PyMem_Calloc(1, sizeof *a);
        if (!a) {
            PyErr_NoMemory();
            return -1;
        }
        a->first_frame = p->frame;
        a->first_ts = p->ts;
    }
    int d = o->dir;
    int64_t len = p->len;
    a->last_frame = p->frame;
    a->last_ts = p->ts;
    a->packets++;
    if (!a->segs[d])
        a->first_ts_d[d] = p->ts;
    a->last_ts_d[d] = p->ts;
    if (a->segs[d] && (int64_t)o->ack_rel == a->ack_trail[d]) { /* events._Classifier._dupack_origin */
        a->ack_n[d]++;
        if (!len && !a->ack_origin[d])
            a->ack_origin[d] = p->frame;
    } else {
        a->ack_trail[d] = o->ack_rel;
        a->ack_origin[d] = len ? 0 : p->frame;
        a->ack_n[d] = 1;
    }
    a->segs[d]++;
    a->acked_new[d] += acked_new;
    for (int x = 0; x < 2; x++) /* the highest ack each side sent, as of this segment (_note_acks) */
        a->max_ack[x] = rs->have_max_ack[x] ? (int64_t)rs->max_ack[x] : -1;
    a->last_ack_raw[d] = p->ack;
    a->last_win[d] = o->win;
    a->ls_frame[d] = p->frame;
    a->ls_len[d] = len;
    a->ls_flags[d] = p->flags;
    a->ls_ack[d] = o->ack_rel;
    a->ls_ts[d] = p->ts;
    a->ls_acks_frame[d] = o->acks_frame;
    if (!len)
        return 0;
    if (!a->data[d])
        a->first_data_ts[d] = p->ts;
    a->last_data_ts[d] = p->ts;
    a->data[d]++;
    a->bytes[d] += len;
    a->ld_frame[d] = p->frame;
    a->ld_len[d] = len;
    a->ld_ts[d] = p->ts;
    if (p->flags & F_PSH) { /* events._Classifier._sticky: a run of full segments ends at a PSH */
        a->trail_len[d] = len;
        a->trail_count[d] = 0;
    } else if (a->trail_count[d] && len == a->trail_len[d]) {
        a->trail_count[d]++;
    } else {
        a->trail_len[d] = len;
        a->trail_count[d] = 1;
    }
    if (grow((void **)&a->ranges[d], &a->capranges[d], 4 * (a->nranges[d] + 1), sizeof(int64_t), 256) < 0)
        return -1;
    int64_t *r = a->ranges[d] + 4 * a->nranges[d]++;
    r[0] = o->seq_rel;
    r[1] = (int64_t)o->seq_rel + len;
    r[2] = p->frame;
    r[3] = p->ts;
    return 0;
}

/* After process() of a kept segment (the packets pass, Engine.plain_runs on): is it plain, that is would
 * events._Classifier make of it an ordinary data or ACK event (not notable, no group, nothing it remembers but
 * what a run carries), and may it be counted rather than handed out? 1: counted (no Segment); 0: hand it out,
 * after the run it ends if any; -1: error. may_count: the packet's bytes are at hand (the fused decode) and
 * payload holds its p->payload_captured bytes. */
static int runs_track(Engine *e, const Pkt *p, const Opts *op, const uint8_t *payload, int may_count) {
    FlowC *f = e->flows[e->last_stream];
    RunC *rs = runs_of(e, f);
    if (!rs)
        return -1;
    if (rs == RUNS_DONE)
        return 0;
    if (p->header_error) { /* a malformed event (events._with_malformed): it ends any run */
        rs->plain = 0;
        return runs_emit(e, rs, f->stream);
    }
    const PktOut *o = &e->out;
    int d = o->dir, flags = p->flags;
    int64_t len = p->len;
    /* events._Classifier._event's kind: RST, SYN, handshake, FIN, data, ACK */
    int ordinary = !(flags & F_SFR) && o->phase != PHASE_HANDSHAKE;
    int kdata = ordinary && len > 0, kack = ordinary && !len;
    int mss_o = f->mss[1 - d], ts_on = f->timestamps[0] && f->timestamps[1];
    int est = f->state[0] == S_ESTABLISHED && f->state[1] == S_ESTABLISHED;
    if (p->payload_captured > 0 && !rs->app_seen[d]) {
        rs->app_seen[d] = 1;
        if (!payload || runs_app_payload(e, payload, (Py_ssize_t)p->payload_captured, d))
            rs->never = 1;
    }
    /* strict: also both sides' first payloads seen (neither HTTP, TLS nor DNS); else a side's first payload
     * may still make the stream one the narrative tells messages of: FlowStream.whole reads it again then */
    int plain = !rs->never && (!e->runs_strict || (rs->app_seen[0] && rs->app_seen[1])) && rs->prev_est && est && !f->nfin &&
                !f->rst_total && (flags & F_ACK) && !(flags & ~(F_ACK | F_PSH)) && o->phase == PHASE_DATA && !o->ta &&
                !o->ev && !o->dup_of && !p->header_truncated && !op->nsack && !op->odd && !op->truncated &&
                (kdata ? rs->seen_data[d] : rs->seen_ack[d]);
    if (plain && kdata) {
        uint64_t start = o->seq_rel;
        /* new bytes right after the highest sent (so _Sent appends), never past the 32-bit wrap */
        plain = rs->have_high[d] && start == rs->high[d] && start + (uint64_t)len <= 0xFFFFFFFFu;
        /* the first full-size segment (the mss.timestamps note) and a write's last segment after full ones
         * (_sticky's sticky.split) are remembered by the classifier: handed out */
        if (plain && !rs->full_told && mss_o > 0 && ts_on && len == mss_o - 12)
            plain = 0;
    }
    /* what the classifier remembers of every segment */
    if (kdata) {
        rs->seen_data[d] = 1;
        if (mss_o > 0 && ts_on && len == mss_o - 12)
            rs->full_told = 1;
        if ((flags & F_PSH) && mss_o > 0 && !rs->split_told) { /* _sticky's sticky.split, told once */
            int64_t full = mss_o - (ts_on ? 12 : 0);
            if (len < full && rs->have_last[d] && rs->last_len[d] == full && !rs->last_psh[d]) {
                plain = 0;
                /* _sticky says sticky.split here unless the payload is newline-terminated messages or
                 * length-prefixed ones: then this candidate is handed out and the next one decides */
                if (p->payload_captured != len || (len != 4 && !runs_lines(payload, len) && !runs_framed(payload, len)))
                    rs->split_told = 1;
            }
        }
    }
    if (kack)
        rs->seen_ack[d] = 1;
    if (len > 0) {
        rs->last_len[d] = len;
        rs->last_psh[d] = !!(flags & F_PSH);
        rs->have_last[d] = 1;
        uint64_t end = (uint64_t)o->seq_rel + (uint64_t)len;
        if (!rs->have_high[d] || end > rs->high[d])
            rs->high[d] = end;
        rs->have_high[d] = 1;
    }
    int acked_new = 0;
    if (flags & F_ACK) { /* _note_acks */
        uint32_t ack = o->ack_rel;
        if (!rs->have_max_ack[d] || seq_gt(ack, rs->max_ack[d])) {
            acked_new = rs->have_max_ack[d] && ack != rs->max_ack[d];
            rs->max_ack[d] = ack;
            rs->have_max_ack[d] = 1;
        }
    }
    rs->prev_est = est;
    if (!plain) {
        rs->plain = 0;
        if (runs_emit(e, rs, f->stream) < 0)
            return -1;
        if (f->nfin || f->rst_total) { /* nothing plain any more: let the stream's RunC go */
            PyMem_Free(rs);
            e->runs[f->stream] = RUNS_DONE;
        }
        return 0;
    }
    int due = p->ts >= e->runs_due || (e->nparts > 1 && e->foreign_ts >= e->runs_due);
    if (may_count && rs->plain >= e->runs_lead && !due) {
        rs->plain++;
        return runs_fold(rs, p, o, acked_new) < 0 ? -1 : 1;
    }
    rs->plain++;
    return runs_emit(e, rs, f->stream);
}

/* Engine.plain_runs(prefixes, lead, strict): count plain segments of kept streams (runs_track) */
static PyObject *Engine_plain_runs(Engine *e, PyObject *args) {
    PyObject *prefixes;
    int lead, strict;
    if (!PyArg_ParseTuple(args, "O!ip", &PyTuple_Type, &prefixes, &lead, &strict))
        return NULL;
    e->runs_strict = strict;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(prefixes); i++)
        if (!PyBytes_Check(PyTuple_GET_ITEM(prefixes, i))) {
            PyErr_SetString(PyExc_TypeError, "plain_runs: prefixes must be bytes");
            return NULL;
        }
    Py_XSETREF(e->runs_prefixes, Py_NewRef(prefixes));
    e->runs_lead = lead < 0 ? 0 : lead;
    e->runs_on = 1;
    Py_RETURN_NONE;
}

/* Engine.runs_due(ts_ns): from this capture time on, plain segments are handed out whole */
static PyObject *Engine_runs_due(Engine *e, PyObject *arg) {
    long long ts = PyLong_AsLongLong(arg);
    if (ts == -1 && PyErr_Occurred())
        return NULL;
    e->runs_due = ts;
    Py_RETURN_NONE;
}

/* Engine.runs_flush(): the runs still being counted (the end of the capture), into take_kept()'s list */
static PyObject *Engine_runs_flush(Engine *e, PyObject *Py_UNUSED(ignored)) {
    for (Py_ssize_t n = 0; n < e->runs_cap; n++) {
        RunC *rs = e->runs[n];
        if (rs && rs != RUNS_DONE && rs->agg && runs_emit(e, rs, n) < 0)
            return NULL;
    }
    Py_RETURN_NONE;
}

static void runs_free(Engine *e) {
    for (Py_ssize_t n = 0; n < e->runs_cap; n++) {
        RunC *rs = e->runs[n];
        if (rs && rs != RUNS_DONE) {
            run_agg_free(rs->agg);
            PyMem_Free(rs);
        }
    }
    PyMem_Free(e->runs);
    e->runs = NULL;
    e->runs_cap = 0;
    Py_CLEAR(e->runs_prefixes);
}

/* A Segment decoded in Python; *truncated (if given) says whether the snap length cut it, as the reader counts. */
/* a Segment of a kept stream: numbered as the engine numbered it, into Engine.take_kept()'s list */
static int keep_segment(Engine *e, PyObject *seg) {
    if (e->nparts > 1) { /* the other parts' latest time before this segment (Engine.take_foreign) */
        if (push_foreign(e, e->foreign_ts) < 0)
            return -1;
        e->foreign_ts = INT64_MIN;
    }
    if (e->pk_mode) { /* the packets pass: the Segment with its analysis, after the lines before it */
        long long header_error;
        if (flush_lines(e) < 0 || get_ll(seg, S_header_error, &header_error) < 0 ||
            segment_fields(e, seg, (int)header_error) < 0)
            return -1;
        FlowC *f = e->flows[e->last_stream];
        int flags = e->out.flags;
        /* PacketStream may settle the stream here (PacketStream.__iter__); with no lines to render (fmt 0: explain's
         * FlowStream, PacketStream's other formats) Engine.quiet changes nothing, so the walk need not pause */
        if (e->pk_fmt && !f->quiet && (flags & F_ACK) && !(flags & F_SFR) && f->pk_settles)
            e->pk_pause = 1;
        if (e->pk_pause_teardown) {
            long long ts;
            if (get_ll(seg, S_ts_ns, &ts) < 0)
                return -1;
            /* a part: also when the other parts' time before it passes the deadline (FlowStream.told tells there) */
            if (f->nfin || f->rst_total || ts >= e->pk_pause_ts ||
                (e->nparts > 1 && e->fts[e->fts_n - 1] >= e->pk_pause_ts))
                e->pk_pause = 1;
        }
        return PyList_Append(e->kept, seg);
    }
    PyObject *n = PyLong_FromLongLong(e->last_stream);
    if (!n)
        return -1;
    int r = PyObject_SetAttr(seg, S_stream, n);
    Py_DECREF(n);
    return r < 0 ? -1 : PyList_Append(e->kept, seg);
}

static int add_segment(Engine *e, PyObject *seg, int *truncated) {
    long long frame, ts, sport, dport, seq, ack, flags, win, hdr_len, len, ip_id, header_error;
    if (get_ll(seg, S_frame, &frame) || get_ll(seg, S_ts_ns, &ts) || get_ll(seg, S_sport, &sport) ||
        get_ll(seg, S_dport, &dport) || get_ll(seg, S_seq_raw, &seq) || get_ll(seg, S_ack_raw, &ack) ||
        get_ll(seg, S_flags, &flags) || get_ll(seg, S_win_raw, &win) || get_ll(seg, S_hdr_len, &hdr_len) ||
        get_ll(seg, S_len, &len) || get_ll(seg, S_ip_id, &ip_id) || get_ll(seg, S_header_error, &header_error))
        return -1;
    PyObject *src = PyObject_GetAttr(seg, S_src), *dst = PyObject_GetAttr(seg, S_dst);
    PyObject *opt = PyObject_GetAttr(seg, S_opt_bytes), *pay = PyObject_GetAttr(seg, S_payload);
    PyObject *ht = PyObject_GetAttr(seg, S_header_truncated);
    int res = -1;
    if (!src || !dst || !opt || !pay || !ht)
        goto done;
    if (!PyBytes_Check(src) || !PyBytes_Check(dst) || !PyBytes_Check(opt) || !PyBytes_Check(pay) ||
        PyBytes_GET_SIZE(src) != PyBytes_GET_SIZE(dst) ||
        (PyBytes_GET_SIZE(src) != 4 && PyBytes_GET_SIZE(src) != 16)) {
        PyErr_SetString(PyExc_TypeError, "Engine.add: not a tcptrace Segment");
        goto done;
    }
    if (ts > TS_NS_MAX || ts < -TS_NS_MAX) { /* the reader clamps; inside, no time difference overflows int64 */
        PyErr_SetString(PyExc_ValueError, "Engine.add: ts_ns outside [-TS_NS_MAX, TS_NS_MAX] (vocab.TS_NS_MAX)");
        goto done;
    }
    Pkt p;
    p.frame = frame;
    p.ts = ts;
    p.len = len;
    p.payload_captured = PyBytes_GET_SIZE(pay);
    p.ip_id = ip_id;
    p.src = (const uint8_t *)PyBytes_AS_STRING(src);
    p.dst = (const uint8_t *)PyBytes_AS_STRING(dst);
    p.opt = (const uint8_t *)PyBytes_AS_STRING(opt);
    p.opt_len = PyBytes_GET_SIZE(opt);
    p.alen = (int)PyBytes_GET_SIZE(src);
    p.sport = (int)sport;
    p.dport = (int)dport;
    p.flags = (int)flags;
    p.hdr_len = (int)hdr_len;
    p.header_error = (int)header_error;
    p.header_truncated = PyObject_IsTrue(ht);
    if (p.header_truncated < 0)
        goto done;
    if (truncated)
        *truncated = p.header_truncated || p.payload_captured < len;
    p.seq = (uint32_t)seq;
    p.ack = (uint32_t)ack;
    p.win_raw = (uint32_t)win;
    p.urg_ptr = 0;
    if (flags & F_URG) {
        long long urg;
        if (get_ll(seg, S_urg_ptr, &urg))
            goto done;
        p.urg_ptr = (int)urg;
    }
    Opts o;
    res = process(e, &p, &o);
    if (res == 0 && e->last_kept && e->pk_mode && e->runs_on) /* explain: it ends the stream's plain run, if any */
        res = runs_track(e, &p, &o, (const uint8_t *)PyBytes_AS_STRING(pay), 0) < 0 ? -1 : 0;
done:
    Py_XDECREF(src);
    Py_XDECREF(dst);
    Py_XDECREF(opt);
    Py_XDECREF(pay);
    Py_XDECREF(ht);
    return res;
}

/* Engine.add(seg) */
static PyObject *Engine_add(Engine *e, PyObject *seg) {
    e->cur_buf = NULL; /* no frame bytes here: Engine.split refuses the segment */
    if (add_segment(e, seg, NULL) < 0 || (e->last_kept && keep_segment(e, seg) < 0))
        return NULL;
    Py_RETURN_NONE;
}

static inline uint32_t be16(const uint8_t *b) { return (uint32_t)b[0] << 8 | b[1]; }

/* Whether a frame at ts lies within --start/--end (capture.TimeRange.contains); the first frame read settles the
 * bounds relative to it. */
static inline int in_window(Engine *e, int64_t ts) {
    if (e->win_pending) {
        e->win_pending = 0;
        /* no overflow: |ts| <= TS_NS_MAX, and sources.parse_time keeps a bound within TS_NS_MAX + 1 */
        if (e->win_lo_rel)
            e->win_lo += ts;
        if (e->win_hi_rel)
            e->win_hi += ts;
    }
    return ts >= e->win_lo && ts <= e->win_hi;
}
static inline uint32_t be32(const uint8_t *b) { return rd32(b, 1); }

/* How the frames of one link (a pcap file, a pcapng interface) are decoded. */
typedef struct {
    int link_len;     /* the fused decode's link header length (capture._FUSED_LAYOUTS), -1: no fused decode */
    int etype_off;    /* where the EtherType is in that header, -1: IPv4 directly after link_len bytes */
    int iface;        /* the interface number the Python decoder is given */
    PyObject *decode; /* capture._DECODERS[link type]: the frames the fused decode does not take, kept Segments */
    PyObject *skip;   /* CaptureReader._skip: the decoder counts skip reasons through it */
} Link;

static PyObject *SegmentCls; /* model.Segment, imported when a kept frame of the fused decode first needs it */

/* A kept frame of the fused decode (IPv4 without options, a whole TCP header) as its Segment: exactly what
 * capture._link_decoder's fused decode makes of it (the same constructor, the same fields; URG's pointer), built
 * here from the fields the walk decoded instead of decoding the frame again in Python */
static PyObject *fused_segment(const Pkt *p, const uint8_t *payload, int ttl, int iface) {
    if (!SegmentCls) {
        PyObject *model = PyImport_ImportModule("tcptrace.model");
        if (!model)
            return NULL;
        SegmentCls = PyObject_GetAttrString(model, "Segment");
        Py_DECREF(model);
        if (!SegmentCls)
            return NULL;
    }
    enum { N_ARGS = 18 };
    PyObject *args[N_ARGS] = {
        PyLong_FromLongLong(p->frame),
        PyLong_FromLongLong(p->ts),
        PyLong_FromLong(iface),
        PyLong_FromLong(4),
        PyBytes_FromStringAndSize((const char *)p->src, 4),
        PyBytes_FromStringAndSize((const char *)p->dst, 4),
        PyLong_FromLong(p->sport),
        PyLong_FromLong(p->dport),
        PyLong_FromUnsignedLong(p->seq),
        PyLong_FromUnsignedLong(p->ack),
        PyLong_FromLong(p->flags),
        PyLong_FromUnsignedLong(p->win_raw),
        PyLong_FromLong(p->hdr_len),
        PyLong_FromLongLong(p->len),
        PyLong_FromLongLong(p->ip_id),
        PyLong_FromLong(ttl),
        PyBytes_FromStringAndSize((const char *)p->opt, p->opt_len),
        PyBytes_FromStringAndSize((const char *)payload, (Py_ssize_t)p->payload_captured),
    };
    PyObject *seg = NULL;
    int ok = 1;
    for (int i = 0; i < N_ARGS; i++)
        ok &= args[i] != NULL;
    if (ok)
        seg = PyObject_Vectorcall(SegmentCls, args, N_ARGS, NULL);
    for (int i = 0; i < N_ARGS; i++)
        Py_XDECREF(args[i]);
    if (seg && (p->flags & F_URG)) { /* URG (rare): the urgent pointer, as _decode_tcp reads it */
        PyObject *urg = PyLong_FromLong(p->urg_ptr);
        if (!urg || PyObject_SetAttr(seg, S_urg_ptr, urg) < 0)
            Py_CLEAR(seg);
        Py_XDECREF(urg);
    }
    return seg;
}

/* One complete frame, buf[start:end] as captured and ending at rend on the wire: the fused decode
 * (capture._link_decoder) or the Python decoder, then process(); a kept stream's Segment goes to Engine.keep's
 * list (the per-packet part of CaptureReader._pcap_records and _pcapng_blocks, shared by feed_pcap and
 * feed_pcapng). *segments counts the TCP segments, *truncated those the snap length cut. 0, or -1 with an
 * exception set. */
static int feed_frame(Engine *e, PyObject *bufobj, Py_ssize_t start, Py_ssize_t end, Py_ssize_t rend,
                      int64_t frame, int64_t ts, const Link *ln, long long *segments, long long *truncated) {
    const uint8_t *buf = (const uint8_t *)PyBytes_AS_STRING(bufobj);
    int link_len = ln->link_len;
    if (e->split_n) { /* Engine.split: every frame's time (a ring buffer's files must not overlap), this one's bytes */
        if (!e->split_have || ts > e->split_max)
            e->split_max = ts;
        e->split_have = 1;
        e->cur_buf = buf + start;
        e->cur_caplen = end - start;
        e->cur_wirelen = rend - start;
        e->cur_iface = ln->iface;
        e->cur_frame = frame;
        e->cur_ts = ts;
    }
    if (!in_window(e, ts)) { /* outside --start/--end: counted, as the Python walk counts it */
        PyObject *r = PyObject_CallFunction(ln->skip, "LO", (long long)frame, e->win_reason);
        Py_XDECREF(r);
        return r ? 0 : -1;
    }
    e->trace_end = ts; /* every frame read, TCP or not: the end of the trace (classic's idle time) */
    /* the fused decode (capture._link_decoder): link header, IPv4 without options, TCP */
    if (link_len >= 0 && end - start >= link_len + 36) {
        const uint8_t *b = buf + start;
        const uint8_t *ip = b + link_len;
        if ((ln->etype_off < 0 || be16(b + ln->etype_off) == 0x0800) && ip[0] == 0x45 && ip[9] == 6 &&
            !(be16(ip + 6) & 0x1FFF) && be16(ip + 2) >= 40) {
            Py_ssize_t ip_start = start + link_len;
            Py_ssize_t iplen = rend - ip_start;
            Py_ssize_t tl = be16(ip + 2);
            if (tl < iplen)
                iplen = tl;
            const uint8_t *tcp = ip + 20;
            uint32_t offflags = be16(tcp + 12);
            int hdr_len = (int)((offflags >> 12) << 2);
            Py_ssize_t seglen = iplen - 20 - hdr_len;
            Py_ssize_t tcp_off = ip_start + 20, data_off = tcp_off + hdr_len;
            if (hdr_len >= 20 && seglen >= 0 && data_off <= end) {
                Pkt p;
                p.frame = frame;
                p.ts = ts;
                p.len = seglen;
                Py_ssize_t pend = data_off + seglen < end ? data_off + seglen : end;
                p.payload_captured = seglen ? pend - data_off : 0;
                p.ip_id = be16(ip + 4);
                p.src = ip + 12;
                p.dst = ip + 16;
                p.opt = tcp + 20;
                p.opt_len = hdr_len - 20;
                p.alen = 4;
                p.sport = (int)be16(tcp);
                p.dport = (int)be16(tcp + 2);
                p.flags = (int)(offflags & 0xFFF);
                p.hdr_len = hdr_len;
                p.header_truncated = 0;
                p.header_error = 0;
                p.seq = be32(tcp + 4);
                p.ack = be32(tcp + 8);
                p.win_raw = be16(tcp + 14);
                p.urg_ptr = (offflags & F_URG) ? (int)be16(tcp + 18) : 0;
                (*segments)++;
                if (p.payload_captured < seglen)
                    (*truncated)++;
                Opts o;
                if (process(e, &p, &o) < 0)
                    return -1;
                if (e->last_kept && e->pk_mode && e->runs_on) { /* explain: counted in a plain run? */
                    int r = runs_track(e, &p, &o, buf + data_off, 1);
                    if (r)
                        return r < 0 ? -1 : 0;
                }
                if (e->last_kept && e->pk_mode && line_ok(e, &p, &o)) /* the packets pass, nothing for Python */
                    return render_line(e, &p, &o, ln->iface);
                if (e->last_kept) { /* a selected stream: its Segment, as the fused decode makes it */
                    PyObject *seg = fused_segment(&p, buf + data_off, ip[8], ln->iface);
                    int r = !seg ? -1 : keep_segment(e, seg);
                    Py_XDECREF(seg);
                    if (r < 0)
                        return -1;
                }
                return 0;
            }
        }
    }
    /* the layered decoder in Python: a Segment, or None after counting a skip reason */
    PyObject *seg = PyObject_CallFunction(ln->decode, "OnnnLLiO", bufobj, start, end, rend, (long long)frame,
                                          (long long)ts, ln->iface, ln->skip);
    if (!seg)
        return -1;
    int cut = 0, r = seg == Py_None ? 0 : add_segment(e, seg, &cut);
    if (r == 0 && seg != Py_None && e->last_kept)
        r = keep_segment(e, seg);
    *segments += seg != Py_None;
    *truncated += cut;
    Py_DECREF(seg);
    return r;
}

/* ------------------------------------------------------------------------------------------------ */
/* the read-once path (tcptrace.parallel.run_read_once): split a file's frames by part, feed a part's frames      */

#define SPLIT_HDR 32

static int split_frame(Engine *e, const Pkt *p) {
    e->last_kept = 0;
    if (!e->cur_buf) {
        PyErr_SetString(PyExc_RuntimeError, "Engine.split: a segment without its frame (only the C walks split)");
        return -1;
    }
    uint32_t k = e->split_n > 1 ? partition_of(p, e->split_n) : 0;
    Py_ssize_t need = SPLIT_HDR + ((e->cur_caplen + 7) & ~(Py_ssize_t)7), len = e->split_len[k];
    PyObject *b = e->split_buf[k];
    Py_ssize_t size = b ? PyBytes_GET_SIZE(b) : 0;
    if (len + need > size) {
        Py_ssize_t want = size ? 2 * size : 1 << 20;
        while (want < len + need)
            want *= 2;
        if (!b) {
            b = e->split_buf[k] = PyBytes_FromStringAndSize(NULL, want);
            if (!b)
                return -1;
        } else if (_PyBytes_Resize(&e->split_buf[k], want) < 0) { /* on failure it is freed and NULL */
            e->split_len[k] = 0;
            return -1;
        }
    }
    char *r = PyBytes_AS_STRING(e->split_buf[k]) + len;
    int64_t h[2] = {e->cur_frame, e->cur_ts};
    int32_t l[4] = {(int32_t)e->cur_caplen, (int32_t)e->cur_wirelen, e->cur_iface, 0};
    memcpy(r, h, sizeof h);
    memcpy(r + 16, l, sizeof l);
    memcpy(r + SPLIT_HDR, e->cur_buf, (size_t)e->cur_caplen);
    memset(r + SPLIT_HDR + e->cur_caplen, 0, (size_t)(need - SPLIT_HDR - e->cur_caplen));
    e->split_len[k] += need;
    if (e->split_clock) {
        if (grow((void **)&e->clock_part, &e->clock_cap_part, e->clock_n + 1, sizeof *e->clock_part, 4096) < 0 ||
            grow((void **)&e->clock_ts, &e->clock_cap_ts, e->clock_n + 1, sizeof *e->clock_ts, 4096) < 0)
            return -1;
        e->clock_part[e->clock_n] = (int32_t)k;
        e->clock_ts[e->clock_n++] = e->cur_ts;
    }
    return 0;
}

static void split_free(Engine *e) {
    for (uint32_t k = 0; k < e->split_n; k++)
        Py_XDECREF(e->split_buf[k]);
    PyMem_Free(e->split_buf);
    PyMem_Free(e->split_len);
    PyMem_Free(e->clock_part);
    PyMem_Free(e->clock_ts);
    e->split_buf = NULL;
    e->split_len = NULL;
    e->clock_part = NULL;
    e->clock_ts = NULL;
    e->clock_n = e->clock_cap_part = e->clock_cap_ts = 0;
    e->split_n = 0;
}

/* Engine.split(n, clock=False): walk without tracking; each TCP frame goes to part partition_of(n)'s records
 * (take_split), and with clock its part and time to take_split's clock */
static PyObject *Engine_split(Engine *e, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"n", "clock", NULL};
    long n;
    int clock = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "l|p", kwlist, &n, &clock))
        return NULL;
    if (n < 1 || n > 1 << 20) {
        PyErr_SetString(PyExc_ValueError, "split: n must be in [1, 2**20]");
        return NULL;
    }
    split_free(e);
    e->split_buf = PyMem_Calloc((size_t)n, sizeof *e->split_buf);
    e->split_len = PyMem_Calloc((size_t)n, sizeof *e->split_len);
    if (!e->split_buf || !e->split_len) {
        split_free(e);
        return PyErr_NoMemory();
    }
    e->split_n = (uint32_t)n;
    e->split_have = 0;
    e->split_clock = clock;
    Py_RETURN_NONE;
}

/* Engine.take_split() -> (each part's records as bytes, the latest time of a frame walked or None, the clock:
 * (each TCP frame's part as int32, its time as int64) as bytes, or None without split(clock=True)) */
static PyObject *Engine_take_split(Engine *e, PyObject *Py_UNUSED(ignored)) {
    PyObject *parts = PyList_New(e->split_n);
    if (!parts)
        return NULL;
    for (uint32_t k = 0; k < e->split_n; k++) {
        PyObject *b = e->split_buf[k];
        e->split_buf[k] = NULL;
        if (!b)
            b = PyBytes_FromStringAndSize(NULL, 0);
        else if (_PyBytes_Resize(&b, e->split_len[k]) < 0)
            b = NULL;
        e->split_len[k] = 0;
        if (!b) {
            Py_DECREF(parts);
            return NULL;
        }
        PyList_SET_ITEM(parts, k, b);
    }
    PyObject *max = e->split_have ? PyLong_FromLongLong(e->split_max) : Py_NewRef(Py_None);
    PyObject *clock = !e->split_clock ? Py_NewRef(Py_None)
                                      : Py_BuildValue("(y#y#)", e->clock_part ? (const char *)e->clock_part : "",
                                                      e->clock_n * (Py_ssize_t)sizeof(int32_t),
                                                      e->clock_ts ? (const char *)e->clock_ts : "",
                                                      e->clock_n * (Py_ssize_t)sizeof(int64_t));
    e->clock_n = 0;
    if (!max || !clock) {
        Py_DECREF(parts);
        Py_XDECREF(max);
        Py_XDECREF(clock);
        return NULL;
    }
    return Py_BuildValue("(NNN)", parts, max, clock);
}

/* Engine.feed_frames(records, frame_offset, links, skip): a part's records from one file (take_split's bytes) in
 * their order, each frame numbered frame_offset + its number in its file; links[interface]: (link_len,
 * etype_off, decode) of that interface (capture._FUSED_LAYOUTS, capture._DECODERS), skip: the decoders' skip
 * callable. -> (segments, truncated) */
static PyObject *Engine_feed_frames(Engine *e, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"records", "frame_offset", "links", "skip", "pos", "index", "foreign", NULL};
    PyObject *bufobj, *links, *skip, *foreign = Py_None;
    long long offset;
    Py_ssize_t pos = 0, index = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "SLO!O|nnO", kwlist, &bufobj, &offset, &PyList_Type, &links, &skip,
                                     &pos, &index, &foreign))
        return NULL;
    const int64_t *fts = NULL;
    Py_ssize_t nfts = 0;
    if (foreign != Py_None) {
        if (!PyBytes_Check(foreign)) {
            PyErr_SetString(PyExc_TypeError, "feed_frames: foreign must be bytes (int64 per record) or None");
            return NULL;
        }
        fts = (const int64_t *)PyBytes_AS_STRING(foreign);
        nfts = PyBytes_GET_SIZE(foreign) / (Py_ssize_t)sizeof(int64_t);
    }
    Py_ssize_t nl = PyList_GET_SIZE(links);
    Link *lk = PyMem_Calloc((size_t)(nl ? nl : 1), sizeof *lk);
    if (!lk)
        return PyErr_NoMemory();
    for (Py_ssize_t i = 0; i < nl; i++) {
        PyObject *t = PyList_GET_ITEM(links, i);
        lk[i].iface = (int)i;
        lk[i].skip = skip;
        if (t == Py_None)
            continue;
        if (!PyArg_ParseTuple(t, "iiO", &lk[i].link_len, &lk[i].etype_off, &lk[i].decode)) {
            PyMem_Free(lk);
            return NULL;
        }
    }
    const char *buf = PyBytes_AS_STRING(bufobj);
    Py_ssize_t len = PyBytes_GET_SIZE(bufobj);
    long long segments = 0, truncated = 0;
    int paused = 0;
    if (pos < 0 || pos > len || index < 0) {
        PyMem_Free(lk);
        PyErr_SetString(PyExc_ValueError, "feed_frames: pos outside the records");
        return NULL;
    }
    while (pos + SPLIT_HDR <= len) {
        int64_t h[2];
        int32_t l[4];
        memcpy(h, buf + pos, sizeof h);
        memcpy(l, buf + pos + 16, sizeof l);
        Py_ssize_t start = pos + SPLIT_HDR, need = SPLIT_HDR + ((l[0] + 7) & ~7);
        if (l[0] < 0 || l[1] < l[0] || start + l[0] > len || l[2] < 0 || l[2] >= nl || !lk[l[2]].decode) {
            PyMem_Free(lk);
            PyErr_SetString(PyExc_ValueError, "feed_frames: not a record Engine.take_split wrote");
            return NULL;
        }
        if (fts && index < nfts && fts[index] > e->foreign_ts) /* the other parts' segments since the last */
            e->foreign_ts = fts[index];
        if (feed_frame(e, bufobj, start, start + l[0], start + l[1], h[0] + offset, h[1], &lk[l[2]], &segments,
                       &truncated) < 0) {
            PyMem_Free(lk);
            return NULL;
        }
        pos += need;
        index++;
        if (e->pk_pause) { /* paused after a record (Engine.packets): called again from pos, index */
            e->pk_pause = 0;
            paused = 1;
            break;
        }
    }
    PyMem_Free(lk);
    return Py_BuildValue("(nnNLL)", pos, index, PyBool_FromLong(paused), segments, truncated);
}

static PyObject *walk_result(Py_ssize_t pos, long long frame, int status, long long segments, long long truncated,
                             int have_first, long long first_ts) {
    if (have_first)
        return Py_BuildValue("(nLiLLL)", pos, frame, status, segments, truncated, first_ts);
    return Py_BuildValue("(nLiLLO)", pos, frame, status, segments, truncated, Py_None);
}

/* A pcap timestamp (32-bit seconds and 32-bit micro- or nanoseconds) always lies within [0, TS_NS_MAX]: feed_pcap
 * needs no clamp, and the Python reader none either (vocab.TS_NS_MAX). */
#define PCAP_TS_MAX ((int64_t)UINT32_MAX * 1000000000LL + (int64_t)UINT32_MAX * 1000LL)
_Static_assert(PCAP_TS_MAX <= TS_NS_MAX, "pcap timestamps must lie within TS_NS_MAX");

/* Engine.feed_pcap(buf, pos, frame, big_endian, nano, rec_hdr_len, swapped, fcs_len, link_len, etype_off,
 *                  decode, skip[, until]) -> (pos, frame, status, segments, truncated, first_ts or None)
 * Walks the complete pcap records of buf from pos (CaptureReader._pcap_records). status 0: the record at pos
 * is incomplete (read more); 1: its header claims more than MAX_BLOCK_BYTES (damaged file); 3: the record at pos
 * is later than until (ns; capture.MergedReader: another file's records come first). link_len, etype_off,
 * decode: see Link. */
static PyObject *Engine_feed_pcap(Engine *e, PyObject *args) {
    Py_ssize_t pos;
    long long frame;
    int big, nano, rec_hdr_len, swapped, fcs_len;
    PyObject *bufobj;
    Link ln = {.iface = 0};
    long long until = INT64_MAX;
    if (!PyArg_ParseTuple(args, "OnLppipiiiOO|L", &bufobj, &pos, &frame, &big, &nano, &rec_hdr_len, &swapped,
                          &fcs_len, &ln.link_len, &ln.etype_off, &ln.decode, &ln.skip, &until))
        return NULL;
    if (!PyBytes_Check(bufobj)) {
        PyErr_SetString(PyExc_TypeError, "feed_pcap: buf must be bytes");
        return NULL;
    }
    const uint8_t *buf = (const uint8_t *)PyBytes_AS_STRING(bufobj);
    Py_ssize_t buflen = PyBytes_GET_SIZE(bufobj);
    long long segments = 0, truncated = 0, first_ts = -1;
    int have_first = 0, status = 0;
    int64_t mult = nano ? 1 : 1000;
    for (;;) {
        if (buflen - pos < rec_hdr_len) {
            status = 0;
            break;
        }
        const uint8_t *h = buf + pos;
        uint32_t sec = rd32(h, big), frac = rd32(h + 4, big), caplen = rd32(h + 8, big), origlen = rd32(h + 12, big);
        if (swapped && caplen > origlen) {
            uint32_t t = caplen;
            caplen = origlen;
            origlen = t;
        }
        if (caplen > MAX_BLOCK_BYTES) {
            status = 1;
            break;
        }
        Py_ssize_t start = pos + rec_hdr_len, end = start + (Py_ssize_t)caplen;
        if (end > buflen) {
            status = 0;
            break;
        }
        int64_t ts = (int64_t)sec * 1000000000LL + (int64_t)frac * mult; /* within TS_NS_MAX: see PCAP_TS_MAX */
        if (ts > until) {
            status = 3;
            break;
        }
        frame++;
        pos = end;
        if (frame == 1) {
            first_ts = ts;
            have_first = 1;
        }
        Py_ssize_t rend = origlen > caplen ? start + (Py_ssize_t)origlen : end;
        if (fcs_len) {
            end = end - fcs_len > start ? end - fcs_len : start;
            rend -= fcs_len;
        }
        if (feed_frame(e, bufobj, start, end, rend, frame, ts, &ln, &segments, &truncated) < 0)
            return NULL;
        if (e->pk_pause) { /* status 2: paused after a complete record (Engine.packets) */
            e->pk_pause = 0;
            status = 2;
            break;
        }
    }
    return walk_result(pos, frame, status, segments, truncated, have_first, first_ts);
}

/* One interface of a pcapng section as feed_pcapng walks it (capture._EngineIface, read by field name). */
typedef struct NgIface {
    Link ln;                  /* ln.iface: the interface's number over all sections, as Python numbers it; ln.decode
                               * a new reference, NULL where Python reads the interface's packets; ln.skip unused */
    uint64_t ts_mult, ts_div; /* ts_ns = ts * ts_mult // ts_div + ts_off_ns (CaptureReader._pcapng_idb) */
    int64_t ts_off_ns;
} NgIface;

static int get_u64(PyObject *o, PyObject *name, uint64_t *out) {
    PyObject *v = PyObject_GetAttr(o, name);
    if (!v)
        return -1;
    *out = PyLong_AsUnsignedLongLong(v);
    Py_DECREF(v);
    return (*out == (uint64_t)-1 && PyErr_Occurred()) ? -1 : 0;
}

/* One entry of the interface table into *f (all zero for None). 0, or -1 with an exception set (*f untouched). */
static int read_iface(PyObject *it, NgIface *f) {
    if (it == Py_None)
        return 0;
    long long number, link_len, etype_off, off_ns;
    uint64_t mult, div;
    if (get_ll(it, S_number, &number) || get_ll(it, S_link_len, &link_len) || get_ll(it, S_etype_off, &etype_off) ||
        get_u64(it, S_ts_mult, &mult) || get_u64(it, S_ts_div, &div) || get_ll(it, S_ts_off_ns, &off_ns)) {
        /* an entry Python built out of range is a bug, not something in the capture */
        if (PyErr_ExceptionMatches(PyExc_OverflowError)) {
            PyErr_Clear();
            PyErr_SetString(PyExc_ValueError, "feed_pcapng: an interface entry out of range");
        }
        return -1;
    }
    if (mult == 0 || div == 0 || number < 0 || number > INT_MAX || link_len < -1 || link_len > 64 ||
        etype_off < -1 || (etype_off >= 0 && etype_off + 2 > link_len)) {
        PyErr_SetString(PyExc_ValueError, "feed_pcapng: an interface entry out of range");
        return -1;
    }
    PyObject *decode = PyObject_GetAttr(it, S_decode);
    if (!decode)
        return -1;
    f->ln.decode = decode;
    f->ln.skip = NULL;
    f->ln.iface = (int)number;
    f->ln.link_len = (int)link_len;
    f->ln.etype_off = (int)etype_off;
    f->ts_mult = mult;
    f->ts_div = div;
    f->ts_off_ns = off_ns;
    return 0;
}

static void clear_ifaces(Engine *e) {
    for (Py_ssize_t i = 0; i < e->ng_n; i++)
        Py_CLEAR(e->ng_ifs[i].ln.decode);
    e->ng_n = 0;
    Py_CLEAR(e->ng_list);
}

/* Bring the engine's copy of the interface table up to date with the list seq (see Engine.ng_list): a list it has
 * not read before is read whole, the list it read last from where it stopped. 0, or -1 with an exception set. */
static int sync_ifaces(Engine *e, PyObject *seq) {
    if (!PyList_Check(seq)) {
        PyErr_SetString(PyExc_TypeError, "feed_pcapng: interfaces must be a list");
        return -1;
    }
    if (seq != e->ng_list || PyList_GET_SIZE(seq) < e->ng_n) {
        clear_ifaces(e);
        Py_INCREF(seq);
        e->ng_list = seq;
    }
    while (e->ng_n < PyList_GET_SIZE(seq)) {
        if (grow((void **)&e->ng_ifs, &e->ng_cap, e->ng_n + 1, sizeof(NgIface), 8) < 0)
            return -1;
        NgIface *f = &e->ng_ifs[e->ng_n];
        memset(f, 0, sizeof *f);
        PyObject *it = PyList_GET_ITEM(seq, e->ng_n);
        Py_INCREF(it);
        int r = read_iface(it, f);
        Py_DECREF(it);
        if (r < 0)
            return -1;
        e->ng_n++;
    }
    return 0;
}

/* Engine.feed_pcapng(buf, pos, frame, big_endian, interfaces, skip, until=None)
 *     -> (pos, frame, status, segments, truncated, first_ts or None)
 * Walks the complete Enhanced Packet Blocks of buf from pos, as capture._PcapngWalk.step reads them, and decodes and
 * processes their frames as feed_pcap does. big_endian: the section's byte order. interfaces: a list, the section's
 * interfaces in order, each a capture._EngineIface, or None where Python reads the interface's packets; the engine
 * keeps what it read of it, so the list may only grow (a new section: a new list; Engine.ng_list). Stops at
 * anything else, leaving it to _PcapngWalk.step: status 0, the block at pos is incomplete (read more); 1, the block
 * at pos is not an EPB (section header, interface description, simple or obsolete packet block, any other type), has
 * a bad length, is too short for its fields or its caplen, names an interface that is not in the table, or has a
 * timestamp outside [-TS_NS_MAX, TS_NS_MAX]; 2, paused after a complete block (Engine.packets): call again from
 * pos; 3, the block at pos is an EPB later than until (see feed_pcap). first_ts: the timestamp of the first frame
 * this call read. */
static PyObject *Engine_feed_pcapng(Engine *e, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"buf", "pos", "frame", "big_endian", "interfaces", "skip", "until", NULL};
    Py_ssize_t pos;
    long long frame, until = INT64_MAX;
    int big;
    PyObject *bufobj, *iface_seq, *skip;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "SnLpOO|L", kwlist, &bufobj, &pos, &frame, &big, &iface_seq, &skip,
                                     &until))
        return NULL;
    const uint8_t *buf = (const uint8_t *)PyBytes_AS_STRING(bufobj);
    Py_ssize_t buflen = PyBytes_GET_SIZE(bufobj);
    if (pos < 0 || pos > buflen) {
        PyErr_SetString(PyExc_ValueError, "feed_pcapng: pos outside buf");
        return NULL;
    }
    if (e->ng_busy) {
        PyErr_SetString(PyExc_RuntimeError, "feed_pcapng: called again while it runs");
        return NULL;
    }
    if (sync_ifaces(e, iface_seq) < 0)
        return NULL;
    const NgIface *ifs = e->ng_ifs;
    Py_ssize_t n_ifs = e->ng_n;
    e->ng_busy = 1;
    long long segments = 0, truncated = 0, first_ts = 0;
    int have_first = 0, status;
    for (;;) {
        /* _PcapngWalk.step: block header, section header, block length, the whole block */
        Py_ssize_t avail = buflen - pos;
        if (avail < 8) {
            status = 0;
            break;
        }
        const uint8_t *h = buf + pos;
        if (memcmp(h, "\x0a\x0d\x0d\x0a", 4) == 0) {
            status = 1;
            break;
        }
        uint32_t btype = rd32(h, big), blen = rd32(h + 4, big);
        if (blen < 12 || blen % 4 || blen > MAX_BLOCK_BYTES) {
            status = 1;
            break;
        }
        if (avail < (Py_ssize_t)blen) {
            status = 0;
            break;
        }
        /* an Enhanced Packet Block with its 20 bytes of fields: interface, timestamp, caplen, origlen */
        if (btype != 6 || blen < 8 + 24) {
            status = 1;
            break;
        }
        uint32_t ifno = rd32(h + 8, big), ts_hi = rd32(h + 12, big), ts_lo = rd32(h + 16, big);
        uint32_t caplen = rd32(h + 20, big), origlen = rd32(h + 24, big);
        if (ifno >= n_ifs || !ifs[ifno].ln.decode || (uint64_t)caplen + 32 > blen) {
            status = 1;
            break;
        }
        /* ts_ns = (ts_hi << 32 | ts_lo) * mult // div + off_ns (a 64 by 64-bit product fits 128 bits), if it lies
         * within [-TS_NS_MAX, TS_NS_MAX]; else the block is Python's, which clamps it with a warning
         * (_PcapngWalk.step), so the clamped value and its warning come from one place */
        const NgIface *f = &ifs[ifno];
        unsigned __int128 q = (unsigned __int128)((uint64_t)ts_hi << 32 | ts_lo) * f->ts_mult;
        if (f->ts_div != 1)
            q /= f->ts_div;
        if (q > (unsigned __int128)INT64_MAX) {
            status = 1;
            break;
        }
        __int128 t = (__int128)q + f->ts_off_ns;
        if (t > TS_NS_MAX || t < -TS_NS_MAX) {
            status = 1;
            break;
        }
        int64_t ts = (int64_t)t;
        if (ts > until) {
            status = 3;
            break;
        }
        frame++;
        pos += blen;
        if (!have_first) {
            first_ts = ts;
            have_first = 1;
        }
        Py_ssize_t start = (h - buf) + 28, end = start + (Py_ssize_t)caplen;
        Py_ssize_t rend = start + (Py_ssize_t)(origlen > caplen ? origlen : caplen);
        Link ln = f->ln;
        ln.skip = skip;
        if (feed_frame(e, bufobj, start, end, rend, frame, ts, &ln, &segments, &truncated) < 0) {
            e->ng_busy = 0;
            return NULL;
        }
        if (e->pk_pause) { /* status 2: paused after a complete block (Engine.packets) */
            e->pk_pause = 0;
            status = 2;
            break;
        }
    }
    e->ng_busy = 0;
    return walk_result(pos, frame, status, segments, truncated, have_first, first_ts);
}

static PyObject *u128(unsigned __int128 v) {
    PyObject *hi = PyLong_FromUnsignedLongLong((unsigned long long)(v >> 64));
    PyObject *lo = PyLong_FromUnsignedLongLong((unsigned long long)v);
    PyObject *shift = PyLong_FromLong(64), *r = NULL;
    if (hi && lo && shift) {
        PyObject *t = PyNumber_Lshift(hi, shift);
        if (t) {
            r = PyNumber_Or(t, lo);
            Py_DECREF(t);
        }
    }
    Py_XDECREF(hi);
    Py_XDECREF(lo);
    Py_XDECREF(shift);
    return r;
}

/* hi * 2^128 + lo as a Python int */
static PyObject *u192(uint64_t hi, unsigned __int128 lo) {
    PyObject *low = u128(lo);
    if (!low || !hi)
        return low;
    PyObject *top = PyLong_FromUnsignedLongLong(hi), *shift = PyLong_FromLong(128), *t = NULL, *r = NULL;
    if (top && shift)
        t = PyNumber_Lshift(top, shift);
    if (t)
        r = PyNumber_Or(t, low);
    Py_XDECREF(top);
    Py_XDECREF(shift);
    Py_XDECREF(t);
    Py_DECREF(low);
    return r;
}

static PyTypeObject *DirRecordType;       /* tcptrace._engine.DirRecord: fields named by vocab.ENGINE_DIR_RECORD */
static PyTypeObject *FlowRecordType;      /* ... FlowRecord: vocab.ENGINE_FLOW_RECORD */
static PyTypeObject *LifecycleRecordType; /* ... LifecycleRecord: vocab.ENGINE_LIFECYCLE_RECORD */
static PyTypeObject *RowRecordType;       /* ... RowRecord: vocab.ENGINE_ROW_RECORD */
static PyTypeObject *ClassicRecordType;   /* ... ClassicRecord: vocab.ENGINE_CLASSIC_FIELDS */

/* A record whose every field was set (a NULL is a failed allocation, or a field this file forgot): the record,
 * else NULL with an exception. Takes the reference to rec. */
static PyObject *record_done(PyObject *rec, Py_ssize_t n, const PyStructSequence_Field *fields) {
    for (Py_ssize_t k = 0; k < n; k++)
        if (!PyStructSequence_GET_ITEM(rec, k)) {
            Py_DECREF(rec);
            if (!PyErr_Occurred())
                PyErr_Format(PyExc_SystemError, "engine record field %s not set", fields[k].name);
            return NULL;
        }
    return rec;
}

static PyObject *classic_record(const ClDir *c) {
    PyObject *rec = PyStructSequence_New(ClassicRecordType);
    if (!rec)
        return NULL;
#define CL_L(field) PyStructSequence_SET_ITEM(rec, CL_##field, PyLong_FromLongLong(c->field))
#define CL_F(field) PyStructSequence_SET_ITEM(rec, CL_##field, PyFloat_FromDouble(c->field))
    CL_L(packets); CL_L(resets); CL_L(ack_pkts); CL_L(pureack_pkts); CL_L(num_sacks); CL_L(num_dsacks);
    CL_L(max_sack_blocks); CL_L(unique_bytes); CL_L(data_pkts); CL_L(data_bytes); CL_L(rexmit_pkts);
    CL_L(rexmit_bytes); CL_L(zwnd_probes); CL_L(zwnd_probe_bytes); CL_L(out_order_pkts); CL_L(data_pkts_push);
    CL_L(syn_count); CL_L(fin_count); CL_L(f1323_ws); CL_L(f1323_ts); CL_L(window_scale); CL_L(fsack_req);
    CL_L(sacks_sent); CL_L(urg_data_pkts); CL_L(urg_data_bytes); CL_L(mss); CL_L(max_seg_size);
    CL_L(min_seg_size); CL_L(win_max); CL_L(win_min); CL_L(win_zero_ct); CL_L(win_tot); CL_L(win_scaled_pkts);
    CL_L(win_scaling_used); CL_L(initialwin_bytes); CL_L(initialwin_segs); CL_L(syn); CL_L(fin);
    CL_L(latest_seq); CL_L(seq_wrap_count); CL_L(trunc_bytes); CL_L(trunc_segs); CL_L(data_pkts_timed);
    CL_L(first_data_time); CL_L(last_data_time); CL_L(has_time); CL_L(last_time); CL_L(idle_max);
    CL_L(rtt_count); CL_L(rtt_min); CL_L(rtt_max); CL_F(rtt_sum); CL_F(rtt_sum2); CL_L(rtt_3whs);
    CL_L(rtt_full_size); CL_L(rtt_full_count); CL_L(rtt_full_min); CL_L(rtt_full_max); CL_F(rtt_full_sum);
    CL_F(rtt_full_sum2); CL_L(rtt_nosample); CL_L(rtt_amback); CL_L(rtt_min_last); CL_L(rtt_max_last);
    CL_F(rtt_sum_last); CL_F(rtt_sum2_last); CL_L(rtt_count_last); CL_L(rtt_cumack); CL_L(rtt_dupack);
    CL_L(rtt_triple_dupack); CL_L(retr_max); CL_L(retr_min_tm); CL_L(retr_max_tm); CL_F(retr_tm_sum);
    CL_F(retr_tm_sum2); CL_L(retr_tm_count); CL_L(segs_dropped);
#undef CL_L
#undef CL_F
    return record_done(rec, CL_N, CL_RECORD_FIELDS);
}

/* One direction's counters as a DirRecord (named fields, stats.DirStats's names; _vocab.h's DIR_* indexes). */
static PyObject *sdir_record(const SDir *d, const ClDir *cl) {
    PyObject *rec = PyStructSequence_New(DirRecordType);
    if (!rec)
        return NULL;
#define SETL(field, value) PyStructSequence_SET_ITEM(rec, DIR_##field, PyLong_FromLongLong(value))
    SETL(packets, d->packets);
    SETL(ack_packets, d->ack_packets);
    SETL(pure_acks, d->pure_acks);
    SETL(pushed_packets, d->pushed);
    SETL(sack_packets, d->sack_packets);
    SETL(data_packets, d->data_packets);
    SETL(data_bytes, d->data_bytes);
    SETL(seg_max, d->seg_max);
    SETL(seg_min, d->seg_min);
    SETL(truncated_bytes, d->trunc_bytes);
    SETL(truncated_packets, d->trunc_packets);
    SETL(win_n, d->win_n);
    SETL(win_sum, d->win_sum);
    SETL(win_max, d->win_max);
    SETL(win_min, d->win_min);
    SETL(rtt_n, d->rtt_n);
    PyStructSequence_SET_ITEM(rec, DIR_rtt_sum, u128(d->rtt_sum));
    SETL(rtt_max, d->rtt_max);
    SETL(rtt_min, d->rtt_min);
    PyStructSequence_SET_ITEM(rec, DIR_rtt_sumsq, u192(d->rtt_sumsq_hi, d->rtt_sumsq));
    SETL(syn_packets, d->syn);
    SETL(fin_packets, d->fin);
    SETL(rst_packets, d->rst);
    SETL(rexmt_packets, d->rexmt_packets);
    SETL(rexmt_bytes, d->rexmt_bytes);
    SETL(ooo_packets, d->ooo);
    SETL(zwp_packets, d->zwp_packets);
    SETL(zwp_bytes, d->zwp_bytes);
    SETL(zero_win_adv, d->zero_win_adv);
    SETL(dup_acks, d->dup_acks);
    SETL(missed_bytes, d->missed_bytes);
    SETL(first_ts, d->first_ts);
    SETL(last_ts, d->last_ts);
    SETL(max_idle_ns, d->max_idle);
    SETL(seq_lo, d->seq_lo);
    SETL(seq_hi, d->seq_hi);
#undef SETL
    PyObject *flags = PyTuple_New(N_FLAGS);
    if (flags)
        for (int i = 0; i < N_FLAGS; i++)
            PyTuple_SET_ITEM(flags, i, PyLong_FromLongLong(d->flags[i]));
    PyStructSequence_SET_ITEM(rec, DIR_flag_counts, flags);
    PyStructSequence_SET_ITEM(rec, DIR_classic, classic_record(cl));
    /* every field set, every allocation succeeded: a field missing here would be NULL (and fail loudly) */
    for (Py_ssize_t k = 0; k < DIR_N; k++) {
        PyObject *v = PyStructSequence_GET_ITEM(rec, k);
        if (!v || (k == DIR_flag_counts && !flags)) {
            Py_DECREF(rec);
            if (!PyErr_Occurred())
                PyErr_Format(PyExc_SystemError, "DirRecord field %s not set", DIR_RECORD_FIELDS[k].name);
            return NULL;
        }
    }
    if (flags)
        for (int i = 0; i < N_FLAGS; i++)
            if (!PyTuple_GET_ITEM(flags, i)) {
                Py_DECREF(rec);
                return NULL;
            }
    return rec;
}

/* Engine.flow(i) -> (first_frame, last_frame, first_ts, last_ts, packets, first_direction, completeness,
 *                    ts_first_rtt, reused_ports_frame, base0, base1, win_scale0, win_scale1, dir0, dir1) */
static PyObject *Engine_flow(Engine *e, PyObject *arg) {
    Py_ssize_t i = PyLong_AsSsize_t(arg);
    if (i == -1 && PyErr_Occurred())
        return NULL;
    if (i < 0 || i >= e->nflows) {
        PyErr_SetString(PyExc_IndexError, "no such stream");
        return NULL;
    }
    FlowTmp tmp;
    const FlowC *f = flow_view(e, i, &tmp);
    PyObject *rec = PyStructSequence_New(FlowRecordType);
    if (!rec)
        return NULL;
#define SET(field, value) PyStructSequence_SET_ITEM(rec, FLOW_##field, (value))
    SET(first_frame, PyLong_FromLongLong(f->first_frame));
    SET(last_frame, PyLong_FromLongLong(f->last_frame));
    SET(first_ts, PyLong_FromLongLong(f->first_ts));
    SET(last_ts, PyLong_FromLongLong(f->last_ts));
    SET(packets, PyLong_FromLongLong(f->packets));
    SET(first_direction, PyLong_FromLong(f->first_direction));
    SET(completeness, PyLong_FromLong(f->completeness));
    SET(ts_first_rtt, PyLong_FromLongLong(f->ts_first_rtt));
    SET(reused_ports_frame, PyLong_FromLongLong(f->reused_ports_frame));
    SET(base_client, f->has_base[0] ? PyLong_FromUnsignedLong(f->base[0]) : Py_NewRef(Py_None));
    SET(base_server, f->has_base[1] ? PyLong_FromUnsignedLong(f->base[1]) : Py_NewRef(Py_None));
    SET(win_scale_client, PyLong_FromLong(f->win_scale[0]));
    SET(win_scale_server, PyLong_FromLong(f->win_scale[1]));
    SET(client, sdir_record(&f->sd[0], &f->cl[0]));
    SET(server, sdir_record(&f->sd[1], &f->cl[1]));
#undef SET
    return record_done(rec, FLOW_N, FLOW_RECORD_FIELDS);
}

/* (a, b) as a tuple of ints (without Py_BuildValue's format parsing: Engine.row runs once per stream), or NULL */
static PyObject *pair(int64_t a, int64_t b) {
    PyObject *x = PyLong_FromLongLong(a), *y = PyLong_FromLongLong(b), *t = NULL;
    if (x && y)
        t = PyTuple_Pack(2, x, y);
    Py_XDECREF(x);
    Py_XDECREF(y);
    return t;
}

/* A tuple with a NULL item (a failed allocation) is dropped, so that record_done fails on its field. */
static void tuple_or_null(PyObject **t) {
    for (Py_ssize_t k = 0; *t && k < PyTuple_GET_SIZE(*t); k++)
        if (!PyTuple_GET_ITEM(*t, k))
            Py_CLEAR(*t);
}

/* Engine.row(i) -> RowRecord: what the flows table and CSV show of stream i (vocab.ENGINE_ROW_RECORD), a few
 * dozen small objects instead of the FlowRecord and LifecycleRecord a whole FlowSummary needs */
static PyObject *Engine_row(Engine *e, PyObject *arg) {
    Py_ssize_t i = PyLong_AsSsize_t(arg);
    if (i == -1 && PyErr_Occurred())
        return NULL;
    if (i < 0 || i >= e->nflows) {
        PyErr_SetString(PyExc_IndexError, "no such stream");
        return NULL;
    }
    FlowTmp tmp;
    const FlowC *f = flow_view(e, i, &tmp);
    const SDir *c = &f->sd[0], *s = &f->sd[1];
    PyObject *rec = PyStructSequence_New(RowRecordType);
    if (!rec)
        return NULL;
    PyObject *fins = PyTuple_New(f->nfin);
    if (fins)
        for (int k = 0; k < f->nfin; k++)
            PyTuple_SET_ITEM(fins, k, pair(f->fin_dir[k], f->fin_frame[k]));
    PyObject *counts = PyTuple_New(N_FLAGS);
    if (counts)
        for (int k = 0; k < N_FLAGS; k++)
            PyTuple_SET_ITEM(counts, k, PyLong_FromLongLong(c->flags[k] + s->flags[k]));
    tuple_or_null(&fins);
    tuple_or_null(&counts);
    int64_t app_c = c->data_packets ? c->seq_hi - c->seq_lo : 0, app_s = s->data_packets ? s->seq_hi - s->seq_lo : 0;
#define SET(field, value) PyStructSequence_SET_ITEM(rec, ROW_##field, (value))
    SET(stream, PyLong_FromLongLong(f->stream));
    SET(client_addr, PyBytes_FromStringAndSize((const char *)f->addr[0], f->alen));
    SET(client_port, PyLong_FromLong(f->port[0]));
    SET(server_addr, PyBytes_FromStringAndSize((const char *)f->addr[1], f->alen));
    SET(server_port, PyLong_FromLong(f->port[1]));
    SET(roles_guessed, PyBool_FromLong(f->roles_guessed));
    SET(first_ts, PyLong_FromLongLong(f->first_ts));
    SET(last_ts, PyLong_FromLongLong(f->last_ts));
    SET(packets, PyLong_FromLongLong(f->packets));
    SET(dir_packets, pair(c->packets, s->packets));
    SET(data_bytes, pair(c->data_bytes, s->data_bytes));
    SET(app_bytes, pair(app_c, app_s));
    SET(completeness, PyLong_FromLong(f->completeness));
    const ZeekC *z = &f->zk;
    const ZEnd *zo = &z->ep[z->orig_dir], *zr = &z->ep[1 - z->orig_dir];
    SET(zeek_history, PyUnicode_DecodeASCII(z->hist ? z->hist : "", z->hlen, NULL));
    SET(zeek_states, pair(zo->state, zr->state));
    SET(zeek_sizes, pair(zk_size(zo, zr), zk_size(zr, zo)));
    SET(syn_frame, PyLong_FromLongLong(f->syn_frame));
    SET(synack_frame, PyLong_FromLongLong(f->synack_frame));
    SET(handshake_ack_frame, PyLong_FromLongLong(f->handshake_ack_frame));
    SET(fin_frames, fins);
    SET(fin_acked, pair(f->fin_acked[0], f->fin_acked[1]));
    SET(first_reset, f->nrst ? pair(f->rst[0].dir, f->rst[0].cause) : Py_NewRef(Py_None));
    SET(resets_total, PyLong_FromLongLong(f->rst_total));
    SET(flag_counts, counts);
#undef SET
    return record_done(rec, ROW_N, ROW_RECORD_FIELDS);
}

/* Engine.memory() -> what the engine holds, in bytes: finished flows packed, the others live */
static PyObject *Engine_memory(Engine *e, PyObject *Py_UNUSED(ignored)) {
    long long live_bytes = 0;
    for (Py_ssize_t i = 0; i < e->nflows; i++) {
        const FlowC *f = e->flows[i];
        if (IS_PACKED(f))
            continue;
        live_bytes += (long long)(sizeof(FlowC) + (size_t)(f->ad[0].cap + f->ad[1].cap) * sizeof(Unacked) +
                                  (size_t)f->caprst * sizeof(Rst) + (size_t)f->capanomalies * sizeof(Anomaly) +
                                  (size_t)(f->zk.ep[0].capblocks + f->zk.ep[1].capblocks) * sizeof(ZBlock) +
                                  (size_t)f->zk.hcap);
        for (int d = 0; d < 2; d++)
            for (int k = 0; k < 4; k++)
                if (f->cl[d].quads[k])
                    live_bytes += (long long)(sizeof(ClQuad) + (size_t)f->cl[d].quads[k]->cap * sizeof(ClSeg));
    }
    return Py_BuildValue("{sLsLsLsLsLsL}", "flows", (long long)e->nflows, "packed", (long long)e->npacked,
                         "unpacked", (long long)e->nunpacked,
                         "packed_bytes", (long long)e->packed_bytes, "live_bytes", live_bytes, "index_bytes",
                         (long long)(e->nslots * (Py_ssize_t)sizeof(Slot) + e->capflows * (Py_ssize_t)sizeof(FlowC *) +
                                     e->due_cap * (Py_ssize_t)sizeof(struct Due)));
}

/* ------------------------------------------------------------------------------------------------ */
/* flows rows rendered here (Engine.row_lines)                                                      */

/* The flows table and CSV (export.flows_table_lines / flows_csv_lines of stats.flow_row) written here, a batch of
 * streams a call, so a million-connection capture costs no Python object per row. What is words, not numbers
 * (opened, closed, conn_state, history and the verdict sentence, cut where its two byte counts go) comes from
 * Python (export._engine_row_texts) once per *kind* of row: the row key below holds every fact that flow_row's
 * word functions read (opened_how, closed_how, close_shape, verdict_template, zeek.conn_state), so rows with the
 * same key have the same words. tests/test_flow_rows.py compares every format with the Python renderer's. */

/* the decimal digits of v, right-aligned to width */
static int put_i64_w(Engine *e, int64_t v, Py_ssize_t width) {
    char b[24], *q = b + sizeof b;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        *--q = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--q = '-';
    return put_padded(e, q, b + sizeof b - q, width, 1);
}

/* str(ipaddress.IPv6Address(a)) (the longest run of two or more zero hextets, the first of equal ones, as "::"),
 * into out[40]; -1 for ::/96 and ::ffff:0:0/96, which Python versions write differently (model.format_addr) */
static int ipv6_text(char *out, const uint8_t *a) {
    static const char hex[] = "0123456789abcdef";
    unsigned h[8];
    for (int k = 0; k < 8; k++)
        h[k] = (unsigned)a[2 * k] << 8 | a[2 * k + 1];
    if (!h[0] && !h[1] && !h[2] && !h[3] && !h[4] && (h[5] == 0 || h[5] == 0xffff))
        return -1;
    int best = -1, best_len = 0, run = -1, run_len = 0;
    for (int k = 0; k < 8; k++) {
        if (h[k]) {
            run = -1;
            run_len = 0;
            continue;
        }
        if (run < 0)
            run = k;
        if (++run_len > best_len) {
            best = run;
            best_len = run_len;
        }
    }
    if (best_len < 2)
        best = -1;
    int n = 0;
    for (int k = 0; k < 8; k++) {
        if (k == best) {
            out[n++] = ':';
            if (k == 0)
                out[n++] = ':';
            k += best_len - 1;
            continue;
        }
        int started = 0;
        for (int s = 12; s >= 0; s -= 4) {
            unsigned d = h[k] >> s & 0xf;
            if (d || started || s == 0) {
                out[n++] = hex[d];
                started = 1;
            }
        }
        if (k < 7)
            out[n++] = ':';
    }
    return n;
}

/* the decimal digits of v at out; how many (no snprintf: a million rows spent a tenth of their time in it) */
static int digits_at(char *out, uint64_t v) {
    char b[20];
    int n = 0;
    do {
        b[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (int k = 0; k < n; k++)
        out[k] = b[n - 1 - k];
    return n;
}

/* model.format_endpoint(addr, port) (+ "?" when guess) into out[64]; its length, or -1 with an exception */
static Py_ssize_t endpoint_text(char *out, const uint8_t *a, int alen, int port, int guess, PyObject *format_addr) {
    Py_ssize_t n = 0;
    if (alen == 4) {
        for (int k = 0; k < 4; k++) {
            n += digits_at(out + n, a[k]);
            out[n++] = k < 3 ? '.' : ':';
        }
        n += digits_at(out + n, (uint64_t)port);
    } else {
        char text[48];
        int t = alen == 16 ? ipv6_text(text, a) : -1;
        if (t < 0) { /* Python's own text (and any other length: format_addr says what it says) */
            PyObject *s = PyObject_CallFunction(format_addr, "y#", (const char *)a, (Py_ssize_t)alen);
            if (!s)
                return -1;
            Py_ssize_t len;
            const char *u = PyUnicode_Check(s) ? PyUnicode_AsUTF8AndSize(s, &len) : NULL;
            if (!u || len > 46) {
                if (u || !PyErr_Occurred())
                    PyErr_SetString(PyExc_ValueError, "Engine.row_lines: format_addr gave no address text");
                Py_DECREF(s);
                return -1;
            }
            memcpy(text, u, (size_t)len);
            t = (int)len;
            Py_DECREF(s);
        }
        n = alen == 16 ? snprintf(out, 64, "[%.*s]:%d", t, text, port) : snprintf(out, 64, "%.*s:%d", t, text, port);
    }
    if (guess)
        out[n++] = '?';
    return n;
}

/* round(flow_duration_s(...), 6) written as the table ("{:>8.3f}", right-aligned) or the csv module (repr) writes
 * it. d = last - first in ns. Exactly, without floats, when no tie is near: x = d / 1e9 is within 2^-32 s of
 * d / 1e9 for d < 2^50, so round(x, 6) is the double nearest m / 1e6, m = d / 1000 rounded (unless d ends in 500),
 * and that double is within 2^-32 of m / 1e6, so its 3 decimals are m / 1000 rounded (unless m ends in 500) and its
 * repr is m / 1e6's shortest decimal. Otherwise Python's own round and float formatting, through the C API. */
static int put_duration(Engine *e, int64_t d, int csv) {
    char b[48];
    int n = -1;
    if (d >= 0 && d < ((int64_t)1 << 50) && d % 1000 != 500) {
        int64_t m = d / 1000 + (d % 1000 > 500);
        if (!csv) {
            if (m % 1000 != 500) {
                int64_t ms = m / 1000 + (m % 1000 > 500);
                n = digits_at(b, (uint64_t)(ms / 1000));
                b[n++] = '.';
                b[n++] = (char)('0' + ms % 1000 / 100);
                b[n++] = (char)('0' + ms % 100 / 10);
                b[n++] = (char)('0' + ms % 10);
                return put_padded(e, b, n, 8, 1);
            }
        } else if (m == 0) {
            return PUTS("0.0");
        } else if (m >= 100) {
            int64_t frac = m % 1000000;
            int digits = 6;
            while (frac && frac % 10 == 0) {
                frac /= 10;
                digits--;
            }
            n = frac ? snprintf(b, sizeof b, "%lld.%0*lld", (long long)(m / 1000000), digits, (long long)frac)
                     : snprintf(b, sizeof b, "%lld.0", (long long)(m / 1000000));
            return put(e, b, n);
        } else { /* below 1e-4: repr's exponent form, 5e-05, 1.2e-05 */
            if (m >= 10)
                n = m % 10 ? snprintf(b, sizeof b, "%lld.%llde-05", (long long)(m / 10), (long long)(m % 10))
                           : snprintf(b, sizeof b, "%llde-05", (long long)(m / 10));
            else
                n = snprintf(b, sizeof b, "%llde-06", (long long)m);
            return put(e, b, n);
        }
    }
    PyObject *r = py_round((double)d / 1e9, 6);
    if (!r)
        return -1;
    double x = PyFloat_AsDouble(r);
    Py_DECREF(r);
    if (x == -1.0 && PyErr_Occurred())
        return -1;
    char *s = csv ? PyOS_double_to_string(x, 'r', 0, Py_DTSF_ADD_DOT_0, NULL) : PyOS_double_to_string(x, 'f', 3, 0, NULL);
    if (!s)
        return -1;
    int rc = csv ? put(e, s, (Py_ssize_t)strlen(s)) : put_padded(e, s, (Py_ssize_t)strlen(s), 8, 1);
    PyMem_Free(s);
    return rc;
}

/* stats._bytes: "5 bytes", "1 byte", "1.5 KiB", "2.0 MiB" (the words from Python) */
static int put_app_bytes(Engine *e, int64_t n, PyObject *byte_word, PyObject *bytes_word) {
    if (n < 1024) {
        PyObject *w = n == 1 ? byte_word : bytes_word;
        return put_i64(e, n) || PUTS(" ") || put(e, PyBytes_AS_STRING(w), PyBytes_GET_SIZE(w));
    }
    int mib = n >= 1024 * 1024;
    char *s = PyOS_double_to_string(mib ? (double)n / 1024 / 1024 : (double)n / 1024, 'f', 1, 0, NULL);
    if (!s)
        return -1;
    int r = put(e, s, (Py_ssize_t)strlen(s)) || (mib ? PUTS(" MiB") : PUTS(" KiB"));
    PyMem_Free(s);
    return r;
}

/* the facts flow_row's words are a function of (see above), then the Zeek history: the key of a row's words */
typedef struct {
    uint8_t syn, synack, handshake_ack, s2c_packets, nrst, rst_dir, rst_cause, nfin, fin_dir, both_fins_acked,
        shape, zeek_orig_state, zeek_resp_state, zeek_sizes_zero, pad[2];
} RowKey;

static PyObject *row_key(const FlowC *f) {
    RowKey k;
    memset(&k, 0, sizeof k);
    k.syn = f->syn_frame != 0;
    k.synack = f->synack_frame != 0;
    k.handshake_ack = f->handshake_ack_frame != 0;
    k.s2c_packets = f->sd[1].packets != 0;
    k.nrst = f->nrst != 0;
    if (f->nrst) {
        k.rst_dir = (uint8_t)f->rst[0].dir;
        k.rst_cause = (uint8_t)f->rst[0].cause;
    }
    k.nfin = (uint8_t)f->nfin;
    if (f->nfin) {
        k.fin_dir = (uint8_t)f->fin_dir[0];
        k.both_fins_acked = f->fin_acked[0] && f->fin_acked[1];
    }
    if (f->nfin >= 2) { /* close_shape: the first FIN's ACK against the second FIN */
        int64_t acked = f->fin_acked[f->fin_dir[0]], second = f->fin_frame[1];
        k.shape = !acked ? 1 : acked > second ? 2 : acked == second ? 3 : 4;
    }
    const ZeekC *z = &f->zk;
    const ZEnd *zo = &z->ep[z->orig_dir], *zr = &z->ep[1 - z->orig_dir];
    k.zeek_orig_state = (uint8_t)zo->state;
    k.zeek_resp_state = (uint8_t)zr->state;
    k.zeek_sizes_zero = zk_size(zo, zr) == 0 && zk_size(zr, zo) == 0;
    Py_ssize_t h = z->hist ? z->hlen : 0;
    PyObject *key = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)sizeof k + h);
    if (!key)
        return NULL;
    memcpy(PyBytes_AS_STRING(key), &k, sizeof k);
    if (h)
        memcpy(PyBytes_AS_STRING(key) + sizeof k, z->hist, (size_t)h);
    return key;
}

/* texts(stream) -> (byte word, bytes word, cells a, cells b, *verdict parts): bytes, the parts bytes or 0 / 1 (the
 * client's / the server's application bytes go here); checked once, when it comes */
static int row_texts_ok(PyObject *t) {
    if (!PyTuple_Check(t) || PyTuple_GET_SIZE(t) < 4)
        return 0;
    for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(t); k++) {
        PyObject *x = PyTuple_GET_ITEM(t, k);
        if (PyBytes_Check(x))
            continue;
        if (k < 4 || !PyLong_CheckExact(x))
            return 0;
        long v = PyLong_AsLong(x);
        if (v != 0 && v != 1) {
            PyErr_Clear();
            return 0;
        }
    }
    return 1;
}

/* SHA-1 (FIPS 180-4) of a message of 55 bytes at most (one block): community_id_text's */
static void sha1_short(const uint8_t *msg, size_t len, uint8_t digest[20]) {
    uint32_t h[5] = {0x67452301u, 0xefcdab89u, 0x98badcfeu, 0x10325476u, 0xc3d2e1f0u};
    uint8_t p[64];
    memset(p, 0, sizeof p);
    memcpy(p, msg, len);
    p[len] = 0x80;
    p[62] = (uint8_t)(len * 8 >> 8);
    p[63] = (uint8_t)(len * 8);
    uint32_t w[80], a = h[0], b = h[1], c = h[2], d = h[3], x = h[4];
    for (int t = 0; t < 16; t++)
        w[t] = (uint32_t)p[4 * t] << 24 | (uint32_t)p[4 * t + 1] << 16 | (uint32_t)p[4 * t + 2] << 8 | p[4 * t + 3];
    for (int t = 16; t < 80; t++) {
        uint32_t v = w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16];
        w[t] = v << 1 | v >> 31;
    }
    for (int t = 0; t < 80; t++) {
        uint32_t f = t < 20 ? (b & c) | (~b & d) : t < 40 || t >= 60 ? b ^ c ^ d : (b & c) | (b & d) | (c & d);
        uint32_t k = t < 20 ? 0x5a827999u : t < 40 ? 0x6ed9eba1u : t < 60 ? 0x8f1bbcdcu : 0xca62c1d6u;
        uint32_t tmp = (a << 5 | a >> 27) + f + x + k + w[t];
        x = d;
        d = c;
        c = b << 30 | b >> 2;
        b = a;
        a = tmp;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += x;
    for (int k = 0; k < 20; k++)
        digest[k] = (uint8_t)(h[k / 4] >> (24 - 8 * (k % 4)));
}

/* zeek.community_id of a flow (Community ID v1, "1:" + base64 of a SHA-1 over seed 0, the smaller (address,
 * port) endpoint's address first, the other's, proto 6, a zero byte, then the two ports; big-endian), into
 * out[32]; its length (the flows CSV's last column, export.endpoints_community_id). */
static int community_id_text(char *out, const uint8_t *a0, int p0, const uint8_t *a1, int p1, int alen) {
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (alen > 16) /* (addresses are 4 or 16 bytes) */
        alen = 16;
    int c = memcmp(a0, a1, (size_t)alen);
    if (c > 0 || (c == 0 && p0 > p1)) { /* zeek.community_id: (saddr, sport) > (daddr, dport) swaps */
        const uint8_t *ta = a0;
        int tp = p0;
        a0 = a1;
        p0 = p1;
        a1 = ta;
        p1 = tp;
    }
    uint8_t data[2 + 2 * 16 + 6], digest[21];
    size_t n = 0;
    data[n++] = 0, data[n++] = 0; /* the seed */
    memcpy(data + n, a0, (size_t)alen), n += (size_t)alen;
    memcpy(data + n, a1, (size_t)alen), n += (size_t)alen;
    data[n++] = 6, data[n++] = 0; /* TCP, a pad byte */
    data[n++] = (uint8_t)(p0 >> 8), data[n++] = (uint8_t)p0;
    data[n++] = (uint8_t)(p1 >> 8), data[n++] = (uint8_t)p1;
    sha1_short(data, n, digest);
    digest[20] = 0; /* (read by the last group) */
    int m = 0;
    out[m++] = '1', out[m++] = ':';
    for (int k = 0; k < 21; k += 3) { /* 20 bytes: six groups of three, then two bytes and a "=" */
        uint32_t v = (uint32_t)digest[k] << 16 | (uint32_t)digest[k + 1] << 8 | digest[k + 2];
        out[m++] = b64[v >> 18 & 63], out[m++] = b64[v >> 12 & 63], out[m++] = b64[v >> 6 & 63];
        out[m++] = k + 2 < 20 ? b64[v & 63] : '=';
    }
    return m;
}

/* Engine.row_lines(fmt, streams, texts, cache, format_addr) -> str: the rows of streams (a sequence of stream
 * numbers), each ending in a newline; fmt 1 the table, 2 the CSV. cache: a dict the caller keeps across calls
 * (row key -> texts(stream)'s tuple); format_addr: model.format_addr, for the addresses written here not */
static PyObject *Engine_row_lines(Engine *e, PyObject *args) {
    int fmt;
    PyObject *streams, *texts, *cache, *format_addr;
    if (!PyArg_ParseTuple(args, "iOOO!O", &fmt, &streams, &texts, &PyDict_Type, &cache, &format_addr))
        return NULL;
    if (fmt != 1 && fmt != 2) {
        PyErr_SetString(PyExc_ValueError, "Engine.row_lines: fmt 1 (table) or 2 (csv)");
        return NULL;
    }
    if (e->lines_len || e->pk_mode) {
        PyErr_SetString(PyExc_RuntimeError, "Engine.row_lines: not during the packets pass");
        return NULL;
    }
    PyObject *seq = PySequence_Fast(streams, "Engine.row_lines: streams must be a sequence");
    if (!seq)
        return NULL;
    static int ix_retr = -1, ix_dup, ix_lost, ix_zw;
    if (ix_retr < 0)
        for (int k = 0; k < N_FLAGS; k++) {
            if (FLAG_ORDER[k] == A_RETRANSMISSION)
                ix_retr = k;
            if (FLAG_ORDER[k] == A_DUPLICATE_ACK)
                ix_dup = k;
            if (FLAG_ORDER[k] == A_LOST_PACKET)
                ix_lost = k;
            if (FLAG_ORDER[k] == A_ZERO_WINDOW)
                ix_zw = k;
        }
    int csv = fmt == 2;
    Py_ssize_t count = PySequence_Fast_GET_SIZE(seq);
    PyObject **items = PySequence_Fast_ITEMS(seq);
    for (Py_ssize_t j = 0; j < count; j++) {
        Py_ssize_t i = PyLong_AsSsize_t(items[j]);
        if (i == -1 && PyErr_Occurred())
            goto fail;
        if (i < 0 || i >= e->nflows) {
            PyErr_SetString(PyExc_IndexError, "no such stream");
            goto fail;
        }
        FlowTmp tmp;
        const FlowC *f = flow_view(e, i, &tmp);
        PyObject *key = row_key(f);
        if (!key)
            goto fail;
        PyObject *t = PyDict_GetItemWithError(cache, key); /* borrowed: the cache keeps it */
        if (!t) {
            if (PyErr_Occurred()) {
                Py_DECREF(key);
                goto fail;
            }
            if (PyDict_GET_SIZE(cache) >= 65536) /* (crafted histories: the cache stays bounded) */
                PyDict_Clear(cache);
            PyObject *fresh = PyObject_CallFunction(texts, "n", i);
            if (fresh && !row_texts_ok(fresh)) {
                PyErr_SetString(PyExc_TypeError, "Engine.row_lines: texts() must give (bytes x4, bytes or 0/1 ...)");
                Py_CLEAR(fresh);
            }
            if (!fresh || PyDict_SetItem(cache, key, fresh) < 0) {
                Py_XDECREF(fresh);
                Py_DECREF(key);
                goto fail;
            }
            t = fresh;
            Py_DECREF(fresh); /* the cache holds it */
            /* (texts() may have unpacked and packed flows: f is a view of flow i, read again) */
            f = flow_view(e, i, &tmp);
        }
        Py_DECREF(key);
        const SDir *c = &f->sd[0], *s = &f->sd[1];
        char client[64], server[64];
        Py_ssize_t nc = endpoint_text(client, f->addr[0], f->alen, f->port[0], !csv && f->roles_guessed, format_addr);
        Py_ssize_t ns = nc < 0 ? -1 : endpoint_text(server, f->addr[1], f->alen, f->port[1], 0, format_addr);
        if (ns < 0)
            goto fail;
        int64_t d = f->packets ? f->last_ts - f->first_ts : 0;
        PyObject *cells_a = PyTuple_GET_ITEM(t, 2), *cells_b = PyTuple_GET_ITEM(t, 3);
#define CELLS(x) put(e, PyBytes_AS_STRING(x), PyBytes_GET_SIZE(x))
        int r;
        if (!csv) /* export.flows_table_lines */
            r = put_i64_w(e, f->stream, 6) || PUTS("  ") || put_padded(e, client, nc, 22, 1) ||
                PUTS(" \xe2\x86\x92  ") || put_padded(e, server, ns, 22, 0) || PUTS(" ") ||
                put_i64_w(e, c->packets, 7) || PUTS(" ") || put_i64_w(e, s->packets, 7) || PUTS(" ") ||
                put_i64_w(e, c->data_bytes, 9) || PUTS(" ") || put_i64_w(e, s->data_bytes, 9) || PUTS(" ") ||
                put_duration(e, d, 0) || PUTS("s  ") || put_i64_w(e, f->completeness, 5) || PUTS(" ") ||
                CELLS(cells_a) || PUTS(" ") || put_i64_w(e, c->flags[ix_retr] + s->flags[ix_retr], 5) || PUTS(" ") ||
                put_i64_w(e, c->flags[ix_dup] + s->flags[ix_dup], 6) || PUTS(" ") ||
                put_i64_w(e, c->flags[ix_lost] + s->flags[ix_lost], 5) || PUTS("  ");
        else /* export.flows_csv_lines */
            r = put_i64(e, f->stream) || PUTS(",") || put(e, client, nc) || PUTS(",") || put(e, server, ns) ||
                PUTS(",") || put_i64(e, c->packets) || PUTS(",") || put_i64(e, s->packets) || PUTS(",") ||
                put_i64(e, c->data_bytes) || PUTS(",") || put_i64(e, s->data_bytes) || PUTS(",") ||
                put_duration(e, d, 1) || PUTS(",") || CELLS(cells_a) || PUTS(",") || put_i64(e, f->completeness) ||
                PUTS(",") || CELLS(cells_b) || PUTS(",") || put_i64(e, c->flags[ix_retr] + s->flags[ix_retr]) ||
                PUTS(",") || put_i64(e, c->flags[ix_dup] + s->flags[ix_dup]) || PUTS(",") ||
                put_i64(e, c->flags[ix_lost] + s->flags[ix_lost]) || PUTS(",") ||
                put_i64(e, c->flags[ix_zw] + s->flags[ix_zw]) || PUTS(",") || put_i64(e, f->rst_total) || PUTS(",");
        int64_t app[2] = {c->data_packets ? c->seq_hi - c->seq_lo : 0, s->data_packets ? s->seq_hi - s->seq_lo : 0};
        for (Py_ssize_t k = 4; !r && k < PyTuple_GET_SIZE(t); k++) {
            PyObject *part = PyTuple_GET_ITEM(t, k);
            r = PyBytes_Check(part)
                    ? CELLS(part)
                    : put_app_bytes(e, app[PyLong_AsLong(part) == 1],
                                    PyTuple_GET_ITEM(t, 0), PyTuple_GET_ITEM(t, 1));
        }
#undef CELLS
        if (csv && !r) { /* export.flows_csv_lines' community_id */
            char cid[32];
            int m = community_id_text(cid, f->addr[0], f->port[0], f->addr[1], f->port[1], f->alen);
            r = PUTS(",") || put(e, cid, m);
        }
        if (r || PUTS("\n"))
            goto fail;
    }
    Py_DECREF(seq);
    PyObject *out = PyUnicode_DecodeUTF8(e->lines, e->lines_len, NULL);
    e->lines_len = 0;
    return out;
fail:
    Py_DECREF(seq);
    e->lines_len = 0;
    return NULL;
}

static PyObject *Engine_len(Engine *e, PyObject *Py_UNUSED(ignored)) { return PyLong_FromSsize_t(e->nflows); }
static PyObject *Engine_trace_end(Engine *e, PyObject *Py_UNUSED(ignored)) {
    return PyLong_FromLongLong(e->trace_end);
}

/* Engine.partition(k, n, numbered=False): from now on track only the connections in part k of n (partition_of);
 * numbered: count the other parts' streams too (light_track), for Engine.stream_numbers and Engine.streams_seen */
static PyObject *Engine_partition(Engine *e, PyObject *args) {
    unsigned int k, n;
    int numbered = 0;
    if (!PyArg_ParseTuple(args, "II|p", &k, &n, &numbered))
        return NULL;
    if (n == 0 || k >= n) {
        PyErr_SetString(PyExc_ValueError, "Engine.partition(k, n) needs 0 <= k < n");
        return NULL;
    }
    if (e->nflows || e->only >= 0) {
        PyErr_SetString(PyExc_ValueError, "Engine.partition: the engine has already tracked streams, or selects one");
        return NULL;
    }
    e->part = k;
    e->nparts = n;
    e->numbered = numbered;
    Py_RETURN_NONE;
}

/* Engine.select(n): from now on track and analyse only the capture's stream n (tcp.stream, as one pass numbers
 * it), every other connection counted (light_track); what diagram and graph read (engine.StreamSegments) */
static PyObject *Engine_select(Engine *e, PyObject *arg) {
    long long n = PyLong_AsLongLong(arg);
    if (n == -1 && PyErr_Occurred())
        return NULL;
    if (n < 0) {
        PyErr_SetString(PyExc_ValueError, "Engine.select(n) needs n >= 0");
        return NULL;
    }
    if (e->nflows || e->streams_seen || e->nparts || e->split_n || e->keep) {
        PyErr_SetString(PyExc_ValueError, "Engine.select: the engine has already tracked streams, or has parts or "
                                          "a keep() predicate");
        return NULL;
    }
    PyObject *kept = PyList_New(0); /* (Engine.take_kept's, as keep() makes it) */
    if (!kept)
        return NULL;
    Py_XSETREF(e->kept, kept);
    e->only = n;
    e->numbered = 1;
    Py_RETURN_NONE;
}

/* Engine.stream_numbers(start) -> the capture's numbers (tcp.stream) of the part's streams start, start + 1 ...
 * (Engine.partition(k, n, True)): increasing */
static PyObject *Engine_stream_numbers(Engine *e, PyObject *arg) {
    Py_ssize_t start = PyLong_AsSsize_t(arg);
    if (start == -1 && PyErr_Occurred())
        return NULL;
    if (!e->numbered || start < 0 || start > e->nflows) {
        PyErr_SetString(PyExc_ValueError, "Engine.stream_numbers: needs Engine.partition(k, n, True), 0 <= start <= "
                                          "the part's streams");
        return NULL;
    }
    PyObject *out = PyList_New(e->nflows - start);
    if (!out)
        return NULL;
    for (Py_ssize_t i = start; i < e->nflows; i++) {
        PyObject *v = PyLong_FromLongLong(e->gnum[i]);
        if (!v) {
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, i - start, v);
    }
    return out;
}

/* Engine.streams_seen() -> the streams begun so far: every part's with Engine.partition(k, n, True), else this
 * engine's own */
static PyObject *Engine_streams_seen(Engine *e, PyObject *Py_UNUSED(ignored)) {
    return PyLong_FromLongLong(e->streams_seen);
}

/* Engine.saw_frame(ts_ns): a frame Python read and may not hand over (not TCP) still ends the trace so far */
static PyObject *Engine_saw_frame(Engine *e, PyObject *arg) {
    long long ts = PyLong_AsLongLong(arg);
    if (ts == -1 && PyErr_Occurred())
        return NULL;
    if (!in_window(e, ts))
        Py_RETURN_FALSE;
    e->trace_end = ts;
    Py_RETURN_TRUE;
}

/* Engine.time_range(lo, lo_relative, hi, hi_relative, reason): --start/--end (capture.TimeRange), see win_lo */
static PyObject *Engine_time_range(Engine *e, PyObject *args) {
    long long lo, hi;
    int lo_rel, hi_rel;
    PyObject *reason;
    if (!PyArg_ParseTuple(args, "LpLpO", &lo, &lo_rel, &hi, &hi_rel, &reason))
        return NULL;
    if ((lo_rel && (lo < 0 || lo > TS_NS_MAX + 1)) || (hi_rel && (hi < 0 || hi > TS_NS_MAX + 1))) {
        PyErr_SetString(PyExc_ValueError, "Engine.time_range: a relative bound outside [0, TS_NS_MAX + 1]");
        return NULL;
    }
    e->win_lo = lo;
    e->win_hi = hi;
    e->win_lo_rel = lo_rel;
    e->win_hi_rel = hi_rel;
    e->win_pending = lo_rel || hi_rel;
    Py_XSETREF(e->win_reason, Py_NewRef(reason));
    Py_RETURN_NONE;
}

/* Engine.keep(predicate): select streams inside the pass (see Engine.keep in the struct) */
static PyObject *Engine_keep(Engine *e, PyObject *pred) {
    if (!PyCallable_Check(pred)) {
        PyErr_SetString(PyExc_TypeError, "Engine.keep: the predicate must be callable");
        return NULL;
    }
    if (e->nflows) {
        PyErr_SetString(PyExc_RuntimeError, "Engine.keep: set the predicate before the first packet");
        return NULL;
    }
    PyObject *kept = PyList_New(0);
    if (!kept)
        return NULL;
    Py_XSETREF(e->kept, kept);
    Py_XSETREF(e->keep, Py_NewRef(pred));
    Py_RETURN_NONE;
}

/* Engine.packets(fmt, flag_text): the packets pass (see the struct); before the first packet, after keep() */
static PyObject *Engine_packets(Engine *e, PyObject *args) {
    int fmt;
    PyObject *flag_text;
    if (!PyArg_ParseTuple(args, "iO!", &fmt, &PyTuple_Type, &flag_text))
        return NULL;
    if (fmt < 0 || fmt > 3 || PyTuple_GET_SIZE(flag_text) != 512) {
        PyErr_SetString(PyExc_ValueError,
                        "Engine.packets: fmt 0 (Segments only), 1 (jsonl), 2 (csv) or 3 (table), 512 flag texts");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < 512; i++)
        if (!PyBytes_Check(PyTuple_GET_ITEM(flag_text, i))) {
            PyErr_SetString(PyExc_TypeError, "Engine.packets: the flag texts must be bytes");
            return NULL;
        }
    if (e->nflows || (!e->keep && e->only < 0)) {
        PyErr_SetString(PyExc_RuntimeError, "Engine.packets: call keep() or select() first, before the first packet");
        return NULL;
    }
    e->pk_mode = 1;
    e->pk_fmt = fmt;
    Py_XSETREF(e->pk_flag_text, Py_NewRef(flag_text));
    Py_RETURN_NONE;
}

/* Engine.origin(ts_ns): the table's time origin (CaptureStats.first_ts_ns); until it is given, no table rows */
static PyObject *Engine_origin(Engine *e, PyObject *arg) {
    long long ts = PyLong_AsLongLong(arg);
    if (ts == -1 && PyErr_Occurred())
        return NULL;
    e->pk_origin = ts;
    e->pk_has_origin = 1;
    Py_RETURN_NONE;
}

/* Engine.pause_after(ts_ns): see pk_pause_teardown */
static PyObject *Engine_pause_after(Engine *e, PyObject *arg) {
    long long ts = PyLong_AsLongLong(arg);
    if (ts == -1 && PyErr_Occurred())
        return NULL;
    e->pk_pause_ts = ts;
    e->pk_pause_teardown = 1;
    Py_RETURN_NONE;
}

/* Engine.quiet(stream, frame): PacketStream settled the stream's states at frame; unless a SYN, FIN or RST of it
 * came after that frame, its next segments without them are rendered as lines (until one comes) */
static PyObject *Engine_quiet(Engine *e, PyObject *args) {
    long long stream, frame;
    if (!PyArg_ParseTuple(args, "LL", &stream, &frame))
        return NULL;
    if (stream < 0 || stream >= e->nflows) {
        PyErr_SetString(PyExc_IndexError, "no such stream");
        return NULL;
    }
    FlowC *f = e->flows[stream];
    if (IS_PACKED(f)) { /* an ended stream, packed: unpacked, changed and packed again only if it changes */
        FlowTmp tmp;
        const FlowC *v = flow_view(e, stream, &tmp);
        if (v->quiet == (v->last_sfr_frame <= frame))
            Py_RETURN_NONE;
        f = flow_live(e, stream);
        if (!f)
            return NULL;
        f->quiet = f->last_sfr_frame <= frame;
        if (pack_flow(e, stream) < 0)
            return NULL;
        Py_RETURN_NONE;
    }
    f->quiet = f->last_sfr_frame <= frame;
    Py_RETURN_NONE;
}

/* Engine.take_kept() -> the kept Segments since the last call, in capture order (the packets pass: and the
 * LineChunks between them) */
static PyObject *Engine_take_kept(Engine *e, PyObject *Py_UNUSED(ignored)) {
    if (!e->kept)
        return PyList_New(0);
    if (flush_lines(e) < 0)
        return NULL;
    PyObject *fresh = PyList_New(0);
    if (!fresh)
        return NULL;
    PyObject *out = e->kept;
    e->kept = fresh;
    return out;
}

/* Engine.take_foreign() -> for each Segment take_kept() gave since the last call (with parts: Engine.partition),
 * the latest capture time among the other parts' segments between it and the kept segment before it, or None */
static PyObject *Engine_take_foreign(Engine *e, PyObject *Py_UNUSED(ignored)) {
    PyObject *out = PyList_New(e->fts_n);
    if (!out)
        return NULL;
    for (Py_ssize_t i = 0; i < e->fts_n; i++) {
        PyObject *v = e->fts[i] == INT64_MIN ? Py_NewRef(Py_None) : PyLong_FromLongLong(e->fts[i]);
        if (!v) {
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, i, v);
    }
    e->fts_n = 0;
    return out;
}

static int Engine_init(Engine *e, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"rows", "classes", "initial", "detect_hardware_duplicates", "pack_after_ns", NULL};
    Py_buffer rows, classes, initial;
    int hw = 1;
    long long pack_after = FINISHED_HORIZON_NS;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "y*y*y*|pL", kwlist, &rows, &classes, &initial, &hw, &pack_after))
        return -1;
    e->pack_after_ns = pack_after;
    e->win_lo = INT64_MIN;
    e->win_hi = INT64_MAX;
    e->foreign_ts = INT64_MIN;
    e->runs_due = INT64_MAX;
    e->only = -1;
    int ok = rows.len == (Py_ssize_t)sizeof e->rows && classes.len == (Py_ssize_t)sizeof e->classes &&
             initial.len == (Py_ssize_t)sizeof e->initial;
    if (ok) {
        memcpy(e->rows, rows.buf, sizeof e->rows);
        memcpy(e->classes, classes.buf, sizeof e->classes);
        memcpy(e->initial, initial.buf, sizeof e->initial);
    }
    PyBuffer_Release(&rows);
    PyBuffer_Release(&classes);
    PyBuffer_Release(&initial);
    if (!ok) {
        PyErr_SetString(PyExc_ValueError, "Engine: state tables of the wrong size");
        return -1;
    }
    e->detect_hw_dups = hw;
    /* a random SipHash key per engine (os.urandom): the table's layout is unpredictable, the results are not */
    PyObject *os = PyImport_ImportModule("os");
    PyObject *rnd = os ? PyObject_CallMethod(os, "urandom", "i", 16) : NULL;
    Py_XDECREF(os);
    if (!rnd)
        return -1;
    if (!PyBytes_Check(rnd) || PyBytes_GET_SIZE(rnd) != 16) {
        Py_DECREF(rnd);
        PyErr_SetString(PyExc_RuntimeError, "os.urandom(16) did not return 16 bytes");
        return -1;
    }
    memcpy(e->hash_key, PyBytes_AS_STRING(rnd), 16);
    Py_DECREF(rnd);
    return 0;
}

/* Engine.lifecycle(i) -> (client_addr, client_port, server_addr, server_port, roles_guessed,
 *     syn_frame, synack_frame, handshake_ack_frame, handshake_done, fin_frames, fin_next, fin_acked, resets,
 *     data_after_fin, anomalies, client_state, server_state, options, history, orig_dir, sent)
 * fin_frames: [(direction, frame)]; fin_next: (raw or None, raw or None); resets: [(direction, frame, state,
 * cause, len)]; anomalies: [(frame, state, input)]; options: ((mss, wscale, sack_permitted, timestamps) x 2),
 * -1 for none; states and inputs are indices into state.TcpState and state._INPUTS. */
static PyObject *Engine_lifecycle(Engine *e, PyObject *arg) {
    Py_ssize_t i = PyLong_AsSsize_t(arg);
    if (i == -1 && PyErr_Occurred())
        return NULL;
    if (i < 0 || i >= e->nflows) {
        PyErr_SetString(PyExc_IndexError, "no such stream");
        return NULL;
    }
    FlowTmp tmp;
    const FlowC *f = flow_view(e, i, &tmp);
    PyObject *fins = PyList_New(0), *rsts = PyList_New(0), *anoms = PyList_New(0);
    if (!fins || !rsts || !anoms)
        goto fail;
    for (int k = 0; k < f->nfin; k++) {
        PyObject *t = Py_BuildValue("(iL)", f->fin_dir[k], (long long)f->fin_frame[k]);
        if (!t || PyList_Append(fins, t) < 0) {
            Py_XDECREF(t);
            goto fail;
        }
        Py_DECREF(t);
    }
    for (Py_ssize_t k = 0; k < f->nrst; k++) {
        Rst *r = &f->rst[k];
        PyObject *t = Py_BuildValue("(iLiiL)", r->dir, (long long)r->frame, r->state, r->cause, (long long)r->len);
        if (!t || PyList_Append(rsts, t) < 0) {
            Py_XDECREF(t);
            goto fail;
        }
        Py_DECREF(t);
    }
    for (Py_ssize_t k = 0; k < f->nanomalies; k++) {
        Anomaly *a = &f->anomalies[k];
        PyObject *t = Py_BuildValue("(Lii)", (long long)a->frame, a->state, a->input);
        if (!t || PyList_Append(anoms, t) < 0) {
            Py_XDECREF(t);
            goto fail;
        }
        Py_DECREF(t);
    }
    PyObject *rec = PyStructSequence_New(LifecycleRecordType);
    if (!rec)
        goto fail;
#define SET(field, value) PyStructSequence_SET_ITEM(rec, LIFE_##field, (value))
    SET(client_addr, PyBytes_FromStringAndSize((const char *)f->addr[0], f->alen));
    SET(client_port, PyLong_FromLong(f->port[0]));
    SET(server_addr, PyBytes_FromStringAndSize((const char *)f->addr[1], f->alen));
    SET(server_port, PyLong_FromLong(f->port[1]));
    SET(roles_guessed, PyLong_FromLong(f->roles_guessed));
    SET(syn_frame, PyLong_FromLongLong(f->syn_frame));
    SET(synack_frame, PyLong_FromLongLong(f->synack_frame));
    SET(handshake_ack_frame, PyLong_FromLongLong(f->handshake_ack_frame));
    SET(handshake_done, PyLong_FromLong(f->handshake_done));
    SET(fin_frames, fins);
    PyObject *fn0 = f->has_fin_next[0] ? PyLong_FromUnsignedLong(f->fin_next[0]) : Py_NewRef(Py_None);
    PyObject *fn1 = f->has_fin_next[1] ? PyLong_FromUnsignedLong(f->fin_next[1]) : Py_NewRef(Py_None);
    SET(fin_next, Py_BuildValue("(NN)", fn0, fn1));
    SET(fin_acked, Py_BuildValue("(LL)", (long long)f->fin_acked[0], (long long)f->fin_acked[1]));
    SET(resets, rsts);
    SET(resets_total, PyLong_FromLongLong(f->rst_total));
    SET(data_after_fin, Py_BuildValue("(LL)", (long long)f->data_after_fin[0], (long long)f->data_after_fin[1]));
    SET(anomalies, anoms);
    SET(client_state, PyLong_FromLong(f->state[0]));
    SET(server_state, PyLong_FromLong(f->state[1]));
    SET(options, Py_BuildValue("((iiii)(iiii))", f->mss[0], f->wscale_opt[0], f->sack_permitted[0], f->timestamps[0],
                               f->mss[1], f->wscale_opt[1], f->sack_permitted[1], f->timestamps[1]));
    const ZeekC *z = &f->zk;
    const ZEnd *zo = &z->ep[z->orig_dir], *zr = &z->ep[1 - z->orig_dir];
    SET(zeek_orig_dir, PyLong_FromLong(zk_self(f) ? 0 : z->orig_dir));
    SET(zeek_history, PyBytes_FromStringAndSize(z->hist ? z->hist : "", z->hlen));
    SET(zeek_states, Py_BuildValue("(ii)", zo->state, zr->state));
    SET(zeek_pkts, Py_BuildValue("(LL)", (long long)zo->pkts, (long long)zr->pkts));
    SET(zeek_sizes, Py_BuildValue("(LL)", (long long)zk_size(zo, zr), (long long)zk_size(zr, zo)));
    SET(zeek_missed, PyLong_FromLongLong(z->missed));
    SET(zeek_ts, Py_BuildValue("(LL)", (long long)(z->started ? z->start_ns : f->first_ts),
                               (long long)(z->started ? z->last_ns : f->first_ts)));
#undef SET
    return record_done(rec, LIFE_N, LIFE_RECORD_FIELDS); /* the record owns fins, rsts and anoms now */
fail:
    Py_XDECREF(fins);
    Py_XDECREF(rsts);
    Py_XDECREF(anoms);
    return NULL;
}

static void Engine_dealloc(Engine *e) {
    for (Py_ssize_t i = 0; i < e->nflows; i++) {
        if (IS_PACKED(e->flows[i])) {
            PyMem_Free(PACKED(e->flows[i]));
            continue;
        }
        PyMem_Free(e->flows[i]->ad[0].segs);
        PyMem_Free(e->flows[i]->ad[1].segs);
        PyMem_Free(e->flows[i]->rst);
        PyMem_Free(e->flows[i]->anomalies);
        classic_free(&e->flows[i]->cl[0]);
        classic_free(&e->flows[i]->cl[1]);
        PyMem_Free(e->flows[i]->zk.hist);
        PyMem_Free(e->flows[i]->zk.ep[0].blocks);
        PyMem_Free(e->flows[i]->zk.ep[1].blocks);
        PyMem_Free(e->flows[i]);
    }
    PyMem_Free(e->flows);
    free(e->slots);
    PyMem_Free(e->light);
    PyMem_Free(e->gnum);
    PyMem_Free(e->due);
    Py_XDECREF(e->keep);
    Py_XDECREF(e->win_reason);
    split_free(e);
    for (Py_ssize_t i = 0; i < e->pk_cid_n; i++)
        Py_XDECREF(e->pk_cid[i]);
    PyMem_Free(e->pk_cid);
    Py_XDECREF(e->kept);
    runs_free(e);
    PyMem_Free(e->fts);
    Py_XDECREF(e->pk_flag_text);
    PyMem_Free(e->lines);
    clear_ifaces(e);
    PyMem_Free(e->ng_ifs);
    Py_TYPE(e)->tp_free((PyObject *)e);
}

/* ------------------------------------------------------------------------------------------------ */
/* dumps_indented(obj, encode_str, fallback): json.dumps(obj, indent=2), byte for byte (export.py has the
 * Python twin and the reasons). encode_str is json.encoder.encode_basestring_ascii; fallback(o, indent)
 * returns the text of anything but exact dict (str keys) / list / tuple / str / int / float / bool / None. */

typedef struct {
    char *buf;
    Py_ssize_t len, cap;
} Out;

static int out_put(Out *o, const char *s, Py_ssize_t n) {
    if (grow((void **)&o->buf, &o->cap, o->len + n, 1, 1 << 16) < 0)
        return -1;
    memcpy(o->buf + o->len, s, (size_t)n);
    o->len += n;
    return 0;
}

static int out_str(Out *o, PyObject *u) { /* an ASCII str (what the encoders return) */
    Py_ssize_t n;
    const char *s = PyUnicode_AsUTF8AndSize(u, &n);
    return s ? out_put(o, s, n) : -1;
}

static int out_newline(Out *o, int depth) {
    if (out_put(o, "\n", 1) < 0)
        return -1;
    for (int i = 0; i < depth; i++)
        if (out_put(o, "  ", 2) < 0)
            return -1;
    return 0;
}

static int dump(Out *o, PyObject *v, int depth, PyObject *enc, PyObject *fallback) {
    PyTypeObject *t = Py_TYPE(v);
    PyObject *text = NULL;
    if (t == &PyUnicode_Type) {
        text = PyObject_CallOneArg(enc, v);
    } else if (v == Py_None) {
        return out_put(o, "null", 4);
    } else if (v == Py_True) {
        return out_put(o, "true", 4);
    } else if (v == Py_False) {
        return out_put(o, "false", 5);
    } else if (t == &PyLong_Type) {
        text = PyLong_Type.tp_repr(v);
    } else if (t == &PyFloat_Type) {
        double d = PyFloat_AS_DOUBLE(v);
        if (d != d)
            return out_put(o, "NaN", 3);
        if (d == Py_HUGE_VAL)
            return out_put(o, "Infinity", 8);
        if (d == -Py_HUGE_VAL)
            return out_put(o, "-Infinity", 9);
        text = PyFloat_Type.tp_repr(v);
    } else if (t == &PyList_Type || t == &PyTuple_Type) {
        Py_ssize_t n = PySequence_Fast_GET_SIZE(v);
        if (n == 0)
            return out_put(o, "[]", 2);
        if (out_put(o, "[", 1) < 0)
            return -1;
        for (Py_ssize_t i = 0; i < n; i++) {
            if ((i && out_put(o, ",", 1) < 0) || out_newline(o, depth + 1) < 0)
                return -1;
            if (Py_EnterRecursiveCall(" in dumps_indented"))
                return -1;
            int r = dump(o, PySequence_Fast_GET_ITEM(v, i), depth + 1, enc, fallback);
            Py_LeaveRecursiveCall();
            if (r < 0)
                return -1;
        }
        if (out_newline(o, depth) < 0)
            return -1;
        return out_put(o, "]", 1);
    } else if (t == &PyDict_Type) {
        PyObject *k, *val;
        Py_ssize_t pos = 0;
        int plain = 1;
        while (PyDict_Next(v, &pos, &k, &val))
            if (Py_TYPE(k) != &PyUnicode_Type) {
                plain = 0;
                break;
            }
        if (plain) {
            if (PyDict_GET_SIZE(v) == 0)
                return out_put(o, "{}", 2);
            if (out_put(o, "{", 1) < 0)
                return -1;
            pos = 0;
            int first = 1;
            while (PyDict_Next(v, &pos, &k, &val)) {
                if ((!first && out_put(o, ",", 1) < 0) || out_newline(o, depth + 1) < 0)
                    return -1;
                first = 0;
                PyObject *kt = PyObject_CallOneArg(enc, k);
                if (!kt)
                    return -1;
                int r = out_str(o, kt);
                Py_DECREF(kt);
                if (r < 0 || out_put(o, ": ", 2) < 0)
                    return -1;
                Py_INCREF(val); /* PyDict_Next gives a borrowed reference; the fallback may run Python code */
                if (Py_EnterRecursiveCall(" in dumps_indented")) {
                    Py_DECREF(val);
                    return -1;
                }
                r = dump(o, val, depth + 1, enc, fallback);
                Py_LeaveRecursiveCall();
                Py_DECREF(val);
                if (r < 0)
                    return -1;
            }
            if (out_newline(o, depth) < 0)
                return -1;
            return out_put(o, "}", 1);
        }
        text = PyObject_CallFunction(fallback, "Oi", v, depth);
    } else {
        text = PyObject_CallFunction(fallback, "Oi", v, depth);
    }
    if (!text)
        return -1;
    int r = PyUnicode_Check(text) ? out_str(o, text) : (PyErr_SetString(PyExc_TypeError, "encoder: not a str"), -1);
    Py_DECREF(text);
    return r;
}

static PyObject *engine_dumps_indented(PyObject *Py_UNUSED(module), PyObject *args) {
    PyObject *obj, *enc, *fallback;
    int depth = 0; /* the nesting the text sits at: its lines after the first are indented 2 * depth more */
    if (!PyArg_ParseTuple(args, "OOO|i", &obj, &enc, &fallback, &depth))
        return NULL;
    if (depth < 0 || depth > 64) {
        PyErr_SetString(PyExc_ValueError, "dumps_indented: depth 0 to 64");
        return NULL;
    }
    Out o = {NULL, 0, 0};
    PyObject *res = NULL;
    if (dump(&o, obj, depth, enc, fallback) == 0)
        res = PyUnicode_DecodeASCII(o.buf ? o.buf : "", o.len, "strict");
    PyMem_Free(o.buf);
    return res;
}

static PyMethodDef module_methods[] = {
    {"dumps_indented", engine_dumps_indented, METH_VARARGS,
     "json.dumps(obj, indent=2), byte for byte, in C (depth: nested that deep, each line after the first indented "
     "2 * depth more)."},
    {NULL, NULL, 0, NULL}};

static PyMethodDef Engine_methods[] = {
    {"add", (PyCFunction)Engine_add, METH_O, "Track, analyse and count one Segment decoded in Python."},
    {"feed_pcap", (PyCFunction)Engine_feed_pcap, METH_VARARGS, "Consume the complete pcap records of a buffer."},
    {"feed_pcapng", (PyCFunction)(void (*)(void))Engine_feed_pcapng, METH_VARARGS | METH_KEYWORDS,
     "Consume the complete Enhanced Packet Blocks of a buffer, up to the first block Python reads."},
    {"flow", (PyCFunction)Engine_flow, METH_O, "The counters of stream i."},
    {"lifecycle", (PyCFunction)Engine_lifecycle, METH_O, "Endpoints, handshake, FINs, RSTs, states, history."},
    {"memory", (PyCFunction)Engine_memory, METH_NOARGS,
     "Bytes held: {flows, packed, unpacked, packed_bytes, live_bytes, index_bytes} (finished flows are packed; "
     "unpacked: how often a late packet unpacked one)."},
    {"row", (PyCFunction)Engine_row, METH_O, "What the flows table shows of stream i (a RowRecord)."},
    {"row_lines", (PyCFunction)Engine_row_lines, METH_VARARGS,
     "row_lines(fmt, streams, texts, cache, format_addr): the flows table (1) or CSV (2) rows of streams."},
    {"flow_count", (PyCFunction)Engine_len, METH_NOARGS, "Number of streams so far."},
    {"trace_end", (PyCFunction)Engine_trace_end, METH_NOARGS, "The time (ns) of the last frame read."},
    {"saw_frame", (PyCFunction)Engine_saw_frame, METH_O,
     "Python read a frame at this time (ns): whether it lies within the time range."},
    {"time_range", (PyCFunction)Engine_time_range, METH_VARARGS,
     "time_range(lo, lo_relative, hi, hi_relative, reason): frames outside are skipped under reason."},
    {"take_foreign", (PyCFunction)Engine_take_foreign, METH_NOARGS,
     "With parts: per Segment take_kept() gave, the other parts' latest time since the kept one before (or None)."},
    {"select", (PyCFunction)Engine_select, METH_O,
     "select(n): track and analyse only the capture's stream n; count every other connection's streams."},
    {"partition", (PyCFunction)Engine_partition, METH_VARARGS,
     "partition(k, n, numbered=False): track only the connections whose four-tuple falls in part k of n; "
     "numbered: count every part's streams too (stream_numbers, streams_seen)."},
    {"stream_numbers", (PyCFunction)Engine_stream_numbers, METH_O,
     "stream_numbers(start) -> the capture's numbers of the part's streams from start (partition(k, n, True))."},
    {"streams_seen", (PyCFunction)Engine_streams_seen, METH_NOARGS,
     "streams_seen() -> the streams begun so far (every part's with partition(k, n, True))."},
    {"keep", (PyCFunction)Engine_keep, METH_O, "Select streams in the pass: keep(stream, previous, caddr, cport, "
                                               "saddr, sport) -> bool, asked once per stream."},
    {"take_kept", (PyCFunction)Engine_take_kept, METH_NOARGS, "The selected streams' Segments since the last call."},
    {"plain_runs", (PyCFunction)Engine_plain_runs, METH_VARARGS,
     "plain_runs(prefixes, lead, strict): count kept streams' plain segments in runs (PlainRunRecord)."},
    {"runs_due", (PyCFunction)Engine_runs_due, METH_O, "runs_due(ts_ns): plain segments at or after it go out whole."},
    {"runs_flush", (PyCFunction)Engine_runs_flush, METH_NOARGS, "The runs still being counted, into take_kept()."},
    {"split", (PyCFunction)(void (*)(void))Engine_split, METH_VARARGS | METH_KEYWORDS,
     "split(n, clock=False): walk without tracking; each TCP frame to its part's records (and the clock)."},
    {"take_split", (PyCFunction)Engine_take_split, METH_NOARGS,
     "take_split() -> (each part's records, the latest frame time walked or None)."},
    {"feed_frames", (PyCFunction)(void (*)(void))Engine_feed_frames, METH_VARARGS | METH_KEYWORDS,
     "feed_frames(records, frame_offset, links, skip, pos=0, index=0, foreign=None) -> (pos, index, paused, "
     "segments, truncated): a part's records from one file, numbered from frame_offset."},
    {"packets", (PyCFunction)Engine_packets, METH_VARARGS,
     "packets(fmt, flag_text): hand out every kept packet, analysed, as a Segment or a rendered line."},
    {"quiet", (PyCFunction)Engine_quiet, METH_VARARGS, "quiet(stream, frame): the stream's states are settled."},
    {"origin", (PyCFunction)Engine_origin, METH_O, "origin(ts_ns): the packets table's time origin."},
    {"pause_after", (PyCFunction)Engine_pause_after, METH_O,
     "pause_after(ts_ns): also pause after each kept Segment of a stream with a FIN or RST, and at or after ts_ns."},
    {NULL, NULL, 0, NULL}};

static PyTypeObject EngineType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "tcptrace._engine.Engine",
    .tp_basicsize = sizeof(Engine),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The per-packet loop of tcptrace flows (tracker, analysis, counters) in C.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Engine_init,
    .tp_dealloc = (destructor)Engine_dealloc,
    .tp_methods = Engine_methods,
};

static struct PyModuleDef engine_module = {PyModuleDef_HEAD_INIT, "tcptrace._engine",
                                           "Optional C accelerator for tcptrace's per-packet loop.", -1, module_methods};

#define INTERN(var, text)                                                                                        \
    do {                                                                                                         \
        var = PyUnicode_InternFromString(text);                                                                  \
        if (!var)                                                                                                \
            return NULL;                                                                                         \
    } while (0)

PyMODINIT_FUNC PyInit__engine(void) {
    packing_init();
    INTERN(S_frame, "frame");
    INTERN(S_ts_ns, "ts_ns");
    INTERN(S_src, "src");
    INTERN(S_dst, "dst");
    INTERN(S_sport, "sport");
    INTERN(S_dport, "dport");
    INTERN(S_seq_raw, "seq_raw");
    INTERN(S_ack_raw, "ack_raw");
    INTERN(S_flags, "flags");
    INTERN(S_win_raw, "win_raw");
    INTERN(S_hdr_len, "hdr_len");
    INTERN(S_len, "len");
    INTERN(S_ip_id, "ip_id");
    INTERN(S_opt_bytes, "opt_bytes");
    INTERN(S_payload, "payload");
    INTERN(S_header_truncated, "header_truncated");
    INTERN(S_header_error, "header_error");
    INTERN(S_rst_info, "rst_info");
    for (int i = 0; i < N_CAUSES; i++)
        INTERN(S_cause_names[i], CAUSE_NAMES[i]);
    INTERN(S_urg_ptr, "urg_ptr");
    INTERN(S_stream, "stream");
    INTERN(S_number, "number");
    INTERN(S_link_len, "link_len");
    INTERN(S_etype_off, "etype_off");
    INTERN(S_ts_mult, "ts_mult");
    INTERN(S_ts_div, "ts_div");
    INTERN(S_ts_off_ns, "ts_off_ns");
    INTERN(S_decode, "decode");
    if (PyType_Ready(&EngineType) < 0)
        return NULL;
    static PyStructSequence_Desc dir_desc = {"tcptrace._engine.DirRecord",
                                             "One direction's counters (stats.DirStats), by name.", DIR_RECORD_FIELDS,
                                             DIR_N};
    static PyStructSequence_Desc flow_desc = {"tcptrace._engine.FlowRecord",
                                              "A stream's tracking and counters, by name.", FLOW_RECORD_FIELDS, FLOW_N};
    static PyStructSequence_Desc life_desc = {"tcptrace._engine.LifecycleRecord",
                                              "A stream's handshake, close, resets, states and history, by name.",
                                              LIFE_RECORD_FIELDS, LIFE_N};
    static PyStructSequence_Desc row_desc = {"tcptrace._engine.RowRecord",
                                             "What the flows table and CSV show of a stream, by name.",
                                             ROW_RECORD_FIELDS, ROW_N};
    static PyStructSequence_Desc cl_desc = {"tcptrace._engine.ClassicRecord",
                                            "One direction's classic tcptrace tcb (classic.ClassicDir), by name.",
                                            CL_RECORD_FIELDS, CL_N};
    ClassicRecordType = PyStructSequence_NewType(&cl_desc);
    static PyStructSequence_Desc chunk_desc = {"tcptrace._engine.LineChunk",
                                               "Consecutive packets rendered as lines by the engine, by name.",
                                               CHUNK_RECORD_FIELDS, CHUNK_N};
    LineChunkType = PyStructSequence_NewType(&chunk_desc);
    if (!LineChunkType)
        return NULL;
    static PyStructSequence_Desc run_desc = {"tcptrace._engine.PlainRunRecord",
                                             "A stream's consecutive plain segments, counted (model.PlainRun).",
                                             RUN_RECORD_FIELDS, RUN_N};
    PlainRunType = PyStructSequence_NewType(&run_desc);
    if (!PlainRunType)
        return NULL;
    for (int i = 0; i < SEG_N; i++)
        INTERN(S_seg_fields[i], SEG_FIELD_NAMES[i]);
    for (int i = 0; i < N_PHASES; i++)
        INTERN(S_phase_names[i], PHASE_NAMES[i]);
    for (int i = 0; i < N_STATES; i++)
        INTERN(S_state_names[i], STATE_NAMES[i]);
    DirRecordType = PyStructSequence_NewType(&dir_desc);
    FlowRecordType = PyStructSequence_NewType(&flow_desc);
    LifecycleRecordType = PyStructSequence_NewType(&life_desc);
    RowRecordType = PyStructSequence_NewType(&row_desc);
    if (!DirRecordType || !FlowRecordType || !LifecycleRecordType || !RowRecordType || !ClassicRecordType)
        return NULL;
    PyObject *m = PyModule_Create(&engine_module);
    if (!m)
        return NULL;
    if (PyModule_AddObjectRef(m, "Engine", (PyObject *)&EngineType) < 0 ||
        PyModule_AddObjectRef(m, "DirRecord", (PyObject *)DirRecordType) < 0 ||
        PyModule_AddObjectRef(m, "FlowRecord", (PyObject *)FlowRecordType) < 0 ||
        PyModule_AddObjectRef(m, "LifecycleRecord", (PyObject *)LifecycleRecordType) < 0 ||
        PyModule_AddObjectRef(m, "RowRecord", (PyObject *)RowRecordType) < 0 ||
        PyModule_AddObjectRef(m, "ClassicRecord", (PyObject *)ClassicRecordType) < 0 ||
        PyModule_AddObjectRef(m, "LineChunk", (PyObject *)LineChunkType) < 0 ||
        PyModule_AddObjectRef(m, "PlainRunRecord", (PyObject *)PlainRunType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
