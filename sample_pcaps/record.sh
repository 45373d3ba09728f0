#!/usr/bin/env bash
# record.sh — regenerate every sample capture in sample_pcaps/ from real traffic.
#
# REQUIRES ROOT: it creates network namespaces and a veth pair, and captures
# packets with tcpdump/dumpcap. Run it as:   sudo bash sample_pcaps/record.sh
#
#     record.sh              record every capture, then write all tshark/*.tsv
#     record.sh NAME...      record only these (e.g. `record.sh zero_window`),
#                            then write their tshark/*.tsv only
#     record.sh --list       print the capture names
#
# The captures that are also labs of `tcptrace lab` (echo_ipv4 is the echo lab,
# and zero_window, lossy_bulk, refused, ... the labs of the same names) are
# recorded by running that lab (record_lab below): one recipe for both, in
# tcptrace/lab/labs.py. The programs are those of tcptrace/lab/programs/.
#
# Needs: iproute2 (ip, ss), tcpdump, dumpcap (Wireshark), python3 with
# tcptrace's dependencies (PYTHON=..., default the checkout's .venv); ethtool is
# optional but recommended (apt-get install -y ethtool); iptables for
# lossy_bulk, syn_timeout, fin_lost, data_backoff and sack_dsack only (the
# last also needs NFQUEUE, CONFIG_NETFILTER_NETLINK_QUEUE); TUN/TAP
# (/dev/net/tun) for vlan only; openssl for tls_hello only; tshark to check
# the result and write the tshark/*.tsv golden files.
#
# Why network namespaces and not the loopback: traffic on `lo` is captured with
# a fake Ethernet header and MTU 65536, so segments are nothing like real ones.
# Here a client namespace and a server namespace are joined by a veth pair
# with MTU 1500: captures have the Ethernet link type and wire-sized segments,
# like a capture taken on a real host. All addresses (10.99.0.0/24 and
# fd00:99::/64) exist only inside these namespaces, which this script creates
# for each recording and deletes afterwards: no traffic leaves this machine
# and the host's own network configuration is not touched.
#
# Every capture is taken on the client's side of the veth pair (as if
# tcpdump ran on the client host), except lossy_bulk.pcap and
# sack_dsack.pcap, taken on the sending server's side (see
# record_lossy_bulk). The namespaces are fresh for each capture, so every
# IPv4 capture begins with the ARP exchange and every IPv6 capture with the
# neighbour solicitation/advertisement: real non-TCP frames that a reader
# must skip (midstream.pcap excepted: it is started after the connection is
# up). Sequence numbers, ports and times change from one run to the next
# (the kernel picks them); the shape of each capture does not (lossy_bulk.pcap
# excepted: its losses are random; in sack_dsack.pcap the same segments are
# lost or reordered, but the ACKs' timing varies).

set -euo pipefail

# Every capture this script can record, in recording order; record_<name>
# below records <name>.pcap (or .pcapng).
ALL_CAPTURES=(echo_ipv4 echo_ipv6 refused echo_sll2 echo_snaplen port_reuse
              zero_window keepalive lossy_bulk abort_rst rst_after_close half_close
              syn_timeout coalesced dialogue dialogue_threaded finish_client_closes
              finish_server_closes finish_both_close framing vlan midstream
              fin_lost data_backoff sack_dsack nagle nagle_nodelay reuse_after_rst
              http_keepalive tls_hello dns_tcp)

# No arguments: everything. Otherwise only the captures named.
SELECTED=()
for arg in "$@"; do
    case $arg in
        -h|--help)
            echo "usage: $0 [--list] [NAME...]   (no NAME: record every capture)"
            exit 0 ;;
        --list)
            printf '%s\n' "${ALL_CAPTURES[@]}"
            exit 0 ;;
        *)
            if [[ " ${ALL_CAPTURES[*]} " != *" $arg "* ]]; then
                echo "unknown capture '$arg'; one of: ${ALL_CAPTURES[*]}" >&2
                exit 2
            fi
            SELECTED+=("$arg") ;;
    esac
done

if [[ $(id -u) -ne 0 ]]; then
    echo "record.sh must run as root (it creates network namespaces and captures packets)." >&2
    exit 1
fi

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PROGRAMS="$HERE/../tcptrace/lab/programs"   # the programs of `tcptrace lab`, shipped in the package
# A Python with tcptrace's dependencies (click, dpkt, matplotlib): the checkout's virtualenv if there is one.
if [[ -z ${PYTHON:-} && -x $HERE/../.venv/bin/python ]]; then PYTHON=$HERE/../.venv/bin/python; fi
PYTHON=${PYTHON:-python3}

for tool in ip ss tcpdump dumpcap "$PYTHON"; do
    command -v "$tool" >/dev/null || { echo "missing required tool: $tool" >&2; exit 1; }
done

# Names are suffixed with our PID so that two runs (or leftovers of a killed
# run) never collide. Interface names live inside the namespaces only.
SRV_NS="tcptrace-srv-$$"
CLI_NS="tcptrace-cli-$$"
SRV_IF="tt-srv0"
CLI_IF="tt-cli0"
SRV4="10.99.0.1"
CLI4="10.99.0.2"
SRV6="fd00:99::1"
CLI6="fd00:99::2"
PORT=20000          # the echo server's port
REUSED_SPORT=40000  # fixed client port for port_reuse.pcap
RST_REUSED_SPORT=40001  # fixed client port for reuse_after_rst.pcap
# (The labs' ports -- 20001 for refused, 20002 for syn_timeout, 6000 for the
# dialogues -- are in tcptrace/lab/labs.py.)
HTTP_PORT=8080      # http_keepalive.pcap (Wireshark dissects 8080 as HTTP)
TLS_PORT=8443       # tls_hello.pcap (Wireshark dissects 8443 as TLS)
DNS_PORT=53         # dns_tcp.pcap
VLAN_ID=100         # 802.1Q VLAN on top of the veth pair (vlan.pcap)
SRV4_VLAN="10.99.100.1"
CLI4_VLAN="10.99.100.2"

CAPTURE_PID=""
SERVER_PID=""
EXTRA_PIDS=()       # helpers such as vlan_tagger.py, stopped at the end

srv() { ip netns exec "$SRV_NS" "$@"; }
cli() { ip netns exec "$CLI_NS" "$@"; }

# Stop whatever we started and delete our namespaces (deleting a namespace
# also deletes the veth end inside it, and with it the whole pair).
cleanup() {
    [[ -n $CAPTURE_PID ]] && kill -INT "$CAPTURE_PID" 2>/dev/null || true
    [[ -n $SERVER_PID ]] && kill "$SERVER_PID" 2>/dev/null || true
    for pid in "${EXTRA_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    EXTRA_PIDS=()
    CAPTURE_PID="" SERVER_PID=""
    ip netns del "$SRV_NS" 2>/dev/null || true
    ip netns del "$CLI_NS" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

setup_netns() {
    ip netns add "$SRV_NS"
    ip netns add "$CLI_NS"
    for ns in "$SRV_NS" "$CLI_NS"; do
        ip -n "$ns" link set lo up
        # Quiet IPv6: no duplicate address detection (the address is usable at
        # once) and no router solicitations. "default" applies to the veth
        # created below.
        ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.accept_dad=0
        ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.router_solicitations=0
    done
    # Create the pair directly inside the two namespaces. Fixed MAC
    # addresses make the Ethernet headers the same in every run.
    ip link add "$CLI_IF" netns "$CLI_NS" address 02:00:0a:63:00:02 mtu 1500 type veth \
        peer name "$SRV_IF" netns "$SRV_NS" address 02:00:0a:63:00:01 mtu 1500
    ip -n "$SRV_NS" addr add "$SRV4/24" dev "$SRV_IF"
    ip -n "$CLI_NS" addr add "$CLI4/24" dev "$CLI_IF"
    ip -n "$SRV_NS" addr add "$SRV6/64" dev "$SRV_IF" nodad
    ip -n "$CLI_NS" addr add "$CLI6/64" dev "$CLI_IF" nodad
    # Offloads off: otherwise the kernel hands tcpdump segments bigger than the
    # MTU (TSO/GSO/GRO) and outgoing packets with unfinished checksums (tx
    # checksum offload). With them off, what is captured is what a real wire
    # would carry.
    if command -v ethtool >/dev/null; then
        srv ethtool -K "$SRV_IF" tx off rx off tso off gso off gro off >/dev/null 2>&1 || true
        cli ethtool -K "$CLI_IF" tx off rx off tso off gso off gro off >/dev/null 2>&1 || true
    else
        echo "warning: ethtool not found (apt-get install -y ethtool); offloads stay on" >&2
    fi
    ip -n "$SRV_NS" link set "$SRV_IF" up
    ip -n "$CLI_NS" link set "$CLI_IF" up
    # Let the link come up and the kernel's own IPv6 chatter (MLD reports for
    # the new addresses) pass before any capture starts.
    sleep 3
}

teardown_netns() {
    ip netns del "$SRV_NS"
    ip netns del "$CLI_NS"
}

# start_capture LOG COMMAND...: run a capture program in the client namespace
# and wait until it says it is capturing, so no packet is missed.
# start_capture_in NS LOG COMMAND...: the same in namespace NS.
start_capture() { start_capture_in "$CLI_NS" "$@"; }

start_capture_in() {
    local ns=$1 log=$2; shift 2
    # Started as a plain command (not through the cli function, which would
    # put a subshell in between): `ip netns exec` execs the capture program,
    # so $! is the capture program's own PID and SIGINT reaches it.
    ip netns exec "$ns" "$@" 2>"$log" &
    CAPTURE_PID=$!
    for _ in $(seq 50); do
        if grep -qE 'listening on|Capturing on' "$log"; then
            sleep 0.5   # a little margin after the message
            return 0
        fi
        sleep 0.1
    done
    echo "capture did not start:" >&2; cat "$log" >&2
    exit 1
}

# stop_capture LOG: SIGINT makes tcpdump and dumpcap write out what they have
# and close the file. The kernel hands packets to the capture program in
# blocks, after a buffer timeout: wait longer than that first (tcpdump also
# gets --immediate-mode), then check that nothing was left behind.
stop_capture() {
    local log=$1
    sleep 1.5
    kill -INT "$CAPTURE_PID"
    # Never hang here: if it has not exited after 5 s, terminate it.
    for _ in $(seq 50); do
        kill -0 "$CAPTURE_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -TERM "$CAPTURE_PID" 2>/dev/null || true
    wait "$CAPTURE_PID" || true
    CAPTURE_PID=""
    # tcpdump: "N packets captured" must equal "N packets received by filter".
    local captured received
    captured=$(sed -n 's/^\([0-9]*\) packets\? captured$/\1/p' "$log")
    received=$(sed -n 's/^\([0-9]*\) packets\? received by filter$/\1/p' "$log")
    if [[ -n $captured && $captured != "$received" ]]; then
        echo "capture lost packets ($captured captured, $received received):" >&2
        cat "$log" >&2
        exit 1
    fi
    # dumpcap: "Packets received/dropped on interface 'X': R/D ..." must drop 0.
    if grep -q "received/dropped" "$log" && ! grep -q "received/dropped.*: [0-9]*/0 " "$log"; then
        echo "capture dropped packets:" >&2; cat "$log" >&2
        exit 1
    fi
}

# start_server ARGS...: run the echo server in the server namespace and
# wait until its socket is listening.
# start_server_program PROGRAM ARGS...: the same with another program of
# programs/ (e.g. `start_server_program zero_window.py server --host ...`).
# It waits for a listener on $PORT, or on $LISTEN_PORT if that is set (e.g.
# `LISTEN_PORT=$HTTP_PORT start_server_program http_keepalive.py ...`; bash
# keeps such an assignment for the duration of the function call only).
start_server() { start_server_program echo_server.py "$@"; }

start_server_program() {
    local program=$1; shift
    # A plain command again, so that $! is the server's (timeout's) PID.
    ip netns exec "$SRV_NS" timeout 30 "$PYTHON" "$PROGRAMS/$program" "$@" >/dev/null &
    SERVER_PID=$!
    for _ in $(seq 50); do
        if [[ -n $(srv ss -Hltn "sport = :${LISTEN_PORT:-$PORT}") ]]; then return 0; fi
        sleep 0.1
    done
    echo "$program did not start" >&2
    exit 1
}

wait_server() {
    wait "$SERVER_PID"
    SERVER_PID=""
}

client() { cli timeout 30 "$PYTHON" "$PROGRAMS/$1" "${@:2}"; }

LOG=$(mktemp)

# record_lab LAB FILE: the captures that are labs are recorded by `tcptrace lab LAB --write FILE`, the
# checkout's own tcptrace (tcptrace/lab/labs.py holds each recipe: programs, port, capture side and snap
# length, iptables/sysctl rules; tcptrace/lab/network.py makes the same namespaces and veth pair as
# setup_netns, with IPv6 off instead of waited out). The lab makes and deletes its own namespaces, and
# fails (exit 1) when a program fails or the capture missed packets; then its output is shown.
record_lab() {
    local lab=$1 file=$2 out
    out=$(mktemp)
    if ! PYTHONPATH="$HERE/..${PYTHONPATH:+:$PYTHONPATH}" "$PYTHON" -m tcptrace -q lab "$lab" --no-color \
            --write "$file" >"$out" 2>&1; then
        cat "$out" >&2
        rm -f "$out"
        echo "tcptrace lab $lab failed" >&2
        exit 1
    fi
    grep -E '^  (server|client) \|' "$out" || true   # what the programs said
    rm -f "$out"
}

# --- echo_ipv4.pcap: the classic echo over IPv4, pcap, microseconds --------
record_echo_ipv4() { record_lab echo "$HERE/echo_ipv4.pcap"; }

# --- echo_ipv6.pcapng: the same over IPv6, recorded as pcapng by dumpcap ----
record_echo_ipv6() {
    setup_netns
    start_server --host "$SRV6" --port "$PORT"
    start_capture "$LOG" dumpcap -i "$CLI_IF" -s 0 -w "$HERE/echo_ipv6.pcapng"
    client echo_client.py --host "$SRV6" --port "$PORT"
    wait_server
    stop_capture "$LOG"
    chmod 644 "$HERE/echo_ipv6.pcapng"   # dumpcap creates its files 0600
    teardown_netns
}

# --- refused.pcap: SYN to a port with no listener, RST/ACK back -------------
record_refused() { record_lab refused "$HERE/refused.pcap"; }

# --- echo_sll2.pcap: the echo captured on the "any" pseudo-interface --------
# (Linux cooked capture v2, link type 276). Inside the client namespace "any"
# covers lo and the veth; only the veth carries traffic.
record_echo_sll2() {
    setup_netns
    start_server --host "$SRV4" --port "$PORT"
    start_capture "$LOG" tcpdump -i any -y LINUX_SLL2 -s 0 -U --immediate-mode -Z root -w "$HERE/echo_sll2.pcap"
    client echo_client.py --host "$SRV4" --port "$PORT"
    wait_server
    stop_capture "$LOG"
    teardown_netns
}

# --- echo_snaplen.pcap: 300-byte echo with a 60-byte snap length ------------
# 60 bytes = Ethernet 14 + IPv4 20 + TCP 20 + 6 bytes of TCP options: the
# SYN's options (20 bytes) and the data segments' timestamp option are cut.
record_echo_snaplen() {
    setup_netns
    start_server --host "$SRV4" --port "$PORT"
    start_capture "$LOG" tcpdump -i "$CLI_IF" -s 60 -U --immediate-mode -Z root -w "$HERE/echo_snaplen.pcap"
    client echo_client.py --host "$SRV4" --port "$PORT" --size 300
    wait_server
    stop_capture "$LOG"
    teardown_netns
}

# --- port_reuse.pcap: two connections with the same four-tuple --------------
# The server closes first (--close-after 2), so the TIME_WAIT state is on the
# server, and Linux lets a new SYN with a higher sequence number reopen the
# four-tuple. The client waits for the server's FIN, then reconnects from the
# same source port.
record_port_reuse() {
    setup_netns
    start_server --host "$SRV4" --port "$PORT" --count 2 --close-after 2
    start_capture "$LOG" tcpdump -i "$CLI_IF" -s 0 -U --immediate-mode -Z root -w "$HERE/port_reuse.pcap"
    client echo_client.py --host "$SRV4" --port "$PORT" --source-port "$REUSED_SPORT" --wait-eof
    sleep 0.3
    client echo_client.py --host "$SRV4" --port "$PORT" --source-port "$REUSED_SPORT" --wait-eof
    wait_server
    stop_capture "$LOG"
    teardown_netns
}

# --- zero_window.pcap: a slow reader closes its window ---------------------
# The server's receive buffer is tiny (SO_RCVBUF 4096 before listen) and it
# does not read for 2 s while the client sends 64 KiB: the server advertises
# a zero window, the client's persist timer probes it (about 0.2, 0.65 and
# 1.5 s after; Linux's probes carry no data and seq = snd_una - 1, so tshark
# calls them keep-alives), then the server reads, its window update reopens
# the window and the rest flows. Full packets: about 75 KB.
record_zero_window() { record_lab zero_window "$HERE/zero_window.pcap"; }

# --- keepalive.pcap: an idle connection kept alive ---------------------------
# The client sets SO_KEEPALIVE, TCP_KEEPIDLE=1, TCP_KEEPINTVL=1, TCP_KEEPCNT=3
# and stays idle 3.5 s: about one keep-alive per second, each ACKed by the
# server; then ping/pong and the client closes first.
record_keepalive() {
    setup_netns
    start_server_program keepalive.py server --host "$SRV4" --port "$PORT"
    start_capture "$LOG" tcpdump -i "$CLI_IF" -s 0 -U --immediate-mode -Z root -w "$HERE/keepalive.pcap"
    client keepalive.py client --host "$SRV4" --port "$PORT" --idle 3.5
    wait_server
    stop_capture "$LOG"
    teardown_netns
}

# --- lossy_bulk.pcap: 600 kB from the server with 2 % random loss ------------
# An iptables rule in the CLIENT namespace drops 2 % of the server's segments
# (tcp sport $PORT, SYN/ACK excepted so the handshake is never delayed by a
# 1 s SYN/ACK timeout) when they arrive, on INPUT. The capture is taken on
# the SERVER's (the sender's) veth end, so each dropped segment is in the
# file once as sent, then again as retransmitted, with the client's
# duplicate ACKs and their SACK blocks in between: the sender's view. (A
# tcpdump on the client's veth would see the same: packet sockets get the
# packet before netfilter's INPUT drops it. Only a drop before the capture
# point, e.g. netem on the sender, would leave gaps that tshark calls
# lost_segment.) The drops are random, so every run differs in detail.
# The sender uses CUBIC, Linux's usual default (a new namespace inherits the
# host's default, which may be e.g. BBR, reacting to loss differently; and a
# namespace may not change its default to an algorithm outside
# net.ipv4.tcp_allowed_congestion_control, so bulk.py sets it on its socket
# with TCP_CONGESTION). A 128-byte snap length keeps the file small: every
# header (Ethernet 14 + IPv4 20 + TCP up to 60) is whole, the payload cut.
record_lossy_bulk() { record_lab lossy_bulk "$HERE/lossy_bulk.pcap"; }

# --- abort_rst.pcap: the client aborts with SO_LINGER {1, 0} ----------------
# hello/hi, then close() with a zero linger time: RST from ESTABLISHED.
record_abort_rst() { record_lab abort_rst "$HERE/abort_rst.pcap"; }

# --- rst_after_close.pcap: data to a closed socket ---------------------------
# The server reads one message and closes (FIN); 0.3 s later the client sends
# more and the server's kernel answers with a RST.
record_rst_after_close() { record_lab rst_after_close "$HERE/rst_after_close.pcap"; }

# --- half_close.pcap: shutdown(SHUT_WR), the other side keeps sending -------
# Client request + FIN; the server sends three 100-byte chunks 0.1 s apart
# after that FIN, then its own FIN.
record_half_close() { record_lab half_close "$HERE/half_close.pcap"; }

# --- syn_timeout.pcap: SYNs to a host that never answers ---------------------
# An iptables rule in the SERVER namespace drops every TCP segment to port
# 20002 on INPUT: no SYN/ACK, no RST, as if the host were down or a
# firewall silently dropped. The client connects with a 7.5 s socket timeout:
# its kernel retransmits the SYN with the classic exponential back-off
# (initial RTO 1 s, doubled each time; net.ipv4.tcp_syn_retries 6 would
# allow more), i.e. at about 1, 3 and 7 s, then connect() gives up at 7.5 s
# and the socket is closed in SYN-SENT, which sends nothing. The capture runs
# until the client has exited (and stop_capture's 1.5 s after that).
# Linux 6.5 and later first retransmit the SYN net.ipv4.tcp_syn_linear_timeouts
# times (default 4) at a fixed 1 s interval (SYNs at 0, 1, 2, 3, 4, 5, 7 s):
# that sysctl is set to 0 in the client namespace (per namespace; the host's
# own setting is not touched), where it exists, to get the classic shape.
record_syn_timeout() { record_lab syn_timeout "$HERE/syn_timeout.pcap"; }

# --- coalesced.pcap: two send() calls in one segment (TCP_CORK) -------------
# The client corks its socket, sends "hello " and "world!", uncorks: one
# 12-byte segment "hello world!". The server echoes what one recv() returned.
record_coalesced() { record_lab coalesced "$HERE/coalesced.pcap"; }

# --- dialogue.pcap: the tutorial line dialogue on port 6000 ----------------
# Server: "Welcome!", "What's your name?"; client: "Alice"; server:
# "Hello, Alice!"; client: "exit"; the server closes first. The segmentation
# is whatever the kernels chose (Nagle, delayed ACKs).
record_dialogue() { record_lab dialogue "$HERE/dialogue.pcap"; }

# --- dialogue_threaded.pcap: the dialogue with three concurrent clients ----
# The server (--threaded --count 3) serves each connection in its own
# thread. The clients Alice, Bob and Carol start one after the other, each
# once the previous one's connection is established (0.3 s apart or so: the
# time a client takes to start), and pause 1 s before each line they send,
# so their dialogues overlap in a fixed order: the three handshakes and
# greetings, the three names and replies, the three exits and closes.
record_dialogue_threaded() { record_lab dialogue_threaded "$HERE/dialogue_threaded.pcap"; }

# --- finish_*.pcap: five messages, End/Finish!, then three ways to close ----
# finish.py with --closer client, server or both (the labs of the same
# names). The client sends "message 1" to
# "message 5" 0.1 s apart (one segment each), then "End"; the server answers
# "Finish!". With client or server, the other side waits 0.2 s after reading
# the FIN before closing (four-segment close); with both, both sides wait
# for the same whole second of the clock and call shutdown(SHUT_WR) at once
# (spinning the last 50 ms, on separate CPUs, at real-time priority): the
# two FINs cross on the veth (simultaneous close).
record_finish_client_closes() { record_lab finish_client_closes "$HERE/finish_client_closes.pcap"; }
record_finish_server_closes() { record_lab finish_server_closes "$HERE/finish_server_closes.pcap"; }
record_finish_both_close() { record_lab finish_both_close "$HERE/finish_both_close.pcap"; }

# --- framing.pcap: a length-prefixed reply, header and body sent apart -----
# The client sends the command "GET 20000" (4-byte length + command, one
# send()); the server answers with the 4-byte big-endian length in one
# send() and the 20000-byte body in another.
record_framing() { record_lab framing "$HERE/framing.pcap"; }

# --- vlan.pcap: the echo over an 802.1Q VLAN, captured on the parent -------
# Each end of the veth pair gets a VLAN sub-interface (VLAN id $VLAN_ID,
# addresses $CLI4_VLAN/$SRV4_VLAN), and the capture is taken on the parent
# veth, so every frame (ARP included) carries the 4-byte 802.1Q tag. The
# natural way, `ip link add link tt-cli0 name tt-cli0.100 type vlan id 100`,
# needs a kernel with 802.1Q support, which the recording machine's kernel
# lacks (CONFIG_VLAN_8021Q unset; no tc vlan action nor bridge VLAN
# filtering either): programs/vlan_tagger.py does the same in user space,
# with a TAP interface named like the sub-interface (same MAC as its parent,
# as the kernel's would have) and a packet socket on the parent that inserts
# the tag into every frame the TAP sends and strips it from every frame
# received with that VLAN id. The frames on the veth are those the kernel
# driver would send. IPv6 is disabled on the sub-interfaces (default.
# disable_ipv6 before they are created), so no IPv6 chatter starts when they
# come up. A 1448-byte echo (one full-sized segment each way, so the shape
# does not depend on timing) shows the largest tagged frames: 1518 bytes.
start_vlan_tagger() {
    local ns=$1 parent=$2 mac=$3
    ip netns exec "$ns" timeout 30 "$PYTHON" "$PROGRAMS/vlan_tagger.py" \
        --tap "$parent.$VLAN_ID" --parent "$parent" --vid "$VLAN_ID" >/dev/null &
    EXTRA_PIDS+=($!)
    for _ in $(seq 50); do
        if ip -n "$ns" link show "$parent.$VLAN_ID" >/dev/null 2>&1; then break; fi
        sleep 0.1
    done
    ip -n "$ns" link set "$parent.$VLAN_ID" address "$mac" mtu 1500
    if command -v ethtool >/dev/null; then
        ip netns exec "$ns" ethtool -K "$parent.$VLAN_ID" tx off rx off tso off gso off gro off >/dev/null 2>&1 || true
    fi
}

record_vlan() {
    setup_netns
    local ns pid
    for ns in "$SRV_NS" "$CLI_NS"; do
        ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.disable_ipv6=1
    done
    start_vlan_tagger "$SRV_NS" "$SRV_IF" 02:00:0a:63:00:01
    start_vlan_tagger "$CLI_NS" "$CLI_IF" 02:00:0a:63:00:02
    ip -n "$SRV_NS" addr add "$SRV4_VLAN/24" dev "$SRV_IF.$VLAN_ID"
    ip -n "$CLI_NS" addr add "$CLI4_VLAN/24" dev "$CLI_IF.$VLAN_ID"
    ip -n "$SRV_NS" link set "$SRV_IF.$VLAN_ID" up
    ip -n "$CLI_NS" link set "$CLI_IF.$VLAN_ID" up
    sleep 1
    start_server --host "$SRV4_VLAN" --port "$PORT"
    start_capture "$LOG" tcpdump -i "$CLI_IF" -s 0 -U --immediate-mode -Z root -w "$HERE/vlan.pcap"
    client echo_client.py --host "$SRV4_VLAN" --port "$PORT" --size 1448
    wait_server
    stop_capture "$LOG"
    for pid in "${EXTRA_PIDS[@]}"; do kill "$pid"; wait "$pid" 2>/dev/null || true; done
    EXTRA_PIDS=()
    teardown_netns
}

# --- midstream.pcap: a capture that starts after the handshake -------------
# slow_client.py sends "line 1" to "line 10", each echoed by the echo
# server, 0.2 s apart. tcpdump is started only once the client has said
# "line 3 echoed" (about 0.4 s after the connection was established), in
# the 0.2 s pause before line 4: the file begins in the middle of the
# connection, with line 4 — no SYN, no ARP (already resolved), lines 1–3
# missing. The client then closes normally, inside the capture.
record_midstream() {
    setup_netns
    start_server --host "$SRV4" --port "$PORT"
    local out client_pid
    out=$(mktemp)
    client slow_client.py --host "$SRV4" --port "$PORT" --lines 10 --interval 0.2 >"$out" &
    client_pid=$!
    for _ in $(seq 250); do
        if grep -q '^line 3 echoed' "$out"; then break; fi
        sleep 0.02
    done
    start_capture "$LOG" tcpdump -i "$CLI_IF" -s 0 -U --immediate-mode -Z root -w "$HERE/midstream.pcap"
    wait "$client_pid"
    tail -n 1 "$out"
    rm -f "$out"
    wait_server
    stop_capture "$LOG"
    teardown_netns
}

# --- fin_lost.pcap: the last ACK lost, the FIN re-sent into TIME_WAIT ------
# hello/hi, then the server closes first (0.2 s after hi): server FIN, the
# client's ACK of it. While the client waits 0.2 s in CLOSE_WAIT, an
# iptables rule is inserted in the CLIENT namespace that drops the next
# pure ACK (flags exactly ACK) from the server on INPUT, and only that one
# (`-m quota --quota 52`: the rule matches while its 52-byte quota lasts, and
# a pure ACK with timestamps is a 52-byte IPv4 packet). The client closes
# (FIN, LAST_ACK); the server's ACK of that FIN is captured on the client's
# veth (packet sockets get it before netfilter's INPUT) but never reaches
# the client's TCP, so the client retransmits its FIN after its
# retransmission timeout (about 0.2 s) and the server, in TIME_WAIT, ACKs it
# again. The rule is inserted only once the client's socket is in
# CLOSE_WAIT, because the server's kernel also sends a pure ACK of hello
# earlier, which must pass.
record_fin_lost() {
    command -v iptables >/dev/null || { echo "fin_lost needs iptables" >&2; exit 1; }
    setup_netns
    start_server_program fin_lost.py server --host "$SRV4" --port "$PORT"
    start_capture "$LOG" tcpdump -i "$CLI_IF" -s 0 -U --immediate-mode -Z root -w "$HERE/fin_lost.pcap"
    local client_pid inserted=""
    client fin_lost.py client --host "$SRV4" --port "$PORT" &
    client_pid=$!
    for _ in $(seq 500); do
        if [[ -n $(cli ss -Htn state close-wait "dport = :$PORT") ]]; then
            cli iptables -I INPUT -p tcp --sport "$PORT" --tcp-flags ALL ACK -m quota --quota 52 -j DROP
            inserted=yes
            break
        fi
        sleep 0.01
    done
    wait "$client_pid"
    wait_server
    stop_capture "$LOG"
    [[ -n $inserted ]] || { echo "fin_lost: the client never reached CLOSE_WAIT" >&2; exit 1; }
    echo "client dropped $(cli iptables -L INPUT -v -x -n | awk '$3 == "DROP" {print $1}') ACK(s)"
    teardown_netns
}

# --- data_backoff.pcap: a message retransmitted with RTO back-off ------------
# hello/hi, then 0.3 s later the client sends a 100-byte message. Two
# iptables rules in the SERVER namespace drop, on INPUT, the first five
# copies of that segment (`-m length --length 152`: 20 IPv4 + 32 TCP with
# timestamps + 100; `-m quota --quota 760` = 5 × 152, after which the rule
# no longer matches) and the first three FINs from the client (52 bytes
# each, quota 156). A quota rather than a timed rule: exactly the same
# copies are dropped whatever the timing. The capture on the client's side
# shows the message sent, then sent again 0.21, 0.42, 0.85, 1.68 and 3.35 s
# later (gaps 0.21, 0.21, 0.43, 0.83, 1.67 s); the sixth copy gets through.
# The first re-send is Linux's tail-loss probe (TLP, on by default:
# net.ipv4.tcp_early_retrans 3), which with a single segment in flight fires
# when the RTO would (2 × SRTT + 200 ms, capped at the RTO); the RTO timer
# then starts afresh, so the next gap is again 0.21 s, and only then does
# the RTO double. The server answers ok, the client closes first and its
# FIN goes through the same sequence (probe 0.21 s, RTO 0.21 s, 0.43 s)
# before the server sees it and closes (FIN/ACK, ACK).
record_data_backoff() {
    command -v iptables >/dev/null || { echo "data_backoff needs iptables" >&2; exit 1; }
    setup_netns
    srv iptables -A INPUT -p tcp --dport "$PORT" -m length --length 152 -m quota --quota $((5 * 152)) -j DROP
    srv iptables -A INPUT -p tcp --dport "$PORT" --tcp-flags FIN FIN -m quota --quota $((3 * 52)) -j DROP
    start_server_program data_backoff.py server --host "$SRV4" --port "$PORT"
    start_capture "$LOG" tcpdump -i "$CLI_IF" -s 0 -U --immediate-mode -Z root -w "$HERE/data_backoff.pcap"
    client data_backoff.py client --host "$SRV4" --port "$PORT" --size 100
    wait_server
    stop_capture "$LOG"
    echo "server dropped $(srv iptables -L INPUT -v -x -n | awk '$3 == "DROP" {printf "%s ", $1}')(data, FIN);" \
        "client: $(cli nstat -asz TcpExtTCPLossProbes | awk '$1 == "TcpExtTCPLossProbes" {print $2}') loss probes," \
        "$(cli nstat -asz TcpRetransSegs | awk '$1 == "TcpRetransSegs" {print $2}') retransmitted"
    teardown_netns
}

# --- sack_dsack.pcap: SACK holes, fast retransmissions and a D-SACK --------
# Like lossy_bulk.pcap (the server sends, here 300 000 bytes, with CUBIC;
# client SO_RCVBUF 131072; captured on the SENDER's veth with a 128-byte
# snap length), but with deterministic trouble instead of random loss. An
# iptables rule in the CLIENT namespace hands every segment from the server
# arriving there to NFQUEUE 0, where programs/nfqueue_reorder.py numbers
# them in arrival order (the SYN/ACK is number 1, retransmissions count
# too), drops numbers 41 and 141 (lost) and holds back numbers 71 and 171
# until the sender's retransmission of each has been let in, then lets the
# original in just behind its copy (reordered: it arrives late, after the
# sender has already given it up for lost). All of the server's segments go
# through the queue, in order, so that only these two are reordered (a
# segment let past the queue, e.g. the short last one, would overtake those
# still waiting in it). netem, the usual tool for loss and reordering, is
# missing from the recording machine's kernel (CONFIG_NET_SCH_NETEM unset),
# and a timed delay is no good here: the whole transfer takes a few
# milliseconds on the veth pair. For each hole the
# client's duplicate ACKs carry SACK blocks and the sender retransmits the
# missing segment (RACK / fast retransmit); for a held segment that
# retransmission was unnecessary, and the client answers the late original
# with a D-SACK block (RFC 2883: a SACK block below its cumulative ACK,
# reporting data received twice). The same segments are hit in every run;
# the ACKs' timing (how many segments each one covers) varies a little, so
# the frame numbers do too.
record_sack_dsack() {
    command -v iptables >/dev/null || { echo "sack_dsack needs iptables" >&2; exit 1; }
    setup_netns
    cli iptables -A INPUT -p tcp --sport "$PORT" -j NFQUEUE --queue-num 0
    local out helper
    out=$(mktemp)
    ip netns exec "$CLI_NS" timeout 30 "$PYTHON" "$PROGRAMS/nfqueue_reorder.py" --queue 0 \
        --drop 41,141 --hold 71,171 >"$out" &
    helper=$!
    EXTRA_PIDS+=("$helper")
    for _ in $(seq 50); do
        if grep -q '^queue' "$out"; then break; fi
        sleep 0.1
    done
    grep -q '^queue' "$out" || { echo "nfqueue_reorder.py did not start" >&2; exit 1; }
    start_server_program bulk.py server --host "$SRV4" --port "$PORT" --size 300000 --congestion cubic
    start_capture_in "$SRV_NS" "$LOG" tcpdump -i "$SRV_IF" -s 128 -U --immediate-mode -Z root -w "$HERE/sack_dsack.pcap"
    client bulk.py client --host "$SRV4" --port "$PORT" --rcvbuf 131072
    wait_server
    stop_capture "$LOG"
    kill "$helper"; wait "$helper" 2>/dev/null || true
    EXTRA_PIDS=()
    cat "$out"
    rm -f "$out"
    echo "server: $(srv nstat -asz TcpRetransSegs | awk '$1 == "TcpRetransSegs" {print $2}') retransmitted;" \
        "client: $(cli nstat -asz TcpExtTCPDSACKOldSent | awk '$1 == "TcpExtTCPDSACKOldSent" {print $2}') D-SACKs sent"
    teardown_netns
}

# --- nagle.pcap: small writes held back by Nagle's algorithm ----------------
# The client (TCP_NODELAY off, the default) writes "msg 000\n" … "msg 009\n"
# (8 bytes each, one send() each) 3 ms apart, to a server that reads and
# never answers. The server clears TCP_QUICKACK on the accepted socket, so
# that its ACK of the first segment is a delayed ACK (about 40 ms) and not
# the immediate one of a new connection's quick-ACK mode. The first message
# leaves alone; messages 1–9 (written within 27 ms) wait in the client's
# send buffer until that ACK arrives, then leave at once as ONE 72-byte
# segment. The client waits 0.3 s and closes first.
record_nagle() {
    setup_netns
    start_server_program nagle.py server --host "$SRV4" --port "$PORT"
    start_capture "$LOG" tcpdump -i "$CLI_IF" -s 0 -U --immediate-mode -Z root -w "$HERE/nagle.pcap"
    client nagle.py client --host "$SRV4" --port "$PORT" --count 10 --interval 0.003
    wait_server
    stop_capture "$LOG"
    teardown_netns
}

# --- nagle_nodelay.pcap: the same writes with TCP_NODELAY ------------------
# As nagle.pcap, but the client sets TCP_NODELAY: each of the ten writes
# leaves at once as a segment of its own, whatever is unacknowledged.
record_nagle_nodelay() {
    setup_netns
    start_server_program nagle.py server --host "$SRV4" --port "$PORT"
    start_capture "$LOG" tcpdump -i "$CLI_IF" -s 0 -U --immediate-mode -Z root -w "$HERE/nagle_nodelay.pcap"
    client nagle.py client --host "$SRV4" --port "$PORT" --count 10 --interval 0.003 --nodelay
    wait_server
    stop_capture "$LOG"
    teardown_netns
}

# --- reuse_after_rst.pcap: the four-tuple reused right after a RST ---------
# The client binds source port $RST_REUSED_SPORT (SO_REUSEADDR), hello/hi,
# then aborts with SO_LINGER {1, 0}: a RST, so neither side keeps the
# connection in TIME_WAIT. 0.2 s later it connects again from the same port
# to the same server port (new ISN), hello/hi, and closes normally.
record_reuse_after_rst() {
    setup_netns
    start_server_program reuse_after_rst.py server --host "$SRV4" --port "$PORT"
    start_capture "$LOG" tcpdump -i "$CLI_IF" -s 0 -U --immediate-mode -Z root -w "$HERE/reuse_after_rst.pcap"
    client reuse_after_rst.py client --host "$SRV4" --port "$PORT" --source-port "$RST_REUSED_SPORT" --pause 0.2
    wait_server
    stop_capture "$LOG"
    teardown_netns
}

# --- http_keepalive.pcap: three HTTP/1.1 requests on one connection ---------
# http.server's SimpleHTTPRequestHandler with HTTP/1.1 (as `python3 -m
# http.server --protocol HTTP/1.1`) serves files 0, 1 and 2 (16, 600 and
# 1500 bytes); http.client asks for /0, /1, /2 on one connection and closes.
record_http_keepalive() {
    setup_netns
    LISTEN_PORT=$HTTP_PORT start_server_program http_keepalive.py server --host "$SRV4" --port "$HTTP_PORT"
    start_capture "$LOG" tcpdump -i "$CLI_IF" -s 0 -U --immediate-mode -Z root -w "$HERE/http_keepalive.pcap"
    client http_keepalive.py client --host "$SRV4" --port "$HTTP_PORT" --count 3
    wait_server
    stop_capture "$LOG"
    teardown_netns
}

# --- tls_hello.pcap: a TLS handshake with SNI, one line each way -----------
# A self-signed certificate made here with openssl; Python's ssl module on
# both ends (TLS 1.3); the client names tcptrace.test in its ClientHello.
record_tls_hello() {
    local keys
    keys=$(mktemp -d)
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=tcptrace.test" \
        -keyout "$keys/key.pem" -out "$keys/cert.pem" >/dev/null 2>&1
    setup_netns
    LISTEN_PORT=$TLS_PORT start_server_program tls_hello.py server --host "$SRV4" --port "$TLS_PORT" \
        --cert "$keys/cert.pem" --key "$keys/key.pem"
    start_capture "$LOG" tcpdump -i "$CLI_IF" -s 0 -U --immediate-mode -Z root -w "$HERE/tls_hello.pcap"
    client tls_hello.py client --host "$SRV4" --port "$TLS_PORT" --sni tcptrace.test
    wait_server
    stop_capture "$LOG"
    teardown_netns
    rm -rf "$keys"
}

# --- dns_tcp.pcap: DNS over TCP, two queries pipelined in one segment ------
record_dns_tcp() {
    setup_netns
    LISTEN_PORT=$DNS_PORT start_server_program dns_tcp.py server --host "$SRV4" --port "$DNS_PORT"
    start_capture "$LOG" tcpdump -i "$CLI_IF" -s 0 -U --immediate-mode -Z root -w "$HERE/dns_tcp.pcap"
    client dns_tcp.py client --host "$SRV4" --port "$DNS_PORT" --name www.example.test
    wait_server
    stop_capture "$LOG"
    teardown_netns
}

# With no names given, record everything and let tshark_golden.py (with no
# arguments) redo every .tsv; otherwise pass it just the files recorded.
GOLDEN_ARGS=()
if [[ ${#SELECTED[@]} -eq 0 ]]; then
    for name in "${ALL_CAPTURES[@]}"; do
        echo "== recording $name"
        "record_$name"
    done
else
    for name in "${SELECTED[@]}"; do
        echo "== recording $name"
        "record_$name"
        for file in "$HERE/$name.pcap" "$HERE/$name.pcapng"; do
            if [[ -f $file ]]; then GOLDEN_ARGS+=("$file"); fi
        done
    done
fi
rm -f "$LOG"

# tshark's per-packet view of each capture, for comparing tcptrace with it.
if command -v tshark >/dev/null; then
    "$PYTHON" "$HERE/../scripts/tshark_golden.py" "${GOLDEN_ARGS[@]}"
else
    echo "tshark not found: sample_pcaps/tshark/*.tsv not regenerated" >&2
fi
echo "done"
