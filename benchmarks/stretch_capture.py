"""Make a capture N times longer with the same number of concurrent connections (for memory-flatness checks).

    python benchmarks/stretch_capture.py IN.pcap OUT.pcap --times 4

Copy k (0 .. N-1) of every record is shifted in time by k x the capture's duration (+1 s), and each TCP port that
is not 20000 or 80 (both of benchmarks/traffic.py's, whose servers listen on 5001 and 8001) is moved by k x 1000
(mod 64512, + 1024), the same way in both directions, so copies are new connections, not retransmissions of the
old ones; IP and TCP checksums are left as they were
(tcptrace does not verify them). Reads classic pcap (Ethernet + IPv4, as record_bench_capture.sh writes it).
The result is a real capture's traffic, repeated: the same flows, the same losses, N times over.
"""

from __future__ import annotations

import argparse
import struct
import sys

SERVER_PORTS = {20000, 80}


def records(data: bytes) -> tuple[bytes, str, list[tuple[int, int, bytes]]]:
    magic = struct.unpack_from("<I", data)[0]
    order = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    nano = struct.unpack_from(order + "I", data)[0] == 0xA1B23C4D
    out = []
    pos = 24
    while pos + 16 <= len(data):
        sec, frac, caplen, origlen = struct.unpack_from(order + "IIII", data, pos)
        ts = sec * 1_000_000_000 + frac * (1 if nano else 1000)
        out.append((ts, origlen, data[pos + 16 : pos + 16 + caplen]))
        pos += 16 + caplen
    return data[:24], order, out


def shifted(frame: bytes, k: int) -> bytes:
    if k == 0 or len(frame) < 14 + 20 + 4 or frame[12:14] != b"\x08\x00" or frame[14 + 9] != 6:
        return frame
    ihl = (frame[14] & 0x0F) * 4
    t = 14 + ihl
    sport, dport = struct.unpack_from("!HH", frame, t)
    if sport not in SERVER_PORTS:
        sport = (sport - 1024 + 1000 * k) % 64512 + 1024
    if dport not in SERVER_PORTS:
        dport = (dport - 1024 + 1000 * k) % 64512 + 1024
    return frame[:t] + struct.pack("!HH", sport, dport) + frame[t + 4 :]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--times", type=int, default=4)
    args = ap.parse_args()
    with open(args.input, "rb") as f:
        header, order, recs = records(f.read())
    nano = struct.unpack_from(order + "I", header)[0] == 0xA1B23C4D
    span = recs[-1][0] - recs[0][0] + 1_000_000_000
    with open(args.output, "wb") as out:
        out.write(header)
        for k in range(args.times):
            for ts, origlen, frame in recs:
                ts += k * span
                sec, sub = divmod(ts, 1_000_000_000)
                body = shifted(frame, k)
                out.write(struct.pack(order + "IIII", sec, sub if nano else sub // 1000, len(body), origlen) + body)
    print(f"{args.output}: {args.times} x {len(recs)} records, {args.times} x {span / 1e9:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
