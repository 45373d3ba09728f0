"""Compare tcptrace's analysis flags with tshark's (oracle TSVs), per flag: agreements, misses, false positives.

python scripts/flag_agreement.py [--corpus DIR] [-v] [--markdown docs/wireshark-agreement.md] [FILTER ...]
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import Counter
from pathlib import Path

from tcptrace.analysis import ANALYSIS_FLAGS, analysis_names, iter_analyzed
from tcptrace.errors import TcptraceError

ROOT = Path(__file__).resolve().parent.parent


def oracle_files(corpus: Path) -> list[tuple[Path, Path]]:
    out = []
    if (corpus / "oracle").is_dir():
        for tsv in sorted((corpus / "oracle").rglob("*.tsv")):
            out.append((corpus / tsv.relative_to(corpus / "oracle").as_posix()[:-4], tsv))
    for tsv in sorted((ROOT / "sample_pcaps" / "tshark").glob("*.tsv")):
        out.append((ROOT / "sample_pcaps" / tsv.name[:-4], tsv))
    return out


def compare(capture: Path, tsv: Path) -> tuple[Counter[str], Counter[str], Counter[str], list[str]]:
    with tsv.open(newline="") as f:
        oracle = {
            int(r["frame"]): set(filter(None, r["analysis"].split(","))) for r in csv.DictReader(f, delimiter="\t")
        }
    agree: Counter[str] = Counter()
    missed: Counter[str] = Counter()
    extra: Counter[str] = Counter()
    notes: list[str] = []
    for seg in iter_analyzed(capture):
        theirs = oracle.get(seg.frame)
        if theirs is None:
            continue
        ours = set(analysis_names(seg.analysis))
        if seg.duplicate_of:
            continue  # documented: hardware duplicates carry no Wireshark flags here
        if seg.header_truncated or (seg.hdr_len > 20 and seg.options.truncated):
            continue  # documented: tshark prints no analysis when the snap length cut the options
        for name in ours & theirs:
            agree[name] += 1
        for name in theirs - ours:
            missed[name] += 1
            notes.append(f"frame {seg.frame}: tshark {name}, we do not (ours: {sorted(ours)})")
        for name in ours - theirs:
            extra[name] += 1
            notes.append(f"frame {seg.frame}: we say {name}, tshark does not (tshark: {sorted(theirs)})")
    return agree, missed, extra, notes


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default=str(ROOT.parent / "shared" / "corpus"))
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("--markdown")
    ap.add_argument("only", nargs="*")
    args = ap.parse_args()
    tot_a: Counter[str] = Counter()
    tot_m: Counter[str] = Counter()
    tot_e: Counter[str] = Counter()
    files = 0
    for capture, tsv in oracle_files(Path(args.corpus)):
        if args.only and not any(o in str(capture) for o in args.only):
            continue
        try:
            a, m, e, notes = compare(capture, tsv)
        except TcptraceError as exc:
            print(f"skip {capture}: {exc}")
            continue
        files += 1
        tot_a += a
        tot_m += m
        tot_e += e
        if notes:
            print(f"{capture}: {len(notes)} differences")
            for n in notes[: (100 if args.verbose else 3)]:
                print("   ", n)
    print(f"\n{files} captures")
    print(f"{'flag':<26}{'agree':>8}{'missed':>8}{'extra':>8}")
    for name in ANALYSIS_FLAGS:
        print(f"{name:<26}{tot_a[name]:>8}{tot_m[name]:>8}{tot_e[name]:>8}")
    return 1 if (tot_m or tot_e) else 0


if __name__ == "__main__":
    sys.exit(main())
