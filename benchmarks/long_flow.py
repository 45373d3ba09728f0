"""Make one long connection out of a real one: its data phase repeated until the connection has N packets.

    python benchmarks/long_flow.py IN.pcap OUT.pcap --packets 2000000

The connection with the most packets in IN.pcap (classic pcap, Ethernet + IPv4, as record_bench_capture.sh writes
it) is kept whole: its handshake once, then its data phase (every packet after the handshake and before the
first FIN) repeated, then its close. Copy k of the data phase has each side's sequence numbers (and the peer's
acknowledgement numbers) moved on by k x the bytes that side sent in the phase, and its times by k x the phase's
duration, so the copies continue the transfer instead of repeating it; the close moves on by all the copies.
Losses, retransmissions and window changes in the phase recur in each copy. IP and TCP checksums and TCP
timestamps are left as they were (tcptrace verifies neither).
"""

from __future__ import annotations

import argparse
import struct
import sys
from collections import Counter

from stretch_capture import records

M32 = 0xFFFFFFFF
SYN, FIN, RST = 0x02, 0x01, 0x04


def tcp_at(frame: bytes) -> int:
    """Offset of the TCP header in an Ethernet + IPv4 frame, or -1."""
    if len(frame) < 14 + 20 + 20 or frame[12:14] != b"\x08\x00" or frame[14 + 9] != 6:
        return -1
    return 14 + (frame[14] & 0x0F) * 4


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--packets", type=int, default=2_000_000)
    args = ap.parse_args()
    with open(args.input, "rb") as f:
        header, order, recs = records(f.read())
    nano = struct.unpack_from(order + "I", header)[0] == 0xA1B23C4D

    def key(frame: bytes) -> tuple[bytes, ...] | None:
        t = tcp_at(frame)
        if t < 0:
            return None
        a, b = (frame[26:30], frame[t : t + 2]), (frame[30:34], frame[t + 2 : t + 4])
        return (*min(a, b), *max(a, b))

    counts = Counter(k for _, _, fr in recs if (k := key(fr)) is not None)
    flow_key = counts.most_common(1)[0][0]
    flow = [r for r in recs if key(r[2]) == flow_key]
    flags = [flow[i][2][tcp_at(flow[i][2]) + 13] for i in range(len(flow))]
    client = flow[0][2][26:30] + flow[0][2][tcp_at(flow[0][2]) : tcp_at(flow[0][2]) + 2]
    first = max(i for i, fl in enumerate(flags) if fl & SYN) + 1
    end = next((i for i, fl in enumerate(flags) if fl & (FIN | RST)), len(flow))
    head, phase, tail = flow[:first], flow[first:end], flow[end:]
    if not phase:
        sys.exit("the connection has no data phase")

    def from_client(frame: bytes) -> bool:
        t = tcp_at(frame)
        return frame[26:30] + frame[t : t + 2] == client

    def advance(d_client: bool) -> int:
        """Bytes one side sent in the phase: its sequence numbers from the phase's start to its end."""
        seqs = []
        for _, _, fr in phase + tail[:1]:
            if from_client(fr) == d_client:
                t = tcp_at(fr)
                seq = struct.unpack_from("!I", fr, t + 4)[0]
                ip_len = struct.unpack_from("!H", fr, 16)[0]
                size = ip_len - (fr[14] & 0x0F) * 4 - (fr[t + 12] >> 4) * 4
                seqs.append((seq, size))
        if not seqs:
            return 0
        start = seqs[0][0]
        return max(((s + n - start) & M32) for s, n in seqs)

    d_c, d_s = advance(True), advance(False)
    span = phase[-1][0] - phase[0][0] + 1_000_000  # 1 ms between copies

    def moved(rec: tuple[int, int, bytes], k: int) -> tuple[int, int, bytes]:
        ts, origlen, fr = rec
        if k == 0:
            return rec
        t = tcp_at(fr)
        seq, ack = struct.unpack_from("!II", fr, t + 4)
        mine, peer = (d_c, d_s) if from_client(fr) else (d_s, d_c)
        body = struct.pack("!II", (seq + k * mine) & M32, (ack + k * peer) & M32)
        return ts + k * span, origlen, fr[: t + 4] + body + fr[t + 12 :]

    copies = max(1, (args.packets - len(head) - len(tail)) // len(phase))
    with open(args.output, "wb") as out:
        out.write(header)

        def write(rec: tuple[int, int, bytes]) -> None:
            ts, origlen, fr = rec
            frac = ts % 1_000_000_000 if nano else ts % 1_000_000_000 // 1000
            out.write(struct.pack(order + "IIII", ts // 1_000_000_000, frac, len(fr), origlen) + fr)

        for rec in head:
            write(rec)
        for k in range(copies):
            for rec in phase:
                write(moved(rec, k))
        for rec in tail:
            write(moved(rec, copies - 1))
    total = len(head) + copies * len(phase) + len(tail)
    print(f"{args.output}: one connection, {total} packets ({copies} copies of a {len(phase)}-packet data phase)",
          file=sys.stderr)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
