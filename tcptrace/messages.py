"""Message catalogues for narratives: one dict per language, the same keys in each.

Adding a language is adding a dict here (and its name to ``LANGUAGES``); no logic changes. Values are
``str.format`` templates with named fields. RFC state names (``SYN_SENT``, ``TIME_WAIT`` ...) and TCP flag names
are never translated: they are what the user sees in Wireshark and in RFC 9293.
"""

from __future__ import annotations

EN: dict[str, str] = {
    # roles, sections
    "client": "client",
    "server": "server",
    "Client": "Client",
    "Server": "Server",
    "section.handshake": "Three-way handshake",
    "section.data": "Data transfer",
    "section.teardown": "Teardown",
    "section.reset": "Reset",
    "header": "Stream {stream}: client {client} → server {server}{guess}",
    "header.guess": " (roles guessed from the ports: the capture starts mid-connection)",
    "header.duration": "{packets} packets over {duration}",
    "frame": "frame",
    "frames": "frames",
    "sep.sentence": ". ",
    "raw": "raw",
    "relative": "relative",
    "step": "step",
    # language metadata: how sentences and list items are joined, the HTML lang, whether text needs a CJK font
    "sep.join": " ",
    "sep.list": "; ",
    "sep.items": ", ",
    "meta.html_lang": "en",
    "meta.cjk": "",
    # capture overview and grouping
    "overview": "{n} TCP connections: {ends}.",
    "overview.end": "{n} {how}",
    "overview.graceful_close": "closed normally",
    "overview.closing": "closing (last ACK not captured)",
    "overview.half_closed": "half-closed",
    "overview.reset": "reset",
    "overview.refused": "refused",
    "overview.unanswered_syn": "never answered",
    "overview.open_at_capture_end": "still open at the end",
    "overview.attention": "Need attention (resets, retransmissions, refusals or anomalies): streams {streams}.",
    "group.like": "Streams {streams} ({n} more connections) went like stream {stream}: the same steps in the same "
    "order, the same flags and states, the same bytes each way, the same end (only ports and times differ).",
    "group.like.one": "Stream {streams} went like stream {stream}: the same steps in the same order, the same flags "
    "and states, the same bytes each way, the same end (only ports and times differ).",
    "select.missing": "no TCP stream {streams} in {capture} (it has {have})",
    "select.have": "{n} streams: 0–{last}",
    "select.have.one": "1 stream: 0",
    "select.have.none": "no TCP streams",
    "select.none": "no stream of {capture} matches the selection",
    "midstream": "The capture begins in the middle of this connection: its handshake, and with it the window "
    "scale each side announced, was not captured, so windows are shown as the raw header field (Wireshark's "
    "scaling factor -1, unknown) and the first states are inferred from what follows.",
    "reuse.after_rst": "The same four-tuple was used by stream {stream}, reset by the {who} {gap} earlier: an RST "
    "leaves no TIME_WAIT behind, so the ports could be used again at once.",
    "reuse.after_close": "The same four-tuple was used by stream {stream}, which ended {gap} earlier: the side "
    "that closed it first is still in TIME_WAIT and accepts this SYN because its sequence number (or timestamp) "
    "is above the old connection's (RFC 9293 §3.6.1, RFC 6191).",
    # handshake and refusal, beyond the basic steps
    "handshake.backlog": "The {server}'s kernel completed this handshake on its own: the connection now waits in "
    "the listen backlog until the {server}'s application calls accept().",
    "refused.numbers": "The RST's raw seq is {seq_raw}: a port nobody listens on has no sequence numbers of its "
    "own, and RFC 9293 §3.10.7.1 answers a SYN with <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>. Its ack = {ack} "
    "(raw {ack_raw}) is the SYN's seq + 1 ({syn_seq_raw} + 1, the SYN consumes one number): acknowledging the SYN "
    "is what makes the client accept the RST. Wireshark shows seq = {seq} (relative) because the server sent no "
    "SYN to number from.",
    "fin.crossed": "Its ack = {ack} does not cover the {other}'s FIN: the {who} sent this FIN before the {other}'s "
    "FIN reached it, so it went from ESTABLISHED to FIN_WAIT_1 and then, on receiving that FIN, to CLOSING.",
    "fin.retransmission": "The {who} sends its FIN again (seq {seq}, copy {copy}, {delay} after the previous "
    "one): a retransmission of the FIN of frame {first_frame}, not a new close. Its FIN has not been "
    "acknowledged; the {who} is still in {state}.",
    "fin.retransmission.ack_lost": "The {who} sends its FIN again (seq {seq}, copy {copy}, {delay} after the "
    "previous one): a retransmission of the FIN of frame {first_frame}, not a new close. The {other}'s ACK of "
    "that FIN was captured but never reached the {who} (it was lost after the capture point), so its "
    "retransmission timer fired; the {who} is still in {state}.",
    "backoff": "Back-off: the copies left {intervals} apart — the retransmission timeout (RTO) doubles while the "
    "copies go unanswered (RFC 6298 §5.5).",
    "backoff.irregular": "The copies left {intervals} apart (the retransmission timer's back-off).",
    "fin_ack.again": "The {who} acknowledges the {other}'s FIN again: ack = {ack}. {states}",
    "time_wait.reack": "This is what TIME_WAIT is for: the {who} still knows the connection and re-sends the last "
    "ACK the {other} is missing.",
    "keepalive.first": "The connection has been idle for {idle}: the {who}'s keep-alive timer fires (SO_KEEPALIVE; Linux "
    "waits net.ipv4.tcp_keepalive_time, 2 hours, unless TCP_KEEPIDLE says otherwise) and it probes the {other}.",
    "data.half_close.closed": "The {who} still sends data after the {other}'s FIN. A FIN closes only one direction, "
    "so that is allowed, but the {other} answers with RST: its application called close(), not shutdown(SHUT_WR), "
    "so nobody will read this data.",
    "keepalive.interval": "The {who} probes again {interval} after its previous keep-alive (the keep-alive "
    "interval, TCP_KEEPINTVL).",
    "ack.window": "The {who}'s receive window is now {win} bytes ({raw} × {factor}).",
    "dupacks.sack": "{n} of them carry SACK blocks telling which bytes after the hole arrived.",
    "dupacks.meanwhile": "Meanwhile the {other} keeps sending new data: {n} segments, {size}.",
    "winupdates": "The {who} sends {n} window updates in a row: no new data acknowledged, only the window "
    "changes as its application reads.",
    # retransmissions, told by what caused them
    "retrans.timeout": "Timeout retransmission: bytes first sent in frame {first_frame}, {since} earlier, sent "
    "again because no ACK came before the retransmission timer expired.",
    "retrans.timeout.uncaptured": "Timeout retransmission: seq {seq} was sent before (its first copy was not "
    "captured), sent again because no ACK came before the retransmission timer expired.",
    "retrans.probe": "Probe retransmission: bytes first sent in frame {first_frame}, only {since} earlier, sent "
    "again before any retransmission timeout could expire (at least 200 ms on Linux): a tail-loss probe (RFC 8985) "
    "re-sends the last segment to draw an ACK.",
    "retrans.probe.uncaptured": "Probe retransmission: seq {seq} sent again before any retransmission timeout "
    "could expire (a tail-loss probe, RFC 8985).",
    "retrans.fast": "Fast retransmission: bytes first sent in frame {first_frame}, {since} earlier, sent again "
    "after duplicate ACKs asked for seq {seq} (the last in frame {frame}): the sender did not wait for a timeout.",
    "retrans.fast.uncaptured": "Fast retransmission: seq {seq} sent again after duplicate ACKs asked for it (the "
    "last in frame {frame}); its first copy was not captured.",
    "retrans.sack": "SACK-driven retransmission: bytes first sent in frame {first_frame}, {since} earlier, sent "
    "again because the receiver's SACK blocks reported them missing.",
    "retrans.sack.uncaptured": "SACK-driven retransmission: seq {seq} sent again because the receiver's SACK "
    "blocks reported it missing; its first copy was not captured.",
    "retrans.spurious": "Spurious retransmission: bytes first sent in frame {first_frame}, {since} earlier, sent "
    "again although the receiver had already acknowledged them (frame {frame}).",
    "retrans.spurious.uncaptured": "Spurious retransmission: seq + len = {end} was already acknowledged by the "
    "receiver (frame {frame}).",
    "retrans.resend": "A retransmission: these bytes were first sent in frame {first_frame}, {since} earlier.",
    "wireshark.ooo": "Wireshark labels it Out-Of-Order because it came only {ms} ms after the previous segment "
    "(less than its threshold of {threshold_ms} ms); the capture shows the same bytes sent before, so it is a "
    "re-send.",
    "gap.reordered": "Seq {seq} is beyond the next expected {expected}: {gap} bytes are missing here, but they "
    "arrive later (frame {later_frame}): reordering, not loss. (Wireshark: Previous segment not captured.)",
    "zwp.linux": "Zero-window probe: the peer's window is 0, so the {who} sends an ACK with seq = {seq} (one "
    "below the next byte) and no data to make the peer report its window (the persist timer, RFC 9293 §3.8.6.1). "
    "Wireshark labels it Keep-Alive because of the seq − 1.",
    "wireshark.window_update_sack": "The ack is stuck at the hole: this is a duplicate ACK carrying SACK blocks "
    "(Wireshark labels it Window update because its window field changed).",
    "sack": "SACK: the {who} has received seq {first}–{last} beyond the hole at {ack} ({missing} bytes are "
    "missing before it).",
    "dsack": "D-SACK (RFC 2883): the {who} reports seq {first}–{last} a second time, below its ack: those bytes "
    "arrived twice, so a retransmission of them was unnecessary.",
    "mss.timestamps": "Full segments carry {len} bytes, not the MSS of {mss}: 12 bytes of each segment's "
    "header go to the timestamp option (RFC 7323).",
    "nagle": "It left {after} after the ACK in frame {ack_frame} acknowledged the {prev_len} bytes of frame "
    "{prev_frame}, {waited} after those: Nagle's algorithm (RFC 896, RFC 9293 §3.7.4) holds small data back while "
    "earlier small data is unacknowledged, so the data written meanwhile ({len} bytes) left only now, together. "
    "An application that needs each small write sent at once sets TCP_NODELAY.",
    "sticky.several": "This one segment carries {n} newline-terminated messages: the application wrote them "
    'separately, TCP delivered them together (the "sticky packet" effect); the receiver must split them at the '
    "newlines.",
    "sticky.framed": "This one segment carries {n} length-prefixed messages ({len} bytes): sent separately, "
    'delivered together (the "sticky packet" effect); the 4-byte length headers let the receiver split them.',
    "framing.split": "These 4 bytes are a length header announcing a {body}-byte message; the body arrives in {n} "
    "segments (frames {first_frame}–{last_frame}): the receiver reads until it has {body} bytes, however TCP cut "
    "them.",
    "sticky.split": "One write was split into {n} segments ({full} bytes each, the last {len}): TCP cuts the byte "
    "stream into segments of at most the MSS; the receiver must not assume one recv() per send().",
    "data.half_close.reads": "The {who} still sends data after the {other}'s FIN, and the {other} acknowledges it: "
    "a FIN closes only one direction (a half-close); the {other} called shutdown(SHUT_WR), not close(), and "
    "keeps reading.",
    "linger.close_wait": "The capture ends with the {who} in CLOSE_WAIT ({waiting} after the FIN): its "
    "application has read end-of-file but has not called close().",
    "linger.fin_wait_2": "The {who} waits in FIN_WAIT_2 for a FIN that has not come; Linux drops an orphaned "
    "FIN_WAIT_2 socket after net.ipv4.tcp_fin_timeout (60 s).",
    # handshake
    "syn": "The {client} sends SYN with seq = {seq} ({alt} {seq_raw}) to ask for a connection, and enters "
    "SYN_SENT. {options}",
    "syn.retransmission": "No answer yet: the {client} sends the SYN again, {delay} after the previous one "
    "(SYN retransmission; the timeout doubles each time: {intervals}).",
    "syn_ack": "The {server} answers SYN+ACK: seq = {seq} ({alt} {seq_raw}), ack = {ack} ({alt} {ack_raw}). The ack "
    "is the client's seq + 1 because a SYN consumes one sequence number: the {server} now expects the client's "
    "byte {ack}. On receiving the SYN the {server} entered SYN_RECEIVED; the {client} is now {client_state}. "
    "{options}",
    "syn_ack.retransmission": "The {server} sends its SYN+ACK again ({delay} after the previous one): the "
    "handshake's last ACK has not arrived yet.",
    "handshake_ack": "The {client} acknowledges the SYN+ACK: seq = {seq}, ack = {ack} ({alt} {ack_raw}, the "
    "server's seq + 1). Both sides are ESTABLISHED. {rtt}",
    "handshake.rtt": "Handshake round-trip time (from the last SYN to this ACK, Wireshark's iRTT): {rtt}.",
    "options.none": "It sends no TCP options.",
    "options.list": "Its options: {items}.",
    "opt.mss": "MSS {mss} (the largest segment it wants to receive)",
    "opt.ws": "window scale {shift} (its windows are multiplied by {factor})",
    "opt.sack": "SACK permitted (it can report blocks received out of order)",
    "opt.ts": "timestamps (for RTT measurement and protection against wrapped sequence numbers)",
    "negotiated": "Negotiated: {items}.",
    "options.cut": "The snap length cut the rest of its options, so they are unknown.",
    "negotiated.unknown": "What was negotiated is unknown: the capture cut the handshake's options (window "
    "scaling, SACK and timestamps may be in use; windows are shown unscaled).",
    "neg.ws.on": "window scaling on (client ×{c}, server ×{s})",
    "neg.ws.off": "no window scaling (both sides must offer it)",
    "neg.sack.on": "SACK on",
    "neg.sack.off": "no SACK",
    "neg.ts.on": "timestamps on",
    "neg.ts.off": "no timestamps",
    "neg.mss": "segments of at most {mss} bytes",
    "refused": "Connection refused: the {server} answers the SYN with RST: nothing listens on port {port}. "
    "The client's connect() fails (ECONNREFUSED) and both sides are CLOSED.",
    "unanswered": "The SYN was never answered in this capture: no SYN+ACK and no RST. The host may be down, "
    "a firewall may drop the SYN, or the capture ended too early.",
    # data
    "data": "The {who} sends {n} {bytes_word} (seq {first}–{last}){push}: {preview}",
    "data.push": ", PSH: hand it to the application now",
    "data.half_close": "The {who} still sends data after the {other}'s FIN. That is allowed: a FIN closes only "
    "one direction (a half-close). If the {other}'s application called shutdown(SHUT_WR) it still reads this "
    "data; if it called close(), its kernel answers with RST.",
    "data.not_captured": "(payload not captured: the snap length cut it)",
    "data.piggyback": "The same segment acknowledges the {other}'s bytes up to seq {upto} ({n} new): the ACK rides "
    "on the data (piggybacking).",
    "data.piggyback_fin": "The same segment acknowledges the {other}'s FIN (ack = {ack}).",
    "byte": "byte",
    "bytes": "bytes",
    "ack": "The {who} acknowledges: ack = {ack}: the {other}'s bytes up to seq {upto} arrived{new}{rtt}.",
    "ack.new": " ({n} new {bytes_word})",
    "ack.rtt": "; {rtt} after frame {frame}",
    "ack.delayed": " (a delayed ACK: the receiver waited for more data before acknowledging)",
    "summary": "The {who} sends {size} in {n} segments over {duration}; {acks} segments from the {other} "
    "acknowledge it.",
    "summary.one": "The {who} sends {size} in {n} segments over {duration}; one segment from the {other} "
    "acknowledges it.",
    "summary.unacked": "The {who} sends {size} in {n} segments over {duration}; the {other} has not acknowledged "
    "them yet.",
    "summary.both": "{a} {b}",
    "summary.ack_only": "The {who} sends {n} ACKs without data over {duration}.",
    "live.so_far": "… stream {stream}, {frames} so far: {text}",
    "coalesced": "TCP is a byte stream: the receiver gets bytes, not messages. If the application wrote these {n} "
    'bytes with several send() calls, they were coalesced into one segment (the "sticky packet" effect), and one '
    "large send() can arrive in several segments: the application must mark where its messages end.",
    "dupacks": "Duplicate ACKs #{a}–#{b} of frame {frame}: the {who} sends {n} ACKs that all say ack = {ack}: it "
    "keeps asking for the same byte, so data after a hole is arriving — a sign of loss (three of them trigger "
    "a fast retransmission).",
    # analysis flags
    "flag.retransmission": "Retransmission: {why}.",
    "flag.fast_retransmission": "Fast retransmission: {why}. The sender did not wait for a timeout.",
    "flag.spurious_retransmission": "Spurious retransmission: {why}.",
    "flag.out_of_order": "Out of order: {why}.",
    "flag.lost_segment": "Previous segment not captured: {why}.",
    "flag.ack_lost_segment": "ACKed unseen segment: {why}.",
    "flag.duplicate_ack": "Duplicate ACK: {why}. The receiver is still waiting for the same byte — a sign of "
    "loss or reordering.",
    "flag.window_update": "Window update: {why}: the {who}'s receive buffer has more free space (its application "
    "read data).",
    "flag.window_update.shrink": "Window update: {why}: the {who}'s receive buffer has less free space.",
    "flag.window_update.after_syn": "Window update: {why}. Nothing was read: this is the {who}'s first segment "
    "after its SYN, and a SYN's window is never scaled; from now on its window field counts in units of {factor} "
    "bytes ({raw} × {factor} = {scaled} bytes).",
    "flag.window_full": "Window full: {why}.",
    "flag.zero_window": "Zero window: the {who}'s receive buffer is full (window 0); the {other} must stop "
    "sending until it opens.",
    "flag.zero_window_probe": "Zero-window probe: {why}.",
    "flag.zero_window_probe_ack": "Zero-window probe ACK: {why}.",
    "flag.keep_alive": "Keep-alive: {why}. It checks the peer is still there (Linux also probes a closed window "
    "this way).",
    "flag.keep_alive_ack": "Keep-alive ACK: {why}.",
    "flag.reused_ports": "Port numbers reused: {why}.",
    "flag.duplicate": "Duplicate frame: {why}.",
    # teardown
    "fin": "The {who} sends FIN (seq {seq}{data}): it has nothing more to send. It enters {who_state}; the "
    "{other}, on receiving it, enters {other_state} (its application will read end-of-file).",
    "fin.in_flight": "The {who} sends FIN (seq {seq}{data}): it has nothing more to send. It enters {who_state}. "
    "Nothing shows yet that the {other} received it, so the {other} is still {other_state} for now.",
    "fin.retransmission.arrives": "This copy gets through: the {other} enters {other_state}.",
    "fin.data": ", after {n} bytes of data in the same segment",
    "fin.second": "The {who} sends its own FIN (seq {seq}){acking}. It enters {who_state}; the {other} is now "
    "{other_state}.",
    "fin.acking": " and in the same segment acknowledges the {other}'s FIN (ack = {ack}): the three-segment "
    "close, FIN+ACK combined",
    "fin.simultaneous": "Both FINs crossed: a simultaneous close. Each side is in CLOSING until its FIN is "
    "acknowledged.",
    "fin_ack": "The {who} acknowledges the {other}'s FIN: ack = {ack} (the FIN's seq + 1: a FIN consumes one "
    "sequence number). {states}",
    "fin_ack.delayed": "It came {rtt} after the FIN (frame {frame}): a delayed ACK — the receiver waited in case "
    "its application would answer at once and the ACK could ride on that.",
    "states": "{client_role} {client_state}, {server_role} {server_state}.",
    "time_wait": "The {who} stays in TIME_WAIT for 2×MSL (twice the maximum segment lifetime, 60 s on Linux) so "
    "that it can re-send the last ACK if it was lost and old duplicates of this connection die out.",
    "closed": "The {who} is CLOSED.",
    "reset": "The {who} resets the connection (RST) in {state}. Likely cause: {cause}. Both endpoints are "
    "CLOSED; unacknowledged data is discarded.",
    "anomaly": "Unexpected for the inferred state: {text}.",
    "step.states": "States: {client_role} {client_state}, {server_role} {server_state}.",
    "malformed.bogus_length": "The {who} sends a TCP header whose data offset is {hdr_len} bytes, less than the "
    '20 every header has (Wireshark: "Bogus TCP header length"). It counts as a packet of this stream, and '
    "Wireshark's sequence analysis takes in its {len} bytes after that offset, but nothing in it is trusted: its "
    "flags, options and states are not told.",
    "malformed.short_segment": "The {who} sends a TCP header that claims {hdr_len} bytes, more than its IP packet "
    'carries (Wireshark: "Short segment"). It counts as a packet of this stream, with its raw sequence numbers, '
    "but nothing in it is trusted or analysed.",
    "late": "({n} more segments of this stream came more than {horizon} after it ended; they are not in this story.)",
    "truncated": "… {n} more steps not shown (use --max-steps N or -v).",
    "verdict": "Verdict: {verdict}.",
    "footer": "{frames} frames, {segments} TCP segments",
    # evidence: why each analysis flag fired (fields from tcptrace.analysis; numbers are relative)
    "why.retransmission": "seq {seq} < next expected {expected}: this data was sent before; {ms} ms after frame "
    "{frame} (the oldest unacknowledged segment)",
    "why.fast_retransmission": "seq {seq} < next expected {expected}, after {dup_acks} duplicate ACKs asking for "
    "seq {seq} (the last in frame {frame}, {ms} ms before)",
    "why.spurious_retransmission": "seq + len = {end} <= {acked}, already acknowledged by the receiver (frame "
    "{frame}): the data had arrived",
    "why.out_of_order": "seq {seq} < next expected {expected}, only {ms} ms after frame {frame} (within "
    "{threshold_ms} ms): sent earlier, arrived late",
    "why.lost_segment": "seq {seq} > next expected {expected} (after frame {frame}): {gap} bytes were not captured",
    "why.ack_lost_segment": "ack {ack} is beyond the highest contiguous data seen from the other side ({seen}): "
    "that data was not captured",
    "why.duplicate_ack": "duplicate #{number} of the ACK in frame {frame} (ack {ack}, no data, same window)",
    "why.window_update": "no data, same seq and ack as before; the window changed from {old} to {new} (raw)",
    "why.window_full": "seq + len = {end} = the receiver's ack {ack} + window {window}: the sender has filled "
    "the receive window",
    "why.zero_window": "the receive window is 0: the sender must stop until it opens",
    "why.zero_window_probe": "1 byte at the next expected seq {seq} while the receiver's window is 0 (since frame "
    "{frame})",
    "why.zero_window_probe_ack": "repeats the previous ACK with window 0 in answer to a zero-window probe: the "
    "window is still closed",
    "why.keep_alive": "{len} byte at seq {seq} = next expected {expected} - 1: already acknowledged data, sent to "
    "elicit an ACK",
    "why.keep_alive.empty": "no data, seq {seq} = next expected {expected} - 1: an already acknowledged sequence "
    "number, sent to elicit an ACK",
    "why.keep_alive_ack": "repeats the previous ACK in answer to a keep-alive",
    "why.reused_ports": "a new SYN with a different initial sequence number on a 4-tuple already seen: a new "
    "connection reuses the ports",
    "why.duplicate": "same IP ID {ip_id}, sequence number and length as frame {frame}, {us} µs earlier: the same "
    "packet captured twice, not a retransmission",
    # verdicts (tcptrace flows, explain headers); "cause.*": likely causes of a reset
    "verdict.sentence": "{opened}, {c2s} client→server and {s2c} server→client, {end}",
    "verdict.opened.handshake": "opened normally",
    "verdict.opened.refused": "refused (RST answering the SYN)",
    "verdict.opened.unanswered_syn": "never answered (SYN only)",
    "verdict.opened.no_syn_ack": "SYN answered without SYN/ACK",
    "verdict.opened.handshake_incomplete": "handshake not captured in full",
    "verdict.opened.mid_stream": "first seen mid-connection",
    "verdict.end.simultaneous": "closed by both sides at once (simultaneous close: the FINs crossed)",
    "verdict.end.three_way": "closed by the {who} with a three-way FIN handshake",
    "verdict.end.four_way": "closed by the {who} with a four-way FIN handshake",
    "verdict.end.closing": "both sides sent FIN ({who} first), the last ACK not captured",
    "verdict.end.half_closed": "half-closed by the {who} (only one FIN)",
    "verdict.end.reset": "reset by the {who} ({cause})",
    "verdict.end.open": "still open at the end of the capture",
    "cause.refused": "connection refused: nothing listens on that port",
    "cause.closed_socket": "data arrived for a socket that was already closed",
    "cause.abortive": "abortive close: the application closed with SO_LINGER 0, or with unread data in its "
    "receive buffer",
    "cause.mid_stream": "reset of a connection whose start was not captured",
    "cause.stray": "stray reset: no connection in a state that expects one",
    "cause.short.refused": "connection refused",
    "cause.short.closed_socket": "data arrived for a socket that was already closed",
    "cause.short.abortive": "abortive close",
    "cause.short.mid_stream": "reset of a connection whose start was not captured",
    "cause.short.stray": "stray reset",
    # ladder diagrams (tcptrace.ladder, tcptrace.diagram)
    "ladder.client": "client",
    "ladder.server": "server",
    "ladder.endpoint": "{endpoint} ({role})",
    "ladder.title": "Stream {stream}: {client} → {server}",
    "ladder.subtitle": "{segments} segments over {duration}; {arrows} drawn as arrows{collapsed}",
    "ladder.subtitle.collapsed": ", {n} in {blocks} collapsed blocks",
    "ladder.collapsed": "frames {first}–{last}: {parts}",
    "ladder.collapsed.data": "the {who} sends {size} in {n} segments",
    "ladder.collapsed.acks": "the {who} answers with {n} ACKs",
    "ladder.collapsed.acks_only": "the {who} sends {n} ACKs",
    "ladder.collapsed.sep": "; ",
    "ladder.collapsed.flags": "inside: {flags}",
    "ladder.gap": "{duration} later",
    "ladder.frame": "frame",
    "ladder.time": "time (s)",
    "ladder.byte": "byte",
    "ladder.bytes": "bytes",
    "ladder.cat.handshake": "handshake (SYN)",
    "ladder.cat.normal": "data / ACK",
    "ladder.cat.teardown": "teardown (FIN)",
    "ladder.cat.retransmission": "retransmission",
    "ladder.cat.out_of_order": "out of order",
    "ladder.cat.lost": "segment not captured (lost)",
    "ladder.cat.dup_ack": "duplicate ACK",
    "ladder.cat.rst": "RST",
    "ladder.cat.zero_window": "zero window",
    "ladder.cat.window_full": "window full",
    "ladder.cat.window_update": "window update",
    "ladder.cat.keep_alive": "keep-alive",
    "ladder.cat.duplicate": "duplicate frame",
    "ladder.note.duplicate": "duplicate of frame {frame}",
    # what the application said (tcptrace.applayer)
    "sep.and": " and ",
    "app.http.request": "The {who} sends an HTTP request: {method} {path} ({size}, {segments}).",
    "app.http.response": "The {who} answers: HTTP {status} {reason}{body} ({size}, {segments}).",
    "app.http.body.length": ", a {n}-byte body (Content-Length)",
    "app.http.body.chunked": ", a {n}-byte body in chunks (Transfer-Encoding: chunked)",
    "app.http.keepalive": "{n} requests and responses share this connection (HTTP keep-alive): each request goes "
    "out on the open connection instead of a new one, which saves a handshake (and a slow start) each time.",
    "app.tls.client_hello": "The {who} opens a TLS session with a ClientHello{sni}, offering up to {version} ({size}, "
    "{segments}).",
    "app.tls.sni": " for the server name {sni} (the SNI extension, sent in clear)",
    "app.tls.server_hello": "The {who} answers with a ServerHello: {version}{cipher} ({size}, {segments}).",
    "app.tls.cipher": ", cipher suite {cipher}",
    "app.tls.records": "The {who} sends {n} more TLS records ({kinds}; {size}, {segments}): their content is "
    "encrypted.",
    "app.tls.record": "The {who} sends one more TLS record ({kinds}; {size}, {segments}): its content is encrypted.",
    "app.dns.answers": "{n} answer records",
    "app.dns.answers.one": "1 answer record",
    "app.dns.query": "The {who} sends a DNS query: {name} {type} (id {id}) ({size}, {segments}).",
    "app.dns.answer": "The {who} answers the DNS query for {name} {type} (id {id}): {rcode}, {answers} ({size}, "
    "{segments}).",
    "app.together": "These {n} messages arrive in one segment (frame {frame}): written one after the other, carried "
    "together; the {framing} tells the receiver where each one ends.",
    "app.framing.dns": "2-byte length before each (RFC 1035 §4.2.2)",
    "app.framing.http": "request line, headers and Content-Length",
    "app.incomplete": "Its end is not in the capture.",
    "app.segments.one": "1 segment",
    "app.segments": "split into {n} segments of {sizes} bytes",
    "app.segments.many": "split into {n} segments (frames {first}–{last})",
    "app.more": "{n} more application messages follow (tcptrace flows --app --format json lists them).",
    # tcptrace.follow: the byte stream's labels (follow --format text, the report)
    "follow.c2s": "client → server",
    "follow.s2c": "server → client",
    "follow.byte": "{n:,} byte",
    "follow.bytes": "{n:,} bytes",
    "follow.frame": "frame {frame}",
    "follow.frame_also": "frame {frame} (also in {others})",
    "follow.chunk": "{dir}, offset {offset}, {size}, {frames}",
    "follow.gap": "{dir}, offset {offset}: {size} {words}{where}",
    "follow.gap.lost": "lost (never captured)",
    "follow.gap.snap": "not captured (snap length)",
    "follow.cut_from": ", cut from frame {frames}",
    "follow.cut_from_many": ", cut from frames {frames}",
    "follow.between": ", between frames {a} and {b}",
    "follow.next_to": ", next to frame {frame}",
    "follow.head": "stream {stream}: {client} → {server}",
    "follow.half": "  {dir}: {size}",
    "follow.half_lost": ", {size} lost (never captured)",
    "follow.half_snap": ", {size} not captured (snap length)",
    "follow.conflict": "  note: {dir}, offset {offset}: frames {kept} and {other} carry different bytes ({size}); the "
    "first copy (frame {kept}) is shown, as a receiver keeps it",
    "follow.more_conflicts": "  note: and {n:,} more places where copies differ (--format json)",
    "follow.ignored": "  note: {dir}, frame {frame}: {size} left out: {reason}",
    "follow.more_ignored": "  note: and {n:,} more segments' payload left out (--format json)",
    "follow.reason.before": "before the stream's first byte (the byte after the SYN, or what the receiver had "
    "acknowledged)",
    "follow.reason.rst": "payload of an RST is not delivered",
}

ZH: dict[str, str] = {
    "client": "客户端",
    "server": "服务器",
    "Client": "客户端",
    "Server": "服务器",
    "section.handshake": "三次握手",
    "section.data": "数据传输",
    "section.teardown": "四次挥手（连接释放）",
    "section.reset": "连接重置",
    "header": "流 {stream}：客户端 {client} → 服务器 {server}{guess}",
    "header.guess": "（客户端和服务器角色按端口推断：捕获从连接中途开始）",
    "header.duration": "共 {packets} 个报文段，历时 {duration}",
    "frame": "帧",
    "frames": "帧",
    "sep.sentence": "。",
    "raw": "原始值",
    "relative": "相对值",
    "step": "步骤",
    "sep.join": "",
    "sep.list": "；",
    "sep.items": "，",
    "meta.html_lang": "zh-CN",
    "meta.cjk": "1",
    "overview": "共 {n} 个 TCP 连接：{ends}。",
    "overview.end": "{n} 个{how}",
    "overview.graceful_close": "正常关闭",
    "overview.closing": "正在关闭（最后一个 ACK 未被捕获）",
    "overview.half_closed": "半关闭",
    "overview.reset": "被重置",
    "overview.refused": "被拒绝",
    "overview.unanswered_syn": "始终没有得到应答",
    "overview.open_at_capture_end": "到捕获结束时仍未关闭",
    "overview.attention": "需要关注（出现了重置、重传、连接被拒绝或异常）：流 {streams}。",
    "group.like": "流 {streams}（另外 {n} 个连接）的过程与流 {stream} 相同：步骤和顺序相同，标志位和状态相同，双向字节数相同，结束方式也相同（只有端口和时间不同）。",
    "group.like.one": "流 {streams} 的过程与流 {stream} 相同：步骤和顺序相同，标志位和状态相同，双向字节数相同，结束方式也相同（只有端口和时间不同）。",
    "select.missing": "{capture} 中没有 TCP 流 {streams}（{have}）",
    "select.have": "共有 {n} 个流：0–{last}",
    "select.have.one": "只有 1 个流：0",
    "select.have.none": "没有 TCP 流",
    "select.none": "{capture} 中没有符合选择条件的流",
    "midstream": "捕获从这个连接的中途开始：握手以及双方在握手中声明的窗口扩大因子都没有被捕获，因此窗口按首部中的原始值显示（Wireshark 的扩大因子为 -1，即未知），最初的状态由后续报文推断。",
    "reuse.after_rst": "同一个四元组之前被流 {stream} 使用过，它在 {gap} 之前被{who}重置：RST 不会留下 TIME_WAIT，所以这些端口可以立即再次使用。",
    "reuse.after_close": "同一个四元组之前被流 {stream} 使用过，它在 {gap} 之前结束：先关闭的一方仍处于 TIME_WAIT，但它接受了这个 SYN，因为 SYN 的序列号（或时间戳）比旧连接的更大（RFC 9293 §3.6.1，RFC 6191）。",
    "handshake.backlog": "这次握手完全由{server}的内核完成：连接现在放在全连接队列（accept 队列，即 listen 的 backlog）中，等待{server}的应用程序调用 accept() 把它取走。",
    "refused.numbers": "RST 的原始序列号是 {seq_raw}：没有程序监听的端口没有自己的序列号，RFC 9293 §3.10.7.1 规定用 <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK> 回应 SYN。它的确认号 ack = {ack}（原始值 {ack_raw}）等于 SYN 的序列号加 1（{syn_seq_raw} + 1，SYN 占用一个序列号）：正因为确认了这个 SYN，客户端才会接受这个 RST。Wireshark 显示 seq = {seq}（相对值），是因为服务器没有发送可作为编号起点的 SYN。",
    "fin.crossed": "它的确认号 ack = {ack} 并没有确认{other}的 FIN：{who}在{other}的 FIN 到达之前就发出了自己的 FIN，所以它先从 ESTABLISHED 进入 FIN_WAIT_1，收到对方的 FIN 后再进入 CLOSING。",
    "fin.retransmission": "{who}再次发送 FIN（seq {seq}，第 {copy} 次重传，距上一次 {delay}）：这是对帧 {first_frame} 中 FIN 的重传，而不是又一次关闭。这个 FIN 还没有被确认，{who}仍处于 {state} 状态。",
    "fin.retransmission.ack_lost": "{who}再次发送 FIN（seq {seq}，第 {copy} 次重传，距上一次 {delay}）：这是对帧 {first_frame} 中 FIN 的重传，而不是又一次关闭。{other}对这个 FIN 的 ACK 虽然被捕获到了，却没有到达{who}（在捕获点之后丢失了），于是{who}的重传计时器超时；{who}仍处于 {state} 状态。",
    "backoff": "退避：各次重传依次相隔 {intervals}——重传一直得不到应答，重传超时时间（RTO）就每次加倍（RFC 6298 §5.5）。",
    "backoff.irregular": "各次重传依次相隔 {intervals}（重传计时器的退避）。",
    "fin_ack.again": "{who}再次确认{other}的 FIN：确认号 ack = {ack}。{states}",
    "time_wait.reack": "这正是 TIME_WAIT 的作用：{who}仍然记得这个连接，于是重发{other}没有收到的最后一个 ACK。",
    "keepalive.first": "连接已经空闲了 {idle}：{who}的保活计时器到期（SO_KEEPALIVE；Linux 默认等待 net.ipv4.tcp_keepalive_time，即 2 小时，除非用 TCP_KEEPIDLE 另行设置），于是向{other}发出探测。",
    "data.half_close.closed": "{who}在{other}的 FIN 之后仍在发送数据。FIN 只关闭一个方向，所以这是允许的，但{other}用 RST 回应：它的应用程序调用的是 close() 而不是 shutdown(SHUT_WR)，这些数据不会有人读取。",
    "keepalive.interval": "{who}在上一个保活探测之后 {interval} 再次探测（保活探测间隔，TCP_KEEPINTVL）。",
    "ack.window": "{who}的接收窗口现在是 {win} 字节（{raw} × {factor}）。",
    "dupacks.sack": "其中 {n} 个携带 SACK 块，告诉对方空洞之后哪些字节已经到达。",
    "dupacks.meanwhile": "与此同时，{other}继续发送新数据：{n} 个报文段，共 {size}。",
    "winupdates": "{who}连续发送了 {n} 个窗口更新：没有确认新数据，只是随着应用程序读走数据，窗口在不断变化。",
    "retrans.timeout": "超时重传：这些字节最早在帧 {first_frame} 中发送（{since} 之前），直到重传计时器到期都没有收到 ACK，所以再次发送。",
    "retrans.timeout.uncaptured": "超时重传：seq {seq} 之前已经发送过（第一次发送未被捕获），直到重传计时器到期都没有收到 ACK，所以再次发送。",
    "retrans.probe": "探测重传：这些字节最早在帧 {first_frame} 中发送，仅仅 {since} 之后就再次发送，此时任何重传超时都还不可能到期（Linux 上 RTO 至少为 200 ms）：这是尾部丢失探测（TLP，RFC 8985），重发最后一个报文段，促使对方回复 ACK。",
    "retrans.probe.uncaptured": "探测重传：seq {seq} 在任何重传超时可能到期之前就被再次发送（尾部丢失探测 TLP，RFC 8985）。",
    "retrans.fast": "快速重传：这些字节最早在帧 {first_frame} 中发送（{since} 之前）；重复确认一再请求 seq {seq}（最后一个在帧 {frame}），于是发送方不等超时就再次发送了它们。",
    "retrans.fast.uncaptured": "快速重传：重复确认一再请求 seq {seq}（最后一个在帧 {frame}），于是再次发送；它的第一次发送未被捕获。",
    "retrans.sack": "由 SACK 触发的重传：这些字节最早在帧 {first_frame} 中发送（{since} 之前）；接收方的 SACK 块表明它们缺失，所以再次发送。",
    "retrans.sack.uncaptured": "由 SACK 触发的重传：接收方的 SACK 块表明 seq {seq} 缺失，所以再次发送；它的第一次发送未被捕获。",
    "retrans.spurious": "虚假重传：这些字节最早在帧 {first_frame} 中发送（{since} 之前）；接收方其实已经确认过它们（帧 {frame}），发送方却又发送了一次。",
    "retrans.spurious.uncaptured": "虚假重传：seq + len = {end}，这部分数据已经被接收方确认过（帧 {frame}）。",
    "retrans.resend": "这是一次重传：这些字节最早在帧 {first_frame} 中发送（{since} 之前）。",
    "wireshark.ooo": "Wireshark 把它标为乱序（Out-Of-Order），因为它只比上一个报文段晚 {ms} ms（小于 Wireshark 的阈值 {threshold_ms} ms）；但捕获中可以看到同样的字节之前已经发送过，所以它其实是重发，而不是乱序。",
    "gap.reordered": "seq {seq} 超过了期望的下一个序列号 {expected}：这里缺了 {gap} 字节，但它们稍后（帧 {later_frame}）到达了，所以这是乱序而不是丢包。（Wireshark 会标为 Previous segment not captured，即前一个报文段未被捕获。）",
    "zwp.linux": "零窗口探测：对方的窗口为 0，所以{who}发送一个不带数据的 ACK，seq = {seq}（比下一个要发送的字节小 1），促使对方报告自己的窗口（持续计时器，RFC 9293 §3.8.6.1）。由于 seq 减了 1，Wireshark 把它标为保活（Keep-Alive）。",
    "wireshark.window_update_sack": "确认号停在空洞处：这是一个携带 SACK 块的重复确认（Wireshark 把它标为窗口更新，只是因为它的窗口字段变了）。",
    "sack": "SACK：{who}已经收到 seq {first}–{last}，这段数据位于从 {ack} 开始的空洞之后（它前面缺少 {missing} 字节）。",
    "dsack": "D-SACK（RFC 2883）：{who}又一次报告了 seq {first}–{last}，而这段数据已经低于它的确认号：这些字节到达了两次，所以对它们的重传其实没有必要。",
    "mss.timestamps": "满载的报文段只携带 {len} 字节数据，而不是 MSS 规定的 {mss} 字节：每个报文段的首部有 12 字节用于时间戳选项（RFC 7323）。",
    "nagle": "帧 {prev_frame} 的 {prev_len} 字节发出 {waited} 后，帧 {ack_frame} 的 ACK 才确认了它们，而这个报文段在该 ACK 之后仅 {after} 就发出了：Nagle 算法（RFC 896，RFC 9293 §3.7.4）在先前的小数据还未被确认时暂缓发送新的小数据，所以这期间写入的数据（{len} 字节）直到此刻才一起发出。需要每次小写入都立即发送的应用程序应设置 TCP_NODELAY。",
    "sticky.several": "这一个报文段里有 {n} 条以换行符结尾的消息：应用程序是分几次写入的，TCP 却把它们一起交付（“粘包”现象）；接收方必须按换行符把它们拆开。",
    "sticky.framed": "这一个报文段里有 {n} 条带长度前缀的消息（共 {len} 字节）：分开发送，却一起交付（“粘包”现象）；接收方靠 4 字节的长度头把它们拆开。",
    "framing.split": "这 4 个字节是长度头，声明后面的消息有 {body} 字节；消息体分 {n} 个报文段到达（帧 {first_frame}–{last_frame}）：无论 TCP 怎样切分，接收方都要一直读到凑齐 {body} 字节为止。",
    "sticky.split": "一次写入被拆成了 {n} 个报文段（每个 {full} 字节，最后一个 {len} 字节）：TCP 把字节流切成不超过 MSS 的报文段；接收方不能假定一次 send() 对应一次 recv()。",
    "data.half_close.reads": "{who}在{other}的 FIN 之后仍在发送数据，而{other}确认了这些数据：FIN 只关闭一个方向（半关闭）；{other}调用的是 shutdown(SHUT_WR) 而不是 close()，它还在继续读取。",
    "linger.close_wait": "捕获结束时{who}仍处于 CLOSE_WAIT 状态（FIN 之后已过 {waiting}）：它的应用程序已经读到文件结束（recv() 返回 0），却还没有调用 close()。",
    "linger.fin_wait_2": "{who}在 FIN_WAIT_2 状态等待一个一直没有到来的 FIN；对于这种孤儿（orphan）FIN_WAIT_2 套接字，Linux 会在 net.ipv4.tcp_fin_timeout（60 s）之后将其丢弃。",
    "syn": "{client}发送 SYN，序列号 seq = {seq}（{alt} {seq_raw}），请求建立连接，并进入 SYN_SENT 状态。{options}",
    "syn.retransmission": "仍未收到应答：{client}在上一个 SYN 发出 {delay} 后再次发送 SYN（SYN 重传；超时时间每次加倍，各次间隔为 {intervals}）。",
    "syn_ack": "{server}回复 SYN+ACK：序列号 seq = {seq}（{alt} {seq_raw}），确认号 ack = {ack}（{alt} {ack_raw}）。"
    "确认号是客户端的序列号加 1，因为 SYN 本身占用一个序列号：{server}接下来期望收到客户端序列号为 {ack} 的字节。"
    "{server}收到 SYN 后进入 SYN_RECEIVED 状态；{client}现在处于 {client_state} 状态。{options}",
    "syn_ack.retransmission": "{server}再次发送 SYN+ACK（距上一次 {delay}）：握手的最后一个 ACK 还没有到达。",
    "handshake_ack": "{client}确认 SYN+ACK：序列号 seq = {seq}，确认号 ack = {ack}（{alt} {ack_raw}，即服务器序列号加 1）。"
    "双方都进入 ESTABLISHED 状态。{rtt}",
    "handshake.rtt": "握手往返时间（从最后一个 SYN 到这个 ACK，即 Wireshark 的 iRTT）：{rtt}。",
    "options.none": "它没有携带 TCP 选项。",
    "options.list": "它携带的选项：{items}。",
    "opt.mss": "最大报文段长度 MSS = {mss}（它希望接收的最大报文段）",
    "opt.ws": "窗口扩大因子 {shift}（它通告的窗口值要乘以 {factor}）",
    "opt.sack": "允许选择确认 SACK（可以报告乱序到达的数据块）",
    "opt.ts": "时间戳（用于测量 RTT 和防止序列号回绕）",
    "negotiated": "协商结果：{items}。",
    "options.cut": "其余选项被快照长度（snaplen）截掉了，无法得知。",
    "negotiated.unknown": "协商结果未知：握手报文的选项被捕获截断了（可能启用了窗口扩大、SACK 和时间戳；窗口按未扩大的原始值显示）。",
    "neg.ws.on": "启用窗口扩大（客户端 ×{c}，服务器 ×{s}）",
    "neg.ws.off": "不使用窗口扩大（双方都提出才会启用）",
    "neg.sack.on": "启用 SACK",
    "neg.sack.off": "不使用 SACK",
    "neg.ts.on": "启用时间戳",
    "neg.ts.off": "不使用时间戳",
    "neg.mss": "报文段最长 {mss} 字节",
    "refused": "连接被拒绝：{server}用 RST 回应了 SYN，因为端口 {port} 上没有程序在监听。客户端的 connect() 失败（ECONNREFUSED），双方都处于 CLOSED 状态。",
    "unanswered": "在这次捕获中，SYN 始终没有得到应答：既没有 SYN+ACK，也没有 RST。可能是对方主机不在线、防火墙丢弃了 SYN，或者捕获结束得太早。",
    "data": "{who}发送 {n} {bytes_word}数据（seq {first}–{last}{push}）：{preview}。",
    "data.push": "，PSH：立即交给应用程序",
    "data.half_close": "{who}在{other}的 FIN 之后仍在发送数据。这是允许的：FIN 只关闭一个方向（半关闭）。如果{other}的应用程序调用的是 shutdown(SHUT_WR)，它仍会读取这些数据；如果调用的是 close()，它的内核会用 RST 回应。",
    "data.not_captured": "内容未被捕获（已被快照长度截掉）",
    "data.piggyback": "同一个报文段还确认了{other}序列号 {upto} 及之前的字节（新确认 {n} 字节）：确认搭载在数据上（捎带确认）。",
    "data.piggyback_fin": "同一个报文段还确认了{other}的 FIN（ack = {ack}）。",
    "byte": "字节",
    "bytes": "字节",
    "ack": "{who}发送确认，确认号 ack = {ack}：{other}序列号 {upto} 及之前的字节都已收到{new}{rtt}。",
    "ack.new": "（新确认 {n} {bytes_word}）",
    "ack.rtt": "；在帧 {frame} 之后 {rtt} 发出",
    "ack.delayed": "（延迟确认：接收方先等待更多数据，然后才确认）",
    "summary": "{who}在 {duration} 内用 {n} 个报文段发送了 {size}；{other}用 {acks} 个报文段进行了确认。",
    "summary.one": "{who}在 {duration} 内用 {n} 个报文段发送了 {size}；{other}用 1 个报文段进行了确认。",
    "summary.unacked": "{who}在 {duration} 内用 {n} 个报文段发送了 {size}；{other}还没有确认它们。",
    "summary.both": "{a}{b}",
    "summary.ack_only": "{who}在 {duration} 内发送了 {n} 个不带数据的 ACK。",
    "live.so_far": "……流 {stream}，到{frames}为止：{text}",
    "coalesced": "TCP 是字节流：接收方收到的是字节而不是消息。如果应用程序用多次 send() 写出这 {n} 个字节，它们被合并到了一个报文段中（即“粘包”现象）；一次大的 send() 也可能分成多个报文段到达：应用程序必须自己标记消息的边界。",
    "dupacks": "对帧 {frame} 的第 {a}–{b} 个重复确认：{who}连续发送了 {n} 个 ACK，确认号都是 ack = {ack}：它一直在请求同一个字节，说明空洞之后的数据正在陆续到达——这是丢包的迹象（三个重复确认就会触发快速重传）。",
    "flag.retransmission": "重传：{why}。",
    "flag.fast_retransmission": "快速重传：{why}。发送方没有等待超时。",
    "flag.spurious_retransmission": "虚假重传：{why}。",
    "flag.out_of_order": "乱序：{why}。",
    "flag.lost_segment": "前一个报文段未被捕获：{why}。",
    "flag.ack_lost_segment": "确认了未捕获的报文段：{why}。",
    "flag.duplicate_ack": "重复确认：{why}。接收方仍在等待同一个字节——这是丢包或乱序的迹象。",
    "flag.window_update": "窗口更新：{why}：{who}的接收缓冲区有了更多空闲空间（它的应用程序读走了数据）。",
    "flag.window_update.shrink": "窗口更新：{why}：{who}的接收缓冲区空闲空间变少了。",
    "flag.window_update.after_syn": "窗口更新：{why}。其实并没有读走数据：这是{who}在 SYN 之后的第一个报文段，而 SYN 报文段中的窗口值从不扩大；从现在起，它的窗口字段以 {factor} 字节为单位（{raw} × {factor} = {scaled} 字节）。",
    "flag.window_full": "窗口已满：{why}。",
    "flag.zero_window": "零窗口：{who}的接收缓冲区已满（窗口为 0）；{other}必须停止发送，直到窗口重新打开。",
    "flag.zero_window_probe": "零窗口探测：{why}。",
    "flag.zero_window_probe_ack": "零窗口探测的确认：{why}。",
    "flag.keep_alive": "保活（Keep-Alive）：{why}。用来检查对方是否还在（Linux 也用这种报文探测零窗口）。",
    "flag.keep_alive_ack": "保活确认：{why}。",
    "flag.reused_ports": "端口被重用：{why}。",
    "flag.duplicate": "重复帧：{why}。",
    "fin": "{who}发送 FIN（seq {seq}{data}）：它没有更多数据要发送，进入 {who_state} 状态；{other}收到后进入 {other_state} 状态（它的应用程序将读到文件结束，即 recv() 返回 0）。",
    "fin.in_flight": "{who}发送 FIN（seq {seq}{data}）：它没有更多数据要发送，进入 {who_state} 状态。目前还看不出{other}已经收到它，所以{other}暂时仍处于 {other_state} 状态。",
    "fin.retransmission.arrives": "这一次重传送达了：{other}进入 {other_state} 状态。",
    "fin.data": "，在同一报文段的 {n} 字节数据之后",
    "fin.second": "{who}发送自己的 FIN（seq {seq}）{acking}。它进入 {who_state} 状态；{other}现在处于 {other_state} 状态。",
    "fin.acking": "，同时在这个报文段中确认{other}的 FIN（ack = {ack}）：FIN 与 ACK 合并，只用三个报文段就完成了关闭",
    "fin.simultaneous": "双方的 FIN 交叉而过：这是同时关闭。每一方都处于 CLOSING 状态，直到自己的 FIN 被确认。",
    "fin_ack": "{who}确认{other}的 FIN：确认号 ack = {ack}（等于 FIN 的序列号加 1，因为 FIN 也占用一个序列号）。{states}",
    "fin_ack.delayed": "这个 ACK 在 FIN（帧 {frame}）之后 {rtt} 才发出：这是延迟确认——接收方先等一等，看应用程序会不会马上回应，好让 ACK 搭载在回应上一起发出。",
    "states": "此时{client_role}处于 {client_state} 状态，{server_role}处于 {server_state} 状态。",
    "time_wait": "{who}在 TIME_WAIT 状态停留 2×MSL（两倍的报文段最大生存时间，Linux 上为 60 s）：这样如果最后一个 ACK 丢失，它还能重发；同时让本连接遗留在网络中的旧报文全部消失。",
    "closed": "{who}进入 CLOSED 状态。",
    "reset": "{who}在 {state} 状态下发送 RST，重置了连接。可能的原因：{cause}。双方都进入 CLOSED 状态；尚未确认的数据被丢弃。",
    "anomaly": "按推断出的状态，这里本不该出现：{text}。",
    "step.states": "此时{client_role}处于 {client_state} 状态，{server_role}处于 {server_state} 状态。",
    "malformed.bogus_length": "{who}发出一个 TCP 首部，其数据偏移只有 {hdr_len} 字节，少于首部必需的 20 字节"
    "（Wireshark：“Bogus TCP header length”）。它算作这个流的一个报文，Wireshark 的序列号分析也计入了偏移之后的 "
    "{len} 字节，但其中的内容都不可信：不讲述它的标志、选项和状态。",
    "malformed.short_segment": "{who}发出一个 TCP 首部，声称长 {hdr_len} 字节，超过了它的 IP 报文所携带的长度"
    "（Wireshark：“Short segment”）。它算作这个流的一个报文，序列号保持原始值，但其中的内容不可信，也不参与分析。",
    "late": "（这个流结束 {horizon} 之后又来了 {n} 个报文段，它们不在这段叙述中。）",
    "truncated": "……还有 {n} 个步骤未显示（可用 --max-steps N 或 -v 显示）。",
    "verdict": "结论：{verdict}。",
    "footer": "共 {frames} 帧，{segments} 个 TCP 报文段",
    "why.retransmission": "seq {seq} < 期望的下一个序列号 {expected}：这些数据之前已经发送过；在帧 {frame}（最早的未确认报文段）之后 {ms} ms",
    "why.fast_retransmission": "seq {seq} < 期望的下一个序列号 {expected}，此前收到了 {dup_acks} 个请求 seq {seq} 的重复确认（最后一个在帧 {frame}，{ms} ms 之前）",
    "why.spurious_retransmission": "seq + len = {end} <= {acked}，接收方已经确认过（帧 {frame}）：数据早已到达",
    "why.out_of_order": "seq {seq} < 期望的下一个序列号 {expected}，距帧 {frame} 仅 {ms} ms（在 {threshold_ms} ms 之内）：较早发出，较晚到达",
    "why.lost_segment": "seq {seq} > 期望的下一个序列号 {expected}（帧 {frame} 之后）：有 {gap} 字节未被捕获",
    "why.ack_lost_segment": "确认号 {ack} 超过了已捕获的对方连续数据的末尾（{seen}）：那部分数据未被捕获",
    "why.duplicate_ack": "帧 {frame} 那个 ACK 的第 {number} 个重复（ack {ack}，不带数据，窗口不变）",
    "why.window_update": "不带数据，seq 和 ack 与之前相同；窗口从 {old} 变为 {new}（原始值）",
    "why.window_full": "seq + len = {end} = 接收方的确认号 {ack} + 窗口 {window}：发送方已经填满了接收窗口",
    "why.zero_window": "接收窗口为 0：发送方必须停止发送，直到窗口重新打开",
    "why.zero_window_probe": "接收方窗口为 0（自帧 {frame} 起）时，在期望的下一个序列号 {seq} 处发送 1 字节",
    "why.zero_window_probe_ack": "为回应零窗口探测，重复上一个窗口为 0 的 ACK：窗口仍然关闭",
    "why.keep_alive": "seq {seq} = 期望的下一个序列号 {expected} - 1，数据长度 {len}：序列号落在已确认的范围内，目的是引出一个 ACK",
    "why.keep_alive.empty": "不带数据，seq {seq} = 期望的下一个序列号 {expected} - 1：序列号落在已确认的范围内，目的是引出一个 ACK",
    "why.keep_alive_ack": "为回应保活探测，重复上一个 ACK",
    "why.reused_ports": "在已经出现过的四元组上又出现了一个初始序列号不同的 SYN：新连接重用了这些端口",
    "why.duplicate": "IP ID {ip_id}、序列号和长度都与帧 {frame} 相同，比它晚 {us} µs：同一个报文被捕获了两次，而不是重传",
    "verdict.sentence": "{opened}，客户端→服务器 {c2s}，服务器→客户端 {s2c}，{end}",
    "verdict.opened.handshake": "正常建立连接",
    "verdict.opened.refused": "连接被拒绝（RST 回应了 SYN）",
    "verdict.opened.unanswered_syn": "始终没有应答（只有 SYN）",
    "verdict.opened.no_syn_ack": "SYN 得到了应答，但不是 SYN+ACK",
    "verdict.opened.handshake_incomplete": "握手没有被完整捕获",
    "verdict.opened.mid_stream": "从连接中途开始捕获",
    "verdict.end.simultaneous": "双方同时关闭（FIN 交叉而过）",
    "verdict.end.three_way": "由{who}主动关闭（三次挥手）",
    "verdict.end.four_way": "由{who}主动关闭（四次挥手）",
    "verdict.end.closing": "双方都发送了 FIN（{who}先发），最后一个 ACK 未被捕获",
    "verdict.end.half_closed": "{who}进行了半关闭（只有一个 FIN）",
    "verdict.end.reset": "被{who}重置（{cause}）",
    "verdict.end.open": "捕获结束时连接仍然打开",
    "cause.refused": "连接被拒绝：该端口上没有程序在监听",
    "cause.closed_socket": "数据到达了一个已经关闭的套接字",
    "cause.abortive": "异常终止：应用程序设置了 SO_LINGER 且超时为 0 后关闭套接字，或者关闭时接收缓冲区中还有未读数据",
    "cause.mid_stream": "重置了一个开头未被捕获的连接",
    "cause.stray": "孤立的 RST：没有任何连接处于预期会出现 RST 的状态",
    "cause.short.refused": "连接被拒绝",
    "cause.short.closed_socket": "数据到达了一个已经关闭的套接字",
    "cause.short.abortive": "异常终止",
    "cause.short.mid_stream": "重置了一个开头未被捕获的连接",
    "cause.short.stray": "孤立的 RST",
    # ladder diagrams (tcptrace.ladder, tcptrace.diagram)
    "ladder.client": "客户端",
    "ladder.server": "服务器",
    "ladder.endpoint": "{endpoint}（{role}）",
    "ladder.title": "流 {stream}：{client} → {server}",
    "ladder.subtitle": "{duration} 内共 {segments} 个报文段；{arrows} 个画成箭头{collapsed}",
    "ladder.subtitle.collapsed": "，{n} 个合并为 {blocks} 块",
    "ladder.collapsed": "帧 {first}–{last}：{parts}",
    "ladder.collapsed.data": "{who}用 {n} 个报文段发送 {size}",
    "ladder.collapsed.acks": "{who}回复 {n} 个 ACK",
    "ladder.collapsed.acks_only": "{who}发送 {n} 个 ACK",
    "ladder.collapsed.sep": "；",
    "ladder.collapsed.flags": "其中：{flags}",
    "ladder.gap": "{duration} 之后",
    "ladder.frame": "帧",
    "ladder.time": "时间（秒）",
    "ladder.byte": "字节",
    "ladder.bytes": "字节",
    "ladder.cat.handshake": "握手（SYN）",
    "ladder.cat.normal": "数据 / ACK",
    "ladder.cat.teardown": "关闭（FIN）",
    "ladder.cat.retransmission": "重传",
    "ladder.cat.out_of_order": "乱序",
    "ladder.cat.lost": "报文段未捕获（丢失）",
    "ladder.cat.dup_ack": "重复确认",
    "ladder.cat.rst": "RST 重置",
    "ladder.cat.zero_window": "零窗口",
    "ladder.cat.window_full": "窗口已满",
    "ladder.cat.window_update": "窗口更新",
    "ladder.cat.keep_alive": "保活",
    "ladder.cat.duplicate": "重复帧",
    "ladder.note.retransmission": "TCP 重传",
    "ladder.note.fast_retransmission": "TCP 快速重传",
    "ladder.note.spurious_retransmission": "TCP 虚假重传",
    "ladder.note.out_of_order": "TCP 乱序",
    "ladder.note.lost_segment": "TCP 前一个报文段未捕获",
    "ladder.note.ack_lost_segment": "TCP 确认了未捕获的报文段",
    "ladder.note.duplicate_ack": "TCP 重复确认 {frame}#{number}",
    "ladder.note.window_update": "TCP 窗口更新",
    "ladder.note.window_full": "TCP 窗口已满",
    "ladder.note.zero_window": "TCP 零窗口",
    "ladder.note.zero_window_probe": "TCP 零窗口探测",
    "ladder.note.zero_window_probe_ack": "TCP 零窗口探测确认",
    "ladder.note.keep_alive": "TCP 保活",
    "ladder.note.keep_alive_ack": "TCP 保活确认",
    "ladder.note.reused_ports": "TCP 端口号重用",
    "ladder.note.duplicate": "帧 {frame} 的重复",
    # 应用层消息 (tcptrace.applayer)
    "sep.and": " 和 ",
    "app.http.request": "{who}发送 HTTP 请求：{method} {path}（{size}，{segments}）。",
    "app.http.response": "{who}返回 HTTP 响应：{status} {reason}{body}（{size}，{segments}）。",
    "app.http.body.length": "，正文 {n} 字节（Content-Length）",
    "app.http.body.chunked": "，正文 {n} 字节，分块传输（Transfer-Encoding: chunked）",
    "app.http.keepalive": "{n} 组请求和响应共用这一个连接（HTTP keep-alive）：每个请求都在已打开的连接上发出，而不是新建连接，每次都省去一次握手（和一次慢启动）。",
    "app.tls.client_hello": "{who}发送 ClientHello，开始 TLS 会话{sni}，最高支持 {version}（{size}，{segments}）。",
    "app.tls.sni": "，服务器名称为 {sni}（SNI 扩展，明文发送）",
    "app.tls.server_hello": "{who}以 ServerHello 应答：{version}{cipher}（{size}，{segments}）。",
    "app.tls.cipher": "，密码套件 {cipher}",
    "app.tls.records": "{who}又发送了 {n} 个 TLS 记录（{kinds}；{size}，{segments}）：其内容已加密。",
    "app.tls.record": "{who}又发送了 1 个 TLS 记录（{kinds}；{size}，{segments}）：其内容已加密。",
    "app.dns.answers": "{n} 条回答记录",
    "app.dns.answers.one": "1 条回答记录",
    "app.dns.query": "{who}发送 DNS 查询：{name} {type}（id {id}）（{size}，{segments}）。",
    "app.dns.answer": "{who}应答对 {name} {type} 的 DNS 查询（id {id}）：{rcode}，{answers}（{size}，{segments}）。",
    "app.together": "这 {n} 条消息在同一个报文段（帧 {frame}）中到达：应用程序先后写入，TCP 把它们一起送达；接收方靠{framing}找到每条消息的结尾。",
    "app.framing.dns": "每条消息前的 2 字节长度（RFC 1035 §4.2.2）",
    "app.framing.http": "请求行、头部和 Content-Length",
    "app.incomplete": "其结尾不在捕获中。",
    "app.segments.one": "1 个报文段",
    "app.segments": "分成 {n} 个报文段，分别为 {sizes} 字节",
    "app.segments.many": "分成 {n} 个报文段（帧 {first}–{last}）",
    "app.more": "后面还有 {n} 条应用层消息（tcptrace flows --app --format json 会列出它们）。",
    # tcptrace.follow: the byte stream labels (follow --format text, the report)
    "follow.c2s": "客户端 → 服务器",
    "follow.s2c": "服务器 → 客户端",
    "follow.byte": "{n:,} 字节",
    "follow.bytes": "{n:,} 字节",
    "follow.frame": "帧 {frame}",
    "follow.frame_also": "帧 {frame}（也在帧 {others} 中）",
    "follow.chunk": "{dir}，偏移 {offset}，{size}，{frames}",
    "follow.gap": "{dir}，偏移 {offset}：{size}{words}{where}",
    "follow.gap.lost": "丢失（从未捕获）",
    "follow.gap.snap": "未捕获（快照长度截断）",
    "follow.cut_from": "，被截断于帧 {frames}",
    "follow.cut_from_many": "，被截断于帧 {frames}",
    "follow.between": "，位于帧 {a} 与帧 {b} 之间",
    "follow.next_to": "，紧邻帧 {frame}",
    "follow.head": "流 {stream}：{client} → {server}",
    "follow.half": "  {dir}：{size}",
    "follow.half_lost": "，{size}丢失（从未捕获）",
    "follow.half_snap": "，{size}未捕获（快照长度截断）",
    "follow.conflict": "  注意：{dir}，偏移 {offset}：帧 {kept} 与帧 {other} 携带的字节不同（{size}）；显示第一份（帧 {kept}），"
    "与接收方保留的一致",
    "follow.more_conflicts": "  注意：另有 {n:,} 处副本不一致（见 --format json）",
    "follow.ignored": "  注意：{dir}，帧 {frame}：{size}未计入：{reason}",
    "follow.more_ignored": "  注意：另有 {n:,} 个报文段的载荷未计入（见 --format json）",
    "follow.reason.before": "位于流的第一个字节之前（SYN 之后的字节，或接收方已确认到的位置）",
    "follow.reason.rst": "RST 的载荷不会交给应用程序",
}

LANGUAGES: dict[str, dict[str, str]] = {"en": EN, "zh": ZH}


def missing_keys() -> dict[str, set[str]]:
    """Keys present in English but missing in another catalogue (tests assert this is empty)."""
    return {lang: set(EN) - set(cat) for lang, cat in LANGUAGES.items() if set(EN) - set(cat)}
