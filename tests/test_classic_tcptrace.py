"""Our classic-tcptrace vocabulary (complete / reset / unidirectional, packets each way) equals what the
classic C tcptrace prints for every sample capture. Needs /usr/bin/tcptrace (Debian's `tcptrace` package;
.ci/run does not install it, so this skips there unless it is present)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import SAMPLES

from tcptrace.engine import summarize

CLASSIC = "/usr/bin/tcptrace"
CAPTURES = sorted(p for p in SAMPLES.iterdir() if p.suffix in (".pcap", ".pcapng"))
LINE = re.compile(r"^\s*\d+: (\S+) - (\S+) \(\w+\)\s+(\d+)>\s+(\d+)<\s*(.*)$")


@pytest.mark.skipif(not Path(CLASSIC).exists() or shutil.which(CLASSIC) is None,
                    reason="classic C tcptrace is not installed at /usr/bin/tcptrace")  # fmt: skip
@pytest.mark.parametrize("capture", CAPTURES, ids=[c.name for c in CAPTURES])
def test_same_verdicts_as_classic_tcptrace(capture: Path) -> None:
    out = subprocess.run([CLASSIC, "-n", str(capture)], capture_output=True, text=True, timeout=60).stdout
    theirs = []
    for line in out.splitlines():
        m = LINE.match(line)
        if m:
            marks = m.group(5)
            theirs.append((int(m.group(3)), int(m.group(4)), "(complete)" in marks, "(reset)" in marks,
                           "(unidirectional)" in marks))  # fmt: skip
    if not theirs:
        pytest.skip(f"classic tcptrace reads no connection from {capture.name} (e.g. pcapng)")
    ours = []
    for s in summarize(capture)[0]:
        d = s.to_dict()
        # classic tcptrace's "a" is the sender of the connection's first packet
        a, b = ("c2s", "s2c") if s.first_direction == 0 else ("s2c", "c2s")
        v = d["tcptrace"]
        ours.append((d["packets"][a], d["packets"][b], v["complete"], v["reset"], v["unidirectional"]))
    assert ours == theirs
