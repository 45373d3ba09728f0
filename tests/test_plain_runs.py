"""explain's plain runs (model.PlainRun, Engine.plain_runs): the C engine counts the segments no step words on
its own instead of handing them to Python, and every narrative stays byte for byte the pure-Python reference's
(TCPTRACE_ENGINE=python, which never counts runs).

The captures here are built in code (tests/pcapgen.py: synthetic fixtures, not recorded traffic): bulk transfers
whose runs are broken by what the classifier must see whole (retransmissions, duplicate ACKs, SACK, window
changes, a write's last segment, newline or length-prefixed messages, a side's first HTTP payload after a run,
FINs, resets, late copies, time gaps that make FlowStream.told tell other streams mid-run). The samples and the
corpus are compared by tests/test_engine_explain.py, whose engine side reads runs too.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import pcapgen as g
import pytest
from conftest import SAMPLES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tcptrace import model
from tcptrace.engine import FinishedFlow, FlowStream, _pack, _unpack
from tcptrace.narrate import ExplainDocument, narrate_flow

if os.environ.get("TCPTRACE_REQUIRE_ENGINE") != "1":
    pytest.importorskip("tcptrace._engine", reason="C engine not built: no plain runs")

M = 0xFFFFFFFF
C, S = "10.0.0.1", "10.0.0.2"


class _Conn:
    """One connection's packets, written as a test states them (client 10.0.0.1:sport, server 10.0.0.2:80)."""

    def __init__(self, sport: int = 40000, ts: bool = True, sack: bool = True, mss: int = 1460) -> None:
        self.sport, self.ts, self.mss = sport, ts, mss
        self.seq = [1000, 5000]  # next byte each side sends
        self.sent: list[list[tuple[int, bytes]]] = [[], []]
        self.acked = [5001, 1001]  # what each side acknowledged last (the peer's next byte)
        self.tsval = 100
        self.packets: list[bytes] = []
        opts = g.opt_mss(mss) + g.opt_ws(7) + (g.opt_sack_perm() if sack else b"") + (g.opt_ts(1, 0) if ts else b"")
        self._put(0, self.seq[0], 0, g.SYN, opts, b"", 64240)
        self._put(1, self.seq[1], self.seq[0] + 1, g.SYN | g.ACK, opts, b"", 65160)
        self.seq = [1001, 5001]
        self.ack(0)

    def _put(self, d: int, seq: int, ack: int, flags: int, opts: bytes, payload: bytes, win: int = 502) -> None:
        sport, dport = (self.sport, 80) if d == 0 else (80, self.sport)
        src, dst = (C, S) if d == 0 else (S, C)
        if self.ts and not flags & g.SYN:
            self.tsval += 1
            opts = g.opt_ts(self.tsval, self.tsval - 1) + opts
        self.packets.append(g.ipv4(g.tcp(sport, dport, seq & M, ack & M, flags, win, opts, payload), src, dst))

    def data(self, d: int, payload: bytes, psh: bool = True, win: int = 502) -> None:
        self.sent[d].append((self.seq[d], payload))
        self._put(d, self.seq[d], self.acked[d], g.ACK | (g.PSH if psh else 0), b"", payload, win)
        self.seq[d] += len(payload)

    def ack(self, d: int, upto: int | None = None, sack: tuple[int, int] | None = None, win: int = 502) -> None:
        self.acked[d] = self.seq[1 - d] if upto is None else upto
        opts = g.opt_sack(sack) if sack else b""
        self._put(d, self.seq[d], self.acked[d], g.ACK, opts, b"", win)

    def resend(self, d: int, k: int) -> None:
        seq, payload = self.sent[d][k]
        self._put(d, seq, self.acked[d], g.ACK | g.PSH, b"", payload)

    def fin(self, d: int) -> None:
        self._put(d, self.seq[d], self.acked[d], g.FIN | g.ACK, b"", b"")
        self.seq[d] += 1

    def rst(self, d: int) -> None:
        self._put(d, self.seq[d], 0, g.RST, b"", b"")


def _write(path: Path, conns: list[tuple[_Conn, int]], gaps: dict[tuple[int, int], int] | None = None) -> Path:
    """The connections' packets interleaved by time: each starts at its offset (ns), packets 50 µs apart, plus
    ``gaps[(connection, packet index)]`` ns before that packet."""
    recs = []
    for i, (conn, start) in enumerate(conns):
        ts = 1_700_000_000_000_000_000 + start
        for k, pkt in enumerate(conn.packets):
            ts += 50_000 + (gaps or {}).get((i, k), 0)
            recs.append(g.Rec(g.ether(pkt), ts))
    path.write_bytes(g.pcap(sorted(recs, key=lambda r: r.ts_ns)))
    return path


def _told(source: Any, engine: str, monkeypatch: pytest.MonkeyPatch, horizon_ns: int, runs: bool) -> list[Any]:
    """Each stream as FlowStream.told tells it, in order (its narrative's JSON), the late counts, the streams."""
    monkeypatch.setenv("TCPTRACE_ENGINE", engine)
    fs = FlowStream(source, horizon_ns=horizon_ns, runs=runs)

    def tell(ff: FinishedFlow) -> str:
        n = narrate_flow(ff.summary, ff.segments, previous=ff.previous, whole=lambda: fs.whole(ff))
        return json.dumps(n.to_dict(), sort_keys=True)

    return [*fs.told(tell), fs.late, fs.streams_total]


def _runs_in(path: Path | io.BytesIO, monkeypatch: pytest.MonkeyPatch) -> list[model.PlainRun]:
    """The plain runs FlowStream.told hands out for ``path`` (the engine's)."""
    monkeypatch.setenv("TCPTRACE_ENGINE", "c")
    got: list[model.PlainRun] = []
    for _ in FlowStream(path, runs=True).told(lambda ff: got.extend(s for s in ff.segments if model.is_run(s))):
        pass
    return got


def _bulk(sport: int = 40000, writes: int = 3, per_write: int = 20, **kw: Any) -> _Conn:
    """A request, then writes of full segments, each ending with a smaller one with PSH, ACKed every other."""
    c = _Conn(sport, **kw)
    full = c.mss - (12 if c.ts else 0)
    c.data(0, b"\x00\x01please send\x00")
    c.ack(1)
    for w in range(writes):
        for k in range(per_write):
            c.data(1, bytes([65 + w]) * full, psh=False)
            if k % 2:
                c.ack(0)
        c.data(1, b"end of write\x00", psh=True)
        c.ack(0)
    return c


def test_a_bulk_transfer_is_counted_and_told_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    c = _bulk()
    c.fin(0)
    c.fin(1)
    c.ack(0)
    path = _write(tmp_path / "bulk.pcap", [(c, 0)])
    runs = _runs_in(path, monkeypatch)
    # the first write's last segment is handed out (sticky.split is told once), the later writes' are counted
    assert len(runs) == 2
    assert runs[0].last_frame < runs[1].frame
    assert sum(r.packets for r in runs) > 0.8 * len(c.packets)
    assert sum(r.data_bytes[1] for r in runs) > 0.8 * 3 * 20 * 1448
    assert all(r.data_segments[0] == 0 and r.segments[0] > 0 for r in runs)  # the client only ACKs meanwhile
    ref = _told(path, "python", monkeypatch, 2_000_000_000, runs=False)
    assert _told(path, "c", monkeypatch, 2_000_000_000, runs=True) == ref
    text = json.loads(ref[0][1])
    summaries = [s for s in text["steps"] if s["kind"] == "summary"]
    assert summaries
    assert summaries[0]["facts"]["s2c_segments"] >= 20  # what the runs were counted into


def _perturbed(tmp_path: Path, name: str, **kw: Any) -> Path:
    """A bulk transfer broken by everything the classifier must see whole, then closed."""
    c = _bulk(**kw)
    full = c.mss - (12 if c.ts else 0)
    for _ in range(8):
        c.data(1, b"Z" * full, psh=False)
    c.resend(1, 5)  # a retransmission of bytes a run carried (its first carrier is in the run)
    c.ack(0, upto=c.sent[1][6][0])
    c.ack(0, upto=c.sent[1][6][0], sack=(c.sent[1][7][0], c.seq[1]))  # SACK: a duplicate ACK of a hole
    c.ack(0, upto=c.sent[1][6][0])  # and a plain duplicate
    c.resend(1, 6)
    c.ack(0)
    for k in range(10):
        c.data(1, b"line one\nline two\n" * 3, psh=True)  # newline-terminated messages
        c.ack(0, win=502 + k)  # the window moves
    for _ in range(10):
        body = b"m" * 30
        c.data(1, (len(body)).to_bytes(4, "big") + body + (len(body)).to_bytes(4, "big") + body)  # framed
        c.ack(0)
    c.data(1, (3000).to_bytes(4, "big"))  # a 4-byte header, its body in later segments
    for _ in range(3):
        c.data(1, b"b" * 1000)
        c.ack(0)
    for k in range(12):  # pure ACKs in a row, both sides
        c.ack(k % 2)
    c.ack(0, win=0)  # a zero window, then it opens
    c.ack(0)
    for _ in range(8):
        c.data(0, b"q" * 100)  # the client talks
        c.ack(1)
    c.fin(1)
    c.data(0, b"after the peer's FIN")  # half-close
    c.ack(1)
    c.fin(0)
    c.ack(1)
    return _write(tmp_path / name, [(c, 0)])


@pytest.mark.parametrize("kw", [{}, {"ts": False}, {"sack": False, "mss": 1400}], ids=["ts", "no-ts", "mss1400"])
def test_a_perturbed_transfer_told_the_same(
    kw: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _perturbed(tmp_path, "p.pcap", **kw)
    assert _runs_in(path, monkeypatch)
    ref = _told(path, "python", monkeypatch, 2_000_000_000, runs=False)
    assert _told(path, "c", monkeypatch, 2_000_000_000, runs=True) == ref
    for fmt in ("text", "json"):
        for lang in ("en", "zh"):
            monkeypatch.setenv("TCPTRACE_ENGINE", "python")
            with ExplainDocument(path, fmt=fmt, lang=lang) as doc:
                want = "".join(doc.pieces())
            monkeypatch.setenv("TCPTRACE_ENGINE", "c")
            with ExplainDocument(path, fmt=fmt, lang=lang) as doc:
                assert "".join(doc.pieces()) == want


def _server_first(answer: bool) -> _Conn:
    """The server speaks first and long (30 banner lines, each ACKed), then the client's first payload is an HTTP
    request (and, with ``answer``, the server's response); then both close."""
    c = _Conn()
    for k in range(30):
        c.data(1, b"banner %02d\r\n" % k)
        c.ack(0)
    c.data(0, b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n")
    c.ack(1)
    if answer:
        c.data(1, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi")
        c.ack(0)
    c.fin(0)
    c.fin(1)
    c.ack(0)
    return c


def test_http_after_a_run_is_read_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The server speaks first and long; the client's first payload, after runs, is an HTTP request: the
    narrative tells the HTTP message (every payload), from the stream read again (FlowStream.whole)."""
    c = _server_first(answer=True)
    path = _write(tmp_path / "late_http.pcap", [(c, 0)])
    assert _runs_in(path, monkeypatch)
    calls = []
    real = FlowStream.whole

    def whole(self: FlowStream, ff: FinishedFlow) -> list[Any]:
        got = real(self, ff)
        calls.append(len(got))
        return got

    monkeypatch.setattr(FlowStream, "whole", whole)
    ref = _told(path, "python", monkeypatch, 2_000_000_000, runs=False)
    got = _told(path, "c", monkeypatch, 2_000_000_000, runs=True)
    assert got == ref
    assert calls == [len(c.packets)]
    assert "GET /x" in ref[0][1]


def test_a_pipe_waits_for_both_first_payloads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Read from a file object (not read again), a run starts only once both sides' first payloads said the
    stream is not HTTP, TLS or DNS: the server-first HTTP stream above gets no run before the request."""
    data = _write(tmp_path / "p.pcap", [(_server_first(answer=False), 0)]).read_bytes()
    assert not _runs_in(io.BytesIO(data), monkeypatch)
    ref = _told(io.BytesIO(data), "python", monkeypatch, 2_000_000_000, runs=False)
    assert _told(io.BytesIO(data), "c", monkeypatch, 2_000_000_000, runs=True) == ref
    b = _bulk()  # both sides have spoken before the bulk: runs from a pipe too
    assert _runs_in(io.BytesIO(_write(tmp_path / "b.pcap", [(b, 0)]).read_bytes()), monkeypatch)


def test_runs_across_tellings_late_copies_and_resets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Three transfers at once (and a fourth later): one closes and is told while the others are mid-run (the
    engine hands out the plain segment that reaches the deadline whole), gets a copy of its FIN inside the horizon
    (reopened: its packed runs unpacked) and a late one past it; one is reset mid-run; one is open at the end."""
    a, b, c = _bulk(40000), _bulk(40001, writes=6), _bulk(40002, writes=5)
    a.fin(1)
    a.ack(0)
    a.fin(0)
    a.ack(1)
    fin = a.packets[-2]
    b.rst(1)
    a.packets += [fin, a.packets[-1]]
    gaps = {(0, len(a.packets) - 2): 200_000_000, (0, len(a.packets) - 1): 3_000_000_000}
    d = _bulk(40003)  # keeps the capture going past the horizon, before the late copy
    path = _write(tmp_path / "three.pcap", [(a, 0), (b, 1_000_000), (c, 2_000_000), (d, 2_500_000_000)], gaps)
    assert _runs_in(path, monkeypatch)
    for horizon in (0, 1_000_000, 2_000_000_000):
        ref = _told(path, "python", monkeypatch, horizon, runs=False)
        assert _told(path, "c", monkeypatch, horizon, runs=True) == ref, horizon
    assert ref[-2] == {0: 1}  # the capture does what it says: stream 0 gets a late segment


def test_runs_pack_and_unpack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path / "bulk.pcap", [(_bulk(), 0)])
    monkeypatch.setenv("TCPTRACE_ENGINE", "c")
    items: list[Any] = []
    for _ in FlowStream(path, runs=True).told(lambda ff: items.extend(ff.segments)):
        pass
    runs = [x for x in items if model.is_run(x)]
    assert runs
    back = _unpack(_pack(list(items)))
    assert [type(x) for x in back] == [type(x) for x in items]
    for x, y in zip(runs, [x for x in back if model.is_run(x)], strict=True):
        assert x.__getstate__() == y.__getstate__()


def test_explain_jobs_2_with_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Parts (tcptrace.parallel): each part counts its streams' runs; the document is the reference's."""
    from click.testing import CliRunner

    from tcptrace.cli import main

    path = _write(tmp_path / "m.pcap", [(_bulk(40000 + k, writes=2 + k % 3), k * 700_000) for k in range(6)])
    monkeypatch.setenv("TCPTRACE_ENGINE", "python")
    ref = CliRunner().invoke(main, ["explain", str(path)])
    monkeypatch.setenv("TCPTRACE_ENGINE", "c")
    got = CliRunner().invoke(main, ["explain", "--jobs", "2", str(path)])
    assert ref.exit_code == got.exit_code == 0
    assert got.output == ref.output


_event = st.fixed_dictionaries(
    {
        "conn": st.integers(0, 1),
        "what": st.sampled_from(
            ["full"] * 24
            + ["ack"] * 16
            + ["small_psh", "resend", "dupack", "sack", "win", "client", "lines", "framed", "zero", "gap", "http"]
        ),
        "gap_ms": st.sampled_from([0, 0, 0, 1, 300, 2500]),
    }
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    events=st.lists(_event, min_size=5, max_size=120),
    ends=st.lists(st.sampled_from(["fin", "rst", "late", "none"]), min_size=2, max_size=2),
    ts=st.booleans(),
    horizon_ns=st.sampled_from([0, 10**9]),
)
def test_random_transfers_told_the_same(
    events: list[dict[str, Any]], ends: list[str], ts: bool, horizon_ns: int,
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: Any,
) -> None:  # fmt: skip
    conns = [_Conn(40000, ts=ts), _Conn(40001, ts=ts)]
    for c in conns:
        c.data(0, b"hello\x00")
        c.ack(1)
    gaps: dict[tuple[int, int], int] = {}
    for ev in events:
        c = conns[ev["conn"]]
        full = c.mss - (12 if c.ts else 0)
        if ev["gap_ms"]:
            gaps[(ev["conn"], len(c.packets))] = ev["gap_ms"] * 1_000_000
        what = ev["what"]
        if what == "full":
            c.data(1, b"F" * full, psh=False)
        elif what == "ack":
            c.ack(0)
        elif what == "small_psh":
            c.data(1, b"s" * 100)
        elif what == "resend" and c.sent[1]:
            c.resend(1, len(c.sent[1]) // 2)
        elif what == "dupack":
            c.ack(0, upto=c.acked[0])
        elif what == "sack" and len(c.sent[1]) > 1:
            c.ack(0, upto=c.sent[1][-2][0], sack=(c.sent[1][-1][0], c.seq[1]))
        elif what == "win":
            c.ack(0, win=300)
        elif what == "client":
            c.data(0, b"c" * 50)
        elif what == "lines":
            c.data(1, b"a\nb\n")
        elif what == "framed":
            c.data(1, b"\x00\x00\x00\x02hi\x00\x00\x00\x02yo")
        elif what == "zero":
            c.ack(0, win=0)
        elif what == "gap":
            c.seq[1] += 1448  # bytes never captured
        elif what == "http":
            c.data(0, b"GET / HTTP/1.1\r\n\r\n")
    for c, end in zip(conns, ends, strict=True):
        if end in ("fin", "late"):
            c.fin(1)
            c.ack(0)
            c.fin(0)
            c.ack(1)
        if end == "late":  # a copy of the last ACK, long after
            c.packets.append(c.packets[-1])
            gaps[(conns.index(c), len(c.packets) - 1)] = 1_500_000_000
        if end == "rst":
            c.rst(0)
    path = _write(tmp_path_factory.mktemp("runs") / "r.pcap", [(conns[0], 0), (conns[1], 30_000)], gaps)
    assert _told(path, "c", monkeypatch, horizon_ns, runs=True) == _told(
        path, "python", monkeypatch, horizon_ns, runs=False
    )


def test_samples_have_runs_where_transfers_are_long(monkeypatch: pytest.MonkeyPatch) -> None:
    """The recorded samples' longer transfers are counted in runs (so the samples' agreement tests in
    test_engine_explain.py read runs, not only Segments)."""
    counted = {p.name: sum(r.packets for r in _runs_in(p, monkeypatch)) for p in sorted(SAMPLES.glob("*.pcap"))}
    assert sum(1 for n in counted.values() if n) >= 3, counted
