from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/pcapgen.py
CORPUS = ROOT.parent / "shared" / "corpus"
SAMPLES = ROOT / "sample_pcaps"
