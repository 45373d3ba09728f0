"""``Engine.select(n)``, what ``diagram``, ``graph``, ``ladder_for`` and ``graph_for`` read one stream with
(engine.StreamSegments): only stream ``n`` is tracked and analysed, every other connection only counted for the
stream numbers (light_track). Its segments and summary must be those of a pass that tracks every connection and
keeps stream ``n`` (Engine.keep), field by field, and a capture without stream ``n`` must say how many it has."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import CORPUS, SAMPLES, c_engine, corpus_captures, corpus_id
from hypothesis import HealthCheck, given, settings
from test_engine import RANDOM_CAPTURE, _build

from tcptrace.model import Segment

ALL_SAMPLES = sorted(p.name for p in SAMPLES.glob("*.pcap*"))


def _engine() -> Any:
    return c_engine("Engine.select is the engine's")


def _segment(seg: Segment) -> dict[str, Any]:
    """Every field of a Segment (its cached options left out: they are parsed again from opt_bytes; the evidence
    without StreamSegments' sentences, worded from its numbers)."""
    out = {name: getattr(seg, name, None) for name in Segment.__slots__ if name != "_options"}
    if out["evidence"]:
        out["evidence"] = {k: {f: v for f, v in ev.items() if f != "why"} for k, ev in out["evidence"].items()}
    return out


def _fields(obj: Any) -> dict[str, Any]:
    names = [n for cls in type(obj).__mro__ for n in getattr(cls, "__slots__", ())] + list(getattr(obj, "__dict__", {}))
    assert names, type(obj)
    return {n: getattr(obj, n, None) for n in names}


def _summary(s: Any) -> dict[str, Any]:
    """What the summary says: the flows row, the teardown facts, the Zeek record, the endpoints' final states."""
    from tcptrace.engine import flow_rows
    from tcptrace.export import flow_row_dict

    facts = ("syn_frame", "synack_frame", "handshake_ack_frame", "handshake_done", "fin_frames", "fin_next",
             "fin_acked", "rst", "rst_total", "data_after_fin", "anomalies", "zeek_final", "first_direction",
             "completeness", "packets", "first_ts", "last_ts")  # fmt: skip
    out = {name: getattr(s, name) for name in facts}
    out["row"] = flow_row_dict(next(iter(flow_rows([s]))))
    out["states"] = (s.machine.client.state, s.machine.server.state)
    out["reused_ports_frame"] = s.flow.reused_ports_frame
    out["dirs"] = [_fields(d) for d in s.dirs]
    return out


def _kept_by_every_connection(path: str, n: int) -> tuple[list[dict[str, Any]], dict[str, Any] | None, int]:
    """Stream n as a pass tracking every connection gives it: its segments, its summary (None: no such stream)
    and the capture's stream count."""
    from tcptrace.capture import open_capture
    from tcptrace.engine import _flag_texts, engine_summary, new_engine

    eng = new_engine(_engine())
    eng.keep(lambda k, *_: k == n)
    eng.packets(0, _flag_texts(0))
    segs: list[dict[str, Any]] = []
    for _ in open_capture(path).feed_steps(eng):
        segs += [_segment(s) for s in eng.take_kept()]
    return segs, (_summary(engine_summary(eng, n)) if segs else None), eng.flow_count()


def _selected(path: str, n: int) -> tuple[list[dict[str, Any]], dict[str, Any] | None, str | None]:
    """Stream n through StreamSegments (Engine.select): segments, summary, and a missing stream's message."""
    from tcptrace.engine import StreamSegments
    from tcptrace.selection import NoSuchStream

    source = StreamSegments(path, n)
    segs: list[dict[str, Any]] = []
    try:
        segs = [_segment(s) for s in source]
    except NoSuchStream as exc:
        return segs, None, str(exc)
    return segs, _summary(source.summary), None


def _agree(path: str) -> int:
    """Every stream of ``path`` (and the one past the last) selected equals it kept from a full pass; the count."""
    total = _kept_by_every_connection(path, -1)[2]
    for n in range(total):
        want_segs, want_summary, _ = _kept_by_every_connection(path, n)
        got_segs, got_summary, missing = _selected(path, n)
        assert missing is None, (path, n)
        assert got_segs == want_segs, (path, n)
        assert got_summary == want_summary, (path, n)
    from tcptrace.selection import missing_streams_message

    segs, summary, missing = _selected(path, total)
    assert (segs, summary, missing) == ([], None, missing_streams_message(path, [total], total))
    return total


@pytest.mark.parametrize("name", ALL_SAMPLES)
def test_every_sample_stream_selected_is_the_full_passes(name: str) -> None:
    _engine()
    _agree(str(SAMPLES / name))


@pytest.mark.parametrize("path", corpus_captures() or [None], ids=corpus_id)
def test_corpus_streams_selected_are_the_full_passes(path: Path | None) -> None:
    if path is None:
        pytest.skip(f"the shared corpus is not at {CORPUS}")
    _engine()
    _agree(str(path))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(**RANDOM_CAPTURE)
def test_random_sequences_selected_are_the_full_passes(
    spec: list[dict[str, Any]], isn: int, link: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Port reuse (a SYN with a new ISN on a counted four-tuple begins the selected stream, flagged reused; the
    selected stream's four-tuple reused by a later one), SYN+ACKs moving a base, short and bogus headers, snapped
    frames: each stream selected is the full pass's."""
    _engine()
    path = tmp_path_factory.mktemp("sel") / "r.pcap"
    path.write_bytes(_build(spec, isn, link))
    _agree(str(path))


def test_select_refuses_a_second_mode() -> None:
    eng_mod = _engine()
    from tcptrace.engine import new_engine

    eng = new_engine(eng_mod)
    with pytest.raises(ValueError, match="n >= 0"):
        eng.select(-1)
    eng.select(3)
    with pytest.raises(ValueError, match="partition"):
        eng.partition(0, 2)
    other = new_engine(eng_mod)
    other.partition(0, 2)
    with pytest.raises(ValueError, match="select"):
        other.select(0)


def test_a_connection_between_equal_ports_is_selected_whole(tmp_path: Path) -> None:
    """Both ends on port 80 (a fuzzed capture found it): the selected stream's packets are told from the other
    connections by their addresses in both orders, not by the ports alone (Engine.select dropped the answers)."""
    import pcapgen as g

    def pkt(src: str, dst: str, sport: int, dport: int, seq: int, ack: int, flags: int) -> bytes:
        return g.ether(g.ipv4(g.tcp(sport, dport, seq, ack, flags, 502), src, dst))

    a, b = "192.168.0.1", "192.168.0.2"
    packets = [pkt(a, "192.168.0.9", 41000, 443, 7, 0, g.SYN)]  # another connection first: the selected one is 1
    packets += [pkt(b, a, 80, 80, 50, 111, g.SYN | g.ACK), pkt(a, b, 80, 80, 111, 51, g.ACK),
                pkt(a, b, 80, 80, 111, 51, g.FIN | g.ACK), pkt(b, a, 80, 80, 51, 112, g.FIN | g.ACK),
                pkt(a, b, 80, 80, 112, 52, g.ACK)]  # fmt: skip
    path = tmp_path / "equal_ports.pcap"
    path.write_bytes(g.pcap(g.records(packets)))
    _engine()
    assert _agree(str(path)) == 2
    assert [s["frame"] for s in _selected(str(path), 1)[0]] == [2, 3, 4, 5, 6]
