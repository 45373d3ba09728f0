from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/pcapgen.py
CORPUS = ROOT.parent / "shared" / "corpus"
SAMPLES = ROOT / "sample_pcaps"
# A working directory outside the checkout, for tests that start `python -m tcptrace` in a subprocess: from the
# checkout, `-m` would import the sources instead of the installed package that `pip install .` built.
OUTSIDE = Path(__file__).resolve().anchor
