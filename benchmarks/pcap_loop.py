"""Pure-Python baseline: walk every record of a classic pcap file with ``struct.unpack_from``.

This is the floor for any pure-Python reader: it reads the file in large chunks and only
decodes the 16-byte record headers (summing caplen and orig_len), never the packets.

    python benchmarks/pcap_loop.py CAPTURE   # prints a JSON object with the counts
"""

from __future__ import annotations

import json
import struct
import sys
from typing import TypedDict

CHUNK_SIZE = 1024 * 1024
MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", False),
    b"\xa1\xb2\xc3\xd4": (">", False),
    b"\x4d\x3c\xb2\xa1": ("<", True),
    b"\xa1\xb2\x3c\x4d": (">", True),
}


class PcapSummary(TypedDict):
    packets: int
    caplen_bytes: int
    wire_bytes: int
    snaplen: int
    linktype: int
    nanosecond: bool
    first_ts: float
    last_ts: float
    truncated_tail: int


def scan(path: str) -> PcapSummary:
    """Count the records of a classic (non-ng) pcap file."""
    with open(path, "rb") as fh:
        header = fh.read(24)
        if len(header) < 24 or header[:4] not in MAGICS:
            raise ValueError(f"{path}: not a classic pcap file (pcapng is not supported here)")
        order, nanosecond = MAGICS[header[:4]]
        _, _, _, _, snaplen, linktype = struct.unpack_from(order + "HHiIII", header, 4)
        record = struct.Struct(order + "IIII")
        unpack_from = record.unpack_from
        divisor = 1e9 if nanosecond else 1e6
        packets = caplen_total = wire_total = 0
        first_ts = last_ts = 0.0
        buf = b""
        offset = 0
        while True:
            chunk = fh.read(CHUNK_SIZE)
            if not chunk:
                break
            buf = buf[offset:] + chunk if offset < len(buf) else chunk
            offset = 0
            last = -1
            size = len(buf)
            while offset + 16 <= size:
                _, _, caplen, wirelen = unpack_from(buf, offset)
                end = offset + 16 + caplen
                if end > size:
                    break
                packets += 1
                caplen_total += caplen
                wire_total += wirelen
                last = offset
                offset = end
            if last >= 0:  # timestamps only of the chunk's last record, outside the hot loop
                ts_sec, ts_frac = struct.unpack_from(order + "II", buf, last)
                last_ts = ts_sec + ts_frac / divisor
                if first_ts == 0.0:
                    ts_sec, ts_frac = struct.unpack_from(order + "II", buf, 0)
                    first_ts = ts_sec + ts_frac / divisor
        return {
            "packets": packets,
            "caplen_bytes": caplen_total,
            "wire_bytes": wire_total,
            "snaplen": snaplen,
            "linktype": linktype,
            "nanosecond": nanosecond,
            "first_ts": first_ts,
            "last_ts": last_ts,
            "truncated_tail": len(buf) - offset,
        }


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: pcap_loop.py CAPTURE", file=sys.stderr)
        return 2
    print(json.dumps(scan(argv[0])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
