"""Ladders built as the stream is read (tcptrace.ladder.LadderBuilder, settled_states; engine.StreamSegments):
the same ladder as from the whole stream held in memory, in memory that grows with what is drawn."""

from __future__ import annotations

import gc
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CORPUS, SAMPLES, c_engine, corpus_captures, corpus_id
from pcapgen import ether, ipv4, pcap, records, tcp

from tcptrace.engine import Pipeline, StreamSegments
from tcptrace.events import resolve_states
from tcptrace.ladder import LadderBuilder, build_ladder, ladder_for, settled_states
from tcptrace.model import ACK, FIN, PSH, RST, SYN, Segment

CAPTURES = sorted(p for p in SAMPLES.iterdir() if p.suffix in (".pcap", ".pcapng"))


def _streams(path: Path) -> dict[int, list[Segment]]:
    out: dict[int, list[Segment]] = {}
    for seg in Pipeline(path):
        out.setdefault(seg.stream, []).append(seg)
    return out


def _states(segs: list[Segment]) -> list[tuple[int, str, str]]:
    return [(s.frame, str(s.client_state), str(s.server_state)) for s in segs]


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_settled_states_are_the_whole_streams_hindsight(path: Path) -> None:
    for segs in _streams(path).values():
        resolve_states(segs)
        want = _states(segs)
        for s in segs:  # forget them: settled_states must find them again
            s.client_state = s.server_state = "UNKNOWN"
        assert _states(list(settled_states(iter(segs)))) == want


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_streamed_ladder_is_the_whole_streams(path: Path) -> None:
    run = Pipeline(path)
    streams: dict[int, list[Segment]] = {}
    for seg in run:
        streams.setdefault(seg.stream, []).append(seg)
    for summary in run.summaries:
        n = summary.flow.stream
        for kw in ({}, {"collapse": False}, {"spacing": "even"}):
            assert ladder_for(path, n, **kw) == build_ladder(summary, streams[n], **kw), (n, kw)


def _runs_in(path: Path, stream: int) -> int:
    from tcptrace.ladder import ladder_source
    from tcptrace.model import is_run

    return sum(1 for item in ladder_source(path, stream) if is_run(item))


def test_plain_runs_are_drawn_as_their_segments() -> None:
    """A collapsing ladder reads the long runs of plain segments counted by the C engine (ladder.ladder_source:
    model.PlainRun, after COLLAPSE_MIN_RUN - 1 of them whole), and draws what the segments one by one give."""
    c_engine("plain runs are the C engine's")
    for name, stream in (("lossy_bulk.pcap", 0), ("sack_dsack.pcap", 0), ("framing.pcap", 0)):
        path = SAMPLES / name
        assert _runs_in(path, stream) > 0, name  # (else this test would compare nothing new)
        run = Pipeline(path)
        whole = [seg for seg in run if seg.stream == stream]
        summary = run.summaries[stream]
        for spacing in ("time", "even"):
            want = build_ladder(summary, whole, spacing=spacing)
            assert ladder_for(path, stream, spacing=spacing) == want, (name, spacing)


@pytest.mark.parametrize("path", corpus_captures(20_000, 3_000_000, 10) or [None], ids=corpus_id)
def test_corpus_ladders_with_plain_runs_are_the_whole_streams(path: Path | None) -> None:
    """Real captures of the shared corpus: every stream's ladder, read with plain runs, is the whole stream's."""
    if path is None:
        pytest.skip(f"the shared corpus is not at {CORPUS}")
    run = Pipeline(path)
    streams: dict[int, list[Segment]] = {}
    for seg in run:
        streams.setdefault(seg.stream, []).append(seg)
    for summary in run.summaries[:40]:
        n = summary.flow.stream
        assert ladder_for(path, n) == build_ladder(summary, streams[n]), n


def _conversation(exchanges: int, *, fin_first: bool = False, handshake: bool = True, rst: bool = False) -> bytes:
    """One connection: handshake, ``exchanges`` request/response pairs with their ACKs, then a close. With
    ``fin_first`` the client closes its side before the exchanges (a half close: the server keeps sending)."""
    c, s = ("10.0.0.1", 40000), ("10.0.0.2", 80)
    cseq, sseq = 1000, 5000
    pkts = []

    def c2s(flags: int, payload: bytes = b"") -> None:
        nonlocal cseq
        pkts.append(ether(ipv4(tcp(c[1], s[1], cseq, sseq, flags, payload=payload), c[0], s[0])))
        cseq += len(payload) + (1 if flags & (SYN | FIN) else 0)

    def s2c(flags: int, payload: bytes = b"") -> None:
        nonlocal sseq
        pkts.append(ether(ipv4(tcp(s[1], c[1], sseq, cseq, flags, payload=payload), s[0], c[0])))
        sseq += len(payload) + (1 if flags & (SYN | FIN) else 0)

    if handshake:
        pkts.append(ether(ipv4(tcp(c[1], s[1], cseq - 1, 0, SYN), c[0], s[0])))
        s2c(SYN | ACK)
        c2s(ACK)
    if fin_first:
        c2s(FIN | ACK)
        s2c(ACK)
    for _ in range(exchanges):
        if not fin_first:
            c2s(PSH | ACK, b"q" * 20)
        s2c(PSH | ACK, b"r" * 200)
        s2c(PSH | ACK, b"r" * 200)
        if not fin_first:
            c2s(ACK)
    if rst:
        c2s(RST | ACK)
    else:
        if not fin_first:
            c2s(FIN | ACK)
        s2c(FIN | ACK)
        c2s(ACK)
    return pcap(records(pkts, gap_ns=50_000))


@pytest.mark.parametrize(
    "kw", [{}, {"fin_first": True}, {"handshake": False}, {"rst": True}], ids=["close", "half", "mid", "rst"]
)
def test_built_cases_agree(tmp_path: Path, kw: dict[str, bool]) -> None:
    path = tmp_path / "c.pcap"
    path.write_bytes(_conversation(300, **kw))
    run = Pipeline(path)
    segs = list(run)
    resolve_states(segs)
    want = _states(segs)
    assert _states(list(settled_states(StreamSegments(path, 0)))) == want
    assert ladder_for(path, 0) == build_ladder(run.summaries[0], segs)


def test_builder_holds_what_is_drawn_not_the_stream(tmp_path: Path) -> None:
    """A 20,000-segment stream: once read, the builder holds its arrows' segments and a few recent ones only."""
    path = tmp_path / "long.pcap"
    path.write_bytes(_conversation(5000))
    gc.collect()
    before = sum(1 for o in gc.get_objects() if type(o) is Segment)  # (other tests' caches)
    source = StreamSegments(path, 0)
    builder = LadderBuilder()
    for seg in settled_states(source):
        builder.add(seg)
    gc.collect()
    alive = sum(1 for o in gc.get_objects() if type(o) is Segment) - before
    lad = builder.build(source.summary)
    assert lad.segments == 20_006
    assert alive <= len(lad.arrows) + 10
    assert [c.segments for c in lad.collapsed] == [20_006 - len(lad.arrows)]


@pytest.mark.parametrize("fmt", ["ascii", "mermaid", "plantuml"])
def test_text_formats_never_import_matplotlib(fmt: str) -> None:
    """`diagram --format ascii|mermaid|plantuml` draws nothing: neither matplotlib nor numpy is imported."""
    code = (
        "import sys\nfrom tcptrace.cli import main\n"
        f"try:\n    main(['diagram', '--format', '{fmt}', {str(SAMPLES / 'lossy_bulk.pcap')!r}])\n"
        "except SystemExit as e:\n    assert not e.code, e.code\n"
        "print(sorted(m for m in ('matplotlib', 'numpy', 'PIL') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"
