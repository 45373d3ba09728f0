"""Per-field agreement of our ``tcptrace`` block (flows --format json) with classic tcptrace 6.6.7
(``/usr/bin/tcptrace -l -n -r``) on every sample capture and every ../shared/corpus capture classic can read.

    python benchmarks/classic_agreement.py [--corpus DIR] [-v]

Connections are matched by classic's host a / host b and their order; those whose packet counts or first and last
packets differ (the two tools delimit or decode them differently), and those whose data bytes differ (classic takes
a segment's length from the IP header even beyond the frame's length on the wire) are counted apart and not
compared. Per field (both directions of each
matched connection): how many values are equal, how many differ only by one of classic's documented defects
(tests/classic_oracle.DEFECTS; docs/vocabulary-tcptrace.md), and how many differ. -v lists differing values.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import classic_oracle  # noqa: E402

from tcptrace.engine import summarize  # noqa: E402
from tcptrace.errors import TcptraceError  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    totals: dict[str, dict[str, int]] = {}
    matched = unmatched = lengths = files = 0
    examples: list[str] = []
    for capture in classic_oracle.captures(ROOT / "sample_pcaps", args.corpus):
        try:
            summaries = summarize(capture)[0]
        except TcptraceError:
            continue
        result = classic_oracle.compare(capture, summaries)
        files += result["matched"] > 0
        matched += result["matched"]
        unmatched += result["unmatched"]
        lengths += result["lengths"]
        examples += result["examples"]
        for field, verdicts in result["fields"].items():
            for verdict, n in verdicts.items():
                totals.setdefault(field, {}).setdefault(verdict, 0)
                totals[field][verdict] += n
    print(
        f"{files} captures, {matched} connections compared (x2 directions); not compared: {unmatched} delimited "
        f"differently, {lengths} whose payload lengths classic takes from the IP header beyond the frame"
    )
    print()
    print("| field | values compared | equal | equal or documented defect | differ | defects seen |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    for field in classic_oracle.LABELS:
        v = totals.get(field, {})
        n = sum(v.values())
        if not n:
            continue
        eq = v.get("equal", 0)
        ok = n - v.get("differs", 0)
        defects = ", ".join(f"{k} {c}" for k, c in sorted(v.items()) if k not in ("equal", "differs"))
        print(f"| {field} | {n} | {100 * eq / n:.1f} % | {100 * ok / n:.1f} % | {n - ok} | {defects} |")
    if args.verbose:
        print()
        print("\n".join(examples))
    return 0


if __name__ == "__main__":
    sys.exit(main())
