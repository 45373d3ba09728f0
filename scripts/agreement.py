"""Compare tcptrace's per-packet numbers with tshark oracle TSVs (corpus or sample_pcaps).

    python scripts/agreement.py [--corpus DIR] [-v]

Prints, per capture, how many TCP packets agree on stream/seq/ack/len/win/flags, and the first differences.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

from tcptrace.capture import open_capture
from tcptrace.errors import TcptraceError
from tcptrace.flow import FlowTracker

FIELDS = ("stream", "seq", "ack", "len", "win", "flags")


def load_oracle(tsv: Path) -> dict[int, dict[str, str]]:
    with tsv.open(newline="") as f:
        return {int(r["frame"]): r for r in csv.DictReader(f, delimiter="\t")}


def ours(capture: Path) -> tuple[dict[int, dict[str, str]], dict[int, str], str]:
    tracker = FlowTracker()
    cap = open_capture(capture, keep_skipped=True)
    out: dict[int, dict[str, str]] = {}
    for seg in cap:
        tracker.feed(seg)
        out[seg.frame] = {
            "stream": str(seg.stream),
            "seq": str(seg.seq),
            "ack": str(seg.ack),
            "len": str(seg.len),
            "win": str(seg.win),
            "flags": f"0x{seg.flags:04x}",
        }
    skipped = {f: r.name for f, r in cap.stats.skipped_frames or []}
    return out, skipped, "; ".join(cap.stats.warnings)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default="../shared/corpus")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("only", nargs="*")
    args = ap.parse_args()
    root = Path(args.corpus)
    total = bad_files = 0
    for tsv in sorted((root / "oracle").rglob("*.tsv")):
        rel = tsv.relative_to(root / "oracle").as_posix()[:-4]
        if args.only and not any(o in rel for o in args.only):
            continue
        oracle = load_oracle(tsv)
        try:
            mine, skipped, warn = ours(root / rel)
        except TcptraceError as exc:
            print(f"ERROR {rel}: {exc}")
            bad_files += 1
            continue
        diffs = []
        for frame, row in oracle.items():
            m = mine.get(frame)
            if m is None:
                diffs.append(f"  frame {frame}: missing (we skipped: {skipped.get(frame)})")
                continue
            for k in FIELDS:
                if row[k] != m[k]:
                    diffs.append(f"  frame {frame}: {k} tshark={row[k]!r} ours={m[k]!r}")
        extra = sorted(set(mine) - set(oracle))
        if extra:
            diffs.append(f"  {len(extra)} frames we call TCP tshark does not: {extra[:5]}")
        total += len(oracle)
        if diffs:
            bad_files += 1
            print(f"DIFF {rel}: {len(diffs)} differences / {len(oracle)} packets {('warn: ' + warn) if warn else ''}")
            for d in diffs[: (50 if args.verbose else 4)]:
                print(d)
    print(f"{total} oracle packets, {bad_files} files with differences")
    return 1 if bad_files else 0


if __name__ == "__main__":
    sys.exit(main())
