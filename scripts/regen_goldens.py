"""Regenerate the golden narratives in tests/golden/explain/ from sample_pcaps/ — on purpose only.

    python scripts/regen_goldens.py        # then review: git diff tests/golden/

The goldens are what a student reads; every change to them must be read before it is committed.
"""

from __future__ import annotations

import sys
from pathlib import Path

from tcptrace.narrate import explain

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_pcaps"
GOLDEN = ROOT / "tests" / "golden" / "explain"
LANGS = ("en", "zh")


def golden_text(capture: Path, lang: str) -> str:
    return str(explain(capture, lang=lang)) + "\n"


def captures() -> list[Path]:
    return sorted(p for p in SAMPLES.iterdir() if p.suffix in (".pcap", ".pcapng"))


def main() -> int:
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for cap in captures():
        for lang in LANGS:
            out = GOLDEN / f"{cap.name}.{lang}.txt"
            out.write_text(golden_text(cap, lang), encoding="utf-8")
            print(f"wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
