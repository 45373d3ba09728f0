#!/usr/bin/env bash
# Record the tcptrace benchmark capture: ~1,500 TCP connections, ~500,000 packets.
#
# Usage (needs root: it creates network namespaces, a veth pair and iptables rules):
#   sudo benchmarks/record_bench_capture.sh [OUTPUT.pcap]      # default /tmp/tcptrace-bench.pcap
#
# Two throw-away network namespaces are joined by a veth pair (MTU 1500):
#   client namespace 10.98.0.2/24  <---- veth ---->  10.98.0.1/24 server namespace
# Nothing is configured outside these namespaces and no traffic leaves them; everything
# (namespaces, veth, iptables rules, qdiscs, processes) is removed on exit by a trap.
#
# * Segmentation offloads are disabled so that the capture shows wire-sized segments:
#   with ethtool (tso/gso/gro off) when it is installed, and in any case by capping the
#   veth's GSO size/segments with iproute2.
# * ~0.3% random loss: an iptables rule in the server namespace drops incoming TCP
#   packets (INPUT, -m statistic --mode random), so client data/ACKs get retransmitted.
# * tcpdump records on the server-side veth *before* netfilter, so dropped packets are in
#   the file followed by their retransmissions, as on a real wire tap.
# * Snap length 128 bytes (SNAPLEN): Ethernet + IPv4 + TCP with the largest options is at
#   most 94 bytes, so every header is complete while the file stays ~60 MB instead of
#   ~700 MB for full payloads.
#
# Tunables (environment variables):
#   CONNECTIONS=1500  PARALLEL=16  SEED=1   connection mix (see benchmarks/traffic.py)
#   LOSS=0.003                              drop probability of TCP packets into the server
#   RATE=                                   e.g. RATE=400mbit adds a tc tbf rate limit on both veth ends
#   SNAPLEN=128                             tcpdump snap length (0 = full packets)
#   PYTHON=python3                          interpreter for traffic.py (stdlib only)
#   CLIENT_TIMEOUT=600                      hard limit in seconds for the client run
set -euo pipefail

OUTPUT=${1:-/tmp/tcptrace-bench.pcap}
CONNECTIONS=${CONNECTIONS:-1500}
PARALLEL=${PARALLEL:-16}
SEED=${SEED:-1}
LOSS=${LOSS:-0.003}
RATE=${RATE:-}
SNAPLEN=${SNAPLEN:-128}
PYTHON=${PYTHON:-python3}
CLIENT_TIMEOUT=${CLIENT_TIMEOUT:-600}

SRV_ADDR=10.98.0.1
CLI_ADDR=10.98.0.2
PORT=5001
REFUSED_PORT=5002
NS_SRV="tcptrace-bench-srv-$$"
NS_CLI="tcptrace-bench-cli-$$"
VETH_SRV=tb-srv
VETH_CLI=tb-cli
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TRAFFIC="$HERE/traffic.py"

log() { printf '[record] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

if [[ $(id -u) -ne 0 ]]; then
    die "must run as root (creates network namespaces, veth and iptables rules); try: sudo $0 $*"
fi
for tool in ip iptables tcpdump "$PYTHON"; do
    command -v "$tool" >/dev/null 2>&1 || die "'$tool' not found"
done
[[ -f $TRAFFIC ]] || die "$TRAFFIC not found"
mkdir -p "$(dirname "$OUTPUT")"
OUTPUT=$(cd "$(dirname "$OUTPUT")" && pwd)/$(basename "$OUTPUT")

SERVER_PID=""
CLIENT_PID=""
TCPDUMP_PID=""
TCPDUMP_LOG=$(mktemp)

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [[ -n $CLIENT_PID ]] && kill -0 "$CLIENT_PID" 2>/dev/null; then
        kill -TERM "$CLIENT_PID" 2>/dev/null || true
        wait "$CLIENT_PID" 2>/dev/null || true
    fi
    if [[ -n $TCPDUMP_PID ]] && kill -0 "$TCPDUMP_PID" 2>/dev/null; then
        kill -TERM "$TCPDUMP_PID" 2>/dev/null || true
        wait "$TCPDUMP_PID" 2>/dev/null || true
    fi
    if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    # Deleting a namespace also deletes its veth end, qdiscs and iptables rules.
    ip netns del "$NS_SRV" 2>/dev/null || true
    ip netns del "$NS_CLI" 2>/dev/null || true
    rm -f "$TCPDUMP_LOG"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

in_srv() { ip netns exec "$NS_SRV" "$@"; }
in_cli() { ip netns exec "$NS_CLI" "$@"; }

log "creating namespaces $NS_SRV / $NS_CLI"
ip netns add "$NS_SRV"
ip netns add "$NS_CLI"
# Create the pair directly inside the namespaces: nothing appears in the caller's namespace.
ip link add "$VETH_SRV" netns "$NS_SRV" type veth peer name "$VETH_CLI" netns "$NS_CLI"
in_srv ip link set lo up
in_cli ip link set lo up
in_srv ip link set "$VETH_SRV" mtu 1500
in_cli ip link set "$VETH_CLI" mtu 1500
in_srv ip addr add "$SRV_ADDR/24" dev "$VETH_SRV"
in_cli ip addr add "$CLI_ADDR/24" dev "$VETH_CLI"

# Wire-sized segments: no TSO/GSO super-packets handed to tcpdump.
if command -v ethtool >/dev/null 2>&1; then
    in_srv ethtool -K "$VETH_SRV" tso off gso off gro off >/dev/null 2>&1 || log "ethtool -K failed on $VETH_SRV"
    in_cli ethtool -K "$VETH_CLI" tso off gso off gro off >/dev/null 2>&1 || log "ethtool -K failed on $VETH_CLI"
else
    log "ethtool not installed; limiting GSO with iproute2 instead"
fi
in_srv ip link set "$VETH_SRV" gso_max_segs 1 gso_max_size 1500
in_cli ip link set "$VETH_CLI" gso_max_segs 1 gso_max_size 1500
in_srv ip link set "$VETH_SRV" up
in_cli ip link set "$VETH_CLI" up

if [[ $LOSS != 0 ]]; then
    log "dropping TCP packets into the server namespace with probability $LOSS"
    in_srv iptables -A INPUT -p tcp -m statistic --mode random --probability "$LOSS" -j DROP
fi
if [[ -n $RATE ]]; then
    command -v tc >/dev/null 2>&1 || die "RATE set but 'tc' not found"
    log "rate limit $RATE (tc tbf) on both veth ends"
    in_srv tc qdisc add dev "$VETH_SRV" root tbf rate "$RATE" burst 64kb latency 50ms
    in_cli tc qdisc add dev "$VETH_CLI" root tbf rate "$RATE" burst 64kb latency 50ms
fi

log "starting server on $SRV_ADDR:$PORT"
# Background jobs are started with a plain `ip netns exec` (which execs the command), not via
# the in_* helpers, so that $! is the real process and signals reach it.
ip netns exec "$NS_SRV" "$PYTHON" "$TRAFFIC" server --host "$SRV_ADDR" --port "$PORT" --max-seconds "$((CLIENT_TIMEOUT + 60))" &
SERVER_PID=$!
ready=0
for _ in $(seq 1 100); do
    if in_srv ss -Hltn "sport = :$PORT" | grep -q LISTEN; then
        ready=1
        break
    fi
    kill -0 "$SERVER_PID" 2>/dev/null || die "server exited early"
    sleep 0.1
done
[[ $ready -eq 1 ]] || die "server did not start listening within 10 s"

log "recording to $OUTPUT (snaplen $SNAPLEN)"
rm -f "$OUTPUT"
# -Z root: keep root so any output path is writable; -B: 64 MiB kernel buffer to avoid drops.
ip netns exec "$NS_SRV" tcpdump -i "$VETH_SRV" -n -s "$SNAPLEN" -B 65536 -Z root -w "$OUTPUT" \
    "tcp and host $SRV_ADDR and host $CLI_ADDR" 2>"$TCPDUMP_LOG" &
TCPDUMP_PID=$!
started=0
for _ in $(seq 1 100); do
    if grep -q "listening on" "$TCPDUMP_LOG"; then
        started=1
        break
    fi
    kill -0 "$TCPDUMP_PID" 2>/dev/null || { cat "$TCPDUMP_LOG" >&2; die "tcpdump exited early"; }
    sleep 0.1
done
[[ $started -eq 1 ]] || die "tcpdump did not start within 10 s"

log "running client: $CONNECTIONS connections, $PARALLEL in parallel, seed $SEED"
# In the background + `wait`, so that a TERM/INT to this script is handled at once.
ip netns exec "$NS_CLI" timeout "$CLIENT_TIMEOUT" "$PYTHON" "$TRAFFIC" client --host "$SRV_ADDR" \
    --port "$PORT" --refused-port "$REFUSED_PORT" --connections "$CONNECTIONS" --parallel "$PARALLEL" \
    --seed "$SEED" &
CLIENT_PID=$!
client_rc=0
wait "$CLIENT_PID" || client_rc=$?
CLIENT_PID=""

sleep 1 # let the last FIN/ACK exchanges reach the capture
kill -TERM "$TCPDUMP_PID" 2>/dev/null || true
wait "$TCPDUMP_PID" || true
TCPDUMP_PID=""
grep -E "packets (captured|received|dropped)" "$TCPDUMP_LOG" | sed 's/^/[record] tcpdump: /' >&2 || true
if grep -qE "^[1-9][0-9]* packets dropped by kernel" "$TCPDUMP_LOG"; then
    log "warning: tcpdump dropped packets; the capture has gaps (try RATE=400mbit)"
fi
[[ $client_rc -eq 0 ]] || die "client failed (exit $client_rc)"
log "done: $OUTPUT ($(stat -c %s "$OUTPUT") bytes)"
