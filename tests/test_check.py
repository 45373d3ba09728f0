"""`tcptrace check`: assertions, baseline comparison and JUnit output, on real sample captures."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import SAMPLES

from tcptrace.check import compare_baseline, junit_xml, run_checks
from tcptrace.cli import main


def invoke(*args: str) -> tuple[int, str]:
    r = CliRunner().invoke(main, ["check", *args])
    return r.exit_code, r.stdout + r.stderr


def test_healthy_connection_passes() -> None:
    code, out = invoke(str(SAMPLES / "echo_ipv4.pcap"), "--require", "handshake", "--require", "data",
                       "--require", "graceful-close", "--forbid", "rst", "--forbid", "retransmission",
                       "--max-rtt", "1000")  # fmt: skip
    assert code == 0, out
    assert out.strip().endswith("6 passed, 0 failed (1 stream in " + str(SAMPLES / "echo_ipv4.pcap") + ")")


def test_failures_name_flow_frame_and_reason() -> None:
    code, out = invoke(str(SAMPLES / "lossy_bulk.pcap"), "--forbid", "retransmission", "--max-retransmissions", "3")
    assert code == 1
    assert "FAIL  stream 0 (10.99.0.2:" in out
    assert "forbid retransmission: 13 found, first in frame 72" in out
    assert "max-retransmissions 3: 13 retransmissions" in out
    code, out = invoke(str(SAMPLES / "abort_rst.pcap"), "--forbid", "rst", "--require", "graceful-close")
    assert code == 1
    assert "client in ESTABLISHED: abortive close" in out
    code, out = invoke(str(SAMPLES / "refused.pcap"), "--require", "handshake")
    assert "opened: refused" in out


def test_usage_and_input_errors_exit_2(tmp_path: Path) -> None:
    assert invoke(str(SAMPLES / "echo_ipv4.pcap"))[0] == 2  # nothing to check
    bad = tmp_path / "x.pcap"
    bad.write_text("not a capture")
    assert invoke(str(bad), "--forbid", "rst")[0] == 2
    notjson = tmp_path / "b.json"
    notjson.write_text("[]")
    assert invoke(str(SAMPLES / "echo_ipv4.pcap"), "--baseline", str(notjson))[0] == 2


def test_baseline_matches_across_runs_and_reports_changes(tmp_path: Path) -> None:
    base = tmp_path / "base.json"
    r = CliRunner().invoke(main, ["flows", "--format", "json", str(SAMPLES / "port_reuse.pcap")])
    base.write_text(r.stdout)
    code, out = invoke(str(SAMPLES / "port_reuse.pcap"), "--baseline", str(base))
    assert code == 0, out
    # the echo capture has different ephemeral ports but the same server: compared, and the differences named
    code, out = invoke(str(SAMPLES / "echo_ipv4.pcap"), "--baseline", str(base))
    assert code == 1
    assert "closed: graceful_close_by_server → graceful_close_by_client" in out
    assert "the baseline's stream 1 is missing" in out


def test_baseline_tolerance() -> None:
    doc = json.loads(CliRunner().invoke(main, ["flows", "--format", "json", str(SAMPLES / "lossy_bulk.pcap")]).stdout)
    flows = doc["flows"]
    changed = json.loads(json.dumps(flows))
    changed[0]["packets"]["s2c"] = int(flows[0]["packets"]["s2c"] * 1.05)
    assert all(f.ok for f in compare_baseline(changed, doc, tolerance=0.1))
    changed[0]["packets"]["s2c"] = int(flows[0]["packets"]["s2c"] * 1.5)
    (finding,) = compare_baseline(changed, doc, tolerance=0.1)
    assert not finding.ok
    assert "packets s2c" in finding.message


def test_junit(tmp_path: Path) -> None:
    report = tmp_path / "report.xml"
    code, _ = invoke(str(SAMPLES / "port_reuse.pcap"), "--require", "graceful-close", "--forbid", "rst",
                     "--junit", str(report))  # fmt: skip
    assert code == 0
    suite = ET.parse(report).getroot()
    assert suite.tag == "testsuite"
    assert suite.get("tests") == "4"
    assert suite.get("failures") == "0"
    result = run_checks(SAMPLES / "abort_rst.pcap", forbid=["rst"])
    root = ET.fromstring(junit_xml(result))
    (case,) = root.findall("testcase")
    assert case.find("failure") is not None


def test_select_by_port_and_host() -> None:
    result = run_checks(SAMPLES / "port_reuse.pcap", forbid=["rst"], ports=[20000])
    assert len(result.flows) == 2
    assert run_checks(SAMPLES / "port_reuse.pcap", forbid=["rst"], ports=[1]).flows == []
    assert len(run_checks(SAMPLES / "port_reuse.pcap", forbid=["rst"], hosts=["10.99.0.1"]).flows) == 2


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda f: f.update(server="10.0.0.1"), "has no server as host:port"),
        (lambda f: f.pop("zeek"), "has no zeek.conn_state"),
        (lambda f: f["packets"].pop("s2c"), "has no packets.c2s / packets.s2c numbers"),
        (lambda f: f["c2s"].update(analysis=[]), "has no c2s.analysis object"),
    ],
)
def test_damaged_baseline_is_an_input_error(tmp_path: Path, damage: Any, reason: str) -> None:
    r = CliRunner().invoke(main, ["flows", "--format", "json", str(SAMPLES / "echo_ipv4.pcap")])
    doc = json.loads(r.stdout)
    damage(doc["flows"][0])
    base = tmp_path / "base.json"
    base.write_text(json.dumps(doc))
    code, out = invoke(str(SAMPLES / "echo_ipv4.pcap"), "--baseline", str(base))
    assert code == 2
    assert "Traceback" not in out
    assert f"flow 0 of the baseline {reason}" in out


def test_flow_level_checks_read_the_same_pass_as_the_baseline(monkeypatch: pytest.MonkeyPatch) -> None:
    """--require, --max-* and --baseline compare flow documents from the pass `flows --format json` uses (the C
    engine when built), like with like; the Python reference gives the same documents and findings."""
    from tcptrace.check import run_checks

    kw = {"require": ["handshake", "graceful-close"], "max_retransmissions": 5, "max_rtt_ms": 100.0}
    fast = run_checks(SAMPLES / "lossy_bulk.pcap", **kw)  # type: ignore[arg-type]
    monkeypatch.setenv("TCPTRACE_ENGINE", "python")
    ref = run_checks(SAMPLES / "lossy_bulk.pcap", **kw)  # type: ignore[arg-type]
    assert fast.flows == ref.flows
    assert [(f.assertion, f.ok, f.message) for f in fast.findings] == [
        (f.assertion, f.ok, f.message) for f in ref.findings
    ]
    assert not all(f.ok for f in fast.findings)  # 13 retransmissions > 5: the check can fail
