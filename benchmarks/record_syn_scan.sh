#!/usr/bin/env bash
# Record a SYN scan of COUNT connections (default 1,000,000) on the loopback of a private network namespace:
# syn_scan.py sends SYNs from distinct 127.0.0.0/8 addresses and ports to a closed port, the kernel answers each
# with RST+ACK, tcpdump records both. Needs root, ip (iproute2), tcpdump, python3. Usage:
#   sudo bash benchmarks/record_syn_scan.sh [OUT.pcap] [COUNT]
set -euo pipefail
OUT="${1:-/tmp/tcptrace-synscan.pcap}"
COUNT="${2:-1000000}"
NS="tcptrace-scan-$$"
HERE="$(cd "$(dirname "$0")" && pwd)"
cleanup() { ip netns pids "$NS" 2>/dev/null | xargs -r kill 2>/dev/null || true; ip netns del "$NS" 2>/dev/null || true; }
trap cleanup EXIT INT TERM
ip netns add "$NS"
ip netns exec "$NS" ip link set lo up
ip netns exec "$NS" tcpdump -i lo -s 96 -B 262144 -w "$OUT" 'tcp port 9' 2>/tmp/tcptrace-scan-tcpdump.log &
sleep 1
ip netns exec "$NS" "${PYTHON:-python3}" "$HERE/syn_scan.py" "$COUNT"
sleep 2
ip netns pids "$NS" | xargs -r kill -INT
sleep 1
cat /tmp/tcptrace-scan-tcpdump.log >&2
ls -l "$OUT"
