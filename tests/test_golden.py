"""Golden regression for what users read besides narratives: `flows --format json` and `packets --format jsonl`
for every sample capture. After an intended change: python scripts/regen_goldens.py, then read the diff."""

from __future__ import annotations

import difflib
import sys
from pathlib import Path

import pytest
from conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
from regen_goldens import GOLDEN_ROOT, captures, golden_flows, golden_packets

CASES = [(cap, kind) for cap in captures() for kind in ("flows", "packets")]


@pytest.mark.parametrize(("capture", "kind"), CASES, ids=[f"{c.name}-{k}" for c, k in CASES])
def test_golden(capture: Path, kind: str) -> None:
    path = GOLDEN_ROOT / kind / (capture.name + (".json" if kind == "flows" else ".jsonl"))
    assert path.exists(), f"no golden {path.name}: run python scripts/regen_goldens.py"
    want = path.read_text(encoding="utf-8")
    got = golden_flows(capture) if kind == "flows" else golden_packets(capture)
    if got != want:
        diff = "".join(difflib.unified_diff(want.splitlines(True), got.splitlines(True), "golden", "now", n=0))
        pytest.fail(f"{kind} output changed for {capture.name}:\n{diff[:3000]}")
