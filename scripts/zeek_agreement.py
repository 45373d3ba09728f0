"""Print how our Zeek rows agree with Zeek's own conn.log baselines (../shared/zeek, README there).

    python scripts/zeek_agreement.py [ZEEK_DIR] [--rows]

For each trace, our rows (tcptrace.zeek.zeek_rows, Zeek's connection boundaries) are matched with Zeek's by
4-tuple; a 4-tuple whose number of connections differs between the two is counted as a boundary disagreement and
left out of the field comparison. Prints the agreement table (field, compared, agree %); --rows lists each
disagreeing row. tests/test_zeek_agreement.py asserts the thresholds on the same comparison.
"""

from __future__ import annotations

import csv
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from tcptrace.capture import open_capture
from tcptrace.zeek import ZeekRow, zeek_rows

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ROOT.parent / "shared" / "zeek"
FIELDS = ("conn_state", "history", "bytes", "orig_bytes", "resp_bytes", "missed_bytes", "packets", "duration")


def _ours(row: ZeekRow, name: str) -> str:
    if name == "bytes":
        return f"{_ours(row, 'orig_bytes')}/{_ours(row, 'resp_bytes')}"
    if name == "packets":
        return f"{row.orig_pkts}/{row.resp_pkts}"
    if name == "duration":
        return f"{row.duration_s:.6f}"
    value = getattr(row, name)
    return "-" if value is None else str(value)


def _theirs(base: dict[str, str], name: str) -> str:
    if name == "bytes":
        return f"{base['orig_bytes']}/{base['resp_bytes']}"
    if name == "packets":
        return f"{base['orig_pkts']}/{base['resp_pkts']}"
    return base[name]


def _key(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a <= b else (b, a)


def compare(zeek_dir: Path) -> dict[str, Any]:
    """Per field: compared, agreed and the disagreeing rows; plus boundary counts."""
    with (zeek_dir / "baselines.tsv").open() as f:
        base_rows = list(csv.DictReader(f, delimiter="\t"))
    by_trace: dict[str, list[dict[str, str]]] = defaultdict(list)
    for r in base_rows:
        by_trace[r["trace"]].append(r)
    result: dict[str, Any] = {f: {"compared": 0, "agree": 0, "rows": []} for f in FIELDS}
    result["boundaries"] = {"zeek_rows": len(base_rows), "matched_rows": 0, "tuples_differing": []}
    for trace, rows in sorted(by_trace.items()):
        path = zeek_dir / "traces" / trace.replace("/", "__")
        if not path.exists():
            continue
        ours_by: dict[tuple[str, str], list[ZeekRow]] = defaultdict(list)
        for row in zeek_rows(open_capture(path)):
            ours_by[_key(row.orig, row.resp)].append(row)
        theirs_by: dict[tuple[str, str], list[dict[str, str]]] = defaultdict(list)
        for r in rows:
            theirs_by[_key(r["orig"], r["resp"])].append(r)
        for key, theirs in theirs_by.items():
            ours = ours_by.get(key, [])
            if len(ours) != len(theirs):
                result["boundaries"]["tuples_differing"].append((trace, key, len(theirs), len(ours)))
                continue
            result["boundaries"]["matched_rows"] += len(theirs)
            for mine, base in zip(ours, theirs, strict=True):
                for name in FIELDS:
                    a, b = _ours(mine, name), _theirs(base, name)
                    if name == "duration" and b == "-":
                        continue
                    field = result[name]
                    field["compared"] += 1
                    if a == b and (name not in ("history", "bytes") or mine.orig == base["orig"]):
                        field["agree"] += 1
                    else:
                        field["rows"].append((trace, base["orig"], base["resp"], b, f"{mine.orig} {a}"))
    return result


def main(argv: list[str]) -> int:
    args = [a for a in argv if not a.startswith("--")]
    zeek_dir = Path(args[0]) if args else DEFAULT
    if not (zeek_dir / "baselines.tsv").exists():
        print(f"no Zeek baselines in {zeek_dir}", file=sys.stderr)
        return 2
    result = compare(zeek_dir)
    b = result["boundaries"]
    print(f"Zeek rows {b['zeek_rows']}, in 4-tuples whose connection count agrees: {b['matched_rows']}")
    for trace, key, theirs, ours in b["tuples_differing"]:
        print(f"  boundaries differ: {trace} {key[0]} {key[1]}: Zeek {theirs} connection(s), ours {ours}")
    print(f"{'field':<14} {'compared':>8} {'agree %':>8}")
    for name in FIELDS:
        f = result[name]
        pct = 100.0 * f["agree"] / f["compared"] if f["compared"] else 100.0
        print(f"{name:<14} {f['compared']:>8} {pct:>8.2f}")
    if "--rows" in argv:
        for name in FIELDS:
            for trace, orig, resp, theirs, ours in result[name]["rows"]:
                print(f"{name}\t{trace}\t{orig}\t{resp}\tzeek={theirs}\tours={ours}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
