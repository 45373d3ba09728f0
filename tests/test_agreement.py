"""Wireshark is the oracle: every TCP packet's stream, seq, ack, len, win and flags equal tshark's.

Oracles: ../shared/corpus/oracle/*.tsv (TShark 4.0.17 over 150 public captures) and sample_pcaps/tshark/*.tsv
(made by scripts/tshark_golden.py from our own recordings). tshark itself is not needed to run this test.
The only frames allowed to differ are the documented ones (docs/wireshark-differences.md): TCP headers
quoted inside ICMP errors (tshark shows the quote as TCP; it is not a segment of the connection). A TCP header
whose data offset is impossible is a segment with its stream, as in tshark, which prints only the fields it
dissected before giving up: a bogus offset (below 5 words) has no ack, window or flags, a short segment (a
header longer than the IP payload) no length; those blanks are not compared, every other field is.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from conftest import CORPUS, SAMPLES

from tcptrace.capture import open_capture
from tcptrace.flow import FlowTracker
from tcptrace.model import SkipReason

FIELDS = ("stream", "seq", "ack", "len", "win", "flags")


def _cases() -> list[tuple[Path, Path]]:
    out = []
    if (CORPUS / "oracle").is_dir():
        for tsv in sorted((CORPUS / "oracle").rglob("*.tsv")):
            out.append((CORPUS / tsv.relative_to(CORPUS / "oracle").as_posix()[:-4], tsv))
    for tsv in sorted((SAMPLES / "tshark").glob("*.tsv")):
        out.append((SAMPLES / tsv.name[:-4], tsv))
    return out


CASES = _cases()


def _ids() -> list[str]:
    return [c.relative_to(c.parents[1]).as_posix() if "corpus" in c.parts else c.name for c, _ in CASES]


@pytest.mark.skipif(not CASES, reason="no oracle TSVs: ../shared/corpus is absent and sample_pcaps has none")
@pytest.mark.parametrize(("capture", "oracle"), CASES, ids=_ids())
def test_per_packet_numbers_equal_tshark(capture: Path, oracle: Path) -> None:
    with oracle.open(newline="") as f:
        expected = {int(r["frame"]): r for r in csv.DictReader(f, delimiter="\t")}
    cap = open_capture(capture, keep_skipped=True)
    tracker = FlowTracker()
    ours: dict[int, dict[str, str]] = {}
    for seg in cap:
        tracker.feed(seg)
        ours[seg.frame] = {
            "stream": str(seg.stream),
            "seq": str(seg.seq),
            "ack": str(seg.ack),
            "len": str(seg.len),
            "win": str(seg.win),
            "flags": f"0x{seg.flags:04x}",
            "header_error": str(seg.header_error),
        }
    skipped = dict(cap.stats.skipped_frames or [])
    problems = []
    for frame, row in expected.items():
        mine = ours.get(frame)
        if mine is None:
            reason = skipped.get(frame)
            if reason == SkipReason.ICMP_QUOTE:
                continue  # documented: header quoted inside an ICMP error
            problems.append(f"frame {frame}: tshark has a TCP packet, we skipped it ({reason})")
            continue
        blanks = {"1": ("ack", "win", "flags"), "2": ("len",)}.get(mine["header_error"], ())
        if tuple(k for k in FIELDS if row[k] == "") != blanks:
            problems.append(f"frame {frame}: tshark left {[k for k in FIELDS if row[k] == '']} blank, ours {blanks}")
        for k in FIELDS:
            if row[k] != mine[k] and k not in blanks:
                problems.append(f"frame {frame}: {k} tshark={row[k]} ours={mine[k]}")
    extra = sorted(set(ours) - set(expected))
    if extra:
        problems.append(f"frames we read as TCP that tshark does not: {extra[:10]}")
    assert not problems, "\n".join(problems[:20])


def test_corpus_is_present() -> None:
    """Say loudly when the corpus half of the agreement proof did not run."""
    if not (CORPUS / "oracle").is_dir():
        pytest.skip(f"../shared/corpus not found at {CORPUS}: only sample_pcaps/ was compared with tshark")
    assert len(list((CORPUS / "oracle").rglob("*.tsv"))) >= 100
