"""Our classic-tcptrace vocabulary (complete / reset / unidirectional, packets each way) equals what the
classic C tcptrace prints for every sample capture. Needs /usr/bin/tcptrace (Debian's `tcptrace` package;
.ci/run does not install it, so this skips there unless it is present)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import SAMPLES, engines

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


# --- the "tcptrace" block, field by field, against `tcptrace -l -n -r` ---------------------------------------------

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"
# Over the corpus, at most this share of a field's values may differ other than by a documented defect
# (tests/classic_oracle.DEFECTS). Today 20 of 6,762 values in 6 connections do, all explained in
# docs/vocabulary-tcptrace.md ("Remaining differences"): a window scale of 255, short and bogus TCP headers.
MAX_DIFFER = 0.005


def _classic_captures() -> list[Path]:
    import classic_oracle

    return classic_oracle.captures(SAMPLES, CORPUS if CORPUS.is_dir() else None)


@pytest.mark.skipif(not Path(CLASSIC).exists(), reason="classic C tcptrace is not installed at /usr/bin/tcptrace")
@pytest.mark.parametrize("capture", CAPTURES, ids=[c.name for c in CAPTURES])
def test_every_field_as_classic_on_samples(capture: Path) -> None:
    """On our own recordings every field equals classic's, or differs by one of its documented defects."""
    import classic_oracle

    result = classic_oracle.compare(capture, summarize(capture)[0])
    if not result["matched"]:
        pytest.skip(f"classic tcptrace reads no connection from {capture.name} (e.g. pcapng)")
    assert not result["examples"], "\n".join(result["examples"])
    for field, verdicts in result["fields"].items():
        assert set(verdicts) <= {"equal", *classic_oracle.DEFECTS}, (field, verdicts)


@pytest.mark.skipif(not Path(CLASSIC).exists(), reason="classic C tcptrace is not installed at /usr/bin/tcptrace")
@pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is absent")
def test_every_field_as_classic_on_corpus() -> None:
    """Every capture of ../shared/corpus classic can read: per field, at most MAX_DIFFER of the values differ
    other than by a documented defect, over the connections both tools delimit alike."""
    import classic_oracle

    from tcptrace.errors import TcptraceError

    totals: dict[str, dict[str, int]] = {}
    matched = 0
    for capture in _classic_captures():
        try:
            summaries = summarize(capture)[0]
        except TcptraceError:
            continue
        result = classic_oracle.compare(capture, summaries)
        matched += result["matched"]
        for field, verdicts in result["fields"].items():
            for verdict, n in verdicts.items():
                totals.setdefault(field, {}).setdefault(verdict, 0)
                totals[field][verdict] += n
    assert matched > 1000
    assert set(totals) == set(classic_oracle.LABELS)
    for field, verdicts in totals.items():
        assert verdicts.get("differs", 0) <= MAX_DIFFER * sum(verdicts.values()), (field, verdicts)


@pytest.mark.parametrize(
    ("label", "theirs", "ours", "verdict"),
    [
        ("mss requested", "4294967236", {"mss_requested": 65476}, "mss_signed"),
        ("mss requested", "1460", {"mss_requested": 1460}, "equal"),
        ("mss requested", "1460", {"mss_requested": 1400}, "differs"),
        ("avg segm size", "5", {"avg_segm_size": 6.0, "actual_data_pkts": 1, "actual_data_bytes": 6}, "avg_rounded"),
        ("avg segm size", "4", {"avg_segm_size": 6.0, "actual_data_pkts": 1, "actual_data_bytes": 6}, "differs"),
        ("RTT avg", "999.9", {"rtt_avg_ms": 1000.0}, "avg_n0001"),
        ("RTT max", "2.5", {"rtt_max_ms": 1.858}, "differs"),
        ("missed data", "NA", {"missed_data": None}, "equal"),
        ("missed data", "NA", {"missed_data": 0}, "differs"),
        ("truncated data", "308", {"truncated_data": 300, "truncated_packets": 1}, "trunc_header"),
    ],
)
def test_oracle_comparison_tells_defects_from_differences(
    label: str, theirs: str, ours: dict[str, object], verdict: str
) -> None:
    """The comparator itself can fail: a documented defect is recognised only in its own shape."""
    import classic_oracle

    assert classic_oracle.compare_field(label, theirs, ours) == verdict


def test_flows_long_prints_the_block_as_tcptrace_l() -> None:
    """`flows --long` lays the "tcptrace" block out as `tcptrace -l`: a->b left, b->a right, classic's labels."""
    from click.testing import CliRunner

    from tcptrace.cli import main

    capture = SAMPLES / "abort_rst.pcap"
    out = CliRunner().invoke(main, ["flows", "--long", str(capture)]).output
    block = summarize(capture)[0][0].to_dict()["tcptrace"]
    assert f"\thost a:        {block['host_a']}" in out
    assert "complete conn: RESET\t(SYNs: 2)  (FINs: 0)" in out
    row = next(line for line in out.splitlines() if line.startswith("     total packets:"))
    assert row.split() == ["total", "packets:", str(block["a2b"]["total_packets"]), "total", "packets:",
                           str(block["b2a"]["total_packets"])]  # fmt: skip
    assert "ttl stream length:        NA" in out


# --- rules, on connections built by code (no classic binary needed) ------------------------------------------------


def _karn_capture(tmp_path: Path) -> Path:
    """A client sends 4 segments of 100 bytes; two are re-sent. Times in ms after the SYN."""
    import pcapgen as g

    c, s = ("10.0.0.1", "10.0.0.2"), ("10.0.0.2", "10.0.0.1")

    def pkt(side: tuple[str, str], **kw: object) -> bytes:
        ports = {"sport": 40000, "dport": 80} if side is c else {"sport": 80, "dport": 40000}
        return g.ether(g.ipv4(g.tcp(**ports, **kw), src=side[0], dst=side[1]))  # type: ignore[arg-type]

    data = b"x" * 100
    plan = [
        (0, pkt(c, seq=1000, flags=g.SYN)),
        (1, pkt(s, seq=5000, ack=1001, flags=g.SYN | g.ACK)),
        (2, pkt(c, seq=1001, ack=5001)),
        (3, pkt(c, seq=1001, ack=5001, flags=g.ACK | g.PSH, payload=data)),
        (3.1, pkt(c, seq=1101, ack=5001, payload=data)),
        (13, pkt(s, seq=5001, ack=1101)),  # 1001:1101 sent once: a 10 ms sample
        (50, pkt(c, seq=1101, ack=5001, payload=data)),  # re-sent
        (60, pkt(s, seq=5001, ack=1201)),  # acks a re-sent range: ambiguous, no sample (Karn)
        (61, pkt(c, seq=1201, ack=5001, payload=data)),
        (62, pkt(c, seq=1301, ack=5001, payload=data)),
        (100, pkt(c, seq=1201, ack=5001, payload=data)),  # re-sent
        (110, pkt(s, seq=5001, ack=1301)),  # ambiguous
        (111, pkt(s, seq=5001, ack=1401)),  # 1301 was sent once, but 1201 was sent after it: post-loss, no sample
        (300, g.ether(b"\x00" * 28, ethertype=0x0806)),  # an ARP frame ends the trace
    ]
    path = tmp_path / "karn.pcap"
    start = 1_700_000_000_000_000_000
    path.write_bytes(g.pcap([g.Rec(p, start + int(ms * 1_000_000)) for ms, p in plan]))
    return path


@pytest.mark.parametrize("engine", engines())
def test_karn_rule_and_sequence_coverage(engine: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TCPTRACE_ENGINE", engine)
    doc = summarize(_karn_capture(tmp_path))[0][0].to_dict()
    a2b = doc["tcptrace"]["a2b"]
    assert doc["tcptrace"]["host_a"] == "10.0.0.1:40000"
    assert (a2b["actual_data_pkts"], a2b["actual_data_bytes"]) == (6, 600)
    assert (a2b["unique_bytes_sent"], a2b["rexmt_data_pkts"], a2b["rexmt_data_bytes"]) == (400, 2, 200)
    # samples: the SYN (1 ms, acknowledged by the SYN/ACK) and 1001:1101 (10 ms); none from the re-sent ranges
    assert a2b["rtt_samples"] == 2
    assert (a2b["rtt_min_ms"], a2b["rtt_max_ms"], a2b["rtt_from_3whs_ms"]) == (1.0, 10.0, 1.0)
    assert a2b["rtt_stdev_ms"] == 0.0  # n - 1, and 0 when n <= 2
    assert (a2b["ambiguous_acks"], a2b["post_loss_acks"]) == (2, 1)
    assert a2b["max_retrans"] == 1
    assert a2b["outoforder_pkts"] == 0
    # not closed (no FIN, no RST): idle time runs to the end of the trace, the last frame (TCP or not) at 300 ms
    assert a2b["idletime_max_s"] == pytest.approx(0.200)  # 100 -> 300 ms (its longest gap: 3.1 -> 50 ms)
    assert doc["tcptrace"]["b2a"]["idletime_max_s"] == pytest.approx(0.189)  # 111 -> 300 ms
    assert doc["c2s"]["max_idle_s"] == pytest.approx(0.0469)  # ours: between packets only


def test_segment_database_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past MAX_CLASSIC_SEGMENTS ranges a new range is not recorded (and counted): its later copy counts as new."""
    from tcptrace import classic

    monkeypatch.setattr(classic, "MAX_CLASSIC_SEGMENTS", 3)
    d = classic.ClassicDir()
    for seq in (1000, 2000, 3000):  # holes between them: nothing merges
        assert d.rexmit(seq, 10, 0) == (0, False)
    assert d.rexmit(4000, 10, 0) == (0, False)
    assert (d.nsegs, d.segs_dropped) == (3, 1)
    assert d.rexmit(4000, 10, 1) == (0, False)  # not recorded: not seen as a retransmission
    assert d.rexmit(2000, 10, 1) == (10, False)  # recorded: it is
    assert d.rexmit(1500, 10, 1) == (0, True)  # fills a hole before a recorded range: out of order (not recorded)
    assert d.segs_dropped == 3
