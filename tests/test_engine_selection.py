"""Selection inside the engine's pass (``Pipeline(source, selection=...)``) against the Python reference, which
reads, tracks and analyses everything and filters: the same segments with the same per-packet fields (stream
numbers, relative numbers, analysis flags and evidence, states), the same summaries, the same number of streams
and the same port-reuse predecessors, on every sample and corpus capture, on random packet sequences
(tests/pcapgen.py builds them: synthetic fixtures) and through the commands that use it.
"""

from __future__ import annotations

import ipaddress
import json
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import SAMPLES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_engine import CORPUS_FILES, PCAPNG_CASES, _build, _packet, _pcapng_cases

from tcptrace import engine
from tcptrace.cli import main
from tcptrace.engine import FlowStream, one_stream
from tcptrace.export import packet_record
from tcptrace.selection import NoSuchStream, Selection

if os.environ.get("TCPTRACE_REQUIRE_ENGINE") == "1":
    from tcptrace import _engine  # noqa: F401
else:
    pytest.importorskip("tcptrace._engine", reason="C engine not built: the Python path is the only one")


def _doc(run: engine.Pipeline, segs: list[Any]) -> str:
    streams = sorted({s.stream for s in segs})
    doc = {
        "segments": [packet_record(s) for s in segs],
        "summaries": [run.flow(n).summary.to_dict() for n in streams],  # type: ignore[union-attr]
        "previous": {n: run.flow(n).previous_stream for n in streams},
        "streams_total": run.streams_total,
        "stats": run.stats.as_dict(),
    }
    return json.dumps(doc, sort_keys=True, default=str)


class _Reference:
    """The Python path, read once per capture: everything analysed, then filtered per selection (which is what
    the Python path of Pipeline(selection=...) does)."""

    def __init__(self, path: Path | str, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("TCPTRACE_ENGINE", "python")
        self.error = ""
        try:
            self.run = engine.Pipeline(path)
            self.segs = list(self.run)
        except Exception as exc:
            self.error = f"{type(exc).__name__}: {exc}"

    def doc(self, selection: Selection) -> str:
        if self.error:
            return self.error
        return _doc(self.run, [s for s in self.segs if selection.matches(self.run.flow(s.stream))])


def _selected(path: Path | str, selection: Selection, which: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("TCPTRACE_ENGINE", which)
    try:
        run = engine.Pipeline(path, selection=selection)
        assert (run._engine is not None) == (which == "c" and not selection.everything)
        return _doc(run, list(run))
    except Exception as exc:  # the same error either way is agreement too
        return f"{type(exc).__name__}: {exc}"


def _assert_same(
    path: Path | str, selection: Selection, monkeypatch: pytest.MonkeyPatch, reference: _Reference | None = None
) -> dict[str, Any]:
    ref = reference.doc(selection) if reference else _selected(path, selection, "python", monkeypatch)
    fast = _selected(path, selection, "c", monkeypatch)
    if ref != fast and ref.startswith("{") and fast.startswith("{"):
        a, b = json.loads(ref), json.loads(fast)
        for key in ("streams_total", "stats", "previous", "summaries"):
            assert a[key] == b[key], f"{path} {selection}: {key} differs"
        for sa, sb in zip(a["segments"], b["segments"], strict=True):
            assert sa == sb, f"{path} {selection}: frame {sa['frame']} differs"
    assert ref == fast, f"{path} {selection}"
    return json.loads(ref) if ref.startswith("{") else {}


def _selections(path: Path | str, monkeypatch: pytest.MonkeyPatch, every_stream: bool) -> list[Selection]:
    """Stream numbers (each one, or the first, the last and every stream that reopened ports), a port, an
    address prefix, and a stream the capture lacks."""
    monkeypatch.setenv("TCPTRACE_ENGINE", "c")
    try:
        summaries, _ = engine.summarize(path)
    except Exception:
        return [Selection.of([0])]
    n = len(summaries)
    if every_stream:
        picks = set(range(n))
    else:
        picks = {0, n - 1, n // 2} | {s.flow.stream for s in summaries if s.flow.reused_ports_frame}
    out = [Selection.of([k]) for k in sorted(picks) if k >= 0]
    out.append(Selection.of([n + 3]))
    if summaries:
        flow = summaries[0].flow
        out.append(Selection.of(ports=[flow.server.port]))
        addr = ipaddress.ip_address(flow.client.addr_text)
        out.append(Selection.of(hosts=[f"{addr}/{24 if addr.version == 4 else 64}"]))
        if n > 2:
            out.append(Selection.of([1, n - 1], ports=[summaries[n - 1].flow.client.port]))
    return out


CAPTURES = sorted(p for p in SAMPLES.iterdir() if p.suffix in (".pcap", ".pcapng"))


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_samples_selected_in_the_pass(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = 0
    for sel in _selections(path, monkeypatch, every_stream=True):
        seen += len(_assert_same(path, sel, monkeypatch).get("segments", []))
    assert seen, "some selection selected something"


@pytest.mark.skipif(not CORPUS_FILES, reason="../shared/corpus is not beside the repository")
def test_corpus_selected_in_the_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    reused = 0
    segments = 0
    for path in CORPUS_FILES:
        reference = _Reference(path, monkeypatch)
        small = reference.error or len(reference.segs) < 3000  # (big files: stream selections only, for time)
        for sel in _selections(path, monkeypatch, every_stream=False):
            if not small and not sel.streams:
                continue
            doc = _assert_same(path, sel, monkeypatch, reference)
            segments += len(doc.get("segments", []))
            reused += sum(1 for p in doc.get("previous", {}).values() if p is not None)
    assert segments > 10_000  # the corpus really was read
    assert reused > 0  # and port reuse across a selection boundary was covered


@pytest.mark.parametrize("name", PCAPNG_CASES)
def test_built_pcapng_selected_in_the_pass(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """pcapng built by code (tests/test_engine.py): sections, interfaces of several link types, timestamp scales
    and offsets, blocks Engine.feed_pcapng leaves to Python, damage."""
    path = tmp_path / f"{name}.pcapng"
    path.write_bytes(_pcapng_cases()[name])
    seen = 0
    for sel in _selections(path, monkeypatch, every_stream=True):
        seen += len(_assert_same(path, sel, monkeypatch).get("segments", []))
    assert seen, "some selection selected something"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    spec=st.lists(_packet, min_size=1, max_size=60),
    isn=st.sampled_from([1, 0xFFFFFF00]),
    link=st.sampled_from(["ether", "sll", "raw", "vlan", "ipv6"]),
    pick=st.sets(st.integers(0, 5), max_size=3),
)
def test_random_sequences_selected_in_the_pass(
    spec: list[dict[str, Any]], isn: int, link: str, pick: set[int], tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    path = tmp_path_factory.mktemp("rand") / "r.pcap"
    path.write_bytes(_build(spec, isn, link))
    _assert_same(path, Selection.of(pick or [0]), monkeypatch)


def test_port_reuse_predecessor_comes_from_the_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    """Stream 1 reopens stream 0's ports; selecting only stream 1, its SYN still carries reused_ports and the
    predecessor's summary (read from the engine, which tracked stream 0 without keeping it) ends as stream 0
    ended."""
    monkeypatch.setenv("TCPTRACE_ENGINE", "c")
    ff = one_stream(SAMPLES / "port_reuse.pcap", 1)
    assert ff.segments[0].analysis  # the reused_ports bit
    assert ff.previous is not None
    assert ff.previous.flow.stream == 0
    assert ff.previous.closed() == "graceful_close_by_server"
    (flow,) = list(FlowStream(SAMPLES / "port_reuse.pcap", Selection.of([1])))
    assert flow.previous is not None
    assert flow.previous.flow.stream == 0


def test_no_such_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    for which in ("c", "python"):
        monkeypatch.setenv("TCPTRACE_ENGINE", which)
        with pytest.raises(NoSuchStream, match=r"no TCP stream 9 in .*port_reuse.pcap \(it has 2 streams: 0.1\)"):
            one_stream(SAMPLES / "port_reuse.pcap", 9)


@pytest.mark.parametrize(
    "args",
    [
        ["explain", "-s", "1", "--format", "json"],
        ["packets", "--port", "33812", "--format", "jsonl"],
        ["diagram", "-s", "0", "--format", "ascii"],
        ["check", "--forbid", "rst", "--forbid", "retransmission", "--max-retransmissions", "0"],
        ["check", "--forbid", "rst", "-s", "0"],
    ],
    ids=lambda a: " ".join(a[:2]),
)
def test_commands_same_both_ways(args: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    out = {}
    for which in ("c", "python"):
        monkeypatch.setenv("TCPTRACE_ENGINE", which)
        for name in ("lossy_bulk.pcap", "port_reuse.pcap", "reuse_after_rst.pcap"):
            r = CliRunner().invoke(main, [args[0], str(SAMPLES / name), *args[1:]])
            out[which, name] = (r.exit_code, r.output)
    for name in ("lossy_bulk.pcap", "port_reuse.pcap", "reuse_after_rst.pcap"):
        assert out["c", name] == out["python", name], name
    assert any(code == 0 for code, _ in out.values())


def test_selected_streams_around_an_unselected_one_on_the_same_ports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Streams 0 and 2 open the same four-tuple with the same ISN, stream 1 between them with another: the SYN
    of stream 2 reopens stream 1's ports (packet-tcp.c compares with the latest stream). Selecting 0 and 2 only,
    the Python tracker never sees stream 1 and would take that SYN for a retransmission of stream 0's; the
    engine's decision has to win (a fixture built by code: tests/pcapgen.py)."""
    import pcapgen as pg

    def syn(isn: int) -> bytes:
        return pg.ether(pg.ipv4(pg.tcp(seq=isn, flags=pg.SYN)))

    path = tmp_path / "reopen.pcap"
    path.write_bytes(pg.pcap(pg.records([syn(1000), syn(5000), syn(1000)], gap_ns=3_000_000_000)))
    doc = _assert_same(path, Selection.of([0, 2]), monkeypatch)
    assert [s["stream"] for s in doc["segments"]] == [0, 2]
    assert doc["previous"] == {"0": None, "2": 1}


def test_pcapng_from_a_slow_pipe_selected_as_its_packets_arrive(monkeypatch: pytest.MonkeyPatch) -> None:
    """`dumpcap -w - | tcptrace packets -s 0 -`: with the engine selecting in the pass, a selected segment comes
    out when its packet has arrived, not when a buffer is full (the writer holds back the rest of the file until
    the reader has seen the first segment, or 5 s)."""
    import struct
    import threading
    import time

    monkeypatch.setenv("TCPTRACE_ENGINE", "c")
    data = _pcapng_cases()["interleaved_interfaces"]
    ends, pos = [], 0
    while pos < len(data):
        pos += struct.unpack_from("<I", data, pos + 4)[0]
        ends.append(pos)
    first_part = data[: ends[4]]  # section header, three interface descriptions, the SYN of stream 0
    seen = threading.Event()
    r, w = os.pipe()

    def writer() -> None:
        with os.fdopen(w, "wb", buffering=0) as out:
            out.write(first_part)
            seen.wait(5)
            out.write(data[len(first_part) :])

    t = threading.Thread(target=writer)
    start = time.monotonic()
    t.start()
    waited = 99.0
    with os.fdopen(r, "rb") as pipe:
        run = engine.Pipeline(pipe, selection=Selection.of([0]))
        frames = []
        for seg in run:
            frames.append(seg.frame)
            if not seen.is_set():
                waited = time.monotonic() - start
                seen.set()
    t.join()
    assert run._engine is not None
    assert waited < 2, f"the first segment took {waited:.1f} s: the reader waited for more than its packet"
    assert frames == [1, 4, 7, 10, 13]
