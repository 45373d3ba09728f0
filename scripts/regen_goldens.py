"""Regenerate the golden files in tests/golden/ from sample_pcaps/ — on purpose only.

    python scripts/regen_goldens.py        # then review: git diff tests/golden/

For every sample capture it writes what users read:
  tests/golden/explain/<capture>.<lang>.txt   `tcptrace explain` in English and Chinese
  tests/golden/flows/<capture>.json           `tcptrace flows --format json` (the CI baseline format)
  tests/golden/packets/<capture>.jsonl        `tcptrace packets --format jsonl`
tshark's own per-packet view lives in sample_pcaps/tshark/ (scripts/tshark_golden.py). Every change to a
golden file must be read before it is committed: they are the project's regression baseline.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tcptrace.engine import PacketStream, Pipeline
from tcptrace.export import jsonl_lines
from tcptrace.narrate import explain

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_pcaps"
GOLDEN_ROOT = ROOT / "tests" / "golden"
GOLDEN = GOLDEN_ROOT / "explain"
LANGS = ("en", "zh")


def golden_text(capture: Path, lang: str) -> str:
    return str(explain(capture, lang=lang)) + "\n"


def golden_flows(capture: Path) -> str:
    run = Pipeline(capture, track_bytes_in_flight=False).run()
    doc = {"capture": f"sample_pcaps/{capture.name}", "stats": run.stats.as_dict(),
           "flows": [s.to_dict() for s in run.summaries]}  # fmt: skip
    return json.dumps(doc, indent=1, sort_keys=True) + "\n"


def golden_packets(capture: Path) -> str:
    """What `tcptrace packets --format jsonl` prints: capture order, states settled with hindsight."""
    return "\n".join(jsonl_lines(PacketStream(capture))) + "\n"


def captures() -> list[Path]:
    return sorted(p for p in SAMPLES.iterdir() if p.suffix in (".pcap", ".pcapng"))


def main() -> int:
    for sub in ("explain", "flows", "packets"):
        (GOLDEN_ROOT / sub).mkdir(parents=True, exist_ok=True)
    for cap in captures():
        for lang in LANGS:
            (GOLDEN / f"{cap.name}.{lang}.txt").write_text(golden_text(cap, lang), encoding="utf-8")
        (GOLDEN_ROOT / "flows" / f"{cap.name}.json").write_text(golden_flows(cap), encoding="utf-8")
        (GOLDEN_ROOT / "packets" / f"{cap.name}.jsonl").write_text(golden_packets(cap), encoding="utf-8")
        print(f"wrote goldens for {cap.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
