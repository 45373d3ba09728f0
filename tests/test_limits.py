"""What a flow summary keeps per stream is bounded (vocab.MAX_RESETS, MAX_ANOMALIES; docs/limits.md), the
same in both engines. Fixtures are built by code (tests/pcapgen.py)."""

from __future__ import annotations

from pathlib import Path

import pcapgen as pg
import pytest

from tcptrace import vocab
from tcptrace.engine import engine_module, summarize
from tcptrace.narrate import explain


def _rst_flood(tmp_path: Path, n: int, fin_first: bool = False) -> Path:
    """A handshake, 5 bytes, (a FIN from the server,) then ``n`` RSTs from the server."""
    pkts = pg.handshake_and_data()
    if fin_first:
        pkts.append(pg.ipv4(pg.tcp(80, 40000, 5001, 1006, pg.FIN | pg.ACK, 255), "10.0.0.2", "10.0.0.1"))
    for i in range(n):
        pkts.append(pg.ipv4(pg.tcp(80, 40000, 5001 + i, 1006, pg.RST | pg.ACK, 0), "10.0.0.2", "10.0.0.1"))
    path = tmp_path / "flood.pcap"
    path.write_bytes(pg.pcap(pg.records(pkts), linktype=101))
    return path


@pytest.mark.parametrize("which", ["python", "c"])
def test_rst_flood_keeps_the_first_few_and_a_count(which: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if which == "c" and engine_module() is None:
        pytest.skip("C engine not built")
    monkeypatch.setenv("TCPTRACE_ENGINE", which)
    (s,), _stats = summarize(_rst_flood(tmp_path, 500))
    d = s.to_dict()
    assert len(d["resets"]) == vocab.MAX_RESETS
    assert d["resets_total"] == 500
    assert d["resets"][0]["frame"] == 6
    assert d["resets"][0]["cause_code"] == "abortive"
    assert sum(x.rst_packets for x in s.dirs) == 500


def test_rsts_past_the_cap_are_explained_as_without_the_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The narrative of RST number 11 and later finds state and cause by the summary's own rule: the steps are
    the same as when the summary keeps every RST."""
    from tcptrace import stats

    monkeypatch.setenv("TCPTRACE_ENGINE", "python")
    path = _rst_flood(tmp_path, 15, fin_first=True)  # each RST: "closed_socket" (its sender had sent a FIN)
    capped = explain(path, verbose=True).to_dict()
    monkeypatch.setattr(stats, "MAX_RESETS", 1000)
    whole = explain(path, verbose=True).to_dict()
    assert len(whole["flows"][0]["summary"]["resets"]) == 15
    assert capped["flows"][0]["steps"] == whole["flows"][0]["steps"]
    kinds = [st["kind"] for st in capped["flows"][0]["steps"]]
    assert kinds.count("reset") == 15
    causes = [st["facts"]["cause"] for st in capped["flows"][0]["steps"] if st["kind"] == "reset"]
    assert causes == ["closed_socket"] * 15


def test_stdin_closed_is_a_capture_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """open_capture("-") in a process started with stdin closed (sys.stdin is None): the project's error."""
    import sys

    from tcptrace.capture import open_capture
    from tcptrace.errors import CaptureError

    monkeypatch.setattr(sys, "stdin", None)
    with pytest.raises(CaptureError, match="standard input is closed"):
        open_capture("-")


def test_state_history_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SYN, RST, SYN, RST ... with one ISN stays one stream and changes state on every packet: the machine lists
    the first vocab.MAX_STATE_CHANGES changes and counts them all (built by code)."""
    from tcptrace.engine import Pipeline

    pkts = []
    for _ in range(500):
        pkts.append(pg.ipv4(pg.tcp(40000, 80, 1000, 0, pg.SYN, 64240)))
        pkts.append(pg.ipv4(pg.tcp(80, 40000, 0, 1001, pg.RST | pg.ACK, 0), "10.0.0.2", "10.0.0.1"))
    path = tmp_path / "alternate.pcap"
    path.write_bytes(pg.pcap(pg.records(pkts), linktype=101))
    monkeypatch.setenv("TCPTRACE_ENGINE", "python")
    (s,) = Pipeline(path).run().summaries
    client = s.machine.client
    assert client.changes == 1000
    assert len(client.history) == vocab.MAX_STATE_CHANGES
