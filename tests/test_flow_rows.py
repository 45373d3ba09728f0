"""The flows table's lean path and the C engine's packing of finished flows.

* ``flows`` (table, CSV) renders :class:`tcptrace.stats.FlowRow` values made by :func:`tcptrace.stats.flow_row`
  from the engine's RowRecord (no FlowSummary built) or from :meth:`FlowSummary.row_facts` (the Python path).
  Both must give what :meth:`FlowSummary.to_dict` says of the same stream, with either engine.
* The engine packs a stream's state once it has ended and the capture has gone ``pack_after_ns`` past it, and
  unpacks it when a late packet comes: results must not depend on it (here every stream is packed at its end).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pcapgen as pg
import pytest
from click.testing import CliRunner
from conftest import CORPUS, SAMPLES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tcptrace import engine, export, stats, vocab
from tcptrace.cli import main
from tcptrace.export import FLOW_CSV_FIELDS
from tcptrace.zeek import community_id

CAPTURES = sorted(p for p in SAMPLES.iterdir() if p.suffix in (".pcap", ".pcapng"))


def _engine_built() -> bool:
    if os.environ.get("TCPTRACE_REQUIRE_ENGINE") == "1":
        return True
    try:
        from tcptrace import _engine  # noqa: F401
    except ImportError:
        return False
    return True


needs_engine = pytest.mark.skipif(not _engine_built(), reason="C engine not built")


def test_row_facts_are_the_engine_row_record() -> None:
    assert stats.RowFacts._fields == vocab.ENGINE_ROW_RECORD


def test_flow_row_starts_with_the_csv_columns() -> None:
    assert stats.FlowRow._fields[: len(FLOW_CSV_FIELDS)] == FLOW_CSV_FIELDS


def _shown(row: stats.FlowRow) -> dict[str, Any]:
    """A row's fields but start_ns (compared apart: to_dict has the start as float seconds)."""
    d = row._asdict()
    del d["start_ns"]
    return d


def _expected_row(d: dict[str, Any]) -> dict[str, Any]:
    """The table's columns as FlowSummary.to_dict() words them (what the table showed before the lean path)."""
    c2s, s2c = d["c2s"]["analysis"], d["s2c"]["analysis"]
    return {
        "stream": d["stream"],
        "client": d["client"],
        "server": d["server"],
        "packets_c2s": d["packets"]["c2s"],
        "packets_s2c": d["packets"]["s2c"],
        "bytes_c2s": d["bytes"]["c2s"],
        "bytes_s2c": d["bytes"]["s2c"],
        "duration_s": round(d["duration_s"], 6),
        "opened": d["opened"],
        "closed": d["closed"],
        "completeness": d["wireshark"]["completeness"],
        "conn_state": d["zeek"]["conn_state"],
        "history": d["zeek"]["history"],
        "retransmissions": c2s.get("retransmission", 0) + s2c.get("retransmission", 0),
        "dup_acks": c2s.get("duplicate_ack", 0) + s2c.get("duplicate_ack", 0),
        "lost_segments": c2s.get("lost_segment", 0) + s2c.get("lost_segment", 0),
        "zero_windows": c2s.get("zero_window", 0) + s2c.get("zero_window", 0),
        "resets": d["resets_total"],
        "verdict": d["verdict"],
        "roles_guessed": d["roles_guessed"],
    }


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_rows_say_what_to_dict_says(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Python path: FlowSummary.row_facts -> flow_row; C path: Engine.row -> flow_row; both against to_dict."""
    monkeypatch.setenv("TCPTRACE_ENGINE", "python")
    summaries, _ = stats.summarize(path)
    expected = [_expected_row(s.to_dict()) for s in summaries]
    assert expected
    starts = [s.first_ts for s in summaries]  # the typed tables' start_time (to_dict has it as float seconds)
    assert [_shown(r) for r in engine.flow_rows(summaries)] == expected
    assert [r.start_ns for r in engine.flow_rows(summaries)] == starts
    if _engine_built():
        monkeypatch.setenv("TCPTRACE_ENGINE", "c")
        lazy, _ = engine.summarize_lazily(path)
        assert isinstance(lazy, engine.EngineSummaries)
        assert [_shown(r) for r in engine.flow_rows(lazy)] == expected
        assert [r.start_ns for r in engine.flow_rows(lazy)] == starts
        # the engine's record and the one a FlowSummary built from the engine's records gives agree field by field
        eng = lazy._engine
        for n in range(len(lazy)):
            assert tuple(eng.row(n)) == tuple(engine.engine_summary(eng, n).row_facts())


def test_verdict_shapes() -> None:
    """close_shape, from the FIN frames and the frames acknowledging them (per side)."""
    assert stats.close_shape([], [0, 0]) == ""
    assert stats.close_shape([(0, 10)], [0, 0]) == ""
    assert stats.close_shape([(0, 10), (1, 11)], [11, 12]) == "three_way"  # the server's FIN acknowledged the client's
    assert stats.close_shape([(0, 10), (1, 12)], [11, 13]) == "four_way"
    assert stats.close_shape([(0, 10), (1, 11)], [12, 13]) == "simultaneous"  # both FINs before either's ACK
    assert stats.close_shape([(1, 10), (0, 11)], [0, 0]) == "simultaneous"  # never acknowledged


# --- packing finished flows -------------------------------------------------------------------------------------

T0 = 1_700_000_000_000_000_000
S = 1_000_000_000


def _pkt(sport: int, dport: int, seq: int, ack: int, flags: int, payload: bytes = b"", rev: bool = False) -> bytes:
    a, b = ("10.1.0.1", "10.1.0.2") if not rev else ("10.1.0.2", "10.1.0.1")
    return pg.ether(pg.ipv4(pg.tcp(sport, dport, seq, ack, flags, payload=payload), a, b))


def _late_and_reused() -> bytes:
    """Stream 0 opens, sends data and is reset; at 2.5 s an unanswered SYN (stream 1) moves the clock past the
    horizon (stream 0 is packed); at 3 s a retransmission and an RST of stream 0 come late (unpacked, counted);
    at 9 s a SYN with a new ISN reuses stream 0's ports while it is packed again (stream 2, judged against stream
    0's base); stream 2 closes gracefully, is packed at 12 s, and a last ACK of it comes at 13 s (unpacked);
    stream 3 is refused. Stream 1's SYN, sent again at 6, 12 and 16 s, keeps the clock going."""
    cli, srv = 40000, 80
    recs: list[pg.Rec] = []

    def at(t_ns: int, pkt: bytes) -> None:
        recs.append(pg.Rec(pkt, T0 + t_ns))

    at(0, _pkt(cli, srv, 1000, 0, pg.SYN))
    at(1_000_000, _pkt(srv, cli, 5000, 1001, pg.SYN | pg.ACK, rev=True))
    at(2_000_000, _pkt(cli, srv, 1001, 5001, pg.ACK))
    at(3_000_000, _pkt(cli, srv, 1001, 5001, pg.ACK | pg.PSH, b"hello"))
    at(4_000_000, _pkt(srv, cli, 5001, 1006, pg.RST | pg.ACK, rev=True))
    at(2 * S + S // 2, _pkt(40003, srv, 70, 0, pg.SYN))
    at(3 * S, _pkt(cli, srv, 1001, 5001, pg.ACK | pg.PSH, b"hello"))  # late: a retransmission
    at(3 * S + 1_000_000, _pkt(srv, cli, 5001, 1006, pg.RST | pg.ACK, rev=True))
    at(6 * S, _pkt(40003, srv, 70, 0, pg.SYN))
    at(9 * S, _pkt(cli, srv, 777_000, 0, pg.SYN))  # port reuse: a new ISN
    at(9 * S + 1_000_000, _pkt(srv, cli, 91_000, 777_001, pg.SYN | pg.ACK, rev=True))
    at(9 * S + 2_000_000, _pkt(cli, srv, 777_001, 91_001, pg.ACK))
    at(9 * S + 3_000_000, _pkt(cli, srv, 777_001, 91_001, pg.FIN | pg.ACK))
    at(9 * S + 4_000_000, _pkt(srv, cli, 91_001, 777_002, pg.FIN | pg.ACK, rev=True))
    at(9 * S + 5_000_000, _pkt(cli, srv, 777_002, 91_002, pg.ACK))
    at(10 * S, _pkt(40001, srv, 50, 0, pg.SYN))
    at(10 * S + 1_000_000, _pkt(srv, 40001, 0, 51, pg.RST | pg.ACK, rev=True))
    at(12 * S, _pkt(40003, srv, 70, 0, pg.SYN))
    at(13 * S, _pkt(cli, srv, 777_002, 91_002, pg.ACK))  # late again
    at(16 * S, _pkt(40003, srv, 70, 0, pg.SYN))
    return pg.pcap(recs, nano=True)


def _flows_json(path: Path, engine_name: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("TCPTRACE_ENGINE", engine_name)
    summaries, cap_stats = stats.summarize(path)
    return json.dumps({"flows": [s.to_dict() for s in summaries], "stats": cap_stats.as_dict()}, sort_keys=True)


@needs_engine
@pytest.mark.parametrize("pack_after_ns", [0, vocab.FINISHED_HORIZON_NS, -1])
def test_packing_changes_nothing(pack_after_ns: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "late.pcap"
    path.write_bytes(_late_and_reused())
    reference = _flows_json(path, "python", monkeypatch)
    monkeypatch.setattr(engine, "PACK_AFTER_NS", pack_after_ns)
    assert _flows_json(path, "c", monkeypatch) == reference
    doc = json.loads(reference)
    assert [f["packets"] for f in doc["flows"]] == [
        {"c2s": 4, "s2c": 3}, {"c2s": 4, "s2c": 0}, {"c2s": 5, "s2c": 2}, {"c2s": 1, "s2c": 1},
    ]  # fmt: skip
    assert doc["flows"][0]["resets_total"] == 2  # the late RST is stream 0's, unpacked
    assert doc["flows"][2]["opened"] == "handshake"  # the SYN on stream 0's ports began stream 2
    monkeypatch.setenv("TCPTRACE_ENGINE", "c")
    lazy, _ = engine.summarize_lazily(path)
    memory = lazy._engine.memory()  # type: ignore[attr-defined]
    # packed at the end (but with -1: never): streams 0, 2 and 3; stream 1 (SYNs only) has not ended
    assert memory["packed"] == {0: 3, vocab.FINISHED_HORIZON_NS: 3, -1: 0}[pack_after_ns]
    # late packets that found their stream packed: at 3 s (and with 0 at 3.001 s) stream 0's, at 13 s stream 2's
    assert memory["unpacked"] == {0: 3, vocab.FINISHED_HORIZON_NS: 2, -1: 0}[pack_after_ns]
    assert memory["flows"] == 4


@needs_engine
@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_samples_identical_with_every_flow_packed(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reference = _flows_json(path, "c", monkeypatch)
    monkeypatch.setattr(engine, "PACK_AFTER_NS", 0)
    assert _flows_json(path, "c", monkeypatch) == reference


@needs_engine
@pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is not beside the repository")
def test_corpus_identical_with_every_flow_packed(monkeypatch: pytest.MonkeyPatch) -> None:
    files = [p for p in sorted(CORPUS.rglob("*")) if p.is_file() and p.suffix not in (".tsv", ".md", ".json", ".txt")]
    packed = 0
    for path in files:
        outcome = []
        for pack_after_ns in (-1, 0):
            monkeypatch.setattr(engine, "PACK_AFTER_NS", pack_after_ns)
            try:
                outcome.append(_flows_json(path, "c", monkeypatch))
            except Exception as exc:  # the same error either way is agreement too
                outcome.append(repr(exc))
                continue
            if pack_after_ns == 0:
                lazy, _ = engine.summarize_lazily(path)
                packed += lazy._engine.memory()["packed"]  # type: ignore[attr-defined]
        assert outcome[0] == outcome[1], path
    assert packed > 500  # streams really were packed


@needs_engine
def test_a_scan_is_packed_small(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """1,000 refused SYNs (a scan): every stream is packed, in a few hundred bytes each."""
    recs = []
    for i in range(1000):
        t = T0 + i * 10_000_000
        recs.append(pg.Rec(_pkt(20000 + i, 9, 1000 + 7919 * i, 0, pg.SYN), t))
        recs.append(pg.Rec(_pkt(9, 20000 + i, 0, 1001 + 7919 * i, pg.RST | pg.ACK, rev=True), t + 20_000))
    recs.append(pg.Rec(_pkt(30000, 9, 5, 0, pg.SYN), T0 + 20 * S))
    path = tmp_path / "scan.pcap"
    path.write_bytes(pg.pcap(recs, nano=True))
    monkeypatch.setenv("TCPTRACE_ENGINE", "c")
    lazy, _ = engine.summarize_lazily(path)
    memory = lazy._engine.memory()  # type: ignore[attr-defined]
    assert memory["packed"] == 1000
    # a live stream takes ~3.8 KB, classic tcptrace's tcb (two ClDirs and their quadrants) ~1.5 KB of it
    assert memory["packed_bytes"] / 1000 < 500
    result = CliRunner().invoke(main, ["flows", str(path), "--format", "csv"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert len(lines) == 1 + 1001
    assert lines[1].split(",")[8:12] == ["refused", "reset_by_server", "37", "REJ"]


# --- packing and classic tcptrace's segment database ------------------------------------------------------------


def _cli(args: list[str], pack_after_ns: int, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(engine, "PACK_AFTER_NS", pack_after_ns)
    result = CliRunner().invoke(main, args)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        return repr(result.exception)  # the same error either way is agreement too
    return f"{result.exit_code}\n{result.stdout}\n{result.stderr}"


def _classic_blocks(out: str) -> list[Any]:
    """Each stream's classic tcptrace -l block ("tcptrace") of a `flows --format json` output."""
    doc = json.loads(out.split("\n", 1)[1].rsplit("\n\n", 1)[0])
    return [f["tcptrace"] for f in doc["flows"]]


def _corpus_files() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    return [p for p in sorted(CORPUS.rglob("*")) if p.is_file() and p.suffix not in (".tsv", ".md", ".json", ".txt")]


@needs_engine
def test_classic_block_identical_with_every_flow_packed(monkeypatch: pytest.MonkeyPatch) -> None:
    """`flows --format json` (its "tcptrace" blocks: classic's segment database, quadrants and all, is packed with
    the stream) and `flows --long`, every stream packed at its end, against never packing: samples and corpus.
    Lossy captures send packets to streams already packed (unpacked, their quadrants rebuilt, packed again)."""
    monkeypatch.setenv("TCPTRACE_ENGINE", "c")
    unpacked = with_classic = 0
    for path in [*CAPTURES, *_corpus_files()]:
        for extra in (["--format", "json"], ["--long"]):
            never, at_once = (_cli(["flows", str(path), *extra], n, monkeypatch) for n in (-1, 0))
            assert at_once == never, (path, extra)
            if extra[0] == "--format" and never.startswith("0\n"):
                with_classic += sum(1 for b in _classic_blocks(never) if b)
        monkeypatch.setattr(engine, "PACK_AFTER_NS", 0)
        try:
            lazy, _ = engine.summarize_lazily(path)
        except Exception:  # (a capture the CLI rejects, the same way both times)
            continue
        unpacked += lazy._engine.memory()["unpacked"]  # type: ignore[attr-defined]
    # (without ../shared/corpus, as in a fresh clone's CI, the samples alone: 35 blocks, 2 streams unpacked)
    corpus = bool(_corpus_files())
    assert with_classic > (500 if corpus else 30)
    assert unpacked > (50 if corpus else 1)  # late packets found their stream packed


def _quadrant_stream() -> bytes:
    """One stream whose client data crosses classic's quadrant boundary (sequence 2**30) with a hole after it: it
    closes (both FINs acknowledged) and is packed; then, past the horizon, late copies come: the segment across the
    boundary again (retransmitted bytes in two quadrants), the one after the hole again, the hole's segment (out
    of order) and ACKs; a second stream keeps the clock going."""
    cli, srv, isn, sisn = 40100, 80, 0x3FFFFF00, 9000
    recs: list[pg.Rec] = []

    def at(t_ns: int, pkt: bytes) -> None:
        recs.append(pg.Rec(pkt, T0 + t_ns))

    a, b, c = b"a" * 400, b"b" * 300, b"c" * 200  # a crosses 2**30; b is lost; c comes after the hole
    s1, s2, s3 = isn + 1, isn + 1 + 400, isn + 1 + 700
    end = s3 + 200
    ms = 1_000_000
    at(0, _pkt(cli, srv, isn, 0, pg.SYN))
    at(1 * ms, _pkt(srv, cli, sisn, isn + 1, pg.SYN | pg.ACK, rev=True))
    at(2 * ms, _pkt(cli, srv, s1, sisn + 1, pg.ACK))
    at(3 * ms, _pkt(cli, srv, s1, sisn + 1, pg.ACK | pg.PSH, a))
    at(4 * ms, _pkt(cli, srv, s3, sisn + 1, pg.ACK | pg.PSH, c))
    at(5 * ms, _pkt(srv, cli, sisn + 1, s2, pg.ACK, rev=True))
    at(6 * ms, _pkt(srv, cli, sisn + 1, s2, pg.ACK, rev=True))  # a duplicate ACK
    at(7 * ms, _pkt(cli, srv, end, sisn + 1, pg.FIN | pg.ACK))
    at(8 * ms, _pkt(srv, cli, sisn + 1, end + 1, pg.FIN | pg.ACK, rev=True))  # (acknowledges the hole too)
    at(9 * ms, _pkt(cli, srv, end + 1, sisn + 2, pg.ACK))
    at(3 * S, _pkt(40101, srv, 5, 0, pg.SYN))  # the clock passes the horizon: stream 0 is packed
    at(3 * S + 1 * ms, _pkt(cli, srv, s1, sisn + 2, pg.ACK | pg.PSH, a))  # late, across the boundary again
    at(3 * S + 2 * ms, _pkt(cli, srv, s3, sisn + 2, pg.ACK | pg.PSH, c))
    at(6 * S, _pkt(40101, srv, 5, 0, pg.SYN))
    at(6 * S + 1 * ms, _pkt(cli, srv, s2, sisn + 2, pg.ACK | pg.PSH, b))  # the hole, out of order
    at(6 * S + 2 * ms, _pkt(srv, cli, sisn + 2, end + 1, pg.ACK, rev=True))
    at(9 * S, _pkt(40101, srv, 5, 0, pg.SYN))
    return pg.pcap(recs, nano=True)


@needs_engine
@pytest.mark.parametrize("pack_after_ns", [0, vocab.FINISHED_HORIZON_NS])
def test_classic_quadrants_survive_packing(pack_after_ns: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "quadrants.pcap"
    path.write_bytes(_quadrant_stream())
    reference = _flows_json(path, "python", monkeypatch)
    monkeypatch.setattr(engine, "PACK_AFTER_NS", pack_after_ns)
    assert _flows_json(path, "c", monkeypatch) == reference
    a2b = json.loads(reference)["flows"][0]["tcptrace"]["a2b"]
    # the late copies were judged against the ranges recorded before packing
    assert a2b["rexmt_data_pkts"] == 2
    assert a2b["rexmt_data_bytes"] == 600
    assert a2b["outoforder_pkts"] == 1
    monkeypatch.setenv("TCPTRACE_ENGINE", "c")
    lazy, _ = engine.summarize_lazily(path)
    memory = lazy._engine.memory()  # type: ignore[attr-defined]
    assert memory["unpacked"] >= 2  # stream 0, at 3 s and at 6 s
    assert memory["packed"] >= 1
    never = _cli(["flows", str(path), "--long"], -1, monkeypatch)
    assert _cli(["flows", str(path), "--long"], pack_after_ns, monkeypatch) == never


@needs_engine
@pytest.mark.parametrize("fmt", ["jsonl", "table"])
def test_packets_identical_with_every_flow_packed(fmt: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The packets pass reads the flow of each packet after processing it, and Engine.quiet marks streams that
    may be packed: packing every stream at its end (deferred to the next packet there) changes no line."""
    monkeypatch.setenv("TCPTRACE_ENGINE", "c")
    for path in [*CAPTURES, *_corpus_files()[:60]]:
        args = ["packets", str(path), "--format", fmt]
        assert _cli(args, 0, monkeypatch) == _cli(args, -1, monkeypatch), path


@needs_engine
def test_quiet_on_a_packed_stream(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Engine.quiet (the packets pass settling a stream) may name a stream already packed: it is unpacked, marked
    and packed again, and reads the same afterwards; a call that changes nothing leaves it packed."""
    from tcptrace import _engine
    from tcptrace.capture import open_capture

    path = tmp_path / "late.pcap"
    path.write_bytes(_late_and_reused())
    monkeypatch.setattr(engine, "PACK_AFTER_NS", 0)
    eng = engine.new_engine(_engine)
    open_capture(path).feed(eng)
    before = eng.memory()
    assert before["packed"] == 3
    streams = range(4)
    records = [(tuple(eng.flow(i)), tuple(eng.lifecycle(i)), tuple(eng.row(i))) for i in streams]
    eng.quiet(0, 10**9)  # stream 0 (packed): quiet changes
    after = eng.memory()
    assert (after["packed"], after["unpacked"]) == (3, before["unpacked"] + 1)
    eng.quiet(0, 10**9)  # no change: not unpacked
    assert eng.memory()["unpacked"] == after["unpacked"]
    assert [(tuple(eng.flow(i)), tuple(eng.lifecycle(i)), tuple(eng.row(i))) for i in streams] == records


# --- the flows table and CSV written by the engine (Engine.row_lines) -------------------------------------------

FLOWS_ARGS = (
    [],
    ["--format", "csv"],
    ["--format", "json"],
    ["--long"],
    ["--zeek"],
    ["--zeek", "--format", "csv"],
    ["--app"],
    ["--app", "--format", "csv"],
    ["-s", "0"],
    ["-s", "1", "--format", "csv"],
    ["--port", "80"],
)


def _flows_cli(path: Path, args: list[str], engine_name: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("TCPTRACE_ENGINE", engine_name)
    result = CliRunner().invoke(main, ["flows", str(path), *args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        return repr(result.exception)  # the same error either way is agreement too
    return f"{result.exit_code}\n{result.stdout}\n{result.stderr}"


@needs_engine
@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_flows_output_identical(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`tcptrace flows` in every format, byte for byte, with the Python path (the reference) and the C engine
    (which writes the table's and the CSV's rows itself)."""
    for args in FLOWS_ARGS:
        reference = _flows_cli(path, args, "python", monkeypatch)
        assert _flows_cli(path, args, "c", monkeypatch) == reference, args
    assert "\n     0  " in _flows_cli(path, [], "c", monkeypatch)  # (the table really has a stream 0)


@needs_engine
@pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is not beside the repository")
def test_flows_output_identical_on_the_corpus(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = 0
    for path in _corpus_files():
        for args in (["--format", "csv"], []):
            reference = _flows_cli(path, args, "python", monkeypatch)
            assert _flows_cli(path, args, "c", monkeypatch) == reference, (path, args)
            if args and reference.startswith("0\n"):
                rows += reference.count("\n") - 4
    assert rows > 1000  # the corpus really was read


def _v6(payload: bytes, src: str, dst: str) -> bytes:
    return pg.ether(pg.ipv6(payload, src, dst), ethertype=0x86DD)


# durations (ns) where rounding to 6 then to 3 decimals meets ties, repr's exponent form below 1e-4 s, and more
_DURATIONS = (
    0, 1, 499, 500, 501, 999, 1_000, 1_499, 1_500, 1_501, 9_999, 10_000, 12_345, 50_000, 99_499, 99_500, 99_999,
    100_000, 100_500, 123_456, 499_500, 500_000, 500_499, 500_500, 1_000_000, 1_234_567, 1_499_500, 1_500_000,
    1_500_500, 999_999_500, 1_000_000_000, 86_400_123_456_789, (1 << 50) - 1, 1 << 50, (1 << 50) + 500,
    3_000_000_000_000_500, -1, -500, -1_000_000, -1_500_000,
)  # fmt: skip

_V6 = (
    "fd00::1", "::2", "1::", "1:0:0:2::", "1::2:0:0:3", "1:0:0:2:0:0:0:3", "1:0:2:0:3:0:4:0", "0:1:0:0:0:0:1:0",
    "abcd:ef01:2345:6789:abcd:ef01:2345:6789", "::ffff:10.1.2.3", "::10.1.2.3", "::", "fe80::1:0:0:0",
    "1:2:3:4:5:6:7::", "::1:2:3:4:5:6:7", "0:0:1::", "1:0::", "64:ff9b::a01:203",
)  # fmt: skip


def _row_cases() -> bytes:
    """Refused SYNs (a SYN, the server's RST+ACK) apart by each of _DURATIONS (a negative one: the RST stamped
    before the SYN), then streams between IPv6 addresses of every zero-run shape; streams begun mid-stream (roles
    guessed), one with data to make the verdict count bytes in KiB, and one never answered."""
    recs: list[pg.Rec] = []
    t = T0 + 10 * S
    for i, d in enumerate(_DURATIONS):
        recs.append(pg.Rec(_pkt(20000 + i, 9, 1000 + 7919 * i, 0, pg.SYN), t))
        recs.append(pg.Rec(_pkt(9, 20000 + i, 0, 1001 + 7919 * i, pg.RST | pg.ACK, rev=True), t + d))
        t += 10_000_000
    for i, a in enumerate(_V6):
        b = _V6[(i + 1) % len(_V6)]
        recs.append(pg.Rec(_v6(pg.tcp(30000 + i, 80, 50, 0, pg.SYN), a, b), t))
        recs.append(pg.Rec(_v6(pg.tcp(80, 30000 + i, 70, 51, pg.RST | pg.ACK), b, a), t + 1234))
        t += 10_000_000
    recs.append(pg.Rec(_pkt(41000, 80, 5, 9, pg.ACK | pg.PSH, b"x" * 1500), t))  # mid-stream: roles guessed
    recs.append(pg.Rec(_pkt(80, 41000, 9, 1505, pg.ACK, rev=True), t + 1000))
    recs.append(pg.Rec(_pkt(41001, 80, 5, 0, pg.SYN), t + 2000))  # never answered
    recs.sort(key=lambda r: r.ts_ns)  # (capture order is time order; the negative durations' RSTs come first)
    return pg.pcap(recs, nano=True)


@needs_engine
@pytest.mark.parametrize("pack_after_ns", [0, -1])
def test_engine_rows_durations_and_addresses(
    pack_after_ns: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The engine's own number and address formatting (durations rounded twice, as round(x, 6) then the table's
    .3f or the CSV's repr; IPv6 compressed as ipaddress writes it, ::ffff:0:0/96 and ::/96 left to Python), from
    live and from packed streams, against the Python renderer's text."""
    path = tmp_path / "rows.pcap"
    path.write_bytes(_row_cases())
    monkeypatch.setattr(engine, "PACK_AFTER_NS", pack_after_ns)
    for args in ([], ["--format", "csv"]):
        reference = _flows_cli(path, args, "python", monkeypatch)
        assert reference.startswith("0\n")
        assert _flows_cli(path, args, "c", monkeypatch) == reference, args
    csv_lines = _flows_cli(path, ["--format", "csv"], "c", monkeypatch).splitlines()[2:]
    durations = [line.split(",")[7] for line in csv_lines[: len(_DURATIONS)]]
    assert durations[:5] == ["0.0", "0.0", "0.0", "0.0", "1e-06"]  # 500 ns: round(5e-07, 6) is 0 (x is below 5e-07)
    assert "[::ffff:a01:203]:80" in reference or "[::ffff:10.1.2.3]:80" in reference  # (Python's text, by version)
    assert "[1:0:0:2::]:80" in reference
    assert "[1::2:0:0:3]:" in reference
    assert "1.5 KiB" in reference


def _endpoints(size: int) -> st.SearchStrategy[tuple[bytes, int]]:
    """(address, port) from a few addresses (equal addresses come often: the ports then order the endpoints)."""
    return st.tuples(st.sampled_from([bytes(size), b"\xff" * size, *(bytes([k]) * size for k in (1, 10, 127))])
                     | st.binary(min_size=size, max_size=size), st.integers(1, 65535))  # fmt: skip


def _flows(size: int) -> st.SearchStrategy[list[tuple[tuple[bytes, int], tuple[bytes, int]]]]:
    """Connections (client, server) between endpoints of ``size``-byte addresses, no two between the same two."""
    pairs = st.tuples(_endpoints(size), _endpoints(size)).filter(lambda ab: ab[0] != ab[1])
    return st.lists(pairs, min_size=1, max_size=12, unique_by=frozenset)


_FLOWS = st.sampled_from([4, 16]).flatmap(_flows)


@needs_engine
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(flows=_FLOWS)
def test_engine_csv_community_id(
    flows: list[tuple[tuple[bytes, int], tuple[bytes, int]]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The C engine's own SHA-1 and base64 (the CSV's community_id column, no Python renderer behind it) against
    zeek.community_id (checked on the spec's vectors in tests/test_zeek.py) of random IPv4 and IPv6 endpoints."""
    import ipaddress

    monkeypatch.setattr(export, "endpoints_community_id", None)  # (the Python renderer's would fail)
    recs = []
    for k, ((ca, cp), (sa, sp)) in enumerate(flows):
        seg = pg.tcp(cp, sp, 1000, 0, pg.SYN)
        a, b = str(ipaddress.ip_address(ca)), str(ipaddress.ip_address(sa))
        packet = pg.ether(pg.ipv4(seg, a, b)) if len(ca) == 4 else _v6(seg, a, b)
        recs.append(pg.Rec(packet, T0 + k * S))
    path = tmp_path / "cid.pcap"
    path.write_bytes(pg.pcap(recs, nano=True))
    out = _flows_cli(path, ["--format", "csv"], "c", monkeypatch)
    assert out.startswith("0\n"), out
    rows = out.splitlines()[2 : 2 + len(flows)]
    assert [row.rsplit(",", 1)[1] for row in rows] == [community_id(ca, sa, cp, sp) for (ca, cp), (sa, sp) in flows]
