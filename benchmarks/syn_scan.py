"""Send SYNs from many (address, port) pairs of 127.0.0.0/8 to a closed port of 127.0.0.1 through a raw socket;
the kernel answers each with RST+ACK: a SYN scan's capture, one connection per SYN (real kernel traffic).

Run inside a private network namespace (record_syn_scan.sh does that): ``python3 syn_scan.py COUNT``.
"""

from __future__ import annotations

import socket
import struct
import sys


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    dport = 9  # discard: nothing listens in a fresh namespace
    dst = socket.inet_aton("127.0.0.1")
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
    for i in range(count):
        # 127.1.0.0 upward, ports 10000-59999: every SYN its own four-tuple
        host, port = divmod(i, 50_000)
        src = socket.inet_aton(f"127.{1 + host // 65536}.{host // 256 % 256}.{host % 256}")
        sport = 10_000 + port
        seq = (i * 2654435761) & 0xFFFFFFFF
        tcp = struct.pack("!HHIIHHHH", sport, dport, seq, 0, (5 << 12) | 0x02, 64240, 0, 0)
        pseudo = src + dst + struct.pack("!BBH", 0, 6, len(tcp))
        tcp = tcp[:16] + struct.pack("!H", checksum(pseudo + tcp)) + tcp[18:]
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), i & 0xFFFF, 0, 64, 6, 0, src, dst)
        sock.sendto(ip + tcp, ("127.0.0.1", 0))


if __name__ == "__main__":
    main()
